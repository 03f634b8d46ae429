//! End-to-end: the real server on ephemeral ports, queried over UDP and TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use fadelist_tests::*;
use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::{RData, RecordType};

const IP4: &str = "\
$SOA 3600 ns1.bl.example. hostmaster.bl.example. 0 3600 600 86400 120
$NS 3600 ns1.bl.example ns2.bl.example
$TTL 300
:127.0.0.2:Listed, see https://bl.example/lookup?q=$
192.0.2.10
198.51.100.0/24
!198.51.100.77
203.0.113.5 :127.0.0.3:phishing source $
10.1.0.0/16
127.0.0.1
";

const DN: &str = "\
$TTL 600
:127.0.0.2:domain $ listed
spam.example
*.wild.example
.both.example
!ok.both.example
";

const IP6: &str = "\
:127.0.0.4:v6 $
2001:db8:1:2::/64
";

fn server() -> TestServer {
    TestServer::start(
        &[("ip4.txt", IP4), ("dn.txt", DN), ("ip6.txt", IP6)],
        &[
            "bl.example:ip4set:ip4.txt",
            "bl.example:ip6trie:ip6.txt",
            "dbl.example:dnset:dn.txt",
        ],
    )
}

fn rev4(ip: &str) -> String {
    ip.split('.').rev().collect::<Vec<_>>().join(".")
}

fn soa_in_authority(m: &Message) -> bool {
    m.authorities
        .iter()
        .any(|r| matches!(r.data, RData::SOA(_)))
}

#[test]
fn listed_unlisted_and_values() {
    let srv = server();
    let s = srv.dns;
    // Listed single address: A and TXT with $ substituted, AA, TTL from $TTL.
    let r = ask(
        s,
        &format!("{}.bl.example", rev4("192.0.2.10")),
        RecordType::A,
    );
    assert_eq!(r.metadata.response_code, Rcode::NoError);
    assert!(r.metadata.authoritative);
    assert_eq!(a_values(&r), vec!["127.0.0.2"]);
    assert_eq!(r.answers[0].ttl, 300);
    let r = ask(
        s,
        &format!("{}.bl.example", rev4("192.0.2.10")),
        RecordType::TXT,
    );
    assert_eq!(
        txt_values(&r),
        vec!["Listed, see https://bl.example/lookup?q=192.0.2.10"]
    );
    // ANY gets the A RRset alone (RFC 8482, minimal ANY).
    let r = ask(
        s,
        &format!("{}.bl.example", rev4("192.0.2.10")),
        RecordType::ANY,
    );
    assert_eq!(a_values(&r).len(), 1);
    assert_eq!(txt_values(&r).len(), 0);
    // Per-entry value.
    let name = format!("{}.bl.example", rev4("203.0.113.5"));
    assert_eq!(a_values(&ask(s, &name, RecordType::A)), vec!["127.0.0.3"]);
    assert_eq!(
        txt_values(&ask(s, &name, RecordType::TXT)),
        vec!["phishing source 203.0.113.5"]
    );
    // Range edges and the exclusion inside the range.
    for (ip, listed) in [
        ("198.51.100.0", true),
        ("198.51.100.255", true),
        ("198.51.99.255", false),
        ("198.51.101.0", false),
        ("198.51.100.77", false),
        ("198.51.100.76", true),
        ("192.0.2.11", false),
    ] {
        let r = ask(s, &format!("{}.bl.example", rev4(ip)), RecordType::A);
        let want = if listed {
            Rcode::NoError
        } else {
            Rcode::NXDomain
        };
        assert_eq!(r.metadata.response_code, want, "{ip}");
        if !listed {
            assert!(soa_in_authority(&r), "NXDOMAIN carries the SOA ({ip})");
            assert!(r.answers.is_empty());
        }
    }
    // Any other type on a listed name: NODATA with SOA.
    let r = ask(
        s,
        &format!("{}.bl.example", rev4("192.0.2.10")),
        RecordType::MX,
    );
    assert_eq!(r.metadata.response_code, Rcode::NoError);
    assert!(r.answers.is_empty());
    assert!(soa_in_authority(&r));
    // Negative TTL = min(SOA TTL, minimum) = 120.
    assert_eq!(r.authorities[0].ttl, 120);
}

