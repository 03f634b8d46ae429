//! Zones and the immutable snapshot the DNS path reads.
//!
//! A [`Snapshot`] is everything needed to answer any query: the zones, each
//! with its SOA, NS and datasets. It is built off the query path and
//! published whole (the DNS crate keeps it behind an `ArcSwap`), so a query
//! sees either the old data or the new data, never a mix. [`Snapshot::resolve`]
//! is the single, synchronous, allocation-free decision function; the DNS
//! front only encodes its [`Resolution`].

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::dataset::acl::{Acl, Verdict};
use crate::dataset::dnset::{self, MAX_KEY};
use crate::dataset::layer::Layer;
use crate::dataset::{Answer, Dataset, EXCLUDED};
use crate::qname::{self, V4Key, V6Key};

/// Most datasets a single answer combines (further matches are ignored).
pub const MAX_HITS: usize = 8;

/// The zone's SOA record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    /// Primary name server, absolute, no trailing dot.
    pub mname: String,
    /// Responsible mailbox in DNS form, no trailing dot.
    pub rname: String,
    /// Serial; changes with every data change.
    pub serial: u32,
    /// Refresh, seconds.
    pub refresh: u32,
    /// Retry, seconds.
    pub retry: u32,
    /// Expire, seconds.
    pub expire: u32,
    /// Minimum = negative-caching TTL, seconds.
    pub minimum: u32,
    /// TTL of the SOA record.
    pub ttl: u32,
}

impl Soa {
    /// The SOA of a zone that sets none: `ns.<zone>`,
    /// `hostmaster.<zone>`, refresh 1 h, retry 10 min, expire 7 days,
    /// negative caching 60 s, TTL 1 h.
    pub fn default_for(zone: &str, serial: u32) -> Soa {
        Soa {
            mname: format!("ns.{zone}"),
            rname: format!("hostmaster.{zone}"),
            serial,
            refresh: 3600,
            retry: 600,
            expire: 7 * 86_400,
            minimum: 60,
            ttl: 3600,
        }
    }
}

/// A served zone: the union of its datasets, plus the RFC 5782 test entries.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    labels: Vec<Box<[u8]>>,
    /// The SOA record.
    pub soa: Soa,
    /// Name servers (absolute, no trailing dot); never empty.
    pub ns: Vec<String>,
    /// TTL of the NS records.
    pub ns_ttl: u32,
    /// The datasets, consulted in order; their answers are combined.
    pub datasets: Vec<Layer>,
    /// Answer of the built-in test entries when no dataset lists them.
    pub test_answer: Answer,
    /// TTL of the built-in test answer.
    pub test_ttl: u32,
    /// The querier ACL (rbldnsd's `acl` dataset), if the zone has one:
    /// consulted by [`Snapshot::resolve_from`].
    pub acl: Option<Arc<Acl>>,
    /// The zone has no data to serve (a followed zone before its first
    /// transfer, or expired): queries are refused (an ACL that refuses
    /// everyone goes with it) and so are transfers.
    pub unavailable: bool,
}

impl Zone {
    /// A zone named `name` (case-insensitive, trailing dot optional).
    ///
    /// Returns `None` when `name` is not a valid domain name.
    pub fn new(
        name: &str,
        soa: Soa,
        ns: Vec<String>,
        ns_ttl: u32,
        datasets: Vec<Arc<Dataset>>,
    ) -> Option<Zone> {
        let layers = datasets.into_iter().map(Layer::new).collect();
        Zone::layered(name, soa, ns, ns_ttl, layers)
    }

    /// Like [`Zone::new`], with datasets that may carry deltas.
    pub fn layered(
        name: &str,
        soa: Soa,
        ns: Vec<String>,
        ns_ttl: u32,
        datasets: Vec<Layer>,
    ) -> Option<Zone> {
        let name = normalize_name(name)?;
        let labels = name
            .split('.')
            .map(|l| l.as_bytes().to_vec().into_boxed_slice())
            .collect();
        let ns = if ns.is_empty() {
            vec![soa.mname.clone()]
        } else {
            ns
        };
        Some(Zone {
            labels,
            test_answer: Answer {
                a: Box::new([Ipv4Addr::new(127, 0, 0, 2)]),
                txt: Box::new(["RFC 5782 test entry: $ is always listed".into()]),
            },
            test_ttl: soa.minimum.max(60),
            acl: None,
            unavailable: false,
            soa,
            ns,
            ns_ttl,
            datasets,
            name,
        })
    }

