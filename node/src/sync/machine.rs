//! The per-peer sync state machine: events in, actions out, no I/O.
//!
//! One [`PeerSync`] exists per active peer. The node's driver calls
//! [`PeerSync::handle`] with the current time and an [`Event`] and performs the
//! returned [`Action`]s in order. The machine guarantees:
//!
//! - **Cursor safety.** [`Action::PersistCursor`] is emitted only after the
//!   driver reported [`Event::BatchApplied`] for the page that moves the
//!   cursor there; the cursor never moves backwards and is never reset (a peer
//!   whose feed went backwards is reported, and repair is requested).
//! - **One request at a time.** At most one fetch or apply is outstanding;
//!   every request carries a fresh [`RequestId`], and outcomes for any other
//!   id (late, duplicated, or from before a revocation) are ignored.
//! - **Liveness.** A pull happens every `interval_ms`, right after a notify
//!   (at most once per `notify_min_interval_ms`), immediately after a page
//!   when the peer has more, and after a failure with exponential backoff and
//!   jitter (seeded, so simulations replay). A fetch that does not answer
//!   within `fetch_timeout_ms` counts as failed.
//! - **Repair.** A peer whose feed went behind our cursor (restored from a
//!   backup) gets [`Action::RequestRepair`] at once and again when its feed
//!   passes our cursor, because the entries it writes below our cursor are
//!   never served to us by the feed. A repair is also requested every
//!   `repair_interval_ms` (first one after a random delay), because a
//!   restore that happened while this node was not looking leaves no trace
//!   in the feed.
//! - **Revocation.** [`Event::LinkRevoked`] stops everything at once: the
//!   outstanding request is cancelled and no further action is emitted until
//!   [`Event::LinkActivated`].
//!
//! Times are milliseconds on any monotonic clock the driver chooses.

use super::rng::SeededRng;
use std::fmt;

use seednet_protocol::federation::limits::SYNC_BATCH_RECORDS_MAX;
use seednet_protocol::federation::wire::{check_summary, PageSummary};

/// Pull interval when nothing else triggers a pull.
pub const SYNC_INTERVAL_MS_DEFAULT: u64 = 30_000;
/// First backoff delay after a failure (before jitter).
pub const SYNC_BACKOFF_BASE_MS_DEFAULT: u64 = 1_000;
/// Longest backoff delay.
pub const SYNC_BACKOFF_MAX_MS_DEFAULT: u64 = 5 * 60_000;
/// A fetch without an answer after this long has failed.
pub const SYNC_FETCH_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Notifies trigger at most one pull per this interval.
pub const SYNC_NOTIFY_MIN_INTERVAL_MS_DEFAULT: u64 = 1_000;
/// Interval of the periodic repair (reconciliation) with each peer.
pub const SYNC_REPAIR_INTERVAL_MS_DEFAULT: u64 = 60 * 60_000;

/// Tuning of one peer's sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncConfig {
    pub interval_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub fetch_timeout_ms: u64,
    pub notify_min_interval_ms: u64,
    /// A repair is requested this long after the machine starts (plus up to
    /// the same again of jitter, so peers spread out) and then at this
    /// interval.
    pub repair_interval_ms: u64,
    /// Records asked for per page, 1 to `SYNC_BATCH_RECORDS_MAX`.
    pub page_records: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            interval_ms: SYNC_INTERVAL_MS_DEFAULT,
            backoff_base_ms: SYNC_BACKOFF_BASE_MS_DEFAULT,
            backoff_max_ms: SYNC_BACKOFF_MAX_MS_DEFAULT,
            fetch_timeout_ms: SYNC_FETCH_TIMEOUT_MS_DEFAULT,
            notify_min_interval_ms: SYNC_NOTIFY_MIN_INTERVAL_MS_DEFAULT,
            repair_interval_ms: SYNC_REPAIR_INTERVAL_MS_DEFAULT,
            page_records: SYNC_BATCH_RECORDS_MAX,
        }
    }
}

/// Identifies one fetch and the apply of its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Why a fetch failed, as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Connection refused, DNS failure, TLS error, reset.
    Unreachable(String),
    /// The peer answered with an error status (`code` from its JSON error).
    Refused { status: u16, code: String },
    /// The body was not a valid page (bad JSON, over the size limit).
    BadPage(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Unreachable(reason) => write!(f, "peer unreachable: {reason}"),
            FetchError::Refused { status, code } => {
                write!(f, "peer refused the request: {status} {code}")
            }
            FetchError::BadPage(reason) => write!(f, "peer sent a bad page: {reason}"),
        }
    }
}

