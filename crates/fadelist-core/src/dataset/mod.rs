//! Query-ready datasets: the frozen form of one or more [`DatasetData`].
//!
//! A dataset holds up to three lookup structures (IPv4, IPv6, domains) and
//! its own table of distinct answers; entries carry only an index into that
//! table. Building sorts, merges duplicates and freezes; after that a
//! dataset is immutable and shared (`Arc`) between snapshots, so a reload of
//! one file rebuilds one dataset and nothing else.

pub mod acl;
pub mod dnset;
pub mod keys;
pub mod layer;
pub mod lpm;
pub mod values;

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::data::{AnswerSpec, Columns, DatasetData, DomainMatch, EntryValue, Exact4, NameRef};
use dnset::{DomainSet, NameTable};
use lpm::LpmSet;
pub use values::{EXCLUDED, NONE};

/// The records one listed entry answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// A values (at least one), in 127.0.0.0/8.
    pub a: Box<[Ipv4Addr]>,
    /// TXT templates; `$` stands for the queried IP or domain.
    pub txt: Box<[Box<str>]>,
}

impl From<&AnswerSpec> for Answer {
    fn from(s: &AnswerSpec) -> Self {
        Answer {
            a: s.a.clone().into_boxed_slice(),
            txt: s.txt.iter().map(|t| t.as_str().into()).collect(),
        }
    }
}

/// IPv6 entries of any prefix length.
///
/// Most IPv6 listings are /64s (one customer network) or /128s, so the set
/// is split at /64: prefixes of /65–/128 live in a `u128` set, /0–/64 in a
/// `u64` set over the upper half of the address (8 bytes per /64 entry).
/// Lookups try the long prefixes first, which keeps longest-prefix order.
#[derive(Clone, Debug, Default)]
pub struct Ip6Set {
    long: LpmSet<u128>,
    short: LpmSet<u64>,
}

impl Ip6Set {
    fn build(entries: Vec<(u128, u8, u32)>) -> Self {
        let mut long = Vec::new();
        let mut short = Vec::new();
        for (net, len, v) in entries {
            if len > 64 {
                long.push((net, len, v));
            } else {
                short.push(((net >> 64) as u64, len, v));
            }
        }
        Ip6Set {
            // A /65–/127 exclusion inside a /64-or-shorter range must
            // answer "excluded", not "nothing here" (which would fall
            // through to the range in `short`).
            long: LpmSet::build_keeping_exclusions(long),
            short: LpmSet::build(short),
        }
    }

    /// True when the set has no entries.
    pub fn is_empty(&self) -> bool {
        self.long.is_empty() && self.short.is_empty()
    }

    /// Most specific match for `ip`: answer id, [`EXCLUDED`], or `None`.
    #[inline]
    pub fn lookup(&self, ip: u128) -> Option<u32> {
        self.long
            .lookup(ip)
            .or_else(|| self.short.lookup((ip >> 64) as u64))
    }

    /// True when some address in `lo..=hi` is listed.
    pub fn any_listed_in(&self, lo: u128, hi: u128) -> bool {
        self.long.any_listed_in(lo, hi)
            || self
                .short
                .any_listed_in((lo >> 64) as u64, (hi >> 64) as u64)
    }

    /// Calls `f(first, last, value)` for every entry or interval.
    pub fn for_each(&self, mut f: impl FnMut(u128, u128, u32)) {
        self.long.for_each_exact(|k, v| f(k, k, v));
        self.long.for_each_interval(&mut f);
        self.short.for_each_exact(|k, v| {
            f(
                u128::from(k) << 64,
                (u128::from(k) << 64) | u128::from(u64::MAX),
                v,
            )
        });
        self.short.for_each_interval(|a, b, v| {
            f(
                u128::from(a) << 64,
                (u128::from(b) << 64) | u128::from(u64::MAX),
                v,
            )
        });
    }

    /// Heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.long.heap_bytes() + self.short.heap_bytes()
    }

    /// Number of entries and intervals.
    pub fn entry_count(&self) -> usize {
        let (a, b) = self.long.counts();
        let (c, d) = self.short.counts();
        a + b + c + d
    }
}

