//! The address a request comes from, for the limits counted per client
//! (failed sign-ins, link requests from unknown nodes).
//!
//! The server puts the TCP peer's address on every request (axum's
//! `ConnectInfo`, see `crate::server`). Behind the reverse proxy of
//! `deploy/nginx-seednet.conf` that peer is the proxy on loopback, so every
//! person would share one address; the proxy appends the real client to
//! `X-Forwarded-For`. That header is believed only when the peer is a
//! loopback address (a proxy on the same machine), and only its last entry
//! (the one the proxy wrote; earlier entries come from the client and can be
//! anything). A request from anywhere else is counted by its own address.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

/// Most bytes of `X-Forwarded-For` examined.
pub const FORWARDED_FOR_BYTES_MAX: usize = 2048;

/// The client's address: the peer's, or the proxy's last forwarded entry
/// when the peer is loopback. `None` when the server did not say (router
/// tests without a socket).
pub fn client_address(peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let peer = peer?.ip();
    if !peer.is_loopback() {
        return Some(peer);
    }
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok())
        .filter(|text| text.len() <= FORWARDED_FOR_BYTES_MAX)
        .and_then(|text| text.rsplit(',').next())
        .and_then(|last| last.trim().parse::<IpAddr>().ok());
    Some(forwarded.unwrap_or(peer))
}

/// The request's [`client_address`], as an extractor.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| *address);
        Ok(ClientAddress(client_address(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        headers
    }

    #[test]
    fn only_a_loopback_proxy_is_believed_and_only_its_last_entry() {
        let proxy: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let remote: SocketAddr = "198.51.100.7:50000".parse().unwrap();
        let spoofed = headers("203.0.113.1, 192.0.2.9");
        assert_eq!(
            client_address(Some(proxy), &spoofed),
            Some("192.0.2.9".parse().unwrap())
        );
        assert_eq!(
            client_address(Some(remote), &spoofed),
            Some(remote.ip()),
            "a remote peer cannot claim another address"
        );
        assert_eq!(
            client_address(Some(proxy), &headers("not an address")),
            Some(proxy.ip())
        );
        assert_eq!(
            client_address(Some(proxy), &HeaderMap::new()),
            Some(proxy.ip())
        );
        assert_eq!(client_address(None, &spoofed), None);
    }
}
