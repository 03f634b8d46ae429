//! Report-fed listings in memory, and their DNS datasets.
//!
//! The store is the system of record; this is the serving copy of the
//! listed keys of each feed zone, updated by the pipeline after every
//! committed change and turned into a [`Dataset`] (the same frozen form as
//! data files) when the zone's data changes. Return codes are stable per
//! category: 127.0.0.2 spam, 127.0.0.3 phishing, 127.0.0.4 malware.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;

use fadelist_core::data::{
    AnswerSpec, DatasetData, DomainEntry, DomainMatch, EntryValue, Ip4Entry, Ip6Entry,
};
use fadelist_core::dataset::Dataset;
use fadelist_core::dataset::layer::Layer;
use fadelist_core::keys::{Category, ListingKey};

use crate::config::Feed;

/// One feed zone's listed keys.
///
/// The maps are the serving copy of the store's state. DNS serves them as a
/// [`Layer`]: `base`, built from the maps at some point, and `delta`, built
/// from the keys `changed` since then (see [`fadelist_core::dataset::layer`]).
/// A change costs a rebuild of the delta only; once the delta has grown,
/// a background compaction folds it into a new base.
#[derive(Debug, Default)]
pub struct FeedZone {
    /// What the zone lists.
    pub feed: Option<Feed>,
    /// Listed keys and their categories.
    pub listed: BTreeMap<ListingKey, Category>,
    /// Manual listings: return code and reason.
    pub manual: BTreeMap<ListingKey, (Ipv4Addr, String)>,
    base: Arc<Dataset>,
    /// Keys changed since `base`, with the generation of their last change.
    changed: BTreeMap<ListingKey, u64>,
    delta: Option<Arc<Dataset>>,
    /// A compaction of this zone is running.
    compacting: bool,
}

/// All feed zones.
#[derive(Debug, Default)]
pub struct Feeds {
    /// By zone name.
    pub zones: HashMap<String, FeedZone>,
    base_url: String,
    ttl: u32,
    /// Counts changes; orders them against compactions.
    generation: u64,
}

/// A compaction to run off the lock: fold `layer` into a new base.
#[derive(Debug)]
pub struct Compaction {
    /// The zone.
    pub zone: String,
    /// Its base and delta when the compaction started.
    pub layer: Layer,
    /// Changes up to this generation are in `layer`.
    pub generation: u64,
    /// TTL of the answers.
    pub ttl: u32,
}

impl Compaction {
    /// Builds the new base (O(n log n): run it on a background thread).
    pub fn run(&self) -> Dataset {
        Dataset::build(&[&self.layer.to_data()], self.ttl)
    }
}

/// Fewest changed keys that make a compaction worth it.
const COMPACT_MIN: usize = 256;
/// Most changed keys kept in a delta: every change rebuilds the delta, so
/// its size bounds the cost of one change.
const COMPACT_MAX: usize = 2048;

impl Feeds {
    /// Empty feeds for `zones` (name, feed), with TXT links to `base_url`.
    pub fn new(zones: impl IntoIterator<Item = (String, Feed)>, base_url: &str, ttl: u32) -> Feeds {
        let mut f = Feeds {
            zones: HashMap::new(),
            base_url: base_url.trim_end_matches('/').to_string(),
            ttl,
            generation: 0,
        };
        for (name, feed) in zones {
            f.zones.insert(
                name,
                FeedZone {
                    feed: Some(feed),
                    ..FeedZone::default()
                },
            );
        }
        f
    }

    /// Sets a key's listing state; returns whether anything changed.
    pub fn set(&mut self, zone: &str, key: ListingKey, category: Option<Category>) -> bool {
        let Some(z) = self.zones.get_mut(zone) else {
            return false;
        };
        let changed = match category {
            Some(c) => z.listed.insert(key.clone(), c) != Some(c),
            None => z.listed.remove(&key).is_some(),
        };
        if changed {
            self.generation += 1;
            z.changed.insert(key, self.generation);
        }
        changed
    }

