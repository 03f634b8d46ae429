//! The listings service: the one place that decides what a write does to
//! DNS.
//!
//! Every change goes through [`Listings`]: a report, a delisting request,
//! a review decision, an operator's removal or manual listing, a
//! never-list change, a reporter's suspension or removal, and the decay
//! tick. Each runs on the store thread ([`writer`]): one transaction,
//! then — still on that thread — its [`Effect`]s are applied to the
//! serving copy ([`serving`]) and published, then the caller gets its
//! answer. So DNS sees changes in commit order, and shows a change before
//! the HTTP answer that announces it.
//!
//! ```text
//! handler ─► Listings::op ─► store thread: transaction ─► commit
//!                                     ─► effects ─► Serving ─► ArcSwap (DNS)
//!                                     ─► answer ─► handler ─► 2xx
//! ```
//!
//! HTTP handlers only authenticate, parse and call one method here.
//!
//! Two guards stand before the writes that clients and operators ask
//! for: the queue's capacity ([`ServiceError::Busy`]) and the free disk
//! space ([`disk`], [`ServiceError::DiskFull`]). The service's own
//! maintenance — the decay tick and the pruning of what is past its
//! retention ([`Listings::prune`], see [`fadelist_store::retention`]) —
//! passes both: it must go on while the disk is short, and pruning is
//! what makes room inside the database.

pub mod disk;
mod maintenance;
mod reporters;
pub mod rules;
pub mod serving;
pub mod writer;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use fadelist_core::keys::{Category, ListingKey};
use fadelist_dns::Publisher;
use fadelist_ingest::Extraction;
use fadelist_store::{
    Decision, DelistOutcome, DelistResult, FileUsage, KeyOutcome, NewReport, Pruned, Read as _,
    Store, StoreError, StoredRaw,
};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info};

use crate::config::Config;
use crate::feeds::Feeds;
use crate::input::Never;
use crate::zones::ZoneSet;
use disk::{DiskGuard, DiskStatus};
pub use rules::{Rejection, ReportFacts, Rules};
pub use serving::{Effect, ListingCounts, Serving};
use writer::Writer;

/// Why a write (or read) could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store thread is gone (it panicked, or the server is stopping).
    #[error("the store thread is gone")]
    Gone,
    /// Too many writes are waiting: retry shortly.
    #[error("{pending} writes are waiting")]
    Busy {
        /// The queue's capacity.
        pending: usize,
    },
    /// SQLite failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A write failed (the detail is in the log).
    #[error("write failed: {0}")]
    Failed(String),
    /// The database's filesystem has less free space than
    /// `[store] min_free_disk`: writes wait until space is freed.
    #[error("{free} bytes free on the database's disk, below the {min_free} kept free")]
    DiskFull {
        /// Free bytes.
        free: u64,
        /// `min_free_disk`, bytes.
        min_free: u64,
    },
}

/// A report to record, as the HTTP side parsed it.
#[derive(Debug)]
pub struct Submission {
    /// The reporter's id.
    pub reporter_id: i64,
    /// The reporter's weight.
    pub weight: f64,
    /// What the reporter says the mail is.
    pub category: Category,
    /// The reporter is a spam trap (bulk headers do not route its
    /// reports; see [`Rules::routes_to_bulk`]).
    pub trap: bool,
    /// What the mail parser found.
    pub extraction: Extraction,
    /// `extraction` as the API shows it, JSON text (stored with the
    /// report).
    pub extracted: String,
    /// The raw message, compressed.
    pub raw: StoredRaw,
    /// When it arrived, Unix seconds.
    pub received_at: i64,
    /// When its request arrived (the report → publication latency is
    /// measured from here).
    pub arrived: std::time::Instant,
}

