//! End-to-end: the DNS abuse controls of a real server, one attack per
//! test, with clients on distinct loopback addresses (Linux routes all of
//! 127.0.0.0/8 to lo, so a socket bound to 127.0.0.7 is another client).
//!
//! - response-rate limiting: an identical-answer flood limited to the
//!   configured rate with every second limited reply slipped (TC=1),
//!   another network answered in full, TCP exempt, the NXDOMAIN account
//!   per zone, exempt networks and log-only mode;
//! - zone ACLs in rbldnsd's format: every action, `$` as the client, the
//!   reload of the file, and the daily query quota;
//! - minimal ANY: every kind of name answered within twice the query;
//! - TCP: a flood of idle connections from one address while another is
//!   served.
//!
//! Rates are checked against the time the flood took as the client saw
//! it (the server's accounting window is within it), never against a
//! fixed duration.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use fadelist::config::{Config, DatasetConfig, DatasetKind};
use fadelist_tests::*;
use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};
use hickory_proto::serialize::binary::BinDecodable;

const DATA: &str = "\
$TTL 300
:127.0.0.2:Listed, see https://bl.example/lookup?q=$
192.0.2.10
203.0.113.0/24
";

/// A UDP client socket bound to `from` (a loopback address).
fn client(from: [u8; 4]) -> UdpSocket {
    let s = UdpSocket::bind(SocketAddr::from((from, 0))).expect("bind client");
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    s
}

/// One query from `from`: the reply, or `None` (nothing within 300 ms,
/// twice).
fn ask_from(from: [u8; 4], server: SocketAddr, name: &str, qtype: RecordType) -> Option<Message> {
    let s = client(from);
    let q = query(name, qtype);
    let bytes = q.to_vec().expect("encode");
    let mut buf = [0u8; 4096];
    for _ in 0..2 {
        s.send_to(&bytes, server).expect("send");
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            let m = Message::from_bytes(&buf[..n]).expect("decode");
            assert_eq!(m.metadata.id, q.metadata.id);
            return Some(m);
        }
    }
    None
}

/// What a flood got back.
#[derive(Debug, Default)]
struct Flood {
    sent: usize,
    /// Complete answers (TC=0).
    full: usize,
    /// Slipped replies: TC=1, no records.
    slipped: usize,
    /// From the first send to the last reply.
    elapsed: Duration,
}

/// Sends `count` queries from `from` as fast as the socket takes them
/// (`name(i)` for the i-th), then reads replies until none comes for
/// 300 ms.
fn flood(
    from: [u8; 4],
    server: SocketAddr,
    count: usize,
    qtype: RecordType,
    name: impl Fn(usize) -> String,
) -> Flood {
    let s = client(from);
    let t0 = Instant::now();
    let mut f = Flood {
        sent: count,
        ..Flood::default()
    };
    let mut buf = [0u8; 4096];
    let mut read = |f: &mut Flood, s: &UdpSocket| {
        while let Ok((n, _)) = s.recv_from(&mut buf) {
            let m = Message::from_bytes(&buf[..n]).expect("decode");
            if m.metadata.truncation {
                assert!(m.answers.is_empty() && m.authorities.is_empty());
                f.slipped += 1;
            } else {
                f.full += 1;
            }
            f.elapsed = t0.elapsed();
        }
    };
    for i in 0..count {
        let q = query(&name(i), qtype);
        s.send_to(&q.to_vec().expect("encode"), server)
            .expect("send");
        // Keep the socket's receive queue short.
        if i % 64 == 63 {
            s.set_nonblocking(true).expect("nonblocking");
            read(&mut f, &s);
            s.set_nonblocking(false).expect("blocking");
        }
    }
    read(&mut f, &s);
    f
}

impl Flood {
    /// The most complete answers a `rate`/s account with one second of
    /// burst can have given in this flood's time (+1 for the rounding of
    /// the millisecond clock).
    fn allowed(&self, rate: usize) -> usize {
        rate + (rate as f64 * self.elapsed.as_secs_f64()).ceil() as usize + 1
    }
}

