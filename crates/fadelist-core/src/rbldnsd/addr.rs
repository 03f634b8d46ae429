//! Address syntax of rbldnsd's IP datasets: IPv4 prefixes, CIDRs and
//! ranges, IPv6 prefixes, the split of a range into CIDR blocks, and the
//! text forms the writer emits.
//!
//! Accepted forms (as rbldnsd 1.0 accepts them, checked against the
//! daemon itself):
//!
//! - IPv4 *prefix*: 1–4 dotted decimal octets, leading zeros allowed
//!   (`1.2.3` = 1.2.3.0/24, `1.2` = 1.2.0.0/16). A bare single octet (`10`)
//!   is rejected, as rbldnsd does; `10/8` or `10.0.0.0/8` is accepted.
//! - IPv4 CIDR: `prefix/len`; the prefix is zero-padded (`127/8`,
//!   `1.2/24` = 1.2.0.0/24). Host bits must be clear: rbldnsd rejects
//!   `1.2.3.4/24` unless started with `-e`, and so does fadelist.
//! - IPv4 range (ip4set only): `first-last`, inclusive. `last` either has as
//!   many octets as `first` and is padded with 255s (`127.16-127.31` =
//!   127.16.0.0–127.31.255.255), or is a single octet that replaces the
//!   last given octet of `first` (`1.2.3.4-10`, `127.16-31`).
//! - IPv6: groups of hex digits with at most one `::`. With `::` the
//!   address has 128 bits; without it, `n` groups give the top `16·n` bits
//!   (`2001:db8:1:2` = 2001:db8:1:2::/64) — rbldnsd's "trailing :0s can be
//!   omitted". No embedded dotted IPv4 (rbldnsd rejects it too).

use super::lex::{parse_decimal, quote};

/// A parsed IPv4 key: a CIDR block or an inclusive range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum V4Key {
    /// `net/len`, host bits clear.
    Cidr(u32, u8),
    /// `first..=last`, `first <= last`.
    Range(u32, u32),
}

impl V4Key {
    /// Number of addresses covered (up to 2^32, hence `u64`).
    pub(super) fn size(self) -> u64 {
        match self {
            V4Key::Cidr(_, len) => 1u64 << (32 - u32::from(len)),
            V4Key::Range(a, b) => u64::from(b - a) + 1,
        }
    }
}

/// Which IPv4 forms a dataset type accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum V4Syntax {
    /// ip4set: prefixes, CIDRs /1–/32 and ranges.
    Set,
    /// ip4trie: prefixes and CIDRs /0–/32, no ranges.
    Trie,
    /// ip4tset: complete dotted quads only.
    Tset,
}

/// Dotted decimal octets `a[.b[.c[.d]]]`: the value left-aligned in a
/// `u32` and the number of octets given.
fn parse_octets(s: &[u8]) -> Option<(u32, u8)> {
    let mut v: u32 = 0;
    let mut n: u8 = 0;
    for part in s.split(|&b| b == b'.') {
        if n == 4 {
            return None;
        }
        let o = u8::try_from(parse_decimal(part)?).ok()?;
        v |= u32::from(o) << (24 - 8 * u32::from(n));
        n += 1;
    }
    Some((v, n))
}

