//! `seednet backup` and `seednet restore`.
//!
//! A backup is a directory:
//!
//! | file | what |
//! | --- | --- |
//! | `manifest.json` | format version, node id, time, change-log head, record counts, each file's size and SHA-256 |
//! | `records.jsonl` | every stored signed record version, tombstones included, in change-log order (the `export --format jsonl` lines) |
//! | `rotations.json` | the key rotation statements the node signed (JSON array of signed statements) |
//! | `seednet.toml` | the configuration |
//! | `node.key.retired-*` | keys retired by rotations (mode 0600) |
//! | `node.key` | only with `--include-key` (mode 0600) |
//!
//! The records come from the change log, through the running node
//! (`GET /api/v1/backup/changes`, admin token: sled locks the data dir of a
//! running node) or straight from a stopped node's data dir; either way the
//! same page function (`storage::changes_page`) reads them, and paging until
//! the cursor reaches the head yields every record as of that head, however
//! many publishes run meanwhile. The files beside the database are read from
//! the data dir, so the node key never crosses HTTP. Everything is written
//! into a temporary sibling of the output directory, fsynced, then renamed:
//! a backup directory either is complete or does not exist.
//!
//! Restore checks the manifest and every file's digest, refuses a data dir
//! that is not empty, writes the files, then applies the signed records
//! through the import path (each one verified, applied in order) and checks
//! the counts against the manifest.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use seednet_node::api::backup::BackupPage;
use seednet_node::config::{self, Config, Overrides, CONFIG_FILE_NAME, KEY_FILE_NAME};
use seednet_node::node::{self, OpenError, OpenNode};
use seednet_node::storage::{self, StorageError, SCHEMA_VERSION};
use seednet_node::tokens::{self, Role};
use seednet_node::transfer::{self, ExportFormat, ExportWriter, ImportEntry, ImportFormat};
use seednet_node::{clock, keyfile};
use seednet_protocol::federation::wire::{ChangesQuery, KeyRotation};
use seednet_protocol::{NodeId, NodeKey, Record, RecordKey, Signed};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::remote::Remote;
use super::{import_local, ImportCounts, Local};

/// What `manifest.json` says in `format`.
pub const BACKUP_FORMAT: &str = "seednet-backup";
/// Version of the backup layout; restore refuses a newer one.
pub const BACKUP_FORMAT_VERSION: u64 = 1;
const MANIFEST_FILE_NAME: &str = "manifest.json";
const RECORDS_FILE_NAME: &str = "records.jsonl";
const ROTATIONS_FILE_NAME: &str = "rotations.json";
/// Largest manifest restore reads.
const MANIFEST_BYTES_MAX: u64 = 1024 * 1024;
/// Most change-log pages one backup reads (500 records each: 50 million
/// records); a node whose log keeps growing faster than it is read ends
/// here instead of never.
const BACKUP_PAGES_MAX: u64 = 100_000;

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The backup directory to create; it must not exist. It is written
    /// under a temporary name beside it and renamed once complete and
    /// fsynced.
    #[arg(long, short, value_name = "DIR")]
    output: PathBuf,
    /// Also copy the node key (node.key, mode 0600). Whoever reads the backup
    /// can then sign as the centre: keep it encrypted and offline. Without
    /// it, restore needs the key kept elsewhere (`restore --key FILE`).
    #[arg(long)]
    include_key: bool,
    /// Print the manifest as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// A backup directory written by `seednet backup`.
    #[arg(value_name = "BACKUP_DIR")]
    backup: PathBuf,
    /// The node key to restore with when the backup has none: the centre's
    /// node.key (mode 0600) kept apart from the backups. It must be the key
    /// of the node id in the manifest.
    #[arg(long, value_name = "FILE", conflicts_with = "new_key")]
    key: Option<PathBuf>,
    /// Restore under a newly generated key when the centre's key is lost: a
    /// new node id; the backed-up records stay signed by the old id and are
    /// read-only here, and every peer must be linked again.
    #[arg(long)]
    new_key: bool,
}

