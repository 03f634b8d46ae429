//! A served zone as standard DNS records, for zone transfers (AXFR) to
//! stock secondaries (NSD, Knot, BIND).
//!
//! fadelist answers from ranges, exclusions, several datasets and `$`
//! templates; a stock secondary only knows names, RRsets and RFC 4592
//! wildcards. [`walk_zone`] writes the zone so that a secondary answers the
//! A and TXT questions a DNSBL client asks exactly as fadelist does:
//!
//! - **What is listed where** is computed with the same lookups the query
//!   path uses: every boundary of every entry of every dataset cuts the
//!   address space into segments, and each segment's answer is the answer
//!   of its first address (exclusions, longest-prefix order, base + delta
//!   layers and the union of datasets all come from `find_v4`/`find_v6`).
//! - **Ranges become wildcards at octet (IPv4) or nibble (IPv6)
//!   boundaries.** A node (`c.b.a` = `a.b.c.0/24`) whose children are all
//!   listed gets `*.node` with the most common answer, and only the
//!   children that differ are written below it. A wildcard covers only
//!   names that do not exist (RFC 4592), so a node with an unlisted child
//!   gets no wildcard at all: its listed children are written one by one
//!   (recursively, so a /16 with one hole is 255 `/24` wildcards plus the
//!   hole's /24 written out), and the hole stays NXDOMAIN, as in fadelist.
//! - **Nodes whose labels are all single digits** are both IPv4 and IPv6
//!   nibble prefixes (`0.2` is 2.0/16 and also 2000::/8's neighbour
//!   `…0.2`): no wildcard goes there, since it would answer names of the
//!   other family; their children are written instead.
//! - **`$` in TXT** is written out: exact names get their own address or
//!   domain; a wildcard cannot, so on a wildcard `$` stands for the
//!   wildcard's network (`10.1.2.0/24`, `10.1.0.0/16`). Writing the
//!   addresses of ranges out one by one instead was tried: 20,000 ranges of
//!   the benchmark data set became 270 million records. A domain
//!   wildcard's `$` is the listed domain, which is exact.
//! - **Domains**: every exact entry is written with fadelist's answer for
//!   it; every name that exists in the written zone (entries and their
//!   ancestors) gets `*.name` when fadelist lists the names below it; an
//!   unlisted exact entry under such a wildcard gets an `HINFO` record, so
//!   that it exists and stops the wildcard (a secondary answers it NODATA,
//!   fadelist NXDOMAIN: both "not listed").
//! - The RFC 5782 test entries (`127.0.0.2`, `::ffff:127.0.0.2` and
//!   `test`) are written like listed data; `127.0.0.1` and `invalid` never
//!   are.
//!
//! Known differences, all outside what DNSBL clients ask: IPv4-mapped
//! IPv6 names (`::ffff:a.b.c.d`) are not written for IPv4 data (it would
//! double the zone; only the test entry is); a name inside a wildcard's
//! range that is not an address (`x.3.2.1`, `5.4.3.2.1`, a shorter prefix)
//! gets the wildcard's answer where fadelist says NXDOMAIN or NODATA; and
//! domain entries made of digits only share the address tree.
//!
//! The walk streams: it keeps the segment boundaries (a few bytes per
//! entry) and, for domains, the set of existing names, never the records.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::dataset::{Answer, EXCLUDED};
use crate::snapshot::{Hits, Resolution, Snapshot, Zone};

/// RR type A.
pub const TYPE_A: u16 = 1;
/// RR type NS.
pub const TYPE_NS: u16 = 2;
/// RR type SOA.
pub const TYPE_SOA: u16 = 6;
/// RR type HINFO (the wildcard stopper of unlisted domain entries).
pub const TYPE_HINFO: u16 = 13;
/// RR type TXT.
pub const TYPE_TXT: u16 = 16;

/// One record of the zone.
#[derive(Clone, Copy, Debug)]
pub struct Rr<'a> {
    /// The owner name relative to the zone, in wire form without the zone
    /// labels and without the root label (empty: the apex).
    pub owner: &'a [u8],
    /// RR type.
    pub rtype: u16,
    /// TTL.
    pub ttl: u32,
    /// RDATA in wire form; names in it are absolute and uncompressed.
    pub rdata: &'a [u8],
}

/// A name in wire form (`example.com` → `\x07example\x03com\x00`).
pub fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len().min(63) as u8);
        out.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    out.push(0);
    out
}

/// The RDATA of the zone's SOA record.
pub fn soa_rdata(zone: &Zone) -> Vec<u8> {
    let s = &zone.soa;
    let mut out = wire_name(&s.mname);
    out.extend_from_slice(&wire_name(&s.rname));
    for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

/// The records of a listed name as fadelist answers them: one TTL (the
/// shortest of the hits'), A values and TXT texts each without duplicates,
/// in dataset order. `subject` replaces the text `$` stands for when set
/// (a wildcard's network).
pub fn answer_records(
    hits: &Hits<'_>,
    rel: &[&[u8]],
    subject: Option<&str>,
) -> (u32, Vec<Ipv4Addr>, Vec<String>) {
    let ttl = hits.iter().map(|h| h.ttl).min().unwrap_or(0);
    let mut a: Vec<Ipv4Addr> = Vec::new();
    let mut txt: Vec<String> = Vec::new();
    for hit in hits.iter() {
        for ip in hit.answer.a.iter() {
            if !a.contains(ip) {
                a.push(*ip);
            }
        }
        if hit.answer.txt.is_empty() {
            continue;
        }
        let mut text = String::new();
        match subject {
            Some(s) => text.push_str(s),
            None => hit.subject.write_text(rel, &mut text),
        }
        for template in hit.answer.txt.iter() {
            let mut t = String::new();
            crate::rbldnsd::expand_txt(template, &text, &mut t);
            if !txt.contains(&t) {
                txt.push(t);
            }
        }
    }
    (ttl, a, txt)
}

/// TXT RDATA: the text in character-strings of at most 255 bytes (one
/// empty string for an empty text), as the DNS front encodes it.
pub fn txt_rdata(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 255 + 1);
    if bytes.is_empty() {
        out.push(0);
    }
    for chunk in bytes.chunks(255) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
    out
}

/// A part of a zone whose records depend only on the data inside it: what
/// an incremental transfer re-walks when a key changes. The parts are
/// disjoint and together they are the whole zone (apex NS aside).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    /// The IPv4 names of one /8 (the zone apex never carries a wildcard,
    /// so what is written below `a.zone` depends only on `a.0.0.0/8`).
    V4(u8),
    /// The IPv6 names below one top nibble.
    V6(u8),
    /// Domain names: the one-label name (as a reversed key, `\x03com`)
    /// and its wildcard, or everything at and below a two-label name
    /// (`\x03com\x07example`).
    Domain(Vec<u8>),
}

impl Region {
    /// The region of an IPv4 address.
    pub fn of_v4(ip: Ipv4Addr) -> Region {
        Region::V4(ip.octets()[0])
    }

    /// The region of an IPv6 address or network (its top nibble).
    pub fn of_v6(ip: u128) -> Region {
        Region::V6((ip >> 124) as u8)
    }

    /// The region of a domain name relative to the zone (`example.com`);
    /// `None` for a name that is not a valid key.
    pub fn of_domain(name: &str) -> Option<Region> {
        let key = crate::dataset::dnset::key_of_name(name)?;
        // The first two labels of the reversed key.
        let mut end = 0;
        for _ in 0..2 {
            if end < key.len() {
                end += 1 + usize::from(key[end]);
            }
        }
        Some(Region::Domain(key[..end.min(key.len())].to_vec()))
    }
}

