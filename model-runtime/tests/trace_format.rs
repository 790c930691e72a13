//! The formats other components depend on: the serialized `QModel`, its digest, the `Trace`
//! and its hash. A prover, a verifier and a stored artifact must all agree on these bytes.

mod common;

use std::sync::OnceLock;

use sha2::Digest;

use common::{compile, read, test_set};
use poa_runtime::ops::{argmax, Op};
use poa_runtime::{parse_inputs, CalibrationReport, OnnxModel, QModel, Scales, Trace};

/// mlp_small calibrated with `CalibrationOptions::default()` on `calibration.json`, once.
fn mlp_small() -> &'static (OnnxModel, QModel, CalibrationReport) {
    static MODEL: OnceLock<(OnnxModel, QModel, CalibrationReport)> = OnceLock::new();
    MODEL.get_or_init(|| compile("mlp_small"))
}

fn input_0(file: &str) -> Vec<f32> {
    let mut samples = parse_inputs(&read(&format!("data/{file}")), 64).expect("input parses");
    assert_eq!(samples.len(), 1, "{file} holds one sample");
    samples.remove(0)
}

fn trace_0() -> Trace {
    mlp_small().1.run(&input_0("input_0.json")).expect("runs")
}

// ---------------------------------------------------------------------------------------------
// Golden values
//
// Computed once from the committed fixtures and pasted here. If one of these tests fails, the
// quantization (scale search, rounding, op semantics) or the trace encoding has changed: every
// trace hash ever published for this model is now different. Update the constants only
// deliberately, together with whatever version number the change calls for
// (`QMODEL_FORMAT`, the `openpoa-trace-v1` hash domain), never just to make the test pass.
// ---------------------------------------------------------------------------------------------

/// What `calibrate` picks for mlp_small on `calibration.json` with the default options.
const GOLDEN_SCALES: Scales = Scales {
    activation: 4,
    weight: 5,
};
/// `Trace::hash_hex` of that model on `input_0.json` (it covers the model digest too).
const GOLDEN_TRACE_HASH_INPUT_0: &str =
    "0c274f34b7b9017fce5f02a5c7d7a86288897d725e13403b325c9ba522b7bc0e";

#[test]
fn golden_calibrated_scales_of_mlp_small() {
    let (_, q, report) = mlp_small();
    assert_eq!(report.scales, GOLDEN_SCALES);
    assert_eq!(q.input().scale, GOLDEN_SCALES.activation);
    assert_eq!(report.input_range, 1.0);
}

#[test]
fn golden_trace_hash_of_mlp_small_on_input_0() {
    assert_eq!(trace_0().hash_hex(), GOLDEN_TRACE_HASH_INPUT_0);
}

// ---------------------------------------------------------------------------------------------
// QModel
// ---------------------------------------------------------------------------------------------

#[test]
fn qmodel_json_round_trip_is_lossless() {
    let (_, q, _) = mlp_small();
    let json = serde_json::to_string(q).expect("serializes");
    let back: QModel = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(&back, q);
    assert_eq!(back.digest(), q.digest());
    assert_eq!(serde_json::to_string(&back).expect("serializes"), json);
    // The round-tripped model computes the same trace.
    let x = input_0("input_0.json");
    assert_eq!(back.run(&x).expect("runs"), q.run(&x).expect("runs"));
}

