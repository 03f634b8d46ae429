//! Request → response: the hickory `RequestHandler` of fadelist.
//!
//! All policy lives in [`Snapshot::resolve`](fadelist_core::snapshot::Snapshot::resolve);
//! this module only checks the request's envelope (opcode, EDNS version,
//! question count and class) and encodes the decision as records. hickory
//! itself drops responses (QR=1), answers FORMERR to undecodable messages
//! and truncates (TC) replies that exceed the client's payload size;
//! [`respond_bytes`] reproduces that request path synchronously for the
//! UDP fast path's fallback (see [`crate::fast`]).

use std::net::SocketAddr;

use fadelist_core::dataset::acl::Verdict;
use fadelist_core::snapshot::{Hits, Querier, Resolution, expand_txt};
use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, HINFO, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};
use tracing::warn;

use crate::any::{self, AnySections};
use crate::publisher::{Publisher, Served};

/// The transport a request came over (it sets the reply size limit).
pub use hickory_server::net::xfer::Protocol;

/// The EDNS version we speak (RFC 6891).
const EDNS_VERSION: u8 = 0;

/// Answers DNSBL queries from the published snapshot.
#[derive(Clone, Debug)]
pub struct DnsblHandler {
    publisher: Publisher,
}

impl DnsblHandler {
    /// A handler serving whatever `publisher` publishes.
    pub fn new(publisher: Publisher) -> Self {
        DnsblHandler { publisher }
    }
}

/// The sections of a response, before encoding.
#[derive(Debug, Default)]
pub struct Sections {
    /// Response code.
    pub rcode: ResponseCode,
    /// Authoritative answer flag.
    pub authoritative: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section.
    pub authority: Vec<Record>,
    /// Records were left out on purpose (a UDP reply to ANY larger than
    /// twice its query; see [`crate::any`]): set TC.
    pub truncated: bool,
    /// No reply at all: the zone's ACL ignores the querier.
    pub silent: bool,
}

impl Sections {
    fn rcode(rcode: ResponseCode) -> Self {
        Sections {
            rcode,
            ..Sections::default()
        }
    }
}

/// Length of `name` in wire form (labels with their length bytes, and the
/// root label).
fn wire_len(name: &Name) -> usize {
    name.iter().map(|l| l.len() + 1).sum::<usize>() + 1
}

/// Splits a TXT string into the 255-byte character-strings DNS allows.
fn txt_chunks(text: &str) -> Vec<&[u8]> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return vec![bytes];
    }
    bytes.chunks(255).collect()
}

/// Builds the records of a listed name for `qtype`.
fn listed_records(
    owner: &Name,
    hits: &Hits<'_>,
    rel: &[&[u8]],
    qtype: RecordType,
    out: &mut Vec<Record>,
) {
    // One RRset has one TTL (RFC 2181 5.2): the shortest of the hits'.
    let ttl = hits.iter().map(|h| h.ttl).min().unwrap_or(0);
    if matches!(qtype, RecordType::A | RecordType::ANY) {
        let mut seen = Vec::new();
        for ip in hits.iter().flat_map(|h| h.answer.a.iter()) {
            if !seen.contains(ip) {
                seen.push(*ip);
                out.push(Record::from_rdata(owner.clone(), ttl, RData::A(A(*ip))));
            }
        }
    }
    // ANY gets the A RRset only (crate::any).
    if qtype == RecordType::TXT {
        let mut seen: Vec<String> = Vec::new();
        for hit in hits.iter() {
            for template in hit.answer.txt.iter() {
                let mut text = String::new();
                expand_txt(template, hit.subject, rel, &mut text);
                if seen.contains(&text) {
                    continue;
                }
                let rdata = TXT::from_bytes(txt_chunks(&text));
                out.push(Record::from_rdata(owner.clone(), ttl, RData::TXT(rdata)));
                seen.push(text);
            }
        }
    }
}

