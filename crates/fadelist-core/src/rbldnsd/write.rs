//! The writer: [`DatasetData`] → an rbldnsd data file that stock rbldnsd
//! serves with the same answers (and that [`super::parse`] reads back).
//!
//! Layout: `$SOA`, `$NS`, `$TTL` when present; one default line with the
//! most used single-record answer; then the entries, each bare (default
//! value), with its value (`entry :A:TXT`), or as `!entry`. An answer with
//! several A values or TXTs is written as repeated entry lines — rbldnsd
//! merges repeated entries of ip4set and dnset into one answer — and is
//! refused for the types that keep only one value per key.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::net::Ipv4Addr;

use super::DatasetType;
use super::addr::{fmt_v6, fmt_v6_64, mask4, mask6};
use super::lex::check_name;
use super::normalize::{self, Answers, Combine, EXCL, IpEntry};
use super::parse::MAX_NS;
use super::template::to_file_text;
use crate::data::{AnswerSpec, DatasetData, DomainMatch, EntryValue};

/// An `InvalidInput` error: the data cannot be expressed as asked.
fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The key of one entry, formatted only when written (no allocation per
/// entry on the way).
#[derive(Clone, Copy)]
enum Key<'a> {
    /// IPv4 `net/len` (`/32` omitted); ip4set writes `/0` as `0-255`.
    V4 { net: u32, len: u8, set: bool },
    /// IPv6 `net/len` (`/128` omitted), compressed.
    V6 { net: u128, len: u8 },
    /// ip6tset listing: the /64 as four groups.
    V6Tset(u128),
    /// dnset name.
    Dom(&'a str, DomainMatch),
}

impl Key<'_> {
    fn put(self, buf: &mut Vec<u8>) {
        match self {
            Key::V4 {
                net: 0,
                len: 0,
                set: true,
            } => buf.extend_from_slice(b"0-255"),
            Key::V4 { net, len, .. } => {
                put_v4(buf, net);
                if len != 32 {
                    buf.push(b'/');
                    put_u8(buf, len);
                }
            }
            Key::V6 { net, len } => {
                buf.extend_from_slice(fmt_v6(net).as_bytes());
                if len != 128 {
                    buf.push(b'/');
                    put_u8(buf, len);
                }
            }
            Key::V6Tset(net) => buf.extend_from_slice(fmt_v6_64(net).as_bytes()),
            Key::Dom(name, m) => {
                buf.extend_from_slice(match m {
                    DomainMatch::Exact => b"",
                    DomainMatch::Subdomains => b"*.",
                    DomainMatch::Both => b".",
                });
                buf.extend_from_slice(name.as_bytes());
            }
        }
    }
}

/// Decimal digits of `n` (the writer's hot path; `fmt` is several times
/// slower for a million addresses).
fn put_u8(buf: &mut Vec<u8>, n: u8) {
    if n >= 100 {
        buf.push(b'0' + n / 100);
    }
    if n >= 10 {
        buf.push(b'0' + n / 10 % 10);
    }
    buf.push(b'0' + n % 10);
}

/// Dotted quad of `v`.
fn put_v4(buf: &mut Vec<u8>, v: u32) {
    for (i, o) in v.to_be_bytes().into_iter().enumerate() {
        if i > 0 {
            buf.push(b'.');
        }
        put_u8(buf, o);
    }
}

