//! Listing keys: what a report-fed zone lists.
//!
//! IPv4 addresses are listed one by one; IPv6 sources are listed by /64
//! (one customer network: a spammer controls all of it, and listing single
//! /128s would be trivially evaded); domains are registered domains and
//! cover their subdomains. The text form is the key in the store and in
//! the API (`192.0.2.1`, `2001:db8:1:2::/64`, `example.com`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A key of a report-fed zone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListingKey {
    /// One IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 /64, by its upper 64 bits.
    V6Net(u64),
    /// A registered domain (lower-case, A-labels, no trailing dot).
    Domain(String),
}

impl ListingKey {
    /// The key for a source address: the address for IPv4, the /64 for
    /// IPv6 (IPv4-mapped addresses are treated as IPv4).
    pub fn for_ip(ip: IpAddr) -> ListingKey {
        match ip {
            IpAddr::V4(v4) => ListingKey::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ListingKey::V4(v4),
                None => ListingKey::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }

    /// True for IP keys.
    pub fn is_ip(&self) -> bool {
        !matches!(self, ListingKey::Domain(_))
    }
}

impl fmt::Display for ListingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListingKey::V4(ip) => write!(f, "{ip}"),
            ListingKey::V6Net(n) => write!(f, "{}/64", Ipv6Addr::from(u128::from(*n) << 64)),
            ListingKey::Domain(d) => f.write_str(d),
        }
    }
}

/// Why a text is not a listing key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IPv4 address, an IPv6 address or /64, or a domain name")]
pub struct BadKey(pub String);

impl FromStr for ListingKey {
    type Err = BadKey;

    fn from_str(s: &str) -> Result<Self, BadKey> {
        let t = s.trim();
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(ListingKey::for_ip(ip));
        }
        if let Some(net) = t.strip_suffix("/64")
            && let Ok(v6) = net.parse::<Ipv6Addr>()
        {
            return Ok(ListingKey::for_ip(IpAddr::V6(v6)));
        }
        crate::snapshot::normalize_name(t)
            .filter(|n| n.contains('.') || n == "test")
            .map(ListingKey::Domain)
            .ok_or_else(|| BadKey(s.to_string()))
    }
}

/// What a report-fed listing is for; each has a stable return code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Spam: `127.0.0.2`.
    Spam,
    /// Phishing: `127.0.0.3`.
    Phishing,
    /// Malware: `127.0.0.4`.
    Malware,
    /// Unwanted bulk mail from a sender the reporter declares a
    /// newsletter (`category=newsletter`): `127.0.0.5`. Lists the source
    /// in the bulk zone only; its links are not counted.
    Newsletter,
}

impl Category {
    /// Every category, in return-code order.
    pub const ALL: [Category; 4] = [
        Category::Spam,
        Category::Phishing,
        Category::Malware,
        Category::Newsletter,
    ];

    /// The name used in the API, the store and TXT answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Spam => "spam",
            Category::Phishing => "phishing",
            Category::Malware => "malware",
            Category::Newsletter => "newsletter",
        }
    }

    /// The category named `s` (exactly, lower-case).
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The A value answered for listings of this category.
    pub fn return_code(self) -> Ipv4Addr {
        let last = match self {
            Category::Spam => 2,
            Category::Phishing => 3,
            Category::Malware => 4,
            Category::Newsletter => 5,
        };
        Ipv4Addr::new(127, 0, 0, last)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip() {
        for (text, norm) in [
            ("192.0.2.1", "192.0.2.1"),
            ("2001:db8:1:2::99", "2001:db8:1:2::/64"),
            ("2001:db8:1:2::/64", "2001:db8:1:2::/64"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("Example.COM.", "example.com"),
        ] {
            let k: ListingKey = text.parse().unwrap();
            assert_eq!(k.to_string(), norm);
            assert_eq!(norm.parse::<ListingKey>().unwrap(), k);
        }
        for bad in ["", "not a domain", "1.2.3.4/24", "x", "2001:db8::/48"] {
            assert!(bad.parse::<ListingKey>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn categories_have_stable_codes() {
        let codes: Vec<(&str, Ipv4Addr)> = Category::ALL
            .iter()
            .map(|c| (c.as_str(), c.return_code()))
            .collect();
        assert_eq!(
            codes,
            [
                ("spam", Ipv4Addr::new(127, 0, 0, 2)),
                ("phishing", Ipv4Addr::new(127, 0, 0, 3)),
                ("malware", Ipv4Addr::new(127, 0, 0, 4)),
                ("newsletter", Ipv4Addr::new(127, 0, 0, 5)),
            ]
        );
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
        assert_eq!(Category::parse("Spam"), None);
        assert_eq!(Category::parse("bulk"), None);
    }
}
