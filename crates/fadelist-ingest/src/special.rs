//! Special-purpose IP addresses: the ones a DNSBL must never list.
//!
//! The tables follow the IANA IPv4 and IPv6 Special-Purpose Address
//! Registries (RFC 6890 and its updates) as summarised in the field notes
//! (`dnsbl-field-notes.md` section 5.8), plus the rest of the IPv6 space that
//! is not global unicast. Addresses that *embed* an IPv4 address
//! (IPv4-mapped `::ffff:0:0/96`, the NAT64 well-known prefix `64:ff9b::/96`
//! and 6to4 `2002::/16`) are judged by the embedded IPv4 address, because
//! that is the host that actually connected.
//!
//! Some registry entries are marked "globally reachable" by IANA (for
//! example a few anycast services inside `192.0.0.0/24` and `2001::/23`);
//! none of them sends mail, so the whole blocks are treated as special.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Returns why `ip` is a special-purpose address, or `None` for an ordinary
/// public (globally routable unicast) address.
///
/// IPv6 addresses that embed an IPv4 address (see [`embedded_ipv4`]) are
/// judged by that IPv4 address, so `::ffff:127.0.0.2` is loopback and
/// `64:ff9b::5102:458e` (NAT64 of 81.2.69.142) is public.
#[must_use]
pub fn special_purpose(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => special_v4(v4),
            None => special_v6(v6),
        },
    }
}

/// Returns the IPv4 address embedded in an IPv6 address that carries one by
/// construction:
///
/// - IPv4-mapped `::ffff:0:0/96` (RFC 4291 section 2.5.5.2): the low 32 bits;
/// - NAT64 well-known prefix `64:ff9b::/96` (RFC 6052 section 2.1): the low
///   32 bits;
/// - 6to4 `2002::/16` (RFC 3056 section 2): bits 16..48.
///
/// The NAT64 local-use prefix `64:ff9b:1::/48` (RFC 8215) is *not* mapped:
/// where the IPv4 address sits depends on the operator's prefix length.
#[must_use]
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low32 = || Ipv4Addr::new(oct(s[6] >> 8), oct(s[6]), oct(s[7] >> 8), oct(s[7]));
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        return Some(low32());
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low32());
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            oct(s[1] >> 8),
            oct(s[1]),
            oct(s[2] >> 8),
            oct(s[2]),
        ));
    }
    None
}

/// The address to score for `ip`: the embedded IPv4 address when there is
/// one (see [`embedded_ipv4`]), otherwise `ip` itself.
#[must_use]
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Low byte of a segment; `as` truncation is the intent here.
fn oct(x: u16) -> u8 {
    (x & 0xff) as u8
}

/// `(network, prefix length, reason)`, most specific first where ranges
/// nest (the limited broadcast address sits inside 240.0.0.0/4).
const V4: &[([u8; 4], u8, &str)] = &[
    (
        [255, 255, 255, 255],
        32,
        "limited broadcast (RFC 919, RFC 8190)",
    ),
    ([0, 0, 0, 0], 8, "\"this network\" (RFC 791, RFC 1122)"),
    ([10, 0, 0, 0], 8, "private-use (RFC 1918)"),
    (
        [100, 64, 0, 0],
        10,
        "shared address space / CGNAT (RFC 6598)",
    ),
    ([127, 0, 0, 0], 8, "loopback (RFC 1122)"),
    ([169, 254, 0, 0], 16, "link-local (RFC 3927)"),
    ([172, 16, 0, 0], 12, "private-use (RFC 1918)"),
    ([192, 0, 0, 0], 24, "IETF protocol assignments (RFC 6890)"),
    ([192, 0, 2, 0], 24, "documentation TEST-NET-1 (RFC 5737)"),
    (
        [192, 88, 99, 0],
        24,
        "6to4 relay anycast, deprecated (RFC 7526)",
    ),
    ([192, 168, 0, 0], 16, "private-use (RFC 1918)"),
    ([198, 18, 0, 0], 15, "benchmarking (RFC 2544)"),
    ([198, 51, 100, 0], 24, "documentation TEST-NET-2 (RFC 5737)"),
    ([203, 0, 113, 0], 24, "documentation TEST-NET-3 (RFC 5737)"),
    ([224, 0, 0, 0], 4, "multicast (RFC 5771)"),
    ([240, 0, 0, 0], 4, "reserved for future use (RFC 1112)"),
];

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let addr = u32::from(ip);
    V4.iter()
        .find(|(net, len, _)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
            addr & mask == u32::from_be_bytes(*net)
        })
        .map(|(_, _, reason)| *reason)
}

