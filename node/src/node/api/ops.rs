//! Health (the process answers), readiness (the job store answers) and Prometheus metrics
//! (queue depth per state, proving-time histogram over every stored proof).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::node::jobs::{self, state, PROVE_BUCKETS_S};

/// Health or readiness.
#[derive(Serialize, ToSchema)]
pub struct Status {
    /// `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/v1/health", tag = "ops", responses((status = 200, body = Status)))]
pub async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// The job store answers (route traffic here only when ready).
#[utoipa::path(
    get, path = "/v1/ready", tag = "ops",
    responses((status = 200, body = Status), (status = 503, description = "Job store unreachable", body = ErrorBody))
)]
pub async fn ready(State(st): State<AppState>) -> Result<Json<Status>, ApiError> {
    sqlx::query("SELECT 1")
        .execute(&st.db.pool)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                format!("job store: {e}"),
            )
        })?;
    Ok(Json(Status { status: "ok" }))
}

/// Prometheus text exposition: `poa_jobs{state}` (queue depth is `state="queued"`) and the
/// `poa_prove_seconds` histogram.
#[utoipa::path(
    get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let counts = jobs::counts(&st.db).await?;
    let (buckets, n, sum) = jobs::prove_histogram(&st.db).await?;
    let mut s =
        String::from("# HELP poa_jobs Jobs in the store by state.\n# TYPE poa_jobs gauge\n");
    for name in [
        state::QUEUED,
        state::PROVING,
        state::PROVED,
        state::SUBMITTING,
        state::SUBMITTED,
        state::FAILED,
    ] {
        let v = counts
            .iter()
            .find(|(s, _)| s == name)
            .map_or(0, |(_, v)| *v);
        s += &format!("poa_jobs{{state=\"{name}\"}} {v}\n");
    }
    s += "# HELP poa_prove_seconds Proving time of stored proofs (all workers).\n# TYPE poa_prove_seconds histogram\n";
    for (b, c) in PROVE_BUCKETS_S.iter().zip(&buckets) {
        s += &format!("poa_prove_seconds_bucket{{le=\"{b}\"}} {c}\n");
    }
    s += &format!("poa_prove_seconds_bucket{{le=\"+Inf\"}} {n}\npoa_prove_seconds_sum {sum}\npoa_prove_seconds_count {n}\n");
    Ok(([("content-type", "text/plain; version=0.0.4")], s))
}
