//! The top-k attribution chip: per-entry score rows, the published slots, and the pinned
//! constants of the statement.
//!
//! **Score rows**, one per index entry `i`, contiguous (lanes; `label`, `contributor` and `k`
//! are shared fixed lanes, `tag = i + 1` a fixed column of its own):
//!
//! | lane | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 |
//! |---|---|---|---|---|---|---|---|---|---|---|---|---|---|
//! | | dot | b | r | z | ŷ | inv | eq | s | sel | cnt | τ | f | e |
//!
//! `dot` is a copy of the entry's Gemm accumulator `⟨φ_i, φ(x)⟩`; `b`, `r = b·dot`,
//! `z = b·dot + (1−b)(−dot−1)` with `z` range-checked is the Relu of the Relu chip;
//! `eq = [label = ŷ]` by `eq·(label − ŷ) = 0`, `eq = 1 − (label − ŷ)·inv`; `s = eq·r`;
//! `sel` boolean with its running count `cnt` ending at `k`. The threshold: `τ` (carried equal
//! down the rows) and a boolean `f` that may only step from 0 to 1, once (`f_i = [i > p]`, `p`
//! the last selected entry scoring exactly τ), with
//! `e = sel·(s − τ − f) + (1 − sel)·(τ − s − 1 + f)` range-checked: a selected entry scores
//! above τ, or τ at or before `p`; an unselected one below τ, or τ after `p`. So the selected set
//! is the k best by score, ties to the lower index, and each comparison needs only the score's
//! bits (not an index-extended key).
//!
//! **Slot rows**, one per published entry `t` (best first): lanes `(idx, contributor, score,
//! key, diff)`, `key = score·M + M − (idx + 1)` (`M = 2^⌈log₂ N⌉`: by score, then lower index),
//! `diff = key − key_next − 1` range-checked (strictly decreasing, so the slots are k distinct
//! entries in the runtime's order), `idx` range-checked (so `idx + 1 ≠ 0`), and the lookup
//! `(idx + 1, 1, contributor, score) ∈ {(tag, sel, contributor, s)}` over every row: only score
//! rows have a non-zero tag, so each slot is a selected entry with its true contributor and
//! score. k distinct selected entries out of exactly k selected: the slots are the top-k.
//!
//! Lanes 13 and 14 hold the entry's label and contributor as witness: pinned to fixed columns
//! for a fixed index, copied into the entry's Poseidon leaf for a hashed one; the `eq` gate and
//! the slot lookup read them.
//!
//! **Pin row**: lanes 0..5 equal fixed constants ([`PINS`]), copied where needed.

use halo2_proofs::circuit::Region;
use halo2_proofs::plonk::{
    Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Selector, VirtualCells,
};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use super::{address_fe, AttributionSetup, AttributionWitness};
use crate::chips::{assign, assign_fe, relu, Columns, FVar, RangeRequest, Var};
use crate::field::{fe, fe128};
use crate::visibility::IndexVisibility;

// Score-row lanes.
const DOT: usize = 0;
const B: usize = 1;
const R: usize = 2;
const Z: usize = 3;
const CLS: usize = 4;
const INV: usize = 5;
const EQ: usize = 6;
const S: usize = 7;
const SEL: usize = 8;
const CNT: usize = 9;
const TAU: usize = 10;
const F: usize = 11;
const E: usize = 12;
/// The entry's label and contributor as witness cells (equal to fixed constants for a fixed
/// index; copied into the entry's leaf hash for a hashed one).
const LABEL_W: usize = 13;
const CONTRIB_W: usize = 14;
// Shared fixed lanes.
const LABEL: usize = 0;
const BASE: usize = 1;
const CONTRIB: usize = 2;
const K: usize = 3;
// Slot-row lanes.
const IDX: usize = 0;
const ADDR: usize = 1;
const SCORE: usize = 2;
const SKEY: usize = 3;
const DIFF: usize = 4;
/// Values the pin row holds: model id, adapter id, index root (fixed indexes; else 0), zero
/// (the input commitment of non-hashed inputs, and the Merkle tree's odd-node sibling), and the
/// index's entry count (hashed into its Merkle root).
pub const PINS: usize = 5;

