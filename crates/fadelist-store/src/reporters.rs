//! Reporters: who may POST reports, with what weight, from which networks.
//!
//! A reporter's token is stored only as its SHA-256; a removed reporter
//! keeps its row (its past reports stay evidence) but its token is
//! replaced so it can never log in again.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Result, Store, StoreError, audit};

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

/// The values of `reporters.suspended`.
const ACTIVE: i64 = 0;
const SUSPENDED: i64 = 1;
const REMOVED: i64 = 2;

impl Store {
    /// Adds a reporter with the API token `token` (only its hash is kept).
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
        reporter_where(&self.conn, "id = ?1", params![id])?
            .ok_or_else(|| StoreError::Corrupt("reporter vanished".into()))
    }

    /// Suspends or reinstates a reporter; false when no such reporter.
    pub fn set_suspended(&mut self, name: &str, suspended: bool, now: i64) -> Result<bool> {
        let tx = self.write_tx()?;
        let n = tx.execute(
            "UPDATE reporters SET suspended = ?2 WHERE name = ?1 AND suspended < ?3",
            params![name, if suspended { SUSPENDED } else { ACTIVE }, REMOVED],
        )?;
        if n > 0 {
            let action = if suspended {
                "reporter-suspend"
            } else {
                "reporter-reinstate"
            };
            audit::write(
                &tx,
                None,
                None,
                action,
                &format!("reporter {name}"),
                None,
                now,
            )?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    /// Removes a reporter: its token stops working and its pending
    /// contributions stop counting; its past reports stay as evidence.
    pub fn remove_reporter(&mut self, name: &str, now: i64) -> Result<bool> {
        let tx = self.write_tx()?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM reporters WHERE name = ?1 AND suspended < ?2",
                params![name, REMOVED],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(false);
        };
        tx.execute(
            "UPDATE reporters SET suspended = ?2, token_hash = 'removed:' || id WHERE id = ?1",
            params![id, REMOVED],
        )?;
        tx.execute(
            "DELETE FROM contributions WHERE reporter_id = ?1",
            params![id],
        )?;
        audit::write(
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
}

const COLUMNS: &str = "id, name, weight, kind, trusted, suspended, created_at";

pub(crate) fn reporter_where(
    conn: &Connection,
    cond: &str,
    p: impl rusqlite::Params,
) -> Result<Option<Reporter>> {
    let sql = format!("SELECT {COLUMNS} FROM reporters WHERE {cond}");
    conn.prepare_cached(&sql)?
        .query_row(p, row_to_reporter)
        .optional()?
        .transpose()
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<Reporter>> {
    let sql = format!("SELECT {COLUMNS} FROM reporters ORDER BY name");
    crate::rows(conn, &sql, [], row_to_reporter)?
        .into_iter()
        .collect()
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
        suspended: status == SUSPENDED,
        removed: status == REMOVED,
        created_at: r.get(6)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Read;

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
        assert!(
            !s.set_suspended("mx1", false, 13).unwrap(),
            "removed stays removed"
        );
        assert_eq!(s.reporters().unwrap().len(), 1);
        assert!(
            s.audit_log(None, 10)
                .unwrap()
                .iter()
                .any(|a| a.action == "reporter-remove")
        );
    }
}
