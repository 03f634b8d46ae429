//! Per-client limits of the UDP workers: response-rate limiting (RRL) and
//! daily query quotas.
//!
//! # Response-rate limiting
//!
//! A DNS server answering UDP can be made to send its answers to a forged
//! source address: a reflection attack. RRL, as in BIND, Knot and NSD,
//! limits *identical responses* to one *client network* (an IPv4 /24 or
//! IPv6 /56 by default): a token-bucket account per {network, response
//! class} earns [`RrlOptions::responses_per_second`] credits a second, a
//! response costs one, and while the account is negative responses are
//! dropped — except every [`RrlOptions::slip`]-th, which goes out as an
//! empty reply with TC=1 so that a real client behind a forged flood
//! retries over TCP (exempt) and still gets its answer. The account
//! holds at most one second of credit and at least `window` seconds of
//! debt, so a flood keeps being limited for up to `window` seconds after
//! it slows down.
//!
//! Which responses are "identical" (the account key), after BIND's
//! `rate-limit` and NSD's `rrl.c`:
//!
//! | response                       | account                      |
//! |--------------------------------|------------------------------|
//! | answer records (listed, apex)  | network, query name, type    |
//! | NOERROR without answer (NODATA)| network, query name          |
//! | NXDOMAIN                       | network, the zone            |
//! | any error rcode (REFUSED, …)   | network                      |
//!
//! So a flood of random unlisted names is one account per zone, not one
//! per name; and, as the BIND manual warns, a DNSBL legitimately sends
//! many NXDOMAINs (every clean address asked is one): a mail provider's
//! resolver asking about hundreds of clean senders a second shares one
//! NXDOMAIN account per zone. That is why RRL is off by default here and
//! why NXDOMAINs have their own limit ([`RrlOptions::nxdomains_per_second`])
//! and exempt networks exist; `docs/internet-dns.md` has the advice.
//! Names are compared case-insensitively (random case does not make new
//! accounts).
//!
//! # Where the state lives
//!
//! Each UDP worker owns its tables: a fixed array of buckets allocated at
//! start ([`RrlOptions::table_size`]), two-way set-associative, indexed by
//! a keyed hash of the account key (`Keyed`: a per-start random key, so
//! clients cannot aim collisions). No lock, no atomic, no allocation per
//! query.
//! The kernel spreads a client's datagrams over the workers by source
//! port, so each worker allows `1/workers` of the configured rates; a
//! client that sends from one port meets that share alone (stricter, never
//! looser). A new account evicts the less recently used of its two slots;
//! a flood of distinct accounts larger than the table resets accounts
//! early (limits less, never more).
//!
//! # Query quotas
//!
//! [`QuotaOptions`]: each client network may send so many queries per
//! 24-hour window (counted per worker, again at `1/workers` of the quota
//! each); beyond it the client gets the configured ACL action for every
//! zone, combined with the zone's own ACL (the stronger wins).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use fadelist_core::dataset::acl::{Acl, Verdict};
use tracing::warn;

use super::parse::HEADER_LEN;
use crate::publisher::Served;

/// A keyed hash of account keys, word at a time.
///
/// SipHash (std's hasher) cost half of RRL's per-query budget here; the
/// keys are a few 64-bit words, so each word is mixed in with a folded
/// 64×64→128-bit multiply (as wyhash does) under two secret random keys
/// drawn at start. Clients never see a hash value, so they cannot search
/// for collisions; the worst they can do, flooding distinct accounts,
/// they can do with any hash.
#[derive(Clone, Copy, Debug)]
struct Keyed {
    k0: u64,
    k1: u64,
}

/// The multiplier of [`Keyed::word`]: odd, bits spread (the 64-bit golden
/// ratio).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl Keyed {
    fn random() -> Keyed {
        let s = RandomState::new();
        Keyed {
            k0: s.hash_one(0x6b30_u64) | 1,
            k1: s.hash_one(0x6b31_u64),
        }
    }

    /// Folds `w` into `acc`.
    #[inline]
    fn word(self, acc: u64, w: u64) -> u64 {
        let m = u128::from((acc ^ w).wrapping_add(self.k1)) * u128::from(self.k0 ^ MIX);
        (m as u64) ^ ((m >> 64) as u64)
    }

    /// The final avalanche, so that the low bits (the table index) depend
    /// on every input bit.
    #[inline]
    fn finish(self, acc: u64) -> u64 {
        self.word(acc, self.k0.rotate_left(29))
    }
}

