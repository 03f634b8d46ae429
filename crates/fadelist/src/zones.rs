//! Zones built from rbldnsd data files: loading, change detection and
//! reloading, and assembling the [`Snapshot`] the DNS front serves.
//!
//! Each dataset remembers the files it was built from (modification time,
//! size, inode). A reload pass re-reads only datasets whose files changed,
//! parses them completely off the query path, and replaces the dataset only
//! if every file parsed: a file with an error keeps the previous data and
//! the error is logged with file and line. Unchanged datasets are shared
//! (`Arc`) with the new snapshot, so a reload costs one dataset's build.
//! A zone's querier ACL (an `acl` dataset) is loaded and reloaded the same
//! way and becomes the zone's [`Zone::acl`].
//!
//! What each dataset was last loaded from (entries, bytes, when, how long)
//! and its last reload error (file, line, message; cleared by the next
//! good load) are kept for `/api/v1/status`, `/readyz` and the metrics,
//! and published to a [`DataStatus`] board after every load and reload
//! pass, so that readers never wait for the reloader, which holds the
//! serving lock while it parses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use fadelist_core::data::{AclData, Columns, SoaSpec};
use fadelist_core::dataset::Dataset;
use fadelist_core::dataset::acl::Acl;
use fadelist_core::dataset::layer::Layer;
use fadelist_core::rbldnsd;
use fadelist_core::snapshot::{Snapshot, Soa, Zone, normalize_name};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::config::{Config, DatasetKind, ZoneConfig};

/// What identifies one version of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    mtime: Option<SystemTime>,
    len: u64,
    ino: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Ok(Stamp {
        mtime: m.modified().ok(),
        len: m.len(),
        ino,
    })
}

/// Why a dataset could not be loaded: the file, the line when the
/// parser names one, and what is wrong. Displayed as before it was a
/// type (`FILE:LINE: MESSAGE`), which the logs and scripts read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file at fault.
    pub file: PathBuf,
    /// Its line (1-based), for a syntax error.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads a file whole, making sure it did not change while being read
