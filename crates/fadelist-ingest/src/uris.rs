//! Finding advertised domains and IP-literal URLs in message bodies.
//!
//! Text parts go through `linkify` (URLs with a scheme, and scheme-less
//! `www.example.com` / `example.com/path`); HTML parts through `lol_html`
//! element handlers plus `linkify` over their text nodes. Every candidate is
//! normalised by the WHATWG parser of the `url` crate, which gives us, for
//! free, the browser's reading of what the spammer wrote: lower-cased host,
//! IDNA A-label for Unicode hosts, percent-decoded hosts (`%65vil.org`),
//! backslashes as slashes (`http:\\evil.org\`), `user@host` userinfo
//! (`http://paypal.com@evil.org/` is `evil.org`) and numeric IPv4 forms
//! (`http://0x51.0x02.0x45.0x8e/`, `http://1359103374/`).
//!
//! Obfuscations handled on top of that:
//! - HTML character references in attributes and text (`&#46;`, `&#x2e;`,
//!   `&period;`, `&amp;`, …), which lol_html leaves encoded;
//! - invisible characters inside hosts and text (zero-width space/joiners,
//!   word joiner, BOM, soft hyphen);
//! - blanks and line breaks inside `href` values;
//! - protocol-relative (`//host/path`) and scheme-less `www.` hrefs;
//! - defanged URLs as pasted by abuse desks: `hxxp://`, `hxxps://`, `[.]`.
//!
//! Not handled: redirectors and URL shorteners are not followed (no network
//! I/O here), JavaScript-built URLs, text rendered in images, relative
//! links against `<base href>`.
//!
//! Domains are reduced to the registered domain with the public suffix list
//! (`psl`), SURBL style: `a.b.example.co.uk` is `example.co.uk`, and a
//! customer site under a private suffix (`foo.blogspot.com`) stays itself.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};

use linkify::{LinkFinder, LinkKind};
use lol_html::html_content::{Element, TextChunk};
use lol_html::{HtmlRewriter, MemorySettings, Settings, doc_text, element};
use url::{Host, Url};

use crate::special::{canonical, special_purpose};
use crate::{Warnings, clip};

/// URL candidates examined per message, all parts together.
pub(crate) const MAX_URL_CANDIDATES: usize = 10_000;
/// Longest URL candidate examined; longer ones are cut (the host is near
/// the start anyway).
const MAX_URL_LEN: usize = 2048;
/// Entries kept in [`crate::Extraction::skipped_domains`].
const MAX_SKIPPED: usize = 200;
/// Length of the example URL kept per domain.
const MAX_EXAMPLE_LEN: usize = 256;
/// lol_html buffer limit per HTML part (a single huge tag or attribute).
const HTML_MEMORY_LIMIT: usize = 4 * 1024 * 1024;
/// Size of the pieces an HTML part is fed to lol_html in.
const HTML_CHUNK: usize = 64 * 1024;

/// Where a domain or IP literal was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FoundIn {
    /// A URL with a scheme in a text part or in HTML text.
    Text,
    /// A scheme-less `www.example.com` or `example.com/path` in text.
    BareText,
    /// `<a href>` or `<area href>`.
    Href,
    /// `<img src>` or a `background` attribute.
    ImgSrc,
    /// `<form action>`.
    FormAction,
}

impl FoundIn {
    /// A stable tag for APIs: `text`, `bare-text`, `href`, `img-src`,
    /// `form-action`.
    pub fn tag(self) -> &'static str {
        match self {
            FoundIn::Text => "text",
            FoundIn::BareText => "bare-text",
            FoundIn::Href => "href",
            FoundIn::ImgSrc => "img-src",
            FoundIn::FormAction => "form-action",
        }
    }
}

impl std::fmt::Display for FoundIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.tag())
    }
}

