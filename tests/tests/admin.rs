//! End-to-end: the admin API (token, loopback) drives DNS within a second.

use std::time::Duration;

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

const TOKEN: &str = "admin-test-token";

fn server() -> TestServer {
    TestServer::start_with(&[], &[], |c| {
        c.admin.token = Some(TOKEN.into());
        c.ingest.decay_interval = Duration::from_millis(100);
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
    })
}

/// An admin API request with the right token (always with a JSON body,
/// empty or not).
fn admin(srv: &TestServer, method: &str, path: &str, body: &str) -> (u16, String) {
    let addr = srv.admin.expect("admin API on");
    let r = Request::new(addr, method, path)
        .bearer(TOKEN)
        .json(body)
        .send();
    (r.status, r.body)
}

fn answer(srv: &TestServer, name: &str) -> (Vec<String>, Vec<String>) {
    (
        a_values(&ask(srv.dns, name, RecordType::A)),
        txt_values(&ask(srv.dns, name, RecordType::TXT)),
    )
}

#[test]
fn manual_listing_removal_and_expiry() {
    let srv = server();
    let name = "9.2.0.198.iprbl.test"; // 198.0.2.9: a public address
    let (s, b) = admin(
        &srv,
        "POST",
        "/admin/v1/listings",
        r#"{"key":"198.0.2.9","zone":"iprbl.test","code":"127.0.0.4","reason":"botnet controller"}"#,
    );
    assert_eq!(s, 201, "{b}");
    assert!(
        eventually(Duration::from_secs(1), || answer(&srv, name).0
            == vec!["127.0.0.4"]),
        "in DNS within a second"
    );
    let txt = answer(&srv, name).1.join(" ");
    assert!(
        txt.contains("botnet controller") && txt.contains("/lookup?q=198.0.2.9"),
        "{txt}"
    );
    let page = srv.get("/lookup?q=198.0.2.9").body;
    assert!(
        page.contains("botnet controller"),
        "the lookup page shows the reason"
    );
    let (s, b) = admin(&srv, "GET", "/admin/v1/listings", "");
    assert_eq!(s, 200);
    assert!(b.contains("198.0.2.9"), "{b}");

    let listing = "/admin/v1/listings/iprbl.test/198.0.2.9";
    let (s, b) = admin(&srv, "DELETE", listing, "");
    assert_eq!(s, 200, "{b}");
    assert!(
        eventually(Duration::from_secs(1), || answer(&srv, name).0.is_empty()),
        "removed from DNS within a second"
    );
    let (s, _) = admin(&srv, "DELETE", listing, "");
    assert_eq!(s, 404, "nothing left to remove");

    // With an expiry: gone by itself.
    let (s, b) = admin(
        &srv,
        "POST",
        "/admin/v1/listings",
        r#"{"key":"spam-domain.top","zone":"urirbl.test","reason":"seen in a campaign","expires_in":"1s"}"#,
    );
    assert_eq!(s, 201, "{b}");
    assert!(eventually(Duration::from_secs(1), || !answer(
        &srv,
        "spam-domain.top.urirbl.test"
    )
    .0
    .is_empty()));
    assert!(
        eventually(Duration::from_secs(10), || answer(
            &srv,
            "spam-domain.top.urirbl.test"
        )
        .0
        .is_empty()),
        "expired"
    );

    // Bad input.
    for body in [
        r#"{"key":"198.0.2.9","zone":"nosuch.test","reason":"x"}"#,
        r#"{"key":"nonsense!","zone":"iprbl.test","reason":"x"}"#,
        r#"{"key":"198.0.2.9","zone":"iprbl.test","code":"10.0.0.1","reason":"x"}"#,
        r#"{"key":"198.0.2.9","zone":"iprbl.test","reason":""}"#,
        r#"{"key":"198.0.2.9","zone":"iprbl.test","reason":"x","expires_in":"soon"}"#,
    ] {
        let (s, b) = admin(&srv, "POST", "/admin/v1/listings", body);
        assert_eq!(s, 422, "{body}: {b}");
    }
    // What may never be listed is refused outright (see attack_reporters.rs
    // for special-purpose IPv6).
    let (s, b) = admin(
        &srv,
        "POST",
        "/admin/v1/listings",
        r#"{"key":"10.0.0.1","zone":"iprbl.test","reason":"x"}"#,
    );
    assert_eq!(s, 400, "{b}");
    // The audit log has it all, filterable.
    let (s, b) = admin(&srv, "GET", "/admin/v1/audit?key=198.0.2.9", "");
    assert_eq!(s, 200);
    assert!(
        b.contains("manual-list") && b.contains("removed by admin"),
        "{b}"
    );
    let (_, b) = admin(
        &srv,
        "GET",
        "/admin/v1/audit?action=manual-list&limit=1",
        "",
    );
    assert_eq!(b.matches("\"action\"").count(), 1, "{b}");
}

