//! The node's own limits on a request's target and headers, answered with
//! the error shape (JSON for API clients, an HTML page for browsers) instead
//! of hyper's empty 414 and 431.
//!
//! Why here and not in hyper: hyper refuses a request line or header block
//! over its limits itself, before any service sees the request, with an
//! empty body. So the server configures hyper's ceilings well above these
//! limits (`HYPER_HEADERS_MAX` in `crate::server`; hyper's fixed URI ceiling
//! is 65,534 bytes and its header buffer about 400 KiB) and this middleware,
//! inside the JSON and browser error layers, refuses what is over these:
//! a target over [`URI_BYTES_MAX`] gets 414 `uri_too_long`, more than
//! [`HEADERS_MAX`] header fields or more than [`HEADER_BYTES_MAX`] bytes of
//! them 431 `headers_too_large`. What still goes past hyper's ceilings is
//! answered by `crate::http::hyper_errors`.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Longest request target (path and query) in bytes; above the endpoints'
/// own query limits (`api::search::SEARCH_QUERY_STRING_BYTES_MAX`, 8 KiB),
/// which name what is at fault.
pub const URI_BYTES_MAX: usize = 16 * 1024;
/// Most header fields in a request.
pub const HEADERS_MAX: usize = 100;
/// Most bytes of header names and values in a request.
pub const HEADER_BYTES_MAX: usize = 32 * 1024;

/// Refuses a request over one of this module's limits.
pub async fn refuse_oversized(request: Request, next: Next) -> Response {
    if let Some(refusal) = refusal(&request) {
        return refusal.into_response();
    }
    next.run(request).await
}

fn refusal(request: &Request) -> Option<ApiError> {
    let target_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target_bytes > URI_BYTES_MAX {
        return Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target has {target_bytes} bytes; at most {URI_BYTES_MAX}"),
        ));
    }
    let headers = request.headers();
    if headers.len() > HEADERS_MAX {
        return Some(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request has {} header fields; at most {HEADERS_MAX}",
                headers.len()
            ),
        ));
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > HEADER_BYTES_MAX {
        return Some(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the request headers have {header_bytes} bytes; at most {HEADER_BYTES_MAX}"),
        ));
    }
    None
}
