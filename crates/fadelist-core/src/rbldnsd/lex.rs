//! Byte-level helpers shared by the parser and the writer: whitespace,
//! numbers, rbldnsd time values, A values, name checks and the quoting of
//! offending text in error messages.
//!
//! Everything works on `&[u8]`: data files are not required to be UTF-8
//! (only TXT text is converted, lossily), and avoiding `str` validation on
//! the hot path keeps a million-line parse cheap.

use std::net::Ipv4Addr;

/// How many characters of offending text an error message quotes.
const QUOTE_MAX: usize = 60;

/// rbldnsd's notion of whitespace (C `isspace`): space, tab, CR, VT, FF.
/// CR is included so CRLF files behave like LF files.
#[inline]
pub(super) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

/// `s` without leading whitespace.
#[inline]
pub(super) fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| is_ws(b)).count();
    &s[n..]
}

/// `s` without trailing whitespace.
#[inline]
pub(super) fn trim_end(s: &[u8]) -> &[u8] {
    let n = s.iter().rev().take_while(|&&b| is_ws(b)).count();
    &s[..s.len() - n]
}

/// `s` without leading and trailing whitespace.
#[inline]
pub(super) fn trim(s: &[u8]) -> &[u8] {
    trim_end(trim_start(s))
}

/// Splits off the first whitespace-delimited token: `(token, rest)`, with
/// `rest` starting at the next token (or empty).
#[inline]
pub(super) fn split_token(s: &[u8]) -> (&[u8], &[u8]) {
    let s = trim_start(s);
    let end = s.iter().position(|&b| is_ws(b)).unwrap_or(s.len());
    (&s[..end], trim_start(&s[end..]))
}

