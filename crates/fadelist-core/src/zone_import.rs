//! A zone received by zone transfer (a follower's copy of its primary),
//! and its conversion back into a [`Dataset`] the fast path serves.
//!
//! [`ZoneContent`] keeps the transferred records, one interned RRset per
//! name, so that IXFR diffs (RFC 1995) can be applied to it;
//! [`ZoneContent::dataset`] turns them back into the lookup structures of
//! local data, answering every A and TXT question as DNS answers it from
//! the records (RFC 1034 §4.3.2 and RFC 4592 wildcards):
//!
//! - **IPv4 and IPv6 names become prefixes.** A name made of decimal
//!   octets (`4.3.2.1`) or hex nibbles is a node of an address tree; a
//!   node that exists answers for the addresses below it that have no
//!   closer existing node: with its wildcard's records when it has a
//!   wildcard (`*.2.1` = `1.2.0.0/16`, listed), and NXDOMAIN ("not
//!   listed") when it has none. So each existing node becomes one
//!   longest-prefix entry, listed or an exclusion, and only where it
//!   changes what its parent says: a /16 wildcard is one range entry
//!   again, and a name that stops a wildcard (an `HINFO`-only name, or an
//!   empty non-terminal) is an exclusion.
//! - **Other names are domains** ([`DomainSet`](crate::dataset::dnset::DomainSet)
//!   semantics): an existing name is an exact entry, its wildcard a
//!   subdomain entry, by the same rule.
//! - **TXT texts go back to `$` templates**: the owner's address, domain
//!   or (on a wildcard) network in a text becomes `$` again, so the
//!   follower answers as the primary fadelist does (the queried address in
//!   a range's text) and a million texts that differ only by their
//!   address share one answer.
//!
//! Only A and TXT carry answers; other types only make their name exist.
//! All answers share one TTL (a dataset has one): the most common one.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::data::{
    AnswerSpec, DatasetData, DomainEntry, DomainMatch, EntryValue, Ip4Entry, Ip6Entry,
};
use crate::dataset::Dataset;
use crate::dataset::dnset;
pub use crate::snapshot::Soa;

/// The records of one name (types other than A and TXT are counted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct RrSet {
    ttl: u32,
    a: Vec<Ipv4Addr>,
    /// TXT texts as `$` templates of the owner's subject.
    txt: Vec<String>,
    other: u32,
}

impl RrSet {
    fn is_empty(&self) -> bool {
        self.a.is_empty() && self.txt.is_empty() && self.other == 0
    }
}

/// RRsets shared between names, with reference counts so that an IXFR
/// that changes a name frees the set nobody uses any more.
#[derive(Debug, Default)]
struct Sets {
    sets: Vec<RrSet>,
    refs: Vec<u32>,
    ids: HashMap<RrSet, u32>,
    free: Vec<u32>,
}

impl Sets {
    fn intern(&mut self, set: RrSet) -> u32 {
        if let Some(&id) = self.ids.get(&set) {
            self.refs[id as usize] += 1;
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.sets[id as usize] = set.clone();
                self.refs[id as usize] = 1;
                id
            }
            None => {
                self.sets.push(set.clone());
                self.refs.push(1);
                (self.sets.len() - 1) as u32
            }
        };
        self.ids.insert(set, id);
        id
    }

    fn release(&mut self, id: u32) {
        let r = &mut self.refs[id as usize];
        *r -= 1;
        if *r == 0 {
            let set = std::mem::take(&mut self.sets[id as usize]);
            self.ids.remove(&set);
            self.free.push(id);
        }
    }
}

/// The data of one record, as a transfer delivers it (names in RDATA
/// already decompressed by the reader).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    /// An A record.
    A(Ipv4Addr),
    /// A TXT record: its character-strings joined.
    Txt(String),
    /// The zone's SOA.
    Soa(Soa),
    /// An NS record at the apex: the name server.
    Ns(String),
    /// Any other type (its type number): it only makes the name exist.
    Other(u16),
}

/// Why a diff does not apply (the caller then transfers the whole zone).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// A deleted record is not in the zone.
    #[error("IXFR deletes a record the zone does not have ({0})")]
    Missing(String),
    /// A name that no key can hold (too long, empty label).
    #[error("unusable owner name")]
    BadName,
}

