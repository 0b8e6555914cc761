//! Real nodes run inside this process, each with its own data dir, port and
//! HTTP server: what `seednet demo` starts and what the federation tests
//! drive. Nothing is mocked: a [`LocalNode`] is `seednet init` followed by
//! `seednet serve`, and every call goes over loopback HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use seednet_protocol::NodeId;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{
    Config, ConfigFile, FederationSection, HttpSection, LogSection, NodeSection, Overrides,
    CONFIG_FILE_NAME,
};
use crate::node::OpenError;
use crate::server::{self, ServeError};
use crate::storage::StorageError;
use crate::tokens::{self, Role};
use crate::{keyfile, node};

/// Time a started node has to answer `/readyz`.
pub const NODE_READY_TIMEOUT_MS: u64 = 30_000;
/// How long a restart waits for a just-stopped instance to release the
/// data dir.
pub const NODE_RESTART_LOCK_WAIT_MS: u64 = 15_000;
/// Timeout of one admin API call made by the harness.
pub const API_CALL_TIMEOUT_MS: u64 = 30_000;

/// Why a local node could not be set up or called.
#[derive(Debug, thiserror::Error)]
pub enum LocalNodeError {
    #[error("setup failed: {0}")]
    Setup(String),
    #[error("{method} {path} answered {status}: {body}")]
    Api {
        method: &'static str,
        path: String,
        status: u16,
        body: String,
    },
    #[error("http error: {0}")]
    Http(String),
    #[error("the node did not become ready within {0} ms")]
    NotReady(u64),
}

/// What identifies an initialised data dir.
#[derive(Debug, Clone)]
pub struct NodeSetup {
    pub data_dir: PathBuf,
    pub url: String,
    pub node_id: NodeId,
    pub admin_token: String,
    pub editor_token: String,
}

