//! Replays the fuzz corpus on stable Rust, without a fuzzer.
//!
//! Every file in `fuzz/corpus/*/` and `fuzz/regressions/` (and every seed
//! query of the harness, in memory) goes through `parse_query` and through
//! the whole UDP answer path against the fuzzing snapshot, with exactly the
//! invariants of the fuzz targets: the checks live in
//! `fuzz/src/harness.rs`, compiled into this test through `#[path]`.
//! Inputs that once crashed are also kept as named tests below, so a
//! regression names its bug. See `fuzz/README.md`.

#[path = "../../../fuzz/src/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

use fadelist_dns::fast::{Answered, Responder};
use fadelist_dns::handler::{Protocol, respond_bytes};
use fadelist_dns::publisher::Served;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir` (and of its subdirectories), sorted; none if it is
/// missing.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p
            .file_name()
            .is_some_and(|n| n != ".gitkeep" && n != "README.md")
        {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// How many inputs took each way through [`Responder::respond`].
#[derive(Debug, Default)]
struct Tally {
    fast: usize,
    fallback: usize,
    silent: usize,
}

/// Both targets' checks on one input: the failures, described, and the
/// path that answered (when the answer path passed its checks).
fn check(
    served: &Served,
    responder: &mut Responder,
    what: &str,
    pkt: &[u8],
) -> (Vec<String>, Option<Answered>) {
    let mut failures = Vec::new();
    match std::panic::catch_unwind(|| harness::check_parse(pkt)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => failures.push(format!("{what}: parse_query: {e}\n  packet {pkt:02x?}")),
        Err(_) => failures.push(format!("{what}: parse_query panicked\n  packet {pkt:02x?}")),
    }
    let answered = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        harness::check_respond(served, responder, pkt)
    })) {
        Ok(Ok(a)) => Some(a),
        Ok(Err(e)) => {
            failures.push(format!("{what}: respond: {e}\n  packet {pkt:02x?}"));
            None
        }
        Err(_) => {
            failures.push(format!("{what}: respond panicked\n  packet {pkt:02x?}"));
            None
        }
    };
    (failures, answered)
}

/// Runs [`check`] on every input; panics listing all failures.
fn replay<'a>(what: &str, inputs: impl IntoIterator<Item = (String, &'a [u8])>) -> Tally {
    let served = harness::served();
    let mut responder = Responder::new();
    let mut failures = Vec::new();
    let mut tally = Tally::default();
    for (name, pkt) in inputs {
        let (found, answered) = check(&served, &mut responder, &name, pkt);
        failures.extend(found);
        match answered {
            Some(Answered::Fast) => tally.fast += 1,
            Some(Answered::Fallback) => tally.fallback += 1,
            Some(Answered::Silent) => tally.silent += 1,
            None => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{what}: {tally:?}");
    tally
}

/// Replays every file of `dir`.
fn replay_dir(dir: &str) -> Tally {
    let files: Vec<(String, Vec<u8>)> = files(&fuzz_dir().join(dir))
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).expect("readable corpus file");
            (f.display().to_string(), bytes)
        })
        .collect();
    replay(dir, files.iter().map(|(n, b)| (n.clone(), &b[..])))
}

#[test]
fn corpus_parse_query() {
    let t = replay_dir("corpus/parse_query");
    assert!(
        t.fast > 0 && t.fallback > 0,
        "the parse_query corpus is missing"
    );
}

#[test]
fn corpus_respond() {
    let t = replay_dir("corpus/respond");
    assert!(
        t.fast > 100 && t.fallback > 100 && t.silent > 0,
        "the respond corpus is missing or lost its variety: {t:?}"
    );
}

/// Every file in `fuzz/regressions/` (the named tests below each keep one
/// of them too).
#[test]
fn regressions() {
    replay_dir("regressions");
}

/// The seed queries, from memory (the corpus is minimised, so not every
/// seed is kept there): real queries mostly take the fast path, the
/// malformed ones the fallback, and both paths say the same.
#[test]
fn seeds() {
    let seeds = harness::seeds();
    let t = replay("seeds", seeds.iter().map(|(n, p)| (n.clone(), &p[..])));
    assert!(t.fast > seeds.len() / 2 && t.fallback > 20 && t.silent > 0);
}

/// The checks are not vacuous: replies that break an invariant are caught.
#[test]
fn checks_catch_bad_replies() {
    let served = harness::served();
    let (_, pkt) = harness::seeds()
        .into_iter()
        .find(|(n, _)| n == "v4-too-big-any")
        .expect("seed");
    let mut good = Vec::new();
    assert_eq!(
        Responder::new().respond(&served, &pkt, harness::CLIENT, &mut good),
        Answered::Fast
    );
    harness::check_reply(&pkt, &good).expect("the real reply passes");
    let hickory = respond_bytes(&served, &pkt, harness::CLIENT, Protocol::Udp).unwrap();
    let full = respond_bytes(&served, &pkt, harness::CLIENT, Protocol::Tcp).unwrap();
    harness::compare(&good, &hickory, &full, 512).expect("the real reply compares equal");

    let mut bad_id = good.clone();
    bad_id[1] ^= 1;
    let mut qr0 = good.clone();
    qr0[2] &= 0x7f;
    let mut oversized = good.clone();
    oversized.extend_from_slice(&[0; 600]);
    let mut cut = good.clone();
    cut.truncate(good.len() - 3);
    for (what, reply) in [
        ("id", bad_id),
        ("qr", qr0),
        ("size", oversized),
        ("parse", cut),
    ] {
        assert!(
            harness::check_reply(&pkt, &reply).is_err(),
            "a bad {what} passes"
        );
    }
    // The differential check sees a changed rcode, a dropped flag and a
    // TC bit without cause.
    let mut rcode = good.clone();
    rcode[3] |= 3;
    let mut aa = good.clone();
    aa[2] &= !0x04;
    let mut tc = hickory.clone();
    tc[2] &= !0x02;
    assert!(harness::compare(&rcode, &hickory, &full, 512).is_err());
    assert!(harness::compare(&aa, &hickory, &full, 512).is_err());
    assert!(harness::compare(&good, &tc, &full, 512).is_err());

    // A packet the parser accepts passes its checks; the checks of both
    // targets run on it without complaint.
    assert!(harness::check_parse(&pkt).is_ok());
    let (failures, answered) = check(&served, &mut Responder::new(), "seed", &pkt);
    assert!(failures.is_empty() && answered == Some(Answered::Fast));
}
