//! The report pipeline: authenticate, extract, score, commit, publish.
//!
//! ```text
//! POST /api/v1/reports ─► token check ─► rate limit ─► extract (blocking pool)
//!        ─► keys + never-list ─► store writer thread: one transaction
//!        ─► feeds (listed keys in memory) ─► rebuild changed zones ─► ArcSwap
//! decay timer ─► store: delist decayed keys ─► feeds ─► publish
//! ```
//!
//! The DNS path never waits for any of this: it reads whatever snapshot
//! was published last. A change is published right after its transaction
//! commits, so a listing is visible in DNS within milliseconds of the 202.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use fadelist_core::keys::ListingKey;
use fadelist_core::policy::Policy;
use fadelist_dns::Publisher;
use fadelist_store::{KeyInput, Store};
use ipnet::IpNet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use crate::config::{Config, Feed};
use crate::feeds::{Compaction, Feeds};
use crate::zones::ZoneSet;

/// A job for the store thread.
type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// The single writer: a thread that owns the [`Store`] and runs jobs in
/// order. Serialising writes in-process means SQLite never answers BUSY.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    tx: std::sync::mpsc::Sender<Job>,
}

/// The store thread is gone (it panicked or the server is stopping).
#[derive(Debug, thiserror::Error)]
#[error("the store is unavailable")]
pub struct StoreGone;

impl StoreHandle {
    /// Starts the store thread, at priority `nice` (see [`crate::sched`]).
    pub fn spawn(mut store: Store, nice: u8) -> StoreHandle {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let spawned = crate::sched::spawn_background("fadelist-store", nice, move || {
            while let Ok(job) = rx.recv() {
                job(&mut store);
            }
        });
        if let Err(e) = spawned {
            // The receiver is dropped with the closure: every call then
            // fails with StoreGone (503) instead of hanging.
            error!("cannot start the store thread: {e}");
        }
        StoreHandle { tx }
    }

    /// Runs `f` on the store thread and returns its result.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, StoreGone> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Box::new(move |s: &mut Store| {
                let _ = tx.send(f(s));
            }))
            .map_err(|_| StoreGone)?;
        rx.await.map_err(|_| StoreGone)
    }
}

/// Token buckets per key (reporter id, client IP).
#[derive(Debug)]
pub struct RateLimiter<K = i64> {
    per_minute: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    /// Allows `per_minute` reports per reporter, with a burst of the same.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`; `Err(seconds)` until one is free.
    pub fn check(&self, key: K, now: Instant) -> Result<(), u64> {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        // Forget idle buckets now and then so the map stays small.
        if b.len() > 100_000 {
            let per_minute = self.per_minute;
            b.retain(|_, (t, last)| {
                *t + now.saturating_duration_since(*last).as_secs_f64() * per_minute / 60.0
                    < per_minute
            });
        }
        let (tokens, last) = b.entry(key).or_insert((self.per_minute, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.per_minute / 60.0;
        *tokens = (*tokens + refill).min(self.per_minute);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) * 60.0 / self.per_minute).ceil() as u64)
        }
    }
}

/// A manual listing change: zone, key, and the (return code, reason) to
/// list it with, or `None` to remove it.
pub type ManualChange = (String, ListingKey, Option<(std::net::Ipv4Addr, String)>);

/// Feed changes made by one store job.
#[derive(Debug, Default)]
pub struct FeedChanges {
    /// Report-fed listings: (zone, key, Some(category) = listed / None).
    pub listed: Vec<(String, ListingKey, Option<String>)>,
    /// Manual listings.
    pub manual: Vec<ManualChange>,
}

impl FeedChanges {
    /// Removal of `key` from each of `zones` (both kinds of listing).
    pub fn removed(zones: &[String], key: &ListingKey) -> FeedChanges {
        FeedChanges {
            listed: zones
                .iter()
                .map(|z| (z.clone(), key.clone(), None))
                .collect(),
            manual: Vec::new(),
        }
    }
}

