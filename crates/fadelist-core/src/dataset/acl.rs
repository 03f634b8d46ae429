//! The frozen querier ACL of a zone (rbldnsd's `acl` dataset).
//!
//! The same longest-prefix structures as the data ([`LpmSet`], [`Ip6Set`]),
//! keyed by the *client's* address; the value column holds an action code
//! instead of an answer id. Asked once per query of a zone that has an
//! ACL: two binary searches over a small table, no allocation.

use std::net::IpAddr;

use super::lpm::LpmSet;
use super::{Answer, Ip6Set};
use crate::data::{AclAction, AclData};

/// Value codes in the sets: the four keyword actions, then listed answers.
const IGNORE: u32 = 0;
const REFUSE: u32 = 1;
const EMPTY: u32 = 2;
const PASS: u32 = 3;
const FIRST_ANSWER: u32 = 4;

fn code(a: AclAction) -> u32 {
    match a {
        AclAction::Ignore => IGNORE,
        AclAction::Refuse => REFUSE,
        AclAction::Empty => EMPTY,
        AclAction::Pass => PASS,
        AclAction::Listed(i) => FIRST_ANSWER.saturating_add(i),
    }
}

/// What a zone's ACL (or the query quota) decided for one client.
///
/// Variants are ordered from the weakest to the strongest: when two
/// verdicts apply (the zone's ACL and an exceeded quota), the stronger one
/// wins, as rbldnsd combines its global and per-zone ACLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Answer as usual.
    Pass,
    /// Every name below the apex is listed with this answer and TTL; `$`
    /// in the TXT is the client's address.
    Listed {
        /// The records.
        answer: &'a Answer,
        /// Their TTL.
        ttl: u32,
    },
    /// Every name below the apex is NXDOMAIN.
    Empty,
    /// REFUSED, apex included.
    Refuse,
    /// No reply.
    Ignore,
}

impl<'a> Verdict<'a> {
    fn rank(&self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Listed { .. } => 1,
            Verdict::Empty => 2,
            Verdict::Refuse => 3,
            Verdict::Ignore => 4,
        }
    }

    /// The stronger of `self` (a zone's ACL) and `other` (a verdict for
    /// every zone, such as an exceeded quota); between two listed answers,
    /// `other`'s, as rbldnsd prefers its global ACL's answer.
    pub fn combine(self, other: Verdict<'a>) -> Verdict<'a> {
        if other.rank() >= self.rank() {
            other
        } else {
            self
        }
    }
}

/// A frozen querier ACL.
#[derive(Clone, Debug, Default)]
pub struct Acl {
    v4: LpmSet<u32>,
    v6: Ip6Set,
    answers: Box<[Answer]>,
    /// TTL of the listed answers.
    pub ttl: u32,
}

impl Acl {
    /// Freezes `data`; listed answers get `ttl` unless the file set `$TTL`.
    pub fn build(data: &AclData, ttl: u32) -> Acl {
        Acl {
            v4: LpmSet::build(
                data.ip4
                    .iter()
                    .map(|e| (e.net, e.len, code(e.action)))
                    .collect(),
            ),
            v6: Ip6Set::build(
                data.ip6
                    .iter()
                    .map(|e| (e.net, e.len, code(e.action)))
                    .collect(),
            ),
            answers: data.answers.iter().map(Answer::from).collect(),
            ttl: data.ttl.unwrap_or(ttl),
        }
    }

    /// The verdict for a client at `addr`: the most specific entry
    /// covering it, or [`Verdict::Pass`] when none does. IPv4-mapped IPv6
    /// addresses are looked up as IPv4.
    #[inline]
    pub fn verdict(&self, addr: IpAddr) -> Verdict<'_> {
        let found = match addr {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(m) => self.v4.lookup(u32::from(m)),
                None => self.v6.lookup(u128::from(a)),
            },
        };
        match found {
            None | Some(PASS) => Verdict::Pass,
            Some(IGNORE) => Verdict::Ignore,
            Some(REFUSE) => Verdict::Refuse,
            Some(EMPTY) => Verdict::Empty,
            Some(c) => match self.answers.get((c - FIRST_ANSWER) as usize) {
                Some(answer) => Verdict::Listed {
                    answer,
                    ttl: self.ttl,
                },
                // Cannot happen for a built ACL; answering as usual is the
                // harmless reading.
                None => Verdict::Pass,
            },
        }
    }

    /// Number of entries (IPv4 and IPv6 prefixes and intervals).
    pub fn entry_count(&self) -> usize {
        let (a, b) = self.v4.counts();
        a + b + self.v6.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbldnsd::parse_acl;

    fn acl(text: &str) -> Acl {
        Acl::build(&parse_acl(text.as_bytes()).unwrap(), 60)
    }

    fn kind(v: Verdict<'_>) -> String {
        match v {
            Verdict::Listed { answer, ttl } => format!("listed {} {ttl}", answer.a[0]),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn longest_prefix_wins_in_both_families() {
        let a = acl(
            "10.0.0.0/8 :refuse\n10.1.0.0/16 :pass\n10.1.2.0/24 :empty\n10.1.2.3\n\
                     10.2.0.0/16 :127.255.255.255:go away $\n\
                     2001:db8::/32 :refuse\n2001:db8:1::/48 :pass\n",
        );
        let v = |s: &str| kind(a.verdict(s.parse().unwrap()));
        assert_eq!(v("9.255.255.255"), "Pass");
        assert_eq!(v("10.0.0.1"), "Refuse");
        assert_eq!(v("10.1.0.1"), "Pass");
        assert_eq!(v("10.1.2.1"), "Empty");
        assert_eq!(v("10.1.2.3"), "Ignore");
        assert_eq!(v("10.2.9.9"), "listed 127.255.255.255 60");
        assert_eq!(
            v("::ffff:10.0.0.1"),
            "Refuse",
            "mapped addresses read as IPv4"
        );
        assert_eq!(v("2001:db8:2::1"), "Refuse");
        assert_eq!(v("2001:db8:1::1"), "Pass");
        assert_eq!(v("2001:db9::1"), "Pass");
        assert_eq!(acl("$TTL 5\n10.0.0.0/8 :3\n").ttl, 5);
    }

    #[test]
    fn stronger_verdict_wins() {
        let one = Answer {
            a: Box::new([std::net::Ipv4Addr::new(127, 0, 0, 1)]),
            txt: Box::new([]),
        };
        let two = Answer {
            a: Box::new([std::net::Ipv4Addr::new(127, 0, 0, 2)]),
            txt: Box::new([]),
        };
        let l1 = Verdict::Listed {
            answer: &one,
            ttl: 1,
        };
        let l2 = Verdict::Listed {
            answer: &two,
            ttl: 2,
        };
        use Verdict::*;
        assert_eq!(Pass.combine(Refuse), Refuse);
        assert_eq!(Ignore.combine(Refuse), Ignore);
        assert_eq!(Empty.combine(l1), Empty);
        assert_eq!(l1.combine(Pass), l1);
        assert_eq!(l1.combine(l2), l2, "the global answer");
    }
}
