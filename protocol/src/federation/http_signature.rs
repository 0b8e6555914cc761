//! The seednet profile of HTTP Message Signatures (RFC 9421) with
//! `Content-Digest` (RFC 9530), sans I/O.
//!
//! Every node-to-node request is signed by the sender's node key. The profile
//! fixes every choice the RFCs leave open, so that two implementations agree
//! byte for byte (`docs/PROTOCOL.md`, section "Federation"):
//!
//! - one signature, labelled [`SIGNATURE_LABEL`] in both `Signature-Input` and
//!   `Signature`;
//! - covered components, in this order: `"@method"`, `"@target-uri"`, and
//!   `"content-digest"` exactly when the request has a non-empty body;
//! - parameters `created`, `expires`, `nonce`, `alg="ed25519"` and `keyid` (the
//!   signer's [`NodeId`] in hex), no others; a signer writes them in that order;
//! - `Content-Digest: sha-256=:<base64 of SHA-256(body)>:`.
//!
//! Why this shape: the functions take and return strings and bytes only, so the
//! node maps them to and from its HTTP library's headers in a few lines and the
//! profile can be tested with fixed vectors. Verification checks cheap things
//! first (syntax, profile, digest, clock), then the key policy, then the
//! signature, and records the nonce last, so that unauthenticated requests can
//! never fill the nonce cache.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ed25519_dalek::Signature;
use sha2::{Digest, Sha256};

use super::base64;
use super::limits::{
    SIGNATURE_HEADER_CHARS_MAX, SIGNATURE_LIFETIME_SECONDS_DEFAULT, SIGNATURE_LIFETIME_SECONDS_MAX,
    SIGNATURE_NONCE_CHARS_MAX, SIGNATURE_NONCE_CHARS_MIN, SIGNATURE_SKEW_SECONDS_DEFAULT,
    SIGNATURE_TARGET_URI_CHARS_MAX,
};
use crate::identity::{NodeId, NodeKey, SignatureBytes};

/// The dictionary key of seednet's signature in both signature headers.
pub const SIGNATURE_LABEL: &str = "seednet";
/// The only algorithm of the profile.
pub const SIGNATURE_ALGORITHM: &str = "ed25519";
/// Name of the header carrying the signature's parameters (lowercase, as
/// HTTP/2 and the RFC spell header names).
pub const HEADER_SIGNATURE_INPUT: &str = "signature-input";
/// Name of the header carrying the signature itself.
pub const HEADER_SIGNATURE: &str = "signature";
/// Name of the header carrying the body's SHA-256 digest.
pub const HEADER_CONTENT_DIGEST: &str = "content-digest";

/// The parts of a request that are signed.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method as sent, e.g. `POST` (case-sensitive, RFC 9421 section 2.2.1).
    pub method: &'a str,
    /// The absolute target URI, e.g. `https://gr.example/federation/v1/notify`.
    /// A verifier uses its own public base URL followed by the request's path
    /// and query, so a request signed for another node never verifies here.
    pub target_uri: &'a str,
    /// The body; an empty body is the same as none (no digest is covered).
    pub body: &'a [u8],
}

/// The signature parameters chosen by a signer.
#[derive(Debug, Clone)]
pub struct SignatureParams {
    /// When the signature is made (`created`), in Unix seconds.
    pub created_unix_seconds: i64,
    /// When it stops being valid (`expires`), in Unix seconds: 1 to
    /// [`SIGNATURE_LIFETIME_SECONDS_MAX`] after `created_unix_seconds`.
    pub expires_unix_seconds: i64,
    /// 16 to 64 of `A-Z a-z 0-9 - _`, unique per request (e.g. 16 random bytes
    /// in hex); the caller provides the randomness.
    pub nonce: String,
}

impl SignatureParams {
    /// Parameters for a signature made at `now` with the default lifetime.
    pub fn new(now_unix_seconds: i64, nonce: impl Into<String>) -> Self {
        SignatureParams {
            created_unix_seconds: now_unix_seconds,
            expires_unix_seconds: now_unix_seconds + SIGNATURE_LIFETIME_SECONDS_DEFAULT,
            nonce: nonce.into(),
        }
    }
}

/// Header values to attach to a request, lowercase names in the constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// Value of `Signature-Input`: `seednet=(<components>);created=…;…`.
    pub signature_input: String,
    /// Value of `Signature`: `seednet=:<base64 of the 64 signature bytes>:`.
    pub signature: String,
    /// Present exactly when the body is not empty.
    pub content_digest: Option<String>,
}