fn rrl_server(adjust: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::start_with(&[("bl.txt", DATA)], &["bl.example:ip4set:bl.txt"], |c| {
        // One worker: a client's share of the rate is the whole rate.
        c.server.udp_workers = 1;
        c.rrl.responses_per_second = 10;
        adjust(c);
    })
}

#[test]
fn rrl_limits_an_identical_answer_flood_and_slips_every_second_reply() {
    let srv = rrl_server(|c| c.rrl.ipv4_prefix = 24);
    let s = srv.dns;
    let listed = "10.2.0.192.bl.example";
    let f = flood([127, 0, 0, 1], s, 400, RecordType::A, |_| listed.into());
    eprintln!("identical-answer flood: {f:?}");
    assert!(f.full >= 10, "one second of burst is answered: {f:?}");
    assert!(f.full <= f.allowed(10), "limited to 10/s: {f:?}");
    // slip = 2 (default): every second limited reply is TC=1, the others
    // are dropped.
    assert_eq!(f.slipped, (f.sent - f.full) / 2, "{f:?}");

    // Another network is answered in full, during the debt of the first
    // (its own identical answers stay within the burst of its account).
    for i in 0..8 {
        let r = ask_from([127, 0, 1, 2], s, listed, RecordType::A).expect("answered");
        assert_eq!(a_values(&r), vec!["127.0.0.2"], "query {i}");
        assert!(!r.metadata.truncation);
    }
    // The same /24 shares the flooder's account: no complete answer.
    for _ in 0..4 {
        if let Some(r) = ask_from([127, 0, 0, 3], s, listed, RecordType::A) {
            assert!(r.metadata.truncation && r.answers.is_empty(), "{r:?}");
        }
    }
    // Other names are other accounts; TCP is never limited.
    let r = ask_from([127, 0, 0, 1], s, "2.0.0.127.bl.example", RecordType::A).expect("reply");
    assert_eq!(a_values(&r), vec!["127.0.0.2"]);
    let q = query(listed, RecordType::A);
    assert_eq!(a_values(&tcp(s, &[q])[0]), vec!["127.0.0.2"]);
    srv.stop().expect("clean stop");
}

#[test]
fn rrl_counts_random_nxdomains_as_one_account_per_zone() {
    let srv = rrl_server(|_| {});
    let s = srv.dns;
    // 300 distinct unlisted names: one NXDOMAIN account for the zone.
    let f = flood([127, 0, 0, 1], s, 300, RecordType::A, |i| {
        format!("{}.{}.51.198.bl.example", i % 250, i / 250)
    });
    assert!(f.full <= f.allowed(10), "{f:?}");
    assert!(f.slipped > 0, "{f:?}");
    // A positive answer is its own account.
    let r = ask_from([127, 0, 0, 1], s, "10.2.0.192.bl.example", RecordType::A).expect("reply");
    assert_eq!(a_values(&r), vec!["127.0.0.2"]);
    srv.stop().expect("clean stop");
}

#[test]
fn rrl_exempt_networks_and_log_only_answer_everything() {
    for (what, adjust) in [
        (
            "exempt",
            Box::new(|c: &mut Config| {
                c.rrl.exempt = vec![("127.0.0.0".parse().expect("ip"), 24)];
            }) as Box<dyn FnOnce(&mut Config)>,
        ),
        ("log_only", Box::new(|c: &mut Config| c.rrl.log_only = true)),
    ] {
        let srv = rrl_server(adjust);
        let f = flood([127, 0, 0, 1], srv.dns, 200, RecordType::A, |_| {
            "10.2.0.192.bl.example".into()
        });
        assert_eq!((f.full, f.slipped), (200, 0), "{what}: {f:?}");
        // Others are limited as usual while exempt: 127.0.1.0/24 is not.
        if what == "exempt" {
            let g = flood([127, 0, 1, 1], srv.dns, 200, RecordType::A, |_| {
                "10.2.0.192.bl.example".into()
            });
            assert!(g.full <= g.allowed(10), "{g:?}");
        }
        srv.stop().expect("clean stop");
    }
}

