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

use fadelist_core::zone_import::{Soa, ZoneContent};
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

/// How often at most the copy on disk is rewritten after IXFRs (an AXFR
/// is saved at once): each save writes the whole zone.
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// Where a followed zone's copy is kept on disk, so that a restarted
/// follower serves at once even when its primary is down: beside the
/// database, `<db>.follow/<zone>`; `None` for an in-memory database.
pub fn saved_path(config: &crate::config::Config, zone: &str) -> Option<std::path::PathBuf> {
    let db = &config.store.path;
    let name = db.file_name()?.to_str()?;
    (name != ":memory:" && !name.is_empty())
        .then(|| db.with_file_name(format!("{name}.follow")).join(zone))
}

/// The copy on disk: where, and when it was last written.
struct Saver {
    path: Option<std::path::PathBuf>,
    last: Option<Instant>,
    /// The copy changed since it was last saved.
    dirty: bool,
}

impl Saver {
    /// The path to write now, if a save is due.
    fn due(&self, full: bool) -> Option<std::path::PathBuf> {
        let due = full || self.last.is_none_or(|t| t.elapsed() >= SAVE_EVERY);
        self.path.clone().filter(|_| due)
    }

    /// Marks the copy on disk as confirmed by the primary now (its mtime is
    /// what the expiry counts from after a restart).
    fn touch(&self) {
        if let Some(p) = &self.path
            && let Ok(f) = std::fs::File::options().write(true).open(p)
        {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
    }
}

/// Writes `content` to `path` whole: a temporary file, synced, renamed.
fn save(content: &ZoneContent, path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    content.save(&mut f)?;
    f.flush()?;
    f.get_ref().sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// Reads the copy at `path`: the zone, its dataset and how long ago the
/// primary last confirmed it. `None` when there is none.
fn load_saved(
    path: &std::path::Path,
) -> std::io::Result<Option<(ZoneContent, fadelist_core::dataset::Dataset, Duration)>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let age = f
        .metadata()?
        .modified()?
        .elapsed()
        .unwrap_or(Duration::ZERO);
    let content = ZoneContent::load(&mut std::io::BufReader::new(f))?;
    let dataset = content.dataset();
    Ok(Some((content, dataset, age)))
}

/// What DNS serves of a copy.
fn followed_of(
    dataset: fadelist_core::dataset::Dataset,
    content: &ZoneContent,
    soa: &Soa,
) -> Followed {
    Followed {
        dataset: Arc::new(dataset),
        soa: soa.clone(),
        ns: content.ns.clone(),
        ns_ttl: content.ns_ttl,
    }
}

/// The copy of one followed zone.
struct Copy {
    content: ZoneContent,
    soa: Soa,
}

fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n)).clamp(MIN_TIMER, MAX_TIMER)
}

