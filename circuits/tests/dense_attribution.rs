//! Top-k attribution in the dense layout: the public instances are the narrow/wide layouts'
//! (and the runtime's `attribute`), MockProver accepts honest runs, and each forged part — an
//! entry's dot product, a masked query (the class indicator product), an extra selection bit, a
//! too-low threshold (k + 1 selected), slots out of order or duplicated, a slot that is not an
//! entry, a wrong class, a tampered public instance — is rejected by the constraint that guards
//! it.

mod common;

use std::sync::Arc;

use common::{compile, has_gate, has_lookup, has_permutation, mock_at, test_inputs};
use halo2_proofs::dev::VerifyFailure;
use poa_circuits::attribution::address_fe;
use poa_circuits::dense::SLOT_LOOKUP;
use poa_circuits::field::fe128;
use poa_circuits::{
    AttributionPublic, AttributionRows, AttributionSetup, DenseCircuit, DenseTamper, Fr,
    IndexVisibility, InputVisibility, ModelCircuit, Request, Statement, Visibility,
};
use poa_fixtures::{index_of, run_index};
use poa_runtime::attribution::{attribute, AttributionIndex, IndexEntry};
use poa_runtime::datanet::Address;
use poa_runtime::graph::GraphBuilder;
use poa_runtime::ops::{Gemm, Op};
use poa_runtime::{QModel, Tensor, TensorInfo};
use proptest::prelude::*;

const GATE: &str = "dense row";
const RANGE: &str = "r in [0, 256)";

fn request() -> Request {
    Request {
        nonce: Fr::from(42),
        prover: Address([0x77; 20]),
    }
}

fn setup_of(q: &QModel, index: Arc<AttributionIndex>, k: usize) -> AttributionSetup {
    AttributionSetup::new(q, index, k, IndexVisibility::Fixed).expect("setup")
}

fn mock(c: &DenseCircuit, instances: Vec<Fr>) -> Result<(), Vec<VerifyFailure>> {
    mock_at(c.k(), c.circuit(), instances)
}

/// The dense attribution circuit's header equals the runtime's `attribute`.
fn assert_header_is_the_runtimes(
    q: &QModel,
    index: &AttributionIndex,
    k: usize,
    input: &[f32],
    c: &DenseCircuit,
) {
    let native = attribute(q, index, input, k).expect("attributes");
    let header = AttributionPublic::decode(c.instances(), k).expect("header");
    assert_eq!(header.class, Fr::from(u64::from(native.predicted_class)));
    let top: Vec<(Fr, Fr)> = native
        .top
        .iter()
        .map(|a| (address_fe(&a.contributor), fe128(a.score)))
        .collect();
    assert_eq!(header.top, top);
}

#[test]
fn honest_attribution_is_accepted_and_publishes_the_native_instances() {
    let q = compile("mlp_small");
    let index = run_index(&q, 40);
    for k in [1, 8] {
        let setup = setup_of(&q, index.clone(), k);
        for input in [
            InputVisibility::Public,
            InputVisibility::Private,
            InputVisibility::Hashed,
        ] {
            let vis = Visibility {
                input,
                ..Visibility::default()
            };
            for x in test_inputs().iter().take(2) {
                let trace = q.run(x).expect("runs");
                let statement = Statement::Attribution {
                    setup: &setup,
                    request: request(),
                };
                let c =
                    DenseCircuit::prover_statement(&q, &trace, vis, statement).expect("lays out");
                assert!(c.params().attribution);
                let wide = ModelCircuit::new(&q, Some(&trace), vis)
                    .expect("wide")
                    .with_attribution(setup.clone(), Some(request()))
                    .expect("wide attribution");
                assert_eq!(Some(c.instances().to_vec()), wide.instances(), "k={k}");
                assert_header_is_the_runtimes(&q, &index, k, x, &c);
                mock(&c, c.instances().to_vec()).expect("MockProver accepts");
            }
        }
    }
}