/// Sorts domain entries into the keys of the exact and the subdomain
/// tables (a `.name` entry goes to both), with `val` of their values.
fn split_domains(
    domains: &[crate::data::DomainEntry],
    val: impl Fn(EntryValue) -> u32,
    exact: &mut Vec<(Vec<u8>, u32)>,
    wild: &mut Vec<(Vec<u8>, u32)>,
) {
    for d in domains {
        let Some(key) = dnset::key_of_name(&d.name) else {
            continue;
        };
        let v = val(d.value);
        match d.matching {
            DomainMatch::Exact => exact.push((key, v)),
            DomainMatch::Subdomains => wild.push((key, v)),
            DomainMatch::Both => {
                exact.push((key.clone(), v));
                wild.push((key, v));
            }
        }
    }
}

/// A frozen dataset.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// IPv4 entries.
    pub v4: LpmSet<u32>,
    /// IPv6 entries.
    pub v6: Ip6Set,
    /// Domain entries.
    pub domains: DomainSet,
    /// Distinct answers; entries hold indices into it.
    pub answers: Box<[Answer]>,
    /// TTL of this dataset's answers.
    pub ttl: u32,
    /// Per-answer TTLs overriding `ttl` (indexed like `answers`); empty
    /// for every dataset but a followed zone's, whose records may carry
    /// several TTLs.
    pub answer_ttls: Box<[u32]>,
}

/// Interns answers across the parts of a dataset and merges duplicates.
struct Interner {
    ids: HashMap<AnswerSpec, u32>,
    specs: Vec<AnswerSpec>,
}

impl Interner {
    fn intern(&mut self, spec: &AnswerSpec) -> u32 {
        if let Some(&id) = self.ids.get(spec) {
            return id;
        }
        let id = self.specs.len() as u32;
        self.ids.insert(spec.clone(), id);
        self.specs.push(spec.clone());
        id
    }

    /// The value of two entries for the same key: an exclusion wins (the
    /// operator said "never this one"); two listings answer with both
    /// answers' records, as rbldnsd does for duplicate entries.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == EXCLUDED || b == EXCLUDED {
            return EXCLUDED;
        }
        if a == b {
            return a;
        }
        let mut spec = self.specs[a as usize].clone();
        for x in &self.specs[b as usize].a {
            if !spec.a.contains(x) {
                spec.a.push(*x);
            }
        }
        for t in &self.specs[b as usize].txt {
            if !spec.txt.contains(t) {
                spec.txt.push(t.clone());
            }
        }
        self.intern(&spec)
    }

    /// Sorts `(key, value)` pairs and merges the values of equal keys.
    fn dedup<K: Ord + Clone>(&mut self, mut v: Vec<(K, u32)>) -> Vec<(K, u32)> {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(K, u32)> = Vec::with_capacity(v.len());
        for (k, val) in v {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = self.merge(last.1, val),
                _ => out.push((k, val)),
            }
        }
        out
    }
}

impl Dataset {
    /// Freezes `parts` (for example the files of one rbldnsd dataset) into
    /// one dataset whose answers have TTL `ttl` unless a part sets `$TTL`.
    pub fn build(parts: &[&DatasetData], ttl: u32) -> Dataset {
        let mut int = Interner {
            ids: HashMap::new(),
            specs: Vec::new(),
        };
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut exact = Vec::new();
        let mut wild = Vec::new();
        let mut ttl = ttl;
        for part in parts {
            if let Some(t) = part.ttl {
                ttl = t;
            }
            let remap: Vec<u32> = part.answers.iter().map(|s| int.intern(s)).collect();
            let val = |v: EntryValue| match v {
                EntryValue::Excluded => EXCLUDED,
                // An index past the table is a producer bug; treat the
                // entry as unlisted rather than panic on the query path.
                EntryValue::Listed(i) => remap.get(i as usize).copied().unwrap_or(EXCLUDED),
            };
            v4.extend(part.ip4.iter().map(|e| ((e.net, e.len), val(e.value))));
            v6.extend(part.ip6.iter().map(|e| ((e.net, e.len), val(e.value))));
            split_domains(&part.domains, val, &mut exact, &mut wild);
        }
        let v4 = int.dedup(v4);
        let v6 = int.dedup(v6);
        let exact = int.dedup(exact);
        let wild = int.dedup(wild);
        Dataset {
            v4: LpmSet::build(v4.into_iter().map(|((n, l), v)| (n, l, v)).collect()),
            v6: Ip6Set::build(v6.into_iter().map(|((n, l), v)| (n, l, v)).collect()),
            domains: DomainSet {
                exact: NameTable::build(exact),
                wild: NameTable::build(wild),
            },
            answers: int.specs.iter().map(Answer::from).collect(),
            ttl,
            answer_ttls: Box::default(),
        }
    }