/// (a writer rewriting it in place would otherwise hand us half a file).
fn read_stable(path: &Path) -> Result<(Vec<u8>, Stamp), LoadError> {
    let unreadable = |e: std::io::Error| LoadError {
        file: path.to_path_buf(),
        line: None,
        message: format!("cannot read: {e}"),
    };
    for _ in 0..5 {
        let before = stamp(path).map_err(unreadable)?;
        let bytes = std::fs::read(path).map_err(unreadable)?;
        let after = stamp(path).map_err(unreadable)?;
        if before == after && after.len == bytes.len() as u64 {
            return Ok((bytes, after));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(LoadError {
        file: path.to_path_buf(),
        line: None,
        message: "the file keeps changing while being read".into(),
    })
}

/// Parses a data file of type `ty` while reading it, a block at a time,
/// making sure it did not change meanwhile (as [`read_stable`] does).
fn load_stable(
    path: &Path,
    ty: rbldnsd::DatasetType,
    located: impl Fn(rbldnsd::ParseError) -> LoadError,
) -> Result<(Columns, Stamp), LoadError> {
    use std::io::Read as _;
    let unreadable = |e: std::io::Error| LoadError {
        file: path.to_path_buf(),
        line: None,
        message: format!("cannot read: {e}"),
    };
    let mut buf = vec![0u8; 256 * 1024];
    for _ in 0..5 {
        let before = stamp(path).map_err(unreadable)?;
        let mut file = std::fs::File::open(path).map_err(unreadable)?;
        let mut loader = rbldnsd::Loader::new(ty, before.len);
        let mut read = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(unreadable(e)),
            };
            loader.feed(&buf[..n]);
            read += n as u64;
        }
        let after = stamp(path).map_err(unreadable)?;
        if before == after && after.len == read {
            return loader.finish().map(|c| (c, after)).map_err(located);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(LoadError {
        file: path.to_path_buf(),
        line: None,
        message: "the file keeps changing while being read".into(),
    })
}

/// What a dataset's files were built into.
enum Built {
    /// Listed data, one layer of the zone.
    Data(Arc<Dataset>),
    /// The zone's querier ACL.
    Acl(Arc<Acl>),
}

/// Merges the ACL files of one dataset: entries in file order, the first
/// of a repeated prefix kept (as rbldnsd keeps the first), answers
/// renumbered, the last `$TTL` set.
fn merge_acls(parts: Vec<AclData>) -> AclData {
    use fadelist_core::data::{AclAction, AclEntry};
    let mut out = AclData::default();
    for p in parts {
        let base = out.answers.len() as u32;
        let shift = |a: AclAction| match a {
            AclAction::Listed(i) => AclAction::Listed(i + base),
            other => other,
        };
        out.ip4.extend(p.ip4.into_iter().map(|e| AclEntry {
            action: shift(e.action),
            ..e
        }));
        out.ip6.extend(p.ip6.into_iter().map(|e| AclEntry {
            action: shift(e.action),
            ..e
        }));
        out.answers.extend(p.answers);
        out.ttl = p.ttl.or(out.ttl);
    }
    // Stable: the first file's entry stays first among equal prefixes.
    out.ip4.sort_by_key(|e| (e.net, e.len));
    out.ip4.dedup_by_key(|e| (e.net, e.len));
    out.ip6.sort_by_key(|e| (e.net, e.len));
    out.ip6.dedup_by_key(|e| (e.net, e.len));
    out
}

/// One dataset and the file versions it was built from.
struct DatasetState {
    kind: DatasetKind,
    files: Vec<PathBuf>,
    stamps: Vec<Stamp>,
    built: Built,
    soa: Option<SoaSpec>,
    ns: Vec<String>,
    ns_ttl: Option<u32>,
    /// When the data in `built` was loaded (Unix seconds) and how long
    /// reading, parsing and freezing it took.
    loaded_at: u64,
    load_time: Duration,
    /// Reloads that failed since the start.
    reload_errors: u64,
    /// The last reload's error while the files still hold it (`built` is
    /// then older data), with its time (Unix seconds).
    last_error: Option<(LoadError, u64)>,
}

/// One dataset as `/api/v1/status` and the metrics show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatasetStatus {
    /// Dataset type (`ip4set`, `acl`, …).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its files, as read (relative ones resolved against `data_dir`).
    pub files: Vec<String>,
    /// Entries served from it (an ACL: its entries).
    pub entries: usize,
    /// Bytes of its files when they were loaded.
    pub bytes: u64,
    /// When the served data was loaded, Unix seconds.
    pub loaded_at: u64,
    /// How long that load took, seconds.
    pub load_seconds: f64,
    /// Reloads that failed since the start.
    pub reload_errors: u64,
    /// The last reload's error, while the files still hold it (the
    /// previous data is served meanwhile); `None` after a good load.
    pub last_error: Option<DatasetError>,
}

/// A reload error, as [`DatasetStatus`] shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatasetError {
    /// The file at fault.
    pub file: String,
    /// Its line, for a syntax error.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// When the reload failed, Unix seconds.
    pub at: u64,
}

/// The datasets of one zone, as loaded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZoneData {
    /// Zone name.
    pub name: String,
    /// Its file datasets (report-fed listings are not files).
    pub datasets: Vec<DatasetStatus>,
}

impl ZoneData {
    /// Entries of the zone's data files (ACLs left out).
    pub fn file_entries(&self) -> usize {
        self.datasets
            .iter()
            .filter(|d| d.kind != "acl")
            .map(|d| d.entries)
            .sum()
    }

    /// When the zone's data was last loaded (its newest dataset), Unix
    /// seconds; `None` without data files.
    pub fn last_load(&self) -> Option<u64> {
        self.datasets.iter().map(|d| d.loaded_at).max()
    }

    /// The most recent reload error of its datasets.
    pub fn last_error(&self) -> Option<&DatasetError> {
        self.datasets
            .iter()
            .filter_map(|d| d.last_error.as_ref())
            .max_by_key(|e| e.at)
    }
}

/// The last published state of every zone's data files: shared by the
/// reloader (which writes it after each pass) and its readers.
#[derive(Clone, Debug, Default)]
pub struct DataStatus {
    inner: Arc<Mutex<Arc<Vec<ZoneData>>>>,
}

impl DataStatus {
    /// The zones, as of the last load or reload pass.
    pub fn get(&self) -> Arc<Vec<ZoneData>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, zones: Vec<ZoneData>) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(zones);
    }
}

