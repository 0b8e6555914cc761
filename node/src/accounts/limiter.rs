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
//! oldest failure leaves the window; then it works again. Each attempt is
//! counted as a failure before its password is checked (so a burst of
//! parallel guesses gets no more tries than a sequence), and a right
//! password takes its attempt back and clears its username's failures.
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
    /// counts is full (the longest wait of the full counts is returned);
    /// otherwise counts the attempt as a failure *before* its password is
    /// checked, in the same lock, so that many attempts sent at once cannot
    /// all pass the check. [`SignInLimiter::succeeded`] takes a right
    /// password's attempt back.
    pub fn begin(
        &self,
        username: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt, Limited> {
        let mut counts = self.counts.lock().expect("limiter lock");
        let key = username_key(username);
        if let Some(limited) = self.limited(&counts, &key, address, now) {
            return Err(limited);
        }
        self.record(&mut counts, &key, address, now);
        Ok(Attempt {
            username: key,
            address,
            at: now,
        })
    }

    /// A right password: its attempt is not a failure, and the username's
    /// earlier failures are forgotten.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut counts = self.counts.lock().expect("limiter lock");
        counts.by_username.remove(&attempt.username);
        let forget = |failures: &mut VecDeque<Instant>| {
            if let Some(position) = failures.iter().rposition(|at| *at == attempt.at) {
                failures.remove(position);
            }
        };
        forget(&mut counts.global);
        if let Some(address) = attempt.address {
            if let Some(failures) = counts.by_address.get_mut(&address) {
                forget(failures);
            }
        }
    }

    fn limited(
        &self,
        counts: &Counts,
        key: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Option<Limited> {
        let checks = [
            (
                LimitScope::Username,
                full(
                    counts.by_username.get(key),
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
        checks
            .into_iter()
            .filter_map(|(scope, wait)| wait.map(|retry_after| Limited { scope, retry_after }))
            .max_by_key(|limited| limited.retry_after)
    }

    /// Counts one failure, pruning what left the window first.
    fn record(&self, counts: &mut Counts, key: &str, address: Option<IpAddr>, now: Instant) {
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
            .entry(key.to_string())
            .or_default()
            .push_back(now);
        if let Some(address) = address {
            counts.by_address.entry(address).or_default().push_back(now);
        }
    }
}

/// A sign-in being checked, counted as a failure until it succeeds.
#[derive(Debug)]
pub struct Attempt {
    username: String,
    address: Option<IpAddr>,
    at: Instant,
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
            limiter
                .begin("maria", address(minute as u8 + 1), at)
                .unwrap();
        }
        // Full: refused from any address, even before the password is checked.
        let after = start + Duration::from_secs(5 * 60);
        let limited = limiter.begin("Maria ", address(99), after).unwrap_err();
        assert_eq!(limited.scope, LimitScope::Username);
        assert_eq!(limited.retry_after, Duration::from_secs(10 * 60));
        assert_eq!(limited.retry_after_minutes(), 10);
        // Another username is not affected.
        assert!(limiter.begin("ana", address(99), after).is_ok());
        // Just before the first failure expires: still refused; just after: free.
        let almost = start + WINDOW - Duration::from_secs(1);
        assert!(limiter.begin("maria", None, almost).is_err());
        assert!(limiter.begin("maria", None, start + WINDOW).is_ok());
    }

    #[test]
    fn an_address_is_refused_after_spraying_many_usernames() {
        let limiter = SignInLimiter::new(WINDOW);
        let now = Instant::now();
        for n in 0..ADDRESS_FAILURES_MAX {
            limiter.begin(&format!("user{n}"), address(7), now).unwrap();
        }
        let limited = limiter.begin("fresh", address(7), now).unwrap_err();
        assert_eq!(limited.scope, LimitScope::Address);
        assert_eq!(limited.retry_after, WINDOW);
        assert!(limiter.begin("fresh", address(8), now).is_ok());
    }

    #[test]
    fn the_global_ceiling_holds_for_many_addresses_and_bounds_memory() {
        let limiter = SignInLimiter::new(WINDOW);
        let now = Instant::now();
        for n in 0..GLOBAL_FAILURES_MAX * 3 {
            let ip = IpAddr::from([10, 0, (n / 256) as u8, (n % 256) as u8]);
            let _ = limiter.begin(&format!("u{n}"), Some(ip), now);
        }
        let limited = limiter.begin("anyone", address(1), now).unwrap_err();
        assert_eq!(limited.scope, LimitScope::Global);
        let counts = limiter.counts.lock().unwrap();
        assert_eq!(counts.global.len(), GLOBAL_FAILURES_MAX);
        assert_eq!(counts.by_username.len(), GLOBAL_FAILURES_MAX);
        assert_eq!(counts.by_address.len(), GLOBAL_FAILURES_MAX);
    }

    #[test]
    fn a_success_is_no_failure_and_clears_the_username() {
        let limiter = SignInLimiter::new(WINDOW);
        let start = Instant::now();
        for _ in 0..USERNAME_FAILURES_MAX - 1 {
            limiter.begin("maria", address(1), start).unwrap();
        }
        let right = limiter.begin("MARIA", address(1), start).unwrap();
        limiter.succeeded(right);
        {
            let counts = limiter.counts.lock().unwrap();
            assert!(!counts.by_username.contains_key("maria"));
            assert_eq!(counts.global.len(), USERNAME_FAILURES_MAX - 1);
        }
        // A busy office behind one address: people signing in rightly never
        // fill the address's count.
        for n in 0..ADDRESS_FAILURES_MAX * 2 {
            let attempt = limiter
                .begin(&format!("person{n}"), address(9), start)
                .unwrap();
            limiter.succeeded(attempt);
        }
        assert!(limiter.begin("late", address(9), start).is_ok());
    }

    #[test]
    fn attempts_in_flight_count_before_their_passwords_are_checked() {
        let limiter = SignInLimiter::new(WINDOW);
        let now = Instant::now();
        // Many attempts at once, none answered yet: only the first pass.
        let admitted = (0..USERNAME_FAILURES_MAX * 10)
            .filter(|_| limiter.begin("maria", address(1), now).is_ok())
            .count();
        assert_eq!(admitted, USERNAME_FAILURES_MAX);
    }

    #[test]
    fn expired_failures_are_pruned() {
        let limiter = SignInLimiter::new(WINDOW);
        let start = Instant::now();
        limiter.begin("maria", address(1), start).unwrap();
        limiter.begin("other", address(2), start + WINDOW).unwrap();
        let counts = limiter.counts.lock().unwrap();
        assert!(
            !counts.by_username.contains_key("maria"),
            "pruned after the window"
        );
        assert_eq!(counts.global.len(), 1);
    }
}
