//! Atom feeds of what is new on this node (RFC 4287, paged as RFC 5005):
//!
//! - `/feed.atom`: the live records this node applied most recently, its own
//!   and received ones alike, newest first (change-log order);
//! - `/feed.atom?origin=HEX`: only one origin centre's records;
//! - `/feed.atom?theme=SLUG`: only one competence area (the two combine);
//! - the search page's address with `format=atom`: that search's hits.
//!
//! Pages hold at most [`FEED_PAGE_ENTRIES_MAX`] entries. The change-log
//! feeds page with `before=SEQ` (a position in this node's change log, so a
//! page stays put while new records arrive); search feeds with the search
//! page's own `page`. Tombstones never appear: a deleted record leaves the
//! feed. Each entry's id is the record's page on this node; its summary is
//! the plain text of the record's summary, its author the origin centre.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use seednet_protocol::{NodeId, Record, Theme};

use super::atom::{self, Category, Entry, Feed, ATOM_MEDIA_TYPE};
use super::backend::{FeedEntry, FeedQuery, NodeInfo, SearchRequest, WebBackend};
use super::markdown;
use super::pairs::{pair, parse_pairs};
use super::WebState;
use crate::schema_org::record_page_url;

/// Most entries in one feed document.
pub const FEED_PAGE_ENTRIES_MAX: usize = 50;
/// The path of the change-log feeds.
pub const FEED_PATH: &str = "/feed.atom";

/// What a change-log feed is filtered by, as its URL says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedFilter {
    pub origin: Option<NodeId>,
    pub theme: Option<Theme>,
}

impl FeedFilter {
    /// The feed's path and query, without paging: also its id, made absolute.
    pub fn path(&self) -> String {
        let mut params = Vec::new();
        if let Some(origin) = &self.origin {
            params.push(format!("origin={origin}"));
        }
        if let Some(theme) = &self.theme {
            params.push(format!("theme={}", theme.as_str()));
        }
        if params.is_empty() {
            FEED_PATH.to_string()
        } else {
            format!("{FEED_PATH}?{}", params.join("&"))
        }
    }

    fn with_before(&self, before: u64) -> String {
        let path = self.path();
        let separator = if path.contains('?') { '&' } else { '?' };
        format!("{path}{separator}before={before}")
    }
}

fn base(info: &NodeInfo) -> String {
    info.base_url.trim_end_matches('/').to_string()
}

/// One live record as a feed entry, addressed on the node at `base`.
fn entry_of(record: &Record, centre: Option<&str>, base: &str) -> Option<Entry> {
    let content = record.content()?;
    let page = record_page_url(base, &record.key);
    let mut categories = vec![Category {
        term: content.kind.as_str().to_string(),
        scheme: format!("{base}/?kind="),
        label: None,
    }];
    categories.extend(content.themes.iter().map(|theme| Category {
        term: theme.as_str().to_string(),
        scheme: format!("{base}/?theme="),
        label: None,
    }));
    categories.push(Category {
        term: content.country.as_str().to_string(),
        scheme: format!("{base}/?country="),
        label: None,
    });
    Some(Entry {
        id: page.clone(),
        title: content.title.clone(),
        summary: markdown::to_plain_text(&content.summary),
        author: centre
            .map(str::to_string)
            .unwrap_or_else(|| format!("seednet node {}", record.key.origin)),
        lang: content.lang.as_str().to_string(),
        categories,
        updated: record.signed_at,
        link: page,
    })
}

/// Pages of the same feed: this one, the first, the next.
struct FeedUrls {
    self_url: String,
    first_url: String,
    next_url: Option<String>,
    html_url: String,
}

