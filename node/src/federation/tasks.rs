//! The background tasks of federation besides the per-peer drivers: the
//! notifier (tells active peers about new changes) and the link retrier
//! (asks again peers that have not approved yet, and drops the link
//! requests to this node that expired unanswered). Both run from
//! `Federation::start` until `Federation::stop`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use seednet_protocol::federation::limits::FEDERATION_SMALL_BODY_BYTES_MAX;
use tokio::task::JoinHandle;

use super::{Federation, Inner};

/// Interval at which link requests to peers that have not approved yet are
/// sent again (a lost accept is answered by a new accept, `docs/PROTOCOL.md`
/// 9.2).
pub const LINK_RETRY_INTERVAL_MS: u64 = 5 * 60_000;

/// Least time between two rounds of notifies.
pub const NOTIFY_SEND_MIN_INTERVAL_MS: u64 = 200;

/// The running background tasks, aborted together at stop.
#[derive(Default)]
pub(crate) struct BackgroundTasks(Mutex<Vec<JoinHandle<()>>>);

impl BackgroundTasks {
    /// Starts the notifier and the link retrier.
    pub(crate) fn start(&self, federation: &Federation) {
        let notifier = tokio::spawn(notifier(Arc::clone(&federation.inner)));
        let retrier = tokio::spawn(link_retrier(federation.clone()));
        self.lock().extend([notifier, retrier]);
    }

    /// Takes the handles, to abort and wait for them.
    pub(crate) fn take(&self) -> Vec<JoinHandle<()>> {
        self.lock().drain(..).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn link_retrier(federation: Federation) {
    let interval = Duration::from_millis(LINK_RETRY_INTERVAL_MS);
    loop {
        tokio::time::sleep(interval).await;
        if let Err(error) = federation.expire_pending_requests().await {
            tracing::warn!(%error, "cannot drop expired link requests");
        }
        for node_id in federation.inner.registry.awaiting_their_approval() {
            if let Err(error) = federation.send_link_request(node_id).await {
                tracing::debug!(peer = %node_id, %error, "link request retry failed");
                federation
                    .inner
                    .registry
                    .set_last_error(&node_id, format!("link request not delivered yet: {error}"));
            }
        }
    }
}

/// Tells every active peer about new log entries, following the storage
/// head wake-up. Hints only: failures are logged at debug level.
async fn notifier(inner: Arc<Inner>) {
    let mut head = inner.storage.subscribe_head();
    loop {
        if head.changed().await.is_err() {
            return;
        }
        let head_seq = *head.borrow_and_update();
        let body = serde_json::to_vec(&serde_json::json!({ "head_seq": head_seq }))
            .expect("a notify body serialises");
        for (node_id, base_url) in inner.registry.pulling() {
            let client = inner.client.clone();
            let body = body.clone();
            tokio::spawn(async move {
                if let Err(error) = client
                    .signed(
                        Method::POST,
                        &base_url,
                        "/federation/v1/notify",
                        body,
                        FEDERATION_SMALL_BODY_BYTES_MAX,
                    )
                    .await
                {
                    tracing::debug!(peer = %node_id, %error, "notify not delivered");
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(NOTIFY_SEND_MIN_INTERVAL_MS)).await;
    }
}
