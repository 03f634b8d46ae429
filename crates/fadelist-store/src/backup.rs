//! Online backups: a consistent copy of the database while the server
//! writes to it.
//!
//! `VACUUM INTO` runs in one read transaction: WAL lets it read the last
//! committed state while the writer goes on, and the copy is a complete,
//! compacted database file with no `-wal` beside it (unlike copying the
//! file, which can catch a checkpoint half way). The copy is then checked
//! with `PRAGMA integrity_check` before it is reported good.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::{Result, StoreError};

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// Size of the copy, bytes.
    pub bytes: u64,
    /// Schema version of the copy (the migrations applied).
    pub schema_version: i64,
    /// Reports in the copy.
    pub reports: i64,
}

/// Copies the database at `db` to `out`, which must not exist, and checks
/// the copy. The copy is created with mode 0600 (it holds reporters'
/// token hashes, raw spam and requesters' addresses). On any failure the
/// partial copy is removed.
///
/// # Errors
///
/// [`StoreError::Invalid`] when `db` does not exist or `out` does; SQLite
/// errors; [`StoreError::Corrupt`] when the copy fails its integrity check.
pub fn backup(db: &Path, out: &Path) -> Result<BackupInfo> {
    if !db.exists() {
        return Err(StoreError::Invalid(format!(
            "no database at {} (nothing to back up)",
            db.display()
        )));
    }
    // Created empty first, exclusively and private: VACUUM INTO accepts an
    // empty file, and the mode is set before any byte is written.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => StoreError::Invalid(format!(
                "{} already exists; a backup never overwrites a file",
                out.display()
            )),
            _ => StoreError::Invalid(format!("cannot create {}: {e}", out.display())),
        })?;
    let result = copy_and_check(db, out);
    if result.is_err() {
        let _ = std::fs::remove_file(out);
    }
    result
}

fn copy_and_check(db: &Path, out: &Path) -> Result<BackupInfo> {
    // Read-only: a backup never creates, migrates or writes the source.
    let src = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = out
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", out.display())))?;
    src.execute("VACUUM INTO ?1", [target])?;
    drop(src);

    let copy = Connection::open_with_flags(out, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let check: Vec<String> = {
        let mut stmt = copy.prepare("PRAGMA integrity_check")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?
    };
    if check != ["ok"] {
        return Err(StoreError::Corrupt(format!(
            "the copy failed its integrity check: {}",
            check.join("; ")
        )));
    }
    let schema_version: i64 = copy.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let reports: i64 = copy.query_row("SELECT COUNT(*) FROM reports", [], |r| r.get(0))?;
    drop(copy);
    Ok(BackupInfo {
        bytes: std::fs::metadata(out).map(|m| m.len()).unwrap_or(0),
        schema_version,
        reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Read, Store};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn copies_checks_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("live.sqlite");
        let mut s = Store::open(&db).unwrap();
        s.add_reporter("a", 1.0, crate::ReporterKind::User, &[], "tok", 1)
            .unwrap();
        let out = dir.path().join("copy.sqlite");
        let info = backup(&db, &out).unwrap();
        assert!(info.bytes > 0);
        assert_eq!(info.reports, 0);
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // The copy opens as a store and holds the reporter.
        let copy = Store::open(&out).unwrap();
        assert!(copy.reporters().unwrap().iter().any(|r| r.name == "a"));
        // A second backup to the same file is refused, and leaves it alone.
        let before = std::fs::read(&out).unwrap();
        let err = backup(&db, &out).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), before);
        // A missing source is named, and nothing is created.
        let missing = dir.path().join("missing.sqlite");
        let err = backup(&missing, &dir.path().join("x.sqlite")).unwrap_err();
        assert!(err.to_string().contains("missing.sqlite"), "{err}");
        assert!(!missing.exists() && !dir.path().join("x.sqlite").exists());
    }
}
