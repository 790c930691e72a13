//! Lookup-table activations (Sigmoid, Tanh) in the dense layout, as
//! `poa_runtime::ops::Table::lookup` computes them: `y = values[clamp(x, lo, hi) − lo]`.
//!
//! Circuits whose model has a table get one more lookup ([`super::DenseParams::tables`]): a
//! fixed tag column `t` (a table's id on its lookup rows, 0 elsewhere) and table columns holding
//! `(id, id·y, id·s, id·e)` for every run `[s, e]` of equal outputs `y` of every table, after a
//! `(0, 0, 0, 0)` row. A row looks up `(t, t·x₁, t·x₂, t·x₃)`: rows with `t = 0` hit the zero
//! row, and on a lookup row `t·x = id·v` is `x = v` (the id is invertible), so one lookup serves
//! every table without a selector. Runs keep the table as long as the number of distinct
//! outputs (a few thousand at scale 11) rather than the domain (tens of thousands).
//!
//! The clamp costs nothing: the first run is stored from `min(lo, −B)` and the last to
//! `max(hi, B)`, `B` the input's static bound, so every input lies in exactly one stored run and
//! that run's output is the clamped lookup. An element is then `(y, s, e)` looked up and
//! `x − s ≥ 0`, `e − x ≥ 0` range-checked.
//!
//! Sigmoid and Tanh tables are symmetric, `values(−x) = K − values(x)`
//! ([`crate::chips::table::mirror`], here also at `x = 0`), so only the runs of `x ≥ 0` are
//! stored, the first from 0. A sign bit `m` (boolean, one row) gives `a = x − 2m·x`, which the
//! run checks place in `[s, e]` (their product term is `m·x`, so `a` needs no cell of its own):
//! `s ≥ 0` makes `a = |x|`, a wrong sign bit a negative `a`. The lookup row is also the output's
//! row, `y = K·m + y⁺ − 2m·y⁺`.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, TableColumn};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use poa_runtime::ops::Table;
use poa_runtime::quant::bits_for;

use super::ops::{Layout, Term};
use super::rows::{Equation, Var};
use crate::chips::table::{mirror as symmetric, runs, stored_runs};
use crate::field::fe;
use crate::vertical::Forge;

/// The runs `(s, e, y)` of one stored table, its edges extended to the input's bound.
pub(crate) type Runs = Vec<(i64, i64, i64)>;

/// The activation-table lookup's columns.
#[derive(Clone, Debug)]
pub struct TableConfig {
    /// The table id of a lookup row (0 on every other row).
    pub(crate) tag: Column<Fixed>,
    id: TableColumn,
    y: TableColumn,
    start: TableColumn,
    end: TableColumn,
}

impl TableConfig {
    /// Allocates the tag and table columns and the lookup of `(t, t·y, t·s, t·e)` over `lanes`.
    pub(crate) fn configure(meta: &mut ConstraintSystem<Fr>, lanes: [Column<Advice>; 3]) -> Self {
        let tag = meta.fixed_column();
        let [id, y, start, end] = std::array::from_fn(|_| meta.lookup_table_column());
        meta.lookup("activation table", |m| {
            let t = m.query_fixed(tag, Rotation::cur());
            let mut tuple = vec![(t.clone(), id)];
            for (lane, col) in lanes.into_iter().zip([y, start, end]) {
                tuple.push((t.clone() * m.query_advice(lane, Rotation::cur()), col));
            }
            tuple
        });
        Self {
            tag,
            id,
            y,
            start,
            end,
        }
    }

    /// Loads the zero row and every run of `tables` (table `i` under id `i + 1`).
    pub(crate) fn load(
        &self,
        layouter: &mut impl Layouter<Fr>,
        tables: &[Runs],
    ) -> Result<(), Error> {
        layouter.assign_table(
            || "activation tables",
            |mut t| {
                let mut row = 0;
                let zero = [(0, 0, 0)];
                let all = std::iter::once((0, &zero[..])).chain(
                    tables
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (i as u64 + 1, &r[..])),
                );
                for (id, runs) in all {
                    let id = Fr::from(id);
                    for &(s, e, y) in runs {
                        let cols = [self.id, self.y, self.start, self.end];
                        for (col, v) in cols.into_iter().zip([Fr::one(), fe(y), fe(s), fe(e)]) {
                            let v = id * v;
                            t.assign_cell(|| "activation table", col, row, || Value::known(v))?;
                        }
                        row += 1;
                    }
                }
                Ok(())
            },
        )
    }
}

/// `K` when `table` is stored mirrored: symmetric ([`crate::chips::table::mirror`]) and also at
/// `x = 0`, where a sign bit of either value must give the same output.
fn mirror(table: &Table) -> Option<i64> {
    symmetric(table).filter(|&k| 2 * table.lookup(0) == k)
}

