//! Models in the job store: uploaded ONNX + calibration inputs, compiled and set up in the
//! background by the same functions as `poa compile` and `poa setup`; the finished folder is
//! stored in `model_files` so prover nodes on other machines load the very same keys.

use std::path::{Path, PathBuf};

use anyhow::Context;
use poa_circuits::{IndexVisibility, InputVisibility, Layout, WeightVisibility};
use poa_runtime::datanet::{DatanetStore, FileStore};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::db::{now_ms, Db};
use poa_prover::artifact::fr_to_hex;

use crate::artifacts::Compiled;
use crate::commands::{compile, setup};
use crate::output::Output;

/// Model statuses, as stored.
pub mod status {
    /// Compile and setup are running (or will be resumed at the next node start).
    pub const COMPILING: &str = "compiling";
    /// Keys are stored; jobs may use it.
    pub const READY: &str = "ready";
    /// Compile or setup failed: `error` says why.
    pub const FAILED: &str = "failed";
}

/// What attribution keys are set up over.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttributionSpec {
    /// Datanet id (created through `/v1/datanets`).
    pub datanet: String,
    /// Its sealed version.
    pub version: u32,
    /// Entries a proof publishes.
    #[serde(default = "default_k")]
    pub top_k: usize,
    /// `fixed` (index in the verifying key) or `hashed` (index root public).
    #[serde(default = "default_index_visibility")]
    pub index_visibility: String,
}

fn default_k() -> usize {
    poa_runtime::attribution::DEFAULT_K
}

fn default_index_visibility() -> String {
    IndexVisibility::Fixed.to_string()
}

/// Where keys get their SRS.
#[derive(Clone, Debug)]
pub enum SrsChoice {
    /// The INSECURE seed-generated SRS (tests, demos).
    Dev,
    /// A ceremony file, downsized per model.
    Ceremony(PathBuf),
}

/// A model as stored (without its source bytes).
#[derive(Clone, Debug)]
pub struct Model {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// See [`status`].
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Input visibility.
    pub input_visibility: String,
    /// Weight visibility (`fixed` or `hashed`).
    pub weight_visibility: String,
    /// Circuit layout (`wide` or `narrow`).
    pub layout: String,
    /// The narrow layout's requested k (`None`: its one-column size).
    pub narrow_k: Option<i64>,
    /// Attribution setup.
    pub attribution: Option<AttributionSpec>,
    /// Values per input sample (once compiled).
    pub input_len: Option<i64>,
    /// Quantized-model digest.
    pub commitment: Option<String>,
    /// Index root (attribution keys).
    pub index_root: Option<String>,
    /// Circuit size, JSON.
    pub circuit: Option<String>,
    /// Keys from the dev SRS.
    pub insecure_srs: Option<bool>,
    /// Verifier contract, once deployed.
    pub verifier_address: Option<String>,
    /// The base model (adapter rows only).
    pub base_model: Option<String>,
    /// The adapter's name (adapter rows only).
    pub adapter_name: Option<String>,
    /// Public model id (instance row 0, 0x-hex), once ready.
    pub public_model_id: Option<String>,
    /// Public adapter id (instance row 1, 0x-hex), once ready.
    pub public_adapter_id: Option<String>,
    /// Created, ms.
    pub created_at: i64,
}

const MODEL_COLUMNS: &str = "id, name, status, error, input_visibility, weight_visibility, \
     layout, narrow_k, attribution, input_len, \
     commitment, index_root, circuit, insecure_srs, verifier_address, base_model, adapter_name, \
     public_model_id, public_adapter_id, created_at";

