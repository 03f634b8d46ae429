//! Bounded, concurrent per-key limits: rates and quotas ([`KeyedLimiter`]),
//! things held at once ([`InFlight`]) and used one-time tokens
//! ([`UsedTokens`]).
//!
//! Every table is a [`DashMap`] (sharded locks: two clients never wait for
//! each other unless they hash to the same shard) with a hard cap on its
//! entries. A request does O(1) work: one entry looked up or inserted;
//! forgetting idle entries is the periodic [`KeyedLimiter::sweep`], never a
//! request's job. Time is a parameter (`now`), so tests fast-forward.
//!
//! Why not `governor`'s keyed limiter: its store offers no way to tell a
//! new key from a known one, so a hard cap on entries cannot be enforced
//! per request, and it reads its own clock. The algorithm it uses, GCRA, is
//! the ten lines of [`KeyedLimiter::check_n`].

use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

/// `limit` units per `period` per key, all of them usable at once (a
/// token bucket of `limit` that refills continuously), computed as GCRA:
/// each key keeps one number, its theoretical arrival time.
///
/// When the table holds `cap` keys, keys not in it share one overflow
/// bucket until [`sweep`](Self::sweep) forgets idle keys: a flood from
/// more addresses than the table holds is limited as one client, while
/// the clients already known keep their own buckets.
#[derive(Debug)]
pub struct KeyedLimiter<K: Eq + Hash> {
    limit: u64,
    period_ns: u128,
    base: Instant,
    cap: usize,
    /// Theoretical arrival time per key, nanoseconds since `base`.
    tat: DashMap<K, u64>,
    overflow: Mutex<u64>,
}

/// A refusal: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for `Retry-After`, at least 1.
    pub fn secs(self) -> u64 {
        (self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)).max(1)
    }
}

impl<K: Eq + Hash + Clone> KeyedLimiter<K> {
    /// `limit` (at least 1) per `period` per key, at most `cap` keys.
    pub fn new(limit: u64, period: Duration, cap: usize, now: Instant) -> Self {
        KeyedLimiter {
            limit: limit.max(1),
            period_ns: period.as_nanos().max(1),
            base: now,
            cap: cap.max(1),
            tat: DashMap::new(),
            overflow: Mutex::new(0),
        }
    }

    fn ns(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Takes one unit for `key`.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), RetryAfter> {
        self.check_n(key, 1, now)
    }

    /// Takes `n` units for `key`, or none: `Err` says when `n` will be
    /// there. `n` above the limit is refused with the time a full bucket
    /// takes (callers check sizes against the limit first).
    pub fn check_n(&self, key: &K, n: u64, now: Instant) -> Result<(), RetryAfter> {
        let now = self.ns(now);
        if n > self.limit {
            return Err(RetryAfter(Duration::from_nanos(
                u64::try_from(self.period_ns).unwrap_or(u64::MAX),
            )));
        }
        let step = |tat: &mut u64| -> Result<(), RetryAfter> {
            // The bucket is full again once `now` reaches `tat`; each unit
            // pushes `tat` by period/limit; a request is allowed while
            // `tat` stays within one period ahead of now.
            let cost = u64::try_from(u128::from(n) * self.period_ns / u128::from(self.limit))
                .unwrap_or(u64::MAX);
            let new_tat = (*tat).max(now).saturating_add(cost);
            let period = u64::try_from(self.period_ns).unwrap_or(u64::MAX);
            let allowed_at = new_tat.saturating_sub(period);
            if allowed_at > now {
                return Err(RetryAfter(Duration::from_nanos(allowed_at - now)));
            }
            *tat = new_tat;
            Ok(())
        };
        if let Some(mut tat) = self.tat.get_mut(key) {
            return step(&mut tat);
        }
        if self.tat.len() >= self.cap {
            let mut tat = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
            return step(&mut tat);
        }
        match self.tat.entry(key.clone()) {
            Entry::Occupied(mut e) => step(e.get_mut()),
            Entry::Vacant(e) => {
                let mut tat = 0;
                let r = step(&mut tat);
                if r.is_ok() {
                    e.insert(tat);
                }
                r
            }
        }
    }

