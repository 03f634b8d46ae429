//! Liveness, readiness and status: `/healthz`, `/readyz`,
//! `/api/v1/status`.
//!
//! - `/healthz` is liveness: it answers `ok` as long as the process
//!   serves HTTP at all, and looks at nothing else (restarting a server
//!   whose disk is full would not free the disk).
//! - `/readyz` is readiness: 200 `{"ready":true,…}` when every check
//!   passes, else 503 with the failing checks' names in `failing` and a
//!   sentence for each in `checks`. The checks ([`evaluate`], a pure
//!   function of a [`Probe`] and the time, so the tests can inject
//!   times):
//!   - `zones_loaded`: every configured zone is served (a followed zone
//!     once its first transfer is in, until it expires) and no dataset's
//!     files hold an error (the previous data is then served: stale);
//!   - `store_writable`: the database's disk is above `min_free_disk`
//!     (below it every write gets 503 `disk_full`);
//!   - `store_thread`: the store thread runs a job on request; one that
//!     is only busy (it started or finished a job less than
//!     [`STUCK_AFTER`] ago) passes, one that is gone or stuck fails;
//!   - `decay`: a decay pass succeeded within the last
//!     [`DECAY_INTERVALS`] × `decay_interval` (counted from the start
//!     until the first one), else listings stop expiring.
//! - `/api/v1/status` shows the same things in detail ([`status`]).
//!
//! The store thread is asked at most once per [`PING_REUSE`] whatever
//! the number of probes ([`Pinger`]): the public port serves `/readyz`,
//! and a flood of probes must not fill the writer's queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::app::App;
use crate::listings::ServiceError;
use crate::zones::DatasetError;

/// How long `/readyz` waits for the store thread: probes usually give up
/// after a second.
pub const PING_TIMEOUT: Duration = Duration::from_millis(900);

/// A store thread that has not started or finished a job for this long
/// while a ping waits is stuck, not busy. SQLite's busy timeout is 5 s;
/// the longest legitimate jobs (a decay over many listed keys, a group of
/// 128 reports on a slow disk) take seconds.
pub const STUCK_AFTER: Duration = Duration::from_secs(60);

/// `decay` fails after this many decay intervals without a good pass.
pub const DECAY_INTERVALS: u32 = 3;

/// A ping's answer is reused by the probes that come within this time.
pub const PING_REUSE: Duration = Duration::from_secs(1);

/// How a ping of the store thread went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ping {
    /// The thread ran the ping.
    Answered,
    /// The thread is gone (it cannot run anything any more).
    Gone,
    /// No answer within [`PING_TIMEOUT`].
    TimedOut,
}

/// Everything readiness looks at, read at one moment.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The configured zones.
    pub zones_configured: Vec<String>,
    /// The zones the published snapshot serves.
    pub zones_served: Vec<String>,
    /// The datasets whose files hold an error, by zone.
    pub data_errors: Vec<(String, DatasetError)>,
    /// `Err` with the reason when writes are refused.
    pub writable: Result<(), String>,
    /// The store thread's answer to a ping.
    pub ping: Ping,
    /// How long ago the store thread started or finished a job.
    pub since_progress: Duration,
    /// When the last good decay pass finished.
    pub last_decay: Option<Instant>,
    /// When the service started.
    pub started: Instant,
    /// `ingest.decay_interval`.
    pub decay_interval: Duration,
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Passed.
    pub ok: bool,
    /// Why it failed, or a note when it passed with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The `/readyz` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// Every check passed.
    pub ready: bool,
    /// The names of the checks that failed.
    pub failing: Vec<&'static str>,
    /// Every check by name.
    pub checks: BTreeMap<&'static str, Check>,
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The readiness of `p` at `now` (see the module documentation).
pub fn evaluate(p: &Probe, now: Instant) -> Readiness {
    let mut checks = BTreeMap::new();
    let pass = |detail: Option<String>| Check { ok: true, detail };
    let fail = |detail: String| Check {
        ok: false,
        detail: Some(detail),
    };

    let missing: Vec<&String> = p
        .zones_configured
        .iter()
        .filter(|z| !p.zones_served.contains(z))
        .collect();
    let mut problems: Vec<String> = missing
        .iter()
        .map(|z| format!("zone {z} is not served"))
        .collect();
    problems.extend(p.data_errors.iter().map(|(zone, e)| match e.line {
        Some(line) => format!("zone {zone}: {}:{line}: {}", e.file, e.message),
        None => format!("zone {zone}: {}: {}", e.file, e.message),
    }));
    checks.insert(
        "zones_loaded",
        if problems.is_empty() {
            pass(None)
        } else {
            fail(problems.join("; "))
        },
    );

    checks.insert(
        "store_writable",
        match &p.writable {
            Ok(()) => pass(None),
            Err(why) => fail(why.clone()),
        },
    );

    checks.insert(
        "store_thread",
        match p.ping {
            Ping::Answered => pass(None),
            Ping::Gone => fail("the store thread is gone".into()),
            Ping::TimedOut if p.since_progress < STUCK_AFTER => pass(Some(format!(
                "busy: no answer within {}, last progress {} ago",
                secs(PING_TIMEOUT),
                secs(p.since_progress)
            ))),
            Ping::TimedOut => fail(format!(
                "stuck: no job started or finished for {}",
                secs(p.since_progress)
            )),
        },
    );

    let since = p.last_decay.unwrap_or(p.started);
    let age = now.saturating_duration_since(since);
    let limit = p.decay_interval * DECAY_INTERVALS;
    checks.insert(
        "decay",
        if age <= limit {
            pass(None)
        } else {
            fail(format!(
                "no decay pass succeeded for {} ({DECAY_INTERVALS} x decay_interval = {}); \
                 listings are not expiring",
                secs(age),
                secs(limit)
            ))
        },
    );

    let failing: Vec<&'static str> = checks
        .iter()
        .filter(|(_, c)| !c.ok)
        .map(|(name, _)| *name)
        .collect();
    Readiness {
        ready: failing.is_empty(),
        failing,
        checks,
    }
}

