//! Domain set: exact names and wildcards, rbldnsd `dnset` semantics.
//!
//! Names are stored in one byte arena, each as its labels in *reverse*
//! order with a length byte before every label (`example.com` is stored as
//! `\x03com\x07example`). Two properties make that form pay:
//! - every ancestor's key is a prefix of its descendant's key, so one key
//!   built per query serves the exact lookup and every wildcard lookup;
//! - all descendants of a name sort together right after it, so "does any
//!   listed name lie below this one?" (empty non-terminal) is one binary
//!   search.
//!
//! Cost: the name's bytes plus a 4-byte offset plus the value column,
//! about 20 bytes per typical domain, with no per-entry allocation.

use super::values::{EXCLUDED, Values};
use crate::data::NameRef;

/// Longest key: a name of at most 255 wire bytes has a key of the same length.
pub const MAX_KEY: usize = 255;

/// Builds the reversed, length-prefixed, lower-cased key of `labels`
/// (given leftmost first) into `buf`; returns the key length and fills
/// `ends[k]` with the key length of the ancestor made of the last `k`
/// labels. `None` when the name is too long or has an empty label.
pub fn reversed_key(
    labels: &[&[u8]],
    buf: &mut [u8; MAX_KEY],
    ends: &mut [usize; 128],
) -> Option<usize> {
    if labels.len() >= ends.len() {
        return None;
    }
    let mut pos = 0;
    ends[0] = 0;
    for (k, label) in labels.iter().rev().enumerate() {
        let len = label.len();
        if len == 0 || len > 63 || pos + 1 + len > MAX_KEY {
            return None;
        }
        buf[pos] = len as u8;
        for (dst, src) in buf[pos + 1..pos + 1 + len].iter_mut().zip(label.iter()) {
            *dst = src.to_ascii_lowercase();
        }
        pos += 1 + len;
        ends[k + 1] = pos;
    }
    Some(pos)
}

/// Key of a dotted name (`example.com`), lower-cased.
pub fn key_of_name(name: &str) -> Option<Vec<u8>> {
    let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
    let mut buf = [0u8; MAX_KEY];
    let mut ends = [0usize; 128];
    let n = reversed_key(&labels, &mut buf, &mut ends)?;
    Some(buf[..n].to_vec())
}

/// Turns a key back into a dotted name.
pub fn name_of_key(key: &[u8]) -> String {
    let mut labels = Vec::new();
    let mut i = 0;
    while i < key.len() {
        let len = usize::from(key[i]);
        let end = (i + 1 + len).min(key.len());
        labels.push(String::from_utf8_lossy(&key[i + 1..end]).into_owned());
        i = end;
    }
    labels.reverse();
    labels.join(".")
}

/// A sorted table of keys with a value each.
#[derive(Clone, Debug)]
pub struct NameTable {
    arena: Box<[u8]>,
    /// `offsets[i]..offsets[i + 1]` is key `i`; one more offset than keys.
    offsets: Box<[u32]>,
    vals: Values,
}

impl Default for NameTable {
    fn default() -> Self {
        NameTable {
            arena: Box::new([]),
            offsets: Box::new([0]),
            vals: Values::Uniform(EXCLUDED),
        }
    }
}

impl NameTable {
    /// Builds from unique keys with values.
    pub fn build(mut entries: Vec<(Vec<u8>, u32)>) -> Self {
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Self::from_sorted(
            entries.len(),
            entries.iter().map(|e| e.0.len()).sum(),
            entries.iter().map(|e| &e.0[..]),
            entries.iter().map(|e| e.1),
        )
    }

    /// The table [`build`](Self::build) makes of the same keys, from the
    /// loader's columns: `refs` point into `arena` and are sorted by key,
    /// unique.
    pub(crate) fn from_refs(arena: &[u8], refs: &[NameRef]) -> Self {
        let key = |r: &NameRef| &arena[r.off as usize..r.off as usize + usize::from(r.len)];
        Self::from_sorted(
            refs.len(),
            refs.iter().map(|r| usize::from(r.len)).sum(),
            refs.iter().map(key),
            refs.iter().map(|r| r.val),
        )
    }

