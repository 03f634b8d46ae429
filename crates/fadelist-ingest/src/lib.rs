//! `fadelist-ingest`: a reported raw e-mail in, the evidence a DNSBL scores
//! out.
//!
//! [`extract`] is pure and synchronous: no I/O, no clock, no global state.
//! It finds
//! - the message to analyse: the message itself, the original inside an ARF
//!   report (RFC 5965), or a spam the reporter forwarded as a
//!   `message/rfc822` attachment;
//! - the source IP: the first untrusted public hop of the `Received` chain
//!   ([`received`]);
//! - the registered domains and IP literals advertised in its bodies
//!   ([`uris`]);
//! - whether it is bulk mail (newsletter, ESP) ([`bulk`]);
//! - a Message-ID and body hash to de-duplicate repeated reports.
//!
//! Reference lists, public so that operators and docs can show them:
//! [`uris::BUILTIN_NEVER_LIST`] (domains never reported),
//! [`bulk::ESP_HEADERS`] and [`bulk::BULK_MAILERS`] (ESP fingerprints), and
//! the special-purpose address table behind [`special::special_purpose`].
//! Keys never listed: [`protected`] (resolvers, popular sites, redirectors).
//!
//! Hostile input is expected (the input is spam, and reporters can be
//! malicious): `extract` never panics (the third-party parsers run under
//! `catch_unwind` as a last resort), never recurses deeper than the MIME
//! depth limit, and makes a bounded number of linear passes over the input
//! (capped at [`ExtractOptions::max_message_bytes`]): embedded messages are
//! re-parsed at most once per nesting level (10), and at most 64 multipart
//! boundaries are searched per message. Mail-parser is shielded from the
//! inputs that make it recurse or go quadratic by a pre-pass described in
//! the private `guard` module. Limits that trim the analysis (MIME depth
//! and part count, multipart count, URL candidates, header and hop counts)
//! produce partial results plus a [`Extraction::warnings`] entry rather
//! than an error.

use std::net::IpAddr;

use ipnet::IpNet;
use mail_parser::Message;

pub mod arf;
pub mod bulk;
mod guard;
mod mime;
pub mod protected;
pub mod received;
pub mod special;
pub mod uris;

pub use arf::{ArfInfo, ArfOriginal};
pub use bulk::{BulkSignal, BulkVerdict};
pub use received::{Hop, HopVerdict, NoSource, SourceIp};
pub use uris::{DomainHit, FoundIn, SkipReason};

/// Longest Subject and Message-ID kept (RFC 5322's line limit).
const MAX_HEADER_TEXT: usize = 998;
/// Most warnings kept; the rest are counted in a final one.
const MAX_WARNINGS: usize = 64;

/// What the operator and the reporter tell the extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractOptions {
    /// The reporter's own MX, filter and forwarder networks: `Received`
    /// hops from these are skipped (SpamCop's "mailhosts").
    pub trusted: Vec<IpNet>,
    /// Registered domains never to report, on top of
    /// [`uris::BUILTIN_NEVER_LIST`]. Compared with the registered domain
    /// exactly (`example.co.uk`, not `www.example.co.uk`).
    pub never_list_domains: Vec<String>,
    /// Most distinct domains (and, separately, IP literals) kept per
    /// message; the rest are reported as [`SkipReason::OverCap`].
    pub max_domains: usize,
    /// Larger inputs are refused with [`ExtractError::TooLarge`].
    pub max_message_bytes: usize,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            trusted: Vec::new(),
            never_list_domains: Vec::new(),
            max_domains: 50,
            max_message_bytes: 10 * 1024 * 1024,
        }
    }
}

