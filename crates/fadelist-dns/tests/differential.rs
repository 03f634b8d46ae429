//! Differential tests: the UDP fast path against the hickory path.
//!
//! Both paths answer the same randomised packets (seeded, so a failure
//! reproduces) from the same snapshot, and their replies are compared by
//! meaning: header, question (case included), records as multisets, EDNS.
//! The fast path compresses names and the hickory path does not, so when
//! a reply does not fit the payload limit the two may keep a different
//! number of records; then each must be a prefix of the untruncated
//! answer, the fast one at least as long, and TC must say exactly whether
//! something was left out.
//!
//! - `function_level`: `Responder::respond` against `respond_bytes`
//!   in-process, 60,000 packets.
//! - `socket_level`: a fast-path server and a hickory-server UDP server,
//!   both on port 0, receive the same 20,000 packets; their replies are
//!   also checked byte for byte against the in-process functions (which
//!   shows that `respond_bytes` reproduces hickory-server exactly).
//! - `function_level_tcp` / `socket_level_tcp`: the same for TCP, the
//!   fast TCP front and hickory-server's TCP each receiving the packets
//!   pipelined over one connection.
//! - `comparer_catches_differences`: the comparison is not vacuous.

// The fuzz targets' invariants and reply comparison, shared (the rest of
// the harness, its own snapshot and seeds, is not used here).
#[allow(dead_code)]
#[path = "../../../fuzz/src/harness.rs"]
mod harness;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fadelist_core::data::{
    AnswerSpec, DatasetData, DomainEntry, DomainMatch, EntryValue, Ip4Entry, Ip6Entry,
};
use fadelist_core::dataset::Dataset;
use fadelist_core::qname;
use fadelist_core::snapshot::{Snapshot, Zone};
use fadelist_core::testrng::TestRng as Rng;
use fadelist_dns::Publisher;
use fadelist_dns::fast::{Answered, Responder, no_labels, parse_query};
use fadelist_dns::handler::{Protocol, respond_bytes};
use fadelist_dns::publisher::Served;
use fadelist_dns::server::{self, DnsOptions, TcpMode, UdpMode};
use harness::{compare, soa, v4, v6};
use hickory_proto::op::Message;
use hickory_proto::rr::RData;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------
// The data.

/// What the generator needs to know about the data to ask good questions.
struct Fixture {
    zones: Vec<String>,
    v4_listed: Vec<u32>,
    v6_listed: Vec<u128>,
    domains: Vec<String>,
}

