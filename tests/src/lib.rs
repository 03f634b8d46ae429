//! Test support: start the real fadelist server on ephemeral ports and talk
//! DNS to it with hickory-proto messages over plain sockets, and HTTP with
//! the raw client of [`http`] ([`Request`], [`Response`]).
//!
//! The server is started exactly as `main` starts it ([`fadelist::bind`],
//! [`fadelist::load_zones`], [`fadelist::run`]), on its own runtime thread,
//! and stopped through the same cancellation token SIGTERM uses
//! ([`TestServer::start_with`], [`TestServer::stop`]); [`eventually`] waits
//! for what the server does in the background.

pub mod http;

pub use http::{Request, Response};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fadelist::config::{Config, ZoneSpec, embedded_default};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::BinDecodable;
use tokio_util::sync::CancellationToken;

/// A running server.
pub struct TestServer {
    /// DNS address (UDP and TCP).
    pub dns: SocketAddr,
    /// HTTP address.
    pub http: SocketAddr,
    /// Admin API address, when an admin token is configured.
    pub admin: Option<SocketAddr>,
    /// Metrics address, when `[metrics] listen` is set.
    pub metrics: Option<SocketAddr>,
    /// Directory holding the data files.
    pub dir: tempfile::TempDir,
    /// The SQLite database.
    pub db: PathBuf,
    shutdown: CancellationToken,
    thread: Option<std::thread::JoinHandle<anyhow_free::Result>>,
}

mod anyhow_free {
    /// The server thread's outcome, as text (keeps anyhow out of the API).
    pub type Result = std::result::Result<(), String>;
}

impl TestServer {
    /// Writes `files` (name, content) into a fresh directory and serves the
    /// zones `specs` (rbldnsd syntax, file names relative to that directory).
    /// With no specs, serves the embedded default zones.
    pub fn start(files: &[(&str, &str)], specs: &[&str]) -> TestServer {
        Self::start_with(files, specs, |_| {})
    }

