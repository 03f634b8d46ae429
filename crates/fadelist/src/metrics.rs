//! Prometheus metrics: `GET /metrics` on the `[metrics] listen` address.
//!
//! The metrics listener is its own HTTP front (as CoreDNS's `:9153`): it
//! can stay on loopback or a monitoring network while the public HTTP
//! port faces the internet, and a scrape never competes with report
//! uploads for connection slots. Off when `[metrics] listen` is unset; the
//! DNS workers then count nothing at all.
//!
//! Names follow CoreDNS's (`coredns_dns_requests_total` →
//! `fadelist_dns_requests_total`, …), in the text format 0.0.4
//! ([`Exposition`]). The DNS families come from
//! [`fadelist_dns::metrics`] (per-worker counters summed here at scrape
//! time); the rest is read at scrape time from what the server keeps
//! anyway (the published snapshot, the data files' status board, the
//! listings service's counters), so a scrape costs nothing between
//! scrapes. Label values are bounded by the configuration: zones,
//! datasets, and fixed sets of codes and reasons; never a query name, a
//! key or a client address. `docs/monitoring.md` lists every family.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use fadelist_dns::metrics::{DnsMetrics, Exposition, Kind};

use crate::app::App;

/// A histogram of durations shared by threads (not on the DNS path):
/// one atomic per bucket.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds, seconds.
    bounds: &'static [f64],
    /// Per bucket (not cumulative), the overflow last.
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// An empty histogram with these upper bounds (seconds, ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Counts one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    fn encode(&self, out: &mut Exposition, name: &str, labels: &[(&str, &str)]) {
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        out.histogram(name, labels, self.bounds, &buckets, sum);
    }
}

/// Bounds of the report → publication latency, seconds: a lone report
/// takes a few milliseconds, a group under load up to seconds.
pub const REPORT_PUBLISH_BOUNDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// What happened to the reports posted to `/api/v1/reports`.
#[derive(Debug, Default)]
pub struct ReportStats {
    new: AtomicU64,
    duplicate: AtomicU64,
    /// By error code (`HttpError::code`: a fixed set of static strings).
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

impl ReportStats {
    /// A new report was recorded (202).
    pub fn accepted(&self) {
        self.new.fetch_add(1, Ordering::Relaxed);
    }

    /// A report already recorded was sent again (200).
    pub fn duplicate(&self) {
        self.duplicate.fetch_add(1, Ordering::Relaxed);
    }

    /// A report was refused with the error code `code`.
    pub fn refused(&self, code: &'static str) {
        *self
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(code)
            .or_default() += 1;
    }

    fn encode(&self, out: &mut Exposition) {
        let name = "fadelist_reports_accepted_total";
        out.family(
            name,
            Kind::Counter,
            "Reports accepted: kind=\"new\" recorded (202), kind=\"duplicate\" already recorded \
             from the same reporter (200).",
        );
        out.int(name, &[("kind", "new")], self.new.load(Ordering::Relaxed));
        out.int(
            name,
            &[("kind", "duplicate")],
            self.duplicate.load(Ordering::Relaxed),
        );
        let name = "fadelist_reports_refused_total";
        out.family(
            name,
            Kind::Counter,
            "Reports refused, by the error code of the answer (unauthorized, rate_limited, \
             busy, too_large, unparseable, disk_full, ...).",
        );
        for (code, n) in self
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            out.int(name, &[("reason", code)], *n);
        }
    }
}

/// The metrics listener's router.
pub fn router(app: Arc<App>, dns: Option<DnsMetrics>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((app, dns))
}

async fn scrape(State((app, dns)): State<(Arc<App>, Option<DnsMetrics>)>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, Exposition::CONTENT_TYPE)],
        render(&app, dns.as_ref()),
    )
}

/// The whole exposition.
pub fn render(app: &App, dns: Option<&DnsMetrics>) -> String {
    let mut out = Exposition::new();
    out.family(
        "fadelist_build_info",
        Kind::Gauge,
        "Always 1; the version of the running fadelist.",
    );
    out.int(
        "fadelist_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    if let Some(d) = dns {
        d.encode(&mut out);
    }
    zones(app, &mut out);
    app.reports.encode(&mut out);
    let l = &app.listings;
    let name = "fadelist_report_publish_duration_seconds";
    out.family(
        name,
        Kind::Histogram,
        "Time from a report's arrival to the commit of its group and the publication of \
         what it listed to DNS (every new report, listing or not).",
    );
    l.stats().report_publish.encode(&mut out, name, &[]);
    followed(app, &mut out);
    store(app, &mut out);
    decay(app, &mut out);
    process(app, &mut out);
    out.finish()
}

