//! The attribution index of a (model, sealed datanet version): for every entry, its contributor,
//! label and embedding φ(x_i) — the integer activation of the model's embedding tensor
//! ([`QModel::embedding`], by default the input of the last Gemm) on the entry's sample,
//! quantized exactly as an inference input is ([`QModel::run`]).

use serde::{Deserialize, Serialize};

use super::error::{AttributionError, Result};
use crate::datanet::{Address, Contribution, Datanet};
use crate::graph::QModel;
use crate::tensor::numel;

/// Version of the serialized [`AttributionIndex`] format; bump on any incompatible change.
pub const INDEX_FORMAT: u32 = 1;

/// One indexed datanet entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The contributor.
    pub contributor: Address,
    /// The entry's label.
    pub label: u32,
    /// φ(x_i): the embedding tensor of the entry's run, flattened (integers at the embedding
    /// tensor's scale, each within [`AttributionIndex::embedding_bound`]).
    pub embedding: Vec<i64>,
}

/// The attribution index of one sealed datanet version for one compiled model. Entry `i` is
/// contribution `i` of the version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributionIndex {
    /// Format version ([`INDEX_FORMAT`]).
    pub format_version: u32,
    /// [`QModel::digest`] of the model that computed the embeddings.
    pub model_digest: String,
    /// The model's name.
    pub model_name: String,
    /// Datanet id.
    pub datanet: String,
    /// The sealed version indexed.
    pub version: u32,
    /// The version's sealed root (`0x` + 64 hex digits), naming exactly which entries these are.
    pub datanet_root: String,
    /// Tensor id of the embedding in the model.
    pub embedding_tensor: usize,
    /// Static bound of the embedding tensor: every embedding value `v` has `|v| ≤ bound`.
    pub embedding_bound: i64,
    /// The entries, in the version's order.
    pub entries: Vec<IndexEntry>,
}

impl AttributionIndex {
    /// Embedding dimension d (values per entry).
    pub fn dim(&self) -> usize {
        self.entries.first().map_or(0, |e| e.embedding.len())
    }

    /// Checks that the index belongs to `model` and that every embedding has the model's
    /// embedding dimension and stays within [`Self::embedding_bound`].
    pub fn check_against(&self, model: &QModel) -> Result<()> {
        if self.model_digest != model.digest() {
            return Err(AttributionError::ModelMismatch {
                index: self.model_digest.clone(),
                model: model.digest().to_string(),
            });
        }
        let info = model
            .tensors
            .get(self.embedding_tensor)
            .filter(|_| self.embedding_tensor == model.embedding)
            .ok_or_else(|| {
                AttributionError::MalformedIndex(format!(
                    "embedding tensor {} is not the model's embedding ({})",
                    self.embedding_tensor, model.embedding
                ))
            })?;
        let d = numel(&info.shape);
        for (i, e) in self.entries.iter().enumerate() {
            if e.embedding.len() != d {
                return Err(AttributionError::MalformedIndex(format!(
                    "entry #{i} has an embedding of {} values, the model's has {d}",
                    e.embedding.len()
                )));
            }
            if e.embedding
                .iter()
                .any(|v| v.unsigned_abs() > self.embedding_bound.unsigned_abs())
            {
                return Err(AttributionError::MalformedIndex(format!(
                    "entry #{i} has an embedding value beyond the bound {}",
                    self.embedding_bound
                )));
            }
        }
        Ok(())
    }
}

/// Runs `model` on every contribution and returns its index entry (contributor, label, φ(x_i)).
/// A sample the model cannot take (wrong length, out of range) is an error naming the entry.
pub fn embed_entries(model: &QModel, entries: &[Contribution]) -> Result<Vec<IndexEntry>> {
    entries
        .iter()
        .enumerate()
        .map(|(entry, c)| {
            let trace = model
                .run(&c.sample)
                .map_err(|source| AttributionError::Entry { entry, source })?;
            Ok(IndexEntry {
                contributor: c.contributor,
                label: c.label,
                embedding: trace.embedding().data.clone(),
            })
        })
        .collect()
}

/// Builds the index of sealed version `version` of `datanet` for `model`. An open version, or
/// a datanet whose sample length is not the model's input length, is an error.
pub fn build_index(model: &QModel, datanet: &Datanet, version: u32) -> Result<AttributionIndex> {
    let model_len = numel(&model.input().shape);
    if datanet.input_len() != model_len {
        return Err(AttributionError::InputLength {
            datanet: datanet.id.to_string(),
            datanet_len: datanet.input_len(),
            model: model.name.clone(),
            model_len,
        });
    }
    let v = datanet.version(version)?;
    let seal = v
        .seal
        .as_ref()
        .ok_or_else(|| AttributionError::VersionOpen {
            datanet: datanet.id.to_string(),
            version,
        })?;
    Ok(AttributionIndex {
        format_version: INDEX_FORMAT,
        model_digest: model.digest().to_string(),
        model_name: model.name.clone(),
        datanet: datanet.id.to_string(),
        version,
        datanet_root: seal.root.to_string(),
        embedding_tensor: model.embedding,
        embedding_bound: model.tensors[model.embedding].bound,
        entries: embed_entries(model, &v.contributions)?,
    })
}
