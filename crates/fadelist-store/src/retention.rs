//! Retention: the pruning job that keeps every table that grows bounded.
//!
//! A report is kilobytes (megabytes with attachments), and one reporter
//! may send hundreds a minute; keys that were reported once linger as
//! listing rows; the listing history, the audit log and the delisting
//! requests grow with every change. [`Prune`] removes what is past its
//! retention, table by table, in batches: each [`Prune::step`] is one
//! short transaction of at most about [`Retention::batch`] rows, so the
//! caller can let the reports that queued up meanwhile commit between two
//! steps (the store thread takes them in queue order).
//!
//! What goes, in order (each is a phase):
//! 1. raw samples of reports older than [`Retention::raw_before`] (the row
//!    and its extraction stay), at most
//!    [`Retention::raw_bytes_per_batch`] of samples per step: freeing a
//!    sample walks its overflow pages;
//! 2. reports older than [`Retention::reports_before`], with their
//!    evidence rows. The evidence of a key listed right now is kept when
//!    its lookup page reads it: rows since
//!    [`ZoneRetention::listed_evidence_since`] (the score chart's replay)
//!    and the key's newest [`Retention::listed_keep_newest`] rows (the
//!    evidence table). A report stays while any of its evidence does;
//! 3. keys nobody needs any more: a listing row that is not listed, saw
//!    no report since `reports_before`, has no evidence left, no
//!    contribution that has not decayed to nothing and no listing in its
//!    zone's repeat window (the repeat-offender escalation) goes, with its
//!    contributions and its `key_reporters` and `key_sources` summaries.
//!    For every key, `key_sources` rows older than the zone's
//!    `max_report_age` go too: they no longer count;
//! 4. listing events older than [`Retention::history_before`] and than
//!    their zone's repeat window, except the whole history of a key that
//!    is listed now (by reports or by hand);
//! 5. audit entries older than [`Retention::audit_before`];
//! 6. the requester's e-mail, address and explanation of delisting
//!    requests decided before [`Retention::erase_requests_before`]
//!    (queued requests keep them until decided);
//! 7. decided requests older than [`Retention::delete_requests_before`].
//!
//! The row with the highest id of `reports` and of `delist_requests` is
//! never deleted: both take their next id as the highest plus one, and
//! listing events and the audit log refer to them by id, so an id must
//! not be given out twice.
//!
//! Deleted rows free pages inside the file, which SQLite reuses for new
//! rows; the file itself does not shrink (`auto_vacuum` stays off: see
//! the README's storage section). [`Store::file_usage`] says how much of
//! the file is free.

use std::collections::BTreeMap;

use fadelist_core::policy::{Contribution, KeyState, Policy};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store, StoreError};

/// What to prune: cut-off times (Unix seconds; older rows go) and limits.
#[derive(Clone, Debug, PartialEq)]
pub struct Retention {
    /// The time of the run.
    pub now: i64,
    /// Raw samples of reports received before this are dropped.
    pub raw_before: i64,
    /// Reports received before this are deleted, with their evidence
    /// (except what a listed key needs).
    pub reports_before: i64,
    /// Listing events before this are deleted (except a listed key's).
    pub history_before: i64,
    /// Audit entries before this are deleted.
    pub audit_before: i64,
    /// Requests decided before this lose their personal data.
    pub erase_requests_before: i64,
    /// Requests decided before this are deleted.
    pub delete_requests_before: i64,
    /// Rows per step, about (one transaction).
    pub batch: usize,
    /// Raw sample bytes freed per step, at most (at least one sample).
    pub raw_bytes_per_batch: u64,
    /// A listed key keeps at least this many of its newest evidence rows
    /// (what its lookup page lists).
    pub listed_keep_newest: usize,
    /// Each zone's policy and windows.
    pub zones: BTreeMap<String, ZoneRetention>,
    /// For rows of zones no longer configured.
    pub other_zones: ZoneRetention,
}

/// What one zone's rows need kept.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneRetention {
    /// The zone's policy: `repeat_window` keeps listing rows and events,
    /// `max_report_age` keeps `key_sources` rows, the decay decides when a
    /// contribution is nothing any more.
    pub policy: Policy,
    /// A listed key's evidence from this time on is kept (its lookup
    /// page replays it to draw the score).
    pub listed_evidence_since: i64,
}

impl Retention {
    /// A plan that keeps everything at `now` (every cut-off at the
    /// beginning of time), with the default policy for every zone: set
    /// the cut-offs wanted.
    pub fn keep_all(now: i64) -> Retention {
        Retention {
            now,
            raw_before: i64::MIN,
            reports_before: i64::MIN,
            history_before: i64::MIN,
            audit_before: i64::MIN,
            erase_requests_before: i64::MIN,
            delete_requests_before: i64::MIN,
            batch: 1000,
            raw_bytes_per_batch: 64 << 20,
            listed_keep_newest: 10,
            zones: BTreeMap::new(),
            other_zones: ZoneRetention {
                policy: Policy::default(),
                listed_evidence_since: i64::MIN,
            },
        }
    }

