//! Zone transfers (AXFR, RFC 5936; IXFR answered as RFC 1995 allows) on
//! the fast TCP front, for stock secondaries (NSD, Knot, BIND).
//!
//! hickory-server puts a whole zone into one message; here a transfer is
//! a stream of messages of at most [`MAX_MESSAGE`] bytes (as NSD: below
//! 16 KiB every compression pointer stays valid), SOA first and last,
//! written from the frozen snapshot the transfer started on: a blocking
//! thread walks the zone ([`fadelist_core::zone_records`]) and hands
//! finished messages to the connection through a small bounded channel,
//! so the zone is never held in memory as records and a slow secondary
//! holds back the walk rather than filling memory.
//!
//! Who may transfer: clients in [`TransferPolicy::allow`]; everyone else
//! gets REFUSED. With TSIG keys ([`crate::tsig`], RFC 8945), a signed
//! request is checked (a bad signature, unknown key or clock skew gets
//! NOTAUTH with the TSIG error) and every message of the answer is signed;
//! a zone can require one key, or every transfer can require some key,
//! and an unsigned request then gets REFUSED. An IXFR whose serial is current gets the one-SOA answer;
//! otherwise the whole zone framed as an AXFR, which RFC 1995 section 4
//! allows and every secondary accepts.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fadelist_core::snapshot::Snapshot;
use fadelist_core::zone_records::{self, Rr, TYPE_SOA};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tracing::{info, warn};

use crate::fast::limits::Networks;
use crate::ixfr::{self, History};
use crate::tsig::{self, Key, ResponseSigner};

/// Largest message of a transfer (NSD's `AXFR_MAX_MESSAGE_LEN`): name
/// compression pointers reach 16,383 bytes.
pub const MAX_MESSAGE: usize = 16_383;

/// QTYPE AXFR.
pub const QTYPE_AXFR: u16 = 252;
/// QTYPE IXFR.
pub const QTYPE_IXFR: u16 = 251;

const RCODE_FORMERR: u8 = 1;
const RCODE_REFUSED: u8 = 5;

/// Who may transfer zones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransferPolicy {
    /// Client networks allowed to transfer (AXFR and IXFR).
    pub allow: Networks,
    /// TSIG keys a request may be signed with.
    pub keys: Vec<Key>,
    /// Every transfer must be signed with one of `keys`.
    pub require_tsig: bool,
    /// Zones (lower-case, no trailing dot) that only the named key may
    /// transfer.
    pub zone_keys: Vec<(String, String)>,
}

impl TransferPolicy {
    /// Why `zone` may not be transferred with the request's signing key
    /// (`None`: unsigned), or `None` when it may.
    fn refusal(&self, zone: &str, key: Option<&Key>) -> Option<&'static str> {
        let wanted = self
            .zone_keys
            .iter()
            .find(|(z, _)| z == zone)
            .map(|(_, k)| k);
        match (wanted, key) {
            (Some(w), Some(k)) if k.name().trim_end_matches('.') == w.trim_end_matches('.') => None,
            (Some(_), Some(_)) => Some("signed with another key than the zone's transfer_key"),
            (Some(_), None) => Some("unsigned; the zone requires its transfer_key"),
            (None, None) if self.require_tsig => Some("unsigned; [transfer] require_tsig"),
            (None, _) => None,
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The question of a transfer request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XfrRequest {
    /// Message ID.
    pub id: u16,
    /// The question section, as received (name, type, class).
    pub question: Vec<u8>,
    /// The zone name's labels, lower-case.
    pub labels: Vec<Vec<u8>>,
    /// AXFR or IXFR.
    pub qtype: u16,
    /// For IXFR: the client's serial (the SOA in the authority section).
    pub client_serial: Option<u32>,
    /// The whole request, as received (for its TSIG).
    pub raw: Vec<u8>,
}

/// Reads a query that asks for a transfer: opcode QUERY, one question of
/// type AXFR or IXFR. `None` for every other message (the normal path
/// answers those).
pub fn parse_request(msg: &[u8]) -> Option<XfrRequest> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 || (msg[2] >> 3) & 0xf != 0 {
        return None;
    }
    let count = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
    if count(4) != 1 {
        return None;
    }
    // Every TCP message comes through here: nothing is allocated until the
    // question is known to ask for a transfer.
    let pos = skip_name(msg, 12)?;
    let qtype = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
    if qtype != QTYPE_AXFR && qtype != QTYPE_IXFR {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    while at + 1 < pos {
        let len = usize::from(msg[at]);
        if len > 63 {
            // A compression pointer in a question: not a plain query.
            return None;
        }
        labels.push(msg.get(at + 1..at + 1 + len)?.to_ascii_lowercase());
        at += 1 + len;
    }
    let question = msg.get(12..pos + 4)?.to_vec();
    let client_serial = if qtype == QTYPE_IXFR && count(8) >= 1 {
        ixfr_serial(msg, pos + 4)
    } else {
        None
    };
    Some(XfrRequest {
        id: count(0),
        question,
        labels,
        qtype,
        client_serial,
        raw: msg.to_vec(),
    })
}

/// The serial of the SOA record that starts at `pos` (an IXFR's authority
/// section; its owner is the zone, usually a pointer to the question).
fn ixfr_serial(msg: &[u8], pos: usize) -> Option<u32> {
    let pos = skip_name(msg, pos)?;
    let rtype = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
    if rtype != TYPE_SOA {
        return None;
    }
    // Two names (MNAME, RNAME), possibly compressed, then the serial.
    let p = skip_name(msg, skip_name(msg, pos + 10)?)?;
    Some(u32::from_be_bytes(msg.get(p..p + 4)?.try_into().ok()?))
}

/// The position just after the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let b = *msg.get(pos)?;
        if b == 0 {
            return Some(pos + 1);
        }
        if b & 0xc0 == 0xc0 {
            return Some(pos + 2);
        }
        pos += 1 + usize::from(b);
    }
}

