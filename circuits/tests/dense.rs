//! The dense layout: same public instances as the wide layout for the same run, MockProver
//! accepts honest runs of every fixture (ops_zoo's pools, constants and tables included), and
//! each forged part of the witness — a product, a remainder out of range, a flipped Relu sign, a
//! wrong class, an input outside its bound, a pool's sum or choice, a constant op's output, a
//! table's output, clamp or mirror bit — and a tampered public instance are rejected, naming the
//! failing constraint.

mod common;

use common::{compile, has_gate, has_lookup, has_permutation, mock_at, test_inputs};
use halo2_proofs::dev::VerifyFailure;
use halo2_proofs::plonk::{Circuit, ConstraintSystem};
use poa_circuits::chips::table;
use poa_circuits::dense::{DenseParams, DenseRows};
use poa_circuits::{
    public_instances, DenseCircuit, DenseTamper, Fr, InputVisibility, ModelCircuit, Visibility,
};
use poa_runtime::graph::GraphBuilder;
use poa_runtime::ops::{Op, Table, TableFn, Window};
use poa_runtime::{QModel, Tensor, TensorInfo, Trace};

fn mock(c: &DenseCircuit, instances: Vec<Fr>) -> Result<(), Vec<VerifyFailure>> {
    mock_at(c.k(), c.circuit(), instances)
}

#[test]
fn fixtures_publish_the_wide_layouts_instances_and_are_accepted() {
    for name in [
        "mlp_small",
        "mlp_argmax",
        "mlp_deep",
        "cnn_small",
        "ops_zoo",
    ] {
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
            let k = match name {
                "mlp_deep" => 12,
                "cnn_small" => 11,
                "ops_zoo" => OPS_ZOO_K,
                _ => 10,
            };
            assert_eq!(c.k(), k, "{name}: {} rows", c.rows());
            println!("{name} ({input:?} input): {} rows, k {}", c.rows(), c.k());
            mock(&c, c.instances().to_vec()).expect("MockProver accepts");
        }
    }
}

/// ops_zoo's k in the dense layout.
const OPS_ZOO_K: u32 = 13;

fn tampered(name: &str, tamper: DenseTamper) -> Vec<VerifyFailure> {
    let q = compile(name);
    let trace = q.run(&test_inputs()[1]).expect("runs");
    tampered_run(&q, &trace, tamper)
}

fn tampered_run(q: &QModel, trace: &Trace, tamper: DenseTamper) -> Vec<VerifyFailure> {
    let c = DenseCircuit::mock_tampered(q, trace, Visibility::default(), tamper).expect("lays out");
    mock(&c, c.instances().to_vec()).expect_err("forgery rejected")
}

const GATE: &str = "dense row";
const LOOKUP: &str = "r in [0, 256)";
const TABLE: &str = "activation table";

/// A one-op graph over `[1, n]` inputs bounded by `bound`, and its run on `values`.
fn one_op(op: Op, shape: Vec<usize>, bound: i64, values: Vec<i64>) -> (QModel, Trace) {
    let info = TensorInfo {
        name: "x".into(),
        shape: shape.clone(),
        scale: 4,
        bound,
    };
    let mut g = GraphBuilder::new(op.kind().into(), info, 64.0);
    g.push("op".into(), op, vec![0], 4)
        .expect("runtime accepts");
    let q = g.finish();
    let trace = q.run_quantized(Tensor::new(shape, values)).expect("runs");
    (q, trace)
}

/// A lone Sigmoid (or Tanh) over inputs far wider than its table's domain.
fn table_only(func: TableFn, values: &[i64]) -> (QModel, Trace) {
    let table = Table::build(func, 4, 1000);
    assert!(table.lo > -1000 && table.lo + (table.values.len() as i64) < 1000);
    one_op(
        Op::Table(table),
        vec![1, values.len()],
        1000,
        values.to_vec(),
    )
}

