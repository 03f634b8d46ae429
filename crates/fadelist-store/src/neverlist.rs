//! The operator's never-list: IPs, networks and domains that are never
//! listed whatever the reports say.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::{Result, Store, audit};

/// A never-list entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NeverEntry {
    /// IP, CIDR or domain text (normalised by the caller).
    pub entry: String,
    /// Why.
    pub reason: String,
    /// Unix seconds.
    pub added_at: i64,
}

impl Store {
    /// Adds a never-list entry (IP, CIDR or domain text, already validated).
    pub fn never_list_add(&mut self, entry: &str, reason: &str, now: i64) -> Result<bool> {
        let tx = self.write_tx()?;
        let n = tx.execute(
            "INSERT OR IGNORE INTO never_list (entry, reason, added_at) VALUES (?1, ?2, ?3)",
            params![entry, reason, now],
        )?;
        if n > 0 {
            audit::write(&tx, None, Some(entry), "neverlist-add", reason, None, now)?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    /// Removes a never-list entry; false when absent.
    pub fn never_list_remove(&mut self, entry: &str, now: i64) -> Result<bool> {
        let tx = self.write_tx()?;
        let n = tx.execute("DELETE FROM never_list WHERE entry = ?1", params![entry])?;
        if n > 0 {
            audit::write(
                &tx,
                None,
                Some(entry),
                "neverlist-remove",
                "operator",
                None,
                now,
            )?;
        }
        tx.commit()?;
        Ok(n > 0)
    }
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<NeverEntry>> {
    crate::rows(
        conn,
        "SELECT entry, reason, added_at FROM never_list ORDER BY entry",
        [],
        |r| {
            Ok(NeverEntry {
                entry: r.get(0)?,
                reason: r.get(1)?,
                added_at: r.get(2)?,
            })
        },
    )
}
