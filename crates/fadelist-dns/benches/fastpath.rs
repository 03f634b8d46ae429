//! Micro-benchmark of the UDP fast path: parse + resolve + encode per
//! query, against the hickory-proto path, for listed and unlisted A (and
//! listed TXT) queries over 1M listed IPv4 addresses, and for domain
//! hits and misses over 200k listed domains.
//!
//! `cargo bench -p fadelist-dns --bench fastpath` (no criterion: a plain
//! loop; each figure is the best of 5 rounds of ≥0.3 s of thread CPU
//! time).

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use fadelist_core::data::{
    AnswerSpec, DatasetData, DomainEntry, DomainMatch, EntryValue, Ip4Entry,
};
use fadelist_core::dataset::Dataset;
use fadelist_core::qname;
use fadelist_core::snapshot::{Snapshot, Soa, Zone};
use fadelist_core::testrng::TestRng;
use fadelist_dns::Publisher;
use fadelist_dns::fast::{Responder, Rrl, RrlOptions, no_labels, parse_query};
use fadelist_dns::handler::{Protocol, respond_bytes};

fn query(ip: u32, qtype: u16, id: u16) -> Vec<u8> {
    let name = format!("{}.iprbl.test", qname::v4_query_name(Ipv4Addr::from(ip)));
    query_name(&name, qtype, id)
}

fn query_name(name: &str, qtype: u16, id: u16) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for l in name.split('.') {
        p.push(l.len() as u8);
        p.extend_from_slice(l.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&[0, 1]);
    p
}

/// CPU time of this thread, in nanoseconds, from the scheduler's
/// accounting: other load on the machine (this box is shared) then
/// lengthens the run but not the figure. Wall time where unavailable.
fn cpu_ns(epoch: Instant) -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| epoch.elapsed().as_nanos() as u64)
}

/// Best-of-5 CPU nanoseconds per call of `f` over `pkts`.
fn measure<'p>(pkts: &'p [Vec<u8>], mut f: impl FnMut(&'p [u8]) -> usize) -> f64 {
    let epoch = Instant::now();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = cpu_ns(epoch);
        let mut n = 0u64;
        let mut sink = 0usize;
        while cpu_ns(epoch) - start < 300_000_000 {
            for p in pkts {
                sink = sink.wrapping_add(f(p));
            }
            n += pkts.len() as u64;
        }
        black_box(sink);
        best = best.min((cpu_ns(epoch) - start) as f64 / n as f64);
    }
    best
}

