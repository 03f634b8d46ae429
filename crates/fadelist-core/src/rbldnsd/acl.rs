//! rbldnsd's `acl` dataset: which queriers get what.
//!
//! An acl file lists the networks of *clients* (not of queried names) with
//! an action, in the syntax of rbldnsd 1.0 (`rbldnsd(8)`, "acl Dataset",
//! and `rbldnsd_acl.c`, whose behaviour is followed here):
//!
//! ```text
//! # a default line sets the action of the entries below that have none
//! :refuse
//! 192.0.2.0/24
//! 198.51.100.7          :ignore
//! 2001:db8::/32         :empty
//! 192.0.2.128/25        :pass
//! 203.0.113.0/24        :127.255.255.255:Too many queries from $, see https://example.net/faq
//! ```
//!
//! - Entries are IPv4 or IPv6 CIDRs in the syntax of ip4trie and ip6trie
//!   (a bare address is a /32 or /128, `10.1` is 10.1.0.0/16, host bits
//!   must be clear); both families may share one file. The most specific
//!   entry covering the client's address wins.
//! - Actions: `:ignore` (also `:blackhole`), `:refuse`, `:empty`, `:pass`,
//!   written with `:` or `=` before the keyword, in any case, and, as in
//!   rbldnsd, abbreviated to any prefix (`:ref`). Anything else is an
//!   rbldnsd value (`:A:TXT`, `:A`, `:A:`, or plain text with the default
//!   A), which answers *every* name of the zone as listed with that A and
//!   TXT; `$` in the TXT stands for the client's address.
//! - Without a value an entry takes the default action: `:ignore` until a
//!   default line (`:keyword` or `:A:TXT`) changes it. A value line sets the
//!   default action *and* the default A/TXT that partial values complete.
//! - Directives: `$TTL` (of the listed answers), `$MAXRANGE4`, `$0`..`$9`
//!   and `$=`, as in the other datasets. `$SOA` and `$NS` are refused
//!   (rbldnsd refuses them in an acl too), and so is everything the other
//!   parsers refuse.
//!
//! Where fadelist is stricter than rbldnsd (which warns and skips the
//! line): an unknown keyword, text after a keyword, `!` exclusions (write
//! a more specific `:pass` entry instead), and a prefix listed twice with
//! different actions are errors naming the line.

use std::collections::HashMap;

use super::ParseError;
use super::addr::{V4Key, V4Syntax, fmt_v4, fmt_v6, parse_v4_key, parse_v6_trie_key};
use super::lex::{
    bad_time, is_ws, parse_decimal, parse_time, quote, split_token, trim, trim_start,
};
use super::parse::{DEFAULT_A, MAX_LINE, parse_colon_value};
use super::template::{RawText, Substitutions};
use crate::data::{AclAction, AclData, AclEntry, AnswerSpec};

/// The action keywords, in rbldnsd's order: an abbreviation takes the
/// first keyword it is a prefix of.
const KEYWORDS: [(&str, Action); 5] = [
    ("ignore", Action::Ignore),
    ("blackhole", Action::Ignore),
    ("refuse", Action::Refuse),
    ("empty", Action::Empty),
    ("pass", Action::Pass),
];

/// An action while parsing: listed answers are raw (templates resolve at
/// the end, when every `$n` and `$=` of the file is known).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Action {
    Ignore,
    Refuse,
    Empty,
    Pass,
    Listed(RawAnswer),
}

/// An A value with its TXT as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RawAnswer {
    a: std::net::Ipv4Addr,
    txt: Option<RawText>,
}

struct AclParser {
    default_action: Action,
    /// What `:A` (keeps the TXT) and plain text (keeps the A) complete.
    default_answer: RawAnswer,
    subs: Substitutions,
    ttl: Option<u32>,
    max_range4: u64,
    /// (net, len, action, line)
    ip4: Vec<(u32, u8, Action, usize)>,
    ip6: Vec<(u128, u8, Action, usize)>,
}

