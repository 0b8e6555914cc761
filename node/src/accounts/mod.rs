//! Named accounts for people: a username, a display name, a role and an
//! argon2id password hash, stored in [`Space::Accounts`] keyed by username.
//!
//! Why beside tokens: a token is a long random secret for programs and for
//! the first admin (`seednet init`); a person signs in to the web interface
//! with a username and a password they can remember. Both grant the same
//! roles ([`Role`]); what differs is how they are proven and that an account
//! names the person, so the audit log (`crate::audit`) can say who
//! published a version.
//!
//! Sessions: each account carries a session epoch, bumped whenever the
//! account is disabled, enabled, or its password changes. A web session
//! remembers the epoch it started at and ends when the stored one differs
//! (see `web::end_stale_sessions`), so disabling an account or changing its
//! password signs out its browsers.
//!
//! Every change is a read-check-write done under one process-wide lock and
//! waited on until durable ([`Pending::wait_blocking`]), so two admins
//! creating the same username at once cannot both succeed. The functions
//! here are blocking: async callers run them in `spawn_blocking`.

pub mod limiter;
pub mod password;

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::storage::{Pending, Space, Storage, StorageError};
use crate::tokens::Role;

pub use password::{PasswordRule, PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN};

/// Most accounts a node keeps (enabled and disabled).
pub const ACCOUNTS_MAX: usize = 1_000;
/// Shortest username, in characters.
pub const USERNAME_CHARS_MIN: usize = 2;
/// Longest username, in characters.
pub const USERNAME_CHARS_MAX: usize = 32;
/// The characters of a username, as said in error messages. Lower case only,
/// so that `Maria` and `maria` cannot be two people; the sign-in form lowers
/// what is typed.
pub const USERNAME_CHARSET: &str = "a-z, 0-9, '.', '_' and '-', starting with a letter or digit";
/// Longest display name, in characters.
pub const DISPLAY_NAME_CHARS_MAX: usize = 100;

/// An account as shown to admins (never its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountInfo {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// A disabled account cannot sign in; its sessions ended when it was disabled.
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last password change or reset.
    pub password_changed_at: i64,
}

#[derive(Serialize, Deserialize)]
struct StoredAccount {
    #[serde(flatten)]
    info: AccountInfo,
    /// argon2id PHC string (see [`password`]).
    password_hash: String,
    session_epoch: u64,
}

/// What an admin gives to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
}

/// An account that proved its password: what a session keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountGrant {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub session_epoch: u64,
}

/// The outcome of a password check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    Granted(AccountGrant),
    /// Unknown username or wrong password: deliberately the same answer.
    Wrong,
    /// The right password for a disabled account.
    Disabled,
}

/// A change of an existing account by an admin.
#[derive(Debug, Clone)]
pub enum AccountChange {
    Disable,
    Enable,
    ResetPassword(String),
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a username is {USERNAME_CHARS_MIN} to {USERNAME_CHARS_MAX} of {USERNAME_CHARSET}")]
    InvalidUsername,
    #[error("there is already an account named {username}")]
    UsernameTaken { username: String },
    #[error(
        "a display name is 1 to {DISPLAY_NAME_CHARS_MAX} characters, without control characters"
    )]
    InvalidDisplayName,
    #[error(transparent)]
    Password(#[from] PasswordRule),
    #[error("the current password is not right")]
    WrongCurrentPassword,
    #[error("too many wrong passwords; try again in {retry_after_minutes} minutes")]
    TooManyAttempts { retry_after_minutes: u64 },
    #[error("no account named {username}")]
    NotFound { username: String },
    #[error("the node already has {max} accounts; delete some first")]
    TooMany { max: usize },
    #[error(transparent)]
    Hash(#[from] password::HashError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl AccountError {
    /// The input field at fault, for forms and the API's `field`.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AccountError::InvalidUsername | AccountError::UsernameTaken { .. } => Some("username"),
            AccountError::InvalidDisplayName => Some("display_name"),
            AccountError::Password(_) => Some("password"),
            AccountError::WrongCurrentPassword | AccountError::TooManyAttempts { .. } => {
                Some("current_password")
            }
            _ => None,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::InvalidUsername => "invalid_username",
            AccountError::UsernameTaken { .. } => "username_taken",
            AccountError::InvalidDisplayName => "invalid_display_name",
            AccountError::Password(PasswordRule::TooShort { .. }) => "password_too_short",
            AccountError::Password(PasswordRule::TooLong { .. }) => "password_too_long",
            AccountError::WrongCurrentPassword => "wrong_current_password",
            AccountError::TooManyAttempts { .. } => "too_many_attempts",
            AccountError::NotFound { .. } => "not_found",
            AccountError::TooMany { .. } => "too_many_accounts",
            AccountError::Hash(_) | AccountError::Storage(_) => "internal",
        }
    }
}

