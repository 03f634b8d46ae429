//! The data file parser: lines → directives, default values and entries →
//! [`DatasetData`].
//!
//! The input arrives in chunks ([`Loader::feed`]: a file is read a block
//! at a time, never held whole) and is split into lines here. The common
//! line (an address with the default value) is handled without
//! allocating: the key is parsed straight from the input bytes and the
//! default answer's index is cached; a plain dotted quad on its own line
//! takes a shorter path still. Values written after entries are interned
//! through a cache keyed by their raw bytes, so a value repeated on many
//! lines is parsed once. Entries go to the packed stores of `store.rs`.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::addr::{
    V4Key, V4Syntax, fmt_v4, fmt_v6, parse_v4_key, parse_v6, parse_v6_trie_key, parse_v6_tset_key,
    range_to_cidrs,
};
use super::lex::{
    bad_time, check_name, is_ws, parse_a_value, parse_decimal, parse_time, parse_value_name, quote,
    split_token, trim, trim_start,
};
use super::normalize::{self, Answers, DomEntry, EXCL, IpEntry, entry_value};
use super::store::{self, NameStore, V4Mode, V4Store};
use super::template::{RawText, Substitutions};
use super::{DatasetType, ParseError};
use crate::data::{AnswerSpec, Columns, DatasetData, DomainMatch, Ip4Entry, Ip6Entry, SoaSpec};

/// Longest accepted line, in bytes (rbldnsd truncates long lines with a
/// warning; fadelist refuses the file).
pub(super) const MAX_LINE: usize = 64 * 1024;

/// rbldnsd's A value when neither the entry nor a default line gives one.
pub(super) const DEFAULT_A: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// rbldnsd uses at most this many name servers from `$NS`.
pub(super) const MAX_NS: usize = 32;

/// An answer as written, before `$n` and `$=` are resolved.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RawAnswer {
    a: Ipv4Addr,
    /// `None`: no TXT text (the base template may still give one).
    txt: Option<RawText>,
}

/// Parser state for one file.
struct Parser {
    ty: DatasetType,
    /// 1-based number of the line being parsed.
    line: u32,
    raw: Vec<RawAnswer>,
    raw_ids: HashMap<RawAnswer, u32>,
    /// Raw value text after an entry → raw answer index; only valid for the
    /// current default (cleared when a default line changes it), because
    /// `:5` and plain text borrow parts of the default.
    value_cache: HashMap<Box<[u8]>, u32>,
    default: RawAnswer,
    default_id: Option<u32>,
    /// ip4tset/ip6tset: the first default line, which rbldnsd applies to
    /// the whole dataset.
    tset_default: Option<RawAnswer>,
    subs: Substitutions,
    soa: Option<SoaSpec>,
    ns: Vec<String>,
    ns_ttl: Option<u32>,
    ttl: Option<u32>,
    /// `$MAXRANGE4`, as a number of addresses.
    max_range4: u64,
    ip4: V4Store,
    ip6: Vec<IpEntry<u128>>,
    domains: NameStore,
}

/// Parses one data file held in memory; see the module documentation of
/// [`super`] for the accepted syntax.
pub(super) fn parse(ty: DatasetType, input: &[u8]) -> Result<DatasetData, ParseError> {
    let mut l = Loader::new(ty, input.len() as u64);
    l.feed(input);
    l.finish().map(to_data)
}

/// Bytes of a line kept for error messages once the line is known to be
/// too long or after an error (a quote shows 60 characters, at most 240
/// bytes of UTF-8).
const QUOTED: usize = 256;

/// Parses an rbldnsd data file given a block at a time, so that a big
/// file is never held in memory whole.
///
/// Feed the file's bytes in order with [`feed`](Self::feed) (blocks may
/// end anywhere, even inside a line), then call [`finish`](Self::finish).
/// The result is exactly what [`parse`](super::parse) gives for the whole
/// file, in the packed form [`Dataset::from_columns`] freezes; errors are
/// the same too (a NUL byte anywhere is reported before any other error,
/// so after an error the rest of the file is still scanned for one).
///
/// [`Dataset::from_columns`]: crate::dataset::Dataset::from_columns
pub struct Loader {
    p: Parser,
    /// The current line so far, when a block ended inside it (only its
    /// first [`QUOTED`] bytes once it is too long or after an error).
    carry: Vec<u8>,
    /// The current line's length so far.
    carry_len: usize,
    /// Complete lines so far.
    lines: usize,
    /// The first error; after it, only NUL bytes are looked for.
    failed: Option<ParseError>,
    /// A NUL byte: the error, whatever else the file holds.
    nul: Option<ParseError>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("type", &self.p.ty)
            .field("lines", &self.lines)
            .field("failed", &self.failed)
            .field("nul", &self.nul)
            .finish_non_exhaustive()
    }
}

impl Loader {
    /// A loader for a file of type `ty` and about `size` bytes (used to
    /// reserve room; any size works).
    pub fn new(ty: DatasetType, size: u64) -> Loader {
        let size = usize::try_from(size).unwrap_or(usize::MAX / 2);
        let mut p = Parser {
            ty,
            line: 0,
            raw: Vec::new(),
            raw_ids: HashMap::new(),
            value_cache: HashMap::new(),
            default: RawAnswer {
                a: DEFAULT_A,
                txt: None,
            },
            default_id: None,
            tset_default: None,
            subs: Substitutions::default(),
            soa: None,
            ns: Vec::new(),
            ns_ttl: None,
            ttl: None,
            max_range4: 1 << 32,
            ip4: V4Store::default(),
            ip6: Vec::new(),
            domains: NameStore::default(),
        };
        match ty {
            DatasetType::Ip4Set | DatasetType::Ip4Tset | DatasetType::Ip4Trie => {
                p.ip4 = V4Store::with_size(size)
            }
            DatasetType::Ip6Tset | DatasetType::Ip6Trie => p.ip6.reserve(size / 24),
            DatasetType::Dnset => p.domains = NameStore::with_size(size),
        }
        Loader {
            p,
            carry: Vec::new(),
            carry_len: 0,
            lines: 0,
            failed: None,
            nul: None,
        }
    }

    /// Parses the next block of the file.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        if self.nul.is_some() {
            return;
        }
        // `contains` on bytes is a word-at-a-time memchr; find the spot
        // only when there is one.
        if chunk.contains(&0)
            && let Some(p) = chunk.iter().position(|&b| b == 0)
        {
            let before = &chunk[..p];
            let line = self.lines + before.iter().filter(|&&b| b == b'\n').count() + 1;
            let text = match before.iter().rposition(|&b| b == b'\n') {
                Some(i) => before[i + 1..].to_vec(),
                None => [&self.carry[..], before].concat(),
            };
            self.nul = Some(ParseError {
                line,
                message: format!("NUL byte in the file (binary data?) after {}", quote(&text)),
            });
            return;
        }
        if self.failed.is_some() {
            self.skip(chunk);
            return;
        }
        if self.carry_len > 0 {
            let Some(i) = chunk.iter().position(|&b| b == b'\n') else {
                self.extend_carry(chunk);
                return;
            };
            self.extend_carry(&chunk[..i]);
            let line = std::mem::take(&mut self.carry);
            let len = std::mem::take(&mut self.carry_len);
            self.line_done(&line, len);
            chunk = &chunk[i + 1..];
            if self.failed.is_some() {
                self.skip(chunk);
                return;
            }
        }
        let v4 = matches!(
            self.p.ty,
            DatasetType::Ip4Set | DatasetType::Ip4Trie | DatasetType::Ip4Tset
        );
        let dn = self.p.ty == DatasetType::Dnset;
        loop {
            // The bulk of a big list: a dotted quad, or a domain name, alone
            // on its line.
            let plain = if v4 {
                quad_line(chunk).map(|(net, used)| (used, Plain::V4(net)))
            } else if dn {
                name_line(chunk).map(|(name, used)| (used, Plain::Name(name)))
            } else {
                None
            };
            if let Some((used, line)) = plain {
                self.lines += 1;
                self.p.line = u32::try_from(self.lines).unwrap_or(u32::MAX);
                let done = match line {
                    Plain::V4(net) => self.p.plain_v4(net).map(|()| true),
                    Plain::Name(name) => self.p.plain_name(name),
                };
                match done {
                    Ok(true) => {
                        chunk = &chunk[used..];
                        continue;
                    }
                    // Not a name after all: the general path says why.
                    Ok(false) => self.lines -= 1,
                    Err(message) => {
                        self.fail(message);
                        self.skip(&chunk[used..]);
                        return;
                    }
                }
            }
            let Some(i) = chunk.iter().position(|&b| b == b'\n') else {
                self.extend_carry(chunk);
                return;
            };
            self.line_done(&chunk[..i], i);
            chunk = &chunk[i + 1..];
            if self.failed.is_some() {
                self.skip(chunk);
                return;
            }
        }
    }

    /// Ends the file: the last line (which needs no newline), then the
    /// entries sorted, merged and numbered.
    ///
    /// The columns hold what [`parse`](super::parse) returns: the same
    /// answers in the same order, each IPv4, IPv6 and domain entry with the
    /// same value (a `.name` entry as a name and a wildcard), and the same
    /// `$TTL`, `$SOA` and `$NS`.
    pub fn finish(mut self) -> Result<Columns, ParseError> {
        if let Some(e) = self.nul {
            return Err(e);
        }
        if self.failed.is_none() && self.carry_len > 0 {
            let line = std::mem::take(&mut self.carry);
            let len = self.carry_len;
            self.line_done(&line, len);
        }
        match self.failed {
            Some(e) => Err(e),
            None => self.p.finish(),
        }
    }

    /// One complete line of `len` bytes (`line` holds them all unless the
    /// line is longer than [`MAX_LINE`]).
    fn line_done(&mut self, line: &[u8], len: usize) {
        self.lines += 1;
        if len > MAX_LINE {
            let message = format!(
                "line is {len} bytes long, more than the {} KiB limit: {}",
                MAX_LINE / 1024,
                quote(&line[..80.min(line.len())])
            );
            self.fail(message);
            return;
        }
        self.p.line = u32::try_from(self.lines).unwrap_or(u32::MAX);
        if let Err(message) = self.p.parse_line(line) {
            self.fail(message);
        }
    }

    fn fail(&mut self, message: String) {
        self.failed = Some(ParseError {
            line: self.lines,
            message,
        });
        self.carry.clear();
        self.carry_len = 0;
    }

    /// Adds to the current line; past [`MAX_LINE`] only its start is kept.
    fn extend_carry(&mut self, bytes: &[u8]) {
        self.carry_len += bytes.len();
        if self.carry_len <= MAX_LINE && self.failed.is_none() {
            self.carry.extend_from_slice(bytes);
        } else if self.carry.len() < QUOTED {
            let room = QUOTED - self.carry.len();
            self.carry
                .extend_from_slice(&bytes[..room.min(bytes.len())]);
        } else {
            self.carry.truncate(QUOTED);
        }
    }

    /// After an error: counts lines and keeps the start of the last one,
    /// for the message of a NUL byte further on.
    fn skip(&mut self, chunk: &[u8]) {
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                self.lines += chunk[..=i].iter().filter(|&&b| b == b'\n').count();
                self.carry.clear();
                self.carry_len = 0;
                self.extend_carry(&chunk[i + 1..]);
            }
            None => self.extend_carry(chunk),
        }
    }
}