/// What the driver tells the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Time passed (at or after a [`Action::ScheduleWake`], or spuriously).
    Tick,
    /// The peer sent a notify hint.
    NotifyReceived { head_seq: u64 },
    /// A fetch returned a page (already decoded and size-checked; record
    /// signatures are checked when the batch is applied).
    PageFetched {
        request: RequestId,
        page: PageSummary,
    },
    /// A fetch failed.
    FetchFailed {
        request: RequestId,
        error: FetchError,
    },
    /// The page of `request` was applied and is durable.
    BatchApplied { request: RequestId },
    /// The page of `request` could not be applied (storage error).
    ApplyFailed { request: RequestId, error: String },
    /// The link became active (both admins approved).
    LinkActivated,
    /// The link was revoked (by either side).
    LinkRevoked,
}

/// What the machine asks the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `GET /federation/v1/changes?since={since}&limit={limit}`; answer with
    /// [`Event::PageFetched`] or [`Event::FetchFailed`] carrying `request`.
    FetchPage {
        request: RequestId,
        since: u64,
        limit: usize,
    },
    /// Verify and durably apply the records of the page fetched by
    /// `request` (kept by the driver), then send [`Event::BatchApplied`].
    ApplyBatch { request: RequestId },
    /// Durably store `cursor` as this peer's cursor.
    PersistCursor { cursor: u64 },
    /// Send [`Event::Tick`] at `at_ms` (replaces any earlier wake-up).
    ScheduleWake { at_ms: u64 },
    /// Abandon `request`: drop its in-flight fetch or unapplied page.
    Cancel { request: RequestId },
    /// Log and show in the peer status.
    ReportError { error: SyncError },
    /// Run a reconciliation pass with this peer (its feed cannot be trusted
    /// to contain everything after our cursor).
    RequestRepair,
}

/// Errors the machine reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("fetch failed ({failures} in a row): {error}")]
    Fetch { error: FetchError, failures: u32 },
    #[error("fetch timed out after {timeout_ms} ms ({failures} in a row)")]
    Timeout { timeout_ms: u64, failures: u32 },
    #[error("peer sent an inconsistent page: {0}")]
    BadPage(String),
    #[error("applying a batch failed ({failures} in a row): {error}")]
    Apply { error: String, failures: u32 },
    #[error("peer feed went backwards: its head is {head_seq}, our cursor is {cursor}; cursor kept, repair requested")]
    FeedRegressed { cursor: u64, head_seq: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The link is not active: nothing happens.
    Stopped,
    Idle {
        next_pull_at_ms: u64,
    },
    Fetching {
        request: RequestId,
        since: u64,
        deadline_ms: u64,
    },
    Applying {
        request: RequestId,
        next_cursor: u64,
        has_more: bool,
    },
    Backoff {
        until_ms: u64,
    },
}

/// What the peer list shows about the sync with one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStatus {
    pub cursor: u64,
    /// The peer's head sequence in the last page or notify.
    pub head_seq: u64,
    pub last_success_ms: Option<u64>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub pages_applied: u64,
}

impl SyncStatus {
    pub fn lag(&self) -> u64 {
        self.head_seq.saturating_sub(self.cursor)
    }
}

/// The sync decisions for one peer.
#[derive(Debug, Clone)]
pub struct PeerSync {
    config: SyncConfig,
    phase: Phase,
    cursor: u64,
    next_request: u64,
    /// The head sequence of a notify that arrived during a fetch or apply.
    notify_pending: Option<u64>,
    last_fetch_started_ms: Option<u64>,
    /// The peer's feed was behind our cursor at the last pull: when it is
    /// ahead again, entries between its old head and our cursor were never
    /// served to us, so one more repair is needed.
    feed_regressed: bool,
    /// When the next periodic repair is due (set at the first event).
    next_repair_at_ms: Option<u64>,
    /// The last wake-up asked for, so that it is asked again only on change.
    last_wake_ms: Option<u64>,
    /// Backoff jitter, seeded so that a simulation replays exactly.
    rng: SeededRng,
    status: SyncStatus,
}

