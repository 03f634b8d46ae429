//! The typed listing history: every change of a key's listing in a zone
//! is one row of `listing_events` with its kind, actor, time and reason.
//!
//! Lookup pages read these rows (never the audit log's wording). Each
//! event is also written to the audit log, in words, for operators.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::{Result, StoreError, audit};

/// What happened to a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Listed by corroborated reports, for the first time in the repeat
    /// window.
    Listed,
    /// Listed by reports again within the repeat window (a repeat
    /// offender: the minimum listing time escalates).
    Relisted,
    /// Left the list by itself: the score decayed below the threshold.
    DelistedDecay,
    /// Removed by the self-service delisting form or API.
    DelistedSelfService,
    /// Removed after a person approved a queued delisting request.
    DelistedReview,
    /// Removed by an operator (admin API), manual listing included.
    DelistedOperator,
    /// Delisted at once because a reporter that contributed to it was
    /// reverted, and the remaining evidence would not list it.
    DelistedRevert,
    /// Delisted at once because a reporter withdrew a report of it ("not
    /// spam"), and the remaining evidence would not list it.
    DelistedCorrection,
    /// Listed by hand by an operator.
    ManualListed,
    /// A manual listing reached its expiry.
    ManualExpired,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 10] = [
        EventKind::Listed,
        EventKind::Relisted,
        EventKind::DelistedDecay,
        EventKind::DelistedSelfService,
        EventKind::DelistedReview,
        EventKind::DelistedOperator,
        EventKind::DelistedRevert,
        EventKind::DelistedCorrection,
        EventKind::ManualListed,
        EventKind::ManualExpired,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Listed => "listed",
            EventKind::Relisted => "relisted",
            EventKind::DelistedDecay => "delisted-decay",
            EventKind::DelistedSelfService => "delisted-self-service",
            EventKind::DelistedReview => "delisted-review",
            EventKind::DelistedOperator => "delisted-operator",
            EventKind::DelistedRevert => "delisted-revert",
            EventKind::DelistedCorrection => "delisted-correction",
            EventKind::ManualListed => "manual-listed",
            EventKind::ManualExpired => "manual-expired",
        }
    }

    /// The kind stored as `s`.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The audit log's action for this kind (the names operators filter
    /// on: `listed`, `delisted`, `manual-list`).
    fn audit_action(self) -> &'static str {
        match self {
            EventKind::Listed | EventKind::Relisted => "listed",
            EventKind::ManualListed => "manual-list",
            _ => "delisted",
        }
    }
}

/// One change of a key's listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListingEvent {
    /// Unix seconds.
    pub at: i64,
    /// Zone.
    pub zone: String,
    /// Key text.
    pub key: String,
    /// What happened.
    pub kind: EventKind,
    /// Who made it happen: `reports`, `decay`, `expiry`, `self-service`
    /// or the operator's name (`admin`, `cli`).
    pub actor: String,
    /// Why, in words (shown to operators; not parsed by anything).
    pub reason: String,
    /// The report that caused it.
    pub report_id: Option<i64>,
    /// The delisting request that caused it.
    pub request_id: Option<i64>,
}

/// Records `e` and its audit log entry (inside the caller's transaction).
pub(crate) fn record(conn: &Connection, e: &ListingEvent) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO listing_events (at, zone, key, kind, actor, reason, report_id, request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        e.at,
        e.zone,
        e.key,
        e.kind.as_str(),
        e.actor,
        e.reason,
        e.report_id,
        e.request_id
    ])?;
    audit::write(
        conn,
        Some(&e.zone),
        Some(&e.key),
        e.kind.audit_action(),
        &e.reason,
        e.report_id,
        e.at,
    )
}

/// The newest `limit` events of a key in a zone, oldest first.
pub(crate) fn for_key(
    conn: &Connection,
    zone: &str,
    key: &str,
    limit: usize,
) -> Result<Vec<ListingEvent>> {
    let mut v = crate::rows(
        conn,
        "SELECT at, zone, key, kind, actor, reason, report_id, request_id FROM listing_events
         WHERE zone = ?1 AND key = ?2 ORDER BY id DESC LIMIT ?3",
        params![zone, key, limit as i64],
        |r| {
            Ok((
                r.get::<_, String>(3)?,
                ListingEvent {
                    at: r.get(0)?,
                    zone: r.get(1)?,
                    key: r.get(2)?,
                    kind: EventKind::Listed,
                    actor: r.get(4)?,
                    reason: r.get(5)?,
                    report_id: r.get(6)?,
                    request_id: r.get(7)?,
                },
            ))
        },
    )?
    .into_iter()
    .map(|(kind, mut e)| {
        e.kind = EventKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("listing event kind {kind:?}")))?;
        Ok(e)
    })
    .collect::<Result<Vec<_>>>()?;
    v.reverse();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn kinds_round_trip_and_match_the_schema() {
        let s = Store::open_in_memory().unwrap();
        for (i, k) in EventKind::ALL.into_iter().enumerate() {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            // The CHECK constraint knows every kind.
            record(
                &s.conn,
                &ListingEvent {
                    at: i as i64,
                    zone: "z".into(),
                    key: "k".into(),
                    kind: k,
                    actor: "t".into(),
                    reason: "r".into(),
                    report_id: None,
                    request_id: None,
                },
            )
            .unwrap();
        }
        let back: Vec<EventKind> = for_key(&s.conn, "z", "k", 100)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(back, EventKind::ALL.to_vec());
        assert_eq!(for_key(&s.conn, "z", "k", 2).unwrap().len(), 2);
        assert!(EventKind::parse("delisted").is_none());
    }
}
