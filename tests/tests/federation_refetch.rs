//! A refused version is fetched again (issue #17.3): a feed page moves the
//! cursor past a version that does not verify, so without a fetch again the
//! genuine version would stay missing until a repair pass (an hour or more
//! later). Here the repair pass is far away, the feed never serves the
//! record again, and the genuine version must still arrive within seconds:
//! from the same peer when it now answers well, from another peer when it
//! keeps corrupting it.

mod federation_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Json, Router};
use federation_common::fake_peer::{wire_json, FakePeer};
use federation_common::*;
use seednet_node::demo::local::LocalNode;
use seednet_protocol::testing::{sample_content, sign_sample};
use seednet_protocol::{NodeKey, Record, Signed};
use serde_json::{json, Value};

/// `signed` with one byte of its content changed after signing.
fn corrupted(signed: &Signed<Record>) -> Value {
    let mut wire = wire_json(signed);
    let altered = wire["signed"].to_string().replace("Genuine", "Genuinf");
    wire["signed"] = serde_json::from_str(&altered).unwrap();
    wire
}

/// A feed of one page holding `record`, then nothing new.
fn feed(record: Value) -> Router {
    Router::new().route(
        "/federation/v1/changes",
        get(
            move |axum::extract::RawQuery(query): axum::extract::RawQuery| {
                let record = record.clone();
                async move {
                    if query.unwrap_or_default().starts_with("since=0") {
                        Json(json!({"records": [record], "next_cursor": 1, "head_seq": 1}))
                    } else {
                        Json(json!({"records": [], "next_cursor": 1, "head_seq": 1}))
                    }
                }
            },
        ),
    )
}

/// Answers every fetch by item with `record`, counting the calls.
fn by_item(router: Router, record: Value, calls: Arc<AtomicUsize>) -> Router {
    router.route(
        "/federation/v1/records/by-item",
        post(move || {
            let record = record.clone();
            calls.fetch_add(1, Ordering::SeqCst);
            async move { Json(json!({ "records": [record] })) }
        }),
    )
}

async fn title_at(node: &LocalNode, origin: &str, id: &str) -> Option<String> {
    let (status, body) = node
        .call("GET", &format!("/api/v1/records/{origin}/{id}"), None, None)
        .await
        .ok()?;
    (status == 200).then(|| {
        body["signed"]["content"]["title"]
            .as_str()
            .map(str::to_string)
    })?
}

async fn peer_entry(node: &LocalNode, peer: &str) -> Value {
    node.admin("GET", &format!("/api/v1/peers/{peer}"), None)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_version_corrupted_in_a_feed_page_is_fetched_again_from_the_same_peer() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", FAST_INTERVAL_MS).await;
    let seed: [u8; 32] = rand::random();
    let key = NodeKey::from_seed(seed);
    let genuine = sign_sample(
        &key,
        "practice",
        1,
        sample_content("en", "IT", "Genuine practice"),
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let routes = by_item(
        feed(corrupted(&genuine)),
        wire_json(&genuine),
        Arc::clone(&calls),
    );
    let peer = FakePeer::start(NodeKey::from_seed(seed), "Corrupting relay", routes).await;
    peer.link(&a).await;
    let origin = key.node_id().to_hex();

    let title = eventually("the genuine version arrives", || async {
        title_at(&a, &origin, "practice").await
    })
    .await;
    assert_eq!(title, "Genuine practice");
    assert!(calls.load(Ordering::SeqCst) >= 1, "it was fetched by item");
    let entry = eventually("the peer status says it was recovered", || async {
        let entry = peer_entry(&a, &origin).await;
        (entry["last_refused"]["refetch"]["state"] == "recovered").then_some(entry)
    })
    .await;
    assert_eq!(entry["refused_versions"], 1, "{entry}");
    assert_eq!(entry["last_refused"]["key"]["id"], "practice", "{entry}");
    assert_eq!(entry["last_refused"]["version"], 1, "{entry}");
    assert_eq!(entry["last_refused"]["refetch"]["from"], origin.as_str());
    assert!(
        entry["last_error"].is_null(),
        "recovered: no error left {entry}"
    );
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_that_keeps_corrupting_an_origin_is_bypassed_through_another_peer() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", FAST_INTERVAL_MS).await;
    let origin_key = NodeKey::from_seed(rand::random());
    let genuine = sign_sample(
        &origin_key,
        "practice",
        1,
        sample_content("en", "IT", "Genuine practice"),
    );
    // The bad relay corrupts the origin's record in its feed and in every
    // fetch by item; the good relay's feed is empty (its cursor in A has
    // nothing to bring), but it holds the genuine version.
    let bad_calls = Arc::new(AtomicUsize::new(0));
    let bad_routes = by_item(
        feed(corrupted(&genuine)),
        corrupted(&genuine),
        Arc::clone(&bad_calls),
    );
    let good_calls = Arc::new(AtomicUsize::new(0));
    let empty = Router::new().route(
        "/federation/v1/changes",
        get(|| async { Json(json!({"records": [], "next_cursor": 0, "head_seq": 0})) }),
    );
    let good_routes = by_item(empty, wire_json(&genuine), Arc::clone(&good_calls));
    let good = FakePeer::start(
        NodeKey::from_seed(rand::random()),
        "Good relay",
        good_routes,
    )
    .await;
    good.link(&a).await;
    let bad = FakePeer::start(NodeKey::from_seed(rand::random()), "Bad relay", bad_routes).await;
    bad.link(&a).await;
    let origin = origin_key.node_id().to_hex();

    let title = eventually(
        "the genuine version arrives through the good relay",
        || async { title_at(&a, &origin, "practice").await },
    )
    .await;
    assert_eq!(title, "Genuine practice");
    assert!(
        bad_calls.load(Ordering::SeqCst) >= 1,
        "the sender is asked first"
    );
    assert!(
        good_calls.load(Ordering::SeqCst) >= 1,
        "then the other peer"
    );
    let bad_id = bad.key.node_id().to_hex();
    let good_id = good.key.node_id().to_hex();
    let entry = eventually("the bad relay's status says where it came from", || async {
        let entry = peer_entry(&a, &bad_id).await;
        (entry["last_refused"]["refetch"]["state"] == "recovered").then_some(entry)
    })
    .await;
    assert_eq!(entry["last_refused"]["refetch"]["from"], good_id.as_str());
    assert!(
        entry["refused_versions"].as_u64().unwrap() >= 2,
        "the feed's and the fetch's corrupted copies: {entry}"
    );
    let held = versions(&a).await;
    assert_eq!(held.len(), 1, "only the genuine version: {held:?}");
    a.stop().await.unwrap();
}
