//! DNS over TCP with the fast path's parser and encoder.
//!
//! hickory-server handles every TCP message as its own task with its own
//! allocations and a write per reply; with pipelined queries (RFC 7766
//! 6.2.1.1) that capped TCP at ~0.57× of our UDP rate on one core. Here a
//! connection is one task that reads whatever the client has sent, answers
//! every complete message in it into one buffer (the same
//! [`Responder`] as UDP, with the 65,535-byte TCP limit instead of the UDP
//! payload size, and the hickory-proto fallback for anything unusual), and
//! writes all those replies with one system call.
//!
//! Limits, so that TCP clients cannot exhaust the server:
//! - at most [`TcpOptions::max_connections`] connections at once; further
//!   clients wait in the listen backlog until one closes;
//! - at most [`TcpOptions::max_per_client`] connections per client
//!   address (an IPv6 client is its /64, which one host usually has to
//!   itself): a new connection from a client at its cap is accepted and
//!   the client's least recently active connection is closed, so one
//!   address can never hold more, a flood of idle connections from it
//!   recycles its own slots, and a client that reconnects is not locked
//!   out by its own stale connections;
//! - a connection that sends no complete message for the idle timeout, or
//!   that does not take its replies within it, is closed (RFC 7766 6.2.3
//!   asks servers to close idle connections);
//! - buffers grow to the largest message (64 KiB) and shrink back after.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::encode::{Answered, Responder};
use super::parse::no_labels;
use crate::metrics::DnsMetrics;
use crate::publisher::Publisher;
use crate::xfr::{self, TransferPolicy, XfrRequest};

/// Buffer capacity kept between reads; larger buffers (a 64 KiB message,
/// a long burst of pipelined replies) are released after use.
const KEEP: usize = 16 * 1024;

/// Limits of the TCP front.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpOptions {
    /// A connection idle this long (no complete query, or replies not
    /// taken) is closed.
    pub idle_timeout: Duration,
    /// Connections served at once, over all listeners of this front.
    pub max_connections: usize,
    /// Connections per client address (IPv6: per /64); at the cap, a new
    /// one closes the client's least recently active one.
    pub max_per_client: usize,
    /// Where to count connections, queries and responses, when metrics
    /// are on.
    pub metrics: Option<DnsMetrics>,
    /// Who may transfer zones (AXFR/IXFR); `None` refuses every transfer.
    pub transfer: Option<Arc<TransferPolicy>>,
    /// Where NOTIFY messages for followed zones go.
    pub notify_inbox: Option<Arc<crate::follow::NotifyInbox>>,
    /// TSIG keys signed queries may use.
    pub tsig_keys: Arc<[crate::tsig::Key]>,
}

/// Default for [`TcpOptions::max_per_client`]: room for a big resolver's
/// parallel TCP fallbacks, a small share of the default global cap.
pub const DEFAULT_TCP_MAX_PER_CLIENT: usize = 32;

/// The key of a client for the per-client cap: its IPv4 address, or its
/// IPv6 /64.
fn client_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(m) => u128::from(u32::from(m)),
            None => (u128::from(a) & (u128::MAX << 64)) | 1,
        },
    }
}

/// One open connection, as the per-client table sees it.
#[derive(Debug)]
struct Conn {
    id: u64,
    /// Milliseconds since the front started, at its last complete query.
    last: Arc<AtomicU64>,
    /// Cancelled to close it.
    kick: CancellationToken,
}

/// The open connections of each client: touched on accept and on close
/// only, never per query.
#[derive(Debug)]
struct Clients {
    by_client: Mutex<HashMap<u128, Vec<Conn>>>,
    next_id: AtomicU64,
    epoch: Instant,
    cap: usize,
}

/// What a connection task gets from [`Clients::admit`].
struct Ticket {
    key: u128,
    id: u64,
    last: Arc<AtomicU64>,
    kick: CancellationToken,
}

