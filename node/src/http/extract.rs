//! Request extractors with the API's error shape: token roles and JSON bodies.
//!
//! Tokens arrive as `Authorization: Bearer <token>`. A missing header is 401
//! `unauthorized`, an unknown or revoked token 401 `invalid_token`, a token
//! whose role is too weak 403 `forbidden`. Too many failed authentications
//! (from the client's address, for the token id or on the node; see
//! `crate::tokens`) get 429 `too_many_failed_authentications` with
//! `Retry-After`. Tokens are never logged.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::client_address::client_address;
use super::error::ApiError;
use crate::audit::Actor;
use crate::state::AppState;
use crate::tokens::{self, Role, TokenInfo, TokenRefusal};

/// A request made with an editor (or admin) token.
pub struct Editor(pub TokenInfo);

/// A request made with an admin token.
pub struct Admin(pub TokenInfo);

impl Editor {
    /// Who the audit log names for what this request publishes.
    pub fn actor(&self) -> Actor {
        Actor::Token {
            id: self.0.id.clone(),
            label: self.0.label.clone(),
        }
    }
}

async fn authenticate(
    parts: &Parts,
    state: &AppState,
    needed: Role,
) -> Result<TokenInfo, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs a token: Authorization: Bearer <token>",
        ));
    };
    let presented = value
        .to_str()
        .ok()
        .and_then(|text| text.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(address)| *address);
    let address = client_address(peer, &parts.headers);
    let limiter = std::sync::Arc::clone(&state.token_limiter);
    let checked = state
        .blocking(move |storage| {
            let now = std::time::Instant::now();
            tokens::authenticate_limited(storage, &limiter, &presented, address, now)
        })
        .await?;
    let info = checked.map_err(token_refused)?;
    if !info.role.allows(needed) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this needs an {} token", needed.as_str()),
        ));
    }
    tracing::debug!(token_id = %info.id, role = info.role.as_str(), "authenticated");
    Ok(info)
}

/// The API's answer to a refused token.
pub fn token_refused(refusal: TokenRefusal) -> ApiError {
    match refusal {
        TokenRefusal::Invalid => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the token is unknown or revoked",
        ),
        TokenRefusal::Limited(limited) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failed_authentications",
            format!(
                "too many failed token authentications ({}); retry in {} seconds",
                limited.scope.as_str(),
                limited.retry_after_secs()
            ),
        )
        .with_retry_after(limited.retry_after_secs()),
    }
}

impl FromRequestParts<AppState> for Editor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, Role::Editor).await.map(Editor)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, Role::Admin).await.map(Admin)
    }
}

/// A JSON request body as raw bytes, checked for the content type; the body
/// limit applies while reading. Handlers decode it strictly themselves.
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;
    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                let essence = value.split(';').next().unwrap_or("").trim();
                essence == "application/json" || essence.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        "body_too_large",
                        "the request body is over the limit",
                    )
                } else {
                    ApiError::new(status, "bad_body", rejection.body_text())
                }
            })?;
        Ok(JsonBytes(bytes))
    }
}

/// Strict JSON decoding of a small API body, with the field path on errors.
pub fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let is_document = path == "." || path.is_empty();
        let code = if inner.is_syntax() || inner.is_eof() {
            "invalid_json"
        } else if inner.to_string().starts_with("unknown field") {
            "unknown_field"
        } else {
            "invalid_field"
        };
        let api = ApiError::new(StatusCode::BAD_REQUEST, code, inner.to_string());
        if is_document {
            api
        } else {
            api.with_field(path)
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))?;
    Ok(value)
}
