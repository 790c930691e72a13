//! Rounded division by a constant `d`: `x + floor(d/2) = y·d + r` with `0 ≤ r < d`.
//!
//! Four divisions per row, each in four lanes `(x, y, r, r')` with `r' = d − 1 − r`; the row's
//! fixed lanes hold `d`, `floor(d/2)` and `d − 1`. Range checks requested (range-check band):
//! `r` in `bits(d − 1)` bits, and for a `d` that is not a power of two also `r'` (so `r ≤ d − 1`);
//! and, when `check_quotient` is set, `y + B` in `bits(2B)` bits, `B` the output's static bound,
//! so `y` is the integer quotient and not a field element that satisfies the equation for another
//! `r`. The caller may skip that check only where `y` is pinned otherwise: an input only of Relu
//! (whose sign check bounds `y` to a small integer range, which fixes it as the quotient). A
//! public output is *not* pinned: the prover chooses the instance, and `y = q' + ρ·d⁻¹` with
//! `r = (x + ⌊d/2⌋ − ρ) mod d` satisfies the gate for any offset `ρ` (the
//! [`DivForge::Rounding`] forgery), so the model output's quotients are checked too.

use halo2_proofs::circuit::Region;
use halo2_proofs::plonk::{ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use poa_runtime::quant::bits_for;

use super::{assign, assign_fe, Columns, RangeRequest, Var, LANES};
use crate::field::fe;

/// Divisions per row.
pub const PER_ROW: usize = LANES / 4;

/// Selector and columns of the DivRound chip.
#[derive(Clone, Debug)]
pub struct DivRoundConfig {
    /// Shared main-band columns.
    pub cols: Columns,
    /// Enables the division gate on a row.
    pub q: Selector,
}

/// What the DivRound chip does.
pub trait DivRoundInstructions {
    /// Lays out `y_i = div_round(x_i, d)` from `offset`, with `ys` the trace's quotients;
    /// `out_bound = Some(B)` also range-checks each quotient in `[−B, B]`.
    /// Returns the quotient cells, the range checks to lay out, and the rows used.
    /// `forge` (negative tests only) changes the witness as [`DivForge`] says.
    #[allow(clippy::too_many_arguments)]
    fn div_round(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        ys: &[Option<i64>],
        divisor: i64,
        out_bound: Option<i64>,
        forge: Option<DivForge>,
    ) -> Result<(Vec<Var>, Vec<RangeRequest>, usize), Error>;
}

/// A forged division witness, for negative tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DivForge {
    /// The first quotient one less, so its remainder grows by `d`.
    LowerFirst,
    /// Every quotient rounded with offset `ρ`: `r = (x + ⌊d/2⌋ − ρ) mod d` and
    /// `y = ⌊(x + ⌊d/2⌋ − ρ)/d⌋ + ρ·d⁻¹` (a field element), which satisfies the division gate
    /// with an in-range remainder; only the quotient's range check rejects it.
    Rounding(i64),
}

/// The field element `y` and remainder `r` of [`DivForge::Rounding`] for one division.
pub fn rounding_forgery(x: i64, divisor: i64, rho: i64) -> (Fr, i64) {
    let t = x + divisor / 2 - rho;
    let r = t.rem_euclid(divisor);
    let d_inv: Fr = Option::from(fe(divisor).invert()).unwrap_or_else(Fr::zero);
    (fe((t - r) / divisor) + fe(rho) * d_inv, r)
}

/// The DivRound chip.
#[derive(Clone, Debug)]
pub struct DivRoundChip {
    config: DivRoundConfig,
}

/// Main-band rows for `n` divisions.
pub fn rows_for(n: usize) -> usize {
    n.div_ceil(PER_ROW)
}

/// Range checks requested for `n` divisions by `d` (their count and bit widths).
pub fn range_bits(n: usize, divisor: i64, out_bound: Option<i64>) -> Vec<u32> {
    let r_bits = bits_for(i128::from(divisor - 1));
    let mut per = vec![r_bits];
    if !(divisor as u64).is_power_of_two() {
        per.push(r_bits);
    }
    if let Some(b) = out_bound {
        per.push(bits_for(2 * i128::from(b)));
    }
    (0..n).flat_map(|_| per.clone()).collect()
}

impl DivRoundChip {
    /// Wraps a configuration.
    pub fn construct(config: DivRoundConfig) -> Self {
        Self { config }
    }

