//! The serving copy: file zones and report-fed feeds in memory, and their
//! publication to DNS.
//!
//! The store is the system of record; this holds what DNS answers. Writes
//! reach it only as [`Effect`]s, applied by the store thread right after
//! the commit that decided them, so DNS sees changes in commit order. A
//! feed change rebuilds only the feed's delta; a compactor thread folds
//! big deltas into a new base off every lock.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use fadelist_core::keys::{Category, ListingKey};
use fadelist_core::zone_records::Region;
use fadelist_dns::Publisher;
use tracing::{debug, error, info};

use crate::feeds::{Compaction, Feeds};
use crate::zones::{DataStatus, ZoneSet};

/// What a committed write does to DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Listed by reports, with this category.
    Listed {
        /// Zone.
        zone: String,
        /// Key.
        key: ListingKey,
        /// Category (return code).
        category: Category,
    },
    /// The report-fed listing ended (decay, delisting, removal).
    Unlisted {
        /// Zone.
        zone: String,
        /// Key.
        key: ListingKey,
    },
    /// A manual listing set (`Some((code, reason))`) or ended (`None`).
    Manual {
        /// Zone.
        zone: String,
        /// Key.
        key: ListingKey,
        /// Return code and reason.
        listing: Option<(Ipv4Addr, String)>,
    },
}

/// File zones and feeds behind one lock (so publications are ordered),
/// the publisher, and the compactor thread.
#[derive(Debug)]
pub struct Serving {
    data: Arc<Mutex<(ZoneSet, Feeds)>>,
    publisher: Publisher,
    compactor: std::sync::mpsc::Sender<Compaction>,
    /// The data files' state, published by each load and reload pass.
    files: DataStatus,
    /// Report-fed and manual listings per feed zone, updated with each
    /// publication: read without `data`'s lock, which a reload holds
    /// while it parses.
    counts: Mutex<BTreeMap<String, ListingCounts>>,
}

/// How many keys a feed zone lists, by source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListingCounts {
    /// Listed by reports.
    pub report: usize,
    /// Listed by hand (`fadelist admin list`).
    pub manual: usize,
}

fn counts_of(feeds: &Feeds, zones: &mut BTreeMap<String, ListingCounts>, which: &[String]) {
    for name in which {
        if let Some(z) = feeds.zones.get(name) {
            zones.insert(
                name.clone(),
                ListingCounts {
                    report: z.listed.len(),
                    manual: z.manual.len(),
                },
            );
        }
    }
}

impl Serving {
    /// Loads the listed keys of `store` into `feeds`, publishes the first
    /// snapshot and starts the compactor at priority `nice`.
    pub fn start(
        zones: ZoneSet,
        mut feeds: Feeds,
        store: &impl fadelist_store::Read,
        nice: u8,
    ) -> anyhow::Result<Serving> {
        let mut loaded = 0usize;
        for l in store.listed()? {
            match (l.key.parse::<ListingKey>(), Category::parse(&l.category)) {
                (Ok(key), Some(cat)) => {
                    loaded += usize::from(feeds.set(&l.zone, key, Some(cat)));
                }
                _ => error!(zone = %l.zone, key = %l.key, category = %l.category,
                    "unreadable listing in the store, skipped"),
            }
        }
        for m in store.manual_listings()? {
            match (m.key.parse::<ListingKey>(), m.code.parse::<Ipv4Addr>()) {
                (Ok(key), Ok(code)) => {
                    feeds.set_manual(&m.zone, key, Some((code, m.reason)));
                }
                _ => error!(key = %m.key, "unreadable manual listing in the store, skipped"),
            }
        }
        let all: Vec<String> = feeds.zones.keys().cloned().collect();
        feeds.rebuild(&all);
        info!(listed = loaded, "report-fed listings loaded from the store");
        let publisher = Publisher::new(zones.snapshot_with(|z| feeds.layer(z)));
        let mut counts = BTreeMap::new();
        counts_of(&feeds, &mut counts, &all);
        let files = zones.status();
        let data = Arc::new(Mutex::new((zones, feeds)));
        Ok(Serving {
            compactor: spawn_compactor(data.clone(), publisher.clone(), nice),
            data,
            publisher,
            files,
            counts: Mutex::new(counts),
        })
    }

    /// The publisher DNS reads from.
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// The data files' state (entries, last load, last error).
    pub fn files(&self) -> &DataStatus {
        &self.files
    }

    /// Keys listed by reports and by hand, per feed zone.
    pub fn listing_counts(&self) -> BTreeMap<String, ListingCounts> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Applies `effects` and publishes once if anything changed (only the
    /// changed keys are rebuilt; compactions that come due run on their
    /// own thread).
    pub fn apply(&self, effects: &[Effect], now: u64) {
        if effects.is_empty() {
            return;
        }
        let mut data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let (zones, feeds) = &mut *data;
        let mut touched: Vec<String> = Vec::new();
        // What changed where, for the IXFR history (fadelist_dns::ixfr).
        let mut regions: Vec<(String, Vec<Region>)> = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        for e in effects {
            let (zone, changed) = match e {
                Effect::Listed {
                    zone,
                    key,
                    category,
                } => (zone, feeds.set(zone, key.clone(), Some(*category))),
                Effect::Unlisted { zone, key } => (zone, feeds.set(zone, key.clone(), None)),
                Effect::Manual { zone, key, listing } => {
                    (zone, feeds.set_manual(zone, key.clone(), listing.clone()))
                }
            };
            if changed && !touched.contains(zone) {
                touched.push(zone.clone());
            }
            if changed {
                let key = match e {
                    Effect::Listed { key, .. }
                    | Effect::Unlisted { key, .. }
                    | Effect::Manual { key, .. } => key,
                };
                let region = match key {
                    ListingKey::V4(ip) => Some(Region::of_v4(*ip)),
                    ListingKey::V6Net(net) => Some(Region::of_v6(u128::from(*net) << 64)),
                    ListingKey::Domain(d) => Region::of_domain(d),
                };
                match (regions.iter_mut().find(|(z, _)| z == zone), region) {
                    (Some((_, rs)), Some(r)) => rs.push(r),
                    (None, Some(r)) => regions.push((zone.clone(), vec![r])),
                    // Not a key a region holds: the zone's history restarts.
                    (_, None) => unknown.push(zone.clone()),
                }
            }
        }
        regions.retain(|(z, _)| !unknown.contains(z));
        if touched.is_empty() {
            return;
        }
        let due = feeds.refresh(&touched);
        for z in &touched {
            zones.touch(z, now);
        }
        self.publisher
            .publish_changes(zones.snapshot_with(|z| feeds.layer(z)), &regions);
        counts_of(
            feeds,
            &mut self.counts.lock().unwrap_or_else(|e| e.into_inner()),
            &touched,
        );
        drop(data);
        for job in due {
            if let Err(std::sync::mpsc::SendError(job)) = self.compactor.send(job) {
                error!("the compactor thread is gone; compacting inline");
                compact_now(&self.data, &self.publisher, job);
            }
        }
    }

    /// Replaces a followed zone's data and publishes at once (a new
    /// serial from the primary, or expiry).
    pub fn set_followed(&self, zone: &str, data: Option<crate::zones::Followed>) {
        let mut guard = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let (zones, feeds) = &mut *guard;
        if zones.set_followed(zone, data) {
            self.publisher
                .publish(zones.snapshot_with(|z| feeds.layer(z)));
        }
        drop(guard);
        crate::mem::release_free_memory();
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
