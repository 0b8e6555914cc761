//! HTTP plumbing that the JSON API, the federation endpoints and the web
//! interface share: the one error shape ([`error`]), request extractors for
//! tokens and JSON bodies ([`extract`]), the request body limit
//! ([`body_limit`]) and the client's address for rate limits
//! ([`client_address`]). Nothing here handles a route; handlers import from
//! here, never from each other.

pub mod body_limit;
pub mod client_address;
pub mod connections;
pub mod error;
pub mod extract;