/// A list of networks (exempt clients), as `(address, prefix length)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Networks {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl Networks {
    /// The networks `nets` (address, prefix length); host bits are
    /// ignored.
    pub fn new(nets: impl IntoIterator<Item = (IpAddr, u8)>) -> Networks {
        let mut n = Networks::default();
        for (addr, len) in nets {
            match canonical(addr) {
                IpAddr::V4(a) => {
                    let m = mask32(len.min(32));
                    n.v4.push((u32::from(a) & m, m));
                }
                IpAddr::V6(a) => {
                    let m = mask128(len.min(128));
                    n.v6.push((u128::from(a) & m, m));
                }
            }
        }
        n
    }

    /// True when `addr` is in one of the networks.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match canonical(addr) {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, m)| a & m == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, m)| a & m == net)
            }
        }
    }

    /// True when there are no networks.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// The client network of `addr`: its family (4 or 6) and the address with
/// its host bits cleared.
fn network(addr: IpAddr, v4_len: u8, v6_len: u8) -> (u8, u128) {
    match canonical(addr) {
        IpAddr::V4(a) => (4, u128::from(u32::from(a) & mask32(v4_len.min(32)))),
        IpAddr::V6(a) => (6, u128::from(a) & mask128(v6_len.min(128))),
    }
}

/// Response-rate limiting settings (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct RrlOptions {
    /// Identical answers per second per client network, over all workers.
    pub responses_per_second: u32,
    /// NXDOMAINs per second per client network and zone; 0 = unlimited.
    pub nxdomains_per_second: u32,
    /// NODATA responses per second per client network and name; 0 =
    /// unlimited.
    pub nodata_per_second: u32,
    /// Error responses (REFUSED, FORMERR, …) per second per client
    /// network; 0 = unlimited.
    pub errors_per_second: u32,
    /// Every `slip`-th limited response is sent as an empty TC=1 reply
    /// (an error reply as it is); 0 = drop them all, 1 = slip them all.
    pub slip: u32,
    /// Seconds of debt an account can build up (1 to 3600).
    pub window: u32,
    /// Prefix length of an IPv4 client network.
    pub ipv4_prefix: u8,
    /// Prefix length of an IPv6 client network.
    pub ipv6_prefix: u8,
    /// Clients never limited.
    pub exempt: Networks,
    /// Count and log what would be limited, but answer everything.
    pub log_only: bool,
    /// Buckets per worker (rounded up to a power of two).
    pub table_size: usize,
    /// How often a worker logs what it limited (when it limited anything).
    pub log_interval: Duration,
}

impl Default for RrlOptions {
    fn default() -> Self {
        RrlOptions {
            responses_per_second: 0,
            nxdomains_per_second: 0,
            nodata_per_second: 0,
            errors_per_second: 0,
            slip: 2,
            window: 15,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            exempt: Networks::default(),
            log_only: false,
            table_size: DEFAULT_TABLE_SIZE,
            log_interval: Duration::from_secs(60),
        }
    }
}

/// Largest table per worker (entries), whatever the options say.
const MAX_TABLE: usize = 1 << 22;

/// Default [`RrlOptions::table_size`]: 64 Ki buckets of 32 bytes (2 MiB)
/// per worker. BIND sizes its table to about the queries per second.
pub const DEFAULT_TABLE_SIZE: usize = 1 << 16;

/// What happens to one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RrlAction {
    /// Send it.
    Send,
    /// Send the empty TC=1 form ([`slip_reply`]).
    Slip,
    /// Send nothing.
    Drop,
}

/// Response classes (the account key's kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Class {
    Answer = 1,
    NoData = 2,
    NxDomain = 3,
    Error = 4,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Answer => "answer",
            Class::NoData => "nodata",
            Class::NxDomain => "nxdomain",
            Class::Error => "error",
        }
    }
}

/// One account: 32 bytes, two per cache line.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
struct Bucket {
    /// Hash of the account key, never 0; 0 = free.
    key: u64,
    /// Credit in units of 1/(1000 × workers) response.
    balance: i64,
    /// Worker clock (ms) of the last update.
    last: u64,
    /// Limited responses so far, for the slip rotation.
    limited: u32,
}

