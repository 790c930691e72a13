//! The compiled-model folder written by `poa compile` and read by later stages.
//!
//! ```text
//! <dir>/model.onnx     the source model, copied so the folder is self-contained
//! <dir>/qmodel.json    the quantized model (poa_runtime::QModel)
//! <dir>/settings.json  scales, input range, embedding, source digest (Settings)
//! <dir>/report.json    calibration and held-out accuracy (Report)
//! <dir>/srs.dev.bin    `poa setup --dev-srs`: the INSECURE seed-generated SRS, fitted to k
//! <dir>/srs.bin        `poa setup --srs <file>`: the ceremony SRS downsized to k
//! <dir>/pk.bin         proving key   (poa_prover header + halo2 payload)
//! <dir>/vk.bin         verifying key (poa_prover header + halo2 payload)
//! ```
//! Files are written to a temporary name and renamed, so a crash never leaves half a file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use poa_circuits::{InputVisibility, Visibility, WeightVisibility};
use poa_prover::Srs;
use poa_runtime::{Agreement, CalibrationReport, QModel, Scales};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The dev SRS file in a model folder.
pub const SRS_DEV_FILE: &str = "srs.dev.bin";
/// The ceremony SRS file (downsized to the circuit's k) in a model folder.
pub const SRS_FILE: &str = "srs.bin";
/// The proving key file.
pub const PK_FILE: &str = "pk.bin";
/// The verifying key file.
pub const VK_FILE: &str = "vk.bin";

/// Loads the SRS `poa setup` left in `dir` (exactly one of [`SRS_FILE`], [`SRS_DEV_FILE`]).
pub fn load_srs(dir: &Path) -> anyhow::Result<Srs> {
    let (ceremony, dev) = (dir.join(SRS_FILE), dir.join(SRS_DEV_FILE));
    let path = match (ceremony.is_file(), dev.is_file()) {
        (true, false) => ceremony,
        (false, true) => dev,
        (true, true) => bail!(
            "{} holds both {SRS_FILE} and {SRS_DEV_FILE}; rerun `poa setup` to pick one",
            dir.display()
        ),
        (false, false) => bail!(
            "{} has no SRS ({SRS_FILE} or {SRS_DEV_FILE}); run `poa setup` first",
            dir.display()
        ),
    };
    Srs::load(&path).with_context(|| format!("loading {}", path.display()))
}

/// Reads a file `poa setup` wrote, with a hint when it is missing.
pub fn read_setup_file(dir: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(name);
    if !path.is_file() {
        bail!(
            "{} is missing; run `poa setup {}` first",
            path.display(),
            dir.display()
        );
    }
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// The warning every command prints when artifacts come from the dev SRS.
pub const INSECURE_WARNING: &str = "the dev SRS is INSECURE (its secret comes from a public seed, so anyone can forge proofs); use `poa setup --srs <ceremony file>` for anything real";

/// Milliseconds since `t`.
pub fn ms_since(t: std::time::Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e4).round() / 10.0
}

/// Version of the compiled-folder layout.
pub const COMPILED_FORMAT: u32 = 1;

/// Compile-time settings recorded next to the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Folder layout version ([`COMPILED_FORMAT`]).
    pub format: u32,
    /// Model name.
    pub model: String,
    /// SHA-256 of the source ONNX bytes.
    pub onnx_sha256: String,
    /// Digest of `qmodel.json` content ([`QModel::digest`]).
    pub qmodel_digest: String,
    /// Chosen scales.
    pub scales: Scales,
    /// Accepted input magnitude.
    pub input_range: f64,
    /// Input shape (batch 1).
    pub input_shape: Vec<usize>,
    /// Embedding tensor id and shape.
    pub embedding: EmbeddingInfo,
    /// What the proof makes public about the input: `public`, `hashed` or `private`
    /// (folders written before this field existed are `public`).
    #[serde(default = "public_input")]
    pub input_visibility: String,
    /// How proofs hold the weights: `fixed` (in the verifying key) or `hashed` (private, their
    /// commitment public; the model's bounds are byte-rounded so its adapters share the keys).
    /// Folders written before this field existed are `fixed`.
    #[serde(default = "fixed_weights")]
    pub weight_visibility: String,
    /// `poa` version that wrote the folder.
    pub poa_version: String,
}

fn public_input() -> String {
    InputVisibility::Public.to_string()
}

fn fixed_weights() -> String {
    WeightVisibility::Fixed.to_string()
}

impl Settings {
    /// The circuit visibility these settings ask for.
    pub fn visibility(&self) -> anyhow::Result<Visibility> {
        let input = self
            .input_visibility
            .parse::<InputVisibility>()
            .map_err(anyhow::Error::msg)
            .context("settings.json `input_visibility`")?;
        let weights = self
            .weight_visibility
            .parse::<WeightVisibility>()
            .map_err(anyhow::Error::msg)
            .context("settings.json `weight_visibility`")?;
        Ok(Visibility { input, weights })
    }
}

