//! End-to-end: reports posted over HTTP list and delist keys seen over DNS.

use std::time::Duration;

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

/// The fixtures' reporter networks (see tests/data/mail/README.md).
const TRUSTED: [&str; 2] = ["81.2.69.160/27", "2a02:1810:4d02::/48"];

/// A server with a seconds-long policy so decay can be watched.
fn server() -> TestServer {
    TestServer::start_with(&[], &[], |c| {
        c.policy.half_life = Duration::from_secs(2);
        c.policy.min_listing = Duration::from_secs(1);
        c.policy.max_listing = Duration::from_secs(8);
        // The fixtures are dated 2026; accept them whatever today is.
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        // These tests list what one fixture mail advertises, reported by two
        // reporters: one source network. The joe-job rule (content keys
        // need three) has its own tests in attack_reports.rs.
        c.policy.content_min_source_networks = 1;
        c.ingest.decay_interval = Duration::from_millis(100);
        c.ingest.max_message_bytes = 256 * 1024;
        c.ingest.rate_per_minute = 1000;
    })
}

fn listed(srv: &TestServer, name: &str) -> bool {
    ask(srv.dns, name, RecordType::A).metadata.response_code == Rcode::NoError
        && !a_values(&ask(srv.dns, name, RecordType::A)).is_empty()
}

fn json(body: &str) -> String {
    body.replace(' ', "")
}

#[test]
fn two_reporters_list_within_a_second_and_decay_delists() {
    let srv = server();
    let alice = srv.add_reporter("alice", false, &TRUSTED);
    let trap = srv.add_reporter("trap", true, &TRUSTED);
    let src = "112.20.160.89.iprbl.test";
    let dom = "cheap-meds-online.top.urirbl.test";

    let Response { status, body, .. } = srv.post_report(Some(&alice), "", &mail("spam-plain.eml"));
    assert_eq!(status, 202, "{body}");
    let b = json(&body);
    assert!(b.contains("\"ip\":\"89.160.20.112\""), "{body}");
    assert!(b.contains("\"received_hop\":2"), "{body}");
    assert!(b.contains("\"listed\":false"), "{body}");
    assert!(!listed(&srv, src), "one reporter does not list");

    let Response { status, body, .. } = srv.post_report(Some(&trap), "", &mail("spam-plain.eml"));
    assert_eq!(status, 202, "{body}");
    assert!(json(&body).contains("\"newly_listed\":true"), "{body}");
    // Visible in DNS within a second of the 202.
    assert!(
        eventually(Duration::from_secs(1), || listed(&srv, src)),
        "listing in DNS"
    );
    let r = ask(srv.dns, src, RecordType::TXT);
    let txt = txt_values(&r).join(" ");
    assert!(
        txt.contains("89.160.20.112")
            && txt.contains("/lookup?q=89.160.20.112")
            && txt.contains("spam"),
        "{txt}"
    );
    assert!(
        listed(&srv, dom),
        "the advertised domain is listed in urirbl"
    );
    assert!(listed(&srv, &format!("www.{dom}")), "and its subdomains");
    assert!(!listed(&srv, "112.20.160.89.niprbl.test"), "not bulk");

    // Half-life 2 s: 2.0 decays below 0.5 after 4 s; the timer delists.
    assert!(
        eventually(Duration::from_secs(20), || !listed(&srv, src)),
        "decayed off the list"
    );
    let r = ask(srv.dns, src, RecordType::A);
    assert_eq!(r.metadata.response_code, Rcode::NXDomain);
    assert!(eventually(Duration::from_secs(5), || !listed(&srv, dom)));
}

#[test]
fn one_reporter_alone_never_lists() {
    let srv = server();
    let alice = srv.add_reporter("alice", false, &TRUSTED);
    for i in 0..8 {
        let Response { status, body, .. } = srv.post_report(
            Some(&alice),
            "",
            &mail_with_id("spam-plain.eml", &format!("m{i}")),
        );
        assert_eq!(status, 202, "{body}");
        assert!(json(&body).contains("\"listed\":false"), "{body}");
    }
    assert!(!listed(&srv, "112.20.160.89.iprbl.test"));
    assert!(!listed(&srv, "cheap-meds-online.top.urirbl.test"));
}

