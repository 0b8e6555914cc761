//! Unit tests of the sync decisions, one behaviour each: when pulls happen,
//! when the cursor may be stored, how failures back off, what revocation and
//! stale answers do. The simulation (`sync::sim`) checks the same machine
//! end to end under faults.

use super::*;

const START: u64 = 1_000_000;

fn page(since: u64, records: usize, next_cursor: u64, head_seq: u64) -> PageSummary {
    PageSummary {
        since,
        records,
        next_cursor,
        head_seq,
    }
}

fn active(cursor: u64) -> PeerSync {
    PeerSync::new(SyncConfig::default(), cursor, true, 42)
}

fn fetch_of(actions: &[Action]) -> Option<(RequestId, u64)> {
    actions.iter().find_map(|action| match action {
        Action::FetchPage { request, since, .. } => Some((*request, *since)),
        _ => None,
    })
}

fn wake_of(actions: &[Action]) -> Option<u64> {
    actions.iter().rev().find_map(|action| match action {
        Action::ScheduleWake { at_ms } => Some(*at_ms),
        _ => None,
    })
}

fn without_wakes(actions: &[Action]) -> Vec<Action> {
    actions
        .iter()
        .filter(|action| !matches!(action, Action::ScheduleWake { .. }))
        .cloned()
        .collect()
}

fn persisted(actions: &[Action]) -> Vec<u64> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::PersistCursor { cursor } => Some(*cursor),
            _ => None,
        })
        .collect()
}

#[test]
fn first_tick_pulls_from_the_persisted_cursor() {
    let mut sync = active(17);
    let actions = sync.handle(START, Event::Tick);
    assert_eq!(
        actions[0],
        Action::FetchPage {
            request: RequestId(1),
            since: 17,
            limit: SYNC_BATCH_RECORDS_MAX
        }
    );
    assert_eq!(
        wake_of(&actions),
        Some(START + SYNC_FETCH_TIMEOUT_MS_DEFAULT)
    );
}

#[test]
fn cursor_is_persisted_only_after_the_batch_is_applied() {
    let mut sync = active(0);
    let (request, _) = fetch_of(&sync.handle(START, Event::Tick)).unwrap();
    let actions = sync.handle(
        START + 10,
        Event::PageFetched {
            request,
            page: page(0, 3, 3, 3),
        },
    );
    assert_eq!(
        without_wakes(&actions),
        vec![Action::ApplyBatch { request }]
    );
    assert_eq!(sync.cursor(), 0, "not applied yet");
    let actions = sync.handle(START + 20, Event::BatchApplied { request });
    assert_eq!(persisted(&actions), vec![3]);
    assert_eq!(
        wake_of(&actions),
        Some(START + 20 + SYNC_INTERVAL_MS_DEFAULT)
    );
    assert_eq!(sync.status().pages_applied, 1);
}

#[test]
fn more_pages_are_pulled_at_once() {
    let mut sync = active(0);
    let (request, _) = fetch_of(&sync.handle(START, Event::Tick)).unwrap();
    sync.handle(
        START,
        Event::PageFetched {
            request,
            page: page(0, 500, 500, 1_200),
        },
    );
    let actions = sync.handle(START, Event::BatchApplied { request });
    assert_eq!(persisted(&actions), vec![500]);
    assert_eq!(fetch_of(&actions).map(|(_, since)| since), Some(500));
    assert_eq!(sync.status().lag(), 700);
}

#[test]
fn empty_page_with_skipped_entries_moves_cursor_without_apply() {
    let mut sync = active(5);
    let (request, _) = fetch_of(&sync.handle(START, Event::Tick)).unwrap();
    let actions = sync.handle(
        START,
        Event::PageFetched {
            request,
            page: page(5, 0, 9, 9),
        },
    );
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::ApplyBatch { .. })));
    assert_eq!(persisted(&actions), vec![9]);
}

#[test]
fn notify_pulls_immediately_but_not_more_than_once_per_interval() {
    let mut sync = active(0);
    let (request, _) = fetch_of(&sync.handle(START, Event::Tick)).unwrap();
    sync.handle(
        START + 5,
        Event::PageFetched {
            request,
            page: page(0, 0, 0, 0),
        },
    );
    // Caught up; a notify 10 ms after the last fetch waits for the minimum
    // notify interval, then pulls.
    let actions = sync.handle(START + 10, Event::NotifyReceived { head_seq: 1 });
    assert_eq!(fetch_of(&actions), None);
    let wake = wake_of(&actions).unwrap();
    assert_eq!(wake, START + SYNC_NOTIFY_MIN_INTERVAL_MS_DEFAULT);
    let actions = sync.handle(wake, Event::Tick);
    assert_eq!(fetch_of(&actions).map(|(_, since)| since), Some(0));
    // A notify for what we already have does nothing.
    let mut caught_up = active(8);
    assert!(
        without_wakes(&caught_up.handle(START, Event::NotifyReceived { head_seq: 8 })).is_empty()
    );
}

