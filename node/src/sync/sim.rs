//! A deterministic simulation of one node pulling from one peer through the
//! sync state machine, with simulated time and a faulty network.
//!
//! Why: the cursor rules ("store a cursor only after its batch is durable",
//! "never move it backwards") and liveness under failures are easy to break
//! and hard to test with real servers. Here everything that can go wrong does,
//! reproducibly per seed: message delays long enough to reorder and outlive
//! timeouts, drops, duplicates, partitions, the peer going down, the puller
//! crashing at any moment (losing its in-flight page, its unpersisted cursor
//! and its timers) and restarting from its persisted cursor. The peer's feed
//! grows throughout, with updates that supersede earlier change-log entries
//! (so the feed has gaps, as the node's change log does).
//!
//! Checked on every step: a stored cursor only covers changes that are applied
//! durably; stored cursors never decrease; no record version is applied twice.
//! Checked at the end, after the faults stop: every record reached its current
//! version and the cursor reached the peer's head.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use seednet_protocol::federation::reconcile::{respond, Item, ReconcileConfig, Reconciler};
use seednet_protocol::federation::wire::PageSummary;
use seednet_protocol::testing::test_key;
use seednet_protocol::{RecordId, RecordKey, VersionHash};

use super::machine::{
    Action, Event, FetchError, PeerSync, RequestId, SyncConfig, SYNC_BACKOFF_MAX_MS_DEFAULT,
};
use super::rng::SeededRng;

type RecordNo = u32;

/// The serving peer: a change log where an update removes the record's
/// earlier entry (the feed skips superseded versions).
#[derive(Default, Clone)]
struct Peer {
    log: BTreeMap<u64, (RecordNo, u64)>,
    current: HashMap<RecordNo, (u64, u64)>,
    head_seq: u64,
    next_record: RecordNo,
    /// After a restore from backup the peer only creates new records (it
    /// would otherwise re-issue version numbers it lost: equivocations).
    only_new_records: bool,
}

impl Peer {
    fn write(&mut self, rng: &mut SeededRng) {
        let record = if self.current.is_empty() || self.only_new_records || rng.chance(300) {
            self.next_record += 1;
            self.next_record - 1
        } else {
            rng.below(self.current.len() as u64) as RecordNo
        };
        self.head_seq += 1;
        let version = match self.current.get(&record) {
            Some((version, old_seq)) => {
                self.log.remove(old_seq);
                version + 1
            }
            None => 1,
        };
        self.current.insert(record, (version, self.head_seq));
        self.log.insert(self.head_seq, (record, version));
    }

    /// Serves a page exactly as `PageBuilder` does.
    fn serve(&self, since: u64, limit: usize) -> (Vec<(RecordNo, u64)>, PageSummary) {
        serve_log(&self.log, self.head_seq, since, limit)
    }
}

/// A page of a simulated change log, exactly as `PageBuilder` cuts it:
/// at most `limit` entries after `since`; the cursor is the last entry
/// served on a full page, else the head.
pub(super) fn serve_log<E: Copy>(
    log: &BTreeMap<u64, E>,
    head_seq: u64,
    since: u64,
    limit: usize,
) -> (Vec<E>, PageSummary) {
    let mut records = Vec::new();
    let mut last_seq = since;
    let mut full = false;
    for (seq, entry) in log.range(since + 1..) {
        if records.len() == limit {
            full = true;
            break;
        }
        records.push(*entry);
        last_seq = *seq;
    }
    let next_cursor = if full { last_seq } else { head_seq.max(since) };
    let summary = PageSummary {
        since,
        records: records.len(),
        next_cursor,
        head_seq,
    };
    (records, summary)
}

/// The pulling node: durable store and cursor, volatile machine and pages.
struct Puller {
    store: HashMap<RecordNo, u64>,
    persisted_cursor: u64,
    applied_versions: HashMap<(RecordNo, u64), u32>,
    machine: Option<PeerSync>,
    incarnation: u64,
    pages: HashMap<RequestId, Vec<(RecordNo, u64)>>,
    /// Pages handed to the (simulated) apply thread: a cancel cannot stop them.
    applying: HashMap<RequestId, Vec<(RecordNo, u64)>>,
    timer: u64,
    link_active: bool,
}

