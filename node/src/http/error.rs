//! The one error shape of the HTTP API:
//! `{"error": {"code", "message", "field", "details"}}` with a 4xx or 5xx status.
//!
//! Every failure path converts into [`ApiError`], including the ones produced
//! by middleware (body limit, timeout, overload, unknown route): the
//! [`json_errors`] middleware rewrites any non-JSON error response into this
//! shape, so clients never have to parse plain text.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use seednet_protocol::{DecodeError, ValidationErrors};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::AccountError;
use crate::service::PublishError;
use crate::storage::{PublishRefusal, StorageError};
use crate::tokens::TokenError;

/// One broken rule, for inputs that break several.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    pub field: String,
}

/// The inner object of an error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorInfo {
    /// Stable machine-readable code, e.g. `invalid_json`, `not_found`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Dotted path of the offending field, when one field is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every broken rule, when validation found several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInfo,
}

/// An error response: status plus [`ErrorBody`].
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub info: ErrorInfo,
    /// Seconds for a `Retry-After` header (429 and 503 answers).
    pub retry_after_secs: Option<u64>,
}

/// The error code of a response, kept as an extension for metrics.
#[derive(Debug, Clone)]
pub struct ErrorCode(pub String);

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            info: ErrorInfo {
                code: code.to_string(),
                message: message.into(),
                field: None,
                details: Vec::new(),
            },
            retry_after_secs: None,
        }
    }

    /// Adds a `Retry-After` of `secs` seconds.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.info.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &str, field: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message).with_field(field)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// Validation failures: 422, the first rule as the headline, all in details.
    pub fn validation(errors: &ValidationErrors) -> Self {
        let first = errors.first();
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            first.code(),
            errors.to_string(),
        )
        .with_field(first.field());
        error.info.details = errors
            .0
            .iter()
            .map(|rule| ErrorDetail {
                code: rule.code().to_string(),
                message: rule.to_string(),
                field: rule.field().to_string(),
            })
            .collect();
        error
    }

    /// A request body that is not the expected JSON.
    pub fn decode(error: DecodeError) -> Self {
        match &error {
            DecodeError::Invalid(errors) => ApiError::validation(errors),
            DecodeError::Shape { path, message } => {
                let is_document = path == "$" || path == ".";
                let code = if is_document {
                    "invalid_json"
                } else {
                    "invalid_field"
                };
                let code = if message.starts_with("unknown field") {
                    "unknown_field"
                } else {
                    code
                };
                let mut api = ApiError::new(StatusCode::BAD_REQUEST, code, message.clone());
                if !is_document {
                    api = api.with_field(path.clone());
                } else if let Some(field) = unknown_field_name(message) {
                    api.info.code = "unknown_field".into();
                    api = api.with_field(field);
                }
                api
            }
            DecodeError::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                error.to_string(),
            ),
            DecodeError::Canonical(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", error.to_string())
            }
        }
    }
}

/// serde names an unknown top-level field only in its message.
fn unknown_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.info.code.clone();
        let body = serde_json::to_vec(&ErrorBody { error: self.info }).expect("error serialises");
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Busy { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", error.to_string())
            }
            StorageError::Closed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                error.to_string(),
            ),
            other => {
                tracing::error!(error = %other, "storage error");
                ApiError::internal("storage error; see the node's log")
            }
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(error: PublishError) -> Self {
        match error {
            PublishError::Invalid(errors) => ApiError::validation(&errors),
            PublishError::NotOwn { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "not_own_record", error.to_string())
            }
            PublishError::RetiredOrigin { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "retired_origin", error.to_string())
            }
            PublishError::Refused(refusal) => ApiError::from(refusal),
            PublishError::Storage(error) => ApiError::from(error),
        }
    }
}

impl From<PublishRefusal> for ApiError {
    fn from(refusal: PublishRefusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            PublishRefusal::NotFound => ApiError::not_found(message),
            PublishRefusal::Deleted { .. } => ApiError::new(StatusCode::GONE, "deleted", message),
            PublishRefusal::VersionConflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, "version_conflict", message)
            }
            PublishRefusal::Exists => ApiError::new(StatusCode::CONFLICT, "exists", message),
            PublishRefusal::Sign(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cannot_sign", message)
            }
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Storage(error) => ApiError::from(error),
            TokenError::TooMany { .. } => {
                ApiError::new(StatusCode::CONFLICT, "too_many_tokens", error.to_string())
            }
            TokenError::LabelTooLong { .. } => {
                ApiError::bad_request("too_long", "label", error.to_string())
            }
            TokenError::NotFound { .. } => ApiError::not_found(error.to_string()),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        let error = match error {
            AccountError::Storage(error) => return ApiError::from(error),
            AccountError::Hash(error) => {
                tracing::error!(%error, "password hashing failed");
                return ApiError::internal("password hashing failed; see the node's log");
            }
            other => other,
        };
        let status = match &error {
            AccountError::UsernameTaken { .. } | AccountError::TooMany { .. } => {
                StatusCode::CONFLICT
            }
            AccountError::NotFound { .. } => StatusCode::NOT_FOUND,
            AccountError::WrongCurrentPassword => StatusCode::FORBIDDEN,
            AccountError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AccountError::InvalidUsername
            | AccountError::InvalidDisplayName
            | AccountError::Password(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AccountError::Storage(_) | AccountError::Hash(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let api = ApiError::new(status, error.code(), error.to_string());
        match error.field() {
            Some(field) => api.with_field(field),
            None => api,
        }
    }
}

/// Rewrites error responses that are not JSON (from middleware or axum's own
/// rejections) into the API's error shape.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.starts_with("application/json") || value.starts_with("text/html")
        });
    if is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is over the limit"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed here"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send Content-Type: application/json",
        ),
        StatusCode::SERVICE_UNAVAILABLE => ("overloaded", "the node is busy; retry later"),
        _ if status.is_client_error() => ("bad_request", "the request was refused"),
        _ => ("internal", "internal error; see the node's log"),
    };
    ApiError::new(status, code, message).into_response()
}