/// The headers of a received request that the profile reads, as sent (each
/// `None` when the header is absent; a header sent several times is joined
/// with `", "` by the caller, as HTTP field combination requires).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReceivedHeaders<'a> {
    /// The `Signature-Input` value.
    pub signature_input: Option<&'a str>,
    /// The `Signature` value.
    pub signature: Option<&'a str>,
    /// The `Content-Digest` value.
    pub content_digest: Option<&'a str>,
}

/// Verifier settings.
#[derive(Debug, Clone, Copy)]
pub struct VerifyPolicy {
    /// Accepted clock difference between the nodes, both ways, in seconds
    /// (default [`SIGNATURE_SKEW_SECONDS_DEFAULT`]).
    pub skew_seconds: i64,
    /// Longest accepted `expires - created`, in seconds (default
    /// [`SIGNATURE_LIFETIME_SECONDS_MAX`]).
    pub lifetime_seconds_max: i64,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy {
            skew_seconds: SIGNATURE_SKEW_SECONDS_DEFAULT,
            lifetime_seconds_max: SIGNATURE_LIFETIME_SECONDS_MAX,
        }
    }
}

/// What a verified signature establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// The node that signed the request.
    pub signer: NodeId,
    /// The signature's `created`, in Unix seconds.
    pub created_unix_seconds: i64,
    /// The signature's `expires`, in Unix seconds.
    pub expires_unix_seconds: i64,
    /// The signature's `nonce`, now recorded in the nonce cache.
    pub nonce: String,
}

/// Remembers nonces so that a signed request is accepted once.
///
/// Implementations keep each `(signer, nonce)` until `forget_after_unix_seconds`
/// (after that the signature has expired and would be refused anyway). A node
/// keeps them on disk so that a restart does not reopen the replay window.
pub trait NonceCache {
    /// Records the nonce. `Ok(true)` when it was not seen before, `Ok(false)`
    /// when it was (a replay), `Err` when the cache cannot decide (full, or
    /// storage failed): the request must then be refused.
    fn insert_if_fresh(
        &mut self,
        signer: &NodeId,
        nonce: &str,
        forget_after_unix_seconds: i64,
    ) -> Result<bool, NonceCacheError>;
}

/// A nonce cache that could not record a nonce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nonce cache unavailable: {0}")]
pub struct NonceCacheError(pub String);

