//! A report acknowledged with 2xx survives `kill -9` right after it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;

use fadelist_store::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fadelist"))
}

const CONFIG: &str = r#"
[server]
dns_listen = ["127.0.0.1:0"]
http_listen = "127.0.0.1:0"
[policy]
# The fixtures are dated 2026; accept them whatever today is.
max_report_age = "36500d"
[[zone]]
name = "iprbl.test"
feed = "ip"
[[zone]]
name = "urirbl.test"
feed = "domain"
"#;

/// Starts the server; returns it with its DNS and HTTP addresses.
fn start(config: &Path, db: &Path) -> (Child, SocketAddr, SocketAddr) {
    let mut child = bin()
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut dns = None;
    let mut http = None;
    while dns.is_none() || http.is_none() {
        let line = lines.next().expect("server output").expect("utf-8");
        if let Some(rest) = line.strip_prefix("fadelist: DNS listening on ") {
            dns = rest.split(' ').next().and_then(|a| a.parse().ok());
        }
        if let Some(rest) = line.strip_prefix("fadelist: HTTP listening on http://") {
            http = rest.trim().parse().ok();
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, dns.expect("dns"), http.expect("http"))
}

fn post(http: SocketAddr, token: &str, body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(http).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "POST /api/v1/reports HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// (rcode, answers) for an A query.
fn ask(dns: SocketAddr, name: &str) -> (u8, u16) {
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.send_to(&q, dns).expect("send");
    let mut buf = [0u8; 1500];
    let (n, _) = s.recv_from(&mut buf).expect("reply");
    assert!(n >= 12);
    (buf[3] & 0x0f, u16::from_be_bytes([buf[6], buf[7]]))
}

fn add_reporter(db: &Path, name: &str) -> String {
    let out = bin()
        .args(["reporter", "--db"])
        .arg(db)
        .args(["add", name, "--trusted", "81.2.69.160/27"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("token line")
        .to_string()
}

#[test]
fn acknowledged_reports_survive_sigkill() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("fadelist.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let db = dir.path().join("db.sqlite");
    let a = add_reporter(&db, "a");
    let b = add_reporter(&db, "b");
    let fixture = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/mail/spam-plain.eml"),
    )
    .expect("fixture");
    let fixture = String::from_utf8_lossy(&fixture).into_owned();

    let (mut server, dns, http) = start(&config, &db);
    const N: usize = 20;
    for i in 0..N {
        let body = fixture.replace("Message-ID: <", &format!("Message-ID: <n{i}."));
        let token = if i % 2 == 0 { &a } else { &b };
        assert_eq!(post(http, token, body.as_bytes()), 202, "report {i}");
    }
    assert_eq!(
        ask(dns, "112.20.160.89.iprbl.test"),
        (0, 1),
        "listed before the kill"
    );
    // No grace: SIGKILL right after the last 202.
    server.kill().expect("kill -9");
    server.wait().expect("wait");

    let store = fadelist_store::Store::open(&db).expect("reopen");
    assert_eq!(
        store.report_count().expect("count") as usize,
        N,
        "every acknowledged report is there"
    );
    drop(store);
    let (mut server, dns, _) = start(&config, &db);
    assert_eq!(
        ask(dns, "112.20.160.89.iprbl.test"),
        (0, 1),
        "same listing after restart"
    );
    assert_eq!(ask(dns, "cheap-meds-online.top.urirbl.test"), (0, 1));
    assert_eq!(ask(dns, "1.0.0.10.iprbl.test").0, 3);
    server.kill().expect("kill");
    let _ = server.wait();
}