/// Writes the records of one [`Region`] of zone `zone_index`, as
/// [`walk_zone`] writes them.
pub fn walk_region(
    snapshot: &Snapshot,
    zone_index: usize,
    region: &Region,
    out: &mut dyn FnMut(Rr<'_>),
) {
    let mut w = Walker::new(snapshot, zone_index, out);
    match region {
        Region::V4(a) => w.v4_in(Some(*a)),
        Region::V6(n) => w.v6_in(Some(*n)),
        Region::Domain(p) => w.domains_in(Some(p)),
    }
}

/// Writes every record of zone `zone_index` of `snapshot` except its SOA
/// (the transfer puts the SOA first and last): the apex NS records, then
/// the IPv4, IPv6 and domain data, through `out`.
pub fn walk_zone(snapshot: &Snapshot, zone_index: usize, out: &mut dyn FnMut(Rr<'_>)) {
    let mut w = Walker::new(snapshot, zone_index, out);
    let zone = w.zone;
    for ns in &zone.ns {
        let rdata = wire_name(ns);
        (w.out)(Rr {
            owner: &[],
            rtype: TYPE_NS,
            ttl: zone.ns_ttl,
            rdata: &rdata,
        });
    }
    w.v4();
    w.v6();
    w.domains();
}

/// What a segment of the address space answers: the datasets that list it
/// and with which answer (an opaque interned id; equal ids, equal records).
type ValueId = u32;

struct Walker<'s, 'o> {
    snapshot: &'s Snapshot,
    zone: &'s Zone,
    zone_labels: Vec<Vec<u8>>,
    out: &'o mut dyn FnMut(Rr<'_>),
    owner: Vec<u8>,
    rdata: Vec<u8>,
    /// Leaf records of values without `$`, for the current address walk.
    leaf_cache: HashMap<ValueId, Vec<(u16, u32, Vec<u8>)>>,
}

/// A run of addresses with one value.
#[derive(Clone, Copy, Debug)]
struct Seg<K> {
    lo: K,
    hi: K,
    v: ValueId,
}

/// How a child block of a node is covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cover {
    /// Every address of the child answers this value.
    Uniform(ValueId),
    /// Part of the child is listed: these segments (indices into the
    /// node's slice) lie in it.
    Mixed(usize, usize),
}

/// Interns the combined value of a point: (layer, dataset, answer id) per
/// listing layer.
#[derive(Default)]
struct Interner<'s> {
    ids: HashMap<Vec<(usize, usize, u32)>, ValueId>,
    /// Whether a value's TXT templates use `$`.
    dollar: Vec<bool>,
    /// A value's hits (TTL, answer), in dataset order, when its records can
    /// be built from them directly (not the built-in test entry).
    hits: Vec<Option<Vec<(u32, &'s Answer)>>>,
}