#[test]
fn apex_empty_non_terminals_and_refused() {
    let srv = server();
    let s = srv.dns;
    let r = ask(s, "bl.example", RecordType::SOA);
    assert_eq!(r.answers.len(), 1);
    let RData::SOA(soa) = &r.answers[0].data else {
        panic!("SOA expected")
    };
    assert_eq!(soa.mname.to_ascii(), "ns1.bl.example.");
    assert_eq!(soa.minimum, 120);
    let r = ask(s, "bl.example", RecordType::NS);
    let ns = answer_values(&r, |d| match d {
        RData::NS(n) => Some(n.0.to_ascii()),
        _ => None,
    });
    assert_eq!(ns, vec!["ns1.bl.example.", "ns2.bl.example."]);
    let r = ask(s, "bl.example", RecordType::A);
    assert_eq!(r.metadata.response_code, Rcode::NoError);
    assert!(
        r.answers.is_empty() && soa_in_authority(&r),
        "apex A: NODATA"
    );
    // Empty non-terminals: NODATA, never NXDOMAIN.
    for ent in [
        "0.0.127.bl.example",
        "2.0.192.bl.example",
        "100.51.198.bl.example",
        "1.10.bl.example",
        "example.dbl.example",
        "wild.example.dbl.example",
    ] {
        let r = ask(s, ent, RecordType::A);
        assert_eq!(r.metadata.response_code, Rcode::NoError, "{ent}");
        assert!(r.answers.is_empty(), "{ent}");
        assert!(soa_in_authority(&r), "{ent}");
    }
    let r = ask(s, "3.0.192.bl.example", RecordType::A);
    assert_eq!(r.metadata.response_code, Rcode::NXDomain);
    // Outside our zones.
    for other in ["example.com", "example", "bl.example.com", "ample"] {
        let r = ask(s, other, RecordType::A);
        assert_eq!(r.metadata.response_code, Rcode::Refused, "{other}");
        assert!(!r.metadata.authoritative);
    }
    // Too many labels for an address.
    let r = ask(s, "1.2.0.0.10.bl.example", RecordType::A);
    assert_eq!(r.metadata.response_code, Rcode::NXDomain);
}

#[test]
fn rfc5782_test_entries_in_every_zone() {
    let srv = server();
    let s = srv.dns;
    for zone in ["bl.example", "dbl.example"] {
        let r = ask(s, &format!("2.0.0.127.{zone}"), RecordType::A);
        assert_eq!(a_values(&r), vec!["127.0.0.2"], "{zone}");
        let r = ask(s, &format!("test.{zone}"), RecordType::A);
        assert_eq!(a_values(&r), vec!["127.0.0.2"], "{zone}");
        // 127.0.0.1 is listed in the data file, but must never be.
        let r = ask(s, &format!("1.0.0.127.{zone}"), RecordType::A);
        assert_eq!(r.metadata.response_code, Rcode::NXDomain, "{zone}");
        let r = ask(s, &format!("invalid.{zone}"), RecordType::A);
        assert_eq!(r.metadata.response_code, Rcode::NXDomain, "{zone}");
        let mapped2 = "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0";
        let r = ask(s, &format!("{mapped2}.{zone}"), RecordType::A);
        assert_eq!(a_values(&r), vec!["127.0.0.2"], "{zone} ::ffff:7f00:2");
        let mapped1 = "1.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0";
        let r = ask(s, &format!("{mapped1}.{zone}"), RecordType::A);
        assert_eq!(
            r.metadata.response_code,
            Rcode::NXDomain,
            "{zone} ::ffff:7f00:1"
        );
    }
}