/// RFC 1982: `a` is at or after `b`.
fn serial_at_or_after(a: u32, b: u32) -> bool {
    a == b || (a.wrapping_sub(b) as i32) > 0
}

/// A one-message answer with `rcode` and the question copied.
pub fn error_reply(req: &XfrRequest, rcode: u8) -> Vec<u8> {
    let mut m = header(req.id, rcode, false);
    m.extend_from_slice(&req.question);
    m
}

fn header(id: u16, rcode: u8, aa: bool) -> Vec<u8> {
    let mut m = Vec::with_capacity(MAX_MESSAGE + 64);
    m.extend_from_slice(&id.to_be_bytes());
    m.push(0x80 | if aa { 0x04 } else { 0 });
    m.push(rcode);
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    m
}

/// Builds the messages of a transfer: owner names compressed against the
/// zone name (in the copied question at offset 12) and the previous
/// owner.
struct Framer {
    /// Largest message, room for a TSIG record left.
    max: usize,
    id: u16,
    question: Vec<u8>,
    msg: Vec<u8>,
    answers: u16,
    /// Offsets of the previous owner's labels, leftmost first, and its
    /// labels: a new owner sharing a suffix points into it.
    prev: Vec<(u16, Vec<u8>)>,
}

impl Framer {
    fn new(req: &XfrRequest, reserve: usize) -> Framer {
        let mut f = Framer {
            max: MAX_MESSAGE - reserve,
            id: req.id,
            question: req.question.clone(),
            msg: Vec::new(),
            answers: 0,
            prev: Vec::new(),
        };
        f.start();
        f
    }

    fn start(&mut self) {
        self.msg = header(self.id, 0, true);
        self.msg.extend_from_slice(&self.question);
        self.answers = 0;
        self.prev.clear();
    }

    /// Appends `rr`; returns a finished message when `rr` did not fit in
    /// the current one (it then starts the next).
    fn push(&mut self, rr: &Rr<'_>) -> Option<Vec<u8>> {
        let need = rr.owner.len() + 2 + 10 + rr.rdata.len();
        let mut done = None;
        if self.answers > 0 && (self.msg.len() + need > self.max || self.answers == u16::MAX) {
            done = Some(self.finish());
        }
        self.write_owner(rr.owner);
        self.msg.extend_from_slice(&rr.rtype.to_be_bytes());
        self.msg.extend_from_slice(&1u16.to_be_bytes());
        self.msg.extend_from_slice(&rr.ttl.to_be_bytes());
        self.msg
            .extend_from_slice(&(rr.rdata.len() as u16).to_be_bytes());
        self.msg.extend_from_slice(rr.rdata);
        self.answers += 1;
        done
    }

