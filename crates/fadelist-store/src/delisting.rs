//! Delisting requests: self-service removals within a limit, the review
//! queue beyond it, and operators' decisions.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::events::{self, EventKind, ListingEvent};
use crate::listings::{end_listing, listed_zones};
use crate::{Result, Store, StoreError, audit};

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

/// An operator's decision on a queued request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The key the request was about.
    pub key: String,
    /// Zones it was removed from (empty when denied).
    pub removed: Vec<String>,
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

impl Store {
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
        let tx = self.write_tx()?;
        let listed = listed_zones(&tx, key, zones)?;
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
        match outcome {
            DelistOutcome::Removed => {
                for z in &listed {
                    end_listing(&tx, z, key)?;
                    events::record(
                        &tx,
                        &ListingEvent {
                            at: now,
                            zone: z.clone(),
                            key: key.into(),
                            kind: EventKind::DelistedSelfService,
                            actor: "self-service".into(),
                            reason: format!("self-service removal, request #{id}"),
                            report_id: None,
                            request_id: Some(id),
                        },
                    )?;
                }
            }
            DelistOutcome::Queued => audit::write(
                &tx,
                None,
                Some(key),
                "delist-queued",
                &format!(
                    "request #{id}: {recent} self-service removals in the window; human review"
                ),
                None,
                now,
            )?,
            DelistOutcome::NotListed => {}
        }
        tx.commit()?;
        Ok(DelistResult {
            id,
            outcome,
            zones: listed,
            recent_removals: recent,
        })
    }

    /// Decides a queued request: `approve` removes the key from those of
    /// `zones` it is listed in now. `None` when there is no such queued
    /// request.
    pub fn decide(
        &mut self,
        id: i64,
        approve: bool,
        by: &str,
        zones: &[String],
        now: i64,
    ) -> Result<Option<Decision>> {
        let tx = self.write_tx()?;
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
            for z in listed_zones(&tx, &key, zones)? {
                end_listing(&tx, &z, &key)?;
                events::record(
                    &tx,
                    &ListingEvent {
                        at: now,
                        zone: z.clone(),
                        key: key.clone(),
                        kind: EventKind::DelistedReview,
                        actor: by.into(),
                        reason: format!("request #{id} approved by {by}"),
                        report_id: None,
                        request_id: Some(id),
                    },
                )?;
                removed.push(z);
            }
        } else {
            audit::write(
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
        Ok(Some(Decision { key, removed }))
    }
}

const COLUMNS: &str = "id, at, requester_ip, key, email, explanation, outcome, zones";

/// Requests waiting for review, oldest first.
pub(crate) fn queued(conn: &Connection) -> Result<Vec<DelistRequest>> {
    let sql = format!("SELECT {COLUMNS} FROM delist_requests WHERE outcome = 'queued' ORDER BY id");
    crate::rows(conn, &sql, [], row_to_request)
}

/// The newest `limit` requests about `key`, newest first.
pub(crate) fn for_key(conn: &Connection, key: &str, limit: usize) -> Result<Vec<DelistRequest>> {
    let sql =
        format!("SELECT {COLUMNS} FROM delist_requests WHERE key = ?1 ORDER BY id DESC LIMIT ?2");
    crate::rows(conn, &sql, params![key, limit as i64], row_to_request)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Read;
    use crate::testutil::{ingest, key, list_by_two, report, two_reporters};

    #[test]
    fn self_service_delisting_limit_and_review() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = two_reporters(&mut s);
        let zones = vec!["iprbl.test".to_string()];
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
        list_by_two(&mut s, a, b, "192.0.2.1", 100);
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
        ingest(&mut s, &report(a, "<a2>", 120), &[key("192.0.2.1")]).unwrap();
        assert!(s.listed().unwrap().is_empty());
        list_by_two(&mut s, a, b, "192.0.2.1", 130);
        assert_eq!(
            ask(&mut s, 140).outcome,
            DelistOutcome::Removed,
            "second removal in the window"
        );
        list_by_two(&mut s, a, b, "192.0.2.1", 150);
        let q = ask(&mut s, 160);
        assert_eq!(q.outcome, DelistOutcome::Queued, "third goes to review");
        assert_eq!(s.listed().unwrap().len(), 1, "still listed while queued");
        assert_eq!(s.review_queue().unwrap().len(), 1);
        assert_eq!(
            s.decide(q.id, true, "admin", &zones, 170).unwrap(),
            Some(Decision {
                key: "192.0.2.1".into(),
                removed: zones.clone()
            })
        );
        assert!(s.listed().unwrap().is_empty());
        assert_eq!(
            s.decide(q.id, true, "admin", &zones, 171).unwrap(),
            None,
            "decided once"
        );
        assert_eq!(s.delist_requests_for("192.0.2.1", 100).unwrap().len(), 4);
        let events = s.listing_events("iprbl.test", "192.0.2.1", 100).unwrap();
        let typed: Vec<(EventKind, Option<i64>)> =
            events.iter().map(|e| (e.kind, e.request_id)).collect();
        assert_eq!(
            typed,
            vec![
                (EventKind::Listed, None),
                (EventKind::DelistedSelfService, Some(r.id)),
                (EventKind::Relisted, None),
                (EventKind::DelistedSelfService, Some(r.id + 1)),
                (EventKind::Relisted, None),
                (EventKind::DelistedReview, Some(q.id)),
            ]
        );
        // Outside the window the count starts over.
        list_by_two(&mut s, a, b, "192.0.2.1", 40 * 86_400);
        assert_eq!(ask(&mut s, 40 * 86_400 + 1).outcome, DelistOutcome::Removed);
    }
}