fn build() -> (Snapshot, Fixture) {
    let mut rng = Rng::new(0x5eed_0001);
    let long_txt = format!(
        "Listed {}: {} see https://example.net/lookup?q=$",
        "$",
        "x".repeat(300)
    );
    let answers = vec![
        // 0: the usual.
        AnswerSpec::new(
            Ipv4Addr::new(127, 0, 0, 2),
            Some("Listed: $ see https://example.net/lookup?q=$".into()),
        ),
        // 1: several A and TXT.
        AnswerSpec {
            a: vec![Ipv4Addr::new(127, 0, 0, 3), Ipv4Addr::new(127, 0, 0, 4)],
            txt: vec!["phish $".into(), "second $$ text for $".into()],
        },
        // 2: A only.
        AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 5), None),
        // 3: a TXT longer than 255 bytes.
        AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 6), Some(long_txt)),
        // 4: too big for 512 bytes: 40 A values and five 200-byte TXT.
        AnswerSpec {
            a: (0..40).map(|i| Ipv4Addr::new(127, 0, 1, i)).collect(),
            txt: (0..5)
                .map(|i| format!("{i} $ {}", "y".repeat(200)))
                .collect(),
        },
        // 5: an empty TXT and a non-ASCII one.
        AnswerSpec {
            a: vec![Ipv4Addr::new(127, 0, 0, 7)],
            txt: vec![String::new(), "Liste: $ — été".into()],
        },
    ];
    let listed = |i: u32| EntryValue::Listed(i);

    // IPv4, first dataset: ranges, an exclusion inside a range, a listed
    // range inside the exclusion, single addresses.
    let mut v4_listed = vec![v4("10.1.2.3"), v4("10.200.3.4"), v4("127.0.0.3")];
    let mut ip4 = vec![
        Ip4Entry {
            net: v4("10.0.0.0"),
            len: 8,
            value: listed(0),
        },
        Ip4Entry {
            net: v4("10.1.0.0"),
            len: 16,
            value: EntryValue::Excluded,
        },
        Ip4Entry {
            net: v4("10.1.2.0"),
            len: 24,
            value: listed(1),
        },
        Ip4Entry {
            net: v4("127.0.0.3"),
            len: 32,
            value: listed(1),
        },
        Ip4Entry {
            net: v4("127.0.0.1"),
            len: 32,
            value: listed(0),
        },
        Ip4Entry {
            net: v4("192.0.2.0"),
            len: 24,
            value: listed(3),
        },
        Ip4Entry {
            net: v4("198.51.100.0"),
            len: 25,
            value: listed(4),
        },
        Ip4Entry {
            net: v4("203.0.113.0"),
            len: 26,
            value: listed(5),
        },
    ];
    v4_listed.extend([v4("192.0.2.77"), v4("198.51.100.9"), v4("203.0.113.5")]);
    for _ in 0..300 {
        let ip = rng.next_u64() as u32;
        v4_listed.push(ip);
        ip4.push(Ip4Entry {
            net: ip,
            len: 32,
            value: listed(rng.below(6) as u32),
        });
    }
    let ds1 = DatasetData {
        answers: answers.clone(),
        ip4,
        ..Default::default()
    };
    // IPv4, second dataset: overlaps the first (two hits, shortest TTL,
    // duplicate A values merged).
    let mut ip4b = vec![Ip4Entry {
        net: v4("10.200.0.0"),
        len: 16,
        value: listed(0),
    }];
    for &ip in v4_listed.iter().step_by(7) {
        ip4b.push(Ip4Entry {
            net: ip,
            len: 32,
            value: listed(1),
        });
    }
    let ds2 = DatasetData {
        answers: vec![answers[0].clone(), answers[1].clone()],
        ip4: ip4b,
        ..Default::default()
    };
    // IPv6.
    let mut v6_listed = vec![
        v6("2001:db8:1:2::"),
        v6("2001:db8:ff::"),
        v6("2001:db8:ff:0:1::"),
        v6("2001:db8::dead:beef"),
    ];
    let mut ip6 = vec![
        Ip6Entry {
            net: v6("2001:db8:1:2::"),
            len: 64,
            value: listed(0),
        },
        Ip6Entry {
            net: v6("2001:db8:ff::"),
            len: 48,
            value: listed(1),
        },
        Ip6Entry {
            net: v6("2001:db8:ff:0:1::"),
            len: 80,
            value: EntryValue::Excluded,
        },
        Ip6Entry {
            net: v6("2001:db8::dead:beef"),
            len: 128,
            value: listed(3),
        },
    ];
    for _ in 0..100 {
        let net = u128::from(rng.next_u64()) << 64;
        v6_listed.push(net);
        ip6.push(Ip6Entry {
            net,
            len: 64,
            value: listed(rng.below(6) as u32),
        });
    }
    let ds3 = DatasetData {
        answers: answers.clone(),
        ip6,
        ..Default::default()
    };
    // Domains.
    let domains = [
        ("spam.example", DomainMatch::Exact, listed(0)),
        ("wild.example", DomainMatch::Subdomains, listed(1)),
        ("both.example", DomainMatch::Both, listed(3)),
        ("ok.both.example", DomainMatch::Exact, EntryValue::Excluded),
        ("big.example", DomainMatch::Both, listed(4)),
        ("odd.example", DomainMatch::Both, listed(5)),
        ("a.b.c.deep.example", DomainMatch::Exact, listed(2)),
        ("invalid", DomainMatch::Exact, listed(0)),
    ];
    let ds4 = DatasetData {
        answers: answers.clone(),
        domains: domains
            .iter()
            .map(|(n, m, v)| DomainEntry {
                name: (*n).into(),
                matching: *m,
                value: *v,
            })
            .collect(),
        ..Default::default()
    };
    let ds5 = DatasetData {
        answers: vec![answers[1].clone()],
        domains: vec![
            DomainEntry {
                name: "spam.example".into(),
                matching: DomainMatch::Both,
                value: listed(0),
            },
            DomainEntry {
                name: "test".into(),
                matching: DomainMatch::Exact,
                value: listed(0),
            },
        ],
        ..Default::default()
    };
    let ds_sub = DatasetData {
        answers: vec![answers[2].clone()],
        ip4: vec![Ip4Entry {
            net: v4("10.0.0.0"),
            len: 8,
            value: listed(0),
        }],
        ..Default::default()
    };
    let arc = |d: &DatasetData, ttl| Arc::new(Dataset::build(&[d], ttl));
    let zones = vec![
        Zone::new(
            "iprbl.test",
            soa(60, 30, "ns1.iprbl.test", "hostmaster.iprbl.test"),
            vec!["ns1.iprbl.test".into(), "ns2.example.net".into()],
            3600,
            vec![arc(&ds1, 300), arc(&ds2, 120), arc(&ds3, 600)],
        )
        .unwrap(),
        Zone::new(
            "sub.iprbl.test",
            soa(3600, 300, "ns1.iprbl.test", "hostmaster.example.net"),
            vec![],
            86400,
            vec![arc(&ds_sub, 900)],
        )
        .unwrap(),
        Zone::new(
            "DBL.Test.",
            soa(3600, 900, "ns.elsewhere.org", "dns.elsewhere.org"),
            vec![
                "ns.elsewhere.org".into(),
                "ns2.dbl.test".into(),
                "ns3.dbl.test".into(),
            ],
            7200,
            vec![arc(&ds4, 900), arc(&ds5, 60)],
        )
        .unwrap(),
        // An SOA name hickory refuses (replaced by the apex) and no data.
        Zone::new(
            "empty.example",
            soa(10, 5, "bad..name", "hostmaster.empty.example"),
            vec!["ns.empty.example".into()],
            10,
            vec![],
        )
        .unwrap(),
    ];
    let fixture = Fixture {
        zones: zones.iter().map(|z| z.name().to_string()).collect(),
        v4_listed,
        v6_listed,
        domains: domains.iter().map(|(n, _, _)| (*n).to_string()).collect(),
    };
    (Snapshot { zones }, fixture)
}

// ---------------------------------------------------------------------
// Query generation.

fn labels_of(s: &str) -> Vec<Vec<u8>> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split('.').map(|l| l.as_bytes().to_vec()).collect()
}

