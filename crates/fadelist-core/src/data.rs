//! Build-time description of a dataset: what a data file (or, later, the
//! report store) says, before it is frozen into the compact query structures.
//!
//! These types are deliberately plain (vectors of entries, indices into a
//! table of answers) so that any producer — the rbldnsd file parser, the
//! report pipeline, tests — can fill them without knowing how lookups work.
//! [`crate::dataset::Dataset::build`] turns one or more of them into the
//! immutable, query-ready form. Big data files take a packed road instead:
//! the rbldnsd loader makes [`Columns`] (the same content, sorted and
//! merged, 4–8 bytes per IPv4 address) and
//! [`crate::dataset::Dataset::from_columns`] freezes them.

use std::net::Ipv4Addr;

/// The records a listed entry answers with.
///
/// `a` holds one or more addresses in 127.0.0.0/8; `txt` holds TXT
/// templates in which `$` stands for the queried IP address or domain
/// (rbldnsd syntax, already free of `$0`–`$9` substitution variables).
/// An empty `txt` means the entry answers A queries only.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnswerSpec {
    /// A values, at least one.
    pub a: Vec<Ipv4Addr>,
    /// TXT templates, zero or more.
    pub txt: Vec<String>,
}

impl AnswerSpec {
    /// An answer with one A value and an optional TXT template.
    pub fn new(a: Ipv4Addr, txt: Option<String>) -> Self {
        AnswerSpec {
            a: vec![a],
            txt: txt.into_iter().collect(),
        }
    }
}

/// What an entry does when it matches a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryValue {
    /// The entry is an exclusion (`!entry` in rbldnsd files): names it
    /// covers are *not* listed by this dataset, even inside a listed range.
    Excluded,
    /// The entry is listed with the answer at this index of
    /// [`DatasetData::answers`].
    Listed(u32),
}

/// An IPv4 prefix entry; `net` has all bits below `len` cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip4Entry {
    /// Network address as a host-order integer (`1.2.3.4` = `0x01020304`).
    pub net: u32,
    /// Prefix length, 0–32.
    pub len: u8,
    /// Listed (with an answer) or excluded.
    pub value: EntryValue,
}

/// An IPv6 prefix entry; `net` has all bits below `len` cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip6Entry {
    /// Network address as a host-order integer.
    pub net: u128,
    /// Prefix length, 0–128.
    pub len: u8,
    /// Listed (with an answer) or excluded.
    pub value: EntryValue,
}

/// Which names a domain entry covers (rbldnsd dnset semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DomainMatch {
    /// `example.com`: exactly this name.
    Exact,
    /// `*.example.com`: every name below it, not the name itself.
    Subdomains,
    /// `.example.com`: the name and every name below it.
    Both,
}

/// A domain entry. `name` is lower-case ASCII (IDNA A-labels), without
/// a trailing dot, e.g. `example.com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainEntry {
    /// The domain, lower-case, no trailing dot.
    pub name: String,
    /// Which names it covers.
    pub matching: DomainMatch,
    /// Listed (with an answer) or excluded.
    pub value: EntryValue,
}

/// A `$SOA` directive (or its equivalent in the configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoaSpec {
    /// TTL of the SOA record itself.
    pub ttl: u32,
    /// Primary name server (absolute name, no trailing dot).
    pub mname: String,
    /// Responsible mailbox in DNS form (`hostmaster.example.net`).
    pub rname: String,
    /// Serial; `0` means "derive it from the data's change time".
    pub serial: u32,
    /// SOA refresh, seconds.
    pub refresh: u32,
    /// SOA retry, seconds.
    pub retry: u32,
    /// SOA expire, seconds.
    pub expire: u32,
    /// SOA minimum: the negative-caching TTL (RFC 2308), seconds.
    pub minimum: u32,
}

