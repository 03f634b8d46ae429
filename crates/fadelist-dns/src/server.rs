//! Binding and running the DNS listeners.
//!
//! UDP and TCP listen on the same address and port, as resolvers expect
//! (they retry truncated UDP answers over TCP to the same server). Binding
//! is separate from serving so that callers (and tests) can bind port 0,
//! learn the real ports, print them, and only then start serving.
//!
//! UDP is served by the fast path ([`crate::fast`]) by default: one
//! `SO_REUSEPORT` socket and one plain thread per worker. TCP is served by
//! the same parser and encoder on tokio tasks ([`crate::fast::serve_tcp`]),
//! one task per connection answering pipelined queries in batches.
//! [`UdpMode::Hickory`] and [`TcpMode::Hickory`] serve through
//! hickory-server instead, e.g. to rule the fast path out when
//! investigating a problem.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::fast::{
    DEFAULT_TCP_MAX_PER_CLIENT, QuotaOptions, RrlOptions, TcpOptions, UdpOptions, UdpWorkers,
    serve_tcp,
};
use crate::handler::DnsblHandler;
use crate::metrics::DnsMetrics;
use crate::publisher::Publisher;

/// Which code answers UDP queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UdpMode {
    /// The hand-rolled fast path (default): ~2× hickory-server's
    /// throughput per core, same answers.
    #[default]
    Fast,
    /// hickory-server, as for TCP.
    Hickory,
    /// Benchmarks only: the fast path's threads and sockets, but every
    /// query gets an empty REFUSED reply without being parsed or looked
    /// up ([`UdpWorkers::start_null`]): the cost of the I/O loop alone.
    Null,
}

/// Which code answers TCP queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcpMode {
    /// The fast path's parser and encoder, one task per connection
    /// answering pipelined queries in batches (default).
    #[default]
    Fast,
    /// hickory-server's TCP listener.
    Hickory,
}

/// Default for [`DnsOptions::tcp_max_connections`].
pub const DEFAULT_TCP_MAX_CONNECTIONS: usize = 1024;

/// How to bind and serve DNS.
#[derive(Clone, Debug, PartialEq)]
pub struct DnsOptions {
    /// Which code answers UDP queries.
    pub udp_mode: UdpMode,
    /// UDP worker threads (and sockets) per address in [`UdpMode::Fast`]
    /// (and [`UdpMode::Null`]); 0 means one per available CPU.
    pub workers: usize,
    /// Which code answers TCP queries.
    pub tcp_mode: TcpMode,
    /// TCP connections served at once in [`TcpMode::Fast`]; more wait in
    /// the listen backlog.
    pub tcp_max_connections: usize,
    /// Fast-path workers sleep this long after a small batch; see
    /// [`UdpWorkers::start`]. Zero turns it off.
    pub udp_batch_wait: Duration,
    /// TCP connections per client address (IPv6: per /64) in
    /// [`TcpMode::Fast`]; see [`TcpOptions::max_per_client`].
    pub tcp_max_per_client: usize,
    /// UDP response-rate limiting ([`UdpMode::Fast`] only), when on.
    pub rrl: Option<RrlOptions>,
    /// Daily query quotas on UDP ([`UdpMode::Fast`] only), when on.
    pub quota: Option<QuotaOptions>,
    /// Where the fast fronts count queries, responses and connections,
    /// when metrics are on ([`crate::metrics`]). The hickory modes are
    /// not counted.
    pub metrics: Option<DnsMetrics>,
    /// Who may transfer zones over TCP ([`TcpMode::Fast`] only); `None`
    /// refuses every transfer.
    pub transfer: Option<std::sync::Arc<crate::xfr::TransferPolicy>>,
    /// Accepts NOTIFY for followed zones from their primaries (fast
    /// fronts only); `None` when no zone is followed.
    pub notify_inbox: Option<std::sync::Arc<crate::follow::NotifyInbox>>,
    /// TSIG keys (`[[transfer.key]]`) that ordinary queries may be signed
    /// with (fast fronts): a signed query gets a signed answer.
    pub tsig_keys: Vec<crate::tsig::Key>,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            udp_mode: UdpMode::default(),
            workers: 0,
            tcp_mode: TcpMode::default(),
            tcp_max_connections: DEFAULT_TCP_MAX_CONNECTIONS,
            udp_batch_wait: crate::fast::DEFAULT_BATCH_WAIT,
            tcp_max_per_client: DEFAULT_TCP_MAX_PER_CLIENT,
            rrl: None,
            quota: None,
            metrics: None,
            transfer: None,
            notify_inbox: None,
            tsig_keys: Vec::new(),
        }
    }
}

