//! LoRA adapters: the merge is `W + (α / r)·B·A` on exactly the named Gemm layers, the adapted
//! model remembers its base and adapter, base models' files are unchanged, and every malformed
//! adapter is an error naming the problem.

mod common;

use common::{compile, read};
use poa_runtime::float_graph::FOp;
use poa_runtime::lora::{quantize_adapted, LoraAdapter};
use poa_runtime::FloatGraph;

fn fixture_adapter() -> LoraAdapter {
    LoraAdapter::from_json(&read("adapters/mlp_small_lora.json")).expect("fixture adapter parses")
}

fn gemm_weight<'a>(g: &'a FloatGraph, node: &str) -> (&'a [usize], &'a [f32]) {
    let n = g.nodes.iter().find(|n| n.name == node).expect("node");
    match &n.op {
        FOp::Gemm { weight, .. } => (&weight.shape, &weight.data),
        other => panic!("{node} is {other:?}"),
    }
}

#[test]
fn merge_adds_the_scaled_low_rank_product_to_the_named_layers_only() {
    let (onnx, _, _) = compile("mlp_small");
    let adapter = fixture_adapter();
    let merged = adapter.apply(&onnx.graph).expect("merges");
    for layer in &adapter.layers {
        let (shape, before) = gemm_weight(&onnx.graph, &layer.node);
        let (_, after) = gemm_weight(&merged, &layer.node);
        let (n, k) = (shape[0], shape[1]);
        let r = layer.a.len();
        let s = adapter.alpha / r as f64;
        let mut moved = 0;
        for i in 0..n {
            for j in 0..k {
                // Straightforward reference: Σ_t B[i][t]·A[t][j].
                let mut delta = 0f64;
                for t in 0..r {
                    delta += f64::from(layer.b[i][t]) * f64::from(layer.a[t][j]);
                }
                let want = (f64::from(before[i * k + j]) + s * delta) as f32;
                assert_eq!(after[i * k + j], want, "{} [{i}][{j}]", layer.node);
                moved += usize::from(after[i * k + j] != before[i * k + j]);
            }
        }
        assert!(
            moved > n * k / 2,
            "{}: the trained update moves most weights",
            layer.node
        );
    }
    // Biases and every other node are untouched.
    for (a, b) in onnx.graph.nodes.iter().zip(&merged.nodes) {
        match (&a.op, &b.op) {
            (FOp::Gemm { bias: x, .. }, FOp::Gemm { bias: y, .. }) => assert_eq!(x, y),
            (x, y) => assert_eq!(x, y, "{}", a.name),
        }
    }
}

#[test]
fn adapted_model_names_its_base_and_adapter_and_base_files_do_not_change() {
    let (onnx, base, report) = compile("mlp_small");
    let adapter = fixture_adapter();
    let adapted = quantize_adapted(&onnx.graph, &base, &adapter, report.scales).expect("adapts");
    let of = adapted.adapter.as_ref().expect("adapter recorded");
    assert_eq!(of.base_digest, base.digest());
    assert_eq!(of.adapter_digest, adapter.digest());
    assert_eq!(of.name, "digits-curated");
    assert_ne!(adapted.digest(), base.digest());
    assert_eq!(adapted.input_range, base.input_range);
    assert_eq!(
        adapted.tensors.len(),
        base.tensors.len(),
        "same graph shape"
    );
    for (a, b) in adapted.tensors.iter().zip(&base.tensors) {
        assert_eq!((a.scale, &a.shape), (b.scale, &b.shape), "{}", a.name);
    }
    // A base model serialises without the field, so its digest is what it was before adapters.
    let json = serde_json::to_string(&base).expect("json");
    assert!(!json.contains("\"adapter\""), "{}", &json[..200]);
    let back: poa_runtime::QModel = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back.digest(), base.digest());
    let json = serde_json::to_string(&adapted).expect("json");
    let back: poa_runtime::QModel = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back.adapter, adapted.adapter);
    assert_eq!(back.digest(), adapted.digest());
    // And it runs: on the held-out set it predicts like the base model almost everywhere.
    let (inputs, _) = common::test_set();
    let differ = inputs
        .iter()
        .filter(|x| {
            let class = |q: &poa_runtime::QModel| {
                let t = q.run(x).expect("runs");
                let out = &t.output().data;
                (0..out.len()).max_by_key(|&i| (out[i], std::cmp::Reverse(i)))
            };
            class(&base) != class(&adapted)
        })
        .count();
    assert!(
        differ < inputs.len() / 10,
        "{differ} of {} differ",
        inputs.len()
    );
}