/// The labels in front of a zone name, and the zone they are best asked
/// in (0: IP data, 2: domain data).
fn gen_rel(rng: &mut Rng, fx: &Fixture) -> (Vec<Vec<u8>>, usize) {
    let kind = rng.below(20);
    let zone = if (12..=16).contains(&kind) { 2 } else { 0 };
    let name = match kind {
        0..=3 => {
            // A listed address, or one near it.
            let mut ip = *rng.pick(&fx.v4_listed);
            if rng.chance(30) {
                ip ^= rng.below(256) as u32;
            }
            qname::v4_query_name(Ipv4Addr::from(ip))
        }
        4 => qname::v4_query_name(Ipv4Addr::from(rng.next_u64() as u32)),
        5 => {
            // A prefix: an empty non-terminal or nothing.
            let full = qname::v4_query_name(Ipv4Addr::from(*rng.pick(&fx.v4_listed)));
            let parts: Vec<&str> = full.split('.').collect();
            parts[rng.below(3) + 1..].join(".")
        }
        6 => rng
            .pick(&[
                "2.0.0.127",
                "1.0.0.127",
                "3.0.0.127",
                "0.0.127",
                "010.0.0.10",
                "256.1.1.1",
                "1.2.3.4.5",
            ])
            .to_string(),
        7..=9 => {
            let base = *rng.pick(&fx.v6_listed);
            let ip = match rng.below(4) {
                0 => base | u128::from(rng.next_u64() as u16),
                1 => base ^ (u128::from(rng.next_u64()) << 32),
                2 => (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()),
                _ => base,
            };
            qname::v6_query_name(Ipv6Addr::from(ip))
        }
        10 => {
            // IPv4-mapped IPv6.
            let ip4 = if rng.chance(70) {
                *rng.pick(&fx.v4_listed)
            } else {
                let r = rng.next_u64() as u32;
                *rng.pick(&[0x7f00_0002u32, 0x7f00_0001, r])
            };
            qname::v6_query_name(Ipv4Addr::from(ip4).to_ipv6_mapped())
        }
        11 => {
            // Some nibbles: a prefix of a listed network.
            let full = qname::v6_query_name(Ipv6Addr::from(*rng.pick(&fx.v6_listed)));
            let keep = rng.below(32) + 1;
            full[full.len() - (2 * keep - 1)..].to_string()
        }
        12..=15 => {
            let d = rng.pick(&fx.domains).clone();
            match rng.below(4) {
                0 => format!("www.{d}"),
                1 => format!("x{}.y.{d}", rng.below(100)),
                _ => d,
            }
        }
        16 => rng
            .pick(&[
                "test",
                "invalid",
                "example",
                "deep.example",
                "b.c.deep.example",
                "c.deep.example",
            ])
            .to_string(),
        17 => String::new(), // the apex
        18 => format!("r{}", rng.next_u64() % 1000),
        _ => {
            // Binary labels, long labels, many labels.
            let mut labels = Vec::new();
            let n = rng.below(6) + 1;
            for _ in 0..n {
                let len = *rng.pick(&[1usize, 2, 10, 63]);
                labels.push((0..len).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>());
            }
            return (labels, zone);
        }
    };
    (labels_of(&name), zone)
}

/// A whole question name.
fn gen_name(rng: &mut Rng, fx: &Fixture) -> Vec<Vec<u8>> {
    let mut labels = match rng.below(20) {
        0 => Vec::new(), // the root
        1 => {
            let outside: [&str; 5] = [
                "example.org",
                "test",
                "iprbl.test.evil",
                "x.iprbl",
                "ip6.arpa",
            ];
            labels_of(rng.pick::<&str>(&outside))
        }
        2 => {
            // Many labels: up to the 255-byte limit and past it.
            let n = rng.below(130) + 1;
            (0..n)
                .map(|i| vec![b'0' + (i % 10) as u8])
                .chain(labels_of("iprbl.test"))
                .collect()
        }
        _ => {
            let (mut l, best) = gen_rel(rng, fx);
            let zone = if rng.chance(70) {
                fx.zones[best].clone()
            } else {
                rng.pick(&fx.zones).clone()
            };
            l.extend(labels_of(&zone));
            l
        }
    };
    if rng.chance(40) {
        // 0x20 randomisation, as resolvers do.
        for l in &mut labels {
            for b in l.iter_mut() {
                if b.is_ascii_alphabetic() && rng.chance(50) {
                    *b ^= 0x20;
                }
            }
        }
    }
    labels
}

fn push_name(p: &mut Vec<u8>, labels: &[Vec<u8>]) {
    for l in labels {
        p.push(l.len() as u8);
        p.extend_from_slice(l);
    }
    p.push(0);
}

const QTYPES: [u16; 16] = [1, 1, 1, 1, 16, 16, 16, 255, 255, 15, 6, 2, 28, 12, 5, 41];

