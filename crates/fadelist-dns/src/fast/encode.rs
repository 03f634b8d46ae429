//! Encoding fast-path replies straight into a byte buffer.
//!
//! The decision is the same [`Snapshot::resolve`](fadelist_core::snapshot::Snapshot::resolve)
//! the hickory path uses, and the records are the ones
//! [`handler::answer`](crate::handler::answer) builds; only the encoding
//! differs. It compresses every owner name against the question (the
//! answers' owner is the question name at offset 12, the SOA/NS owner is
//! the zone apex inside it), which hickory-server does not do, so replies
//! are smaller (a listed A is 16 bytes of answer instead of ~40).

use std::net::SocketAddr;
use std::sync::Arc;

use fadelist_core::dataset::acl::Verdict;
use fadelist_core::rbldnsd;
use fadelist_core::snapshot::{AclAction, Hits, Querier, Resolution, Trace};

use super::parse::{HEADER_LEN, Head, Labels, ParsedQuery, no_labels, parse_into};
use crate::any::{self, HINFO_RDATA, TYPE_ANY, TYPE_HINFO};
use crate::handler::{Protocol, respond_bytes_from};
use crate::publisher::Served;
use crate::records::{Rdata, ZoneWire};

const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_SOA: u16 = 6;
const TYPE_TXT: u16 = 16;
const TYPE_OPT: u16 = 41;

const RCODE_NOERROR: u8 = 0;
const RCODE_SERVFAIL: u8 = 2;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_REFUSED: u8 = 5;

/// Fixed part of a resource record after a compressed (2-byte) owner:
/// owner, type, class, TTL, RDLENGTH.
const RR_FIXED: usize = 2 + 2 + 2 + 4 + 2;

/// Which path answered a packet (see [`Responder::respond`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answered {
    /// The fast parser and encoder.
    Fast,
    /// The hickory-proto fallback.
    Fallback,
    /// No reply is due (a response, a runt packet, an unusable source, a
    /// querier the zone's ACL ignores).
    Silent,
}

/// How [`Responder::encode`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoded {
    /// The reply is written.
    Reply,
    /// No reply is due (an ignored querier).
    Silent,
    /// Left to the hickory path; nothing written.
    Fallback,
}

/// The sections as they are written, with hickory's truncation rule: a
/// section stops at its first record that does not fit the payload limit
/// (later sections are still tried), and TC tells the client so.
struct Writer<'o> {
    out: &'o mut Vec<u8>,
    base: usize,
    limit: usize,
    counts: [u16; 3],
    section: usize,
    open: bool,
    truncated: bool,
}

const ANSWER: usize = 0;
const AUTHORITY: usize = 1;
const ADDITIONAL: usize = 2;

impl Writer<'_> {
    fn begin(&mut self, section: usize) {
        self.section = section;
        self.open = true;
    }

    /// True when a record of `size` bytes is to be written now.
    #[inline]
    fn room(&mut self, size: usize) -> bool {
        if !self.open {
            return false;
        }
        if self.out.len() - self.base + size > self.limit {
            self.open = false;
            self.truncated = true;
            return false;
        }
        self.counts[self.section] += 1;
        true
    }

    /// Writes a record header with a compressed owner.
    #[inline]
    fn rr(&mut self, owner: usize, rtype: u16, ttl: u32, rdlen: usize) {
        let o = (0xc000 | owner as u16).to_be_bytes();
        let t = rtype.to_be_bytes();
        let ttl = ttl.to_be_bytes();
        let l = (rdlen as u16).to_be_bytes();
        self.out.extend_from_slice(&[
            o[0], o[1], t[0], t[1], 0, 1, ttl[0], ttl[1], ttl[2], ttl[3], l[0], l[1],
        ]);
    }

    fn rdata(&mut self, rdata: &Rdata, apex: usize) {
        let start = self.out.len();
        self.out.extend_from_slice(&rdata.bytes);
        let ptr = (0xc000 | apex as u16).to_be_bytes();
        for &h in rdata.holes.iter() {
            let at = start + usize::from(h);
            self.out[at..at + 2].copy_from_slice(&ptr);
        }
    }

    fn soa(&mut self, zw: &ZoneWire, apex: usize, ttl: u32) {
        if self.room(RR_FIXED + zw.soa.bytes.len()) {
            self.rr(apex, TYPE_SOA, ttl, zw.soa.bytes.len());
            self.rdata(&zw.soa, apex);
        }
    }
}

