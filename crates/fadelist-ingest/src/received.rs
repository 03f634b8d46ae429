//! The `Received` walk: which relay handed the message to the reporter.
//!
//! Semantics (GUIDE section 2, field notes 5.5, SpamAssassin's
//! `lastexternal`): read the `Received` fields top-down, newest first. Hops
//! whose connecting IP is in the reporter's trusted networks (their MX,
//! filters, forwarders) or is loopback were added by the reporter's own
//! systems and are skipped. Hops from special-purpose addresses cannot be
//! the source (they are internal relays or forgeries) and are skipped too,
//! but recorded. The first hop from an untrusted public address is the
//! source. Everything below it was written by machines we know nothing
//! about and is forgeable: recorded as [`HopVerdict::BelowSource`], never
//! scored.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use mail_parser::{HeaderName, Host, Message, Protocol};

use crate::special::{canonical, special_purpose};
use crate::{Warnings, clip};

/// At most this many `Received` fields are walked; a real path has a dozen.
pub(crate) const MAX_HOPS: usize = 100;

/// Longest text kept for a host name in a [`Hop`].
const MAX_HOST_LEN: usize = 255;

/// One `Received` field, as read and judged by the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Position among the `Received` fields, 0 = topmost (newest).
    pub index: usize,
    /// The connecting IP as written in the field, if one was found.
    pub ip: Option<IpAddr>,
    /// The HELO/EHLO name the client announced (forgeable by the client).
    pub helo: Option<String>,
    /// The client's reverse-DNS name as recorded by the receiving server,
    /// or the `from` host name when no separate rDNS is given.
    pub rdns: Option<String>,
    /// The receiving server (`by` clause).
    pub by: Option<String>,
    /// The `with` protocol (`ESMTPS`, `ESMTPSA`, `HTTP`, …).
    pub protocol: Option<String>,
    /// True when the protocol says the client authenticated (`…A`
    /// protocols of RFC 3848) or submitted over HTTP(S) webmail.
    pub authenticated: bool,
    /// When the receiving server says it received the message (the date
    /// after the `;`), unix seconds, when present and valid. Written by
    /// the receiving server: trustworthy only for hops at or above the
    /// source (see [`receipt_time`]).
    pub date: Option<i64>,
    /// What the walk decided about this hop.
    pub verdict: HopVerdict,
}

/// The walk's decision about one hop.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HopVerdict {
    /// Added by the reporter's own systems: the IP is in the trusted
    /// networks, or loopback.
    Trusted,
    /// The IP is special-purpose (reason from [`crate::special`]); it can
    /// not be the source.
    SpecialPurpose(&'static str),
    /// The first untrusted public hop: the source.
    Source,
    /// Below the source: forgeable, ignored.
    BelowSource,
    /// No IP address could be read from this field (e.g. a local
    /// `Received: by host (Postfix, from userid 1000)`).
    NoIp,
}

/// The source found by the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceIp {
    /// The address to score: IPv4-mapped, NAT64 (`64:ff9b::/96`) and 6to4
    /// (`2002::/16`) addresses are replaced by the embedded IPv4 address.
    pub ip: IpAddr,
    /// The address as written in the `Received` field.
    pub as_written: IpAddr,
    /// Index of the source hop in [`crate::Extraction::hops`].
    pub hop_index: usize,
}

/// Why no source could be determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoSource {
    /// The message has no `Received` field at all.
    NoReceivedHeaders,
    /// There are `Received` fields, but none carries a readable IP.
    NoIpAddresses,
    /// Every hop with an IP is trusted (or loopback): the message never
    /// crossed an untrusted network, as far as its headers tell.
    AllTrusted,
    /// The only untrusted hops are special-purpose addresses.
    OnlySpecialPurpose,
    /// An ARF report without the original message or its headers.
    NoOriginalMessage,
    /// The upload carries an attached message, but did not verifiably
    /// come from the reporter's side (no hop from its trusted networks, no
    /// authenticated submission): neither the attachment's headers nor
    /// the wrapper's are trusted to name a source.
    UnverifiedForward,
}

impl HopVerdict {
    /// A stable tag for APIs and logs: `trusted`, `special-purpose`,
    /// `source`, `below-source`, `no-ip`.
    pub fn tag(&self) -> &'static str {
        match self {
            HopVerdict::Trusted => "trusted",
            HopVerdict::SpecialPurpose(_) => "special-purpose",
            HopVerdict::Source => "source",
            HopVerdict::BelowSource => "below-source",
            HopVerdict::NoIp => "no-ip",
        }
    }

    /// Why, for the verdicts that have a reason.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            HopVerdict::SpecialPurpose(r) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Display for HopVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(r) => write!(f, "{}: {r}", self.tag()),
            None => f.write_str(self.tag()),
        }
    }
}