impl SkipReason {
    /// A stable tag for APIs: `never-list`, `over-cap`, `invalid`,
    /// `special-purpose-ip`.
    pub fn tag(self) -> &'static str {
        match self {
            SkipReason::NeverList => "never-list",
            SkipReason::OverCap => "over-cap",
            SkipReason::Invalid(_) => "invalid",
            SkipReason::SpecialPurposeIp(_) => "special-purpose-ip",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::NeverList => {
                f.write_str("never listed (a big provider, or the operator's never-list)")
            }
            SkipReason::OverCap => f.write_str("more distinct hosts than the per-message cap"),
            SkipReason::Invalid(why) => write!(f, "not a listable host: {why}"),
            SkipReason::SpecialPurposeIp(why) => write!(f, "special-purpose address ({why})"),
        }
    }
}

/// One registered domain advertised in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainHit {
    /// Registered domain: public-suffix reduced, IDNA A-label, lower-case.
    pub domain: String,
    /// The first URL or host it was seen in (normalised, possibly cut).
    pub example: String,
    /// Where that first occurrence was.
    pub found_in: FoundIn,
    /// How many candidates reduced to this domain.
    pub count: usize,
}

/// Why a domain or IP literal was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// On the built-in or operator never-list.
    NeverList,
    /// More distinct domains than [`crate::ExtractOptions::max_domains`].
    OverCap,
    /// Not a listable host (reason given).
    Invalid(&'static str),
    /// An IP-literal URL pointing at a special-purpose address (reason).
    SpecialPurposeIp(&'static str),
}

/// Registered domains that are never reported, whatever the message says:
/// the biggest mailbox providers, web platforms and infrastructure that
/// appear in legitimate and spam mail alike (field notes 5.6, after
/// SpamAssassin's `uridnsbl_skip_domain` and MailCleaner's whitelist), and
/// the RFC 2606 example domains. Matched on the registered domain exactly,
/// so customer sites under a private public suffix (`foo.blogspot.com`) are
/// still reported.
pub const BUILTIN_NEVER_LIST: &[&str] = &[
    // Mailbox providers.
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "gmx.net",
    "gmx.de",
    "web.de",
    "t-online.de",
    "yandex.ru",
    "mail.ru",
    "protonmail.com",
    "proton.me",
    // Platforms and infrastructure.
    "google.com",
    "googleapis.com",
    "gstatic.com",
    "youtube.com",
    "microsoft.com",
    "office.com",
    "apple.com",
    "facebook.com",
    "instagram.com",
    "whatsapp.com",
    "twitter.com",
    "x.com",
    "t.co",
    "linkedin.com",
    "amazon.com",
    "paypal.com",
    "wikipedia.org",
    "w3.org",
    "schema.org",
    // RFC 2606 reserved example domains.
    "example.com",
    "example.net",
    "example.org",
];

/// Collects domains and IP literals over all body parts of one message.
pub(crate) struct UriCollector {
    never: HashSet<String>,
    max_domains: usize,
    pub domains: Vec<DomainHit>,
    index: HashMap<String, usize>,
    pub ip_literals: Vec<IpAddr>,
    pub skipped: Vec<(String, SkipReason)>,
    skipped_seen: HashSet<String>,
    skipped_dropped: usize,
    candidates: usize,
    finder: LinkFinder,
}

impl UriCollector {
    pub(crate) fn new(operator_never_list: &[String], max_domains: usize) -> Self {
        let mut never: HashSet<String> = BUILTIN_NEVER_LIST.iter().map(|s| s.to_string()).collect();
        never.extend(operator_never_list.iter().map(|d| normalise_list_entry(d)));
        let mut finder = LinkFinder::new();
        finder.url_must_have_scheme(false);
        // E-mail addresses are found too, so that their domain part is not
        // mistaken for a scheme-less URL; they are then ignored.
        finder.kinds(&[LinkKind::Url, LinkKind::Email]);
        UriCollector {
            never,
            max_domains,
            domains: Vec::new(),
            index: HashMap::new(),
            ip_literals: Vec::new(),
            skipped: Vec::new(),
            skipped_seen: HashSet::new(),
            skipped_dropped: 0,
            candidates: 0,
            finder,
        }
    }

    /// True once [`MAX_URL_CANDIDATES`] have been examined.
    pub(crate) fn full(&self) -> bool {
        self.candidates >= MAX_URL_CANDIDATES
    }

    /// Scans a plain-text body. URLs with a scheme are found by our own
    /// scan for `://` (linkify insists on a plausible domain and misses
    /// `http://0x51.0x02.0x45.0x8e/` or `http://[2a02:1810::1]/`);
    /// scheme-less `www.example.com` and `example.com/path` come from
    /// linkify. Candidates are examined in text order.
    pub(crate) fn scan_text(&mut self, text: &str) {
        if self.full() {
            return;
        }
        let text = clean_text(text);
        let mut found: Vec<(usize, &str, FoundIn)> = scheme_urls(&text)
            .take(MAX_URL_CANDIDATES)
            .map(|(at, s)| (at, s, FoundIn::Text))
            .collect();
        let bare = self
            .finder
            .links(&text)
            .filter(|l| *l.kind() == LinkKind::Url && !l.as_str().contains("://"))
            .take(MAX_URL_CANDIDATES)
            .map(|l| (l.start(), l.as_str(), FoundIn::BareText));
        found.extend(bare);
        found.sort_by_key(|(at, _, _)| *at);
        for (_, s, kind) in found {
            if self.full() {
                break;
            }
            self.candidate(s, kind, true);
        }
    }

    /// Scans an HTML body: link attributes, then the text nodes.
    pub(crate) fn scan_html(&mut self, html: &str, warnings: &mut Warnings) {
        let found: RefCell<Vec<(FoundIn, String)>> = RefCell::new(Vec::new());
        let text = RefCell::new(String::new());
        let budget = MAX_URL_CANDIDATES.saturating_sub(self.candidates);
        let push = |kind: FoundIn, el: &Element<'_, '_>, attr: &str| {
            let mut f = found.borrow_mut();
            if f.len() < budget
                && let Some(v) = el.get_attribute(attr)
            {
                f.push((kind, clip(&v, MAX_URL_LEN)));
            }
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            let settings = Settings::new()
                .append_element_content_handler(element!("a[href], area[href]", |el| {
                    push(FoundIn::Href, el, "href");
                    Ok(())
                }))
                .append_element_content_handler(element!("img[src]", |el| {
                    push(FoundIn::ImgSrc, el, "src");
                    Ok(())
                }))
                .append_element_content_handler(element!("[background]", |el| {
                    push(FoundIn::ImgSrc, el, "background");
                    Ok(())
                }))
                .append_element_content_handler(element!("form[action]", |el| {
                    push(FoundIn::FormAction, el, "action");
                    Ok(())
                }))
                .append_document_content_handler(doc_text!(|t: &mut TextChunk<'_>| {
                    let mut text = text.borrow_mut();
                    text.push_str(t.as_str());
                    if t.last_in_text_node() {
                        // Keep words of adjacent nodes apart.
                        text.push(' ');
                    }
                    Ok(())
                }))
                .with_memory_settings(
                    MemorySettings::new().with_max_allowed_memory_usage(HTML_MEMORY_LIMIT),
                );
            let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
            // Streamed in chunks, so that the memory limit bounds what a
            // single tag or attribute can make lol_html buffer.
            for chunk in html.as_bytes().chunks(HTML_CHUNK) {
                rewriter.write(chunk)?;
            }
            rewriter.end()
        }));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warnings.push(format!("HTML part only partly scanned: {e}")),
            Err(_) => warnings.push("HTML parser failed; part only partly scanned".into()),
        }
        for (kind, value) in found.into_inner() {
            if self.full() {
                break;
            }
            let value = decode_entities(&value);
            self.candidate(&value, kind, false);
        }
        let text = decode_entities(&text.into_inner());
        self.scan_text(&text);
    }

    /// Normalises one candidate and records the result. `from_text` allows
    /// scheme-less `example.com/path` forms (linkify found them with a
    /// known shape); attributes must have a scheme, `//` or `www.`.
    fn candidate(&mut self, raw: &str, found: FoundIn, from_text: bool) {
        self.candidates += 1;
        let Some(url) = normalise_candidate(raw, from_text) else {
            return;
        };
        let parsed = match Url::parse(&url) {
            Ok(u) => u,
            Err(_) => {
                self.skip(
                    clip(raw.trim(), MAX_EXAMPLE_LEN),
                    SkipReason::Invalid("unparseable URL"),
                );
                return;
            }
        };
        match parsed.host() {
            Some(Host::Domain(host)) => self.domain(host, parsed.as_str(), found),
            Some(Host::Ipv4(ip)) => self.ip(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.ip(IpAddr::V6(ip)),
            None => {}
        }
    }

    fn domain(&mut self, host: &str, url: &str, found: FoundIn) {
        let host = host.strip_suffix('.').unwrap_or(host);
        let registered = match registered_domain(host) {
            Ok(d) => d,
            Err(why) => {
                self.skip(clip(host, MAX_EXAMPLE_LEN), SkipReason::Invalid(why));
                return;
            }
        };
        if let Some(&i) = self.index.get(&registered) {
            self.domains[i].count += 1;
            return;
        }
        if self.never.contains(&registered) {
            self.skip(registered, SkipReason::NeverList);
            return;
        }
        if self.domains.len() >= self.max_domains {
            self.skip(registered, SkipReason::OverCap);
            return;
        }
        self.index.insert(registered.clone(), self.domains.len());
        self.domains.push(DomainHit {
            domain: registered,
            example: clip(url, MAX_EXAMPLE_LEN),
            found_in: found,
            count: 1,
        });
    }

    fn ip(&mut self, ip: IpAddr) {
        let ip = canonical(ip);
        if let Some(reason) = special_purpose(ip) {
            self.skip(ip.to_string(), SkipReason::SpecialPurposeIp(reason));
        } else if !self.ip_literals.contains(&ip) {
            if self.ip_literals.len() < self.max_domains {
                self.ip_literals.push(ip);
            } else {
                self.skip(ip.to_string(), SkipReason::OverCap);
            }
        }
    }

    fn skip(&mut self, what: String, why: SkipReason) {
        if self.skipped_seen.contains(&what) {
            return;
        }
        if self.skipped.len() >= MAX_SKIPPED {
            self.skipped_dropped += 1;
            return;
        }
        self.skipped_seen.insert(what.clone());
        self.skipped.push((what, why));
    }

    /// Adds the end-of-scan warnings (caps reached).
    pub(crate) fn finish(&self, warnings: &mut Warnings) {
        if self.full() {
            warnings.push(format!(
                "URL cap reached: only the first {MAX_URL_CANDIDATES} URL candidates were examined"
            ));
        }
        if self.skipped_dropped > 0 {
            warnings.push(format!(
                "{} more skipped domains not listed in skipped_domains",
                self.skipped_dropped
            ));
        }
    }
}

