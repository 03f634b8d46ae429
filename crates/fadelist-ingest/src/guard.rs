//! Guards around `mail-parser` for hostile input.
//!
//! `mail-parser` is tolerant and iterative, with two exceptions that a
//! hostile message can reach:
//!
//! - an embedded `message/rfc822` (or `message/global`) part becomes a nested
//!   `Message` value. Nesting depth is only limited by the input size, and
//!   dropping such a value recurses once per level: 10,000 levels (440 KB)
//!   overflow a 2 MiB stack;
//! - a base64 or quoted-printable encoded embedded message is parsed
//!   recursively and then copied with `into_owned()`, which recurses again
//!   and copies the whole decoded buffer once per nesting level of its
//!   content (quadratic memory).
//!
//! So mail-parser is never allowed to see an embedded message. Before parsing,
//! [`prepare`] finds every header field that mail-parser would read as a
//! `Content-Type` of `message/rfc822`, `message/global` or
//! `multipart/digest` (whose untyped children default to messages) and
//! rewrites one byte of it in a private copy:
//!
//! - `message/rfc822` becomes `message/xfc822` (`message/global` becomes
//!   `message/xlobal`): mail-parser keeps the part as opaque, transfer-decoded
//!   bytes and [`crate::mime`] parses them itself, one level at a time, with
//!   an explicit depth limit;
//! - `multipart/digest` becomes `xultipart/digest`: the digest is kept as
//!   opaque bytes and reported in a warning (digests are not a reporting
//!   format; treating their children as text would mistake relay host names
//!   in their headers for advertised domains).
//!
//! A third hazard is time: for every `multipart/*` field, mail-parser scans
//! forward for `--boundary` and, when it is missing, rewinds and goes on.
//! 100,000 multipart fields whose boundaries never appear cost 100,000
//! scans to the end of the message (quadratic: minutes for 10 MB). So a
//! multipart field is also neutralised (`multipart` becomes `xultipart`,
//! leaving the part opaque) when its delimiter does not occur after the
//! field, or when it is past the first [`MAX_MULTIPARTS`] of the message;
//! both are reported as warnings.
//!
//! The search is deliberately a superset of what mail-parser reads: every
//! `:` whose preceding non-blank bytes on the line spell `content-type`
//! (mail-parser ignores blanks inside header names) is examined, and its
//! value is classified with mail-parser's own `Content-Type` parser, so the
//! two can never disagree about a field. Rewriting a look-alike in a body is
//! harmless: only the private copy used for structure is changed, never the
//! bytes that are hashed.
//!
//! [`parse`] then runs mail-parser under `catch_unwind`, because its
//! `debug_assert!`s and any unknown bug must not take the server down.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, Message, MessageParser};

use crate::Warnings;

/// Subtype written over `rfc822` / `global` by [`prepare`].
pub(crate) const NEUTRAL_MESSAGE_SUBTYPES: [&str; 2] = ["xfc822", "xlobal"];

/// Multipart fields per (embedded) message whose boundary is searched for
/// and kept; later ones are neutralised. Real mail has a handful.
pub(crate) const MAX_MULTIPARTS: usize = 64;

/// How far past a `Content-Type:` colon the value may reach and still be
/// classified. Type and subtype come first; only parameters can be longer.
const VALUE_WINDOW: usize = 64 * 1024;

/// Strips what commonly precedes a message in an upload: leading blank
/// lines and an mbox `From ` separator line.
pub(crate) fn strip_preamble(raw: &[u8]) -> &[u8] {
    let mut raw = raw;
    while let [b'\r' | b'\n', rest @ ..] = raw {
        raw = rest;
    }
    if raw.starts_with(b"From ") {
        // mbox separator: `From sender@example asctime-date`.
        if let Some(nl) = raw.iter().position(|&b| b == b'\n') {
            raw = &raw[nl + 1..];
        }
    }
    raw
}

/// Checks that `raw` begins like a header block: a field name, then `:`.
/// RFC 5322 (section 3.6.8) allows any printable ASCII in names; we accept
/// the token characters of RFC 9110 (section 5.6.2), which every real
/// header uses and which JSON, HTML or binary data do not start with.
pub(crate) fn check_header_start(raw: &[u8]) -> Result<(), String> {
    if raw.is_empty() {
        return Err("empty input".into());
    }
    let line_end = raw
        .iter()
        .take(1000)
        .position(|&b| b == b'\n')
        .unwrap_or(raw.len().min(1000));
    let line = &raw[..line_end];
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err("first line is not a header field (no colon)".into());
    };
    let name = &line[..colon];
    // Tolerate blanks between the name and the colon (obsolete syntax,
    // RFC 5322 section 4.5), not inside it.
    let name = name.trim_ascii_end();
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err("first line is not a header field (invalid field name)".into());
    }
    Ok(())
}

