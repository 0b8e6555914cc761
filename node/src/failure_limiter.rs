//! How many wrong secrets the node accepts before it stops trying: failed
//! authentications counted in a sliding window, per key, per client address
//! and for the whole node.
//!
//! Why a module of its own: two doors take secrets and must not let a crowd
//! guess at them, password sign-in (`accounts::limiter`, keyed by username)
//! and API tokens (`tokens`, keyed by token id). Each keeps one
//! [`FailureLimiter`] with its own [`FailureLimits`]. Failures are counted
//! three ways within [`FailureLimiter::window`]: per key (one account or
//! token is not guessed at quickly, from anywhere), per client address (one
//! machine does not spray many keys) and for the whole node (a ceiling for
//! an attack from many addresses, and the bound on memory).
//!
//! Each attempt is counted as a failure *before* its secret is checked, in
//! the lock that checks the counts (so a burst of parallel guesses gets no
//! more tries than a sequence), and a right secret takes its attempt back and
//! clears its key's failures ([`FailureLimiter::succeeded`]). What a full
//! count does depends on whose count it is:
//!
//! - the client address's count is the client's own: while it is full every
//!   attempt from that address is refused before its secret is checked;
//! - the key's and the node's counts can be filled by anyone who knows the
//!   key (a username, a token id) or has many addresses. Password sign-in
//!   refuses before checking there too ([`WhenFull::RefuseBeforeCheck`]: a
//!   password is guessable, so the count is what protects it); tokens
//!   refuse only wrong secrets ([`WhenFull::RefuseWrongOnly`]: a token's
//!   secret is 256 random bits, so the count protects nothing a right
//!   secret would reveal, and refusing it would let anyone who read a token
//!   id in a log lock out the program that holds the token).
//!
//! Either way a refusal names when the oldest failure of the full count
//! leaves the window; then attempts work again. The counts live in memory: a
//! restart forgets them, which only gives an attacker who can restart the
//! node a fresh window. Memory is bounded without a separate cap: a failure
//! is only recorded while the global count is below its maximum, and expired
//! failures are pruned on every record, so at most that many failures (and
//! keys) are held.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a full key or global count refuses (the address's count always
/// refuses before checking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Every attempt it covers, even one with the right secret.
    RefuseBeforeCheck,
    /// Only attempts whose secret turns out wrong.
    RefuseWrongOnly,
}

/// The limits of one door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimits {
    /// What a key is, for logs and [`LimitScope::as_str`]: `username`, `token_id`.
    pub key_name: &'static str,
    /// Failures per key within the window.
    pub key_failures_max: usize,
    /// Failures per client address within the window.
    pub address_failures_max: usize,
    /// Failures on the whole node within the window.
    pub global_failures_max: usize,
    /// What a full key or global count refuses.
    pub key_and_global_full: WhenFull,
}

/// Which count is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// The key's count; carries [`FailureLimits::key_name`].
    Key(&'static str),
    Address,
    Global,
}

impl LimitScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Key(name) => name,
            LimitScope::Address => "address",
            LimitScope::Global => "global",
        }
    }
}

/// An attempt refused because a count is full.
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

    /// Whole seconds to wait, rounded up (at least one), for `Retry-After`.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let rounded = if self.retry_after.subsec_nanos() > 0 {
            secs + 1
        } else {
            secs
        };
        rounded.max(1)
    }
}

struct Counts<K> {
    by_key: HashMap<K, VecDeque<Instant>>,
    by_address: HashMap<IpAddr, VecDeque<Instant>>,
    global: VecDeque<Instant>,
}

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts {
            by_key: HashMap::new(),
            by_address: HashMap::new(),
            global: VecDeque::new(),
        }
    }
}