#[derive(Debug)]
enum Ev {
    PeerWrite,
    FetchArrives {
        incarnation: u64,
        request: RequestId,
        since: u64,
        limit: usize,
    },
    Deliver {
        incarnation: u64,
        event: Event,
        page: Option<Vec<(RecordNo, u64)>>,
    },
    Notify {
        head_seq: u64,
    },
    ApplyDone {
        incarnation: u64,
        request: RequestId,
    },
    PersistDone {
        incarnation: u64,
        cursor: u64,
    },
    Wake {
        incarnation: u64,
        /// Only the latest requested wake-up fires (a driver's timer is
        /// replaced by each new request).
        timer: u64,
    },
    Crash,
    Restart,
    Revoke,
    Activate,
    /// The peer's operator takes a backup of its store.
    Backup,
    /// The peer is restored from that backup: its log goes back.
    RestorePeer,
}

/// Fault settings of one run.
struct Faults {
    until_ms: u64,
    drop_per_thousand: u64,
    duplicate_per_thousand: u64,
    long_delay_per_thousand: u64,
    partitions: Vec<(u64, u64)>,
    peer_down: Vec<(u64, u64)>,
}

struct Sim {
    now_ms: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: Vec<Option<Ev>>,
    order: u64,
    rng: SeededRng,
    peer: Peer,
    puller: Puller,
    config: SyncConfig,
    faults: Faults,
    writes_until_ms: u64,
    /// Fetches and cursor writes emitted while the link was revoked.
    actions_while_revoked: usize,
    backup: Option<Peer>,
    peer_restored: bool,
    /// Versions that only reconciliation brought (the feed skipped them).
    repaired_versions: usize,
}

fn in_windows(windows: &[(u64, u64)], t: u64) -> bool {
    windows
        .iter()
        .any(|(start, end)| (*start..*end).contains(&t))
}

impl Sim {
    fn new(seed: u64) -> Self {
        Self::with_repair_interval(seed, super::machine::SYNC_REPAIR_INTERVAL_MS_DEFAULT)
    }

    fn with_repair_interval(seed: u64, repair_interval_ms: u64) -> Self {
        let mut rng = SeededRng::new(seed);
        let faults_until_ms = 30 * 60_000;
        let windows = |rng: &mut SeededRng, count: u64, longest_ms: u64| {
            (0..rng.below(count + 1))
                .map(|_| {
                    let start = rng.below(faults_until_ms);
                    (
                        start,
                        (start + rng.range(1_000, longest_ms)).min(faults_until_ms),
                    )
                })
                .collect::<Vec<_>>()
        };
        let partitions = windows(&mut rng, 4, 5 * 60_000);
        let peer_down = windows(&mut rng, 3, 8 * 60_000);
        let faults = Faults {
            until_ms: faults_until_ms,
            drop_per_thousand: rng.below(150),
            duplicate_per_thousand: rng.below(50),
            long_delay_per_thousand: rng.below(60),
            partitions,
            peer_down,
        };
        let config = SyncConfig {
            page_records: rng.range(1, 25) as usize,
            repair_interval_ms,
            ..SyncConfig::default()
        };
        let jitter_seed = rng.next_u64();
        let mut sim = Sim {
            now_ms: 0,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            order: 0,
            rng,
            peer: Peer::default(),
            puller: Puller {
                store: HashMap::new(),
                persisted_cursor: 0,
                applied_versions: HashMap::new(),
                machine: Some(PeerSync::new(config, 0, true, jitter_seed)),
                incarnation: 0,
                pages: HashMap::new(),
                applying: HashMap::new(),
                timer: 0,
                link_active: true,
            },
            config,
            faults,
            writes_until_ms: faults_until_ms,
            actions_while_revoked: 0,
            backup: None,
            peer_restored: false,
            repaired_versions: 0,
        };
        sim.schedule(0, Ev::PeerWrite);
        sim.schedule(
            0,
            Ev::Wake {
                incarnation: 0,
                timer: 0,
            },
        );
        let crashes = sim.rng.below(6);
        for _ in 0..crashes {
            let at = sim.rng.below(faults_until_ms);
            sim.schedule(at, Ev::Crash);
        }
        sim
    }