impl Clients {
    fn new(cap: usize) -> Clients {
        Clients {
            by_client: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
            cap: cap.max(1),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Registers a new connection from `peer`, first closing the client's
    /// least recently active connection when it is at its cap (counted in
    /// `metrics`).
    fn admit(
        &self,
        peer: SocketAddr,
        shutdown: &CancellationToken,
        metrics: Option<&DnsMetrics>,
    ) -> Ticket {
        let key = client_key(peer.ip());
        let ticket = Ticket {
            key,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            last: Arc::new(AtomicU64::new(self.now_ms())),
            kick: shutdown.child_token(),
        };
        let mut map = self.by_client.lock().unwrap_or_else(|e| e.into_inner());
        let conns = map.entry(key).or_default();
        while conns.len() >= self.cap {
            let oldest = conns
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| c.last.load(Ordering::Relaxed))
                .map(|(i, _)| i)
                .unwrap_or(0);
            let c = conns.swap_remove(oldest);
            c.kick.cancel();
            if let Some(m) = metrics {
                m.tcp_over_client_cap(1);
            }
            debug!(%peer, "DNS TCP: client at its connection cap, closing its least active one");
        }
        conns.push(Conn {
            id: ticket.id,
            last: ticket.last.clone(),
            kick: ticket.kick.clone(),
        });
        ticket
    }

    /// Forgets a closed connection.
    fn release(&self, t: &Ticket) {
        let mut map = self.by_client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(conns) = map.get_mut(&t.key) {
            conns.retain(|c| c.id != t.id);
            if conns.is_empty() {
                map.remove(&t.key);
            }
        }
    }
}

/// Serves DNS over TCP on `listeners` until `shutdown` is cancelled, then
/// waits for the open connections to finish what they were writing.
pub async fn serve_tcp(
    listeners: Vec<TcpListener>,
    publisher: Publisher,
    options: TcpOptions,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    if let Some(m) = &options.metrics {
        m.set_tcp_max(options.max_connections.max(1));
    }
    let clients = Arc::new(Clients::new(options.max_per_client));
    let tracker = TaskTracker::new();
    for listener in listeners {
        tracker.spawn(accept_loop(
            listener,
            publisher.clone(),
            options.clone(),
            permits.clone(),
            clients.clone(),
            tracker.clone(),
            shutdown.clone(),
        ));
    }
    tracker.close();
    tracker.wait().await;
}

async fn accept_loop(
    listener: TcpListener,
    publisher: Publisher,
    options: TcpOptions,
    permits: Arc<Semaphore>,
    clients: Arc<Clients>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        // Take a connection slot before accepting: over the limit, new
        // clients wait in the kernel's backlog instead of being dropped.
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                let publisher = publisher.clone();
                let metrics = options.metrics.as_ref();
                if let Some(m) = metrics {
                    m.tcp_accepted();
                }
                let ticket = clients.admit(peer, &shutdown, metrics);
                let clients = clients.clone();
                let options = options.clone();
                tracker.spawn(async move {
                    let _permit = permit;
                    let result =
                        connection(stream, peer, &publisher, &options, &ticket, &clients).await;
                    clients.release(&ticket);
                    if let Some(m) = &options.metrics {
                        m.tcp_closed();
                    }
                    if let Err(e) = result {
                        debug!(%peer, error = %e, "DNS TCP connection ended");
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: do not spin.
                warn!(error = %e, "DNS TCP accept failed");
                if let Some(m) = &options.metrics {
                    m.tcp_accept_error();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves one connection: read, answer every complete message, write.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    publisher: &Publisher,
    options: &TcpOptions,
    ticket: &Ticket,
    clients: &Clients,
) -> io::Result<()> {
    // Replies are written as soon as a batch is answered; Nagle's delay
    // would hold a lone reply back for the client's delayed ACK.
    stream.set_nodelay(true)?;
    let mut cache = publisher.cache();
    let mut responder = Responder::new();
    responder.set_notify_inbox(options.notify_inbox.clone());
    responder.set_tsig_keys(options.tsig_keys.clone());
    // This read's counts, added to the shared TCP totals after its
    // replies are written (once per read, not per query).
    let mut counters = options.metrics.as_ref().map(DnsMetrics::tcp_counters);
    responder.set_tracking(counters.is_some());
    let mut input: Vec<u8> = Vec::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    // Moved on by every complete message only, so that a client trickling
    // a byte at a time cannot hold the connection open.
    let mut deadline = Instant::now() + options.idle_timeout;
    loop {
        // Answer every complete message received so far.
        let mut used = 0;
        let mut messages = 0u64;
        let read_at = counters.is_some().then(Instant::now);
        // A zone transfer stops the batch: the replies before it are
        // written, then the transfer streams, then the rest is answered.
        let mut transfer: Option<XfrRequest> = None;
        {
            let served = cache.load();
            let mut labels = no_labels();
            while let Some(&[hi, lo]) = input.get(used..used + 2) {
                let end = used + 2 + usize::from(u16::from_be_bytes([hi, lo]));
                let Some(msg) = input.get(used + 2..end) else {
                    break;
                };
                if let Some(req) = xfr::parse_request(msg) {
                    transfer = Some(req);
                    used = end;
                    break;
                }
                let before = out.len();
                let answered = responder.respond_tcp(served, msg, peer, &mut labels, &mut out);
                if let Some(c) = &mut counters {
                    let o = responder.outcome();
                    let z = c.zone_slot(o.zone);
                    c.request(z, msg.len());
                    if let Some(a) = o.acl {
                        c.acl(z, a);
                    }
                    if answered != Answered::Silent {
                        // Without the 2-byte length prefix, as for UDP.
                        c.response(z, o.rcode, out.len() - before - 2);
                    }
                }
                messages += 1;
                used = end;
            }
        }
        if used > 0 {
            input.drain(..used);
            deadline = Instant::now() + options.idle_timeout;
            ticket.last.store(clients.now_ms(), Ordering::Relaxed);
        }
        let written = if out.is_empty() {
            Ok(())
        } else {
            match tokio::time::timeout(options.idle_timeout, stream.write_all(&out)).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "replies not read")),
            }
        };
        // Counted even when the write failed: the queries were received.
        if let (Some(c), Some(m), Some(t)) = (&mut counters, &options.metrics, read_at)
            && messages > 0
        {
            c.batch(t.elapsed(), messages);
            m.flush_tcp(c);
        }
        written?;
        out.clear();
        out.shrink_to(KEEP);
        if let Some(req) = transfer {
            xfr::serve(
                &mut stream,
                req,
                peer,
                publisher.snapshot(),
                publisher.history().cloned(),
                options.transfer.as_deref(),
                options.idle_timeout,
            )
            .await?;
            deadline = Instant::now() + options.idle_timeout;
            // Messages pipelined behind the transfer are answered next.
            continue;
        }
        if input.is_empty() {
            input.shrink_to(KEEP);
        }
        input.reserve(4096);
        // `kick` is a child of the shutdown token: cancelled on shutdown,
        // or when a newer connection of this client needs the slot.
        let read = tokio::select! {
            _ = ticket.kick.cancelled() => return Ok(()),
            r = tokio::time::timeout_at(deadline, stream.read_buf(&mut input)) => r,
        };
        match read {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "idle")),
        }
    }
}