fn gen_packet(rng: &mut Rng, fx: &Fixture) -> Vec<u8> {
    // Mostly ordinary queries with the header bits clients really set.
    let mut b2 = if rng.chance(85) { 0x01 } else { 0x00 };
    let mut b3 = 0u8;
    if rng.chance(10) {
        b3 |= 0x10; // CD
    }
    if rng.chance(10) {
        b3 |= 0x20; // AD
    }
    if rng.chance(3) {
        b2 |= (rng.next_u64() as u8) & 0x06; // AA, TC
        b3 |= (rng.next_u64() as u8) & 0xcf; // RA, Z, RCODE
    }
    let odd = rng.chance(12);
    let mut qd = 1u16;
    let mut an = 0u16;
    if odd {
        match rng.below(6) {
            0 => b2 |= ((rng.below(15) as u8) + 1) << 3, // another opcode
            1 => b2 |= 0x80,                             // a response
            2 => qd = 0,
            3 => qd = 2,
            4 => an = 1,
            _ => {}
        }
    }
    let id = rng.next_u64() as u16;
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[b2, b3]);
    p.extend_from_slice(&qd.to_be_bytes());
    p.extend_from_slice(&an.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]); // NSCOUNT, ARCOUNT (set below)
    let name = gen_name(rng, fx);
    let pointer_question = odd && rng.chance(15);
    if pointer_question && !name.is_empty() {
        // The first label, then a pointer into the header: legal for
        // hickory (it points backwards), never for the fast parser.
        p.push(name[0].len() as u8);
        p.extend_from_slice(&name[0]);
        p.extend_from_slice(&[0xc0, rng.below(12) as u8]);
    } else {
        push_name(&mut p, &name);
    }
    let qtype = if rng.chance(90) {
        *rng.pick(&QTYPES)
    } else {
        rng.next_u64() as u16
    };
    let r = rng.next_u64() as u16;
    let qclass: u16 = if rng.chance(92) {
        1
    } else {
        *rng.pick(&[3u16, 4, 254, 255, r])
    };
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&qclass.to_be_bytes());
    if qd == 2 {
        // A second question: the same name by pointer, type TXT.
        p.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1]);
    }
    if an == 1 {
        // An A record in the answer section.
        p.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
    }
    let mut ar = 0u16;
    if rng.chance(40) {
        ar = 1;
        let r = rng.next_u64() as u16;
        let payload: u16 =
            *rng.pick(&[0, 1, 511, 512, 513, 1232, 1232, 1400, 4096, 4096, 65535, r]);
        let ext_rcode = if rng.chance(3) { 1 } else { 0 };
        let version = if rng.chance(6) { rng.below(3) as u8 } else { 0 };
        let flags: u16 =
            if rng.chance(30) { 0x8000 } else { 0 } | if rng.chance(3) { 0x0001 } else { 0 };
        p.push(0);
        p.extend_from_slice(&41u16.to_be_bytes());
        p.extend_from_slice(&payload.to_be_bytes());
        p.extend_from_slice(&[ext_rcode, version]);
        p.extend_from_slice(&flags.to_be_bytes());
        if rng.chance(6) {
            // A cookie option (RFC 7873).
            p.extend_from_slice(&[0, 12, 0, 10, 0, 8]);
            p.extend((0..8).map(|_| rng.next_u64() as u8));
        } else {
            p.extend_from_slice(&[0, 0]);
        }
        if rng.chance(2) {
            // A second OPT: FORMERR.
            ar = 2;
            p.extend_from_slice(&[0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0]);
        }
    }
    p[10..12].copy_from_slice(&ar.to_be_bytes());
    if rng.chance(3) {
        // Trailing bytes.
        p.extend((0..rng.below(8) + 1).map(|_| rng.next_u64() as u8));
    }
    // Malformed packets.
    match rng.below(100) {
        0..=2 => {
            let n = rng.below(p.len());
            p.truncate(n);
        }
        3..=4 => {
            for _ in 0..rng.below(3) + 1 {
                let i = rng.below(p.len());
                p[i] ^= 1 << rng.below(8);
            }
        }
        5 => {
            p = (0..rng.below(80)).map(|_| rng.next_u64() as u8).collect();
        }
        _ => {}
    }
    p
}

// ---------------------------------------------------------------------
// The comparison: `harness::compare`, shared with the fuzz targets.

const CLIENT: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(127, 0, 0, 1),
    5353,
));

#[derive(Debug, Default)]
struct Tally {
    fast: usize,
    fallback: usize,
    silent: usize,
    truncated: usize,
    nxdomain: usize,
    listed: usize,
    refused: usize,
}

impl Tally {
    fn check(&self, total: usize) {
        println!("{total} packets: {self:?}");
        assert!(self.fast * 2 > total, "most packets take the fast path");
        assert!(self.fallback > total / 20, "the fallback is exercised");
        assert!(self.silent > 0 && self.truncated > 0);
        assert!(self.nxdomain > total / 20 && self.listed > total / 20 && self.refused > 0);
    }

    fn count(&mut self, answered: Answered, reply: &[u8]) {
        match answered {
            Answered::Fast => self.fast += 1,
            Answered::Fallback => self.fallback += 1,
            Answered::Silent => self.silent += 1,
        }
        if reply.len() >= 12 {
            self.truncated += usize::from(reply[2] & 0x02 != 0);
            match reply[3] & 0x0f {
                3 => self.nxdomain += 1,
                5 => self.refused += 1,
                0 if reply[6..8] != [0, 0] => self.listed += 1,
                _ => {}
            }
        }
    }
}

/// Both paths on one packet, in-process. Returns the fast path's outcome
/// and reply.
fn check_one(served: &Served, responder: &mut Responder, pkt: &[u8]) -> (Answered, Vec<u8>) {
    check_one_from(served, responder, pkt, CLIENT)
}

/// [`check_one`] for a query from `client` (zone ACLs look at it).
fn check_one_from(
    served: &Served,
    responder: &mut Responder,
    pkt: &[u8],
    client: SocketAddr,
) -> (Answered, Vec<u8>) {
    let mut out = Vec::new();
    let answered = responder.respond(served, pkt, client, &mut out);
    let hickory = respond_bytes(served, pkt, client, Protocol::Udp);
    let fail = |why: String| -> ! {
        panic!(
            "{why}\npacket {pkt:02x?}\nfast    {out:02x?}\nhickory {hickory:02x?}\nfast    {:?}\nhickory {:?}",
            Message::from_vec(&out).ok(),
            hickory.as_deref().and_then(|h| Message::from_vec(h).ok()),
        )
    };
    match (answered, &hickory) {
        (Answered::Silent, None) => {}
        (Answered::Fallback, Some(h)) if *h == out => {}
        (Answered::Fast, Some(h)) => {
            if parse_query(pkt).is_none() {
                fail("fast path without the parser".into());
            }
            let full = respond_bytes(served, pkt, client, Protocol::Tcp).unwrap();
            if let Err(e) = compare(&out, h, &full, harness::udp_limit(pkt)) {
                fail(e);
            }
        }
        _ => fail(format!("outcome {answered:?}")),
    }
    (answered, out)
}