    fn schedule(&mut self, at_ms: u64, event: Ev) {
        self.order += 1;
        self.events.push(Some(event));
        self.queue
            .push(Reverse((at_ms, self.order, self.events.len() - 1)));
    }

    fn faulty(&self) -> bool {
        self.now_ms < self.faults.until_ms
    }

    /// Sends a message over the network: maybe dropped, delayed (sometimes
    /// long enough to arrive after newer messages), or duplicated.
    fn send(&mut self, make: impl Fn() -> Ev) {
        if self.faulty() {
            if in_windows(&self.faults.partitions, self.now_ms)
                || self.rng.chance(self.faults.drop_per_thousand)
            {
                return;
            }
            if self.rng.chance(self.faults.duplicate_per_thousand) {
                let delay = self.rng.range(1, 2_000);
                self.schedule(self.now_ms + delay, make());
            }
        }
        let delay = if self.faulty() && self.rng.chance(self.faults.long_delay_per_thousand) {
            self.rng.range(20_000, 90_000)
        } else {
            self.rng.range(1, 300)
        };
        self.schedule(self.now_ms + delay, make());
    }

    fn run_until(&mut self, end_ms: u64) {
        while let Some(Reverse((at_ms, _, index))) = self.queue.peek().copied() {
            if at_ms > end_ms {
                break;
            }
            self.queue.pop();
            self.now_ms = at_ms;
            let event = self.events[index].take().expect("event delivered once");
            self.step(event);
        }
        self.now_ms = end_ms;
    }

    fn step(&mut self, event: Ev) {
        match event {
            Ev::PeerWrite => {
                self.peer.write(&mut self.rng);
                let head_seq = self.peer.head_seq;
                self.send(|| Ev::Notify { head_seq });
                if self.now_ms < self.writes_until_ms {
                    let next = self.now_ms + self.rng.range(10, 5_000);
                    self.schedule(next, Ev::PeerWrite);
                }
            }
            Ev::FetchArrives {
                incarnation,
                request,
                since,
                limit,
            } => {
                if self.faulty() && in_windows(&self.faults.peer_down, self.now_ms) {
                    // Connection refused comes back quickly and reliably.
                    let delay = self.rng.range(1, 50);
                    self.schedule(
                        self.now_ms + delay,
                        Ev::Deliver {
                            incarnation,
                            event: Event::FetchFailed {
                                request,
                                error: FetchError::Unreachable("connection refused".into()),
                            },
                            page: None,
                        },
                    );
                    return;
                }
                let (records, summary) = self.peer.serve(since, limit);
                self.send(|| Ev::Deliver {
                    incarnation,
                    event: Event::PageFetched {
                        request,
                        page: summary,
                    },
                    page: Some(records.clone()),
                });
            }
            Ev::Deliver {
                incarnation,
                event,
                page,
            } => {
                if incarnation != self.puller.incarnation || self.puller.machine.is_none() {
                    return;
                }
                if let (Event::PageFetched { request, .. }, Some(records)) = (&event, page) {
                    self.puller.pages.insert(*request, records);
                }
                self.feed(event);
            }
            Ev::Notify { head_seq } => {
                if self.puller.machine.is_some() {
                    self.feed(Event::NotifyReceived { head_seq });
                }
            }
            Ev::ApplyDone {
                incarnation,
                request,
            } => {
                if incarnation != self.puller.incarnation || self.puller.machine.is_none() {
                    return;
                }
                self.apply_durably(request);
                self.feed(Event::BatchApplied { request });
            }
            Ev::PersistDone {
                incarnation,
                cursor,
            } => {
                if incarnation != self.puller.incarnation || self.puller.machine.is_none() {
                    return;
                }
                assert!(
                    cursor > self.puller.persisted_cursor,
                    "stored cursor must increase: {} then {cursor}",
                    self.puller.persisted_cursor
                );
                if !self.peer_restored {
                    // After a restore the peer's log below our cursor holds
                    // entries the feed never served: repair covers them.
                    self.check_cursor_covers_applied(cursor);
                }
                self.puller.persisted_cursor = cursor;
            }
            Ev::Wake { incarnation, timer } => {
                if incarnation == self.puller.incarnation
                    && timer == self.puller.timer
                    && self.puller.machine.is_some()
                {
                    self.feed(Event::Tick);
                }
            }
            Ev::Crash => {
                if self.puller.machine.is_some() {
                    self.puller.machine = None;
                    self.puller.pages.clear();
                    self.puller.applying.clear();
                    self.puller.incarnation += 1;
                    let downtime = self.rng.range(100, 10 * 60_000);
                    self.schedule(self.now_ms + downtime, Ev::Restart);
                }
            }
            Ev::Restart => {
                let seed = self.rng.next_u64();
                self.puller.machine = Some(PeerSync::new(
                    self.config,
                    self.puller.persisted_cursor,
                    self.puller.link_active,
                    seed,
                ));
                let incarnation = self.puller.incarnation;
                self.puller.timer += 1;
                let timer = self.puller.timer;
                self.schedule(self.now_ms, Ev::Wake { incarnation, timer });
            }
            Ev::Revoke => {
                self.puller.link_active = false;
                if self.puller.machine.is_some() {
                    self.feed(Event::LinkRevoked);
                }
            }
            Ev::Activate => {
                self.puller.link_active = true;
                if self.puller.machine.is_some() {
                    self.feed(Event::LinkActivated);
                }
            }
            Ev::Backup => self.backup = Some(self.peer.clone()),
            Ev::RestorePeer => {
                let mut restored = self.backup.take().expect("backup taken first");
                restored.next_record = self.peer.next_record;
                restored.only_new_records = true;
                self.peer = restored;
                self.peer_restored = true;
            }
        }
    }