/// Everything one data file (or another producer) contributes to a dataset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatasetData {
    /// Distinct answers, referenced by [`EntryValue::Listed`] indices.
    pub answers: Vec<AnswerSpec>,
    /// IPv4 entries (ip4set, ip4tset, ip4trie).
    pub ip4: Vec<Ip4Entry>,
    /// IPv6 entries (ip6tset, ip6trie).
    pub ip6: Vec<Ip6Entry>,
    /// Domain entries (dnset).
    pub domains: Vec<DomainEntry>,
    /// `$TTL`: the TTL of this dataset's answers, when set.
    pub ttl: Option<u32>,
    /// `$SOA`, when set: the zone's SOA unless the configuration sets one.
    pub soa: Option<SoaSpec>,
    /// `$NS` names (no trailing dot), in order.
    pub ns: Vec<String>,
    /// TTL given on the `$NS` line, when set.
    pub ns_ttl: Option<u32>,
}

impl DatasetData {
    /// Drops the answers no entry references and renumbers the entries
    /// (a dataset merged from a base and its delta can carry answers whose
    /// last entry was removed).
    pub fn retain_used_answers(&mut self) {
        let mut used = vec![false; self.answers.len()];
        let values = self
            .ip4
            .iter()
            .map(|e| e.value)
            .chain(self.ip6.iter().map(|e| e.value))
            .chain(self.domains.iter().map(|e| e.value));
        for v in values {
            if let EntryValue::Listed(i) = v
                && let Some(u) = used.get_mut(i as usize)
            {
                *u = true;
            }
        }
        let mut new_index = vec![u32::MAX; self.answers.len()];
        let mut next = 0u32;
        for (i, u) in used.iter().enumerate() {
            if *u {
                new_index[i] = next;
                next += 1;
            }
        }
        let mut i = 0;
        self.answers.retain(|_| {
            i += 1;
            used[i - 1]
        });
        let renumber = |v: &mut EntryValue| {
            if let EntryValue::Listed(i) = v {
                // Out-of-table indices stay out of the table (the builder
                // treats them as unlisted).
                *i = new_index.get(*i as usize).copied().unwrap_or(u32::MAX);
            }
        };
        self.ip4.iter_mut().for_each(|e| renumber(&mut e.value));
        self.ip6.iter_mut().for_each(|e| renumber(&mut e.value));
        self.domains.iter_mut().for_each(|e| renumber(&mut e.value));
    }
}

/// One name of [`Columns`]: a key in the name arena (the reversed,
/// length-prefixed form of [`crate::dataset::dnset::key_of_name`]) and
/// its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NameRef {
    /// Offset of the key in the arena.
    pub off: u32,
    /// Length of the key.
    pub len: u8,
    /// Answer index, or [`crate::dataset::EXCLUDED`].
    pub val: u32,
}

/// The IPv4 /32 column of [`Columns`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Exact4 {
    /// Every /32 has value `val` (a big list on its default value): the
    /// addresses alone, 4 bytes each.
    Uniform {
        /// Addresses, ascending, unique.
        keys: Vec<u32>,
        /// Their value.
        val: u32,
    },
    /// `(address << 32) | value`, ascending by address, unique.
    Packed(Vec<u64>),
}

impl Default for Exact4 {
    fn default() -> Self {
        Exact4::Packed(Vec::new())
    }
}

impl Exact4 {
    /// Number of addresses.
    pub(crate) fn len(&self) -> usize {
        match self {
            Exact4::Uniform { keys, .. } => keys.len(),
            Exact4::Packed(v) => v.len(),
        }
    }

    /// Address and value of row `i` (`i < len()`).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> (u32, u32) {
        match self {
            Exact4::Uniform { keys, val } => (keys[i], *val),
            Exact4::Packed(v) => ((v[i] >> 32) as u32, v[i] as u32),
        }
    }

    /// Replaces every value `v` by `f(v)`.
    pub(crate) fn map_values(&mut self, f: impl Fn(u32) -> u32) {
        match self {
            Exact4::Uniform { val, .. } => *val = f(*val),
            Exact4::Packed(v) => {
                for e in v {
                    *e = (*e & !0xffff_ffff) | u64::from(f(*e as u32));
                }
            }
        }
    }
}

