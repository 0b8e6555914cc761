//! The web interface over the real node: storage (through the node's
//! `Storage` trait), the publisher, tokens, the search index and federation,
//! all reached through the node's one [`AppState`].
//!
//! Search: the node's one index (`crate::search_index`), the same the JSON
//! API answers from. When it cannot be opened the search page says so and
//! how to rebuild it, as the API's 503 does; there is no second way to
//! search.
//!
//! Federation: the admin page shows the node's peers (pending requests with
//! the identity to check, link state, last sync, lag, errors) and blocked
//! origins from `crate::federation`, and its buttons call the same approve,
//! revoke and block operations as the API and CLI.
//!
//! Accounts and tokens: the same `crate::accounts` and `crate::tokens`
//! operations as `/api/v1/accounts`, `/api/v1/tokens` and the CLI. Failed
//! password sign-ins are counted by the node's one [`SignInLimiter`], whose
//! window is `[accounts] sign_in_window_secs`.

use std::collections::HashMap;
use std::sync::Arc;

use seednet_protocol::{CountryCode, NodeId, Record, RecordContent, RecordKey, Signed};

use super::accounts_backend::{
    AccountChange, AccountError, AccountInfo, AccountsBackend, AuditEntry, NewAccount, NewToken,
    PasswordRefusal, TokenError, TokenInfo,
};
use super::backend::{
    Actor, AdminAction, AdminError, BackendError, BlockedOrigin, CentreName, CentreSummary,
    Credential, FederationView, FeedEntry, FeedPage, FeedQuery, Grant, HarvestItem,
    HarvestOverview, HarvestPage, HarvestQuery, NetworkView, NodeInfo, PeerIdentity, PeerView,
    Published, PurgePreview, PurgeSummary, RecordIndexPage, RecordSummary, RecordView, RepairView,
    Role, SearchFailure, SearchRequest, SearchResults, TokenRefusal, Transfer, WebBackend,
    WriteError,
};
use super::search_adapter::{from_engine_response, to_engine_request};
use crate::accounts::limiter::{self, SignInLimiter};
use crate::accounts::{self, Verified};
use crate::federation::FederationError;
use crate::service::PublishError;
use crate::state::AppState;
use crate::storage::{ListQuery, PublishRefusal, Storage, StorageError, LIST_PAGE_RECORDS_MAX};

/// Most own records examined for the editor's list.
pub const OWN_RECORDS_SCAN_MAX: usize = 10_000;
/// Most change-log entries examined for one feed page: a filter that
/// matches rarely ends the page early, with a link to the next.
pub const FEED_SCAN_ENTRIES_MAX: usize = 5_000;
/// Change-log entries read per storage call while a feed page fills.
const FEED_SCAN_BATCH: usize = 200;

/// Most change-log entries one OAI-PMH request examines (to fill a page, or
/// to count the complete list): a set that matches rarely returns a short
/// page with a token, and a list longer than this is not counted.
pub const HARVEST_SCAN_ENTRIES_MAX: usize = 20_000;
/// Most records examined for the countries of ListSets.
pub const HARVEST_SETS_SCAN_RECORDS_MAX: usize = 20_000;

/// The node as the web interface sees it.
pub struct NodeBackend {
    state: AppState,
    limiter: SignInLimiter,
}

impl NodeBackend {
    pub fn new(state: AppState) -> Self {
        let window = std::time::Duration::from_secs(state.config.sign_in_window_secs);
        NodeBackend {
            state,
            limiter: limiter::sign_in_limiter(window),
        }
    }

    /// The centres this node knows by name: itself (under its current and
    /// retired keys) and its peers (under their current and former ids).
    fn centre_names(&self) -> HashMap<NodeId, String> {
        let mut names: HashMap<NodeId, String> = self
            .state
            .publisher
            .keys()
            .own_ids()
            .into_iter()
            .map(|id| (id, self.state.config.name.clone()))
            .collect();
        for peer in self.state.federation.list_peers() {
            for id in std::iter::once(peer.node_id).chain(peer.former_node_ids) {
                names.entry(id).or_insert_with(|| peer.name.clone());
            }
        }
        names
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Storage) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let storage = Arc::clone(&self.state.storage);
        tokio::task::spawn_blocking(move || work(storage.as_ref()))
            .await
            .map_err(|error| BackendError(format!("blocking task failed: {error}")))?
            .map_err(|error| BackendError(error.to_string()))
    }
}