impl<'s> Interner<'s> {
    fn id(
        &mut self,
        key: Vec<(usize, usize, u32)>,
        dollar: bool,
        hits: impl FnOnce() -> Option<Vec<(u32, &'s Answer)>>,
    ) -> ValueId {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.dollar.len() as ValueId;
        self.dollar.push(dollar);
        self.hits.push(hits());
        self.ids.insert(key, id);
        id
    }
}

/// The records of hits that all stand for `subject` (an address): what
/// [`answer_records`] gives for them.
fn records_of(hits: &[(u32, &Answer)], subject: &str) -> (u32, Vec<Ipv4Addr>, Vec<String>) {
    let ttl = hits.iter().map(|h| h.0).min().unwrap_or(0);
    let mut a: Vec<Ipv4Addr> = Vec::new();
    let mut txt: Vec<String> = Vec::new();
    for (_, answer) in hits.iter().take(crate::snapshot::MAX_HITS) {
        for ip in answer.a.iter() {
            if !a.contains(ip) {
                a.push(*ip);
            }
        }
        for template in answer.txt.iter() {
            let mut t = String::new();
            crate::rbldnsd::expand_txt(template, subject, &mut t);
            if !txt.contains(&t) {
                txt.push(t);
            }
        }
    }
    (ttl, a, txt)
}

const TEST_NEVER_V4: u32 = 0x7f00_0001;
const TEST_LISTED_V4: u32 = 0x7f00_0002;
const MAPPED: u128 = 0xffff_0000_0000;

impl<'s, 'o> Walker<'s, 'o> {
    fn new(snapshot: &'s Snapshot, zone_index: usize, out: &'o mut dyn FnMut(Rr<'_>)) -> Self {
        let zone = &snapshot.zones[zone_index];
        Walker {
            snapshot,
            zone,
            zone_labels: zone
                .name()
                .split('.')
                .map(|l| l.as_bytes().to_vec())
                .collect(),
            out,
            owner: Vec::new(),
            rdata: Vec::new(),
            leaf_cache: HashMap::new(),
        }
    }

    /// Emits the current owner with these records.
    fn emit_records(&mut self, (ttl, a, txt): (u32, Vec<Ipv4Addr>, Vec<String>)) {
        for ip in a {
            (self.out)(Rr {
                owner: &self.owner,
                rtype: TYPE_A,
                ttl,
                rdata: &ip.octets(),
            });
        }
        for t in txt {
            self.rdata = txt_rdata(&t);
            (self.out)(Rr {
                owner: &self.owner,
                rtype: TYPE_TXT,
                ttl,
                rdata: &self.rdata,
            });
        }
    }

    /// Writes the current owner (an address) with the records of value `v`
    /// of `int`; `subject` writes the address's text for `$`. Records
    /// without `$` are built once per value.
    fn emit_leaf(&mut self, int: &Interner<'_>, v: ValueId, subject: impl FnOnce(&mut String)) {
        let Some(hits) = &int.hits[v as usize] else {
            return;
        };
        if int.dollar[v as usize] {
            let mut text = String::new();
            subject(&mut text);
            let records = records_of(hits, &text);
            self.emit_records(records);
            return;
        }
        let built = self.leaf_cache.entry(v).or_insert_with(|| {
            let (ttl, a, txt) = records_of(hits, "");
            let mut built: Vec<(u16, u32, Vec<u8>)> = Vec::new();
            built.extend(a.iter().map(|ip| (TYPE_A, ttl, ip.octets().to_vec())));
            built.extend(txt.iter().map(|t| (TYPE_TXT, ttl, txt_rdata(t))));
            built
        });
        for (rtype, ttl, rdata) in built.iter() {
            (self.out)(Rr {
                owner: &self.owner,
                rtype: *rtype,
                ttl: *ttl,
                rdata,
            });
        }
    }

    /// Resolves `rel` (labels in front of the zone) as the query path does.
    fn resolve_rel<R>(&self, rel: &[&[u8]], f: impl FnOnce(Option<(&Hits<'_>, usize)>) -> R) -> R {
        let mut labels: Vec<&[u8]> = rel.to_vec();
        labels.extend(self.zone_labels.iter().map(Vec::as_slice));
        match self.snapshot.resolve(&labels) {
            Resolution::Listed {
                hits, rel_labels, ..
            } => f(Some((&hits, rel_labels))),
            _ => f(None),
        }
    }

    /// Writes `rel` (an explicit name) with fadelist's answer for it, when
    /// it is listed; `subject` as in [`answer_records`], with the records
    /// taken from `probe` (a name answered like the ones `rel` stands for)
    /// when given.
    fn emit_name(&mut self, rel: &[&[u8]], probe: Option<&[&[u8]]>, subject: Option<&str>) {
        set_owner(&mut self.owner, rel);
        let q = probe.unwrap_or(rel);
        let records = self.resolve_rel(q, |found| {
            found.map(|(hits, rel_labels)| answer_records(hits, &q[..rel_labels], subject))
        });
        if let Some(records) = records {
            self.emit_records(records);
        }
    }

    // ---------------------------------------------------------------- IPv4

    fn v4(&mut self) {
        self.v4_in(None);
    }

    /// The IPv4 names, all or those of one /8.
    fn v4_in(&mut self, slash8: Option<u8>) {
        // Value ids are per walk: the cache of the previous walk's ids
        // must go.
        self.leaf_cache.clear();
        let (rlo, rhi) = match slash8 {
            Some(a) => (u32::from(a) << 24, (u32::from(a) << 24) | 0x00ff_ffff),
            None => (0, u32::MAX),
        };
        let mut cuts: Vec<u64> = vec![
            u64::from(rlo),
            u64::from(TEST_NEVER_V4),
            u64::from(TEST_LISTED_V4),
        ];
        cuts.push(u64::from(TEST_LISTED_V4) + 1);
        for layer in &self.zone.datasets {
            for ds in std::iter::once(layer.base()).chain(layer.delta()) {
                ds.v4.any_exact_in(rlo, rhi, |k, _| {
                    cuts.push(u64::from(k));
                    cuts.push(u64::from(k) + 1);
                    false
                });
                ds.v4.for_each_interval(|a, b, _| {
                    if b >= rlo && a <= rhi {
                        cuts.push(u64::from(a.max(rlo)));
                        cuts.push(u64::from(b.min(rhi)) + 1);
                    }
                });
            }
        }
        cuts.retain(|&c| c >= u64::from(rlo) && c <= u64::from(rhi));
        cuts.sort_unstable();
        cuts.dedup();
        let mut int = Interner {
            ids: HashMap::new(),
            dollar: Vec::new(),
            hits: Vec::new(),
        };
        let mut segs: Vec<Seg<u32>> = Vec::new();
        for (i, &lo) in cuts.iter().enumerate() {
            let hi = cuts
                .get(i + 1)
                .map_or(u64::from(rhi), |n| n - 1)
                .min(u64::from(rhi));
            let (lo, hi) = (lo as u32, hi as u32);
            let Some(v) = self.v4_value(&mut int, lo) else {
                continue;
            };
            match segs.last_mut() {
                Some(last) if last.v == v && u64::from(last.hi) + 1 == u64::from(lo) => {
                    last.hi = hi
                }
                _ => segs.push(Seg { lo, hi, v }),
            }
        }
        drop(cuts);
        match slash8 {
            None => self.v4_node(&int, &mut Vec::new(), 0, 0, u64::from(u32::MAX), &segs),
            // What the apex's walk does for this child.
            Some(a) if !segs.is_empty() => {
                self.v4_node(&int, &mut vec![a], 1, u64::from(rlo), u64::from(rhi), &segs)
            }
            Some(_) => {}
        }
    }

    /// The value of IPv4 address `ip`, `None` when unlisted.
    fn v4_value(&self, int: &mut Interner<'s>, ip: u32) -> Option<ValueId> {
        let zone: &'s Zone = self.zone;
        if ip == TEST_NEVER_V4 {
            return None;
        }
        let mut key = Vec::new();
        let mut hits = Vec::new();
        let mut dollar = false;
        for (i, layer) in zone.datasets.iter().enumerate() {
            if let Some((ds, v)) = layer.find_v4(ip)
                && v != EXCLUDED
                && let Some(ans) = ds.answer(v)
            {
                key.push((i, std::ptr::from_ref(ds) as usize, v));
                hits.push((ds.ttl_of(v), ans));
                dollar |= ans.txt.iter().any(|t| t.contains('$'));
            }
        }
        if key.is_empty() {
            if ip != TEST_LISTED_V4 {
                return None;
            }
            key.push((usize::MAX, 0, 0));
            return Some(int.id(key, dollar, || None));
        }
        Some(int.id(key, dollar, || Some(hits)))
    }

    /// Writes the node `path` (octets from the top, `level` of them) that
    /// covers `lo..=hi`, given the listed segments inside it.
    fn v4_node(
        &mut self,
        int: &Interner,
        path: &mut Vec<u8>,
        level: usize,
        lo: u64,
        hi: u64,
        segs: &[Seg<u32>],
    ) {
        let child = (hi - lo + 1) >> 8;
        let ambiguous = path.iter().all(|&o| o < 10);
        let leaf = level == 3;
        // One value over the whole node (inside a range): no need to look
        // at the 256 children when a wildcard can say it.
        let full = matches!(segs, [s] if u64::from(s.lo) <= lo && u64::from(s.hi) >= hi);
        let (covers, wildcard) = if full && level >= 1 && !ambiguous {
            (Vec::new(), Some(segs[0].v))
        } else {
            let covers = children(lo, child, 256, segs, |s| (u64::from(s.lo), u64::from(s.hi)));
            let wildcard = (level >= 1 && !ambiguous && covers.len() == 256)
                .then(|| most_common(&covers))
                .flatten();
            (covers, wildcard)
        };
        if let Some(v) = wildcard {
            let sample = covers
                .iter()
                .find(|(_, c)| *c == Cover::Uniform(v))
                .map_or(0, |(i, _)| *i);
            let text = format!("{}/{}", Ipv4Addr::from(pad4(path)), 8 * level);
            let mut probe = path.clone();
            probe.push(sample as u8);
            while probe.len() < 4 {
                probe.push(0);
            }
            let probe_rel = v4_rel(&probe);
            let mut rel: Vec<&[u8]> = vec![b"*"];
            let node_rel = v4_rel(path);
            rel.extend(node_rel.iter().map(Vec::as_slice));
            let probe_refs: Vec<&[u8]> = probe_rel.iter().map(Vec::as_slice).collect();
            let dollar = int.dollar[v as usize];
            self.emit_name(&rel, Some(&probe_refs), dollar.then_some(text.as_str()));
        }
        for (i, cover) in covers {
            if wildcard.is_some_and(|w| cover == Cover::Uniform(w)) {
                continue;
            }
            let clo = lo + i as u64 * child;
            path.push(i as u8);
            match cover {
                Cover::Uniform(v) if leaf && int.hits[v as usize].is_some() => {
                    self.owner.clear();
                    for &o in path.iter().rev() {
                        push_octet_label(&mut self.owner, o);
                    }
                    let ip = Ipv4Addr::new(path[0], path[1], path[2], path[3]);
                    self.emit_leaf(int, v, |t| push_v4_text(t, ip));
                }
                _ if leaf => {
                    let rel = v4_rel(path);
                    let refs: Vec<&[u8]> = rel.iter().map(Vec::as_slice).collect();
                    self.emit_name(&refs, None, None);
                }
                Cover::Uniform(v) => {
                    let one = [Seg {
                        lo: clo as u32,
                        hi: (clo + child - 1) as u32,
                        v,
                    }];
                    self.v4_node(int, path, level + 1, clo, clo + child - 1, &one);
                }
                Cover::Mixed(a, b) => {
                    self.v4_node(int, path, level + 1, clo, clo + child - 1, &segs[a..b]);
                }
            }
            path.pop();
        }
    }

    // ---------------------------------------------------------------- IPv6

    fn v6(&mut self) {
        self.v6_in(None);
    }

    /// The IPv6 names, all or those below one top nibble.
    fn v6_in(&mut self, top: Option<u8>) {
        self.leaf_cache.clear();
        let (rlo, rhi) = match top {
            Some(n) => (
                u128::from(n) << 124,
                (u128::from(n) << 124) | (u128::MAX >> 4),
            ),
            None => (0, u128::MAX),
        };
        let mut cuts: Vec<u128> = Vec::new();
        let mut push = |a: u128, b: u128| {
            cuts.push(a);
            if let Some(n) = b.checked_add(1) {
                cuts.push(n);
            }
        };
        let (never, test) = (
            MAPPED | u128::from(TEST_NEVER_V4),
            MAPPED | u128::from(TEST_LISTED_V4),
        );
        push(never, never);
        push(test, test);
        let mut any = false;
        for layer in &self.zone.datasets {
            for ds in std::iter::once(layer.base()).chain(layer.delta()) {
                ds.v6.for_each(|a, b, _| {
                    any = true;
                    push(a, b);
                });
            }
        }
        cuts.push(rlo);
        cuts.retain(|&c| c >= rlo && c <= rhi);
        cuts.sort_unstable();
        cuts.dedup();
        let mut int = Interner {
            ids: HashMap::new(),
            dollar: Vec::new(),
            hits: Vec::new(),
        };
        let mut segs: Vec<Seg<u128>> = Vec::new();
        for (i, &lo) in cuts.iter().enumerate() {
            let hi = cuts.get(i + 1).map_or(rhi, |n| n - 1).min(rhi);
            // Without IPv6 data only the test entry is listed.
            let Some(v) = self.v6_value(&mut int, lo, any) else {
                continue;
            };
            match segs.last_mut() {
                Some(last) if last.v == v && last.hi.checked_add(1) == Some(lo) => last.hi = hi,
                _ => segs.push(Seg { lo, hi, v }),
            }
        }
        drop(cuts);
        match top {
            None => self.v6_node(&int, &mut Vec::new(), 0, &segs),
            Some(n) if !segs.is_empty() => self.v6_node(&int, &mut vec![n], 1, &segs),
            Some(_) => {}
        }
    }

    fn v6_value(&self, int: &mut Interner<'s>, ip: u128, any: bool) -> Option<ValueId> {
        let zone: &'s Zone = self.zone;
        if ip == MAPPED | u128::from(TEST_NEVER_V4) {
            return None;
        }
        let mut key = Vec::new();
        let mut hits = Vec::new();
        let mut dollar = false;
        if any {
            for (i, layer) in zone.datasets.iter().enumerate() {
                if let Some((ds, v)) = layer.find_v6(ip)
                    && v != EXCLUDED
                    && let Some(ans) = ds.answer(v)
                {
                    key.push((i, std::ptr::from_ref(ds) as usize, v));
                    hits.push((ds.ttl_of(v), ans));
                    dollar |= ans.txt.iter().any(|t| t.contains('$'));
                }
            }
        }
        if key.is_empty() {
            if ip != MAPPED | u128::from(TEST_LISTED_V4) {
                return None;
            }
            // fadelist answers the mapped form with the IPv4 data, or the
            // test answer; the name is written exactly (resolved).
            key.push((usize::MAX, 0, 0));
            return Some(int.id(key, dollar, || None));
        }
        // In the IPv4-mapped range fadelist also asks the IPv4 data of the
        // other datasets: such names are resolved one by one.
        let mapped = ip >> 32 == MAPPED >> 32;
        Some(int.id(key, dollar, || (!mapped).then_some(hits)))
    }

    /// Writes the nibble node `path` (nibbles from the top).
    fn v6_node(&mut self, int: &Interner, path: &mut Vec<u8>, _depth: usize, segs: &[Seg<u128>]) {
        let depth = path.len();
        let lo: u128 = nibbles_to_addr(path);
        let span_bits = 128 - 4 * depth as u32;
        let child_bits = span_bits - 4;
        let ambiguous = depth <= 3 && path.iter().all(|&n| n < 10);
        let leaf = depth == 31;
        let node_hi = if span_bits >= 128 {
            u128::MAX
        } else {
            lo | ((1u128 << span_bits) - 1)
        };
        let full = matches!(segs, [s] if s.lo <= lo && s.hi >= node_hi);
        let (covers, wildcard) = if full && depth >= 1 && !ambiguous {
            (Vec::new(), Some(segs[0].v))
        } else {
            let covers = children128(lo, child_bits, segs);
            let wildcard = (depth >= 1 && !ambiguous && covers.len() == 16)
                .then(|| most_common(&covers))
                .flatten();
            (covers, wildcard)
        };
        if let Some(v) = wildcard {
            let sample = covers
                .iter()
                .find(|(_, c)| *c == Cover::Uniform(v))
                .map_or(0, |(i, _)| *i);
            let text = format!("{}/{}", Ipv6Addr::from(lo), 4 * depth);
            let probe_addr = lo | ((sample as u128) << child_bits);
            let probe = v6_rel(&addr_nibbles(probe_addr));
            let probe_refs: Vec<&[u8]> = probe.iter().map(Vec::as_slice).collect();
            let node = v6_rel(path);
            let mut rel: Vec<&[u8]> = vec![b"*"];
            rel.extend(node.iter().map(Vec::as_slice));
            let dollar = int.dollar[v as usize];
            self.emit_name(&rel, Some(&probe_refs), dollar.then_some(text.as_str()));
        }
        for (i, cover) in covers {
            if wildcard.is_some_and(|w| cover == Cover::Uniform(w)) {
                continue;
            }
            path.push(i as u8);
            match cover {
                Cover::Uniform(v) if leaf && int.hits[v as usize].is_some() => {
                    self.owner.clear();
                    for &n in path.iter().rev() {
                        self.owner.push(1);
                        self.owner.push(b"0123456789abcdef"[usize::from(n)]);
                    }
                    let ip = Ipv6Addr::from(nibbles_to_addr(path));
                    self.emit_leaf(int, v, |t| {
                        let _ = write!(t, "{ip}");
                    });
                }
                _ if leaf => {
                    let rel = v6_rel(path);
                    let refs: Vec<&[u8]> = rel.iter().map(Vec::as_slice).collect();
                    self.emit_name(&refs, None, None);
                }
                Cover::Uniform(v) => {
                    let clo = nibbles_to_addr(path);
                    let chi = clo | ((1u128 << child_bits) - 1);
                    let one = [Seg {
                        lo: clo,
                        hi: chi,
                        v,
                    }];
                    self.v6_node(int, path, depth + 1, &one);
                }
                Cover::Mixed(a, b) => self.v6_node(int, path, depth + 1, &segs[a..b]),
            }
            path.pop();
        }
    }

    // ------------------------------------------------------------- domains

    fn domains(&mut self) {
        self.domains_in(None);
    }

    /// The domain names, all or those of one region (a one-label name
    /// alone, or a two-label name and everything below it).
    fn domains_in(&mut self, region: Option<&[u8]>) {
        // Every name that will exist: exact entries, wildcard parents and
        // all their ancestors (as reversed wire keys, which sort parents
        // first), plus `test`.
        let prefix = region.unwrap_or_default();
        let labels_of = |k: &[u8]| {
            let (mut i, mut n) = (0, 0);
            while i < k.len() {
                i += 1 + usize::from(k[i]);
                n += 1;
            }
            n
        };
        let one_label = region.is_some_and(|r| labels_of(r) == 1);
        let owned = |k: &[u8]| match region {
            None => true,
            Some(r) if one_label => k == r,
            Some(r) => k.starts_with(r),
        };
        let mut exact: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut exists: BTreeSet<Vec<u8>> = BTreeSet::new();
        if b"\x04test".starts_with(prefix) {
            exact.insert(b"\x04test".to_vec());
        }
        for layer in &self.zone.datasets {
            for ds in std::iter::once(layer.base()).chain(layer.delta()) {
                // Keys that start with the region's bytes but continue the
                // same label (`\x07exampleX`) cannot occur: the length byte
                // is part of the prefix.
                for (k, _) in ds.domains.exact.with_prefix(prefix) {
                    exact.insert(k.to_vec());
                }
                for (k, _) in ds.domains.wild.with_prefix(prefix) {
                    add_with_ancestors(&mut exists, k);
                }
            }
        }
        for k in &exact {
            add_with_ancestors(&mut exists, k);
        }
        exists.remove(b"".as_slice());
        for key in &exists {
            if !owned(key) {
                continue;
            }
            let rel = key_labels(key);
            let refs: Vec<&[u8]> = rel.iter().map(Vec::as_slice).collect();
            // The name itself.
            let listed = self.resolve_rel(&refs, |h| h.is_some());
            if listed {
                self.emit_name(&refs, None, None);
            } else if exact.contains(key)
                && !self.has_child(&exists, key)
                && self.covered(&exists, key)
            {
                // An unlisted entry inside a listed wildcard: make it exist.
                set_owner(&mut self.owner, &refs);
                let rdata = b"\x08excluded\x08fadelist";
                (self.out)(Rr {
                    owner: &self.owner,
                    rtype: TYPE_HINFO,
                    ttl: self.zone.soa.minimum,
                    rdata,
                });
            }
            // Names below it that do not exist in the zone.
            let mut wild: Vec<&[u8]> = vec![b"*"];
            wild.extend(refs.iter().copied());
            if self.resolve_rel(&wild, |h| h.is_some()) {
                self.emit_name(&wild, None, None);
            }
        }
    }

    /// True when some name of `exists` lies below `key`.
    fn has_child(&self, exists: &BTreeSet<Vec<u8>>, key: &[u8]) -> bool {
        exists
            .range(key.to_vec()..)
            .nth(1)
            .is_some_and(|k| k.starts_with(key) && k.len() > key.len())
    }

    /// True when a name of `key` that did not exist would be answered by a
    /// listed wildcard: its closest existing ancestor's `*` is listed.
    fn covered(&self, exists: &BTreeSet<Vec<u8>>, key: &[u8]) -> bool {
        let mut ends = Vec::new();
        let mut i = 0;
        while i < key.len() {
            i += 1 + usize::from(key[i]);
            ends.push(i);
        }
        // Ancestors, closest first (the apex, length 0, always exists).
        let ancestor = ends[..ends.len().saturating_sub(1)]
            .iter()
            .rev()
            .copied()
            .find(|&e| exists.contains(&key[..e]))
            .unwrap_or(0);
        let rel = key_labels(&key[..ancestor]);
        let mut wild: Vec<&[u8]> = vec![b"*"];
        wild.extend(rel.iter().map(Vec::as_slice));
        self.resolve_rel(&wild, |h| h.is_some())
    }
}

/// Inserts a reversed key and every ancestor key (label boundaries).
fn add_with_ancestors(set: &mut BTreeSet<Vec<u8>>, key: &[u8]) {
    let mut i = 0;
    while i < key.len() {
        i += 1 + usize::from(key[i]);
        let k = &key[..i.min(key.len())];
        if !set.contains(k) {
            set.insert(k.to_vec());
        }
    }
}

/// The labels of a reversed key, leftmost (most specific) first.
fn key_labels(key: &[u8]) -> Vec<Vec<u8>> {
    let mut labels = Vec::new();
    let mut i = 0;
    while i < key.len() {
        let n = usize::from(key[i]);
        let end = (i + 1 + n).min(key.len());
        labels.push(key[i + 1..end].to_vec());
        i = end;
    }
    labels.reverse();
    labels
}

/// Sets `owner` to the wire form of `rel` (no root label).
fn set_owner(owner: &mut Vec<u8>, rel: &[&[u8]]) {
    owner.clear();
    for l in rel {
        owner.push(l.len() as u8);
        owner.extend_from_slice(l);
    }
}

/// Appends the label of an octet (`\x03192`).
fn push_octet_label(owner: &mut Vec<u8>, o: u8) {
    let mut digits = [0u8; 3];
    let mut n = 0;
    if o >= 100 {
        digits[n] = b'0' + o / 100;
        n += 1;
    }
    if o >= 10 {
        digits[n] = b'0' + o / 10 % 10;
        n += 1;
    }
    digits[n] = b'0' + o % 10;
    n += 1;
    owner.push(n as u8);
    owner.extend_from_slice(&digits[..n]);
}

/// Appends an IPv4 address in dotted-quad form.
fn push_v4_text(out: &mut String, ip: Ipv4Addr) {
    let _ = write!(out, "{ip}");
}

/// The octets of `path` followed by zeros.
fn pad4(path: &[u8]) -> [u8; 4] {
    let mut o = [0u8; 4];
    o[..path.len()].copy_from_slice(path);
    o
}

/// The labels of an IPv4 node (octets from the top), leftmost first.
fn v4_rel(path: &[u8]) -> Vec<Vec<u8>> {
    path.iter()
        .rev()
        .map(|o| o.to_string().into_bytes())
        .collect()
}

/// The labels of an IPv6 node (nibbles from the top), leftmost first.
fn v6_rel(path: &[u8]) -> Vec<Vec<u8>> {
    path.iter()
        .rev()
        .map(|&n| vec![b"0123456789abcdef"[usize::from(n)]])
        .collect()
}

fn nibbles_to_addr(path: &[u8]) -> u128 {
    path.iter()
        .enumerate()
        .fold(0u128, |a, (i, &n)| a | (u128::from(n) << (124 - 4 * i)))
}

fn addr_nibbles(a: u128) -> Vec<u8> {
    (0..32)
        .map(|i| ((a >> (124 - 4 * i)) & 0xf) as u8)
        .collect()
}

/// The value most children are uniformly covered by.
fn most_common(covers: &[(usize, Cover)]) -> Option<ValueId> {
    // A node's children have few distinct values (values are answers,
    // not addresses): a short list beats hashing 256 children.
    let mut counts: Vec<(ValueId, usize)> = Vec::new();
    for (_, c) in covers {
        if let Cover::Uniform(v) = *c {
            match counts.iter_mut().find(|(x, _)| *x == v) {
                Some(e) => e.1 += 1,
                None => counts.push((v, 1)),
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|&(v, n)| (n, std::cmp::Reverse(v)))
        .map(|(v, _)| v)
}

/// The children (of `n` children of `size` addresses each, from `lo`) that
/// hold listed addresses, with how they are covered. Segments are sorted,
/// disjoint and inside the node.
fn children<S>(
    lo: u64,
    size: u64,
    n: usize,
    segs: &[S],
    bounds: impl Fn(&S) -> (u64, u64),
) -> Vec<(usize, Cover)>
where
    S: HasValue,
{
    let mut out: Vec<(usize, Cover)> = Vec::new();
    let node_hi = lo + size * n as u64 - 1;
    let mut i = 0;
    while i < segs.len() {
        // A child's segments are passed whole: the first and last may
        // reach beyond the node.
        let (slo, shi) = bounds(&segs[i]);
        let (slo, shi) = (slo.max(lo), shi.min(node_hi));
        let first = ((slo - lo) / size) as usize;
        let last = (((shi - lo) / size) as usize).min(n - 1);
        for c in first..=last {
            let (clo, chi) = (lo + c as u64 * size, lo + (c as u64 + 1) * size - 1);
            if out.last().is_some_and(|(k, _)| *k == c) {
                continue;
            }
            if slo <= clo && shi >= chi {
                out.push((c, Cover::Uniform(segs[i].value())));
            } else {
                // Every segment that touches this child.
                let mut j = i;
                while j < segs.len() && bounds(&segs[j]).0 <= chi {
                    j += 1;
                }
                let mut a = i;
                while a > 0 && bounds(&segs[a - 1]).1 >= clo {
                    a -= 1;
                }
                out.push((c, Cover::Mixed(a, j)));
            }
        }
        i += 1;
    }
    out
}

/// [`children`] for IPv6 nodes (16 children of `2^bits` addresses).
fn children128(lo: u128, bits: u32, segs: &[Seg<u128>]) -> Vec<(usize, Cover)> {
    let size_m1 = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let mut out: Vec<(usize, Cover)> = Vec::new();
    let node_hi = lo + ((size_m1 << 4) | 0xf);
    for (i, s) in segs.iter().enumerate() {
        let (slo, shi) = (s.lo.max(lo), s.hi.min(node_hi));
        let first = ((slo - lo) >> bits) as usize;
        let last = (((shi - lo) >> bits) as usize).min(15);
        for c in first..=last {
            let clo = lo + ((c as u128) << bits);
            let chi = clo + size_m1;
            if out.last().is_some_and(|(k, _)| *k == c) {
                continue;
            }
            if slo <= clo && shi >= chi {
                out.push((c, Cover::Uniform(s.v)));
            } else {
                let mut j = i;
                while j < segs.len() && segs[j].lo <= chi {
                    j += 1;
                }
                let mut a = i;
                while a > 0 && segs[a - 1].hi >= clo {
                    a -= 1;
                }
                out.push((c, Cover::Mixed(a, j)));
            }
        }
    }
    out
}

trait HasValue {
    fn value(&self) -> ValueId;
}

impl<K> HasValue for Seg<K> {
    fn value(&self) -> ValueId {
        self.v
    }
}

#[cfg(test)]
mod tests {
    //! The walk against a model of a stock secondary: the written records
    //! answered with RFC 4592 wildcard rules must give the A and TXT
    //! answers of `Snapshot::resolve` on every name a DNSBL client asks.

    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use super::*;
    use crate::data::{
        AnswerSpec, DatasetData, DomainEntry, DomainMatch, EntryValue, Ip4Entry, Ip6Entry,
    };
    use crate::dataset::Dataset;
    use crate::dataset::layer::Layer;
    use crate::snapshot::Soa;
    use crate::testrng::TestRng;

    /// A values and TXT RDATAs of a name.
    type Records = (BTreeSet<[u8; 4]>, BTreeSet<Vec<u8>>);

    /// A secondary's view: owner (labels, lower-case, leftmost first) →
    /// its records.
    #[derive(Default)]
    struct Secondary {
        names: BTreeMap<Vec<Vec<u8>>, Records>,
        exists: BTreeSet<Vec<Vec<u8>>>,
        count: usize,
    }

    fn labels_of(owner: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < owner.len() {
            let n = usize::from(owner[i]);
            out.push(owner[i + 1..i + 1 + n].to_ascii_lowercase());
            i += 1 + n;
        }
        out
    }

    impl Secondary {
        fn load(snapshot: &Snapshot, zone: usize) -> Secondary {
            let mut s = Secondary::default();
            walk_zone(snapshot, zone, &mut |rr| {
                s.count += 1;
                let name = labels_of(rr.owner);
                for k in 0..=name.len() {
                    s.exists.insert(name[k..].to_vec());
                }
                let e = s.names.entry(name).or_default();
                match rr.rtype {
                    TYPE_A => {
                        e.0.insert(rr.rdata.try_into().unwrap());
                    }
                    TYPE_TXT => {
                        e.1.insert(rr.rdata.to_vec());
                    }
                    _ => {}
                }
            });
            s
        }

        /// RFC 4592 4.1: the name itself, else the closest encloser's `*`.
        fn answer(&self, rel: &[Vec<u8>]) -> Records {
            let rel: Vec<Vec<u8>> = rel.iter().map(|l| l.to_ascii_lowercase()).collect();
            if self.exists.contains(&rel) {
                return self.names.get(&rel).cloned().unwrap_or_default();
            }
            let encloser = (1..=rel.len())
                .map(|k| rel[k..].to_vec())
                .find(|n| self.exists.contains(n))
                .unwrap_or_default();
            let mut wild = vec![b"*".to_vec()];
            wild.extend(encloser);
            self.names.get(&wild).cloned().unwrap_or_default()
        }
    }

    fn fadelist(snapshot: &Snapshot, rel: &[Vec<u8>]) -> Records {
        let mut labels: Vec<&[u8]> = rel.iter().map(Vec::as_slice).collect();
        labels.extend(snapshot.zones[0].name().split('.').map(str::as_bytes));
        match snapshot.resolve(&labels) {
            Resolution::Listed {
                hits, rel_labels, ..
            } => {
                let (_, a, txt) = answer_records(&hits, &labels[..rel_labels], None);
                (
                    a.iter().map(|a| a.octets()).collect(),
                    txt.iter().map(|t| txt_rdata(t)).collect(),
                )
            }
            _ => Default::default(),
        }
    }

    /// What kind of answer fadelist gives (listed with which TTL, NODATA
    /// or NXDOMAIN).
    fn outcome(snapshot: &Snapshot, rel: &[Vec<u8>]) -> String {
        let mut labels: Vec<&[u8]> = rel.iter().map(Vec::as_slice).collect();
        labels.extend(snapshot.zones[0].name().split('.').map(str::as_bytes));
        match snapshot.resolve(&labels) {
            Resolution::Listed {
                hits, rel_labels, ..
            } => format!(
                "listed ttl {}",
                answer_records(&hits, &labels[..rel_labels], None).0
            ),
            Resolution::Exists(_) => "NODATA".into(),
            Resolution::NxDomain(_) => "NXDOMAIN".into(),
            _ => "other".into(),
        }
    }

    fn v4_name(ip: u32) -> Vec<Vec<u8>> {
        ip.to_be_bytes()
            .iter()
            .rev()
            .map(|o| o.to_string().into_bytes())
            .collect()
    }

    fn v6_name(ip: u128) -> Vec<Vec<u8>> {
        addr_nibbles(ip)
            .iter()
            .rev()
            .map(|&n| vec![b"0123456789abcdef"[usize::from(n)]])
            .collect()
    }

    fn dom_name(name: &str) -> Vec<Vec<u8>> {
        name.split('.').map(|l| l.as_bytes().to_vec()).collect()
    }

    fn zone_of(layers: Vec<Layer>) -> Snapshot {
        let soa = Soa::default_for("bl.example", 7);
        Snapshot {
            zones: vec![Zone::layered("bl.example", soa, vec![], 3600, layers).unwrap()],
        }
    }

    fn answers() -> Vec<AnswerSpec> {
        vec![
            AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 2), Some("spam source $".into())),
            AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 3), Some("static text".into())),
            AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 4), None),
            AnswerSpec {
                a: vec![Ipv4Addr::new(127, 0, 0, 5), Ipv4Addr::new(127, 0, 0, 2)],
                txt: vec!["two $".into(), "cost $$5".into()],
            },
        ]
    }

