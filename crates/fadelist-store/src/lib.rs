//! The SQLite system of record: reporters, reports, contributions and
//! listings, the typed listing history, delisting requests, the
//! never-list and the audit log; online backups ([`backup()`]).
//!
//! Two kinds of connection:
//! - one [`Store`], the writer. The server gives it to a single thread
//!   (SQLite allows one writer; serialising in our process avoids
//!   `SQLITE_BUSY` altogether). Reports are written in groups
//!   ([`Store::group`]), the group in one transaction, so one fsync
//!   covers many reports; a group that fails is rolled back and its
//!   reports written one by one, so a bad report leaves nothing behind.
//!   `synchronous = FULL` makes a committed report survive power loss,
//!   not only a killed process.
//! - any number of [`Reader`]s: read-only connections that WAL lets run
//!   beside the writer without ever waiting for it. Lookups and admin
//!   listings use them. Every per-key read is bounded (a row limit on an
//!   index, or a summary the writer keeps), so a key with a million
//!   evidence rows answers as fast as one with ten.
//!
//! The read queries are the [`Read`] trait, implemented by both kinds.
//!
//! Modules, one concern each: [`reporters`], [`reports`] (ingestion and
//! evidence), [`listings`] (scores, decay, removals, manual listings),
//! [`events`] (typed listing history), [`delisting`] (requests and the
//! review queue), [`neverlist`], [`revert`] (undoing a reporter),
//! [`audit`], [`retention`] (pruning what is past its retention).
#![warn(missing_docs)]

pub mod audit;
pub mod backup;
pub mod correction;
pub mod delisting;
pub mod events;
pub mod listings;
pub mod neverlist;
pub mod reporters;
pub mod reports;
pub mod retention;
pub mod revert;

use std::path::Path;

use fadelist_core::policy::KeyState;
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};

pub use audit::{AuditEntry, AuditFilter};
pub use backup::{BackupInfo, backup};
pub use delisting::{Decision, DelistOutcome, DelistRequest, DelistResult};
pub use events::{EventKind, ListingEvent};
pub use listings::{Delisted, Listed, ListingRow, ManualListing};
pub use neverlist::NeverEntry;
pub use reporters::{BadTrusted, Reporter, ReporterKind, parse_trusted, sha256_hex};
pub use reports::{
    Duplicate, Evidence, Group, Ingested, KeyInput, KeyOutcome, NewReport, ReportEvent,
    SourceNetworks, StoredRaw, decompress,
};
pub use retention::{FileUsage, Prune, Pruned, Retention, ZoneRetention};
pub use revert::Reverted;

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed (I/O, corruption, locking).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A value stored in the database is not what this version expects.
    #[error("corrupt value in the database: {0}")]
    Corrupt(String),
    /// A name that must be unique is taken.
    #[error("{0} already exists")]
    Exists(String),
    /// A value given to be stored is not valid (the message says why, for
    /// the person who gave it).
    #[error("{0}")]
    Invalid(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StoreError>;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../migrations/001_initial.sql")),
        M::up(include_str!("../migrations/002_delisting.sql")),
        M::up(include_str!("../migrations/003_manual_listings.sql")),
        M::up(include_str!("../migrations/004_raw_codec.sql")),
        M::up(include_str!("../migrations/005_typed_history.sql")),
        M::up(include_str!("../migrations/006_reporter_revert.sql")),
        M::up(include_str!("../migrations/007_key_sources.sql")),
        M::up(include_str!("../migrations/008_retention.sql")),
        M::up(include_str!("../migrations/009_report_withdrawal.sql")),
    ])
}

/// Bytes the WAL file is truncated to after a checkpoint.
const JOURNAL_SIZE_LIMIT: i64 = 64 << 20;

/// The writing connection.
pub struct Store {
    conn: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    ///
    /// A new database file is created with mode 0600 before SQLite opens
    /// it (SQLite gives its `-wal` and `-shm` files the same mode): it
    /// holds token hashes, raw spam and requesters' addresses.
    pub fn open(path: &Path) -> Result<Store> {
        create_private(path);
        Self::setup(Connection::open(path)?)
    }

