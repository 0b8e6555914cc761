//! Publish throughput with group commit, on real sled on disk.
//!
//! Two measurements:
//! - `storage`: the publisher called directly (sign on the writer thread,
//!   one transaction and one flush per batch), at several concurrency levels;
//! - `http`: the full path, `POST /api/v1/records` over loopback to an
//!   in-process server with the production middleware stack.
//!
//! Run: `cargo bench -p seednet-node --bench publish [-- records]`.
//! Numbers go to docs/BENCHMARKS.md; nothing here asserts on time.

use std::sync::Arc;
use std::time::Instant;

use seednet_node::app;
use seednet_node::config::{Config, ConfigFile, HttpSection, LogSection, NodeSection, Overrides};
use seednet_node::metrics::Metrics;
use seednet_node::service::Publisher;
use seednet_node::state::AppState;
use seednet_node::storage::{SledStorage, Storage};
use seednet_node::tokens::{self, Role};
use seednet_protocol::testing::sample_content;
use seednet_protocol::NodeKey;

/// Records per measurement when no count is given.
const RECORDS_DEFAULT: usize = 4_000;
/// Concurrency levels measured.
const CONCURRENCY_LEVELS: &[usize] = &[1, 8, 64, 256];
/// Concurrent HTTP clients in the HTTP measurement.
const HTTP_CLIENTS: usize = 64;

fn config(dir: &std::path::Path) -> Config {
    let file = ConfigFile {
        node: NodeSection {
            name: "bench".into(),
            country: "IT".into(),
            public_url: "https://bench.example".into(),
            languages: vec!["it".into()],
        },
        http: HttpSection {
            listen: Some("127.0.0.1:0".into()),
            ..HttpSection::default()
        },
        log: LogSection::default(),
        federation: Default::default(),
        search: Default::default(),
        accounts: Default::default(),
    };
    Config::resolve(dir, &file, &Default::default(), &Overrides::default()).expect("config")
}

fn open(dir: &std::path::Path) -> (Arc<dyn Storage>, Publisher) {
    let storage: Arc<dyn Storage> = Arc::new(SledStorage::open(&dir.join("db")).expect("open"));
    let key = Arc::new(NodeKey::from_seed(rand::random()));
    let publisher = Publisher::new(key, Arc::clone(&storage));
    (storage, publisher)
}

async fn bench_storage(records: usize, concurrency: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (storage, publisher) = open(dir.path());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let publisher = publisher.clone();
        let share = records / concurrency + usize::from(worker < records % concurrency);
        tasks.spawn(async move {
            for n in 0..share {
                let content = sample_content("it", "IT", &format!("Bench {worker} {n}"));
                publisher.create(content).await.expect("publish");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    let seconds = started.elapsed().as_secs_f64();
    let stats = storage.stats();
    println!(
        "storage  concurrency {concurrency:>4}: {records} records in {seconds:.2} s = {:>8.0} records/s, {} flushes, {:.1} records per flush",
        records as f64 / seconds,
        stats.flushes_total,
        stats.applied_total as f64 / stats.flushes_total.max(1) as f64,
    );
    storage.shutdown().expect("shutdown");
}

async fn bench_http(records: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (storage, publisher) = open(dir.path());
    let (editor, write) = tokens::create(storage.as_ref(), Role::Editor, "bench").expect("token");
    write.wait().await.expect("token write");
    let state = AppState::new(
        Arc::clone(&storage),
        publisher,
        Arc::new(config(dir.path())),
        Arc::new(Metrics::default()),
    );
    let app = app::app(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let body = serde_json::to_vec(&sample_content("it", "IT", "HTTP bench")).expect("json");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..HTTP_CLIENTS {
        let client = client.clone();
        let url = format!("{base}/api/v1/records");
        let token = editor.token.clone();
        let body = body.clone();
        let share = records / HTTP_CLIENTS + usize::from(worker < records % HTTP_CLIENTS);
        tasks.spawn(async move {
            for _ in 0..share {
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("request");
                assert_eq!(response.status(), 201);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    let seconds = started.elapsed().as_secs_f64();
    let stats = storage.stats();
    println!(
        "http     {HTTP_CLIENTS} clients:         {records} records in {seconds:.2} s = {:>8.0} records/s, {:.1} records per flush",
        records as f64 / seconds,
        stats.applied_total as f64 / stats.flushes_total.max(1) as f64,
    );
    server.abort();
}

#[tokio::main]
async fn main() {
    let records: usize = std::env::args()
        .skip(1)
        .find_map(|text| text.parse().ok())
        .unwrap_or(RECORDS_DEFAULT);
    println!("publish throughput, {records} records per run, sled on disk, group commit");
    for concurrency in CONCURRENCY_LEVELS {
        bench_storage(records, *concurrency).await;
    }
    bench_http(records).await;
}
