//! What the fuzz targets and the corpus replay test share: the fixed
//! snapshot the answer path runs against, the seed queries, and the
//! invariant checks.
//!
//! This file is compiled twice: as the `harness` module of the
//! `fadelist-fuzz` library (for `fuzz/fuzz_targets/*.rs` and the seed
//! writer), and into `crates/fadelist-dns/tests/fuzz_corpus.rs` through
//! `#[path]`, so the stable CI test checks exactly what the fuzzer checks.
//! It may therefore use only what both see: `std`, `fadelist_core`,
//! `fadelist_dns`, `hickory_proto` and `hickory_server`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use fadelist_core::data::{
    AnswerSpec, DatasetData, DomainEntry, DomainMatch, EntryValue, Ip4Entry, Ip6Entry,
};
use fadelist_core::dataset::Dataset;
use fadelist_core::qname;
use fadelist_core::snapshot::{Snapshot, Soa, Zone};
use fadelist_dns::fast::{Answered, MAX_LABELS, Responder, parse_query};
use fadelist_dns::handler::{Protocol, respond_bytes};
use fadelist_dns::publisher::Served;
use hickory_proto::op::{Message, MessageType, Metadata, OpCode};
use hickory_proto::rr::{RData, Record};
use hickory_server::server::Request;

/// The client every packet comes from (an ordinary, answerable source).
pub const CLIENT: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 5353));

/// DNS header size.
const HEADER: usize = 12;

// ---------------------------------------------------------------------
// The snapshot.

/// A zone SOA with the given TTLs and names (fixed timers).
pub fn soa(ttl: u32, minimum: u32, mname: &str, rname: &str) -> Soa {
    Soa {
        mname: mname.into(),
        rname: rname.into(),
        serial: 20_240_101,
        refresh: 3600,
        retry: 600,
        expire: 604_800,
        minimum,
        ttl,
    }
}

/// An IPv4 fixture as its integer.
pub fn v4(s: &str) -> u32 {
    u32::from(s.parse::<Ipv4Addr>().expect("fixture IPv4"))
}

/// An IPv6 fixture as its integer.
pub fn v6(s: &str) -> u128 {
    u128::from(s.parse::<Ipv6Addr>().expect("fixture IPv6"))
}

/// The long zone name: four labels, 245 bytes on the wire, so that little
/// room is left in front of it.
pub fn long_zone() -> String {
    format!(
        "{}.{}.{}.long",
        "a".repeat(60),
        "b".repeat(60),
        "c".repeat(60)
    )
}