#[test]
fn qmodel_digest_is_the_sha256_of_its_json() {
    let (_, q, _) = mlp_small();
    assert_eq!(q.digest().len(), 64);
    assert!(q
        .digest()
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let json = serde_json::to_vec(q).expect("serializes");
    assert_eq!(q.digest(), hex::encode(sha2::Sha256::digest(&json)));
    let back: QModel = serde_json::from_slice(&json).expect("deserializes");
    assert_eq!(
        back.digest(),
        q.digest(),
        "a fresh model hashes the same bytes"
    );
}

/// Index of the first Gemm node.
fn first_gemm(q: &QModel) -> usize {
    q.nodes
        .iter()
        .position(|n| matches!(n.op, Op::Gemm(_)))
        .expect("mlp_small has a Gemm")
}

fn bump_first_weight(q: &mut QModel) {
    let i = first_gemm(q);
    let Op::Gemm(g) = &mut q.nodes[i].op else {
        unreachable!()
    };
    g.weight.data[0] += 1;
}

#[test]
fn qmodel_digest_changes_when_one_weight_changes() {
    let (_, q, _) = mlp_small();
    let original = q.digest().to_string();

    // A model read back from JSON and edited.
    let mut edited: QModel =
        serde_json::from_str(&serde_json::to_string(q).expect("json")).expect("model");
    bump_first_weight(&mut edited);
    assert_ne!(edited, *q);
    assert_ne!(edited.digest(), original);

    // A clone of a model whose digest was already computed, then edited: the clone must not
    // carry the original's digest.
    let mut cloned = q.clone();
    bump_first_weight(&mut cloned);
    assert_ne!(cloned.digest(), original);
    assert_eq!(cloned.digest(), edited.digest());
}

#[test]
fn qmodel_json_names_its_fields_and_tags_ops_in_snake_case() {
    let (_, q, _) = mlp_small();
    let v = serde_json::to_value(q).expect("json");
    for key in [
        "format",
        "name",
        "input_range",
        "tensors",
        "nodes",
        "output",
        "embedding",
    ] {
        assert!(v.get(key).is_some(), "missing `{key}`");
    }
    assert!(
        v.get("digest").is_none(),
        "the digest cache is not part of the format"
    );
    assert_eq!(v["format"], 1);
    assert_eq!(v["name"], "mlp_small");
    let ops: Vec<&str> = v["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["op"]["op"].as_str().expect("op tag"))
        .collect();
    assert_eq!(ops, ["gemm", "div_round", "relu", "gemm", "div_round"]);
}

// ---------------------------------------------------------------------------------------------
// Trace
// ---------------------------------------------------------------------------------------------

#[test]
fn trace_json_round_trip_is_lossless() {
    let trace = trace_0();
    let json = serde_json::to_string(&trace).expect("serializes");
    let back: Trace = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, trace);
    assert_eq!(back.hash(), trace.hash());
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    for key in ["model_digest", "tensors", "output", "embedding"] {
        assert!(v.get(key).is_some(), "missing `{key}`");
    }
    assert_eq!(v["model_digest"], mlp_small().1.digest());
}

#[test]
fn trace_hash_changes_when_any_single_value_changes() {
    let trace = trace_0();
    let original = trace.hash();
    let mut seen = std::collections::HashSet::from([original]);
    let mut changed = 0;
    for (t, tensor) in trace.tensors.iter().enumerate() {
        for i in 0..tensor.data.len() {
            for delta in [1, -1] {
                let mut edited = trace.clone();
                edited.tensors[t].data[i] += delta;
                assert!(
                    seen.insert(edited.hash()),
                    "tensor {t} value {i} {delta:+}: hash collides"
                );
                changed += 1;
            }
        }
    }
    assert_eq!(
        changed,
        2 * trace.tensors.iter().map(|t| t.len()).sum::<usize>()
    );
}

#[test]
fn trace_hash_covers_shapes_ids_and_the_model_digest() {
    let trace = trace_0();
    let original = trace.hash();

    let mut reshaped = trace.clone();
    reshaped.tensors[0].shape = vec![64, 1];
    assert_ne!(reshaped.hash(), original, "same values, other shape");

    // Moving a value across a tensor boundary keeps the byte stream of values but not the dims.
    let mut moved = trace.clone();
    let v = moved.tensors[0].data.pop().expect("non-empty input");
    moved.tensors[0].shape = vec![1, 63];
    moved.tensors[1].data.insert(0, v);
    moved.tensors[1].shape[1] += 1;
    assert_ne!(moved.hash(), original);

    let mut other_output = trace.clone();
    other_output.output -= 1;
    assert_ne!(other_output.hash(), original);

    let mut other_embedding = trace.clone();
    other_embedding.embedding -= 1;
    assert_ne!(other_embedding.hash(), original);

    let mut other_model = trace.clone();
    other_model.model_digest = "0".repeat(64);
    assert_ne!(other_model.hash(), original);

    assert_eq!(trace.hash_hex(), hex_of(&original));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn ezkl_and_our_input_format_give_the_same_trace() {
    let (_, q, _) = mlp_small();
    let ezkl = input_0("input_0.json");
    let ours = input_0("input_0_ours.json");
    assert_eq!(ezkl, ours);
    let (a, b) = (q.run(&ezkl).expect("runs"), q.run(&ours).expect("runs"));
    assert_eq!(a, b);
    assert_eq!(a.hash(), b.hash());
}

#[test]
fn the_embedding_is_the_32_value_input_of_the_last_gemm() {
    let (_, q, _) = mlp_small();
    let trace = trace_0();
    let last_gemm = q
        .nodes
        .iter()
        .rev()
        .find(|n| matches!(n.op, Op::Gemm(_)))
        .expect("a Gemm");
    assert_eq!(trace.embedding, last_gemm.inputs[0]);
    assert_eq!(trace.embedding, q.embedding);
    assert_eq!(trace.embedding().shape, vec![1, 32]);
    assert_eq!(trace.embedding().len(), 32);
    // It is the hidden layer after Relu: nothing negative.
    assert!(trace.embedding().data.iter().all(|&v| v >= 0));
    assert!(trace.embedding().data.iter().any(|&v| v > 0));
}

#[test]
fn the_trace_predicts_the_label_of_test_sample_0() {
    let (_, labels) = test_set();
    assert_eq!(labels[0], 7);
    let trace = trace_0();
    assert_eq!(trace.output().shape, vec![1, 10]);
    assert_eq!(argmax(&trace.output().data), labels[0]);
    assert_eq!(trace.input(), &trace.tensors[0]);
    assert_eq!(trace.model_digest, mlp_small().1.digest());
}
