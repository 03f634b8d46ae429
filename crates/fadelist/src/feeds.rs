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
use fadelist_core::keys::ListingKey;

use crate::config::Feed;

/// Listing categories and their return codes.
pub const CATEGORIES: [(&str, u8); 3] = [("spam", 2), ("phishing", 3), ("malware", 4)];

/// The A value of a category (unknown categories answer as spam).
pub fn return_code(category: &str) -> Ipv4Addr {
    let last = CATEGORIES
        .iter()
        .find(|(c, _)| *c == category)
        .map_or(2, |(_, n)| *n);
    Ipv4Addr::new(127, 0, 0, last)
}

/// One feed zone's listed keys.
#[derive(Debug, Default)]
pub struct FeedZone {
    /// What the zone lists.
    pub feed: Option<Feed>,
    /// Listed keys and their categories.
    pub listed: BTreeMap<ListingKey, String>,
    /// Manual listings: return code and reason.
    pub manual: BTreeMap<ListingKey, (Ipv4Addr, String)>,
    /// The dataset built from `listed`, rebuilt when it changes.
    pub dataset: Arc<Dataset>,
}

/// All feed zones.
#[derive(Debug, Default)]
pub struct Feeds {
    /// By zone name.
    pub zones: HashMap<String, FeedZone>,
    base_url: String,
    ttl: u32,
}

impl Feeds {
    /// Empty feeds for `zones` (name, feed), with TXT links to `base_url`.
    pub fn new(zones: impl IntoIterator<Item = (String, Feed)>, base_url: &str, ttl: u32) -> Feeds {
        let mut f = Feeds {
            zones: HashMap::new(),
            base_url: base_url.trim_end_matches('/').to_string(),
            ttl,
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

    /// The zone that takes `feed`.
    pub fn zone_for(&self, feed: Feed) -> Option<&str> {
        self.zones
            .iter()
            .find(|(_, z)| z.feed == Some(feed))
            .map(|(n, _)| n.as_str())
    }

    /// Sets a key's listing state; returns whether anything changed.
    pub fn set(&mut self, zone: &str, key: ListingKey, category: Option<&str>) -> bool {
        let Some(z) = self.zones.get_mut(zone) else {
            return false;
        };
        match category {
            Some(c) => z.listed.insert(key, c.to_string()).as_deref() != Some(c),
            None => z.listed.remove(&key).is_some(),
        }
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
        match listing {
            Some(l) => z.manual.insert(key, l.clone()).as_ref() != Some(&l),
            None => z.manual.remove(&key).is_some(),
        }
    }

    /// Rebuilds the datasets of `zones`.
    pub fn rebuild(&mut self, zones: &[String]) {
        for name in zones {
            let Some(z) = self.zones.get(name) else {
                continue;
            };
            let data = build_data(name, z, &self.base_url);
            let ds = Dataset::build(&[&data], self.ttl);
            if let Some(z) = self.zones.get_mut(name) {
                z.dataset = Arc::new(ds);
            }
        }
    }

    /// The current dataset of a feed zone.
    pub fn dataset(&self, zone: &str) -> Option<Arc<Dataset>> {
        self.zones.get(zone).map(|z| z.dataset.clone())
    }
}

fn build_data(zone: &str, z: &FeedZone, base: &str) -> DatasetData {
    let what = match z.feed {
        Some(Feed::BulkIp) => "as a source of reported bulk mail",
        Some(Feed::Domain) => "as a domain advertised in reported",
        _ => "as a source of reported",
    };
    let mut d = DatasetData::default();
    let mut ids = HashMap::new();
    for (cat, _) in CATEGORIES {
        let text = match z.feed {
            Some(Feed::BulkIp) => {
                format!("$ is listed in {zone} {what} ({cat}); see {base}/lookup?q=$")
            }
            _ => format!("$ is listed in {zone} {what} {cat}; see {base}/lookup?q=$"),
        };
        ids.insert(cat, d.answers.len() as u32);
        d.answers
            .push(AnswerSpec::new(return_code(cat), Some(text)));
    }
    let mut manual_ids: HashMap<(Ipv4Addr, &str), u32> = HashMap::new();
    let manual = z.manual.iter().map(|(key, (code, reason))| {
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
    let auto = z
        .listed
        .iter()
        .map(|(key, cat)| (key, ids.get(cat.as_str()).copied().unwrap_or(0)));
    // A key listed both ways answers with both records (the dataset
    // builder merges duplicate keys).
    for (key, id) in auto.chain(manual) {
        let value = EntryValue::Listed(id);
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
