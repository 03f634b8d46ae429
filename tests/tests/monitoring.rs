//! End-to-end: metrics, readiness and status of a real server.
//!
//! - `/metrics` on its own listener counts exactly the queries sent (by
//!   protocol, zone and response code, the hickory fallback included),
//!   the ACL and RRL actions, TCP connections, reports accepted and
//!   refused, listings by source and data-file reload errors;
//! - `/readyz` is 200 on a healthy server and 503 naming the failing
//!   check for an unwritable store (free-disk guard), a broken data file
//!   and an overdue decay (the database write-locked from outside, so no
//!   decay pass can commit), and recovers when the cause goes away;
//! - `/api/v1/status` shows the zones (serial, entries, last load, last
//!   error with file and line) and the components (store, decay).
//!
//! Counters are compared with what was sent once the replies are in; a
//! worker publishes its counters right after sending a batch, so the
//! scrape is retried until it agrees (never against a time limit other
//! than the overall give-up).

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use fadelist::config::{DatasetConfig, DatasetKind, DiskThreshold};
use fadelist_tests::*;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use hickory_proto::serialize::binary::BinDecodable;

const DATA: &str = "\
$TTL 300
:127.0.0.2:Listed, see https://bl.example/lookup?q=$
192.0.2.10
192.0.2.11
203.0.113.0/24
";

/// 127.0.0.9 is refused by the zone's ACL.
const ACL: &str = "127.0.0.9 :refuse\n";

const WAIT: Duration = Duration::from_secs(15);

/// A scrape: every sample by its series (`name{labels}` as written).
struct Scrape {
    content_type: String,
    text: String,
    samples: BTreeMap<String, f64>,
}

fn scrape(addr: SocketAddr) -> Scrape {
    let r = Request::get(addr, "/metrics").send();
    assert_eq!(r.status, 200, "{}", r.body);
    let mut samples = BTreeMap::new();
    for line in r.body.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let v = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
        };
        assert!(
            samples.insert(series.to_string(), v).is_none(),
            "{series} twice"
        );
    }
    Scrape {
        content_type: r.header("content-type").unwrap_or_default().to_string(),
        text: r.body,
        samples,
    }
}

impl Scrape {
    fn get(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("{series} missing in\n{}", self.text))
    }
}

fn server(adjust: impl FnOnce(&mut fadelist::config::Config)) -> TestServer {
    TestServer::start_with(&[("bl.txt", DATA), ("acl.txt", ACL)], &[], |c| {
        c.zones.clear();
        c.add_zone_specs(&[
            "bl.example:ip4set:bl.txt".parse().expect("spec"),
            "other.example:ip4set:bl.txt".parse().expect("spec"),
        ]);
        c.zones[0].datasets.push(DatasetConfig {
            kind: DatasetKind::Acl,
            files: vec!["acl.txt".into()],
        });
        c.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
        // Two workers: the scrape sums them.
        c.server.udp_workers = 2;
        adjust(c);
    })
}

/// One UDP query from `from`; the reply's response code.
fn ask_from(from: [u8; 4], server: SocketAddr, m: &Message) -> hickory_proto::op::ResponseCode {
    let s = UdpSocket::bind(SocketAddr::from((from, 0))).expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.send_to(&m.to_vec().expect("encode"), server)
        .expect("send");
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).expect("a reply");
    let r = Message::from_bytes(&buf[..n]).expect("decode");
    assert_eq!(r.metadata.id, m.metadata.id);
    r.metadata.response_code
}

