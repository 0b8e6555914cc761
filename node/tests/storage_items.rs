//! The items index (set reconciliation, `docs/PROTOCOL-federation.md` 9.8)
//! stays exactly one entry per stored record at its current version across
//! publish, apply, update, tombstone, purge, reopen and the migration that
//! builds it for an older data dir.

use std::collections::BTreeSet;

use seednet_node::storage::{
    meta, ListQuery, PublishRefusal, SledStorage, Space, Storage, StoredItems,
    LIST_PAGE_RECORDS_MAX,
};
use seednet_protocol::federation::reconcile::{item_id_of, Bound, Item, ItemSource};
use seednet_protocol::testing::{sample_content, sign_sample, test_key};
use seednet_protocol::{Record, RecordBody, RecordId, RecordKey, Signed, Timestamp};

fn open(dir: &tempfile::TempDir) -> SledStorage {
    SledStorage::open(&dir.path().join("db")).expect("open storage")
}

/// What the index holds, through the reconciliation item source.
fn indexed(storage: &SledStorage) -> Vec<Item> {
    let none = BTreeSet::new();
    let source = StoredItems {
        storage,
        skip_origins: &none,
    };
    let mut items = Vec::new();
    source
        .for_each_in(&Bound::ZERO, &Bound::Infinity, &mut |item| {
            items.push(*item)
        })
        .unwrap();
    items
}

/// What the index must hold: one item per stored record (tombstones too).
fn expected(storage: &SledStorage) -> Vec<Item> {
    let mut items = Vec::new();
    let mut query = ListQuery {
        limit: LIST_PAGE_RECORDS_MAX,
        include_deleted: true,
        ..ListQuery::default()
    };
    loop {
        let page = storage.list(&query).unwrap();
        for stored in &page.records {
            let record = stored.signed.value();
            items.push(Item::for_record(
                &record.key,
                record.version,
                stored.signed.hash(),
            ));
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    items.sort();
    items
}

fn assert_consistent(storage: &SledStorage, count: usize) {
    let items = indexed(storage);
    assert_eq!(items, expected(storage));
    assert_eq!(items.len(), count);
    // Every item id leads back to the record's current version.
    for item in &items {
        let stored = storage
            .get_by_item(&item.key().item_id())
            .unwrap()
            .expect("the item's record");
        assert_eq!(stored.signed.value().version, item.key().version());
        assert_eq!(stored.signed.hash(), *item.version_hash());
    }
}

fn tombstone(key: &seednet_protocol::NodeKey, id: &str, version: u64) -> Signed<Record> {
    let record = Record {
        key: RecordKey {
            origin: key.node_id(),
            id: RecordId::parse(id).unwrap(),
        },
        version,
        signed_at: Timestamp::from_unix_seconds(1_767_225_700).unwrap(),
        body: RecordBody::Tombstone,
    };
    Signed::sign(key, record).unwrap()
}

#[test]
fn items_index_follows_every_record_write_purge_reopen_and_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let own = test_key(1);
    let other = test_key(2);
    {
        let storage = open(&dir);
        assert_consistent(&storage, 0);
        // A local publish.
        let published = sign_sample(&own, "pub-1", 1, sample_content("it", "IT", "Uno"));
        let key = published.value().key.clone();
        let built = published.clone();
        storage
            .publish(
                key,
                Box::new(move |current| match current {
                    None => Ok(built),
                    Some(_) => Err(PublishRefusal::Exists),
                }),
            )
            .wait_blocking()
            .unwrap()
            .unwrap();
        assert_consistent(&storage, 1);
        // Received records, an update in the same batch, then a tombstone.
        let a1 = sign_sample(&other, "rec-a", 1, sample_content("el", "GR", "A"));
        let a2 = sign_sample(&other, "rec-a", 2, sample_content("el", "GR", "A, again"));
        let b1 = sign_sample(&other, "rec-b", 1, sample_content("el", "GR", "B"));
        storage
            .apply_many(vec![a1.clone(), a2.clone(), b1.clone()])
            .wait_blocking()
            .unwrap();
        assert_consistent(&storage, 3);
        storage
            .apply(tombstone(&other, "rec-b", 2))
            .wait_blocking()
            .unwrap();
        assert_consistent(&storage, 3);
        // A stale version and an equivocation change nothing.
        storage.apply(a1).wait_blocking().unwrap();
        let forked = sign_sample(&other, "rec-a", 2, sample_content("el", "GR", "fork"));
        storage.apply(forked).wait_blocking().unwrap();
        assert_consistent(&storage, 3);
        let a_item = item_id_of(&a2.value().key);
        let stored = storage.get_by_item(&a_item).unwrap().unwrap();
        assert_eq!(stored.signed.bytes(), a2.bytes());
        storage.shutdown().unwrap();
    }
    {
        let storage = open(&dir);
        assert_consistent(&storage, 3);
        // Purging an origin removes its items with its records.
        storage
            .purge_origin(other.node_id())
            .wait_blocking()
            .unwrap();
        assert_consistent(&storage, 1);
        assert!(storage
            .get_by_item(&item_id_of(&RecordKey {
                origin: other.node_id(),
                id: RecordId::parse("rec-a").unwrap(),
            }))
            .unwrap()
            .is_none());
        storage
            .apply(sign_sample(
                &other,
                "rec-c",
                1,
                sample_content("el", "GR", "C"),
            ))
            .wait_blocking()
            .unwrap();
        assert_consistent(&storage, 2);
        // Forget that the index is complete, as in a data dir written before
        // it existed: the next open builds it again from the records.
        storage
            .kv_write(Space::Meta, vec![(meta::ITEMS_INDEX.to_vec(), None)])
            .wait_blocking()
            .unwrap();
        storage.shutdown().unwrap();
    }
    let storage = open(&dir);
    assert!(storage
        .kv_get(Space::Meta, meta::ITEMS_INDEX)
        .unwrap()
        .is_some());
    assert_consistent(&storage, 2);
}

#[test]
fn a_range_scan_returns_only_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let key = test_key(3);
    let records: Vec<_> = (0..20)
        .map(|i| sign_sample(&key, &format!("r-{i}"), 1, sample_content("en", "IT", "x")))
        .collect();
    storage.apply_many(records).wait_blocking().unwrap();
    let all = indexed(&storage);
    assert_eq!(all.len(), 20);
    let lower = key_bound(all[5].key().0);
    let upper = key_bound(all[12].key().0);
    let mut seen = Vec::new();
    storage
        .for_each_item(&lower, &upper, &mut |item, origin| {
            assert_eq!(origin, key.node_id().as_bytes());
            seen.push(*item);
        })
        .unwrap();
    assert_eq!(seen, all[5..12].to_vec());
    // Skipping the origin leaves nothing.
    let skip = BTreeSet::from([key.node_id()]);
    let source = StoredItems {
        storage: &storage,
        skip_origins: &skip,
    };
    let mut count = 0;
    source
        .for_each_in(&Bound::ZERO, &Bound::Infinity, &mut |_| count += 1)
        .unwrap();
    assert_eq!(count, 0);
}

fn key_bound(key: [u8; 40]) -> Bound {
    Bound::Key {
        padded: key,
        len: 40,
    }
}