    /// The zone name, lower-case, no trailing dot.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of labels of the zone name.
    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    /// True when `labels` (a whole query name) ends with this zone's name.
    fn is_suffix_of(&self, labels: &[&[u8]]) -> bool {
        labels.len() >= self.labels.len()
            && labels[labels.len() - self.labels.len()..]
                .iter()
                .zip(self.labels.iter())
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

/// Lower-cases and validates a domain name; strips one trailing dot.
pub fn normalize_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(name)
}

/// What a listed name is about, for `$` in TXT templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// An IPv4 address (also for IPv4-mapped IPv6 queries).
    V4(Ipv4Addr),
    /// An IPv6 address.
    V6(Ipv6Addr),
    /// A domain: the matched entry's name, which is this many rightmost
    /// labels of the name in front of the zone (rbldnsd semantics: a
    /// wildcard entry `.example.com` answers `$` = `example.com`).
    Domain(usize),
}

impl Subject {
    /// Appends the text `$` stands for in a TXT template: the address in
    /// its usual notation, or the matched domain taken from `rel` (the
    /// labels in front of the zone name), lower-cased. Writes into the
    /// caller's buffer: the DNS fast path reuses one per worker.
    pub fn write_text(self, rel: &[&[u8]], out: &mut String) {
        match self {
            Subject::V4(ip) => push_v4(out, ip),
            Subject::V6(ip) => {
                let _ = write!(out, "{ip}");
            }
            Subject::Domain(k) => {
                let start = rel.len().saturating_sub(k);
                for (j, l) in rel[start..].iter().enumerate() {
                    if j > 0 {
                        out.push('.');
                    }
                    let from = out.len();
                    match std::str::from_utf8(l) {
                        Ok(s) => out.push_str(s),
                        Err(_) => out.push_str(&String::from_utf8_lossy(l)),
                    }
                    out[from..].make_ascii_lowercase();
                }
            }
        }
    }
}

/// Writes an IPv4 address in dotted-quad form; the same text as its
/// `Display`, without the formatting machinery (this runs per TXT answer).
fn push_v4(out: &mut String, ip: Ipv4Addr) {
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if o >= 100 {
            out.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            out.push(char::from(b'0' + o / 10 % 10));
        }
        out.push(char::from(b'0' + o % 10));
    }
}

/// One dataset's match.
#[derive(Clone, Copy, Debug)]
pub struct Hit<'s> {
    /// The records to answer with.
    pub answer: &'s Answer,
    /// Their TTL.
    pub ttl: u32,
    /// What `$` stands for in the TXT templates.
    pub subject: Subject,
}

/// The matches of a listed name (at most [`MAX_HITS`]), without allocating.
#[derive(Clone, Copy, Debug)]
pub struct Hits<'s> {
    items: [Option<Hit<'s>>; MAX_HITS],
    len: usize,
}

impl<'s> Hits<'s> {
    fn new() -> Self {
        Hits {
            items: [None; MAX_HITS],
            len: 0,
        }
    }

    fn push(&mut self, h: Hit<'s>) {
        if self.len < MAX_HITS {
            self.items[self.len] = Some(h);
            self.len += 1;
        }
    }

    /// The matches, in dataset order.
    pub fn iter(&self) -> impl Iterator<Item = &Hit<'s>> {
        self.items[..self.len].iter().flatten()
    }

    /// Number of matches.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing matched.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Who asks: what zone ACLs and the query quota look at
/// ([`Snapshot::resolve_from`]).
#[derive(Clone, Copy, Debug)]
pub struct Querier<'a> {
    /// The client's address.
    pub addr: IpAddr,
    /// A verdict for every zone, combined with the zone's own ACL (the
    /// stronger wins): an exceeded query quota's action, or
    /// [`Verdict::Pass`].
    pub forced: Verdict<'a>,
}

impl Querier<'_> {
    /// A querier at `addr` with nothing forced on it.
    pub fn at(addr: IpAddr) -> Self {
        Querier {
            addr,
            forced: Verdict::Pass,
        }
    }
}

