//! What the web interface needs from the rest of the node, as one trait.
//!
//! The web module renders pages and handles forms; it never touches storage,
//! the search index or federation state directly. [`WebBackend`] is the
//! boundary: the node implements it over its real storage, search index and
//! federation engine (see `web::node_backend`), and the page code stays the
//! same when those parts change underneath.
//!
//! Every method is async and must not block the runtime: an implementation
//! that does blocking work (sled, tantivy) moves it off the async threads.

use std::future::Future;

use seednet_protocol::{
    CountryCode, Kind, LanguageTag, NodeId, Record, RecordContent, RecordKey, Signed, Theme,
    Timestamp, ValidationErrors,
};

/// What a signed-in person may do: the token roles of `crate::tokens`.
pub use crate::tokens::Role;

/// Who publishes: the audit log's actor (`crate::audit`).
pub use crate::audit::Actor;

pub use super::accounts_backend::{AccountsBackend, PasswordRefusal};
pub use super::oai_pmh::SetSpec;

/// What a sign-in proved, by which a session stays tied to it: a token (by
/// its id, never its secret) or an account at a session epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Token {
        id: String,
        label: String,
    },
    Account {
        username: String,
        display_name: String,
        /// The account's epoch when the session started; a disable or a
        /// password change moves it on and so ends the session.
        session_epoch: u64,
    },
}

impl Credential {
    /// Who the audit log names for what this session publishes.
    pub fn actor(&self) -> Actor {
        match self {
            Credential::Token { id, label } => Actor::Token {
                id: id.clone(),
                label: label.clone(),
            },
            Credential::Account {
                username,
                display_name,
                ..
            } => Actor::Account {
                username: username.clone(),
                display_name: display_name.clone(),
            },
        }
    }
}

/// What a valid sign-in grants: a role, and the credential it was proven with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub via: Credential,
}

/// The identity of this node, shown on the admin and network pages.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub node_id: NodeId,
    pub name: String,
    pub country: CountryCode,
    pub base_url: String,
    pub languages: Vec<LanguageTag>,
    /// Ids of the keys this node signed with before rotations.
    pub retired_node_ids: Vec<NodeId>,
}

/// A facet of the search page; the string is also the query parameter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FacetField {
    Country,
    Lang,
    Kind,
    Theme,
    TargetGroup,
    Year,
    Origin,
}

impl FacetField {
    pub const ALL: [FacetField; 7] = [
        FacetField::Country,
        FacetField::Lang,
        FacetField::Kind,
        FacetField::Theme,
        FacetField::TargetGroup,
        FacetField::Year,
        FacetField::Origin,
    ];

    /// The query parameter (and facet name in the search API).
    pub fn param(self) -> &'static str {
        match self {
            FacetField::Country => "country",
            FacetField::Lang => "lang",
            FacetField::Kind => "kind",
            FacetField::Theme => "theme",
            FacetField::TargetGroup => "target_group",
            FacetField::Year => "year",
            FacetField::Origin => "origin",
        }
    }
}

/// One search request as the web interface states it.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// The words typed; may be empty (then every record matches).
    pub q: String,
    /// The language of the query, when the person chose one.
    pub query_lang: Option<LanguageTag>,
    /// At most one selected value per facet.
    pub filters: Vec<(FacetField, String)>,
    pub offset: usize,
    pub limit: usize,
    /// Languages the reader reads, best first (the interface language, then
    /// the query's): hits with a translation into one are shown in it.
    pub display_langs: Vec<LanguageTag>,
}

impl SearchRequest {
    pub fn filter(&self, field: FacetField) -> Option<&str> {
        self.filters
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, value)| value.as_str())
    }
}

/// How a hit matched the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchExplanation {
    /// The record's own text, in its own language.
    Text,
    /// A translation the record carries, in `lang`.
    Translation { lang: LanguageTag },
    /// A concept of the multilingual glossary (cross-language match), with
    /// its name in the languages the glossary has: `(language, term)`.
    Concept {
        concept: String,
        labels: Vec<(String, String)>,
    },
    /// Close in meaning to the query (the semantic tier), in whatever words.
    Meaning,
    /// A concept the record names that is a kind of a broader concept the
    /// query names, both with their names per language.
    NarrowerConcept {
        concept: String,
        labels: Vec<(String, String)>,
        broader: String,
        broader_labels: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone)]
