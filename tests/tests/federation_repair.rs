//! Repair by set reconciliation between real nodes over loopback HTTP
//! (`docs/PROTOCOL-federation.md` 9.8): A is restored from a backup and
//! publishes records whose sequence numbers are at or below B's cursor in
//! A's feed, so the feed never serves them to B. B gets them by repair (the
//! admin trigger, the feed-regressed trigger, the periodic one), applies each
//! version once and keeps its cursor. A responder offers only what its feed
//! serves (no blocked origins). Also the 401/403/400/413 answers of the
//! reconcile and fetch-by-item endpoints.

mod federation_common;

use std::path::Path;

use federation_common::*;
use seednet_node::config::{ConfigFile, CONFIG_FILE_NAME};
use seednet_node::demo::local::{init_node, wait_released, LocalNode};
use serde_json::{json, Value};

/// A node whose repair interval is `repair_interval_ms` (None: the default).
async fn node_with_repair(
    dir: &Path,
    name: &str,
    country: &str,
    interval_ms: u64,
    repair_interval_ms: Option<u64>,
) -> LocalNode {
    let setup = init_node(&dir.join(name), name, country, &["en"], interval_ms)
        .await
        .expect("init node");
    if let Some(repair) = repair_interval_ms {
        let path = setup.data_dir.join(CONFIG_FILE_NAME);
        let mut file = ConfigFile::read(&path).expect("config");
        file.federation.repair_interval_ms = Some(repair);
        std::fs::write(&path, file.to_toml()).expect("write config");
    }
    LocalNode::start(setup).await.expect("start node")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Stops `node`, copies its data dir to `backup`, starts it again.
async fn backup(node: LocalNode, backup: &Path) -> LocalNode {
    let setup = node.stop().await.unwrap();
    wait_released(&setup.data_dir).await.unwrap();
    copy_dir(&setup.data_dir, backup);
    LocalNode::start(setup).await.unwrap()
}

/// Stops `node`, replaces its data dir with `backup`, starts it again.
async fn restore(node: LocalNode, backup: &Path) -> LocalNode {
    let setup = node.stop().await.unwrap();
    wait_released(&setup.data_dir).await.unwrap();
    std::fs::remove_dir_all(&setup.data_dir).unwrap();
    copy_dir(backup, &setup.data_dir);
    LocalNode::start(setup).await.unwrap()
}

/// `peer`'s line in `node`'s peer list.
async fn peer_entry(node: &LocalNode, peer: &LocalNode) -> Value {
    let list = node.admin("GET", "/api/v1/peers", None).await.unwrap();
    list["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["node_id"] == json!(peer.node_id().to_hex()))
        .cloned()
        .expect("peer in the list")
}

/// `POST /api/v1/peers/{peer}/repair` on `node`: the pass's report.
async fn repair(node: &LocalNode, peer: &LocalNode) -> Value {
    node.admin(
        "POST",
        &format!("/api/v1/peers/{}/repair", peer.node_id()),
        None,
    )
    .await
    .unwrap()
}

/// `node`'s `/metrics` text.
async fn metrics(node: &LocalNode) -> String {
    reqwest::get(format!("{}/metrics", node.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn publish_ids(node: &LocalNode, titles: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for title in titles {
        let published = node.publish(content(title)).await.unwrap();
        ids.push(published["signed"]["id"].as_str().unwrap().to_string());
    }
    ids
}

async fn holds_all(node: &LocalNode, ids: &[String]) -> bool {
    let held = versions(node).await;
    ids.iter().all(|id| held.iter().any(|v| &v.1 == id))
}

/// A publishes two records, B syncs them; backup of A; A publishes two more,
/// B syncs (B's cursor in A's feed is 4); A restored from the backup (head
/// 2). Returns the nodes and the four ids B holds.
async fn restored_origin(
    dir: &Path,
    b_interval_ms: u64,
    b_repair_ms: Option<u64>,
) -> (LocalNode, LocalNode, Vec<String>) {
    let a = node_with_repair(dir, "a", "IT", SLOW_INTERVAL_MS, None).await;
    let b = node_with_repair(dir, "b", "GR", b_interval_ms, b_repair_ms).await;
    a.link_with(&b).await.unwrap();
    let mut ids = publish_ids(&a, &["one", "two"]).await;
    eventually("B holds A's first two records", || async {
        holds_all(&b, &ids).await.then_some(())
    })
    .await;
    let a = backup(a, &dir.join("a-backup")).await;
    ids.extend(publish_ids(&a, &["three", "four"]).await);
    eventually("B holds A's four records, cursor 4", || async {
        (holds_all(&b, &ids).await && peer_entry(&b, &a).await["cursor"] == json!(4)).then_some(())
    })
    .await;
    let a = restore(a, &dir.join("a-backup")).await;
    (a, b, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_repair_brings_records_the_cursor_missed_after_a_restore() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, before) = restored_origin(dir.path(), SLOW_INTERVAL_MS, None).await;
    // Sequence numbers 3 and 4 again: B's cursor (4) is past them.
    let missed = publish_ids(&a, &["five", "six"]).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(
        !holds_all(&b, &missed[..1]).await,
        "the feed served what it should not"
    );

    let report = repair(&b, &a).await;
    assert_eq!(report["error"], Value::Null, "{report}");
    assert_eq!(report["needed"], 2, "{report}");
    assert_eq!(report["fetched"], 2, "{report}");
    assert_eq!(report["applied"], 2, "{report}");
    // A lost "three" and "four" with the restore: B has them, A does not.
    assert_eq!(report["have"], 2, "{report}");
    assert!(report["rounds"].as_u64().unwrap() >= 1);
    assert!(report["bytes_sent"].as_u64().unwrap() > 0);
    assert!(report["bytes_received"].as_u64().unwrap() > 0);

    let held = versions(&b).await;
    assert_eq!(held.len(), 6, "{held:?}");
    for id in before.iter().chain(&missed) {
        assert_eq!(held.iter().filter(|v| &v.1 == id).count(), 1);
    }
    let entry = peer_entry(&b, &a).await;
    assert_eq!(entry["cursor"], 4, "the cursor is kept: {entry}");
    assert_eq!(entry["records_received"], 6, "each version applied once");
    assert_eq!(entry["last_repair"]["applied"], 2);
    assert!(entry["last_repair"]["finished_at"].is_string());
    // The same, for a monitoring system scraping B.
    let scraped = metrics(&b).await;
    let a_label = format!("{{peer=\"{}\"}}", a.node_id());
    for expected in [
        "seednet_peers{state=\"active\"} 1".to_string(),
        format!("seednet_peer_last_repair_recovered{a_label} 2"),
        format!("seednet_peer_last_repair_failed{a_label} 0"),
        format!("seednet_peer_records_received_total{a_label} 6"),
        format!("seednet_peer_sync_failing{a_label} 0"),
    ] {
        assert!(scraped.contains(&expected), "no {expected} in\n{scraped}");
    }
    assert!(scraped.contains(&format!(
        "seednet_peer_last_repair_timestamp_seconds{a_label} "
    )));

    // A second pass finds nothing to fetch and applies nothing.
    let again = repair(&b, &a).await;
    assert_eq!(
        (again["needed"].as_u64(), again["applied"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(peer_entry(&b, &a).await["records_received"], 6);
    assert!(metrics(&b)
        .await
        .contains(&format!("seednet_peer_last_repair_recovered{a_label} 0")));

    // A repairs from B the other way: it gets nothing of its own back (a
    // node is the only source of its own records), and no error.
    let from_a = repair(&a, &b).await;
    assert_eq!(from_a["error"], Value::Null, "{from_a}");
    assert_eq!(from_a["applied"], 0);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_feed_behind_the_cursor_triggers_repair_and_again_once_it_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, before) = restored_origin(dir.path(), FAST_INTERVAL_MS, None).await;
    // B's next pull sees A's head (2) below its cursor (4): it keeps the
    // cursor and repairs (nothing to fetch yet).
    eventually(
        "B repairs after seeing A's feed behind its cursor",
        || async {
            let entry = peer_entry(&b, &a).await;
            entry["last_repair"]["finished_at"]
                .is_string()
                .then_some(())
        },
    )
    .await;
    assert_eq!(peer_entry(&b, &a).await["cursor"], 4);
    // Sequence numbers 3, 4, 5: only the last one passes B's cursor; the
    // repair it triggers brings the other two.
    let new = publish_ids(&a, &["five", "six", "seven"]).await;
    eventually("B holds every record A ever published", || async {
        (holds_all(&b, &new).await && holds_all(&b, &before).await).then_some(())
    })
    .await;
    let entry = peer_entry(&b, &a).await;
    assert_eq!(entry["cursor"], 5, "{entry}");
    assert_eq!(entry["records_received"], 7, "{entry}");
    assert_eq!(versions(&b).await.len(), 7);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_periodic_repair_finds_what_no_feed_shows() {
    let dir = tempfile::tempdir().unwrap();
    // Pulls only on notify; a repair every 1 to 2 s.
    let (a, b, _) = restored_origin(dir.path(), SLOW_INTERVAL_MS, Some(1_000)).await;
    let missed = publish_ids(&a, &["five", "six"]).await;
    eventually("the periodic repair brings the missed records", || async {
        holds_all(&b, &missed).await.then_some(())
    })
    .await;
    assert_eq!(peer_entry(&b, &a).await["cursor"], 4);
    assert_eq!(versions(&b).await.len(), 6);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconcile_and_fetch_by_item_refuse_strangers_and_bad_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", SLOW_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", SLOW_INTERVAL_MS).await;
    let c = node(dir.path(), "c", "RO", SLOW_INTERVAL_MS).await;
    a.link_with(&b).await.unwrap();
    a.publish(content("a record")).await.unwrap();
    let reconcile = format!("{}/federation/v1/reconcile", a.url());
    let by_item = format!("{}/federation/v1/records/by-item", a.url());
    // The empty set's fingerprint over the whole key space.
    let mut empty = vec![0x01, 0xff, 0x01];
    empty.extend(hex::decode("2c34ce1df23b838c5abf2a7f6437cca3").unwrap());

    // Unsigned.
    let response = reqwest::Client::new()
        .post(&reconcile)
        .header("content-type", "application/octet-stream")
        .body(empty.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // Signed by a node whose link A's admin did not approve.
    c.admin("POST", "/api/v1/peers", Some(json!({ "url": a.url() })))
        .await
        .unwrap();
    let c_key = node_key(&c);
    for (target, body) in [
        (&reconcile, empty.clone()),
        (&by_item, br#"{"item_ids":[]}"#.to_vec()),
    ] {
        let headers = sign(&c_key, "POST", target, &body);
        let (status, answer) = send_signed("POST", target, body, &headers).await;
        assert_eq!(status, 403, "{target}: {answer}");
        assert_eq!(answer["error"]["code"], "link_pending");
    }

    // An active peer: a good message gets the responder's item list.
    let b_key = node_key(&b);
    let headers = sign(&b_key, "POST", &reconcile, &empty);
    let response = signed_raw(&reconcile, empty.clone(), &headers).await;
    assert_eq!(response.0, 200);
    assert_eq!(
        &response.1[..4],
        &[0x01, 0xff, 0x02, 0x01],
        "one item listed"
    );
    let item_id = hex::encode(&response.1[4..36]);
    let body = serde_json::to_vec(&json!({ "item_ids": [item_id] })).unwrap();
    let headers = sign(&b_key, "POST", &by_item, &body);
    let (status, answer) = send_signed("POST", &by_item, body, &headers).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["records"].as_array().unwrap().len(), 1);

    // Malformed messages, and an item list from the initiator.
    for (body, says) in [
        (vec![0x07], "version"),
        (vec![0x01, 0x05, 0x01], "malformed"),
        (
            [vec![0x01, 0xff, 0x02, 0x01], vec![0u8; 72]].concat(),
            "item list",
        ),
    ] {
        let headers = sign(&b_key, "POST", &reconcile, &body);
        let (status, answer) = send_signed("POST", &reconcile, body, &headers).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["code"], "bad_request");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    // A fetch by item with a bad id, and with too many ids.
    for body in [
        json!({ "item_ids": ["not hex"] }),
        json!({ "item_ids": vec!["00".repeat(32); 501] }),
    ] {
        let body = serde_json::to_vec(&body).unwrap();
        let headers = sign(&b_key, "POST", &by_item, &body);
        let (status, answer) = send_signed("POST", &by_item, body, &headers).await;
        assert_eq!(status, 400, "{answer}");
    }
    // A message over the limit.
    let big = vec![0x01; 256 * 1024 + 1];
    let headers = sign(&b_key, "POST", &reconcile, &big);
    let (status, answer) = send_signed("POST", &reconcile, big, &headers).await;
    assert_eq!(status, 413, "{answer}");
    for node in [a, b, c] {
        node.stop().await.unwrap();
    }
}

/// A signed binary request; status and raw body.
async fn signed_raw(
    target: &str,
    body: Vec<u8>,
    headers: &seednet_protocol::federation::http_signature::SignatureHeaders,
) -> (u16, Vec<u8>) {
    let mut request = reqwest::Client::new()
        .post(target)
        .header("signature-input", &headers.signature_input)
        .header("signature", &headers.signature)
        .header("content-type", "application/octet-stream");
    if let Some(digest) = &headers.content_digest {
        request = request.header("content-digest", digest);
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repair_serves_only_what_the_feed_serves() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", SLOW_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", SLOW_INTERVAL_MS).await;
    let c = node(dir.path(), "c", "SI", SLOW_INTERVAL_MS).await;
    b.link_with(&c).await.unwrap();
    let from_c = publish_ids(&c, &["from C"]).await;
    eventually("B holds C's record", || async {
        holds_all(&b, &from_c).await.then_some(())
    })
    .await;
    // B blocks C (its records stay on B), then links with A.
    b.admin(
        "POST",
        "/api/v1/blocked-origins",
        Some(json!({ "node_id": c.node_id().to_hex() })),
    )
    .await
    .unwrap();
    let from_b = publish_ids(&b, &["from B"]).await;
    a.link_with(&b).await.unwrap();
    eventually("A holds B's record", || async {
        holds_all(&a, &from_b).await.then_some(())
    })
    .await;
    let report = repair(&a, &b).await;
    assert_eq!(report["error"], Value::Null, "{report}");
    assert_eq!(
        report["needed"], 0,
        "B does not offer what it does not serve: {report}"
    );
    assert!(
        !holds_all(&a, &from_c).await,
        "a blocked origin's record was served"
    );
    for node in [a, b, c] {
        node.stop().await.unwrap();
    }
}

/// A restored origin that signs a second, different version 2 of a record B
/// already holds at version 2: no feed shows it to B (B's cursor is past its
/// sequence number), repair does, and B refuses it as an equivocation, keeps
/// it as evidence and says so in the peer list and on `/metrics`, while it
/// keeps serving the version it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repair_finds_an_equivocation_of_a_restored_origin() {
    let dir = tempfile::tempdir().unwrap();
    let a = node_with_repair(dir.path(), "a", "IT", SLOW_INTERVAL_MS, None).await;
    let b = node_with_repair(dir.path(), "b", "GR", SLOW_INTERVAL_MS, None).await;
    a.link_with(&b).await.unwrap();
    let origin = a.node_id().to_hex();
    let id = publish_ids(&a, &["version one"]).await.remove(0);
    let path = format!("/api/v1/records/{origin}/{id}");
    let a = backup(a, &dir.path().join("a-backup")).await;
    a.editor("PUT", &path, Some(content("version two, first")))
        .await
        .unwrap();
    let title_at_b = || async {
        let (status, body) = b.call("GET", &path, None, None).await.unwrap();
        (status == 200).then(|| body["signed"]["content"]["title"].clone())
    };
    eventually("B holds version two", || async {
        (title_at_b().await? == json!("version two, first")).then_some(())
    })
    .await;
    let a = restore(a, &dir.path().join("a-backup")).await;
    a.editor("PUT", &path, Some(content("version two, again")))
        .await
        .unwrap();

    let report = repair(&b, &a).await;
    assert_eq!(report["error"], Value::Null, "{report}");
    assert_eq!(report["needed"], 1, "{report}");
    assert_eq!(report["fetched"], 1, "{report}");
    assert_eq!(
        report["applied"], 0,
        "the second version 2 is refused: {report}"
    );

    assert_eq!(title_at_b().await, Some(json!("version two, first")));
    assert_eq!(peer_entry(&b, &a).await["equivocations"], 1);
    let status = b.admin("GET", "/api/v1/status", None).await.unwrap();
    assert_eq!(status["evidence_records"], 1, "{status}");
    assert!(metrics(&b).await.contains(&format!(
        "seednet_peer_equivocations_total{{peer=\"{origin}\"}} 1"
    )));
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
