//! End-to-end: self-service delisting through the JSON API and the form.

use std::time::Duration;

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

const TRUSTED: [&str; 1] = ["81.2.69.160/27"];
const SECRET: &str = "test-form-secret";
const NAME: &str = "112.20.160.89.iprbl.test";

fn server(delist_per_minute: u32) -> TestServer {
    TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = Duration::from_secs(100 * 365 * 86_400);
        c.web.form_secret = Some(SECRET.into());
        c.web.delist_per_minute = delist_per_minute;
    })
}

fn listed(srv: &TestServer) -> bool {
    !a_values(&udp(srv.dns, &query(NAME, RecordType::A))).is_empty()
}

/// Lists 89.160.20.112 with two fresh reports.
fn list(srv: &TestServer, tokens: &(String, String), round: u32) {
    for (i, t) in [&tokens.0, &tokens.1].into_iter().enumerate() {
        let (s, _, b) = srv.post_report(
            Some(t),
            "",
            &mail_with_id("spam-plain.eml", &format!("r{round}-{i}")),
        );
        assert_eq!(s, 202, "{b}");
    }
    assert!(listed(srv), "listed after round {round}");
}

fn api(srv: &TestServer, key: &str) -> (u16, String) {
    let body = format!(
        r#"{{"key":"{key}","email":"ops@example.net","explanation":"the infected host was cleaned"}}"#
    );
    let (s, _, b) = json_request(srv, "/api/v1/delistings", &body);
    (s, b)
}

fn json_request(srv: &TestServer, path: &str, body: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(srv.http).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn form_post(srv: &TestServer, fields: &[(&str, &str)]) -> (u16, String, String) {
    use std::io::{Read, Write};
    let body: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('%', "%25")
                    .replace(' ', "+")
                    .replace('&', "%26")
                    .replace('@', "%40")
                    .replace('<', "%3C")
                    .replace('>', "%3E")
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut s = std::net::TcpStream::connect(srv.http).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "POST /delist HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

#[test]
fn api_policy_branches() {
    let srv = server(100);
    let tokens = (
        srv.add_reporter("a", false, &TRUSTED),
        srv.add_reporter("b", true, &TRUSTED),
    );
    let (s, b) = api(&srv, "89.160.20.112");
    assert_eq!(s, 200, "{b}");
    assert!(b.contains("\"outcome\":\"not-listed\""), "{b}");

    list(&srv, &tokens, 1);
    let (s, b) = api(&srv, "89.160.20.112");
    assert_eq!(s, 200, "{b}");
    assert!(b.contains("\"outcome\":\"removed\""), "first removal: {b}");
    assert!(
        eventually(Duration::from_secs(1), || !listed(&srv)),
        "gone from DNS within a second"
    );

    // Old evidence cannot relist it; new reports can.
    list(&srv, &tokens, 2);
    let (_, b) = api(&srv, "89.160.20.112");
    assert!(b.contains("\"outcome\":\"removed\""), "second removal: {b}");
    assert!(eventually(Duration::from_secs(1), || !listed(&srv)));

    list(&srv, &tokens, 3);
    let (s, b) = api(&srv, "89.160.20.112");
    assert_eq!(s, 202, "{b}");
    assert!(
        b.contains("\"outcome\":\"queued\""),
        "limit reached: review: {b}"
    );
    assert!(listed(&srv), "still listed while queued");

    // Approve and deny in the store (the admin tools call the same).
    let mut store = fadelist_store::Store::open(&srv.db).expect("store");
    let queue = store.review_queue().expect("queue");
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].email, "ops@example.net");
    let denied = store
        .decide(queue[0].id, false, "admin", &["iprbl.test".into()], now())
        .expect("decide");
    assert_eq!(denied.map(|d| d.removed), Some(vec![]));
    assert!(store.review_queue().expect("queue").is_empty());
    let log = store.audit_log(Some("89.160.20.112"), 20).expect("audit");
    assert!(log.iter().any(|e| e.action == "delist-denied"));
    assert_eq!(log.iter().filter(|e| e.action == "delisted").count(), 2);

    // Bad input.
    let (s, b) = api(&srv, "not a key");
    assert_eq!(s, 422, "{b}");
    let (s, _, b) = json_request(
        &srv,
        "/api/v1/delistings",
        r#"{"key":"89.160.20.112","email":"nope","explanation":"x"}"#,
    );
    assert_eq!(s, 422, "{b}");
    assert!(b.contains("e-mail"), "{b}");
    let (s, _, b) = json_request(&srv, "/api/v1/delistings", "{not json");
    assert_eq!(s, 422, "{b}");
}

