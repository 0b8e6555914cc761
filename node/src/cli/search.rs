//! `seednet search` (asks a running node's `/api/v1/search`) and
//! `seednet reindex` (rebuilds the search index from storage, node stopped).
//!
//! Search goes through the HTTP API even on the node's own machine: the
//! running node holds the index (tantivy allows one writer) and the sled
//! lock, and the API gives the same answer the web page and peers' users
//! see. Without `--node`, the URL comes from the data dir's configured
//! listen address, else the default local address.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use seednet_node::api::search::{MatchedViaItem, SearchResults, SnippetSpan};
use seednet_node::config::{self, Config, Overrides};
use seednet_node::node::{self, OpenError};
use seednet_node::search_index;
use seednet_node::storage::StorageError;

/// Time limit of one search request.
const SEARCH_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Largest search response the CLI reads.
const SEARCH_RESPONSE_BYTES_MAX: usize = 4 * 1024 * 1024;

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// The words to look for, in any supported language (it, el, ro, sl, en).
    query: String,
    /// Only records in these languages (comma-separated, e.g. it,el).
    #[arg(long)]
    lang: Option<String>,
    /// Only records from these countries (ISO codes, e.g. IT,RO).
    #[arg(long)]
    country: Option<String>,
    /// Only records in these competence areas (e.g. co-design).
    #[arg(long)]
    theme: Option<String>,
    /// Only records of these kinds (e.g. practice).
    #[arg(long)]
    kind: Option<String>,
    /// Only records for these target groups.
    #[arg(long)]
    target_group: Option<String>,
    /// Only records from this year on.
    #[arg(long)]
    year_from: Option<i64>,
    /// Only records up to this year.
    #[arg(long)]
    year_to: Option<i64>,
    /// Only records published by these origin nodes (node ids, 64 hex digits,
    /// comma-separated; the origin facet lists them).
    #[arg(long)]
    origin: Option<String>,
    /// The language of the query, when detection guesses wrong.
    #[arg(long)]
    query_lang: Option<String>,
    /// Hits to show (1 to 50).
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Hits to skip (paging).
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// Print the node's JSON response as is.
    #[arg(long)]
    json: bool,
}