/// Everything extracted from one reported message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extraction {
    /// Set when the upload was an ARF feedback report; the other fields
    /// then describe the original message it carries.
    pub arf: Option<ArfInfo>,
    /// True when the upload was the reporter's own mail with the spam
    /// attached as `message/rfc822`, and the attachment was analysed. The
    /// rule: the upload is not ARF, has an attached message among its
    /// parts (the first one is taken), that attachment starts with a
    /// header block, and the upload verifiably came from the reporter's
    /// side: its own `Received` walk ends at an authenticated submission
    /// (`ESMTPSA`, webmail) as the source hop, or finds no untrusted hop at
    /// all after crossing a hop from the reporter's trusted networks.
    /// An upload from an untrusted network is a spam that merely *carries*
    /// a message (with forged headers): the upload itself is analysed. An
    /// upload that proves neither fails closed: the wrapper is analysed
    /// for its links, and the source is [`NoSource::UnverifiedForward`].
    pub forwarded_attachment: bool,
    /// `Message-ID` without the angle brackets.
    pub message_id: Option<String>,
    /// Decoded `Subject`.
    pub subject: Option<String>,
    /// `Date`, unix seconds, when present and valid. The sender writes
    /// it (and spammers forge it): shown as evidence, never used to judge
    /// the report's age; see [`Extraction::received_at`].
    pub date: Option<i64>,
    /// When the reporter's side received the message, unix seconds: the
    /// `Arrival-Date` of an ARF report, else the date of the topmost
    /// `Received` field written by the reporter's own systems
    /// ([`received::receipt_time`]). `None` when neither is there; the
    /// server then takes the report's arrival.
    pub received_at: Option<i64>,
    /// Hex BLAKE3 hash of the raw (transfer-encoded) body of the analysed
    /// message, line endings normalised to LF and trailing blank lines
    /// dropped. Empty-body hash for header-only originals. Use together
    /// with `message_id` to de-duplicate.
    pub body_hash: String,
    /// Every `Received` hop, top-down, with the walk's verdict.
    pub hops: Vec<Hop>,
    /// The source IP, or why there is none.
    pub source: Result<SourceIp, NoSource>,
    /// Registered domains advertised in the bodies, first seen first.
    pub domains: Vec<DomainHit>,
    /// Public IP addresses used as URL hosts (canonical form).
    pub ip_literals: Vec<IpAddr>,
    /// Hosts not kept, and why (never-list, over the cap, invalid).
    pub skipped_domains: Vec<(String, SkipReason)>,
    /// Newsletter / bulk verdict.
    pub bulk: BulkVerdict,
    /// What limited or degraded the analysis.
    pub warnings: Vec<String>,
}

/// Why nothing could be extracted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The input is larger than [`ExtractOptions::max_message_bytes`].
    #[error("message too large: {actual} bytes, limit {limit}")]
    TooLarge {
        /// The configured limit.
        limit: usize,
        /// The input size.
        actual: usize,
    },
    /// The input does not start with a header block (empty, binary, …).
    #[error("not an e-mail message: {0}")]
    NotAMessage(String),
}