/// Follows `zone` from `primary` until `shutdown`, publishing through
/// `listings`; `notified` is woken by the primary's NOTIFY.
#[allow(clippy::too_many_arguments)]
pub async fn follow_loop(
    listings: Listings,
    board: Board,
    zone: String,
    primary: Primary,
    notified: Option<Arc<tokio::sync::Notify>>,
    saved: Option<std::path::PathBuf>,
    shutdown: CancellationToken,
) {
    info!(zone, primary = %primary.addr, signed = primary.key.is_some(), "following zone");
    board.update(&zone, |s| s.primary = primary.addr.to_string());
    let mut copy: Option<Copy> = None;
    // The SOA of the data DNS serves, while it serves some.
    let mut served: Option<Soa> = None;
    // The last successful check or transfer.
    let mut last_ok: Option<Instant> = None;
    let mut saver = Saver {
        path: saved,
        last: None,
        dirty: false,
    };
    // The copy saved before a restart is served at once, unless the
    // primary has not confirmed it for longer than its SOA expire.
    if let Some(path) = saver.path.clone() {
        let shown = path.display().to_string();
        match tokio::task::spawn_blocking(move || load_saved(&path)).await {
            Ok(Ok(Some((content, dataset, age)))) => match content.soa.clone() {
                Some(soa) if age < secs(soa.expire) => {
                    listings.set_followed(&zone, Some(followed_of(dataset, &content, &soa)));
                    info!(zone, serial = soa.serial, age_secs = age.as_secs(), file = %shown, "serving the saved copy until the primary answers");
                    board.update(&zone, |s| {
                        s.serving = true;
                        s.serial = Some(soa.serial);
                    });
                    last_ok = Instant::now().checked_sub(age);
                    saver.last = Some(Instant::now());
                    served = Some(soa.clone());
                    copy = Some(Copy { content, soa });
                }
                _ => {
                    warn!(zone, file = %shown, age_secs = age.as_secs(), "the saved copy is past its SOA expire time: not served")
                }
            },
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                warn!(zone, file = %shown, "cannot read the saved copy ({e}); transferring the zone")
            }
            Err(e) => warn!(zone, "reading the saved copy failed: {e}"),
        }
    }
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
                _ = shutdown.cancelled() => break,
                _ = woken => true,
                _ = tokio::time::sleep(wait) => false,
            };
            if by_notify {
                let gap = last_check.map_or(Duration::ZERO, |t| {
                    MIN_NOTIFY_GAP.saturating_sub(t.elapsed())
                });
                if !gap.is_zero() {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(gap) => {}
                    }
                }
                info!(zone, "NOTIFY from the primary: checking the SOA");
            }
        }
        last_check = Some(Instant::now());
        if shutdown.is_cancelled() {
            break;
        }
        let before = copy.as_ref().map(|c| c.soa.serial);
        match check(&listings, &zone, &primary, &mut copy, &mut saver).await {
            Ok(kind) => {
                if kind.is_none() {
                    saver.touch();
                }
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
        // What DNS serves (the copy, or, after an IXFR that did not
        // apply and a failed AXFR, still the last good data).
        if let Some(c) = &copy {
            served = Some(c.soa.clone());
        }
        wait = match &served {
            None => Duration::from_secs(1u64 << failures.min(6)).min(MAX_FIRST_RETRY),
            Some(s) if failures == 0 => secs(s.refresh),
            Some(s) => {
                let expire = secs(s.expire);
                let since = last_ok.map_or(expire, |t| t.elapsed());
                if since >= expire {
                    error!(
                        zone,
                        primary = %primary.addr,
                        expire_secs = expire.as_secs(),
                        "zone expired: no successful check within the SOA expire time; no longer served"
                    );
                    copy = None;
                    served = None;
                    listings.set_followed(&zone, None);
                    board.update(&zone, |s| {
                        s.serving = false;
                        s.serial = None;
                    });
                    Duration::from_secs(1)
                } else {
                    secs(s.retry).min(expire - since)
                }
            }
        };
    }
    // Changes not yet on disk (IXFRs within the last minute) are saved
    // before the process exits.
    if let (true, Some(c), Some(path)) = (saver.dirty, copy, saver.path.clone()) {
        let zone2 = zone.clone();
        let saved = tokio::task::spawn_blocking(move || save(&c.content, &path)).await;
        match saved {
            Ok(Ok(())) => info!(zone = zone2, "copy saved for the next start"),
            Ok(Err(e)) => warn!(zone = zone2, "cannot save the copy: {e}"),
            Err(e) => warn!(zone = zone2, "saving the copy failed: {e}"),
        }
    }
}

/// One check: the SOA, and a transfer when the primary has a newer serial
/// (or we have nothing yet).
async fn check(
    listings: &Listings,
    zone: &str,
    primary: &Primary,
    copy: &mut Option<Copy>,
    saver: &mut Saver,
) -> Result<Option<&'static str>, PullError> {
    let Some(have) = copy.as_ref().map(|c| c.soa.serial) else {
        let started = Instant::now();
        let pulled = follow::pull(primary, zone, None).await?;
        return install(listings, zone, copy, saver, pulled, None, started).await;
    };
    let theirs = follow::soa(primary, zone).await?;
    if !follow::serial_newer(theirs.serial, have) {
        return Ok(None);
    }
    let started = Instant::now();
    let pulled = match follow::pull(primary, zone, Some(have)).await {
        // An IXFR answer we cannot use (diffs that do not start at our
        // serial, a malformed stream): the whole zone instead, now.
        Err(PullError::Malformed(why)) => {
            warn!(
                zone,
                "unusable IXFR answer ({why}); transferring the whole zone"
            );
            *copy = None;
            let pulled = follow::pull(primary, zone, None).await?;
            return install(listings, zone, copy, saver, pulled, None, Instant::now()).await;
        }
        other => other?,
    };
    match install(listings, zone, copy, saver, pulled, Some(have), started).await {
        // The copy was given up (it is still served meanwhile): the
        // whole zone, now.
        Err(PullError::Apply(_)) => {
            let pulled = follow::pull(primary, zone, None).await?;
            install(listings, zone, copy, saver, pulled, None, Instant::now()).await
        }
        other => other,
    }
}

/// Applies what a pull brought and publishes the result.
async fn install(
    listings: &Listings,
    zone: &str,
    copy: &mut Option<Copy>,
    saver: &mut Saver,
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
    let save_to = saver.due(kind == "AXFR");
    let (dataset, content, saved) = tokio::task::spawn_blocking(move || {
        let ds = content.dataset();
        let saved = save_to.map(|p| (save(&content, &p), p));
        (ds, content, saved)
    })
    .await
    .map_err(|_| PullError::Malformed("building the dataset failed"))?;
    match saved {
        Some((Ok(()), _)) => {
            saver.last = Some(Instant::now());
            saver.dirty = false;
        }
        Some((Err(e), p)) => {
            saver.dirty = true;
            warn!(zone, file = %p.display(), "cannot save the copy (a restart will transfer the zone again): {e}");
        }
        None => saver.dirty = true,
    }
    listings.set_followed(zone, Some(followed_of(dataset, &content, &soa)));
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