/// One lock for every account change (see the module docs).
static ACCOUNT_WRITES: Mutex<()> = Mutex::new(());

/// Checks a username against [`USERNAME_CHARSET`] and its length limits.
pub fn check_username(username: &str) -> Result<(), AccountError> {
    let length = username.chars().count();
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    let starts_well = username
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if (USERNAME_CHARS_MIN..=USERNAME_CHARS_MAX).contains(&length)
        && starts_well
        && username.chars().all(allowed)
    {
        Ok(())
    } else {
        Err(AccountError::InvalidUsername)
    }
}

/// Checks a display name: 1 to [`DISPLAY_NAME_CHARS_MAX`] characters after
/// trimming, no control characters.
pub fn check_display_name(display_name: &str) -> Result<(), AccountError> {
    let trimmed = display_name.trim();
    let length = trimmed.chars().count();
    if (1..=DISPLAY_NAME_CHARS_MAX).contains(&length) && !trimmed.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(AccountError::InvalidDisplayName)
    }
}

/// How a typed username is looked up: trimmed and in lower case.
pub fn normalise_username(typed: &str) -> String {
    typed.trim().to_lowercase()
}

/// 32 random bytes as hex (a decoy password, a temporary secret).
pub(crate) fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn load(storage: &dyn Storage, username: &str) -> Result<Option<StoredAccount>, StorageError> {
    let Some(value) = storage.kv_get(Space::Accounts, username.as_bytes())? else {
        return Ok(None);
    };
    serde_json::from_slice(&value)
        .map(Some)
        .map_err(|e| StorageError::Corrupt(format!("stored account: {e}")))
}

fn store(storage: &dyn Storage, account: &StoredAccount) -> Pending<()> {
    let value = serde_json::to_vec(account).expect("account entry serialises");
    storage.kv_write(
        Space::Accounts,
        vec![(account.info.username.clone().into_bytes(), Some(value))],
    )
}

fn load_existing(storage: &dyn Storage, username: &str) -> Result<StoredAccount, AccountError> {
    load(storage, username)?.ok_or_else(|| AccountError::NotFound {
        username: username.to_string(),
    })
}

/// Creates an account; durable when it returns. Blocking (hashes the password).
pub fn create(storage: &dyn Storage, new: &NewAccount) -> Result<AccountInfo, AccountError> {
    let username = new.username.trim();
    check_username(username)?;
    check_display_name(&new.display_name)?;
    password::check_rules(&new.password)?;
    let password_hash = password::hash(&new.password)?;
    let _guard = ACCOUNT_WRITES.lock().expect("account lock");
    if load(storage, username)?.is_some() {
        return Err(AccountError::UsernameTaken {
            username: username.to_string(),
        });
    }
    if storage.kv_scan(Space::Accounts, b"")?.len() >= ACCOUNTS_MAX {
        return Err(AccountError::TooMany { max: ACCOUNTS_MAX });
    }
    let now = crate::clock::now_unix_seconds();
    let info = AccountInfo {
        username: username.to_string(),
        display_name: new.display_name.trim().to_string(),
        role: new.role,
        disabled: false,
        created_at: now,
        password_changed_at: now,
    };
    let stored = StoredAccount {
        info: info.clone(),
        password_hash,
        session_epoch: 0,
    };
    store(storage, &stored).wait_blocking()?;
    Ok(info)
}

/// All accounts in username order, without hashes. Blocking.
pub fn list(storage: &dyn Storage) -> Result<Vec<AccountInfo>, StorageError> {
    storage
        .kv_scan(Space::Accounts, b"")?
        .into_iter()
        .map(|(_, value)| {
            serde_json::from_slice::<StoredAccount>(&value.unwrap_or_default())
                .map(|stored| stored.info)
                .map_err(|e| StorageError::Corrupt(format!("stored account: {e}")))
        })
        .collect()
}

