//! Walking the MIME structure: choosing the message to analyse and feeding
//! its bodies to the URI collector, within depth and part limits.
//!
//! Embedded messages reach us as opaque bytes (see [`crate::guard`]); this
//! module parses them itself, one level at a time, so the nesting limit is
//! ours: at most [`MAX_DEPTH`] levels of multipart or message nesting are
//! looked into, and deeper parts are skipped with a warning.

use std::collections::HashSet;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use crate::guard::{self, NEUTRAL_MESSAGE_SUBTYPES};
use crate::uris::UriCollector;
use crate::{Warnings, clip};

/// Deepest multipart/message nesting level that is still analysed.
pub(crate) const MAX_DEPTH: usize = 10;
/// At most this many MIME parts are examined per (embedded) message.
pub(crate) const MAX_PARTS: usize = 1000;

/// True for a part that declared `message/rfc822` or `message/global`
/// (neutralised by [`guard::prepare`]).
pub(crate) fn is_embedded_message(part: &MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("message")
            && ct.subtype().is_some_and(|s| {
                NEUTRAL_MESSAGE_SUBTYPES
                    .iter()
                    .any(|n| s.eq_ignore_ascii_case(n))
            })
    })
}

/// True for `text/rfc822-headers` (RFC 6522) and its `message/` variant.
pub(crate) fn is_headers_part(part: &MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        matches!(ct.ctype(), "text" | "message")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
    })
}

/// True for a neutralised `multipart/digest`.
fn is_neutralised_digest(part: &MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("xultipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("digest"))
    })
}

/// The bytes of a leaf part as they should be re-parsed or hashed: the
/// untouched original slice when the part was not transfer-encoded (the
/// parsed copy may carry [`guard::prepare`]'s rewrites), else the decoded
/// bytes.
pub(crate) fn part_bytes<'a>(part: &'a MessagePart<'a>, orig: &'a [u8]) -> Option<&'a [u8]> {
    let decoded: &[u8] = match &part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => b,
        PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
        _ => return None,
    };
    if part.encoding == Encoding::None
        && let Some(raw) = orig.get(part.offset_body as usize..part.offset_end as usize)
        && raw.len() == decoded.len()
    {
        return Some(raw);
    }
    Some(decoded)
}

/// Finds the embedded messages among the parts of `msg` (not inside them):
/// the bytes of the first one and how many there are.
pub(crate) fn first_embedded<'a>(
    msg: &'a Message<'a>,
    orig: &'a [u8],
) -> (Option<&'a [u8]>, usize) {
    let mut it = msg
        .parts
        .iter()
        .take(MAX_PARTS)
        .filter(|p| is_embedded_message(p));
    let first = it.next().and_then(|p| part_bytes(p, orig));
    let count = usize::from(first.is_some()) + it.count();
    (first, count)
}

/// Hex BLAKE3 hash of a message body, with line endings normalised to LF
/// and trailing blank lines removed, so that the same spam uploaded raw,
/// with CRLF, or forwarded as an attachment hashes the same. (BLAKE3 rather
/// than SHA-256: on CPUs without SHA extensions SHA-256 was a tenth of the
/// CPU spent per report; BLAKE3 uses the vector units.)
pub(crate) fn body_hash(body: &[u8]) -> String {
    let end = body.len()
        - body
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    let body = &body[..end];
    // Hash the LF-normalised body in one piece: BLAKE3 hashes large inputs
    // many blocks at a time (SIMD), but one block at a time when fed line
    // by line. The digest does not depend on how the input is split.
    let mut normalised = Vec::with_capacity(body.len());
    let mut start = 0;
    for i in memchr::memmem::find_iter(body, b"\r\n") {
        normalised.extend_from_slice(&body[start..i]);
        start = i + 1;
    }
    normalised.extend_from_slice(&body[start..]);
    let mut h = blake3::Hasher::new();
    h.update(&normalised);
    h.finalize().to_hex().to_string()
}

