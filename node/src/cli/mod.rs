//! Command-line interface: argument definitions and what each command does.
//!
//! `record`, `import`, `export`, `token`, `account` and `status` work either on the local
//! data dir (direct storage access; refused while the node runs, because sled
//! locks the directory) or against a running node with `--node URL --token T`.
//! Both paths go through [`Target`], so a command is written once.

mod account;
mod backup;
mod key;
mod peer;
mod remote;
mod search;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use seednet_node::api::system::{node_status, CreatedToken, NodeStatus};
use seednet_node::config::{
    self, Config, ConfigFile, HttpSection, LogFormat, LogSection, NodeSection, Overrides,
    CONFIG_FILE_NAME,
};
use seednet_node::federation::apply::apply_imported;
use seednet_node::federation::blocklist::Blocklist;
use seednet_node::node::{self, OpenError, OpenNode};
use seednet_node::storage::{
    ListQuery, StorageError, APPLY_MANY_RECORDS_MAX, LIST_PAGE_RECORDS_MAX,
};
use seednet_node::tokens::{self, Role, TokenInfo};
use seednet_node::transfer::{
    self, ExportFormat, ExportWriter, ImportEntry, ImportFormat, IMPORT_ERRORS_SHOWN_MAX,
    IMPORT_FILE_BYTES_MAX,
};
use seednet_node::{keyfile, server};
use seednet_protocol::{Record, RecordContent, RecordId, RecordKey, Signed};

use remote::Remote;

/// Most publishes a local import keeps in flight (they share group commits).
const IMPORT_IN_FLIGHT_MAX: usize = 256;
/// Entries from which import shows a progress bar (on a terminal only).
const PROGRESS_BAR_ENTRIES_MIN: usize = 50;
/// Largest record file `record add|update` reads.
const RECORD_FILE_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// seednet: a node of the SEED competence centres' knowledge network.
///
/// Each centre runs a node that stores its signed records, serves a JSON API,
/// a web interface and multilingual search, and exchanges records with the
/// peers its admin approved. Start with `seednet init`, then `seednet serve`;
/// `seednet demo` runs a four-node network on this machine. See
/// docs/OPERATIONS.md.
#[derive(Parser, Debug)]
#[command(name = "seednet", version, propagate_version = true)]
pub struct Cli {
    /// The node's data dir (config, key, database).
    #[arg(long, global = true, env = "SEEDNET_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Talk to a running node at this URL instead of the local data dir.
    #[arg(long, global = true, env = "SEEDNET_NODE", value_name = "URL")]
    node: Option<String>,

    /// API token for --node (admin for token and status commands).
    #[arg(
        long,
        global = true,
        env = "SEEDNET_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// Log filter, e.g. `info` or `seednet_node=debug` (overrides SEEDNET_LOG and the config).
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a node: key (mode 0600), config, database, one admin and one editor token.
    Init(InitArgs),
    /// Run the node's HTTP server until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Publish, change, delete, read and list records.
    #[command(subcommand)]
    Record(RecordCommand),
    /// Import records from CSV, a JSON array or JSON lines (content or signed records).
    Import(ImportArgs),
    /// Export all records as JSON lines (signed, a full backup), CSV or JSON-LD.
    Export(ExportArgs),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Named accounts for people: add, list, disable, enable, reset-password, delete.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Show the node's id, record counts, change-log head and tokens.
    Status(JsonFlag),
    /// Manage peer links on the running node (add, approve, revoke, list, repair).
    #[command(subcommand)]
    Peer(peer::PeerCommand),
    /// Manage the origin blocklist on the running node.
    #[command(subcommand)]
    Block(peer::BlockCommand),
    /// Rotate the running node's key (peers' admins approve the new key).
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Start a demo network on 127.0.0.1: four linked nodes (IT, GR, RO, SI) with sample knowledge, up to eight with --nodes.
    Demo(peer::DemoArgs),
    /// Search a running node's records across languages (--node URL, else the data dir's listen address).
    Search(search::SearchArgs),
    /// Delete and rebuild the search index from storage (node stopped).
    Reindex,
    /// Write a consistent backup of the node (running or stopped) into a new directory.
    ///
    /// The backup holds every stored signed record version (tombstones
    /// included) as of one change-log position, the config, the retired key
    /// files and, only with --include-key, the node key, plus manifest.json
    /// (format version, node id, time, counts, each file's SHA-256). A
    /// running node is asked through its API (admin --token, and --node or
    /// the listen address of --data-dir's config); a stopped node's data dir
    /// is read directly. --data-dir is needed either way, for the files
    /// beside the database. The directory is written under a temporary name
    /// and renamed once complete. Not in a backup: tokens, accounts, peers,
    /// the blocklist and the audit log.
    Backup(backup::BackupArgs),
    /// Restore a backup into a new, empty data dir (--data-dir).
    ///
    /// Checks the manifest and every file's SHA-256, refuses a data dir that
    /// is not empty, writes the config and key files, applies every signed
    /// record version (each one verified), checks the counts against the
    /// manifest and prints a new admin token. The node keeps its node id only
    /// with its key: from the backup (--include-key) or --key FILE;
    /// --new-key starts a new identity. Then start it with `seednet serve`.
    Restore(backup::RestoreArgs),
}

