//! The admin API: manual listings, removals, the never-list, the review
//! queue, reporters and the audit log.
//!
//! It listens on its own address (loopback by default) and every request
//! needs `Authorization: Bearer <[admin] token>`; without a configured
//! token the API is not started at all. The `fadelist admin` commands are
//! its client. Changes reach DNS before the response is sent.

use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use fadelist_core::keys::ListingKey;
use fadelist_store::AuditFilter;
use serde::Deserialize;
use serde_json::json;

use crate::pipeline::{App, FeedChanges};

type Reply = Result<Response, (StatusCode, Json<serde_json::Value>)>;

fn err(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
) -> (StatusCode, Json<serde_json::Value>) {
    (
        status,
        Json(json!({"error": code, "message": message.into()})),
    )
}

fn unavailable(e: impl std::fmt::Display) -> (StatusCode, Json<serde_json::Value>) {
    tracing::error!("admin: store: {e}");
    err(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the database is unavailable",
    )
}

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
    let same = !want.is_empty()
        && want.len() == got.len()
        && want
            .bytes()
            .zip(got.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0;
    if !same {
        return err(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "admin token required",
        )
        .into_response();
    }
    next.run(req).await
}

fn zone_of(app: &App, zone: &str) -> Result<String, (StatusCode, Json<serde_json::Value>)> {
    let z = fadelist_core::snapshot::normalize_name(zone).unwrap_or_default();
    if app.feed_of(&z).is_none() {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_zone",
            format!("{zone:?} is not a report-fed zone"),
        ));
    }
    Ok(z)
}

fn key_of(key: &str) -> Result<ListingKey, (StatusCode, Json<serde_json::Value>)> {
    crate::delist::parse_key(key).map_err(|m| err(StatusCode::UNPROCESSABLE_ENTITY, "bad_key", m))
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
            err(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_code",
                "the return code must be in 127.0.0.0/8, not 127.0.0.1",
            )
        })?;
    if let ListingKey::V4(ip) = key
        && let Some(why) = fadelist_ingest::special::special_purpose(std::net::IpAddr::V4(ip))
    {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "never_listed",
            format!("{ip} is a special-purpose address ({why})"),
        ));
    }
    let reason = b.reason.trim().to_string();
    if reason.is_empty() || reason.len() > 200 {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_reason",
            "give a reason of 1 to 200 characters",
        ));
    }
    let now = crate::clock::unix_now() as i64;
    let until = match &b.expires_in {
        Some(d) => {
            let d = crate::config::parse_duration(d).map_err(|e| {
                err(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_expiry",
                    format!("{e:#}"),
                )
            })?;
            Some(now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
        }
        None => None,
    };
    let (z, k, c, r) = (
        zone.clone(),
        key.to_string(),
        code.to_string(),
        reason.clone(),
    );
    let change = (zone.clone(), key.clone(), Some((code, reason)));
    app.store_then_publish(move |s| {
        let res = s.add_manual(&z, &k, &c, &r, until, "admin", now);
        let changes = FeedChanges {
            manual: if res.is_ok() {
                vec![change]
            } else {
                Vec::new()
            },
            ..FeedChanges::default()
        };
        (res, changes)
    })
    .await
    .map_err(unavailable)?
    .map_err(unavailable)?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"zone": zone, "key": key.to_string(), "code": code.to_string(), "until": until}),
        ),
    )
        .into_response())
}

async fn list_manual(State(app): State<Arc<App>>) -> Reply {
    let l = app
        .store
        .call(|s| s.manual_listings())
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    Ok(Json(l).into_response())
}