/// The runs stored for `table` under inputs bounded by `bound`: those of `x ≥ 0` for a mirrored
/// table, else all; the outer runs reach the bound, where the runtime clamps.
fn extended_runs(table: &Table, bound: i64) -> Runs {
    let mut r = if mirror(table).is_some() {
        stored_runs(table)
    } else {
        runs(table)
    };
    if let Some(last) = r.last_mut() {
        last.1 = last.1.max(bound);
    }
    if mirror(table).is_none() {
        if let Some(first) = r.first_mut() {
            first.0 = first.0.min(-bound);
        }
    }
    r
}

/// Rows the lookup table of `tables` takes (the zero row included).
pub(crate) fn table_rows(tables: &[Runs]) -> usize {
    1 + tables.iter().map(Vec::len).sum::<usize>()
}

impl Layout {
    /// `table.lookup(x)` for `|x| ≤ bound` (see the module docs); `forge` is one of the table
    /// forgeries, applied to this element.
    pub fn table(&mut self, x: Var, table: &Table, bound: i128, forge: Option<Forge>) -> Var {
        let bound = i64::try_from(bound).unwrap_or(i64::MAX);
        let stored = extended_runs(table, bound);
        let id = match self.tables.iter().position(|t| *t == stored) {
            Some(i) => i + 1,
            None => {
                self.tables.push(stored.clone());
                self.tables.len()
            }
        };
        let k = mirror(table);
        let one = Fr::one;
        let xv = x.value_i64();
        let hi = table.lo + table.values.len() as i64 - 1;
        // The sign bit (mirrored tables), flipped by the mirror forgery.
        let bit = k.is_some() && ((xv < 0) != (forge == Some(Forge::TableMirror)));
        let b = i64::from(bit);
        let a = xv - 2 * b * xv;
        // The honest run holds |x| (mirrored) or x; the lookup's input is `a`.
        let key = if k.is_some() { xv.abs() } else { xv };
        let mut run = stored
            .iter()
            .position(|r| r.0 <= key && key <= r.1)
            .unwrap_or(0);
        if forge == Some(Forge::TableClamp) {
            // The run next to the one past the domain's edge: one step inside.
            run = if key > hi {
                run.saturating_sub(1)
            } else {
                (run + 1).min(stored.len() - 1)
            };
        }
        let (s, e, mut yp) = stored[run];
        if let (Some(Forge::TableMirror), Some(k)) = (forge, k) {
            // The forger keeps the output: `y⁺` is what the flipped sign needs.
            let y = table.lookup(xv);
            yp = if bit { k - y } else { y };
        }
        if forge == Some(Forge::TableOutput) {
            yp += 1;
        }
        let sign = k.map(|_| self.boolean(bit));
        let mut eq = Equation::default();
        match (k, sign) {
            (Some(k), Some(m)) => {
                // `y = K·m + y⁺ − 2m·y⁺`.
                eq.copy(m, fe(k));
                eq.fresh(fe(yp), one());
                eq.product(-fe(2));
            }
            _ => {
                eq.skip_to(1);
                eq.fresh(fe(yp), Fr::zero());
            }
        }
        eq.fresh(fe(s), Fr::zero());
        eq.fresh(fe(e), Fr::zero());
        let out_lane = k.map(|k| eq.fresh(fe(k * b + yp - 2 * b * yp), -one()));
        eq.lookup(id);
        let cells = self.rows.push(eq);
        let cell = |l: usize| cells[l].expect("a lookup row lane");
        let (s_cell, e_cell) = (cell(2), cell(3));
        // `a − s ≥ 0` and `e − a ≥ 0`, with `a = x − 2m·x` (mirrored) or `x`.
        let bits = bits_for(i128::from(stored[stored.len() - 1].1) - i128::from(stored[0].0));
        let bits = bits.max(1);
        let (v1, v2) = (i128::from(a - s), i128::from(e - a));
        match sign {
            Some(m) => {
                let lead = [Term::Copy(m, Fr::zero()), Term::Copy(x, one())];
                let t1 = [lead[0], lead[1], Term::Copy(s_cell, -one())];
                self.check_product(&t1, -fe(2), 0, v1, bits);
                let t2 = [lead[0], Term::Copy(x, -one()), Term::Copy(e_cell, one())];
                self.check_product(&t2, fe(2), 0, v2, bits);
            }
            None => {
                self.check(
                    &[Term::Copy(x, one()), Term::Copy(s_cell, -one())],
                    0,
                    v1,
                    bits,
                );
                self.check(
                    &[Term::Copy(e_cell, one()), Term::Copy(x, -one())],
                    0,
                    v2,
                    bits,
                );
            }
        }
        cell(out_lane.unwrap_or(1))
    }
}