/// `scheme://…` runs in `text`, with their byte offsets: the scheme is the
/// letters before `://`, the URL ends at a blank, a quote or an angle
/// bracket, and trailing sentence punctuation is dropped.
fn scheme_urls(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    std::iter::from_fn(move || {
        loop {
            let at = from + text.get(from..)?.find("://")?;
            from = at + 3;
            let scheme_len = bytes[..at]
                .iter()
                .rev()
                .take(10)
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                .count();
            if scheme_len == 0 {
                continue;
            }
            let start = at - scheme_len;
            let len = text[start..]
                .find(|c: char| c.is_whitespace() || "<>\"'`{}|^".contains(c))
                .unwrap_or(text.len() - start);
            let mut url = &text[start..start + len];
            from = start + len;
            loop {
                let trimmed = url.trim_end_matches(['.', ',', ';', ':', '!', '?']);
                let trimmed = if trimmed.ends_with(')') && !trimmed.contains('(') {
                    &trimmed[..trimmed.len() - 1]
                } else {
                    trimmed
                };
                if trimmed.len() == url.len() {
                    break;
                }
                url = trimmed;
            }
            return Some((start, url));
        }
    })
}

/// Normalises an operator never-list entry like a URL host.
fn normalise_list_entry(d: &str) -> String {
    let d = d.trim().trim_end_matches('.').to_lowercase();
    match Host::parse(&d) {
        Ok(Host::Domain(a)) => a,
        _ => d,
    }
}

