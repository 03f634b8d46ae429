//! Longest-prefix-match set over fixed-width integer keys.
//!
//! Two flat arrays instead of a trie:
//! - full-length entries (IPv4 /32, IPv6 /128 or /64 buckets) in a sorted
//!   key column searched by binary search — for large IPv4 sets split by
//!   the top 16 bits, 2 bytes per entry ([`super::keys`]);
//! - every shorter prefix flattened, at build time, into disjoint intervals:
//!   a sorted array of interval starts, each with the value of the most
//!   specific prefix that covers it (or "nothing").
//!
//! A full-length entry is more specific than any interval, so a lookup tries
//! the exact array first and the intervals second; the result is exactly
//! longest-prefix match, exclusions included, at the cost of two binary
//! searches and no pointer chasing.

use super::keys::{KeyColumn, Plain, V4Keys};
use super::values::{EXCLUDED, NONE, Values};
use crate::data::Exact4;

/// Unsigned key types the set works over.
pub trait LpmKey: Copy + Ord + std::fmt::Debug {
    /// Bit width.
    const BITS: u8;
    /// The last key inside `net/len`.
    fn last_in(self, len: u8) -> Self;
    /// `self + 1`, or `None` at the top of the key space.
    fn succ(self) -> Option<Self>;
    /// `self - 1`, or `None` at zero.
    fn pred(self) -> Option<Self>;
    /// Zero.
    const ZERO: Self;
    /// How a column of full-length keys is stored.
    type Column: KeyColumn<Self>;
}

macro_rules! lpm_key {
    ($t:ty, $bits:expr, $col:ty) => {
        impl LpmKey for $t {
            const BITS: u8 = $bits;
            const ZERO: Self = 0;
            type Column = $col;
            #[inline]
            fn last_in(self, len: u8) -> Self {
                if len >= $bits {
                    self
                } else {
                    self | (<$t>::MAX >> len)
                }
            }
            #[inline]
            fn succ(self) -> Option<Self> {
                self.checked_add(1)
            }
            #[inline]
            fn pred(self) -> Option<Self> {
                self.checked_sub(1)
            }
        }
    };
}
lpm_key!(u32, 32, V4Keys);
lpm_key!(u64, 64, Plain<u64>);
lpm_key!(u128, 128, Plain<u128>);

/// An immutable longest-prefix-match set; see the module docs.
#[derive(Clone, Debug)]
pub struct LpmSet<K: LpmKey> {
    exact: K::Column,
    exact_vals: Values,
    starts: Box<[K]>,
    iv_vals: Values,
}

impl<K: LpmKey> Default for LpmSet<K> {
    fn default() -> Self {
        LpmSet {
            exact: K::Column::default(),
            exact_vals: Values::Uniform(NONE),
            starts: Box::new([]),
            iv_vals: Values::Uniform(NONE),
        }
    }
}

impl<K: LpmKey> LpmSet<K> {
    /// Builds the set from entries `(net, len, value)` in any order.
    ///
    /// `value` is an answer id or [`EXCLUDED`]. Entries must be unique by
    /// `(net, len)` (the dataset builder merges duplicates first) and `net`
    /// must have its host bits cleared.
    pub fn build(entries: Vec<(K, u8, u32)>) -> Self {
        Self::build_inner(entries, false)
    }

    /// [`build`](Self::build) for a set that is the more specific half
    /// of a split set (IPv6 prefixes longer than /64, looked up before the
    /// /64-and-shorter half): an exclusion range is kept as a range that
    /// answers [`EXCLUDED`], since outside this set's own ranges it still
    /// has to stop the other half's covering range.
    pub fn build_keeping_exclusions(entries: Vec<(K, u8, u32)>) -> Self {
        Self::build_inner(entries, true)
    }