/// `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    format_version: u64,
    node_id: NodeId,
    created_at: String,
    software: String,
    schema_version: u64,
    /// The change-log sequence the records are a copy as of.
    change_log_head: u64,
    /// Distinct records (the newest version of each in the file).
    records: u64,
    live: u64,
    deleted: u64,
    /// Lines of `records.jsonl` (more than `records` when records changed
    /// while the backup ran: their older versions come first).
    versions_in_file: u64,
    origins: Vec<OriginCount>,
    /// Key rotation statements in `rotations.json`.
    key_rotations: u64,
    includes_node_key: bool,
    files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct OriginCount {
    origin: NodeId,
    live: u64,
    deleted: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    name: String,
    bytes: u64,
    sha256: String,
}

// ------------------------------------------------------------------ backup

/// Where the records come from.
enum Source {
    Local(Box<OpenNode>),
    Remote(Remote),
}

impl Source {
    async fn page(&self, since: u64) -> Result<BackupPage> {
        match self {
            Source::Remote(remote) => remote.backup_changes(since).await,
            Source::Local(node) => {
                let storage = Arc::clone(&node.storage);
                let query = ChangesQuery::new(Some(since), None).expect("default limit is valid");
                let page = tokio::task::spawn_blocking(move || {
                    storage::changes_page(storage.as_ref(), query, &|_| true)
                })
                .await??;
                Ok(BackupPage {
                    records: page.records,
                    next_cursor: page.next_cursor,
                    head_seq: page.head_seq,
                })
            }
        }
    }

    /// The rotation statements the node signed, each verified.
    async fn rotations(&self) -> Result<Vec<Signed<KeyRotation>>> {
        let wires = match self {
            Source::Remote(remote) => remote.backup_rotations().await?.rotations,
            Source::Local(node) => {
                let storage = Arc::clone(&node.storage);
                let rotations = tokio::task::spawn_blocking(move || {
                    storage::load_own_rotations(storage.as_ref())
                })
                .await??;
                return Ok(rotations);
            }
        };
        wires
            .iter()
            .map(|wire| {
                Signed::<KeyRotation>::from_wire(wire).map_err(|e| {
                    anyhow!("the node sent a rotation statement that does not verify: {e}")
                })
            })
            .collect()
    }

    async fn close(self) -> Result<()> {
        if let Source::Local(node) = self {
            tokio::task::spawn_blocking(move || node.storage.shutdown()).await??;
        }
        Ok(())
    }
}

/// Opens the stopped node's data dir, or, when the node runs (the database
/// is locked), talks to it at `--node` or the config's listen address.
async fn connect(
    config: &Config,
    node_url: Option<String>,
    token: Option<String>,
) -> Result<Source> {
    if let Some(url) = node_url {
        return Ok(Source::Remote(Remote::new(&url, token)?));
    }
    let open_config = config.clone();
    match tokio::task::spawn_blocking(move || node::open(&open_config)).await? {
        Ok(node) => Ok(Source::Local(Box::new(node))),
        Err(OpenError::Storage(StorageError::Locked { .. })) => {
            let mut listen = config.listen;
            if listen.ip().is_unspecified() {
                listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            if token.is_none() {
                bail!(
                    "the node is running (it holds {}): a backup goes through it; pass an admin --token (or SEEDNET_TOKEN)",
                    config.db_dir().display()
                );
            }
            Ok(Source::Remote(Remote::new(
                &format!("http://{listen}"),
                token,
            )?))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn backup(
    data_dir: &Path,
    node_url: Option<String>,
    token: Option<String>,
    args: BackupArgs,
) -> Result<()> {
    let config = Config::load(data_dir, &config::process_env(), &Overrides::default())
        .with_context(|| format!("cannot read the config of {}", data_dir.display()))?;
    let output = args.output.clone();
    if output.exists() {
        bail!(
            "{} already exists: a backup goes into a new directory",
            output.display()
        );
    }
    let name = output
        .file_name()
        .ok_or_else(|| anyhow!("{} names no directory", output.display()))?
        .to_string_lossy()
        .into_owned();
    let parent = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        bail!("{} is not a directory", parent.display());
    }
    let partial = parent.join(format!(".{name}.partial-{}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let source = connect(&config, node_url, token).await?;
    let written = write_backup(&config, &source, &partial, args.include_key).await;
    source.close().await?;
    let manifest = match written {
        Ok(manifest) => manifest,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(error);
        }
    };
    sync_dir(&partial)?;
    std::fs::rename(&partial, &output).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            output.display()
        )
    })?;
    sync_dir(&parent)?;
    if args.include_key {
        eprintln!(
            "warning: {} holds the node key: whoever reads it can sign as the centre; keep it encrypted and offline",
            output.display()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&manifest)?);
    } else {
        println!(
            "backup of node {} in {}: {} records ({} live, {} deleted) as of change-log head {}{}",
            manifest.node_id,
            output.display(),
            manifest.records,
            manifest.live,
            manifest.deleted,
            manifest.change_log_head,
            if manifest.includes_node_key {
                ", node key included"
            } else {
                ", without the node key"
            }
        );
    }
    Ok(())
}

