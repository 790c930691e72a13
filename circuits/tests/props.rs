//! Random small MLPs built with the runtime's GraphBuilder: the circuit accepts every run and its
//! public outputs are the runtime's. Also the ArgMax tie rule (first index wins).

mod common;

use common::{has_lookup, mock};
use poa_circuits::field::to_i64;
use poa_circuits::{public_instances, InstanceLayout, ModelCircuit, Tamper};
use poa_runtime::graph::GraphBuilder;
use poa_runtime::ops::{Gemm, Op};
use poa_runtime::{QModel, Tensor, TensorInfo};
use proptest::prelude::*;

fn input_info(n: usize, bound: i64) -> TensorInfo {
    TensorInfo {
        name: "x".into(),
        shape: vec![1, n],
        scale: 4,
        bound,
    }
}

/// Gemm → DivRound → Relu → Gemm → DivRound [→ ArgMax].
fn mlp(
    n_in: usize,
    w1: Vec<i64>,
    b1: Vec<i64>,
    w2: Vec<i64>,
    b2: Vec<i64>,
    d: i64,
    argmax: bool,
) -> QModel {
    let hidden = b1.len();
    let out = b2.len();
    let mut g = GraphBuilder::new("prop".into(), input_info(n_in, 64), 4.0);
    let t = g
        .push(
            "fc1".into(),
            Op::Gemm(Gemm {
                weight: Tensor::new(vec![hidden, n_in], w1),
                bias: b1,
            }),
            vec![0],
            8,
        )
        .expect("fc1");
    let t = g
        .push("rescale1".into(), Op::DivRound { divisor: d }, vec![t], 4)
        .expect("rescale1");
    let t = g.push("relu".into(), Op::Relu, vec![t], 4).expect("relu");
    let t = g
        .push(
            "fc2".into(),
            Op::Gemm(Gemm {
                weight: Tensor::new(vec![out, hidden], w2),
                bias: b2,
            }),
            vec![t],
            8,
        )
        .expect("fc2");
    let t = g
        .push("rescale2".into(), Op::DivRound { divisor: d }, vec![t], 4)
        .expect("rescale2");
    if argmax {
        g.push("argmax".into(), Op::ArgMax { keepdims: false }, vec![t], 0)
            .expect("argmax");
    }
    g.finish()
}

fn case() -> impl Strategy<Value = (QModel, Vec<i64>)> {
    (
        1usize..20,
        1usize..20,
        1usize..20,
        prop::bool::ANY,
        1i64..100,
        any::<bool>(),
    )
        .prop_flat_map(|(n_in, hidden, out, argmax, d_raw, pow2)| {
            let d = if pow2 { 1i64 << (d_raw % 9) } else { d_raw };
            (
                prop::collection::vec(-64i64..=64, n_in * hidden),
                prop::collection::vec(-500i64..=500, hidden),
                prop::collection::vec(-64i64..=64, hidden * out),
                prop::collection::vec(-500i64..=500, out),
                prop::collection::vec(-64i64..=64, n_in),
            )
                .prop_map(move |(w1, b1, w2, b2, x)| (mlp(n_in, w1, b1, w2, b2, d, argmax), x))
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_mlps_are_accepted_bit_exact((q, x) in case()) {
        let trace = q.run_quantized(Tensor::new(vec![1, x.len()], x)).expect("runs");
        let circuit = ModelCircuit::new(&q, Some(&trace)).expect("builds");
        let instances = public_instances(&q, &trace);
        let res = mock(&circuit, instances.clone());
        prop_assert!(res.is_ok(), "{:#?}", res);
        let outs: Vec<i64> = instances[InstanceLayout::of(&q).output]
            .iter()
            .map(|f| to_i64(f).expect("small"))
            .collect();
        prop_assert_eq!(&outs, &trace.output().data);
    }
}

fn argmax_only(values: &[i64]) -> (QModel, poa_runtime::Trace) {
    let mut g = GraphBuilder::new("argmax".into(), input_info(values.len(), 100), 8.0);
    g.push("argmax".into(), Op::ArgMax { keepdims: false }, vec![0], 0)
        .expect("argmax");
    let q = g.finish();
    let trace = q
        .run_quantized(Tensor::new(vec![1, values.len()], values.to_vec()))
        .expect("runs");
    (q, trace)
}

#[test]
fn argmax_tie_goes_to_first_index() {
    let (q, trace) = argmax_only(&[3, -7, 9, 9, 1]);
    assert_eq!(trace.output().data, vec![2]);
    let circuit = ModelCircuit::new(&q, Some(&trace)).expect("builds");
    mock(&circuit, public_instances(&q, &trace)).expect("first maximum accepted");
}

#[test]
fn rejects_tie_resolved_to_later_index() {
    let (q, trace) = argmax_only(&[3, -7, 9, 9, 1]);
    let mut circuit = ModelCircuit::new(&q, Some(&trace)).expect("builds");
    circuit.tamper = Some(Tamper::ArgMaxIndex { node: 0, index: 3 });
    let mut instances = public_instances(&q, &trace);
    let out = InstanceLayout::of(&q).output.start;
    instances[out] = poa_circuits::field::fe(3);
    let failures = mock(&circuit, instances).expect_err("later tie index must fail");
    assert!(has_lookup(&failures, "range check limb"), "{failures:#?}");
}
