//! Listing policy: scores that decay, thresholds with hysteresis, and
//! escalating minimum durations for repeat offenders.
//!
//! Everything here is a pure function of its inputs and of `now` (Unix
//! seconds); the caller owns the clock and the storage.
//!
//! The model, per key (an IP, a /64 or a domain) and zone:
//! - each reporter's contribution is a score that decays exponentially
//!   with `half_life`; a report adds the reporter's weight to it;
//! - the key's score is the sum of the contributions, each capped at
//!   `reporter_cap`, so no single reporter can push a key far on its own;
//! - a key is listed when its score reaches `list_threshold` *and* at least
//!   `min_reporters` distinct reporters still have a contribution of at
//!   least `min_contribution` (corroboration: one reporter alone never
//!   lists, however many reports it sends);
//! - a listed key is delisted when the score falls below
//!   `delist_threshold` (hysteresis) and its minimum duration has passed;
//! - the k-th listing of a key within `repeat_window` lasts at least
//!   `min_listing × 2^(k-1)`, capped at `max_listing`.
//!
//! With the defaults (half-life 6 h, list at 1.5, delist below 0.5, weight
//! 1 per report, first listing at least 12 h) two independent reports list
//! a key when the second arrives within one half-life of the first
//! (0.5 + 1 ≥ 1.5), for about 12 h (2.0 → 0.5 is two half-lives, and the
//! minimum duration is 12 h); five reporters at their cap of 1.5 make 7.5,
//! which needs log2(15) ≈ 3.9 half-lives ≈ 23 h to fall below 0.5: a
//! steady spammer stays listed while it spams and for about a day after.

/// Policy parameters (durations in seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Half-life of a contribution, seconds.
    pub half_life: f64,
    /// Score at which a key is listed.
    pub list_threshold: f64,
    /// Score below which a listed key is delisted.
    pub delist_threshold: f64,
    /// Distinct reporters needed to list.
    pub min_reporters: u32,
    /// Largest contribution one reporter can make to one key.
    pub reporter_cap: f64,
    /// A reporter counts towards `min_reporters` while its decayed
    /// contribution is at least this.
    pub min_contribution: f64,
    /// Reports about mail older than this (seconds) are ignored.
    pub max_report_age: i64,
    /// Minimum duration of a first listing, seconds.
    pub min_listing: i64,
    /// Cap of the escalated minimum duration, seconds.
    pub max_listing: i64,
    /// Window in which earlier listings make a key a repeat offender.
    pub repeat_window: i64,
    /// Distinct source networks (IPv4 /24, IPv6 /48) among the reports of
    /// the last `max_report_age` needed to list. 1 for source zones (a
    /// source is its own network); more for content zones, so that
    /// planting a victim's domain in spam sent from one network (the
    /// joe job) lists nothing: see [`KeyState::source_networks`].
    pub min_source_networks: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            half_life: 6.0 * 3600.0,
            list_threshold: 1.5,
            delist_threshold: 0.5,
            min_reporters: 2,
            reporter_cap: 1.5,
            min_contribution: 0.25,
            max_report_age: 2 * 86_400,
            min_listing: 12 * 3600,
            max_listing: 7 * 86_400,
            repeat_window: 30 * 86_400,
            min_source_networks: 1,
        }
    }
}

/// One reporter's contribution to one key, as of `at`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contribution {
    /// Reporter id.
    pub reporter: i64,
    /// Score at time `at`.
    pub score: f64,
    /// Unix seconds.
    pub at: i64,
}

/// The evidence and listing state of one key in one zone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyState {
    /// Per-reporter contributions.
    pub contributions: Vec<Contribution>,
    /// When the current listing started, if listed.
    pub listed_since: Option<i64>,
    /// The current listing cannot end before this.
    pub min_until: Option<i64>,
    /// Start times of earlier listings (pruned to the repeat window).
    pub past_listings: Vec<i64>,
    /// Distinct source networks of the recent reports about the key, as
    /// counted by the store when a report arrives (up to the policy's
    /// `min_source_networks`). Not stored; 0 when not counted, so that
    /// only the report path can list a key whose policy asks for more
    /// than one network.
    pub source_networks: u32,
}

/// A change of listing status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The key became listed; `nth` counts listings in the repeat window.
    Listed {
        /// 1 for a first listing, 2 for the second within the window, …
        nth: u32,
        /// The listing lasts at least until then.
        min_until: i64,
    },
    /// The key was delisted by decay.
    Delisted,
}