/// Writes every file of the backup into `dir` (which exists and is empty).
async fn write_backup(
    config: &Config,
    source: &Source,
    dir: &Path,
    include_key: bool,
) -> Result<Manifest> {
    let key_path = config.key_path();
    // The node whose records these are: the node that answers, and the
    // data dir's key must be the same.
    let node_id = match source {
        Source::Local(node) => node.publisher.node_id(),
        Source::Remote(remote) => remote.node_id().await?,
    };
    let key = keyfile::load(&key_path)?;
    if key.node_id() != node_id {
        bail!(
            "the node that answers is {node_id}, but {} is the key of {}: --node and --data-dir name different nodes",
            key_path.display(),
            key.node_id()
        );
    }

    let records_path = dir.join(RECORDS_FILE_NAME);
    let file = new_file(&records_path, 0o600)?;
    let sync_handle = file.try_clone()?;
    let mut writer = ExportWriter::new(
        ExportFormat::Jsonl,
        std::io::BufWriter::new(file),
        &config.public_url,
    )?;
    let progress =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "backup {bar:40} {pos}/{len} change-log entries {eta}",
        )
        .expect("valid template"),
    );
    let mut newest: HashMap<RecordKey, (u64, bool)> = HashMap::new();
    let mut versions_in_file = 0u64;
    let mut since = 0u64;
    let mut pages = 0u64;
    let head = loop {
        let page = source.page(since).await?;
        pages += 1;
        for wire in &page.records {
            let signed = Signed::<Record>::from_wire(wire)
                .map_err(|e| anyhow!("the node sent a record that does not verify: {e}"))?;
            let record = signed.value();
            let entry = newest.entry(record.key.clone()).or_insert((0, false));
            if record.version > entry.0 {
                *entry = (record.version, record.is_tombstone());
            }
            writer.write(&signed)?;
            versions_in_file += 1;
        }
        progress.set_length(page.head_seq);
        progress.set_position(page.next_cursor.min(page.head_seq));
        if page.next_cursor >= page.head_seq {
            break page.head_seq;
        }
        if page.next_cursor <= since {
            bail!(
                "the node's change log did not advance past {since} (head {})",
                page.head_seq
            );
        }
        if pages >= BACKUP_PAGES_MAX {
            bail!("the change log grew faster than it was read for {pages} pages");
        }
        since = page.next_cursor;
    };
    progress.finish_and_clear();
    writer.finish()?;
    sync_handle
        .sync_all()
        .with_context(|| format!("cannot write {}", records_path.display()))?;

    let mut by_origin: BTreeMap<NodeId, (u64, u64)> = BTreeMap::new();
    for (key, (_, deleted)) in &newest {
        let counts = by_origin.entry(key.origin).or_default();
        if *deleted {
            counts.1 += 1;
        } else {
            counts.0 += 1;
        }
    }
    let origins: Vec<OriginCount> = by_origin
        .into_iter()
        .map(|(origin, (live, deleted))| OriginCount {
            origin,
            live,
            deleted,
        })
        .collect();

    let rotations = source.rotations().await?;
    let mut file = new_file(&dir.join(ROTATIONS_FILE_NAME), 0o600)?;
    let wires: Vec<_> = rotations.iter().map(Signed::to_wire).collect();
    file.write_all(serde_json::to_string(&wires)?.as_bytes())?;
    file.sync_all()?;

    // The files beside the database.
    let mut names = vec![
        RECORDS_FILE_NAME.to_string(),
        ROTATIONS_FILE_NAME.to_string(),
    ];
    copy_file(
        &config.data_dir.join(CONFIG_FILE_NAME),
        &dir.join(CONFIG_FILE_NAME),
        0o600,
    )?;
    names.push(CONFIG_FILE_NAME.to_string());
    for retired in keyfile::retired_ids(&key_path)? {
        let from = keyfile::retired_path(&key_path, &retired);
        let name = file_name(&from)?;
        copy_file(&from, &dir.join(&name), 0o600)?;
        names.push(name);
    }
    if include_key {
        keyfile::write_new(&dir.join(KEY_FILE_NAME), &key)?;
        names.push(KEY_FILE_NAME.to_string());
    }
    let mut files = Vec::new();
    for name in names {
        files.push(file_entry(dir, &name)?);
    }
    let manifest = Manifest {
        format: BACKUP_FORMAT.to_string(),
        format_version: BACKUP_FORMAT_VERSION,
        node_id,
        created_at: clock::now_timestamp().to_string(),
        software: seednet_node::SOFTWARE.to_string(),
        schema_version: SCHEMA_VERSION,
        change_log_head: head,
        records: newest.len() as u64,
        live: origins.iter().map(|o| o.live).sum(),
        deleted: origins.iter().map(|o| o.deleted).sum(),
        versions_in_file,
        origins,
        key_rotations: rotations.len() as u64,
        includes_node_key: include_key,
        files,
    };
    let mut file = new_file(&dir.join(MANIFEST_FILE_NAME), 0o600)?;
    file.write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(manifest)
}

