//! The attribution circuit: MockProver accepts the runtime's top-k and publishes exactly what
//! `poa_runtime::attribution::attribute` computes; each forged part is rejected by the
//! constraint that guards it.

mod common;

use std::sync::Arc;

use common::{compile, has_gate, has_lookup, has_permutation, mock, test_inputs};
use halo2_proofs::dev::VerifyFailure;
use halo2curves::ff::Field;
use poa_circuits::attribution::chip::TopKTamper;
use poa_circuits::attribution::{adapter_id, address_fe, model_id, model_id_of_digest};
use poa_circuits::commit::index_root;
use poa_circuits::field::fe128;
use poa_circuits::{
    AttributionPublic, AttributionRows, AttributionSetup, Fr, IndexVisibility, InputVisibility,
    ModelCircuit, Request, Tamper, Visibility,
};
use poa_fixtures::{index_of, run_index};
use poa_runtime::attribution::{attribute, AttributionIndex, IndexEntry};
use poa_runtime::datanet::Address;
use poa_runtime::QModel;
use proptest::prelude::*;

const PROVER: Address = Address([0x77; 20]);

fn request() -> Request {
    Request {
        nonce: Fr::from(42),
        prover: PROVER,
    }
}

/// The attribution circuit of `input` over a fixed `index`.
fn circuit(
    q: &QModel,
    index: &Arc<AttributionIndex>,
    k: usize,
    vis: Visibility,
    input: &[f32],
) -> ModelCircuit {
    circuit_with(q, index, k, vis, IndexVisibility::Fixed, input)
}

/// The attribution circuit of `input` over `index` with the given index visibility.
fn circuit_with(
    q: &QModel,
    index: &Arc<AttributionIndex>,
    k: usize,
    vis: Visibility,
    index_vis: IndexVisibility,
    input: &[f32],
) -> ModelCircuit {
    let setup = AttributionSetup::new(q, index.clone(), k, index_vis).expect("setup");
    let trace = q.run(input).expect("runs");
    ModelCircuit::new(q, Some(&trace), vis)
        .expect("builds")
        .with_attribution(setup, Some(request()))
        .expect("attribution")
}

fn run(c: &ModelCircuit) -> Result<(), Vec<VerifyFailure>> {
    mock(c, c.instances().expect("witness"))
}

/// The public header equals the native attribution, and MockProver accepts.
fn check_agrees(
    q: &QModel,
    index: &Arc<AttributionIndex>,
    k: usize,
    vis: Visibility,
    input: &[f32],
) {
    check_agrees_with(q, index, k, vis, IndexVisibility::Fixed, input);
}

/// [`check_agrees`] with the given index visibility.
fn check_agrees_with(
    q: &QModel,
    index: &Arc<AttributionIndex>,
    k: usize,
    vis: Visibility,
    index_vis: IndexVisibility,
    input: &[f32],
) {
    let c = circuit_with(q, index, k, vis, index_vis, input);
    run(&c).expect("MockProver accepts the honest attribution");
    let native = attribute(q, index, input, k).expect("native");
    let public = AttributionPublic::decode(&c.instances().expect("witness"), k).expect("header");
    assert_eq!(public.model_id, model_id(q));
    // A job store holds the digest, not the model: the same id from it (a base model's).
    if q.adapter.is_none() {
        assert_eq!(model_id_of_digest(q.digest()), Some(model_id(q)));
    }
    assert_eq!(public.adapter_id, adapter_id(q));
    assert_eq!(public.class, Fr::from(u64::from(native.predicted_class)));
    assert_eq!(public.index_root, index_root(index));
    assert_eq!(public.nonce, Fr::from(42));
    assert_eq!(public.prover, address_fe(&PROVER));
    let expected: Vec<(Fr, Fr)> = native
        .top
        .iter()
        .map(|a| (address_fe(&a.contributor), fe128(a.score)))
        .collect();
    assert_eq!(public.top, expected);
}

