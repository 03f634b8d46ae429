//! Pruning on schedule: the store's retention, applied a batch at a time.
//!
//! The decay tick starts a run when `[store] prune_interval` has passed
//! since the last one began (the first tick after start starts one, which
//! catches up after downtime). A run is a [`fadelist_store::Prune`] moved
//! through the store thread one step per job: each step is one short
//! transaction, and the reports that queued up behind it are written
//! before the next step is queued, so a report waits for one step at most,
//! however much there is to prune. Runs are never concurrent.
//!
//! The cut-offs come from `[store]`; what a key listed now keeps comes
//! from what its lookup page reads (`lookup.rs`): the reports its score
//! chart replays (the chart's window plus a few half-lives of its zone)
//! and the rows of its evidence table.

use std::sync::atomic::Ordering;
use std::time::Duration;

use fadelist_core::policy::Policy;
use fadelist_store::{Prune, Retention, ZoneRetention};
use tracing::{debug, info, warn};

use super::{Listings, PruneRun, ServiceError};

impl Listings {
    /// Starts a pruning run in the background when one is due at `now`
    /// and none is under way.
    pub(super) fn prune_if_due(&self, now: i64) {
        let m = &self.maintenance;
        if now < m.next_at.load(Ordering::Relaxed) {
            return;
        }
        if m.running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        m.next_at
            .store(now.saturating_add(m.interval), Ordering::Relaxed);
        let this = self.clone();
        tokio::spawn(async move {
            let _ = this.run_prune(now).await;
            this.maintenance.running.store(false, Ordering::Release);
        });
    }

    /// Runs a pruning run at `now` to its end, whatever the schedule, and
    /// returns it (also kept for `/api/v1/status`). A run already under
    /// way is waited for first: runs never overlap.
    pub async fn prune(&self, now: i64) -> Result<PruneRun, ServiceError> {
        let m = &self.maintenance;
        while m
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (run, gone) = self.run_prune(now).await;
        m.running.store(false, Ordering::Release);
        match gone {
            Some(e) => Err(e),
            None => Ok(run),
        }
    }

    /// The cut-offs at `now` from `[store]` and each zone's policy.
    fn retention_plan(&self, now: i64) -> Retention {
        let m = &self.maintenance;
        let before = |keep: i64| now.saturating_sub(keep);
        let zone = |policy: &Policy| ZoneRetention {
            policy: policy.clone(),
            listed_evidence_since: before(
                crate::chart::HISTORY_HOURS * 3600
                    + (policy.half_life * crate::lookup::REPLAY_HALF_LIVES) as i64,
            ),
        };
        let mut plan = Retention::keep_all(now);
        plan.raw_before = before(m.raw_retention);
        plan.reports_before = before(m.report_retention);
        plan.history_before = before(m.history_retention);
        plan.audit_before = before(m.audit_retention);
        plan.erase_requests_before = before(m.request_retention);
        // Anonymous requests go with the audit log, but not before the
        // self-service limit, which counts a key's removals in its window,
        // is done with them.
        plan.delete_requests_before = before(m.audit_retention.max(self.self_service_window));
        plan.batch = m.batch;
        plan.listed_keep_newest = 2 * crate::lookup::EVIDENCE_SHOWN;
        plan.zones = self
            .rules
            .feed_zones()
            .into_iter()
            .map(|z| {
                let r = zone(self.rules.policy(&z));
                (z, r)
            })
            .collect();
        plan.other_zones = zone(self.rules.default_policy());
        plan
    }

    /// One run, step by step on the store thread; records it and logs
    /// what it removed. The error is set when the store thread is gone.
    async fn run_prune(&self, now: i64) -> (PruneRun, Option<ServiceError>) {
        let started = crate::clock::monotonic();
        let mut run = Prune::new(self.retention_plan(now));
        let mut pruned = run.pruned().clone();
        let mut longest = Duration::ZERO;
        let mut error = None;
        let mut gone = None;
        loop {
            let step = self
                .writer
                .call_upkeep(move |s| {
                    let t = crate::clock::monotonic();
                    let more = run.step(s);
                    (run, more, t.elapsed())
                })
                .await;
            match step {
                Ok((r, more, took)) => {
                    longest = longest.max(took);
                    pruned = r.pruned().clone();
                    run = r;
                    match more {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            error = Some(e.to_string());
                            break;
                        }
                    }
                }
                Err(e) => {
                    // The store thread is gone, and the run with it.
                    error = Some(e.to_string());
                    gone = Some(e);
                    break;
                }
            }
        }
        let file = self
            .writer
            .call_upkeep(|s| s.file_usage())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let out = PruneRun {
            started_at: now,
            took_ms: ms(started.elapsed()),
            longest_step_ms: ms(longest),
            pruned,
            file,
            error,
        };
        match &out.error {
            Some(e) => warn!("pruning stopped early (the next run starts over): {e}"),
            None if out.pruned.steps > 7 || out.pruned.largest_step > 0 => info!(
                raw_samples = out.pruned.raw_dropped,
                reports = out.pruned.reports,
                evidence = out.pruned.evidence,
                keys = out.pruned.keys,
                events = out.pruned.events,
                audit = out.pruned.audit,
                requests_erased = out.pruned.requests_erased,
                requests_deleted = out.pruned.requests_deleted,
                steps = out.pruned.steps,
                longest_step_ms = out.longest_step_ms,
                free_in_file = out.file.free_bytes,
                "pruned what is past its retention"
            ),
            None => debug!("pruning: nothing past its retention"),
        }
        *self
            .maintenance
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(out.clone());
        (out, gone)
    }
}
