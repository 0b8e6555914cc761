//! A crowd of link requests from unknown nodes (issue #17.1): each request
//! signed by a fresh key, as an attacker who mints keys for free would send
//! them, from several client addresses (forwarded by a proxy on loopback,
//! as behind `deploy/nginx-seednet.conf`). The node under test limits them
//! per address and for the node (429 with `Retry-After`), keeps them in their
//! own small cap apart from linked peers, lets a real centre's link through
//! when its admin acts, lets the admin dismiss the crowd, and changes no
//! stored record on the way.

mod federation_common;

use federation_common::*;
use seednet_node::demo::local::LocalNode;
use seednet_node::federation::admission::{
    LINK_REQUESTS_GLOBAL, LINK_REQUESTS_PER_ADDRESS, PENDING_LINK_REQUESTS_MAX,
};
use seednet_protocol::federation::wire::{EmbeddedSigned, LinkRequest};
use seednet_protocol::{CountryCode, LanguageTag, NodeDescriptor, NodeKey, Signed, Timestamp};
use serde_json::{json, Value};

/// A link request to `target` from a key nobody knows, as a client at
/// `client` behind the node's loopback proxy. Returns status, the
/// `Retry-After` header and the JSON body.
async fn stranger_asks(target: &LocalNode, n: usize, client: &str) -> (u16, Option<u64>, Value) {
    let key = NodeKey::from_seed(rand::random());
    let now =
        Timestamp::from_unix_seconds(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let descriptor = Signed::sign(
        &key,
        NodeDescriptor {
            node_id: key.node_id(),
            name: format!("Totally real centre {n}"),
            country: CountryCode::parse("IT").unwrap(),
            base_url: format!("https://centre-{n}.example.org"),
            languages: vec![LanguageTag::parse("en").unwrap()],
            version: 1,
            software: "crowd/1".into(),
            signed_at: now,
        },
    )
    .unwrap();
    let request = Signed::sign(
        &key,
        LinkRequest {
            from: key.node_id(),
            to: target.node_id(),
            descriptor: EmbeddedSigned::from_signed(&descriptor),
            requested_at: now,
            note: "please link".into(),
        },
    )
    .unwrap();
    let body = serde_json::to_vec(&request.to_wire()).unwrap();
    let url = format!("{}/federation/v1/links", target.url());
    let headers = sign(&key, "POST", &url, &body);
    let response = reqwest::Client::new()
        .post(&url)
        .header("signature-input", &headers.signature_input)
        .header("signature", &headers.signature)
        .header("content-digest", headers.content_digest.as_deref().unwrap())
        .header("content-type", "application/json")
        .header("x-forwarded-for", client)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

fn pending(peers: &Value) -> Vec<&Value> {
    peers["peers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "pending")
        .collect()
}

const LINK_REQUESTS_PER_ADDRESS_MAX: usize = LINK_REQUESTS_PER_ADDRESS.max;
const LINK_REQUESTS_PER_NODE_MAX: usize = LINK_REQUESTS_GLOBAL.max;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crowd_of_link_requests_is_limited_and_dismissed_and_a_real_centre_still_links() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "a", "IT", FAST_INTERVAL_MS).await;
    let b = node(dir.path(), "b", "GR", FAST_INTERVAL_MS).await;
    a.publish(content("Before the crowd")).await.unwrap();
    let stored_before = versions(&a).await;

    // One address: the per-address limit, then 429 with a Retry-After.
    let first = "198.51.100.1";
    for n in 0..LINK_REQUESTS_PER_ADDRESS_MAX {
        let (status, _, body) = stranger_asks(&a, n, first).await;
        assert_eq!(status, 202, "request {n}: {body}");
    }
    let (status, retry_after, body) = stranger_asks(&a, 99, first).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "link_requests_limited", "{body}");
    assert!(retry_after.is_some_and(|s| s > 0), "Retry-After is given");

    // Many addresses: the limit for the whole node.
    let mut accepted = LINK_REQUESTS_PER_ADDRESS_MAX;
    let mut address = 2;
    while accepted < LINK_REQUESTS_PER_NODE_MAX {
        let client = format!("198.51.100.{address}");
        for _ in 0..LINK_REQUESTS_PER_ADDRESS_MAX {
            if accepted == LINK_REQUESTS_PER_NODE_MAX {
                break;
            }
            let (status, _, body) = stranger_asks(&a, accepted, &client).await;
            assert_eq!(status, 202, "request {accepted}: {body}");
            accepted += 1;
        }
        address += 1;
    }
    let (status, retry_after, body) = stranger_asks(&a, 100, "203.0.113.50").await;
    assert_eq!(status, 429, "a fresh address is refused too: {body}");
    assert_eq!(body["error"]["code"], "link_requests_limited");
    assert!(retry_after.is_some());

    let peers = a.admin("GET", "/api/v1/peers", None).await.unwrap();
    let waiting = pending(&peers);
    assert_eq!(waiting.len(), LINK_REQUESTS_PER_NODE_MAX);
    assert!(waiting.len() <= PENDING_LINK_REQUESTS_MAX);
    assert!(waiting.iter().all(|p| p["requested_at"].is_string()));
    assert_eq!(
        versions(&a).await,
        stored_before,
        "no stored record changed"
    );

    // A real centre asks during the crowd: B's request is limited too (A
    // cannot tell it from the crowd), but B's `peer add` succeeds and says
    // why the request is not delivered yet, instead of failing.
    let entry = b
        .admin("POST", "/api/v1/peers", Some(json!({ "url": a.url() })))
        .await
        .expect("B's admin adds A");
    assert_eq!(entry["state"], "requested");
    let last_error = entry["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("not delivered yet"), "{entry}");

    // A's admin, told B's URL, adds B: an admin's own link is never crowded
    // out by pending requests, and B (which asked first) becomes active.
    a.admin("POST", "/api/v1/peers", Some(json!({ "url": b.url() })))
        .await
        .expect("A's admin adds B during the crowd");
    eventually("A and B are linked", || async {
        (peer_state(&a, &b).await.as_deref() == Some("active")
            && peer_state(&b, &a).await.as_deref() == Some("active"))
        .then_some(())
    })
    .await;

    // One request dismissed by id, then the rest at once.
    let one = waiting[0]["node_id"].as_str().unwrap().to_string();
    a.admin("POST", &format!("/api/v1/peers/{one}/dismiss"), None)
        .await
        .unwrap();
    let (status, body) = a
        .call(
            "POST",
            &format!("/api/v1/peers/{one}/dismiss"),
            Some(&a.setup.admin_token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "a dismissed request is gone: {body}");
    let b_id = b.node_id().to_hex();
    let (status, body) = a
        .call(
            "POST",
            &format!("/api/v1/peers/{b_id}/dismiss"),
            Some(&a.setup.admin_token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "a linked peer is not a request: {body}");
    assert_eq!(body["error"]["code"], "not_pending");
    let dismissed = a
        .admin("POST", "/api/v1/peers/pending/dismiss", None)
        .await
        .unwrap();
    assert_eq!(dismissed["dismissed"], LINK_REQUESTS_PER_NODE_MAX - 1);

    // The link works, and the dismissed requests stay gone after a restart.
    b.publish(content("After the crowd")).await.unwrap();
    let b_origin = b.node_id().to_hex();
    eventually("A receives B's record", || async {
        let page = a
            .admin("GET", &format!("/api/v1/records?origin={b_origin}"), None)
            .await
            .ok()?;
        (!page["records"].as_array()?.is_empty()).then_some(())
    })
    .await;
    let a = LocalNode::start(a.stop().await.unwrap()).await.unwrap();
    let peers = a.admin("GET", "/api/v1/peers", None).await.unwrap();
    assert!(pending(&peers).is_empty(), "{peers}");
    assert_eq!(
        peers["peers"].as_array().unwrap().len(),
        1,
        "only B: {peers}"
    );
    let own_after: Vec<_> = versions(&a)
        .await
        .into_iter()
        .filter(|(origin, ..)| *origin != b_origin)
        .collect();
    assert_eq!(
        own_after,
        stored_before.into_iter().collect::<Vec<_>>(),
        "records are as before"
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