/// What the last answer decided, for the metrics ([`Responder::outcome`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Position of the query's zone in the snapshot; `None` for a name in
    /// none of the zones, or no readable question.
    pub zone: Option<usize>,
    /// The response code of the reply (extended codes included), if any.
    pub rcode: u16,
    /// The ACL action that applied, if any.
    pub acl: Option<AclAction>,
}

/// Per-worker scratch of the fast path, reused for every query so that
/// answering does not allocate (the TXT texts keep their capacity).
#[derive(Debug, Default)]
pub struct Responder {
    subject: String,
    texts: Vec<String>,
    /// Fill in `outcome` for replies of the hickory fallback too (which
    /// costs decoding them again): only when metrics are on.
    tracking: bool,
    outcome: Outcome,
    /// Where NOTIFY messages for followed zones go.
    notify: Option<Arc<crate::follow::NotifyInbox>>,
    /// The TSIG keys a signed query may use (`[[transfer.key]]`).
    tsig_keys: Arc<[crate::tsig::Key]>,
}

/// hickory-server drops datagrams it could not answer to (port 0, the
/// unspecified or broadcast address) before reading them; so do we.
fn source_ok(src: &SocketAddr) -> bool {
    match src {
        SocketAddr::V4(a) => a.port() != 0 && !a.ip().is_unspecified() && !a.ip().is_broadcast(),
        SocketAddr::V6(a) => a.port() != 0 && !a.ip().is_unspecified(),
    }
}

/// The reply size limit on UDP: 512 bytes (RFC 1035 4.2.1), or the
/// client's EDNS payload size when larger.
fn udp_limit(q: &Head) -> usize {
    usize::from(q.edns.map_or(512, |e| e.payload.max(512)))
}

/// RDLENGTH of a TXT record holding `len` bytes of text: 255-byte
/// character-strings, one empty string for an empty text.
fn txt_rdlen(len: usize) -> usize {
    if len == 0 { 1 } else { len + len.div_ceil(255) }
}

impl Responder {
    /// A responder with empty scratch buffers.
    pub fn new() -> Self {
        Responder::default()
    }

    /// Keeps [`Responder::outcome`] exact for every reply, including the
    /// hickory fallback's, which then costs decoding the reply again
    /// (rare packets only). Off, the fallback's outcome is left empty.
    pub fn set_tracking(&mut self, on: bool) {
        self.tracking = on;
    }

    /// Hands NOTIFY messages for followed zones to `inbox` (which
    /// answers them and wakes the zone's follower).
    pub fn set_notify_inbox(&mut self, inbox: Option<Arc<crate::follow::NotifyInbox>>) {
        self.notify = inbox;
    }

    /// The reply of the NOTIFY inbox, when `msg` is a NOTIFY for it.
    fn notify_reply(&self, msg: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
        self.notify.as_ref()?.handle(msg, src)
    }

    /// Lets queries be TSIG-signed with these keys (RFC 8945): the
    /// answer to a signed query is signed, and a query signed with an
    /// unknown key or a bad MAC gets NOTAUTH with the TSIG error (what a
    /// follower's or a stock secondary's signed SOA check needs).
    pub fn set_tsig_keys(&mut self, keys: Arc<[crate::tsig::Key]>) {
        self.tsig_keys = keys;
    }