    fn build_inner(mut entries: Vec<(K, u8, u32)>, keep_excluded: bool) -> Self {
        // Outer prefixes before the prefixes they contain.
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let full = |e: &&(K, u8, u32)| e.1 >= K::BITS;
        let n = entries.iter().filter(full).count();
        let exact = K::Column::from_sorted_iter(n, entries.iter().filter(full).map(|e| e.0));
        let exact_vals = Values::collect(n, entries.iter().filter(full).map(|e| e.2));
        let (starts, iv_vals) =
            intervals(entries.into_iter().filter(|e| e.1 < K::BITS), keep_excluded);
        LpmSet {
            exact,
            exact_vals,
            starts,
            iv_vals,
        }
    }

    /// True when the set has no entries.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.starts.is_empty()
    }

    /// The value of the most specific entry covering `k`: an answer id,
    /// [`EXCLUDED`], or `None` when nothing covers it.
    #[inline]
    pub fn lookup(&self, k: K) -> Option<u32> {
        if let Some(i) = self.exact.find(k) {
            return Some(self.exact_vals.get(i));
        }
        let i = self.starts.partition_point(|&s| s <= k);
        if i == 0 {
            return None;
        }
        match self.iv_vals.get(i - 1) {
            NONE => None,
            v => Some(v),
        }
    }

    /// True when at least one key in `lo..=hi` is listed (used to tell an
    /// empty non-terminal from a name that does not exist).
    ///
    /// An interval counts as listed even if every key in it happens to be
    /// excluded by full-length exclusions; that corner costs a NODATA where
    /// NXDOMAIN would be exact, never a false listing.
    pub fn any_listed_in(&self, lo: K, hi: K) -> bool {
        if self.any_exact_in(lo, hi, |_, v| v != EXCLUDED) {
            return true;
        }
        let mut i = self.starts.partition_point(|&s| s <= lo).saturating_sub(1);
        // `i` is the interval containing `lo` (or the first one, which
        // starts after it); every interval visited overlaps `lo..=hi`.
        // Neighbouring intervals never share a value, so this loop stops
        // after at most two steps unless it finds nothing.
        while i < self.starts.len() && self.starts[i] <= hi {
            if !matches!(self.iv_vals.get(i), NONE | EXCLUDED) {
                return true;
            }
            i += 1;
        }
        false
    }

    /// The value of the full-length entry `k` itself, ignoring intervals.
    #[inline]
    pub fn get_exact(&self, k: K) -> Option<u32> {
        self.exact.find(k).map(|i| self.exact_vals.get(i))
    }

    /// True when `pred(key, value)` holds for a full-length entry with its
    /// key in `lo..=hi` (tried in key order, stopping at the first hit).
    pub fn any_exact_in(&self, lo: K, hi: K, mut pred: impl FnMut(K, u32) -> bool) -> bool {
        let mut found = false;
        self.exact.walk_from(self.exact.lower_bound(lo), |i, k| {
            found = k <= hi && pred(k, self.exact_vals.get(i));
            k < hi && !found
        });
        found
    }

    /// Calls `f(key, value)` for every full-length entry, in key order.
    pub fn for_each_exact(&self, mut f: impl FnMut(K, u32)) {
        self.exact.walk_from(0, |i, k| {
            f(k, self.exact_vals.get(i));
            true
        });
    }

    /// Calls `f(first, last, value)` for every listed interval, in order.
    pub fn for_each_interval(&self, mut f: impl FnMut(K, K, u32)) {
        for (i, &s) in self.starts.iter().enumerate() {
            let v = self.iv_vals.get(i);
            if v == NONE {
                continue;
            }
            // Starts are strictly increasing, so `next - 1` exists.
            let last = match self.starts.get(i + 1) {
                Some(&next) => next.pred().unwrap_or(next),
                None => s.last_in(0),
            };
            f(s, last, v);
        }
    }

    /// Full-length entries that are not exclusions (what counting the
    /// values [`for_each_exact`](Self::for_each_exact) gives, without
    /// walking the keys).
    pub fn listed_exact(&self) -> usize {
        let n = self.exact.len();
        match &self.exact_vals {
            Values::Uniform(v) => {
                if *v == EXCLUDED {
                    0
                } else {
                    n
                }
            }
            vals => (0..n).filter(|&i| vals.get(i) != EXCLUDED).count(),
        }
    }

    /// Number of full-length entries and of intervals.
    pub fn counts(&self) -> (usize, usize) {
        (self.exact.len(), self.starts.len())
    }

    /// Heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.exact.heap_bytes()
            + std::mem::size_of_val(&*self.starts)
            + self.exact_vals.heap_bytes()
            + self.iv_vals.heap_bytes()
    }
}

