//! End-to-end: the write side and the read side of the listings service.
//!
//! - Every kind of listing change is shown from typed history: the page and
//!   the JSON keep saying what happened after every stored message has
//!   been reworded (nothing parses log text any more).
//! - A store that cannot be used answers 503 everywhere, with a generic
//!   message (JSON for the API, an error page for pages), while DNS keeps
//!   serving; it recovers when the store does.
//! - Reads never wait for writes: lookups answer while a report is held
//!   up on SQLite's write lock.

use std::time::Duration;

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

const IP: &str = SPAM_PLAIN_SOURCE;
const ADMIN: &str = "write-side-admin-token";
const SECRET: &str = "write-side-form-secret";

fn listed(srv: &TestServer) -> bool {
    !a_values(&ask(srv.dns, SPAM_PLAIN_NAME, RecordType::A)).is_empty()
}

fn admin(srv: &TestServer, method: &str, path: &str) -> Response {
    Request::new(srv.admin.expect("admin API on"), method, path)
        .bearer(ADMIN)
        .json("")
        .send()
}

/// The `listing_history` kinds of iprbl.test in the JSON lookup.
fn history_kinds(srv: &TestServer) -> Vec<String> {
    let r = srv.get(&format!("/api/v1/lookup/{IP}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let zone = v["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .find(|z| z["zone"] == "iprbl.test")
        .expect("iprbl.test")
        .clone();
    zone["listing_history"]
        .as_array()
        .expect("listing_history")
        .iter()
        .map(|c| c["change"].as_str().expect("change").to_string())
        .collect()
}

#[test]
fn every_kind_of_change_is_shown_from_typed_history_whatever_the_wording() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        // Short enough to watch the last listing decay, long enough that
        // no listing decays before the removal that follows it.
        c.policy.half_life = Duration::from_secs(2);
        c.policy.min_listing = Duration::from_secs(1);
        c.policy.max_listing = Duration::from_secs(2);
        c.ingest.decay_interval = Duration::from_millis(100);
        c.ingest.rate_per_minute = 1000;
        c.web.self_service_limit = 1;
        c.web.delist_per_minute = 100;
        c.admin.token = Some(ADMIN.into());
    });
    let tokens = srv.two_reporters();

    // 1. Listed, removed by self-service.
    srv.list_spam_plain(&tokens, "ws-1");
    let r = srv.delist(IP);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["outcome"], "removed");
    assert!(!listed(&srv));
    // 2. Relisted; the second request in the window waits for review, and
    //    the operator approves it.
    srv.list_spam_plain(&tokens, "ws-2");
    let r = srv.delist(IP);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["request_id"].as_i64().expect("request id");
    let r = admin(&srv, "POST", &format!("/admin/v1/review/{id}/approve"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!listed(&srv));
    // 3. Relisted, removed by the operator.
    srv.list_spam_plain(&tokens, "ws-3");
    let r = admin(
        &srv,
        "DELETE",
        &format!("/admin/v1/listings/iprbl.test/{IP}"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!listed(&srv));
    // 4. Relisted, and left to decay.
    srv.list_spam_plain(&tokens, "ws-4");
    assert!(
        eventually(Duration::from_secs(30), || !listed(&srv)),
        "the last listing decays by itself"
    );

    let expected = [
        "listed",
        "removed-self-service",
        "relisted",
        "removed-review",
        "relisted",
        "removed-operator",
        "relisted",
        "expired",
    ];
    assert_eq!(history_kinds(&srv), expected);

    // Reword every stored message: the audit log and the events' own
    // reasons and actors. What the page says must not change.
    let db = rusqlite::Connection::open(&srv.db).expect("open");
    db.execute_batch(
        "UPDATE audit SET reason = 'reworded ' || id;
         UPDATE listing_events SET reason = 'reworded', actor = 'someone else';
         UPDATE reports SET outcome = '{}';",
    )
    .expect("reword");
    drop(db);
    assert_eq!(history_kinds(&srv), expected, "read from typed rows");

    let page = srv.get(&format!("/lookup?q={IP}"));
    assert_eq!(page.status, 200);
    for words in [
        "expired: the score decayed below the delisting threshold",
        "Removed by self-service delisting on",
        "Removed after review of a delisting request on",
        "Removed by the operator on",
        "Listed again (a repeat offender) on",
    ] {
        assert!(page.body.contains(words), "{words:?} in {}", page.body);
    }
    // The evidence table still names each report's source: it comes from
    // the report's columns, not from the stored answer JSON (now `{}`).
    assert!(page.body.contains("112 (Received hop 2)"), "{}", page.body);
}

/// A configuration with the admin API and a known form secret.
fn outage_server() -> TestServer {
    TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.admin.token = Some(ADMIN.into());
        c.web.form_secret = Some(SECRET.into());
        c.web.form_min_fill = Duration::from_secs(0);
        c.web.delist_per_minute = 100;
    })
}

/// A 503 that says no more than "the database is unavailable".
fn assert_unavailable(what: &str, r: &Response) {
    assert_eq!(r.status, 503, "{what}: {}", r.body);
    for leak in [
        "sqlite",
        "SQLite",
        "locked",
        "unable to open",
        ".sqlite",
        "/tmp",
    ] {
        assert!(!r.body.contains(leak), "{what} leaks {leak:?}: {}", r.body);
    }
}