    /// The answer to a TSIG-signed message (the fast parser never takes
    /// one: its additional section is not a lone OPT): `None` when `msg`
    /// carries no TSIG, `Some(None)` when no reply is due.
    fn signed_reply(
        &self,
        served: &Served,
        msg: &[u8],
        src: SocketAddr,
        protocol: Protocol,
        forced: Verdict<'_>,
    ) -> Option<Option<Vec<u8>>> {
        // Without additional records there is no TSIG to look for; a
        // message that does not parse gets the ordinary path's FORMERR.
        if msg.len() < 12 || msg[10..12] == [0, 0] || !crate::tsig::has_tsig(msg) {
            return None;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match crate::tsig::verify_request(msg, &self.tsig_keys, now) {
            Ok(None) => None,
            Err(failure) => Some(crate::tsig::error_response(msg, &failure)),
            Ok(Some(signed)) => Some(
                respond_bytes_from(served, msg, src, protocol, forced).and_then(|mut reply| {
                    signed.signer().sign(&mut reply, now).ok()?;
                    Some(reply)
                }),
            ),
        }
    }

    /// What the last `respond*` call decided: zone, response code, ACL
    /// action (see [`Responder::set_tracking`]).
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The outcome of a reply the hickory path wrote.
    fn fallback_outcome(&mut self, served: &Served, reply: &[u8]) {
        if self.tracking {
            let (zone, rcode) = crate::handler::reply_zone_and_rcode(served, reply);
            self.outcome = Outcome {
                zone,
                rcode,
                acl: None,
            };
        }
    }

    /// Answers one UDP datagram from `src`, appending the reply (if any)
    /// to `out`: through the fast path when
    /// [`parse_query`](super::parse_query) accepts it, otherwise through
    /// hickory-proto ([`respond_bytes`](crate::handler::respond_bytes)).
    pub fn respond(
        &mut self,
        served: &Served,
        pkt: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Answered {
        self.respond_with(served, pkt, src, &mut no_labels(), out)
    }

    /// [`Responder::respond`] with label room kept by the caller across
    /// packets that live as long (the workers keep one per batch).
    pub fn respond_with<'a>(
        &mut self,
        served: &Served,
        pkt: &'a [u8],
        src: SocketAddr,
        labels: &mut Labels<'a>,
        out: &mut Vec<u8>,
    ) -> Answered {
        self.respond_from(served, pkt, src, Verdict::Pass, labels, out)
    }

    /// [`Responder::respond_with`] with a verdict forced on this client
    /// for every zone on top of the zones' ACLs (the UDP workers' query
    /// quota; see [`Snapshot::resolve_from`](fadelist_core::snapshot::Snapshot::resolve_from)).
    pub fn respond_from<'a>(
        &mut self,
        served: &Served,
        pkt: &'a [u8],
        src: SocketAddr,
        forced: Verdict<'_>,
        labels: &mut Labels<'a>,
        out: &mut Vec<u8>,
    ) -> Answered {
        self.outcome = Outcome::default();
        if !source_ok(&src) {
            return Answered::Silent;
        }
        let querier = Querier {
            addr: src.ip(),
            forced,
        };
        if let Some(head) = parse_into(pkt, labels) {
            let limit = udp_limit(&head);
            let labels = &labels[..usize::from(head.label_count)];
            match self.encode(served, &head, labels, pkt, limit, Some(querier), true, out) {
                Encoded::Reply => return Answered::Fast,
                Encoded::Silent => return Answered::Silent,
                Encoded::Fallback => {}
            }
        }
        if let Some(reply) = self.notify_reply(pkt, src) {
            out.extend_from_slice(&reply);
            return Answered::Fallback;
        }
        let reply = match self.signed_reply(served, pkt, src, Protocol::Udp, forced) {
            Some(signed) => signed,
            None => respond_bytes_from(served, pkt, src, Protocol::Udp, forced),
        };
        match reply {
            Some(reply) => {
                self.fallback_outcome(served, &reply);
                out.extend_from_slice(&reply);
                Answered::Fallback
            }
            None => Answered::Silent,
        }
    }

