//! The dense layout: same public instances as the wide layout for the same run, MockProver
//! accepts honest runs of every fixture it supports, and each forged part of the witness — a
//! product, a remainder out of range, a flipped Relu sign, a wrong class, an input outside its
//! bound — and a tampered public instance are rejected, naming the failing constraint.

mod common;

use common::{compile, has_gate, has_lookup, has_permutation, mock_at, test_inputs};
use halo2_proofs::dev::VerifyFailure;
use poa_circuits::{
    public_instances, DenseCircuit, DenseTamper, Fr, InputVisibility, ModelCircuit, Visibility,
};

fn mock(c: &DenseCircuit, instances: Vec<Fr>) -> Result<(), Vec<VerifyFailure>> {
    mock_at(c.k(), c.circuit(), instances)
}

#[test]
fn fixtures_publish_the_wide_layouts_instances_and_are_accepted() {
    for name in ["mlp_small", "mlp_argmax", "mlp_deep", "cnn_small"] {
        let q = compile(name);
        for input in [InputVisibility::Public, InputVisibility::Private] {
            let vis = Visibility {
                input,
                ..Visibility::default()
            };
            let trace = q.run(&test_inputs()[1]).expect("runs");
            let c = DenseCircuit::prover(&q, &trace, vis).expect("lays out");
            let wide = ModelCircuit::new(&q, Some(&trace), vis).expect("wide");
            assert_eq!(c.instances(), public_instances(&q, &trace, &vis).as_slice());
            assert_eq!(Some(c.instances().to_vec()), wide.instances());
            // The small MLPs fit 2^10 rows, the CNN 2^11 (rows track the MACs).
            let k = if name == "mlp_deep" {
                12
            } else if name == "cnn_small" {
                11
            } else {
                10
            };
            assert_eq!(c.k(), k, "{name}: {} rows", c.rows());
            println!("{name} ({input:?} input): {} rows, k {}", c.rows(), c.k());
            mock(&c, c.instances().to_vec()).expect("MockProver accepts");
        }
    }
}

fn tampered(name: &str, tamper: DenseTamper) -> Vec<VerifyFailure> {
    let q = compile(name);
    let trace = q.run(&test_inputs()[1]).expect("runs");
    let c =
        DenseCircuit::mock_tampered(&q, &trace, Visibility::default(), tamper).expect("lays out");
    mock(&c, c.instances().to_vec()).expect_err("forgery rejected")
}

const GATE: &str = "dense row";
const LOOKUP: &str = "r in [0, 256)";

#[test]
fn a_wrong_product_fails_its_row() {
    let f = tampered("mlp_small", DenseTamper::Product);
    assert!(has_gate(&f, GATE), "{f:#?}");
}

#[test]
fn a_remainder_out_of_range_fails_the_limb_lookup() {
    let f = tampered("mlp_small", DenseTamper::Remainder);
    assert!(has_lookup(&f, LOOKUP), "{f:#?}");
}

#[test]
fn a_flipped_relu_sign_fails_its_range_check() {
    let f = tampered("mlp_small", DenseTamper::ReluSign);
    assert!(has_gate(&f, GATE), "{f:#?}");
}

#[test]
fn a_wrong_class_fails_the_argmax_checks() {
    let f = tampered("mlp_argmax", DenseTamper::ClassOff);
    assert!(has_gate(&f, GATE), "{f:#?}");
}

/// Rows where the dense gate fails.
fn failing_rows(failures: &[VerifyFailure]) -> Vec<usize> {
    use halo2_proofs::dev::FailureLocation;
    failures
        .iter()
        .filter_map(|f| match f {
            VerifyFailure::ConstraintNotSatisfied {
                constraint,
                location,
                ..
            } if constraint.to_string().ends_with(&format!("('{GATE}')")) => match location {
                FailureLocation::InRegion { offset, .. } => Some(*offset),
                FailureLocation::OutsideRegion { row } => Some(*row),
            },
            _ => None,
        })
        .collect()
}

/// An input just above its bound, and one the one-sided check used to admit (`v + B` just under
/// its whole limbs), fail the last row of the input's check and nothing before it; the bound
/// itself passes at both ends. With `2B = 256^(m−1)` (the fixture's bound raised to 128) that
/// row is `h·(v + B − 2B) = 0` (row `m − 1`), else the last row of `B − v ≥ 0` (row `2m − 1`).
#[test]
fn an_input_above_its_bound_fails_the_upper_check() {
    for bound in [None, Some(128)] {
        let mut q = compile("mlp_small");
        if let Some(b) = bound {
            q.tensors[0].bound = b;
        }
        let b = q.input().bound;
        let bits = 64 - (2 * b as u64).leading_zeros();
        let m = bits.div_ceil(8) as usize;
        let last = if 2 * b == 1 << (8 * (m - 1)) {
            m - 1
        } else {
            2 * m - 1
        };
        let trace = q.run(&test_inputs()[1]).expect("runs");
        let forged = |v: i64| {
            let vis = Visibility::default();
            let c = DenseCircuit::mock_tampered(&q, &trace, vis, DenseTamper::Input(v))
                .expect("lays out");
            failing_rows(&mock(&c, c.instances().to_vec()).err().unwrap_or_default())
        };
        for v in [b + 1, (1i64 << (8 * m)) - b - 1] {
            let rows = forged(v);
            assert!(rows.contains(&last), "B = {b}, v = {v}: {rows:?}");
            assert!(
                rows.iter().all(|&r| r >= last),
                "B = {b}, v = {v}: {rows:?}"
            );
        }
        for v in [-b, b] {
            let rows = forged(v);
            assert!(rows.iter().all(|&r| r > last), "B = {b}, v = {v}: {rows:?}");
        }
        let c = DenseCircuit::prover(&q, &trace, Visibility::default()).expect("lays out");
        println!("B = {b}: {} rows", c.rows());
        mock(&c, c.instances().to_vec()).expect("honest run accepted");
    }
}

#[test]
fn a_tampered_public_instance_is_rejected() {
    let q = compile("mlp_small");
    let trace = q.run(&test_inputs()[1]).expect("runs");
    let c = DenseCircuit::prover(&q, &trace, Visibility::default()).expect("lays out");
    let n = c.instances().len();
    for i in [0, n - 1] {
        let mut bad = c.instances().to_vec();
        bad[i] += Fr::one();
        let f = mock(&c, bad).expect_err("tampered instance rejected");
        assert!(has_permutation(&f), "instance {i}: {f:#?}");
    }
}

#[test]
fn hashed_weights_and_unsupported_ops_are_refused_by_name() {
    let q = compile("mlp_small");
    let trace = q.run(&test_inputs()[1]).expect("runs");
    let vis = Visibility {
        weights: poa_circuits::WeightVisibility::Hashed,
        ..Visibility::default()
    };
    let e = DenseCircuit::prover(&q, &trace, vis)
        .expect_err("refused")
        .to_string();
    assert!(e.contains("dense layout") && e.contains("wide"), "{e}");
    let zoo = compile("ops_zoo");
    let t = zoo.run(&test_inputs()[1]).expect("runs");
    let e = DenseCircuit::prover(&zoo, &t, Visibility::default())
        .expect_err("refused")
        .to_string();
    assert!(e.contains("dense layout"), "{e}");
}