impl fmt::Display for NoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoSource::NoReceivedHeaders => "no Received header fields",
            NoSource::NoIpAddresses => "no IP address in any Received header field",
            NoSource::AllTrusted => "all hops are trusted",
            NoSource::OnlySpecialPurpose => "only special-purpose addresses below the trusted hops",
            NoSource::NoOriginalMessage => "report carries no original message",
            NoSource::UnverifiedForward => {
                "a message is attached, but the upload did not come through the reporter's trusted \
                 networks or an authenticated submission, so no header names a trustworthy source \
                 (configure the reporter's trusted networks)"
            }
        })
    }
}

/// Walks the `Received` fields of `msg` (see the module documentation).
pub(crate) fn walk(
    msg: &Message<'_>,
    trusted: &[IpNet],
    warnings: &mut Warnings,
) -> (Vec<Hop>, Result<SourceIp, NoSource>) {
    let Some(root) = msg.parts.first() else {
        return (Vec::new(), Err(NoSource::NoReceivedHeaders));
    };
    let fields: Vec<_> = root
        .headers
        .iter()
        .filter(|h| h.name == HeaderName::Received)
        .collect();
    if fields.len() > MAX_HOPS {
        warnings.push(format!(
            "{} Received fields; only the first {MAX_HOPS} were walked",
            fields.len()
        ));
    }
    let mut hops = Vec::new();
    let mut source: Option<SourceIp> = None;
    let (mut saw_trusted, mut saw_special) = (false, false);
    for (index, field) in fields.iter().take(MAX_HOPS).enumerate() {
        let raw = msg
            .raw_message
            .get(field.offset_start as usize..field.offset_end as usize)
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let parsed = field.value.as_received();
        let ip = parsed
            .and_then(|r| {
                r.from_ip().or(match r.from() {
                    Some(Host::IpAddr(ip)) => Some(*ip),
                    _ => None,
                })
            })
            .or_else(|| scan_from_clause(&raw));
        let host_text = |h: &Host<'_>| match h {
            Host::Name(n) => clip(n, MAX_HOST_LEN),
            Host::IpAddr(ip) => ip.to_string(),
        };
        let helo = parsed.and_then(|r| r.helo()).map(host_text);
        let rdns = parsed
            .and_then(|r| r.from_iprev().map(|s| clip(s, MAX_HOST_LEN)))
            .or_else(|| match parsed.and_then(|r| r.from()) {
                // `from [IPv6:…]` reads as a host called "IPv6".
                Some(Host::Name(n)) if !n.eq_ignore_ascii_case("ipv6") => {
                    Some(clip(n, MAX_HOST_LEN))
                }
                _ => None,
            });
        let by = parsed.and_then(|r| r.by()).map(host_text);
        let with = parsed.and_then(|r| r.with());
        let authenticated = with.is_some_and(is_authenticated);
        let date = parsed
            .and_then(mail_parser::Received::date)
            .filter(mail_parser::DateTime::is_valid)
            .map(|d| d.to_timestamp());
        let verdict = match ip {
            _ if source.is_some() => HopVerdict::BelowSource,
            None => HopVerdict::NoIp,
            Some(ip) => {
                let scored = canonical(ip);
                let is_trusted = |a: IpAddr| trusted.iter().any(|n| n.contains(&a));
                if is_trusted(ip) || is_trusted(scored) || scored.is_loopback() {
                    saw_trusted = true;
                    HopVerdict::Trusted
                } else if let Some(reason) = special_purpose(scored) {
                    saw_special = true;
                    HopVerdict::SpecialPurpose(reason)
                } else {
                    source = Some(SourceIp {
                        ip: scored,
                        as_written: ip,
                        hop_index: index,
                    });
                    HopVerdict::Source
                }
            }
        };
        hops.push(Hop {
            index,
            ip,
            helo,
            rdns,
            by,
            protocol: with.map(|p| p.as_str().to_string()),
            authenticated,
            date,
            verdict,
        });
    }
    let result = match source {
        Some(s) => Ok(s),
        None if hops.is_empty() => Err(NoSource::NoReceivedHeaders),
        None if saw_special => Err(NoSource::OnlySpecialPurpose),
        None if saw_trusted => Err(NoSource::AllTrusted),
        None => Err(NoSource::NoIpAddresses),
    };
    (hops, result)
}