#[test]
fn function_level() {
    let (snapshot, fx) = build();
    let publisher = Publisher::new(snapshot);
    let served = publisher.load();
    let mut responder = Responder::new();
    let mut rng = Rng::new(0xd1ff_0001);
    let mut tally = Tally::default();
    const N: usize = 60_000;
    for _ in 0..N {
        let pkt = gen_packet(&mut rng, &fx);
        let (answered, reply) = check_one(&served, &mut responder, &pkt);
        tally.count(answered, &reply);
    }
    tally.check(N);
}

/// The TCP flavour of both paths, in-process: the fast reply (after its
/// length prefix) against hickory-proto's TCP encoding.
/// Zone ACLs: the same packets from clients that each ACL action covers
/// get the same answers (or the same silence) from both paths.
#[test]
fn function_level_acl() {
    let (mut snapshot, fx) = build();
    let data = fadelist_core::rbldnsd::parse_acl(
        b"192.0.2.0/24 :pass\n192.0.2.1 :refuse\n192.0.2.2 :ignore\n192.0.2.3 :empty\n\
          192.0.2.4 :127.255.255.255:You ($) are blocked\n\
          2001:db8::/32 :127.255.255.254:v6 $ blocked\n",
    )
    .unwrap();
    let acl = Arc::new(fadelist_core::dataset::acl::Acl::build(&data, 300));
    for z in &mut snapshot.zones {
        z.acl = Some(acl.clone());
    }
    let publisher = Publisher::new(snapshot);
    let served = publisher.load();
    let mut responder = Responder::new();
    let mut rng = Rng::new(0xd1ff_0ac1);
    let clients: [SocketAddr; 7] = [
        "192.0.2.9:53000".parse().unwrap(),
        "192.0.2.1:53000".parse().unwrap(),
        "192.0.2.2:53000".parse().unwrap(),
        "192.0.2.3:53000".parse().unwrap(),
        "192.0.2.4:53000".parse().unwrap(),
        "[2001:db8::7]:53000".parse().unwrap(),
        "[::ffff:192.0.2.1]:53000".parse().unwrap(),
    ];
    let mut outcomes = [[0usize; 3]; 7];
    for _ in 0..6_000 {
        let pkt = gen_packet(&mut rng, &fx);
        for (i, &c) in clients.iter().enumerate() {
            let (answered, _) = check_one_from(&served, &mut responder, &pkt, c);
            outcomes[i][answered as usize] += 1;
        }
    }
    // The ignored client gets replies only to what is in no zone (REFUSED,
    // FORMERR and the like, as from rbldnsd, whose zone ACL is asked
    // once the zone is known); the others as many as an unlisted client,
    // as many from the fast path.
    let [fast, fallback, silent] = outcomes[0];
    assert!(outcomes[2][2] > 10 * silent, "{outcomes:?}");
    assert!(outcomes[2][0] < fast / 4, "{outcomes:?}");
    for (i, o) in outcomes.iter().enumerate().filter(|(i, _)| *i != 2) {
        assert_eq!(*o, [fast, fallback, silent], "client {i}: {outcomes:?}");
    }
}

fn check_one_tcp(served: &Served, responder: &mut Responder, pkt: &[u8]) -> (Answered, Vec<u8>) {
    let mut out = vec![0xee];
    let answered = responder.respond_tcp(served, pkt, CLIENT, &mut no_labels(), &mut out);
    assert_eq!(out[0], 0xee, "bytes before the reply kept");
    let hickory = respond_bytes(served, pkt, CLIENT, Protocol::Tcp);
    let fail = |why: String| -> ! {
        panic!("TCP: {why}\npacket {pkt:02x?}\nfast    {out:02x?}\nhickory {hickory:02x?}")
    };
    let reply = match out.get(1..3) {
        None => Vec::new(),
        Some(len) => {
            if usize::from(u16::from_be_bytes([len[0], len[1]])) != out.len() - 3 {
                fail("length prefix".into());
            }
            out[3..].to_vec()
        }
    };
    match (answered, &hickory) {
        (Answered::Silent, None) if out.len() == 1 => {}
        (Answered::Fallback, Some(h)) if *h == reply => {}
        (Answered::Fast, Some(h)) => {
            if let Err(e) = compare(&reply, h, h, usize::from(u16::MAX)) {
                fail(e);
            }
        }
        _ => fail(format!("outcome {answered:?}")),
    }
    (answered, reply)
}

#[test]
fn function_level_tcp() {
    let (snapshot, fx) = build();
    let publisher = Publisher::new(snapshot);
    let served = publisher.load();
    let mut responder = Responder::new();
    let mut rng = Rng::new(0xd1ff_0007);
    let (mut fast, mut fallback) = (0, 0);
    const N: usize = 30_000;
    for _ in 0..N {
        let pkt = gen_packet(&mut rng, &fx);
        match check_one_tcp(&served, &mut responder, &pkt).0 {
            Answered::Fast => fast += 1,
            Answered::Fallback => fallback += 1,
            Answered::Silent => {}
        }
    }
    println!("{N} packets over TCP: {fast} fast, {fallback} fallback");
    assert!(fast * 2 > N && fallback > N / 20);
}

