//! `/v1/jobs`: submit a proof job (written before the 202), read its state, its proof and
//! calldata, and its attribution report.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use poa_prover::artifact::fr_to_hex;
use poa_prover::Proof;
use poa_runtime::attribution::RewardShares;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiKey;
use super::error::{ApiError, Body, ErrorBody, QueryParams};
use super::AppState;
use crate::commands::attribute::split_proven;
use crate::node::jobs::{self as store, state, Job, NewJob, Submitted};
use crate::node::keys::random_hex;
use crate::node::models::{self, status};
use crate::proven::{parse_nonce, ProvenAttribution};
use crate::reward_report;
use poa_contracts::chain::fr_to_u256;

/// Longest accepted `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 200;

/// A proof job.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    /// Model id (from `POST /v1/models`).
    pub model: String,
    /// LoRA adapter of `model` to prove with: the id `POST /v1/models/{model}/adapters` returned.
    /// The job then proves that adapter's model, and the job's `model` reads the adapter's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    /// The input sample: the model's input values, flattened.
    pub input: Vec<f32>,
    /// Datanet attributed over (attribution models; must be the one the model was set up with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datanet: Option<String>,
    /// Its sealed version (attribution models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datanet_version: Option<u32>,
    /// Request nonce the proof answers (attribution models): decimal, or 0x-hex below the BN254
    /// scalar modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// A job's state.