    /// A follower's copy of zone 0 of `snapshot`: its records read into a
    /// [`crate::zone_import::ZoneContent`] and turned back into a dataset.
    fn follower_of(snapshot: &Snapshot) -> Snapshot {
        use crate::zone_import::{RData, ZoneContent, txt_from_rdata};
        let mut content = ZoneContent::new();
        walk_zone(snapshot, 0, &mut |rr| {
            let labels = labels_of(rr.owner);
            let refs: Vec<&[u8]> = labels.iter().map(Vec::as_slice).collect();
            let data = match rr.rtype {
                TYPE_A => RData::A(Ipv4Addr::from(<[u8; 4]>::try_from(rr.rdata).unwrap())),
                TYPE_TXT => RData::Txt(txt_from_rdata(rr.rdata).unwrap()),
                TYPE_SOA | TYPE_NS => return,
                t => RData::Other(t),
            };
            content.add(&refs, rr.ttl, data).unwrap();
        });
        zone_of(vec![Layer::new(Arc::new(content.dataset()))])
    }

    /// Compares the secondary with fadelist on `names`, and a follower
    /// fed by the same records (which must answer exactly as fadelist);
    /// returns how many were listed.
    fn compare(snapshot: &Snapshot, names: &[Vec<Vec<u8>>]) -> usize {
        let sec = Secondary::load(snapshot, 0);
        let follower = follower_of(snapshot);
        let mut listed = 0;
        for n in names {
            let want = fadelist(snapshot, n);
            assert_eq!(
                (fadelist(&follower, n), outcome(&follower, n)),
                (want.clone(), outcome(snapshot, n)),
                "follower, name {:?}",
                n.iter()
                    .map(|l| String::from_utf8_lossy(l))
                    .collect::<Vec<_>>()
            );
            let got = sec.answer(n);
            listed += usize::from(!want.0.is_empty());
            let got = (got.0, wildcard_texts(got.1, &want.1, n));
            assert_eq!(
                got,
                want,
                "name {:?}",
                n.iter()
                    .map(|l| String::from_utf8_lossy(l))
                    .collect::<Vec<_>>()
            );
        }
        listed
    }

