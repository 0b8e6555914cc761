//! The relay policy on real nodes: with `relay = "direct-only"` a node
//! accepts from a peer only the records that peer originated.

mod federation_common;

use federation_common::*;
use seednet_node::demo::local::LocalNode;
use serde_json::json;

/// Rewrites a stopped node's config to relay direct records only.
fn set_direct_only(data_dir: &std::path::Path) {
    let path = data_dir.join(seednet_node::config::CONFIG_FILE_NAME);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[federation]"), "{text}");
    let text = text.replacen("[federation]", "[federation]\nrelay = \"direct-only\"", 1);
    std::fs::write(&path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_direct_only_node_refuses_what_its_peer_relays() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", FAST_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", FAST_INTERVAL_MS).await;
    let c = node(dir.path(), "c", "SI", FAST_INTERVAL_MS).await;
    let setup = c.stop().await.unwrap();
    set_direct_only(&setup.data_dir);
    let c = LocalNode::start(setup).await.unwrap();
    a.link_with(&b).await.unwrap();
    b.link_with(&c).await.unwrap();
    a.publish(content("From Italy through Greece"))
        .await
        .unwrap();
    let a_hex = a.node_id().to_hex();
    eventually("B holds A's record", || async {
        versions(&b)
            .await
            .iter()
            .any(|v| v.0 == a_hex)
            .then_some(())
    })
    .await;
    b.publish(content("From Greece itself")).await.unwrap();
    let b_hex = b.node_id().to_hex();
    // C reads B's whole feed (A's record, then B's) and keeps only B's.
    eventually("C has read B's feed to its head", || async {
        let peers = c.admin("GET", "/api/v1/peers", None).await.ok()?;
        let entry = peers["peers"]
            .as_array()?
            .iter()
            .find(|p| p["node_id"] == json!(b_hex))?
            .clone();
        (entry["head_seq"].as_u64()? >= 2 && entry["lag"] == 0).then_some(())
    })
    .await;
    let at_c = versions(&c).await;
    assert!(at_c.iter().any(|v| v.0 == b_hex), "C lacks B's own record");
    assert!(
        !at_c.iter().any(|v| v.0 == a_hex),
        "a direct-only node accepted a relayed record"
    );
    for node in [a, b, c] {
        node.stop().await.unwrap();
    }
}