/// Why a request signature was refused. Each variant is one failure a peer's
/// admin can act on; [`SignatureError::code`] gives a stable code for the JSON
/// error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A signature header is absent; holds its name.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// A header value that is not an RFC 8941 dictionary within the profile
    /// (decimals, component parameters and repeated parameters are refused)
    /// or is over [`SIGNATURE_HEADER_CHARS_MAX`] characters, or a `seednet`
    /// member of the wrong type or not 64 signature bytes.
    #[error("the {header} header is malformed: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong (for a syntax error, with the offset where the
        /// parser stopped).
        reason: String,
    },
    /// A signature header without a [`SIGNATURE_LABEL`] member.
    #[error("the signature headers have no {SIGNATURE_LABEL:?} entry")]
    MissingLabel,
    /// Covered components other than the profile's, or in another order.
    #[error("covered components must be {expected}, found {found}")]
    WrongComponents {
        /// The profile's components for this request, serialised.
        expected: String,
        /// The components received, serialised.
        found: String,
    },
    /// A required signature parameter is absent; holds its name.
    #[error("signature parameter {0:?} is missing")]
    MissingParameter(&'static str),
    /// A parameter the profile does not allow, or one of the wrong type.
    #[error("signature parameter {name:?} is not allowed or has the wrong type")]
    BadParameter {
        /// The parameter's name.
        name: String,
    },
    /// An `alg` other than [`SIGNATURE_ALGORITHM`]; holds it.
    #[error("algorithm {0:?} is not supported (only \"ed25519\")")]
    UnsupportedAlgorithm(String),
    /// A `keyid` that is not a valid node id; holds the reason.
    #[error("keyid is not a node id: {0}")]
    BadKeyId(String),
    /// A nonce that is not [`SIGNATURE_NONCE_CHARS_MIN`] to
    /// [`SIGNATURE_NONCE_CHARS_MAX`] of `A-Z a-z 0-9 - _` (signing or
    /// verifying).
    #[error("nonce must be {SIGNATURE_NONCE_CHARS_MIN} to {SIGNATURE_NONCE_CHARS_MAX} of A-Z a-z 0-9 - _")]
    BadNonce,
    /// A request with a body and no `Content-Digest` header.
    #[error("the request has a body but no content-digest header")]
    MissingDigest,
    /// A `Content-Digest` without a `sha-256` member equal to the digest of
    /// the body received.
    #[error("content-digest does not match the body (only sha-256 is accepted)")]
    BadDigest,
    /// `expires - created` outside 1 to the allowed maximum (signing or
    /// verifying).
    #[error("signature lifetime {lifetime} s is not between 1 and {max} s")]
    BadLifetime {
        /// `expires - created`, in seconds.
        lifetime: i64,
        /// The longest lifetime allowed, in seconds.
        max: i64,
    },
    /// `expires + skew` is before now.
    #[error("signature expired at {expires} (now {now}, skew {skew} s)")]
    Expired {
        /// The signature's `expires`, in Unix seconds.
        expires: i64,
        /// The verifier's clock, in Unix seconds.
        now: i64,
        /// The skew allowed, in seconds.
        skew: i64,
    },
    /// `created` is after `now + skew`.
    #[error("signature created at {created} is in the future (now {now}, skew {skew} s)")]
    FromTheFuture {
        /// The signature's `created`, in Unix seconds.
        created: i64,
        /// The verifier's clock, in Unix seconds.
        now: i64,
        /// The skew allowed, in seconds.
        skew: i64,
    },
    /// The verifier does not accept this signer (`accept_key` said no);
    /// holds the signer.
    #[error("node {0} is not a known peer")]
    UnknownKey(NodeId),
    /// The signature does not verify strictly over the signature base.
    #[error("signature does not verify")]
    BadSignature,
    /// The signer's nonce was seen before: a replay.
    #[error("nonce was already used: replayed request")]
    ReplayedNonce,
    /// The nonce cache could not decide; the request may be retried (503).
    #[error(transparent)]
    NonceCache(#[from] NonceCacheError),
    /// A target URI that is not `http://` or `https://`, has characters other
    /// than printable ASCII, or is over [`SIGNATURE_TARGET_URI_CHARS_MAX`]
    /// characters (signing or verifying).
    #[error(
        "target uri is longer than {SIGNATURE_TARGET_URI_CHARS_MAX} characters or not absolute"
    )]
    BadTargetUri,
}

impl SignatureError {
    /// The HTTP status to answer with: 401 for every authentication failure,
    /// 503 when the nonce cache cannot decide (the request may be retried).
    pub fn http_status(&self) -> u16 {
        match self {
            SignatureError::NonceCache(_) => 503,
            _ => 401,
        }
    }

    /// Stable machine-readable code for `{"error": {"code": ...}}`.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader(_) => "signature_missing_header",
            SignatureError::MalformedHeader { .. } => "signature_malformed_header",
            SignatureError::MissingLabel => "signature_missing_label",
            SignatureError::WrongComponents { .. } => "signature_wrong_components",
            SignatureError::MissingParameter(_) => "signature_missing_parameter",
            SignatureError::BadParameter { .. } => "signature_bad_parameter",
            SignatureError::UnsupportedAlgorithm(_) => "signature_unsupported_algorithm",
            SignatureError::BadKeyId(_) => "signature_bad_keyid",
            SignatureError::BadNonce => "signature_bad_nonce",
            SignatureError::MissingDigest => "signature_missing_digest",
            SignatureError::BadDigest => "signature_bad_digest",
            SignatureError::BadLifetime { .. } => "signature_bad_lifetime",
            SignatureError::Expired { .. } => "signature_expired",
            SignatureError::FromTheFuture { .. } => "signature_from_the_future",
            SignatureError::UnknownKey(_) => "signature_unknown_key",
            SignatureError::BadSignature => "signature_invalid",
            SignatureError::ReplayedNonce => "signature_replayed",
            SignatureError::NonceCache(_) => "signature_nonce_cache",
            SignatureError::BadTargetUri => "signature_bad_target_uri",
        }
    }
}

/// `sha-256=:<base64>:` for `body` (RFC 9530 section 2).
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", base64::encode(&Sha256::digest(body)))
}

