//! The runtime's ops in halo2-base's vertical gate: every tensor value one cell, every op's
//! outputs witnessed from the trace and constrained to what the op computes.
//!
//! | op | cells | constraint |
//! |---|---|---|
//! | Gemm | 3 per MAC | `y = Σ x·w + b`, weights and bias constants (fixed column) |
//! | Conv | 3 per MAC | the same over each output's window taps (padding taps skipped, as the runtime does) |
//! | DivRound `d` | ~ 4 + limbs | `x + ⌊d/2⌋ = q·d + r`, `r ∈ [0, d)`, `q` in its bound |
//! | Relu | ~ 11 + limbs | `b` a bit, `y = b·x`, `b·x + (1−b)(−x−1) ∈ [0, 2^bits)` |
//! | Add | 8 | `y = a·2^sa + b·2^sb` |
//! | ArgMax (last op, `[1, n]`) | ~ 12 n | one-hot `c`, `y_c ≥ y_j + [j < c]` for every `j` |
//! | Reshape | 0 | same cells |
//!
//! Every input value is range-checked to its bound, so every later value is bounded too and no
//! identity can hold modulo the field without holding over the integers.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::{AssignedValue, Context, QuantumCell::Constant, QuantumCell::Existing};
use halo2curves::bn256::Fr;
use poa_runtime::{QModel, Trace};

use super::{Cells, NarrowTamper};
use crate::error::CircuitError;
use crate::field::{fe, fe128};
use crate::vertical::{self, signed_bits, Backend, Forge};

/// The ops the narrow layout lays out.
pub const NARROW_OPS: &[&str] = &[
    "Gemm", "Conv", "DivRound", "Relu", "Add", "Reshape", "ArgMax",
];

/// The assigned run: every tensor's cells, and the one-hot class of a final ArgMax.
pub(crate) struct Run {
    /// Cells by tensor id.
    pub cells: Cells,
    /// The predicted class's one-hot indicator over the outputs (ArgMax models), else `None`.
    pub class_indicator: Option<Vec<AssignedValue<Fr>>>,
}

/// The error for an op outside [`NARROW_OPS`] at node `i`.
fn unsupported(node: &poa_runtime::graph::Node, i: usize) -> CircuitError {
    CircuitError::UnsupportedOp {
        op: node.op.kind(),
        layer: node.name.clone(),
        node: i,
        supported: format!(
            "{} in the narrow layout; the wide layout (`--layout wide`) takes every op",
            NARROW_OPS.join(", ")
        ),
    }
}

/// Refuses models with ops (or op placements) the narrow layout does not lay out.
pub(crate) fn check_ops(model: &QModel) -> Result<(), CircuitError> {
    for (i, node) in model.nodes.iter().enumerate() {
        let kind = node.op.kind();
        if !NARROW_OPS.contains(&kind) {
            return Err(unsupported(node, i));
        }
        crate::vertical::check_argmax(model, i, "narrow")?;
    }
    Ok(())
}

/// Constrains `|x| ≤ 2^signed_bits(bound) / 2`-ish: `x + bound ∈ [0, 2^signed_bits(bound))`.
pub(crate) fn check_signed(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    x: AssignedValue<Fr>,
    bound: i128,
) {
    let shifted = range.gate().add(ctx, x, Constant(fe128(bound)));
    range.range_check(ctx, shifted, signed_bits(bound) as usize);
}

/// Assigns the input (range-checked to its bound) and every op of `model` from `trace`.
pub(crate) fn assign_run(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    model: &QModel,
    trace: &Trace,
    tamper: Option<NarrowTamper>,
) -> Result<Run, CircuitError> {
    let forge = match tamper {
        Some(NarrowTamper::Remainder) => Some(Forge::Remainder),
        Some(NarrowTamper::ReluSign) => Some(Forge::ReluSign),
        Some(NarrowTamper::ClassOff) => Some(Forge::ClassOff),
        Some(NarrowTamper::Input(v)) => Some(Forge::Input(v)),
        // The attribution forgeries are the top-k part's.
        _ => None,
    };
    let mut b = Narrow {
        ctx,
        range,
        class_indicator: None,
    };
    let cells = vertical::run(&mut b, model, trace, forge, unsupported)?;
    Ok(Run {
        cells,
        class_indicator: b.class_indicator,
    })
}

/// The narrow layout's [`Backend`]: halo2-base's context and range chip, and the predicted
/// class's one-hot indicator once an ArgMax is laid out (the top-k part reads it).
struct Narrow<'a> {
    ctx: &'a mut Context<Fr>,
    range: &'a RangeChip<Fr>,
    class_indicator: Option<Vec<AssignedValue<Fr>>>,
}