/// IPv6 ranges, most specific first. The mapped prefixes (`::ffff:0:0/96`,
/// `64:ff9b::/96`, `2002::/16`) never reach this table: [`special_purpose`]
/// handles them through [`embedded_ipv4`].
const V6: &[(u128, u8, &str)] = &[
    (0, 128, "unspecified (RFC 4291)"),
    (1, 128, "loopback (RFC 4291)"),
    (
        0x0064_ff9b_0001_0000_0000_0000_0000_0000,
        48,
        "NAT64 local-use prefix (RFC 8215)",
    ),
    (
        0x0100_0000_0000_0000_0000_0000_0000_0000,
        64,
        "discard-only (RFC 6666)",
    ),
    (
        0x2001_0000_0000_0000_0000_0000_0000_0000,
        32,
        "Teredo (RFC 4380)",
    ),
    (
        0x2001_0002_0000_0000_0000_0000_0000_0000,
        48,
        "benchmarking (RFC 5180)",
    ),
    (
        0x2001_0010_0000_0000_0000_0000_0000_0000,
        28,
        "ORCHID, deprecated (RFC 4843)",
    ),
    (
        0x2001_0020_0000_0000_0000_0000_0000_0000,
        28,
        "ORCHIDv2 (RFC 7343)",
    ),
    (
        0x2001_0000_0000_0000_0000_0000_0000_0000,
        23,
        "IETF protocol assignments (RFC 2928)",
    ),
    (
        0x2001_0db8_0000_0000_0000_0000_0000_0000,
        32,
        "documentation (RFC 3849)",
    ),
    (
        0x3fff_0000_0000_0000_0000_0000_0000_0000,
        20,
        "documentation (RFC 9637)",
    ),
    (
        0x5f00_0000_0000_0000_0000_0000_0000_0000,
        16,
        "SRv6 SIDs (RFC 9602)",
    ),
    (
        0xfc00_0000_0000_0000_0000_0000_0000_0000,
        7,
        "unique local (RFC 4193)",
    ),
    (
        0xfe80_0000_0000_0000_0000_0000_0000_0000,
        10,
        "link-local (RFC 4291)",
    ),
    (
        0xfec0_0000_0000_0000_0000_0000_0000_0000,
        10,
        "site-local, deprecated (RFC 3879)",
    ),
    (
        0xff00_0000_0000_0000_0000_0000_0000_0000,
        8,
        "multicast (RFC 4291)",
    ),
];

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let addr = u128::from(ip);
    let hit = V6.iter().find(|(net, len, _)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(*len)).unwrap_or(0);
        addr & mask == *net
    });
    if let Some((_, _, reason)) = hit {
        return Some(reason);
    }
    // Everything outside 2000::/3 is reserved, unassigned or one of the
    // ranges above (RFC 4291 section 2.4); no mail server lives there.
    if addr >> 125 != 0b001 {
        return Some("not global unicast (outside 2000::/3, RFC 4291)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Option<&'static str> {
        special_purpose(s.parse().unwrap())
    }

    #[test]
    fn ipv4_range_edges() {
        // (first, last, the addresses just outside) for every range.
        let cases: &[(&str, &str, &[&str])] = &[
            ("0.0.0.0", "0.255.255.255", &["1.0.0.0"]),
            ("10.0.0.0", "10.255.255.255", &["9.255.255.255", "11.0.0.0"]),
            (
                "100.64.0.0",
                "100.127.255.255",
                &["100.63.255.255", "100.128.0.0"],
            ),
            (
                "127.0.0.0",
                "127.255.255.255",
                &["126.255.255.255", "128.0.0.0"],
            ),
            (
                "169.254.0.0",
                "169.254.255.255",
                &["169.253.255.255", "169.255.0.0"],
            ),
            (
                "172.16.0.0",
                "172.31.255.255",
                &["172.15.255.255", "172.32.0.0"],
            ),
            (
                "192.0.0.0",
                "192.0.0.255",
                &["191.255.255.255", "192.0.1.0"],
            ),
            ("192.0.2.0", "192.0.2.255", &["192.0.1.255", "192.0.3.0"]),
            (
                "192.88.99.0",
                "192.88.99.255",
                &["192.88.98.255", "192.88.100.0"],
            ),
            (
                "192.168.0.0",
                "192.168.255.255",
                &["192.167.255.255", "192.169.0.0"],
            ),
            (
                "198.18.0.0",
                "198.19.255.255",
                &["198.17.255.255", "198.20.0.0"],
            ),
            (
                "198.51.100.0",
                "198.51.100.255",
                &["198.51.99.255", "198.51.101.0"],
            ),
            (
                "203.0.113.0",
                "203.0.113.255",
                &["203.0.112.255", "203.0.114.0"],
            ),
            ("224.0.0.0", "239.255.255.255", &["223.255.255.255"]),
            ("240.0.0.0", "255.255.255.254", &[]),
        ];
        for (first, last, outside) in cases {
            assert!(v4(first).is_some(), "{first} should be special");
            assert!(v4(last).is_some(), "{last} should be special");
            for o in *outside {
                assert_eq!(v4(o), None, "{o} should be public");
            }
        }
        assert_eq!(
            v4("255.255.255.255"),
            Some("limited broadcast (RFC 919, RFC 8190)")
        );
        assert_eq!(v4("10.1.2.3"), Some("private-use (RFC 1918)"));
        assert_eq!(v4("81.2.69.142"), None);
        assert_eq!(v4("89.160.20.112"), None);
        assert_eq!(v4("8.8.8.8"), None);
    }

    #[test]
    fn ipv6_range_edges() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("::", "::", &[]),
            ("::1", "::1", &[]),
            ("64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", &[]),
            ("100::", "100::ffff:ffff:ffff:ffff", &[]),
            (
                "2001::",
                "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
                &["2001:200::", "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
            ),
            ("2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff", &[]),
            (
                "2001:db8::",
                "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
                &["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"],
            ),
            (
                "3fff::",
                "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
                &["3fff:1000::", "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
            ),
            ("5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &[]),
            ("fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &[]),
            ("fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &[]),
            ("fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &[]),
            ("ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &[]),
        ];
        for (first, last, outside) in cases {
            assert!(v4(first).is_some(), "{first} should be special");
            assert!(v4(last).is_some(), "{last} should be special");
            for o in *outside {
                assert_eq!(v4(o), None, "{o} should be public");
            }
        }
        assert_eq!(v4("2001:db8::1"), Some("documentation (RFC 3849)"));
        assert_eq!(v4("2001:2::1"), Some("benchmarking (RFC 5180)"));
        assert_eq!(v4("2001::1"), Some("Teredo (RFC 4380)"));
        assert_eq!(
            v4("2001:100::1"),
            Some("IETF protocol assignments (RFC 2928)")
        );
        // Global unicast, ordinary.
        assert_eq!(v4("2a02:1810::1"), None);
        assert_eq!(v4("2001:4860:4860::8888"), None);
        assert_eq!(v4("2000::"), None);
        assert_eq!(v4("3fff:1000::1"), None);
        // Outside 2000::/3.
        assert!(v4("4000::1").is_some());
        assert!(v4("1fff:ffff::1").is_some());
        assert!(v4("::1:2:3:4").is_some());
    }

    #[test]
    fn embedded_ipv4_forms() {
        let e = |s: &str| embedded_ipv4(s.parse().unwrap());
        assert_eq!(e("::ffff:81.2.69.142"), Some(Ipv4Addr::new(81, 2, 69, 142)));
        assert_eq!(e("64:ff9b::5102:458e"), Some(Ipv4Addr::new(81, 2, 69, 142)));
        assert_eq!(e("2002:5102:458e::1"), Some(Ipv4Addr::new(81, 2, 69, 142)));
        assert_eq!(e("64:ff9b:1::5102:458e"), None);
        assert_eq!(e("2a02:1810::1"), None);
        assert_eq!(e("::1"), None);
        // The RFC 5782 test entries live in the mapped space.
        assert_eq!(v4("::ffff:7f00:2"), Some("loopback (RFC 1122)"));
        assert_eq!(v4("::ffff:10.0.0.1"), Some("private-use (RFC 1918)"));
        assert_eq!(v4("::ffff:81.2.69.142"), None);
        // 6to4 and NAT64 are judged by the embedded address.
        assert_eq!(v4("2002:0a00:0001::1"), Some("private-use (RFC 1918)"));
        assert_eq!(v4("2002:5102:458e::1"), None);
        assert_eq!(v4("64:ff9b::c0a8:0101"), Some("private-use (RFC 1918)"));
        assert_eq!(v4("64:ff9b::5102:458e"), None);
        assert_eq!(
            canonical("::ffff:81.2.69.142".parse().unwrap()),
            "81.2.69.142".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            canonical("2a02:1810::1".parse().unwrap()),
            "2a02:1810::1".parse::<IpAddr>().unwrap()
        );
    }
}