/// Mask of the top `len` bits of a `u32`.
#[inline]
pub(super) fn mask4(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

/// Mask of the top `len` bits of a `u128`.
#[inline]
pub(super) fn mask6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// A complete dotted quad, in one pass: the hot path of big data files.
#[inline]
fn parse_quad(s: &[u8]) -> Option<u32> {
    let (mut v, mut octet, mut digits, mut dots) = (0u32, 0u32, 0u32, 0u32);
    for &b in s {
        if b.is_ascii_digit() {
            octet = octet * 10 + u32::from(b - b'0');
            if octet > 255 {
                return None;
            }
            digits += 1;
        } else if b == b'.' && digits > 0 && dots < 3 {
            v = (v << 8) | octet;
            (octet, digits) = (0, 0);
            dots += 1;
        } else {
            return None;
        }
    }
    (dots == 3 && digits > 0).then_some((v << 8) | octet)
}

/// Parses an IPv4 entry key. Errors name the problem and quote `s`.
pub(super) fn parse_v4_key(s: &[u8], syntax: V4Syntax) -> Result<V4Key, String> {
    if let Some(v) = parse_quad(s) {
        return Ok(V4Key::Cidr(v, 32));
    }
    let invalid = || {
        let what = match syntax {
            V4Syntax::Set => "IPv4 address, CIDR or range",
            V4Syntax::Trie => "IPv4 address or CIDR",
            V4Syntax::Tset => "IPv4 address",
        };
        if parse_v6(s.split(|&b| b == b'/').next().unwrap_or(s)).is_some() && s.contains(&b':') {
            format!("IPv6 address {} in an IPv4 dataset", quote(s))
        } else {
            format!("invalid {what} {}", quote(s))
        }
    };
    if syntax == V4Syntax::Tset {
        return match parse_octets(s) {
            Some((v, 4)) => Ok(V4Key::Cidr(v, 32)),
            Some(_) if !s.contains(&b'/') && !s.contains(&b'-') => Err(format!(
                "ip4tset accepts complete IPv4 addresses only, not the prefix {}",
                quote(s)
            )),
            _ if s.contains(&b'/') || s.contains(&b'-') => Err(format!(
                "ip4tset accepts single IPv4 addresses only, not CIDRs or ranges: {}",
                quote(s)
            )),
            _ => Err(invalid()),
        };
    }
    if let Some(dash) = s.iter().position(|&b| b == b'-') {
        if syntax != V4Syntax::Set {
            return Err(format!(
                "ip4trie accepts CIDRs only, not ranges like {} (use ip4set, or write CIDRs)",
                quote(s)
            ));
        }
        let (first, n) = parse_octets(&s[..dash]).ok_or_else(invalid)?;
        let (end, m) = parse_octets(&s[dash + 1..]).ok_or_else(invalid)?;
        let host = |n: u8| {
            if n >= 4 {
                0
            } else {
                u32::MAX >> (8 * u32::from(n))
            }
        };
        let last = if m == n {
            end | host(n)
        } else if m == 1 {
            // Suffix form: the single octet replaces the last octet given
            // in `first` (`127.16-31`, `1.2.3.4-10`).
            let shift = 32 - 8 * u32::from(n);
            (first & !(0xffu32 << shift)) | ((end >> 24) << shift) | host(n)
        } else {
            return Err(format!(
                "invalid IPv4 range {}: the end must have as many octets as the start, \
                 or be a single octet",
                quote(s)
            ));
        };
        if last < first {
            return Err(format!(
                "invalid IPv4 range {}: the end is below the start",
                quote(s)
            ));
        }
        return Ok(V4Key::Range(first, last));
    }
    let (addr, len) = match s.iter().position(|&b| b == b'/') {
        Some(slash) => {
            let (v, _) = parse_octets(&s[..slash]).ok_or_else(invalid)?;
            let len = parse_decimal(&s[slash + 1..]).ok_or_else(invalid)?;
            if len > 32 {
                return Err(format!(
                    "invalid prefix length in {}: IPv4 allows /0 to /32",
                    quote(s)
                ));
            }
            if len == 0 && syntax == V4Syntax::Set {
                return Err(format!(
                    "prefix length /0 is not accepted by ip4set ({}); write the range 0-255 \
                     to cover every address",
                    quote(s)
                ));
            }
            (v, len as u8)
        }
        None => match parse_octets(s) {
            Some((_, 1)) => {
                return Err(format!(
                    "a single number {} is not an IPv4 entry; write {}/8 for the whole /8",
                    quote(s),
                    String::from_utf8_lossy(s)
                ));
            }
            Some((v, n)) => (v, 8 * n),
            None => return Err(invalid()),
        },
    };
    if addr & !mask4(len) != 0 {
        let net = std::net::Ipv4Addr::from(addr & mask4(len));
        return Err(format!(
            "{} has host bits set (rbldnsd rejects it too); did you mean {net}/{len}?",
            quote(s)
        ));
    }
    Ok(V4Key::Cidr(addr, len))
}

/// An IPv6 address as written: the value, and whether it was complete
/// (had `::` or 8 groups) or gave only its top `groups` groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct V6Addr {
    /// The address, missing low groups zero.
    pub value: u128,
    /// Number of significant bits written: 128 with `::`, else 16 per group.
    pub bits: u8,
    /// True when written with `::`.
    pub compressed: bool,
}

