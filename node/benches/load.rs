//! A bounded load test: two real `seednet serve` processes linked over
//! loopback, a store of records on the first, then for a fixed time 200
//! concurrent searchers and a few publishers on it while the second pulls
//! its feed. Reports errors, search and publish latency (p50/p95/p99/max),
//! how long the second node takes to hold everything once the load stops,
//! and both processes' memory over time (anonymous and file-backed RSS
//! separately, from /proc).
//!
//! Run: `cargo bench -p seednet-node --bench load [-- SECONDS [SEARCHERS]]`
//! (defaults 20 s and 200; at most 120 s and 500). Numbers go to
//! docs/BENCHMARKS.md; nothing here asserts on time.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seednet_node::demo::local::{init_node, NodeSetup};
use serde_json::{json, Value};

const SECONDS_DEFAULT: u64 = 20;
const SECONDS_MAX: u64 = 120;
const SEARCHERS_DEFAULT: usize = 200;
const SEARCHERS_MAX: usize = 500;
const PUBLISHERS: usize = 4;
/// Records on the first node before the load starts.
const PRELOAD_RECORDS: usize = 2_000;
const PRELOAD_CLIENTS: usize = 16;
/// Memory is sampled this often.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// Longest wait for the second node to catch up after the load.
const CATCH_UP_MAX: Duration = Duration::from_secs(120);

const QUERIES: &[&str] = &[
    "co-progettazione",
    "participatory budgeting",
    "συμμετοχικός προϋπολογισμός",
    "economie sociala",
    "socialno podjetništvo",
    "impact evaluation",
    "valutazione d'impatto",
    "laboratorio di quartiere",
    "youth employment",
    "cooperativa",
];

const WORDS: &[&str] = &[
    "quartiere",
    "cittadini",
    "cooperativa",
    "comune",
    "laboratorio",
    "giovani",
    "anziani",
    "welfare",
    "comunità",
    "scuola",
    "lavoro",
    "inclusione",
    "valutazione",
    "impatto",
    "rete",
    "servizi",
    "territorio",
    "progetto",
    "formazione",
    "partecipazione",
];

