//! Dot products with weights in fixed columns: `LANES` multiply-accumulates per row.
//!
//! Row `j` of one output's dot product holds `LANES` inputs (copies of the previous tensor's
//! cells) beside `LANES` weights (fixed, so baked into the verifying key), and the accumulator:
//! `acc_0 = bias + Σ_i x_{0,i}·w_{0,i}` on the first row, `acc_j = acc_{j−1} + Σ_i x_{j,i}·w_{j,i}`
//! after it. The last row's accumulator is the output cell. Rows = ceil(k / LANES) per output.

use halo2_proofs::circuit::{Cell, Region};
use halo2_proofs::plonk::{ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use super::{accumulation_gates, assign, assign_fe, Columns, FVar, Var, LANES};
use crate::commit::Packing;
use crate::field::{fe, wit128};

/// Selectors of the Gemm chip (its columns are the shared [`Columns`]).
#[derive(Clone, Debug)]
pub struct GemmConfig {
    /// Shared main-band columns.
    pub cols: Columns,
    /// First row of a dot product (starts from the bias).
    pub q_first: Selector,
    /// Later rows (continue from the accumulator above).
    pub q_next: Selector,
}

/// What the Gemm chip does.
pub trait GemmInstructions {
    /// Lays out `bias + Σ x_i·w_i` from `offset`; returns the accumulator cell and rows used.
    /// `tamper` adds one to the final accumulator (negative tests only).
    fn dot(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        weights: &[i64],
        bias: i64,
        tamper: bool,
    ) -> Result<(Var, usize), Error>;
}

/// The Gemm chip.
#[derive(Clone, Debug)]
pub struct GemmChip {
    config: GemmConfig,
}

/// Rows one dot product of length `k` uses.
pub fn rows_for(k: usize) -> usize {
    k.div_ceil(LANES).max(1)
}

impl GemmChip {
    /// Wraps a configuration.
    pub fn construct(config: GemmConfig) -> Self {
        Self { config }
    }

    /// Creates the two accumulation gates over the shared columns.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: Columns) -> GemmConfig {
        let row_sum = move |m: &mut halo2_proofs::plonk::VirtualCells<'_, Fr>| {
            (0..LANES).fold(Expression::Constant(Fr::zero()), |acc, i| {
                acc + m.query_advice(cols.lanes[i], Rotation::cur())
                    * m.query_fixed(cols.consts[i], Rotation::cur())
            })
        };
        let (q_first, q_next) =
            accumulation_gates(meta, "gemm", cols.acc, Some(cols.bias), row_sum);
        GemmConfig {
            cols,
            q_first,
            q_next,
        }
    }
}

impl GemmChip {
    /// Packs `xs` into field elements by `packing`: one first-row dot product per element, with
    /// the slot weights `2^(slot_bits·i)` as fixed constants and the slot offsets as the bias.
    /// Returns the packed cells and rows used ([`Packing::pack`] is the native twin).
    pub fn pack(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        packing: &Packing,
    ) -> Result<(Vec<FVar>, usize), Error> {
        let lanes: Vec<(Option<i64>, Option<Cell>)> =
            xs.iter().map(|x| (x.value, Some(x.cell))).collect();
        let (_, packed, rows) = self.pack_lanes(region, offset, &lanes, packing)?;
        Ok((packed, rows))
    }

    /// [`Self::pack`] of fresh witness values (private weights): the packing rows are where the
    /// values live. Returns their cells, the packed cells and rows used.
    pub fn pack_values(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        values: &[Option<i64>],
        packing: &Packing,
    ) -> Result<(Vec<Var>, Vec<FVar>, usize), Error> {
        let lanes: Vec<(Option<i64>, Option<Cell>)> = values.iter().map(|&v| (v, None)).collect();
        self.pack_lanes(region, offset, &lanes, packing)
    }

    fn pack_lanes(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[(Option<i64>, Option<Cell>)],
        packing: &Packing,
    ) -> Result<(Vec<Var>, Vec<FVar>, usize), Error> {
        let cols = &self.config.cols;
        let mut cells = Vec::with_capacity(xs.len());
        let mut out = Vec::new();
        for (r, chunk) in xs.chunks(packing.per_element).enumerate() {
            let row = offset + r;
            let bias = packing.element_offset(chunk.len());
            let mut value = Some(bias);
            for lane in 0..LANES {
                match chunk.get(lane) {
                    Some(&(x, copy_of)) => {
                        cells.push(assign(region, cols.lanes[lane], row, x, copy_of));
                        let w = packing.slot_weight(lane);
                        region.assign_fixed(cols.consts[lane], row, w);
                        value = value.zip(x).map(|(acc, v)| acc + fe(v) * w);
                    }
                    None => {
                        assign(region, cols.lanes[lane], row, Some(0), None);
                    }
                }
            }
            region.assign_fixed(cols.bias, row, bias);
            self.config.q_first.enable(region, row)?;
            out.push(assign_fe(region, cols.acc, row, value));
        }
        let rows = out.len();
        Ok((cells, out, rows))
    }
}

impl GemmInstructions for GemmChip {
    fn dot(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        weights: &[i64],
        bias: i64,
        tamper: bool,
    ) -> Result<(Var, usize), Error> {
        debug_assert_eq!(xs.len(), weights.len());
        let cols = &self.config.cols;
        let rows = rows_for(xs.len());
        let mut acc: Option<i128> = Some(i128::from(bias));
        let mut out = None;
        for r in 0..rows {
            let row = offset + r;
            let lo = r * LANES;
            let hi = (lo + LANES).min(xs.len());
            for lane in 0..LANES {
                let i = lo + lane;
                if i < hi {
                    let x = assign(region, cols.lanes[lane], row, xs[i].value, Some(xs[i].cell));
                    region.assign_fixed(cols.consts[lane], row, fe(weights[i]));
                    acc = acc
                        .zip(x.value)
                        .map(|(a, v)| a + i128::from(v) * i128::from(weights[i]));
                } else {
                    assign(region, cols.lanes[lane], row, Some(0), None);
                }
            }
            if r == 0 {
                region.assign_fixed(cols.bias, row, fe(bias));
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
                let value = value.map(|v| i64::try_from(v).map_err(|_| Error::Synthesis));
                let value = value.transpose()?;
                out = Some(Var { cell, value });
            }
        }
        out.map(|v| (v, rows)).ok_or(Error::Synthesis)
    }
}
