//! The served data and its atomic publication.

use std::sync::Arc;

use arc_swap::{ArcSwap, Cache};
use fadelist_core::snapshot::{Snapshot, Zone};
use fadelist_core::zone_records::Region;

use crate::ixfr::History;

pub use crate::records::ZoneRecords;
use crate::records::{ZoneWire, zone_records};

/// A snapshot with its zones' pre-built records; what a query reads.
#[derive(Debug)]
pub struct Served {
    /// The data.
    pub snapshot: Arc<Snapshot>,
    /// `zones[i]` belongs to `snapshot.zones[i]`.
    pub zones: Vec<ZoneRecords>,
    /// The same records as wire templates for the UDP fast path;
    /// `wire[i]` belongs to `snapshot.zones[i]`.
    pub(crate) wire: Vec<ZoneWire>,
}

impl Served {
    /// Builds the records of every zone of `snapshot`.
    ///
    /// Zone, SOA and NS names were validated when the zone was built;
    /// a name hickory still refuses is replaced by the zone apex so that
    /// serving never stops over a cosmetic record.
    pub fn new(snapshot: Arc<Snapshot>) -> Served {
        let zones: Vec<ZoneRecords> = snapshot.zones.iter().map(zone_records).collect();
        let wire = snapshot
            .zones
            .iter()
            .zip(&zones)
            .map(|(z, r)| ZoneWire::build(z, r))
            .collect();
        Served {
            snapshot,
            zones,
            wire,
        }
    }

    /// Position of `zone` in the snapshot (by identity; a handful of zones
    /// at most, so a scan is cheaper than any map).
    fn index_of(&self, zone: &Zone) -> Option<usize> {
        self.snapshot
            .zones
            .iter()
            .position(|z| std::ptr::eq(z, zone))
    }

    /// The records of `zone`, which must belong to this snapshot.
    pub fn records_of(&self, zone: &Zone) -> Option<&ZoneRecords> {
        self.zones.get(self.index_of(zone)?)
    }

    /// The fast path's wire templates of `zone`.
    pub(crate) fn wire_of(&self, zone: &Zone) -> Option<&ZoneWire> {
        self.wire.get(self.index_of(zone)?)
    }
}

/// Shared handle to the served data. Cloning is cheap; all clones see the
/// same publications.
#[derive(Clone, Debug)]
pub struct Publisher {
    inner: Arc<ArcSwap<Served>>,
    /// The IXFR history, once zone transfers are on.
    history: Arc<std::sync::OnceLock<Arc<History>>>,
}

impl Publisher {
    /// Starts serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Publisher {
        Publisher {
            inner: Arc::new(ArcSwap::from_pointee(Served::new(Arc::new(snapshot)))),
            history: Arc::new(std::sync::OnceLock::new()),
        }
    }

    /// Keeps an IXFR history from now on ([`crate::ixfr`]); what zone
    /// transfers read. Off by default: it costs a walk of the changed
    /// regions per change.
    pub fn enable_history(&self) -> Arc<History> {
        self.history.get_or_init(Arc::default).clone()
    }

    /// The IXFR history, when on.
    pub fn history(&self) -> Option<&Arc<History>> {
        self.history.get()
    }

    /// [`Publisher::publish`] of a snapshot whose zones changed only in
    /// these regions (`(zone, regions)`; a zone whose serial moved and
    /// that is not named changed in unknown ways): what lets the IXFR
    /// history diff only those regions.
    pub fn publish_changes(&self, snapshot: Snapshot, changes: &[(String, Vec<Region>)]) {
        let new = Arc::new(snapshot);
        let old = self.inner.swap(Arc::new(Served::new(new.clone())));
        if let Some(h) = self.history.get() {
            h.submit(&old.snapshot, &new, changes);
        }
    }

    /// Replaces the served data in one atomic step: queries already
    /// running finish on the old data, later ones see the new data.
    pub fn publish(&self, snapshot: Snapshot) {
        self.publish_changes(snapshot, &[]);
    }

    /// The currently served data.
    pub fn load(&self) -> Arc<Served> {
        self.inner.load_full()
    }

    /// A per-thread reader of the served data: `load()` on it costs no
    /// shared refcount update unless something new was published.
    pub(crate) fn cache(&self) -> Cache<Arc<ArcSwap<Served>>, Arc<Served>> {
        Cache::new(self.inner.clone())
    }

    /// The currently served snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.load().snapshot.clone()
    }
}
