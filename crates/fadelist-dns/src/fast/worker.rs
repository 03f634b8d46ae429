//! The UDP worker threads.
//!
//! Each owns one socket, its receive/send batch, its reply arena and its
//! per-client limit tables ([`super::limits`]): nothing is shared between
//! workers but the published data.

use std::io;
use std::net::UdpSocket;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fadelist_core::dataset::acl::Verdict;
use tracing::{debug, warn};

use super::encode::{Answered, Responder};
use super::limits::{Quota, QuotaOptions, Rrl, RrlAction, RrlOptions, slip_reply};
use super::parse::no_labels;
use super::sys::{Batch, Outgoing};
use crate::metrics::{Counters, DnsMetrics, Slot};
use crate::publisher::Publisher;

/// Datagrams per `recvmmsg`/`sendmmsg`. 64 was the benchmark's batch;
/// beyond that the batch no longer fits the L2 cache with the replies.
pub const BATCH: usize = 64;

/// How long a worker blocks waiting for a datagram before it checks the
/// stop flag (and lets go of an old snapshot). Bounds shutdown latency.
pub const RECV_TIMEOUT: Duration = Duration::from_millis(150);

/// Reply arena capacity kept between batches.
const ARENA_KEEP: usize = 1 << 20;

/// A blocked send gives up after this long and drops the reply.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// A receive that returns fewer datagrams than this is followed by the
/// batch wait (see [`UdpWorkers::start`]).
pub const SMALL_BATCH: usize = 8;

/// Default batch wait. Measured on loopback with dnsperf (server and client
/// on one core each, 4 alternating rounds of 8 s): queries per CPU-second
/// +16 % (median 222k against 191k with no wait), average latency under
/// that load 0.21 ms instead of 0.17 ms. Longer waits with a tighter timer
/// slack gained less (50 µs: +4 %, 100 µs: +6 %), so the thread keeps the
/// kernel's default slack, which lets a 20 µs sleep end up to 50 µs late
/// and share the timer interrupt with other wake-ups.
pub const DEFAULT_BATCH_WAIT: Duration = Duration::from_micros(20);

/// How the UDP workers run, besides answering.
#[derive(Clone, Debug, PartialEq)]
pub struct UdpOptions {
    /// See [`UdpWorkers::start`].
    pub batch_wait: Duration,
    /// Response-rate limiting, when on.
    pub rrl: Option<RrlOptions>,
    /// Daily query quotas, when on.
    pub quota: Option<QuotaOptions>,
    /// Workers (sockets) per listening address: a client's datagrams are
    /// spread over those, so each allows this share of the RRL rates and
    /// quotas.
    pub workers_per_address: usize,
    /// Where to count queries and responses, when metrics are on (see
    /// [`crate::metrics`]: per-worker counters, published once per batch).
    pub metrics: Option<DnsMetrics>,
    /// Where NOTIFY messages for followed zones go, when any zone is
    /// followed.
    pub notify_inbox: Option<Arc<crate::follow::NotifyInbox>>,
    /// TSIG keys signed queries may use.
    pub tsig_keys: Arc<[crate::tsig::Key]>,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions {
            batch_wait: DEFAULT_BATCH_WAIT,
            rrl: None,
            quota: None,
            workers_per_address: 1,
            metrics: None,
            notify_inbox: None,
            tsig_keys: Arc::from(Vec::new()),
        }
    }
}

/// Running UDP fast-path workers: one plain thread per socket.
///
/// Dropping this without [`UdpWorkers::join`] still stops the threads
/// (within [`RECV_TIMEOUT`]); it just does not wait for them.
#[derive(Debug)]
pub struct UdpWorkers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl UdpWorkers {
    /// Starts one worker thread per socket, each answering from
    /// `publisher`. The sockets are switched to blocking mode with
    /// [`RECV_TIMEOUT`] as receive timeout.
    ///
    /// `batch_wait`: after a receive that returned fewer than
    /// [`SMALL_BATCH`] datagrams (and once their replies are sent), the
    /// worker sleeps this long before receiving again, so that the next
    /// system call collects more datagrams. Most of the CPU per query is
    /// the kernel's per-call and per-wake-up work (waking the worker,
    /// waking the client for its replies), so fewer, fuller batches answer
    /// more queries per CPU-second. A query that arrives during the wait
    /// is answered that much later (plus the kernel's timer slack, 50 µs
    /// by default); under heavy load the batches are full and nobody
    /// waits. Zero turns it off.
    pub fn start(
        sockets: Vec<UdpSocket>,
        publisher: &Publisher,
        batch_wait: Duration,
    ) -> io::Result<UdpWorkers> {
        let options = UdpOptions {
            batch_wait,
            ..UdpOptions::default()
        };
        Self::spawn(sockets, Some(publisher), &options)
    }

