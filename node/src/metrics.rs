//! Prometheus text-format metrics from a small hand-written registry.
//!
//! A node needs a handful of series (requests, latency, errors, writes,
//! records by origin, peers); a hand registry keeps them explicit and avoids a
//! global registry. Storage counters are read from [`StorageStats`] and the
//! peers from their [`PeerEntry`] lines at scrape time, so neither storage nor
//! federation knows anything about metrics. Peer series are bounded by
//! `PEERS_MAX`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use seednet_protocol::federation::wire::{LinkState, PeerEntry};

use crate::storage::StorageStats;

/// Upper bounds of the request-latency histogram, in seconds.
const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Most distinct label sets kept per series; beyond, new ones are folded into
/// `other` so a client cannot grow memory without bound.
const SERIES_LABEL_SETS_MAX: usize = 1_000;

#[derive(Default, Clone)]
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, value: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; LATENCY_BUCKETS_SECONDS.len()];
        }
        for (bucket, bound) in self.buckets.iter_mut().zip(LATENCY_BUCKETS_SECONDS) {
            if value <= *bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += value;
    }
}

#[derive(Default)]
struct Series {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    errors: BTreeMap<String, u64>,
}

/// The HTTP-side metrics of one node.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<Series>,
}

fn bounded_key<K: Ord + Clone, V: Default>(map: &mut BTreeMap<K, V>, key: K, other: K) -> &mut V {
    let key = if map.len() >= SERIES_LABEL_SETS_MAX && !map.contains_key(&key) {
        other
    } else {
        key
    };
    map.entry(key).or_default()
}

impl Metrics {
    /// Records one finished request. `route` is the matched route template
    /// (never the raw path, which would grow without bound).
    pub fn observe_request(
        &self,
        route: &str,
        method: &str,
        status: u16,
        seconds: f64,
        error_code: Option<&str>,
    ) {
        let mut series = self.series.lock().expect("metrics lock");
        *bounded_key(
            &mut series.requests,
            (route.to_string(), method.to_string(), status),
            ("other".into(), "other".into(), 0),
        ) += 1;
        bounded_key(&mut series.latency, route.to_string(), "other".into()).observe(seconds);
        if let Some(code) = error_code {
            *bounded_key(&mut series.errors, code.to_string(), "other".into()) += 1;
        }
    }