#[test]
fn ipv6_nibbles_and_mapped_ipv4() {
    let srv = server();
    let s = srv.dns;
    let nib = |ip: &str| -> String {
        let v = u128::from(ip.parse::<std::net::Ipv6Addr>().expect("v6"));
        (0..32)
            .map(|i| format!("{:x}", (v >> (4 * i)) & 0xf))
            .collect::<Vec<_>>()
            .join(".")
    };
    let name = format!("{}.bl.example", nib("2001:db8:1:2::abcd"));
    assert_eq!(a_values(&ask(s, &name, RecordType::A)), vec!["127.0.0.4"]);
    assert_eq!(
        txt_values(&ask(s, &name, RecordType::TXT)),
        vec!["v6 2001:db8:1:2::abcd"]
    );
    let r = ask(
        s,
        &format!("{}.bl.example", nib("2001:db8:1:3::")),
        RecordType::A,
    );
    assert_eq!(r.metadata.response_code, Rcode::NXDomain);
    // Upper-case nibbles.
    let upper = nib("2001:db8:1:2::abcd").to_ascii_uppercase();
    assert_eq!(
        a_values(&ask(s, &format!("{upper}.bl.example"), RecordType::A)),
        vec!["127.0.0.4"]
    );
    // IPv4-mapped queries consult the IPv4 data.
    let r = ask(
        s,
        &format!("{}.bl.example", nib("::ffff:192.0.2.10")),
        RecordType::A,
    );
    assert_eq!(a_values(&r), vec!["127.0.0.2"]);
    // Bad nibble counts and non-hex nibbles.
    let r = ask(
        s,
        &format!("g.{}.bl.example", &nib("2001:db8:1:2::")[2..]),
        RecordType::A,
    );
    assert_eq!(r.metadata.response_code, Rcode::NXDomain);
}

#[test]
fn domains_and_wildcards() {
    let srv = server();
    let s = srv.dns;
    let check = |name: &str, listed: bool| {
        let r = ask(s, &format!("{name}.dbl.example"), RecordType::A);
        let want = if listed {
            Rcode::NoError
        } else {
            Rcode::NXDomain
        };
        assert_eq!(r.metadata.response_code, want, "{name}");
        assert_eq!(!r.answers.is_empty(), listed, "{name}");
    };
    check("spam.example", true);
    check("www.spam.example", false);
    // `*.wild.example` lists only names below it: the name itself exists
    // (it has listed children) but has no data.
    let r = ask(s, "wild.example.dbl.example", RecordType::A);
    assert_eq!(r.metadata.response_code, Rcode::NoError);
    assert!(r.answers.is_empty());
    check("a.wild.example", true);
    check("b.a.wild.example", true);
    check("both.example", true);
    check("x.both.example", true);
    check("ok.both.example", false);
    check("clean.example", false);
    let r = ask(s, "A.Wild.Example.dbl.example", RecordType::TXT);
    assert_eq!(
        txt_values(&r),
        vec!["domain wild.example listed"],
        "$ is the matched entry"
    );
    assert_eq!(r.answers[0].ttl, 600);
}

#[test]
fn case_is_ignored_and_question_echoed_as_asked() {
    let srv = server();
    let name = "2.0.0.127.BL.Example";
    let r = ask(srv.dns, name, RecordType::A);
    assert_eq!(a_values(&r), vec!["127.0.0.2"]);
    assert_eq!(r.queries[0].name().to_ascii(), "2.0.0.127.BL.Example.");
}

#[test]
fn tcp_pipelined_and_edns() {
    let srv = server();
    let msgs: Vec<Message> = (0..20)
        .map(|i| {
            if i % 2 == 0 {
                query("2.0.0.127.bl.example", RecordType::A)
            } else {
                query(&format!("{i}.2.0.192.bl.example"), RecordType::A)
            }
        })
        .collect();
    let replies = tcp(srv.dns, &msgs);
    for (i, (q, r)) in msgs.iter().zip(&replies).enumerate() {
        assert_eq!(q.metadata.id, r.metadata.id);
        if i % 2 == 0 {
            assert_eq!(a_values(r), vec!["127.0.0.2"]);
        } else if i == 10 {
            assert_eq!(a_values(r), vec!["127.0.0.2"], "192.0.2.10 is listed");
        } else {
            assert_eq!(r.metadata.response_code, Rcode::NXDomain, "{i}");
        }
    }
    // EDNS is echoed; version 1 gets BADVERS.
    let r = udp(
        srv.dns,
        &with_edns(query("2.0.0.127.bl.example", RecordType::A), 1232, 0),
    );
    let e = r.edns.as_ref().expect("OPT echoed");
    assert_eq!(e.version(), 0);
    assert_eq!(a_values(&r), vec!["127.0.0.2"]);
    let r = udp(
        srv.dns,
        &with_edns(query("2.0.0.127.bl.example", RecordType::A), 1232, 1),
    );
    // BADVERS and BADSIG share the extended code 16; the decoder names it BADSIG.
    assert_eq!(u16::from(r.metadata.response_code), 16, "BADVERS");
    assert!(r.answers.is_empty());
    assert!(r.edns.is_some());
    // No EDNS in the query: none in the reply.
    let r = ask(srv.dns, "2.0.0.127.bl.example", RecordType::A);
    assert!(r.edns.is_none());
    // The DO bit is copied (RFC 3225 section 3), over UDP (fast path) and
    // TCP, on a listed and an unlisted name.
    for name in ["2.0.0.127.bl.example", "9.9.9.203.bl.example"] {
        for dnssec_ok in [true, false] {
            let mut q = with_edns(query(name, RecordType::A), 1232, 0);
            if let Some(e) = q.edns.as_mut() {
                e.set_dnssec_ok(dnssec_ok);
            }
            for r in [
                udp(srv.dns, &q),
                tcp(srv.dns, std::slice::from_ref(&q)).remove(0),
            ] {
                let e = r.edns.as_ref().expect("OPT echoed");
                assert_eq!(e.flags().dnssec_ok, dnssec_ok, "{name}: DO copied");
            }
        }
    }
}

