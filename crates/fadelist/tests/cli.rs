//! The `fadelist` binary as users run it: help, check-config, export, and
//! `serve` with its printed addresses and graceful SIGTERM shutdown.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ADMIN_LINE, Server, ask, bin, dns_addr, run, run_ok, serve};

/// `fadelist serve` of one rbldnsd-style zone from `dir`, with its database
/// there too.
fn serve_zone(dir: &Path, zone: &str) -> Command {
    let mut cmd = serve();
    cmd.arg("--data-dir")
        .arg(dir)
        .args(["--zone", zone])
        .arg("--db")
        .arg(dir.join("db.sqlite"));
    cmd
}

#[test]
fn help_explains_the_commands() {
    let out = bin().arg("--help").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "check-config", "export"] {
        assert!(text.contains(cmd), "{text}");
    }
    let out = bin().args(["serve", "--help"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--config",
        "--dns-listen",
        "--http-listen",
        "--zone",
        "--data-dir",
    ] {
        assert!(text.contains(opt), "{text}");
    }
}

/// Thread name → nice value of every thread of process `pid`, from
/// `/proc/PID/task/TID/stat` (field 19; the name is in parentheses).
fn thread_nice(pid: u32) -> std::collections::HashMap<String, i64> {
    let mut out = std::collections::HashMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc") {
        let Ok(stat) = std::fs::read_to_string(task.expect("task").path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        // Fields after the name start at field 3 (state); nice is field 19.
        let nice = stat[close + 2..]
            .split(' ')
            .nth(19 - 3)
            .and_then(|f| f.parse().ok());
        if let Some(n) = nice {
            out.insert(name, n);
        }
    }
    out
}

#[test]
fn serve_prints_ports_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("bl.txt"), "192.0.2.7\n").expect("write");
    let mut server = Server::spawn(&mut serve_zone(dir.path(), "bl.example:ip4set:bl.txt"));
    let first = server.next_line();
    let addr = dns_addr(&first).unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    assert_eq!(ask(addr, "7.2.0.192.bl.example"), (0, 1));
    assert_eq!(ask(addr, "8.2.0.192.bl.example"), (3, 0));
    assert_eq!(ask(addr, "2.0.0.127.bl.example"), (0, 1));
    // The writer threads yield to the DNS workers (ingest.writer_nice
    // defaults to 19); the DNS workers keep the normal priority.
    // A thread takes its name from inside itself, just after it starts:
    // a worker that has not run yet still shows its parent's name.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut nice = thread_nice(server.id());
    while !nice.contains_key("dns-udp-0") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
        nice = thread_nice(server.id());
    }
    assert_eq!(nice.get("fadelist-store"), Some(&19), "{nice:?}");
    assert_eq!(nice.get("fadelist-compac"), Some(&19), "{nice:?}");
    assert_eq!(nice.get("dns-udp-0"), Some(&0), "{nice:?}");
    let exit = server.terminate();
    assert!(exit.success(), "graceful exit, got {exit:?}");
}

#[test]
fn serve_refuses_bad_data_with_file_and_line() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("bl.txt"), "192.0.2.7\n192.0.2.300\n").expect("write");
    let (ok, _, err) = run(&mut serve_zone(dir.path(), "bl.example:ip4set:bl.txt"));
    assert!(!ok);
    assert!(err.contains("bl.txt:2"), "{err}");
}

#[test]
fn check_config_names_problems() {
    let dir = tempfile::tempdir().expect("dir");
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "[server]\ndns_lissen = [\"127.0.0.1:53\"]\n").expect("write");
    let (ok, _, err) = run(bin().arg("check-config").arg(&typo));
    assert!(!ok);
    assert!(err.contains("dns_lissen"));

    let good = dir.path().join("good.toml");
    std::fs::write(dir.path().join("d.txt"), "example.com\n").expect("write");
    std::fs::write(
        &good,
        format!(
            "[server]\ndata_dir = {:?}\n[[zone]]\nname = \"dbl.example\"\n[[zone.dataset]]\ntype = \"dnset\"\nfiles = [\"d.txt\"]\n",
            dir.path()
        ),
    )
    .expect("write");
    let out = run_ok(bin().arg("check-config").arg(&good));
    assert!(out.contains("zone dbl.example: 1 dataset(s)"));
}

#[test]
fn export_writes_rbldnsd_files() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("bl.txt"), "192.0.2.0/24\n!192.0.2.9\n").expect("write");
    let out_dir = dir.path().join("out");
    run_ok(
        bin()
            .args(["export", "--format", "rbldnsd", "--out"])
            .arg(&out_dir)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--zone", "bl.example:ip4set:bl.txt"]),
    );
    let zones = std::fs::read_to_string(out_dir.join("rbldnsd.zones")).expect("zones list");
    assert!(
        zones.contains("bl.example:ip4set:bl.example.0.ip4set"),
        "{zones}"
    );
    let data = std::fs::read_to_string(out_dir.join("bl.example.0.ip4set")).expect("data");
    assert!(
        data.contains("192.0.2.9"),
        "exclusion kept as a gap or entry: {data}"
    );
    let (ok, _, _) = run(bin()
        .args(["export", "--format", "csv", "--out"])
        .arg(&out_dir));
    assert!(!ok);
}