/// Everything the server shares between DNS publication, HTTP and timers.
#[derive(Debug)]
pub struct App {
    /// Configuration.
    pub config: Config,
    /// Publication of DNS data.
    pub publisher: Publisher,
    /// The store writer.
    pub store: StoreHandle,
    /// File zones and feeds, behind one lock so publications are ordered
    /// (shared with background compactions).
    pub data: Arc<Mutex<(ZoneSet, Feeds)>>,
    /// Background compactions of feed deltas.
    compactor: std::sync::mpsc::Sender<Compaction>,
    /// Per-zone policies.
    pub policies: HashMap<String, Policy>,
    /// Default policy.
    pub default_policy: Policy,
    /// Report rate limits.
    pub rate: RateLimiter,
    /// One permit per report being handled (`ingest.max_pending_reports`):
    /// when the store falls behind, new reports get 503 instead of piling
    /// up in memory.
    pub report_slots: tokio::sync::Semaphore,
    /// Delisting rate limits per client IP.
    pub delist_rate: RateLimiter<IpAddr>,
    /// Key of the signed delisting-form tokens.
    pub form_secret: Vec<u8>,
    /// Never-list networks from the configuration.
    pub never_nets: Vec<IpNet>,
    /// Never-list domains from the configuration.
    pub never_domains: Vec<String>,
}

