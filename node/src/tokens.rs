//! API tokens: random secrets shown once, stored only as SHA-256 hashes.
//!
//! A token reads `snt_<id>_<secret>`: the 16-hex-digit id finds the stored
//! entry without scanning, the 64-hex-digit secret is what proves possession.
//! The SHA-256 of the whole token is compared in constant time (`subtle`).
//! Tokens and their hashes are never logged; the id alone may be.
//!
//! Failed authentications are limited ([`authenticate_limited`], the node's
//! one [`TokenLimiter`], see `crate::failure_limiter`): per token id
//! ([`TOKEN_ID_FAILURES_MAX`]), per client address
//! ([`TOKEN_ADDRESS_FAILURES_MAX`]) and for the node
//! ([`TOKEN_GLOBAL_FAILURES_MAX`]) within the failed-authentication window
//! (`[accounts] sign_in_window_secs`). An address over its count is refused
//! before its token is checked, even a right one, until the window passes.
//! A token id or the node over its count refuses only wrong secrets: a
//! secret is 256 random bits, so the count does not protect it, while token
//! ids are not secret (logs, the audit log) and refusing a right secret
//! would let anyone lock out the program that holds the token.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::failure_limiter::{FailureLimiter, FailureLimits, Limited, WhenFull};
use crate::storage::{Pending, Space, Storage, StorageError};

/// Most tokens a node keeps (active ones).
pub const TOKENS_MAX: usize = 1_000;
/// Longest label of a token.
pub const TOKEN_LABEL_CHARS_MAX: usize = 120;
const TOKEN_PREFIX: &str = "snt_";
/// Hex digits of a token id.
const TOKEN_ID_HEX_DIGITS: usize = 16;
/// Wrong secrets for one token id within the window before wrong secrets
/// for it get 429 instead of 401.
pub const TOKEN_ID_FAILURES_MAX: usize = 10;
/// Failed token authentications from one client address within the window
/// before that address is refused (429) without checking its tokens.
pub const TOKEN_ADDRESS_FAILURES_MAX: usize = 20;
/// Failed token authentications on the whole node within the window before
/// every wrong token gets 429 (also the bound on the limiter's memory).
pub const TOKEN_GLOBAL_FAILURES_MAX: usize = 1_000;

/// The limits of token authentication (see the module docs).
pub const TOKEN_FAILURE_LIMITS: FailureLimits = FailureLimits {
    key_name: "token_id",
    key_failures_max: TOKEN_ID_FAILURES_MAX,
    address_failures_max: TOKEN_ADDRESS_FAILURES_MAX,
    global_failures_max: TOKEN_GLOBAL_FAILURES_MAX,
    key_and_global_full: WhenFull::RefuseWrongOnly,
};

/// The failed token authentications of one node, keyed by token id.
pub type TokenLimiter = FailureLimiter<String>;

/// The node's token limiter over a window of `window`.
pub fn token_limiter(window: Duration) -> TokenLimiter {
    FailureLimiter::new(TOKEN_FAILURE_LIMITS, window)
}

/// Why a presented token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Unknown, revoked or malformed.
    Invalid,
    /// Too many failures (see the module docs); try again after the wait.
    Limited(Limited),
}

/// What a token may do. An admin may do everything an editor may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[derive(clap::ValueEnum)]
pub enum Role {
    Admin,
    Editor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
        }
    }

    /// True when a token of this role may act as `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || self == needed
    }

    /// Publishes, edits and deletes this node's records (both roles).
    pub fn can_edit(self) -> bool {
        self.allows(Role::Editor)
    }

    /// Manages peer links, the origin blocklist and tokens (admins only).
    pub fn can_administer(self) -> bool {
        self.allows(Role::Admin)
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "admin" => Ok(Role::Admin),
            "editor" => Ok(Role::Editor),
            other => Err(format!("{other:?} is not a role (admin or editor)")),
        }
    }
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub role: Role,
    #[serde(default)]
    pub label: String,
    /// Unix seconds.
    pub created_at: i64,
}

#[derive(Serialize, Deserialize)]
struct StoredToken {
    #[serde(flatten)]
    info: TokenInfo,
    sha256: String,
}

/// A token that was just created: the only time its secret exists.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub info: TokenInfo,
    pub token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the node already has {max} tokens; revoke some first")]
    TooMany { max: usize },
    #[error("label is longer than {max} characters")]
    LabelTooLong { max: usize },
    #[error("no token with id {id}")]
    NotFound { id: String },
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Prepares a new token; the caller awaits the returned write before showing
/// the token. Blocking (reads the token count).
pub fn create(
    storage: &dyn Storage,
    role: Role,
    label: &str,
) -> Result<(NewToken, Pending<()>), TokenError> {
    if label.chars().count() > TOKEN_LABEL_CHARS_MAX {
        return Err(TokenError::LabelTooLong {
            max: TOKEN_LABEL_CHARS_MAX,
        });
    }
    if storage.kv_scan(Space::Tokens, b"")?.len() >= TOKENS_MAX {
        return Err(TokenError::TooMany { max: TOKENS_MAX });
    }
    let id = hex::encode(rand::random::<[u8; 8]>());
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let token = format!("{TOKEN_PREFIX}{id}_{secret}");
    let info = TokenInfo {
        id: id.clone(),
        role,
        label: label.to_string(),
        created_at: crate::clock::now_unix_seconds(),
    };
    let stored = StoredToken {
        info: info.clone(),
        sha256: hex::encode(hash(&token)),
    };
    let value = serde_json::to_vec(&stored).expect("token entry serialises");
    let write = storage.kv_write(Space::Tokens, vec![(id.into_bytes(), Some(value))]);
    Ok((NewToken { info, token }, write))
}