/// What recording a report did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// A new report: the answer (report id, extraction, per-key outcome,
    /// rejected keys).
    New {
        /// Its id.
        report_id: i64,
        /// What it did to each key.
        outcomes: Vec<KeyOutcome>,
        /// The keys it did not count against, and why.
        rejected: Vec<Rejection>,
        /// The API answer, JSON text (also stored with the report).
        answer: String,
    },
    /// The same message from the same reporter was recorded before.
    Duplicate {
        /// The first report.
        report_id: i64,
        /// The answer given to the first report.
        first_answer: Value,
    },
}

/// A decay pass that went through, as `/api/v1/status` and `/readyz` see
/// the last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecayRun {
    /// The time it decayed at (`now` of the pass), Unix seconds.
    pub at: i64,
    /// When it finished (monotonic clock: `/readyz` measures from here).
    #[serde(skip)]
    pub finished: std::time::Instant,
    /// How long it took, milliseconds.
    pub took_ms: u64,
    /// What it did.
    pub delisted: usize,
    /// Manual listings that expired.
    pub expired: usize,
}

/// The decay passes so far.
#[derive(Debug, Default)]
pub struct DecayStats {
    ok: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicU64,
    decayed: std::sync::atomic::AtomicU64,
    expired: std::sync::atomic::AtomicU64,
    last: std::sync::Mutex<Option<DecayRun>>,
    last_error: std::sync::Mutex<Option<(i64, String)>>,
}

impl DecayStats {
    fn record(&self, at: i64, started: std::time::Instant, result: &Result<Decayed, ServiceError>) {
        use std::sync::atomic::Ordering::Relaxed;
        match result {
            Ok(d) => {
                self.ok.fetch_add(1, Relaxed);
                self.decayed.fetch_add(d.delisted as u64, Relaxed);
                self.expired.fetch_add(d.expired as u64, Relaxed);
                *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(DecayRun {
                    at,
                    finished: crate::clock::monotonic(),
                    took_ms: started.elapsed().as_millis() as u64,
                    delisted: d.delisted,
                    expired: d.expired,
                });
            }
            Err(e) => {
                self.failed.fetch_add(1, Relaxed);
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((at, e.to_string()));
            }
        }
    }

    /// Passes that went through and passes that failed.
    pub fn runs(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.ok.load(Relaxed), self.failed.load(Relaxed))
    }

    /// Keys delisted by decay and manual listings expired, in total.
    pub fn removed(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.decayed.load(Relaxed), self.expired.load(Relaxed))
    }

    /// The last pass that went through.
    pub fn last(&self) -> Option<DecayRun> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The last failure (its time, Unix seconds, and error), if any.
    pub fn last_error(&self) -> Option<(i64, String)> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What the service counts for the metrics, the status and `/readyz`.
#[derive(Debug)]
pub struct ServiceStats {
    /// When the service started (the decay check counts from here until
    /// the first pass).
    pub started: std::time::Instant,
    /// Report arrival → its group committed and published.
    pub report_publish: crate::metrics::Histogram,
    /// The decay passes.
    pub decay: DecayStats,
}

/// What one decay tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decayed {
    /// Keys delisted because their score decayed.
    pub delisted: usize,
    /// Manual listings that expired.
    pub expired: usize,
}

/// A pruning run, as `/api/v1/status` shows the last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneRun {
    /// When it started, Unix seconds.
    pub started_at: i64,
    /// How long it took, milliseconds.
    pub took_ms: u64,
    /// The longest of its steps (reports waited at most that long for
    /// it), milliseconds.
    pub longest_step_ms: u64,
    /// What it removed.
    pub pruned: Pruned,
    /// The database file afterwards.
    pub file: FileUsage,
    /// Why it stopped early, if it did (the next run starts over).
    pub error: Option<String>,
}

/// The store's retention settings and the pruning schedule.
#[derive(Debug)]
struct Maintenance {
    raw_retention: i64,
    report_retention: i64,
    history_retention: i64,
    audit_retention: i64,
    request_retention: i64,
    interval: i64,
    batch: usize,
    /// The next run is due at this time (Unix seconds); 0 = at the first
    /// decay tick.
    next_at: std::sync::atomic::AtomicI64,
    /// A run is under way (one at a time).
    running: std::sync::atomic::AtomicBool,
    last: std::sync::Mutex<Option<PruneRun>>,
}