#[test]
fn metrics_count_exactly_what_was_asked() {
    let srv = server(|c| {
        // Log-only RRL at 1 answer per second: every reply still goes
        // out (exact counts below), the would-be limits are counted.
        c.rrl.responses_per_second = 1;
        c.rrl.log_only = true;
    });
    let m = srv.metrics.expect("metrics listener");
    let before = scrape(m);
    assert_eq!(
        before.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(before.get("fadelist_build_info{version=\"0.1.0\"}"), 1.0);

    // UDP: 5 listed (NOERROR), 7 unlisted (NXDOMAIN) in bl.example, 3 in
    // other.example listed, 4 out of every zone (REFUSED, zone "other"),
    // 2 refused by bl.example's ACL (from 127.0.0.9), and 1 with EDNS
    // version 1 (the hickory fallback answers BADVERS).
    let s = srv.dns;
    let q = |name: &str| query(name, RecordType::A);
    for _ in 0..5 {
        assert_eq!(
            ask_from([127, 0, 0, 1], s, &q("10.2.0.192.bl.example")),
            Rcode::NoError
        );
    }
    for i in 0..7 {
        let name = format!("{i}.9.9.9.bl.example");
        assert_eq!(ask_from([127, 0, 0, 1], s, &q(&name)), Rcode::NXDomain);
    }
    for _ in 0..3 {
        assert_eq!(
            ask_from([127, 0, 0, 1], s, &q("11.2.0.192.other.example")),
            Rcode::NoError
        );
    }
    for i in 0..4 {
        let name = format!("x{i}.example.com");
        assert_eq!(ask_from([127, 0, 0, 1], s, &q(&name)), Rcode::Refused);
    }
    for _ in 0..2 {
        assert_eq!(
            ask_from([127, 0, 0, 9], s, &q("10.2.0.192.bl.example")),
            Rcode::Refused
        );
    }
    let badvers = with_edns(q("10.2.0.192.bl.example"), 1232, 1);
    assert_eq!(
        u16::from(ask_from([127, 0, 0, 1], s, &badvers)),
        16,
        "BADVERS"
    );
    // TCP, one connection: 2 listed, 1 unlisted in bl.example.
    let replies = tcp(
        s,
        &[
            q("10.2.0.192.bl.example"),
            q("5.5.5.5.bl.example"),
            q("1.113.0.203.bl.example"),
        ],
    );
    assert_eq!(replies.len(), 3);

    let udp = |zone: &str, rcode: &str| {
        format!("fadelist_dns_responses_total{{proto=\"udp\",zone=\"{zone}\",rcode=\"{rcode}\"}}")
    };
    let tcp_rc = |zone: &str, rcode: &str| {
        format!("fadelist_dns_responses_total{{proto=\"tcp\",zone=\"{zone}\",rcode=\"{rcode}\"}}")
    };
    let expected: Vec<(String, f64)> = vec![
        (udp("bl.example", "NOERROR"), 5.0),
        (udp("bl.example", "NXDOMAIN"), 7.0),
        (udp("bl.example", "REFUSED"), 2.0),
        (udp("bl.example", "BADVERS"), 1.0),
        (udp("other.example", "NOERROR"), 3.0),
        (udp("other", "REFUSED"), 4.0),
        (udp("other.example", "NXDOMAIN"), 0.0),
        (tcp_rc("bl.example", "NOERROR"), 2.0),
        (tcp_rc("bl.example", "NXDOMAIN"), 1.0),
        (
            "fadelist_dns_requests_total{proto=\"udp\",zone=\"bl.example\"}".into(),
            15.0,
        ),
        (
            "fadelist_dns_requests_total{proto=\"udp\",zone=\"other.example\"}".into(),
            3.0,
        ),
        (
            "fadelist_dns_requests_total{proto=\"udp\",zone=\"other\"}".into(),
            4.0,
        ),
        (
            "fadelist_dns_requests_total{proto=\"tcp\",zone=\"bl.example\"}".into(),
            3.0,
        ),
        (
            "fadelist_dns_acl_actions_total{proto=\"udp\",zone=\"bl.example\",action=\"refuse\"}"
                .into(),
            2.0,
        ),
        (
            "fadelist_dns_request_size_bytes_count{proto=\"udp\",zone=\"bl.example\"}".into(),
            15.0,
        ),
        (
            "fadelist_dns_response_size_bytes_count{proto=\"tcp\",zone=\"bl.example\"}".into(),
            3.0,
        ),
        (
            "fadelist_dns_request_duration_seconds_count{proto=\"udp\"}".into(),
            22.0,
        ),
        (
            "fadelist_dns_request_duration_seconds_count{proto=\"tcp\"}".into(),
            3.0,
        ),
        ("fadelist_dns_tcp_connections_accepted_total".into(), 1.0),
        ("fadelist_dns_tcp_connections_open".into(), 0.0),
    ];
    let mut last = None;
    let agreed = eventually(WAIT, || {
        let now = scrape(m);
        let ok = expected.iter().all(|(k, v)| now.samples.get(k) == Some(v));
        last = Some(now);
        ok
    });
    let last = last.expect("scraped");
    for (k, v) in &expected {
        assert_eq!(last.samples.get(k), Some(v), "{k}\n{}", last.text);
    }
    assert!(agreed);
    // Sizes: a query here is 30 to 60 bytes, so all in the first bucket.
    assert_eq!(
        last.get(
            "fadelist_dns_request_size_bytes_bucket{proto=\"udp\",zone=\"bl.example\",le=\"100\"}"
        ),
        15.0
    );
    // Log-only RRL at 1/s: the 5 identical answers were over the rate
    // (the 7 NXDOMAINs are one account too), and all were sent anyway.
    assert!(
        last.get("fadelist_dns_rrl_actions_total{action=\"would_limit\"}") >= 3.0,
        "{}",
        last.text
    );
    assert_eq!(
        last.get("fadelist_dns_rrl_actions_total{action=\"drop\"}"),
        0.0
    );
    // Zones, datasets and listings: bl.example has 3 file entries (two
    // addresses and a range) plus an ACL of one entry.
    assert_eq!(
        last.get("fadelist_listings{zone=\"bl.example\",source=\"file\"}"),
        3.0
    );
    let bl = srv.path("bl.txt").display().to_string();
    assert_eq!(
        last.get(&format!(
            "fadelist_dataset_entries{{zone=\"bl.example\",type=\"ip4set\",dataset=\"{bl}\"}}"
        )),
        3.0
    );
    assert_eq!(
        last.get(&format!(
            "fadelist_dataset_bytes{{zone=\"bl.example\",type=\"ip4set\",dataset=\"{bl}\"}}"
        )),
        DATA.len() as f64
    );
    assert!(last.get("fadelist_zone_serial{zone=\"bl.example\"}") > 0.0);
    // No series is labelled with a query name or a client address.
    for forbidden in ["9.9.9", "x0.example.com", "127.0.0.9"] {
        assert!(!last.text.contains(forbidden), "{forbidden} in the metrics");
    }
    srv.stop().expect("clean stop");
}

#[test]
fn metrics_are_off_without_a_listen_address() {
    let srv = TestServer::start(&[("bl.txt", DATA)], &["bl.example:ip4set:bl.txt"]);
    assert_eq!(srv.metrics, None);
    // Nothing on the public port either.
    assert_eq!(srv.get("/metrics").status, 404);
    srv.stop().expect("clean stop");
}

#[test]
fn report_metrics_and_listings_by_source() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
    });
    let m = srv.metrics.expect("metrics listener");
    let tokens = srv.two_reporters();
    assert_eq!(
        srv.post_report(Some("no-such-token"), "", &mail("spam-plain.eml"))
            .status,
        401
    );
    srv.list_spam_plain(&tokens, "metrics");
    // The same message again from the same reporter: a duplicate.
    let again = srv.post_report(
        Some(&tokens[0]),
        "",
        &mail_with_id("spam-plain.eml", "metrics-0"),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    let s = scrape(m);
    assert_eq!(s.get("fadelist_reports_accepted_total{kind=\"new\"}"), 2.0);
    assert_eq!(
        s.get("fadelist_reports_accepted_total{kind=\"duplicate\"}"),
        1.0
    );
    assert_eq!(
        s.get("fadelist_reports_refused_total{reason=\"unauthorized\"}"),
        1.0
    );
    assert_eq!(s.get("fadelist_report_publish_duration_seconds_count"), 2.0);
    assert_eq!(
        s.get("fadelist_listings{zone=\"iprbl.test\",source=\"report\"}"),
        1.0
    );
    assert_eq!(
        s.get("fadelist_listings{zone=\"iprbl.test\",source=\"manual\"}"),
        0.0
    );
    assert_eq!(s.get("fadelist_store_queue_depth"), 0.0);
    srv.stop().expect("clean stop");
}