const ACL: &str = "\
# rbldnsd acl syntax
127.0.0.2 :refuse
127.0.0.3 :ignore
127.0.0.4 :empty
127.0.0.5 :127.255.255.255:Queries from $ are blocked, see https://bl.example/abuse
127.0.2.0/24 :refuse
127.0.2.6 :pass
";

#[test]
fn acl_actions_as_rbldnsd() {
    let srv = TestServer::start(
        &[("bl.txt", DATA), ("acl.txt", ACL)],
        &["bl.example:ip4set:bl.txt", "bl.example:acl:acl.txt"],
    );
    let s = srv.dns;
    let listed = "10.2.0.192.bl.example";
    let unlisted = "11.2.0.192.bl.example";
    let ask = |from: [u8; 4], name: &str, t: RecordType| ask_from(from, s, name, t);
    // No entry: as usual.
    let r = ask([127, 0, 0, 1], listed, RecordType::A).expect("reply");
    assert_eq!(a_values(&r), vec!["127.0.0.2"]);
    assert_eq!(
        ask([127, 0, 0, 1], unlisted, RecordType::A)
            .expect("reply")
            .metadata
            .response_code,
        Rcode::NXDomain
    );
    // :refuse: REFUSED for every name, apex included, not authoritative.
    for name in [listed, unlisted, "bl.example"] {
        let r = ask([127, 0, 0, 2], name, RecordType::SOA).expect("reply");
        assert_eq!(r.metadata.response_code, Rcode::Refused, "{name}");
        assert!(!r.metadata.authoritative);
        assert!(r.answers.is_empty());
    }
    // :ignore: no reply at all.
    for name in [listed, "bl.example"] {
        assert!(ask([127, 0, 0, 3], name, RecordType::A).is_none(), "{name}");
    }
    // :empty: nothing listed (the RFC 5782 test entry neither), the apex
    // still answers.
    for name in [listed, "2.0.0.127.bl.example"] {
        let r = ask([127, 0, 0, 4], name, RecordType::A).expect("reply");
        assert_eq!(r.metadata.response_code, Rcode::NXDomain, "{name}");
        assert!(r.metadata.authoritative);
    }
    let r = ask([127, 0, 0, 4], "bl.example", RecordType::SOA).expect("reply");
    assert!(matches!(r.answers[0].data, RData::SOA(_)));
    // A:TXT: every name listed with that answer, $ = the client.
    for name in [listed, unlisted, "anything.bl.example"] {
        let r = ask([127, 0, 0, 5], name, RecordType::A).expect("reply");
        assert_eq!(a_values(&r), vec!["127.255.255.255"], "{name}");
        let r = ask([127, 0, 0, 5], name, RecordType::TXT).expect("reply");
        assert_eq!(
            txt_values(&r),
            vec!["Queries from 127.0.0.5 are blocked, see https://bl.example/abuse"]
        );
    }
    // Longest prefix: :pass inside a refused /24.
    let r = ask([127, 0, 2, 6], listed, RecordType::A).expect("reply");
    assert_eq!(a_values(&r), vec!["127.0.0.2"]);
    let r = ask([127, 0, 2, 7], listed, RecordType::A).expect("reply");
    assert_eq!(r.metadata.response_code, Rcode::Refused);
    // Out of every zone: REFUSED, even for the ignored client.
    let r = ask([127, 0, 0, 3], "example.org", RecordType::A).expect("reply");
    assert_eq!(r.metadata.response_code, Rcode::Refused);
    srv.stop().expect("clean stop");
}

