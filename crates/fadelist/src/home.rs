//! The home page: the listing and delisting criteria, published from the
//! live configuration as RFC 6471 asks of a DNSBL.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::config::Feed;
use crate::error::render;

struct ZoneRow {
    name: String,
    what: String,
    codes: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    zones: Vec<ZoneRow>,
    weight: &'static str,
    half_life: String,
    cap: f64,
    list_threshold: f64,
    min_reporters: u32,
    max_age: String,
    delist_threshold: f64,
    typical: String,
    min_listing: String,
    repeat_window: String,
    max_listing: String,
    self_service: u32,
    window: String,
    /// Source networks a content key needs, when a zone takes the domain
    /// feed.
    content_networks: Option<u32>,
    /// Size of the compiled-in lists of protected domains and redirectors.
    protected_domains: usize,
    redirectors: usize,
}

/// Renders a duration the way people say it: `6 h`, `2 days`, `90 s`.
pub fn human(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// `GET /`.
pub async fn page_home(State(app): State<Arc<App>>) -> Response {
    let p = &app.config.policy;
    let zones = app
        .config
        .zones
        .iter()
        .map(|z| {
            let (what, codes) = match z.feed {
                Some(Feed::Ip) => (
                    "IP addresses that sent reported spam, phishing or malware",
                    true,
                ),
                Some(Feed::BulkIp) => (
                    "IP addresses that sent reported bulk mail and newsletters",
                    true,
                ),
                Some(Feed::Domain) => (
                    "domains advertised in reported mail (and their subdomains), and addresses \
                     written as link hosts (IPv4 reversed, IPv6 by /64 in nibbles, as for an \
                     IP list)",
                    true,
                ),
                None => ("entries from the operator's data files", false),
            };
            ZoneRow {
                name: z.name.to_string(),
                what: what.to_string(),
                codes: if codes {
                    "127.0.0.2 spam, 127.0.0.3 phishing, 127.0.0.4 malware, 127.0.0.5 newsletter"
                        .into()
                } else {
                    "as set in the data files".into()
                },
            }
        })
        .collect();
    // Two reports at once make 2.0 (weight 1 each): the time to decay below
    // the delisting threshold, or the minimum listing if that is longer.
    let halvings = (2.0_f64 / p.delist_threshold).log2().max(0.0);
    let typical =
        std::time::Duration::from_secs_f64(p.half_life.as_secs_f64() * halvings).max(p.min_listing);
    let page = Home {
        zones,
        weight: "1",
        half_life: human(p.half_life),
        cap: p.reporter_cap,
        list_threshold: p.list_threshold,
        min_reporters: p.min_reporters,
        max_age: human(p.max_report_age),
        delist_threshold: p.delist_threshold,
        typical: human(typical),
        min_listing: human(p.min_listing),
        repeat_window: human(p.repeat_window),
        max_listing: human(p.max_listing),
        self_service: app.config.web.self_service_limit,
        window: human(app.config.web.self_service_window),
        content_networks: {
            let rules = app.listings.rules();
            rules
                .zone_for(Feed::Domain)
                .map(|z| rules.policy(z).min_source_networks)
        },
        protected_domains: fadelist_ingest::protected::protected_domain_count(),
        redirectors: fadelist_ingest::protected::redirector_count(),
    };
    render(&page, StatusCode::OK)
}

/// The site icon: a tiny inline SVG (no external assets).
pub const FAVICON_SVG: &str = include_str!("../templates/favicon.svg");

/// `GET /favicon.svg`, and `GET /favicon.ico` for the clients that ask for
/// that name whatever the page says: the same SVG icon, cached for a day.
pub async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        FAVICON_SVG,
    )
        .into_response()
}