/// Zones, datasets and listings.
fn zones(app: &App, out: &mut Exposition) {
    let snapshot = app.listings.publisher().snapshot();
    let name = "fadelist_zone_serial";
    out.family(name, Kind::Gauge, "SOA serial of each zone as served now.");
    for z in &snapshot.zones {
        out.int(name, &[("zone", z.name())], u64::from(z.soa.serial));
    }
    let files = app.listings.files().get();
    let counts = app.listings.listing_counts();
    let name = "fadelist_listings";
    out.family(
        name,
        Kind::Gauge,
        "Entries listed per zone, by source: report (report-fed, after corroboration), \
         manual (listed by an operator), file (data files).",
    );
    for z in files.iter() {
        if let Some(c) = counts.get(&z.name) {
            out.int(
                name,
                &[("zone", &z.name), ("source", "report")],
                c.report as u64,
            );
            out.int(
                name,
                &[("zone", &z.name), ("source", "manual")],
                c.manual as u64,
            );
        }
        out.int(
            name,
            &[("zone", &z.name), ("source", "file")],
            z.file_entries() as u64,
        );
    }
    type Field = fn(&crate::zones::DatasetStatus) -> f64;
    let families: [(&str, Kind, &str, Field); 6] = [
        (
            "fadelist_dataset_entries",
            Kind::Gauge,
            "Entries of each data-file dataset as served now.",
            |d| d.entries as f64,
        ),
        (
            "fadelist_dataset_bytes",
            Kind::Gauge,
            "Size of each dataset's files when they were loaded.",
            |d| d.bytes as f64,
        ),
        (
            "fadelist_dataset_load_duration_seconds",
            Kind::Gauge,
            "How long the last successful load of each dataset took (read, parse, build).",
            |d| d.load_seconds,
        ),
        (
            "fadelist_dataset_last_load_timestamp_seconds",
            Kind::Gauge,
            "When the data served from each dataset was loaded, Unix time.",
            |d| d.loaded_at as f64,
        ),
        (
            "fadelist_dataset_reload_errors_total",
            Kind::Counter,
            "Reloads of each dataset that failed (the previous data stayed served).",
            |d| d.reload_errors as f64,
        ),
        (
            "fadelist_dataset_reload_failing",
            Kind::Gauge,
            "1 while a dataset's files hold an error and older data is served (see \
             /api/v1/status for the file and line), else 0.",
            |d| f64::from(u8::from(d.last_error.is_some())),
        ),
    ];
    for (name, kind, help, field) in families {
        out.family(name, kind, help);
        for z in files.iter() {
            for d in &z.datasets {
                let files = d.files.join(",");
                out.float(
                    name,
                    &[("zone", &z.name), ("type", d.kind), ("dataset", &files)],
                    field(d),
                );
            }
        }
    }
}

/// Followed zones (`primary`): whether they are served, how fresh.
fn followed(app: &App, out: &mut Exposition) {
    let board = app.follow.get();
    if board.is_empty() {
        return;
    }
    let name = "fadelist_follower_serving";
    out.family(
        name,
        Kind::Gauge,
        "1 while a followed zone has data from its primary, 0 before the first transfer and \
         after it expired (the zone is then refused).",
    );
    for (z, s) in &board {
        out.int(name, &[("zone", z)], u64::from(s.serving));
    }
    let name = "fadelist_follower_last_success_timestamp_seconds";
    out.family(
        name,
        Kind::Gauge,
        "When a followed zone's last SOA check or transfer succeeded, Unix time (0: never).",
    );
    for (z, s) in &board {
        out.int(name, &[("zone", z)], s.last_success.unwrap_or(0));
    }
    let name = "fadelist_follower_transfers_total";
    out.family(
        name,
        Kind::Counter,
        "Transfers applied to a followed zone, by type (axfr: the whole zone, ixfr: differences).",
    );
    for (z, s) in &board {
        out.int(name, &[("zone", z), ("type", "axfr")], s.axfr);
        out.int(name, &[("zone", z), ("type", "ixfr")], s.ixfr);
    }
    let name = "fadelist_follower_failures_total";
    out.family(
        name,
        Kind::Counter,
        "SOA checks or transfers of a followed zone that failed (primary down, refused, bad \
         TSIG, malformed answer).",
    );
    for (z, s) in &board {
        out.int(name, &[("zone", z)], s.failures);
    }
}

