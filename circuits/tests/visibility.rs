//! Input visibilities on a fixture model: `hashed` publishes the Poseidon commitment of the
//! packed input (equal to the native one) and no input value; `private` publishes only the
//! output; every mode range-checks the input. Tampering with the commitment is rejected.

mod common;

use common::{compile, has_gate, has_lookup, has_permutation, mock, test_inputs};
use poa_circuits::commit::input_commitment;
use poa_circuits::field::fe;
use poa_circuits::{
    circuit_stats, public_instances, InputVisibility, InstanceLayout, ModelCircuit, Tamper,
    Visibility,
};
use poa_runtime::QModel;
use std::sync::OnceLock;

fn mlp() -> &'static QModel {
    static M: OnceLock<QModel> = OnceLock::new();
    M.get_or_init(|| compile("mlp_small"))
}

fn vis(input: InputVisibility) -> Visibility {
    Visibility {
        input,
        ..Visibility::default()
    }
}

#[test]
fn hashed_input_publishes_the_native_commitment() {
    let q = mlp();
    let v = vis(InputVisibility::Hashed);
    let layout = InstanceLayout::of(q, &v);
    assert_eq!(layout.input, 0..0);
    assert_eq!(layout.input_commitment, Some(0));
    for x in test_inputs().iter().take(2) {
        let trace = q.run(x).expect("runs");
        let circuit = ModelCircuit::new(q, Some(&trace), v).expect("builds");
        let instances = public_instances(q, &trace, &v);
        assert_eq!(instances.len(), 1 + trace.output().data.len());
        assert_eq!(instances[0], input_commitment(q, &trace.input().data));
        mock(&circuit, instances).unwrap_or_else(|e| panic!("{e:#?}"));
    }
}

#[test]
fn hashed_input_rejects_a_tampered_digest_and_another_inputs_commitment() {
    let q = mlp();
    let v = vis(InputVisibility::Hashed);
    let inputs = test_inputs();
    let trace = q.run(&inputs[0]).expect("runs");
    let mut circuit = ModelCircuit::new(q, Some(&trace), v).expect("builds");
    circuit.tamper = Some(Tamper::InputCommitment);
    let mut instances = public_instances(q, &trace, &v);
    instances[0] += fe(1);
    let e = mock(&circuit, instances).expect_err("tampered digest accepted");
    assert!(has_gate(&e, "poseidon full rounds"), "{e:#?}");

    let honest = ModelCircuit::new(q, Some(&trace), v).expect("builds");
    let other = q.run(&inputs[1]).expect("runs");
    let mut instances = public_instances(q, &trace, &v);
    instances[0] = input_commitment(q, &other.input().data);
    let e = mock(&honest, instances).expect_err("another input's commitment accepted");
    assert!(has_permutation(&e), "{e:#?}");
}

#[test]
fn private_input_publishes_only_the_output() {
    let q = mlp();
    let v = vis(InputVisibility::Private);
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let circuit = ModelCircuit::new(q, Some(&trace), v).expect("builds");
    let instances = public_instances(q, &trace, &v);
    assert_eq!(instances.len(), trace.output().data.len());
    mock(&circuit, instances.clone()).unwrap_or_else(|e| panic!("{e:#?}"));
    let mut wrong = instances;
    wrong[3] += fe(1);
    assert!(has_permutation(
        &mock(&circuit, wrong).expect_err("changed output accepted")
    ));
}

#[test]
fn private_input_outside_its_slot_is_rejected_by_the_range_check() {
    let q = mlp();
    let v = vis(InputVisibility::Private);
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let slot = poa_circuits::commit::input_packing(q);
    assert_eq!(
        slot.slot_bits % 8,
        0,
        "whole-limb slots: one lookup row, no top-limb row"
    );
    // One past the slot: x + offset = 2^slot_bits.
    let value = (1i64 << slot.slot_bits) - slot.offset;
    let mut circuit = ModelCircuit::new(q, Some(&trace), v).expect("builds");
    circuit.tamper = Some(Tamper::InputValue { element: 5, value });
    let e = mock(&circuit, public_instances(q, &trace, &v)).expect_err("out-of-slot input");
    assert!(has_lookup(&e, "range check limb"), "{e:#?}");
}

/// The checks are two-sided: one past the bound, and the largest value a one-sided check of the
/// slot would let through, are both refused (a private input is the prover's choice).
#[test]
fn private_input_past_its_bound_is_rejected() {
    let q = mlp();
    let v = vis(InputVisibility::Private);
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let slot = poa_circuits::commit::input_packing(q);
    let bound = q.input().bound;
    for value in [bound + 1, (1i64 << slot.slot_bits) - 1 - bound, -bound - 1] {
        let mut circuit = ModelCircuit::new(q, Some(&trace), v).expect("builds");
        circuit.tamper = Some(Tamper::InputValue { element: 5, value });
        let e = mock(&circuit, public_instances(q, &trace, &v)).expect_err("input past bound");
        assert!(has_lookup(&e, "range check limb"), "{value}: {e:#?}");
    }
    // The same hook with the honest value passes: the value is what fails above, not the hook.
    let mut circuit = ModelCircuit::new(q, Some(&trace), v).expect("builds");
    circuit.tamper = Some(Tamper::InputValue {
        element: 5,
        value: trace.tensors[0].data[5],
    });
    mock(&circuit, public_instances(q, &trace, &v)).expect("the honest value passes");
}

#[test]
fn hashing_costs_rows_not_columns() {
    let q = mlp();
    let public = circuit_stats(q, &vis(InputVisibility::Public)).expect("stats");
    let hashed = circuit_stats(q, &vis(InputVisibility::Hashed)).expect("stats");
    let private = circuit_stats(q, &vis(InputVisibility::Private)).expect("stats");
    // 64 inputs of ≤ 6-bit slots: 4 packed elements → 4 pack rows + 2 sponge chunks.
    let sponge = poa_circuits::poseidon::chip::rows_for(4);
    assert_eq!(hashed.main_rows, public.main_rows + 4 + sponge);
    assert_eq!(private.main_rows, public.main_rows);
    assert_eq!(hashed.advice_columns, public.advice_columns);
    assert_eq!(hashed.instances, 1 + 10);
    assert_eq!(private.instances, 10);
    // Input range checks are there in every mode: two whole-limb rows per input value (the
    // lower and the upper bound).
    assert!(public.range_rows >= 2 * 64, "{public}");
}