impl Model {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        let attribution: Option<String> = r.try_get("attribution")?;
        Ok(Self {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            status: r.try_get("status")?,
            error: r.try_get("error")?,
            input_visibility: r.try_get("input_visibility")?,
            weight_visibility: r.try_get("weight_visibility")?,
            layout: r.try_get("layout")?,
            narrow_k: r.try_get("narrow_k")?,
            attribution: attribution
                .map(|a| serde_json::from_str(&a))
                .transpose()
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            input_len: r.try_get("input_len")?,
            commitment: r.try_get("commitment")?,
            index_root: r.try_get("index_root")?,
            circuit: r.try_get("circuit")?,
            insecure_srs: r.try_get::<Option<i64>, _>("insecure_srs")?.map(|b| b != 0),
            verifier_address: r.try_get("verifier_address")?,
            base_model: r.try_get("base_model")?,
            adapter_name: r.try_get("adapter_name")?,
            public_model_id: r.try_get("public_model_id")?,
            public_adapter_id: r.try_get("public_adapter_id")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

/// An upload, validated by the API.
pub struct NewModel {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// ONNX bytes.
    pub onnx: Vec<u8>,
    /// Calibration inputs, JSON text (`{"inputs": [[…]]}`).
    pub calibration: String,
    /// Input visibility.
    pub input_visibility: InputVisibility,
    /// Weight visibility.
    pub weight_visibility: WeightVisibility,
    /// Circuit layout.
    pub layout: Layout,
    /// The narrow layout's k (`None`: one column).
    pub narrow_k: Option<u32>,
    /// Attribution setup.
    pub attribution: Option<AttributionSpec>,
    /// For an adapter row: what it adapts.
    pub adapter: Option<NewAdapter>,
}

/// The adapter part of a [`NewModel`].
pub struct NewAdapter {
    /// The base model's id.
    pub base_model: String,
    /// The adapter's name.
    pub name: String,
    /// The adapter file (`poa-lora/1` JSON), merged at compile time.
    pub file: String,
}

/// Inserts an uploaded model as `compiling`.
pub async fn insert(db: &Db, m: &NewModel) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let attribution = m
        .attribution
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO models (id, name, status, onnx, calibration, input_visibility, attribution, \
         attributed, base_model, adapter, adapter_name, created_at, updated_at, \
         weight_visibility, layout, narrow_k) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15)",
    )
    .bind(&m.id)
    .bind(&m.name)
    .bind(status::COMPILING)
    .bind(m.onnx.clone())
    .bind(&m.calibration)
    .bind(m.input_visibility.to_string())
    .bind(attribution)
    .bind(i64::from(m.attribution.is_some()))
    .bind(m.adapter.as_ref().map(|a| a.base_model.clone()))
    .bind(m.adapter.as_ref().map(|a| a.file.clone()))
    .bind(m.adapter.as_ref().map(|a| a.name.clone()))
    .bind(now)
    .bind(m.weight_visibility.to_string())
    .bind(m.layout.to_string())
    .bind(m.narrow_k.map(i64::from))
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The model `id`.
pub async fn get(db: &Db, id: &str) -> Result<Option<Model>, sqlx::Error> {
    let sql = format!("SELECT {MODEL_COLUMNS} FROM models WHERE id = $1");
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(Model::from_row)
        .transpose()
}

/// Every model, oldest first.
pub async fn list(db: &Db) -> Result<Vec<Model>, sqlx::Error> {
    let sql = format!("SELECT {MODEL_COLUMNS} FROM models ORDER BY created_at, id");
    sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(Model::from_row)
        .collect()
}

/// Ids of models left `compiling` (the node stopped mid-setup): resumed at start.
pub async fn unfinished(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT id FROM models WHERE status = $1")
        .bind(status::COMPILING)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect()
}

/// Ready attribution models whose verifier address is not known yet: (id, public model id,
/// public adapter id).
pub async fn without_verifier(db: &Db) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query(
        "SELECT id, public_model_id, public_adapter_id FROM models WHERE status = $1 \
         AND verifier_address IS NULL AND public_model_id IS NOT NULL \
         AND public_adapter_id IS NOT NULL AND attribution IS NOT NULL",
    )
    .bind(status::READY)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("id")?,
            r.try_get("public_model_id")?,
            r.try_get("public_adapter_id")?,
        ))
    })
    .collect()
}

