//! A dataset as a zone serves it: a frozen base plus an optional delta.
//!
//! Report-fed zones change a few keys at a time, many times a second.
//! Rebuilding their whole dataset for every change costs O(n log n) per
//! report; instead the feed keeps a large, rarely rebuilt *base* and a small
//! *delta* holding only the keys changed since the base was built. The
//! delta is rebuilt per change (O(changes)), and folded into a new base in
//! the background once it grows.
//!
//! Semantics: a delta entry replaces the base entry with the same key. A
//! delta exclusion ([`EXCLUDED`]) is a tombstone: "the base's entry for
//! this key is gone", after which the lookup continues with the next less
//! specific key, exactly as if the base had been rebuilt without it.
//!
//! That key-by-key replacement is only simple and exact when no dataset
//! holds address ranges, which is what report-fed data looks like (single
//! IPv4 addresses, single IPv6 /64 networks or addresses, domains), so
//! [`Layer::with_delta`] refuses layers with ranges. Data files are never
//! layered: they are rebuilt whole on reload.

use std::collections::HashSet;
use std::sync::Arc;

use super::{Dataset, EXCLUDED};
use crate::data::{DatasetData, EntryValue};

/// A base dataset and the delta that overrides it; see the module docs.
#[derive(Clone, Debug)]
pub struct Layer {
    base: Arc<Dataset>,
    delta: Option<Arc<Dataset>>,
}

/// Why a base and a delta cannot be layered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a layered dataset may hold single addresses and names only, not ranges")]
pub struct HasRanges;

/// A match: the dataset whose answer table `value` indexes, and the value
/// (an answer id or [`EXCLUDED`]).
pub type Found<'a> = (&'a Dataset, u32);

fn has_ranges(ds: &Dataset) -> bool {
    ds.v4.counts().1 > 0 || ds.v6.long.counts().1 > 0 || ds.v6.short.counts().1 > 0
}

impl From<Arc<Dataset>> for Layer {
    fn from(base: Arc<Dataset>) -> Self {
        Layer::new(base)
    }
}

impl Layer {
    /// A dataset without a delta.
    pub fn new(base: Arc<Dataset>) -> Layer {
        Layer { base, delta: None }
    }

    /// `base` overridden by `delta`. Both must be free of address ranges.
    pub fn with_delta(base: Arc<Dataset>, delta: Arc<Dataset>) -> Result<Layer, HasRanges> {
        if has_ranges(&base) || has_ranges(&delta) {
            return Err(HasRanges);
        }
        Ok(Layer {
            base,
            delta: Some(delta),
        })
    }

    /// The base dataset.
    pub fn base(&self) -> &Arc<Dataset> {
        &self.base
    }

    /// The delta, if any.
    pub fn delta(&self) -> Option<&Arc<Dataset>> {
        self.delta.as_ref()
    }

    /// TTL of the answers.
    pub fn ttl(&self) -> u32 {
        self.base.ttl
    }