#[test]
fn reporter_and_neverlist_commands() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("db.sqlite");
    let reporter = |rest: &[&str]| run(bin().arg("reporter").arg("--db").arg(&db).args(rest));
    let (ok, out, _) = reporter(&["add", "mx1", "--kind", "trap", "--trusted", "192.0.2.0/24"]);
    assert!(ok && out.contains("token: "), "{out}");
    let (ok, _, err) = reporter(&["add", "mx1"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = reporter(&["add", "mx2", "--trusted", "not-a-cidr"]);
    assert!(
        !ok && err.contains("is not an IP address or a CIDR network"),
        "{err}"
    );
    assert!(reporter(&["suspend", "mx1"]).0);
    let (_, out, _) = reporter(&["list"]);
    assert!(
        out.contains("mx1") && out.contains("suspended") && out.contains("192.0.2.0/24"),
        "{out}"
    );
    assert!(reporter(&["reinstate", "mx1"]).0);
    assert!(reporter(&["remove", "mx1"]).0);
    assert!(!reporter(&["remove", "mx1"]).0, "already removed");
    let neverlist = |rest: &[&str]| run(bin().arg("neverlist").arg("--db").arg(&db).args(rest));
    assert!(neverlist(&["add", "198.51.100.7/24", "--reason", "partner"]).0);
    assert!(neverlist(&["add", "Example.COM"]).0);
    let (ok, _, err) = neverlist(&["add", "not valid!"]);
    assert!(
        !ok && err.contains("not an IP address, CIDR or domain"),
        "{err}"
    );
    let (_, out, _) = neverlist(&["list"]);
    assert!(
        out.contains("198.51.100.0/24\tpartner") && out.contains("example.com"),
        "{out}"
    );
    assert!(neverlist(&["remove", "example.com"]).0);
    assert!(!neverlist(&["remove", "example.com"]).0);
}

/// `fadelist admin …` against a running server: a manual listing reaches
/// DNS, shows up in `listings` and the audit log, and `unlist` removes it;
/// a wrong token is refused with a non-zero exit.
#[test]
fn admin_cli_lists_and_unlists_through_the_api() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("fadelist.toml");
    std::fs::write(
        &config,
        "[server]\n\
         dns_listen = [\"127.0.0.1:0\"]\n\
         http_listen = \"127.0.0.1:0\"\n\
         [admin]\n\
         listen = \"127.0.0.1:0\"\n\
         [[zone]]\n\
         name = \"iprbl.test\"\n\
         feed = \"ip\"\n",
    )
    .expect("write");
    let mut server = Server::spawn(
        bin()
            .args(["serve", "--config"])
            .arg(&config)
            .arg("--db")
            .arg(dir.path().join("db.sqlite"))
            .env("FADELIST_ADMIN_TOKEN", "s3cret-admin"),
    );
    let dns = server.wait_dns();
    let admin = server.wait_line(ADMIN_LINE);
    let admin_cli = |token: &str, args: &[&str]| {
        run(bin()
            .args(["admin", "--server", &admin, "--token", token])
            .args(args))
    };
    let name = "112.20.160.89.iprbl.test";
    assert_eq!(ask(dns, name).0, 3, "not listed before");

    let (ok, out, err) = admin_cli(
        "s3cret-admin",
        &[
            "list",
            "89.160.20.112",
            "--zone",
            "iprbl.test",
            "--code",
            "127.0.0.9",
            "--reason",
            "hand-picked <test>",
        ],
    );
    assert!(ok, "{out}{err}");
    // The API answers after publishing, so DNS has it now.
    assert_eq!(ask(dns, name), (0, 1), "listed by hand");
    let (ok, out, _) = admin_cli("s3cret-admin", &["listings"]);
    assert!(
        ok && out.contains("89.160.20.112") && out.contains("hand-picked"),
        "{out}"
    );
    let (ok, out, _) = admin_cli("s3cret-admin", &["audit", "--key", "89.160.20.112"]);
    assert!(ok && out.contains("manual"), "{out}");

    let (ok, out, err) = admin_cli("wrong-token", &["listings"]);
    assert!(!ok, "a wrong token must fail: {out}");
    assert!(err.contains("401"), "{err}");

    let (ok, out, err) = admin_cli("s3cret-admin", &["unlist", "iprbl.test", "89.160.20.112"]);
    assert!(ok, "{out}{err}");
    assert_eq!(ask(dns, name).0, 3, "removed");
    let (ok, _, err) = admin_cli("s3cret-admin", &["unlist", "iprbl.test", "89.160.20.112"]);
    assert!(!ok && err.contains("404"), "nothing left to remove: {err}");

    // Dropping `server` stops it.
}