/// A transferred zone: its records by name, its SOA and NS.
#[derive(Debug, Default)]
pub struct ZoneContent {
    /// Owner (the reversed, length-prefixed key of the labels in front of
    /// the zone, as [`dnset::key_of_name`] makes it; empty at the apex) →
    /// RRset id.
    names: BTreeMap<Box<[u8]>, u32>,
    sets: Sets,
    /// The SOA, once received.
    pub soa: Option<Soa>,
    /// The apex NS names, in the order received.
    pub ns: Vec<String>,
    /// TTL of the NS records.
    pub ns_ttl: u32,
}

/// The labels of a key, top first.
fn key_labels(key: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < key.len() {
        let len = usize::from(key[i]);
        let end = (i + 1 + len).min(key.len());
        out.push(&key[i + 1..end]);
        i = end;
    }
    out
}

fn octet(label: &[u8]) -> Option<u32> {
    match label {
        [b'0'] => Some(0),
        [] | [b'0', ..] => None,
        l if l.len() <= 3 && l.iter().all(u8::is_ascii_digit) => {
            let v = l
                .iter()
                .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
            (v <= 255).then_some(v)
        }
        _ => None,
    }
}

fn nibble(label: &[u8]) -> Option<u32> {
    match label {
        [c] => (*c as char).to_digit(16),
        _ => None,
    }
}

/// One of the two address trees.
#[derive(Clone, Copy)]
struct Tree {
    bits: u32,
    label_bits: u32,
    max_depth: usize,
    parse: fn(&[u8]) -> Option<u32>,
}

const V4: Tree = Tree {
    bits: 32,
    label_bits: 8,
    max_depth: 4,
    parse: octet,
};
const V6: Tree = Tree {
    bits: 128,
    label_bits: 4,
    max_depth: 32,
    parse: nibble,
};

impl Tree {
    /// The network (top-aligned in `bits`) of `labels` (top first).
    fn net(&self, labels: &[&[u8]]) -> Option<u128> {
        let mut net = 0u128;
        for l in labels {
            net = (net << self.label_bits) | u128::from((self.parse)(l)?);
        }
        let shift = self.bits - self.label_bits * labels.len() as u32;
        Some(if shift >= 128 { 0 } else { net << shift })
    }

    /// True when every label reads as this tree's and there are at most
    /// `max_depth` of them.
    fn shaped(&self, labels: &[&[u8]]) -> bool {
        labels.len() <= self.max_depth && labels.iter().all(|l| (self.parse)(l).is_some())
    }

    /// The text `$` stands for: the address, or the network for a
    /// shorter prefix.
    fn text(&self, net: u128, depth: usize) -> String {
        let len = self.label_bits as usize * depth;
        let addr = if self.bits == 32 {
            Ipv4Addr::from(net as u32).to_string()
        } else {
            Ipv6Addr::from(net).to_string()
        };
        if len == self.bits as usize {
            addr
        } else {
            format!("{addr}/{len}")
        }
    }
}

/// The text a `$` of `key`'s records stands for: the address of an
/// address name, the network of an address wildcard, the domain
/// otherwise.
fn subject_of(key: &[u8]) -> Option<String> {
    let labels = key_labels(key);
    let (base, wild) = match labels.split_last() {
        Some((last, rest)) if *last == b"*" => (rest, true),
        _ => (&labels[..], false),
    };
    if base.is_empty() {
        return None;
    }
    for tree in [V4, V6] {
        if tree.shaped(base) && (wild || base.len() == tree.max_depth) {
            return Some(tree.text(tree.net(base)?, base.len()));
        }
    }
    let mut name: Vec<&str> = base
        .iter()
        .rev()
        .map(|l| std::str::from_utf8(l).unwrap_or(""))
        .collect();
    name.retain(|l| !l.is_empty());
    Some(name.join("."))
}

/// `text` as a template: `$` escaped as `$$`, and each occurrence of
/// `subject` replaced by `$`. For an exact name this is exactly undone by
/// the expansion (which puts the same subject back); for a wildcard it
/// turns the network a stock secondary shows into the queried address
/// the primary fadelist shows.
fn template(text: &str, subject: Option<&str>) -> String {
    let escaped = text.replace('$', "$$");
    match subject.filter(|s| !s.is_empty()) {
        Some(subject) => escaped.replace(subject, "$"),
        None => escaped,
    }
}

/// The key of the owner `labels` (leftmost first, zone removed).
pub fn owner_key(labels: &[&[u8]]) -> Option<Vec<u8>> {
    if labels.is_empty() {
        return Some(Vec::new());
    }
    let mut buf = [0u8; dnset::MAX_KEY];
    let mut ends = [0usize; 128];
    let n = dnset::reversed_key(labels, &mut buf, &mut ends)?;
    Some(buf[..n].to_vec())
}