    /// `PRAGMA quick_check`: reads every page of the database once (seconds
    /// for gigabytes), so that a corrupt file is a clear error at start
    /// rather than a failure in the middle of serving.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] with SQLite's first findings.
    pub fn quick_check(&self) -> Result<()> {
        let mut stmt = self.conn.prepare("PRAGMA quick_check(10)")?;
        let found: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        if found == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::Corrupt(found.join("; ")))
        }
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // The WAL grows to the largest transaction between checkpoints (a
        // group of large reports is hundreds of megabytes) and, without a
        // limit, keeps that size for good. Truncated back to this after
        // each checkpoint, it costs at most this much disk when idle.
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations().to_latest(&mut conn)?;
        // Every statement of the ingest transaction stays prepared.
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Store { conn })
    }

    /// Starts a write transaction. `IMMEDIATE` takes the write lock at
    /// once: when another process holds it (an admin tool), SQLite waits
    /// for it (the busy timeout). A deferred transaction that has read
    /// first is refused at once instead, without waiting.
    fn write_tx(&mut self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }
}

/// Creates `path` empty with mode 0600 when it does not exist yet (an
/// existing file keeps its mode: the operator may have chosen another).
fn create_private(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    // An existing file is left alone; any other failure (a missing
    // directory, permissions) SQLite reports next, in its words and with
    // the path.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
}

/// A read-only connection: lookups and listings, never blocked by the
/// writer (WAL readers see the last committed state).
pub struct Reader {
    conn: Connection,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl Reader {
    /// Opens a read-only connection to the database at `path`, which the
    /// writer must have created (and migrated) first.
    pub fn open(path: &Path) -> Result<Reader> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        // A checkpoint can hold a reader for a moment; never fail for it.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(Reader { conn })
    }

    /// Runs `f` in one read transaction: every query in it sees the same
    /// committed state.
    pub fn consistent<T>(&mut self, f: impl FnOnce(&Snapshot<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction()?;
        let out = f(&Snapshot { conn: &tx });
        drop(tx);
        out
    }
}

/// One read transaction of a [`Reader`] (see [`Reader::consistent`]).
pub struct Snapshot<'c> {
    conn: &'c Connection,
}

/// The read queries, on the writer and on read-only connections alike.
///
/// The per-key queries are bounded: by a row limit on an index, or by a
/// summary the writer keeps (report and reporter counts).
pub trait Read {
    /// The connection to read from.
    #[doc(hidden)]
    fn conn(&self) -> &Connection;

    /// The reporter whose token is `token` (removed reporters have none).
    fn reporter_by_token(&self, token: &str) -> Result<Option<Reporter>> {
        reporters::reporter_where(
            self.conn(),
            "token_hash = ?1",
            [sha256_hex(token.as_bytes())],
        )
    }

    /// The reporter named `name`.
    fn reporter_by_name(&self, name: &str) -> Result<Option<Reporter>> {
        reporters::reporter_where(self.conn(), "name = ?1", [name])
    }

    /// All reporters, by name.
    fn reporters(&self) -> Result<Vec<Reporter>> {
        reporters::all(self.conn())
    }

    /// The never-list, by entry.
    fn never_list(&self) -> Result<Vec<NeverEntry>> {
        neverlist::all(self.conn())
    }

    /// Number of reports stored.
    fn report_count(&self) -> Result<i64> {
        reports::count(self.conn())
    }

    /// Every key listed by reports (to load the DNS data at start).
    fn listed(&self) -> Result<Vec<Listed>> {
        listings::listed(self.conn())
    }

    /// The listing row of a key, if the key was ever reported.
    fn listing(&self, zone: &str, key: &str) -> Result<Option<ListingRow>> {
        listings::listing(self.conn(), zone, key)
    }

    /// The evidence state of a key (contributions: one per reporter).
    fn key_state(&self, zone: &str, key: &str) -> Result<Option<KeyState>> {
        let (state, existed) = listings::load_state(self.conn(), zone, key)?;
        Ok(existed.then_some(state))
    }

    /// Every manual listing.
    fn manual_listings(&self) -> Result<Vec<ManualListing>> {
        listings::manual_listings(self.conn())
    }

    /// The newest `limit` reports counted against a key, newest first.
    fn evidence(&self, zone: &str, key: &str, limit: usize) -> Result<Vec<Evidence>> {
        reports::evidence(self.conn(), zone, key, limit)
    }

