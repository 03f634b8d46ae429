//! IXFR history (RFC 1995): serial-to-serial differences of each zone,
//! kept so that a secondary that is a few changes behind gets those
//! changes instead of the whole zone.
//!
//! A publication that says which keys changed ([`Publisher::publish_changes`],
//! the report-fed listings) is diffed here: only the [`Region`]s of the
//! changed keys are walked, in the old and the new snapshot, on a thread
//! of its own so that publishing never waits for it. A publication that
//! does not say (a data-file reload) starts the zone's history afresh: the
//! secondaries then get one AXFR. The history of a zone is bounded (by
//! count and bytes; the oldest differences go first) and an IXFR whose
//! serial it does not reach, or whose condensed difference would be bigger
//! than the zone, is answered with the whole zone.
//!
//! [`Publisher::publish_changes`]: crate::Publisher::publish_changes

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use fadelist_core::snapshot::Snapshot;
use fadelist_core::zone_records::{self, Region, Rr};
use tracing::{debug, warn};

/// Differences kept per zone at most.
const MAX_DIFFS: usize = 4096;
/// Bytes of differences kept per zone at most.
const MAX_BYTES: usize = 32 << 20;

/// A record in the compact form the history keeps: owner length, owner
/// (relative, lower-case), type, TTL, RDATA.
pub type Record = Vec<u8>;

fn encode(rr: &Rr<'_>) -> Record {
    let mut r = Vec::with_capacity(1 + rr.owner.len() + 6 + rr.rdata.len());
    r.push(rr.owner.len() as u8);
    r.extend(rr.owner.iter().map(u8::to_ascii_lowercase));
    r.extend_from_slice(&rr.rtype.to_be_bytes());
    r.extend_from_slice(&rr.ttl.to_be_bytes());
    r.extend_from_slice(rr.rdata);
    r
}

/// The record `r`, as the history keeps it (see [`Record`]).
pub fn decode(r: &[u8]) -> Rr<'_> {
    let n = usize::from(r[0]);
    let owner = &r[1..1 + n];
    let rtype = u16::from_be_bytes([r[1 + n], r[2 + n]]);
    let ttl = u32::from_be_bytes([r[3 + n], r[4 + n], r[5 + n], r[6 + n]]);
    Rr {
        owner,
        rtype,
        ttl,
        rdata: &r[7 + n..],
    }
}

struct Diff {
    from: u32,
    to: u32,
    deleted: Vec<Record>,
    added: Vec<Record>,
}

impl Diff {
    fn bytes(&self) -> usize {
        self.deleted
            .iter()
            .chain(&self.added)
            .map(Vec::len)
            .sum::<usize>()
            + 64
    }
}

#[derive(Default)]
struct ZoneHistory {
    diffs: VecDeque<Diff>,
    bytes: usize,
}

enum Job {
    /// Diff these regions of `zone` between the two snapshots.
    Diff {
        old: Arc<Snapshot>,
        new: Arc<Snapshot>,
        zone: String,
        regions: Vec<Region>,
    },
    /// The zone changed in a way nobody described: forget its history.
    Reset { zone: String },
}

/// The differences of every zone, filled by a background thread.
#[derive(Default)]
pub struct History {
    zones: Mutex<HashMap<String, ZoneHistory>>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").finish_non_exhaustive()
    }
}

impl History {
    /// Records what a publication changed: for each zone whose serial
    /// moved, a difference over `changes`' regions for it, or a reset when
    /// the publication did not say.
    pub fn submit(
        self: &Arc<Self>,
        old: &Arc<Snapshot>,
        new: &Arc<Snapshot>,
        changes: &[(String, Vec<Region>)],
    ) {
        for zone in &new.zones {
            let Some(before) = old.zones.iter().find(|z| z.name() == zone.name()) else {
                continue;
            };
            if before.soa.serial == zone.soa.serial {
                continue;
            }
            let regions: Option<Vec<Region>> = {
                let mut r: Vec<Region> = changes
                    .iter()
                    .filter(|(z, _)| z == zone.name())
                    .flat_map(|(_, rs)| rs.iter().cloned())
                    .collect();
                r.sort();
                r.dedup();
                (!r.is_empty()).then_some(r)
            };
            let job = match regions {
                Some(regions) => Job::Diff {
                    old: old.clone(),
                    new: new.clone(),
                    zone: zone.name().to_string(),
                    regions,
                },
                None => Job::Reset {
                    zone: zone.name().to_string(),
                },
            };
            self.send(job);
        }
    }