fn accepted(q: &QModel, trace: &Trace) -> DenseCircuit {
    let vis = Visibility::default();
    let c = DenseCircuit::prover(q, trace, vis).expect("lays out");
    assert_eq!(c.instances(), public_instances(q, trace, &vis).as_slice());
    mock(&c, c.instances().to_vec()).expect("MockProver accepts");
    c
}

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
fn a_wrong_pool_sum_fails_its_row() {
    let f = tampered("ops_zoo", DenseTamper::PoolSum);
    assert!(has_gate(&f, GATE), "{f:#?}");
}

#[test]
fn a_pool_choice_below_the_maximum_fails_its_comparison() {
    let f = tampered("ops_zoo", DenseTamper::PoolChoice);
    assert!(has_gate(&f, GATE), "{f:#?}");
}

#[test]
fn wrong_add_const_and_mul_const_outputs_fail_their_rows() {
    // ops_zoo's first constant op, then each op alone.
    let f = tampered("ops_zoo", DenseTamper::ConstOutput);
    assert!(has_gate(&f, GATE), "{f:#?}");
    for op in [
        Op::AddConst {
            constant: Tensor::new(vec![3], vec![5, -7, 0]),
        },
        Op::MulConst {
            constant: Tensor::new(vec![1], vec![-3]),
        },
    ] {
        let kind = op.kind();
        let (q, trace) = one_op(op, vec![1, 3], 64, vec![4, -9, 63]);
        accepted(&q, &trace);
        let f = tampered_run(&q, &trace, DenseTamper::ConstOutput);
        assert!(has_gate(&f, GATE), "{kind}: {f:#?}");
    }
}

#[test]
fn a_table_output_off_by_one_fails_the_table_lookup() {
    let f = tampered("ops_zoo", DenseTamper::TableOutput);
    assert!(has_lookup(&f, TABLE), "{f:#?}");
    for func in [TableFn::Sigmoid, TableFn::Tanh] {
        let (q, trace) = table_only(func, &[-3, 5, 900]);
        let f = tampered_run(&q, &trace, DenseTamper::TableOutput);
        assert!(has_lookup(&f, TABLE), "{func:?}: {f:#?}");
    }
}

#[test]
fn tables_clamp_both_edges_and_mirror_both_signs() {
    for func in [TableFn::Sigmoid, TableFn::Tanh] {
        let (q, trace) = table_only(func, &[-1000, -900, -3, -1, 0, 1, 5, 999, 1000]);
        let c = accepted(&q, &trace);
        // Mirrored: only the runs of x ≥ 0 are stored (and the zero row).
        let t = match &q.nodes[0].op {
            Op::Table(t) => t,
            _ => unreachable!(),
        };
        assert_eq!(c.table_rows(), table::stored_runs(t).len() + 1, "{func:?}");
    }
}

#[test]
fn a_clamp_moved_inside_the_domain_fails_its_run_check() {
    for values in [[-900, 1], [1, 900]] {
        let (q, trace) = table_only(TableFn::Sigmoid, &values);
        let f = tampered_run(&q, &trace, DenseTamper::TableClamp);
        assert!(has_gate(&f, GATE), "{values:?}: {f:#?}");
    }
}

#[test]
fn a_flipped_mirror_bit_fails_the_run_check() {
    // Inside the domain and beyond it, either sign; x = 0 is skipped (both bits are right).
    for values in [[0, -3], [0, 5], [0, -900], [0, 900]] {
        for func in [TableFn::Sigmoid, TableFn::Tanh] {
            let (q, trace) = table_only(func, &values);
            let f = tampered_run(&q, &trace, DenseTamper::TableMirror);
            assert!(has_gate(&f, GATE), "{func:?} {values:?}: {f:#?}");
        }
    }
}