/// A line the fast paths of [`Loader::feed`] take.
enum Plain<'a> {
    /// A dotted quad alone.
    V4(u32),
    /// A domain name alone (without a trailing dot, not checked yet).
    Name(&'a [u8]),
}

/// A domain name alone on the line at the start of `s` — name bytes and
/// dots up to the newline, the first one a name byte, so no value,
/// comment, `!`, `*.` or `.` prefix —: the name without one trailing dot,
/// and the bytes used, newline included.
#[inline]
fn name_line(s: &[u8]) -> Option<(&[u8], usize)> {
    if super::store::name_byte(*s.first()?) == 0 {
        return None;
    }
    let end = s
        .iter()
        .position(|&b| super::store::name_byte(b) == 0 && b != b'.')?;
    if s[end] != b'\n' {
        return None;
    }
    let name = &s[..end];
    Some((name.strip_suffix(b".").unwrap_or(name), end + 1))
}

/// `a.b.c.d\n` at the start of `s`, octets of 1–3 digits: the address
/// and the bytes used, newline included. Anything else (whitespace, a
/// value, a comment, a CIDR, longer zero-padded octets) takes the general
/// path, which reads the same line the same way.
#[inline]
fn quad_line(s: &[u8]) -> Option<(u32, usize)> {
    // 15 characters and the newline at most; shorter tails of a block go
    // byte by byte.
    let Some(s) = s.get(..16) else {
        return quad_line_short(s);
    };
    let mut i = 0;
    let mut v = 0u32;
    for sep in [b'.', b'.', b'.', b'\n'] {
        let d = s[i].wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        let mut o = u32::from(d);
        i += 1;
        let d = s[i].wrapping_sub(b'0');
        if d <= 9 {
            o = o * 10 + u32::from(d);
            i += 1;
            let d = s[i].wrapping_sub(b'0');
            if d <= 9 {
                o = o * 10 + u32::from(d);
                i += 1;
            }
        }
        if o > 255 || s[i] != sep {
            return None;
        }
        v = (v << 8) | o;
        i += 1;
    }
    Some((v, i))
}

/// [`quad_line`] near the end of a block.
fn quad_line_short(s: &[u8]) -> Option<(u32, usize)> {
    let (mut v, mut octet, mut digits, mut dots) = (0u32, 0u32, 0u32, 0u32);
    for (i, &b) in s.iter().enumerate() {
        match b {
            b'0'..=b'9' if digits < 3 => {
                octet = octet * 10 + u32::from(b - b'0');
                digits += 1;
            }
            b'.' if digits > 0 && dots < 3 && octet <= 255 => {
                v = (v << 8) | octet;
                (octet, digits) = (0, 0);
                dots += 1;
            }
            b'\n' if digits > 0 && dots == 3 && octet <= 255 => {
                return Some(((v << 8) | octet, i + 1));
            }
            _ => return None,
        }
    }
    None
}

/// The [`DatasetData`] form of `c` (what [`parse`] returns).
pub(super) fn to_data(c: Columns) -> DatasetData {
    let n = c.v4_exact.len();
    let mut ip4 = Vec::with_capacity(n + c.v4.len());
    let (mut i, mut j) = (0, 0);
    while i < n || j < c.v4.len() {
        if j < c.v4.len() && (i == n || c.v4[j].0 <= c.v4_exact.get(i).0) {
            let (net, len, val) = c.v4[j];
            ip4.push(Ip4Entry {
                net,
                len,
                value: entry_value(val),
            });
            j += 1;
        } else {
            let (net, val) = c.v4_exact.get(i);
            ip4.push(Ip4Entry {
                net,
                len: 32,
                value: entry_value(val),
            });
            i += 1;
        }
    }
    let ip6 =
        c.v6.iter()
            .map(|&(net, len, val)| Ip6Entry {
                net,
                len,
                value: entry_value(val),
            })
            .collect();
    let name = |r: &crate::data::NameRef| {
        let key = &c.names[r.off as usize..r.off as usize + usize::from(r.len)];
        crate::dataset::dnset::name_of_key(key)
    };
    let mut doms: Vec<DomEntry> = Vec::with_capacity(c.exact.len() + c.wild.len());
    for (list, wild) in [(&c.exact, false), (&c.wild, true)] {
        doms.extend(list.iter().map(|r| DomEntry {
            name: name(r),
            wild,
            val: r.val,
        }));
    }
    // No repeats are left, so this only sorts and folds `.name` pairs.
    let domains = normalize::dnset(doms, &mut Answers::default());
    DatasetData {
        answers: c.answers,
        ip4,
        ip6,
        domains,
        ttl: c.ttl,
        soa: c.soa,
        ns: c.ns,
        ns_ttl: c.ns_ttl,
    }
}

impl Parser {
    fn parse_line(&mut self, raw: &[u8]) -> Result<(), String> {
        let line = trim(raw);
        let Some(&first) = line.first() else {
            return Ok(());
        };
        let second = line.get(1).copied();
        match first {
            // `#$`, `;$` and `:$` lines are directives too (compatibility
            // with djbdns' rbldns, as rbldnsd does).
            b'#' | b';' if second == Some(b'$') => self.directive(&line[2..], true),
            b'#' | b';' => Ok(()),
            b'$' => self.directive(&line[1..], false),
            b':' if second == Some(b'$') => self.directive(&line[2..], false),
            // ip6trie reads `::1` as an address (rbldnsd does); every other
            // type takes a line starting with `:` as a default value.
            b':' if self.ty == DatasetType::Ip6Trie && second == Some(b':') => self.entry(line),
            b':' => self.default_line(line),
            _ => self.entry(line),
        }
    }

    /// `$keyword args`; `commented` for the `#$`/`;$` forms, where an
    /// unknown keyword is a comment that happens to start with `$`.
    fn directive(&mut self, body: &[u8], commented: bool) -> Result<(), String> {
        let kw_end = body.iter().position(|&b| is_ws(b)).unwrap_or(body.len());
        let (kw, args) = (&body[..kw_end], trim_start(&body[kw_end..]));
        let is = |name: &str| kw.eq_ignore_ascii_case(name.as_bytes());
        if is("SOA") {
            self.soa_directive(args)
        } else if is("NS") {
            self.ns_directive(args)
        } else if is("TTL") {
            let t = one_arg(args, "$TTL")?;
            // `$TTL 0` means "the server's default TTL".
            self.ttl = match parse_time(t) {
                Some(0) => None,
                Some(v) => Some(v),
                None => return Err(bad_time("$TTL value", t)),
            };
            Ok(())
        } else if is("MAXRANGE4") {
            self.maxrange_directive(args)
        } else if is("TIMESTAMP") {
            Err(
                "$TIMESTAMP is not supported by fadelist: its data expiry has no \
                 equivalent here; remove the line (and keep the data fresh instead)"
                    .into(),
            )
        } else if is("DATASET") {
            Err(
                "$DATASET belongs to rbldnsd's `combined` dataset type, which fadelist \
                 does not read; split the file into one file per dataset"
                    .into(),
            )
        } else if kw.len() == 1 && (kw[0].is_ascii_digit() || kw[0] == b'=') {
            if args.is_empty() {
                return Err(format!(
                    "${} needs a text (an empty substitution is rejected by rbldnsd too)",
                    char::from(kw[0])
                ));
            }
            let text = String::from_utf8_lossy(args).into_owned();
            // The first definition wins, as in rbldnsd (later ones are
            // ignored silently there too).
            let slot = match kw[0] {
                b'=' => &mut self.subs.base,
                d => &mut self.subs.vars[usize::from(d - b'0')],
            };
            slot.get_or_insert(text);
            Ok(())
        } else if commented {
            Ok(())
        } else {
            Err(format!(
                "unknown directive ${}; rbldnsd data files know $SOA, $NS, $TTL, \
                 $MAXRANGE4, $TIMESTAMP, $0 to $9 and $=",
                quote_bare(kw)
            ))
        }
    }

