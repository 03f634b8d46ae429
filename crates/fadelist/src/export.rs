//! `fadelist export --format rbldnsd`: the served data as rbldnsd files.
//!
//! Mirrors that run stock rbldnsd serve these files with the same answers.
//! Each dataset becomes up to three files (`ip4trie` for IPv4, `ip6trie`
//! for IPv6, `dnset` for domains; the trie types give exactly fadelist's
//! longest-prefix semantics). fadelist's built-in RFC 5782 behaviour is
//! written out explicitly: 127.0.0.1 and `invalid` become exclusions in
//! every dataset, and a small test dataset per zone lists 127.0.0.2 and
//! `test`. A file `rbldnsd.zones` lists the zone specifications to pass to
//! rbldnsd.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use fadelist_core::data::{
    AnswerSpec, DatasetData, DomainEntry, DomainMatch, EntryValue, Ip4Entry, SoaSpec,
};
use fadelist_core::rbldnsd::{self, DatasetType};
use fadelist_core::snapshot::Snapshot;

use crate::config::dataset_type_name;

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
                    format!("{}.{i}.ip4trie", zone.name()),
                    DatasetType::Ip4Trie,
                    v4,
                ));
            }
            if !v6.ip6.is_empty() {
                files.push((
                    format!("{}.{i}.ip6trie", zone.name()),
                    DatasetType::Ip6Trie,
                    v6,
                ));
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
        header.answers = vec![test_answer.clone()];
        header.ttl = Some(zone.test_ttl);
        header.ip4 = vec![Ip4Entry {
            net: u32::from(Ipv4Addr::new(127, 0, 0, 2)),
            len: 32,
            value: EntryValue::Listed(0),
        }];
        files.insert(
            0,
            (
                format!("{}.test.ip4trie", zone.name()),
                DatasetType::Ip4Trie,
                header,
            ),
        );
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
        for (name, ty, data) in files {
            write_file(dir, &name, ty, &data)?;
            specs.push(format!(
                "{}:{}:{}",
                zone.name(),
                dataset_type_name(ty),
                name
            ));
        }
    }
    let list = dir.join("rbldnsd.zones");
    std::fs::write(&list, specs.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", list.display()))?;
    Ok(specs)
}