/// What a worker limited: running totals since it started (the metrics
/// read them), and the totals at the last log line (the log shows the
/// difference).
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    dropped: u64,
    slipped: u64,
    would_limit: u64,
}

impl Counters {
    fn since(self, then: Counters) -> Counters {
        Counters {
            dropped: self.dropped - then.dropped,
            slipped: self.slipped - then.slipped,
            would_limit: self.would_limit - then.would_limit,
        }
    }
}

impl std::fmt::Debug for Rrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rrl")
            .field("worker", &self.worker)
            .field("buckets", &self.table.len())
            .finish_non_exhaustive()
    }
}

/// The last limited response, kept for the log line (no allocation).
struct Example {
    addr: IpAddr,
    class: Class,
    name: [u8; 255],
    name_len: usize,
}

/// A worker's rate limiter: its table of accounts and counters. The UDP
/// workers own one each; public for benchmarks and tests.
pub struct Rrl {
    opts: RrlOptions,
    /// Per-class rate (responses per second, whole server); 0 = unlimited.
    rates: [u32; 5],
    /// Cost of one response in balance units: 1000 × workers.
    cost: i64,
    hasher: Keyed,
    table: Box<[Bucket]>,
    mask: usize,
    counters: Counters,
    logged: Counters,
    example: Option<Example>,
    next_log: u64,
    worker: usize,
}

/// The parts of a reply RRL looks at.
struct Reply<'a> {
    class: Class,
    qtype: u16,
    /// The question name, wire form (empty when it could not be read).
    name: &'a [u8],
    /// Where the question ends (header + question).
    question_end: usize,
}

/// Reads the header and question of a reply we wrote (fast path) or
/// hickory wrote (fallback): uncompressed question name, one question.
fn read_reply(reply: &[u8]) -> Option<Reply<'_>> {
    let h = reply.get(..HEADER_LEN)?;
    let rcode = h[3] & 0x0f;
    let qdcount = u16::from_be_bytes([h[4], h[5]]);
    let ancount = u16::from_be_bytes([h[6], h[7]]);
    let class = match (rcode, ancount) {
        (0, 0) => Class::NoData,
        (0, _) => Class::Answer,
        (3, _) => Class::NxDomain,
        _ => Class::Error,
    };
    let no_question = Reply {
        class,
        qtype: 0,
        name: &[],
        question_end: HEADER_LEN,
    };
    if qdcount != 1 {
        return Some(no_question);
    }
    let mut pos = HEADER_LEN;
    loop {
        let Some(&len) = reply.get(pos) else {
            return Some(no_question);
        };
        if len == 0 {
            pos += 1;
            break;
        }
        if len > 63 {
            return Some(no_question);
        }
        pos += 1 + usize::from(len);
    }
    let Some(t) = reply.get(pos..pos + 4) else {
        return Some(no_question);
    };
    Some(Reply {
        class,
        qtype: u16::from_be_bytes([t[0], t[1]]),
        name: &reply[HEADER_LEN..pos],
        question_end: pos + 4,
    })
}

/// The suffix of the wire name `name` that is a zone apex of `served`
/// (the longest), or an empty slice.
fn zone_suffix<'a>(served: &Served, name: &'a [u8]) -> &'a [u8] {
    let mut pos = 0;
    while pos < name.len() {
        let rest = &name[pos..];
        if served
            .wire
            .iter()
            .any(|z| z.apex.len() == rest.len() && z.apex.eq_ignore_ascii_case(rest))
        {
            return rest;
        }
        pos += 1 + usize::from(name[pos]);
    }
    &[]
}

/// ASCII lower case of eight bytes at once (letters only; other bytes,
/// non-ASCII included, unchanged).
#[inline]
fn lower8(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = w & LOW7;
    // Bit 7 of each byte: set when the byte's low 7 bits are >= 'A' ...
    let ge_a = low + 0x3f3f_3f3f_3f3f_3f3f;
    // ... and when they are > 'Z'.
    let gt_z = low + 0x2525_2525_2525_2525;
    // An upper-case letter: >= 'A', not > 'Z', and an ASCII byte.
    let upper = ge_a & !gt_z & !w & HIGH;
    w | (upper >> 2)
}