    /// The reports against a key since `since`, oldest first, at most the
    /// newest `limit`; `true` when older ones in that time were left out.
    fn report_events(
        &self,
        zone: &str,
        key: &str,
        since: i64,
        limit: usize,
    ) -> Result<(Vec<ReportEvent>, bool)> {
        reports::report_events(self.conn(), zone, key, since, limit)
    }

    /// Reports against a key after `after`, counted up to `cap`.
    fn reports_after(&self, zone: &str, key: &str, after: i64, cap: usize) -> Result<i64> {
        reports::count_after(self.conn(), zone, key, after, cap)
    }

    /// Distinct reporters that ever reported a key.
    fn reporter_count(&self, zone: &str, key: &str) -> Result<i64> {
        reports::reporter_count(self.conn(), zone, key)
    }

    /// The newest `limit` listing events of a key, oldest first.
    fn listing_events(&self, zone: &str, key: &str, limit: usize) -> Result<Vec<ListingEvent>> {
        events::for_key(self.conn(), zone, key, limit)
    }

    /// Delisting requests waiting for review, oldest first.
    fn review_queue(&self) -> Result<Vec<DelistRequest>> {
        delisting::queued(self.conn())
    }

    /// The newest `limit` delisting requests of a key, newest first.
    fn delist_requests_for(&self, key: &str, limit: usize) -> Result<Vec<DelistRequest>> {
        delisting::for_key(self.conn(), key, limit)
    }

    /// Audit entries matching `f`, newest first.
    fn audit_query(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        audit::query(self.conn(), f)
    }

    /// Audit entries, newest first, optionally for one key.
    fn audit_log(&self, key: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>> {
        self.audit_query(&AuditFilter {
            key: key.map(str::to_string),
            limit,
            ..AuditFilter::default()
        })
    }
}

impl Read for Store {
    fn conn(&self) -> &Connection {
        &self.conn
    }
}

impl Read for Reader {
    fn conn(&self) -> &Connection {
        &self.conn
    }
}

impl Read for Snapshot<'_> {
    fn conn(&self) -> &Connection {
        self.conn
    }
}