#[test]
fn form_branches_and_escaping() {
    let srv = server(100);
    let tokens = (
        srv.add_reporter("a", false, &TRUSTED),
        srv.add_reporter("b", true, &TRUSTED),
    );
    list(&srv, &tokens, 1);
    let (s, _, page) = http_request(srv.http, "GET", "/delist?q=89.160.20.112", None, b"");
    assert_eq!(s, 200);
    assert!(
        page.contains("name=\"token\"") && page.contains("name=\"website\""),
        "{page}"
    );
    assert!(page.contains("value=\"89.160.20.112\""));

    let good = fadelist::delist::form_token(SECRET.as_bytes(), now() - 10);
    let fields = |token: &str, website: &str| {
        vec![
            ("key", "89.160.20.112".to_string()),
            ("email", "ops@example.net".to_string()),
            ("explanation", "cleaned <b>up</b>".to_string()),
            ("token", token.to_string()),
            ("website", website.to_string()),
        ]
    };
    let post = |f: Vec<(&str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form_post(&srv, &f)
    };
    // Too fast: a token issued just now.
    let fresh = fadelist::delist::form_token(SECRET.as_bytes(), now());
    let (s, _, b) = post(fields(&fresh, ""));
    assert_eq!(s, 422);
    assert!(b.contains("faster than a person"), "{b}");
    assert!(
        b.contains("cleaned &#60;b&#62;up&#60;/b&#62;") || b.contains("cleaned &lt;b&gt;up"),
        "kept, escaped: {b}"
    );
    // Expired.
    let old = fadelist::delist::form_token(SECRET.as_bytes(), now() - 7200);
    let (s, _, b) = post(fields(&old, ""));
    assert_eq!(s, 422);
    assert!(b.contains("expired"), "{b}");
    // Forged.
    let (s, _, b) = post(fields("123.abc", ""));
    assert_eq!(s, 422);
    assert!(b.contains("invalid"), "{b}");
    // Honeypot.
    let (s, _, _) = post(fields(&good, "http://spam.example"));
    assert_eq!(s, 422);
    assert!(listed(&srv), "nothing removed by refused forms");
    // The real thing.
    let (s, _, b) = post(fields(&good, ""));
    assert_eq!(s, 200, "{b}");
    assert!(b.contains("Removed"), "{b}");
    assert!(eventually(Duration::from_secs(1), || !listed(&srv)));
    let (_, _, page) = http_request(srv.http, "GET", "/lookup?q=89.160.20.112", None, b"");
    assert!(page.contains("Not listed"), "{page}");
}

#[test]
fn delisting_is_rate_limited_per_client() {
    let srv = server(2);
    for _ in 0..2 {
        assert_eq!(api(&srv, "89.160.20.112").0, 200);
    }
    let (s, head, b) = json_request(
        &srv,
        "/api/v1/delistings",
        r#"{"key":"89.160.20.112","email":"ops@example.net","explanation":"again"}"#,
    );
    assert_eq!(s, 429, "{b}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    let store = fadelist_store::Store::open(&srv.db).expect("store");
    assert_eq!(
        store
            .delist_requests_for("89.160.20.112", 100)
            .expect("requests")
            .len(),
        2,
        "the refused one is not recorded"
    );
}

#[test]
fn home_page_publishes_the_live_criteria() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.half_life = Duration::from_secs(3 * 3600);
        c.policy.min_reporters = 3;
        c.web.self_service_limit = 4;
    });
    let (s, _, page) = http_request(srv.http, "GET", "/", None, b"");
    assert_eq!(s, 200);
    for want in [
        "iprbl.test",
        "niprbl.test",
        "urirbl.test",
        "127.0.0.2 spam, 127.0.0.3 phishing, 127.0.0.4 malware",
        "half-life of 3 h",
        "at least 3 different reporters",
        "at once, 4 times within 30 days",
        "::ffff:7f00:2",
        "<label for=\"q\"",
        "lang=\"en\"",
    ] {
        assert!(page.contains(want), "{want:?} missing from the home page");
    }
}