#[derive(Args, Debug)]
struct InitArgs {
    /// Human name of the centre, e.g. "SEED Competence Centre Italy".
    #[arg(long)]
    name: String,
    /// ISO 3166-1 alpha-2 country code, e.g. IT.
    #[arg(long)]
    country: String,
    /// Public base URL where peers and users reach this node.
    #[arg(long, value_name = "PUBLIC_URL")]
    url: String,
    /// Languages the centre publishes in and its interface speaks, main one
    /// first [default: the country's own language, then English, e.g. IT gives
    /// it,en and GR el,en; only en for a country whose language is not known].
    #[arg(long, value_delimiter = ',', value_name = "LANG,...")]
    languages: Option<Vec<String>>,
    /// Listen address to write into the config (default 127.0.0.1:8470).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// Print {"node_id","admin_token","editor_token","config_path"} as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Listen address, overriding SEEDNET_LISTEN and the config.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// Public URL, overriding SEEDNET_PUBLIC_URL and the config.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Log format: text or json (overrides SEEDNET_LOG_FORMAT and the config).
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
}

#[derive(Subcommand, Debug)]
enum RecordCommand {
    /// Publish a new record from a JSON or TOML file of record content ("-" = JSON on stdin).
    Add {
        file: PathBuf,
        /// Print the signed record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publish a new version of one of this node's records.
    Update {
        /// Record id (of this node).
        id: String,
        file: PathBuf,
        /// Refuse unless the current version is this one.
        #[arg(long, value_name = "VERSION")]
        if_version: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Delete one of this node's records (publishes a signed tombstone).
    Delete {
        id: String,
        #[arg(long, value_name = "VERSION")]
        if_version: Option<u64>,
    },
    /// Print a record as signed JSON. KEY is ORIGIN/ID or, for own records, ID.
    Get { key: String },
    /// List records (one line each, or JSON lines with --json).
    List(ListArgs),
}

#[derive(Args, Debug)]
struct ListArgs {
    #[arg(long)]
    origin: Option<String>,
    #[arg(long)]
    kind: Option<String>,
    #[arg(long)]
    theme: Option<String>,
    #[arg(long)]
    country: Option<String>,
    #[arg(long)]
    lang: Option<String>,
    /// Page size (1 to 200).
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Continue from a previous page's cursor.
    #[arg(long)]
    cursor: Option<String>,
    /// Print signed records as JSON lines.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// The file to import.
    file: PathBuf,
    /// Format; guessed from the extension (.csv, .json, .jsonl) or content when absent.
    #[arg(long, value_enum)]
    format: Option<ImportFormat>,
    /// Import the good rows even if some are bad (bad rows are still reported).
    #[arg(long)]
    skip_invalid: bool,
}

#[derive(Args, Debug)]
struct ExportArgs {
    #[arg(long, value_enum, default_value = "jsonl")]
    format: ExportFormat,
    /// Write to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Create a token; it is shown once (only its hash is stored).
    Create {
        #[arg(long, value_enum)]
        role: Role,
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long)]
        json: bool,
    },
    /// List tokens (ids, roles, labels; never secrets).
    List(JsonFlag),
    /// Revoke a token by id.
    Revoke { id: String },
}

