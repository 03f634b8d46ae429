//! The `fadelist` command line: argument definitions and dispatch. Each
//! command lives in its own module and calls the library exactly as the
//! tests do: `serve` (the server, `check-config`, `export`),
//! `offline` (reporters and the never-list, straight in the database),
//! `client` (`report` and `admin`, HTTP clients of a running server).
//!
//! It is part of the library (the binary's `main` only calls [`main`]) so
//! that the end-to-end tests can build the very same command line.
//!
//! Exit status: 0 on success, 64 (`EX_USAGE` of sysexits.h) when a value
//! given on the command line is refused after clap accepted its shape
//! (a `--trusted` that is not an IP or CIDR, a weight out of range), 2 for
//! clap's own usage errors, 1 for everything else.

mod client;
mod offline;
mod report;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{Config, ZoneSpec, embedded_default};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// fadelist: a DNSBL (DNS blocklist) server.
///
/// Serves iprbl/niprbl/urirbl-style zones over DNS (UDP and TCP) from
/// rbldnsd-format data files, reloading them when they change.
#[derive(Parser, Debug)]
#[command(name = "fadelist", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by the commands that load zones.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ZoneArgs {
    /// Configuration file (TOML; see deploy/fadelist.example.toml). Without
    /// it the embedded default is used: zones iprbl.test, niprbl.test and
    /// urirbl.test on loopback with the RFC 5782 test entries — unless
    /// --zone is given, which then defines the zones (like rbldnsd).
    #[arg(long, short = 'c', env = "FADELIST_CONFIG")]
    config: Option<PathBuf>,
    /// Zone in rbldnsd syntax, NAME:TYPE:FILE[,FILE...], e.g.
    /// bl.example.net:ip4set:spam.txt. TYPE is ip4set, ip4tset, ip4trie,
    /// ip6tset, ip6trie or dnset, or acl for the zone's querier ACL
    /// (rbldnsd's format; one per zone). Repeat it; repeated zone names form
    /// one zone whose answer is the union of its datasets.
    #[arg(long = "zone", short = 'z', value_name = "SPEC")]
    zones: Vec<ZoneSpec>,
    /// Directory that relative data-file paths are resolved against
    /// (rbldnsd -r). Default: the working directory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// SQLite database (reporters, reports, listings, audit). Default:
    /// fadelist.sqlite in the working directory, or [store] path.
    #[arg(long, value_name = "PATH", env = "FADELIST_DB")]
    db: Option<PathBuf>,
}

