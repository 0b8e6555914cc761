//! API tokens: random secrets shown once, stored only as SHA-256 hashes.
//!
//! A token reads `snt_<id>_<secret>`: the 16-hex-digit id finds the stored
//! entry without scanning, the 64-hex-digit secret is what proves possession.
//! The SHA-256 of the whole token is compared in constant time (`subtle`).
//! Tokens and their hashes are never logged; the id alone may be.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::storage::{Pending, Space, Storage, StorageError};

/// Most tokens a node keeps (active ones).
pub const TOKENS_MAX: usize = 1_000;
/// Longest label of a token.
pub const TOKEN_LABEL_CHARS_MAX: usize = 120;
const TOKEN_PREFIX: &str = "snt_";

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
    let Some(rest) = presented.strip_prefix(TOKEN_PREFIX) else {
        return Ok(None);
    };
    let Some((id, _secret)) = rest.split_once('_') else {
        return Ok(None);
    };
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
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
