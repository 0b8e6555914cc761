//! The HTTP API: `/api/v1/...`, `/healthz`, `/readyz`, `/metrics`.
//!
//! Composition: [`api_v1_router`] builds the API routes over an [`AppState`];
//! other parts (search, federation, web) build their own `Router<AppState>`
//! and pass it to [`app`], which merges them and wraps everything in the same
//! limits and tracing, so no handler here needs editing when they arrive.
//!
//! Every request passes, outermost first: request id, trace span (request id,
//! method, route; status and latency logged on response), metrics, JSON error
//! rewriting, load shedding over a concurrency limit (503), a request timeout
//! (408) and a body limit (413, see [`body_limit`] for why it drains what is
//! over the limit), which applies to every request, not only to extractors.

pub mod body_limit;
pub mod error;
pub mod extract;
pub mod records;
pub mod search;
pub mod system;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{BoxError, Json, Router};
use seednet_protocol::NodeId;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::config::Config;
use crate::federation::Federation;
use crate::metrics::Metrics;
use crate::service::Publisher;
use crate::storage::Storage;
use error::{ApiError, ErrorCode};

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub publisher: Publisher,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// The node's search index, shared with the web (see `crate::search_index`).
    pub search_index: crate::search_index::NodeSearchIndex,
    /// Peers, links and sync (see `crate::federation`).
    pub federation: Federation,
    shutting_down: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(
        storage: Arc<dyn Storage>,
        publisher: Publisher,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let federation =
            Federation::new(Arc::clone(&storage), Arc::clone(publisher.keys()), &config);
        AppState {
            federation,
            storage,
            publisher,
            config,
            metrics,
            search_index: Default::default(),
            shutting_down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The id of the node's current key (it changes when the key rotates).
    pub fn node_id(&self) -> NodeId {
        self.publisher.node_id()
    }

    /// Runs blocking storage work off the async runtime.
    pub async fn blocking<T, E>(
        &self,
        work: impl FnOnce(&dyn Storage) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let storage = Arc::clone(&self.storage);
        tokio::task::spawn_blocking(move || work(storage.as_ref()))
            .await
            .map_err(|e| ApiError::internal(format!("blocking task failed: {e}")))?
            .map_err(Into::into)
    }

    /// Marks the node as shutting down (readiness turns 503).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "seednet node API", description = "Records, node descriptor, tokens. Errors are {\"error\":{\"code\",\"message\",\"field\"}}."),
    paths(
        records::create_record, records::get_record, records::update_record,
        records::delete_record, records::list_records,
        system::node_descriptor, system::healthz, system::readyz, system::metrics,
        system::status, system::create_token, system::list_tokens, system::revoke_token,
        search::search,
    ),
    components(schemas(
        error::ErrorBody, error::ErrorInfo, error::ErrorDetail,
        records::SignedRecord, records::RecordPage, records::RecordContentInput,
        system::Health, system::NodeStatus, system::OriginStatus,
        system::CreateToken, system::CreatedToken,
        crate::tokens::TokenInfo, crate::tokens::Role,
        search::SearchResults, search::SearchHit, search::MatchedVia,
        search::SearchFacets, search::FacetCount,
    )),
    modifiers(&TokenSecurity),
)]
pub struct ApiDoc;

struct TokenSecurity;

impl utoipa::Modify for TokenSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The `/api/v1` routes of this crate (records, node, tokens, status,
/// OpenAPI) plus `/healthz`, `/readyz` and `/metrics`.
pub fn api_v1_router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/records",
            get(records::list_records).post(records::create_record),
        )
        .route(
            "/api/v1/records/{origin}/{id}",
            get(records::get_record)
                .put(records::update_record)
                .delete(records::delete_record),
        )
        .route("/api/v1/node", get(system::node_descriptor))
        .route("/api/v1/status", get(system::status))
        .route(
            "/api/v1/tokens",
            get(system::list_tokens).post(system::create_token),
        )
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(system::revoke_token),
        )
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .merge(crate::federation::http::routes())
}

/// The complete application: this crate's routes merged with `extra` routes
/// (search, federation, web), wrapped in the limits, tracing and metrics.
pub fn app(state: AppState, extra: Router<AppState>) -> Router {
    let config = Arc::clone(&state.config);
    let request_id = HeaderName::from_static("x-request-id");
    let limits = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .load_shed()
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            config.concurrency_max,
        ));
    api_v1_router()
        .merge(extra)
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
        .layer(middleware::from_fn(error::json_errors))
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
        .with_state(state)
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