/// The evaluation of a key at some moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Current score.
    pub score: f64,
    /// Reporters currently counting towards corroboration.
    pub reporters: u32,
    /// Listed after this evaluation.
    pub listed: bool,
    /// What changed, if anything.
    pub transition: Option<Transition>,
    /// When the key will be delisted if nothing new arrives (listed keys).
    pub expires_at: Option<i64>,
}

/// `score` decayed from `from` to `to`.
pub fn decay(score: f64, from: i64, to: i64, half_life: f64) -> f64 {
    if to <= from || half_life <= 0.0 {
        return score;
    }
    score * (-((to - from) as f64) / half_life).exp2()
}

impl Policy {
    /// The key's score at `now`.
    pub fn score(&self, state: &KeyState, now: i64) -> f64 {
        state
            .contributions
            .iter()
            .map(|c| decay(c.score, c.at, now, self.half_life).min(self.reporter_cap))
            // fold from +0.0: `sum()` of nothing is -0.0, which shows.
            .fold(0.0, |a, b| a + b)
    }

    /// Distinct reporters counting towards corroboration at `now`.
    pub fn reporters(&self, state: &KeyState, now: i64) -> u32 {
        state
            .contributions
            .iter()
            .filter(|c| decay(c.score, c.at, now, self.half_life) >= self.min_contribution)
            .count() as u32
    }

    /// True when a report about mail sent at `mail_time` is too old to count.
    pub fn too_old(&self, mail_time: Option<i64>, now: i64) -> bool {
        mail_time.is_some_and(|t| now - t > self.max_report_age)
    }

    /// Adds a report of `weight` by `reporter` at `now` and re-evaluates.
    pub fn add_report(
        &self,
        state: &mut KeyState,
        reporter: i64,
        weight: f64,
        now: i64,
    ) -> Evaluation {
        match state
            .contributions
            .iter_mut()
            .find(|c| c.reporter == reporter)
        {
            Some(c) => {
                // Accumulate on the decayed value, but never beyond what
                // the cap can use: a flood from one reporter cannot bank
                // score for later.
                c.score =
                    (decay(c.score, c.at, now, self.half_life) + weight).min(self.reporter_cap);
                c.at = now;
            }
            None => state.contributions.push(Contribution {
                reporter,
                score: weight.min(self.reporter_cap),
                at: now,
            }),
        }
        self.evaluate(state, now)
    }

    /// Applies the thresholds at `now`, updating the listing state.
    pub fn evaluate(&self, state: &mut KeyState, now: i64) -> Evaluation {
        let score = self.score(state, now);
        let reporters = self.reporters(state, now);
        let mut transition = None;
        match state.listed_since {
            None if score >= self.list_threshold
                && reporters >= self.min_reporters
                && (self.min_source_networks <= 1
                    || state.source_networks >= self.min_source_networks) =>
            {
                state
                    .past_listings
                    .retain(|&t| now - t < self.repeat_window);
                let nth = state.past_listings.len() as u32 + 1;
                let factor = 1i64.checked_shl(nth - 1).unwrap_or(i64::MAX);
                let min_dur = self
                    .min_listing
                    .saturating_mul(factor)
                    .min(self.max_listing);
                let min_until = now.saturating_add(min_dur);
                state.listed_since = Some(now);
                state.min_until = Some(min_until);
                state.past_listings.push(now);
                transition = Some(Transition::Listed { nth, min_until });
            }
            Some(_)
                if score < self.delist_threshold && state.min_until.is_none_or(|m| now >= m) =>
            {
                state.listed_since = None;
                state.min_until = None;
                transition = Some(Transition::Delisted);
            }
            _ => {}
        }
        let listed = state.listed_since.is_some();
        Evaluation {
            score,
            reporters,
            listed,
            transition,
            expires_at: listed.then(|| self.expires_at(state, now)),
        }
    }