    fn write_owner(&mut self, owner: &[u8]) {
        let mut labels: Vec<&[u8]> = Vec::new();
        let mut i = 0;
        while i < owner.len() {
            let n = usize::from(owner[i]);
            labels.push(&owner[i..i + 1 + n]);
            i += 1 + n;
        }
        // The longest common suffix (in labels) with the previous owner.
        let common = labels
            .iter()
            .rev()
            .zip(self.prev.iter().rev())
            .take_while(|(a, (_, b))| a.eq_ignore_ascii_case(b))
            .count();
        let keep = labels.len() - common;
        let tail = if common > 0 {
            self.prev[self.prev.len() - common].0
        } else {
            12
        };
        let mut offsets: Vec<(u16, Vec<u8>)> = Vec::with_capacity(labels.len());
        for l in &labels[..keep] {
            offsets.push((self.msg.len() as u16, l.to_vec()));
            self.msg.extend_from_slice(l);
        }
        self.msg.extend_from_slice(&(0xc000 | tail).to_be_bytes());
        offsets.extend(self.prev[self.prev.len() - common..].iter().cloned());
        // Only offsets a pointer can reach are kept.
        if offsets.iter().all(|(o, _)| *o < 0x4000) {
            self.prev = offsets;
        } else {
            self.prev.clear();
        }
    }

    fn finish(&mut self) -> Vec<u8> {
        let count = self.answers.to_be_bytes();
        self.msg[6..8].copy_from_slice(&count);
        let out = std::mem::take(&mut self.msg);
        self.start();
        out
    }
}