/// Reduces a host (already lower-case ASCII from `url`) to its registered
/// domain, checking that it is a plausible DNS name under a known suffix.
pub fn registered_domain(host: &str) -> Result<String, &'static str> {
    if host.is_empty() || host.len() > 253 {
        return Err("host name length");
    }
    for label in host.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("empty or over-long label");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("invalid character in host name");
        }
    }
    let Some(d) = psl::domain(host.as_bytes()) else {
        return Err("no registrable domain (public suffix or single label)");
    };
    if !d.suffix().is_known() {
        return Err("unknown top-level domain");
    }
    let reg = std::str::from_utf8(d.as_bytes()).map_err(|_| "non-ASCII host")?;
    // Registrars only hand out letter-digit-hyphen names.
    let first = reg.split('.').next().unwrap_or_default();
    if first.contains('_') || first.starts_with('-') || first.ends_with('-') {
        return Err("invalid registered label");
    }
    Ok(reg.to_string())
}

/// Cleans a candidate into something `Url::parse` should read, or `None`
/// for references that are not web links (relative paths, `mailto:`,
/// `cid:`, `javascript:`, `data:`, …).
fn normalise_candidate(raw: &str, from_text: bool) -> Option<String> {
    let mut s: String = raw
        .chars()
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .collect();
    s = s
        .trim_matches(|c: char| c.is_whitespace() || "\"'<>".contains(c))
        .replace("[.]", ".");
    if s.len() > MAX_URL_LEN {
        s = clip(&s, MAX_URL_LEN);
    }
    let lower = s.get(..8).unwrap_or(&s).to_ascii_lowercase();
    if lower.starts_with("hxxp://") || lower.starts_with("hxxps://") {
        s.replace_range(..4, "http");
        return Some(s);
    }
    if s.starts_with("//") {
        return Some(format!("http:{s}"));
    }
    if let Some(idx) = s.find("://") {
        let scheme = s[..idx].to_ascii_lowercase();
        return matches!(scheme.as_str(), "http" | "https" | "ftp").then_some(s);
    }
    if lower.starts_with("www.") || from_text {
        // A `scheme:` prefix (mailto:, tel:, javascript:) is not a host;
        // `host:port` is.
        let head = s.split(['/', '?', '#']).next().unwrap_or_default();
        if let Some((_, after)) = head.split_once(':')
            && !after.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        return Some(format!("http://{s}"));
    }
    None
}