/// Decides the response sections for one question. Pure apart from the
/// served data; the UDP fast path and tests call it as well. No querier:
/// zone ACLs are not consulted (see [`answer_from`]).
pub fn answer(served: &Served, name: &Name, qtype: RecordType, qclass: DNSClass) -> Sections {
    answer_from(served, name, qtype, qclass, None, None)
}

/// The size of a UDP query, for the ANY size guard of [`answer_from`].
#[derive(Clone, Copy, Debug)]
pub struct UdpQuery {
    /// Bytes up to the end of the question section.
    pub question_end: usize,
    /// The query carries an OPT record (so will the reply).
    pub edns: bool,
    /// The whole query, in bytes.
    pub len: usize,
}

/// [`answer`] for a question asked by `querier` (zone ACLs apply), over
/// UDP when `udp` is given: then an ANY reply larger than twice the query
/// (as the fast path encodes it) is replaced by TC=1 ([`crate::any`]).
pub fn answer_from(
    served: &Served,
    name: &Name,
    qtype: RecordType,
    qclass: DNSClass,
    querier: Option<Querier<'_>>,
    udp: Option<UdpQuery>,
) -> Sections {
    if qclass != DNSClass::IN && qclass != DNSClass::ANY {
        return Sections::rcode(ResponseCode::Refused);
    }
    let mut labels: [&[u8]; 128] = [&[]; 128];
    let mut n = 0;
    for label in name.iter() {
        if n == labels.len() {
            return Sections::rcode(ResponseCode::FormErr);
        }
        labels[n] = label;
        n += 1;
    }
    let labels = &labels[..n];
    let resolution = served.snapshot.resolve_from(labels, querier);
    if let Resolution::Ignored = resolution {
        return Sections {
            silent: true,
            ..Sections::default()
        };
    }
    let Some(zone) = resolution.zone() else {
        return Sections::rcode(ResponseCode::Refused);
    };
    let Some(records) = served.records_of(zone) else {
        return Sections::rcode(ResponseCode::ServFail);
    };
    let mut s = Sections {
        authoritative: true,
        ..Sections::default()
    };
    match resolution {
        Resolution::Refused | Resolution::Ignored => {
            return Sections::rcode(ResponseCode::Refused);
        }
        Resolution::NxDomain(_) => {
            s.rcode = ResponseCode::NXDomain;
        }
        Resolution::Exists(_) => {}
        // RFC 8482: one synthesized HINFO instead of SOA and NS.
        Resolution::Apex(_) if qtype == RecordType::ANY => {
            let hinfo = HINFO::new("RFC8482".into(), String::new());
            s.answers.push(Record::from_rdata(
                records.soa.name.clone(),
                records.soa.ttl,
                RData::HINFO(hinfo),
            ));
        }
        Resolution::Apex(_) => {
            if qtype == RecordType::SOA {
                s.answers.push(records.soa.clone());
            }
            if qtype == RecordType::NS {
                s.answers.extend(records.ns.iter().cloned());
            }
        }
        Resolution::Listed {
            hits, rel_labels, ..
        } => listed_records(name, &hits, &labels[..rel_labels], qtype, &mut s.answers),
    }
    if s.answers.is_empty() {
        // NXDOMAIN and NODATA carry the SOA so resolvers can cache the
        // negative answer (RFC 2308).
        s.authority.push(records.soa_negative.clone());
    }
    if let Some(u) = udp
        && qtype == RecordType::ANY
        && let Some(wire) = served.wire_of(zone)
    {
        let kind = match s.answers.first().map(|r| &r.data) {
            Some(RData::HINFO(_)) => AnySections::Hinfo,
            Some(_) => AnySections::A(s.answers.len()),
            None => AnySections::NegativeSoa,
        };
        if any::too_large(u.len, any::fast_size(u.question_end, u.edns, wire, kind)) {
            s.answers.clear();
            s.authority.clear();
            s.truncated = true;
        }
    }
    s
}

/// The decided response to one decoded request, before encoding: what
/// [`DnsblHandler`] sends and what [`respond_bytes`] encodes.
#[derive(Debug)]
pub struct Reply {
    /// Response header flags and code.
    pub metadata: Metadata,
    /// The OPT record to echo, when the request had one.
    pub edns: Option<Edns>,
    /// The records.
    pub sections: Sections,
}

