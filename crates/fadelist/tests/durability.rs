//! A report acknowledged with 2xx survives `kill -9` right after it.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use fadelist_store::Read as _;

use common::{REPORT_FED_CONFIG, Server, ask, bin, run_ok, serve};

/// Starts the server; returns it with its DNS and HTTP addresses.
fn start(config: &Path, db: &Path) -> (Server, SocketAddr, SocketAddr) {
    let mut server = Server::spawn(serve().arg("--config").arg(config).arg("--db").arg(db));
    let dns = server.wait_dns();
    let http = server.wait_http();
    server.drain();
    (server, dns, http)
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

fn add_reporter(db: &Path, name: &str) -> String {
    let text = run_ok(bin().args(["reporter", "--db"]).arg(db).args([
        "add",
        name,
        "--trusted",
        "81.2.69.160/27",
    ]));
    text.lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("token line")
        .to_string()
}

#[test]
fn acknowledged_reports_survive_sigkill() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("fadelist.toml");
    std::fs::write(&config, REPORT_FED_CONFIG).expect("config");
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
        // Three source networks, so the advertised domain is listed too
        // (content keys need reports from three networks).
        let body = fixture
            .replace("Message-ID: <", &format!("Message-ID: <n{i}."))
            .replace(
                "89.160.20.112",
                ["89.160.20.112", "89.160.21.112", "89.160.22.112"][i % 3],
            );
        let token = if i % 2 == 0 { &a } else { &b };
        assert_eq!(post(http, token, body.as_bytes()), 202, "report {i}");
    }
    assert_eq!(
        ask(dns, "112.20.160.89.iprbl.test"),
        (0, 1),
        "listed before the kill"
    );
    // No grace: SIGKILL right after the last 202.
    server.kill();

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
    server.kill();
}