/// Folds `name` into `acc` lower-cased, eight bytes at a time: the
/// account key ignores case without copying the name.
#[inline]
fn hash_lowercase(k: Keyed, mut acc: u64, name: &[u8]) -> u64 {
    let mut words = name.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        acc = k.word(acc, lower8(u64::from_le_bytes(b)));
    }
    let rest = words.remainder();
    let mut b = [0u8; 8];
    b[..rest.len()].copy_from_slice(rest);
    // The length last: names that differ only by trailing zero bytes differ.
    k.word(
        acc,
        lower8(u64::from_le_bytes(b)) ^ (name.len() as u64) << 56,
    )
}

/// Rewrites the reply at `out[start..]` into its slipped form: the header
/// and question alone, TC=1, no records (as NSD slips; the client retries
/// over TCP).
pub fn slip_reply(out: &mut Vec<u8>, start: usize) {
    let Some(r) = read_reply(&out[start..]) else {
        return;
    };
    out.truncate(start + r.question_end);
    let h = &mut out[start..start + HEADER_LEN];
    h[2] |= 0x02;
    h[6..12].fill(0);
}

impl Rrl {
    /// A limiter for worker number `worker` of the `workers` that share a
    /// listening address (each allows `1/workers` of the rates). Allocates
    /// its whole table here, never per query.
    pub fn new(opts: &RrlOptions, workers: usize, worker: usize) -> Rrl {
        let size = opts.table_size.clamp(2, MAX_TABLE).next_power_of_two();
        let mut rates = [0; 5];
        rates[Class::Answer as usize] = opts.responses_per_second;
        rates[Class::NoData as usize] = opts.nodata_per_second;
        rates[Class::NxDomain as usize] = opts.nxdomains_per_second;
        rates[Class::Error as usize] = opts.errors_per_second;
        Rrl {
            rates,
            cost: 1000 * workers.max(1) as i64,
            hasher: Keyed::random(),
            table: vec![Bucket::default(); size].into_boxed_slice(),
            mask: size - 1,
            counters: Counters::default(),
            logged: Counters::default(),
            example: None,
            next_log: opts.log_interval.as_millis() as u64,
            worker,
            opts: opts.clone(),
        }
    }

    /// Decides the fate of the reply `reply` to `src`, at worker time
    /// `now_ms` (milliseconds on a clock of the caller's, never going back).
    pub fn check(
        &mut self,
        served: &Served,
        reply: &[u8],
        src: SocketAddr,
        now_ms: u64,
    ) -> RrlAction {
        let Some(r) = read_reply(reply) else {
            return RrlAction::Send;
        };
        let rate = self.rates[r.class as usize];
        if rate == 0 || self.opts.exempt.contains(src.ip()) {
            return RrlAction::Send;
        }
        let net = network(src.ip(), self.opts.ipv4_prefix, self.opts.ipv6_prefix);
        let key = self.key(net, &r, served);
        let limited = self.account(key, rate, now_ms);
        let Some(limited) = limited else {
            return RrlAction::Send;
        };
        self.remember(src.ip(), &r);
        if self.opts.log_only {
            self.counters.would_limit += 1;
            return RrlAction::Send;
        }
        let slip = self.opts.slip;
        if slip > 0 && limited % slip == 0 {
            self.counters.slipped += 1;
            // Error replies are already as small as a TC reply: BIND
            // "leaks" them at the slip rate instead.
            if r.class == Class::Error {
                RrlAction::Send
            } else {
                RrlAction::Slip
            }
        } else {
            self.counters.dropped += 1;
            RrlAction::Drop
        }
    }

    /// The account key of a reply to network `net`.
    fn key(&self, (family, net): (u8, u128), r: &Reply<'_>, served: &Served) -> u64 {
        let (name, qtype) = match r.class {
            Class::Answer => (r.name, r.qtype),
            Class::NoData => (r.name, 0),
            Class::NxDomain => (zone_suffix(served, r.name), 0),
            Class::Error => (&[][..], 0),
        };
        let k = self.hasher;
        let tag = u64::from(family) << 56 | u64::from(r.class as u8) << 48 | u64::from(qtype);
        let mut acc = k.word(0, tag);
        acc = k.word(acc, net as u64);
        acc = k.word(acc, (net >> 64) as u64);
        acc = hash_lowercase(k, acc, name);
        k.finish(acc) | 1
    }

