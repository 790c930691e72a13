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

/// The Relu relation on `(x, b, y, z)`, without selector: `b` boolean, `y = b·x`,
/// `z = b·x + (1 − b)(−x − 1)`; the caller range-checks `z`. Also used inline by the
/// attribution score rows.
pub(crate) fn constraints(
    x: Expression<Fr>,
    b: Expression<Fr>,
    y: Expression<Fr>,
    z: Expression<Fr>,
) -> [(&'static str, Expression<Fr>); 3] {
    let one = || Expression::Constant(Fr::one());
    [
        ("b boolean", b.clone() * (one() - b.clone())),
        ("y = b·x", y - b.clone() * x.clone()),
        (
            "z = b·x + (1-b)(-x-1)",
            z - (b.clone() * x.clone() - (one() - b) * (x + one())),
        ),
    ]
}

/// The witness `(y, z)` of [`constraints`] for input `x` and branch bit `b`
/// (`b = [x ≥ 0]` when honest).
pub(crate) fn witness(x: i64, b: i64) -> (i64, i64) {
    (b * x, if b == 1 { x } else { -x - 1 })
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
            let mut out: Vec<(String, Expression<Fr>)> = Vec::new();
            for s in 0..PER_ROW {
                let [x, b, y, z] =
                    std::array::from_fn(|i| m.query_advice(cols.lanes[4 * s + i], Rotation::cur()));
                for (name, c) in constraints(x, b, y, z) {
                    out.push((format!("{name} [{s}]"), q.clone() * c));
                }
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
                let yz = x.value.zip(b).map(|(x, b)| witness(x, b));
                let y = assign(region, a(2), row, yz.map(|w| w.0), None);
                let z = assign(region, a(3), row, yz.map(|w| w.1), None);
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
