//! `fadelist backup` while the server ingests reports: the copy passes
//! SQLite's integrity check, and a server started on it serves what was
//! listed before the copy.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

#[test]
fn backup_during_ingestion_is_consistent_and_restores() {
    let srv = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.ingest.rate_per_minute = 100_000;
    });
    let tokens = srv.two_reporters();
    srv.list_spam_plain(&tokens, "before");

    // Reports keep arriving while the copy is made.
    let stop = Arc::new(AtomicBool::new(false));
    let posted = {
        let (stop, http, token) = (stop.clone(), srv.http, tokens[0].clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let r = Request::post(http, "/api/v1/reports")
                    .bearer(&token)
                    .body(
                        "message/rfc822",
                        mail_with_id("html-obfuscated.eml", &format!("during-{n}")),
                    )
                    .send();
                assert_eq!(r.status, 202, "{}", r.body);
                n += 1;
            }
            n
        })
    };
    // Wait until the writer is busy, then copy.
    assert!(eventually(std::time::Duration::from_secs(10), || {
        use fadelist_store::Read as _;
        fadelist_store::Reader::open(&srv.db)
            .and_then(|r| r.report_count())
            .is_ok_and(|n| n >= 10)
    }));
    let copy = srv.dir.path().join("backup.sqlite");
    let out = Command::new(env!("CARGO_BIN_EXE_fadelist-cli"))
        .args(["backup", "--db"])
        .arg(&srv.db)
        .arg("--out")
        .arg(&copy)
        .env("FADELIST_LOG", "error")
        .output()
        .expect("run backup");
    stop.store(true, Ordering::Relaxed);
    let during = posted.join().expect("poster");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("integrity ok"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(during > 0, "reports were posted during the backup");

    // An independent check of the copy, then a server started on it.
    let conn = rusqlite::Connection::open(&copy).expect("open copy");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok");
    drop(conn);
    let restored = TestServer::start_with(&[], &[], |c| {
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.store.path = copy.clone();
    });
    assert_eq!(
        a_values(&ask(restored.dns, SPAM_PLAIN_NAME, RecordType::A)),
        ["127.0.0.2"]
    );
}
