//! Followed zones (`primary = "host:port"` on a `[[zone]]`): one task per
//! zone keeps a copy of the primary's zone and publishes it.
//!
//! - **First load**: AXFR, retried after 1, 2, 4 … 60 s until it works;
//!   until then the zone is refused (REFUSED, so resolvers ask another
//!   server rather than cache an answer).
//! - **Staying current**: on a NOTIFY from the primary (accepted by the
//!   DNS front's [`NotifyInbox`](fadelist_dns::follow::NotifyInbox)), and
//!   every SOA refresh interval otherwise, the SOA is asked; a newer serial
//!   is pulled by IXFR from ours (the primary may answer with the whole
//!   zone), and a diff that does not apply falls back to AXFR.
//! - **Primary down**: the last copy keeps being served; checks are
//!   retried every SOA retry interval; after the SOA expire interval
//!   without a successful check the zone is dropped (refused again), as
//!   RFC 1035 §3.3.13 asks of a secondary, rather than served stale.
//!
//! The transferred records are kept ([`ZoneContent`]) for the next IXFR;
//! what DNS serves is the dataset built from them (off the async threads).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fadelist_core::snapshot::Soa;
use fadelist_core::zone_import::{SoaRecord, ZoneContent};
use fadelist_dns::follow::{self, Primary, PullError, Pulled};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::listings::Listings;
use crate::zones::Followed;

/// Connecting to the primary, and each read and write of a transfer,
/// gives up after this long.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait between attempts before the first transfer.
const MAX_FIRST_RETRY: Duration = Duration::from_secs(60);
/// Bounds of the SOA timers we obey (a zero or a year from a primary is
/// not a reason to spin or to sleep forever).
const MIN_TIMER: Duration = Duration::from_secs(1);
const MAX_TIMER: Duration = Duration::from_secs(86_400);

/// What each followed zone's task last did: for `/api/v1/status` and the
/// metrics.
#[derive(Clone, Debug, Default)]
pub struct Board(Arc<std::sync::Mutex<std::collections::BTreeMap<String, FollowState>>>);

/// One followed zone's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FollowState {
    /// The primary's address.
    pub primary: String,
    /// The serial served, while the zone is served.
    pub serial: Option<u32>,
    /// True while the zone has data (after the first transfer, until it
    /// expires).
    pub serving: bool,
    /// The last successful SOA check or transfer, Unix seconds.
    pub last_success: Option<u64>,
    /// The last transfer that changed the data, Unix seconds.
    pub last_transfer: Option<u64>,
    /// Transfers applied, whole zones.
    pub axfr: u64,
    /// Transfers applied, differences.
    pub ixfr: u64,
    /// Checks or transfers that failed since the start.
    pub failures: u64,
    /// The last failure, while the primary keeps failing (cleared by the
    /// next success).
    pub last_error: Option<String>,
}

impl Board {
    fn update(&self, zone: &str, f: impl FnOnce(&mut FollowState)) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(m.entry(zone.to_string()).or_default());
    }

    /// Every followed zone's state.
    pub fn get(&self) -> std::collections::BTreeMap<String, FollowState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// NOTIFY starts a check at most this often: a forged NOTIFY (UDP, from
/// the primary's address) must not turn the follower into a stream of
/// SOA queries against its primary.
const MIN_NOTIFY_GAP: Duration = Duration::from_secs(1);

/// The copy of one followed zone.
struct Copy {
    content: ZoneContent,
    soa: SoaRecord,
}

fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n)).clamp(MIN_TIMER, MAX_TIMER)
}

/// Follows `zone` from `primary` until `shutdown`, publishing through
/// `listings`; `notified` is woken by the primary's NOTIFY.
pub async fn follow_loop(
    listings: Listings,
    board: Board,
    zone: String,
    primary: Primary,
    notified: Option<Arc<tokio::sync::Notify>>,
    shutdown: CancellationToken,
) {
    info!(zone, primary = %primary.addr, signed = primary.key.is_some(), "following zone");
    board.update(&zone, |s| s.primary = primary.addr.to_string());
    let mut copy: Option<Copy> = None;
    // The last successful check or transfer.
    let mut last_ok: Option<Instant> = None;
    let mut failures = 0u32;
    let mut wait = Duration::ZERO;
    let mut last_check: Option<Instant> = None;
    loop {
        if !wait.is_zero() {
            let woken = async {
                match &notified {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            };
            let by_notify = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = woken => true,
                _ = tokio::time::sleep(wait) => false,
            };
            if by_notify {
                let gap = last_check.map_or(Duration::ZERO, |t| {
                    MIN_NOTIFY_GAP.saturating_sub(t.elapsed())
                });
                if !gap.is_zero() {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(gap) => {}
                    }
                }
                info!(zone, "NOTIFY from the primary: checking the SOA");
            }
        }
        last_check = Some(Instant::now());
        if shutdown.is_cancelled() {
            return;
        }
        let before = copy.as_ref().map(|c| c.soa.serial);
        match check(&listings, &zone, &primary, &mut copy).await {
            Ok(kind) => {
                last_ok = Some(Instant::now());
                failures = 0;
                let now = crate::clock::unix_now();
                board.update(&zone, |s| {
                    s.last_success = Some(now);
                    s.last_error = None;
                    s.serving = true;
                    s.serial = copy.as_ref().map(|c| c.soa.serial);
                    match kind {
                        Some("AXFR") => s.axfr += 1,
                        Some(_) => s.ixfr += 1,
                        None => {}
                    }
                    if kind.is_some() || before != s.serial {
                        s.last_transfer = Some(now);
                    }
                });
            }
            Err(e) => {
                failures += 1;
                warn!(zone, primary = %primary.addr, failures, "zone check failed: {e}");
                board.update(&zone, |s| {
                    s.failures += 1;
                    s.last_error = Some(e.to_string());
                });
            }
        }
        wait = match &copy {
            None => Duration::from_secs(1u64 << failures.min(6)).min(MAX_FIRST_RETRY),
            Some(c) if failures == 0 => secs(c.soa.refresh),
            Some(c) => {
                let expire = secs(c.soa.expire);
                let since = last_ok.map_or(expire, |t| t.elapsed());
                if since >= expire {
                    error!(
                        zone,
                        primary = %primary.addr,
                        expire_secs = expire.as_secs(),
                        "zone expired: no successful check within the SOA expire time; no longer served"
                    );
                    copy = None;
                    listings.set_followed(&zone, None);
                    board.update(&zone, |s| {
                        s.serving = false;
                        s.serial = None;
                    });
                    Duration::from_secs(1)
                } else {
                    secs(c.soa.retry).min(expire - since)
                }
            }
        };
    }
}

