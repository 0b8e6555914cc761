//! Shared helpers of the federation tests: real nodes (own data dir, port,
//! HTTP server) from `seednet_node::demo::local`, linked through the real
//! approval flow, observed only through their HTTP APIs.

#![allow(dead_code)]

pub mod fake_peer;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use seednet_node::config::{Config, Overrides};
use seednet_node::demo::local::{init_node, LocalNode};
use seednet_node::keyfile;
use seednet_protocol::federation::http_signature::{
    sign_request, RequestParts, SignatureHeaders, SignatureParams,
};
use seednet_protocol::NodeKey;
use serde_json::{json, Value};

/// Generous deadline for anything that should happen within seconds.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// Pull interval long enough that only notifies (or a start) trigger pulls
/// during a test.
pub const SLOW_INTERVAL_MS: u64 = 600_000;
/// The shortest pull interval the config accepts.
pub const FAST_INTERVAL_MS: u64 = 1_000;

pub async fn node(dir: &Path, name: &str, country: &str, interval_ms: u64) -> LocalNode {
    let setup = init_node(&dir.join(name), name, country, &["en"], interval_ms)
        .await
        .expect("init node");
    LocalNode::start(setup).await.expect("start node")
}

/// Polls `check` until it returns `Some`, failing the test with `what` after
/// [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn content(title: &str) -> Value {
    serde_json::to_value(seednet_protocol::testing::sample_content("en", "IT", title))
        .expect("content serialises")
}

/// Every current record version a node holds (tombstones included) as
/// (origin, id, version, deleted).
pub async fn versions(node: &LocalNode) -> BTreeSet<(String, String, u64, bool)> {
    let mut set = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/records?limit=200&include_deleted=true&cursor={c}"),
            None => "/api/v1/records?limit=200&include_deleted=true".to_string(),
        };
        let page = node.admin("GET", &path, None).await.expect("list records");
        for record in page["records"].as_array().expect("records") {
            let signed = &record["signed"];
            set.insert((
                signed["origin"].as_str().unwrap_or_default().to_string(),
                signed["id"].as_str().unwrap_or_default().to_string(),
                signed["version"].as_u64().unwrap_or_default(),
                signed["deleted"] == json!(true),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return set,
        }
    }
}

/// The state of `peer` in `node`'s peer list.
pub async fn peer_state(node: &LocalNode, peer: &LocalNode) -> Option<String> {
    let list = node
        .admin("GET", "/api/v1/peers", None)
        .await
        .expect("peers");
    list["peers"]
        .as_array()?
        .iter()
        .find(|p| p["node_id"] == json!(peer.node_id().to_hex()))
        .and_then(|p| p["state"].as_str().map(str::to_string))
}

/// The node key of a node, read from its data dir (to forge its requests).
pub fn node_key(node: &LocalNode) -> NodeKey {
    let config = Config::load(
        &node.setup.data_dir,
        &Default::default(),
        &Overrides::default(),
    )
    .expect("config");
    keyfile::load(&config.key_path()).expect("key")
}

/// Signs a request to `target` (absolute URL) as `key`.
pub fn sign(key: &NodeKey, method: &str, target: &str, body: &[u8]) -> SignatureHeaders {
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    sign_request(
        key,
        &RequestParts {
            method,
            target_uri: target,
            body,
        },
        &SignatureParams::new(now, nonce),
    )
    .expect("sign")
}

/// Sends a signed request with the given headers; returns status and JSON.
pub async fn send_signed(
    method: &str,
    target: &str,
    body: Vec<u8>,
    headers: &SignatureHeaders,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            target,
        )
        .header("signature-input", &headers.signature_input)
        .header("signature", &headers.signature);
    if let Some(digest) = &headers.content_digest {
        request = request
            .header("content-digest", digest)
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let value = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, value)
}