/// Hand-picked queries whose answers are known, through both paths.
#[test]
fn known_answers() {
    let (snapshot, _) = build();
    let publisher = Publisher::new(snapshot);
    let served = publisher.load();
    let mut responder = Responder::new();
    let query = |name: &str, qtype: u16, edns: Option<u16>| {
        let mut p = vec![
            0xab,
            0xcd,
            0x01,
            0x00,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            u8::from(edns.is_some()),
        ];
        push_name(&mut p, &labels_of(name));
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&[0, 1]);
        if let Some(size) = edns {
            p.extend_from_slice(&[0, 0, 41]);
            p.extend_from_slice(&size.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        }
        p
    };
    let ask = |responder: &mut Responder, name: &str, qtype: u16, edns: Option<u16>| {
        let pkt = query(name, qtype, edns);
        let (answered, reply) = check_one(&served, responder, &pkt);
        assert_eq!(answered, Answered::Fast, "{name}");
        Message::from_vec(&reply).unwrap()
    };
    // Listed in two datasets: shortest TTL, duplicate A merged.
    let m = ask(&mut responder, "3.2.1.10.iprbl.test", 1, None);
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::NoError
    );
    assert!(m.metadata.authoritative);
    assert_eq!(
        {
            let mut answers = harness::sections(&m)[0].clone();
            answers.sort();
            answers
        },
        vec![
            "3.2.1.10.iprbl.test. 120 IN A 127.0.0.3".to_string(),
            "3.2.1.10.iprbl.test. 120 IN A 127.0.0.4".to_string(),
        ]
    );
    // Unlisted: NXDOMAIN, SOA with min(TTL, minimum).
    let m = ask(&mut responder, "4.3.2.1.IPRBL.test", 1, None);
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::NXDomain
    );
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(m.authorities[0].ttl, 30);
    // A TXT longer than 255 bytes: split in strings.
    let m = ask(&mut responder, "77.2.0.192.iprbl.test", 16, None);
    let RData::TXT(t) = &m.answers[0].data else {
        panic!()
    };
    assert_eq!(t.txt_data.len(), 2);
    assert_eq!(t.txt_data[0].len(), 255);
    assert!(
        std::str::from_utf8(&t.txt_data[0])
            .unwrap()
            .starts_with("Listed 192.0.2.77: ")
    );
    // Too big for 512 bytes without EDNS, fits with.
    let m = ask(&mut responder, "9.100.51.198.iprbl.test", 1, None);
    assert!(m.metadata.truncation);
    let m = ask(&mut responder, "9.100.51.198.iprbl.test", 1, Some(4096));
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 40);
    assert_eq!(m.edns.unwrap().max_payload(), 4096);
    // ANY (RFC 8482): the A RRset alone, and since 40 A records are more
    // than twice the query, the question alone with TC=1, whatever the
    // payload size.
    for edns in [None, Some(4096)] {
        let m = ask(&mut responder, "9.100.51.198.iprbl.test", 255, edns);
        assert!(m.metadata.truncation, "{edns:?}");
        assert!(m.answers.is_empty() && m.authorities.is_empty());
        assert_eq!(m.edns.is_some(), edns.is_some());
    }
    let m = ask(&mut responder, "3.2.1.10.iprbl.test", 255, None);
    assert!(!m.metadata.truncation);
    assert_eq!(harness::sections(&m)[0].len(), 2, "A only: {m:?}");
    assert!(m.answers.iter().all(|r| matches!(r.data, RData::A(_))));
    // Apex: SOA and NS by name, ANY gets HINFO "RFC8482".
    let m = ask(&mut responder, "dbl.test", 2, None);
    assert_eq!(m.answers.len(), 3, "3 NS");
    let m = ask(&mut responder, "dbl.test", 255, None);
    assert_eq!(m.answers.len(), 1, "{m:?}");
    let RData::HINFO(h) = &m.answers[0].data else {
        panic!("{m:?}")
    };
    assert_eq!((&*h.cpu, &*h.os), (&b"RFC8482"[..], &b""[..]));
    // Wildcard domain: `$` is the matched entry.
    let m = ask(&mut responder, "a.B.wild.example.dbl.test", 16, None);
    let RData::TXT(t) = &m.answers[0].data else {
        panic!()
    };
    assert_eq!(&*t.txt_data[0], b"phish wild.example");
    // Out of zone.
    let m = ask(&mut responder, "example.org", 1, None);
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::Refused
    );
    assert!(!m.metadata.authoritative);
}

/// The comparison must notice a wrong TTL, rcode, flag, record or question.
#[test]
fn comparer_catches_differences() {
    let (snapshot, _) = build();
    let publisher = Publisher::new(snapshot);
    let served = publisher.load();
    let mut responder = Responder::new();
    let mut pkt = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    push_name(&mut pkt, &labels_of("3.2.1.10.iprbl.TEST"));
    pkt.extend_from_slice(&[0, 255, 0, 1]); // ANY
    let qend = pkt.len();
    let mut fast = Vec::new();
    assert_eq!(
        responder.respond(&served, &pkt, CLIENT, &mut fast),
        Answered::Fast
    );
    let hickory = respond_bytes(&served, &pkt, CLIENT, Protocol::Udp).unwrap();
    let full = respond_bytes(&served, &pkt, CLIENT, Protocol::Tcp).unwrap();
    compare(&fast, &hickory, &full, 512).expect("the unmodified reply passes");

    type Mutation = Box<dyn Fn(&mut Vec<u8>)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        // The first answer's TTL: owner pointer (2), type (2), class (2).
        ("ttl", Box::new(move |r: &mut Vec<u8>| r[qend + 9] ^= 1)),
        ("rcode", Box::new(|r: &mut Vec<u8>| r[3] |= 3)),
        ("aa", Box::new(|r: &mut Vec<u8>| r[2] &= !0x04)),
        ("rd", Box::new(|r: &mut Vec<u8>| r[2] &= !0x01)),
        ("id", Box::new(|r: &mut Vec<u8>| r[1] ^= 1)),
        (
            "a value",
            Box::new(move |r: &mut Vec<u8>| r[qend + 15] ^= 1),
        ),
        ("question case", Box::new(|r: &mut Vec<u8>| r[13] = b'4')),
        ("type", Box::new(move |r: &mut Vec<u8>| r[qend + 3] = 2)),
        (
            "a record left out",
            Box::new(move |r: &mut Vec<u8>| {
                // Drop the first answer (a 16-byte A record).
                r.drain(qend..qend + 16);
                r[7] -= 1;
            }),
        ),
        ("tc without cause", Box::new(|r: &mut Vec<u8>| r[2] |= 0x02)),
    ];
    for (what, mutate) in mutations {
        let mut bad = fast.clone();
        mutate(&mut bad);
        assert!(
            compare(&bad, &hickory, &full, 512).is_err(),
            "a changed {what} goes unnoticed"
        );
    }
}