/// The decision for one query name.
///
/// `Listed` carries its hits inline (a few hundred bytes on the stack)
/// on purpose: boxing them would put an allocation on every listed query.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug)]
pub enum Resolution<'s> {
    /// The name is in none of our zones, or the querier is refused by the
    /// zone's ACL: REFUSED, not authoritative.
    Refused,
    /// The querier is ignored (ACL `:ignore`): no reply at all.
    Ignored,
    /// The name is a zone apex.
    Apex(&'s Zone),
    /// The name is listed; `rel_labels` labels precede the zone name.
    Listed {
        /// The zone.
        zone: &'s Zone,
        /// What matched.
        hits: Hits<'s>,
        /// Labels in front of the zone name.
        rel_labels: usize,
    },
    /// The name exists only because listed names lie below it (an empty
    /// non-terminal): NOERROR with no data.
    Exists(&'s Zone),
    /// The name does not exist.
    NxDomain(&'s Zone),
}

impl Resolution<'_> {
    /// The zone the name belongs to, if any.
    pub fn zone(&self) -> Option<&Zone> {
        match self {
            Resolution::Refused | Resolution::Ignored => None,
            Resolution::Apex(z) | Resolution::Exists(z) | Resolution::NxDomain(z) => Some(z),
            Resolution::Listed { zone, .. } => Some(zone),
        }
    }
}

/// An ACL action that applied to a query (a verdict other than pass).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclAction {
    /// No reply.
    Ignore,
    /// REFUSED.
    Refuse,
    /// NXDOMAIN below the apex.
    Empty,
    /// Every name listed with the ACL's answer.
    Listed,
}

impl AclAction {
    /// Every action, in the order of [`AclAction::index`].
    pub const ALL: [AclAction; 4] = [
        AclAction::Ignore,
        AclAction::Refuse,
        AclAction::Empty,
        AclAction::Listed,
    ];

    /// The action a verdict takes; `None` for pass.
    pub fn of(v: &Verdict<'_>) -> Option<AclAction> {
        match v {
            Verdict::Pass => None,
            Verdict::Listed { .. } => Some(AclAction::Listed),
            Verdict::Empty => Some(AclAction::Empty),
            Verdict::Refuse => Some(AclAction::Refuse),
            Verdict::Ignore => Some(AclAction::Ignore),
        }
    }

    /// Its position in [`AclAction::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its name in rbldnsd's acl syntax (`:ignore`, …), without the colon.
    pub fn name(self) -> &'static str {
        match self {
            AclAction::Ignore => "ignore",
            AclAction::Refuse => "refuse",
            AclAction::Empty => "empty",
            AclAction::Listed => "listed",
        }
    }
}

/// What [`Snapshot::resolve_traced`] saw on the way to its resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// Position in [`Snapshot::zones`] of the zone the name belongs to.
    pub zone: Option<usize>,
    /// The ACL action that applied, if any.
    pub acl: Option<AclAction>,
}

/// Everything served, frozen.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The zones. A name belongs to the zone with the longest matching name.
    pub zones: Vec<Zone>,
}

const TEST_LISTED_V4: u32 = 0x7f00_0002;
const TEST_NEVER_V4: u32 = 0x7f00_0001;

impl Snapshot {
    /// The zone `labels` belongs to, and how many labels precede its name.
    pub fn zone_for(&self, labels: &[&[u8]]) -> Option<(&Zone, usize)> {
        self.zone_index_for(labels)
            .map(|(i, rel)| (&self.zones[i], rel))
    }

    /// Like [`Snapshot::zone_for`], with the zone's position in
    /// [`Snapshot::zones`] instead of the zone.
    pub fn zone_index_for(&self, labels: &[&[u8]]) -> Option<(usize, usize)> {
        self.zones
            .iter()
            .enumerate()
            .filter(|(_, z)| z.is_suffix_of(labels))
            .max_by_key(|(_, z)| z.labels.len())
            .map(|(i, z)| (i, labels.len() - z.labels.len()))
    }

