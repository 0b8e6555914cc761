//! Counting events in a sliding window, per key, with bounded memory.
//!
//! Why a module of its own: several doors of a node must refuse a crowd
//! without refusing everyone (link requests from unknown nodes, per source
//! address and for the whole node). Each keeps a [`WindowCounter`]: at most
//! `max` events per key in the last `window`; an event over the limit is
//! refused with the time until the oldest counted event leaves the window,
//! which callers send as `Retry-After`.
//!
//! Memory: every key holds at most `max` instants, and at most
//! `keys_max` keys are held. When a new key arrives and the table is full,
//! keys whose events all left the window are dropped first; if none did,
//! the new key is refused (a crowd of fresh addresses cannot push out the
//! counts of the ones already limited). Counts live in memory: a restart
//! forgets them.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How many events a key may have within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimit {
    pub max: usize,
    pub window: Duration,
}

/// An event refused: the key's count is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverLimit {
    /// When the key may try again.
    pub retry_after: Duration,
}

impl OverLimit {
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

/// Events per key in a sliding window (see the module docs).
#[derive(Debug)]
pub struct WindowCounter<K> {
    limit: WindowLimit,
    keys_max: usize,
    events: HashMap<K, VecDeque<Instant>>,
}

impl<K: Hash + Eq + Clone> WindowCounter<K> {
    /// A counter of `limit` per key, holding at most `keys_max` keys.
    pub fn new(limit: WindowLimit, keys_max: usize) -> Self {
        WindowCounter {
            limit,
            keys_max: keys_max.max(1),
            events: HashMap::new(),
        }
    }

    /// Whether `key` may have one more event at `now` (nothing is counted).
    pub fn check(&mut self, key: &K, now: Instant) -> Result<(), OverLimit> {
        let window = self.limit.window;
        let max = self.limit.max;
        if let Some(events) = self.events.get_mut(key) {
            drop_expired(events, now, window);
            if events.len() >= max {
                let oldest = events.front().copied().unwrap_or(now);
                return Err(OverLimit {
                    retry_after: (oldest + window).saturating_duration_since(now),
                });
            }
            return Ok(());
        }
        if max == 0 {
            return Err(OverLimit {
                retry_after: window,
            });
        }
        if self.events.len() >= self.keys_max {
            self.events.retain(|_, events| {
                drop_expired(events, now, window);
                !events.is_empty()
            });
            if self.events.len() >= self.keys_max {
                return Err(OverLimit {
                    retry_after: self.soonest_free(now),
                });
            }
        }
        Ok(())
    }

    /// Counts one event of `key` at `now` if the limit allows it.
    pub fn record(&mut self, key: &K, now: Instant) -> Result<(), OverLimit> {
        self.check(key, now)?;
        self.events.entry(key.clone()).or_default().push_back(now);
        Ok(())
    }

    /// Takes back the newest event of `key` (an attempt that turned out not
    /// to count, for example a request that was refused for another reason).
    pub fn forget_one(&mut self, key: &K) {
        if let Some(events) = self.events.get_mut(key) {
            events.pop_back();
            if events.is_empty() {
                self.events.remove(key);
            }
        }
    }

    /// Keys held (for tests and metrics).
    pub fn keys(&self) -> usize {
        self.events.len()
    }

    /// When the first held key's newest event leaves the window.
    fn soonest_free(&self, now: Instant) -> Duration {
        self.events
            .values()
            .filter_map(|events| events.back())
            .map(|newest| (*newest + self.limit.window).saturating_duration_since(now))
            .min()
            .unwrap_or(self.limit.window)
    }
}

fn drop_expired(events: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while events
        .front()
        .is_some_and(|oldest| now.saturating_duration_since(*oldest) >= window)
    {
        events.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn counter(max: usize, keys_max: usize) -> WindowCounter<u32> {
        WindowCounter::new(
            WindowLimit {
                max,
                window: MINUTE,
            },
            keys_max,
        )
    }

    #[test]
    fn refuses_over_the_limit_until_the_oldest_event_leaves_the_window() {
        let mut counts = counter(2, 10);
        let start = Instant::now();
        counts.record(&1, start).unwrap();
        counts.record(&1, start + Duration::from_secs(10)).unwrap();
        let refused = counts
            .record(&1, start + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(40));
        assert_eq!(refused.retry_after_secs(), 40);
        // Another key is counted apart.
        counts.record(&2, start + Duration::from_secs(20)).unwrap();
        // Once the first event is a minute old, one more fits.
        counts.record(&1, start + MINUTE).unwrap();
        assert!(counts.record(&1, start + MINUTE).is_err());
    }

    #[test]
    fn check_counts_nothing_and_forget_one_takes_an_event_back() {
        let mut counts = counter(1, 10);
        let now = Instant::now();
        counts.check(&1, now).unwrap();
        counts.check(&1, now).unwrap();
        counts.record(&1, now).unwrap();
        assert!(counts.check(&1, now).is_err());
        counts.forget_one(&1);
        assert_eq!(counts.keys(), 0);
        counts.record(&1, now).unwrap();
    }

    #[test]
    fn a_full_table_refuses_new_keys_until_old_ones_expire() {
        let mut counts = counter(5, 2);
        let start = Instant::now();
        counts.record(&1, start).unwrap();
        counts.record(&2, start + Duration::from_secs(30)).unwrap();
        let refused = counts
            .record(&3, start + Duration::from_secs(40))
            .unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(20));
        // Keys already held keep counting.
        counts.record(&1, start + Duration::from_secs(40)).unwrap();
        // Key 2's only event expires at 90 s; key 1's newest at 100 s.
        counts.record(&3, start + Duration::from_secs(95)).unwrap();
        assert_eq!(counts.keys(), 2);
    }

    #[test]
    fn rounds_retry_after_up_to_whole_seconds() {
        let over = OverLimit {
            retry_after: Duration::from_millis(1_200),
        };
        assert_eq!(over.retry_after_secs(), 2);
        let over = OverLimit {
            retry_after: Duration::ZERO,
        };
        assert_eq!(over.retry_after_secs(), 1);
    }
}
