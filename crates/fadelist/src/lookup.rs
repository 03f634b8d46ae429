//! Lookups: why is this IP or domain listed, since when, until when.
//!
//! `GET /api/v1/lookup/{key}` answers JSON; `GET /lookup?q=` renders the
//! same [`LookupResult`] as an HTML page. The DNS status comes from the
//! published snapshot (exactly what resolvers get), the history from the
//! store. Reporter identities are never shown, and e-mail addresses in
//! subjects are redacted (they are often the trap or recipient address).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use fadelist_core::keys::ListingKey;
use fadelist_core::policy::{KeyState, Policy};
use fadelist_core::qname;
use fadelist_core::snapshot::{Resolution, expand_txt};
use serde::{Deserialize, Serialize};

use crate::config::Feed;
use crate::pipeline::App;

/// Hours of score history drawn on the lookup page.
const HISTORY_HOURS: i64 = 72;

/// Samples of the score drawn between the start of the chart and now.
const SAMPLES: i64 = 72;

/// The time spans a chart can cover, seconds: the shortest that shows all
/// recent activity with room to spare (a listing and removal minutes apart
/// are invisible on three days).
const SPANS: [i64; 12] = [
    60,
    180,
    360,
    900,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    24 * 3600,
    48 * 3600,
    HISTORY_HOURS * 3600,
];

/// Reports shown per table (latest, and earlier than a removal).
const EVIDENCE_SHOWN: usize = 5;

