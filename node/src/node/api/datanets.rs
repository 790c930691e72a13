//! `/v1/datanets`: create datanets, add contributions (one or a batch), seal a version, read
//! roots and entries — the `poa datanet` store and rules, over HTTP.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use poa_runtime::datanet::{
    content_hash, Datanet, DatanetError, DatanetId, DatanetSpec, DatanetStore, EntryRef, FileStore,
    NewContribution,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiKey;
use super::error::{ApiError, Body, ErrorBody};
use super::AppState;
use crate::commands::datanet::{seal_open, VersionSummary};

/// Runs `f` on the datanet store on a blocking thread (it reads and rewrites JSON files), one
/// caller at a time.
pub async fn with_store<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&mut FileStore) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = st.datanets.clone();
    tokio::task::spawn_blocking(move || {
        let mut g = store
            .lock()
            .map_err(|_| ApiError::internal("datanet store", "lock poisoned"))?;
        f(&mut g)
    })
    .await
    .map_err(|e| ApiError::internal("datanet store", e))?
}

/// The status a datanet rule violation answers with.
pub fn datanet_error(e: DatanetError) -> ApiError {
    match &e {
        DatanetError::UnknownDatanet { id, .. } => {
            ApiError::not_found("unknown_datanet", format!("no datanet `{id}`"))
        }
        DatanetError::Corrupt { .. } | DatanetError::Io { .. } => {
            ApiError::internal("datanet store", e)
        }
        _ if e.is_duplicate() => ApiError::conflict("duplicate", e.to_string()),
        _ => ApiError::invalid("rejected", e.to_string()),
    }
}

fn parse_id(id: &str) -> Result<DatanetId, ApiError> {
    id.parse().map_err(datanet_error)
}

fn parse_address(a: &str, what: &str) -> Result<poa_runtime::datanet::Address, ApiError> {
    a.parse()
        .map_err(|e| ApiError::invalid("invalid_address", format!("{what}: {e}")))
}

/// A new datanet.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDatanet {
    /// Display name (the id is derived from it).
    pub name: String,
    /// Curator address, 0x + 40 hex digits.
    pub curator: String,
    /// Values per sample (the model's input length).
    pub input_len: usize,
    /// Number of classes (labels 0..classes).
    pub classes: u32,
}

/// A datanet and its versions.
#[derive(Serialize, ToSchema)]
pub struct DatanetView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Curator.
    pub curator: String,
    /// Sample shape.
    pub input_shape: Vec<usize>,
    /// Classes.
    pub classes: u32,
    /// The open version.
    pub open_version: u32,
    /// Every version: sealed flag, root, entries, contributions per contributor.
    #[schema(value_type = Vec<Object>)]
    pub versions: Vec<VersionSummary>,
}

impl From<&Datanet> for DatanetView {
    fn from(d: &Datanet) -> Self {
        Self {
            id: d.id.to_string(),
            name: d.name.clone(),
            curator: d.curator.to_string(),
            input_shape: d.input_shape.clone(),
            classes: d.classes,
            open_version: d.open_version(),
            versions: d.versions.iter().map(VersionSummary::of).collect(),
        }
    }
}

/// Creates a datanet (version 1 open).
#[utoipa::path(
    post, path = "/v1/datanets", tag = "datanets", request_body = CreateDatanet,
    responses((status = 201, body = DatanetView), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn create(
    State(st): State<AppState>,
    _key: ApiKey,
    Body(req): Body<CreateDatanet>,
) -> Result<(StatusCode, Json<DatanetView>), ApiError> {
    let spec = DatanetSpec {
        name: req.name,
        curator: parse_address(&req.curator, "curator")?,
        input_shape: vec![req.input_len],
        classes: req.classes,
    };
    let d = with_store(&st, move |s| s.create(spec).map_err(datanet_error)).await?;
    Ok((StatusCode::CREATED, Json((&d).into())))
}

/// A datanet, its versions and roots.
#[utoipa::path(
    get, path = "/v1/datanets/{id}", tag = "datanets",
    params(("id" = String, Path, description = "Datanet id")),
    responses((status = 200, body = DatanetView), (status = 404, body = ErrorBody))
)]
pub async fn get_datanet(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DatanetView>, ApiError> {
    let id = parse_id(&id)?;
    let d = with_store(&st, move |s| s.get(&id).map_err(datanet_error)).await?;
    Ok(Json((&d).into()))
}

/// One contribution.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddContribution {
    /// Contributor address.
    pub contributor: String,
    /// The sample.
    pub sample: Vec<f32>,
    /// Its label.
    pub label: u32,
    /// Must be the open version (default: the open one).
    #[serde(default)]
    pub version: Option<u32>,
}

impl AddContribution {
    fn into_new(self) -> Result<NewContribution, ApiError> {
        Ok(NewContribution {
            contributor: parse_address(&self.contributor, "contributor")?,
            sample: self.sample,
            label: self.label,
        })
    }
}

/// Where a contribution landed.
#[derive(Serialize, ToSchema)]
pub struct Added {
    /// Version.
    pub version: u32,
    /// Index within it.
    pub index: usize,
    /// Content hash (duplicate detection).
    pub content_hash: String,
}

fn added(at: EntryRef, hash: String) -> Added {
    Added {
        version: at.version,
        index: at.index,
        content_hash: hash,
    }
}