impl PeerSync {
    /// A machine resuming from `persisted_cursor` (0 for a new peer). It
    /// starts stopped unless `link_active`; an active machine pulls at the
    /// first [`Event::Tick`]. `jitter_seed` seeds the backoff jitter.
    pub fn new(
        config: SyncConfig,
        persisted_cursor: u64,
        link_active: bool,
        jitter_seed: u64,
    ) -> Self {
        assert!(
            (1..=SYNC_BATCH_RECORDS_MAX).contains(&config.page_records),
            "page size out of bounds"
        );
        assert!(config.backoff_base_ms >= 1 && config.backoff_base_ms <= config.backoff_max_ms);
        assert!(
            config.repair_interval_ms >= 1,
            "repair interval must be positive"
        );
        PeerSync {
            config,
            phase: if link_active {
                Phase::Idle { next_pull_at_ms: 0 }
            } else {
                Phase::Stopped
            },
            cursor: persisted_cursor,
            next_request: 1,
            notify_pending: None,
            last_fetch_started_ms: None,
            feed_regressed: false,
            next_repair_at_ms: None,
            last_wake_ms: None,
            rng: SeededRng::new(jitter_seed),
            status: SyncStatus {
                cursor: persisted_cursor,
                ..SyncStatus::default()
            },
        }
    }

    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    pub fn status(&self) -> &SyncStatus {
        &self.status
    }

    pub fn is_stopped(&self) -> bool {
        self.phase == Phase::Stopped
    }

    /// Feeds one event; returns the actions to perform, in order.
    pub fn handle(&mut self, now_ms: u64, event: Event) -> Vec<Action> {
        let mut actions = Vec::new();
        let is_tick = event == Event::Tick;
        match event {
            Event::Tick => {
                self.repair_if_due(now_ms, &mut actions);
                self.on_tick(now_ms, &mut actions)
            }
            Event::NotifyReceived { head_seq } => self.on_notify(now_ms, head_seq, &mut actions),
            Event::PageFetched { request, page } => {
                self.on_page(now_ms, request, page, &mut actions)
            }
            Event::FetchFailed { request, error } => {
                if self.is_current_fetch(request) {
                    self.fail(now_ms, None, &mut actions, |failures| SyncError::Fetch {
                        error,
                        failures,
                    });
                }
            }
            Event::BatchApplied { request } => self.on_applied(now_ms, request, &mut actions),
            Event::ApplyFailed { request, error } => {
                if matches!(self.phase, Phase::Applying { request: current, .. } if current == request)
                {
                    self.fail(now_ms, None, &mut actions, |failures| SyncError::Apply {
                        error,
                        failures,
                    });
                }
            }
            Event::LinkActivated => {
                if self.phase == Phase::Stopped {
                    self.status.consecutive_failures = 0;
                    self.start_fetch(now_ms, &mut actions);
                }
            }
            Event::LinkRevoked => {
                if let Some(request) = self.outstanding_request() {
                    actions.push(Action::Cancel { request });
                }
                self.phase = Phase::Stopped;
                self.notify_pending = None;
            }
        }
        self.schedule_wake(now_ms, is_tick, &mut actions);
        actions
    }

    /// Asks for one wake-up at the earliest deadline (the phase's, or the
    /// next repair), when it changed or after a tick (the driver's timer has
    /// fired). A stopped machine asks for none.
    fn schedule_wake(&mut self, now_ms: u64, after_tick: bool, actions: &mut Vec<Action>) {
        if self.phase == Phase::Stopped {
            self.last_wake_ms = None;
            return;
        }
        let repair_at = *self.next_repair_at_ms.get_or_insert_with(|| {
            let interval = self.config.repair_interval_ms;
            now_ms + interval + self.rng.next_u64() % interval
        });
        let phase_deadline = match self.phase {
            Phase::Idle { next_pull_at_ms } => Some(next_pull_at_ms),
            Phase::Fetching { deadline_ms, .. } => Some(deadline_ms),
            Phase::Backoff { until_ms } => Some(until_ms),
            Phase::Applying { .. } | Phase::Stopped => None,
        };
        let at_ms = phase_deadline.map_or(repair_at, |deadline| deadline.min(repair_at));
        if after_tick || self.last_wake_ms != Some(at_ms) {
            self.last_wake_ms = Some(at_ms);
            actions.push(Action::ScheduleWake { at_ms });
        }
    }

