//! Lookups: why is this IP or domain listed, since when, until when.
//!
//! `GET /api/v1/lookup/{key}` answers JSON; `GET /lookup?q=` renders the
//! same [`LookupResult`] as an HTML page. The DNS status comes from the
//! published snapshot (exactly what resolvers get), the history from the
//! store's read side: typed listing events and evidence columns, in one
//! read transaction per lookup, every query bounded by a row limit (a key
//! with a million reports answers as fast as one with ten). Reporter
//! identities are never shown, and e-mail addresses in subjects are
//! redacted (they are often the trap or recipient address).

use std::net::IpAddr;
use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fadelist_core::policy::Policy;
use fadelist_core::qname;
use fadelist_core::snapshot::{Resolution, Snapshot, expand_txt};
use fadelist_store::{EventKind, Read as _, Snapshot as StoreView};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::chart::{Chart, HISTORY_HOURS, chart, history, utc, window_start};
use crate::config::Feed;
use crate::error::{HttpError, render};
use crate::input::{Asked, UserKey, parse_key};

/// Reports shown per table (latest, and earlier than a removal).
pub(crate) const EVIDENCE_SHOWN: usize = 5;

/// Listing events read per key and zone (the newest).
const EVENTS_READ: usize = 500;

/// Reports replayed for the chart at most: the newest in its window. A key
/// reported more often than that in three days is far above the threshold
/// anyway (each reporter's share is capped), so the line looks the same.
const REPLAY_LIMIT: usize = 2_000;

/// Half-lives before the chart's window from which reports are replayed:
/// a report older than that has decayed to 1/256 of its weight.
pub(crate) const REPLAY_HALF_LIVES: f64 = 8.0;

/// Reports since a removal are counted up to this.
const COUNT_CAP: usize = 10_000;

/// One zone's view of the key.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneLookup {
    /// Zone name.
    pub zone: String,
    /// What the zone lists (`ip`, `bulk-ip`, `domain`), if report-fed.
    pub feed: Option<String>,
    /// What a listing of this key in this zone means, if report-fed
    /// (an address in the content zone is advertised, not a sender).
    pub role: Option<&'static str>,
    /// The name resolvers ask.
    pub query_name: String,
    /// Listed now (as DNS answers).
    pub listed: bool,
    /// A values answered.
    pub return_codes: Vec<String>,
    /// TXT reasons answered.
    pub reasons: Vec<String>,
    /// Category of the report-fed listing.
    pub category: Option<String>,
    /// First report, Unix seconds.
    pub first_seen: Option<i64>,
    /// Latest report.
    pub last_seen: Option<i64>,
    /// Current listing started.
    pub listed_since: Option<i64>,
    /// Projected automatic delisting if no new report arrives.
    pub expires_at: Option<i64>,
    /// Reports counted.
    pub reports: i64,
    /// Distinct reporters (never their identities).
    pub reporters: i64,
    /// Current score and the thresholds it is compared with.
    pub score: f64,
    /// Listing threshold.
    pub list_threshold: f64,
    /// Delisting threshold.
    pub delist_threshold: f64,
    /// The latest reports.
    pub evidence: Vec<EvidenceView>,
    /// (Unix seconds, score) for the chart: samples from `history_from`
    /// to now, plus a point on each side of every report and removal in
    /// that time, so steps show where they happened.
    pub history: Vec<(i64, f64)>,
    /// Start of `history`: 72 hours ago, or later when everything that
    /// happened in that time is recent (the chart zooms in on it).
    pub history_from: i64,
    /// Listings and removals of the key, oldest first (typed listing events).
    pub listing_history: Vec<ListingChange>,
    /// Reports that still count: those since the latest removal (a
    /// removal discards the evidence collected until then), counted up to
    /// 10,000 after a removal.
    pub reports_counting: i64,
}

/// What happened to a key's listing, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ListingChange {
    /// Unix seconds.
    pub at: i64,
    /// What happened.
    pub change: ChangeKind,
}

