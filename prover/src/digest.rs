//! What identifies a circuit: the model digest plus a circuit digest over everything else that
//! shapes the keys. Artifacts carry both so a key, proof or SRS from another setup is refused by
//! name instead of failing as an opaque "proof does not verify".

use poa_circuits::dense::DenseParams;
use poa_circuits::model::CircuitParams;
use poa_circuits::weights::shape_digest;
use poa_circuits::{
    AttributionSetup, DenseCircuit, IndexVisibility, InputVisibility, Layout, ModelCircuit,
    NarrowShape, Visibility, WeightVisibility, INSTANCE_LAYOUT_VERSION,
};
use poa_runtime::attribution::SCORE_VERSION;
use poa_runtime::QModel;
use sha2::{Digest, Sha256};

use crate::error::{ProverError, Result};

/// Proof system and transcript of every artifact this crate writes. Part of the circuit digest:
/// keys and proofs made under another configuration are different artifacts.
pub const PROOF_SYSTEM: &str = "halo2-axiom-0.5.3/kzg-bn254/shplonk/keccak256-evm-transcript";

/// Identity of one circuit: the model, the instance count, `k`, and whether it proves
/// attribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircuitId {
    /// [`model_digest`]: the model's digest, or its shape digest with hashed weights.
    pub model_digest: [u8; 32],
    /// [`circuit_digest`] for this model and `k`.
    pub circuit_digest: [u8; 32],
    /// Circuit size exponent.
    pub k: u32,
    /// Number of public instances.
    pub instances: usize,
    /// What the proof makes public (stored in the artifact header's flags).
    pub visibility: Visibility,
    /// True for an attribution circuit (inference + top-k over a fixed index; header flag).
    pub attributed: bool,
    /// True for an inference circuit whose range checks are split over two bands (header flag).
    pub split_range: bool,
    /// Which layout the keys are for (header flag; a narrow key's file also carries its shape).
    pub layout: Layout,
    /// True for a dense circuit with the activation-table lookup (header flag): its keys are
    /// read back with [`CircuitId::dense_params`].
    pub dense_tables: bool,
}

impl CircuitId {
    /// The halo2 circuit params (columns beyond the fixed set) these keys were made with.
    pub fn params(&self) -> CircuitParams {
        CircuitParams::of(
            self.attributed,
            self.visibility.input == InputVisibility::Hashed,
            self.split_range,
            self.visibility.weights == WeightVisibility::Hashed,
        )
    }

    /// The dense layout's column configuration these keys were made with (the header's table
    /// and attribution flags pick it, so a key file reads back into the right constraint
    /// system; default for the other layouts).
    pub fn dense_params(&self) -> DenseParams {
        DenseParams {
            tables: self.dense_tables,
            attribution: self.attributed,
        }
    }

    /// The identity of `model`'s inference circuit at the `k` [`poa_circuits::circuit_stats`]
    /// chooses.
    pub fn of(model: &QModel, vis: &Visibility) -> Result<Self> {
        Self::of_circuit(&ModelCircuit::new(model, None, *vis)?)
    }

    /// The identity of any circuit (inference, or with attribution).
    pub fn of_circuit(circuit: &ModelCircuit) -> Result<Self> {
        let model = circuit.model();
        let vis = circuit.visibility();
        let stats = circuit.stats();
        let model_digest = model_digest(model, &vis)?;
        let attribution = circuit
            .attribution()
            .map_or(String::new(), attribution_config);
        // The config string pins the layout the circuits crate reports (rows, columns, lookups);
        // a chip change that alters it gives a new digest, so stale keys are refused.
        // Fixed weights keep the pre-existing string, so their digests (and keys) are unchanged.
        let weights = match vis.weights {
            WeightVisibility::Fixed => String::new(),
            WeightVisibility::Hashed => "; weights=hashed".into(),
        };
        let config = format!(
            "{PROOF_SYSTEM}; input={}{weights}; {stats}{attribution}",
            vis.input
        );
        Ok(Self {
            model_digest,
            circuit_digest: circuit_digest(&model_digest, stats.k, &config),
            k: stats.k,
            instances: stats.instances,
            visibility: vis,
            attributed: circuit.attribution().is_some(),
            split_range: circuit.attribution().is_none() && stats.range_bands == 2,
            layout: Layout::Wide,
            dense_tables: false,
        })
    }

