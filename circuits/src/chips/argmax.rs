//! Index of the first maximum of a row, as `poa_runtime::ops::argmax` computes it.
//!
//! One row per element `j`, lanes `(x_j, s_j, S_j, I_j, M_j, m, e_j)` and the fixed index `j`:
//! `s` is one-hot (`s_j` boolean, `S_j = Σ_{i≤j} s_i` ends at 1), `I_j = Σ_{i≤j} s_i·i` ends at
//! the index `i*`, `M_j = Σ_{i≤j} s_i·x_i` ends at the maximum `m`, which the `m` lane carries to
//! every row. Then `e_j = m − x_j − (1 − S_j)` — `1 − S_j` is `[j < i*]` — is range-checked in
//! `bits(2·bound)` bits: `m ≥ x_j` everywhere and `m ≥ x_j + 1` before `i*` (ties go to the first).
//! MaxPool uses the same layout per window and keeps the `m` cell ([`ArgMaxInstructions::max`]).

use halo2_proofs::circuit::Region;
use halo2_proofs::plonk::{ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use poa_runtime::quant::bits_for;

use super::{assign, Columns, RangeRequest, Var};
use crate::field::fe;

/// Selectors and columns of the ArgMax chip.
#[derive(Clone, Debug)]
pub struct ArgMaxConfig {
    /// Shared main-band columns.
    pub cols: Columns,
    /// Every element row.
    pub q: Selector,
    /// The first element row.
    pub q_first: Selector,
    /// Element rows after the first.
    pub q_next: Selector,
    /// Element rows before the last.
    pub q_not_last: Selector,
    /// The last element row.
    pub q_last: Selector,
}

/// What the ArgMax chip does.
pub trait ArgMaxInstructions {
    /// Lays out the argmax of `xs` (bounded by `bound`) from `offset`; `index` is the trace's
    /// answer, `tamper` (negative tests) claims another index. Returns the index cell, the range
    /// checks and the rows used.
    #[allow(clippy::too_many_arguments)]
    fn argmax(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        index: Option<i64>,
        bound: i64,
        tamper: Option<usize>,
    ) -> Result<(Var, Vec<RangeRequest>, usize), Error>;

    /// Lays out the maximum of `xs` (bounded by `bound`) the same way, for MaxPool: `index` is
    /// the position of the first maximum (`tamper`, for negative tests, names another).
    /// Returns the maximum's cell, the range checks and the rows used.
    #[allow(clippy::too_many_arguments)]
    fn max(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        index: Option<i64>,
        bound: i64,
        tamper: Option<usize>,
    ) -> Result<(Var, Vec<RangeRequest>, usize), Error>;
}

/// The ArgMax chip.
#[derive(Clone, Debug)]
pub struct ArgMaxChip {
    config: ArgMaxConfig,
}

/// Main-band rows for a row of `n` elements.
pub fn rows_for(n: usize) -> usize {
    n
}

/// Bits of each comparison's range check for inputs bounded by `bound`.
pub fn range_bits(bound: i64) -> u32 {
    bits_for(2 * i128::from(bound))
}

impl ArgMaxChip {
    /// Wraps a configuration.
    pub fn construct(config: ArgMaxConfig) -> Self {
        Self { config }
    }

    /// Creates the ArgMax gates.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: Columns) -> ArgMaxConfig {
        let [q, q_first, q_next, q_not_last, q_last] = std::array::from_fn(|_| meta.selector());
        let l = cols.lanes;
        let (x, s, sum_s, sum_i, sum_m, m, e) = (l[0], l[1], l[2], l[3], l[4], l[5], l[6]);
        let idx = cols.consts[0];
        let one = || Expression::Constant(Fr::one());
        meta.create_gate("argmax element", |vc| {
            let q = vc.query_selector(q);
            let x = vc.query_advice(x, Rotation::cur());
            let s = vc.query_advice(s, Rotation::cur());
            let sum_s = vc.query_advice(sum_s, Rotation::cur());
            let m = vc.query_advice(m, Rotation::cur());
            let e = vc.query_advice(e, Rotation::cur());
            vec![
                ("s boolean", q.clone() * s.clone() * (one() - s)),
                ("e = m - x - (1 - S)", q * (e - (m - x - (one() - sum_s)))),
            ]
        });
        meta.create_gate("argmax first", |vc| {
            let q = vc.query_selector(q_first);
            let xv = vc.query_advice(x, Rotation::cur());
            let sv = vc.query_advice(s, Rotation::cur());
            let j = vc.query_fixed(idx, Rotation::cur());
            vec![
                (
                    "S = s",
                    q.clone() * (vc.query_advice(sum_s, Rotation::cur()) - sv.clone()),
                ),
                (
                    "I = s·j",
                    q.clone() * (vc.query_advice(sum_i, Rotation::cur()) - sv.clone() * j),
                ),
                (
                    "M = s·x",
                    q * (vc.query_advice(sum_m, Rotation::cur()) - sv * xv),
                ),
            ]
        });
        meta.create_gate("argmax next", |vc| {
            let q = vc.query_selector(q_next);
            let xv = vc.query_advice(x, Rotation::cur());
            let sv = vc.query_advice(s, Rotation::cur());
            let j = vc.query_fixed(idx, Rotation::cur());
            let cur = |vc: &mut halo2_proofs::plonk::VirtualCells<'_, Fr>, c| {
                vc.query_advice(c, Rotation::cur()) - vc.query_advice(c, Rotation::prev())
            };
            let ds = cur(vc, sum_s);
            let di = cur(vc, sum_i);
            let dm = cur(vc, sum_m);
            vec![
                ("S = S_prev + s", q.clone() * (ds - sv.clone())),
                ("I = I_prev + s·j", q.clone() * (di - sv.clone() * j)),
                ("M = M_prev + s·x", q * (dm - sv * xv)),
            ]
        });
        meta.create_gate("argmax carry max", |vc| {
            let q = vc.query_selector(q_not_last);
            let here = vc.query_advice(m, Rotation::cur());
            let next = vc.query_advice(m, Rotation::next());
            vec![("m = m_next", q * (here - next))]
        });
        meta.create_gate("argmax last", |vc| {
            let q = vc.query_selector(q_last);
            let sum_s = vc.query_advice(sum_s, Rotation::cur());
            let sum_m = vc.query_advice(sum_m, Rotation::cur());
            let m = vc.query_advice(m, Rotation::cur());
            vec![
                ("one-hot: S = 1", q.clone() * (sum_s - one())),
                ("m = M", q * (m - sum_m)),
            ]
        });
        ArgMaxConfig {
            cols,
            q,
            q_first,
            q_next,
            q_not_last,
            q_last,
        }
    }
}