#[test]
fn digest_is_of_the_content() {
    let a = fixture_adapter();
    let mut b = a.clone();
    assert_eq!(a.digest(), b.digest());
    b.layers[0].a[0][0] += 1e-3;
    assert_ne!(a.digest(), b.digest());
}

/// The fixture adapter with `edit` applied to its JSON.
fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&read("adapters/mlp_small_lora.json")).expect("json");
    edit(&mut v);
    v.to_string()
}

fn parse_err(text: &str) -> String {
    LoraAdapter::from_json(text)
        .expect_err("rejected")
        .to_string()
}

fn apply_err(text: &str) -> String {
    let (onnx, _, _) = compile("mlp_small");
    let adapter = LoraAdapter::from_json(text).expect("parses");
    adapter
        .apply(&onnx.graph)
        .expect_err("rejected")
        .to_string()
}

#[test]
fn rejects_malformed_adapters_naming_the_problem() {
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "invalid LoRA adapter"),
        (edited(|v| v["format"] = "poa-lora/9".into()), "poa-lora/9"),
        (edited(|v| v["name"] = " ".into()), "empty `name`"),
        (edited(|v| v["alpha"] = (-1.0).into()), "alpha -1"),
        (edited(|v| v["alpha"] = 0.0.into()), "alpha 0"),
        (edited(|v| v["layers"] = serde_json::json!([])), "no layers"),
        (edited(|v| v["extra"] = 1.into()), "unknown field `extra`"),
        (
            edited(|v| v["layers"][1]["node"] = "fc1".into()),
            "layer `fc1` appears twice",
        ),
        (
            edited(|v| v["layers"][0]["a"] = serde_json::json!([])),
            "layer `fc1`: rank 0",
        ),
        (
            edited(|v| {
                v["layers"][0]["a"][1].as_array_mut().expect("row").pop();
            }),
            "`a` is not an r × k matrix",
        ),
        (
            edited(|v| {
                v["layers"][0]["b"][3]
                    .as_array_mut()
                    .expect("row")
                    .push(0.5.into());
            }),
            "`b` must be n × 4",
        ),
        (
            edited(|v| v["layers"][0]["a"][0][0] = serde_json::json!(1e300)),
            "invalid LoRA adapter",
        ),
    ];
    for (text, want) in cases {
        let e = parse_err(&text);
        assert!(e.contains(want), "`{want}` not in: {e}");
    }
}

#[test]
fn rejects_adapters_that_do_not_fit_the_model() {
    let e = apply_err(&edited(|v| v["layers"][0]["node"] = "fc9".into()));
    assert!(
        e.contains("layer `fc9`: the base model has no node of that name"),
        "{e}"
    );
    let e = apply_err(&edited(|v| v["layers"][0]["node"] = "relu1".into()));
    assert!(e.contains("layer `relu1`: only Gemm layers"), "{e}");
    // fc2's update on fc1 (10 × 32 against a 32 × 64 weight).
    let e = apply_err(&edited(|v| {
        let fc2 = v["layers"][1].clone();
        v["layers"] = serde_json::json!([{"node": "fc1", "a": fc2["a"], "b": fc2["b"]}]);
    }));
    assert!(
        e.contains("layer `fc1`: weight is 32 × 64, the update is 10 × 32"),
        "{e}"
    );
}