pub struct SearchHit {
    pub key: RecordKey,
    pub version: u64,
    pub title: String,
    /// The words that carried the match (rendered by the page, which
    /// escapes every part).
    pub snippet: seednet_search::Snippet,
    pub lang: LanguageTag,
    pub country: CountryCode,
    pub kind: Kind,
    pub themes: Vec<Theme>,
    pub matched_via: Vec<MatchExplanation>,
    /// The hit in the reader's language, when the record carries a
    /// translation into it.
    pub display: Option<HitDisplay>,
}

/// A hit's title and snippet in a translation the reader can read.
#[derive(Debug, Clone)]
pub struct HitDisplay {
    pub lang: LanguageTag,
    pub title: String,
    pub snippet: seednet_search::Snippet,
    pub provenance: seednet_protocol::Provenance,
    pub reviewed: bool,
}

#[derive(Debug, Clone)]
pub struct FacetCounts {
    pub field: FacetField,
    /// Values with their number of matching records, most frequent first.
    pub values: Vec<FacetValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetValue {
    /// The value as the filter parameter takes it (`IT`, `co-design`, a node id).
    pub value: String,
    /// A display name when the value itself is not one (e.g. a centre's name).
    pub label: Option<String>,
    pub count: u64,
}

#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    pub total: u64,
    pub hits: Vec<SearchHit>,
    pub facets: Vec<FacetCounts>,
}

/// A record and what the page shows around it.
#[derive(Debug, Clone)]
pub struct RecordView {
    /// The verified signed version (holding one means its signature verified).
    pub signed: Signed<Record>,
    /// Name and country of the origin node, when this node knows it.
    pub origin: Option<CentreName>,
    /// Titles of the records this one points to, when they are stored here.
    pub related: Vec<RecordSummary>,
    /// Records stored here that were adapted from this one.
    pub adapted_from_this: Vec<RecordSummary>,
}

#[derive(Debug, Clone)]
pub struct CentreName {
    pub name: String,
    pub country: CountryCode,
}

#[derive(Debug, Clone)]
pub struct RecordSummary {
    pub key: RecordKey,
    pub version: u64,
    pub title: String,
    pub lang: LanguageTag,
    pub country: CountryCode,
    pub signed_at: Timestamp,
    /// The name of the centre that published it, when this node knows it.
    pub centre: Option<String>,
}

/// How many records of one country were adapted from records of another
/// (the `adapted_from` lineage across the network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The country of the record that was adapted.
    pub from: CountryCode,
    /// The country of the record that adapted it.
    pub to: CountryCode,
    pub count: u64,
}

/// Which changes a feed shows (`crate::web::feeds`), newest first.
#[derive(Debug, Clone, Default)]
pub struct FeedQuery {
    /// Only records of this origin centre.
    pub origin: Option<NodeId>,
    /// Only records in this competence area.
    pub theme: Option<Theme>,
    /// Only changes below this change-log sequence number (the paging
    /// cursor); `None` starts at the newest.
    pub before: Option<u64>,
    /// Most entries, 1 to `crate::web::feeds::FEED_PAGE_ENTRIES_MAX`.
    pub limit: usize,
}

/// One live record version in a feed.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    /// The verified signed version.
    pub signed: Signed<Record>,
    /// The name of its origin centre, when this node knows it.
    pub centre: Option<String>,
}

/// A page of a feed.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    pub entries: Vec<FeedEntry>,
    /// The `before` of the next (older) page; `None` on the last page.
    pub next_before: Option<u64>,
}

