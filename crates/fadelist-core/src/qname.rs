//! Query-name codec: the labels in front of a zone name → typed keys.
//!
//! DNSBL query names carry their key in reverse: `4.3.2.1.zone` asks about
//! `1.2.3.4`, and IPv6 is asked as 32 reversed nibbles, as in ip6.arpa.
//! The DNS front decodes a name once into a [`QueryKey`]; datasets never see
//! labels or wire bytes. Decoding never allocates.
//!
//! A name may have several readings: `1.2.3.4` is an IPv4 address, a prefix
//! of IPv6 nibbles and a domain name all at once, so each reading is kept
//! and a zone consults the ones its datasets understand. Fewer labels than
//! a full address decode to a *prefix* (the key range below that name),
//! used to answer empty non-terminals with NODATA instead of NXDOMAIN.

use std::net::{Ipv4Addr, Ipv6Addr};

/// What the labels say about IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V4Key {
    /// Four decimal labels: an address (host-order integer).
    Addr(u32),
    /// One to three decimal labels: every address in `lo..=hi`.
    Prefix {
        /// First address under the name.
        lo: u32,
        /// Last address under the name.
        hi: u32,
    },
}

/// What the labels say about IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V6Key {
    /// 32 nibble labels: an address.
    Addr(u128),
    /// One to 31 nibble labels: every address in `lo..=hi`.
    Prefix {
        /// First address under the name.
        lo: u128,
        /// Last address under the name.
        hi: u128,
    },
}

/// The decoded readings of the labels in front of a zone name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryKey {
    /// IPv4 reading, when the labels are 1–4 decimal octets.
    pub v4: Option<V4Key>,
    /// IPv6 reading, when the labels are 1–32 hex nibbles.
    pub v6: Option<V6Key>,
}

/// Parses a decimal octet label: 1–3 ASCII digits, value ≤ 255, no
/// leading zero (so that each address has exactly one query name).
#[inline]
fn octet(label: &[u8]) -> Option<u32> {
    match label {
        [] => None,
        [b'0'] => Some(0),
        [b'0', ..] => None,
        l if l.len() <= 3 && l.iter().all(u8::is_ascii_digit) => {
            let v = l
                .iter()
                .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
            (v <= 255).then_some(v)
        }
        _ => None,
    }
}

/// Parses a single-hex-digit label, either case.
#[inline]
fn nibble(label: &[u8]) -> Option<u128> {
    match label {
        [c] => (*c as char).to_digit(16).map(u128::from),
        _ => None,
    }
}

/// Decodes the IPv4 reading of `labels` (leftmost first, zone removed).
pub fn decode_v4(labels: &[&[u8]]) -> Option<V4Key> {
    if labels.is_empty() || labels.len() > 4 {
        return None;
    }
    // Labels are reversed: the rightmost label is the first octet.
    let mut addr = 0u32;
    for label in labels.iter().rev() {
        addr = (addr << 8) | octet(label)?;
    }
    let missing = 8 * (4 - labels.len() as u32);
    if missing == 0 {
        return Some(V4Key::Addr(addr));
    }
    let lo = addr << missing;
    Some(V4Key::Prefix {
        lo,
        hi: lo | (u32::MAX >> (32 - missing)),
    })
}

/// Decodes the IPv6 reading of `labels` (leftmost first, zone removed).
pub fn decode_v6(labels: &[&[u8]]) -> Option<V6Key> {
    if labels.is_empty() || labels.len() > 32 {
        return None;
    }
    let mut addr = 0u128;
    for label in labels.iter().rev() {
        addr = (addr << 4) | nibble(label)?;
    }
    let missing = 4 * (32 - labels.len() as u32);
    if missing == 0 {
        return Some(V6Key::Addr(addr));
    }
    let lo = addr << missing;
    Some(V6Key::Prefix {
        lo,
        hi: lo | (u128::MAX >> (128 - missing)),
    })
}

/// Decodes every reading of `labels`.
pub fn decode(labels: &[&[u8]]) -> QueryKey {
    QueryKey {
        v4: decode_v4(labels),
        v6: decode_v6(labels),
    }
}

/// The IPv4 address embedded in an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`), which DNSBL clients use to ask IPv4 lists over
/// IPv6 query names.
#[inline]
pub fn mapped_v4(ip: u128) -> Option<u32> {
    (ip >> 32 == 0xffff).then_some(ip as u32)
}

