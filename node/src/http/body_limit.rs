//! The request body limit, with a bounded drain of what is over it.
//!
//! Why not only tower-http's `RequestBodyLimitLayer`: it answers 413 without
//! reading the body, and the server then closes a connection whose receive
//! buffer still holds the client's unread upload. On Linux that close sends a
//! TCP reset, which can reach the client before it has read the 413, so a
//! client uploading a too-large file saw "connection reset" instead of the
//! JSON error naming the limit (CI caught it as a flaky test). Here the body is
//! read up to the limit; past it, the rest is read and thrown away as long as
//! the whole body stays within the limit plus
//! [`OVERSIZED_BODY_DRAIN_BYTES_MAX`], for at most
//! [`OVERSIZED_BODY_DRAIN_MS`], and only then is the 413 sent. Bodies larger
//! than the drain bound still get their connection closed early: the drain is
//! a courtesy to honest clients, never a way to make the server read without
//! end.
//!
//! Every route here takes its body whole (JSON or a form), so buffering it in
//! this layer costs nothing the handler would not have paid.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Body as _;

use super::error::ApiError;

/// Bytes of an over-limit body that are still read (and discarded) so the
/// client receives the 413 instead of a reset connection.
pub const OVERSIZED_BODY_DRAIN_BYTES_MAX: usize = 16 * 1024 * 1024;

/// How long the drain of an over-limit body may take.
pub const OVERSIZED_BODY_DRAIN_MS: u64 = 5_000;

/// Middleware: buffers the request body up to `max` bytes and hands the
/// handler a complete body; answers 413 `body_too_large` past that.
pub async fn limit_body(State(max): State<usize>, request: Request, next: Next) -> Response {
    let (parts, mut body) = request.into_parts();
    let declared = declared_length(&parts.headers);
    // The most of one body this layer ever reads.
    let read_max = max + OVERSIZED_BODY_DRAIN_BYTES_MAX;
    if let Some(length) = declared.filter(|length| *length > max as u64) {
        // Past the drain bound the connection ends early anyway: do not
        // read 16 MiB for nothing.
        if length <= read_max as u64 {
            drain(&mut body, read_max).await;
        }
        return too_large(max);
    }
    // At most `max`, so a declared length cannot make this allocate more.
    let mut collected = Vec::with_capacity(declared.unwrap_or(0) as usize);
    loop {
        match next_data(&mut body).await {
            None => break,
            Some(Err(error)) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    format!("the request body could not be read: {error}"),
                )
                .into_response()
            }
            Some(Ok(chunk)) => {
                if collected.len() + chunk.len() > max {
                    drain(
                        &mut body,
                        read_max.saturating_sub(collected.len() + chunk.len()),
                    )
                    .await;
                    return too_large(max);
                }
                collected.extend_from_slice(&chunk);
            }
        }
    }
    let body = Body::from(Bytes::from(collected));
    next.run(Request::from_parts(parts, body)).await
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The 413, with `Connection: close`: a client that sent too much once is
/// not kept on a connection whose stream position nobody can vouch for.
fn too_large(max: usize) -> Response {
    let mut response = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the request body is over the limit of {max} bytes"),
    )
    .into_response();
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

/// The next data chunk of `body`, skipping trailers; `None` at its end.
async fn next_data(body: &mut Body) -> Option<Result<Bytes, axum::Error>> {
    loop {
        let frame = poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
        match frame {
            Err(error) => return Some(Err(error)),
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    return Some(Ok(data));
                }
            }
        }
    }
}

/// Reads and discards what is left of `body`: at most `allowance` bytes,
/// for at most [`OVERSIZED_BODY_DRAIN_MS`].
async fn drain(body: &mut Body, allowance: usize) {
    let drain = async {
        let mut drained = 0usize;
        while let Some(Ok(chunk)) = next_data(body).await {
            drained += chunk.len();
            if drained > allowance {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(OVERSIZED_BODY_DRAIN_MS), drain).await;
}