/// Applies an admin's change; durable when it returns. Every change ends the
/// account's sessions (it bumps the session epoch). Blocking.
pub fn change(
    storage: &dyn Storage,
    username: &str,
    change: &AccountChange,
) -> Result<AccountInfo, AccountError> {
    let new_hash = match change {
        AccountChange::ResetPassword(new_password) => {
            password::check_rules(new_password)?;
            Some(password::hash(new_password)?)
        }
        AccountChange::Disable | AccountChange::Enable => None,
    };
    let _guard = ACCOUNT_WRITES.lock().expect("account lock");
    let mut stored = load_existing(storage, username)?;
    match change {
        AccountChange::Disable => stored.info.disabled = true,
        AccountChange::Enable => stored.info.disabled = false,
        AccountChange::ResetPassword(_) => {}
    }
    if let Some(hash) = new_hash {
        stored.password_hash = hash;
        stored.info.password_changed_at = crate::clock::now_unix_seconds();
    }
    stored.session_epoch += 1;
    store(storage, &stored).wait_blocking()?;
    Ok(stored.info)
}

/// Deletes an account; durable when it returns. Its sessions end with it.
/// Its audit entries stay (they name the account as it was). Blocking.
pub fn delete(storage: &dyn Storage, username: &str) -> Result<(), AccountError> {
    let _guard = ACCOUNT_WRITES.lock().expect("account lock");
    load_existing(storage, username)?;
    storage
        .kv_write(Space::Accounts, vec![(username.as_bytes().to_vec(), None)])
        .wait_blocking()?;
    Ok(())
}

/// Checks a password for the account `typed` names. An unknown username
/// costs the same hashing time as a wrong password. Blocking.
pub fn verify(
    storage: &dyn Storage,
    typed: &str,
    password: &str,
) -> Result<Verified, AccountError> {
    let username = normalise_username(typed);
    if check_username(&username).is_err() || password.chars().count() > PASSWORD_CHARS_MAX {
        password::verify_decoy(password);
        return Ok(Verified::Wrong);
    }
    let Some(stored) = load(storage, &username)? else {
        password::verify_decoy(password);
        return Ok(Verified::Wrong);
    };
    if !password::verify(password, &stored.password_hash)? {
        return Ok(Verified::Wrong);
    }
    if stored.info.disabled {
        return Ok(Verified::Disabled);
    }
    Ok(Verified::Granted(AccountGrant {
        username: stored.info.username,
        display_name: stored.info.display_name,
        role: stored.info.role,
        session_epoch: stored.session_epoch,
    }))
}

/// A person changes their own password, proving the current one. Returns the
/// new session epoch: the caller's own session moves to it, every other
/// session of the account ends. Blocking.
pub fn change_own_password(
    storage: &dyn Storage,
    username: &str,
    current: &str,
    new_password: &str,
) -> Result<u64, AccountError> {
    let stored = load_existing(storage, username)?;
    if current.chars().count() > PASSWORD_CHARS_MAX
        || !password::verify(current, &stored.password_hash)?
    {
        return Err(AccountError::WrongCurrentPassword);
    }
    password::check_rules(new_password)?;
    let new_hash = password::hash(new_password)?;
    let _guard = ACCOUNT_WRITES.lock().expect("account lock");
    let mut stored = load_existing(storage, username)?;
    stored.password_hash = new_hash;
    stored.info.password_changed_at = crate::clock::now_unix_seconds();
    stored.session_epoch += 1;
    store(storage, &stored).wait_blocking()?;
    Ok(stored.session_epoch)
}

