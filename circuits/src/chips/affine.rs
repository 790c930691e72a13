//! Element-wise affine maps with constant coefficients: `y = α·a + β·b + γ`.
//!
//! Covers the linear element-wise ops: `Add { shift_a, shift_b }` (`α = 2^shift_a`,
//! `β = 2^shift_b`, `γ = 0`), `AddConst` (`α = 1`, `β = 0`, `γ = c`) and `MulConst` (`α = c`,
//! `β = γ = 0`), with `c` the broadcast constant of each element. Five slots per row, each in three
//! lanes `(a, b, y)` beside three fixed lanes `(α, β, γ)`, so constants are baked into the
//! verifying key. No range check is needed: the output is an exact integer combination of bounded
//! integers, far below the field size.

use halo2_proofs::circuit::Region;
use halo2_proofs::plonk::{ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use super::{assign, Columns, Var, LANES};
use crate::field::{fe, wit128};

/// Affine maps per row.
pub const PER_ROW: usize = LANES / 3;

/// Selector and columns of the affine chip.
#[derive(Clone, Debug)]
pub struct AffineConfig {
    /// Shared main-band columns.
    pub cols: Columns,
    /// Enables the affine gate on a row.
    pub q: Selector,
}

/// One element: `alpha·a + beta·b + gamma` (`b = None` reads as 0).
#[derive(Clone, Copy, Debug)]
pub struct AffineTerm {
    /// First operand.
    pub a: Var,
    /// Second operand, if any.
    pub b: Option<Var>,
    /// Multiplier of `a`.
    pub alpha: i64,
    /// Multiplier of `b`.
    pub beta: i64,
    /// Constant term.
    pub gamma: i64,
}

/// What the affine chip does.
pub trait AffineInstructions {
    /// Lays out every term from `offset`; returns the output cells and rows used.
    /// `tamper` (negative tests) adds one to the first output.
    fn affine(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        terms: &[AffineTerm],
        tamper: bool,
    ) -> Result<(Vec<Var>, usize), Error>;
}

/// The affine chip.
#[derive(Clone, Debug)]
pub struct AffineChip {
    config: AffineConfig,
}

/// Main-band rows for `n` elements.
pub fn rows_for(n: usize) -> usize {
    n.div_ceil(PER_ROW)
}

impl AffineChip {
    /// Wraps a configuration.
    pub fn construct(config: AffineConfig) -> Self {
        Self { config }
    }

    /// Creates the affine gate.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: Columns) -> AffineConfig {
        let q = meta.selector();
        meta.create_gate("affine", |m| {
            let q = m.query_selector(q);
            let mut out: Vec<(String, Expression<Fr>)> = Vec::new();
            for s in 0..PER_ROW {
                let adv = |m: &mut halo2_proofs::plonk::VirtualCells<'_, Fr>, i: usize| {
                    m.query_advice(cols.lanes[3 * s + i], Rotation::cur())
                };
                let fix = |m: &mut halo2_proofs::plonk::VirtualCells<'_, Fr>, i: usize| {
                    m.query_fixed(cols.consts[3 * s + i], Rotation::cur())
                };
                let (a, b, y) = (adv(m, 0), adv(m, 1), adv(m, 2));
                let (alpha, beta, gamma) = (fix(m, 0), fix(m, 1), fix(m, 2));
                out.push((
                    format!("y = α·a + β·b + γ [{s}]"),
                    q.clone() * (y - alpha * a - beta * b - gamma),
                ));
            }
            out
        });
        AffineConfig { cols, q }
    }
}

impl AffineInstructions for AffineChip {
    fn affine(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        terms: &[AffineTerm],
        tamper: bool,
    ) -> Result<(Vec<Var>, usize), Error> {
        let cols = &self.config.cols;
        let rows = rows_for(terms.len());
        let mut outs = Vec::with_capacity(terms.len());
        for row_i in 0..rows {
            let row = offset + row_i;
            self.config.q.enable(region, row)?;
            for s in 0..PER_ROW {
                let i = row_i * PER_ROW + s;
                let lane = |j: usize| cols.lanes[3 * s + j];
                let Some(t) = terms.get(i) else {
                    // Padding slot: all zero (fixed lanes default to zero) satisfies the gate.
                    for j in 0..3 {
                        assign(region, lane(j), row, Some(0), None);
                    }
                    continue;
                };
                let a = assign(region, lane(0), row, t.a.value, Some(t.a.cell));
                let b = match t.b {
                    Some(b) => assign(region, lane(1), row, b.value, Some(b.cell)),
                    None => assign(region, lane(1), row, Some(0), None),
                };
                region.assign_fixed(cols.consts[3 * s], row, fe(t.alpha));
                region.assign_fixed(cols.consts[3 * s + 1], row, fe(t.beta));
                region.assign_fixed(cols.consts[3 * s + 2], row, fe(t.gamma));
                let y = a.value.zip(b.value).map(|(a, b)| {
                    i128::from(t.alpha) * i128::from(a)
                        + i128::from(t.beta) * i128::from(b)
                        + i128::from(t.gamma)
                        + i128::from(tamper && i == 0)
                });
                let cell = region.assign_advice(lane(2), row, wit128(y)).cell();
                let value = y
                    .map(|v| i64::try_from(v).map_err(|_| Error::Synthesis))
                    .transpose()?;
                outs.push(Var { cell, value });
            }
        }
        Ok((outs, rows))
    }
}
