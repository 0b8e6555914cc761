//! The seednet node as a library: storage, publishing, the HTTP API, tokens,
//! import and export, configuration. `main.rs` is a thin command-line edge
//! over these modules; tests and the federation, search and web parts reuse
//! them.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod api;
pub mod app;
pub mod audit;
pub mod clock;
pub mod config;
pub mod demo;
pub mod failure_limiter;
pub mod federation;
pub mod http;
pub mod keyfile;
pub mod keyring;
pub mod metrics;
pub mod node;
pub mod rate_limit;
pub mod schema_org;
pub mod search_index;
pub mod semantic_tier;
pub mod server;
pub mod service;
pub mod state;
pub mod storage;
pub mod sync;
pub mod tokens;
pub mod transfer;
pub mod web;

/// Software name and version, as in the node descriptor.
pub const SOFTWARE: &str = concat!("seednet/", env!("CARGO_PKG_VERSION"));