/// When the reporter's own systems received the message: the date of the
/// topmost `Received` field among those they wrote, i.e. the fields down to
/// and including the source hop (the source hop itself is written by the
/// reporter's boundary MX; everything below it is the sender's word). With
/// no source, every hop was written on the reporter's side. `None` when
/// none of those fields carries a valid date. The sender's `Date:` never
/// decides: spammers forge it.
pub fn receipt_time(hops: &[Hop], source: &Result<SourceIp, NoSource>) -> Option<i64> {
    let last = match source {
        Ok(s) => s.hop_index,
        Err(_) => hops.len().saturating_sub(1),
    };
    hops.iter().take(last + 1).find_map(|h| h.date)
}

/// Submission protocols: the client logged in (RFC 3848 `…A` types) or used
/// webmail. Used by the forwarded-attachment heuristic in [`crate::mime`].
fn is_authenticated(p: Protocol) -> bool {
    matches!(
        p,
        Protocol::ESMTPA
            | Protocol::ESMTPSA
            | Protocol::LMTPA
            | Protocol::LMTPSA
            | Protocol::UTF8SMTPA
            | Protocol::UTF8SMTPSA
            | Protocol::UTF8LMTPA
            | Protocol::UTF8LMTPSA
            | Protocol::HTTP
            | Protocol::HTTPS
    )
}

