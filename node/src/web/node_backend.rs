//! The web interface over the real node: storage (through the node's
//! `Storage` trait), the publisher, tokens and configuration in
//! [`AppState`].
//!
//! Search: the `search` crate's tantivy index (see `web::search_index`),
//! with cross-language concept matching. If the index cannot be opened, the
//! search page falls back to a bounded scan over storage (words matched in a
//! record's own text or in its translations, facets counted over the
//! matches), which says honestly how it matched and never claims a concept.
//!
//! Federation: the admin page shows the node's peers (pending requests with
//! the identity to check, link state, last sync, lag, errors) and blocked
//! origins from `crate::federation`, and its buttons call the same approve,
//! revoke and block operations as the API and CLI.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::routing::any;
use axum::Router;
use seednet_protocol::{
    CountryCode, Kind, LanguageTag, NodeId, Record, RecordContent, RecordKey, RelationType,
    TargetGroup, Theme,
};
use tokio::sync::OnceCell;
use tower::ServiceExt;

use super::backend::{
    AdminAction, AdminError, BackendError, BlockedOrigin, CentreName, CentreSummary, FacetCounts,
    FacetField, FacetValue, FederationView, Grant, MatchedVia, NodeInfo, PeerView, Published,
    RecordPage, RecordSummary, RepairView, Role, SearchHit, SearchRequest, SearchResults,
    SnippetPart, WebBackend, WriteError,
};
use super::search_adapter::{from_engine_response, to_engine_request};
use super::search_index::LiveIndex;
use super::{WebConfig, SEARCH_QUERY_CHARS_MAX};
use crate::api::AppState;
use crate::federation::FederationError;
use crate::service::PublishError;
use crate::storage::{ListQuery, PublishRefusal, Storage, StorageError, LIST_PAGE_RECORDS_MAX};

/// Most records the interim search scan examines per query.
pub const SEARCH_SCAN_RECORDS_MAX: usize = 10_000;
/// Most records examined to find those adapted from a record.
pub const RELATION_SCAN_RECORDS_MAX: usize = 10_000;
/// Most words of a query the interim search matches.
pub const SEARCH_WORDS_MAX: usize = 16;
/// Most values listed per facet.
pub const FACET_VALUES_SHOWN_MAX: usize = 12;
/// Characters of context on each side of the first match in a snippet.
pub const SNIPPET_CONTEXT_CHARS: usize = 90;

/// The node as the web interface sees it.
pub struct NodeBackend {
    state: AppState,
    /// The search index; `None` when it could not be opened (then searches
    /// use the bounded storage scan).
    index: Option<Arc<LiveIndex>>,
}

impl NodeBackend {
    pub fn new(state: AppState, index: Option<Arc<LiveIndex>>) -> Self {
        NodeBackend { state, index }
    }

