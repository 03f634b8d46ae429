//! Hostile input: size limits, nesting bombs, URL floods, header floods and
//! a small deterministic fuzz loop over random and mutated messages. The
//! contract is the same everywhere: no panic, no stack overflow, bounded
//! work, and either an error or a (partial) extraction with warnings.

use std::path::PathBuf;

use fadelist_ingest::{ExtractError, ExtractOptions, Extraction, SkipReason, extract};

fn opts() -> ExtractOptions {
    ExtractOptions {
        trusted: vec!["81.2.69.160/27".parse().unwrap()],
        ..Default::default()
    }
}

fn ok(raw: &[u8]) -> Extraction {
    extract(raw, &opts()).expect("an extraction")
}

fn has_warning(x: &Extraction, needle: &str) -> bool {
    x.warnings.iter().any(|w| w.contains(needle))
}

const HEAD: &str = "Received: from bad.example (bad.example [89.160.20.112]) by mx1.reporter.example with ESMTP\n\
                    From: x@spam.example\nSubject: test\nMessage-ID: <h@spam.example>\n";

#[test]
fn too_large_is_refused_before_parsing() {
    let o = ExtractOptions {
        max_message_bytes: 1000,
        ..opts()
    };
    let raw = format!("{HEAD}\n{}", "x".repeat(2000));
    assert_eq!(
        extract(raw.as_bytes(), &o),
        Err(ExtractError::TooLarge {
            limit: 1000,
            actual: raw.len()
        })
    );
    // Exactly at the limit is accepted.
    let raw = &raw.as_bytes()[..1000];
    assert!(extract(raw, &o).is_ok());
    // The default limit is 10 MiB.
    let big = vec![b'a'; 10 * 1024 * 1024 + 1];
    assert!(matches!(
        extract(&big, &ExtractOptions::default()),
        Err(ExtractError::TooLarge { .. })
    ));
}

#[test]
fn not_a_message() {
    for raw in [
        &b""[..],
        b"\r\n\r\n",
        b"hello world, this is not mail\n",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        b"\0\0\0\0: weird\n",
        b"{\"json\": true}",
    ] {
        assert!(
            matches!(extract(raw, &opts()), Err(ExtractError::NotAMessage(_))),
            "{raw:?}"
        );
    }
    // A bare header block is a (tiny) message.
    let x = ok(b"Subject: only a header\n");
    assert_eq!(x.subject.as_deref(), Some("only a header"));
    assert!(has_warning(&x, "not terminated"));
}

#[test]
fn mbox_separator_and_leading_blank_lines_are_tolerated() {
    let raw = format!(
        "\r\nFrom spammer@spam.example Tue Mar 10 08:00:00 2026\n{HEAD}\nhttp://mbox-test.top/\n"
    );
    let x = ok(raw.as_bytes());
    assert_eq!(x.domains[0].domain, "mbox-test.top");
}

#[test]
fn deep_message_nesting_is_cut_at_the_depth_limit() {
    // 20,000 levels of message/rfc822 (about 0.9 MB): mail-parser alone
    // would overflow the stack dropping this.
    let mut raw = String::from(HEAD);
    for _ in 0..20_000 {
        raw.push_str("Content-Type: message/rfc822\n\nSubject: level\n");
    }
    raw.push_str("\nhttp://deep-inside.top/\n");
    let x = ok(raw.as_bytes());
    assert!(has_warning(&x, "depth limit"), "{:?}", x.warnings);
    assert!(x.domains.is_empty());
}

#[test]
fn shallow_message_nesting_is_followed() {
    let mut raw = String::from(HEAD);
    for _ in 0..5 {
        raw.push_str("Content-Type: message/rfc822\n\nSubject: level\n");
    }
    raw.push_str("\nhttp://five-levels-down.top/\n");
    let x = ok(raw.as_bytes());
    assert_eq!(x.domains[0].domain, "five-levels-down.top");
    assert!(!has_warning(&x, "depth limit"));
}

#[test]
fn deep_multipart_nesting_is_cut_at_the_depth_limit() {
    let mut raw = String::from(HEAD);
    for i in 0..20_000 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\n\nhttp://deep-multipart.top/\n");
    let x = ok(raw.as_bytes());
    assert!(has_warning(&x, "depth limit"));
    assert!(has_warning(&x, "beyond the first 64"));
}

#[test]
fn part_flood_is_capped() {
    let mut raw = format!("{HEAD}Content-Type: multipart/mixed; boundary=\"p\"\n\n");
    for i in 0..3000 {
        raw.push_str(&format!(
            "--p\nContent-Type: text/plain\n\nhttp://p{i}.parts.top/\n"
        ));
    }
    raw.push_str("--p--\n");
    let x = ok(raw.as_bytes());
    assert!(has_warning(&x, "3001 MIME parts; only the first 1000"));
    assert_eq!(x.domains[0].domain, "parts.top");
    assert_eq!(x.domains[0].count, 999);
}

