//! The CLI's client for a running node (`--node URL --token T`): the same
//! JSON API everyone uses, over reqwest with rustls. Every record received is
//! verified before it is printed or exported.

use anyhow::{anyhow, bail, Context, Result};
use reqwest::{Method, StatusCode};
use seednet_node::accounts::{AccountChange, AccountInfo, NewAccount};
use seednet_node::api::backup::{BackupPage, BackupRotations};
use seednet_node::api::records::RecordList;
use seednet_node::api::system::{CreatedToken, NodeStatus};
use seednet_node::tokens::{Role, TokenInfo};
use seednet_node::transfer::{ImportEntry, ImportRow};
use seednet_protocol::{NodeDescriptor, NodeId, Record, RecordId, RecordKey, Signed, SignedWire};
use serde::de::DeserializeOwned;

use super::ImportCounts;

/// Time limit of one request to the node.
const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Publishes a remote import keeps in flight.
const REMOTE_IMPORT_IN_FLIGHT_MAX: usize = 16;

pub struct Remote {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorInfo,
}

#[derive(serde::Deserialize)]
struct ErrorInfo {
    code: String,
    message: String,
    #[serde(default)]
    field: Option<String>,
}

fn verify(wire: &SignedWire) -> Result<Signed<Record>> {
    Signed::from_wire(wire).map_err(|e| anyhow!("the node sent a record that does not verify: {e}"))
}

impl Remote {
    pub fn new(url: &str, token: Option<String>) -> Result<Self> {
        let parsed = url::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("--node must be an http or https URL");
        }
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(REQUEST_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Remote {
            client,
            base: url.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub fn base_url(&self) -> String {
        self.base.clone()
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        if_match: Option<u64>,
    ) -> Result<reqwest::Response> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        if let Some(version) = if_match {
            request = request.header(reqwest::header::IF_MATCH, format!("\"{version}\""));
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => {
                let field = body
                    .error
                    .field
                    .map(|f| format!(" (field {f})"))
                    .unwrap_or_default();
                if status == StatusCode::UNAUTHORIZED && self.token.is_none() {
                    bail!("{}: {}; pass --token", body.error.code, body.error.message);
                }
                bail!(
                    "{} {}: {}{field}",
                    status.as_u16(),
                    body.error.code,
                    body.error.message
                )
            }
            Err(_) => bail!(
                "{} from the node: {}",
                status.as_u16(),
                text.chars().take(200).collect::<String>()
            ),
        }
    }

    async fn json<T: DeserializeOwned>(&self, response: reqwest::Response) -> Result<T> {
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).context("the node sent an unexpected answer")
    }

    async fn signed(&self, response: reqwest::Response) -> Result<Signed<Record>> {
        let wire: SignedWire = self.json(response).await?;
        verify(&wire)
    }

    pub async fn node_id(&self) -> Result<NodeId> {
        let response = self.send(Method::GET, "/api/v1/node", None, None).await?;
        let wire: SignedWire = self.json(response).await?;
        let descriptor = Signed::<NodeDescriptor>::from_wire(&wire)
            .map_err(|e| anyhow!("the node descriptor does not verify: {e}"))?;
        Ok(descriptor.value().node_id)
    }

    /// One page of the node's change log after `since` (admin; for backups).
    /// The records are not verified here: the caller verifies each one.
    pub async fn backup_changes(&self, since: u64) -> Result<BackupPage> {
        let path = format!("/api/v1/backup/changes?since={since}");
        let response = self.send(Method::GET, &path, None, None).await?;
        self.json(response).await
    }

    /// The key rotation statements the node signed (admin; for backups),
    /// not verified here.
    pub async fn backup_rotations(&self) -> Result<BackupRotations> {
        let response = self
            .send(Method::GET, "/api/v1/backup/rotations", None, None)
            .await?;
        self.json(response).await
    }

    pub async fn create(&self, content_json: Vec<u8>) -> Result<Signed<Record>> {
        let response = self
            .send(Method::POST, "/api/v1/records", Some(content_json), None)
            .await?;
        self.signed(response).await
    }

    fn own_path(&self, origin: NodeId, id: &RecordId) -> String {
        format!("/api/v1/records/{origin}/{id}")
    }

    pub async fn update(
        &self,
        id: &RecordId,
        content_json: Vec<u8>,
        if_version: Option<u64>,
    ) -> Result<Signed<Record>> {
        let path = self.own_path(self.node_id().await?, id);
        let response = self
            .send(Method::PUT, &path, Some(content_json), if_version)
            .await?;
        self.signed(response).await
    }

