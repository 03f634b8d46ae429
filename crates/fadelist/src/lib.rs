//! The fadelist server as a library: what `main` calls, tests call too.
//!
//! [`bind`] opens the listeners (so callers can learn and print the real
//! ports before serving), [`run`] serves until the shutdown token is
//! cancelled: DNS (UDP + TCP), the HTTP API and the data-file reloader all
//! stop on that one token.
#![warn(missing_docs)]

pub(crate) mod admin;
pub(crate) mod app;
pub(crate) mod chart;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod delist;
pub(crate) mod error;
pub mod export;
pub(crate) mod feeds;
pub(crate) mod follower;
pub mod health;
pub(crate) mod home;
pub(crate) mod http;
pub mod httpd;
pub mod input;
pub mod limits;
pub(crate) mod listings;
pub(crate) mod lookup;
pub(crate) mod mem;
pub mod metrics;
pub(crate) mod read;
pub(crate) mod reports;
pub(crate) mod sched;
pub(crate) mod systemd;
pub mod zones;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use fadelist_dns::server::DnsListeners;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use config::Config;
use zones::ZoneSet;

/// Bound listeners.
#[derive(Debug)]
pub struct Listeners {
    /// DNS sockets (UDP and TCP per address).
    pub dns: DnsListeners,
    /// HTTP listener.
    pub http: std::net::TcpListener,
    /// Admin API listener (only when an admin token is configured).
    pub admin: Option<std::net::TcpListener>,
    /// Prometheus metrics listener (only with `[metrics] listen`).
    pub metrics: Option<std::net::TcpListener>,
}

impl Listeners {
    /// DNS addresses actually bound.
    pub fn dns_addrs(&self) -> std::io::Result<Vec<SocketAddr>> {
        self.dns.local_addrs()
    }

    /// HTTP address actually bound.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// Admin API address actually bound, if the API is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Metrics address actually bound, if metrics are on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }
}

/// Binds the listeners named in `config`. With `[metrics] listen`, the
/// DNS fronts are bound with the counters the metrics listener reads.
pub fn bind(config: &Config) -> anyhow::Result<Listeners> {
    let mut options = dns_options(config);
    let metrics = match config.metrics.listen {
        Some(addr) => {
            let l = std::net::TcpListener::bind(addr)
                .with_context(|| format!("cannot bind the metrics listener {addr}"))?;
            l.set_nonblocking(true)?;
            // Zone labels in the order of the snapshot's zones, which is
            // the configuration's (zones::ZoneSet keeps it).
            options.metrics = Some(fadelist_dns::metrics::DnsMetrics::new(
                config.zones.iter().map(|z| z.name.to_string()).collect(),
            ));
            Some(l)
        }
        None => None,
    };
    let dns = fadelist_dns::server::bind_with(&config.server.dns_listen, options)
        .context("cannot bind DNS")?;
    let http = std::net::TcpListener::bind(config.server.http_listen)
        .with_context(|| format!("cannot bind HTTP {}", config.server.http_listen))?;
    http.set_nonblocking(true)?;
    let admin = match &config.admin.token {
        Some(_) => {
            let l = std::net::TcpListener::bind(config.admin.listen)
                .with_context(|| format!("cannot bind the admin API {}", config.admin.listen))?;
            l.set_nonblocking(true)?;
            Some(l)
        }
        None => None,
    };
    Ok(Listeners {
        dns,
        http,
        admin,
        metrics,
    })
}

/// The DNS front's options from `[server]`, `[rrl]` and `[dns_quota]`.
pub fn dns_options(config: &Config) -> fadelist_dns::server::DnsOptions {
    config.dns_options()
}

/// Where the zones' serial floors are kept: beside the database
/// (`fadelist.db.serials`); `None` for an in-memory database.
pub fn serial_file(config: &Config) -> Option<std::path::PathBuf> {
    let db = &config.store.path;
    let name = db.file_name()?.to_str()?;
    (name != ":memory:" && !name.is_empty()).then(|| db.with_file_name(format!("{name}.serials")))
}

/// Loads the zones of `config` (blocking: reads and parses data files).
pub fn load_zones(config: &Config) -> anyhow::Result<ZoneSet> {
    ZoneSet::load(config, clock::unix_now())
}

