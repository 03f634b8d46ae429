//! The fadelist server as a library: what `main` calls, tests call too.
//!
//! [`bind`] opens the listeners (so callers can learn and print the real
//! ports before serving), [`run`] serves until the shutdown token is
//! cancelled: DNS (UDP + TCP), the HTTP API and the data-file reloader all
//! stop on that one token.
#![warn(missing_docs)]

pub mod clock;
pub mod config;
pub mod export;
pub mod http;
pub mod zones;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use fadelist_dns::Publisher;
use fadelist_dns::server::DnsListeners;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use config::Config;
use zones::ZoneSet;

/// Bound listeners.
#[derive(Debug)]
pub struct Listeners {
    /// DNS sockets (UDP and TCP per address).
    pub dns: DnsListeners,
    /// HTTP listener.
    pub http: std::net::TcpListener,
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
}

/// Binds the listeners named in `config`.
pub fn bind(config: &Config) -> anyhow::Result<Listeners> {
    let dns = fadelist_dns::server::bind(&config.server.dns_listen).context("cannot bind DNS")?;
    let http = std::net::TcpListener::bind(config.server.http_listen)
        .with_context(|| format!("cannot bind HTTP {}", config.server.http_listen))?;
    http.set_nonblocking(true)?;
    Ok(Listeners { dns, http })
}

/// Loads the zones of `config` (blocking: reads and parses data files).
pub fn load_zones(config: &Config) -> anyhow::Result<ZoneSet> {
    ZoneSet::load(config, clock::unix_now())
}

/// Serves `zones` on `listeners` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    zones: ZoneSet,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let publisher = Publisher::new(zones.snapshot());
    let zones = Arc::new(Mutex::new(zones));

    let reloader = tokio::spawn(reload_loop(
        zones,
        publisher.clone(),
        config.server.reload_interval,
        shutdown.clone(),
    ));

    let http_listener = tokio::net::TcpListener::from_std(listeners.http)?;
    let router = http::router(publisher.clone());
    let http_shutdown = shutdown.clone();
    let http = tokio::spawn(async move {
        axum::serve(http_listener, router)
            .with_graceful_shutdown(http_shutdown.cancelled_owned())
            .await
    });

    let dns = fadelist_dns::server::serve(
        listeners.dns,
        publisher,
        config.server.tcp_idle_timeout,
        shutdown.clone(),
    );
    let dns_result = dns.await;
    // DNS only returns on shutdown (or a fatal socket error): stop the rest.
    shutdown.cancel();
    let http_result = http.await;
    let _ = reloader.await;
    dns_result.context("DNS server failed")?;
    http_result
        .context("HTTP task panicked")?
        .context("HTTP server failed")?;
    info!("fadelist stopped");
    Ok(())
}

/// Checks the data files every `interval` and publishes a new snapshot
/// when a dataset changed. Parsing runs on the blocking pool, never on the
/// threads that answer queries.
async fn reload_loop(
    zones: Arc<Mutex<ZoneSet>>,
    publisher: Publisher,
    interval: std::time::Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let zones = zones.clone();
        let publisher = publisher.clone();
        let pass = tokio::task::spawn_blocking(move || {
            let mut set = zones.blocking_lock();
            if set.refresh(clock::unix_now()) {
                publisher.publish(set.snapshot());
                info!("new data published");
            }
        });
        if let Err(e) = pass.await {
            error!("reload pass failed: {e}");
        }
    }
}