#[test]
fn honest_attribution_is_accepted_and_equals_the_runtime() {
    for name in ["mlp_small", "mlp_argmax"] {
        let q = compile(name);
        let index = run_index(&q, 40);
        for input in test_inputs().iter().take(3) {
            check_agrees(&q, &index, 8, Visibility::default(), input);
        }
        let hashed = Visibility {
            input: InputVisibility::Hashed,
            ..Visibility::default()
        };
        check_agrees(&q, &index, 3, hashed, &test_inputs()[5]);
    }
}

#[test]
fn stats_grow_with_entries() {
    let q = compile("mlp_small");
    let stats = |n| {
        let setup =
            AttributionSetup::new(&q, run_index(&q, n), 8, IndexVisibility::Fixed).expect("setup");
        ModelCircuit::new(&q, None, Visibility::default())
            .expect("builds")
            .with_attribution(setup, None)
            .expect("keygen circuit")
            .stats()
    };
    let (small, large) = (stats(16), stats(64));
    let d = q.tensors[q.embedding].shape.iter().product::<usize>();
    // Each entry: its dot product's Gemm rows plus one score row.
    assert_eq!(
        large.main_rows - small.main_rows,
        48 * (d.div_ceil(16) + 1),
        "{small} → {large}"
    );
    assert_eq!(large.instances, small.instances);
}

fn first_failing(tamper: Tamper) -> Vec<VerifyFailure> {
    let q = compile("mlp_small");
    let index = run_index(&q, 40);
    let mut c = circuit(&q, &index, 8, Visibility::default(), &test_inputs()[0]);
    let instances = c.instances().expect("witness");
    c.tamper = Some(tamper);
    mock(&c, instances).expect_err("tampered witness must be rejected")
}

#[test]
fn another_top_k_set_is_rejected_by_the_threshold_range_check() {
    let f = first_failing(Tamper::TopKSet);
    assert!(has_lookup(&f, "range check limb"), "{f:?}");
}

#[test]
fn a_swapped_contributor_is_rejected_by_the_slot_lookup() {
    let f = first_failing(Tamper::Attribution(TopKTamper::SlotContributor));
    assert!(has_lookup(&f, "attribution top-k entry"), "{f:?}");
}

#[test]
fn a_tampered_published_score_is_rejected_by_the_slot_lookup() {
    let f = first_failing(Tamper::Attribution(TopKTamper::SlotScore));
    assert!(has_lookup(&f, "attribution top-k entry"), "{f:?}");
}

#[test]
fn a_tampered_entry_score_is_rejected_by_the_score_gate() {
    let f = first_failing(Tamper::Attribution(TopKTamper::EntryScore(3)));
    assert!(has_gate(&f, "attribution score"), "{f:?}");
}

#[test]
fn a_wrong_predicted_class_is_rejected_by_the_argmax_range_check() {
    let q = compile("mlp_small");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let truth = poa_runtime::attribution::predicted_class(&q, &trace) as usize;
    let f = first_failing(Tamper::PredictedClass {
        index: (truth + 1) % 4,
    });
    assert!(has_lookup(&f, "range check limb"), "{f:?}");
}

/// Changing a public header value (same witness) breaks the copy into the instance column.
#[test]
fn changed_public_header_values_are_rejected() {
    let q = compile("mlp_small");
    let index = run_index(&q, 40);
    let c = circuit(&q, &index, 8, Visibility::default(), &test_inputs()[0]);
    let honest = c.instances().expect("witness");
    for row in [
        AttributionRows::MODEL_ID,
        AttributionRows::ADAPTER_ID,
        AttributionRows::INPUT_COMMITMENT,
        AttributionRows::CLASS,
        AttributionRows::INDEX_ROOT,
        AttributionRows::contributor(0),
        AttributionRows::contributor(7),
        AttributionRows::score(2),
    ] {
        let mut inst = honest.clone();
        inst[row] += Fr::ONE;
        let f = mock(&c, inst).expect_err("changed instance must be rejected");
        assert!(has_permutation(&f), "row {row}: {f:?}");
    }
}