    /// Freezes the loader's columns of one dataset (its files, in order:
    /// see [`crate::rbldnsd::Loader`]) into exactly the dataset
    /// [`build`](Self::build) makes of the same files read with
    /// [`crate::rbldnsd::parse`] — same structures, same answer ids — but
    /// from entries that are already sorted and merged, and consumed as
    /// they are frozen: a million-entry file is never held twice.
    pub fn from_columns(mut parts: Vec<Columns>, ttl: u32) -> Dataset {
        let mut int = Interner {
            ids: HashMap::new(),
            specs: Vec::new(),
        };
        let mut ttl = ttl;
        for part in &mut parts {
            if let Some(t) = part.ttl {
                ttl = t;
            }
            let remap: Vec<u32> = part.answers.iter().map(|s| int.intern(s)).collect();
            part.answers = Vec::new();
            if remap.iter().enumerate().any(|(i, &r)| r as usize != i) {
                let re = |v: u32| match v {
                    EXCLUDED => EXCLUDED,
                    v => remap.get(v as usize).copied().unwrap_or(EXCLUDED),
                };
                part.v4_exact.map_values(re);
                part.v4.iter_mut().for_each(|e| e.2 = re(e.2));
                part.v6.iter_mut().for_each(|e| e.2 = re(e.2));
                part.exact.iter_mut().for_each(|e| e.val = re(e.val));
                part.wild.iter_mut().for_each(|e| e.val = re(e.val));
            }
        }
        let (v4_exact, v4, v6, names, exact, wild) = if parts.len() <= 1 {
            let p = parts.pop().unwrap_or_default();
            (p.v4_exact, p.v4, p.v6, p.names, p.exact, p.wild)
        } else {
            merge_columns(parts, &mut int)
        };
        let v4 = LpmSet::from_columns(v4_exact, v4);
        let v6 = Ip6Set::build(v6);
        let domains = DomainSet {
            exact: NameTable::from_refs(&names, &exact),
            wild: NameTable::from_refs(&names, &wild),
        };
        Dataset {
            v4,
            v6,
            domains,
            answers: int.specs.iter().map(Answer::from).collect(),
            ttl,
            answer_ttls: Box::default(),
        }
    }

    /// Freezes `data` as it is: answers neither merged nor renumbered
    /// (equal answers with different TTLs stay apart), `ttls[i]` the TTL
    /// of answer `i`. Entries must be unique by key, as a followed zone's
    /// (`crate::zone_import`) are.
    pub fn build_exact(data: &DatasetData, ttls: Vec<u32>, ttl: u32) -> Dataset {
        let val = |v: EntryValue| match v {
            EntryValue::Excluded => EXCLUDED,
            EntryValue::Listed(i) => i,
        };
        let mut exact = Vec::new();
        let mut wild = Vec::new();
        split_domains(&data.domains, val, &mut exact, &mut wild);
        let sorted = |mut v: Vec<(Vec<u8>, u32)>| {
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v.dedup_by(|a, b| a.0 == b.0);
            v
        };
        Dataset {
            v4: LpmSet::build(
                data.ip4
                    .iter()
                    .map(|e| (e.net, e.len, val(e.value)))
                    .collect(),
            ),
            v6: Ip6Set::build(
                data.ip6
                    .iter()
                    .map(|e| (e.net, e.len, val(e.value)))
                    .collect(),
            ),
            domains: DomainSet {
                exact: NameTable::build(sorted(exact)),
                wild: NameTable::build(sorted(wild)),
            },
            answers: data.answers.iter().map(Answer::from).collect(),
            ttl,
            answer_ttls: ttls.into_boxed_slice(),
        }
    }

    /// The TTL of answer `id`.
    #[inline]
    pub fn ttl_of(&self, id: u32) -> u32 {
        self.answer_ttls
            .get(id as usize)
            .copied()
            .unwrap_or(self.ttl)
    }

