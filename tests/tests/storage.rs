//! End-to-end: storage bounds (`[store]` retention and `min_free_disk`).
//!
//! - Below the free-disk threshold every write (report, delisting request
//!   by API and form, admin change) is a 503 `disk_full` with
//!   `Retry-After`, and nothing is stored, while DNS, lookups and the
//!   status API answer as before.
//! - With retentions of a second, the pruning job empties what is past
//!   them on its own, and keeps what the lookup page of a key listed now
//!   shows; once the key is delisted, its evidence goes too.

use std::time::Duration;

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

const ADMIN: &str = "storage-admin-token";
const SECRET: &str = "storage-form-secret";

fn admin(srv: &TestServer, method: &str, path: &str, body: &str) -> Response {
    Request::new(srv.admin.expect("admin API on"), method, path)
        .bearer(ADMIN)
        .json(body)
        .send()
}

/// A 503 `disk_full` with `Retry-After`, JSON or an error page.
fn assert_disk_full(what: &str, r: &Response) {
    assert_eq!(r.status, 503, "{what}: {}", r.body);
    assert!(r.header("retry-after").is_some(), "{what}: {}", r.head);
    if r.header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        assert_eq!(r.json()["error"], "disk_full", "{what}: {}", r.body);
    } else {
        assert!(r.body.contains("disk space"), "{what}: {}", r.body);
    }
}