fn new_file(path: &Path, mode: u32) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// Copies `from` to the new file `to` with `mode`, fsynced.
fn copy_file(from: &Path, to: &Path, mode: u32) -> Result<()> {
    let bytes = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    let mut file = new_file(to, mode)?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", to.display()))
}

fn file_name(path: &Path) -> Result<String> {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow!("{} names no file", path.display()))
}

fn file_entry(dir: &Path, name: &str) -> Result<FileEntry> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(FileEntry {
        name: name.to_string(),
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|handle| handle.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))
}

// ----------------------------------------------------------------- restore

/// Reads and checks the manifest and the digest of every file it lists.
fn read_manifest(backup: &Path) -> Result<Manifest> {
    let path = backup.join(MANIFEST_FILE_NAME);
    let size = std::fs::metadata(&path)
        .with_context(|| {
            format!(
                "{} is not a seednet backup (no {MANIFEST_FILE_NAME})",
                backup.display()
            )
        })?
        .len();
    if size > MANIFEST_BYTES_MAX {
        bail!(
            "{} is {size} bytes, over the limit of {MANIFEST_BYTES_MAX}",
            path.display()
        );
    }
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(&path)?)
        .with_context(|| format!("{} is not a seednet backup manifest", path.display()))?;
    if manifest.format != BACKUP_FORMAT {
        bail!(
            "{} is not a seednet backup manifest (format {:?})",
            path.display(),
            manifest.format
        );
    }
    if manifest.format_version > BACKUP_FORMAT_VERSION {
        bail!(
            "the backup has format version {}, this seednet reads up to {BACKUP_FORMAT_VERSION}: restore it with a newer seednet",
            manifest.format_version
        );
    }
    for entry in &manifest.files {
        if entry.name.contains('/') || entry.name.starts_with('.') {
            bail!(
                "the manifest names a file outside the backup: {:?}",
                entry.name
            );
        }
        let found = file_entry(backup, &entry.name)?;
        if found.bytes != entry.bytes || found.sha256 != entry.sha256 {
            bail!(
                "{} does not match the manifest ({} bytes, SHA-256 {}; expected {} bytes, {}): the backup is damaged",
                backup.join(&entry.name).display(),
                found.bytes,
                found.sha256,
                entry.bytes,
                entry.sha256
            );
        }
    }
    for required in [RECORDS_FILE_NAME, CONFIG_FILE_NAME] {
        if !manifest.files.iter().any(|entry| entry.name == required) {
            bail!("the backup has no {required}");
        }
    }
    Ok(manifest)
}

