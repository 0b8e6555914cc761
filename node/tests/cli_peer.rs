//! `seednet peer ...` and `seednet block ...` as a real process against two
//! real nodes on loopback: list, revoke, revoke --purge, approve, the
//! blocklist, and clear failures for bad input.

use std::process::Output;
use std::time::Duration;

use seednet_node::demo::local::{init_node, LocalNode};

const BIN: &str = env!("CARGO_BIN_EXE_seednet");

/// Runs `seednet --node URL --token T ARGS` off the async runtime.
async fn seednet(node: &LocalNode, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(BIN);
    command
        .args(["--node", node.url(), "--token", &node.setup.admin_token])
        .args(args)
        .env_remove("SEEDNET_DATA_DIR");
    tokio::task::spawn_blocking(move || command.output().expect("run seednet"))
        .await
        .unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn start(dir: &std::path::Path, name: &str, country: &str) -> LocalNode {
    let setup = init_node(&dir.join(name), name, country, &["en"], 1_000)
        .await
        .unwrap();
    LocalNode::start(setup).await.unwrap()
}

async fn wait_for_record_at(node: &LocalNode, origin: &str) {
    for _ in 0..600 {
        let page = node
            .admin("GET", &format!("/api/v1/records?origin={origin}"), None)
            .await
            .unwrap();
        if !page["records"].as_array().unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the record of {origin} never arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peer_commands_list_revoke_purge_and_approve() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), "a", "IT").await;
    let b = start(dir.path(), "b", "GR").await;
    a.link_with(&b).await.unwrap();
    let content = serde_json::to_value(seednet_protocol::testing::sample_content(
        "el",
        "GR",
        "Συνεταιρισμός",
    ))
    .unwrap();
    b.publish(content).await.unwrap();
    let b_hex = b.node_id().to_hex();
    wait_for_record_at(&a, &b_hex).await;

    let output = seednet(&a, &["peer", "list"]).await;
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(out.contains(&b_hex) && out.contains("active"), "{out}");

    let output = seednet(&a, &["peer", "revoke", &b_hex, "--purge"]).await;
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("revoked"), "{out}");
    assert!(
        out.contains("purged 1 records") && out.contains(&b_hex),
        "{out}"
    );
    let page = a
        .admin("GET", &format!("/api/v1/records?origin={b_hex}"), None)
        .await
        .unwrap();
    assert!(page["records"].as_array().unwrap().is_empty());

    let output = seednet(&a, &["block", "list"]).await;
    assert!(text(&output).0.contains(&b_hex));

    let output = seednet(&a, &["peer", "approve", &b_hex, "--json"]).await;
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    let entry: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(entry["node_id"], b_hex.as_str());
    wait_for_record_at(&a, &b_hex).await;

    // Bad input: a clear message and a non-zero exit.
    let output = seednet(&a, &["peer", "revoke", "not-a-node-id"]).await;
    let (_, err) = text(&output);
    assert!(!output.status.success());
    assert!(err.contains("not a node id"), "{err}");
    let unknown = seednet_protocol::testing::test_key(99).node_id().to_hex();
    let output = seednet(&a, &["peer", "revoke", &unknown, "--purge"]).await;
    let (_, err) = text(&output);
    assert!(!output.status.success());
    assert!(err.contains("no peer"), "{err}");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peer_repair_runs_one_pass_and_prints_its_counts() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), "a", "IT").await;
    let b = start(dir.path(), "b", "GR").await;
    let c = start(dir.path(), "c", "RO").await;
    a.link_with(&b).await.unwrap();
    let content = serde_json::to_value(seednet_protocol::testing::sample_content(
        "el",
        "GR",
        "Επισκευή",
    ))
    .unwrap();
    b.publish(content).await.unwrap();
    let b_hex = b.node_id().to_hex();
    wait_for_record_at(&a, &b_hex).await;

    let output = seednet(&a, &["peer", "repair", &b_hex]).await;
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(out.contains(&format!("repair with {b_hex}")), "{out}");
    assert!(
        out.contains("needed 0") && out.contains("applied 0"),
        "{out}"
    );
    let output = seednet(&a, &["peer", "repair", &b_hex, "--json"]).await;
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(report["rounds"].as_u64().unwrap() >= 1, "{report}");
    // The pass shows in the peer list.
    let (out, _) = text(&seednet(&a, &["peer", "list"]).await);
    assert!(out.contains("last repair"), "{out}");

    // Only an active peer can be repaired with; ids are checked.
    c.admin(
        "POST",
        "/api/v1/peers",
        Some(serde_json::json!({ "url": a.url() })),
    )
    .await
    .unwrap();
    let c_hex = c.node_id().to_hex();
    let output = seednet(&a, &["peer", "repair", &c_hex]).await;
    let (_, err) = text(&output);
    assert!(!output.status.success());
    assert!(err.contains("link_not_active"), "{err}");
    let output = seednet(&a, &["peer", "repair", "not-a-node-id"]).await;
    assert!(!output.status.success());
    assert!(text(&output).1.contains("not a node id"));
    for node in [a, b, c] {
        node.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peer_dismiss_removes_one_request_or_every_pending_one() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), "a", "IT").await;
    let b = start(dir.path(), "b", "GR").await;
    let c = start(dir.path(), "c", "RO").await;
    let d = start(dir.path(), "d", "SI").await;
    for asker in [&b, &c, &d] {
        asker
            .admin(
                "POST",
                "/api/v1/peers",
                Some(serde_json::json!({ "url": a.url() })),
            )
            .await
            .unwrap();
    }
    let (b_hex, c_hex) = (b.node_id().to_hex(), c.node_id().to_hex());
    let output = seednet(&a, &["peer", "list"]).await;
    let (out, _) = text(&output);
    assert_eq!(out.matches("seednet peer dismiss").count(), 3, "{out}");

    let output = seednet(&a, &["peer", "dismiss", &b_hex]).await;
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("dismissed 1 pending"), "{out}");
    let output = seednet(&a, &["peer", "dismiss", &b_hex]).await;
    let (_, err) = text(&output);
    assert!(!output.status.success(), "a dismissed request is gone");
    assert!(err.contains("no peer"), "{err}");

    // An approved peer is not a request: refused, and it stays.
    a.admin("POST", &format!("/api/v1/peers/{c_hex}/approve"), None)
        .await
        .unwrap();
    let output = seednet(&a, &["peer", "dismiss", &c_hex]).await;
    let (_, err) = text(&output);
    assert!(!output.status.success());
    assert!(err.contains("not a pending link request"), "{err}");

    let output = seednet(&a, &["peer", "dismiss", "--all-pending"]).await;
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        out.contains("dismissed 1 pending"),
        "only D was left: {out}"
    );
    let peers = a.admin("GET", "/api/v1/peers", None).await.unwrap();
    let ids: Vec<&str> = peers["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![c_hex.as_str()], "only the approved peer is left");

    let output = seednet(&a, &["peer", "dismiss"]).await;
    assert!(
        !output.status.success(),
        "a node id or --all-pending is needed"
    );
    for node in [a, b, c, d] {
        node.stop().await.unwrap();
    }
}