    /// The most specific match for the IPv4 address `ip`.
    #[inline]
    pub fn find_v4(&self, ip: u32) -> Option<Found<'_>> {
        let Some(delta) = &self.delta else {
            return self.base.v4.lookup(ip).map(|v| (&*self.base, v));
        };
        // Without ranges, the only candidate key is the address itself.
        match delta.v4.get_exact(ip) {
            Some(EXCLUDED) => None,
            Some(v) => Some((delta, v)),
            None => self.base.v4.get_exact(ip).map(|v| (&*self.base, v)),
        }
    }

    /// The most specific match for the IPv6 address `ip`.
    #[inline]
    pub fn find_v6(&self, ip: u128) -> Option<Found<'_>> {
        let Some(delta) = &self.delta else {
            return self.base.v6.lookup(ip).map(|v| (&*self.base, v));
        };
        // Candidates, most specific first: the /65–/128 set (only /128
        // entries without ranges), then the /64 network.
        let pick = |d: Option<u32>, b: Option<u32>| match d {
            Some(EXCLUDED) => None,
            Some(v) => Some((&**delta, v)),
            None => b.map(|v| (&*self.base, v)),
        };
        pick(delta.v6.long.get_exact(ip), self.base.v6.long.get_exact(ip)).or_else(|| {
            let net = (ip >> 64) as u64;
            pick(
                delta.v6.short.get_exact(net),
                self.base.v6.short.get_exact(net),
            )
        })
    }

    /// The most specific domain match for the name whose reversed key is
    /// `key` (see [`DomainSet::lookup`](super::dnset::DomainSet::lookup)),
    /// with the number of labels of the matching entry.
    #[inline]
    pub fn find_domain(
        &self,
        key: &[u8],
        ends: &[usize],
        labels: usize,
    ) -> Option<(&Dataset, u32, usize)> {
        let Some(delta) = &self.delta else {
            return self
                .base
                .domains
                .lookup(key, ends, labels)
                .map(|(v, k)| (&*self.base, v, k));
        };
        let base = &self.base;
        // One candidate: the delta decides when it has the key (a
        // tombstone sends the search on), the base otherwise.
        enum Step<'a> {
            Found(&'a Dataset, u32),
            Next,
        }
        let step = |d: Option<u32>, b: Option<u32>| match (d, b) {
            (Some(EXCLUDED), _) => Step::Next,
            (Some(v), _) => Step::Found(delta, v),
            (None, Some(v)) => Step::Found(base, v),
            (None, None) => Step::Next,
        };
        if let Step::Found(ds, v) = step(delta.domains.exact.get(key), base.domains.exact.get(key))
        {
            return Some((ds, v, labels));
        }
        for k in (1..labels).rev() {
            let anc = &key[..ends[k]];
            if let Step::Found(ds, v) =
                step(delta.domains.wild.get(anc), base.domains.wild.get(anc))
            {
                return Some((ds, v, k));
            }
        }
        None
    }

    /// True when some IPv4 address in `lo..=hi` is listed.
    pub fn any_v4_in(&self, lo: u32, hi: u32) -> bool {
        let Some(delta) = &self.delta else {
            return self.base.v4.any_listed_in(lo, hi);
        };
        delta.v4.any_listed_in(lo, hi)
            || self.base.v4.any_exact_in(lo, hi, |k, v| {
                v != EXCLUDED && delta.v4.get_exact(k).is_none()
            })
    }

    /// True when some IPv6 address in `lo..=hi` is listed.
    pub fn any_v6_in(&self, lo: u128, hi: u128) -> bool {
        let Some(delta) = &self.delta else {
            return self.base.v6.any_listed_in(lo, hi);
        };
        let (slo, shi) = ((lo >> 64) as u64, (hi >> 64) as u64);
        delta.v6.any_listed_in(lo, hi)
            || self.base.v6.long.any_exact_in(lo, hi, |k, v| {
                v != EXCLUDED && delta.v6.long.get_exact(k).is_none()
            })
            || self.base.v6.short.any_exact_in(slo, shi, |k, v| {
                v != EXCLUDED && delta.v6.short.get_exact(k).is_none()
            })
    }

    /// True when some listed name lies strictly below the name `key`.
    pub fn has_listed_descendant(&self, key: &[u8]) -> bool {
        let Some(delta) = &self.delta else {
            return self.base.domains.has_listed_descendant(key);
        };
        let d = &delta.domains;
        let b = &self.base.domains;
        d.has_listed_descendant(key)
            || b.exact
                .with_prefix(key)
                .any(|(k, v)| k.len() > key.len() && v != EXCLUDED && d.exact.get(k).is_none())
            || b.wild
                .with_prefix(key)
                .any(|(k, v)| v != EXCLUDED && d.wild.get(k).is_none())
    }

    /// Number of entries in the base and in the delta.
    pub fn entry_counts(&self) -> (usize, usize) {
        let count = |d: &Dataset| {
            d.v4.counts().0 + d.v4.counts().1 + d.v6.entry_count() + d.domains.exact.len()
                // A `Both` domain entry is one exact and one wildcard key;
                // count the wildcard-only ones.
                + d.domains.wild.len().saturating_sub(d.domains.exact.len())
        };
        (count(&self.base), self.delta.as_deref().map_or(0, count))
    }

    /// Heap bytes used by the lookup structures of base and delta.
    pub fn heap_bytes(&self) -> usize {
        self.base.heap_bytes() + self.delta.as_deref().map_or(0, Dataset::heap_bytes)
    }

    /// The merged content in build form: the base without the keys the
    /// delta replaces, plus the delta's listed entries. Only answers still
    /// referenced are kept. `Dataset::build(&[&layer.to_data()], ttl)` is
    /// the compacted base.
    pub fn to_data(&self) -> DatasetData {
        let mut d = self.base.to_data();
        let Some(delta) = &self.delta else {
            return d;
        };
        let dd = delta.to_data();
        let v4: HashSet<(u32, u8)> = dd.ip4.iter().map(|e| (e.net, e.len)).collect();
        let v6: HashSet<(u128, u8)> = dd.ip6.iter().map(|e| (e.net, e.len)).collect();
        let names: HashSet<(&str, _)> = dd
            .domains
            .iter()
            .map(|e| (e.name.as_str(), e.matching))
            .collect();
        d.ip4.retain(|e| !v4.contains(&(e.net, e.len)));
        d.ip6.retain(|e| !v6.contains(&(e.net, e.len)));
        d.domains
            .retain(|e| !names.contains(&(e.name.as_str(), e.matching)));
        let offset = d.answers.len() as u32;
        let shift = |v: EntryValue| match v {
            EntryValue::Listed(i) => Some(EntryValue::Listed(i + offset)),
            EntryValue::Excluded => None,
        };
        for mut e in dd.ip4.iter().copied() {
            if let Some(v) = shift(e.value) {
                e.value = v;
                d.ip4.push(e);
            }
        }
        for mut e in dd.ip6.iter().copied() {
            if let Some(v) = shift(e.value) {
                e.value = v;
                d.ip6.push(e);
            }
        }
        for e in &dd.domains {
            if let Some(v) = shift(e.value) {
                let mut e = e.clone();
                e.value = v;
                d.domains.push(e);
            }
        }
        d.answers.extend(dd.answers.iter().cloned());
        d.retain_used_answers();
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{AnswerSpec, DomainEntry, DomainMatch, Ip4Entry, Ip6Entry};
    use crate::dataset::dnset::{self, MAX_KEY};
    use std::net::Ipv4Addr;

    fn answer(last: u8) -> AnswerSpec {
        AnswerSpec::new(Ipv4Addr::new(127, 0, 0, last), Some(format!("code {last}")))
    }

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    fn v6(s: &str) -> u128 {
        u128::from(s.parse::<std::net::Ipv6Addr>().unwrap())
    }

    fn entry4(s: &str, value: EntryValue) -> Ip4Entry {
        Ip4Entry {
            net: ip(s),
            len: 32,
            value,
        }
    }

    fn entry6(s: &str, len: u8, value: EntryValue) -> Ip6Entry {
        Ip6Entry {
            net: v6(s),
            len,
            value,
        }
    }

    fn dom(name: &str, value: EntryValue) -> DomainEntry {
        DomainEntry {
            name: name.into(),
            matching: DomainMatch::Both,
            value,
        }
    }

    const L0: EntryValue = EntryValue::Listed(0);
    const L1: EntryValue = EntryValue::Listed(1);
    const X: EntryValue = EntryValue::Excluded;

    fn base() -> Arc<Dataset> {
        let d = DatasetData {
            answers: vec![answer(2)],
            ip4: vec![
                entry4("192.0.2.1", L0),
                entry4("192.0.2.2", L0),
                entry4("198.51.100.7", L0),
            ],
            ip6: vec![
                entry6("2001:db8:1:2::", 64, L0),
                entry6("2001:db8:9::5", 128, L0),
            ],
            domains: vec![
                dom("example.com", L0),
                dom("sub.example.com", L0),
                dom("spam.test", L0),
            ],
            ..DatasetData::default()
        };
        Arc::new(Dataset::build(&[&d], 300))
    }

    fn delta() -> Arc<Dataset> {
        let d = DatasetData {
            answers: vec![answer(3), answer(4)],
            ip4: vec![
                // removed, changed, added
                entry4("192.0.2.1", X),
                entry4("192.0.2.2", L1),
                entry4("203.0.113.9", L0),
            ],
            ip6: vec![
                entry6("2001:db8:1:2::", 64, X),
                entry6("2001:db8:7::", 64, L0),
            ],
            domains: vec![dom("sub.example.com", X), dom("spam.test", X)],
            ..DatasetData::default()
        };
        Arc::new(Dataset::build(&[&d], 300))
    }

    fn code(found: Option<Found<'_>>) -> Option<u8> {
        let (ds, v) = found?;
        (v != EXCLUDED).then(|| ds.answer(v).unwrap().a[0].octets()[3])
    }

    fn dkey(name: &str) -> (Vec<u8>, Vec<usize>, usize) {
        let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
        let mut buf = [0u8; MAX_KEY];
        let mut ends = [0usize; 128];
        let n = dnset::reversed_key(&labels, &mut buf, &mut ends).unwrap();
        (buf[..n].to_vec(), ends.to_vec(), labels.len())
    }

    fn domain_code(layer: &Layer, name: &str) -> Option<(u8, usize)> {
        let (k, ends, n) = dkey(name);
        let (ds, v, labels) = layer.find_domain(&k, &ends, n)?;
        (v != EXCLUDED).then(|| (ds.answer(v).unwrap().a[0].octets()[3], labels))
    }

    #[test]
    fn delta_replaces_removes_and_adds_keys() {
        let l = Layer::with_delta(base(), delta()).unwrap();
        assert_eq!(code(l.find_v4(ip("192.0.2.1"))), None, "tombstone");
        assert_eq!(code(l.find_v4(ip("192.0.2.2"))), Some(4), "changed");
        assert_eq!(code(l.find_v4(ip("198.51.100.7"))), Some(2), "untouched");
        assert_eq!(code(l.find_v4(ip("203.0.113.9"))), Some(3), "added");
        assert_eq!(code(l.find_v4(ip("203.0.113.10"))), None);

        assert_eq!(code(l.find_v6(v6("2001:db8:1:2::99"))), None);
        assert_eq!(code(l.find_v6(v6("2001:db8:7::1"))), Some(3));
        assert_eq!(code(l.find_v6(v6("2001:db8:9::5"))), Some(2));
        assert_eq!(code(l.find_v6(v6("2001:db8:9::6"))), None);
    }

    #[test]
    fn domain_tombstone_falls_back_to_the_parent_entry() {
        let l = Layer::with_delta(base(), delta()).unwrap();
        // sub.example.com is gone, but example.com still covers it.
        assert_eq!(domain_code(&l, "sub.example.com"), Some((2, 2)));
        assert_eq!(domain_code(&l, "a.sub.example.com"), Some((2, 2)));
        assert_eq!(domain_code(&l, "example.com"), Some((2, 2)));
        assert_eq!(domain_code(&l, "spam.test"), None);
        assert_eq!(domain_code(&l, "www.spam.test"), None);
        // Without the delta the base answers for the subdomain itself.
        let plain = Layer::new(base());
        assert_eq!(domain_code(&plain, "a.sub.example.com"), Some((2, 3)));
    }

    #[test]
    fn empty_non_terminals_ignore_removed_keys() {
        let l = Layer::with_delta(base(), delta()).unwrap();
        // 192.0.2.0/24: .1 removed, .2 still listed.
        assert!(l.any_v4_in(ip("192.0.2.0"), ip("192.0.2.255")));
        assert!(!l.any_v4_in(ip("192.0.2.1"), ip("192.0.2.1")));
        assert!(l.any_v4_in(ip("203.0.113.0"), ip("203.0.113.255")));
        assert!(!l.any_v6_in(
            v6("2001:db8:1::"),
            v6("2001:db8:1:ffff:ffff:ffff:ffff:ffff")
        ));
        assert!(l.any_v6_in(
            v6("2001:db8:7::"),
            v6("2001:db8:7:ffff:ffff:ffff:ffff:ffff")
        ));
        let (test, _, _) = dkey("test");
        assert!(!l.has_listed_descendant(&test), "spam.test removed");
        let (com, _, _) = dkey("com");
        assert!(l.has_listed_descendant(&com));
    }

    #[test]
    fn to_data_merges_and_drops_unused_answers() {
        let l = Layer::with_delta(base(), delta()).unwrap();
        let merged = Arc::new(Dataset::build(&[&l.to_data()], 300));
        let m = Layer::new(merged.clone());
        for probe in ["192.0.2.1", "192.0.2.2", "198.51.100.7", "203.0.113.9"] {
            assert_eq!(
                code(m.find_v4(ip(probe))),
                code(l.find_v4(ip(probe))),
                "{probe}"
            );
        }
        for probe in ["2001:db8:1:2::99", "2001:db8:7::1", "2001:db8:9::5"] {
            assert_eq!(code(m.find_v6(v6(probe))), code(l.find_v6(v6(probe))));
        }
        for probe in ["sub.example.com", "spam.test", "x.example.com"] {
            assert_eq!(
                domain_code(&m, probe).map(|c| c.0),
                domain_code(&l, probe).map(|c| c.0)
            );
        }
        assert_eq!(merged.answers.len(), 3, "2, 3, 4 are all still in use");
        // Remove the last user of answer 4: it leaves the table.
        let d2 = DatasetData {
            answers: vec![answer(9)],
            ip4: vec![entry4("192.0.2.2", X)],
            ..DatasetData::default()
        };
        let l2 = Layer::with_delta(merged, Arc::new(Dataset::build(&[&d2], 300))).unwrap();
        let again = Dataset::build(&[&l2.to_data()], 300);
        assert_eq!(again.answers.len(), 2);
    }

    #[test]
    fn ranges_cannot_be_layered() {
        let d = DatasetData {
            answers: vec![answer(2)],
            ip4: vec![Ip4Entry {
                net: ip("10.0.0.0"),
                len: 8,
                value: L0,
            }],
            ..DatasetData::default()
        };
        let ranged = Arc::new(Dataset::build(&[&d], 300));
        assert_eq!(
            Layer::with_delta(ranged.clone(), delta()).unwrap_err(),
            HasRanges
        );
        assert!(Layer::with_delta(base(), ranged).is_err());
    }
}