fn write_error(error: PublishError) -> WriteError {
    match error {
        PublishError::Invalid(errors) => WriteError::Invalid(errors),
        PublishError::NotOwn { .. } | PublishError::RetiredOrigin { .. } => WriteError::NotOwn,
        PublishError::Refused(PublishRefusal::VersionConflict { current, .. }) => {
            WriteError::Conflict { current }
        }
        PublishError::Refused(PublishRefusal::NotFound | PublishRefusal::Deleted { .. }) => {
            WriteError::NotFound
        }
        PublishError::Refused(other) => WriteError::Backend(BackendError(other.to_string())),
        PublishError::Storage(error) => WriteError::Backend(BackendError(error.to_string())),
    }
}

fn summary_of(record: &Record) -> Option<RecordSummary> {
    let content = record.content()?;
    Some(RecordSummary {
        key: record.key.clone(),
        version: record.version,
        title: content.title.clone(),
        lang: content.lang.clone(),
        country: content.country,
        signed_at: record.signed_at,
        centre: None,
    })
}

/// Most adaptation pairs looked at for the network page's transfers.
pub const TRANSFERS_COUNTED_MAX: usize = 10_000;

/// Visits current live records matching `query`, at most `scan_max`.
fn scan(
    storage: &dyn Storage,
    mut query: ListQuery,
    scan_max: usize,
    mut visit: impl FnMut(&Record),
) -> Result<(), StorageError> {
    query.limit = LIST_PAGE_RECORDS_MAX;
    let mut scanned = 0;
    loop {
        let page = storage.list(&query)?;
        for stored in &page.records {
            visit(stored.signed.value());
        }
        scanned += page.records.len();
        match page.next {
            Some(next) if scanned < scan_max => query.after = Some(next),
            _ => return Ok(()),
        }
    }
}

/// What a token check found, as the web sees it; a failed check grants
/// nothing (and is logged).
fn token_grant<E: std::fmt::Display>(
    checked: Result<Result<crate::tokens::TokenInfo, crate::tokens::TokenRefusal>, E>,
) -> Result<Grant, TokenRefusal> {
    match checked {
        Ok(Ok(info)) => Ok(Grant {
            role: info.role,
            via: Credential::Token {
                id: info.id,
                label: info.label,
            },
        }),
        Ok(Err(crate::tokens::TokenRefusal::Invalid)) => Err(TokenRefusal::Unknown),
        Ok(Err(crate::tokens::TokenRefusal::Limited(limited))) => Err(TokenRefusal::Limited {
            retry_after_minutes: limited.retry_after_minutes(),
        }),
        Err(error) => {
            tracing::error!(error = %error, "token check failed");
            Err(TokenRefusal::Unknown)
        }
    }
}

impl WebBackend for NodeBackend {
    fn node_info(&self) -> NodeInfo {
        let config = &self.state.config;
        NodeInfo {
            node_id: self.state.node_id(),
            name: config.name.clone(),
            country: config.country,
            base_url: config.public_url.clone(),
            languages: config.languages.clone(),
            retired_node_ids: self.state.publisher.keys().retired(),
        }
    }