    fn repair_if_due(&mut self, now_ms: u64, actions: &mut Vec<Action>) {
        let due = self.next_repair_at_ms.is_some_and(|at| now_ms >= at);
        if due && self.phase != Phase::Stopped {
            self.next_repair_at_ms = Some(now_ms + self.config.repair_interval_ms);
            actions.push(Action::RequestRepair);
        }
    }

    fn outstanding_request(&self) -> Option<RequestId> {
        match self.phase {
            Phase::Fetching { request, .. } | Phase::Applying { request, .. } => Some(request),
            _ => None,
        }
    }

    fn is_current_fetch(&self, request: RequestId) -> bool {
        matches!(self.phase, Phase::Fetching { request: current, .. } if current == request)
    }

    fn on_tick(&mut self, now_ms: u64, actions: &mut Vec<Action>) {
        match self.phase {
            Phase::Idle { next_pull_at_ms } if now_ms >= next_pull_at_ms => {
                self.start_fetch(now_ms, actions)
            }
            Phase::Backoff { until_ms } if now_ms >= until_ms => self.start_fetch(now_ms, actions),
            Phase::Fetching {
                request,
                deadline_ms,
                ..
            } if now_ms >= deadline_ms => {
                let timeout_ms = self.config.fetch_timeout_ms;
                self.fail(now_ms, Some(request), actions, |failures| {
                    SyncError::Timeout {
                        timeout_ms,
                        failures,
                    }
                });
            }
            _ => {}
        }
    }

    fn on_notify(&mut self, now_ms: u64, head_seq: u64, actions: &mut Vec<Action>) {
        if self.phase == Phase::Stopped || head_seq <= self.cursor {
            return;
        }
        self.status.head_seq = self.status.head_seq.max(head_seq);
        let earliest = self
            .last_fetch_started_ms
            .map_or(now_ms, |started| {
                started + self.config.notify_min_interval_ms
            })
            .max(now_ms);
        match self.phase {
            Phase::Fetching { .. } | Phase::Applying { .. } => {
                self.notify_pending = Some(self.notify_pending.unwrap_or(0).max(head_seq));
            }
            Phase::Idle { next_pull_at_ms }
            | Phase::Backoff {
                until_ms: next_pull_at_ms,
            } => {
                if earliest <= now_ms {
                    self.start_fetch(now_ms, actions);
                } else if earliest < next_pull_at_ms {
                    // A notify shows the peer is up: pull soon, even during
                    // backoff, but not more often than the notify interval.
                    self.phase = match self.phase {
                        Phase::Backoff { .. } => Phase::Backoff { until_ms: earliest },
                        _ => Phase::Idle {
                            next_pull_at_ms: earliest,
                        },
                    };
                }
            }
            Phase::Stopped => {}
        }
    }

    fn on_page(
        &mut self,
        now_ms: u64,
        request: RequestId,
        page: PageSummary,
        actions: &mut Vec<Action>,
    ) {
        let Phase::Fetching { since, .. } = self.phase else {
            return;
        };
        if !self.is_current_fetch(request) {
            return;
        }
        if page.since != since {
            self.bad_page(
                now_ms,
                request,
                format!(
                    "page answers since={} but we asked since={since}",
                    page.since
                ),
                actions,
            );
            return;
        }
        if let Err(error) = check_summary(&page, self.config.page_records) {
            self.bad_page(now_ms, request, error.to_string(), actions);
            return;
        }
        self.status.head_seq = page.head_seq;
        if page.feed_regressed() {
            // Not a transient failure: the peer answers, but its log is
            // behind us. Keep the cursor, ask for repair, pull again later.
            actions.push(Action::ReportError {
                error: SyncError::FeedRegressed {
                    cursor: self.cursor,
                    head_seq: page.head_seq,
                },
            });
            actions.push(Action::RequestRepair);
            self.feed_regressed = true;
            self.status.last_error = Some(
                SyncError::FeedRegressed {
                    cursor: self.cursor,
                    head_seq: page.head_seq,
                }
                .to_string(),
            );
            self.idle(now_ms + self.config.interval_ms);
            return;
        }
        debug_assert!(page.next_cursor >= self.cursor);
        if self.feed_regressed {
            // The peer's head passed our cursor again: what it wrote between
            // its restored head and our cursor can only be found by repair.
            self.feed_regressed = false;
            actions.push(Action::RequestRepair);
        }
        if page.records == 0 {
            if page.next_cursor > self.cursor {
                // Only skipped entries: nothing to apply, the cursor may move.
                self.advance_cursor(page.next_cursor, actions);
            }
            self.succeeded(now_ms);
            self.after_page(now_ms, page.has_more(), actions);
            return;
        }
        self.phase = Phase::Applying {
            request,
            next_cursor: page.next_cursor,
            has_more: page.has_more(),
        };
        actions.push(Action::ApplyBatch { request });
    }

