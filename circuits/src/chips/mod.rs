//! The chips: one file per chip, each a `…Config` (columns, selectors, gates), a `…Chip` and an
//! `…Instructions` trait saying what it assigns.
//!
//! All chips share one grid of columns ([`Columns`]) and are laid out by [`crate::model`] in a
//! single region with explicit row offsets (halo2-axiom's `SimpleFloorPlanner` starts every
//! region at row 0, so offsets are managed here). Two bands of rows run side by side: the *main*
//! band (lanes, weights, accumulator) and the *range-check* band (its own three columns), so the
//! range checks cost columns, not rows.

pub mod affine;
pub mod argmax;
pub mod div_round;
pub mod dot;
pub mod gemm;
pub mod range_check;
pub mod relu;
pub mod table;

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Expression, Fixed, Selector, VirtualCells,
};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use crate::field::wit;

/// Lanes of the main band: a Gemm row does this many multiply-accumulates.
pub const LANES: usize = 16;

/// An assigned cell with the integer it holds (`None` without a witness).
#[derive(Clone, Copy, Debug)]
pub struct Var {
    /// The cell.
    pub cell: Cell,
    /// Its value, when known.
    pub value: Option<i64>,
}

/// The main-band columns every chip draws from.
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    /// Advice lanes (equality enabled).
    pub lanes: [Column<Advice>; LANES],
    /// Fixed lanes (weights; per-row constants for the element-wise chips).
    pub consts: [Column<Fixed>; LANES],
    /// Accumulator advice column (equality enabled).
    pub acc: Column<Advice>,
    /// Per-row fixed constant (the Gemm bias).
    pub bias: Column<Fixed>,
}

impl Columns {
    /// Allocates the main-band columns and enables equality on the advice ones.
    pub fn configure(meta: &mut ConstraintSystem<Fr>) -> Self {
        let lanes = std::array::from_fn(|_| {
            let c = meta.advice_column();
            meta.enable_equality(c);
            c
        });
        let consts = std::array::from_fn(|_| meta.fixed_column());
        let acc = meta.advice_column();
        meta.enable_equality(acc);
        let bias = meta.fixed_column();
        Self {
            lanes,
            consts,
            acc,
            bias,
        }
    }
}

/// Assigns `value` to an advice cell and, when `copy_of` is given, constrains it equal to that cell.
pub(crate) fn assign(
    region: &mut Region<'_, Fr>,
    column: Column<Advice>,
    offset: usize,
    value: Option<i64>,
    copy_of: Option<Cell>,
) -> Var {
    let cell = region.assign_advice(column, offset, wit(value)).cell();
    if let Some(src) = copy_of {
        region.constrain_equal(cell, src);
    }
    Var { cell, value }
}

/// Assigns a field element (`None`: unknown, keygen) to an advice cell.
pub(crate) fn assign_fe(
    region: &mut Region<'_, Fr>,
    column: Column<Advice>,
    offset: usize,
    value: Option<Fr>,
) -> FVar {
    let val = value.map_or(Value::unknown(), Value::known);
    let cell = region.assign_advice(column, offset, val).cell();
    FVar { cell, value }
}

/// A pending range check: `value + offset ∈ [0, 2^bits)`, with `value` copied from `cell`.
#[derive(Clone, Debug)]
pub struct RangeRequest {
    /// The checked cell.
    pub var: Var,
    /// A constant added before the check (makes a signed bound a non-negative one).
    pub offset: i64,
    /// Bits of the bound.
    pub bits: u32,
}

/// An assigned cell holding an arbitrary field element (packed values, hashes), with its value
/// when known.
#[derive(Clone, Copy, Debug)]
pub struct FVar {
    /// The cell.
    pub cell: Cell,
    /// Its value, when known.
    pub value: Option<Fr>,
}

/// The two gates of a sum accumulated row by row in `acc` (Gemm, dot products): on a first row
/// (`"{name} first row"`) `acc = start + row_sum`, `start` being a fixed column (the bias) or
/// zero; on later rows (`"{name} accumulate"`) `acc = acc_prev + row_sum`. Returns the two
/// selectors.
pub(crate) fn accumulation_gates(
    meta: &mut ConstraintSystem<Fr>,
    name: &str,
    acc: Column<Advice>,
    start: Option<Column<Fixed>>,
    row_sum: impl Fn(&mut VirtualCells<'_, Fr>) -> Expression<Fr> + Copy,
) -> (Selector, Selector) {
    let q_first = meta.selector();
    let q_next = meta.selector();
    meta.create_gate(format!("{name} first row"), |m| {
        let q = m.query_selector(q_first);
        let a = m.query_advice(acc, Rotation::cur());
        let s = start.map_or(Expression::Constant(Fr::zero()), |c| {
            m.query_fixed(c, Rotation::cur())
        });
        let sum = row_sum(m);
        vec![("acc = start + Σ", q * (a - s - sum))]
    });
    meta.create_gate(format!("{name} accumulate"), |m| {
        let q = m.query_selector(q_next);
        let a = m.query_advice(acc, Rotation::cur());
        let prev = m.query_advice(acc, Rotation::prev());
        let sum = row_sum(m);
        vec![("acc = acc_prev + Σ", q * (a - prev - sum))]
    });
    (q_first, q_next)
}
