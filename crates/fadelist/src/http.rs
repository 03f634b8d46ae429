//! The HTTP status API.
//!
//! - `GET /healthz`: `ok` while the server runs;
//! - `GET /api/v1/zones`: each served zone with its serial and entry
//!   counts, read from the published snapshot;
//! - `GET /api/v1/status`: the write side's queue (writes waiting for or
//!   running on the store thread), the database's free disk space and the
//!   last pruning run.
//!
//! Reporting, lookup pages and delisting arrive on this same router.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

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

/// Builds the router.
pub fn router(app: Arc<App>) -> Router {
    // One byte over the limit is enough to tell "too large" (413).
    let limit = app.config.ingest.max_message_bytes.saturating_add(1);
    Router::new()
        .route("/", get(crate::home::page_home))
        .route("/favicon.svg", get(crate::home::favicon))
        .route("/favicon.ico", get(crate::home::favicon))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/zones", get(zones))
        .route("/api/v1/status", get(status))
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
        .route(
            "/api/v1/reports",
            post(crate::reports::post_report).layer(DefaultBodyLimit::max(limit)),
        )
        .with_state(app)
}

async fn zones(State(app): State<Arc<App>>) -> Json<Vec<ZoneStatus>> {
    let snapshot = app.listings.publisher().snapshot();
    Json(
        snapshot
            .zones
            .iter()
            .map(|z| {
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
                    // Base and delta both count: a key changed since the
                    // last compaction shows twice until the next one.
                    for d in std::iter::once(l.base()).chain(l.delta()) {
                        let (e, i) = d.v4.counts();
                        s.ipv4_entries += e + i;
                        s.ipv6_entries += d.v6.entry_count();
                        s.domain_entries += d.domains.exact.len() + d.domains.wild.len();
                    }
                    s.pending_changes += l.entry_counts().1;
                }
                s
            })
            .collect(),
    )
}

/// `GET /api/v1/status`.
async fn status(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "store": {
            "pending_writes": app.listings.pending(),
            "queued_writes": app.listings.queued(),
            // Free space on the database's filesystem and the threshold
            // below which writes get 503 disk_full; the last pruning run.
            "disk": app.listings.disk_status(),
            "last_prune": app.listings.last_prune(),
        }
    }))
}