impl LpmSet<u32> {
    /// The set [`build`](Self::build) makes of the same entries, from the
    /// loader's columns: `exact` holds the /32s, ascending and unique;
    /// `shorter` the other prefixes, sorted by `(net, len)`, unique. The
    /// /32 column is read once and freed.
    pub(crate) fn from_columns(exact: Exact4, shorter: Vec<(u32, u8, u32)>) -> Self {
        let (keys, exact_vals) = match exact {
            Exact4::Uniform { keys, val } => {
                // What `collect` makes of `n` equal values.
                let vals = Values::Uniform(if keys.is_empty() { NONE } else { val });
                (V4Keys::from_sorted(keys), vals)
            }
            Exact4::Packed(v) => {
                let n = v.len();
                let keys = V4Keys::from_sorted_iter(n, v.iter().map(|&e| (e >> 32) as u32));
                (keys, Values::collect(n, v.iter().map(|&e| e as u32)))
            }
        };
        let (starts, iv_vals) = intervals(shorter.into_iter(), false);
        LpmSet {
            exact: keys,
            exact_vals,
            starts,
            iv_vals,
        }
    }
}

/// Flattens prefixes shorter than the key width, sorted by `(net, len)`,
/// into disjoint intervals: their starts, and for each the value of the
/// most specific prefix covering it ([`NONE`] for gaps and exclusions).
fn intervals<K: LpmKey>(
    entries: impl Iterator<Item = (K, u8, u32)>,
    keep_excluded: bool,
) -> (Box<[K]>, Values) {
    let mut starts: Vec<K> = Vec::new();
    let mut iv_vals: Vec<u32> = Vec::new();
    // Change points: "from this key on, the value is v". Equal positions
    // replace (an inner prefix starting where its parent starts), equal
    // neighbouring values merge.
    let mut emit = |at: K, v: u32| {
        // Outside intervals, an exclusion and "nothing" mean the same
        // (unless another set's ranges lie behind this one's).
        let v = if v == EXCLUDED && !keep_excluded {
            NONE
        } else {
            v
        };
        if starts.last() == Some(&at) {
            starts.pop();
            iv_vals.pop();
        }
        let prev = iv_vals.last().copied().unwrap_or(NONE);
        if prev != v {
            starts.push(at);
            iv_vals.push(v);
        }
    };
    // Open prefixes: (last key, value). Prefixes nest or are disjoint,
    // so the stack is the chain of ancestors of the current position.
    let mut stack: Vec<(K, u32)> = Vec::new();
    for (net, len, v) in entries {
        while let Some(&(end, _)) = stack.last() {
            if end >= net {
                break;
            }
            stack.pop();
            if let Some(after) = end.succ() {
                emit(after, stack.last().map_or(NONE, |t| t.1));
            }
        }
        emit(net, v);
        stack.push((net.last_in(len), v));
    }
    while let Some((end, _)) = stack.pop() {
        if let Some(after) = end.succ() {
            emit(after, stack.last().map_or(NONE, |t| t.1));
        }
    }
    let n = iv_vals.len();
    (
        starts.into_boxed_slice(),
        Values::collect(n, iv_vals.into_iter()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    #[test]
    fn exact_and_range_edges() {
        let set = LpmSet::build(vec![
            (v4("10.0.0.0"), 8, 1),
            (v4("10.1.0.0"), 16, EXCLUDED),
            (v4("10.1.2.0"), 24, 2),
            (v4("10.1.2.3"), 32, EXCLUDED),
            (v4("192.0.2.7"), 32, 3),
        ]);
        assert_eq!(set.lookup(v4("9.255.255.255")), None);
        assert_eq!(set.lookup(v4("10.0.0.0")), Some(1));
        assert_eq!(set.lookup(v4("10.0.255.255")), Some(1));
        assert_eq!(set.lookup(v4("10.1.0.0")), None, "excluded range");
        assert_eq!(set.lookup(v4("10.1.1.255")), None);
        assert_eq!(
            set.lookup(v4("10.1.2.0")),
            Some(2),
            "listed inside excluded"
        );
        assert_eq!(set.lookup(v4("10.1.2.3")), Some(EXCLUDED), "excluded /32");
        assert_eq!(set.lookup(v4("10.1.2.255")), Some(2));
        assert_eq!(set.lookup(v4("10.1.3.0")), None);
        assert_eq!(set.lookup(v4("10.2.0.0")), Some(1), "back to the parent");
        assert_eq!(set.lookup(v4("10.255.255.255")), Some(1));
        assert_eq!(set.lookup(v4("11.0.0.0")), None);
        assert_eq!(set.lookup(v4("192.0.2.7")), Some(3));
        assert_eq!(set.lookup(v4("192.0.2.8")), None);
    }

    #[test]
    fn listed_exact_counts_like_a_walk() {
        for entries in [
            vec![],
            vec![(1u32, 32u8, 3u32), (2, 32, 3), (3, 8, 1)],
            vec![(1, 32, EXCLUDED), (2, 32, EXCLUDED)],
            vec![(1, 32, 3), (2, 32, EXCLUDED), (5, 32, 4)],
        ] {
            let set = LpmSet::build(entries);
            let mut walked = 0;
            set.for_each_exact(|_, v| walked += usize::from(v != EXCLUDED));
            assert_eq!(set.listed_exact(), walked);
        }
    }

    #[test]
    fn whole_space_and_top_edge() {
        let set = LpmSet::build(vec![(0u32, 0, 5), (v4("255.255.255.0"), 24, EXCLUDED)]);
        assert_eq!(set.lookup(0), Some(5));
        assert_eq!(set.lookup(v4("255.255.254.255")), Some(5));
        assert_eq!(set.lookup(v4("255.255.255.0")), None);
        assert_eq!(set.lookup(u32::MAX), None);
        let top = LpmSet::build(vec![(v4("255.0.0.0"), 8, 1)]);
        assert_eq!(top.lookup(u32::MAX), Some(1));
        assert_eq!(top.lookup(v4("254.255.255.255")), None);
    }

    #[test]
    fn overlapping_siblings_and_same_start() {
        // 10.0.0.0/8 and 10.0.0.0/24 start at the same key.
        let set = LpmSet::build(vec![(v4("10.0.0.0"), 24, 2), (v4("10.0.0.0"), 8, 1)]);
        assert_eq!(set.lookup(v4("10.0.0.5")), Some(2));
        assert_eq!(set.lookup(v4("10.0.1.0")), Some(1));
        // Two children ending where the parent ends.
        let set = LpmSet::build(vec![
            (v4("10.0.0.0"), 8, 1),
            (v4("10.255.0.0"), 16, 2),
            (v4("10.255.255.0"), 24, 3),
            (v4("11.0.0.0"), 8, 4),
        ]);
        assert_eq!(set.lookup(v4("10.255.254.1")), Some(2));
        assert_eq!(set.lookup(v4("10.255.255.1")), Some(3));
        assert_eq!(set.lookup(v4("11.0.0.0")), Some(4));
        assert_eq!(set.lookup(v4("12.0.0.0")), None);
    }

    #[test]
    fn adjacent_equal_values_merge() {
        let set = LpmSet::build(vec![(v4("10.0.0.0"), 24, 1), (v4("10.0.1.0"), 24, 1)]);
        assert_eq!(set.counts(), (0, 2));
        let mut seen = Vec::new();
        set.for_each_interval(|a, b, v| seen.push((a, b, v)));
        assert_eq!(seen, vec![(v4("10.0.0.0"), v4("10.0.1.255"), 1)]);
    }

    #[test]
    fn range_queries_for_empty_non_terminals() {
        let set = LpmSet::build(vec![
            (v4("127.0.0.2"), 32, 1),
            (v4("127.0.0.3"), 32, EXCLUDED),
            (v4("10.20.0.0"), 16, 1),
            (v4("10.20.30.0"), 24, EXCLUDED),
        ]);
        assert!(set.any_listed_in(v4("127.0.0.0"), v4("127.0.0.255")));
        assert!(!set.any_listed_in(v4("127.0.0.3"), v4("127.0.0.3")));
        assert!(!set.any_listed_in(v4("127.0.1.0"), v4("127.0.1.255")));
        assert!(set.any_listed_in(v4("10.0.0.0"), v4("10.255.255.255")));
        assert!(set.any_listed_in(v4("10.20.5.0"), v4("10.20.5.255")));
        assert!(!set.any_listed_in(v4("10.20.30.0"), v4("10.20.30.255")));
        assert!(!set.any_listed_in(v4("10.21.0.0"), v4("10.21.255.255")));
        assert!(set.any_listed_in(0, u32::MAX));
        assert!(!LpmSet::<u32>::default().any_listed_in(0, u32::MAX));
    }

    /// A set large enough for the split IPv4 column answers exactly like
    /// the same entries widened to `u64` keys (plain column): lookups,
    /// range questions and iteration.
    #[test]
    fn split_column_matches_plain_column() {
        let mut rng = crate::testrng::TestRng::new(0x006c_706d);
        let mut next = move || rng.next_u64();
        let mut entries: Vec<(u32, u8, u32)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while entries.len() < 2 * super::super::keys::SPLIT_MIN {
            let r = next();
            // Keys crowd into a few /8s so that runs and gaps both occur.
            let k = ((r >> 40) as u32 % 6) << 26 | (r as u32 & 0x03ff_ffff);
            if seen.insert((k, 32)) {
                let v = if r % 17 == 0 {
                    EXCLUDED
                } else {
                    (r >> 20) as u32 % 5
                };
                entries.push((k, 32, v));
            }
        }
        for _ in 0..600 {
            let r = next();
            let len = 8 + (r % 24) as u8;
            let net = ((r >> 32) as u32 % (6 << 26)) & !(u32::MAX >> len);
            if seen.insert((net, len)) {
                let v = if r % 7 == 0 {
                    EXCLUDED
                } else {
                    (r >> 8) as u32 % 5
                };
                entries.push((net, len, v));
            }
        }
        let wide: Vec<(u64, u8, u32)> = entries
            .iter()
            .map(|&(k, l, v)| (u64::from(k), l + 32, v))
            .collect();
        let v4 = LpmSet::build(entries.clone());
        let v6 = LpmSet::build(wide);
        assert!(v4.heap_bytes() < v6.heap_bytes());
        for &(k, _, _) in entries.iter().step_by(3) {
            for p in [k, k.wrapping_add(1), k.wrapping_sub(1), k | 0xff] {
                assert_eq!(v4.lookup(p), v6.lookup(u64::from(p)), "lookup {p:#x}");
                assert_eq!(v4.get_exact(p), v6.get_exact(u64::from(p)));
                let (q, hi) = (u64::from(p), p.saturating_add(3));
                assert_eq!(v4.any_listed_in(p, p), v6.any_listed_in(q, q));
                assert_eq!(v4.any_listed_in(p, hi), v6.any_listed_in(q, u64::from(hi)));
            }
        }
        for _ in 0..20_000 {
            let r = next();
            let lo = (r >> 32) as u32 % (7 << 26);
            let hi = lo.saturating_add((r as u32) >> (8 + r % 24));
            assert_eq!(
                v4.any_listed_in(lo, hi),
                v6.any_listed_in(u64::from(lo), u64::from(hi)),
                "any_listed_in {lo:#x}..={hi:#x}"
            );
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        v4.for_each_exact(|k, v| a.push((u64::from(k), v)));
        v6.for_each_exact(|k, v| b.push((k, v)));
        assert_eq!(a, b);
    }

    #[test]
    fn u128_keys() {
        let net: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0000;
        let set = LpmSet::build(vec![(net, 32, 1), (net | 1, 128, 2)]);
        assert_eq!(set.lookup(net | 1), Some(2));
        assert_eq!(set.lookup(net | 2), Some(1));
        assert_eq!(set.lookup(net.last_in(32) + 1), None);
    }
}
