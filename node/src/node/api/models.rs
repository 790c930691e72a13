//! `/v1/models`: upload an ONNX model and calibration inputs (compiled and set up in the
//! background), list and read models.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use poa_circuits::{IndexVisibility, InputVisibility, Layout, WeightVisibility};
use poa_runtime::datanet::DatanetStore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiKey;
use super::datanets::{datanet_error, with_store};
use super::error::{ApiError, Body, ErrorBody};
use super::AppState;
use crate::node::keys::random_hex;
use crate::node::models::{self, AttributionSpec, Model, NewAdapter, NewModel};

/// A model upload.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadModel {
    /// Display name.
    pub name: String,
    /// The ONNX file, base64.
    pub onnx_base64: String,
    /// Calibration inputs: `{"inputs": [[…], …]}` (or ezkl's `{"input_data": …}`).
    #[schema(value_type = Object)]
    pub calibration: serde_json::Value,
    /// `public` (default), `hashed` or `private`.
    #[serde(default)]
    pub input_visibility: Option<String>,
    /// `fixed` (default: the weights are in the verifying key) or `hashed` (private; their
    /// Poseidon commitment is the proofs' public adapter id, and the model's adapters share its
    /// verifying key and verifier).
    #[serde(default)]
    pub weight_visibility: Option<String>,
    /// Circuit layout (`poa setup --layout`): `dense` (default: every runtime op, a public,
    /// private or hashed input, a `fixed` index; small proofs and a verifier that deploys),
    /// `wide` (what hashed weights or a `hashed` index need) or `narrow` (one advice column:
    /// fixed weights, a `public` or `private` input, a `fixed` index, Gemm/Conv/Relu/Add models
    /// only). A model its layout cannot take fails its setup, naming why.
    #[serde(default)]
    pub layout: Option<String>,
    /// Narrow layout only (`poa setup --narrow-k`): prove in 2^k rows below the one-column
    /// size — more advice columns, faster proving, a longer proof and a larger verifier. A k
    /// outside what the circuit can take fails the setup, naming the range.
    #[serde(default)]
    pub narrow_k: Option<u32>,
    /// Set the keys up for attribution over a sealed datanet version.
    #[serde(default)]
    pub attribution: Option<AttributionSpec>,
}

/// A model.
#[derive(Serialize, ToSchema)]
pub struct ModelView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `compiling`, `ready` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Input visibility.
    pub input_visibility: String,
    /// Weight visibility (`fixed` or `hashed`).
    pub weight_visibility: String,
    /// Circuit layout (`wide`, `narrow` or `dense`).
    pub layout: String,
    /// The narrow layout's requested k (absent: its one-column size).
    pub narrow_k: Option<i64>,
    /// Values per input sample.
    pub input_len: Option<i64>,
    /// Commitment: digest of the quantized model (the proof's public model id is taken from it).
    pub commitment: Option<String>,
    /// Attribution setup.
    pub attribution: Option<AttributionSpec>,
    /// Index root published by attribution proofs.
    pub index_root: Option<String>,
    /// Circuit size (k, rows, columns, lookups, MACs, instances).
    #[schema(value_type = Option<Object>)]
    pub circuit: Option<serde_json::Value>,
    /// Whether the keys come from the INSECURE dev SRS.
    pub insecure_srs: Option<bool>,
    /// Verifier contract address: filled in by a node running with `--rpc` once the chain's
    /// `ModelRegistry` has (`public_model_id`, `public_adapter_id`) registered.
    pub verifier_address: Option<String>,
    /// The base model, for a LoRA adapter (`POST /v1/models/{id}/adapters`).
    pub base_model: Option<String>,
    /// The adapter's name, for a LoRA adapter.
    pub adapter: Option<String>,
    /// Model id its proofs publish (instance row 0, 0x-hex; an adapter's is its base model's).
    pub public_model_id: Option<String>,
    /// Adapter id its proofs publish (row 1, 0x-hex; zero for a base model).
    pub public_adapter_id: Option<String>,
    /// Created (ms since the epoch).
    pub created_at: i64,
}

