//! The `fadelist` command line. Thin: parse arguments, then call the
//! library exactly as the tests do.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use fadelist::config::{Config, ZoneSpec, embedded_default};
use fadelist_store::Read as _;
use tokio_util::sync::CancellationToken;
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
struct ZoneArgs {
    /// Configuration file (TOML; see deploy/fadelist.example.toml). Without
    /// it the embedded default is used: zones iprbl.test, niprbl.test and
    /// urirbl.test on loopback with the RFC 5782 test entries — unless
    /// --zone is given, which then defines the zones (like rbldnsd).
    #[arg(long, short = 'c', env = "FADELIST_CONFIG")]
    config: Option<PathBuf>,
    /// Zone in rbldnsd syntax, NAME:TYPE:FILE[,FILE...], e.g.
    /// bl.example.net:ip4set:spam.txt. TYPE is ip4set, ip4tset, ip4trie,
    /// ip6tset, ip6trie or dnset. Repeat it; repeated zone names form one
    /// zone whose answer is the union of its datasets.
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
struct DbArgs {
    /// Configuration file (for its [store] path).
    #[arg(long, short = 'c', env = "FADELIST_CONFIG")]
    config: Option<PathBuf>,
    /// SQLite database; overrides the configuration.
    #[arg(long, value_name = "PATH", env = "FADELIST_DB")]
    db: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum ReporterCmd {
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
        /// The reporter's own MX/filter networks (CIDR), skipped when
        /// finding the source in Received headers. Repeatable.
        #[arg(long, value_name = "CIDR")]
        trusted: Vec<String>,
    },
    /// List reporters.
    List,
    /// Suspend a reporter: its reports are refused with 403.
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
}

#[derive(Subcommand, Debug)]
enum AdminCmd {
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
}

#[derive(Subcommand, Debug)]
enum NeverlistCmd {
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
        /// DNS address, UDP and TCP (repeatable; port 0 picks a free port).
        /// Default 127.0.0.1:5300.
        #[arg(long, value_name = "ADDR:PORT")]
        dns_listen: Vec<SocketAddr>,
        /// HTTP status API address. Default 127.0.0.1:8300.
        #[arg(long, value_name = "ADDR:PORT")]
        http_listen: Option<SocketAddr>,
        /// Which code answers UDP: fast (default), hickory, or null (a
        /// fixed reply to everything, for benchmarks only).
        #[arg(long, value_enum)]
        udp_mode: Option<fadelist::config::UdpModeConfig>,
        /// UDP worker threads per DNS address (fast path; default one per CPU).
        #[arg(long, value_name = "N")]
        udp_workers: Option<usize>,
        /// Which code answers TCP: fast (default) or hickory.
        #[arg(long, value_enum)]
        tcp_mode: Option<fadelist::config::TcpModeConfig>,
        /// How long a UDP worker waits after a small batch before reading
        /// again (e.g. 20us, the default; 0 = never).
        #[arg(long, value_name = "DURATION", value_parser = fadelist::config::parse_duration)]
        udp_batch_wait: Option<std::time::Duration>,
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
    Report {
        /// Server base URL, e.g. http://127.0.0.1:8300.
        #[arg(long, env = "FADELIST_SERVER")]
        server: String,
        /// The reporter's API token.
        #[arg(long, env = "FADELIST_TOKEN", hide_env_values = true)]
        token: String,
        /// spam, phishing or malware.
        #[arg(long, default_value = "spam")]
        category: String,
        /// Message files (raw RFC 5322 or ARF).
        files: Vec<PathBuf>,
    },
    /// Talk to a running server's admin API ([admin] listen/token):
    /// manual listings, removals, never-list, review queue, audit log.
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

fn main() -> anyhow::Result<()> {
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
        .init();

    match cli.command {
        Command::Serve {
            zones,
            dns_listen,
            http_listen,
            udp_mode,
            udp_workers,
            tcp_mode,
            udp_batch_wait,
        } => {
            let mut config = build_config(&zones)?;
            if let Some(m) = udp_mode {
                config.server.udp_mode = m;
            }
            if let Some(n) = udp_workers {
                config.server.udp_workers = n;
            }
            if let Some(m) = tcp_mode {
                config.server.tcp_mode = m;
            }
            if let Some(w) = udp_batch_wait {
                config.server.udp_batch_wait = w;
            }
            if !dns_listen.is_empty() {
                config.server.dns_listen = dns_listen;
            }
            if let Some(h) = http_listen {
                config.server.http_listen = h;
            }
            // Again: the options above may have changed checked values.
            config.validate()?;
            let zone_set = fadelist::load_zones(&config)?;
            let listeners = fadelist::bind(&config)?;
            for addr in listeners.dns_addrs()? {
                println!("fadelist: DNS listening on {addr} (UDP and TCP)");
            }
            println!(
                "fadelist: HTTP listening on http://{}",
                listeners.http_addr()?
            );
            if let Some(a) = listeners.admin_addr() {
                println!("fadelist: admin API listening on http://{a}");
            }
            for z in &config.zones {
                println!(
                    "fadelist: serving zone {}",
                    z.name.trim_end_matches('.').to_ascii_lowercase()
                );
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(async move {
                let shutdown = CancellationToken::new();
                tokio::spawn(wait_for_signal(shutdown.clone()));
                fadelist::run(config, zone_set, listeners, shutdown).await
            })
        }
        Command::CheckConfig { file } => {
            let config = Config::load(&file)?;
            let zone_set = fadelist::load_zones(&config)?;
            let snapshot = zone_set.snapshot();
            println!("{}: OK", file.display());
            for z in &snapshot.zones {
                println!("  zone {}: {} dataset(s)", z.name(), z.datasets.len());
            }
            Ok(())
        }
        Command::Reporter { db, cmd } => reporter_cmd(&db, cmd),
        Command::Admin { server, token, cmd } => admin_cmd(&server, &token, cmd),
        Command::Neverlist { db, cmd } => neverlist_cmd(&db, cmd),
        Command::Report {
            server,
            token,
            category,
            files,
        } => report_cmd(&server, &token, &category, &files),
        Command::Export { zones, format, out } => {
            if format != "rbldnsd" {
                bail!("unknown export format {format:?} (supported: rbldnsd)");
            }
            let config = build_config(&zones)?;
            let snapshot = fadelist::load_zones(&config)?.snapshot();
            let specs = fadelist::export::export_rbldnsd(&snapshot, &out)?;
            println!(
                "wrote {} file(s) to {}; serve them with:",
                specs.len(),
                out.display()
            );
            println!("  rbldnsd -r {} {}", out.display(), specs.join(" "));
            Ok(())
        }
    }
}

fn open_db(args: &DbArgs) -> anyhow::Result<fadelist_store::Store> {
    let mut config = match &args.config {
        Some(p) => Config::load(p)?,
        None => embedded_default(),
    };
    if let Some(db) = &args.db {
        config.store.path = db.clone();
    }
    fadelist::open_store(&config)
}

fn now() -> i64 {
    fadelist::clock::unix_now() as i64
}

fn reporter_cmd(args: &DbArgs, cmd: ReporterCmd) -> anyhow::Result<()> {
    let mut store = open_db(args)?;
    match cmd {
        ReporterCmd::Add {
            name,
            weight,
            kind,
            trusted,
        } => {
            let sane = weight > 0.0 && weight <= 100.0;
            if !sane {
                bail!("--weight must be above 0 and at most 100");
            }
            for t in &trusted {
                t.parse::<ipnet::IpNet>()
                    .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| format!("--trusted {t:?} is not a CIDR"))?;
            }
            let kind = if kind == "trap" {
                fadelist_store::ReporterKind::Trap
            } else {
                fadelist_store::ReporterKind::User
            };
            let mut raw = [0u8; 24];
            getrandom::fill(&mut raw)
                .map_err(|e| anyhow::anyhow!("no randomness for the token: {e}"))?;
            let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            let r = store.add_reporter(&name, weight, kind, &trusted, &token, now())?;
            println!(
                "reporter {} added (id {}, weight {}, {:?})",
                r.name, r.id, r.weight, r.kind
            );
            println!("token: {token}");
            println!("(shown once; only its hash is stored)");
        }
        ReporterCmd::List => {
            for r in store.reporters()? {
                let status = if r.removed {
                    "removed"
                } else if r.suspended {
                    "suspended"
                } else {
                    "active"
                };
                println!(
                    "{}\t{:?}\tweight {}\t{}\ttrusted [{}]",
                    r.name,
                    r.kind,
                    r.weight,
                    status,
                    r.trusted.join(", ")
                );
            }
        }
        ReporterCmd::Suspend { name } => {
            if !store.set_suspended(&name, true, now())? {
                bail!("no reporter named {name:?}");
            }
            println!("reporter {name} suspended");
        }
        ReporterCmd::Reinstate { name } => {
            if !store.set_suspended(&name, false, now())? {
                bail!("no reporter named {name:?}");
            }
            println!("reporter {name} reinstated");
        }
        ReporterCmd::Remove { name } => {
            if !store.remove_reporter(&name, now())? {
                bail!("no reporter named {name:?}");
            }
            println!("reporter {name} removed");
        }
    }
    Ok(())
}

fn neverlist_cmd(args: &DbArgs, cmd: NeverlistCmd) -> anyhow::Result<()> {
    let mut store = open_db(args)?;
    match cmd {
        NeverlistCmd::Add { entry, reason } => {
            let text = fadelist::input::parse_never(&entry)?.text();
            if store.never_list_add(&text, &reason, now())? {
                println!("never-list: added {text}");
            } else {
                println!("never-list: {text} was already there");
            }
        }
        NeverlistCmd::Remove { entry } => {
            let text = fadelist::input::parse_never(&entry)
                .map(|e| e.text())
                .unwrap_or_else(|_| entry.clone());
            if !store.never_list_remove(&text, now())? {
                bail!("{entry:?} is not on the never-list");
            }
            println!("never-list: removed {text}");
        }
        NeverlistCmd::List => {
            for e in store.never_list()? {
                println!("{}\t{}", e.entry, e.reason);
            }
        }
    }
    Ok(())
}

fn admin_cmd(server: &str, token: &str, cmd: AdminCmd) -> anyhow::Result<()> {
    use serde_json::json;
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let (method, path, body) = match cmd {
        AdminCmd::List {
            key,
            zone,
            code,
            reason,
            expires_in,
        } => (
            "POST",
            "/admin/v1/listings".to_string(),
            Some(
                json!({"key": key, "zone": zone, "code": code, "reason": reason, "expires_in": expires_in}),
            ),
        ),
        AdminCmd::Unlist { zone, key } => (
            "DELETE",
            format!("/admin/v1/listings/{}/{}", enc(&zone), enc(&key)),
            None,
        ),
        AdminCmd::Listings => ("GET", "/admin/v1/listings".into(), None),
        AdminCmd::NeverAdd { entry, reason } => (
            "POST",
            "/admin/v1/neverlist".into(),
            Some(json!({"entry": entry, "reason": reason})),
        ),
        AdminCmd::NeverRemove { entry } => (
            "DELETE",
            format!("/admin/v1/neverlist/{}", enc(&entry)),
            None,
        ),
        AdminCmd::Never => ("GET", "/admin/v1/neverlist".into(), None),
        AdminCmd::Review => ("GET", "/admin/v1/review".into(), None),
        AdminCmd::Approve { id } => ("POST", format!("/admin/v1/review/{id}/approve"), None),
        AdminCmd::Deny { id } => ("POST", format!("/admin/v1/review/{id}/deny"), None),
        AdminCmd::Audit {
            key,
            zone,
            action,
            since,
            limit,
        } => {
            let mut q = vec![format!("limit={limit}")];
            for (k, v) in [("key", key), ("zone", zone), ("action", action)] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", enc(&v)));
                }
            }
            if let Some(t) = since {
                q.push(format!("since={t}"));
            }
            ("GET", format!("/admin/v1/audit?{}", q.join("&")), None)
        }
        AdminCmd::Reporters => ("GET", "/admin/v1/reporters".into(), None),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let auth = format!("Bearer {token}");
    let resp = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
        (_, Some(b)) => agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(b.to_string().as_bytes()),
        (_, None) => agent.post(&url).header("Authorization", &auth).send_empty(),
    }
    .with_context(|| format!("cannot reach the admin API at {server}"))?;
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    println!("{text}");
    if status >= 300 {
        bail!("admin API answered HTTP {status}");
    }
    Ok(())
}

fn report_cmd(server: &str, token: &str, category: &str, files: &[PathBuf]) -> anyhow::Result<()> {
    use std::io::Read;
    let mut bodies = Vec::new();
    if files.is_empty() {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        bodies.push(("<stdin>".to_string(), buf));
    }
    for f in files {
        bodies.push((
            f.display().to_string(),
            std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?,
        ));
    }
    let url = format!(
        "{}/api/v1/reports?category={category}",
        server.trim_end_matches('/')
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let mut failed = 0;
    for (name, body) in bodies {
        let resp = agent
            .post(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "message/rfc822")
            .send(&body[..])
            .with_context(|| format!("cannot reach {server}"))?;
        let status = resp.status().as_u16();
        let text = resp.into_body().read_to_string().unwrap_or_default();
        println!("{name}: HTTP {status}\n{text}");
        if status >= 300 {
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} report(s) refused");
    }
    Ok(())
}

/// Cancels `shutdown` on SIGTERM or Ctrl-C (SIGINT).
async fn wait_for_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
                shutdown.cancel();
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.cancel();
}