#[test]
fn duplicates_count_once() {
    let srv = server();
    let alice = srv.add_reporter("alice", false, &TRUSTED);
    let first = srv.post_report(Some(&alice), "", &mail("spam-plain.eml"));
    assert_eq!(first.status, 202);
    let again = srv.post_report(Some(&alice), "", &mail("spam-plain.eml"));
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(
        json(&again.body).contains("\"duplicate\":true"),
        "{}",
        again.body
    );
    // Forwarded as an attachment: the same message, so the same report.
    let fwd = srv.post_report(Some(&alice), "", &mail("forwarded-attachment.eml"));
    assert_eq!(fwd.status, 200, "{}", fwd.body);
    let id = |b: &str| {
        json(b)
            .split("\"report_id\":")
            .nth(1)
            .and_then(|r| r.split([',', '}']).next())
            .map(str::to_string)
    };
    assert_eq!(id(&first.body), id(&again.body));
    let store = fadelist_store::Store::open(&srv.db).expect("store");
    assert_eq!(store.report_count().expect("count"), 1);
}

#[test]
fn special_purpose_sources_are_never_listed() {
    let srv = server();
    let a = srv.add_reporter("a", false, &TRUSTED);
    let b = srv.add_reporter("b", true, &TRUSTED);
    for t in [&a, &b] {
        let Response { status, body, .. } =
            srv.post_report(Some(t), "", &mail("private-only-chain.eml"));
        assert_eq!(status, 202, "{body}");
        assert!(
            body.contains("no source IP") && body.contains("special-purpose"),
            "{body}"
        );
        // Tags and sentences, not Rust's debug text.
        assert!(
            json(&body).contains("\"verdict\":\"special-purpose\""),
            "{body}"
        );
        assert!(!body.contains("SpecialPurpose("), "{body}");
    }
    for ip in ["1.4.0.10", "77.1.168.192", "1.0.0.127"] {
        assert!(!listed(&srv, &format!("{ip}.iprbl.test")), "{ip}");
    }
    // The domain in the body is still corroborated.
    assert!(listed(&srv, "docs-portal-scan.site.urirbl.test"));
    // A never-listed domain is skipped with a reason.
    let body = srv
        .post_report(Some(&a), "", &mail("html-obfuscated.eml"))
        .body;
    assert!(body.contains("google.com"), "{body}");
    assert!(!listed(&srv, "google.com.urirbl.test"));
}

#[test]
fn bulk_mail_goes_to_niprbl_and_arf_is_understood() {
    let srv = server();
    let a = srv.add_reporter("a", false, &TRUSTED);
    let b = srv.add_reporter("b", false, &TRUSTED);
    for t in [&a, &b] {
        let Response { status, body, .. } =
            srv.post_report(Some(t), "", &mail("newsletter-one-click.eml"));
        assert_eq!(status, 202, "{body}");
        assert!(json(&body).contains("\"is_bulk\":true"), "{body}");
    }
    assert!(listed(&srv, "10.199.16.175.niprbl.test"));
    assert!(
        !listed(&srv, "10.199.16.175.iprbl.test"),
        "bulk sources stay out of iprbl"
    );
    assert!(
        listed(&srv, "gadget-deals-weekly.store.urirbl.test"),
        "domains still go to urirbl"
    );
    for t in [&a, &b] {
        let Response { status, body, .. } =
            srv.post_report(Some(t), "?category=phishing", &mail("arf-abuse.eml"));
        assert_eq!(status, 202, "{body}");
        assert!(
            json(&body).contains("\"feedback_type\":\"abuse\""),
            "{body}"
        );
    }
    let r = ask(srv.dns, "56.83.160.216.iprbl.test", RecordType::A);
    assert_eq!(a_values(&r), vec!["127.0.0.3"], "phishing return code");
}

#[test]
fn bad_requests_get_clear_json_errors() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.ingest.max_message_bytes = 64 * 1024;
        c.ingest.rate_per_minute = 3;
    });
    let alice = srv.add_reporter("alice", false, &TRUSTED);
    let bob = srv.add_reporter("bob", false, &TRUSTED);
    srv.suspend("bob");
    let msg = mail("spam-plain.eml");
    let check = |r: &Response, want: u16, code: &str| {
        let body = &r.body;
        assert_eq!(r.status, want, "{body}");
        assert!(
            json(body).contains(&format!("\"error\":\"{code}\"")),
            "{body}"
        );
    };
    check(&srv.post_report(None, "", &msg), 401, "unauthorized");
    check(
        &srv.post_report(Some("not-a-token"), "", &msg),
        401,
        "unauthorized",
    );
    check(&srv.post_report(Some(&bob), "", &msg), 403, "suspended");
    check(
        &srv.post_report(Some(&alice), "?category=ham", &msg),
        422,
        "bad_category",
    );
    let big = vec![b'x'; 100 * 1024];
    check(&srv.post_report(Some(&alice), "", &big), 413, "too_large");
    // Alice's third request this minute is accepted; the fourth is over
    // the limit (3 a minute).
    let Response { status, body, .. } = srv.post_report(Some(&alice), "", &msg);
    assert_eq!(status, 202, "{body}");
    let r = srv.post_report(Some(&alice), "", &mail_with_id("spam-plain.eml", "other"));
    check(&r, 429, "rate_limited");
    let head = &r.head;
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    let store = fadelist_store::Store::open(&srv.db).expect("store");
    assert_eq!(
        store.report_count().expect("count"),
        1,
        "nothing written by refused requests"
    );
}