#[derive(Args, Debug)]
struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init(args) => {
            init_logging(cli.log.as_deref().unwrap_or("warn"), LogFormat::Text);
            init(&require_data_dir(&cli.data_dir)?, args).await
        }
        Command::Serve(args) => serve(&require_data_dir(&cli.data_dir)?, cli.log, args).await,
        Command::Demo(args) => {
            // Four nodes in one terminal: only errors unless asked.
            init_logging(cli.log.as_deref().unwrap_or("error"), LogFormat::Text);
            peer::run_demo(args).await
        }
        Command::Search(args) => {
            init_logging(cli.log.as_deref().unwrap_or("warn"), LogFormat::Text);
            search::search(cli.node, &cli.data_dir, args).await
        }
        Command::Reindex => {
            init_logging(cli.log.as_deref().unwrap_or("warn"), LogFormat::Text);
            search::reindex(&require_data_dir(&cli.data_dir)?).await
        }
        Command::Backup(args) => {
            init_logging(cli.log.as_deref().unwrap_or("warn"), LogFormat::Text);
            backup::backup(&require_data_dir(&cli.data_dir)?, cli.node, cli.token, args).await
        }
        Command::Restore(args) => {
            init_logging(cli.log.as_deref().unwrap_or("warn"), LogFormat::Text);
            backup::restore(&require_data_dir(&cli.data_dir)?, args).await
        }
        Command::Peer(command) => {
            init_logging(cli.log.as_deref().unwrap_or("warn"), LogFormat::Text);
            peer::peer(
                &peer::AdminTarget::new(&cli.data_dir, cli.node, cli.token)?,
                command,
            )
            .await
        }
        Command::Block(command) => {
            init_logging(cli.log.as_deref().unwrap_or("warn"), LogFormat::Text);
            peer::block(
                &peer::AdminTarget::new(&cli.data_dir, cli.node, cli.token)?,
                command,
            )
            .await
        }
        Command::Key(command) => {
            init_logging(cli.log.as_deref().unwrap_or("warn"), LogFormat::Text);
            key::key(
                &peer::AdminTarget::new(&cli.data_dir, cli.node, cli.token)?,
                command,
            )
            .await
        }
        command => {
            init_logging(cli.log.as_deref().unwrap_or("warn"), LogFormat::Text);
            let target = Target::connect(&cli.data_dir, cli.node, cli.token).await?;
            let result = run_on_target(&target, command).await;
            target.close().await?;
            result
        }
    }
}

async fn run_on_target(target: &Target, command: Command) -> Result<()> {
    match command {
        Command::Record(command) => record(target, command).await,
        Command::Import(args) => import(target, args).await,
        Command::Export(args) => export(target, args).await,
        Command::Token(command) => token(target, command).await,
        Command::Account(command) => account::account(target, command).await,
        Command::Status(flag) => status(target, flag.json).await,
        Command::Init(_)
        | Command::Serve(_)
        | Command::Demo(_)
        | Command::Peer(_)
        | Command::Block(_)
        | Command::Key(_)
        | Command::Search(_)
        | Command::Backup(_)
        | Command::Restore(_)
        | Command::Reindex => bail!("internal error: this command is not run against a target"),
    }
}

