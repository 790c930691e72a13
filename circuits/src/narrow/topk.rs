//! Top-k attribution over a fixed index in the vertical gate: the statement of
//! [`crate::attribution`], laid out without custom gates or lookups.
//!
//! Per entry `i` (embedding `φ_i`, label and contributor are constants, so the verifying key
//! commits to the index): `dot_i = ⟨φ_i, φ(x)⟩`, `s_i = [label_i = ŷ]·relu(dot_i)` (`[label_i = ŷ]`
//! is cell `label_i` of ŷ's one-hot indicator), `key_i = s_i·M + (M − 1 − i)` (distinct; by
//! score, then lower index), a bit `sel_i` with `sel_i·(key_i − τ) + (1 − sel_i)(τ − key_i − 1)`
//! range-checked (selected ⇔ `key_i ≥ τ`) and `Σ sel_i = k`.
//!
//! Per published slot `t`: its score `s_t` and index `idx_t` range-checked to the exact bits of a
//! score and of `M`, so `key_t = s_t·M + M − 1 − idx_t` decomposes uniquely; keys strictly
//! decreasing; `τ = key_{k−1}`. Membership without a lookup: `w = key + 2^KB·contributor`
//! (contributor range-checked to 160 bits, so `w` too decomposes uniquely) and
//! `Π_i (w_i − w_t) = 0` — slot `t` is some entry with that key, hence that index, score and
//! contributor. k distinct slots, each with `key ≥ τ` so selected, out of exactly k selected: the
//! slots are the top k, best first. Cost: ~7 cells per (entry, slot) pair.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::{AssignedValue, Context, QuantumCell::Constant, QuantumCell::Existing};
use halo2curves::bn256::Fr;
use poa_runtime::attribution::{embedding_dot, top_k};
use poa_runtime::{QModel, Trace};

use super::ops::{argmax, relu, Run};
use super::NarrowTamper;
use crate::attribution::{
    address_fe, model_id, public_adapter_id, AttributionSetup, AttributionWitness, Request,
    ADDRESS_BITS,
};
use crate::error::CircuitError;
use crate::field::{fe, fe128};
use crate::visibility::Visibility;

/// What the attribution part reads: the run, its native attribution and the request.
pub(crate) struct Part<'a> {
    pub model: &'a QModel,
    pub vis: &'a Visibility,
    pub trace: &'a Trace,
    pub run: &'a Run,
    pub setup: &'a AttributionSetup,
    pub wit: &'a AttributionWitness,
    pub request: &'a Request,
    pub tamper: Option<NarrowTamper>,
}