#[test]
fn a_lopsided_table_is_stored_whole_and_clamped_at_both_edges() {
    let mut t = Table::build(TableFn::Sigmoid, 4, 1000);
    t.values[0] += 1;
    let runs = table::runs(&t).len();
    let (q, trace) = one_op(
        Op::Table(t),
        vec![1, 6],
        1000,
        vec![-1000, -200, -3, 0, 7, 1000],
    );
    let c = accepted(&q, &trace);
    assert_eq!(c.table_rows(), runs + 1);
    for values in [[-900, 1], [1, 900]] {
        let mut t = Table::build(TableFn::Tanh, 4, 1000);
        t.values[0] -= 1;
        let (q, trace) = one_op(Op::Table(t), vec![1, 2], 1000, values.to_vec());
        accepted(&q, &trace);
        let f = tampered_run(&q, &trace, DenseTamper::TableClamp);
        assert!(has_gate(&f, GATE), "{values:?}: {f:#?}");
    }
}

#[test]
fn a_table_element_is_a_sign_bit_a_lookup_row_and_two_run_checks() {
    // Tanh at scale 4 saturates near ±34: a table built for a bound of 20 stops at ±20, and
    // its run checks fit one limb.
    let t = Table::build(TableFn::Tanh, 4, 20);
    assert_eq!((t.lo, t.values.len()), (-20, 41));
    let (q, trace) = one_op(Op::Table(t), vec![1, 4], 20, vec![-20, -1, 0, 20]);
    let c = accepted(&q, &trace);
    // Two input rows each (both sides of the bound), then 4 rows each.
    assert_eq!(c.rows(), 2 * 4 + 4 * 4);
}

#[test]
fn divisors_past_one_limb_check_the_remainder() {
    for d in [3, 9, 100, 257, 512, 1000, 4096] {
        let (q, trace) = one_op(
            Op::DivRound { divisor: d },
            vec![1, 5],
            5000,
            vec![-5000, -d / 2 - 1, 0, d / 2, 4999],
        );
        accepted(&q, &trace);
        let f = tampered_run(&q, &trace, DenseTamper::Remainder);
        assert!(has_gate(&f, GATE) || has_lookup(&f, LOOKUP), "{d}: {f:#?}");
    }
}

#[test]
fn models_without_tables_keep_the_plain_configuration() {
    let columns = |p: DenseParams| {
        let mut cs = ConstraintSystem::<Fr>::default();
        DenseRows::configure_with_params(&mut cs, p);
        (
            cs.num_advice_columns(),
            cs.num_fixed_columns(),
            cs.lookups().len(),
        )
    };
    assert_eq!(columns(DenseParams::default()), (7, 11, 1));
    // The tag column and four table columns (halo2 counts table columns as fixed ones).
    assert_eq!(
        columns(DenseParams {
            tables: true,
            ..DenseParams::default()
        }),
        (7, 16, 2)
    );
    for (name, tables) in [
        ("mlp_small", false),
        ("cnn_small", false),
        ("ops_zoo", true),
    ] {
        let c = DenseCircuit::keygen(&compile(name), Visibility::default()).expect("lays out");
        assert_eq!(
            c.params(),
            DenseParams {
                tables,
                ..DenseParams::default()
            },
            "{name}"
        );
        assert_eq!(c.circuit().params(), c.params());
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
    // An ArgMax before the last op, and a MaxPool window all in the padding.
    let mut g = GraphBuilder::new("early_argmax".into(), q.input().clone(), 4.0);
    let t = g
        .push("argmax".into(), Op::ArgMax { keepdims: true }, vec![0], 0)
        .expect("argmax");
    g.push("relu".into(), Op::Relu, vec![t], 0).expect("relu");
    let early = g.finish();
    let t = early.run(&test_inputs()[1]).expect("runs");
    let e = DenseCircuit::prover(&early, &t, Visibility::default())
        .expect_err("refused")
        .to_string();
    assert!(e.contains("dense layout"), "{e}");
    let window = Window {
        kernel: [1, 1],
        stride: [1, 1],
        pads: [1, 1, 1, 1],
    };
    let (pool, t) = one_op(Op::MaxPool(window), vec![1, 1, 2, 2], 64, vec![1, 2, 3, 4]);
    let e = DenseCircuit::prover(&pool, &t, Visibility::default())
        .expect_err("refused")
        .to_string();
    assert!(e.contains("padding") && e.contains("op"), "{e}");
}