    fn soa_directive(&mut self, args: &[u8]) -> Result<(), String> {
        // Only the first $SOA counts; rbldnsd does not even look at later
        // ones, so neither do we.
        if self.soa.is_some() {
            return Ok(());
        }
        let f: Vec<&[u8]> = args
            .split(|&b| is_ws(b))
            .filter(|t| !t.is_empty())
            .collect();
        let [ttl, mname, rname, serial, refresh, retry, expire, minimum] = f[..] else {
            return Err(format!(
                "$SOA needs 8 fields (ttl origin-name person-mailbox serial refresh retry \
                 expire minttl), got {}: {}",
                f.len(),
                quote(args)
            ));
        };
        let time = |s: &[u8], what: &str| parse_time(s).ok_or_else(|| bad_time(what, s));
        self.soa = Some(SoaSpec {
            ttl: time(ttl, "$SOA ttl")?,
            mname: parse_value_name(mname, "$SOA origin name")?,
            rname: parse_value_name(rname, "$SOA person mailbox")?,
            serial: parse_decimal(serial)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| {
                    format!(
                        "invalid $SOA serial {}: expected 0 to 4294967295",
                        quote(serial)
                    )
                })?,
            refresh: time(refresh, "$SOA refresh")?,
            retry: time(retry, "$SOA retry")?,
            expire: time(expire, "$SOA expire")?,
            minimum: time(minimum, "$SOA minttl")?,
        });
        Ok(())
    }

    fn ns_directive(&mut self, args: &[u8]) -> Result<(), String> {
        let (ttl, mut rest) = split_token(args);
        let ttl = parse_time(ttl).ok_or_else(|| bad_time("$NS ttl", ttl))?;
        if rest.is_empty() {
            return Err("$NS needs a ttl and at least one name server".into());
        }
        let mut names = Vec::new();
        while !rest.is_empty() {
            let (name, next) = split_token(rest);
            rest = next;
            // `-name` is a name server commented out.
            if name.first() != Some(&b'-') {
                names.push(parse_value_name(name, "$NS name server")?);
            }
        }
        if names.len() > MAX_NS {
            return Err(format!(
                "$NS lists {} name servers; rbldnsd uses at most {MAX_NS}",
                names.len()
            ));
        }
        // The first $NS line with an active name server counts.
        if self.ns.is_empty() && !names.is_empty() {
            self.ns = names;
            self.ns_ttl = (ttl != 0).then_some(ttl);
        }
        Ok(())
    }

    fn maxrange_directive(&mut self, args: &[u8]) -> Result<(), String> {
        let arg = one_arg(args, "$MAXRANGE4")?;
        let n = match arg.strip_prefix(b"/") {
            Some(len) => parse_decimal(len)
                .filter(|l| (1..=32).contains(l))
                .map(|l| 1u64 << (32 - l)),
            None => parse_decimal(arg).filter(|&n| (1..=u64::from(u32::MAX)).contains(&n)),
        }
        .ok_or_else(|| {
            format!(
                "invalid $MAXRANGE4 {}: expected a prefix length /1 to /32 or a number \
                 of addresses",
                quote(arg)
            )
        })?;
        if n > self.max_range4 {
            return Err(format!(
                "$MAXRANGE4 can only be lowered (it is {} addresses, {n} requested); \
                 rbldnsd ignores this line",
                self.max_range4
            ));
        }
        self.max_range4 = n;
        Ok(())
    }

    /// A `:A:TXT` line: the default value for the entries that follow.
    fn default_line(&mut self, line: &[u8]) -> Result<(), String> {
        let (a, txt) = parse_colon_value(&line[1..]).map_err(|e| {
            // A line like `::1` is a default value to rbldnsd, not an address.
            let token = split_token(line).0;
            if parse_v6(token.split(|&b| b == b'/').next().unwrap_or(token)).is_some() {
                format!(
                    "{} starts with ':', so it is read as a default value line; {}",
                    quote(token),
                    match self.ty {
                        DatasetType::Ip6Tset => "ip6tset can only exclude such addresses (!::1)",
                        DatasetType::Ip6Trie => "write addresses that start with '::' in full",
                        _ => "IPv6 addresses do not belong in an IPv4 or domain dataset",
                    }
                )
            } else {
                e
            }
        })?;
        let value = RawAnswer {
            a,
            txt: txt.flatten(),
        };
        if is_tset(self.ty) {
            // rbldnsd uses the first default line for the whole dataset.
            self.tset_default.get_or_insert(value);
            return Ok(());
        }
        self.default = value;
        self.default_id = None;
        self.value_cache.clear();
        Ok(())
    }

    /// An entry line (possibly `!`-excluded) with an optional value.
    fn entry(&mut self, line: &[u8]) -> Result<(), String> {
        let (excluded, body) = match line.strip_prefix(b"!") {
            Some(rest) => (true, trim_start(rest)),
            None => (false, line),
        };
        if body.is_empty() {
            return Err("'!' without an entry to exclude".into());
        }
        // Where the key ends: IPv4 keys also end at `:` (value) and at `;`
        // or `#` (comment), IPv6 keys at `;`/`#`, domain names only at
        // whitespace — exactly as rbldnsd splits them.
        let end = match self.ty {
            DatasetType::Ip4Set | DatasetType::Ip4Trie | DatasetType::Ip4Tset => body
                .iter()
                .position(|&b| is_ws(b) || matches!(b, b':' | b';' | b'#')),
            DatasetType::Ip6Tset | DatasetType::Ip6Trie => body
                .iter()
                .position(|&b| is_ws(b) || matches!(b, b';' | b'#')),
            DatasetType::Dnset => body.iter().position(|&b| is_ws(b)),
        }
        .unwrap_or(body.len());
        let (key, rest) = (&body[..end], trim_start(&body[end..]));
        let line = self.line;
        match self.ty {
            DatasetType::Ip4Set | DatasetType::Ip4Trie => {
                let syntax = if self.ty == DatasetType::Ip4Set {
                    V4Syntax::Set
                } else {
                    V4Syntax::Trie
                };
                let k = parse_v4_key(key, syntax)?;
                if k.size() > self.max_range4 {
                    return Err(format!(
                        "{} covers {} addresses, more than $MAXRANGE4 allows ({})",
                        quote(key),
                        k.size(),
                        self.max_range4
                    ));
                }
                let val = if excluded { EXCL } else { self.value(rest)? };
                match k {
                    V4Key::Cidr(net, len) => self.ip4.push(net, len, val, line)?,
                    V4Key::Range(first, last) => {
                        let mut res = Ok(());
                        range_to_cidrs(first, last, |net, len| {
                            if res.is_ok() {
                                res = self.ip4.push(net, len, val, line);
                            }
                        });
                        res?
                    }
                }
            }
            DatasetType::Ip4Tset => {
                if excluded {
                    return Err("ip4tset does not support exclusions (!); use ip4set or \
                                ip4trie for that"
                        .into());
                }
                // Values after the address are ignored, as by rbldnsd: the
                // whole dataset shares the first default line.
                if let V4Key::Cidr(net, len) = parse_v4_key(key, V4Syntax::Tset)? {
                    self.ip4.push(net, len, 0, line)?;
                }
            }
            DatasetType::Ip6Tset => {
                let (net, len) = parse_v6_tset_key(key, excluded)?;
                let val = if excluded { EXCL } else { 0 };
                self.ip6.push(IpEntry {
                    net,
                    len,
                    val,
                    line,
                });
            }
            DatasetType::Ip6Trie => {
                let (net, len) = parse_v6_trie_key(key)?;
                let val = if excluded { EXCL } else { self.value(rest)? };
                self.ip6.push(IpEntry {
                    net,
                    len,
                    val,
                    line,
                });
            }
            DatasetType::Dnset => {
                let (name, matching) = parse_domain(key)?;
                // The name is checked (and stored) before the value is read:
                // a bad name is the error even when the value is bad too.
                let Some((off, len)) = self.domains.add_key(name)? else {
                    let why = check_name(name)
                        .err()
                        .unwrap_or_else(|| "not a host name".into());
                    return Err(format!("invalid domain name {}: {why}", quote(key)));
                };
                let val = if excluded { EXCL } else { self.value(rest)? };
                self.domains.add_entries(off, len, matching, val);
            }
        }
        Ok(())
    }

    /// A line that is a domain name and nothing else (dnset): the name
    /// with the default value, `Ok(false)` (nothing stored) when it is no
    /// valid name.
    #[inline]
    fn plain_name(&mut self, name: &[u8]) -> Result<bool, String> {
        let Some((off, len)) = self.domains.add_key(name)? else {
            return Ok(false);
        };
        let val = match self.default_id {
            Some(id) => id,
            None => self.value(b"")?,
        };
        self.domains.add_entries(off, len, DomainMatch::Exact, val);
        Ok(true)
    }

    /// A line that is a dotted quad and nothing else: a /32 with the
    /// default value (what [`entry`](Self::entry) makes of it, faster).
    #[inline]
    fn plain_v4(&mut self, net: u32) -> Result<(), String> {
        let val = match (self.ty, self.default_id) {
            (DatasetType::Ip4Tset, _) => 0,
            (_, Some(id)) => id,
            (_, None) => self.value(b"")?,
        };
        self.ip4.push32(net, val, self.line)
    }

    /// The raw answer index for the value text after an entry (`rest`,
    /// trimmed; empty or a comment means the default).
    fn value(&mut self, rest: &[u8]) -> Result<u32, String> {
        if matches!(rest.first(), None | Some(b'#' | b';')) {
            if let Some(id) = self.default_id {
                return Ok(id);
            }
            let id = self.intern(self.default.clone());
            self.default_id = Some(id);
            return Ok(id);
        }
        if let Some(&id) = self.value_cache.get(rest) {
            return Ok(id);
        }
        let answer = match rest.strip_prefix(b":") {
            Some(v) => {
                let (a, txt) = parse_colon_value(v)?;
                RawAnswer {
                    a,
                    // `:A` without a second colon keeps the default TXT.
                    txt: txt.unwrap_or_else(|| self.default.txt.clone()),
                }
            }
            None => RawAnswer {
                a: self.default.a,
                txt: Some(RawText::new(rest)?),
            },
        };
        let id = self.intern(answer);
        self.value_cache.insert(rest.into(), id);
        Ok(id)
    }

    fn intern(&mut self, answer: RawAnswer) -> u32 {
        if let Some(&id) = self.raw_ids.get(&answer) {
            return id;
        }
        let id = self.raw.len() as u32;
        self.raw.push(answer.clone());
        self.raw_ids.insert(answer, id);
        id
    }

    /// Resolves templates, normalizes the entries and assembles the result.
    fn finish(self) -> Result<Columns, ParseError> {
        let mut answers = Answers::default();
        let resolve = |r: &RawAnswer, subs: &Substitutions| AnswerSpec {
            a: vec![r.a],
            txt: subs.resolve(r.txt.as_ref()).into_iter().collect(),
        };
        let map: Vec<u32> = if is_tset(self.ty) {
            let only = self.tset_default.unwrap_or(RawAnswer {
                a: DEFAULT_A,
                txt: None,
            });
            vec![answers.intern(resolve(&only, &self.subs))]
        } else {
            self.raw
                .iter()
                .map(|r| answers.intern(resolve(r, &self.subs)))
                .collect()
        };
        let mapped = |val: u32| if val == EXCL { EXCL } else { map[val as usize] };
        let mut cols = Columns {
            ttl: self.ttl,
            soa: self.soa,
            ns: self.ns,
            ns_ttl: self.ns_ttl,
            ..Columns::default()
        };
        let conflict = |line: u32, key: String, first: u32| ParseError {
            line: line as usize,
            message: format!(
                "{key} is listed again with a different value (first on line {first}); \
                 rbldnsd would keep the first and warn, fadelist asks you to remove one"
            ),
        };
        match self.ty {
            DatasetType::Ip4Set | DatasetType::Ip4Trie | DatasetType::Ip4Tset => {
                let mode = if self.ty == DatasetType::Ip4Set {
                    V4Mode::Set
                } else {
                    V4Mode::Trie
                };
                let (exact, other) = self
                    .ip4
                    .finish(mode, mapped, &mut answers)
                    .map_err(|(a, b)| conflict(b.line, fmt_v4(a.net, a.len), a.line))?;
                cols.v4_exact = exact;
                cols.v4 = other.iter().map(|e| (e.net, e.len, e.val)).collect();
            }
            DatasetType::Ip6Tset | DatasetType::Ip6Trie => {
                let mut v = self.ip6;
                v.iter_mut().for_each(|e| e.val = mapped(e.val));
                normalize::dedup_trie(&mut v).map_err(|(a, b)| {
                    conflict(b.line, format!("{}/{}", fmt_v6(a.net), a.len), a.line)
                })?;
                cols.v6 = v.into_iter().map(|e| (e.net, e.len, e.val)).collect();
            }
            DatasetType::Dnset => {
                let (names, exact, wild) = self.domains.finish(mapped, &mut answers);
                cols.names = names;
                cols.exact = exact;
                cols.wild = wild;
            }
        }
        store::compact(&mut cols, answers.specs);
        Ok(cols)
    }
}