/// A hashed input's commitment is the header's row 2 (the row a request binds on-chain); a proof
/// claiming another commitment there is rejected.
#[test]
fn a_hashed_input_binds_header_row_2() {
    let q = compile("mlp_small");
    let setup = setup_of(&q, run_index(&q, 12), 4);
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let vis = Visibility {
        input: InputVisibility::Hashed,
        ..Visibility::default()
    };
    let statement = Statement::Attribution {
        setup: &setup,
        request: request(),
    };
    let c = DenseCircuit::prover_statement(&q, &trace, vis, statement).expect("lays out");
    let row = AttributionRows::INPUT_COMMITMENT;
    assert_eq!(
        c.instances()[row],
        poa_circuits::commit::input_commitment(&q, &trace.input().data)
    );
    let other = q.run(&test_inputs()[1]).expect("runs");
    let mut bad = c.instances().to_vec();
    bad[row] = poa_circuits::commit::input_commitment(&q, &other.input().data);
    let f = mock(&c, bad).expect_err("another input's commitment");
    assert!(has_permutation(&f), "{f:#?}");
}

#[test]
fn a_model_ending_in_argmax_uses_its_own_indicator() {
    let q = compile("mlp_argmax");
    let index = run_index(&q, 17);
    let setup = setup_of(&q, index.clone(), 3);
    let x = &test_inputs()[0];
    let trace = q.run(x).expect("runs");
    let statement = Statement::Attribution {
        setup: &setup,
        request: request(),
    };
    let c = DenseCircuit::prover_statement(&q, &trace, Visibility::default(), statement)
        .expect("lays out");
    assert_header_is_the_runtimes(&q, &index, 3, x, &c);
    mock(&c, c.instances().to_vec()).expect("MockProver accepts");
}

#[test]
fn inference_circuits_keep_their_configuration() {
    let q = compile("mlp_small");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let c = DenseCircuit::prover(&q, &trace, Visibility::default()).expect("lays out");
    assert!(!c.params().attribution);
    let mut cs = halo2_proofs::plonk::ConstraintSystem::<Fr>::default();
    poa_circuits::dense::DenseConfig::configure(&mut cs, c.params());
    assert_eq!(
        (
            cs.num_advice_columns(),
            cs.num_fixed_columns(),
            cs.lookups().len()
        ),
        (7, 11, 1)
    );
    let mut cs = halo2_proofs::plonk::ConstraintSystem::<Fr>::default();
    poa_circuits::dense::DenseConfig::configure(
        &mut cs,
        poa_circuits::dense::DenseParams {
            attribution: true,
            tables: false,
        },
    );
    assert_eq!(
        (
            cs.num_advice_columns(),
            cs.num_fixed_columns(),
            cs.lookups().len()
        ),
        (8, 16, 2)
    );
    // Degree 5: the extended domain is as large as an inference circuit's (4n).
    assert_eq!(cs.degree(), 5);
}

fn tampered(q: &QModel, n: usize, k: usize, tamper: DenseTamper) -> Vec<VerifyFailure> {
    let setup = setup_of(q, run_index(q, n), k);
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let statement = Statement::Attribution {
        setup: &setup,
        request: request(),
    };
    let c =
        DenseCircuit::mock_tampered_statement(q, &trace, Visibility::default(), statement, tamper)
            .expect("lays out");
    mock(&c, c.instances().to_vec()).expect_err(&format!("{tamper:?} rejected"))
}

#[test]
fn a_forged_entry_dot_product_fails_its_row() {
    let f = tampered(&compile("mlp_small"), 24, 4, DenseTamper::AttrDot);
    assert!(has_gate(&f, GATE), "{f:#?}");
}

#[test]
fn a_forged_indicator_product_fails_its_row() {
    let f = tampered(&compile("mlp_small"), 24, 4, DenseTamper::AttrMask);
    assert!(has_gate(&f, GATE), "{f:#?}");
}

#[test]
fn an_extra_selected_entry_fails_its_threshold_check_and_the_count() {
    let f = tampered(&compile("mlp_small"), 24, 4, DenseTamper::ExtraSelected);
    assert!(has_gate(&f, GATE), "{f:#?}");
}

#[test]
fn a_too_low_threshold_selects_k_plus_one_and_fails_the_count() {
    // τ from the (k+1)-th entry, every selection bit consistent with it: only Σ sel = k fails
    // (the slot itself is a real entry, so membership holds).
    let f = tampered(&compile("mlp_small"), 24, 4, DenseTamper::SlotNotTop);
    assert!(has_gate(&f, GATE), "{f:#?}");
    assert!(!has_lookup(&f, SLOT_LOOKUP), "{f:#?}");
}