/// Writes `data` as an rbldnsd file of type `ty`.
pub(super) fn write(ty: DatasetType, data: &DatasetData, out: &mut impl Write) -> io::Result<()> {
    let (v4, v6, dom) = match ty {
        DatasetType::Ip4Set | DatasetType::Ip4Trie | DatasetType::Ip4Tset => (true, false, false),
        DatasetType::Ip6Tset | DatasetType::Ip6Trie => (false, true, false),
        DatasetType::Dnset => (false, false, true),
    };
    for (ok, n, what) in [
        (v4, data.ip4.len(), "IPv4"),
        (v6, data.ip6.len(), "IPv6"),
        (dom, data.domains.len(), "domain"),
    ] {
        if !ok && n > 0 {
            return Err(invalid(format!(
                "a {} file cannot hold {what} entries ({n} given)",
                ty.name()
            )));
        }
    }
    let mut answers = Answers::from_specs(data.answers.clone());
    let listed = |v: EntryValue| -> io::Result<u32> {
        match v {
            EntryValue::Excluded => Ok(EXCL),
            EntryValue::Listed(i) if (i as usize) < data.answers.len() => Ok(i),
            EntryValue::Listed(i) => Err(invalid(format!(
                "entry refers to answer {i}, but there are only {}",
                data.answers.len()
            ))),
        }
    };
    let tset = matches!(ty, DatasetType::Ip4Tset | DatasetType::Ip6Tset);
    let mut lines: Vec<(Key, u32)> = Vec::new();
    match ty {
        DatasetType::Ip4Set | DatasetType::Ip4Trie | DatasetType::Ip4Tset => {
            let mut v = Vec::with_capacity(data.ip4.len());
            for e in &data.ip4 {
                if e.len > 32 || e.net & !mask4(e.len) != 0 {
                    return Err(invalid(format!(
                        "invalid IPv4 entry {}/{} (length over 32 or host bits set)",
                        Ipv4Addr::from(e.net),
                        e.len
                    )));
                }
                let val = listed(e.value)?;
                if ty == DatasetType::Ip4Tset && (val == EXCL || e.len != 32) {
                    return Err(invalid(format!(
                        "ip4tset lists single addresses only; cannot write {}{}/{}",
                        if val == EXCL { "the exclusion !" } else { "" },
                        Ipv4Addr::from(e.net),
                        e.len
                    )));
                }
                v.push(IpEntry {
                    net: e.net,
                    len: e.len,
                    val,
                    line: 0,
                });
            }
            if ty == DatasetType::Ip4Set {
                // rbldnsd merges same-level overlaps; make the longest
                // prefix win explicitly (a no-op for parsed data).
                v = normalize::ip4set_levels(v, &mut answers, Combine::MostSpecific);
            } else if ty == DatasetType::Ip4Trie {
                check_unique(&mut v.clone(), |e| {
                    format!("{}/{}", Ipv4Addr::from(e.net), e.len)
                })?;
            }
            let set = ty == DatasetType::Ip4Set;
            lines.extend(v.iter().map(|e| {
                (
                    Key::V4 {
                        net: e.net,
                        len: e.len,
                        set,
                    },
                    e.val,
                )
            }));
        }
        DatasetType::Ip6Tset | DatasetType::Ip6Trie => {
            for e in &data.ip6 {
                if e.len > 128 || e.net & !mask6(e.len) != 0 {
                    return Err(invalid(format!(
                        "invalid IPv6 entry {}/{} (length over 128 or host bits set)",
                        fmt_v6(e.net),
                        e.len
                    )));
                }
                let val = listed(e.value)?;
                let key = match (ty, e.len, val == EXCL) {
                    (DatasetType::Ip6Tset, 64, false) => Key::V6Tset(e.net),
                    (DatasetType::Ip6Tset, 128, true) => Key::V6 {
                        net: e.net,
                        len: 128,
                    },
                    (DatasetType::Ip6Tset, len, excl) => {
                        return Err(invalid(format!(
                            "ip6tset lists /64s and excludes /128s only; cannot write {} {}/{len}",
                            if excl { "the exclusion" } else { "the listing" },
                            fmt_v6(e.net)
                        )));
                    }
                    (_, len, _) => Key::V6 { net: e.net, len },
                };
                lines.push((key, val));
            }
            if ty == DatasetType::Ip6Trie {
                let mut v: Vec<IpEntry<u128>> = data
                    .ip6
                    .iter()
                    .map(|e| IpEntry {
                        net: e.net,
                        len: e.len,
                        val: 0,
                        line: 0,
                    })
                    .collect();
                check_unique(&mut v, |e| format!("{}/{}", fmt_v6(e.net), e.len))?;
            }
        }
        DatasetType::Dnset => {
            for e in &data.domains {
                check_name(e.name.as_bytes())
                    .map_err(|why| invalid(format!("invalid domain {:?}: {why}", e.name)))?;
                lines.push((Key::Dom(&e.name, e.matching), listed(e.value)?));
            }
        }
    }

    // The value texts of every answer used: one `:A:TXT` per line needed.
    let mut values: HashMap<u32, Vec<String>> = HashMap::new();
    let mut uses: HashMap<u32, usize> = HashMap::new();
    for &(_, val) in &lines {
        if val == EXCL {
            continue;
        }
        *uses.entry(val).or_default() += 1;
        if let std::collections::hash_map::Entry::Vacant(slot) = values.entry(val) {
            let spec = &answers.specs[val as usize];
            slot.insert(value_texts(spec).map_err(|e| {
                invalid(format!("answer {val} ({:?} / {:?}): {e}", spec.a, spec.txt))
            })?);
        }
    }
    let one_value = matches!(ty, DatasetType::Ip4Trie | DatasetType::Ip6Trie) || tset;
    if one_value && let Some((i, v)) = values.iter().find(|(_, v)| v.len() > 1) {
        return Err(invalid(format!(
            "{} keeps one A and one TXT per entry; answer {i} needs {} records ({:?})",
            ty.name(),
            v.len(),
            answers.specs[*i as usize]
        )));
    }
    if tset {
        // Equal answers under different indices are fine.
        let mut texts = values.values();
        if let Some(first) = texts.next()
            && texts.any(|t| t != first)
        {
            return Err(invalid(format!(
                "{} has one answer for the whole dataset; the data uses {}",
                ty.name(),
                values.len()
            )));
        }
    }
    // The default: the most used answer that fits on one line (ties: the
    // lowest index, so the output does not depend on hash order).
    let default = uses
        .iter()
        .filter(|(i, _)| values.get(i).is_some_and(|v| v.len() == 1))
        .max_by_key(|&(i, n)| (*n, std::cmp::Reverse(*i)))
        .map(|(&i, _)| i);

    let mut w = BufWriter::with_capacity(1 << 16, out);
    write_header(data, &mut w)?;
    if let Some(d) = default {
        writeln!(w, "{}", values[&d][0])?;
    }
    let mut buf = Vec::with_capacity(1 << 16);
    for &(key, val) in &lines {
        if val == EXCL {
            buf.push(b'!');
            key.put(&mut buf);
            buf.push(b'\n');
        } else if Some(val) == default || tset {
            key.put(&mut buf);
            buf.push(b'\n');
        } else {
            for v in &values[&val] {
                key.put(&mut buf);
                buf.push(b' ');
                buf.extend_from_slice(v.as_bytes());
                buf.push(b'\n');
            }
        }
        if buf.len() >= 1 << 15 {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    w.flush()
}

/// `$SOA`, `$NS` and `$TTL` lines.
fn write_header(data: &DatasetData, w: &mut impl Write) -> io::Result<()> {
    fn name<'a>(n: &'a str, what: &str) -> io::Result<&'a str> {
        check_name(n.as_bytes())
            .map_err(|why| invalid(format!("invalid {what} {n:?}: {why}")))
            .map(|()| n)
    }
    if let Some(s) = &data.soa {
        writeln!(
            w,
            "$SOA {} {} {} {} {} {} {} {}",
            s.ttl,
            name(&s.mname, "SOA origin name")?,
            name(&s.rname, "SOA mailbox")?,
            s.serial,
            s.refresh,
            s.retry,
            s.expire,
            s.minimum
        )?;
    }
    if !data.ns.is_empty() {
        if data.ns.len() > MAX_NS {
            return Err(invalid(format!(
                "{} name servers; rbldnsd uses at most {MAX_NS}",
                data.ns.len()
            )));
        }
        let mut line = format!("$NS {}", data.ns_ttl.unwrap_or(0));
        for n in &data.ns {
            // rbldnsd reads `-name` as a disabled name server.
            if n.starts_with('-') {
                return Err(invalid(format!("name server {n:?} starts with '-'")));
            }
            line.push(' ');
            line.push_str(name(n, "name server")?);
        }
        writeln!(w, "{line}")?;
    }
    if let Some(t) = data.ttl {
        writeln!(w, "$TTL {t}")?;
    }
    Ok(())
}

