//! The SQLite system of record: reporters, reports, contributions and
//! listings, the never-list and the audit log.
//!
//! One [`Store`] owns one connection. The server gives the writing store to
//! a single task (SQLite allows one writer; serialising in our process
//! avoids `SQLITE_BUSY` altogether). WAL mode lets read-only connections
//! run beside it. Every report is ingested in one transaction — the report
//! row, each key's contributions and listing row, evidence and audit
//! entries — so a crash leaves either all of it or none, and
//! `synchronous = FULL` makes a committed report survive power loss, not
//! only a killed process.
#![warn(missing_docs)]

use std::io::Read;
use std::path::Path;

use fadelist_core::policy::{Contribution, Evaluation, KeyState, Policy, Transition};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rusqlite_migration::{M, Migrations};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StoreError>;

/// What kind of source a reporter is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReporterKind {
    /// People clicking "this is spam" in a mail filter.
    User,
    /// A spam trap: addresses nobody asked mail for.
    Trap,
}

impl ReporterKind {
    fn as_str(self) -> &'static str {
        match self {
            ReporterKind::User => "user",
            ReporterKind::Trap => "trap",
        }
    }
}

/// A reporter as stored (without its token).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reporter {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Weight of each of its reports.
    pub weight: f64,
    /// User or trap.
    pub kind: ReporterKind,
    /// Its own MX and filter networks (CIDR text).
    pub trusted: Vec<String>,
    /// Suspended reporters are refused (403).
    pub suspended: bool,
    /// Removed reporters keep their past reports but can no longer log in.
    pub removed: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// The SHA-256 hex digest of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A new report to record.
#[derive(Clone, Debug)]
pub struct NewReport<'a> {
    /// Who sent it.
    pub reporter_id: i64,
    /// When it arrived.
    pub received_at: i64,
    /// Message-ID of the reported message.
    pub message_id: Option<&'a str>,
    /// Hash of its body.
    pub body_hash: &'a str,
    /// spam, phishing or malware.
    pub category: &'a str,
    /// Decoded subject.
    pub subject: Option<&'a str>,
    /// The raw sample (compressed before storing).
    pub raw: &'a [u8],
}

impl NewReport<'_> {
    fn dedupe_key(&self) -> String {
        format!("{}\n{}", self.message_id.unwrap_or(""), self.body_hash)
    }
}

/// One key a report counts against.
#[derive(Clone, Debug)]
pub struct KeyInput {
    /// Zone name.
    pub zone: String,
    /// Key text (`ListingKey` display form).
    pub key: String,
    /// Category for the listing.
    pub category: String,
    /// The zone's policy.
    pub policy: Policy,
}

/// What a report did to one key.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct KeyOutcome {
    /// Zone name.
    pub zone: String,
    /// Key text.
    pub key: String,
    /// Score after the report.
    pub score: f64,
    /// Reporters currently corroborating.
    pub reporters: u32,
    /// Listed after the report.
    pub listed: bool,
    /// The report made it listed just now.
    pub newly_listed: bool,
    /// Projected automatic delisting time, if listed.
    pub expires_at: Option<i64>,
    /// Category of the listing.
    pub category: String,
}

/// A report already seen from the same reporter.
#[derive(Clone, Debug, PartialEq)]
pub struct Duplicate {
    /// The first report's id.
    pub report_id: i64,
    /// Its recorded outcome (JSON).
    pub outcome: String,
}

/// A listed key, for building the DNS data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Zone name.
    pub zone: String,
    /// Key text.
    pub key: String,
    /// Category.
    pub category: String,
}

/// A change made by a decay pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delisted {
    /// Zone name.
    pub zone: String,
    /// Key text.
    pub key: String,
}

/// The stored listing state of a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListingRow {
    /// Category of the latest report.
    pub category: String,
    /// First report, Unix seconds.
    pub first_seen: i64,
    /// Latest report, Unix seconds.
    pub last_seen: i64,
    /// Start of the current listing, if listed.
    pub listed_since: Option<i64>,
    /// The current listing lasts at least until then.
    pub min_until: Option<i64>,
    /// Listings in the repeat window.
    pub listing_count: i64,
    /// Reports counted against the key.
    pub report_count: i64,
}

/// One report counted against a key, for lookup pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Report id.
    pub report_id: i64,
    /// When it arrived.
    pub received_at: i64,
    /// Its subject (unredacted: redact before showing it).
    pub subject: Option<String>,
    /// spam, phishing or malware.
    pub category: String,
    /// The JSON answer recorded with it (extraction details).
    pub outcome: String,
    /// Reported by a spam trap.
    pub from_trap: bool,
}

/// What happened to a delisting request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DelistOutcome {
    /// Removed at once.
    Removed,
    /// Too many recent removals: waiting for human review.
    Queued,
    /// The key was not listed in any report-fed zone.
    NotListed,
}

impl DelistOutcome {
    fn as_str(self) -> &'static str {
        match self {
            DelistOutcome::Removed => "removed",
            DelistOutcome::Queued => "queued",
            DelistOutcome::NotListed => "not-listed",
        }
    }
}

/// The result of a delisting request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DelistResult {
    /// Request id.
    pub id: i64,
    /// What happened.
    pub outcome: DelistOutcome,
    /// Zones the key was (or, when queued, is) listed in.
    pub zones: Vec<String>,
    /// Self-service removals of this key in the window before this one.
    pub recent_removals: i64,
}

