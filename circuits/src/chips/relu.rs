//! `y = max(0, x)` with a sign bit forced by a range check.
//!
//! Four values per row, each in lanes `(x, b, y, z)`: `b(1 − b) = 0`, `y = b·x` and
//! `z = b·x + (1 − b)(−x − 1)`. The range-check band checks `z ∈ [0, 2^bits(bound))` with `bound`
//! the input's static bound, so `b = 1` forces `x ≥ 0` and `b = 0` forces `x ≤ −1`.

use halo2_proofs::circuit::Region;
use halo2_proofs::plonk::{ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use poa_runtime::quant::bits_for;

use super::{assign, Columns, RangeRequest, Var, LANES};

/// Values per row.
pub const PER_ROW: usize = LANES / 4;

/// Selector and columns of the Relu chip.
#[derive(Clone, Debug)]
pub struct ReluConfig {
    /// Shared main-band columns.
    pub cols: Columns,
    /// Enables the Relu gate on a row.
    pub q: Selector,
}

/// What the Relu chip does.
pub trait ReluInstructions {
    /// Lays out `y_i = max(0, x_i)` from `offset` for inputs bounded by `bound`.
    /// `tamper = Some(i)` (negative tests) flips element `i`'s branch bit.
    fn relu(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        bound: i64,
        tamper: Option<usize>,
    ) -> Result<(Vec<Var>, Vec<RangeRequest>, usize), Error>;
}

/// The Relu chip.
#[derive(Clone, Debug)]
pub struct ReluChip {
    config: ReluConfig,
}

/// Main-band rows for `n` values.
pub fn rows_for(n: usize) -> usize {
    n.div_ceil(PER_ROW)
}

/// Bits of the sign range check for inputs bounded by `bound`.
pub fn range_bits(bound: i64) -> u32 {
    bits_for(i128::from(bound))
}

impl ReluChip {
    /// Wraps a configuration.
    pub fn construct(config: ReluConfig) -> Self {
        Self { config }
    }

    /// Creates the Relu gate.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: Columns) -> ReluConfig {
        let q = meta.selector();
        meta.create_gate("relu", |m| {
            let q = m.query_selector(q);
            let one = Expression::Constant(Fr::one());
            let mut out: Vec<(String, Expression<Fr>)> = Vec::new();
            for s in 0..PER_ROW {
                let a = |i: usize| cols.lanes[4 * s + i];
                let x = m.query_advice(a(0), Rotation::cur());
                let b = m.query_advice(a(1), Rotation::cur());
                let y = m.query_advice(a(2), Rotation::cur());
                let z = m.query_advice(a(3), Rotation::cur());
                out.push((
                    format!("b boolean [{s}]"),
                    q.clone() * b.clone() * (one.clone() - b.clone()),
                ));
                out.push((
                    format!("y = b·x [{s}]"),
                    q.clone() * (y - b.clone() * x.clone()),
                ));
                out.push((
                    format!("z = b·x + (1-b)(-x-1) [{s}]"),
                    q.clone()
                        * (z - (b.clone() * x.clone() - (one.clone() - b) * (x + one.clone()))),
                ));
            }
            out
        });
        ReluConfig { cols, q }
    }
}

impl ReluInstructions for ReluChip {
    fn relu(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        bound: i64,
        tamper: Option<usize>,
    ) -> Result<(Vec<Var>, Vec<RangeRequest>, usize), Error> {
        let cols = &self.config.cols;
        let rows = rows_for(xs.len());
        let bits = range_bits(bound);
        let mut outs = Vec::with_capacity(xs.len());
        let mut reqs = Vec::with_capacity(xs.len());
        for row_i in 0..rows {
            let row = offset + row_i;
            self.config.q.enable(region, row)?;
            for s in 0..PER_ROW {
                let i = row_i * PER_ROW + s;
                let a = |j: usize| cols.lanes[4 * s + j];
                if i >= xs.len() {
                    // Padding slot: x = 0, b = 1, y = 0, z = 0 satisfies the gate.
                    assign(region, a(0), row, Some(0), None);
                    assign(region, a(1), row, Some(1), None);
                    assign(region, a(2), row, Some(0), None);
                    assign(region, a(3), row, Some(0), None);
                    continue;
                }
                let x = assign(region, a(0), row, xs[i].value, Some(xs[i].cell));
                let mut b = x.value.map(|v| i64::from(v >= 0));
                if tamper == Some(i) {
                    b = b.map(|b| 1 - b);
                }
                assign(region, a(1), row, b, None);
                let y = assign(region, a(2), row, x.value.zip(b).map(|(x, b)| b * x), None);
                let z_val = x.value.zip(b).map(|(x, b)| if b == 1 { x } else { -x - 1 });
                let z = assign(region, a(3), row, z_val, None);
                reqs.push(RangeRequest {
                    var: z,
                    offset: 0,
                    bits,
                });
                outs.push(y);
            }
        }
        Ok((outs, reqs, rows))
    }
}
