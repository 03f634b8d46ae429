//! The audit log: a human-readable record of every change, for operators
//! (`fadelist admin audit`). Programs read the typed tables instead
//! ([`crate::events`] for listing history): the wording here may change.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::Result;

/// Filters of [`crate::Read::audit_query`].
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
    /// At most this many (default 100, at most [`MAX_AUDIT_ROWS`]).
    #[serde(default = "default_limit")]
    pub limit: usize,
}

/// The most entries one audit query returns.
pub const MAX_AUDIT_ROWS: usize = 10_000;

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

/// Appends an entry (inside the caller's transaction).
pub(crate) fn write(
    conn: &Connection,
    zone: Option<&str>,
    key: Option<&str>,
    action: &str,
    reason: &str,
    report: Option<i64>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit (at, zone, key, action, reason, report_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![now, zone, key, action, reason, report])?;
    Ok(())
}

/// Entries matching `f`, newest first.
pub(crate) fn query(conn: &Connection, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
    crate::rows(
        conn,
        "SELECT id, at, zone, key, action, reason, report_id FROM audit
         WHERE (?1 IS NULL OR key = ?1) AND (?2 IS NULL OR zone = ?2) AND (?3 IS NULL OR action = ?3)
           AND (?4 IS NULL OR at >= ?4) ORDER BY id DESC LIMIT ?5",
        params![
            f.key,
            f.zone,
            f.action,
            f.since,
            f.limit.clamp(1, MAX_AUDIT_ROWS) as i64
        ],
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
    )
}