/// Records the verifier contract the chain's model registry names for model `id`.
pub async fn set_verifier(db: &Db, id: &str, verifier: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE models SET verifier_address = $1 WHERE id = $2")
        .bind(verifier)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// What a model is built from.
struct Source {
    onnx: Vec<u8>,
    calibration: String,
    input_visibility: String,
    weight_visibility: String,
    layout: String,
    narrow_k: Option<u32>,
    attribution: Option<AttributionSpec>,
    /// The LoRA adapter file, for an adapter row.
    adapter: Option<String>,
}

/// The stored source of model `id`.
async fn source(db: &Db, id: &str) -> anyhow::Result<Source> {
    let r = sqlx::query(
        "SELECT onnx, calibration, input_visibility, weight_visibility, layout, narrow_k, \
         attribution, adapter FROM models WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await?;
    let attribution: Option<String> = r.try_get("attribution")?;
    Ok(Source {
        onnx: r.try_get("onnx")?,
        calibration: r.try_get("calibration")?,
        input_visibility: r.try_get("input_visibility")?,
        weight_visibility: r.try_get("weight_visibility")?,
        layout: r.try_get("layout")?,
        narrow_k: r
            .try_get::<Option<i64>, _>("narrow_k")?
            .map(u32::try_from)
            .transpose()?,
        attribution: attribution.map(|a| serde_json::from_str(&a)).transpose()?,
        adapter: r.try_get("adapter")?,
    })
}

/// What an adapter takes from its base model.
pub struct BaseSource {
    /// ONNX bytes.
    pub onnx: Vec<u8>,
    /// Calibration inputs, JSON text.
    pub calibration: String,
    /// Input visibility.
    pub input_visibility: InputVisibility,
    /// Weight visibility: with `hashed`, the adapter's keys are the base model's.
    pub weight_visibility: WeightVisibility,
    /// Circuit layout: adapters are set up like their base model.
    pub layout: Layout,
    /// The narrow layout's k, likewise.
    pub narrow_k: Option<u32>,
    /// Attribution setup.
    pub attribution: Option<AttributionSpec>,
}

/// The stored source of model `id` an adapter is built from (the caller checked it is a base
/// model).
pub async fn base_source(db: &Db, id: &str) -> anyhow::Result<BaseSource> {
    let s = source(db, id).await?;
    Ok(BaseSource {
        onnx: s.onnx,
        calibration: s.calibration,
        input_visibility: s.input_visibility.parse().map_err(anyhow::Error::msg)?,
        weight_visibility: s.weight_visibility.parse().map_err(anyhow::Error::msg)?,
        layout: s.layout.parse().map_err(anyhow::Error::msg)?,
        narrow_k: s.narrow_k,
        attribution: s.attribution,
    })
}

/// What a finished setup stores.
struct SetUp {
    files: Vec<(String, Vec<u8>)>,
    input_len: i64,
    commitment: String,
    index_root: Option<String>,
    circuit: String,
    insecure_srs: bool,
    public_model_id: String,
    public_adapter_id: String,
}

/// Compiles and sets up model `id` (blocking: calibration and keygen), in `dir`.
fn compile_and_setup(
    dir: &Path,
    datanets: &Path,
    source: &Source,
    srs: &SrsChoice,
) -> anyhow::Result<SetUp> {
    let out = Output::new(true);
    let src = dir.join("src");
    std::fs::create_dir_all(&src).with_context(|| format!("creating {}", src.display()))?;
    let (onnx_path, calibration_path) = (src.join("model.onnx"), src.join("calibration.json"));
    std::fs::write(&onnx_path, &source.onnx)?;
    std::fs::write(&calibration_path, &source.calibration)?;
    let adapter = match &source.adapter {
        Some(text) => {
            let path = src.join("adapter.json");
            std::fs::write(&path, text)?;
            Some(path)
        }
        None => None,
    };
    let (input_visibility, attribution) = (&source.input_visibility, source.attribution.as_ref());
    let layout: Layout = source.layout.parse().map_err(anyhow::Error::msg)?;
    let defaults = poa_runtime::CalibrationOptions::default();
    let args = compile::Args {
        model: onnx_path,
        calibration: calibration_path,
        out: dir.to_path_buf(),
        test: None,
        tolerance: defaults.tolerance,
        min_agreement: defaults.min_agreement,
        input_range: None,
        input_visibility: input_visibility.parse().map_err(anyhow::Error::msg)?,
        weight_visibility: source
            .weight_visibility
            .parse()
            .map_err(anyhow::Error::msg)?,
        max_scale: defaults.max_scale,
        adapter,
    };
    let (settings, _) = compile::compile(&args, &out)?;
    let compiled = Compiled::load(dir)?;
    let index = match attribution {
        Some(a) => {
            let store = FileStore::new(datanets.to_path_buf());
            let d = store.get(&a.datanet.parse()?)?;
            let index = poa_runtime::attribution::build_index(&compiled.qmodel, &d, a.version)
                .with_context(|| format!("indexing datanet {} version {}", a.datanet, a.version))?;
            let vis: IndexVisibility = a.index_visibility.parse().map_err(anyhow::Error::msg)?;
            Some((index, a.top_k, vis))
        }
        None => None,
    };
    let srs_source = match srs {
        SrsChoice::Dev => setup::SrsSource::Dev,
        SrsChoice::Ceremony(p) => setup::SrsSource::Ceremony(p),
    };
    let r = setup::setup(dir, srs_source, index, layout, source.narrow_k, &out)?;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push((name, std::fs::read(entry.path())?));
        }
    }
    let vis = settings.visibility()?;
    Ok(SetUp {
        files,
        input_len: i64::try_from(settings.input_shape.iter().product::<usize>())?,
        commitment: settings.qmodel_digest,
        index_root: r.attribution.as_ref().map(|a| a.index_root.clone()),
        circuit: serde_json::to_string(&r.stats)?,
        insecure_srs: r.insecure_srs,
        public_model_id: fr_to_hex(&poa_circuits::attribution::model_id(&compiled.qmodel)),
        public_adapter_id: fr_to_hex(&poa_circuits::attribution::public_adapter_id(
            &compiled.qmodel,
            &vis,
        )),
    })
}

