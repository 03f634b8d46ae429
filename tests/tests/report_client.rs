//! `fadelist report` as a mail system runs it: sysexits codes, the spool
//! that keeps what cannot be delivered, and the flush that delivers it in
//! order once the server is back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use fadelist_tests::*;

/// Runs `fadelist report ARGS` with `stdin` as the message.
fn report(server: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fadelist-cli"));
    cmd.args(["report", "--server", server])
        .args(args)
        .env("FADELIST_LOG", "error")
        .env_remove("FADELIST_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run fadelist report");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.unwrap_or_default()).expect("write");
    }
    child.wait_with_output().expect("wait")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A URL where nothing listens.
fn dead_server() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

fn spooled(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("new"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Message-IDs and categories of the stored reports, in arrival order.
fn stored(db: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare("SELECT message_id, category FROM reports ORDER BY id")
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn an_unreachable_server_is_a_temporary_failure_and_the_spool_keeps_the_report() {
    let dead = dead_server();
    let msg = mail_with_id("spam-plain.eml", "spool-0");
    let o = report(&dead, &["--token", "t"], Some(&msg));
    assert_eq!(code(&o), 75, "{}", text(&o));
    assert!(text(&o).contains("cannot reach"), "{}", text(&o));

    let dir = tempfile::tempdir().expect("dir");
    let spool = dir.path().to_str().expect("utf-8");
    let o = report(&dead, &["--token", "t", "--spool", spool], Some(&msg));
    assert_eq!(code(&o), 0, "spooled is safe: {}", text(&o));
    let files = spooled(dir.path());
    assert_eq!(files.len(), 1);
    assert_eq!(std::fs::read(&files[0]).expect("read"), msg);
    assert!(files[0].to_str().is_some_and(|f| f.ends_with(".spam.eml")));
    assert!(
        std::fs::read_dir(dir.path().join("tmp"))
            .expect("tmp")
            .next()
            .is_none(),
        "nothing half-written left behind"
    );
    // A flush while the server is still down keeps everything.
    let o = report(&dead, &["--token", "t", "--flush", spool], None);
    assert_eq!(code(&o), 75, "{}", text(&o));
    assert_eq!(spooled(dir.path()).len(), 1);
}

#[test]
fn flush_delivers_in_order_and_counts_duplicates_as_delivered() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
    });
    let token = srv.add_reporter("mx", false, &FIXTURE_TRUSTED);
    let dir = tempfile::tempdir().expect("dir");
    let spool = dir.path().to_str().expect("utf-8");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).expect("token file");
    let tf = token_file.to_str().expect("utf-8");
    let dead = dead_server();
    // Three reports while the server "is down" (a dead address), one of
    // them phishing; the first one is also delivered directly, so the
    // flush finds it a duplicate.
    for (i, cat) in ["spam", "phishing", "spam"].iter().enumerate() {
        let msg = mail_with_id("spam-plain.eml", &format!("order-{i}"));
        let o = report(
            &dead,
            &["--token-file", tf, "--spool", spool, "--category", cat],
            Some(&msg),
        );
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
    let http = format!("http://{}", srv.http);
    let first = mail_with_id("spam-plain.eml", "order-0");
    let o = report(&http, &["--token-file", tf], Some(&first));
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(spooled(dir.path()).len(), 3);

    let o = report(&http, &["--token-file", tf, "--flush", spool], None);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(spooled(dir.path()).is_empty(), "all delivered");
    assert_eq!(
        stored(&srv.db),
        [
            ("order-0@test".to_string(), "spam".to_string()),
            ("order-1@test".to_string(), "phishing".to_string()),
            ("order-2@test".to_string(), "spam".to_string()),
        ],
        "each once, in spool order"
    );
}

#[test]
fn refusals_map_to_sysexits() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
    });
    let token = srv.add_reporter("mx", false, &FIXTURE_TRUSTED);
    let http = format!("http://{}", srv.http);
    let msg = mail_with_id("spam-plain.eml", "codes");
    let dir = tempfile::tempdir().expect("dir");
    let spool = dir.path().to_str().expect("utf-8");
    // A refused message (bad category: 422) is a data error: 65, and it is
    // not spooled (resending cannot help).
    let o = report(
        &http,
        &["--token", &token, "--category", "promo", "--spool", spool],
        Some(&msg),
    );
    assert_eq!(code(&o), 65, "{}", text(&o));
    assert!(spooled(dir.path()).is_empty());
    // Not a message at all: 65 too.
    let o = report(&http, &["--token", &token], Some(b"\x00\x01binary"));
    assert_eq!(code(&o), 65, "{}", text(&o));
    // A refused token is the reporter's configuration: retry later (75), or
    // keep it in the spool until an operator fixes the token.
    let o = report(&http, &["--token", "wrong"], Some(&msg));
    assert_eq!(code(&o), 75, "{}", text(&o));
    let o = report(&http, &["--token", "wrong", "--spool", spool], Some(&msg));
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(spooled(dir.path()).len(), 1);
    // No token at all, or an empty token file: usage, 64.
    let o = report(&http, &[], Some(&msg));
    assert_eq!(code(&o), 64, "{}", text(&o));
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").expect("write");
    let o = report(
        &http,
        &["--token-file", empty.to_str().expect("utf-8")],
        Some(&msg),
    );
    assert_eq!(code(&o), 64, "{}", text(&o));
    // A message file that cannot be read: 66.
    let o = report(&http, &["--token", &token, "/nonexistent/spam.eml"], None);
    assert_eq!(code(&o), 66, "{}", text(&o));
    // Delivered: 0.
    let o = report(&http, &["--token", &token], Some(&msg));
    assert_eq!(code(&o), 0, "{}", text(&o));
}
