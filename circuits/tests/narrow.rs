//! The narrow (one advice column) layout: same public instances as the wide layout for the same
//! run, MockProver accepts honest runs, and every forged part of the witness — a remainder out of
//! range, a flipped Relu sign, a wrong class, a slot that is not in the top k, out of order, with
//! a wrong score or contributor, an extra selected entry — and a tampered public instance are
//! rejected.

mod common;

use common::{compile, test_inputs};
use halo2_proofs::dev::VerifyFailure;
use poa_circuits::narrow::NarrowTamper;
use poa_circuits::{
    public_instances, AttributionRows, AttributionSetup, CircuitError, Fr, IndexVisibility,
    InputVisibility, ModelCircuit, NarrowCircuit, Request, Statement, Visibility, WeightVisibility,
};
use poa_fixtures::run_index;
use poa_runtime::datanet::Address;
use poa_runtime::QModel;

fn request() -> Request {
    Request {
        nonce: Fr::from(42),
        prover: Address([0x77; 20]),
    }
}

fn mock(c: &NarrowCircuit, instances: Vec<Fr>) -> Result<(), Vec<VerifyFailure>> {
    common::mock_at(c.k(), c.circuit(), instances)
}

fn setup(q: &QModel, n: usize, k: usize) -> AttributionSetup {
    AttributionSetup::new(q, run_index(q, n), k, IndexVisibility::Fixed).expect("setup")
}

#[test]
fn inference_publishes_the_wide_layouts_instances_and_is_accepted() {
    for name in ["mlp_small", "mlp_argmax", "mlp_deep", "cnn_small"] {
        let q = compile(name);
        for input in [InputVisibility::Public, InputVisibility::Private] {
            let vis = Visibility {
                input,
                ..Visibility::default()
            };
            let trace = q.run(&test_inputs()[1]).expect("runs");
            let c = NarrowCircuit::mock(&q, &trace, vis, Statement::Inference).expect("lays out");
            let wide = ModelCircuit::new(&q, Some(&trace), vis).expect("wide");
            assert_eq!(c.instances(), public_instances(&q, &trace, &vis).as_slice());
            assert_eq!(Some(c.instances().to_vec()), wide.instances());
            mock(&c, c.instances().to_vec()).expect("MockProver accepts");
        }
    }
}

#[test]
fn attribution_publishes_the_wide_layouts_instances_and_is_accepted() {
    for name in ["mlp_small", "mlp_argmax"] {
        let q = compile(name);
        for (n, k) in [(40, 8), (17, 3)] {
            let setup = setup(&q, n, k);
            for input in test_inputs().iter().take(2) {
                let trace = q.run(input).expect("runs");
                let vis = Visibility::default();
                let statement = Statement::Attribution {
                    setup: &setup,
                    request: request(),
                };
                let c = NarrowCircuit::mock(&q, &trace, vis, statement).expect("lays out");
                let wide = ModelCircuit::new(&q, Some(&trace), vis)
                    .expect("wide")
                    .with_attribution(setup.clone(), Some(request()))
                    .expect("wide attribution");
                assert_eq!(
                    Some(c.instances().to_vec()),
                    wide.instances(),
                    "{name} n={n}"
                );
                mock(&c, c.instances().to_vec()).expect("MockProver accepts");
            }
        }
    }
}