    fn zone(&self, zone: &str) -> &ZoneRetention {
        self.zones.get(zone).unwrap_or(&self.other_zones)
    }

    fn rows_per_step(&self) -> usize {
        self.batch.max(1)
    }
}

/// What a pruning run removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Raw samples dropped.
    pub raw_dropped: u64,
    /// Reports deleted.
    pub reports: u64,
    /// Evidence rows deleted.
    pub evidence: u64,
    /// Keys forgotten (listing rows).
    pub keys: u64,
    /// Contribution, `key_reporters` and `key_sources` rows deleted.
    pub summaries: u64,
    /// Listing events deleted.
    pub events: u64,
    /// Audit entries deleted.
    pub audit: u64,
    /// Delisting requests whose personal data was erased.
    pub requests_erased: u64,
    /// Delisting requests deleted.
    pub requests_deleted: u64,
    /// Steps (transactions) it took.
    pub steps: u64,
    /// Rows changed by the largest step.
    pub largest_step: u64,
}

/// The database file's size and the part of it that is free pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileUsage {
    /// Size of the main database file, bytes (the WAL beside it not
    /// counted).
    pub file_bytes: u64,
    /// Of which free pages, reused for new rows before the file grows.
    pub free_bytes: u64,
}

/// Where a pruning run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Raw,
    /// After this (received_at, id).
    Reports(i64, i64),
    /// After this listing rowid.
    Keys(i64),
    /// After this (at, id).
    Events(i64, i64),
    Audit,
    EraseRequests,
    DeleteRequests,
    Done,
}

impl Phase {
    fn next(self) -> Phase {
        match self {
            Phase::Raw => Phase::Reports(i64::MIN, i64::MIN),
            Phase::Reports(..) => Phase::Keys(i64::MIN),
            Phase::Keys(_) => Phase::Events(i64::MIN, i64::MIN),
            Phase::Events(..) => Phase::Audit,
            Phase::Audit => Phase::EraseRequests,
            Phase::EraseRequests => Phase::DeleteRequests,
            Phase::DeleteRequests | Phase::Done => Phase::Done,
        }
    }
}

/// A pruning run, one step at a time (see the module documentation).
#[derive(Clone, Debug)]
pub struct Prune {
    plan: Retention,
    phase: Phase,
    pruned: Pruned,
}

impl Prune {
    /// A run of `plan`, not started.
    pub fn new(plan: Retention) -> Prune {
        Prune {
            plan,
            phase: Phase::Raw,
            pruned: Pruned::default(),
        }
    }

    /// Runs one batch in its own transaction; `false` once the run is
    /// complete (then further calls do nothing).
    pub fn step(&mut self, store: &mut Store) -> Result<bool> {
        if self.phase == Phase::Done {
            return Ok(false);
        }
        let tx = store.write_tx()?;
        let mut p = self.pruned.clone();
        let before = changed(&p);
        let next = match self.phase {
            Phase::Raw => raw(&tx, &self.plan, &mut p)?.map(|()| Phase::Raw),
            Phase::Reports(at, id) => {
                reports(&tx, &self.plan, (at, id), &mut p)?.map(|(a, i)| Phase::Reports(a, i))
            }
            Phase::Keys(rowid) => keys(&tx, &self.plan, rowid, &mut p)?.map(Phase::Keys),
            Phase::Events(at, id) => {
                events(&tx, &self.plan, (at, id), &mut p)?.map(|(a, i)| Phase::Events(a, i))
            }
            Phase::Audit => audit(&tx, &self.plan, &mut p)?.map(|()| Phase::Audit),
            Phase::EraseRequests => {
                erase_requests(&tx, &self.plan, &mut p)?.map(|()| Phase::EraseRequests)
            }
            Phase::DeleteRequests => {
                delete_requests(&tx, &self.plan, &mut p)?.map(|()| Phase::DeleteRequests)
            }
            Phase::Done => None,
        };
        tx.commit()?;
        // Counted once committed: a step that failed removed nothing.
        p.steps += 1;
        p.largest_step = p.largest_step.max(changed(&p) - before);
        self.pruned = p;
        self.phase = next.unwrap_or_else(|| self.phase.next());
        Ok(self.phase != Phase::Done)
    }

    /// What the run removed so far.
    pub fn pruned(&self) -> &Pruned {
        &self.pruned
    }

