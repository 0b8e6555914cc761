//! `/sitemap.xml` (the sitemaps.org 0.9 protocol) and `/robots.txt`, for
//! search engines.
//!
//! The sitemap lists the public pages (search, network) and every live
//! record's page, with `lastmod` its signing time. Up to
//! [`SITEMAP_URLS_MAX`] addresses it is one `urlset`; beyond, `/sitemap.xml`
//! is a `sitemapindex` of `/sitemaps/{n}.xml` (n from 1), each holding
//! [`SITEMAP_URLS_MAX`] addresses in record-key order. robots.txt allows the
//! public pages and the public read API and keeps crawlers out of the
//! signed-in parts (editor, admin, account, sign-in) and the API's
//! token-only routes, and names the sitemap.

use std::io;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use seednet_protocol::{RecordKey, Timestamp};

use super::atom::xml_safe;
use super::backend::WebBackend;
use super::WebState;
use crate::schema_org::record_page_url;
use crate::storage::LIST_PAGE_RECORDS_MAX;

/// Most addresses in one sitemap file (the protocol's limit).
pub const SITEMAP_URLS_MAX: usize = 50_000;
/// The sitemaps.org namespace.
pub const SITEMAP_NAMESPACE: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";
/// The public pages every sitemap starts with.
pub const STATIC_PATHS: [&str; 2] = ["/", "/network"];

/// The sitemap's first file: its addresses, or an index of `files` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Single,
    Index { files: usize },
}

/// Whether `records` live records fit one file of `per_file` addresses.
pub fn plan(records: u64, per_file: usize) -> Plan {
    let total = records as usize + STATIC_PATHS.len();
    if total <= per_file {
        Plan::Single
    } else {
        Plan::Index {
            files: total.div_ceil(per_file),
        }
    }
}

/// Which addresses file `file` (1-based) of `per_file` holds: the static
/// pages when it is the first, then `take` records after skipping `skip`.
pub fn file_range(file: usize, per_file: usize) -> (bool, usize, usize) {
    let statics = STATIC_PATHS.len();
    let start = (file - 1) * per_file;
    let end = start + per_file;
    // Address i (0-based) is the static page i, then record i - statics.
    let skip = start.saturating_sub(statics);
    let take = end.saturating_sub(statics) - skip;
    (file == 1, skip, take)
}

fn xml_response(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    response
}

fn text_element(writer: &mut Writer<Vec<u8>>, name: &str, text: &str) -> io::Result<()> {
    writer
        .create_element(name)
        .write_text_content(BytesText::new(&xml_safe(text)))?;
    Ok(())
}