impl From<Model> for ModelView {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            status: m.status,
            error: m.error,
            input_visibility: m.input_visibility,
            weight_visibility: m.weight_visibility,
            layout: m.layout,
            narrow_k: m.narrow_k,
            input_len: m.input_len,
            commitment: m.commitment,
            attribution: m.attribution,
            index_root: m.index_root,
            circuit: m.circuit.and_then(|c| serde_json::from_str(&c).ok()),
            insecure_srs: m.insecure_srs,
            verifier_address: m.verifier_address,
            base_model: m.base_model,
            adapter: m.adapter_name,
            public_model_id: m.public_model_id,
            public_adapter_id: m.public_adapter_id,
            created_at: m.created_at,
        }
    }
}

/// Uploads a model; compile and setup run in the background (poll `GET /v1/models/{id}`).
#[utoipa::path(
    post, path = "/v1/models", tag = "models",
    request_body = UploadModel,
    responses(
        (status = 202, description = "Stored; compiling", body = ModelView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn upload(
    State(st): State<AppState>,
    _key: ApiKey,
    Body(req): Body<UploadModel>,
) -> Result<(StatusCode, Json<ModelView>), ApiError> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid(
            "invalid_name",
            "name: 1 to 200 characters",
        ));
    }
    let onnx = base64::engine::general_purpose::STANDARD
        .decode(req.onnx_base64.as_bytes())
        .map_err(|e| ApiError::invalid("invalid_onnx", format!("onnx_base64: {e}")))?;
    if onnx.is_empty() {
        return Err(ApiError::invalid("invalid_onnx", "onnx_base64 is empty"));
    }
    if !req.calibration.is_object() {
        return Err(ApiError::invalid(
            "invalid_calibration",
            "calibration: an object {\"inputs\": [[…], …]}",
        ));
    }
    let input_visibility: InputVisibility = req
        .input_visibility
        .as_deref()
        .unwrap_or("public")
        .parse()
        .map_err(|e: String| ApiError::invalid("invalid_input_visibility", e))?;
    let weight_visibility: WeightVisibility = req
        .weight_visibility
        .as_deref()
        .unwrap_or("fixed")
        .parse()
        .map_err(|e: String| ApiError::invalid("invalid_weight_visibility", e))?;
    let layout: Layout = req
        .layout
        .as_deref()
        .unwrap_or("dense")
        .parse()
        .map_err(|e: String| ApiError::invalid("invalid_layout", e))?;
    if req.narrow_k.is_some() && layout != Layout::Narrow {
        return Err(ApiError::invalid(
            "invalid_narrow_k",
            "narrow_k sizes the narrow layout; send \"layout\": \"narrow\" with it",
        ));
    }
    if let Some(a) = &req.attribution {
        a.index_visibility
            .parse::<IndexVisibility>()
            .map_err(|e: String| ApiError::invalid("invalid_index_visibility", e))?;
        if a.top_k == 0 {
            return Err(ApiError::invalid(
                "invalid_top_k",
                "top_k must be at least 1",
            ));
        }
        let (datanet, version) = (a.datanet.clone(), a.version);
        let sealed = with_store(&st, move |store| {
            let id = datanet.parse().map_err(datanet_error)?;
            let d = store.get(&id).map_err(datanet_error)?;
            Ok(d.version(version).map(|v| v.is_sealed()).unwrap_or(false))
        })
        .await?;
        if !sealed {
            return Err(ApiError::invalid(
                "version_not_sealed",
                format!("datanet {} has no sealed version {}", a.datanet, a.version),
            ));
        }
    }
    let new = NewModel {
        id: random_hex(8),
        name: name.to_string(),
        onnx,
        calibration: req.calibration.to_string(),
        input_visibility,
        weight_visibility,
        layout,
        narrow_k: req.narrow_k,
        attribution: req.attribution,
        adapter: None,
    };
    insert_and_build(&st, new).await
}