fn require_data_dir(data_dir: &Option<PathBuf>) -> Result<PathBuf> {
    data_dir
        .clone()
        .ok_or_else(|| anyhow!("no data dir: pass --data-dir DIR or set SEEDNET_DATA_DIR"))
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

// --------------------------------------------------------------- init/serve

async fn init(data_dir: &Path, args: InitArgs) -> Result<()> {
    let config_path = data_dir.join(CONFIG_FILE_NAME);
    if config_path.exists() {
        bail!(
            "{} already exists: this data dir is already initialised",
            config_path.display()
        );
    }
    let file = ConfigFile {
        node: NodeSection {
            name: args.name,
            public_url: args.url,
            languages: args
                .languages
                .unwrap_or_else(|| config::default_languages(&args.country)),
            country: args.country,
        },
        http: HttpSection {
            listen: Some(
                args.listen
                    .unwrap_or_else(|| config::LISTEN_DEFAULT.to_string()),
            ),
            ..HttpSection::default()
        },
        log: LogSection::default(),
        federation: Default::default(),
        search: Default::default(),
        accounts: Default::default(),
    };
    // Check every value before touching the disk.
    let config = Config::resolve(data_dir, &file, &Default::default(), &Overrides::default())?;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let key = keyfile::create(&config.key_path())?;
    std::fs::write(&config_path, file.to_toml())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let init_config = config.clone();
    let (node_id, admin, editor) = tokio::task::spawn_blocking(move || -> Result<_> {
        let opened = node::open(&init_config)?;
        let (admin, admin_write) = tokens::create(opened.storage.as_ref(), Role::Admin, "init")?;
        admin_write.wait_blocking()?;
        let (editor, editor_write) = tokens::create(opened.storage.as_ref(), Role::Editor, "init")?;
        editor_write.wait_blocking()?;
        opened.storage.shutdown()?;
        Ok((key.node_id(), admin.token, editor.token))
    })
    .await??;
    if args.json {
        let output = serde_json::json!({
            "node_id": node_id.to_string(),
            "admin_token": admin,
            "editor_token": editor,
            "config_path": config_path.display().to_string(),
        });
        println!("{output}");
    } else {
        println!("initialised node {node_id}");
        println!("config: {}", config_path.display());
        println!("admin token (shown once, keep it safe):  {admin}");
        println!("editor token (shown once, keep it safe): {editor}");
        println!("next: seednet serve --data-dir {}", data_dir.display());
    }
    Ok(())
}

async fn serve(data_dir: &Path, log: Option<String>, args: ServeArgs) -> Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        public_url: args.public_url,
        log_filter: log,
        log_format: args.log_format,
        ..Overrides::default()
    };
    let config = Config::load(data_dir, &config::process_env(), &overrides)?;
    init_logging(&config.log_filter, config.log_format);
    server::serve(config, server::shutdown_signal())
        .await
        .map_err(|error| match error {
            server::ServeError::Open(OpenError::Storage(StorageError::Locked { path })) => {
                anyhow!("the node is already running (the database {path} is locked)")
            }
            other => other.into(),
        })
}

// ------------------------------------------------------------------- target

/// Where a command acts: the local data dir or a running node.
enum Target {
    Local(Arc<Local>),
    Remote(Remote),
}

struct Local {
    config: Config,
    node: OpenNode,
}

impl Target {
    async fn connect(
        data_dir: &Option<PathBuf>,
        node_url: Option<String>,
        token: Option<String>,
    ) -> Result<Target> {
        if let Some(url) = node_url {
            return Ok(Target::Remote(Remote::new(&url, token)?));
        }
        let data_dir = data_dir.clone().ok_or_else(|| {
            anyhow!("no node to talk to: pass --data-dir DIR (local) or --node URL --token T")
        })?;
        let config = Config::load(&data_dir, &config::process_env(), &Overrides::default())?;
        let open_config = config.clone();
        let node = tokio::task::spawn_blocking(move || node::open(&open_config))
            .await?
            .map_err(|error| match error {
                OpenError::Storage(StorageError::Locked { .. }) => anyhow!(
                    "the node is running and holds the data dir {}; use --node URL --token T",
                    data_dir.display()
                ),
                other => other.into(),
            })?;
        Ok(Target::Local(Arc::new(Local { config, node })))
    }