    /// The table of `n` keys sorted ascending (`total` bytes together) and
    /// their values.
    fn from_sorted<'a>(
        n: usize,
        total: usize,
        keys: impl Iterator<Item = &'a [u8]>,
        vals: impl Iterator<Item = u32>,
    ) -> Self {
        let mut arena = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        for k in keys {
            arena.extend_from_slice(k);
            // The arena of a snapshot stays far below 4 GiB (a name is at
            // most 255 bytes); saturate rather than wrap if it ever did not.
            offsets.push(u32::try_from(arena.len()).unwrap_or(u32::MAX));
        }
        NameTable {
            arena: arena.into_boxed_slice(),
            offsets: offsets.into_boxed_slice(),
            vals: Values::collect(n, vals),
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Key `i`.
    pub fn key(&self, i: usize) -> &[u8] {
        &self.arena[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Value of key `i`.
    pub fn value(&self, i: usize) -> u32 {
        self.vals.get(i)
    }

    /// Index of the first key not less than `key`.
    fn lower_bound(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.key(mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The value stored for exactly `key`.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<u32> {
        let i = self.lower_bound(key);
        (i < self.len() && self.key(i) == key).then(|| self.vals.get(i))
    }

    /// True when a non-excluded key starts with `prefix` and is longer than
    /// it (`strict`) or at least as long (`!strict`).
    pub fn any_listed_below(&self, prefix: &[u8], strict: bool) -> bool {
        let mut i = self.lower_bound(prefix);
        while i < self.len() {
            let k = self.key(i);
            if !k.starts_with(prefix) {
                return false;
            }
            if (!strict || k.len() > prefix.len()) && self.vals.get(i) != EXCLUDED {
                return true;
            }
            i += 1;
        }
        false
    }

    /// The keys that start with `prefix` (including `prefix` itself), in
    /// order, with their values.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], u32)> + 'a {
        (self.lower_bound(prefix)..self.len())
            .map(|i| (self.key(i), self.vals.get(i)))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// Heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.arena.len() + self.offsets.len() * 4 + self.vals.heap_bytes()
    }
}

/// Exact names and wildcard parents.
#[derive(Clone, Debug, Default)]
pub struct DomainSet {
    /// Names listed (or excluded) themselves.
    pub exact: NameTable,
    /// Names whose subdomains are listed (or excluded).
    pub wild: NameTable,
}

impl DomainSet {
    /// True when the set has no entries.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.wild.is_empty()
    }

    /// The value of the most specific entry matching the name whose key is
    /// `key` (with ancestor key lengths `ends[..=labels]`): the exact entry
    /// first, then the wildcard of the closest ancestor. Also returns how
    /// many (rightmost) labels the matching entry has: rbldnsd's `$` in a
    /// dnset TXT stands for the matched entry's name.
    #[inline]
    pub fn lookup(&self, key: &[u8], ends: &[usize], labels: usize) -> Option<(u32, usize)> {
        if let Some(v) = self.exact.get(key) {
            return Some((v, labels));
        }
        if self.wild.is_empty() {
            return None;
        }
        (1..labels)
            .rev()
            .find_map(|k| self.wild.get(&key[..ends[k]]).map(|v| (v, k)))
    }

    /// True when some listed name lies strictly below the name `key`.
    pub fn has_listed_descendant(&self, key: &[u8]) -> bool {
        self.exact.any_listed_below(key, true) || self.wild.any_listed_below(key, false)
    }

    /// Heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.exact.heap_bytes() + self.wild.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(labels: &[&str]) -> (Vec<u8>, Vec<usize>) {
        let l: Vec<&[u8]> = labels.iter().map(|s| s.as_bytes()).collect();
        let mut buf = [0u8; MAX_KEY];
        let mut ends = [0usize; 128];
        let n = reversed_key(&l, &mut buf, &mut ends).unwrap();
        (buf[..n].to_vec(), ends[..=labels.len()].to_vec())
    }

    fn set() -> DomainSet {
        let k = |s: &str| key_of_name(s).unwrap();
        DomainSet {
            exact: NameTable::build(vec![
                (k("example.com"), 1),
                (k("a.b.example.org"), 2),
                (k("both.net"), 3),
                (k("no.wild.com"), EXCLUDED),
            ]),
            wild: NameTable::build(vec![(k("wild.com"), 4), (k("both.net"), 3)]),
        }
    }

    fn look(s: &DomainSet, name: &str) -> Option<u32> {
        let labels: Vec<&str> = name.split('.').collect();
        let (k, ends) = key(&labels);
        s.lookup(&k, &ends, labels.len()).map(|(v, _)| v)
    }

    #[test]
    fn key_form_and_round_trip() {
        let (k, ends) = key(&["WWW", "Example", "com"]);
        assert_eq!(k, b"\x03com\x07example\x03www");
        assert_eq!(ends, vec![0, 4, 12, 16]);
        assert_eq!(name_of_key(&k), "www.example.com");
        assert!(key_of_name("a..b").is_none());
        assert!(key_of_name(&"a".repeat(64)).is_none());
    }

    #[test]
    fn exact_wildcard_both_and_exclusion() {
        let s = set();
        assert_eq!(look(&s, "example.com"), Some(1));
        assert_eq!(look(&s, "EXAMPLE.com"), Some(1));
        assert_eq!(look(&s, "www.example.com"), None);
        assert_eq!(look(&s, "wild.com"), None, "*.wild.com excludes the name");
        assert_eq!(look(&s, "x.wild.com"), Some(4));
        assert_eq!(look(&s, "y.x.wild.com"), Some(4));
        assert_eq!(look(&s, "no.wild.com"), Some(EXCLUDED));
        assert_eq!(look(&s, "deeper.no.wild.com"), Some(4));
        assert_eq!(look(&s, "both.net"), Some(3));
        assert_eq!(look(&s, "x.both.net"), Some(3));
        assert_eq!(look(&s, "com"), None);
        let (k, ends) = key(&["y", "x", "wild", "com"]);
        assert_eq!(
            s.lookup(&k, &ends, 4),
            Some((4, 2)),
            "matched entry wild.com has 2 labels"
        );
    }

    #[test]
    fn empty_non_terminals() {
        let s = set();
        let has = |n: &str| s.has_listed_descendant(&key_of_name(n).unwrap());
        assert!(has("b.example.org"));
        assert!(has("example.org"));
        assert!(has("org"));
        assert!(
            !has("a.b.example.org"),
            "the listed name itself is not below itself"
        );
        assert!(has("wild.com"), "a wildcard lists names below it");
        assert!(!has("other.com"));
        // `co` is not an ancestor of `com` even though it is a byte prefix.
        assert!(!has("co"));
    }

    /// A large table with long shared prefixes, short keys and near
    /// misses answers like a linear scan of the sorted keys.
    #[test]
    fn search_matches_linear_scan() {
        let mut rng = crate::testrng::TestRng::new(0x0064_6e73_6574);
        let mut next = move || rng.next_u64();
        let tlds = ["com", "net", "io", "x"];
        let mut names = std::collections::BTreeSet::new();
        while names.len() < 5000 {
            let r = next();
            let tld = tlds[(r % 4) as usize];
            let label: String = (0..1 + (r >> 8) % 9)
                .map(|i| char::from(b'a' + ((r >> (12 + 2 * i)) % 3) as u8))
                .collect();
            let name = if r % 5 == 0 {
                format!("s{}.{label}.{tld}", (r >> 40) % 4)
            } else {
                format!("{label}.{tld}")
            };
            names.insert(key_of_name(&name).unwrap());
        }
        let sorted: Vec<Vec<u8>> = names.into_iter().collect();
        let value = |i: usize| {
            if i.is_multiple_of(9) {
                EXCLUDED
            } else {
                i as u32 % 4
            }
        };
        let table = NameTable::build(
            sorted
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), value(i)))
                .collect(),
        );
        let mut probes: Vec<Vec<u8>> = sorted.clone();
        for k in sorted.iter().step_by(3) {
            probes.push(k[..k.len() - 1].to_vec());
            let mut longer = k.clone();
            longer.extend_from_slice(b"\x01a");
            probes.push(longer);
            let mut bumped = k.clone();
            *bumped.last_mut().unwrap() += 1;
            probes.push(bumped);
        }
        probes.extend([vec![], vec![0], vec![0xff; 12], b"\x03com".to_vec()]);
        for p in &probes {
            let lb = sorted.partition_point(|k| k < p);
            assert_eq!(table.lower_bound(p), lb, "lower bound of {p:?}");
            let want = (lb < sorted.len() && &sorted[lb] == p).then(|| value(lb));
            assert_eq!(table.get(p), want);
            let below = sorted[lb..]
                .iter()
                .enumerate()
                .take_while(|(_, k)| k.starts_with(p))
                .any(|(j, k)| k.len() > p.len() && value(lb + j) != EXCLUDED);
            assert_eq!(table.any_listed_below(p, true), below, "below {p:?}");
        }
    }
}