#[test]
fn notify_during_a_fetch_pulls_again_after_it() {
    let mut sync = active(0);
    let (request, _) = fetch_of(&sync.handle(START, Event::Tick)).unwrap();
    assert!(sync
        .handle(START + 1, Event::NotifyReceived { head_seq: 4 })
        .is_empty());
    sync.handle(
        START + 2,
        Event::PageFetched {
            request,
            page: page(0, 2, 2, 2),
        },
    );
    let actions = sync.handle(START + 3, Event::BatchApplied { request });
    assert_eq!(persisted(&actions), vec![2]);
    assert_eq!(fetch_of(&actions).map(|(_, since)| since), Some(2));
}

#[test]
fn failures_back_off_exponentially_with_bounded_jitter() {
    let config = SyncConfig::default();
    let mut sync = PeerSync::new(config, 0, true, 7);
    let mut now = START;
    let mut delays = Vec::new();
    for _ in 0..12 {
        let (request, _) = fetch_of(&sync.handle(now, Event::Tick)).unwrap();
        let actions = sync.handle(
            now,
            Event::FetchFailed {
                request,
                error: FetchError::Unreachable("connection refused".into()),
            },
        );
        assert!(actions
            .iter()
            .any(|a| matches!(a, Action::ReportError { .. })));
        let until = wake_of(&actions).unwrap();
        // No pull before the backoff ends.
        assert_eq!(fetch_of(&sync.handle(until - 1, Event::Tick)), None);
        delays.push(until - now);
        now = until;
    }
    for (index, delay) in delays.iter().enumerate() {
        let nominal = (config.backoff_base_ms << index).min(config.backoff_max_ms);
        assert!(
            *delay >= nominal / 2 && *delay <= nominal,
            "failure {index}: delay {delay} outside [{}, {nominal}]",
            nominal / 2
        );
    }
    assert_eq!(sync.status().consecutive_failures, 12);
    // Success resets the failure count.
    let (request, _) = fetch_of(&sync.handle(now, Event::Tick)).unwrap();
    sync.handle(
        now,
        Event::PageFetched {
            request,
            page: page(0, 0, 0, 0),
        },
    );
    assert_eq!(sync.status().consecutive_failures, 0);
    assert_eq!(sync.status().last_error, None);
}

#[test]
fn jitter_differs_between_seeds_and_replays_for_one_seed() {
    let delay = |seed| {
        let mut sync = PeerSync::new(SyncConfig::default(), 0, true, seed);
        let (request, _) = fetch_of(&sync.handle(START, Event::Tick)).unwrap();
        let (request2, _) = {
            let actions = sync.handle(
                START,
                Event::FetchFailed {
                    request,
                    error: FetchError::Unreachable("down".into()),
                },
            );
            let at = wake_of(&actions).unwrap();
            fetch_of(&sync.handle(at, Event::Tick)).unwrap()
        };
        let actions = sync.handle(
            START,
            Event::FetchFailed {
                request: request2,
                error: FetchError::Unreachable("down".into()),
            },
        );
        wake_of(&actions).unwrap()
    };
    assert_eq!(delay(1), delay(1));
    let distinct: std::collections::BTreeSet<u64> = (0..20).map(delay).collect();
    assert!(distinct.len() > 5, "jitter spreads retries: {distinct:?}");
}

#[test]
fn timeout_fails_the_fetch_and_ignores_its_late_answer() {
    let mut sync = active(0);
    let (request, _) = fetch_of(&sync.handle(START, Event::Tick)).unwrap();
    let actions = sync.handle(START + SYNC_FETCH_TIMEOUT_MS_DEFAULT, Event::Tick);
    assert!(actions.contains(&Action::Cancel { request }));
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::ReportError {
            error: SyncError::Timeout { .. }
        }
    )));
    let late = sync.handle(
        START + SYNC_FETCH_TIMEOUT_MS_DEFAULT + 1,
        Event::PageFetched {
            request,
            page: page(0, 3, 3, 3),
        },
    );
    assert!(late.is_empty(), "late answer ignored: {late:?}");
}