/// A `urlset` of `(address, lastmod)`.
pub fn render_urlset(urls: &[(String, Option<Timestamp>)]) -> String {
    render(|writer| {
        writer
            .create_element("urlset")
            .with_attribute(("xmlns", SITEMAP_NAMESPACE))
            .write_inner_content(|writer| {
                for (loc, lastmod) in urls {
                    writer.create_element("url").write_inner_content(|writer| {
                        text_element(writer, "loc", loc)?;
                        if let Some(lastmod) = lastmod {
                            text_element(writer, "lastmod", &lastmod.to_string())?;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
        Ok(())
    })
}

/// A `sitemapindex` of the addresses of `files`.
pub fn render_index(files: &[String]) -> String {
    render(|writer| {
        writer
            .create_element("sitemapindex")
            .with_attribute(("xmlns", SITEMAP_NAMESPACE))
            .write_inner_content(|writer| {
                for loc in files {
                    writer
                        .create_element("sitemap")
                        .write_inner_content(|writer| text_element(writer, "loc", loc))?;
                }
                Ok(())
            })?;
        Ok(())
    })
}

fn render(body: impl FnOnce(&mut Writer<Vec<u8>>) -> io::Result<()>) -> String {
    let mut writer = Writer::new(Vec::new());
    writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
        .and_then(|()| body(&mut writer))
        .expect("writing to memory cannot fail");
    String::from_utf8(writer.into_inner()).expect("the writer writes UTF-8")
}

/// Live records `skip` to `skip + take` in record-key order, as
/// `(page address, lastmod)`.
async fn record_urls<B: WebBackend>(
    backend: &B,
    base: &str,
    skip: usize,
    take: usize,
) -> Result<Vec<(String, Option<Timestamp>)>, Response> {
    let mut urls = Vec::new();
    let mut after: Option<RecordKey> = None;
    let mut seen = 0usize;
    while urls.len() < take {
        let page = backend
            .record_index(after.clone(), LIST_PAGE_RECORDS_MAX)
            .await
            .map_err(|error| {
                tracing::error!(error = %error, "sitemap failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the sitemap is unavailable",
                )
                    .into_response()
            })?;
        for (key, signed_at) in &page.records {
            if seen >= skip && urls.len() < take {
                urls.push((record_page_url(base, key), Some(*signed_at)));
            }
            seen += 1;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(urls)
}

async fn file<B: WebBackend>(state: &WebState<B>, number: usize) -> Response {
    let base = state
        .backend
        .node_info()
        .base_url
        .trim_end_matches('/')
        .to_string();
    let (statics, skip, take) = file_range(number, SITEMAP_URLS_MAX);
    let mut urls: Vec<(String, Option<Timestamp>)> = Vec::new();
    if statics {
        urls.extend(
            STATIC_PATHS
                .iter()
                .map(|path| (format!("{base}{path}"), None)),
        );
    }
    match record_urls(state.backend.as_ref(), &base, skip, take).await {
        Ok(records) => urls.extend(records),
        Err(response) => return response,
    }
    xml_response(render_urlset(&urls))
}

/// `GET /sitemap.xml`.
pub(crate) async fn sitemap<B: WebBackend>(State(state): State<Arc<WebState<B>>>) -> Response {
    let records = match state.backend.live_record_count().await {
        Ok(records) => records,
        Err(error) => {
            tracing::error!(error = %error, "sitemap failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the sitemap is unavailable",
            )
                .into_response();
        }
    };
    match plan(records, SITEMAP_URLS_MAX) {
        Plan::Single => file(&state, 1).await,
        Plan::Index { files } => {
            let base = state.backend.node_info().base_url;
            let base = base.trim_end_matches('/');
            let locs: Vec<String> = (1..=files)
                .map(|number| format!("{base}/sitemaps/{number}.xml"))
                .collect();
            xml_response(render_index(&locs))
        }
    }
}

/// `GET /sitemaps/{n}.xml`: file `n` of a sitemap index.
pub(crate) async fn sitemap_file<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path(name): Path<String>,
) -> Response {
    let number = name
        .strip_suffix(".xml")
        .and_then(|number| number.parse::<usize>().ok())
        .filter(|number| *number >= 1);
    let files = match state.backend.live_record_count().await {
        Ok(records) => match plan(records, SITEMAP_URLS_MAX) {
            Plan::Single => 1,
            Plan::Index { files } => files,
        },
        Err(_) => 0,
    };
    match number {
        Some(number) if number <= files => file(&state, number).await,
        _ => (StatusCode::NOT_FOUND, "no such sitemap file").into_response(),
    }
}

/// The robots.txt of the node at `base`.
pub fn robots_txt(base: &str) -> String {
    let base = base.trim_end_matches('/');
    format!(
        "# seednet: the public pages and the public read API may be crawled.\n\
         User-agent: *\n\
         Allow: /\n\
         Allow: /oai\n\
         Disallow: /admin\n\
         Disallow: /editor\n\
         Disallow: /account\n\
         Disallow: /signin\n\
         Disallow: /signout\n\
         Disallow: /lang/\n\
         Disallow: /api/v1/tokens\n\
         Disallow: /api/v1/accounts\n\
         Disallow: /api/v1/audit\n\
         Disallow: /federation/\n\
         \n\
         Sitemap: {base}/sitemap.xml\n"
    )
}

/// `GET /robots.txt`.
pub(crate) async fn robots<B: WebBackend>(State(state): State<Arc<WebState<B>>>) -> Response {
    let mut response = (
        StatusCode::OK,
        robots_txt(&state.backend.node_info().base_url),
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_the_sitemap_becomes_an_index_of_full_files() {
        assert_eq!(plan(0, 10), Plan::Single);
        assert_eq!(plan(8, 10), Plan::Single);
        assert_eq!(plan(9, 10), Plan::Index { files: 2 });
        assert_eq!(plan(28, 10), Plan::Index { files: 3 });
        // File 1: the two static pages and records 0..8; then 10 a file.
        assert_eq!(file_range(1, 10), (true, 0, 8));
        assert_eq!(file_range(2, 10), (false, 8, 10));
        assert_eq!(file_range(3, 10), (false, 18, 10));
        assert_eq!(
            plan(SITEMAP_URLS_MAX as u64, SITEMAP_URLS_MAX),
            Plan::Index { files: 2 }
        );
    }

    #[test]
    fn sitemaps_escape_addresses_and_robots_names_the_sitemap() {
        let set = render_urlset(&[("https://n.example/?a=1&b=<2>".into(), None)]);
        assert!(
            set.contains("<loc>https://n.example/?a=1&amp;b=&lt;2&gt;</loc>"),
            "{set}"
        );
        let index = render_index(&["https://n.example/sitemaps/1.xml".into()]);
        assert!(
            index.contains("<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">")
        );
        let robots = robots_txt("https://n.example/");
        assert!(robots.contains("Disallow: /admin\n") && robots.contains("Disallow: /editor\n"));
        assert!(robots.contains("Allow: /oai\n"), "{robots}");
        assert!(robots.ends_with("Sitemap: https://n.example/sitemap.xml\n"));
    }
}