fn is_valid_nonce(nonce: &str) -> bool {
    (SIGNATURE_NONCE_CHARS_MIN..=SIGNATURE_NONCE_CHARS_MAX).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_target_uri(target_uri: &str) -> Result<(), SignatureError> {
    let absolute = target_uri.starts_with("https://") || target_uri.starts_with("http://");
    let printable = target_uri.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if !absolute || !printable || target_uri.len() > SIGNATURE_TARGET_URI_CHARS_MAX {
        return Err(SignatureError::BadTargetUri);
    }
    Ok(())
}

/// Signs a request: returns the header values to send with it. Refuses,
/// signing nothing, a bad target URI, nonce or lifetime
/// ([`SignatureError::BadTargetUri`], [`SignatureError::BadNonce`],
/// [`SignatureError::BadLifetime`]).
pub fn sign_request(
    key: &NodeKey,
    request: &RequestParts<'_>,
    params: &SignatureParams,
) -> Result<SignatureHeaders, SignatureError> {
    check_target_uri(request.target_uri)?;
    if !is_valid_nonce(&params.nonce) {
        return Err(SignatureError::BadNonce);
    }
    let lifetime = params.expires_unix_seconds - params.created_unix_seconds;
    if !(1..=SIGNATURE_LIFETIME_SECONDS_MAX).contains(&lifetime) {
        return Err(SignatureError::BadLifetime {
            lifetime,
            max: SIGNATURE_LIFETIME_SECONDS_MAX,
        });
    }
    let content_digest = (!request.body.is_empty()).then(|| content_digest(request.body));
    let components = profile_components(content_digest.is_some());
    let parameters = vec![
        (
            "created".to_string(),
            BareItem::Integer(params.created_unix_seconds),
        ),
        (
            "expires".to_string(),
            BareItem::Integer(params.expires_unix_seconds),
        ),
        ("nonce".to_string(), BareItem::String(params.nonce.clone())),
        (
            "alg".to_string(),
            BareItem::String(SIGNATURE_ALGORITHM.to_string()),
        ),
        (
            "keyid".to_string(),
            BareItem::String(key.node_id().to_hex()),
        ),
    ];
    let inner_list = InnerList {
        items: components
            .iter()
            .map(|name| BareItem::String((*name).to_string()))
            .collect(),
        parameters,
    };
    let signature_params = inner_list.serialize();
    let base = signature_base(
        &[
            ("@method", request.method),
            ("@target-uri", request.target_uri),
        ],
        content_digest.as_deref(),
        &signature_params,
    );
    let signature = key.sign_message(base.as_bytes());
    Ok(SignatureHeaders {
        signature_input: format!("{SIGNATURE_LABEL}={signature_params}"),
        signature: format!("{SIGNATURE_LABEL}=:{}:", base64::encode(&signature.0)),
        content_digest,
    })
}

fn profile_components(with_digest: bool) -> &'static [&'static str] {
    if with_digest {
        &["@method", "@target-uri", "content-digest"]
    } else {
        &["@method", "@target-uri"]
    }
}

/// The signature base (RFC 9421 section 2.5): one line per covered component,
/// `"<name>": <value>`, then `"@signature-params": <inner list>`, joined by
/// LF with no final newline.
fn signature_base(
    components: &[(&str, &str)],
    content_digest: Option<&str>,
    signature_params: &str,
) -> String {
    let mut base = String::new();
    for (name, value) in components {
        let _ = writeln!(base, "\"{name}\": {value}");
    }
    if let Some(digest) = content_digest {
        let _ = writeln!(base, "\"content-digest\": {digest}");
    }
    let _ = write!(base, "\"@signature-params\": {signature_params}");
    base
}

