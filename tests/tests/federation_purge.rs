//! Revocation keeps what was received, flagged with the origin's link state;
//! `revoke --purge` removes the peer's records from storage and search and
//! keeps them out whoever relays them; a new approval brings them back.
//! Real nodes over loopback HTTP.

mod federation_common;

use federation_common::*;
use seednet_node::demo::local::LocalNode;
use serde_json::{json, Value};

async fn search_total(node: &LocalNode, words: &str) -> u64 {
    let page = node
        .admin("GET", &format!("/api/v1/search?q={words}"), None)
        .await
        .expect("search");
    page["total"].as_u64().expect("total")
}

async fn origin_links(node: &LocalNode) -> Value {
    let page = node
        .admin("GET", "/api/v1/records?limit=200", None)
        .await
        .expect("list records");
    page["origin_links"].clone()
}

fn holds(
    versions: &std::collections::BTreeSet<(String, String, u64, bool)>,
    origin: &LocalNode,
) -> usize {
    let hex = origin.node_id().to_hex();
    versions.iter().filter(|v| v.0 == hex).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_keeps_and_flags_purge_removes_and_approval_restores() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", FAST_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", FAST_INTERVAL_MS).await;
    let c = node(dir.path(), "c", "SI", FAST_INTERVAL_MS).await;
    a.link_with(&b).await.unwrap();
    b.link_with(&c).await.unwrap();
    a.publish(content("Tuscany allotments")).await.unwrap();
    let from_b = b.publish(content("Beekeeping cooperative")).await.unwrap();
    c.publish(content("Choir of the valley")).await.unwrap();
    eventually("A holds B's record and C's (relayed by B)", || async {
        let at_a = versions(&a).await;
        (holds(&at_a, &b) == 1 && holds(&at_a, &c) == 1).then_some(())
    })
    .await;
    eventually("A's search finds B's record", || async {
        (search_total(&a, "beekeeping").await == 1).then_some(())
    })
    .await;
    let (a_hex, b_hex, c_hex) = (
        a.node_id().to_hex(),
        b.node_id().to_hex(),
        c.node_id().to_hex(),
    );
    let links = origin_links(&a).await;
    assert_eq!(links[&a_hex], "local");
    assert_eq!(links[&b_hex], "active");
    assert_eq!(links[&c_hex], "relayed");

    // Revoking alone keeps B's record, searchable, flagged as revoked.
    let revoke = format!("/api/v1/peers/{b_hex}/revoke");
    let entry = a.admin("POST", &revoke, None).await.unwrap();
    assert_eq!(entry["state"], "revoked");
    assert_eq!(origin_links(&a).await[&b_hex], "revoked");
    let record_path = format!(
        "/api/v1/records/{b_hex}/{}",
        from_b["signed"]["id"].as_str().unwrap()
    );
    let response = reqwest::get(format!("{}{record_path}", a.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["seednet-origin-link"], "revoked");
    assert_eq!(search_total(&a, "beekeeping").await, 1);

    // A body that is not the documented one is refused and purges nothing.
    let error = a
        .admin("POST", &revoke, Some(json!({ "purge": "yes" })))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("400"), "{error}");
    assert_eq!(holds(&versions(&a).await, &b), 1);

    // --purge removes B's own records from storage and search; C's, which
    // B relayed, stay.
    let report = a
        .admin("POST", &revoke, Some(json!({ "purge": true })))
        .await
        .unwrap();
    assert_eq!(report["peer"]["state"], "revoked");
    assert_eq!(report["purged"]["records"], 1);
    assert_eq!(report["index_purged"], true, "{report}");
    let at_a = versions(&a).await;
    assert_eq!(holds(&at_a, &b), 0);
    assert_eq!(holds(&at_a, &c), 1);
    assert_eq!(holds(&at_a, &a), 1);
    assert_eq!(search_total(&a, "beekeeping").await, 0);
    assert_eq!(search_total(&a, "choir").await, 1);
    let response = reqwest::get(format!("{}{record_path}", a.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let blocked = a
        .admin("GET", "/api/v1/blocked-origins", None)
        .await
        .unwrap();
    assert_eq!(blocked["blocked_origins"], json!([b_hex]));

    // The purge survives a restart: nothing of B's comes back.
    let setup = a.stop().await.unwrap();
    let a = LocalNode::start(setup).await.unwrap();
    assert_eq!(holds(&versions(&a).await, &b), 0);
    assert_eq!(search_total(&a, "beekeeping").await, 0);

    // A new approval lifts the purge's block and pulls B's records again
    // from the start of B's feed.
    let entry = a
        .admin("POST", &format!("/api/v1/peers/{b_hex}/approve"), None)
        .await
        .unwrap();
    assert_ne!(entry["state"], "revoked", "{entry}");
    eventually("A pulls B's record again", || async {
        (holds(&versions(&a).await, &b) == 1).then_some(())
    })
    .await;
    eventually("A's search finds B's record again", || async {
        (search_total(&a, "beekeeping").await == 1).then_some(())
    })
    .await;
    let blocked = a
        .admin("GET", "/api/v1/blocked-origins", None)
        .await
        .unwrap();
    assert_eq!(blocked["blocked_origins"], json!([]));
    assert_eq!(origin_links(&a).await[&b_hex], "active");
    for node in [a, b, c] {
        node.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_block_outlives_a_purge_and_a_new_approval() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", FAST_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", FAST_INTERVAL_MS).await;
    a.link_with(&b).await.unwrap();
    b.publish(content("Beekeeping cooperative")).await.unwrap();
    eventually("A holds B's record", || async {
        (holds(&versions(&a).await, &b) == 1).then_some(())
    })
    .await;
    let b_hex = b.node_id().to_hex();
    a.admin(
        "POST",
        &format!("/api/v1/peers/{b_hex}/revoke"),
        Some(json!({ "purge": true })),
    )
    .await
    .unwrap();
    // The admin then blocks B on purpose: approving B again must not lift it.
    a.admin(
        "POST",
        "/api/v1/blocked-origins",
        Some(json!({ "node_id": b_hex })),
    )
    .await
    .unwrap();
    a.admin("POST", &format!("/api/v1/peers/{b_hex}/approve"), None)
        .await
        .unwrap();
    let blocked = a
        .admin("GET", "/api/v1/blocked-origins", None)
        .await
        .unwrap();
    assert_eq!(blocked["blocked_origins"], json!([b_hex]));
    b.publish(content("Second beekeeping note")).await.unwrap();
    // A pulls B's whole feed (both records) and refuses every record.
    eventually("A has read B's feed to its head", || async {
        let peers = a.admin("GET", "/api/v1/peers", None).await.ok()?;
        let entry = peers["peers"]
            .as_array()?
            .iter()
            .find(|p| p["node_id"] == json!(b_hex))?
            .clone();
        (entry["state"] == "active" && entry["head_seq"].as_u64()? >= 2 && entry["lag"] == 0)
            .then_some(())
    })
    .await;
    assert_eq!(holds(&versions(&a).await, &b), 0);
    for node in [a, b] {
        node.stop().await.unwrap();
    }
}