/// One zone's view of the key.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneLookup {
    /// Zone name.
    pub zone: String,
    /// What the zone lists (`ip`, `bulk-ip`, `domain`), if report-fed.
    pub feed: Option<String>,
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
    /// Listings and removals of the key, oldest first (from the audit log).
    pub listing_history: Vec<ListingChange>,
    /// Reports that still count: those since the latest removal (a
    /// removal discards the evidence collected until then).
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
    /// Removed by the self-service delisting form or API.
    RemovedSelfService,
    /// Removed after a person approved a delisting request.
    RemovedReview,
    /// Removed by an operator.
    RemovedOperator,
    /// Delisted by itself: the score decayed below the threshold.
    Expired,
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
            ChangeKind::RemovedSelfService => "removed by self-service delisting",
            ChangeKind::RemovedReview => "removed after review of a delisting request",
            ChangeKind::RemovedOperator => "removed by the operator",
            ChangeKind::Expired => "expired: the score decayed below the delisting threshold",
        }
    }

    /// Reads an audit log entry of the key (the store writes these).
    fn from_audit(action: &str, reason: &str) -> Option<ChangeKind> {
        match action {
            "listed" => Some(ChangeKind::Listed),
            "delisted" if reason.starts_with("self-service removal") => {
                Some(ChangeKind::RemovedSelfService)
            }
            "delisted" if reason.starts_with("request #") && reason.contains(" approved by ") => {
                Some(ChangeKind::RemovedReview)
            }
            "delisted" if reason.starts_with("removed by ") => Some(ChangeKind::RemovedOperator),
            "delisted" if reason.starts_with("score decayed") => Some(ChangeKind::Expired),
            // Manual listings expiring, and anything else, leave the
            // report-fed listing alone.
            _ => None,
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
    /// spam, phishing or malware.
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
fn query_name(query: &Parsed, zone: &str) -> String {
    match query {
        Parsed::Ip(IpAddr::V4(v4)) => format!("{}.{zone}", qname::v4_query_name(*v4)),
        Parsed::Ip(IpAddr::V6(v6)) => format!("{}.{zone}", qname::v6_query_name(*v6)),
        Parsed::Domain { host, .. } => format!("{host}.{zone}"),
    }
}

enum Parsed {
    Ip(IpAddr),
    Domain { host: String, registered: String },
}

fn parse_query(q: &str) -> Result<Parsed, String> {
    let q = q.trim();
    if q.is_empty() {
        return Err("Enter an IPv4 address, an IPv6 address or a domain name.".into());
    }
    if let Ok(ip) = q.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
        return Ok(Parsed::Ip(ip));
    }
    let host = q.trim_end_matches('.').to_ascii_lowercase();
    let host = host
        .strip_prefix("http://")
        .or_else(|| host.strip_prefix("https://"))
        .map(|h| {
            h.split(['/', '?', '#', ':'])
                .next()
                .unwrap_or(h)
                .to_string()
        })
        .unwrap_or(host.clone());
    match fadelist_ingest::uris::registered_domain(&host) {
        Ok(registered) => Ok(Parsed::Domain { host, registered }),
        Err(why) => Err(format!(
            "{q:?} is neither an IP address nor a domain name ({why}); try e.g. 192.0.2.1, 2001:db8::1 or example.com"
        )),
    }
}

/// Replays the reports against a key to draw its score over time.
///
/// `events` are the key's reports (time, reporter, weight), oldest first;
/// `resets` the times of removals, which discard every contribution made
/// until then (a report in the same second as a removal counts as before
/// it). Returns [`SAMPLES`] + 1 samples from `start` to `now` and, for
/// every report and removal in that time, the score just before and just
/// after it, so the line steps up and drops where they happened.
fn history(
    policy: &Policy,
    events: &[(i64, i64, f64)],
    resets: &[i64],
    start: i64,
    now: i64,
) -> Vec<(i64, f64)> {
    enum Step {
        Report(i64, f64),
        Reset,
        Sample,
    }
    // (time, order within the same second, step): reports, then removals,
    // then the sample.
    let mut steps: Vec<(i64, u8, Step)> = Vec::new();
    steps.extend(events.iter().map(|&(at, r, w)| (at, 0, Step::Report(r, w))));
    steps.extend(resets.iter().map(|&at| (at, 1, Step::Reset)));
    let span = (now - start).max(0);
    steps.extend((0..=SAMPLES).map(|i| (start + span * i / SAMPLES, 2, Step::Sample)));
    // Stable: reports keep their order within one second.
    steps.sort_by_key(|(at, order, _)| (*at, *order));
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let mut state = KeyState::default();
    let mut out: Vec<(i64, f64)> = Vec::new();
    let push = |out: &mut Vec<(i64, f64)>, t: i64, v: f64| {
        let p = (t, round(v));
        if out.last() != Some(&p) {
            out.push(p);
        }
    };
    let mut steps = steps.into_iter().peekable();
    while let Some((at, _, step)) = steps.next() {
        if at > now {
            break;
        }
        let shown = at >= start;
        if shown {
            push(&mut out, at, policy.score(&state, at));
        }
        // Everything in the same second is one step of the line.
        let mut step = Some(step);
        while let Some(s) = step.take() {
            match s {
                Step::Report(reporter, weight) => {
                    policy.add_report(&mut state, reporter, weight, at);
                }
                Step::Reset => {
                    // The peak before a removal shows even when the reports
                    // came in the same second.
                    if shown {
                        push(&mut out, at, policy.score(&state, at));
                    }
                    state.contributions.clear();
                }
                Step::Sample => {}
            }
            step = steps.next_if(|n| n.0 == at).map(|n| n.2);
        }
        if shown {
            push(&mut out, at, policy.score(&state, at));
        }
    }
    out
}

/// Where the chart starts: `start` (72 hours ago) when the score was
/// already above zero then, else the shortest of [`SPANS`] that holds the
/// first score or listing change after `start` one and a half times over.
fn window_start(full: &[(i64, f64)], changes: &[ListingChange], start: i64, now: i64) -> i64 {
    if full.first().is_some_and(|p| p.1 > 0.0) {
        return start;
    }
    let first_score = full.iter().find(|p| p.1 > 0.0).map(|p| p.0);
    let first_change = changes.iter().map(|c| c.at).find(|&t| t >= start);
    let Some(first) = first_score.into_iter().chain(first_change).min() else {
        return start;
    };
    let wanted = (now - first).max(0) * 3 / 2;
    let span = SPANS
        .iter()
        .copied()
        .find(|&s| s >= wanted)
        .unwrap_or(now - start);
    (now - span).max(start)
}

/// "5 min", "3 h", "40 s": a time span as axis labels say it.
fn short_span(secs: i64) -> String {
    if secs >= 3600 && secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// "72 hours", "3 minutes", "minute": a time span for "over the last …".
fn long_span(secs: i64) -> String {
    let (n, unit) = if secs >= 3600 && secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs >= 60 && secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        unit.to_string()
    } else {
        format!("{n} {unit}s")
    }
}

/// The key's listings and removals from its audit entries, oldest first.
fn listing_changes(audit: &[fadelist_store::AuditEntry]) -> Vec<ListingChange> {
    // The store answers newest first: reversed, same-second entries keep
    // the order they were written in through the stable sort.
    let mut v: Vec<ListingChange> = audit
        .iter()
        .rev()
        .filter_map(|e| {
            ChangeKind::from_audit(&e.action, &e.reason)
                .map(|change| ListingChange { at: e.at, change })
        })
        .collect();
    v.sort_by_key(|c| c.at);
    v
}

/// Looks `q` up in every zone.
pub async fn lookup(app: &Arc<App>, q: &str) -> Result<LookupResult, String> {
    let parsed = parse_query(q)?;
    let (key, kind) = match &parsed {
        Parsed::Ip(ip) => {
            let k = ListingKey::for_ip(*ip);
            (
                k.clone(),
                if matches!(k, ListingKey::V4(_)) {
                    "ipv4"
                } else {
                    "ipv6"
                },
            )
        }
        Parsed::Domain { registered, .. } => (ListingKey::Domain(registered.clone()), "domain"),
    };
    let store_never: Vec<(String, String)> = app
        .store
        .call(|s| s.never_list())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(e, r, _)| (e, r))
        .collect();
    let never_listed = match &parsed {
        Parsed::Ip(ip) => app.ip_never(*ip, &store_never),
        Parsed::Domain { registered, .. } => {
            if fadelist_ingest::uris::BUILTIN_NEVER_LIST.contains(&registered.as_str()) {
                Some("a big mailbox or web provider: never listed".into())
            } else {
                app.domain_never(registered, &store_never)
            }
        }
    };
    let snapshot = app.publisher.snapshot();
    let now = crate::clock::unix_now() as i64;
    let mut zones = Vec::new();
    for zone in &snapshot.zones {
        let feed = app.feed_of(zone.name());
        // IP keys are not asked in domain zones and the other way round,
        // unless the zone also serves files (then anything may match).
        let is_domain = matches!(parsed, Parsed::Domain { .. });
        if let Some(f) = feed
            && zone.datasets.len() <= 1
            && (f == Feed::Domain) != is_domain
        {
            continue;
        }
        let name = query_name(&parsed, zone.name());
        let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
        let mut z = ZoneLookup {
            zone: zone.name().to_string(),
            feed: feed.map(|f| format!("{f:?}")),
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
            list_threshold: app.policy(zone.name()).list_threshold,
            delist_threshold: app.policy(zone.name()).delist_threshold,
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
        if feed.is_some() {
            let (zn, k) = (zone.name().to_string(), key.to_string());
            let policy = app.policy(zone.name()).clone();
            let info = app
                .store
                .call(move |s| -> fadelist_store::Result<_> {
                    let audit = s.audit_query(&fadelist_store::AuditFilter {
                        key: Some(k.clone()),
                        zone: Some(zn.clone()),
                        limit: 500,
                        ..fadelist_store::AuditFilter::default()
                    })?;
                    Ok((
                        s.listing(&zn, &k)?,
                        s.key_state(&zn, &k)?,
                        s.evidence(&zn, &k, 2 * EVIDENCE_SHOWN)?,
                        s.report_events(&zn, &k)?,
                        s.reporter_count(&zn, &k)?,
                        audit,
                    ))
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let (row, state, evidence, events, reporters, audit) = info;
            if let Some(row) = row {
                z.category = Some(row.category);
                z.first_seen = Some(row.first_seen);
                z.last_seen = Some(row.last_seen);
                z.listed_since = row.listed_since;
                z.reports = row.report_count;
            }
            if let Some(state) = state {
                z.score = (policy.score(&state, now) * 1000.0).round() / 1000.0;
                if state.listed_since.is_some() {
                    z.expires_at = Some(policy.expires_at(&state, now));
                }
            }
            z.reporters = reporters;
            z.listing_history = listing_changes(&audit);
            let resets: Vec<i64> = z
                .listing_history
                .iter()
                .filter(|c| c.change.discards_evidence())
                .map(|c| c.at)
                .collect();
            let last_reset = resets.last().copied();
            z.reports_counting = events
                .iter()
                .filter(|e| last_reset.is_none_or(|r| e.0 > r))
                .count() as i64;
            let full = history(&policy, &events, &resets, z.history_from, now);
            let from = window_start(&full, &z.listing_history, z.history_from, now);
            z.history = if from == z.history_from {
                full
            } else {
                history(&policy, &events, &resets, from, now)
            };
            z.history_from = from;
            z.evidence = evidence
                .into_iter()
                .map(|e| {
                    let outcome: serde_json::Value =
                        serde_json::from_str(&e.outcome).unwrap_or_default();
                    let src = &outcome["extracted"]["source"];
                    let source = match (src["ip"].as_str(), src["received_hop"].as_u64()) {
                        (Some(ip), Some(hop)) => format!("{ip} (Received hop {hop})"),
                        _ => "no source IP".to_string(),
                    };
                    EvidenceView {
                        at: e.received_at,
                        subject: redact(e.subject.as_deref().unwrap_or("(no subject)")),
                        category: e.category,
                        source,
                        before_removal: last_reset.is_some_and(|r| e.received_at <= r),
                    }
                })
                .collect();
        }
        zones.push(z);
    }
    Ok(LookupResult {
        query: q.trim().to_string(),
        key: key.to_string(),
        kind,
        never_listed,
        zones,
        checked_at: now,
    })
}

/// `GET /api/v1/lookup/{key}`.
pub async fn api_lookup(State(app): State<Arc<App>>, Path(q): Path<String>) -> Response {
    match lookup(&app, &q).await {
        Ok(r) => Json(r).into_response(),
        Err(message) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "bad_query", "message": message})),
        )
            .into_response(),
    }
}

