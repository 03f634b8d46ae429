//! The strict query parser of the UDP fast path.
//!
//! It accepts only the shape nearly every DNSBL query has and refuses
//! (returns `None`) everything else, which then goes through the complete
//! hickory-proto decoder instead. Being strict is what makes the fast path
//! safe: whatever it accepts, hickory would decode to the same question, so
//! the two paths can only differ in how they encode the same decision.

/// Most labels a query name can have: a 255-byte wire name holds at most
/// 127 one-byte labels and the root.
pub const MAX_LABELS: usize = 127;

/// Longest wire-format name, root label included (RFC 1035 3.1).
const MAX_NAME_WIRE: usize = 255;

/// Size of the DNS header.
pub(crate) const HEADER_LEN: usize = 12;

/// RR type of the EDNS OPT pseudo-record.
const TYPE_OPT: u16 = 41;

/// Class IN.
pub(crate) const CLASS_IN: u16 = 1;

/// The EDNS part of an accepted query: an OPT record at the root with
/// version 0 and no options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdnsQuery {
    /// The requestor's UDP payload size, as sent (may be below 512).
    pub payload: u16,
    /// The DO bit (DNSSEC OK). We sign nothing; it is only reported.
    pub dnssec_ok: bool,
}

/// The fixed-size part of an accepted query (everything but the labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub id: u16,
    pub flags: u16,
    pub label_count: u8,
    pub name_wire_len: u16,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<EdnsQuery>,
}

impl Head {
    /// Offset just past the question section (name, type and class).
    pub fn question_end(&self) -> usize {
        HEADER_LEN + usize::from(self.name_wire_len) + 4
    }
}

/// Room for the labels of one query name, borrowed from the packet.
///
/// About 2 KiB: filling it is a measurable part of parsing a query, so
/// the workers keep one per batch instead of one per query.
pub type Labels<'a> = [&'a [u8]; MAX_LABELS];

/// An empty [`Labels`].
pub fn no_labels<'a>() -> Labels<'a> {
    [&[]; MAX_LABELS]
}

/// An ordinary query accepted by [`parse_query`]; borrows the packet.
#[derive(Clone, Debug)]
pub struct ParsedQuery<'a> {
    pub(crate) head: Head,
    labels: Labels<'a>,
}

impl<'a> ParsedQuery<'a> {
    /// The query id.
    pub fn id(&self) -> u16 {
        self.head.id
    }

    /// The second and third header bytes, as received (QR, opcode, flags,
    /// rcode).
    pub fn flags(&self) -> u16 {
        self.head.flags
    }

    /// The RD flag (recursion desired); a reply copies it.
    pub fn recursion_desired(&self) -> bool {
        self.head.flags & 0x0100 != 0
    }

    /// The CD flag (checking disabled); a reply copies it.
    pub fn checking_disabled(&self) -> bool {
        self.head.flags & 0x0010 != 0
    }

    /// The labels of the question name, leftmost first, as received (any
    /// case), without the root label.
    pub fn labels(&self) -> &[&'a [u8]] {
        &self.labels[..usize::from(self.head.label_count)]
    }

    /// Length of the question name on the wire, root label included.
    pub fn name_wire_len(&self) -> usize {
        usize::from(self.head.name_wire_len)
    }

    /// Offset just past the question section (name, type and class).
    pub fn question_end(&self) -> usize {
        self.head.question_end()
    }

    /// The question type.
    pub fn qtype(&self) -> u16 {
        self.head.qtype
    }

    /// The question class (always IN for an accepted query).
    pub fn qclass(&self) -> u16 {
        self.head.qclass
    }

    /// The EDNS OPT record, if the query had one.
    pub fn edns(&self) -> Option<EdnsQuery> {
        self.head.edns
    }
}

#[inline]
fn be16(p: &[u8], at: usize) -> Option<u16> {
    match p.get(at..at + 2) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// Parses an ordinary query, or returns `None` for anything else.
///
/// Accepted: QR=0, opcode QUERY, QDCOUNT=1, ANCOUNT=NSCOUNT=0, ARCOUNT 0
/// or 1; one question whose name is uncompressed (labels of 1–63 bytes,
/// at most 255 bytes on the wire), class IN; when ARCOUNT=1, a single OPT
/// record owned by the root with extended RCODE 0, version 0 and no
/// options; and nothing after the last section. The other header bits
/// (AA, TC, RD, RA, Z, AD, CD, RCODE) are ignored, as hickory ignores
/// them in a query; the reply copies RD and CD.
///
/// Never allocates, never panics on any input (it is a fuzz target).
pub fn parse_query(pkt: &[u8]) -> Option<ParsedQuery<'_>> {
    let mut labels = no_labels();
    let head = parse_into(pkt, &mut labels)?;
    Some(ParsedQuery { head, labels })
}

