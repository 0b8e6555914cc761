//! HTTP plumbing that the JSON API, the federation endpoints and the web
//! interface share: the one error shape ([`error`]), request extractors for
//! tokens and JSON bodies ([`extract`]) and the request body limit
//! ([`body_limit`]). Nothing here handles a route; handlers import from
//! here, never from each other.

pub mod body_limit;
pub mod error;
pub mod extract;