#[test]
fn below_the_free_disk_threshold_writes_get_503_and_reads_go_on() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        // More than any disk has free: the server believes its disk full.
        c.store.min_free_disk = "1000000TiB".parse().expect("size");
        c.admin.token = Some(ADMIN.into());
        c.web.form_secret = Some(SECRET.into());
        c.web.form_min_fill = Duration::from_secs(0);
        c.web.delist_per_minute = 100;
    });
    let token = srv.add_reporter("a", false, &FIXTURE_TRUSTED);

    let r = srv.post_report(Some(&token), "", &mail("spam-plain.eml"));
    assert_disk_full("report", &r);
    assert!(r.body.contains("retry later"), "{}", r.body);
    assert_disk_full("delisting API", &srv.delist(SPAM_PLAIN_SOURCE));
    // The form as a person fills it: its token taken from the page.
    let page = srv.get(&format!("/delist?q={SPAM_PLAIN_SOURCE}"));
    assert_eq!(page.status, 200, "{}", page.body);
    let token = page
        .body
        .split_once(r#"name="token" value=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(t, _)| t.to_string())
        .expect("a form token on the page");
    let form = Request::post(srv.http, "/delist")
        .form(&[
            ("key", SPAM_PLAIN_SOURCE),
            ("email", "ops@example.net"),
            ("explanation", "cleaned"),
            ("token", &token),
            ("website", ""),
        ])
        .send();
    assert_disk_full("delisting form", &form);
    let r = admin(
        &srv,
        "POST",
        "/admin/v1/neverlist",
        r#"{"entry":"89.160.20.0/24","reason":"partner"}"#,
    );
    assert_disk_full("admin never-list", &r);
    let r = admin(
        &srv,
        "POST",
        "/admin/v1/listings",
        r#"{"zone":"iprbl.test","key":"89.160.20.112","code":"127.0.0.2","reason":"x"}"#,
    );
    assert_disk_full("admin manual listing", &r);

    // Nothing was written.
    let store = fadelist_store::Store::open(&srv.db).expect("open");
    assert_eq!(store.report_count().expect("count"), 0);
    assert!(store.never_list().expect("never-list").is_empty());
    assert!(store.manual_listings().expect("manual").is_empty());

    // Reads go on: DNS, lookups, admin reads, the status API.
    assert_eq!(
        a_values(&ask(srv.dns, "2.0.0.127.iprbl.test", RecordType::A)),
        ["127.0.0.2"]
    );
    let r = srv.get(&format!("/api/v1/lookup/{SPAM_PLAIN_SOURCE}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = srv.get(&format!("/lookup?q={SPAM_PLAIN_SOURCE}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(admin(&srv, "GET", "/admin/v1/neverlist", "").status, 200);
    let status = srv.get("/api/v1/status").json();
    let disk = &status["store"]["disk"];
    assert_eq!(disk["writes_refused"], true, "{status}");
    assert_eq!(disk["min_free_bytes"].as_u64(), Some(1_000_000u64 << 40));
    assert!(
        disk["free_bytes"].as_u64().is_some_and(|f| f > 0),
        "{status}"
    );
}

/// One value of the database, read beside the server.
fn db_i64(srv: &TestServer, sql: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(&srv.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open");
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

/// The iprbl.test part of a JSON lookup.
fn iprbl(srv: &TestServer, key: &str) -> serde_json::Value {
    let r = srv.get(&format!("/api/v1/lookup/{key}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .find(|z| z["zone"] == "iprbl.test")
        .expect("iprbl.test")
        .clone()
}

#[test]
fn pruning_empties_what_is_past_retention_and_keeps_what_a_listing_shows() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.store.raw_retention = Duration::from_secs(1);
        c.store.report_retention = Duration::from_secs(1);
        c.store.history_retention = Duration::from_secs(1);
        c.store.audit_retention = Duration::from_secs(1);
        c.store.request_retention = Duration::from_secs(1);
        c.store.prune_interval = Duration::from_secs(1);
        c.store.prune_batch = 3;
        c.ingest.decay_interval = Duration::from_millis(100);
        c.ingest.rate_per_minute = 1000;
        c.web.delist_per_minute = 100;
        // Self-service removals stay immediate for this test.
        c.web.self_service_limit = 100;
    });
    let tokens = srv.two_reporters();
    // A key one reporter named: never listed.
    let r = srv.post_report(Some(&tokens[0]), "", &mail("charset-unknown.eml"));
    assert_eq!(r.status, 202, "{}", r.body);
    // A delisting request for a key that is not listed (decided at once).
    let r = srv.delist("81.2.69.142");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["outcome"], "not-listed");
    // A listed key (the last reports: the newest report is never pruned).
    srv.list_spam_plain(&tokens, "prune");
    assert_eq!(db_i64(&srv, "SELECT count(*) FROM reports"), 3);

    let pruned = |srv: &TestServer| {
        db_i64(srv, "SELECT count(*) FROM reports WHERE raw IS NOT NULL") == 0
            && db_i64(srv, "SELECT count(*) FROM reports") == 2
            && db_i64(srv, "SELECT count(*) FROM audit") == 0
            && db_i64(
                srv,
                "SELECT count(*) FROM delist_requests WHERE email <> ''",
            ) == 0
    };
    assert!(
        eventually(Duration::from_secs(10), || pruned(&srv)),
        "reports {}, raw samples {}, audit {}",
        db_i64(&srv, "SELECT count(*) FROM reports"),
        db_i64(&srv, "SELECT count(*) FROM reports WHERE raw IS NOT NULL"),
        db_i64(&srv, "SELECT count(*) FROM audit"),
    );
    // The unlisted key's report and evidence are gone, and the key with
    // them (its contribution has not decayed yet, so its listing row and
    // summaries stay until it has).
    assert_eq!(
        db_i64(
            &srv,
            "SELECT count(*) FROM evidence WHERE key = '81.2.69.142'"
        ),
        0
    );
    assert_eq!(
        db_i64(
            &srv,
            "SELECT count(*) FROM evidence WHERE zone = 'urirbl.test'"
        ),
        0,
        "the listed key's reports lose their other, unlisted keys"
    );
    let request = db_i64(
        &srv,
        "SELECT count(*) FROM delist_requests WHERE erased_at IS NOT NULL AND requester_ip = ''",
    );
    assert_eq!(request, 1, "the requester's data erased");

    // The listed key's page still shows its evidence and history.
    let z = iprbl(&srv, SPAM_PLAIN_SOURCE);
    assert_eq!(z["listed"], true);
    assert_eq!(z["evidence"].as_array().map(Vec::len), Some(2), "{z}");
    assert_eq!(z["listing_history"][0]["change"], "listed", "{z}");

    let status = srv.get("/api/v1/status").json();
    let last = &status["store"]["last_prune"];
    assert!(last["started_at"].as_i64().is_some(), "{status}");
    assert!(
        last["file"]["file_bytes"].as_u64().is_some_and(|b| b > 0),
        "{status}"
    );
    assert!(last["error"].is_null(), "{status}");

    // Delisted, the key keeps nothing past retention: its evidence goes,
    // and its reports but the newest.
    let r = srv.delist(SPAM_PLAIN_SOURCE);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["outcome"], "removed");
    assert!(
        eventually(Duration::from_secs(10), || {
            db_i64(&srv, "SELECT count(*) FROM evidence") == 0
                && db_i64(&srv, "SELECT count(*) FROM reports") == 1
        }),
        "evidence {}, reports {}",
        db_i64(&srv, "SELECT count(*) FROM evidence"),
        db_i64(&srv, "SELECT count(*) FROM reports"),
    );
    let z = iprbl(&srv, SPAM_PLAIN_SOURCE);
    assert_eq!(z["listed"], false);
    assert_eq!(z["evidence"].as_array().map(Vec::len), Some(0), "{z}");
    // DNS agrees.
    assert!(a_values(&ask(srv.dns, SPAM_PLAIN_NAME, RecordType::A)).is_empty());
}
