//! Top-k attribution over a fixed index in dense rows: the statement of
//! [`crate::attribution`], proved in the same circuit as the inference.
//!
//! Per entry `i` (embedding `φ_i`, label and contributor are constants, so the verifying key
//! commits to the index):
//!
//! * `u_i = ⟨φ_i, q_{label_i}⟩` over the *masked query* `q_c = ind_c·φ(x)` (one product per
//!   class and embedding value, shared by every entry of class `c`), so `u_i = [label_i = ŷ]·dot_i`
//!   without a product per entry. The dot product's last row also holds the sign bit `b_i`
//!   (bit gate on lane 4).
//! * `u_i + 2^L₁·(1 − b_i) ∈ [0, 2^L₁)` (`|u_i| < 2^L₁`): `b_i = [u_i ≥ 0]`, so
//!   `s_i = b_i·u_i = max(0, u_i)`, the score. That row also holds the selection bit `sel_i`.
//! * `key_i = M·b_i·u_i + (M − 1 − i)` and `key_i − τ + 2^L·(1 − sel_i) ∈ [0, 2^L)`
//!   (`|key_i − τ| < 2^L`, L the setup's key bits): `sel_i = [key_i ≥ τ]`. The last row of that check computes the
//!   product `b_i·u_i` and is also the entry's row of the *entry table*:
//!   `t = M·x₀·x₁ + (M − 1 − i) + 2^KB·contributor_i = key_i + 2^KB·contributor_i`.
//! * `Σ sel_i = k`.
//!
//! Per published slot `t`: contributor in `[0, 2^160)`, score in `[0, 2^dot_bits)`, index in
//! `[0, M)` (two whole-limb checks: `idx` and `M − 1 − idx`), so `key_t = s_t·M + M − 1 − idx_t`
//! and `w_t = key_t + 2^KB·c_t` decompose uniquely; `w_t` is looked up in the entry table
//! (membership: the slot is that entry, with its score and contributor); keys strictly decrease
//! and `τ = key_{k−1}`. k distinct selected entries out of exactly k selected: the slots are the
//! top k, best first (ties to the lower index through `M − 1 − i`).

use halo2curves::bn256::Fr;
use halo2curves::ff::{Field, PrimeField};
use poa_runtime::attribution::{embedding_dot, top_k};
use poa_runtime::{QModel, Trace};

use super::ops::{limbs_for, Cells, Layout};
use super::rows::{Equation, Var, ATTR_LANE, LANES};
use super::DenseTamper;
use crate::attribution::{
    address_fe, model_id, public_adapter_id, AttributionSetup, AttributionWitness, Request,
    ADDRESS_BITS,
};
use crate::error::CircuitError;
use crate::field::{fe, fe128};
use crate::visibility::Visibility;

/// What the attribution part reads: the run's cells, its native attribution and the request.
pub(crate) struct Part<'a> {
    pub model: &'a QModel,
    pub vis: &'a Visibility,
    pub trace: &'a Trace,
    pub cells: &'a Cells,
    pub setup: &'a AttributionSetup,
    pub wit: &'a AttributionWitness,
    pub request: &'a Request,
    pub tamper: Option<DenseTamper>,
}

fn one() -> Fr {
    Fr::one()
}

/// `2^e` as a field element.
fn pow2(e: u32) -> Fr {
    Fr::from(2).pow_vartime([u64::from(e)])
}

