//! The storage contract on real sled on disk: idempotent apply, newer
//! versions only, equivocation evidence, the change log as a paged feed with
//! exact signed bytes, the head wake-up channel, durability across reopen and
//! the directory lock.

use std::collections::BTreeSet;

use seednet_node::storage::{
    ApplyOutcome, ListQuery, SledStorage, Storage, StorageError, CHANGES_PAGE_ENTRIES_MAX,
};
use seednet_protocol::testing::{sample_content, sign_sample, test_key};
use seednet_protocol::{Record, Signed};

fn open(dir: &tempfile::TempDir) -> SledStorage {
    SledStorage::open(&dir.path().join("db")).expect("open storage")
}

fn apply(storage: &SledStorage, record: &Signed<Record>) -> ApplyOutcome {
    storage
        .apply(record.clone())
        .wait_blocking()
        .expect("apply")
}

#[test]
fn apply_is_idempotent_and_keeps_only_newer_versions() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let key = test_key(1);
    let v1 = sign_sample(&key, "rec-1", 1, sample_content("it", "IT", "Uno"));
    let v2 = sign_sample(&key, "rec-1", 2, sample_content("it", "IT", "Uno, rivisto"));
    let v3 = sign_sample(&key, "rec-1", 3, sample_content("it", "IT", "Uno, terza"));

    assert_eq!(apply(&storage, &v1), ApplyOutcome::Applied { seq: 1 });
    assert_eq!(apply(&storage, &v1), ApplyOutcome::AlreadyHave);
    assert_eq!(apply(&storage, &v3), ApplyOutcome::Applied { seq: 2 });
    assert_eq!(apply(&storage, &v2), ApplyOutcome::Stale { have: 3 });
    assert_eq!(apply(&storage, &v1), ApplyOutcome::AlreadyHave);
    let stored = storage.get(&v3.value().key).unwrap().unwrap();
    assert_eq!(stored.signed.bytes(), v3.bytes());
    assert_eq!(stored.seq, 2);
    assert_eq!(storage.head_seq(), 2);
    let stats = storage.stats();
    assert_eq!(stats.records_by_origin[&key.node_id()].live, 1);
    assert_eq!(
        (
            stats.applied_total,
            stats.already_have_total,
            stats.stale_total
        ),
        (2, 2, 1)
    );
}

#[test]
fn equivocation_is_refused_and_kept_as_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let key = test_key(2);
    let honest = sign_sample(&key, "rec-x", 1, sample_content("el", "GR", "Πρώτη"));
    let forked = sign_sample(&key, "rec-x", 1, sample_content("el", "GR", "Άλλη"));
    assert_eq!(apply(&storage, &honest), ApplyOutcome::Applied { seq: 1 });
    assert_eq!(
        apply(&storage, &forked),
        ApplyOutcome::Equivocation {
            existing_hash: honest.hash()
        }
    );
    // Offering the same evidence again keeps one copy.
    assert!(matches!(
        apply(&storage, &forked),
        ApplyOutcome::Equivocation { .. }
    ));
    let evidence = storage.evidence(&honest.value().key).unwrap();
    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].bytes(), forked.bytes());
    let current = storage.get(&honest.value().key).unwrap().unwrap();
    assert_eq!(
        current.signed.bytes(),
        honest.bytes(),
        "the first version stays current"
    );
    assert_eq!(storage.head_seq(), 1, "evidence writes no change-log entry");
    assert_eq!(storage.stats().evidence_records, 1);
}

#[test]
fn change_log_pages_carry_current_signed_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let key = test_key(3);
    let mut batch = Vec::new();
    for n in 0..10 {
        batch.push(sign_sample(
            &key,
            &format!("r{n:02}"),
            1,
            sample_content("ro", "RO", &format!("Practica {n}")),
        ));
    }
    let outcomes = storage.apply_many(batch.clone()).wait_blocking().unwrap();
    let seqs: Vec<u64> = outcomes
        .iter()
        .map(|o| match o {
            ApplyOutcome::Applied { seq } => *seq,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    // Supersede r03: its first entry (seq 4) is skipped, the new one is seq 11.
    let r03_v2 = sign_sample(&key, "r03", 2, sample_content("ro", "RO", "Practica 3 bis"));
    assert_eq!(apply(&storage, &r03_v2), ApplyOutcome::Applied { seq: 11 });

    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let page = storage.changes_since(cursor, 3, usize::MAX).unwrap();
        assert_eq!(page.head_seq, 11);
        assert!(page.changes.len() <= 3);
        for change in &page.changes {
            let verified = Signed::<Record>::verify(&change.bytes, change.signature)
                .expect("exact signed bytes");
            assert_eq!(verified.value().key, change.key);
            assert_eq!(verified.value().version, change.version);
            assert_eq!(verified.hash(), change.hash);
            seen.push((change.seq, change.key.id.to_string(), change.version));
        }
        assert!(page.next_seq >= cursor, "the cursor never goes back");
        if page.next_seq == cursor {
            break;
        }
        cursor = page.next_seq;
    }
    assert_eq!(seen.len(), 10, "one current entry per record");
    assert!(!seen.iter().any(|(seq, _, _)| *seq == 4));
    assert!(seen.contains(&(11, "r03".to_string(), 2)));

    // A byte budget smaller than one record still returns one entry.
    let page = storage
        .changes_since(0, CHANGES_PAGE_ENTRIES_MAX, 1)
        .unwrap();
    assert_eq!(page.changes.len(), 1);
    assert_eq!(page.next_seq, 1);
    let tail = storage.changes_since(11, 10, usize::MAX).unwrap();
    assert!(tail.changes.is_empty());
    assert_eq!(tail.next_seq, 11);
}