/// Parses one rbldnsd `acl` data file: IPv4 and IPv6 CIDRs of *clients*
/// (ip4trie/ip6trie syntax, the most specific entry wins), each with an
/// action — `:ignore` (or `:blackhole`), `:refuse`, `:empty`, `:pass`, any
/// prefix of those, after `:` or `=` — or an rbldnsd `A:TXT` value that
/// lists every name of the zone (`$` in the TXT is the client). Entries
/// without a value take the default action, `:ignore` until a default
/// line (`:action` or `:A:TXT`) sets another. `$TTL`, `$MAXRANGE4`,
/// `$0`..`$9` and `$=` work as in the other datasets; `$SOA`, `$NS`,
/// exclusions (`!`), unknown actions, text after an action and a prefix
/// repeated with another action are errors naming the line.
pub fn parse_acl(input: &[u8]) -> Result<AclData, ParseError> {
    let mut p = AclParser {
        default_action: Action::Ignore,
        default_answer: RawAnswer {
            a: DEFAULT_A,
            txt: None,
        },
        subs: Substitutions::default(),
        ttl: None,
        max_range4: 1 << 32,
        ip4: Vec::new(),
        ip6: Vec::new(),
    };
    for (i, raw) in input.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let fail = |message: String| ParseError { line, message };
        if raw.len() > MAX_LINE {
            return Err(fail(format!(
                "line is {} bytes long, more than the {} KiB limit",
                raw.len(),
                MAX_LINE / 1024
            )));
        }
        if raw.contains(&0) {
            return Err(fail("NUL byte in the file (binary data?)".into()));
        }
        p.line(trim(raw), line).map_err(fail)?;
    }
    p.finish()
}

impl AclParser {
    fn line(&mut self, line: &[u8], no: usize) -> Result<(), String> {
        let Some(&first) = line.first() else {
            return Ok(());
        };
        let second = line.get(1).copied();
        match first {
            b'#' | b';' if second == Some(b'$') => self.directive(&line[2..], true),
            b'#' | b';' => Ok(()),
            b'$' => self.directive(&line[1..], false),
            b':' if second == Some(b'$') => self.directive(&line[2..], false),
            // `::1` is an address; any other `:` or `=` starts a default.
            b':' if second == Some(b':') => self.entry(line, no),
            b':' | b'=' => {
                let action = self.value(line)?;
                if let Action::Listed(a) = &action {
                    self.default_answer = a.clone();
                }
                self.default_action = action;
                Ok(())
            }
            b'!' => Err(
                "acl datasets have no exclusions (!); list the network with \
                         :pass instead, which overrides a larger entry"
                    .into(),
            ),
            _ => self.entry(line, no),
        }
    }

