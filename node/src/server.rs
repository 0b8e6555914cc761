//! Running the HTTP server until SIGINT or SIGTERM, then shutting down in
//! order: stop accepting, let in-flight requests (and their writes) finish,
//! stop the storage writer and flush.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use axum::Router;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::node::{self, OpenError};

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
    #[error("final flush failed: {0}")]
    Flush(#[from] crate::storage::StorageError),
}

/// Serves until `shutdown` resolves. `extra` routes (search, federation,
/// web) are merged into the app. Prints `listening on http://ADDR` on stdout
/// once the socket is bound (scripts and tests read it).
pub async fn serve(
    config: Config,
    extra: Router<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let config = Arc::new(config);
    let open_config = Arc::clone(&config);
    let opened = tokio::task::spawn_blocking(move || node::open(&open_config))
        .await
        .expect("open task does not panic")?;
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
    tracing::info!(addr = %local, node = %state.node_id, "listening");
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{local}");
        let _ = stdout.flush();
    }
    let app = api::app(state.clone(), extra);
    let shutdown_state = state.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            shutdown_state.begin_shutdown();
            tracing::info!("shutting down: finishing in-flight requests");
        })
        .await?;
    let storage = Arc::clone(&opened.storage);
    tokio::task::spawn_blocking(move || storage.shutdown())
        .await
        .expect("shutdown task does not panic")?;
    tracing::info!("storage flushed; stopped");
    Ok(())
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