    /// The answer with id `id` (ids come from this dataset's lookups).
    #[inline]
    pub fn answer(&self, id: u32) -> Option<&Answer> {
        self.answers.get(id as usize)
    }

    /// Listed entries, exclusions left out: full-length addresses,
    /// address ranges (as flattened: a range with a hole counts as the
    /// pieces around it) and domains. What the status and the metrics
    /// show; the lookups never need it.
    pub fn listed_entries(&self) -> usize {
        let mut n = 0usize;
        let listed = |v: u32| usize::from(v != EXCLUDED);
        n += self.v4.listed_exact();
        self.v4.for_each_interval(|_, _, v| n += listed(v));
        self.v6.for_each(|_, _, v| n += listed(v));
        n + self.domains.exact.len() + self.domains.wild.len()
    }

    /// Heap bytes used by the lookup structures (answers not counted).
    pub fn heap_bytes(&self) -> usize {
        self.v4.heap_bytes() + self.v6.heap_bytes() + self.domains.heap_bytes()
    }

    /// Converts the dataset back into build form: listed intervals become
    /// CIDR entries, exclusions are kept where they are full-length entries
    /// (inside intervals they are already gaps).
    pub fn to_data(&self) -> DatasetData {
        use crate::data::{DomainEntry, Ip4Entry, Ip6Entry};
        let value = |v: u32| {
            if v == EXCLUDED {
                EntryValue::Excluded
            } else {
                EntryValue::Listed(v)
            }
        };
        let mut d = DatasetData {
            answers: self
                .answers
                .iter()
                .map(|a| AnswerSpec {
                    a: a.a.to_vec(),
                    txt: a.txt.iter().map(|t| t.to_string()).collect(),
                })
                .collect(),
            ttl: Some(self.ttl),
            ..DatasetData::default()
        };
        self.v4.for_each_interval(|a, b, v| {
            for (net, len) in crate::cidr::range_to_cidrs_u32(a, b) {
                d.ip4.push(Ip4Entry {
                    net,
                    len,
                    value: value(v),
                });
            }
        });
        self.v4.for_each_exact(|k, v| {
            d.ip4.push(Ip4Entry {
                net: k,
                len: 32,
                value: value(v),
            })
        });
        self.v6.for_each(|a, b, v| {
            for (net, len) in crate::cidr::range_to_cidrs_u128(a, b) {
                d.ip6.push(Ip6Entry {
                    net,
                    len,
                    value: value(v),
                });
            }
        });
        for (table, matching) in [
            (&self.domains.exact, DomainMatch::Exact),
            (&self.domains.wild, DomainMatch::Subdomains),
        ] {
            for i in 0..table.len() {
                d.domains.push(DomainEntry {
                    name: dnset::name_of_key(table.key(i)),
                    matching,
                    value: value(table.value(i)),
                });
            }
        }
        d
    }
}

/// The columns of several parts, merged: what [`Interner::dedup`] makes
/// of their entries concatenated (a key in several parts takes the merge
/// of their values in part order), in the same order of merges, so that
/// merged answers get the same ids.
type Merged = (
    Exact4,
    Vec<(u32, u8, u32)>,
    Vec<(u128, u8, u32)>,
    Vec<u8>,
    Vec<NameRef>,
    Vec<NameRef>,
);