struct ReportJob {
    submission: Submission,
    reply: tokio::sync::oneshot::Sender<Result<Recorded, ServiceError>>,
}

/// The listings service (see the module documentation).
#[derive(Debug, Clone)]
pub struct Listings {
    writer: Writer<ReportJob>,
    serving: Arc<Serving>,
    rules: Arc<Rules>,
    self_service_limit: u32,
    self_service_window: i64,
    disk: Arc<DiskGuard>,
    maintenance: Arc<Maintenance>,
    stats: Arc<ServiceStats>,
}

impl std::fmt::Debug for ReportJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportJob").finish_non_exhaustive()
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Listings {
    /// Loads the listed keys of `store`, publishes the first snapshot of
    /// `zones` with them, and starts the store thread.
    pub fn start(config: &Config, zones: ZoneSet, store: Store) -> anyhow::Result<Listings> {
        let rules = Arc::new(Rules::new(config)?);
        let feeds = Feeds::new(
            zones.feeds(),
            &crate::public_base_url(config),
            crate::zones::secs32(config.server.default_ttl).min(3600),
        );
        let serving = Arc::new(Serving::start(
            zones,
            feeds,
            &store,
            config.ingest.writer_nice,
        )?);
        let stats = Arc::new(ServiceStats {
            started: crate::clock::monotonic(),
            report_publish: crate::metrics::Histogram::new(&crate::metrics::REPORT_PUBLISH_BOUNDS),
            decay: DecayStats::default(),
        });
        let (r, s, st) = (rules.clone(), serving.clone(), stats.clone());
        let writer = Writer::spawn(
            store,
            config.ingest.writer_nice,
            config.ingest.max_pending_reports + 64,
            move |store, jobs, done| write_reports(store, &s, &r, &st, jobs, done),
        );
        Ok(Listings {
            writer,
            serving,
            rules,
            self_service_limit: config.web.self_service_limit,
            self_service_window: secs(config.web.self_service_window),
            disk: Arc::new(DiskGuard::for_database(
                &config.store.path,
                config.store.min_free_disk,
            )),
            maintenance: Arc::new(Maintenance {
                raw_retention: secs(config.store.raw_retention),
                report_retention: secs(config.store.report_retention),
                history_retention: secs(config.store.history_retention),
                audit_retention: secs(config.store.audit_retention),
                request_retention: secs(config.store.request_retention),
                interval: secs(config.store.prune_interval),
                batch: config.store.prune_batch,
                next_at: std::sync::atomic::AtomicI64::new(0),
                running: std::sync::atomic::AtomicBool::new(false),
                last: std::sync::Mutex::new(None),
            }),
            stats,
        })
    }

    /// Counters for the metrics, the status and `/readyz`.
    pub fn stats(&self) -> &ServiceStats {
        &self.stats
    }

    /// The data files' state, as of the last load or reload pass.
    pub fn files(&self) -> &crate::zones::DataStatus {
        self.serving.files()
    }

    /// Keys listed by reports and by hand, per feed zone.
    pub fn listing_counts(&self) -> std::collections::BTreeMap<String, ListingCounts> {
        self.serving.listing_counts()
    }

    /// How long ago the store thread last started or finished a job.
    pub fn since_progress(&self) -> std::time::Duration {
        self.writer.since_progress()
    }

    /// The listing rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// What DNS serves.
    pub fn publisher(&self) -> &Publisher {
        self.serving.publisher()
    }

    /// Replaces a followed zone's data and publishes (`crate::follower`).
    pub fn set_followed(&self, zone: &str, data: Option<crate::zones::Followed>) {
        self.serving.set_followed(zone, data);
    }

    /// Re-reads changed data files and publishes (the reload timer).
    pub fn reload_files(&self, now: u64) {
        self.serving.reload_files(now);
    }

    /// Jobs waiting for the store thread.
    pub fn queued(&self) -> usize {
        self.writer.queued()
    }

    /// Writes submitted and not finished: queued or running.
    pub fn pending(&self) -> usize {
        self.writer.pending()
    }

    /// Runs an empty job on the store thread: `Ok` once it ran, so the
    /// thread is alive and not stuck (the watchdog and `/readyz` ask).
    pub async fn ping(&self) -> Result<(), ServiceError> {
        self.writer.call_upkeep(|_| ()).await
    }

    /// `Ok` when a write asked for now would be taken; otherwise the
    /// error it would get ([`ServiceError::DiskFull`]). Handlers may ask
    /// before reading a request body; every write asks again.
    pub fn writable(&self) -> Result<(), ServiceError> {
        self.disk.check(crate::clock::monotonic())
    }

    /// The database's disk: free space and the threshold (`None` when it
    /// cannot be read or the threshold is off).
    pub fn disk_status(&self) -> Option<DiskStatus> {
        self.disk.status(crate::clock::monotonic())
    }

    /// The last pruning run, if one finished since the start.
    pub fn last_prune(&self) -> Option<PruneRun> {
        self.maintenance
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs a write asked for by a client or an operator: refused below
    /// the free-disk threshold (see [`Listings::maintain`]).
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> fadelist_store::Result<(T, Vec<Effect>)> + Send + 'static,
    ) -> Result<T, ServiceError> {
        self.writable()?;
        self.maintain(f).await
    }

    /// Runs a write on the store thread, then applies and publishes its
    /// effects there, before the caller hears back. No disk check: the
    /// service's own upkeep (decay, pruning) must not stop when the disk
    /// is short.
    async fn maintain<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> fadelist_store::Result<(T, Vec<Effect>)> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let serving = self.serving.clone();
        self.writer
            .call(move |s| {
                let (out, effects) = f(s)?;
                serving.apply(&effects, crate::clock::unix_now());
                Ok(out)
            })
            .await?
    }

    /// Records a report (written in a group with the reports that arrive
    /// with it) and publishes what it listed.
    pub async fn record_report(&self, submission: Submission) -> Result<Recorded, ServiceError> {
        self.writable()?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writer.report(ReportJob { submission, reply })?;
        answer.await.map_err(|_| ServiceError::Gone)?
    }

    /// A delisting request (form or API) from `requester`: removes `key`
    /// from the report-fed zones at once within the self-service limit,
    /// queues it for review beyond it.
    pub async fn request_delisting(
        &self,
        key: &ListingKey,
        requester: IpAddr,
        email: String,
        explanation: String,
    ) -> Result<DelistResult, ServiceError> {
        let zones = self.rules.feed_zones();
        let (limit, window) = (self.self_service_limit, self.self_service_window);
        let key = key.clone();
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| {
            let text = key.to_string();
            let r = s.request_delisting(
                &text,
                &zones,
                &requester.to_string(),
                &email,
                &explanation,
                now,
                limit,
                window,
            )?;
            let effects = if r.outcome == DelistOutcome::Removed {
                unlisted(&r.zones, &key)
            } else {
                Vec::new()
            };
            Ok((r, effects))
        })
        .await
    }

    /// An operator's decision on a queued delisting request; `None` when
    /// no such request waits.
    pub async fn decide_review(
        &self,
        id: i64,
        approve: bool,
        by: &str,
    ) -> Result<Option<Decision>, ServiceError> {
        let zones = self.rules.feed_zones();
        let by = by.to_string();
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| {
            let d = s.decide(id, approve, &by, &zones, now)?;
            let effects = match &d {
                Some(d) => match d.key.parse::<ListingKey>() {
                    Ok(k) => unlisted(&d.removed, &k),
                    Err(e) => {
                        error!("unreadable key in a delisting request: {e}");
                        Vec::new()
                    }
                },
                None => Vec::new(),
            };
            Ok((d, effects))
        })
        .await
    }

    /// An operator removes every listing of `key` in `zone` (manual and
    /// report-fed, evidence discarded); false when nothing was listed.
    pub async fn remove(
        &self,
        zone: &str,
        key: &ListingKey,
        by: &str,
    ) -> Result<bool, ServiceError> {
        let (zone, key, by) = (zone.to_string(), key.clone(), by.to_string());
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| {
            let any = s.remove_listing(&zone, &key.to_string(), &by, now)?;
            let effects = if any {
                vec![
                    Effect::Unlisted {
                        zone: zone.clone(),
                        key: key.clone(),
                    },
                    Effect::Manual {
                        zone,
                        key,
                        listing: None,
                    },
                ]
            } else {
                Vec::new()
            };
            Ok((any, effects))
        })
        .await
    }

    /// An operator lists `key` in `zone` by hand, with its own return code
    /// and reason, until `until` (or until removed).
    pub async fn add_manual(
        &self,
        zone: &str,
        key: &ListingKey,
        code: Ipv4Addr,
        reason: &str,
        until: Option<i64>,
        by: &str,
    ) -> Result<(), ServiceError> {
        let (zone, key, reason, by) = (
            zone.to_string(),
            key.clone(),
            reason.to_string(),
            by.to_string(),
        );
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| {
            s.add_manual(
                &zone,
                &key.to_string(),
                &code.to_string(),
                &reason,
                until,
                &by,
                now,
            )?;
            Ok((
                (),
                vec![Effect::Manual {
                    zone,
                    key,
                    listing: Some((code, reason)),
                }],
            ))
        })
        .await
    }

    /// Adds a never-list entry; false when it was there already. Keys it
    /// covers stay listed until they decay or are removed: the entry stops
    /// new evidence, it does not rewrite history.
    pub async fn never_add(&self, entry: &Never, reason: &str) -> Result<bool, ServiceError> {
        let (text, reason) = (entry.text(), reason.to_string());
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| Ok((s.never_list_add(&text, &reason, now)?, Vec::new())))
            .await
    }

    /// Removes a never-list entry; false when it was not there.
    pub async fn never_remove(&self, entry: &Never) -> Result<bool, ServiceError> {
        let text = entry.text();
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| Ok((s.never_list_remove(&text, now)?, Vec::new())))
            .await
    }

    /// Suspends (or reinstates) a reporter: its reports are refused while
    /// suspended. False when there is no such reporter.
    pub async fn suspend_reporter(&self, name: &str, suspend: bool) -> Result<bool, ServiceError> {
        let name = name.to_string();
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| Ok((s.set_suspended(&name, suspend, now)?, Vec::new())))
            .await
    }

    /// Removes a reporter: its token stops working and its pending
    /// contributions stop counting (listings it helped make stay until they
    /// decay). False when there is no such reporter.
    pub async fn remove_reporter(&self, name: &str) -> Result<bool, ServiceError> {
        let name = name.to_string();
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| Ok((s.remove_reporter(&name, now)?, Vec::new())))
            .await
    }

    /// The decay tick at `now`: ends expired manual listings, delists
    /// keys whose score decayed, and starts a pruning run in the
    /// background when one is due (every `[store] prune_interval`).
    pub async fn decay(&self, now: u64) -> Result<Decayed, ServiceError> {
        let started = crate::clock::monotonic();
        let rules = self.rules.clone();
        let out = self
            .maintain(move |s| {
                let now = now as i64;
                let expired = s.expire_manual(now)?;
                let decayed = s.decay_pass(|z| rules.policy(z).clone(), now)?;
                let mut effects = Vec::with_capacity(expired.len() + decayed.len());
                for d in &expired {
                    info!(zone = %d.zone, key = %d.key, "manual listing expired");
                    if let Ok(key) = d.key.parse() {
                        effects.push(Effect::Manual {
                            zone: d.zone.clone(),
                            key,
                            listing: None,
                        });
                    }
                }
                for d in &decayed {
                    info!(zone = %d.zone, key = %d.key, "delisted: score decayed");
                    if let Ok(key) = d.key.parse() {
                        effects.push(Effect::Unlisted {
                            zone: d.zone.clone(),
                            key,
                        });
                    }
                }
                let out = Decayed {
                    delisted: decayed.len(),
                    expired: expired.len(),
                };
                Ok((out, effects))
            })
            .await;
        self.stats.decay.record(now as i64, started, &out);
        self.prune_if_due(now as i64);
        out
    }
}