/// One check: the SOA, and a transfer when the primary has a newer serial
/// (or we have nothing yet).
async fn check(
    listings: &Listings,
    zone: &str,
    primary: &Primary,
    copy: &mut Option<Copy>,
) -> Result<Option<&'static str>, PullError> {
    let Some(have) = copy.as_ref().map(|c| c.soa.serial) else {
        let started = Instant::now();
        let pulled = follow::pull(primary, zone, None).await?;
        return install(listings, zone, copy, pulled, None, started).await;
    };
    let theirs = follow::soa(primary, zone).await?;
    if !follow::serial_newer(theirs.serial, have) {
        return Ok(None);
    }
    let started = Instant::now();
    let pulled = follow::pull(primary, zone, Some(have)).await?;
    match install(listings, zone, copy, pulled, Some(have), started).await {
        // The copy was given up (it is still served meanwhile): the
        // whole zone, now.
        Err(PullError::Apply(_)) => {
            let pulled = follow::pull(primary, zone, None).await?;
            install(listings, zone, copy, pulled, None, Instant::now()).await
        }
        other => other,
    }
}

/// Applies what a pull brought and publishes the result.
async fn install(
    listings: &Listings,
    zone: &str,
    copy: &mut Option<Copy>,
    pulled: Pulled,
    had: Option<u32>,
    started: Instant,
) -> Result<Option<&'static str>, PullError> {
    let (kind, content, soa) = match pulled {
        Pulled::UpToDate(_) => return Ok(None),
        Pulled::Full(c) => {
            let soa = c
                .soa
                .clone()
                .ok_or(PullError::Malformed("a transfer without SOA"))?;
            ("AXFR", *c, soa)
        }
        Pulled::Incremental { soa, diffs } => {
            let Some(mut current) = copy.take() else {
                return Err(PullError::Malformed("an IXFR answer to an AXFR"));
            };
            let steps = diffs.len();
            let applied = tokio::task::spawn_blocking(move || {
                for d in &diffs {
                    d.apply(&mut current.content)?;
                }
                Ok::<_, fadelist_core::zone_import::ApplyError>(current.content)
            })
            .await
            .map_err(|e| {
                PullError::Malformed(if e.is_panic() {
                    "IXFR apply panicked"
                } else {
                    "IXFR apply cancelled"
                })
            })?;
            match applied {
                Ok(mut content) => {
                    content.soa = Some(soa.clone());
                    info!(zone, from = ?had, to = soa.serial, steps, "IXFR applied");
                    ("IXFR", content, soa)
                }
                Err(e) => {
                    // Our copy no longer matches the primary's history:
                    // start over from the whole zone.
                    warn!(
                        zone,
                        "IXFR does not apply ({e}); transferring the whole zone"
                    );
                    return Err(PullError::Apply(e));
                }
            }
        }
    };
    let names = content.names();
    let (dataset, content) = tokio::task::spawn_blocking(move || {
        let ds = content.dataset();
        (ds, content)
    })
    .await
    .map_err(|_| PullError::Malformed("building the dataset failed"))?;
    let followed = Followed {
        dataset: Arc::new(dataset),
        soa: Soa {
            mname: soa.mname.clone(),
            rname: soa.rname.clone(),
            serial: soa.serial,
            refresh: soa.refresh,
            retry: soa.retry,
            expire: soa.expire,
            minimum: soa.minimum,
            ttl: soa.ttl,
        },
        ns: content.ns.clone(),
        ns_ttl: content.ns_ttl,
    };
    listings.set_followed(zone, Some(followed));
    info!(
        zone,
        kind,
        serial = soa.serial,
        names,
        seconds = started.elapsed().as_secs_f64(),
        "followed zone updated"
    );
    *copy = Some(Copy { content, soa });
    Ok(Some(kind))
}

/// The primary of a followed zone, from its configuration.
pub fn primary_of(
    config: &crate::config::Config,
    zone: &crate::config::ZoneConfig,
) -> anyhow::Result<Option<Primary>> {
    let Some(addr) = zone.primary_addr()? else {
        return Ok(None);
    };
    let key = match &zone.primary_key {
        Some(k) => Some(config.transfer.key_named(k)?),
        None => None,
    };
    Ok(Some(Primary {
        addr,
        key,
        timeout: TIMEOUT,
    }))
}
