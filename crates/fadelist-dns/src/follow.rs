//! The follower's side of zone transfers: asking a primary for its SOA,
//! pulling a zone by AXFR (RFC 5936) or IXFR (RFC 1995) over TCP, TSIG
//! signed when a key is set (RFC 8945), and accepting the primary's
//! NOTIFY (RFC 1996) on our own DNS port.
//!
//! The transfer reader streams: an AXFR goes record by record into a new
//! [`ZoneContent`], never held as messages; an IXFR's diffs are kept
//! until the last message verified, then applied by the caller.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use fadelist_core::zone_import::{ApplyError, RData, Soa, ZoneContent, txt_from_rdata};
use fadelist_core::zone_records::{TYPE_A, TYPE_NS, TYPE_SOA, TYPE_TXT, wire_name};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{debug, warn};

use crate::notify::IdSource;
use crate::tsig::{self, Key, ResponseVerifier};

const TYPE_IXFR: u16 = 251;
const TYPE_AXFR: u16 = 252;
const OPCODE_NOTIFY: u8 = 4;
const RCODE_REFUSED: u8 = 5;
/// A transfer of more records than this is given up (a zone of 20M
/// entries is about 40M records): a broken or hostile primary must not
/// fill the follower's memory.
const MAX_RECORDS: u64 = 200_000_000;
/// A whole transfer gives up after this long, however steadily the
/// primary drips.
const MAX_TRANSFER_TIME: Duration = Duration::from_secs(3600);

/// Where a followed zone comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Primary {
    /// The primary's DNS address (TCP for SOA checks and transfers).
    pub addr: SocketAddr,
    /// Sign requests with this key and accept only responses signed with
    /// it.
    pub key: Option<Key>,
    /// Connecting, and each read and write, gives up after this long.
    pub timeout: Duration,
}

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// Network trouble (connect, read, write, timeout, closed early).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The primary answered with an error code.
    #[error("the primary answered {0}")]
    Rcode(&'static str),
    /// The response is not a valid answer to what we asked.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// TSIG verification failed.
    #[error("TSIG: {0}")]
    Tsig(#[from] tsig::VerifyError),
    /// A record could not be stored.
    #[error("{0}")]
    Apply(#[from] ApplyError),
}

fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        9 => "NOTAUTH",
        _ => "an error",
    }
}

/// One record of a transfer, owner relative to the zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Owner labels, leftmost first, zone removed (empty: the apex).
    pub owner: Vec<Vec<u8>>,
    /// TTL.
    pub ttl: u32,
    /// Data.
    pub data: RData,
}

/// One serial-to-serial step of an IXFR.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Records removed.
    pub deleted: Vec<Record>,
    /// Records added.
    pub added: Vec<Record>,
}

/// What a pull brought.
#[derive(Debug)]
pub enum Pulled {
    /// The primary has nothing newer than `serial`.
    UpToDate(u32),
    /// The whole zone (an AXFR, or an IXFR answered with the whole zone).
    Full(Box<ZoneContent>),
    /// Diffs from our serial to `soa`'s, to apply in order.
    Incremental {
        /// The new SOA.
        soa: Soa,
        /// The steps.
        diffs: Vec<Diff>,
    },
}

impl Diff {
    /// Applies this step to `content`.
    pub fn apply(&self, content: &mut ZoneContent) -> Result<(), ApplyError> {
        for r in &self.deleted {
            let labels: Vec<&[u8]> = r.owner.iter().map(Vec::as_slice).collect();
            content.remove(&labels, r.data.clone())?;
        }
        for r in &self.added {
            let labels: Vec<&[u8]> = r.owner.iter().map(Vec::as_slice).collect();
            content.add(&labels, r.ttl, r.data.clone())?;
        }
        Ok(())
    }
}