    /// Forgets keys whose bucket is full again (they would start afresh
    /// anyway). Call it now and then, not per request: it visits every key.
    pub fn sweep(&self, now: Instant) {
        let now = self.ns(now);
        self.tat.retain(|_, tat| *tat > now);
        self.tat.shrink_to_fit();
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.tat.len()
    }

    /// No key remembered.
    pub fn is_empty(&self) -> bool {
        self.tat.is_empty()
    }
}

/// Amounts held at once per key (connections per client, body bytes per
/// reporter), each below a cap; a [`Held`] gives its amount back when
/// dropped. Keys with nothing held are removed, so the table holds only
/// what is in use.
#[derive(Debug)]
pub struct InFlight<K: Eq + Hash> {
    per_key: u64,
    held: Arc<DashMap<K, u64>>,
}

/// An amount taken from an [`InFlight`]; returned on drop.
#[derive(Debug)]
pub struct Held<K: Eq + Hash> {
    key: K,
    amount: u64,
    held: Arc<DashMap<K, u64>>,
}

impl<K: Eq + Hash + Clone> InFlight<K> {
    /// At most `per_key` held per key.
    pub fn new(per_key: u64) -> Self {
        InFlight {
            per_key,
            held: Arc::new(DashMap::new()),
        }
    }

    /// Takes `amount` for `key`, or `None` when that would pass the cap.
    pub fn try_take(&self, key: &K, amount: u64) -> Option<Held<K>> {
        let mut e = self.held.entry(key.clone()).or_insert(0);
        let now = e.value().saturating_add(amount);
        if now > self.per_key {
            let empty = *e.value() == 0;
            drop(e);
            if empty {
                self.held.remove_if(key, |_, v| *v == 0);
            }
            return None;
        }
        *e.value_mut() = now;
        Some(Held {
            key: key.clone(),
            amount,
            held: self.held.clone(),
        })
    }

    /// What `key` holds now.
    pub fn held(&self, key: &K) -> u64 {
        self.held.get(key).map_or(0, |v| *v)
    }

    /// Keys holding something.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

impl<K: Eq + Hash> Drop for Held<K> {
    fn drop(&mut self) {
        let empty = match self.held.get_mut(&self.key) {
            Some(mut v) => {
                *v = v.saturating_sub(self.amount);
                *v == 0
            }
            None => false,
        };
        if empty {
            // Checked again under the shard's lock: another taker may have
            // come in between.
            self.held.remove_if(&self.key, |_, v| *v == 0);
        }
    }
}

/// One-time tokens already used, each remembered until it would have
/// expired anyway; at most `cap` at once.
#[derive(Debug)]
pub struct UsedTokens {
    cap: usize,
    used: DashMap<[u8; 16], i64>,
}

/// Why a token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// Used before.
    AlreadyUsed,
    /// The table is full (a flood of valid tokens): try again later.
    Full,
}

impl UsedTokens {
    /// At most `cap` tokens remembered.
    pub fn new(cap: usize) -> Self {
        UsedTokens {
            cap: cap.max(1),
            used: DashMap::new(),
        }
    }

    /// Marks `nonce` used until `expires` (Unix seconds); refuses it when
    /// it was used before.
    pub fn use_once(&self, nonce: [u8; 16], expires: i64) -> Result<(), TokenUse> {
        if self.used.len() >= self.cap && !self.used.contains_key(&nonce) {
            return Err(TokenUse::Full);
        }
        match self.used.entry(nonce) {
            Entry::Occupied(_) => Err(TokenUse::AlreadyUsed),
            Entry::Vacant(e) => {
                e.insert(expires);
                Ok(())
            }
        }
    }

    /// Forgets tokens that have expired by `now` (Unix seconds).
    pub fn sweep(&self, now: i64) {
        self.used.retain(|_, expires| *expires >= now);
        self.used.shrink_to_fit();
    }

    /// Tokens remembered.
    pub fn len(&self) -> usize {
        self.used.len()
    }

