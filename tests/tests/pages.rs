//! End-to-end: the HTML pages over real HTTP — the site icon, page
//! structure, what the lookup page says about a listed key (the TXT record
//! DNS answers, the delisting button) and about a removed one (status,
//! history, chart).

use std::time::Duration;

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

const IP: &str = SPAM_PLAIN_SOURCE;
const NAME: &str = SPAM_PLAIN_NAME;

fn server() -> TestServer {
    TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.web.delist_per_minute = 100;
    })
}

/// Lists 89.160.20.112 with two reports from two reporters.
fn list(srv: &TestServer) {
    srv.list_spam_plain(&srv.two_reporters(), "pages");
}

/// What askama's HTML escaping makes of `text`.
fn html_escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[test]
fn the_site_icon_is_served() {
    let srv = server();
    for path in ["/favicon.svg", "/favicon.ico"] {
        let r = srv.get(path);
        let (head, body) = (&r.head, &r.body);
        assert_eq!(r.status, 200, "{path}: {head}");
        assert_eq!(
            r.header("content-type"),
            Some("image/svg+xml"),
            "{path}: {head}"
        );
        assert!(
            r.header("cache-control")
                .is_some_and(|v| v.contains("max-age")),
            "{path}: {head}"
        );
        assert!(
            body.starts_with("<svg") && body.contains("xmlns=\"http://www.w3.org/2000/svg\""),
            "{path}: {body}"
        );
        assert!(!body.contains("<script"), "{path}: no script in the icon");
    }
    let page = srv.get("/").body;
    assert!(
        page.contains(r#"<link rel="icon" href="/favicon.svg" type="image/svg+xml">"#),
        "{page}"
    );
}

#[test]
fn every_page_has_one_h1_a_language_and_a_main_landmark() {
    let srv = server();
    for path in [
        "/",
        "/lookup",
        "/lookup?q=192.0.2.1",
        "/lookup?q=example.com",
        "/lookup?q=%3Cb%3E",
        "/delist",
        "/delist?q=192.0.2.1",
    ] {
        let Response {
            status: s,
            body: page,
            ..
        } = srv.get(path);
        assert!(s == 200 || s == 400, "{path}: HTTP {s}");
        assert_eq!(page.matches("<h1").count(), 1, "{path}: one h1\n{page}");
        assert!(page.contains("<html lang=\"en\">"), "{path}");
        assert_eq!(page.matches("<main").count(), 1, "{path}");
        assert!(page.contains("href=\"#main\""), "{path}: skip link");
        assert!(!page.contains("<script"), "{path}: no script");
        // Every visible field has a label.
        for id in ["q", "key", "email", "explanation"] {
            if page.contains(&format!("id=\"{id}\"")) {
                assert!(
                    page.contains(&format!("<label for=\"{id}\"")),
                    "{path}: label for {id}"
                );
            }
        }
    }
    // The lookup page: zones are h3 under the result's h2.
    let page = srv.get("/lookup?q=192.0.2.1").body;
    assert!(page.contains("<h2>Result for <code>192.0.2.1</code></h2>"));
    assert!(page.contains(">iprbl.test</h3>"), "{page}");
    assert!(!page.contains(">iprbl.test</h2>"));
}

#[test]
fn the_lookup_page_shows_the_dns_answer_and_a_delisting_button() {
    let srv = server();
    // Not listed: no button.
    let page = srv.get(&format!("/lookup?q={IP}")).body;
    assert!(page.contains("Not listed"), "{page}");
    assert!(!page.contains("Request delisting of"), "{page}");
    assert!(!page.contains("class=\"button\""), "{page}");

    list(&srv);
    let txt = txt_values(&ask(srv.dns, NAME, RecordType::TXT));
    assert_eq!(txt.len(), 1, "{txt:?}");
    let txt = &txt[0];
    assert!(
        txt.starts_with(&format!("{IP} is listed in iprbl.test")) && !txt.contains('$'),
        "{txt}"
    );
    let Response {
        status, body: page, ..
    } = srv.get(&format!("/lookup?q={IP}"));
    assert_eq!(status, 200);
    assert!(page.contains("<strong>Listed.</strong>"), "{page}");
    assert!(
        page.contains(&format!(
            "<dt>TXT</dt><dd><code class=\"txt\">{}</code></dd>",
            html_escaped(txt)
        )),
        "the TXT record as DNS answers it ({txt}):\n{page}"
    );
    assert!(
        page.contains("<dt>A</dt><dd><code>127.0.0.2</code></dd>"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<a class=\"button\" href=\"/delist?q={IP}\">Request delisting of {IP}</a>"
        )),
        "{page}"
    );
    // The chart is an accessible image with a title and a description.
    assert!(page.contains("role=\"img\""), "{page}");
    assert!(
        page.contains("<title id=\"chart-1-title\">Score of"),
        "{page}"
    );
    assert!(page.contains("<desc id=\"chart-1-desc\">"), "{page}");
    assert!(page.contains("Latest reports"), "{page}");
    assert!(!page.contains("Earlier reports"), "{page}");

    // The JSON carries the same TXT.
    let body = srv.get(&format!("/api/v1/lookup/{IP}")).body;
    assert!(
        body.contains(&format!("\"reasons\":[{}]", serde_json::json!(txt))),
        "{body}"
    );
}

