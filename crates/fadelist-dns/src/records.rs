//! Per-zone records that do not depend on the query, built once per
//! publication: the SOA and NS records as hickory types (for the hickory
//! path) and as wire templates (for the fast path). Both come from the
//! same [`ZoneRecords`], so the two paths cannot disagree; the publisher
//! builds them, the encoders only read them.

use fadelist_core::snapshot::Zone;
use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{Name, RData, Record};

/// Per-zone records that do not depend on the query, built once per
/// publication instead of once per query.
#[derive(Debug)]
pub struct ZoneRecords {
    /// The SOA record with its own TTL (answers to SOA queries).
    pub soa: Record,
    /// The SOA record for negative answers: TTL = min(SOA TTL, minimum),
    /// as RFC 2308 section 3 asks.
    pub soa_negative: Record,
    /// The apex NS records.
    pub ns: Vec<Record>,
}

fn fqdn(name: &str, fallback: &Name) -> Name {
    Name::from_ascii(name)
        .map(|mut n| {
            n.set_fqdn(true);
            n
        })
        .unwrap_or_else(|_| fallback.clone())
}

/// The SOA and NS records of `zone`.
pub(crate) fn zone_records(zone: &Zone) -> ZoneRecords {
    let apex = fqdn(zone.name(), &Name::root());
    let s = &zone.soa;
    // SOA timers are signed 32-bit on the wire (RFC 1035 says unsigned,
    // hickory models them as i32); clamp rather than wrap.
    let clamp = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let soa = SOA::new(
        fqdn(&s.mname, &apex),
        fqdn(&s.rname, &apex),
        s.serial,
        clamp(s.refresh),
        clamp(s.retry),
        clamp(s.expire),
        s.minimum,
    );
    let record = Record::from_rdata(apex.clone(), s.ttl, RData::SOA(soa));
    let mut negative = record.clone();
    negative.ttl = s.ttl.min(s.minimum);
    let ns = zone
        .ns
        .iter()
        .map(|n| Record::from_rdata(apex.clone(), zone.ns_ttl, RData::NS(NS(fqdn(n, &apex)))))
        .collect();
    ZoneRecords {
        soa: record,
        soa_negative: negative,
        ns,
    }
}

/// RDATA with names that end in the zone apex left as 2-byte holes, filled
/// per query with a pointer to the apex inside the question.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rdata {
    pub(crate) bytes: Box<[u8]>,
    /// Offsets in `bytes` of the apex pointers to fill in.
    pub(crate) holes: Box<[u16]>,
}

impl Rdata {
    fn push_name(bytes: &mut Vec<u8>, holes: &mut Vec<u16>, name: &Name, apex: &[&[u8]]) {
        let labels: Vec<&[u8]> = name.iter().collect();
        let below_apex = !apex.is_empty()
            && labels.len() >= apex.len()
            && labels[labels.len() - apex.len()..]
                .iter()
                .zip(apex)
                .all(|(a, b)| a.eq_ignore_ascii_case(b));
        let own = if below_apex {
            labels.len() - apex.len()
        } else {
            labels.len()
        };
        for l in &labels[..own] {
            bytes.push(l.len() as u8);
            bytes.extend_from_slice(l);
        }
        if below_apex {
            holes.push(bytes.len() as u16);
            bytes.extend_from_slice(&[0, 0]);
        } else {
            bytes.push(0);
        }
    }
}

/// Per-zone wire data built once per publication: the SOA and NS RDATA
/// templates and TTLs, from the same [`ZoneRecords`] the hickory path
/// sends (so names that hickory replaced by the apex are replaced here
/// too).
#[derive(Clone, Debug, Default)]
pub(crate) struct ZoneWire {
    /// Wire length of the zone name, root label included: the zone's
    /// part of any question name in it.
    pub(crate) apex_wire_len: usize,
    /// The zone name in wire form, lower-case (response-rate limiting
    /// finds the zone of an NXDOMAIN by it).
    pub(crate) apex: Box<[u8]>,
    /// The SOA RDATA.
    pub(crate) soa: Rdata,
    /// TTL of the SOA in answers.
    pub(crate) soa_ttl: u32,
    /// TTL of the SOA in negative answers.
    pub(crate) soa_negative_ttl: u32,
    /// The NS RDATA and TTLs.
    pub(crate) ns: Box<[(Rdata, u32)]>,
}

impl ZoneWire {
    pub(crate) fn build(zone: &Zone, records: &ZoneRecords) -> ZoneWire {
        let apex: Vec<&[u8]> = zone.name().split('.').map(str::as_bytes).collect();
        let apex_wire_len = zone.name().len() + 2;
        let mut apex_wire = Vec::with_capacity(apex_wire_len);
        for l in &apex {
            apex_wire.push(l.len() as u8);
            apex_wire.extend(l.iter().map(u8::to_ascii_lowercase));
        }
        apex_wire.push(0);
        let mut w = ZoneWire {
            apex_wire_len,
            apex: apex_wire.into(),
            soa_ttl: records.soa.ttl,
            soa_negative_ttl: records.soa_negative.ttl,
            ..ZoneWire::default()
        };
        if let RData::SOA(soa) = &records.soa.data {
            let (mut bytes, mut holes) = (Vec::new(), Vec::new());
            Rdata::push_name(&mut bytes, &mut holes, &soa.mname, &apex);
            Rdata::push_name(&mut bytes, &mut holes, &soa.rname, &apex);
            bytes.extend_from_slice(&soa.serial.to_be_bytes());
            bytes.extend_from_slice(&soa.refresh.to_be_bytes());
            bytes.extend_from_slice(&soa.retry.to_be_bytes());
            bytes.extend_from_slice(&soa.expire.to_be_bytes());
            bytes.extend_from_slice(&soa.minimum.to_be_bytes());
            w.soa = Rdata {
                bytes: bytes.into(),
                holes: holes.into(),
            };
        }
        w.ns = records
            .ns
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(ns) => {
                    let (mut bytes, mut holes) = (Vec::new(), Vec::new());
                    Rdata::push_name(&mut bytes, &mut holes, &ns.0, &apex);
                    Some((
                        Rdata {
                            bytes: bytes.into(),
                            holes: holes.into(),
                        },
                        r.ttl,
                    ))
                }
                _ => None,
            })
            .collect();
        w
    }
}