    /// The identity of a dense-layout circuit ([`poa_circuits::dense`]) of `model`, with
    /// attribution over `setup` when given (its index root, k and shape in the digest): its rows
    /// and instance count are in the digest, so a key from a build that lays the model out
    /// differently is refused by name.
    pub fn of_dense(
        model: &QModel,
        vis: Visibility,
        c: &DenseCircuit,
        setup: Option<&AttributionSetup>,
    ) -> Result<Self> {
        let model_digest = model_digest(model, &vis)?;
        // Inference without tables keeps the string (and the keys) it had before tables and
        // attribution existed.
        let tables = match c.table_rows() {
            0 => String::new(),
            n => format!("; table_rows={n}"),
        };
        let attribution = setup.map_or(String::new(), attribution_config);
        let config = format!(
            "{PROOF_SYSTEM}; layout=dense-v1; input={}; rows={}; instances={}{tables}{attribution}",
            vis.input,
            c.rows(),
            c.instances().len()
        );
        Ok(Self {
            model_digest,
            circuit_digest: circuit_digest(&model_digest, c.k(), &config),
            k: c.k(),
            instances: c.instances().len(),
            visibility: vis,
            attributed: setup.is_some(),
            split_range: false,
            layout: Layout::Dense,
            dense_tables: c.params().tables,
        })
    }

    /// The identity of a narrow-layout circuit ([`poa_circuits::narrow`]) of `model`, with
    /// attribution over `setup` when given, laid out in `shape` (its halo2-base parameters and
    /// break points, so a key of another shape is another circuit) in `cells` advice cells with
    /// `instances` public instances — so a key from a build that lays the model out differently
    /// is refused by name rather than failing as an invalid proof.
    pub fn of_narrow(
        model: &QModel,
        vis: Visibility,
        setup: Option<&AttributionSetup>,
        shape: &NarrowShape,
        cells: usize,
        instances: usize,
    ) -> Result<Self> {
        let model_digest = model_digest(model, &vis)?;
        let attribution = setup.map_or(String::new(), attribution_config);
        let k = shape.params.k as u32;
        let config = format!(
            "{PROOF_SYSTEM}; layout=narrow-v1; input={}; cells={cells}; instances={instances}; shape={}{attribution}",
            vis.input,
            shape_json(shape)
        );
        Ok(Self {
            model_digest,
            circuit_digest: circuit_digest(&model_digest, k, &config),
            k,
            instances,
            visibility: vis,
            attributed: setup.is_some(),
            split_range: false,
            layout: Layout::Narrow,
            dense_tables: false,
        })
    }
}

/// The attribution part of a circuit's config: the score, k, the index's shape, and for a fixed
/// index its root (which binds every entry). A hashed index leaves the root out: one key per
/// shape.
fn attribution_config(a: &AttributionSetup) -> String {
    let index = a.index();
    let root = match a.visibility() {
        IndexVisibility::Fixed => format!(",root={:?}", a.root()),
        IndexVisibility::Hashed => String::new(),
    };
    format!(
        "; attribution=score-v{SCORE_VERSION},k={},index={},entries={},dim={},bound={}{root}",
        a.k(),
        a.visibility(),
        index.entries.len(),
        index.dim(),
        index.embedding_bound,
    )
}

/// A narrow shape as JSON: `[params, break_points]` (in the circuit digest and, in front of the
/// halo2 payload, in narrow key files).
pub(crate) fn shape_json(shape: &NarrowShape) -> String {
    // Integers, vectors and an option: serialising cannot fail.
    serde_json::to_string(&(&shape.params, &shape.break_points)).unwrap_or_default()
}

/// SHA-256 over the model digest, the instance layout version, k and the config string.
fn circuit_digest(model_digest: &[u8; 32], k: u32, config: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"openpoa-circuit-digest-v1");
    h.update(model_digest);
    h.update(INSTANCE_LAYOUT_VERSION.to_le_bytes());
    h.update(k.to_le_bytes());
    h.update((config.len() as u64).to_le_bytes());
    h.update(config.as_bytes());
    h.finalize().into()
}

/// The model a key or proof is for: [`QModel::digest`] (64 hex characters) as 32 bytes, or with
/// hashed weights the model's [`shape_digest`] — every model of that shape (a base model and its
/// LoRA adapters) shares the keys, and the proof's public weights commitment says which one it is.
pub fn model_digest(model: &QModel, vis: &Visibility) -> Result<[u8; 32]> {
    match vis.weights {
        WeightVisibility::Fixed => parse_digest("model digest", model.digest()),
        WeightVisibility::Hashed => Ok(shape_digest(model)),
    }
}

/// Parses a 64-character hex digest.
pub(crate) fn parse_digest(what: &'static str, text: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim_start_matches("0x"), &mut out).map_err(|e| {
        ProverError::ProofFormat {
            reason: format!("{what} `{text}` is not 32 bytes of hex: {e}"),
        }
    })?;
    Ok(out)
}