/// Extracts the report from a raw message (see the crate documentation).
///
/// # Errors
///
/// [`ExtractError::TooLarge`] over the size limit, and
/// [`ExtractError::NotAMessage`] when there is no header block to work
/// with. Everything else yields an [`Extraction`], possibly partial, with
/// warnings.
pub fn extract(raw: &[u8], opts: &ExtractOptions) -> Result<Extraction, ExtractError> {
    if raw.len() > opts.max_message_bytes {
        return Err(ExtractError::TooLarge {
            limit: opts.max_message_bytes,
            actual: raw.len(),
        });
    }
    let raw = guard::strip_preamble(raw);
    guard::check_header_start(raw).map_err(ExtractError::NotAMessage)?;
    let mut warnings = Warnings::default();
    let prepared = guard::prepare(raw, &mut warnings);
    let top = guard::parse(&prepared).map_err(|e| ExtractError::NotAMessage(e.to_string()))?;

    let mut ctx = Ctx {
        opts,
        uris: uris::UriCollector::new(&opts.never_list_domains, opts.max_domains),
        warnings,
    };
    let mut arf_info = None;
    let mut forwarded = false;

    let analysis = if arf::is_arf(&top) {
        let mut info = arf::read_report(&top).unwrap_or_else(|| {
            ctx.warnings
                .push("ARF report without a message/feedback-report part".into());
            ArfInfo::default()
        });
        let embedded = top
            .parts
            .iter()
            .find(|p| mime::is_embedded_message(p))
            .and_then(|p| mime::part_bytes(p, raw));
        let headers = top
            .parts
            .iter()
            .find(|p| mime::is_headers_part(p))
            .and_then(|p| mime::part_bytes(p, raw));
        let analysis = if let Some(a) = embedded.and_then(|b| analyse_bytes(b, false, &mut ctx)) {
            info.original = ArfOriginal::Message;
            Some(a)
        } else if let Some(a) = headers.and_then(|b| analyse_bytes(b, true, &mut ctx)) {
            info.original = ArfOriginal::HeadersOnly;
            Some(a)
        } else {
            ctx.warnings
                .push("ARF report without a readable original message".into());
            None
        };
        arf_info = Some(info);
        analysis
    } else {
        let (embedded, count) = mime::first_embedded(&top, raw);
        let mut analysis = None;
        let mut unverified = false;
        if let Some(bytes) = embedded {
            match wrapper_origin(&top, opts) {
                Origin::Reporter => {
                    analysis = analyse_bytes(bytes, false, &mut ctx);
                    forwarded = analysis.is_some();
                    if forwarded && count > 1 {
                        ctx.warnings.push(format!(
                            "{count} attached messages; only the first was analysed"
                        ));
                    }
                }
                Origin::Internet => {}
                Origin::Unverified => unverified = true,
            }
        }
        match analysis {
            Some(a) => Some(a),
            None => {
                let mut a = analyse(&top, raw, false, &mut ctx);
                if unverified {
                    ctx.warnings.push(
                        "attached message not analysed: the upload did not come through the \
                         reporter's trusted networks or an authenticated submission"
                            .into(),
                    );
                    a.source = Err(NoSource::UnverifiedForward);
                }
                Some(a)
            }
        }
    };

    let analysis = analysis.unwrap_or_else(|| Analysis {
        message_id: None,
        subject: None,
        date: None,
        received_at: None,
        body_hash: mime::body_hash(b""),
        hops: Vec::new(),
        source: Err(NoSource::NoOriginalMessage),
        bulk: BulkVerdict::default(),
    });
    ctx.uris.finish(&mut ctx.warnings);
    // The ARF sender is the reporter: its Arrival-Date is its own word.
    let received_at = arf_info
        .as_ref()
        .and_then(|a| a.arrival_date)
        .or(analysis.received_at);
    Ok(Extraction {
        arf: arf_info,
        forwarded_attachment: forwarded,
        message_id: analysis.message_id,
        subject: analysis.subject,
        date: analysis.date,
        received_at,
        body_hash: analysis.body_hash,
        hops: analysis.hops,
        source: analysis.source,
        domains: ctx.uris.domains,
        ip_literals: ctx.uris.ip_literals,
        skipped_domains: ctx.uris.skipped,
        bulk: analysis.bulk,
        warnings: ctx.warnings.finish(),
    })
}

/// State shared by the analysis of one upload.
struct Ctx<'o> {
    opts: &'o ExtractOptions,
    uris: uris::UriCollector,
    warnings: Warnings,
}

/// Header-derived results for the analysed message.
struct Analysis {
    message_id: Option<String>,
    subject: Option<String>,
    date: Option<i64>,
    received_at: Option<i64>,
    body_hash: String,
    hops: Vec<Hop>,
    source: Result<SourceIp, NoSource>,
    bulk: BulkVerdict,
}

/// Where an upload that carries a message came from.
enum Origin {
    /// Verifiably the reporter's side: analyse the attachment.
    Reporter,
    /// An untrusted network: the upload is the spam.
    Internet,
    /// Neither can be shown: fail closed.
    Unverified,
}