    async fn close(&self) -> Result<()> {
        if let Target::Local(local) = self {
            let storage = Arc::clone(&local.node.storage);
            tokio::task::spawn_blocking(move || storage.shutdown()).await??;
        }
        Ok(())
    }

    fn own_key(&self, id: &str) -> Result<RecordId> {
        RecordId::parse(id)
            .ok_or_else(|| anyhow!("{id:?} is not a record id (1 to 64 of A-Z a-z 0-9 _ -)"))
    }

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Local) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let Target::Local(local) = self else {
            bail!("this needs the node's data dir (--data-dir), not a running node (--node)");
        };
        let local = Arc::clone(local);
        tokio::task::spawn_blocking(move || work(&local)).await?
    }
}

/// Reads a record content file: JSON (or "-" for JSON on stdin) or TOML.
fn read_content_file(path: &Path) -> Result<(RecordContent, Vec<u8>)> {
    let bytes = if path == Path::new("-") {
        let mut buffer = Vec::new();
        let mut limited = std::io::Read::take(std::io::stdin(), RECORD_FILE_BYTES_MAX);
        std::io::Read::read_to_end(&mut limited, &mut buffer)?;
        buffer
    } else {
        let size = std::fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
        if size > RECORD_FILE_BYTES_MAX {
            bail!(
                "{} is {size} bytes, over the limit of {RECORD_FILE_BYTES_MAX}",
                path.display()
            );
        }
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    let is_toml = path.extension().is_some_and(|ext| ext == "toml");
    let json = if is_toml {
        let text = String::from_utf8(bytes).context("the TOML file is not UTF-8")?;
        let value: toml::Value = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        serde_json::to_vec(&value)?
    } else {
        bytes
    };
    let content =
        RecordContent::from_json(&json).map_err(|error| anyhow!("{}: {error}", path.display()))?;
    content
        .validate()
        .map_err(|errors| anyhow!("{}: {errors}", path.display()))?;
    Ok((content, json))
}

fn print_signed(signed: &Signed<Record>) -> Result<()> {
    let text = serde_json::to_string(&signed.to_wire())?;
    println!("{text}");
    Ok(())
}

fn summary_line(signed: &Signed<Record>) -> String {
    let record = signed.value();
    let title = record
        .content()
        .map(|c| c.title.as_str())
        .unwrap_or("(deleted)");
    format!("{}\tv{}\t{}", record.key, record.version, title)
}

// ------------------------------------------------------------------ records

async fn record(target: &Target, command: RecordCommand) -> Result<()> {
    match command {
        RecordCommand::Add { file, json } => {
            let (content, raw) = read_content_file(&file)?;
            let signed = match target {
                Target::Local(local) => local.node.publisher.create(content).await?.signed,
                Target::Remote(remote) => remote.create(raw).await?,
            };
            if json {
                print_signed(&signed)?;
            } else {
                let record = signed.value();
                println!("published {} version {}", record.key, record.version);
            }
        }
        RecordCommand::Update {
            id,
            file,
            if_version,
            json,
        } => {
            let id = target.own_key(&id)?;
            let (content, raw) = read_content_file(&file)?;
            let signed = match target {
                Target::Local(local) => {
                    local
                        .node
                        .publisher
                        .update(id, content, if_version)
                        .await?
                        .signed
                }
                Target::Remote(remote) => remote.update(&id, raw, if_version).await?,
            };
            if json {
                print_signed(&signed)?;
            } else {
                let record = signed.value();
                println!("updated {} to version {}", record.key, record.version);
            }
        }
        RecordCommand::Delete { id, if_version } => {
            let id = target.own_key(&id)?;
            let signed = match target {
                Target::Local(local) => local.node.publisher.delete(id, if_version).await?.signed,
                Target::Remote(remote) => remote.delete(&id, if_version).await?,
            };
            let record = signed.value();
            println!(
                "deleted {} (tombstone version {})",
                record.key, record.version
            );
        }
        RecordCommand::Get { key } => {
            let key = parse_record_key(target, &key).await?;
            let signed = match target {
                Target::Local(_) => {
                    let lookup = key.clone();
                    let stored = target
                        .read(move |local| Ok(local.node.storage.get(&lookup)?))
                        .await?
                        .ok_or_else(|| anyhow!("no record {key}"))?;
                    stored.signed
                }
                Target::Remote(remote) => remote.get(&key).await?,
            };
            print_signed(&signed)?;
        }
        RecordCommand::List(args) => list(target, args).await?,
    }
    Ok(())
}

async fn parse_record_key(target: &Target, text: &str) -> Result<RecordKey> {
    if let Some((origin, id)) = text.split_once('/') {
        let origin = origin
            .parse()
            .map_err(|e| anyhow!("{origin:?} is not a node id: {e}"))?;
        return Ok(RecordKey {
            origin,
            id: target.own_key(id)?,
        });
    }
    let origin = match target {
        Target::Local(local) => local.node.publisher.node_id(),
        Target::Remote(remote) => remote.node_id().await?,
    };
    Ok(RecordKey {
        origin,
        id: target.own_key(text)?,
    })
}

fn list_query_text(args: &ListArgs) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("origin", &args.origin),
        ("kind", &args.kind),
        ("theme", &args.theme),
        ("country", &args.country),
        ("lang", &args.lang),
        ("cursor", &args.cursor),
    ] {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    query.append_pair("limit", &args.limit.to_string());
    query.finish()
}

