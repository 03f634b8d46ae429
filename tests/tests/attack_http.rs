//! The attack suite, HTTP side (issue 12): what anyone on the internet can
//! do to the web front, against the real server.
//!
//! 1. Slowloris: hundreds of half-sent request heads under a 256-descriptor
//!    limit, from one address and from many. Another client's `/healthz`
//!    and a TCP DNS query are still answered within 2 s, and the header
//!    timeout closes the half-open connections. (The release binary under
//!    `prlimit`, so the limit is the server's alone.)
//! 2. Bodies before tokens: 20 POSTs with a wrong token and a 10 MiB
//!    `Content-Length` get 401 before sending a byte of body, and the
//!    server's RSS stays flat (the old code buffered every body first).
//! 3. Connection caps per client; header, idle and body timeouts.
//! 4. Report body budgets: per reporter and in total, refused before the
//!    body; 413 on the declared size; daily quotas with `Retry-After`.
//! 5. Reverse proxies: `X-Forwarded-For` / `Forwarded` only from trusted
//!    proxies, for the recorded requester and the rate-limit bucket; IPv6
//!    clients limited per /64.
//! 6. Delisting: form tokens bound to one key and used once; the JSON API's
//!    per-client and global hourly caps, which the form is exempt from.
//! 7. Security headers on every page; no inline script or style.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

/// A TCP connection to `dst` from the loopback address `src` (Linux
/// answers all of 127.0.0.0/8), so one test can be many clients.
fn connect_from(src: Ipv4Addr, dst: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.bind(&SocketAddr::new(IpAddr::V4(src), 0).into())?;
    s.connect_timeout(&dst.into(), Duration::from_secs(2))?;
    Ok(s.into())
}

/// Half a request head, as a slowloris client sends it.
const HALF_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";

/// `GET /healthz` from `src` on a new connection: the status line, or the
/// error, and how long it took.
fn healthz_from(src: Ipv4Addr, http: SocketAddr) -> (Result<String, String>, Duration) {
    let t0 = Instant::now();
    let r = (|| {
        let mut s = connect_from(src, http).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .map_err(|e| format!("write: {e}"))?;
        let mut line = String::new();
        BufReader::new(s)
            .read_line(&mut line)
            .map_err(|e| format!("read: {e}"))?;
        Ok(line.trim_end().to_string())
    })();
    (r, t0.elapsed())
}

/// One TCP DNS query from `src` for the RFC 5782 test entry: whether an
/// answer came, and how long it took.
fn tcp_dns_from(src: Ipv4Addr, dns: SocketAddr) -> (Result<(), String>, Duration) {
    let t0 = Instant::now();
    let r = (|| {
        let mut s = connect_from(src, dns).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let q = query("2.0.0.127.iprbl.test", RecordType::A)
            .to_vec()
            .map_err(|e| e.to_string())?;
        let mut out = (q.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&q);
        s.write_all(&out).map_err(|e| format!("write: {e}"))?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).map_err(|e| format!("read: {e}"))?;
        Ok(())
    })();
    (r, t0.elapsed())
}

