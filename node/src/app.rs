//! The router of the whole node: the JSON API (`crate::api`), the federation
//! endpoints (`crate::federation::http`) and the web interface
//! (`crate::web`), built once at start over one [`AppState`] and wrapped in
//! the limits every request passes.
//!
//! Every request passes, outermost first: request id, trace span (request id,
//! method, route; status and latency logged on response), metrics, HTML error
//! pages for browsers, JSON error rewriting, the limits on the request target
//! and headers (414, 431; [`crate::http::request_limits`]), load shedding over a concurrency limit (503), a request timeout
//! (408) and a body limit (413, see [`crate::http::body_limit`] for why it
//! drains what is over the limit), which applies to every request, not only
//! to extractors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Router};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::http::error::{self, ApiError, ErrorCode};
use crate::http::{body_limit, request_limits};
use crate::state::AppState;
use crate::web::{self, NodeBackend, WebConfig};
use crate::{api, federation};

/// The complete application over `state`: the JSON API, the federation
/// endpoints and the web interface, wrapped in the limits, tracing and
/// metrics.
pub fn app(state: AppState) -> Router {
    let config = Arc::clone(&state.config);
    let request_id = HeaderName::from_static("x-request-id");
    let limits = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .load_shed()
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            config.concurrency_max,
        ));
    let web = web::router(
        Arc::new(NodeBackend::new(state.clone())),
        WebConfig::for_public_url(&state.config.public_url),
    );
    api::api_v1_router()
        .merge(federation::http::routes())
        .with_state(state.clone())
        .merge(web)
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(
            config.body_bytes_max,
            body_limit::limit_body,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(config.request_timeout_ms),
        ))
        .layer(limits)
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn(request_limits::refuse_oversized))
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn(browser_errors))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_string();
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_else(|| "unmatched".into());
                    tracing::info_span!("http", request_id = %request_id, method = %request.method(), route = %route)
                })
                .on_request(())
                .on_response(
                    |response: &Response, latency: Duration, _span: &tracing::Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "request finished"
                        );
                    },
                ),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

async fn overloaded(error: BoxError) -> Response {
    if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the node is at its concurrency limit; retry later",
        )
        .into_response()
    } else {
        ApiError::internal(format!("request failed: {error}")).into_response()
    }
}

async fn unknown_route() -> ApiError {
    ApiError::not_found("no such route")
}

/// Browsers asking for a page get HTML errors in their language; API
/// clients (and every machine path) keep the JSON error shape.
async fn browser_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let page = web::wants_page(&path, request.headers());
    let headers = request.headers().clone();
    let response = next.run(request).await;
    let status = response.status();
    let is_html = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if page && !is_html && (status.is_client_error() || status.is_server_error()) {
        return web::error_page(status, &headers, &path);
    }
    response
}

/// Records route, method, status, latency and error code of each request.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let code = response
        .extensions()
        .get::<ErrorCode>()
        .map(|c| c.0.clone());
    state.metrics.observe_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
        code.as_deref(),
    );
    response
}