fn merge_columns(parts: Vec<Columns>, int: &mut Interner) -> Merged {
    // IPv4: two sorted lists per part, the shorter prefixes (even list
    // numbers) and the /32s (odd); a part never has one prefix in both.
    let n4 = parts.iter().map(|p| p.v4_exact.len()).sum();
    let mut v4_exact = Vec::with_capacity(n4);
    let mut v4 = Vec::new();
    kway(
        2 * parts.len(),
        |k| {
            let p = &parts[k / 2];
            if k % 2 == 0 {
                p.v4.len()
            } else {
                p.v4_exact.len()
            }
        },
        |k, i| {
            let p = &parts[k / 2];
            if k % 2 == 0 {
                let (net, len, v) = p.v4[i];
                ((net, len), v)
            } else {
                let (net, v) = p.v4_exact.get(i);
                ((net, 32), v)
            }
        },
        int,
        |(net, len), v| {
            if len == 32 {
                v4_exact.push((u64::from(net) << 32) | u64::from(v));
            } else {
                v4.push((net, len, v));
            }
        },
    );
    let mut v6 = Vec::new();
    kway(
        parts.len(),
        |k| parts[k].v6.len(),
        |k, i| {
            let (net, len, v) = parts[k].v6[i];
            ((net, len), v)
        },
        int,
        |(net, len), v| v6.push((net, len, v)),
    );
    let mut names = Vec::new();
    let mut lists = [Vec::new(), Vec::new()];
    for (which, out) in lists.iter_mut().enumerate() {
        fn refs(p: &Columns, which: usize) -> &[NameRef] {
            if which == 0 { &p.exact } else { &p.wild }
        }
        kway(
            parts.len(),
            |k| refs(&parts[k], which).len(),
            |k, i| {
                let p = &parts[k];
                let r = refs(p, which)[i];
                (
                    &p.names[r.off as usize..r.off as usize + usize::from(r.len)],
                    r.val,
                )
            },
            int,
            |key: &[u8], val| {
                out.push(NameRef {
                    off: u32::try_from(names.len()).unwrap_or(u32::MAX),
                    len: key.len() as u8,
                    val,
                });
                names.extend_from_slice(key);
            },
        );
    }
    let [exact, wild] = lists;
    (Exact4::Packed(v4_exact), v4, v6, names, exact, wild)
}