/// Verifies a received request's signature under the profile.
///
/// `request.target_uri` is the URI as this node sees it (its public base URL
/// and the request's path and query). `accept_key` says whether the signer may
/// talk to this node at all (a known peer); it is asked before the signature is
/// checked. The nonce is recorded only once everything else has passed.
/// The first failing check is the error, in the order of
/// `docs/PROTOCOL-federation.md` section 9.3 (a bad target URI right after the
/// headers' presence).
pub fn verify_request(
    request: &RequestParts<'_>,
    headers: &ReceivedHeaders<'_>,
    now_unix_seconds: i64,
    policy: &VerifyPolicy,
    accept_key: &dyn Fn(&NodeId) -> bool,
    nonces: &mut dyn NonceCache,
) -> Result<VerifiedRequest, SignatureError> {
    let input_text = headers
        .signature_input
        .ok_or(SignatureError::MissingHeader(HEADER_SIGNATURE_INPUT))?;
    let signature_text = headers
        .signature
        .ok_or(SignatureError::MissingHeader(HEADER_SIGNATURE))?;
    check_target_uri(request.target_uri)?;

    let input_members = parse_dictionary(input_text, HEADER_SIGNATURE_INPUT)?;
    let signature_members = parse_dictionary(signature_text, HEADER_SIGNATURE)?;
    let inner_list = match input_members.get(SIGNATURE_LABEL) {
        Some(Member::InnerList(list)) => list,
        Some(Member::Item(..)) => {
            return Err(malformed(
                HEADER_SIGNATURE_INPUT,
                "member is not an inner list",
            ))
        }
        None => return Err(SignatureError::MissingLabel),
    };
    let signature_bytes = match signature_members.get(SIGNATURE_LABEL) {
        Some(Member::Item(BareItem::Bytes(bytes), _)) => bytes,
        Some(_) => return Err(malformed(HEADER_SIGNATURE, "member is not a byte sequence")),
        None => return Err(SignatureError::MissingLabel),
    };
    let signature: [u8; 64] = signature_bytes
        .as_slice()
        .try_into()
        .map_err(|_| malformed(HEADER_SIGNATURE, "an ed25519 signature is 64 bytes"))?;

    // Covered components: exactly the profile's list, in order.
    let has_body = !request.body.is_empty();
    let expected = profile_components(has_body);
    let matches = inner_list.items.len() == expected.len()
        && inner_list
            .items
            .iter()
            .zip(expected)
            .all(|(item, name)| *item == BareItem::String((*name).to_string()));
    if !matches {
        let quoted: Vec<String> = expected.iter().map(|name| format!("\"{name}\"")).collect();
        let found: Vec<String> = inner_list.items.iter().map(BareItem::serialize).collect();
        return Err(SignatureError::WrongComponents {
            expected: quoted.join(" "),
            found: found.join(" "),
        });
    }

    let params = ParsedParams::from_list(inner_list)?;

    // Digest: required with a body, compared with the digest of the bytes
    // actually received.
    let digest_value = if has_body {
        let received = headers
            .content_digest
            .ok_or(SignatureError::MissingDigest)?;
        let expected_digest = content_digest(request.body);
        if !digest_header_matches(received, &expected_digest) {
            return Err(SignatureError::BadDigest);
        }
        Some(expected_digest)
    } else {
        None
    };

    // Clock.
    let lifetime = params.expires - params.created;
    if lifetime < 1 || lifetime > policy.lifetime_seconds_max {
        return Err(SignatureError::BadLifetime {
            lifetime,
            max: policy.lifetime_seconds_max,
        });
    }
    if params.created > now_unix_seconds + policy.skew_seconds {
        return Err(SignatureError::FromTheFuture {
            created: params.created,
            now: now_unix_seconds,
            skew: policy.skew_seconds,
        });
    }
    if params.expires + policy.skew_seconds < now_unix_seconds {
        return Err(SignatureError::Expired {
            expires: params.expires,
            now: now_unix_seconds,
            skew: policy.skew_seconds,
        });
    }

    if !accept_key(&params.keyid) {
        return Err(SignatureError::UnknownKey(params.keyid));
    }

    let base = signature_base(
        &[
            ("@method", request.method),
            ("@target-uri", request.target_uri),
        ],
        digest_value.as_deref(),
        &inner_list.serialize(),
    );
    params
        .keyid
        .verifying_key()
        .verify_strict(base.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| SignatureError::BadSignature)?;

    let forget_after = params.expires + policy.skew_seconds;
    if !nonces.insert_if_fresh(&params.keyid, &params.nonce, forget_after)? {
        return Err(SignatureError::ReplayedNonce);
    }
    Ok(VerifiedRequest {
        signer: params.keyid,
        created_unix_seconds: params.created,
        expires_unix_seconds: params.expires,
        nonce: params.nonce,
    })
}

/// True when the `Content-Digest` dictionary has a `sha-256` member equal to
/// `expected` (other algorithms in the header are ignored, RFC 9530 section 2;
/// a header without `sha-256` does not match).
fn digest_header_matches(received: &str, expected: &str) -> bool {
    let Ok(members) = parse_dictionary(received, HEADER_CONTENT_DIGEST) else {
        return false;
    };
    match members.get("sha-256") {
        Some(Member::Item(BareItem::Bytes(bytes), params)) if params.is_empty() => {
            format!("sha-256=:{}:", base64::encode(bytes)) == expected
        }
        _ => false,
    }
}