// ---------------------------------------------------------------------
// Over real sockets.

struct Servers {
    fast: SocketAddr,
    hickory: SocketAddr,
    shutdown: CancellationToken,
    runtime: tokio::runtime::Runtime,
    tasks: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
}

fn start_servers(publisher: &Publisher) -> Servers {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let local = [SocketAddr::from(([127, 0, 0, 1], 0))];
    let fast = server::bind_with(
        &local,
        DnsOptions {
            udp_mode: UdpMode::Fast,
            workers: 2,
            tcp_mode: TcpMode::Fast,
            ..DnsOptions::default()
        },
    )
    .unwrap();
    assert_eq!(fast.udp_socket_count(), 2);
    let hickory = server::bind_with(
        &local,
        DnsOptions {
            udp_mode: UdpMode::Hickory,
            workers: 0,
            tcp_mode: TcpMode::Hickory,
            ..DnsOptions::default()
        },
    )
    .unwrap();
    let addrs = (
        fast.local_addrs().unwrap()[0],
        hickory.local_addrs().unwrap()[0],
    );
    let mut tasks = Vec::new();
    for l in [fast, hickory] {
        let _guard = runtime.enter();
        tasks.push(runtime.spawn(server::serve(
            l,
            publisher.clone(),
            Duration::from_secs(5),
            shutdown.clone(),
        )));
    }
    Servers {
        fast: addrs.0,
        hickory: addrs.1,
        shutdown,
        runtime,
        tasks,
    }
}

impl Servers {
    /// Cancels both servers and waits for them; the fast path's workers
    /// must have closed their sockets by then.
    fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            self.runtime.block_on(t).unwrap().unwrap();
        }
        let mut pkt = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        push_name(&mut pkt, &labels_of("iprbl.test"));
        pkt.extend_from_slice(&[0, 6, 0, 1]);
        let r = exchange(self.fast, std::slice::from_ref(&pkt), 0);
        assert_eq!(r[0], None, "a stopped fast path still answers");
    }
}

/// Sends `pkts` to `server` and returns the replies by packet index
/// (packet ids are unique within the batch).
fn exchange(server: SocketAddr, pkts: &[Vec<u8>], expected: usize) -> Vec<Option<Vec<u8>>> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    // Room for a whole chunk of replies even when they come in a burst.
    sock.set_recv_buffer_size(4 << 20).unwrap();
    sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let sock: UdpSocket = sock.into();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for p in pkts {
        sock.send_to(p, server).unwrap();
    }
    let mut replies = vec![None; pkts.len()];
    let mut got = 0;
    let mut buf = vec![0u8; 65_536];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if got == expected {
            // Only a short wait for replies that should not come.
            sock.set_read_timeout(Some(Duration::from_millis(5)))
                .unwrap();
        }
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                let id = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
                assert!(
                    id < pkts.len() && replies[id].is_none(),
                    "unexpected reply id {id}"
                );
                replies[id] = Some(buf[..n].to_vec());
                got += 1;
            }
            // Silence: all expected replies are in (the silent packets
            // stay silent), or something was lost, which the caller sees.
            Err(_) if got >= expected => break,
            Err(_) => {}
        }
    }
    replies
}

#[test]
fn socket_level() {
    let (snapshot, fx) = build();
    let publisher = Publisher::new(snapshot);
    let served = publisher.load();
    let servers = start_servers(&publisher);
    let mut responder = Responder::new();
    let mut rng = Rng::new(0x50c4_0002);
    let mut tally = Tally::default();
    const N: usize = 20_000;
    // Small enough that a burst of replies fits the client's default
    // receive buffer (the fast server answers a whole chunk at once).
    const CHUNK: usize = 100;
    for _ in 0..N / CHUNK {
        let mut pkts = Vec::with_capacity(CHUNK);
        for i in 0..CHUNK {
            let mut p = gen_packet(&mut rng, &fx);
            if p.len() >= 2 {
                p[..2].copy_from_slice(&(i as u16).to_be_bytes());
            }
            pkts.push(p);
        }
        // What both should send, computed in-process.
        let mut want_fast = Vec::with_capacity(CHUNK);
        let mut want_hickory = Vec::with_capacity(CHUNK);
        for p in &pkts {
            let (answered, reply) = check_one(&served, &mut responder, p);
            tally.count(answered, &reply);
            want_fast.push((answered != Answered::Silent).then_some(reply));
            want_hickory.push(respond_bytes(&served, p, CLIENT, Protocol::Udp));
        }
        let expected = want_hickory.iter().flatten().count();
        let got_fast = exchange(servers.fast, &pkts, expected);
        let got_hickory = exchange(servers.hickory, &pkts, expected);
        for i in 0..CHUNK {
            assert_eq!(
                got_hickory[i], want_hickory[i],
                "hickory-server vs respond_bytes, packet {:02x?}",
                pkts[i]
            );
            assert_eq!(
                got_fast[i], want_fast[i],
                "fast server vs Responder, packet {:02x?}",
                pkts[i]
            );
        }
    }
    tally.check(N);
    servers.stop();
}

