//! Proof of Attribution in the circuit: the inference circuit plus the top-k attribution of its
//! prediction over a committed attribution index (score v1 of
//! [`poa_runtime::attribution::score()`], computed here by the same runtime functions for the
//! witness and proved by the chip in [`chip`]).
//!
//! What the attribution part proves, for an index that is either baked into the circuit
//! ([`IndexVisibility::Fixed`]: every entry's contributor, label and embedding are fixed columns,
//! so the verifying key commits to them and [`AttributionSetup::root`] is pinned as a public
//! constant) or a private witness ([`IndexVisibility::Hashed`]: the circuit range-checks and packs
//! every embedding, hashes each entry into a Poseidon leaf and the leaves into the Merkle root of
//! [`index_root`], and publishes that root — one verifying key for every index of the shape):
//!
//! 1. ŷ is the predicted class (the model's ArgMax output, or an ArgMax over its outputs);
//! 2. each entry's score `s_i = [label_i = ŷ]·max(0, ⟨φ_i, φ(x)⟩)`, φ(x) being the cells of the
//!    model's embedding tensor in the same circuit;
//! 3. the k published `(contributor, score)` pairs are the k highest scores, ties to the lower
//!    index: with `key_i = s_i·M + (M − 1 − i)` (`M = 2^bitlen(N) > N`, so keys are distinct and
//!    order by score, then lower index) a threshold τ has `key_i ≥ τ` exactly for the `k`
//!    selected entries and `key_i < τ` for every other one; the published slots are selected
//!    entries (a lookup into the entry rows), in strictly decreasing key order, the last one
//!    being τ — so they are the selected set, best first.
//!
//! The request nonce and the prover's address are public instances absorbed into the
//! Fiat–Shamir transcript, so a proof is bound to them without any constraint touching them.

pub mod chip;

use std::sync::Arc;

use halo2curves::bn256::Fr;
use poa_runtime::attribution::{predicted_class, score, top_k, AttributionIndex, TopK};
use poa_runtime::datanet::Address;
use poa_runtime::quant::bits_for;
use poa_runtime::{QModel, Trace};

use crate::chips::range_check::LIMB_BITS;
use crate::commit::Packing;
use crate::commit::{fr_be, index_root, input_commitment};
use crate::error::CircuitError;
use crate::field::fe128;
use crate::instances::{public_instances, AttributionRows, InstanceLayout};
use crate::visibility::{IndexVisibility, InputVisibility, Visibility, WeightVisibility};
use crate::weights::weights_commitment;

/// Widest key comparison: keys and their differences must fit the `i64` values the range-check
/// requests carry.
const KEY_BITS_LIMIT: u32 = 56;

/// Bits of an Ethereum address: a published contributor is range-checked to them.
pub(crate) const ADDRESS_BITS: u32 = 160;

/// Adapter id of a base model (no LoRA adapter).
pub const NO_ADAPTER: u64 = 0;

/// The public id of a model: its [`QModel::digest`]'s first 31 bytes read big-endian (248 bits,
/// so always a field element). The circuit pins it, so a registry keyed by it names the model.
/// A model merged from a LoRA adapter carries its *base* model's id here and the adapter's in
/// [`adapter_id`], so the registry key `(model id, adapter id)` names both.
pub fn model_id(model: &QModel) -> Fr {
    let digest = model
        .adapter
        .as_ref()
        .map_or(model.digest(), |a| a.base_digest.as_str());
    // Digests are 64 hex digits of our own making; a malformed one is a bug, caught in tests.
    model_id_of_digest(digest).unwrap_or_else(|| {
        debug_assert!(false, "model digest is hex");
        Fr::from(0u64)
    })
}

/// The public adapter id (instance row 1): [`NO_ADAPTER`] for a base model, else the adapter
/// digest's first 31 bytes read big-endian, like [`model_id`].
pub fn adapter_id(model: &QModel) -> Fr {
    match &model.adapter {
        None => Fr::from(NO_ADAPTER),
        Some(a) => model_id_of_digest(&a.adapter_digest).unwrap_or_else(|| {
            debug_assert!(false, "adapter digest is hex");
            Fr::from(NO_ADAPTER)
        }),
    }
}