    async fn authenticate(
        &self,
        token: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<Grant, TokenRefusal> {
        let token = token.to_string();
        let limiter = Arc::clone(&self.state.token_limiter);
        let checked = self
            .blocking(move |storage| {
                let now = std::time::Instant::now();
                crate::tokens::authenticate_limited(storage, &limiter, &token, client, now)
            })
            .await;
        token_grant(checked)
    }

    async fn session_role(&self, credential: &Credential) -> Option<Role> {
        let credential = credential.clone();
        let role = self
            .blocking(move |storage| match credential {
                Credential::Token { id, .. } => {
                    Ok(crate::tokens::lookup(storage, &id)?.map(|info| info.role))
                }
                Credential::Account {
                    username,
                    session_epoch,
                    ..
                } => accounts::session_role(storage, &username, session_epoch),
            })
            .await;
        role.unwrap_or_else(|error| {
            tracing::error!(error = %error, "session check failed");
            None
        })
    }

    async fn search(&self, request: SearchRequest) -> Result<SearchResults, SearchFailure> {
        let Some(engine_request) = to_engine_request(&request) else {
            return Ok(SearchResults::default());
        };
        let names: HashMap<String, String> = self
            .centre_names()
            .into_iter()
            .map(|(id, name)| (id.to_hex(), name))
            .collect();
        let response = self
            .state
            .search_index
            .search(engine_request)
            .await
            .map_err(|unavailable| SearchFailure::Unavailable {
                reason: unavailable.reason,
            })?
            .map_err(|error| BackendError(error.to_string()))?
            .response;
        Ok(from_engine_response(response, |origin| {
            names.get(origin).cloned()
        }))
    }

    async fn record(&self, key: RecordKey) -> Result<Option<RecordView>, BackendError> {
        let own_ids = self.state.publisher.keys().own_ids();
        let own_name = CentreName {
            name: self.state.config.name.clone(),
            country: self.state.config.country,
        };
        let peer_name = self
            .state
            .federation
            .list_peers()
            .into_iter()
            .find(|peer| peer.node_id == key.origin || peer.former_node_ids.contains(&key.origin))
            .map(|peer| CentreName {
                name: peer.name,
                country: peer.country,
            });
        let adapted_keys = match self
            .state
            .search_index
            .read_fresh({
                let key = key.clone();
                move |live| live.adapted_from(&key)
            })
            .await
        {
            Ok(keys) => keys,
            Err(unavailable) => {
                tracing::warn!(reason = %unavailable.reason, "record page without its adaptations: the index is unavailable");
                Vec::new()
            }
        };
        let names = self.centre_names();
        self.blocking(move |storage| {
            let summary = |key: &RecordKey| -> Result<Option<RecordSummary>, StorageError> {
                Ok(storage.get(key)?.and_then(|stored| {
                    summary_of(stored.signed.value()).map(|mut summary| {
                        summary.centre = names.get(&key.origin).cloned();
                        summary
                    })
                }))
            };
            let mut adapted_from_this = Vec::new();
            for source in adapted_keys {
                adapted_from_this.extend(summary(&source)?);
            }
            let Some(stored) = storage.get(&key)? else {
                return Ok(None);
            };
            let Some(content) = stored.signed.value().content() else {
                return Ok(None);
            };
            let mut related = Vec::new();
            for relation in &content.relations {
                related.extend(summary(&relation.target)?);
            }
            let origin = if own_ids.contains(&key.origin) {
                Some(own_name)
            } else {
                peer_name
            };
            Ok(Some(RecordView {
                signed: stored.signed,
                origin,
                related,
                adapted_from_this,
            }))
        })
        .await
    }

    async fn feed(&self, query: FeedQuery) -> Result<FeedPage, BackendError> {
        let names = self.centre_names();
        self.blocking(move |storage| {
            let mut page = FeedPage::default();
            let mut before = query.before.unwrap_or(u64::MAX);
            let mut examined = 0usize;
            loop {
                let batch = storage.changes_before(before, FEED_SCAN_BATCH)?;
                for change in batch.changes {
                    examined += 1;
                    before = change.seq;
                    if query
                        .origin
                        .is_some_and(|origin| origin != change.key.origin)
                    {
                        continue;
                    }
                    let Some(stored) = storage.get(&change.key)? else {
                        continue;
                    };
                    // The record may have changed since the log was read.
                    if stored.seq != change.seq {
                        continue;
                    }
                    let Some(content) = stored.signed.value().content() else {
                        continue;
                    };
                    if query
                        .theme
                        .is_some_and(|theme| !content.themes.contains(&theme))
                    {
                        continue;
                    }
                    page.entries.push(FeedEntry {
                        centre: names.get(&change.key.origin).cloned(),
                        signed: stored.signed,
                    });
                    if page.entries.len() == query.limit.max(1) {
                        page.next_before = Some(before);
                        return Ok(page);
                    }
                }
                match batch.next_before {
                    Some(next) if examined < FEED_SCAN_ENTRIES_MAX => before = next,
                    Some(next) => {
                        page.next_before = Some(next.min(before));
                        return Ok(page);
                    }
                    None => return Ok(page),
                }
            }
        })
        .await
    }

    async fn harvest(&self, query: HarvestQuery) -> Result<HarvestPage, BackendError> {
        let names = self.centre_names();
        self.blocking(move |storage| {
            let from_seq = match query.from {
                Some(from) => storage.seq_applied_before(from)?,
                None => 0,
            };
            let start = query.after_seq.max(from_seq);
            let limit = query.limit.max(1);
            let mut page = HarvestPage::default();
            let mut matches = 0u64;
            let mut last_listed = start;
            let mut after = start;
            let mut examined = 0usize;
            let head = storage.head_seq();
            'scan: while after < head {
                let batch = storage.changes_since(after, FEED_SCAN_BATCH, usize::MAX)?;
                if batch.next_seq <= after {
                    break;
                }
                for change in batch.changes {
                    let applied_at = storage.applied_at(change.seq)?.ok_or_else(|| {
                        StorageError::Corrupt(format!("change {} has no applied stamp", change.seq))
                    })?;
                    if query.until.is_some_and(|until| applied_at > until) {
                        // Stamps never decrease: nothing later matches.
                        break 'scan;
                    }
                    let signed = Signed::<Record>::verify(&change.bytes, change.signature)?;
                    if query.set.is_some_and(|set| !set.contains(signed.value())) {
                        continue;
                    }
                    matches += 1;
                    if page.items.len() < limit {
                        last_listed = change.seq;
                        page.items.push(HarvestItem {
                            centre: names.get(&change.key.origin).cloned(),
                            signed,
                            applied_at,
                        });
                    } else if !query.count {
                        // One match beyond the page: the list goes on.
                        break 'scan;
                    }
                }
                after = batch.next_seq;
                examined += FEED_SCAN_BATCH;
                if examined >= HARVEST_SCAN_ENTRIES_MAX && after < head {
                    // The scan bound: continue where it stopped, uncounted.
                    page.next_after = Some(if page.items.len() < limit {
                        after
                    } else {
                        last_listed
                    });
                    return Ok(page);
                }
            }
            if matches > page.items.len() as u64 {
                page.next_after = Some(last_listed);
            }
            if query.count {
                page.complete_list_size = Some(matches);
            }
            Ok(page)
        })
        .await
    }