/// The base URL of the lookup pages, as written in TXT answers.
pub fn public_base_url(config: &Config) -> String {
    match &config.ingest.public_base_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{}", config.server.http_listen),
    }
}

/// Opens the store named in `config` (creating it if missing).
pub fn open_store(config: &Config) -> anyhow::Result<fadelist_store::Store> {
    let path = &config.store.path;
    fadelist_store::Store::open(path)
        .with_context(|| format!("cannot open the database {}", path.display()))
}

/// Warns, once per reporter, about stored trusted networks that are not
/// IPs or CIDRs (written by hand, or by a version that did not check
/// them). They protect nothing: such a reporter's own MX may be taken for
/// the source of its reports, and listed. Returns the names warned about.
fn warn_unreadable_trusted(reporters: &[fadelist_store::Reporter]) -> Vec<&str> {
    let mut warned = Vec::new();
    for r in reporters.iter().filter(|r| !r.invalid_trusted.is_empty()) {
        warn!(
            reporter = %r.name,
            ignored = ?r.invalid_trusted,
            "trusted networks that are not an IP or CIDR are ignored: the reporter's own hosts may be \
             taken for the source of its reports; fix them with `fadelist reporter set-trusted`"
        );
        warned.push(r.name.as_str());
    }
    warned
}