/// RFC 1982: `a` is newer than `b`.
pub fn serial_newer(a: u32, b: u32) -> bool {
    a != b && (a.wrapping_sub(b) as i32) > 0
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A query for `zone`, type `qtype`; an IXFR carries our SOA (`serial`)
/// in the authority section.
fn query(id: u16, zone: &str, qtype: u16, ixfr_serial: Option<u32>) -> Vec<u8> {
    let name = wire_name(zone);
    let mut m = Vec::with_capacity(64 + name.len());
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
    m.extend_from_slice(&u16::from(ixfr_serial.is_some()).to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&name);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    if let Some(serial) = ixfr_serial {
        // Owner: a pointer to the question name.
        m.extend_from_slice(&[0xc0, 12]);
        m.extend_from_slice(&TYPE_SOA.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
        m.extend_from_slice(&22u16.to_be_bytes());
        // Root mname and rname: the serial is what the primary reads.
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&serial.to_be_bytes());
        m.extend_from_slice(&[0; 16]);
    }
    m
}

/// Reads a possibly compressed name at `pos` of `msg`: its labels
/// (lower-cased) and the position after it.
fn read_name(msg: &[u8], mut pos: usize) -> Option<(Vec<Vec<u8>>, usize)> {
    let mut labels = Vec::new();
    let mut end = None;
    let mut jumps = 0;
    let mut total = 0usize;
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => {
                return Some((labels, end.unwrap_or(pos + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let target = usize::from(u16::from_be_bytes([l & 0x3f, *msg.get(pos + 1)?]));
                end.get_or_insert(pos + 2);
                jumps += 1;
                // Pointers go backwards (RFC 1035 §4.1.4); a loop is
                // malformed.
                if jumps > 64 || target >= pos {
                    return None;
                }
                pos = target;
            }
            l if l & 0xc0 == 0 => {
                let l = usize::from(l);
                let label = msg.get(pos + 1..pos + 1 + l)?;
                total += l + 1;
                if total > 255 {
                    return None;
                }
                labels.push(label.to_ascii_lowercase());
                pos += 1 + l;
            }
            _ => return None,
        }
    }
}

fn dotted(labels: &[Vec<u8>]) -> String {
    labels
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

/// A record of the answer section: owner labels (absolute), TTL, data
/// (which carries the type).
struct RawRecord {
    owner: Vec<Vec<u8>>,
    ttl: u32,
    data: RData,
}

/// The answer records of a response message, after its checks: our ID,
/// QR set, no error.
fn answers(msg: &[u8], id: u16) -> Result<Vec<RawRecord>, PullError> {
    let bad = PullError::Malformed;
    if msg.len() < 12 {
        return Err(bad("short message"));
    }
    if u16::from_be_bytes([msg[0], msg[1]]) != id || msg[2] & 0x80 == 0 {
        return Err(bad("not the answer to our query"));
    }
    let rcode = msg[3] & 0x0f;
    if rcode != 0 {
        return Err(PullError::Rcode(rcode_name(rcode)));
    }
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let an = u16::from_be_bytes([msg[6], msg[7]]);
    let mut pos = 12;
    for _ in 0..qd {
        let (_, p) = read_name(msg, pos).ok_or(bad("question name"))?;
        pos = p + 4;
    }
    let mut out = Vec::with_capacity(usize::from(an));
    for _ in 0..an {
        let (owner, p) = read_name(msg, pos).ok_or(bad("owner name"))?;
        let fixed = msg.get(p..p + 10).ok_or(bad("record header"))?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let start = p + 10;
        let rdata = msg.get(start..start + rdlen).ok_or(bad("record data"))?;
        let data = match rtype {
            TYPE_A => RData::A(
                <[u8; 4]>::try_from(rdata)
                    .map_err(|_| bad("A record length"))?
                    .into(),
            ),
            TYPE_TXT => RData::Txt(txt_from_rdata(rdata).ok_or(bad("TXT record"))?),
            TYPE_NS => RData::Ns(dotted(&read_name(msg, start).ok_or(bad("NS name"))?.0)),
            TYPE_SOA => {
                let (mname, p1) = read_name(msg, start).ok_or(bad("SOA mname"))?;
                let (rname, p2) = read_name(msg, p1).ok_or(bad("SOA rname"))?;
                let f = msg.get(p2..p2 + 20).ok_or(bad("SOA fields"))?;
                let n = |i: usize| u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
                RData::Soa(Soa {
                    ttl,
                    mname: dotted(&mname),
                    rname: dotted(&rname),
                    serial: n(0),
                    refresh: n(4),
                    retry: n(8),
                    expire: n(12),
                    minimum: n(16),
                })
            }
            t => RData::Other(t),
        };
        out.push(RawRecord { owner, ttl, data });
        pos = start + rdlen;
    }
    Ok(out)
}

/// One TCP exchange with the primary: the query is sent (signed when a
/// key is set) and each response message handed to `each` (after its
/// TSIG check) until `each` says the response is complete.
async fn exchange(
    primary: &Primary,
    mut msg: Vec<u8>,
    mut each: impl FnMut(&[u8]) -> Result<bool, PullError>,
) -> Result<(), PullError> {
    let t = primary.timeout;
    let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "the primary is too slow");
    let mut verifier: Option<ResponseVerifier> = match &primary.key {
        Some(key) => Some(
            tsig::sign_request(&mut msg, key, unix_now())
                .map_err(|_| PullError::Malformed("cannot sign the request"))?
                .verifier(),
        ),
        None => None,
    };
    let mut stream = tokio::time::timeout(t, TcpStream::connect(primary.addr))
        .await
        .map_err(|_| timed_out())??;
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    framed.extend_from_slice(&msg);
    tokio::time::timeout(t, stream.write_all(&framed))
        .await
        .map_err(|_| timed_out())??;
    let mut buf = vec![0u8; 65_535];
    let deadline = tokio::time::Instant::now() + MAX_TRANSFER_TIME;
    loop {
        if tokio::time::Instant::now() > deadline {
            return Err(timed_out().into());
        }
        let mut len = [0u8; 2];
        tokio::time::timeout(t, stream.read_exact(&mut len))
            .await
            .map_err(|_| timed_out())??;
        let len = usize::from(u16::from_be_bytes(len));
        let m = &mut buf[..len];
        tokio::time::timeout(t, stream.read_exact(m))
            .await
            .map_err(|_| timed_out())??;
        if let Some(v) = &mut verifier {
            // An error answer may come unsigned (the primary did not know
            // our key): its rcode says more than "not signed".
            if let Err(e) = v.verify(m, unix_now()) {
                if m.len() >= 4 && m[3] & 0x0f != 0 {
                    return Err(PullError::Rcode(rcode_name(m[3] & 0x0f)));
                }
                return Err(e.into());
            }
        }
        if each(m)? {
            break;
        }
    }
    if let Some(v) = verifier {
        v.finish()?;
    }
    Ok(())
}

/// The primary's SOA for `zone`.
pub async fn soa(primary: &Primary, zone: &str) -> Result<Soa, PullError> {
    let id = IdSource::new().next();
    let zone_labels = zone_labels(zone);
    let mut found = None;
    exchange(primary, query(id, zone, TYPE_SOA, None), |m| {
        for r in answers(m, id)? {
            if r.owner == zone_labels
                && let RData::Soa(s) = r.data
            {
                found = Some(s);
            }
        }
        Ok(true)
    })
    .await?;
    found.ok_or(PullError::Malformed("no SOA in the answer"))
}

fn zone_labels(zone: &str) -> Vec<Vec<u8>> {
    zone.trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .map(|l| l.as_bytes().to_ascii_lowercase())
        .collect()
}

/// Where the transfer reader is.
enum State {
    /// Before the first record.
    Start,
    /// The first SOA read; the second record tells AXFR from IXFR.
    First(Soa),
    /// A whole zone, until the closing SOA.
    Full(Soa, Box<ZoneContent>),
    /// An IXFR's deletions (after an old SOA) or additions (after a new
    /// one).
    Deleting(Soa, Vec<Diff>),
    Adding(Soa, Vec<Diff>),
    /// Complete.
    Done(Pulled),
}

/// Pulls `zone` from `primary`: an IXFR from `have` (the serial we hold)
/// when given, else an AXFR.
pub async fn pull(primary: &Primary, zone: &str, have: Option<u32>) -> Result<Pulled, PullError> {
    let id = IdSource::new().next();
    let zone_labels = zone_labels(zone);
    let qtype = if have.is_some() { TYPE_IXFR } else { TYPE_AXFR };
    let mut state = State::Start;
    let mut records = 0u64;
    exchange(primary, query(id, zone, qtype, have), |m| {
        for r in answers(m, id)? {
            records += 1;
            if records > MAX_RECORDS {
                return Err(PullError::Malformed(
                    "more records than a transfer may hold",
                ));
            }
            // Records outside the zone (glue, garbage) are skipped.
            let Some(rel) = r
                .owner
                .len()
                .checked_sub(zone_labels.len())
                .filter(|&n| r.owner[n..] == zone_labels[..])
            else {
                continue;
            };
            let owner = r.owner[..rel].to_vec();
            let soa = match (&r.data, owner.is_empty()) {
                (RData::Soa(s), true) => Some(s.clone()),
                _ => None,
            };
            state = match (std::mem::replace(&mut state, State::Start), soa) {
                (State::Start, Some(s)) => {
                    match have {
                        // Nothing newer: the answer is that one SOA.
                        Some(h) if !serial_newer(s.serial, h) => {
                            State::Done(Pulled::UpToDate(s.serial))
                        }
                        _ => State::First(s),
                    }
                }
                (State::Start, None) => {
                    return Err(PullError::Malformed(
                        "the transfer does not start with the SOA",
                    ));
                }
                (State::First(first), Some(s)) if have.is_some() && s.serial != first.serial => {
                    // IXFR: an old SOA opens the first diff's deletions;
                    // it must be the version we hold.
                    if Some(s.serial) != have {
                        return Err(PullError::Malformed(
                            "the IXFR does not start at our serial",
                        ));
                    }
                    State::Deleting(first, vec![Diff::default()])
                }
                (State::First(first), Some(s)) if s.serial == first.serial => {
                    // An empty zone: SOA, SOA.
                    let mut c = ZoneContent::new();
                    c.soa = Some(first);
                    State::Done(Pulled::Full(Box::new(c)))
                }
                (State::First(first), _) => {
                    let mut c = ZoneContent::new();
                    c.soa = Some(first.clone());
                    add(&mut c, &owner, r.ttl, r.data)?;
                    State::Full(first, Box::new(c))
                }
                (State::Full(first, mut c), Some(s)) if s.serial == first.serial => {
                    c.soa = Some(first);
                    State::Done(Pulled::Full(c))
                }
                (State::Full(first, mut c), _) => {
                    add(&mut c, &owner, r.ttl, r.data)?;
                    State::Full(first, c)
                }
                (State::Deleting(first, diffs), Some(_)) => State::Adding(first, diffs),
                (State::Deleting(first, mut diffs), None) => {
                    if let Some(d) = diffs.last_mut() {
                        d.deleted.push(Record {
                            owner,
                            ttl: r.ttl,
                            data: r.data,
                        });
                    }
                    State::Deleting(first, diffs)
                }
                (State::Adding(first, diffs), Some(s)) if s.serial == first.serial => {
                    State::Done(Pulled::Incremental { soa: first, diffs })
                }
                (State::Adding(first, mut diffs), Some(_)) => {
                    diffs.push(Diff::default());
                    State::Deleting(first, diffs)
                }
                (State::Adding(first, mut diffs), None) => {
                    if let Some(d) = diffs.last_mut() {
                        d.added.push(Record {
                            owner,
                            ttl: r.ttl,
                            data: r.data,
                        });
                    }
                    State::Adding(first, diffs)
                }
                (State::Done(_), _) => {
                    return Err(PullError::Malformed("records after the closing SOA"));
                }
            };
        }
        Ok(matches!(state, State::Done(_)))
    })
    .await?;
    debug!(zone, records, "transfer read");
    match state {
        State::Done(p) => Ok(p),
        _ => Err(PullError::Malformed("the transfer ended early")),
    }
}

fn add(c: &mut ZoneContent, owner: &[Vec<u8>], ttl: u32, data: RData) -> Result<(), ApplyError> {
    let labels: Vec<&[u8]> = owner.iter().map(Vec::as_slice).collect();
    c.add(&labels, ttl, data)
}

/// One followed zone, as the NOTIFY inbox knows it.
#[derive(Debug)]
struct InboxZone {
    wire: Vec<u8>,
    name: String,
    from: Vec<IpAddr>,
    key: Option<Key>,
    signal: Arc<tokio::sync::Notify>,
}

/// Accepts NOTIFY messages for followed zones from their primaries, and
/// wakes the zone's follower. Shared by the UDP workers and the TCP
/// front.
#[derive(Debug, Default)]
pub struct NotifyInbox {
    zones: Vec<InboxZone>,
    /// When a refused NOTIFY was last logged (Unix seconds): at most one
    /// warning per 10 s, whoever floods us.
    last_warning: std::sync::atomic::AtomicU64,
}

impl PartialEq for NotifyInbox {
    fn eq(&self, other: &Self) -> bool {
        self.zones.len() == other.zones.len()
            && self
                .zones
                .iter()
                .zip(&other.zones)
                .all(|(a, b)| a.wire == b.wire && a.from == b.from && a.key == b.key)
    }
}

impl Eq for NotifyInbox {}

impl NotifyInbox {
    /// An inbox for no zone.
    pub fn new() -> NotifyInbox {
        NotifyInbox::default()
    }

    /// Accepts NOTIFY for `zone` from `from` (signed with `key` when
    /// set); returns what a NOTIFY wakes.
    pub fn add(
        &mut self,
        zone: &str,
        from: Vec<IpAddr>,
        key: Option<Key>,
    ) -> Arc<tokio::sync::Notify> {
        let signal = Arc::new(tokio::sync::Notify::new());
        self.zones.push(InboxZone {
            wire: wire_name(&zone.to_ascii_lowercase()),
            name: zone.to_string(),
            from,
            key,
            signal: signal.clone(),
        });
        signal
    }

    /// What a NOTIFY for `zone` wakes, if it is followed.
    pub fn signal(&self, zone: &str) -> Option<Arc<tokio::sync::Notify>> {
        let wire = wire_name(&zone.to_ascii_lowercase());
        self.zones
            .iter()
            .find(|z| z.wire == wire)
            .map(|z| z.signal.clone())
    }

    /// Logs a refused NOTIFY at most once per 10 s (debug otherwise).
    fn refused(&self, src: SocketAddr, zone: &str, why: &str) {
        use std::sync::atomic::Ordering;
        let now = unix_now();
        let last = self.last_warning.load(Ordering::Relaxed);
        if now >= last + 10
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            warn!(%src, zone, "NOTIFY refused: {why} (further refusals within 10 s are logged at debug level)");
        } else {
            debug!(%src, zone, "NOTIFY refused: {why}");
        }
    }

    /// True when there are no followed zones.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The reply to `msg` from `src` when it is a NOTIFY request;
    /// `None` for every other message (answered as usual). An accepted
    /// NOTIFY wakes the zone's follower.
    pub fn handle(&self, msg: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
        if msg.len() < 12 || msg[2] & 0x80 != 0 || (msg[2] >> 3) & 0x0f != OPCODE_NOTIFY {
            return None;
        }
        if self.zones.is_empty() {
            return None;
        }
        let qd = u16::from_be_bytes([msg[4], msg[5]]);
        let (labels, end) = if qd == 1 {
            read_name(msg, 12)?
        } else {
            return None;
        };
        let question = msg.get(12..end + 4)?;
        let mut wire = Vec::new();
        for l in &labels {
            wire.push(l.len() as u8);
            wire.extend_from_slice(l);
        }
        wire.push(0);
        let reply = |rcode: u8| {
            let mut r = Vec::with_capacity(12 + question.len());
            r.extend_from_slice(&msg[..2]);
            // QR, opcode NOTIFY, AA; RD and CD cleared.
            r.push(0x80 | (OPCODE_NOTIFY << 3) | 0x04);
            r.push(rcode);
            r.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
            r.extend_from_slice(question);
            r
        };
        let Some(zone) = self.zones.iter().find(|z| z.wire == wire) else {
            debug!(%src, zone = %dotted(&labels), "NOTIFY for a zone we do not follow");
            return Some(reply(RCODE_REFUSED));
        };
        if !zone.from.contains(&src.ip()) {
            self.refused(src, &zone.name, "not from the zone's primary");
            return Some(reply(RCODE_REFUSED));
        }
        let mut out = reply(0);
        if let Some(key) = &zone.key {
            match tsig::verify_request(msg, std::slice::from_ref(key), unix_now()) {
                Ok(Some(signed)) => {
                    if signed.signer().sign(&mut out, unix_now()).is_err() {
                        return None;
                    }
                }
                Ok(None) => {
                    self.refused(src, &zone.name, "unsigned (the zone's primary_key is set)");
                    return Some(reply(RCODE_REFUSED));
                }
                Err(failure) => {
                    self.refused(src, &zone.name, &failure.to_string());
                    return tsig::error_response(msg, &failure);
                }
            }
        }
        debug!(%src, zone = %zone.name, "NOTIFY accepted");
        zone.signal.notify_one();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decompress_and_loops_are_refused() {
        // "a.example" at 12, then "b" + pointer to 14 ("example").
        let mut m = vec![0u8; 12];
        m.extend_from_slice(b"\x01a\x07example\x00");
        let p = m.len();
        m.extend_from_slice(b"\x01b\xc0\x0e");
        assert_eq!(
            read_name(&m, p).unwrap(),
            (vec![b"b".to_vec(), b"example".to_vec()], p + 4)
        );
        // A pointer to itself.
        let q = m.len();
        m.extend_from_slice(&[0xc0, q as u8]);
        assert!(read_name(&m, q).is_none());
    }

    #[test]
    fn the_ixfr_query_carries_our_serial() {
        let q = query(7, "bl.example", TYPE_IXFR, Some(1234));
        let parsed = hickory_proto::op::Message::from_vec(&q).unwrap();
        assert_eq!(parsed.authorities.len(), 1);
        assert!(
            parsed.authorities[0].to_string().contains(" 1234 "),
            "{}",
            parsed.authorities[0]
        );
        assert_eq!(
            crate::xfr::parse_request(&q).map(|r| r.client_serial),
            Some(Some(1234))
        );
    }

    /// A record in wire form: owner (absolute), type, TTL, RDATA.
    fn rr(owner: &str, rtype: u16, rdata: &[u8]) -> Vec<u8> {
        let mut r = wire_name(owner);
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(rdata);
        r
    }

    fn soa_rr(serial: u32) -> Vec<u8> {
        let mut d = wire_name("ns.bl.test");
        d.extend_from_slice(&wire_name("hm.bl.test"));
        for v in [serial, 2, 1, 86400, 60] {
            d.extend_from_slice(&v.to_be_bytes());
        }
        rr("bl.test", TYPE_SOA, &d)
    }

    fn txt_rr(owner: &str, text: &str) -> Vec<u8> {
        let mut d = vec![text.len() as u8];
        d.extend_from_slice(text.as_bytes());
        rr(owner, TYPE_TXT, &d)
    }

    /// Serves one TCP connection: reads the query and answers with
    /// `records`, split into messages of `per` records, echoing the ID.
    async fn primary_once(records: Vec<Vec<u8>>, per: usize) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await.unwrap();
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut q).await.unwrap();
            for chunk in records.chunks(per.max(1)) {
                let mut m = vec![q[0], q[1], 0x84, 0, 0, 0];
                m.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
                m.extend_from_slice(&[0, 0, 0, 0]);
                for r in chunk {
                    m.extend_from_slice(r);
                }
                s.write_all(&(m.len() as u16).to_be_bytes()).await.unwrap();
                s.write_all(&m).await.unwrap();
            }
            // Keep the connection open, as a server with more to say would.
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        addr
    }

    fn primary(addr: SocketAddr) -> Primary {
        Primary {
            addr,
            key: None,
            timeout: Duration::from_secs(2),
        }
    }

    #[tokio::test]
    async fn axfr_ixfr_and_their_failures() {
        let a = |last: u8| rr("4.3.2.1.bl.test", TYPE_A, &[127, 0, 0, last]);
        // AXFR over three messages: the whole zone.
        let addr = primary_once(
            vec![
                soa_rr(10),
                a(2),
                txt_rr("4.3.2.1.bl.test", "Listed 1.2.3.4"),
                soa_rr(10),
            ],
            1,
        )
        .await;
        match pull(&primary(addr), "bl.test", None).await.unwrap() {
            Pulled::Full(c) => {
                assert_eq!(c.soa.as_ref().map(|s| s.serial), Some(10));
                assert_eq!(c.names(), 1);
            }
            other => panic!("{other:?}"),
        }
        // IXFR 10 -> 12 in two steps, condensed per step.
        let addr = primary_once(
            vec![
                soa_rr(12),
                soa_rr(10),
                a(2),
                soa_rr(11),
                a(3),
                soa_rr(11),
                soa_rr(12),
                a(4),
                soa_rr(12),
            ],
            4,
        )
        .await;
        match pull(&primary(addr), "bl.test", Some(10)).await.unwrap() {
            Pulled::Incremental { soa, diffs } => {
                assert_eq!(soa.serial, 12);
                assert_eq!(diffs.len(), 2);
                assert_eq!((diffs[0].deleted.len(), diffs[0].added.len()), (1, 1));
                assert_eq!((diffs[1].deleted.len(), diffs[1].added.len()), (0, 1));
            }
            other => panic!("{other:?}"),
        }
        // Up to date: one SOA.
        let addr = primary_once(vec![soa_rr(10)], 1).await;
        assert!(matches!(
            pull(&primary(addr), "bl.test", Some(10)).await.unwrap(),
            Pulled::UpToDate(10)
        ));
        // Diffs from a version we do not hold: refused (the follower then
        // transfers the whole zone).
        let addr = primary_once(
            vec![soa_rr(12), soa_rr(9), a(2), soa_rr(12), a(3), soa_rr(12)],
            9,
        )
        .await;
        assert!(matches!(
            pull(&primary(addr), "bl.test", Some(10)).await,
            Err(PullError::Malformed(_))
        ));
        // A transfer that does not start with the SOA.
        let addr = primary_once(vec![a(2), soa_rr(10)], 9).await;
        assert!(matches!(
            pull(&primary(addr), "bl.test", None).await,
            Err(PullError::Malformed(_))
        ));
        // A stream that stops before its closing SOA: a timeout, never a
        // half zone.
        let addr = primary_once(vec![soa_rr(10), a(2)], 9).await;
        assert!(matches!(
            pull(&primary(addr), "bl.test", None).await,
            Err(PullError::Io(_))
        ));
    }

    #[test]
    fn notify_from_the_primary_wakes_the_follower() {
        let mut inbox = NotifyInbox::new();
        let primary: IpAddr = "192.0.2.1".parse().unwrap();
        let signal = inbox.add("bl.example", vec![primary], None);
        let mut zone = fadelist_core::snapshot::Zone::new(
            "bl.example",
            fadelist_core::snapshot::Soa::default_for("bl.example", 9),
            vec![],
            60,
            vec![],
        )
        .unwrap();
        zone.ns_ttl = 60;
        let msg = crate::notify::notify_message(0x1234, &zone);
        // From elsewhere: refused, nobody woken.
        let r = inbox
            .handle(&msg, "198.51.100.1:5353".parse().unwrap())
            .unwrap();
        assert_eq!(r[3] & 0x0f, RCODE_REFUSED);
        // From the primary: NOERROR, AA, same ID, the follower woken.
        let r = inbox.handle(&msg, SocketAddr::new(primary, 53)).unwrap();
        assert_eq!((r[0], r[1], r[2], r[3]), (0x12, 0x34, 0xa4, 0));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(1), signal.notified())
                .await
                .expect("woken");
        });
        // Not a NOTIFY: not ours to answer.
        let q = query(1, "bl.example", TYPE_SOA, None);
        assert!(inbox.handle(&q, SocketAddr::new(primary, 53)).is_none());
    }
}
