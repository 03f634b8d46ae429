//! Reverting a reporter: undoing what a rogue (or broken) reporter did to
//! the listings, in one transaction.
//!
//! Suspending a reporter ([`Store::set_suspended`]) is a pause: its
//! reports are refused and its contributions stop counting, but its
//! evidence is kept, and the listings it helped make end by the usual
//! rules (decay, minimum listing time). Reverting is the undo: the
//! reporter is suspended (a removed one stays removed), every report of
//! it stops being evidence, and every key it reported is re-evaluated on
//! the evidence that remains. A listed key stays listed only if that
//! evidence would list it now (the listing threshold and enough distinct
//! reporters); otherwise it is delisted at once — its minimum listing
//! time does not protect it, since the reporter being reverted helped
//! make it — with a `delisted-revert` listing event.
//!
//! The reporter's report rows themselves stay (with their raw samples,
//! until retention drops them): they are what an operator looks at to
//! understand what went wrong. Only their standing as evidence goes:
//! their `evidence`, `contributions` and `key_reporters` rows, and their
//! share of each key's report count.

use std::collections::BTreeMap;

use fadelist_core::policy::Policy;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::events::{self, EventKind, ListingEvent};
use crate::listings::{Delisted, load_state};
use crate::reporters::{REMOVED, SUSPENDED};
use crate::{Result, Store, StoreError, audit};

/// What reverting a reporter did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reverted {
    /// The reporter's name.
    pub reporter: String,
    /// Keys (zone and key) it had reported, in every zone.
    pub keys: usize,
    /// Evidence rows withdrawn: its reports, once per key they counted
    /// against.
    pub evidence_withdrawn: usize,
    /// Keys delisted at once: the remaining evidence would not list them.
    pub delisted: Vec<Delisted>,
    /// Listed keys it had reported that stay listed on the evidence of
    /// other reporters.
    pub still_listed: Vec<Delisted>,
}

