//! Proof of Attribution, version 1, computed natively: which datanet entries an output is
//! attributed to.
//!
//! - [`index`]: the [`AttributionIndex`] of a (model, sealed datanet version) — every entry's
//!   contributor, label and embedding φ(x_i), the activation the model's designated embedding
//!   tensor takes on the entry's sample ([`build_index`]).
//! - [`score`](mod@score): the score of one entry for one query ([`score()`], versioned by
//!   [`SCORE_VERSION`]), the top-k selection with its threshold ([`top_k`]), and the whole
//!   attribution of one input ([`attribute`]).
//! - [`reward`]: the reward preview, how a fee splits between owner, contributors (∝ score),
//!   prover and treasury ([`split`]).
//!
//! The circuit proves the same computation over the committed index; this module is the
//! reference it must agree with bit for bit.

pub mod error;
pub mod index;
pub mod reward;
pub mod score;

pub use error::{AttributionError, Result};
pub use index::{build_index, embed_entries, AttributionIndex, IndexEntry, INDEX_FORMAT};
pub use reward::{split, ContributorPayout, RewardError, RewardShares, RewardSplit};
pub use score::{
    attribute, embedding_dot, predicted_class, score, top_k, Attributed, Attribution,
    ContributorTotal, TopK, DEFAULT_K, SCORE_VERSION,
};
