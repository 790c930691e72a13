//! The fixture MLPs as circuits: MockProver accepts every test input, the public outputs are the
//! runtime's outputs bit for bit, and each chip rejects a tampered witness by name.

mod common;

use std::sync::OnceLock;

use common::{compile, has_gate, has_lookup, has_permutation, mock, onnx, test_inputs};
use poa_circuits::field::{fe, to_i64};
use poa_circuits::{
    circuit_stats, public_instances, CircuitError, InstanceLayout, ModelCircuit, Tamper,
};
use poa_runtime::ops::Op;
use poa_runtime::QModel;

fn model(name: &str) -> &'static QModel {
    static SMALL: OnceLock<QModel> = OnceLock::new();
    static DEEP: OnceLock<QModel> = OnceLock::new();
    static ARGMAX: OnceLock<QModel> = OnceLock::new();
    let cell = match name {
        "mlp_small" => &SMALL,
        "mlp_deep" => &DEEP,
        "mlp_argmax" => &ARGMAX,
        _ => panic!("unknown fixture {name}"),
    };
    cell.get_or_init(|| compile(name))
}

fn node_of(q: &QModel, kind: &str) -> usize {
    q.nodes
        .iter()
        .position(|n| n.op.kind() == kind)
        .unwrap_or_else(|| panic!("{} has no {kind}", q.name))
}

fn accepts_fixture(name: &str) {
    let q = model(name);
    let layout = InstanceLayout::of(q);
    for x in test_inputs().iter().take(3) {
        let trace = q.run(x).expect("runs");
        let circuit = ModelCircuit::new(q, Some(&trace)).expect("builds");
        let instances = public_instances(q, &trace);
        assert_eq!(circuit.instances().as_deref(), Some(instances.as_slice()));
        mock(&circuit, instances.clone()).unwrap_or_else(|e| panic!("{name}: {e:#?}"));
        let outputs: Vec<i64> = instances[layout.output.clone()]
            .iter()
            .map(|f| to_i64(f).expect("small output"))
            .collect();
        assert_eq!(
            outputs,
            trace.output().data,
            "{name}: public outputs are the runtime's"
        );
    }
}

#[test]
fn accepts_mlp_small_bit_exact() {
    accepts_fixture("mlp_small");
}

#[test]
fn accepts_mlp_deep_bit_exact() {
    accepts_fixture("mlp_deep");
}

#[test]
fn accepts_mlp_argmax_bit_exact() {
    accepts_fixture("mlp_argmax");
}

fn tampered(name: &str, tamper: Tamper) -> Vec<halo2_proofs::dev::VerifyFailure> {
    let q = model(name);
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let mut circuit = ModelCircuit::new(q, Some(&trace)).expect("builds");
    circuit.tamper = Some(tamper);
    mock(&circuit, public_instances(q, &trace)).expect_err("tampered witness must fail")
}

#[test]
fn rejects_wrong_gemm_accumulator() {
    let q = model("mlp_small");
    let node = node_of(q, "Gemm");
    let k = match &q.nodes[node].op {
        Op::Gemm(g) => g.in_features(),
        _ => unreachable!(),
    };
    let failures = tampered("mlp_small", Tamper::GemmAccumulator { node });
    let gate = if k > 16 {
        "gemm accumulate"
    } else {
        "gemm first row"
    };
    assert!(has_gate(&failures, gate), "{failures:#?}");
}

#[test]
fn rejects_div_round_remainder_out_of_range() {
    let q = model("mlp_small");
    let node = node_of(q, "DivRound");
    let failures = tampered("mlp_small", Tamper::DivRoundQuotient { node });
    assert!(has_lookup(&failures, "range check limb"), "{failures:#?}");
}

#[test]
fn rejects_flipped_relu_branch() {
    let q = model("mlp_small");
    let node = node_of(q, "Relu");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    // An element whose input is not zero (for x = 0 both branches give y = 0 and z is caught too,
    // but pick the unambiguous case).
    let input = &trace.tensors[q.nodes[node].inputs[0]].data;
    let element = input
        .iter()
        .position(|&v| v != 0)
        .expect("a non-zero pre-activation");
    let failures = tampered("mlp_small", Tamper::ReluBranch { node, element });
    assert!(has_lookup(&failures, "range check limb"), "{failures:#?}");
}

#[test]
fn rejects_wrong_argmax_index() {
    let q = model("mlp_argmax");
    let node = node_of(q, "ArgMax");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let truth = trace.output().data[0] as usize;
    let index = (truth + 1) % q.tensors[q.nodes[node].inputs[0]].shape[1];
    let failures = tampered("mlp_argmax", Tamper::ArgMaxIndex { node, index });
    assert!(has_lookup(&failures, "range check limb"), "{failures:#?}");
}

fn instance_tamper(row: impl Fn(&InstanceLayout) -> usize) {
    let q = model("mlp_small");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let circuit = ModelCircuit::new(q, Some(&trace)).expect("builds");
    let mut instances = public_instances(q, &trace);
    instances[row(&InstanceLayout::of(q))] += fe(1);
    let failures = mock(&circuit, instances).expect_err("wrong instance must fail");
    assert!(has_permutation(&failures), "{failures:#?}");
}

#[test]
fn rejects_wrong_public_output() {
    instance_tamper(|l| l.output.start + 3);
}

#[test]
fn rejects_wrong_public_input() {
    instance_tamper(|l| l.input.start + 10);
}

#[test]
fn rejects_unsupported_op_naming_layer() {
    let onnx = onnx("cnn_small");
    // Any scales do: the circuit rejects the graph before it looks at values.
    let q = poa_runtime::quantize_graph(
        &onnx.graph,
        poa_runtime::Scales {
            activation: 6,
            weight: 6,
        },
        1.0,
    )
    .expect("cnn quantizes");
    let conv = q
        .nodes
        .iter()
        .position(|n| n.op.kind() == "Conv")
        .expect("a Conv layer");
    let err = ModelCircuit::new(&q, None).expect_err("Conv is not supported yet");
    match &err {
        CircuitError::UnsupportedOp {
            op, layer, node, ..
        } => {
            assert_eq!(*op, "Conv");
            assert_eq!(layer, &q.nodes[conv].name);
            assert_eq!(*node, conv);
        }
        other => panic!("unexpected error {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("Conv") && msg.contains(&q.nodes[conv].name),
        "{msg}"
    );
    assert_eq!(circuit_stats(&q), Err(err));
}

#[test]
fn reports_circuit_stats() {
    for name in ["mlp_small", "mlp_deep", "mlp_argmax"] {
        let q = model(name);
        let stats = circuit_stats(q).expect("supported");
        println!("{name}: {stats}");
        assert_eq!(stats.macs, q.macs());
        assert!(
            stats.main_rows >= stats.macs / 16,
            "{name}: rows track MACs"
        );
        if name == "mlp_small" {
            assert!(stats.k <= 12, "mlp_small k = {}", stats.k);
        }
    }
}