#[test]
fn empty_and_garbage_bodies_are_refused() {
    let srv = server();
    let alice = srv.add_reporter("alice", false, &TRUSTED);
    let Response { status, body, .. } = srv.post_report(Some(&alice), "", b"");
    assert_eq!(status, 422, "{body}");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let Response { status, body, .. } = srv.post_report(Some(&alice), "", &garbage);
    assert!(
        status == 422 || status == 202,
        "garbage is refused or yields nothing listable: {status} {body}"
    );
    // The server still serves.
    assert_eq!(
        a_values(&ask(srv.dns, "2.0.0.127.iprbl.test", RecordType::A)),
        vec!["127.0.0.2"]
    );
}

#[test]
fn never_list_entries_are_respected() {
    let srv = server();
    {
        let mut store = fadelist_store::Store::open(&srv.db).expect("store");
        store
            .never_list_add("89.160.20.0/24", "a partner's network", 0)
            .expect("add");
        store
            .never_list_add("cheap-meds-online.top", "test", 0)
            .expect("add");
    }
    let a = srv.add_reporter("a", false, &TRUSTED);
    let b = srv.add_reporter("b", true, &TRUSTED);
    for t in [&a, &b] {
        let Response { status, body, .. } = srv.post_report(Some(t), "", &mail("spam-plain.eml"));
        assert_eq!(status, 202, "{body}");
        assert!(body.contains("a partner's network"), "{body}");
    }
    assert!(!listed(&srv, "112.20.160.89.iprbl.test"));
    assert!(!listed(&srv, "cheap-meds-online.top.urirbl.test"));
    assert!(
        listed(&srv, "rx-discount-store.shop.urirbl.test"),
        "other domains still list"
    );
}

#[test]
fn lookup_explains_a_listing_and_escapes_user_text() {
    let srv = server();
    let a = srv.add_reporter("a", false, &TRUSTED);
    let b = srv.add_reporter("b", true, &TRUSTED);
    let text = String::from_utf8_lossy(&mail("spam-plain.eml")).into_owned();
    let hostile = text.replace(
        "Subject: Your discount is waiting",
        "Subject: <script>alert(1)</script> for trap@reporter.example",
    );
    assert_ne!(hostile, text, "the fixture's subject line was replaced");
    for t in [&a, &b] {
        let Response { status, body, .. } = srv.post_report(Some(t), "", hostile.as_bytes());
        assert_eq!(status, 202, "{body}");
    }
    let Response { status, body, .. } = srv.get("/api/v1/lookup/89.160.20.112");
    assert_eq!(status, 200, "{body}");
    let j = json(&body);
    for want in [
        "\"zone\":\"iprbl.test\",\"feed\":\"Ip\"",
        "\"listed\":true",
        "\"return_codes\":[\"127.0.0.2\"]",
        "\"reports\":2",
        "\"reporters\":2",
        "\"source\":\"89.160.20.112(Receivedhop2)\"",
    ] {
        assert!(j.contains(want), "{want} in {body}");
    }
    assert!(
        !j.contains("\"expires_at\":null,\"reports\":2"),
        "listed keys have a projected expiry: {body}"
    );
    assert!(
        !body.contains("trap@reporter.example"),
        "addresses are redacted: {body}"
    );
    assert!(
        !body.contains("\"a\"") && !body.contains("\"b\""),
        "reporter identities never shown"
    );

    let Response {
        status, body: page, ..
    } = srv.get("/lookup?q=89.160.20.112");
    assert_eq!(status, 200);
    assert!(page.contains("Listed."), "{page}");
    assert!(page.contains("<svg"), "score chart");
    assert!(!page.contains("<script>"), "user text is escaped");
    assert!(
        page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"),
        "{page}"
    );
    assert!(!page.contains("trap@reporter.example"));

    // A domain: the registered domain is looked up.
    let body = srv.get("/api/v1/lookup/www.cheap-meds-online.top").body;
    assert!(
        json(&body).contains("\"key\":\"cheap-meds-online.top\""),
        "{body}"
    );
    assert!(json(&body).contains("\"listed\":true"), "{body}");
    // Never-listable keys say why; bad input gets a helpful 400.
    let body = srv.get("/api/v1/lookup/10.1.2.3").body;
    assert!(body.contains("special-purpose"), "{body}");
    let body = srv.get("/api/v1/lookup/gmail.com").body;
    assert!(body.contains("never listed"), "{body}");
    let Response { status, body, .. } = srv.get("/api/v1/lookup/not%20a%20thing");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("neither an IP address nor a domain"),
        "{body}"
    );
    let Response {
        status, body: page, ..
    } = srv.get("/lookup?q=%3Cb%3E");
    assert_eq!(status, 400);
    assert!(!page.contains("<b>"), "{page}");
}

