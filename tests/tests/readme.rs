//! The README's walk-through, command for command: reporters added with
//! `fadelist reporter add` (the token taken from its output), the shipped
//! example message reported with `fadelist report` (token from
//! `FADELIST_TOKEN`) and with a plain HTTP POST, and the dig answer the
//! README promises. With the default policy (`max_report_age` 2 days): the
//! example must work whatever today's date is.

use std::path::Path;
use std::process::Command;

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/spam.eml")
}

fn cli(args: &[&str], db: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fadelist-cli"))
        .args(args)
        .arg("--db")
        .arg(db)
        .env("FADELIST_LOG", "error")
        .output()
        .expect("run fadelist")
}

fn token(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap_or_else(|| panic!("no token in {text:?}"))
        .to_string()
}

#[test]
fn the_readme_walk_through_lists_the_example_source() {
    let srv = TestServer::start(&[], &[]);
    let mx = token(&cli(
        &[
            "reporter",
            "add",
            "mx.example.org",
            "--trusted",
            "198.51.100.0/24",
        ],
        &srv.db,
    ));
    let trap = token(&cli(
        &["reporter", "add", "trap1", "--kind", "trap"],
        &srv.db,
    ));

    let out = Command::new(env!("CARGO_BIN_EXE_fadelist-cli"))
        .args(["report", "--server", &format!("http://{}", srv.http)])
        .env("FADELIST_TOKEN", &mx)
        .env("FADELIST_LOG", "error")
        .stdin(std::fs::File::open(example()).expect("example"))
        .output()
        .expect("run fadelist report");
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{answer}");
    assert!(answer.contains("\"ip\":\"89.160.20.112\""), "{answer}");
    assert!(!answer.contains("max_report_age"), "not too old: {answer}");
    assert!(
        a_values(&ask(srv.dns, SPAM_PLAIN_NAME, RecordType::A)).is_empty(),
        "one reporter does not list"
    );

    let r = srv.post_report(
        Some(&trap),
        "?category=spam",
        &std::fs::read(example()).expect("example"),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        a_values(&ask(srv.dns, SPAM_PLAIN_NAME, RecordType::A)),
        ["127.0.0.2"]
    );
    let txt = txt_values(&ask(srv.dns, SPAM_PLAIN_NAME, RecordType::TXT)).join(" ");
    assert!(txt.contains("lookup?q=89.160.20.112"), "{txt}");
}