/// A listing or the end of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// Listed by reports.
    Listed,
    /// Listed by reports again within the repeat window.
    Relisted,
    /// Removed by the self-service delisting form or API.
    RemovedSelfService,
    /// Removed after a person approved a delisting request.
    RemovedReview,
    /// Removed by an operator.
    RemovedOperator,
    /// Delisted by itself: the score decayed below the threshold.
    Expired,
    /// Delisted because a reporter that helped list it was reverted (its
    /// reports found bogus and withdrawn), and the other reports would not
    /// list it. Those other reports keep counting.
    ReporterReverted,
    /// Delisted because a reporter withdrew its report of a message ("not
    /// spam": a user moved it back out of Junk), and the other reports
    /// would not list it. Those other reports keep counting.
    ReportWithdrawn,
}

impl ChangeKind {
    /// A removal discards the key's evidence: older reports stop counting.
    pub fn discards_evidence(self) -> bool {
        matches!(
            self,
            ChangeKind::RemovedSelfService
                | ChangeKind::RemovedReview
                | ChangeKind::RemovedOperator
        )
    }

    /// How the listing ended, as a phrase for "… on `<date>`".
    pub fn phrase(self) -> &'static str {
        match self {
            ChangeKind::Listed => "listed",
            ChangeKind::Relisted => "listed again (a repeat offender)",
            ChangeKind::RemovedSelfService => "removed by self-service delisting",
            ChangeKind::RemovedReview => "removed after review of a delisting request",
            ChangeKind::RemovedOperator => "removed by the operator",
            ChangeKind::Expired => "expired: the score decayed below the delisting threshold",
            ChangeKind::ReporterReverted => {
                "delisted because a reporter was reverted: its reports were withdrawn, and the remaining ones do not list it"
            }
            ChangeKind::ReportWithdrawn => {
                "delisted because a reporter withdrew a report (not spam), and the remaining ones do not list it"
            }
        }
    }

    /// True for the start of a listing.
    pub fn is_listing(self) -> bool {
        matches!(self, ChangeKind::Listed | ChangeKind::Relisted)
    }

    /// What a stored listing event means for the report-fed listing
    /// (manual listings have their own lines and are not drawn).
    pub fn of(kind: EventKind) -> Option<ChangeKind> {
        match kind {
            EventKind::Listed => Some(ChangeKind::Listed),
            EventKind::Relisted => Some(ChangeKind::Relisted),
            EventKind::DelistedDecay => Some(ChangeKind::Expired),
            EventKind::DelistedSelfService => Some(ChangeKind::RemovedSelfService),
            EventKind::DelistedReview => Some(ChangeKind::RemovedReview),
            EventKind::DelistedOperator => Some(ChangeKind::RemovedOperator),
            EventKind::DelistedRevert => Some(ChangeKind::ReporterReverted),
            EventKind::DelistedCorrection => Some(ChangeKind::ReportWithdrawn),
            EventKind::ManualListed | EventKind::ManualExpired => None,
        }
    }
}

/// One report as shown publicly.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceView {
    /// When it was reported.
    pub at: i64,
    /// Subject with e-mail addresses redacted.
    pub subject: String,
    /// spam, phishing, malware or newsletter.
    pub category: String,
    /// The source found in the Received chain, e.g. `192.0.2.1 (Received hop 2)`.
    pub source: String,
    /// Reported before the key's latest removal: it no longer counts.
    pub before_removal: bool,
}

/// The lookup of one IP or domain.
#[derive(Debug, Clone, Serialize)]
pub struct LookupResult {
    /// As asked.
    pub query: String,
    /// The listing key (IP, IPv6 /64 or registered domain).
    pub key: String,
    /// `ipv4`, `ipv6` or `domain`.
    pub kind: &'static str,
    /// Why this key can never be listed, if so.
    pub never_listed: Option<String>,
    /// Per zone.
    pub zones: Vec<ZoneLookup>,
    /// When the lookup was made, Unix seconds (the end of the history).
    pub checked_at: i64,
}

