//! `fadelist export --format rbldnsd`: the served data as rbldnsd files.
//!
//! Mirrors that run stock rbldnsd serve these files with the same answers.
//! Each dataset becomes up to three files: `ip4set` for IPv4 (the writer
//! lays longest-prefix data out so that rbldnsd's ip4set answers the same,
//! and ip4set can carry several answers for one entry), `ip6trie` for IPv6
//! and `dnset` for domains. An IPv6 entry with several records per answer
//! (which ip6trie cannot express) is spread over several ip6trie files,
//! one record per file: rbldnsd answers with the union of a zone's
//! datasets. fadelist's built-in RFC 5782 behaviour is written out
//! explicitly: 127.0.0.1 and `invalid` become exclusions in every dataset,
//! and 127.0.0.2 and `test` are listed by a small extra dataset when the
//! data does not list them already. A file `rbldnsd.zones` lists the zone
//! specifications to pass to rbldnsd.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use fadelist_core::data::{
    AnswerSpec, DatasetData, DomainEntry, DomainMatch, EntryValue, Ip4Entry, SoaSpec,
};
use fadelist_core::dataset::EXCLUDED;
use fadelist_core::rbldnsd::{self, DatasetType};
use fadelist_core::snapshot::Snapshot;

fn write_file(
    dir: &Path,
    name: &str,
    ty: DatasetType,
    data: &DatasetData,
) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?,
    );
    rbldnsd::write(ty, data, &mut out)
        .with_context(|| format!("cannot write {}", path.display()))?;
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Writes every zone of `snapshot` into `dir`; returns the rbldnsd zone
/// specifications (`zone:type:file`) in serving order.
pub fn export_rbldnsd(snapshot: &Snapshot, dir: &Path) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut specs = Vec::new();
    for zone in &snapshot.zones {
        let s = &zone.soa;
        let mut header = DatasetData {
            soa: Some(SoaSpec {
                ttl: s.ttl,
                mname: s.mname.clone(),
                rname: s.rname.clone(),
                serial: s.serial,
                refresh: s.refresh,
                retry: s.retry,
                expire: s.expire,
                minimum: s.minimum,
            }),
            ns: zone.ns.clone(),
            ns_ttl: Some(zone.ns_ttl),
            ..DatasetData::default()
        };
        let mut files = Vec::new();
        for (i, ds) in zone.datasets.iter().enumerate() {
            let all = ds.to_data();
            let mut v4 = DatasetData {
                answers: all.answers.clone(),
                ttl: all.ttl,
                ip4: all.ip4,
                ..DatasetData::default()
            };
            let v6 = DatasetData {
                answers: all.answers.clone(),
                ttl: all.ttl,
                ip6: all.ip6,
                ..DatasetData::default()
            };
            let mut dn = DatasetData {
                answers: all.answers,
                ttl: all.ttl,
                domains: all.domains,
                ..DatasetData::default()
            };
            if !v4.ip4.is_empty() {
                v4.ip4.retain(|e| !(e.len == 32 && e.net == 0x7f00_0001));
                v4.ip4.push(Ip4Entry {
                    net: 0x7f00_0001,
                    len: 32,
                    value: EntryValue::Excluded,
                });
                files.push((
                    format!("{}.{i}.ip4set", zone.name()),
                    DatasetType::Ip4Set,
                    v4,
                ));
            }
            if !v6.ip6.is_empty() {
                for (layer, data) in single_record_layers(&v6).into_iter().enumerate() {
                    let suffix = if layer == 0 {
                        String::new()
                    } else {
                        format!(".{layer}")
                    };
                    files.push((
                        format!("{}.{i}{suffix}.ip6trie", zone.name()),
                        DatasetType::Ip6Trie,
                        data,
                    ));
                }
            }
            if !dn.domains.is_empty() {
                dn.domains.retain(|d| d.name != "invalid");
                dn.domains.push(DomainEntry {
                    name: "invalid".into(),
                    matching: DomainMatch::Exact,
                    value: EntryValue::Excluded,
                });
                files.push((format!("{}.{i}.dnset", zone.name()), DatasetType::Dnset, dn));
            }
        }
        // The test entries, answered like fadelist's built-in ones.
        let test_answer = AnswerSpec {
            a: zone.test_answer.a.to_vec(),
            txt: zone.test_answer.txt.iter().map(|t| t.to_string()).collect(),
        };
        // fadelist answers the test entries from the data when the data
        // lists them, and only otherwise with its built-in answer.
        let test_v4 = u32::from(Ipv4Addr::new(127, 0, 0, 2));
        let data_lists_v4 = zone
            .datasets
            .iter()
            .any(|d| d.find_v4(test_v4).is_some_and(|(_, v)| v != EXCLUDED));
        let test_key = b"\x04test";
        let data_lists_test = zone.datasets.iter().any(|d| {
            d.find_domain(test_key, &[0, test_key.len()], 1)
                .is_some_and(|(_, v, _)| v != EXCLUDED)
        });
        header.answers = vec![test_answer.clone()];
        header.ttl = Some(zone.test_ttl);
        if !data_lists_v4 {
            header.ip4 = vec![Ip4Entry {
                net: test_v4,
                len: 32,
                value: EntryValue::Listed(0),
            }];
        }
        // This file always exists: it carries the zone's $SOA and $NS.
        files.insert(
            0,
            (
                format!("{}.test.ip4set", zone.name()),
                DatasetType::Ip4Set,
                header,
            ),
        );
        if !data_lists_test {
            files.push((
                format!("{}.test.dnset", zone.name()),
                DatasetType::Dnset,
                DatasetData {
                    answers: vec![test_answer],
                    ttl: Some(zone.test_ttl),
                    domains: vec![DomainEntry {
                        name: "test".into(),
                        matching: DomainMatch::Exact,
                        value: EntryValue::Listed(0),
                    }],
                    ..DatasetData::default()
                },
            ));
        }
        for (name, ty, data) in files {
            write_file(dir, &name, ty, &data)?;
            specs.push(format!("{}:{}:{}", zone.name(), ty.name(), name));
        }
    }
    let list = dir.join("rbldnsd.zones");
    std::fs::write(&list, specs.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", list.display()))?;
    Ok(specs)
}

/// Splits IPv6 data whose answers carry several A or TXT records into
/// layers with one A (and at most one TXT) per answer; layer `k` holds the
/// k-th record of every answer that has one. Exclusions go into every
/// layer, so each layer keeps the gaps of the original.
fn single_record_layers(data: &DatasetData) -> Vec<DatasetData> {
    let depth = data
        .answers
        .iter()
        .map(|a| a.a.len().max(a.txt.len()))
        .max()
        .unwrap_or(1)
        .max(1);
    (0..depth)
        .map(|k| {
            let answers: Vec<AnswerSpec> = data
                .answers
                .iter()
                .map(|a| AnswerSpec {
                    // An answer with fewer A values than TXTs repeats its
                    // last A: rbldnsd pairs one A with each TXT.
                    a: a.a.get(k).or(a.a.last()).copied().into_iter().collect(),
                    txt: a.txt.get(k).cloned().into_iter().collect(),
                })
                .collect();
            let ip6 = data
                .ip6
                .iter()
                .filter(|e| match e.value {
                    EntryValue::Excluded => true,
                    EntryValue::Listed(i) => data
                        .answers
                        .get(i as usize)
                        .is_some_and(|a| a.a.len().max(a.txt.len()) > k),
                })
                .copied()
                .collect();
            DatasetData {
                answers,
                ip6,
                ttl: data.ttl,
                ..DatasetData::default()
            }
        })
        .collect()
}