    /// A wildcard cannot say which address was asked: where its TXT has
    /// `$`, it says the wildcard's network (`10.1.0.0/16`). Such a text
    /// (a network that holds the asked address, where fadelist has the
    /// address) counts as fadelist's text.
    fn wildcard_texts(
        got: BTreeSet<Vec<u8>>,
        want: &BTreeSet<Vec<u8>>,
        name: &[Vec<u8>],
    ) -> BTreeSet<Vec<u8>> {
        let addr: Option<std::net::IpAddr> = if name.len() == 4 {
            let o: Option<Vec<u8>> = name
                .iter()
                .rev()
                .map(|l| std::str::from_utf8(l).ok()?.parse().ok())
                .collect();
            o.map(|o| std::net::IpAddr::from([o[0], o[1], o[2], o[3]]))
        } else if name.len() == 32 {
            let hex: String = name.iter().rev().map(|l| l[0] as char).collect();
            u128::from_str_radix(&hex, 16)
                .ok()
                .map(|a| std::net::IpAddr::from(Ipv6Addr::from(a)))
        } else {
            None
        };
        let Some(addr) = addr else { return got };
        got.into_iter()
            .map(|rdata| {
                let text = String::from_utf8_lossy(&rdata[1..]).to_string();
                let swapped: Vec<String> = text
                    .split(' ')
                    .map(|tok| match tok.split_once('/') {
                        Some((net, len)) => {
                            let inside =
                                match (net.parse::<std::net::IpAddr>(), len.parse::<u32>(), addr) {
                                    (
                                        Ok(std::net::IpAddr::V4(n)),
                                        Ok(l),
                                        std::net::IpAddr::V4(a),
                                    ) if l <= 32 => {
                                        l == 0 || (u32::from(n) ^ u32::from(a)) >> (32 - l) == 0
                                    }
                                    (
                                        Ok(std::net::IpAddr::V6(n)),
                                        Ok(l),
                                        std::net::IpAddr::V6(a),
                                    ) if l <= 128 => {
                                        l == 0 || (u128::from(n) ^ u128::from(a)) >> (128 - l) == 0
                                    }
                                    _ => false,
                                };
                            if inside {
                                addr.to_string()
                            } else {
                                tok.to_string()
                            }
                        }
                        None => tok.to_string(),
                    })
                    .collect();
                let candidate = txt_rdata(&swapped.join(" "));
                if want.contains(&candidate) && candidate != rdata {
                    candidate
                } else {
                    rdata
                }
            })
            .collect()
    }