/// Replaces anything that looks like an e-mail address.
pub fn redact(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|w| {
            let core = w.trim_end();
            if core.contains('@') && core.len() > 2 {
                w.replacen(core, "[address]", 1)
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// The query name for `key` in `zone` (what a resolver asks).
fn query_name(asked: &Asked, zone: &str) -> String {
    match asked {
        Asked::Ip(IpAddr::V4(v4)) => format!("{}.{zone}", qname::v4_query_name(*v4)),
        Asked::Ip(IpAddr::V6(v6)) => format!("{}.{zone}", qname::v6_query_name(*v6)),
        Asked::Host(host) => format!("{host}.{zone}"),
    }
}

/// Looks `q` up in every zone.
pub async fn lookup(app: &Arc<App>, q: &str) -> Result<LookupResult, HttpError> {
    let user =
        parse_key(q).map_err(|e| HttpError::new(StatusCode::BAD_REQUEST, "bad_query", e.0))?;
    let snapshot = app.listings.publisher().snapshot();
    let now = crate::clock::unix_now() as i64;
    let rules = app.listings.rules();
    // What DNS answers, zone by zone, from the published snapshot.
    let mut zones: Vec<ZoneLookup> = Vec::new();
    for zone in &snapshot.zones {
        let feed = rules.feed_of(zone.name());
        // Domains are not asked in IP zones (the content zone takes both:
        // domains, and addresses written as link hosts), unless the zone
        // also serves files (then anything may match).
        let fits = |f: Feed| f == Feed::Domain || !matches!(user.asked, Asked::Host(_));
        if let Some(f) = feed
            && zone.datasets.len() <= 1
            && !fits(f)
        {
            continue;
        }
        zones.push(dns_view(
            &snapshot,
            zone.name(),
            feed,
            &user,
            rules.policy(zone.name()),
            now,
        ));
    }
    // The history of the report-fed zones, in one read transaction.
    let (key, rules_c, asked_ip) = (
        user.key.to_string(),
        rules.clone(),
        match user.asked {
            Asked::Ip(ip) => Some(ip),
            Asked::Host(_) => None,
        },
    );
    let fed: Vec<String> = zones
        .iter()
        .filter(|z| z.feed.is_some())
        .map(|z| z.zone.clone())
        .collect();
    let user_key = user.key.clone();
    let (never_listed, stored) = app
        .reads
        .read(move |r| {
            r.consistent(|v| {
                let never = v.never_list()?;
                let why = rules_c.key_never(&user_key, asked_ip, &never);
                let stored = fed
                    .iter()
                    .map(|z| Ok((z.clone(), stored_view(v, z, &key, rules_c.policy(z), now)?)))
                    .collect::<fadelist_store::Result<Vec<_>>>()?;
                Ok((why, stored))
            })
        })
        .await?;
    for (zone, s) in stored {
        if let Some(z) = zones.iter_mut().find(|z| z.zone == zone) {
            s.fill(z);
        }
    }
    Ok(LookupResult {
        query: q.trim().to_string(),
        key: user.key.to_string(),
        kind: user.kind(),
        never_listed,
        zones,
        checked_at: now,
    })
}

/// A zone's view of the key as DNS answers it now.
fn dns_view(
    snapshot: &Snapshot,
    zone: &str,
    feed: Option<Feed>,
    user: &UserKey,
    policy: &Policy,
    now: i64,
) -> ZoneLookup {
    let name = query_name(&user.asked, zone);
    let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
    let mut z = ZoneLookup {
        zone: zone.to_string(),
        feed: feed.map(|f| format!("{f:?}")),
        role: feed.map(|f| match (f, &user.asked) {
            (Feed::Ip, _) => "sources of reported spam: the address that handed the mail to the reporter's servers",
            (Feed::BulkIp, _) => "sources of reported bulk mail (newsletters): the address that handed the mail to the reporter's servers",
            (Feed::Domain, Asked::Ip(_)) => "addresses advertised in reported spam (written as the host of a link): this says nothing about mail sent from the address",
            (Feed::Domain, Asked::Host(_)) => "domains advertised in reported spam (in its links), and their subdomains",
        }),
        query_name: name.clone(),
        listed: false,
        return_codes: Vec::new(),
        reasons: Vec::new(),
        category: None,
        first_seen: None,
        last_seen: None,
        listed_since: None,
        expires_at: None,
        reports: 0,
        reporters: 0,
        score: 0.0,
        list_threshold: policy.list_threshold,
        delist_threshold: policy.delist_threshold,
        evidence: Vec::new(),
        history: Vec::new(),
        history_from: now - HISTORY_HOURS * 3600,
        listing_history: Vec::new(),
        reports_counting: 0,
    };
    if let Resolution::Listed {
        hits, rel_labels, ..
    } = snapshot.resolve(&labels)
    {
        z.listed = true;
        for h in hits.iter() {
            for a in h.answer.a.iter() {
                let a = a.to_string();
                if !z.return_codes.contains(&a) {
                    z.return_codes.push(a);
                }
            }
            // The TXT records exactly as DNS answers them: `$` expanded,
            // each text once.
            for t in h.answer.txt.iter() {
                let mut text = String::new();
                expand_txt(t, h.subject, &labels[..rel_labels], &mut text);
                if !z.reasons.contains(&text) {
                    z.reasons.push(text);
                }
            }
        }
    }
    z
}

/// What the store knows of a key in one report-fed zone.
struct StoredView {
    row: Option<fadelist_store::ListingRow>,
    score: f64,
    expires_at: Option<i64>,
    reporters: i64,
    changes: Vec<ListingChange>,
    reports_counting: i64,
    history: Vec<(i64, f64)>,
    history_from: i64,
    evidence: Vec<EvidenceView>,
}

/// Reads the store's view of `key` in `zone`: every query bounded.
fn stored_view(
    v: &StoreView<'_>,
    zone: &str,
    key: &str,
    policy: &Policy,
    now: i64,
) -> fadelist_store::Result<StoredView> {
    let row = v.listing(zone, key)?;
    let state = v.key_state(zone, key)?;
    let changes: Vec<ListingChange> = v
        .listing_events(zone, key, EVENTS_READ)?
        .into_iter()
        .filter_map(|e| ChangeKind::of(e.kind).map(|change| ListingChange { at: e.at, change }))
        .collect();
    let resets: Vec<i64> = changes
        .iter()
        .filter(|c| c.change.discards_evidence())
        .map(|c| c.at)
        .collect();
    let last_reset = resets.last().copied();
    // Without a removal every report counts: the writer's summary says how
    // many. After one, count the reports since (bounded).
    let reports_counting = match last_reset {
        Some(at) => v.reports_after(zone, key, at, COUNT_CAP)?,
        None => row.as_ref().map_or(0, |r| r.report_count),
    };
    // Reports from before the chart's window still count at its start,
    // decayed: replay from a few half-lives earlier.
    let window = now - HISTORY_HOURS * 3600;
    let lookback = (policy.half_life * REPLAY_HALF_LIVES) as i64;
    let (events, _) = v.report_events(zone, key, window.saturating_sub(lookback), REPLAY_LIMIT)?;
    let full = history(policy, &events, &resets, window, now);
    let from = window_start(&full, &changes, window, now);
    let history = if from == window {
        full
    } else {
        history(policy, &events, &resets, from, now)
    };
    let evidence = v
        .evidence(zone, key, 2 * EVIDENCE_SHOWN)?
        .into_iter()
        .map(|e| EvidenceView {
            at: e.received_at,
            subject: redact(e.subject.as_deref().unwrap_or("(no subject)")),
            category: e.category,
            source: match (e.source_ip, e.source_hop) {
                (Some(ip), Some(hop)) => format!("{ip} (Received hop {hop})"),
                _ => "no source IP".to_string(),
            },
            before_removal: last_reset.is_some_and(|r| e.received_at <= r),
        })
        .collect();
    Ok(StoredView {
        score: state
            .as_ref()
            .map_or(0.0, |s| (policy.score(s, now) * 1000.0).round() / 1000.0),
        expires_at: state
            .as_ref()
            .filter(|s| s.listed_since.is_some())
            .map(|s| policy.expires_at(s, now)),
        reporters: v.reporter_count(zone, key)?,
        row,
        changes,
        reports_counting,
        history,
        history_from: from,
        evidence,
    })
}

impl StoredView {
    fn fill(self, z: &mut ZoneLookup) {
        if let Some(row) = self.row {
            z.category = Some(row.category);
            z.first_seen = Some(row.first_seen);
            z.last_seen = Some(row.last_seen);
            z.listed_since = row.listed_since;
            z.reports = row.report_count;
        }
        z.score = self.score;
        z.expires_at = self.expires_at;
        z.reporters = self.reporters;
        z.listing_history = self.changes;
        z.reports_counting = self.reports_counting;
        z.history = self.history;
        z.history_from = self.history_from;
        z.evidence = self.evidence;
    }
}

/// `GET /api/v1/lookup/{key}`.
pub async fn api_lookup(
    State(app): State<Arc<App>>,
    Path(q): Path<String>,
) -> Result<Json<LookupResult>, HttpError> {
    Ok(Json(lookup(&app, &q).await?))
}

/// Query string of `/lookup`.
#[derive(Debug, Deserialize)]
pub struct LookupParams {
    /// IP or domain.
    pub q: Option<String>,
}

/// The HTML lookup page.
#[derive(Template)]
#[template(path = "lookup.html")]
struct LookupPage<'a> {
    q: &'a str,
    error: Option<String>,
    result: Option<LookupResult>,
    now: i64,
}

impl LookupPage<'_> {
    fn when(&self, t: &Option<i64>) -> String {
        t.map(utc).unwrap_or_else(|| "—".into())
    }
    fn at(&self, t: &i64) -> String {
        utc(*t)
    }
    fn chart(&self, z: &ZoneLookup, n: &usize) -> Chart {
        chart(z, self.now, *n)
    }
    /// Whether there is anything to draw: a score or a listing change in
    /// the window.
    fn has_chart(&self, z: &ZoneLookup) -> bool {
        let start = z.history_from;
        z.history.iter().any(|p| p.1 > 0.0) || z.listing_history.iter().any(|c| c.at >= start)
    }
    /// How the latest listing ended, when the key is not listed now.
    fn ended(&self, z: &ZoneLookup) -> Option<ListingChange> {
        if z.listed {
            return None;
        }
        z.listing_history
            .last()
            .copied()
            .filter(|c| c.change != ChangeKind::Listed)
    }
    /// The latest removal that discarded the evidence.
    fn last_removal(&self, z: &ZoneLookup) -> Option<ListingChange> {
        z.listing_history
            .iter()
            .rev()
            .find(|c| c.change.discards_evidence())
            .copied()
    }
    fn latest<'z>(&self, z: &'z ZoneLookup) -> Vec<&'z EvidenceView> {
        z.evidence
            .iter()
            .filter(|e| !e.before_removal)
            .take(EVIDENCE_SHOWN)
            .collect()
    }
    fn earlier<'z>(&self, z: &'z ZoneLookup) -> Vec<&'z EvidenceView> {
        z.evidence
            .iter()
            .filter(|e| e.before_removal)
            .take(EVIDENCE_SHOWN)
            .collect()
    }
    fn plural(&self, n: &i64, one: &str, many: &str) -> String {
        format!("{n} {}", if *n == 1 { one } else { many })
    }
    /// `text` cut after each `.`, `:` and `/`: the template puts a line
    /// break opportunity (`<wbr>`) after each piece, so addresses wrap at
    /// their dots, not in the middle of a number.
    fn breakable<'t>(&self, text: &'t str) -> Vec<&'t str> {
        text.split_inclusive(['.', ':', '/']).collect()
    }
    fn kind_name(&self, kind: &str) -> &'static str {
        match kind {
            "ipv4" => "IPv4 address",
            "ipv6" => "IPv6 network",
            _ => "domain",
        }
    }
}

