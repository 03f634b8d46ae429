//! `serve`, `check-config` and `export`: the commands that load zones.

use std::net::SocketAddr;
use std::path::Path;

use crate::config::Config;
use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

/// `serve` options over the configuration's `[server]`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// DNS address, UDP and TCP (repeatable; port 0 picks a free port).
    /// Default 127.0.0.1:5300.
    #[arg(long, value_name = "ADDR:PORT")]
    pub dns_listen: Vec<SocketAddr>,
    /// HTTP status API address. Default 127.0.0.1:8300.
    #[arg(long, value_name = "ADDR:PORT")]
    pub http_listen: Option<SocketAddr>,
    /// Which code answers UDP: fast (default), hickory, or null (a
    /// fixed reply to everything, for benchmarks only).
    #[arg(long, value_enum)]
    pub udp_mode: Option<crate::config::UdpModeConfig>,
    /// UDP worker threads per DNS address (fast path; default one per CPU).
    #[arg(long, value_name = "N")]
    pub udp_workers: Option<usize>,
    /// Which code answers TCP: fast (default) or hickory.
    #[arg(long, value_enum)]
    pub tcp_mode: Option<crate::config::TcpModeConfig>,
    /// How long a UDP worker waits after a small batch before reading
    /// again (e.g. 20us, the default; 0 = never).
    #[arg(long, value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub udp_batch_wait: Option<std::time::Duration>,
}

/// Runs the server on `config` with `opts` applied, until SIGTERM or
/// Ctrl-C.
pub fn serve(mut config: Config, opts: ServeArgs) -> anyhow::Result<()> {
    let ServeArgs {
        dns_listen,
        http_listen,
        udp_mode,
        udp_workers,
        tcp_mode,
        udp_batch_wait,
    } = opts;
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
    raise_descriptor_limit();
    let mut zone_set = crate::load_zones(&config)?;
    if let Some(path) = crate::serial_file(&config) {
        zone_set.keep_serials_in(path, crate::clock::unix_now());
    }
    // The database is opened (created, migrated) and checked before any
    // listener is announced: a corrupt or unreadable one is a clear error
    // here, not an exit after "DNS listening".
    let path = config.store.path.display().to_string();
    crate::open_store(&config)
        .and_then(|s| {
            s.quick_check()
                .map_err(|e| anyhow::anyhow!(e).context("integrity check (PRAGMA quick_check)"))
        })
        .with_context(|| format!("database {path}"))?;
    let listeners = crate::bind(&config)?;
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
    if let Some(a) = listeners.metrics_addr() {
        println!("fadelist: metrics listening on http://{a}/metrics");
    }
    for z in &config.zones {
        println!("fadelist: serving zone {}", z.name);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(wait_for_signal(shutdown.clone()));
        crate::run(config, zone_set, listeners, shutdown).await
    })
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and logs both: the
/// soft default (often 1,024) is far below what a public server's
/// connections need, while the hard limit is what the administrator
/// allowed (systemd's `LimitNOFILE`). The HTTP connection cap is then
/// derived from the result ([`crate::http_limits`]).
fn raise_descriptor_limit() {
    use rlimit::Resource;
    let show = |v: Option<u64>| v.map_or_else(|| "?".to_string(), |n| n.to_string());
    let before = rlimit::getrlimit(Resource::NOFILE).ok();
    let (soft, hard) = (show(before.map(|b| b.0)), show(before.map(|b| b.1)));
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            tracing::info!("open-file limit (RLIMIT_NOFILE): {now} (was {soft}, hard limit {hard})")
        }
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit (RLIMIT_NOFILE, now {soft}): {e}")
        }
    }
}

/// `check-config FILE`: loads every data file the configuration names.
pub fn check_config(file: &Path) -> anyhow::Result<()> {
    let config = Config::load(file)?;
    let zone_set = crate::load_zones(&config)?;
    let snapshot = zone_set.snapshot();
    println!("{}: OK", file.display());
    for z in &snapshot.zones {
        println!("  zone {}: {} dataset(s)", z.name(), z.datasets.len());
    }
    Ok(())
}

/// `export`: writes the zones' data as rbldnsd files.
pub fn export(config: Config, format: &str, out: &Path) -> anyhow::Result<()> {
    if format != "rbldnsd" {
        bail!("unknown export format {format:?} (supported: rbldnsd)");
    }
    let snapshot = crate::load_zones(&config)?.snapshot();
    let specs = crate::export::export_rbldnsd(&snapshot, out)?;
    println!(
        "wrote {} file(s) to {}; serve them with:",
        specs.len(),
        out.display()
    );
    println!("  rbldnsd -r {} {}", out.display(), specs.join(" "));
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