/// Whether the server has closed `s` (EOF, a reset, or its 503 refusal
/// followed by EOF), waiting at most until `deadline`.
fn closed_by_server(mut s: &TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return true,
            // The refusal of a connection over the per-client cap: read on
            // to its end.
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// The `fadelist` binary of this package, run as a separate process (its
/// descriptor limit and memory are its own), stopped when dropped.
struct Spawned {
    child: Child,
    http: SocketAddr,
    dns: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Spawned {
    /// `fadelist serve` with `config` (TOML), zone iprbl.test, under
    /// `prlimit --nofile=N:N` when `nofile` is given.
    fn start(config: &str, nofile: Option<u32>) -> Spawned {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = dir.path().join("fadelist.toml");
        std::fs::write(
            &cfg,
            format!("{config}\n[[zone]]\nname = \"iprbl.test\"\nfeed = \"ip\"\n"),
        )
        .expect("config");
        let bin = env!("CARGO_BIN_EXE_fadelist-cli");
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg("--").arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("serve")
            .arg("--config")
            .arg(&cfg)
            .arg("--db")
            .arg(dir.path().join("db.sqlite"))
            .args([
                "--dns-listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("serve.err")).expect("log"));
        let mut child = cmd.spawn().expect("spawn fadelist (is prlimit installed?)");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut dns, mut http) = (None, None);
        while dns.is_none() || http.is_none() {
            let Some(Ok(line)) = lines.next() else {
                let log = std::fs::read_to_string(dir.path().join("serve.err")).unwrap_or_default();
                panic!("the server stopped before printing its addresses:\n{log}");
            };
            if let Some(rest) = line.strip_prefix("fadelist: DNS listening on ") {
                dns = rest.split(' ').next().and_then(|a| a.parse().ok());
            }
            if let Some(rest) = line.strip_prefix("fadelist: HTTP listening on http://") {
                http = rest.trim().parse().ok();
            }
        }
        // Keep reading stdout so the server never blocks writing to it.
        std::thread::spawn(move || lines.for_each(drop));
        let s = Spawned {
            child,
            http: http.expect("http"),
            dns: dns.expect("dns"),
            _dir: dir,
        };
        assert!(
            eventually(Duration::from_secs(10), || {
                healthz_from(Ipv4Addr::LOCALHOST, s.http).0.is_ok()
            }),
            "the server answers"
        );
        s
    }

    /// The server's resident memory, MiB.
    fn rss_mib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .expect("VmRSS")
            / 1024
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn slowloris_under_256_descriptors_leaves_healthz_and_tcp_dns_answering() {
    let srv = Spawned::start("[server]\nhttp_header_timeout = \"1s\"\n", Some(256));

    // 300 half-sent heads from one address: 32 (the per-client cap) are
    // held until the header timeout, the rest refused at once.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = connect_from(Ipv4Addr::LOCALHOST, srv.http).expect("connect");
        let _ = s.write_all(HALF_HEAD);
        slow.push(s);
    }
    let (health, took) = healthz_from(Ipv4Addr::new(127, 0, 0, 2), srv.http);
    assert_eq!(health.as_deref(), Ok("HTTP/1.1 200 OK"), "healthz");
    assert!(took < Duration::from_secs(2), "healthz took {took:?}");
    let (dns, took) = tcp_dns_from(Ipv4Addr::new(127, 0, 0, 2), srv.dns);
    assert_eq!(dns, Ok(()), "TCP DNS");
    assert!(took < Duration::from_secs(2), "TCP DNS took {took:?}");

    // 150 more from 30 addresses, under every per-client cap: they fill
    // the global HTTP cap ((256 - 64) / 2 = 96; the rest wait in the
    // listen backlog), and DNS keeps its own descriptors.
    for i in 0..150u8 {
        let src = Ipv4Addr::new(127, 0, 1, 1 + i % 30);
        let mut s = connect_from(src, srv.http).expect("connect");
        let _ = s.write_all(HALF_HEAD);
        slow.push(s);
    }
    let (dns, took) = tcp_dns_from(Ipv4Addr::new(127, 0, 0, 3), srv.dns);
    assert_eq!(dns, Ok(()), "TCP DNS with HTTP at its cap");
    assert!(took < Duration::from_secs(2), "TCP DNS took {took:?}");
    let udp = ask(srv.dns, "2.0.0.127.iprbl.test", RecordType::A);
    assert_eq!(a_values(&udp), ["127.0.0.2"]);

    // The header timeout (1 s) closes every half-open connection: the
    // held ones, then those that waited in the backlog.
    let deadline = Instant::now() + Duration::from_secs(20);
    let open = slow
        .iter()
        .filter(|s| !closed_by_server(s, deadline))
        .count();
    assert_eq!(open, 0, "half-open connections still open");
    // And HTTP serves again, to anyone.
    let (health, _) = healthz_from(Ipv4Addr::new(127, 0, 1, 1), srv.http);
    assert_eq!(health.as_deref(), Ok("HTTP/1.1 200 OK"));
}

#[test]
fn bad_token_posts_with_huge_bodies_get_401_at_once_and_cost_no_memory() {
    let srv = Spawned::start("", None);
    let before = srv.rss_mib();
    let http = srv.http;
    let statuses: Vec<String> = std::thread::scope(|scope| {
        let all: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(move || {
                    let mut s = TcpStream::connect(http).expect("connect");
                    s.write_all(
                        b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\
                          Content-Type: message/rfc822\r\nContent-Length: 10485760\r\n\r\n",
                    )
                    .expect("head");
                    // The answer comes before any of the body is sent.
                    s.set_read_timeout(Some(Duration::from_secs(2)))
                        .expect("timeout");
                    let mut line = String::new();
                    let _ = BufReader::new(s.try_clone().expect("clone")).read_line(&mut line);
                    // Then send the 10 MiB anyway, as the attack did: the
                    // server has stopped reading, so this ends in an error.
                    let chunk = vec![b'x'; 64 * 1024];
                    for _ in 0..160 {
                        if s.write_all(&chunk).is_err() {
                            break;
                        }
                    }
                    line.trim_end().to_string()
                })
            })
            .collect();
        all.into_iter().map(|t| t.join().expect("client")).collect()
    });
    for st in &statuses {
        assert_eq!(
            st, "HTTP/1.1 401 Unauthorized",
            "before the body: {statuses:?}"
        );
    }
    let after = srv.rss_mib();
    // The old code buffered each body before looking at the token:
    // +67 MiB resident (peak +137) for these 20.
    assert!(after < before + 30, "RSS grew from {before} to {after} MiB");
}

/// A server for the in-process tests: fixtures' dates accepted, and
/// `adjust` applied.
fn server(adjust: impl FnOnce(&mut fadelist::config::Config)) -> TestServer {
    TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        adjust(c);
    })
}