/// The fixed snapshot: IPv4 ranges, exclusions and overlapping datasets,
/// IPv6 networks, exact/wildcard/both domain entries, TXT texts over 255
/// bytes and over 65,535 bytes once expanded, answers too big for 512
/// bytes, nested zones, a zone whose SOA name hickory refuses and a zone
/// name that fills most of the 255 bytes.
pub fn snapshot() -> Snapshot {
    let answers = vec![
        // 0: the usual.
        AnswerSpec::new(
            Ipv4Addr::new(127, 0, 0, 2),
            Some("Listed: $ see https://example.net/lookup?q=$".into()),
        ),
        // 1: several A and TXT (`$$` is a literal dollar).
        AnswerSpec {
            a: vec![Ipv4Addr::new(127, 0, 0, 3), Ipv4Addr::new(127, 0, 0, 4)],
            txt: vec!["phish $".into(), "second $$ text for $".into()],
        },
        // 2: A only.
        AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 5), None),
        // 3: a TXT longer than 255 bytes.
        AnswerSpec::new(
            Ipv4Addr::new(127, 0, 0, 6),
            Some(format!(
                "Listed $: {} see https://example.net/?q=$",
                "x".repeat(300)
            )),
        ),
        // 4: too big for 512 bytes: 40 A values and five 200-byte TXT.
        AnswerSpec {
            a: (0..40).map(|i| Ipv4Addr::new(127, 0, 1, i)).collect(),
            txt: (0..5)
                .map(|i| format!("{i} $ {}", "y".repeat(200)))
                .collect(),
        },
        // 5: an empty TXT, a non-ASCII one, and texts equal once expanded.
        AnswerSpec {
            a: vec![Ipv4Addr::new(127, 0, 0, 7), Ipv4Addr::new(127, 0, 0, 7)],
            txt: vec![
                String::new(),
                "Liste: $ — été".into(),
                "$".into(),
                "$".into(),
            ],
        },
        // 6: 4,400 `$`: 44,000–66,000 bytes for an IPv4 subject, so some
        // addresses need more than one record's 65,535 bytes of RDATA.
        AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 8), Some("$".repeat(4400))),
        // 7: 2,000 `$`: 30,000–78,000 bytes for an IPv6 subject.
        AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 9), Some("$".repeat(2000))),
    ];
    let listed = EntryValue::Listed;
    let ip4 = |net: &str, len: u8, value: EntryValue| Ip4Entry {
        net: v4(net),
        len,
        value,
    };
    let ip6 = |net: &str, len: u8, value: EntryValue| Ip6Entry {
        net: v6(net),
        len,
        value,
    };
    let ds1 = DatasetData {
        answers: answers.clone(),
        ip4: vec![
            ip4("10.0.0.0", 8, listed(0)),
            ip4("10.1.0.0", 16, EntryValue::Excluded),
            ip4("10.1.2.0", 24, listed(1)),
            ip4("127.0.0.3", 32, listed(1)),
            ip4("127.0.0.1", 32, listed(0)),
            ip4("192.0.2.0", 24, listed(3)),
            ip4("198.51.100.0", 25, listed(4)),
            ip4("203.0.113.0", 26, listed(5)),
            ip4("100.64.0.0", 10, listed(6)),
            ip4("0.0.0.0", 32, listed(2)),
            ip4("255.255.255.255", 32, listed(2)),
        ],
        ..Default::default()
    };
    // Overlaps the first: two hits, the shortest TTL, duplicates merged.
    let ds2 = DatasetData {
        answers: vec![answers[0].clone(), answers[1].clone()],
        ip4: vec![
            ip4("10.200.0.0", 16, listed(0)),
            ip4("10.1.2.3", 32, listed(1)),
            ip4("192.0.2.77", 32, listed(0)),
        ],
        ..Default::default()
    };
    let ds3 = DatasetData {
        answers: answers.clone(),
        ip6: vec![
            ip6("2001:db8:1:2::", 64, listed(0)),
            ip6("2001:db8:ff::", 48, listed(1)),
            ip6("2001:db8:ff:0:1::", 80, EntryValue::Excluded),
            ip6("2001:db8::dead:beef", 128, listed(3)),
            ip6("2001:db8:aaaa::", 48, listed(7)),
            ip6("2001:db8:bbbb::", 48, listed(4)),
        ],
        ..Default::default()
    };
    let domain = |name: &str, matching, value| DomainEntry {
        name: name.into(),
        matching,
        value,
    };
    let ds4 = DatasetData {
        answers: answers.clone(),
        domains: vec![
            domain("spam.example", DomainMatch::Exact, listed(0)),
            domain("wild.example", DomainMatch::Subdomains, listed(1)),
            domain("both.example", DomainMatch::Both, listed(3)),
            domain("ok.both.example", DomainMatch::Exact, EntryValue::Excluded),
            domain("big.example", DomainMatch::Both, listed(4)),
            domain("odd.example", DomainMatch::Both, listed(5)),
            domain("a.b.c.deep.example", DomainMatch::Exact, listed(2)),
            domain("huge.example", DomainMatch::Both, listed(6)),
            domain("invalid", DomainMatch::Exact, listed(0)),
        ],
        ..Default::default()
    };
    let ds5 = DatasetData {
        answers: vec![answers[1].clone()],
        domains: vec![
            domain("spam.example", DomainMatch::Both, listed(0)),
            domain("test", DomainMatch::Exact, listed(0)),
        ],
        ..Default::default()
    };
    let ds_sub = DatasetData {
        answers: vec![answers[2].clone()],
        ip4: vec![ip4("10.0.0.0", 8, listed(0))],
        ..Default::default()
    };
    let arc = |d: &DatasetData, ttl| Arc::new(Dataset::build(&[d], ttl));
    let long = long_zone();
    let mut big_soa = soa(u32::MAX, u32::MAX, &format!("ns.{long}"), "h.example.net");
    big_soa.refresh = u32::MAX;
    let zones = vec![
        Zone::new(
            "iprbl.test",
            soa(60, 30, "ns1.iprbl.test", "hostmaster.iprbl.test"),
            vec!["ns1.iprbl.test".into(), "ns2.example.net".into()],
            3600,
            vec![arc(&ds1, 300), arc(&ds2, 120), arc(&ds3, 600)],
        ),
        Zone::new(
            "sub.iprbl.test",
            soa(3600, 300, "ns1.iprbl.test", "hostmaster.example.net"),
            vec![],
            86400,
            vec![arc(&ds_sub, 900)],
        ),
        Zone::new(
            "DBL.Test.",
            soa(3600, 900, "ns.elsewhere.org", "dns.elsewhere.org"),
            vec![
                "ns.elsewhere.org".into(),
                "ns2.dbl.test".into(),
                "NS3.dbl.test".into(),
            ],
            7200,
            vec![arc(&ds4, 900), arc(&ds5, 60)],
        ),
        // An SOA name hickory refuses (replaced by the apex) and no data.
        Zone::new(
            "empty.example",
            soa(10, 5, "bad..name", "hostmaster.empty.example"),
            vec!["ns.empty.example".into()],
            10,
            vec![],
        ),
        Zone::new(
            &long,
            big_soa,
            vec![format!("ns1.{long}"), "x.example.net".into()],
            0,
            vec![arc(&ds1, 0)],
        ),
    ];
    Snapshot {
        zones: zones
            .into_iter()
            .map(|z| z.expect("valid fixture zone"))
            .collect(),
    }
}