/// `--db` is accepted where people type it: after the subcommand too.
#[test]
fn db_option_after_the_subcommand() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("late.sqlite");
    let (ok, out, err) = run(bin().args(["reporter", "add", "late"]).arg("--db").arg(&db));
    assert!(ok && out.contains("token: "), "{out}{err}");
    let (ok, out, _) = run(bin().args(["reporter", "list", "--db"]).arg(&db));
    assert!(ok && out.contains("late"), "{out}");
}

/// `fadelist backup`: a checked, private copy; never overwrites; a missing
/// database is named and not created.
#[test]
fn backup_command() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("live.sqlite");
    assert!(run(bin().args(["reporter", "add", "r1", "--db"]).arg(&db)).0);
    let out = dir.path().join("copy.sqlite");
    let (ok, stdout, err) = run(bin()
        .args(["backup", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&out));
    assert!(ok && stdout.contains("integrity ok"), "{stdout}{err}");
    let mode = std::fs::metadata(&out).expect("copy").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (ok, out2, _) = run(bin().args(["reporter", "list", "--db"]).arg(&out));
    assert!(
        ok && out2.contains("r1"),
        "the copy holds the reporter: {out2}"
    );
    let status = bin()
        .args(["backup", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(
        status.status.code(),
        Some(64),
        "an existing file is refused"
    );
    let missing = dir.path().join("missing.sqlite");
    let (ok, _, err) = run(bin()
        .args(["backup", "--db"])
        .arg(&missing)
        .arg("--out")
        .arg(dir.path().join("x.sqlite")));
    assert!(!ok && err.contains("missing.sqlite"), "{err}");
    assert!(!missing.exists());
}

/// Logs written to a pipe (journald, a file) carry no ANSI colour codes.
#[test]
fn logs_to_a_pipe_are_plain_text() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, _, err) = run(bin()
        .args(["reporter", "add", "plain", "--db"])
        .arg(dir.path().join("db.sqlite"))
        .env("FADELIST_LOG", "info"));
    assert!(ok, "{err}");
    assert!(err.contains("migrated"), "a log line was written: {err}");
    assert!(!err.contains('\x1b'), "no escape codes: {err:?}");
}

/// Commands that change existing entries never create a database; their
/// errors name the database they looked in.
#[test]
fn commands_on_a_missing_database_do_not_create_it() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("nowhere.sqlite");
    for args in [
        &["reporter", "suspend", "trap1"][..],
        &["reporter", "list"],
        &["neverlist", "remove", "example.com"],
        &["neverlist", "list"],
    ] {
        let (ok, _, err) = run(bin().args(args).arg("--db").arg(&db));
        assert!(!ok, "{args:?} must fail");
        assert!(err.contains("nowhere.sqlite"), "{args:?}: {err}");
        assert!(!db.exists(), "{args:?} created the database");
    }
    assert!(run(bin().args(["reporter", "add", "mx1", "--db"]).arg(&db)).0);
    let (ok, _, err) = run(bin()
        .args(["reporter", "suspend", "trap1", "--db"])
        .arg(&db));
    assert!(
        !ok && err.contains("no reporter named \"trap1\" in") && err.contains("nowhere.sqlite"),
        "{err}"
    );
}

/// A configuration file with no zone is refused, saying why (it used to
/// serve nothing and accept reports into no zone).
#[test]
fn a_configuration_without_zones_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("empty.toml");
    std::fs::write(&cfg, "[server]\ndns_listen = [\"127.0.0.1:0\"]\n").expect("write");
    let out = serve().arg("--config").arg(&cfg).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("no [[zone]]") && err.contains("empty.toml"),
        "{err}"
    );
}

/// `fadelist config default` prints a configuration that parses to exactly
/// the built-in defaults, and names every key the documented example
/// names (so it stays complete as settings are added).
#[test]
fn config_default_is_complete_and_exact() {
    let (ok, text, err) = run(bin().args(["config", "default"]));
    assert!(ok, "{err}");
    let parsed = fadelist::config::Config::parse(&text, "config default").expect("parses");
    assert_eq!(parsed, fadelist::config::embedded_default());

    fn keys(v: &toml::Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        if let toml::Value::Table(t) = v {
            for (k, v) in t {
                // Zones are examples, not settings with defaults.
                if prefix.is_empty() && k == "zone" {
                    continue;
                }
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                keys(v, &path, out);
            }
        }
    }
    let example: toml::Value =
        toml::from_str(include_str!("../../../deploy/fadelist.example.toml"))
            .expect("example parses");
    let default: toml::Value = toml::from_str(&text).expect("default parses");
    let (mut want, mut have) = (Default::default(), Default::default());
    keys(&example, "", &mut want);
    keys(&default, "", &mut have);
    let missing: Vec<&String> = want.difference(&have).collect();
    assert!(
        missing.is_empty(),
        "keys of the example missing from `config default`: {missing:?}"
    );
}