    async fn harvest_record(&self, key: RecordKey) -> Result<Option<HarvestItem>, BackendError> {
        let names = self.centre_names();
        self.blocking(move |storage| {
            let Some(stored) = storage.get(&key)? else {
                return Ok(None);
            };
            let applied_at = storage.applied_at(stored.seq)?.ok_or_else(|| {
                StorageError::Corrupt(format!("change {} has no applied stamp", stored.seq))
            })?;
            Ok(Some(HarvestItem {
                centre: names.get(&key.origin).cloned(),
                signed: stored.signed,
                applied_at,
            }))
        })
        .await
    }

    async fn harvest_overview(&self) -> Result<HarvestOverview, BackendError> {
        let names = self.centre_names();
        self.blocking(move |storage| {
            let origins = storage
                .stats()
                .records_by_origin
                .keys()
                .map(|origin| (*origin, names.get(origin).cloned()))
                .collect();
            let mut countries = std::collections::BTreeSet::new();
            let mut after = None;
            let mut examined = 0usize;
            loop {
                let list = storage.list(&ListQuery {
                    after,
                    limit: LIST_PAGE_RECORDS_MAX,
                    ..ListQuery::default()
                })?;
                examined += list.records.len();
                for stored in &list.records {
                    if let Some(content) = stored.signed.value().content() {
                        countries.insert(content.country);
                    }
                }
                match list.next {
                    Some(next) if examined < HARVEST_SETS_SCAN_RECORDS_MAX => after = Some(next),
                    _ => break,
                }
            }
            Ok(HarvestOverview {
                earliest_applied_at: storage.earliest_applied_at()?,
                origins,
                countries: countries.into_iter().collect(),
            })
        })
        .await
    }

