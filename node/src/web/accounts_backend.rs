//! The accounts, tokens and audit part of the web interface's boundary.
//!
//! Why a trait of its own: the admin pages for people and tokens, the
//! password sign-in and the "published by" line need these operations and
//! nothing else does; keeping them apart from [`super::backend::WebBackend`]
//! (which requires this trait) keeps each file about one job. The node
//! implements both over the same services the JSON API and the CLI use
//! (`crate::accounts`, `crate::tokens`, `crate::audit`), so a page and
//! `seednet account` / `seednet token` do exactly the same thing.
//!
//! Implementations must not block the async runtime: password hashing and
//! storage run on blocking threads.

use std::future::Future;
use std::net::IpAddr;

use seednet_protocol::RecordKey;

use super::backend::{BackendError, Grant, Role};
pub use crate::accounts::{AccountChange, AccountError, AccountInfo, NewAccount};
pub use crate::audit::AuditEntry;
pub use crate::tokens::{NewToken, TokenError, TokenInfo};

/// Why a username and password did not sign in.
#[derive(Debug, thiserror::Error)]
pub enum PasswordRefusal {
    /// Unknown username or wrong password (deliberately one answer).
    #[error("unknown username or wrong password")]
    Wrong,
    /// The right password of a disabled account.
    #[error("the account is disabled")]
    Disabled,
    /// Too many failed sign-ins: refused without checking the password.
    #[error("too many failed sign-ins; retry in {retry_after_minutes} minutes")]
    Limited { retry_after_minutes: u64 },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Accounts, tokens and the audit log, as the web interface sees them.
pub trait AccountsBackend: Send + Sync + 'static {
    /// Checks a username and password, within the node's limits on failed
    /// sign-ins (per username, per `client` address, in all). Never logs the
    /// password.
    fn sign_in_password(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> impl Future<Output = Result<Grant, PasswordRefusal>> + Send;

    /// Every account, in username order.
    fn accounts(&self) -> impl Future<Output = Result<Vec<AccountInfo>, BackendError>> + Send;

    fn create_account(
        &self,
        new: NewAccount,
    ) -> impl Future<Output = Result<AccountInfo, AccountError>> + Send;

    /// Disables, enables or resets the password of an account; each ends its sessions.
    fn change_account(
        &self,
        username: &str,
        change: AccountChange,
    ) -> impl Future<Output = Result<AccountInfo, AccountError>> + Send;

    fn delete_account(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<(), AccountError>> + Send;

    /// A person replaces their own password, proving the current one; returns
    /// the account's new session epoch (the caller's session moves to it).
    fn change_own_password(
        &self,
        username: &str,
        current: &str,
        new_password: &str,
    ) -> impl Future<Output = Result<u64, AccountError>> + Send;

    /// Every API token, without secrets.
    fn tokens(&self) -> impl Future<Output = Result<Vec<TokenInfo>, BackendError>> + Send;

    /// Creates a token; the returned secret is shown once and kept nowhere.
    fn create_token(
        &self,
        role: Role,
        label: &str,
    ) -> impl Future<Output = Result<NewToken, TokenError>> + Send;

    /// Revokes a token; sessions started with it end on their next request.
    fn revoke_token(&self, id: &str) -> impl Future<Output = Result<(), TokenError>> + Send;

    /// Who published each version of an own record, oldest first.
    fn audit_trail(
        &self,
        key: RecordKey,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, BackendError>> + Send;
}