    /// Names around every entry boundary plus random ones.
    fn v4_probes(entries: &[Ip4Entry], rng: &mut TestRng) -> Vec<Vec<Vec<u8>>> {
        let mut ips: BTreeSet<u32> = [0x7f00_0001, 0x7f00_0002, 0x7f00_0003, 0, u32::MAX].into();
        for e in entries {
            let size = if e.len == 0 {
                u64::MAX
            } else {
                (1u64 << (32 - e.len)) - 1
            };
            let hi = (u64::from(e.net) + size).min(u64::from(u32::MAX)) as u32;
            for ip in [e.net, hi, e.net.wrapping_sub(1), hi.wrapping_add(1)] {
                ips.insert(ip);
            }
            for _ in 0..20 {
                ips.insert(e.net.wrapping_add((rng.next_u64() % (size + 1)) as u32));
            }
        }
        for _ in 0..2000 {
            ips.insert(rng.next_u64() as u32);
        }
        ips.into_iter().map(v4_name).collect()
    }

    #[test]
    fn ipv4_ranges_exclusions_and_datasets() {
        let mut rng = TestRng::new(11);
        let e = |net: [u8; 4], len: u8, value: EntryValue| Ip4Entry {
            net: u32::from_be_bytes(net) & if len == 0 { 0 } else { u32::MAX << (32 - len) },
            len,
            value,
        };
        let l = EntryValue::Listed;
        let x = EntryValue::Excluded;
        let first = vec![
            e([10, 0, 0, 0], 8, l(1)),
            e([10, 1, 2, 0], 24, l(0)),
            e([10, 1, 2, 7], 32, x),
            e([10, 3, 0, 0], 16, x),
            e([192, 0, 2, 0], 25, l(0)),
            e([198, 51, 100, 77], 32, l(3)),
            e([203, 0, 113, 0], 24, l(2)),
            e([203, 0, 113, 200], 32, x),
            e([2, 0, 0, 0], 16, l(1)),
            e([5, 6, 0, 0], 15, l(2)),
            e([172, 16, 0, 0], 12, l(0)),
            e([127, 0, 0, 0], 24, l(1)),
            e([44, 0, 0, 0], 6, l(2)),
        ];
        let second = vec![
            e([10, 1, 2, 0], 26, l(2)),
            e([203, 0, 113, 9], 32, l(0)),
            e([100, 64, 0, 0], 10, l(1)),
        ];
        let ds = |ip4: Vec<Ip4Entry>| {
            Layer::new(Arc::new(Dataset::build(
                &[&DatasetData {
                    answers: answers(),
                    ip4,
                    ..DatasetData::default()
                }],
                300,
            )))
        };
        let snapshot = zone_of(vec![ds(first.clone()), ds(second.clone())]);
        let mut all = first;
        all.extend(second);
        let names = v4_probes(&all, &mut rng);
        let listed = compare(&snapshot, &names);
        assert!(listed > 200, "the probes hit listed names: {listed}");
        // The /8 and /12 went out as wildcards, not millions of names.
        let sec = Secondary::load(&snapshot, 0);
        assert!(sec.count < 400_000, "{} records", sec.count);
        // 10/8 has a hole (10.3/16): its listed /16s are wildcards.
        assert!(
            sec.names.contains_key(&dom_name("*.0.10")),
            "10.0/16 is a wildcard"
        );
        assert!(
            !sec.exists.contains(&dom_name("3.10")),
            "the hole does not exist"
        );
        assert!(
            !sec.names
                .keys()
                .any(|k| k.first().is_some_and(|l| l == b"*")
                    && k.len() <= 3
                    && k[1..].iter().all(|l| l.len() == 1)),
            "no wildcard on an all-digit node"
        );
    }