/// Adds one contribution to the open version (validated; duplicates rejected with 409).
#[utoipa::path(
    post, path = "/v1/datanets/{id}/contributions", tag = "datanets", request_body = AddContribution,
    params(("id" = String, Path, description = "Datanet id")),
    responses((status = 201, body = Added), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn add(
    State(st): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
    Body(req): Body<AddContribution>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    let id = parse_id(&id)?;
    let version = req.version;
    let c = req.into_new()?;
    let hash = content_hash(&c.sample, c.label).to_string();
    let at = with_store(&st, move |s| s.add(&id, version, c).map_err(datanet_error)).await?;
    Ok((StatusCode::CREATED, Json(added(at, hash))))
}

/// A batch of contributions.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddBatch {
    /// The contributions, each accepted or rejected on its own.
    pub entries: Vec<AddContribution>,
}

/// One rejected entry of a batch.
#[derive(Serialize, ToSchema)]
pub struct Rejected {
    /// Position in the batch.
    pub entry: usize,
    /// Why.
    pub reason: String,
}

/// What a batch did.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    /// Accepted entries.
    pub accepted: Vec<Added>,
    /// Rejected entries.
    pub rejected: Vec<Rejected>,
}

/// Adds a batch in one write; each entry is accepted or rejected on its own.
#[utoipa::path(
    post, path = "/v1/datanets/{id}/contributions/batch", tag = "datanets", request_body = AddBatch,
    params(("id" = String, Path, description = "Datanet id")),
    responses((status = 200, body = BatchResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn add_batch(
    State(st): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
    Body(req): Body<AddBatch>,
) -> Result<Json<BatchResult>, ApiError> {
    let id = parse_id(&id)?;
    let mut version = None;
    let mut batch = Vec::with_capacity(req.entries.len());
    for (i, e) in req.entries.into_iter().enumerate() {
        if e.version.is_some() {
            version = e.version;
        }
        let c = e.into_new().map_err(|err| {
            ApiError::invalid("invalid_entry", format!("entry {i}: {}", err.message))
        })?;
        batch.push(c);
    }
    let hashes: Vec<String> = batch
        .iter()
        .map(|c| content_hash(&c.sample, c.label).to_string())
        .collect();
    let results = with_store(&st, move |s| {
        s.add_all(&id, version, batch).map_err(datanet_error)
    })
    .await?;
    let mut out = BatchResult {
        accepted: Vec::new(),
        rejected: Vec::new(),
    };
    for (i, (r, hash)) in results.into_iter().zip(hashes).enumerate() {
        match r {
            Ok(at) => out.accepted.push(added(at, hash)),
            Err(e) => out.rejected.push(Rejected {
                entry: i,
                reason: e.to_string(),
            }),
        }
    }
    Ok(Json(out))
}

/// A sealed version.
#[derive(Serialize, ToSchema)]
pub struct SealedView {
    /// The version sealed.
    pub version: u32,
    /// Its Poseidon Merkle root.
    pub root: String,
    /// Entries in it.
    pub entries: usize,
    /// The version now open.
    pub open: u32,
}

/// Seals the open version under the Poseidon root of its entries and opens the next.
#[utoipa::path(
    post, path = "/v1/datanets/{id}/seal", tag = "datanets",
    params(("id" = String, Path, description = "Datanet id")),
    responses((status = 200, body = SealedView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn seal(
    State(st): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
) -> Result<Json<SealedView>, ApiError> {
    let id = parse_id(&id)?;
    let s = with_store(&st, move |s| {
        seal_open(s, &id).map_err(|e| match e.downcast::<DatanetError>() {
            Ok(d) => datanet_error(d),
            Err(e) => ApiError::invalid("rejected", format!("{e:#}")),
        })
    })
    .await?;
    Ok(Json(SealedView {
        version: s.version,
        root: s.seal.root.to_string(),
        entries: s.seal.entries,
        open: s.open,
    }))
}

/// The entries of one version.
#[derive(Serialize, ToSchema)]
pub struct EntriesView {
    /// Version.
    pub version: u32,
    /// Whether it is sealed.
    pub sealed: bool,
    /// Its root, once sealed.
    pub root: Option<String>,
    /// Contributions in order (contributor, sample, label, content hash, time).
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<poa_runtime::datanet::Contribution>,
}

/// The root and entries of one version.
#[utoipa::path(
    get, path = "/v1/datanets/{id}/versions/{version}", tag = "datanets",
    params(("id" = String, Path, description = "Datanet id"), ("version" = u32, Path, description = "Version")),
    responses((status = 200, body = EntriesView), (status = 404, body = ErrorBody))
)]
pub async fn entries(
    State(st): State<AppState>,
    Path((id, version)): Path<(String, u32)>,
) -> Result<Json<EntriesView>, ApiError> {
    let id = parse_id(&id)?;
    let d = with_store(&st, move |s| s.get(&id).map_err(datanet_error)).await?;
    let v = d.version(version).map_err(|e| match e {
        DatanetError::UnknownVersion { .. } => {
            ApiError::not_found("unknown_version", e.to_string())
        }
        e => datanet_error(e),
    })?;
    Ok(Json(EntriesView {
        version,
        sealed: v.is_sealed(),
        root: v.seal.as_ref().map(|s| s.root.to_string()),
        entries: v.contributions.clone(),
    }))
}