    /// The run is complete.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}

/// Rows changed so far.
fn changed(p: &Pruned) -> u64 {
    p.raw_dropped
        + p.reports
        + p.evidence
        + p.keys
        + p.summaries
        + p.events
        + p.audit
        + p.requests_erased
        + p.requests_deleted
}

impl Store {
    /// Runs a whole pruning run at once (tests and offline tools; the
    /// server steps through [`Prune`] so that reports go in between).
    pub fn prune(&mut self, plan: Retention) -> Result<Pruned> {
        let mut run = Prune::new(plan);
        while run.step(self)? {}
        Ok(run.pruned)
    }

    /// The database file's size and free pages.
    pub fn file_usage(&self) -> Result<FileUsage> {
        let pragma = |name: &str| -> Result<u64> {
            let v: i64 = self.conn.pragma_query_value(None, name, |r| r.get(0))?;
            Ok(u64::try_from(v).unwrap_or(0))
        };
        let page = pragma("page_size")?;
        Ok(FileUsage {
            file_bytes: pragma("page_count")? * page,
            free_bytes: pragma("freelist_count")? * page,
        })
    }
}

/// Ids as a JSON array, for `IN (SELECT value FROM json_each(?))`: one
/// statement for a whole batch, whatever its size.
fn json_ids(ids: &[i64]) -> Result<String> {
    serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `Some(())` while there is more of the phase to do.
fn more(full: bool) -> Option<()> {
    full.then_some(())
}

/// Phase 1: drops old raw samples.
fn raw(conn: &Connection, plan: &Retention, p: &mut Pruned) -> Result<Option<()>> {
    let batch = plan.rows_per_step();
    // The partial index holds only reports that still have a sample.
    let found: Vec<(i64, i64)> = crate::rows(
        conn,
        "SELECT id, raw_size FROM reports INDEXED BY reports_raw_kept
         WHERE raw IS NOT NULL AND received_at < ?1 ORDER BY received_at LIMIT ?2",
        params![plan.raw_before, batch as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut ids = Vec::with_capacity(found.len());
    let mut bytes = 0u64;
    for (id, size) in &found {
        if !ids.is_empty() && bytes >= plan.raw_bytes_per_batch {
            break;
        }
        bytes = bytes.saturating_add(u64::try_from(*size).unwrap_or(0));
        ids.push(*id);
    }
    let n = conn
        .prepare_cached(
            "UPDATE reports SET raw = NULL WHERE id IN (SELECT value FROM json_each(?1))",
        )?
        .execute(params![json_ids(&ids)?])?;
    p.raw_dropped += count(n);
    Ok(more(ids.len() < found.len() || found.len() == batch))
}

/// Phase 2: deletes old reports and their evidence, keeping what listed
/// keys need. Returns the cursor to continue after.
fn reports(
    conn: &Connection,
    plan: &Retention,
    after: (i64, i64),
    p: &mut Pruned,
) -> Result<Option<(i64, i64)>> {
    let batch = plan.rows_per_step();
    // Each report with the number of its evidence rows, so that a batch
    // stays near `batch` rows whatever the number of keys per report.
    let found: Vec<(i64, i64, usize)> = crate::rows(
        conn,
        "SELECT r.id, r.received_at, (SELECT count(*) FROM evidence e WHERE e.report_id = r.id)
         FROM reports r INDEXED BY reports_received
         WHERE r.received_at >= ?2 AND r.received_at < ?1 AND (r.received_at > ?2 OR r.id > ?3)
         ORDER BY r.received_at, r.id LIMIT ?4",
        params![plan.reports_before, after.0, after.1, batch as i64],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            ))
        },
    )?;
    let mut ids = Vec::with_capacity(found.len());
    let mut rows = 0usize;
    let mut cursor = after;
    for &(id, at, evidence) in &found {
        if !ids.is_empty() && rows + 1 + evidence > batch {
            break;
        }
        rows += 1 + evidence;
        ids.push(id);
        cursor = (at, id);
    }
    if ids.is_empty() {
        return Ok(None);
    }
    let ids_json = json_ids(&ids)?;
    // Which of their evidence rows a listed key still needs.
    let rows: Vec<(i64, String, String, i64, i64, bool)> = crate::rows(
        conn,
        "SELECT e.rowid, e.zone, e.key, e.at, e.report_id, l.listed_since IS NOT NULL
         FROM evidence e LEFT JOIN listings l ON l.zone = e.zone AND l.key = e.key
         WHERE e.report_id IN (SELECT value FROM json_each(?1))",
        params![ids_json],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get::<_, Option<bool>>(5)?.unwrap_or(false),
            ))
        },
    )?;
    let mut doomed = Vec::with_capacity(rows.len());
    for (rowid, zone, key, at, report, listed) in rows {
        let keep = listed
            && (at >= plan.zone(&zone).listed_evidence_since
                || among_newest(conn, &zone, &key, at, report, plan.listed_keep_newest)?);
        if !keep {
            doomed.push(rowid);
        }
    }
    let n = conn
        .prepare_cached("DELETE FROM evidence WHERE rowid IN (SELECT value FROM json_each(?1))")?
        .execute(params![json_ids(&doomed)?])?;
    p.evidence += count(n);
    let n = conn
        .prepare_cached(
            "DELETE FROM reports WHERE id IN (SELECT value FROM json_each(?1))
               AND id < (SELECT max(id) FROM reports)
               AND NOT EXISTS (SELECT 1 FROM evidence e WHERE e.report_id = reports.id)",
        )?
        .execute(params![ids_json])?;
    p.reports += count(n);
    Ok((ids.len() < found.len() || found.len() == batch).then_some(cursor))
}

