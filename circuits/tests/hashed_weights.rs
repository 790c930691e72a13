//! `hashed` weights: private Gemm/Conv weights whose Poseidon commitment is public. The circuit
//! publishes the native commitment and agrees with the runtime; a base model and its LoRA
//! adapter lay out one circuit (same shape digest, same fixed columns) and differ only in the
//! commitment; a tampered digest, a weight used differently from its committed cell, a weight
//! pushed out of its packing slot and another model's commitment are each rejected.

mod common;

use common::{has_gate, has_lookup, has_permutation, mock, test_inputs};
use halo2curves::ff::Field;
use poa_circuits::attribution::{model_id, public_adapter_id};
use poa_circuits::weights::{shape_digest, weight_blocks, weights_commitment};
use poa_circuits::{
    circuit_stats, public_instances, AttributionPublic, AttributionSetup, CircuitError, Fr,
    IndexVisibility, InputVisibility, InstanceLayout, ModelCircuit, Request, Tamper, Visibility,
    WeightVisibility,
};
use poa_runtime::datanet::Address;
use poa_runtime::QModel;
use std::sync::OnceLock;

fn hashed() -> Visibility {
    Visibility {
        weights: WeightVisibility::Hashed,
        ..Visibility::default()
    }
}

/// mlp_small and its fixture adapter, compiled for hashed weights (byte-rounded bounds).
fn pair() -> &'static (QModel, QModel) {
    static P: OnceLock<(QModel, QModel)> = OnceLock::new();
    P.get_or_init(poa_fixtures::compile_adapted_hashed)
}

fn circuit(q: &QModel, input: &[f32], vis: Visibility) -> (ModelCircuit, Vec<Fr>) {
    let trace = q.run(input).expect("runs");
    let c = ModelCircuit::new(q, Some(&trace), vis).expect("builds");
    let instances = public_instances(q, &trace, &vis);
    assert_eq!(c.instances().as_deref(), Some(instances.as_slice()));
    (c, instances)
}

#[test]
fn hashed_weights_publish_the_native_commitment_and_agree_with_the_runtime() {
    let (base, adapted) = pair();
    for q in [base, adapted] {
        let layout = InstanceLayout::of(q, &hashed());
        assert_eq!(layout.weights_commitment, Some(0));
        for x in test_inputs().iter().take(2) {
            let (c, instances) = circuit(q, x, hashed());
            assert_eq!(instances[0], weights_commitment(q));
            let trace = q.run(x).expect("runs");
            let outputs: Vec<Fr> = trace
                .output()
                .data
                .iter()
                .map(|&v| poa_circuits::field::fe(v))
                .collect();
            assert_eq!(instances[layout.output.clone()], outputs[..]);
            mock(&c, instances).unwrap_or_else(|e| panic!("{e:#?}"));
        }
    }
    assert_ne!(weights_commitment(base), weights_commitment(adapted));
}

#[test]
fn a_base_model_and_its_adapter_share_one_circuit() {
    let (base, adapted) = pair();
    assert_eq!(shape_digest(base), shape_digest(adapted));
    assert_eq!(model_id(base), model_id(adapted), "row 0: the base model");
    let (sb, sa) = (
        circuit_stats(base, &hashed()).expect("stats"),
        circuit_stats(adapted, &hashed()).expect("stats"),
    );
    assert_eq!(sb, sa);
    // Fixed weights: the adapter's weights are in its fixed columns, another circuit.
    let fixed = Visibility::default();
    assert_ne!(
        ModelCircuit::new(base, None, fixed)
            .expect("builds")
            .stats(),
        ModelCircuit::new(base, None, hashed())
            .expect("builds")
            .stats()
    );
    // The registry key's second half tells them apart.
    assert_ne!(
        public_adapter_id(base, &hashed()),
        public_adapter_id(adapted, &hashed())
    );
    // A model whose weight slots widen (a weight past its byte width) is another shape.
    let mut wide = adapted.clone();
    if let poa_runtime::ops::Op::Gemm(g) = &mut wide.nodes[0].op {
        g.weight.data[0] = 1000;
    }
    assert_ne!(shape_digest(&wide), shape_digest(base));
}

#[test]
fn hashed_weights_cost_rows_not_a_wider_layout() {
    let (base, _) = pair();
    let fixed = circuit_stats(base, &Visibility::default()).expect("stats");
    let hashed = circuit_stats(base, &hashed()).expect("stats");
    // The same chips' columns, plus at most a second range band for the slot checks.
    assert!(
        hashed.advice_columns <= fixed.advice_columns + 2,
        "{hashed}"
    );
    assert_eq!(
        hashed.range_bands, 2,
        "thousands of slot checks split over two bands"
    );
    assert!(hashed.main_rows > fixed.main_rows, "{hashed} vs {fixed}");
    // Every weight and bias gets one slot check (int8 slots: one limb row each) at least.
    let weights: usize = weight_blocks(base)
        .iter()
        .map(|b| match &base.nodes[b.node].op {
            poa_runtime::ops::Op::Gemm(g) => g.weight.data.len() + g.bias.len(),
            _ => 0,
        })
        .sum();
    assert!(hashed.range_rows * hashed.range_bands >= fixed.range_rows + weights);
    assert_eq!(hashed.instances, fixed.instances + 1);
}

