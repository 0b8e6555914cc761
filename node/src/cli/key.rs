//! `seednet key rotate`: replaces the node key on the running node through
//! its admin API (`POST /api/v1/node/key/rotate`), so the node switches keys
//! without a restart and can sign the rotation statement with the old key it
//! holds (`docs/PROTOCOL-federation.md` 9.9, `docs/OPERATIONS.md`).

use anyhow::{Context, Result};
use clap::Subcommand;
use reqwest::Method;
use seednet_node::federation::rotation::RotationReport;

use super::peer::AdminTarget;

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Replace the node key: the old key signs a rotation statement sent to every active peer; each peer's admin must approve it.
    Rotate {
        /// Why, shown to the peers' admins (at most 500 characters).
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Send the rotation statements again (signed by the retired keys) to every active peer, e.g. one that was unreachable.
    ResendRotation {
        #[arg(long)]
        json: bool,
    },
}

pub async fn key(target: &AdminTarget, command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::Rotate { reason, json } => {
            let value = target
                .call(
                    Method::POST,
                    "/api/v1/node/key/rotate",
                    Some(serde_json::json!({ "reason": reason })),
                )
                .await?;
            if json {
                println!("{value}");
                return Ok(());
            }
            let report: RotationReport =
                serde_json::from_value(value).context("the node sent an unexpected report")?;
            print_report(&report);
            Ok(())
        }
        KeyCommand::ResendRotation { json } => {
            let value = target
                .call(Method::POST, "/api/v1/node/key/rotations/resend", None)
                .await?;
            if json {
                println!("{value}");
                return Ok(());
            }
            let reports: Vec<RotationReport> = serde_json::from_value(value["rotations"].clone())
                .context("the node sent an unexpected report")?;
            if reports.is_empty() {
                println!("this node has not rotated its key");
            }
            for report in &reports {
                print_report(report);
            }
            Ok(())
        }
    }
}

fn print_report(report: &RotationReport) {
    println!("old node id: {}", report.old_node_id);
    println!("new node id: {}", report.new_node_id);
    println!(
        "old key kept in {} (back it up with the new key)",
        report.retired_key_file
    );
    for peer in &report.peers {
        match &peer.error {
            None => println!(
                "  {}: rotation delivered; waiting for its admin",
                peer.node_id
            ),
            Some(error) => println!("  {}: NOT delivered: {error}", peer.node_id),
        }
    }
    if report.peers.is_empty() {
        println!("no active peers");
    }
}