    /// Like [`TestServer::start`], with a chance to adjust the configuration.
    pub fn start_with(
        files: &[(&str, &str)],
        specs: &[&str],
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).expect("write data file");
        }
        let mut config = if specs.is_empty() {
            embedded_default()
        } else {
            Config {
                zones: Vec::new(),
                ..embedded_default()
            }
        };
        let specs: Vec<ZoneSpec> = specs
            .iter()
            .map(|s| s.parse().expect("zone spec"))
            .collect();
        config.add_zone_specs(&specs);
        config.server.data_dir = Some(dir.path().to_path_buf());
        config.server.dns_listen = vec!["127.0.0.1:0".parse().expect("addr")];
        config.server.http_listen = "127.0.0.1:0".parse().expect("addr");
        config.admin.listen = "127.0.0.1:0".parse().expect("addr");
        config.server.reload_interval = Duration::from_millis(100);
        config.store.path = dir.path().join("fadelist.sqlite");
        let db = config.store.path.clone();
        // Create and migrate the database before the server and the test
        // open it side by side.
        drop(fadelist_store::Store::open(&db).expect("create database"));
        adjust(&mut config);
        config.validate().expect("valid config");
        let zones = fadelist::load_zones(&config).expect("zones load");
        let listeners = fadelist::bind(&config).expect("bind");
        let dns = listeners.dns_addrs().expect("dns addr")[0];
        let http = listeners.http_addr().expect("http addr");
        let admin = listeners.admin_addr();
        let metrics = listeners.metrics_addr();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(fadelist::run(config, zones, listeners, token))
                .map_err(|e| format!("{e:#}"))
        });
        TestServer {
            dns,
            http,
            admin,
            metrics,
            db,
            dir,
            shutdown,
            thread: Some(thread),
        }
    }

    /// Adds a reporter straight into the server's database (a second
    /// connection; SQLite WAL allows it while the server runs) and returns
    /// its token.
    pub fn add_reporter(&self, name: &str, trap: bool, trusted: &[&str]) -> String {
        let mut store = fadelist_store::Store::open(&self.db).expect("open store");
        let token = format!("token-{name}-{}", self.http.port());
        let kind = if trap {
            fadelist_store::ReporterKind::Trap
        } else {
            fadelist_store::ReporterKind::User
        };
        let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
        store
            .add_reporter(name, 1.0, kind, &trusted, &token, 0)
            .expect("add reporter");
        token
    }

    /// Suspends a reporter.
    pub fn suspend(&self, name: &str) {
        let mut store = fadelist_store::Store::open(&self.db).expect("open store");
        assert!(store.set_suspended(name, true, 0).expect("suspend"));
    }

    /// Posts a report (`message/rfc822`) to `/api/v1/reports{query}`, with
    /// the reporter's bearer token when there is one.
    pub fn post_report(&self, token: Option<&str>, query: &str, body: &[u8]) -> Response {
        let mut r = Request::post(self.http, &format!("/api/v1/reports{query}"));
        if let Some(t) = token {
            r = r.bearer(t);
        }
        r.body("message/rfc822", body).send()
    }

    /// `GET path` on the public HTTP address (pages and the JSON API).
    pub fn get(&self, path: &str) -> Response {
        Request::get(self.http, path).send()
    }

    /// `POST path` with a JSON body on the public HTTP address.
    pub fn post_json(&self, path: &str, body: &str) -> Response {
        Request::post(self.http, path).json(body).send()
    }

    /// Asks the self-service API (`POST /api/v1/delistings`) to delist
    /// `key`, as `ops@example.net` with the explanation "the infected host
    /// was cleaned".
    pub fn delist(&self, key: &str) -> Response {
        self.post_json(
            "/api/v1/delistings",
            &format!(
                r#"{{"key":"{key}","email":"ops@example.net","explanation":"the infected host was cleaned"}}"#
            ),
        )
    }

    /// Path of a data file in the server's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Replaces a data file atomically (write + rename), as operators'
    /// tooling does.
    pub fn replace_file(&self, name: &str, content: &str) {
        replace_file(&self.path(name), content);
    }

    /// Stops the server and returns its outcome.
    pub fn stop(mut self) -> Result<(), String> {
        self.shutdown.cancel();
        self.thread
            .take()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err("server thread panicked".into()))
            })
            .unwrap_or(Ok(()))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Replaces `path` atomically with `content`.
pub fn replace_file(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp-new");
    std::fs::write(&tmp, content).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename");
}

/// Builds a query message.
pub fn query(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.id = rand_id();
    m.metadata.recursion_desired = false;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    m
}

/// Adds EDNS with `payload` and `version` to `m`.
pub fn with_edns(mut m: Message, payload: u16, version: u8) -> Message {
    let mut e = Edns::new();
    e.set_max_payload(payload);
    e.set_version(version);
    m.edns = Some(e);
    m
}

fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(1);
    NEXT.fetch_add(7919, Ordering::Relaxed)
}

/// Sends raw bytes over UDP; returns the raw reply, or `None` after `wait`.
pub fn udp_raw(server: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind client");
    sock.set_read_timeout(Some(wait)).expect("timeout");
    sock.send_to(bytes, server).expect("send");
    let mut buf = vec![0u8; 65_535];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// Asks `server` over UDP for `name` and `qtype` (see [`udp`]).
pub fn ask(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    udp(server, &query(name, qtype))
}

/// Sends `m` over UDP and decodes the reply (panics on timeout).
pub fn udp(server: SocketAddr, m: &Message) -> Message {
    let bytes = m.to_vec().expect("encode");
    for _ in 0..3 {
        if let Some(reply) = udp_raw(server, &bytes, Duration::from_secs(2)) {
            let r = Message::from_bytes(&reply).expect("decode reply");
            assert_eq!(r.metadata.id, m.metadata.id, "reply id");
            assert_eq!(r.metadata.message_type, MessageType::Response);
            return r;
        }
    }
    panic!("no UDP reply from {server}");
}

/// Sends each message over one TCP connection (pipelined: all written
/// before any is read) and returns the replies in order.
pub fn tcp(server: SocketAddr, msgs: &[Message]) -> Vec<Message> {
    let mut s = TcpStream::connect(server).expect("tcp connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut out = Vec::new();
    for m in msgs {
        let b = m.to_vec().expect("encode");
        out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        out.extend_from_slice(&b);
    }
    s.write_all(&out).expect("tcp write");
    let mut replies = Vec::new();
    for _ in msgs {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).expect("tcp read length");
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut buf).expect("tcp read message");
        replies.push(Message::from_bytes(&buf).expect("decode"));
    }
    replies
}