/// `GET /lookup?q=`: a query that is not a key is shown in the form
/// (400); a store failure is the error page (503).
pub async fn page_lookup(State(app): State<Arc<App>>, Query(p): Query<LookupParams>) -> Response {
    let q = p.q.unwrap_or_default();
    let (status, error, result) = if q.trim().is_empty() {
        (StatusCode::OK, None, None)
    } else {
        match lookup(&app, &q).await {
            Ok(r) => (StatusCode::OK, None, Some(r)),
            Err(e) if e.code == "bad_query" => (e.status, Some(e.message), None),
            Err(e) => return e.page().into_response(),
        }
    };
    let page = LookupPage {
        q: &q,
        error,
        now: result
            .as_ref()
            .map_or_else(|| crate::clock::unix_now() as i64, |r| r.checked_at),
        result,
    };
    render(&page, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        assert_eq!(
            redact("Hi trap@example.org, buy now"),
            "Hi [address] buy now"
        );
        assert_eq!(redact("no address here"), "no address here");
    }

    #[test]
    fn every_event_kind_has_its_meaning_for_the_page() {
        let meaning: Vec<(EventKind, Option<ChangeKind>)> = EventKind::ALL
            .into_iter()
            .map(|k| (k, ChangeKind::of(k)))
            .collect();
        assert_eq!(
            meaning,
            vec![
                (EventKind::Listed, Some(ChangeKind::Listed)),
                (EventKind::Relisted, Some(ChangeKind::Relisted)),
                (EventKind::DelistedDecay, Some(ChangeKind::Expired)),
                (
                    EventKind::DelistedSelfService,
                    Some(ChangeKind::RemovedSelfService)
                ),
                (EventKind::DelistedReview, Some(ChangeKind::RemovedReview)),
                (
                    EventKind::DelistedOperator,
                    Some(ChangeKind::RemovedOperator)
                ),
                (
                    EventKind::DelistedRevert,
                    Some(ChangeKind::ReporterReverted)
                ),
                (
                    EventKind::DelistedCorrection,
                    Some(ChangeKind::ReportWithdrawn)
                ),
                (EventKind::ManualListed, None),
                (EventKind::ManualExpired, None),
            ]
        );
        assert!(ChangeKind::RemovedSelfService.discards_evidence());
        assert!(!ChangeKind::Expired.discards_evidence());
        // A revert withdraws one reporter's reports, not the others'.
        assert!(!ChangeKind::ReporterReverted.discards_evidence());
        assert!(!ChangeKind::ReportWithdrawn.discards_evidence());
        assert!(ChangeKind::Relisted.is_listing() && !ChangeKind::Expired.is_listing());
    }

    #[test]
    fn the_chart_escapes_and_marks_removals() {
        let now = 100 * 3600;
        let z = ZoneLookup {
            zone: "iprbl.test".into(),
            feed: Some("Ip".into()),
            role: None,
            query_name: "<b>x</b>.iprbl.test".into(),
            listed: false,
            return_codes: Vec::new(),
            reasons: Vec::new(),
            category: Some("spam".into()),
            first_seen: Some(now - 600),
            last_seen: Some(now - 600),
            listed_since: None,
            expires_at: None,
            reports: 2,
            reporters: 2,
            score: 0.0,
            list_threshold: 1.5,
            delist_threshold: 0.5,
            evidence: Vec::new(),
            history: history(
                &Policy::default(),
                &[
                    fadelist_store::ReportEvent {
                        at: now - 600,
                        reporter: 1,
                        weight: 1.0,
                    },
                    fadelist_store::ReportEvent {
                        at: now - 600,
                        reporter: 2,
                        weight: 1.0,
                    },
                ],
                &[now - 300],
                now - 900,
                now,
            ),
            history_from: now - 900,
            listing_history: vec![
                ListingChange {
                    at: now - 600,
                    change: ChangeKind::Listed,
                },
                ListingChange {
                    at: now - 300,
                    change: ChangeKind::RemovedSelfService,
                },
            ],
            reports_counting: 0,
        };
        let c = chart(&z, now, 1);
        assert_eq!(c.markers.len(), 1);
        assert_eq!(c.listed.len(), 1);
        assert!(
            c.desc.contains("Removed by self-service delisting on"),
            "{}",
            c.desc
        );
        assert!(
            c.points.ends_with(&format!("{},{}", c.right, c.bottom)),
            "{}",
            c.points
        );
        let page = LookupPage {
            q: "x",
            error: None,
            result: Some(LookupResult {
                query: "x".into(),
                key: "x".into(),
                kind: "domain",
                never_listed: None,
                zones: vec![z],
                checked_at: now,
            }),
            now,
        }
        .render()
        .expect("render");
        assert!(!page.contains("<b>x"), "escaped");
        assert!(
            page.contains("&#60;b&#62;x") || page.contains("&lt;b&gt;x"),
            "{page}"
        );
        assert!(page.contains("role=\"img\""));
        assert!(
            page.contains("removed by self-service delisting on"),
            "{page}"
        );
    }
}
