//! `seednet peer ...`, `seednet block ...` and `seednet demo`: peer links and
//! the origin blocklist are managed on the running node (it signs the link
//! requests and runs the sync), so these commands call its admin API.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use reqwest::Method;
use seednet_node::config::{self, Config, Overrides};
use seednet_node::demo::{self, DemoOptions};
use seednet_node::server;
use seednet_protocol::federation::wire::{PeerEntry, RepairReport};
use serde_json::Value;

/// Time limit of one admin call (adding a peer waits for the peer).
const PEER_COMMAND_TIMEOUT_MS: u64 = 60_000;

#[derive(Subcommand, Debug)]
pub enum PeerCommand {
    /// Add a peer by URL: fetch and pin its signed descriptor, send it a signed link request.
    Add {
        /// The peer's public base URL, e.g. https://gr.example.
        url: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a peer that asked for a link (its node id, 64 hex digits).
    Approve {
        node_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a link at once, both directions. Records already received are
    /// kept (flagged `revoked` in the records API) unless --purge is given.
    /// A new `peer approve` reverses it.
    Revoke {
        node_id: String,
        /// Also remove every record whose origin is that peer, from storage
        /// and search, and refuse its records from any relay until the peer
        /// is approved again (which then pulls them back from zero).
        #[arg(long)]
        purge: bool,
        #[arg(long)]
        json: bool,
    },
    /// Dismiss link requests this node's admin does not want: one (its node
    /// id) or, with --all-pending, every request still waiting. Nothing is
    /// revoked: a dismissed node may ask again (requests from unknown nodes
    /// are rate-limited, and unanswered ones expire after 30 days anyway).
    Dismiss {
        /// The requesting node's id (64 hex digits).
        #[arg(
            required_unless_present = "all_pending",
            conflicts_with = "all_pending"
        )]
        node_id: Option<String>,
        /// Dismiss every pending link request.
        #[arg(long)]
        all_pending: bool,
        #[arg(long)]
        json: bool,
    },
    /// Approve the key rotation a peer announced: pin its new key (its node id now, 64 hex digits).
    ApproveRotation {
        node_id: String,
        #[arg(long)]
        json: bool,
    },
    /// List peers: state, last sync, records received, lag, last error, pending key rotation.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run one repair pass (set reconciliation) with an active peer now and print its counts.
    Repair {
        node_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum BlockCommand {
    /// Refuse records of this origin node id, whoever relays them.
    Add { node_id: String },
    /// Accept records of this origin again.
    Remove { node_id: String },
    /// List blocked origins.
    List,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the nodes' data dirs here; run again with the same DIR to start the same network (default: a temporary dir removed at exit).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// How many centres: 4 (IT, GR, RO, SI) to 8 (then HR, ES, PT, IE join the running network one by one).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u8).range(4..=8))]
    pub nodes: u8,
    /// Listen on P, P+1, ... (default: 8470, 8471, ... when free, else random ports; 0: random ports).
    #[arg(long, value_name = "P")]
    pub base_port: Option<u16>,
    /// Publish only the first K sample records of each centre (quick runs and tests).
    #[arg(long, value_name = "K")]
    pub sample_limit: Option<usize>,
    /// Exit with status 0 once all nodes have converged (for scripts and tests).
    #[arg(long)]
    pub exit_after_converge: bool,
    /// No progress bar and fewer messages.
    #[arg(long)]
    pub quiet: bool,
    // The global options of other commands mean nothing to the demo: these
    // hidden ones take their place, so `demo --help` lists only the demo's
    // options and giving one is refused with a hint.
    #[arg(long = "data-dir", id = "data_dir", hide = true, value_name = "DIR")]
    pub stray_data_dir: Option<PathBuf>,
    #[arg(long = "node", id = "node", hide = true)]
    pub stray_node: Option<String>,
    #[arg(long = "token", id = "token", hide = true)]
    pub stray_token: Option<String>,
}

/// The running node an admin command talks to: `--node`, or the public URL
/// in the config of `--data-dir`.
pub struct AdminTarget {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl AdminTarget {
    pub fn new(
        data_dir: &Option<PathBuf>,
        node: Option<String>,
        token: Option<String>,
    ) -> Result<Self> {
        let base = match (node, data_dir) {
            (Some(url), _) => url,
            (None, Some(dir)) => {
                Config::load(dir, &config::process_env(), &Overrides::default())?.public_url
            }
            (None, None) => bail!(
                "peer, block and key commands talk to the running node: pass --node URL (or --data-dir)"
            ),
        };
        let token = token.ok_or_else(|| {
            anyhow!(
                "peer, block and key commands need an admin token: pass --token or set SEEDNET_TOKEN"
            )
        })?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(PEER_COMMAND_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(AdminTarget {
            base: base.trim_end_matches('/').to_string(),
            token,
            client,
        })
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let error = &value["error"];
            bail!(
                "{} {}: {}",
                status.as_u16(),
                error["code"].as_str().unwrap_or("error"),
                error["message"]
                    .as_str()
                    .unwrap_or("the node refused the request")
            );
        }
        Ok(value)
    }
}

fn print_entry(entry: &PeerEntry) {
    println!(
        "{}  {:<9}  {}  {}  {}",
        entry.node_id,
        format!("{:?}", entry.state).to_lowercase(),
        entry.country,
        entry.base_url,
        entry.name
    );
    println!(
        "    received {} records, lag {}, last sync {}, equivocations {}{}",
        entry.records_received,
        entry.lag,
        entry
            .last_sync_at
            .map(|t| t.to_string())
            .unwrap_or_else(|| "never".into()),
        entry.equivocations,
        entry
            .last_error
            .as_ref()
            .map(|e| format!(", last error: {e}"))
            .unwrap_or_default()
    );
    if let Some(requested_at) = entry.requested_at {
        println!(
            "    asked at {requested_at}; approve with: seednet peer approve {0}, or dismiss with: seednet peer dismiss {0}",
            entry.node_id
        );
    }
    if !entry.former_node_ids.is_empty() {
        let former: Vec<String> = entry.former_node_ids.iter().map(|id| id.to_hex()).collect();
        println!("    former node ids: {}", former.join(", "));
    }
    if let Some(rotation) = &entry.pending_rotation {
        println!(
            "    PENDING KEY ROTATION to {} (signed {}, reason: {:?}); approve with: seednet peer approve-rotation {}",
            rotation.new_node_id, rotation.rotated_at, rotation.reason, entry.node_id
        );
    }
    if let Some(report) = &entry.last_repair {
        println!(
            "    last repair {}: {}",
            report
                .finished_at
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into()),
            repair_line(report)
        );
    }
}

fn repair_line(report: &RepairReport) -> String {
    let mut line = format!(
        "{} rounds, {} bytes sent, {} received; needed {}, fetched {}, applied {}; the peer lacks {}",
        report.rounds,
        report.bytes_sent,
        report.bytes_received,
        report.needed,
        report.fetched,
        report.applied,
        report.have
    );
    if let Some(error) = &report.error {
        line.push_str(&format!("; stopped: {error}"));
    }
    line
}

fn show(value: Value, json: bool) -> Result<()> {
    if json {
        println!("{value}");
    } else {
        let entry: PeerEntry =
            serde_json::from_value(value).context("the node sent an unexpected peer entry")?;
        print_entry(&entry);
    }
    Ok(())
}

pub async fn peer(target: &AdminTarget, command: PeerCommand) -> Result<()> {
    match command {
        PeerCommand::Add { url, json } => {
            let value = target
                .call(
                    Method::POST,
                    "/api/v1/peers",
                    Some(serde_json::json!({ "url": url })),
                )
                .await?;
            show(value, json)
        }
        PeerCommand::Approve { node_id, json } => {
            let value = target
                .call(
                    Method::POST,
                    &format!("/api/v1/peers/{node_id}/approve"),
                    None,
                )
                .await?;
            show(value, json)
        }
        PeerCommand::Revoke {
            node_id,
            purge,
            json,
        } => {
            let body = purge.then(|| serde_json::json!({ "purge": true }));
            let value = target
                .call(
                    Method::POST,
                    &format!("/api/v1/peers/{node_id}/revoke"),
                    body,
                )
                .await?;
            if !purge || json {
                return show(value, json);
            }
            show(value["peer"].clone(), false)?;
            println!(
                "purged {} records ({} change-log entries) of origin {node_id}",
                value["purged"]["records"], value["purged"]["changes"]
            );
            if let Some(pending) = value["index_pending"].as_str() {
                println!("the search index drops them when it next opens: {pending}");
            }
            Ok(())
        }
        PeerCommand::Dismiss {
            node_id,
            all_pending: _,
            json,
        } => {
            let path = match &node_id {
                Some(node_id) => format!("/api/v1/peers/{node_id}/dismiss"),
                None => "/api/v1/peers/pending/dismiss".to_string(),
            };
            let value = target.call(Method::POST, &path, None).await?;
            if json {
                println!("{value}");
            } else {
                println!("dismissed {} pending link request(s)", value["dismissed"]);
            }
            Ok(())
        }
        PeerCommand::ApproveRotation { node_id, json } => {
            let value = target
                .call(
                    Method::POST,
                    &format!("/api/v1/peers/{node_id}/rotation/approve"),
                    None,
                )
                .await?;
            show(value, json)
        }
        PeerCommand::Repair { node_id, json } => {
            let value = target
                .call(
                    Method::POST,
                    &format!("/api/v1/peers/{node_id}/repair"),
                    None,
                )
                .await?;
            if json {
                println!("{value}");
                return Ok(());
            }
            let report: RepairReport =
                serde_json::from_value(value).context("the node sent an unexpected report")?;
            println!("repair with {node_id}: {}", repair_line(&report));
            Ok(())
        }
        PeerCommand::List { json } => {
            let value = target.call(Method::GET, "/api/v1/peers", None).await?;
            if json {
                println!("{value}");
                return Ok(());
            }
            let peers: Vec<PeerEntry> = serde_json::from_value(value["peers"].clone())
                .context("the node sent an unexpected peer list")?;
            if peers.is_empty() {
                println!("no peers");
            }
            for entry in &peers {
                print_entry(entry);
            }
            Ok(())
        }
    }
}

pub async fn block(target: &AdminTarget, command: BlockCommand) -> Result<()> {
    match command {
        BlockCommand::Add { node_id } => {
            target
                .call(
                    Method::POST,
                    "/api/v1/blocked-origins",
                    Some(serde_json::json!({ "node_id": node_id })),
                )
                .await?;
            println!("blocked origin {node_id}");
        }
        BlockCommand::Remove { node_id } => {
            target
                .call(
                    Method::DELETE,
                    &format!("/api/v1/blocked-origins/{node_id}"),
                    None,
                )
                .await?;
            println!("unblocked origin {node_id}");
        }
        BlockCommand::List => {
            let value = target
                .call(Method::GET, "/api/v1/blocked-origins", None)
                .await?;
            let list = value["blocked_origins"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if list.is_empty() {
                println!("no blocked origins");
            }
            for origin in list {
                println!("{}", origin.as_str().unwrap_or_default());
            }
        }
    }
    Ok(())
}

pub async fn run_demo(args: DemoArgs) -> Result<()> {
    if args.stray_data_dir.is_some() || args.stray_node.is_some() || args.stray_token.is_some() {
        bail!("the demo takes no --data-dir, --node or --token: it sets up its own nodes (--dir DIR keeps their data)");
    }
    let ports = match args.base_port {
        None => demo::PortChoice::Default,
        Some(0) => demo::PortChoice::Random,
        Some(port) => demo::PortChoice::Base(port),
    };
    let options = DemoOptions {
        data_dir: args.dir.as_deref().map(Path::to_path_buf),
        exit_after_converge: args.exit_after_converge,
        quiet: args.quiet,
        nodes: usize::from(args.nodes),
        ports,
        sample_limit: args.sample_limit,
    };
    demo::run(options, server::shutdown_signal()).await?;
    Ok(())
}