#[test]
fn missing_multipart_boundaries_do_not_make_parsing_quadratic() {
    // Every part opens a multipart whose boundary never comes: mail-parser
    // alone would scan to the end of the input once per part (quadratic).
    let mut raw = format!("{HEAD}Content-Type: multipart/mixed; boundary=b\n\n");
    let mut i = 0;
    while raw.len() < 3_000_000 {
        raw.push_str(&format!(
            "--b\nContent-Type: multipart/mixed; boundary=c{i}\n\nhttp://t{i}.unclosed.top/\n"
        ));
        i += 1;
    }
    let started = std::time::Instant::now();
    let x = ok(raw.as_bytes());
    // Generous even for a debug build; the quadratic version takes minutes.
    assert!(started.elapsed().as_secs() < 60);
    assert!(has_warning(&x, "beyond the first 64"));
    assert!(has_warning(&x, "boundary never occurs"));
}

#[test]
fn base64_encoded_nesting_is_bounded_too() {
    // Each level is the previous message, base64-encoded, as a
    // message/rfc822 part: mail-parser would recurse and copy per level.
    let mut inner = format!("{HEAD}\nhttp://encoded-core.top/\n");
    for _ in 0..15 {
        inner = format!(
            "Subject: wrap\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{}\n",
            base64(inner.as_bytes())
        );
    }
    let raw = format!("{HEAD}{inner}");
    let x = ok(raw.as_bytes());
    assert!(has_warning(&x, "depth limit"));
    assert!(x.domains.is_empty());
}

#[test]
fn url_flood_is_capped() {
    let mut raw = format!("{HEAD}\n");
    for i in 0..100_000 {
        raw.push_str(&format!(
            "http://d{i}.flood.top/ http://host{i}-flood.top/x\n"
        ));
    }
    let x = ok(raw.as_bytes());
    // One registered domain for all the flood.top subdomains, then the cap.
    assert_eq!(x.domains.len(), 50);
    assert_eq!(x.domains[0].domain, "flood.top");
    assert!(x.skipped_domains.len() <= 200);
    assert!(
        x.skipped_domains
            .iter()
            .all(|(_, r)| *r == SkipReason::OverCap)
    );
    assert!(has_warning(&x, "URL cap reached"));
    assert!(has_warning(&x, "more skipped domains"));
}

#[test]
fn html_link_flood_is_capped() {
    let mut raw = format!("{HEAD}Content-Type: text/html\n\n<html><body>");
    for i in 0..50_000 {
        raw.push_str(&format!("<a href=\"https://h{i}.html-flood.top/\">x</a>"));
    }
    raw.push_str("</body></html>\n");
    let x = ok(raw.as_bytes());
    assert_eq!(x.domains.len(), 1);
    assert!(has_warning(&x, "URL cap reached"));
}

#[test]
fn received_flood_is_capped() {
    let mut raw = String::new();
    for _ in 0..100_000 {
        raw.push_str("Received: from a (a [10.1.2.3]) by b with SMTP\n");
    }
    raw.push_str("Subject: flood\n\nbody\n");
    let x = ok(raw.as_bytes());
    assert_eq!(x.hops.len(), 100);
    assert!(has_warning(&x, "Received fields; only the first 100"));
    assert!(has_warning(&x, "header fields; only the first 1000"));
}

#[test]
fn huge_header_values_are_clipped() {
    let raw = format!(
        "Subject: {}\nMessage-ID: <{}@x>\n\nbody\n",
        "é".repeat(1_000_000),
        "a".repeat(5000)
    );
    let x = ok(raw.as_bytes());
    assert!(x.subject.as_ref().unwrap().len() <= 998);
    assert!(x.message_id.as_ref().unwrap().len() <= 998);
    assert!(has_warning(&x, "Subject truncated"));
}

#[test]
fn huge_html_attribute_hits_the_parser_memory_limit() {
    let raw = format!(
        "{HEAD}Content-Type: text/html\n\n<a href=\"https://before.top/\">a</a><a title=\"{}\">x</a>\n",
        "y".repeat(6 * 1024 * 1024)
    );
    let x = ok(raw.as_bytes());
    assert!(
        has_warning(&x, "HTML part only partly scanned"),
        "{:?}",
        x.warnings
    );
    assert_eq!(x.domains[0].domain, "before.top");
}