impl ArgMaxInstructions for ArgMaxChip {
    fn argmax(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        index: Option<i64>,
        bound: i64,
        tamper: Option<usize>,
    ) -> Result<(Var, Vec<RangeRequest>, usize), Error> {
        let (idx, _, reqs, rows) = self.layout(region, offset, xs, index, bound, tamper)?;
        Ok((idx, reqs, rows))
    }

    fn max(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        index: Option<i64>,
        bound: i64,
        tamper: Option<usize>,
    ) -> Result<(Var, Vec<RangeRequest>, usize), Error> {
        let (_, max, reqs, rows) = self.layout(region, offset, xs, index, bound, tamper)?;
        Ok((max, reqs, rows))
    }
}

/// The index cell, the maximum cell, the range checks and the rows used.
type Laid = (Var, Var, Vec<RangeRequest>, usize);

impl ArgMaxChip {
    fn layout(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        index: Option<i64>,
        bound: i64,
        tamper: Option<usize>,
    ) -> Result<Laid, Error> {
        let cfg = &self.config;
        let l = cfg.cols.lanes;
        let n = xs.len();
        let bits = range_bits(bound);
        let index = match tamper {
            Some(t) => index.map(|_| t as i64),
            None => index,
        };
        let max = index.and_then(|i| xs.get(i as usize).and_then(|v| v.value));
        let mut reqs = Vec::with_capacity(n);
        let (mut sum_s, mut sum_i, mut sum_m) = (Some(0i64), Some(0i64), Some(0i64));
        let mut out = None;
        for (j, xv) in xs.iter().enumerate() {
            let row = offset + j;
            let x = assign(region, l[0], row, xv.value, Some(xv.cell));
            let s = index.map(|i| i64::from(i == j as i64));
            assign(region, l[1], row, s, None);
            sum_s = sum_s.zip(s).map(|(a, s)| a + s);
            sum_i = sum_i.zip(s).map(|(a, s)| a + s * j as i64);
            sum_m = sum_m.zip(s).zip(x.value).map(|((a, s), x)| a + s * x);
            assign(region, l[2], row, sum_s, None);
            let idx_var = assign(region, l[3], row, sum_i, None);
            assign(region, l[4], row, sum_m, None);
            let m_var = assign(region, l[5], row, max, None);
            let e_val = max
                .zip(x.value)
                .zip(sum_s)
                .map(|((m, x), ss)| m - x - (1 - ss));
            let e = assign(region, l[6], row, e_val, None);
            region.assign_fixed(cfg.cols.consts[0], row, fe(j as i64));
            reqs.push(RangeRequest {
                var: e,
                offset: 0,
                bits,
            });
            cfg.q.enable(region, row)?;
            if j == 0 {
                cfg.q_first.enable(region, row)?;
            } else {
                cfg.q_next.enable(region, row)?;
            }
            if j + 1 < n {
                cfg.q_not_last.enable(region, row)?;
            } else {
                cfg.q_last.enable(region, row)?;
                out = Some((idx_var, m_var));
            }
        }
        out.map(|(i, m)| (i, m, reqs, rows_for(n)))
            .ok_or(Error::Synthesis)
    }
}