/// What a proof of `model` publishes as its adapter id (instance row 1), the second half of its
/// registry key: [`adapter_id`] with fixed weights; with hashed weights the
/// [`weights_commitment`] — the base model and each adapter then share one circuit, and this row
/// is what tells them apart.
pub fn public_adapter_id(model: &QModel, vis: &Visibility) -> Fr {
    match vis.weights {
        WeightVisibility::Fixed => adapter_id(model),
        WeightVisibility::Hashed => weights_commitment(model),
    }
}

/// [`model_id`] from a model's digest as stored (64 hex digits), for code that holds the digest
/// and not the model (a job store); `None` when `digest` is not 64 hex digits.
pub fn model_id_of_digest(digest: &str) -> Option<Fr> {
    let mut bytes = [0u8; 31];
    if digest.len() != 64 {
        return None;
    }
    hex::decode_to_slice(digest.get(..62)?, &mut bytes).ok()?;
    hex::decode(digest.get(62..)?).ok()?;
    Some(fr_be(&bytes))
}

/// An Ethereum address as the field element the circuit publishes (big-endian integer).
pub fn address_fe(a: &Address) -> Fr {
    fr_be(&a.0)
}

/// What shapes an attribution circuit: the index (fixed into the circuit), k, and the sizes of
/// the comparisons its chip range-checks.
#[derive(Clone, Debug)]
pub struct AttributionSetup {
    index: Arc<AttributionIndex>,
    k: usize,
    vis: IndexVisibility,
    root: Fr,
    /// `log₂ M`: tie-breaking slot of a key.
    pub(crate) index_bits: u32,
    /// Range-check bits of the Relu sign of a dot product.
    pub(crate) dot_bits: u32,
    /// Range-check bits of a key comparison.
    pub(crate) key_bits: u32,
}

/// Range-check bits rounded up to whole limbs (a wider check is as sound while far below the
/// field size, and costs no top-limb row).
fn whole_limbs(bits: u32) -> u32 {
    bits.max(1).div_ceil(LIMB_BITS) * LIMB_BITS
}

impl AttributionSetup {
    /// Checks `index` belongs to `model` and that `k` entries can be published, and sizes the
    /// comparisons.
    pub fn new(
        model: &QModel,
        index: Arc<AttributionIndex>,
        k: usize,
        vis: IndexVisibility,
    ) -> Result<Self, CircuitError> {
        let bad = |reason: String| CircuitError::Attribution { reason };
        index.check_against(model).map_err(|e| bad(e.to_string()))?;
        let n = index.entries.len();
        if k == 0 || k > n {
            return Err(bad(format!(
                "k = {k} entries cannot be published from an index of {n}"
            )));
        }
        let d = index.dim() as i128;
        let query_bound = i128::from(model.tensors[model.embedding].bound);
        let dot_bound = d * i128::from(index.embedding_bound) * query_bound;
        let index_bits = bits_for(n as i128).max(1);
        let key_bound = (dot_bound + 1) << index_bits;
        let (dot_bits, key_bits) = (
            whole_limbs(bits_for(dot_bound)),
            whole_limbs(bits_for(key_bound)),
        );
        if key_bits > KEY_BITS_LIMIT {
            return Err(CircuitError::RangeTooWide {
                layer: format!("attribution over {n} entries of dimension {d}"),
                bits: key_bits,
                limit: KEY_BITS_LIMIT,
            });
        }
        let slot_bits = Packing::for_bound(index.embedding_bound).slot_bits;
        if vis == IndexVisibility::Hashed && slot_bits > crate::chips::range_check::MAX_BITS {
            return Err(CircuitError::RangeTooWide {
                layer: format!("index embedding (bound {})", index.embedding_bound),
                bits: slot_bits,
                limit: crate::chips::range_check::MAX_BITS,
            });
        }
        let root = index_root(&index);
        Ok(Self {
            index,
            k,
            vis,
            root,
            index_bits,
            dot_bits,
            key_bits,
        })
    }

    /// The index.
    pub fn index(&self) -> &AttributionIndex {
        &self.index
    }

    /// Entries published.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Whether the index is fixed into the circuit or hashed to a public root.
    pub fn visibility(&self) -> IndexVisibility {
        self.vis
    }

    /// How the index's embeddings are packed into its leaves ([`index_root`]).
    pub fn packing(&self) -> Packing {
        Packing::for_bound(self.index.embedding_bound)
    }

