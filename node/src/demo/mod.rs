//! `seednet demo`: a network of real nodes on this machine, loaded with the
//! sample knowledge of `deploy/sample-data/`.
//!
//! Italy, Greece, Romania and Slovenia each get their own data dir, port and
//! HTTP server (in this process), are linked in a full mesh through the real
//! approval flow (peer add on one side, approve on the other) and publish
//! their sample records through the API with their editor token; then, with
//! `--nodes 5` to `8`, Croatia, Spain, Portugal and Ireland join the running
//! network one by one through the same flow. Loopback peers are allowed by
//! the demo's own node configs, never by changing the default.
//!
//! A record adapting another centre's record is published after its source,
//! with the source's real origin and id (`sample::plan`). The records of a
//! centre that is not part of this demo are published by its host centre
//! (HR by SI, ES by IT, PT by RO, IE by GR), so the default demo shows them
//! too. With `--dir` the demo state (`state.rs`) is kept beside the data
//! dirs and a second run starts the same network again.

pub mod local;
pub mod sample;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use local::{init_node_at, LocalNode, LocalNodeError};
use sample::{SampleError, SampleRecord};
use state::{DemoState, StateNode, DEMO_STATE_FORMAT};

/// Longest wait for the nodes to converge, each time they are waited for.
pub const DEMO_CONVERGE_TIMEOUT_MS: u64 = 180_000;
/// Pull interval of the demo nodes (notifies make most pulls immediate).
pub const DEMO_SYNC_INTERVAL_MS: u64 = 5_000;
/// How long a stopped node may take to let go of its data dir (its
/// embedder finishes the record at hand first).
pub const DEMO_RELEASE_WAIT_MS: u64 = 120_000;
/// Poll interval while waiting for convergence.
const CONVERGE_POLL_MS: u64 = 200;
/// Nodes of the demo by default: the four SEED centres.
pub const DEMO_NODES_DEFAULT: usize = 4;
/// Most nodes of a demo (the length of [`DEMO_CENTRES`]).
pub const DEMO_NODES_MAX: usize = 8;
/// The first port of the default ports (8470, 8471, ...).
pub const DEMO_BASE_PORT_DEFAULT: u16 = 8470;

/// A centre of the demo network.
#[derive(Debug, Clone, Copy)]
pub struct Centre {
    /// Its code, the name of its data dir and of its sample file.
    pub code: &'static str,
    pub name: &'static str,
    pub country: &'static str,
    /// Its own language (the node's first language; English is added).
    pub lang: &'static str,
    /// The centre that publishes its sample records when it is not part of
    /// the demo (itself for the four SEED centres, which always are).
    pub host: &'static str,
}

/// The centres, in the order they join.
pub const DEMO_CENTRES: [Centre; DEMO_NODES_MAX] = [
    centre("it", "SEED Competence Centre Italy", "IT", "it", "it"),
    centre("gr", "SEED Competence Centre Greece", "GR", "el", "gr"),
    centre("ro", "SEED Competence Centre Romania", "RO", "ro", "ro"),
    centre("si", "SEED Competence Centre Slovenia", "SI", "sl", "si"),
    centre("hr", "Social Innovation Centre Croatia", "HR", "hr", "si"),
    centre("es", "Social Innovation Centre Spain", "ES", "es", "it"),
    centre("pt", "Social Innovation Centre Portugal", "PT", "pt", "ro"),
    centre("ie", "Social Innovation Centre Ireland", "IE", "en", "gr"),
];

const fn centre(
    code: &'static str,
    name: &'static str,
    country: &'static str,
    lang: &'static str,
    host: &'static str,
) -> Centre {
    Centre {
        code,
        name,
        country,
        lang,
        host,
    }
}

/// Which ports the new nodes listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortChoice {
    /// 8470, 8471, ... when all are free, else random ports (said clearly).
    #[default]
    Default,
    /// `P`, `P + 1`, ...; an error when one is taken.
    Base(u16),
    /// Random free ports.
    Random,
}

/// Options of `seednet demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the nodes' data dirs go (`None`: a temporary dir removed at
    /// exit). A dir holding a demo starts that demo again.
    pub data_dir: Option<PathBuf>,
    /// Exit once converged instead of serving until Ctrl-C.
    pub exit_after_converge: bool,
    /// No progress bar and fewer messages.
    pub quiet: bool,
    /// How many centres take part, [`DEMO_NODES_DEFAULT`] to [`DEMO_NODES_MAX`].
    pub nodes: usize,
    pub ports: PortChoice,
    /// Publish only the first records of each sample file (quick runs).
    pub sample_limit: Option<usize>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            data_dir: None,
            exit_after_converge: false,
            quiet: false,
            nodes: DEMO_NODES_DEFAULT,
            ports: PortChoice::Default,
            sample_limit: None,
        }
    }
}

