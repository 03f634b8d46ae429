//! Request → response: the hickory `RequestHandler` of fadelist.
//!
//! All policy lives in [`Snapshot::resolve`](fadelist_core::snapshot::Snapshot::resolve);
//! this module only checks the request's envelope (opcode, EDNS version,
//! question count and class) and encodes the decision as records. hickory
//! itself drops responses (QR=1), answers FORMERR to undecodable messages
//! and truncates (TC) replies that exceed the client's payload size.

use fadelist_core::snapshot::{Hits, Resolution, expand_txt};
use hickory_proto::op::{Edns, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tracing::warn;

use crate::publisher::{Publisher, Served};

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

#[async_trait::async_trait]
impl RequestHandler for DnsblHandler {
    async fn handle_request<R: ResponseHandler, T: hickory_server::net::runtime::Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);

        // EDNS (RFC 6891): echo an OPT with our version; refuse versions
        // we do not speak with BADVERS.
        let mut edns_storage = None;
        let mut bad_version = false;
        if let Some(req) = &request.edns {
            let mut e = Edns::new();
            e.set_version(EDNS_VERSION);
            e.set_max_payload(req.max_payload().max(512));
            e.set_dnssec_ok(false);
            bad_version = req.version() > EDNS_VERSION;
            edns_storage = Some(e);
        }
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = &edns_storage {
            builder.edns(e);
        }

        let served = self.publisher.load();
        let sections = if bad_version {
            Sections::rcode(ResponseCode::BADVERS)
        } else if request.metadata.op_code != OpCode::Query {
            Sections::rcode(ResponseCode::NotImp)
        } else {
            match request.request_info() {
                Ok(info) => {
                    let q = info.query.original();
                    answer(&served, q.name(), q.query_type(), q.query_class())
                }
                // Zero or several questions.
                Err(_) => Sections::rcode(ResponseCode::FormErr),
            }
        };
        metadata.response_code = sections.rcode;
        metadata.authoritative = sections.authoritative;
        let response = builder.build(
            metadata,
            sections.answers.iter(),
            sections.authority.iter(),
            std::iter::empty(),
            std::iter::empty(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, "failed to send DNS response");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(hickory_proto::op::Header {
                    metadata,
                    counts: hickory_proto::op::HeaderCounts::default(),
                })
            }
        }
    }
}