    fn on_applied(&mut self, now_ms: u64, request: RequestId, actions: &mut Vec<Action>) {
        let Phase::Applying {
            request: current,
            next_cursor,
            has_more,
        } = self.phase
        else {
            return;
        };
        if current != request {
            return;
        }
        self.advance_cursor(next_cursor, actions);
        self.status.pages_applied += 1;
        self.succeeded(now_ms);
        self.after_page(now_ms, has_more, actions);
    }

    fn advance_cursor(&mut self, next_cursor: u64, actions: &mut Vec<Action>) {
        assert!(
            next_cursor >= self.cursor,
            "cursor must never move backwards"
        );
        if next_cursor > self.cursor {
            self.cursor = next_cursor;
            self.status.cursor = next_cursor;
            actions.push(Action::PersistCursor {
                cursor: next_cursor,
            });
        }
    }

    fn succeeded(&mut self, now_ms: u64) {
        self.status.consecutive_failures = 0;
        self.status.last_success_ms = Some(now_ms);
        self.status.last_error = None;
    }

    fn after_page(&mut self, now_ms: u64, has_more: bool, actions: &mut Vec<Action>) {
        let notified_more = self
            .notify_pending
            .take()
            .is_some_and(|head_seq| head_seq > self.cursor);
        if has_more || notified_more {
            self.start_fetch(now_ms, actions);
        } else {
            self.idle(now_ms + self.config.interval_ms);
        }
    }

    fn idle(&mut self, next_pull_at_ms: u64) {
        self.phase = Phase::Idle { next_pull_at_ms };
    }

    fn start_fetch(&mut self, now_ms: u64, actions: &mut Vec<Action>) {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        let deadline_ms = now_ms + self.config.fetch_timeout_ms;
        self.phase = Phase::Fetching {
            request,
            since: self.cursor,
            deadline_ms,
        };
        self.last_fetch_started_ms = Some(now_ms);
        actions.push(Action::FetchPage {
            request,
            since: self.cursor,
            limit: self.config.page_records,
        });
    }

    fn bad_page(
        &mut self,
        now_ms: u64,
        request: RequestId,
        reason: String,
        actions: &mut Vec<Action>,
    ) {
        self.fail(now_ms, Some(request), actions, |_| {
            SyncError::BadPage(reason)
        });
    }

    /// A failed fetch or apply: report, cancel `request` if given, back off.
    fn fail(
        &mut self,
        now_ms: u64,
        cancel: Option<RequestId>,
        actions: &mut Vec<Action>,
        error: impl FnOnce(u32) -> SyncError,
    ) {
        if let Some(request) = cancel {
            actions.push(Action::Cancel { request });
        }
        self.status.consecutive_failures = self.status.consecutive_failures.saturating_add(1);
        let error = error(self.status.consecutive_failures);
        self.status.last_error = Some(error.to_string());
        actions.push(Action::ReportError { error });
        let until_ms = now_ms + self.backoff_delay_ms();
        self.phase = Phase::Backoff { until_ms };
    }

    /// Exponential backoff with "equal jitter": half the delay fixed, half
    /// random, so that peers that failed together do not retry together.
    fn backoff_delay_ms(&mut self) -> u64 {
        let exponent = self.status.consecutive_failures.saturating_sub(1).min(32);
        let delay = self
            .config
            .backoff_base_ms
            .saturating_mul(1u64 << exponent)
            .min(self.config.backoff_max_ms);
        let half = delay / 2;
        half + self.rng.next_u64() % (delay - half + 1)
    }
}

#[cfg(test)]
mod tests;