/// Decides the reply to a decoded request: the envelope checks (EDNS
/// version, opcode, question count) and then [`answer_from`], for the
/// request's source address (zone ACLs apply). Synchronous, so
/// the async hickory handler and the plain-thread UDP fallback share it.
pub fn decide(served: &Served, request: &Request) -> Reply {
    decide_from(served, request, Verdict::Pass)
}

/// [`decide`] with a verdict forced on the client for every zone (the UDP
/// workers' query quota).
pub fn decide_from(served: &Served, request: &Request, forced: Verdict<'_>) -> Reply {
    let mut metadata = Metadata::response_from_request(&request.metadata);

    // EDNS (RFC 6891): echo an OPT with our version; refuse versions
    // we do not speak with BADVERS.
    let mut edns = None;
    let mut bad_version = false;
    if let Some(req) = &request.edns {
        let mut e = Edns::new();
        e.set_version(EDNS_VERSION);
        e.set_max_payload(req.max_payload().max(512));
        // RFC 3225 section 3: the DO bit of the query is copied into the
        // response (we sign nothing, so it changes nothing else).
        e.set_dnssec_ok(req.flags().dnssec_ok);
        bad_version = req.version() > EDNS_VERSION;
        edns = Some(e);
    }
    let sections = if bad_version {
        Sections::rcode(ResponseCode::BADVERS)
    } else if request.metadata.op_code != OpCode::Query {
        // RD and CD mean something only for QUERY; echoing them on an
        // opcode we do not implement is what ISC's DNS compliance tester
        // flags as `opcodeflg=rd,cd` (BIND, NSD and Knot clear them).
        metadata.recursion_desired = false;
        metadata.checking_disabled = false;
        Sections::rcode(ResponseCode::NotImp)
    } else {
        match request.request_info() {
            Ok(info) => {
                let q = info.query.original();
                let querier = Querier {
                    addr: request.src().ip(),
                    forced,
                };
                let udp = (request.protocol() == Protocol::Udp).then(|| UdpQuery {
                    question_end: 12 + wire_len(q.name()) + 4,
                    edns: request.edns.is_some(),
                    len: request.as_slice().len(),
                });
                answer_from(
                    served,
                    q.name(),
                    q.query_type(),
                    q.query_class(),
                    Some(querier),
                    udp,
                )
            }
            // Zero or several questions.
            Err(_) => Sections::rcode(ResponseCode::FormErr),
        }
    };
    metadata.response_code = sections.rcode;
    metadata.authoritative = sections.authoritative;
    metadata.truncation = sections.truncated;
    Reply {
        metadata,
        edns,
        sections,
    }
}

/// The hickory response message of `reply` to `request`.
type Response<'q> = MessageResponse<
    'q,
    'q,
    std::slice::Iter<'q, Record>,
    std::slice::Iter<'q, Record>,
    std::iter::Empty<&'q Record>,
    std::iter::Empty<&'q Record>,
>;

impl Reply {
    /// The message hickory encodes: the request's question (as received),
    /// our header, records and OPT.
    fn response<'q>(&'q self, request: &'q Request) -> Response<'q> {
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = &self.edns {
            builder.edns(e);
        }
        builder.build(
            self.metadata,
            self.sections.answers.iter(),
            self.sections.authority.iter(),
            std::iter::empty(),
            std::iter::empty(),
        )
    }
}

/// Answers one raw DNS message exactly as hickory-server with
/// [`DnsblHandler`] does, but synchronously: the reply bytes, or `None`
/// when hickory would stay silent.
///
/// This is the UDP fast path's fallback for anything its strict parser
/// declines, and the reference the differential tests compare it with.
/// It mirrors `hickory_server::Server`'s request path step by step:
/// fewer than 12 bytes → silence; a message that does not decode →
/// FORMERR echoing the header (even when QR=1, as hickory does); a
/// decoded response (QR=1) → silence; otherwise [`decide`] and an encoding
/// limited to the client's payload size on UDP (512 without EDNS) with TC
/// set when records had to be left out.
pub fn respond_bytes(
    served: &Served,
    raw: &[u8],
    src: SocketAddr,
    protocol: Protocol,
) -> Option<Vec<u8>> {
    respond_bytes_from(served, raw, src, protocol, Verdict::Pass)
}