/// Refuses a data dir that exists and is not an empty directory.
fn check_empty(data_dir: &Path) -> Result<()> {
    if !data_dir.exists() {
        return Ok(());
    }
    if !data_dir.is_dir() {
        bail!("{} is not a directory", data_dir.display());
    }
    let mut entries = std::fs::read_dir(data_dir)
        .with_context(|| format!("cannot read {}", data_dir.display()))?;
    if entries.next().is_some() {
        bail!(
            "{} is not empty: restore only into a new or empty data dir (it never overwrites a node)",
            data_dir.display()
        );
    }
    Ok(())
}

/// The key the restored node signs with, and whether it is the backed-up node's.
fn choose_key(backup: &Path, manifest: &Manifest, args: &RestoreArgs) -> Result<(NodeKey, bool)> {
    let has_key = manifest
        .files
        .iter()
        .any(|entry| entry.name == KEY_FILE_NAME);
    if has_key && (args.key.is_some() || args.new_key) {
        bail!("the backup holds the node key: leave out --key and --new-key");
    }
    let key = if has_key {
        keyfile::load(&backup.join(KEY_FILE_NAME))?
    } else if let Some(path) = &args.key {
        keyfile::load(path)?
    } else if args.new_key {
        return Ok((NodeKey::from_seed(rand::random()), false));
    } else {
        bail!(
            "the backup has no node key (it was made without --include-key). Either pass --key FILE with the centre's node.key kept apart from the backups (node id {}), or, only if that key is lost, --new-key: the node then gets a new id, its backed-up records stay signed by the old one and become read-only, and every peer must be linked again",
            manifest.node_id
        );
    };
    if key.node_id() != manifest.node_id {
        bail!(
            "that key belongs to node {}, the backup is of node {}",
            key.node_id(),
            manifest.node_id
        );
    }
    Ok((key, true))
}

pub async fn restore(data_dir: &Path, args: RestoreArgs) -> Result<()> {
    let manifest = read_manifest(&args.backup)?;
    check_empty(data_dir)?;
    let (key, same_identity) = choose_key(&args.backup, &manifest, &args)?;
    let result = restore_into(data_dir, &args.backup, &manifest, &key, same_identity).await;
    let (counts, admin_token) = match result {
        Ok(done) => done,
        Err(error) => {
            return Err(error.context(format!(
                "restore failed; {} is incomplete: empty it before trying again",
                data_dir.display()
            )))
        }
    };
    println!(
        "restored {} records ({} live, {} deleted; {} versions applied) of node {} into {}",
        manifest.records,
        manifest.live,
        manifest.deleted,
        counts.applied,
        manifest.node_id,
        data_dir.display()
    );
    if same_identity {
        println!("node id {} (the same key)", key.node_id());
    } else {
        println!(
            "NEW node id {}: the records of {} are read-only here; ask every peer's admin to link again (seednet peer add)",
            key.node_id(),
            manifest.node_id
        );
    }
    println!("admin token (shown once, keep it safe): {admin_token}");
    println!(
        "not in a backup: tokens, accounts, peers, the blocklist and the audit log; create accounts (seednet account add) and check peer list before starting the node"
    );
    Ok(())
}

