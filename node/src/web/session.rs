//! Sign-in sessions and CSRF tokens.
//!
//! A person signs in once with a username and password, or with an editor
//! or admin token; the node then keeps a session in memory and gives the
//! browser only a random session id in an `HttpOnly`, `SameSite=Strict`
//! cookie (`Secure` on https), so neither password nor token sits in the
//! browser. Sessions live in memory on purpose: a restart signs
//! everybody out, which is the safe direction. The map is bounded
//! ([`SESSIONS_MAX`], oldest evicted) and sessions expire after
//! [`SESSION_IDLE_SECS_MAX`] without use. A session remembers what it was
//! started with ([`Credential`]: a token's id, or an account at its session
//! epoch), and the router ends it as soon as that token is revoked or that
//! account is disabled, deleted or has its password changed (see
//! `web::end_revoked_sessions`).
//!
//! CSRF: every form carries a token. For a signed-in person it is the
//! session's own token; for the sign-in form (no session yet) it is the value
//! of a separate random cookie that the form must repeat (double submit).
//! Both are compared in constant time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::backend::{Credential, Grant, Role};

pub const SESSION_COOKIE: &str = "seednet_session";
pub const CSRF_COOKIE: &str = "seednet_csrf";
pub const LANG_COOKIE: &str = "seednet_lang";
/// Most sessions kept at once; the least recently used is dropped beyond it.
pub const SESSIONS_MAX: usize = 4096;
/// A session unused for this long is gone.
pub const SESSION_IDLE_SECS_MAX: u64 = 8 * 3600;
/// Longest cookie header value examined.
pub const COOKIE_HEADER_BYTES_MAX: usize = 8 * 1024;

/// What the pages know about a signed-in person.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub role: Role,
    pub csrf: String,
    /// What the session was started with.
    pub credential: Credential,
}

struct Session {
    role: Role,
    csrf: String,
    credential: Credential,
    last_used: Instant,
}

/// The in-memory session table, keyed by the SHA-256 of the session id.
#[derive(Default)]
pub struct Sessions {
    table: Mutex<HashMap<[u8; 32], Session>>,
}

/// 32 random bytes as 64 hex digits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn table_key(session_id: &str) -> [u8; 32] {
    Sha256::digest(session_id.as_bytes()).into()
}

impl Sessions {
    /// Starts a session for what a sign-in granted; returns the id for the
    /// cookie.
    pub fn create(&self, grant: &Grant) -> String {
        let session_id = random_token();
        let session = Session {
            role: grant.role,
            csrf: random_token(),
            credential: grant.via.clone(),
            last_used: Instant::now(),
        };
        let mut table = self.table.lock().expect("session table lock");
        let idle_max = Duration::from_secs(SESSION_IDLE_SECS_MAX);
        table.retain(|_, existing| existing.last_used.elapsed() < idle_max);
        if table.len() >= SESSIONS_MAX {
            let oldest = table
                .iter()
                .min_by_key(|(_, existing)| existing.last_used)
                .map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                table.remove(&oldest);
            }
        }
        table.insert(table_key(&session_id), session);
        session_id
    }

    /// The live session for an id, refreshing its last use.
    pub fn get(&self, session_id: &str) -> Option<SessionView> {
        let mut table = self.table.lock().expect("session table lock");
        let key = table_key(session_id);
        let session = table.get_mut(&key)?;
        if session.last_used.elapsed() >= Duration::from_secs(SESSION_IDLE_SECS_MAX) {
            table.remove(&key);
            return None;
        }
        session.last_used = Instant::now();
        Some(SessionView {
            role: session.role,
            csrf: session.csrf.clone(),
            credential: session.credential.clone(),
        })
    }

    /// Moves an account session to the account's new epoch, after its owner
    /// changed the password in it: this session goes on, the others end.
    pub fn move_to_epoch(&self, session_id: &str, epoch: u64) {
        let mut table = self.table.lock().expect("session table lock");
        if let Some(session) = table.get_mut(&table_key(session_id)) {
            if let Credential::Account { session_epoch, .. } = &mut session.credential {
                *session_epoch = epoch;
            }
        }
    }

    pub fn remove(&self, session_id: &str) {
        let mut table = self.table.lock().expect("session table lock");
        table.remove(&table_key(session_id));
    }
}

/// Constant-time comparison of a submitted CSRF token with the expected one.
pub fn csrf_matches(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    if cookie_header.len() > COOKIE_HEADER_BYTES_MAX {
        return None;
    }
    cookie_header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// A `Set-Cookie` value with the flags every seednet cookie carries.
pub fn set_cookie(name: &str, value: &str, max_age_secs: Option<u64>, secure: bool) -> String {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(max_age) = max_age_secs {
        cookie.push_str(&format!("; Max-Age={max_age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_found_by_id_and_removed() {
        let sessions = Sessions::default();
        let token = Credential::Token {
            id: "0123456789abcdef".into(),
            label: "laptop".into(),
        };
        let id = sessions.create(&Grant {
            role: Role::Editor,
            via: token.clone(),
        });
        let view = sessions.get(&id).expect("session exists");
        assert_eq!(view.role, Role::Editor);
        assert_eq!(view.credential, token);
        assert_eq!(view.csrf.len(), 64);
        assert!(sessions.get("not-a-session").is_none());
        sessions.remove(&id);
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn an_account_session_moves_to_a_new_epoch() {
        let sessions = Sessions::default();
        let account = |session_epoch| Credential::Account {
            username: "maria".into(),
            display_name: "Maria".into(),
            session_epoch,
        };
        let id = sessions.create(&Grant {
            role: Role::Admin,
            via: account(3),
        });
        sessions.move_to_epoch(&id, 4);
        assert_eq!(sessions.get(&id).unwrap().credential, account(4));
    }

    #[test]
    fn csrf_needs_the_exact_token() {
        assert!(csrf_matches("abc", "abc"));
        assert!(!csrf_matches("abc", "abd"));
        assert!(!csrf_matches("abc", ""));
        assert!(!csrf_matches("", ""));
    }

    #[test]
    fn cookies_are_parsed_and_flagged() {
        let header = "a=1; seednet_session=xyz; b=2";
        assert_eq!(cookie_value(header, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie_value(header, "missing"), None);
        let cookie = set_cookie(SESSION_COOKIE, "v", None, true);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.ends_with("; Secure"));
        assert!(!set_cookie(SESSION_COOKIE, "v", None, false).contains("Secure"));
    }
}