/// A recorded delisting request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DelistRequest {
    /// Id.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who asked (client IP).
    pub requester_ip: String,
    /// The key.
    pub key: String,
    /// Contact e-mail.
    pub email: String,
    /// The requester's explanation.
    pub explanation: String,
    /// removed, queued, not-listed, approved or denied.
    pub outcome: String,
    /// Zones concerned.
    pub zones: Vec<String>,
}

/// A manual listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ManualListing {
    /// Zone.
    pub zone: String,
    /// Key text.
    pub key: String,
    /// Return code (A value).
    pub code: String,
    /// Reason (TXT).
    pub reason: String,
    /// Expiry, Unix seconds.
    pub until: Option<i64>,
}

/// Filters of [`Store::audit_query`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Only this key.
    pub key: Option<String>,
    /// Only this zone.
    pub zone: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<i64>,
    /// At most this many (default 100).
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    100
}

/// An audit log entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Id.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Zone, if any.
    pub zone: Option<String>,
    /// Key, if any.
    pub key: Option<String>,
    /// What happened (`listed`, `delisted`, `neverlist-add`, …).
    pub action: String,
    /// Why.
    pub reason: String,
    /// The report that caused it, if any.
    pub report_id: Option<i64>,
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../migrations/001_initial.sql")),
        M::up(include_str!("../migrations/002_delisting.sql")),
        M::up(include_str!("../migrations/003_manual_listings.sql")),
        M::up(include_str!("../migrations/004_raw_codec.sql")),
    ])
}

/// Compresses a raw sample for storage (codec `lz4`).
fn compress(raw: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(raw)
}

/// Decompresses a stored raw sample written with `codec` (`lz4`, or
/// `deflate` for rows written by earlier versions).
pub fn decompress(stored: &[u8], codec: &str) -> std::io::Result<Vec<u8>> {
    match codec {
        "lz4" => lz4_flex::block::decompress_size_prepended(stored)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        "deflate" => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(stored).read_to_end(&mut out)?;
            Ok(out)
        }
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unknown raw sample codec {other:?}"),
        )),
    }
}