/// Which records an OAI-PMH list holds (`crate::web::oai`): the current
/// versions, tombstones included, in this node's change-log order.
#[derive(Debug, Clone)]
pub struct HarvestQuery {
    /// Only entries after this change-log position (the token's cursor).
    pub after_seq: u64,
    /// Only versions this node applied at or after this Unix second.
    pub from: Option<i64>,
    /// Only versions this node applied at or before this Unix second.
    pub until: Option<i64>,
    pub set: Option<SetSpec>,
    /// Most items, 1 to `crate::web::oai_pmh::OAI_PAGE_RECORDS_MAX`.
    pub limit: usize,
    /// Also count every match from the start (the first page of a list).
    pub count: bool,
}

/// One current record version (live or tombstone) as a harvester sees it.
#[derive(Debug, Clone)]
pub struct HarvestItem {
    /// The verified signed version.
    pub signed: Signed<Record>,
    /// When this node applied it (Unix seconds): the OAI datestamp.
    pub applied_at: i64,
    /// The name of its origin centre, when this node knows it.
    pub centre: Option<String>,
}

/// A page of an OAI-PMH list.
#[derive(Debug, Clone, Default)]
pub struct HarvestPage {
    pub items: Vec<HarvestItem>,
    /// The position to continue after; `None` when the list is complete.
    pub next_after: Option<u64>,
    /// Every match from the query's start, when counted and within the
    /// node's scan bound.
    pub complete_list_size: Option<u64>,
}

/// What ListSets and Identify need to know about the whole node.
#[derive(Debug, Clone, Default)]
pub struct HarvestOverview {
    /// When the oldest change-log entry was applied (Unix seconds).
    pub earliest_applied_at: Option<i64>,
    /// The origins this node holds records of, with their centre's name.
    pub origins: Vec<(NodeId, Option<String>)>,
    /// The countries of the live records (within the scan bound).
    pub countries: Vec<CountryCode>,
}

/// A page of the live records' addresses, for the sitemap.
#[derive(Debug, Clone, Default)]
pub struct RecordIndexPage {
    /// Live records in record-key order, with when their version was signed.
    pub records: Vec<(RecordKey, Timestamp)>,
    /// Where the next page starts; `None` when the listing is complete.
    pub next: Option<RecordKey>,
}

/// What the network page shows.
#[derive(Debug, Clone, Default)]
pub struct NetworkView {
    pub centres: Vec<CentreSummary>,
    /// Transfers between different countries, most first.
    pub transfers: Vec<Transfer>,
}

/// A centre this node knows of, with how many of its records it holds.
#[derive(Debug, Clone)]
pub struct CentreSummary {
    pub origin: NodeId,
    pub name: Option<String>,
    pub country: Option<CountryCode>,
    pub records: u64,
    pub is_self: bool,
}

/// Result of a publish or update.
#[derive(Debug, Clone)]
pub struct Published {
    pub key: RecordKey,
    pub version: u64,
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the record is not valid: {0}")]
    Invalid(ValidationErrors),
    #[error("no record with this key")]
    NotFound,
    #[error("the record was changed meanwhile: the current version is {current}")]
    Conflict { current: u64 },
    #[error("only records published by this node can be changed here")]
    NotOwn,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// A failure of the node itself (storage, index): shown as a server error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// Why a search could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum SearchFailure {
    /// The search index cannot be opened: the node's operator must rebuild
    /// it (the JSON API answers 503 `search_unavailable` for the same cause).
    #[error("search unavailable: {reason}")]
    Unavailable { reason: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The state of a peer link, as the admin sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// This node asked; waiting for the peer's admin.
    Requested,
    /// The peer asked; waiting for this node's admin.
    Pending,
    Active,
    Revoked,
}

impl PeerState {
    pub fn slug(self) -> &'static str {
        match self {
            PeerState::Requested => "requested",
            PeerState::Pending => "pending",
            PeerState::Active => "active",
            PeerState::Revoked => "revoked",
        }
    }
}