/// Query string of `/lookup`.
#[derive(Debug, Deserialize)]
pub struct LookupParams {
    /// IP or domain.
    pub q: Option<String>,
}

/// Formats Unix seconds as UTC `YYYY-MM-DD HH:MM`.
pub fn utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm, public domain).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Rounds to one decimal: SVG coordinates.
fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A label on an axis of the chart.
pub struct Tick {
    /// Position along the axis, in SVG units.
    pub at: f64,
    /// The text.
    pub label: String,
    /// `text-anchor`.
    pub anchor: &'static str,
    /// CSS class (colour).
    pub class: &'static str,
}

/// A removal marked on the chart.
pub struct Marker {
    /// x of the vertical line.
    pub x: f64,
    /// x of the label.
    pub label_x: f64,
    /// `text-anchor` of the label.
    pub anchor: &'static str,
    /// The label.
    pub label: &'static str,
}

/// The score chart of one zone, laid out for `chart.html` (an inline SVG:
/// no script, no external assets). Every text in it goes through the
/// template's escaping.
pub struct Chart {
    /// Prefix of the element ids (unique in the page).
    pub id: String,
    /// viewBox width.
    pub w: f64,
    /// viewBox height.
    pub h: f64,
    /// Plot area: left, top, right, bottom.
    pub left: f64,
    /// Plot area top.
    pub top: f64,
    /// Plot area right.
    pub right: f64,
    /// Plot area bottom.
    pub bottom: f64,
    /// The score line's points.
    pub points: String,
    /// y of the listing threshold.
    pub list_y: f64,
    /// y of the delisting threshold.
    pub delist_y: f64,
    /// Labels of the y axis.
    pub y_ticks: Vec<Tick>,
    /// Labels of the x axis.
    pub x_ticks: Vec<Tick>,
    /// x ranges when the key was listed.
    pub listed: Vec<(f64, f64)>,
    /// Removals in the window.
    pub markers: Vec<Marker>,
    /// Accessible name.
    pub title: String,
    /// Accessible description: what the chart shows, in words.
    pub desc: String,
    /// The time shown, e.g. `72 hours`.
    pub span: String,
}

