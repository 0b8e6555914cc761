//! Signed federation request throughput: how many signed node-to-node
//! requests one node verifies and answers per second.
//!
//! Two real nodes in this process (`seednet init` + `serve` each, sled on
//! disk) are linked through the approval flow; then the first node is
//! stopped and a client holding its key sends signed `POST
//! /federation/v1/notify` requests (the cheapest signed endpoint: parameters,
//! body check, signature verification, authorisation, nonce, a hint that
//! changes nothing) to the second, at several concurrency levels. Every
//! request carries a fresh nonce, so each one costs one durable nonce write.
//!
//! Run: `cargo bench -p seednet-node --bench signed_requests [-- requests]`.
//! Numbers go to docs/BENCHMARKS.md; nothing here asserts on time.

use std::sync::Arc;
use std::time::Instant;

use reqwest::Method;
use seednet_node::config::{Config, Overrides};
use seednet_node::demo::local::{init_node, LocalNode};
use seednet_node::federation::client::PeerClient;
use seednet_node::keyfile;
use seednet_node::keyring::KeyRing;
use seednet_node::sync::address::AddressPolicy;

/// Requests per measurement when no count is given (all runs together stay
/// under the receiver's cap of unexpired nonces, `NONCE_CACHE_ENTRIES_MAX`).
const REQUESTS_DEFAULT: usize = 3_000;
/// Concurrent senders measured.
const CONCURRENCY_LEVELS: &[usize] = &[1, 8, 64];
/// Largest answer read (a notify answers `{}`).
const ANSWER_BYTES_MAX: usize = 1024;

async fn measure(client: &PeerClient, url: &str, requests: usize, concurrency: usize) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let client = client.clone();
        let url = url.to_string();
        let share = requests / concurrency + usize::from(worker < requests % concurrency);
        tasks.spawn(async move {
            for _ in 0..share {
                client
                    .signed(
                        Method::POST,
                        &url,
                        "/federation/v1/notify",
                        br#"{"head_seq":0}"#.to_vec(),
                        ANSWER_BYTES_MAX,
                    )
                    .await
                    .expect("a signed notify is accepted");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("sender task");
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "signed notify, {concurrency:>3} senders: {requests} requests in {seconds:.2} s = {:>7.0} requests/s",
        requests as f64 / seconds
    );
}

#[tokio::main]
async fn main() {
    let requests: usize = std::env::args()
        .skip(1)
        .find_map(|text| text.parse().ok())
        .unwrap_or(REQUESTS_DEFAULT);
    let dir = tempfile::tempdir().expect("temp dir");
    let sender_setup = init_node(&dir.path().join("a"), "sender", "IT", &["it"], 600_000)
        .await
        .expect("init sender");
    let receiver_setup = init_node(&dir.path().join("b"), "receiver", "GR", &["el"], 600_000)
        .await
        .expect("init receiver");
    let sender = LocalNode::start(sender_setup.clone())
        .await
        .expect("start sender");
    let receiver = LocalNode::start(receiver_setup)
        .await
        .expect("start receiver");
    sender.link_with(&receiver).await.expect("link");
    sender.stop().await.expect("stop sender");
    let config = Config::load(
        &sender_setup.data_dir,
        &Default::default(),
        &Overrides::default(),
    )
    .expect("sender config");
    let key = Arc::new(keyfile::load(&config.key_path()).expect("sender key"));
    let client = PeerClient::new(
        Arc::new(KeyRing::new(key, Vec::new())),
        AddressPolicy {
            allow_loopback: true,
            allow_private: false,
        },
    );
    println!("signed request throughput, {requests} requests per run, one node on loopback");
    for concurrency in CONCURRENCY_LEVELS {
        measure(&client, receiver.url(), requests, *concurrency).await;
    }
    receiver.stop().await.expect("stop receiver");
}