/// A dataset as the rbldnsd loader hands it to
/// [`crate::dataset::Dataset::from_columns`]: the same content as a
/// [`DatasetData`] from [`crate::rbldnsd::parse`], in packed columns that
/// are already sorted and merged, so that a big file is frozen without a
/// second copy of its entries. A million IPv4 /32s take 4 bytes each here
/// when they share one value, 8 otherwise (16 in [`DatasetData`]), a
/// domain its key bytes and 12 bytes (a `String` and 40 bytes there).
///
/// Only the loader makes them (the columns keep invariants the builder
/// relies on); [`crate::rbldnsd::Loader::finish`] documents the content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Columns {
    /// `$TTL`: the TTL of this dataset's answers, when set.
    pub ttl: Option<u32>,
    /// `$SOA`, when set.
    pub soa: Option<SoaSpec>,
    /// `$NS` names (no trailing dot), in order.
    pub ns: Vec<String>,
    /// TTL given on the `$NS` line, when set.
    pub ns_ttl: Option<u32>,
    /// Distinct answers, numbered as [`crate::rbldnsd::parse`] numbers them.
    pub(crate) answers: Vec<AnswerSpec>,
    /// IPv4 /32 entries, ascending, one per address. A value is an index
    /// into `answers` or [`crate::dataset::EXCLUDED`].
    pub(crate) v4_exact: Exact4,
    /// IPv4 prefixes shorter than /32: `(net, len, value)`, ascending by
    /// `(net, len)`, no repeated prefix.
    pub(crate) v4: Vec<(u32, u8, u32)>,
    /// IPv6 prefixes: `(net, len, value)`, ascending, no repeated prefix.
    pub(crate) v6: Vec<(u128, u8, u32)>,
    /// The name keys of `exact` and `wild`.
    pub(crate) names: Vec<u8>,
    /// Names listed (or excluded) themselves, ascending by key, unique.
    pub(crate) exact: Vec<NameRef>,
    /// Names whose subdomains are listed (or excluded), ascending by key,
    /// unique.
    pub(crate) wild: Vec<NameRef>,
}

impl Columns {
    /// Number of entries (a `.name` entry counts twice: the name and its
    /// subdomains).
    pub fn len(&self) -> usize {
        self.v4_exact.len() + self.v4.len() + self.v6.len() + self.exact.len() + self.wild.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What an entry of an `acl` dataset does to the queries of the clients
/// it covers (rbldnsd's querier ACL; see [`crate::rbldnsd::parse_acl`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AclAction {
    /// `:ignore` (or `:blackhole`): no reply at all, as if the query never
    /// arrived. rbldnsd's default for an entry without a value.
    Ignore,
    /// `:refuse`: REFUSED to every query for the zone, apex included.
    Refuse,
    /// `:empty`: the zone looks empty: every name below the apex is
    /// NXDOMAIN (the built-in test entries too); SOA and NS are answered.
    Empty,
    /// `:pass`: answered as usual (an exception inside a larger entry).
    Pass,
    /// An `A:TXT` value: every name below the apex is listed with the
    /// answer at this index of [`AclData::answers`], `$` in its TXT being
    /// the querier's address.
    Listed(u32),
}

/// One `acl` entry: a network of queriers and its action. `net` has all
/// bits below `len` cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclEntry<K> {
    /// Network address as a host-order integer.
    pub net: K,
    /// Prefix length.
    pub len: u8,
    /// What queries from this network get.
    pub action: AclAction,
}

/// Everything an `acl` data file says: querier networks and their actions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AclData {
    /// Answers of the [`AclAction::Listed`] entries.
    pub answers: Vec<AnswerSpec>,
    /// IPv4 querier networks, sorted, no repeated prefix.
    pub ip4: Vec<AclEntry<u32>>,
    /// IPv6 querier networks, sorted, no repeated prefix.
    pub ip6: Vec<AclEntry<u128>>,
    /// `$TTL`: the TTL of the listed answers, when set.
    pub ttl: Option<u32>,
}