    /// When a listed key will be delisted if no new report arrives: the
    /// later of its minimum duration and the moment its score decays
    /// below the delisting threshold.
    pub fn expires_at(&self, state: &KeyState, now: i64) -> i64 {
        let min_until = state.min_until.unwrap_or(now);
        if self.score(state, now) < self.delist_threshold {
            return min_until.max(now);
        }
        // The capped sum is not a single exponential; it is monotonically
        // decreasing, so bisect on whole seconds.
        let (mut lo, mut hi) = (now, now.saturating_add((self.half_life * 64.0) as i64));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.score(state, mid) < self.delist_threshold {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi.max(min_until)
    }

    /// Drops contributions too small to matter at `now` (keeps rows few).
    pub fn prune(&self, state: &mut KeyState, now: i64) {
        let floor = self.min_contribution.min(self.delist_threshold) / 100.0;
        state
            .contributions
            .retain(|c| decay(c.score, c.at, now, self.half_life) >= floor);
        state
            .past_listings
            .retain(|&t| now - t < self.repeat_window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    #[test]
    fn decay_halves_per_half_life() {
        assert!((decay(2.0, 0, 6 * H, 6.0 * 3600.0) - 1.0).abs() < 1e-9);
        assert!((decay(2.0, 0, 12 * H, 6.0 * 3600.0) - 0.5).abs() < 1e-9);
        assert_eq!(decay(2.0, 10, 5, 100.0), 2.0, "no growth backwards");
    }

    #[test]
    fn one_reporter_alone_never_lists() {
        let p = Policy::default();
        let mut s = KeyState::default();
        for i in 0..1000 {
            let e = p.add_report(&mut s, 7, 1.0, i);
            assert!(!e.listed);
            assert!(e.score <= p.reporter_cap + 1e-9);
        }
    }

    #[test]
    fn two_reports_list_for_about_twelve_hours() {
        let p = Policy::default();
        let mut s = KeyState::default();
        assert!(!p.add_report(&mut s, 1, 1.0, 0).listed);
        let e = p.add_report(&mut s, 2, 1.0, 0);
        assert!(e.listed);
        assert_eq!(
            e.transition,
            Some(Transition::Listed {
                nth: 1,
                min_until: 12 * H
            })
        );
        // At exactly 12 h the score is 0.5, not yet below the threshold.
        assert_eq!(e.expires_at, Some(12 * H + 1));
        assert!(p.evaluate(&mut s, 12 * H - 1).listed);
        let e = p.evaluate(&mut s, 12 * H + 1);
        assert_eq!(e.transition, Some(Transition::Delisted));
        assert!(!e.listed);
    }

    #[test]
    fn hysteresis_keeps_listing_between_thresholds() {
        let p = Policy::default();
        let mut s = KeyState::default();
        p.add_report(&mut s, 1, 1.0, 0);
        p.add_report(&mut s, 2, 1.0, 0);
        // At 7 h the score is about 0.89: below the listing threshold but
        // above the delisting one, so it stays listed.
        let e = p.evaluate(&mut s, 7 * H);
        assert!(e.score < p.list_threshold && e.score > p.delist_threshold);
        assert!(e.listed);
    }

    #[test]
    fn steady_spammer_stays_about_a_day() {
        let p = Policy::default();
        let mut s = KeyState::default();
        let mut t = 0;
        for _ in 0..10 {
            for r in 1..=5 {
                p.add_report(&mut s, r, 1.0, t);
            }
            assert!(p.evaluate(&mut s, t).listed);
            t += H;
        }
        let e = p.evaluate(&mut s, t);
        assert!(e.listed);
        let left = e.expires_at.unwrap() - t;
        assert!(
            (20 * H..28 * H).contains(&left),
            "listed {left} s after the last report"
        );
    }

    #[test]
    fn repeat_offenders_escalate_and_cap() {
        let p = Policy::default();
        let mut s = KeyState::default();
        let mut t = 0;
        let mut durations = Vec::new();
        for _ in 0..6 {
            p.add_report(&mut s, 1, 1.0, t);
            let e = p.add_report(&mut s, 2, 1.0, t);
            let Some(Transition::Listed { min_until, .. }) = e.transition else {
                panic!("{e:?}")
            };
            durations.push(min_until - t);
            // Wait until delisted.
            t = p.expires_at(&s, t) + 1;
            assert_eq!(p.evaluate(&mut s, t).transition, Some(Transition::Delisted));
        }
        assert_eq!(&durations[..4], &[12 * H, 24 * H, 48 * H, 96 * H]);
        assert_eq!(durations[5], 7 * 86_400, "capped");
        // Outside the repeat window the count starts over.
        t += 31 * 86_400;
        p.add_report(&mut s, 1, 1.0, t);
        let e = p.add_report(&mut s, 2, 1.0, t);
        assert_eq!(
            e.transition,
            Some(Transition::Listed {
                nth: 1,
                min_until: t + 12 * H
            })
        );
    }

    #[test]
    fn old_reports_and_pruning() {
        let p = Policy::default();
        assert!(p.too_old(Some(0), 3 * 86_400));
        assert!(!p.too_old(Some(0), 86_400));
        assert!(!p.too_old(None, 86_400));
        let mut s = KeyState::default();
        p.add_report(&mut s, 1, 1.0, 0);
        p.prune(&mut s, 40 * 6 * H);
        assert!(s.contributions.is_empty());
    }
}