impl DnsOptions {
    /// The number of UDP sockets to bind per address.
    pub fn udp_sockets_per_addr(&self) -> usize {
        match self.udp_mode {
            UdpMode::Hickory => 1,
            UdpMode::Fast | UdpMode::Null if self.workers > 0 => self.workers,
            UdpMode::Fast | UdpMode::Null => {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            }
        }
    }
}

/// Bound but not yet serving DNS sockets.
#[derive(Debug)]
pub struct DnsListeners {
    /// Per address: its UDP sockets (several in fast mode, sharing the
    /// port through `SO_REUSEPORT`).
    udp: Vec<Vec<UdpSocket>>,
    tcp: Vec<TcpListener>,
    options: DnsOptions,
}

impl DnsListeners {
    /// The addresses actually bound (one per requested address; UDP and
    /// TCP share it).
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.tcp.iter().map(|s| s.local_addr()).collect()
    }

    /// The options these listeners were bound with (and will serve with).
    pub fn options(&self) -> &DnsOptions {
        &self.options
    }

    /// Number of UDP sockets bound, over all addresses.
    pub fn udp_socket_count(&self) -> usize {
        self.udp.iter().map(Vec::len).sum()
    }
}

fn udp_socket(addr: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    if reuse_port {
        s.set_reuse_port(true)?;
    }
    // A bigger receive buffer absorbs bursts from busy resolvers; the
    // kernel caps it at net.core.rmem_max, which is fine.
    let _ = s.set_recv_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    // hickory wants non-blocking sockets; the fast path's workers switch
    // theirs back to blocking with a receive timeout.
    s.set_nonblocking(true)?;
    Ok(s.into())
}

fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// `count` UDP sockets sharing `addr` (a fixed port) via `SO_REUSEPORT`.
fn udp_group(addr: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
    (0..count)
        .map(|_| udp_socket(addr, count > 1))
        .collect::<io::Result<Vec<_>>>()
}

/// Binds UDP and TCP on each address with the default options (fast UDP
/// path, one worker per CPU). Port 0 picks a free port that is free for
/// both protocols.
pub fn bind(addrs: &[SocketAddr]) -> io::Result<DnsListeners> {
    bind_with(addrs, DnsOptions::default())
}

/// Binds UDP and TCP on each address for serving with `options`.
///
/// With port 0, a port is first chosen with a plain (not `SO_REUSEPORT`)
/// socket, which the kernel never places on a port another socket uses;
/// the worker sockets then join that port. Choosing it with an
/// `SO_REUSEPORT` socket could silently share the port of another
/// `SO_REUSEPORT` group of the same user (say, a parallel test).
pub fn bind_with(addrs: &[SocketAddr], options: DnsOptions) -> io::Result<DnsListeners> {
    let per_addr = options.udp_sockets_per_addr();
    let mut out = DnsListeners {
        udp: Vec::new(),
        tcp: Vec::new(),
        options,
    };
    let udp_err = |addr: SocketAddr| {
        move |e: io::Error| io::Error::new(e.kind(), format!("DNS UDP {addr}: {e}"))
    };
    for &addr in addrs {
        if addr.port() != 0 {
            // UDP first: with a fixed port, a second instance fails on the
            // TCP bind (no SO_REUSEPORT there) even if its UDP sockets
            // could join ours.
            let udp = udp_group(addr, per_addr).map_err(udp_err(addr))?;
            let tcp = tcp_listener(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("DNS TCP {addr}: {e}")))?;
            out.udp.push(udp);
            out.tcp.push(tcp);
            continue;
        }
        let mut attempts = 0;
        loop {
            let probe = udp_socket(addr, false).map_err(udp_err(addr))?;
            let bound = probe.local_addr()?;
            let result = tcp_listener(bound).and_then(|tcp| {
                if per_addr == 1 {
                    return Ok((vec![probe], tcp));
                }
                drop(probe);
                Ok((udp_group(bound, per_addr)?, tcp))
            });
            match result {
                Ok((udp, tcp)) => {
                    out.udp.push(udp);
                    out.tcp.push(tcp);
                    break;
                }
                // The ephemeral port is taken on TCP (or was taken on UDP
                // in between): try another one.
                Err(e) if attempts < 20 => {
                    attempts += 1;
                    tracing::debug!(%bound, error = %e, "DNS port busy, retrying");
                }
                Err(e) => {
                    return Err(io::Error::new(e.kind(), format!("DNS {bound}: {e}")));
                }
            }
        }
    }
    Ok(out)
}