    /// [`UdpWorkers::start`] with response-rate limiting and query quotas
    /// as `options` say.
    pub fn start_with(
        sockets: Vec<UdpSocket>,
        publisher: &Publisher,
        options: &UdpOptions,
    ) -> io::Result<UdpWorkers> {
        Self::spawn(sockets, Some(publisher), options)
    }

    /// Starts workers that answer every datagram of 12 bytes or more with
    /// its header turned into an empty REFUSED response, without parsing
    /// or looking anything up. For benchmarks only: it measures what the
    /// I/O loop alone costs, the ceiling of the fast path.
    /// It waits between small batches as [`UdpWorkers::start`] does, so
    /// that it stays the same loop.
    pub fn start_null(sockets: Vec<UdpSocket>, batch_wait: Duration) -> io::Result<UdpWorkers> {
        let options = UdpOptions {
            batch_wait,
            ..UdpOptions::default()
        };
        Self::spawn(sockets, None, &options)
    }

    fn spawn(
        sockets: Vec<UdpSocket>,
        publisher: Option<&Publisher>,
        options: &UdpOptions,
    ) -> io::Result<UdpWorkers> {
        let mut workers = UdpWorkers {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::with_capacity(sockets.len()),
        };
        for (i, socket) in sockets.into_iter().enumerate() {
            socket.set_nonblocking(false)?;
            socket.set_read_timeout(Some(RECV_TIMEOUT))?;
            socket.set_write_timeout(Some(SEND_TIMEOUT))?;
            let publisher = publisher.cloned();
            let stop = workers.stop.clone();
            let share = options.workers_per_address.max(1);
            let limits = Limits {
                rrl: options.rrl.as_ref().map(|o| Rrl::new(o, share, i)),
                quota: options.quota.as_ref().map(|o| Quota::new(o, share, i)),
            };
            // The null responder answers nothing worth counting.
            let metrics = publisher
                .as_ref()
                .and(options.metrics.as_ref())
                .map(DnsMetrics::udp_worker);
            let batch_wait = options.batch_wait;
            let inbox = (options.notify_inbox.clone(), options.tsig_keys.clone());
            // On error, dropping `workers` stops the threads already started.
            let t = std::thread::Builder::new()
                .name(format!("dns-udp-{i}"))
                .spawn(move || run(socket, publisher, stop, batch_wait, limits, metrics, inbox))?;
            workers.threads.push(t);
        }
        Ok(workers)
    }

    /// Number of worker threads.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// True when there are no workers.
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Asks the workers to stop; they finish their current batch.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops the workers and waits for them (at most about
    /// [`RECV_TIMEOUT`] plus one batch). Blocking: call it from a plain
    /// thread or `spawn_blocking`.
    pub fn join(mut self) {
        self.stop();
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                warn!("a DNS UDP worker panicked");
            }
        }
    }
}