/// What one name says about a node of an address tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fact {
    /// The node exists (it has records, or names below it).
    Exists,
    /// The node's own records (an address at full depth).
    Own(u32),
    /// The node's wildcard's records.
    Wild(u32),
}

/// The value of an entry: listed with an answer, or not listed.
type Val = Option<u32>;

impl ZoneContent {
    /// An empty zone.
    pub fn new() -> ZoneContent {
        ZoneContent::default()
    }

    /// Names in the zone (the apex included once it has records).
    pub fn names(&self) -> usize {
        self.names.len()
    }

    fn change(
        &mut self,
        key: &[u8],
        f: impl FnOnce(&mut RrSet) -> Result<(), ApplyError>,
    ) -> Result<(), ApplyError> {
        let mut set = match self.names.get(key) {
            Some(&id) => self.sets.sets[id as usize].clone(),
            None => RrSet::default(),
        };
        f(&mut set)?;
        if let Some(id) = self.names.remove(key) {
            self.sets.release(id);
        }
        if !set.is_empty() {
            let id = self.sets.intern(set);
            self.names.insert(key.into(), id);
        }
        Ok(())
    }

    /// Adds a record at the owner `labels` (leftmost first, zone removed;
    /// empty for the apex). SOA and NS count only at the apex.
    pub fn add(&mut self, labels: &[&[u8]], ttl: u32, data: RData) -> Result<(), ApplyError> {
        let key = owner_key(labels).ok_or(ApplyError::BadName)?;
        let at_apex = key.is_empty();
        match data {
            RData::Soa(soa) if at_apex => {
                self.soa = Some(soa);
                return Ok(());
            }
            RData::Ns(ns) if at_apex => {
                if !self.ns.contains(&ns) {
                    self.ns.push(ns);
                }
                self.ns_ttl = ttl;
                return Ok(());
            }
            _ => {}
        }
        let subject = subject_of(&key);
        self.change(&key, |set| {
            set.ttl = if set.is_empty() {
                ttl
            } else {
                set.ttl.min(ttl)
            };
            match data {
                RData::A(ip) => {
                    if !set.a.contains(&ip) {
                        set.a.push(ip);
                    }
                }
                RData::Txt(text) => {
                    let t = template(&text, subject.as_deref());
                    if !set.txt.contains(&t) {
                        set.txt.push(t);
                    }
                }
                RData::Soa(_) | RData::Ns(_) | RData::Other(_) => set.other += 1,
            }
            Ok(())
        })
    }

    /// Removes a record (an IXFR deletion). The SOA is replaced by the
    /// new one, never removed.
    pub fn remove(&mut self, labels: &[&[u8]], data: RData) -> Result<(), ApplyError> {
        let key = owner_key(labels).ok_or(ApplyError::BadName)?;
        let at_apex = key.is_empty();
        match &data {
            RData::Soa(_) if at_apex => return Ok(()),
            RData::Ns(ns) if at_apex => {
                let before = self.ns.len();
                self.ns.retain(|n| n != ns);
                return if self.ns.len() < before {
                    Ok(())
                } else {
                    Err(ApplyError::Missing(format!("NS {ns}")))
                };
            }
            _ => {}
        }
        let subject = subject_of(&key);
        let missing = || ApplyError::Missing(dnset::name_of_key(&key));
        if !self.names.contains_key(key.as_slice()) {
            return Err(missing());
        }
        self.change(&key, |set| {
            let gone = match data {
                RData::A(ip) => {
                    let n = set.a.len();
                    set.a.retain(|x| *x != ip);
                    set.a.len() < n
                }
                RData::Txt(text) => {
                    let t = template(&text, subject.as_deref());
                    let n = set.txt.len();
                    set.txt.retain(|x| *x != t);
                    set.txt.len() < n
                }
                RData::Soa(_) | RData::Ns(_) | RData::Other(_) => {
                    let had = set.other > 0;
                    set.other = set.other.saturating_sub(1);
                    had
                }
            };
            if gone { Ok(()) } else { Err(missing()) }
        })
    }

    /// The answer of a set: listed when it has A records.
    fn value(&self, id: u32, answers: &mut Answers) -> Val {
        let set = &self.sets.sets[id as usize];
        if set.a.is_empty() {
            return None;
        }
        Some(answers.intern(set))
    }

