//! A malicious peer: it is linked through the real approval flow, then serves
//! a feed with one good record, one whose signed bytes were altered after
//! signing, and one claiming another origin with a signature that is not
//! that origin's, and a second signed version of the good record with the
//! same version number (an equivocation). The real node applies the good
//! record only and counts the equivocation in the peer status.
//!
//! The malicious peer is necessarily a stand-in (a real node never serves
//! tampered bytes); the node under test is real.

mod federation_common;

use axum::routing::get;
use axum::{Json, Router};
use federation_common::fake_peer::{wire_json, FakePeer};
use federation_common::*;
use seednet_protocol::testing::{sample_content, sign_sample};
use seednet_protocol::NodeKey;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tampered_forged_and_equivocating_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", SLOW_INTERVAL_MS).await;

    let seed: [u8; 32] = rand::random();
    let evil = NodeKey::from_seed(seed);
    let third = NodeKey::from_seed(rand::random());
    let good = sign_sample(
        &evil,
        "good",
        1,
        sample_content("en", "IT", "A good record"),
    );
    let original = sign_sample(&evil, "tampered", 1, sample_content("en", "IT", "Original"));
    let mut tampered = wire_json(&original);
    let altered = tampered["signed"]
        .to_string()
        .replace("Original", "Altered!");
    tampered["signed"] = serde_json::from_str(&altered).unwrap();
    let not_theirs = sign_sample(&third, "forged", 1, sample_content("en", "IT", "Forged"));
    let mut forged = wire_json(&not_theirs);
    forged["signature"] = wire_json(&good)["signature"].clone();
    // Same key and version as `good`, different content: an equivocation.
    let twin = sign_sample(
        &evil,
        "good",
        1,
        sample_content("en", "IT", "A twin version"),
    );
    let page = json!({
        "records": [wire_json(&good), tampered, forged, wire_json(&twin)],
        "next_cursor": 4,
        "head_seq": 4,
    });
    let routes = Router::new().route(
        "/federation/v1/changes",
        get(
            move |axum::extract::RawQuery(query): axum::extract::RawQuery| {
                let page = page.clone();
                async move {
                    if query.unwrap_or_default().starts_with("since=0") {
                        Json(page)
                    } else {
                        Json(json!({"records": [], "next_cursor": 4, "head_seq": 4}))
                    }
                }
            },
        ),
    );
    let fake = FakePeer::start(NodeKey::from_seed(seed), "Malicious", routes).await;
    fake.link(&a).await;

    let origin = evil.node_id().to_hex();
    eventually("A applies the good record", || async {
        let (status, _) = a
            .call("GET", &format!("/api/v1/records/{origin}/good"), None, None)
            .await
            .unwrap();
        (status == 200).then_some(())
    })
    .await;
    // Same page, same apply: the other two were refused.
    let (status, _) = a
        .call(
            "GET",
            &format!("/api/v1/records/{origin}/tampered"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let third_origin = third.node_id().to_hex();
    let (status, _) = a
        .call(
            "GET",
            &format!("/api/v1/records/{third_origin}/forged"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let held = versions(&a).await;
    assert_eq!(held.len(), 1, "{held:?}");
    // The first signed version stays; the twin is refused, kept as evidence
    // and counted in the peer's status.
    let record = a
        .admin("GET", &format!("/api/v1/records/{origin}/good"), None)
        .await
        .unwrap();
    assert_eq!(record["signed"]["content"]["title"], "A good record");
    let peer = eventually("the equivocation shows in the peer status", || async {
        let peer = a
            .admin("GET", &format!("/api/v1/peers/{origin}"), None)
            .await
            .unwrap();
        (peer["equivocations"] == json!(1)).then_some(peer)
    })
    .await;
    assert_eq!(peer["records_received"], 1);
    // The two versions that do not verify are counted and said, and stay
    // said after the next successful pull (until a valid version is held).
    assert_eq!(peer["refused_versions"], 2, "{peer}");
    let last_error = peer["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("refused"), "{peer}");
    let metrics = reqwest::get(format!("{}/metrics", a.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "seednet_peer_refused_versions_total{{peer=\"{origin}\"}} 2"
        )),
        "{metrics}"
    );
    a.stop().await.unwrap();
}
