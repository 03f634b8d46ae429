//! End-to-end: self-service delisting through the JSON API and the form.

use std::time::Duration;

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

const SECRET: &str = "test-form-secret";

fn server(delist_per_minute: u32) -> TestServer {
    TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.web.form_secret = Some(SECRET.into());
        c.web.delist_per_minute = delist_per_minute;
    })
}

fn listed(srv: &TestServer) -> bool {
    !a_values(&ask(srv.dns, SPAM_PLAIN_NAME, RecordType::A)).is_empty()
}

#[test]
fn api_policy_branches() {
    let srv = server(100);
    let tokens = srv.two_reporters();
    let Response { status, body, .. } = srv.delist("89.160.20.112");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"outcome\":\"not-listed\""), "{body}");

    srv.list_spam_plain(&tokens, "r1");
    let Response { status, body, .. } = srv.delist("89.160.20.112");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"outcome\":\"removed\""),
        "first removal: {body}"
    );
    assert!(
        eventually(Duration::from_secs(1), || !listed(&srv)),
        "gone from DNS within a second"
    );

    // Old evidence cannot relist it; new reports can.
    srv.list_spam_plain(&tokens, "r2");
    let body = srv.delist("89.160.20.112").body;
    assert!(
        body.contains("\"outcome\":\"removed\""),
        "second removal: {body}"
    );
    assert!(eventually(Duration::from_secs(1), || !listed(&srv)));

    srv.list_spam_plain(&tokens, "r3");
    let Response { status, body, .. } = srv.delist("89.160.20.112");
    assert_eq!(status, 202, "{body}");
    assert!(
        body.contains("\"outcome\":\"queued\""),
        "limit reached: review: {body}"
    );
    assert!(listed(&srv), "still listed while queued");

    // Approve and deny in the store (the admin tools call the same).
    let mut store = fadelist_store::Store::open(&srv.db).expect("store");
    let queue = store.review_queue().expect("queue");
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].email, "ops@example.net");
    let denied = store
        .decide(
            queue[0].id,
            false,
            "admin",
            &["iprbl.test".into()],
            unix_now(),
        )
        .expect("decide");
    assert_eq!(denied.map(|d| d.removed), Some(vec![]));
    assert!(store.review_queue().expect("queue").is_empty());
    let log = store.audit_log(Some("89.160.20.112"), 20).expect("audit");
    assert!(log.iter().any(|e| e.action == "delist-denied"));
    assert_eq!(log.iter().filter(|e| e.action == "delisted").count(), 2);

    // Bad input.
    let Response { status, body, .. } = srv.delist("not a key");
    assert_eq!(status, 422, "{body}");
    let Response { status, body, .. } = srv.post_json(
        "/api/v1/delistings",
        r#"{"key":"89.160.20.112","email":"nope","explanation":"x"}"#,
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("e-mail"), "{body}");
    let Response { status, body, .. } = srv.post_json("/api/v1/delistings", "{not json");
    assert_eq!(status, 422, "{body}");
}

#[test]
fn form_branches_and_escaping() {
    let srv = server(100);
    let tokens = srv.two_reporters();
    srv.list_spam_plain(&tokens, "r1");
    let Response {
        status, body: page, ..
    } = srv.get("/delist?q=89.160.20.112");
    assert_eq!(status, 200);
    assert!(
        page.contains("name=\"token\"") && page.contains("name=\"website\""),
        "{page}"
    );
    assert!(page.contains("value=\"89.160.20.112\""));

    let good = fadelist::delist::form_token(SECRET.as_bytes(), unix_now() - 10, "89.160.20.112");
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
        Request::post(srv.http, "/delist").form(&f).send()
    };
    // Too fast: a token issued just now.
    let fresh = fadelist::delist::form_token(SECRET.as_bytes(), unix_now(), "89.160.20.112");
    let Response { status, body, .. } = post(fields(&fresh, ""));
    assert_eq!(status, 422);
    assert!(body.contains("faster than a person"), "{body}");
    assert!(
        body.contains("cleaned &#60;b&#62;up&#60;/b&#62;") || body.contains("cleaned &lt;b&gt;up"),
        "kept, escaped: {body}"
    );
    // Expired.
    let old = fadelist::delist::form_token(SECRET.as_bytes(), unix_now() - 7200, "89.160.20.112");
    let Response { status, body, .. } = post(fields(&old, ""));
    assert_eq!(status, 422);
    assert!(body.contains("expired"), "{body}");
    // Forged.
    let Response { status, body, .. } = post(fields("123.abc", ""));
    assert_eq!(status, 422);
    assert!(body.contains("invalid"), "{body}");
    // Honeypot.
    assert_eq!(post(fields(&good, "http://spam.example")).status, 422);
    assert!(listed(&srv), "nothing removed by refused forms");
    // The real thing.
    let Response { status, body, .. } = post(fields(&good, ""));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Removed"), "{body}");
    assert!(eventually(Duration::from_secs(1), || !listed(&srv)));
    let page = srv.get("/lookup?q=89.160.20.112").body;
    assert!(page.contains("Not listed"), "{page}");
}

#[test]
fn delisting_is_rate_limited_per_client() {
    let srv = server(2);
    for _ in 0..2 {
        assert_eq!(srv.delist("89.160.20.112").status, 200);
    }
    let Response { status, head, body } = srv.post_json(
        "/api/v1/delistings",
        r#"{"key":"89.160.20.112","email":"ops@example.net","explanation":"again"}"#,
    );
    assert_eq!(status, 429, "{body}");
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
    let Response {
        status, body: page, ..
    } = srv.get("/");
    assert_eq!(status, 200);
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
