//! Listings: each key's decaying evidence and listing state, the decay
//! pass, removals by an operator, and manual listings.
//!
//! Every change of a listing records a typed [`crate::events`] row in the
//! same transaction.

use fadelist_core::policy::{Contribution, KeyState, Policy, Transition};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::events::{self, EventKind, ListingEvent};
use crate::{Result, Store, StoreError};

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

/// A key that left a zone (decay pass, expired manual listing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

impl Store {
    /// Re-evaluates every listed key at `now` and delists those whose score
    /// decayed below the threshold (the decay timer). `policy_for` gives
    /// each zone's policy.
    pub fn decay_pass(
        &mut self,
        policy_for: impl Fn(&str) -> Policy,
        now: i64,
    ) -> Result<Vec<Delisted>> {
        let tx = self.write_tx()?;
        let listed = listed(&tx)?;
        let mut out = Vec::new();
        for Listed {
            zone,
            key,
            category,
        } in listed
        {
            let policy = policy_for(&zone);
            let (mut state, existed) = load_state(&tx, &zone, &key)?;
            let before = existed.then(|| state.contributions.clone());
            let eval = policy.evaluate(&mut state, now);
            if eval.transition == Some(Transition::Delisted) {
                policy.prune(&mut state, now);
                save_state(
                    &tx,
                    &zone,
                    &key,
                    &category,
                    &state,
                    before.as_deref(),
                    now,
                    0,
                )?;
                events::record(
                    &tx,
                    &ListingEvent {
                        at: now,
                        zone: zone.clone(),
                        key: key.clone(),
                        kind: EventKind::DelistedDecay,
                        actor: "decay".into(),
                        reason: format!(
                            "score decayed to {:.2}, below the delisting threshold",
                            eval.score
                        ),
                        report_id: None,
                        request_id: None,
                    },
                )?;
                out.push(Delisted { zone, key });
            }
        }
        tx.commit()?;
        Ok(out)
    }

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
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT OR REPLACE INTO manual_listings (zone, key, code, reason, until, added_at, added_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![zone, key, code, reason, until, now, by],
        )?;
        let why = match until {
            Some(u) => format!("manual listing by {by} ({code}) until {u}: {reason}"),
            None => format!("manual listing by {by} ({code}): {reason}"),
        };
        events::record(
            &tx,
            &ListingEvent {
                at: now,
                zone: zone.into(),
                key: key.into(),
                kind: EventKind::ManualListed,
                actor: by.into(),
                reason: why,
                report_id: None,
                request_id: None,
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes every listing of `key` in `zone`, manual and report-fed
    /// (discarding the evidence); returns whether anything was listed.
    pub fn remove_listing(&mut self, zone: &str, key: &str, by: &str, now: i64) -> Result<bool> {
        let tx = self.write_tx()?;
        let manual = tx.execute(
            "DELETE FROM manual_listings WHERE zone = ?1 AND key = ?2",
            params![zone, key],
        )?;
        let auto: i64 = tx.query_row(
            "SELECT count(*) FROM listings WHERE zone = ?1 AND key = ?2 AND listed_since IS NOT NULL",
            params![zone, key],
            |r| r.get(0),
        )?;
        end_listing(&tx, zone, key)?;
        let any = manual > 0 || auto > 0;
        if any {
            events::record(
                &tx,
                &ListingEvent {
                    at: now,
                    zone: zone.into(),
                    key: key.into(),
                    kind: EventKind::DelistedOperator,
                    actor: by.into(),
                    reason: format!("removed by {by}"),
                    report_id: None,
                    request_id: None,
                },
            )?;
        }
        tx.commit()?;
        Ok(any)
    }

    /// Removes manual listings whose time is up; returns them.
    pub fn expire_manual(&mut self, now: i64) -> Result<Vec<Delisted>> {
        let tx = self.write_tx()?;
        let gone = crate::rows(
            &tx,
            "SELECT zone, key FROM manual_listings WHERE until IS NOT NULL AND until <= ?1",
            params![now],
            |r| {
                Ok(Delisted {
                    zone: r.get(0)?,
                    key: r.get(1)?,
                })
            },
        )?;
        for d in &gone {
            tx.execute(
                "DELETE FROM manual_listings WHERE zone = ?1 AND key = ?2",
                params![d.zone, d.key],
            )?;
            events::record(
                &tx,
                &ListingEvent {
                    at: now,
                    zone: d.zone.clone(),
                    key: d.key.clone(),
                    kind: EventKind::ManualExpired,
                    actor: "expiry".into(),
                    reason: "manual listing expired".into(),
                    report_id: None,
                    request_id: None,
                },
            )?;
        }
        tx.commit()?;
        Ok(gone)
    }
}

/// Ends a listing and discards its evidence; the listing history stays
/// for the repeat-offender escalation.
pub(crate) fn end_listing(conn: &Connection, zone: &str, key: &str) -> Result<()> {
    conn.execute(
        "UPDATE listings SET listed_since = NULL, min_until = NULL WHERE zone = ?1 AND key = ?2",
        params![zone, key],
    )?;
    conn.execute(
        "DELETE FROM contributions WHERE zone = ?1 AND key = ?2",
        params![zone, key],
    )?;
    Ok(())
}

/// The zones among `zones` where `key` is listed by reports now.
pub(crate) fn listed_zones(conn: &Connection, key: &str, zones: &[String]) -> Result<Vec<String>> {
    Ok(crate::rows(
        conn,
        "SELECT zone FROM listings WHERE key = ?1 AND listed_since IS NOT NULL",
        params![key],
        |r| r.get::<_, String>(0),
    )?
    .into_iter()
    .filter(|z| zones.contains(z))
    .collect())
}

pub(crate) fn listed(conn: &Connection) -> Result<Vec<Listed>> {
    crate::rows(
        conn,
        "SELECT zone, key, category FROM listings WHERE listed_since IS NOT NULL ORDER BY zone, key",
        [],
        |r| {
            Ok(Listed {
                zone: r.get(0)?,
                key: r.get(1)?,
                category: r.get(2)?,
            })
        },
    )
}

pub(crate) fn listing(conn: &Connection, zone: &str, key: &str) -> Result<Option<ListingRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT category, first_seen, last_seen, listed_since, min_until, listing_count, report_count
             FROM listings WHERE zone = ?1 AND key = ?2",
        )?
        .query_row(params![zone, key], |r| {
            Ok(ListingRow {
                category: r.get(0)?,
                first_seen: r.get(1)?,
                last_seen: r.get(2)?,
                listed_since: r.get(3)?,
                min_until: r.get(4)?,
                listing_count: r.get(5)?,
                report_count: r.get(6)?,
            })
        })
        .optional()?)
}