    /// The zone's A/TXT data as a dataset (see the module documentation),
    /// each answer with its records' TTL.
    pub fn dataset(&self) -> Dataset {
        let (data, ttls) = self.data_and_ttls();
        Dataset::build_exact(&data, ttls, self.ttl())
    }

    /// The most common TTL of the listed names (the dataset's one TTL).
    fn ttl(&self) -> u32 {
        let mut count: HashMap<u32, usize> = HashMap::new();
        for (id, set) in self.sets.sets.iter().enumerate() {
            if self.sets.refs[id] > 0 && !set.a.is_empty() {
                *count.entry(set.ttl).or_default() += self.sets.refs[id] as usize;
            }
        }
        count
            .into_iter()
            .max_by_key(|&(ttl, n)| (n, std::cmp::Reverse(ttl)))
            .map_or(self.soa.as_ref().map_or(3600, |s| s.minimum), |(ttl, _)| {
                ttl
            })
    }

    /// The build form of [`ZoneContent::dataset`] (without the answers'
    /// TTLs).
    pub fn data(&self) -> DatasetData {
        self.data_and_ttls().0
    }

    fn data_and_ttls(&self) -> (DatasetData, Vec<u32>) {
        let mut answers = Answers::default();
        let mut v4: Vec<(u128, u8, Fact)> = Vec::new();
        let mut v6: Vec<(u128, u8, Fact)> = Vec::new();
        let mut domains: Vec<(Vec<u8>, Fact)> = Vec::new();
        for (key, &id) in &self.names {
            let labels = key_labels(key);
            for (tree, out) in [(V4, &mut v4), (V6, &mut v6)] {
                let m = labels
                    .iter()
                    .take(tree.max_depth)
                    .take_while(|l| (tree.parse)(l).is_some())
                    .count();
                let Some(net) = tree.net(&labels[..m]) else {
                    continue;
                };
                let fact = match &labels[m..] {
                    [] if m == tree.max_depth => Fact::Own(id),
                    [star] if *star == b"*" && m < tree.max_depth => Fact::Wild(id),
                    _ => Fact::Exists,
                };
                // The apex exists anyway (every other-family name would
                // say so again).
                if m > 0 || fact != Fact::Exists {
                    out.push((net, m as u8, fact));
                }
            }
            if !labels.is_empty() && !ip_shaped(&labels) {
                domains.push((key.to_vec(), Fact::Own(id)));
            }
        }
        let mut data = DatasetData::default();
        for (n, l, v) in self.tree_entries(V4, v4, &mut answers) {
            data.ip4.push(Ip4Entry {
                net: n as u32,
                len: l,
                value: v,
            });
        }
        for (n, l, v) in self.tree_entries(V6, v6, &mut answers) {
            data.ip6.push(Ip6Entry {
                net: n,
                len: l,
                value: v,
            });
        }
        self.domain_entries(domains, &mut answers, &mut data.domains);
        data.answers = answers.specs;
        (data, answers.ttls)
    }

    /// The longest-prefix entries of one address tree from its facts.
    fn tree_entries(
        &self,
        tree: Tree,
        mut facts: Vec<(u128, u8, Fact)>,
        answers: &mut Answers,
    ) -> Vec<(u128, u8, EntryValue)> {
        // (net, depth) order is the tree's pre-order.
        facts.sort_unstable();
        let mut out = Vec::new();
        // Existing ancestors of the current node: (net, depth, value in
        // force below it).
        let mut stack: Vec<(u128, u8, Val)> = Vec::new();
        let contains = |(pnet, pdepth): (u128, u8), (net, depth): (u128, u8)| {
            if depth < pdepth {
                return false;
            }
            let len = tree.label_bits * u32::from(pdepth);
            let mask = if len == 0 {
                0
            } else {
                (u128::MAX << (128 - len)) >> (128 - tree.bits)
            };
            net & mask == pnet
        };
        let to_entry = |v: Val| v.map_or(EntryValue::Excluded, EntryValue::Listed);
        let mut i = 0;
        while i < facts.len() {
            let (net, depth) = (facts[i].0, facts[i].1);
            let mut own: Option<u32> = None;
            let mut wild: Option<Option<u32>> = None;
            while i < facts.len() && facts[i].0 == net && facts[i].1 == depth {
                match facts[i].2 {
                    Fact::Exists => {}
                    Fact::Own(id) => own = Some(id),
                    Fact::Wild(id) => wild = Some(Some(id)),
                }
                i += 1;
            }
            while stack
                .last()
                .is_some_and(|&(pn, pd, _)| !contains((pn, pd), (net, depth)))
            {
                stack.pop();
            }
            let (parent_depth, inherited) =
                stack.last().map_or((None, None), |&(_, d, v)| (Some(d), v));
            let mut inherited = inherited;
            // Ancestors between the parent and this node exist (this name
            // is below them) and have no wildcard: not listed below them.
            let first_missing = parent_depth.map_or(0, |d| d + 1);
            if first_missing < depth && inherited.is_some() {
                let len = tree.label_bits as u8 * first_missing;
                let shift = tree.bits - u32::from(len);
                let anc = if shift >= 128 {
                    0
                } else {
                    (net >> shift) << shift
                };
                out.push((anc, len, EntryValue::Excluded));
                stack.push((anc, first_missing, None));
                inherited = None;
            }
            let len = tree.label_bits as u8 * depth;
            let value: Val = if usize::from(depth) == tree.max_depth {
                own.and_then(|id| self.value(id, answers))
            } else {
                wild.flatten().and_then(|id| self.value(id, answers))
            };
            if value != inherited {
                out.push((net, len, to_entry(value)));
            }
            if usize::from(depth) < tree.max_depth {
                stack.push((net, depth, value));
            }
        }
        out
    }