/// The end of the report-fed listing of `key` in each of `zones`.
fn unlisted(zones: &[String], key: &ListingKey) -> Vec<Effect> {
    zones
        .iter()
        .map(|z| Effect::Unlisted {
            zone: z.clone(),
            key: key.clone(),
        })
        .collect()
}

/// The API answer to a new report, as JSON text: the extraction was
/// serialised off the writer, only the per-key part is serialised here.
fn answer(id: i64, extracted: &str, outcomes: &[KeyOutcome], rejected: &[Rejection]) -> String {
    let keys = serde_json::to_string(outcomes).unwrap_or_else(|_| "[]".into());
    let rejected = serde_json::to_string(rejected).unwrap_or_else(|_| "[]".into());
    format!(
        r#"{{"report_id":{id},"duplicate":false,"extracted":{extracted},"keys":{keys},"rejected":{rejected}}}"#
    )
}

/// Writes a group of reports on the store thread: one transaction, then
/// the listings they made are published, then each is answered.
fn write_reports(
    store: &mut Store,
    serving: &Serving,
    rules: &Rules,
    stats: &ServiceStats,
    jobs: Vec<ReportJob>,
    done: &writer::Done,
) {
    let results: Vec<Result<Recorded, ServiceError>> = match write_group(store, rules, &jobs) {
        Ok(results) => results.into_iter().map(Ok).collect(),
        // One report failed, and the whole group was rolled back: write
        // them one by one, so that only the one at fault fails.
        Err(e) if jobs.len() > 1 => {
            error!(
                "a group of {} reports failed ({e}); writing them one by one",
                jobs.len()
            );
            jobs.iter()
                .map(|job| {
                    write_group(store, rules, std::slice::from_ref(job))
                        .map(|mut r| r.remove(0))
                        .map_err(|e| {
                            error!("writing a report failed: {e}");
                            ServiceError::Failed(e.to_string())
                        })
                })
                .collect()
        }
        Err(e) => {
            error!("writing a report failed: {e}");
            vec![Err(ServiceError::Failed(e.to_string()))]
        }
    };
    // A report only ever adds score, so it can list but never delist:
    // "not listed" changes nothing.
    let mut effects = Vec::new();
    for r in results.iter().flatten() {
        if let Recorded::New { outcomes, .. } = r {
            for o in outcomes.iter().filter(|o| o.listed) {
                match (o.key.parse(), Category::parse(&o.category)) {
                    (Ok(key), Some(category)) => effects.push(Effect::Listed {
                        zone: o.zone.clone(),
                        key,
                        category,
                    }),
                    _ => error!(key = %o.key, "unreadable outcome key"),
                }
            }
        }
    }
    serving.apply(&effects, crate::clock::unix_now());
    for (job, r) in jobs.into_iter().zip(results) {
        if let Ok(Recorded::New { .. }) = &r {
            stats
                .report_publish
                .observe(job.submission.arrived.elapsed());
        }
        done.one();
        let _ = job.reply.send(r);
    }
}

