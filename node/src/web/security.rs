//! Security headers on every web response.
//!
//! The Content-Security-Policy allows scripts, styles and images from this
//! node only, so an injected `<script>` (or an inline event handler) never
//! runs even if escaping failed somewhere; the JSON-LD block is data
//! (`application/ld+json`) and is not executed. Pages cannot be framed
//! (clickjacking), forms post only to this node, and `<base>` is refused.

use axum::http::header::{
    HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::Response;

/// The Content-Security-Policy of every web page.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Adds the security headers to a response (an axum `map_response` layer).
pub async fn add_headers(response: Response) -> Response {
    with_headers(response)
}

/// [`add_headers`] for a response built outside the web router.
pub fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
