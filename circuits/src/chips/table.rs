//! Lookup-table activations (Sigmoid, Tanh) with a proven clamp, as
//! `poa_runtime::ops::Table::lookup` computes them: `y = values[clamp(x, lo, hi) − lo]`.
//!
//! One element per row in lanes `(x, x', y, bl, bh, d1, d2)`, with the table's `lo`, `hi` and id
//! in fixed lanes. The gate forces `bl`, `bh` boolean and not both set,
//! `x' = bl·lo + bh·hi + (1 − bl − bh)·x`,
//! `d1 = (1 − bl)(x − lo) + bl(lo − 1 − x)` and `d2 = (1 − bh)(hi − x) + bh(x − hi − 1)`;
//! the range-check band checks `d1, d2 ≥ 0` (in `bits(B + max(|lo|, |hi|) + 1)` bits, `B` the
//! input's static bound, so no value wraps): `bl = 1` iff `x < lo`, `bh = 1` iff `x > hi`, hence
//! `x'` is the clamp. The table is stored run-length encoded, so its size follows the number of
//! distinct outputs (≤ `2^(scale+1) + 1`), not the domain (tens of thousands of inputs at scale
//! 11): four table columns hold `(id, start, end, y)` per run of equal outputs, for every table of
//! the model, after a `(0, 0, 0, 0)` row that disabled rows hit. Lanes `(s, e, d3, d4)` hold the
//! run: `(id, s, e, y)` is looked up, `d3 = x' − s` and `d4 = e − x'` are range-checked in
//! `bits(hi − lo)` bits, so `s ≤ x' ≤ e` and `y` is the table's value at `x'`. The table costs
//! `1 + Σ runs` rows (deduplicated tables), one lookup argument.
//!
//! Sigmoid and Tanh tables are symmetric — `values(−x) = K − values(x)` with `K = 2^scale` or 0,
//! checked on the values ([`mirror`]) — so only the runs of `x ≥ 0` are stored, halving the
//! table. Lanes `(m, u, y⁺)` with fixed `(K, sym)`: `m` is boolean and 0 unless the table is
//! mirrored (`sym = 1`), `u = (1 − 2m)·x'` is what is looked up (`u ∈ [s, e]` with `s ≥ 0`, so
//! `m = 1` exactly when `x' < 0`; at `x' = 0` both give the same `y`), and
//! `y = y⁺ + m·(K − 2y⁺)`.

use halo2_proofs::circuit::{Layouter, Region, Value};
use halo2_proofs::plonk::{ConstraintSystem, Error, Expression, Selector, TableColumn};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use poa_runtime::ops::Table;
use poa_runtime::quant::bits_for;

use super::{assign, Columns, RangeRequest, Var};
use crate::field::fe;

/// Selector, columns and table of the Table chip.
#[derive(Clone, Debug)]
pub struct TableConfig {
    /// Shared main-band columns.
    pub cols: Columns,
    /// Enables the clamp gate and the lookup on a row.
    pub q: Selector,
    /// Table id (1-based; 0 only in the dummy row).
    pub tag: TableColumn,
    /// First input of a run.
    pub start: TableColumn,
    /// Last input of a run.
    pub end: TableColumn,
    /// Table output `values[i]`.
    pub output: TableColumn,
}

/// A deliberate fault for negative tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableTamper {
    /// Adds one to the looked-up output (the element's output follows it).
    Output,
    /// Moves a clamped `x'` one step inside the domain (with the table's value there).
    Clamp,
    /// Flips the mirror bit `m` of a mirrored table, keeping the output: `u` follows `m`,
    /// `y⁺` and the run are chosen so every gate and the lookup could hold.
    Mirror,
}

/// What the Table chip does.
pub trait TableInstructions {
    /// Loads every table of the model (ids `1..=tables.len()`).
    fn load_tables(&self, layouter: &mut impl Layouter<Fr>, tables: &[&Table])
        -> Result<(), Error>;
    /// Lays out `y_i = table.lookup(x_i)` from `offset` for inputs bounded by `bound`, with the
    /// table loaded under `id`. `tamper = Some((i, t))` faults element `i`. Returns the outputs,
    /// the range checks and the rows used.
    #[allow(clippy::too_many_arguments)]
    fn lookup(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        table: &Table,
        id: usize,
        bound: i64,
        tamper: Option<(usize, TableTamper)>,
    ) -> Result<(Vec<Var>, Vec<RangeRequest>, usize), Error>;
}

