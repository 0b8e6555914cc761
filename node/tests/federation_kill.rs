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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_node_mid_sync_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a_setup = init_node(&dir.path().join("a"), "a", "IT", &["en"], 600_000)
        .await
        .unwrap();
    let a = LocalNode::start(a_setup).await.unwrap();
    let mut publishing = tokio::task::JoinSet::new();
    let a = std::sync::Arc::new(a);
    for worker in 0..16u64 {
        let a = std::sync::Arc::clone(&a);
        publishing.spawn(async move {
            for n in (worker..RECORDS).step_by(16) {
                let content = serde_json::to_value(seednet_protocol::testing::sample_content(
                    "en",
                    "IT",
                    &format!("record {n}"),
                ))
                .unwrap();
                a.publish(content).await.expect("publish");
            }
        });
    }
    while let Some(done) = publishing.join_next().await {
        done.unwrap();
    }

    let b = init_node(&dir.path().join("b"), "b", "GR", &["en"], 600_000)
        .await
        .unwrap();
    let child = spawn_serve(&b);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while status(&b).await.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "b did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