#[derive(Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// `queued`, `proving`, `proved`, `submitting` (being sent to the chain, retries included),
    /// `submitted` or `failed`.
    pub state: String,
    /// Percent done (while proving: by stage, then estimated from the model's last proof).
    pub progress: i64,
    /// Claims by workers so far.
    pub attempts: i64,
    /// Claims allowed before it fails for good.
    pub max_attempts: i64,
    /// Why it failed (state `failed`), or the last attempt's error while retrying.
    pub error: Option<String>,
    /// Model id.
    pub model: String,
    /// Datanet and version attributed over.
    pub datanet: Option<String>,
    /// Datanet version.
    pub datanet_version: Option<i64>,
    /// Request nonce.
    pub nonce: Option<String>,
    /// Worker that proved it.
    pub proved_by: Option<String>,
    /// Chain transaction that carried the proof (state `submitted`).
    pub tx_hash: Option<String>,
    /// Every `submit` transaction sent for this job, oldest first: one, unless an earlier one
    /// was dropped by the chain before it was mined.
    pub sent_txs: Vec<String>,
    /// Gas that transaction used.
    pub gas_used: Option<i64>,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Last change (ms since the epoch).
    pub updated_at: i64,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        Self {
            id: j.id,
            state: j.state,
            progress: j.progress,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            error: j.error,
            model: j.model_id,
            datanet: j.datanet,
            datanet_version: j.datanet_version,
            nonce: j.nonce,
            proved_by: j.proved_by,
            tx_hash: j.tx_hash,
            sent_txs: j.sent_txs,
            gas_used: j.gas_used,
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

/// Checks a job against its model (or the model's adapter it names); returns the model to prove
/// and, for an attribution job, its nonce in canonical form (decimal; `None`: inference only).
async fn validate(st: &AppState, req: &SubmitJob) -> Result<(String, Option<String>), ApiError> {
    let model = models::get(&st.db, &req.model)
        .await?
        .ok_or_else(|| ApiError::invalid("unknown_model", format!("no model `{}`", req.model)))?;
    let model = match &req.adapter {
        None => model,
        Some(a) => models::get(&st.db, a)
            .await?
            .filter(|m| m.base_model.as_deref() == Some(model.id.as_str()))
            .ok_or_else(|| {
                ApiError::invalid(
                    "unknown_adapter",
                    format!("model `{}` has no adapter `{a}`", model.id),
                )
            })?,
    };
    if model.status != status::READY {
        return Err(ApiError::conflict(
            "model_not_ready",
            format!("model `{}` is {}", model.id, model.status),
        ));
    }
    let len = model.input_len.unwrap_or(0);
    if i64::try_from(req.input.len()).ok() != Some(len) {
        return Err(ApiError::invalid(
            "wrong_input_shape",
            format!(
                "model `{}` takes {len} input values, the job has {}",
                model.id,
                req.input.len()
            ),
        ));
    }
    match &model.attribution {
        Some(a) => {
            let nonce = req.nonce.as_deref().ok_or_else(|| {
                ApiError::invalid("missing_nonce", "attribution models need a request `nonce`")
            })?;
            let nonce = parse_nonce(nonce).map_err(|e| ApiError::invalid("invalid_nonce", e))?;
            let datanet_ok = req.datanet.as_ref().is_none_or(|d| *d == a.datanet)
                && req.datanet_version.is_none_or(|v| v == a.version);
            if !datanet_ok {
                return Err(ApiError::invalid(
                    "datanet_mismatch",
                    format!(
                        "model `{}` proves attribution over datanet {} version {}",
                        model.id, a.datanet, a.version
                    ),
                ));
            }
            // One spelling per nonce (decimal), so `7` and `0x7` are one request to the job
            // store's once-per-nonce rules, as they are to the contract.
            Ok((model.id, Some(fr_to_u256(&nonce).to_string())))
        }
        None if req.nonce.is_some() || req.datanet.is_some() || req.datanet_version.is_some() => {
            Err(ApiError::invalid(
                "not_attributed",
                format!(
                    "model `{}` proves inference only: drop `nonce`, `datanet` and `datanet_version`",
                    model.id
                ),
            ))
        }
        None => Ok((model.id, None)),
    }
}

/// Submits a proof job; it is stored before the answer. A retry with the same `Idempotency-Key`
/// (and body) returns the same job.
#[utoipa::path(
    post, path = "/v1/jobs", tag = "jobs",
    request_body = SubmitJob,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried submit return the first job")),
    responses(
        (status = 202, description = "Accepted (or the earlier job of this Idempotency-Key)", body = JobView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 409, description = "Model not ready", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid job, or Idempotency-Key reused for another body", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn submit(
    State(st): State<AppState>,
    ApiKey(key_id): ApiKey,
    headers: HeaderMap,
    Body(req): Body<SubmitJob>,
) -> Result<Response, ApiError> {
    let idempotency_key = match headers.get("idempotency-key") {
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_idempotency_key",
                        format!(
                            "Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                        ),
                    )
                })?;
            Some(k.to_string())
        }
        None => None,
    };
    let mut req = req;
    let (proved_model, nonce) = validate(&st, &req).await?;
    let attributed = nonce.is_some();
    req.nonce = nonce;
    let canonical = serde_json::to_vec(&req).map_err(|e| ApiError::internal("encoding", e))?;
    let input = serde_json::to_string(&req.input).map_err(|e| ApiError::internal("encoding", e))?;
    let new = NewJob {
        id: random_hex(16),
        model_id: proved_model,
        datanet: req.datanet,
        datanet_version: req.datanet_version.map(i64::from),
        nonce: req.nonce,
        input,
        attributed,
        api_key_id: key_id,
        idempotency_key,
        request_sha256: hex::encode(Sha256::digest(&canonical)),
        max_attempts: st.max_attempts,
    };
    let (job, replayed) = match store::submit(&st.db, new).await {
        Ok(Submitted::Created(j)) => (j, false),
        Ok(Submitted::Existing(j)) => (j, true),
        Err(store::StoreError::IdempotencyConflict(k)) => {
            return Err(ApiError::invalid(
                "idempotency_key_reused",
                format!("Idempotency-Key `{k}` was already used with a different request body"),
            ))
        }
        Err(store::StoreError::Sql(e)) => return Err(e.into()),
    };
    let mut resp = (StatusCode::ACCEPTED, Json(JobView::from(job.clone()))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/jobs/{}", job.id)) {
        resp.headers_mut().insert("location", v);
    }
    if replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

async fn job_or_404(st: &AppState, id: &str) -> Result<Job, ApiError> {
    store::get(&st.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no job `{id}`")))
}

/// A job's state and progress.
#[utoipa::path(
    get, path = "/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody))
)]
pub async fn get_job(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(job_or_404(&st, &id).await?.into()))
}

/// A job's proof, public instances and EVM calldata.
#[derive(Serialize, ToSchema)]
pub struct ProofView {
    /// Job id.
    pub job_id: String,
    /// The proof document (as `poa prove` writes it; `poa verify` checks it).
    #[schema(value_type = Object)]
    pub proof: serde_json::Value,
    /// Public instances, 0x-hex big-endian field elements.
    pub public_instances: Vec<String>,
    /// Calldata for the verifier contract: instances then proof bytes, 0x-hex.
    pub calldata: String,
    /// Milliseconds of proving.
    pub prove_ms: f64,
    /// Worker that proved it.
    pub prover: String,
}