/// Feeds every text and HTML body of `msg` (and of the messages embedded in
/// it, recursively) to `uris`. `depth` is the nesting level of `msg`.
pub(crate) fn collect_bodies(
    msg: &Message<'_>,
    orig: &[u8],
    depth: usize,
    uris: &mut UriCollector,
    warnings: &mut Warnings,
) {
    let parts = &msg.parts;
    if parts.len() > MAX_PARTS {
        warnings.push(format!(
            "{} MIME parts; only the first {MAX_PARTS} were examined",
            parts.len()
        ));
    }
    // Parents come before their children in mail-parser's flat list, so one
    // forward pass gives every part its multipart nesting level.
    let n = parts.len().min(MAX_PARTS);
    let mut level = vec![0usize; n];
    let mut closers: Option<HashSet<Vec<u8>>> = None;
    for (i, part) in parts.iter().take(n).enumerate() {
        if uris.full() {
            break;
        }
        let d = depth + level[i];
        if let PartType::Multipart(children) = &part.body {
            // Propagate even below the limit, so that the children of a
            // container that is too deep are skipped too.
            let child_level = level[i] + 1;
            for &c in children {
                if let Some(l) = level.get_mut(c as usize).filter(|_| c as usize > i) {
                    *l = child_level;
                }
            }
        }
        if d > MAX_DEPTH {
            warnings.push(format!(
                "MIME depth limit ({MAX_DEPTH}) reached; deeper parts ignored"
            ));
            continue;
        }
        if let PartType::Multipart(_) = &part.body {
            check_boundary(part, &msg.raw_message, &mut closers, warnings);
            continue;
        }
        check_part(i, part, warnings);
        match &part.body {
            PartType::Text(t) if !is_headers_part(part) => uris.scan_text(t),
            PartType::Html(h) => uris.scan_html(h, warnings),
            PartType::Binary(_) | PartType::InlineBinary(_) if is_embedded_message(part) => {
                if d + 1 > MAX_DEPTH {
                    warnings.push(format!(
                        "MIME depth limit ({MAX_DEPTH}) reached; deeper parts ignored"
                    ));
                    continue;
                }
                let Some(bytes) = part_bytes(part, orig) else {
                    continue;
                };
                let prepared = guard::prepare(bytes, warnings);
                match guard::parse(&prepared) {
                    Ok(inner) => collect_bodies(&inner, bytes, d + 1, uris, warnings),
                    Err(e) => warnings.push(format!("embedded message in part {i}: {e}")),
                }
            }
            _ if is_neutralised_digest(part) => {
                warnings.push("multipart/digest part not analysed".into());
            }
            _ => {}
        }
    }
}

/// Warns about encoding problems and unknown charsets in a leaf part.
fn check_part(i: usize, part: &MessagePart<'_>, warnings: &mut Warnings) {
    let is_text = matches!(part.body, PartType::Text(_) | PartType::Html(_));
    if part.is_encoding_problem && !matches!(&part.body, PartType::Text(t) if t.is_empty()) {
        warnings.push(format!(
            "part {i}: malformed content (bad transfer encoding or broken MIME structure); raw text used"
        ));
    }
    if is_text
        && let Some(cs) = part.content_type().and_then(|ct| ct.attribute("charset"))
        && !is_utf8_name(cs)
        && charset_decoder(cs.as_bytes()).is_none()
    {
        let shown: String = clip(cs, 40).escape_debug().collect();
        warnings.push(format!(
            "part {i}: unknown charset \"{shown}\"; decoded as UTF-8 with replacement characters"
        ));
    }
}

/// mail-parser decodes UTF-8 natively and has no decoder entry for it.
fn is_utf8_name(cs: &str) -> bool {
    let folded: String = cs
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    folded.ends_with("utf8")
}

/// Warns when a multipart's closing delimiter `--boundary--` never appears.
fn check_boundary(
    part: &MessagePart<'_>,
    raw: &[u8],
    closers: &mut Option<HashSet<Vec<u8>>>,
    warnings: &mut Warnings,
) {
    let Some(boundary) = part.content_type().and_then(|ct| ct.attribute("boundary")) else {
        return;
    };
    let set = closers.get_or_insert_with(|| closing_lines(raw));
    let mut want = Vec::with_capacity(boundary.len() + 4);
    want.extend_from_slice(b"--");
    want.extend_from_slice(boundary.as_bytes());
    want.extend_from_slice(b"--");
    if !set.contains(&want) {
        let shown: String = clip(boundary, 70).escape_debug().collect();
        warnings.push(format!(
            "multipart boundary \"{shown}\" is never closed (truncated or broken MIME)"
        ));
    }
}

/// Every line that looks like a closing delimiter (`--…--`), trimmed.
/// One linear pass, bounded in count and line length.
fn closing_lines(raw: &[u8]) -> HashSet<Vec<u8>> {
    raw.split(|&b| b == b'\n')
        .map(|l| l.trim_ascii_end())
        .filter(|l| l.len() >= 4 && l.len() <= 200 && l.starts_with(b"--") && l.ends_with(b"--"))
        .take(10_000)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Decoded header text helper for subjects and ids: clipped, owned.
pub(crate) fn owned_clip(
    s: Option<&str>,
    max: usize,
    what: &str,
    warnings: &mut Warnings,
) -> Option<String> {
    let s = s?;
    if s.len() > max {
        warnings.push(format!("{what} truncated to {max} bytes"));
    }
    Some(clip(s, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_normalises_line_endings_and_trailing_blank_lines() {
        assert_eq!(body_hash(b"a\r\nb\r\n\r\n"), body_hash(b"a\nb"));
        assert_eq!(body_hash(b"a\nb\n"), body_hash(b"a\nb\n\n\n"));
        assert_ne!(body_hash(b"a\nb"), body_hash(b"a\n\nb"));
        assert_eq!(
            body_hash(b""), // the published BLAKE3 test vector of ""
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn utf8_names() {
        assert!(is_utf8_name("UTF-8"));
        assert!(is_utf8_name("utf8"));
        assert!(is_utf8_name("unicode-1-1-utf-8"));
        assert!(!is_utf8_name("iso-8859-1"));
    }
}
