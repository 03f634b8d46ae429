//! The free-disk threshold: below `[store] min_free_disk` on the
//! database's filesystem, writes are refused (503 `disk_full`) while DNS
//! and lookups, which only read, go on.
//!
//! SQLite itself fails cleanly on a full disk, but late: in the middle of
//! a group of reports, after their bodies were read and parsed, and
//! possibly unable to checkpoint its WAL, with the rest of the machine
//! (logs, the OS) starving too. Refusing before the disk is full keeps a
//! margin for all of that, and tells clients plainly to come back later.
//!
//! `statvfs` is cheap but not free, and every write asks: the answer is
//! cached for [`REFRESH`]. A change of state is logged once, as a warning
//! when writes stop and as a notice when they resume.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{info, warn};

use super::ServiceError;
use crate::config::DiskThreshold;

/// How long a free-space reading is trusted.
pub const REFRESH: Duration = Duration::from_secs(2);

/// Sizes of a filesystem, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Free for unprivileged users (what a non-root server can still use).
    pub free: u64,
    /// Size of the filesystem.
    pub total: u64,
}

/// Reads the space of the filesystem holding a directory.
pub type Probe = Box<dyn Fn() -> std::io::Result<Space> + Send + Sync>;

/// The database's disk, as `/api/v1/status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DiskStatus {
    /// Free bytes (unprivileged), at the last reading.
    pub free_bytes: u64,
    /// Size of the filesystem, bytes.
    pub total_bytes: u64,
    /// Bytes kept free: `min_free_disk` for this filesystem.
    pub min_free_bytes: u64,
    /// Writes are refused (free space below the threshold).
    pub writes_refused: bool,
}

struct State {
    read_at: Option<Instant>,
    status: Option<DiskStatus>,
    /// The last reading failed (logged once).
    unreadable: bool,
}

/// The free-disk check (see the module documentation).
pub struct DiskGuard {
    threshold: DiskThreshold,
    probe: Probe,
    state: Mutex<State>,
}