#[test]
fn large_answers_truncate_over_udp_and_complete_over_tcp() {
    // Forty distinct answers for one address: far more than 512 bytes.
    let mut data = String::new();
    for i in 0..40 {
        data.push_str(&format!(
            "192.0.2.1 :127.0.0.{}:reason number {i} with some padding text to grow it\n",
            i + 2
        ));
    }
    let srv = TestServer::start(&[("big.txt", &data)], &["big.example:ip4set:big.txt"]);
    let q = query("1.2.0.192.big.example", RecordType::A);
    let r = udp(srv.dns, &q);
    assert!(r.metadata.truncation, "TC set without EDNS");
    let bytes = udp_raw(
        srv.dns,
        &q.to_vec().expect("encode"),
        Duration::from_secs(2),
    )
    .expect("reply");
    assert!(
        bytes.len() <= 512,
        "UDP reply without EDNS within 512 bytes, got {}",
        bytes.len()
    );
    // A bigger EDNS buffer lifts the limit.
    let r = udp(srv.dns, &with_edns(q.clone(), 4096, 0));
    assert!(!r.metadata.truncation);
    assert_eq!(a_values(&r).len(), 40);
    // TCP always gets everything.
    let r = &tcp(
        srv.dns,
        &[q, query("1.2.0.192.big.example", RecordType::TXT)],
    );
    assert!(!r[0].metadata.truncation && !r[1].metadata.truncation);
    assert_eq!(a_values(&r[0]).len(), 40);
    assert_eq!(txt_values(&r[1]).len(), 40);
}

