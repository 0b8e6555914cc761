//! How many wrong passwords the node accepts before it stops trying.
//!
//! Why: an account's password is only as strong as the number of guesses an
//! attacker gets. Failed sign-ins are counted in a sliding window
//! ([`SignInLimiter::window`]: `[accounts] sign_in_window_secs`, by default
//! `config::SIGN_IN_WINDOW_SECS_DEFAULT`, 15 minutes) three ways:
//! per username ([`USERNAME_FAILURES_MAX`]: one account is not guessed at
//! quickly, from anywhere), per client address ([`ADDRESS_FAILURES_MAX`]:
//! one machine does not spray many accounts) and for the whole node
//! ([`GLOBAL_FAILURES_MAX`]: a ceiling for an attack from many addresses).
//! While any count is full, sign-ins it covers are refused *before* the
//! password is checked, so even the right password is refused until the
//! oldest failure leaves the window; then it works again. A successful
//! sign-in clears its username's failures.
//!
//! The counts live in memory: a restart forgets them, which only gives an
//! attacker who can restart the node a fresh window. Memory is bounded
//! without a separate cap: a failure is only recorded while the global count
//! is below [`GLOBAL_FAILURES_MAX`], and expired failures are pruned on every
//! record, so at most that many failures (and keys) are held.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins per username within the window.
pub const USERNAME_FAILURES_MAX: usize = 5;
/// Failed sign-ins per client address within the window.
pub const ADDRESS_FAILURES_MAX: usize = 20;
/// Failed sign-ins on the whole node within the window.
pub const GLOBAL_FAILURES_MAX: usize = 100;
/// Longest username kept as a key (longer input is cut; it cannot be a
/// valid username anyway).
pub const LIMITER_KEY_CHARS_MAX: usize = 64;

/// Which count is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    Username,
    Address,
    Global,
}

impl LimitScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Username => "username",
            LimitScope::Address => "address",
            LimitScope::Global => "global",
        }
    }
}

/// A sign-in refused without checking its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub scope: LimitScope,
    /// When the oldest failure of the full count leaves the window.
    pub retry_after: Duration,
}

impl Limited {
    /// Whole minutes to wait, rounded up (at least one), for messages.
    pub fn retry_after_minutes(&self) -> u64 {
        self.retry_after.as_secs().div_ceil(60).max(1)
    }
}

#[derive(Default)]
struct Counts {
    by_username: HashMap<String, VecDeque<Instant>>,
    by_address: HashMap<IpAddr, VecDeque<Instant>>,
    global: VecDeque<Instant>,
}

/// The failure counts of one node.
pub struct SignInLimiter {
    window: Duration,
    counts: Mutex<Counts>,
}

fn prune(failures: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while failures
        .front()
        .is_some_and(|oldest| now.saturating_duration_since(*oldest) >= window)
    {
        failures.pop_front();
    }
}