#[test]
fn tampered_digest_copy_and_slot_are_rejected() {
    let (base, _) = pair();
    let x = &test_inputs()[0];
    let (mut c, mut instances) = circuit(base, x, hashed());
    c.tamper = Some(Tamper::WeightsCommitment);
    instances[0] += Fr::ONE;
    let e = mock(&c, instances).expect_err("tampered digest accepted");
    assert!(has_gate(&e, "poseidon full rounds"), "{e:#?}");

    let (mut c, instances) = circuit(base, x, hashed());
    c.tamper = Some(Tamper::WeightCopy { node: 0 });
    let e = mock(&c, instances).expect_err("weight used unlike its commitment");
    assert!(has_permutation(&e), "{e:#?}");

    // Weight 0 + 2^8, weight 1 − 1: the packed element (and so the commitment) is unchanged,
    // only the slot check sees it.
    let (mut c, instances) = circuit(base, x, hashed());
    c.tamper = Some(Tamper::WeightSlotOverflow {
        node: 0,
        element: 0,
    });
    let e = mock(&c, instances).expect_err("weight outside its slot");
    assert!(has_lookup(&e, "range check limb"), "{e:#?}");
}

#[test]
fn another_models_commitment_is_rejected() {
    let (base, adapted) = pair();
    let (c, mut instances) = circuit(base, &test_inputs()[1], hashed());
    instances[0] = weights_commitment(adapted);
    let e = mock(&c, instances).expect_err("the adapter's commitment on the base's proof");
    assert!(has_permutation(&e), "{e:#?}");
}

#[test]
fn conv_weights_hash_and_agree() {
    let q = poa_fixtures::compile("cnn_small").with_byte_rounded_bounds();
    let v = Visibility {
        input: InputVisibility::Hashed,
        weights: WeightVisibility::Hashed,
    };
    let layout = InstanceLayout::of(&q, &v);
    assert_eq!(
        (layout.weights_commitment, layout.input_commitment),
        (Some(0), Some(1))
    );
    let (c, instances) = circuit(&q, &test_inputs()[2], v);
    assert_eq!(instances[0], weights_commitment(&q));
    mock(&c, instances.clone()).unwrap_or_else(|e| panic!("{e:#?}"));
    let conv = q
        .nodes
        .iter()
        .position(|n| matches!(n.op, poa_runtime::ops::Op::Conv(_)))
        .expect("a conv");
    let mut c2 = c.clone();
    c2.tamper = Some(Tamper::WeightCopy { node: conv });
    assert!(has_permutation(
        &mock(&c2, instances).expect_err("conv weight copy")
    ));
}

#[test]
fn unsuitable_models_are_clear_errors() {
    let raw = poa_fixtures::compile("mlp_small");
    if !raw.has_byte_rounded_bounds() {
        let e = ModelCircuit::new(&raw, None, hashed()).expect_err("not byte-rounded");
        assert!(
            matches!(&e, CircuitError::HashedWeights { reason } if reason.contains("--weight-visibility hashed")),
            "{e}"
        );
    }
    let zoo = poa_fixtures::compile("ops_zoo").with_byte_rounded_bounds();
    let e = ModelCircuit::new(&zoo, None, hashed()).expect_err("constants");
    assert!(
        matches!(&e, CircuitError::HashedWeights { reason } if reason.contains("--weight-visibility fixed")),
        "{e}"
    );
}

/// With an attribution header the commitment takes the adapter id row, and an adapter's proof
/// over a hashed index is accepted by the same circuit as its base's.
#[test]
fn attribution_publishes_the_commitment_as_the_adapter_id() {
    let (base, adapted) = pair();
    for q in [base, adapted] {
        let index = poa_fixtures::run_index(q, 12);
        let setup = AttributionSetup::new(q, index, 3, IndexVisibility::Hashed).expect("setup");
        let trace = q.run(&test_inputs()[4]).expect("runs");
        let request = Request {
            nonce: Fr::from(9u64),
            prover: Address([0xb0; 20]),
        };
        let c = ModelCircuit::new(q, Some(&trace), hashed())
            .expect("builds")
            .with_attribution(setup, Some(request))
            .expect("attribution");
        let instances = c.instances().expect("witness");
        let public = AttributionPublic::decode(&instances, 3).expect("header");
        assert_eq!(public.model_id, model_id(base));
        assert_eq!(public.adapter_id, weights_commitment(q));
        mock(&c, instances.clone()).unwrap_or_else(|e| panic!("{e:#?}"));
        let mut wrong = instances;
        wrong[1] = Fr::ZERO;
        assert!(has_permutation(
            &mock(&c, wrong).expect_err("adapter id row unbound")
        ));
    }
}