/// Every forgery is rejected, by a gate, a range lookup or a copy constraint.
#[test]
fn forged_witnesses_are_rejected() {
    let q = compile("mlp_small");
    let setup = setup(&q, 24, 4);
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let statement = Statement::Attribution {
        setup: &setup,
        request: request(),
    };
    for tamper in [
        NarrowTamper::Remainder,
        NarrowTamper::ReluSign,
        NarrowTamper::ClassOff,
        NarrowTamper::SlotScore,
        NarrowTamper::SlotContributor,
        NarrowTamper::SlotNotTop,
        NarrowTamper::SlotsSwapped,
        NarrowTamper::ExtraSelected,
    ] {
        let c = NarrowCircuit::mock_tampered(
            &q,
            &trace,
            Visibility::default(),
            statement,
            tamper,
            None,
        )
        .expect("lays out");
        let failures = mock(&c, c.instances().to_vec()).expect_err(&format!("{tamper:?}"));
        assert!(
            failures.iter().all(|f| matches!(
                f,
                VerifyFailure::ConstraintNotSatisfied { .. }
                    | VerifyFailure::Lookup { .. }
                    | VerifyFailure::Permutation { .. }
            )),
            "{tamper:?}: {failures:?}"
        );
    }
    // The class forgery also hits a model whose last op is ArgMax (the op's own check).
    let q = compile("mlp_argmax");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let c = NarrowCircuit::mock_tampered(
        &q,
        &trace,
        Visibility::default(),
        Statement::Inference,
        NarrowTamper::ClassOff,
        None,
    )
    .expect("lays out");
    mock(&c, c.instances().to_vec()).expect_err("wrong argmax");
}

#[test]
fn tampered_public_instances_are_rejected() {
    let q = compile("mlp_small");
    let setup = setup(&q, 24, 4);
    let trace = q.run(&test_inputs()[2]).expect("runs");
    let statement = Statement::Attribution {
        setup: &setup,
        request: request(),
    };
    let c = NarrowCircuit::mock(&q, &trace, Visibility::default(), statement).expect("lays out");
    for row in [
        AttributionRows::MODEL_ID,
        AttributionRows::CLASS,
        AttributionRows::INDEX_ROOT,
        AttributionRows::contributor(1),
        AttributionRows::score(0),
        AttributionRows { k: 4 }.len() + 3, // an input value
    ] {
        let mut bad = c.instances().to_vec();
        bad[row] += Fr::one();
        let failures = mock(&c, bad).expect_err(&format!("row {row}"));
        assert!(
            failures
                .iter()
                .any(|f| matches!(f, VerifyFailure::Permutation { .. })),
            "row {row}: {failures:?}"
        );
    }
}

#[test]
fn what_the_narrow_layout_cannot_lay_out_is_a_clear_error() {
    // ops_zoo has every op; the first the narrow layout lacks (a pool or a table op) is named.
    let q = compile("ops_zoo");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let e = NarrowCircuit::mock(&q, &trace, Visibility::default(), Statement::Inference)
        .err()
        .expect("ops_zoo is refused");
    assert!(matches!(e, CircuitError::UnsupportedOp { .. }), "{e}");
    assert!(e.to_string().contains("wide layout"), "{e}");
    assert!(e.to_string().contains("narrow"), "{e}");

    let q = compile("mlp_small");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    for vis in [
        Visibility {
            weights: WeightVisibility::Hashed,
            ..Visibility::default()
        },
        Visibility {
            input: InputVisibility::Hashed,
            ..Visibility::default()
        },
    ] {
        let e = NarrowCircuit::mock(&q, &trace, vis, Statement::Inference)
            .err()
            .expect("refused");
        assert!(e.to_string().contains("wide"), "{e}");
    }
    let other = compile("mlp_deep").run(&test_inputs()[0]).expect("runs");
    let e = NarrowCircuit::mock(&q, &other, Visibility::default(), Statement::Inference)
        .err()
        .expect("another model's trace");
    assert!(matches!(e, CircuitError::TraceMismatch { .. }), "{e}");
}

/// Rows track the work: the narrow circuit of a deeper model is larger, and its k is the
/// smallest that holds its cells.
#[test]
fn k_is_the_smallest_that_fits() {
    let sizes: Vec<(u32, usize)> = ["mlp_small", "mlp_deep"]
        .iter()
        .map(|name| {
            let q = compile(name);
            let trace = q.run(&test_inputs()[0]).expect("runs");
            let c = NarrowCircuit::mock(&q, &trace, Visibility::default(), Statement::Inference)
                .expect("lays out");
            assert!(c.advice_cells() < 1 << c.k(), "{name}");
            assert!(
                c.advice_cells() + 10 > 1 << (c.k() - 1),
                "{name}: k too large"
            );
            (c.k(), c.advice_cells())
        })
        .collect();
    assert!(sizes[1].1 > 3 * sizes[0].1, "{sizes:?}");
}