impl std::fmt::Debug for DiskGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskGuard")
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl DiskGuard {
    /// Watches the filesystem holding the database file `db`.
    pub fn for_database(db: &Path, threshold: DiskThreshold) -> DiskGuard {
        // The file may not exist yet; its directory does. A bare file name
        // is in the working directory.
        let dir: PathBuf = match db.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        DiskGuard::with_probe(threshold, Box::new(move || statvfs(&dir)))
    }

    /// Watches what `probe` reads (tests).
    pub fn with_probe(threshold: DiskThreshold, probe: Probe) -> DiskGuard {
        DiskGuard {
            threshold,
            probe,
            state: Mutex::new(State {
                read_at: None,
                status: None,
                unreadable: false,
            }),
        }
    }

    /// `Ok` when writes may go ahead at `now`; [`ServiceError::DiskFull`]
    /// below the threshold. A filesystem that cannot be read does not stop
    /// writes (SQLite reports its own errors): it is logged.
    pub fn check(&self, now: Instant) -> Result<(), ServiceError> {
        match self.status(now) {
            Some(s) if s.writes_refused => Err(ServiceError::DiskFull {
                free: s.free_bytes,
                min_free: s.min_free_bytes,
            }),
            _ => Ok(()),
        }
    }

    /// The last reading, refreshed first if older than [`REFRESH`] at
    /// `now`; `None` when the filesystem could not be read.
    pub fn status(&self, now: Instant) -> Option<DiskStatus> {
        if self.threshold == DiskThreshold::Bytes(0) {
            // Off: no reading at all, nothing refused.
            return None;
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = st
            .read_at
            .is_some_and(|t| now.saturating_duration_since(t) < REFRESH);
        if !fresh {
            st.read_at = Some(now);
            let refused_before = st.status.map(|s| s.writes_refused);
            match (self.probe)() {
                Ok(space) => {
                    let min = self.threshold.bytes_of(space.total);
                    let s = DiskStatus {
                        free_bytes: space.free,
                        total_bytes: space.total,
                        min_free_bytes: min,
                        writes_refused: space.free < min,
                    };
                    st.status = Some(s);
                    st.unreadable = false;
                    log_change(refused_before, &s);
                }
                Err(e) => {
                    if !st.unreadable {
                        warn!("cannot read the database's free disk space: {e}");
                    }
                    st.status = None;
                    st.unreadable = true;
                }
            }
        }
        st.status
    }
}

/// Logs a change between refusing and accepting writes, once.
fn log_change(refused_before: Option<bool>, s: &DiskStatus) {
    match (refused_before, s.writes_refused) {
        (Some(false) | None, true) => warn!(
            free_bytes = s.free_bytes,
            min_free_bytes = s.min_free_bytes,
            "free disk space below store.min_free_disk: reports, delisting requests and admin \
             changes are refused (503 disk_full) until space is freed; DNS and lookups go on"
        ),
        (Some(true), false) => info!(
            free_bytes = s.free_bytes,
            "free disk space above store.min_free_disk again: writes accepted"
        ),
        _ => {}
    }
}

/// `statvfs(2)` of `dir`.
fn statvfs(dir: &Path) -> std::io::Result<Space> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut buf = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    #[allow(unsafe_code)]
    // SAFETY: `path` is a NUL-terminated string that outlives the call,
    // and `buf` is a properly aligned statvfs the kernel fills in; it is
    // read only after the call reported success.
    let st = unsafe {
        if libc::statvfs(path.as_ptr(), buf.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        buf.assume_init()
    };
    // `f_frsize` is the unit of the block counts (`f_bsize` is only the
    // preferred I/O size); the field types differ between platforms.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let unit = u64::from(st.f_frsize);
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let (avail, blocks) = (u64::from(st.f_bavail), u64::from(st.f_blocks));
    Ok(Space {
        free: avail.saturating_mul(unit),
        total: blocks.saturating_mul(unit),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    /// A filesystem of 1000 bytes whose free space the test sets, and
    /// how many times it was read.
    fn fake(threshold: DiskThreshold) -> (DiskGuard, Arc<AtomicU64>, Arc<AtomicUsize>) {
        let free = Arc::new(AtomicU64::new(500));
        let reads = Arc::new(AtomicUsize::new(0));
        let (f, r) = (free.clone(), reads.clone());
        let guard = DiskGuard::with_probe(
            threshold,
            Box::new(move || {
                r.fetch_add(1, Ordering::Relaxed);
                Ok(Space {
                    free: f.load(Ordering::Relaxed),
                    total: 1000,
                })
            }),
        );
        (guard, free, reads)
    }

    #[test]
    fn refuses_below_the_threshold_and_reads_at_most_every_refresh() {
        let (g, free, reads) = fake(DiskThreshold::Bytes(100));
        let t0 = Instant::now();
        assert!(g.check(t0).is_ok());
        free.store(99, Ordering::Relaxed);
        assert!(g.check(t0 + REFRESH / 2).is_ok(), "cached");
        assert_eq!(reads.load(Ordering::Relaxed), 1);
        let err = g.check(t0 + REFRESH).unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::DiskFull {
                    free: 99,
                    min_free: 100
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            g.status(t0 + REFRESH),
            Some(DiskStatus {
                free_bytes: 99,
                total_bytes: 1000,
                min_free_bytes: 100,
                writes_refused: true
            })
        );
        free.store(100, Ordering::Relaxed);
        assert!(g.check(t0 + 2 * REFRESH).is_ok(), "space freed");
        assert_eq!(reads.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_share_of_the_filesystem_and_off() {
        let (g, free, _) = fake(DiskThreshold::Percent(5.0));
        free.store(49, Ordering::Relaxed);
        assert!(g.check(Instant::now()).is_err(), "49 of 1000 < 5 %");
        let (g, free, reads) = fake(DiskThreshold::Bytes(0));
        free.store(0, Ordering::Relaxed);
        assert!(g.check(Instant::now()).is_ok());
        assert_eq!(g.status(Instant::now()), None);
        assert_eq!(reads.load(Ordering::Relaxed), 0, "off: never read");
    }

    #[test]
    fn an_unreadable_filesystem_does_not_stop_writes() {
        let g = DiskGuard::with_probe(
            DiskThreshold::Bytes(u64::MAX),
            Box::new(|| Err(std::io::Error::other("gone"))),
        );
        assert!(g.check(Instant::now()).is_ok());
        assert_eq!(g.status(Instant::now()), None);
    }

    #[test]
    fn reads_the_real_filesystem() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("db.sqlite");
        let g = DiskGuard::for_database(&db, DiskThreshold::Bytes(1));
        let s = g.status(Instant::now()).expect("statvfs");
        assert!(s.total_bytes > 0 && s.free_bytes <= s.total_bytes, "{s:?}");
        let huge = "1000000TiB".parse().expect("size");
        let g = DiskGuard::for_database(&db, huge);
        assert!(matches!(
            g.check(Instant::now()),
            Err(ServiceError::DiskFull { .. })
        ));
        let g = DiskGuard::for_database(Path::new("relative.sqlite"), huge);
        assert!(g.status(Instant::now()).is_some(), "the working directory");
    }
}