/// Writes the files, applies the records, checks the counts, creates an
/// admin token. Returns the import counts and the token.
async fn restore_into(
    data_dir: &Path,
    backup: &Path,
    manifest: &Manifest,
    key: &NodeKey,
    same_identity: bool,
) -> Result<(ImportCounts, String)> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    copy_file(
        &backup.join(CONFIG_FILE_NAME),
        &data_dir.join(CONFIG_FILE_NAME),
        0o600,
    )?;
    for entry in &manifest.files {
        if entry.name.starts_with(&format!("{KEY_FILE_NAME}.retired-")) {
            copy_file(
                &backup.join(&entry.name),
                &data_dir.join(&entry.name),
                0o600,
            )?;
        }
    }
    keyfile::write_new(&data_dir.join(KEY_FILE_NAME), key)?;
    sync_dir(data_dir)?;

    let config = Config::load(data_dir, &config::process_env(), &Overrides::default())?;
    let records_path = backup.join(RECORDS_FILE_NAME);
    let text = std::fs::read_to_string(&records_path)
        .with_context(|| format!("cannot read {}", records_path.display()))?;
    let parsed = transfer::parse_import(&text, ImportFormat::Jsonl)
        .map_err(|e| anyhow!("{}: {e}", records_path.display()))?;
    if let Some(error) = parsed.errors.first() {
        bail!("{}: {error}", records_path.display());
    }
    if parsed
        .rows
        .iter()
        .any(|row| matches!(row.entry, ImportEntry::Content(_)))
    {
        bail!("{} holds unsigned record content", records_path.display());
    }

    // The rotation statements are the old keys' words: only a node that
    // kept the identity can send them again.
    let rotations = if same_identity {
        read_rotations(backup, manifest)?
    } else {
        Vec::new()
    };

    let open_config = config.clone();
    let node = tokio::task::spawn_blocking(move || node::open(&open_config)).await??;
    if !rotations.is_empty() {
        storage::store_own_rotations(node.storage.as_ref(), &rotations)
            .wait()
            .await?;
    }
    let local = Local { config, node };
    let progress = indicatif::ProgressBar::with_draw_target(
        Some(parsed.rows.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "restore {bar:40} {pos}/{len} record versions {eta}",
        )
        .expect("valid template"),
    );
    let imported = import_local(&local, parsed.rows, &progress).await;
    progress.finish_and_clear();
    let checked = match imported {
        Ok(counts) => check_counts(&local, manifest).map(|()| counts),
        Err(error) => Err(error),
    };
    let token = match &checked {
        Ok(_) => {
            let (admin, write) =
                tokens::create(local.node.storage.as_ref(), Role::Admin, "restore")?;
            write.wait().await?;
            Some(admin.token)
        }
        Err(_) => None,
    };
    let storage = Arc::clone(&local.node.storage);
    tokio::task::spawn_blocking(move || storage.shutdown()).await??;
    let counts = checked?;
    Ok((counts, token.expect("created when the counts match")))
}

/// The rotation statements of the backup, each verified (none when the
/// backup has no `rotations.json`).
fn read_rotations(backup: &Path, manifest: &Manifest) -> Result<Vec<Signed<KeyRotation>>> {
    if !manifest
        .files
        .iter()
        .any(|entry| entry.name == ROTATIONS_FILE_NAME)
    {
        return Ok(Vec::new());
    }
    let path = backup.join(ROTATIONS_FILE_NAME);
    let wires: Vec<seednet_protocol::SignedWire> =
        serde_json::from_slice(&std::fs::read(&path)?)
            .with_context(|| format!("{} is not a list of signed statements", path.display()))?;
    wires
        .iter()
        .map(|wire| {
            Signed::<KeyRotation>::from_wire(wire)
                .map_err(|e| anyhow!("{}: a statement does not verify: {e}", path.display()))
        })
        .collect()
}

/// The restored storage holds exactly the manifest's records per origin.
fn check_counts(local: &Local, manifest: &Manifest) -> Result<()> {
    let stats = local.node.storage.stats();
    let restored: Vec<OriginCount> = stats
        .records_by_origin
        .iter()
        .map(|(origin, counts)| OriginCount {
            origin: *origin,
            live: counts.live,
            deleted: counts.deleted,
        })
        .collect();
    if restored != manifest.origins {
        bail!(
            "the restored records do not match the manifest: restored {restored:?}, manifest {:?}",
            manifest.origins
        );
    }
    Ok(())
}