/// The URL of the node to ask: `--node`, else the data dir's listen address,
/// else the default local address.
fn node_url(node: Option<String>, data_dir: &Option<PathBuf>) -> Result<String> {
    if let Some(url) = node {
        return Ok(url);
    }
    if let Some(dir) = data_dir {
        let config = Config::load(dir, &config::process_env(), &Overrides::default())
            .with_context(|| format!("cannot read the config of {}", dir.display()))?;
        let mut listen = config.listen;
        if listen.ip().is_unspecified() {
            listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        return Ok(format!("http://{listen}"));
    }
    Ok(format!("http://{}", config::LISTEN_DEFAULT))
}

pub async fn search(
    node: Option<String>,
    data_dir: &Option<PathBuf>,
    args: SearchArgs,
) -> Result<()> {
    let base = node_url(node, data_dir)?;
    let parsed = url::Url::parse(&base).with_context(|| format!("{base:?} is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("--node must be an http or https URL");
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("q", &args.query);
    let optional = [
        ("lang", args.lang),
        ("country", args.country),
        ("theme", args.theme),
        ("kind", args.kind),
        ("target_group", args.target_group),
        ("origin", args.origin),
        ("query_lang", args.query_lang),
        ("year_from", args.year_from.map(|y| y.to_string())),
        ("year_to", args.year_to.map(|y| y.to_string())),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            query.append_pair(name, &value);
        }
    }
    query.append_pair("limit", &args.limit.to_string());
    query.append_pair("offset", &args.offset.to_string());
    let url = format!(
        "{}/api/v1/search?{}",
        base.trim_end_matches('/'),
        query.finish()
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(SEARCH_REQUEST_TIMEOUT_MS))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client.get(&url).send().await.with_context(|| {
        format!("cannot reach the node at {base} (is it running? pass --node URL)")
    })?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .context("reading the search response")?;
    if bytes.len() > SEARCH_RESPONSE_BYTES_MAX {
        bail!("the node's response is over {SEARCH_RESPONSE_BYTES_MAX} bytes");
    }
    if !status.is_success() {
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let error = &body["error"];
        match error["code"].as_str() {
            Some(code) => {
                let field = error["field"]
                    .as_str()
                    .map(|f| format!(" (parameter {f})"))
                    .unwrap_or_default();
                bail!(
                    "{} {code}: {}{field}",
                    status.as_u16(),
                    error["message"].as_str().unwrap_or("")
                )
            }
            None => bail!("{} from the node", status.as_u16()),
        }
    }
    if args.json {
        println!("{}", String::from_utf8_lossy(&bytes));
        return Ok(());
    }
    let results: SearchResults = serde_json::from_slice(&bytes)
        .context("the node's search response is not the expected JSON")?;
    print!(
        "{}",
        render(&results, args.offset, std::io::stdout().is_terminal())
    );
    Ok(())
}

/// A readable rendering: one block per hit (title, badges, how it matched,
/// snippet with matched words in bold on a terminal, else in brackets),
/// then the facets (origins as full node ids, the values `--origin` takes).
pub fn render(results: &SearchResults, offset: usize, terminal: bool) -> String {
    let mut out = format!("{} records ({} ms)\n", results.total, results.took_ms);
    for (rank, hit) in results.hits.iter().enumerate() {
        let via: Vec<String> = hit.matched_via.iter().map(describe_via).collect();
        out.push_str(&format!(
            "\n{}. {}\n   [{}] [{}] [{}] {}/{} v{}\n   matched via: {}\n   {}\n",
            offset + rank + 1,
            hit.title,
            hit.country,
            hit.lang,
            hit.kind,
            hit.origin.chars().take(12).collect::<String>(),
            hit.id,
            hit.version,
            via.join(", "),
            snippet_text(&hit.snippet_parts, terminal),
        ));
    }
    let facets = [
        ("country", &results.facets.country),
        ("lang", &results.facets.lang),
        ("kind", &results.facets.kind),
        ("theme", &results.facets.theme),
        ("target_group", &results.facets.target_group),
        ("year", &results.facets.year),
        ("origin", &results.facets.origin),
    ];
    out.push('\n');
    for (name, counts) in facets {
        if counts.is_empty() {
            continue;
        }
        let values: Vec<String> = counts
            .iter()
            .map(|c| format!("{} ({})", c.value, c.count))
            .collect();
        out.push_str(&format!("{name}: {}\n", values.join(", ")));
    }
    out
}

fn describe_via(via: &MatchedViaItem) -> String {
    match (via.via.as_str(), &via.lang, &via.concept) {
        ("translation", Some(lang), _) => format!("translation ({lang})"),
        ("concept", _, Some(concept)) => format!("concept {concept}"),
        ("narrower_concept", _, Some(concept)) => match &via.broader {
            Some(broader) => format!("concept {concept}, a kind of {broader}"),
            None => format!("concept {concept}"),
        },
        (other, _, _) => other.to_string(),
    }
}

/// The snippet as terminal text: matched words bold (terminal) or in
/// brackets.
fn snippet_text(parts: &[SnippetSpan], terminal: bool) -> String {
    let (open, close) = if terminal {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    parts
        .iter()
        .map(|part| {
            if part.marked {
                format!("{open}{}{close}", part.text)
            } else {
                part.text.clone()
            }
        })
        .collect()
}

/// `seednet reindex`: deletes and rebuilds the index from storage. Refused
/// while the node runs (it holds the data dir's lock and the index).
pub async fn reindex(data_dir: &Path) -> Result<()> {
    let config = Config::load(data_dir, &config::process_env(), &Overrides::default())?;
    let open_config = config.clone();
    let dir = data_dir.to_path_buf();
    let opened = tokio::task::spawn_blocking(move || node::open(&open_config))
        .await?
        .map_err(|error| match error {
            OpenError::Storage(StorageError::Locked { .. }) => anyhow!(
                "the node is running and holds the data dir {}; stop it before `seednet reindex` \
                 (a running node rebuilds a missing index by itself)",
                dir.display()
            ),
            other => other.into(),
        })?;
    let storage = opened.storage;
    let started = Instant::now();
    let bar = indicatif::ProgressBar::new(storage.head_seq().max(1));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reindexing [{bar:40}] {pos}/{len} changes ({elapsed})",
        )
        .expect("valid progress template")
        .progress_chars("=> "),
    );
    let data_dir = config.data_dir.clone();
    let work_storage = std::sync::Arc::clone(&storage);
    let work_bar = bar.clone();
    let rebuilt = tokio::task::spawn_blocking(move || {
        search_index::rebuild(work_storage.as_ref(), &data_dir, |read, head| {
            work_bar.set_length(head.max(1));
            work_bar.set_position(read);
        })
    })
    .await?;
    bar.finish_and_clear();
    let closing = std::sync::Arc::clone(&storage);
    tokio::task::spawn_blocking(move || closing.shutdown()).await??;
    let summary = rebuilt.context("reindex failed")?;
    println!(
        "reindexed {} records ({} change-log entries) in {:.2} s",
        summary.records,
        summary.changes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_facet_is_printed_with_full_node_ids() {
        use seednet_node::api::search::{FacetCount, SearchFacets, SearchQueryInfo};
        let origin = "ab".repeat(32);
        let counts = |value: &str| {
            vec![FacetCount {
                value: value.to_string(),
                count: 2,
            }]
        };
        let results = SearchResults {
            total: 2,
            took_ms: 1,
            hits: Vec::new(),
            facets: SearchFacets {
                country: counts("IT"),
                lang: counts("it"),
                kind: counts("practice"),
                theme: counts("co-design"),
                target_group: counts("youth"),
                year: counts("2022"),
                origin: counts(&origin),
            },
            query: SearchQueryInfo {
                lang: Some("it".into()),
                lang_detected: true,
                concepts: Vec::new(),
                semantic: false,
                semantic_unavailable: None,
            },
        };
        let text = render(&results, 0, false);
        assert!(text.contains("country: IT (2)\n"), "{text}");
        assert!(text.contains(&format!("origin: {origin} (2)\n")), "{text}");
    }

    #[test]
    fn snippets_mark_matches() {
        let span = |text: &str, marked| SnippetSpan {
            text: text.into(),
            marked,
        };
        let parts = [
            span("a <b> ", false),
            span("co-design", true),
            span(" & c", false),
        ];
        assert_eq!(snippet_text(&parts, false), "a <b> [co-design] & c");
        assert_eq!(snippet_text(&[span("x", true)], true), "\x1b[1mx\x1b[0m");
    }
}
