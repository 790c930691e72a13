//! Range checks by limb lookup: `value + offset ∈ [0, 2^bits)` exactly.
//!
//! A check of `b` bits takes `n = max(1, ceil(b / LIMB_BITS))` limbs, laid out down the `limb`
//! column (one row each), every one looked up in a table of `0..2^LIMB_BITS`. The gate for `n`
//! recomposes `value + offset = Σ limb_i · 2^(LIMB_BITS·i)`. When `b` is not a multiple of
//! `LIMB_BITS`, one more row holds the top limb times `2^(LIMB_BITS·n − b)`, also looked up, so
//! the top limb is `< 2^(b − LIMB_BITS·(n−1))` and the bound is exactly `2^b`; the gate's top-limb
//! constraint is multiplied by that fixed shift, so a whole-limb check (shift 0) has no extra row.
//! A check costs `n` or `n + 1` rows of the range-check band, which runs beside the main band.

use halo2_proofs::circuit::{Layouter, Region, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Selector, TableColumn,
};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use super::{assign, RangeRequest};
use crate::field::{fe, fe128, wit128};

/// Bits per limb; the table has `2^LIMB_BITS` rows (small enough never to set `k` on its own
/// beyond 2^9).
pub const LIMB_BITS: u32 = 8;
/// Most limbs one check may use.
pub const MAX_LIMBS: usize = 8;
/// Widest check supported.
pub const MAX_BITS: u32 = LIMB_BITS * MAX_LIMBS as u32;
/// Rows of the lookup table.
pub const TABLE_ROWS: usize = 1 << LIMB_BITS;

/// Columns, selectors and table of the range-check chip.
#[derive(Clone, Debug)]
pub struct RangeCheckConfig {
    /// The checked value (a copy of the original cell).
    pub value: Column<Advice>,
    /// Limbs, one per row.
    pub limb: Column<Advice>,
    /// Offset added to the value.
    pub offset: Column<Fixed>,
    /// `2^(LIMB_BITS·n − b)`: the top-limb multiplier.
    pub shift: Column<Fixed>,
    /// `0..2^LIMB_BITS`.
    pub table: TableColumn,
    /// `q_limbs[n-1]` enables the recomposition gate of `n` limbs.
    pub q_limbs: Vec<Selector>,
    /// Enables the limb lookup.
    pub q_lookup: Selector,
}

/// What the range-check chip does.
pub trait RangeCheckInstructions {
    /// Loads the limb table.
    fn load_table(&self, layouter: &mut impl Layouter<Fr>) -> Result<(), Error>;
    /// Lays out one check at `offset` of the range-check band; returns the rows used.
    fn check(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        req: &RangeRequest,
    ) -> Result<usize, Error>;
}

/// The range-check chip.
#[derive(Clone, Debug)]
pub struct RangeCheckChip {
    config: RangeCheckConfig,
}

/// Limbs used for a check of `bits` bits.
pub fn limbs_for(bits: u32) -> usize {
    (bits.div_ceil(LIMB_BITS) as usize).max(1)
}

/// Rows of the range-check band one check of `bits` bits uses.
pub fn rows_for(bits: u32) -> usize {
    limbs_for(bits) + usize::from(!is_whole_limbs(bits))
}

/// True when `bits` fills its limbs exactly, so the limb table alone bounds the top limb.
fn is_whole_limbs(bits: u32) -> bool {
    bits > 0 && bits.is_multiple_of(LIMB_BITS)
}

impl RangeCheckChip {
    /// Wraps a configuration.
    pub fn construct(config: RangeCheckConfig) -> Self {
        Self { config }
    }

    /// Allocates the band's columns, the table, the gates and the lookup.
    pub fn configure(meta: &mut ConstraintSystem<Fr>) -> RangeCheckConfig {
        let table = meta.lookup_table_column();
        Self::configure_on(meta, table)
    }

