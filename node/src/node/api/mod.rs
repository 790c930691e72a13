//! The REST API, versioned under `/v1`; its OpenAPI document (`/v1/openapi.json`) is generated
//! from the handlers' annotations, so it cannot drift from the routes.

pub mod auth;
pub mod datanets;
pub mod error;
pub mod jobs;
pub mod models;
pub mod ops;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;
use poa_runtime::datanet::FileStore;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

use super::db::Db;
use super::models::SrsChoice;
use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The job store.
    pub db: Db,
    /// Node data: compiled model folders and the datanet store.
    pub data_dir: PathBuf,
    /// SRS for model setup.
    pub srs: SrsChoice,
    /// Attempts a job gets before it fails for good.
    pub max_attempts: i64,
    /// The datanet store (one writer at a time: it rewrites whole files).
    pub datanets: Arc<std::sync::Mutex<FileStore>>,
}

/// Body size limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of a job, datanet or key request.
    pub body: usize,
    /// Bytes of a model upload (ONNX + calibration, base64).
    pub model_body: usize,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "OpenPoA node", description = "Proof-of-attribution jobs over HTTP: models, datanets, proof jobs."),
    modifiers(&SecurityAddon),
    tags(
        (name = "jobs", description = "Proof jobs"),
        (name = "models", description = "ONNX models compiled and set up for proving"),
        (name = "datanets", description = "Datanets: contributions and sealed versions"),
        (name = "ops", description = "Health, readiness, metrics")
    )
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from `poa node keys create`"))
                    .build(),
            ),
        );
    }
}

/// The router with every route, and the OpenAPI document describing it.
pub fn router(state: AppState, limits: Limits) -> Router {
    // The model upload carries a whole ONNX file; its route-level limit overrides the router's.
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(jobs::submit))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::get_proof))
        .routes(routes!(jobs::get_report))
        .routes(
            routes!(models::upload, models::list_models)
                .layer(DefaultBodyLimit::max(limits.model_body)),
        )
        .routes(routes!(models::get_model))
        .routes(routes!(models::upload_adapter))
        .routes(routes!(datanets::create))
        .routes(routes!(datanets::get_datanet))
        .routes(routes!(datanets::add))
        .routes(routes!(datanets::add_batch))
        .routes(routes!(datanets::seal))
        .routes(routes!(datanets::entries))
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::metrics))
        .split_for_parts();
    let api = Arc::new(api);
    router
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || {
                let api = api.clone();
                async move { axum::Json(api.as_ref().clone()) }
            }),
        )
        .fallback(|| async {
            ApiError::not_found("no_such_route", "no such route; see /v1/openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method; see /v1/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(limits.body))
        .with_state(state)
}