impl Drop for UdpWorkers {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A worker's per-client limit tables (built before the thread starts,
/// so their allocation never happens on the query path).
struct Limits {
    rrl: Option<Rrl>,
    quota: Option<Quota>,
}

/// One worker: receive a batch, answer each datagram from the current
/// snapshot (or with a null reply), send the replies in one batch; with
/// metrics, count into `metrics.0` and publish it to `metrics.1` once per
/// batch ([`crate::metrics`]).
fn run(
    socket: UdpSocket,
    publisher: Option<Publisher>,
    stop: Arc<AtomicBool>,
    batch_wait: Duration,
    mut limits: Limits,
    mut metrics: Option<(Counters, Arc<Slot>)>,
    (inbox, tsig_keys): (
        Option<Arc<crate::follow::NotifyInbox>>,
        Arc<[crate::tsig::Key]>,
    ),
) {
    debug!(addr = ?socket.local_addr().ok(), "DNS UDP worker started");
    // The cache keeps one `Arc` to the current data and only re-reads the
    // `ArcSwap` when a new publication happened: no shared refcount traffic
    // per query, and writers never wait for readers.
    let mut cache = publisher.as_ref().map(Publisher::cache);
    let mut batch = Batch::new(BATCH);
    let mut responder = Responder::new();
    responder.set_tracking(metrics.is_some());
    responder.set_notify_inbox(inbox);
    responder.set_tsig_keys(tsig_keys);
    let mut arena: Vec<u8> = Vec::with_capacity(BATCH * 512);
    let mut out: Vec<Outgoing> = Vec::with_capacity(BATCH);
    let mut last_warning: Option<Instant> = None;
    // The limits' clock: milliseconds since the worker started, read once
    // per batch and only when a limit is on.
    let epoch = Instant::now();
    let timed = limits.rrl.is_some() || limits.quota.is_some();
    while !stop.load(Ordering::Relaxed) {
        let n = match batch.recv(&socket) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                // Idle: drop the reference to an outdated snapshot.
                if let Some(c) = &mut cache {
                    let _ = c.load();
                }
                continue;
            }
            Err(e) => {
                if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    warn!(error = %e, "DNS UDP receive failed");
                    last_warning = Some(Instant::now());
                }
                // Do not spin on a persistent error.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // The batch's clock for the latency histogram: read twice per
        // batch, never per query.
        let received_at = metrics.is_some().then(Instant::now);
        let served = cache.as_mut().map(|c| c.load());
        let now_ms = if timed {
            epoch.elapsed().as_millis() as u64
        } else {
            0
        };
        arena.clear();
        out.clear();
        // Label room for the whole batch: its packets live as long.
        let mut labels = no_labels();
        for slot in 0..n {
            let (pkt, src) = batch.packet(slot);
            let Some(src) = src else {
                if let Some((c, _)) = &mut metrics {
                    c.request(c.zone_slot(None), pkt.len());
                }
                continue;
            };
            let start = arena.len();
            // A panic must not take the worker (and every client the
            // kernel hashes to its socket) down: that datagram goes
            // unanswered instead, as with SERVFAIL-and-count elsewhere.
            let quota = &mut limits.quota;
            let answered = panic::catch_unwind(AssertUnwindSafe(|| match served {
                Some(served) => {
                    let forced = match quota {
                        Some(q) => q.count(src, now_ms),
                        None => Verdict::Pass,
                    };
                    responder.respond_from(served, pkt, src, forced, &mut labels, &mut arena)
                }
                None => null_reply(pkt, &mut arena),
            }))
            .unwrap_or_else(|_| {
                arena.truncate(start);
                if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    warn!(%src, "DNS UDP answer panicked; datagram dropped");
                    last_warning = Some(Instant::now());
                }
                Answered::Silent
            });
            let mut sent = answered != Answered::Silent;
            if sent && let (Some(rrl), Some(served)) = (&mut limits.rrl, served) {
                match rrl.check(served, &arena[start..], src, now_ms) {
                    RrlAction::Send => {}
                    RrlAction::Slip => slip_reply(&mut arena, start),
                    RrlAction::Drop => {
                        arena.truncate(start);
                        sent = false;
                    }
                }
            }
            if let Some((c, _)) = &mut metrics {
                // A slipped reply keeps its response code.
                let o = responder.outcome();
                let z = c.zone_slot(o.zone);
                c.request(z, pkt.len());
                if let Some(a) = o.acl {
                    c.acl(z, a);
                }
                if sent {
                    c.response(z, o.rcode, arena.len() - start);
                }
            }
            if sent {
                out.push(Outgoing {
                    slot,
                    start,
                    len: arena.len() - start,
                });
            }
        }
        batch.send(&socket, &arena, &out);
        if let (Some((c, slot)), Some(t)) = (&mut metrics, received_at) {
            c.batch(t.elapsed(), n as u64);
            if let Some(r) = &limits.rrl {
                c.set_rrl(r.totals());
            }
            if let Some(q) = &limits.quota {
                c.set_quota(q.total_over());
            }
            slot.publish(c);
        }
        if let Some(r) = &mut limits.rrl {
            r.tick(now_ms);
        }
        if let Some(q) = &mut limits.quota {
            q.tick(now_ms);
        }
        if n < SMALL_BATCH && !batch_wait.is_zero() {
            std::thread::sleep(batch_wait);
        }
        // A burst of huge (EDNS, TXT) replies should not pin memory.
        if arena.capacity() > ARENA_KEEP {
            arena = Vec::with_capacity(BATCH * 512);
        }
    }
    debug!("DNS UDP worker stopped");
}

/// The null reply: the query's header as an empty REFUSED response (id,
/// opcode and RD kept, so load generators match it to their query).
fn null_reply(pkt: &[u8], out: &mut Vec<u8>) -> Answered {
    let Some(h) = pkt.get(..12) else {
        return Answered::Silent;
    };
    if h[2] & 0x80 != 0 {
        return Answered::Silent;
    }
    out.extend_from_slice(&[h[0], h[1], 0x80 | (h[2] & 0x79), 5, 0, 0, 0, 0, 0, 0, 0, 0]);
    Answered::Fast
}