fn malformed(header: &'static str, reason: &str) -> SignatureError {
    SignatureError::MalformedHeader {
        header,
        reason: reason.to_string(),
    }
}

/// The profile's parameters, checked for presence, type and uniqueness.
struct ParsedParams {
    created: i64,
    expires: i64,
    nonce: String,
    keyid: NodeId,
}

impl ParsedParams {
    fn from_list(list: &InnerList) -> Result<Self, SignatureError> {
        let mut created = None;
        let mut expires = None;
        let mut nonce = None;
        let mut alg = None;
        let mut keyid = None;
        for (name, value) in &list.parameters {
            let bad = || SignatureError::BadParameter { name: name.clone() };
            match (name.as_str(), value) {
                ("created", BareItem::Integer(v)) => created = Some(*v),
                ("expires", BareItem::Integer(v)) => expires = Some(*v),
                ("nonce", BareItem::String(v)) => nonce = Some(v.clone()),
                ("alg", BareItem::String(v)) => alg = Some(v.clone()),
                ("keyid", BareItem::String(v)) => keyid = Some(v.clone()),
                _ => return Err(bad()),
            }
        }
        let alg = alg.ok_or(SignatureError::MissingParameter("alg"))?;
        if alg != SIGNATURE_ALGORITHM {
            return Err(SignatureError::UnsupportedAlgorithm(alg));
        }
        let keyid_text = keyid.ok_or(SignatureError::MissingParameter("keyid"))?;
        let keyid: NodeId = keyid_text
            .parse()
            .map_err(|e: crate::error::IdentityError| SignatureError::BadKeyId(e.to_string()))?;
        let nonce = nonce.ok_or(SignatureError::MissingParameter("nonce"))?;
        if !is_valid_nonce(&nonce) {
            return Err(SignatureError::BadNonce);
        }
        Ok(ParsedParams {
            created: created.ok_or(SignatureError::MissingParameter("created"))?,
            expires: expires.ok_or(SignatureError::MissingParameter("expires"))?,
            nonce,
            keyid,
        })
    }
}

// --- Structured field values (RFC 8941), the subset the profile needs -------

/// A bare item. Decimals are not part of the profile and are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BareItem {
    Integer(i64),
    String(String),
    Token(String),
    Bytes(Vec<u8>),
    Boolean(bool),
}

type Parameters = Vec<(String, BareItem)>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct InnerList {
    items: Vec<BareItem>,
    parameters: Parameters,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Member {
    Item(BareItem, Parameters),
    InnerList(InnerList),
}

impl BareItem {
    /// RFC 8941 section 4.1.3 and following.
    fn serialize(&self) -> String {
        match self {
            BareItem::Integer(v) => v.to_string(),
            BareItem::String(s) => {
                let mut out = String::with_capacity(s.len() + 2);
                out.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
                out
            }
            BareItem::Token(t) => t.clone(),
            BareItem::Bytes(b) => format!(":{}:", base64::encode(b)),
            BareItem::Boolean(b) => if *b { "?1" } else { "?0" }.to_string(),
        }
    }
}

fn serialize_parameters(parameters: &Parameters, out: &mut String) {
    for (name, value) in parameters {
        out.push(';');
        out.push_str(name);
        if *value != BareItem::Boolean(true) {
            out.push('=');
            out.push_str(&value.serialize());
        }
    }
}

impl InnerList {
    /// RFC 8941 section 4.1.1.1: `(item SP item ...)` followed by parameters.
    fn serialize(&self) -> String {
        let mut out = String::from("(");
        let items: Vec<String> = self.items.iter().map(BareItem::serialize).collect();
        out.push_str(&items.join(" "));
        out.push(')');
        serialize_parameters(&self.parameters, &mut out);
        out
    }
}

/// Parses an RFC 8941 dictionary. Duplicate keys: the last one wins (RFC 8941
/// section 4.2.2). Bounded by [`SIGNATURE_HEADER_CHARS_MAX`].
fn parse_dictionary(
    text: &str,
    header: &'static str,
) -> Result<BTreeMap<String, Member>, SignatureError> {
    if text.len() > SIGNATURE_HEADER_CHARS_MAX {
        return Err(malformed(header, "header value is too long"));
    }
    let mut parser = Parser {
        input: text.as_bytes(),
        position: 0,
        header,
    };
    let mut members = BTreeMap::new();
    parser.skip_spaces();
    while !parser.at_end() {
        let key = parser.key()?;
        let member = if parser.peek() == Some(b'=') {
            parser.position += 1;
            if parser.peek() == Some(b'(') {
                Member::InnerList(parser.inner_list()?)
            } else {
                let item = parser.bare_item()?;
                Member::Item(item, parser.parameters()?)
            }
        } else {
            Member::Item(BareItem::Boolean(true), parser.parameters()?)
        };
        members.insert(key, member);
        parser.skip_ows();
        if parser.at_end() {
            break;
        }
        parser.expect(b',')?;
        parser.skip_ows();
        if parser.at_end() {
            return Err(parser.error("trailing comma"));
        }
    }
    Ok(members)
}

struct Parser<'a> {
    input: &'a [u8],
    position: usize,
    header: &'static str,
}