impl From<seednet_protocol::federation::wire::LinkState> for PeerState {
    fn from(state: seednet_protocol::federation::wire::LinkState) -> Self {
        use seednet_protocol::federation::wire::LinkState;
        match state {
            LinkState::Requested => PeerState::Requested,
            LinkState::Pending => PeerState::Pending,
            LinkState::Active => PeerState::Active,
            LinkState::Revoked => PeerState::Revoked,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PeerView {
    pub node_id: NodeId,
    pub name: String,
    pub country: CountryCode,
    pub url: String,
    pub state: PeerState,
    pub last_sync: Option<Timestamp>,
    pub records_received: u64,
    /// How many change-log entries the peer has that this node has not pulled.
    pub lag: Option<u64>,
    pub last_error: Option<String>,
    /// The new key the peer announced in a key rotation, waiting for this
    /// node's admin (`docs/PROTOCOL-federation.md` 9.9).
    pub pending_rotation: Option<NodeId>,
    /// The last repair pass with this peer (set reconciliation, 9.8).
    pub last_repair: Option<RepairView>,
    /// Equivocations (two signed versions with one record key and version)
    /// in what this peer sent: each refused and kept as evidence.
    pub equivocations: u64,
    /// When an unknown node asked for this link (pending requests only):
    /// unanswered, the request expires `PENDING_LINK_REQUEST_TTL_SECS` later.
    pub requested_at: Option<Timestamp>,
}

/// What the admin page shows of a repair pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairView {
    pub finished_at: Option<Timestamp>,
    /// Versions the pass found missing here and applied.
    pub applied: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BlockedOrigin {
    pub origin: NodeId,
    pub reason: Option<String>,
}

/// What the admin pages can show about federation.
#[derive(Debug, Clone)]
pub enum FederationView {
    /// This node runs without federation: no peers can exist yet.
    NotAvailable,
    Available {
        peers: Vec<PeerView>,
        blocked: Vec<BlockedOrigin>,
    },
}

/// An admin action on federation state.
#[derive(Debug, Clone)]
pub enum AdminAction {
    ApprovePeer(NodeId),
    RevokePeer(NodeId),
    /// Pin the new key a peer announced (the peer's current node id).
    ApproveRotation(NodeId),
    BlockOrigin {
        origin: NodeId,
        reason: Option<String>,
    },
    UnblockOrigin(NodeId),
    /// Remove a link request from an unknown node, unanswered.
    DismissRequest(NodeId),
    /// Remove every link request still waiting for an answer.
    DismissAllRequests,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("federation is not available on this node yet")]
    NotAvailable,
    #[error("no peer with this node id")]
    UnknownPeer,
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// What a node serves about itself at a URL, shown to an admin before a
/// link is asked for.
#[derive(Debug, Clone)]
pub struct PeerIdentity {
    pub node_id: NodeId,
    pub name: String,
    pub country: CountryCode,
    pub url: String,
    pub languages: Vec<LanguageTag>,
    pub software: String,
}

/// What a purge of a peer would remove.
#[derive(Debug, Clone)]
pub struct PurgePreview {
    pub peer: PeerView,
    /// Live and deleted records whose origin is the peer (its current and
    /// former ids).
    pub records: u64,
}

/// What a purge removed.
#[derive(Debug, Clone)]
pub struct PurgeSummary {
    pub records: u64,
    /// The search index has not dropped them yet (it does when it next
    /// opens); the reason.
    pub index_pending: Option<String>,
}

/// Why a token did not sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Unknown, revoked or malformed (or it could not be checked).
    Unknown,
    /// Too many failed token authentications; retry after this many minutes.
    Limited { retry_after_minutes: u64 },
}

/// The node as the web interface sees it. Implementations must not block the
/// async runtime; every method may be called concurrently.
///
/// The accounts, tokens and audit part of the boundary is the supertrait
/// [`AccountsBackend`] (its own file, as those pages are).
pub trait WebBackend: AccountsBackend + Send + Sync + 'static {
    /// This node's identity.
    fn node_info(&self) -> NodeInfo;

    /// What a token grants, presented from `client`: refused when unknown or
    /// revoked, or while too many token authentications failed (the same
    /// counts as the API's). Implementations compare in constant time and
    /// never log the token.
    fn authenticate(
        &self,
        token: &str,
        client: Option<std::net::IpAddr>,
    ) -> impl Future<Output = Result<Grant, TokenRefusal>> + Send;

    /// The role a session started with `credential` has now; `None` once
    /// its token is revoked, or its account is disabled, deleted or had its
    /// password changed (or when it cannot be checked). Asked on every
    /// request of a session.
    fn session_role(&self, credential: &Credential) -> impl Future<Output = Option<Role>> + Send;

    /// The hits and facets of one search over the node's index.
    fn search(
        &self,
        request: SearchRequest,
    ) -> impl Future<Output = Result<SearchResults, SearchFailure>> + Send;

    /// The current live version of a record; `None` if unknown or deleted.
    fn record(
        &self,
        key: RecordKey,
    ) -> impl Future<Output = Result<Option<RecordView>, BackendError>> + Send;

    /// The live record versions this node applied most recently (its own
    /// and received ones alike, in change-log order, newest first) that
    /// match `query`; tombstones are left out.
    fn feed(&self, query: FeedQuery)
        -> impl Future<Output = Result<FeedPage, BackendError>> + Send;

    /// A page of the records (tombstones included) an OAI-PMH list holds.
    fn harvest(
        &self,
        query: HarvestQuery,
    ) -> impl Future<Output = Result<HarvestPage, BackendError>> + Send;

    /// The current version of a record, a tombstone included; `None` if
    /// unknown.
    fn harvest_record(
        &self,
        key: RecordKey,
    ) -> impl Future<Output = Result<Option<HarvestItem>, BackendError>> + Send;

    /// Origins, countries and the earliest datestamp, for ListSets and
    /// Identify.
    fn harvest_overview(
        &self,
    ) -> impl Future<Output = Result<HarvestOverview, BackendError>> + Send;

    /// How many live records this node holds (all origins).
    fn live_record_count(&self) -> impl Future<Output = Result<u64, BackendError>> + Send;

    /// Live records after `after` in record-key order, at most `limit`.
    fn record_index(
        &self,
        after: Option<RecordKey>,
        limit: usize,
    ) -> impl Future<Output = Result<RecordIndexPage, BackendError>> + Send;

    /// This node's own records, newest first, at most `limit`.
    fn own_records(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordSummary>, BackendError>> + Send;

    /// Publishes a new own record on behalf of `actor` (the audit log names it).
    fn publish(
        &self,
        actor: &Actor,
        content: RecordContent,
    ) -> impl Future<Output = Result<Published, WriteError>> + Send;

    /// Replaces the content of an own record, if it is still at `expected_version`.
    fn update(
        &self,
        actor: &Actor,
        key: RecordKey,
        expected_version: u64,
        content: RecordContent,
    ) -> impl Future<Output = Result<Published, WriteError>> + Send;

    /// Deletes an own record (a signed tombstone), if it is still at `expected_version`.
    fn delete(
        &self,
        actor: &Actor,
        key: RecordKey,
        expected_version: u64,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;

    /// The centres whose records this node holds, with counts.
    fn network(&self) -> impl Future<Output = Result<NetworkView, BackendError>> + Send;

    fn federation(&self) -> impl Future<Output = Result<FederationView, BackendError>> + Send;

    fn admin_action(
        &self,
        action: AdminAction,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;

    /// Fetches and verifies the identity a node serves at `url`.
    fn peer_identity(
        &self,
        url: String,
    ) -> impl Future<Output = Result<PeerIdentity, AdminError>> + Send;

    /// Asks the node at `url` for a link, if it still has the key
    /// `expected` the admin checked.
    fn add_peer(
        &self,
        url: String,
        expected: NodeId,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;

    /// What revoking `node_id` with a purge would remove.
    fn purge_preview(
        &self,
        node_id: NodeId,
    ) -> impl Future<Output = Result<PurgePreview, AdminError>> + Send;

    /// Revokes the link with `node_id` and removes its records.
    fn purge_peer(
        &self,
        node_id: NodeId,
    ) -> impl Future<Output = Result<PurgeSummary, AdminError>> + Send;

    /// Runs a repair pass with an active peer now.
    fn repair_peer(
        &self,
        node_id: NodeId,
    ) -> impl Future<Output = Result<RepairView, AdminError>> + Send;
}