#[test]
fn slots_out_of_order_or_duplicated_fail_the_gap_check() {
    for tamper in [DenseTamper::SlotsSwapped, DenseTamper::SlotDuplicated] {
        let f = tampered(&compile("mlp_small"), 24, 4, tamper);
        assert!(
            has_gate(&f, GATE) || has_lookup(&f, RANGE),
            "{tamper:?}: {f:#?}"
        );
    }
}

#[test]
fn a_slot_that_is_no_entry_fails_membership() {
    for tamper in [DenseTamper::SlotScore, DenseTamper::SlotContributor] {
        let f = tampered(&compile("mlp_small"), 24, 4, tamper);
        assert!(has_lookup(&f, SLOT_LOOKUP), "{tamper:?}: {f:#?}");
    }
}

/// With k = n every entry is selected, so a slot off the index (index M − 1, score 0,
/// contributor 0: w = 0, which every row off the entry table holds) would set τ = 0 and erase a
/// real contributor. The slot's index is checked below n, so it fails there — not at the
/// membership lookup, which 0 passes.
#[test]
fn a_phantom_slot_fails_its_index_check_when_k_is_n() {
    let n = 12;
    let f = tampered(&compile("mlp_small"), n, n, DenseTamper::PhantomSlot);
    assert!(!has_lookup(&f, SLOT_LOOKUP), "{f:#?}");
    assert!(has_gate(&f, GATE) || has_lookup(&f, RANGE), "{f:#?}");
}

#[test]
fn a_wrong_class_fails_the_argmax_checks() {
    let f = tampered(&compile("mlp_small"), 24, 4, DenseTamper::ClassOff);
    assert!(has_gate(&f, GATE), "{f:#?}");
}

#[test]
fn tampered_public_instances_are_rejected() {
    let q = compile("mlp_small");
    let setup = setup_of(&q, run_index(&q, 24), 4);
    let trace = q.run(&test_inputs()[2]).expect("runs");
    let statement = Statement::Attribution {
        setup: &setup,
        request: request(),
    };
    let c = DenseCircuit::prover_statement(&q, &trace, Visibility::default(), statement)
        .expect("lays out");
    for row in [
        AttributionRows::MODEL_ID,
        AttributionRows::ADAPTER_ID,
        AttributionRows::INPUT_COMMITMENT,
        AttributionRows::CLASS,
        AttributionRows::INDEX_ROOT,
        AttributionRows::NONCE,
        AttributionRows::PROVER,
        AttributionRows::contributor(1),
        AttributionRows::score(0),
        AttributionRows { k: 4 }.len() + 3,
    ] {
        let mut bad = c.instances().to_vec();
        bad[row] += Fr::one();
        let f = mock(&c, bad).expect_err(&format!("row {row}"));
        assert!(has_permutation(&f), "row {row}: {f:#?}");
    }
}

#[test]
fn a_hashed_index_is_refused_by_name() {
    let q = compile("mlp_small");
    let setup =
        AttributionSetup::new(&q, run_index(&q, 8), 2, IndexVisibility::Hashed).expect("setup");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let statement = Statement::Attribution {
        setup: &setup,
        request: request(),
    };
    let e = DenseCircuit::prover_statement(&q, &trace, Visibility::default(), statement)
        .expect_err("refused")
        .to_string();
    assert!(e.contains("dense layout") && e.contains("fixed"), "{e}");
}

/// Rows per entry and k for growing indexes (printed for the record).
#[test]
fn rows_grow_by_a_fixed_amount_per_entry() {
    let q = compile("mlp_small");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let rows = |n: usize| {
        let setup = setup_of(&q, run_index(&q, n), 8);
        let statement = Statement::Attribution {
            setup: &setup,
            request: request(),
        };
        let c = DenseCircuit::prover_statement(&q, &trace, Visibility::default(), statement)
            .expect("lays out");
        (c.rows(), c.k())
    };
    let (r100, k100) = rows(100);
    let (r200, _) = rows(200);
    let per_entry = (r200 - r100) as f64 / 100.0;
    eprintln!("mlp_small top-8: {r100} rows (k {k100}) at 100 entries, {per_entry} rows/entry");
    assert!(per_entry <= 15.0, "{per_entry} rows per entry");
    let (r1000, k1000) = rows(1000);
    let (r1437, k1437) = rows(1437);
    eprintln!("mlp_small top-8: {r1000} rows (k {k1000}) at 1,000; {r1437} (k {k1437}) at 1,437");
    assert_eq!((k100, k1000, k1437), (12, 15, 15));
}