/// Sends `pkts` pipelined over one TCP connection (all written before
/// any reply is read, in pieces that cut messages apart) and returns the
/// replies by packet index.
fn exchange_tcp(server: SocketAddr, pkts: &[Vec<u8>], expected: usize) -> Vec<Option<Vec<u8>>> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server).unwrap();
    let mut wire = Vec::new();
    for p in pkts {
        wire.extend_from_slice(&(p.len() as u16).to_be_bytes());
        wire.extend_from_slice(p);
    }
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            for piece in wire.chunks(1000) {
                stream.write_all(piece).unwrap();
            }
        })
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut replies = vec![None; pkts.len()];
    let mut got = 0;
    let mut input = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && got < expected {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => input.extend_from_slice(&buf[..n]),
            Err(_) => continue,
        }
        while input.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([input[0], input[1]]));
            if input.len() < 2 + len {
                break;
            }
            let msg: Vec<u8> = input.drain(..2 + len).skip(2).collect();
            let id = usize::from(u16::from_be_bytes([msg[0], msg[1]]));
            assert!(
                id < pkts.len() && replies[id].is_none(),
                "unexpected reply id {id}"
            );
            replies[id] = Some(msg);
            got += 1;
        }
    }
    writer.join().unwrap();
    replies
}

/// Pipelined TCP: the fast TCP front sends exactly the replies
/// `Responder::respond_tcp` computes, hickory-server's TCP sends exactly
/// `respond_bytes`' TCP replies, and the two agree in meaning (checked
/// in-process by `check_one_tcp`).
#[test]
fn socket_level_tcp() {
    let (snapshot, fx) = build();
    let publisher = Publisher::new(snapshot);
    let served = publisher.load();
    let servers = start_servers(&publisher);
    let mut responder = Responder::new();
    let mut rng = Rng::new(0x50c4_0009);
    const N: usize = 6_000;
    const CHUNK: usize = 300;
    let mut answered = 0;
    for _ in 0..N / CHUNK {
        let mut pkts = Vec::with_capacity(CHUNK);
        while pkts.len() < CHUNK {
            let mut p = gen_packet(&mut rng, &fx);
            // The id tells the replies apart (runts of 2-11 bytes stay in:
            // neither front answers them, nor closes the connection).
            if p.len() < 2 {
                continue;
            }
            p[..2].copy_from_slice(&(pkts.len() as u16).to_be_bytes());
            pkts.push(p);
        }
        let mut want_fast = Vec::with_capacity(CHUNK);
        let mut want_hickory = Vec::with_capacity(CHUNK);
        for p in &pkts {
            let (a, reply) = check_one_tcp(&served, &mut responder, p);
            want_fast.push((a != Answered::Silent).then_some(reply));
            want_hickory.push(respond_bytes(&served, p, CLIENT, Protocol::Tcp));
        }
        let expected = want_hickory.iter().flatten().count();
        answered += expected;
        let got_fast = exchange_tcp(servers.fast, &pkts, expected);
        let got_hickory = exchange_tcp(servers.hickory, &pkts, expected);
        for i in 0..CHUNK {
            assert_eq!(
                got_hickory[i], want_hickory[i],
                "hickory-server TCP vs respond_bytes, packet {:02x?}",
                pkts[i]
            );
            assert_eq!(
                got_fast[i], want_fast[i],
                "fast TCP vs Responder::respond_tcp, packet {:02x?}",
                pkts[i]
            );
        }
    }
    assert!(answered > N / 2, "{answered} of {N} answered");
    servers.stop();
}

/// A publication reaches the fast-path workers.
#[test]
fn publication_reaches_workers() {
    let (snapshot, _) = build();
    let publisher = Publisher::new(Snapshot::default());
    let servers = start_servers(&publisher);
    let mut pkt = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    push_name(&mut pkt, &labels_of("2.0.0.127.iprbl.test"));
    pkt.extend_from_slice(&[0, 1, 0, 1]);
    let rcode = |addr| {
        let r = exchange(addr, std::slice::from_ref(&pkt), 1);
        r[0].as_ref().map(|r| r[3] & 0x0f)
    };
    assert_eq!(rcode(servers.fast), Some(5), "REFUSED: no zones yet");
    publisher.publish(snapshot);
    assert_eq!(rcode(servers.fast), Some(0));
    assert_eq!(rcode(servers.hickory), Some(0));
    servers.stop();
}

/// Null mode: an empty REFUSED reply to anything with a header, from the
/// fast path's threads; responses and runts get nothing.
#[test]
fn null_mode() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let local = [SocketAddr::from(([127, 0, 0, 1], 0))];
    let options = DnsOptions {
        udp_mode: UdpMode::Null,
        workers: 1,
        ..DnsOptions::default()
    };
    let listeners = server::bind_with(&local, options).unwrap();
    let addr = listeners.local_addrs().unwrap()[0];
    let shutdown = CancellationToken::new();
    let task = runtime.spawn(server::serve(
        listeners,
        Publisher::new(Snapshot::default()),
        Duration::from_secs(5),
        shutdown.clone(),
    ));
    let query = vec![0, 0, 0x09, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1];
    let mut response = query.clone();
    response[1] = 1;
    response[2] |= 0x80;
    let pkts = [query, response, vec![0, 2, 0]];
    let r = exchange(addr, &pkts, 1);
    assert_eq!(
        r[0].as_deref(),
        Some(&[0, 0, 0x89, 5, 0, 0, 0, 0, 0, 0, 0, 0][..]),
        "opcode and RD kept, QR set, REFUSED"
    );
    assert_eq!(r[1], None);
    assert_eq!(r[2], None);
    shutdown.cancel();
    runtime.block_on(task).unwrap().unwrap();
}
