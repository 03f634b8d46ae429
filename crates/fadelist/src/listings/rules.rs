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
            let p = match &z.policy {
                Some(o) => config.policy.merged(o).to_policy(),
                None => default_policy.clone(),
            };
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
    /// the reason: its source IP (in the spam or the bulk zone), the IPs
    /// written as URL hosts and the advertised domains, less what may
    /// never be listed. A report about mail older than the policy allows
    /// counts against nothing.
    pub fn keys_for(
        &self,
        x: &Extraction,
        category: Category,
        stored_never: &[NeverEntry],
        now: i64,
    ) -> (Vec<KeyInput>, Vec<Rejection>) {
        let mut keys: Vec<KeyInput> = Vec::new();
        let mut rejected = Vec::new();
        let input = |zone: &str, key: &ListingKey| KeyInput {
            zone: zone.to_string(),
            key: key.to_string(),
            category: category.as_str().to_string(),
            policy: self.policy(zone).clone(),
        };
        let ip_zone = self.zone_for(if x.bulk.is_bulk {
            Feed::BulkIp
        } else {
            Feed::Ip
        });
        let too_old = ip_zone.is_some_and(|z| self.policy(z).too_old(x.date, now));
        if too_old {
            rejected.push(Rejection::new(
                None,
                "the reported mail is older than max_report_age; kept, but it counts for nothing",
            ));
        } else {
            match &x.source {
                Ok(src) => match (ip_zone, self.ip_never(src.ip, stored_never)) {
                    (_, Some(why)) => rejected.push(Rejection::new(Some(src.ip.to_string()), why)),
                    (None, None) => rejected.push(Rejection::new(
                        Some(src.ip.to_string()),
                        "no zone takes this feed",
                    )),
                    (Some(z), None) => keys.push(input(z, &ListingKey::for_ip(src.ip))),
                },
                Err(why) => rejected.push(Rejection::new(None, format!("no source IP: {why}"))),
            }
            let url_ip_zone = self.zone_for(Feed::Ip);
            for ip in &x.ip_literals {
                match (url_ip_zone, self.ip_never(*ip, stored_never)) {
                    (_, Some(why)) => rejected.push(Rejection::new(Some(ip.to_string()), why)),
                    (Some(z), None) => {
                        let k = input(z, &ListingKey::for_ip(*ip));
                        if !keys.iter().any(|x| x.zone == k.zone && x.key == k.key) {
                            keys.push(k);
                        }
                    }
                    (None, None) => {}
                }
            }
            let dom_zone = self.zone_for(Feed::Domain);
            for d in &x.domains {
                match (dom_zone, self.domain_never(&d.domain, stored_never)) {
                    (_, Some(why)) => rejected.push(Rejection::new(Some(d.domain.clone()), why)),
                    (Some(z), None) => keys.push(input(z, &ListingKey::Domain(d.domain.clone()))),
                    (None, None) => {}
                }
            }
        }
        for (d, why) in &x.skipped_domains {
            rejected.push(Rejection::new(Some(d.clone()), format!("{why:?}")));
        }
        (keys, rejected)
    }
}