    /// The domain entries, by the same rule as the address trees: every
    /// existing name (an owner, or an ancestor of one) is an exact entry
    /// and a subdomain entry where that changes what its ancestors say.
    fn domain_entries(
        &self,
        owners: Vec<(Vec<u8>, Fact)>,
        answers: &mut Answers,
        out: &mut Vec<DomainEntry>,
    ) {
        // Owners in key order are the tree's pre-order; a wildcard owner
        // (`…\x01*`) belongs to its parent node.
        // (node, value in force below it, the node whose entry set that
        // value: what `$` stands for in its texts).
        let mut stack: Vec<(Vec<u8>, Val, Vec<u8>)> = Vec::new();
        let entry = |key: &[u8], matching: DomainMatch, v: Val| DomainEntry {
            name: dnset::name_of_key(key),
            matching,
            value: v.map_or(EntryValue::Excluded, EntryValue::Listed),
        };
        // Keys are whole labels, so a key that starts with another is
        // below it.
        let is_below = |anc: &[u8], key: &[u8]| key.len() > anc.len() && key.starts_with(anc);
        // Group each node with its wildcard.
        let mut nodes: BTreeMap<Vec<u8>, (Option<u32>, Option<u32>)> = BTreeMap::new();
        for (key, fact) in owners {
            let Fact::Own(id) = fact else { continue };
            if key.ends_with(b"\x01*") {
                let parent = key[..key.len() - 2].to_vec();
                if parent.is_empty() || ip_shaped(&key_labels(&parent)) {
                    continue;
                }
                nodes.entry(parent).or_default().1 = Some(id);
            } else {
                nodes.entry(key).or_default().0 = Some(id);
            }
        }
        for (key, (own, wild)) in nodes {
            while stack.last().is_some_and(|(a, _, _)| !is_below(a, &key)) {
                stack.pop();
            }
            let mut inherited = stack.last().and_then(|(_, v, _)| *v);
            let mut setter = stack.last().map_or_else(Vec::new, |(_, _, s)| s.clone());
            // Missing ancestors between: empty non-terminals.
            let labels = key_labels(&key);
            let parent_labels = stack.last().map_or(0, |(a, _, _)| key_labels(a).len());
            if inherited.is_some() && parent_labels + 1 < labels.len() {
                let mut end = 0;
                for l in &labels[..=parent_labels] {
                    end += 1 + l.len();
                }
                let anc = &key[..end];
                out.push(entry(anc, DomainMatch::Both, None));
                stack.push((anc.to_vec(), None, anc.to_vec()));
                inherited = None;
                setter = anc.to_vec();
            }
            let own_value = own.and_then(|id| self.value(id, answers));
            if own_value != inherited {
                out.push(entry(&key, DomainMatch::Exact, own_value));
            }
            let mut below = wild.and_then(|id| self.value(id, answers));
            // A wildcard below a stopper that says what the wildcard
            // above says (the primary's `*.ok.wild.example` under an
            // excluded `ok.wild.example`, its `$` written as
            // `wild.example`) changes nothing: leaving it out keeps the
            // primary's structure (and its NXDOMAIN for the stopper).
            if below.is_some()
                && inherited.is_some()
                && below != inherited
                && same_answer(answers, below, &key, inherited, &setter)
            {
                below = inherited;
            }
            if below != inherited {
                out.push(entry(&key, DomainMatch::Subdomains, below));
                setter = key.clone();
            }
            stack.push((key, below, setter));
        }
    }
}

