//! The admin API: manual listings, removals, the never-list, the review
//! queue, reporters (add, trusted networks, suspend, remove, revert) and
//! the audit log.
//!
//! It listens on its own address (loopback by default) and every request
//! needs `Authorization: Bearer <[admin] token>`; without a configured
//! token the API is not started at all. The `fadelist admin` commands are
//! its client. Changes go through the listings service and reach DNS
//! before the response is sent; listings are read from the read side.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use fadelist_core::keys::ListingKey;
use fadelist_store::{AuditFilter, Read as _};
use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::error::HttpError;
use crate::input::{Asked, UserKey, parse_key, parse_never};

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
        .route("/admin/v1/reporters", get(reporters).post(add_reporter))
        .route("/admin/v1/reporters/{name}", put(update_reporter))
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
    user_key(key).map(|k| k.key)
}

fn user_key(key: &str) -> Result<UserKey, HttpError> {
    parse_key(key).map_err(|e| HttpError::invalid("bad_key", e.0))
}

/// A new reporter API token: 24 random bytes as hex.
pub(crate) fn new_token() -> anyhow::Result<String> {
    let mut raw = [0u8; 24];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness for the token: {e}"))?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

/// The /64s that hold the IPv4-embedding forms, by their upper 64 bits:
/// `::/64` holds IPv4-mapped `::ffff:0:0/96` (and `::1`, `::`), where
/// every IPv4 query of a client that asks in IPv6 form lands;
/// `64:ff9b::/64` holds the NAT64 well-known prefix `64:ff9b::/96`, behind
/// which all of IPv4 sits.
const EMBEDDING_64S: [(u64, &str); 2] = [
    (
        0,
        "IPv4-mapped addresses ::ffff:0:0/96 (all of IPv4 asked in IPv6 form), loopback and unspecified",
    ),
    (
        0x0064_ff9b_0000_0000,
        "the NAT64 prefix 64:ff9b::/96 (all of IPv4 behind NAT64)",
    ),
];

/// Why a manual listing of `k` must be refused, if it must: the same
/// special-purpose rule as reports (never list what is not one public
/// host or network), applied to what the operator typed *and* to the
/// whole /64 an IPv6 key lists.
///
/// An IPv6 address that embeds an IPv4 one (IPv4-mapped, NAT64 and 6to4,
/// see [`fadelist_ingest::special::embedded_ipv4`]) is refused with a
/// pointer to that IPv4 address: reports score such sources as the IPv4
/// address, so that is what a manual listing must name too. A 6to4 /64
/// is one IPv4 host's site; listing it would list something the reports
/// never list. Domains are not checked here.
pub(crate) fn manual_refusal(k: &UserKey) -> Option<String> {
    let Asked::Ip(ip) = k.asked else {
        return None;
    };
    if let ListingKey::V6Net(net) = k.key
        && let Some((_, what)) = EMBEDDING_64S.iter().find(|(n, _)| *n == net)
    {
        return Some(format!("{ip} would list {}, which holds {what}", k.key));
    }
    if let IpAddr::V6(v6) = ip
        && let Some(v4) = fadelist_ingest::special::embedded_ipv4(v6)
    {
        return Some(
            match fadelist_ingest::special::special_purpose(IpAddr::V4(v4)) {
                Some(why) => format!("{ip} embeds {v4}, a special-purpose address ({why})"),
                None => format!(
                    "{ip} embeds the IPv4 address {v4} (IPv4-mapped, NAT64 or 6to4 form): list {v4} itself"
                ),
            },
        );
    }
    // Enough for the whole /64 of an IPv6 key: special-purpose ranges are
    // aligned prefixes, so one of /64 or shorter that holds the address
    // holds its /64, and the longer ones all lie in the /64s above.
    fadelist_ingest::special::special_purpose(ip)
        .map(|why| format!("{ip} is a special-purpose address ({why})"))
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
    let user = user_key(&b.key)?;
    if let Some(why) = manual_refusal(&user) {
        return Err(HttpError::new(StatusCode::BAD_REQUEST, "never_listed", why));
    }
    let key = user.key;
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

/// Body of `POST /admin/v1/reporters`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReporterBody {
    /// Unique name.
    pub name: String,
    /// Weight of each report (default 1.0).
    pub weight: Option<f64>,
    /// `user` (default) or `trap`.
    pub kind: Option<String>,
    /// Its own MX/filter hosts: IPs or CIDR networks.
    #[serde(default)]
    pub trusted: Vec<String>,
}

/// Body of `PUT /admin/v1/reporters/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReporterUpdate {
    /// The new trusted networks (all of them): IPs or CIDR networks.
    pub trusted: Vec<String>,
}

