//! DNS query metrics: counted by the workers, summed at scrape time.
//!
//! # No shared write per query
//!
//! A counter shared by the UDP workers (an atomic, or a lock) would put
//! one cache line in every worker's way on every query: the line moves
//! between cores at each increment, which costs more than the rest of the
//! bookkeeping together. So each UDP worker owns a plain array of `u64`
//! counters ([`Counters`]) that it increments as it answers, and once per
//! batch of datagrams (after the batch's `sendmmsg`) it copies the array
//! into its own *slot*, an `Arc<[AtomicU64]>`, with `Relaxed` stores. Only
//! that worker writes its slot; the scrape reads every slot and adds them
//! up. That is one store per counter per batch (a few hundred plain
//! stores for up to [`BATCH`](crate::fast::BATCH) queries, to a line the
//! worker's core owns unless a scrape just read it), never an atomic
//! read-modify-write and never per query. `unsafe` is forbidden in this
//! workspace, so a slot cannot be a plain array read from another thread;
//! `Relaxed` atomic stores compile to the same plain `mov` on x86-64 and
//! arm64, and they are what makes reading it from the scraper sound.
//!
//! Each published value only grows (it is the worker's running total), so
//! a scrape sees every counter as monotonic even though the counters of
//! one worker may be a batch apart from each other.
//!
//! TCP connections are tokio tasks, too many to give each a slot: a
//! connection counts into its own [`Counters`] for the messages of one
//! read, then adds them to the shared TCP totals with one `fetch_add` per
//! non-zero counter (per read, not per query).
//!
//! # Labels
//!
//! Zone labels are the configured zones only, in configuration order
//! ([`Snapshot::zones`](fadelist_core::snapshot::Snapshot::zones) follows
//! it); a query for any other name counts as `zone="other"`, so query
//! names and client addresses never make new series. Response codes are
//! named as in CoreDNS (`NOERROR`, `NXDOMAIN`, `REFUSED`, `SERVFAIL`,
//! `FORMERR`, `NOTIMP`, `BADVERS`, anything else `OTHER`).
//!
//! # Latency
//!
//! Reading the clock twice per query would cost about as much as the
//! lookup. A worker reads it once when `recvmmsg` returns and once when
//! `sendmmsg` has sent the batch's replies; each datagram of the batch is
//! observed with that duration, an upper bound of its own time in the
//! server (the time it waited in the socket's queue before the batch was
//! received is not seen). TCP does the same per read.
//!
//! The exposition (Prometheus text format 0.0.4, [`Exposition`]) is here
//! too, below the `fadelist` crate, which writes its own metrics with it.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fadelist_core::snapshot::AclAction;

/// Names of the response-code label values; [`rcode_slot`] maps a code.
pub const RCODES: [&str; 8] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "OTHER",
];

/// The position in [`RCODES`] of a response code (extended codes
/// included: BADVERS is 16).
pub fn rcode_slot(rcode: u16) -> usize {
    match rcode {
        0..=5 => usize::from(rcode),
        16 => 6,
        _ => 7,
    }
}

/// Upper bounds (bytes) of the request and response size buckets:
/// CoreDNS's, without its empty 0 bucket.
pub const SIZE_BOUNDS: [u64; 13] = [
    100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16_000, 32_000, 48_000, 64_000,
];

/// Upper bounds (nanoseconds) of the latency buckets: a batch takes tens
/// to hundreds of microseconds, so finer than CoreDNS's (from 250 µs).
pub const DURATION_BOUNDS_NS: [u64; 16] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// Names of the response-rate limiting actions, in the order of
/// [`Counters::set_rrl`].
pub const RRL_ACTIONS: [&str; 3] = ["drop", "slip", "would_limit"];

const NR: usize = RCODES.len();
const NS: usize = SIZE_BOUNDS.len() + 1;
const ND: usize = DURATION_BOUNDS_NS.len() + 1;
const NA: usize = AclAction::ALL.len();

/// Where each counter sits in a flat array, for `zones` zone slots (the
/// configured zones and "other").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    zones: usize,
}