    /// Opens the search index of the node's data dir and starts its indexer,
    /// then builds the backend. Falls back to the storage scan (and says so
    /// in the log) if the index cannot be opened.
    pub async fn start(state: AppState) -> NodeBackend {
        let storage = Arc::clone(&state.storage);
        let data_dir = state.config.data_dir.clone();
        let opened =
            tokio::task::spawn_blocking(move || LiveIndex::start(storage, &data_dir)).await;
        let index = match opened {
            Ok(Ok(index)) => Some(index),
            Ok(Err(error)) => {
                tracing::error!(error = %error, "search index unavailable; the web search scans storage instead");
                None
            }
            Err(error) => {
                tracing::error!(error = %error, "search index task failed; the web search scans storage instead");
                None
            }
        };
        NodeBackend::new(state, index)
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

/// The web routes for the node's router (`Router<AppState>`). The web state
/// (sessions, backend) is created from the node's state on the first request
/// and lives as long as the router.
pub fn node_routes() -> Router<AppState> {
    let web: Arc<OnceCell<Router>> = Arc::new(OnceCell::new());
    let handler = move |State(state): State<AppState>, request: Request| {
        let web = Arc::clone(&web);
        async move {
            let router = web
                .get_or_init(|| async {
                    let config = WebConfig::for_public_url(&state.config.public_url);
                    let backend = NodeBackend::start(state.clone()).await;
                    super::router(Arc::new(backend), config)
                })
                .await
                .clone();
            match router.oneshot(without_extensions(request)).await {
                Ok(response) => response,
                Err(infallible) => match infallible {},
            }
        }
    };
    let mut routes = Router::new();
    for path in [
        "/",
        "/records/{origin}/{id}",
        "/network",
        "/lang/{code}",
        "/signin",
        "/signout",
        "/editor",
        "/editor/{*rest}",
        "/admin",
        "/admin/{*rest}",
        "/assets/{*rest}",
    ] {
        routes = routes.route(path, any(handler.clone()));
    }
    routes
}

/// The request as the client sent it: method, URI, version, headers and body,
/// without the extensions the outer router added (its path parameters would
/// otherwise be seen twice by the inner router's extractors).
fn without_extensions(request: Request) -> Request {
    let (parts, body) = request.into_parts();
    let mut clean = Request::new(body);
    *clean.method_mut() = parts.method;
    *clean.uri_mut() = parts.uri;
    *clean.version_mut() = parts.version;
    *clean.headers_mut() = parts.headers;
    clean
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
    })
}

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
    info: Result<Option<crate::tokens::TokenInfo>, E>,
) -> Option<Grant> {
    match info {
        Ok(Some(info)) => Some(Grant {
            role: match info.role {
                crate::tokens::Role::Admin => Role::Admin,
                crate::tokens::Role::Editor => Role::Editor,
            },
            token_id: info.id,
        }),
        Ok(None) => None,
        Err(error) => {
            tracing::error!(error = %error, "token check failed");
            None
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
        }
    }

    async fn authenticate(&self, token: &str) -> Option<Grant> {
        let token = token.to_string();
        let info = self
            .blocking(move |storage| crate::tokens::authenticate(storage, &token))
            .await;
        token_grant(info)
    }

    async fn token_role(&self, token_id: &str) -> Option<Role> {
        let token_id = token_id.to_string();
        let info = self
            .blocking(move |storage| crate::tokens::lookup(storage, &token_id))
            .await;
        token_grant(info).map(|grant| grant.role)
    }

    async fn search(&self, request: SearchRequest) -> Result<SearchResults, BackendError> {
        let Some(live) = self.index.clone() else {
            return self
                .blocking(move |storage| interim_search(storage, &request))
                .await;
        };
        // Records under a key this node retired are its own too.
        let own: Vec<String> = self
            .state
            .publisher
            .keys()
            .own_ids()
            .iter()
            .map(NodeId::to_hex)
            .collect();
        let own_name = self.state.config.name.clone();
        tokio::task::spawn_blocking(move || {
            live.wait_until_fresh();
            let Some(engine_request) = to_engine_request(&request) else {
                return Ok(SearchResults::default());
            };
            let response = live
                .index
                .search(&engine_request)
                .map_err(|error| BackendError(error.to_string()))?;
            Ok(from_engine_response(response, |origin| {
                own.iter().any(|id| *id == origin).then(|| own_name.clone())
            }))
        })
        .await
        .map_err(|error| BackendError(format!("search task failed: {error}")))?
    }

    async fn record(&self, key: RecordKey) -> Result<Option<RecordPage>, BackendError> {
        let own_ids = self.state.publisher.keys().own_ids();
        let own_name = CentreName {
            name: self.state.config.name.clone(),
            country: self.state.config.country,
        };
        let live = self.index.clone();
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
        self.blocking(move |storage| {
            let Some(stored) = storage.get(&key)? else {
                return Ok(None);
            };
            let Some(content) = stored.signed.value().content() else {
                return Ok(None);
            };
            let mut relation_titles = Vec::new();
            for relation in &content.relations {
                if let Some(target) = storage.get(&relation.target)? {
                    if let Some(target_content) = target.signed.value().content() {
                        relation_titles
                            .push((relation.target.clone(), target_content.title.clone()));
                    }
                }
            }
            let adapted_from_this = match &live {
                Some(live) => {
                    live.wait_until_fresh();
                    let mut summaries = Vec::new();
                    for source in live.adapted_from(&key) {
                        if let Some(stored) = storage.get(&source)? {
                            summaries.extend(summary_of(stored.signed.value()));
                        }
                    }
                    summaries
                }
                None => adapted_by_scan(storage, &key)?,
            };
            let origin = if own_ids.contains(&key.origin) {
                Some(own_name)
            } else {
                peer_name
            };
            Ok(Some(RecordPage {
                signed: stored.signed,
                origin,
                relation_titles,
                adapted_from_this,
            }))
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
            scan(storage, query, SEARCH_SCAN_RECORDS_MAX, |record| {
                records.extend(summary_of(record));
            })?;
            records.sort_by(|a, b| b.signed_at.cmp(&a.signed_at).then(a.key.cmp(&b.key)));
            records.truncate(limit);
            Ok(records)
        })
        .await
    }

    async fn publish(&self, content: RecordContent) -> Result<Published, WriteError> {
        let published = self
            .state
            .publisher
            .create(content)
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
        key: RecordKey,
        expected_version: u64,
        content: RecordContent,
    ) -> Result<Published, WriteError> {
        self.state.publisher.check_own(&key).map_err(write_error)?;
        let published = self
            .state
            .publisher
            .update(key.id, content, Some(expected_version))
            .await
            .map_err(write_error)?;
        let record = published.signed.value();
        Ok(Published {
            key: record.key.clone(),
            version: record.version,
        })
    }

    async fn delete(&self, key: RecordKey, expected_version: u64) -> Result<(), WriteError> {
        self.state.publisher.check_own(&key).map_err(write_error)?;
        self.state
            .publisher
            .delete(key.id, Some(expected_version))
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn network(&self) -> Result<Vec<CentreSummary>, BackendError> {
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
        Ok(centres)
    }

    async fn federation(&self) -> Result<FederationView, BackendError> {
        let federation = &self.state.federation;
        let peers = federation
            .list_peers()
            .into_iter()
            .map(|peer| PeerView {
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
                last_repair: peer.last_repair.map(|report| RepairView {
                    finished_at: report.finished_at,
                    applied: report.applied,
                    error: report.error,
                }),
            })
            .collect();
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
        };
        outcome.map_err(|error| match error {
            FederationError::UnknownPeer(_) => AdminError::UnknownPeer,
            FederationError::NotStarted => AdminError::NotAvailable,
            FederationError::Storage(error) => AdminError::Backend(BackendError(error.to_string())),
            other => AdminError::Refused(other.to_string()),
        })
    }
}