/// Result of [`prepare`]: the bytes to hand to mail-parser.
pub(crate) struct Prepared<'a> {
    /// `raw` itself, or a copy with neutralised `Content-Type` fields.
    pub bytes: Cow<'a, [u8]>,
}

/// Neutralises embedded-message, digest and hazardous multipart content
/// types (see the module documentation). Linear in `raw.len()`, plus at
/// most [`MAX_MULTIPARTS`] boundary searches.
pub(crate) fn prepare<'a>(raw: &'a [u8], warnings: &mut Warnings) -> Prepared<'a> {
    let mut out: Cow<'_, [u8]> = Cow::Borrowed(raw);
    let (mut multiparts, mut missing, mut over) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while let Some(off) = raw.get(i..).and_then(|r| memchr::memchr(b':', r)) {
        let colon = i + off;
        i = colon + 1;
        let Some(name_start) = content_type_name_before(raw, colon) else {
            continue;
        };
        let value_end = field_end(raw, colon + 1);
        let kind = match classify(&raw[colon + 1..value_end]) {
            None => continue,
            Some(Kind::Multipart(boundary)) => {
                multiparts += 1;
                if multiparts > MAX_MULTIPARTS {
                    over += 1;
                } else if boundary.is_empty() || delimiter_follows(raw, value_end, &boundary) {
                    // mail-parser's seek will succeed (or, for an empty
                    // boundary, not even start).
                    continue;
                } else {
                    missing += 1;
                }
                Kind::Multipart(boundary)
            }
            Some(kind) => kind,
        };
        neutralise(out.to_mut(), name_start, colon, value_end, &kind);
    }
    if missing > 0 {
        warnings.push(format!(
            "{missing} multipart part(s) whose boundary never occurs were left unparsed"
        ));
    }
    if over > 0 {
        warnings.push(format!(
            "{over} multipart part(s) beyond the first {MAX_MULTIPARTS} were left unparsed"
        ));
    }
    Prepared { bytes: out }
}

/// True when `--boundary` occurs after `from` (mail-parser looks for it
/// anywhere, not only at the start of a line).
fn delimiter_follows(raw: &[u8], from: usize, boundary: &str) -> bool {
    let mut needle = Vec::with_capacity(boundary.len() + 2);
    needle.extend_from_slice(b"--");
    needle.extend_from_slice(boundary.as_bytes());
    raw.get(from..)
        .is_some_and(|rest| memchr::memmem::find(rest, &needle).is_some())
}

/// End of the header field whose value starts at `start`: the first `\n`
/// not followed by a blank (mail-parser's unfolding rule), capped at
/// [`VALUE_WINDOW`] bytes.
fn field_end(raw: &[u8], start: usize) -> usize {
    let limit = raw.len().min(start.saturating_add(VALUE_WINDOW));
    let mut i = start;
    while i < limit {
        if raw[i] == b'\n' && !matches!(raw.get(i + 1), Some(b' ' | b'\t')) {
            return i + 1;
        }
        i += 1;
    }
    limit
}

/// Which hazardous content type a value declares.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Kind {
    Message,
    Digest,
    /// Any other `multipart/*`, with its boundary parameter.
    Multipart(String),
}

/// Classifies a `Content-Type` value exactly as mail-parser does (same
/// parser, same comparisons as its `mime_type()`).
fn classify(value: &[u8]) -> Option<Kind> {
    let parsed = MessageStream::new(value).parse_content_type();
    let HeaderValue::ContentType(ct) = parsed else {
        return None;
    };
    match (ct.ctype(), ct.subtype()) {
        ("message", Some("rfc822" | "global")) => Some(Kind::Message),
        ("multipart", Some("digest")) => Some(Kind::Digest),
        // mail-parser only seeks when there is a boundary parameter.
        ("multipart", _) => ct
            .attribute("boundary")
            .map(|b| Kind::Multipart(b.to_string())),
        _ => None,
    }
}

/// If the non-blank bytes just before `colon` on its line end in
/// `content-type` (case-insensitive, blanks ignored, as mail-parser reads
/// names), returns the offset of that `c`.
fn content_type_name_before(raw: &[u8], colon: usize) -> Option<usize> {
    const NAME: &[u8] = b"content-type";
    let mut want = NAME.len();
    let mut pos = colon;
    while want > 0 {
        pos = pos.checked_sub(1)?;
        let b = raw[pos];
        if b == b'\n' {
            return None;
        }
        if b.is_ascii_whitespace() {
            continue;
        }
        want -= 1;
        if !b.eq_ignore_ascii_case(&NAME[want]) {
            return None;
        }
    }
    Some(pos)
}