/// The Table chip.
#[derive(Clone, Debug)]
pub struct TableChip {
    config: TableConfig,
}

/// Main-band rows for `n` elements.
pub fn rows_for(n: usize) -> usize {
    n
}

/// Last input the table covers.
pub fn hi(table: &Table) -> i64 {
    table.lo + table.values.len() as i64 - 1
}

/// Bits of each clamp range check for inputs bounded by `bound`.
pub fn range_bits(table: &Table, bound: i64) -> u32 {
    let edge = i128::from(table.lo.unsigned_abs().max(hi(table).unsigned_abs()));
    bits_for(i128::from(bound) + edge + 1)
}

/// Bits of the two run-membership range checks.
pub fn run_bits(table: &Table) -> u32 {
    bits_for(i128::from(hi(table) - table.lo))
}

/// Runs `(start, end, y)` of equal consecutive outputs of `table`.
pub fn runs(table: &Table) -> Vec<(i64, i64, i64)> {
    let mut out: Vec<(i64, i64, i64)> = Vec::new();
    for (i, &v) in table.values.iter().enumerate() {
        let x = table.lo + i as i64;
        match out.last_mut() {
            Some(run) if run.2 == v => run.1 = x,
            _ => out.push((x, x, v)),
        }
    }
    out
}

/// `K` when `table` is symmetric about 0, `values(−x) = K − values(x)` over a domain `[−h, h]`
/// (Sigmoid: `K = 2^scale`; Tanh: 0), checked on every value.
pub fn mirror(table: &Table) -> Option<i64> {
    let v = &table.values;
    if table.lo != -hi(table) || v.is_empty() {
        return None;
    }
    let k = v[0] + v[v.len() - 1];
    (0..v.len() / 2)
        .all(|i| v[i] + v[v.len() - 1 - i] == k)
        .then_some(k)
}

/// The runs stored for `table`: those of `x ≥ 0` for a [mirrored](mirror) table, else all.
pub fn stored_runs(table: &Table) -> Vec<(i64, i64, i64)> {
    let all = runs(table);
    if mirror(table).is_none() {
        return all;
    }
    all.into_iter()
        .filter(|r| r.1 >= 0)
        .map(|(s, e, y)| (s.max(0), e, y))
        .collect()
}

/// Rows of the lookup table holding `tables`.
pub fn table_rows(tables: &[&Table]) -> usize {
    1 + tables.iter().map(|t| stored_runs(t).len()).sum::<usize>()
}

impl TableChip {
    /// Wraps a configuration.
    pub fn construct(config: TableConfig) -> Self {
        Self { config }
    }

