//! Running the HTTP server until SIGINT or SIGTERM, then shutting down in
//! order: stop accepting, let in-flight requests (and their writes) finish,
//! stop the storage writer and flush.
//!
//! The accept loop is hyper's, not `axum::serve`, because two limits live at
//! the connection level: a header-read timeout (a client that trickles its
//! headers would otherwise hold a connection forever) and caps on open
//! connections, for the node and per client address, with a reserve for
//! the machine itself and approved peers (`crate::http::connections`;
//! request limits only count requests, not idle sockets).
//! Each socket is wrapped so that the answers hyper writes itself carry the
//! error shape (`http::hyper_errors`), and hyper's header ceiling sits above
//! the node's own (`http::request_limits`).

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::app;
use crate::config::Config;
use crate::http::connections::is_own_machine;
use crate::http::hyper_errors::Speaking;
use crate::metrics::Metrics;
use crate::node::{self, OpenError};
use crate::state::AppState;

/// Time in-flight requests get to finish after a shutdown signal.
pub const SHUTDOWN_GRACE_MS: u64 = 30_000;
/// Pause after a failed accept (e.g. out of file descriptors).
const ACCEPT_RETRY_MS: u64 = 100;
/// Header fields hyper parses before refusing a request itself; well above
/// `http::request_limits::HEADERS_MAX`, so that the node's own limit, which
/// answers with the error shape, is the one clients meet.
pub const HYPER_HEADERS_MAX: usize = 4 * crate::http::request_limits::HEADERS_MAX;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error("federation cannot start: {0}")]
    Federation(#[from] crate::federation::FederationError),
    #[error("final flush failed: {0}")]
    Flush(#[from] crate::storage::StorageError),
    #[error("the {what} task failed: {reason}")]
    Task { what: &'static str, reason: String },
}

fn task_failed(what: &'static str) -> impl FnOnce(tokio::task::JoinError) -> ServeError {
    move |error| ServeError::Task {
        what,
        reason: error.to_string(),
    }
}

/// Serves the node of `config` until `shutdown` resolves. Prints
/// `listening on http://ADDR` on stdout once the socket is bound (scripts
/// and tests read it).
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let config = Arc::new(config);
    let open_config = Arc::clone(&config);
    let opened = tokio::task::spawn_blocking(move || node::open(&open_config))
        .await
        .map_err(task_failed("opening the data dir"))??;
    let state = AppState::new(
        Arc::clone(&opened.storage),
        opened.publisher.clone(),
        Arc::clone(&config),
        Arc::new(Metrics::default()),
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, node = %state.node_id(), "listening");
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{local}");
        let _ = stdout.flush();
    }
    state.federation.start().await?;
    state.search_index.open_in_background(&config);
    let app = app::app(state.clone());
    accept_loop(listener, app, &state, shutdown).await;
    state.begin_shutdown();
    state.federation.stop().await;
    let storage = Arc::clone(&opened.storage);
    tokio::task::spawn_blocking(move || storage.shutdown())
        .await
        .map_err(task_failed("storage shutdown"))??;
    tracing::info!("storage flushed; stopped");
    Ok(())
}

/// Serves connections until `shutdown` resolves, then waits (bounded) for
/// open connections to finish their in-flight requests.
async fn accept_loop(
    listener: TcpListener,
    app: Router,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let graceful = GracefulShutdown::new();
    let gate = &state.connections;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(ACCEPT_RETRY_MS)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let address = peer.ip();
        let reserved = is_own_machine(address) || state.federation.is_peer_address(address);
        let admitted = match gate.admit(address, reserved) {
            Ok(admitted) => admitted,
            Err(refused) => {
                // Debug only: a crowd must not fill the log too; the counts
                // are in /metrics.
                tracing::debug!(%peer, ?refused, "connection closed at accept");
                drop(stream);
                continue;
            }
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(admitted.header_read_timeout)
            .max_headers(HYPER_HEADERS_MAX)
            .writev(false)
            .serve_connection(
                Speaking::new(TokioIo::new(stream)),
                TowerToHyperService::new(with_peer_address(app.clone(), peer)),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            drop(admitted);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    let grace = Duration::from_millis(SHUTDOWN_GRACE_MS);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_ms = SHUTDOWN_GRACE_MS,
            "connections still open after the grace period"
        );
    }
}

/// Puts the connection's peer address on each of its requests (axum's
/// `ConnectInfo`): the web interface counts failed sign-ins per client.
type IncomingRequest = hyper::Request<hyper::body::Incoming>;

fn with_peer_address(
    app: Router,
    peer: std::net::SocketAddr,
) -> tower::util::MapRequest<Router, impl Fn(IncomingRequest) -> IncomingRequest + Clone> {
    tower::util::MapRequest::new(app, move |mut request: IncomingRequest| {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        request
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = interrupt => tracing::info!("received SIGINT"),
        _ = terminate => tracing::info!("received SIGTERM"),
    }
}