/// The IPv4 range covered by the IPv6 range `lo..=hi`, where it overlaps
/// `::ffff:0:0/96`.
pub fn mapped_v4_range(lo: u128, hi: u128) -> Option<(u32, u32)> {
    const FIRST: u128 = 0xffff_0000_0000;
    const LAST: u128 = 0xffff_ffff_ffff;
    if hi < FIRST || lo > LAST {
        return None;
    }
    Some((lo.max(FIRST) as u32, hi.min(LAST) as u32))
}

/// The query name that asks about `ip` (without the zone).
pub fn v4_query_name(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
}

/// The query name that asks about `ip` (32 nibbles, without the zone).
pub fn v6_query_name(ip: Ipv6Addr) -> String {
    let v = u128::from(ip);
    let mut s = String::with_capacity(64);
    for i in 0..32 {
        let n = (v >> (4 * i)) & 0xf;
        if i > 0 {
            s.push('.');
        }
        s.push(char::from_digit(n as u32, 16).unwrap_or('0'));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> Vec<&[u8]> {
        if name.is_empty() {
            return vec![];
        }
        name.split('.').map(str::as_bytes).collect()
    }

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn ipv4_addresses_and_prefixes() {
        assert_eq!(
            decode_v4(&labels("4.3.2.1")),
            Some(V4Key::Addr(v4("1.2.3.4")))
        );
        assert_eq!(
            decode_v4(&labels("2.0.0.127")),
            Some(V4Key::Addr(v4("127.0.0.2")))
        );
        assert_eq!(
            decode_v4(&labels("255.255.255.255")),
            Some(V4Key::Addr(u32::MAX))
        );
        assert_eq!(
            decode_v4(&labels("0.0.127")),
            Some(V4Key::Prefix {
                lo: v4("127.0.0.0"),
                hi: v4("127.0.0.255")
            })
        );
        assert_eq!(
            decode_v4(&labels("10")),
            Some(V4Key::Prefix {
                lo: v4("10.0.0.0"),
                hi: v4("10.255.255.255")
            })
        );
    }

    #[test]
    fn ipv4_rejects() {
        for bad in [
            "",
            "1.2.3.4.5",
            "256.1.1.1",
            "01.2.3.4",
            "a.2.3.4",
            "1..3.4",
            "1.2.3.-4",
            "1234.1.1.1",
            "+1.2.3.4",
        ] {
            assert_eq!(decode_v4(&labels(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn ipv6_nibbles_case_and_prefixes() {
        let ip: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let name = v6_query_name(ip);
        assert_eq!(
            name,
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
        );
        assert_eq!(decode_v6(&labels(&name)), Some(V6Key::Addr(u128::from(ip))));
        let upper = name.to_ascii_uppercase();
        assert_eq!(
            decode_v6(&labels(&upper)),
            Some(V6Key::Addr(u128::from(ip)))
        );
        let prefix = "8.b.d.0.1.0.0.2";
        let lo = u128::from("2001:db8::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            decode_v6(&labels(prefix)),
            Some(V6Key::Prefix {
                lo,
                hi: lo | (u128::MAX >> 32)
            })
        );
    }

    #[test]
    fn ipv6_rejects() {
        let too_many = vec!["0"; 33].join(".");
        for bad in [too_many.as_str(), "g.0", "10.0", "", "0..0"] {
            assert_eq!(decode_v6(&labels(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn ambiguous_names_keep_both_readings() {
        let k = decode(&labels("1.2.3.4"));
        assert_eq!(k.v4, Some(V4Key::Addr(v4("4.3.2.1"))));
        assert!(matches!(k.v6, Some(V6Key::Prefix { .. })));
        let k = decode(&labels("example.com"));
        assert_eq!(k, QueryKey { v4: None, v6: None });
    }

    #[test]
    fn mapped_addresses() {
        let m = u128::from("::ffff:127.0.0.2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(mapped_v4(m), Some(v4("127.0.0.2")));
        assert_eq!(
            mapped_v4(u128::from("2001:db8::7f00:2".parse::<Ipv6Addr>().unwrap())),
            None
        );
        assert_eq!(mapped_v4_range(0, u128::MAX), Some((0, u32::MAX)));
        assert_eq!(
            mapped_v4_range(m, m),
            Some((v4("127.0.0.2"), v4("127.0.0.2")))
        );
        assert_eq!(mapped_v4_range(1 << 100, u128::MAX), None);
        assert_eq!(v4_query_name(Ipv4Addr::new(1, 2, 3, 4)), "4.3.2.1");
    }
}
