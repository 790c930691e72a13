//! LoRA adapters (OpenLoRA): a low-rank update `ΔW = (α / r) · B · A` of some Gemm layers of a
//! base model, merged into the float weights before quantization, so an adapted model is an
//! ordinary [`QModel`] — same ops, same circuit shape, its own weights — that remembers which
//! base model and which adapter it came from ([`AdapterOf`]). Its public ids are the base
//! model's id and the adapter's id (public instance rows 0 and 1), so a registry keyed by
//! `(model id, adapter id)` names both.
//!
//! File format (`poa-lora/1`, JSON):
//! ```json
//! {"format": "poa-lora/1", "name": "digits-ft", "alpha": 8.0,
//!  "layers": [{"node": "fc1", "a": [[…k values…] × r], "b": [[…r values…] × n]}]}
//! ```
//! `a` is `[r, k]` and `b` is `[n, r]` for a Gemm whose weight is `[n, k]` (ONNX `transB = 1`
//! orientation, as the runtime stores every Gemm).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, RuntimeError};
use crate::float_graph::{FOp, FloatGraph};
use crate::graph::QModel;
use crate::quantize::{quantize_graph, Scales};

/// The format tag this runtime reads.
pub const LORA_FORMAT: &str = "poa-lora/1";

/// Largest rank accepted: a LoRA is low-rank by definition, and the bound keeps a malicious file
/// from asking for a huge product.
pub const MAX_RANK: usize = 256;

/// A LoRA adapter as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraAdapter {
    /// Must be [`LORA_FORMAT`].
    pub format: String,
    /// Adapter name (reports, errors).
    pub name: String,
    /// Scaling numerator: the update is `(alpha / r) · B · A`.
    pub alpha: f64,
    /// The adapted layers.
    pub layers: Vec<LoraLayer>,
}

/// The update of one Gemm layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraLayer {
    /// Name of the Gemm node in the base model.
    pub node: String,
    /// Down-projection `A`, `[r, k]`.
    pub a: Vec<Vec<f32>>,
    /// Up-projection `B`, `[n, r]`.
    pub b: Vec<Vec<f32>>,
}

/// Where an adapted [`QModel`] came from; absent on a base model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterOf {
    /// Adapter name.
    pub name: String,
    /// [`LoraAdapter::digest`].
    pub adapter_digest: String,
    /// [`QModel::digest`] of the base model quantized at the same scales.
    pub base_digest: String,
}

fn bad(detail: impl Into<String>) -> RuntimeError {
    RuntimeError::Format {
        what: "LoRA adapter".into(),
        detail: detail.into(),
    }
}

impl LoraAdapter {
    /// Parses and checks an adapter file (format tag, a name, a finite positive α, at least one
    /// layer, rectangular finite matrices of one rank per layer, each node once).
    pub fn from_json(text: &str) -> Result<Self> {
        let a: Self = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        a.check()?;
        Ok(a)
    }

    fn check(&self) -> Result<()> {
        if self.format != LORA_FORMAT {
            return Err(bad(format!(
                "format `{}`, this runtime reads `{LORA_FORMAT}`",
                self.format
            )));
        }
        if self.name.trim().is_empty() {
            return Err(bad("empty `name`"));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(bad(format!(
                "alpha {} is not a positive number",
                self.alpha
            )));
        }
        if self.layers.is_empty() {
            return Err(bad("no layers"));
        }
        for (i, l) in self.layers.iter().enumerate() {
            if self.layers[..i].iter().any(|o| o.node == l.node) {
                return Err(bad(format!("layer `{}` appears twice", l.node)));
            }
            let r = l.a.len();
            if r == 0 || r > MAX_RANK {
                return Err(bad(format!(
                    "layer `{}`: rank {r} (rows of `a`) outside 1..={MAX_RANK}",
                    l.node
                )));
            }
            let k = l.a[0].len();
            if k == 0 || l.a.iter().any(|row| row.len() != k) {
                return Err(bad(format!(
                    "layer `{}`: `a` is not an r × k matrix",
                    l.node
                )));
            }
            if l.b.is_empty() || l.b.iter().any(|row| row.len() != r) {
                return Err(bad(format!(
                    "layer `{}`: `b` must be n × {r} (its rank is the row count of `a`)",
                    l.node
                )));
            }
            let finite = l.a.iter().chain(&l.b).flatten().all(|v| v.is_finite());
            if !finite {
                return Err(bad(format!(
                    "layer `{}`: a value is NaN or infinite",
                    l.node
                )));
            }
        }
        Ok(())
    }

    /// SHA-256 (hex) of the adapter's canonical JSON: its identity in reports and, through
    /// [`AdapterOf`], in the adapted model's public adapter id.
    pub fn digest(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }

    /// `graph` with every adapted Gemm's weight replaced by `W + (α / r) · B · A`. A layer that
    /// names no node, names a node that is not a Gemm, or whose shapes do not match its
    /// weight is an error naming it.
    pub fn apply(&self, graph: &FloatGraph) -> Result<FloatGraph> {
        self.check()?;
        let mut merged = graph.clone();
        for l in &self.layers {
            let node = merged
                .nodes
                .iter_mut()
                .find(|n| n.name == l.node)
                .ok_or_else(|| {
                    bad(format!(
                        "layer `{}`: the base model has no node of that name",
                        l.node
                    ))
                })?;
            let FOp::Gemm { weight, .. } = &mut node.op else {
                return Err(bad(format!(
                    "layer `{}`: only Gemm layers take a LoRA update",
                    l.node
                )));
            };
            let (n, k) = match weight.shape[..] {
                [n, k] => (n, k),
                _ => return Err(bad(format!("layer `{}`: weight is not 2-D", l.node))),
            };
            let r = l.a.len();
            if l.a[0].len() != k || l.b.len() != n {
                return Err(bad(format!(
                    "layer `{}`: weight is {n} × {k}, the update is {} × {} (b: {} × {r}, a: {r} × {})",
                    l.node,
                    l.b.len(),
                    l.a[0].len(),
                    l.b.len(),
                    l.a[0].len()
                )));
            }
            let scale = self.alpha / r as f64;
            for (i, b_row) in l.b.iter().enumerate() {
                for j in 0..k {
                    let delta: f64 = b_row
                        .iter()
                        .zip(&l.a)
                        .map(|(&b, a_row)| f64::from(b) * f64::from(a_row[j]))
                        .sum();
                    let w = &mut weight.data[i * k + j];
                    // Float weights are f32 throughout the runtime; the sum is formed in f64.
                    *w = (f64::from(*w) + scale * delta) as f32;
                }
            }
        }
        Ok(merged)
    }
}

/// The adapted model: `adapter` merged into `graph` (the base model's float graph), quantized at
/// the base model's `scales` and input range — the scales its calibration chose, so the adapted
/// model's numbers mean what the base model's do. `base` is that quantized base model.
pub fn quantize_adapted(
    graph: &FloatGraph,
    base: &QModel,
    adapter: &LoraAdapter,
    scales: Scales,
) -> Result<QModel> {
    let merged = adapter.apply(graph)?;
    let mut q = quantize_graph(&merged, scales, base.input_range)?;
    q.name = format!("{}+{}", base.name, adapter.name);
    q.adapter = Some(AdapterOf {
        name: adapter.name.clone(),
        adapter_digest: adapter.digest(),
        base_digest: base.digest().to_string(),
    });
    Ok(q)
}