impl Layout {
    fn requests(self, z: usize) -> usize {
        z
    }
    fn responses(self, z: usize, r: usize) -> usize {
        self.zones + z * NR + r
    }
    /// Size histogram `which` (0 requests, 1 responses) of zone `z`: its
    /// buckets, then its sum.
    fn size(self, which: usize, z: usize) -> usize {
        self.zones * (1 + NR) + (which * self.zones + z) * (NS + 1)
    }
    fn acl(self, z: usize, a: usize) -> usize {
        self.zones * (1 + NR + 2 * (NS + 1)) + z * NA + a
    }
    /// The latency histogram: buckets, then the sum in nanoseconds.
    fn duration(self) -> usize {
        self.zones * (1 + NR + 2 * (NS + 1) + NA)
    }
    fn rrl(self) -> usize {
        self.duration() + ND + 1
    }
    fn quota(self) -> usize {
        self.rrl() + RRL_ACTIONS.len()
    }
    fn len(self) -> usize {
        self.quota() + 1
    }
}

fn bucket(bounds: &[u64], v: u64) -> usize {
    bounds.iter().position(|&b| v <= b).unwrap_or(bounds.len())
}

/// One worker's (or one TCP read's) counters: plain integers, owned by
/// one thread.
#[derive(Clone, Debug)]
pub struct Counters {
    layout: Layout,
    v: Box<[u64]>,
}

impl Counters {
    fn new(layout: Layout) -> Counters {
        Counters {
            layout,
            v: vec![0; layout.len()].into_boxed_slice(),
        }
    }

    /// The zone slot of a zone position (`None`, or a position beyond the
    /// configured zones: "other").
    #[inline]
    pub fn zone_slot(&self, zone: Option<usize>) -> usize {
        let other = self.layout.zones - 1;
        zone.map_or(other, |z| z.min(other))
    }

    /// A request of `size` bytes for zone slot `z`.
    #[inline]
    pub fn request(&mut self, z: usize, size: usize) {
        let l = self.layout;
        self.v[l.requests(z)] += 1;
        let h = l.size(0, z);
        self.v[h + bucket(&SIZE_BOUNDS, size as u64)] += 1;
        self.v[h + NS] += size as u64;
    }

    /// A response sent with `rcode`, `size` bytes, for zone slot `z`.
    #[inline]
    pub fn response(&mut self, z: usize, rcode: u16, size: usize) {
        let l = self.layout;
        self.v[l.responses(z, rcode_slot(rcode))] += 1;
        let h = l.size(1, z);
        self.v[h + bucket(&SIZE_BOUNDS, size as u64)] += 1;
        self.v[h + NS] += size as u64;
    }

    /// An ACL action taken on a query for zone slot `z`.
    #[inline]
    pub fn acl(&mut self, z: usize, action: AclAction) {
        let i = self.layout.acl(z, action.index());
        self.v[i] += 1;
    }