/// The failure counts of one door of one node.
pub struct FailureLimiter<K> {
    limits: FailureLimits,
    window: Duration,
    counts: Mutex<Counts<K>>,
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

/// The longest wait among full counts.
fn longest(checks: impl IntoIterator<Item = (LimitScope, Option<Duration>)>) -> Option<Limited> {
    checks
        .into_iter()
        .filter_map(|(scope, wait)| wait.map(|retry_after| Limited { scope, retry_after }))
        .max_by_key(|limited| limited.retry_after)
}

impl<K: Hash + Eq + Clone> FailureLimiter<K> {
    pub fn new(limits: FailureLimits, window: Duration) -> Self {
        FailureLimiter {
            limits,
            window,
            counts: Mutex::new(Counts::default()),
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    pub fn limits(&self) -> &FailureLimits {
        &self.limits
    }

    /// Begins an attempt for `key` (`None` when the presented secret names
    /// no key) from `address`.
    ///
    /// - `Err(limited)`: a count that refuses before checking is full (the
    ///   longest wait of those is returned); check nothing.
    /// - `Ok(attempt)` with [`Attempt::over_limit`] `None`: counted as a
    ///   failure already; call [`FailureLimiter::succeeded`] if the secret
    ///   is right.
    /// - `Ok(attempt)` with `over_limit` `Some`: a count that refuses only
    ///   wrong secrets is full; the attempt is counted all the same, a right
    ///   secret passes (and takes it back) and a wrong one must be refused
    ///   with that wait.
    pub fn begin(
        &self,
        key: Option<&K>,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<K>, Limited> {
        let mut counts = self.counts.lock().expect("limiter lock");
        let window = self.window;
        let address_full = (
            LimitScope::Address,
            full(
                address.and_then(|a| counts.by_address.get(&a)),
                self.limits.address_failures_max,
                now,
                window,
            ),
        );
        let shared_full = [
            (
                LimitScope::Key(self.limits.key_name),
                full(
                    key.and_then(|k| counts.by_key.get(k)),
                    self.limits.key_failures_max,
                    now,
                    window,
                ),
            ),
            (
                LimitScope::Global,
                full(
                    Some(&counts.global),
                    self.limits.global_failures_max,
                    now,
                    window,
                ),
            ),
        ];
        let over_limit = match self.limits.key_and_global_full {
            WhenFull::RefuseBeforeCheck => {
                let mut all = shared_full.to_vec();
                all.push(address_full);
                if let Some(limited) = longest(all) {
                    return Err(limited);
                }
                None
            }
            WhenFull::RefuseWrongOnly => {
                if let Some(limited) = longest([address_full]) {
                    return Err(limited);
                }
                longest(shared_full)
            }
        };
        // Counted even when over a limit that refuses only wrong secrets,
        // so that an address hammering a full key fills its own count.
        let counted = self.record(&mut counts, key, address, now);
        Ok(Attempt {
            key: key.cloned(),
            address,
            at: now,
            counted,
            over_limit,
        })
    }

    /// A right secret: its attempt is not a failure, and the key's earlier
    /// failures are forgotten.
    pub fn succeeded(&self, attempt: Attempt<K>) {
        let mut counts = self.counts.lock().expect("limiter lock");
        if let Some(key) = &attempt.key {
            counts.by_key.remove(key);
        }
        if !attempt.counted {
            return;
        }
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

    /// Counts one failure, pruning what left the window first; false when
    /// the global count is full (nothing more is held).
    fn record(
        &self,
        counts: &mut Counts<K>,
        key: Option<&K>,
        address: Option<IpAddr>,
        now: Instant,
    ) -> bool {
        let window = self.window;
        prune(&mut counts.global, now, window);
        counts.by_key.retain(|_, failures| {
            prune(failures, now, window);
            !failures.is_empty()
        });
        counts.by_address.retain(|_, failures| {
            prune(failures, now, window);
            !failures.is_empty()
        });
        if counts.global.len() >= self.limits.global_failures_max {
            return false;
        }
        counts.global.push_back(now);
        if let Some(key) = key {
            counts.by_key.entry(key.clone()).or_default().push_back(now);
        }
        if let Some(address) = address {
            counts.by_address.entry(address).or_default().push_back(now);
        }
        true
    }
}

/// An attempt being checked, counted as a failure until it succeeds.
#[derive(Debug)]
pub struct Attempt<K> {
    key: Option<K>,
    address: Option<IpAddr>,
    at: Instant,
    counted: bool,
    over_limit: Option<Limited>,
}

impl<K> Attempt<K> {
    /// `Some` when a count that refuses only wrong secrets is full: the
    /// caller refuses a wrong secret with this wait instead of its usual
    /// answer.
    pub fn over_limit(&self) -> Option<Limited> {
        self.over_limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(900);

    const STRICT: FailureLimits = FailureLimits {
        key_name: "username",
        key_failures_max: 5,
        address_failures_max: 20,
        global_failures_max: 100,
        key_and_global_full: WhenFull::RefuseBeforeCheck,
    };

    const LENIENT: FailureLimits = FailureLimits {
        key_name: "token_id",
        key_and_global_full: WhenFull::RefuseWrongOnly,
        ..STRICT
    };

    fn address(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    fn key(text: &str) -> Option<String> {
        Some(text.to_string())
    }

    #[test]
    fn a_key_is_refused_after_its_failures_until_the_oldest_leaves_the_window() {
        let limiter = FailureLimiter::new(STRICT, WINDOW);
        let start = Instant::now();
        for minute in 0..STRICT.key_failures_max as u64 {
            let at = start + Duration::from_secs(minute * 60);
            limiter
                .begin(key("maria").as_ref(), address(minute as u8 + 1), at)
                .unwrap();
        }
        // Full: refused from any address, even before the password is checked.
        let after = start + Duration::from_secs(5 * 60);
        let limited = limiter
            .begin(key("maria").as_ref(), address(99), after)
            .unwrap_err();
        assert_eq!(limited.scope, LimitScope::Key("username"));
        assert_eq!(limited.scope.as_str(), "username");
        assert_eq!(limited.retry_after, Duration::from_secs(10 * 60));
        assert_eq!(limited.retry_after_minutes(), 10);
        assert_eq!(limited.retry_after_secs(), 600);
        // Another key is not affected.
        assert!(limiter
            .begin(key("ana").as_ref(), address(99), after)
            .is_ok());
        // Just before the first failure expires: still refused; just after: free.
        let almost = start + WINDOW - Duration::from_secs(1);
        assert!(limiter.begin(key("maria").as_ref(), None, almost).is_err());
        assert!(limiter
            .begin(key("maria").as_ref(), None, start + WINDOW)
            .is_ok());
    }

    #[test]
    fn an_address_is_refused_after_spraying_many_keys() {
        for limits in [STRICT, LENIENT] {
            let limiter = FailureLimiter::new(limits, WINDOW);
            let now = Instant::now();
            for n in 0..limits.address_failures_max {
                limiter
                    .begin(key(&format!("user{n}")).as_ref(), address(7), now)
                    .unwrap();
            }
            let limited = limiter
                .begin(key("fresh").as_ref(), address(7), now)
                .unwrap_err();
            assert_eq!(limited.scope, LimitScope::Address);
            assert_eq!(limited.retry_after, WINDOW);
            assert!(limiter
                .begin(key("fresh").as_ref(), address(8), now)
                .is_ok());
        }
    }

    #[test]
    fn the_global_ceiling_holds_for_many_addresses_and_bounds_memory() {
        let limiter = FailureLimiter::new(STRICT, WINDOW);
        let now = Instant::now();
        for n in 0..STRICT.global_failures_max * 3 {
            let ip = IpAddr::from([10, 0, (n / 256) as u8, (n % 256) as u8]);
            let _ = limiter.begin(key(&format!("u{n}")).as_ref(), Some(ip), now);
        }
        let limited = limiter
            .begin(key("anyone").as_ref(), address(1), now)
            .unwrap_err();
        assert_eq!(limited.scope, LimitScope::Global);
        let counts = limiter.counts.lock().unwrap();
        assert_eq!(counts.global.len(), STRICT.global_failures_max);
        assert_eq!(counts.by_key.len(), STRICT.global_failures_max);
        assert_eq!(counts.by_address.len(), STRICT.global_failures_max);
    }

    #[test]
    fn a_success_is_no_failure_and_clears_the_key() {
        let limiter = FailureLimiter::new(STRICT, WINDOW);
        let start = Instant::now();
        for _ in 0..STRICT.key_failures_max - 1 {
            limiter
                .begin(key("maria").as_ref(), address(1), start)
                .unwrap();
        }
        let right = limiter
            .begin(key("maria").as_ref(), address(1), start)
            .unwrap();
        limiter.succeeded(right);
        {
            let counts = limiter.counts.lock().unwrap();
            assert!(!counts.by_key.contains_key("maria"));
            assert_eq!(counts.global.len(), STRICT.key_failures_max - 1);
        }
        // A busy office behind one address: people signing in rightly never
        // fill the address's count.
        for n in 0..STRICT.address_failures_max * 2 {
            let attempt = limiter
                .begin(key(&format!("person{n}")).as_ref(), address(9), start)
                .unwrap();
            limiter.succeeded(attempt);
        }
        assert!(limiter
            .begin(key("late").as_ref(), address(9), start)
            .is_ok());
    }

    #[test]
    fn attempts_in_flight_count_before_their_secrets_are_checked() {
        let limiter = FailureLimiter::new(STRICT, WINDOW);
        let now = Instant::now();
        // Many attempts at once, none answered yet: only the first pass.
        let admitted = (0..STRICT.key_failures_max * 10)
            .filter(|_| {
                limiter
                    .begin(key("maria").as_ref(), address(1), now)
                    .is_ok()
            })
            .count();
        assert_eq!(admitted, STRICT.key_failures_max);
    }

    #[test]
    fn a_full_key_that_refuses_wrong_secrets_only_lets_a_right_one_through() {
        let limiter = FailureLimiter::new(LENIENT, WINDOW);
        let now = Instant::now();
        for n in 0..LENIENT.key_failures_max {
            let attempt = limiter
                .begin(key("0123").as_ref(), address(n as u8), now)
                .unwrap();
            assert_eq!(attempt.over_limit(), None);
        }
        // The id is full: the next attempt is admitted but marked, and
        // counted for its address.
        let marked = limiter
            .begin(key("0123").as_ref(), address(50), now)
            .unwrap();
        let over = marked.over_limit().expect("the key is over its limit");
        assert_eq!(over.scope, LimitScope::Key("token_id"));
        assert_eq!(over.retry_after, WINDOW);
        assert_eq!(
            limiter.counts.lock().unwrap().by_address[&address(50).unwrap()].len(),
            1
        );
        // The right secret takes it back and clears the key's count.
        limiter.succeeded(marked);
        {
            let counts = limiter.counts.lock().unwrap();
            assert_eq!(counts.global.len(), LENIENT.key_failures_max);
            assert!(counts.by_address[&address(50).unwrap()].is_empty());
        }
        let next = limiter
            .begin(key("0123").as_ref(), address(50), now)
            .unwrap();
        assert_eq!(next.over_limit(), None);
    }

    #[test]
    fn attempts_without_a_key_count_for_the_address_and_the_node() {
        let limiter: FailureLimiter<String> = FailureLimiter::new(LENIENT, WINDOW);
        let now = Instant::now();
        for _ in 0..LENIENT.address_failures_max {
            limiter.begin(None, address(3), now).unwrap();
        }
        assert_eq!(
            limiter.begin(None, address(3), now).unwrap_err().scope,
            LimitScope::Address
        );
        assert_eq!(
            limiter.counts.lock().unwrap().global.len(),
            LENIENT.address_failures_max
        );
    }

    #[test]
    fn expired_failures_are_pruned() {
        let limiter = FailureLimiter::new(STRICT, WINDOW);
        let start = Instant::now();
        limiter
            .begin(key("maria").as_ref(), address(1), start)
            .unwrap();
        limiter
            .begin(key("other").as_ref(), address(2), start + WINDOW)
            .unwrap();
        let counts = limiter.counts.lock().unwrap();
        assert!(
            !counts.by_key.contains_key("maria"),
            "pruned after the window"
        );
        assert_eq!(counts.global.len(), 1);
    }
}
