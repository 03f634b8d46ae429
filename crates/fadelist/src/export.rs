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
//!
//! Files are only rewritten when their content changes, each through a
//! temporary name and a rename, so that `[export] dir` can be a live
//! mirror directory: [`export_loop`] keeps it current while the server
//! runs, rsync moves only what changed, and rbldnsd (`-c`) reloads only
//! those files.

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
    prefix: Option<&str>,
) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    let mut out = prefix.unwrap_or_default().as_bytes().to_vec();
    rbldnsd::write(ty, data, &mut out)
        .with_context(|| format!("cannot write {}", path.display()))?;
    install(&path, &out)?;
    Ok(path)
}

/// Puts `bytes` at `path` the way a mirror needs it: untouched when the
/// file already holds exactly them (its mtime stays, so rsync and
/// rbldnsd's change check skip it), else written to a temporary name in
/// the same directory, synced and renamed into place, so a reader (rsync,
/// rbldnsd) never sees a half-written file.
fn install(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("export");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// How [`export_rbldnsd`] lays the files out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Write every kind of file for every dataset, empty ones included, so
    /// that the set of files (and `rbldnsd.zones`) stays the same when a
    /// report-fed zone gets its first IPv6 or domain listing: rbldnsd only
    /// reloads the files it was started with. For a live mirror directory.
    pub all_files: bool,
    /// Stamp each zone's first file with `$TIMESTAMP 0 <expires_at>` (Unix
    /// seconds): an rbldnsd serving it stops answering for the zone after
    /// that moment unless a newer stamp arrives, so an edge cut off from
    /// updates does not go on answering stale data.
    pub expires_at: Option<u64>,
}

/// `expires_at` as rbldnsd's `$TIMESTAMP` wants it: `yyyy:mm:dd:hh:mi:ss`
/// in UTC (rbldnsd counts it as seconds since the epoch, no time zone).
pub fn rbldnsd_stamp(unix: u64) -> String {
    let (days, secs) = (unix / 86_400, unix % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}:{month:02}:{day:02}:{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Writes every zone of `snapshot` into `dir`; returns the rbldnsd zone
/// specifications (`zone:type:file`) in serving order.
pub fn export_rbldnsd(snapshot: &Snapshot, dir: &Path) -> anyhow::Result<Vec<String>> {
    export_rbldnsd_with(snapshot, dir, ExportOptions::default())
}

/// [`export_rbldnsd`] with a choice of layout.
pub fn export_rbldnsd_with(
    snapshot: &Snapshot,
    dir: &Path,
    options: ExportOptions,
) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut specs = Vec::new();
    // A followed zone without data is left out (its mirrors keep the
    // last files, which expire by their own $TIMESTAMP).
    for zone in snapshot.zones.iter().filter(|z| !z.unavailable) {
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
            if options.all_files || !v4.ip4.is_empty() {
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
            if options.all_files || !v6.ip6.is_empty() {
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
            if options.all_files || !dn.domains.is_empty() {
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
        if options.all_files || !data_lists_test {
            files.push((
                format!("{}.test.dnset", zone.name()),
                DatasetType::Dnset,
                DatasetData {
                    answers: vec![test_answer],
                    ttl: Some(zone.test_ttl),
                    domains: if data_lists_test {
                        Vec::new()
                    } else {
                        vec![DomainEntry {
                            name: "test".into(),
                            matching: DomainMatch::Exact,
                            value: EntryValue::Listed(0),
                        }]
                    },
                    ..DatasetData::default()
                },
            ));
        }
        for (k, (name, ty, data)) in files.into_iter().enumerate() {
            // rbldnsd stops serving a zone when any of its datasets has
            // expired: one stamp in the small header file is enough, and
            // refreshing it rewrites nothing else.
            let stamp = options
                .expires_at
                .filter(|_| k == 0)
                .map(|at| format!("$TIMESTAMP 0 {}\n", rbldnsd_stamp(at)));
            write_file(dir, &name, ty, &data, stamp.as_deref())?;
            specs.push(format!("{}:{}:{}", zone.name(), ty.name(), name));
        }
    }
    install(
        &dir.join("rbldnsd.zones"),
        (specs.join("\n") + "\n").as_bytes(),
    )?;
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

/// `[export] dir`: keeps the directory current with the served data,
/// checking every `interval` (only a new publication is exported; only
/// changed files are rewritten), until `shutdown`. With `expires`, each
/// zone's header file carries a `$TIMESTAMP` expiry `expires` ahead, moved
/// on once a quarter of it has passed even when nothing else changed.
pub async fn export_loop(
    publisher: fadelist_dns::Publisher,
    dir: PathBuf,
    interval: std::time::Duration,
    expires: Option<std::time::Duration>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    tracing::info!(dir = %dir.display(), ?interval, ?expires, "rbldnsd mirror directory: exporting");
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<std::sync::Arc<Snapshot>> = None;
    let mut stamped_until: Option<u64> = None;
    let mut last_specs: Option<Vec<String>> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let expires_at = expires.map(|e| {
            let e = e.as_secs().max(1);
            match stamped_until {
                // Still more than three quarters ahead: keep the stamp (and
                // the file) as they are.
                Some(until) if until.saturating_sub(now) > e - e / 4 => until,
                _ => now + e,
            }
        });
        let snapshot = publisher.snapshot();
        if last
            .as_ref()
            .is_some_and(|l| std::sync::Arc::ptr_eq(l, &snapshot))
            && expires_at == stamped_until
        {
            continue;
        }
        let options = ExportOptions {
            all_files: true,
            expires_at,
        };
        let (snap, out) = (snapshot.clone(), dir.clone());
        match tokio::task::spawn_blocking(move || export_rbldnsd_with(&snap, &out, options)).await {
            Ok(Ok(specs)) => {
                if last_specs.as_ref().is_some_and(|old| *old != specs) {
                    // rbldnsd reads its zone list only at start.
                    tracing::warn!(
                        "rbldnsd mirror directory: the zone specifications changed \
                         (rbldnsd.zones); restart the rbldnsd edges"
                    );
                }
                last_specs = Some(specs);
                last = Some(snapshot);
                stamped_until = expires_at;
            }
            Ok(Err(e)) => tracing::error!("rbldnsd mirror directory: {e:#}"),
            Err(e) => tracing::error!("rbldnsd mirror directory: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rbldnsd_stamp;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(rbldnsd_stamp(0), "1970:01:01:00:00:00");
        // 2000-02-29 (a leap day in a century year) 12:34:56.
        assert_eq!(rbldnsd_stamp(951_827_696), "2000:02:29:12:34:56");
        // 2026-12-02 22:10:00 and the last second of 2026.
        assert_eq!(rbldnsd_stamp(1_796_249_400), "2026:12:02:22:10:00");
        assert_eq!(rbldnsd_stamp(1_798_761_599), "2026:12:31:23:59:59");
    }
}