/// The served form of [`snapshot`].
pub fn served() -> Served {
    Served::new(Arc::new(snapshot()))
}

// ---------------------------------------------------------------------
// Seed queries.

/// Options of one seed query.
#[derive(Clone, Copy)]
struct Q {
    id: u16,
    flags: u16,
    qtype: u16,
    qclass: u16,
    /// EDNS payload size and the DO bit, when the query has an OPT.
    edns: Option<(u16, bool)>,
}

const PLAIN: Q = Q {
    id: 0xabcd,
    flags: 0x0100,
    qtype: 1,
    qclass: 1,
    edns: None,
};

fn wire_name(p: &mut Vec<u8>, name: &str) {
    for l in name.split('.').filter(|l| !l.is_empty()) {
        p.push(l.len() as u8);
        p.extend_from_slice(l.as_bytes());
    }
    p.push(0);
}

fn packet(name: &str, q: Q) -> Vec<u8> {
    let mut p = q.id.to_be_bytes().to_vec();
    p.extend_from_slice(&q.flags.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(q.edns.is_some())]);
    wire_name(&mut p, name);
    p.extend_from_slice(&q.qtype.to_be_bytes());
    p.extend_from_slice(&q.qclass.to_be_bytes());
    if let Some((size, dnssec_ok)) = q.edns {
        p.extend_from_slice(&[0, 0, 41]);
        p.extend_from_slice(&size.to_be_bytes());
        p.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    }
    p
}