struct Serving {
    child: Child,
    url: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(setup: &NodeSetup) -> Serving {
    let child = Command::new(env!("CARGO_BIN_EXE_seednet"))
        .arg("--data-dir")
        .arg(&setup.data_dir)
        .arg("serve")
        .env("SEEDNET_LOG", "warn")
        .env("SEEDNET_SEMANTIC", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start seednet serve");
    Serving {
        child,
        url: setup.url.clone(),
    }
}

async fn wait_ready(http: &reqwest::Client, url: &str) {
    for _ in 0..600 {
        if http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not become ready");
}

/// A record body of about 1.5 KB of Italian-like text, varied by `n`.
fn record(n: usize) -> Value {
    let mut body = String::new();
    for i in 0..220 {
        body.push_str(WORDS[(n * 7 + i * 13 + i / 5) % WORDS.len()]);
        body.push(if i % 12 == 11 { '.' } else { ' ' });
    }
    json!({
        "kind": "practice",
        "lang": "it",
        "title": format!("Pratica {n}: {} e {}", WORDS[n % WORDS.len()], WORDS[(n / 3) % WORDS.len()]),
        "summary": format!("Sintesi della pratica {n} di {}", WORDS[(n / 7) % WORDS.len()]),
        "body": body,
        "themes": ["co-design"],
        "country": "IT",
        "year_start": 2015 + (n % 10) as i64,
    })
}

/// RSS of a process in KiB: (anonymous, file-backed).
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("RssAnon:"), field("RssFile:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(name: &str, mut latencies: Vec<Duration>, errors: u64, seconds: f64) {
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<9} {:>8} ok {:>6} errors {:>8.0}/s  p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        latencies.len(),
        errors,
        latencies.len() as f64 / seconds,
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.95)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
}

async fn record_count(http: &reqwest::Client, url: &str, token: &str) -> u64 {
    let status: Value = match http
        .get(format!("{url}/api/v1/status"))
        .bearer_auth(token)
        .send()
        .await
    {
        Ok(response) => response.json().await.unwrap_or(Value::Null),
        Err(_) => return 0,
    };
    status["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|origin| origin["live"].as_u64().unwrap_or(0))
        .sum()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(SECONDS_DEFAULT)
        .min(SECONDS_MAX);
    let searchers = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(SEARCHERS_DEFAULT)
        .min(SEARCHERS_MAX);
    let dir = tempfile::tempdir().unwrap();
    let setup_a = init_node(&dir.path().join("a"), "Load A", "IT", &["it", "en"], 1_000)
        .await
        .unwrap();
    let setup_b = init_node(&dir.path().join("b"), "Load B", "GR", &["el", "en"], 1_000)
        .await
        .unwrap();
    let a = serve(&setup_a);
    let b = serve(&setup_b);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(SEARCHERS_MAX)
        .build()
        .unwrap();
    wait_ready(&http, &a.url).await;
    wait_ready(&http, &b.url).await;

    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut loaders = Vec::new();
    for _ in 0..PRELOAD_CLIENTS {
        let (http, url, token, next) = (
            http.clone(),
            a.url.clone(),
            setup_a.editor_token.clone(),
            Arc::clone(&next),
        );
        loaders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst) as usize;
                if n >= PRELOAD_RECORDS {
                    return;
                }
                let response = http
                    .post(format!("{url}/api/v1/records"))
                    .bearer_auth(&token)
                    .json(&record(n))
                    .send()
                    .await
                    .expect("preload");
                assert_eq!(response.status(), 201, "preload {n}");
            }
        }));
    }
    for loader in loaders {
        loader.await.unwrap();
    }
    println!(
        "preloaded {PRELOAD_RECORDS} records on A in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Link B to A through the real approval flow: B pulls A's feed.
    let added = http
        .post(format!("{}/api/v1/peers", b.url))
        .bearer_auth(&setup_b.admin_token)
        .json(&json!({ "url": a.url }))
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success(), "peer add: {}", added.status());
    let approved = http
        .post(format!(
            "{}/api/v1/peers/{}/approve",
            a.url, setup_b.node_id
        ))
        .bearer_auth(&setup_a.admin_token)
        .send()
        .await
        .unwrap();
    assert!(
        approved.status().is_success(),
        "approve: {}",
        approved.status()
    );

    println!(
        "load: {searchers} searchers and {PUBLISHERS} publishers on A for {seconds} s while B pulls"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let search_latency = Arc::new(Mutex::new(Vec::new()));
    let publish_latency = Arc::new(Mutex::new(Vec::new()));
    let search_errors = Arc::new(AtomicU64::new(0));
    let publish_errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for s in 0..searchers {
        let (http, url, stop, latency, errors) = (
            http.clone(),
            a.url.clone(),
            Arc::clone(&stop),
            Arc::clone(&search_latency),
            Arc::clone(&search_errors),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = s;
            while !stop.load(Ordering::Relaxed) {
                let query = QUERIES[n % QUERIES.len()];
                n += 1;
                let began = Instant::now();
                let ok = http
                    .get(format!("{url}/api/v1/search"))
                    .query(&[("q", query)])
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                if ok {
                    latency.lock().unwrap().push(began.elapsed());
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for p in 0..PUBLISHERS {
        let (http, url, token, stop, latency, errors) = (
            http.clone(),
            a.url.clone(),
            setup_a.editor_token.clone(),
            Arc::clone(&stop),
            Arc::clone(&publish_latency),
            Arc::clone(&publish_errors),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = PRELOAD_RECORDS + p * 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                let ok = http
                    .post(format!("{url}/api/v1/records"))
                    .bearer_auth(&token)
                    .json(&record(n))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 201);
                n += 1;
                if ok {
                    latency.lock().unwrap().push(began.elapsed());
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let load_started = Instant::now();
    println!(
        "{:>6} {:>14} {:>14} {:>14} {:>14}",
        "t (s)", "A anon MiB", "A file MiB", "B anon MiB", "B file MiB"
    );
    while load_started.elapsed() < Duration::from_secs(seconds) {
        let (a_anon, a_file) = rss(a.child.id());
        let (b_anon, b_file) = rss(b.child.id());
        println!(
            "{:>6.0} {:>14.1} {:>14.1} {:>14.1} {:>14.1}",
            load_started.elapsed().as_secs_f64(),
            a_anon as f64 / 1024.0,
            a_file as f64 / 1024.0,
            b_anon as f64 / 1024.0,
            b_file as f64 / 1024.0
        );
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = load_started.elapsed().as_secs_f64();
    summary(
        "search",
        std::mem::take(&mut search_latency.lock().unwrap()),
        search_errors.load(Ordering::Relaxed),
        elapsed,
    );
    summary(
        "publish",
        std::mem::take(&mut publish_latency.lock().unwrap()),
        publish_errors.load(Ordering::Relaxed),
        elapsed,
    );
    let on_a = record_count(&http, &a.url, &setup_a.admin_token).await;
    let catch_up = Instant::now();
    loop {
        let on_b = record_count(&http, &b.url, &setup_b.admin_token).await;
        if on_b >= on_a {
            println!(
                "B holds all {on_a} records of A {:.1} s after the load stopped",
                catch_up.elapsed().as_secs_f64()
            );
            break;
        }
        if catch_up.elapsed() > CATCH_UP_MAX {
            println!("B holds {on_b} of {on_a} records {CATCH_UP_MAX:?} after the load stopped");
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