/// Small random models' dense attribution equals the runtime's `attribute` and is accepted,
/// over random indexes with many equal scores (ties go to the lower index).
fn random_index(q: &QModel, seed: u64, n: usize) -> Arc<AttributionIndex> {
    let dim: usize = q.tensors[q.embedding].shape.iter().product();
    let classes = q.output_info().shape.last().copied().unwrap_or(2) as u64;
    let bound = q.tensors[q.embedding].bound;
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // A few distinct embeddings, repeated: equal scores are common.
    let protos: Vec<Vec<i64>> = (0..3)
        .map(|_| {
            (0..dim)
                .map(|_| (next() % (2 * bound as u64 + 1)) as i64 - bound)
                .collect()
        })
        .collect();
    let entries = (0..n)
        .map(|_| IndexEntry {
            contributor: Address([(next() % 4) as u8 + 1; 20]),
            label: (next() % classes) as u32,
            embedding: protos[(next() % 3) as usize].clone(),
        })
        .collect();
    index_of(q, entries)
}

/// Gemm → DivRound → Relu → Gemm → DivRound [→ ArgMax], the embedding the Relu's output.
fn random_mlp(n_in: usize, hidden: usize, out: usize, weights: &[i64], argmax: bool) -> QModel {
    let mut w = weights.iter().copied().cycle();
    let mut take = |n: usize| (0..n).map(|_| w.next().unwrap_or(1)).collect::<Vec<i64>>();
    let info = TensorInfo {
        name: "x".into(),
        shape: vec![1, n_in],
        scale: 4,
        bound: 64,
    };
    let mut g = GraphBuilder::new("prop".into(), info, 4.0);
    let fc1 = Op::Gemm(Gemm {
        weight: Tensor::new(vec![hidden, n_in], take(hidden * n_in)),
        bias: take(hidden),
    });
    let t = g.push("fc1".into(), fc1, vec![0], 8).expect("fc1");
    let t = g
        .push("rescale1".into(), Op::DivRound { divisor: 16 }, vec![t], 4)
        .expect("rescale1");
    let t = g.push("relu".into(), Op::Relu, vec![t], 4).expect("relu");
    let fc2 = Op::Gemm(Gemm {
        weight: Tensor::new(vec![out, hidden], take(out * hidden)),
        bias: take(out),
    });
    let t = g.push("fc2".into(), fc2, vec![t], 8).expect("fc2");
    let t = g
        .push("rescale2".into(), Op::DivRound { divisor: 16 }, vec![t], 4)
        .expect("rescale2");
    if argmax {
        g.push("argmax".into(), Op::ArgMax { keepdims: false }, vec![t], 0)
            .expect("argmax");
    }
    g.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn random_models_and_indexes_agree_with_the_runtime(
        seed in any::<u64>(),
        (n_in, hidden, out) in (1usize..8, 1usize..8, 2usize..6),
        weights in prop::collection::vec(-32i64..=32, 16..64),
        argmax in any::<bool>(),
        n in 2usize..14,
        k_frac in 0.0f64..1.0,
        x in prop::collection::vec(-4.0f32..4.0, 8),
    ) {
        let q = random_mlp(n_in, hidden, out, &weights, argmax);
        let index = random_index(&q, seed, n);
        let k = 1 + ((n - 1) as f64 * k_frac) as usize;
        let setup = setup_of(&q, index.clone(), k);
        let x = &x[..n_in];
        let trace = q.run(x).expect("runs");
        let statement = Statement::Attribution { setup: &setup, request: request() };
        let c = DenseCircuit::prover_statement(&q, &trace, Visibility::default(), statement)
            .expect("lays out");
        assert_header_is_the_runtimes(&q, &index, k, x, &c);
        let res = mock(&c, c.instances().to_vec());
        prop_assert!(res.is_ok(), "{:#?}", res);
    }
}
