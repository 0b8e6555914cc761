//! How many wrong passwords the node accepts before it stops trying.
//!
//! Why: an account's password is only as strong as the number of guesses an
//! attacker gets. Failed sign-ins are counted by a
//! [`crate::failure_limiter::FailureLimiter`] keyed by username, in a sliding
//! window (`[accounts] sign_in_window_secs`, by default
//! `config::SIGN_IN_WINDOW_SECS_DEFAULT`, 15 minutes) three ways: per
//! username ([`USERNAME_FAILURES_MAX`]: one account is not guessed at
//! quickly, from anywhere), per client address ([`ADDRESS_FAILURES_MAX`]:
//! one machine does not spray many accounts) and for the whole node
//! ([`GLOBAL_FAILURES_MAX`]: a ceiling for an attack from many addresses).
//! While any count is full, sign-ins it covers are refused *before* the
//! password is checked, so even the right password is refused until the
//! oldest failure leaves the window; then it works again (a password is
//! guessable: the count is what protects it). A right password takes its
//! attempt back and clears its username's failures.

use std::time::Duration;

use crate::failure_limiter::{FailureLimiter, FailureLimits, WhenFull};

/// Failed sign-ins per username within the window.
pub const USERNAME_FAILURES_MAX: usize = 5;
/// Failed sign-ins per client address within the window.
pub const ADDRESS_FAILURES_MAX: usize = 20;
/// Failed sign-ins on the whole node within the window.
pub const GLOBAL_FAILURES_MAX: usize = 100;
/// Longest username kept as a key (longer input is cut; it cannot be a
/// valid username anyway).
pub const LIMITER_KEY_CHARS_MAX: usize = 64;

/// The limits of password sign-in.
pub const SIGN_IN_LIMITS: FailureLimits = FailureLimits {
    key_name: "username",
    key_failures_max: USERNAME_FAILURES_MAX,
    address_failures_max: ADDRESS_FAILURES_MAX,
    global_failures_max: GLOBAL_FAILURES_MAX,
    key_and_global_full: WhenFull::RefuseBeforeCheck,
};

/// The failed sign-ins of one node, keyed by [`username_key`].
pub type SignInLimiter = FailureLimiter<String>;

/// The node's sign-in limiter over a window of `window`.
pub fn sign_in_limiter(window: Duration) -> SignInLimiter {
    FailureLimiter::new(SIGN_IN_LIMITS, window)
}

/// The key a username is counted under: trimmed, lower case, bounded.
pub fn username_key(username: &str) -> String {
    username
        .trim()
        .to_lowercase()
        .chars()
        .take(LIMITER_KEY_CHARS_MAX)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn usernames_are_counted_whatever_their_case_and_spaces() {
        let limiter = sign_in_limiter(Duration::from_secs(900));
        let now = Instant::now();
        for _ in 0..USERNAME_FAILURES_MAX {
            limiter
                .begin(Some(&username_key("Maria ")), None, now)
                .unwrap();
        }
        let limited = limiter
            .begin(Some(&username_key("maria")), None, now)
            .unwrap_err();
        assert_eq!(limited.scope.as_str(), "username");
        assert_eq!(username_key(&"a".repeat(200)).len(), LIMITER_KEY_CHARS_MAX);
    }
}