    pub async fn delete(&self, id: &RecordId, if_version: Option<u64>) -> Result<Signed<Record>> {
        let path = self.own_path(self.node_id().await?, id);
        let response = self.send(Method::DELETE, &path, None, if_version).await?;
        self.signed(response).await
    }

    pub async fn get(&self, key: &RecordKey) -> Result<Signed<Record>> {
        let path = format!("/api/v1/records/{}/{}", key.origin, key.id);
        let response = self.send(Method::GET, &path, None, None).await?;
        self.signed(response).await
    }

    pub async fn list(&self, query: &str) -> Result<(Vec<Signed<Record>>, Option<String>)> {
        let response = self
            .send(Method::GET, &format!("/api/v1/records?{query}"), None, None)
            .await?;
        let page: RecordList = self.json(response).await?;
        let records = page
            .records
            .iter()
            .map(verify)
            .collect::<Result<Vec<_>>>()?;
        Ok((records, page.next_cursor))
    }

    pub async fn import(
        &self,
        rows: Vec<ImportRow>,
        progress: &indicatif::ProgressBar,
    ) -> Result<ImportCounts> {
        if rows
            .iter()
            .any(|row| matches!(row.entry, ImportEntry::Signed(_)))
        {
            bail!("the file holds signed records (a backup): restore it on the node's data dir with the node stopped (seednet import --data-dir DIR FILE)");
        }
        let mut counts = ImportCounts::default();
        let mut in_flight = tokio::task::JoinSet::new();
        let client = std::sync::Arc::new(Remote {
            client: self.client.clone(),
            base: self.base.clone(),
            token: self.token.clone(),
        });
        for row in rows {
            let ImportEntry::Content(content) = row.entry else {
                continue;
            };
            let json = serde_json::to_vec(&content)?;
            let remote = std::sync::Arc::clone(&client);
            let line = row.line;
            in_flight.spawn(async move {
                remote
                    .create(json)
                    .await
                    .with_context(|| format!("line {line}"))
            });
            if in_flight.len() >= REMOTE_IMPORT_IN_FLIGHT_MAX {
                if let Some(done) = in_flight.join_next().await {
                    done??;
                    counts.published += 1;
                    progress.inc(1);
                }
            }
        }
        while let Some(done) = in_flight.join_next().await {
            done??;
            counts.published += 1;
            progress.inc(1);
        }
        Ok(counts)
    }

    pub async fn create_token(&self, role: Role, label: &str) -> Result<CreatedToken> {
        let body = serde_json::to_vec(&serde_json::json!({"role": role, "label": label}))?;
        let response = self
            .send(Method::POST, "/api/v1/tokens", Some(body), None)
            .await?;
        self.json(response).await
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let response = self.send(Method::GET, "/api/v1/tokens", None, None).await?;
        self.json(response).await
    }

    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        self.send(Method::DELETE, &format!("/api/v1/tokens/{id}"), None, None)
            .await?;
        Ok(())
    }

    pub async fn status(&self) -> Result<NodeStatus> {
        let response = self.send(Method::GET, "/api/v1/status", None, None).await?;
        self.json(response).await
    }

    pub async fn create_account(&self, new: &NewAccount) -> Result<AccountInfo> {
        let body = serde_json::to_vec(&serde_json::json!({
            "username": new.username,
            "display_name": new.display_name,
            "role": new.role,
            "password": new.password,
        }))?;
        let response = self
            .send(Method::POST, "/api/v1/accounts", Some(body), None)
            .await?;
        self.json(response).await
    }

    pub async fn list_accounts(&self) -> Result<Vec<AccountInfo>> {
        let response = self
            .send(Method::GET, "/api/v1/accounts", None, None)
            .await?;
        self.json(response).await
    }

    pub async fn change_account(
        &self,
        username: &str,
        change: &AccountChange,
    ) -> Result<AccountInfo> {
        let name = url::form_urlencoded::byte_serialize(username.as_bytes()).collect::<String>();
        let (path, body) = match change {
            AccountChange::Disable => (format!("/api/v1/accounts/{name}/disable"), None),
            AccountChange::Enable => (format!("/api/v1/accounts/{name}/enable"), None),
            AccountChange::ResetPassword(password) => (
                format!("/api/v1/accounts/{name}/password"),
                Some(serde_json::to_vec(
                    &serde_json::json!({ "password": password }),
                )?),
            ),
        };
        let response = self.send(Method::POST, &path, body, None).await?;
        self.json(response).await
    }

    pub async fn delete_account(&self, username: &str) -> Result<()> {
        let name = url::form_urlencoded::byte_serialize(username.as_bytes()).collect::<String>();
        self.send(
            Method::DELETE,
            &format!("/api/v1/accounts/{name}"),
            None,
            None,
        )
        .await?;
        Ok(())
    }
}
