//! The listings service's reporter operations that need more than a flag:
//! adding a reporter, setting its trusted networks, reverting it, and a
//! reporter's "not spam" correction of one report (the last two delist,
//! so their effects reach DNS before the answer).
//!
//! Suspending and removing are in the parent module; see
//! [`fadelist_store::revert`] for how a revert differs from a suspension.

use fadelist_core::keys::ListingKey;
use fadelist_store::correction::Withdrawal;
use fadelist_store::{Delisted, Reporter, ReporterKind, Reverted};
use tracing::{error, info, warn};

use super::{Effect, Listings, ServiceError};

impl Listings {
    /// Adds a reporter with the API token `token` (only its hash is
    /// stored). `trusted` must be checked already
    /// ([`crate::input::parse_trusted`]); the store checks it again.
    pub async fn add_reporter(
        &self,
        name: &str,
        weight: f64,
        kind: ReporterKind,
        trusted: Vec<String>,
        token: String,
    ) -> Result<Reporter, ServiceError> {
        let name = name.to_string();
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| {
            let r = s.add_reporter(&name, weight, kind, &trusted, &token, now)?;
            Ok((r, Vec::new()))
        })
        .await
    }

    /// Replaces a reporter's trusted networks (checked already, as for
    /// [`Listings::add_reporter`]); `None` when there is no such reporter.
    /// No DNS effect: the next report is parsed with them.
    pub async fn set_trusted(
        &self,
        name: &str,
        trusted: Vec<String>,
    ) -> Result<Option<Reporter>, ServiceError> {
        let name = name.to_string();
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| Ok((s.set_trusted(&name, &trusted, now)?, Vec::new())))
            .await
    }

    /// Reverts a reporter, as `by`: suspended, all its reports withdrawn as
    /// evidence, and every key the remaining evidence would not list
    /// delisted at once — gone from DNS before this returns. `None` when
    /// there is no such reporter.
    pub async fn revert_reporter(
        &self,
        name: &str,
        by: &str,
    ) -> Result<Option<Reverted>, ServiceError> {
        let (name, by) = (name.to_string(), by.to_string());
        let rules = self.rules.clone();
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| {
            let Some(r) = s.revert_reporter(&name, |z| rules.policy(z).clone(), &by, now)? else {
                return Ok((None, Vec::new()));
            };
            warn!(
                reporter = %name,
                keys = r.keys,
                delisted = r.delisted.len(),
                still_listed = r.still_listed.len(),
                "reporter reverted by {by}"
            );
            let effects = unlisted(&r.delisted, "reporter reverted");
            Ok((Some(r), effects))
        })
        .await
    }

    /// Withdraws the report that reporter `reporter_id` made of the
    /// message with `message_id` and `body_hash` (a "not spam"
    /// correction; see [`fadelist_store::correction`]). Keys the remaining
    /// evidence would not list are delisted at once — gone from DNS
    /// before this returns.
    pub async fn withdraw_report(
        &self,
        reporter_id: i64,
        message_id: Option<String>,
        body_hash: String,
    ) -> Result<Withdrawal, ServiceError> {
        let rules = self.rules.clone();
        let now = crate::clock::unix_now() as i64;
        self.write(move |s| {
            let w = s.withdraw_report(
                reporter_id,
                message_id.as_deref(),
                &body_hash,
                |z| rules.policy(z).clone(),
                now,
            )?;
            let effects = match &w {
                Withdrawal::Withdrawn(w) => {
                    info!(
                        reporter_id,
                        report_id = w.report_id,
                        keys = w.keys.len(),
                        delisted = w.delisted.len(),
                        "report withdrawn (not spam)"
                    );
                    unlisted(&w.delisted, "report withdrawn")
                }
                _ => Vec::new(),
            };
            Ok((w, effects))
        })
        .await
    }
}

/// The DNS effects of keys the store delisted, `why` for the log.
fn unlisted(delisted: &[Delisted], why: &str) -> Vec<Effect> {
    let mut effects = Vec::with_capacity(delisted.len());
    for d in delisted {
        info!(zone = %d.zone, key = %d.key, "delisted: {why}");
        match d.key.parse::<ListingKey>() {
            Ok(key) => effects.push(Effect::Unlisted {
                zone: d.zone.clone(),
                key,
            }),
            Err(e) => error!("unreadable key of a listing delisted ({why}): {e}"),
        }
    }
    effects
}
