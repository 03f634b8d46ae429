//! What people type: the one parser for IPs and domains given by users
//! (lookup box, delisting form and API, admin API), for never-list
//! entries, and for reporters' settings (command line and admin API).
//!
//! A key is an IPv4 address, an IPv6 address (listed by its /64, so the
//! `/64` form is accepted too) or a host name, which stands for its
//! registered domain (`www.example.co.uk` → `example.co.uk`). A URL is
//! accepted for its host, since people paste links.

use std::net::IpAddr;

use fadelist_core::keys::ListingKey;
use ipnet::IpNet;

/// A key as a user gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserKey {
    /// The listing key: the IPv4 address, the IPv6 /64 or the registered
    /// domain.
    pub key: ListingKey,
    /// What resolvers ask for it, without the zone: the address as given,
    /// or the host name as given.
    pub asked: Asked,
}

/// The thing whose query name a lookup shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asked {
    /// An address.
    Ip(IpAddr),
    /// A host name (lower-case, no trailing dot).
    Host(String),
}

impl UserKey {
    /// `ipv4`, `ipv6` or `domain`.
    pub fn kind(&self) -> &'static str {
        match self.key {
            ListingKey::V4(_) => "ipv4",
            ListingKey::V6Net(_) => "ipv6",
            ListingKey::Domain(_) => "domain",
        }
    }
}

/// Why a text is not a key; the message is meant for the person who
/// typed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Reads a user-supplied IP or domain.
pub fn parse_key(q: &str) -> Result<UserKey, BadInput> {
    let q = q.trim();
    if q.is_empty() {
        return Err(BadInput(
            "Enter an IPv4 address, an IPv6 address or a domain name.".into(),
        ));
    }
    let bare = q.trim_matches(|c| c == '[' || c == ']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(UserKey {
            key: ListingKey::for_ip(ip),
            asked: Asked::Ip(ip),
        });
    }
    if let Some(net) = bare.strip_suffix("/64")
        && let Ok(ip @ IpAddr::V6(_)) = net.parse::<IpAddr>()
    {
        return Ok(UserKey {
            key: ListingKey::for_ip(ip),
            asked: Asked::Ip(ip),
        });
    }
    let lower = q.to_ascii_lowercase();
    let host = match lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
    {
        Some(rest) => rest.split(['/', '?', '#', ':']).next().unwrap_or(rest),
        None => lower.as_str(),
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    match fadelist_ingest::uris::registered_domain(host) {
        Ok(registered) => Ok(UserKey {
            key: ListingKey::Domain(registered),
            asked: Asked::Host(host.to_string()),
        }),
        Err(why) => Err(BadInput(format!(
            "{q:?} is neither an IP address nor a domain name ({why}); try e.g. 192.0.2.1, 2001:db8::1 or example.com"
        ))),
    }
}

/// A parsed never-list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Never {
    /// An address or network.
    Net(IpNet),
    /// A domain and its subdomains.
    Domain(String),
}

impl Never {
    /// The normalised text stored for the entry.
    pub fn text(&self) -> String {
        match self {
            Never::Net(n) => n.to_string(),
            Never::Domain(d) => d.clone(),
        }
    }
}

/// Reads a never-list entry: IP, CIDR or domain.
pub fn parse_never(e: &str) -> Result<Never, BadInput> {
    let e = e.trim();
    if let Ok(ip) = e.parse::<IpAddr>() {
        return Ok(Never::Net(IpNet::from(ip)));
    }
    if let Ok(n) = e.parse::<IpNet>() {
        return Ok(Never::Net(n.trunc()));
    }
    fadelist_core::snapshot::normalize_name(e)
        .filter(|d| d.contains('.'))
        .map(Never::Domain)
        .ok_or_else(|| BadInput(format!("{e:?} is not an IP address, CIDR or domain")))
}

