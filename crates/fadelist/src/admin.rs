//! The admin API: manual listings, removals, the never-list, the review
//! queue, reporters and the audit log.
//!
//! It listens on its own address (loopback by default) and every request
//! needs `Authorization: Bearer <[admin] token>`; without a configured
//! token the API is not started at all. The `fadelist admin` commands are
//! its client. Changes go through the listings service and reach DNS
//! before the response is sent; listings are read from the read side.

use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use fadelist_core::keys::ListingKey;
use fadelist_store::{AuditFilter, Read as _};
use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::error::HttpError;
use crate::input::{parse_key, parse_never};

type Reply = Result<Response, HttpError>;

/// Who the admin API acts as, in the audit log and listing history.
const ACTOR: &str = "admin";

/// Builds the admin router.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/admin/v1/listings", get(list_manual).post(add_manual))
        .route("/admin/v1/listings/{zone}/{key}", delete(remove))
        .route("/admin/v1/neverlist", get(never_list).post(never_add))
        .route("/admin/v1/neverlist/{entry}", delete(never_remove))
        .route("/admin/v1/review", get(review))
        .route("/admin/v1/review/{id}/{decision}", post(decide))
        .route("/admin/v1/audit", get(audit))
        .route("/admin/v1/reporters", get(reporters))
        .route("/admin/v1/reporters/{name}/{action}", post(reporter_action))
        .layer(middleware::from_fn_with_state(app.clone(), auth))
        .with_state(app)
}

async fn auth(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let want = app.config.admin.token.as_deref().unwrap_or("");
    let got = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if want.is_empty() || !crate::error::same_secret(want.as_bytes(), got.as_bytes()) {
        return HttpError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "admin token required",
        )
        .into_response();
    }
    next.run(req).await
}

/// A report-fed zone named by the client.
fn zone_of(app: &App, zone: &str) -> Result<String, HttpError> {
    app.listings
        .rules()
        .feed_zone(zone)
        .map(|z| z.to_string())
        .ok_or_else(|| HttpError::invalid("bad_zone", format!("{zone:?} is not a report-fed zone")))
}

fn key_of(key: &str) -> Result<ListingKey, HttpError> {
    parse_key(key)
        .map(|k| k.key)
        .map_err(|e| HttpError::invalid("bad_key", e.0))
}

/// Body of `POST /admin/v1/listings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualBody {
    /// IP or domain.
    pub key: String,
    /// Report-fed zone.
    pub zone: String,
    /// Return code, e.g. `127.0.0.4` (default 127.0.0.2).
    pub code: Option<String>,
    /// Reason shown in TXT and on the lookup page.
    pub reason: String,
    /// Lifetime, e.g. `7d`; absent = until removed.
    pub expires_in: Option<String>,
}

async fn add_manual(State(app): State<Arc<App>>, Json(b): Json<ManualBody>) -> Reply {
    let zone = zone_of(&app, &b.zone)?;
    let key = key_of(&b.key)?;
    let code: Ipv4Addr = b
        .code
        .as_deref()
        .unwrap_or("127.0.0.2")
        .parse()
        .ok()
        .filter(|c: &Ipv4Addr| c.octets()[0] == 127 && *c != Ipv4Addr::new(127, 0, 0, 1))
        .ok_or_else(|| {
            HttpError::invalid(
                "bad_code",
                "the return code must be in 127.0.0.0/8, not 127.0.0.1",
            )
        })?;
    if let ListingKey::V4(ip) = key
        && let Some(why) = fadelist_ingest::special::special_purpose(std::net::IpAddr::V4(ip))
    {
        return Err(HttpError::invalid(
            "never_listed",
            format!("{ip} is a special-purpose address ({why})"),
        ));
    }
    let reason = b.reason.trim().to_string();
    if reason.is_empty() || reason.len() > 200 {
        return Err(HttpError::invalid(
            "bad_reason",
            "give a reason of 1 to 200 characters",
        ));
    }
    let now = crate::clock::unix_now() as i64;
    let until = match &b.expires_in {
        Some(d) => {
            let d = crate::config::parse_duration(d)
                .map_err(|e| HttpError::invalid("bad_expiry", format!("{e:#}")))?;
            Some(now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
        }
        None => None,
    };
    app.listings
        .add_manual(&zone, &key, code, &reason, until, ACTOR)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"zone": zone, "key": key.to_string(), "code": code.to_string(), "until": until}),
        ),
    )
        .into_response())
}

