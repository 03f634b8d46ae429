//! `fadelist report`: the reporter's client, made for mail systems.
//!
//! It is what an MTA pipe, a Sieve script or a cron job runs, so it speaks
//! their language, the sysexits(3) codes:
//!
//! | exit | meaning | what an MTA does |
//! |---|---|---|
//! | 0 | every report accepted (202), already known (200), or spooled | delivered |
//! | 65 `EX_DATAERR` | the server refused a message itself (400, 413, 422) | bounce: resending cannot help |
//! | 66 `EX_NOINPUT` | a message file cannot be read | bounce |
//! | 64 `EX_USAGE` | bad options (no token, unreadable `--token-file`) | bounce |
//! | 75 `EX_TEMPFAIL` | server unreachable, busy (429, 503) or failing (5xx), or refused the token (401, 403) | retry later |
//!
//! A refused token is a temporary failure on purpose: it is a
//! configuration mistake on the reporter's side, fixed by an operator, and
//! the spam should wait for that rather than be bounced and lost.
//!
//! With `--spool DIR`, what could not be delivered for a temporary reason
//! is written to DIR instead (one file per report, atomically: written
//! under `DIR/tmp`, synced, renamed into `DIR/new`) and the exit status is
//! 0: the report is safe. `--flush DIR` (from a timer: see
//! `deploy/systemd/fadelist-report-flush.timer`) sends them oldest first,
//! removes each once accepted (a duplicate counts as delivered: the server
//! already has it), moves those the server refuses as data to
//! `DIR/failed`, and stops at the first temporary failure, so order is
//! kept and nothing is lost.
//!
//! `--not-spam` sends each message to `POST /api/v1/reports/withdraw`
//! instead: a "not spam" correction (a user moved the message back out of
//! Junk) that withdraws this reporter's earlier report of it. The exit
//! codes are the same; a 404 (the reporter never reported the message,
//! or it is already gone) is exit 0 with a note, since there is nothing
//! to take back. Corrections are spooled like reports (their file names
//! say `not-spam` where a report's say its category), so a flush sends a
//! report and its later correction in the order they were made; and while
//! the spool holds anything, a correction goes into it without being
//! tried, so it cannot overtake a report still waiting there.

use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Exit;

/// sysexits(3) codes used here.
pub(crate) const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;
const EX_NOINPUT: u8 = 66;
const EX_TEMPFAIL: u8 = 75;

/// The `category` of a "not spam" correction (`--not-spam`).
pub(crate) const NOT_SPAM: &str = "not-spam";

/// What `fadelist report` was asked to do.
#[derive(Debug)]
pub(crate) struct ReportArgs {
    pub server: String,
    pub token: String,
    /// A report category, or [`NOT_SPAM`].
    pub category: String,
    pub files: Vec<PathBuf>,
    pub spool: Option<PathBuf>,
    pub flush: Option<PathBuf>,
}

/// How one delivery went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 202 or 200 (duplicate): the server has it. For a correction: 200
    /// (withdrawn, now or before) or 404 (nothing to withdraw).
    Delivered,
    /// The message itself was refused: never retried.
    DataError,
    /// Try again later.
    Temporary,
}

/// The token given by `--token`, `FADELIST_TOKEN` or `--token-file` (its
/// first line, so that a file with a trailing newline works).
pub(crate) fn token(token: Option<String>, file: Option<&Path>) -> anyhow::Result<String> {
    let t = match (token, file) {
        (Some(t), _) => t,
        (None, Some(f)) => fs::read_to_string(f)
            .map_err(|e| Exit(EX_USAGE, format!("--token-file {}: {e}", f.display())))?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
        (None, None) => {
            return Err(Exit(
                EX_USAGE,
                "no token: give --token, --token-file or FADELIST_TOKEN".into(),
            )
            .into());
        }
    };
    if t.is_empty() {
        return Err(Exit(EX_USAGE, "the token is empty".into()).into());
    }
    Ok(t)
}

/// `report`: sends the files (or standard input), or flushes a spool.
pub(crate) fn report(args: ReportArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.server, &args.token);
    if let Some(dir) = &args.flush {
        return flush(&client, dir);
    }
    let mut bodies = Vec::new();
    if args.files.is_empty() {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Exit(EX_NOINPUT, format!("cannot read standard input: {e}")))?;
        bodies.push(("<stdin>".to_string(), buf));
    }
    for f in &args.files {
        let body = fs::read(f)
            .map_err(|e| Exit(EX_NOINPUT, format!("cannot read {}: {e}", f.display())))?;
        bodies.push((f.display().to_string(), body));
    }
    let (mut data_errors, mut temporary) = (0, 0);
    for (name, body) in bodies {
        // A correction must not overtake the report it corrects: sent now
        // while that report waits in the spool, it would find nothing to
        // withdraw, and the report would count once flushed. So while the
        // spool holds anything, corrections queue behind it.
        let queued =
            args.category == NOT_SPAM && args.spool.as_deref().is_some_and(|d| pending(d) > 0);
        let outcome = if queued {
            eprintln!("{name}: reports are waiting in the spool; the correction goes behind them");
            Outcome::Temporary
        } else {
            client.send(&name, &args.category, &body)
        };
        match outcome {
            Outcome::Delivered => {}
            Outcome::DataError => data_errors += 1,
            Outcome::Temporary => match &args.spool {
                Some(dir) => {
                    let path = spool(dir, &args.category, &body).map_err(|e| {
                        Exit(
                            EX_TEMPFAIL,
                            format!("{name}: not delivered, and not spooled: {e:#}"),
                        )
                    })?;
                    eprintln!("{name}: spooled as {}", path.display());
                }
                None => temporary += 1,
            },
        }
    }
    // A temporary failure first: the MTA retries the message, and a
    // retried duplicate counts once on the server.
    if temporary > 0 {
        return Err(Exit(
            EX_TEMPFAIL,
            format!("{temporary} report(s) not delivered; try again later (or use --spool)"),
        )
        .into());
    }
    if data_errors > 0 {
        return Err(Exit(EX_DATAERR, format!("{data_errors} report(s) refused")).into());
    }
    Ok(())
}

