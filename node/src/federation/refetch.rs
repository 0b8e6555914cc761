//! A refused version is fetched again (issue #17.3).
//!
//! Why: a feed page moves the cursor past every record it carries, the
//! refused ones too (a page is applied as a whole, and a peer that keeps
//! sending bad bytes must not stall the feed). Without this, a version
//! corrupted on the way (by a relay, a proxy, a bad disk) would be missing
//! until the next repair pass, an hour later or more, and a relay that
//! corrupts one origin's records could keep them from this node for good.
//!
//! So after a page with refused versions, the driver starts one
//! [`refetch`]: it asks the same peer for those records by item id
//! (`POST /federation/v1/records/by-item`, the repair pass's fetch), then
//! every other peer this node pulls from, and tries that again after a sync
//! interval, [`REFETCH_ROUNDS`] times in all. A record counts as recovered
//! once this node holds a verified version at least as new as the refused
//! one claimed. Everything fetched goes through the one apply path
//! ([`super::apply`]), so nothing unverified is ever stored. The outcome is
//! shown in the peer status (`last_refused`, and `last_error` until
//! recovered).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use seednet_protocol::federation::reconcile::item_id_of;
use seednet_protocol::federation::wire::{Refetch, RepairReport};
use seednet_protocol::{NodeId, RecordKey};

use super::apply::Refused;
use super::{repair, store, Inner};

/// Rounds of asking every source; one sync interval between two.
pub const REFETCH_ROUNDS: usize = 2;
/// Peers asked besides the one that sent the refused version, at most.
pub const REFETCH_OTHER_PEERS_MAX: usize = 8;
/// Records fetched again after one page, at most (a page whose every record
/// was refused holds up to `SYNC_BATCH_RECORDS_MAX`; the rest is left to the
/// repair pass).
pub const REFETCH_RECORDS_MAX: usize = 100;

/// The records of `refused` worth asking for again: readable keys, the
/// newest claimed version of each, at most [`REFETCH_RECORDS_MAX`].
fn wanted(refused: &[Refused]) -> BTreeMap<RecordKey, u64> {
    let mut wanted = BTreeMap::new();
    for refused in refused {
        let Some(key) = &refused.key else { continue };
        if wanted.len() == REFETCH_RECORDS_MAX && !wanted.contains_key(key) {
            break;
        }
        let version = refused.version.unwrap_or(1);
        let entry = wanted.entry(key.clone()).or_insert(version);
        *entry = (*entry).max(version);
    }
    wanted
}

/// Drops from `wanted` the records now held at the wanted version or newer.
async fn drop_held(inner: &Inner, wanted: &mut BTreeMap<RecordKey, u64>) -> Vec<RecordKey> {
    let storage = Arc::clone(&inner.storage);
    let asked: Vec<(RecordKey, u64)> = wanted.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let held = tokio::task::spawn_blocking(move || {
        asked
            .into_iter()
            .filter(|(key, version)| {
                storage
                    .current_version(key)
                    .ok()
                    .flatten()
                    .is_some_and(|current| current.version >= *version)
            })
            .map(|(key, _)| key)
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    for key in &held {
        wanted.remove(key);
    }
    held
}

/// Fetches the records of `refused` again: from `from`, then from the
/// other peers this node pulls from; reports each outcome in `from`'s
/// status.
pub(crate) async fn refetch(inner: Arc<Inner>, from: NodeId, refused: Vec<Refused>) {
    let mut wanted = wanted(&refused);
    if wanted.is_empty() {
        return;
    }
    tracing::info!(peer = %from, records = wanted.len(), "fetching refused versions again");
    let mut recovered: Vec<(RecordKey, Option<NodeId>)> = drop_held(&inner, &mut wanted)
        .await
        .into_iter()
        .map(|key| (key, None))
        .collect();
    for round in 0..REFETCH_ROUNDS {
        if wanted.is_empty() {
            break;
        }
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(inner.sync_config.interval_ms)).await;
        }
        for (source, base_url) in sources(&inner, &from) {
            if wanted.is_empty() {
                break;
            }
            let ids: Vec<[u8; 32]> = wanted.keys().map(item_id_of).collect();
            let mut scratch = RepairReport::default();
            if let Err(error) =
                repair::fetch_and_apply(&inner, source, &base_url, &ids, &mut scratch).await
            {
                tracing::debug!(peer = %source, %error, "fetch again failed");
                continue;
            }
            let held = drop_held(&inner, &mut wanted).await;
            if !held.is_empty() {
                tracing::info!(
                    peer = %from,
                    source = %source,
                    records = held.len(),
                    "refused versions recovered"
                );
            }
            recovered.extend(held.into_iter().map(|key| (key, Some(source))));
        }
    }
    for key in wanted.keys() {
        tracing::warn!(peer = %from, record = %key, "refused version still missing; the next repair pass looks again");
        report(&inner, &from, key, Refetch::Missing).await;
    }
    for (key, source) in recovered {
        report(&inner, &from, &key, Refetch::Recovered { from: source }).await;
    }
}

/// `from` first, then up to [`REFETCH_OTHER_PEERS_MAX`] other peers.
fn sources(inner: &Inner, from: &NodeId) -> Vec<(NodeId, String)> {
    let mut sources: Vec<(NodeId, String)> = inner
        .registry
        .pulling_base_url(from)
        .map(|url| (*from, url))
        .into_iter()
        .collect();
    sources.extend(
        inner
            .registry
            .pulling()
            .into_iter()
            .filter(|(id, _)| id != from)
            .take(REFETCH_OTHER_PEERS_MAX),
    );
    sources
}

async fn report(inner: &Inner, from: &NodeId, key: &RecordKey, refetch: Refetch) {
    let Some(stored) = inner.registry.set_refetch(from, key, refetch) else {
        return;
    };
    if let Err(error) = store::write_peer(inner.storage.as_ref(), from, &stored).await {
        tracing::warn!(peer = %from, %error, "cannot store the peer status");
    }
}

#[cfg(test)]
mod tests {
    use seednet_protocol::testing::test_key;
    use seednet_protocol::RecordId;

    use super::*;

    fn refused(n: u8, version: Option<u64>) -> Refused {
        Refused {
            key: Some(RecordKey {
                origin: test_key(n).node_id(),
                id: RecordId::parse("practice").unwrap(),
            }),
            version,
            reason: "bad signature".into(),
        }
    }

    #[test]
    fn the_newest_claimed_version_of_each_readable_record_is_wanted() {
        let unreadable = Refused {
            key: None,
            version: None,
            reason: "not JSON".into(),
        };
        let wanted = wanted(&[
            refused(1, Some(2)),
            refused(1, Some(5)),
            unreadable,
            refused(2, None),
        ]);
        let versions: Vec<u64> = wanted.values().copied().collect();
        assert_eq!(wanted.len(), 2);
        assert!(versions.contains(&5) && versions.contains(&1));
    }

    #[test]
    fn at_most_the_named_number_of_records_is_asked_for() {
        let many: Vec<Refused> = (0..=255u8)
            .flat_map(|n| {
                [Refused {
                    key: Some(RecordKey {
                        origin: test_key(n).node_id(),
                        id: RecordId::parse(&format!("r{n}")).unwrap(),
                    }),
                    version: Some(1),
                    reason: String::new(),
                }]
            })
            .collect();
        assert_eq!(wanted(&many).len(), REFETCH_RECORDS_MAX);
    }
}
