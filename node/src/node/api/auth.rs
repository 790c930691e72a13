//! The API key every mutating route requires (`Authorization: Bearer <key>`), checked against
//! the hashed keys in the job store before the body is read.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::error::ApiError;
use super::AppState;
use crate::node::keys;

/// The caller's API key id.
pub struct ApiKey(pub String);

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized =
            |code, msg: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, msg.to_string());
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                unauthorized(
                    "missing_api_key",
                    "this route needs `Authorization: Bearer <key>` (create one with `poa node keys create`)",
                )
            })?
            .to_str()
            .map_err(|_| unauthorized("invalid_api_key", "the Authorization header is not text"))?;
        let secret = value
            .strip_prefix("Bearer ")
            .ok_or_else(|| unauthorized("invalid_api_key", "use `Authorization: Bearer <key>`"))?;
        match keys::lookup(&state.db, secret.trim()).await? {
            Some(id) => Ok(Self(id)),
            None => Err(unauthorized("invalid_api_key", "unknown API key")),
        }
    }
}