async fn list_manual(State(app): State<Arc<App>>) -> Reply {
    let l = app.reads.read(|r| r.manual_listings()).await?;
    Ok(Json(l).into_response())
}

async fn remove(State(app): State<Arc<App>>, Path((zone, key)): Path<(String, String)>) -> Reply {
    let zone = zone_of(&app, &zone)?;
    let key = key_of(&key)?;
    if !app.listings.remove(&zone, &key, ACTOR).await? {
        return Err(HttpError::not_found(
            "not_listed",
            format!("{key} is not listed in {zone}"),
        ));
    }
    Ok(Json(json!({"removed": true, "zone": zone, "key": key.to_string()})).into_response())
}

/// Body of `POST /admin/v1/neverlist`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeverBody {
    /// IP, CIDR or domain.
    pub entry: String,
    /// Why.
    pub reason: String,
}

async fn never_add(State(app): State<Arc<App>>, Json(b): Json<NeverBody>) -> Reply {
    let entry = parse_never(&b.entry).map_err(|e| HttpError::invalid("bad_entry", e.0))?;
    let added = app.listings.never_add(&entry, &b.reason).await?;
    Ok((
        if added {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(json!({"entry": entry.text(), "added": added})),
    )
        .into_response())
}

async fn never_remove(State(app): State<Arc<App>>, Path(entry): Path<String>) -> Reply {
    let entry = parse_never(&entry).map_err(|e| HttpError::invalid("bad_entry", e.0))?;
    if !app.listings.never_remove(&entry).await? {
        return Err(HttpError::not_found(
            "not_found",
            format!("{} is not on the never-list", entry.text()),
        ));
    }
    Ok(Json(json!({"entry": entry.text(), "removed": true})).into_response())
}

async fn never_list(State(app): State<Arc<App>>) -> Reply {
    let l = app.reads.read(|r| r.never_list()).await?;
    Ok(Json(l).into_response())
}

async fn review(State(app): State<Arc<App>>) -> Reply {
    let q = app.reads.read(|r| r.review_queue()).await?;
    Ok(Json(q).into_response())
}

async fn decide(State(app): State<Arc<App>>, Path((id, decision)): Path<(i64, String)>) -> Reply {
    let approve = match decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return Err(HttpError::not_found(
                "bad_decision",
                "use /approve or /deny",
            ));
        }
    };
    let Some(d) = app.listings.decide_review(id, approve, ACTOR).await? else {
        return Err(HttpError::not_found(
            "not_queued",
            format!("no queued request #{id}"),
        ));
    };
    Ok(
        Json(json!({"id": id, "decision": decision, "key": d.key, "removed_from": d.removed}))
            .into_response(),
    )
}

async fn audit(State(app): State<Arc<App>>, Query(f): Query<AuditFilter>) -> Reply {
    let l = app.reads.read(move |r| r.audit_query(&f)).await?;
    Ok(Json(l).into_response())
}

async fn reporters(State(app): State<Arc<App>>) -> Reply {
    let l = app.reads.read(|r| r.reporters()).await?;
    Ok(Json(l).into_response())
}

async fn reporter_action(
    State(app): State<Arc<App>>,
    Path((name, action)): Path<(String, String)>,
) -> Reply {
    let done = match action.as_str() {
        "suspend" => app.listings.suspend_reporter(&name, true).await?,
        "reinstate" => app.listings.suspend_reporter(&name, false).await?,
        "remove" => app.listings.remove_reporter(&name).await?,
        _ => {
            return Err(HttpError::not_found(
                "bad_action",
                "use suspend, reinstate or remove",
            ));
        }
    };
    if !done {
        return Err(HttpError::not_found(
            "no_reporter",
            format!("no reporter named {name:?}"),
        ));
    }
    Ok(Json(json!({"reporter": name, "action": action})).into_response())
}