/// [`parse_query`] into caller-provided label room: `labels[..label_count]`
/// are the labels when it returns `Some` (the rest is left as it was).
#[inline]
pub(crate) fn parse_into<'a>(pkt: &'a [u8], labels: &mut Labels<'a>) -> Option<Head> {
    if pkt.len() < HEADER_LEN + 1 + 4 {
        return None;
    }
    let id = be16(pkt, 0)?;
    let flags = be16(pkt, 2)?;
    // QR=0 and opcode 0 (QUERY).
    if flags & 0xf800 != 0 {
        return None;
    }
    if be16(pkt, 4)? != 1 || be16(pkt, 6)? != 0 || be16(pkt, 8)? != 0 {
        return None;
    }
    let arcount = be16(pkt, 10)?;
    if arcount > 1 {
        return None;
    }

    let mut n = 0usize;
    let mut pos = HEADER_LEN;
    loop {
        let len = usize::from(*pkt.get(pos)?);
        if len == 0 {
            pos += 1;
            break;
        }
        // 64..=255 are compression pointers (0xC0) or reserved label
        // types (0x40, 0x80): not for the fast path.
        if len > 63 || n == MAX_LABELS {
            return None;
        }
        let end = pos + 1 + len;
        // The name so far plus the root label must fit in 255 bytes.
        if end - HEADER_LEN + 1 > MAX_NAME_WIRE {
            return None;
        }
        labels[n] = pkt.get(pos + 1..end)?;
        n += 1;
        pos = end;
    }
    let name_wire_len = pos - HEADER_LEN;
    let qtype = be16(pkt, pos)?;
    let qclass = be16(pkt, pos + 2)?;
    if qclass != CLASS_IN {
        return None;
    }
    let rest = &pkt[pos + 4..];
    let edns = match (arcount, rest) {
        (0, []) => None,
        // Root owner, type OPT, payload, extended RCODE 0, version 0,
        // flags, RDLENGTH 0 (no options).
        (1, &[0, t0, t1, p0, p1, 0, 0, f0, _, 0, 0])
            if u16::from_be_bytes([t0, t1]) == TYPE_OPT =>
        {
            Some(EdnsQuery {
                payload: u16::from_be_bytes([p0, p1]),
                dnssec_ok: f0 & 0x80 != 0,
            })
        }
        _ => return None,
    };
    Some(Head {
        id,
        flags,
        label_count: n as u8,
        name_wire_len: name_wire_len as u16,
        qtype,
        qclass,
        edns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Message;

    /// A query for `labels` with type A, class IN, plus `tail` after the
    /// question (and ARCOUNT `ar`).
    fn query(labels: &[&[u8]], ar: u16, tail: &[u8]) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&ar.to_be_bytes());
        for l in labels {
            p.push(l.len() as u8);
            p.extend_from_slice(l);
        }
        p.push(0);
        p.extend_from_slice(&[0, 1, 0, 1]);
        p.extend_from_slice(tail);
        p
    }

    const OPT: [u8; 11] = [0, 0, 41, 0x10, 0x00, 0, 0, 0x80, 0, 0, 0];

    /// Whatever the fast parser accepts, hickory decodes to the same name.
    fn agrees_with_hickory(p: &[u8]) {
        if let Some(q) = parse_query(p) {
            let m = Message::from_vec(p).expect("hickory decodes what we accept");
            let name = m.queries[0].name();
            let theirs: Vec<&[u8]> = name.iter().collect();
            assert_eq!(q.labels(), &theirs[..]);
        }
    }

    #[test]
    fn ordinary_query() {
        let p = query(&[b"2", b"0", b"0", b"127", b"Bl", b"example"], 0, &[]);
        let q = parse_query(&p).unwrap();
        assert_eq!(q.id(), 0x1234);
        assert!(q.recursion_desired());
        assert!(!q.checking_disabled());
        assert_eq!(q.labels().len(), 6);
        assert_eq!(q.labels()[4], b"Bl", "case is kept");
        assert_eq!(q.qtype(), 1);
        assert_eq!(q.question_end(), p.len());
        assert_eq!(q.edns(), None);
        agrees_with_hickory(&p);
    }

    #[test]
    fn edns() {
        let p = query(&[b"x", b"test"], 1, &OPT);
        let e = parse_query(&p).unwrap().edns().unwrap();
        assert_eq!(e.payload, 4096);
        assert!(e.dnssec_ok);
        agrees_with_hickory(&p);
        // Version 1, an option, extended RCODE, non-root owner, a
        // missing OPT, a stray OPT: all left to hickory.
        for (i, v) in [(6, 1u8), (10, 4), (5, 1)] {
            let mut opt = OPT;
            opt[i] = v;
            assert!(parse_query(&query(&[b"x"], 1, &opt)).is_none(), "{i}");
        }
        let mut p = query(&[b"x"], 1, &[1, b'a']);
        p.extend_from_slice(&OPT[1..]);
        assert!(parse_query(&p).is_none());
        assert!(parse_query(&query(&[b"x"], 1, &[])).is_none());
        assert!(parse_query(&query(&[b"x"], 0, &OPT)).is_none());
        assert!(parse_query(&query(&[b"x"], 2, &[OPT, OPT].concat())).is_none());
        // A type other than OPT in the additional section.
        let mut other = OPT;
        other[2] = 1;
        assert!(parse_query(&query(&[b"x"], 1, &other)).is_none());
    }

    #[test]
    fn root_name() {
        let p = query(&[], 0, &[]);
        let q = parse_query(&p).unwrap();
        assert!(q.labels().is_empty());
        assert_eq!(q.name_wire_len(), 1);
        agrees_with_hickory(&p);
    }

    #[test]
    fn label_lengths() {
        let l63 = [b'a'; 63];
        let p = query(&[&l63, b"test"], 0, &[]);
        assert_eq!(parse_query(&p).unwrap().labels()[0].len(), 63);
        agrees_with_hickory(&p);
        // 64 is not a length but a reserved label type.
        let l64 = [b'a'; 64];
        assert!(parse_query(&query(&[&l64], 0, &[])).is_none());
    }

    #[test]
    fn name_length_limit() {
        // 3 × 64 + 62 = 254 bytes of labels, + root = 255: accepted.
        let l63 = [b'a'; 63];
        let l61 = [b'b'; 61];
        let p = query(&[&l63, &l63, &l63, &l61], 0, &[]);
        let q = parse_query(&p).unwrap();
        assert_eq!(q.name_wire_len(), 255);
        agrees_with_hickory(&p);
        // One byte more: 256, refused here and by hickory.
        let l62 = [b'b'; 62];
        let p = query(&[&l63, &l63, &l63, &l62], 0, &[]);
        assert!(parse_query(&p).is_none());
        assert!(Message::from_vec(&p).is_err());
    }

    #[test]
    fn label_count_limit() {
        // 127 one-byte labels: 254 bytes + root.
        let labels = vec![&b"1"[..]; 127];
        let p = query(&labels, 0, &[]);
        assert_eq!(parse_query(&p).unwrap().labels().len(), 127);
        agrees_with_hickory(&p);
        let labels = vec![&b"1"[..]; 128];
        assert!(parse_query(&query(&labels, 0, &[])).is_none());
    }

    #[test]
    fn pointers_and_odd_shapes() {
        // A compression pointer in the question.
        let mut p = query(&[b"a"], 0, &[]);
        p.truncate(HEADER_LEN + 2);
        p.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        assert!(parse_query(&p).is_none());
        // Reserved label types 0x40 and 0x80.
        for t in [0x40u8, 0x80] {
            let mut p = query(&[b"a"], 0, &[]);
            p[HEADER_LEN] = t | 1;
            assert!(parse_query(&p).is_none());
        }
        let ok = query(&[b"a", b"test"], 0, &[]);
        // QR=1, opcode NOTIFY, QDCOUNT 0 and 2, ANCOUNT, NSCOUNT.
        for (i, v) in [(2, 0x81u8), (2, 0x20), (5, 0), (5, 2), (7, 1), (9, 1)] {
            let mut p = ok.clone();
            p[i] = v;
            assert!(parse_query(&p).is_none(), "byte {i} = {v:#x}");
        }
        // Class CH and ANY.
        for c in [3u8, 255] {
            let mut p = ok.clone();
            let n = p.len();
            p[n - 1] = c;
            assert!(parse_query(&p).is_none());
        }
        // Trailing garbage.
        let mut p = ok.clone();
        p.push(0);
        assert!(parse_query(&p).is_none());
        // Flags hickory ignores in a query are accepted.
        let mut p = ok.clone();
        p[2] |= 0x06;
        p[3] = 0xff;
        let q = parse_query(&p).unwrap();
        assert!(q.checking_disabled());
        agrees_with_hickory(&p);
    }

    #[test]
    fn empty_and_truncated() {
        assert!(parse_query(&[]).is_none());
        let ok = query(&[b"4", b"3", b"2", b"1", b"zone"], 1, &OPT);
        assert!(parse_query(&ok).is_some());
        for len in 0..ok.len() {
            assert!(parse_query(&ok[..len]).is_none(), "truncated at {len}");
        }
        // A label running past the end of the packet.
        let mut p = query(&[b"abc"], 0, &[]);
        p.truncate(HEADER_LEN + 2);
        assert!(parse_query(&p).is_none());
    }
}