pub(crate) fn manual_listings(conn: &Connection) -> Result<Vec<ManualListing>> {
    crate::rows(
        conn,
        "SELECT zone, key, code, reason, until FROM manual_listings ORDER BY zone, key",
        [],
        |r| {
            Ok(ManualListing {
                zone: r.get(0)?,
                key: r.get(1)?,
                code: r.get(2)?,
                reason: r.get(3)?,
                until: r.get(4)?,
            })
        },
    )
}

/// A key's evidence and listing state; `false` when it was never reported.
///
/// Contributions of suspended reporters are left out: while suspended, a
/// reporter's evidence counts for nothing (not for listing, not for
/// keeping a key listed), but it stays stored and counts again if the
/// reporter is reinstated. Callers that save the state back only touch
/// the contributions they loaded, so the left-out rows survive.
pub(crate) fn load_state(conn: &Connection, zone: &str, key: &str) -> Result<(KeyState, bool)> {
    let row: Option<(Option<i64>, Option<i64>, String)> = conn
        .prepare_cached(
            "SELECT listed_since, min_until, past_listings FROM listings WHERE zone = ?1 AND key = ?2",
        )?
        .query_row(params![zone, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let mut state = KeyState::default();
    let existed = row.is_some();
    if let Some((since, until, past)) = row {
        state.listed_since = since;
        state.min_until = until;
        state.past_listings = serde_json::from_str(&past)
            .map_err(|e| StoreError::Corrupt(format!("past_listings: {e}")))?;
    }
    state.contributions = crate::rows(
        conn,
        "SELECT c.reporter_id, c.score, c.at FROM contributions c JOIN reporters p ON p.id = c.reporter_id
         WHERE c.zone = ?1 AND c.key = ?2 AND p.suspended = 0",
        params![zone, key],
        |r| {
            Ok(Contribution {
                reporter: r.get(0)?,
                score: r.get(1)?,
                at: r.get(2)?,
            })
        },
    )?;
    Ok((state, existed))
}

/// Writes a key's state. `before` is its contributions as loaded (`None`:
/// a new key): only the contributions that changed are written, usually
/// the one of the reporting reporter.
#[allow(clippy::too_many_arguments)]
pub(crate) fn save_state(
    conn: &Connection,
    zone: &str,
    key: &str,
    category: &str,
    s: &KeyState,
    before: Option<&[Contribution]>,
    now: i64,
    new_reports: i64,
) -> Result<()> {
    let past =
        serde_json::to_string(&s.past_listings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let count = s.past_listings.len() as i64;
    conn.prepare_cached(
        "INSERT INTO listings (zone, key, category, first_seen, last_seen, listed_since, min_until, past_listings, listing_count, report_count)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?9, ?8)
         ON CONFLICT (zone, key) DO UPDATE SET
             category = CASE WHEN ?8 > 0 THEN ?3 ELSE category END,
             last_seen = CASE WHEN ?8 > 0 THEN ?4 ELSE last_seen END,
             listed_since = ?5, min_until = ?6, past_listings = ?7,
             listing_count = max(listing_count, ?9), report_count = report_count + ?8",
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
    let before = before.unwrap_or_default();
    for b in before {
        if !s.contributions.iter().any(|c| c.reporter == b.reporter) {
            conn.prepare_cached(
                "DELETE FROM contributions WHERE zone = ?1 AND key = ?2 AND reporter_id = ?3",
            )?
            .execute(params![zone, key, b.reporter])?;
        }
    }
    for c in &s.contributions {
        if before.contains(c) {
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO contributions (zone, key, reporter_id, score, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (zone, key, reporter_id) DO UPDATE SET score = excluded.score, at = excluded.at",
        )?
        .execute(params![zone, key, c.reporter, c.score, c.at])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{list_by_two, two_reporters};
    use crate::{AuditFilter, Read};

    fn kinds(s: &Store, key: &str) -> Vec<EventKind> {
        s.listing_events("iprbl.test", key, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    #[test]
    fn two_reporters_list_and_decay_delists() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = two_reporters(&mut s);
        list_by_two(&mut s, a, b, "192.0.2.1", 100);
        assert_eq!(s.listed().unwrap().len(), 1);
        assert!(
            s.decay_pass(|_| Policy::default(), 100 + 3600)
                .unwrap()
                .is_empty()
        );
        let gone = s
            .decay_pass(|_| Policy::default(), 100 + 13 * 3600)
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
        assert_eq!(
            kinds(&s, "192.0.2.1"),
            vec![EventKind::Listed, EventKind::DelistedDecay]
        );
        // Listed again within the repeat window: a relisting.
        list_by_two(&mut s, a, b, "192.0.2.1", 100 + 14 * 3600);
        assert_eq!(kinds(&s, "192.0.2.1").last(), Some(&EventKind::Relisted));
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
        assert_eq!(
            kinds(&s, "192.0.2.9"),
            vec![EventKind::ManualListed, EventKind::ManualExpired]
        );
        assert_eq!(
            kinds(&s, "192.0.2.10"),
            vec![EventKind::ManualListed, EventKind::DelistedOperator]
        );
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
}