    async fn live_record_count(&self) -> Result<u64, BackendError> {
        self.blocking(|storage| {
            Ok(storage
                .stats()
                .records_by_origin
                .values()
                .map(|counts| counts.live)
                .sum())
        })
        .await
    }

    async fn record_index(
        &self,
        after: Option<RecordKey>,
        limit: usize,
    ) -> Result<RecordIndexPage, BackendError> {
        self.blocking(move |storage| {
            let list = storage.list(&ListQuery {
                after,
                limit,
                ..ListQuery::default()
            })?;
            Ok(RecordIndexPage {
                records: list
                    .records
                    .iter()
                    .map(|stored| {
                        let record = stored.signed.value();
                        (record.key.clone(), record.signed_at)
                    })
                    .collect(),
                next: list.next,
            })
        })
        .await
    }

    async fn own_records(&self, limit: usize) -> Result<Vec<RecordSummary>, BackendError> {
        let origin = self.state.node_id();
        self.blocking(move |storage| {
            let query = ListQuery {
                origin: Some(origin),
                ..ListQuery::default()
            };
            let mut records = Vec::new();
            scan(storage, query, OWN_RECORDS_SCAN_MAX, |record| {
                records.extend(summary_of(record));
            })?;
            records.sort_by(|a, b| b.signed_at.cmp(&a.signed_at).then(a.key.cmp(&b.key)));
            records.truncate(limit);
            Ok(records)
        })
        .await
    }

    async fn publish(
        &self,
        actor: &Actor,
        content: RecordContent,
    ) -> Result<Published, WriteError> {
        let published = self
            .state
            .publisher
            .create_as(actor, content)
            .await
            .map_err(write_error)?;
        let record = published.signed.value();
        Ok(Published {
            key: record.key.clone(),
            version: record.version,
        })
    }

    async fn update(
        &self,
        actor: &Actor,
        key: RecordKey,
        expected_version: u64,
        content: RecordContent,
    ) -> Result<Published, WriteError> {
        self.state.publisher.check_own(&key).map_err(write_error)?;
        let published = self
            .state
            .publisher
            .update_as(actor, key.id, content, Some(expected_version))
            .await
            .map_err(write_error)?;
        let record = published.signed.value();
        Ok(Published {
            key: record.key.clone(),
            version: record.version,
        })
    }