/// `GET /readyz`: (status, failing checks).
fn readyz(srv: &TestServer) -> (u16, Vec<String>, serde_json::Value) {
    let r = srv.get("/readyz");
    let v = r.json();
    let failing = v["failing"]
        .as_array()
        .expect("failing")
        .iter()
        .map(|f| f.as_str().expect("a name").to_string())
        .collect();
    (r.status, failing, v)
}

#[test]
fn ready_when_healthy_and_liveness_is_separate() {
    let srv = server(|_| {});
    let (status, failing, body) = readyz(&srv);
    assert_eq!((status, failing), (200, vec![]), "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(srv.get("/healthz").status, 200);
    srv.stop().expect("clean stop");
}

#[test]
fn not_ready_while_the_store_refuses_writes() {
    let srv = server(|c| {
        c.store.min_free_disk = "1000000TiB".parse::<DiskThreshold>().expect("size");
    });
    let (status, failing, body) = readyz(&srv);
    assert_eq!(status, 503, "{body}");
    assert_eq!(failing, ["store_writable"], "{body}");
    assert!(
        body["checks"]["store_writable"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("kept free")),
        "{body}"
    );
    // Liveness does not care.
    assert_eq!(srv.get("/healthz").status, 200);
    let status = srv.get("/api/v1/status").json();
    assert_eq!(status["ready"], false);
    assert_eq!(status["store"]["disk"]["writes_refused"], true);
    assert!(status["store"]["disk_free_bytes"].as_u64().is_some());
    srv.stop().expect("clean stop");
}

#[test]
fn a_broken_data_file_is_not_ready_with_file_and_line_until_fixed() {
    let srv = server(|_| {});
    let m = srv.metrics.expect("metrics");
    assert_eq!(readyz(&srv).0, 200);
    let status = srv.get("/api/v1/status").json();
    let zone = &status["zones"][0];
    assert_eq!(zone["name"], "bl.example");
    assert!(zone["last_load"].as_u64().is_some(), "{zone}");
    assert!(zone["last_error"].is_null(), "{zone}");

    srv.replace_file("bl.txt", "192.0.2.10\n300.1.2.3\n");
    assert!(
        eventually(WAIT, || readyz(&srv).0 == 503),
        "not ready after the broken reload"
    );
    let (_, failing, body) = readyz(&srv);
    assert_eq!(failing, ["zones_loaded"], "{body}");
    let bl = srv.path("bl.txt").display().to_string();
    let detail = body["checks"]["zones_loaded"]["detail"]
        .as_str()
        .expect("detail");
    assert!(detail.contains(&format!("{bl}:2:")), "{detail}");
    let status = srv.get("/api/v1/status").json();
    // Both zones read bl.txt: both have the error, each once.
    for zone in status["zones"].as_array().expect("zones").iter().take(2) {
        let e = &zone["last_error"];
        assert_eq!(e["file"], bl.as_str(), "{zone}");
        assert_eq!(e["line"], 2, "{zone}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(zone["datasets"][0]["reload_errors"], 1, "{zone}");
    }
    let s = scrape(m);
    let series =
        |name: &str| format!("{name}{{zone=\"bl.example\",type=\"ip4set\",dataset=\"{bl}\"}}");
    assert_eq!(s.get(&series("fadelist_dataset_reload_errors_total")), 1.0);
    assert_eq!(s.get(&series("fadelist_dataset_reload_failing")), 1.0);

    // Fixed: ready again, the error cleared, the count kept.
    srv.replace_file("bl.txt", "192.0.2.10\n");
    assert!(eventually(WAIT, || readyz(&srv).0 == 200), "ready again");
    let status = srv.get("/api/v1/status").json();
    let zone = &status["zones"][0];
    assert!(zone["last_error"].is_null(), "{zone}");
    assert_eq!(zone["datasets"][0]["reload_errors"], 1);
    assert_eq!(zone["datasets"][0]["entries"], 1);
    let s = scrape(m);
    assert_eq!(s.get(&series("fadelist_dataset_reload_failing")), 0.0);
    srv.stop().expect("clean stop");
}

#[test]
fn decay_overdue_is_not_ready_until_a_pass_goes_through() {
    // Decay every 200 ms: overdue 600 ms after the last good pass.
    let srv = server(|c| c.ingest.decay_interval = Duration::from_millis(200));
    assert!(
        eventually(WAIT, || readyz(&srv).0 == 200),
        "ready: {}",
        readyz(&srv).2
    );
    // Write-lock the database from outside: every decay pass now waits for
    // the lock (SQLite's busy timeout) and none commits.
    let conn = rusqlite::Connection::open(&srv.db).expect("open");
    conn.execute_batch("BEGIN IMMEDIATE").expect("lock");
    assert!(
        eventually(WAIT, || readyz(&srv).1.contains(&"decay".to_string())),
        "decay overdue: {}",
        readyz(&srv).2
    );
    let (status, failing, body) = readyz(&srv);
    assert_eq!(status, 503);
    // Busy on the lock, not stuck: the store thread check still passes.
    assert_eq!(failing, ["decay"], "{body}");
    let status_json = srv.get("/api/v1/status").json();
    assert_eq!(status_json["decay"]["ok"], false);
    conn.execute_batch("ROLLBACK").expect("unlock");
    assert!(
        eventually(WAIT, || readyz(&srv).0 == 200),
        "ready again once a pass commits: {}",
        readyz(&srv).2
    );
    srv.stop().expect("clean stop");
}

#[test]
fn status_shows_zones_and_components() {
    let srv = server(|c| c.ingest.decay_interval = Duration::from_millis(200));
    assert!(eventually(WAIT, || {
        !srv.get("/api/v1/status").json()["decay"]["last_run"].is_null()
    }));
    let s = srv.get("/api/v1/status").json();
    assert_eq!(s["ready"], true, "{s}");
    let zones = s["zones"].as_array().expect("zones");
    assert_eq!(zones.len(), 2);
    let bl = &zones[0];
    assert_eq!(bl["name"], "bl.example");
    assert!(bl["serial"].as_u64().is_some_and(|n| n > 0));
    // The snapshot's view (/api/v1/zones: addresses and interval
    // bounds) and the datasets' (listed entries).
    assert_eq!(bl["entries"]["ipv4"], 4, "{bl}");
    assert_eq!(bl["listings"]["file"], 3);
    assert!(bl["listings"]["report"].is_null(), "not a feed zone");
    let datasets = bl["datasets"].as_array().expect("datasets");
    assert_eq!(datasets.len(), 2, "ip4set and acl");
    assert_eq!(datasets[0]["type"], "ip4set");
    assert_eq!(datasets[0]["bytes"], DATA.len());
    assert_eq!(datasets[1]["type"], "acl");
    assert_eq!(datasets[1]["entries"], 1);
    assert!(datasets[0]["load_seconds"].as_f64().is_some());
    let store = &s["store"];
    assert_eq!(store["alive"], true, "{store}");
    // The decay tick runs every 200 ms on the store thread: one job may be
    // queued at the moment of the read.
    assert!(
        store["queue_depth"].as_u64().is_some_and(|n| n <= 1),
        "{store}"
    );
    assert!(store["disk_free_bytes"].as_u64().is_some_and(|n| n > 0));
    let decay = &s["decay"];
    assert_eq!(decay["interval_seconds"], 0.2);
    assert!(decay["last_run"]["at"].as_i64().is_some(), "{decay}");
    assert!(decay["runs"]["ok"].as_u64().is_some_and(|n| n >= 1));
    assert_eq!(s["checks"]["decay"]["ok"], true);
    srv.stop().expect("clean stop");
}