/// The role a session of `username` started at `session_epoch` still has:
/// `None` once the account is gone, disabled or its epoch moved on. Blocking.
pub fn session_role(
    storage: &dyn Storage,
    username: &str,
    session_epoch: u64,
) -> Result<Option<Role>, StorageError> {
    Ok(load(storage, username)?
        .filter(|stored| !stored.info.disabled && stored.session_epoch == session_epoch)
        .map(|stored| stored.info.role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_named_charset_and_length() {
        for good in ["maria", "m.rossi", "ana_p", "ion-2", "42", "ab"] {
            assert!(check_username(good).is_ok(), "{good}");
        }
        let longest = "a".repeat(USERNAME_CHARS_MAX);
        assert!(check_username(&longest).is_ok());
        for bad in [
            "a",
            "",
            "Maria",
            "maria rossi",
            ".maria",
            "-x",
            "maría",
            "a/b",
            "μαρία",
            &"a".repeat(USERNAME_CHARS_MAX + 1),
        ] {
            assert!(
                matches!(check_username(bad), Err(AccountError::InvalidUsername)),
                "{bad:?}"
            );
        }
        assert_eq!(normalise_username("  Maria "), "maria");
    }

    #[test]
    fn display_names_are_bounded_and_printable() {
        assert!(check_display_name("Μαρία Παπαδοπούλου").is_ok());
        assert!(check_display_name(&"x".repeat(DISPLAY_NAME_CHARS_MAX)).is_ok());
        assert!(check_display_name(&"x".repeat(DISPLAY_NAME_CHARS_MAX + 1)).is_err());
        assert!(check_display_name("   ").is_err());
        assert!(check_display_name("a\u{7}b").is_err());
    }

    fn new_account(username: &str, role: Role) -> NewAccount {
        NewAccount {
            username: username.into(),
            display_name: "Maria Rossi".into(),
            role,
            password: "correct horse battery".into(),
        }
    }

    #[test]
    fn an_account_signs_in_and_its_changes_end_its_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let storage = crate::storage::SledStorage::open(dir.path()).unwrap();
        let info = create(&storage, &new_account(" maria ", Role::Editor)).unwrap();
        assert_eq!(info.username, "maria");
        assert!(matches!(
            create(&storage, &new_account("maria", Role::Admin)),
            Err(AccountError::UsernameTaken { .. })
        ));
        let Verified::Granted(grant) = verify(&storage, "Maria", "correct horse battery").unwrap()
        else {
            panic!("the right password signs in");
        };
        assert_eq!(grant.role, Role::Editor);
        assert_eq!(
            verify(&storage, "maria", "wrong horse battery").unwrap(),
            Verified::Wrong
        );
        assert_eq!(
            verify(&storage, "nobody", "correct horse battery").unwrap(),
            Verified::Wrong
        );
        let epoch = grant.session_epoch;
        assert_eq!(
            session_role(&storage, "maria", epoch).unwrap(),
            Some(Role::Editor)
        );

        // Changing one's own password needs the current one and moves the epoch.
        assert!(matches!(
            change_own_password(&storage, "maria", "not it at all", "a new passphrase"),
            Err(AccountError::WrongCurrentPassword)
        ));
        let moved = change_own_password(
            &storage,
            "maria",
            "correct horse battery",
            "a new passphrase",
        )
        .unwrap();
        assert_ne!(moved, epoch);
        assert_eq!(session_role(&storage, "maria", epoch).unwrap(), None);
        assert_eq!(
            session_role(&storage, "maria", moved).unwrap(),
            Some(Role::Editor)
        );
        assert_eq!(
            verify(&storage, "maria", "correct horse battery").unwrap(),
            Verified::Wrong
        );

        // Disabling ends every session and refuses even the right password.
        change(&storage, "maria", &AccountChange::Disable).unwrap();
        assert_eq!(session_role(&storage, "maria", moved).unwrap(), None);
        assert_eq!(
            verify(&storage, "maria", "a new passphrase").unwrap(),
            Verified::Disabled
        );
        assert!(list(&storage).unwrap()[0].disabled);
        delete(&storage, "maria").unwrap();
        assert!(list(&storage).unwrap().is_empty());
        assert!(matches!(
            delete(&storage, "maria"),
            Err(AccountError::NotFound { .. })
        ));
        storage.shutdown().unwrap();
    }

    #[test]
    fn errors_name_their_field_and_code() {
        let short = AccountError::from(PasswordRule::TooShort {
            min: PASSWORD_CHARS_MIN,
        });
        assert_eq!(short.field(), Some("password"));
        assert_eq!(short.code(), "password_too_short");
        assert_eq!(
            AccountError::UsernameTaken {
                username: "x".into()
            }
            .field(),
            Some("username")
        );
        assert!(AccountError::InvalidUsername
            .to_string()
            .contains("a-z, 0-9"));
    }
}
