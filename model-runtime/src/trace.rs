//! The inference trace: every integer tensor of one run, in graph order.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tensor::Tensor;

/// Everything a proof of this inference needs as witness. `tensors[i]` is tensor id `i` of the
/// model (id 0 is the quantized input), so a circuit reads exactly what the runtime computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Digest of the model that produced the trace ([`crate::QModel::digest`]).
    pub model_digest: String,
    /// Every tensor, indexed by tensor id.
    pub tensors: Vec<Tensor>,
    /// Id of the model output.
    pub output: usize,
    /// Id of the designated embedding tensor φ(x) used for attribution.
    pub embedding: usize,
}

impl Trace {
    /// The quantized input.
    pub fn input(&self) -> &Tensor {
        &self.tensors[0]
    }

    /// The model output.
    pub fn output(&self) -> &Tensor {
        &self.tensors[self.output]
    }

    /// The embedding φ(x).
    pub fn embedding(&self) -> &Tensor {
        &self.tensors[self.embedding]
    }

    /// SHA-256 over a canonical, length-prefixed byte encoding (model digest, tensor count, then
    /// each tensor's rank, dims and little-endian values, then the output and embedding ids), so
    /// no two different traces share an encoding. Independent of serde.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"openpoa-trace-v1");
        h.update((self.model_digest.len() as u64).to_le_bytes());
        h.update(self.model_digest.as_bytes());
        h.update((self.tensors.len() as u64).to_le_bytes());
        for t in &self.tensors {
            h.update((t.shape.len() as u64).to_le_bytes());
            for d in &t.shape {
                h.update((*d as u64).to_le_bytes());
            }
            for v in &t.data {
                h.update(v.to_le_bytes());
            }
        }
        h.update((self.output as u64).to_le_bytes());
        h.update((self.embedding as u64).to_le_bytes());
        h.finalize().into()
    }

    /// [`Trace::hash`] as lowercase hex.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash())
    }
}