    /// A reconciliation pass with the peer (run to completion at once; the
    /// node runs it beside the pulls, which is safe because applying is
    /// idempotent and newer-only), then the apply of what the peer has and
    /// the puller lacks.
    fn repair(&mut self) {
        let origin = test_key(9).node_id();
        let item = |record: RecordNo, version: u64| {
            let key = RecordKey {
                origin,
                id: RecordId::parse(&format!("r{record}")).expect("valid id"),
            };
            let hash = VersionHash::of(format!("{record}:{version}").as_bytes());
            Item::for_record(&key, version, hash)
        };
        let mut ours: Vec<Item> = self
            .puller
            .store
            .iter()
            .map(|(record, version)| item(*record, *version))
            .collect();
        ours.sort();
        let mut record_of = HashMap::new();
        let mut theirs: Vec<Item> = Vec::new();
        for (record, (version, _)) in &self.peer.current {
            let peer_item = item(*record, *version);
            record_of.insert(peer_item.key().item_id(), *record);
            theirs.push(peer_item);
        }
        theirs.sort();
        let config = ReconcileConfig::default();
        let mut reconciler = Reconciler::new(config);
        let mut message = reconciler.initiate(ours.as_slice()).expect("initiate");
        loop {
            let reply = respond(&config, theirs.as_slice(), &message).expect("respond");
            match reconciler
                .reconcile(ours.as_slice(), &reply)
                .expect("reconcile")
            {
                Some(next) => message = next,
                None => break,
            }
        }
        for needed in reconciler.finish().need {
            let record = record_of[&needed.key().item_id()];
            let version = needed.key().version();
            let stored = self.puller.store.entry(record).or_insert(0);
            if version > *stored {
                *stored = version;
                self.repaired_versions += 1;
                let count = self
                    .puller
                    .applied_versions
                    .entry((record, version))
                    .or_insert(0);
                *count += 1;
                assert_eq!(*count, 1, "record {record} version {version} applied twice");
            }
        }
    }