/// The HTTP side.
struct Client {
    url: String,
    server: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(server: &str, token: &str) -> Client {
        Client {
            url: format!("{}/api/v1/reports", server.trim_end_matches('/')),
            server: server.to_string(),
            token: token.to_string(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(60)))
                .build()
                .into(),
        }
    }

    /// Posts one report (or, for [`NOT_SPAM`], one correction); prints
    /// the server's answer (or why there is none) and classifies it.
    fn send(&self, name: &str, category: &str, body: &[u8]) -> Outcome {
        let not_spam = category == NOT_SPAM;
        let url = if not_spam {
            format!("{}/withdraw", self.url)
        } else {
            format!("{}?category={category}", self.url)
        };
        let resp = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "message/rfc822")
            .send(body);
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{name}: cannot reach {}: {e}", self.server);
                return Outcome::Temporary;
            }
        };
        let status = resp.status().as_u16();
        let text = resp.into_body().read_to_string().unwrap_or_default();
        println!("{name}: HTTP {status}\n{text}");
        match status {
            200..=299 => Outcome::Delivered,
            // Only the endpoint's own 404: a server without the endpoint
            // (older, or a proxy in the way) answers 404 too, and the
            // correction must then wait, not be dropped.
            404 if not_spam && text.contains("\"no_such_report\"") => {
                eprintln!("{name}: not reported by this reporter; nothing to withdraw");
                Outcome::Delivered
            }
            400 | 413 | 415 | 422 => Outcome::DataError,
            _ => Outcome::Temporary,
        }
    }
}

/// Writes `body` into the spool `dir` atomically; returns its path.
fn spool(dir: &Path, category: &str, body: &[u8]) -> anyhow::Result<PathBuf> {
    let (tmp, new) = (dir.join("tmp"), dir.join("new"));
    fs::create_dir_all(&tmp)?;
    fs::create_dir_all(&new)?;
    // Sortable by time, unique per process and call; the category rides
    // in the name so that a flush sends it as it was asked.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "{:020}.{:09}.{}.{}.{category}.eml",
        now.as_secs(),
        now.subsec_nanos(),
        std::process::id(),
        unique()
    );
    let part = tmp.join(&name);
    {
        let mut f = fs::File::create(&part)?;
        f.write_all(body)?;
        f.sync_all()?;
    }
    let done = new.join(&name);
    fs::rename(&part, &done)?;
    // The rename is durable once the directory is synced.
    fs::File::open(&new)?.sync_all()?;
    Ok(done)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// How many reports wait in the spool `dir`.
fn pending(dir: &Path) -> usize {
    fs::read_dir(dir.join("new")).map_or(0, |rd| {
        rd.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .count()
    })
}

/// `report --flush DIR`: sends the spool, oldest first.
fn flush(client: &Client, dir: &Path) -> anyhow::Result<()> {
    let new = dir.join("new");
    let mut files: Vec<PathBuf> = match fs::read_dir(&new) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Exit(EX_NOINPUT, format!("{}: {e}", new.display())).into()),
    };
    files.sort();
    let (mut sent, mut refused) = (0, 0);
    for path in &files {
        let name = path.display().to_string();
        let body = fs::read(path).map_err(|e| Exit(EX_NOINPUT, format!("{name}: {e}")))?;
        let category = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.rsplit('.').next())
            .unwrap_or("spam");
        match client.send(&name, category, &body) {
            Outcome::Delivered => {
                fs::remove_file(path)?;
                sent += 1;
            }
            Outcome::DataError => {
                let failed = dir.join("failed");
                fs::create_dir_all(&failed)?;
                let file_name = path.file_name().unwrap_or_default();
                fs::rename(path, failed.join(file_name))?;
                refused += 1;
            }
            Outcome::Temporary => {
                let left = files.len() - sent - refused;
                return Err(Exit(
                    EX_TEMPFAIL,
                    format!(
                        "{sent} sent, {refused} refused, {left} left in {}: try again later",
                        new.display()
                    ),
                )
                .into());
            }
        }
    }
    eprintln!(
        "spool {}: {sent} sent, {refused} refused (moved to {})",
        dir.display(),
        dir.join("failed").display()
    );
    Ok(())
}