fn main() {
    let mut rng = TestRng::new(0x5eed_2024);
    let mut listed: Vec<u32> = (0..1_000_000)
        .map(|_| rng.next_u64() as u32)
        .filter(|ip| ip >> 24 != 127)
        .collect();
    listed.sort_unstable();
    listed.dedup();
    let data = DatasetData {
        answers: vec![AnswerSpec::new(
            Ipv4Addr::new(127, 0, 0, 2),
            Some("Listed, see https://example.net/lookup?q=$".into()),
        )],
        ip4: listed
            .iter()
            .map(|&net| Ip4Entry {
                net,
                len: 32,
                value: EntryValue::Listed(0),
            })
            .collect(),
        ..Default::default()
    };
    let soa = Soa {
        expire: 86400,
        ttl: 60,
        ..Soa::default_for("iprbl.test", 1)
    };
    let zone = Zone::new(
        "iprbl.test",
        soa.clone(),
        vec![],
        3600,
        vec![Arc::new(Dataset::build(&[&data], 300))],
    )
    .unwrap();
    // 200,000 domains, as in gen-data.py's default data set, a tenth of
    // them listed with their subdomains (`.example.com`).
    let word = |rng: &mut TestRng| -> String {
        let n = 6 + rng.below(9);
        (0..n)
            .map(|_| char::from(b'a' + rng.below(26) as u8))
            .collect()
    };
    let tlds = ["com", "net", "org", "info", "ru", "cn", "biz", "xyz"];
    let mut domains: Vec<String> = (0..200_000)
        .map(|_| format!("{}.{}", word(&mut rng), rng.pick(&tlds)))
        .collect();
    domains.sort_unstable();
    domains.dedup();
    let ddata = DatasetData {
        answers: vec![AnswerSpec::new(
            Ipv4Addr::new(127, 0, 0, 2),
            Some("Listed, see https://example.net/lookup?q=$".into()),
        )],
        domains: domains
            .iter()
            .enumerate()
            .map(|(i, d)| DomainEntry {
                name: d.clone(),
                matching: if i % 10 == 0 {
                    DomainMatch::Both
                } else {
                    DomainMatch::Exact
                },
                value: EntryValue::Listed(0),
            })
            .collect(),
        ..Default::default()
    };
    let uri_zone = Zone::new(
        "urirbl.test",
        Soa {
            mname: "ns.urirbl.test".into(),
            rname: "hostmaster.urirbl.test".into(),
            ..soa.clone()
        },
        vec![],
        3600,
        vec![Arc::new(Dataset::build(&[&ddata], 300))],
    )
    .unwrap();
    let publisher = Publisher::new(Snapshot {
        zones: vec![zone, uri_zone],
    });
    let served = publisher.load();

    let sample = |rng: &mut TestRng, n: usize, want_listed: bool, qtype: u16| -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let ip = if want_listed {
                *rng.pick(&listed)
            } else {
                rng.next_u64() as u32
            };
            if !want_listed && (ip >> 24 == 127 || listed.binary_search(&ip).is_ok()) {
                continue;
            }
            out.push(query(ip, qtype, rng.next_u64() as u16));
        }
        out
    };
    let domain_sample = |rng: &mut TestRng, n: usize, want_listed: bool| -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| {
                let name = if want_listed {
                    rng.pick(&domains).clone()
                } else {
                    // Unlisted, but often below a listed name's TLD and
                    // sometimes a subdomain, as URI lookups are.
                    format!("{}.{}", word(rng), rng.pick(&tlds))
                };
                query_name(&format!("{name}.urirbl.test"), 1, rng.next_u64() as u16)
            })
            .collect()
    };
    let sets = [
        ("listed A", sample(&mut rng, 10_000, true, 1)),
        ("unlisted A", sample(&mut rng, 10_000, false, 1)),
        ("listed TXT", sample(&mut rng, 10_000, true, 16)),
        ("domain hit", domain_sample(&mut rng, 10_000, true)),
        ("domain miss", domain_sample(&mut rng, 10_000, false)),
    ];
    let src = SocketAddr::from(([127, 0, 0, 1], 5353));
    let mut responder = Responder::new();
    let mut out = Vec::with_capacity(64 * 1024);
    println!(
        "{} listed IPv4 addresses, {} listed domains; CPU ns per query (best of 5):",
        listed.len(),
        domains.len()
    );
    println!("  parse_query   the public parser alone (it fills a 2 KiB label array)");
    println!("  resolve       Snapshot::resolve alone");
    println!("  respond_fast  parse_query + resolve + encode");
    println!("  worker        what a worker does per datagram: label array reused,");
    println!("                parse + resolve + encode into the reply arena");
    println!("  +rrl          worker, then response-rate limiting's bookkeeping of the");
    println!("                reply ([rrl] on, a rate nothing reaches: every reply accounted)");
    println!("  hickory       the hickory-proto path (respond_bytes), for comparison");
    println!(
        "{:<12} {:>12} {:>9} {:>13} {:>9} {:>9} {:>9}",
        "query", "parse_query", "resolve", "respond_fast", "worker", "+rrl", "hickory"
    );
    let rrl_opts = RrlOptions {
        responses_per_second: 10_000_000,
        nxdomains_per_second: 10_000_000,
        nodata_per_second: 10_000_000,
        errors_per_second: 10_000_000,
        ..RrlOptions::default()
    };
    let mut rrl = Rrl::new(&rrl_opts, 1, 0);
    for (name, pkts) in &sets {
        let parse = measure(pkts, |p| parse_query(p).map_or(0, |q| q.labels().len()));
        // The lookup alone, on names split beforehand.
        let names: Vec<Vec<&[u8]>> = pkts
            .iter()
            .map(|p| parse_query(p).unwrap().labels().to_vec())
            .collect();
        let mut i = 0;
        let resolve = measure(pkts, |_| {
            i = (i + 1) % names.len();
            usize::from(served.snapshot.resolve(&names[i]).zone().is_some())
        });
        let fast = measure(pkts, |p| {
            out.clear();
            let q = parse_query(p).unwrap();
            responder.respond_fast(&served, &q, p, &mut out);
            out.len()
        });
        // What a worker does: label room reused over the 10,000 packets
        // (a worker reuses it over a batch).
        let mut labels = no_labels();
        let full = measure(pkts, |p| {
            out.clear();
            responder.respond_with(&served, p, src, &mut labels, &mut out);
            out.len()
        });
        let mut now_ms = 0u64;
        let with_rrl = measure(pkts, |p| {
            out.clear();
            responder.respond_with(&served, p, src, &mut labels, &mut out);
            // The workers read the clock once per batch of up to 64.
            now_ms += 1;
            usize::from(rrl.check(&served, &out, src, now_ms / 64) as u8)
        });
        let hickory = measure(pkts, |p| {
            respond_bytes(&served, p, src, Protocol::Udp).map_or(0, |r| r.len())
        });
        println!(
            "{name:<12} {parse:>12.0} {resolve:>9.0} {fast:>13.0} {full:>9.0} {with_rrl:>9.0} {hickory:>9.0}"
        );
    }
}
