//! Key rotation between real nodes (`docs/PROTOCOL-federation.md` 9.9): A
//! rotates on the running node; B keeps the old key pinned and shows the
//! rotation as pending (it survives B's restart) until B's admin approves;
//! then only the new key speaks for A, records published under the old key
//! stay, and records published under the new key flow.

mod federation_common;

use std::path::Path;

use federation_common::*;
use seednet_node::demo::local::LocalNode;
use seednet_protocol::federation::wire::KeyRotation;
use seednet_protocol::{NodeId, NodeKey, Signed, Timestamp};
use serde_json::{json, Value};

/// Status and error code of `GET /federation/v1/changes` on `node` signed by `key`.
async fn changes_as(node: &LocalNode, key: &NodeKey) -> (u16, Value) {
    let target = format!("{}/federation/v1/changes?since=0&limit=10", node.url());
    let headers = sign(key, "GET", &target, b"");
    send_signed("GET", &target, Vec::new(), &headers).await
}

/// Posts a rotation statement to `node`, the request signed by `key`.
async fn post_rotation(
    node: &LocalNode,
    key: &NodeKey,
    statement: &Signed<KeyRotation>,
) -> (u16, Value) {
    let target = format!("{}/federation/v1/rotations", node.url());
    let body = serde_json::to_vec(&statement.to_wire()).unwrap();
    let headers = sign(key, "POST", &target, &body);
    send_signed("POST", &target, body, &headers).await
}

/// `node`'s peer entry whose id is `id`.
async fn peer_entry(node: &LocalNode, id: &NodeId) -> Option<Value> {
    let list = node.admin("GET", "/api/v1/peers", None).await.unwrap();
    list["peers"]
        .as_array()?
        .iter()
        .find(|p| p["node_id"] == json!(id.to_hex()))
        .cloned()
}

async fn holds(node: &LocalNode, origin: &str, id: &str) -> bool {
    let (status, _) = node
        .call("GET", &format!("/api/v1/records/{origin}/{id}"), None, None)
        .await
        .unwrap();
    status == 200
}

/// `node`'s admin approves the pending rotation of the peer `old_id`.
async fn approve_rotation(node: &LocalNode, old_id: &NodeId) {
    node.admin(
        "POST",
        &format!("/api/v1/peers/{}/rotation/approve", old_id.to_hex()),
        None,
    )
    .await
    .unwrap();
}