#[test]
fn revocation_stops_everything_and_activation_resumes() {
    let mut sync = active(4);
    let (request, _) = fetch_of(&sync.handle(START, Event::Tick)).unwrap();
    sync.handle(
        START,
        Event::PageFetched {
            request,
            page: page(4, 2, 6, 6),
        },
    );
    let actions = sync.handle(START + 1, Event::LinkRevoked);
    assert_eq!(actions, vec![Action::Cancel { request }]);
    // The apply that was under way finishes: its cursor is not stored.
    assert!(sync
        .handle(START + 2, Event::BatchApplied { request })
        .is_empty());
    assert!(sync.handle(START + 1_000_000, Event::Tick).is_empty());
    assert!(sync
        .handle(START + 1_000_001, Event::NotifyReceived { head_seq: 99 })
        .is_empty());
    assert_eq!(sync.cursor(), 4);
    let actions = sync.handle(START + 2_000_000, Event::LinkActivated);
    assert_eq!(fetch_of(&actions).map(|(_, since)| since), Some(4));
}

#[test]
fn inconsistent_pages_are_failures_and_never_move_the_cursor() {
    for bad in [
        page(3, 2, 3, 10),      // records but no progress
        page(3, 1, 11, 10),     // cursor past head
        page(2, 1, 5, 10),      // answers another query
        page(3, 501, 600, 900), // over the page size
    ] {
        let mut sync = active(3);
        let (request, _) = fetch_of(&sync.handle(START, Event::Tick)).unwrap();
        let actions = sync.handle(START, Event::PageFetched { request, page: bad });
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, Action::ReportError { .. })),
            "{bad:?}"
        );
        assert!(persisted(&actions).is_empty(), "{bad:?}");
        assert_eq!(sync.cursor(), 3);
    }
}

#[test]
fn regressed_feed_keeps_cursor_and_requests_repair() {
    let mut sync = active(50);
    let (request, _) = fetch_of(&sync.handle(START, Event::Tick)).unwrap();
    let actions = sync.handle(
        START,
        Event::PageFetched {
            request,
            page: page(50, 0, 50, 20),
        },
    );
    assert!(actions.contains(&Action::RequestRepair));
    assert!(persisted(&actions).is_empty());
    assert_eq!(sync.cursor(), 50);
    // The next pull is one interval later (the same instant as the fetch
    // deadline here, so the wake-up already asked for stands).
    let wake = START + SYNC_INTERVAL_MS_DEFAULT;
    assert!(wake_of(&actions).is_none_or(|at| at == wake));
    // Once the peer's head passes our cursor again, pulling resumes from the
    // cursor and one more repair covers what it wrote below the cursor.
    let (request, _) = fetch_of(&sync.handle(wake, Event::Tick)).unwrap();
    let actions = sync.handle(
        wake,
        Event::PageFetched {
            request,
            page: page(50, 2, 52, 52),
        },
    );
    assert!(actions.contains(&Action::RequestRepair));
    assert!(actions.contains(&Action::ApplyBatch { request }));
    let actions = sync.handle(wake, Event::BatchApplied { request });
    assert_eq!(persisted(&actions), vec![52]);
    assert!(!actions.contains(&Action::RequestRepair), "only once");
}

#[test]
fn stopped_machine_does_nothing_until_activated() {
    let mut sync = PeerSync::new(SyncConfig::default(), 0, false, 1);
    assert!(sync.handle(START, Event::Tick).is_empty());
    assert!(sync
        .handle(START, Event::NotifyReceived { head_seq: 3 })
        .is_empty());
    assert!(fetch_of(&sync.handle(START, Event::LinkActivated)).is_some());
}

#[test]
fn repair_is_requested_periodically_and_wakes_are_scheduled_for_it() {
    let config = SyncConfig {
        repair_interval_ms: 600_000,
        ..SyncConfig::default()
    };
    let mut sync = PeerSync::new(config, 0, true, 3);
    let mut now = START;
    let mut repairs = Vec::new();
    let mut scheduled = None;
    let mut actions = sync.handle(now, Event::Tick);
    // Drive the machine only by the wake-ups it asks for (a new one replaces
    // the previous one); the peer always answers at once with an empty page.
    while now < START + 3_600_000 {
        scheduled = wake_of(&actions).or(scheduled);
        if actions.contains(&Action::RequestRepair) {
            repairs.push(now);
        }
        if let Some((request, since)) = fetch_of(&actions) {
            actions = sync.handle(
                now,
                Event::PageFetched {
                    request,
                    page: page(since, 0, since, since),
                },
            );
            continue;
        }
        let at = scheduled.expect("an active machine always has a wake-up scheduled");
        assert!(at >= now, "wake-up in the past");
        now = at;
        actions = sync.handle(now, Event::Tick);
    }
    assert!(repairs.len() >= 4, "repairs at {repairs:?}");
    assert!(repairs[0] >= START + 600_000 && repairs[0] < START + 1_200_000);
    for pair in repairs.windows(2) {
        assert!(
            pair[1] - pair[0] >= 600_000 && pair[1] - pair[0] < 600_000 + SYNC_INTERVAL_MS_DEFAULT
        );
    }
}