    /// The Prometheus text exposition of these metrics, `storage` and `peers`.
    pub fn render(&self, storage: &StorageStats, peers: &[PeerEntry]) -> String {
        let series = self.series.lock().expect("metrics lock");
        let mut out = String::new();
        out.push_str(
            "# HELP seednet_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE seednet_http_requests_total counter\n");
        for ((route, method, status), count) in &series.requests {
            let _ = writeln!(
                out,
                "seednet_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
                escape(route),
                escape(method)
            );
        }
        out.push_str(
            "# HELP seednet_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE seednet_http_request_duration_seconds histogram\n");
        for (route, histogram) in &series.latency {
            let route = escape(route);
            for (bound, count) in LATENCY_BUCKETS_SECONDS.iter().zip(&histogram.buckets) {
                let _ = writeln!(
                    out,
                    "seednet_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "seednet_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "seednet_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "seednet_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                histogram.count
            );
        }
        out.push_str("# HELP seednet_http_errors_total Error responses by error code.\n");
        out.push_str("# TYPE seednet_http_errors_total counter\n");
        for (code, count) in &series.errors {
            let _ = writeln!(
                out,
                "seednet_http_errors_total{{code=\"{}\"}} {count}",
                escape(code)
            );
        }
        drop(series);
        render_storage(&mut out, storage);
        render_peers(&mut out, peers);
        out
    }
}

/// A per-peer series: name, type, help, and its value for one peer (`None`:
/// no sample for that peer).
type PeerSeries = (
    &'static str,
    &'static str,
    &'static str,
    fn(&PeerEntry) -> Option<String>,
);

const PEER_SERIES: [PeerSeries; 9] = [
    (
        "seednet_peer_lag_changes",
        "gauge",
        "Changes in the peer's feed this node has not pulled yet (when last seen).",
        |p| Some(p.lag.to_string()),
    ),
    (
        "seednet_peer_records_received_total",
        "counter",
        "Record versions received from the peer and applied.",
        |p| Some(p.records_received.to_string()),
    ),
    (
        "seednet_peer_equivocations_total",
        "counter",
        "Equivocations seen in records received from the peer.",
        |p| Some(p.equivocations.to_string()),
    ),
    (
        "seednet_peer_refused_versions_total",
        "counter",
        "Record versions from the peer refused because they do not verify (each fetched again).",
        |p| Some(p.refused_versions.to_string()),
    ),
    (
        "seednet_peer_last_sync_timestamp_seconds",
        "gauge",
        "When a pull from the peer last completed without error (Unix time).",
        |p| p.last_sync_at.map(|t| t.unix_seconds().to_string()),
    ),
    (
        "seednet_peer_sync_failing",
        "gauge",
        "1 while the last sync attempt with the peer failed.",
        |p| Some(u8::from(p.last_error.is_some()).to_string()),
    ),
    (
        "seednet_peer_last_repair_timestamp_seconds",
        "gauge",
        "When the last repair pass with the peer ended (Unix time).",
        |p| {
            Some(
                p.last_repair
                    .as_ref()?
                    .finished_at?
                    .unix_seconds()
                    .to_string(),
            )
        },
    ),
    (
        "seednet_peer_last_repair_recovered",
        "gauge",
        "Versions the last repair pass with the peer found missing and applied.",
        |p| Some(p.last_repair.as_ref()?.applied.to_string()),
    ),
    (
        "seednet_peer_last_repair_failed",
        "gauge",
        "1 when the last repair pass with the peer stopped on an error.",
        |p| Some(u8::from(p.last_repair.as_ref()?.error.is_some()).to_string()),
    ),
];

fn render_peers(out: &mut String, peers: &[PeerEntry]) {
    out.push_str("# HELP seednet_peers Peers by link state.\n# TYPE seednet_peers gauge\n");
    for state in LinkState::ALL {
        let count = peers.iter().filter(|p| p.state == state).count();
        let _ = writeln!(out, "seednet_peers{{state=\"{}\"}} {count}", state.as_str());
    }
    out.push_str(
        "# HELP seednet_peer_info A peer's name, country and link state (value 1).\n\
         # TYPE seednet_peer_info gauge\n",
    );
    for peer in peers {
        let state = peer.state.as_str();
        let _ = writeln!(
            out,
            "seednet_peer_info{{peer=\"{}\",name=\"{}\",country=\"{}\",state=\"{state}\"}} 1",
            peer.node_id,
            escape(&peer.name),
            peer.country
        );
    }
    for (name, kind, help, value) in PEER_SERIES {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for peer in peers {
            if let Some(value) = value(peer) {
                let _ = writeln!(out, "{name}{{peer=\"{}\"}} {value}", peer.node_id);
            }
        }
    }
}

fn render_storage(out: &mut String, stats: &StorageStats) {
    out.push_str("# HELP seednet_records Current records by origin node and state.\n");
    out.push_str("# TYPE seednet_records gauge\n");
    for (origin, counts) in &stats.records_by_origin {
        let _ = writeln!(
            out,
            "seednet_records{{origin=\"{origin}\",state=\"live\"}} {}",
            counts.live
        );
        let _ = writeln!(
            out,
            "seednet_records{{origin=\"{origin}\",state=\"deleted\"}} {}",
            counts.deleted
        );
    }
    out.push_str("# HELP seednet_writes_total Record versions offered to storage, by outcome.\n");
    out.push_str("# TYPE seednet_writes_total counter\n");
    for (outcome, value) in [
        ("applied", stats.applied_total),
        ("already_have", stats.already_have_total),
        ("stale", stats.stale_total),
        ("equivocation", stats.equivocations_total),
    ] {
        let _ = writeln!(out, "seednet_writes_total{{outcome=\"{outcome}\"}} {value}");
    }
    let simple: [(&str, &str, &str, String); 6] = [
        (
            "seednet_change_log_head",
            "gauge",
            "Newest change-log sequence number.",
            stats.head_seq.to_string(),
        ),
        (
            "seednet_evidence_records",
            "gauge",
            "Signed versions kept as equivocation evidence.",
            stats.evidence_records.to_string(),
        ),
        (
            "seednet_storage_write_batches_total",
            "counter",
            "Group commits (one flush each).",
            stats.write_batches_total.to_string(),
        ),
        (
            "seednet_storage_write_ops_total",
            "counter",
            "Write operations committed in batches.",
            stats.write_ops_total.to_string(),
        ),
        (
            "seednet_storage_flushes_total",
            "counter",
            "Storage flushes.",
            stats.flushes_total.to_string(),
        ),
        (
            "seednet_storage_flush_seconds_total",
            "counter",
            "Time spent committing and flushing.",
            stats.flush_seconds_total.to_string(),
        ),
    ];
    for (name, kind, help, value) in simple {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}

/// The connection gate's series: open connections, and those closed at
/// accept by reason.
pub fn render_connections(gate: &crate::http::connections::ConnectionGate) -> String {
    let (node_full, address_full) = gate.refused();
    format!(
        "# HELP seednet_connections_open Open client connections.\n\
         # TYPE seednet_connections_open gauge\n\
         seednet_connections_open {}\n\
         # HELP seednet_connections_refused_total Connections closed at accept: the node's public share full, or the client address's.\n\
         # TYPE seednet_connections_refused_total counter\n\
         seednet_connections_refused_total{{reason=\"node_full\"}} {node_full}\n\
         seednet_connections_refused_total{{reason=\"address_full\"}} {address_full}\n",
        gate.open()
    )
}

/// The semantic tier's series: whether it takes part, records with
/// vectors, change-log entries not yet embedded, passages embedded.
pub fn render_semantic(status: &crate::semantic_tier::SemanticStatus) -> String {
    use crate::semantic_tier::SemanticState;
    let ready = u8::from(status.state == SemanticState::Ready);
    let mut out = String::new();
    out.push_str("# HELP seednet_semantic_ready Whether searches fuse the semantic tier (1) or are lexical only (0).\n");
    out.push_str("# TYPE seednet_semantic_ready gauge\n");
    let _ = writeln!(out, "seednet_semantic_ready {ready}");
    out.push_str("# HELP seednet_semantic_vectors Records with vectors.\n");
    out.push_str("# TYPE seednet_semantic_vectors gauge\n");
    let _ = writeln!(
        out,
        "seednet_semantic_vectors {}",
        status.records_with_vectors
    );
    out.push_str(
        "# HELP seednet_semantic_pending Change-log entries the embedder has not reached yet.\n",
    );
    out.push_str("# TYPE seednet_semantic_pending gauge\n");
    let _ = writeln!(out, "seednet_semantic_pending {}", status.pending);
    out.push_str(
        "# HELP seednet_semantic_passages_embedded_total Passages embedded since start.\n",
    );
    out.push_str("# TYPE seednet_semantic_passages_embedded_total counter\n");
    let _ = writeln!(
        out,
        "seednet_semantic_passages_embedded_total {}",
        status.passages_embedded
    );
    out
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let metrics = Metrics::default();
        metrics.observe_request("/api/v1/records", "POST", 201, 0.003, None);
        metrics.observe_request("/api/v1/records", "POST", 422, 0.02, Some("invalid_url"));
        let text = metrics.render(&StorageStats::default(), &[]);
        assert!(text.contains(
            "seednet_http_requests_total{route=\"/api/v1/records\",method=\"POST\",status=\"201\"} 1"
        ));
        assert!(text.contains(
            "seednet_http_request_duration_seconds_bucket{route=\"/api/v1/records\",le=\"0.005\"} 1"
        ));
        assert!(text
            .contains("seednet_http_request_duration_seconds_count{route=\"/api/v1/records\"} 2"));
        assert!(text.contains("seednet_http_errors_total{code=\"invalid_url\"} 1"));
    }

    #[test]
    fn renders_peers_with_escaped_names_and_only_the_samples_they_have() {
        use seednet_protocol::federation::wire::{Approval, Link, RepairReport};
        use seednet_protocol::{CountryCode, Timestamp};
        let peer = |n: u8, name: &str, state, link| PeerEntry {
            node_id: seednet_protocol::testing::test_key(n).node_id(),
            name: name.into(),
            country: CountryCode::parse("SI").unwrap(),
            base_url: format!("https://peer{n}.example.org"),
            state,
            link,
            last_sync_at: None,
            records_received: 5,
            cursor: 9,
            head_seq: 12,
            lag: 3,
            last_error: Some("peer unreachable".into()),
            equivocations: 0,
            last_repair: None,
            pending_rotation: None,
            former_node_ids: Vec::new(),
            requested_at: None,
            refused_versions: u64::from(n),
            last_refused: None,
        };
        let active = Link {
            local: Approval::Approved,
            remote: Approval::Approved,
        };
        let pending = Link {
            local: Approval::None,
            remote: Approval::Approved,
        };
        let repaired = PeerEntry {
            last_sync_at: Timestamp::from_unix_seconds(1_767_225_600),
            last_error: None,
            last_repair: Some(RepairReport {
                finished_at: Timestamp::from_unix_seconds(1_767_225_660),
                applied: 4,
                ..RepairReport::default()
            }),
            ..peer(2, "Center \"Ljubljana\"", LinkState::Active, active)
        };
        let waiting = peer(3, "Κέντρο", LinkState::Pending, pending);
        let text = Metrics::default().render(&StorageStats::default(), &[repaired, waiting]);
        let (two, three) = (test_id(2), test_id(3));
        for expected in [
            "seednet_peers{state=\"active\"} 1".to_string(),
            "seednet_peers{state=\"pending\"} 1".to_string(),
            "seednet_peers{state=\"revoked\"} 0".to_string(),
            format!("seednet_peer_info{{peer=\"{two}\",name=\"Center \\\"Ljubljana\\\"\",country=\"SI\",state=\"active\"}} 1"),
            format!("seednet_peer_lag_changes{{peer=\"{three}\"}} 3"),
            format!("seednet_peer_sync_failing{{peer=\"{two}\"}} 0"),
            format!("seednet_peer_sync_failing{{peer=\"{three}\"}} 1"),
            format!("seednet_peer_last_sync_timestamp_seconds{{peer=\"{two}\"}} 1767225600"),
            format!("seednet_peer_last_repair_timestamp_seconds{{peer=\"{two}\"}} 1767225660"),
            format!("seednet_peer_last_repair_recovered{{peer=\"{two}\"}} 4"),
            format!("seednet_peer_refused_versions_total{{peer=\"{three}\"}} 3"),
        ] {
            assert!(text.contains(&expected), "no {expected} in\n{text}");
        }
        // A peer that never synced or repaired has no such sample.
        for absent in [
            format!("seednet_peer_last_sync_timestamp_seconds{{peer=\"{three}\"}}"),
            format!("seednet_peer_last_repair_recovered{{peer=\"{three}\"}}"),
        ] {
            assert!(!text.contains(&absent), "{absent} in\n{text}");
        }
    }

    fn test_id(n: u8) -> String {
        seednet_protocol::testing::test_key(n).node_id().to_hex()
    }
}