#[test]
fn near_limit_message_is_processed() {
    // ~9.5 MiB: text and HTML alternatives full of links and filler.
    let mut text = String::new();
    let mut html = String::from("<html><body>");
    let mut i = 0;
    // One link per 20 lines keeps the total under the URL cap, so both
    // parts are scanned to the end.
    while text.len() + html.len() < 9_500_000 {
        if i % 20 == 0 {
            text.push_str(&format!("See http://big{}.bulk-test.top/p?{i}\n", i % 97));
            html.push_str(&format!(
                "<a href=\"https://img{}.big-html.top/\">x</a>\n",
                i % 89
            ));
        }
        text.push_str("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.\n");
        html.push_str("<p>Filler <b>text</b> to make this part large enough.</p>\n");
        i += 1;
    }
    let raw = format!(
        "{HEAD}Content-Type: multipart/alternative; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n{text}\n--B\nContent-Type: text/html\n\n{html}</body></html>\n--B--\n"
    );
    assert!(raw.len() < 10 * 1024 * 1024);
    let x = ok(raw.as_bytes());
    assert_eq!(x.domains.len(), 2);
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
    assert_eq!(x.source.as_ref().unwrap().ip.to_string(), "89.160.20.112");
}

/// xorshift64*: deterministic, dependency-free randomness for the fuzz loop.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that steer mutations into the interesting code paths.
const SNIPPETS: &[&[u8]] = &[
    b"\nContent-Type: message/rfc822\n\n",
    b"\nContent-Type: multipart/mixed; boundary=\"q\"\n\n--q\n",
    b"\n--q--\n",
    b"\nContent-Type: multipart/digest; boundary=q\n\n",
    b"\nContent-Transfer-Encoding: base64\n\n",
    b"\nContent-Transfer-Encoding: quoted-printable\n\n=E9=\n",
    b"\nContent-Type: text/html; charset=x-bogus\n\n<a href='http://a&#46;top'>",
    b"\nReceived: from x ([IPv6:2a02:1810::1]) by y\n",
    b"\nReceived: from [89.160.20.112] by y with ESMTPSA\n",
    b"\nContent-Type: multipart/report; report-type=feedback-report; boundary=q\n\n--q\nContent-Type: message/feedback-report\n\nSource-IP: 1.2.3.4\n",
    b"\nContent-Type: text/rfc822-headers\n\n",
    b"<img src=//x.top/a.gif><form action=hxxp://y[.]top>",
    b"=?utf-8?B?////?=",
    b"\r\n\r\n",
    b"\0\xff\xfe",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 => {
                let s = SNIPPETS[rng.below(SNIPPETS.len())];
                v.splice(at..at, s.iter().copied());
            }
            2 => v.truncate(at),
            3 if at < v.len() => {
                let end = (at + rng.below(200)).min(v.len());
                let chunk = v[at..end].to_vec();
                v.splice(at..at, chunk);
            }
            4 if at < v.len() => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at..end);
            }
            _ => v.insert(at, rng.next() as u8),
        }
    }
    v
}

#[test]
fn fuzz_loop_random_and_mutated_inputs_never_panic() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/mail"
    ));
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    corpus.sort();
    assert!(!corpus.is_empty());
    // FADELIST_FUZZ_ROUNDS / FADELIST_FUZZ_SEED allow longer local runs
    // (e.g. in release mode); CI uses the defaults.
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rounds = env("FADELIST_FUZZ_ROUNDS", 4000);
    let mut rng = Rng(env("FADELIST_FUZZ_SEED", 0x9e37_79b9_7f4a_7c15) | 1);
    let small = ExtractOptions {
        max_domains: 3,
        ..opts()
    };
    let mut extracted = 0;
    for round in 0..rounds {
        let input = match round % 4 {
            // Pure random bytes, sometimes behind a valid first header.
            0 => {
                let len = rng.below(600);
                let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                if rng.below(2) == 0 {
                    v.splice(0..0, b"Subject: r\n".iter().copied());
                }
                v
            }
            _ => {
                let base = &corpus[rng.below(corpus.len())];
                mutate(&mut rng, base)
            }
        };
        let o = if round % 2 == 0 { &small } else { &opts() };
        if let Ok(x) = extract(&input, o) {
            extracted += 1;
            assert!(x.domains.len() <= o.max_domains);
            assert_eq!(x.body_hash.len(), 64);
        }
    }
    // Most mutations still look like mail.
    assert!(extracted > rounds / 2, "{extracted}");
}

/// Minimal standard base64 (the test builds encoded nesting with it).
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (n, chunk) in data.chunks(3).enumerate() {
        if n > 0 && n % 19 == 0 {
            out.push('\n');
        }
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