/// The answer section's records that `pick` turns into text, sorted.
pub fn answer_values(m: &Message, pick: impl Fn(&RData) -> Option<String>) -> Vec<String> {
    let mut v: Vec<String> = m.answers.iter().filter_map(|r| pick(&r.data)).collect();
    v.sort();
    v
}

/// The A values of the answer section, sorted.
pub fn a_values(m: &Message) -> Vec<String> {
    answer_values(m, |d| match d {
        RData::A(a) => Some(a.0.to_string()),
        _ => None,
    })
}

/// The TXT values of the answer section (character-strings joined), sorted.
pub fn txt_values(m: &Message) -> Vec<String> {
    answer_values(m, |d| match d {
        RData::TXT(t) => Some(
            t.txt_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<String>(),
        ),
        _ => None,
    })
}

/// A `policy.max_report_age` (100 years) under which the fixture mails,
/// dated 2026, count whatever today is.
pub const FIXTURE_REPORT_AGE: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Polls `check` until it returns true or `limit` passes.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The store's read queries (`report_count`, `review_queue`, …), in scope
/// for the tests that open the database directly.
pub use fadelist_store::Read as StoreRead;
/// `OpCode` re-export for tests.
pub use hickory_proto::op::OpCode as Op;
/// Response codes re-export for tests.
pub use hickory_proto::op::ResponseCode as Rcode;

/// Marker so `OpCode` stays referenced.
pub const QUERY: OpCode = OpCode::Query;

/// A fixture from `tests/data/mail`.
pub fn mail(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/mail")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `mail` with its Message-ID replaced, so one reporter can send it again
/// as a different message.
pub fn mail_with_id(name: &str, id: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(&mail(name)).into_owned();
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.to_ascii_lowercase().starts_with("message-id:") {
            out.push_str(&format!("Message-ID: <{id}@test>\n"));
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

/// The source of the `spam-plain.eml` fixture, which most listing tests
/// list, and its query name in `iprbl.test`.
pub const SPAM_PLAIN_SOURCE: &str = "89.160.20.112";
/// See [`SPAM_PLAIN_SOURCE`].
pub const SPAM_PLAIN_NAME: &str = "112.20.160.89.iprbl.test";
/// The relay network of the fixtures' reporters (their own MX hosts).
pub const FIXTURE_TRUSTED: [&str; 1] = ["81.2.69.160/27"];

impl TestServer {
    /// Adds the two reporters listing tests use, `a` (a user) and `b` (a
    /// spam trap), trusting [`FIXTURE_TRUSTED`]; returns their tokens.
    pub fn two_reporters(&self) -> [String; 2] {
        [
            self.add_reporter("a", false, &FIXTURE_TRUSTED),
            self.add_reporter("b", true, &FIXTURE_TRUSTED),
        ]
    }

    /// Posts `spam-plain.eml` once with each token (Message-IDs made new
    /// by `tag`), asserts each is accepted, and that
    /// [`SPAM_PLAIN_SOURCE`] is then listed in DNS.
    pub fn list_spam_plain(&self, tokens: &[String], tag: &str) {
        for (i, t) in tokens.iter().enumerate() {
            let r = self.post_report(
                Some(t),
                "",
                &mail_with_id("spam-plain.eml", &format!("{tag}-{i}")),
            );
            assert_eq!(r.status, 202, "{}", r.body);
        }
        assert!(
            !a_values(&ask(self.dns, SPAM_PLAIN_NAME, RecordType::A)).is_empty(),
            "{SPAM_PLAIN_SOURCE} listed after {tag}"
        );
    }
}

/// Seconds since the Unix epoch (for form tokens).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}