/// True for the "trivial" types with one answer per dataset.
fn is_tset(ty: DatasetType) -> bool {
    matches!(ty, DatasetType::Ip4Tset | DatasetType::Ip6Tset)
}

/// The single argument of a directive.
fn one_arg<'a>(args: &'a [u8], what: &str) -> Result<&'a [u8], String> {
    match split_token(args) {
        (a, b"") if !a.is_empty() => Ok(a),
        _ => Err(format!(
            "{what} takes exactly one value, got {}",
            quote(args)
        )),
    }
}

/// A directive keyword for a message (quoted text without the quotes).
fn quote_bare(s: &[u8]) -> String {
    let q = quote(s);
    q[1..q.len() - 1].to_owned()
}

/// The part of a value after its leading `:` — `A`, `A:` or `A:TXT` —
/// as `(A, TXT)`. TXT is `None` without a second colon, `Some(None)` when
/// the text after it is empty (explicitly no TXT).
pub(super) fn parse_colon_value(v: &[u8]) -> Result<(Ipv4Addr, Option<Option<RawText>>), String> {
    match v.iter().position(|&b| b == b':') {
        Some(p) => {
            let a = parse_a_value(&v[..p])?;
            let text = trim(&v[p + 1..]);
            let txt = if text.is_empty() {
                None
            } else {
                Some(RawText::new(text)?)
            };
            Ok((a, Some(txt)))
        }
        None => Ok((parse_a_value(v)?, None)),
    }
}

/// A dnset key: `name`, `*.name` or `.name`, without the trailing dot
/// (case as written). The name itself is checked as it is stored
/// ([`NameStore::add_key`]).
fn parse_domain(key: &[u8]) -> Result<(&[u8], DomainMatch), String> {
    let (matching, rest) = if let Some(r) = key.strip_prefix(b"*.") {
        (DomainMatch::Subdomains, r)
    } else if let Some(r) = key.strip_prefix(b".") {
        (DomainMatch::Both, r)
    } else {
        (DomainMatch::Exact, key)
    };
    if key == b"*" {
        return Err(
            "a bare * is not a dnset entry; write *.example.com for the names \
                    below example.com"
                .into(),
        );
    }
    Ok((rest.strip_suffix(b".").unwrap_or(rest), matching))
}

#[cfg(test)]
mod tests {
    use super::super::{expand_txt, parse};
    use super::*;
    use crate::data::{DomainEntry, EntryValue};