#[test]
fn a_store_outage_is_503_everywhere_and_dns_keeps_serving() {
    let srv = outage_server();
    let token = srv.add_reporter("a", false, &FIXTURE_TRUSTED);
    // Another process takes SQLite's write lock (the writer's statements
    // wait for it, then fail), and the database file disappears from its
    // path (new read-only connections cannot open it). No read ran
    // before, so the server holds no open read connection.
    let lock = rusqlite::Connection::open(&srv.db).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let moved = srv.db.with_extension("moved");
    std::fs::rename(&srv.db, &moved).expect("move the database away");

    let r = srv.get(&format!("/api/v1/lookup/{IP}"));
    assert_unavailable("JSON lookup", &r);
    assert_eq!(r.json()["error"], "store_unavailable");
    assert!(r.header("retry-after").is_some(), "{}", r.head);
    let r = srv.get(&format!("/lookup?q={IP}"));
    assert_unavailable("lookup page", &r);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{}",
        r.head
    );
    assert!(
        r.body.contains("<h1>") && r.body.contains("retry later"),
        "{}",
        r.body
    );
    let r = srv.post_report(Some(&token), "", &mail("spam-plain.eml"));
    assert_unavailable("report", &r);
    assert_eq!(r.json()["error"], "store_unavailable");
    let r = admin(&srv, "GET", "/admin/v1/listings");
    assert_unavailable("admin listings", &r);
    // Writes wait for the lock (busy timeout), then give up: both at once.
    let form_token = fadelist::delist::form_token(SECRET.as_bytes(), unix_now() - 10, IP);
    let (api, form) = std::thread::scope(|s| {
        let api = s.spawn(|| srv.delist(IP));
        let form = s.spawn(|| {
            Request::post(srv.http, "/delist")
                .form(&[
                    ("key", IP),
                    ("email", "ops@example.net"),
                    ("explanation", "cleaned"),
                    ("token", &form_token),
                    ("website", ""),
                ])
                .send()
        });
        (api.join().expect("api"), form.join().expect("form"))
    });
    assert_unavailable("delisting API", &api);
    assert_eq!(api.json()["error"], "store_unavailable");
    assert_unavailable("delisting form", &form);
    assert!(form.body.contains("<h1>"), "an error page: {}", form.body);

    // DNS answers from memory all along.
    assert_eq!(
        a_values(&ask(srv.dns, "2.0.0.127.iprbl.test", RecordType::A)),
        ["127.0.0.2"]
    );
    assert_eq!(srv.get("/healthz").status, 200);

    // The store comes back: so does everything else.
    std::fs::rename(&moved, &srv.db).expect("move the database back");
    lock.execute_batch("COMMIT").expect("unlock");
    drop(lock);
    let r = srv.get(&format!("/api/v1/lookup/{IP}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = srv.delist(IP);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["outcome"], "not-listed");
    let r = srv.post_report(Some(&token), "", &mail("spam-plain.eml"));
    assert_eq!(r.status, 202, "{}", r.body);
}

#[test]
fn lookups_answer_while_a_report_waits_for_the_writer() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.ingest.rate_per_minute = 1000;
        c.admin.token = Some(ADMIN.into());
    });
    let tokens = srv.two_reporters();
    srv.list_spam_plain(&tokens, "ws-1");
    let pending = |srv: &TestServer| {
        srv.get("/api/v1/status").json()["store"]["pending_writes"]
            .as_u64()
            .expect("pending_writes")
    };
    assert_eq!(pending(&srv), 0);

    let lock = rusqlite::Connection::open(&srv.db).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let r = srv.post_report(
                Some(&tokens[0]),
                "",
                &mail_with_id("spam-plain.eml", "ws-held"),
            );
            tx.send(r).expect("send");
        });
        // The report is now with the writer, held by the lock.
        assert!(
            eventually(Duration::from_secs(4), || pending(&srv) == 1),
            "the report reaches the writer: {} {:?}",
            srv.get("/api/v1/status").body,
            rx.try_recv().map(|r| (r.status, r.body))
        );
        // Reads do not queue behind it.
        let r = srv.get(&format!("/api/v1/lookup/{IP}"));
        assert_eq!(r.status, 200, "{}", r.body);
        let page = srv.get(&format!("/lookup?q={IP}"));
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Listed"), "{}", page.body);
        let r = admin(&srv, "GET", "/admin/v1/reporters");
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            rx.try_recv().is_err(),
            "the report was still waiting while every read answered"
        );
        assert_eq!(pending(&srv), 1);
        lock.execute_batch("COMMIT").expect("unlock");
        let r = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the held report completes");
        assert_eq!(r.status, 202, "{}", r.body);
    });
    assert_eq!(pending(&srv), 0);
    let r = srv.get(&format!("/api/v1/lookup/{IP}"));
    let reports = r.json()["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .find(|z| z["zone"] == "iprbl.test")
        .map(|z| z["reports"].as_i64())
        .expect("iprbl.test");
    assert_eq!(
        reports,
        Some(3),
        "the held report counted once it committed"
    );
}