/// Records adapted from `key`, by scanning storage (when there is no index).
fn adapted_by_scan(
    storage: &dyn Storage,
    key: &RecordKey,
) -> Result<Vec<RecordSummary>, StorageError> {
    let mut adapted = Vec::new();
    scan(
        storage,
        ListQuery::default(),
        RELATION_SCAN_RECORDS_MAX,
        |record| {
            let adapts = record.content().is_some_and(|c| {
                c.relations
                    .iter()
                    .any(|r| r.relation_type == RelationType::AdaptedFrom && r.target == *key)
            });
            if adapts {
                adapted.extend(summary_of(record));
            }
        },
    )?;
    Ok(adapted)
}

/// Lowercased characters of a text, one per original character, so match
/// positions map back to the original text.
fn folded_chars(text: &str) -> Vec<char> {
    text.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .collect()
}

fn find(haystack: &[char], needle: &[char], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len())
        .find(|&start| haystack[start..start + needle.len()] == *needle)
}

fn contains_all(text: &[char], words: &[Vec<char>]) -> bool {
    words.iter().all(|word| find(text, word, 0).is_some())
}

/// A window of `text` around the first matched word, with every match marked.
fn snippet(text: &str, words: &[Vec<char>]) -> Vec<SnippetPart> {
    let original: Vec<char> = text.chars().collect();
    let folded = folded_chars(text);
    let first = words
        .iter()
        .filter_map(|word| find(&folded, word, 0))
        .min()
        .unwrap_or(0);
    let start = first.saturating_sub(SNIPPET_CONTEXT_CHARS);
    let end = (first + 2 * SNIPPET_CONTEXT_CHARS).min(original.len());
    let mut marked = vec![false; original.len()];
    for word in words {
        let mut from = start;
        while let Some(position) = find(&folded[..end], word, from) {
            marked[position..position + word.len()]
                .iter_mut()
                .for_each(|m| *m = true);
            from = position + word.len();
        }
    }
    let mut parts: Vec<SnippetPart> = Vec::new();
    if start > 0 {
        parts.push(SnippetPart {
            text: "… ".into(),
            marked: false,
        });
    }
    for index in start..end {
        match parts.last_mut() {
            Some(last) if last.marked == marked[index] && !(index == start && start > 0) => {
                last.text.push(original[index])
            }
            _ => parts.push(SnippetPart {
                text: original[index].to_string(),
                marked: marked[index],
            }),
        }
    }
    if end < original.len() {
        parts.push(SnippetPart {
            text: " …".into(),
            marked: false,
        });
    }
    parts
}

