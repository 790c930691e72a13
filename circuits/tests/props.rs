//! Random small MLPs and conv graphs (Conv, pools, MulConst, Add, AddConst, tables) built with
//! the runtime's GraphBuilder: the circuit accepts every run and its public outputs are the
//! runtime's — random MLPs also with `hashed` weights and in the narrow and dense layouts, random
//! convs (padding, strides) in the narrow and dense layouts too, random conv graphs and random
//! (also lopsided) tables in the dense layout. Also the ArgMax tie rule (first index wins), the
//! table clamp, and one graph per runtime op (in the wide and dense layouts).

mod common;

use common::{has_gate, has_lookup, mock, mock_outputs, mock_outputs_with};
use poa_circuits::chips::table;
use poa_circuits::dense::DENSE_OPS;
use poa_circuits::{public_instances, InstanceLayout, ModelCircuit, Tamper, SUPPORTED_OPS};
use poa_circuits::{DenseCircuit, NarrowCircuit, Statement, Visibility, WeightVisibility};
use poa_runtime::graph::GraphBuilder;
use poa_runtime::ops::{Conv, Gemm, Op, Table, TableFn, Window};
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

/// The same model proved with `hashed` weights (its bounds byte-rounded, as `poa compile
/// --weight-visibility hashed` does): MockProver must accept and publish the same outputs.
fn hashed_weights_outputs(q: &QModel, input: Tensor) -> Result<Vec<i64>, TestCaseError> {
    let h = q.clone().with_byte_rounded_bounds();
    let trace = h.run_quantized(input).expect("runs");
    let vis = Visibility {
        weights: WeightVisibility::Hashed,
        ..Visibility::default()
    };
    mock_outputs_with(&h, &trace, vis).map_err(|e| TestCaseError::fail(format!("{e:#?}")))
}

/// The same run in the narrow (one advice column) layout: MockProver must accept it, with the
/// wide layout's public instances.
fn narrow_accepts(q: &QModel, trace: &poa_runtime::Trace) -> Result<(), TestCaseError> {
    let vis = Visibility::default();
    let c = NarrowCircuit::mock(q, trace, vis, Statement::Inference)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let native = public_instances(q, trace, &vis);
    prop_assert_eq!(c.instances(), native.as_slice());
    common::mock_at(c.k(), c.circuit(), c.instances().to_vec())
        .map_err(|e| TestCaseError::fail(format!("{e:#?}")))
}