async fn list(target: &Target, args: ListArgs) -> Result<()> {
    let query_text = list_query_text(&args);
    let (records, next) = match target {
        Target::Local(_) => {
            let query = seednet_node::api::records::parse_list_query(&query_text)
                .map_err(|e| anyhow!("{}: {}", e.info.field.unwrap_or_default(), e.info.message))?;
            let page = target
                .read(move |local| Ok(local.node.storage.list(&query)?))
                .await?;
            let next = page
                .next
                .as_ref()
                .map(seednet_node::api::records::cursor_text);
            (
                page.records
                    .into_iter()
                    .map(|s| s.signed)
                    .collect::<Vec<_>>(),
                next,
            )
        }
        Target::Remote(remote) => remote.list(&query_text).await?,
    };
    for signed in &records {
        if args.json {
            print_signed(signed)?;
        } else {
            println!("{}", summary_line(signed));
        }
    }
    if let Some(next) = next {
        eprintln!("more: --cursor {next}");
    }
    Ok(())
}

// ----------------------------------------------------------- import/export

async fn import(target: &Target, args: ImportArgs) -> Result<()> {
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    if size > IMPORT_FILE_BYTES_MAX as u64 {
        bail!(
            "{} is {size} bytes, over the import limit of {IMPORT_FILE_BYTES_MAX}",
            args.file.display()
        );
    }
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {} as UTF-8 text", args.file.display()))?;
    let file_name = args.file.to_string_lossy();
    let format = args
        .format
        .unwrap_or_else(|| transfer::detect_format(&file_name, &text));
    let parsed = transfer::parse_import(&text, format).map_err(|e| anyhow!("{file_name}: {e}"))?;
    for error in parsed.errors.iter().take(IMPORT_ERRORS_SHOWN_MAX) {
        eprintln!("{error}");
    }
    if parsed.errors.len() > IMPORT_ERRORS_SHOWN_MAX {
        eprintln!(
            "... and {} more problems",
            parsed.errors.len() - IMPORT_ERRORS_SHOWN_MAX
        );
    }
    let bad_lines: std::collections::BTreeSet<usize> =
        parsed.errors.iter().map(|e| e.line).collect();
    if !bad_lines.is_empty() && !args.skip_invalid {
        bail!(
            "{file_name}: {} bad entries; nothing imported (fix them, or pass --skip-invalid to import the {} good ones)",
            bad_lines.len(),
            parsed.rows.len()
        );
    }
    let progress = if parsed.rows.len() >= PROGRESS_BAR_ENTRIES_MIN {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(parsed.rows.len() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records {eta}")
                .expect("valid template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let counts = match target {
        Target::Local(local) => import_local(local, parsed.rows, &progress).await?,
        Target::Remote(remote) => remote.import(parsed.rows, &progress).await?,
    };
    progress.finish_and_clear();
    println!(
        "imported {} records ({} published, {} signed applied, {} already present, {} skipped as invalid)",
        counts.published + counts.applied,
        counts.published,
        counts.applied,
        counts.already_present,
        bad_lines.len()
    );
    Ok(())
}

#[derive(Default)]
pub(crate) struct ImportCounts {
    pub published: usize,
    pub applied: usize,
    pub already_present: usize,
}

async fn import_local(
    local: &Local,
    rows: Vec<transfer::ImportRow>,
    progress: &indicatif::ProgressBar,
) -> Result<ImportCounts> {
    let mut counts = ImportCounts::default();
    let mut signed_batch = Vec::new();
    let mut in_flight = tokio::task::JoinSet::new();
    for row in rows {
        match row.entry {
            ImportEntry::Content(content) => {
                let publisher = local.node.publisher.clone();
                let line = row.line;
                in_flight.spawn(async move {
                    publisher
                        .create(*content)
                        .await
                        .with_context(|| format!("line {line}"))
                });
                if in_flight.len() >= IMPORT_IN_FLIGHT_MAX {
                    if let Some(done) = in_flight.join_next().await {
                        done??;
                        counts.published += 1;
                        progress.inc(1);
                    }
                }
            }
            ImportEntry::Signed(signed) => {
                signed_batch.push(*signed);
                if signed_batch.len() == APPLY_MANY_RECORDS_MAX {
                    apply_signed(
                        local,
                        std::mem::take(&mut signed_batch),
                        &mut counts,
                        progress,
                    )
                    .await?;
                }
            }
        }
    }
    while let Some(done) = in_flight.join_next().await {
        done??;
        counts.published += 1;
        progress.inc(1);
    }
    if !signed_batch.is_empty() {
        apply_signed(local, signed_batch, &mut counts, progress).await?;
    }
    Ok(counts)
}

async fn apply_signed(
    local: &Local,
    batch: Vec<Signed<Record>>,
    counts: &mut ImportCounts,
    progress: &indicatif::ProgressBar,
) -> Result<()> {
    let size = batch.len();
    // Through federation's one apply path: blocked origins stay out.
    let storage = std::sync::Arc::clone(&local.node.storage);
    let blocked = tokio::task::spawn_blocking(move || Blocklist::read_stored(storage.as_ref()))
        .await??
        .into_keys()
        .collect();
    let batch_counts = apply_imported(&local.node.storage, batch, &blocked).await?;
    counts.applied += batch_counts.applied as usize;
    counts.already_present += (batch_counts.already_have + batch_counts.stale) as usize;
    if batch_counts.equivocations > 0 {
        eprintln!(
            "warning: {} signed records conflict with the stored versions (same record and version, other content); kept as evidence, not applied",
            batch_counts.equivocations
        );
    }
    if batch_counts.refused_policy > 0 {
        eprintln!(
            "warning: {} signed records skipped: their origin is blocked on this node (`seednet block list`)",
            batch_counts.refused_policy
        );
    }
    progress.inc(size as u64);
    Ok(())
}

async fn export(target: &Target, args: ExportArgs) -> Result<()> {
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let public_url = match target {
        Target::Local(local) => local.config.public_url.clone(),
        Target::Remote(remote) => remote.base_url(),
    };
    let mut writer = ExportWriter::new(args.format, out, &public_url)?;
    let mut cursor: Option<String> = None;
    loop {
        let (records, next) = match target {
            Target::Local(_) => {
                let after = match &cursor {
                    Some(text) => Some(
                        seednet_node::api::records::parse_cursor(text)
                            .ok_or_else(|| anyhow!("the node returned a bad cursor {text:?}"))?,
                    ),
                    None => None,
                };
                let query = ListQuery {
                    after,
                    limit: LIST_PAGE_RECORDS_MAX,
                    include_deleted: true,
                    ..ListQuery::default()
                };
                let page = target
                    .read(move |local| Ok(local.node.storage.list(&query)?))
                    .await?;
                (
                    page.records
                        .into_iter()
                        .map(|s| s.signed)
                        .collect::<Vec<_>>(),
                    page.next
                        .as_ref()
                        .map(seednet_node::api::records::cursor_text),
                )
            }
            Target::Remote(remote) => {
                let mut query = format!("include_deleted=true&limit={LIST_PAGE_RECORDS_MAX}");
                if let Some(cursor) = &cursor {
                    query.push_str(&format!("&cursor={cursor}"));
                }
                remote.list(&query).await?
            }
        };
        for signed in &records {
            writer.write(signed)?;
        }
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let written = writer.finish()?;
    if args.output.is_some() || !std::io::stdout().is_terminal() {
        eprintln!("exported {written} records");
    }
    Ok(())
}

// ------------------------------------------------------------ tokens/status

async fn token(target: &Target, command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create { role, label, json } => {
            let created: CreatedToken = match target {
                Target::Local(local) => {
                    let (new, write) = tokens::create(local.node.storage.as_ref(), role, &label)?;
                    write.wait().await?;
                    CreatedToken {
                        id: new.info.id,
                        role: new.info.role,
                        label: new.info.label,
                        token: new.token,
                    }
                }
                Target::Remote(remote) => remote.create_token(role, &label).await?,
            };
            if json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                println!("created {} token {}", created.role.as_str(), created.id);
                println!("token (shown once, keep it safe): {}", created.token);
            }
        }
        TokenCommand::List(flag) => {
            let list: Vec<TokenInfo> = match target {
                Target::Local(_) => {
                    target
                        .read(|local| Ok(tokens::list(local.node.storage.as_ref())?))
                        .await?
                }
                Target::Remote(remote) => remote.list_tokens().await?,
            };
            if flag.json {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                for token in list {
                    println!(
                        "{}\t{}\t{}\t{}",
                        token.id,
                        token.role.as_str(),
                        token.created_at,
                        token.label
                    );
                }
            }
        }
        TokenCommand::Revoke { id } => {
            match target {
                Target::Local(local) => {
                    tokens::revoke(local.node.storage.as_ref(), &id)?
                        .wait()
                        .await?
                }
                Target::Remote(remote) => remote.revoke_token(&id).await?,
            }
            println!("revoked token {id}");
        }
    }
    Ok(())
}

async fn status(target: &Target, json: bool) -> Result<()> {
    let status: NodeStatus = match target {
        Target::Local(_) => {
            target
                .read(|local| {
                    Ok(node_status(
                        local.node.storage.as_ref(),
                        local.node.publisher.node_id(),
                        &local.config.name,
                        &local.config.public_url,
                    )?)
                })
                .await?
        }
        Target::Remote(remote) => remote.status().await?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    println!("node        {}", status.node_id);
    println!("name        {}", status.name);
    println!("public url  {}", status.public_url);
    println!(
        "software    {} (schema {})",
        status.software, status.schema_version
    );
    println!("change log  head {}", status.head_seq);
    println!("tokens      {}", status.tokens);
    println!(
        "evidence    {} refused equivocating versions",
        status.evidence_records
    );
    for origin in &status.records {
        println!(
            "records     {}: {} live, {} deleted",
            origin.origin, origin.live, origin.deleted
        );
    }
    if status.records.is_empty() {
        println!("records     none yet");
    }
    if let Some(semantic) = &status.semantic {
        use seednet_node::semantic_tier::SemanticState;
        match &semantic.state {
            SemanticState::Ready => println!(
                "semantic    on: {} records with vectors, {} changes pending",
                semantic.records_with_vectors, semantic.pending
            ),
            SemanticState::Starting => println!("semantic    starting"),
            SemanticState::Off { reason } => println!("semantic    off: {reason}"),
        }
    }
    Ok(())
}