/// The texts of a record in its own language.
fn own_text(content: &RecordContent) -> String {
    let mut text = format!("{}\n{}\n{}", content.title, content.summary, content.body);
    for (_, section) in content.sections.named() {
        if let Some(section) = section {
            text.push('\n');
            text.push_str(section);
        }
    }
    for tag in &content.tags {
        text.push('\n');
        text.push_str(tag);
    }
    text
}

/// The bounded storage scan that answers searches until the search index is
/// wired in: every word must occur (case-insensitively) in the record's own
/// text, or else in one of its translations.
fn interim_search(
    storage: &dyn Storage,
    request: &SearchRequest,
) -> Result<SearchResults, StorageError> {
    let filter = |field| request.filter(field);
    let mut query = ListQuery::default();
    let mut impossible = false;
    if let Some(value) = filter(FacetField::Origin) {
        query.origin = value.parse::<NodeId>().ok();
        impossible |= query.origin.is_none();
    }
    if let Some(value) = filter(FacetField::Kind) {
        query.kind = value.parse::<Kind>().ok();
        impossible |= query.kind.is_none();
    }
    if let Some(value) = filter(FacetField::Theme) {
        query.theme = value.parse::<Theme>().ok();
        impossible |= query.theme.is_none();
    }
    if let Some(value) = filter(FacetField::Country) {
        query.country = CountryCode::parse(value);
        impossible |= query.country.is_none();
    }
    if let Some(value) = filter(FacetField::Lang) {
        query.lang = LanguageTag::parse(value);
        impossible |= query.lang.is_none();
    }
    let target_group =
        filter(FacetField::TargetGroup).map(|value| value.parse::<TargetGroup>().ok());
    impossible |= matches!(target_group, Some(None));
    let year = filter(FacetField::Year).map(|value| value.parse::<i64>().ok());
    impossible |= matches!(year, Some(None));
    if impossible {
        return Ok(SearchResults::default());
    }
    let q: String = request.q.chars().take(SEARCH_QUERY_CHARS_MAX).collect();
    let words: Vec<Vec<char>> = q
        .split_whitespace()
        .take(SEARCH_WORDS_MAX)
        .map(folded_chars)
        .collect();
    // (rank, hit) for every match; facets are counted over all of them.
    let mut matches: Vec<((usize, std::cmp::Reverse<i64>), SearchHit)> = Vec::new();
    let mut counts: BTreeMap<FacetField, BTreeMap<String, u64>> = BTreeMap::new();
    scan(storage, query, SEARCH_SCAN_RECORDS_MAX, |record| {
        let Some(content) = record.content() else {
            return;
        };
        if let Some(Some(group)) = target_group {
            if !content.target_groups.contains(&group) {
                return;
            }
        }
        if let Some(Some(year)) = year {
            if content.year_start != year {
                return;
            }
        }
        let (matched_via, snippet_parts, title_hits) = if words.is_empty() {
            (Vec::new(), snippet(&content.summary, &[]), 0)
        } else if contains_all(&folded_chars(&own_text(content)), &words) {
            let title = folded_chars(&content.title);
            let title_hits = words
                .iter()
                .filter(|w| find(&title, w, 0).is_some())
                .count();
            let source = if contains_all(&folded_chars(&content.summary), &words[..1]) {
                &content.summary
            } else {
                &content.body
            };
            (vec![MatchedVia::Text], snippet(source, &words), title_hits)
        } else {
            let translated = content.translations.iter().find(|(_, translation)| {
                let text = format!(
                    "{}\n{}\n{}",
                    translation.title,
                    translation.summary,
                    translation.body.as_deref().unwrap_or("")
                );
                contains_all(&folded_chars(&text), &words)
            });
            let Some((lang, translation)) = translated else {
                return;
            };
            (
                vec![MatchedVia::Translation { lang: lang.clone() }],
                snippet(&translation.summary, &words),
                0,
            )
        };
        let mut count = |field: FacetField, value: String| {
            *counts.entry(field).or_default().entry(value).or_default() += 1;
        };
        count(FacetField::Country, content.country.to_string());
        count(FacetField::Lang, content.lang.to_string());
        count(FacetField::Kind, content.kind.as_str().into());
        for theme in &content.themes {
            count(FacetField::Theme, theme.as_str().into());
        }
        for group in &content.target_groups {
            count(FacetField::TargetGroup, group.as_str().into());
        }
        count(FacetField::Year, content.year_start.to_string());
        count(FacetField::Origin, record.key.origin.to_hex());
        matches.push((
            (
                usize::MAX - title_hits,
                std::cmp::Reverse(record.signed_at.unix_seconds()),
            ),
            SearchHit {
                key: record.key.clone(),
                version: record.version,
                title: content.title.clone(),
                snippet: snippet_parts,
                lang: content.lang.clone(),
                country: content.country,
                kind: content.kind,
                themes: content.themes.clone(),
                matched_via,
            },
        ));
    })?;
    matches.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.key.cmp(&b.1.key)));
    let total = matches.len() as u64;
    let hits = matches
        .into_iter()
        .skip(request.offset)
        .take(request.limit)
        .map(|(_, hit)| hit)
        .collect();
    let facets = FacetField::ALL
        .into_iter()
        .map(|field| {
            let mut values: Vec<FacetValue> = counts
                .remove(&field)
                .unwrap_or_default()
                .into_iter()
                .map(|(value, count)| FacetValue {
                    value,
                    label: None,
                    count,
                })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
            values.truncate(FACET_VALUES_SHOWN_MAX);
            FacetCounts { field, values }
        })
        .collect();
    Ok(SearchResults {
        total,
        hits,
        facets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(parts: &[SnippetPart]) -> String {
        parts
            .iter()
            .map(|p| {
                if p.marked {
                    format!("[{}]", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }

    #[test]
    fn snippets_mark_every_match_case_insensitively() {
        let words = vec![folded_chars("συνδιαμόρφωση")];
        let parts = snippet(
            "Η Συνδιαμόρφωση υπηρεσιών και η συνδιαμόρφωση πολιτικών",
            &words,
        );
        assert_eq!(
            text_of(&parts),
            "Η [Συνδιαμόρφωση] υπηρεσιών και η [συνδιαμόρφωση] πολιτικών"
        );
    }

    #[test]
    fn final_sigma_matches_sigma() {
        let words = vec![folded_chars("κοινωνικος")];
        assert!(contains_all(&folded_chars("ΚΟΙΝΩΝΙΚΟΣ"), &words));
        assert!(contains_all(
            &folded_chars("κοινωνικός"),
            &[folded_chars("κοινωνικός")]
        ));
    }
}