    /// Decides the answer for the query name `labels` (leftmost first, any
    /// case, without the root label).
    ///
    /// Zone ACLs are not consulted (there is no querier); the DNS front
    /// calls [`Snapshot::resolve_from`].
    pub fn resolve<'s>(&'s self, labels: &[&[u8]]) -> Resolution<'s> {
        self.resolve_from(labels, None)
    }

    /// Decides the answer for the query name `labels` asked by `querier`:
    /// [`Snapshot::resolve`] after the zone's ACL and the querier's forced
    /// verdict (combined, the stronger wins; see [`Verdict`]):
    /// - ignore: [`Resolution::Ignored`], for any name;
    /// - refuse: [`Resolution::Refused`] for every name of the zone, apex
    ///   included (as rbldnsd);
    /// - empty: NXDOMAIN below the apex, the test entries included;
    /// - listed: every name below the apex listed with the ACL's answer,
    ///   `$` standing for the querier's address;
    /// - pass: as usual. The apex answers SOA and NS unless refused or
    ///   ignored.
    pub fn resolve_from<'s>(
        &'s self,
        labels: &[&[u8]],
        querier: Option<Querier<'s>>,
    ) -> Resolution<'s> {
        self.resolve_traced(labels, querier).0
    }

    /// [`Snapshot::resolve_from`], also telling which zone the name fell
    /// in and which ACL action (zone ACL and forced verdict combined)
    /// applied, even when the resolution itself does not say (a refused or
    /// ignored querier): what the DNS front counts for its metrics.
    pub fn resolve_traced<'s>(
        &'s self,
        labels: &[&[u8]],
        querier: Option<Querier<'s>>,
    ) -> (Resolution<'s>, Trace) {
        let Some((index, rel)) = self.zone_index_for(labels) else {
            return match querier {
                Some(q) if q.forced == Verdict::Ignore => (
                    Resolution::Ignored,
                    Trace {
                        zone: None,
                        acl: Some(AclAction::Ignore),
                    },
                ),
                _ => (Resolution::Refused, Trace::default()),
            };
        };
        let zone = &self.zones[index];
        let verdict = match querier {
            None => Verdict::Pass,
            Some(q) => {
                let own = zone
                    .acl
                    .as_deref()
                    .map_or(Verdict::Pass, |a| a.verdict(q.addr));
                own.combine(q.forced)
            }
        };
        let trace = Trace {
            zone: Some(index),
            acl: AclAction::of(&verdict),
        };
        (self.resolve_in(zone, rel, labels, querier, verdict), trace)
    }

    /// The rest of [`Snapshot::resolve_traced`], once the zone and the
    /// ACL verdict are known.
    fn resolve_in<'s>(
        &'s self,
        zone: &'s Zone,
        rel: usize,
        labels: &[&[u8]],
        querier: Option<Querier<'s>>,
        verdict: Verdict<'s>,
    ) -> Resolution<'s> {
        match verdict {
            Verdict::Ignore => return Resolution::Ignored,
            Verdict::Refuse => return Resolution::Refused,
            _ if rel == 0 => return Resolution::Apex(zone),
            Verdict::Empty => return Resolution::NxDomain(zone),
            Verdict::Listed { answer, ttl } => {
                let mut hits = Hits::new();
                let subject = match querier.map(|q| q.addr) {
                    Some(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                        Some(m) => Subject::V4(m),
                        None => Subject::V6(a),
                    },
                    Some(IpAddr::V4(a)) => Subject::V4(a),
                    // A verdict other than Pass needs a querier.
                    None => Subject::V4(Ipv4Addr::UNSPECIFIED),
                };
                hits.push(Hit {
                    answer,
                    ttl,
                    subject,
                });
                return Resolution::Listed {
                    zone,
                    hits,
                    rel_labels: rel,
                };
            }
            Verdict::Pass => {}
        }
        let rel_labels = &labels[..rel];
        let key = qname::decode(rel_labels);
        // The mapped form of the IPv6 reading, used to ask IPv4 data.
        let v4_addr = match (key.v4, key.v6) {
            (Some(V4Key::Addr(a)), _) => Some(a),
            (_, Some(V6Key::Addr(a))) => qname::mapped_v4(a),
            _ => None,
        };
        let v6_addr = match key.v6 {
            Some(V6Key::Addr(a)) => Some(a),
            _ => None,
        };
        let mut dkey = [0u8; MAX_KEY];
        let mut ends = [0usize; 128];
        let dlen = dnset::reversed_key(rel_labels, &mut dkey, &mut ends);
        let is_domain = |want: &[u8]| dlen.is_some_and(|n| &dkey[..n] == want);

        // RFC 5782: 127.0.0.1 (and its mapped form) and `invalid` are never
        // listed, whatever the data says.
        if v4_addr == Some(TEST_NEVER_V4) || is_domain(b"\x07invalid") {
            return Resolution::NxDomain(zone);
        }

        let mut hits = Hits::new();
        for layer in &zone.datasets {
            let subject_v4 = |a: u32| Subject::V4(Ipv4Addr::from(a));
            let found = v6_addr
                .and_then(|a| {
                    let (ds, v) = layer.find_v6(a)?;
                    Some((ds, v, Subject::V6(Ipv6Addr::from(a))))
                })
                .or_else(|| {
                    let a = v4_addr?;
                    let (ds, v) = layer.find_v4(a)?;
                    Some((ds, v, subject_v4(a)))
                })
                .or_else(|| {
                    let n = dlen?;
                    let (ds, v, k) = layer.find_domain(&dkey[..n], &ends, rel)?;
                    Some((ds, v, Subject::Domain(k)))
                });
            if let Some((ds, id, subject)) = found
                && id != EXCLUDED
                && let Some(answer) = ds.answer(id)
            {
                hits.push(Hit {
                    answer,
                    ttl: ds.ttl_of(id),
                    subject,
                });
            }
        }
        if hits.is_empty() {
            // RFC 5782: 127.0.0.2 and `test` are always listed.
            if v4_addr == Some(TEST_LISTED_V4) {
                hits.push(Hit {
                    answer: &zone.test_answer,
                    ttl: zone.test_ttl,
                    subject: Subject::V4(Ipv4Addr::from(TEST_LISTED_V4)),
                });
            } else if is_domain(b"\x04test") {
                hits.push(Hit {
                    answer: &zone.test_answer,
                    ttl: zone.test_ttl,
                    subject: Subject::Domain(1),
                });
            }
        }
        if !hits.is_empty() {
            return Resolution::Listed {
                zone,
                hits,
                rel_labels: rel,
            };
        }
        if self.has_listed_below(zone, &key, dlen.map(|n| &dkey[..n])) {
            Resolution::Exists(zone)
        } else {
            Resolution::NxDomain(zone)
        }
    }

    /// True when some listed name lies below the queried one.
    fn has_listed_below(&self, zone: &Zone, key: &qname::QueryKey, dkey: Option<&[u8]>) -> bool {
        let v4_range = match key.v4 {
            Some(V4Key::Prefix { lo, hi }) => Some((lo, hi)),
            _ => None,
        };
        let v6_range = match key.v6 {
            Some(V6Key::Prefix { lo, hi }) => Some((lo, hi)),
            _ => None,
        };
        let mapped = v6_range.and_then(|(lo, hi)| qname::mapped_v4_range(lo, hi));
        let in_range =
            |r: Option<(u32, u32)>, ip: u32| r.is_some_and(|(lo, hi)| lo <= ip && ip <= hi);
        // The built-in test entries have their own parents.
        if in_range(v4_range, TEST_LISTED_V4) || in_range(mapped, TEST_LISTED_V4) {
            return true;
        }
        zone.datasets.iter().any(|l| {
            v4_range.is_some_and(|(lo, hi)| l.any_v4_in(lo, hi))
                || mapped.is_some_and(|(lo, hi)| l.any_v4_in(lo, hi))
                || v6_range.is_some_and(|(lo, hi)| l.any_v6_in(lo, hi))
                || dkey.is_some_and(|k| l.has_listed_descendant(k))
        })
    }
}

