//! The fixture corpus in `tests/data/mail/` and the exact extraction each
//! file must produce (the same expectations as the corpus README).
//!
//! Every fixture is read with the reporter's trusted networks
//! [`TRUSTED`], as the end-to-end tests of the server configure them.

use std::net::IpAddr;
use std::path::PathBuf;

use fadelist_ingest::{
    ArfOriginal, BulkSignal, ExtractOptions, Extraction, FoundIn, HopVerdict, NoSource, SkipReason,
    extract,
};

/// The reporter's MX/filter networks used by every fixture.
const TRUSTED: [&str; 2] = ["81.2.69.160/27", "2a02:1810:4d02::/48"];

fn dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/mail"
    ))
}

fn opts() -> ExtractOptions {
    ExtractOptions {
        trusted: TRUSTED.iter().map(|s| s.parse().unwrap()).collect(),
        ..Default::default()
    }
}

fn raw(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load(name: &str) -> Extraction {
    extract(&raw(name), &opts()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn verdicts(x: &Extraction) -> Vec<HopVerdict> {
    x.hops.iter().map(|h| h.verdict.clone()).collect()
}

fn domains(x: &Extraction) -> Vec<(&str, FoundIn)> {
    x.domains
        .iter()
        .map(|d| (d.domain.as_str(), d.found_in))
        .collect()
}

fn source(x: &Extraction) -> (IpAddr, usize) {
    let s = x.source.as_ref().expect("a source");
    (s.ip, s.hop_index)
}

use FoundIn::{BareText, FormAction, Href, ImgSrc, Text};
use HopVerdict::{BelowSource, Source, Trusted};

#[test]
fn spam_plain() {
    let x = load("spam-plain.eml");
    assert_eq!(source(&x), (ip("89.160.20.112"), 2));
    assert_eq!(verdicts(&x), [Trusted, Trusted, Source]);
    assert_eq!(
        domains(&x),
        [
            ("cheap-meds-online.top", Text),
            ("rx-discount-store.shop", BareText),
            ("mail-blast.click", BareText),
        ]
    );
    assert_eq!(
        x.message_id.as_deref(),
        Some("20260310081359.7781@cheap-meds-online.top")
    );
    assert_eq!(x.subject.as_deref(), Some("Your discount is waiting"));
    assert_eq!(x.date, Some(1_773_130_439));
    assert!(!x.bulk.is_bulk);
    assert!(x.arf.is_none() && !x.forwarded_attachment);
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
}

#[test]
fn forwarded_attachment_analyses_the_attached_spam() {
    let x = load("forwarded-attachment.eml");
    let plain = load("spam-plain.eml");
    assert!(x.forwarded_attachment);
    // Everything describes the attached original, not Alice's wrapper: her
    // signature link (reporter-homepage.net) is not reported.
    assert_eq!(source(&x), (ip("89.160.20.112"), 2));
    assert_eq!(x.hops, plain.hops);
    assert_eq!(x.domains, plain.domains);
    assert_eq!(x.message_id, plain.message_id);
    // Same spam, same dedupe key, however it reached us.
    assert_eq!(x.body_hash, plain.body_hash);
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
}

#[test]
fn crlf_and_lf_uploads_hash_the_same() {
    let lf = raw("spam-plain.eml");
    let crlf: Vec<u8> = String::from_utf8(lf.clone())
        .unwrap()
        .replace('\n', "\r\n")
        .into_bytes();
    let a = extract(&lf, &opts()).unwrap();
    let b = extract(&crlf, &opts()).unwrap();
    assert_eq!(a.body_hash, b.body_hash);
    assert_eq!(a.source, b.source);
    assert_eq!(a.domains, b.domains);
}

#[test]
fn an_attached_message_in_spam_from_the_internet_is_not_followed() {
    // The same wrapper, but delivered straight from an untrusted public
    // host without authentication: this is a spam *carrying* a message
    // (possibly with forged headers), so the outer message is analysed.
    let text = String::from_utf8(raw("forwarded-attachment.eml")).unwrap();
    let text = text.replacen(
        "Received: from [192.168.10.23] (cpe-175-16-199-10.home.example [175.16.199.10])\n\
         \tby mx1.reporter.example (Postfix) with ESMTPSA",
        "Received: from bulk.example (bulk.example [175.16.199.10])\n\
         \tby mx1.reporter.example (Postfix) with ESMTP",
        1,
    );
    let x = extract(text.as_bytes(), &opts()).unwrap();
    assert!(!x.forwarded_attachment);
    assert_eq!(source(&x), (ip("175.16.199.10"), 1));
    // The outer text (and, as spam content, the attached message) is
    // scanned.
    assert_eq!(x.domains[0].domain, "reporter-homepage.net");
}

#[test]
fn arf_abuse_with_full_original() {
    let x = load("arf-abuse.eml");
    let arf = x.arf.as_ref().expect("ARF");
    assert_eq!(arf.feedback_type, "abuse");
    assert_eq!(arf.source_ip, Some(ip("216.160.83.56")));
    assert_eq!(arf.user_agent.as_deref(), Some("ExampleFBL/2.1"));
    assert_eq!(arf.version.as_deref(), Some("1"));
    assert_eq!(arf.original_rcpt_to, ["<bob@reporter.example>"]);
    assert_eq!(arf.arrival_date, Some(1_773_140_551));
    assert_eq!(arf.reported_domains, ["win-a-prize-now.xyz"]);
    assert_eq!(arf.incidents, Some(1));
    assert_eq!(arf.original, ArfOriginal::Message);
    // The analysis is of the original (third part), by our own parse.
    assert_eq!(
        x.message_id.as_deref(),
        Some("prize.20260310.0042@win-a-prize-now.xyz")
    );
    assert_eq!(source(&x), (ip("216.160.83.56"), 1));
    assert_eq!(verdicts(&x), [Trusted, Source]);
    assert_eq!(
        domains(&x),
        [("win-a-prize-now.xyz", Href), ("prize-images.icu", ImgSrc)]
    );
    // The rfc-editor.org link in the human-readable part is not reported.
    assert!(x.skipped_domains.is_empty());
    assert!(!x.forwarded_attachment);
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
}

#[test]
fn arf_with_headers_only() {
    let x = load("arf-headers-only.eml");
    let arf = x.arf.as_ref().expect("ARF");
    assert_eq!(arf.feedback_type, "fraud");
    assert_eq!(arf.original, ArfOriginal::HeadersOnly);
    assert_eq!(arf.source_ip, Some(ip("89.160.20.128")));
    assert_eq!(source(&x), (ip("89.160.20.128"), 1));
    assert_eq!(
        x.subject.as_deref(),
        Some("Ihr Konto wird gesperrt – jetzt bestätigen")
    );
    assert_eq!(
        x.message_id.as_deref(),
        Some("c0ffee.1337@secure-login-update.online")
    );
    // No body: no domains, and the empty-body hash.
    assert!(x.domains.is_empty());
    assert_eq!(
        x.body_hash,
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
}

#[test]
fn newsletter_with_one_click_unsubscribe() {
    let x = load("newsletter-one-click.eml");
    assert!(x.bulk.is_bulk);
    assert!(x.bulk.one_click());
    assert_eq!(
        x.bulk.signals,
        [
            BulkSignal::ListId("Gadget Deals Weekly <weekly.gadget-deals-weekly.store>".into()),
            BulkSignal::ListUnsubscribe {
                mailto: true,
                web: true
            },
            BulkSignal::Precedence("bulk".into()),
            BulkSignal::OneClickUnsubscribe { https: true },
        ]
    );
    assert_eq!(source(&x), (ip("175.16.199.10"), 1));
    assert_eq!(
        domains(&x),
        [
            ("gadget-deals-weekly.store", Text),
            ("mailstat-pixel.online", ImgSrc)
        ]
    );
    // Text and HTML alternatives both link the shop: 2 + 2.
    assert_eq!(x.domains[0].count, 4);
}

#[test]
fn esp_sent_bulk() {
    let x = load("esp-bulk.eml");
    assert!(x.bulk.is_bulk);
    assert!(!x.bulk.one_click());
    assert_eq!(x.bulk.esp(), Some("Mailgun"));
    assert_eq!(
        x.bulk.signals,
        [
            BulkSignal::Esp {
                esp: "Mailgun",
                header: "X-Mailgun-Sid".into()
            },
            BulkSignal::Esp {
                esp: "Feedback-ID (Gmail feedback loop)",
                header: "Feedback-ID".into()
            },
            BulkSignal::ListUnsubscribe {
                mailto: true,
                web: false
            },
        ]
    );
    assert_eq!(source(&x), (ip("89.160.20.128"), 1));
    assert_eq!(domains(&x), [("spring-sale-outlet.shop", Href)]);
    assert_eq!(
        x.skipped_domains,
        [("facebook.com".to_string(), SkipReason::NeverList)]
    );
}

#[test]
fn forged_lower_hops_are_ignored() {
    let x = load("forged-received-chain.eml");
    assert_eq!(source(&x), (ip("81.2.69.142"), 2));
    assert_eq!(
        verdicts(&x),
        [
            Trusted,
            Trusted,
            Source,
            BelowSource,
            BelowSource,
            BelowSource
        ]
    );
    // The forged hops are recorded as written, never scored.
    assert_eq!(x.hops[3].ip, Some(ip("216.160.83.56")));
    assert_eq!(x.hops[5].ip, Some(ip("89.160.20.112")));
    assert_eq!(domains(&x), [("bigbank-secure-verify.top", Text)]);
}

#[test]
fn without_trusted_networks_the_reporters_own_relay_would_be_blamed() {
    // Why reporters must declare their mailhosts (field notes 6).
    let x = extract(
        &raw("forged-received-chain.eml"),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(source(&x), (ip("81.2.69.163"), 0));
}

#[test]
fn ipv6_relay() {
    let x = load("ipv6-relay.eml");
    assert_eq!(source(&x), (ip("2a02:1810:8c00::17"), 1));
    assert_eq!(verdicts(&x), [Trusted, Source, BelowSource]);
    assert_eq!(x.hops[0].ip, Some(ip("2a02:1810:4d02::25")));
    assert_eq!(x.hops[2].ip, Some(ip("fd00:1::5")));
    assert_eq!(
        x.hops[1].rdns.as_deref(),
        Some("relay.casino-bonus.example")
    );
    assert_eq!(x.hops[2].rdns, None);
    assert_eq!(domains(&x), [("casino-bonus-royal.bet", Text)]);
    assert_eq!(x.ip_literals, [ip("2a02:1810:8c00::80")]);
}

#[test]
fn private_only_chain_has_no_source() {
    let x = load("private-only-chain.eml");
    assert_eq!(x.source, Err(NoSource::OnlySpecialPurpose));
    assert_eq!(
        verdicts(&x),
        [
            Trusted,
            HopVerdict::SpecialPurpose("private-use (RFC 1918)"),
            HopVerdict::SpecialPurpose("private-use (RFC 1918)"),
            Trusted, // loopback
        ]
    );
    // The body is still analysed.
    assert_eq!(domains(&x), [("docs-portal-scan.site", Text)]);
}

#[test]
fn html_only_with_obfuscated_links() {
    let x = load("html-obfuscated.eml");
    assert_eq!(source(&x), (ip("216.160.83.61"), 1));
    assert_eq!(x.subject.as_deref(), Some("🏆 You won!"));
    assert_eq!(
        domains(&x),
        [
            ("lucky-winner-prize.top", Href),    // entities + mixed case
            ("free-gift-cards.xyz", Href),       // fully entity-encoded
            ("xn--bcher-angebote-gsb.de", Href), // IDN, UTF-8 in QP
            ("crypto-double-now.biz", Href),     // www. without scheme
            ("tracker-pixel-cdn.icu", ImgSrc),   // tracking pixel
            ("secure-verify-account.online", FormAction),
            ("backup-prize-site.win", BareText), // in a text node
        ]
    );
    assert_eq!(
        x.domains[0].example,
        "https://www.lucky-winner-prize.top/claim?id=42&t=1"
    );
    assert_eq!(x.ip_literals, [ip("89.160.20.112")]);
    assert_eq!(
        x.skipped_domains,
        [
            (
                "192.168.1.1".to_string(),
                SkipReason::SpecialPurposeIp("private-use (RFC 1918)")
            ),
            ("google.com".to_string(), SkipReason::NeverList),
        ]
    );
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
}

#[test]
fn charset_iso_8859_1() {
    let x = load("charset-iso-8859-1.eml");
    assert_eq!(
        x.subject.as_deref(),
        Some("Réduction exceptionnelle à saisir")
    );
    assert_eq!(source(&x), (ip("89.160.20.112"), 1));
    assert_eq!(domains(&x), [("promo-ete-soldes.fr", Text)]);
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
}

#[test]
fn charset_windows_1251() {
    let x = load("charset-windows-1251.eml");
    assert_eq!(
        x.subject.as_deref(),
        Some("Выгодное предложение только сегодня")
    );
    assert_eq!(source(&x), (ip("175.16.199.10"), 1));
    // The Cyrillic domain was decoded from cp1251 and IDNA-encoded.
    assert_eq!(
        domains(&x),
        [
            ("vygodno-kupi.ru", Text),
            ("xn----ftbbcdpbnc9aj1ag5r.xn--p1ai", Text)
        ]
    );
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
}

#[test]
fn charset_shift_jis() {
    let x = load("charset-shift-jis.eml");
    assert_eq!(x.subject.as_deref(), Some("限定オファーのお知らせ"));
    assert_eq!(source(&x), (ip("216.160.83.56"), 1));
    assert_eq!(domains(&x), [("nihon-bonus-club.jp", Text)]);
    assert_eq!(x.domains[0].count, 2);
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
}

#[test]
fn unknown_charset_is_best_effort_with_a_warning() {
    let x = load("charset-unknown.eml");
    assert_eq!(source(&x), (ip("81.2.69.142"), 1));
    assert_eq!(domains(&x), [("unknown-charset-deals.site", Text)]);
    assert_eq!(
        x.warnings,
        ["part 0: unknown charset \"x-klingon-9\"; decoded as UTF-8 with replacement characters"]
    );
}

#[test]
fn broken_mime_gives_partial_results_and_warnings() {
    let x = load("broken-mime.eml");
    assert_eq!(source(&x), (ip("89.160.20.128"), 1));
    // The good text part, and a URL in the clear inside the part whose
    // base64 is broken (kept as raw text).
    assert_eq!(
        domains(&x),
        [
            ("broken-mime-offers.shop", Text),
            ("not-base64-text.icu", Text)
        ]
    );
    assert_eq!(
        x.warnings,
        [
            "multipart boundary \"BRK-0001\" is never closed (truncated or broken MIME)",
            "part 2: malformed content (bad transfer encoding or broken MIME structure); raw text used",
            "part 3: malformed content (bad transfer encoding or broken MIME structure); raw text used",
        ]
    );
}

#[test]
fn every_fixture_is_documented_and_tested() {
    let readme = std::fs::read_to_string(dir().join("README.md")).unwrap();
    let this = include_str!("fixtures.rs");
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15);
    for f in files {
        assert!(
            readme.contains(&format!("`{f}`")),
            "{f} missing from README.md"
        );
        assert!(this.contains(&format!("\"{f}\"")), "{f} has no test");
        // Every fixture parses, with and without trusted networks.
        extract(&raw(&f), &ExtractOptions::default()).unwrap();
    }
}

// ------------------------------------------------ report age (issue 11)

#[test]
fn receipt_time_comes_from_the_reporters_topmost_hop() {
    let x = load("spam-plain.eml");
    // Hop 0, written by the reporter's imap host: 09:14:07 +0100.
    assert_eq!(x.received_at, Some(1_773_130_447));
    assert_eq!(x.hops[0].date, Some(1_773_130_447));
}

#[test]
fn a_forged_date_header_changes_nothing_but_the_shown_date() {
    let text = String::from_utf8(raw("spam-plain.eml")).unwrap();
    for forged in [
        "Mon, 1 Jan 2001 00:00:00 +0000",
        "Fri, 1 Jan 2100 00:00:00 +0000",
        "not a date at all",
    ] {
        let mail = text.replacen(
            "Date: Tue, 10 Mar 2026 08:13:59 +0000",
            &format!("Date: {forged}"),
            1,
        );
        let x = extract(mail.as_bytes(), &opts()).unwrap();
        assert_eq!(x.received_at, Some(1_773_130_447), "{forged}");
        assert_eq!(source(&x), (ip("89.160.20.112"), 2), "{forged}");
    }
}

#[test]
fn hops_below_the_source_never_give_the_receipt_time() {
    // Only the source hop (written by the reporter's MX) and the hops above
    // it count; a date on a hop below the source is the sender's word.
    let text = String::from_utf8(raw("forged-received-chain.eml")).unwrap();
    let x = extract(text.as_bytes(), &opts()).unwrap();
    let s = x.source.as_ref().unwrap();
    assert!(x.hops[..=s.hop_index].iter().any(|h| h.date.is_some()));
    let topmost = x.hops[..=s.hop_index].iter().find_map(|h| h.date);
    assert_eq!(x.received_at, topmost);
    // Strip the dates of every hop at or above the source: nothing is left
    // to trust, whatever the forged hops below say.
    let mut lines: Vec<String> = Vec::new();
    let mut in_received = 0usize;
    for line in text.lines() {
        if line.starts_with("Received:") {
            in_received += 1;
        }
        let ours = in_received >= 1 && in_received <= s.hop_index + 1;
        match line.find(';') {
            Some(at) if ours && !line.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                lines.push(line[..at].to_string())
            }
            _ => lines.push(line.to_string()),
        }
        if !line.starts_with("Received:") && !line.starts_with([' ', '\t']) {
            in_received = if in_received > 0 && line.is_empty() {
                0
            } else {
                in_received
            };
        }
    }
    let x = extract(lines.join("\n").as_bytes(), &opts()).unwrap();
    let s2 = x.source.as_ref().unwrap();
    assert_eq!(s2.hop_index, s.hop_index);
    assert!(x.hops[..=s2.hop_index].iter().all(|h| h.date.is_none()));
    assert!(x.hops[s2.hop_index + 1..].iter().any(|h| h.date.is_some()));
    assert_eq!(x.received_at, None);
}

#[test]
fn arf_arrival_date_is_the_receipt_time() {
    let x = load("arf-abuse.eml");
    assert_eq!(x.received_at, Some(1_773_140_551));
}

#[test]
fn no_received_fields_no_receipt_time() {
    let text = String::from_utf8(raw("spam-plain.eml")).unwrap();
    let body_at = text.find("From: ").unwrap();
    let x = extract(&text.as_bytes()[body_at..], &opts()).unwrap();
    assert_eq!(x.received_at, None);
    assert_eq!(x.source, Err(NoSource::NoReceivedHeaders));
}

// ------------------------------------ forwarded attachments fail closed

#[test]
fn an_attachment_in_an_upload_with_no_chain_is_not_followed() {
    // The forward without its Received fields (as a reporter's script might
    // post it): nothing shows it came from the reporter's side, so the
    // attached message's headers are not trusted, and neither are the
    // wrapper's.
    let text = String::from_utf8(raw("forwarded-attachment.eml")).unwrap();
    let start = text.find("From: Alice").unwrap();
    let x = extract(&text.as_bytes()[start..], &opts()).unwrap();
    assert!(!x.forwarded_attachment);
    assert_eq!(x.source, Err(NoSource::UnverifiedForward));
    assert!(
        x.warnings
            .iter()
            .any(|w| w.contains("attached message not analysed")),
        "{:?}",
        x.warnings
    );
}

#[test]
fn an_attachment_behind_only_private_or_loopback_hops_is_not_followed() {
    // Private and loopback hops prove nothing: anyone can write them.
    let text = String::from_utf8(raw("forwarded-attachment.eml")).unwrap();
    let start = text.find("From: Alice").unwrap();
    let fake = "Received: from localhost (localhost [127.0.0.1])\n\tby mx.example (Postfix) with ESMTP id 1\n\tfor <spam@reporter.example>; Tue, 10 Mar 2026 09:20:41 +0100\n\
                Received: from [10.1.2.3] (unknown [10.1.2.3])\n\tby mx.example (Postfix) with ESMTP id 2\n\tfor <spam@reporter.example>; Tue, 10 Mar 2026 09:20:40 +0100\n";
    let mail = format!("{fake}{}", &text[start..]);
    let x = extract(mail.as_bytes(), &opts()).unwrap();
    assert!(!x.forwarded_attachment);
    assert_eq!(x.source, Err(NoSource::UnverifiedForward));
}

#[test]
fn an_attachment_relayed_only_by_trusted_hosts_is_followed() {
    // The reporter's own filter posted it: the chain is all trusted hops.
    let text = String::from_utf8(raw("forwarded-attachment.eml")).unwrap();
    let start = text.find("From: Alice").unwrap();
    let ours = "Received: from filter1.reporter.example (filter1.reporter.example [81.2.69.163])\n\tby spamreport.reporter.example (Postfix) with ESMTP id 3\n\tfor <spam@reporter.example>; Tue, 10 Mar 2026 09:20:41 +0100\n";
    let mail = format!("{ours}{}", &text[start..]);
    let x = extract(mail.as_bytes(), &opts()).unwrap();
    assert!(x.forwarded_attachment);
    assert_eq!(source(&x), (ip("89.160.20.112"), 2));
}

// ------------------------------------ attack fixtures (issue 11)

#[test]
fn planted_url_ips_are_extracted_as_link_hosts() {
    // Extraction only collects them; the server decides they are content
    // (never sources) and which are protected (tests/tests/attack_reports.rs).
    let x = load("planted-url-ips.eml");
    assert_eq!(source(&x), (ip("216.160.83.61"), 1));
    assert_eq!(domains(&x), [("deal-hub-central.top", Text)]);
    assert_eq!(
        x.ip_literals,
        [
            ip("8.8.8.8"),
            ip("1.1.1.1"),
            ip("2001:4860:4860::8888"),
            ip("45.67.89.10"),
            ip("2a05:d018:1234:5678::10"),
        ]
    );
    assert!(
        x.skipped_domains
            .iter()
            .any(|(h, why)| h == "10.1.2.3" && matches!(why, SkipReason::SpecialPurposeIp(_))),
        "{:?}",
        x.skipped_domains
    );
    assert_eq!(x.received_at, Some(1_773_219_731));
}

#[test]
fn forged_date_fixture_keeps_the_reporters_receipt_time() {
    let x = load("forged-date.eml");
    assert_eq!(x.date, Some(978_307_200), "Date: is kept as evidence");
    assert_eq!(
        x.received_at,
        Some(1_773_224_142),
        "hop 0, written by the reporter"
    );
    assert_eq!(source(&x), (ip("89.160.20.128"), 1));
    // The forged hop below the source carries the 2001 date too; it is
    // the sender's word and ignored.
    assert_eq!(verdicts(&x), [Trusted, Source, BelowSource]);
    assert_eq!(x.hops[2].date, Some(978_307_200));
}

#[test]
fn a_lone_precedence_header_is_a_bulk_signal() {
    // Extraction reports the signal; the server ignores it for spam traps
    // (tests/tests/attack_reports.rs: spam_traps_ignore_bulk_headers).
    let x = load("bulk-header-spam.eml");
    assert_eq!(source(&x), (ip("81.2.69.142"), 1));
    assert!(x.bulk.is_bulk);
    assert_eq!(x.bulk.signals, [BulkSignal::Precedence("bulk".into())]);
}

#[test]
fn forward_without_chain_names_no_source() {
    let x = load("forward-without-chain.eml");
    assert!(!x.forwarded_attachment);
    assert_eq!(x.source, Err(NoSource::UnverifiedForward));
    // The wrapper's own links are still read (the server's joe-job rule
    // guards what they can list).
    assert!(
        x.domains
            .iter()
            .any(|d| d.domain == "reporter-homepage.net"),
        "{:?}",
        x.domains
    );
}

#[test]
fn verdicts_places_signals_and_skips_have_stable_tags_and_readable_reasons() {
    let x = load("html-obfuscated.eml");
    let tags: Vec<&str> = x.hops.iter().map(|h| h.verdict.tag()).collect();
    assert_eq!(tags, ["trusted", "source"]);
    assert_eq!(x.hops[1].verdict.to_string(), "source");
    let places: Vec<&str> = x.domains.iter().map(|d| d.found_in.tag()).collect();
    assert!(
        places.contains(&"href") && places.contains(&"img-src") && places.contains(&"form-action")
    );
    let (host, why) = x
        .skipped_domains
        .iter()
        .find(|(h, _)| h == "192.168.1.1")
        .expect("the private IP is skipped");
    assert_eq!(host, "192.168.1.1");
    assert_eq!(why.tag(), "special-purpose-ip");
    assert!(
        why.to_string().starts_with("special-purpose address ("),
        "{why}"
    );
    let p = load("private-only-chain.eml");
    let special = p
        .hops
        .iter()
        .find(|h| h.verdict.tag() == "special-purpose")
        .unwrap();
    assert!(
        special
            .verdict
            .reason()
            .is_some_and(|r| r.contains("RFC 1918")),
        "{}",
        special.verdict
    );
    let n = load("newsletter-one-click.eml");
    let signals: Vec<String> = n
        .bulk
        .signals
        .iter()
        .map(|s| format!("{}={s}", s.tag()))
        .collect();
    assert!(
        signals.contains(&"precedence=Precedence: bulk".to_string()),
        "{signals:?}"
    );
    assert!(
        signals.iter().any(|s| s.starts_with("list-id=List-Id: ")),
        "{signals:?}"
    );
}
