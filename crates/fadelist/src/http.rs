//! The HTTP status API.
//!
//! - `GET /healthz`: `ok` while the server runs (liveness);
//! - `GET /readyz`: 200 when the server can do its job, 503 with the
//!   failing checks ([`crate::health`]);
//! - `GET /api/v1/zones`: each served zone with its serial and entry
//!   counts, read from the published snapshot;
//! - `GET /api/v1/status`: per zone (serial, entries, last load, last
//!   reload error with file and line) and per component (the store
//!   thread, its queue, the disk, the last pruning run; the decay timer),
//!   see [`crate::health::status`].
//!
//! Reporting, lookup pages and delisting arrive on this same router.
//!
//! Every response carries the security headers of [`security_headers`]:
//! a Content-Security-Policy that allows nothing but our own stylesheet
//! and images (the pages have no script and no inline style), no framing,
//! no MIME sniffing, and no query strings (looked-up keys) in referrers.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::App;

/// One zone in `/api/v1/zones`.
#[derive(Debug, Serialize)]
pub struct ZoneStatus {
    /// Zone name.
    pub name: String,
    /// SOA serial.
    pub serial: u32,
    /// Number of datasets.
    pub datasets: usize,
    /// IPv4 entries (full-length) and ranges.
    pub ipv4_entries: usize,
    /// IPv6 entries and ranges.
    pub ipv6_entries: usize,
    /// Domain entries.
    pub domain_entries: usize,
    /// Report-fed changes not yet folded into the base dataset.
    pub pending_changes: usize,
}

/// The Content-Security-Policy of every response: nothing runs, styles and
/// images only from this origin, forms only post here, no framing.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The headers every response gets (unless its handler set them).
pub fn security_headers() -> [(HeaderName, HeaderValue); 5] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        // frame-ancestors for browsers too old for CSP level 2.
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        // A lookup page's URL names the key looked up: keep it here.
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ]
}

/// `GET /static/site.css`: the pages' one stylesheet.
async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../templates/site.css"),
    )
}

/// Builds the router.
pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new()
        .route("/", get(crate::home::page_home))
        .route("/static/site.css", get(stylesheet))
        .route("/favicon.svg", get(crate::home::favicon))
        .route("/favicon.ico", get(crate::home::favicon))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(crate::health::readyz))
        .route("/api/v1/zones", get(zones))
        .route("/api/v1/status", get(crate::health::status))
        .route("/api/v1/lookup/{key}", get(crate::lookup::api_lookup))
        .route("/lookup", get(crate::lookup::page_lookup))
        .route(
            "/delist",
            get(crate::delist::page_form)
                .post(crate::delist::page_submit)
                .layer(DefaultBodyLimit::max(16 * 1024)),
        )
        .route(
            "/api/v1/delistings",
            post(crate::delist::api_delist).layer(DefaultBodyLimit::max(16 * 1024)),
        )
        // The body is read by the handler itself, as a stream, after the
        // token and the size are checked (reports.rs).
        .route("/api/v1/reports", post(crate::reports::post_report))
        .route(
            "/api/v1/reports/withdraw",
            post(crate::reports::post_withdraw),
        )
        .with_state(app);
    for (name, value) in security_headers() {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    router
}

/// The serial and entry counts of a served zone.
pub fn zone_status(z: &fadelist_core::snapshot::Zone) -> ZoneStatus {
    let mut s = ZoneStatus {
        name: z.name().to_string(),
        serial: z.soa.serial,
        datasets: z.datasets.len(),
        ipv4_entries: 0,
        ipv6_entries: 0,
        domain_entries: 0,
        pending_changes: 0,
    };
    for l in &z.datasets {
        // Base and delta both count: a key changed since the last
        // compaction shows twice until the next one.
        for d in std::iter::once(l.base()).chain(l.delta()) {
            let (e, i) = d.v4.counts();
            s.ipv4_entries += e + i;
            s.ipv6_entries += d.v6.entry_count();
            s.domain_entries += d.domains.exact.len() + d.domains.wild.len();
        }
        s.pending_changes += l.entry_counts().1;
    }
    s
}

async fn zones(State(app): State<Arc<App>>) -> Json<Vec<ZoneStatus>> {
    let snapshot = app.listings.publisher().snapshot();
    Json(snapshot.zones.iter().map(zone_status).collect())
}
