//! "Not spam" corrections: a reporter withdraws one of its reports, in one
//! transaction.
//!
//! Mail systems report a message when a user moves it into Junk (Dovecot
//! IMAPSieve, see `deploy/dovecot/`), and users move messages back out
//! when they filed them by mistake. The correction names the message the
//! way the report did — Message-ID + body hash, the report's dedupe key —
//! so the server finds the report itself; the reporter never has to keep
//! report ids.
//!
//! Withdrawing is [`revert`](crate::revert) for one report: the report
//! stops being evidence (its `evidence` rows go, it is marked
//! `withdrawn_at`), its weight leaves the reporter's contribution to every
//! key it counted against, and each such key that is listed is
//! re-evaluated at once on what remains. A key the remaining evidence
//! would not list now is delisted — its minimum listing time does not
//! protect it, since the withdrawn report helped make it — with a
//! `delisted-correction` listing event.
//!
//! What this deliberately does not do: a contribution is a decayed sum,
//! not a list of reports, so the report's share is taken out as its
//! weight decayed from the report's arrival to now (floored at 0). That is
//! exact when the reporter's cap did not clip the sum, and errs toward
//! removing more otherwise, which is the safe side for a correction. The
//! reporter's `key_sources` row (the source network, for the joe-job
//! rule) is dropped only when no other report of the reporter names the
//! key: the row does not say which report recorded it.
//!
//! The report row stays (an operator may want to see what was reported
//! and withdrawn), but leaves its dedupe slot: its dedupe key gets a
//! `\nwithdrawn <id>` suffix, so the same message reported again (moved
//! back into Junk) counts as a new report instead of being answered as a
//! duplicate of one that no longer counts. A second withdrawal finds the
//! withdrawn row through that suffix and changes nothing.

use fadelist_core::policy::{Policy, decay};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::events::{self, EventKind, ListingEvent};
use crate::listings::{Delisted, load_state};
use crate::reports::dedupe_key;
use crate::{Result, Store, StoreError, audit};

/// What a withdrawal found and did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Withdrawal {
    /// The reporter never reported this message (or the report is gone,
    /// past retention): nothing to withdraw.
    NoSuchReport,
    /// The report had been withdrawn before: nothing changed.
    AlreadyWithdrawn {
        /// The report.
        report_id: i64,
        /// When it was withdrawn, Unix seconds.
        withdrawn_at: i64,
    },
    /// Withdrawn now.
    Withdrawn(Withdrawn),
}

/// A report withdrawn just now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Withdrawn {
    /// The report.
    pub report_id: i64,
    /// The keys it had counted against, in every zone.
    pub keys: Vec<Delisted>,
    /// Keys delisted at once: the remaining evidence would not list them.
    pub delisted: Vec<Delisted>,
    /// Listed keys it had counted against that stay listed on the
    /// remaining evidence.
    pub still_listed: Vec<Delisted>,
}

/// Contributions below this are nothing left (float dust of a subtraction
/// that should have reached 0).
const EMPTY: f64 = 1e-9;

