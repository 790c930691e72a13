//! The attribution score, version 1, and everything derived from it.
//!
//! ```text
//! s_i = [label_i == ŷ] · max(0, ⟨φ(x_i), φ(x)⟩)
//! ```
//!
//! ŷ is the predicted class of the query x, φ the integer embedding: representer-point / kNN
//! attribution restricted to the predicted class. [`score()`] is the only place that defines it;
//! a later score is a new [`SCORE_VERSION`]. The top-k ([`top_k`]) are the k highest scores,
//! ties going to the lower index, with the threshold τ = the k-th score: every selected score
//! is ≥ τ and every other one ≤ τ (the circuit's threshold argument).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{AttributionError, Result};
use super::index::{AttributionIndex, IndexEntry};
use crate::datanet::Address;
use crate::graph::QModel;
use crate::ops::argmax;
use crate::trace::Trace;

/// Version of the score [`score()`] computes.
pub const SCORE_VERSION: u32 = 1;

/// The k used when none is given.
pub const DEFAULT_K: usize = 8;

/// Score v1 of `entry` for a query predicted as `predicted_class` with embedding
/// `query_embedding`: the dot product of the embeddings, clamped at zero, if the entry's label
/// is the predicted class; zero otherwise. Exact (i128 accumulation; a dot product of i64
/// values under the runtime's 62-bit bound over any realistic dimension cannot overflow it).
/// Values past the shorter of the two embeddings are ignored; [`attribute`] checks the
/// dimensions beforehand.
pub fn score(entry: &IndexEntry, predicted_class: u32, query_embedding: &[i64]) -> i128 {
    if entry.label != predicted_class {
        return 0;
    }
    embedding_dot(&entry.embedding, query_embedding).max(0)
}

/// `⟨a, b⟩` exactly (i128 accumulation), over the shorter of the two: the dot product a score
/// clamps. A circuit reads its sign from here for the clamp's witness.
pub fn embedding_dot(a: &[i64], b: &[i64]) -> i128 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i128::from(x) * i128::from(y))
        .sum()
}

/// The k highest scores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopK {
    /// Indices of the selected entries, best first (equal scores: lower index first).
    pub indices: Vec<usize>,
    /// Their scores, in the same order (non-increasing).
    pub scores: Vec<i128>,
    /// τ: the k-th highest score (the last of [`Self::scores`]).
    pub threshold: i128,
}

/// Selects the `k` highest of `scores`, ties going to the lower index.
///
/// `k` must be in `1..=scores.len()`: a larger k is an error rather than silently clamped,
/// because the circuit publishes exactly k entries and a proof of fewer would not be the
/// requested one ([`AttributionError::BadK`]).
pub fn top_k(scores: &[i128], k: usize) -> Result<TopK> {
    if k == 0 || k > scores.len() {
        return Err(AttributionError::BadK {
            k,
            entries: scores.len(),
        });
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Stable sort by descending score keeps equal scores in index order.
    order.sort_by(|&a, &b| scores[b].cmp(&scores[a]));
    order.truncate(k);
    let selected: Vec<i128> = order.iter().map(|&i| scores[i]).collect();
    let threshold = selected.last().copied().unwrap_or(0);
    Ok(TopK {
        indices: order,
        scores: selected,
        threshold,
    })
}

/// The predicted class of a run: the class index for a model ending in ArgMax, otherwise the
/// argmax of the output (the lowest index among equal maxima).
pub fn predicted_class(model: &QModel, trace: &Trace) -> u32 {
    let out = &trace.output().data;
    let class = if model.outputs_class() {
        out.first()
            .copied()
            .map_or(0, |c| usize::try_from(c).unwrap_or(0))
    } else {
        argmax(out)
    };
    u32::try_from(class).unwrap_or(u32::MAX)
}

/// One of the top-k entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attributed {
    /// Index of the entry in the index (and in the sealed version).
    pub index: usize,
    /// Its contributor.
    pub contributor: Address,
    /// Its label (the predicted class, unless its score is zero).
    pub label: u32,
    /// Its score.
    pub score: i128,
}

/// One contributor's total score over every entry of the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributorTotal {
    /// The contributor.
    pub contributor: Address,
    /// Sum of the scores of their entries.
    pub score: i128,
    /// Sum of the scores of their entries among the top-k.
    pub top_k_score: i128,
    /// How many of the top-k entries are theirs.
    pub top_k_entries: usize,
}

/// The attribution of one input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// [`SCORE_VERSION`] of the scores.
    pub score_version: u32,
    /// ŷ.
    pub predicted_class: u32,
    /// φ(x) of the query.
    pub embedding: Vec<i64>,
    /// The top-k entries, best first.
    pub top: Vec<Attributed>,
    /// τ, the k-th highest score.
    pub threshold: i128,
    /// Sum of the top-k scores (what a reward split over the published entries divides).
    pub top_k_total: i128,
    /// Sum of all entries' scores.
    pub total: i128,
    /// Per contributor, every contributor of the index in address order.
    pub contributors: Vec<ContributorTotal>,
}

/// Runs `model` on `input` and attributes its prediction over `index` with the top `k`.
pub fn attribute(
    model: &QModel,
    index: &AttributionIndex,
    input: &[f32],
    k: usize,
) -> Result<Attribution> {
    index.check_against(model)?;
    let trace = model.run(input)?;
    let class = predicted_class(model, &trace);
    let query = &trace.embedding().data;
    let scores: Vec<i128> = index
        .entries
        .iter()
        .map(|e| score(e, class, query))
        .collect();
    let top = top_k(&scores, k)?;
    let mut per: BTreeMap<Address, ContributorTotal> = BTreeMap::new();
    for (e, &s) in index.entries.iter().zip(&scores) {
        per.entry(e.contributor)
            .or_insert(ContributorTotal {
                contributor: e.contributor,
                score: 0,
                top_k_score: 0,
                top_k_entries: 0,
            })
            .score += s;
    }
    let attributed: Vec<Attributed> = top
        .indices
        .iter()
        .zip(&top.scores)
        .map(|(&i, &s)| {
            let e = &index.entries[i];
            if let Some(t) = per.get_mut(&e.contributor) {
                t.top_k_score += s;
                t.top_k_entries += 1;
            }
            Attributed {
                index: i,
                contributor: e.contributor,
                label: e.label,
                score: s,
            }
        })
        .collect();
    Ok(Attribution {
        score_version: SCORE_VERSION,
        predicted_class: class,
        embedding: query.clone(),
        top: attributed,
        threshold: top.threshold,
        top_k_total: top.scores.iter().sum(),
        total: scores.iter().sum(),
        contributors: per.into_values().collect(),
    })
}