/// Checks `Σ c·x + offset + (what `finish` adds to the last row) = v ∈ [0, 256^m)` for `v` of at
/// most `bits` bits: the limbs of `v` in `r`, summed through `acc`; `finish` may add fresh lanes
/// (their terms negated, like the copies'), a product or the table to the last row. Returns the
/// last row's cells.
fn check(
    lay: &mut Layout,
    terms: &[(Var, Fr)],
    offset: Fr,
    v: Fr,
    bits: u32,
    finish: impl FnOnce(&mut Equation),
) -> [Option<Var>; LANES] {
    let m = limbs_for(bits);
    let repr = v.to_repr();
    let digits: Vec<Fr> = (0..m)
        .map(|j| Fr::from(u64::from(repr.as_ref().get(j).copied().unwrap_or(0))))
        .collect();
    let base = |j: usize| pow2(8 * j as u32);
    let mut acc = Fr::zero();
    for (j, &d) in digits.iter().enumerate().take(m - 1) {
        let mut eq = Equation::default();
        acc += base(j) * d;
        eq.acc(acc, -one());
        if j > 0 {
            eq.acc_prev(one());
        }
        eq.limb(d, base(j));
        lay.rows.push(eq);
    }
    let mut eq = Equation::default();
    if m > 1 {
        eq.acc_prev(one());
    }
    eq.limb(digits[m - 1], base(m - 1));
    for &(x, c) in terms {
        eq.copy(x, -c);
    }
    eq.constant(-offset);
    finish(&mut eq);
    lay.rows.push(eq)
}

/// A cell constrained to the constant `v`.
fn constant(lay: &mut Layout, v: Fr) -> Var {
    let mut eq = Equation::default();
    let lane = eq.fresh(v, one());
    eq.constant(-v);
    lay.rows.push(eq)[lane].expect("the constant's lane")
}

/// A fresh cell checked to `[0, 2^bits)` (whole limbs); returns it.
fn checked(lay: &mut Layout, v: Fr, bits: u32) -> Var {
    let mut lane = 0;
    let cells = check(lay, &[], Fr::zero(), v, bits, |eq| {
        lane = eq.fresh(v, -one());
    });
    cells[lane].expect("the checked lane")
}