    #[test]
    fn ipv6_ranges_and_the_mapped_test_entry() {
        let mut rng = TestRng::new(12);
        let e = |s: &str, len: u8, value: EntryValue| Ip6Entry {
            net: u128::from(s.parse::<Ipv6Addr>().unwrap()) & (u128::MAX << (128 - len)),
            len,
            value,
        };
        let l = EntryValue::Listed;
        let ip6 = vec![
            e("2001:db8::", 32, l(1)),
            e("2001:db8:1::", 48, l(0)),
            e("2001:db8:1::5", 128, EntryValue::Excluded),
            e("2a00:1450:4001:81c::", 64, l(2)),
            e("2a00:1450:4001:81c::1", 128, l(3)),
            e("fd00::", 8, l(1)),
            e("2620:0:2d0::", 44, l(0)),
            // Leaves with an answer without `$` next to a hole: written from
            // the per-value cache, which must not mix IPv4 and IPv6 values.
            e("2001:db8:5::9", 128, EntryValue::Excluded),
            // The lowest IPv6 value is interned first, as the first IPv4
            // value is: same id, other records.
            e("1000::", 16, l(1)),
            e("1000::9", 128, EntryValue::Excluded),
        ];
        // IPv4 data under all-digit nodes in the same zone: `0.2` is
        // 2.0/16 and also the parent of the nibble names of 2000::/16.
        let ip4 = vec![
            Ip4Entry {
                net: 0x0200_0000,
                len: 16,
                value: l(1),
            },
            Ip4Entry {
                net: 0x0201_0000,
                len: 16,
                value: l(2),
            },
        ];
        let snapshot = zone_of(vec![Layer::new(Arc::new(Dataset::build(
            &[&DatasetData {
                answers: answers(),
                ip6: ip6.clone(),
                ip4,
                ..DatasetData::default()
            }],
            300,
        )))]);
        let mut ips: BTreeSet<u128> = BTreeSet::new();
        for x in &ip6 {
            let size = (1u128 << (128 - x.len)) - 1;
            for ip in [
                x.net,
                x.net + size,
                x.net.wrapping_sub(1),
                (x.net + size).wrapping_add(1),
            ] {
                ips.insert(ip);
            }
            for _ in 0..30 {
                let r = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
                ips.insert(x.net + (r & size));
            }
        }
        ips.insert(MAPPED | 0x7f00_0002);
        ips.insert(MAPPED | 0x7f00_0001);
        for _ in 0..200 {
            // 2000::/16 and 2010::/16 hold no IPv6 entry.
            let r = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
            ips.insert((0x2000u128 << 112) | (r >> 16));
            ips.insert((0x2010u128 << 112) | (r >> 16));
        }
        let mut names: Vec<_> = ips.into_iter().map(v6_name).collect();
        for _ in 0..200 {
            names.push(v4_name(0x0200_0000 | (rng.next_u64() as u32 & 0x1_ffff)));
        }
        let listed = compare(&snapshot, &names);
        assert!(listed > 150, "{listed}");
    }