    /// Creates the division gate.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: Columns) -> DivRoundConfig {
        let q = meta.selector();
        meta.create_gate("div_round", |m| {
            let q = m.query_selector(q);
            let d = m.query_fixed(cols.consts[0], Rotation::cur());
            let half = m.query_fixed(cols.consts[1], Rotation::cur());
            let dm1 = m.query_fixed(cols.consts[2], Rotation::cur());
            let mut out: Vec<(String, Expression<Fr>)> = Vec::new();
            for s in 0..PER_ROW {
                let a = |i: usize| cols.lanes[4 * s + i];
                let x = m.query_advice(a(0), Rotation::cur());
                let y = m.query_advice(a(1), Rotation::cur());
                let r = m.query_advice(a(2), Rotation::cur());
                let rc = m.query_advice(a(3), Rotation::cur());
                out.push((
                    format!("x + d/2 = y·d + r [{s}]"),
                    q.clone() * (x + half.clone() - y * d.clone() - r.clone()),
                ));
                out.push((
                    format!("r' = d - 1 - r [{s}]"),
                    q.clone() * (rc - (dm1.clone() - r)),
                ));
            }
            out
        });
        DivRoundConfig { cols, q }
    }
}

impl DivRoundInstructions for DivRoundChip {
    fn div_round(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        ys: &[Option<i64>],
        divisor: i64,
        out_bound: Option<i64>,
        forge: Option<DivForge>,
    ) -> Result<(Vec<Var>, Vec<RangeRequest>, usize), Error> {
        let cols = &self.config.cols;
        let d = i128::from(divisor);
        let half = d / 2;
        let rows = rows_for(xs.len());
        let r_bits = bits_for(d - 1);
        let y_bits = out_bound.map(|b| bits_for(2 * i128::from(b)));
        let pow2 = (divisor as u64).is_power_of_two();
        let mut outs = Vec::with_capacity(xs.len());
        let mut reqs = Vec::new();
        for row_i in 0..rows {
            let row = offset + row_i;
            region.assign_fixed(cols.consts[0], row, fe(divisor));
            region.assign_fixed(cols.consts[1], row, fe(divisor / 2));
            region.assign_fixed(cols.consts[2], row, fe(divisor - 1));
            self.config.q.enable(region, row)?;
            for s in 0..PER_ROW {
                let i = row_i * PER_ROW + s;
                let a = |j: usize| cols.lanes[4 * s + j];
                if i >= xs.len() {
                    // Padding slot: 0 / d = 0 remainder floor(d/2); satisfies the gate, unused.
                    assign(region, a(0), row, Some(0), None);
                    assign(region, a(1), row, Some(0), None);
                    assign(region, a(2), row, Some(divisor / 2), None);
                    assign(region, a(3), row, Some(divisor - 1 - divisor / 2), None);
                    continue;
                }
                let x = assign(region, a(0), row, xs[i].value, Some(xs[i].cell));
                let y_val = if forge == Some(DivForge::LowerFirst) && i == 0 {
                    ys[i].map(|y| y - 1)
                } else {
                    ys[i]
                };
                let (y, r_val) = match (forge, x.value) {
                    (Some(DivForge::Rounding(rho)), Some(xv)) => {
                        let (y_fe, r) = rounding_forgery(xv, divisor, rho);
                        let y = assign_fe(region, a(1), row, Some(y_fe));
                        // The value downstream witness generation reads; the cell holds `y_fe`.
                        let y = Var {
                            cell: y.cell,
                            value: y_val,
                        };
                        (y, Some(r))
                    }
                    _ => {
                        let y = assign(region, a(1), row, y_val, None);
                        let r_val = x
                            .value
                            .zip(y_val)
                            .map(|(x, y)| i128::from(x) + half - i128::from(y) * d);
                        let r_val = r_val.map(|r| i64::try_from(r).map_err(|_| Error::Synthesis));
                        (y, r_val.transpose()?)
                    }
                };
                let r = assign(region, a(2), row, r_val, None);
                let rc = assign(region, a(3), row, r_val.map(|r| divisor - 1 - r), None);
                reqs.push(RangeRequest {
                    var: r,
                    offset: 0,
                    bits: r_bits,
                });
                if !pow2 {
                    reqs.push(RangeRequest {
                        var: rc,
                        offset: 0,
                        bits: r_bits,
                    });
                }
                if let (Some(b), Some(bits)) = (out_bound, y_bits) {
                    reqs.push(RangeRequest {
                        var: y,
                        offset: b,
                        bits,
                    });
                }
                outs.push(y);
            }
        }
        Ok((outs, reqs, rows))
    }
}