    fn directive(&mut self, body: &[u8], commented: bool) -> Result<(), String> {
        let kw_end = body.iter().position(|&b| is_ws(b)).unwrap_or(body.len());
        let (kw, args) = (&body[..kw_end], trim_start(&body[kw_end..]));
        let is = |name: &str| kw.eq_ignore_ascii_case(name.as_bytes());
        if is("TTL") {
            let (t, rest) = split_token(args);
            if !rest.is_empty() {
                return Err(format!("$TTL takes exactly one value, got {}", quote(args)));
            }
            self.ttl = match parse_time(t) {
                Some(0) => None,
                Some(v) => Some(v),
                None => return Err(bad_time("$TTL value", t)),
            };
            Ok(())
        } else if is("MAXRANGE4") {
            let n = match args.strip_prefix(b"/") {
                Some(len) => parse_decimal(len)
                    .filter(|l| (1..=32).contains(l))
                    .map(|l| 1u64 << (32 - l)),
                None => parse_decimal(args).filter(|&n| (1..=u64::from(u32::MAX)).contains(&n)),
            }
            .ok_or_else(|| format!("invalid $MAXRANGE4 {}", quote(args)))?;
            self.max_range4 = self.max_range4.min(n);
            Ok(())
        } else if is("SOA") || is("NS") {
            Err(format!(
                "${} is not allowed in an acl dataset (rbldnsd refuses it too); \
                 put it in a data file of the zone",
                String::from_utf8_lossy(kw).to_ascii_uppercase()
            ))
        } else if kw.len() == 1 && (kw[0].is_ascii_digit() || kw[0] == b'=') {
            if args.is_empty() {
                return Err(format!("${} needs a text", char::from(kw[0])));
            }
            let text = String::from_utf8_lossy(args).into_owned();
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
                "unknown or unsupported directive ${} in an acl dataset; it knows $TTL, \
                 $MAXRANGE4, $0 to $9 and $=",
                String::from_utf8_lossy(kw)
            ))
        }
    }

    /// An entry: a CIDR of either family, then an optional value.
    fn entry(&mut self, line: &[u8], no: usize) -> Result<(), String> {
        let token_end = line
            .iter()
            .position(|&b| is_ws(b) || b == b';' || b == b'#')
            .unwrap_or(line.len());
        let token = &line[..token_end];
        // IPv4 keys end at `:` too (`10.0.0.0/8:refuse`, as rbldnsd reads
        // it); an IPv6 key contains colons, so only a `:` after its prefix
        // length can start a value there.
        let v4_end = token.iter().position(|&b| b == b':').unwrap_or(token.len());
        let v4_part = &token[..v4_end];
        // A key with a dot before any colon is IPv4 (rbldnsd reads no
        // dotted IPv4 inside IPv6 either), and its error is the IPv4 one.
        let looks_v4 = v4_part.contains(&b'.');
        let parsed4 = parse_v4_key(v4_part, V4Syntax::Trie);
        if let Err(e) = &parsed4
            && looks_v4
        {
            return Err(e.clone());
        }
        if let Ok(key) = parsed4 {
            let V4Key::Cidr(net, len) = key else {
                return Err(format!("{} is not a CIDR", quote(token)));
            };
            if 1u64 << (32 - u32::from(len)) > self.max_range4 {
                return Err(format!(
                    "{} covers more addresses than $MAXRANGE4 allows ({})",
                    quote(token),
                    self.max_range4
                ));
            }
            let action = self.entry_value(&line[v4_end..])?;
            self.ip4.push((net, len, action, no));
            return Ok(());
        }
        let key_end = match token.iter().position(|&b| b == b'/') {
            Some(slash) => token[slash..]
                .iter()
                .position(|&b| b == b':')
                .map_or(token.len(), |p| slash + p),
            None => token.len(),
        };
        let (net, len) = parse_v6_trie_key(&token[..key_end]).map_err(|e| {
            if token.contains(&b':') {
                e
            } else {
                format!("invalid IPv4 or IPv6 address or CIDR {}", quote(token))
            }
        })?;
        let action = self.entry_value(&line[key_end..])?;
        self.ip6.push((net, len, action, no));
        Ok(())
    }

    /// The value after an entry's key: nothing or a comment (the default
    /// action), or a value.
    fn entry_value(&self, rest: &[u8]) -> Result<Action, String> {
        let rest = trim_start(rest);
        if matches!(rest.first(), None | Some(b'#' | b';')) {
            return Ok(self.default_action.clone());
        }
        self.value(rest)
    }

    /// `:keyword`, `=keyword`, `:A:TXT`, `:A`, `:A:` or plain text.
    fn value(&self, v: &[u8]) -> Result<Action, String> {
        if let Some(k) = v.strip_prefix(b"=").or_else(|| v.strip_prefix(b":"))
            && k.first().is_some_and(u8::is_ascii_alphabetic)
        {
            let word_end = k
                .iter()
                .position(|&b| is_ws(b) || matches!(b, b':' | b'#' | b';'))
                .unwrap_or(k.len());
            let (word, after) = (&k[..word_end], trim_start(&k[word_end..]));
            let found = KEYWORDS
                .iter()
                .find(|(name, _)| {
                    word.len() <= name.len()
                        && name.as_bytes()[..word.len()].eq_ignore_ascii_case(word)
                })
                .map(|(_, a)| a.clone())
                .ok_or_else(|| {
                    format!(
                        "unknown acl action {}: use :ignore, :refuse, :empty, :pass or an \
                         A:TXT value such as :127.255.255.255:Blocked",
                        quote(v)
                    )
                })?;
            if !matches!(after.first(), None | Some(b'#' | b';')) {
                return Err(format!(
                    "text after the action in {} (rbldnsd ignores it); remove it or make \
                     it a comment with #",
                    quote(v)
                ));
            }
            return Ok(found);
        }
        if v.first() == Some(&b'=') {
            return Err(format!(
                "{} is not an acl action; '=' takes :ignore, :refuse, :empty or :pass",
                quote(v)
            ));
        }
        let answer = match v.strip_prefix(b":") {
            Some(rest) => {
                let (a, txt) = parse_colon_value(rest)?;
                RawAnswer {
                    a,
                    // `:A` keeps the default TXT.
                    txt: txt.unwrap_or_else(|| self.default_answer.txt.clone()),
                }
            }
            None => RawAnswer {
                a: self.default_answer.a,
                txt: Some(RawText::new(v)?),
            },
        };
        Ok(Action::Listed(answer))
    }

    fn finish(self) -> Result<AclData, ParseError> {
        let mut answers: Vec<AnswerSpec> = Vec::new();
        let mut ids: HashMap<RawAnswer, u32> = HashMap::new();
        let subs = self.subs;
        let mut convert = |a: Action| match a {
            Action::Ignore => AclAction::Ignore,
            Action::Refuse => AclAction::Refuse,
            Action::Empty => AclAction::Empty,
            Action::Pass => AclAction::Pass,
            Action::Listed(raw) => {
                let id = *ids.entry(raw.clone()).or_insert_with(|| {
                    answers.push(AnswerSpec {
                        a: vec![raw.a],
                        txt: subs.resolve(raw.txt.as_ref()).into_iter().collect(),
                    });
                    (answers.len() - 1) as u32
                });
                AclAction::Listed(id)
            }
        };
        let ip4 = dedup(self.ip4, fmt_v4)?
            .into_iter()
            .map(|(net, len, a)| AclEntry {
                net,
                len,
                action: convert(a),
            })
            .collect();
        let ip6 = dedup(self.ip6, |net, len| format!("{}/{len}", fmt_v6(net)))?
            .into_iter()
            .map(|(net, len, a)| AclEntry {
                net,
                len,
                action: convert(a),
            })
            .collect();
        Ok(AclData {
            answers,
            ip4,
            ip6,
            ttl: self.ttl,
        })
    }
}

