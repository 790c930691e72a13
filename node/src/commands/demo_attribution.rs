//! The datanet steps of `poa demo`: the fixture datanet imported into a fresh store inside the
//! demo folder, sealed under its Poseidon root, indexed for the compiled model, and the demo
//! input attributed natively (score v1, top-k) — the reference the proof must agree with.

use std::path::{Path, PathBuf};

use anyhow::Context;
use poa_circuits::commit::index_root;
use poa_runtime::attribution::{attribute, build_index, Attribution, DEFAULT_K};
use poa_runtime::datanet::{import, DatanetFile, DatanetStore, FileStore};
use poa_runtime::tensor::numel;
use serde::Serialize;

use super::attribute::pct;
use super::datanet::seal_open;
use crate::artifacts::{write_json, Compiled};

/// What the datanet and attribution steps did.
#[derive(Serialize)]
pub struct AttributionStep {
    /// Datanet id.
    pub datanet: String,
    /// Contributions accepted by the import.
    pub accepted: usize,
    /// Contributions rejected (duplicates), with reasons.
    pub rejected: Vec<String>,
    /// Poseidon root of the sealed version 1 (0x-hex).
    pub datanet_root: String,
    /// Poseidon root of the attribution index.
    pub index_root: String,
    /// Embedding dimension.
    pub embedding_dim: usize,
    /// Where the index was written.
    pub index_file: PathBuf,
    /// The native attribution of the demo input.
    pub attribution: Attribution,
}

/// Imports, seals and indexes the fixture datanet for `compiled` (in `model_dir`) and
/// attributes `input` natively.
pub fn run(
    compiled: &Compiled,
    fixtures: &Path,
    model_dir: &Path,
    input: &[f32],
) -> anyhow::Result<AttributionStep> {
    let q = &compiled.qmodel;
    // The demo owns this folder: start from an empty store so every run seals the same version.
    let store_dir = model_dir.join("datanets");
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir)
            .with_context(|| format!("clearing {}", store_dir.display()))?;
    }
    let mut store = FileStore::new(&store_dir);
    let file = DatanetFile::read(&fixtures.join("datanet/digits.json"))?;
    let classes = q.output_info().shape.last().copied().unwrap_or(0) as u32;
    let (spec, _) = file.spec(Some(vec![numel(&q.input().shape)]), Some(classes))?;
    let id = store.create(spec)?.id;
    let report = import(&mut store, &id, &file).context("importing the fixture datanet")?;
    let sealed = seal_open(&mut store, &id)?;
    let index = build_index(q, &store.get(&id)?, sealed.version)?;
    let index_file = model_dir.join(format!("index_{id}_v{}.json", sealed.version));
    write_json(&index_file, &index)?;
    let attribution = attribute(q, &index, input, DEFAULT_K)?;
    Ok(AttributionStep {
        datanet: id.to_string(),
        accepted: report.accepted.len(),
        rejected: report
            .rejected
            .iter()
            .map(|r| format!("entry {}: {}", r.entry, r.error))
            .collect(),
        datanet_root: sealed.seal.root.to_string(),
        index_root: format!("{:?}", index_root(&index)),
        embedding_dim: index.dim(),
        index_file,
        attribution,
    })
}

/// The summary lines of the datanet and native attribution steps.
pub fn text(s: &AttributionStep) -> String {
    let a = &s.attribution;
    let mut shares: Vec<(String, f64)> = a
        .contributors
        .iter()
        .filter(|c| c.top_k_score > 0)
        .map(|c| {
            let share = pct(c.top_k_score, a.top_k_total);
            (c.contributor.to_string()[..10].to_string(), share)
        })
        .collect();
    shares.sort_by(|x, y| y.1.total_cmp(&x.1));
    let shares: Vec<String> = shares
        .iter()
        .map(|(c, p)| format!("{c}… {p:.1}%"))
        .collect();
    format!(
        "datanet {}: {} contributions accepted, {} rejected as duplicates; sealed v1 root {}; index {} × {} embeddings, root {}\n      \
         native attribution (score v1): class {}, top-{} over {} entries → {}",
        s.datanet,
        s.accepted,
        s.rejected.len(),
        s.datanet_root,
        s.accepted,
        s.embedding_dim,
        s.index_root,
        a.predicted_class,
        a.top.len(),
        s.accepted,
        shares.join(", ")
    )
}