/// Lays out the attribution of `part.run` and returns the header's cells in instance order
/// ([`crate::AttributionRows`]).
pub(crate) fn assign(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    part: &Part<'_>,
) -> Result<Vec<AssignedValue<Fr>>, CircuitError> {
    let Part {
        model,
        vis,
        trace,
        run,
        setup,
        wit,
        request,
        tamper,
    } = *part;
    let gate = range.gate();
    let index = setup.index();
    let (score_bits, index_bits) = (setup.dot_bits as usize, setup.index_bits as usize);
    let key_bits = score_bits + index_bits;
    let m = setup.key_base();
    let outputs = &run.cells[model.output];
    let (class, indicator) = match &run.class_indicator {
        Some(ind) => (outputs[0], ind.clone()),
        None => {
            let bound = i128::from(model.output_info().bound);
            let mut class = i64::from(wit.class);
            if tamper == Some(NarrowTamper::ClassOff) {
                class = (class + 1) % outputs.len() as i64;
            }
            argmax(ctx, range, outputs, class, bound)
        }
    };
    let query = &run.cells[model.embedding];
    let query_values = &trace.tensors[model.embedding].data;

    // The published slots first: τ is the last one's key.
    let mut header = vec![
        ctx.load_constant(model_id(model)),
        ctx.load_constant(public_adapter_id(model, vis)),
        ctx.load_zero(),
        class,
        ctx.load_constant(setup.root()),
        ctx.load_witness(request.nonce),
        ctx.load_witness(address_fe(&request.prover)),
    ];
    let slots = forged_slots(wit, setup, tamper)?;
    let mut slot_keys = Vec::with_capacity(setup.k());
    let mut slot_ws = Vec::with_capacity(setup.k());
    for &(i, s, contributor) in &slots {
        let contributor = ctx.load_witness(contributor);
        range.range_check(ctx, contributor, ADDRESS_BITS as usize);
        let score = ctx.load_witness(fe128(s));
        range.range_check(ctx, score, score_bits);
        let idx = ctx.load_witness(Fr::from(i as u64));
        range.range_check(ctx, idx, index_bits);
        let key = gate.mul_add(ctx, score, Constant(fe128(m)), Constant(fe128(m - 1)));
        let key = gate.sub(ctx, key, idx);
        let w = gate.mul_add(ctx, contributor, Constant(fe128(1i128 << key_bits)), key);
        header.extend([contributor, score]);
        slot_keys.push(key);
        slot_ws.push(w);
    }
    for pair in slot_keys.windows(2) {
        let gap = gate.sub(ctx, pair[0], pair[1]);
        let gap = gate.sub(ctx, gap, Constant(Fr::one()));
        range.range_check(ctx, gap, key_bits);
    }
    let tau = *slot_keys.last().ok_or_else(|| CircuitError::Attribution {
        reason: "k = 0".into(),
    })?;

    let first_unselected = (0..index.entries.len())
        .find(|i| !wit.top.indices.contains(i))
        .unwrap_or(0);
    let mut entry_ws = Vec::with_capacity(index.entries.len());
    let mut selected = Vec::with_capacity(index.entries.len());
    for (i, entry) in index.entries.iter().enumerate() {
        let dot = gate.inner_product(
            ctx,
            query.iter().map(|c| Existing(*c)),
            entry.embedding.iter().map(|&v| Constant(fe(v))),
        );
        let native = embedding_dot(&entry.embedding, query_values);
        let r = relu(ctx, range, dot, native >= 0, score_bits);
        let eq = match indicator.get(entry.label as usize) {
            Some(&e) => e,
            None => ctx.load_zero(),
        };
        let s = gate.mul(ctx, eq, r);
        let key = gate.mul_add(
            ctx,
            s,
            Constant(fe128(m)),
            Constant(fe128(m - 1 - i as i128)),
        );
        let extra = tamper == Some(NarrowTamper::ExtraSelected) && i == first_unselected;
        let sel = ctx.load_witness(Fr::from(u64::from(wit.top.indices.contains(&i) || extra)));
        gate.assert_bit(ctx, sel);
        // e = sel·(key − τ) + (1 − sel)(τ − key − 1) = sel·(2δ + 1) − δ − 1, δ = key − τ.
        let delta = gate.sub(ctx, key, tau);
        let twice = gate.mul_add(ctx, delta, Constant(Fr::from(2)), Constant(Fr::one()));
        let below = gate.sub(ctx, Constant(-Fr::one()), delta);
        let e = gate.mul_add(ctx, sel, twice, below);
        range.range_check(ctx, e, key_bits);
        let c = address_fe(&entry.contributor) * fe128(1i128 << key_bits);
        entry_ws.push(gate.add(ctx, key, Constant(c)));
        selected.push(sel);
    }
    let count = gate.sum(ctx, selected);
    gate.assert_is_const(ctx, &count, &Fr::from(setup.k() as u64));
    for w_t in slot_ws {
        let mut product = gate.sub(ctx, entry_ws[0], w_t);
        for &w_i in &entry_ws[1..] {
            let d = gate.sub(ctx, w_i, w_t);
            product = gate.mul(ctx, product, d);
        }
        gate.assert_is_const(ctx, &product, &Fr::zero());
    }
    Ok(header)
}

/// The published slots `(index, score, contributor)`, best first: the runtime's top-k, or a
/// forgery of it for a negative test.
fn forged_slots(
    wit: &AttributionWitness,
    setup: &AttributionSetup,
    tamper: Option<NarrowTamper>,
) -> Result<Vec<(usize, i128, Fr)>, CircuitError> {
    let entries = &setup.index().entries;
    let slot = |i: usize| (i, wit.scores[i], address_fe(&entries[i].contributor));
    let mut slots: Vec<_> = wit.top.indices.iter().map(|&i| slot(i)).collect();
    match tamper {
        Some(NarrowTamper::SlotScore) => slots[0].1 += 1,
        Some(NarrowTamper::SlotContributor) => slots[0].2 += Fr::one(),
        Some(NarrowTamper::SlotsSwapped) if slots.len() > 1 => slots.swap(0, 1),
        Some(NarrowTamper::SlotNotTop) => {
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