/// Lays out the attribution of the run in `part.cells` and returns the header's cells in
/// instance order ([`crate::AttributionRows`]).
pub(crate) fn assign(lay: &mut Layout, part: &Part<'_>) -> Result<Vec<Var>, CircuitError> {
    let Part {
        model,
        vis,
        trace,
        cells,
        setup,
        wit,
        request,
        tamper,
    } = *part;
    let index = setup.index();
    let n = index.entries.len();
    let (score_bits, index_bits) = (setup.dot_bits, setup.index_bits);
    // A slot key decomposes below 2^kb. An entry key is below (dot bound + 1)·M — its u is
    // the exact integer dot product of bounded cells — and so is τ (an entry's key, by
    // membership): a comparison needs only the setup's key bits.
    let kb = score_bits + index_bits;
    let l = setup.key_bits;
    let m = setup.key_base();
    let m_fe = fe128(m);
    let outputs = &cells[model.output];

    // The class and its one-hot indicator: the model's own ArgMax, or one built here.
    let (class, indicator) = match lay.class_indicator.clone() {
        Some(ind) => (outputs[0], ind),
        None => {
            let bound = i128::from(model.output_info().bound);
            let mut class = i64::from(wit.class);
            if tamper == Some(DenseTamper::ClassOff) {
                class = (class + 1) % outputs.len() as i64;
            }
            let c = lay.argmax(outputs, class, bound);
            let ind = lay.class_indicator.clone().expect("argmax built it");
            (c, ind)
        }
    };
    let query = &cells[model.embedding];
    let query_values = &trace.tensors[model.embedding].data;

    // The header's constants and request cells.
    let mut header = vec![
        constant(lay, model_id(model)),
        constant(lay, public_adapter_id(model, vis)),
        constant(lay, Fr::zero()),
        class,
        constant(lay, setup.root()),
    ];
    header.extend(lay.witnesses(&[request.nonce, address_fe(&request.prover)]));

    // Published slots: contributor, score and index checked, w_t looked up, keys decreasing.
    let slots = forged_slots(wit, setup, tamper)?;
    let idx_bits = 8 * limbs_for(index_bits) as u32;
    let mut slot_cells = Vec::with_capacity(slots.len());
    for &(i, s, contributor) in &slots {
        let c = checked(lay, contributor, ADDRESS_BITS);
        let s_cell = checked(lay, fe128(s), score_bits);
        let idx = checked(lay, Fr::from(i as u64), idx_bits);
        // idx < n, not only idx < M: every row off the entry table has table value 0, and a
        // slot at index M − 1 with score 0 and contributor 0 has w = 0 too — with k = n it would
        // set τ = 0, select every entry and let the other slots be any entries.
        check(
            lay,
            &[(idx, -one())],
            fe128(n as i128 - 1),
            fe128(n as i128 - 1 - i as i128),
            idx_bits,
            |_| {},
        );
        let key = s * m + m - 1 - i as i128;
        let w = fe128(key) + pow2(kb) * contributor;
        let mut eq = Equation::default();
        eq.copy(s_cell, m_fe);
        eq.copy(idx, -one());
        eq.copy(c, pow2(kb));
        eq.skip_to(ATTR_LANE);
        eq.fresh(w, -one());
        eq.constant(m_fe - one());
        eq.slot();
        lay.rows.push(eq);
        header.extend([c, s_cell]);
        slot_cells.push((s_cell, idx, key));
    }
    for pair in slot_cells.windows(2) {
        let ((s0, i0, k0), (s1, i1, k1)) = (pair[0], pair[1]);
        check(
            lay,
            &[(s0, m_fe), (i0, -one()), (s1, -m_fe), (i1, one())],
            -one(),
            fe128(k0 - k1 - 1),
            kb,
            |_| {},
        );
    }
    let &(s_last, i_last, tau_value) =
        slot_cells.last().ok_or_else(|| CircuitError::Attribution {
            reason: "k = 0".into(),
        })?;
    let tau = {
        let mut eq = Equation::default();
        eq.copy(s_last, m_fe);
        eq.copy(i_last, -one());
        let lane = eq.fresh(fe128(tau_value), -one());
        eq.constant(m_fe - one());
        lay.rows.push(eq)[lane].expect("τ's lane")
    };

    // Masked queries q_c = ind_c·φ(x), for the classes some entry has.
    let mut masked: Vec<Option<Vec<Var>>> = vec![None; indicator.len()];
    let mut forge_mask = tamper == Some(DenseTamper::AttrMask);
    for entry in &index.entries {
        let c = entry.label as usize;
        if c >= indicator.len() || masked[c].is_some() {
            continue;
        }
        let ind = indicator[c];
        let q = query
            .iter()
            .map(|&x| {
                let mut eq = Equation::default();
                eq.copy(ind, Fr::zero());
                eq.copy(x, Fr::zero());
                let mut v = ind.value * x.value;
                if std::mem::take(&mut forge_mask) {
                    v += one();
                }
                let lane = eq.fresh(v, -one());
                eq.product(one());
                lay.rows.push(eq)[lane].expect("the masked lane")
            })
            .collect();
        masked[c] = Some(q);
    }

    // Entries.
    let first_unselected = (0..n).find(|i| !wit.top.indices.contains(i)).unwrap_or(0);
    let selected: Vec<bool> = if tamper == Some(DenseTamper::SlotNotTop) {
        // Consistent with the forged τ: the forgery then shows as the count.
        (0..n)
            .map(|i| wit.scores[i] * m + m - 1 - i as i128 >= tau_value)
            .collect()
    } else {
        (0..n).map(|i| wit.top.indices.contains(&i)).collect()
    };
    let big_l1 = setup.dot_bits;
    let mut sels = Vec::with_capacity(n);
    for (i, entry) in index.entries.iter().enumerate() {
        let label = entry.label as usize;
        let class_on = class.value == Fr::from(u64::from(entry.label));
        let (terms, u): (Vec<(Var, Fr)>, i128) = match masked.get(label).and_then(|q| q.as_ref()) {
            Some(q) => {
                let dot = if class_on {
                    embedding_dot(&entry.embedding, query_values)
                } else {
                    0
                };
                let terms = q
                    .iter()
                    .zip(&entry.embedding)
                    .map(|(&x, &w)| (x, fe(w)))
                    .collect();
                (terms, dot)
            }
            None => (Vec::new(), 0),
        };
        let u = if tamper == Some(DenseTamper::AttrDot) && i == 0 {
            u + 1
        } else {
            u
        };
        let b = u >= 0;
        let s = if b { u } else { 0 };
        // u = Σ φ·q, with the sign bit b on lane 4 of the same row.
        let (mut eq, _) = lay.chain(&terms, Fr::zero(), 2);
        let lu = eq.fresh(fe128(u), -one());
        eq.skip_to(ATTR_LANE);
        let lb = eq.fresh(Fr::from(u64::from(b)), Fr::zero());
        eq.bit();
        let row = lay.rows.push(eq);
        let (u_cell, b_cell) = (row[lu].expect("u"), row[lb].expect("b"));

        // u + 2^L₁(1 − b) ∈ [0, 2^L₁): b = [u ≥ 0]. The selection bit rides on lane 4.
        let extra = tamper == Some(DenseTamper::ExtraSelected) && i == first_unselected;
        let sel = selected[i] || extra;
        let mut ls = 0;
        let row = check(
            lay,
            &[(u_cell, one()), (b_cell, -pow2(big_l1))],
            pow2(big_l1),
            fe128(u) + pow2(big_l1) * Fr::from(u64::from(!b)),
            big_l1,
            |eq| {
                eq.skip_to(ATTR_LANE);
                ls = eq.fresh(Fr::from(u64::from(sel)), Fr::zero());
                eq.bit();
            },
        );
        let sel_cell = row[ls].expect("sel");

        // key − τ + 2^L(1 − sel) ∈ [0, 2^L), key = M·b·u + M − 1 − i; the table row.
        let c_i = fe128(m - 1 - i as i128);
        let key = fe128(s * m + m - 1 - i as i128);
        let e = key - fe128(tau_value) + pow2(l) * Fr::from(u64::from(!sel));
        check(
            lay,
            &[
                (b_cell, Fr::zero()),
                (u_cell, Fr::zero()),
                (tau, -one()),
                (sel_cell, -pow2(l)),
            ],
            c_i + pow2(l),
            e,
            l,
            |eq| {
                eq.product(-m_fe);
                eq.table(m_fe, c_i + pow2(kb) * address_fe(&entry.contributor));
            },
        );
        sels.push((sel_cell, one()));
    }
    lay.zero_sum(&sels, -Fr::from(setup.k() as u64));
    Ok(header)
}