    async fn delete(
        &self,
        actor: &Actor,
        key: RecordKey,
        expected_version: u64,
    ) -> Result<(), WriteError> {
        self.state.publisher.check_own(&key).map_err(write_error)?;
        self.state
            .publisher
            .delete_as(actor, key.id, Some(expected_version))
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn network(&self) -> Result<NetworkView, BackendError> {
        let own = self.state.node_id();
        let keys = self.state.publisher.keys();
        let name = self.state.config.name.clone();
        let country = self.state.config.country;
        let stats = self.state.storage.stats();
        // A peer's records under its former ids (before a key rotation) are
        // still that peer's.
        let peers: std::collections::HashMap<NodeId, (String, CountryCode)> = self
            .state
            .federation
            .list_peers()
            .into_iter()
            .flat_map(|peer| {
                let named = (peer.name, peer.country);
                std::iter::once(peer.node_id)
                    .chain(peer.former_node_ids)
                    .map(move |id| (id, named.clone()))
            })
            .collect();
        let mut centres: Vec<CentreSummary> = stats
            .records_by_origin
            .iter()
            .filter(|(_, counts)| counts.live > 0)
            .map(|(origin, counts)| CentreSummary {
                origin: *origin,
                name: if keys.is_own(origin) {
                    Some(name.clone())
                } else {
                    peers.get(origin).map(|(peer_name, _)| peer_name.clone())
                },
                country: if keys.is_own(origin) {
                    Some(country)
                } else {
                    peers.get(origin).map(|(_, peer_country)| *peer_country)
                },
                records: counts.live,
                is_self: keys.is_own(origin),
            })
            .collect();
        if !centres.iter().any(|centre| centre.is_self) {
            centres.push(CentreSummary {
                origin: own,
                name: Some(name),
                country: Some(country),
                records: 0,
                is_self: true,
            });
        }
        let pairs = self
            .state
            .search_index
            .read_fresh(|live| live.adaptations(TRANSFERS_COUNTED_MAX))
            .await
            .unwrap_or_default();
        let transfers = self
            .blocking(move |storage| {
                let country_of = |key: &RecordKey| -> Result<Option<CountryCode>, StorageError> {
                    Ok(storage.get(key)?.and_then(|stored| {
                        stored
                            .signed
                            .value()
                            .content()
                            .map(|content| content.country)
                    }))
                };
                let mut counts: std::collections::BTreeMap<(CountryCode, CountryCode), u64> =
                    std::collections::BTreeMap::new();
                for (source, target) in pairs {
                    if let (Some(to), Some(from)) = (country_of(&source)?, country_of(&target)?) {
                        if from != to {
                            *counts.entry((from, to)).or_default() += 1;
                        }
                    }
                }
                let mut transfers: Vec<Transfer> = counts
                    .into_iter()
                    .map(|((from, to), count)| Transfer { from, to, count })
                    .collect();
                transfers.sort_by_key(|transfer| std::cmp::Reverse(transfer.count));
                Ok(transfers)
            })
            .await?;
        Ok(NetworkView { centres, transfers })
    }

    async fn federation(&self) -> Result<FederationView, BackendError> {
        let federation = &self.state.federation;
        let peers = federation.list_peers().into_iter().map(peer_view).collect();
        let blocked = federation
            .blocked_origins()
            .into_iter()
            .map(|origin| BlockedOrigin {
                origin,
                reason: None,
            })
            .collect();
        Ok(FederationView::Available { peers, blocked })
    }

    async fn admin_action(&self, action: AdminAction) -> Result<(), AdminError> {
        let federation = &self.state.federation;
        let outcome = match action {
            AdminAction::ApprovePeer(node_id) => federation.approve(&node_id).await.map(|_| ()),
            AdminAction::RevokePeer(node_id) => federation.revoke(&node_id).await.map(|_| ()),
            AdminAction::ApproveRotation(node_id) => {
                federation.approve_rotation(&node_id).await.map(|_| ())
            }
            AdminAction::BlockOrigin { origin, .. } => federation.block_origin(&origin).await,
            AdminAction::UnblockOrigin(origin) => {
                federation.unblock_origin(&origin).await.map(|_| ())
            }
            AdminAction::DismissRequest(node_id) => federation.dismiss(&node_id).await,
            AdminAction::DismissAllRequests => federation.dismiss_all_pending().await.map(|_| ()),
        };
        outcome.map_err(admin_error)
    }

    async fn peer_identity(&self, url: String) -> Result<PeerIdentity, AdminError> {
        let descriptor = self
            .state
            .federation
            .fetch_identity(&url)
            .await
            .map_err(admin_error)?;
        let value = descriptor.value();
        Ok(PeerIdentity {
            node_id: value.node_id,
            name: value.name.clone(),
            country: value.country,
            url: value.base_url.clone(),
            languages: value.languages.clone(),
            software: value.software.clone(),
        })
    }

    async fn add_peer(&self, url: String, expected: NodeId) -> Result<(), AdminError> {
        self.state
            .federation
            .add_peer_expecting(&url, &expected)
            .await
            .map(|_| ())
            .map_err(admin_error)
    }

    async fn purge_preview(&self, node_id: NodeId) -> Result<PurgePreview, AdminError> {
        let entry = self.state.federation.entry(&node_id).map_err(admin_error)?;
        let origins: Vec<NodeId> = std::iter::once(entry.node_id)
            .chain(entry.former_node_ids.iter().copied())
            .collect();
        let stats = self.state.storage.stats();
        let records = origins
            .iter()
            .filter_map(|origin| stats.records_by_origin.get(origin))
            .map(|counts| counts.live + counts.deleted)
            .sum();
        Ok(PurgePreview {
            peer: peer_view(entry),
            records,
        })
    }

    async fn purge_peer(&self, node_id: NodeId) -> Result<PurgeSummary, AdminError> {
        let (_, purged, origins) = self
            .state
            .federation
            .revoke_and_purge(&node_id)
            .await
            .map_err(admin_error)?;
        let mut index_pending = None;
        for origin in origins {
            if let Err(error) = self.state.search_index.forget_purged(origin).await {
                index_pending = Some(error);
            }
        }
        Ok(PurgeSummary {
            records: purged.records,
            index_pending,
        })
    }

    async fn repair_peer(&self, node_id: NodeId) -> Result<RepairView, AdminError> {
        let report = self
            .state
            .federation
            .repair(&node_id)
            .await
            .map_err(admin_error)?;
        Ok(RepairView {
            finished_at: report.finished_at,
            applied: report.applied,
            error: report.error,
        })
    }
}

/// A federation refusal as the admin pages show it.
fn admin_error(error: FederationError) -> AdminError {
    match error {
        FederationError::UnknownPeer(_) => AdminError::UnknownPeer,
        FederationError::NotStarted => AdminError::NotAvailable,
        FederationError::Storage(error) => AdminError::Backend(BackendError(error.to_string())),
        other => AdminError::Refused(other.to_string()),
    }
}

/// A peer entry as the admin pages show it.
fn peer_view(peer: seednet_protocol::federation::wire::PeerEntry) -> PeerView {
    PeerView {
        node_id: peer.node_id,
        name: peer.name,
        country: peer.country,
        url: peer.base_url,
        state: peer.state.into(),
        last_sync: peer.last_sync_at,
        records_received: peer.records_received,
        lag: Some(peer.lag),
        last_error: peer.last_error,
        pending_rotation: peer.pending_rotation.map(|r| r.new_node_id),
        equivocations: peer.equivocations,
        requested_at: peer.requested_at,
        last_repair: peer.last_repair.map(|report| RepairView {
            finished_at: report.finished_at,
            applied: report.applied,
            error: report.error,
        }),
    }
}

impl NodeBackend {
    /// Account work off the async runtime (hashing is slow on purpose).
    async fn account_work<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Storage) -> Result<T, AccountError> + Send + 'static,
    ) -> Result<T, AccountError> {
        let storage = Arc::clone(&self.state.storage);
        tokio::task::spawn_blocking(move || work(storage.as_ref()))
            .await
            .map_err(|error| {
                AccountError::Storage(StorageError::Io(format!("blocking task failed: {error}")))
            })?
    }

    async fn token_work<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Storage) -> Result<T, TokenError> + Send + 'static,
    ) -> Result<T, TokenError> {
        let storage = Arc::clone(&self.state.storage);
        tokio::task::spawn_blocking(move || work(storage.as_ref()))
            .await
            .map_err(|error| {
                TokenError::Storage(StorageError::Io(format!("blocking task failed: {error}")))
            })?
    }
}