async fn remove(State(app): State<Arc<App>>, Path((zone, key)): Path<(String, String)>) -> Reply {
    let zone = zone_of(&app, &zone)?;
    let key = key_of(&key)?;
    let now = crate::clock::unix_now() as i64;
    let (z, k) = (zone.clone(), key.to_string());
    let removed_key = key.clone();
    let any = app
        .store_then_publish(move |s| {
            let r = s.remove_listing(&z, &k, "admin", now);
            let changes = match r {
                Ok(true) => {
                    let mut c = FeedChanges::removed(std::slice::from_ref(&z), &removed_key);
                    c.manual.push((z.clone(), removed_key, None));
                    c
                }
                _ => FeedChanges::default(),
            };
            (r, changes)
        })
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    if !any {
        return Err(err(
            StatusCode::NOT_FOUND,
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

fn never_text(entry: &str) -> Result<String, (StatusCode, Json<serde_json::Value>)> {
    match crate::pipeline::parse_never(entry) {
        Some(crate::pipeline::Never::Net(n)) => Ok(n.to_string()),
        Some(crate::pipeline::Never::Domain(d)) => Ok(d),
        None => Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_entry",
            format!("{entry:?} is not an IP, CIDR or domain"),
        )),
    }
}

async fn never_add(State(app): State<Arc<App>>, Json(b): Json<NeverBody>) -> Reply {
    let text = never_text(&b.entry)?;
    let now = crate::clock::unix_now() as i64;
    let t = text.clone();
    let added = app
        .store
        .call(move |s| s.never_list_add(&t, &b.reason, now))
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    Ok((
        if added {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(json!({"entry": text, "added": added})),
    )
        .into_response())
}

async fn never_remove(State(app): State<Arc<App>>, Path(entry): Path<String>) -> Reply {
    let text = never_text(&entry)?;
    let now = crate::clock::unix_now() as i64;
    let t = text.clone();
    let removed = app
        .store
        .call(move |s| s.never_list_remove(&t, now))
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    if !removed {
        return Err(err(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{text} is not on the never-list"),
        ));
    }
    Ok(Json(json!({"entry": text, "removed": true})).into_response())
}

async fn never_list(State(app): State<Arc<App>>) -> Reply {
    let l = app
        .store
        .call(|s| s.never_list())
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    let l: Vec<_> = l
        .into_iter()
        .map(|(e, r, at)| json!({"entry": e, "reason": r, "added_at": at}))
        .collect();
    Ok(Json(l).into_response())
}

async fn review(State(app): State<Arc<App>>) -> Reply {
    let q = app
        .store
        .call(|s| s.review_queue())
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    Ok(Json(q).into_response())
}

async fn decide(State(app): State<Arc<App>>, Path((id, decision)): Path<(i64, String)>) -> Reply {
    let approve = match decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return Err(err(
                StatusCode::NOT_FOUND,
                "bad_decision",
                "use /approve or /deny",
            ));
        }
    };
    let zones = app.feed_zone_names();
    let now = crate::clock::unix_now() as i64;
    let key_zones = app
        .store_then_publish(move |s| {
            let r = (|| -> fadelist_store::Result<Option<(String, Vec<String>)>> {
                let key = s
                    .review_queue()?
                    .into_iter()
                    .find(|r| r.id == id)
                    .map(|r| r.key);
                let removed = s.decide(id, approve, "admin", &zones, now)?;
                Ok(key.zip(removed))
            })();
            let changes = match &r {
                Ok(Some((key, removed))) => match key.parse::<ListingKey>() {
                    Ok(k) => FeedChanges::removed(removed, &k),
                    Err(_) => FeedChanges::default(),
                },
                _ => FeedChanges::default(),
            };
            (r, changes)
        })
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    let Some((key, removed)) = key_zones else {
        return Err(err(
            StatusCode::NOT_FOUND,
            "not_queued",
            format!("no queued request #{id}"),
        ));
    };
    Ok(
        Json(json!({"id": id, "decision": decision, "key": key, "removed_from": removed}))
            .into_response(),
    )
}

async fn audit(State(app): State<Arc<App>>, Query(f): Query<AuditFilter>) -> Reply {
    let l = app
        .store
        .call(move |s| s.audit_query(&f))
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    Ok(Json(l).into_response())
}

async fn reporters(State(app): State<Arc<App>>) -> Reply {
    let l = app
        .store
        .call(|s| s.reporters())
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    Ok(Json(l).into_response())
}

async fn reporter_action(
    State(app): State<Arc<App>>,
    Path((name, action)): Path<(String, String)>,
) -> Reply {
    let now = crate::clock::unix_now() as i64;
    let n = name.clone();
    let a = action.clone();
    let done = app
        .store
        .call(move |s| match a.as_str() {
            "suspend" => s.set_suspended(&n, true, now).map(Some),
            "reinstate" => s.set_suspended(&n, false, now).map(Some),
            "remove" => s.remove_reporter(&n, now).map(Some),
            _ => Ok(None),
        })
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    match done {
        None => Err(err(
            StatusCode::NOT_FOUND,
            "bad_action",
            "use suspend, reinstate or remove",
        )),
        Some(false) => Err(err(
            StatusCode::NOT_FOUND,
            "no_reporter",
            format!("no reporter named {name:?}"),
        )),
        Some(true) => Ok(Json(json!({"reporter": name, "action": action})).into_response()),
    }
}