    /// Sets a key's manual listing; returns whether anything changed.
    pub fn set_manual(
        &mut self,
        zone: &str,
        key: ListingKey,
        listing: Option<(Ipv4Addr, String)>,
    ) -> bool {
        let Some(z) = self.zones.get_mut(zone) else {
            return false;
        };
        let changed = match listing {
            Some(l) => z.manual.insert(key.clone(), l.clone()).as_ref() != Some(&l),
            None => z.manual.remove(&key).is_some(),
        };
        if changed {
            self.generation += 1;
            z.changed.insert(key, self.generation);
        }
        changed
    }

    /// Rebuilds the bases of `zones` from scratch (at start).
    pub fn rebuild(&mut self, zones: &[String]) {
        for name in zones {
            let Some(z) = self.zones.get(name) else {
                continue;
            };
            let data = build_data(name, z, &self.base_url, None);
            let ds = Dataset::build(&[&data], self.ttl);
            if let Some(z) = self.zones.get_mut(name) {
                z.base = Arc::new(ds);
                z.changed.clear();
                z.delta = None;
            }
        }
    }

    /// Rebuilds the deltas of `zones` after changes; returns the
    /// compactions that are now due (the caller runs them off the lock and
    /// hands the results to [`Feeds::finish_compaction`]).
    pub fn refresh(&mut self, zones: &[String]) -> Vec<Compaction> {
        let mut due = Vec::new();
        for name in zones {
            let Some(z) = self.zones.get(name) else {
                continue;
            };
            let delta = (!z.changed.is_empty()).then(|| {
                let data = build_data(name, z, &self.base_url, Some(&z.changed));
                Arc::new(Dataset::build(&[&data], self.ttl))
            });
            let base_len =
                z.base.v4.counts().0 + z.base.v6.entry_count() + z.base.domains.exact.len();
            let threshold = (base_len / 8).clamp(COMPACT_MIN, COMPACT_MAX);
            let Some(z) = self.zones.get_mut(name) else {
                continue;
            };
            z.delta = delta;
            if z.changed.len() >= threshold && !z.compacting {
                z.compacting = true;
                due.push(Compaction {
                    zone: name.clone(),
                    layer: layer_of(z),
                    generation: self.generation,
                    ttl: self.ttl,
                });
            }
        }
        due
    }

    /// Installs a compacted base: changes made since the compaction started
    /// stay in the delta.
    pub fn finish_compaction(&mut self, job: &Compaction, base: Dataset) {
        let Some(z) = self.zones.get_mut(&job.zone) else {
            return;
        };
        z.base = Arc::new(base);
        z.changed.retain(|_, g| *g > job.generation);
        z.compacting = false;
        let zones = [job.zone.clone()];
        // A non-empty remainder could itself be due; the next change
        // starts that compaction.
        let _ = self.refresh(&zones);
    }

    /// The current dataset of a feed zone, as DNS serves it.
    pub fn layer(&self, zone: &str) -> Option<Layer> {
        self.zones.get(zone).map(layer_of)
    }

    /// Number of changed keys held in the delta of `zone`.
    pub fn pending(&self, zone: &str) -> usize {
        self.zones.get(zone).map_or(0, |z| z.changed.len())
    }
}

fn layer_of(z: &FeedZone) -> Layer {
    match &z.delta {
        // Feed data holds single addresses, /64s and names only, which is
        // what layering needs; a failure would be a bug in build_data.
        Some(d) => Layer::with_delta(z.base.clone(), d.clone()).unwrap_or_else(|e| {
            tracing::error!("feed delta not applied: {e}");
            Layer::new(z.base.clone())
        }),
        None => Layer::new(z.base.clone()),
    }
}