/// A LoRA-adapted model proves like any other and publishes its base model's id and its
/// adapter's id; claiming the base model (adapter 0) or another base for its proof is rejected.
#[test]
fn adapted_model_publishes_base_model_and_adapter_ids() {
    let (base, adapted) = poa_fixtures::compile_adapted();
    let index = run_index(&adapted, 24);
    check_agrees(
        &adapted,
        &index,
        4,
        Visibility::default(),
        &test_inputs()[3],
    );
    let c = circuit(
        &adapted,
        &index,
        4,
        Visibility::default(),
        &test_inputs()[3],
    );
    let honest = c.instances().expect("witness");
    let public = AttributionPublic::decode(&honest, 4).expect("header");
    assert_eq!(public.model_id, model_id(&base), "the base model's id");
    assert_eq!(public.adapter_id, adapter_id(&adapted));
    assert_ne!(public.adapter_id, Fr::ZERO);
    assert_eq!(adapter_id(&base), Fr::ZERO);
    for (row, claimed) in [
        (AttributionRows::ADAPTER_ID, Fr::ZERO),
        (
            AttributionRows::MODEL_ID,
            model_id_of_digest(adapted.digest()).expect("digest"),
        ),
    ] {
        let mut inst = honest.clone();
        inst[row] = claimed;
        let f = mock(&c, inst).expect_err("another model's ids must be rejected");
        assert!(has_permutation(&f), "row {row}: {f:?}");
    }
}