#[test]
fn head_channel_wakes_followers() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let mut head = storage.subscribe_head();
    assert_eq!(*head.borrow_and_update(), 0);
    let record = sign_sample(&test_key(4), "w1", 1, sample_content("sl", "SI", "Orodje"));
    apply(&storage, &record);
    assert!(head.has_changed().unwrap());
    assert_eq!(*head.borrow_and_update(), 1);
    apply(&storage, &record);
    assert!(
        !head.has_changed().unwrap(),
        "a no-op apply does not wake anyone"
    );
}

#[test]
fn everything_survives_reopen_and_the_directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let key = test_key(5);
    let records: Vec<_> = (0..25)
        .map(|n| {
            sign_sample(
                &key,
                &format!("p{n}"),
                1,
                sample_content("en", "SI", &format!("Toolkit {n}")),
            )
        })
        .collect();
    {
        let storage = open(&dir);
        let pending: Vec<_> = records.iter().map(|r| storage.apply(r.clone())).collect();
        let seqs: BTreeSet<u64> = pending
            .into_iter()
            .map(|p| match p.wait_blocking().unwrap() {
                ApplyOutcome::Applied { seq } => seq,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            seqs,
            (1..=25).collect(),
            "concurrent applies get distinct sequence numbers"
        );
        match SledStorage::open(&dir.path().join("db")) {
            Err(StorageError::Locked { .. }) => {}
            Err(other) => panic!("expected Locked, got {other}"),
            Ok(_) => panic!("a second open of a locked directory must fail"),
        }
        storage.shutdown().unwrap();
        assert!(matches!(
            storage.apply(records[0].clone()).wait_blocking(),
            Err(StorageError::Closed)
        ));
    }
    let storage = open(&dir);
    assert_eq!(storage.head_seq(), 25);
    for record in &records {
        let stored = storage
            .get(&record.value().key)
            .unwrap()
            .expect("still there");
        assert_eq!(stored.signed.bytes(), record.bytes());
    }
    let page = storage
        .list(&ListQuery {
            limit: 10,
            ..ListQuery::default()
        })
        .unwrap();
    assert_eq!(page.records.len(), 10);
    assert!(page.next.is_some());
    assert_eq!(storage.stats().records_by_origin[&key.node_id()].live, 25);
    assert_eq!(apply(&storage, &records[7]), ApplyOutcome::AlreadyHave);
}

#[test]
fn listing_by_origin_pages_within_that_origin() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let mut origins: Vec<_> = [6u8, 7, 8].iter().map(|n| test_key(*n)).collect();
    origins.sort_by_key(|key| key.node_id());
    for key in &origins {
        let records: Vec<_> = (0..5)
            .map(|n| {
                sign_sample(
                    key,
                    &format!("k{n}"),
                    1,
                    sample_content("it", "IT", &format!("R {n}")),
                )
            })
            .collect();
        storage.apply_many(records).wait_blocking().unwrap();
    }
    let middle = origins[1].node_id();
    let mut found = Vec::new();
    let mut query = ListQuery {
        origin: Some(middle),
        limit: 2,
        ..ListQuery::default()
    };
    for _ in 0..10 {
        let page = storage.list(&query).unwrap();
        found.extend(page.records.iter().map(|r| r.signed.value().key.clone()));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(found.len(), 5);
    assert!(found.iter().all(|key| key.origin == middle));
    // A cursor from an earlier origin starts at the requested origin's range.
    let first_of_earlier = storage
        .list(&ListQuery {
            origin: Some(origins[0].node_id()),
            limit: 1,
            ..ListQuery::default()
        })
        .unwrap()
        .records[0]
        .signed
        .value()
        .key
        .clone();
    let page = storage
        .list(&ListQuery {
            origin: Some(middle),
            after: Some(first_of_earlier),
            limit: 10,
            ..ListQuery::default()
        })
        .unwrap();
    assert_eq!(page.records.len(), 5);
}

#[test]
fn purging_an_origin_removes_its_records_versions_and_log_entries_only() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, gone) = (test_key(6), test_key(7));
    {
        let storage = open(&dir);
        for n in 0..3 {
            let id = format!("k{n}");
            apply(
                &storage,
                &sign_sample(&kept, &id, 1, sample_content("sl", "SI", "Ostane")),
            );
            apply(
                &storage,
                &sign_sample(&gone, &id, 1, sample_content("ro", "RO", "Pleacă")),
            );
            apply(
                &storage,
                &sign_sample(&gone, &id, 2, sample_content("ro", "RO", "Pleacă 2")),
            );
        }
        let purged = storage
            .purge_origin(gone.node_id())
            .wait_blocking()
            .unwrap();
        // Both versions of each purged record had a change-log entry.
        assert_eq!((purged.records, purged.changes), (3, 6));
        storage.shutdown().unwrap();
    }
    // After a reopen: nothing of the purged origin, the other one intact.
    let storage = open(&dir);
    let all = storage
        .list(&ListQuery {
            limit: 100,
            include_deleted: true,
            ..ListQuery::default()
        })
        .unwrap();
    assert_eq!(all.records.len(), 3);
    assert!(all
        .records
        .iter()
        .all(|r| r.signed.value().key.origin == kept.node_id()));
    let page = storage.changes_since(0, 100, 1 << 20).unwrap();
    assert_eq!(page.changes.len(), 3);
    assert!(page.changes.iter().all(|c| c.key.origin == kept.node_id()));
    assert!(!storage
        .stats()
        .records_by_origin
        .contains_key(&gone.node_id()));
    // The purged records can be received again, as new.
    let again = sign_sample(&gone, "k0", 2, sample_content("ro", "RO", "Pleacă 2"));
    assert!(matches!(
        apply(&storage, &again),
        ApplyOutcome::Applied { .. }
    ));
}
