//! [`SignedRequest`]: the one opening of every `/federation/v1` handler.
//!
//! It reads the body up to the endpoint's bound, verifies the request
//! signature (RFC 9421 profile of `docs/PROTOCOL.md` 9.3) off the async
//! runtime, authorises the signer for the endpoint by the link table
//! ([`crate::sync::policy::authorize`]) and waits until the request's nonce
//! is durable. A request that fails any step gets its 401/403/413/503 JSON
//! error and the handler never runs; a handler that takes a
//! `SignedRequest<E>` can only see verified requests of its own kind.

use std::cell::Cell;
use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use seednet_protocol::federation::http_signature::{
    verify_request, NonceCacheError, ReceivedHeaders, RequestParts, SignatureError, VerifyPolicy,
    HEADER_CONTENT_DIGEST, HEADER_SIGNATURE, HEADER_SIGNATURE_INPUT,
};
use seednet_protocol::federation::limits::{
    FEDERATION_SMALL_BODY_BYTES_MAX, RECONCILE_MESSAGE_BYTES_MAX,
};
use seednet_protocol::federation::wire::ITEMS_REQUEST_BODY_BYTES_MAX;
use seednet_protocol::NodeId;

use crate::http::error::ApiError;
use crate::state::AppState;
use crate::sync::policy::{authorize, Endpoint, Refusal};

/// What a kind of signed call is: whom the link table lets make it, and the
/// largest body it may carry.
pub trait SignedCall: Send + Sync + 'static {
    const ENDPOINT: Endpoint;
    const BODY_BYTES_MAX: usize;
}

/// `POST /federation/v1/links`: any node may ask for a link.
pub struct LinkRequestCall;
impl SignedCall for LinkRequestCall {
    const ENDPOINT: Endpoint = Endpoint::LinkRequest;
    const BODY_BYTES_MAX: usize = FEDERATION_SMALL_BODY_BYTES_MAX;
}

/// `POST /federation/v1/links/accept`: a node this one asked.
pub struct LinkAcceptCall;
impl SignedCall for LinkAcceptCall {
    const ENDPOINT: Endpoint = Endpoint::LinkAccept;
    const BODY_BYTES_MAX: usize = FEDERATION_SMALL_BODY_BYTES_MAX;
}

/// Feed, notify, rotation statements: an active peer, small bodies.
pub struct PeerCall;
impl SignedCall for PeerCall {
    const ENDPOINT: Endpoint = Endpoint::Peer;
    const BODY_BYTES_MAX: usize = FEDERATION_SMALL_BODY_BYTES_MAX;
}

/// `POST /federation/v1/reconcile`: an active peer, one reconciliation message.
pub struct ReconcileCall;
impl SignedCall for ReconcileCall {
    const ENDPOINT: Endpoint = Endpoint::Peer;
    const BODY_BYTES_MAX: usize = RECONCILE_MESSAGE_BYTES_MAX;
}

/// `POST /federation/v1/records/by-item`: an active peer, a list of item ids.
pub struct ItemsCall;
impl SignedCall for ItemsCall {
    const ENDPOINT: Endpoint = Endpoint::Peer;
    const BODY_BYTES_MAX: usize = ITEMS_REQUEST_BODY_BYTES_MAX;
}

/// A request whose signature verified, from a signer allowed to make a
/// call of kind `C`, with its nonce stored.
pub struct SignedRequest<C: SignedCall> {
    /// The node that signed the request (its current key).
    pub signer: NodeId,
    /// The request's body, as signed.
    pub body: Bytes,
    call: PhantomData<C>,
}

impl<C: SignedCall> FromRequest<AppState> for SignedRequest<C> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| {
                ApiError::new(rejection.status(), "bad_body", rejection.body_text())
            })?;
        if body.len() > C::BODY_BYTES_MAX {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("at most {} bytes", C::BODY_BYTES_MAX),
            ));
        }
        let signer = verify(state, C::ENDPOINT, &parts, &body).await?;
        if let Some(address) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            state.federation.note_peer_address(&signer, address.0.ip());
        }
        Ok(SignedRequest {
            signer,
            body,
            call: PhantomData,
        })
    }
}

fn refusal_error(refusal: Refusal) -> ApiError {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::FORBIDDEN);
    let message = match refusal.code {
        "link_revoked" => "this node's admin revoked the link",
        "link_pending" => "this node's admin has not approved the link yet",
        "signature_unknown_key" => "the signer is not a peer of this node",
        _ => "the link does not allow this call",
    };
    ApiError::new(status, refusal.code, message)
}

fn signature_error(error: &SignatureError) -> ApiError {
    ApiError::new(
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNAUTHORIZED),
        error.code(),
        error.to_string(),
    )
}

/// Verifies the request signature and authorises the signer for `endpoint`;
/// returns once the nonce is durable.
async fn verify(
    state: &AppState,
    endpoint: Endpoint,
    parts: &Parts,
    body: &Bytes,
) -> Result<NodeId, ApiError> {
    let federation = state.federation.clone();
    let links = federation.links_snapshot();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let target_uri = format!("{}{}", state.config.public_url, path_and_query);
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let signature_input = header(HEADER_SIGNATURE_INPUT);
    let signature = header(HEADER_SIGNATURE);
    let content_digest = header(HEADER_CONTENT_DIGEST);
    let method = parts.method.as_str().to_string();
    let body = body.clone();
    let (signer, nonce_write) = tokio::task::spawn_blocking(move || {
        let refusal = Cell::new(None);
        let accept = |id: &NodeId| match authorize(endpoint, links.get(id)) {
            Ok(()) => true,
            Err(r) => {
                refusal.set(Some(r));
                false
            }
        };
        let now = crate::clock::now_unix_seconds();
        let mut nonces = federation.nonces().reservation(now).map_err(|error| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "federation_starting",
                error.to_string(),
            )
        })?;
        let verified = verify_request(
            &RequestParts {
                method: &method,
                target_uri: &target_uri,
                body: &body,
            },
            &ReceivedHeaders {
                signature_input: signature_input.as_deref(),
                signature: signature.as_deref(),
                content_digest: content_digest.as_deref(),
            },
            now,
            &VerifyPolicy::default(),
            &accept,
            &mut nonces,
        )
        .map_err(|error| match (refusal.get(), &error) {
            (Some(refusal), SignatureError::UnknownKey(_)) => refusal_error(refusal),
            _ => signature_error(&error),
        })?;
        Ok::<_, ApiError>((verified.signer, nonces.into_write()))
    })
    .await
    .map_err(|e| ApiError::internal(format!("verification task failed: {e}")))??;
    if let Some(write) = nonce_write {
        write.wait().await.map_err(|error| {
            signature_error(&SignatureError::from(NonceCacheError(error.to_string())))
        })?;
    }
    Ok(signer)
}