    /// Creates the clamp gate, the table columns and the lookup.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: Columns) -> TableConfig {
        let q = meta.complex_selector();
        let tag = meta.lookup_table_column();
        let start = meta.lookup_table_column();
        let end = meta.lookup_table_column();
        let output = meta.lookup_table_column();
        let l = cols.lanes;
        let (x, xc, y, bl, bh, d1, d2) = (l[0], l[1], l[2], l[3], l[4], l[5], l[6]);
        let (rs, re, d3, d4) = (l[7], l[8], l[9], l[10]);
        let (mb, u, yp) = (l[11], l[12], l[13]);
        let (lo, hi, id) = (cols.consts[0], cols.consts[1], cols.consts[2]);
        let (kc, sym) = (cols.consts[3], cols.consts[4]);
        let one = || Expression::Constant(Fr::one());
        meta.create_gate("table clamp", |m| {
            let q = m.query_selector(q);
            let x = m.query_advice(x, Rotation::cur());
            let xc = m.query_advice(xc, Rotation::cur());
            let bl = m.query_advice(bl, Rotation::cur());
            let bh = m.query_advice(bh, Rotation::cur());
            let d1 = m.query_advice(d1, Rotation::cur());
            let d2 = m.query_advice(d2, Rotation::cur());
            let rs = m.query_advice(rs, Rotation::cur());
            let re = m.query_advice(re, Rotation::cur());
            let d3 = m.query_advice(d3, Rotation::cur());
            let d4 = m.query_advice(d4, Rotation::cur());
            let lo = m.query_fixed(lo, Rotation::cur());
            let hi = m.query_fixed(hi, Rotation::cur());
            let y = m.query_advice(y, Rotation::cur());
            let mb = m.query_advice(mb, Rotation::cur());
            let u = m.query_advice(u, Rotation::cur());
            let yp = m.query_advice(yp, Rotation::cur());
            let kc = m.query_fixed(kc, Rotation::cur());
            let sym = m.query_fixed(sym, Rotation::cur());
            let inside = one() - bl.clone() - bh.clone();
            let two = || Expression::Constant(Fr::from(2));
            vec![
                ("m boolean", q.clone() * mb.clone() * (one() - mb.clone())),
                (
                    "m only on mirrored tables",
                    q.clone() * (one() - sym) * mb.clone(),
                ),
                (
                    "u = ±x'",
                    q.clone() * (u.clone() - xc.clone() + two() * mb.clone() * xc.clone()),
                ),
                (
                    "y = y+ | K - y+",
                    q.clone() * (y - yp.clone() - mb * (kc - two() * yp)),
                ),
                ("bl boolean", q.clone() * bl.clone() * (one() - bl.clone())),
                ("bh boolean", q.clone() * bh.clone() * (one() - bh.clone())),
                ("not both", q.clone() * bl.clone() * bh.clone()),
                (
                    "x' = clamp(x)",
                    q.clone()
                        * (xc.clone()
                            - (bl.clone() * lo.clone()
                                + bh.clone() * hi.clone()
                                + inside * x.clone())),
                ),
                ("d3 = u - s", q.clone() * (d3 - (u.clone() - rs))),
                ("d4 = e - u", q.clone() * (d4 - (re - u))),
                (
                    "d1 = x - lo | lo - 1 - x",
                    q.clone()
                        * (d1
                            - ((one() - bl.clone()) * (x.clone() - lo.clone())
                                + bl * (lo - one() - x.clone()))),
                ),
                (
                    "d2 = hi - x | x - hi - 1",
                    q * (d2
                        - ((one() - bh.clone()) * (hi.clone() - x.clone())
                            + bh * (x - hi - one()))),
                ),
            ]
        });
        meta.lookup("table lookup", |m| {
            let q = m.query_selector(q);
            let rs = m.query_advice(rs, Rotation::cur());
            let re = m.query_advice(re, Rotation::cur());
            let yp = m.query_advice(yp, Rotation::cur());
            let id = m.query_fixed(id, Rotation::cur());
            vec![
                (q.clone() * id, tag),
                (q.clone() * rs, start),
                (q.clone() * re, end),
                (q * yp, output),
            ]
        });
        TableConfig {
            cols,
            q,
            tag,
            start,
            end,
            output,
        }
    }
}

impl TableInstructions for TableChip {
    fn load_tables(
        &self,
        layouter: &mut impl Layouter<Fr>,
        tables: &[&Table],
    ) -> Result<(), Error> {
        let cfg = &self.config;
        layouter.assign_table(
            || "activation tables",
            |mut t| {
                let mut row = 0;
                let mut put = |t: &mut halo2_proofs::circuit::Table<'_, Fr>,
                               (id, s, e, y): (i64, i64, i64, i64)|
                 -> Result<(), Error> {
                    t.assign_cell(|| "tag", cfg.tag, row, || Value::known(fe(id)))?;
                    t.assign_cell(|| "start", cfg.start, row, || Value::known(fe(s)))?;
                    t.assign_cell(|| "end", cfg.end, row, || Value::known(fe(e)))?;
                    t.assign_cell(|| "y", cfg.output, row, || Value::known(fe(y)))?;
                    row += 1;
                    Ok(())
                };
                put(&mut t, (0, 0, 0, 0))?;
                for (i, table) in tables.iter().enumerate() {
                    for (s, e, y) in stored_runs(table) {
                        put(&mut t, (i as i64 + 1, s, e, y))?;
                    }
                }
                Ok(())
            },
        )
    }