fn record_id(published: &Value) -> String {
    published["signed"]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_is_pending_until_approved_then_the_new_key_speaks_for_the_peer() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", SLOW_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", SLOW_INTERVAL_MS).await;
    a.link_with(&b).await.unwrap();
    let old_id = a.node_id();
    let old_hex = old_id.to_hex();
    let old_key = node_key(&a);
    let old_record = record_id(
        &a.publish(content("published before the rotation"))
            .await
            .unwrap(),
    );
    eventually("B holds A's first record", || async {
        holds(&b, &old_hex, &old_record).await.then_some(())
    })
    .await;

    // A statement not signed by the key B pinned for A is refused, whoever
    // signs the request.
    let stranger = NodeKey::from_seed([42; 32]);
    let forged = Signed::sign(
        &stranger,
        KeyRotation {
            old_node_id: stranger.node_id(),
            new_node_id: NodeKey::from_seed([43; 32]).node_id(),
            rotated_at: Timestamp::from_unix_seconds(
                time::OffsetDateTime::now_utc().unix_timestamp(),
            )
            .unwrap(),
            reason: String::new(),
        },
    )
    .unwrap();
    let (status, body) = post_rotation(&b, &old_key, &forged).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "rotation_refused");
    let (status, body) = post_rotation(&b, &stranger, &forged).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "signature_unknown_key");
    assert!(peer_entry(&b, &old_id).await.unwrap()["pending_rotation"].is_null());

    // A rotates on the running node.
    let report = a
        .admin(
            "POST",
            "/api/v1/node/key/rotate",
            Some(json!({ "reason": "scheduled rotation" })),
        )
        .await
        .unwrap();
    assert_eq!(report["old_node_id"], json!(old_hex));
    let new_hex = report["new_node_id"].as_str().unwrap().to_string();
    let new_id: NodeId = new_hex.parse().unwrap();
    assert_eq!(report["peers"][0]["node_id"], json!(b.node_id().to_hex()));
    assert_eq!(report["peers"][0]["delivered"], json!(true), "{report}");
    let new_key = node_key(&a);
    assert_eq!(new_key.node_id(), new_id, "node.key holds the new key");
    let descriptor = a.call("GET", "/api/v1/node", None, None).await.unwrap().1;
    assert_eq!(descriptor["signed"]["node_id"], json!(new_hex));

    // B: pending, nothing else changed.
    let entry = peer_entry(&b, &old_id)
        .await
        .expect("A is still pinned by its old id");
    assert_eq!(entry["state"], "active");
    assert_eq!(entry["pending_rotation"]["new_node_id"], json!(new_hex));
    assert_eq!(entry["pending_rotation"]["reason"], "scheduled rotation");
    assert!(peer_entry(&b, &new_id).await.is_none());
    let (status, body) = changes_as(&b, &new_key).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("signature_unknown_key"))
    );
    assert_eq!(changes_as(&b, &old_key).await.0, 200);

    // A's records under the old id are read-only on A from now on.
    let (status, body) = a
        .call(
            "PUT",
            &format!("/api/v1/records/{old_hex}/{old_record}"),
            Some(&a.setup.editor_token),
            Some(content("an edit after the rotation")),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("retired_origin")),
        "{body}"
    );

    // A's pull of B, signed by the new key, is refused until B approves.
    let b_before = record_id(&b.publish(content("B, before the approval")).await.unwrap());
    let b_hex = b.node_id().to_hex();
    eventually(
        "A's pull of B is refused with the unapproved key",
        || async {
            let error = peer_entry(&a, &b.node_id()).await?["last_error"]
                .as_str()?
                .to_string();
            error.contains("signature_unknown_key").then_some(())
        },
    )
    .await;
    assert!(!holds(&a, &b_hex, &b_before).await);

    // The pending rotation survives B's restart; A's restart keeps the new key.
    let b = LocalNode::start(b.stop().await.unwrap()).await.unwrap();
    let a = LocalNode::start(a.stop().await.unwrap()).await.unwrap();
    let entry = peer_entry(&b, &old_id).await.unwrap();
    assert_eq!(entry["pending_rotation"]["new_node_id"], json!(new_hex));
    let descriptor = a.call("GET", "/api/v1/node", None, None).await.unwrap().1;
    assert_eq!(descriptor["signed"]["node_id"], json!(new_hex));

    // B's admin approves: the entry moves to the new id, keeping its link,
    // cursor and counters, and remembers the old id.
    let approved = b
        .admin(
            "POST",
            &format!("/api/v1/peers/{old_hex}/rotation/approve"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(approved["node_id"], json!(new_hex));
    assert_eq!(approved["state"], "active");
    assert_eq!(approved["former_node_ids"], json!([old_hex]));
    assert!(approved["pending_rotation"].is_null());
    assert_eq!(approved["cursor"], entry["cursor"]);
    assert_eq!(approved["records_received"], entry["records_received"]);
    assert!(peer_entry(&b, &old_id).await.is_none());
    let (status, body) = b
        .call(
            "POST",
            &format!("/api/v1/peers/{old_hex}/rotation/approve"),
            Some(&b.setup.admin_token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "{body}");

    // Only the new key speaks for A now.
    let (status, body) = changes_as(&b, &old_key).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("signature_unknown_key"))
    );
    assert_eq!(changes_as(&b, &new_key).await.0, 200);

    // Sync continues both ways: a record A publishes now has the new
    // origin and reaches B; the old record stays; B's records reach A.
    let published = a
        .publish(content("published after the rotation"))
        .await
        .unwrap();
    assert_eq!(published["signed"]["origin"], json!(new_hex));
    let new_record = record_id(&published);
    eventually("A's new-origin record reaches B", || async {
        holds(&b, &new_hex, &new_record).await.then_some(())
    })
    .await;
    assert!(holds(&b, &old_hex, &old_record).await);
    let b_after = record_id(&b.publish(content("B, after the approval")).await.unwrap());
    eventually("B's records reach A once its new key is pinned", || async {
        (holds(&a, &b_hex, &b_before).await && holds(&a, &b_hex, &b_after).await).then_some(())
    })
    .await;
    let at_b = versions(&b).await;
    assert_eq!(at_b.iter().filter(|v| v.0 == old_hex).count(), 1);
    assert_eq!(at_b.iter().filter(|v| v.0 == new_hex).count(), 1);
}

