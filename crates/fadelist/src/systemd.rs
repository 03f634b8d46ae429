//! systemd integration (`Type=notify`, see `deploy/systemd/fadelist.service`):
//! `READY=1` once DNS and HTTP serve, `RELOADING=1` … `READY=1` around a
//! SIGHUP reload, `STOPPING=1` at shutdown, and `WATCHDOG=1` at half of
//! `WATCHDOG_USEC` for as long as a real DNS query to our own sockets is
//! answered and the store thread runs a job (a hung worker or a dead store
//! thread stops the pings, and systemd restarts the service).
//!
//! Without `NOTIFY_SOCKET` (not under systemd, tests) every call does
//! nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::app::App;

fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(false, states) {
        warn!("cannot notify systemd: {e}");
    }
}

/// The server is serving.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload starts (`ready` ends it).
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    // systemd ≥ 253 (Type=notify-reload) wants the time of the request.
    if let Ok(t) = NotifyState::monotonic_usec_now() {
        states.push(t);
    }
    send(&states);
}

/// The server is shutting down.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// Half of `WATCHDOG_USEC`, when systemd asks for watchdog pings. As
/// sd_watchdog_enabled(3): `WATCHDOG_PID`, when set, must be our pid
/// (otherwise the variables were meant for a parent); unset, the request
/// is ours.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Pings the watchdog every `every` while the server is healthy (see the
/// module documentation), until `shutdown`.
pub async fn watchdog(
    app: Arc<App>,
    dns: Vec<SocketAddr>,
    every: Duration,
    shutdown: CancellationToken,
) {
    info!("systemd watchdog: checking DNS and the store every {every:?}");
    let probe = app
        .config
        .zones
        .first()
        .map(|z| format!("2.0.0.127.{}", z.name));
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let store_ok = tokio::time::timeout(every, app.listings.ping())
            .await
            .is_ok_and(|r| r.is_ok());
        let mut dns_ok = true;
        if let Some(name) = &probe {
            for addr in &dns {
                if !dns_answers(*addr, name, every).await {
                    warn!(%addr, "watchdog: no DNS answer from our own socket");
                    dns_ok = false;
                }
            }
        }
        if store_ok && dns_ok {
            send(&[NotifyState::Watchdog]);
        } else if !store_ok {
            warn!("watchdog: the store thread did not run a job in time");
        }
    }
}

/// Whether a UDP query for `name` A to `addr` (a wildcard address asked on
/// loopback) gets a reply within `wait`.
async fn dns_answers(addr: SocketAddr, name: &str, wait: Duration) -> bool {
    let target = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    let bind: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let Ok(sock) = tokio::net::UdpSocket::bind(bind).await else {
        return false;
    };
    let id: u16 = rand_id();
    let query = query_bytes(id, name);
    if sock.send_to(&query, target).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    matches!(
        tokio::time::timeout(wait, sock.recv(&mut buf)).await,
        Ok(Ok(n)) if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id
    )
}

fn rand_id() -> u16 {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    u16::from_be_bytes(b)
}

/// A DNS query for `name` A, RD unset.
fn query_bytes(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}
