//! Sorted key columns for the full-length entries of an [`LpmSet`].
//!
//! A plain sorted array is compact, but a binary search over a million
//! IPv4 keys (4 MB) touches about 20 cache lines that are mostly cold: on
//! the DNS fast path that search was the largest user-space cost per
//! query. Large IPv4 columns are therefore stored split by the key's top
//! 16 bits:
//! - `starts[h]..starts[h + 1]` is the run of keys whose top half is `h`
//!   (65,537 offsets, 256 KiB, read once per lookup);
//! - `low[i]` is key `i`'s bottom half (2 bytes instead of 4).
//!
//! A lookup reads one offset pair and binary-searches a run that averages
//! `n / 65536` entries (15 for a million keys: a cache line or two), and a
//! million keys cost 2.25 MB instead of 4 MB. Below [`SPLIT_MIN`] keys the
//! offsets would cost more than the halves save, so small columns (and
//! every IPv6 column) stay plain sorted arrays.
//!
//! [`LpmSet`]: super::lpm::LpmSet

use std::fmt::Debug;

/// Smallest IPv4 column stored split: from here on `2n + 256 KiB < 4n`.
pub const SPLIT_MIN: usize = 1 << 17;

/// Buckets of the split form: one per value of the top 16 bits.
const BUCKETS: usize = 1 << 16;

/// A sorted column of unique keys, addressed by position.
pub trait KeyColumn<K>: Clone + Debug + Default {
    /// Builds the column from keys sorted ascending and unique.
    fn from_sorted(keys: Vec<K>) -> Self {
        let n = keys.len();
        Self::from_sorted_iter(n, keys.into_iter())
    }
    /// Builds the column from the `n` keys of `keys`, sorted ascending and
    /// unique (the same column as [`from_sorted`](Self::from_sorted),
    /// without a vector of the keys first).
    fn from_sorted_iter(n: usize, keys: impl Iterator<Item = K>) -> Self;
    /// Number of keys.
    fn len(&self) -> usize;
    /// True when there are no keys.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Position of `k`, if present.
    fn find(&self, k: K) -> Option<usize>;
    /// Position of the first key not less than `k`.
    fn lower_bound(&self, k: K) -> usize;
    /// Calls `f(position, key)` for the keys from position `from` on, in
    /// order, until `f` returns `false`.
    fn walk_from(&self, from: usize, f: impl FnMut(usize, K) -> bool);
    /// Heap bytes used.
    fn heap_bytes(&self) -> usize;
}

/// A plain sorted array (IPv6 keys, small IPv4 columns).
#[derive(Clone, Debug)]
pub struct Plain<K>(Box<[K]>);

impl<K> Default for Plain<K> {
    fn default() -> Self {
        Plain(Box::new([]))
    }
}

impl<K: Copy + Ord + Debug> KeyColumn<K> for Plain<K> {
    fn from_sorted(keys: Vec<K>) -> Self {
        Plain(keys.into_boxed_slice())
    }