/// Where the attribution embedding φ(x) comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbeddingInfo {
    /// Tensor id in the trace.
    pub tensor: usize,
    /// Tensor name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Fixed-point scale.
    pub scale: u32,
}

/// Accuracy report: calibration search plus optional held-out comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The calibration search.
    pub calibration: CalibrationReport,
    /// Agreement on a held-out set, when one was given.
    pub held_out: Option<Agreement>,
    /// The LoRA adapter merged in (`poa compile --adapter`); absent for a base model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterReport>,
}

/// What `poa compile --adapter` merged, and how far it moved the model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdapterReport {
    /// Adapter name.
    pub name: String,
    /// SHA-256 of the adapter's canonical JSON (its public adapter id is the first 31 bytes).
    pub digest: String,
    /// Digest of the base model quantized at the same scales (its public model id, likewise).
    pub base_digest: String,
    /// The adapted Gemm layers.
    pub layers: Vec<String>,
    /// The adapted model against the *base* model's float outputs on the calibration inputs:
    /// how often the adapter changes the prediction (scales are the base model's).
    pub against_base: Agreement,
}

/// A loaded compiled-model folder.
pub struct Compiled {
    pub qmodel: QModel,
    pub settings: Settings,
}

/// Writes `value` as pretty JSON to `path` atomically (temp file + rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    write_bytes(path, &serde_json::to_vec_pretty(value)?)
}

/// Writes bytes to `path` atomically (temp file + rename).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

fn read_json<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

impl Compiled {
    /// Loads and cross-checks a compiled folder.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        if !dir.join("qmodel.json").is_file() {
            bail!(
                "{} is not a compiled model folder (no qmodel.json); run `poa compile` first",
                dir.display()
            );
        }
        let settings: Settings = read_json(&dir.join("settings.json"))?;
        if settings.format != COMPILED_FORMAT {
            bail!(
                "{}: folder format {} (this poa reads {COMPILED_FORMAT}); recompile",
                dir.display(),
                settings.format
            );
        }
        let qmodel: QModel = read_json(&dir.join("qmodel.json"))?;
        if qmodel.digest() != settings.qmodel_digest {
            bail!("{}: qmodel.json does not match settings.json (digest differs); the folder was edited or mixed up", dir.display());
        }
        Ok(Self { qmodel, settings })
    }
}

/// The attribution setup `poa setup --index` leaves in a model folder.
pub const ATTRIBUTION_FILE: &str = "attribution.json";

/// Version of [`ATTRIBUTION_FILE`].
pub const ATTRIBUTION_FORMAT: u32 = 1;

/// Contents of [`ATTRIBUTION_FILE`]: the index the keys were made for (the circuit fixes it) and
/// how many entries a proof publishes.
#[derive(Serialize, Deserialize)]
pub struct AttributionFile {
    /// [`ATTRIBUTION_FORMAT`].
    pub format: u32,
    /// Entries published per proof.
    pub k: usize,
    /// `fixed` (the index is part of the verifying key) or `hashed` (its root is public; the keys
    /// serve any index of the same shape). Files written before this field are `fixed`.
    #[serde(default = "fixed_index")]
    pub index_visibility: String,
    /// [`poa_circuits::commit::index_root`] of the index, 0x-hex (checked on load).
    pub index_root: String,
    /// The index.
    pub index: poa_runtime::attribution::AttributionIndex,
}

fn fixed_index() -> String {
    poa_circuits::IndexVisibility::Fixed.to_string()
}

/// The attribution setup of `dir` (`None` for an inference-only folder), re-checked against the
/// model: the stored root must be the index's. With `index`, that index replaces the stored one
/// (same k and visibility: a hashed-index key proves over any index of its shape).
pub fn load_attribution(
    dir: &Path,
    q: &QModel,
    index: Option<poa_runtime::attribution::AttributionIndex>,
) -> anyhow::Result<Option<poa_circuits::AttributionSetup>> {
    let path = dir.join(ATTRIBUTION_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let file: AttributionFile = read_json(&path)?;
    if file.format != ATTRIBUTION_FORMAT {
        bail!(
            "{}: format {} (this poa reads {ATTRIBUTION_FORMAT}); rerun `poa setup --index`",
            path.display(),
            file.format
        );
    }
    let vis: poa_circuits::IndexVisibility = file
        .index_visibility
        .parse()
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("{} `index_visibility`", path.display()))?;
    let stored =
        poa_circuits::AttributionSetup::new(q, std::sync::Arc::new(file.index), file.k, vis)
            .with_context(|| format!("{}", path.display()))?;
    let root = poa_prover::artifact::fr_to_hex(&stored.root());
    if root != file.index_root {
        bail!(
            "{}: the index hashes to {root}, the file says {}; it was edited — rerun `poa setup --index`",
            path.display(),
            file.index_root
        );
    }
    match index {
        None => Ok(Some(stored)),
        Some(other) => Ok(Some(
            poa_circuits::AttributionSetup::new(q, std::sync::Arc::new(other), file.k, vis)
                .context("the index given cannot be attributed over with this model")?,
        )),
    }
}