    /// Allocates another band's columns, gates and lookup over an existing limb `table` (which
    /// is loaded once, by the band that created it).
    pub fn configure_on(meta: &mut ConstraintSystem<Fr>, table: TableColumn) -> RangeCheckConfig {
        let value = meta.advice_column();
        meta.enable_equality(value);
        let limb = meta.advice_column();
        let offset = meta.fixed_column();
        let shift = meta.fixed_column();
        let q_lookup = meta.complex_selector();
        let q_limbs: Vec<Selector> = (0..MAX_LIMBS).map(|_| meta.selector()).collect();

        meta.lookup("range check limb", |m| {
            let q = m.query_selector(q_lookup);
            let l = m.query_advice(limb, Rotation::cur());
            vec![(q * l, table)]
        });

        for (i, &q_n) in q_limbs.iter().enumerate() {
            let n = i + 1;
            meta.create_gate(format!("range check ({n} limbs)"), |m| {
                let q = m.query_selector(q_n);
                let v = m.query_advice(value, Rotation::cur());
                let c = m.query_fixed(offset, Rotation::cur());
                let s = m.query_fixed(shift, Rotation::cur());
                let limbs: Vec<Expression<Fr>> = (0..=n)
                    .map(|r| m.query_advice(limb, Rotation(r as i32)))
                    .collect();
                let recomposed = limbs[..n].iter().enumerate().fold(
                    Expression::Constant(Fr::zero()),
                    |acc, (j, l)| {
                        acc + l.clone()
                            * Expression::Constant(fe128(1i128 << (LIMB_BITS as usize * j)))
                    },
                );
                Constraints::with_selector(
                    q,
                    [
                        ("recompose", v + c - recomposed),
                        // s = 0 marks a whole-limb check: no top-limb row follows.
                        (
                            "top limb",
                            s.clone() * (limbs[n].clone() - limbs[n - 1].clone() * s),
                        ),
                    ],
                )
            });
        }

        RangeCheckConfig {
            value,
            limb,
            offset,
            shift,
            table,
            q_limbs,
            q_lookup,
        }
    }
}

impl RangeCheckInstructions for RangeCheckChip {
    fn load_table(&self, layouter: &mut impl Layouter<Fr>) -> Result<(), Error> {
        let col = self.config.table;
        layouter.assign_table(
            || "range check table",
            |mut table| {
                for i in 0..TABLE_ROWS {
                    table.assign_cell(|| "limb", col, i, || Value::known(Fr::from(i as u64)))?;
                }
                Ok(())
            },
        )
    }

    fn check(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        req: &RangeRequest,
    ) -> Result<usize, Error> {
        let cfg = &self.config;
        if req.bits > MAX_BITS {
            return Err(Error::Synthesis);
        }
        let n = limbs_for(req.bits);
        let shift_bits = LIMB_BITS as usize * n - req.bits as usize;
        let top_row = !is_whole_limbs(req.bits);
        assign(region, cfg.value, offset, req.var.value, Some(req.var.cell));
        region.assign_fixed(cfg.offset, offset, fe(req.offset));
        let shift = if top_row {
            fe128(1i128 << shift_bits)
        } else {
            Fr::zero()
        };
        region.assign_fixed(cfg.shift, offset, shift);
        cfg.q_limbs[n - 1].enable(region, offset)?;

        // Limbs by Euclidean division, so the recomposition always holds and an out-of-range
        // value shows up as a limb (or top limb) outside the table.
        let u = req
            .var
            .value
            .map(|v| i128::from(v) + i128::from(req.offset));
        let base = 1i128 << LIMB_BITS;
        let mut rest = u;
        for i in 0..n {
            let limb = if i + 1 < n {
                rest.map(|r| r.rem_euclid(base))
            } else {
                rest
            };
            rest = rest.map(|r| r.div_euclid(base));
            region.assign_advice(cfg.limb, offset + i, wit128(limb));
            cfg.q_lookup.enable(region, offset + i)?;
            if i + 1 == n && top_row {
                let top = limb.map(|l| l * (1i128 << shift_bits));
                region.assign_advice(cfg.limb, offset + n, wit128(top));
                cfg.q_lookup.enable(region, offset + n)?;
            }
        }
        Ok(rows_for(req.bits))
    }
}