impl Chart {
    /// Width of a shaded range.
    pub fn width(&self, r: &(f64, f64)) -> f64 {
        r1(r.1 - r.0)
    }
}

/// The y-axis top: a round number above the highest score and the
/// listing threshold.
fn nice_max(v: f64) -> f64 {
    let step = if v <= 5.0 {
        0.5
    } else if v <= 20.0 {
        2.0
    } else {
        10.0
    };
    ((v / step).ceil() * step).max(step)
}

/// Lays out the chart of `z` at `now`; `n` makes the element ids unique.
pub fn chart(z: &ZoneLookup, now: i64, n: usize) -> Chart {
    let (w, h) = (400.0_f64, 190.0_f64);
    let (left, top, right, bottom) = (40.0, 22.0, w - 14.0, h - 26.0);
    let start = z.history_from.min(now);
    let span = (now - start).max(1) as f64;
    let peak = z
        .history
        .iter()
        .copied()
        .fold((start, 0.0_f64), |a, p| if p.1 > a.1 { p } else { a });
    let max = nice_max(peak.1.max(z.list_threshold * 1.25));
    let x = |t: i64| r1(left + (right - left) * ((t - start) as f64 / span).clamp(0.0, 1.0));
    let y = |v: f64| r1(bottom - (bottom - top) * (v / max).clamp(0.0, 1.0));
    let mut points = String::new();
    for (t, v) in &z.history {
        let _ = write!(points, "{},{} ", x(*t), y(*v));
    }
    let num = |v: f64| format!("{}", (v * 100.0).round() / 100.0);
    // y labels: 0, the thresholds and the top, skipping any that would
    // overlap one already placed.
    let mut y_ticks: Vec<Tick> = Vec::new();
    for (v, class) in [
        (z.list_threshold, "t-list"),
        (z.delist_threshold, "t-delist"),
        (0.0, "t-axis"),
        (max, "t-axis"),
    ] {
        let at = y(v);
        if y_ticks.iter().all(|t| (t.at - at).abs() >= 13.0) {
            y_ticks.push(Tick {
                at,
                label: num(v),
                anchor: "end",
                class,
            });
        }
    }
    let x_ticks = (0..=3)
        .map(|i| {
            let ago = (now - start) * (3 - i) / 3;
            Tick {
                at: x(now - ago),
                // Only the first says "ago": short labels fit on a phone.
                label: match (i, ago) {
                    (_, 0) => "now".to_string(),
                    (0, _) => format!("{} ago", short_span(ago)),
                    _ => short_span(ago),
                },
                anchor: match i {
                    0 => "start",
                    3 => "end",
                    _ => "middle",
                },
                class: "t-axis",
            }
        })
        .collect();
    // Listed periods from the listing history (open while listed now).
    let mut listed = Vec::new();
    let mut open: Option<i64> = None;
    let mut markers = Vec::new();
    let mut words = Vec::new();
    for c in &z.listing_history {
        match c.change {
            ChangeKind::Listed => {
                open.get_or_insert(c.at);
            }
            other => {
                if let Some(from) = open.take()
                    && c.at >= start
                {
                    listed.push((x(from), x(c.at)));
                }
                if c.at >= start {
                    if other.discards_evidence() {
                        let mx = x(c.at);
                        let near_right = mx > right - 60.0;
                        markers.push(Marker {
                            x: mx,
                            label_x: if near_right { mx - 4.0 } else { mx + 4.0 },
                            anchor: if near_right { "end" } else { "start" },
                            label: "removed",
                        });
                    }
                    words.push(format!("{} on {}.", capitalized(other.phrase()), utc(c.at)));
                }
            }
        }
        if c.change == ChangeKind::Listed && c.at >= start {
            words.push(format!("Listed on {}.", utc(c.at)));
        }
    }
    if let Some(from) = open
        && z.listed
    {
        listed.push((x(from), x(now)));
    }
    let mut desc = if peak.1 > 0.0 {
        format!(
            "Highest score {} on {}; score now {}.",
            num(peak.1),
            utc(peak.0),
            num(z.score)
        )
    } else {
        "No score in this time.".to_string()
    };
    for w in words {
        desc.push(' ');
        desc.push_str(&w);
    }
    let _ = write!(
        desc,
        " Listing threshold {}, delisting threshold {}.",
        num(z.list_threshold),
        num(z.delist_threshold)
    );
    Chart {
        id: format!("chart-{n}"),
        w,
        h,
        left,
        top,
        right,
        bottom,
        points: points.trim_end().to_string(),
        list_y: y(z.list_threshold),
        delist_y: y(z.delist_threshold),
        y_ticks,
        x_ticks,
        listed,
        markers,
        title: format!(
            "Score of {} in {} over the last {}",
            z.query_name,
            z.zone,
            long_span(now - start)
        ),
        span: long_span(now - start),
        desc,
    }
}

