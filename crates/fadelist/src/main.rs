//! The `fadelist` command line. Thin: parse arguments, then call the
//! library exactly as the tests do.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use fadelist::config::{Config, ZoneSpec, embedded_default};
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
    },
    /// Check a configuration file and load every data file it names;
    /// prints a summary, or the first error with file and line.
    CheckConfig {
        /// The configuration file.
        file: PathBuf,
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
    config.validate()?;
    Ok(config)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("FADELIST_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,hickory_server=warn,hickory_proto=warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    match cli.command {
        Command::Serve {
            zones,
            dns_listen,
            http_listen,
        } => {
            let mut config = build_config(&zones)?;
            if !dns_listen.is_empty() {
                config.server.dns_listen = dns_listen;
            }
            if let Some(h) = http_listen {
                config.server.http_listen = h;
            }
            let zone_set = fadelist::load_zones(&config)?;
            let listeners = fadelist::bind(&config)?;
            for addr in listeners.dns_addrs()? {
                println!("fadelist: DNS listening on {addr} (UDP and TCP)");
            }
            println!(
                "fadelist: HTTP listening on http://{}",
                listeners.http_addr()?
            );
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