    /// The apply rule of the node: a version is applied only if newer.
    fn apply_durably(&mut self, request: RequestId) {
        let records = self
            .puller
            .applying
            .remove(&request)
            .expect("apply of a page the driver holds");
        for (record, version) in records {
            let stored = self.puller.store.entry(record).or_insert(0);
            if version > *stored {
                *stored = version;
                let count = self
                    .puller
                    .applied_versions
                    .entry((record, version))
                    .or_insert(0);
                *count += 1;
                assert_eq!(*count, 1, "record {record} version {version} applied twice");
            }
        }
    }

    /// Every current entry of the peer's log at or below `cursor` must be
    /// applied (entries above it may be pending; superseded ones are gone).
    fn check_cursor_covers_applied(&self, cursor: u64) {
        for (seq, (record, version)) in self.peer.log.range(..=cursor) {
            let stored = self.puller.store.get(record).copied().unwrap_or(0);
            assert!(
                stored >= *version,
                "cursor {cursor} stored but record {record} (seq {seq}) has version {stored}, not {version}"
            );
        }
    }

    fn feed(&mut self, event: Event) {
        let machine = self.puller.machine.as_mut().expect("machine running");
        let actions = machine.handle(self.now_ms, event);
        let incarnation = self.puller.incarnation;
        for action in actions {
            if !self.puller.link_active
                && matches!(
                    action,
                    Action::FetchPage { .. }
                        | Action::ApplyBatch { .. }
                        | Action::PersistCursor { .. }
                )
            {
                self.actions_while_revoked += 1;
            }
            match action {
                Action::FetchPage {
                    request,
                    since,
                    limit,
                } => self.send(|| Ev::FetchArrives {
                    incarnation,
                    request,
                    since,
                    limit,
                }),
                Action::ApplyBatch { request } => {
                    let page = self
                        .puller
                        .pages
                        .remove(&request)
                        .expect("apply asked for a page that was fetched");
                    self.puller.applying.insert(request, page);
                    let delay = self.rng.range(1, 200);
                    self.schedule(
                        self.now_ms + delay,
                        Ev::ApplyDone {
                            incarnation,
                            request,
                        },
                    );
                }
                Action::PersistCursor { cursor } => {
                    // The cursor is stored by a later durable write: a crash
                    // before it completes loses it.
                    self.schedule(
                        self.now_ms + 20,
                        Ev::PersistDone {
                            incarnation,
                            cursor,
                        },
                    );
                }
                Action::ScheduleWake { at_ms } => {
                    self.puller.timer += 1;
                    let timer = self.puller.timer;
                    self.schedule(at_ms.max(self.now_ms), Ev::Wake { incarnation, timer });
                }
                Action::Cancel { request } => {
                    self.puller.pages.remove(&request);
                }
                Action::RequestRepair => self.repair(),
                Action::ReportError { .. } => {}
            }
        }
    }

    fn assert_converged(&self, seed: u64) {
        assert!(
            self.puller.machine.is_some(),
            "seed {seed}: puller running at the end"
        );
        for (record, (version, _)) in &self.peer.current {
            assert_eq!(
                self.puller.store.get(record),
                Some(version),
                "seed {seed}: record {record} did not converge"
            );
        }
        assert_eq!(
            self.puller.persisted_cursor, self.peer.head_seq,
            "seed {seed}: cursor did not reach the head"
        );
    }
}

/// After the faults stop, the longest backoff plus a few intervals is enough.
fn settle_ms() -> u64 {
    2 * SYNC_BACKOFF_MAX_MS_DEFAULT + 10 * 60_000
}

#[test]
fn converges_under_faults_and_crashes_over_many_seeds() {
    for seed in 0..500 {
        let mut sim = Sim::new(seed);
        let end = sim.faults.until_ms + settle_ms();
        sim.run_until(end);
        sim.assert_converged(seed);
        assert!(sim.peer.head_seq > 100, "seed {seed}: the feed grew");
    }
}