/// Whether the evidence row (`at`, `report`) is among the newest `keep`
/// of its key: fewer than `keep` rows are newer (bounded: at most `keep`
/// index steps).
fn among_newest(
    conn: &Connection,
    zone: &str,
    key: &str,
    at: i64,
    report: i64,
    keep: usize,
) -> Result<bool> {
    let newer: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM evidence
              WHERE zone = ?1 AND key = ?2 AND at >= ?3 AND (at > ?3 OR report_id > ?4) LIMIT ?5)",
        )?
        .query_row(params![zone, key, at, report, keep as i64], |r| r.get(0))?;
    Ok(usize::try_from(newer).unwrap_or(usize::MAX) < keep)
}

/// Phase 3: forgets keys nobody needs and drops `key_sources` rows that
/// no longer count. Returns the rowid to continue after.
fn keys(conn: &Connection, plan: &Retention, after: i64, p: &mut Pruned) -> Result<Option<i64>> {
    let batch = plan.rows_per_step();
    type Row = (i64, String, String, Option<i64>, i64, String);
    let found: Vec<Row> = crate::rows(
        conn,
        "SELECT rowid, zone, key, listed_since, last_seen, past_listings FROM listings
         WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        params![after, batch as i64],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        },
    )?;
    let mut work = 0usize;
    let mut cursor = after;
    let mut visited = 0usize;
    for (rowid, zone, key, listed_since, last_seen, past) in &found {
        if work >= batch {
            break;
        }
        visited += 1;
        cursor = *rowid;
        work += 1;
        let zr = plan.zone(zone);
        let n = conn
            .prepare_cached("DELETE FROM key_sources WHERE zone = ?1 AND key = ?2 AND at < ?3")?
            .execute(params![
                zone,
                key,
                plan.now.saturating_sub(zr.policy.max_report_age)
            ])?;
        p.summaries += count(n);
        work += n;
        if listed_since.is_none()
            && *last_seen < plan.reports_before
            && !has_evidence(conn, zone, key)?
            && negligible(conn, &zr.policy, plan.now, zone, key, past)?
        {
            let n = forget_key(conn, zone, key)?;
            p.keys += 1;
            p.summaries += count(n);
            work += n;
        }
    }
    Ok((visited < found.len() || found.len() == batch).then_some(cursor))
}