impl DatasetState {
    fn status(&self) -> DatasetStatus {
        let entries = match &self.built {
            Built::Data(d) => d.listed_entries(),
            Built::Acl(a) => a.entry_count(),
        };
        DatasetStatus {
            kind: self.kind.name(),
            files: self.files.iter().map(|f| f.display().to_string()).collect(),
            entries,
            bytes: self.stamps.iter().map(|s| s.len).sum(),
            loaded_at: self.loaded_at,
            load_seconds: self.load_time.as_secs_f64(),
            reload_errors: self.reload_errors,
            last_error: self.last_error.as_ref().map(|(e, at)| DatasetError {
                file: e.file.display().to_string(),
                line: e.line,
                message: e.message.clone(),
                at: *at,
            }),
        }
    }

    fn load(
        kind: DatasetKind,
        files: Vec<PathBuf>,
        default_ttl: u32,
        now: u64,
    ) -> Result<DatasetState, LoadError> {
        let started = crate::clock::monotonic();
        let mut state = Self::read(kind, files, default_ttl)?;
        state.loaded_at = now;
        state.load_time = started.elapsed();
        Ok(state)
    }

    fn read(
        kind: DatasetKind,
        files: Vec<PathBuf>,
        default_ttl: u32,
    ) -> Result<DatasetState, LoadError> {
        let mut parts: Vec<Columns> = Vec::with_capacity(files.len());
        let mut acls: Vec<AclData> = Vec::new();
        let mut stamps = Vec::with_capacity(files.len());
        for f in &files {
            let located = |e: rbldnsd::ParseError| LoadError {
                file: f.clone(),
                line: Some(e.line),
                message: format!("{} (dataset type {})", e.message, kind.name()),
            };
            let st = match kind {
                // Data files are parsed as they are read: a big one is
                // never held in memory whole.
                DatasetKind::Data(t) => {
                    let (cols, st) = load_stable(f, t, located)?;
                    parts.push(cols);
                    st
                }
                DatasetKind::Acl => {
                    let (bytes, st) = read_stable(f)?;
                    acls.push(rbldnsd::parse_acl(&bytes).map_err(located)?);
                    st
                }
            };
            stamps.push(st);
        }
        if kind == DatasetKind::Acl {
            let acl = Acl::build(&merge_acls(acls), default_ttl);
            return Ok(DatasetState {
                kind,
                files,
                stamps,
                built: Built::Acl(Arc::new(acl)),
                soa: None,
                ns: Vec::new(),
                ns_ttl: None,
                loaded_at: 0,
                load_time: Duration::ZERO,
                reload_errors: 0,
                last_error: None,
            });
        }
        let soa = parts.iter().find_map(|p| p.soa.clone());
        let ns = parts.iter().flat_map(|p| p.ns.iter().cloned()).collect();
        let ns_ttl = parts.iter().find_map(|p| p.ns_ttl);
        // Each part's entries are freed as they are frozen.
        let built = Dataset::from_columns(parts, default_ttl);
        Ok(DatasetState {
            kind,
            soa,
            ns,
            ns_ttl,
            files,
            stamps,
            built: Built::Data(Arc::new(built)),
            loaded_at: 0,
            load_time: Duration::ZERO,
            reload_errors: 0,
            last_error: None,
        })
    }

    /// True when a file changed (or vanished) since it was loaded.
    fn changed(&self) -> bool {
        self.files
            .iter()
            .zip(&self.stamps)
            .any(|(f, s)| stamp(f).ok().as_ref() != Some(s))
    }
}

struct ZoneState {
    config: ZoneConfig,
    name: String,
    datasets: Vec<DatasetState>,
    serial: u32,
    /// A followed zone's data as last transferred; `None` before the
    /// first transfer and after expiry.
    followed: Option<Followed>,
}

/// A followed zone's data (see `crate::follower`): what the primary's
/// last transfer said, ready to serve.
#[derive(Clone, Debug)]
pub struct Followed {
    /// The zone's A/TXT data.
    pub dataset: Arc<Dataset>,
    /// The primary's SOA (its serial included).
    pub soa: Soa,
    /// The primary's NS names.
    pub ns: Vec<String>,
    /// TTL of the NS records.
    pub ns_ttl: u32,
}

/// An ACL that refuses every client: what a followed zone without data
/// answers with.
fn refuse_all() -> Arc<Acl> {
    use fadelist_core::data::{AclAction, AclEntry};
    Arc::new(Acl::build(
        &AclData {
            ip4: vec![AclEntry {
                net: 0,
                len: 0,
                action: AclAction::Refuse,
            }],
            ip6: vec![AclEntry {
                net: 0,
                len: 0,
                action: AclAction::Refuse,
            }],
            ..AclData::default()
        },
        0,
    ))
}