/// Below the one-column k the same cells spread over more advice columns: fewer rows, the same
/// instances, still accepted, and a forged witness still rejected; a k outside the range that
/// can hold the circuit is refused by name.
#[test]
fn a_smaller_k_spreads_the_circuit_over_more_columns() {
    let q = compile("mlp_small");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let setup = setup(&q, 40, 8);
    let statement = Statement::Attribution {
        setup: &setup,
        request: request(),
    };
    let vis = Visibility::default();
    let one = NarrowCircuit::mock(&q, &trace, vis, statement).expect("lays out");
    assert_eq!(one.columns().advice, 1);
    for drop in [1, 2] {
        let k = one.k() - drop;
        let c = NarrowCircuit::mock_at(&q, &trace, vis, statement, Some(k)).expect("lays out");
        assert_eq!(c.k(), k);
        assert!(c.columns().advice > 1, "k {k}: {:?}", c.columns());
        assert_eq!(c.instances(), one.instances());
        mock(&c, c.instances().to_vec()).expect("MockProver accepts");
        for tamper in [NarrowTamper::Remainder, NarrowTamper::SlotNotTop] {
            let t = NarrowCircuit::mock_tampered(&q, &trace, vis, statement, tamper, Some(k))
                .expect("lays out");
            mock(&t, t.instances().to_vec()).expect_err(&format!("k {k}: {tamper:?}"));
        }
    }
    for k in [one.k() + 1, 8] {
        let e = NarrowCircuit::mock_at(&q, &trace, vis, statement, Some(k))
            .err()
            .expect("refused");
        assert!(matches!(e, CircuitError::UnsupportedShape { .. }), "{e}");
        assert!(
            e.to_string().contains(&format!("k = {k} is outside")),
            "{e}"
        );
    }
}

/// The input check is two-sided and exact: on a model that only reshapes its input (so nothing
/// downstream can fail), a private input at ±B is accepted, and one past the bound — including
/// the largest value the one-sided `x + B ∈ [0, 2^b)` check let through — is rejected.
#[test]
fn input_past_its_bound_is_rejected() {
    use poa_runtime::graph::GraphBuilder;
    use poa_runtime::ops::Op;
    use poa_runtime::{Tensor, TensorInfo};
    let bound = 16i64;
    let input = TensorInfo {
        name: "x".into(),
        shape: vec![1, 4],
        scale: 0,
        bound,
    };
    let mut g = GraphBuilder::new("identity".into(), input, bound as f64);
    g.push("flat".into(), Op::Reshape { shape: vec![1, 4] }, vec![0], 0)
        .expect("the runtime accepts it");
    let q = g.finish();
    let trace = q
        .run_quantized(Tensor::new(vec![1, 4], vec![3, -2, 0, 1]))
        .expect("runs");
    let vis = Visibility {
        input: InputVisibility::Private,
        ..Visibility::default()
    };
    let forged = |v: i64| {
        let c = NarrowCircuit::mock_tampered(
            &q,
            &trace,
            vis,
            Statement::Inference,
            NarrowTamper::Input(v),
            None,
        )
        .expect("lays out");
        mock(&c, c.instances().to_vec())
    };
    for v in [-bound, bound] {
        forged(v).unwrap_or_else(|e| panic!("{v} is in range: {e:?}"));
    }
    // 2^bits(2B) − 1 − B: what `x + B ∈ [0, 2^6)` alone accepted.
    for v in [bound + 1, -bound - 1, 63 - bound] {
        let failures = forged(v).expect_err("past the bound");
        assert!(
            failures
                .iter()
                .any(|f| matches!(f, VerifyFailure::Lookup { .. })),
            "{v}: {failures:?}"
        );
    }
}