#[test]
fn after_a_removal_the_lookup_page_shows_history_not_a_listing() {
    let srv = server();
    list(&srv);
    let r = srv.delist(IP);
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    let message = j["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Removed from iprbl.test now;"),
        "capitalized: {message}"
    );
    assert!(eventually(Duration::from_secs(1), || a_values(&ask(
        srv.dns,
        NAME,
        RecordType::A
    ))
    .is_empty()));

    let Response {
        status, body: page, ..
    } = srv.get(&format!("/lookup?q={IP}"));
    assert_eq!(status, 200);
    assert!(
        page.contains(
            "<strong>Not listed</strong> in iprbl.test (removed by self-service delisting on "
        ),
        "{page}"
    );
    assert!(!page.contains("<strong>Listed.</strong>"), "{page}");
    assert!(!page.contains("Request delisting of"), "{page}");
    assert!(page.contains("<h4>Earlier reports</h4>"), "{page}");
    assert!(!page.contains("Latest reports"), "{page}");
    assert!(page.contains("2 reports in all"), "{page}");
    assert!(page.contains("0 since the removal"), "{page}");
    // The chart marks the removal and its line ends at zero.
    assert!(page.contains("class=\"c-removed\""), "{page}");
    assert!(
        page.contains("Removed by self-service delisting on"),
        "{page}"
    );

    let r = srv.get(&format!("/api/v1/lookup/{IP}"));
    let (j, body) = (r.json(), r.body);
    let zone = j["zones"]
        .as_array()
        .and_then(|z| z.iter().find(|z| z["zone"] == "iprbl.test"))
        .expect("iprbl.test in the lookup");
    assert_eq!(zone["listed"], false, "{body}");
    assert_eq!(zone["score"], 0.0, "{body}");
    assert_eq!(zone["reports_counting"], 0, "{body}");
    let changes: Vec<&str> = zone["listing_history"]
        .as_array()
        .expect("listing_history")
        .iter()
        .filter_map(|c| c["change"].as_str())
        .collect();
    assert_eq!(changes, ["listed", "removed-self-service"], "{body}");
    let evidence = zone["evidence"].as_array().expect("evidence");
    assert_eq!(evidence.len(), 2, "{body}");
    assert!(
        evidence.iter().all(|e| e["before_removal"] == true),
        "{body}"
    );
    let history = zone["history"].as_array().expect("history");
    let last = history.last().expect("points");
    assert_eq!(last[1], 0.0, "the score line ends at 0: {body}");
    assert!(
        history.iter().any(|p| p[1].as_f64() >= Some(1.5)),
        "the spike is kept as history: {body}"
    );

    // Nothing left to remove: the message says so, capitalized.
    let Response { status, body, .. } = srv.delist(IP);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"message\":\"Not listed in any report-fed zone"),
        "{body}"
    );
}