/// True when answers `a` (`$` = the domain of key `a_key`) and `b` (`$`
/// = the domain of `b_key`) give the same records.
fn same_answer(answers: &Answers, a: Val, a_key: &[u8], b: Val, b_key: &[u8]) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return a == b;
    };
    let (sa, sb) = (&answers.specs[a as usize], &answers.specs[b as usize]);
    if sa.a != sb.a
        || sa.txt.len() != sb.txt.len()
        || answers.ttls[a as usize] != answers.ttls[b as usize]
    {
        return false;
    }
    let (da, db) = (dnset::name_of_key(a_key), dnset::name_of_key(b_key));
    sa.txt.iter().zip(&sb.txt).all(|(ta, tb)| {
        let (mut xa, mut xb) = (String::new(), String::new());
        crate::rbldnsd::expand_txt(ta, &da, &mut xa);
        crate::rbldnsd::expand_txt(tb, &db, &mut xb);
        xa == xb
    })
}

/// True when every label of the name is an address label (it belongs to
/// an address tree, not to the domains).
fn ip_shaped(labels: &[&[u8]]) -> bool {
    let base = match labels.split_last() {
        Some((last, rest)) if *last == b"*" => rest,
        _ => labels,
    };
    !base.is_empty() && (V4.shaped(base) || V6.shaped(base))
}

/// The answers of the dataset being built, each with its TTL.
#[derive(Default)]
struct Answers {
    ids: HashMap<(Vec<Ipv4Addr>, Vec<String>, u32), u32>,
    specs: Vec<AnswerSpec>,
    ttls: Vec<u32>,
}

impl Answers {
    fn intern(&mut self, set: &RrSet) -> u32 {
        let k = (set.a.clone(), set.txt.clone(), set.ttl);
        if let Some(&id) = self.ids.get(&k) {
            return id;
        }
        let id = self.specs.len() as u32;
        self.specs.push(AnswerSpec {
            a: k.0.clone(),
            txt: k.1.clone(),
        });
        self.ttls.push(set.ttl);
        self.ids.insert(k, id);
        id
    }
}

/// First bytes of a saved zone ([`ZoneContent::save`]), with the format
/// version.
const MAGIC: &[u8; 8] = b"FLZONE01";

fn put_str(out: &mut impl std::io::Write, s: &str) -> std::io::Result<()> {
    out.write_all(&(s.len() as u32).to_le_bytes())?;
    out.write_all(s.as_bytes())
}

fn get_u32(r: &mut impl std::io::Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn get_bytes(r: &mut impl std::io::Read, max: usize) -> std::io::Result<Vec<u8>> {
    let n = get_u32(r)? as usize;
    if n > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "a saved zone field is longer than it may be",
        ));
    }
    let mut v = vec![0u8; n];
    r.read_exact(&mut v)?;
    Ok(v)
}