/// Fallback when mail-parser found no IP: look for an address literal in
/// the `from` clause (the text before ` by `), first inside `[...]`
/// (Postfix/Sendmail style, with the RFC 5321 `IPv6:` tag), then as any
/// bare token (`(81.2.69.142)`, qmail style).
fn scan_from_clause(raw: &str) -> Option<IpAddr> {
    let text = raw.trim_start();
    if !text
        .get(..4)
        .is_some_and(|s| s.eq_ignore_ascii_case("from"))
    {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let end = [" by ", "\tby ", "\nby ", " by\t", " by\n", "\tby\t"]
        .iter()
        .filter_map(|p| lower.find(p))
        .min()
        .unwrap_or(text.len());
    let clause = &text[..end];
    let parse = |tok: &str| {
        let tok = tok.trim();
        let tok = match (tok.get(..5), tok.get(5..)) {
            (Some(tag), Some(rest)) if tag.eq_ignore_ascii_case("ipv6:") => rest,
            _ => tok,
        };
        tok.parse::<IpAddr>().ok()
    };
    let bracketed = clause
        .split('[')
        .skip(1)
        .filter_map(|s| s.split(']').next())
        .find_map(parse);
    bracketed.or_else(|| {
        clause
            .split(|c: char| c.is_whitespace() || "()[];,=<>".contains(c))
            .find_map(parse)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard;

    fn walk_str(headers: &str, trusted: &[&str]) -> (Vec<Hop>, Result<SourceIp, NoSource>) {
        let raw = format!("{headers}Subject: t\n\nbody\n");
        let p = guard::prepare(raw.as_bytes(), &mut Warnings::default());
        let msg = guard::parse(&p).unwrap();
        let trusted: Vec<IpNet> = trusted.iter().map(|s| s.parse().unwrap()).collect();
        let mut w = Warnings::default();
        walk(&msg, &trusted, &mut w)
    }

    fn verdicts(hops: &[Hop]) -> Vec<HopVerdict> {
        hops.iter().map(|h| h.verdict.clone()).collect()
    }

    #[test]
    fn first_untrusted_public_hop_is_the_source() {
        let (hops, src) = walk_str(
            "Received: from mx1.reporter.example (mx1.reporter.example [198.51.100.25]) by mx2 with ESMTP\n\
             Received: from bad.example (bad.example [81.2.69.142]) by mx1.reporter.example with ESMTP\n\
             Received: from forged.example (forged.example [89.160.20.112]) by bad.example with SMTP\n",
            &["198.51.100.0/24"],
        );
        assert_eq!(
            verdicts(&hops),
            [
                HopVerdict::Trusted,
                HopVerdict::Source,
                HopVerdict::BelowSource
            ]
        );
        let src = src.unwrap();
        assert_eq!(src.ip, "81.2.69.142".parse::<IpAddr>().unwrap());
        assert_eq!(src.hop_index, 1);
        assert_eq!(hops[1].rdns.as_deref(), Some("bad.example"));
    }

    #[test]
    fn special_hops_are_skipped_and_recorded() {
        let (hops, src) = walk_str(
            "Received: from a (a [10.0.0.5]) by b with ESMTP\n\
             Received: from c (c [100.64.1.1]) by a with ESMTP\n\
             Received: from d (d [89.160.20.112]) by c with ESMTP\n",
            &[],
        );
        assert_eq!(
            verdicts(&hops),
            [
                HopVerdict::SpecialPurpose("private-use (RFC 1918)"),
                HopVerdict::SpecialPurpose("shared address space / CGNAT (RFC 6598)"),
                HopVerdict::Source
            ]
        );
        assert_eq!(src.unwrap().hop_index, 2);
    }

    #[test]
    fn no_source_reasons() {
        assert_eq!(walk_str("", &[]).1, Err(NoSource::NoReceivedHeaders));
        assert_eq!(
            walk_str(
                "Received: by mail.example (Postfix, from userid 1000)\n",
                &[]
            )
            .1,
            Err(NoSource::NoIpAddresses)
        );
        assert_eq!(
            walk_str(
                "Received: from x (x [81.2.69.142]) by y\nReceived: from l (localhost [127.0.0.1]) by x\n",
                &["81.2.69.0/24"]
            )
            .1,
            Err(NoSource::AllTrusted)
        );
        assert_eq!(
            walk_str(
                "Received: from x (x [192.168.1.2]) by y\nReceived: from l (l [172.16.0.9]) by x\n",
                &[]
            )
            .1,
            Err(NoSource::OnlySpecialPurpose)
        );
    }

    #[test]
    fn ipv6_literals_and_mapped_addresses() {
        let (hops, src) = walk_str(
            "Received: from r6.example (r6.example [IPv6:2a02:1810::1]) by mx with ESMTPS\n",
            &[],
        );
        assert_eq!(hops[0].ip, Some("2a02:1810::1".parse().unwrap()));
        assert_eq!(src.unwrap().ip, "2a02:1810::1".parse::<IpAddr>().unwrap());

        let (_, src) = walk_str("Received: from x (HELO y) (::ffff:81.2.69.142) by q\n", &[]);
        let src = src.unwrap();
        assert_eq!(src.ip, "81.2.69.142".parse::<IpAddr>().unwrap());
        assert_eq!(
            src.as_written,
            "::ffff:81.2.69.142".parse::<IpAddr>().unwrap()
        );

        let (hops, src) = walk_str("Received: from x ([IPv6:2001:db8::7]) by q\n", &[]);
        assert_eq!(
            hops[0].verdict,
            HopVerdict::SpecialPurpose("documentation (RFC 3849)")
        );
        assert_eq!(src, Err(NoSource::OnlySpecialPurpose));
    }

    #[test]
    fn trusted_ipv6_network() {
        let (hops, src) = walk_str(
            "Received: from a (a [IPv6:2a02:1810:5::9]) by b with ESMTP\n\
             Received: from c (c [89.160.20.112]) by a with ESMTP\n",
            &["2a02:1810:5::/48"],
        );
        assert_eq!(hops[0].verdict, HopVerdict::Trusted);
        assert_eq!(src.unwrap().hop_index, 1);
    }

    #[test]
    fn exim_style_bare_bracket_and_authentication() {
        let (hops, src) = walk_str(
            "Received: from [89.160.20.112] (port=4711 helo=laptop) by smtp.example with esmtpsa (Exim 4.97)\n",
            &[],
        );
        assert_eq!(hops[0].ip, Some("89.160.20.112".parse().unwrap()));
        assert!(hops[0].authenticated);
        assert_eq!(src.unwrap().hop_index, 0);
    }

    #[test]
    fn fallback_scan() {
        assert_eq!(
            scan_from_clause(" from foo (foo [IPv6:2a02:1810::1]) by bar"),
            Some("2a02:1810::1".parse().unwrap())
        );
        assert_eq!(
            scan_from_clause(" from foo (81.2.69.142) by bar [89.160.20.112]"),
            Some("81.2.69.142".parse().unwrap())
        );
        assert_eq!(scan_from_clause(" by bar [89.160.20.112]"), None);
        assert_eq!(scan_from_clause(" from foo by bar"), None);
        // Found by the fuzz loop: a multi-byte character at byte 5.
        assert_eq!(scan_from_clause("from [10:0\u{fffd}0:04] by x"), None);
    }

    #[test]
    fn hop_cap() {
        let mut h = String::new();
        for _ in 0..150 {
            h.push_str("Received: from a (a [10.1.1.1]) by b with SMTP\n");
        }
        let (hops, src) = walk_str(&h, &[]);
        assert_eq!(hops.len(), MAX_HOPS);
        assert_eq!(src, Err(NoSource::OnlySpecialPurpose));
    }
}