    fn send(self: &Arc<Self>, job: Job) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if jobs.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let me = Arc::downgrade(self);
            let spawned = std::thread::Builder::new()
                .name("ixfr-diff".into())
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        let Some(history) = me.upgrade() else { return };
                        history.run(job);
                    }
                });
            if let Err(e) = spawned {
                warn!("IXFR history off: cannot start its thread: {e}");
                return;
            }
            *jobs = Some(tx);
        }
        if let Some(tx) = jobs.as_ref() {
            let _ = tx.send(job);
        }
    }

    fn run(&self, job: Job) {
        match job {
            Job::Reset { zone } => {
                self.zones
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&zone);
            }
            Job::Diff {
                old,
                new,
                zone,
                regions,
            } => {
                let (Some(oi), Some(ni)) = (
                    old.zones.iter().position(|z| z.name() == zone),
                    new.zones.iter().position(|z| z.name() == zone),
                ) else {
                    return;
                };
                let walk = |s: &Snapshot, i: usize| {
                    let mut out: Vec<Record> = Vec::new();
                    for r in &regions {
                        zone_records::walk_region(s, i, r, &mut |rr| out.push(encode(&rr)));
                    }
                    out.sort();
                    out
                };
                let (before, after) = (walk(&old, oi), walk(&new, ni));
                let (deleted, added) = difference(before, after);
                let diff = Diff {
                    from: old.zones[oi].soa.serial,
                    to: new.zones[ni].soa.serial,
                    deleted,
                    added,
                };
                debug!(zone = %zone, from = diff.from, to = diff.to, deleted = diff.deleted.len(), added = diff.added.len(), "IXFR difference");
                let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
                let h = zones.entry(zone).or_default();
                if h.diffs.back().is_some_and(|d| d.to != diff.from) {
                    // A change went by undescribed: start again from here.
                    h.diffs.clear();
                    h.bytes = 0;
                }
                h.bytes += diff.bytes();
                h.diffs.push_back(diff);
                while h.diffs.len() > MAX_DIFFS || h.bytes > MAX_BYTES {
                    if let Some(d) = h.diffs.pop_front() {
                        h.bytes -= d.bytes();
                    }
                }
            }
        }
    }

    /// The condensed difference of `zone` from serial `from` to serial
    /// `to`: the records to delete and to add, or `None` when the history
    /// does not reach from `from` to `to` (yet).
    pub fn condensed(&self, zone: &str, from: u32, to: u32) -> Option<(Vec<Record>, Vec<Record>)> {
        let zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        let h = zones.get(zone)?;
        let start = h.diffs.iter().position(|d| d.from == from)?;
        // +1 added since `from`, -1 deleted since `from`.
        let mut net: HashMap<&[u8], i8> = HashMap::new();
        let mut at = from;
        for d in h.diffs.iter().skip(start) {
            if d.from != at {
                return None;
            }
            for r in &d.deleted {
                match net.get(r.as_slice()) {
                    Some(1) => {
                        net.remove(r.as_slice());
                    }
                    _ => {
                        net.insert(r, -1);
                    }
                }
            }
            for r in &d.added {
                match net.get(r.as_slice()) {
                    Some(-1) => {
                        net.remove(r.as_slice());
                    }
                    _ => {
                        net.insert(r, 1);
                    }
                }
            }
            at = d.to;
            if at == to {
                let mut deleted: Vec<Record> = Vec::new();
                let mut added: Vec<Record> = Vec::new();
                for (r, v) in net {
                    if v < 0 {
                        deleted.push(r.to_vec());
                    } else {
                        added.push(r.to_vec());
                    }
                }
                deleted.sort();
                added.sort();
                return Some((deleted, added));
            }
        }
        None
    }

    /// The serials the history of `zone` covers (oldest first), for logs
    /// and tests.
    pub fn serials(&self, zone: &str) -> Vec<u32> {
        let zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        zones.get(zone).map_or_else(Vec::new, |h| {
            h.diffs
                .iter()
                .map(|d| d.from)
                .chain(h.diffs.back().map(|d| d.to))
                .collect()
        })
    }
}

/// Records only in `before` (deleted) and only in `after` (added); both
/// sorted.
fn difference(before: Vec<Record>, after: Vec<Record>) -> (Vec<Record>, Vec<Record>) {
    let (mut deleted, mut added) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < before.len() || j < after.len() {
        match (before.get(i), after.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                deleted.push(a.clone());
                i += 1;
            }
            (Some(_), Some(b)) => {
                added.push(b.clone());
                j += 1;
            }
            (Some(a), None) => {
                deleted.push(a.clone());
                i += 1;
            }
            (None, Some(b)) => {
                added.push(b.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
    (deleted, added)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str) -> Record {
        s.as_bytes().to_vec()
    }

    fn history(diffs: Vec<(u32, u32, Vec<&str>, Vec<&str>)>) -> History {
        let h = History::default();
        let mut z = ZoneHistory::default();
        for (from, to, d, a) in diffs {
            z.diffs.push_back(Diff {
                from,
                to,
                deleted: d.into_iter().map(rec).collect(),
                added: a.into_iter().map(rec).collect(),
            });
        }
        h.zones.lock().unwrap().insert("z".into(), z);
        h
    }

    #[test]
    fn differences_condense() {
        let h = history(vec![
            (1, 2, vec![], vec!["a", "b"]),
            (2, 3, vec!["a"], vec!["c"]),
            (3, 4, vec!["x"], vec!["a"]),
        ]);
        // a added, deleted, added again: one add.
        assert_eq!(
            h.condensed("z", 1, 4),
            Some((vec![rec("x")], vec![rec("a"), rec("b"), rec("c")]))
        );
        assert_eq!(
            h.condensed("z", 2, 3),
            Some((vec![rec("a")], vec![rec("c")]))
        );
        assert_eq!(h.condensed("z", 0, 4), None, "older than the history");
        assert_eq!(h.condensed("z", 1, 5), None, "newer than the history");
        assert_eq!(h.condensed("other", 1, 2), None);
        assert_eq!(h.serials("z"), vec![1, 2, 3, 4]);
    }

    #[test]
    fn difference_of_sorted_lists() {
        let (d, a) = difference(
            vec![rec("a"), rec("b"), rec("d")],
            vec![rec("b"), rec("c"), rec("d"), rec("e")],
        );
        assert_eq!(d, vec![rec("a")]);
        assert_eq!(a, vec![rec("c"), rec("e")]);
    }

    #[test]
    fn records_round_trip() {
        let rr = Rr {
            owner: b"\x01A\x01b",
            rtype: 16,
            ttl: 300,
            rdata: b"\x02hi",
        };
        let e = encode(&rr);
        let back = decode(&e);
        assert_eq!(back.owner, b"\x01a\x01b");
        assert_eq!(
            (back.rtype, back.ttl, back.rdata),
            (16, 300, &b"\x02hi"[..])
        );
    }
}