/// Writes `jobs` in one transaction; any error rolls all of them back.
fn write_group(
    store: &mut Store,
    rules: &Rules,
    jobs: &[ReportJob],
) -> Result<Vec<Recorded>, StoreError> {
    // Read in the writer's own connection: the never-list as it is now.
    let never = store.never_list()?;
    let mut group = store.group()?;
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let s = &job.submission;
        let x = &s.extraction;
        let facts = ReportFacts {
            category: s.category,
            trap: s.trap,
            now: s.received_at,
        };
        let (keys, rejected) = rules.keys_for(x, facts, &never);
        let source_ip = x.source.as_ref().ok().map(|src| src.ip.to_string());
        let domains: Vec<String> = x.domains.iter().map(|d| d.domain.clone()).collect();
        let report = NewReport {
            reporter_id: s.reporter_id,
            received_at: s.received_at,
            message_id: x.message_id.as_deref(),
            body_hash: &x.body_hash,
            category: s.category.as_str(),
            subject: x.subject.as_deref(),
            raw: &s.raw,
            source: source_ip.as_deref().zip(
                x.source
                    .as_ref()
                    .ok()
                    .map(|src| u32::try_from(src.hop_index).unwrap_or(u32::MAX)),
            ),
            bulk: rules.routes_to_bulk(x, s.category, s.trap),
            domains: &domains,
        };
        let mut stored_answer = String::new();
        let r = group.ingest(&report, s.weight, &keys, |id, outcomes| {
            stored_answer = answer(id, &s.extracted, outcomes, &rejected);
            stored_answer.clone()
        })?;
        results.push(match r {
            Ok(ing) => Recorded::New {
                report_id: ing.report_id,
                outcomes: ing.outcomes,
                rejected,
                answer: stored_answer,
            },
            Err(dup) => Recorded::Duplicate {
                report_id: dup.report_id,
                first_answer: serde_json::from_str(&dup.outcome).unwrap_or(Value::Null),
            },
        });
    }
    group.commit()?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fadelist_core::snapshot::Resolution;
    use fadelist_ingest::ExtractOptions;
    use fadelist_store::ReporterKind;

    /// A submission of the spam-plain fixture (source 89.160.20.112) by
    /// `reporter`, with Message-ID `id`.
    fn submission(reporter: i64, id: &str) -> Submission {
        let raw = include_str!("../../../../tests/data/mail/spam-plain.eml").replacen(
            "Message-ID: <",
            &format!("Message-ID: <{id}."),
            1,
        );
        let opts = ExtractOptions {
            trusted: vec!["81.2.69.160/27".parse().expect("net")],
            ..ExtractOptions::default()
        };
        let extraction = fadelist_ingest::extract(raw.as_bytes(), &opts).expect("extract");
        Submission {
            reporter_id: reporter,
            weight: 1.0,
            category: Category::Spam,
            trap: false,
            extraction,
            extracted: "{}".into(),
            raw: StoredRaw::lz4(raw.as_bytes()),
            received_at: crate::clock::unix_now() as i64,
            arrived: crate::clock::monotonic(),
        }
    }

    fn listed(l: &Listings, name: &str) -> bool {
        let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
        matches!(
            l.publisher().snapshot().resolve(&labels),
            Resolution::Listed { .. }
        )
    }

    /// Reports queued together are written as one group; one that cannot
    /// be written (its reporter does not exist) fails alone, and the
    /// others are committed, answered and published.
    #[tokio::test]
    async fn a_bad_report_fails_alone_and_its_group_still_lists() {
        let dir = tempfile::tempdir().expect("dir");
        let mut config = crate::config::embedded_default();
        config.store.path = dir.path().join("db.sqlite");
        config.policy.max_report_age = std::time::Duration::from_secs(100 * 365 * 86_400);
        let mut store = Store::open(&config.store.path).expect("store");
        let a = store
            .add_reporter("a", 1.0, ReporterKind::User, &[], "ta", 0)
            .expect("a")
            .id;
        let b = store
            .add_reporter("b", 1.0, ReporterKind::Trap, &[], "tb", 0)
            .expect("b")
            .id;
        let zones = ZoneSet::load(&config, 1).expect("zones");
        let l = Listings::start(&config, zones, store).expect("start");
        let name = "112.20.160.89.iprbl.test";
        assert!(!listed(&l, name));

        // Hold the store thread so that the reports queue up together.
        let (gate, gate_rx) = std::sync::mpsc::channel::<()>();
        let (inside, inside_rx) = tokio::sync::oneshot::channel::<()>();
        let w = l.writer.clone();
        let held = tokio::spawn(async move {
            w.call(move |_| {
                let _ = inside.send(());
                let _ = gate_rx.recv();
            })
            .await
        });
        inside_rx.await.expect("the store thread is held");
        let mut answers = Vec::new();
        for (reporter, id) in [(a, "good-a"), (9_999, "bad"), (b, "good-b")] {
            let l = l.clone();
            answers.push(tokio::spawn(async move {
                l.record_report(submission(reporter, id)).await
            }));
        }
        while l.pending() < 4 {
            tokio::task::yield_now().await;
        }
        gate.send(()).expect("release");
        held.await.expect("join").expect("op");
        let mut out = Vec::new();
        for a in answers {
            out.push(a.await.expect("join"));
        }
        assert!(matches!(out[0], Ok(Recorded::New { .. })), "{:?}", out[0]);
        assert!(
            matches!(out[1], Err(ServiceError::Failed(_))),
            "{:?}",
            out[1]
        );
        match &out[2] {
            Ok(Recorded::New { outcomes, .. }) => {
                assert!(
                    outcomes
                        .iter()
                        .any(|o| o.key == "89.160.20.112" && o.newly_listed)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(listed(&l, name), "published before the answers");
        assert_eq!(l.pending(), 0);
    }

    /// A pruning run takes the store thread one short step at a time: a
    /// report sent while it runs is answered before the run ends. The
    /// decay tick starts runs on schedule, one per interval.
    #[tokio::test]
    async fn pruning_goes_in_steps_that_reports_pass_between() {
        let dir = tempfile::tempdir().expect("dir");
        let mut config = crate::config::embedded_default();
        config.store.path = dir.path().join("db.sqlite");
        config.policy.max_report_age = std::time::Duration::from_secs(100 * 365 * 86_400);
        config.store.audit_retention = std::time::Duration::from_secs(1);
        config.store.prune_batch = 1;
        let mut store = Store::open(&config.store.path).expect("store");
        let a = store
            .add_reporter("a", 1.0, ReporterKind::User, &[], "ta", 0)
            .expect("a")
            .id;
        // 300 audit entries from long ago: 300 steps at one row each.
        for i in 0..300 {
            store
                .never_list_add(&format!("n{i}.example"), "old", 0)
                .expect("never-list");
        }
        let audit_rows = |path: &std::path::Path| {
            fadelist_store::Reader::open(path)
                .expect("reader")
                .audit_log(None, 1000)
                .expect("audit")
                .len()
        };
        let zones = ZoneSet::load(&config, 1).expect("zones");
        let l = Listings::start(&config, zones, store).expect("start");
        let now = crate::clock::unix_now() as i64;
        let run = tokio::spawn({
            let l = l.clone();
            async move { l.prune(now).await }
        });
        // Under way: some entries gone, most not.
        while audit_rows(&config.store.path) == 300 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let r = l.record_report(submission(a, "during")).await;
        assert!(matches!(r, Ok(Recorded::New { .. })), "{r:?}");
        assert!(!run.is_finished(), "the report waited for one step only");
        let run = run.await.expect("join").expect("run");
        assert_eq!(run.pruned.audit, 300);
        assert!(run.pruned.steps > 300, "{run:?}");
        assert_eq!(run.pruned.largest_step, 1);
        assert_eq!(run.error, None);
        assert_eq!(l.last_prune(), Some(run));
        assert_eq!(audit_rows(&config.store.path), 0);

        // The decay tick: a run when due, then not before the interval.
        l.decay(now as u64 + 10).await.expect("decay");
        let started = || l.last_prune().map(|r| r.started_at);
        while started() != Some(now + 10) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        l.decay(now as u64 + 20).await.expect("decay");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(started(), Some(now + 10), "an hour between runs");
        l.decay(now as u64 + 10 + 3600).await.expect("decay");
        while started() != Some(now + 10 + 3600) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}