/// A refused reporter setting: 400 with the field named.
fn bad_setting(code: &'static str, field: &str, e: crate::input::BadInput) -> HttpError {
    HttpError::new(StatusCode::BAD_REQUEST, code, format!("{field}: {e}"))
}

async fn add_reporter(State(app): State<Arc<App>>, Json(b): Json<NewReporterBody>) -> Reply {
    let name = b.name.trim().to_string();
    // Names appear in URL paths (/admin/v1/reporters/{name}/…) and logs.
    if name.is_empty() || name.len() > 100 || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "bad_name",
            "give a name of 1 to 100 characters, without '/' or control characters",
        ));
    }
    let weight = crate::input::parse_weight(b.weight.unwrap_or(1.0))
        .map_err(|e| bad_setting("bad_weight", "weight", e))?;
    let kind = crate::input::parse_reporter_kind(b.kind.as_deref().unwrap_or("user"))
        .map_err(|e| bad_setting("bad_kind", "kind", e))?;
    let trusted = crate::input::parse_trusted(&b.trusted)
        .map_err(|e| bad_setting("bad_trusted", "trusted", e))?;
    let token = new_token().map_err(HttpError::unavailable)?;
    let r = app
        .listings
        .add_reporter(&name, weight, kind, trusted, token.clone())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"reporter": r, "token": token})),
    )
        .into_response())
}

async fn update_reporter(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Json(b): Json<ReporterUpdate>,
) -> Reply {
    let trusted = crate::input::parse_trusted(&b.trusted)
        .map_err(|e| bad_setting("bad_trusted", "trusted", e))?;
    let Some(r) = app.listings.set_trusted(&name, trusted).await? else {
        return Err(HttpError::not_found(
            "no_reporter",
            format!("no reporter named {name:?}"),
        ));
    };
    Ok(Json(json!({"reporter": r})).into_response())
}

async fn reporter_action(
    State(app): State<Arc<App>>,
    Path((name, action)): Path<(String, String)>,
) -> Reply {
    let done = match action.as_str() {
        "suspend" => app.listings.suspend_reporter(&name, true).await?,
        "reinstate" => app.listings.suspend_reporter(&name, false).await?,
        "remove" => app.listings.remove_reporter(&name).await?,
        "revert" => match app.listings.revert_reporter(&name, ACTOR).await? {
            Some(r) => {
                return Ok(Json(json!({
                    "reporter": name,
                    "action": action,
                    "keys": r.keys,
                    "evidence_withdrawn": r.evidence_withdrawn,
                    "delisted": r.delisted,
                    "still_listed": r.still_listed,
                }))
                .into_response());
            }
            None => false,
        },
        _ => {
            return Err(HttpError::not_found(
                "bad_action",
                "use suspend, reinstate, remove or revert",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(q: &str) -> Option<String> {
        manual_refusal(&parse_key(q).expect("a key"))
    }

    #[test]
    fn manual_listings_refuse_special_purpose_ipv6_and_its_64s() {
        for (q, says) in [
            ("::1", "::1 would list ::/64, which holds IPv4-mapped"),
            ("::", "::/64, which holds"),
            ("::2", "::/64, which holds"),
            ("::/64", "::/64, which holds"),
            ("::ffff:1.2.3.4", "list 1.2.3.4 itself"),
            (
                "::ffff:10.0.0.1",
                "embeds 10.0.0.1, a special-purpose address (private-use",
            ),
            (
                "64:ff9b::1.2.3.4",
                "would list 64:ff9b::/64, which holds the NAT64 prefix",
            ),
            ("64:ff9b::/64", "NAT64 prefix"),
            ("64:ff9b::1:0:0:1", "NAT64 prefix"),
            ("2002:5102:458e::1", "list 81.2.69.142 itself"),
            ("2002:5102:458e:1::/64", "list 81.2.69.142 itself"),
            ("2002:0a00:0001::1", "embeds 10.0.0.1, a special-purpose"),
            ("2001::1", "Teredo"),
            ("2001:0:4136:e378::/64", "Teredo"),
            ("2001:db8::1", "documentation"),
            ("2001:db8:1:2::/64", "documentation"),
            ("fd00:1::5", "unique local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("100::/64", "discard-only"),
            ("4000::1", "not global unicast"),
            ("10.0.0.1", "private-use"),
            ("127.0.0.2", "loopback"),
        ] {
            let why = refusal(q).unwrap_or_else(|| panic!("{q} accepted"));
            assert!(why.contains(says), "{q}: {why}");
        }
        for ok in [
            "2a02:1810:8c00::17",
            "2a02:1810:8c00::/64",
            "2001:4860:4860::8888",
            "89.160.20.112",
            "example.com",
        ] {
            assert_eq!(refusal(ok), None, "{ok}");
        }
    }
}
