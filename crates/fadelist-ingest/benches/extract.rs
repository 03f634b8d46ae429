//! Micro-benchmark of mail analysis: ns per `extract` of the fixture
//! mails, as they are and padded to 24 KB (the size the write-path
//! benchmark posts). Run: `cargo bench -p fadelist-ingest --bench extract`.
//!
//! Prints a table; asserts nothing about time (timings belong in
//! benchmarks, never in tests).

use std::time::Instant;

use fadelist_ingest::{ExtractOptions, extract};

/// Pads the HTML part of `raw` (before `</body>`) with paragraphs to about
/// `size` bytes, as the load generator does.
fn padded(raw: &str, size: usize) -> String {
    let Some(at) = raw.rfind("</body>") else {
        return raw.to_string();
    };
    let words = [
        "offer",
        "today",
        "special",
        "member",
        "account",
        "discount",
        "limited",
        "exclusive",
        "shipping",
        "order",
        "price",
        "quality",
    ];
    let mut pad = String::new();
    let mut i = 0usize;
    while raw.len() + pad.len() < size {
        pad.push_str("<p>");
        for k in 0..9 {
            pad.push_str(words[(i * 7 + k * 3) % words.len()]);
            pad.push(' ');
        }
        pad.push_str("</p>\r\n");
        i += 1;
    }
    format!("{}{}{}", &raw[..at], pad, &raw[at..])
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/mail");
    let opts = ExtractOptions {
        trusted: vec!["81.2.69.160/27".parse().expect("net")],
        ..ExtractOptions::default()
    };
    println!("| mail | bytes | µs per extract |");
    println!("|---|--:|--:|");
    for name in [
        "spam-plain.eml",
        "html-obfuscated.eml",
        "newsletter-one-click.eml",
        "esp-bulk.eml",
        "arf-abuse.eml",
    ] {
        let raw = std::fs::read(format!("{dir}/{name}")).expect("fixture");
        let text = String::from_utf8_lossy(&raw).into_owned();
        for (label, mail) in [("as is", text.clone()), ("24 KB", padded(&text, 24 * 1024))] {
            let bytes = mail.as_bytes();
            // Warm up, then time enough rounds for a stable mean.
            for _ in 0..20 {
                let _ = extract(bytes, &opts);
            }
            let rounds = 400;
            let t = Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(extract(std::hint::black_box(bytes), &opts).ok());
            }
            let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
            println!("| {name} ({label}) | {} | {us:.1} |", bytes.len());
        }
    }
}
