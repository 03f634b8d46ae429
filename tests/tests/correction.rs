//! "Not spam" corrections against the real server: a reporter takes back
//! its report of a message (`POST /api/v1/reports/withdraw`, or
//! `fadelist report --not-spam`, what the Dovecot IMAPSieve hook runs when
//! a user moves a message back out of Junk). The key its report helped
//! list leaves DNS before the answer, minimum listing time or not; the
//! other reporter's evidence keeps counting.

use std::process::{Command, Output, Stdio};

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

/// The default policy (minimum listing time 12 h: nothing decays during
/// the test), the fixtures' dates accepted.
fn server() -> TestServer {
    TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.ingest.rate_per_minute = 1000;
    })
}

fn withdraw(srv: &TestServer, token: &str, body: &[u8]) -> Response {
    Request::post(srv.http, "/api/v1/reports/withdraw")
        .bearer(token)
        .body("message/rfc822", body.to_vec())
        .send()
}

fn rcode(srv: &TestServer) -> Rcode {
    ask(srv.dns, SPAM_PLAIN_NAME, RecordType::A)
        .metadata
        .response_code
}

fn lookup(srv: &TestServer) -> serde_json::Value {
    let r = srv.get(&format!("/api/v1/lookup/{SPAM_PLAIN_SOURCE}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["zones"]
        .as_array()
        .and_then(|z| z.iter().find(|z| z["zone"] == "iprbl.test").cloned())
        .expect("iprbl.test in the lookup")
}

/// Runs `fadelist report --server URL ARGS` with `stdin` as the message.
fn cli(server: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fadelist-cli"))
        .args(["report", "--server", server])
        .args(args)
        .env("FADELIST_LOG", "error")
        .env_remove("FADELIST_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fadelist report");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin).expect("write");
    }
    child.wait_with_output().expect("wait")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn withdrawing_a_report_delists_at_once_and_leaves_the_others_evidence() {
    let srv = server();
    let [a, b] = srv.two_reporters();
    srv.list_spam_plain(&[a.clone(), b.clone()], "corr");
    assert_eq!(rcode(&srv), Rcode::NoError);
    let b_mail = mail_with_id("spam-plain.eml", "corr-1");
    let a_mail = mail_with_id("spam-plain.eml", "corr-0");

    // b takes its report back: delisted before the answer, though the
    // 12 h minimum listing time has hardly begun.
    let r = withdraw(&srv, &b, &b_mail);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(rcode(&srv), Rcode::NXDomain);
    let v = r.json();
    assert!(v["withdrawn"].as_i64().is_some(), "{v}");
    let has = |field: &str| {
        v[field].as_array().is_some_and(|d| {
            d.iter()
                .any(|d| d["zone"] == "iprbl.test" && d["key"] == SPAM_PLAIN_SOURCE)
        })
    };
    assert!(has("keys") && has("delisted"), "{v}");

    // The typed event and the lookup page say why; a's report still
    // counts (one report, one reporter).
    let z = lookup(&srv);
    assert_eq!(z["listed"], false, "{z}");
    let last = z["listing_history"]
        .as_array()
        .and_then(|h| h.last().cloned())
        .expect("history");
    assert_eq!(last["change"], "report-withdrawn", "{z}");
    assert_eq!(
        (z["reports"].as_i64(), z["reporters"].as_i64()),
        (Some(1), Some(1)),
        "{z}"
    );
    let page = srv.get(&format!("/lookup?q={SPAM_PLAIN_SOURCE}")).body;
    assert!(
        page.contains("delisted because a reporter withdrew a report"),
        "{page}"
    );

    // Again: nothing to do, nothing changes.
    let r = withdraw(&srv, &b, &b_mail);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["already_withdrawn"], true, "{}", r.body);
    assert_eq!(lookup(&srv)["reports"].as_i64(), Some(1));

    // A message b never reported, and a's message with b's token: 404,
    // and a's evidence is untouched.
    for body in [mail_with_id("spam-plain.eml", "never-seen"), a_mail.clone()] {
        let r = withdraw(&srv, &b, &body);
        assert_eq!(r.status, 404, "{}", r.body);
        assert_eq!(r.json()["error"], "no_such_report", "{}", r.body);
    }
    assert_eq!(
        (
            lookup(&srv)["reports"].as_i64(),
            lookup(&srv)["reporters"].as_i64()
        ),
        (Some(1), Some(1))
    );

    // Moved back into Junk: b's report counts again (not a duplicate of
    // the withdrawn one), and the source is listed again.
    let r = srv.post_report(Some(&b), "", &b_mail);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(rcode(&srv), Rcode::NoError);

    // Without a token, or with a bad one: refused like a report.
    let r = Request::post(srv.http, "/api/v1/reports/withdraw")
        .body("message/rfc822", b_mail.clone())
        .send();
    assert_eq!(r.status, 401, "{}", r.body);
}

#[test]
fn fadelist_report_not_spam_withdraws_and_treats_nothing_to_withdraw_as_done() {
    let srv = server();
    let [a, b] = srv.two_reporters();
    srv.list_spam_plain(&[a.clone(), b.clone()], "cli");
    let url = format!("http://{}", srv.http);
    let a_mail = mail_with_id("spam-plain.eml", "cli-0");

    let o = cli(&url, &["--token", &a, "--not-spam"], &a_mail);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("\"withdrawn\""), "{}", text(&o));
    assert_eq!(rcode(&srv), Rcode::NXDomain);

    // Nothing to withdraw (a message a never reported): a note, exit 0.
    let o = cli(
        &url,
        &["--token", &a, "--not-spam"],
        &mail_with_id("spam-plain.eml", "other"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("nothing to withdraw"), "{}", text(&o));

    // --not-spam and --category do not mix.
    let o = cli(
        &url,
        &["--token", &a, "--not-spam", "--category", "phishing"],
        &a_mail,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // Server down: the report is spooled (exit 0). The correction that
    // follows goes into the spool behind it even with the server back up
    // (sent now, it would find nothing to withdraw, and the report would
    // count once flushed); a flush sends both, in order.
    let spool = tempfile::tempdir().expect("spool");
    let dir = spool.path().to_str().expect("utf-8 path");
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let c_mail = mail_with_id("spam-plain.eml", "cli-spooled");
    let o = cli(&dead, &["--token", &b, "--spool", dir], &c_mail);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = cli(
        &url,
        &["--token", &b, "--spool", dir, "--not-spam"],
        &c_mail,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("the correction goes behind them") && !text(&o).contains("HTTP"),
        "{}",
        text(&o)
    );
    let spooled = std::fs::read_dir(spool.path().join("new"))
        .expect("spool")
        .count();
    assert_eq!(spooled, 2);
    let o = cli(&url, &["--token", &b, "--flush", dir], b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("HTTP 202") && out.contains("\"withdrawn\""),
        "{out}"
    );
    assert!(
        out.find("HTTP 202") < out.find("\"withdrawn\""),
        "report before correction: {out}"
    );
}