#[test]
fn odd_and_malformed_packets() {
    let srv = server();
    let s = srv.dns;
    let wait = Duration::from_millis(300);
    // Shorter than a header: silence.
    assert_eq!(udp_raw(s, &[0x12, 0x34, 0x01], wait), None);
    // A response (QR=1) is never answered.
    let mut resp = query("2.0.0.127.bl.example", RecordType::A);
    resp.metadata.message_type = MessageType::Response;
    assert_eq!(udp_raw(s, &resp.to_vec().expect("encode"), wait), None);
    // Unknown opcode: NOTIMP, without echoing RD or CD (ISC's compliance
    // tester's `opcodeflg`), over UDP and TCP.
    let mut notify = query("bl.example", RecordType::SOA);
    notify.metadata.op_code = OpCode::Status;
    notify.metadata.recursion_desired = true;
    notify.metadata.checking_disabled = true;
    for r in [
        udp(s, &notify),
        tcp(s, std::slice::from_ref(&notify)).remove(0),
    ] {
        assert_eq!(r.metadata.response_code, Rcode::NotImp);
        assert!(!r.metadata.recursion_desired, "RD echoed on NOTIMP");
        assert!(!r.metadata.checking_disabled, "CD echoed on NOTIMP");
    }
    // Header claims a question that is not there: FORMERR (or silence).
    let mut bad = query("2.0.0.127.bl.example", RecordType::A)
        .to_vec()
        .expect("encode");
    bad.truncate(20);
    if let Some(reply) = udp_raw(s, &bad, wait) {
        let r = Message::from_vec(&reply).expect("decode");
        assert_eq!(r.metadata.response_code, Rcode::FormErr);
    }
    // A compression pointer that points at itself.
    let mut looped = vec![0xab, 0xcd, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
    looped.extend_from_slice(&[0xc0, 12, 0x00, 0x01, 0x00, 0x01]);
    if let Some(reply) = udp_raw(s, &looped, wait) {
        assert!(reply.len() <= 512);
        let r = Message::from_vec(&reply).expect("decode");
        assert_eq!(r.metadata.response_code, Rcode::FormErr);
    }
    // Two questions: FORMERR.
    let mut two = query("2.0.0.127.bl.example", RecordType::A);
    two.add_query(hickory_proto::op::Query::query(
        hickory_proto::rr::Name::from_ascii("test.bl.example").expect("name"),
        RecordType::A,
    ));
    let r = udp(s, &two);
    assert_eq!(r.metadata.response_code, Rcode::FormErr);
    // Random garbage of many sizes never yields an oversized reply.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in (0..600).step_by(37) {
        let pkt: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        if let Some(reply) = udp_raw(s, &pkt, Duration::from_millis(100)) {
            assert!(
                reply.len() <= 512,
                "reply of {} bytes to garbage",
                reply.len()
            );
        }
    }
    // A 255-byte name with 127 labels is answered (NXDOMAIN / REFUSED), not dropped.
    let long = format!("{}bl.example", "a.".repeat(120));
    let r = ask(s, &long, RecordType::A);
    assert_eq!(r.metadata.response_code, Rcode::NXDomain);
    // Class CH: refused.
    let mut ch = query("version.bind", RecordType::TXT);
    ch.queries[0].set_query_class(hickory_proto::rr::DNSClass::CH);
    assert_eq!(udp(s, &ch).metadata.response_code, Rcode::Refused);
    // Still serving after all that.
    assert_eq!(
        a_values(&ask(s, "2.0.0.127.bl.example", RecordType::A)),
        vec!["127.0.0.2"]
    );
}

fn serial(s: SocketAddr, zone: &str) -> u32 {
    let r = ask(s, zone, RecordType::SOA);
    match &r.answers[0].data {
        RData::SOA(soa) => soa.serial,
        other => panic!("SOA expected, got {other:?}"),
    }
}

#[test]
fn reload_swaps_new_data_and_keeps_old_on_error() {
    let srv = TestServer::start(&[("a.txt", "192.0.2.1\n")], &["r.example:ip4set:a.txt"]);
    let s = srv.dns;
    let listed = |ip: &str| {
        ask(s, &format!("{}.r.example", rev4(ip)), RecordType::A)
            .metadata
            .response_code
            == Rcode::NoError
    };
    assert!(listed("192.0.2.1"));
    assert!(!listed("192.0.2.2"));
    let serial1 = serial(s, "r.example");
    srv.replace_file("a.txt", "192.0.2.2\n");
    assert!(
        eventually(Duration::from_secs(10), || listed("192.0.2.2")
            && !listed("192.0.2.1")),
        "reloaded"
    );
    let serial2 = serial(s, "r.example");
    assert!(serial2 > serial1, "serial {serial1} -> {serial2}");
    // A broken file: the previous data stays.
    srv.replace_file("a.txt", "192.0.2.3\n300.1.2.3\n");
    std::thread::sleep(Duration::from_millis(600)); // several reload passes at 100 ms
    assert!(listed("192.0.2.2"), "previous data kept");
    assert!(!listed("192.0.2.3"), "nothing from the broken file");
    assert_eq!(serial(s, "r.example"), serial2, "serial unchanged");
    // Fixed again: picked up.
    srv.replace_file("a.txt", "192.0.2.3\n");
    assert!(
        eventually(Duration::from_secs(10), || listed("192.0.2.3")),
        "recovered"
    );
    // A file that disappears: previous data stays.
    std::fs::remove_file(srv.path("a.txt")).expect("rm");
    std::thread::sleep(Duration::from_millis(400));
    assert!(listed("192.0.2.3"));
    srv.stop().expect("clean stop");
}