/// Merges `lists` sorted lists of unique keys (`len(k)` items in list
/// `k`, item `i` being `item(k, i)`), folding the values of a key found in
/// several lists in list order with [`Interner::merge`].
fn kway<K: Ord>(
    lists: usize,
    len: impl Fn(usize) -> usize,
    item: impl Fn(usize, usize) -> (K, u32),
    int: &mut Interner,
    mut emit: impl FnMut(K, u32),
) {
    let mut pos = vec![0usize; lists];
    loop {
        // The first list holding the smallest key.
        let mut best: Option<(usize, K)> = None;
        for (k, &p) in pos.iter().enumerate() {
            if p < len(k) {
                let (key, _) = item(k, p);
                if best.as_ref().is_none_or(|(_, b)| key < *b) {
                    best = Some((k, key));
                }
            }
        }
        let Some((b, key)) = best else {
            return;
        };
        let mut val = item(b, pos[b]).1;
        pos[b] += 1;
        for (k, p) in pos.iter_mut().enumerate().skip(b + 1) {
            if *p < len(k) {
                let (other, v) = item(k, *p);
                if other == key {
                    val = int.merge(val, v);
                    *p += 1;
                }
            }
        }
        emit(key, val);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DomainEntry, Ip4Entry, Ip6Entry};

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    fn a(last: u8) -> AnswerSpec {
        AnswerSpec::new(Ipv4Addr::new(127, 0, 0, last), Some(format!("code {last}")))
    }

    #[test]
    fn duplicates_merge_and_exclusion_wins() {
        let part1 = DatasetData {
            answers: vec![a(2), a(3)],
            ip4: vec![
                Ip4Entry {
                    net: ip("1.2.3.4"),
                    len: 32,
                    value: EntryValue::Listed(0),
                },
                Ip4Entry {
                    net: ip("1.2.3.4"),
                    len: 32,
                    value: EntryValue::Listed(1),
                },
                Ip4Entry {
                    net: ip("1.2.3.5"),
                    len: 32,
                    value: EntryValue::Listed(0),
                },
            ],
            ..DatasetData::default()
        };
        let part2 = DatasetData {
            answers: vec![a(2)],
            ip4: vec![
                Ip4Entry {
                    net: ip("1.2.3.5"),
                    len: 32,
                    value: EntryValue::Excluded,
                },
                Ip4Entry {
                    net: ip("1.2.3.4"),
                    len: 32,
                    value: EntryValue::Listed(0),
                },
            ],
            ttl: Some(60),
            ..DatasetData::default()
        };
        let ds = Dataset::build(&[&part1, &part2], 2100);
        assert_eq!(ds.ttl, 60);
        let id = ds.v4.lookup(ip("1.2.3.4")).unwrap();
        let ans = ds.answer(id).unwrap();
        assert_eq!(
            &*ans.a,
            &[Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)]
        );
        assert_eq!(ans.txt.len(), 2);
        assert_eq!(ds.v4.lookup(ip("1.2.3.5")), Some(EXCLUDED));
        assert_eq!(ds.answers.len(), 3, "2, 3 and the merged 2+3");
    }

    #[test]
    fn ipv6_split_keeps_longest_prefix_order() {
        let net: u128 = 0x2001_0db8_0001_0002_0000_0000_0000_0000;
        let part = DatasetData {
            answers: vec![a(2), a(4)],
            ip6: vec![
                Ip6Entry {
                    net: net & !((1u128 << 96) - 1),
                    len: 32,
                    value: EntryValue::Listed(0),
                },
                Ip6Entry {
                    net,
                    len: 64,
                    value: EntryValue::Excluded,
                },
                Ip6Entry {
                    net,
                    len: 96,
                    value: EntryValue::Listed(1),
                },
            ],
            ..DatasetData::default()
        };
        let ds = Dataset::build(&[&part], 2100);
        let id4 = ds.v6.lookup(net | 5).unwrap();
        assert_eq!(ds.answer(id4).unwrap().a[0], Ipv4Addr::new(127, 0, 0, 4));
        assert_eq!(ds.v6.lookup(net | (1u128 << 40)), Some(EXCLUDED));
        let other = net + (1u128 << 64);
        assert_eq!(ds.v6.lookup(other), Some(0));
        assert!(ds.v6.any_listed_in(net, net | u128::from(u64::MAX)));
    }

    /// An exclusion longer than /64 inside a /64-or-shorter range: the
    /// two halves of the split set must not let the range show through.
    #[test]
    fn ipv6_long_exclusion_inside_a_short_range() {
        let net: u128 = 0x1000 << 112;
        let e = |net: u128, len: u8, value: EntryValue| Ip6Entry { net, len, value };
        let part = DatasetData {
            answers: vec![a(2)],
            ip6: vec![
                e(net, 16, EntryValue::Listed(0)),
                e(net, 124, EntryValue::Excluded),
                e(net | 3, 128, EntryValue::Listed(0)),
            ],
            ..DatasetData::default()
        };
        let ds = Dataset::build(&[&part], 2100);
        assert_eq!(ds.v6.lookup(net | 9), Some(EXCLUDED));
        assert_eq!(ds.v6.lookup(net | 3), Some(0));
        assert_eq!(ds.v6.lookup(net | 0x10), Some(0));
        assert_eq!(ds.v6.lookup(net | (1 << 70)), Some(0));
        assert!(ds.v6.any_listed_in(net | 1, net | 0xf));
        // It survives the round trip through build form.
        let again = Dataset::build(&[&ds.to_data()], 2100);
        assert_eq!(again.v6.lookup(net | 9), Some(EXCLUDED));
        assert_eq!(again.v6.lookup(net | 0x10), Some(0));
    }

    #[test]
    fn to_data_round_trips_through_build() {
        let part = DatasetData {
            answers: vec![a(2)],
            ip4: vec![
                Ip4Entry {
                    net: ip("10.0.0.0"),
                    len: 8,
                    value: EntryValue::Listed(0),
                },
                Ip4Entry {
                    net: ip("10.1.0.0"),
                    len: 16,
                    value: EntryValue::Excluded,
                },
                Ip4Entry {
                    net: ip("10.1.0.9"),
                    len: 32,
                    value: EntryValue::Listed(0),
                },
            ],
            domains: vec![DomainEntry {
                name: "example.com".into(),
                matching: DomainMatch::Both,
                value: EntryValue::Listed(0),
            }],
            ..DatasetData::default()
        };
        let ds = Dataset::build(&[&part], 2100);
        let again = Dataset::build(&[&ds.to_data()], 2100);
        for probe in [
            "9.0.0.1", "10.0.0.1", "10.1.0.1", "10.1.0.9", "10.2.0.0", "11.0.0.0",
        ] {
            assert_eq!(
                ds.v4.lookup(ip(probe)),
                again.v4.lookup(ip(probe)),
                "{probe}"
            );
        }
        assert_eq!(again.domains.exact.len(), 1);
        assert_eq!(again.domains.wild.len(), 1);
    }
}