/// The `:A:TXT` texts that give `spec`'s records, one per line needed:
/// line `i` pairs A value `i` with TXT `i`; extra A values get `:A:` (no
/// TXT), extra TXTs repeat the last A value — rbldnsd drops the duplicate
/// A records from its answers.
fn value_texts(spec: &AnswerSpec) -> Result<Vec<String>, String> {
    if spec.a.is_empty() {
        return Err("no A value".into());
    }
    if let Some(a) = spec.a.iter().find(|a| a.octets()[0] != 127) {
        return Err(format!("A value {a} is outside 127.0.0.0/8"));
    }
    let txt: Vec<String> = spec
        .txt
        .iter()
        .map(|t| to_file_text(t))
        .collect::<Result<_, _>>()?;
    let n = spec.a.len().max(txt.len());
    Ok((0..n)
        .map(|i| {
            let a = spec.a[i.min(spec.a.len() - 1)];
            format!(":{a}:{}", txt.get(i).map_or("", String::as_str))
        })
        .collect())
}

/// Refuses repeated prefixes for the trie types, where rbldnsd would keep
/// only the first.
fn check_unique<T: Copy + Ord>(
    v: &mut [IpEntry<T>],
    show: impl Fn(&IpEntry<T>) -> String,
) -> io::Result<()> {
    v.sort_unstable_by_key(|e| (e.net, e.len));
    match v
        .windows(2)
        .find(|w| w[0].net == w[1].net && w[0].len == w[1].len)
    {
        Some(w) => Err(invalid(format!(
            "{} appears twice; a trie dataset keeps one value per prefix",
            show(&w[0])
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ParseError, expand_txt, parse, write};
    use super::*;
    use crate::data::{DomainEntry, Ip4Entry, Ip6Entry, SoaSpec};
    use DatasetType::*;
    use EntryValue::{Excluded, Listed};

    fn ip(s: &str) -> u32 {
        s.parse::<Ipv4Addr>().map(u32::from).unwrap_or(u32::MAX)
    }
    fn ip6(s: &str) -> u128 {
        s.parse::<std::net::Ipv6Addr>()
            .map(u128::from)
            .unwrap_or(u128::MAX)
    }
    fn spec(a: &[u8], txt: &[&str]) -> AnswerSpec {
        AnswerSpec {
            a: a.iter().map(|&x| Ipv4Addr::new(127, 0, 0, x)).collect(),
            txt: txt.iter().map(|s| s.to_string()).collect(),
        }
    }
    fn text(ty: DatasetType, d: &DatasetData) -> String {
        let mut out = Vec::new();
        match write(ty, d, &mut out) {
            Ok(()) => String::from_utf8(out).unwrap_or_default(),
            Err(e) => panic!("write failed: {e}"),
        }
    }
    fn write_err(ty: DatasetType, d: &DatasetData) -> String {
        let mut out = Vec::new();
        match write(ty, d, &mut out) {
            Ok(()) => panic!(
                "expected an error, wrote:\n{}",
                String::from_utf8_lossy(&out)
            ),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
                e.to_string()
            }
        }
    }
    fn reparse(ty: DatasetType, d: &DatasetData) -> Result<DatasetData, ParseError> {
        parse(ty, text(ty, d).as_bytes())
    }
    /// parse → write → parse gives the same data.
    fn round_trip(ty: DatasetType, file: &str) -> DatasetData {
        let d = parse(ty, file.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let written = text(ty, &d);
        let back = parse(ty, written.as_bytes())
            .unwrap_or_else(|e| panic!("{e}\n--- written:\n{written}"));
        assert_eq!(back, d, "--- written:\n{written}");
        d
    }
    fn soa() -> SoaSpec {
        SoaSpec {
            ttl: 3600,
            mname: "ns1.rbl.example".into(),
            rname: "hostmaster.rbl.example".into(),
            serial: 0,
            refresh: 600,
            retry: 300,
            expire: 86_400,
            minimum: 300,
        }
    }

    #[test]
    fn golden_ip4set() {
        let d = DatasetData {
            // Canonical form (as parse returns it): answers in order of
            // first use.
            answers: vec![
                spec(&[3], &[]),
                spec(&[2], &["Listed, see https://rbl.example/lookup?ip=$"]),
                spec(&[4], &["=starts with equals", "costs $$5"]),
            ],
            ip4: vec![
                Ip4Entry {
                    net: 0,
                    len: 0,
                    value: Listed(0),
                },
                Ip4Entry {
                    net: ip("1.2.3.0"),
                    len: 24,
                    value: Listed(1),
                },
                Ip4Entry {
                    net: ip("1.2.3.4"),
                    len: 32,
                    value: Excluded,
                },
                Ip4Entry {
                    net: ip("127.0.0.2"),
                    len: 32,
                    value: Listed(1),
                },
                Ip4Entry {
                    net: ip("127.0.0.3"),
                    len: 32,
                    value: Listed(2),
                },
            ],
            ttl: Some(300),
            soa: Some(soa()),
            ns: vec!["ns1.rbl.example".into(), "ns2.rbl.example".into()],
            ns_ttl: Some(86_400),
            ..Default::default()
        };
        assert_eq!(
            text(Ip4Set, &d),
            "$SOA 3600 ns1.rbl.example hostmaster.rbl.example 0 600 300 86400 300\n\
             $NS 86400 ns1.rbl.example ns2.rbl.example\n\
             $TTL 300\n\
             :127.0.0.2:Listed, see https://rbl.example/lookup?ip=$\n\
             0-255 :127.0.0.3:\n\
             1.2.3.0/24\n\
             !1.2.3.4\n\
             127.0.0.2\n\
             127.0.0.3 :127.0.0.4:==starts with equals\n\
             127.0.0.3 :127.0.0.4:costs $$5\n"
        );
        assert_eq!(reparse(Ip4Set, &d), Ok(d));
    }

    #[test]
    fn golden_dnset_and_ip6() {
        let d = DatasetData {
            answers: vec![spec(&[2], &[]), spec(&[5], &["five $"])],
            domains: vec![
                DomainEntry {
                    name: "a.example".into(),
                    matching: DomainMatch::Both,
                    value: Listed(0),
                },
                DomainEntry {
                    name: "b.example".into(),
                    matching: DomainMatch::Exact,
                    value: Listed(1),
                },
                DomainEntry {
                    name: "c.example".into(),
                    matching: DomainMatch::Subdomains,
                    value: Excluded,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            text(Dnset, &d),
            ":127.0.0.2:\n.a.example\nb.example :127.0.0.5:five $\n!*.c.example\n"
        );
        assert_eq!(reparse(Dnset, &d), Ok(d));
        let d = DatasetData {
            answers: vec![spec(&[2], &["v6"])],
            ip6: vec![
                Ip6Entry {
                    net: 0,
                    len: 0,
                    value: Listed(0),
                },
                Ip6Entry {
                    net: 1,
                    len: 128,
                    value: Excluded,
                },
                Ip6Entry {
                    net: ip6("2001:db8::"),
                    len: 32,
                    value: Listed(0),
                },
                Ip6Entry {
                    net: ip6("2001:db8:0:1::"),
                    len: 64,
                    value: Excluded,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            text(Ip6Trie, &d),
            ":127.0.0.2:v6\n::/0\n!::1\n2001:db8::/32\n!2001:db8:0:1::/64\n"
        );
        assert_eq!(reparse(Ip6Trie, &d), Ok(d));
        let d = DatasetData {
            answers: vec![spec(&[3], &["t"])],
            ip6: vec![
                Ip6Entry {
                    net: 1,
                    len: 128,
                    value: Excluded,
                },
                Ip6Entry {
                    net: ip6("2001:db8:0:1::"),
                    len: 64,
                    value: Listed(0),
                },
                Ip6Entry {
                    net: ip6("2001:db8:0:1::5"),
                    len: 128,
                    value: Excluded,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            text(Ip6Tset, &d),
            ":127.0.0.3:t\n!::1\n2001:db8:0:1\n!2001:db8:0:1::5\n"
        );
        assert_eq!(reparse(Ip6Tset, &d), Ok(d));
    }

    #[test]
    fn round_trips_of_parsed_files() {
        round_trip(
            Ip4Set,
            "$SOA 1h ns1.example.net Host.Example.Net 7 2h 30m 1w 1d\n$NS 0 a.example b.example\n\
             $1 var$\n$= base [$=] $1 ($)\n:3:def\n1.2.3.4\n1.2.3.5 :5:five\n1.2.3.6 :6:\n\
             1.2.3.7 =own $ $1\n10/8\n!10.1.0.0/16\n10.1.2.3 :7:x\n10.1.2.3 :8:y\n1.2.4.0-1.2.5.7\n\
             1.2.6.0/25 :4:a\n1.2.6.3 :5:b\n0-255 :9:everything\n",
        );
        round_trip(
            Ip4Trie,
            ":3:def\n0/0 :1:\n1.2\n1.2.3.0/25 other $\n!1.2.3.4\n1.2.3.5/32 :7\n",
        );
        round_trip(Ip4Tset, ":4:def $\n1.2.3.4\n1.2.3.5\n1.2.3.4\n");
        round_trip(Ip4Tset, "1.2.3.4\n");
        round_trip(Ip6Tset, ":3:v6 $\n2001:DB8:1:2\n!2001:db8:1:2::2\n!::1\n");
        round_trip(
            Ip6Trie,
            ":127.0.1.2: Listed, see http://example.com/lookup?$\n2001:21ab:c000/36\n\
             2001:21ab:def7:4242 :127.0.1.3: This one smells funny\n2605:6001:42::/52\n::1\n\
             !2605:6001:42::bead\n::/0 :9\n",
        );
        round_trip(
            Dnset,
            "$TTL 1d\n:2:dom $\nExample.COM\n*.wild.example\n.both.example.\n!ex.example\n\
             !*.ex2.example\n.b.com :6:six\nb.com :7:seven\ntest\n",
        );
        round_trip(Dnset, "");
    }

    #[test]
    fn round_trip_of_the_benchmark_shape() {
        // The gen-data.py layout, small.
        let mut f = String::from(
            "# generated\n$SOA 3600 ns1.rbl.example hostmaster.rbl.example 0 600 300 86400 300\n\
             $NS 3600 ns1.rbl.example\n:127.0.0.2:Listed, see https://rbl.example/lookup?ip=$\n\
             127.0.0.2\n",
        );
        for i in 0..500u32 {
            let x = i.wrapping_mul(2_654_435_761);
            f.push_str(&format!("{}\n", Ipv4Addr::from(x | 0x0100_0000)));
        }
        for i in 0..50u32 {
            let p = 16 + (i % 9);
            let net = i.wrapping_mul(40_503 << 16) & mask4(p as u8);
            f.push_str(&format!("{}/{p}\n", Ipv4Addr::from(net)));
        }
        for ty in [Ip4Set, Ip4Trie] {
            let d = round_trip(ty, &f);
            assert_eq!(d.answers.len(), 1);
        }
    }

    #[test]
    fn multi_value_answers_become_repeated_lines() {
        let d = DatasetData {
            answers: vec![
                spec(&[2], &[]),
                spec(&[3, 4, 5], &["x", "y"]),
                spec(&[6], &["a", "b", "c"]),
            ],
            ip4: vec![
                Ip4Entry {
                    net: ip("1.1.1.1"),
                    len: 32,
                    value: Listed(0),
                },
                Ip4Entry {
                    net: ip("1.1.1.2"),
                    len: 32,
                    value: Listed(0),
                },
                Ip4Entry {
                    net: ip("1.1.1.3"),
                    len: 32,
                    value: Listed(1),
                },
                Ip4Entry {
                    net: ip("1.1.1.4"),
                    len: 32,
                    value: Listed(2),
                },
            ],
            ..Default::default()
        };
        let t = text(Ip4Set, &d);
        assert!(
            t.contains(
                "1.1.1.3 :127.0.0.3:x\n1.1.1.3 :127.0.0.4:y\n1.1.1.3 :127.0.0.5:\n\
                 1.1.1.4 :127.0.0.6:a\n1.1.1.4 :127.0.0.6:b\n1.1.1.4 :127.0.0.6:c\n"
            ),
            "{t}"
        );
        assert_eq!(reparse(Ip4Set, &d), Ok(d.clone()));
        let dn = DatasetData {
            answers: d.answers.clone(),
            domains: vec![DomainEntry {
                name: "m.example".into(),
                matching: DomainMatch::Both,
                value: Listed(1),
            }],
            ..Default::default()
        };
        let want = DatasetData {
            answers: vec![d.answers[1].clone()],
            domains: vec![DomainEntry {
                name: "m.example".into(),
                matching: DomainMatch::Both,
                value: Listed(0),
            }],
            ..Default::default()
        };
        assert_eq!(reparse(Dnset, &dn), Ok(want));
        let e = write_err(Ip4Trie, &d);
        assert!(e.contains("ip4trie keeps one A and one TXT"), "{e}");
    }

    /// The A values answered for `addr` by longest prefix.
    fn lpm(d: &DatasetData, addr: &str) -> Option<Vec<Ipv4Addr>> {
        let a = ip(addr);
        let e = d
            .ip4
            .iter()
            .filter(|e| a & mask4(e.len) == e.net)
            .max_by_key(|e| e.len)?;
        match e.value {
            Listed(i) => Some(d.answers[i as usize].a.clone()),
            Excluded => None,
        }
    }

    #[test]
    fn ip4set_writer_keeps_longest_prefix_semantics() {
        // Same-level nesting that rbldnsd would merge: the writer splits it.
        let d = DatasetData {
            answers: vec![spec(&[2], &[]), spec(&[3], &[])],
            ip4: vec![
                Ip4Entry {
                    net: ip("1.2.3.0"),
                    len: 25,
                    value: Listed(0),
                },
                Ip4Entry {
                    net: ip("1.2.3.4"),
                    len: 32,
                    value: Listed(1),
                },
                Ip4Entry {
                    net: ip("1.2.0.0"),
                    len: 20,
                    value: Excluded,
                },
                Ip4Entry {
                    net: ip("1.2.5.0"),
                    len: 24,
                    value: Listed(1),
                },
                Ip4Entry {
                    net: ip("1.2.3.64"),
                    len: 26,
                    value: Excluded,
                },
            ],
            ..Default::default()
        };
        let back = reparse(Ip4Set, &d).unwrap_or_default();
        for a in [
            "1.2.3.0",
            "1.2.3.4",
            "1.2.3.5",
            "1.2.3.63",
            "1.2.3.64",
            "1.2.3.127",
            "1.2.3.128",
            "1.2.5.1",
            "1.2.6.1",
            "1.2.16.0",
        ] {
            assert_eq!(lpm(&back, a), lpm(&d, a), "{a}");
        }
        assert!(back.ip4.len() > d.ip4.len());
        // ip4trie needs no rewriting.
        assert_eq!(reparse(Ip4Trie, &d).map(|b| b.ip4.len()), Ok(5));
    }

    #[test]
    fn writer_errors() {
        let base = DatasetData {
            answers: vec![spec(&[2], &[])],
            ..Default::default()
        };
        let one = |e: Ip4Entry| DatasetData {
            ip4: vec![e],
            ..base.clone()
        };
        let at = |s: &str, len: u8, value| Ip4Entry {
            net: ip(s),
            len,
            value,
        };

        let e = write_err(
            Ip4Set,
            &DatasetData {
                domains: vec![DomainEntry {
                    name: "a".into(),
                    matching: DomainMatch::Exact,
                    value: Listed(0),
                }],
                ..base.clone()
            },
        );
        assert!(e.contains("ip4set file cannot hold domain entries"), "{e}");
        let e = write_err(Dnset, &one(at("1.2.3.4", 32, Listed(0))));
        assert!(e.contains("cannot hold IPv4"), "{e}");
        let e = write_err(Ip4Set, &one(at("1.2.3.4", 32, Listed(7))));
        assert!(e.contains("answer 7"), "{e}");
        let e = write_err(Ip4Set, &one(at("1.2.3.4", 24, Listed(0))));
        assert!(e.contains("host bits"), "{e}");
        let e = write_err(Ip4Tset, &one(at("1.2.3.4", 32, Excluded)));
        assert!(
            e.contains("ip4tset lists single addresses only") && e.contains("!1.2.3.4"),
            "{e}"
        );
        let e = write_err(Ip4Tset, &one(at("1.2.3.0", 24, Listed(0))));
        assert!(e.contains("ip4tset lists single addresses only"), "{e}");
        let two = DatasetData {
            answers: vec![spec(&[2], &[]), spec(&[3], &[])],
            ip4: vec![at("1.2.3.4", 32, Listed(0)), at("1.2.3.5", 32, Listed(1))],
            ..Default::default()
        };
        let e = write_err(Ip4Tset, &two);
        assert!(e.contains("one answer for the whole dataset"), "{e}");
        let dup = DatasetData {
            ip4: vec![at("1.2.3.4", 32, Listed(0)), at("1.2.3.4", 32, Excluded)],
            ..base.clone()
        };
        let e = write_err(Ip4Trie, &dup);
        assert!(e.contains("1.2.3.4/32 appears twice"), "{e}");
        let bad_a = DatasetData {
            answers: vec![AnswerSpec::new(Ipv4Addr::new(10, 0, 0, 2), None)],
            ..one(at("1.2.3.4", 32, Listed(0)))
        };
        assert!(write_err(Ip4Set, &bad_a).contains("outside 127.0.0.0/8"));
        let no_a = DatasetData {
            answers: vec![AnswerSpec {
                a: vec![],
                txt: vec![],
            }],
            ..one(at("1.2.3.4", 32, Listed(0)))
        };
        assert!(write_err(Ip4Set, &no_a).contains("no A value"));
        for (t, why) in [
            ("$1 x", "substitution"),
            (" x", "whitespace"),
            ("a\nb", "control"),
            ("", "empty"),
        ] {
            let d = DatasetData {
                answers: vec![spec(&[2], &[t])],
                ..one(at("1.2.3.4", 32, Listed(0)))
            };
            let e = write_err(Ip4Set, &d);
            assert!(e.contains(why), "{t:?}: {e}");
        }
        let v6 = |net: u128, len: u8, value| DatasetData {
            ip6: vec![Ip6Entry { net, len, value }],
            ..base.clone()
        };
        assert!(
            write_err(Ip6Tset, &v6(ip6("2001:db8::"), 48, Listed(0)))
                .contains("ip6tset lists /64s")
        );
        assert!(write_err(Ip6Tset, &v6(ip6("2001:db8::"), 64, Excluded)).contains("the exclusion"));
        assert!(write_err(Ip6Trie, &v6(ip6("2001:db8::1"), 64, Listed(0))).contains("host bits"));
        let bad_dom = DatasetData {
            domains: vec![DomainEntry {
                name: "a..b".into(),
                matching: DomainMatch::Exact,
                value: Listed(0),
            }],
            ..base.clone()
        };
        assert!(write_err(Dnset, &bad_dom).contains("empty label"));
        let bad_ns = DatasetData {
            ns: vec!["-ns.example".into()],
            ..base.clone()
        };
        assert!(write_err(Dnset, &bad_ns).contains("starts with '-'"));
        let many_ns = DatasetData {
            ns: (0..33).map(|i| format!("ns{i}.example")).collect(),
            ..base.clone()
        };
        assert!(write_err(Dnset, &many_ns).contains("33 name servers"));
        let bad_soa = DatasetData {
            soa: Some(SoaSpec {
                mname: "a b".into(),
                ..soa()
            }),
            ..base
        };
        assert!(write_err(Dnset, &bad_soa).contains("SOA origin name"));
    }

    #[test]
    fn templates_survive_the_file_format() {
        // Normalized templates → file → normalized templates, and the same
        // expansion as rbldnsd applies to the file text.
        for t in [
            "Listed $ see x?q=$",
            "price $$10 for $",
            "100%",
            "=eq",
            "$$$",
            "a;b#c:d",
        ] {
            let d = DatasetData {
                answers: vec![spec(&[2], &[t])],
                ip4: vec![Ip4Entry {
                    net: ip("1.2.3.4"),
                    len: 32,
                    value: Listed(0),
                }],
                ..Default::default()
            };
            let back = reparse(Ip4Set, &d);
            assert_eq!(back, Ok(d), "{t}");
        }
        let mut out = String::new();
        expand_txt("price $$10 for $", "1.2.3.4", &mut out);
        assert_eq!(out, "price $10 for 1.2.3.4");
    }

    #[test]
    fn empty_data_writes_only_headers() {
        assert_eq!(text(Ip4Set, &DatasetData::default()), "");
        let d = DatasetData {
            ttl: Some(60),
            ..Default::default()
        };
        assert_eq!(text(Ip6Tset, &d), "$TTL 60\n");
        assert_eq!(reparse(Ip6Tset, &d), Ok(d));
    }
}

/// Property tests over generated junk: parsing never panics, and whatever
/// parses and can be written reads back to the same data.
#[cfg(test)]
pub(super) mod soup {
    use super::super::{DatasetType, parse, write};

    use crate::testrng::TestRng as Rng;

    const V4: &[&str] = &[
        "1.2.3.4",
        "1.2.3",
        "1.2",
        "10/8",
        "1.2.3.0/24",
        "1.2.3.4-10",
        "1.2-1.3",
        "0-255",
        "0/1",
        "0/0",
        "255.255.255.255",
        "1.2.3.128/25",
        "1.2.3.0/26",
        "1.2.0.0/20",
        "1.2.3.5",
        "1.2.3.6/31",
        "01.2.3.4",
    ];
    const V6: &[&str] = &[
        "2001:db8::",
        "2001:db8:1:2",
        "2001:db8:1:2::5",
        "::1",
        "2001:db8:c000/36",
        "::/0",
        "2001:db8::/32",
        "2001:db8:1:3",
        "2001:db8:1:2:3:4:5:6",
        "2001:db8:1:2::/64",
    ];
    const DOM: &[&str] = &[
        "a.example",
        "*.a.example",
        ".a.example",
        "test",
        "B.Example.",
        "*.b.example",
        "c-d.e_f",
    ];
    const VALUES: &[&str] = &[
        "",
        "",
        "",
        " :3",
        " :3:",
        " :3:txt $",
        " :127.0.0.4:t $1",
        " plain $$ text",
        " ;c",
        " #c",
        " =eq $",
        " :2:$=",
        " =",
        "\t:5:tab\t",
        " :127.0.0.2:Listed $",
        " x$y",
        " :6::c",
    ];
    const OTHER: &[&str] = &[
        ":2:default $",
        ":3",
        ":4:",
        ":5:$1 and $",
        "$1 var $",
        "$2 two",
        "$= base[$=]",
        "$TTL 1h",
        "$TTL 0",
        "$NS 1h ns1.example -ns2.example",
        "$NS 0 ns3.example",
        "$SOA 1h ns1.example hm.example 0 1h 1m 1w 30",
        "$MAXRANGE4 /16",
        "# comment",
        "",
        "#$Id$",
        ";$TTL 5",
        "$0 zero",
    ];

    pub(in super::super) fn line(r: &mut Rng, ty: DatasetType) -> String {
        let keys = match ty {
            DatasetType::Ip4Set | DatasetType::Ip4Trie | DatasetType::Ip4Tset => V4,
            DatasetType::Ip6Tset | DatasetType::Ip6Trie => V6,
            DatasetType::Dnset => DOM,
        };
        match r.next_u64() % 100 {
            0..20 => r.pick(OTHER).to_string(),
            20..23 => {
                // Junk from any pool.
                let pools = [V4, V6, DOM, VALUES, OTHER];
                (0..1 + r.next_u64() % 3)
                    .map(|_| {
                        let pool = pools[(r.next_u64() % 5) as usize];
                        *r.pick(pool)
                    })
                    .collect()
            }
            n => format!(
                "{}{}{}",
                if n < 32 { "!" } else { "" },
                *r.pick(keys),
                *r.pick(VALUES)
            ),
        }
    }

    #[test]
    fn junk_never_panics_and_round_trips() {
        let mut r = Rng::new(0x9e37_79b9_7f4a_7c15);
        let (mut parsed, mut written) = (0, 0);
        for _ in 0..3000 {
            for ty in DatasetType::ALL {
                let mut file = String::new();
                for _ in 0..(1 + r.next_u64() % 12) {
                    file.push_str(&line(&mut r, ty));
                    file.push('\n');
                }
                let Ok(d) = parse(ty, file.as_bytes()) else {
                    continue;
                };
                parsed += 1;
                let mut out = Vec::new();
                if write(ty, &d, &mut out).is_err() {
                    continue;
                }
                written += 1;
                let back = parse(ty, &out);
                assert_eq!(
                    back.as_ref(),
                    Ok(&d),
                    "{ty}\n--- input:\n{file}\n--- written:\n{}",
                    String::from_utf8_lossy(&out)
                );
            }
        }
        // The generator must exercise the success paths too.
        assert!(
            parsed > 1000 && written > 1000,
            "parsed {parsed}, written {written}"
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut r = Rng::new(42);
        for _ in 0..2000 {
            let len = (r.next_u64() % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| match r.next_u64() % 4 {
                    0 => b"0123456789.:/-!$ \n#;=*"[(r.next_u64() % 22) as usize],
                    _ => (r.next_u64() % 256) as u8,
                })
                .collect();
            for ty in DatasetType::ALL {
                let _ = parse(ty, &bytes);
            }
        }
    }
}