/// [`respond_bytes`] with a verdict forced on the client for every zone
/// (the UDP workers' query quota). `None` also when the zone's ACL (or the
/// forced verdict) ignores the client.
pub fn respond_bytes_from(
    served: &Served,
    raw: &[u8],
    src: SocketAddr,
    protocol: Protocol,
    forced: Verdict<'_>,
) -> Option<Vec<u8>> {
    let header = Header::read(&mut BinDecoder::new(raw)).ok()?;
    let request = match Request::from_bytes(raw.to_vec(), src, protocol) {
        Ok(r) => r,
        Err(_) => {
            // hickory answers with the header and no question.
            let queries = Queries::read(&mut BinDecoder::new(&[]), 0).ok()?;
            let response = MessageResponseBuilder::new(&queries, None)
                .error_msg(&header.metadata, ResponseCode::FormErr);
            return Some(encode(response, protocol));
        }
    };
    if request.metadata.message_type == MessageType::Response {
        return None;
    }
    let reply = decide_from(served, &request, forced);
    if reply.sections.silent {
        return None;
    }
    Some(encode(reply.response(&request), protocol))
}

/// The zone (position in the snapshot) and the response code (extended
/// codes such as BADVERS included) of a reply the hickory path wrote, for
/// the metrics of the fast fronts' fallback. Decodes the reply again:
/// called for the rare packets the fast parser leaves to hickory, and
/// only when metrics are on. A reply that cannot be decoded (it always
/// can) counts as no zone, with its header's response code.
pub fn reply_zone_and_rcode(served: &Served, reply: &[u8]) -> (Option<usize>, u16) {
    let header_rcode = reply.get(3).map_or(0, |b| u16::from(b & 0x0f));
    let Ok(msg) = hickory_proto::op::Message::from_vec(reply) else {
        return (None, header_rcode);
    };
    let zone = msg.queries.first().and_then(|q| {
        let labels: Vec<&[u8]> = q.name().iter().collect();
        served.snapshot.zone_index_for(&labels).map(|(i, _)| i)
    });
    (zone, u16::from(msg.metadata.response_code))
}

/// Encodes `response` as hickory-server's `MessageResponse::encode` does
/// (that function is private to hickory): payload limit by protocol, and
/// a bare SERVFAIL header when encoding fails.
fn encode<'a, A, N, S, D>(
    response: MessageResponse<'_, 'a, A, N, S, D>,
    protocol: Protocol,
) -> Vec<u8>
where
    A: Iterator<Item = &'a Record> + Send + 'a,
    N: Iterator<Item = &'a Record> + Send + 'a,
    S: Iterator<Item = &'a Record> + Send + 'a,
    D: Iterator<Item = &'a Record> + Send + 'a,
{
    let id = response.metadata().id;
    let max = match protocol {
        // RFC 1035 4.2.1: 512 bytes without EDNS.
        Protocol::Udp => response.edns().map_or(512, Edns::max_payload),
        _ => u16::MAX,
    };
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max);
    if response.destructive_emit(&mut encoder).is_ok() {
        return bytes;
    }
    bytes.clear();
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(512);
    let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
    metadata.response_code = ResponseCode::ServFail;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    // A 12-byte header always fits in 512 bytes.
    let _ = header.emit(&mut encoder);
    bytes
}

#[async_trait::async_trait]
impl RequestHandler for DnsblHandler {
    async fn handle_request<R: ResponseHandler, T: hickory_server::net::runtime::Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let reply = decide(&self.publisher.load(), request);
        if reply.sections.silent {
            // The zone's ACL ignores this client: send nothing.
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = ResponseCode::Refused;
            return ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            });
        }
        match response_handle.send_response(reply.response(request)).await {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, "failed to send DNS response");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}