impl AccountsBackend for NodeBackend {
    async fn sign_in_password(
        &self,
        username: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<Grant, PasswordRefusal> {
        let typed = accounts::normalise_username(username);
        let attempt = match self.limiter.begin(
            Some(&limiter::username_key(&typed)),
            client,
            std::time::Instant::now(),
        ) {
            Ok(attempt) => attempt,
            Err(limited) => {
                tracing::warn!(
                    username = %accounts::limiter::username_key(&typed),
                    client = ?client,
                    scope = limited.scope.as_str(),
                    retry_after_secs = limited.retry_after.as_secs(),
                    "password sign-in refused: too many failures"
                );
                return Err(PasswordRefusal::Limited {
                    retry_after_minutes: limited.retry_after_minutes(),
                });
            }
        };
        let (check_name, password) = (typed.clone(), password.to_string());
        let verified = self
            .account_work(move |storage| accounts::verify(storage, &check_name, &password))
            .await
            .map_err(|error| PasswordRefusal::Backend(BackendError(error.to_string())))?;
        match verified {
            Verified::Granted(grant) => {
                self.limiter.succeeded(attempt);
                tracing::info!(username = %grant.username, role = grant.role.as_str(), "password sign-in");
                Ok(Grant {
                    role: grant.role,
                    via: Credential::Account {
                        username: grant.username,
                        display_name: grant.display_name,
                        session_epoch: grant.session_epoch,
                    },
                })
            }
            Verified::Wrong => {
                tracing::warn!(
                    username = %accounts::limiter::username_key(&typed),
                    client = ?client,
                    "password sign-in refused: unknown username or wrong password"
                );
                Err(PasswordRefusal::Wrong)
            }
            Verified::Disabled => {
                tracing::warn!(username = %typed, client = ?client, "password sign-in refused: the account is disabled");
                Err(PasswordRefusal::Disabled)
            }
        }
    }

    async fn accounts(&self) -> Result<Vec<AccountInfo>, BackendError> {
        self.blocking(accounts::list).await
    }

    async fn create_account(&self, new: NewAccount) -> Result<AccountInfo, AccountError> {
        let info = self
            .account_work(move |storage| accounts::create(storage, &new))
            .await?;
        tracing::info!(username = %info.username, role = info.role.as_str(), "account created from the web");
        Ok(info)
    }

    async fn change_account(
        &self,
        username: &str,
        change: AccountChange,
    ) -> Result<AccountInfo, AccountError> {
        let username = username.to_string();
        let info = self
            .account_work(move |storage| accounts::change(storage, &username, &change))
            .await?;
        tracing::info!(username = %info.username, disabled = info.disabled, "account changed from the web; its sessions end");
        Ok(info)
    }

    async fn delete_account(&self, username: &str) -> Result<(), AccountError> {
        let name = username.to_string();
        self.account_work(move |storage| accounts::delete(storage, &name))
            .await?;
        tracing::info!(username = %username, "account deleted from the web");
        Ok(())
    }

    async fn change_own_password(
        &self,
        username: &str,
        current: &str,
        new_password: &str,
    ) -> Result<u64, AccountError> {
        // A wrong current password counts like a failed sign-in, so a
        // session left open cannot be used to guess the password.
        let attempt = self
            .limiter
            .begin(
                Some(&limiter::username_key(username)),
                None,
                std::time::Instant::now(),
            )
            .map_err(|limited| {
                tracing::warn!(username = %username, "password change refused: too many wrong passwords");
                AccountError::TooManyAttempts {
                    retry_after_minutes: limited.retry_after_minutes(),
                }
            })?;
        let (name, current, new_password) = (
            username.to_string(),
            current.to_string(),
            new_password.to_string(),
        );
        let changed = self
            .account_work(move |storage| {
                accounts::change_own_password(storage, &name, &current, &new_password)
            })
            .await;
        let epoch = match changed {
            Err(AccountError::WrongCurrentPassword) => {
                tracing::warn!(username = %username, "password change refused: wrong current password");
                return Err(AccountError::WrongCurrentPassword);
            }
            other => {
                self.limiter.succeeded(attempt);
                other?
            }
        };
        tracing::info!(username = %username, "password changed by its owner; other sessions end");
        Ok(epoch)
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>, BackendError> {
        self.token_work(crate::tokens::list)
            .await
            .map_err(|error| BackendError(error.to_string()))
    }

    async fn create_token(&self, role: Role, label: &str) -> Result<NewToken, TokenError> {
        let label = label.to_string();
        let (new, write) = self
            .token_work(move |storage| crate::tokens::create(storage, role, &label))
            .await?;
        write.wait().await?;
        tracing::info!(token_id = %new.info.id, role = new.info.role.as_str(), "token created from the web");
        Ok(new)
    }

    async fn revoke_token(&self, id: &str) -> Result<(), TokenError> {
        let revoke_id = id.to_string();
        let write = self
            .token_work(move |storage| crate::tokens::revoke(storage, &revoke_id))
            .await?;
        write.wait().await?;
        tracing::info!(token_id = %id, "token revoked from the web");
        Ok(())
    }

    async fn audit_trail(&self, key: RecordKey) -> Result<Vec<AuditEntry>, BackendError> {
        self.blocking(move |storage| crate::audit::trail(storage, &key))
            .await
    }
}
