//! The fixture models (MLPs, cnn_small, ops_zoo) as circuits: MockProver accepts test inputs,
//! the public outputs are the runtime's outputs bit for bit, and each chip rejects a tampered
//! witness by name.

mod common;

use std::sync::OnceLock;

use common::{compile, has_gate, has_lookup, has_permutation, mock, mock_outputs, test_inputs};
use halo2_proofs::dev::VerifyFailure;
use halo2_proofs::plonk::Any;
use poa_circuits::chips::div_round::rounding_forgery;
use poa_circuits::field::fe;
use poa_circuits::Fr;
use poa_circuits::Visibility;
use poa_circuits::{
    circuit_stats, public_instances, CircuitError, InstanceLayout, ModelCircuit, Tamper,
};
use poa_runtime::graph::GraphBuilder;
use poa_runtime::ops::{Op, Window};
use poa_runtime::{QModel, TensorInfo};

fn model(name: &str) -> &'static QModel {
    static SMALL: OnceLock<QModel> = OnceLock::new();
    static DEEP: OnceLock<QModel> = OnceLock::new();
    static ARGMAX: OnceLock<QModel> = OnceLock::new();
    static CNN: OnceLock<QModel> = OnceLock::new();
    static ZOO: OnceLock<QModel> = OnceLock::new();
    static M26K: OnceLock<QModel> = OnceLock::new();
    static M85K: OnceLock<QModel> = OnceLock::new();
    let cell = match name {
        "mlp_small" => &SMALL,
        "mlp_deep" => &DEEP,
        "mlp_argmax" => &ARGMAX,
        "cnn_small" => &CNN,
        "ops_zoo" => &ZOO,
        "mlp_26k" => &M26K,
        "mlp_85k" => &M85K,
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
    accepts_fixture_inputs(name, 3);
}