    /// Answers one DNS message received over TCP from `peer`: appends the
    /// reply with its 2-byte length prefix (RFC 1035 4.2.2) to `out`, or
    /// nothing when no reply is due. Replies may use the whole 65,535
    /// bytes a TCP message can hold, so nothing is truncated in practice.
    pub fn respond_tcp<'a>(
        &mut self,
        served: &Served,
        msg: &'a [u8],
        peer: SocketAddr,
        labels: &mut Labels<'a>,
        out: &mut Vec<u8>,
    ) -> Answered {
        self.outcome = Outcome::default();
        let base = out.len();
        out.extend_from_slice(&[0, 0]);
        let mut answered = Answered::Silent;
        let mut fallback = true;
        if let Some(head) = parse_into(msg, labels) {
            let labels = &labels[..usize::from(head.label_count)];
            let limit = usize::from(u16::MAX);
            let querier = Some(Querier::at(peer.ip()));
            match self.encode(served, &head, labels, msg, limit, querier, false, out) {
                Encoded::Reply => (answered, fallback) = (Answered::Fast, false),
                Encoded::Silent => fallback = false,
                Encoded::Fallback => {}
            }
        }
        if fallback && let Some(reply) = self.notify_reply(msg, peer) {
            out.extend_from_slice(&reply);
            answered = Answered::Fallback;
        } else if fallback
            && let Some(reply) = self
                .signed_reply(served, msg, peer, Protocol::Tcp, Verdict::Pass)
                .unwrap_or_else(|| {
                    respond_bytes_from(served, msg, peer, Protocol::Tcp, Verdict::Pass)
                })
        {
            self.fallback_outcome(served, &reply);
            out.extend_from_slice(&reply);
            answered = Answered::Fallback;
        }
        // Both encoders stop at 65,535 bytes, so the length fits.
        match u16::try_from(out.len() - base - 2) {
            Ok(len) if answered != Answered::Silent => {
                out[base..base + 2].copy_from_slice(&len.to_be_bytes());
                answered
            }
            _ => {
                out.truncate(base);
                Answered::Silent
            }
        }
    }

    /// Encodes the reply to `q` (parsed from `pkt`) at the end of `out`,
    /// as a UDP reply limited to 512 bytes, or to the client's EDNS payload
    /// size. Returns `false`, leaving `out` as it was, in the rare cases
    /// it leaves to the hickory path (a TXT text too long for one record).
    ///
    /// There is no client here, so zone ACLs are not consulted
    /// ([`Responder::respond`] does that).
    pub fn respond_fast(
        &mut self,
        served: &Served,
        q: &ParsedQuery<'_>,
        pkt: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let limit = udp_limit(&q.head);
        self.encode(served, &q.head, q.labels(), pkt, limit, None, true, out) == Encoded::Reply
    }

    /// Encodes the reply to `q`, asked by `querier`, at the end of `out`.
    /// `udp` turns on the ANY size guard ([`crate::any`]).
    #[allow(clippy::too_many_arguments)]
    fn encode(
        &mut self,
        served: &Served,
        q: &Head,
        labels: &[&[u8]],
        pkt: &[u8],
        limit: usize,
        querier: Option<Querier<'_>>,
        udp: bool,
        out: &mut Vec<u8>,
    ) -> Encoded {
        let (resolution, Trace { zone, acl }) = served.snapshot.resolve_traced(labels, querier);
        self.outcome = Outcome {
            zone,
            rcode: 0,
            acl,
        };
        if let Resolution::Ignored = resolution {
            return Encoded::Silent;
        }
        let base = out.len();
        // Header and question as received; the header is rewritten below.
        out.extend_from_slice(&pkt[..q.question_end()]);
        let mut w = Writer {
            out,
            base,
            limit,
            counts: [0; 3],
            section: ANSWER,
            open: true,
            truncated: false,
        };
        let qtype = q.qtype;
        let mut rcode = RCODE_NOERROR;
        let mut aa = true;
        match resolution.zone().map(|z| served.wire_of(z)) {
            None => {
                rcode = RCODE_REFUSED;
                aa = false;
            }
            // Only if the snapshot and its wire data disagree (as in
            // handler::answer).
            Some(None) => {
                rcode = RCODE_SERVFAIL;
                aa = false;
            }
            Some(Some(zw)) => {
                // Where the zone name starts inside the question name.
                let apex =
                    HEADER_LEN + usize::from(q.name_wire_len).saturating_sub(zw.apex_wire_len);
                let mut answered = false;
                match resolution {
                    Resolution::NxDomain(_) => rcode = RCODE_NXDOMAIN,
                    // (Refused and ignored names have no zone: they never
                    // get here.)
                    Resolution::Exists(_) | Resolution::Refused | Resolution::Ignored => {}
                    Resolution::Apex(_) if qtype == TYPE_ANY => {
                        answered = true;
                        if w.room(RR_FIXED + HINFO_RDATA.len()) {
                            w.rr(HEADER_LEN, TYPE_HINFO, zw.soa_ttl, HINFO_RDATA.len());
                            w.out.extend_from_slice(&HINFO_RDATA);
                        }
                    }
                    Resolution::Apex(_) => {
                        if qtype == TYPE_SOA {
                            answered = true;
                            w.soa(zw, apex, zw.soa_ttl);
                        }
                        if qtype == TYPE_NS {
                            for (rdata, ttl) in zw.ns.iter() {
                                answered = true;
                                if w.room(RR_FIXED + rdata.bytes.len()) {
                                    w.rr(apex, TYPE_NS, *ttl, rdata.bytes.len());
                                    w.rdata(rdata, apex);
                                }
                            }
                        }
                    }
                    Resolution::Listed {
                        hits, rel_labels, ..
                    } => match self.listed(&mut w, &hits, &labels[..rel_labels], qtype) {
                        Some(a) => answered = a,
                        None => {
                            w.out.truncate(base);
                            return Encoded::Fallback;
                        }
                    },
                }
                if !answered {
                    // NXDOMAIN and NODATA carry the SOA with the negative
                    // TTL (RFC 2308), as in handler::answer.
                    w.begin(AUTHORITY);
                    w.soa(zw, apex, zw.soa_negative_ttl);
                }
            }
        }
        let opt_len = if q.edns.is_some() { 11 } else { 0 };
        let query_len = q.question_end() + opt_len;
        if udp && qtype == TYPE_ANY && any::too_large(query_len, w.out.len() - base + opt_len) {
            // The question alone, TC=1: ask again over TCP (crate::any).
            w.out.truncate(base + q.question_end());
            w.counts = [0; 3];
            w.truncated = true;
        }
        if let Some(e) = q.edns {
            // Our OPT: version 0, the client's payload size (at least
            // 512) and its DO bit copied (RFC 3225 section 3), exactly
            // what the hickory path echoes.
            w.begin(ADDITIONAL);
            if w.room(11) {
                let p = e.payload.max(512).to_be_bytes();
                let t = TYPE_OPT.to_be_bytes();
                let d = u8::from(e.dnssec_ok) << 7;
                w.out
                    .extend_from_slice(&[0, t[0], t[1], p[0], p[1], 0, 0, d, 0, 0, 0]);
            }
        }
        let flags = q.flags;
        let b2 = 0x80 | (u8::from(aa) << 2) | (u8::from(w.truncated) << 1) | (flags >> 8) as u8 & 1;
        let b3 = (flags as u8 & 0x10) | rcode;
        self.outcome.rcode = u16::from(rcode);
        let [an, ns, ar] = w.counts;
        let h = &mut w.out[base..base + HEADER_LEN];
        h[2] = b2;
        h[3] = b3;
        h[4..6].copy_from_slice(&1u16.to_be_bytes());
        h[6..8].copy_from_slice(&an.to_be_bytes());
        h[8..10].copy_from_slice(&ns.to_be_bytes());
        h[10..12].copy_from_slice(&ar.to_be_bytes());
        Encoded::Reply
    }

    /// The records of a listed name, as `handler::answer` builds them:
    /// one RRset TTL (the shortest of the hits'), A values and TXT texts
    /// each without duplicates, in dataset order; ANY gets the A RRset
    /// only ([`crate::any`]). Returns whether there is
    /// any answer record (before truncation), or `None` when a TXT text is
    /// too long for one record.
    fn listed(
        &mut self,
        w: &mut Writer<'_>,
        hits: &Hits<'_>,
        rel: &[&[u8]],
        qtype: u16,
    ) -> Option<bool> {
        let ttl = hits.iter().map(|h| h.ttl).min().unwrap_or(0);
        let owner = HEADER_LEN;
        let mut answered = false;
        if matches!(qtype, TYPE_A | TYPE_ANY) {
            for (i, hit) in hits.iter().enumerate() {
                for (j, ip) in hit.answer.a.iter().enumerate() {
                    // Seen before, in this hit or an earlier one?
                    let dup = hit.answer.a[..j].contains(ip)
                        || hits.iter().take(i).any(|h| h.answer.a.contains(ip));
                    if dup {
                        continue;
                    }
                    answered = true;
                    if w.room(RR_FIXED + 4) {
                        w.rr(owner, TYPE_A, ttl, 4);
                        w.out.extend_from_slice(&ip.octets());
                    }
                }
            }
        }
        if qtype == TYPE_TXT {
            let mut n = 0;
            for hit in hits.iter() {
                if hit.answer.txt.is_empty() {
                    continue;
                }
                self.subject.clear();
                hit.subject.write_text(rel, &mut self.subject);
                for template in hit.answer.txt.iter() {
                    if self.texts.len() == n {
                        self.texts.push(String::new());
                    }
                    let (seen, rest) = self.texts.split_at_mut(n);
                    let text = &mut rest[0];
                    text.clear();
                    rbldnsd::expand_txt(template, &self.subject, text);
                    if seen.contains(text) {
                        continue;
                    }
                    n += 1;
                    answered = true;
                    let rdlen = txt_rdlen(text.len());
                    if rdlen > usize::from(u16::MAX) {
                        return None;
                    }
                    if w.room(RR_FIXED + rdlen) {
                        w.rr(owner, TYPE_TXT, ttl, rdlen);
                        let bytes = text.as_bytes();
                        if bytes.is_empty() {
                            w.out.push(0);
                        }
                        for chunk in bytes.chunks(255) {
                            w.out.push(chunk.len() as u8);
                            w.out.extend_from_slice(chunk);
                        }
                    }
                }
            }
        }
        Some(answered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_lengths() {
        assert_eq!(txt_rdlen(0), 1);
        assert_eq!(txt_rdlen(1), 2);
        assert_eq!(txt_rdlen(255), 256);
        assert_eq!(txt_rdlen(256), 258);
        assert_eq!(txt_rdlen(510), 512);
    }
}