/// The published slots `(index, score, contributor)`, best first: the runtime's top-k, or a
/// forgery of it for a negative test.
fn forged_slots(
    wit: &AttributionWitness,
    setup: &AttributionSetup,
    tamper: Option<DenseTamper>,
) -> Result<Vec<(usize, i128, Fr)>, CircuitError> {
    let entries = &setup.index().entries;
    let slot = |i: usize| (i, wit.scores[i], address_fe(&entries[i].contributor));
    let mut slots: Vec<_> = wit.top.indices.iter().map(|&i| slot(i)).collect();
    match tamper {
        Some(DenseTamper::SlotScore) => slots[0].1 += 1,
        Some(DenseTamper::SlotContributor) => slots[0].2 += Fr::one(),
        Some(DenseTamper::SlotsSwapped) if slots.len() > 1 => slots.swap(0, 1),
        Some(DenseTamper::SlotDuplicated) if slots.len() > 1 => slots[1] = slots[0],
        Some(DenseTamper::PhantomSlot) => {
            if let Some(last) = slots.last_mut() {
                let m = setup.key_base();
                *last = (usize::try_from(m - 1).unwrap_or(usize::MAX), 0, Fr::zero());
            }
        }
        Some(DenseTamper::SlotNotTop) => {
            let next =
                top_k(&wit.scores, setup.k() + 1).map_err(|e| CircuitError::Attribution {
                    reason: e.to_string(),
                })?;
            if let (Some(last), Some(&i)) = (slots.last_mut(), next.indices.last()) {
                *last = slot(i);
            }
        }
        _ => {}
    }
    Ok(slots)
}
