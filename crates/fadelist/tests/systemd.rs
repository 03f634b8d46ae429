//! `fadelist serve` under a service manager: sd_notify messages on a test
//! `NOTIFY_SOCKET` (READY, WATCHDOG, RELOADING/READY around SIGHUP,
//! STOPPING), SIGHUP reloading data files at once without exiting, and a
//! corrupt database refused before any listener is announced.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::{Server, ask, bin, run, serve};

/// Receives notify messages until one contains `want` (panics after 10 s).
fn expect(sock: &UnixDatagram, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.lines().any(|l| l == want) {
                return msg;
            }
            seen.push(msg);
        }
    }
    panic!("no {want:?} from the server; got {seen:?}");
}

/// Sends `sig` (`HUP`, `TERM`) with kill(1): the workspace forbids unsafe
/// code, libc's kill included.
fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

#[test]
fn notify_socket_watchdog_and_sighup_reload() {
    let dir = tempfile::tempdir().expect("dir");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let data = dir.path().join("bl.txt");
    std::fs::write(&data, "192.0.2.7\n").expect("write");
    let mut cmd = serve();
    cmd.arg("--data-dir")
        .arg(dir.path())
        .args(["--zone", "bl.example:ip4set:bl.txt", "--db"])
        .arg(dir.path().join("db.sqlite"))
        .env("NOTIFY_SOCKET", &sock_path)
        // A 400 ms watchdog: pings every 200 ms.
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID");
    let mut server = Server::spawn(&mut cmd);
    let dns = server.wait_dns();
    server.drain();
    let ready = expect(&sock, "READY=1");
    assert!(ready.contains("STATUS=serving 1 zone"), "{ready}");
    expect(&sock, "WATCHDOG=1");
    expect(&sock, "WATCHDOG=1");
    assert_eq!(ask(dns, "7.2.0.192.bl.example"), (0, 1));
    assert_eq!(ask(dns, "8.2.0.192.bl.example").0, 3);

    // SIGHUP: the new file is served at once (reload_interval is 60 s by
    // default), the server stays up, and systemd hears about it.
    std::fs::write(&data, "192.0.2.8\n").expect("rewrite");
    signal(server.id(), "HUP");
    expect(&sock, "RELOADING=1");
    expect(&sock, "READY=1");
    assert_eq!(ask(dns, "8.2.0.192.bl.example"), (0, 1), "reloaded");
    assert_eq!(ask(dns, "7.2.0.192.bl.example").0, 3);
    signal(server.id(), "HUP");
    expect(&sock, "READY=1");
    assert_eq!(ask(dns, "8.2.0.192.bl.example"), (0, 1), "still serving");

    signal(server.id(), "TERM");
    expect(&sock, "STOPPING=1");
    let exit = server.terminate();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_corrupt_database_is_refused_before_listening() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("db.sqlite");
    // A real database, grown past a few pages, then damaged in the middle.
    assert!(run(bin().args(["reporter", "add", "r1", "--db"]).arg(&db)).0);
    for i in 0..50 {
        let entry = format!("10{i}.example.com");
        assert!(run(bin().args(["neverlist", "add", &entry, "--db"]).arg(&db)).0);
    }
    // Checkpointed into the main file by the last command's close.
    let mut bytes = std::fs::read(&db).expect("read");
    assert!(bytes.len() > 8 * 4096, "{} bytes", bytes.len());
    for b in &mut bytes[3 * 4096..6 * 4096] {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).expect("damage");
    let out = serve().arg("--db").arg(&db).output().expect("run serve");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!stdout.contains("listening"), "nothing announced: {stdout}");
    assert!(stderr.contains("db.sqlite"), "names the database: {stderr}");
}

/// A clean start and stop logs no warning (hickory-server used to warn
/// "block_until_done called with no pending tasks" at every stop).
#[test]
fn a_clean_stop_logs_no_warning() {
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("stderr.log");
    let mut child = serve()
        .arg("--db")
        .arg(dir.path().join("db.sqlite"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
        child.stdout.take().expect("stdout"),
    ));
    let first = lines.next().expect("a line").expect("utf-8");
    let dns = common::dns_addr(&first).expect("DNS address line");
    assert_eq!(ask(dns, "2.0.0.127.iprbl.test"), (0, 1));
    signal(child.id(), "TERM");
    assert!(child.wait().expect("wait").success());
    let text = std::fs::read_to_string(&log).expect("read log");
    assert!(text.contains("fadelist stopped"), "{text}");
    assert!(!text.contains("WARN") && !text.contains("ERROR"), "{text}");
}