    fn ip(s: &str) -> u32 {
        s.parse::<Ipv4Addr>().map(u32::from).unwrap_or(u32::MAX)
    }
    fn ip6(s: &str) -> u128 {
        s.parse::<std::net::Ipv6Addr>()
            .map(u128::from)
            .unwrap_or(u128::MAX)
    }
    fn ok(ty: DatasetType, text: &str) -> DatasetData {
        parse(ty, text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n--- input:\n{text}"))
    }
    fn err(ty: DatasetType, text: &str) -> ParseError {
        match parse(ty, text.as_bytes()) {
            Ok(d) => panic!("expected an error, got {d:?}\n--- input:\n{text}"),
            Err(e) => e,
        }
    }
    /// Asserts an error on `line` whose message contains every needle.
    fn assert_err(ty: DatasetType, text: &str, line: usize, needles: &[&str]) {
        let e = err(ty, text);
        assert_eq!(e.line, line, "{e}");
        for n in needles {
            assert!(e.message.contains(n), "{n:?} not in: {e}");
        }
    }
    /// The A values (last octet) and expanded TXTs an IPv4 set answers for
    /// `addr`, by longest prefix (what the dataset builder does).
    fn answer4(d: &DatasetData, addr: &str) -> Option<(Vec<u8>, Vec<String>)> {
        let a = ip(addr);
        let best = d
            .ip4
            .iter()
            .filter(|e| a & super::super::addr::mask4(e.len) == e.net)
            .max_by_key(|e| e.len)?;
        spec_answer(d, best.value, addr)
    }
    fn spec_answer(
        d: &DatasetData,
        v: EntryValue,
        subject: &str,
    ) -> Option<(Vec<u8>, Vec<String>)> {
        let EntryValue::Listed(i) = v else {
            return None;
        };
        let s = &d.answers[i as usize];
        let txt = s
            .txt
            .iter()
            .map(|t| {
                let mut out = String::new();
                expand_txt(t, subject, &mut out);
                out
            })
            .collect();
        Some((s.a.iter().map(|x| x.octets()[3]).collect(), txt))
    }
    fn a_txt(a: &[u8], txt: &[&str]) -> Option<(Vec<u8>, Vec<String>)> {
        Some((a.to_vec(), txt.iter().map(|s| s.to_string()).collect()))
    }
    fn e4(net: &str, len: u8, value: EntryValue) -> Ip4Entry {
        Ip4Entry {
            net: ip(net),
            len,
            value,
        }
    }
    use DatasetType::*;
    use EntryValue::{Excluded, Listed};

    #[test]
    fn quad_line_fast_path() {
        for text in [
            "1.2.3.4\n",
            "255.255.255.255\nmore",
            "0.0.0.0\n",
            "001.02.3.4\n",
            "10.20.30.40\n1.2.3.4\n",
        ] {
            for pad in ["", "xxxxxxxxxxxxxxxxxx"] {
                let s = format!("{text}{pad}");
                let want = s
                    .split('\n')
                    .next()
                    .and_then(|l| l.parse::<Ipv4Addr>().ok().map(u32::from));
                let want = want.or_else(|| (text == "001.02.3.4\n").then_some(0x0102_0304));
                let len = text.find('\n').map(|i| i + 1);
                assert_eq!(quad_line(s.as_bytes()), want.zip(len), "{s:?}");
                assert_eq!(quad_line_short(text.as_bytes()), want.zip(len), "{text:?}");
            }
        }
        for bad in [
            "1.2.3.4",
            "1.2.3.4 \n",
            "1.2.3.256\n",
            "1.2.3\n",
            "1.2.3.4.5\n",
            "0001.2.3.4\n",
            "1..2.3\n",
            ".1.2.3\n",
            "1.2.3.4/32\n",
            "1.2.3.4:5\n",
            "1.2.3.4\r\n",
            "a.b.c.d\n",
        ] {
            for pad in ["", "xxxxxxxxxxxxxxxxxx"] {
                let s = format!("{bad}{pad}");
                assert_eq!(quad_line(s.as_bytes()), None, "{s:?}");
            }
            assert_eq!(quad_line_short(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn empty_and_comment_only_files() {
        assert_eq!(ok(Ip4Set, ""), DatasetData::default());
        assert_eq!(
            ok(Dnset, "\n\n  \t\n# c\n; c\n   # indented\r\n"),
            DatasetData::default()
        );
    }

    #[test]
    fn default_value_is_127_0_0_2_without_txt() {
        let d = ok(Ip4Set, "1.2.3.4\n");
        assert_eq!(d.answers, vec![AnswerSpec::new(DEFAULT_A, None)]);
        assert_eq!(d.ip4, vec![e4("1.2.3.4", 32, Listed(0))]);
    }

    #[test]
    fn value_forms_follow_the_manual() {
        // The example of the manual's "Resulting A values and TXT templates".
        let d = ok(
            Ip4Set,
            "# default A value and TXT template\n\
             :127.0.0.2:IP address $ is listed\n\
             127.0.0.4\n\
             127.0.0.5 :5\n\
             127.0.0.6 :6:\n\
             127.0.0.7 IP address $ running an open relay\n",
        );
        assert_eq!(
            answer4(&d, "127.0.0.4"),
            a_txt(&[2], &["IP address 127.0.0.4 is listed"])
        );
        assert_eq!(
            answer4(&d, "127.0.0.5"),
            a_txt(&[5], &["IP address 127.0.0.5 is listed"])
        );
        assert_eq!(answer4(&d, "127.0.0.6"), a_txt(&[6], &[]));
        assert_eq!(
            answer4(&d, "127.0.0.7"),
            a_txt(&[2], &["IP address 127.0.0.7 running an open relay"])
        );
        assert_eq!(d.answers.len(), 4);
    }

    #[test]
    fn value_details_observed_on_rbldnsd() {
        let d = ok(
            Ip4Set,
            "1.0.0.1 :127.1:x\n\
             1.0.0.2 :127.0.5:x\n\
             1.0.0.3 :010:x\n\
             1.0.0.4\t:4:  lead and trail spaces   \n\
             1.0.0.5 ; comment\n\
             1.0.0.6 # comment\n\
             1.0.0.7 text # not a comment\n\
             1.0.0.8:8:nospace\n\
             1.0.0.9 :9:a:b:c\n\
             1.0.0.10 =eq\n\
             1.0.0.11 :11:=eq\n\
             1.0.0.12 :12::colon\n\
             1.0.0.13 :13:#hash\n\
             1.0.0.14 - 1.0.0.15\n\
             1.0.0.16;c\n\
             1.0.0.17 :17 \n\
             1.0.0.18 a\tb  c\n",
        );
        let r = |s: &str| answer4(&d, s);
        assert_eq!(r("1.0.0.1"), a_txt(&[1], &["x"]));
        assert_eq!(r("1.0.0.2"), a_txt(&[5], &["x"]));
        assert_eq!(r("1.0.0.3"), a_txt(&[10], &["x"]));
        assert_eq!(r("1.0.0.4"), a_txt(&[4], &["lead and trail spaces"]));
        assert_eq!(r("1.0.0.5"), a_txt(&[2], &[]));
        assert_eq!(r("1.0.0.6"), a_txt(&[2], &[]));
        assert_eq!(r("1.0.0.7"), a_txt(&[2], &["text # not a comment"]));
        assert_eq!(r("1.0.0.8"), a_txt(&[8], &["nospace"]));
        assert_eq!(r("1.0.0.9"), a_txt(&[9], &["a:b:c"]));
        assert_eq!(r("1.0.0.10"), a_txt(&[2], &["eq"]));
        assert_eq!(r("1.0.0.11"), a_txt(&[11], &["eq"]));
        assert_eq!(r("1.0.0.12"), a_txt(&[12], &[":colon"]));
        assert_eq!(r("1.0.0.13"), a_txt(&[13], &["#hash"]));
        assert_eq!(r("1.0.0.14"), a_txt(&[2], &["- 1.0.0.15"]));
        assert_eq!(r("1.0.0.15"), None);
        assert_eq!(r("1.0.0.16"), a_txt(&[2], &[]));
        assert_eq!(r("1.0.0.17"), a_txt(&[17], &[]));
        assert_eq!(r("1.0.0.18"), a_txt(&[2], &["a\tb  c"]));
    }

    #[test]
    fn default_lines() {
        let d = ok(
            Ip4Set,
            ":2:foo $\n1.0.0.2\n\
             :3\n1.0.0.3\n\
             :4:\n1.0.0.4\n\
             :5:bar\n1.0.0.5\n1.0.0.6 :6\n\
             \t:7:   \n1.0.0.7\n",
        );
        assert_eq!(answer4(&d, "1.0.0.2"), a_txt(&[2], &["foo 1.0.0.2"]));
        // `:3` replaces the whole default: A 3 and no TXT.
        assert_eq!(answer4(&d, "1.0.0.3"), a_txt(&[3], &[]));
        assert_eq!(answer4(&d, "1.0.0.4"), a_txt(&[4], &[]));
        assert_eq!(answer4(&d, "1.0.0.5"), a_txt(&[5], &["bar"]));
        assert_eq!(answer4(&d, "1.0.0.6"), a_txt(&[6], &["bar"]));
        assert_eq!(answer4(&d, "1.0.0.7"), a_txt(&[7], &[]));
    }

    #[test]
    fn value_cache_respects_default_changes() {
        // `:9` borrows the default TXT; the same text after a new default
        // line must not reuse the old answer.
        let d = ok(Ip4Set, ":2:one\n1.0.0.1 :9\n:2:two\n1.0.0.2 :9\n");
        assert_eq!(answer4(&d, "1.0.0.1"), a_txt(&[9], &["one"]));
        assert_eq!(answer4(&d, "1.0.0.2"), a_txt(&[9], &["two"]));
    }

    #[test]
    fn answers_are_interned() {
        let d = ok(
            Ip4Set,
            ":3:same\n1.0.0.1\n1.0.0.2 :3:same\n1.0.0.3 same\n1.0.0.4\n1.0.0.5 other\n",
        );
        assert_eq!(
            d.answers,
            vec![
                AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 3), Some("same".into())),
                AnswerSpec::new(Ipv4Addr::new(127, 0, 0, 3), Some("other".into())),
            ]
        );
        assert_eq!(d.ip4.iter().filter(|e| e.value == Listed(0)).count(), 4);
    }

    #[test]
    fn substitution_variables() {
        // The manual's example.
        let d = ok(
            Ip4Set,
            "$1 See http://www.example.com/bl\n\
             $2 for details\n\
             127.0.0.2  $1/spammer/$ $2\n\
             127.0.0.3  $1/relay/$ $2\n\
             127.0.0.4  This spammer wants some $$$$.  $1/$\n",
        );
        let t = |s: &str| answer4(&d, s).map(|(_, t)| t);
        assert_eq!(
            t("127.0.0.2"),
            Some(vec![
                "See http://www.example.com/bl/spammer/127.0.0.2 for details".into()
            ])
        );
        assert_eq!(
            t("127.0.0.3"),
            Some(vec![
                "See http://www.example.com/bl/relay/127.0.0.3 for details".into()
            ])
        );
        assert_eq!(
            t("127.0.0.4"),
            Some(vec![
                "This spammer wants some $$.  See http://www.example.com/bl/127.0.0.4".into()
            ])
        );
        // Stored normalized: variables gone, literal dollars doubled.
        assert!(d.answers.iter().all(|a| !a.txt[0].contains("$1")));
        assert!(d.answers.iter().any(|a| a.txt[0].contains("$$$$.")));
    }

    #[test]
    fn substitution_scope_and_edge_cases() {
        // Used before its definition, first definition wins, undefined
        // stays literal, variable text is not expanded (rbldnsd 1.0).
        let d = ok(
            Ip4Set,
            "1.0.0.1 [$4]\n$4 four\n$4 again\n$1 one[$] $2\n$5   spaced   \n\
             1.0.0.2 [$1][$3][$5]\n$0 zero\n1.0.0.3 $0$\n",
        );
        let t = |s: &str| answer4(&d, s).map(|(_, t)| t);
        assert_eq!(t("1.0.0.1"), Some(vec!["[four]".into()]));
        assert_eq!(t("1.0.0.2"), Some(vec!["[one[$] $2][$3][spaced]".into()]));
        assert_eq!(t("1.0.0.3"), Some(vec!["zero1.0.0.3".into()]));
        assert_err(Ip4Set, "$6\n", 1, &["$6", "needs a text"]);
        assert_err(Ip4Set, "1.2.3.4\n$=   \n", 2, &["$=", "needs a text"]);
        assert_err(Ip4Set, "$12 x\n", 1, &["unknown directive $12"]);
        assert_err(Ip4Set, "$ 7\n", 1, &["unknown directive $"]);
    }

    #[test]
    fn base_template() {
        // The manual's example, plus entries without text or with `=`.
        let d = ok(
            Ip4Set,
            "127.0.0.5 :5:\n\
             $= See http://www.example.com/bl?$= ($) for details\n\
             127.0.0.2    r123\n\
             127.0.0.3\n\
             127.0.0.4    =See other blocklists for details about $\n\
             127.0.0.6 =\n\
             $= ignored second base\n",
        );
        let t = |s: &str| answer4(&d, s).map(|(_, t)| t);
        assert_eq!(
            t("127.0.0.2"),
            Some(vec![
                "See http://www.example.com/bl?r123 (127.0.0.2) for details".into()
            ])
        );
        assert_eq!(
            t("127.0.0.3"),
            Some(vec![
                "See http://www.example.com/bl?127.0.0.3 (127.0.0.3) for details".into()
            ])
        );
        assert_eq!(
            t("127.0.0.4"),
            Some(vec![
                "See other blocklists for details about 127.0.0.4".into()
            ])
        );
        // Even an entry with "no TXT" gets the base template.
        assert_eq!(
            t("127.0.0.5"),
            Some(vec![
                "See http://www.example.com/bl?127.0.0.5 (127.0.0.5) for details".into()
            ])
        );
        assert_eq!(t("127.0.0.6"), Some(vec![]));
    }

    #[test]
    fn soa_ns_ttl() {
        let d = ok(
            Ip4Set,
            "#$SOA 1h ns1.example.net. Host.Example.Net 0 2h 30m 1w 1d\n\
             $SOA garbage that rbldnsd never reads\n\
             $NS 1h -disabled.example ns1.example.net NS3.example.net.\n\
             $NS 2h ns9.example.net\n\
             $ttl 35M\n\
             1.2.3.4\n",
        );
        assert_eq!(
            d.soa,
            Some(SoaSpec {
                ttl: 3600,
                mname: "ns1.example.net".into(),
                rname: "Host.Example.Net".into(),
                serial: 0,
                refresh: 7200,
                retry: 1800,
                expire: 604_800,
                minimum: 86_400,
            })
        );
        assert_eq!(
            d.ns,
            vec!["ns1.example.net".to_string(), "NS3.example.net".to_string()]
        );
        assert_eq!(d.ns_ttl, Some(3600));
        assert_eq!(d.ttl, Some(2100));
    }

    #[test]
    fn ns_and_ttl_details() {
        // A $NS line whose servers are all disabled does not count.
        let d = ok(Dnset, "$NS 1h -a.example\n$NS 0 b.example\n");
        assert_eq!(d.ns, vec!["b.example".to_string()]);
        assert_eq!(d.ns_ttl, None, "0 means the default TTL");
        // The last $TTL wins; 0 means the server default.
        assert_eq!(ok(Dnset, "$TTL 100\n$TTL 200\n").ttl, Some(200));
        assert_eq!(ok(Dnset, "$TTL 100\n$TTL 0\n").ttl, None);
        assert_eq!(ok(Dnset, ";$TTL 5\n").ttl, Some(5));
        assert_eq!(ok(Dnset, ":$TTL 6\n").ttl, Some(6));
        assert_eq!(ok(Dnset, "  $TTL\t7\n").ttl, Some(7));
        assert_eq!(ok(Dnset, "# $TTL 8\n").ttl, None, "a comment");
        // `#$` lines with unknown keywords are just comments (e.g. RCS ids).
        assert_eq!(
            ok(Dnset, "#$Id: bl.txt,v 1.2 $\n;$ note\n"),
            DatasetData::default()
        );
        let many: Vec<String> = (0..33).map(|i| format!("ns{i}.example")).collect();
        assert_err(
            Dnset,
            &format!("$NS 1h {}\n", many.join(" ")),
            1,
            &["33 name servers", "32"],
        );
    }

    #[test]
    fn directive_errors() {
        assert_err(
            Ip4Set,
            "\n$SOA 1h ns1.ex hm.ex 5 2h 30m 1w\n",
            2,
            &["$SOA needs 8 fields", "got 7"],
        );
        assert_err(
            Ip4Set,
            "$SOA 1h ns1.ex hm.ex 5h 2h 30m 1w 1d\n",
            1,
            &["$SOA serial", "\"5h\""],
        );
        assert_err(
            Ip4Set,
            "$SOA 1h ns1.ex hm.ex 4294967296 2h 30m 1w 1d\n",
            1,
            &["$SOA serial"],
        );
        assert_err(
            Ip4Set,
            "$SOA 1x ns1.ex hm.ex 1 2h 30m 1w 1d\n",
            1,
            &["$SOA ttl", "\"1x\""],
        );
        assert_err(
            Ip4Set,
            "$SOA 1h ns1.ex hm.ex 1 2h 30m 1w 1d1\n",
            1,
            &["$SOA minttl"],
        );
        assert_err(
            Ip4Set,
            "$SOA 1h a..b hm.ex 1 2h 30m 1w 1d\n",
            1,
            &["$SOA origin name", "empty label"],
        );
        assert_err(
            Ip4Set,
            "$SOA 1h a hm@ex 1 2h 30m 1w 1d\n",
            1,
            &["$SOA person mailbox", "'@'"],
        );
        assert_err(Ip4Set, "$NS 0\n", 1, &["$NS needs"]);
        assert_err(Ip4Set, "$NS ns1.ex ns2.ex\n", 1, &["$NS ttl", "ns1.ex"]);
        assert_err(
            Ip4Set,
            "$NS 1h ns1.ex bad/name\n",
            1,
            &["$NS name server", "bad/name"],
        );
        assert_err(Ip4Set, "$TTL 1h30m\n", 1, &["$TTL value", "1h30m"]);
        assert_err(Ip4Set, "$TTL 30 x\n", 1, &["$TTL takes exactly one value"]);
        assert_err(Ip4Set, "$TTL\n", 1, &["$TTL takes exactly one value"]);
        assert_err(Ip4Set, "$TTL77\n", 1, &["unknown directive $TTL77"]);
        assert_err(
            Ip4Set,
            "\n\n$FOO 1\n",
            3,
            &["unknown directive $FOO", "$SOA"],
        );
        assert_err(Ip4Set, "$$TTL 1\n", 1, &["unknown directive $$TTL"]);
        assert_err(Ip4Set, "$ENT\n", 1, &["unknown directive $ENT"]);
        assert_err(
            Ip4Set,
            "$TIMESTAMP 2020:01:01\n",
            1,
            &["$TIMESTAMP is not supported"],
        );
        assert_err(Ip4Set, "$DATASET ip4set x\n", 1, &["$DATASET", "combined"]);
        assert_err(Ip4Set, "#$TIMESTAMP 2020:01:01\n", 1, &["$TIMESTAMP"]);
    }

    #[test]
    fn maxrange4() {
        let d = ok(
            Ip4Set,
            "1.0.0.0/16\n$MAXRANGE4 /24\n3.0.0.0/24\n$MAXRANGE4 100\n5.0.1.0/26\n",
        );
        assert_eq!(d.ip4.len(), 3);
        assert_err(
            Ip4Set,
            "$MAXRANGE4 /24\n3.0.0.0/23\n",
            2,
            &["covers 512 addresses", "256"],
        );
        assert_err(
            Ip4Set,
            "$MAXRANGE4 256\n4.0.0.0-4.0.1.0\n",
            2,
            &["covers 257 addresses"],
        );
        assert_err(
            Ip4Set,
            "$MAXRANGE4 256\n!3.0.0.0/16\n",
            2,
            &["covers 65536 addresses"],
        );
        assert_err(Ip4Trie, "$MAXRANGE4 /24\n1.2.0.0/16\n", 2, &["$MAXRANGE4"]);
        assert_err(
            Ip4Set,
            "$MAXRANGE4 /24\n$MAXRANGE4 /16\n",
            2,
            &["only be lowered"],
        );
        for bad in ["/0", "/33", "0", "4294967296", "1k", "-1", ""] {
            let e = err(Ip4Set, &format!("$MAXRANGE4 {bad}\n"));
            assert!(e.message.contains("$MAXRANGE4"), "{bad}: {e}");
        }
        // Accepted (and irrelevant) in the other types.
        assert_eq!(ok(Dnset, "$MAXRANGE4 /24\na.example\n").domains.len(), 1);
        assert_eq!(ok(Ip6Trie, "$MAXRANGE4 /24\n2001::/16\n").ip6.len(), 1);
    }

    #[test]
    fn ip4set_entry_forms() {
        let d = ok(
            Ip4Set,
            "1.2.3.4\n5.6.7\n8.9\n10/8\n11.0.0.0/8\n1.2.3.4-10\n127.16-31\n0/1\n12.0.0.0-12.0.0.255\n",
        );
        let mut got: Vec<(String, u8)> = d
            .ip4
            .iter()
            .map(|e| (Ipv4Addr::from(e.net).to_string(), e.len))
            .collect();
        got.sort();
        let mut want: Vec<(String, u8)> = [
            ("1.2.3.4", 30),
            ("1.2.3.8", 31),
            ("1.2.3.10", 32),
            ("5.6.7.0", 24),
            ("8.9.0.0", 16),
            ("127.16.0.0", 12),
            ("0.0.0.0", 1),
            ("12.0.0.0", 24),
        ]
        .iter()
        .map(|(a, l)| (a.to_string(), *l))
        .collect();
        want.sort();
        // 1.2.3.4 lies in 1.2.3.4/30 and 10/8, 11/8 in 0/1, at the same
        // ip4set level and with the same value: merged into the larger block.
        assert_eq!(got, want);
    }

    #[test]
    fn ip4set_entries_are_sorted_and_merged() {
        let d = ok(Ip4Set, "9.9.9.9 :3:x\n1.1.1.1\n9.9.9.9 :4:y\n0-255 :5\n");
        assert_eq!(
            d.ip4,
            vec![
                e4("0.0.0.0", 0, Listed(0)),
                e4("1.1.1.1", 32, Listed(1)),
                e4("9.9.9.9", 32, Listed(2))
            ]
        );
        assert_eq!(answer4(&d, "9.9.9.9"), a_txt(&[3, 4], &["x", "y"]));
        assert_eq!(answer4(&d, "200.1.1.1"), a_txt(&[5], &[]));
    }

    #[test]
    fn ip4set_overlaps_answer_like_rbldnsd() {
        // Observed answers of rbldnsd 1.0 for this exact file.
        let d = ok(
            Ip4Set,
            "1.2.3.4 :3:three\n1.2.3.4 :4:four\n1.2.3.4 :3:three\n1.2.3.4 :5\n\
             1.2.3.0/24 :6:six\n1.2.3.5/32 :7:seven\n1.2.3.0/25 :8:eight\n\
             1.2.0.0/16 :9:nine\n!1.2.3.9\n1.2.3.9 :10:ten\n1.2.4.1 :11:a\n!1.2.4.0/24\n",
        );
        let r = |s: &str| answer4(&d, s);
        assert_eq!(
            r("1.2.3.4"),
            a_txt(&[3, 4, 5, 8], &["three", "four", "eight"])
        );
        assert_eq!(r("1.2.3.5"), a_txt(&[7, 8], &["seven", "eight"]));
        assert_eq!(r("1.2.3.6"), a_txt(&[8], &["eight"]));
        assert_eq!(r("1.2.3.9"), None);
        assert_eq!(r("1.2.3.200"), a_txt(&[6], &["six"]));
        assert_eq!(r("1.2.4.1"), a_txt(&[11], &["a"]));
        assert_eq!(r("1.2.4.2"), None);
        assert_eq!(r("1.2.5.1"), a_txt(&[9], &["nine"]));
    }

    #[test]
    fn ip4set_exclusions() {
        let d = ok(
            Ip4Set,
            "10.0.0.0/8\n!10.1.2.3\n! 10.2.0.0/16 :7:ignored value\n!10.3.0.1-2\n",
        );
        assert_eq!(answer4(&d, "10.0.0.1"), a_txt(&[2], &[]));
        assert_eq!(answer4(&d, "10.1.2.3"), None);
        assert_eq!(answer4(&d, "10.2.9.9"), None);
        assert_eq!(answer4(&d, "10.3.0.1"), None);
        assert_eq!(answer4(&d, "10.3.0.3"), a_txt(&[2], &[]));
        assert_eq!(d.answers.len(), 1, "the value of an exclusion is ignored");
    }

    #[test]
    fn ip4_errors() {
        assert_err(
            Ip4Set,
            "1.2.3.4\n1.2.3.256\n",
            2,
            &["invalid IPv4", "1.2.3.256"],
        );
        assert_err(Ip4Set, "1.2.3.4/24\n", 1, &["host bits", "1.2.3.0/24"]);
        assert_err(
            Ip4Set,
            "1.2.3.0/33 :3\n",
            1,
            &["prefix length", "1.2.3.0/33"],
        );
        assert_err(Ip4Set, "10\n", 1, &["single number", "10/8"]);
        assert_err(Ip4Set, "0/0\n", 1, &["/0", "0-255"]);
        assert_err(Ip4Set, "1.2.3.4-1.2.3\n", 1, &["range", "as many octets"]);
        assert_err(Ip4Set, "1.2.3.10-1.2.3.4\n", 1, &["below the start"]);
        assert_err(Ip4Set, "1.2.3.4x\n", 1, &["invalid IPv4", "1.2.3.4x"]);
        assert_err(Ip4Set, "1.2.3.4- 5\n", 1, &["invalid IPv4", "\"1.2.3.4-\""]);
        assert_err(Ip4Set, "2001:db8::1\n", 1, &["invalid IPv4"]);
        assert_err(Ip4Trie, "2001:db8::/32\n", 1, &["invalid IPv4"]);
        assert_err(Ip4Set, "::1\n", 1, &["starts with ':'", "IPv6"]);
        assert_err(
            Ip4Set,
            "1.2.3.4 :1.8:x\n",
            1,
            &["outside 127.0.0.0/8", "1.0.0.8"],
        );
        assert_err(Ip4Set, ":10.0.0.2:x\n", 1, &["outside 127.0.0.0/8"]);
        assert_err(Ip4Set, "1.2.3.4 :: empty a\n", 1, &["invalid A value"]);
        assert_err(
            Ip4Set,
            "1.2.3.4 :3 text\n",
            1,
            &["invalid A value", "3 text"],
        );
        assert_err(Ip4Set, "1.2.3.4 : 26 :x\n", 1, &["invalid A value"]);
        assert_err(Ip4Set, ":\n", 1, &["invalid A value"]);
        assert_err(Ip4Set, "!\n", 1, &["'!' without an entry"]);
        assert_err(Ip4Set, "!!1.2.3.4\n", 1, &["invalid IPv4", "!1.2.3.4"]);
        assert_err(Ip4Trie, "1.2.3.4-5\n", 1, &["ip4trie accepts CIDRs only"]);
        assert_err(Ip4Tset, "1.2.3.0/24\n", 1, &["ip4tset", "single IPv4"]);
        assert_err(Ip4Tset, "1.2.3\n", 1, &["ip4tset", "complete IPv4"]);
        assert_err(
            Ip4Tset,
            "!1.2.3.4\n",
            1,
            &["ip4tset does not support exclusions"],
        );
        let long = format!("1.2.3.4 {}\n", "x".repeat(300));
        assert_err(Ip4Set, &long, 1, &["TXT text is 300 bytes", "255"]);
    }

    #[test]
    fn line_level_errors() {
        let e = err(
            Ip4Set,
            &format!("1.2.3.4\n1.2.3.5 {}\n", "x".repeat(MAX_LINE)),
        );
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("64 KiB") && e.message.contains("1.2.3.5 xxx"),
            "{e}"
        );
        let e = err(Ip4Set, "1.2.3.4\n1.2.3.5 :5:a\0b\n");
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("NUL") && e.message.contains("1.2.3.5 :5:a"),
            "{e}"
        );
        // The error display names the line.
        assert_eq!(
            err(Ip4Set, "\nbad\n").to_string(),
            "line 2: invalid IPv4 address, CIDR or range \"bad\""
        );
    }

    #[test]
    fn crlf_and_whitespace() {
        let d = ok(
            Ip4Set,
            "  :3:crlf  \r\n\t1.2.3.4\r\n1.2.3.5 :5:x\r\n\r\n1.2.3.6 ;c\r\n",
        );
        assert_eq!(answer4(&d, "1.2.3.4"), a_txt(&[3], &["crlf"]));
        assert_eq!(answer4(&d, "1.2.3.5"), a_txt(&[5], &["x"]));
        assert_eq!(answer4(&d, "1.2.3.6"), a_txt(&[3], &["crlf"]));
        // No final newline.
        assert_eq!(ok(Ip4Set, "1.2.3.4").ip4.len(), 1);
    }

    #[test]
    fn invalid_utf8_txt_is_lossy() {
        let d = parse(Ip4Set, b"1.2.3.4 :11:\xff\xfe bytes\n").unwrap_or_default();
        assert_eq!(d.answers[0].txt, vec!["\u{fffd}\u{fffd} bytes".to_string()]);
    }

    #[test]
    fn ip4trie() {
        let d = ok(
            Ip4Trie,
            ":3:def\n0/0 :1:\n1.2\n1.2.3.0/25 other\n!1.2.3.4\n1.2.3.5/32 :7\n\
             1.2.3.0/25 other\n1.2.3\n",
        );
        assert_eq!(answer4(&d, "9.9.9.9"), a_txt(&[1], &[]));
        assert_eq!(answer4(&d, "1.2.9.9"), a_txt(&[3], &["def"]));
        assert_eq!(answer4(&d, "1.2.3.1"), a_txt(&[3], &["other"]));
        assert_eq!(answer4(&d, "1.2.3.4"), None);
        assert_eq!(answer4(&d, "1.2.3.5"), a_txt(&[7], &["def"]));
        assert_eq!(answer4(&d, "1.2.3.200"), a_txt(&[3], &["def"]));
        assert_eq!(
            d.ip4.len(),
            6,
            "the identical repeat of 1.2.3.0/25 is dropped"
        );
        assert_err(
            Ip4Trie,
            "!1.2.3.9\n1.2.3.9 :10:ten\n",
            2,
            &["1.2.3.9 is listed again", "line 1"],
        );
        assert_err(
            Ip4Trie,
            "1.0.0.0/8 :2\n5.5.5.5\n1.0.0.0/8 :3\n",
            3,
            &["1.0.0.0/8 is listed again", "first on line 1"],
        );
    }

    #[test]
    fn ip4tset() {
        // One answer for the whole dataset: the first default line, even
        // for entries above it; values after entries are ignored.
        let d = ok(
            Ip4Tset,
            "1.2.3.4\n:4:def2 $1 $\n$1 var\n1.2.3.5 :9:ignored\n:5:second default ignored\n\
             1.2.3.4\n01.2.3.6 garbage:::\n",
        );
        assert_eq!(
            d.answers,
            vec![AnswerSpec::new(
                Ipv4Addr::new(127, 0, 0, 4),
                Some("def2 var $".into())
            )]
        );
        assert_eq!(
            d.ip4,
            vec![
                e4("1.2.3.4", 32, Listed(0)),
                e4("1.2.3.5", 32, Listed(0)),
                e4("1.2.3.6", 32, Listed(0))
            ]
        );
        assert_eq!(
            ok(Ip4Tset, "1.1.1.1\n").answers,
            vec![AnswerSpec::new(DEFAULT_A, None)]
        );
        assert_err(Ip4Tset, ":4:x\n:bad:y\n", 2, &["invalid A value"]);
    }

    #[test]
    fn ip6tset() {
        let d = ok(
            Ip6Tset,
            ":3:v6 $\n2001:DB8:1:2\n2001:db8:1:2 :5:ignored\n!2001:db8:1:2::2\n!abac:adab:ad00:42f:face:f:a:beef\n\
             !::1\n2001:db8:1:3;c\n",
        );
        assert_eq!(
            d.answers,
            vec![AnswerSpec::new(
                Ipv4Addr::new(127, 0, 0, 3),
                Some("v6 $".into())
            )]
        );
        let got: Vec<(u128, u8, EntryValue)> =
            d.ip6.iter().map(|e| (e.net, e.len, e.value)).collect();
        assert_eq!(
            got,
            vec![
                (1, 128, Excluded),
                (ip6("2001:db8:1:2::"), 64, Listed(0)),
                (ip6("2001:db8:1:2::2"), 128, Excluded),
                (ip6("2001:db8:1:3::"), 64, Listed(0)),
                (ip6("abac:adab:ad00:42f:face:f:a:beef"), 128, Excluded),
            ]
        );
        assert_err(Ip6Tset, "2001:db8:1:2::\n", 1, &["four groups"]);
        assert_err(Ip6Tset, "2001:db8:1:2::/64\n", 1, &["no prefix lengths"]);
        assert_err(Ip6Tset, "!2001:db8:1:2\n", 1, &["/128"]);
        assert_err(Ip6Tset, "1.2.3.4\n", 1, &["IPv4 address", "IPv6 dataset"]);
        assert_err(Ip6Tset, "::1\n", 1, &["starts with ':'", "!::1"]);
        assert_err(
            Ip6Tset,
            "2001:db8:1:2x\n",
            1,
            &["invalid IPv6", "2001:db8:1:2x"],
        );
    }

    #[test]
    fn ip6trie() {
        // The manual's example.
        let d = ok(
            Ip6Trie,
            "# Default A and TXT template valuse\n\
             :127.0.1.2: Listed, see http://example.com/lookup?$\n\
             # A listing, note that trailing :0s can be omitted\n\
             2001:21ab:c000/36\n\
             # /64 range with non-default A and TXT values\n\
             2001:21ab:def7:4242 :127.0.1.3: This one smells funny\n\
             # compressed notation\n\
             2605:6001:42::/52\n\
             ::1                   # localhost\n\
             !2605:6001:42::bead   # exclusion\n",
        );
        let def = AnswerSpec::new(
            Ipv4Addr::new(127, 0, 1, 2),
            Some("Listed, see http://example.com/lookup?$".into()),
        );
        let funny = AnswerSpec::new(
            Ipv4Addr::new(127, 0, 1, 3),
            Some("This one smells funny".into()),
        );
        assert_eq!(d.answers, vec![def, funny]);
        let got: Vec<(u128, u8, EntryValue)> =
            d.ip6.iter().map(|e| (e.net, e.len, e.value)).collect();
        assert_eq!(
            got,
            vec![
                (1, 128, Listed(0)),
                (ip6("2001:21ab:c000::"), 36, Listed(0)),
                (ip6("2001:21ab:def7:4242::"), 64, Listed(1)),
                (ip6("2605:6001:42::"), 52, Listed(0)),
                (ip6("2605:6001:42::bead"), 128, Excluded),
            ]
        );
        assert_eq!(ok(Ip6Trie, "::/0 :4\n").ip6[0].len, 0);
        assert_err(
            Ip6Trie,
            "2001:db8:c001/36\n",
            1,
            &["host bits", "2001:db8:c000::/36"],
        );
        assert_err(Ip6Trie, "2001:db8:1:2:3:4:5:6:7\n", 1, &["invalid IPv6"]);
        assert_err(Ip6Trie, "2001:db8::1::2\n", 1, &["invalid IPv6"]);
        assert_err(Ip6Trie, "2001:db8::1.2.3.4\n", 1, &["invalid IPv6"]);
        assert_err(
            Ip6Trie,
            "10.0.0.0/8\n",
            1,
            &["IPv4 address", "IPv6 dataset"],
        );
        assert_err(Ip6Trie, "2001\n", 1, &["single IPv6 group"]);
        assert_err(
            Ip6Trie,
            "2001::/16 :1\n2001::/16 :2\n",
            2,
            &["2001::/16 is listed again", "line 1"],
        );
        assert_err(
            Ip6Trie,
            "2001:db8::/32 :1.2:x\n",
            1,
            &["outside 127.0.0.0/8"],
        );
    }

    #[test]
    fn dnset() {
        let d = ok(
            Dnset,
            ":2:dom $\nExample.COM\n*.wild.example\n.both.example.\n!ex.example\n!*.ex2.example\n\
             ! .ex3.example\ntest\n1.2.3.4\nunder_score.example\nsub.example :5:five\n\
             sub.example :6:six\nsub2.example text\t# all of it\nsub3.example ;comment\n",
        );
        let dom = |n: &str, m: DomainMatch, v: EntryValue| DomainEntry {
            name: n.into(),
            matching: m,
            value: v,
        };
        use DomainMatch::*;
        assert_eq!(
            d.domains,
            vec![
                dom("1.2.3.4", Exact, Listed(0)),
                dom("both.example", Both, Listed(0)),
                dom("ex.example", Exact, Excluded),
                dom("ex2.example", Subdomains, Excluded),
                dom("ex3.example", Both, Excluded),
                dom("example.com", Exact, Listed(0)),
                dom("sub.example", Exact, Listed(1)),
                dom("sub2.example", Exact, Listed(2)),
                dom("sub3.example", Exact, Listed(0)),
                dom("test", Exact, Listed(0)),
                dom("under_score.example", Exact, Listed(0)),
                dom("wild.example", Subdomains, Listed(0)),
            ]
        );
        assert_eq!(
            spec_answer(&d, Listed(0), "test"),
            a_txt(&[2], &["dom test"])
        );
        assert_eq!(
            spec_answer(&d, Listed(1), "x"),
            a_txt(&[5, 6], &["five", "six"])
        );
        assert_eq!(
            spec_answer(&d, Listed(2), "x"),
            a_txt(&[2], &["text\t# all of it"])
        );
    }

    #[test]
    fn dnset_repeats_merge_like_rbldnsd() {
        // Observed on rbldnsd: `.b.com :6` and `b.com :7` give b.com both
        // values but *.b.com only the first.
        let d = ok(
            Dnset,
            ".b.com :6:six\nb.com :7:seven\n.d.com\n!*.d.com\n!e.com\ne.com :10:ten\n",
        );
        let find = |n: &str, m: DomainMatch| {
            d.domains
                .iter()
                .find(|e| e.name == n && e.matching == m)
                .map(|e| e.value)
        };
        let b = find("b.com", DomainMatch::Exact).unwrap_or(Excluded);
        assert_eq!(
            spec_answer(&d, b, "b.com"),
            a_txt(&[6, 7], &["six", "seven"])
        );
        let wb = find("b.com", DomainMatch::Subdomains).unwrap_or(Excluded);
        assert_eq!(spec_answer(&d, wb, "x.b.com"), a_txt(&[6], &["six"]));
        assert_eq!(
            find("d.com", DomainMatch::Exact),
            Some(Listed(
                d.answers
                    .iter()
                    .position(|a| a.txt.is_empty())
                    .unwrap_or(99) as u32
            ))
        );
        assert_eq!(find("d.com", DomainMatch::Subdomains), Some(Excluded));
        assert_eq!(find("e.com", DomainMatch::Exact), Some(Excluded));
    }

    #[test]
    fn dnset_errors() {
        assert_err(Dnset, "a..b\n", 1, &["invalid domain name", "empty label"]);
        assert_err(Dnset, "ok.example\n*\n", 2, &["bare *"]);
        assert_err(Dnset, "*.\n", 1, &["invalid domain name", "empty name"]);
        assert_err(Dnset, ".\n", 1, &["invalid domain name"]);
        assert_err(Dnset, "..a\n", 1, &["empty label"]);
        assert_err(Dnset, "a.com..\n", 1, &["empty label"]);
        assert_err(Dnset, "ex*ample.com\n", 1, &["'*'"]);
        assert_err(Dnset, "*.*.a\n", 1, &["'*'"]);
        assert_err(Dnset, "a:3:foo\n", 1, &["':'"]);
        assert_err(Dnset, "a;c\n", 1, &["';'"]);
        assert_err(Dnset, "a/b\n", 1, &["'/'"]);
        assert_err(Dnset, "\u{e9}.com\n", 1, &["xn--"]);
        assert_err(Dnset, &format!("{}.com\n", "a".repeat(64)), 1, &["63"]);
        assert_err(
            Dnset,
            &format!("{}\n", ["abcdefghi"; 26].join(".")),
            1,
            &["253"],
        );
        assert_err(Dnset, "!\n", 1, &["'!' without"]);
        assert_err(Dnset, "a.example :300:x\n", 1, &["invalid A value"]);
        assert_eq!(
            ok(Dnset, &format!("{}.com\n", "a".repeat(63)))
                .domains
                .len(),
            1
        );
    }
}