/// Writes `template` into `out` with `$` replaced by the subject text (the
/// IP address in its usual notation, or the matched domain taken from
/// `rel`, the labels in front of the zone name) and `$$` by `$`, as
/// rbldnsd does.
pub fn expand_txt(template: &str, subject: Subject, rel: &[&[u8]], out: &mut String) {
    let mut text = String::new();
    subject.write_text(rel, &mut text);
    crate::rbldnsd::expand_txt(template, &text, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_text() {
        for ip in ["0.0.0.0", "1.2.3.4", "10.100.255.9", "255.255.255.255"] {
            let mut s = String::from("x");
            Subject::V4(ip.parse().unwrap()).write_text(&[], &mut s);
            assert_eq!(s, format!("x{ip}"), "appends");
        }
        let rel: Vec<&[u8]> = vec![b"WWW", b"Sp\xffam", b"Example"];
        let text = |s: Subject| {
            let mut out = String::new();
            s.write_text(&rel, &mut out);
            out
        };
        assert_eq!(
            text(Subject::V6("2001:db8::1".parse().unwrap())),
            "2001:db8::1"
        );
        assert_eq!(
            text(Subject::V6("::ffff:1.2.3.4".parse().unwrap())),
            "::ffff:1.2.3.4"
        );
        assert_eq!(text(Subject::Domain(2)), "sp\u{fffd}am.example");
        assert_eq!(text(Subject::Domain(3)), "www.sp\u{fffd}am.example");
        assert_eq!(text(Subject::Domain(9)), "www.sp\u{fffd}am.example");
    }
    use crate::data::{
        AnswerSpec, DatasetData, DomainEntry, DomainMatch, EntryValue, Ip4Entry, Ip6Entry,
    };

    fn soa() -> Soa {
        Soa {
            expire: 86400,
            ttl: 60,
            ..Soa::default_for("example.net", 1)
        }
    }

    fn snapshot() -> Snapshot {
        let ip4 = DatasetData {
            answers: vec![AnswerSpec::new(
                Ipv4Addr::new(127, 0, 0, 3),
                Some("ip $".into()),
            )],
            ip4: vec![
                Ip4Entry {
                    net: 0x0a00_0000,
                    len: 8,
                    value: EntryValue::Listed(0),
                },
                Ip4Entry {
                    net: 0x0a01_0000,
                    len: 16,
                    value: EntryValue::Excluded,
                },
                Ip4Entry {
                    net: 0x7f00_0001,
                    len: 32,
                    value: EntryValue::Listed(0),
                },
            ],
            ..Default::default()
        };
        let ip6 = DatasetData {
            answers: vec![AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 4), None)],
            ip6: vec![Ip6Entry {
                net: u128::from("2001:db8:1:2::".parse::<Ipv6Addr>().unwrap()),
                len: 64,
                value: EntryValue::Listed(0),
            }],
            ..Default::default()
        };
        let dn = DatasetData {
            answers: vec![AnswerSpec::new(
                Ipv4Addr::new(127, 0, 0, 5),
                Some("dom $".into()),
            )],
            domains: vec![
                DomainEntry {
                    name: "spam.example".into(),
                    matching: DomainMatch::Both,
                    value: EntryValue::Listed(0),
                },
                DomainEntry {
                    name: "invalid".into(),
                    matching: DomainMatch::Exact,
                    value: EntryValue::Listed(0),
                },
            ],
            ..Default::default()
        };
        let zone = Zone::new(
            "Bl.Example.",
            soa(),
            vec![],
            3600,
            vec![
                Arc::new(Dataset::build(&[&ip4], 300)),
                Arc::new(Dataset::build(&[&ip6], 300)),
                Arc::new(Dataset::build(&[&dn], 300)),
            ],
        )
        .unwrap();
        let other = Zone::new("sub.bl.example", soa(), vec![], 3600, vec![]).unwrap();
        Snapshot {
            zones: vec![zone, other],
        }
    }

    fn resolve<'s>(s: &'s Snapshot, name: &str) -> Resolution<'s> {
        let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
        s.resolve(&labels)
    }

    fn kind(r: &Resolution<'_>) -> String {
        match r {
            Resolution::Refused => "refused".into(),
            Resolution::Ignored => "ignored".into(),
            Resolution::Apex(z) => format!("apex {}", z.name()),
            Resolution::Exists(_) => "exists".into(),
            Resolution::NxDomain(_) => "nx".into(),
            Resolution::Listed { hits, .. } => {
                let a: Vec<String> = hits
                    .iter()
                    .flat_map(|h| h.answer.a.iter().map(|a| a.to_string()))
                    .collect();
                format!("listed {}", a.join(","))
            }
        }
    }

    #[test]
    fn decisions() {
        let s = snapshot();
        let cases = [
            ("bl.example", "apex bl.example"),
            ("BL.EXAMPLE", "apex bl.example"),
            ("sub.bl.example", "apex sub.bl.example"),
            ("4.3.2.1.sub.bl.example", "nx"),
            ("example", "refused"),
            ("other.test", "refused"),
            ("1.0.0.10.bl.example", "listed 127.0.0.3"),
            ("1.0.1.10.bl.example", "nx"),
            ("0.10.bl.example", "exists"),
            ("1.10.bl.example", "nx"),
            ("2.0.0.127.bl.example", "listed 127.0.0.2"),
            ("1.0.0.127.bl.example", "nx"),
            ("0.0.127.bl.example", "exists"),
            ("127.bl.example", "exists"),
            ("3.0.0.127.bl.example", "nx"),
            ("spam.example.bl.example", "listed 127.0.0.5"),
            ("www.SPAM.example.bl.example", "listed 127.0.0.5"),
            ("example.bl.example", "exists"),
            ("test.bl.example", "listed 127.0.0.2"),
            ("invalid.bl.example", "nx"),
            ("5.4.3.2.1.bl.example", "nx"),
        ];
        for (name, want) in cases {
            assert_eq!(kind(&resolve(&s, name)), want, "{name}");
        }
    }

    #[test]
    fn acl_verdicts() {
        let mut s = snapshot();
        let data = crate::rbldnsd::parse_acl(
            b"10.0.0.0/8 :pass\n10.0.0.1 :refuse\n10.0.0.2\n10.0.0.3 :empty\n\
              10.0.0.4 :127.255.255.255:blocked $\n2001:db8::/32 :127.255.255.254:v6 $\n",
        )
        .unwrap();
        s.zones[0].acl = Some(Arc::new(Acl::build(&data, 42)));
        let from = |name: &str, who: &str| {
            let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
            let q = Querier::at(who.parse().unwrap());
            kind(&s.resolve_from(&labels, Some(q)))
        };
        let listed = "1.0.0.10.bl.example";
        let unlisted = "9.9.9.9.bl.example";
        for (who, apex, l, u, test_never) in [
            (
                "192.0.2.1",
                "apex bl.example",
                "listed 127.0.0.3",
                "nx",
                "nx",
            ),
            (
                "10.9.9.9",
                "apex bl.example",
                "listed 127.0.0.3",
                "nx",
                "nx",
            ),
            ("10.0.0.1", "refused", "refused", "refused", "refused"),
            ("10.0.0.2", "ignored", "ignored", "ignored", "ignored"),
            ("10.0.0.3", "apex bl.example", "nx", "nx", "nx"),
            (
                "10.0.0.4",
                "apex bl.example",
                "listed 127.255.255.255",
                "listed 127.255.255.255",
                "listed 127.255.255.255",
            ),
        ] {
            assert_eq!(from("bl.example", who), apex, "apex from {who}");
            assert_eq!(from(listed, who), l, "listed from {who}");
            assert_eq!(from(unlisted, who), u, "unlisted from {who}");
            assert_eq!(from("1.0.0.127.bl.example", who), test_never, "{who}");
        }
        // :empty hides the test entry and empty non-terminals too.
        assert_eq!(from("2.0.0.127.bl.example", "10.0.0.3"), "nx");
        assert_eq!(from("0.10.bl.example", "10.0.0.3"), "nx");
        // Another zone, another (no) ACL; out of zone stays REFUSED.
        assert_eq!(from("4.3.2.1.sub.bl.example", "10.0.0.1"), "nx");
        assert_eq!(from("example.org", "10.0.0.2"), "refused");
        // Without a querier (lookup pages) the ACL is not asked.
        assert_eq!(kind(&resolve(&s, listed)), "listed 127.0.0.3");
        // $ is the querier, in its own notation.
        let labels: Vec<&[u8]> = "x.bl.example".split('.').map(str::as_bytes).collect();
        for (who, want) in [
            ("10.0.0.4", "blocked 10.0.0.4"),
            ("::ffff:10.0.0.4", "blocked 10.0.0.4"),
            ("2001:db8::5", "v6 2001:db8::5"),
        ] {
            let q = Querier::at(who.parse().unwrap());
            let Resolution::Listed {
                hits, rel_labels, ..
            } = s.resolve_from(&labels, Some(q))
            else {
                panic!("{who}")
            };
            let h = hits.iter().next().unwrap();
            assert_eq!(h.ttl, 42);
            let mut out = String::new();
            expand_txt(&h.answer.txt[0], h.subject, &labels[..rel_labels], &mut out);
            assert_eq!(out, want);
        }
        // A forced verdict (the quota) applies to every zone; the stronger wins.
        let forced = Querier {
            addr: "192.0.2.1".parse().unwrap(),
            forced: Verdict::Refuse,
        };
        let labels: Vec<&[u8]> = listed.split('.').map(str::as_bytes).collect();
        assert_eq!(kind(&s.resolve_from(&labels, Some(forced))), "refused");
        let ignored = Querier {
            forced: Verdict::Ignore,
            ..forced
        };
        let out: Vec<&[u8]> = vec![b"example", b"org"];
        assert_eq!(kind(&s.resolve_from(&out, Some(ignored))), "ignored");

        // The trace names the zone and the action, which the resolution
        // alone does not for a refused or ignored querier.
        let trace = |name: &str, who: &str| {
            let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
            s.resolve_traced(&labels, Some(Querier::at(who.parse().unwrap())))
                .1
        };
        let t = |zone, acl| Trace { zone, acl };
        assert_eq!(trace(listed, "192.0.2.1"), t(Some(0), None));
        assert_eq!(
            trace(listed, "10.0.0.1"),
            t(Some(0), Some(AclAction::Refuse))
        );
        assert_eq!(
            trace("bl.example", "10.0.0.2"),
            t(Some(0), Some(AclAction::Ignore))
        );
        assert_eq!(
            trace(unlisted, "10.0.0.3"),
            t(Some(0), Some(AclAction::Empty))
        );
        assert_eq!(
            trace(unlisted, "10.0.0.4"),
            t(Some(0), Some(AclAction::Listed))
        );
        assert_eq!(
            trace("4.3.2.1.sub.bl.example", "10.0.0.1"),
            t(Some(1), None)
        );
        assert_eq!(trace("example.org", "10.0.0.1"), t(None, None));
        assert_eq!(
            s.resolve_traced(&out, Some(ignored)).1,
            t(None, Some(AclAction::Ignore))
        );
    }

    #[test]
    fn ipv6_and_mapped() {
        let s = snapshot();
        let q = |ip: &str| format!("{}.bl.example", qname::v6_query_name(ip.parse().unwrap()));
        assert_eq!(
            kind(&resolve(&s, &q("2001:db8:1:2::99"))),
            "listed 127.0.0.4"
        );
        assert_eq!(kind(&resolve(&s, &q("2001:db8:1:3::"))), "nx");
        assert_eq!(kind(&resolve(&s, &q("::ffff:7f00:2"))), "listed 127.0.0.2");
        assert_eq!(kind(&resolve(&s, &q("::ffff:7f00:1"))), "nx");
        assert_eq!(
            kind(&resolve(&s, &q("::ffff:10.0.0.1"))),
            "listed 127.0.0.3"
        );
        let full = qname::v6_query_name("::ffff:7f00:2".parse().unwrap());
        // The last 21 nibbles: a /84 that contains ::ffff:0:0/96.
        let parent = &full[full.len() - 41..];
        assert_eq!(
            kind(&resolve(&s, &format!("{parent}.bl.example"))),
            "exists"
        );
        let parent6 = &q("2001:db8:1:2::")[34..];
        assert_eq!(kind(&resolve(&s, parent6)), "exists", "{parent6}");
    }

    #[test]
    fn txt_expansion() {
        let s = snapshot();
        let labels: Vec<&[u8]> = "www.spam.example.bl.example"
            .split('.')
            .map(str::as_bytes)
            .collect();
        let Resolution::Listed {
            hits, rel_labels, ..
        } = s.resolve(&labels)
        else {
            panic!()
        };
        let h = hits.iter().next().unwrap();
        let mut out = String::new();
        expand_txt(&h.answer.txt[0], h.subject, &labels[..rel_labels], &mut out);
        assert_eq!(out, "dom spam.example", "the matched entry, as rbldnsd");
        let mut out = String::new();
        expand_txt(
            "a $ b $ costs $$5",
            Subject::V4(Ipv4Addr::new(1, 2, 3, 4)),
            &[],
            &mut out,
        );
        assert_eq!(out, "a 1.2.3.4 b 1.2.3.4 costs $5");
    }
}