impl Parser<'_> {
    fn error(&self, reason: &str) -> SignatureError {
        malformed(
            self.header,
            &format!("{reason} at offset {}", self.position),
        )
    }

    fn at_end(&self) -> bool {
        self.position >= self.input.len()
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.position).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), SignatureError> {
        if self.peek() == Some(byte) {
            self.position += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {:?}", byte as char)))
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.position += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.position += 1;
        }
    }

    fn key(&mut self) -> Result<String, SignatureError> {
        let start = self.position;
        match self.peek() {
            Some(b'a'..=b'z' | b'*') => self.position += 1,
            _ => return Err(self.error("expected a key")),
        }
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')
        ) {
            self.position += 1;
        }
        Ok(String::from_utf8_lossy(&self.input[start..self.position]).into_owned())
    }

    fn parameters(&mut self) -> Result<Parameters, SignatureError> {
        let mut parameters: Parameters = Vec::new();
        let mut seen = BTreeSet::new();
        while self.peek() == Some(b';') {
            self.position += 1;
            self.skip_spaces();
            let name = self.key()?;
            let value = if self.peek() == Some(b'=') {
                self.position += 1;
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            if !seen.insert(name.clone()) {
                // The profile refuses duplicates rather than guessing which
                // one the signer meant.
                return Err(self.error(&format!("parameter {name:?} given twice")));
            }
            parameters.push((name, value));
        }
        Ok(parameters)
    }

    fn inner_list(&mut self) -> Result<InnerList, SignatureError> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        loop {
            self.skip_spaces();
            if self.peek() == Some(b')') {
                self.position += 1;
                break;
            }
            let item = self.bare_item()?;
            let item_parameters = self.parameters()?;
            if !item_parameters.is_empty() {
                return Err(self.error("component parameters are not part of the profile"));
            }
            items.push(item);
            match self.peek() {
                Some(b' ' | b')') => {}
                _ => return Err(self.error("expected a space or ')'")),
            }
        }
        let parameters = self.parameters()?;
        Ok(InnerList { items, parameters })
    }

    fn bare_item(&mut self) -> Result<BareItem, SignatureError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.integer(),
            Some(b'"') => self.string(),
            Some(b':') => self.bytes(),
            Some(b'?') => self.boolean(),
            Some(b'A'..=b'Z' | b'a'..=b'z' | b'*') => self.token(),
            _ => Err(self.error("expected an item")),
        }
    }

    fn integer(&mut self) -> Result<BareItem, SignatureError> {
        let start = self.position;
        if self.peek() == Some(b'-') {
            self.position += 1;
        }
        let digits_start = self.position;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.position += 1;
        }
        let digits = self.position - digits_start;
        if digits == 0 || digits > 15 {
            return Err(self.error("integer must have 1 to 15 digits"));
        }
        if self.peek() == Some(b'.') {
            return Err(self.error("decimals are not part of the profile"));
        }
        let text = std::str::from_utf8(&self.input[start..self.position])
            .map_err(|_| self.error("bad integer"))?;
        text.parse()
            .map(BareItem::Integer)
            .map_err(|_| self.error("bad integer"))
    }

    fn string(&mut self) -> Result<BareItem, SignatureError> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.position += 1;
            match byte {
                b'"' => return Ok(BareItem::String(out)),
                b'\\' => match self.peek() {
                    Some(escaped @ (b'"' | b'\\')) => {
                        self.position += 1;
                        out.push(escaped as char);
                    }
                    _ => return Err(self.error("bad escape in string")),
                },
                0x20..=0x7e => out.push(byte as char),
                _ => return Err(self.error("string has a non-printable character")),
            }
        }
    }

    fn token(&mut self) -> Result<BareItem, SignatureError> {
        let start = self.position;
        self.position += 1;
        while let Some(byte) = self.peek() {
            let tchar = byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&byte);
            if !tchar {
                break;
            }
            self.position += 1;
        }
        Ok(BareItem::Token(
            String::from_utf8_lossy(&self.input[start..self.position]).into_owned(),
        ))
    }

    fn bytes(&mut self) -> Result<BareItem, SignatureError> {
        self.expect(b':')?;
        let start = self.position;
        while let Some(byte) = self.peek() {
            if byte == b':' {
                break;
            }
            self.position += 1;
        }
        let text = std::str::from_utf8(&self.input[start..self.position])
            .map_err(|_| self.error("bad byte sequence"))?;
        self.expect(b':')?;
        base64::decode(text)
            .map(BareItem::Bytes)
            .map_err(|_| self.error("byte sequence is not padded base64"))
    }

    fn boolean(&mut self) -> Result<BareItem, SignatureError> {
        self.expect(b'?')?;
        let value = match self.peek() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return Err(self.error("bad boolean")),
        };
        self.position += 1;
        Ok(BareItem::Boolean(value))
    }
}