/// Rewrites one byte so that the field no longer declares `kind`, then
/// re-classifies to make sure. Falls back to breaking the field name, which
/// always works: mail-parser then ignores the field entirely.
fn neutralise(buf: &mut [u8], name_start: usize, colon: usize, value_end: usize, kind: &Kind) {
    let token: &[u8] = match kind {
        Kind::Message => b"/",
        Kind::Digest | Kind::Multipart(_) => b"multipart",
    };
    // For messages, rewrite the first letter after the first '/' that is
    // followed by `rfc822` or `global`; for digests, the first `multipart`.
    for _attempt in 0..4 {
        let Some(at) = find_target(&buf[colon + 1..value_end], kind, token) else {
            break;
        };
        let at = colon + 1 + at;
        buf[at] = if buf[at].is_ascii_uppercase() {
            b'X'
        } else {
            b'x'
        };
        if classify(&buf[colon + 1..value_end]).is_none() {
            return;
        }
    }
    buf[name_start] = b'x';
}

/// Offset (within `value`) of the byte to overwrite, if a literal form of
/// the dangerous type is present.
fn find_target(value: &[u8], kind: &Kind, token: &[u8]) -> Option<usize> {
    match kind {
        Kind::Digest | Kind::Multipart(_) => find_ci(value, token),
        Kind::Message => {
            let mut from = 0;
            while let Some(slash) = value.get(from..).and_then(|v| find_ci(v, token)) {
                let sub = from + slash + 1;
                let rest = value.get(sub..).unwrap_or_default();
                let rest = &rest[rest.len() - rest.trim_ascii_start().len()..];
                let skipped = value.len() - sub - rest.len();
                if rest.len() >= 6
                    && (rest[..6].eq_ignore_ascii_case(b"rfc822")
                        || rest[..6].eq_ignore_ascii_case(b"global"))
                {
                    return Some(sub + skipped);
                }
                from = sub;
            }
            None
        }
    }
}

/// Case-insensitive substring search (short needles only).
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