/// Parses IPv6 hex groups with at most one `::` (no dotted IPv4 tail).
pub(super) fn parse_v6(s: &[u8]) -> Option<V6Addr> {
    fn groups(s: &[u8], out: &mut [u16; 8], n: &mut usize) -> Option<()> {
        if s.is_empty() {
            return Some(());
        }
        for g in s.split(|&b| b == b':') {
            if g.is_empty() || *n == 8 {
                return None;
            }
            let mut v: u32 = 0;
            for &b in g {
                v = (v << 4) | char::from(b).to_digit(16)?;
                if v > 0xffff {
                    return None;
                }
            }
            out[*n] = v as u16;
            *n += 1;
        }
        Some(())
    }
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (mut nh, mut nt) = (0, 0);
    let compressed = match s.windows(2).position(|w| w == b"::") {
        Some(p) => {
            groups(&s[..p], &mut head, &mut nh)?;
            groups(&s[p + 2..], &mut tail, &mut nt)?;
            if nh + nt > 7 {
                return None;
            }
            true
        }
        None => {
            groups(s, &mut head, &mut nh)?;
            if nh == 0 {
                return None;
            }
            false
        }
    };
    let mut all = [0u16; 8];
    all[..nh].copy_from_slice(&head[..nh]);
    all[8 - nt..].copy_from_slice(&tail[..nt]);
    let value = all
        .iter()
        .fold(0u128, |acc, &g| (acc << 16) | u128::from(g));
    let bits = if compressed { 128 } else { (16 * nh) as u8 };
    Some(V6Addr {
        value,
        bits,
        compressed,
    })
}

/// Message for a token that is not a valid IPv6 key.
fn bad_v6(s: &[u8]) -> String {
    let v4ish = s.split(|&b| b == b'/').next().is_some_and(|a| {
        !a.is_empty() && a.iter().all(|&b| b.is_ascii_digit() || b == b'.') && a.contains(&b'.')
    });
    if v4ish {
        format!("IPv4 address {} in an IPv6 dataset", quote(s))
    } else {
        format!("invalid IPv6 address or prefix {}", quote(s))
    }
}

/// Parses an ip6trie key `addr[/len]` into `(net, len)`.
pub(super) fn parse_v6_trie_key(s: &[u8]) -> Result<(u128, u8), String> {
    let (a, len) = match s.iter().position(|&b| b == b'/') {
        Some(slash) => {
            let a = parse_v6(&s[..slash]).ok_or_else(|| bad_v6(s))?;
            let len = parse_decimal(&s[slash + 1..]).ok_or_else(|| bad_v6(s))?;
            if len > 128 {
                return Err(format!(
                    "invalid prefix length in {}: IPv6 allows /0 to /128",
                    quote(s)
                ));
            }
            (a, len as u8)
        }
        None => {
            let a = parse_v6(s).ok_or_else(|| bad_v6(s))?;
            if a.bits == 16 {
                return Err(format!(
                    "a single IPv6 group {} is not an entry; write {}::/16 for the whole /16",
                    quote(s),
                    String::from_utf8_lossy(s)
                ));
            }
            (a, a.bits)
        }
    };
    if a.value & !mask6(len) != 0 {
        let net = std::net::Ipv6Addr::from(a.value & mask6(len));
        return Err(format!(
            "{} has host bits set (rbldnsd rejects it too); did you mean {}/{len}?",
            quote(s),
            fmt_v6(net.into())
        ));
    }
    Ok((a.value, len))
}