/// Sorts the entries and drops identical repeats; a prefix repeated with a
/// different action is an error on the later line (rbldnsd keeps the first
/// and warns).
fn dedup<K: Copy + Ord>(
    mut v: Vec<(K, u8, Action, usize)>,
    show: impl Fn(K, u8) -> String,
) -> Result<Vec<(K, u8, Action)>, ParseError> {
    v.sort_by_key(|a| (a.0, a.1, a.3));
    let mut out: Vec<(K, u8, Action, usize)> = Vec::with_capacity(v.len());
    for e in v {
        match out.last() {
            Some(last) if (last.0, last.1) == (e.0, e.1) => {
                if last.2 != e.2 {
                    return Err(ParseError {
                        line: e.3,
                        message: format!(
                            "{} is listed again with a different action (first on line {}); \
                             rbldnsd would keep the first and warn, fadelist asks you to \
                             remove one",
                            show(e.0, e.1),
                            last.3
                        ),
                    });
                }
            }
            _ => out.push(e),
        }
    }
    Ok(out.into_iter().map(|(k, l, a, _)| (k, l, a)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ok(text: &str) -> AclData {
        parse_acl(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n--- input:\n{text}"))
    }

    fn err(text: &str) -> ParseError {
        match parse_acl(text.as_bytes()) {
            Ok(d) => panic!("expected an error, got {d:?}"),
            Err(e) => e,
        }
    }

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    fn action4(d: &AclData, net: &str, len: u8) -> Option<AclAction> {
        d.ip4
            .iter()
            .find(|e| e.net == v4(net) && e.len == len)
            .map(|e| e.action)
    }

    #[test]
    fn actions_defaults_and_families() {
        let d = ok("# comment\n\
             10.0.0.1\n\
             :refuse\n\
             10.0.0.2\n\
             10.0.1.0/24 :empty\n\
             10.0.2.0/24:pass\n\
             10.0.3/24 =IGN\n\
             10.0.4.0/24 :blackhole # trailing comment\n\
             10.0.5.0/24 :127.255.255.255:Blocked $ see $$5\n\
             ::1 :p\n\
             2001:db8::/32 :empty\n\
             2001:db8:1::/48:ref\n\
             2001:db8:2:3 ;c\n");
        use AclAction::*;
        assert_eq!(
            action4(&d, "10.0.0.1", 32),
            Some(Ignore),
            "rbldnsd's default"
        );
        assert_eq!(action4(&d, "10.0.0.2", 32), Some(Refuse));
        assert_eq!(action4(&d, "10.0.1.0", 24), Some(Empty));
        assert_eq!(action4(&d, "10.0.2.0", 24), Some(Pass));
        assert_eq!(action4(&d, "10.0.3.0", 24), Some(Ignore));
        assert_eq!(action4(&d, "10.0.4.0", 24), Some(Ignore));
        assert_eq!(action4(&d, "10.0.5.0", 24), Some(Listed(0)));
        assert_eq!(
            d.answers,
            vec![AnswerSpec::new(
                Ipv4Addr::new(127, 255, 255, 255),
                Some("Blocked $ see $$5".into())
            )]
        );
        let six: Vec<(u128, u8, AclAction)> =
            d.ip6.iter().map(|e| (e.net, e.len, e.action)).collect();
        assert_eq!(
            six,
            vec![
                (1, 128, Pass),
                (0x2001_0db8 << 96, 32, Empty),
                (0x2001_0db8_0001 << 80, 48, Refuse),
                (0x2001_0db8_0002_0003 << 64, 64, Refuse),
            ]
        );
    }

    #[test]
    fn value_lines_set_the_default_answer() {
        let d = ok(":127.0.0.9:open resolver $\n\
                    192.0.2.1\n\
                    192.0.2.2 :10\n\
                    192.0.2.3 other text\n\
                    192.0.2.4 :11:\n\
                    $TTL 5m\n\
                    $1 variable\n\
                    192.0.2.5 :12:uses $1\n");
        let spec = |e: usize| {
            let AclAction::Listed(i) = d.ip4[e].action else {
                panic!("{:?}", d.ip4[e])
            };
            d.answers[i as usize].clone()
        };
        let a = |n: u8| Ipv4Addr::new(127, 0, 0, n);
        assert_eq!(
            spec(0),
            AnswerSpec::new(a(9), Some("open resolver $".into()))
        );
        assert_eq!(
            spec(1),
            AnswerSpec::new(a(10), Some("open resolver $".into()))
        );
        assert_eq!(spec(2), AnswerSpec::new(a(9), Some("other text".into())));
        assert_eq!(spec(3), AnswerSpec::new(a(11), None));
        assert_eq!(
            spec(4),
            AnswerSpec::new(a(12), Some("uses variable".into()))
        );
        assert_eq!(d.ttl, Some(300));
    }

    #[test]
    fn repeats_and_errors() {
        let d = ok("10.0.0.0/8 :refuse\n10.0.0.0/8 :refuse\n");
        assert_eq!(d.ip4.len(), 1, "an identical repeat is dropped");
        let cases: [(&str, usize, &str); 11] = [
            (
                "10.0.0.0/8 :refuse\n10.0.0.0/8 :empty\n",
                2,
                "different action",
            ),
            ("10.0.0.1/8\n", 1, "host bits"),
            ("!10.0.0.1\n", 1, "no exclusions"),
            ("10.0.0.1 :nope\n", 1, "unknown acl action"),
            ("10.0.0.1 =127.0.0.2\n", 1, "not an acl action"),
            ("10.0.0.1 :refuse extra\n", 1, "text after the action"),
            ("$SOA 0 a b 0 1 1 1 1\n", 1, "not allowed in an acl"),
            ("$NS 0 ns.example\n", 1, "not allowed in an acl"),
            ("example.com\n", 1, "invalid IPv4"),
            ("10.0.0.1 :10.0.0.1:x\n", 1, "outside 127.0.0.0/8"),
            ("zz::q\n", 1, "invalid IPv6"),
        ];
        for (text, line, needle) in cases {
            let e = err(text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
        assert!(
            err("$MAXRANGE4 /16\n10.0.0.0/8\n")
                .message
                .contains("MAXRANGE4")
        );
    }
}