fn accepts_fixture_inputs(name: &str, inputs: usize) {
    let q = model(name);
    for x in test_inputs().iter().take(inputs) {
        let trace = q.run(x).expect("runs");
        let outputs = mock_outputs(q, &trace).unwrap_or_else(|e| panic!("{name}: {e:#?}"));
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

#[test]
fn accepts_cnn_small_bit_exact() {
    accepts_fixture_inputs("cnn_small", 2);
}

#[test]
fn accepts_ops_zoo_bit_exact() {
    let q = model("ops_zoo");
    for kind in [
        "Conv", "MaxPool", "SumPool", "Add", "MulConst", "Sigmoid", "Tanh",
    ] {
        node_of(q, kind);
    }
    accepts_fixture_inputs("ops_zoo", 2);
}

fn tampered(name: &str, tamper: Tamper) -> Vec<halo2_proofs::dev::VerifyFailure> {
    let q = model(name);
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let mut circuit = ModelCircuit::new(q, Some(&trace), Visibility::default()).expect("builds");
    circuit.tamper = Some(tamper);
    mock(
        &circuit,
        public_instances(q, &trace, &Visibility::default()),
    )
    .expect_err("tampered witness must fail")
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

/// The rounding forgery: every logit's quotient rounded with an offset ρ, `r = (x + ⌊d/2⌋ − ρ)
/// mod d` (in range) and `y = q' + ρ·d⁻¹`, published as the outputs. The division gate holds
/// for every element, so only the range check of the output quotients can reject it; an
/// attribution proof would otherwise take the argmax of differently rounded logits.
#[test]
fn rejects_output_quotients_rounded_with_an_offset() {
    let q = model("mlp_small");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let vis = Visibility::default();
    let last = q
        .nodes
        .iter()
        .position(|n| n.output == q.output)
        .expect("a node makes the output");
    let Op::DivRound { divisor } = q.nodes[last].op else {
        panic!("mlp_small's output is a DivRound")
    };
    let rho = 7;
    assert!(rho < divisor);
    let forged: Vec<Fr> = trace.tensors[q.nodes[last].inputs[0]]
        .data
        .iter()
        .map(|&x| rounding_forgery(x, divisor, rho).0)
        .collect();
    let mut instances = public_instances(q, &trace, &vis);
    let outputs = instances.len() - forged.len();
    instances[outputs..].copy_from_slice(&forged);
    let mut circuit = ModelCircuit::new(q, Some(&trace), vis).expect("builds");
    circuit.tamper = Some(Tamper::OutputRounding { rho });
    let failures = mock(&circuit, instances).expect_err("a forged rounding must fail");
    // The division gate holds; what breaks is the copy of each forged quotient into the output's
    // range check, whose rows here hold the integer quotient (MockProver names every cell of
    // those copy cycles, the published instance among them). A
    // prover who copies the forged value there instead breaks the recomposition gate: limbs in
    // [0, 256) only sum to integers below 2^bits, never to `q' + ρ·d⁻¹`. Before the output's
    // quotients were range-checked, MockProver accepted this witness.
    assert!(!has_gate(&failures, "div_round"), "{failures:#?}");
    assert!(
        failures
            .iter()
            .all(|f| matches!(f, VerifyFailure::Permutation { .. })),
        "{failures:#?}"
    );
    assert!(
        failures.iter().any(|f| matches!(
            f,
            VerifyFailure::Permutation { column, .. } if matches!(column.column_type(), Any::Advice(_))
        )),
        "{failures:#?}"
    );
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

#[test]
fn rejects_wrong_conv_accumulator() {
    // ops_zoo's first Conv pads by one, so its first output has 4 in-bounds taps of 1 channel:
    // a single Gemm row, checked by the first-row gate.
    let q = model("ops_zoo");
    let node = node_of(q, "Conv");
    let failures = tampered("ops_zoo", Tamper::ConvAccumulator { node });
    assert!(has_gate(&failures, "gemm first row"), "{failures:#?}");
}

#[test]
fn rejects_non_max_tap_as_maxpool_output() {
    let q = model("ops_zoo");
    let node = node_of(q, "MaxPool");
    let failures = tampered("ops_zoo", Tamper::MaxPoolChoice { node });
    assert!(has_lookup(&failures, "range check limb"), "{failures:#?}");
}

#[test]
fn rejects_wrong_sumpool_sum() {
    let q = model("ops_zoo");
    let node = node_of(q, "SumPool");
    let failures = tampered("ops_zoo", Tamper::SumPoolSum { node });
    assert!(has_gate(&failures, "gemm first row"), "{failures:#?}");
}

#[test]
fn rejects_wrong_add() {
    let q = model("ops_zoo");
    let node = node_of(q, "Add");
    let failures = tampered("ops_zoo", Tamper::AffineOutput { node });
    assert!(has_gate(&failures, "affine"), "{failures:#?}");
}

#[test]
fn rejects_wrong_mul_const() {
    let q = model("ops_zoo");
    let node = node_of(q, "MulConst");
    let failures = tampered("ops_zoo", Tamper::AffineOutput { node });
    assert!(has_gate(&failures, "affine"), "{failures:#?}");
}

#[test]
fn rejects_wrong_table_output() {
    let q = model("ops_zoo");
    let node = node_of(q, "Sigmoid");
    let failures = tampered("ops_zoo", Tamper::TableOutput { node, element: 0 });
    assert!(has_lookup(&failures, "table lookup"), "{failures:#?}");
}

fn instance_tamper(row: impl Fn(&InstanceLayout) -> usize) {
    let q = model("mlp_small");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let circuit = ModelCircuit::new(q, Some(&trace), Visibility::default()).expect("builds");
    let mut instances = public_instances(q, &trace, &Visibility::default());
    instances[row(&InstanceLayout::of(q, &Visibility::default()))] += fe(1);
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

/// Every runtime op has a chip (see `every_runtime_op_is_supported` in props.rs); what the circuit
/// still cannot lay out is a MaxPool window lying entirely in the padding (ONNX forbids pads ≥
/// kernel; the runtime would output 0). It is rejected by name, before any witness.
#[test]
fn rejects_unlayable_maxpool_window_naming_layer() {
    let input = TensorInfo {
        name: "x".into(),
        shape: vec![1, 1, 2, 2],
        scale: 4,
        bound: 64,
    };
    let mut g = GraphBuilder::new("padded_pool".into(), input, 4.0);
    let window = Window {
        kernel: [1, 1],
        stride: [1, 1],
        pads: [1, 1, 1, 1],
    };
    g.push("pool".into(), Op::MaxPool(window), vec![0], 4)
        .expect("the runtime accepts it");
    let q = g.finish();
    let err = ModelCircuit::new(&q, None, Visibility::default()).expect_err("all-padding window");
    match &err {
        CircuitError::UnsupportedShape { layer, reason } => {
            assert_eq!(layer, "pool");
            assert!(reason.contains("padding"), "{reason}");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("pool"), "{err}");
    assert_eq!(circuit_stats(&q, &Visibility::default()), Err(err));
}

#[test]
fn reports_circuit_stats() {
    for name in [
        "mlp_small",
        "mlp_deep",
        "mlp_argmax",
        "cnn_small",
        "ops_zoo",
        // The larger MLPs: sizes only (laid out, not proved; cheap in a debug build).
        "mlp_26k",
        "mlp_85k",
    ] {
        let q = model(name);
        let stats = circuit_stats(q, &Visibility::default()).expect("supported");
        println!("{name}: {stats}");
        assert_eq!(stats.macs, q.macs());
        assert!(
            stats.main_rows >= stats.macs / 16,
            "{name}: rows track MACs"
        );
        if name == "mlp_small" || name == "cnn_small" {
            assert!(stats.k <= 12, "{name} k = {}", stats.k);
        }
    }
}

/// cnn_small's range checks set k, so its plan splits them over two bands (k = 10 → 9): the
/// DivRound block lands in the second band and the Relu block in the first; a forged value in
/// either is still rejected by its band's limb lookup.
#[test]
fn split_range_bands_still_reject_out_of_range_values() {
    let q = model("cnn_small");
    let stats = circuit_stats(q, &Visibility::default()).expect("stats");
    assert_eq!((stats.range_bands, stats.k), (2, 9), "{stats}");
    let node = node_of(q, "DivRound");
    let failures = tampered("cnn_small", Tamper::DivRoundQuotient { node });
    assert!(has_lookup(&failures, "range check limb"), "{failures:#?}");
    let node = node_of(q, "Relu");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let input = &trace.tensors[q.nodes[node].inputs[0]].data;
    let element = input.iter().position(|&v| v != 0).expect("non-zero");
    let failures = tampered("cnn_small", Tamper::ReluBranch { node, element });
    assert!(has_lookup(&failures, "range check limb"), "{failures:#?}");
    // Models whose main band sets k keep one band.
    let deep = circuit_stats(model("mlp_deep"), &Visibility::default()).expect("stats");
    assert_eq!(deep.range_bands, 1, "{deep}");
}
