//! `seednet demo`: a small network of four real nodes on this machine.
//!
//! Italy, Greece, Romania and Slovenia each get their own data dir, port and
//! HTTP server (in this process), are linked in a full mesh through the real
//! approval flow (peer add on one side, approve on the other), publish four
//! records written in their language, and sync until every node holds every
//! record. Loopback peers are allowed by the demo's own node configs, never
//! by changing the default.

pub mod local;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use local::{init_node, LocalNode, LocalNodeError};

/// The demo's records: four per language, from the search evaluation set.
pub const DEMO_RECORDS_JSONL: &str = include_str!("records.jsonl");
/// Longest wait for the four nodes to converge.
pub const DEMO_CONVERGE_TIMEOUT_MS: u64 = 120_000;
/// Pull interval of the demo nodes (notifies make most pulls immediate).
pub const DEMO_SYNC_INTERVAL_MS: u64 = 5_000;
/// Poll interval while waiting for convergence.
const CONVERGE_POLL_MS: u64 = 200;

/// The four centres: directory name, node name, country, language.
pub const DEMO_CENTRES: &[(&str, &str, &str, &str)] = &[
    ("it", "SEED Competence Centre Italy", "IT", "it"),
    ("gr", "SEED Competence Centre Greece", "GR", "el"),
    ("ro", "SEED Competence Centre Romania", "RO", "ro"),
    ("si", "SEED Competence Centre Slovenia", "SI", "sl"),
];

/// Options of `seednet demo`.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Where the nodes' data dirs go (`None`: a temporary dir removed at exit).
    pub data_dir: Option<PathBuf>,
    /// Exit once converged instead of serving until Ctrl-C.
    pub exit_after_converge: bool,
    /// No progress bar (e.g. when output is not a terminal).
    pub quiet: bool,
}

/// What a finished demo measured.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub nodes: usize,
    pub records_per_node: u64,
    pub converge_time: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Node(#[from] LocalNodeError),
    #[error("{0}")]
    Setup(String),
    #[error("the nodes did not converge within {timeout_ms} ms: {detail}")]
    NotConverged { timeout_ms: u64, detail: String },
}

/// The demo records of one language, as content JSON.
pub fn demo_records(lang: &str) -> Vec<Value> {
    DEMO_RECORDS_JSONL
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str::<Value>(line).expect("demo records are JSON"))
        .filter(|content| content["lang"] == lang)
        .collect()
}

/// Runs the demo until `shutdown` resolves (or right after convergence with
/// `exit_after_converge`).
pub async fn run(
    options: DemoOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<DemoReport, DemoError> {
    let temp;
    let base: PathBuf = match &options.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("seednet-demo-")
                .tempdir()
                .map_err(|e| DemoError::Setup(format!("cannot create a temporary dir: {e}")))?;
            temp.path().to_path_buf()
        }
    };
    if base.join(DEMO_CENTRES[0].0).exists() {
        return Err(DemoError::Setup(format!(
            "{} already holds a demo; remove it or choose another --data-dir",
            base.display()
        )));
    }
    let nodes = start_nodes(&base).await?;
    say(
        &options,
        "linking the four nodes (full mesh, add + approve on both sides)",
    );
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            a.link_with(b).await?;
        }
    }
    say(
        &options,
        "publishing four records on each node, in its language",
    );
    let started = Instant::now();
    let mut expected = 0u64;
    for (node, (_, _, _, lang)) in nodes.iter().zip(DEMO_CENTRES) {
        for content in demo_records(lang) {
            node.publish(content).await?;
            expected += 1;
        }
    }
    let converge_time = wait_converged(&nodes, expected, &options, started).await?;
    println!();
    println!(
        "converged: {} nodes hold all {expected} records ({} ms after the first publish)",
        nodes.len(),
        converge_time.as_millis()
    );
    println!();
    for (node, (_, name, country, _)) in nodes.iter().zip(DEMO_CENTRES) {
        println!("{name} ({country})");
        println!("  web:    {}/", node.url());
        println!("  api:    {}/api/v1/records", node.url());
        println!("  node:   {}", node.node_id());
        println!("  admin token:  {}", node.setup.admin_token);
        println!("  editor token: {}", node.setup.editor_token);
    }
    println!();
    println!("{}", semantic_line(&nodes[0]).await);
    println!("data dirs: {}", base.display());
    if !options.exit_after_converge {
        println!("press Ctrl-C to stop the demo");
        shutdown.await;
        println!(
            "stopping the {} nodes and removing their data dirs…",
            DEMO_CENTRES.len()
        );
    }
    // Stop all four at once, so that none spends its grace period pulling
    // from a peer that is already gone.
    let mut stopping = tokio::task::JoinSet::new();
    for node in nodes {
        stopping.spawn(node.stop());
    }
    while let Some(stopped) = stopping.join_next().await {
        let setup = stopped.map_err(|e| DemoError::Setup(format!("stop task failed: {e}")))??;
        // Background threads (the search indexer) let go of the data dir
        // shortly after the server returns; wait, so that the temporary dir
        // is removed whole.
        local::wait_released(&setup.data_dir).await?;
    }
    Ok(DemoReport {
        nodes: DEMO_CENTRES.len(),
        records_per_node: expected,
        converge_time,
    })
}

/// What the first node's `/readyz` says of the semantic tier, in one line.
async fn semantic_line(node: &LocalNode) -> String {
    let ready = node
        .call("GET", "/readyz", None, None)
        .await
        .map(|(_, body)| body)
        .unwrap_or_default();
    let semantic = &ready["semantic"];
    match semantic["state"].as_str() {
        Some("ready") => {
            "search by meaning: on (multilingual-e5-small); vectors are computed in the background"
                .into()
        }
        Some("starting") => "search by meaning: starting (the model is loading)".into(),
        _ => format!(
            "search by meaning: off ({}); searches are lexical",
            semantic["reason"].as_str().unwrap_or("unknown")
        ),
    }
}

fn say(options: &DemoOptions, text: &str) {
    if !options.quiet {
        println!("{text}");
    }
}

async fn start_nodes(base: &Path) -> Result<Vec<LocalNode>, DemoError> {
    let mut nodes = Vec::new();
    for (dir, name, country, lang) in DEMO_CENTRES {
        let languages = [*lang, "en"];
        let setup = init_node(
            &base.join(dir),
            name,
            country,
            &languages,
            DEMO_SYNC_INTERVAL_MS,
        )
        .await?;
        nodes.push(LocalNode::start(setup).await?);
    }
    Ok(nodes)
}

/// Polls every node's record count until each holds `expected` records.
async fn wait_converged(
    nodes: &[LocalNode],
    expected: u64,
    options: &DemoOptions,
    started: Instant,
) -> Result<Duration, DemoError> {
    let total = expected * nodes.len() as u64;
    let bar = if options.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} record copies")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("syncing");
    loop {
        let mut held = 0;
        let mut detail = Vec::new();
        for node in nodes {
            let (live, _) = node.record_counts().await?;
            held += live.min(expected);
            detail.push(format!("{}: {live}", node.url()));
        }
        bar.set_position(held);
        if held == total {
            bar.finish_with_message("converged");
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_millis(DEMO_CONVERGE_TIMEOUT_MS) {
            bar.abandon_with_message("not converged");
            return Err(DemoError::NotConverged {
                timeout_ms: DEMO_CONVERGE_TIMEOUT_MS,
                detail: detail.join(", "),
            });
        }
        tokio::time::sleep(Duration::from_millis(CONVERGE_POLL_MS)).await;
    }
}