impl App {
    /// Builds the app: loads the listed keys from the store into the feeds
    /// and publishes the first snapshot.
    pub fn new(config: Config, zones: ZoneSet, store: Store) -> anyhow::Result<App> {
        let base = crate::public_base_url(&config);
        let mut feeds = Feeds::new(
            zones.feeds(),
            &base,
            crate::zones::secs32(config.server.default_ttl).min(3600),
        );
        let listed = store.listed()?;
        let mut touched = Vec::new();
        for l in listed {
            let Ok(key) = l.key.parse::<ListingKey>() else {
                error!(key = %l.key, "unreadable listing key in the store, skipped");
                continue;
            };
            if feeds.set(&l.zone, key, Some(&l.category)) && !touched.contains(&l.zone) {
                touched.push(l.zone);
            }
        }
        for m in store.manual_listings()? {
            match (
                m.key.parse::<ListingKey>(),
                m.code.parse::<std::net::Ipv4Addr>(),
            ) {
                (Ok(key), Ok(code)) => {
                    feeds.set_manual(&m.zone, key, Some((code, m.reason)));
                }
                _ => error!(key = %m.key, "unreadable manual listing in the store, skipped"),
            }
        }
        let all: Vec<String> = feeds.zones.keys().cloned().collect();
        feeds.rebuild(&all);
        info!(
            listed = touched.len(),
            "report-fed listings loaded from the store"
        );
        let snapshot = zones.snapshot_with(|z| feeds.layer(z));
        let default_policy = config.policy.to_policy();
        let policies = config
            .zones
            .iter()
            .filter_map(|z| {
                let name = fadelist_core::snapshot::normalize_name(&z.name)?;
                let p = match &z.policy {
                    Some(o) => config.policy.merged(o).to_policy(),
                    None => default_policy.clone(),
                };
                Some((name, p))
            })
            .collect();
        let mut never_nets = Vec::new();
        let mut never_domains = Vec::new();
        for e in &config.ingest.never_list {
            match parse_never(e) {
                Some(Never::Net(n)) => never_nets.push(n),
                Some(Never::Domain(d)) => never_domains.push(d),
                None => anyhow::bail!("ingest.never_list: {e:?} is not an IP, CIDR or domain"),
            }
        }
        let form_secret = match &config.web.form_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                // Tokens then last until a restart, which their one-hour
                // expiry makes harmless.
                let mut b = vec![0u8; 32];
                getrandom::fill(&mut b)
                    .map_err(|e| anyhow::anyhow!("no randomness for the form secret: {e}"))?;
                b
            }
        };
        let data = Arc::new(Mutex::new((zones, feeds)));
        let publisher = Publisher::new(snapshot);
        Ok(App {
            compactor: spawn_compactor(data.clone(), publisher.clone(), config.ingest.writer_nice),
            rate: RateLimiter::new(config.ingest.rate_per_minute),
            report_slots: tokio::sync::Semaphore::new(config.ingest.max_pending_reports),
            delist_rate: RateLimiter::new(config.web.delist_per_minute),
            form_secret,
            publisher,
            store: StoreHandle::spawn(store, config.ingest.writer_nice),
            data,
            policies,
            default_policy,
            never_nets,
            never_domains,
            config,
        })
    }

    /// The policy of `zone`.
    pub fn policy(&self, zone: &str) -> &Policy {
        self.policies.get(zone).unwrap_or(&self.default_policy)
    }

    /// The zone taking `feed`, if one is configured.
    pub fn feed_zone(&self, feed: Feed) -> Option<String> {
        let data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        data.1.zone_for(feed).map(str::to_string)
    }

    /// The feed `zone` takes, if any.
    pub fn feed_of(&self, zone: &str) -> Option<Feed> {
        let data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        data.1.zones.get(zone).and_then(|z| z.feed)
    }

    /// Runs `f` on the store thread and applies the feed changes it returns
    /// there, right after its transaction: DNS then sees changes in commit
    /// order, so a slow request can never publish a state older than one
    /// already published.
    pub async fn store_then_publish<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> (T, FeedChanges) + Send + 'static,
    ) -> Result<T, StoreGone> {
        let app = self.clone();
        self.store
            .call(move |s| {
                let (out, changes) = f(s);
                let now = crate::clock::unix_now();
                if !changes.listed.is_empty() {
                    app.apply(&changes.listed, now);
                }
                if !changes.manual.is_empty() {
                    app.apply_manual(&changes.manual, now);
                }
                out
            })
            .await
    }

    /// The normalised names of the report-fed zones.
    pub fn feed_zone_names(&self) -> Vec<String> {
        self.config
            .zones
            .iter()
            .filter(|z| z.feed.is_some())
            .filter_map(|z| fadelist_core::snapshot::normalize_name(&z.name))
            .collect()
    }

    /// Applies listing changes to the feeds and publishes when anything
    /// changed. `changes`: (zone, key, Some(category) = listed / None).
    pub fn apply(&self, changes: &[(String, ListingKey, Option<String>)], now: u64) {
        self.update(now, |feeds| {
            let mut touched: Vec<String> = Vec::new();
            for (zone, key, cat) in changes {
                if feeds.set(zone, key.clone(), cat.as_deref()) && !touched.contains(zone) {
                    touched.push(zone.clone());
                }
            }
            touched
        });
    }

    /// Applies manual listing changes: (zone, key, Some((code, reason)) =
    /// listed / None = removed).
    pub fn apply_manual(&self, changes: &[ManualChange], now: u64) {
        self.update(now, |feeds| {
            let mut touched: Vec<String> = Vec::new();
            for (zone, key, l) in changes {
                if feeds.set_manual(zone, key.clone(), l.clone()) && !touched.contains(zone) {
                    touched.push(zone.clone());
                }
            }
            touched
        });
    }

    /// Runs `f` on the feeds; publishes the zones it reports as changed,
    /// with new serials. Only the changed keys are rebuilt (the delta);
    /// compactions it makes due run on their own thread.
    fn update(&self, now: u64, f: impl FnOnce(&mut Feeds) -> Vec<String>) {
        let mut data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let (zones, feeds) = &mut *data;
        let touched = f(feeds);
        if touched.is_empty() {
            return;
        }
        let due = feeds.refresh(&touched);
        for z in &touched {
            zones.touch(z, now);
        }
        self.publisher
            .publish(zones.snapshot_with(|z| feeds.layer(z)));
        drop(data);
        for job in due {
            self.compact(job);
        }
    }

    /// Hands a compaction to the compactor thread (or, should that thread
    /// be gone, runs it here).
    fn compact(&self, job: Compaction) {
        if let Err(std::sync::mpsc::SendError(job)) = self.compactor.send(job) {
            error!("the compactor thread is gone; compacting inline");
            compact_now(&self.data, &self.publisher, job);
        }
    }

    /// Re-reads changed data files and publishes (the reload timer).
    pub fn reload_files(&self, now: u64) {
        let mut data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let (zones, feeds) = &mut *data;
        if zones.refresh(now) {
            self.publisher
                .publish(zones.snapshot_with(|z| feeds.layer(z)));
            info!("new data published");
            drop(data);
            crate::mem::release_free_memory();
        }
    }

    /// Why `ip` may never be listed, if it may not (special-purpose
    /// ranges and the never-list).
    pub fn ip_never(&self, ip: IpAddr, store_never: &[(String, String)]) -> Option<String> {
        if let Some(why) = fadelist_ingest::special::special_purpose(ip) {
            return Some(format!("special-purpose address ({why})"));
        }
        if self.never_nets.iter().any(|n| n.contains(&ip)) {
            return Some("on the operator's never-list (configuration)".into());
        }
        store_never
            .iter()
            .find_map(|(e, reason)| match parse_never(e) {
                Some(Never::Net(n)) if n.contains(&ip) => {
                    Some(format!("on the never-list: {reason}"))
                }
                _ => None,
            })
    }

    /// Why `domain` may never be listed, if it may not.
    pub fn domain_never(&self, domain: &str, store_never: &[(String, String)]) -> Option<String> {
        let covered = |d: &str| domain == d || domain.ends_with(&format!(".{d}"));
        if self.never_domains.iter().any(|d| covered(d)) {
            return Some("on the operator's never-list (configuration)".into());
        }
        store_never
            .iter()
            .find_map(|(e, reason)| match parse_never(e) {
                Some(Never::Domain(d)) if covered(&d) => {
                    Some(format!("on the never-list: {reason}"))
                }
                _ => None,
            })
    }

    /// The key inputs for a report in `zone`.
    pub fn key_input(&self, zone: &str, key: &ListingKey, category: &str) -> KeyInput {
        KeyInput {
            zone: zone.to_string(),
            key: key.to_string(),
            category: category.to_string(),
            policy: self.policy(zone).clone(),
        }
    }
}