    #[test]
    fn domains_with_wildcards_and_exclusions() {
        let d = |name: &str, matching: DomainMatch, value: EntryValue| DomainEntry {
            name: name.into(),
            matching,
            value,
        };
        let l = EntryValue::Listed;
        let x = EntryValue::Excluded;
        let domains = vec![
            d("spam.example", DomainMatch::Exact, l(0)),
            d("wild.example", DomainMatch::Subdomains, l(0)),
            d("both.example", DomainMatch::Both, l(3)),
            d("ok.both.example", DomainMatch::Exact, x),
            d("deep.ok.both.example", DomainMatch::Exact, l(1)),
            d("sub.wild.example", DomainMatch::Subdomains, l(1)),
            d("clean.wild.example", DomainMatch::Both, x),
            // An exclusion whose subdomains stay listed by the wildcard
            // above it.
            d("ok.wild.example", DomainMatch::Exact, x),
            d("a.b.c.wild.example", DomainMatch::Exact, l(2)),
            d("test", DomainMatch::Exact, x),
        ];
        let second = vec![
            d("spam.example", DomainMatch::Exact, l(2)),
            d("other.test2", DomainMatch::Both, l(1)),
        ];
        let ds = |domains: Vec<DomainEntry>| {
            Layer::new(Arc::new(Dataset::build(
                &[&DatasetData {
                    answers: answers(),
                    domains,
                    ..DatasetData::default()
                }],
                300,
            )))
        };
        let snapshot = zone_of(vec![ds(domains), ds(second)]);
        let mut names = Vec::new();
        for base in [
            "spam.example",
            "wild.example",
            "both.example",
            "ok.both.example",
            "deep.ok.both.example",
            "sub.wild.example",
            "clean.wild.example",
            "ok.wild.example",
            "a.b.c.wild.example",
            "b.c.wild.example",
            "c.wild.example",
            "test",
            "invalid",
            "other.test2",
            "example",
            "nothing.example",
            "test2",
        ] {
            for prefix in ["", "x.", "y.x.", "ok.", "deep.ok."] {
                names.push(dom_name(&format!("{prefix}{base}")));
            }
        }
        let listed = compare(&snapshot, &names);
        assert!(listed > 30, "{listed}");
    }

    /// Every record, encoded, sorted.
    fn records(walk: impl FnOnce(&mut dyn FnMut(Rr<'_>))) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        walk(&mut |rr: Rr<'_>| {
            if rr.rtype != TYPE_NS {
                let mut r = rr.owner.to_ascii_lowercase();
                r.extend_from_slice(&rr.rtype.to_be_bytes());
                r.extend_from_slice(&rr.ttl.to_be_bytes());
                r.extend_from_slice(rr.rdata);
                out.push(r);
            }
        });
        out.sort();
        out
    }

    #[test]
    fn the_regions_add_up_to_the_zone() {
        let l = EntryValue::Listed;
        let d = |name: &str, matching, value| DomainEntry {
            name: name.into(),
            matching,
            value,
        };
        let data = DatasetData {
            answers: answers(),
            ip4: vec![
                Ip4Entry {
                    net: 0x0a00_0000,
                    len: 8,
                    value: l(1),
                },
                Ip4Entry {
                    net: 0x0a03_0000,
                    len: 16,
                    value: EntryValue::Excluded,
                },
                Ip4Entry {
                    net: 0x0200_0000,
                    len: 16,
                    value: l(0),
                },
                Ip4Entry {
                    net: 0xc000_0201,
                    len: 32,
                    value: l(3),
                },
                Ip4Entry {
                    net: 0x7f00_0000,
                    len: 24,
                    value: l(2),
                },
            ],
            ip6: vec![
                Ip6Entry {
                    net: 0x2001_0db8 << 96,
                    len: 32,
                    value: l(1),
                },
                Ip6Entry {
                    net: (0x2001_0db8 << 96) | 5,
                    len: 128,
                    value: EntryValue::Excluded,
                },
                Ip6Entry {
                    net: 0xfd << 120,
                    len: 8,
                    value: l(0),
                },
            ],
            domains: vec![
                d("spam.example", DomainMatch::Exact, l(0)),
                d("a.b.wild.example", DomainMatch::Both, l(1)),
                d(
                    "ok.a.b.wild.example",
                    DomainMatch::Exact,
                    EntryValue::Excluded,
                ),
                d("com", DomainMatch::Subdomains, l(2)),
                d("x.com", DomainMatch::Exact, EntryValue::Excluded),
                d("test", DomainMatch::Exact, l(3)),
            ],
            ..DatasetData::default()
        };
        let snapshot = zone_of(vec![Layer::new(Arc::new(Dataset::build(&[&data], 300)))]);
        let whole = records(|out| walk_zone(&snapshot, 0, out));
        let mut regions: Vec<Region> = (0..=255).map(Region::V4).collect();
        regions.extend((0..16).map(Region::V6));
        let mut doms: BTreeSet<Region> = BTreeSet::new();
        for n in [
            "spam.example",
            "a.b.wild.example",
            "ok.a.b.wild.example",
            "com",
            "x.com",
            "test",
        ] {
            doms.insert(Region::of_domain(n).unwrap());
        }
        regions.extend(doms);
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for r in &regions {
            parts.extend(records(|out| walk_region(&snapshot, 0, r, out)));
        }
        parts.sort();
        assert!(whole.len() > 1000, "{}", whole.len());
        assert_eq!(
            parts.len(),
            whole.len(),
            "no region writes a record twice or misses one"
        );
        assert_eq!(parts, whole);
        assert_eq!(
            Region::of_domain("a.b.wild.example"),
            Some(Region::Domain(b"\x07example\x04wild".to_vec()))
        );
        assert_eq!(Region::of_v4(Ipv4Addr::new(10, 1, 2, 3)), Region::V4(10));
        assert_eq!(Region::of_v6(0x2001 << 112), Region::V6(2));
    }

    #[test]
    fn feed_layers_and_records_of_explicit_names() {
        // A report-fed zone: base + delta of single addresses.
        let one = |ip: [u8; 4], v| Ip4Entry {
            net: u32::from_be_bytes(ip),
            len: 32,
            value: v,
        };
        let base = Arc::new(Dataset::build(
            &[&DatasetData {
                answers: answers(),
                ip4: vec![
                    one([192, 0, 2, 1], EntryValue::Listed(0)),
                    one([192, 0, 2, 2], EntryValue::Listed(0)),
                ],
                ..DatasetData::default()
            }],
            300,
        ));
        let delta = Arc::new(Dataset::build(
            &[&DatasetData {
                answers: answers(),
                ip4: vec![
                    one([192, 0, 2, 2], EntryValue::Excluded),
                    one([192, 0, 2, 3], EntryValue::Listed(1)),
                ],
                ..DatasetData::default()
            }],
            300,
        ));
        let snapshot = zone_of(vec![Layer::with_delta(base, delta).unwrap()]);
        let names: Vec<_> = (0..8u32).map(|i| v4_name(0xc000_0200 + i)).collect();
        assert_eq!(compare(&snapshot, &names), 2);
        let sec = Secondary::load(&snapshot, 0);
        // "spam source $" written out with the address.
        let one_name = sec.names.get(&v4_name(0xc000_0201)).unwrap();
        assert!(one_name.1.contains(&txt_rdata("spam source 192.0.2.1")));
        // NS at the apex, and the test entries.
        let mut ns = 0;
        walk_zone(&snapshot, 0, &mut |rr| {
            ns += usize::from(rr.rtype == TYPE_NS && rr.owner.is_empty())
        });
        assert_eq!(ns, 1);
        assert!(sec.names.contains_key(&v4_name(0x7f00_0002)));
        assert!(sec.names.contains_key(&dom_name("test")));
        assert!(!sec.exists.contains(&v4_name(0x7f00_0001)));
    }
}
