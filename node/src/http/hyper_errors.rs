//! Bodies for the answers hyper writes itself.
//!
//! Why: hyper answers a request it cannot parse (bad request line or header
//! syntax, a target over its 65,534-byte ceiling, a header block over its
//! buffer, an HTTP version it does not speak) before any service sees it,
//! with a status line and `content-length: 0`. Those answers would be the
//! only errors of the node without the documented error shape. [`Speaking`]
//! wraps a connection's socket: when hyper writes a response head that the
//! application did not produce (every response of the router carries
//! `x-request-id`; hyper's own never do) with an error status and no body,
//! the head is replaced by the same status with a JSON error body
//! (`{"error": {"code", "message"}}`, see `crate::http::error`) and
//! `connection: close`, which hyper closes after anyway. The request could
//! not be read, so its `Accept` is unknown and the body is JSON for
//! everyone; what a browser can actually send over the node's limits is
//! refused by `crate::http::request_limits`, which negotiates.
//!
//! The wrapper says it cannot write vectored, so hyper hands it each
//! message flattened, head first; a replaced head is reported to hyper as
//! written in full, and the replacement is written out before anything
//! else, also across partial writes.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};

use super::error::{ErrorBody, ErrorInfo};

/// Longest response head examined (hyper's error heads are about 120 bytes).
const HEAD_BYTES_MAX: usize = 1024;

/// A connection's socket whose hyper-written error heads get a body.
pub struct Speaking<T> {
    inner: T,
    /// The replacement still to write, and how much of it is written.
    pending: Vec<u8>,
    written: usize,
}

impl<T> Speaking<T> {
    pub fn new(inner: T) -> Self {
        Speaking {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The code and message for a status hyper answers with.
fn describe(status: u16) -> (&'static str, &'static str) {
    match status {
        414 => (
            "uri_too_long",
            "the request target is over the HTTP layer's limit",
        ),
        431 => (
            "headers_too_large",
            "the request headers are over the HTTP layer's limit",
        ),
        505 => (
            "http_version_not_supported",
            "the node speaks HTTP/1.1 (and 1.0)",
        ),
        408 => ("timeout", "the request headers took too long"),
        status if status >= 500 => ("internal", "the HTTP layer failed; see the node's log"),
        _ => ("bad_request", "the request is not valid HTTP/1.1"),
    }
}

/// The replacement for `written` when it is a body-less error head that the
/// application did not produce.
pub fn replacement(written: &[u8]) -> Option<Vec<u8>> {
    let head_end = written
        .windows(4)
        .take(HEAD_BYTES_MAX)
        .position(|window| window == b"\r\n\r\n")?;
    if head_end + 4 != written.len() {
        return None;
    }
    let head = std::str::from_utf8(&written[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let rest = status_line.strip_prefix("HTTP/1.")?;
    let mut parts = rest.splitn(3, ' ');
    let version = parts.next()?;
    let status: u16 = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or("");
    if status < 400 {
        return None;
    }
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "x-request-id" => return None,
            "content-length" => empty = value.trim() == "0",
            _ => {}
        }
    }
    if !empty {
        return None;
    }
    let (code, message) = describe(status);
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorInfo {
            code: code.to_string(),
            message: message.to_string(),
            field: None,
            details: Vec::new(),
        },
    })
    .expect("error serialises");
    let mut answer = format!(
        "HTTP/1.{version} {status} {reason}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

impl<T: Write + Unpin> Speaking<T> {
    /// Writes what is left of a replacement; ready when nothing is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: Read + Unpin> Read for Speaking<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for Speaking<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        if let Some(answer) = replacement(buf) {
            tracing::debug!(
                status = %String::from_utf8_lossy(&buf[..buf.len().min(12)]),
                "the HTTP layer refused a request; answering with an error body"
            );
            this.pending = answer;
            this.written = 0;
            // Reported as written; the rest follows on the next write or flush.
            if let Poll::Ready(Err(error)) = this.poll_pending(cx) {
                return Poll::Ready(Err(error));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_error_heads_get_a_json_body_and_the_application_answers_stay() {
        let hyper_head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Tue, 08 Dec 2026 03:11:03 GMT\r\n\r\n";
        let answer = String::from_utf8(replacement(hyper_head).unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["code"], "headers_too_large");

        let bad = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(String::from_utf8(replacement(bad).unwrap())
            .unwrap()
            .contains("\"code\":\"bad_request\""));

        let ours = b"HTTP/1.1 404 Not Found\r\nx-request-id: 1\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(replacement(ours), None, "the application's answers stay");
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(replacement(with_body), None);
        let success = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(replacement(success), None);
        assert_eq!(replacement(b"{\"records\": []}"), None);
    }
}