/// Flips the case of every other letter (0x20 randomisation).
fn mixed_case(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// Seed queries for both targets, with a file-friendly name each: real
/// queries (A/TXT/ANY/MX/SOA/NS for listed and unlisted IPv4 and IPv6
/// names, domains, apexes; with and without EDNS; upper and lower case)
/// and malformed ones.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let v6name = |ip: &str| qname::v6_query_name(ip.parse().expect("seed IPv6"));
    let long = long_zone();
    let names: Vec<(&str, String)> = vec![
        ("v4-listed", "3.2.1.10.iprbl.test".into()),
        ("v4-two-datasets", "3.2.1.10.iprbl.test".into()),
        ("v4-range", "9.9.9.10.iprbl.test".into()),
        ("v4-excluded", "9.9.1.10.iprbl.test".into()),
        ("v4-unlisted", "4.3.2.1.iprbl.test".into()),
        ("v4-prefix", "2.1.10.iprbl.test".into()),
        ("v4-test-listed", "2.0.0.127.iprbl.test".into()),
        ("v4-test-never", "1.0.0.127.iprbl.test".into()),
        ("v4-long-txt", "77.2.0.192.iprbl.test".into()),
        ("v4-too-big", "9.100.51.198.iprbl.test".into()),
        ("v4-odd-txt", "5.113.0.203.iprbl.test".into()),
        ("v4-huge-txt-fits", "0.0.64.100.iprbl.test".into()),
        ("v4-huge-txt-over", "255.255.127.100.iprbl.test".into()),
        ("v4-zero", "0.0.0.0.iprbl.test".into()),
        ("v4-leading-zero", "010.0.0.10.iprbl.test".into()),
        ("v4-five-labels", "1.2.3.4.5.iprbl.test".into()),
        ("v4-sub-zone", "3.2.1.10.sub.iprbl.test".into()),
        ("v4-long-zone", format!("3.2.1.10.{long}")),
        (
            "v6-listed",
            format!("{}.iprbl.test", v6name("2001:db8:1:2::5")),
        ),
        (
            "v6-single",
            format!("{}.iprbl.test", v6name("2001:db8::dead:beef")),
        ),
        (
            "v6-excluded",
            format!("{}.iprbl.test", v6name("2001:db8:ff:0:1::1")),
        ),
        (
            "v6-unlisted",
            format!("{}.iprbl.test", v6name("2001:db8:9::1")),
        ),
        (
            "v6-mapped",
            format!("{}.iprbl.test", v6name("::ffff:10.1.2.3")),
        ),
        (
            "v6-huge-txt",
            format!("{}.iprbl.test", v6name("2001:db8:aaaa::1")),
        ),
        (
            "v6-too-big",
            format!("{}.iprbl.test", v6name("2001:db8:bbbb::1")),
        ),
        ("v6-prefix", "8.b.d.0.1.0.0.2.iprbl.test".into()),
        ("dom-exact", "spam.example.dbl.test".into()),
        ("dom-wild", "www.wild.example.dbl.test".into()),
        ("dom-wild-apex", "wild.example.dbl.test".into()),
        ("dom-both", "x.y.both.example.dbl.test".into()),
        ("dom-excluded", "ok.both.example.dbl.test".into()),
        ("dom-big", "big.example.dbl.test".into()),
        ("dom-odd", "odd.example.dbl.test".into()),
        ("dom-deep", "a.b.c.deep.example.dbl.test".into()),
        ("dom-ent", "c.deep.example.dbl.test".into()),
        ("dom-huge", "huge.example.dbl.test".into()),
        ("dom-invalid", "invalid.dbl.test".into()),
        ("dom-test", "test.dbl.test".into()),
        ("dom-unlisted", "ham.example.dbl.test".into()),
        ("apex-ip", "iprbl.test".into()),
        ("apex-sub", "sub.iprbl.test".into()),
        ("apex-dbl", "dbl.test".into()),
        ("apex-empty", "empty.example".into()),
        ("apex-long", long.clone()),
        ("out-of-zone", "example.org".into()),
        ("root", String::new()),
    ];
    const TYPES: [(&str, u16); 7] = [
        ("a", 1),
        ("txt", 16),
        ("any", 255),
        ("mx", 15),
        ("soa", 6),
        ("ns", 2),
        ("aaaa", 28),
    ];
    for (label, name) in &names {
        let apex = label.starts_with("apex") || *label == "root";
        for (tname, qtype) in TYPES {
            // Every type at the apexes; A, TXT, ANY and MX elsewhere.
            if !apex && matches!(qtype, 6 | 2 | 28) {
                continue;
            }
            let q = Q { qtype, ..PLAIN };
            out.push((format!("{label}-{tname}"), packet(name, q)));
        }
        let edns = Q {
            qtype: 255,
            edns: Some((1232, false)),
            ..PLAIN
        };
        out.push((format!("{label}-any-edns1232"), packet(name, edns)));
        let edns_do = Q {
            qtype: 16,
            flags: 0x0110,
            edns: Some((4096, true)),
            ..PLAIN
        };
        out.push((format!("{label}-txt-edns4096-do-cd"), packet(name, edns_do)));
        out.push((
            format!("{label}-a-upper"),
            packet(&name.to_ascii_uppercase(), PLAIN),
        ));
        out.push((
            format!("{label}-txt-mixed"),
            packet(&mixed_case(name), Q { qtype: 16, ..PLAIN }),
        ));
    }
    // EDNS payload sizes around the limits.
    for size in [0u16, 1, 511, 512, 513, 1232, 1400, 65535] {
        let q = Q {
            qtype: 255,
            edns: Some((size, false)),
            ..PLAIN
        };
        out.push((
            format!("too-big-any-edns{size}"),
            packet("9.100.51.198.iprbl.test", q),
        ));
    }
    // Header variations the fast path accepts (hickory ignores them in a
    // query): no RD, AA/TC/RA/Z/AD/RCODE bits set.
    for (tag, flags) in [("no-rd", 0x0000u16), ("all-ignored-bits", 0x07ff)] {
        out.push((
            format!("flags-{tag}"),
            packet("3.2.1.10.iprbl.test", Q { flags, ..PLAIN }),
        ));
    }
    out.extend(malformed());
    out
}