/// All zones and their data; owned by the loader/reloader, never by the
/// query path (which only sees the snapshots built from it).
pub struct ZoneSet {
    zones: Vec<ZoneState>,
    default_ttl: u32,
    status: DataStatus,
    /// Where the serial floors live ([`ZoneSet::keep_serials_in`]).
    serial_file: Option<PathBuf>,
    /// Per zone, a serial no issued serial has reached; on disk.
    floors: BTreeMap<String, u32>,
}

/// How far ahead of the current serial the floor on disk is set: one
/// small write per this many changes.
const SERIAL_STRIDE: u32 = 1024;

impl std::fmt::Debug for ZoneSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.zones.iter().map(|z| &z.name))
            .finish()
    }
}

/// Clamps seconds into a 32-bit DNS time field.
pub fn secs32(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// A serial for a data change at `now`: the Unix time, but always past
/// the previous serial so secondaries see every change.
fn next_serial(prev: u32, now: u64) -> u32 {
    let now = u32::try_from(now).unwrap_or(u32::MAX);
    now.max(prev.wrapping_add(1))
}

fn resolve_path(base: Option<&Path>, p: &Path) -> PathBuf {
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}

impl ZoneSet {
    /// Loads every zone's data. Any unreadable or invalid file is an
    /// error naming the file and line: a server must not start on data it
    /// could not read.
    pub fn load(config: &Config, now: u64) -> anyhow::Result<ZoneSet> {
        let default_ttl = secs32(config.server.default_ttl);
        let base = config.server.data_dir.as_deref();
        let mut zones = Vec::new();
        for z in &config.zones {
            let name = z.name.to_string();
            let mut datasets = Vec::new();
            for d in &z.datasets {
                let files = d.files.iter().map(|f| resolve_path(base, f)).collect();
                datasets.push(
                    DatasetState::load(d.kind, files, default_ttl, now)
                        .with_context(|| format!("zone {name}"))?,
                );
            }
            zones.push(ZoneState {
                config: z.clone(),
                name,
                datasets,
                serial: next_serial(0, now),
                followed: None,
            });
        }
        let set = ZoneSet {
            serial_file: None,
            floors: BTreeMap::new(),
            zones,
            default_ttl,
            status: DataStatus::default(),
        };
        set.publish_status();
        Ok(set)
    }

    /// The board where every load and reload pass publishes the state of
    /// the data files.
    pub fn status(&self) -> DataStatus {
        self.status.clone()
    }

    fn publish_status(&self) {
        self.status.set(
            self.zones
                .iter()
                .map(|z| ZoneData {
                    name: z.name.clone(),
                    datasets: z.datasets.iter().map(DatasetState::status).collect(),
                })
                .collect(),
        );
    }

    /// Reloads datasets whose files changed. Returns whether anything was
    /// replaced; errors are logged (file and line) and leave the previous
    /// data in place.
    pub fn refresh(&mut self, now: u64) -> bool {
        let mut any = false;
        // A dataset was reloaded or failed to: the status board changes.
        let mut attempted = false;
        for zone in &mut self.zones {
            let mut zone_changed = false;
            for ds in &mut zone.datasets {
                if !ds.changed() {
                    continue;
                }
                attempted = true;
                match DatasetState::load(ds.kind, ds.files.clone(), self.default_ttl, now) {
                    Ok(mut new) => {
                        info!(zone = %zone.name, files = ?new.files, "dataset reloaded");
                        // A good load clears the error, not the count.
                        new.reload_errors = ds.reload_errors;
                        *ds = new;
                        zone_changed = true;
                    }
                    Err(e) => {
                        // Remember the failed version so the same error is
                        // logged once, not on every pass.
                        ds.stamps = ds
                            .files
                            .iter()
                            .map(|f| {
                                stamp(f).unwrap_or(Stamp {
                                    mtime: None,
                                    len: 0,
                                    ino: 0,
                                })
                            })
                            .collect();
                        error!(zone = %zone.name, "reload failed, keeping the previous data: {e:#}");
                        ds.reload_errors += 1;
                        ds.last_error = Some((e, now));
                    }
                }
            }
            if zone_changed {
                zone.serial = next_serial(zone.serial, now);
                any = true;
            }
        }
        if any {
            self.save_floors_if_due();
        }
        if attempted {
            self.publish_status();
        }
        any
    }

    /// Marks `zone`'s data as changed at `now` (report-fed listings): its
    /// SOA serial moves forward.
    pub fn touch(&mut self, zone: &str, now: u64) {
        if let Some(z) = self.zones.iter_mut().find(|z| z.name == zone) {
            z.serial = next_serial(z.serial, now);
        }
        self.save_floors_if_due();
    }

    /// Keeps the zones' serials moving forward across restarts, with
    /// floors kept in `path`.
    ///
    /// A serial is the Unix time, or one past the previous serial when
    /// changes come faster than one a second (report-fed zones under
    /// load); it can then run ahead of the clock, and a restart that went
    /// back to the clock would hand out serials the secondaries already
    /// hold: they would ignore every change until the clock caught up.
    /// So a floor above every serial handed out is kept on disk (moved
    /// 1,024 serials ahead, written and synced before a serial
    /// reaches it), and a restart starts above it.
    pub fn keep_serials_in(&mut self, path: PathBuf, now: u64) {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for line in text.lines() {
                    let mut it = line.split_whitespace();
                    if let (Some(z), Some(Ok(floor))) =
                        (it.next(), it.next().map(str::parse::<u32>))
                        && let Some(zone) = self.zones.iter_mut().find(|s| s.name == z)
                        && zone.config.soa.as_ref().and_then(|s| s.serial).is_none()
                    {
                        // Serial arithmetic (RFC 1982): only a floor ahead
                        // of the clock matters.
                        if (floor.wrapping_sub(zone.serial) as i32) >= 0 {
                            zone.serial = next_serial(floor, now);
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!(path = %path.display(), "cannot read the serial floors: {e}"),
        }
        self.serial_file = Some(path);
        self.floors.clear();
        self.save_floors_if_due();
    }

    /// Writes new floors when a serial has reached its floor.
    fn save_floors_if_due(&mut self) {
        let Some(path) = &self.serial_file else {
            return;
        };
        let due = self.zones.iter().any(|z| {
            self.floors
                .get(&z.name)
                .is_none_or(|&f| (z.serial.wrapping_sub(f) as i32) >= 0)
        });
        if !due {
            return;
        }
        let floors: BTreeMap<String, u32> = self
            .zones
            .iter()
            .map(|z| (z.name.clone(), z.serial.wrapping_add(SERIAL_STRIDE)))
            .collect();
        let text: String = floors.iter().map(|(z, f)| format!("{z} {f}\n")).collect();
        let tmp = path.with_extension("serials.tmp");
        let written = (|| -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        match written {
            Ok(()) => self.floors = floors,
            Err(e) => {
                warn!(path = %path.display(), "cannot write the serial floors (serials may go back after a restart): {e}")
            }
        }
    }

    /// Replaces a followed zone's data (`None`: it has none, and is
    /// refused). Returns false for a zone that is not followed.
    pub fn set_followed(&mut self, zone: &str, data: Option<Followed>) -> bool {
        match self
            .zones
            .iter_mut()
            .find(|z| z.name == zone && z.config.primary.is_some())
        {
            Some(z) => {
                z.followed = data;
                true
            }
            None => false,
        }
    }

    /// Names of the zones and the feed each one takes.
    pub fn feeds(&self) -> Vec<(String, crate::config::Feed)> {
        self.zones
            .iter()
            .filter_map(|z| Some((z.name.clone(), z.config.feed?)))
            .collect()
    }

    /// The snapshot of the current file data only.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_with(|_| None)
    }

    /// The snapshot of the current data, with `extra(zone)` (the
    /// report-fed dataset) appended to each zone's datasets.
    pub fn snapshot_with(&self, extra: impl Fn(&str) -> Option<Layer>) -> Snapshot {
        let zones = self
            .zones
            .iter()
            .filter_map(|z| {
                if z.config.primary.is_some() {
                    return followed_zone(z);
                }
                let soa = zone_soa(z, self.default_ttl);
                let mut ns = z.config.ns.clone();
                if ns.is_empty() {
                    ns = z
                        .datasets
                        .iter()
                        .flat_map(|d| d.ns.iter().cloned())
                        .collect();
                }
                let ns_ttl = z
                    .datasets
                    .iter()
                    .find_map(|d| d.ns_ttl)
                    .filter(|_| z.config.ns.is_empty())
                    .unwrap_or(secs32(z.config.ns_ttl));
                let mut datasets: Vec<Layer> = Vec::with_capacity(z.datasets.len() + 1);
                let mut acl = None;
                for d in &z.datasets {
                    match &d.built {
                        Built::Data(ds) => datasets.push(Layer::new(ds.clone())),
                        Built::Acl(a) => acl = Some(a.clone()),
                    }
                }
                datasets.extend(extra(&z.name));
                let zone = Zone::layered(&z.name, soa, ns, ns_ttl, datasets);
                if zone.is_none() {
                    error!(zone = %z.name, "zone name rejected");
                }
                zone.map(|mut zone| {
                    zone.acl = acl;
                    zone
                })
            })
            .collect();
        Snapshot { zones }
    }
}

/// A followed zone as served: the primary's SOA, NS and data, or, before
/// the first transfer and after expiry, a zone that refuses everyone (kept
/// in the snapshot so that zone positions, which the metrics use, stay
/// those of the configuration).
fn followed_zone(z: &ZoneState) -> Option<Zone> {
    let zone = match &z.followed {
        Some(f) => Zone::layered(
            &z.name,
            f.soa.clone(),
            f.ns.clone(),
            f.ns_ttl,
            vec![Layer::new(f.dataset.clone())],
        ),
        None => Zone::layered(&z.name, Soa::default_for(&z.name, 0), vec![], 0, vec![]).map(
            |mut zone| {
                zone.acl = Some(refuse_all());
                zone.unavailable = true;
                zone
            },
        ),
    };
    if zone.is_none() {
        error!(zone = %z.name, "zone name rejected");
    }
    zone
}

fn zone_soa(z: &ZoneState, default_ttl: u32) -> Soa {
    if let Some(c) = &z.config.soa {
        return Soa {
            mname: normalize_name(&c.mname).unwrap_or_else(|| c.mname.clone()),
            rname: normalize_name(&c.rname).unwrap_or_else(|| c.rname.clone()),
            serial: c.serial.unwrap_or(z.serial),
            refresh: secs32(c.refresh),
            retry: secs32(c.retry),
            expire: secs32(c.expire),
            minimum: secs32(c.minimum),
            ttl: secs32(c.ttl),
        };
    }
    if let Some(s) = z.datasets.iter().find_map(|d| d.soa.as_ref()) {
        return Soa {
            mname: normalize_name(&s.mname).unwrap_or_else(|| s.mname.clone()),
            rname: normalize_name(&s.rname).unwrap_or_else(|| s.rname.clone()),
            serial: if s.serial == 0 { z.serial } else { s.serial },
            refresh: s.refresh,
            retry: s.retry,
            expire: s.expire,
            minimum: s.minimum,
            // `$SOA 0 ...`: the server's default TTL, as in rbldnsd.
            ttl: if s.ttl == 0 { default_ttl } else { s.ttl },
        };
    }
    Soa::default_for(&z.name, z.serial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_stay_ahead_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite.serials");
        let config = crate::config::embedded_default();
        let now = 1_800_000_000;
        let serial = |z: &ZoneSet| z.snapshot().zones[0].soa.serial;
        let mut zones = ZoneSet::load(&config, now).unwrap();
        zones.keep_serials_in(path.clone(), now);
        let name = zones.snapshot().zones[0].name().to_string();
        // 5,000 changes within one second: the serial runs ahead of the
        // clock, past several floors.
        for _ in 0..5000 {
            zones.touch(&name, now);
        }
        let before = serial(&zones);
        assert_eq!(before, now as u32 + 5000);
        // A restart at the same second (a crash: nothing written since the
        // last floor) starts above every serial handed out.
        let mut again = ZoneSet::load(&config, now).unwrap();
        assert_eq!(
            serial(&again),
            now as u32,
            "without the floors: back to the clock"
        );
        again.keep_serials_in(path.clone(), now);
        assert!(serial(&again) > before, "{} <= {before}", serial(&again));
        // A floor behind the clock is ignored.
        let mut later = ZoneSet::load(&config, now + 1_000_000).unwrap();
        later.keep_serials_in(path, now + 1_000_000);
        assert_eq!(serial(&later), now as u32 + 1_000_000);
    }

    #[test]
    fn serials_move_forward() {
        assert_eq!(next_serial(0, 1_700_000_000), 1_700_000_000);
        assert_eq!(next_serial(1_700_000_000, 1_700_000_000), 1_700_000_001);
        assert_eq!(next_serial(1_800_000_000, 1_700_000_000), 1_800_000_001);
    }
}