/// `text` with its first letter upper-case.
fn capitalized(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
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

/// `GET /lookup?q=`.
pub async fn page_lookup(State(app): State<Arc<App>>, Query(p): Query<LookupParams>) -> Response {
    let q = p.q.unwrap_or_default();
    let (status, error, result) = if q.trim().is_empty() {
        (StatusCode::OK, None, None)
    } else {
        match lookup(&app, &q).await {
            Ok(r) => (StatusCode::OK, None, Some(r)),
            Err(e) => (StatusCode::BAD_REQUEST, Some(e), None),
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
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("lookup page rendering failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_and_dates() {
        assert_eq!(
            redact("Hi trap@example.org, buy now"),
            "Hi [address] buy now"
        );
        assert_eq!(redact("no address here"), "no address here");
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_795_868_461), "2026-11-28 12:21 UTC");
    }

    #[test]
    fn queries() {
        assert!(matches!(parse_query("192.0.2.1"), Ok(Parsed::Ip(_))));
        assert!(matches!(parse_query("[2001:db8::1]"), Ok(Parsed::Ip(_))));
        match parse_query("https://WWW.Example.co.uk/path?x") {
            Ok(Parsed::Domain { host, registered }) => {
                assert_eq!(host, "www.example.co.uk");
                assert_eq!(registered, "example.co.uk");
            }
            _ => panic!("domain expected"),
        }
        for bad in ["", "not a thing", "<script>", "co.uk"] {
            assert!(parse_query(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn history_replays_decay() {
        let p = Policy::default();
        let now = 100 * 3600;
        let h = history(
            &p,
            &[(now - 12 * 3600, 1, 1.0), (now - 12 * 3600, 2, 1.0)],
            &[],
            now - HISTORY_HOURS * 3600,
            now,
        );
        let at = |hours_ago: i64| {
            h.iter()
                .rev()
                .find(|(t, _)| *t == now - hours_ago * 3600)
                .map(|p| p.1)
        };
        // The step at the reports: 0 just before, 2 just after.
        let step: Vec<f64> = h
            .iter()
            .filter(|(t, _)| *t == now - 12 * 3600)
            .map(|p| p.1)
            .collect();
        assert_eq!(step, vec![0.0, 2.0]);
        assert_eq!(at(13), Some(0.0));
        assert_eq!(at(12), Some(2.0));
        assert_eq!(at(6), Some(1.0));
        assert_eq!(at(0), Some(0.5));
        assert_eq!(h.first().map(|p| p.0), Some(now - HISTORY_HOURS * 3600));
        assert_eq!(h.last().map(|p| p.0), Some(now));
        assert!(h.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
    }

    #[test]
    fn history_drops_to_zero_at_a_removal() {
        let p = Policy::default();
        let now = 100 * 3600;
        let t = now - 1800;
        // Two reports, removed 20 s later in between two samples; a report
        // in the same second as the removal counts as before it.
        let events = [(t, 1, 1.0), (t, 2, 1.0), (t + 20, 3, 1.0)];
        let start = now - HISTORY_HOURS * 3600;
        let h = history(&p, &events, &[t + 20], start, now);
        let around: Vec<(i64, f64)> = h.iter().copied().filter(|p| p.0 >= t).collect();
        assert_eq!(
            around,
            vec![
                (t, 0.0),
                (t, 2.0),
                (t + 20, 1.999),
                (t + 20, 2.999),
                (t + 20, 0.0),
                (now, 0.0)
            ],
            "{h:?}"
        );
        // A report after the removal counts from zero again.
        let h = history(
            &p,
            &[(t, 1, 1.0), (t, 2, 1.0), (t + 60, 1, 1.0)],
            &[t + 20],
            start,
            now,
        );
        assert!(h.contains(&(t + 60, 1.0)), "{h:?}");
        assert!(h.last().is_some_and(|p| p.1 > 0.0 && p.1 < 1.0), "{h:?}");
        // Reports and their removal in one second: the peak still shows.
        let h = history(&p, &[(t, 1, 1.0), (t, 2, 1.0)], &[t], start, now);
        let at_t: Vec<f64> = h.iter().filter(|p| p.0 == t).map(|p| p.1).collect();
        assert_eq!(at_t, vec![0.0, 2.0, 0.0], "{h:?}");
    }

    #[test]
    fn the_chart_zooms_in_on_recent_activity() {
        let now = 1_000_000;
        let start = now - HISTORY_HOURS * 3600;
        let flat = |from: i64| vec![(from, 0.0), (now, 0.0)];
        // Nothing happened: three days.
        assert_eq!(window_start(&flat(start), &[], start, now), start);
        // A score since 10 s ago: the shortest span, one minute.
        let h = vec![(start, 0.0), (now - 10, 0.0), (now - 10, 2.0), (now, 2.0)];
        assert_eq!(window_start(&h, &[], start, now), now - 60);
        // Activity 2 hours ago: 3 hours.
        let h = vec![(start, 0.0), (now - 7200, 2.0), (now, 0.5)];
        assert_eq!(window_start(&h, &[], start, now), now - 3 * 3600);
        // A score left over from before the window: three days.
        let h = vec![(start, 0.3), (now, 0.1)];
        assert_eq!(window_start(&h, &[], start, now), start);
        assert_eq!(short_span(3 * 3600), "3 h");
        assert_eq!(short_span(300), "5 min");
        assert_eq!(short_span(20), "20 s");
        assert_eq!(long_span(HISTORY_HOURS * 3600), "72 hours");
        assert_eq!(long_span(60), "minute");
    }

    #[test]
    fn listing_changes_from_the_audit_log() {
        let entry = |id: i64, at: i64, action: &str, reason: &str| fadelist_store::AuditEntry {
            id,
            at,
            zone: Some("iprbl.test".into()),
            key: Some("192.0.2.1".into()),
            action: action.into(),
            reason: reason.into(),
            report_id: None,
        };
        // Newest first, as the store answers.
        let audit = [
            entry(6, 60, "delisted", "manual listing expired"),
            entry(5, 50, "delisted", "removed by admin"),
            entry(4, 40, "delisted", "request #3 approved by admin"),
            entry(
                3,
                30,
                "delisted",
                "score decayed to 0.49, below the delisting threshold",
            ),
            entry(2, 20, "delisted", "self-service removal, request #1"),
            entry(
                1,
                20,
                "listed",
                "score 2.00 from 2 reporters reached the threshold",
            ),
        ];
        let kinds: Vec<(i64, ChangeKind)> = listing_changes(&audit)
            .into_iter()
            .map(|c| (c.at, c.change))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (20, ChangeKind::Listed),
                (20, ChangeKind::RemovedSelfService),
                (30, ChangeKind::Expired),
                (40, ChangeKind::RemovedReview),
                (50, ChangeKind::RemovedOperator),
            ]
        );
        assert!(ChangeKind::RemovedSelfService.discards_evidence());
        assert!(!ChangeKind::Expired.discards_evidence());
    }

    #[test]
    fn the_chart_escapes_and_marks_removals() {
        let now = 100 * 3600;
        let z = ZoneLookup {
            zone: "iprbl.test".into(),
            feed: Some("Ip".into()),
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
                &[(now - 600, 1, 1.0), (now - 600, 2, 1.0)],
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