#[test]
fn bad_setups_are_clear_errors() {
    let q = compile("mlp_small");
    let index = run_index(&q, 5);
    let e = AttributionSetup::new(&q, index.clone(), 6, IndexVisibility::Fixed)
        .expect_err("k > entries");
    assert!(e.to_string().contains("k = 6"), "{e}");
    let other = compile("mlp_deep");
    let e = AttributionSetup::new(&other, index.clone(), 2, IndexVisibility::Fixed)
        .expect_err("index of another model");
    assert!(e.to_string().contains("attribution"), "{e}");
    let setup = AttributionSetup::new(&q, index, 2, IndexVisibility::Fixed).expect("setup");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let e = ModelCircuit::new(&q, Some(&trace), Visibility::default())
        .expect("builds")
        .with_attribution(setup, None)
        .expect_err("a proof needs its request");
    assert!(e.to_string().contains("request"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random indexes with many ties (embeddings from a few values, labels from few classes):
    /// MockProver accepts and publishes the runtime's top-k, ties to the lower index.
    #[test]
    fn random_indexes_agree_with_the_runtime(
        n in 2usize..24,
        k_frac in 0.0f64..1.0,
        seed in any::<u64>(),
        input in 0usize..20,
    ) {
        let q = compile("mlp_small");
        let d: usize = q.tensors[q.embedding].shape.iter().product();
        let bound = q.tensors[q.embedding].bound;
        let mut s = seed;
        let mut next = move |m: u64| { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (s >> 33) % m };
        let entries = (0..n).map(|_| IndexEntry {
            contributor: Address([next(4) as u8; 20]),
            label: next(2) as u32,
            embedding: (0..d).map(|_| [0, 1, -1, bound, -bound][next(5) as usize]).collect(),
        }).collect();
        let index = index_of(&q, entries);
        let k = 1 + ((n - 1) as f64 * k_frac) as usize;
        check_agrees(&q, &index, k, Visibility::default(), &test_inputs()[input]);
    }
}

/// Equal scores everywhere: the runtime publishes the k lowest indices, and the same scores
/// with the tie broken towards a higher index are rejected.
#[test]
fn ties_must_go_to_the_lower_index() {
    let q = compile("mlp_small");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let class = poa_runtime::attribution::predicted_class(&q, &trace);
    let entries = (0..12)
        .map(|i| IndexEntry {
            contributor: Address([i as u8 + 1; 20]),
            label: class,
            embedding: trace.embedding().data.clone(),
        })
        .collect();
    let index = index_of(&q, entries);
    check_agrees(&q, &index, 4, Visibility::default(), &test_inputs()[0]);
    let mut c = circuit(&q, &index, 4, Visibility::default(), &test_inputs()[0]);
    let instances = c.instances().expect("witness");
    c.tamper = Some(Tamper::TopKSet);
    let f = mock(&c, instances).expect_err("a tie broken upwards must be rejected");
    assert!(has_lookup(&f, "range check limb"), "{f:?}");
}

fn has_poseidon_gate(failures: &[VerifyFailure]) -> bool {
    failures.iter().any(|f| {
        matches!(f, VerifyFailure::ConstraintNotSatisfied { constraint, .. }
            if constraint.to_string().contains("poseidon"))
    })
}

/// A hashed index: accepted with the runtime's attribution and its root public; the root, the
/// leaves and every entry are bound.
#[test]
fn hashed_index_publishes_its_root_and_binds_every_entry() {
    let q = compile("mlp_small");
    let index = run_index(&q, 6);
    let hashed = IndexVisibility::Hashed;
    for input in [0, 3] {
        check_agrees_with(
            &q,
            &index,
            3,
            Visibility::default(),
            hashed,
            &test_inputs()[input],
        );
    }
    let c = circuit_with(
        &q,
        &index,
        3,
        Visibility::default(),
        hashed,
        &test_inputs()[0],
    );
    let honest = c.instances().expect("witness");
    assert_eq!(honest[AttributionRows::INDEX_ROOT], index_root(&index));

    let mut inst = honest.clone();
    inst[AttributionRows::INDEX_ROOT] += Fr::ONE;
    let f = mock(&c, inst).expect_err("another root");
    assert!(has_permutation(&f), "{f:?}");

    let mut tampered = c.clone();
    tampered.tamper = Some(Tamper::IndexLeaf);
    let f = mock(&tampered, honest.clone()).expect_err("tampered leaf digest");
    assert!(has_poseidon_gate(&f), "{f:?}");
    tampered.tamper = Some(Tamper::IndexDot);
    let f = mock(&tampered, honest.clone()).expect_err("tampered dot product");
    assert!(has_gate(&f, "dot accumulate"), "{f:?}");

    // Another index (one embedding value changed) proven against the original root.
    let mut changed = (*index).clone();
    changed.entries[4].embedding[0] += 1;
    let other = circuit_with(
        &q,
        &Arc::new(changed),
        3,
        Visibility::default(),
        hashed,
        &test_inputs()[0],
    );
    let mut inst = other.instances().expect("witness");
    inst[AttributionRows::INDEX_ROOT] = honest[AttributionRows::INDEX_ROOT];
    let f = mock(&other, inst).expect_err("the root binds every entry");
    assert!(has_permutation(&f), "{f:?}");
}

/// A hashed index's embedding value pushed out of its packing slot, with the next value lowered
/// to compensate (so the packed element, the leaf and the root stay the same while the dot
/// product changes), is rejected by the slot's range check.
#[test]
fn hashed_index_values_are_range_checked() {
    let q = compile("mlp_small");
    let index = run_index(&q, 4);
    let mut c = circuit_with(
        &q,
        &index,
        2,
        Visibility::default(),
        IndexVisibility::Hashed,
        &test_inputs()[0],
    );
    let honest = c.instances().expect("witness");
    c.tamper = Some(Tamper::IndexSlotOverflow {
        entry: 1,
        element: 2,
    });
    let f = mock(&c, honest).expect_err("out-of-slot embedding value");
    assert!(has_lookup(&f, "range check limb"), "{f:?}");
    assert!(
        !has_permutation(&f),
        "same packing, same root: only the range check objects: {f:?}"
    );
}

#[test]
fn model_id_of_digest_rejects_what_is_not_a_digest() {
    let ok = "ab".repeat(32);
    assert!(model_id_of_digest(&ok).is_some());
    assert_eq!(model_id_of_digest(&ok[..62]), None, "short");
    assert_eq!(model_id_of_digest(&format!("{ok}00")), None, "long");
    assert_eq!(
        model_id_of_digest(&format!("{}zz", &ok[..62])),
        None,
        "not hex at the end"
    );
    assert_eq!(
        model_id_of_digest(&format!("g{}", &ok[1..])),
        None,
        "not hex"
    );
}
