//! Killing a node (SIGKILL, the real binary) in the middle of a sync loses
//! nothing and duplicates nothing when it restarts: the cursor is stored
//! only after its page is durable, and re-applying a page is a no-op.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use seednet_node::demo::local::{init_node, wait_released, LocalNode, NodeSetup};
use serde_json::{json, Value};

/// Records on the serving node: several feed pages of 500.
const RECORDS: u64 = 2_000;
const DEADLINE: Duration = Duration::from_secs(120);

/// A running `seednet serve` child, killed (SIGKILL) and reaped on drop.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_serve(setup: &NodeSetup) -> Serving {
    let child = Command::new(env!("CARGO_BIN_EXE_seednet"))
        .args([
            "--data-dir",
            setup.data_dir.to_str().unwrap(),
            "--log",
            "error",
            "serve",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn seednet serve");
    Serving(child)
}

async fn call(
    url: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Option<Value> {
    let client = reqwest::Client::new();
    let mut request = client
        .request(method, format!("{url}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

async fn status(setup: &NodeSetup) -> Option<(u64, u64)> {
    let status = call(
        &setup.url,
        &setup.admin_token,
        reqwest::Method::GET,
        "/api/v1/status",
        None,
    )
    .await?;
    let live = status["records"]
        .as_array()?
        .iter()
        .map(|o| o["live"].as_u64().unwrap_or(0))
        .sum();
    Some((live, status["head_seq"].as_u64()?))
}

/// A node (in this process) holding [`RECORDS`] records titled `{prefix} N`.
async fn publishing_node(dir: &std::path::Path, prefix: &str) -> std::sync::Arc<LocalNode> {
    let setup = init_node(&dir.join("a"), "a", "IT", &["en"], 600_000)
        .await
        .unwrap();
    let a = std::sync::Arc::new(LocalNode::start(setup).await.unwrap());
    let mut publishing = tokio::task::JoinSet::new();
    for worker in 0..16u64 {
        let (a, prefix) = (std::sync::Arc::clone(&a), prefix.to_string());
        publishing.spawn(async move {
            for n in (worker..RECORDS).step_by(16) {
                let content = serde_json::to_value(seednet_protocol::testing::sample_content(
                    "en",
                    "IT",
                    &format!("{prefix} {n}"),
                ))
                .unwrap();
                a.publish(content).await.expect("publish");
            }
        });
    }
    while let Some(done) = publishing.join_next().await {
        done.unwrap();
    }
    a
}

/// `seednet serve` on `setup`, once its status answers.
async fn serve_ready(setup: &NodeSetup, deadline: tokio::time::Instant) -> Serving {
    let child = spawn_serve(setup);
    while status(setup).await.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

/// `b`'s admin adds `a`, whose admin approves: `b` pulls `a`'s feed.
async fn pull_from(b: &NodeSetup, a: &LocalNode) {
    call(
        &b.url,
        &b.admin_token,
        reqwest::Method::POST,
        "/api/v1/peers",
        Some(json!({ "url": a.url() })),
    )
    .await
    .expect("peer add");
    a.admin(
        "POST",
        &format!("/api/v1/peers/{}/approve", b.node_id),
        None,
    )
    .await
    .expect("approve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_node_mid_sync_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = publishing_node(dir.path(), "record").await;

    let b = init_node(&dir.path().join("b"), "b", "GR", &["en"], 600_000)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let child = serve_ready(&b, deadline).await;
    pull_from(&b, &a).await;
    // Kill B as soon as it holds some but not all records.
    let at_kill = loop {
        let (live, _) = status(&b).await.unwrap_or((0, 0));
        if live > 0 {
            break live;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "b never received anything"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    drop(child);
    println!("killed b holding {at_kill} of {RECORDS} records");
    wait_released(&b.data_dir).await.unwrap();

    let child = spawn_serve(&b);
    let (live, head_seq) = loop {
        if let Some((live, head_seq)) = status(&b).await {
            if live >= RECORDS {
                break (live, head_seq);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "b did not catch up after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(live, RECORDS, "nothing lost, nothing extra");
    // Every version was written to B's change log exactly once.
    assert_eq!(head_seq, RECORDS, "no version applied twice");
    drop(child);
    let a = std::sync::Arc::try_unwrap(a).ok().expect("no other owner");
    a.stop().await.unwrap();
}

/// Kills tried at later and later moments of a purge.
const PURGE_KILL_ATTEMPTS: u64 = 8;

/// Live records of `origin` on the node, from its status.
async fn live_of(setup: &NodeSetup, origin: &str) -> Option<u64> {
    let status = call(
        &setup.url,
        &setup.admin_token,
        reqwest::Method::GET,
        "/api/v1/status",
        None,
    )
    .await?;
    Some(
        status["records"]
            .as_array()?
            .iter()
            .filter(|o| o["origin"] == origin)
            .map(|o| o["live"].as_u64().unwrap_or(0))
            .sum(),
    )
}

/// SIGKILL while `peer revoke --purge` removes a peer's records: after the
/// restart the purge is either done completely (the peer revoked, its
/// origin blocked, none of its records in storage or in the search index)
/// or was never begun (every record still there); this node's own records
/// are untouched either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_node_mid_purge_leaves_no_half_purge() {
    let dir = tempfile::tempdir().unwrap();
    let a = publishing_node(dir.path(), "relayed").await;
    let b = init_node(&dir.path().join("b"), "b", "GR", &["en"], 600_000)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let child = serve_ready(&b, deadline).await;
    const OWN: u64 = 5;
    for n in 0..OWN {
        let content = serde_json::to_value(seednet_protocol::testing::sample_content(
            "el",
            "GR",
            &format!("own {n}"),
        ))
        .unwrap();
        call(
            &b.url,
            &b.editor_token,
            reqwest::Method::POST,
            "/api/v1/records",
            Some(content),
        )
        .await
        .expect("publish on b");
    }
    pull_from(&b, &a).await;
    let origin = a.node_id().to_hex();
    while live_of(&b, &origin).await.unwrap_or(0) < RECORDS {
        assert!(tokio::time::Instant::now() < deadline, "b did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The purge, and a kill a moment into it; again, later each time, until
    // a kill falls after the purge began (it is then finished at restart).
    let own = b.node_id.to_hex();
    let mut child = child;
    for attempt in 0..PURGE_KILL_ATTEMPTS {
        let purge = {
            let (url, token, path) = (
                b.url.clone(),
                b.admin_token.clone(),
                format!("/api/v1/peers/{origin}/revoke"),
            );
            tokio::spawn(async move {
                call(
                    &url,
                    &token,
                    reqwest::Method::POST,
                    &path,
                    Some(json!({ "purge": true })),
                )
                .await
            })
        };
        let kill_after_ms = attempt * 40 + rand::random::<u64>() % 40;
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        drop(child);
        let answered = purge.await.unwrap().is_some();
        wait_released(&b.data_dir).await.unwrap();
        child = serve_ready(&b, deadline).await;
        assert_eq!(live_of(&b, &own).await, Some(OWN), "own records untouched");
        let left = live_of(&b, &origin).await.unwrap();
        let peer = call(
            &b.url,
            &b.admin_token,
            reqwest::Method::GET,
            &format!("/api/v1/peers/{origin}"),
            None,
        )
        .await
        .expect("peer entry");
        println!(
            "killed {kill_after_ms} ms into the purge (answered: {answered}): {left} records left, peer {}",
            peer["state"]
        );
        if peer["state"] != "revoked" {
            assert!(!answered, "an acknowledged purge happened");
            assert_eq!(left, RECORDS, "a purge not begun removed nothing");
            continue;
        }
        assert_eq!(left, 0, "a begun purge is finished at the start");
        let blocked = call(
            &b.url,
            &b.admin_token,
            reqwest::Method::GET,
            "/api/v1/blocked-origins",
            None,
        )
        .await
        .unwrap();
        assert!(blocked.to_string().contains(&origin), "{blocked}");
        // The index lets go of them too (it may finish a moment later).
        loop {
            let found = call(
                &b.url,
                &b.admin_token,
                reqwest::Method::GET,
                &format!("/api/v1/search?q=relayed&origin={origin}&limit=1"),
                None,
            )
            .await
            .map(|answer| answer["total"].as_u64().unwrap_or(u64::MAX));
            if found == Some(0) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the index still finds purged records: {found:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        break;
    }
    drop(child);
    let a = std::sync::Arc::try_unwrap(a).ok().expect("no other owner");
    a.stop().await.unwrap();
}