/// A reporter's trusted networks as an operator gives them: each an IP
/// (its /32 or /128) or a CIDR network, returned as the normalised CIDR
/// text that is stored. A CIDR with host bits set (`10.0.0.1/8`) is
/// refused rather than truncated: the operator meant either the host or
/// the network, and only they know which (see
/// [`fadelist_store::parse_trusted`]).
pub fn parse_trusted(list: &[String]) -> Result<Vec<String>, BadInput> {
    list.iter()
        .map(|t| {
            fadelist_store::parse_trusted(t)
                .map(|n| n.to_string())
                .map_err(|e| BadInput(e.0))
        })
        .collect()
}

/// A reporter's weight: above 0, at most 100.
pub fn parse_weight(w: f64) -> Result<f64, BadInput> {
    if w > 0.0 && w <= 100.0 {
        Ok(w)
    } else {
        Err(BadInput(format!(
            "the weight must be above 0 and at most 100 (got {w})"
        )))
    }
}

/// A reporter's kind: `user` or `trap`.
pub fn parse_reporter_kind(k: &str) -> Result<fadelist_store::ReporterKind, BadInput> {
    match k.trim() {
        "user" => Ok(fadelist_store::ReporterKind::User),
        "trap" => Ok(fadelist_store::ReporterKind::Trap),
        other => Err(BadInput(format!(
            "the kind must be user or trap (got {other:?})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_people_type() {
        let key = |q: &str| parse_key(q).map(|k| (k.key.to_string(), k.kind()));
        assert_eq!(key("192.0.2.1"), Ok(("192.0.2.1".into(), "ipv4")));
        assert_eq!(key(" [2001:db8::1] "), Ok(("2001:db8::/64".into(), "ipv6")));
        assert_eq!(
            key("2001:db8:0:1::/64"),
            Ok(("2001:db8:0:1::/64".into(), "ipv6"))
        );
        assert_eq!(key("::ffff:192.0.2.7"), Ok(("192.0.2.7".into(), "ipv4")));
        assert_eq!(
            key("www.Example.co.uk."),
            Ok(("example.co.uk".into(), "domain"))
        );
        let url = parse_key("https://WWW.Example.co.uk:8080/path?x").unwrap();
        assert_eq!(url.key, ListingKey::Domain("example.co.uk".into()));
        assert_eq!(url.asked, Asked::Host("www.example.co.uk".into()));
        for bad in [
            "",
            "  ",
            "not a thing",
            "<script>",
            "co.uk",
            "192.0.2.0/64",
            "1.2.3.4/24",
        ] {
            assert!(parse_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn never_list_entries() {
        assert_eq!(parse_never("192.0.2.1").unwrap().text(), "192.0.2.1/32");
        assert_eq!(parse_never("192.0.2.77/24").unwrap().text(), "192.0.2.0/24");
        assert_eq!(parse_never("Gmail.COM.").unwrap().text(), "gmail.com");
        assert!(parse_never("localhost").is_err());
        assert!(parse_never("not an entry!").is_err());
    }

    #[test]
    fn reporter_settings() {
        let t = |v: &[&str]| parse_trusted(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            t(&["145.254.1.10", "2a02:1810:4d02::/48", "2a02:1810:4d02::25"]),
            Ok(vec![
                "145.254.1.10/32".to_string(),
                "2a02:1810:4d02::/48".to_string(),
                "2a02:1810:4d02::25/128".to_string()
            ])
        );
        assert!(
            t(&["192.0.2.1", "10.0.0.1/8"])
                .unwrap_err()
                .0
                .contains("host bits")
        );
        assert!(t(&["mx.example"]).is_err());
        assert_eq!(t(&[]), Ok(vec![]));
        assert!(parse_weight(1.0).is_ok() && parse_weight(100.0).is_ok());
        for bad in [0.0, -1.0, 100.5, f64::NAN] {
            assert!(parse_weight(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_reporter_kind("trap"),
            Ok(fadelist_store::ReporterKind::Trap)
        );
        assert!(parse_reporter_kind("robot").is_err());
    }
}