/// Folds a feed's delta into a new base, then publishes the result (same
/// content, so the serial stays).
fn compact_now(data: &Mutex<(ZoneSet, Feeds)>, publisher: &Publisher, job: Compaction) {
    let started = Instant::now();
    // The expensive part runs without the lock.
    let base = job.run();
    let mut data = data.lock().unwrap_or_else(|p| p.into_inner());
    let (zones, feeds) = &mut *data;
    feeds.finish_compaction(&job, base);
    publisher.publish(zones.snapshot_with(|z| feeds.layer(z)));
    debug!(
        zone = %job.zone,
        ms = started.elapsed().as_millis() as u64,
        pending = feeds.pending(&job.zone),
        "feed compacted"
    );
    drop(data);
    crate::mem::release_free_memory();
}

/// Starts the thread that runs compactions one at a time, in order, at
/// priority `nice`.
fn spawn_compactor(
    data: Arc<Mutex<(ZoneSet, Feeds)>>,
    publisher: Publisher,
    nice: u8,
) -> std::sync::mpsc::Sender<Compaction> {
    let (tx, rx) = std::sync::mpsc::channel::<Compaction>();
    let spawned = crate::sched::spawn_background("fadelist-compact", nice, move || {
        while let Ok(job) = rx.recv() {
            compact_now(&data, &publisher, job);
        }
    });
    if let Err(e) = spawned {
        // The receiver is dropped with the closure, so every send fails
        // and compactions run inline.
        error!("cannot start the compactor thread: {e}");
    }
    tx
}

/// A parsed never-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Never {
    /// An address or network.
    Net(IpNet),
    /// A domain and its subdomains.
    Domain(String),
}

/// Parses a never-list entry: IP, CIDR or domain.
pub fn parse_never(e: &str) -> Option<Never> {
    let e = e.trim();
    if let Ok(ip) = e.parse::<IpAddr>() {
        return Some(Never::Net(IpNet::from(ip)));
    }
    if let Ok(n) = e.parse::<IpNet>() {
        return Some(Never::Net(n.trunc()));
    }
    fadelist_core::snapshot::normalize_name(e)
        .filter(|d| d.contains('.'))
        .map(Never::Domain)
}

/// Delists decayed keys every `decay_interval` until `shutdown`.
pub async fn decay_loop(app: Arc<App>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(app.config.ingest.decay_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = crate::clock::unix_now();
        let policies = app.policies.clone();
        let default = app.default_policy.clone();
        let retention = i64::try_from(app.config.store.raw_retention.as_secs()).unwrap_or(i64::MAX);
        let result = app
            .store_then_publish(move |s| {
                // Raw samples past their retention go; the extraction stays.
                if let Err(e) = s.expire_raw((now as i64).saturating_sub(retention)) {
                    error!("dropping old raw samples failed: {e}");
                }
                let manual = s.expire_manual(now as i64).unwrap_or_else(|e| {
                    error!("expiring manual listings failed: {e}");
                    Vec::new()
                });
                let decayed = s
                    .decay_pass(
                        |z| policies.get(z).cloned().unwrap_or_else(|| default.clone()),
                        now as i64,
                    )
                    .unwrap_or_else(|e| {
                        error!("decay pass failed: {e}");
                        Vec::new()
                    });
                let mut changes = FeedChanges::default();
                for d in manual {
                    info!(zone = %d.zone, key = %d.key, "manual listing expired");
                    if let Ok(k) = d.key.parse::<ListingKey>() {
                        changes.manual.push((d.zone, k, None));
                    }
                }
                for d in decayed {
                    info!(zone = %d.zone, key = %d.key, "delisted: score decayed");
                    if let Ok(k) = d.key.parse::<ListingKey>() {
                        changes.listed.push((d.zone, k, None));
                    }
                }
                ((), changes)
            })
            .await;
        if let Err(e) = result {
            error!("decay pass: {e}");
        }
    }
}