impl Store {
    /// Reverts the reporter `name` (see the module documentation), as
    /// `by` (the audit log's and the listing events' actor). `policy_for`
    /// gives each zone's policy. `None` when there is no such reporter.
    pub fn revert_reporter(
        &mut self,
        name: &str,
        policy_for: impl Fn(&str) -> Policy,
        by: &str,
        now: i64,
    ) -> Result<Option<Reverted>> {
        let tx = self.write_tx()?;
        let found: Option<(i64, i64)> = tx
            .query_row(
                "SELECT id, suspended FROM reporters WHERE name = ?1",
                params![name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((id, status)) = found else {
            return Ok(None);
        };
        if status < SUSPENDED {
            tx.execute(
                "UPDATE reporters SET suspended = ?2 WHERE id = ?1",
                params![id, SUSPENDED],
            )?;
        }
        // Every key it touched, with how many of its reports counted
        // against each. Its reports are found through the reports index
        // (reporter_id, …) and their evidence through its primary key
        // (report_id, …): no scan of the evidence table. Contributions are
        // added too: a removed reporter's are gone, but one whose evidence
        // was lost some other way would still have them.
        let mut touched: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (zone, key, n) in crate::rows(
            &tx,
            "SELECT zone, key, count(*) FROM evidence
             WHERE report_id IN (SELECT id FROM reports WHERE reporter_id = ?1)
             GROUP BY zone, key",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )? {
            touched.insert((zone, key), n);
        }
        for (zone, key) in crate::rows(
            &tx,
            "SELECT zone, key FROM contributions WHERE reporter_id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )? {
            touched.entry((zone, key)).or_insert(0);
        }
        let evidence_withdrawn = tx.execute(
            "DELETE FROM evidence WHERE report_id IN (SELECT id FROM reports WHERE reporter_id = ?1)",
            params![id],
        )?;
        // The source networks its reports claimed go too (joe-job rule): a
        // rogue reporter writes the whole message, Received fields
        // included.
        tx.execute(
            "DELETE FROM key_sources WHERE reporter_id = ?1",
            params![id],
        )?;
        let mut out = Reverted {
            reporter: name.to_string(),
            keys: touched.len(),
            evidence_withdrawn,
            delisted: Vec::new(),
            still_listed: Vec::new(),
        };
        for ((zone, key), reports) in touched {
            tx.execute(
                "DELETE FROM contributions WHERE zone = ?1 AND key = ?2 AND reporter_id = ?3",
                params![zone, key, id],
            )?;
            tx.execute(
                "DELETE FROM key_reporters WHERE zone = ?1 AND key = ?2 AND reporter_id = ?3",
                params![zone, key, id],
            )?;

            tx.execute(
                "UPDATE listings SET report_count = max(0, report_count - ?3) WHERE zone = ?1 AND key = ?2",
                params![zone, key, reports],
            )?;
            let (mut state, _) = load_state(&tx, &zone, &key)?;
            let Some(since) = state.listed_since else {
                continue;
            };
            // The listing criterion, not the delisting one: hysteresis and
            // the minimum listing time exist to keep a listing the
            // evidence made from flapping; here the evidence that made it
            // is gone, so the question is whether what remains would list
            // the key now.
            let policy = policy_for(&zone);
            let score = policy.score(&state, now);
            let reporters = policy.reporters(&state, now);
            // Content keys also need their source networks (joe-job rule).
            let networks_ok = policy.min_source_networks <= 1
                || crate::reports::source_networks(&tx, &zone, &key, &policy, now)?
                    >= policy.min_source_networks;
            if score >= policy.list_threshold && reporters >= policy.min_reporters && networks_ok {
                out.still_listed.push(Delisted { zone, key });
                continue;
            }
            // Nor does the withdrawn listing make the key a repeat
            // offender: its start leaves the listing history.
            state.past_listings.retain(|&t| t != since);
            let past = serde_json::to_string(&state.past_listings)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.execute(
                "UPDATE listings SET listed_since = NULL, min_until = NULL, past_listings = ?3
                 WHERE zone = ?1 AND key = ?2",
                params![zone, key, past],
            )?;
            events::record(
                &tx,
                &ListingEvent {
                    at: now,
                    zone: zone.clone(),
                    key: key.clone(),
                    kind: EventKind::DelistedRevert,
                    actor: by.into(),
                    reason: format!(
                        "reporter {name} reverted by {by}: its reports withdrawn; the remaining score {score:.2} from {reporters} reporters would not list it"
                    ),
                    report_id: None,
                    request_id: None,
                },
            )?;
            out.delisted.push(Delisted { zone, key });
        }
        let state = match status {
            REMOVED => "stays removed",
            _ => "suspended",
        };
        audit::write(
            &tx,
            None,
            None,
            "reporter-revert",
            &format!(
                "reporter {name} reverted by {by} ({state}): {} evidence rows on {} keys withdrawn, {} keys delisted, {} still listed on other evidence",
                out.evidence_withdrawn,
                out.keys,
                out.delisted.len(),
                out.still_listed.len()
            ),
            None,
            now,
        )?;
        tx.commit()?;
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ingest, key, report};
    use crate::{Read, ReporterKind};

    /// Reporters `honest1`, `honest2` and `rogue`.
    fn three(s: &mut Store) -> (i64, i64, i64) {
        let mut add = |name: &str| {
            s.add_reporter(name, 1.0, ReporterKind::User, &[], name, 0)
                .unwrap()
                .id
        };
        (add("honest1"), add("honest2"), add("rogue"))
    }

    fn report_key(s: &mut Store, reporter: i64, k: &str, t: i64) {
        let mid = format!("<{reporter}-{k}-{t}>");
        ingest(s, &report(reporter, &mid, t), &[key(k)]).unwrap();
    }

    fn listed(s: &Store) -> Vec<String> {
        s.listed().unwrap().into_iter().map(|l| l.key).collect()
    }

    #[test]
    fn revert_delists_what_only_the_rogue_kept_listed_in_one_go() {
        let mut s = Store::open_in_memory().unwrap();
        let (h1, h2, rogue) = three(&mut s);
        // Listed thanks to the rogue: one honest reporter each.
        report_key(&mut s, h1, "192.0.2.1", 100);
        report_key(&mut s, rogue, "192.0.2.1", 100);
        report_key(&mut s, rogue, "192.0.2.1", 101);
        report_key(&mut s, h2, "192.0.2.2", 100);
        report_key(&mut s, rogue, "192.0.2.2", 100);
        // Corroborated by two honest reporters, the rogue on top.
        for r in [h1, h2, rogue] {
            report_key(&mut s, r, "192.0.2.3", 100);
        }
        // The rogue alone: never listed.
        report_key(&mut s, rogue, "192.0.2.4", 100);
        // Untouched by the rogue.
        for r in [h1, h2] {
            report_key(&mut s, r, "192.0.2.5", 100);
        }
        assert_eq!(
            listed(&s),
            vec!["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.5"]
        );
        let min_until = s
            .listing("iprbl.test", "192.0.2.1")
            .unwrap()
            .unwrap()
            .min_until;
        assert!(
            min_until.unwrap() > 200,
            "well inside the minimum listing time"
        );

        let r = s
            .revert_reporter("rogue", |_| Policy::default(), "admin", 200)
            .unwrap()
            .expect("exists");
        let keys = |v: &[Delisted]| v.iter().map(|d| d.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&r.delisted), vec!["192.0.2.1", "192.0.2.2"]);
        assert_eq!(keys(&r.still_listed), vec!["192.0.2.3"]);
        assert_eq!((r.keys, r.evidence_withdrawn), (4, 5));
        assert_eq!(listed(&s), vec!["192.0.2.3", "192.0.2.5"]);

        // Its evidence is gone from every summary; the others' stays.
        let st = s.key_state("iprbl.test", "192.0.2.1").unwrap().unwrap();
        assert_eq!(
            st.contributions
                .iter()
                .map(|c| c.reporter)
                .collect::<Vec<_>>(),
            vec![h1]
        );
        assert_eq!(st.past_listings, Vec::<i64>::new(), "not a repeat offender");
        let row = s.listing("iprbl.test", "192.0.2.1").unwrap().unwrap();
        assert_eq!(
            (row.report_count, row.listed_since, row.min_until),
            (1, None, None)
        );
        assert_eq!(s.reporter_count("iprbl.test", "192.0.2.1").unwrap(), 1);
        assert_eq!(s.evidence("iprbl.test", "192.0.2.1", 10).unwrap().len(), 1);
        assert_eq!(s.reporter_count("iprbl.test", "192.0.2.3").unwrap(), 2);
        assert_eq!(s.report_count().unwrap(), 11, "its report rows stay");

        // Typed history for the delisted keys only, and one audit entry.
        let kinds = |k: &str| {
            s.listing_events("iprbl.test", k, 10)
                .unwrap()
                .into_iter()
                .map(|e| (e.kind, e.actor))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds("192.0.2.1"),
            vec![
                (EventKind::Listed, "reports".into()),
                (EventKind::DelistedRevert, "admin".into())
            ]
        );
        assert_eq!(
            kinds("192.0.2.3"),
            vec![(EventKind::Listed, "reports".into())]
        );
        let audit = s.audit_log(None, 100).unwrap();
        let entry = audit
            .iter()
            .find(|a| a.action == "reporter-revert")
            .expect("audited");
        assert!(
            entry.reason.contains("rogue") && entry.reason.contains("2 keys delisted"),
            "{}",
            entry.reason
        );

        // Suspended: its token still finds it, refused by the API.
        let rogue_row = s.reporter_by_name("rogue").unwrap().unwrap();
        assert!(rogue_row.suspended && !rogue_row.removed);
        // Nothing left to withdraw the second time; unknown names are None.
        let again = s
            .revert_reporter("rogue", |_| Policy::default(), "admin", 201)
            .unwrap()
            .unwrap();
        assert_eq!((again.keys, again.delisted.len()), (0, 0));
        assert!(
            s.revert_reporter("nobody", |_| Policy::default(), "admin", 201)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_removed_reporter_can_be_reverted_and_stays_removed() {
        let mut s = Store::open_in_memory().unwrap();
        let (h1, _, rogue) = three(&mut s);
        report_key(&mut s, h1, "192.0.2.1", 100);
        report_key(&mut s, rogue, "192.0.2.1", 100);
        assert_eq!(listed(&s), vec!["192.0.2.1"]);
        // Removal drops its contributions but keeps the listing it made.
        assert!(s.remove_reporter("rogue", 150).unwrap());
        assert_eq!(listed(&s), vec!["192.0.2.1"]);
        let r = s
            .revert_reporter("rogue", |_| Policy::default(), "cli", 200)
            .unwrap()
            .unwrap();
        assert_eq!(r.delisted.len(), 1, "found through its evidence");
        assert!(listed(&s).is_empty());
        assert!(s.reporter_by_name("rogue").unwrap().unwrap().removed);
    }

    #[test]
    fn suspended_reporters_do_not_count_until_reinstated() {
        let mut s = Store::open_in_memory().unwrap();
        let (h1, _, rogue) = three(&mut s);
        report_key(&mut s, rogue, "192.0.2.1", 100);
        assert!(s.set_suspended("rogue", true, 101).unwrap());
        // Without the suspension these two reports would list the key.
        report_key(&mut s, h1, "192.0.2.1", 102);
        assert!(listed(&s).is_empty());
        let st = s.key_state("iprbl.test", "192.0.2.1").unwrap().unwrap();
        assert_eq!(st.contributions.len(), 1, "only the honest one counts");
        // Kept, not lost: reinstated, it counts again.
        assert!(s.set_suspended("rogue", false, 103).unwrap());
        let st = s.key_state("iprbl.test", "192.0.2.1").unwrap().unwrap();
        assert_eq!(st.contributions.len(), 2);
        report_key(&mut s, h1, "192.0.2.1", 104);
        assert_eq!(listed(&s), vec!["192.0.2.1"]);
    }

    #[test]
    fn suspension_lets_the_decay_pass_delist_without_the_reporter() {
        let mut s = Store::open_in_memory().unwrap();
        let (h1, _, rogue) = three(&mut s);
        report_key(&mut s, h1, "192.0.2.1", 0);
        report_key(&mut s, rogue, "192.0.2.1", 0);
        report_key(&mut s, rogue, "192.0.2.1", 1);
        let p = Policy::default();
        // 13 h later (past the 12 h minimum): the honest 1.0 has decayed
        // to ~0.22, the rogue's capped 1.5 to ~0.33; together 0.55 keep
        // the key above the 0.5 delisting threshold.
        let t = 13 * 3600;
        assert!(s.decay_pass(|_| p.clone(), t).unwrap().is_empty());
        assert!(s.set_suspended("rogue", true, t).unwrap());
        let gone = s.decay_pass(|_| p.clone(), t).unwrap();
        assert_eq!(gone.len(), 1, "without the rogue the score is below 0.5");
    }
}
