//! The listing rules taken from the configuration: which zone takes which
//! feed, each zone's policy, what may never be listed, and so which keys
//! a report counts against.
//!
//! Pure: no I/O, no clock. The service runs [`Rules::keys_for`] on the
//! store thread with the never-list read in the same transaction.

use std::collections::HashMap;
use std::net::IpAddr;

use fadelist_core::keys::{Category, ListingKey};
use fadelist_core::names::ZoneName;
use fadelist_core::policy::Policy;
use fadelist_ingest::Extraction;
use fadelist_store::{KeyInput, NeverEntry};
use ipnet::IpNet;
use serde::Serialize;

use crate::config::{Config, Feed};
use crate::input::{Never, parse_never};

/// The rules of the configured report-fed zones.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Report-fed zones and what they take.
    feeds: Vec<(ZoneName, Feed)>,
    default_policy: Policy,
    policies: HashMap<ZoneName, Policy>,
    never_nets: Vec<IpNet>,
    never_domains: Vec<String>,
}

/// A key a report did not count against, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The key, when there is one.
    pub key: Option<String>,
    /// Why.
    pub reason: String,
}

impl Rejection {
    fn new(key: Option<String>, reason: impl Into<String>) -> Self {
        Rejection {
            key,
            reason: reason.into(),
        }
    }
}

impl Rules {
    /// The rules of `config` (already validated).
    pub fn new(config: &Config) -> anyhow::Result<Rules> {
        let default_policy = config.policy.to_policy();
        let mut feeds = Vec::new();
        let mut policies = HashMap::new();
        for z in &config.zones {
            let name = z.name.clone();
            if let Some(f) = z.feed {
                feeds.push((name.clone(), f));
            }
            let mut p = match &z.policy {
                Some(o) => config.policy.merged(o).to_policy(),
                None => default_policy.clone(),
            };
            // Content keys (the domain feed) need reports from several
            // networks: the joe-job defence (see Policy::min_source_networks).
            p.min_source_networks = z
                .policy
                .as_ref()
                .and_then(|o| o.min_source_networks)
                .unwrap_or(if z.feed == Some(Feed::Domain) {
                    config.policy.content_min_source_networks
                } else {
                    1
                });
            policies.insert(name, p);
        }
        let mut never_nets = Vec::new();
        let mut never_domains = Vec::new();
        for e in &config.ingest.never_list {
            match parse_never(e) {
                Ok(Never::Net(n)) => never_nets.push(n),
                Ok(Never::Domain(d)) => never_domains.push(d),
                Err(_) => anyhow::bail!("ingest.never_list: {e:?} is not an IP, CIDR or domain"),
            }
        }
        Ok(Rules {
            feeds,
            default_policy,
            policies,
            never_nets,
            never_domains,
        })
    }

    /// The policy of `zone`.
    pub fn policy(&self, zone: &str) -> &Policy {
        self.policies.get(zone).unwrap_or(&self.default_policy)
    }

    /// The `[policy]` table's policy, before any zone's overrides.
    pub fn default_policy(&self) -> &Policy {
        &self.default_policy
    }

    /// The zone taking `feed`, if one is configured.
    pub fn zone_for(&self, feed: Feed) -> Option<&str> {
        self.feeds
            .iter()
            .find(|(_, f)| *f == feed)
            .map(|(z, _)| z.as_str())
    }

    /// The feed `zone` takes, if it is report-fed.
    pub fn feed_of(&self, zone: &str) -> Option<Feed> {
        self.feeds
            .iter()
            .find(|(z, _)| z.as_str() == zone)
            .map(|(_, f)| *f)
    }

    /// The report-fed zone named `zone` (any spelling), if there is one.
    pub fn feed_zone(&self, zone: &str) -> Option<&ZoneName> {
        let wanted = ZoneName::parse(zone)?;
        self.feeds.iter().map(|(z, _)| z).find(|z| **z == wanted)
    }

    /// The report-fed zones.
    pub fn feed_zones(&self) -> Vec<String> {
        self.feeds.iter().map(|(z, _)| z.to_string()).collect()
    }