/// Serves one transfer request on `stream`: refusal, one SOA, or the
/// whole zone. Errors are I/O errors of the connection.
pub async fn serve(
    stream: &mut TcpStream,
    req: XfrRequest,
    peer: SocketAddr,
    snapshot: Arc<Snapshot>,
    history: Option<Arc<History>>,
    policy: Option<&TransferPolicy>,
    timeout: Duration,
) -> io::Result<()> {
    let kind = if req.qtype == QTYPE_AXFR {
        "AXFR"
    } else {
        "IXFR"
    };
    let zone_name = req
        .labels
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect::<Vec<_>>()
        .join(".");
    let Some(policy) = policy else {
        info!(%peer, zone = %zone_name, "{kind} refused: zone transfers are off ([transfer] allow)");
        return write(stream, timeout, error_reply(&req, RCODE_REFUSED)).await;
    };
    let now = unix_now();
    let signed = match tsig::verify_request(&req.raw, &policy.keys, now) {
        Ok(s) => s,
        Err(failure) => {
            warn!(%peer, zone = %zone_name, key = ?failure.key_name(), "{kind} refused: TSIG {failure}");
            let reply = tsig::error_response(&req.raw, &failure)
                .unwrap_or_else(|| error_reply(&req, failure.rcode()));
            return write(stream, timeout, reply).await;
        }
    };
    let mut signer = signed.as_ref().map(ResponseSigner::new);
    let reserve = signer.as_ref().map_or(0, ResponseSigner::tsig_len);
    // A one-message answer, signed when the request was.
    let single = |mut m: Vec<u8>, signer: &mut Option<ResponseSigner>| {
        if let Some(s) = signer
            && let Err(e) = s.sign(&mut m, now)
        {
            warn!(%peer, "cannot sign the answer: {e}");
        }
        m
    };
    let key = signed.as_ref().map(|s| s.key());
    let refuse = |why: &str| {
        info!(%peer, zone = %zone_name, key = ?key.map(Key::name), "{kind} refused: {why}");
    };
    if !policy.allow.contains(peer.ip()) {
        refuse("client not in [transfer] allow");
        let m = single(error_reply(&req, RCODE_REFUSED), &mut signer);
        return write(stream, timeout, m).await;
    }
    let labels: Vec<&[u8]> = req.labels.iter().map(Vec::as_slice).collect();
    let index = match snapshot.zone_index_for(&labels) {
        Some((i, 0)) => i,
        _ => {
            refuse("not a zone of ours");
            let m = single(error_reply(&req, RCODE_REFUSED), &mut signer);
            return write(stream, timeout, m).await;
        }
    };
    if snapshot.zones[index].unavailable {
        refuse("the zone is not loaded (a followed zone before its first transfer, or expired)");
        let m = single(error_reply(&req, RCODE_REFUSED), &mut signer);
        return write(stream, timeout, m).await;
    }
    if let Some(why) = policy.refusal(&zone_name, key) {
        refuse(why);
        let m = single(error_reply(&req, RCODE_REFUSED), &mut signer);
        return write(stream, timeout, m).await;
    }
    let zone = &snapshot.zones[index];
    let soa = zone_records::soa_rdata(zone);
    let soa_rr = Rr {
        owner: &[],
        rtype: TYPE_SOA,
        ttl: zone.soa.ttl,
        rdata: &soa,
    };
    if let Some(theirs) = req.client_serial
        && serial_at_or_after(theirs, zone.soa.serial)
    {
        // RFC 1995 section 2: up to date, one SOA.
        let mut f = Framer::new(&req, reserve);
        f.push(&soa_rr);
        let m = single(f.finish(), &mut signer);
        return write(stream, timeout, m).await;
    }
    let started = std::time::Instant::now();
    if let (Some(theirs), Some(h)) = (req.client_serial, &history)
        && req.qtype == QTYPE_IXFR
        && let Some((deleted, added)) = h.condensed(&zone_name, theirs, zone.soa.serial)
    {
        let entries: usize = zone
            .datasets
            .iter()
            .map(|l| {
                let (a, b) = l.entry_counts();
                a + b
            })
            .sum();
        if deleted.len() + added.len() <= entries.max(16) {
            let mut old_soa = soa.clone();
            let at = old_soa.len() - 20;
            old_soa[at..at + 4].copy_from_slice(&theirs.to_be_bytes());
            let old_rr = Rr {
                owner: &[],
                rtype: TYPE_SOA,
                ttl: zone.soa.ttl,
                rdata: &old_soa,
            };
            let mut f = Framer::new(&req, reserve);
            let mut msgs = Vec::new();
            let mut push = |f: &mut Framer, rr: &Rr<'_>| {
                if let Some(m) = f.push(rr) {
                    msgs.push(m);
                }
            };
            push(&mut f, &soa_rr);
            push(&mut f, &old_rr);
            for r in &deleted {
                push(&mut f, &ixfr::decode(r));
            }
            push(&mut f, &soa_rr);
            for r in &added {
                push(&mut f, &ixfr::decode(r));
            }
            push(&mut f, &soa_rr);
            msgs.push(f.finish());
            let (count, mut bytes) = (msgs.len(), 0);
            for m in msgs {
                let m = single(m, &mut signer);
                bytes += m.len();
                write(stream, timeout, m).await?;
            }
            info!(
                %peer,
                zone = %zone_name,
                from = theirs,
                serial = zone.soa.serial,
                deleted = deleted.len(),
                added = added.len(),
                messages = count,
                bytes,
                tsig = ?key.map(Key::name),
                "IXFR sent (incremental)"
            );
            return Ok(());
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let walk_req = req.clone();
    let snap = snapshot.clone();
    let walker = tokio::task::spawn_blocking(move || {
        let zone = &snap.zones[index];
        let soa = zone_records::soa_rdata(zone);
        let soa_rr = Rr {
            owner: &[],
            rtype: TYPE_SOA,
            ttl: zone.soa.ttl,
            rdata: &soa,
        };
        let mut f = Framer::new(&walk_req, reserve);
        let mut records = 0u64;
        let mut open = true;
        let mut send = |mut m: Vec<u8>| {
            if let Some(s) = &mut signer
                && let Err(e) = s.sign(&mut m, now)
            {
                warn!("cannot sign a transfer message: {e}");
                open = false;
            }
            if open && tx.blocking_send(m).is_err() {
                // The connection is gone: finish the walk quietly.
                open = false;
            }
        };
        f.push(&soa_rr);
        zone_records::walk_zone(&snap, index, &mut |rr| {
            records += 1;
            if let Some(m) = f.push(&rr) {
                send(m);
            }
        });
        if let Some(m) = f.push(&soa_rr) {
            send(m);
        }
        send(f.finish());
        records + 2
    });
    let mut messages = 0u64;
    let mut bytes = 0u64;
    while let Some(m) = rx.recv().await {
        messages += 1;
        bytes += m.len() as u64;
        if let Err(e) = write(stream, timeout, m).await {
            warn!(%peer, zone = %zone_name, error = %e, "{kind} aborted");
            return Err(e);
        }
    }
    match walker.await {
        Ok(records) => {
            info!(
                %peer,
                zone = %zone_name,
                serial = zone.soa.serial,
                records,
                messages,
                bytes,
                tsig = ?key.map(Key::name),
                ms = started.elapsed().as_millis() as u64,
                "{kind} sent"
            );
            Ok(())
        }
        Err(e) => {
            // Nothing sensible can follow a half-sent transfer: close.
            warn!(%peer, zone = %zone_name, error = %e, "{kind}: zone walk failed");
            Err(io::Error::other("zone walk failed"))
        }
    }
}

/// Writes one message with its TCP length prefix, giving up after
/// `timeout` (a secondary that stops reading).
async fn write(stream: &mut TcpStream, timeout: Duration, m: Vec<u8>) -> io::Result<()> {
    let mut framed = Vec::with_capacity(m.len() + 2);
    framed.extend_from_slice(&(m.len() as u16).to_be_bytes());
    framed.extend_from_slice(&m);
    match tokio::time::timeout(timeout, stream.write_all(&framed)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "transfer not read")),
    }
}