/// Characters that render as nothing and are used to break up domains.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
    )
}

/// Removes invisible characters and undoes `[.]` defanging in text, so that
/// linkify sees whole host names. Borrows when there is nothing to do.
fn clean_text(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(is_invisible) && !text.contains("[.]") && !text.contains("hxxp") {
        return text.into();
    }
    let s: String = text.chars().filter(|c| !is_invisible(*c)).collect();
    // linkify only knows real schemes.
    s.replace("[.]", ".")
        .replace("hxxps://", "https://")
        .replace("hxxp://", "http://")
        .into()
}

/// Decodes HTML character references: numeric (`&#46;`, `&#x2E;`, with or
/// without the `;`) and the named ones that matter inside URLs and text.
/// Unknown references are left as they are.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match decode_one(rest) {
            Some((c, used)) => {
                out.push(c);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the reference at the start of `s` (which starts with `&`):
/// the character and the number of bytes consumed.
fn decode_one(s: &str) -> Option<(char, usize)> {
    let body = &s[1..];
    if let Some(num) = body.strip_prefix('#') {
        let (digits, radix, skip) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16, 3),
            None => (num, 10, 2),
        };
        let len = digits
            .bytes()
            .take(8)
            .take_while(|b| b.is_ascii_digit() || (radix == 16 && b.is_ascii_hexdigit()))
            .count();
        if len == 0 {
            return None;
        }
        let value = u32::from_str_radix(&digits[..len], radix).ok()?;
        let c = char::from_u32(value).unwrap_or('\u{fffd}');
        let semi = usize::from(digits[len..].starts_with(';'));
        return Some((c, skip + len + semi));
    }
    const NAMED: &[(&str, char)] = &[
        ("amp;", '&'),
        ("lt;", '<'),
        ("gt;", '>'),
        ("quot;", '"'),
        ("apos;", '\''),
        ("nbsp;", ' '),
        ("period;", '.'),
        ("colon;", ':'),
        ("sol;", '/'),
        ("bsol;", '\\'),
        ("commat;", '@'),
        ("quest;", '?'),
        ("equals;", '='),
        ("num;", '#'),
        ("percnt;", '%'),
        ("lowbar;", '_'),
        ("hyphen;", '-'),
        ("dash;", '-'),
        ("plus;", '+'),
        ("tilde;", '~'),
        ("excl;", '!'),
        ("semi;", ';'),
        ("comma;", ','),
        ("lpar;", '('),
        ("rpar;", ')'),
        ("lsqb;", '['),
        ("rsqb;", ']'),
        ("NewLine;", '\n'),
        ("Tab;", '\t'),
        // Legacy forms without the semicolon (HTML still accepts them).
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("nbsp", ' '),
    ];
    NAMED
        .iter()
        .find(|(name, _)| {
            body.get(..name.len())
                .is_some_and(|b| b.eq_ignore_ascii_case(name))
        })
        .map(|(name, c)| (*c, 1 + name.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect_text(text: &str) -> UriCollector {
        let mut c = UriCollector::new(&[], 50);
        c.scan_text(text);
        c
    }

    fn names(c: &UriCollector) -> Vec<&str> {
        c.domains.iter().map(|d| d.domain.as_str()).collect()
    }

    #[test]
    fn registered_domains() {
        assert_eq!(
            registered_domain("a.b.example.co.uk").unwrap(),
            "example.co.uk"
        );
        assert_eq!(
            registered_domain("www.spam-shop.top").unwrap(),
            "spam-shop.top"
        );
        assert_eq!(
            registered_domain("foo.blogspot.com").unwrap(),
            "foo.blogspot.com"
        );
        assert!(registered_domain("co.uk").is_err());
        assert!(registered_domain("localhost").is_err());
        assert!(registered_domain("file.txt").is_err());
        assert!(registered_domain("a..b.com").is_err());
        assert!(registered_domain("-bad.com").is_err());
        assert!(registered_domain("bad_name.com").is_err());
        assert!(registered_domain("ok_sub.good.com").is_ok());
    }

    #[test]
    fn text_urls_and_bare_domains() {
        let c = collect_text(
            "Buy now at HTTP://WWW.Cheap-Pills-4u.TOP/x?a=1. Or visit www.mega-deals.shop, \
             or reward-claim.xyz/win now. Mail us: sales@mailer-domain.biz. \
             Ignore file.txt and http://localhost/ and http://[2001:db8::1]/ \
             but note http://81.2.69.142/p and (http://0x59.0xa0.0x14.0x70/). \
             Also http://[2a02:1810::1]:8080/x and http://1359103374/",
        );
        assert_eq!(
            names(&c),
            ["cheap-pills-4u.top", "mega-deals.shop", "reward-claim.xyz"]
        );
        assert_eq!(c.domains[0].found_in, FoundIn::Text);
        assert_eq!(c.domains[1].found_in, FoundIn::BareText);
        assert_eq!(
            c.ip_literals,
            [
                "81.2.69.142".parse::<IpAddr>().unwrap(),
                "89.160.20.112".parse::<IpAddr>().unwrap(),
                "2a02:1810::1".parse::<IpAddr>().unwrap(),
            ]
        );
        assert!(c.skipped.iter().any(|(s, r)| s == "2001:db8::1"
            && *r == SkipReason::SpecialPurposeIp("documentation (RFC 3849)")));
    }

    #[test]
    fn never_list_and_cap() {
        let mut c = UriCollector::new(&["Partner-Site.NET.".to_string()], 2);
        c.scan_text(
            "https://mail.google.com/x https://partner-site.net/ https://a.one.top \
             https://two.top https://three.top https://a.one.top/again",
        );
        assert_eq!(names(&c), ["one.top", "two.top"]);
        assert_eq!(c.domains[0].count, 2);
        assert_eq!(
            c.skipped,
            [
                ("google.com".to_string(), SkipReason::NeverList),
                ("partner-site.net".to_string(), SkipReason::NeverList),
                ("three.top".to_string(), SkipReason::OverCap),
            ]
        );
    }

    #[test]
    fn html_attributes_and_obfuscation() {
        let mut c = UriCollector::new(&[], 50);
        let mut w = Warnings::default();
        c.scan_html(
            r#"<html><body>
            <a HREF="hTTps://WWW.Prize-Center&#46;top/claim?id=1&amp;x=2">claim</a>
            <a href="&#x68;ttp://deal&#x2E;xyz/">x</a>
            <a href=" http://spl
it-host.club/ ">y</a>
            <a href="www.no-scheme-shop.store/p">z</a>
            <a href="//proto-relative.site/a">r</a>
            <a href="mailto:someone@mailbox.top">m</a>
            <a href="/relative/path">rel</a>
            <img src="https://img.pixel-track.click/o.gif">
            <table background="http://bg.imagehost.icu/b.png"><tr><td>t</td></tr></table>
            <form action="https://harvest.login-verify.online/post"></form>
            <a href="http://B&#252;cher-Sale.de/">idn</a>
            <a href="http://b&uuml;cher-sale.de/">unknown entity</a>
            <a href="http://81.2.69.142/x">ip</a>
            <p>Also see www.text-in-html.win and exa&#8203;mple-zw.shop/x</p>
            </body></html>"#,
            &mut w,
        );
        let got: Vec<(&str, FoundIn)> = c
            .domains
            .iter()
            .map(|d| (d.domain.as_str(), d.found_in))
            .collect();
        assert_eq!(
            got,
            [
                ("prize-center.top", FoundIn::Href),
                ("deal.xyz", FoundIn::Href),
                ("split-host.club", FoundIn::Href),
                ("no-scheme-shop.store", FoundIn::Href),
                ("proto-relative.site", FoundIn::Href),
                ("pixel-track.click", FoundIn::ImgSrc),
                ("imagehost.icu", FoundIn::ImgSrc),
                ("login-verify.online", FoundIn::FormAction),
                ("xn--bcher-sale-9db.de", FoundIn::Href),
                ("text-in-html.win", FoundIn::BareText),
                ("example-zw.shop", FoundIn::BareText),
            ]
        );
        assert_eq!(c.ip_literals, ["81.2.69.142".parse::<IpAddr>().unwrap()]);
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn entities() {
        assert_eq!(
            decode_entities("a&amp;b&#46;c&#x2e;d&period;e&#46f"),
            "a&b.c.d.e.f"
        );
        assert_eq!(decode_entities("&unknown; & &#xZZ;"), "&unknown; & &#xZZ;");
        assert_eq!(decode_entities("&#99999999999;"), "\u{fffd}999;");
        assert_eq!(decode_entities("tail&"), "tail&");
    }

    #[test]
    fn defanged_and_invisible() {
        let c = collect_text("hxxps://evil-site[.]top/x and ev\u{200b}il-two.top/y");
        assert_eq!(names(&c), ["evil-site.top", "evil-two.top"]);
    }

    #[test]
    fn candidate_normalisation() {
        assert_eq!(normalise_candidate("javascript:alert(1)", false), None);
        assert_eq!(normalise_candidate("cid:part1@x", false), None);
        assert_eq!(normalise_candidate("mailto:a@b.top", true), None);
        assert_eq!(normalise_candidate("data:text/html,x", false), None);
        assert_eq!(
            normalise_candidate(" HXXP://a.top ", false).as_deref(),
            Some("http://a.top")
        );
        assert_eq!(
            normalise_candidate("a.top/x", true).as_deref(),
            Some("http://a.top/x")
        );
        assert_eq!(normalise_candidate("a.top/x", false), None);
    }
}