/// Columns, selectors and the entry-tag column of the top-k chip.
#[derive(Clone, Debug)]
pub struct TopKConfig {
    cols: Columns,
    /// `i + 1` on entry `i`'s score row, zero on every other row.
    tag: Column<Fixed>,
    q_score: Selector,
    q_first: Selector,
    q_next: Selector,
    q_last: Selector,
    q_slot: Selector,
    q_slot_next: Selector,
    q_pin: Selector,
    q_fixed_entry: Selector,
}

/// A deliberate fault in the attribution witness (negative tests only).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopKTamper {
    /// Adds one to entry `entry`'s score on its score row.
    EntryScore(usize),
    /// Adds one to the first slot's contributor.
    SlotContributor,
    /// Adds one to the first slot's score (its key follows, so only the lookup can object).
    SlotScore,
}

/// The top-k chip.
#[derive(Clone, Debug)]
pub struct TopKChip {
    config: TopKConfig,
}

/// Main-band rows of the score and slot rows of `n` entries and `k` slots, plus the pin row and
/// an all-zero row (the lookup's unselected input `(0, 0, 0, 0)` must be in its table).
pub fn rows_for(n: usize, k: usize) -> usize {
    n + k + 2
}

fn q(m: &mut VirtualCells<'_, Fr>, cols: &Columns, lane: usize, r: Rotation) -> Expression<Fr> {
    m.query_advice(cols.lanes[lane], r)
}

impl TopKChip {
    /// Wraps a configuration.
    pub fn construct(config: TopKConfig) -> Self {
        Self { config }
    }

    /// Creates the score, count, slot and pin gates and the slot lookup.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: Columns) -> TopKConfig {
        let tag = meta.fixed_column();
        let [q_score, q_first, q_next, q_last, q_pin, q_fixed_entry] =
            std::array::from_fn(|_| meta.selector());
        let q_slot = meta.complex_selector();
        let q_slot_next = meta.selector();
        let one = || Expression::Constant(Fr::one());
        let cur = Rotation::cur();