/// The store.
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
    pub fn open(path: &Path) -> Result<Store> {
        Self::setup(Connection::open(path)?)
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations().to_latest(&mut conn)?;
        // Every statement of the ingest transaction stays prepared.
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Store { conn })
    }

    // ------------------------------------------------------------ reporters

    /// Adds a reporter; returns it and its new API token (shown once).
    pub fn add_reporter(
        &mut self,
        name: &str,
        weight: f64,
        kind: ReporterKind,
        trusted: &[String],
        token: &str,
        now: i64,
    ) -> Result<Reporter> {
        let trusted_json =
            serde_json::to_string(trusted).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let r = self.conn.execute(
            "INSERT INTO reporters (name, token_hash, weight, kind, trusted, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![name, sha256_hex(token.as_bytes()), weight, kind.as_str(), trusted_json, now],
        );
        match r {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::Exists(format!("reporter {name:?}")));
            }
            other => {
                other?;
            }
        }
        let id = self.conn.last_insert_rowid();
        self.reporter_where("id = ?1", params![id])?
            .ok_or_else(|| StoreError::Corrupt("reporter vanished".into()))
    }

    fn reporter_where(&self, cond: &str, p: impl rusqlite::Params) -> Result<Option<Reporter>> {
        let sql = format!(
            "SELECT id, name, weight, kind, trusted, suspended, created_at FROM reporters WHERE {cond}"
        );
        self.conn
            .query_row(&sql, p, row_to_reporter)
            .optional()?
            .transpose()
    }

    /// The reporter whose token is `token`.
    pub fn reporter_by_token(&self, token: &str) -> Result<Option<Reporter>> {
        self.reporter_where("token_hash = ?1", params![sha256_hex(token.as_bytes())])
    }

    /// The reporter named `name`.
    pub fn reporter_by_name(&self, name: &str) -> Result<Option<Reporter>> {
        self.reporter_where("name = ?1", params![name])
    }

    /// All reporters, by name.
    pub fn reporters(&self) -> Result<Vec<Reporter>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, weight, kind, trusted, suspended, created_at FROM reporters ORDER BY name")?;
        let rows = stmt.query_map([], row_to_reporter)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(|x| x))
            .collect()
    }

    /// Suspends or reinstates a reporter; false when no such reporter.
    pub fn set_suspended(&mut self, name: &str, suspended: bool, now: i64) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE reporters SET suspended = ?2 WHERE name = ?1 AND suspended < 2",
            params![name, i64::from(suspended)],
        )?;
        if n > 0 {
            let action = if suspended {
                "reporter-suspend"
            } else {
                "reporter-reinstate"
            };
            self.audit(None, None, action, &format!("reporter {name}"), None, now)?;
        }
        Ok(n > 0)
    }

    /// Removes a reporter: its token stops working and its pending
    /// contributions stop counting; its past reports stay as evidence.
    pub fn remove_reporter(&mut self, name: &str, now: i64) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM reporters WHERE name = ?1 AND suspended < 2",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(false);
        };
        tx.execute(
            "UPDATE reporters SET suspended = 2, token_hash = 'removed:' || id WHERE id = ?1",
            params![id],
        )?;
        tx.execute(
            "DELETE FROM contributions WHERE reporter_id = ?1",
            params![id],
        )?;
        audit_tx(
            &tx,
            None,
            None,
            "reporter-remove",
            &format!("reporter {name}"),
            None,
            now,
        )?;
        tx.commit()?;
        Ok(true)
    }

    // ------------------------------------------------------------ never-list

    /// Adds a never-list entry (IP, CIDR or domain text, already validated).
    pub fn never_list_add(&mut self, entry: &str, reason: &str, now: i64) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO never_list (entry, reason, added_at) VALUES (?1, ?2, ?3)",
            params![entry, reason, now],
        )?;
        if n > 0 {
            self.audit(None, Some(entry), "neverlist-add", reason, None, now)?;
        }
        Ok(n > 0)
    }

    /// Removes a never-list entry; false when absent.
    pub fn never_list_remove(&mut self, entry: &str, now: i64) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM never_list WHERE entry = ?1", params![entry])?;
        if n > 0 {
            self.audit(None, Some(entry), "neverlist-remove", "operator", None, now)?;
        }
        Ok(n > 0)
    }

    /// All never-list entries: (entry, reason, added_at).
    pub fn never_list(&self) -> Result<Vec<(String, String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT entry, reason, added_at FROM never_list ORDER BY entry")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ------------------------------------------------------------ reports

    /// The earlier report with the same Message-ID and body hash from the
    /// same reporter, if any.
    pub fn duplicate_of(&self, report: &NewReport<'_>) -> Result<Option<Duplicate>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, outcome FROM reports WHERE reporter_id = ?1 AND dedupe_key = ?2",
                params![report.reporter_id, report.dedupe_key()],
                |r| {
                    Ok(Duplicate {
                        report_id: r.get(0)?,
                        outcome: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records a report and applies it to `keys` in one transaction.
    ///
    /// `outcome` builds the JSON stored with the report from the report id
    /// and the per-key outcomes (it is what the API answered). Returns the
    /// report id and the outcomes, or the earlier report if this one is a
    /// duplicate (then nothing is written).
    pub fn ingest(
        &mut self,
        report: &NewReport<'_>,
        weight: f64,
        keys: &[KeyInput],
        outcome: impl FnOnce(i64, &[KeyOutcome]) -> String,
    ) -> Result<std::result::Result<(i64, Vec<KeyOutcome>), Duplicate>> {
        let raw = compress(report.raw);
        let tx = self.conn.transaction()?;
        let dup: Option<Duplicate> = tx
            .prepare_cached(
                "SELECT id, outcome FROM reports WHERE reporter_id = ?1 AND dedupe_key = ?2",
            )?
            .query_row(params![report.reporter_id, report.dedupe_key()], |r| {
                Ok(Duplicate {
                    report_id: r.get(0)?,
                    outcome: r.get(1)?,
                })
            })
            .optional()?;
        if let Some(d) = dup {
            return Ok(Err(d));
        }
        let now = report.received_at;
        tx.prepare_cached("INSERT INTO reports (reporter_id, received_at, dedupe_key, message_id, body_hash, category, subject, raw, raw_size, outcome, raw_codec)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '', 'lz4')")?.execute(params![
                report.reporter_id,
                now,
                report.dedupe_key(),
                report.message_id,
                report.body_hash,
                report.category,
                report.subject,
                raw,
                report.raw.len() as i64,
            ],
        )?;
        let report_id = tx.last_insert_rowid();
        let mut outcomes = Vec::with_capacity(keys.len());
        for k in keys {
            let (mut state, existed) = load_state(&tx, &k.zone, &k.key)?;
            let eval = k
                .policy
                .add_report(&mut state, report.reporter_id, weight, now);
            k.policy.prune(&mut state, now);
            save_state(&tx, &k.zone, &k.key, &k.category, &state, existed, now, 1)?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO evidence (report_id, zone, key) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![report_id, k.zone, k.key])?;
            if let Some(Transition::Listed { nth, min_until }) = eval.transition {
                let reason = format!(
                    "score {:.2} from {} reporters reached the threshold; listing #{nth} in the repeat window, at least until {min_until}",
                    eval.score, eval.reporters
                );
                audit_tx(
                    &tx,
                    Some(&k.zone),
                    Some(&k.key),
                    "listed",
                    &reason,
                    Some(report_id),
                    now,
                )?;
            }
            outcomes.push(key_outcome(k, &eval));
        }
        let json = outcome(report_id, &outcomes);
        tx.prepare_cached("UPDATE reports SET outcome = ?2 WHERE id = ?1")?
            .execute(params![report_id, json])?;
        tx.commit()?;
        Ok(Ok((report_id, outcomes)))
    }

    /// Number of reports stored.
    pub fn report_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM reports", [], |r| r.get(0))?)
    }

    /// Drops raw samples older than `before` (retention); returns how many.
    pub fn expire_raw(&mut self, before: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE reports SET raw = NULL WHERE received_at < ?1 AND raw IS NOT NULL",
            params![before],
        )?)
    }

    // ------------------------------------------------------------ listings

    /// Every listed key.
    pub fn listed(&self) -> Result<Vec<Listed>> {
        let mut stmt = self
            .conn
            .prepare("SELECT zone, key, category FROM listings WHERE listed_since IS NOT NULL ORDER BY zone, key")?;
        let rows = stmt.query_map([], |r| {
            Ok(Listed {
                zone: r.get(0)?,
                key: r.get(1)?,
                category: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Re-evaluates every listed key at `now` and delists those whose score
    /// decayed below the threshold (the decay timer). `policy_for` gives
    /// each zone's policy.
    pub fn decay_pass(
        &mut self,
        policy_for: impl Fn(&str) -> Policy,
        now: i64,
    ) -> Result<Vec<Delisted>> {
        let tx = self.conn.transaction()?;
        let listed: Vec<(String, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT zone, key, category FROM listings WHERE listed_since IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::new();
        for (zone, key, category) in listed {
            let policy = policy_for(&zone);
            let (mut state, existed) = load_state(&tx, &zone, &key)?;
            let eval = policy.evaluate(&mut state, now);
            if eval.transition == Some(Transition::Delisted) {
                policy.prune(&mut state, now);
                save_state(&tx, &zone, &key, &category, &state, existed, now, 0)?;
                let reason = format!(
                    "score decayed to {:.2}, below the delisting threshold",
                    eval.score
                );
                audit_tx(&tx, Some(&zone), Some(&key), "delisted", &reason, None, now)?;
                out.push(Delisted { zone, key });
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// The evidence state of a key (for lookups and tests).
    pub fn key_state(&self, zone: &str, key: &str) -> Result<Option<KeyState>> {
        let tx = self.conn.unchecked_transaction()?;
        let (state, existed) = load_state(&tx, zone, key)?;
        Ok(existed.then_some(state))
    }

    // ------------------------------------------------------------ delisting

    /// Handles a delisting request for `key` in the report-fed `zones`.
    ///
    /// Removal is immediate when the key had fewer than `limit`
    /// self-service removals in the last `window` seconds; otherwise the
    /// request waits in the review queue. A removal discards the evidence
    /// collected so far (old reports cannot relist the key) but keeps the
    /// listing history, so new reports relist it with the repeat-offender
    /// escalation. Every request is recorded, whatever its outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn request_delisting(
        &mut self,
        key: &str,
        zones: &[String],
        requester_ip: &str,
        email: &str,
        explanation: &str,
        now: i64,
        limit: u32,
        window: i64,
    ) -> Result<DelistResult> {
        let tx = self.conn.transaction()?;
        let listed: Vec<String> = {
            let mut stmt = tx
                .prepare("SELECT zone FROM listings WHERE key = ?1 AND listed_since IS NOT NULL")?;
            let rows = stmt.query_map(params![key], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter(|z| zones.contains(z))
                .collect()
        };
        let recent: i64 = tx.query_row(
            "SELECT count(*) FROM delist_requests WHERE key = ?1 AND outcome IN ('removed', 'approved') AND at > ?2",
            params![key, now.saturating_sub(window)],
            |r| r.get(0),
        )?;
        let outcome = if listed.is_empty() {
            DelistOutcome::NotListed
        } else if recent < i64::from(limit) {
            DelistOutcome::Removed
        } else {
            DelistOutcome::Queued
        };
        let zones_json =
            serde_json::to_string(&listed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO delist_requests (at, requester_ip, key, email, explanation, outcome, zones)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![now, requester_ip, key, email, explanation, outcome.as_str(), zones_json],
        )?;
        let id = tx.last_insert_rowid();
        if outcome == DelistOutcome::Removed {
            for z in &listed {
                remove_listing(&tx, z, key)?;
                audit_tx(
                    &tx,
                    Some(z),
                    Some(key),
                    "delisted",
                    &format!("self-service removal, request #{id}"),
                    None,
                    now,
                )?;
            }
        } else if outcome == DelistOutcome::Queued {
            audit_tx(
                &tx,
                None,
                Some(key),
                "delist-queued",
                &format!(
                    "request #{id}: {recent} self-service removals in the window; human review"
                ),
                None,
                now,
            )?;
        }
        tx.commit()?;
        Ok(DelistResult {
            id,
            outcome,
            zones: listed,
            recent_removals: recent,
        })
    }

    /// Delisting requests waiting for review, oldest first.
    pub fn review_queue(&self) -> Result<Vec<DelistRequest>> {
        self.delist_requests_where("outcome = 'queued' ORDER BY id")
    }

    /// Every delisting request of a key, newest first.
    pub fn delist_requests_for(&self, key: &str) -> Result<Vec<DelistRequest>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, requester_ip, key, email, explanation, outcome, zones FROM delist_requests
             WHERE key = ?1 ORDER BY id DESC",
        )?;
        let rows = stmt.query_map(params![key], row_to_request)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delist_requests_where(&self, cond: &str) -> Result<Vec<DelistRequest>> {
        let sql = format!(
            "SELECT id, at, requester_ip, key, email, explanation, outcome, zones FROM delist_requests WHERE {cond}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], row_to_request)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Decides a queued request: `approve` removes the key from the zones
    /// it is listed in now. Returns the zones removed from, or `None` when
    /// there is no such queued request.
    pub fn decide(
        &mut self,
        id: i64,
        approve: bool,
        by: &str,
        zones: &[String],
        now: i64,
    ) -> Result<Option<Vec<String>>> {
        let tx = self.conn.transaction()?;
        let key: Option<String> = tx
            .query_row(
                "SELECT key FROM delist_requests WHERE id = ?1 AND outcome = 'queued'",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(key) = key else {
            return Ok(None);
        };
        let mut removed = Vec::new();
        if approve {
            let listed: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT zone FROM listings WHERE key = ?1 AND listed_since IS NOT NULL",
                )?;
                let rows = stmt.query_map(params![key], |r| r.get::<_, String>(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for z in listed.into_iter().filter(|z| zones.contains(z)) {
                remove_listing(&tx, &z, &key)?;
                audit_tx(
                    &tx,
                    Some(&z),
                    Some(&key),
                    "delisted",
                    &format!("request #{id} approved by {by}"),
                    None,
                    now,
                )?;
                removed.push(z);
            }
        } else {
            audit_tx(
                &tx,
                None,
                Some(&key),
                "delist-denied",
                &format!("request #{id} denied by {by}"),
                None,
                now,
            )?;
        }
        tx.execute(
            "UPDATE delist_requests SET outcome = ?2, decided_at = ?3, decided_by = ?4 WHERE id = ?1",
            params![id, if approve { "approved" } else { "denied" }, now, by],
        )?;
        tx.commit()?;
        Ok(Some(removed))
    }

    // ------------------------------------------------------------ manual listings

    /// Adds (or replaces) a manual listing.
    #[allow(clippy::too_many_arguments)]
    pub fn add_manual(
        &mut self,
        zone: &str,
        key: &str,
        code: &str,
        reason: &str,
        until: Option<i64>,
        by: &str,
        now: i64,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO manual_listings (zone, key, code, reason, until, added_at, added_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![zone, key, code, reason, until, now, by],
        )?;
        let why = match until {
            Some(u) => format!("manual listing by {by} ({code}) until {u}: {reason}"),
            None => format!("manual listing by {by} ({code}): {reason}"),
        };
        audit_tx(&tx, Some(zone), Some(key), "manual-list", &why, None, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Every manual listing.
    pub fn manual_listings(&self) -> Result<Vec<ManualListing>> {
        let mut stmt = self.conn.prepare(
            "SELECT zone, key, code, reason, until FROM manual_listings ORDER BY zone, key",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ManualListing {
                zone: r.get(0)?,
                key: r.get(1)?,
                code: r.get(2)?,
                reason: r.get(3)?,
                until: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes every listing of `key` in `zone`, manual and report-fed
    /// (discarding the evidence); returns whether anything was listed.
    pub fn remove_listing(&mut self, zone: &str, key: &str, by: &str, now: i64) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let manual = tx.execute(
            "DELETE FROM manual_listings WHERE zone = ?1 AND key = ?2",
            params![zone, key],
        )?;
        let auto: i64 = tx.query_row(
            "SELECT count(*) FROM listings WHERE zone = ?1 AND key = ?2 AND listed_since IS NOT NULL",
            params![zone, key],
            |r| r.get(0),
        )?;
        remove_listing(&tx, zone, key)?;
        let any = manual > 0 || auto > 0;
        if any {
            audit_tx(
                &tx,
                Some(zone),
                Some(key),
                "delisted",
                &format!("removed by {by}"),
                None,
                now,
            )?;
        }
        tx.commit()?;
        Ok(any)
    }

    /// Removes manual listings whose time is up; returns them.
    pub fn expire_manual(&mut self, now: i64) -> Result<Vec<Delisted>> {
        let tx = self.conn.transaction()?;
        let gone: Vec<Delisted> = {
            let mut stmt = tx.prepare(
                "SELECT zone, key FROM manual_listings WHERE until IS NOT NULL AND until <= ?1",
            )?;
            let rows = stmt.query_map(params![now], |r| {
                Ok(Delisted {
                    zone: r.get(0)?,
                    key: r.get(1)?,
                })
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for d in &gone {
            tx.execute(
                "DELETE FROM manual_listings WHERE zone = ?1 AND key = ?2",
                params![d.zone, d.key],
            )?;
            audit_tx(
                &tx,
                Some(&d.zone),
                Some(&d.key),
                "delisted",
                "manual listing expired",
                None,
                now,
            )?;
        }
        tx.commit()?;
        Ok(gone)
    }

    // ------------------------------------------------------------ lookups

    /// The listing row of a key, if the key was ever reported.
    pub fn listing(&self, zone: &str, key: &str) -> Result<Option<ListingRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT category, first_seen, last_seen, listed_since, min_until, listing_count, report_count
                 FROM listings WHERE zone = ?1 AND key = ?2",
                params![zone, key],
                |r| {
                    Ok(ListingRow {
                        category: r.get(0)?,
                        first_seen: r.get(1)?,
                        last_seen: r.get(2)?,
                        listed_since: r.get(3)?,
                        min_until: r.get(4)?,
                        listing_count: r.get(5)?,
                        report_count: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every report counted against a key, oldest first: (time, reporter,
    /// the reporter's weight). Enough to replay its score over time.
    pub fn report_events(&self, zone: &str, key: &str) -> Result<Vec<(i64, i64, f64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.received_at, r.reporter_id, p.weight FROM evidence e
             JOIN reports r ON r.id = e.report_id JOIN reporters p ON p.id = r.reporter_id
             WHERE e.zone = ?1 AND e.key = ?2 ORDER BY r.received_at, r.id",
        )?;
        let rows = stmt.query_map(params![zone, key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest `limit` reports counted against a key.
    pub fn evidence(&self, zone: &str, key: &str, limit: usize) -> Result<Vec<Evidence>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.id, r.received_at, r.subject, r.category, r.outcome, p.kind FROM evidence e
             JOIN reports r ON r.id = e.report_id JOIN reporters p ON p.id = r.reporter_id
             WHERE e.zone = ?1 AND e.key = ?2 ORDER BY r.received_at DESC, r.id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![zone, key, limit as i64], |r| {
            Ok(Evidence {
                report_id: r.get(0)?,
                received_at: r.get(1)?,
                subject: r.get(2)?,
                category: r.get(3)?,
                outcome: r.get(4)?,
                from_trap: r.get::<_, String>(5)? == "trap",
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Distinct reporters that ever reported a key.
    pub fn reporter_count(&self, zone: &str, key: &str) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(DISTINCT r.reporter_id) FROM evidence e JOIN reports r ON r.id = e.report_id
             WHERE e.zone = ?1 AND e.key = ?2",
            params![zone, key],
            |r| r.get(0),
        )?)
    }

    // ------------------------------------------------------------ audit

    fn audit(
        &mut self,
        zone: Option<&str>,
        key: Option<&str>,
        action: &str,
        reason: &str,
        report: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        audit_tx(&tx, zone, key, action, reason, report, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Audit entries, newest first, optionally for one key.
    pub fn audit_log(&self, key: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>> {
        self.audit_query(&AuditFilter {
            key: key.map(str::to_string),
            limit,
            ..AuditFilter::default()
        })
    }

    /// Audit entries matching `f`, newest first.
    pub fn audit_query(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, zone, key, action, reason, report_id FROM audit
             WHERE (?1 IS NULL OR key = ?1) AND (?2 IS NULL OR zone = ?2) AND (?3 IS NULL OR action = ?3)
               AND (?4 IS NULL OR at >= ?4) ORDER BY id DESC LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![f.key, f.zone, f.action, f.since, f.limit.max(1) as i64],
            |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    zone: r.get(2)?,
                    key: r.get(3)?,
                    action: r.get(4)?,
                    reason: r.get(5)?,
                    report_id: r.get(6)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn row_to_reporter(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Reporter>> {
    let kind: String = r.get(3)?;
    let trusted: String = r.get(4)?;
    let status: i64 = r.get(5)?;
    let kind = match kind.as_str() {
        "user" => ReporterKind::User,
        "trap" => ReporterKind::Trap,
        other => return Ok(Err(StoreError::Corrupt(format!("reporter kind {other:?}")))),
    };
    let trusted = match serde_json::from_str(&trusted) {
        Ok(t) => t,
        Err(e) => return Ok(Err(StoreError::Corrupt(format!("trusted networks: {e}")))),
    };
    Ok(Ok(Reporter {
        id: r.get(0)?,
        name: r.get(1)?,
        weight: r.get(2)?,
        kind,
        trusted,
        suspended: status == 1,
        removed: status == 2,
        created_at: r.get(6)?,
    }))
}

/// Ends a listing and discards its evidence; the listing history stays
/// for the repeat-offender escalation.
fn remove_listing(tx: &Transaction<'_>, zone: &str, key: &str) -> Result<()> {
    tx.execute(
        "UPDATE listings SET listed_since = NULL, min_until = NULL WHERE zone = ?1 AND key = ?2",
        params![zone, key],
    )?;
    tx.execute(
        "DELETE FROM contributions WHERE zone = ?1 AND key = ?2",
        params![zone, key],
    )?;
    Ok(())
}

fn row_to_request(r: &rusqlite::Row<'_>) -> rusqlite::Result<DelistRequest> {
    let zones: String = r.get(7)?;
    Ok(DelistRequest {
        id: r.get(0)?,
        at: r.get(1)?,
        requester_ip: r.get(2)?,
        key: r.get(3)?,
        email: r.get(4)?,
        explanation: r.get(5)?,
        outcome: r.get(6)?,
        zones: serde_json::from_str(&zones).unwrap_or_default(),
    })
}

fn key_outcome(k: &KeyInput, e: &Evaluation) -> KeyOutcome {
    KeyOutcome {
        zone: k.zone.clone(),
        key: k.key.clone(),
        score: (e.score * 1000.0).round() / 1000.0,
        reporters: e.reporters,
        listed: e.listed,
        newly_listed: matches!(e.transition, Some(Transition::Listed { .. })),
        expires_at: e.expires_at,
        category: k.category.clone(),
    }
}

fn load_state(tx: &Transaction<'_>, zone: &str, key: &str) -> Result<(KeyState, bool)> {
    let row: Option<(Option<i64>, Option<i64>, String)> = tx.prepare_cached("SELECT listed_since, min_until, past_listings FROM listings WHERE zone = ?1 AND key = ?2")?.query_row(params![zone, key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let mut state = KeyState::default();
    let existed = row.is_some();
    if let Some((since, until, past)) = row {
        state.listed_since = since;
        state.min_until = until;
        state.past_listings = serde_json::from_str(&past)
            .map_err(|e| StoreError::Corrupt(format!("past_listings: {e}")))?;
    }
    let mut stmt = tx.prepare_cached(
        "SELECT reporter_id, score, at FROM contributions WHERE zone = ?1 AND key = ?2",
    )?;
    let rows = stmt.query_map(params![zone, key], |r| {
        Ok(Contribution {
            reporter: r.get(0)?,
            score: r.get(1)?,
            at: r.get(2)?,
        })
    })?;
    state.contributions = rows.collect::<rusqlite::Result<_>>()?;
    Ok((state, existed))
}

#[allow(clippy::too_many_arguments)]
fn save_state(
    tx: &Transaction<'_>,
    zone: &str,
    key: &str,
    category: &str,
    s: &KeyState,
    existed: bool,
    now: i64,
    new_reports: i64,
) -> Result<()> {
    let past =
        serde_json::to_string(&s.past_listings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let count = s.past_listings.len() as i64;
    if existed {
        tx.prepare_cached(
            "UPDATE listings SET category = CASE WHEN ?8 > 0 THEN ?3 ELSE category END,
                 last_seen = CASE WHEN ?8 > 0 THEN ?4 ELSE last_seen END,
                 listed_since = ?5, min_until = ?6, past_listings = ?7,
                 listing_count = max(listing_count, ?9), report_count = report_count + ?8
             WHERE zone = ?1 AND key = ?2",
        )?
        .execute(params![
            zone,
            key,
            category,
            now,
            s.listed_since,
            s.min_until,
            past,
            new_reports,
            count
        ])?;
    } else {
        tx.prepare_cached("INSERT INTO listings (zone, key, category, first_seen, last_seen, listed_since, min_until, past_listings, listing_count, report_count)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?9, ?8)")?.execute(params![zone, key, category, now, s.listed_since, s.min_until, past, new_reports, count],
        )?;
    }
    tx.prepare_cached("DELETE FROM contributions WHERE zone = ?1 AND key = ?2")?
        .execute(params![zone, key])?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO contributions (zone, key, reporter_id, score, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for c in &s.contributions {
        ins.execute(params![zone, key, c.reporter, c.score, c.at])?;
    }
    Ok(())
}

fn audit_tx(
    tx: &Transaction<'_>,
    zone: Option<&str>,
    key: Option<&str>,
    action: &str,
    reason: &str,
    report: Option<i64>,
    now: i64,
) -> Result<()> {
    tx.prepare_cached("INSERT INTO audit (at, zone, key, action, reason, report_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(params![now, zone, key, action, reason, report],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report<'a>(reporter_id: i64, mid: &'a str, now: i64) -> NewReport<'a> {
        NewReport {
            reporter_id,
            received_at: now,
            message_id: Some(mid),
            body_hash: "abc",
            category: "spam",
            subject: Some("hello"),
            raw: b"Subject: hello\r\n\r\nbody",
        }
    }

    fn key(k: &str) -> KeyInput {
        KeyInput {
            zone: "iprbl.test".into(),
            key: k.into(),
            category: "spam".into(),
            policy: Policy::default(),
        }
    }

    #[test]
    fn reporters_tokens_and_status() {
        let mut s = Store::open_in_memory().unwrap();
        let r = s
            .add_reporter(
                "mx1",
                1.0,
                ReporterKind::User,
                &["192.0.2.0/24".into()],
                "tok-1",
                10,
            )
            .unwrap();
        assert_eq!(r.trusted, vec!["192.0.2.0/24"]);
        assert!(matches!(
            s.add_reporter("mx1", 1.0, ReporterKind::Trap, &[], "tok-2", 10),
            Err(StoreError::Exists(_))
        ));
        assert_eq!(s.reporter_by_token("tok-1").unwrap().unwrap().name, "mx1");
        assert!(s.reporter_by_token("nope").unwrap().is_none());
        assert!(s.set_suspended("mx1", true, 11).unwrap());
        assert!(s.reporter_by_token("tok-1").unwrap().unwrap().suspended);
        assert!(s.remove_reporter("mx1", 12).unwrap());
        assert!(
            s.reporter_by_token("tok-1").unwrap().is_none(),
            "token dead after removal"
        );
        assert!(!s.remove_reporter("mx1", 13).unwrap());
        assert_eq!(s.reporters().unwrap().len(), 1);
        assert!(
            s.audit_log(None, 10)
                .unwrap()
                .iter()
                .any(|a| a.action == "reporter-remove")
        );
    }

    #[test]
    fn two_reporters_list_duplicates_count_once_and_decay_delists() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s
            .add_reporter("a", 1.0, ReporterKind::User, &[], "ta", 0)
            .unwrap();
        let b = s
            .add_reporter("b", 1.0, ReporterKind::Trap, &[], "tb", 0)
            .unwrap();
        let keys = [key("192.0.2.1")];
        let (id1, out) = s
            .ingest(&report(a.id, "<m1>", 100), 1.0, &keys, |_, _| "{}".into())
            .unwrap()
            .unwrap();
        assert!(!out[0].listed);
        let dup = s
            .ingest(&report(a.id, "<m1>", 101), 1.0, &keys, |_, _| "{}".into())
            .unwrap()
            .unwrap_err();
        assert_eq!(dup.report_id, id1);
        assert_eq!(s.report_count().unwrap(), 1);
        let (_, out) = s
            .ingest(&report(b.id, "<m1>", 102), 1.0, &keys, |id, o| {
                format!("{id}:{}", o.len())
            })
            .unwrap()
            .unwrap();
        assert!(out[0].listed && out[0].newly_listed);
        assert_eq!(s.listed().unwrap().len(), 1);
        assert!(
            s.decay_pass(|_| Policy::default(), 102 + 3600)
                .unwrap()
                .is_empty()
        );
        let gone = s
            .decay_pass(|_| Policy::default(), 102 + 13 * 3600)
            .unwrap();
        assert_eq!(
            gone,
            vec![Delisted {
                zone: "iprbl.test".into(),
                key: "192.0.2.1".into()
            }]
        );
        assert!(s.listed().unwrap().is_empty());
        let log = s.audit_log(Some("192.0.2.1"), 10).unwrap();
        assert_eq!(
            log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            vec!["delisted", "listed"]
        );
    }

    #[test]
    fn self_service_delisting_limit_and_review() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s
            .add_reporter("a", 1.0, ReporterKind::User, &[], "ta", 0)
            .unwrap();
        let b = s
            .add_reporter("b", 1.0, ReporterKind::User, &[], "tb", 0)
            .unwrap();
        let zones = vec!["iprbl.test".to_string()];
        let list = |s: &mut Store, t: i64| {
            s.ingest(
                &report(a.id, &format!("<a{t}>"), t),
                1.0,
                &[key("192.0.2.1")],
                |_, _| "{}".into(),
            )
            .unwrap()
            .unwrap();
            s.ingest(
                &report(b.id, &format!("<b{t}>"), t),
                1.0,
                &[key("192.0.2.1")],
                |_, _| "{}".into(),
            )
            .unwrap()
            .unwrap();
        };
        let ask = |s: &mut Store, t: i64| {
            s.request_delisting(
                "192.0.2.1",
                &zones,
                "198.51.100.9",
                "ops@example.net",
                "fixed",
                t,
                2,
                30 * 86_400,
            )
            .unwrap()
        };
        assert_eq!(ask(&mut s, 50).outcome, DelistOutcome::NotListed);
        list(&mut s, 100);
        let r = ask(&mut s, 110);
        assert_eq!(
            (r.outcome, r.zones.clone()),
            (DelistOutcome::Removed, zones.clone())
        );
        assert!(s.listed().unwrap().is_empty());
        assert!(
            s.key_state("iprbl.test", "192.0.2.1")
                .unwrap()
                .unwrap()
                .contributions
                .is_empty(),
            "evidence discarded"
        );
        // Old evidence cannot relist: one new report is not enough.
        s.ingest(
            &report(a.id, "<a2>", 120),
            1.0,
            &[key("192.0.2.1")],
            |_, _| "{}".into(),
        )
        .unwrap()
        .unwrap();
        assert!(s.listed().unwrap().is_empty());
        list(&mut s, 130);
        assert_eq!(
            ask(&mut s, 140).outcome,
            DelistOutcome::Removed,
            "second removal in the window"
        );
        list(&mut s, 150);
        let q = ask(&mut s, 160);
        assert_eq!(q.outcome, DelistOutcome::Queued, "third goes to review");
        assert_eq!(s.listed().unwrap().len(), 1, "still listed while queued");
        assert_eq!(s.review_queue().unwrap().len(), 1);
        assert_eq!(
            s.decide(q.id, true, "admin", &zones, 170).unwrap(),
            Some(zones.clone())
        );
        assert!(s.listed().unwrap().is_empty());
        assert_eq!(
            s.decide(q.id, true, "admin", &zones, 171).unwrap(),
            None,
            "decided once"
        );
        assert_eq!(s.delist_requests_for("192.0.2.1").unwrap().len(), 4);
        // Outside the window the count starts over.
        list(&mut s, 40 * 86_400);
        assert_eq!(ask(&mut s, 40 * 86_400 + 1).outcome, DelistOutcome::Removed);
    }

    #[test]
    fn manual_listings_expire_and_remove() {
        let mut s = Store::open_in_memory().unwrap();
        s.add_manual(
            "iprbl.test",
            "192.0.2.9",
            "127.0.0.4",
            "botnet C&C",
            Some(100),
            "admin",
            10,
        )
        .unwrap();
        s.add_manual(
            "iprbl.test",
            "192.0.2.10",
            "127.0.0.2",
            "manual",
            None,
            "admin",
            10,
        )
        .unwrap();
        assert_eq!(s.manual_listings().unwrap().len(), 2);
        assert!(s.expire_manual(99).unwrap().is_empty());
        assert_eq!(
            s.expire_manual(100).unwrap(),
            vec![Delisted {
                zone: "iprbl.test".into(),
                key: "192.0.2.9".into()
            }]
        );
        assert!(
            s.remove_listing("iprbl.test", "192.0.2.10", "admin", 11)
                .unwrap()
        );
        assert!(
            !s.remove_listing("iprbl.test", "192.0.2.10", "admin", 12)
                .unwrap()
        );
        assert!(s.manual_listings().unwrap().is_empty());
        let f = AuditFilter {
            action: Some("manual-list".into()),
            limit: 10,
            ..AuditFilter::default()
        };
        assert_eq!(s.audit_query(&f).unwrap().len(), 2);
        let f = AuditFilter {
            key: Some("192.0.2.10".into()),
            since: Some(11),
            limit: 10,
            ..AuditFilter::default()
        };
        assert_eq!(
            s.audit_query(&f)
                .unwrap()
                .iter()
                .map(|e| e.action.as_str())
                .collect::<Vec<_>>(),
            vec!["delisted"]
        );
    }

    #[test]
    fn durable_across_reopen_and_raw_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let mut s = Store::open(&path).unwrap();
            let a = s
                .add_reporter("a", 1.0, ReporterKind::User, &[], "ta", 0)
                .unwrap();
            s.ingest(
                &report(a.id, "<m>", 5),
                1.0,
                &[key("example.com")],
                |_, _| "{}".into(),
            )
            .unwrap()
            .unwrap();
            s.never_list_add("gmail.com", "mailbox provider", 5)
                .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.report_count().unwrap(), 1);
        assert_eq!(s.never_list().unwrap()[0].0, "gmail.com");
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
        let row = s.listing("iprbl.test", "example.com").unwrap().unwrap();
        assert_eq!(
            (row.first_seen, row.report_count, row.listed_since),
            (5, 1, None)
        );
        assert_eq!(
            s.report_events("iprbl.test", "example.com").unwrap(),
            vec![(5, 1, 1.0)]
        );
        let ev = s.evidence("iprbl.test", "example.com", 5).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].subject.as_deref(), Some("hello"));
        assert!(!ev[0].from_trap);
        assert_eq!(s.reporter_count("iprbl.test", "example.com").unwrap(), 1);
        assert!(s.listing("iprbl.test", "other.com").unwrap().is_none());
    }
    #[test]
    fn raw_samples_round_trip_in_both_codecs() {
        use std::io::Write as _;
        let noise = fadelist_core::testrng::TestRng::new(0x2545_f491).bytes(300_000);
        for sample in [
            &b""[..],
            b"Subject: x\r\n\r\nhello",
            &noise,
            &[b'a'; 100_000][..],
        ] {
            assert_eq!(decompress(&compress(sample), "lz4").unwrap(), sample);
            // Rows written before migration 4 are raw deflate.
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(sample).unwrap();
            let old = enc.finish().unwrap();
            assert_eq!(decompress(&old, "deflate").unwrap(), sample);
        }
        assert!(decompress(b"\xff\xff\xff\x7fjunk", "lz4").is_err());
        assert!(decompress(b"x", "zstd").is_err());
    }
}