    /// Debits the account `key` (rate `rate` per second over all
    /// workers). `Some(n)` when the response is limited, `n` counting the
    /// account's limited responses so far (for the slip rotation).
    fn account(&mut self, key: u64, rate: u32, now_ms: u64) -> Option<u32> {
        let rate = i64::from(rate);
        // One second of credit at most, `window` seconds of debt at most.
        let cap = 1000 * rate;
        let floor = -i64::from(self.opts.window.max(1)) * 1000 * rate;
        let i = (key as usize) & self.mask;
        let j = i ^ 1;
        let slot = if self.table[i].key == key {
            i
        } else if self.table[j].key == key {
            j
        } else {
            // A new account takes the slot used less recently.
            let k = if self.table[i].last <= self.table[j].last {
                i
            } else {
                j
            };
            self.table[k] = Bucket {
                key,
                balance: cap,
                last: now_ms,
                limited: 0,
            };
            k
        };
        let b = &mut self.table[slot];
        let elapsed = now_ms.saturating_sub(b.last).min(3_600_000) as i64;
        b.last = now_ms;
        // `rate` units per ms: rate × 1000 per second = rate / workers
        // responses per second on this worker.
        b.balance = (b.balance + elapsed * rate).min(cap) - self.cost;
        b.balance = b.balance.max(floor);
        if b.balance >= 0 {
            return None;
        }
        b.limited = b.limited.wrapping_add(1);
        Some(b.limited)
    }

    fn remember(&mut self, addr: IpAddr, r: &Reply<'_>) {
        let e = self.example.get_or_insert(Example {
            addr,
            class: r.class,
            name: [0; 255],
            name_len: 0,
        });
        e.addr = addr;
        e.class = r.class;
        e.name_len = r.name.len().min(255);
        e.name[..e.name_len].copy_from_slice(&r.name[..e.name_len]);
    }

    /// Responses dropped, slipped and (log-only) would-be-limited since
    /// the worker started, in the order of
    /// [`RRL_ACTIONS`](crate::metrics::RRL_ACTIONS).
    pub(crate) fn totals(&self) -> [u64; 3] {
        let c = self.counters;
        [c.dropped, c.slipped, c.would_limit]
    }

    /// Logs the counters once per interval, when anything was limited.
    pub fn tick(&mut self, now_ms: u64) {
        if now_ms < self.next_log {
            return;
        }
        self.next_log = now_ms + self.opts.log_interval.as_millis().max(1) as u64;
        let c = self.counters.since(self.logged);
        self.logged = self.counters;
        let Some(e) = self.example.take() else {
            return;
        };
        let mut name = String::new();
        let mut pos = 0;
        let wire = &e.name[..e.name_len];
        while pos < wire.len() && wire[pos] != 0 {
            let end = (pos + 1 + usize::from(wire[pos])).min(wire.len());
            name.push_str(&String::from_utf8_lossy(&wire[pos + 1..end]));
            name.push('.');
            pos = end;
        }
        warn!(
            worker = self.worker,
            dropped = c.dropped,
            slipped = c.slipped,
            would_limit = c.would_limit,
            log_only = self.opts.log_only,
            example_client = %e.addr,
            example_class = e.class.name(),
            example_name = %name,
            "DNS response-rate limiting in the last {:?}",
            self.opts.log_interval
        );
    }
}

/// Daily query quotas (see the module docs).
#[derive(Clone, Debug)]
pub struct QuotaOptions {
    /// Queries per client network per 24 hours, over all workers.
    pub queries_per_day: u64,
    /// Prefix length of an IPv4 client network.
    pub ipv4_prefix: u8,
    /// Prefix length of an IPv6 client network.
    pub ipv6_prefix: u8,
    /// Clients without a quota.
    pub exempt: Networks,
    /// What a client over its quota gets, for every address: an ACL with
    /// one action (built from the configured rbldnsd acl value).
    pub action: Arc<Acl>,
    /// Buckets per worker (rounded up to a power of two).
    pub table_size: usize,
}

impl PartialEq for QuotaOptions {
    fn eq(&self, o: &Self) -> bool {
        self.queries_per_day == o.queries_per_day
            && self.ipv4_prefix == o.ipv4_prefix
            && self.ipv6_prefix == o.ipv6_prefix
            && self.exempt == o.exempt
            && Arc::ptr_eq(&self.action, &o.action)
            && self.table_size == o.table_size
    }
}

/// Length of a quota window.
const DAY_MS: u64 = 86_400_000;

/// One network's count: 16 bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Count {
    key: u64,
    window: u32,
    count: u32,
}