#[test]
fn acl_file_is_reloaded_and_a_bad_one_keeps_the_previous() {
    let srv = TestServer::start_with(&[("bl.txt", DATA), ("acl.txt", ACL)], &[], |c| {
        // The config form: `type = "acl"`.
        c.zones.clear();
        c.add_zone_specs(&["bl.example:ip4set:bl.txt".parse().expect("spec")]);
        c.zones[0].datasets.push(DatasetConfig {
            kind: DatasetKind::Acl,
            files: vec!["acl.txt".into()],
        });
    });
    let s = srv.dns;
    let listed = "10.2.0.192.bl.example";
    let refused = || {
        ask_from([127, 0, 0, 2], s, listed, RecordType::A)
            .is_some_and(|r| r.metadata.response_code == Rcode::Refused)
    };
    assert!(refused());
    srv.replace_file("acl.txt", "127.0.0.3 :ignore\n");
    assert!(
        eventually(Duration::from_secs(10), || !refused()),
        "the new ACL no longer refuses 127.0.0.2"
    );
    assert!(ask_from([127, 0, 0, 3], s, listed, RecordType::A).is_none());
    // A broken file: the previous ACL stays.
    srv.replace_file("acl.txt", "127.0.0.2 :refuse\n127.0.0.9 :sometimes\n");
    std::thread::sleep(Duration::from_millis(600));
    assert!(!refused(), "nothing from the broken file");
    assert!(ask_from([127, 0, 0, 3], s, listed, RecordType::A).is_none());
    srv.stop().expect("clean stop");
}

#[test]
fn daily_quota_switches_a_client_to_the_configured_answer() {
    let srv = TestServer::start_with(&[("bl.txt", DATA)], &["bl.example:ip4set:bl.txt"], |c| {
        c.server.udp_workers = 1;
        c.dns_quota.queries_per_day = 20;
        c.dns_quota.action = ":127.255.255.254:Query quota of $ exceeded".into();
    });
    let s = srv.dns;
    let unlisted = "11.2.0.192.bl.example";
    for i in 0..20 {
        let r = ask_from([127, 0, 0, 1], s, unlisted, RecordType::A).expect("reply");
        assert_eq!(r.metadata.response_code, Rcode::NXDomain, "query {i}");
    }
    let r = ask_from([127, 0, 0, 1], s, unlisted, RecordType::A).expect("reply");
    assert_eq!(a_values(&r), vec!["127.255.255.254"]);
    let r = ask_from([127, 0, 0, 9], s, unlisted, RecordType::TXT).expect("reply");
    assert_eq!(
        txt_values(&r),
        vec!["Query quota of 127.0.0.9 exceeded"],
        "same /24"
    );
    // Another network has its own quota.
    let r = ask_from([127, 0, 1, 1], s, unlisted, RecordType::A).expect("reply");
    assert_eq!(r.metadata.response_code, Rcode::NXDomain);
    srv.stop().expect("clean stop");
}

#[test]
fn any_replies_are_at_most_twice_the_query() {
    let long = "$TTL 300\n:127.0.0.2:A very long reason text that is much longer than any query \
                could be, padded out to make the point: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx $\n\
                192.0.2.10\n192.0.2.10 :127.0.0.3:second value\n192.0.2.10 :127.0.0.4:third value\n";
    let srv = TestServer::start(
        &[("bl.txt", long), ("dn.txt", ".spam.example\n")],
        &["bl.example:ip4set:bl.txt", "d.example:dnset:dn.txt"],
    );
    let s = srv.dns;
    for name in [
        "10.2.0.192.bl.example",
        "11.2.0.192.bl.example",
        "2.192.bl.example",
        "bl.example",
        "d.example",
        "spam.example.d.example",
        "x.d.example",
        "a.b.c.spam.example.d.example",
    ] {
        for edns in [None, Some(4096)] {
            let mut q = query(name, RecordType::ANY);
            if let Some(p) = edns {
                q = with_edns(q, p, 0);
            }
            let bytes = q.to_vec().expect("encode");
            let reply = udp_raw(s, &bytes, Duration::from_secs(2)).expect("reply");
            assert!(
                reply.len() <= 2 * bytes.len(),
                "{name} {edns:?}: {} bytes for a {}-byte query",
                reply.len(),
                bytes.len()
            );
            let m = Message::from_bytes(&reply).expect("decode");
            assert!(
                !m.answers.iter().any(|r| matches!(r.data, RData::TXT(_))),
                "never TXT for ANY: {name}"
            );
            if name == "bl.example" {
                assert!(matches!(m.answers[0].data, RData::HINFO(_)), "{m:?}");
            }
        }
    }
    // The listed name's three A values do not fit twice a short query:
    // TC, and the whole A RRset over TCP.
    let q = query("10.2.0.192.bl.example", RecordType::ANY);
    let r = udp(s, &q);
    assert!(r.metadata.truncation && r.answers.is_empty());
    let r = &tcp(s, &[q])[0];
    assert_eq!(a_values(r), vec!["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    srv.stop().expect("clean stop");
}

/// A TCP connection to `to` from the loopback address `from`.
fn tcp_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let s =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    s.bind(&SocketAddr::from((from, 0)).into()).expect("bind");
    s.connect(&to.into()).expect("connect");
    s.into()
}

/// Sends `q` over `s` and reads its reply; `None` when the connection is
/// closed or nothing comes within 2 s.
fn tcp_exchange(s: &mut TcpStream, q: &Message) -> Option<Message> {
    let b = q.to_vec().expect("encode");
    let mut framed = (b.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&b);
    s.write_all(&framed).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).ok()?;
    Message::from_bytes(&buf).ok()
}