        meta.create_gate("attribution score", |m| {
            let sel_q = m.query_selector(q_score);
            let [dot, b, r, z, cls, inv, eq, s, sel, tau, f, e] =
                [DOT, B, R, Z, CLS, INV, EQ, S, SEL, TAU, F, E].map(|l| q(m, &cols, l, cur));
            let label = q(m, &cols, LABEL_W, cur);
            let diff = label - cls;
            // r = max(0, dot): the Relu chip's relation, inline on this row.
            let relu = relu::constraints(dot, b, r.clone(), z);
            Constraints::with_selector(
                sel_q,
                relu.into_iter().chain([
                    ("eq·(label - ŷ) = 0", eq.clone() * diff.clone()),
                    ("eq = 1 - (label - ŷ)·inv", eq.clone() - one() + diff * inv),
                    ("s = eq·r", s.clone() - eq * r),
                    ("sel boolean", sel.clone() * (one() - sel.clone())),
                    ("f boolean", f.clone() * (one() - f.clone())),
                    (
                        "e = sel·(s - τ - f) + (1-sel)·(τ - s - 1 + f)",
                        e - sel.clone() * (s.clone() - tau.clone() - f.clone())
                            - (one() - sel) * (tau - s - one() + f),
                    ),
                ]),
            )
        });
        meta.create_gate("attribution fixed entry", |m| {
            let qs = m.query_selector(q_fixed_entry);
            let label = q(m, &cols, LABEL_W, cur) - m.query_fixed(cols.consts[LABEL], cur);
            let contrib = q(m, &cols, CONTRIB_W, cur) - m.query_fixed(cols.consts[CONTRIB], cur);
            Constraints::with_selector(
                qs,
                [
                    ("label = fixed label", label),
                    ("contributor = fixed contributor", contrib),
                ],
            )
        });
        meta.create_gate("attribution first entry", |m| {
            let qs = m.query_selector(q_first);
            let (cnt, sel) = (q(m, &cols, CNT, cur), q(m, &cols, SEL, cur));
            vec![("cnt = sel", qs * (cnt - sel))]
        });
        meta.create_gate("attribution next entry", |m| {
            let qs = m.query_selector(q_next);
            let prev = Rotation::prev();
            let step = |m: &mut VirtualCells<'_, Fr>, l| q(m, &cols, l, cur) - q(m, &cols, l, prev);
            let (dcnt, dcls, dtau, df) = (step(m, CNT), step(m, CLS), step(m, TAU), step(m, F));
            let sel = q(m, &cols, SEL, cur);
            Constraints::with_selector(
                qs,
                [
                    ("cnt = cnt_prev + sel", dcnt - sel),
                    ("ŷ = ŷ_prev", dcls),
                    ("τ = τ_prev", dtau),
                    (
                        "f steps from 0 to 1 at most once",
                        df.clone() * (one() - df),
                    ),
                ],
            )
        });
        meta.create_gate("attribution selected count", |m| {
            let qs = m.query_selector(q_last);
            let cnt = q(m, &cols, CNT, cur);
            let k = m.query_fixed(cols.consts[K], cur);
            vec![("cnt = k", qs * (cnt - k))]
        });
        meta.create_gate("attribution slot key", |m| {
            let qs = m.query_selector(q_slot);
            let [idx, score, key] = [IDX, SCORE, SKEY].map(|l| q(m, &cols, l, cur));
            let base = m.query_fixed(cols.consts[BASE], cur);
            vec![(
                "key = score·M + M - (idx + 1)",
                qs * (key - score * base.clone() - base + idx + one()),
            )]
        });
        meta.create_gate("attribution slot order", |m| {
            let qs = m.query_selector(q_slot_next);
            let key = q(m, &cols, SKEY, cur);
            let next = q(m, &cols, SKEY, Rotation::next());
            let diff = q(m, &cols, DIFF, cur);
            vec![(
                "diff = key - key_next - 1",
                qs * (diff - key + next + one()),
            )]
        });
        meta.create_gate("attribution pinned constants", |m| {
            let qs = m.query_selector(q_pin);
            (0..PINS)
                .map(|j| {
                    let v = q(m, &cols, j, cur);
                    let c = m.query_fixed(cols.consts[j], cur);
                    ("lane = constant", qs.clone() * (v - c))
                })
                .collect::<Vec<_>>()
        });
        meta.lookup_any("attribution top-k entry", |m| {
            let qs = m.query_selector(q_slot);
            let [idx, addr, score] = [IDX, ADDR, SCORE].map(|l| q(m, &cols, l, cur));
            vec![
                (qs.clone() * (idx + one()), m.query_fixed(tag, cur)),
                (qs.clone(), q(m, &cols, SEL, cur)),
                (qs.clone() * addr, q(m, &cols, CONTRIB_W, cur)),
                (qs * score, q(m, &cols, S, cur)),
            ]
        });
        TopKConfig {
            cols,
            tag,
            q_score,
            q_first,
            q_next,
            q_last,
            q_slot,
            q_slot_next,
            q_pin,
            q_fixed_entry,
        }
    }
}

/// An entry's label and contributor cells on its score row.
pub struct EntryCells {
    /// Contributor address.
    pub contributor: FVar,
    /// Label.
    pub label: FVar,
}

/// What [`TopKChip::scores`] laid out.
pub struct ScoreRows {
    /// Per entry, its label and contributor cells.
    pub entries: Vec<EntryCells>,
    /// Relu sign range checks.
    pub signs: Vec<RangeRequest>,
    /// Threshold comparison range checks.
    pub thresholds: Vec<RangeRequest>,
    /// Rows used.
    pub rows: usize,
}

/// A published slot's cells.
pub struct SlotCells {
    /// The contributor address.
    pub contributor: FVar,
    /// The score.
    pub score: FVar,
}

fn fvar(
    region: &mut Region<'_, Fr>,
    cols: &Columns,
    lane: usize,
    row: usize,
    v: Option<Fr>,
) -> FVar {
    assign_fe(region, cols.lanes[lane], row, v)
}