/// Pings the store thread for the probes, once per [`PING_REUSE`] at
/// most, one ping at a time.
#[derive(Debug, Default)]
pub struct Pinger {
    last: tokio::sync::Mutex<Option<(Instant, Ping)>>,
}

impl Pinger {
    /// The store thread's answer (fresh, or at most [`PING_REUSE`] old).
    pub async fn ping(&self, app: &App) -> Ping {
        // Probes that arrive during a ping wait for its answer.
        let mut last = self.last.lock().await;
        if let Some((at, ping)) = *last
            && at.elapsed() < PING_REUSE
        {
            return ping;
        }
        let ping = match tokio::time::timeout(PING_TIMEOUT, app.listings.ping()).await {
            Ok(Ok(())) => Ping::Answered,
            Ok(Err(ServiceError::Gone)) => Ping::Gone,
            // `ping` fails with Gone only; anything else would be news.
            Ok(Err(_)) => Ping::Gone,
            Err(_) => Ping::TimedOut,
        };
        *last = Some((crate::clock::monotonic(), ping));
        ping
    }
}

/// Reads everything readiness looks at.
pub async fn probe(app: &App) -> Probe {
    let ping = app.pinger.ping(app).await;
    let l = &app.listings;
    let files = l.files().get();
    Probe {
        zones_configured: app
            .config
            .zones
            .iter()
            .map(|z| z.name.to_string())
            .collect(),
        // A followed zone without data (before its first transfer, or
        // expired) is configured but not served.
        zones_served: l
            .publisher()
            .snapshot()
            .zones
            .iter()
            .filter(|z| !z.unavailable)
            .map(|z| z.name().to_string())
            .collect(),
        data_errors: files
            .iter()
            .flat_map(|z| {
                z.datasets
                    .iter()
                    .filter_map(|d| Some((z.name.clone(), d.last_error.clone()?)))
            })
            .collect(),
        writable: l.writable().map_err(|e| e.to_string()),
        ping,
        since_progress: l.since_progress(),
        last_decay: l.stats().decay.last().map(|r| r.finished),
        started: l.stats().started,
        decay_interval: app.config.ingest.decay_interval,
    }
}

/// `GET /readyz`.
pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    let p = probe(&app).await;
    let r = evaluate(&p, crate::clock::monotonic());
    let code = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(r)).into_response()
}