/// The store thread and the database.
fn store(app: &App, out: &mut Exposition) {
    let l = &app.listings;
    let name = "fadelist_store_queue_depth";
    out.family(
        name,
        Kind::Gauge,
        "Jobs waiting in the store thread's queue.",
    );
    out.int(name, &[], l.queued() as u64);
    let name = "fadelist_store_pending_writes";
    out.family(
        name,
        Kind::Gauge,
        "Writes asked for by clients and operators and not finished (queued or running).",
    );
    out.int(name, &[], l.pending() as u64);
    let name = "fadelist_store_last_progress_age_seconds";
    out.family(
        name,
        Kind::Gauge,
        "Seconds since the store thread last started or finished a job.",
    );
    out.float(name, &[], l.since_progress().as_secs_f64());
    if let Some(d) = l.disk_status() {
        let name = "fadelist_store_disk_free_bytes";
        out.family(
            name,
            Kind::Gauge,
            "Free bytes on the database's filesystem (for unprivileged users).",
        );
        out.int(name, &[], d.free_bytes);
        let name = "fadelist_store_disk_min_free_bytes";
        out.family(
            name,
            Kind::Gauge,
            "Free bytes kept (store.min_free_disk): below it writes are refused.",
        );
        out.int(name, &[], d.min_free_bytes);
        let name = "fadelist_store_writes_refused";
        out.family(
            name,
            Kind::Gauge,
            "1 while writes are refused because the disk is short of space, else 0.",
        );
        out.int(name, &[], u64::from(d.writes_refused));
    }
}

/// The decay timer.
fn decay(app: &App, out: &mut Exposition) {
    let d = &app.listings.stats().decay;
    let name = "fadelist_decay_runs_total";
    out.family(
        name,
        Kind::Counter,
        "Decay passes (the delisting timer), by result.",
    );
    let (ok, failed) = d.runs();
    out.int(name, &[("result", "ok")], ok);
    out.int(name, &[("result", "error")], failed);
    let name = "fadelist_decay_removed_total";
    out.family(
        name,
        Kind::Counter,
        "Listings ended by decay passes: kind=\"decayed\" (score below the delisting \
         threshold), kind=\"manual_expired\" (a manual listing's end date).",
    );
    let (decayed, expired) = d.removed();
    out.int(name, &[("kind", "decayed")], decayed);
    out.int(name, &[("kind", "manual_expired")], expired);
    let name = "fadelist_decay_last_run_timestamp_seconds";
    out.family(
        name,
        Kind::Gauge,
        "When the last successful decay pass ran, Unix time (0: none yet).",
    );
    out.int(
        name,
        &[],
        d.last().map_or(0, |r| u64::try_from(r.at).unwrap_or(0)),
    );
    let name = "fadelist_decay_interval_seconds";
    out.family(
        name,
        Kind::Gauge,
        "ingest.decay_interval: /readyz fails when no pass succeeded for three of them.",
    );
    out.float(name, &[], app.config.ingest.decay_interval.as_secs_f64());
}

/// The usual process families, from /proc (Linux).
fn process(app: &App, out: &mut Exposition) {
    let name = "process_start_time_seconds";
    out.family(
        name,
        Kind::Gauge,
        "Start time of the process since the Unix epoch, seconds.",
    );
    out.int(name, &[], app.started_at);
    if let Some(kb) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
    {
        let name = "process_resident_memory_bytes";
        out.family(name, Kind::Gauge, "Resident memory size, bytes.");
        out.int(name, &[], kb * 1024);
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let name = "process_open_fds";
        out.family(name, Kind::Gauge, "Open file descriptors.");
        out.int(name, &[], dir.count() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_sum_and_count() {
        static BOUNDS: [f64; 2] = [0.01, 1.0];
        let h = Histogram::new(&BOUNDS);
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(10));
        h.observe(Duration::from_millis(500));
        h.observe(Duration::from_secs(3));
        assert_eq!(h.count(), 4);
        let mut out = Exposition::new();
        out.family("x_seconds", Kind::Histogram, "x");
        h.encode(&mut out, "x_seconds", &[("a", "b")]);
        assert_eq!(
            out.finish(),
            "# HELP x_seconds x\n# TYPE x_seconds histogram\n\
             x_seconds_bucket{a=\"b\",le=\"0.01\"} 2\n\
             x_seconds_bucket{a=\"b\",le=\"1\"} 3\n\
             x_seconds_bucket{a=\"b\",le=\"+Inf\"} 4\n\
             x_seconds_sum{a=\"b\"} 3.515\n\
             x_seconds_count{a=\"b\"} 4\n"
        );
    }
}