/// Collects a query's rows.
fn rows<T>(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(p, f)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Fixtures shared by the modules' tests.
    use super::*;
    use fadelist_core::policy::Policy;

    /// The raw sample of [`report`].
    pub static RAW: std::sync::LazyLock<StoredRaw> =
        std::sync::LazyLock::new(|| StoredRaw::lz4(b"Subject: hello\r\n\r\nbody"));

    /// A report of `reporter_id` at `now` with Message-ID `mid`.
    pub fn report<'a>(reporter_id: i64, mid: &'a str, now: i64) -> NewReport<'a> {
        NewReport {
            reporter_id,
            received_at: now,
            message_id: Some(mid),
            body_hash: "abc",
            category: "spam",
            subject: Some("hello"),
            raw: &RAW,
            source: Some(("192.0.2.1", 1)),
            bulk: false,
            domains: &[],
        }
    }

    /// A key of iprbl.test under the default policy.
    pub fn key(k: &str) -> KeyInput {
        KeyInput {
            zone: "iprbl.test".into(),
            key: k.into(),
            category: "spam".into(),
            policy: Policy::default(),
        }
    }

    /// Ingests one report in a group of its own.
    pub fn ingest(
        s: &mut Store,
        r: &NewReport<'_>,
        keys: &[KeyInput],
    ) -> std::result::Result<Ingested, Duplicate> {
        let mut g = s.group().unwrap();
        let out = g.ingest(r, 1.0, keys, |_, _| "{}".into()).unwrap();
        g.commit().unwrap();
        out
    }

    /// Two reports by two reporters, which lists `k` at `t`.
    pub fn list_by_two(s: &mut Store, a: i64, b: i64, k: &str, t: i64) {
        for r in [a, b] {
            let mid = format!("<{r}-{t}>");
            ingest(s, &report(r, &mid, t), &[key(k)]).unwrap();
        }
    }

    /// Two reporters `a` (user) and `b` (trap).
    pub fn two_reporters(s: &mut Store) -> (i64, i64) {
        let a = s
            .add_reporter("a", 1.0, ReporterKind::User, &[], "ta", 0)
            .unwrap();
        let b = s
            .add_reporter("b", 1.0, ReporterKind::Trap, &[], "tb", 0)
            .unwrap();
        (a.id, b.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ingest, key, report, two_reporters};

    /// A database at schema version 4 (before typed history), with the
    /// audit wordings and report JSON earlier versions wrote.
    fn version_4_database(path: &Path) {
        let mut conn = Connection::open(path).unwrap();
        migrations().to_version(&mut conn, 4).unwrap();
        conn.execute_batch(
            r#"
            INSERT INTO reporters (id, name, token_hash, weight, kind, trusted, created_at)
                VALUES (1, 'a', 'h1', 1.0, 'user', '[]', 0), (2, 'b', 'h2', 2.0, 'trap', '[]', 0);
            INSERT INTO reports (id, reporter_id, received_at, dedupe_key, body_hash, category, subject, raw_size, outcome)
                VALUES (1, 1, 100, 'k1', 'h', 'spam', 's1', 0,
                        '{"extracted":{"source":{"ip":"192.0.2.1","received_hop":2},"bulk":{"is_bulk":true},"domains":[{"domain":"example.com"},{"domain":"example.org"}]}}'),
                       (2, 2, 110, 'k2', 'h', 'spam', 's2', 0, ''),
                       (3, 2, 120, 'k3', 'h', 'spam', 's3', 0,
                        '{"extracted":{"source":{"ip":null,"reason":"none"},"bulk":{"is_bulk":false},"domains":[]}}');
            INSERT INTO evidence (report_id, zone, key) VALUES (1, 'iprbl.test', '192.0.2.1'),
                (2, 'iprbl.test', '192.0.2.1'), (3, 'iprbl.test', '192.0.2.1');
            INSERT INTO audit (at, zone, key, action, reason, report_id) VALUES
                (110, 'iprbl.test', '192.0.2.1', 'listed', 'score 2.00 from 2 reporters reached the threshold; listing #1 in the repeat window, at least until 5', 2),
                (120, 'iprbl.test', '192.0.2.1', 'delisted', 'self-service removal, request #7', NULL),
                (130, 'iprbl.test', '192.0.2.1', 'listed', 'score 2.00 from 2 reporters reached the threshold; listing #2 in the repeat window, at least until 9', 3),
                (140, 'iprbl.test', '192.0.2.1', 'delisted', 'request #12 approved by alice', NULL),
                (150, 'iprbl.test', '192.0.2.1', 'delisted', 'score decayed to 0.40, below the delisting threshold', NULL),
                (160, 'iprbl.test', '192.0.2.1', 'manual-list', 'manual listing by admin (127.0.0.2): x', NULL),
                (170, 'iprbl.test', '192.0.2.1', 'delisted', 'removed by bob', NULL),
                (180, 'iprbl.test', '192.0.2.1', 'delisted', 'manual listing expired', NULL),
                (190, NULL, NULL, 'reporter-suspend', 'reporter a', NULL),
                (200, NULL, '192.0.2.1', 'delist-queued', 'request #12: 2 self-service removals', NULL);
            "#,
        )
        .unwrap();
    }

    #[test]
    fn migration_5_converts_history_and_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        version_4_database(&path);
        let s = Store::open(&path).unwrap();
        let events = s.listing_events("iprbl.test", "192.0.2.1", 100).unwrap();
        type Row<'a> = (i64, EventKind, &'a str, Option<i64>, Option<i64>);
        let got: Vec<Row<'_>> = events
            .iter()
            .map(|e| (e.at, e.kind, e.actor.as_str(), e.report_id, e.request_id))
            .collect();
        assert_eq!(
            got,
            vec![
                (110, EventKind::Listed, "reports", Some(2), None),
                (
                    120,
                    EventKind::DelistedSelfService,
                    "self-service",
                    None,
                    Some(7)
                ),
                (130, EventKind::Relisted, "reports", Some(3), None),
                (140, EventKind::DelistedReview, "alice", None, Some(12)),
                (150, EventKind::DelistedDecay, "decay", None, None),
                (160, EventKind::ManualListed, "admin", None, None),
                (170, EventKind::DelistedOperator, "bob", None, None),
                (180, EventKind::ManualExpired, "expiry", None, None),
            ]
        );
        let ev = s.evidence("iprbl.test", "192.0.2.1", 10).unwrap();
        type Cols<'a> = (i64, i64, Option<&'a str>, Option<u32>, bool);
        let cols: Vec<Cols<'_>> = ev
            .iter()
            .map(|e| {
                (
                    e.report_id,
                    e.received_at,
                    e.source_ip.as_deref(),
                    e.source_hop,
                    e.from_trap,
                )
            })
            .collect();
        assert_eq!(
            cols,
            vec![
                (3, 120, None, None, true),
                (2, 110, None, None, true),
                (1, 100, Some("192.0.2.1"), Some(2), false),
            ]
        );
        let (bulk, domains): (bool, String) = s
            .conn
            .query_row("SELECT bulk, domains FROM reports WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(bulk);
        assert_eq!(domains, "example.com example.org");
        assert_eq!(s.reporter_count("iprbl.test", "192.0.2.1").unwrap(), 2);
        let (events, _) = s.report_events("iprbl.test", "192.0.2.1", 0, 100).unwrap();
        assert_eq!(
            events,
            vec![
                ReportEvent {
                    at: 100,
                    reporter: 1,
                    weight: 1.0
                },
                ReportEvent {
                    at: 110,
                    reporter: 2,
                    weight: 2.0
                },
                ReportEvent {
                    at: 120,
                    reporter: 2,
                    weight: 2.0
                },
            ]
        );
        // The audit log is untouched.
        assert_eq!(s.audit_log(None, 100).unwrap().len(), 10);
    }

    #[test]
    fn readers_see_commits_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let mut s = Store::open(&path).unwrap();
        let (a, _) = two_reporters(&mut s);
        let mut r = Reader::open(&path).unwrap();
        assert_eq!(r.report_count().unwrap(), 0);
        ingest(&mut s, &report(a, "<m>", 5), &[key("example.com")]).unwrap();
        let (count, row) = r
            .consistent(|v| Ok((v.report_count()?, v.listing("iprbl.test", "example.com")?)))
            .unwrap();
        assert_eq!(count, 1);
        assert_eq!(row.map(|l| (l.first_seen, l.report_count)), Some((5, 1)));
        assert!(
            r.conn.execute("DELETE FROM reports", []).is_err(),
            "read-only"
        );
        // A reader never blocks the writer, even inside a read transaction.
        r.consistent(|v| {
            let before = v.report_count()?;
            ingest(&mut s, &report(a, "<n>", 6), &[key("example.com")]).unwrap();
            assert_eq!(v.report_count()?, before, "one snapshot per transaction");
            Ok(())
        })
        .unwrap();
        assert_eq!(r.report_count().unwrap(), 2);
    }

    #[test]
    fn writes_wait_for_another_writer_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let mut s = Store::open(&path).unwrap();
        let (a, _) = two_reporters(&mut s);
        // Read, so that a deferred transaction would start as a reader.
        assert_eq!(s.report_count().unwrap(), 0);
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let mut g = s.group().unwrap();
                let r = g.ingest(&report(a, "<m>", 5), 1.0, &[key("example.com")], |_, _| {
                    "{}".into()
                });
                let done = r.map(|_| ()).and_then(|()| g.commit());
                tx.send(done.is_ok()).unwrap();
            });
            assert!(
                rx.recv_timeout(std::time::Duration::from_millis(200))
                    .is_err(),
                "still waiting for the lock"
            );
            other.execute_batch("COMMIT").unwrap();
            assert!(rx.recv().unwrap(), "written once the lock was free");
        });
    }

    #[test]
    fn durable_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let mut s = Store::open(&path).unwrap();
            let (a, _) = two_reporters(&mut s);
            ingest(&mut s, &report(a, "<m>", 5), &[key("example.com")]).unwrap();
            s.never_list_add("gmail.com", "mailbox provider", 5)
                .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.report_count().unwrap(), 1);
        assert_eq!(s.never_list().unwrap()[0].entry, "gmail.com");
        let (raw, codec): (Vec<u8>, String) = s
            .conn
            .query_row("SELECT raw, raw_codec FROM reports", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(codec, "lz4");
        assert_eq!(
            decompress(&raw, &codec).unwrap(),
            b"Subject: hello\r\n\r\nbody"
        );
        assert!(s.key_state("iprbl.test", "example.com").unwrap().is_some());
        assert!(s.listing("iprbl.test", "other.com").unwrap().is_none());
    }
}