/// Parses an ip6tset key: a /64 written as exactly four groups for a
/// listing, or a complete /128 address for an exclusion.
pub(super) fn parse_v6_tset_key(s: &[u8], excluded: bool) -> Result<(u128, u8), String> {
    if s.contains(&b'/') {
        return Err(format!(
            "ip6tset takes no prefix lengths ({}): list a /64 as four groups \
             (2001:db8:1:2), exclude a single /128 address",
            quote(s)
        ));
    }
    let a = parse_v6(s).ok_or_else(|| bad_v6(s))?;
    if excluded {
        if a.bits != 128 {
            return Err(format!(
                "ip6tset exclusions must be complete /128 addresses, not {}",
                quote(s)
            ));
        }
        Ok((a.value, 128))
    } else {
        if a.compressed || a.bits != 64 {
            return Err(format!(
                "ip6tset lists /64 networks written as exactly four groups \
                 (e.g. 2001:db8:1:2), not {}",
                quote(s)
            ));
        }
        Ok((a.value, 64))
    }
}

/// The fewest CIDR blocks covering `first..=last` (`first <= last`), in
/// ascending order.
pub(super) fn range_to_cidrs(first: u32, last: u32, mut f: impl FnMut(u32, u8)) {
    let (mut cur, last) = (u64::from(first), u64::from(last));
    while cur <= last {
        // The block must start aligned at `cur` and must not pass `last`.
        let mut bits = if cur == 0 {
            32
        } else {
            cur.trailing_zeros().min(32)
        };
        while cur + (1u64 << bits) - 1 > last {
            bits -= 1;
        }
        f(cur as u32, (32 - bits) as u8);
        cur += 1u64 << bits;
    }
}

/// IPv4 in dotted quad, with `/len` unless it is 32.
pub(super) fn fmt_v4(net: u32, len: u8) -> String {
    let a = std::net::Ipv4Addr::from(net);
    if len == 32 {
        a.to_string()
    } else {
        format!("{a}/{len}")
    }
}