/// Serves `zones` on `listeners` until `shutdown` is cancelled.
pub async fn run(
    mut config: Config,
    zones: ZoneSet,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if config.ingest.public_base_url.is_none() {
        // Name the port actually bound (it may have been 0).
        config.ingest.public_base_url = Some(format!("http://{}", listeners.http_addr()?));
    }
    // SIGHUP is a reload (rbldnsd's signal, used by existing scripts and by
    // the unit's ExecReload): handled from here on, never fatal.
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot handle SIGHUP")?;
    let dns_addrs = listeners.dns_addrs()?;
    let store = open_store(&config)?;
    {
        use fadelist_store::Read as _;
        match store.reporters() {
            Ok(r) => {
                warn_unreadable_trusted(&r);
            }
            Err(e) => error!("cannot read the reporters to check their trusted networks: {e}"),
        }
    }
    let app = Arc::new(app::App::new(config, zones, store)?);
    // Loading freed far more than it kept.
    mem::release_free_memory();

    let reloader = tokio::spawn(reload_loop(app.clone(), shutdown.clone()));
    let decay = tokio::spawn(decay_loop(app.clone(), shutdown.clone()));

    let limits_sweep = tokio::spawn(sweep_loop(app.clone(), shutdown.clone()));

    let (public_limits, admin_limits) = http_limits(&app.config, listeners.admin.is_some());
    let http_listener = tokio::net::TcpListener::from_std(listeners.http)?;
    let router = http::router(app.clone());
    let http = tokio::spawn(httpd::serve(
        http_listener,
        router,
        public_limits,
        shutdown.clone(),
    ));

    let admin = match listeners.admin {
        Some(l) => {
            let l = tokio::net::TcpListener::from_std(l)?;
            let router = admin::router(app.clone());
            Some(tokio::spawn(httpd::serve(
                l,
                router,
                admin_limits,
                shutdown.clone(),
            )))
        }
        None => {
            info!("admin API off: no [admin] token configured");
            None
        }
    };

    let metrics = match listeners.metrics {
        Some(l) => {
            let dns_metrics = listeners.dns.options().metrics.clone();
            if let Some(m) = &dns_metrics {
                warn_zone_label_order(m, &app);
            }
            let l = tokio::net::TcpListener::from_std(l)?;
            info!(addr = %l.local_addr()?, "metrics listening on /metrics");
            Some(tokio::spawn(httpd::serve(
                l,
                metrics::router(app.clone(), dns_metrics),
                metrics_limits(&app.config),
                shutdown.clone(),
            )))
        }
        None => None,
    };

    let hup_task = tokio::spawn(hup_loop(app.clone(), hup, shutdown.clone()));
    let export_task = app.config.export.dir.clone().map(|dir| {
        tokio::spawn(export::export_loop(
            app.listings.publisher().clone(),
            dir,
            app.config.export.interval,
            app.config.export.expires,
            shutdown.clone(),
        ))
    });
    if !app.config.transfer.allow.is_empty() {
        // Before the first change, so that every change is in it.
        app.listings.publisher().enable_history();
    }
    let notify_task = {
        let t = &app.config.transfer;
        // Both checked with the configuration.
        let targets = t.notify_targets().unwrap_or_default();
        let key = t.notify_key.as_deref().and_then(|k| t.key_named(k).ok());
        (!targets.is_empty()).then(|| {
            tokio::spawn(fadelist_dns::notify::notify_loop(
                app.listings.publisher().clone(),
                fadelist_dns::notify::NotifyOptions { targets, key },
                shutdown.clone(),
            ))
        })
    };
    let follow_tasks: Vec<_> = {
        let inbox = listeners.dns.options().notify_inbox.clone();
        let mut tasks = Vec::new();
        for z in &app.config.zones {
            let name = z.name.to_string();
            match follower::primary_of(&app.config, z) {
                Ok(Some(primary)) => tasks.push(tokio::spawn(follower::follow_loop(
                    app.listings.clone(),
                    app.follow.clone(),
                    name.clone(),
                    primary,
                    inbox.as_ref().and_then(|i| i.signal(&name)),
                    follower::saved_path(&app.config, &name),
                    shutdown.clone(),
                ))),
                Ok(None) => {}
                // Checked with the configuration; the name may have
                // stopped resolving since.
                Err(e) => error!(zone = %name, "cannot follow the zone: {e:#}"),
            }
        }
        tasks
    };
    let watchdog = systemd::watchdog_interval().map(|every| {
        tokio::spawn(systemd::watchdog(
            app.clone(),
            dns_addrs.clone(),
            every,
            shutdown.clone(),
        ))
    });
    systemd::ready(&format!(
        "serving {} zone(s) on {}",
        app.config.zones.len(),
        dns_addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let dns = fadelist_dns::server::serve(
        listeners.dns,
        app.listings.publisher().clone(),
        app.config.server.tcp_idle_timeout,
        shutdown.clone(),
    );
    let dns_result = dns.await;
    // DNS only returns on shutdown (or a fatal socket error): stop the rest.
    systemd::stopping();
    shutdown.cancel();
    let _ = hup_task.await;
    if let Some(e) = export_task {
        let _ = e.await;
    }
    if let Some(n) = notify_task {
        let _ = n.await;
    }
    for t in follow_tasks {
        let _ = t.await;
    }
    if let Some(w) = watchdog {
        let _ = w.await;
    }
    let http_result = http.await;
    let _ = reloader.await;
    let _ = decay.await;
    let _ = limits_sweep.await;
    if let Some(a) = admin {
        a.await
            .context("admin task panicked")?
            .context("admin API failed")?;
    }
    if let Some(m) = metrics {
        m.await
            .context("metrics task panicked")?
            .context("metrics listener failed")?;
    }
    dns_result.context("DNS server failed")?;
    http_result
        .context("HTTP task panicked")?
        .context("HTTP server failed")?;
    info!("fadelist stopped");
    Ok(())
}

/// The limits of the public HTTP front and of the admin API. Their
/// connection caps together stay within [`httpd::http_connection_budget`]
/// of the process's descriptor limit, so HTTP can never take the
/// descriptors DNS needs, however many clients connect.
pub fn http_limits(config: &Config, admin: bool) -> (httpd::FrontLimits, httpd::FrontLimits) {
    let s = &config.server;
    let nofile = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(u64::MAX, |(soft, _)| soft);
    let budget = httpd::http_connection_budget(nofile);
    let admin_cap = if admin {
        httpd::ADMIN_CONNECTIONS.min(budget / 4)
    } else {
        0
    };
    let public = s.http_max_connections.min(budget.saturating_sub(admin_cap));
    if public < s.http_max_connections {
        warn!(
            "HTTP: at most {public} connections, not {}: the descriptor limit is {nofile}, and \
             half of it beyond {} reserved goes to HTTP, the rest to DNS (raise LimitNOFILE)",
            s.http_max_connections,
            httpd::FD_RESERVE
        );
    }
    if public < 16 {
        warn!("HTTP: only {public} connections fit in the descriptor limit of {nofile}");
    }
    info!(
        "HTTP: at most {public} connections, {} per client; header timeout {:?}, body {:?}, idle {:?}",
        s.http_max_connections_per_client.min(public.max(1)),
        s.http_header_timeout,
        s.http_body_timeout,
        s.http_idle_timeout
    );
    let front = |name, max_connections, per_client| httpd::FrontLimits {
        name,
        header_timeout: s.http_header_timeout,
        body_timeout: s.http_body_timeout,
        idle_timeout: s.http_idle_timeout,
        max_connections,
        per_client,
    };
    (
        front(
            "HTTP",
            public.max(1),
            Some((
                s.http_max_connections_per_client,
                client::Proxies::new(config.web.trusted_proxies.clone(), config.web.proxy_header),
            )),
        ),
        front("admin API", admin_cap.max(1), None),
    )
}

/// The metrics listener's limits: a handful of scrapers, the public
/// front's timeouts.
fn metrics_limits(config: &Config) -> httpd::FrontLimits {
    let s = &config.server;
    httpd::FrontLimits {
        name: "metrics",
        header_timeout: s.http_header_timeout,
        body_timeout: s.http_body_timeout,
        idle_timeout: s.http_idle_timeout,
        max_connections: 16,
        per_client: None,
    }
}

/// The DNS counters label zone `i` with the `i`-th configured zone; the
/// snapshot's zones are in that order. Says so loudly if a change ever
/// breaks that, rather than mislabelling series in silence.
fn warn_zone_label_order(m: &fadelist_dns::metrics::DnsMetrics, app: &app::App) {
    let served: Vec<String> = app
        .listings
        .publisher()
        .snapshot()
        .zones
        .iter()
        .map(|z| z.name().to_string())
        .collect();
    let labels = m.zone_labels();
    if labels[..labels.len() - 1] != served[..] {
        error!(
            ?served,
            ?labels,
            "the DNS metrics' zone labels do not match the served zones' order; DNS series may \
             be labelled with the wrong zone"
        );
    }
}

/// Every minute, the limit tables forget what limits nobody any more (so
/// no request ever pays for that scan).
async fn sweep_loop(app: Arc<app::App>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        app.limits
            .sweep(clock::monotonic(), clock::unix_now() as i64);
    }
}

/// SIGHUP: reloads the data files at once (whatever `reload_interval`
/// is), telling systemd around it; never exits.
async fn hup_loop(
    app: Arc<app::App>,
    mut hup: tokio::signal::unix::Signal,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            got = hup.recv() => if got.is_none() { return },
        }
        info!("SIGHUP: reloading data files");
        systemd::reloading();
        let a = app.clone();
        match tokio::task::spawn_blocking(move || a.listings.reload_files(clock::unix_now())).await
        {
            Ok(()) => info!("SIGHUP: reload done"),
            Err(e) => error!("SIGHUP: reload failed: {e}"),
        }
        systemd::ready("reloaded");
    }
}