impl Backend for Narrow<'_> {
    type Cell = AssignedValue<Fr>;

    fn value(cell: &Self::Cell) -> Fr {
        *cell.value()
    }

    /// `v ∈ [−B, B]` exactly: `v + B` and `v + 2^b − 1 − B` both in `[0, 2^b)`, `b` the bits of
    /// [`check_signed`] (which alone lets an input reach `2^b − 1 − B`; the input is the
    /// prover's choice, so it gets both sides).
    fn input(&mut self, v: i64, bound: i128) -> Self::Cell {
        let c = self.ctx.load_witness(fe(v));
        check_signed(self.ctx, self.range, c, bound);
        let bits = signed_bits(bound);
        let upper = (1i128 << bits) - 1 - bound;
        let shifted = self.range.gate().add(self.ctx, c, Constant(fe128(upper)));
        self.range.range_check(self.ctx, shifted, bits as usize);
        c
    }

    /// No narrow forgery changes a product (`forge` is never set here).
    fn dot(&mut self, terms: &[(Self::Cell, i64)], bias: i64, _forge: bool) -> Self::Cell {
        affine(self.ctx, self.range, terms.iter().copied(), bias)
    }

    fn div_round(&mut self, x: Self::Cell, q: i64, d: i64, r: i64, q_bound: i128) -> Self::Cell {
        div_round(self.ctx, self.range, x, q, d, r, q_bound)
    }

    fn relu(&mut self, x: Self::Cell, non_negative: bool, bits: u32) -> Self::Cell {
        relu(self.ctx, self.range, x, non_negative, bits as usize)
    }

    fn add(&mut self, a: Self::Cell, b: Self::Cell, sa: u32, sb: u32) -> Self::Cell {
        let (ka, kb) = (fe128(1i128 << sa), fe128(1i128 << sb));
        let gate = self.range.gate();
        let bb = gate.mul(self.ctx, b, Constant(kb));
        gate.mul_add(self.ctx, a, Constant(ka), bb)
    }

    fn argmax(&mut self, xs: &[Self::Cell], class: i64, bound: i128) -> Self::Cell {
        let (c, ind) = argmax(self.ctx, self.range, xs, class, bound);
        self.class_indicator = Some(ind);
        c
    }
}

/// `Σ x·w + b` over `(cell, weight)` terms, the weights and bias constants.
fn affine(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    terms: impl Iterator<Item = (AssignedValue<Fr>, i64)>,
    bias: i64,
) -> AssignedValue<Fr> {
    let (xs, ws): (Vec<_>, Vec<_>) = terms.map(|(c, w)| (Existing(c), Constant(fe(w)))).unzip();
    if xs.is_empty() {
        // Every tap in the padding: the output is the bias.
        return ctx.load_constant(fe(bias));
    }
    let dot = range.gate().inner_product(ctx, xs, ws);
    range.gate().add(ctx, dot, Constant(fe(bias)))
}

/// `q = div_round(x, d)`: `x + ⌊d/2⌋ = q·d + r` with `r ∈ [0, d)` and `q` within `q_bound`.
fn div_round(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    x: AssignedValue<Fr>,
    q: i64,
    d: i64,
    r: i64,
    q_bound: i128,
) -> AssignedValue<Fr> {
    let gate = range.gate();
    let q = ctx.load_witness(fe(q));
    let r = ctx.load_witness(fe(r));
    check_signed(ctx, range, q, q_bound);
    let lhs = gate.add(ctx, x, Constant(fe(d / 2)));
    let rhs = gate.mul_add(ctx, q, Constant(fe(d)), r);
    ctx.constrain_equal(&lhs, &rhs);
    if d.count_ones() == 1 {
        range.range_check(ctx, r, d.trailing_zeros() as usize);
    } else {
        range.check_less_than_safe(ctx, r, d as u64);
    }
    q
}

/// `max(0, x)` for `|x| < 2^bits`, the sign bit `b` witnessed: `b·x + (1−b)(−x−1)` is
/// range-checked to `bits`, so `b = 1` exactly when `x ≥ 0`.
pub(crate) fn relu(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    x: AssignedValue<Fr>,
    non_negative: bool,
    bits: usize,
) -> AssignedValue<Fr> {
    let gate = range.gate();
    let b = ctx.load_witness(Fr::from(u64::from(non_negative)));
    gate.assert_bit(ctx, b);
    let y = gate.mul(ctx, b, x);
    // z = 2·b·x + b − x − 1 = b·x + (1 − b)(−x − 1).
    let t = gate.mul_add(ctx, y, Constant(Fr::from(2)), b);
    let z = gate.sub(ctx, t, x);
    let z = gate.sub(ctx, z, Constant(Fr::one()));
    range.range_check(ctx, z, bits);
    y
}

/// The first index of the maximum of `xs` (`|x| ≤ bound`), `class` witnessed: its one-hot
/// indicator sums to 1, and the selected value beats every earlier one and ties or beats every
/// later one. Returns the class cell and the indicator.
pub(crate) fn argmax(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    xs: &[AssignedValue<Fr>],
    class: i64,
    bound: i128,
) -> (AssignedValue<Fr>, Vec<AssignedValue<Fr>>) {
    let gate = range.gate();
    let c = ctx.load_witness(fe(class));
    let ind = gate.idx_to_indicator(ctx, c, xs.len());
    let total = gate.sum(ctx, ind.iter().copied());
    gate.assert_is_const(ctx, &total, &Fr::one());
    let best = gate.select_by_indicator(ctx, xs.iter().copied(), ind.iter().copied());
    // later = Σ_{i > j} ind_i = [c > j], built from the end.
    let mut later = ctx.load_zero();
    for j in (0..xs.len()).rev() {
        let diff = gate.sub(ctx, best, xs[j]);
        let diff = gate.sub(ctx, diff, later);
        range.range_check(ctx, diff, signed_bits(bound) as usize);
        later = gate.add(ctx, later, ind[j]);
    }
    (c, ind)
}