    fn from_sorted_iter(n: usize, keys: impl Iterator<Item = K>) -> Self {
        let mut v = Vec::with_capacity(n);
        v.extend(keys);
        Plain(v.into_boxed_slice())
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    #[inline]
    fn find(&self, k: K) -> Option<usize> {
        self.0.binary_search(&k).ok()
    }

    #[inline]
    fn lower_bound(&self, k: K) -> usize {
        self.0.partition_point(|&s| s < k)
    }

    fn walk_from(&self, from: usize, mut f: impl FnMut(usize, K) -> bool) {
        for (i, &k) in self.0.iter().enumerate().skip(from) {
            if !f(i, k) {
                return;
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.0)
    }
}

/// IPv4 keys: plain below [`SPLIT_MIN`], split by top half above.
#[derive(Clone, Debug)]
pub enum V4Keys {
    /// A sorted array.
    Plain(Plain<u32>),
    /// `starts` has `BUCKETS + 1` offsets into `low`; see the module docs.
    Split {
        /// Run boundaries per top half.
        starts: Box<[u32]>,
        /// Bottom halves, sorted within each run.
        low: Box<[u16]>,
    },
}

impl Default for V4Keys {
    fn default() -> Self {
        V4Keys::Plain(Plain::default())
    }
}

impl V4Keys {
    /// The run of keys with top half `h`, as positions.
    #[inline]
    fn run(starts: &[u32], h: usize) -> (usize, usize) {
        (starts[h] as usize, starts[h + 1] as usize)
    }
}

impl KeyColumn<u32> for V4Keys {
    fn from_sorted(keys: Vec<u32>) -> Self {
        if keys.len() < SPLIT_MIN {
            return V4Keys::Plain(Plain::from_sorted(keys));
        }
        let n = keys.len();
        Self::from_sorted_iter(n, keys.into_iter())
    }

    fn from_sorted_iter(n: usize, keys: impl Iterator<Item = u32>) -> Self {
        // Positions must fit the u32 offsets; a column that large (over
        // 4 billion keys) cannot exist in IPv4 anyway, keys being unique.
        if n < SPLIT_MIN {
            return V4Keys::Plain(Plain::from_sorted_iter(n, keys));
        }
        let mut starts = vec![0u32; BUCKETS + 1];
        let mut low = Vec::with_capacity(n);
        for k in keys {
            starts[(k >> 16) as usize + 1] += 1;
            low.push(k as u16);
        }
        for h in 0..BUCKETS {
            starts[h + 1] += starts[h];
        }
        V4Keys::Split {
            starts: starts.into_boxed_slice(),
            low: low.into_boxed_slice(),
        }
    }

    fn len(&self) -> usize {
        match self {
            V4Keys::Plain(p) => p.len(),
            V4Keys::Split { low, .. } => low.len(),
        }
    }

    #[inline]
    fn find(&self, k: u32) -> Option<usize> {
        match self {
            V4Keys::Plain(p) => p.find(k),
            V4Keys::Split { starts, low } => {
                let (a, b) = Self::run(starts, (k >> 16) as usize);
                low[a..b].binary_search(&(k as u16)).ok().map(|i| a + i)
            }
        }
    }

    #[inline]
    fn lower_bound(&self, k: u32) -> usize {
        match self {
            V4Keys::Plain(p) => p.lower_bound(k),
            V4Keys::Split { starts, low } => {
                let (a, b) = Self::run(starts, (k >> 16) as usize);
                a + low[a..b].partition_point(|&l| l < k as u16)
            }
        }
    }

    fn walk_from(&self, from: usize, mut f: impl FnMut(usize, u32) -> bool) {
        match self {
            V4Keys::Plain(p) => p.walk_from(from, f),
            V4Keys::Split { starts, low } => {
                if from >= low.len() {
                    return;
                }
                // The run holding position `from`: the last h with
                // starts[h] <= from (runs may be empty).
                let mut h = starts.partition_point(|&s| s as usize <= from) - 1;
                for (i, &l) in low.iter().enumerate().skip(from) {
                    while starts[h + 1] as usize <= i {
                        h += 1;
                    }
                    if !f(i, ((h as u32) << 16) | u32::from(l)) {
                        return;
                    }
                }
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            V4Keys::Plain(p) => p.heap_bytes(),
            V4Keys::Split { starts, low } => starts.len() * 4 + low.len() * 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of keys: clustered runs, empty buckets,
    /// both ends of the key space.
    fn keys(n: usize) -> Vec<u32> {
        let mut rng = crate::testrng::TestRng::new(0x6b65_7973);
        let mut v: Vec<u32> = (0..n)
            .map(|i| {
                let x = rng.next_u64();
                // Half spread over the space, half packed into a few /16s.
                if i % 2 == 0 {
                    x as u32
                } else {
                    0x0a00_0000 | (x as u32 & 0x0003_ffff)
                }
            })
            .collect();
        v.extend([0, 1, u32::MAX, u32::MAX - 1, 0xffff, 0x1_0000]);
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn split_answers_like_plain() {
        let sorted = keys(2 * SPLIT_MIN);
        let plain = Plain::from_sorted(sorted.clone());
        let split = V4Keys::from_sorted(sorted.clone());
        assert!(matches!(split, V4Keys::Split { .. }));
        assert_eq!(split.len(), sorted.len());
        assert!(split.heap_bytes() < plain.heap_bytes());
        let mut probes: Vec<u32> = sorted.iter().step_by(7).copied().collect();
        probes.extend(sorted.iter().step_by(11).map(|k| k.wrapping_add(1)));
        probes.extend(sorted.iter().step_by(13).map(|k| k.wrapping_sub(1)));
        probes.extend([0, 1, 2, 0xffff, 0x1_0000, 0x1_0001, u32::MAX, u32::MAX - 2]);
        for k in probes {
            assert_eq!(split.find(k), plain.find(k), "find {k:#x}");
            assert_eq!(split.lower_bound(k), plain.lower_bound(k), "lb {k:#x}");
        }
        for from in [0, 1, 1000, sorted.len() / 2, sorted.len() - 3, sorted.len()] {
            let mut a = Vec::new();
            let mut b = Vec::new();
            plain.walk_from(from, |i, k| {
                a.push((i, k));
                a.len() < 5000
            });
            split.walk_from(from, |i, k| {
                b.push((i, k));
                b.len() < 5000
            });
            assert_eq!(a, b, "walk from {from}");
        }
    }

    #[test]
    fn small_columns_stay_plain() {
        let k = V4Keys::from_sorted(keys(1000));
        assert!(matches!(k, V4Keys::Plain(_)));
        assert_eq!(V4Keys::default().lower_bound(5), 0);
        assert_eq!(V4Keys::default().find(5), None);
    }
}