/// True when the server closed `s` (EOF or reset) within 300 ms.
fn closed(s: &mut TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
    }
}

#[test]
fn acl_applies_over_tcp_too() {
    let srv = TestServer::start(
        &[("bl.txt", DATA), ("acl.txt", ACL)],
        &["bl.example:ip4set:bl.txt", "bl.example:acl:acl.txt"],
    );
    let q = query("10.2.0.192.bl.example", RecordType::A);
    let r = tcp_exchange(&mut tcp_from([127, 0, 0, 2], srv.dns), &q).expect("reply");
    assert_eq!(r.metadata.response_code, Rcode::Refused);
    let r = tcp_exchange(&mut tcp_from([127, 0, 0, 5], srv.dns), &q).expect("reply");
    assert_eq!(a_values(&r), vec!["127.255.255.255"]);
    assert!(
        tcp_exchange(&mut tcp_from([127, 0, 0, 3], srv.dns), &q).is_none(),
        "ignored"
    );
    srv.stop().expect("clean stop");
}

#[test]
fn tcp_connection_flood_from_one_address_leaves_room_for_others() {
    let srv = TestServer::start_with(&[("bl.txt", DATA)], &["bl.example:ip4set:bl.txt"], |c| {
        // Without the per-client cap, 100 idle connections would take all
        // 32 slots and leave everyone else in the listen backlog.
        c.server.tcp_max_connections = 32;
        c.server.tcp_max_per_client = 8;
        c.server.tcp_idle_timeout = Duration::from_secs(60);
    });
    let s = srv.dns;
    let q = query("10.2.0.192.bl.example", RecordType::A);
    let mut flood: Vec<TcpStream> = (0..100).map(|_| tcp_from([127, 0, 0, 3], s)).collect();
    let r = tcp_exchange(&mut tcp_from([127, 0, 0, 4], s), &q).expect("127.0.0.4 is served");
    assert_eq!(a_values(&r), vec!["127.0.0.2"]);
    // The flooder keeps 8 connections at most, and those work.
    let mut open: Vec<usize> = Vec::new();
    for (i, c) in flood.iter_mut().enumerate() {
        if !closed(c) {
            open.push(i);
        }
    }
    assert!(open.len() <= 8, "{open:?}");
    for &i in &open {
        assert!(tcp_exchange(&mut flood[i], &q).is_some(), "connection {i}");
    }
    // Many other clients at once are all served.
    let mut others: Vec<TcpStream> = (10..30).map(|n| tcp_from([127, 0, 1, n], s)).collect();
    for c in &mut others {
        assert!(tcp_exchange(c, &q).is_some());
    }
    srv.stop().expect("clean stop");
}