impl Store {
    /// Withdraws reporter `reporter_id`'s report of the message with
    /// `message_id` and `body_hash` (see the module documentation).
    /// `policy_for` gives each zone's policy (its half-life and listing
    /// criterion).
    pub fn withdraw_report(
        &mut self,
        reporter_id: i64,
        message_id: Option<&str>,
        body_hash: &str,
        policy_for: impl Fn(&str) -> Policy,
        now: i64,
    ) -> Result<Withdrawal> {
        let tx = self.write_tx()?;
        let dedupe = dedupe_key(message_id, body_hash);
        let found: Option<(i64, i64)> = tx
            .query_row(
                "SELECT id, received_at FROM reports WHERE reporter_id = ?1 AND dedupe_key = ?2",
                params![reporter_id, dedupe],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((report_id, received_at)) = found else {
            // Withdrawn ones keep their key with a suffix: a range over
            // the (reporter_id, dedupe_key) index finds them (`!` is the
            // character after the suffix's space).
            let earlier: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT id, withdrawn_at FROM reports
                     WHERE reporter_id = ?1 AND dedupe_key >= ?2 || ' ' AND dedupe_key < ?2 || '!'
                       AND withdrawn_at IS NOT NULL
                     ORDER BY withdrawn_at DESC LIMIT 1",
                    params![reporter_id, format!("{dedupe}\nwithdrawn")],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            return Ok(match earlier {
                Some((report_id, withdrawn_at)) => Withdrawal::AlreadyWithdrawn {
                    report_id,
                    withdrawn_at,
                },
                None => Withdrawal::NoSuchReport,
            });
        };
        let (name, weight): (String, f64) = tx.query_row(
            "SELECT name, weight FROM reporters WHERE id = ?1",
            params![reporter_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let keys: Vec<(String, String)> = crate::rows(
            &tx,
            "SELECT zone, key FROM evidence WHERE report_id = ?1 ORDER BY zone, key",
            params![report_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        tx.execute(
            "DELETE FROM evidence WHERE report_id = ?1",
            params![report_id],
        )?;
        tx.execute(
            "UPDATE reports SET withdrawn_at = ?2, dedupe_key = dedupe_key || ?3 WHERE id = ?1",
            params![report_id, now, format!("\nwithdrawn {report_id}")],
        )?;
        let mut out = Withdrawn {
            report_id,
            keys: Vec::with_capacity(keys.len()),
            delisted: Vec::new(),
            still_listed: Vec::new(),
        };
        for (zone, key) in keys {
            let policy = policy_for(&zone);
            let share = decay(
                weight.min(policy.reporter_cap),
                received_at,
                now,
                policy.half_life,
            );
            let contribution: Option<(f64, i64)> = tx
                .query_row(
                    "SELECT score, at FROM contributions WHERE zone = ?1 AND key = ?2 AND reporter_id = ?3",
                    params![zone, key, reporter_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let left = contribution
                .map(|(score, at)| (decay(score, at, now, policy.half_life) - share).max(0.0))
                .unwrap_or(0.0);
            // The index on evidence leads with (zone, key): this scans one
            // key's evidence, not the table.
            let other_evidence: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM evidence WHERE zone = ?1 AND key = ?2 AND reporter_id = ?3)",
                params![zone, key, reporter_id],
                |r| r.get(0),
            )?;
            if !other_evidence {
                // The reporter no longer says anything about this key.
                tx.execute(
                    "DELETE FROM key_reporters WHERE zone = ?1 AND key = ?2 AND reporter_id = ?3",
                    params![zone, key, reporter_id],
                )?;
                tx.execute(
                    "DELETE FROM key_sources WHERE zone = ?1 AND key = ?2 AND reporter_id = ?3",
                    params![zone, key, reporter_id],
                )?;
            }
            if !other_evidence || left < EMPTY {
                tx.execute(
                    "DELETE FROM contributions WHERE zone = ?1 AND key = ?2 AND reporter_id = ?3",
                    params![zone, key, reporter_id],
                )?;
            } else {
                tx.execute(
                    "UPDATE contributions SET score = ?4, at = ?5 WHERE zone = ?1 AND key = ?2 AND reporter_id = ?3",
                    params![zone, key, reporter_id, left, now],
                )?;
            }
            tx.execute(
                "UPDATE listings SET report_count = max(0, report_count - 1) WHERE zone = ?1 AND key = ?2",
                params![zone, key],
            )?;
            out.keys.push(Delisted {
                zone: zone.clone(),
                key: key.clone(),
            });
            let (mut state, _) = load_state(&tx, &zone, &key)?;
            let Some(since) = state.listed_since else {
                continue;
            };
            // As for a revert: the listing criterion, not the delisting
            // one. Hysteresis and the minimum listing time keep a listing
            // the evidence made from flapping; part of that evidence has
            // just been taken back, so the question is whether what remains
            // would list the key now.
            let score = policy.score(&state, now);
            let reporters = policy.reporters(&state, now);
            let networks_ok = policy.min_source_networks <= 1
                || crate::reports::source_networks(&tx, &zone, &key, &policy, now)?
                    >= policy.min_source_networks;
            if score >= policy.list_threshold && reporters >= policy.min_reporters && networks_ok {
                out.still_listed.push(Delisted { zone, key });
                continue;
            }
            // A listing taken back is not a past offence: its start leaves
            // the repeat-offender history.
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
                    kind: EventKind::DelistedCorrection,
                    actor: name.clone(),
                    reason: format!(
                        "reporter {name} withdrew report {report_id} (not spam); the remaining score {score:.2} from {reporters} reporters would not list it"
                    ),
                    report_id: Some(report_id),
                    request_id: None,
                },
            )?;
            out.delisted.push(Delisted { zone, key });
        }
        audit::write(
            &tx,
            None,
            None,
            "report-withdrawn",
            &format!(
                "reporter {name} withdrew report {report_id} (not spam): {} keys, {} delisted, {} still listed on other evidence",
                out.keys.len(),
                out.delisted.len(),
                out.still_listed.len()
            ),
            Some(report_id),
            now,
        )?;
        tx.commit()?;
        Ok(Withdrawal::Withdrawn(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ingest, key, report};
    use crate::{Read, ReporterKind};

    fn reporters(s: &mut Store) -> (i64, i64) {
        let mut add = |name: &str| {
            s.add_reporter(name, 1.0, ReporterKind::User, &[], name, 0)
                .unwrap()
                .id
        };
        (add("alice"), add("bob"))
    }

    fn listed(s: &Store) -> Vec<String> {
        s.listed().unwrap().into_iter().map(|l| l.key).collect()
    }

    fn withdraw(s: &mut Store, reporter: i64, mid: &str, now: i64) -> Withdrawal {
        s.withdraw_report(reporter, Some(mid), "abc", |_| Policy::default(), now)
            .unwrap()
    }

    fn contribution(s: &Store, k: &str, reporter: i64) -> Option<f64> {
        let st = s.key_state("iprbl.test", k).unwrap().unwrap();
        st.contributions
            .iter()
            .find(|c| c.reporter == reporter)
            .map(|c| decay(c.score, c.at, 200, Policy::default().half_life))
    }

    #[test]
    fn withdrawing_delists_at_once_and_only_once() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = reporters(&mut s);
        for r in [a, b] {
            ingest(&mut s, &report(r, "<m1>", 100), &[key("192.0.2.1")]).unwrap();
        }
        // Bob's report also names a key only he reported.
        ingest(&mut s, &report(b, "<m2>", 100), &[key("192.0.2.9")]).unwrap();
        assert_eq!(listed(&s), vec!["192.0.2.1"]);
        let row = s.listing("iprbl.test", "192.0.2.1").unwrap().unwrap();
        assert!(
            row.min_until.unwrap() > 200,
            "inside the minimum listing time"
        );

        let Withdrawal::Withdrawn(w) = withdraw(&mut s, b, "<m1>", 200) else {
            panic!("withdrawn")
        };
        let keys = |v: &[Delisted]| v.iter().map(|d| d.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&w.keys), vec!["192.0.2.1"]);
        assert_eq!(keys(&w.delisted), vec!["192.0.2.1"]);
        assert!(w.still_listed.is_empty());
        assert!(listed(&s).is_empty());

        // Bob's contribution and rows for the key are gone; Alice's stay.
        assert_eq!(contribution(&s, "192.0.2.1", b), None);
        assert!(contribution(&s, "192.0.2.1", a).is_some());
        assert_eq!(s.reporter_count("iprbl.test", "192.0.2.1").unwrap(), 1);
        assert_eq!(s.evidence("iprbl.test", "192.0.2.1", 10).unwrap().len(), 1);
        let row = s.listing("iprbl.test", "192.0.2.1").unwrap().unwrap();
        assert_eq!(
            (row.report_count, row.listed_since, row.min_until),
            (1, None, None)
        );
        // His other report is untouched.
        assert!(contribution(&s, "192.0.2.9", b).is_some());

        let events = s.listing_events("iprbl.test", "192.0.2.1", 10).unwrap();
        let last = events.last().unwrap();
        assert_eq!(
            (last.kind, last.actor.as_str(), last.report_id),
            (EventKind::DelistedCorrection, "bob", Some(w.report_id))
        );
        assert!(
            s.audit_log(None, 100)
                .unwrap()
                .iter()
                .any(|e| e.action == "report-withdrawn" && e.reason.contains("bob")),
            "audited"
        );

        // Again: nothing changes. Unknown messages and other reporters'
        // messages are no such report.
        assert_eq!(
            withdraw(&mut s, b, "<m1>", 300),
            Withdrawal::AlreadyWithdrawn {
                report_id: w.report_id,
                withdrawn_at: 200
            }
        );
        assert_eq!(withdraw(&mut s, b, "<nope>", 300), Withdrawal::NoSuchReport);
        assert_eq!(
            withdraw(&mut s, a, "<m2>", 300),
            Withdrawal::NoSuchReport,
            "Alice never reported m2"
        );
        assert!(contribution(&s, "192.0.2.1", a).is_some());

        // Reported again (moved back into Junk): a new report that counts,
        // not a duplicate of the withdrawn one; the key is listed again.
        let again = ingest(&mut s, &report(b, "<m1>", 400), &[key("192.0.2.1")]);
        let again = again.expect("a new report, not a duplicate");
        assert_ne!(again.report_id, w.report_id);
        assert_eq!(listed(&s), vec!["192.0.2.1"]);
        assert!(matches!(
            withdraw(&mut s, b, "<m1>", 500),
            Withdrawal::Withdrawn(_)
        ));
    }

    #[test]
    fn other_reports_of_the_reporter_keep_their_share() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = reporters(&mut s);
        // Alice and Bob report two messages each: both at their cap.
        ingest(&mut s, &report(a, "<a1>", 100), &[key("192.0.2.1")]).unwrap();
        ingest(&mut s, &report(a, "<a2>", 100), &[key("192.0.2.1")]).unwrap();
        ingest(&mut s, &report(b, "<b1>", 100), &[key("192.0.2.1")]).unwrap();
        ingest(&mut s, &report(b, "<b2>", 100), &[key("192.0.2.1")]).unwrap();
        let before = contribution(&s, "192.0.2.1", b).unwrap();
        assert!((before - 1.5).abs() < 0.01, "capped: {before}");
        let Withdrawal::Withdrawn(w) = withdraw(&mut s, b, "<b1>", 200) else {
            panic!("withdrawn")
        };
        // 1.5 capped minus 1.0 decayed over 100 s: about 0.5 is left, and
        // with Alice's ~1.5 the key stays listed.
        let after = contribution(&s, "192.0.2.1", b).unwrap();
        assert!((after - 0.5).abs() < 0.02, "{after}");
        assert_eq!(w.delisted, vec![]);
        assert_eq!(w.still_listed.len(), 1);
        assert_eq!(listed(&s), vec!["192.0.2.1"]);
        assert_eq!(s.reporter_count("iprbl.test", "192.0.2.1").unwrap(), 2);
        // Withdrawing the other one takes Bob off the key entirely, and
        // Alice alone does not keep it listed.
        let Withdrawal::Withdrawn(w) = withdraw(&mut s, b, "<b2>", 200) else {
            panic!("withdrawn")
        };
        assert_eq!(w.delisted.len(), 1);
        assert_eq!(contribution(&s, "192.0.2.1", b), None);
        assert_eq!(s.reporter_count("iprbl.test", "192.0.2.1").unwrap(), 1);
    }
}