#[test]
fn one_client_cannot_hold_all_connections() {
    let srv = server(|c| c.server.http_max_connections_per_client = 4);
    let me = Ipv4Addr::LOCALHOST;
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| connect_from(me, srv.http).expect("connect"))
        .collect();
    // The fifth from the same address is refused with a reason.
    let mut fifth = connect_from(me, srv.http).expect("connect");
    fifth
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut answer = String::new();
    let _ = fifth.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    // Another address is served.
    let (health, _) = healthz_from(Ipv4Addr::new(127, 0, 0, 2), srv.http);
    assert_eq!(health.as_deref(), Ok("HTTP/1.1 200 OK"));
    // Closing one frees a place for the first address.
    drop(held.pop());
    assert!(
        eventually(Duration::from_secs(5), || {
            healthz_from(me, srv.http).0.as_deref() == Ok("HTTP/1.1 200 OK")
        }),
        "a place was freed"
    );
}

#[test]
fn header_idle_and_body_timeouts() {
    let srv = server(|c| {
        c.server.http_header_timeout = Duration::from_secs(1);
        c.server.http_body_timeout = Duration::from_secs(1);
        c.server.http_idle_timeout = Duration::from_secs(1);
    });
    let limit = || Instant::now() + Duration::from_secs(10);
    // Half a head: closed.
    let mut s = TcpStream::connect(srv.http).expect("connect");
    s.write_all(HALF_HEAD).expect("write");
    assert!(closed_by_server(&s, limit()), "half head closed");

    // Idle after an answer: closed, though the header timeout is longer.
    let srv2 = server(|c| {
        c.server.http_header_timeout = Duration::from_secs(30);
        c.server.http_idle_timeout = Duration::from_secs(1);
    });
    let mut s = TcpStream::connect(srv2.http).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut first = [0u8; 12];
    s.read_exact(&mut first).expect("an answer");
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(closed_by_server(&s, limit()), "idle connection closed");

    // A body that stops coming: 408 with the reason.
    let token = srv.add_reporter("slow", false, &FIXTURE_TRUSTED);
    let mut s = TcpStream::connect(srv.http).expect("connect");
    s.write_all(
        format!(
            "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: 1000\r\nConnection: close\r\n\r\nFrom: a@b.example\r\n"
        )
        .as_bytes(),
    )
    .expect("write");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"body_timeout\""), "{answer}");
}