/// A worker's quota counter.
pub(crate) struct Quota {
    opts: QuotaOptions,
    /// This worker's share of the quota.
    limit: u64,
    hasher: Keyed,
    table: Box<[Count]>,
    mask: usize,
    /// Queries over quota since the last log line.
    over: u64,
    /// Queries over quota since the worker started (the metrics).
    over_total: u64,
    next_log: u64,
    worker: usize,
}

impl Quota {
    /// A counter for one of `workers` workers.
    pub(crate) fn new(opts: &QuotaOptions, workers: usize, worker: usize) -> Quota {
        let size = opts.table_size.clamp(2, MAX_TABLE).next_power_of_two();
        Quota {
            limit: opts.queries_per_day.div_ceil(workers.max(1) as u64),
            hasher: Keyed::random(),
            table: vec![Count::default(); size].into_boxed_slice(),
            mask: size - 1,
            over: 0,
            over_total: 0,
            next_log: 60_000,
            worker,
            opts: opts.clone(),
        }
    }

    /// Counts a query from `src` at worker time `now_ms`; the verdict it
    /// gets for every zone: [`Verdict::Pass`] within the quota.
    pub(crate) fn count(&mut self, src: SocketAddr, now_ms: u64) -> Verdict<'_> {
        if self.opts.exempt.contains(src.ip()) {
            return Verdict::Pass;
        }
        let net = network(src.ip(), self.opts.ipv4_prefix, self.opts.ipv6_prefix);
        let (family, net) = net;
        let k = self.hasher;
        let key = k.finish(k.word(k.word(u64::from(family), net as u64), (net >> 64) as u64)) | 1;
        let window = (now_ms / DAY_MS) as u32 + 1;
        let i = (key as usize) & self.mask;
        let j = i ^ 1;
        let slot = if self.table[i].key == key {
            i
        } else if self.table[j].key == key {
            j
        } else {
            // Replace a stale count first, else the smaller one: a heavy
            // client keeps its count against a flood of light ones.
            let stale = |c: &Count| c.window != window;
            let k = match (stale(&self.table[i]), stale(&self.table[j])) {
                (true, _) => i,
                (false, true) => j,
                _ if self.table[i].count <= self.table[j].count => i,
                _ => j,
            };
            self.table[k] = Count {
                key,
                window,
                count: 0,
            };
            k
        };
        let c = &mut self.table[slot];
        if c.window != window {
            c.window = window;
            c.count = 0;
        }
        c.count = c.count.saturating_add(1);
        if u64::from(c.count) <= self.limit {
            return Verdict::Pass;
        }
        self.over += 1;
        self.over_total += 1;
        self.opts.action.verdict(src.ip())
    }

    /// Queries over quota since the worker started.
    pub(crate) fn total_over(&self) -> u64 {
        self.over_total
    }

    /// Logs how many queries were over quota, once a minute at most.
    pub(crate) fn tick(&mut self, now_ms: u64) {
        if now_ms < self.next_log {
            return;
        }
        self.next_log = now_ms + 60_000;
        if self.over > 0 {
            warn!(
                worker = self.worker,
                queries = std::mem::take(&mut self.over),
                "DNS queries over the daily quota in the last minute"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(rps: u32) -> RrlOptions {
        RrlOptions {
            responses_per_second: rps,
            nxdomains_per_second: rps,
            nodata_per_second: rps,
            errors_per_second: rps,
            table_size: 64,
            ..RrlOptions::default()
        }
    }

    #[test]
    fn token_bucket_allows_the_rate_and_remembers_the_debt() {
        let mut r = Rrl::new(&opts(10), 1, 0);
        let key = 0x1234_5678_9abc_def1;
        // A burst: one second of credit (10), then limited.
        let sent = (0..100)
            .filter(|_| r.account(key, 10, 1000).is_none())
            .count();
        assert_eq!(sent, 10);
        // 1 s later: the debt (90 responses) is not paid back by 10 credits.
        assert!(r.account(key, 10, 2000).is_some());
        // Debt is capped at `window` (15 s): 15 s of silence repays it.
        assert!(r.account(key, 10, 2000 + 15_000).is_none());
        // Steady flow at the rate passes.
        let mut t = 20_000;
        let mut passed = 0;
        for _ in 0..50 {
            t += 100;
            passed += usize::from(r.account(key, 10, t).is_none());
        }
        assert_eq!(passed, 50);
    }

    #[test]
    fn lowercase_eight_bytes_at_a_time() {
        for b in 0..=255u8 {
            let w = u64::from_le_bytes([b, b'A', b'z', b'@', b'[', b'`', b'{', b'Z']);
            let want = u64::from_le_bytes([
                b.to_ascii_lowercase(),
                b'a',
                b'z',
                b'@',
                b'[',
                b'`',
                b'{',
                b'z',
            ]);
            assert_eq!(lower8(w), want, "byte {b:#x}");
        }
        // Same key whatever the case; another name, another key.
        let r = Rrl::new(&opts(1), 1, 0);
        let key = |name: &[u8]| r.hasher.finish(hash_lowercase(r.hasher, 0, name));
        assert_eq!(
            key(b"\x04Test\x0bExample-NET\x00"),
            key(b"\x04tEST\x0bexample-net\x00")
        );
        assert_ne!(key(b"\x04test\x00"), key(b"\x04tesu\x00"));
        assert_ne!(key(b"\x00"), key(b"\x00\x00"));
        // The table index (low bits) spreads: 20,000 names over 4,096 slots
        // leave few empty (a uniform hash: about 0.8 %).
        let mut used = vec![0u32; 4096];
        for i in 0..20_000u32 {
            let name = format!("\x05{:05}\x02bl\x00", i);
            used[(key(name.as_bytes()) & 4095) as usize] += 1;
        }
        let empty = used.iter().filter(|&&n| n == 0).count();
        assert!(empty < 100, "{empty} empty slots");
        assert!(used.iter().all(|&n| n < 25), "max {:?}", used.iter().max());
    }

    #[test]
    fn workers_share_the_rate() {
        // Two workers: each allows half.
        let mut r = Rrl::new(&opts(10), 2, 0);
        let sent = (0..100)
            .filter(|_| r.account(7, 10, 1000).is_none())
            .count();
        assert_eq!(sent, 5);
    }

    #[test]
    fn classes_and_networks() {
        let reply = |rcode: u8, an: u16, name: &[u8]| {
            let mut p = vec![0, 1, 0x84, rcode, 0, 1];
            p.extend_from_slice(&an.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 0]);
            p.extend_from_slice(name);
            p.extend_from_slice(&[0, 1, 0, 1]);
            p
        };
        let r = reply(0, 1, b"\x01a\x02bl\x00");
        let rd = read_reply(&r).unwrap();
        assert_eq!(
            (rd.class, rd.qtype, rd.name),
            (Class::Answer, 1, &b"\x01a\x02bl\x00"[..])
        );
        assert_eq!(
            read_reply(&reply(0, 0, b"\x00")).unwrap().class,
            Class::NoData
        );
        assert_eq!(
            read_reply(&reply(3, 0, b"\x00")).unwrap().class,
            Class::NxDomain
        );
        assert_eq!(
            read_reply(&reply(5, 0, b"\x00")).unwrap().class,
            Class::Error
        );
        let bad = reply(0, 1, b"\xc0\x0c");
        assert_eq!(read_reply(&bad).unwrap().name, b"");
        let mut slipped = r.clone();
        slip_reply(&mut slipped, 0);
        assert_eq!(slipped.len(), r.len());
        assert_eq!(slipped[2] & 0x02, 0x02, "TC");
        assert_eq!(&slipped[6..12], &[0; 6]);

        let n = |s: &str| network(s.parse().unwrap(), 24, 56);
        assert_eq!(n("192.0.2.1"), n("192.0.2.200"));
        assert_ne!(n("192.0.2.1"), n("192.0.3.1"));
        assert_eq!(n("::ffff:192.0.2.1"), n("192.0.2.9"));
        assert_eq!(n("2001:db8:0:ff::1"), n("2001:db8:0:1::2"));
        assert_ne!(n("2001:db8:0:100::1"), n("2001:db8::1"));
        assert_ne!(n("0.0.0.0"), n("::"));
        let ex = Networks::new([
            ("10.0.0.0".parse().unwrap(), 8),
            ("2001:db8::".parse().unwrap(), 32),
        ]);
        assert!(ex.contains("10.1.2.3".parse().unwrap()));
        assert!(ex.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!ex.contains("11.0.0.0".parse().unwrap()));
        assert!(ex.contains("2001:db8::5".parse().unwrap()));
        assert!(!ex.contains("2001:db9::".parse().unwrap()));
    }
}