/// Concurrent reports about many sources: every listing a 202 announces is
/// already in DNS when the 202 arrives, whatever order the requests
/// committed in. (A benchmark once found a slower request's stale "not
/// listed" outcome undoing a newer listing; listings are now published from
/// the store thread, in commit order.)
#[test]
fn concurrent_reports_publish_every_listing_before_the_answer() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.ingest.rate_per_minute = 100_000;
    });
    let tokens = [
        srv.add_reporter("r1", false, &TRUSTED),
        srv.add_reporter("r2", false, &TRUSTED),
    ];
    let template = String::from_utf8(mail("spam-plain.eml")).unwrap();
    let sources: Vec<String> = (10..40).map(|i| format!("89.160.20.{i}")).collect();
    // Every (reporter, source) pair, interleaved across four clients.
    let mut jobs: Vec<(String, String)> = Vec::new();
    for t in &tokens {
        for s in &sources {
            jobs.push((t.clone(), s.clone()));
        }
    }
    let results: Vec<(String, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let mine: Vec<_> = jobs.iter().skip(n).step_by(4).cloned().collect();
                let (template, srv) = (&template, &srv);
                scope.spawn(move || {
                    let mut seen = Vec::new();
                    for (token, src) in mine {
                        let body = template
                            .replace("89.160.20.112", &src)
                            .replace("89-160-20-112", &src.replace('.', "-"))
                            .replace("7781@", &format!("7781.{src}@"));
                        let answer = srv.post_report(Some(&token), "", body.as_bytes());
                        assert_eq!(answer.status, 202, "{}", answer.body);
                        let a: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
                        let listed = a["keys"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|k| k["key"] == src.as_str() && k["listed"] == true);
                        // Check right away, without waiting.
                        if listed {
                            let o: Vec<&str> = src.split('.').rev().collect();
                            let name = format!("{}.iprbl.test", o.join("."));
                            let r = ask(srv.dns, &name, RecordType::A);
                            assert!(!a_values(&r).is_empty(), "{src} listed but not in DNS");
                        }
                        seen.push((src, listed));
                    }
                    seen
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    // Both reporters reported every source, so every source ends listed.
    for s in &sources {
        assert!(
            results.iter().any(|(src, l)| src == s && *l),
            "{s} never announced as listed"
        );
        let o: Vec<&str> = s.split('.').rev().collect();
        assert!(listed(&srv, &format!("{}.iprbl.test", o.join("."))), "{s}");
    }
}

/// When the store falls behind, a report beyond `max_pending_reports` gets
/// 503 `busy` at once, with `Retry-After`, instead of queueing in memory;
/// the report holding the slot completes once the store moves again.
#[test]
fn reports_beyond_the_pending_limit_are_refused_busy() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.ingest.rate_per_minute = 1000;
        c.ingest.max_pending_reports = 1;
    });
    let alice = srv.add_reporter("alice", false, &TRUSTED);
    // Another connection takes SQLite's write lock: the store thread's
    // next write waits for it (busy timeout 5 s), holding its report's
    // slot meanwhile.
    let lock = rusqlite::Connection::open(&srv.db).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for id in ["<slot-a@example.net>", "<slot-b@example.net>"] {
            let (tx, srv, alice) = (tx.clone(), &srv, &alice);
            scope.spawn(move || {
                let r = srv.post_report(Some(alice), "", &mail_with_id("spam-plain.eml", id));
                tx.send(r).expect("send");
            });
        }
        let Response {
            status,
            head: headers,
            body,
        } = rx
            .recv_timeout(Duration::from_secs(4))
            .expect("one answer while the store is blocked");
        assert_eq!(status, 503, "{body}");
        assert!(json(&body).contains("\"error\":\"busy\""), "{body}");
        assert!(
            headers.to_ascii_lowercase().contains("retry-after: 1"),
            "{headers}"
        );
        lock.execute_batch("COMMIT").expect("unlock");
        let Response { status, body, .. } = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the held report completes");
        assert_eq!(status, 202, "{body}");
    });
}
