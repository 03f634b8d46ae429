//! Helpers shared by the tests of the `fadelist` binary (cli.rs,
//! durability.rs): run it, start `serve` and read the addresses it prints,
//! stop it with SIGTERM or SIGKILL, and ask DNS with a hand-encoded query.
//!
//! These tests cannot use the `fadelist-tests` crate: it depends on this
//! one. They also speak DNS without a DNS library on purpose: they check
//! the binary, not our codec.

// Each test file compiles its own copy of this module and uses only part
// of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The configuration durability.rs serves, shared with the shell tests
/// (`tests/lib.sh`): the report-fed zones iprbl.test and urirbl.test,
/// accepting the 2026-dated fixture mails.
pub const REPORT_FED_CONFIG: &str = include_str!("report-fed.toml");

/// The `fadelist` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fadelist"))
}

/// `fadelist serve` with DNS and HTTP on 127.0.0.1, port 0; add the
/// zones (`--config`, `--zone`, …) and [`Server::spawn`] it.
pub fn serve() -> Command {
    let mut cmd = bin();
    cmd.args([
        "serve",
        "--dns-listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
    ]);
    cmd
}

/// Runs `cmd` to the end: (exit success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `cmd`, asserts that it succeeds (showing its stderr if not) and
/// returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let (ok, out, err) = run(cmd);
    assert!(ok, "{err}");
    out
}

/// A hand-encoded query for `name`, type A, class IN, without recursion.
pub fn query_bytes(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// (rcode, answer count) of the UDP reply to an A query for `name`;
/// panics when no reply comes within two seconds or its ID is not ours.
pub fn ask(addr: SocketAddr, name: &str) -> (u8, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.send_to(&query_bytes(0x4242, name), addr).expect("send");
    let mut buf = [0u8; 1500];
    let (n, _) = s.recv_from(&mut buf).expect("reply");
    assert!(n >= 12);
    assert_eq!(&buf[..2], &[0x42, 0x42]);
    (buf[3] & 0x0f, u16::from_be_bytes([buf[6], buf[7]]))
}

/// What `serve` prints before the DNS address.
pub const DNS_LINE: &str = "fadelist: DNS listening on ";
/// What `serve` prints before the HTTP address.
pub const HTTP_LINE: &str = "fadelist: HTTP listening on http://";
/// What `serve` prints before the admin API's URL.
pub const ADMIN_LINE: &str = "fadelist: admin API listening on ";

/// The address in a `fadelist: DNS listening on ADDR (UDP and TCP)` line.
pub fn dns_addr(line: &str) -> Option<SocketAddr> {
    first_addr(line.strip_prefix(DNS_LINE)?)
}

/// The address that `text` starts with, up to the first space.
fn first_addr(text: &str) -> Option<SocketAddr> {
    text.split(' ').next()?.parse().ok()
}

/// A `fadelist serve` child process, its stdout read line by line.
/// Dropping it kills the process (so a failed assertion leaves no server
/// behind).
pub struct Server {
    child: Child,
    lines: Option<Lines<BufReader<ChildStdout>>>,
}

impl Server {
    /// Starts `cmd` (from [`serve`]) with stdout piped and stderr
    /// discarded.
    pub fn spawn(cmd: &mut Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Server {
            child,
            lines: Some(lines),
        }
    }

    /// The process ID.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line of output; panics at the end of it.
    pub fn next_line(&mut self) -> String {
        let lines = self.lines.as_mut().expect("output still read");
        lines.next().expect("a line").expect("utf-8")
    }

    /// Reads lines until one starts with `prefix`; returns the rest of it.
    pub fn wait_line(&mut self, prefix: &str) -> String {
        let lines = self.lines.as_mut().expect("output still read");
        for line in lines.by_ref() {
            let line = line.expect("utf-8");
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_string();
            }
        }
        panic!("the server never printed {prefix:?}");
    }

    /// Waits for the DNS address line (printed first) and returns it.
    pub fn wait_dns(&mut self) -> SocketAddr {
        first_addr(&self.wait_line(DNS_LINE)).expect("address")
    }

    /// Waits for the HTTP address line (printed after the DNS one).
    pub fn wait_http(&mut self) -> SocketAddr {
        self.wait_line(HTTP_LINE).trim().parse().expect("address")
    }

    /// Reads the rest of the output on a thread of its own, so that the
    /// server never blocks on a full pipe.
    pub fn drain(&mut self) {
        if let Some(lines) = self.lines.take() {
            std::thread::spawn(move || for _ in lines {});
        }
    }

    /// Sends SIGTERM and waits for the exit, at most ten seconds (panics
    /// after that).
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGKILL (no grace) and waits for the process to go.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