async fn insert_and_build(
    st: &AppState,
    new: NewModel,
) -> Result<(StatusCode, Json<ModelView>), ApiError> {
    models::insert(&st.db, &new).await?;
    spawn_build(st, new.id.clone());
    let m = models::get(&st.db, &new.id)
        .await?
        .ok_or_else(|| ApiError::internal("reading the model", "just inserted"))?;
    Ok((StatusCode::ACCEPTED, Json(m.into())))
}

/// A LoRA adapter upload for a base model.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadAdapter {
    /// The adapter file, `poa-lora/1` JSON: `{"format", "name", "alpha", "layers": [{"node",
    /// "a", "b"}]}`.
    #[schema(value_type = Object)]
    pub adapter: serde_json::Value,
}

/// Adds a LoRA adapter to base model `id`: a new model (its own id, keys and verifier) compiled
/// from the base model's ONNX and calibration with the adapter merged, set up the same way
/// (input and weight visibility, layout, attribution) in the background. Jobs name it as
/// `{"model": <base>, "adapter": <adapter model id>}`; its proofs publish the base model's id
/// and the adapter's.
#[utoipa::path(
    post, path = "/v1/models/{id}/adapters", tag = "models",
    params(("id" = String, Path, description = "Base model id")),
    request_body = UploadAdapter,
    responses(
        (status = 202, description = "Stored; compiling", body = ModelView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn upload_adapter(
    State(st): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
    Body(req): Body<UploadAdapter>,
) -> Result<(StatusCode, Json<ModelView>), ApiError> {
    let base = models::get(&st.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("model_not_found", format!("no model `{id}`")))?;
    if base.base_model.is_some() {
        return Err(ApiError::invalid(
            "adapter_of_adapter",
            format!("model `{id}` is an adapter; add adapters to its base model"),
        ));
    }
    let text = req.adapter.to_string();
    let adapter = poa_runtime::LoraAdapter::from_json(&text)
        .map_err(|e| ApiError::invalid("invalid_adapter", e.to_string()))?;
    let src = models::base_source(&st.db, &id)
        .await
        .map_err(|e| ApiError::internal("reading the base model", e))?;
    let new = NewModel {
        id: random_hex(8),
        name: format!("{}+{}", base.name, adapter.name),
        onnx: src.onnx,
        calibration: src.calibration,
        input_visibility: src.input_visibility,
        weight_visibility: src.weight_visibility,
        layout: src.layout,
        narrow_k: src.narrow_k,
        attribution: src.attribution,
        adapter: Some(NewAdapter {
            base_model: id,
            name: adapter.name,
            file: text,
        }),
    };
    insert_and_build(&st, new).await
}

/// Compiles and sets up model `id` in the background.
pub fn spawn_build(st: &AppState, id: String) {
    let (db, data, srs) = (st.db.clone(), st.data_dir.clone(), st.srs.clone());
    tokio::spawn(async move {
        if let Err(e) = models::build(&db, &id, &data, &srs).await {
            tracing::error!(model = id, "model build: {e:#}");
        }
    });
}

/// Every model.
#[utoipa::path(get, path = "/v1/models", tag = "models", responses((status = 200, body = Vec<ModelView>)))]
pub async fn list_models(State(st): State<AppState>) -> Result<Json<Vec<ModelView>>, ApiError> {
    Ok(Json(
        models::list(&st.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// One model.
#[utoipa::path(
    get, path = "/v1/models/{id}", tag = "models",
    params(("id" = String, Path, description = "Model id")),
    responses((status = 200, body = ModelView), (status = 404, body = ErrorBody))
)]
pub async fn get_model(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ModelView>, ApiError> {
    models::get(&st.db, &id)
        .await?
        .map(|m| Json(m.into()))
        .ok_or_else(|| ApiError::not_found("model_not_found", format!("no model `{id}`")))
}
