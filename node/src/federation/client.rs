//! The HTTP client a node uses to talk to its peers.
//!
//! Every outgoing connection goes to an address that passed
//! [`crate::sync::address::check_peer_address`]: host names are resolved by
//! a resolver that refuses the whole name if any address is refused, and IP
//! literals are checked before the request; a name refused at resolution is
//! reported as the same [`AddressError`] as a refused literal (not as an
//! unreachable peer). Redirects are never followed (a
//! peer could otherwise bounce the node to an internal address), each request
//! has a timeout (and a shorter one, [`PEER_ANSWER_TIMEOUT_MS`], for the
//! peer to start answering), and response bodies are read up to a named bound.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, StatusCode};
use seednet_protocol::federation::http_signature::{
    sign_request, RequestParts, SignatureParams, HEADER_CONTENT_DIGEST, HEADER_SIGNATURE,
    HEADER_SIGNATURE_INPUT,
};
use seednet_protocol::{NodeDescriptor, NodeKey, Signed, SignedWire};

use crate::keyring::KeyRing;

use crate::sync::address::{check_peer_address, check_peer_url, AddressError, AddressPolicy};

/// Time to establish a connection to a peer.
pub const PEER_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Time a whole request to a peer may take (the changes feed included).
pub const PEER_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Time a peer has to start answering (its status and headers), connection
/// included. Well below the node's own request timeout
/// (`config::REQUEST_TIMEOUT_MS_DEFAULT`), so that an admin's `peer add` of a
/// node that never answers is told so (504 `peer_did_not_answer`) instead of
/// meeting its own request's timeout; the one-step add (descriptor, then link
/// request) waits at most twice this.
pub const PEER_ANSWER_TIMEOUT_MS: u64 = 10_000;
/// Largest descriptor or JSON error body read from a peer.
pub const PEER_SMALL_RESPONSE_BYTES_MAX: usize = 64 * 1024;

const CONTENT_TYPE_JSON: &str = "application/json";
const CONTENT_TYPE_BINARY: &str = "application/octet-stream";

/// Why a request to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    #[error("the peer did not answer within {timeout_ms} ms")]
    DidNotAnswer { timeout_ms: u64 },
    #[error("peer answered {status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("peer sent a bad response: {0}")]
    BadResponse(String),
}

/// A resolver that only hands out addresses the policy allows.
struct CheckedResolver {
    policy: AddressPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addresses.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            for address in &addresses {
                check_peer_address(address.ip(), policy)?;
            }
            let addrs: Addrs = Box::new(addresses.into_iter());
            Ok(addrs)
        })
    }
}

/// The client for peer requests, signed with the node's current key.
#[derive(Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    keys: Arc<KeyRing>,
    policy: AddressPolicy,
}