/// An in-memory [`NonceCache`] bounded to `capacity` live entries. When it is
/// full of unexpired nonces it refuses new requests rather than forgetting a
/// nonce early (which would reopen a replay window).
#[derive(Debug)]
pub struct MemoryNonceCache {
    capacity: usize,
    now_unix_seconds: i64,
    entries: BTreeMap<(NodeId, String), i64>,
}

impl MemoryNonceCache {
    /// An empty cache for at most `capacity` unexpired nonces. Until the
    /// first [`MemoryNonceCache::set_now`] nothing expires.
    pub fn new(capacity: usize) -> Self {
        MemoryNonceCache {
            capacity,
            now_unix_seconds: i64::MIN,
            entries: BTreeMap::new(),
        }
    }

    /// Tells the cache the time, so that expired nonces can be forgotten.
    pub fn set_now(&mut self, now_unix_seconds: i64) {
        self.now_unix_seconds = now_unix_seconds;
    }

    /// Nonces held, expired ones included until the cache, full, forgets
    /// them.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn forget_expired(&mut self) {
        let now = self.now_unix_seconds;
        self.entries.retain(|_, forget_after| *forget_after >= now);
    }
}

impl NonceCache for MemoryNonceCache {
    fn insert_if_fresh(
        &mut self,
        signer: &NodeId,
        nonce: &str,
        forget_after_unix_seconds: i64,
    ) -> Result<bool, NonceCacheError> {
        let key = (*signer, nonce.to_string());
        if self.entries.contains_key(&key) {
            return Ok(false);
        }
        if self.entries.len() >= self.capacity {
            self.forget_expired();
            if self.entries.len() >= self.capacity {
                return Err(NonceCacheError(format!(
                    "{} unexpired nonces, at capacity",
                    self.entries.len()
                )));
            }
        }
        self.entries.insert(key, forget_after_unix_seconds);
        Ok(true)
    }
}

/// The signature base for a request, exposed for test vectors and for
/// debugging a second implementation (the exact bytes that are signed).
pub fn signature_base_for(
    request: &RequestParts<'_>,
    signature_input: &str,
) -> Result<String, SignatureError> {
    let members = parse_dictionary(signature_input, HEADER_SIGNATURE_INPUT)?;
    let Some(Member::InnerList(list)) = members.get(SIGNATURE_LABEL) else {
        return Err(SignatureError::MissingLabel);
    };
    let digest = (!request.body.is_empty()).then(|| content_digest(request.body));
    Ok(signature_base(
        &[
            ("@method", request.method),
            ("@target-uri", request.target_uri),
        ],
        digest.as_deref(),
        &list.serialize(),
    ))
}

/// Verifies an ed25519 signature over a signature base; used by tests that
/// replay the RFC's own examples.
pub fn verify_base(signer: &NodeId, base: &str, signature: &SignatureBytes) -> bool {
    signer
        .verifying_key()
        .verify_strict(base.as_bytes(), &Signature::from_bytes(&signature.0))
        .is_ok()
}

#[cfg(test)]
mod tests;