/// Parses prepared bytes with mail-parser, turning a panic into `None`.
/// Returns `None` as well when no header was found, and never returns a
/// message without parts (so `parts[0]` accessors are safe).
pub(crate) fn parse<'a>(prepared: &'a Prepared<'_>) -> Result<Message<'a>, &'static str> {
    let bytes: &'a [u8] = prepared.bytes.as_ref();
    match catch_unwind(AssertUnwindSafe(|| MessageParser::default().parse(bytes))) {
        Ok(Some(msg)) if !msg.parts.is_empty() => Ok(msg),
        Ok(_) => Err("no header block found"),
        Err(_) => Err("the MIME parser failed on this input"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MimeHeaders, PartType};

    fn prep(s: &str) -> String {
        String::from_utf8(
            prepare(s.as_bytes(), &mut Warnings::default())
                .bytes
                .into_owned(),
        )
        .unwrap()
    }

    #[test]
    fn preamble_is_stripped() {
        assert_eq!(strip_preamble(b"\r\n\nSubject: x\n"), b"Subject: x\n");
        assert_eq!(
            strip_preamble(b"From a@b.example Thu Jan  1 00:00:00 2026\nSubject: x\n"),
            b"Subject: x\n"
        );
        assert_eq!(
            strip_preamble(b"From: a@b.example\n"),
            b"From: a@b.example\n"
        );
    }

    #[test]
    fn header_start_check() {
        assert!(check_header_start(b"Subject: x\n\nbody").is_ok());
        assert!(check_header_start(b"Subject : x\n\nbody").is_ok());
        assert!(check_header_start(b"").is_err());
        assert!(check_header_start(b"hello world\n").is_err());
        assert!(check_header_start(b"no colon here: really\n").is_err());
        assert!(check_header_start(b"\x00\x01\x02:\n").is_err());
        assert!(check_header_start(b":x\n").is_err());
        assert!(check_header_start(b"{\"json\": 1}").is_err());
        assert!(check_header_start(b"<html>: x\n").is_err());
        assert!(check_header_start(b"X-Weird_Name.v2: x\n").is_ok());
    }

    #[test]
    fn embedded_message_types_are_neutralised() {
        assert_eq!(
            prep("Content-Type: message/rfc822\n\n"),
            "Content-Type: message/xfc822\n\n"
        );
        assert_eq!(
            prep("content-type:MESSAGE/RFC822; x=1\n"),
            "content-type:MESSAGE/XFC822; x=1\n"
        );
        assert_eq!(
            prep("Content-Type: message/global\n"),
            "Content-Type: message/xlobal\n"
        );
        assert_eq!(
            prep("Content-Type: multipart/digest; boundary=b\n"),
            "Content-Type: xultipart/digest; boundary=b\n"
        );
        // Blanks inside the name and after the slash.
        assert_eq!(
            prep("Content - Type : message/ rfc822\n"),
            "Content - Type : message/ xfc822\n"
        );
        // A comment hides the subtype from the byte search: the field name
        // is broken instead, and mail-parser ignores the field.
        assert_eq!(
            prep("Content-Type: message/(c)rfc822\n"),
            "xontent-Type: message/(c)rfc822\n"
        );
        // mail-parser reads a folded subtype as no subtype: left alone.
        assert_eq!(
            prep("Content-Type: message/\n rfc822\n"),
            "Content-Type: message/\n rfc822\n"
        );
        // Other types are left alone, and no copy is made.
        let raw = "Content-Type: message/delivery-status\nContent-Type: text/plain\n";
        assert!(matches!(
            prepare(raw.as_bytes(), &mut Warnings::default()).bytes,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn multipart_without_a_following_delimiter_is_neutralised() {
        let mut w = Warnings::default();
        let raw = "Content-Type: multipart/mixed; boundary=\"gone\"\n\nno delimiter\n";
        let out = prepare(raw.as_bytes(), &mut w).bytes.into_owned();
        assert!(out.starts_with(b"Content-Type: xultipart/mixed"));
        assert!(!w.is_empty());
        // A delimiter *before* the field does not count: mail-parser seeks
        // forward only.
        let raw = "X: --b\nContent-Type: multipart/mixed; boundary=b\n\n";
        let out = prepare(raw.as_bytes(), &mut w).bytes.into_owned();
        assert!(String::from_utf8(out).unwrap().contains("xultipart"));
        // Present: untouched.
        let raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n";
        assert!(matches!(
            prepare(raw.as_bytes(), &mut w).bytes,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn multiparts_beyond_the_cap_are_neutralised() {
        let mut raw = String::new();
        for _ in 0..MAX_MULTIPARTS + 3 {
            raw.push_str("Content-Type: multipart/mixed; boundary=b\n--b\n");
        }
        let mut w = Warnings::default();
        let out = String::from_utf8(prepare(raw.as_bytes(), &mut w).bytes.into_owned()).unwrap();
        assert_eq!(out.matches("xultipart").count(), 3);
        assert!(!w.is_empty());
    }

    #[test]
    fn mail_parser_sees_no_nested_message_after_prepare() {
        let raw = "Subject: outer\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
                   Content-Type: message/rfc822\n\nSubject: inner\n\nhi\n--b--\n";
        let p = prepare(raw.as_bytes(), &mut Warnings::default());
        let msg = parse(&p).unwrap();
        assert!(
            !msg.parts
                .iter()
                .any(|p| matches!(p.body, PartType::Message(_)))
        );
        let part = msg
            .parts
            .iter()
            .find(|p| p.content_type().is_some_and(|c| c.ctype() == "message"))
            .unwrap();
        assert_eq!(part.content_type().unwrap().subtype(), Some("xfc822"));
        assert!(matches!(&part.body, PartType::Binary(b) if b.starts_with(b"Subject: inner")));
    }

    #[test]
    fn base64_embedded_message_is_decoded_not_recursed() {
        // "Subject: inner\n\nhi\n" in base64.
        let raw = "Subject: outer\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
                   Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n\
                   U3ViamVjdDogaW5uZXIKCmhpCg==\n--b--\n";
        let p = prepare(raw.as_bytes(), &mut Warnings::default());
        let msg = parse(&p).unwrap();
        let bin = msg.parts.iter().find_map(|p| match &p.body {
            PartType::Binary(b) => Some(b.clone()),
            _ => None,
        });
        assert_eq!(bin.as_deref(), Some(&b"Subject: inner\n\nhi\n"[..]));
    }

    #[test]
    fn deep_nesting_parses_flat() {
        let mut raw = String::new();
        for _ in 0..20_000 {
            raw.push_str("Subject: x\nContent-Type: message/rfc822\n\n");
        }
        raw.push_str("Subject: inner\n\nhello\n");
        let p = prepare(raw.as_bytes(), &mut Warnings::default());
        let msg = parse(&p).unwrap();
        assert!(msg.parts.len() <= 2);
    }
}