/// Starts a report announcing `length` bytes, with `Expect:
/// 100-continue`: the server says "100 Continue" only once the handler
/// has admitted the report and starts reading its body (or answers at once
/// when it refuses it). Returns the connection and that first status line;
/// the body is left unsent.
fn start_report(srv: &TestServer, token: &str, length: usize) -> (TcpStream, String) {
    let s = TcpStream::connect(srv.http).expect("connect");
    (&s).write_all(
        format!(
            "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: message/rfc822\r\nContent-Length: {length}\r\n\
             Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .expect("head");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reader = BufReader::new(&s);
    let mut line = String::new();
    reader.read_line(&mut line).expect("a status line");
    if line.starts_with("HTTP/1.1 100") {
        let mut blank = String::new();
        reader.read_line(&mut blank).expect("end of the 100 head");
    }
    (s.try_clone().expect("clone"), line.trim_end().to_string())
}

#[test]
fn report_bodies_are_budgeted_before_they_are_read() {
    const MIB: usize = 1 << 20;
    let srv = server(|c| {
        c.ingest.max_message_bytes = MIB;
        c.ingest.reporter_body_bytes_in_flight = MIB;
        c.ingest.body_bytes_in_flight = 2 * MIB;
    });
    let [a, b] = srv.two_reporters();
    let c = srv.add_reporter("c", false, &FIXTURE_TRUSTED);

    // Over the size limit by its Content-Length: 413 before the body.
    let (_, first) = start_report(&srv, &a, MIB + 1);
    assert!(first.starts_with("HTTP/1.1 413"), "{first}");

    // A holds its whole per-reporter budget with a slow upload…
    let (slow_a, first) = start_report(&srv, &a, MIB);
    assert_eq!(first, "HTTP/1.1 100 Continue");
    let r = srv.post_report(Some(&a), "", &mail_with_id("spam-plain.eml", "a2"));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"], "too_much_in_flight", "{}", r.body);
    // …B holds the rest of the total budget…
    let (slow_b, first) = start_report(&srv, &b, MIB);
    assert_eq!(first, "HTTP/1.1 100 Continue");
    // …so C, within its own budget, finds the total spent: 503.
    let from_c = || srv.post_report(Some(&c), "", &mail_with_id("spam-plain.eml", "c1"));
    let r = from_c();
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"], "busy", "{}", r.body);
    assert!(r.header("retry-after").is_some(), "{}", r.head);
    // The slow uploads give up: the budgets come back.
    drop(slow_a);
    drop(slow_b);
    assert!(
        eventually(Duration::from_secs(5), || from_c().status == 202),
        "C is accepted once the bytes are given back"
    );
}

#[test]
fn daily_quotas_answer_429_with_retry_after() {
    let srv = server(|c| c.ingest.reporter_daily_reports = 2);
    let token = srv.add_reporter("a", false, &FIXTURE_TRUSTED);
    for i in 0..2 {
        let r = srv.post_report(
            Some(&token),
            "",
            &mail_with_id("spam-plain.eml", &format!("q{i}")),
        );
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let r = srv.post_report(Some(&token), "", &mail_with_id("spam-plain.eml", "q2"));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"], "daily_reports_quota");
    // Two a day: one more after half a day.
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((43_000..=43_200).contains(&wait), "Retry-After {wait}");

    // Bytes: a quota of three messages' worth.
    let size = mail("spam-plain.eml").len() + 64;
    let srv = server(move |c| {
        c.ingest.max_message_bytes = size;
        c.ingest.reporter_daily_bytes = 3 * size as u64;
    });
    let token = srv.add_reporter("a", false, &FIXTURE_TRUSTED);
    let mut statuses = Vec::new();
    for i in 0..4 {
        let r = srv.post_report(
            Some(&token),
            "",
            &mail_with_id("spam-plain.eml", &format!("b{i}")),
        );
        statuses.push(r.status);
        if r.status == 429 {
            assert_eq!(r.json()["error"], "daily_bytes_quota", "{}", r.body);
            assert!(r.header("retry-after").is_some());
        }
    }
    assert_eq!(statuses, [202, 202, 202, 429]);
}

/// A delisting API request for `key` with `headers` (name, value).
fn delist_with(srv: &TestServer, key: &str, headers: &[(&str, &str)]) -> Response {
    let mut r = Request::post(srv.http, "/api/v1/delistings");
    for (k, v) in headers {
        r = r.header(k, v);
    }
    r.json(&format!(
        r#"{{"key":"{key}","email":"ops@example.net","explanation":"cleaned"}}"#
    ))
    .send()
}

/// The requester addresses recorded for `key`, oldest first.
fn requesters(srv: &TestServer, key: &str) -> Vec<String> {
    let store = fadelist_store::Store::open(&srv.db).expect("store");
    let mut v: Vec<_> = store
        .delist_requests_for(key, 100)
        .expect("requests")
        .into_iter()
        .map(|r| (r.id, r.requester_ip))
        .collect();
    v.sort();
    v.into_iter().map(|(_, ip)| ip).collect()
}

#[test]
fn forwarded_addresses_count_only_from_trusted_proxies() {
    let srv = server(|c| {
        c.web.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
        c.web.delist_per_minute = 1;
    });
    let xff = |v| [("X-Forwarded-For", v)];
    // The proxy (127.0.0.1) says who the client is: recorded, and limited
    // per client.
    assert_eq!(
        delist_with(&srv, "192.0.2.1", &xff("1.2.3.4, 198.51.100.7")).status,
        200
    );
    assert_eq!(
        delist_with(&srv, "192.0.2.1", &xff("198.51.100.7")).status,
        429
    );
    assert_eq!(
        delist_with(&srv, "192.0.2.1", &xff("198.51.100.8")).status,
        200
    );
    // IPv6 clients per /64.
    assert_eq!(
        delist_with(&srv, "192.0.2.1", &xff("2001:db8:1:2::1")).status,
        200
    );
    let r = delist_with(&srv, "192.0.2.1", &xff("2001:db8:1:2:ffff::9"));
    assert_eq!(r.status, 429, "same /64: {}", r.body);
    assert_eq!(
        delist_with(&srv, "192.0.2.1", &xff("[2001:db8:1:3::1]:443")).status,
        200
    );
    assert_eq!(
        requesters(&srv, "192.0.2.1"),
        [
            "198.51.100.7",
            "198.51.100.8",
            "2001:db8:1:2::1",
            "2001:db8:1:3::1"
        ]
    );

    // RFC 7239, when the proxies are set to write it.
    let srv = server(|c| {
        c.web.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
        c.web.proxy_header = fadelist::config::ProxyHeader::Forwarded;
    });
    let r = delist_with(
        &srv,
        "192.0.2.1",
        &[
            ("Forwarded", r#"for="[2001:db8::7]:4711";proto=https"#),
            ("X-Forwarded-For", "198.51.100.9"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(requesters(&srv, "192.0.2.1"), ["2001:db8::7"]);

    // From anyone else the headers are ignored: the socket's address is
    // recorded, and it is one bucket whatever the header says.
    let srv = server(|c| {
        c.web.trusted_proxies = vec!["10.0.0.0/8".parse().expect("net")];
        c.web.delist_per_minute = 1;
    });
    assert_eq!(
        delist_with(&srv, "192.0.2.1", &xff("198.51.100.7")).status,
        200
    );
    assert_eq!(
        delist_with(&srv, "192.0.2.1", &xff("198.51.100.8")).status,
        429
    );
    assert_eq!(requesters(&srv, "192.0.2.1"), ["127.0.0.1"]);
}

/// The form token in a delisting page.
fn token_in(page: &str) -> String {
    let at = page.find("name=\"token\" value=\"").expect("a token field") + 20;
    page[at..].split('"').next().expect("token").to_string()
}

/// Posts the delisting form for `key` with `token`.
fn post_form(srv: &TestServer, key: &str, token: &str) -> Response {
    Request::post(srv.http, "/delist")
        .form(&[
            ("key", key),
            ("email", "ops@example.net"),
            ("explanation", "the host was cleaned"),
            ("token", token),
            ("website", ""),
        ])
        .send()
}

#[test]
fn form_tokens_are_bound_to_one_key_and_used_once() {
    let srv = server(|c| {
        c.web.form_min_fill = Duration::ZERO;
        c.web.delist_per_minute = 100;
    });
    // Without a key, the page asks for one first (no token yet).
    let page = srv.get("/delist").body;
    assert!(!page.contains("name=\"token\""), "{page}");
    assert!(page.contains("method=\"get\" action=\"/delist\""), "{page}");
    let r = srv.get("/delist?q=not%20a%20key");
    assert_eq!(r.status, 422);
    assert!(!r.body.contains("name=\"token\""));

    let token = token_in(&srv.get("/delist?q=192.0.2.1").body);
    let r = post_form(&srv, "192.0.2.1", &token);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Not listed"), "{}", r.body);
    // The same token again.
    let r = post_form(&srv, "192.0.2.1", &token);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("already sent once"), "{}", r.body);
    // A fresh form comes back with the refusal.
    assert_ne!(token_in(&r.body), token);

    // A token for one key does not delist another.
    let token = token_in(&srv.get("/delist?q=192.0.2.1").body);
    let r = post_form(&srv, "192.0.2.2", &token);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("issued for another address"), "{}", r.body);
    assert!(
        r.body.contains("value=\"192.0.2.2\""),
        "the form is for the key sent now"
    );
    // The one refused for the wrong key was not spent on it.
    assert_eq!(post_form(&srv, "192.0.2.1", &token).status, 200);
    assert_eq!(requesters(&srv, "192.0.2.2").len(), 0);
    assert_eq!(requesters(&srv, "192.0.2.1").len(), 2);
}

#[test]
fn the_json_api_has_hourly_caps_per_client_and_in_total() {
    let srv = server(|c| {
        c.web.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
        c.web.delist_per_minute = 100;
        c.web.api_delist_per_client_per_hour = 2;
        c.web.api_delist_per_hour = 3;
        c.web.form_min_fill = Duration::ZERO;
    });
    let from = |ip| [("X-Forwarded-For", ip)];
    // Junk is refused without using the hourly budgets.
    for _ in 0..5 {
        assert_eq!(
            delist_with(&srv, "not a key", &from("198.51.100.1")).status,
            422
        );
    }
    assert_eq!(
        delist_with(&srv, "192.0.2.1", &from("198.51.100.1")).status,
        200
    );
    assert_eq!(
        delist_with(&srv, "192.0.2.1", &from("198.51.100.1")).status,
        200
    );
    let r = delist_with(&srv, "192.0.2.1", &from("198.51.100.1"));
    assert_eq!(r.status, 429, "{}", r.body);
    let v = r.json();
    assert_eq!(v["error"], "api_client_hourly_limit");
    assert!(
        v["message"].as_str().unwrap_or("").contains("/delist"),
        "{v}"
    );
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("secs");
    assert!((1700..=1800).contains(&wait), "half an hour: {wait}");

    // Another client: the third in total passes, the fourth meets the
    // global cap.
    assert_eq!(
        delist_with(&srv, "192.0.2.1", &from("198.51.100.2")).status,
        200
    );
    let r = delist_with(&srv, "192.0.2.1", &from("198.51.100.3"));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"], "api_hourly_limit");
    assert!(r.header("retry-after").is_some());
    // People can still use the form.
    let token = token_in(&srv.get("/delist?q=192.0.2.1").body);
    let r = Request::post(srv.http, "/delist")
        .header("X-Forwarded-For", "198.51.100.3")
        .form(&[
            ("key", "192.0.2.1"),
            ("email", "ops@example.net"),
            ("explanation", "cleaned"),
            ("token", &token),
            ("website", ""),
        ])
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(requesters(&srv, "192.0.2.1").len(), 4);
}

#[test]
fn pages_carry_security_headers_and_no_inline_code() {
    let srv = server(|_| {});
    let css = srv.get("/static/site.css");
    assert_eq!(css.status, 200);
    assert!(
        css.header("content-type")
            .unwrap_or("")
            .starts_with("text/css")
    );
    assert!(css.body.contains(".hp {"), "the honeypot's class");
    for path in [
        "/",
        "/lookup",
        "/lookup?q=192.0.2.1",
        "/lookup?q=%3Cb%3E",
        "/delist",
        "/delist?q=192.0.2.1",
        "/api/v1/zones",
    ] {
        let r = srv.get(path);
        let csp = r
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP\n{}", r.head));
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert!(
            !csp.contains("script-src"),
            "{path}: scripts stay under default-src 'none': {csp}"
        );
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert!(r.header("referrer-policy").is_some(), "{path}");
        if r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
        {
            assert!(!r.body.contains("<script"), "{path}");
            assert!(!r.body.contains("<style"), "{path}: inline style element");
            assert!(
                !r.body.contains(" style="),
                "{path}: inline style attribute"
            );
            assert!(r.body.contains("href=\"/static/site.css\""), "{path}");
        }
    }
}