impl PeerClient {
    pub fn new(keys: Arc<KeyRing>, policy: AddressPolicy) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve peer names itself, past the address check.
            .no_proxy()
            .connect_timeout(Duration::from_millis(PEER_CONNECT_TIMEOUT_MS))
            .timeout(Duration::from_millis(PEER_REQUEST_TIMEOUT_MS))
            .dns_resolver(Arc::new(CheckedResolver { policy }))
            .user_agent(crate::SOFTWARE)
            .build()
            .expect("the peer client configuration is valid");
        PeerClient { http, keys, policy }
    }

    /// Checks a URL's text and, for an IP literal, its address (names are
    /// checked by the resolver at connection time).
    pub fn check_url(&self, text: &str) -> Result<url::Url, ClientError> {
        let url = check_peer_url(text)?;
        match url.host() {
            Some(url::Host::Ipv4(v4)) => check_peer_address(IpAddr::V4(v4), self.policy)?,
            Some(url::Host::Ipv6(v6)) => check_peer_address(IpAddr::V6(v6), self.policy)?,
            _ => {}
        }
        Ok(url)
    }

    /// Fetches and verifies a node's public signed descriptor (unsigned GET).
    pub async fn descriptor(&self, base_url: &str) -> Result<Signed<NodeDescriptor>, ClientError> {
        let target = format!("{base_url}/api/v1/node");
        self.check_url(&target)?;
        let response = answer(self.http.get(&target).send()).await?;
        let status = response.status();
        let body = read_bounded(response, PEER_SMALL_RESPONSE_BYTES_MAX).await?;
        if !status.is_success() {
            return Err(refusal(status, &body));
        }
        let wire: SignedWire = serde_json::from_slice(&body)
            .map_err(|e| ClientError::BadResponse(format!("descriptor is not JSON: {e}")))?;
        Signed::<NodeDescriptor>::from_wire(&wire)
            .map_err(|e| ClientError::BadResponse(format!("descriptor does not verify: {e}")))
    }

    /// Sends a signed request to `base_url` + `path_and_query` and returns the
    /// body of a successful answer, read up to `response_bytes_max`.
    pub async fn signed(
        &self,
        method: Method,
        base_url: &str,
        path_and_query: &str,
        body: Vec<u8>,
        response_bytes_max: usize,
    ) -> Result<Vec<u8>, ClientError> {
        let key = self.keys.current();
        self.signed_as(
            &key,
            method,
            base_url,
            path_and_query,
            body,
            response_bytes_max,
        )
        .await
    }

    /// [`PeerClient::signed`] with a given key instead of the current one
    /// (a key rotation statement is sent signed by the old key).
    pub async fn signed_as(
        &self,
        key: &NodeKey,
        method: Method,
        base_url: &str,
        path_and_query: &str,
        body: Vec<u8>,
        response_bytes_max: usize,
    ) -> Result<Vec<u8>, ClientError> {
        self.send(
            key,
            method,
            base_url,
            path_and_query,
            (body, CONTENT_TYPE_JSON),
            response_bytes_max,
        )
        .await
    }

    /// Like [`PeerClient::signed`], for a binary body
    /// (`application/octet-stream`: reconciliation messages).
    pub async fn signed_binary(
        &self,
        base_url: &str,
        path_and_query: &str,
        body: Vec<u8>,
        response_bytes_max: usize,
    ) -> Result<Vec<u8>, ClientError> {
        let key = self.keys.current();
        self.send(
            &key,
            Method::POST,
            base_url,
            path_and_query,
            (body, CONTENT_TYPE_BINARY),
            response_bytes_max,
        )
        .await
    }

    async fn send(
        &self,
        key: &NodeKey,
        method: Method,
        base_url: &str,
        path_and_query: &str,
        (body, content_type): (Vec<u8>, &'static str),
        response_bytes_max: usize,
    ) -> Result<Vec<u8>, ClientError> {
        let target = format!("{base_url}{path_and_query}");
        self.check_url(&target)?;
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let now = crate::clock::now_unix_seconds();
        let headers = sign_request(
            key,
            &RequestParts {
                method: method.as_str(),
                target_uri: &target,
                body: &body,
            },
            &SignatureParams::new(now, nonce),
        )
        .map_err(|e| ClientError::BadResponse(format!("cannot sign the request: {e}")))?;
        let mut request = self
            .http
            .request(method, &target)
            .header(HEADER_SIGNATURE_INPUT, headers.signature_input)
            .header(HEADER_SIGNATURE, headers.signature);
        if let Some(digest) = headers.content_digest {
            request = request
                .header(HEADER_CONTENT_DIGEST, digest)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
        }
        let response = answer(request.send()).await?;
        let status = response.status();
        if !status.is_success() {
            let body = read_bounded(response, PEER_SMALL_RESPONSE_BYTES_MAX).await?;
            return Err(refusal(status, &body));
        }
        read_bounded(response, response_bytes_max).await
    }
}

/// Waits for a peer's answer (status and headers) at most
/// [`PEER_ANSWER_TIMEOUT_MS`].
async fn answer(
    sending: impl std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
) -> Result<reqwest::Response, ClientError> {
    let waited = Duration::from_millis(PEER_ANSWER_TIMEOUT_MS);
    match tokio::time::timeout(waited, sending).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(error)) => Err(transport_error(&error)),
        Err(_elapsed) => Err(ClientError::DidNotAnswer {
            timeout_ms: PEER_ANSWER_TIMEOUT_MS,
        }),
    }
}

/// A failed request: the address check of the resolver when that is what
/// refused it (a host name that resolves to a refused address), else the
/// peer is unreachable.
fn transport_error(error: &reqwest::Error) -> ClientError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(inner) = source {
        if let Some(refused) = inner.downcast_ref::<AddressError>() {
            return ClientError::Address(refused.clone());
        }
        source = inner.source();
    }
    if error.is_timeout() {
        return ClientError::DidNotAnswer {
            timeout_ms: PEER_REQUEST_TIMEOUT_MS,
        };
    }
    ClientError::Unreachable(error_chain(error))
}

/// Reads a body up to `max` bytes; a longer body is refused without reading
/// the rest.
async fn read_bounded(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, ClientError> {
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(ClientError::BadResponse(format!(
            "response body over {max} bytes"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e))? {
        if body.len() + chunk.len() > max {
            return Err(ClientError::BadResponse(format!(
                "response body over {max} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn refusal(status: StatusCode, body: &[u8]) -> ClientError {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v["error"][name].as_str())
            .map(str::to_string)
    };
    ClientError::Refused {
        status: status.as_u16(),
        code: field("code").unwrap_or_else(|| "http_error".into()),
        message: field("message").unwrap_or_else(|| status.to_string()),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