fn feed_document(info: &NodeInfo, title: String, urls: FeedUrls, entries: Vec<Entry>) -> Response {
    let updated = entries
        .iter()
        .map(|entry| entry.updated)
        .max()
        .unwrap_or_else(crate::clock::now_timestamp);
    let feed = Feed {
        id: urls.first_url.clone(),
        title,
        lang: info
            .languages
            .first()
            .map(|lang| lang.as_str().to_string())
            .unwrap_or_else(|| "en".into()),
        updated,
        self_url: urls.self_url,
        first_url: urls.first_url,
        next_url: urls.next_url,
        html_url: urls.html_url,
        author: info.name.clone(),
        entries,
    };
    let mut response = (StatusCode::OK, atom::render(&feed)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/atom+xml; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}

fn bad_request(message: &'static str) -> Response {
    let mut response = (StatusCode::BAD_REQUEST, message).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `GET /feed.atom[?origin=HEX][&theme=SLUG][&before=SEQ]`.
pub(crate) async fn change_feed<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    uri: Uri,
) -> Response {
    let pairs = parse_pairs(uri.query().unwrap_or(""));
    let mut filter = FeedFilter::default();
    if let Some(origin) = pair(&pairs, "origin") {
        match origin.parse::<NodeId>() {
            Ok(origin) => filter.origin = Some(origin),
            Err(_) => return bad_request("origin must be a node id (64 hex digits)"),
        }
    }
    if let Some(theme) = pair(&pairs, "theme") {
        match theme.parse::<Theme>() {
            Ok(theme) => filter.theme = Some(theme),
            Err(_) => return bad_request("theme must be a competence area slug"),
        }
    }
    let before = match pair(&pairs, "before").map(str::parse::<u64>) {
        None => None,
        Some(Ok(before)) => Some(before),
        Some(Err(_)) => return bad_request("before must be a change-log position"),
    };
    let page = match state
        .backend
        .feed(FeedQuery {
            origin: filter.origin,
            theme: filter.theme,
            before,
            limit: FEED_PAGE_ENTRIES_MAX,
        })
        .await
    {
        Ok(page) => page,
        Err(error) => {
            tracing::error!(error = %error, "feed failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the feed is unavailable").into_response();
        }
    };
    let info = state.backend.node_info();
    let base = base(&info);
    let entries: Vec<Entry> = page
        .entries
        .iter()
        .filter_map(|FeedEntry { signed, centre }| {
            entry_of(signed.value(), centre.as_deref(), &base)
        })
        .collect();
    let mut title = info.name.clone();
    if let Some(origin) = &filter.origin {
        let centre = page
            .entries
            .first()
            .and_then(|entry| entry.centre.clone())
            .unwrap_or_else(|| origin.to_string());
        title = format!("{title}: {centre}");
    }
    if let Some(theme) = &filter.theme {
        title = format!("{title}: {}", theme.as_str());
    }
    let mut html_params = Vec::new();
    if let Some(origin) = &filter.origin {
        html_params.push(format!("origin={origin}"));
    }
    if let Some(theme) = &filter.theme {
        html_params.push(format!("theme={}", theme.as_str()));
    }
    let html_url = if html_params.is_empty() {
        format!("{base}/")
    } else {
        format!("{base}/?{}", html_params.join("&"))
    };
    let urls = FeedUrls {
        self_url: match before {
            Some(before) => format!("{base}{}", filter.with_before(before)),
            None => format!("{base}{}", filter.path()),
        },
        first_url: format!("{base}{}", filter.path()),
        next_url: page
            .next_before
            .map(|next| format!("{base}{}", filter.with_before(next))),
        html_url,
    };
    feed_document(&info, title, urls, entries)
}

/// The search page's `request` (page `page` of its hits) as a feed; `path`
/// gives the search page's address for a page number (without `format`).
pub(crate) async fn search_feed<B: WebBackend>(
    state: &WebState<B>,
    request: SearchRequest,
    page: usize,
    pages_max: usize,
    path: impl Fn(usize) -> String,
) -> Response {
    let results = match state.backend.search(request.clone()).await {
        Ok(results) => results,
        Err(error) => {
            tracing::warn!(error = %error, "search feed failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "search is unavailable").into_response();
        }
    };
    let info = state.backend.node_info();
    let base = base(&info);
    let mut entries = Vec::new();
    for hit in results.hits.iter().take(FEED_PAGE_ENTRIES_MAX) {
        match state.backend.record(hit.key.clone()).await {
            Ok(Some(view)) => entries.extend(entry_of(
                view.signed.value(),
                view.origin.as_ref().map(|origin| origin.name.as_str()),
                &base,
            )),
            Ok(None) => {}
            Err(error) => {
                tracing::error!(error = %error, "search feed failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "the feed is unavailable")
                    .into_response();
            }
        }
    }
    let shown = request.offset + results.hits.len();
    let more = (shown as u64) < results.total && page < pages_max;
    let as_feed = |page: usize| with_format_atom(&format!("{base}{}", path(page)));
    let title = if request.q.is_empty() {
        info.name.clone()
    } else {
        format!("{}: {}", info.name, request.q)
    };
    let urls = FeedUrls {
        self_url: as_feed(page),
        first_url: as_feed(1),
        next_url: more.then(|| as_feed(page + 1)),
        html_url: format!("{base}{}", path(page)),
    };
    feed_document(&info, title, urls, entries)
}

/// `url` with `format=atom` added to its query.
pub fn with_format_atom(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}format=atom")
}

/// A feed a page advertises (`<link rel="alternate">` in its head).
#[derive(Debug, Clone)]
pub struct Alternate {
    pub media_type: &'static str,
    pub title: String,
    pub href: String,
}

impl Alternate {
    pub fn atom(title: impl Into<String>, href: impl Into<String>) -> Self {
        Alternate {
            media_type: ATOM_MEDIA_TYPE,
            title: title.into(),
            href: href.into(),
        }
    }
}

/// The address of an origin centre's feed (relative to the node).
pub fn origin_feed(origin: &NodeId) -> String {
    FeedFilter {
        origin: Some(*origin),
        theme: None,
    }
    .path()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_addresses_combine_filters_and_paging() {
        let theme: Theme = "co-design".parse().unwrap();
        let filter = FeedFilter {
            origin: None,
            theme: Some(theme),
        };
        assert_eq!(filter.path(), "/feed.atom?theme=co-design");
        assert_eq!(filter.with_before(7), "/feed.atom?theme=co-design&before=7");
        assert_eq!(FeedFilter::default().with_before(7), "/feed.atom?before=7");
        assert_eq!(with_format_atom("/"), "/?format=atom");
        assert_eq!(with_format_atom("/?q=x"), "/?q=x&format=atom");
    }
}