    fn lookup(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        xs: &[Var],
        table: &Table,
        id: usize,
        bound: i64,
        tamper: Option<(usize, TableTamper)>,
    ) -> Result<(Vec<Var>, Vec<RangeRequest>, usize), Error> {
        let cfg = &self.config;
        let l = cfg.cols.lanes;
        let (lo, hi) = (table.lo, hi(table));
        let bits = range_bits(table, bound);
        let rbits = run_bits(table);
        let table_runs = stored_runs(table);
        let k = mirror(table);
        let mut outs = Vec::with_capacity(xs.len());
        let mut reqs = Vec::with_capacity(4 * xs.len());
        for (i, xv) in xs.iter().enumerate() {
            let row = offset + i;
            cfg.q.enable(region, row)?;
            region.assign_fixed(cfg.cols.consts[0], row, fe(lo));
            region.assign_fixed(cfg.cols.consts[1], row, fe(hi));
            region.assign_fixed(cfg.cols.consts[2], row, fe(id as i64));
            region.assign_fixed(cfg.cols.consts[3], row, fe(k.unwrap_or(0)));
            region.assign_fixed(cfg.cols.consts[4], row, fe(i64::from(k.is_some())));
            let x = assign(region, l[0], row, xv.value, Some(xv.cell));
            let fault = tamper.and_then(|(e, t)| (e == i).then_some(t));
            let bl = x.value.map(|v| i64::from(v < lo));
            let bh = x.value.map(|v| i64::from(v > hi));
            let mut xc = x.value.map(|v| v.clamp(lo, hi));
            if fault == Some(TableTamper::Clamp) {
                xc = x.value.zip(xc).map(|(v, c)| match v {
                    v if v < lo => c + 1,
                    v if v > hi => c - 1,
                    _ => c,
                });
            }
            // Mirrored tables look negative inputs up at −x'.
            let mut mb = xc.map(|c| i64::from(k.is_some() && c < 0));
            if fault == Some(TableTamper::Mirror) {
                mb = mb.map(|m| 1 - m);
            }
            let u = xc.zip(mb).map(|(c, m)| if m == 1 { -c } else { c });
            let mut yp = u.map(|u| table.lookup(u.abs()));
            if fault == Some(TableTamper::Mirror) {
                // The y⁺ that keeps y = table(x'), from the run of |u|.
                let y = xc.map(|c| table.lookup(c));
                yp = y
                    .zip(mb)
                    .map(|(y, m)| if m == 1 { k.unwrap_or(0) - y } else { y });
            }
            if fault == Some(TableTamper::Output) {
                yp = yp.map(|y| y + 1);
            }
            // y = y⁺ + m·(K − 2y⁺): the table's value at x' (its tampered one, consistently).
            let y = yp.zip(mb).map(|(yp, m)| yp + m * (k.unwrap_or(0) - 2 * yp));
            debug_assert!(fault.is_some() || y == xc.map(|c| table.lookup(c)));
            assign(region, l[1], row, xc, None);
            let out = assign(region, l[2], row, y, None);
            assign(region, l[3], row, bl, None);
            assign(region, l[4], row, bh, None);
            let d1 = x
                .value
                .zip(bl)
                .map(|(v, b)| if b == 1 { lo - 1 - v } else { v - lo });
            let d2 = x
                .value
                .zip(bh)
                .map(|(v, b)| if b == 1 { v - hi - 1 } else { hi - v });
            for (lane, d) in [(l[5], d1), (l[6], d2)] {
                let var = assign(region, lane, row, d, None);
                reqs.push(RangeRequest {
                    var,
                    offset: 0,
                    bits,
                });
            }
            assign(region, l[11], row, mb, None);
            assign(region, l[12], row, u, None);
            assign(region, l[13], row, yp, None);
            let run = u.and_then(|c| {
                let c = c.abs();
                table_runs.iter().find(|r| r.0 <= c && c <= r.1)
            });
            let (s, e) = (run.map(|r| r.0), run.map(|r| r.1));
            assign(region, l[7], row, s, None);
            assign(region, l[8], row, e, None);
            let d3 = u.zip(s).map(|(c, s)| c - s);
            let d4 = u.zip(e).map(|(c, e)| e - c);
            for (lane, d) in [(l[9], d3), (l[10], d4)] {
                let var = assign(region, lane, row, d, None);
                reqs.push(RangeRequest {
                    var,
                    offset: 0,
                    bits: rbits,
                });
            }
            outs.push(out);
        }
        Ok((outs, reqs, rows_for(xs.len())))
    }
}