/// Where the upload `top` came from (see
/// [`Extraction::forwarded_attachment`]).
fn wrapper_origin(top: &Message<'_>, opts: &ExtractOptions) -> Origin {
    // The wrapper's own hops are not reported; warnings about them are
    // noise.
    let mut scratch = Warnings::default();
    let (hops, source) = received::walk(top, &opts.trusted, &mut scratch);
    // A hop from the configured networks, not mere loopback: anyone's
    // headers can claim 127.0.0.1.
    let crossed_trusted = hops.iter().any(|h| {
        h.verdict == HopVerdict::Trusted
            && h.ip
                .is_some_and(|ip| opts.trusted.iter().any(|n| n.contains(&ip)))
    });
    match source {
        Ok(s) if hops.get(s.hop_index).is_some_and(|h| h.authenticated) => Origin::Reporter,
        Ok(_) => Origin::Internet,
        Err(NoSource::AllTrusted) if crossed_trusted => Origin::Reporter,
        Err(_) => Origin::Unverified,
    }
}

/// Parses `bytes` as a message of its own and analyses it; `None` when they
/// do not start with a header block.
fn analyse_bytes(bytes: &[u8], headers_only: bool, ctx: &mut Ctx<'_>) -> Option<Analysis> {
    let bytes = guard::strip_preamble(bytes);
    guard::check_header_start(bytes).ok()?;
    let prepared = guard::prepare(bytes, &mut ctx.warnings);
    let msg = guard::parse(&prepared).ok()?;
    Some(analyse(&msg, bytes, headers_only, ctx))
}

/// Analyses one parsed message; `orig` holds its untouched bytes.
fn analyse(msg: &Message<'_>, orig: &[u8], headers_only: bool, ctx: &mut Ctx<'_>) -> Analysis {
    let root = msg.parts.first();
    let header_count = root.map_or(0, |r| r.headers.len());
    if header_count > bulk::MAX_HEADERS {
        ctx.warnings.push(format!(
            "{header_count} header fields; only the first {} were examined for bulk signals",
            bulk::MAX_HEADERS
        ));
    }
    let body_start = root.map_or(orig.len(), |r| r.offset_body as usize);
    let body = if headers_only {
        &[][..]
    } else {
        orig.get(body_start..).unwrap_or_default()
    };
    if !headers_only
        && body_start >= orig.len()
        && !orig.ends_with(b"\n\n")
        && !orig.ends_with(b"\r\n\r\n")
    {
        ctx.warnings
            .push("header block not terminated by an empty line (truncated message?)".into());
    }
    let (hops, source) = received::walk(msg, &ctx.opts.trusted, &mut ctx.warnings);
    if !headers_only {
        mime::collect_bodies(msg, orig, 0, &mut ctx.uris, &mut ctx.warnings);
    }
    Analysis {
        message_id: mime::owned_clip(
            msg.message_id(),
            MAX_HEADER_TEXT,
            "Message-ID",
            &mut ctx.warnings,
        ),
        subject: mime::owned_clip(msg.subject(), MAX_HEADER_TEXT, "Subject", &mut ctx.warnings),
        date: msg
            .date()
            .filter(|d| d.is_valid())
            .map(mail_parser::DateTime::to_timestamp),
        received_at: received::receipt_time(&hops, &source),
        body_hash: mime::body_hash(body),
        hops,
        source,
        bulk: bulk::verdict(msg),
    }
}

/// De-duplicated, capped list of warnings.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    list: Vec<String>,
    dropped: usize,
}

impl Warnings {
    pub(crate) fn push(&mut self, w: String) {
        if self.list.contains(&w) {
            return;
        }
        if self.list.len() >= MAX_WARNINGS {
            self.dropped += 1;
            return;
        }
        self.list.push(w);
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.list
                .push(format!("{} more warnings not shown", self.dropped));
        }
        self.list
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