/// IPv6 in RFC 5952 style (lower-case hex, longest zero run as `::`) but
/// never with a dotted IPv4 tail, which rbldnsd cannot read.
pub(super) fn fmt_v6(v: u128) -> String {
    let g: [u16; 8] = std::array::from_fn(|i| (v >> (112 - 16 * i)) as u16);
    // Longest run of at least two zero groups (first one on ties).
    let (mut best, mut best_len) = (8, 0);
    let mut i = 0;
    while i < 8 {
        if g[i] == 0 {
            let start = i;
            while i < 8 && g[i] == 0 {
                i += 1;
            }
            if i - start > best_len && i - start >= 2 {
                (best, best_len) = (start, i - start);
            }
        } else {
            i += 1;
        }
    }
    let hex = |r: &[u16]| {
        r.iter()
            .map(|x| format!("{x:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    if best_len == 0 {
        hex(&g)
    } else {
        format!("{}::{}", hex(&g[..best]), hex(&g[best + best_len..]))
    }
}

/// The top four groups of a /64, uncompressed (ip6tset listing form).
pub(super) fn fmt_v6_64(v: u128) -> String {
    let g: [u16; 4] = std::array::from_fn(|i| (v >> (112 - 16 * i)) as u16);
    format!("{:x}:{:x}:{:x}:{:x}", g[0], g[1], g[2], g[3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(s: &str) -> u32 {
        s.parse::<Ipv4Addr>().map(u32::from).unwrap_or(u32::MAX)
    }
    fn ip6(s: &str) -> u128 {
        s.parse::<Ipv6Addr>().map(u128::from).unwrap_or(u128::MAX)
    }
    fn set(s: &str) -> Result<V4Key, String> {
        parse_v4_key(s.as_bytes(), V4Syntax::Set)
    }
    fn cidrs(first: &str, last: &str) -> Vec<(String, u8)> {
        let mut v = Vec::new();
        range_to_cidrs(ip(first), ip(last), |n, l| {
            v.push((Ipv4Addr::from(n).to_string(), l))
        });
        v
    }

    #[test]
    fn quads() {
        assert_eq!(parse_quad(b"1.2.3.4"), Some(ip("1.2.3.4")));
        assert_eq!(parse_quad(b"0001.002.03.255"), Some(ip("1.2.3.255")));
        assert_eq!(parse_quad(b"0.0.0.0"), Some(0));
        for bad in [
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.256",
            "1..3.4",
            ".1.2.3",
            "1.2.3.",
            "1.2.3.4/32",
            "",
        ] {
            assert_eq!(parse_quad(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn v4_prefixes_and_cidrs() {
        assert_eq!(set("1.2.3.4"), Ok(V4Key::Cidr(ip("1.2.3.4"), 32)));
        assert_eq!(set("1.2.3"), Ok(V4Key::Cidr(ip("1.2.3.0"), 24)));
        assert_eq!(set("1.2"), Ok(V4Key::Cidr(ip("1.2.0.0"), 16)));
        assert_eq!(set("127/8"), Ok(V4Key::Cidr(ip("127.0.0.0"), 8)));
        assert_eq!(set("1.2/24"), Ok(V4Key::Cidr(ip("1.2.0.0"), 24)));
        assert_eq!(set("1.2.3/32"), Ok(V4Key::Cidr(ip("1.2.3.0"), 32)));
        assert_eq!(set("127.16.0/12"), Ok(V4Key::Cidr(ip("127.16.0.0"), 12)));
        assert_eq!(set("01.002.3.4"), Ok(V4Key::Cidr(ip("1.2.3.4"), 32)));
        assert_eq!(set("1.2.3.0/0024"), Ok(V4Key::Cidr(ip("1.2.3.0"), 24)));
        assert_eq!(set("0/1"), Ok(V4Key::Cidr(0, 1)));
        let trie = |s: &str| parse_v4_key(s.as_bytes(), V4Syntax::Trie);
        assert_eq!(trie("0/0"), Ok(V4Key::Cidr(0, 0)));
        assert_eq!(trie("0.0.0.0/0"), Ok(V4Key::Cidr(0, 0)));
    }

    #[test]
    fn v4_errors() {
        let e = set("1.2.3.4/24").unwrap_err();
        assert!(e.contains("host bits") && e.contains("1.2.3.0/24"), "{e}");
        let e = set("10").unwrap_err();
        assert!(e.contains("single number") && e.contains("10/8"), "{e}");
        let e = set("0/0").unwrap_err();
        assert!(e.contains("/0") && e.contains("0-255"), "{e}");
        let e = set("1.2.3.4/33").unwrap_err();
        assert!(e.contains("/0 to /32"), "{e}");
        for bad in [
            "1.2.3.256",
            "1.2.3.4.5",
            "1..3",
            ".1.2.3",
            "1.2.3.",
            "1.2.3.4/",
            "+1.2.3.4",
            "1.2.3.4x",
            "0x1.2.3.4",
            "4294967295",
            "1.2.3.4/+8",
            "1.2.3.4/32/32",
            "",
        ] {
            let e = set(bad).unwrap_err();
            assert!(e.starts_with("invalid IPv4"), "{bad}: {e}");
        }
        let e = set("2001:db8::1").unwrap_err();
        assert!(e.contains("IPv6 address"), "{e}");
        let e = parse_v4_key(b"1.2.3.0/24", V4Syntax::Tset).unwrap_err();
        assert!(e.contains("ip4tset") && e.contains("CIDR"), "{e}");
        let e = parse_v4_key(b"1.2.3", V4Syntax::Tset).unwrap_err();
        assert!(e.contains("complete IPv4"), "{e}");
        let e = parse_v4_key(b"1.2.3.4-5", V4Syntax::Trie).unwrap_err();
        assert!(e.contains("ranges"), "{e}");
        assert_eq!(
            parse_v4_key(b"1.2.3.4", V4Syntax::Tset),
            Ok(V4Key::Cidr(ip("1.2.3.4"), 32))
        );
    }

    #[test]
    fn v4_ranges() {
        let r = |a: &str, b: &str| Ok(V4Key::Range(ip(a), ip(b)));
        // Every example of the rbldnsd manual that the daemon accepts.
        assert_eq!(set("127.0.0.0-127.0.0.255"), r("127.0.0.0", "127.0.0.255"));
        assert_eq!(set("127.0.0.1-255"), r("127.0.0.1", "127.0.0.255"));
        assert_eq!(
            set("127.16.0.0-127.31.255.255"),
            r("127.16.0.0", "127.31.255.255")
        );
        assert_eq!(
            set("127.16.0-127.31.255"),
            r("127.16.0.0", "127.31.255.255")
        );
        assert_eq!(set("127.16-127.31"), r("127.16.0.0", "127.31.255.255"));
        assert_eq!(set("127.16-31"), r("127.16.0.0", "127.31.255.255"));
        assert_eq!(set("127.16.0-31"), r("127.16.0.0", "127.16.31.255"));
        assert_eq!(set("1.2.3.4-10"), r("1.2.3.4", "1.2.3.10"));
        assert_eq!(set("1.2.3.4-4"), r("1.2.3.4", "1.2.3.4"));
        assert_eq!(set("1-2"), r("1.0.0.0", "2.255.255.255"));
        assert_eq!(set("0-255"), r("0.0.0.0", "255.255.255.255"));
        assert_eq!(set("1.2.3.4-1.2.3.004"), r("1.2.3.4", "1.2.3.4"));
        // The manual lists `127-127.0.0`, but rbldnsd 1.0 rejects mixed lengths.
        for bad in ["127-127.0.0", "1.2.3.4-1.2.3", "1.2.3-1.2.4.5", "1-1.2"] {
            let e = set(bad).unwrap_err();
            assert!(e.contains("as many octets"), "{bad}: {e}");
        }
        for bad in ["1.2.3.10-1.2.3.4", "1.2.3.5-4", "1.2-1"] {
            let e = set(bad).unwrap_err();
            assert!(e.contains("below the start"), "{bad}: {e}");
        }
        for bad in [
            "1.2.3.4-",
            "-1.2.3.4",
            "1.2.3.4-256",
            "1.2.3.4-1.2.3.5-6",
            "1.2.3.0-1.2.3.255/24",
        ] {
            assert!(set(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(V4Key::Cidr(0, 0).size(), 1 << 32);
        assert_eq!(V4Key::Cidr(0, 24).size(), 256);
        assert_eq!(V4Key::Range(5, 5).size(), 1);
        assert_eq!(V4Key::Range(0, u32::MAX).size(), 1 << 32);
    }

    #[test]
    fn ranges_to_cidrs() {
        assert_eq!(
            cidrs("1.2.3.4", "1.2.3.10"),
            vec![
                ("1.2.3.4".into(), 30),
                ("1.2.3.8".into(), 31),
                ("1.2.3.10".into(), 32)
            ]
        );
        assert_eq!(
            cidrs("127.16.0.0", "127.31.255.255"),
            vec![("127.16.0.0".into(), 12)]
        );
        assert_eq!(
            cidrs("0.0.0.0", "255.255.255.255"),
            vec![("0.0.0.0".into(), 0)]
        );
        assert_eq!(
            cidrs("255.255.255.255", "255.255.255.255"),
            vec![("255.255.255.255".into(), 32)]
        );
        assert_eq!(
            cidrs("0.0.0.1", "255.255.255.254").len(),
            62,
            "31 blocks on each side of the middle"
        );
        assert_eq!(
            cidrs("10.0.0.255", "10.0.2.0"),
            vec![
                ("10.0.0.255".into(), 32),
                ("10.0.1.0".into(), 24),
                ("10.0.2.0".into(), 32)
            ]
        );
    }

    #[test]
    fn v6_syntax() {
        let p = |s: &str| parse_v6(s.as_bytes());
        assert_eq!(
            p("2001:db8:1:2"),
            Some(V6Addr {
                value: ip6("2001:db8:1:2::"),
                bits: 64,
                compressed: false
            })
        );
        assert_eq!(
            p("2001:db8::1").map(|a| (a.value, a.bits)),
            Some((ip6("2001:db8::1"), 128))
        );
        assert_eq!(p("::").map(|a| (a.value, a.bits)), Some((0, 128)));
        assert_eq!(p("::1").map(|a| a.value), Some(1));
        assert_eq!(p("1::").map(|a| a.value), Some(ip6("1::")));
        assert_eq!(p("02001:DB8::").map(|a| a.value), Some(ip6("2001:db8::")));
        assert_eq!(
            p("1:2:3:4:5:6:7::").map(|a| a.value),
            Some(ip6("1:2:3:4:5:6:7:0"))
        );
        assert_eq!(p("1:2:3:4:5:6:7:8").map(|a| a.bits), Some(128));
        for bad in [
            "",
            ":",
            ":::",
            "1:::2",
            "1::2::3",
            ":1:2",
            "1:2:",
            "12345::",
            "g::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:8::",
            "::ffff:1.2.3.4",
            "1.2.3.4",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn v6_keys() {
        let t = |s: &str| parse_v6_trie_key(s.as_bytes());
        assert_eq!(t("2001:db8:1:2"), Ok((ip6("2001:db8:1:2::"), 64)));
        assert_eq!(t("2001:db8:c000/36"), Ok((ip6("2001:db8:c000::"), 36)));
        assert_eq!(t("2001:db8::/32"), Ok((ip6("2001:db8::"), 32)));
        assert_eq!(t("2001:db8/32"), Ok((ip6("2001:db8::"), 32)));
        assert_eq!(t("2001/16"), Ok((ip6("2001::"), 16)));
        assert_eq!(t("2001:db8::1"), Ok((ip6("2001:db8::1"), 128)));
        assert_eq!(t("2001:db8:1:2::"), Ok((ip6("2001:db8:1:2::"), 128)));
        assert_eq!(t("::/0"), Ok((0, 0)));
        assert_eq!(t("::1"), Ok((1, 128)));
        assert_eq!(t("2001:db8::/032"), Ok((ip6("2001:db8::"), 32)));
        let e = t("2001:db8:c001/36").unwrap_err();
        assert!(
            e.contains("host bits") && e.contains("2001:db8:c000::/36"),
            "{e}"
        );
        assert!(t("2001").unwrap_err().contains("single IPv6 group"));
        assert!(t("2001:db8::/129").unwrap_err().contains("/0 to /128"));
        assert!(t("1.2.3.4").unwrap_err().contains("IPv4 address"));
        assert!(t("1.2.3.0/24").unwrap_err().contains("IPv4 address"));
        assert!(t("2001:db8::1::2").unwrap_err().starts_with("invalid IPv6"));
        let s = |s: &str, x: bool| parse_v6_tset_key(s.as_bytes(), x);
        assert_eq!(s("2001:DB8:1:2", false), Ok((ip6("2001:db8:1:2::"), 64)));
        assert_eq!(
            s("2001:db8:1:2::2", true),
            Ok((ip6("2001:db8:1:2::2"), 128))
        );
        assert_eq!(
            s("1:2:3:4:5:6:7:8", true),
            Ok((ip6("1:2:3:4:5:6:7:8"), 128))
        );
        assert_eq!(s("::1", true), Ok((1, 128)));
        for bad in [
            "2001:db8:1:2::",
            "2001:db8::",
            "2001:db8:1",
            "1:2:3:4:5:6:7:8",
        ] {
            assert!(s(bad, false).unwrap_err().contains("four groups"), "{bad}");
        }
        assert!(s("2001:db8:1:2", true).unwrap_err().contains("/128"));
        assert!(
            s("2001:db8:1:2::/64", false)
                .unwrap_err()
                .contains("no prefix lengths")
        );
    }

    #[test]
    fn v6_format() {
        for a in [
            "::",
            "::1",
            "1::",
            "2001:db8::",
            "2001:db8:0:1::",
            "2001:0:0:1::1",
            "1:2:3:4:5:6:7:8",
            "1:0:2:0:3:0:4:0",
            "::ffff:102:304",
            "0:0:1::",
        ] {
            let v = ip6(a);
            let f = fmt_v6(v);
            assert_eq!(
                parse_v6(f.as_bytes()).map(|x| x.value),
                Some(v),
                "{a} -> {f}"
            );
            assert!(!f.contains('.'), "{f}");
        }
        assert_eq!(fmt_v6(ip6("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
        assert_eq!(fmt_v6(ip6("1:0:2:0:3:0:4:0")), "1:0:2:0:3:0:4:0");
        assert_eq!(fmt_v6(ip6("::ffff:1.2.3.4")), "::ffff:102:304");
        assert_eq!(fmt_v6_64(ip6("2001:db8:0:a::")), "2001:db8:0:a");
        assert_eq!(fmt_v4(ip("1.2.3.4"), 32), "1.2.3.4");
        assert_eq!(fmt_v4(ip("1.2.3.0"), 24), "1.2.3.0/24");
    }
}
