//! Minimal answers to ANY queries (RFC 8482), shared by both encoders.
//!
//! ANY is what reflection attacks ask for: one small question, every
//! record of the name in reply. No DNSBL client needs it (mail filters ask
//! A, then TXT), so fadelist answers it with one RRset, never A and TXT
//! together:
//!
//! - a listed name: its A RRset (what "is it listed?" needs), no TXT;
//! - the zone apex: a synthesized `HINFO "RFC8482" ""` (RFC 8482 4.2, as
//!   Cloudflare answers), not SOA and NS;
//! - anything else: what any other type gets (NODATA or NXDOMAIN, with
//!   the SOA for negative caching).
//!
//! And over UDP, a reply to ANY is never larger than twice its query:
//! when the minimal answer would be (a long zone SOA on a short name, a
//! listed name with many A values), the reply is the question alone with
//! TC=1 — a real resolver then asks again over TCP, where the minimal
//! answer comes whole. The bench (`benches/run.sh`) measures the largest
//! ratio over every kind of name.
//!
//! The two encoders (fast path and hickory) must decide this identically,
//! so the size compared is the fast encoder's (names compressed against
//! the question), which the hickory path computes (`fast_size`).

use crate::records::ZoneWire;

/// DNS type ANY (QTYPE 255).
pub(crate) const TYPE_ANY: u16 = 255;

/// DNS type HINFO.
pub(crate) const TYPE_HINFO: u16 = 13;

/// The HINFO RDATA of RFC 8482: CPU "RFC8482", OS empty.
pub(crate) const HINFO_RDATA: [u8; 9] = [7, b'R', b'F', b'C', b'8', b'4', b'8', b'2', 0];

/// A reply to ANY may be at most this many times its query over UDP.
pub const MAX_AMPLIFICATION: usize = 2;

/// Fixed part of a record whose owner is a compression pointer.
const RR_FIXED: usize = 12;

/// True when a UDP reply of `reply_len` bytes to an ANY query of
/// `query_len` bytes is too large and must go out as TC=1 instead.
pub(crate) fn too_large(query_len: usize, reply_len: usize) -> bool {
    reply_len > MAX_AMPLIFICATION * query_len
}

/// What an ANY reply holds, for [`fast_size`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum AnySections {
    /// `n` A records.
    A(usize),
    /// The HINFO.
    Hinfo,
    /// No answer; the SOA in the authority section.
    NegativeSoa,
}

/// The fast encoder's size of a reply to a query of `question_end` bytes
/// (header and question), with an OPT record when `edns`.
pub(crate) fn fast_size(
    question_end: usize,
    edns: bool,
    zone: &ZoneWire,
    sections: AnySections,
) -> usize {
    let records = match sections {
        AnySections::A(n) => n * (RR_FIXED + 4),
        AnySections::Hinfo => RR_FIXED + HINFO_RDATA.len(),
        AnySections::NegativeSoa => RR_FIXED + zone.soa.bytes.len(),
    };
    question_end + records + if edns { 11 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit() {
        assert!(!too_large(40, 80));
        assert!(too_large(40, 81));
        assert_eq!(HINFO_RDATA.len(), 9);
    }
}
