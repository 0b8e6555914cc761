//! HTTP plumbing that the JSON API, the federation endpoints and the web
//! interface share: the one error shape ([`error`]), request extractors for
//! tokens and JSON bodies ([`extract`]), the request body limit
//! ([`body_limit`]), the limits on a request's target and headers
//! ([`request_limits`]), bodies for the answers hyper writes itself
//! ([`hyper_errors`]), strict query strings ([`query`]) and the client's address for rate limits
//! ([`client_address`]). Nothing here handles a route; handlers import from
//! here, never from each other.

pub mod body_limit;
pub mod client_address;
pub mod connections;
pub mod error;
pub mod extract;
pub mod hyper_errors;
pub mod query;
pub mod request_limits;