    /// Domains of the configuration's never-list (the mail parser skips
    /// them while extracting).
    pub fn never_domains(&self) -> &[String] {
        &self.never_domains
    }

    /// Why `ip` may never be listed, if it may not (special-purpose
    /// ranges, the configured and the stored never-list).
    pub fn ip_never(&self, ip: IpAddr, stored: &[NeverEntry]) -> Option<String> {
        if let Some(why) = fadelist_ingest::special::special_purpose(ip) {
            return Some(format!("special-purpose address ({why})"));
        }
        if let Some(p) = fadelist_ingest::protected::protected_ip(ip) {
            return Some(p.reason());
        }
        if self.never_nets.iter().any(|n| n.contains(&ip)) {
            return Some("on the operator's never-list (configuration)".into());
        }
        stored.iter().find_map(|e| match parse_never(&e.entry) {
            Ok(Never::Net(n)) if n.contains(&ip) => {
                Some(format!("on the never-list: {}", e.reason))
            }
            _ => None,
        })
    }

    /// Why `domain` may never be listed, if it may not (the built-in list
    /// of big providers, the configured and the stored never-list).
    pub fn domain_never(&self, domain: &str, stored: &[NeverEntry]) -> Option<String> {
        let covered = |d: &str| {
            domain == d
                || domain
                    .strip_suffix(d)
                    .is_some_and(|rest| rest.ends_with('.'))
        };
        if fadelist_ingest::uris::BUILTIN_NEVER_LIST.contains(&domain) {
            return Some("a big mailbox or web provider: never listed".into());
        }
        if let Some(p) = fadelist_ingest::protected::protected_domain(domain) {
            return Some(p.reason());
        }
        if self.never_domains.iter().any(|d| covered(d)) {
            return Some("on the operator's never-list (configuration)".into());
        }
        stored.iter().find_map(|e| match parse_never(&e.entry) {
            Ok(Never::Domain(d)) if covered(&d) => Some(format!("on the never-list: {}", e.reason)),
            _ => None,
        })
    }

    /// Why `key` may never be listed, if it may not.
    pub fn key_never(
        &self,
        key: &ListingKey,
        asked: Option<IpAddr>,
        stored: &[NeverEntry],
    ) -> Option<String> {
        match key {
            ListingKey::Domain(d) => self.domain_never(d, stored),
            ListingKey::V4(v4) => self.ip_never(asked.unwrap_or(IpAddr::V4(*v4)), stored),
            ListingKey::V6Net(n) => self.ip_never(
                asked.unwrap_or_else(|| IpAddr::V6((u128::from(*n) << 64).into())),
                stored,
            ),
        }
    }

