//! What a demo keeps in its folder besides the nodes' data dirs, so that
//! `seednet demo --dir DIR` can start the same network again: each node's
//! address, id and tokens, and which sample records were published where.
//!
//! Written after every change (a node set up, a record published), under a
//! temporary name then renamed, so an interrupted demo never publishes a
//! record twice when it is run again. It holds tokens: the file is mode 0600
//! and lives only in a demo's folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use seednet_protocol::NodeId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::local::NodeSetup;

/// The state file's name inside the demo folder.
pub const DEMO_STATE_FILE_NAME: &str = "demo.json";
/// The state file's format version.
pub const DEMO_STATE_FORMAT: u32 = 1;

/// One node of the demo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateNode {
    /// The centre code (`it`), also the data dir's name.
    pub centre: String,
    pub url: String,
    pub node_id: NodeId,
    pub admin_token: String,
    pub editor_token: String,
    /// Whether its links to the nodes before it were made.
    pub linked: bool,
}

/// The demo's state (see the module documentation).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DemoState {
    pub format: u32,
    pub nodes: Vec<StateNode>,
    /// Published sample records: symbolic reference → record key JSON
    /// (`{"origin", "id"}`).
    pub published: BTreeMap<String, Value>,
}

impl StateNode {
    pub fn new(centre: &str, setup: &NodeSetup) -> Self {
        StateNode {
            centre: centre.to_string(),
            url: setup.url.clone(),
            node_id: setup.node_id,
            admin_token: setup.admin_token.clone(),
            editor_token: setup.editor_token.clone(),
            linked: false,
        }
    }

    /// The setup to start this node again from `base`.
    pub fn setup(&self, base: &Path) -> NodeSetup {
        NodeSetup {
            data_dir: base.join(&self.centre),
            url: self.url.clone(),
            node_id: self.node_id,
            admin_token: self.admin_token.clone(),
            editor_token: self.editor_token.clone(),
        }
    }
}

fn path(base: &Path) -> PathBuf {
    base.join(DEMO_STATE_FILE_NAME)
}

/// The state of the demo in `base`: `Ok(None)` when there is none.
pub fn load(base: &Path) -> Result<Option<DemoState>, String> {
    let file = path(base);
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot read {}: {error}", file.display())),
    };
    let state: DemoState = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a demo state file: {e}", file.display()))?;
    if state.format != DEMO_STATE_FORMAT {
        return Err(format!(
            "{} has format {}, this seednet writes {DEMO_STATE_FORMAT}",
            file.display(),
            state.format
        ));
    }
    Ok(Some(state))
}

/// Writes the state (temporary file, then rename; mode 0600).
pub fn save(base: &Path, state: &DemoState) -> Result<(), String> {
    let file = path(base);
    let temporary = base.join(format!("{DEMO_STATE_FILE_NAME}.tmp"));
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
    write_private(&temporary, &bytes)
        .and_then(|()| std::fs::rename(&temporary, &file))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

#[cfg(unix)]
fn write_private(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)?;
    out.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(file, bytes)
}
