//! Self-service delisting: the HTML form (`GET/POST /delist`) and the JSON
//! API (`POST /api/v1/delistings`).
//!
//! Delisting is free (RFC 6471). A key's first `self_service_limit`
//! removals within `self_service_window` are immediate and reach DNS at
//! once; later ones go to the review queue. Without third-party services,
//! the form defends itself with: a per-client-IP rate limit (429 with
//! Retry-After), an HMAC-signed token carrying the time the form was
//! served (refused when sent too fast — bots — or too late), a honeypot
//! field humans never see, a bounded body, and escaping of everything the
//! user typed wherever it is shown.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fadelist_core::keys::ListingKey;
use fadelist_store::{DelistOutcome, DelistResult};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::app::App;
use crate::error::{HttpError, render};

/// Longest accepted explanation, characters.
pub const MAX_EXPLANATION: usize = 2000;

/// A signed form token: `<issued-at>.<hex HMAC-SHA256>`.
pub fn form_token(secret: &[u8], issued_at: i64) -> String {
    format!("{issued_at}.{}", sign(secret, issued_at))
}

fn sign(secret: &[u8], issued_at: i64) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("fadelist-delist|{issued_at}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a form token is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenProblem {
    /// Not a token we issued.
    Invalid,
    /// Sent sooner than the minimum fill time.
    TooFast,
    /// Older than the maximum age.
    Expired,
}

/// Checks a form token at `now`.
pub fn check_token(
    secret: &[u8],
    token: &str,
    now: i64,
    min_fill: i64,
    max_age: i64,
) -> Result<(), TokenProblem> {
    let (at, mac) = token.split_once('.').ok_or(TokenProblem::Invalid)?;
    let at: i64 = at.parse().map_err(|_| TokenProblem::Invalid)?;
    if !crate::error::same_secret(sign(secret, at).as_bytes(), mac.as_bytes()) {
        return Err(TokenProblem::Invalid);
    }
    if now - at < min_fill {
        return Err(TokenProblem::TooFast);
    }
    if now - at > max_age {
        return Err(TokenProblem::Expired);
    }
    Ok(())
}

fn valid_email(e: &str) -> bool {
    let e = e.trim();
    e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
}

/// A validated request.
struct Request {
    key: ListingKey,
    email: String,
    explanation: String,
}

fn validate(key: &str, email: &str, explanation: &str) -> Result<Request, String> {
    let key = crate::input::parse_key(key).map_err(|e| e.0)?.key;
    if !valid_email(email) {
        return Err("Enter a contact e-mail address we can reach you at.".into());
    }
    let explanation = explanation.trim();
    if explanation.is_empty() {
        return Err(
            "Tell us briefly what was fixed (for example: the compromised account was closed)."
                .into(),
        );
    }
    if explanation.chars().count() > MAX_EXPLANATION {
        return Err(format!(
            "The explanation is longer than {MAX_EXPLANATION} characters."
        ));
    }
    Ok(Request {
        key,
        email: email.trim().to_string(),
        explanation: explanation.to_string(),
    })
}

/// JSON body of `POST /api/v1/delistings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelistJson {
    /// IP or domain.
    pub key: String,
    /// Contact e-mail.
    pub email: String,
    /// What was fixed.
    pub explanation: String,
}

fn too_many(wait: u64) -> HttpError {
    HttpError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many delisting requests from your address; retry later.",
    )
    .retry_after(wait)
}

/// `POST /api/v1/delistings`.
pub async fn api_delist(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<DelistJson>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, HttpError> {
    app.limits
        .delist
        .check(peer.ip(), crate::clock::monotonic())
        .map_err(too_many)?;
    let Json(b) = body.map_err(|e| HttpError::invalid("bad_body", e.body_text()))?;
    let req =
        validate(&b.key, &b.email, &b.explanation).map_err(|m| HttpError::invalid("invalid", m))?;
    let r = app
        .listings
        .request_delisting(&req.key, peer.ip(), req.email, req.explanation)
        .await?;
    let status = if r.outcome == DelistOutcome::Queued {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(serde_json::json!({
            "request_id": r.id,
            "outcome": r.outcome,
            "zones": r.zones,
            "message": outcome_message(&r),
        })),
    )
        .into_response())
}

fn outcome_message(r: &DelistResult) -> String {
    match r.outcome {
        DelistOutcome::Removed => format!(
            "Removed from {} now; DNS answers change within a second (resolvers may cache the old answer for its TTL). New reports can list it again, for longer each time.",
            r.zones.join(", ")
        ),
        DelistOutcome::Queued => format!(
            "This key was already removed {} recently, so the request waits for a person to review it; you will hear back at the address you gave. The listing stays until then, and expires by itself if no new reports arrive.",
            if r.recent_removals == 1 {
                "once".to_string()
            } else {
                format!("{} times", r.recent_removals)
            }
        ),
        DelistOutcome::NotListed => "Not listed in any report-fed zone: nothing to remove.".into(),
    }
}

/// The delisting form.
#[derive(Template)]
#[template(path = "delist.html")]
struct DelistForm<'a> {
    key: &'a str,
    email: &'a str,
    explanation: &'a str,
    token: String,
    error: Option<String>,
    max: usize,
}