/// Checks the data files every `reload_interval` and publishes a new
/// snapshot when a dataset changed. Parsing runs on the blocking pool,
/// never on the threads that answer queries.
async fn reload_loop(app: Arc<app::App>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(app.config.server.reload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let app = app.clone();
        if let Err(e) =
            tokio::task::spawn_blocking(move || app.listings.reload_files(clock::unix_now())).await
        {
            error!("reload pass failed: {e}");
        }
    }
}

/// The decay tick every `decay_interval` until `shutdown`: the listings
/// service delists decayed keys and ends expired manual listings.
async fn decay_loop(app: Arc<app::App>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(app.config.ingest.decay_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = app.listings.decay(clock::unix_now()).await {
            error!("decay pass: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_trusted_networks_are_warned_about() {
        let reporter = |name: &str, invalid: &[&str]| fadelist_store::Reporter {
            id: 1,
            name: name.into(),
            weight: 1.0,
            kind: fadelist_store::ReporterKind::User,
            trusted: vec!["145.254.1.10/32".into()],
            invalid_trusted: invalid.iter().map(|s| s.to_string()).collect(),
            suspended: false,
            removed: false,
            created_at: 0,
        };
        let all = [reporter("good", &[]), reporter("old", &["mx1.example"])];
        assert_eq!(warn_unreadable_trusted(&all), vec!["old"]);
    }
}