    /// None remembered.
    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_bucket_of_limit_refills_over_the_period() {
        let t0 = Instant::now();
        let l = KeyedLimiter::new(3, MIN, 10, t0);
        for _ in 0..3 {
            assert_eq!(l.check(&1, t0), Ok(()));
        }
        let Err(wait) = l.check(&1, t0) else {
            panic!("a fourth at once")
        };
        assert_eq!(wait.0, Duration::from_secs(20), "one unit per 20 s");
        assert_eq!(wait.secs(), 20);
        // Another key is not affected.
        assert_eq!(l.check(&2, t0), Ok(()));
        // 20 s later one more.
        assert_eq!(l.check(&1, t0 + Duration::from_secs(20)), Ok(()));
        assert!(l.check(&1, t0 + Duration::from_secs(20)).is_err());
        // A full period later, the whole bucket again.
        let later = t0 + Duration::from_secs(80);
        for _ in 0..3 {
            assert_eq!(l.check(&1, later), Ok(()));
        }
    }

    #[test]
    fn weighted_checks_take_all_or_nothing() {
        let t0 = Instant::now();
        let day = Duration::from_secs(86_400);
        let l = KeyedLimiter::new(1000, day, 10, t0);
        assert_eq!(l.check_n(&7, 600, t0), Ok(()));
        let Err(wait) = l.check_n(&7, 600, t0) else {
            panic!("1200 of 1000")
        };
        // 200 more units refill in a fifth of a day.
        assert_eq!(wait.0, day / 5);
        // The refused 600 took nothing: 400 still fit.
        assert_eq!(l.check_n(&7, 400, t0), Ok(()));
        assert!(
            l.check_n(&7, 2000, t0 + day * 10).is_err(),
            "above the limit"
        );
    }

    #[test]
    fn a_full_table_puts_new_keys_in_one_shared_bucket() {
        let t0 = Instant::now();
        let l = KeyedLimiter::new(2, MIN, 2, t0);
        assert!(l.check(&1, t0).is_ok());
        assert!(l.check(&2, t0).is_ok());
        assert_eq!(l.len(), 2);
        // Keys 3, 4 and 5 are not remembered: they share the overflow bucket.
        assert!(l.check(&3, t0).is_ok());
        assert!(l.check(&4, t0).is_ok());
        assert!(l.check(&5, t0).is_err());
        assert_eq!(l.len(), 2, "never above the cap");
        // Known keys keep their own bucket.
        assert!(l.check(&1, t0).is_ok());
        // The sweep forgets full buckets, making room again.
        l.sweep(t0 + MIN * 2);
        assert!(l.is_empty());
        assert!(l.check(&5, t0 + MIN * 2).is_ok());
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn the_sweep_keeps_keys_still_limited() {
        let t0 = Instant::now();
        let l = KeyedLimiter::new(1, MIN, 10, t0);
        assert!(l.check(&1, t0).is_ok());
        l.sweep(t0 + Duration::from_secs(30));
        assert!(l.check(&1, t0 + Duration::from_secs(30)).is_err());
    }

    #[test]
    fn in_flight_amounts_are_capped_and_given_back() {
        let f = InFlight::new(10);
        let a = f.try_take(&"r", 6).expect("6 of 10");
        assert!(f.try_take(&"r", 5).is_none(), "11 of 10");
        assert_eq!(f.held(&"r"), 6);
        let b = f.try_take(&"r", 4).expect("10 of 10");
        assert!(f.try_take(&"other", 10).is_some(), "per key");
        drop(a);
        assert_eq!(f.held(&"r"), 4);
        drop(b);
        assert_eq!(f.held(&"r"), 0);
        assert!(f.is_empty(), "nothing held, nothing kept");
        assert!(f.try_take(&"x", 11).is_none());
        assert!(f.is_empty(), "a refusal leaves no entry");
    }

    #[test]
    fn tokens_are_used_once() {
        let u = UsedTokens::new(2);
        assert_eq!(u.use_once([1; 16], 100), Ok(()));
        assert_eq!(u.use_once([1; 16], 100), Err(TokenUse::AlreadyUsed));
        assert_eq!(u.use_once([2; 16], 200), Ok(()));
        assert_eq!(u.use_once([3; 16], 200), Err(TokenUse::Full));
        assert_eq!(u.use_once([1; 16], 100), Err(TokenUse::AlreadyUsed));
        u.sweep(150);
        assert_eq!(u.len(), 1);
        assert_eq!(u.use_once([3; 16], 200), Ok(()));
    }
}
