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
    /// (Unix seconds, score) for the chart.
    pub history: Vec<(i64, f64)>,
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
        return Err("enter an IPv4 address, an IPv6 address or a domain name".into());
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
fn history(policy: &Policy, events: &[(i64, i64, f64)], now: i64) -> Vec<(i64, f64)> {
    let start = now - HISTORY_HOURS * 3600;
    let mut state = KeyState::default();
    let mut next = 0;
    let mut out = Vec::new();
    let mut t = start;
    while t <= now {
        while next < events.len() && events[next].0 <= t {
            let (at, reporter, weight) = events[next];
            policy.add_report(&mut state, reporter, weight, at);
            next += 1;
        }
        out.push((t, (policy.score(&state, t) * 1000.0).round() / 1000.0));
        t += 3600;
    }
    out
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
                for t in h.answer.txt.iter() {
                    let mut text = String::new();
                    expand_txt(t, h.subject, &labels[..rel_labels], &mut text);
                    z.reasons.push(text);
                }
            }
        }
        if feed.is_some() {
            let (zn, k) = (zone.name().to_string(), key.to_string());
            let policy = app.policy(zone.name()).clone();
            let info = app
                .store
                .call(move |s| -> fadelist_store::Result<_> {
                    Ok((
                        s.listing(&zn, &k)?,
                        s.key_state(&zn, &k)?,
                        s.evidence(&zn, &k, 5)?,
                        s.report_events(&zn, &k)?,
                        s.reporter_count(&zn, &k)?,
                    ))
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let (row, state, evidence, events, reporters) = info;
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
            z.history = history(&policy, &events, now);
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

/// The score chart as inline SVG (no script, no external assets).
pub fn chart_svg(z: &ZoneLookup) -> String {
    let (w, h, pad) = (640.0_f64, 160.0_f64, 24.0_f64);
    let max = z
        .history
        .iter()
        .map(|p| p.1)
        .fold(z.list_threshold * 1.25, f64::max);
    let n = z.history.len().max(2) as f64 - 1.0;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / n;
    let y = |v: f64| h - pad - (h - 2.0 * pad) * v / max;
    let mut points = String::new();
    for (i, (_, v)) in z.history.iter().enumerate() {
        let _ = write!(points, "{:.1},{:.1} ", x(i), y(*v));
    }
    let ty = y(z.list_threshold);
    let dy = y(z.delist_threshold);
    format!(
        r##"<svg role="img" aria-labelledby="chart-{zone}" viewBox="0 0 {w} {h}" width="100%" xmlns="http://www.w3.org/2000/svg"><title id="chart-{zone}">Score of {key} in {zone} over the last {hours} hours (listing threshold {lt}, delisting threshold {dt})</title><rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff" stroke="#555"/><line x1="{pad}" x2="{x2}" y1="{ty:.1}" y2="{ty:.1}" stroke="#b00020" stroke-dasharray="6 4"/><text x="{tx}" y="{tty:.1}" font-size="11" fill="#b00020">list {lt}</text><line x1="{pad}" x2="{x2}" y1="{dy:.1}" y2="{dy:.1}" stroke="#1a5e20" stroke-dasharray="2 4"/><text x="{tx}" y="{tdy:.1}" font-size="11" fill="#1a5e20">delist {dt}</text><polyline fill="none" stroke="#0b3d91" stroke-width="2" points="{points}"/><text x="{pad}" y="{by}" font-size="11" fill="#333">−{hours} h</text><text x="{nx}" y="{by}" font-size="11" fill="#333">now</text></svg>"##,
        zone = z.zone,
        key = z.query_name,
        hours = HISTORY_HOURS,
        lt = z.list_threshold,
        dt = z.delist_threshold,
        x2 = w - pad,
        tx = w - pad - 70.0,
        tty = ty - 4.0,
        tdy = dy - 4.0,
        by = h - 6.0,
        nx = w - pad - 20.0,
    )
}

/// The HTML lookup page.
#[derive(Template)]
#[template(path = "lookup.html")]
struct LookupPage<'a> {
    q: &'a str,
    error: Option<String>,
    result: Option<LookupResult>,
}

impl LookupPage<'_> {
    fn when(&self, t: &Option<i64>) -> String {
        t.map(utc).unwrap_or_else(|| "—".into())
    }
    fn at(&self, t: &i64) -> String {
        utc(*t)
    }
    fn chart(&self, z: &ZoneLookup) -> String {
        chart_svg(z)
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
            now,
        );
        assert_eq!(h.len() as i64, HISTORY_HOURS + 1);
        let at = |hours_ago: i64| {
            h.iter()
                .find(|(t, _)| *t == now - hours_ago * 3600)
                .map(|p| p.1)
        };
        assert_eq!(at(13), Some(0.0));
        assert_eq!(at(12), Some(2.0));
        assert_eq!(at(6), Some(1.0));
        assert_eq!(at(0), Some(0.5));
    }
}
