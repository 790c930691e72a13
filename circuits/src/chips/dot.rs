//! Dot products of two witness vectors: `LANES / 2` multiply-accumulates per row.
//!
//! Row `j` holds `x_{j,0..8}` in lanes 0..8 and `y_{j,0..8}` in lanes 8..16, and the
//! accumulator: `acc_0 = Σ_i x_{0,i}·y_{0,i}`, `acc_j = acc_{j−1} + Σ_i x_{j,i}·y_{j,i}`. The
//! last row's accumulator is the result. Used where both sides are private (a hashed
//! attribution index against the query embedding; `hashed` weights against activations); with
//! one side known at keygen the Gemm chip does twice the MACs per row.

use halo2_proofs::circuit::Region;
use halo2_proofs::plonk::{ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use super::{accumulation_gates, assign, Columns, Var, LANES};
use crate::field::wit128;

/// Pairs per row.
pub const PER_ROW: usize = LANES / 2;

/// Selectors of the dot chip (its columns are the shared [`Columns`]).
#[derive(Clone, Debug)]
pub struct DotConfig {
    cols: Columns,
    q_first: Selector,
    q_next: Selector,
}

/// The advice × advice dot-product chip.
#[derive(Clone, Debug)]
pub struct DotChip {
    config: DotConfig,
}

/// Rows of a dot product of length `n`.
pub fn rows_for(n: usize) -> usize {
    n.div_ceil(PER_ROW).max(1)
}

impl DotChip {
    /// Wraps a configuration.
    pub fn construct(config: DotConfig) -> Self {
        Self { config }
    }

    /// Creates the two accumulation gates.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: Columns) -> DotConfig {
        let row_sum = move |m: &mut halo2_proofs::plonk::VirtualCells<'_, Fr>| {
            (0..PER_ROW).fold(Expression::Constant(Fr::zero()), |acc, i| {
                acc + m.query_advice(cols.lanes[i], Rotation::cur())
                    * m.query_advice(cols.lanes[PER_ROW + i], Rotation::cur())
            })
        };
        let (q_first, q_next) = accumulation_gates(meta, "dot", cols.acc, None, row_sum);
        DotConfig {
            cols,
            q_first,
            q_next,
        }
    }

    /// Lays out `Σ x_i·y_i` from `offset`: `xs` are copied, `ys` assigned here (fresh witness).
    /// Returns the result, the cells holding `ys`, and the rows used. `tamper` adds one to the
    /// result (negative tests only).
    pub fn dot(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        ys: &[Option<i64>],
        tamper: bool,
    ) -> Result<(Var, Vec<Var>, usize), Error> {
        let ys: Vec<Operand> = ys.iter().map(|&y| Operand::Fresh(y)).collect();
        self.dot_of(region, offset, xs, &ys, tamper)
    }

    /// Lays out `Σ x_i·y_i` from `offset` with both sides copied from earlier cells (private
    /// weights against activations). Returns the result and the rows used.
    pub fn dot_copied(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        ys: &[Var],
        tamper: bool,
    ) -> Result<(Var, usize), Error> {
        let ys: Vec<Operand> = ys.iter().map(|&y| Operand::Copy(y)).collect();
        let (v, _, rows) = self.dot_of(region, offset, xs, &ys, tamper)?;
        Ok((v, rows))
    }

    fn dot_of(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        ys: &[Operand],
        tamper: bool,
    ) -> Result<(Var, Vec<Var>, usize), Error> {
        debug_assert_eq!(xs.len(), ys.len());
        let cols = &self.config.cols;
        let rows = rows_for(xs.len());
        let mut acc = Some(0i128);
        let mut y_cells = Vec::with_capacity(ys.len());
        let mut out = None;
        for r in 0..rows {
            let row = offset + r;
            for lane in 0..PER_ROW {
                let i = r * PER_ROW + lane;
                if let (Some(x), Some(y)) = (xs.get(i), ys.get(i)) {
                    assign(region, cols.lanes[lane], row, x.value, Some(x.cell));
                    let (value, copy_of) = match *y {
                        Operand::Fresh(v) => (v, None),
                        Operand::Copy(v) => (v.value, Some(v.cell)),
                    };
                    let y = assign(region, cols.lanes[PER_ROW + lane], row, value, copy_of);
                    y_cells.push(y);
                    acc = acc
                        .zip(x.value)
                        .zip(y.value)
                        .map(|((a, x), y)| a + i128::from(x) * i128::from(y));
                } else {
                    assign(region, cols.lanes[lane], row, Some(0), None);
                    assign(region, cols.lanes[PER_ROW + lane], row, Some(0), None);
                }
            }
            if r == 0 {
                self.config.q_first.enable(region, row)?;
            } else {
                self.config.q_next.enable(region, row)?;
            }
            let last = r + 1 == rows;
            let value = if last && tamper {
                acc.map(|a| a + 1)
            } else {
                acc
            };
            let cell = region.assign_advice(cols.acc, row, wit128(value)).cell();
            if last {
                let value = value
                    .map(|v| i64::try_from(v).map_err(|_| Error::Synthesis))
                    .transpose()?;
                out = Some(Var { cell, value });
            }
        }
        out.map(|v| (v, y_cells, rows)).ok_or(Error::Synthesis)
    }
}

/// The second factor of a pair: a fresh witness value or a copy of an assigned cell.
#[derive(Clone, Copy, Debug)]
enum Operand {
    Fresh(Option<i64>),
    Copy(Var),
}