/// `GET /api/v1/status`: per zone (serial, entries, listings by source,
/// last load, last error with file and line, each dataset) and per
/// component (the store: alive, queue depth, disk; the decay: last pass,
/// interval), and the readiness checks.
pub async fn status(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let p = probe(&app).await;
    let readiness = evaluate(&p, crate::clock::monotonic());
    let l = &app.listings;
    let snapshot = l.publisher().snapshot();
    let files = l.files().get();
    let counts = l.listing_counts();
    let zones: Vec<serde_json::Value> = snapshot
        .zones
        .iter()
        .map(|z| {
            let name = z.name();
            let entries = crate::http::zone_status(z);
            let data = files.iter().find(|d| d.name == name);
            let listed = counts.get(name);
            json!({
                "name": name,
                "serial": z.soa.serial,
                "entries": {
                    "ipv4": entries.ipv4_entries,
                    "ipv6": entries.ipv6_entries,
                    "domains": entries.domain_entries,
                    "pending_changes": entries.pending_changes,
                },
                "listings": {
                    "report": listed.map(|c| c.report),
                    "manual": listed.map(|c| c.manual),
                    "file": data.map_or(0, |d| d.file_entries()),
                },
                "last_load": data.and_then(|d| d.last_load()),
                "last_error": data.and_then(|d| d.last_error()),
                "datasets": data.map(|d| d.datasets.clone()).unwrap_or_default(),
            })
        })
        .collect();
    let disk = l.disk_status();
    let decay = &l.stats().decay;
    let (ok, failed) = decay.runs();
    Json(json!({
        "ready": readiness.ready,
        "checks": readiness.checks,
        "zones": zones,
        // Zones followed from a primary: serial, last success and
        // transfer (Unix seconds), transfer and failure counts.
        "followed": app.follow.get(),
        "store": {
            "alive": p.ping != Ping::Gone && readiness.checks["store_thread"].ok,
            "queue_depth": l.queued(),
            "pending_writes": l.pending(),
            "queued_writes": l.queued(),
            "last_progress_seconds_ago": p.since_progress.as_secs_f64(),
            "disk_free_bytes": disk.map(|d| d.free_bytes),
            // Free space on the database's filesystem and the threshold
            // below which writes get 503 disk_full; the last pruning run.
            "disk": disk,
            "last_prune": l.last_prune(),
        },
        "decay": {
            "last_run": decay.last(),
            "interval_seconds": app.config.ingest.decay_interval.as_secs_f64(),
            "runs": {"ok": ok, "error": failed},
            "last_error": decay.last_error().map(|(at, e)| json!({"at": at, "message": e})),
            "ok": readiness.checks["decay"].ok,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy(start: Instant) -> Probe {
        Probe {
            zones_configured: vec!["a.test".into(), "b.test".into()],
            zones_served: vec!["a.test".into(), "b.test".into()],
            data_errors: Vec::new(),
            writable: Ok(()),
            ping: Ping::Answered,
            since_progress: Duration::from_millis(5),
            last_decay: Some(start + Duration::from_secs(10)),
            started: start,
            decay_interval: Duration::from_secs(10),
        }
    }

    fn failing(p: &Probe, now: Instant) -> Vec<&'static str> {
        let r = evaluate(p, now);
        assert_eq!(r.ready, r.failing.is_empty());
        r.failing
    }

    #[test]
    fn each_check_fails_alone() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(20);
        let ok = healthy(t0);
        assert_eq!(failing(&ok, now), Vec::<&str>::new());

        let mut p = ok.clone();
        p.zones_served.pop();
        assert_eq!(failing(&p, now), ["zones_loaded"]);
        let mut p = ok.clone();
        p.data_errors.push((
            "a.test".into(),
            DatasetError {
                file: "/data/a.txt".into(),
                line: Some(3),
                message: "bad address".into(),
                at: 1,
            },
        ));
        let r = evaluate(&p, now);
        assert_eq!(r.failing, ["zones_loaded"]);
        assert_eq!(
            r.checks["zones_loaded"].detail.as_deref(),
            Some("zone a.test: /data/a.txt:3: bad address")
        );

        let mut p = ok.clone();
        p.writable = Err("disk full".into());
        assert_eq!(failing(&p, now), ["store_writable"]);

        let mut p = ok.clone();
        p.ping = Ping::Gone;
        assert_eq!(failing(&p, now), ["store_thread"]);
        // Busy (progress a second ago) is not stuck.
        p.ping = Ping::TimedOut;
        p.since_progress = Duration::from_secs(1);
        let r = evaluate(&p, now);
        assert!(r.ready, "{r:?}");
        assert!(r.checks["store_thread"].detail.is_some());
        p.since_progress = STUCK_AFTER + Duration::from_secs(1);
        assert_eq!(failing(&p, now), ["store_thread"]);
    }

    #[test]
    fn decay_is_overdue_after_three_intervals() {
        let t0 = Instant::now();
        let mut p = healthy(t0);
        // Last good pass at t0 + 10 s, interval 10 s: due by t0 + 40 s.
        assert!(evaluate(&p, t0 + Duration::from_secs(40)).ready);
        assert_eq!(
            failing(&p, t0 + Duration::from_secs(41)),
            ["decay"],
            "three intervals after the last pass"
        );
        // Before the first pass, counted from the start.
        p.last_decay = None;
        assert!(evaluate(&p, t0 + Duration::from_secs(30)).ready);
        assert_eq!(failing(&p, t0 + Duration::from_secs(31)), ["decay"]);
        // A clock read before the pass finished (probe and pass racing)
        // is not overdue.
        p.last_decay = Some(t0 + Duration::from_secs(50));
        assert!(evaluate(&p, t0 + Duration::from_secs(49)).ready);
    }

    #[test]
    fn every_failure_is_listed() {
        let t0 = Instant::now();
        let mut p = healthy(t0);
        p.zones_served.clear();
        p.writable = Err("x".into());
        p.ping = Ping::Gone;
        let r = evaluate(&p, t0 + Duration::from_secs(3600));
        assert_eq!(
            r.failing,
            ["decay", "store_thread", "store_writable", "zones_loaded"]
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["ready"], false);
        assert_eq!(json["checks"]["decay"]["ok"], false);
    }
}