#[test]
fn token_is_required_and_the_api_is_off_without_one() {
    let srv = server();
    let addr = srv.admin.expect("admin API on");
    let r = Request::get(addr, "/admin/v1/review").json("").send();
    assert_eq!(r.status, 401, "{}", r.body);
    let r = Request::get(addr, "/admin/v1/review")
        .bearer("wrong")
        .json("")
        .send();
    assert_eq!(r.status, 401);
    let plain = TestServer::start(&[], &[]);
    assert!(plain.admin.is_none(), "no token, no admin API");
}

#[test]
fn review_queue_never_list_and_reporters() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.admin.token = Some(TOKEN.into());
        c.web.self_service_limit = 0; // every request goes to review
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
    });
    let a = srv.add_reporter("a", false, &["81.2.69.160/27"]);
    let b = srv.add_reporter("b", false, &["81.2.69.160/27"]);
    for t in [&a, &b] {
        assert_eq!(
            srv.post_report(Some(t), "", &mail("spam-plain.eml")).status,
            202
        );
    }
    let name = "112.20.160.89.iprbl.test";
    assert!(!answer(&srv, name).0.is_empty());
    let body = r#"{"key":"89.160.20.112","email":"ops@example.net","explanation":"fixed"}"#;
    let r = srv.post_json("/api/v1/delistings", body);
    assert_eq!(r.status, 202, "{}", r.body);
    let (_, q) = admin(&srv, "GET", "/admin/v1/review", "");
    let id: i64 = q
        .split("\"id\":")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("a queued request");
    let (s, b) = admin(&srv, "POST", &format!("/admin/v1/review/{id}/approve"), "");
    assert_eq!(s, 200, "{b}");
    assert!(
        eventually(Duration::from_secs(1), || answer(&srv, name).0.is_empty()),
        "approved: gone from DNS"
    );
    let (s, _) = admin(&srv, "POST", &format!("/admin/v1/review/{id}/deny"), "");
    assert_eq!(s, 404, "decided once");

    let (s, b) = admin(
        &srv,
        "POST",
        "/admin/v1/neverlist",
        r#"{"entry":"89.160.20.0/24","reason":"partner"}"#,
    );
    assert_eq!(s, 201, "{b}");
    let (_, b) = admin(&srv, "GET", "/admin/v1/neverlist", "");
    assert!(b.contains("89.160.20.0/24"), "{b}");
    let (s, _) = admin(&srv, "DELETE", "/admin/v1/neverlist/89.160.20.0%2F24", "");
    assert_eq!(s, 200);
    let (s, b) = admin(&srv, "POST", "/admin/v1/reporters/a/suspend", "");
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        srv.post_report(Some(&a), "", &mail("spam-plain.eml"))
            .status,
        403
    );
    let (_, b) = admin(&srv, "GET", "/admin/v1/reporters", "");
    assert!(b.contains("\"suspended\":true"), "{b}");
    assert!(!b.contains("token"), "tokens never leave the store: {b}");
}