/// The FORMERR reply for a transfer asked over UDP (RFC 5936 section
/// 4.2: AXFR is TCP only).
pub fn udp_reply(req: &XfrRequest) -> Vec<u8> {
    error_reply(req, RCODE_FORMERR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(qtype: u16, zone: &str) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&zone_records::wire_name(zone));
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    }

    #[test]
    fn requests_are_recognised() {
        let r = parse_request(&query(QTYPE_AXFR, "Bl.Example")).unwrap();
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.labels, vec![b"bl".to_vec(), b"example".to_vec()]);
        assert_eq!(r.client_serial, None);
        assert!(
            parse_request(&query(1, "bl.example")).is_none(),
            "an A query"
        );
        let mut notify = query(QTYPE_AXFR, "bl.example");
        notify[2] = 4 << 3;
        assert!(parse_request(&notify).is_none(), "another opcode");
        // IXFR with the client's SOA (owner a pointer to the question).
        let mut ixfr = query(QTYPE_IXFR, "bl.example");
        ixfr[9] = 1;
        ixfr.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 60, 0, 22]);
        ixfr.extend_from_slice(&[1, b'a', 0, 1, b'b', 0]);
        ixfr.extend_from_slice(&77u32.to_be_bytes());
        ixfr.extend_from_slice(&[0; 16]);
        assert_eq!(parse_request(&ixfr).unwrap().client_serial, Some(77));
    }

    #[test]
    fn serials_compare_as_rfc_1982() {
        assert!(serial_at_or_after(5, 5));
        assert!(serial_at_or_after(6, 5));
        assert!(!serial_at_or_after(4, 5));
        assert!(serial_at_or_after(1, u32::MAX));
    }

    #[test]
    fn messages_stay_under_the_cap_and_compress() {
        let req = parse_request(&query(QTYPE_AXFR, "bl.example")).unwrap();
        let mut f = Framer::new(&req, 0);
        let mut msgs = Vec::new();
        let txt = zone_records::txt_rdata(&"x".repeat(200));
        for i in 0..2000u32 {
            let owner = format!("{}.{}.2.0.192", i % 256, i / 256);
            let wire = zone_records::wire_name(&owner);
            let owner = &wire[..wire.len() - 1];
            for (t, rdata) in [(1u16, &[127, 0, 0, 2][..]), (16, &txt[..])] {
                if let Some(m) = f.push(&Rr {
                    owner,
                    rtype: t,
                    ttl: 60,
                    rdata,
                }) {
                    msgs.push(m);
                }
            }
        }
        msgs.push(f.finish());
        assert!(msgs.len() > 10);
        let total: usize = msgs
            .iter()
            .map(|m| u16::from_be_bytes([m[6], m[7]]) as usize)
            .sum();
        assert_eq!(total, 4000);
        for m in &msgs {
            assert!(m.len() <= MAX_MESSAGE, "{}", m.len());
            // Every message parses with hickory-proto, names and all.
            let parsed = hickory_proto::op::Message::from_vec(m).unwrap();
            assert_eq!(
                parsed.answers.len(),
                usize::from(u16::from_be_bytes([m[6], m[7]]))
            );
        }
        let first = hickory_proto::op::Message::from_vec(&msgs[0]).unwrap();
        assert_eq!(first.answers[0].name.to_ascii(), "0.0.2.0.192.bl.example.");
        assert_eq!(first.answers[2].name.to_ascii(), "1.0.2.0.192.bl.example.");
    }
}
