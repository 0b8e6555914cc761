//! Who may talk to whom: every federation request is signed and checked
//! against the link table. Real nodes over loopback HTTP; the attacker's
//! requests are signed with real node keys read from their data dirs.

mod federation_common;

use federation_common::*;
use seednet_protocol::NodeKey;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoked_peer_gets_403_and_nothing_flows_either_way() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", FAST_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", FAST_INTERVAL_MS).await;
    a.link_with(&b).await.unwrap();
    a.publish(content("before the revocation")).await.unwrap();
    eventually("B holds A's first record", || async {
        (versions(&b).await.len() == 1).then_some(())
    })
    .await;

    let revoked = a
        .admin(
            "POST",
            &format!("/api/v1/peers/{}/revoke", b.node_id()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(revoked["state"], "revoked");
    a.publish(content("after the revocation, on A"))
        .await
        .unwrap();
    b.publish(content("after the revocation, on B"))
        .await
        .unwrap();

    // B's own pulls (every second) are refused with link_revoked, and B
    // records that the peer revoked the link.
    eventually("B learns that A revoked the link", || async {
        (peer_state(&b, &a).await.as_deref() == Some("revoked")).then_some(())
    })
    .await;
    // A request signed by B is refused with 403 and a JSON error.
    let key = node_key(&b);
    let target = format!("{}/federation/v1/changes?since=0&limit=10", a.url());
    let headers = sign(&key, "GET", &target, b"");
    let (status, body) = send_signed("GET", &target, Vec::new(), &headers).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "link_revoked");

    // Nothing flowed after the revocation, in either direction.
    let at_b = versions(&b).await;
    let at_a = versions(&a).await;
    assert_eq!(
        at_b.iter().filter(|v| v.0 == a.node_id().to_hex()).count(),
        1
    );
    assert_eq!(
        at_a.iter().filter(|v| v.0 == b.node_id().to_hex()).count(),
        0
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unapproved_and_unknown_nodes_get_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", FAST_INTERVAL_MS).await;
    let c = node(dir.path(), "c", "RO", FAST_INTERVAL_MS).await;
    a.publish(content("only for approved peers")).await.unwrap();
    // C asks for a link; A's admin does not approve.
    c.admin(
        "POST",
        "/api/v1/peers",
        Some(serde_json::json!({ "url": a.url() })),
    )
    .await
    .unwrap();
    assert_eq!(peer_state(&a, &c).await.as_deref(), Some("pending"));
    assert_eq!(peer_state(&c, &a).await.as_deref(), Some("requested"));

    let target = format!("{}/federation/v1/changes?since=0&limit=10", a.url());
    let headers = sign(&node_key(&c), "GET", &target, b"");
    let (status, body) = send_signed("GET", &target, Vec::new(), &headers).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "link_pending");
    assert!(body.get("records").is_none());

    // A key A has never seen.
    let stranger = NodeKey::from_seed(rand::random());
    let headers = sign(&stranger, "GET", &target, b"");
    let (status, body) = send_signed("GET", &target, Vec::new(), &headers).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "signature_unknown_key");

    // No signature at all.
    let response = reqwest::get(&target).await.unwrap();
    assert_eq!(response.status().as_u16(), 401);

    // C holds nothing of A's.
    assert!(versions(&c).await.is_empty());
    a.stop().await.unwrap();
    c.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replayed_signed_request_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", SLOW_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", SLOW_INTERVAL_MS).await;
    a.link_with(&b).await.unwrap();
    a.publish(content("a record")).await.unwrap();
    let target = format!("{}/federation/v1/changes?since=0&limit=10", a.url());
    let headers = sign(&node_key(&b), "GET", &target, b"");
    let (status, page) = send_signed("GET", &target, Vec::new(), &headers).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    let (status, body) = send_signed("GET", &target, Vec::new(), &headers).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "signature_replayed");

    // The nonce survives a restart of the receiving node.
    let setup = a.stop().await.unwrap();
    let a = seednet_node::demo::local::LocalNode::start(setup)
        .await
        .unwrap();
    let (status, body) = send_signed("GET", &target, Vec::new(), &headers).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "signature_replayed");

    // A signature for another node's URL does not verify here.
    let elsewhere = format!("{}/federation/v1/changes?since=0&limit=10", b.url());
    let headers = sign(&node_key(&b), "GET", &elsewhere, b"");
    let (status, body) = send_signed("GET", &target, Vec::new(), &headers).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "signature_invalid");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blocked_origin_is_refused_whoever_relays_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", SLOW_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", SLOW_INTERVAL_MS).await;
    let c = node(dir.path(), "c", "SI", SLOW_INTERVAL_MS).await;
    c.admin(
        "POST",
        "/api/v1/blocked-origins",
        Some(serde_json::json!({ "node_id": a.node_id().to_hex() })),
    )
    .await
    .unwrap();
    let blocked = c
        .admin("GET", "/api/v1/blocked-origins", None)
        .await
        .unwrap();
    assert_eq!(blocked["blocked_origins"][0], a.node_id().to_hex());
    a.link_with(&b).await.unwrap();
    b.link_with(&c).await.unwrap();
    a.publish(content("from the blocked origin")).await.unwrap();
    let a_origin = a.node_id().to_hex();
    eventually("B holds A's record", || async {
        versions(&b)
            .await
            .iter()
            .any(|v| v.0 == a_origin)
            .then_some(())
    })
    .await;
    // B's log now holds A's record before B's own: C reads both in order.
    b.publish(content("from the relay")).await.unwrap();
    let b_origin = b.node_id().to_hex();
    eventually("C holds B's record", || async {
        versions(&c)
            .await
            .iter()
            .any(|v| v.0 == b_origin)
            .then_some(())
    })
    .await;
    assert!(
        !versions(&c).await.iter().any(|v| v.0 == a_origin),
        "the blocked origin's record reached C"
    );
    for node in [a, b, c] {
        node.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peer_urls_are_checked_and_loopback_is_refused_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let other = node(dir.path(), "other", "GR", SLOW_INTERVAL_MS).await;
    // A node with the default federation settings (no loopback peers).
    let setup = seednet_node::demo::local::init_node(
        &dir.path().join("strict"),
        "strict",
        "IT",
        &["en"],
        SLOW_INTERVAL_MS,
    )
    .await
    .unwrap();
    let config_path = setup.data_dir.join("seednet.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        text.replace("allow_loopback_peers = true\n", ""),
    )
    .unwrap();
    let strict = seednet_node::demo::local::LocalNode::start(setup)
        .await
        .unwrap();
    let token = strict.setup.admin_token.clone();
    for (url, code) in [
        (other.url().to_string(), "peer_url_refused"),
        ("ftp://example.org".to_string(), "peer_url_refused"),
        ("http://user:pw@example.org".to_string(), "peer_url_refused"),
    ] {
        let (status, body) = strict
            .call(
                "POST",
                "/api/v1/peers",
                Some(&token),
                Some(serde_json::json!({ "url": url })),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["error"]["code"], code, "{url}");
        assert_eq!(body["error"]["field"], "url");
    }
    // Only admins manage peers.
    let editor = strict.setup.editor_token.clone();
    let (status, body) = strict
        .call("GET", "/api/v1/peers", Some(&editor), None)
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    let (status, _) = strict
        .call(
            "POST",
            &format!("/api/v1/peers/{}/approve", other.node_id()),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    strict.stop().await.unwrap();
    other.stop().await.unwrap();
}