/// All tokens, without secrets. Blocking.
pub fn list(storage: &dyn Storage) -> Result<Vec<TokenInfo>, TokenError> {
    let mut tokens = Vec::new();
    for (_, value) in storage.kv_scan(Space::Tokens, b"")? {
        let value = value.unwrap_or_default();
        let stored: StoredToken = serde_json::from_slice(&value)
            .map_err(|e| StorageError::Corrupt(format!("stored token: {e}")))?;
        tokens.push(stored.info);
    }
    Ok(tokens)
}

/// Prepares the removal of token `id`. Blocking (checks it exists).
pub fn revoke(storage: &dyn Storage, id: &str) -> Result<Pending<()>, TokenError> {
    if storage.kv_get(Space::Tokens, id.as_bytes())?.is_none() {
        return Err(TokenError::NotFound { id: id.to_string() });
    }
    Ok(storage.kv_write(Space::Tokens, vec![(id.as_bytes().to_vec(), None)]))
}

fn stored(storage: &dyn Storage, id: &str) -> Result<Option<StoredToken>, StorageError> {
    let Some(value) = storage.kv_get(Space::Tokens, id.as_bytes())? else {
        return Ok(None);
    };
    serde_json::from_slice(&value)
        .map(Some)
        .map_err(|e| StorageError::Corrupt(format!("stored token: {e}")))
}

/// The entry of token `id` while it is not revoked. Blocking.
pub fn lookup(storage: &dyn Storage, id: &str) -> Result<Option<TokenInfo>, StorageError> {
    Ok(stored(storage, id)?.map(|stored| stored.info))
}

/// The token's entry if `presented` is a valid, unrevoked token. Blocking.
pub fn authenticate(
    storage: &dyn Storage,
    presented: &str,
) -> Result<Option<TokenInfo>, StorageError> {
    let Some(id) = token_id(presented) else {
        return Ok(None);
    };
    let Some(stored) = stored(storage, id)? else {
        return Ok(None);
    };
    let mut expected = [0u8; 32];
    if hex::decode_to_slice(&stored.sha256, &mut expected).is_err() {
        return Err(StorageError::Corrupt("stored token hash".into()));
    }
    let matches: bool = hash(presented).ct_eq(&expected).into();
    Ok(matches.then_some(stored.info))
}

/// The id a presented token names, when it has the shape of a token.
fn token_id(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(TOKEN_PREFIX)?;
    let (id, _secret) = rest.split_once('_')?;
    let well_formed = id.len() == TOKEN_ID_HEX_DIGITS && id.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then_some(id)
}

/// [`authenticate`] behind the failure counts of `limiter` for a request
/// from `address` (see the module docs for what each full count refuses).
/// Blocking.
pub fn authenticate_limited(
    storage: &dyn Storage,
    limiter: &TokenLimiter,
    presented: &str,
    address: Option<IpAddr>,
    now: Instant,
) -> Result<Result<TokenInfo, TokenRefusal>, StorageError> {
    let id = token_id(presented).map(str::to_string);
    let attempt = match limiter.begin(id.as_ref(), address, now) {
        Ok(attempt) => attempt,
        Err(limited) => {
            tracing::warn!(
                token_id = id.as_deref().unwrap_or("-"),
                client = ?address,
                scope = limited.scope.as_str(),
                retry_after_secs = limited.retry_after_secs(),
                "token refused unchecked: too many failed authentications"
            );
            return Ok(Err(TokenRefusal::Limited(limited)));
        }
    };
    match authenticate(storage, presented)? {
        Some(info) => {
            limiter.succeeded(attempt);
            Ok(Ok(info))
        }
        None => match attempt.over_limit() {
            Some(limited) => {
                tracing::warn!(
                    token_id = id.as_deref().unwrap_or("-"),
                    client = ?address,
                    scope = limited.scope.as_str(),
                    retry_after_secs = limited.retry_after_secs(),
                    "wrong token refused: too many failed authentications"
                );
                Ok(Err(TokenRefusal::Limited(limited)))
            }
            None => {
                tracing::info!(
                    token_id = id.as_deref().unwrap_or("-"),
                    client = ?address,
                    "token refused: unknown, revoked or wrong secret"
                );
                Ok(Err(TokenRefusal::Invalid))
            }
        },
    }
}