/// Malformed and unusual packets: everything the fast parser refuses.
fn malformed() -> Vec<(String, Vec<u8>)> {
    let base = packet("3.2.1.10.iprbl.test", PLAIN);
    let with_edns = packet(
        "3.2.1.10.iprbl.test",
        Q {
            edns: Some((4096, false)),
            ..PLAIN
        },
    );
    let set = |p: &[u8], i: usize, v: u8| {
        let mut p = p.to_vec();
        p[i] = v;
        p
    };
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("one-byte".into(), vec![0]),
        ("header-only".into(), base[..HEADER].to_vec()),
        ("truncated-in-name".into(), base[..HEADER + 5].to_vec()),
        ("truncated-in-type".into(), base[..base.len() - 3].to_vec()),
        ("response-qr1".into(), set(&base, 2, 0x81)),
        ("opcode-notify".into(), set(&base, 2, 0x21)),
        ("opcode-update".into(), set(&base, 2, 0x29)),
        ("opcode-iquery".into(), set(&base, 2, 0x09)),
        ("qdcount-0".into(), set(&base, 5, 0)),
        ("qdcount-2-missing".into(), set(&base, 5, 2)),
        ("ancount-1-missing".into(), set(&base, 7, 1)),
        ("nscount-1-missing".into(), set(&base, 9, 1)),
        ("arcount-1-missing".into(), set(&base, 11, 1)),
        ("class-ch".into(), set(&base, base.len() - 1, 3)),
        ("class-none".into(), set(&base, base.len() - 1, 254)),
        ("class-any".into(), set(&base, base.len() - 1, 255)),
        ("label-64".into(), set(&base, HEADER, 0x40)),
        ("label-0x80".into(), set(&base, HEADER, 0x81)),
        (
            "edns-version-1".into(),
            set(&with_edns, with_edns.len() - 5, 1),
        ),
        (
            "edns-ext-rcode".into(),
            set(&with_edns, with_edns.len() - 6, 1),
        ),
        ("edns-owner-not-root".into(), {
            let mut p = with_edns.clone();
            let at = p.len() - 11;
            p.splice(at..at + 1, [1, b'x', 0]);
            p
        }),
        (
            "edns-not-opt".into(),
            set(&with_edns, with_edns.len() - 9, 1),
        ),
        ("opt-in-wrong-count".into(), set(&with_edns, 11, 0)),
    ];
    // A compression pointer in the question (legal, refused by the fast
    // parser), one looping on itself, one pointing forward.
    for (tag, target) in [("backward", 0x0cu8), ("self", 0x0e), ("forward", 0x40)] {
        let mut p = base[..HEADER].to_vec();
        p.extend_from_slice(&[1, b'x', 0xc0, target, 0, 1, 0, 1]);
        out.push((format!("pointer-{tag}"), p));
    }
    // A second question by pointer; an answer record in a query.
    let mut p = set(&base, 5, 2);
    p.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1]);
    out.push(("two-questions".into(), p));
    let mut p = set(&base, 7, 1);
    p.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
    out.push(("answer-in-query".into(), p));
    // EDNS with a cookie option; two OPT records.
    let mut p = with_edns.clone();
    let n = p.len();
    p[n - 1] = 12;
    p.extend_from_slice(&[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    out.push(("edns-cookie".into(), p));
    let mut p = set(&with_edns, 11, 2);
    p.extend_from_slice(&[0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0]);
    out.push(("edns-twice".into(), p));
    // Trailing bytes.
    let mut p = base.clone();
    p.extend_from_slice(&[0, 0, 0]);
    out.push(("trailing".into(), p));
    // Names at and past the limits: 127 and 128 one-byte labels, 255 and
    // 256 bytes on the wire.
    for n in [127usize, 128] {
        let name = vec!["1"; n].join(".");
        out.push((format!("labels-{n}"), packet(&name, PLAIN)));
    }
    let l63 = "a".repeat(63);
    for last in [61usize, 62] {
        let name = format!("{l63}.{l63}.{l63}.{}", "b".repeat(last));
        let len = 3 * 64 + last + 2;
        out.push((format!("name-{len}-bytes"), packet(&name, PLAIN)));
    }
    // Binary labels, a dot inside a label, NUL bytes.
    let mut p = base[..HEADER].to_vec();
    p.extend_from_slice(&[3, 0, b'.', 0xff, 5, b'i', b'p', b'r', b'b', b'l', 4]);
    p.extend_from_slice(b"test");
    p.extend_from_slice(&[0, 0, 16, 0, 1]);
    out.push(("binary-label".into(), p));
    // Noise.
    let mut rng = fadelist_core::testrng::TestRng::new(0x9e37_79b9);
    for n in [12usize, 29, 64, 200] {
        out.push((format!("noise-{n}"), rng.bytes(n)));
    }
    out
}

// ---------------------------------------------------------------------
// Invariants of the parser.

fn be16(p: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([p[at], p[at + 1]])
}

/// Checks what [`parse_query`] says about `pkt` against the bytes and
/// against hickory-proto's decoder. `Ok` when it refuses the packet.
pub fn check_parse(pkt: &[u8]) -> Result<(), String> {
    let Some(q) = parse_query(pkt) else {
        return Ok(());
    };
    let labels = q.labels();
    if labels.len() > MAX_LABELS {
        return Err(format!("{} labels", labels.len()));
    }
    if let Some(l) = labels.iter().find(|l| l.is_empty() || l.len() > 63) {
        return Err(format!("label of {} bytes", l.len()));
    }
    let wire: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    if wire != q.name_wire_len() || wire > 255 {
        return Err(format!(
            "name is {wire} bytes on the wire, parser says {}",
            q.name_wire_len()
        ));
    }
    let qend = q.question_end();
    if qend != HEADER + wire + 4 || qend > pkt.len() {
        return Err(format!("question ends at {qend} of {}", pkt.len()));
    }
    // The labels re-encoded are the question's bytes, exactly (case kept).
    let mut name = Vec::with_capacity(wire);
    for l in labels {
        name.push(l.len() as u8);
        name.extend_from_slice(l);
    }
    name.push(0);
    if name[..] != pkt[HEADER..HEADER + wire] {
        return Err("labels do not re-encode to the question name".into());
    }
    if q.id() != be16(pkt, 0) || q.flags() != be16(pkt, 2) {
        return Err("id or flags differ from the header".into());
    }
    if q.flags() & 0xf800 != 0 {
        return Err("accepted a response or an opcode other than QUERY".into());
    }
    if q.recursion_desired() != (pkt[2] & 1 != 0) || q.checking_disabled() != (pkt[3] & 0x10 != 0) {
        return Err("RD or CD differ from the header".into());
    }
    let counts = [be16(pkt, 4), be16(pkt, 6), be16(pkt, 8), be16(pkt, 10)];
    if counts[..3] != [1, 0, 0] || counts[3] > 1 {
        return Err(format!("accepted section counts {counts:?}"));
    }
    if q.qtype() != be16(pkt, qend - 4) || q.qclass() != be16(pkt, qend - 2) || q.qclass() != 1 {
        return Err(format!(
            "type {} class {} differ from the bytes",
            q.qtype(),
            q.qclass()
        ));
    }
    match (counts[3], q.edns()) {
        (0, None) if qend == pkt.len() => {}
        (1, Some(e)) if qend + 11 == pkt.len() => {
            let opt = &pkt[qend..];
            let want = [0, 0, 41, 0, 0, 0, 0, opt[7], opt[8], 0, 0];
            let mut got = opt.to_vec();
            got[3] = 0;
            got[4] = 0;
            if got != want || e.payload != be16(opt, 3) || e.dnssec_ok != (opt[7] & 0x80 != 0) {
                return Err(format!("accepted OPT {opt:02x?} as {e:?}"));
            }
        }
        (ar, e) => {
            return Err(format!(
                "ARCOUNT {ar}, EDNS {e:?}, {} bytes after the question",
                pkt.len() - qend
            ));
        }
    }
    // Whatever the fast parser accepts, hickory decodes to the same
    // question and EDNS (the fast path's safety argument).
    let m = Message::from_vec(pkt).map_err(|e| format!("accepted, but hickory refuses: {e}"))?;
    if m.queries.len() != 1 {
        return Err(format!("hickory sees {} questions", m.queries.len()));
    }
    let hq = &m.queries[0];
    let theirs: Vec<&[u8]> = hq.name().iter().collect();
    if theirs != labels {
        return Err(format!("hickory reads the name as {}", hq.name()));
    }
    if u16::from(hq.query_type()) != q.qtype() || u16::from(hq.query_class()) != q.qclass() {
        return Err(format!(
            "hickory reads {} {}",
            hq.query_type(),
            hq.query_class()
        ));
    }
    let hickory_edns = m
        .edns
        .as_ref()
        .map(|e| (e.max_payload(), e.flags().dnssec_ok, e.version()));
    let ours = q.edns().map(|e| (e.payload.max(512), e.dnssec_ok, 0));
    if hickory_edns != ours {
        return Err(format!("EDNS: ours {ours:?}, hickory {hickory_edns:?}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Invariants of the answer path.

/// The UDP payload limit for the reply to `pkt`, as the server applies it:
/// the client's EDNS payload size (at least 512) when hickory-server's
/// request decoder finds an OPT, else 512.
pub fn udp_limit(pkt: &[u8]) -> usize {
    Request::from_bytes(pkt.to_vec(), CLIENT, Protocol::Udp)
        .ok()
        .and_then(|r| {
            r.edns
                .as_ref()
                .map(|e| usize::from(e.max_payload().max(512)))
        })
        .unwrap_or(512)
}

/// Checks one reply on its own: it fits the payload limit of the query,
/// parses with hickory-proto, answers the query's ID and has QR=1.
pub fn check_reply(pkt: &[u8], reply: &[u8]) -> Result<Message, String> {
    let limit = udp_limit(pkt);
    if reply.len() > limit {
        return Err(format!("reply is {} bytes, limit {limit}", reply.len()));
    }
    let m = Message::from_vec(reply).map_err(|e| format!("reply does not parse: {e}"))?;
    if pkt.len() < 2 || m.metadata.id != be16(pkt, 0) {
        return Err(format!("reply id {:#06x}", m.metadata.id));
    }
    if m.metadata.message_type != MessageType::Response {
        return Err("reply has QR=0".into());
    }
    Ok(m)
}

/// Runs `pkt` through the whole UDP answer path ([`Responder::respond`]:
/// the fast path, falling back to hickory) and checks its invariants:
/// silence only where hickory is silent too (fewer than 12 bytes, or a
/// response), a fallback reply byte for byte equal to [`respond_bytes`],
/// every reply valid by [`check_reply`]; and, when the fast parser accepts
/// the packet, that [`Responder::respond_fast`] agrees with `respond`
/// and means the same as the hickory path's reply ([`compare`]).
///
/// `responder` is reused as the workers reuse theirs; `respond` itself
/// gets a fresh one, so a finding never depends on earlier inputs alone.
pub fn check_respond(
    served: &Served,
    responder: &mut Responder,
    pkt: &[u8],
) -> Result<Answered, String> {
    let mut out = Vec::new();
    let answered = Responder::new().respond(served, pkt, CLIENT, &mut out);
    let hickory = respond_bytes(served, pkt, CLIENT, Protocol::Udp);
    let parsed = parse_query(pkt);
    match (answered, &hickory) {
        (Answered::Silent, None) => {
            if !out.is_empty() {
                return Err("silent, but wrote a reply".into());
            }
            if pkt.len() >= HEADER && pkt[2] & 0x80 == 0 {
                return Err("silent to a query".into());
            }
        }
        (Answered::Fallback, Some(h)) => {
            if out != *h {
                return Err("fallback reply differs from respond_bytes".into());
            }
            check_reply(pkt, &out)?;
        }
        (Answered::Fast, Some(h)) => {
            if parsed.is_none() {
                return Err("fast reply to a packet the parser refuses".into());
            }
            let m = check_reply(pkt, &out)?;
            // The question is echoed as received.
            let qend = parsed.as_ref().map_or(0, |q| q.question_end());
            if out.len() < qend || out[HEADER..qend] != pkt[HEADER..qend] {
                return Err("question not echoed as received".into());
            }
            if m.metadata.op_code != OpCode::Query {
                return Err("fast reply with another opcode".into());
            }
            let full = respond_bytes(served, pkt, CLIENT, Protocol::Tcp)
                .ok_or("the hickory path answers over UDP but not over TCP")?;
            compare(&out, h, &full, udp_limit(pkt))?;
        }
        (a, h) => {
            return Err(format!(
                "respond says {a:?}, respond_bytes {}",
                if h.is_some() { "replies" } else { "is silent" }
            ));
        }
    }
    if let Some(q) = &parsed {
        // respond_fast appends to what is in the buffer and agrees with
        // respond; when it declines it leaves the buffer as it was.
        let mut again = vec![0x5a; 7];
        let fast = responder.respond_fast(served, q, pkt, &mut again);
        if again[..7] != [0x5a; 7] {
            return Err("respond_fast overwrote the buffer".into());
        }
        match (fast, answered) {
            (true, Answered::Fast) if again[7..] == out[..] => {}
            (false, Answered::Fallback) if again.len() == 7 => {}
            (f, a) => {
                return Err(format!(
                    "respond_fast {f} ({} bytes), respond {a:?}",
                    again.len() - 7
                ));
            }
        }
    }
    Ok(answered)
}

// ---------------------------------------------------------------------
// Fast reply against the hickory path's reply, by meaning.

/// A record in comparable form: owner (case-insensitive), TTL, class,
/// type and RDATA (TXT with its string boundaries).
fn key(r: &Record) -> String {
    let rdata = match &r.data {
        RData::A(a) => a.to_string(),
        RData::TXT(t) => format!("{:?}", t.txt_data),
        RData::SOA(s) => format!(
            "{} {} {} {} {} {} {}",
            s.mname.to_lowercase(),
            s.rname.to_lowercase(),
            s.serial,
            s.refresh,
            s.retry,
            s.expire,
            s.minimum
        ),
        RData::NS(n) => n.0.to_lowercase().to_string(),
        other => format!("{other:?}"),
    };
    format!(
        "{} {} {} {} {}",
        r.name.to_lowercase(),
        r.ttl,
        r.dns_class,
        r.record_type(),
        rdata
    )
}

/// The answer, authority and additional sections of `m`, each as its
/// records in comparable form (see `key`), in message order.
pub fn sections(m: &Message) -> [Vec<String>; 3] {
    let keys = |rs: &[Record]| rs.iter().map(key).collect();
    [keys(&m.answers), keys(&m.authorities), keys(&m.additionals)]
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

type HeaderView = (
    u16,
    MessageType,
    OpCode,
    String,
    bool,
    bool,
    bool,
    bool,
    bool,
);

fn header(m: &Metadata) -> HeaderView {
    (
        m.id,
        m.message_type,
        m.op_code,
        format!("{:?}", m.response_code),
        m.authoritative,
        m.recursion_desired,
        m.recursion_available,
        m.authentic_data,
        m.checking_disabled,
    )
}

/// Compares a fast-path reply with the hickory path's reply to the same
/// query: same header (ID, flags but TC, rcode), same question (case
/// included), same records as sets and same EDNS. `full` is the hickory
/// path's reply without a size limit (TCP), `limit` the UDP payload limit.
/// The fast path compresses names and hickory does not, so when a reply
/// does not fit, the two may keep a different number of records: then
/// each section must be a prefix of the complete one, the fast one at
/// least as long, and TC must say exactly whether something was left out.
pub fn compare(fast: &[u8], hickory: &[u8], full: &[u8], limit: usize) -> Result<(), String> {
    let parse = |what: &str, b: &[u8]| {
        Message::from_vec(b).map_err(|e| format!("{what} reply does not parse: {e}"))
    };
    let f = parse("fast", fast)?;
    let h = parse("hickory", hickory)?;
    let full = parse("full", full)?;
    let (fm, hm) = (&f.metadata, &h.metadata);
    if header(fm) != header(hm) {
        return Err(format!(
            "header: fast {:?} hickory {:?}",
            header(fm),
            header(hm)
        ));
    }
    if f.queries.len() != h.queries.len() {
        return Err("question count differs".into());
    }
    for (a, b) in f.queries.iter().zip(&h.queries) {
        if !a.name().eq_case(b.name())
            || a.query_type() != b.query_type()
            || a.query_class() != b.query_class()
        {
            return Err(format!("question: fast {a} hickory {b}"));
        }
    }
    // Answers are owned by the question name as asked (case included).
    for m in [&f, &h] {
        for r in &m.answers {
            if matches!(r.data, RData::A(_) | RData::TXT(_))
                && !m.queries.iter().any(|q| q.name().eq_case(&r.name))
            {
                return Err(format!("answer owner {} is not the question", r.name));
            }
        }
    }
    if fast.len() > limit {
        return Err(format!("fast reply is {} bytes, limit {limit}", fast.len()));
    }
    let edns = |m: &Message| m.edns.as_ref().map(|e| format!("{e:?}"));
    let (fs, hs) = (sections(&f), sections(&h));
    if !fm.truncation && !hm.truncation {
        for (i, (a, b)) in fs.iter().zip(&hs).enumerate() {
            if sorted(a) != sorted(b) {
                return Err(format!("section {i}: fast {a:?} hickory {b:?}"));
            }
        }
        if edns(&f) != edns(&h) {
            return Err(format!("EDNS: fast {:?} hickory {:?}", edns(&f), edns(&h)));
        }
        return Ok(());
    }
    if fm.truncation && !hm.truncation {
        return Err("fast reply truncated, hickory's is not".into());
    }
    let all = sections(&full);
    let mut complete = true;
    for (i, ((a, b), c)) in fs.iter().zip(&hs).zip(&all).enumerate() {
        if !c.starts_with(a) || !c.starts_with(b) {
            return Err(format!(
                "section {i} is not a prefix of the complete answer"
            ));
        }
        if a.len() < b.len() {
            return Err(format!(
                "section {i}: fast kept {} records, hickory {}",
                a.len(),
                b.len()
            ));
        }
        complete &= a.len() == c.len();
    }
    match (edns(&f), edns(&full)) {
        (Some(a), Some(b)) if a != b => return Err(format!("EDNS: fast {a} full {b}")),
        (Some(_), None) => return Err("fast reply has EDNS, the query had none".into()),
        (None, Some(_)) if fast.len() + 11 <= limit => return Err("OPT left out".into()),
        (None, Some(_)) => complete = false,
        _ => {}
    }
    if fm.truncation == complete {
        return Err(format!("TC={} but complete={complete}", fm.truncation));
    }
    Ok(())
}