impl TopKChip {
    /// Lays out the score rows from `offset`: `dots[i]` is entry `i`'s dot product cell, `class`
    /// the predicted-class cell. Returns the entries' label and contributor cells, the range
    /// checks — the Relu signs and the threshold comparisons apart, so they can go to two range
    /// bands — and the rows used.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn scores(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        setup: &AttributionSetup,
        dots: &[Var],
        class: Var,
        wit: Option<&AttributionWitness>,
        tamper: Option<TopKTamper>,
    ) -> Result<ScoreRows, Error> {
        let cfg = &self.config;
        let cols = &cfg.cols;
        let entries = &setup.index().entries;
        let n = entries.len();
        let small = |v: i128| i64::try_from(v).map_err(|_| Error::Synthesis);
        let selected: Option<Vec<bool>> = wit.map(|w| {
            let mut s = vec![false; n];
            w.top.indices.iter().for_each(|&i| s[i] = true);
            s
        });
        let tau = wit.map(|w| small(w.top.threshold)).transpose()?;
        // p: the last selected entry scoring exactly τ (f_i = [i > p]).
        let p = wit.map(|w| {
            w.top
                .indices
                .iter()
                .zip(&w.top.scores)
                .filter(|&(_, &s)| s == w.top.threshold)
                .map(|(&i, _)| i)
                .max()
                .unwrap_or(0)
        });
        let (mut signs, mut thresholds) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut entry_cells = Vec::with_capacity(n);
        let mut cnt = Some(0i64);
        for (i, (entry, dot)) in entries.iter().zip(dots).enumerate() {
            let row = offset + i;
            let label = i64::from(entry.label);
            assign(region, cols.lanes[DOT], row, dot.value, Some(dot.cell));
            let b = dot.value.map(|d| i64::from(d >= 0));
            assign(region, cols.lanes[B], row, b, None);
            let rz = dot.value.zip(b).map(|(d, b)| relu::witness(d, b));
            assign(region, cols.lanes[R], row, rz.map(|w| w.0), None);
            let z = assign(region, cols.lanes[Z], row, rz.map(|w| w.1), None);
            signs.push(RangeRequest {
                var: z,
                offset: 0,
                bits: setup.dot_bits,
            });
            let first = (i == 0).then_some(class.cell);
            let cls = assign(region, cols.lanes[CLS], row, class.value, first);
            let diff = cls.value.map(|c| fe(label - c));
            let inv = diff.map(|d| d.invert().unwrap_or(Fr::zero()));
            fvar(region, cols, INV, row, inv);
            let eq = cls.value.map(|c| i64::from(c == label));
            assign(region, cols.lanes[EQ], row, eq, None);
            let mut s = wit.map(|w| small(w.scores[i])).transpose()?;
            if tamper == Some(TopKTamper::EntryScore(i)) {
                s = s.map(|s| s + 1);
            }
            assign(region, cols.lanes[S], row, s, None);
            let sel = selected.as_ref().map(|v| i64::from(v[i]));
            assign(region, cols.lanes[SEL], row, sel, None);
            cnt = cnt.zip(sel).map(|(c, s)| c + s);
            assign(region, cols.lanes[CNT], row, cnt, None);
            assign(region, cols.lanes[TAU], row, tau, None);
            let f = p.map(|p| i64::from(i > p));
            assign(region, cols.lanes[F], row, f, None);
            let e = s.zip(tau).zip(sel).zip(f).map(|(((s, tau), sel), f)| {
                if sel == 1 {
                    s - tau - f
                } else {
                    tau - s - 1 + f
                }
            });
            let e = assign(region, cols.lanes[E], row, e, None);
            thresholds.push(RangeRequest {
                var: e,
                offset: 0,
                bits: setup.dot_bits,
            });
            let contributor = address_fe(&entry.contributor);
            let (label_w, contrib_w) = match setup.visibility() {
                IndexVisibility::Fixed => {
                    region.assign_fixed(cols.consts[LABEL], row, fe(label));
                    region.assign_fixed(cols.consts[CONTRIB], row, contributor);
                    cfg.q_fixed_entry.enable(region, row)?;
                    (Some(fe(label)), Some(contributor))
                }
                // Private: known only with the witness, bound by the leaf hash.
                IndexVisibility::Hashed => (wit.map(|_| fe(label)), wit.map(|_| contributor)),
            };
            let label_cell = fvar(region, cols, LABEL_W, row, label_w);
            let contrib_cell = fvar(region, cols, CONTRIB_W, row, contrib_w);
            entry_cells.push(EntryCells {
                contributor: contrib_cell,
                label: label_cell,
            });
            region.assign_fixed(cols.consts[K], row, fe(setup.k() as i64));
            region.assign_fixed(cfg.tag, row, fe(i as i64 + 1));
            cfg.q_score.enable(region, row)?;
            if i == 0 {
                cfg.q_first.enable(region, row)?;
            } else {
                cfg.q_next.enable(region, row)?;
            }
            if i + 1 == n {
                cfg.q_last.enable(region, row)?;
            }
        }
        Ok(ScoreRows {
            entries: entry_cells,
            signs,
            thresholds,
            rows: n,
        })
    }

    /// Lays out the `k` slots (best first) from `offset`.
    /// Returns the slots' cells, the range checks and the rows used.
    pub(crate) fn slots(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        setup: &AttributionSetup,
        wit: Option<&AttributionWitness>,
        tamper: Option<TopKTamper>,
    ) -> Result<(Vec<SlotCells>, Vec<RangeRequest>, usize), Error> {
        let cfg = &self.config;
        let cols = &cfg.cols;
        let k = setup.k();
        let base = setup.key_base();
        let entries = &setup.index().entries;
        // Keys fit i64: AttributionSetup caps them at KEY_BITS_LIMIT bits.
        let key = |s: i128, i: usize| i64::try_from(s * base + base - 1 - i as i128);
        let keys: Option<Vec<i64>> = wit
            .map(|w| {
                w.top
                    .indices
                    .iter()
                    .zip(&w.top.scores)
                    .map(|(&i, &s)| key(s, i))
                    .collect::<Result<_, _>>()
            })
            .transpose()
            .map_err(|_| Error::Synthesis)?;
        let mut out = Vec::with_capacity(k);
        let mut reqs = Vec::with_capacity(2 * k);
        for t in 0..k {
            let row = offset + t;
            let idx = wit.map(|w| w.top.indices[t]);
            let idx_var = assign(region, cols.lanes[IDX], row, idx.map(|i| i as i64), None);
            reqs.push(RangeRequest {
                var: idx_var,
                offset: 0,
                bits: setup.slot_index_bits(),
            });
            let mut addr = idx.map(|i| address_fe(&entries[i].contributor));
            let mut score = wit.map(|w| w.top.scores[t]);
            let mut slot_key = keys.as_ref().map(|ks| ks[t]);
            if t == 0 {
                match tamper {
                    Some(TopKTamper::SlotContributor) => addr = addr.map(|a| a + Fr::one()),
                    Some(TopKTamper::SlotScore) => {
                        // The key follows the score, so only the lookup can object.
                        score = score.map(|s| s + 1);
                        slot_key = slot_key.map(|k| k + base as i64);
                    }
                    _ => {}
                }
            }
            let contributor = fvar(region, cols, ADDR, row, addr);
            let score = fvar(region, cols, SCORE, row, score.map(fe128));
            assign(region, cols.lanes[SKEY], row, slot_key, None);
            region.assign_fixed(cols.consts[BASE], row, fe128(base));
            cfg.q_slot.enable(region, row)?;
            if t + 1 < k {
                let diff = slot_key.zip(keys.as_ref()).map(|(a, ks)| a - ks[t + 1] - 1);
                let diff = assign(region, cols.lanes[DIFF], row, diff, None);
                reqs.push(RangeRequest {
                    var: diff,
                    offset: 0,
                    bits: setup.key_bits,
                });
                cfg.q_slot_next.enable(region, row)?;
            }
            out.push(SlotCells { contributor, score });
        }
        Ok((out, reqs, k))
    }

    /// Lays out the pin row (each of `values` in its own lane, equal to a fixed constant) and
    /// the all-zero row after it. Returns the pinned cells and the rows used.
    pub fn pin(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        values: [Fr; PINS],
    ) -> Result<(Vec<FVar>, usize), Error> {
        let cfg = &self.config;
        let cols = &cfg.cols;
        let cells = values
            .iter()
            .enumerate()
            .map(|(j, &v)| {
                region.assign_fixed(cols.consts[j], offset, v);
                fvar(region, cols, j, offset, Some(v))
            })
            .collect();
        cfg.q_pin.enable(region, offset)?;
        // The zero row: tag, sel, contributor and score all zero.
        let zero = offset + 1;
        region.assign_fixed(cfg.tag, zero, Fr::zero());
        region.assign_fixed(cols.consts[CONTRIB], zero, Fr::zero());
        for lane in [SEL, S, CONTRIB_W] {
            assign(region, cols.lanes[lane], zero, Some(0), None);
        }
        Ok((cells, 2))
    }
}