async fn stored_proof(
    st: &AppState,
    id: &str,
) -> Result<(Job, Proof, store::StoredProof), ApiError> {
    let job = job_or_404(st, id).await?;
    if ![state::PROVED, state::SUBMITTING, state::SUBMITTED].contains(&job.state.as_str()) {
        return Err(ApiError::conflict(
            "not_proved",
            format!("job `{id}` is {}; poll GET /v1/jobs/{id}", job.state),
        ));
    }
    let stored = store::proof(&st.db, id)
        .await?
        .ok_or_else(|| ApiError::internal("reading the proof", "a proved job has no proof row"))?;
    let proof = Proof::from_json(&stored.proof)
        .map_err(|e| ApiError::internal("parsing the stored proof", e))?;
    Ok((job, proof, stored))
}

/// The proof of a proved job.
#[utoipa::path(
    get, path = "/v1/jobs/{id}/proof", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = ProofView), (status = 404, body = ErrorBody), (status = 409, description = "Not proved yet", body = ErrorBody))
)]
pub async fn get_proof(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProofView>, ApiError> {
    let (_, proof, stored) = stored_proof(&st, &id).await?;
    let calldata = poa_contracts::evm::calldata(&proof.instances, &proof.bytes);
    Ok(Json(ProofView {
        job_id: id,
        proof: serde_json::from_str(&stored.proof)
            .map_err(|e| ApiError::internal("parsing the stored proof", e))?,
        public_instances: proof.instances.iter().map(fr_to_hex).collect(),
        calldata: format!("0x{}", hex::encode(calldata)),
        prove_ms: stored.prove_ms,
        prover: stored.prover,
    }))
}

/// Report options.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `json` (default), `svg` or `html`.
    pub format: Option<String>,
    /// Fee to split, in token units (18 decimals); default 1 OPEN.
    pub fee: Option<String>,
    /// Shares in basis points: owner,contributors,prover,treasury (summing to 10000).
    pub shares: Option<String>,
}

/// The attribution a proof publishes and the reward split it pays.
#[derive(Serialize, ToSchema)]
pub struct ReportView {
    /// Job id.
    pub job_id: String,
    /// Model, adapter, class, index root, nonce, prover and the top-k (read from the proof).
    #[schema(value_type = Object)]
    pub attribution: ProvenAttribution,
    /// The fee split (owner, contributors, prover, treasury).
    #[schema(value_type = Object)]
    pub reward: poa_runtime::attribution::RewardSplit,
}

/// The attribution report of a proved attribution job: JSON, or the SVG/HTML picture.
#[utoipa::path(
    get, path = "/v1/jobs/{id}/report", tag = "jobs",
    params(("id" = String, Path, description = "Job id"), ReportQuery),
    responses(
        (status = 200, description = "JSON report, or image/svg+xml / text/html", body = ReportView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not proved, or an inference-only job", body = ErrorBody)
    )
)]
pub async fn get_report(
    State(st): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<ReportQuery>,
) -> Result<Response, ApiError> {
    let bad = |code, msg: String| ApiError::new(StatusCode::BAD_REQUEST, code, msg);
    let fee: u128 = match &q.fee {
        Some(f) => f
            .parse()
            .map_err(|_| bad("invalid_fee", format!("fee `{f}`: a non-negative integer")))?,
        None => 1_000_000_000_000_000_000,
    };
    let shares: RewardShares = match &q.shares {
        Some(s) => s
            .parse()
            .map_err(|e| bad("invalid_shares", format!("shares `{s}`: {e}")))?,
        None => RewardShares::default(),
    };
    let (job, proof, _) = stored_proof(&st, &id).await?;
    let model = models::get(&st.db, &job.model_id).await?;
    let k = match model.and_then(|m| m.attribution) {
        Some(a) if job.attributed => a.top_k,
        _ => {
            return Err(ApiError::conflict(
                "no_attribution",
                format!("job `{id}` proved inference only; its proof publishes no attribution"),
            ))
        }
    };
    let attribution = ProvenAttribution::decode(&proof.instances, k)
        .map_err(|e| ApiError::internal("decoding the attribution", format!("{e:#}")))?;
    let reward = split_proven(&attribution, fee, &shares)
        .map_err(|e| bad("invalid_split", format!("{e:#}")))?;
    let title = format!("Reward split of job {id}: top-{}", attribution.top.len());
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(ReportView {
            job_id: id,
            attribution,
            reward,
        })
        .into_response()),
        "svg" => Ok((
            [("content-type", "image/svg+xml")],
            reward_report::document(&reward, &title, false),
        )
            .into_response()),
        "html" => Ok((
            [("content-type", "text/html; charset=utf-8")],
            reward_report::document(&reward, &title, true),
        )
            .into_response()),
        other => Err(bad(
            "invalid_format",
            format!("format `{other}`: json, svg or html"),
        )),
    }
}
