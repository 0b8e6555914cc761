//! A fault-injecting proxy between two real nodes (issue #17): B pulls A's
//! feed through it, and it drops, delays, cuts, corrupts, drips or replays
//! A's answers. After each fault the network must converge: B holds every
//! version A published, nothing else, and each of them verifies (B applies
//! only verified versions).
//!
//! A's public URL is the proxy's address, so A's descriptor names the proxy
//! and B's signed requests (which cover the target URL) verify at A. Only
//! B's pulls and fetches by item pass through it; A's notifies and accepts go
//! to B directly.

mod federation_common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Router;
use federation_common::*;
use seednet_node::demo::local::{init_node, LocalNode};

/// What the proxy does to the next answers of A's feed and fetches by item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Pass everything through.
    None,
    /// Answer 502 without asking A.
    Refuse,
    /// Wait before forwarding.
    Delay,
    /// Send half of A's body, then break the connection.
    Cut,
    /// Change one byte inside a signed record.
    Corrupt,
    /// Send A's body in small pieces, slowly.
    Drip,
    /// Answer with the first feed page A ever sent, whatever was asked.
    Replay,
}

/// Answers each fault is applied to before the proxy passes through again.
const FAULTY_ANSWERS: usize = 2;
const DELAY: Duration = Duration::from_secs(2);
const DRIP_CHUNK_BYTES: usize = 256;
const DRIP_PAUSE: Duration = Duration::from_millis(5);

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    fault: Mutex<(Fault, usize)>,
    first_page: Mutex<Option<Bytes>>,
}

impl Proxy {
    fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = (fault, FAULTY_ANSWERS);
    }

    /// The fault for one answer to `path`, counting it down.
    fn take(&self, path: &str) -> Fault {
        let faulty = path.starts_with("/federation/v1/changes")
            || path.starts_with("/federation/v1/records/by-item");
        let mut fault = self.fault.lock().unwrap();
        if !faulty || fault.1 == 0 {
            return Fault::None;
        }
        fault.1 -= 1;
        fault.0
    }
}

/// Flips one letter of the first record title in a feed page or by-item
/// answer (inside the signed bytes, so the signature no longer verifies).
fn corrupt(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    let marker = b"\"title\":\"";
    if let Some(at) = out.windows(marker.len()).position(|w| w == marker) {
        let letter = at + marker.len();
        if out[letter].is_ascii_alphabetic() {
            out[letter] ^= 0x20;
        }
    }
    out
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let fault = proxy.take(&path_and_query);
    if fault == Fault::Refuse {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .unwrap();
    }
    if fault == Fault::Delay {
        tokio::time::sleep(DELAY).await;
    }
    let method = request.method().clone();
    let mut headers = HeaderMap::new();
    for (name, value) in request.headers() {
        if name != "host" && name != "content-length" {
            headers.insert(name.clone(), value.clone());
        }
    }
    let body = axum::body::to_bytes(request.into_body(), 16 << 20)
        .await
        .unwrap();
    let answer = proxy
        .http
        .request(method, format!("{}{path_and_query}", proxy.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let mut body = answer.bytes().await.unwrap();
    if path_and_query.starts_with("/federation/v1/changes") {
        let mut first = proxy.first_page.lock().unwrap();
        if first.is_none() && path_and_query.contains("since=0") {
            *first = Some(body.clone());
        }
        if fault == Fault::Replay {
            if let Some(old) = first.clone() {
                body = old;
            }
        }
    }
    let mut response = Response::builder().status(status);
    if let Some(content_type) = content_type {
        response = response.header("content-type", content_type);
    }
    match fault {
        Fault::Corrupt => response.body(Body::from(corrupt(&body))).unwrap(),
        Fault::Cut => {
            let half = body.slice(..body.len() / 2);
            let stream = futures_util::stream::iter([Ok(half), Err(std::io::Error::other("cut"))]);
            response.body(Body::from_stream(stream)).unwrap()
        }
        Fault::Drip => {
            let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
            tokio::spawn(async move {
                for chunk in body.chunks(DRIP_CHUNK_BYTES) {
                    tokio::time::sleep(DRIP_PAUSE).await;
                    if sender
                        .send(Ok(Bytes::copy_from_slice(chunk)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
            response
                .body(Body::from_stream(futures_util::stream::unfold(
                    receiver,
                    |mut receiver| async move {
                        let chunk = receiver.recv().await?;
                        Some((chunk, receiver))
                    },
                )))
                .unwrap()
        }
        _ => response.body(Body::from(body)).unwrap(),
    }
}

/// A's versions (its own origin) as B holds them equal A's.
async fn converged(a: &LocalNode, b: &LocalNode) -> bool {
    let origin = a.node_id().to_hex();
    let own = |set: std::collections::BTreeSet<(String, String, u64, bool)>| {
        set.into_iter()
            .filter(|(o, ..)| *o == origin)
            .collect::<Vec<_>>()
    };
    own(versions(a).await) == own(versions(b).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_network_converges_after_each_fault_of_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let setup = init_node(&dir.path().join("a"), "a", "IT", &["en"], FAST_INTERVAL_MS)
        .await
        .unwrap();
    let config_path = setup.data_dir.join("seednet.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, config.replace(&setup.url, &proxy_url)).unwrap();
    let upstream = setup.url.clone();
    let a = LocalNode::start(setup).await.unwrap();
    let b = node(dir.path(), "b", "GR", FAST_INTERVAL_MS).await;
    let proxy = Arc::new(Proxy {
        upstream,
        http: reqwest::Client::new(),
        fault: Mutex::new((Fault::None, 0)),
        first_page: Mutex::new(None),
    });
    let app = Router::new()
        .fallback(forward)
        .with_state(Arc::clone(&proxy));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    a.publish(content("Before any fault")).await.unwrap();
    b.admin(
        "POST",
        "/api/v1/peers",
        Some(serde_json::json!({ "url": proxy_url })),
    )
    .await
    .unwrap();
    a.admin(
        "POST",
        &format!("/api/v1/peers/{}/approve", b.node_id()),
        None,
    )
    .await
    .unwrap();
    eventually("the first records arrive through the proxy", || async {
        converged(&a, &b).await.then_some(())
    })
    .await;

    let mut times = Vec::new();
    for (n, fault) in [
        Fault::Refuse,
        Fault::Delay,
        Fault::Cut,
        Fault::Corrupt,
        Fault::Drip,
        Fault::Replay,
    ]
    .into_iter()
    .enumerate()
    {
        proxy.set(fault);
        let started = Instant::now();
        let first = a
            .publish(content(&format!("Published during fault {n}")))
            .await
            .unwrap();
        a.publish(content(&format!("Also published during fault {n}")))
            .await
            .unwrap();
        let id = first["signed"]["id"].as_str().unwrap().to_string();
        let mut update = content(&format!("Updated during fault {n}"));
        update["summary"] = serde_json::json!("A second version");
        let origin = a.node_id().to_hex();
        a.call(
            "PUT",
            &format!("/api/v1/records/{origin}/{id}"),
            Some(&a.setup.editor_token),
            Some(update),
        )
        .await
        .unwrap();
        eventually(&format!("convergence after {fault:?}"), || async {
            converged(&a, &b).await.then_some(())
        })
        .await;
        times.push((fault, started.elapsed()));
    }
    eprintln!("converged after each fault: {times:?}");
    let peer = b
        .admin("GET", &format!("/api/v1/peers/{}", a.node_id()), None)
        .await
        .unwrap();
    assert!(
        peer["refused_versions"].as_u64().unwrap() >= 1,
        "the corrupted copy was refused: {peer}"
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