fn has_evidence(conn: &Connection, zone: &str, key: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM evidence WHERE zone = ?1 AND key = ?2 LIMIT 1")?
        .query_row(params![zone, key], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether a key's state is nothing the policy would still use: every
/// contribution (suspended reporters' too) decayed to nothing and no
/// listing in the repeat window. The policy's own pruning decides.
fn negligible(
    conn: &Connection,
    policy: &Policy,
    now: i64,
    zone: &str,
    key: &str,
    past: &str,
) -> Result<bool> {
    let mut state = KeyState {
        past_listings: serde_json::from_str(past)
            .map_err(|e| StoreError::Corrupt(format!("past_listings: {e}")))?,
        ..KeyState::default()
    };
    state.contributions = crate::rows(
        conn,
        "SELECT reporter_id, score, at FROM contributions WHERE zone = ?1 AND key = ?2",
        params![zone, key],
        |r| {
            Ok(Contribution {
                reporter: r.get(0)?,
                score: r.get(1)?,
                at: r.get(2)?,
            })
        },
    )?;
    policy.prune(&mut state, now);
    Ok(state.contributions.is_empty() && state.past_listings.is_empty())
}

/// Deletes a key's listing row and everything kept about it; returns the
/// summary rows deleted (contributions, reporters, sources).
fn forget_key(conn: &Connection, zone: &str, key: &str) -> Result<usize> {
    conn.prepare_cached("DELETE FROM listings WHERE zone = ?1 AND key = ?2")?
        .execute(params![zone, key])?;
    let mut n = 0;
    for sql in [
        "DELETE FROM contributions WHERE zone = ?1 AND key = ?2",
        "DELETE FROM key_reporters WHERE zone = ?1 AND key = ?2",
        "DELETE FROM key_sources WHERE zone = ?1 AND key = ?2",
    ] {
        n += conn.prepare_cached(sql)?.execute(params![zone, key])?;
    }
    Ok(n)
}

/// Phase 4: deletes old listing events, keeping the history of keys
/// listed now and what the repeat window covers.
fn events(
    conn: &Connection,
    plan: &Retention,
    after: (i64, i64),
    p: &mut Pruned,
) -> Result<Option<(i64, i64)>> {
    let batch = plan.rows_per_step();
    let found: Vec<(i64, i64, String, bool)> = crate::rows(
        conn,
        "SELECT e.id, e.at, e.zone,
                EXISTS (SELECT 1 FROM listings l WHERE l.zone = e.zone AND l.key = e.key
                          AND l.listed_since IS NOT NULL)
                OR EXISTS (SELECT 1 FROM manual_listings m WHERE m.zone = e.zone AND m.key = e.key)
         FROM listing_events e INDEXED BY listing_events_at
         WHERE e.at >= ?2 AND e.at < ?1 AND (e.at > ?2 OR e.id > ?3)
         ORDER BY e.at, e.id LIMIT ?4",
        params![plan.history_before, after.0, after.1, batch as i64],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let Some(&(last_id, last_at, ..)) = found.last() else {
        return Ok(None);
    };
    let doomed: Vec<i64> = found
        .iter()
        .filter(|(_, at, zone, listed)| {
            let repeat_window = plan.zone(zone).policy.repeat_window;
            !listed && *at < plan.now.saturating_sub(repeat_window)
        })
        .map(|(id, ..)| *id)
        .collect();
    let n = conn
        .prepare_cached("DELETE FROM listing_events WHERE id IN (SELECT value FROM json_each(?1))")?
        .execute(params![json_ids(&doomed)?])?;
    p.events += count(n);
    Ok((found.len() == batch).then_some((last_at, last_id)))
}

/// Phase 5: deletes old audit entries.
fn audit(conn: &Connection, plan: &Retention, p: &mut Pruned) -> Result<Option<()>> {
    let batch = plan.rows_per_step();
    let n = conn
        .prepare_cached(
            "DELETE FROM audit WHERE id IN
               (SELECT id FROM audit INDEXED BY audit_at WHERE at < ?1 ORDER BY at LIMIT ?2)",
        )?
        .execute(params![plan.audit_before, batch as i64])?;
    p.audit += count(n);
    Ok(more(n == batch))
}

/// Phase 6: erases the personal data of decided requests.
fn erase_requests(conn: &Connection, plan: &Retention, p: &mut Pruned) -> Result<Option<()>> {
    let batch = plan.rows_per_step();
    let n = conn
        .prepare_cached(
            "UPDATE delist_requests SET email = '', requester_ip = '', explanation = '', erased_at = ?2
             WHERE id IN (SELECT id FROM delist_requests INDEXED BY delist_requests_to_erase
                          WHERE erased_at IS NULL AND outcome <> 'queued'
                            AND coalesce(decided_at, at) < ?1 LIMIT ?3)",
        )?
        .execute(params![plan.erase_requests_before, plan.now, batch as i64])?;
    p.requests_erased += count(n);
    Ok(more(n == batch))
}

/// Phase 7: deletes old decided requests (never the newest row: see the
/// module documentation).
fn delete_requests(conn: &Connection, plan: &Retention, p: &mut Pruned) -> Result<Option<()>> {
    let batch = plan.rows_per_step();
    let n = conn
        .prepare_cached(
            "DELETE FROM delist_requests WHERE id IN
               (SELECT id FROM delist_requests INDEXED BY delist_requests_decided
                WHERE outcome <> 'queued' AND coalesce(decided_at, at) < ?1
                  AND id < (SELECT max(id) FROM delist_requests)
                ORDER BY coalesce(decided_at, at) LIMIT ?2)",
        )?
        .execute(params![plan.delete_requests_before, batch as i64])?;
    p.requests_deleted += count(n);
    Ok(more(n == batch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ingest, key, list_by_two, report, two_reporters};
    use crate::{KeyInput, Read};

    const DAY: i64 = 86_400;

    fn n(s: &Store, sql: &str) -> i64 {
        s.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn evidence_times(s: &Store, k: &str) -> Vec<i64> {
        let mut v: Vec<i64> = s
            .evidence("iprbl.test", k, 100)
            .unwrap()
            .iter()
            .map(|e| e.received_at)
            .collect();
        v.sort_unstable();
        v
    }

    /// Old raw samples and reports go; a listed key keeps the evidence
    /// its lookup page reads (its newest rows, and those in its window);
    /// a report stays while any of its evidence does; steps stay small.
    #[test]
    fn old_reports_go_and_listed_keys_keep_what_their_page_reads() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = two_reporters(&mut s);
        // Never listed: one reporter.
        ingest(&mut s, &report(a, "<x>", 100), &[key("192.0.2.1")]).unwrap();
        // Listed at 110, then reported four more times.
        list_by_two(&mut s, a, b, "192.0.2.2", 110);
        for t in 111..115 {
            ingest(
                &mut s,
                &report(a, &format!("<l{t}>"), t),
                &[key("192.0.2.2")],
            )
            .unwrap();
        }
        // Recent.
        ingest(&mut s, &report(b, "<y>", 1000), &[key("192.0.2.3")]).unwrap();
        assert_eq!(n(&s, "SELECT count(*) FROM reports"), 8);

        let mut plan = Retention::keep_all(2000);
        plan.raw_before = 500;
        plan.reports_before = 500;
        plan.batch = 2;
        plan.listed_keep_newest = 3;
        plan.other_zones.listed_evidence_since = i64::MAX;
        let pruned = s.prune(plan.clone()).unwrap();

        assert_eq!(pruned.raw_dropped, 7, "every sample but the recent one");
        assert_eq!(
            n(&s, "SELECT count(*) FROM reports WHERE raw IS NOT NULL"),
            1
        );
        assert!(evidence_times(&s, "192.0.2.1").is_empty());
        assert_eq!(
            evidence_times(&s, "192.0.2.2"),
            vec![112, 113, 114],
            "the listed key's newest three"
        );
        assert_eq!(evidence_times(&s, "192.0.2.3"), vec![1000]);
        assert_eq!(pruned.evidence, 4);
        assert_eq!(pruned.reports, 4);
        assert_eq!(
            n(&s, "SELECT count(*) FROM reports"),
            4,
            "the reports of the kept evidence, and the recent one"
        );
        // One report per step here (each has one evidence row: two rows).
        assert!(pruned.largest_step <= 3, "{pruned:?}");
        assert!(pruned.steps >= 7 + 4, "{pruned:?}");

        // Rows since the zone's window are kept too.
        plan.other_zones.listed_evidence_since = 113;
        plan.listed_keep_newest = 1;
        s.prune(plan.clone()).unwrap();
        assert_eq!(evidence_times(&s, "192.0.2.2"), vec![113, 114]);
        // Once the key is no longer listed, nothing protects them.
        s.remove_listing("iprbl.test", "192.0.2.2", "admin", 1500)
            .unwrap();
        s.prune(plan).unwrap();
        assert!(evidence_times(&s, "192.0.2.2").is_empty());
        assert_eq!(n(&s, "SELECT count(*) FROM reports"), 1);
    }

    /// The newest report is kept whatever its age: ids are the highest
    /// plus one, and must never be given out twice.
    #[test]
    fn report_ids_are_never_reused() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, _) = two_reporters(&mut s);
        let last = (0..3)
            .map(|t| {
                ingest(
                    &mut s,
                    &report(a, &format!("<{t}>"), t),
                    &[key("192.0.2.1")],
                )
                .unwrap()
                .report_id
            })
            .last()
            .unwrap();
        let mut plan = Retention::keep_all(10 * DAY);
        plan.reports_before = 10 * DAY;
        assert_eq!(s.prune(plan).unwrap().reports, 2);
        let next = ingest(&mut s, &report(a, "<new>", 10 * DAY), &[key("192.0.2.1")])
            .unwrap()
            .report_id;
        assert_eq!(next, last + 1);
    }

    /// A key reported long ago is forgotten with its summaries; a key in
    /// its repeat window, or whose contribution has not decayed to nothing
    /// yet, is not. Sources older than `max_report_age` go for every key.
    #[test]
    fn stale_keys_are_forgotten_with_their_summaries() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = two_reporters(&mut s);
        let now = 10 * DAY;
        // Reported once, ten days ago: decayed to nothing.
        ingest(&mut s, &report(a, "<old>", 0), &[key("192.0.2.1")]).unwrap();
        // Listed, then delisted by decay: in the 30-day repeat window.
        list_by_two(&mut s, a, b, "192.0.2.2", 0);
        s.decay_pass(|_| Policy::default(), 13 * 3600).unwrap();
        assert!(s.listed().unwrap().is_empty());
        // A zone whose reports decay slowly: still worth something.
        let slow = Policy {
            half_life: 100.0 * DAY as f64,
            ..Policy::default()
        };
        let mut k = key("192.0.2.3");
        k.zone = "slow.test".into();
        k.policy = slow.clone();
        ingest(&mut s, &report(a, "<slow>", 0), &[k]).unwrap();
        // A content key named from two networks, five days and one hour
        // ago (max_report_age is two days).
        let content = KeyInput {
            policy: Policy {
                min_source_networks: 3,
                ..Policy::default()
            },
            ..key("spam.example")
        };
        let mut r = report(a, "<c1>", now - 5 * DAY);
        r.source = Some(("198.51.100.1", 1));
        ingest(&mut s, &r, std::slice::from_ref(&content)).unwrap();
        let mut r = report(b, "<c2>", now - 3600);
        r.source = Some(("203.0.113.1", 1));
        ingest(&mut s, &r, &[content]).unwrap();
        assert_eq!(n(&s, "SELECT count(*) FROM key_sources"), 2);

        let mut plan = Retention::keep_all(now);
        plan.reports_before = now - DAY;
        plan.zones.insert(
            "slow.test".into(),
            ZoneRetention {
                policy: slow,
                listed_evidence_since: i64::MIN,
            },
        );
        let pruned = s.prune(plan.clone()).unwrap();

        assert!(s.listing("iprbl.test", "192.0.2.1").unwrap().is_none());
        assert!(s.key_state("iprbl.test", "192.0.2.1").unwrap().is_none());
        assert_eq!(s.reporter_count("iprbl.test", "192.0.2.1").unwrap(), 0);
        let repeat = s.listing("iprbl.test", "192.0.2.2").unwrap().unwrap();
        assert_eq!(repeat.listing_count, 1, "the repeat offender's count");
        assert_eq!(s.reporter_count("iprbl.test", "192.0.2.2").unwrap(), 2);
        assert!(s.listing("slow.test", "192.0.2.3").unwrap().is_some());
        assert!(s.listing("iprbl.test", "spam.example").unwrap().is_some());
        let nets: Vec<String> =
            crate::rows(&s.conn, "SELECT net FROM key_sources", [], |r| r.get(0)).unwrap();
        assert_eq!(nets, ["203.0.113.0/24"]);
        assert_eq!(pruned.keys, 1);
        // contributions and key_reporters of 192.0.2.1, one source.
        assert_eq!(pruned.summaries, 3);

        // Past the repeat window, the delisted key goes too.
        plan.now = 31 * DAY;
        plan.reports_before = plan.now;
        s.prune(plan).unwrap();
        assert!(s.listing("iprbl.test", "192.0.2.2").unwrap().is_none());
        assert_eq!(s.reporter_count("iprbl.test", "192.0.2.2").unwrap(), 0);
        assert!(s.listing("slow.test", "192.0.2.3").unwrap().is_some());
    }

    /// Old listing events and audit entries go, except the history of a
    /// key listed now and what the repeat window covers.
    #[test]
    fn history_and_audit_past_retention_go() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = two_reporters(&mut s);
        let now = 400 * DAY;
        // Listed and delisted long ago.
        list_by_two(&mut s, a, b, "192.0.2.1", 0);
        s.decay_pass(|_| Policy::default(), 13 * 3600).unwrap();
        // Listed long ago, still listed.
        list_by_two(&mut s, a, b, "192.0.2.2", DAY);
        // Listed by hand long ago, still listed.
        s.add_manual(
            "iprbl.test",
            "192.0.2.3",
            "127.0.0.2",
            "x",
            None,
            "admin",
            0,
        )
        .unwrap();
        // Delisted ten days ago: in the repeat window.
        list_by_two(&mut s, a, b, "192.0.2.4", now - 11 * DAY);
        s.remove_listing("iprbl.test", "192.0.2.4", "admin", now - 10 * DAY)
            .unwrap();
        s.never_list_add("gmail.com", "provider", now - DAY)
            .unwrap();
        let audit_before = s.audit_log(None, 100).unwrap().len();

        let mut plan = Retention::keep_all(now);
        plan.history_before = now;
        plan.audit_before = now - 365 * DAY;
        plan.batch = 1;
        let pruned = s.prune(plan).unwrap();

        let count = |k: &str| s.listing_events("iprbl.test", k, 100).unwrap().len();
        assert_eq!(count("192.0.2.1"), 0);
        assert_eq!(count("192.0.2.2"), 1, "listed now: kept");
        assert_eq!(count("192.0.2.3"), 1, "listed by hand now: kept");
        assert_eq!(count("192.0.2.4"), 2, "in the repeat window: kept");
        assert_eq!(pruned.events, 2);
        let audit: Vec<i64> = s
            .audit_log(None, 100)
            .unwrap()
            .iter()
            .map(|e| e.at)
            .collect();
        assert!(audit.iter().all(|&at| at >= now - 365 * DAY), "{audit:?}");
        assert_eq!(
            audit.len(),
            3,
            "the two removals ten days ago and the never-list entry"
        );
        assert_eq!(pruned.audit, (audit_before - 3) as u64);
        assert!(pruned.largest_step <= 1, "{pruned:?}");
    }

    /// Requesters' e-mails, addresses and explanations are erased once
    /// the request is decided and its retention is over; queued requests
    /// keep them; old decided requests are deleted, the newest row never.
    #[test]
    fn delisting_requests_are_erased_then_deleted() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = two_reporters(&mut s);
        let zones = vec!["iprbl.test".to_string()];
        let ask = |s: &mut Store, t: i64, limit: u32| {
            s.request_delisting(
                "192.0.2.1",
                &zones,
                "198.51.100.9",
                "ops@example.net",
                "fixed",
                t,
                limit,
                30 * DAY,
            )
            .unwrap()
        };
        ask(&mut s, 100, 2); // not listed
        list_by_two(&mut s, a, b, "192.0.2.1", 100);
        ask(&mut s, 110, 2); // removed
        list_by_two(&mut s, a, b, "192.0.2.1", 120);
        let queued = ask(&mut s, 130, 0); // waits for review
        let waiting = ask(&mut s, 140, 0);
        let personal = |s: &Store| -> Vec<(i64, String, String, String)> {
            let mut v: Vec<_> = s
                .delist_requests_for("192.0.2.1", 10)
                .unwrap()
                .into_iter()
                .map(|r| (r.id, r.email, r.requester_ip, r.explanation))
                .collect();
            v.sort();
            v
        };
        let mut plan = Retention::keep_all(1000);
        plan.erase_requests_before = 500;
        assert_eq!(s.prune(plan.clone()).unwrap().requests_erased, 2);
        let kept = (
            "ops@example.net".into(),
            "198.51.100.9".into(),
            "fixed".into(),
        );
        let erased = (String::new(), String::new(), String::new());
        let with =
            |id: i64, p: &(String, String, String)| (id, p.0.clone(), p.1.clone(), p.2.clone());
        assert_eq!(
            personal(&s),
            vec![
                with(1, &erased),
                with(2, &erased),
                with(queued.id, &kept),
                with(waiting.id, &kept)
            ]
        );
        // Decided at 600: erased only once its own retention is over.
        s.decide(queued.id, false, "admin", &zones, 600).unwrap();
        s.prune(plan.clone()).unwrap();
        assert_eq!(personal(&s)[2], with(queued.id, &kept));
        plan.erase_requests_before = 700;
        s.prune(plan.clone()).unwrap();
        assert_eq!(personal(&s)[2], with(queued.id, &erased));
        assert_eq!(personal(&s)[3], with(waiting.id, &kept), "still queued");
        let erased_at = n(
            &s,
            "SELECT count(*) FROM delist_requests WHERE erased_at = 1000",
        );
        assert_eq!(erased_at, 3);

        plan.delete_requests_before = 1000;
        assert_eq!(s.prune(plan).unwrap().requests_deleted, 3);
        let ids: Vec<i64> = personal(&s).iter().map(|p| p.0).collect();
        assert_eq!(ids, vec![waiting.id], "the queued one");

        // Decided and old, but the newest row: kept, so that its id is
        // not given to the next request.
        s.decide(waiting.id, true, "admin", &zones, 1000).unwrap();
        let mut plan = Retention::keep_all(5000);
        plan.delete_requests_before = 5000;
        assert_eq!(s.prune(plan).unwrap().requests_deleted, 0);
        assert_eq!(ask(&mut s, 5000, 2).id, waiting.id + 1);
    }

    /// A run is resumable: steps of `batch` rows until the phase is done.
    #[test]
    fn steps_are_bounded_and_resume() {
        let mut s = Store::open_in_memory().unwrap();
        for i in 0..10 {
            s.never_list_add(&format!("e{i}.example"), "x", i).unwrap();
        }
        let mut plan = Retention::keep_all(100);
        plan.audit_before = 100;
        plan.batch = 3;
        let mut run = Prune::new(plan);
        let mut audit = Vec::new();
        while run.step(&mut s).unwrap() {
            audit.push(run.pruned().audit);
        }
        assert!(run.is_done());
        assert!(!run.step(&mut s).unwrap(), "done stays done");
        audit.dedup();
        assert_eq!(audit, vec![0, 3, 6, 9, 10], "three at a time");
        assert_eq!(s.audit_log(None, 100).unwrap().len(), 0);
        let usage = s.file_usage().unwrap();
        assert!(usage.file_bytes > 0 && usage.free_bytes <= usage.file_bytes);
    }
}