fn get_str(r: &mut impl std::io::Read) -> std::io::Result<String> {
    String::from_utf8(get_bytes(r, 1 << 20)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
}

impl ZoneContent {
    /// Writes the zone (SOA, NS, every name's records, `$` templates as
    /// kept) in a compact binary form that [`ZoneContent::load`] reads
    /// back: what a follower keeps on disk to serve after a restart.
    pub fn save(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let Some(soa) = &self.soa else {
            return Err(std::io::Error::other("a zone without SOA is not saved"));
        };
        out.write_all(MAGIC)?;
        for v in [
            soa.ttl,
            soa.serial,
            soa.refresh,
            soa.retry,
            soa.expire,
            soa.minimum,
        ] {
            out.write_all(&v.to_le_bytes())?;
        }
        put_str(out, &soa.mname)?;
        put_str(out, &soa.rname)?;
        out.write_all(&self.ns_ttl.to_le_bytes())?;
        out.write_all(&(self.ns.len() as u32).to_le_bytes())?;
        for n in &self.ns {
            put_str(out, n)?;
        }
        out.write_all(&(self.names.len() as u64).to_le_bytes())?;
        for (key, &id) in &self.names {
            let set = &self.sets.sets[id as usize];
            out.write_all(&(key.len() as u32).to_le_bytes())?;
            out.write_all(key)?;
            out.write_all(&set.ttl.to_le_bytes())?;
            out.write_all(&set.other.to_le_bytes())?;
            out.write_all(&(set.a.len() as u32).to_le_bytes())?;
            for a in &set.a {
                out.write_all(&a.octets())?;
            }
            out.write_all(&(set.txt.len() as u32).to_le_bytes())?;
            for t in &set.txt {
                put_str(out, t)?;
            }
        }
        out.write_all(MAGIC)
    }

    /// Reads a zone written by [`ZoneContent::save`]. A truncated or
    /// foreign file is an error (the caller then transfers the zone).
    pub fn load(r: &mut impl std::io::Read) -> std::io::Result<ZoneContent> {
        let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(bad("not a saved zone of this version"));
        }
        let mut f = [0u32; 6];
        for v in &mut f {
            *v = get_u32(r)?;
        }
        let mut c = ZoneContent::new();
        c.soa = Some(Soa {
            ttl: f[0],
            serial: f[1],
            refresh: f[2],
            retry: f[3],
            expire: f[4],
            minimum: f[5],
            mname: get_str(r)?,
            rname: get_str(r)?,
        });
        c.ns_ttl = get_u32(r)?;
        for _ in 0..get_u32(r)? {
            c.ns.push(get_str(r)?);
        }
        let mut n = [0u8; 8];
        r.read_exact(&mut n)?;
        for _ in 0..u64::from_le_bytes(n) {
            let key = get_bytes(r, dnset::MAX_KEY)?;
            let ttl = get_u32(r)?;
            let other = get_u32(r)?;
            let mut set = RrSet {
                ttl,
                other,
                ..RrSet::default()
            };
            for _ in 0..get_u32(r)?.min(4096) {
                let mut a = [0u8; 4];
                r.read_exact(&mut a)?;
                set.a.push(Ipv4Addr::from(a));
            }
            for _ in 0..get_u32(r)?.min(4096) {
                set.txt.push(get_str(r)?);
            }
            if set.is_empty() {
                return Err(bad("an empty name in a saved zone"));
            }
            let id = c.sets.intern(set);
            if let Some(old) = c.names.insert(key.into_boxed_slice(), id) {
                c.sets.release(old);
            }
        }
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(bad("a saved zone that does not end where it should"));
        }
        Ok(c)
    }
}