    /// `queries` queries that took `elapsed` each (one batch).
    pub fn batch(&mut self, elapsed: Duration, queries: u64) {
        if queries == 0 {
            return;
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let d = self.layout.duration();
        self.v[d + bucket(&DURATION_BOUNDS_NS, ns)] += queries;
        self.v[d + ND] = self.v[d + ND].saturating_add(ns.saturating_mul(queries));
    }

    /// The response-rate limiter's running totals, in the order of
    /// [`RRL_ACTIONS`].
    pub fn set_rrl(&mut self, totals: [u64; 3]) {
        let r = self.layout.rrl();
        self.v[r..r + 3].copy_from_slice(&totals);
    }

    /// The query quota's running total of queries over quota.
    pub fn set_quota(&mut self, over: u64) {
        let q = self.layout.quota();
        self.v[q] = over;
    }
}

/// A worker's published counters: written by that worker only (see the
/// module documentation), read by the scrape.
#[derive(Debug)]
pub struct Slot {
    v: Box<[AtomicU64]>,
}

impl Slot {
    fn new(len: usize) -> Slot {
        Slot {
            v: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Publishes `c` (the owner's running totals): one relaxed store per
    /// counter.
    pub fn publish(&self, c: &Counters) {
        for (a, &v) in self.v.iter().zip(c.v.iter()) {
            a.store(v, Ordering::Relaxed);
        }
    }

    /// Adds `c` (increments since the last call) and zeroes it.
    fn add(&self, c: &mut Counters) {
        for (a, v) in self.v.iter().zip(c.v.iter_mut()) {
            if *v != 0 {
                a.fetch_add(*v, Ordering::Relaxed);
                *v = 0;
            }
        }
    }

    fn add_into(&self, sum: &mut [u64]) {
        for (s, a) in sum.iter_mut().zip(self.v.iter()) {
            *s = s.wrapping_add(a.load(Ordering::Relaxed));
        }
    }
}

/// The TCP front's connection counters.
#[derive(Debug, Default)]
struct TcpConnections {
    accepted: AtomicU64,
    closed: AtomicU64,
    /// Connections closed to keep a client within its cap.
    over_client_cap: AtomicU64,
    accept_errors: AtomicU64,
    max: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    /// Label of each zone slot: the configured zones, then "other".
    zones: Vec<String>,
    layout: Layout,
    udp: Mutex<Vec<Arc<Slot>>>,
    tcp: Slot,
    tcp_conns: TcpConnections,
}

/// The DNS front's metrics: shared by the workers, the TCP front and the
/// scrape. Cloning is cheap (one `Arc`).
#[derive(Clone, Debug)]
pub struct DnsMetrics {
    inner: Arc<Inner>,
}

impl PartialEq for DnsMetrics {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for DnsMetrics {}

/// A summed view of one protocol's counters at scrape time.
struct Totals {
    layout: Layout,
    v: Vec<u64>,
}

impl Totals {
    fn get(&self, i: usize) -> u64 {
        self.v[i]
    }
}

impl DnsMetrics {
    /// Metrics labelled with `zones`, the served zones in the order of the
    /// snapshot's zones (the configuration's).
    pub fn new(zones: Vec<String>) -> DnsMetrics {
        let mut names = zones;
        names.push("other".into());
        let layout = Layout { zones: names.len() };
        DnsMetrics {
            inner: Arc::new(Inner {
                zones: names,
                layout,
                udp: Mutex::new(Vec::new()),
                tcp: Slot::new(layout.len()),
                tcp_conns: TcpConnections::default(),
            }),
        }
    }

    /// The zone label values, "other" last.
    pub fn zone_labels(&self) -> &[String] {
        &self.inner.zones
    }

    /// Counters and a published slot for a new UDP worker.
    pub fn udp_worker(&self) -> (Counters, Arc<Slot>) {
        let slot = Arc::new(Slot::new(self.inner.layout.len()));
        self.inner
            .udp
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(slot.clone());
        (Counters::new(self.inner.layout), slot)
    }

    /// Empty counters for a TCP connection ([`DnsMetrics::flush_tcp`]).
    pub fn tcp_counters(&self) -> Counters {
        Counters::new(self.inner.layout)
    }

    /// Adds a TCP connection's counters to the TCP totals and zeroes them.
    pub fn flush_tcp(&self, c: &mut Counters) {
        self.inner.tcp.add(c);
    }

    /// The TCP front's connection cap, shown next to the open connections.
    pub fn set_tcp_max(&self, max: usize) {
        let c = &self.inner.tcp_conns;
        c.max.store(max as u64, Ordering::Relaxed);
    }

    /// A TCP connection was accepted.
    pub fn tcp_accepted(&self) {
        let c = &self.inner.tcp_conns;
        c.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// A TCP connection ended.
    pub fn tcp_closed(&self) {
        let c = &self.inner.tcp_conns;
        c.closed.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` connections of a client were closed to admit its newest one
    /// (the per-client cap).
    pub fn tcp_over_client_cap(&self, n: u64) {
        let c = &self.inner.tcp_conns;
        c.over_client_cap.fetch_add(n, Ordering::Relaxed);
    }

    /// `accept()` failed (out of descriptors, …).
    pub fn tcp_accept_error(&self) {
        let c = &self.inner.tcp_conns;
        c.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    fn udp_totals(&self) -> Totals {
        let layout = self.inner.layout;
        let mut v = vec![0u64; layout.len()];
        for s in self
            .inner
            .udp
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            s.add_into(&mut v);
        }
        Totals { layout, v }
    }

    fn tcp_totals(&self) -> Totals {
        let layout = self.inner.layout;
        let mut v = vec![0u64; layout.len()];
        self.inner.tcp.add_into(&mut v);
        Totals { layout, v }
    }

    /// The number of queries counted so far over UDP and TCP, per zone
    /// label (tests, status).
    pub fn requests_by_zone(&self) -> Vec<(String, u64)> {
        let (u, t) = (self.udp_totals(), self.tcp_totals());
        self.inner
            .zones
            .iter()
            .enumerate()
            .map(|(z, name)| {
                let i = u.layout.requests(z);
                (name.clone(), u.get(i) + t.get(i))
            })
            .collect()
    }

    /// Writes every DNS family into `out`.
    pub fn encode(&self, out: &mut Exposition) {
        let protos = [("udp", self.udp_totals()), ("tcp", self.tcp_totals())];
        let zones = &self.inner.zones;
        out.family(
            "fadelist_dns_requests_total",
            Kind::Counter,
            "DNS queries received, by protocol and zone (zone=\"other\": a name in none of \
             the served zones, or no readable question).",
        );
        for (proto, t) in &protos {
            for (z, zone) in zones.iter().enumerate() {
                out.int(
                    "fadelist_dns_requests_total",
                    &[("proto", proto), ("zone", zone)],
                    t.get(t.layout.requests(z)),
                );
            }
        }
        out.family(
            "fadelist_dns_responses_total",
            Kind::Counter,
            "DNS responses sent, by protocol, zone and response code.",
        );
        for (proto, t) in &protos {
            for (z, zone) in zones.iter().enumerate() {
                for (r, rcode) in RCODES.iter().enumerate() {
                    out.int(
                        "fadelist_dns_responses_total",
                        &[("proto", proto), ("zone", zone), ("rcode", rcode)],
                        t.get(t.layout.responses(z, r)),
                    );
                }
            }
        }
        let bounds: Vec<f64> = SIZE_BOUNDS.iter().map(|&b| b as f64).collect();
        for (which, name, help) in [
            (
                0,
                "fadelist_dns_request_size_bytes",
                "Size of the DNS queries received (DNS message, without the TCP length prefix).",
            ),
            (
                1,
                "fadelist_dns_response_size_bytes",
                "Size of the DNS responses sent (DNS message, without the TCP length prefix).",
            ),
        ] {
            out.family(name, Kind::Histogram, help);
            for (proto, t) in &protos {
                for (z, zone) in zones.iter().enumerate() {
                    let h = t.layout.size(which, z);
                    out.histogram(
                        name,
                        &[("proto", proto), ("zone", zone)],
                        &bounds,
                        &t.v[h..h + NS],
                        t.get(h + NS) as f64,
                    );
                }
            }
        }
        let name = "fadelist_dns_request_duration_seconds";
        out.family(
            name,
            Kind::Histogram,
            "Time from receiving a batch of queries (a recvmmsg, a TCP read) to having sent \
             its replies, observed once per query of the batch.",
        );
        let bounds: Vec<f64> = DURATION_BOUNDS_NS.iter().map(|&b| b as f64 / 1e9).collect();
        for (proto, t) in &protos {
            let d = t.layout.duration();
            out.histogram(
                name,
                &[("proto", proto)],
                &bounds,
                &t.v[d..d + ND],
                t.get(d + ND) as f64 / 1e9,
            );
        }
        let name = "fadelist_dns_acl_actions_total";
        out.family(
            name,
            Kind::Counter,
            "Queries answered by an ACL action instead of the data (a zone's acl dataset, or \
             an exceeded [dns_quota]), by action.",
        );
        for (proto, t) in &protos {
            for (z, zone) in zones.iter().enumerate() {
                for a in AclAction::ALL {
                    out.int(
                        name,
                        &[("proto", proto), ("zone", zone), ("action", a.name())],
                        t.get(t.layout.acl(z, a.index())),
                    );
                }
            }
        }
        let (_, udp) = &protos[0];
        let name = "fadelist_dns_rrl_actions_total";
        out.family(
            name,
            Kind::Counter,
            "UDP responses limited by response-rate limiting ([rrl]): dropped, slipped (sent \
             as an empty TC=1 reply), or would have been limited (log_only).",
        );
        for (i, action) in RRL_ACTIONS.iter().enumerate() {
            out.int(name, &[("action", action)], udp.get(udp.layout.rrl() + i));
        }
        let name = "fadelist_dns_quota_exceeded_total";
        out.family(
            name,
            Kind::Counter,
            "UDP queries from client networks over their daily [dns_quota].",
        );
        out.int(name, &[], udp.get(udp.layout.quota()));

        let c = &self.inner.tcp_conns;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let accepted = load(&c.accepted);
        let closed = load(&c.closed);
        out.family(
            "fadelist_dns_tcp_connections_accepted_total",
            Kind::Counter,
            "DNS TCP connections accepted.",
        );
        out.int("fadelist_dns_tcp_connections_accepted_total", &[], accepted);
        out.family(
            "fadelist_dns_tcp_connections_open",
            Kind::Gauge,
            "DNS TCP connections open now.",
        );
        out.int(
            "fadelist_dns_tcp_connections_open",
            &[],
            accepted.saturating_sub(closed),
        );
        out.family(
            "fadelist_dns_tcp_connections_max",
            Kind::Gauge,
            "DNS TCP connections served at once at most (server.tcp_max_connections); more \
             wait in the listen backlog.",
        );
        out.int("fadelist_dns_tcp_connections_max", &[], load(&c.max));
        let name = "fadelist_dns_tcp_connections_refused_total";
        out.family(
            name,
            Kind::Counter,
            "DNS TCP connections refused: reason=\"per_client_cap\" counts a client's \
             connections closed because it opened more than server.tcp_max_per_client; \
             reason=\"accept_error\" counts failed accepts (out of descriptors, ...).",
        );
        out.int(
            name,
            &[("reason", "per_client_cap")],
            load(&c.over_client_cap),
        );
        out.int(name, &[("reason", "accept_error")], load(&c.accept_errors));
    }
}

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (until a restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

/// A Prometheus text exposition (format 0.0.4, content type
/// [`Exposition::CONTENT_TYPE`]) being written.
///
/// Written by hand rather than with `prometheus-client`: that crate only
/// writes OpenMetrics (`# EOF`, counter families named without `_total`),
/// and our hottest counters are summed from per-worker slots at scrape
/// time, which its registry would only take through a custom collector
/// anyway. The format is a few lines of rules; `promtool check metrics`
/// checks our output in `tests/interop/prometheus.sh`.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// Writes `v` as the text format wants floats (`+Inf`, `-Inf`, `NaN`).
fn float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

impl Exposition {
    /// The content type of the text format.
    pub const CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";

    /// An empty exposition.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines. Its samples
    /// must follow before the next family.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn name_and_labels(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
    ) {
        self.out.push_str(name);
        if labels.is_empty() && extra.is_none() {
            return;
        }
        self.out.push('{');
        for (i, (k, v)) in labels.iter().chain(extra.as_ref()).enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(k);
            self.out.push_str("=\"");
            for ch in v.chars() {
                match ch {
                    '\\' => self.out.push_str("\\\\"),
                    '"' => self.out.push_str("\\\""),
                    '\n' => self.out.push_str("\\n"),
                    c => self.out.push(c),
                }
            }
            self.out.push('"');
        }
        self.out.push('}');
    }

    /// A sample with an integer value.
    pub fn int(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.name_and_labels(name, labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    /// A sample with a float value.
    pub fn float(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.name_and_labels(name, labels, None);
        self.out.push(' ');
        float(&mut self.out, value);
        self.out.push('\n');
    }

    /// A histogram's samples: `buckets` are per-bucket (not cumulative)
    /// counts, one per bound then the overflow; written cumulative with
    /// `le`, then `_sum` and `_count`.
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        bounds: &[f64],
        buckets: &[u64],
        sum: f64,
    ) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        let mut le = String::new();
        for (i, &n) in buckets.iter().enumerate() {
            cumulative += n;
            le.clear();
            float(&mut le, bounds.get(i).copied().unwrap_or(f64::INFINITY));
            self.name_and_labels(&bucket, labels, Some(("le", &le)));
            let _ = writeln!(self.out, " {cumulative}");
        }
        self.float(&format!("{name}_sum"), labels, sum);
        self.int(&format!("{name}_count"), labels, cumulative);
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_has_no_overlap() {
        let l = Layout { zones: 3 };
        let mut seen = vec![false; l.len()];
        let mut mark = |i: usize| {
            assert!(!seen[i], "index {i} used twice");
            seen[i] = true;
        };
        for z in 0..3 {
            mark(l.requests(z));
            for r in 0..NR {
                mark(l.responses(z, r));
            }
            for which in 0..2 {
                for b in 0..=NS {
                    mark(l.size(which, z) + b);
                }
            }
            for a in 0..NA {
                mark(l.acl(z, a));
            }
        }
        for b in 0..=ND {
            mark(l.duration() + b);
        }
        for a in 0..3 {
            mark(l.rrl() + a);
        }
        mark(l.quota());
        assert!(seen.iter().all(|&s| s), "every index used");
    }

    #[test]
    fn workers_are_summed_at_scrape_time() {
        let m = DnsMetrics::new(vec!["a.test".into(), "b.test".into()]);
        let (mut c1, s1) = m.udp_worker();
        let (mut c2, s2) = m.udp_worker();
        let a = c1.zone_slot(Some(0));
        c1.request(a, 40);
        c1.response(a, 3, 90);
        c2.request(c2.zone_slot(None), 30);
        c2.response(c2.zone_slot(Some(9)), 5, 30);
        c2.request(c2.zone_slot(Some(1)), 600);
        // Not published yet: the scrape does not see it.
        assert_eq!(m.requests_by_zone().iter().map(|r| r.1).sum::<u64>(), 0);
        s1.publish(&c1);
        s2.publish(&c2);
        // Publishing running totals twice counts nothing twice.
        s2.publish(&c2);
        let mut t = m.tcp_counters();
        t.request(t.zone_slot(Some(1)), 50);
        m.flush_tcp(&mut t);
        m.flush_tcp(&mut t);
        assert_eq!(
            m.requests_by_zone(),
            [
                ("a.test".to_string(), 1),
                ("b.test".to_string(), 2),
                ("other".to_string(), 1)
            ]
        );
        let mut out = Exposition::new();
        m.encode(&mut out);
        let text = out.finish();
        for line in [
            "fadelist_dns_responses_total{proto=\"udp\",zone=\"a.test\",rcode=\"NXDOMAIN\"} 1",
            "fadelist_dns_responses_total{proto=\"udp\",zone=\"other\",rcode=\"REFUSED\"} 1",
            "fadelist_dns_request_size_bytes_bucket{proto=\"udp\",zone=\"b.test\",le=\"511\"} 0",
            "fadelist_dns_request_size_bytes_bucket{proto=\"udp\",zone=\"b.test\",le=\"1023\"} 1",
            "fadelist_dns_request_size_bytes_bucket{proto=\"udp\",zone=\"b.test\",le=\"+Inf\"} 1",
            "fadelist_dns_request_size_bytes_sum{proto=\"udp\",zone=\"b.test\"} 600",
            "fadelist_dns_request_size_bytes_count{proto=\"tcp\",zone=\"b.test\"} 1",
            "fadelist_dns_requests_total{proto=\"tcp\",zone=\"b.test\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let m = DnsMetrics::new(vec![]);
        let (mut c, s) = m.udp_worker();
        c.batch(Duration::from_micros(30), 4);
        c.batch(Duration::from_millis(2), 1);
        c.batch(Duration::from_secs(5), 1);
        c.batch(Duration::from_secs(5), 0);
        s.publish(&c);
        let mut out = Exposition::new();
        m.encode(&mut out);
        let text = out.finish();
        let value = |series: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("{series} missing"))
                .to_string()
        };
        let b = |le: &str| {
            value(&format!(
                "fadelist_dns_request_duration_seconds_bucket{{proto=\"udp\",le=\"{le}\"}}"
            ))
        };
        assert_eq!(b("0.000025"), "0");
        assert_eq!(b("0.00005"), "4");
        assert_eq!(b("0.0025"), "5");
        assert_eq!(b("1"), "5");
        assert_eq!(b("+Inf"), "6");
        assert_eq!(
            value("fadelist_dns_request_duration_seconds_count{proto=\"udp\"}"),
            "6"
        );
        let sum: f64 = value("fadelist_dns_request_duration_seconds_sum{proto=\"udp\"}")
            .parse()
            .unwrap();
        assert!((sum - 5.00212).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn text_format_escapes() {
        let mut e = Exposition::new();
        e.family("x_total", Kind::Counter, "a \\ b\nc");
        e.int("x_total", &[("l", "q\"u\\o\nte")], 3);
        e.float("y", &[], f64::NAN);
        e.float("y", &[], 0.25);
        assert_eq!(
            e.finish(),
            "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\n\
             x_total{l=\"q\\\"u\\\\o\\nte\"} 3\ny NaN\ny 0.25\n"
        );
        assert_eq!(rcode_slot(16), 6);
        assert_eq!(rcode_slot(9), 7);
        assert_eq!(RCODES[rcode_slot(3)], "NXDOMAIN");
    }
}