/// `Some(wait)` when `failures` holds `max` or more within the window.
fn full(
    failures: Option<&VecDeque<Instant>>,
    max: usize,
    now: Instant,
    window: Duration,
) -> Option<Duration> {
    let failures = failures?;
    let live: Vec<&Instant> = failures
        .iter()
        .filter(|at| now.saturating_duration_since(**at) < window)
        .collect();
    if live.len() < max {
        return None;
    }
    // The count drops below `max` when its (len - max + 1)-th oldest expires.
    let freeing = live[live.len() - max];
    Some(window.saturating_sub(now.saturating_duration_since(*freeing)))
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

impl SignInLimiter {
    pub fn new(window: Duration) -> Self {
        SignInLimiter {
            window,
            counts: Mutex::new(Counts::default()),
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Refuses a sign-in for `username` from `address` while one of its
    /// counts is full. The longest wait of the full counts is returned.
    pub fn check(
        &self,
        username: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Limited> {
        let counts = self.counts.lock().expect("limiter lock");
        let key = username_key(username);
        let checks = [
            (
                LimitScope::Username,
                full(
                    counts.by_username.get(&key),
                    USERNAME_FAILURES_MAX,
                    now,
                    self.window,
                ),
            ),
            (
                LimitScope::Address,
                full(
                    address.and_then(|a| counts.by_address.get(&a)),
                    ADDRESS_FAILURES_MAX,
                    now,
                    self.window,
                ),
            ),
            (
                LimitScope::Global,
                full(Some(&counts.global), GLOBAL_FAILURES_MAX, now, self.window),
            ),
        ];
        let worst = checks
            .into_iter()
            .filter_map(|(scope, wait)| wait.map(|retry_after| Limited { scope, retry_after }))
            .max_by_key(|limited| limited.retry_after);
        match worst {
            Some(limited) => Err(limited),
            None => Ok(()),
        }
    }

    /// Counts one failed sign-in (a wrong password, an unknown username).
    pub fn record_failure(&self, username: &str, address: Option<IpAddr>, now: Instant) {
        let mut guard = self.counts.lock().expect("limiter lock");
        let counts = &mut *guard;
        let window = self.window;
        prune(&mut counts.global, now, window);
        counts.by_username.retain(|_, failures| {
            prune(failures, now, window);
            !failures.is_empty()
        });
        counts.by_address.retain(|_, failures| {
            prune(failures, now, window);
            !failures.is_empty()
        });
        if counts.global.len() >= GLOBAL_FAILURES_MAX {
            return;
        }
        counts.global.push_back(now);
        counts
            .by_username
            .entry(username_key(username))
            .or_default()
            .push_back(now);
        if let Some(address) = address {
            counts.by_address.entry(address).or_default().push_back(now);
        }
    }

    /// Forgets the failures of `username` after it signed in.
    pub fn record_success(&self, username: &str) {
        let mut counts = self.counts.lock().expect("limiter lock");
        counts.by_username.remove(&username_key(username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(900);

    fn address(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn a_username_is_refused_after_its_failures_until_the_oldest_leaves_the_window() {
        let limiter = SignInLimiter::new(WINDOW);
        let start = Instant::now();
        for minute in 0..USERNAME_FAILURES_MAX as u64 {
            let at = start + Duration::from_secs(minute * 60);
            assert_eq!(limiter.check("maria", address(1), at), Ok(()));
            limiter.record_failure("maria", address(minute as u8 + 1), at);
        }
        // Full: refused from any address, even before the password is checked.
        let after = start + Duration::from_secs(5 * 60);
        let limited = limiter.check("Maria ", address(99), after).unwrap_err();
        assert_eq!(limited.scope, LimitScope::Username);
        assert_eq!(limited.retry_after, Duration::from_secs(10 * 60));
        assert_eq!(limited.retry_after_minutes(), 10);
        // Another username is not affected.
        assert_eq!(limiter.check("ana", address(99), after), Ok(()));
        // Just before the first failure expires: still refused; just after: free.
        let almost = start + WINDOW - Duration::from_secs(1);
        assert!(limiter.check("maria", None, almost).is_err());
        assert_eq!(limiter.check("maria", None, start + WINDOW), Ok(()));
    }

    #[test]
    fn an_address_is_refused_after_spraying_many_usernames() {
        let limiter = SignInLimiter::new(WINDOW);
        let now = Instant::now();
        for n in 0..ADDRESS_FAILURES_MAX {
            limiter.record_failure(&format!("user{n}"), address(7), now);
        }
        let limited = limiter.check("fresh", address(7), now).unwrap_err();
        assert_eq!(limited.scope, LimitScope::Address);
        assert_eq!(limited.retry_after, WINDOW);
        assert_eq!(limiter.check("fresh", address(8), now), Ok(()));
    }

    #[test]
    fn the_global_ceiling_holds_for_many_addresses_and_bounds_memory() {
        let limiter = SignInLimiter::new(WINDOW);
        let now = Instant::now();
        for n in 0..GLOBAL_FAILURES_MAX * 3 {
            let ip = IpAddr::from([10, 0, (n / 256) as u8, (n % 256) as u8]);
            limiter.record_failure(&format!("u{n}"), Some(ip), now);
        }
        let limited = limiter.check("anyone", address(1), now).unwrap_err();
        assert_eq!(limited.scope, LimitScope::Global);
        let counts = limiter.counts.lock().unwrap();
        assert_eq!(counts.global.len(), GLOBAL_FAILURES_MAX);
        assert_eq!(counts.by_username.len(), GLOBAL_FAILURES_MAX);
        assert_eq!(counts.by_address.len(), GLOBAL_FAILURES_MAX);
    }

    #[test]
    fn a_success_clears_the_username_and_expired_failures_are_pruned() {
        let limiter = SignInLimiter::new(WINDOW);
        let start = Instant::now();
        for _ in 0..USERNAME_FAILURES_MAX - 1 {
            limiter.record_failure("maria", address(1), start);
        }
        limiter.record_success("MARIA");
        limiter.record_failure("maria", address(1), start);
        assert_eq!(limiter.check("maria", address(1), start), Ok(()));
        limiter.record_failure("other", address(2), start + WINDOW);
        let counts = limiter.counts.lock().unwrap();
        assert!(
            !counts.by_username.contains_key("maria"),
            "pruned after the window"
        );
        assert_eq!(counts.global.len(), 1);
    }
}