#[test]
fn a_revoked_link_stops_all_pulls_until_reactivated() {
    for seed in 0..100 {
        let mut sim = Sim::new(10_000 + seed);
        let revoke_at = sim.rng.range(60_000, 20 * 60_000);
        let activate_at = revoke_at + sim.rng.range(1_000, 15 * 60_000);
        sim.schedule(revoke_at, Ev::Revoke);
        sim.schedule(activate_at, Ev::Activate);
        sim.run_until(activate_at - 1);
        assert_eq!(
            sim.actions_while_revoked, 0,
            "seed {seed}: fetches, applies or cursor writes after revocation"
        );
        let cursor_at_revoke = sim.puller.persisted_cursor;
        assert!(cursor_at_revoke <= sim.peer.head_seq);
        let end = sim.faults.until_ms.max(activate_at) + settle_ms();
        sim.run_until(end);
        assert_eq!(sim.actions_while_revoked, 0, "seed {seed}");
        sim.assert_converged(seed);
    }
}

/// Without faults, a notify brings a new record across in about a second,
/// not after the 30-second interval.
#[test]
fn notify_brings_records_within_seconds_without_faults() {
    for seed in 0..50 {
        let mut sim = Sim::new(20_000 + seed);
        sim.faults = Faults {
            until_ms: 0,
            drop_per_thousand: 0,
            duplicate_per_thousand: 0,
            long_delay_per_thousand: 0,
            partitions: Vec::new(),
            peer_down: Vec::new(),
        };
        // No crashes either: their events become ignored wake-ups.
        for event in sim.events.iter_mut() {
            if matches!(event, Some(Ev::Crash)) {
                *event = Some(Ev::Wake {
                    incarnation: u64::MAX,
                    timer: 0,
                });
            }
        }
        // Writes during the first minute; every 100 ms, measure how long
        // the puller has been behind.
        sim.writes_until_ms = 60_000;
        let mut worst_ms = 0;
        let mut t = 0;
        while t < 120_000 {
            t += 100;
            sim.run_until(t);
            let behind = sim
                .peer
                .current
                .iter()
                .filter(|(record, (version, _))| sim.puller.store.get(record) != Some(version))
                .count();
            if behind > 0 {
                worst_ms += 100;
            } else {
                worst_ms = 0;
            }
            assert!(
                worst_ms <= 3_000,
                "seed {seed}: a record stayed behind for {worst_ms} ms without faults"
            );
        }
    }
}

/// A peer restored from an older backup: its feed goes behind the puller's
/// cursor, and what it writes below that cursor is never served by the feed.
/// The puller keeps its cursor, and the reconciliation passes it requests
/// bring those records anyway.
#[test]
fn restored_peer_is_repaired_by_reconciliation() {
    let mut seeds_needing_repair = 0;
    for seed in 0..60 {
        let mut sim = Sim::with_repair_interval(30_000 + seed, 10 * 60_000);
        let backup_at = sim.rng.range(2 * 60_000, 8 * 60_000);
        let restore_at = backup_at + sim.rng.range(30_000, 3 * 60_000);
        sim.schedule(backup_at, Ev::Backup);
        sim.schedule(restore_at, Ev::RestorePeer);
        // Long enough after the last write for a periodic repair even when
        // the puller restarted (and restarted its repair timer) late.
        let end = sim.faults.until_ms + settle_ms() + 20 * 60_000;
        sim.run_until(end);
        for (record, (version, _)) in &sim.peer.current {
            let stored = sim.puller.store.get(record).copied().unwrap_or(0);
            assert!(
                stored >= *version,
                "seed {seed}: record {record} at {stored}, the peer has {version}"
            );
        }
        assert_eq!(
            sim.puller.persisted_cursor, sim.peer.head_seq,
            "seed {seed}: pulling resumed once the peer's feed passed the cursor"
        );
        if sim.repaired_versions > 0 {
            seeds_needing_repair += 1;
        }
    }
    assert!(
        seeds_needing_repair > 30,
        "restores left gaps that only repair could fill ({seeds_needing_repair} of 60 seeds)"
    );
}