    /// [`index_root`] of the index (the public index root).
    pub fn root(&self) -> Fr {
        self.root
    }

    /// Range-check bits of a published slot's entry index.
    pub(crate) fn slot_index_bits(&self) -> u32 {
        whole_limbs(self.index_bits)
    }

    /// `M`, the key multiplier.
    pub(crate) fn key_base(&self) -> i128 {
        1i128 << self.index_bits
    }

    /// The attribution of one run, as the runtime computes it.
    pub(crate) fn witness(
        &self,
        model: &QModel,
        trace: &Trace,
    ) -> Result<AttributionWitness, CircuitError> {
        let class = predicted_class(model, trace);
        let query = &trace.embedding().data;
        let scores: Vec<i128> = self
            .index
            .entries
            .iter()
            .map(|e| score(e, class, query))
            .collect();
        let top = top_k(&scores, self.k).map_err(|e| CircuitError::Attribution {
            reason: e.to_string(),
        })?;
        Ok(AttributionWitness { class, scores, top })
    }
}

/// The paid request a proof answers: bound into the proof as public instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The request's nonce (issued when the fee was paid).
    pub nonce: Fr,
    /// Who is paid for proving.
    pub prover: Address,
}

/// The attribution computed natively for the witness.
#[derive(Clone, Debug)]
pub(crate) struct AttributionWitness {
    pub class: u32,
    pub scores: Vec<i128>,
    pub top: TopK,
}

/// The public instances of an attribution proof ([`crate::instances`] layout, header first).
pub(crate) fn attribution_instances(
    model: &QModel,
    trace: &Trace,
    vis: &Visibility,
    setup: &AttributionSetup,
    wit: &AttributionWitness,
    request: &Request,
) -> Vec<Fr> {
    let hashed = vis.input == InputVisibility::Hashed;
    let commitment = if hashed {
        input_commitment(model, &trace.input().data)
    } else {
        Fr::zero()
    };
    let mut out = vec![
        model_id(model),
        public_adapter_id(model, vis),
        commitment,
        Fr::from(u64::from(wit.class)),
        setup.root,
        request.nonce,
        address_fe(&request.prover),
    ];
    for (&i, &s) in wit.top.indices.iter().zip(&wit.top.scores) {
        out.push(address_fe(&setup.index.entries[i].contributor));
        out.push(fe128(s));
    }
    let rest = public_instances(model, trace, vis);
    // Hashed weights' and a hashed input's commitments sit in the header instead.
    let skip = usize::from(hashed) + usize::from(vis.weights == WeightVisibility::Hashed);
    out.extend_from_slice(&rest[skip..]);
    debug_assert_eq!(
        InstanceLayout::attributed(model, vis, setup.k).len(),
        out.len()
    );
    out
}

/// The attribution header of a proof's public instances, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributionPublic {
    /// Model id.
    pub model_id: Fr,
    /// Adapter id (0: none).
    pub adapter_id: Fr,
    /// Input commitment (0 unless the input is `hashed`).
    pub input_commitment: Fr,
    /// Predicted class.
    pub class: Fr,
    /// Index root.
    pub index_root: Fr,
    /// Request nonce.
    pub nonce: Fr,
    /// Prover address as a field element.
    pub prover: Fr,
    /// `(contributor, score)` of the k published entries, best first.
    pub top: Vec<(Fr, Fr)>,
}

impl AttributionPublic {
    /// Reads the header of `instances` for `k` published entries (`None` when too short).
    pub fn decode(instances: &[Fr], k: usize) -> Option<Self> {
        let rows = AttributionRows { k };
        if instances.len() < rows.len() {
            return None;
        }
        let at = |r: usize| instances[r];
        Some(Self {
            model_id: at(AttributionRows::MODEL_ID),
            adapter_id: at(AttributionRows::ADAPTER_ID),
            input_commitment: at(AttributionRows::INPUT_COMMITMENT),
            class: at(AttributionRows::CLASS),
            index_root: at(AttributionRows::INDEX_ROOT),
            nonce: at(AttributionRows::NONCE),
            prover: at(AttributionRows::PROVER),
            top: (0..k)
                .map(|t| {
                    (
                        at(AttributionRows::contributor(t)),
                        at(AttributionRows::score(t)),
                    )
                })
                .collect(),
        })
    }
}
