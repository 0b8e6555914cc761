//! Federation between real nodes over loopback HTTP: a full mesh of four
//! converges, notifies deliver a publish within seconds, records relay along
//! a chain, a node that was down catches up with updates and tombstones, and
//! `seednet demo` runs to convergence.

mod federation_common;

use federation_common::*;
use seednet_node::demo::local::LocalNode;
use seednet_node::demo::{self, DemoOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_node_full_mesh_converges_and_notify_delivers_a_publish() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for (name, country) in [("it", "IT"), ("gr", "GR"), ("ro", "RO"), ("si", "SI")] {
        nodes.push(node(dir.path(), name, country, SLOW_INTERVAL_MS).await);
    }
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            a.link_with(b).await.expect("link");
        }
    }
    for a in &nodes {
        for b in &nodes {
            if a.node_id() != b.node_id() {
                assert_eq!(peer_state(a, b).await.as_deref(), Some("active"));
            }
        }
    }
    for (n, node) in nodes.iter().enumerate() {
        for r in 0..3 {
            node.publish(content(&format!("record {r} of node {n}")))
                .await
                .expect("publish");
        }
    }
    let expected = eventually("all four nodes hold the same 12 versions", || async {
        let first = versions(&nodes[0]).await;
        for node in &nodes[1..] {
            if versions(node).await != first {
                return None;
            }
        }
        (first.len() == 12).then_some(first)
    })
    .await;
    for node in &nodes {
        let origins: std::collections::BTreeSet<_> = expected.iter().map(|v| v.0.clone()).collect();
        assert!(origins.contains(&node.node_id().to_hex()));
    }

    // The pull interval is ten minutes: only the notify can bring this.
    let late = nodes[0]
        .publish(content("published after convergence"))
        .await
        .expect("publish");
    let id = late["signed"]["id"].as_str().unwrap().to_string();
    let origin = nodes[0].node_id().to_hex();
    for node in &nodes[1..] {
        eventually("the late record reaches every peer via notify", || async {
            let (status, _) = node
                .call("GET", &format!("/api/v1/records/{origin}/{id}"), None, None)
                .await
                .unwrap();
            (status == 200).then_some(())
        })
        .await;
    }
    // Peer status shows what was received.
    let peers = nodes[1].admin("GET", "/api/v1/peers", None).await.unwrap();
    let from_it = peers["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["node_id"] == serde_json::json!(origin))
        .expect("IT in GR's peer list")
        .clone();
    assert!(from_it["records_received"].as_u64().unwrap() >= 1);
    assert!(from_it["last_sync_at"].is_string());
    for node in nodes {
        node.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chain_relays_records_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", SLOW_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", SLOW_INTERVAL_MS).await;
    let c = node(dir.path(), "c", "SI", SLOW_INTERVAL_MS).await;
    a.link_with(&b).await.unwrap();
    b.link_with(&c).await.unwrap();
    a.publish(content("from A")).await.unwrap();
    c.publish(content("from C")).await.unwrap();
    let a_origin = a.node_id().to_hex();
    let c_origin = c.node_id().to_hex();
    eventually("C holds A's record through B, and A holds C's", || async {
        let at_c = versions(&c).await;
        let at_a = versions(&a).await;
        (at_c.iter().any(|v| v.0 == a_origin) && at_a.iter().any(|v| v.0 == c_origin)).then_some(())
    })
    .await;
    // A and C are not peers.
    assert_eq!(peer_state(&a, &c).await, None);
    for node in [a, b, c] {
        node.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_was_down_catches_up_with_updates_and_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", SLOW_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", SLOW_INTERVAL_MS).await;
    a.link_with(&b).await.unwrap();
    let first = a.publish(content("before the outage")).await.unwrap();
    let first_id = first["signed"]["id"].as_str().unwrap().to_string();
    let origin = a.node_id().to_hex();
    eventually("B holds the first record", || async {
        versions(&b)
            .await
            .iter()
            .any(|v| v.1 == first_id)
            .then_some(())
    })
    .await;

    let b_setup = b.stop().await.unwrap();
    // While B is down: a new record, an update and a deletion.
    let kept = a
        .publish(content("published while B was down"))
        .await
        .unwrap();
    let kept_id = kept["signed"]["id"].as_str().unwrap().to_string();
    a.editor(
        "PUT",
        &format!("/api/v1/records/{origin}/{kept_id}"),
        Some(content("updated while B was down")),
    )
    .await
    .unwrap();
    a.editor(
        "DELETE",
        &format!("/api/v1/records/{origin}/{first_id}"),
        None,
    )
    .await
    .unwrap();

    let b = LocalNode::start(b_setup).await.unwrap();
    let expected = versions(&a).await;
    assert!(expected.contains(&(origin.clone(), kept_id.clone(), 2, false)));
    assert!(expected.contains(&(origin.clone(), first_id.clone(), 2, true)));
    eventually("B catches up: the update and the tombstone", || async {
        (versions(&b).await == expected).then_some(())
    })
    .await;
    let (status, _) = b
        .call(
            "GET",
            &format!("/api/v1/records/{origin}/{first_id}"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 410, "the deleted record is gone on B too");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_runs_four_nodes_to_convergence_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let report = demo::run(
        DemoOptions {
            data_dir: Some(dir.path().to_path_buf()),
            exit_after_converge: true,
            quiet: true,
            ports: demo::PortChoice::Random,
            sample_limit: Some(2),
            ..DemoOptions::default()
        },
        std::future::pending(),
    )
    .await
    .expect("demo converges");
    assert_eq!(report.nodes, 4);
    // Two per sample file: the four centres' own and those of the four
    // centres they host.
    assert_eq!(report.records_per_node, 16);
    assert!(report.data_kept);
}