/// What a finished demo measured.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub nodes: usize,
    pub records_per_node: u64,
    pub converge_time: Duration,
    /// Whether the data was kept (`--dir`).
    pub data_kept: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Node(#[from] LocalNodeError),
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error("{0}")]
    Setup(String),
    #[error("the nodes did not converge within {timeout_ms} ms: {detail}")]
    NotConverged { timeout_ms: u64, detail: String },
}

/// The running demo: its nodes (in centre order), its state and where it lives.
struct Network {
    base: PathBuf,
    /// How many centres take part in the end.
    target: usize,
    nodes: Vec<LocalNode>,
    state: DemoState,
    records: Vec<SampleRecord>,
    /// `records` in publish order.
    order: Vec<usize>,
}

/// Runs the demo until `shutdown` resolves (or right after convergence with
/// `exit_after_converge`).
pub async fn run(
    options: DemoOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<DemoReport, DemoError> {
    if !(DEMO_NODES_DEFAULT..=DEMO_NODES_MAX).contains(&options.nodes) {
        return Err(DemoError::Setup(format!(
            "--nodes must be {DEMO_NODES_DEFAULT} to {DEMO_NODES_MAX}, not {}",
            options.nodes
        )));
    }
    let records = sample::load_all(options.sample_limit)?;
    let (waves, dropped) = sample::plan(&records)?;
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
    let state = open_state(&base)?;
    let stored = state.nodes.len();
    let target = options.nodes.max(stored);
    if stored > 0 {
        println!(
            "{} holds a demo of {stored} nodes: starting the same network again",
            base.display()
        );
    }
    if dropped > 0 {
        say(
            &options,
            &format!("--sample-limit left out the sources of {dropped} adapted_from relations; those relations are not written"),
        );
    }
    let ports = choose_ports(options.ports, stored, target, &options)?;
    let mut network = Network {
        base: base.clone(),
        target,
        nodes: Vec::new(),
        state,
        records,
        order: waves.into_iter().flatten().collect(),
    };
    let started = Instant::now();
    let first = stored.max(DEMO_NODES_DEFAULT.min(target));
    for index in 0..first {
        network.start_node(index, &ports).await?;
    }
    if stored == 0 {
        say(
            &options,
            &format!("linking the {first} nodes (full mesh, add + approve on both sides)"),
        );
    }
    network.link_pending().await?;
    let published = network.publish_pending().await?;
    if published > 0 {
        say(
            &options,
            &format!(
                "published {published} sample records through the API, each on its centre's node"
            ),
        );
    }
    let mut converge_time = network.wait_converged(&options, started).await?;
    for (index, joining) in DEMO_CENTRES.iter().enumerate().take(target).skip(first) {
        say(
            &options,
            &format!(
                "{} ({}) joins the running network: add + approve with each node",
                joining.name, joining.country
            ),
        );
        network.start_node(index, &ports).await?;
        network.link_pending().await?;
        let published = network.publish_pending().await?;
        say(
            &options,
            &format!("{} published {published} sample records", joining.country),
        );
        converge_time = network.wait_converged(&options, started).await?;
    }
    let expected = network.state.published.len() as u64;
    println!();
    println!(
        "converged: {} nodes hold all {expected} records ({} ms after the first node started)",
        network.nodes.len(),
        converge_time.as_millis()
    );
    println!("{}", network.counts_line());
    println!();
    for (node, centre) in network.nodes.iter().zip(DEMO_CENTRES) {
        println!("{} ({})", centre.name, centre.country);
        println!("  web:    {}/", node.url());
        println!("  api:    {}/api/v1/records", node.url());
        println!("  node:   {}", node.node_id());
        println!("  admin token:  {}", node.setup.admin_token);
        println!("  editor token: {}", node.setup.editor_token);
    }
    println!();
    println!("{}", semantic_line(&network.nodes[0]).await);
    println!("try: search for «συμμετοχικός προϋπολογισμός», «co-progettazione» or «social farming», then open a record to see what it was adapted from");
    let data_kept = options.data_dir.is_some();
    println!("data dirs: {}", base.display());
    let stopping = stop_message(network.nodes.len(), &base, data_kept);
    if options.exit_after_converge {
        println!("{stopping}");
    } else {
        println!("press Ctrl-C to stop the demo");
        shutdown.await;
        println!();
        println!("{stopping}");
    }
    let nodes = network.nodes.len();
    stop_all(network.nodes).await?;
    Ok(DemoReport {
        nodes,
        records_per_node: expected,
        converge_time,
        data_kept,
    })
}

/// What stopping does to the data, truthfully.
fn stop_message(nodes: usize, base: &Path, data_kept: bool) -> String {
    if data_kept {
        format!(
            "stopping the {nodes} nodes; their data is kept in {dir} (`seednet demo --dir {dir}` starts the same network again)",
            dir = base.display()
        )
    } else {
        format!("stopping the {nodes} nodes and removing their data (a temporary dir; --dir DIR keeps it)")
    }
}

/// Stops all nodes at once, so that none spends its grace period pulling
/// from a peer that is already gone.
async fn stop_all(nodes: Vec<LocalNode>) -> Result<(), DemoError> {
    let mut stopping = tokio::task::JoinSet::new();
    for node in nodes {
        stopping.spawn(node.stop());
    }
    while let Some(stopped) = stopping.join_next().await {
        let setup = stopped.map_err(|e| DemoError::Setup(format!("stop task failed: {e}")))??;
        // Background threads (the search indexer) let go of the data dir
        // shortly after the server returns; wait, so that a temporary dir
        // is removed whole and a kept one can be opened again at once.
        local::wait_released_within(&setup.data_dir, DEMO_RELEASE_WAIT_MS).await?;
    }
    Ok(())
}

/// The stored demo of `base`, or a new one when `base` holds none.
fn open_state(base: &Path) -> Result<DemoState, DemoError> {
    if let Some(state) = state::load(base).map_err(DemoError::Setup)? {
        return Ok(state);
    }
    if let Some(centre) = DEMO_CENTRES
        .iter()
        .find(|centre| base.join(centre.code).exists())
    {
        return Err(DemoError::Setup(format!(
            "{} holds a data dir {} but no {}: it is not a demo this seednet can start again; remove it or choose another --dir",
            base.display(),
            centre.code,
            state::DEMO_STATE_FILE_NAME
        )));
    }
    Ok(DemoState {
        format: DEMO_STATE_FORMAT,
        ..DemoState::default()
    })
}

/// The ports of the nodes `stored..target` (index by centre), said when
/// they are not the default ones.
fn choose_ports(
    choice: PortChoice,
    stored: usize,
    target: usize,
    options: &DemoOptions,
) -> Result<BTreeMap<usize, u16>, DemoError> {
    let fixed = |base: u16| -> Option<BTreeMap<usize, u16>> {
        (stored..target)
            .map(|index| {
                let port = base.checked_add(u16::try_from(index).ok()?)?;
                local::port_is_free(port).then_some((index, port))
            })
            .collect()
    };
    let random = || -> Result<BTreeMap<usize, u16>, DemoError> {
        (stored..target)
            .map(|index| Ok((index, local::free_port()?)))
            .collect()
    };
    match choice {
        PortChoice::Base(base) => fixed(base).ok_or_else(|| {
            DemoError::Setup(format!(
                "the ports {base} to {} are not all free; choose another --base-port (0 picks random ports)",
                u32::from(base) + target as u32 - 1
            ))
        }),
        PortChoice::Random => random(),
        PortChoice::Default => match fixed(DEMO_BASE_PORT_DEFAULT) {
            Some(ports) => Ok(ports),
            None => {
                say(
                    options,
                    &format!(
                        "the ports {DEMO_BASE_PORT_DEFAULT} to {} are not all free: using random ports (--base-port P chooses others)",
                        DEMO_BASE_PORT_DEFAULT as usize + target - 1
                    ),
                );
                random()
            }
        },
    }
}

impl Network {
    /// Starts the node of centre `index`: from the state when it is stored,
    /// else `seednet init` first (on its port from `ports`).
    async fn start_node(
        &mut self,
        index: usize,
        ports: &BTreeMap<usize, u16>,
    ) -> Result<(), DemoError> {
        let centre = DEMO_CENTRES[index];
        let setup = match self.state.nodes.get(index) {
            Some(stored) => stored.setup(&self.base),
            None => {
                let port = ports[&index];
                let languages: Vec<&str> = if centre.lang == "en" {
                    vec!["en"]
                } else {
                    vec![centre.lang, "en"]
                };
                let setup = init_node_at(
                    &self.base.join(centre.code),
                    centre.name,
                    centre.country,
                    &languages,
                    DEMO_SYNC_INTERVAL_MS,
                    port,
                )
                .await?;
                self.state.nodes.push(StateNode::new(centre.code, &setup));
                self.save()?;
                setup
            }
        };
        self.nodes.push(LocalNode::start(setup).await?);
        Ok(())
    }

    /// Links every node not linked yet with each node before it.
    async fn link_pending(&mut self) -> Result<(), DemoError> {
        for index in 0..self.nodes.len() {
            if self.state.nodes[index].linked {
                continue;
            }
            for earlier in 0..index {
                self.nodes[index].link_with(&self.nodes[earlier]).await?;
            }
            self.state.nodes[index].linked = true;
            self.save()?;
        }
        Ok(())
    }

    /// The running node that publishes the records of `centre` now: its own
    /// when the centre takes part (none until it has joined), else its host's.
    fn publisher(&self, centre: &str) -> Option<&LocalNode> {
        let position = |code: &str| DEMO_CENTRES.iter().position(|c| c.code == code);
        let own = position(centre)?;
        let index = if own < self.target {
            own
        } else {
            position(DEMO_CENTRES[own].host)?
        };
        self.nodes.get(index)
    }

    /// Publishes every loaded record not published yet whose publisher runs
    /// and whose loaded sources are published; returns how many.
    async fn publish_pending(&mut self) -> Result<usize, DemoError> {
        let loaded: BTreeSet<String> = self
            .records
            .iter()
            .map(|record| record.reference.clone())
            .collect();
        let mut count = 0;
        for position in 0..self.order.len() {
            let record = &self.records[self.order[position]];
            if self.state.published.contains_key(&record.reference) {
                continue;
            }
            let sources_ready = record.adapted_from.iter().all(|source| {
                !loaded.contains(source) || self.state.published.contains_key(source)
            });
            let Some(node) = self.publisher(record.centre).filter(|_| sources_ready) else {
                continue;
            };
            let answer = node
                .publish(record.content_with(&self.state.published))
                .await?;
            let key = serde_json::json!({
                "origin": answer["signed"]["origin"],
                "id": answer["signed"]["id"],
            });
            let reference = record.reference.clone();
            self.state.published.insert(reference, key);
            self.save()?;
            count += 1;
        }
        Ok(count)
    }

    fn save(&self) -> Result<(), DemoError> {
        state::save(&self.base, &self.state).map_err(DemoError::Setup)
    }

    /// Published records by centre, and the relations written.
    fn counts_line(&self) -> String {
        let mut by_centre: BTreeMap<&str, usize> = BTreeMap::new();
        let mut relations = 0;
        for record in &self.records {
            if self.state.published.contains_key(&record.reference) {
                *by_centre.entry(record.centre).or_default() += 1;
                relations += record
                    .adapted_from
                    .iter()
                    .filter(|source| self.state.published.contains_key(*source))
                    .count();
            }
        }
        let counts: Vec<String> = DEMO_CENTRES
            .iter()
            .filter_map(|c| by_centre.get(c.code).map(|n| format!("{} {n}", c.country)))
            .collect();
        format!(
            "sample records by centre: {}; {relations} of them adapted from another record (sample data: invented projects, example domains)",
            counts.join(", ")
        )
    }

    /// Polls every node's record count until each holds every published record.
    async fn wait_converged(
        &self,
        options: &DemoOptions,
        started: Instant,
    ) -> Result<Duration, DemoError> {
        let expected = self.state.published.len() as u64;
        let total = expected * self.nodes.len() as u64;
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
        let waiting_since = Instant::now();
        loop {
            let mut held = 0;
            let mut detail = Vec::new();
            for node in &self.nodes {
                let (live, _) = node.record_counts().await?;
                held += live.min(expected);
                detail.push(format!("{}: {live}", node.url()));
            }
            bar.set_position(held);
            if held == total {
                bar.finish_with_message("converged");
                return Ok(started.elapsed());
            }
            if waiting_since.elapsed() > Duration::from_millis(DEMO_CONVERGE_TIMEOUT_MS) {
                bar.abandon_with_message("not converged");
                return Err(DemoError::NotConverged {
                    timeout_ms: DEMO_CONVERGE_TIMEOUT_MS,
                    detail: detail.join(", "),
                });
            }
            tokio::time::sleep(Duration::from_millis(CONVERGE_POLL_MS)).await;
        }
    }
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
