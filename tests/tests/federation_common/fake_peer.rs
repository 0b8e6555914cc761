//! A stand-in peer for the tests of what a node does with a misbehaving
//! one: a real key and signed descriptor, linked to the node under test
//! through the real approval flow (the node's admin adds it, it answers with
//! a signed accept), serving whatever feed and by-item answers the test
//! gives it. A real node never serves tampered bytes, so such a peer is
//! necessarily a stand-in; the node under test is real.

use axum::routing::{get, post};
use axum::{Json, Router};
use seednet_node::demo::local::LocalNode;
use seednet_protocol::{
    CountryCode, LanguageTag, NodeDescriptor, NodeKey, Record, Signed, Timestamp,
};
use serde_json::{json, Value};

use super::{send_signed, sign};

pub struct FakePeer {
    pub key: NodeKey,
    pub url: String,
}

/// The wire form of a signed record, as a feed page or by-item answer
/// carries it.
pub fn wire_json(signed: &Signed<Record>) -> Value {
    serde_json::to_value(signed.to_wire()).unwrap()
}

impl FakePeer {
    /// Serves `routes` (the test's `/federation/v1/changes` and
    /// `/federation/v1/records/by-item`) plus the descriptor and the link
    /// request endpoint, on a loopback port.
    pub async fn start(key: NodeKey, name: &str, routes: Router) -> FakePeer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let descriptor = Signed::sign(
            &key,
            NodeDescriptor {
                node_id: key.node_id(),
                name: name.into(),
                country: CountryCode::parse("IT").unwrap(),
                base_url: url.clone(),
                languages: vec![LanguageTag::parse("en").unwrap()],
                version: 1,
                software: "stand-in/1".into(),
                signed_at: Timestamp::from_unix_seconds(1_767_225_600).unwrap(),
            },
        )
        .unwrap();
        let descriptor_wire = serde_json::to_value(descriptor.to_wire()).unwrap();
        let app = routes
            .route(
                "/api/v1/node",
                get(move || {
                    let d = descriptor_wire.clone();
                    async move { Json(d) }
                }),
            )
            .route(
                "/federation/v1/links",
                post(|| async { (axum::http::StatusCode::ACCEPTED, Json(json!({}))) }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakePeer { key, url }
    }

    /// `node`'s admin adds this peer; it approves with a signed accept.
    pub async fn link(&self, node: &LocalNode) {
        node.admin("POST", "/api/v1/peers", Some(json!({ "url": self.url })))
            .await
            .unwrap();
        let target = format!("{}/federation/v1/links/accept", node.url());
        let headers = sign(&self.key, "POST", &target, b"");
        let (status, body) = send_signed("POST", &target, Vec::new(), &headers).await;
        assert_eq!(status, 204, "{body}");
    }
}