/// Builds the data of a feed zone: all its keys (`only` = None), or only
/// the keys in `only`, where a key that is no longer listed becomes a
/// tombstone (an exclusion, which removes it from the base).
fn build_data(
    zone: &str,
    z: &FeedZone,
    base: &str,
    only: Option<&BTreeMap<ListingKey, u64>>,
) -> DatasetData {
    let what = match z.feed {
        Some(Feed::BulkIp) => "as a source of reported bulk mail",
        Some(Feed::Domain) => "as a domain advertised in reported",
        _ => "as a source of reported",
    };
    let mut d = DatasetData::default();
    let mut ids = HashMap::new();
    // In the content zone, IPv4 keys are URL hosts: their own wording.
    let mut url_ip_ids = HashMap::new();
    for cat in Category::ALL {
        let text = match z.feed {
            Some(Feed::BulkIp) => {
                format!("$ is listed in {zone} {what} ({cat}); see {base}/lookup?q=$")
            }
            _ if cat == Category::Newsletter => format!(
                "$ is listed in {zone} as a source of reported bulk mail (newsletter); see {base}/lookup?q=$"
            ),
            _ => format!("$ is listed in {zone} {what} {cat}; see {base}/lookup?q=$"),
        };
        ids.insert(cat, d.answers.len() as u32);
        d.answers
            .push(AnswerSpec::new(cat.return_code(), Some(text)));
        if z.feed == Some(Feed::Domain) {
            let text = format!(
                "$ is listed in {zone} as an address advertised (as a URL host) in reported {cat}; see {base}/lookup?q=$"
            );
            url_ip_ids.insert(cat, d.answers.len() as u32);
            d.answers
                .push(AnswerSpec::new(cat.return_code(), Some(text)));
        }
    }
    let mut manual_ids: HashMap<(Ipv4Addr, &str), u32> = HashMap::new();
    // For a delta, walk the changed keys and look each up: the cost of a
    // change must follow the number of changed keys, not of listed ones
    // (filtering every listed key against the changed set made each
    // change O(listed) and a store of 100k listings 5x slower to feed).
    let manual_rows: Vec<(&ListingKey, &(Ipv4Addr, String))> = match only {
        Some(o) => o.keys().filter_map(|k| z.manual.get_key_value(k)).collect(),
        None => z.manual.iter().collect(),
    };
    let manual = manual_rows.into_iter().map(|(key, (code, reason))| {
        let id = *manual_ids
            .entry((*code, reason.as_str()))
            .or_insert_with(|| {
                // `$` in the operator's words is literal; `$$` is rbldnsd's escape.
                let text = format!(
                    "$ is listed in {zone}: {}; see {base}/lookup?q=$",
                    reason.replace('$', "$$")
                );
                d.answers.push(AnswerSpec::new(*code, Some(text)));
                d.answers.len() as u32 - 1
            });
        (key, id)
    });
    let manual: Vec<(&ListingKey, u32)> = manual.collect();
    let auto_rows: Vec<(&ListingKey, &Category)> = match only {
        Some(o) => o.keys().filter_map(|k| z.listed.get_key_value(k)).collect(),
        None => z.listed.iter().collect(),
    };
    let auto = auto_rows.into_iter().map(|(key, cat)| {
        let table = if key.is_ip() && !url_ip_ids.is_empty() {
            &url_ip_ids
        } else {
            &ids
        };
        (key, table.get(cat).copied().unwrap_or(0))
    });
    // A key listed both ways answers with both records (the dataset
    // builder merges duplicate keys).
    // Removed keys: tombstones over the base.
    let gone = only
        .into_iter()
        .flat_map(|o| o.keys())
        .filter(|k| !z.listed.contains_key(*k) && !z.manual.contains_key(*k))
        .map(|k| (k, None));
    let listed = auto.chain(manual).map(|(k, id)| (k, Some(id)));
    for (key, id) in listed.chain(gone) {
        let value = id.map_or(EntryValue::Excluded, EntryValue::Listed);
        match key {
            ListingKey::V4(ip) => d.ip4.push(Ip4Entry {
                net: u32::from(*ip),
                len: 32,
                value,
            }),
            ListingKey::V6Net(n) => d.ip6.push(Ip6Entry {
                net: u128::from(*n) << 64,
                len: 64,
                value,
            }),
            // A listed registered domain covers its subdomains.
            ListingKey::Domain(name) => d.domains.push(DomainEntry {
                name: name.clone(),
                matching: DomainMatch::Both,
                value,
            }),
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use fadelist_core::snapshot::{Resolution, Snapshot, Soa, Zone};

    use fadelist_core::testrng::TestRng as Rng;

    fn key(rng: &mut Rng) -> ListingKey {
        match rng.below(3) {
            0 => ListingKey::V4(Ipv4Addr::new(192, 0, 2, rng.below(40) as u8)),
            1 => ListingKey::V6Net(0x2001_0db8_0000_0000 | rng.below(30) as u64),
            _ => {
                let names = [
                    "example.com",
                    "spam.test",
                    "a.spam.test",
                    "x.org",
                    "b.a.spam.test",
                ];
                ListingKey::Domain((*rng.pick(&names)).into())
            }
        }
    }

    fn query(k: &ListingKey) -> String {
        match k {
            ListingKey::V4(ip) => {
                let o = ip.octets();
                format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
            }
            ListingKey::V6Net(n) => {
                let hex = format!("{:032x}", (u128::from(*n) << 64) | 0x1234);
                hex.chars()
                    .rev()
                    .map(|c| format!("{c}."))
                    .collect::<String>()
                    .trim_end_matches('.')
                    .to_string()
            }
            ListingKey::Domain(d) => d.clone(),
        }
    }

    fn answer_of(snapshot: &Snapshot, q: &str) -> Option<Vec<(Vec<Ipv4Addr>, Vec<String>)>> {
        let name = format!("{q}.feed.test");
        let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
        match snapshot.resolve(&labels) {
            Resolution::Listed { hits, .. } => {
                let mut v: Vec<_> = hits
                    .iter()
                    .map(|h| {
                        (
                            h.answer.a.to_vec(),
                            h.answer.txt.iter().map(|t| t.to_string()).collect(),
                        )
                    })
                    .collect();
                v.sort();
                Some(v)
            }
            _ => None,
        }
    }

    fn snapshot(layer: Layer) -> Snapshot {
        let soa = Soa {
            ttl: 60,
            ..Soa::default_for("feed.test", 1)
        };
        Snapshot {
            zones: vec![Zone::layered("feed.test", soa, vec![], 60, vec![layer]).unwrap()],
        }
    }

    /// Random changes, deltas and compactions (some of them overlapping
    /// with later changes) always answer like a full rebuild.
    #[test]
    fn incremental_matches_full_rebuild() {
        let mut rng = Rng::new(42);
        let zone = "feed.test".to_string();
        let mut feeds = Feeds::new([(zone.clone(), Feed::Ip)], "https://bl.example", 60);
        let mut pending: Vec<Compaction> = Vec::new();
        let mut probes: Vec<ListingKey> = Vec::new();
        for step in 0..3000 {
            let k = key(&mut rng);
            probes.push(k.clone());
            match rng.below(4) {
                0 => {
                    let cats = Category::ALL;
                    let c = cats[rng.below(3)];
                    feeds.set(&zone, k, Some(c));
                }
                1 => {
                    feeds.set(&zone, k, None);
                }
                2 => {
                    let l = (rng.below(2) == 0).then(|| {
                        (
                            Ipv4Addr::new(127, 0, 0, 10 + rng.below(2) as u8),
                            format!("reason {}", rng.below(3)),
                        )
                    });
                    feeds.set_manual(&zone, k, l);
                }
                _ => {
                    // Finish a compaction started a while ago, so changes
                    // made in between must survive it.
                    if let Some(job) = pending.pop() {
                        let base = job.run();
                        feeds.finish_compaction(&job, base);
                    }
                }
            }
            pending.extend(feeds.refresh(std::slice::from_ref(&zone)));
            if step % 7 == 0 && pending.is_empty() {
                // Force small compactions too.
                if let Some(z) = feeds.zones.get_mut(&zone)
                    && !z.compacting
                    && !z.changed.is_empty()
                {
                    z.compacting = true;
                    pending.push(Compaction {
                        zone: zone.clone(),
                        layer: layer_of(z),
                        generation: feeds.generation,
                        ttl: feeds.ttl,
                    });
                }
            }
            let incremental = snapshot(feeds.layer(&zone).unwrap());
            let z = &feeds.zones[&zone];
            let full = Dataset::build(&[&build_data(&zone, z, &feeds.base_url, None)], 60);
            let full = snapshot(Layer::new(Arc::new(full)));
            for p in probes.iter().rev().take(12) {
                let q = query(p);
                assert_eq!(
                    answer_of(&incremental, &q),
                    answer_of(&full, &q),
                    "step {step}: {q}"
                );
            }
        }
        assert!(feeds.pending(&zone) < 3000, "compactions happened");
    }
}