/// The result page.
#[derive(Template)]
#[template(path = "delist_done.html")]
struct DelistDone {
    key: String,
    outcome: &'static str,
    message: String,
}

/// Query of `GET /delist`.
#[derive(Debug, Deserialize)]
pub struct FormParams {
    /// Pre-filled key.
    pub q: Option<String>,
}

fn form(
    app: &App,
    key: &str,
    email: &str,
    explanation: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let token = form_token(&app.form_secret, crate::clock::unix_now() as i64);
    render(
        &DelistForm {
            key,
            email,
            explanation,
            token,
            error,
            max: MAX_EXPLANATION,
        },
        status,
    )
}

/// `GET /delist`.
pub async fn page_form(State(app): State<Arc<App>>, Query(p): Query<FormParams>) -> Response {
    form(
        &app,
        p.q.as_deref().unwrap_or(""),
        "",
        "",
        None,
        StatusCode::OK,
    )
}

/// Fields of the form.
#[derive(Debug, Deserialize)]
pub struct FormFields {
    /// IP or domain.
    #[serde(default)]
    pub key: String,
    /// Contact e-mail.
    #[serde(default)]
    pub email: String,
    /// What was fixed.
    #[serde(default)]
    pub explanation: String,
    /// The signed token.
    #[serde(default)]
    pub token: String,
    /// Honeypot: hidden from people, filled in by naive bots.
    #[serde(default)]
    pub website: String,
}

/// `POST /delist`.
pub async fn page_submit(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<axum::Form<FormFields>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(wait) = app
        .limits
        .delist
        .check(peer.ip(), crate::clock::monotonic())
    {
        let mut r = form(
            &app,
            "",
            "",
            "",
            Some(format!(
                "Too many requests from your address. Please try again in {wait} seconds."
            )),
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let axum::Form(f) = match body {
        Ok(f) => f,
        Err(e) => {
            return form(
                &app,
                "",
                "",
                "",
                Some(format!("The form could not be read: {}", e.body_text())),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    let again = |msg: &str, status| {
        form(
            &app,
            &f.key,
            &f.email,
            &f.explanation,
            Some(msg.to_string()),
            status,
        )
    };
    if !f.website.is_empty() {
        // Say no more than needed: bots learn from detailed refusals.
        return again(
            "The request could not be accepted.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let w = &app.config.web;
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    match check_token(
        &app.form_secret,
        &f.token,
        crate::clock::unix_now() as i64,
        secs(w.form_min_fill),
        secs(w.form_max_age),
    ) {
        Ok(()) => {}
        Err(TokenProblem::TooFast) => {
            return again(
                "That was faster than a person fills in a form. Please check the fields and send it again.",
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(TokenProblem::Expired) => {
            return again(
                "This form has expired. Please send it again.",
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(TokenProblem::Invalid) => {
            return again(
                "The form token is missing or invalid. Please send the form again.",
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    }
    let req = match validate(&f.key, &f.email, &f.explanation) {
        Ok(r) => r,
        Err(m) => return again(&m, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let key = req.key.to_string();
    match app
        .listings
        .request_delisting(&req.key, peer.ip(), req.email, req.explanation)
        .await
    {
        Ok(r) => render(
            &DelistDone {
                key,
                outcome: match r.outcome {
                    DelistOutcome::Removed => "Removed",
                    DelistOutcome::Queued => "Queued for review",
                    DelistOutcome::NotListed => "Not listed",
                },
                message: outcome_message(&r),
            },
            StatusCode::OK,
        ),
        Err(e) => HttpError::from(e).page().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let s = b"secret";
        let t = form_token(s, 1000);
        assert_eq!(check_token(s, &t, 1005, 3, 3600), Ok(()));
        assert_eq!(
            check_token(s, &t, 1001, 3, 3600),
            Err(TokenProblem::TooFast)
        );
        assert_eq!(
            check_token(s, &t, 1000 + 3601, 3, 3600),
            Err(TokenProblem::Expired)
        );
        assert_eq!(
            check_token(b"other", &t, 1005, 3, 3600),
            Err(TokenProblem::Invalid)
        );
        let forged = t.replacen("1000.", "900.", 1);
        assert_eq!(
            check_token(s, &forged, 1005, 3, 3600),
            Err(TokenProblem::Invalid)
        );
        assert_eq!(
            check_token(s, "garbage", 1005, 3, 3600),
            Err(TokenProblem::Invalid)
        );
    }

    #[test]
    fn validation() {
        assert!(validate("192.0.2.1", "ops@example.net", "fixed").is_ok());
        assert_eq!(
            validate("www.Example.co.uk", "a@b.cd", "x").map(|r| r.key.to_string()),
            Ok("example.co.uk".into())
        );
        assert!(validate("nonsense!", "ops@example.net", "fixed").is_err());
        assert!(validate("192.0.2.1", "not an email", "fixed").is_err());
        assert!(validate("192.0.2.1", "ops@example.net", "   ").is_err());
        assert!(
            validate(
                "192.0.2.1",
                "ops@example.net",
                &"x".repeat(MAX_EXPLANATION + 1)
            )
            .is_err()
        );
    }
}