/// A and B linked, pulling every `interval_ms`; B is down while A rotates,
/// so the statement is not delivered; then B is back. Returns A, B, A's old
/// id and its new id (hex).
async fn rotation_missed_by_b(
    dir: &Path,
    interval_ms: u64,
) -> (LocalNode, LocalNode, NodeId, String) {
    let a = node(dir, "a", "IT", interval_ms).await;
    let b = node(dir, "b", "GR", interval_ms).await;
    a.link_with(&b).await.unwrap();
    let old_id = a.node_id();
    let b_setup = b.stop().await.unwrap();
    let report = a
        .admin("POST", "/api/v1/node/key/rotate", None)
        .await
        .unwrap();
    let new_hex = report["new_node_id"].as_str().unwrap().to_string();
    assert_eq!(report["peers"][0]["delivered"], json!(false), "{report}");
    let b = LocalNode::start(b_setup).await.unwrap();
    (a, b, old_id, new_hex)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_that_missed_the_rotation_gets_it_when_resent() {
    let dir = tempfile::tempdir().unwrap();
    // (A's driver may send it again on its own, see the next test; the
    // manual resend must work either way.)
    let (a, b, old_id, new_hex) = rotation_missed_by_b(dir.path(), SLOW_INTERVAL_MS).await;

    let resent = a
        .admin("POST", "/api/v1/node/key/rotations/resend", None)
        .await
        .unwrap();
    let rotations = resent["rotations"].as_array().unwrap();
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0]["new_node_id"], json!(new_hex));
    assert_eq!(
        rotations[0]["peers"][0]["delivered"],
        json!(true),
        "{resent}"
    );
    let entry = peer_entry(&b, &old_id).await.unwrap();
    assert_eq!(entry["pending_rotation"]["new_node_id"], json!(new_hex));

    // Once approved, a resent statement is refused: B no longer pins the old key.
    approve_rotation(&b, &old_id).await;
    let resent = a
        .admin("POST", "/api/v1/node/key/rotations/resend", None)
        .await
        .unwrap();
    let error = resent["rotations"][0]["peers"][0]["error"]
        .as_str()
        .unwrap();
    assert!(error.contains("signature_unknown_key"), "{error}");
}

/// Without anyone asking: A pulls from B with its new key, B answers 401
/// `signature_unknown_key`, and A's driver sends B the rotation again, so B's
/// admin sees it pending; once approved, records flow again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_that_refuses_the_new_key_is_sent_the_rotation_again() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, old_id, new_hex) = rotation_missed_by_b(dir.path(), FAST_INTERVAL_MS).await;

    eventually(
        "B shows A's rotation pending, with no resend asked for",
        || async {
            let entry = peer_entry(&b, &old_id).await?;
            (entry["pending_rotation"]["new_node_id"] == json!(new_hex)).then_some(())
        },
    )
    .await;

    approve_rotation(&b, &old_id).await;
    let from_b = record_id(&b.publish(content("after the approval")).await.unwrap());
    let b_hex = b.node_id().to_hex();
    eventually("A pulls B's new record with its new key", || async {
        holds(&a, &b_hex, &from_b).await.then_some(())
    })
    .await;
}