/// The text of a TXT RDATA: its character-strings joined (the inverse of
/// [`crate::zone_records::txt_rdata`]); `None` when malformed.
pub fn txt_from_rdata(rdata: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(rdata.len());
    let mut i = 0;
    while i < rdata.len() {
        let n = usize::from(rdata[i]);
        out.extend_from_slice(rdata.get(i + 1..i + 1 + n)?);
        i += 1 + n;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> Vec<&[u8]> {
        name.split('.')
            .filter(|l| !l.is_empty())
            .map(str::as_bytes)
            .collect()
    }

    fn rec(name: &str, data: RData) -> (&str, RData) {
        (name, data)
    }

    fn a(last: u8) -> RData {
        RData::A(Ipv4Addr::new(127, 0, 0, last))
    }

    fn txt(t: &str) -> RData {
        RData::Txt(t.into())
    }

    fn content(records: &[(&str, RData)]) -> ZoneContent {
        let mut c = ZoneContent::new();
        for (n, d) in records {
            c.add(&labels(n), 300, d.clone()).unwrap();
        }
        c
    }

    #[test]
    fn texts_go_back_to_templates() {
        assert_eq!(
            template("Listed 1.2.3.4, costs $5 (1.2.3.4)", Some("1.2.3.4")),
            "Listed $, costs $$5 ($)"
        );
        assert_eq!(template("static", Some("1.2.3.4")), "static");
        assert_eq!(template("a $ b", None), "a $$ b");
        assert_eq!(
            subject_of(&owner_key(&labels("4.3.2.1")).unwrap()).unwrap(),
            "1.2.3.4"
        );
        assert_eq!(
            subject_of(&owner_key(&labels("*.2.1")).unwrap()).unwrap(),
            "1.2.0.0/16"
        );
        assert_eq!(
            subject_of(&owner_key(&labels("*.example")).unwrap()).unwrap(),
            "example"
        );
        // A million addresses that differ only by their address in the
        // text share one answer.
        let mut c = ZoneContent::new();
        for i in 0..1000u32 {
            let ip = Ipv4Addr::from(0x0a00_0000 | i);
            let o = ip.octets();
            let name = format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0]);
            c.add(&labels(&name), 300, a(2)).unwrap();
            c.add(&labels(&name), 300, txt(&format!("Listed {ip}")))
                .unwrap();
        }
        assert_eq!(c.data().answers.len(), 1);
        assert_eq!(c.sets.ids.len(), 1);
    }

    /// An IXFR applied to the old zone gives what an AXFR of the new zone
    /// gives, and freed answers are freed.
    #[test]
    fn a_diff_applied_equals_the_new_zone() {
        let old = vec![
            rec("4.3.2.1", a(2)),
            rec("4.3.2.1", txt("Listed 1.2.3.4")),
            rec("*.2.1", a(3)),
            rec("*.2.1", txt("range 1.2.0.0/16")),
            rec("9.9.2.1", RData::Other(13)),
            rec("spam.example", a(2)),
            rec("*.spam.example", a(2)),
            rec("gone.example", a(4)),
        ];
        let new = vec![
            rec("4.3.2.1", a(2)),
            rec("4.3.2.1", txt("Listed 1.2.3.4")),
            rec("*.2.1", a(3)),
            rec("*.2.1", txt("range 1.2.0.0/16")),
            rec("spam.example", a(2)),
            rec("*.spam.example", a(2)),
            rec("5.3.2.1", a(7)),
            rec("new.example", a(4)),
        ];
        let mut c = content(&old);
        for (n, d) in &old {
            if !new.contains(&(n, d.clone())) {
                c.remove(&labels(n), d.clone()).unwrap();
            }
        }
        for (n, d) in &new {
            if !old.contains(&(n, d.clone())) {
                c.add(&labels(n), 300, d.clone()).unwrap();
            }
        }
        assert_eq!(c.data(), content(&new).data());
        assert_eq!(c.names(), content(&new).names());
        // The sets of the removed names were released.
        let live = c.sets.refs.iter().filter(|&&r| r > 0).count();
        assert_eq!(live, c.sets.ids.len());
        // The stopper is gone: 1.2.9.9 is in the /16 range again.
        let ds = c.dataset();
        assert!(
            ds.v4
                .lookup(0x0102_0909)
                .is_some_and(|v| v != crate::dataset::EXCLUDED)
        );
        // Deleting what is not there is an error (the caller falls back to
        // AXFR).
        assert!(c.remove(&labels("nothere.example"), a(2)).is_err());
        assert!(c.remove(&labels("4.3.2.1"), a(9)).is_err());
    }

    #[test]
    fn a_saved_zone_reads_back_the_same() {
        let mut c = content(&[
            rec("4.3.2.1", a(2)),
            rec("4.3.2.1", txt("Listed 1.2.3.4 cost $5")),
            rec("*.2.1", a(3)),
            rec("9.9.2.1", RData::Other(13)),
            rec("spam.example", a(2)),
        ]);
        c.soa = Some(Soa {
            ttl: 60,
            mname: "ns.bl.test".into(),
            rname: "hm.bl.test".into(),
            serial: 42,
            refresh: 2,
            retry: 1,
            expire: 86400,
            minimum: 60,
        });
        c.ns = vec!["ns.bl.test".into()];
        c.ns_ttl = 3600;
        let mut bytes = Vec::new();
        c.save(&mut bytes).unwrap();
        let back = ZoneContent::load(&mut bytes.as_slice()).unwrap();
        assert_eq!(back.data(), c.data());
        assert_eq!(
            (back.soa.clone(), back.ns.clone(), back.ns_ttl),
            (c.soa.clone(), c.ns.clone(), 3600)
        );
        // Truncated anywhere: an error, never a half zone.
        for cut in [0, 8, 40, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                ZoneContent::load(&mut &bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn several_ttls_are_kept_per_answer() {
        let mut c = ZoneContent::new();
        c.add(&labels("4.3.2.1"), 2100, a(2)).unwrap();
        c.add(&labels("5.3.2.1"), 60, a(2)).unwrap();
        c.add(&labels("6.3.2.1"), 2100, a(2)).unwrap();
        let ds = c.dataset();
        let id = |ip: u32| ds.v4.lookup(ip).unwrap();
        assert_eq!(ds.ttl_of(id(0x0102_0304)), 2100);
        assert_eq!(ds.ttl_of(id(0x0102_0305)), 60);
        assert_eq!(ds.ttl, 2100, "the most common one");
    }
}