#[test]
fn reload_under_query_load_loses_nothing() {
    // Two generations: each lists exactly one of two /24s, entirely. Any
    // answer must be consistent with one generation: 192.0.2.x and
    // 198.51.100.x never both listed or both unlisted in the same reply
    // pair is hard to observe over DNS, so instead each query asks a name
    // whose answer is the same in both generations (always listed), plus
    // a name that flips; no query may fail or time out.
    let gen_a = "192.0.2.0/24\n10.0.0.1\n";
    let gen_b = "198.51.100.0/24\n10.0.0.1\n";
    let srv = TestServer::start(&[("g.txt", gen_a)], &["g.example:ip4set:g.txt"]);
    let s = srv.dns;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..2 {
        let (stop, sent, bad) = (stop.clone(), sent.clone(), bad.clone());
        workers.push(std::thread::spawn(move || {
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            sock.set_read_timeout(Some(Duration::from_secs(2)))
                .expect("timeout");
            let mut buf = [0u8; 4096];
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let name = if i.is_multiple_of(2) {
                    "1.0.0.10.g.example".to_string()
                } else {
                    format!("{}.2.0.192.g.example", i % 250 + w)
                };
                let q = query(&name, RecordType::A);
                sock.send_to(&q.to_vec().expect("encode"), s).expect("send");
                sent.fetch_add(1, Ordering::Relaxed);
                let ok = match sock.recv_from(&mut buf) {
                    Ok((n, _)) => match Message::from_vec(&buf[..n]) {
                        Ok(r) => {
                            r.metadata.id == q.metadata.id
                                && (r.metadata.response_code == Rcode::NoError
                                    || r.metadata.response_code == Rcode::NXDomain)
                                && (i % 2 == 1 || a_values(&r) == vec!["127.0.0.2"])
                        }
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                if !ok {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let listed = |ip: &str| {
        ask(s, &format!("{}.g.example", rev4(ip)), RecordType::A)
            .metadata
            .response_code
            == Rcode::NoError
    };
    for round in 0..6 {
        let (content, now_listed) = if round % 2 == 0 {
            (gen_b, "198.51.100.9")
        } else {
            (gen_a, "192.0.2.9")
        };
        srv.replace_file("g.txt", content);
        assert!(
            eventually(Duration::from_secs(10), || listed(now_listed)),
            "round {round}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent > 100, "load was applied ({sent} queries)");
    assert_eq!(
        bad.load(Ordering::Relaxed),
        0,
        "failed or inconsistent answers out of {sent}"
    );
}

#[test]
fn bad_data_at_start_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("v4.txt"), "192.0.2.1\n2001:db8::1\n").expect("write");
    let mut config = fadelist::config::Config {
        zones: Vec::new(),
        ..fadelist::config::embedded_default()
    };
    config.add_zone_specs(&["x.example:ip4set:v4.txt".parse().expect("spec")]);
    config.server.data_dir = Some(dir.path().to_path_buf());
    let err = format!(
        "{:#}",
        fadelist::load_zones(&config).expect_err("must fail")
    );
    assert!(err.contains("v4.txt:2"), "names file and line: {err}");
    config.zones.clear();
    config.add_zone_specs(&["x.example:ip4set:missing.txt".parse().expect("spec")]);
    let err = format!(
        "{:#}",
        fadelist::load_zones(&config).expect_err("must fail")
    );
    assert!(err.contains("missing.txt"), "{err}");
}

#[test]
fn default_zones_and_http_status() {
    let srv = TestServer::start(&[], &[]);
    for zone in ["iprbl.test", "niprbl.test", "urirbl.test"] {
        assert_eq!(
            a_values(&ask(srv.dns, &format!("2.0.0.127.{zone}"), RecordType::A)),
            vec!["127.0.0.2"]
        );
        assert_eq!(
            ask(srv.dns, &format!("1.0.0.127.{zone}"), RecordType::A)
                .metadata
                .response_code,
            Rcode::NXDomain
        );
        assert_eq!(
            a_values(&ask(srv.dns, &format!("test.{zone}"), RecordType::A)),
            vec!["127.0.0.2"]
        );
    }
    let r = srv.get("/api/v1/zones");
    assert!(r.head.starts_with("HTTP/1.1 200"), "{r:?}");
    for zone in ["iprbl.test", "niprbl.test", "urirbl.test"] {
        assert!(r.body.contains(&format!("\"name\":\"{zone}\"")), "{r:?}");
    }
    assert!(srv.get("/healthz").head.starts_with("HTTP/1.1 200"));
    srv.stop().expect("clean stop");
}