    /// The keys a report counts against, and the ones it does not with
    /// the reason (see [`ReportFacts`] for who decides what):
    /// - its **source IP**, in the bulk zone when the report is bulk (see
    ///   [`Rules::routes_to_bulk`]) and a zone takes that feed, else in the
    ///   spam zone;
    /// - its **content keys** in the zone of the `domain` feed: the
    ///   advertised registered domains, and the addresses written as URL
    ///   hosts, served as reversed IPv4 and (by their /64, like every IPv6
    ///   key) IPv6 nibbles, the names URI-DNSBL clients ask (see
    ///   `docs/uri-ip-queries.md`). A URL IP is content, never a source.
    ///   Newsletters count against their source only;
    /// - less what may never be listed.
    ///
    /// A report about mail the reporter received longer than
    /// `max_report_age` ago counts against nothing. The receipt time is
    /// the reporter's own (its topmost `Received` field or ARF
    /// `Arrival-Date`), else the report's arrival; the sender's `Date:`
    /// never decides, and a time in the future counts as now.
    pub fn keys_for(
        &self,
        x: &Extraction,
        facts: ReportFacts,
        stored_never: &[NeverEntry],
    ) -> (Vec<KeyInput>, Vec<Rejection>) {
        let ReportFacts {
            category,
            trap,
            now,
        } = facts;
        let mut keys: Vec<KeyInput> = Vec::new();
        let mut rejected = Vec::new();
        let input = |zone: &str, key: &ListingKey| KeyInput {
            zone: zone.to_string(),
            key: key.to_string(),
            category: category.as_str().to_string(),
            policy: self.policy(zone).clone(),
        };
        let spam_zone = self.zone_for(Feed::Ip);
        let ip_zone = if self.routes_to_bulk(x, category, trap) {
            // With no bulk zone, a bulk source is still a source.
            self.zone_for(Feed::BulkIp).or(spam_zone)
        } else {
            spam_zone
        };
        let content_zone = self.zone_for(Feed::Domain);
        let received = x.received_at.map_or(now, |t| t.min(now));
        let too_old = [ip_zone, content_zone]
            .into_iter()
            .flatten()
            .any(|z| self.policy(z).too_old(Some(received), now));
        if too_old {
            rejected.push(Rejection::new(
                None,
                format!(
                    "the reporter received this mail at {received} (unix time), longer than \
                     max_report_age ago; kept, but it counts for nothing"
                ),
            ));
            return (keys, rejected);
        }
        match &x.source {
            Ok(src) => match (ip_zone, self.ip_never(src.ip, stored_never)) {
                (_, Some(why)) => rejected.push(Rejection::new(Some(src.ip.to_string()), why)),
                (None, None) => rejected.push(Rejection::new(
                    Some(src.ip.to_string()),
                    "no zone takes source addresses",
                )),
                (Some(z), None) => keys.push(input(z, &ListingKey::for_ip(src.ip))),
            },
            Err(why) => rejected.push(Rejection::new(None, format!("no source IP: {why}"))),
        }
        if category == Category::Newsletter {
            if !x.domains.is_empty() || !x.ip_literals.is_empty() {
                rejected.push(Rejection::new(
                    None,
                    "a newsletter counts against its source only: its links are not listed",
                ));
            }
        } else {
            for ip in &x.ip_literals {
                let key = ListingKey::for_ip(*ip);
                match (content_zone, self.ip_never(*ip, stored_never)) {
                    (_, Some(why)) => rejected.push(Rejection::new(Some(ip.to_string()), why)),
                    (Some(z), None) => {
                        let k = input(z, &key);
                        if !keys.iter().any(|x| x.zone == k.zone && x.key == k.key) {
                            keys.push(k);
                        }
                    }
                    (None, None) => {}
                }
            }
            for d in &x.domains {
                match (content_zone, self.domain_never(&d.domain, stored_never)) {
                    (_, Some(why)) => rejected.push(Rejection::new(Some(d.domain.clone()), why)),
                    (Some(z), None) => keys.push(input(z, &ListingKey::Domain(d.domain.clone()))),
                    (None, None) => {}
                }
            }
        }
        for (d, why) in &x.skipped_domains {
            rejected.push(Rejection::new(Some(d.clone()), why.to_string()));
        }
        (keys, rejected)
    }

    /// Whether a report's source goes to the bulk feed: always for a
    /// declared newsletter; never for a spam trap (a trap subscribed to
    /// nothing, so bulk-looking mail there is spam, whatever its headers
    /// say); for other reporters when the mail carries a bulk signal
    /// (`List-Unsubscribe`, `List-Id`, `Precedence: bulk`, an ESP
    /// fingerprint; see `fadelist_ingest::bulk`). Those headers are the
    /// sender's word: a spammer who adds them moves its source from the
    /// spam zone to the bulk zone (still listed), never out of the list.
    pub fn routes_to_bulk(&self, x: &Extraction, category: Category, trap: bool) -> bool {
        match category {
            Category::Newsletter => true,
            _ if trap => false,
            _ => x.bulk.is_bulk,
        }
    }
}

/// What the server knows about a report besides its mail.
#[derive(Debug, Clone, Copy)]
pub struct ReportFacts {
    /// What the reporter says it is.
    pub category: Category,
    /// Sent by a spam trap (`--kind trap`).
    pub trap: bool,
    /// When the report arrived, unix seconds.
    pub now: i64,
}