/// Options of the commands that only need the database.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct DbArgs {
    /// Configuration file (for its [store] path).
    // `global`: accepted after the subcommand too (`reporter add NAME
    // --db PATH`), where people type it.
    #[arg(long, short = 'c', env = "FADELIST_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// SQLite database; overrides the configuration.
    #[arg(long, value_name = "PATH", env = "FADELIST_DB", global = true)]
    pub db: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ReporterCmd {
    /// Add a reporter and print its API token (shown once; only its hash
    /// is stored).
    Add {
        /// Unique name, e.g. the reporting mail system.
        name: String,
        /// Weight of each report (1.0 = one ordinary report).
        #[arg(long, default_value_t = 1.0)]
        weight: f64,
        /// `user` (people reporting spam) or `trap` (spam traps).
        #[arg(long, default_value = "user", value_parser = ["user", "trap"])]
        kind: String,
        /// The reporter's own MX/filter hosts, skipped when finding the
        /// source in Received headers: an IP (a /32 or /128) or a CIDR
        /// network, stored normalised. A CIDR with host bits set
        /// (10.0.0.1/8) is refused. Repeatable.
        #[arg(long, value_name = "IP|CIDR")]
        trusted: Vec<String>,
    },
    /// List reporters.
    List,
    /// Replace a reporter's trusted networks (all of them; none given
    /// clears the list).
    SetTrusted {
        /// Reporter name.
        name: String,
        /// An IP or CIDR, as for `add`. Repeatable.
        #[arg(long, value_name = "IP|CIDR")]
        trusted: Vec<String>,
    },
    /// Suspend a reporter: its reports are refused with 403 and its
    /// evidence stops counting (kept: it counts again when reinstated).
    /// Listings it helped make end by decay; to end them at once, revert.
    Suspend {
        /// Reporter name.
        name: String,
    },
    /// Lift a suspension.
    Reinstate {
        /// Reporter name.
        name: String,
    },
    /// Remove a reporter: its token stops working and its pending
    /// contributions stop counting; past reports stay as evidence.
    Remove {
        /// Reporter name.
        name: String,
    },
    /// Undo a rogue reporter, for a stopped server (a running one keeps
    /// serving what it loaded: use `fadelist admin revert-reporter`):
    /// suspend it, withdraw all its reports as evidence, and delist at
    /// once every key the remaining evidence would not list, minimum
    /// listing time or not.
    Revert {
        /// Reporter name.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum AdminCmd {
    /// List an IP or domain by hand.
    List {
        /// IP address or domain.
        key: String,
        /// Report-fed zone, e.g. iprbl.example.net.
        #[arg(long)]
        zone: String,
        /// Return code (default 127.0.0.2).
        #[arg(long)]
        code: Option<String>,
        /// Reason, shown in TXT answers and lookup pages.
        #[arg(long)]
        reason: String,
        /// Lifetime, e.g. 7d (default: until removed).
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Remove a listing (manual or from reports; evidence is discarded).
    Unlist {
        /// Zone.
        zone: String,
        /// IP address or domain.
        key: String,
    },
    /// Show manual listings.
    Listings,
    /// Never list an IP, CIDR or domain.
    NeverAdd {
        /// Entry.
        entry: String,
        /// Why.
        #[arg(long, default_value = "operator decision")]
        reason: String,
    },
    /// Remove a never-list entry.
    NeverRemove {
        /// Entry.
        entry: String,
    },
    /// Show the never-list.
    Never,
    /// Show delisting requests waiting for review.
    Review,
    /// Approve a queued delisting request (removes the listing).
    Approve {
        /// Request id.
        id: i64,
    },
    /// Deny a queued delisting request.
    Deny {
        /// Request id.
        id: i64,
    },
    /// Query the audit log.
    Audit {
        /// Only this key.
        #[arg(long)]
        key: Option<String>,
        /// Only this zone.
        #[arg(long)]
        zone: Option<String>,
        /// Only this action (listed, delisted, manual-list, delist-queued, …).
        #[arg(long)]
        action: Option<String>,
        /// Only entries at or after this Unix time.
        #[arg(long)]
        since: Option<i64>,
        /// At most this many entries.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show reporters.
    Reporters,
    /// Add a reporter; prints it and its API token (shown once).
    AddReporter {
        /// Unique name.
        name: String,
        /// Weight of each report (1.0 = one ordinary report).
        #[arg(long, default_value_t = 1.0)]
        weight: f64,
        /// `user` or `trap`.
        #[arg(long, default_value = "user", value_parser = ["user", "trap"])]
        kind: String,
        /// The reporter's own MX/filter hosts: an IP or a CIDR network.
        /// Repeatable.
        #[arg(long, value_name = "IP|CIDR")]
        trusted: Vec<String>,
    },
    /// Replace a reporter's trusted networks (none given clears them).
    SetTrusted {
        /// Reporter name.
        name: String,
        /// An IP or a CIDR network. Repeatable.
        #[arg(long, value_name = "IP|CIDR")]
        trusted: Vec<String>,
    },
    /// Undo a rogue reporter: suspend it, withdraw all its reports as
    /// evidence, and delist at once (DNS included) every key the
    /// remaining evidence would not list, minimum listing time or not.
    RevertReporter {
        /// Reporter name.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum ConfigCmd {
    /// The full default configuration (what `serve` runs with when no
    /// --config is given), every key at its default value; a starting
    /// point for a configuration file.
    Default,
}

/// The text `config default` prints (checked against the built-in
/// defaults by a test).
pub const DEFAULT_CONFIG: &str = include_str!("../default.toml");

#[derive(Subcommand, Debug)]
pub(crate) enum NeverlistCmd {
    /// Never list this IP, CIDR or domain (and its subdomains).
    Add {
        /// IP address, CIDR or domain.
        entry: String,
        /// Why (shown in the audit log).
        #[arg(long, default_value = "operator decision")]
        reason: String,
    },
    /// Remove a never-list entry.
    Remove {
        /// The entry as added.
        entry: String,
    },
    /// List never-list entries.
    List,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server until SIGTERM or Ctrl-C. Prints the DNS and HTTP
    /// addresses once it is listening.
    Serve {
        #[command(flatten)]
        zones: ZoneArgs,
        #[command(flatten)]
        opts: serve::ServeArgs,
    },
    /// Check a configuration file and load every data file it names;
    /// prints a summary, or the first error with file and line.
    CheckConfig {
        /// The configuration file.
        file: PathBuf,
    },
    /// Manage reporters (who may POST reports).
    Reporter {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        cmd: ReporterCmd,
    },
    /// Manage the never-list (keys that are never listed).
    Neverlist {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        cmd: NeverlistCmd,
    },
    /// Send spam samples to a fadelist server (a file per report; standard
    /// input when no file is given). Prints the server's JSON answers.
    /// Exit status as sysexits(3), for MTAs: 0 delivered (or spooled), 65
    /// refused as data, 66 unreadable input, 75 try again later
    /// (unreachable, busy, 5xx, token refused). `--not-spam` takes reports
    /// back instead.
    Report {
        /// Server base URL, e.g. http://127.0.0.1:8300.
        #[arg(long, env = "FADELIST_SERVER")]
        server: String,
        /// The reporter's API token.
        #[arg(long, env = "FADELIST_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A file holding the token (first line); keeps it out of the
        /// process list and the environment.
        #[arg(long, value_name = "FILE", conflicts_with = "token")]
        token_file: Option<PathBuf>,
        /// Keep what cannot be delivered now (server down, busy, failing)
        /// in this directory, one file per report, and exit 0.
        #[arg(long, value_name = "DIR", conflicts_with = "flush")]
        spool: Option<PathBuf>,
        /// Send what a spool directory holds, oldest first, removing each
        /// report once accepted; stops (exit 75) at the first temporary
        /// failure. Takes no message files.
        #[arg(long, value_name = "DIR", conflicts_with = "files")]
        flush: Option<PathBuf>,
        /// spam, phishing, malware or newsletter (a bulk sender: its source goes to the bulk zone, its links are not listed).
        #[arg(long, default_value = "spam")]
        category: String,
        /// Send a "not spam" correction instead: withdraw this reporter's
        /// earlier report of each message (found by Message-ID and body
        /// hash). A message it never reported is a note, exit 0.
        #[arg(long, conflicts_with_all = ["flush", "category"])]
        not_spam: bool,
        /// Message files (raw RFC 5322 or ARF).
        files: Vec<PathBuf>,
    },
    /// Talk to a running server's admin API ([admin] listen/token):
    /// manual listings, removals, never-list, review queue, audit log,
    /// reporters (add, trusted networks, revert).
    Admin {
        /// Admin API base URL.
        #[arg(
            long,
            env = "FADELIST_ADMIN_URL",
            default_value = "http://127.0.0.1:8301"
        )]
        server: String,
        /// Admin token.
        #[arg(long, env = "FADELIST_ADMIN_TOKEN", hide_env_values = true)]
        token: String,
        #[command(subcommand)]
        cmd: AdminCmd,
    },
    /// Print configuration: `config default` prints the full default
    /// configuration, every key at its default value.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Write a consistent copy of the database, safe while the server is
    /// running and writing (SQLite `VACUUM INTO`), checked with
    /// `PRAGMA integrity_check`, mode 0600. Restore: stop the server,
    /// replace the database with the copy (removing any `-wal`/`-shm`
    /// files beside the old one), start the server.
    Backup {
        #[command(flatten)]
        db: DbArgs,
        /// The copy to write; must not exist.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write the zones' current data as files that stock rbldnsd serves
    /// with the same answers (for rbldnsd mirror fleets).
    Export {
        #[command(flatten)]
        zones: ZoneArgs,
        /// Output format. Only `rbldnsd` exists.
        #[arg(long, default_value = "rbldnsd")]
        format: String,
        /// Output directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

fn build_config(args: &ZoneArgs) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None if !args.zones.is_empty() => Config {
            zones: Vec::new(),
            ..embedded_default()
        },
        None => embedded_default(),
    };
    config.add_zone_specs(&args.zones);
    // A configuration file without zones would serve nothing and accept
    // reports into no zone, silently: refuse it, saying what to do.
    if let Some(path) = &args.config
        && config.zones.is_empty()
    {
        return Err(UsageError(format!(
            "{}: no [[zone]] and no --zone: nothing to serve. Add zones (feed = \"ip\", \
             \"bulk-ip\" or \"domain\" for report-fed ones; see deploy/fadelist.example.toml), \
             or run without --config for the embedded default zones",
            path.display()
        ))
        .into());
    }
    if let Some(dir) = &args.data_dir {
        config.server.data_dir = Some(dir.clone());
    }
    if let Some(db) = &args.db {
        config.store.path = db.clone();
    }
    if config.admin.token.is_none()
        && let Ok(t) = std::env::var("FADELIST_ADMIN_TOKEN")
        && !t.is_empty()
    {
        config.admin.token = Some(t);
    }
    config.validate()?;
    Ok(config)
}
/// A value on the command line that the command cannot use (clap accepted
/// its shape): the message is for the user, the exit status 64.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub String);

/// An error with its own exit status (sysexits(3), for callers such as
/// MTAs that act on it).
#[derive(Debug, thiserror::Error)]
#[error("{1}")]
pub(crate) struct Exit(pub u8, pub String);

/// Parses the command line, runs the command, and says how it went: the
/// error (if any) on standard error, as `main` returning it would, and the
/// exit status (see the module documentation).
pub fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:?}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(64)
            } else if let Some(Exit(code, _)) = e.downcast_ref::<Exit>() {
                ExitCode::from(*code)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The server logs what it does; one-shot commands only warnings.
    let default_filter = match cli.command {
        Command::Serve { .. } => "info,hickory_server=warn,hickory_proto=warn",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("FADELIST_LOG")
                .unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: journald, files and pipes
        // get plain text (and NO_COLOR is honoured, https://no-color.org).
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();

    match cli.command {
        Command::Serve { zones, opts } => serve::serve(build_config(&zones)?, opts),
        Command::CheckConfig { file } => serve::check_config(&file),
        Command::Reporter { db, cmd } => offline::reporter(&db, cmd),
        Command::Admin { server, token, cmd } => client::admin(&server, &token, cmd),
        Command::Neverlist { db, cmd } => offline::neverlist(&db, cmd),
        Command::Backup { db, out } => offline::backup(&db, &out),
        Command::Config {
            cmd: ConfigCmd::Default,
        } => {
            print!("{DEFAULT_CONFIG}");
            Ok(())
        }
        Command::Report {
            server,
            token,
            token_file,
            category,
            not_spam,
            files,
            spool,
            flush,
        } => report::report(report::ReportArgs {
            token: report::token(token, token_file.as_deref())?,
            server,
            // A correction rides where a category does (down to spool file
            // names), so that a flush sends it to the right endpoint.
            category: if not_spam {
                report::NOT_SPAM.to_string()
            } else {
                category
            },
            files,
            spool,
            flush,
        }),
        Command::Export { zones, format, out } => {
            serve::export(build_config(&zones)?, &format, &out)
        }
    }
}