/// Whether a loopback port can be bound now.
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Picks a free loopback port (bound and released).
pub fn free_port() -> Result<u16, LocalNodeError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| LocalNodeError::Setup(format!("no free port: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| LocalNodeError::Setup(e.to_string()))?
        .port();
    Ok(port)
}

/// `seednet init` for a loopback node whose config allows loopback peers
/// (explicitly, as the demo and tests need), with a short pull interval.
pub async fn init_node(
    data_dir: &Path,
    name: &str,
    country: &str,
    languages: &[&str],
    sync_interval_ms: u64,
) -> Result<NodeSetup, LocalNodeError> {
    let port = free_port()?;
    init_node_at(data_dir, name, country, languages, sync_interval_ms, port).await
}

/// [`init_node`] listening on a given loopback port.
pub async fn init_node_at(
    data_dir: &Path,
    name: &str,
    country: &str,
    languages: &[&str],
    sync_interval_ms: u64,
    port: u16,
) -> Result<NodeSetup, LocalNodeError> {
    let url = format!("http://127.0.0.1:{port}");
    let file = ConfigFile {
        node: NodeSection {
            name: name.to_string(),
            country: country.to_string(),
            public_url: url.clone(),
            languages: languages.iter().map(|l| l.to_string()).collect(),
        },
        http: HttpSection {
            listen: Some(format!("127.0.0.1:{port}")),
            ..HttpSection::default()
        },
        log: LogSection::default(),
        federation: FederationSection {
            allow_loopback_peers: Some(true),
            sync_interval_ms: Some(sync_interval_ms),
            ..FederationSection::default()
        },
        search: Default::default(),
        accounts: Default::default(),
    };
    let config = Config::resolve(data_dir, &file, &Default::default(), &Overrides::default())
        .map_err(|e| LocalNodeError::Setup(e.to_string()))?;
    let data_dir = data_dir.to_path_buf();
    let setup_dir = data_dir.clone();
    let (node_id, admin_token, editor_token) =
        tokio::task::spawn_blocking(move || -> Result<_, String> {
            std::fs::create_dir_all(&setup_dir).map_err(|e| e.to_string())?;
            let key = keyfile::create(&config.key_path()).map_err(|e| e.to_string())?;
            std::fs::write(setup_dir.join(CONFIG_FILE_NAME), file.to_toml())
                .map_err(|e| e.to_string())?;
            let opened = node::open(&config).map_err(|e| e.to_string())?;
            let (admin, write) = tokens::create(opened.storage.as_ref(), Role::Admin, "demo")
                .map_err(|e| e.to_string())?;
            write.wait_blocking().map_err(|e| e.to_string())?;
            let (editor, write) = tokens::create(opened.storage.as_ref(), Role::Editor, "demo")
                .map_err(|e| e.to_string())?;
            write.wait_blocking().map_err(|e| e.to_string())?;
            opened.storage.shutdown().map_err(|e| e.to_string())?;
            Ok((key.node_id(), admin.token, editor.token))
        })
        .await
        .map_err(|e| LocalNodeError::Setup(e.to_string()))?
        .map_err(LocalNodeError::Setup)?;
    Ok(NodeSetup {
        data_dir,
        url,
        node_id,
        admin_token,
        editor_token,
    })
}

/// Waits until no thread of a stopped node holds its data dir any more (the
/// database lock is free), for up to [`NODE_RESTART_LOCK_WAIT_MS`]; after
/// that its files can be removed or reopened safely.
pub async fn wait_released(data_dir: &Path) -> Result<(), LocalNodeError> {
    wait_released_within(data_dir, NODE_RESTART_LOCK_WAIT_MS).await
}

/// [`wait_released`] with its own time limit (a node still computing the
/// vectors of many new records lets go later).
pub async fn wait_released_within(data_dir: &Path, wait_ms: u64) -> Result<(), LocalNodeError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    let db_dir = data_dir.join(crate::config::DB_DIR_NAME);
    loop {
        let dir = db_dir.clone();
        let opened = tokio::task::spawn_blocking(move || {
            crate::storage::SledStorage::open(&dir).map(|storage| {
                use crate::storage::Storage;
                let _ = storage.shutdown();
            })
        })
        .await
        .map_err(|e| LocalNodeError::Setup(e.to_string()))?;
        match opened {
            Ok(()) => return Ok(()),
            Err(StorageError::Locked { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => return Err(LocalNodeError::Setup(error.to_string())),
        }
    }
}

/// A running node: its HTTP server serves until [`LocalNode::stop`].
pub struct LocalNode {
    pub setup: NodeSetup,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
    http: reqwest::Client,
}

impl LocalNode {
    /// `seednet serve` on an initialised data dir; returns once `/readyz`
    /// answers. A data dir still locked by a just-stopped instance (its
    /// background threads release the database shortly after the server
    /// returns) is retried for up to [`NODE_RESTART_LOCK_WAIT_MS`].
    pub async fn start(setup: NodeSetup) -> Result<Self, LocalNodeError> {
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(NODE_RESTART_LOCK_WAIT_MS);
        loop {
            match Self::try_start(setup.clone()).await {
                Ok(node) => return Ok(node),
                Err((_, true)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    /// One start attempt; the flag says whether the data dir was locked.
    async fn try_start(setup: NodeSetup) -> Result<Self, (LocalNodeError, bool)> {
        let config = Config::load(&setup.data_dir, &Default::default(), &Overrides::default())
            .map_err(|e| (LocalNodeError::Setup(e.to_string()), false))?;
        let (sender, receiver) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(config, async move {
            let _ = receiver.await;
        }));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(API_CALL_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| (LocalNodeError::Http(e.to_string()), false))?;
        let mut node = LocalNode {
            setup,
            shutdown: Some(sender),
            task: Some(task),
            http,
        };
        if let Err(error) = node.wait_ready().await {
            if let Some(task) = node.task.take().filter(JoinHandle::is_finished) {
                if let Ok(Err(serve_error)) = task.await {
                    let locked = matches!(
                        serve_error,
                        ServeError::Open(OpenError::Storage(StorageError::Locked { .. }))
                    );
                    return Err((
                        LocalNodeError::Setup(format!(
                            "the node {} stopped while starting: {serve_error}",
                            node.setup.url
                        )),
                        locked,
                    ));
                }
            }
            return Err((error, false));
        }
        Ok(node)
    }

    async fn wait_ready(&self) -> Result<(), LocalNodeError> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(NODE_READY_TIMEOUT_MS);
        loop {
            let ready = self
                .http
                .get(format!("{}/readyz", self.setup.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            if self.task.as_ref().is_some_and(JoinHandle::is_finished) {
                return Err(LocalNodeError::Setup(format!(
                    "the node {} stopped while starting",
                    self.setup.url
                )));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(LocalNodeError::NotReady(NODE_READY_TIMEOUT_MS));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self) -> &str {
        &self.setup.url
    }

    pub fn node_id(&self) -> NodeId {
        self.setup.node_id
    }

    /// Stops the server (graceful: in-flight requests finish, storage
    /// flushes) and returns the setup to start it again.
    pub async fn stop(mut self) -> Result<NodeSetup, LocalNodeError> {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .map_err(|e| LocalNodeError::Setup(e.to_string()))?
                .map_err(|e| LocalNodeError::Setup(e.to_string()))?;
        }
        Ok(self.setup.clone())
    }

    /// An API call with a token; returns status and JSON body (or Null).
    pub async fn call(
        &self,
        method: &'static str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value), LocalNodeError> {
        let method_value =
            reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method name");
        let mut request = self
            .http
            .request(method_value, format!("{}{}", self.setup.url, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| LocalNodeError::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| LocalNodeError::Http(e.to_string()))?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// An admin API call that must succeed (2xx).
    pub async fn admin(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, LocalNodeError> {
        let token = self.setup.admin_token.clone();
        self.expect_ok(method, path, Some(&token), body).await
    }

    /// An editor API call that must succeed (2xx).
    pub async fn editor(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, LocalNodeError> {
        let token = self.setup.editor_token.clone();
        self.expect_ok(method, path, Some(&token), body).await
    }

    async fn expect_ok(
        &self,
        method: &'static str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, LocalNodeError> {
        let (status, value) = self.call(method, path, token, body).await?;
        if !(200..300).contains(&status) {
            return Err(LocalNodeError::Api {
                method,
                path: path.to_string(),
                status,
                body: value.to_string(),
            });
        }
        Ok(value)
    }

    /// Publishes a record (content JSON) with the editor token; returns the
    /// signed record as answered.
    pub async fn publish(&self, content: Value) -> Result<Value, LocalNodeError> {
        self.editor("POST", "/api/v1/records", Some(content)).await
    }

    /// Live and deleted record counts over all origins, from `/api/v1/status`.
    pub async fn record_counts(&self) -> Result<(u64, u64), LocalNodeError> {
        let status = self.admin("GET", "/api/v1/status", None).await?;
        let mut live = 0;
        let mut deleted = 0;
        for origin in status["records"].as_array().into_iter().flatten() {
            live += origin["live"].as_u64().unwrap_or(0);
            deleted += origin["deleted"].as_u64().unwrap_or(0);
        }
        Ok((live, deleted))
    }

    /// Links `self` to `other` through the real approval flow: `self`'s
    /// admin adds `other`'s URL, `other`'s admin approves `self`.
    pub async fn link_with(&self, other: &LocalNode) -> Result<(), LocalNodeError> {
        self.admin(
            "POST",
            "/api/v1/peers",
            Some(serde_json::json!({ "url": other.url() })),
        )
        .await?;
        other
            .admin(
                "POST",
                &format!("/api/v1/peers/{}/approve", self.node_id()),
                None,
            )
            .await?;
        Ok(())
    }

    /// The listen address.
    pub fn addr(&self) -> SocketAddr {
        self.setup
            .url
            .trim_start_matches("http://")
            .parse()
            .expect("a loopback address")
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }
}