/// Compiles and sets up model `id` from its stored source, then stores the folder and marks it
/// ready (or failed with the reason). Runs on a blocking thread for the heavy part.
pub async fn build(db: &Db, id: &str, data_dir: &Path, srs: &SrsChoice) -> anyhow::Result<()> {
    let source = source(db, id).await?;
    let dir = data_dir.join("models").join(id);
    let datanets = data_dir.join("datanets");
    let srs = srs.clone();
    let result =
        tokio::task::spawn_blocking(move || compile_and_setup(&dir, &datanets, &source, &srs))
            .await?;
    let now = now_ms();
    match result {
        Ok(s) => {
            let mut tx = db.pool.begin().await?;
            sqlx::query("DELETE FROM model_files WHERE model_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for (name, bytes) in s.files {
                sqlx::query("INSERT INTO model_files (model_id, name, bytes) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(name)
                    .bind(bytes)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "UPDATE models SET status = $1, error = NULL, input_len = $2, commitment = $3, \
                 index_root = $4, circuit = $5, insecure_srs = $6, public_model_id = $7, \
                 public_adapter_id = $8, updated_at = $9 WHERE id = $10",
            )
            .bind(status::READY)
            .bind(s.input_len)
            .bind(s.commitment)
            .bind(s.index_root)
            .bind(s.circuit)
            .bind(i64::from(s.insecure_srs))
            .bind(s.public_model_id)
            .bind(s.public_adapter_id)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(model = id, "model compiled and set up");
        }
        Err(e) => {
            tracing::warn!(model = id, "model setup failed: {e:#}");
            sqlx::query("UPDATE models SET status = $1, error = $2, updated_at = $3 WHERE id = $4")
                .bind(status::FAILED)
                .bind(format!("{e:#}"))
                .bind(now)
                .bind(id)
                .execute(&db.pool)
                .await?;
        }
    }
    Ok(())
}

/// Writes model `id`'s stored folder into `dir` (a prover node's cache), atomically: a folder
/// that exists is complete.
pub async fn materialize(db: &Db, id: &str, dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let rows = sqlx::query("SELECT name, bytes FROM model_files WHERE model_id = $1")
        .bind(id)
        .fetch_all(&db.pool)
        .await?;
    if rows.is_empty() {
        anyhow::bail!("model {id} has no stored keys (not set up yet)");
    }
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    for r in rows {
        let name: String = r.try_get("name")?;
        let bytes: Vec<u8> = r.try_get("bytes")?;
        // Names come from our own setup; refuse anything that could leave the folder.
        if name.contains('/') || name.contains("..") {
            anyhow::bail!("model {id}: stored file name `{name}` is not a plain name");
        }
        std::fs::write(tmp.join(&name), bytes)?;
    }
    std::fs::rename(&tmp, dir)
        .with_context(|| format!("moving {} to {}", tmp.display(), dir.display()))?;
    Ok(())
}
