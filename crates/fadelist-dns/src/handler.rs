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

use fadelist_core::snapshot::{Hits, Resolution, expand_txt};
use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};
use tracing::warn;

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
}

impl Sections {
    fn rcode(rcode: ResponseCode) -> Self {
        Sections {
            rcode,
            ..Sections::default()
        }
    }
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
    if matches!(qtype, RecordType::TXT | RecordType::ANY) {
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
/// served data; the UDP fast path and tests call it as well.
pub fn answer(served: &Served, name: &Name, qtype: RecordType, qclass: DNSClass) -> Sections {
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
    let resolution = served.snapshot.resolve(labels);
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
        Resolution::Refused => return Sections::rcode(ResponseCode::Refused),
        Resolution::NxDomain(_) => {
            s.rcode = ResponseCode::NXDomain;
        }
        Resolution::Exists(_) => {}
        Resolution::Apex(_) => {
            if matches!(qtype, RecordType::SOA | RecordType::ANY) {
                s.answers.push(records.soa.clone());
            }
            if matches!(qtype, RecordType::NS | RecordType::ANY) {
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
/// version, opcode, question count) and then [`answer`]. Synchronous, so
/// the async hickory handler and the plain-thread UDP fallback share it.
pub fn decide(served: &Served, request: &Request) -> Reply {
    let mut metadata = Metadata::response_from_request(&request.metadata);

    // EDNS (RFC 6891): echo an OPT with our version; refuse versions
    // we do not speak with BADVERS.
    let mut edns = None;
    let mut bad_version = false;
    if let Some(req) = &request.edns {
        let mut e = Edns::new();
        e.set_version(EDNS_VERSION);
        e.set_max_payload(req.max_payload().max(512));
        e.set_dnssec_ok(false);
        bad_version = req.version() > EDNS_VERSION;
        edns = Some(e);
    }
    let sections = if bad_version {
        Sections::rcode(ResponseCode::BADVERS)
    } else if request.metadata.op_code != OpCode::Query {
        Sections::rcode(ResponseCode::NotImp)
    } else {
        match request.request_info() {
            Ok(info) => {
                let q = info.query.original();
                answer(served, q.name(), q.query_type(), q.query_class())
            }
            // Zero or several questions.
            Err(_) => Sections::rcode(ResponseCode::FormErr),
        }
    };
    metadata.response_code = sections.rcode;
    metadata.authoritative = sections.authoritative;
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
    let reply = decide(served, &request);
    Some(encode(reply.response(&request), protocol))
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