/// Serves DNS on `listeners` from `publisher` until `shutdown` is
/// cancelled, then stops the UDP workers and waits for in-flight requests
/// to finish. UDP uses the mode the listeners were bound with
/// ([`bind_with`]).
pub async fn serve(
    listeners: DnsListeners,
    publisher: Publisher,
    tcp_idle_timeout: Duration,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let DnsListeners { udp, tcp, options } = listeners;
    if options.metrics.is_some()
        && (options.udp_mode != UdpMode::Fast || options.tcp_mode != TcpMode::Fast)
    {
        tracing::warn!(
            "DNS query metrics count the fast UDP and TCP fronts only: queries answered by \
             hickory-server (udp_mode/tcp_mode = hickory) or the null mode are not counted"
        );
    }
    let mut server = hickory_server::Server::new(DnsblHandler::new(publisher.clone()));
    // Whether hickory-server serves anything: with both fast fronts it has
    // no socket, and shutting it down would only log a warning ("called
    // with no pending tasks") at every clean stop.
    let mut hickory_used = false;
    let mut workers = None;
    match options.udp_mode {
        UdpMode::Hickory => {
            if options.rrl.is_some() || options.quota.is_some() {
                tracing::warn!(
                    "DNS response-rate limiting and query quotas need the fast UDP path; \
                     udp_mode = hickory serves without them"
                );
            }
            for udp in udp.into_iter().flatten() {
                let addr = udp.local_addr()?;
                server.register_socket(tokio::net::UdpSocket::from_std(udp)?);
                hickory_used = true;
                info!(%addr, "DNS listening on UDP (hickory)");
            }
        }
        UdpMode::Fast => {
            for group in &udp {
                if let Some(s) = group.first() {
                    let addr = s.local_addr()?;
                    info!(%addr, workers = group.len(), "DNS listening on UDP (fast path)");
                }
            }
            if let Some(r) = &options.rrl {
                info!(
                    responses_per_second = r.responses_per_second,
                    nxdomains_per_second = r.nxdomains_per_second,
                    slip = r.slip,
                    window = r.window,
                    log_only = r.log_only,
                    "DNS response-rate limiting on"
                );
            }
            if let Some(q) = &options.quota {
                info!(queries_per_day = q.queries_per_day, "DNS query quotas on");
            }
            let udp_options = UdpOptions {
                batch_wait: options.udp_batch_wait,
                rrl: options.rrl.clone(),
                quota: options.quota.clone(),
                workers_per_address: udp.first().map_or(1, Vec::len),
                metrics: options.metrics.clone(),
                notify_inbox: options.notify_inbox.clone(),
                tsig_keys: options.tsig_keys.clone().into(),
            };
            workers = Some(UdpWorkers::start_with(
                udp.into_iter().flatten().collect(),
                &publisher,
                &udp_options,
            )?);
        }
        UdpMode::Null => {
            tracing::warn!("DNS UDP answers every query with REFUSED (null mode, benchmarks only)");
            workers = Some(UdpWorkers::start_null(
                udp.into_iter().flatten().collect(),
                options.udp_batch_wait,
            )?);
        }
    }
    let mut fast_tcp = Vec::new();
    for tcp in tcp {
        let addr = tcp.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(tcp)?;
        match options.tcp_mode {
            TcpMode::Fast => {
                fast_tcp.push(listener);
                info!(%addr, "DNS listening on TCP (fast path)");
            }
            TcpMode::Hickory => {
                // 64 KiB: room for the largest DNS message per connection.
                server.register_listener(listener, tcp_idle_timeout, 65_535);
                hickory_used = true;
                info!(%addr, "DNS listening on TCP (hickory)");
            }
        }
    }
    let tcp_task = (!fast_tcp.is_empty()).then(|| {
        let options = TcpOptions {
            idle_timeout: tcp_idle_timeout,
            max_connections: options.tcp_max_connections,
            max_per_client: options.tcp_max_per_client,
            metrics: options.metrics.clone(),
            transfer: options.transfer.clone(),
            notify_inbox: options.notify_inbox.clone(),
            tsig_keys: options.tsig_keys.clone().into(),
        };
        tokio::spawn(serve_tcp(
            fast_tcp,
            publisher.clone(),
            options,
            shutdown.clone(),
        ))
    });
    shutdown.cancelled().await;
    if let Some(t) = tcp_task {
        t.await
            .map_err(|e| io::Error::other(format!("DNS TCP: {e}")))?;
    }
    if let Some(w) = workers {
        // Joining blocks for up to the workers' receive timeout.
        tokio::task::spawn_blocking(move || w.join())
            .await
            .map_err(|e| io::Error::other(format!("DNS UDP workers: {e}")))?;
    }
    if !hickory_used {
        return Ok(());
    }
    server
        .shutdown_gracefully()
        .await
        .map_err(|e| io::Error::other(format!("DNS server: {e}")))
}