/// The same run in the dense layout: MockProver must accept it, with the wide layout's public
/// instances.
fn dense_accepts(q: &QModel, trace: &poa_runtime::Trace) -> Result<(), TestCaseError> {
    let vis = Visibility::default();
    let c = DenseCircuit::prover(q, trace, vis).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let native = public_instances(q, trace, &vis);
    prop_assert_eq!(c.instances(), native.as_slice());
    common::mock_at(c.k(), c.circuit(), c.instances().to_vec())
        .map_err(|e| TestCaseError::fail(format!("{e:#?}")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_mlps_are_accepted_bit_exact((q, x) in case()) {
        let input = Tensor::new(vec![1, x.len()], x);
        let trace = q.run_quantized(input.clone()).expect("runs");
        let res = mock_outputs(&q, &trace);
        prop_assert!(res.is_ok(), "{:#?}", res);
        prop_assert_eq!(res.ok(), Some(trace.output().data.clone()));
        prop_assert_eq!(hashed_weights_outputs(&q, input)?, trace.output().data.clone());
        narrow_accepts(&q, &trace)?;
        dense_accepts(&q, &trace)?;
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
    let circuit = ModelCircuit::new(&q, Some(&trace), Visibility::default()).expect("builds");
    mock(
        &circuit,
        public_instances(&q, &trace, &Visibility::default()),
    )
    .expect("first maximum accepted");
    let dense = DenseCircuit::prover(&q, &trace, Visibility::default()).expect("dense");
    common::mock_at(dense.k(), dense.circuit(), dense.instances().to_vec())
        .expect("first maximum accepted in the dense layout");
}

#[test]
fn rejects_tie_resolved_to_later_index() {
    let (q, trace) = argmax_only(&[3, -7, 9, 9, 1]);
    let mut circuit = ModelCircuit::new(&q, Some(&trace), Visibility::default()).expect("builds");
    circuit.tamper = Some(Tamper::ArgMaxIndex { node: 0, index: 3 });
    let mut instances = public_instances(&q, &trace, &Visibility::default());
    let out = InstanceLayout::of(&q, &Visibility::default()).output.start;
    instances[out] = poa_circuits::field::fe(3);
    let failures = mock(&circuit, instances).expect_err("later tie index must fail");
    assert!(has_lookup(&failures, "range check limb"), "{failures:#?}");
}

/// Deterministic small integers from a seed (weights of the random conv graphs).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, lo: i64, hi: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + ((self.0 >> 33) % (hi - lo + 1) as u64) as i64
    }

    fn vec(&mut self, n: usize, lo: i64, hi: i64) -> Vec<i64> {
        (0..n).map(|_| self.next(lo, hi)).collect()
    }
}

/// Shape and op choices of one random conv graph.
#[derive(Clone, Debug)]
struct ConvCase {
    c: usize,
    h: usize,
    w: usize,
    co: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pads: [usize; 4],
    max_pool: bool,
    pool_kernel: usize,
    pool_stride: usize,
    pool_pad: usize,
    shift: u32,
    sigmoid: bool,
    seed: u64,
}

/// Conv → DivRound → MaxPool|SumPool → MulConst → Add(pool, product) → AddConst → Sigmoid|Tanh.
fn conv_graph(p: &ConvCase) -> (QModel, Tensor) {
    let (mut g, mut rng, t) = conv_prefix(p, "conv_prop");
    let shape = g.tensor(t).shape.clone();
    let k = p.pool_kernel.min(shape[2]).min(shape[3]);
    let pad = p.pool_pad.min(k - 1);
    let window = Window {
        kernel: [k, k],
        stride: [p.pool_stride; 2],
        pads: [pad; 4],
    };
    let pool = if p.max_pool {
        Op::MaxPool(window)
    } else {
        Op::SumPool(window)
    };
    let pooled = g.push("pool".into(), pool, vec![t], 4).expect("pool");
    let mul = Op::MulConst {
        constant: Tensor::new(vec![p.co, 1, 1], rng.vec(p.co, -3, 3)),
    };
    let prod = g.push("mul".into(), mul, vec![pooled], 4).expect("mul");
    let add = Op::Add {
        shift_a: p.shift,
        shift_b: 0,
    };
    let sum = g
        .push("add".into(), add, vec![pooled, prod], 4)
        .expect("add");
    let add_c = Op::AddConst {
        constant: Tensor::new(vec![1, p.co, 1, 1], rng.vec(p.co, -20, 20)),
    };
    let t = g.push("add_c".into(), add_c, vec![sum], 4).expect("add_c");
    let func = if p.sigmoid {
        TableFn::Sigmoid
    } else {
        TableFn::Tanh
    };
    let table = Table::build(func, 4, g.tensor(t).bound);
    g.push("act".into(), Op::Table(table), vec![t], 4)
        .expect("table");
    let x = Tensor::new(vec![1, p.c, p.h, p.w], rng.vec(p.c * p.h * p.w, -64, 64));
    (g.finish(), x)
}

/// Conv → DivRound → Relu with `p`'s geometry (padding and strides included): what the narrow
/// layout takes of a conv net.
fn conv_relu_graph(p: &ConvCase) -> (QModel, Tensor) {
    let (mut g, mut rng, t) = conv_prefix(p, "conv_relu_prop");
    g.push("relu".into(), Op::Relu, vec![t], 4).expect("relu");
    let x = Tensor::new(vec![1, p.c, p.h, p.w], rng.vec(p.c * p.h * p.w, -64, 64));
    (g.finish(), x)
}

/// A graph `name` over `p`'s input with its Conv (random weights from `p.seed`) and DivRound
/// pushed; returns the builder, the generator (to draw the rest) and the rescaled tensor.
fn conv_prefix(p: &ConvCase, name: &str) -> (GraphBuilder, Lcg, usize) {
    let mut rng = Lcg(p.seed);
    let input = TensorInfo {
        name: "x".into(),
        shape: vec![1, p.c, p.h, p.w],
        scale: 4,
        bound: 64,
    };
    let mut g = GraphBuilder::new(name.into(), input, 4.0);
    let [kh, kw] = p.kernel;
    let conv = Conv {
        weight: Tensor::new(
            vec![p.co, p.c, kh, kw],
            rng.vec(p.co * p.c * kh * kw, -8, 8),
        ),
        bias: rng.vec(p.co, -100, 100),
        window: Window {
            kernel: p.kernel,
            stride: p.stride,
            pads: p.pads,
        },
    };
    let t = g
        .push("conv".into(), Op::Conv(conv), vec![0], 8)
        .expect("conv");
    let t = g
        .push("rescale".into(), Op::DivRound { divisor: 16 }, vec![t], 4)
        .expect("rescale");
    (g, rng, t)
}

fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        (1usize..3, 3usize..7, 3usize..7, 1usize..4),
        (1usize..4, 1usize..4, 1usize..3, 1usize..3),
        prop::array::uniform4(0usize..3),
        (any::<bool>(), 1usize..4, 1usize..3, 0usize..2),
        (0u32..3, any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |(
                (c, h, w, co),
                (kh, kw, sh, sw),
                pads,
                (max_pool, pk, ps, pp),
                (shift, sigmoid, seed),
            )| {
                // Pads stay below the kernel (as ONNX requires), so no window is all padding.
                let pads = [
                    pads[0].min(kh - 1),
                    pads[1].min(kw - 1),
                    pads[2].min(kh - 1),
                    pads[3].min(kw - 1),
                ];
                ConvCase {
                    c,
                    h,
                    w,
                    co,
                    kernel: [kh, kw],
                    stride: [sh, sw],
                    pads,
                    max_pool,
                    pool_kernel: pk,
                    pool_stride: ps,
                    pool_pad: pp,
                    shift,
                    sigmoid,
                    seed,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn random_convs_are_accepted_in_the_narrow_and_dense_layouts(p in conv_case()) {
        let (q, x) = conv_relu_graph(&p);
        let trace = q.run_quantized(x).expect("runs");
        narrow_accepts(&q, &trace)?;
        dense_accepts(&q, &trace)?;
    }

    #[test]
    fn random_conv_graphs_are_accepted_bit_exact(p in conv_case()) {
        let (q, x) = conv_graph(&p);
        let trace = q.run_quantized(x).expect("runs");
        let res = mock_outputs(&q, &trace);
        prop_assert!(res.is_ok(), "{:?}: {:#?}", p, res);
        prop_assert_eq!(res.ok(), Some(trace.output().data.clone()));
        dense_accepts(&q, &trace)?;
    }

    #[test]
    fn random_tables_are_accepted_in_the_dense_layout(
        (sigmoid, scale, build_bound, bound, lopsided) in
            (any::<bool>(), 1u32..6, 1i64..300, 1i64..600, any::<bool>()),
        seed in any::<u64>(),
    ) {
        let func = if sigmoid { TableFn::Sigmoid } else { TableFn::Tanh };
        let mut table = Table::build(func, scale, build_bound);
        if lopsided {
            table.values[0] += 1;
        }
        let mut g = GraphBuilder::new("table_prop".into(), input_info(8, bound), 64.0);
        g.push("act".into(), Op::Table(table), vec![0], scale).expect("table");
        let q = g.finish();
        let x = Lcg(seed).vec(8, -bound, bound);
        let trace = q.run_quantized(Tensor::new(vec![1, 8], x)).expect("runs");
        dense_accepts(&q, &trace)?;
    }
}

/// A lone Sigmoid over inputs far wider than its table's domain.
fn sigmoid_only(values: &[i64]) -> (QModel, poa_runtime::Trace) {
    let mut g = GraphBuilder::new("sigmoid".into(), input_info(values.len(), 1000), 64.0);
    let table = Table::build(TableFn::Sigmoid, 4, 1000);
    assert!(table.lo > -1000 && table.lo + (table.values.len() as i64) < 1000);
    g.push("sigmoid".into(), Op::Table(table), vec![0], 4)
        .expect("sigmoid");
    let q = g.finish();
    let trace = q
        .run_quantized(Tensor::new(vec![1, values.len()], values.to_vec()))
        .expect("runs");
    (q, trace)
}

#[test]
fn table_clamps_both_edges() {
    let (q, trace) = sigmoid_only(&[-1000, -3, 0, 5, 999]);
    let circuit = ModelCircuit::new(&q, Some(&trace), Visibility::default()).expect("builds");
    mock(
        &circuit,
        public_instances(&q, &trace, &Visibility::default()),
    )
    .expect("clamped inputs accepted");
}

/// Sigmoid and Tanh tables are stored for `x ≥ 0` only: half the runs, and a wrong sign bit
/// (the mirror lane) is rejected by the run check, whichever side of 0 the input is.
#[test]
fn mirrored_tables_store_half_and_force_the_sign() {
    for func in [TableFn::Sigmoid, TableFn::Tanh] {
        let t = Table::build(func, 8, 5000);
        let k = table::mirror(&t).expect("symmetric");
        assert_eq!(k, if func == TableFn::Sigmoid { 256 } else { 0 });
        let (all, stored) = (table::runs(&t).len(), table::stored_runs(&t).len());
        assert!(stored <= all / 2 + 1, "{stored} of {all}");
    }
    let mut lopsided = Table::build(TableFn::Sigmoid, 4, 1000);
    lopsided.values[0] += 1;
    assert_eq!(table::mirror(&lopsided), None, "checked on the values");

    let (q, trace) = sigmoid_only(&[5, -3, 0]);
    for element in 0..3 {
        let mut circuit =
            ModelCircuit::new(&q, Some(&trace), Visibility::default()).expect("builds");
        circuit.tamper = Some(Tamper::TableMirror { node: 0, element });
        let instances = public_instances(&q, &trace, &Visibility::default());
        let e = mock(&circuit, instances);
        if element == 2 {
            // At x' = 0 both signs are the same lookup and the same output.
            e.expect("x' = 0 either way");
        } else {
            let e = e.expect_err("wrong mirror bit");
            assert!(has_lookup(&e, "range check limb"), "{e:#?}");
        }
    }
}

#[test]
fn rejects_clamp_lie() {
    for (element, values) in [(0, [-900, 1]), (1, [1, 900])] {
        let (q, trace) = sigmoid_only(&values);
        let mut circuit =
            ModelCircuit::new(&q, Some(&trace), Visibility::default()).expect("builds");
        circuit.tamper = Some(Tamper::TableClamp { node: 0, element });
        // The instances follow the lie, so only the clamp gate can catch it.
        let table = match &q.nodes[0].op {
            Op::Table(t) => t,
            _ => unreachable!(),
        };
        let last = table.lo + table.values.len() as i64 - 1;
        let lie = if element == 0 { table.lo + 1 } else { last - 1 };
        let mut instances = public_instances(&q, &trace, &Visibility::default());
        let out = InstanceLayout::of(&q, &Visibility::default()).output.start + element;
        instances[out] = poa_circuits::field::fe(table.lookup(lie));
        let failures = mock(&circuit, instances).expect_err("clamp lie must fail");
        assert!(has_gate(&failures, "table clamp"), "{failures:#?}");
    }
}

/// The input shape a one-node graph of `op` needs. The match has no wildcard: a new runtime op
/// does not compile here until the circuit (and this test) covers it.
fn input_shape_for(op: &Op) -> Vec<usize> {
    match op {
        Op::Gemm(_) | Op::ArgMax { .. } => vec![1, 4],
        Op::Conv(_) | Op::MaxPool(_) | Op::SumPool(_) => vec![1, 1, 3, 3],
        Op::DivRound { .. }
        | Op::Relu
        | Op::Add { .. }
        | Op::AddConst { .. }
        | Op::MulConst { .. }
        | Op::Reshape { .. }
        | Op::Table(_) => vec![1, 4],
    }
}

#[test]
fn every_runtime_op_is_supported() {
    let win = Window {
        kernel: [2, 2],
        stride: [1, 1],
        pads: [1, 0, 0, 1],
    };
    let ops = vec![
        Op::Gemm(Gemm {
            weight: Tensor::new(vec![2, 4], vec![1, -2, 3, -4, 5, 6, -7, 8]),
            bias: vec![3, -3],
        }),
        Op::Conv(Conv {
            weight: Tensor::new(vec![2, 1, 2, 2], vec![1, 2, 3, 4, -1, -2, -3, -4]),
            bias: vec![1, 2],
            window: win.clone(),
        }),
        Op::DivRound { divisor: 3 },
        Op::Relu,
        Op::Add {
            shift_a: 1,
            shift_b: 2,
        },
        Op::AddConst {
            constant: Tensor::new(vec![1], vec![7]),
        },
        Op::MulConst {
            constant: Tensor::new(vec![4], vec![1, -2, 3, 0]),
        },
        Op::Reshape { shape: vec![2, 2] },
        Op::MaxPool(win.clone()),
        Op::SumPool(win),
        Op::Table(Table::build(TableFn::Sigmoid, 4, 64)),
        Op::Table(Table::build(TableFn::Tanh, 4, 64)),
        Op::ArgMax { keepdims: true },
    ];
    for op in ops {
        let shape = input_shape_for(&op);
        let info = TensorInfo {
            name: "x".into(),
            shape: shape.clone(),
            scale: 4,
            bound: 64,
        };
        let kind = op.kind();
        assert!(SUPPORTED_OPS.contains(&kind), "{kind} listed");
        let mut g = GraphBuilder::new(kind.into(), info, 4.0);
        let inputs = if op.arity() == 2 { vec![0, 0] } else { vec![0] };
        g.push("op".into(), op, inputs, 4).expect("runtime accepts");
        let q = g.finish();
        let n: usize = shape.iter().product();
        let x: Vec<i64> = (0..n as i64).map(|i| (i * 37 % 129) - 64).collect();
        let trace = q.run_quantized(Tensor::new(shape, x)).expect("runs");
        let circuit = ModelCircuit::new(&q, Some(&trace), Visibility::default())
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        mock(
            &circuit,
            public_instances(&q, &trace, &Visibility::default()),
        )
        .unwrap_or_else(|e| panic!("{kind}: {e:#?}"));
        assert!(DENSE_OPS.contains(&kind), "{kind} in the dense layout");
        dense_accepts(&q, &trace).unwrap_or_else(|e| panic!("{kind} (dense): {e}"));
    }
}