/// Quotes (a prefix of) offending text for an error message: lossy UTF-8,
/// control characters escaped, at most [`QUOTE_MAX`] characters.
pub(super) fn quote(s: &[u8]) -> String {
    let text = String::from_utf8_lossy(s);
    let mut out = String::with_capacity(QUOTE_MAX + 8);
    out.push('"');
    for (i, c) in text.chars().enumerate() {
        if i == QUOTE_MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// A non-empty run of ASCII digits as a number; `None` on any other byte
/// or when the value does not fit in `u64`. Leading zeros are accepted
/// (rbldnsd reads `010` as ten, not as octal).
pub(super) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// An rbldnsd time value: decimal seconds with an optional single unit
/// suffix `s`, `m`, `h`, `d` or `w` (either case), e.g. `35m`, `1w`.
/// Compound forms (`1h30m`) are not accepted, as in rbldnsd.
pub(super) fn parse_time(s: &[u8]) -> Option<u32> {
    let (digits, mult) = match s.last()?.to_ascii_lowercase() {
        b's' => (&s[..s.len() - 1], 1),
        b'm' => (&s[..s.len() - 1], 60),
        b'h' => (&s[..s.len() - 1], 3600),
        b'd' => (&s[..s.len() - 1], 86_400),
        b'w' => (&s[..s.len() - 1], 604_800),
        _ => (s, 1),
    };
    let v = parse_decimal(digits)?.checked_mul(mult)?;
    u32::try_from(v).ok()
}

/// Error text for a time field.
pub(super) fn bad_time(what: &str, s: &[u8]) -> String {
    format!(
        "invalid {what} {}: expected seconds with an optional s/m/h/d/w suffix, e.g. 3600 or 1h",
        quote(s)
    )
}

/// Parses an A value as rbldnsd does and applies fadelist's policy.
///
/// rbldnsd accepts dotted decimal with 1–4 parts: `n` alone means
/// `127.0.0.n` (n = 1..255), `a.b` means `a.0.0.b` and `a.b.c` means
/// `a.b.0.c` (the `inet_aton` convention, each part at most 255). fadelist
/// additionally requires the result to lie in 127.0.0.0/8, the range
/// DNSBL clients read as "listed" (RFC 5782).
pub(super) fn parse_a_value(s: &[u8]) -> Result<Ipv4Addr, String> {
    let bad = || {
        format!(
            "invalid A value {}: expected 127.0.0.N, or N alone as a short form of 127.0.0.N",
            quote(s)
        )
    };
    let mut parts = [0u8; 4];
    let mut n = 0;
    for part in s.split(|&b| b == b'.') {
        if n == 4 {
            return Err(bad());
        }
        let v = parse_decimal(part).ok_or_else(bad)?;
        parts[n] = u8::try_from(v).map_err(|_| bad())?;
        n += 1;
    }
    let addr = match n {
        1 if parts[0] == 0 => return Err(bad()),
        1 => Ipv4Addr::new(127, 0, 0, parts[0]),
        2 => Ipv4Addr::new(parts[0], 0, 0, parts[1]),
        3 => Ipv4Addr::new(parts[0], parts[1], 0, parts[2]),
        _ => Ipv4Addr::new(parts[0], parts[1], parts[2], parts[3]),
    };
    if addr.octets()[0] != 127 {
        return Err(format!(
            "A value {} ({addr}) is outside 127.0.0.0/8; fadelist only answers with \
             addresses in 127.0.0.0/8 (RFC 5782)",
            quote(s)
        ));
    }
    Ok(addr)
}

/// Checks a domain name used as a value ($SOA, $NS) and returns it without
/// a trailing dot, case preserved.
///
/// Accepted: labels of 1–63 bytes made of letters, digits, `-` and `_`,
/// at most 253 bytes in all. (rbldnsd accepts any bytes and even the root
/// name; fadelist rejects what cannot be a host or mailbox name.)
pub(super) fn parse_value_name(s: &[u8], what: &str) -> Result<String, String> {
    let name = s.strip_suffix(b".").unwrap_or(s);
    check_name(name).map_err(|why| format!("invalid {what} {}: {why}", quote(s)))?;
    // check_name admits only ASCII, so this cannot fail.
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// Validates a domain name without trailing dot: non-empty labels of 1–63
/// bytes of `[A-Za-z0-9_-]`, total length at most 253.
pub(super) fn check_name(name: &[u8]) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() > 253 {
        return Err(format!("name is {} bytes long, more than 253", name.len()));
    }
    for label in name.split(|&b| b == b'.') {
        if label.is_empty() {
            return Err("empty label".into());
        }
        if label.len() > 63 {
            return Err(format!("label is {} bytes long, more than 63", label.len()));
        }
        if let Some(&b) = label
            .iter()
            .find(|&&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return Err(if b.is_ascii() {
                format!("character {:?} is not allowed", char::from(b))
            } else {
                "non-ASCII name; write internationalized names in their xn-- (IDNA A-label) form"
                    .into()
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_and_tokens() {
        assert_eq!(trim(b" \t a b \r"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(
            split_token(b"  one  two three"),
            (&b"one"[..], &b"two three"[..])
        );
        assert_eq!(split_token(b"one"), (&b"one"[..], &b""[..]));
    }

    #[test]
    fn quoting_truncates_and_escapes() {
        assert_eq!(quote(b"a\tb"), "\"a\\tb\"");
        let long = vec![b'x'; 100];
        let q = quote(&long);
        assert!(q.ends_with("…\""), "{q}");
        assert_eq!(q.chars().filter(|&c| c == 'x').count(), QUOTE_MAX);
        assert_eq!(quote(b"\xffz"), "\"\u{fffd}z\"");
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"0010"), Some(10));
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"1a"), None);
        assert_eq!(parse_decimal(b"-1"), None);
        assert_eq!(parse_decimal(b"99999999999999999999999"), None);
    }

    #[test]
    fn time_values() {
        assert_eq!(parse_time(b"30"), Some(30));
        assert_eq!(parse_time(b"10s"), Some(10));
        assert_eq!(parse_time(b"35m"), Some(2100));
        assert_eq!(parse_time(b"1H"), Some(3600));
        assert_eq!(parse_time(b"2d"), Some(172_800));
        assert_eq!(parse_time(b"3w"), Some(1_814_400));
        assert_eq!(parse_time(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_time(b"4294967296"), None);
        assert_eq!(parse_time(b"100000w"), None);
        for bad in [
            &b""[..],
            b"m",
            b"1h30m",
            b"1x",
            b"-1",
            b"+5",
            b"0x10",
            b"1.5h",
        ] {
            assert_eq!(parse_time(bad), None, "{}", quote(bad));
        }
    }

    #[test]
    fn a_values() {
        let a = |s: &str| parse_a_value(s.as_bytes());
        assert_eq!(a("2"), Ok(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(a("255"), Ok(Ipv4Addr::new(127, 0, 0, 255)));
        assert_eq!(a("127.1"), Ok(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(a("127.0.5"), Ok(Ipv4Addr::new(127, 0, 0, 5)));
        assert_eq!(a("127.1.2.3"), Ok(Ipv4Addr::new(127, 1, 2, 3)));
        assert_eq!(a("127.000.000.003"), Ok(Ipv4Addr::new(127, 0, 0, 3)));
        assert_eq!(a("010"), Ok(Ipv4Addr::new(127, 0, 0, 10)));
        assert_eq!(a("127.0.0.0"), Ok(Ipv4Addr::new(127, 0, 0, 0)));
        for bad in [
            "",
            "0",
            "256",
            "-1",
            "abc",
            " 2",
            "2 ",
            "1.2.3.4.5",
            "127..1",
            "0x10",
        ] {
            let e = a(bad).unwrap_err();
            assert!(e.starts_with("invalid A value"), "{bad}: {e}");
        }
        let e = a("1.8").unwrap_err();
        assert!(e.contains("1.0.0.8") && e.contains("127.0.0.0/8"), "{e}");
        let e = a("10.0.0.1").unwrap_err();
        assert!(e.contains("outside 127.0.0.0/8"), "{e}");
    }

    #[test]
    fn names() {
        assert_eq!(
            parse_value_name(b"ns1.Example.net.", "x"),
            Ok("ns1.Example.net".into())
        );
        assert_eq!(
            parse_value_name(b"_dmarc.a-b.c", "x"),
            Ok("_dmarc.a-b.c".into())
        );
        for bad in [&b""[..], b".", b"a..b", b"a b", b"a/b", b"a.\xc3\xa9"] {
            assert!(
                parse_value_name(bad, "name server").is_err(),
                "{}",
                quote(bad)
            );
        }
        let e = parse_value_name(b"a..b", "name server").unwrap_err();
        assert!(
            e.contains("name server") && e.contains("empty label"),
            "{e}"
        );
        let long = format!("{}.com", "a".repeat(64));
        assert!(check_name(long.as_bytes()).unwrap_err().contains("63"));
        let long = ["abcdefghi"; 26].join(".");
        assert!(check_name(long.as_bytes()).unwrap_err().contains("253"));
        assert!(check_name(b"\xc3\xa9.com").unwrap_err().contains("xn--"));
    }
}
