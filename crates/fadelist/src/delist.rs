//! Self-service delisting: the HTML form (`GET/POST /delist`) and the JSON
//! API (`POST /api/v1/delistings`).
//!
//! Delisting is free (RFC 6471). A key's first `self_service_limit`
//! removals within `self_service_window` are immediate and reach DNS at
//! once; later ones go to the review queue. Without third-party services,
//! both ways in defend themselves:
//!
//! - **Per client** (its address, an IPv6 /64, through trusted proxies
//!   only: [`crate::client`]): `delist_per_minute` requests, form and API
//!   together; more get 429 with `Retry-After`.
//! - **The form**: a token bound to one key and usable once, carrying the
//!   time the form was served and signed (HMAC): refused when sent too
//!   fast (bots), too late, for another key, or a second time; a honeypot
//!   field people never see; a bounded body; everything the user typed is
//!   escaped wherever it is shown. The form is served for one key: the
//!   page without a key first asks which.
//! - **The JSON API** (for operators' scripts, where a form token would
//!   only be fetched and echoed): `api_delist_per_client_per_hour` per
//!   client and `api_delist_per_hour` from everyone together, the latter
//!   so that no number of addresses can delist keys by the thousand;
//!   beyond either, 429 pointing to the form, which people can always use.
//!
//! Every refusal says why and what to do: the JSON API as
//! `{"error", "message"}`, the form on the form page itself.

use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fadelist_core::keys::ListingKey;
use fadelist_store::{DelistOutcome, DelistResult};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::app::App;
use crate::client::Client;
use crate::error::{HttpError, render};
use crate::limits::TokenUse;

/// Longest accepted explanation, characters.
pub const MAX_EXPLANATION: usize = 2000;

/// Random bytes that make each form token different (and usable once).
const NONCE: usize = 16;

/// A form token for `key` (as [`crate::input::parse_key`] normalises it),
/// issued at `issued_at` (Unix seconds), with a fresh random nonce:
/// `<issued-at>.<hex nonce><hex HMAC-SHA256 of both and the key>`.
pub fn form_token(secret: &[u8], issued_at: i64, key: &str) -> String {
    let mut nonce = [0u8; NONCE];
    if getrandom::fill(&mut nonce).is_err() {
        // No randomness: a token that never verifies (the form then
        // says so) rather than a predictable one.
        return format!("{issued_at}.");
    }
    format!(
        "{issued_at}.{}{}",
        hex(&nonce),
        sign(secret, issued_at, &nonce, key)
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sign(secret: &[u8], issued_at: i64, nonce: &[u8], key: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("fadelist-delist|{issued_at}|{}|{key}", hex(nonce)).as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Why a form token is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenProblem {
    /// Not a token we issued for this key.
    Invalid,
    /// Sent sooner than the minimum fill time.
    TooFast,
    /// Older than the maximum age.
    Expired,
}

/// Checks a form token for `key` at `now`; returns its nonce (to be used
/// once: [`crate::limits::UsedTokens`]).
pub fn check_token(
    secret: &[u8],
    token: &str,
    key: &str,
    now: i64,
    min_fill: i64,
    max_age: i64,
) -> Result<[u8; NONCE], TokenProblem> {
    let (at, rest) = token.split_once('.').ok_or(TokenProblem::Invalid)?;
    let at: i64 = at.parse().map_err(|_| TokenProblem::Invalid)?;
    if rest.len() != 2 * NONCE + 64 || !rest.is_ascii() {
        return Err(TokenProblem::Invalid);
    }
    let (nonce_hex, mac) = rest.split_at(2 * NONCE);
    let mut nonce = [0u8; NONCE];
    for (i, b) in nonce.iter_mut().enumerate() {
        *b = u8::from_str_radix(&nonce_hex[2 * i..2 * i + 2], 16)
            .map_err(|_| TokenProblem::Invalid)?;
    }
    if !crate::error::same_secret(sign(secret, at, &nonce, key).as_bytes(), mac.as_bytes()) {
        return Err(TokenProblem::Invalid);
    }
    if now - at < min_fill {
        return Err(TokenProblem::TooFast);
    }
    if now - at > max_age {
        return Err(TokenProblem::Expired);
    }
    Ok(nonce)
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

/// The per-client limit shared by the form and the API.
fn client_rate(app: &App, client: &Client) -> Result<(), u64> {
    app.limits
        .delist
        .check(&client.key, crate::clock::monotonic())
        .map_err(|w| w.secs())
}

/// The JSON API's own limits (after the request was found valid, so that
/// junk does not use up the shared hourly budget).
fn api_hourly(app: &App, client: &Client) -> Result<(), HttpError> {
    let now = crate::clock::monotonic();
    let w = &app.config.web;
    let form = format!("{}/delist", crate::public_base_url(&app.config));
    if let Err(wait) = app.limits.api_delist_client.check(&client.key, now) {
        return Err(HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "api_client_hourly_limit",
            format!(
                "Your address sent {} delisting requests through the API within the hour, the \
                 most it may. Retry in {} s, or use the form at {form}.",
                w.api_delist_per_client_per_hour,
                wait.secs()
            ),
        )
        .retry_after(wait.secs()));
    }
    if let Err(wait) = app.limits.api_delist_all.check(&(), now) {
        return Err(HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "api_hourly_limit",
            format!(
                "The delisting API took {} requests within the hour from all clients together, \
                 the most it takes (a guard against automated mass delisting). Retry in {} s, \
                 or use the form at {form}, which this limit does not apply to.",
                w.api_delist_per_hour,
                wait.secs()
            ),
        )
        .retry_after(wait.secs()));
    }
    Ok(())
}

/// `POST /api/v1/delistings`.
pub async fn api_delist(
    State(app): State<Arc<App>>,
    client: Client,
    body: Result<Json<DelistJson>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, HttpError> {
    client_rate(&app, &client).map_err(|wait| {
        HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "Too many delisting requests from your address (at most {} a minute); retry in \
                 {wait} s.",
                app.config.web.delist_per_minute
            ),
        )
        .retry_after(wait)
    })?;
    let Json(b) = body.map_err(|e| HttpError::invalid("bad_body", e.body_text()))?;
    let req =
        validate(&b.key, &b.email, &b.explanation).map_err(|m| HttpError::invalid("invalid", m))?;
    api_hourly(&app, &client)?;
    let r = app
        .listings
        .request_delisting(&req.key, client.ip, req.email, req.explanation)
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

/// The delisting form: with a token, the form for one key; without, the
/// first step that asks which key.
#[derive(Template)]
#[template(path = "delist.html")]
struct DelistForm<'a> {
    key: &'a str,
    email: &'a str,
    explanation: &'a str,
    token: Option<String>,
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
    /// The key to ask about.
    pub q: Option<String>,
}

/// What the person typed, shown again in a re-rendered form.
#[derive(Default)]
struct Typed<'a> {
    key: &'a str,
    email: &'a str,
    explanation: &'a str,
}

/// The form for the key `typed.key` (with a fresh token bound to it), or
/// the first step with `error` when it is not a key.
fn form(app: &App, typed: Typed<'_>, error: Option<String>, status: StatusCode) -> Response {
    let (token, error, status) = match crate::input::parse_key(typed.key) {
        Ok(k) => (
            Some(form_token(
                &app.form_secret,
                crate::clock::unix_now() as i64,
                &k.key.to_string(),
            )),
            error,
            status,
        ),
        // The first step; say what is wrong with the key only when one was
        // typed.
        Err(e) if !typed.key.trim().is_empty() => {
            (None, error.or(Some(e.0)), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(_) => (None, error, status),
    };
    render(
        &DelistForm {
            key: typed.key,
            email: typed.email,
            explanation: typed.explanation,
            token,
            error,
            max: MAX_EXPLANATION,
        },
        status,
    )
}

/// `GET /delist`.
pub async fn page_form(State(app): State<Arc<App>>, Query(p): Query<FormParams>) -> Response {
    let key = p.q.as_deref().unwrap_or("");
    form(
        &app,
        Typed {
            key,
            ..Typed::default()
        },
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
    client: Client,
    body: Result<axum::Form<FormFields>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(wait) = client_rate(&app, &client) {
        let mut r = form(
            &app,
            Typed::default(),
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
                Typed::default(),
                Some(format!("The form could not be read: {}", e.body_text())),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    let again = |msg: String, status| {
        form(
            &app,
            Typed {
                key: &f.key,
                email: &f.email,
                explanation: &f.explanation,
            },
            Some(msg),
            status,
        )
    };
    if !f.website.is_empty() {
        // Say no more than needed: bots learn from detailed refusals.
        return again(
            "The request could not be accepted.".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let key = match crate::input::parse_key(&f.key) {
        Ok(k) => k.key.to_string(),
        Err(e) => return again(e.0, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let w = &app.config.web;
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let now = crate::clock::unix_now() as i64;
    let nonce = match check_token(
        &app.form_secret,
        &f.token,
        &key,
        now,
        secs(w.form_min_fill),
        secs(w.form_max_age),
    ) {
        Ok(n) => n,
        Err(TokenProblem::TooFast) => {
            return again(
                "That was faster than a person fills in a form. Please check the fields and send it again.".into(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(TokenProblem::Expired) => {
            return again(
                "This form has expired. Please send it again.".into(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(TokenProblem::Invalid) => {
            return again(
                format!(
                    "The form token is invalid: this form was issued for another address or \
                     domain, or its token is missing or damaged. The form below is for {key}: \
                     check it and send it again."
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    // Spent now, whatever follows: a form answers once; the page that
    // comes back carries a new token.
    match app
        .limits
        .used_form_tokens
        .use_once(nonce, now.saturating_add(secs(w.form_max_age)))
    {
        Ok(()) => {}
        Err(TokenUse::AlreadyUsed) => {
            return again(
                "This form was already sent once; a form answers one request. If you meant to \
                 send another, check the fields of the new form below and send it."
                    .into(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(TokenUse::Full) => {
            let mut r = again(
                "Too many delisting requests are being sent right now. Please try again in a few \
                 minutes."
                    .into(),
                StatusCode::SERVICE_UNAVAILABLE,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return r;
        }
    }
    let req = match validate(&f.key, &f.email, &f.explanation) {
        Ok(r) => r,
        Err(m) => return again(m, StatusCode::UNPROCESSABLE_ENTITY),
    };
    match app
        .listings
        .request_delisting(&req.key, client.ip, req.email, req.explanation)
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
        let key = "192.0.2.1";
        let t = form_token(s, 1000, key);
        assert!(check_token(s, &t, key, 1005, 3, 3600).is_ok());
        assert_eq!(
            check_token(s, &t, key, 1001, 3, 3600),
            Err(TokenProblem::TooFast)
        );
        assert_eq!(
            check_token(s, &t, key, 1000 + 3601, 3, 3600),
            Err(TokenProblem::Expired)
        );
        assert_eq!(
            check_token(b"other", &t, key, 1005, 3, 3600),
            Err(TokenProblem::Invalid)
        );
        let forged = t.replacen("1000.", "900.", 1);
        assert_eq!(
            check_token(s, &forged, key, 1005, 3, 3600),
            Err(TokenProblem::Invalid)
        );
        assert_eq!(
            check_token(s, "garbage", key, 1005, 3, 3600),
            Err(TokenProblem::Invalid)
        );
        assert_eq!(
            check_token(s, "1000.zz", key, 1005, 3, 3600),
            Err(TokenProblem::Invalid)
        );
    }

    #[test]
    fn a_token_is_bound_to_its_key_and_unique() {
        let s = b"secret";
        let t = form_token(s, 1000, "192.0.2.1");
        assert_eq!(
            check_token(s, &t, "192.0.2.2", 1005, 3, 3600),
            Err(TokenProblem::Invalid),
            "another key"
        );
        let u = form_token(s, 1000, "192.0.2.1");
        assert_ne!(t, u, "each token has its own nonce");
        let (a, b) = (
            check_token(s, &t, "192.0.2.1", 1005, 3, 3600).unwrap(),
            check_token(s, &u, "192.0.2.1", 1005, 3, 3600).unwrap(),
        );
        assert_ne!(a, b);
        // The shape the browser test and clients see.
        let (at, rest) = t.split_once('.').unwrap();
        assert_eq!(at, "1000");
        assert!(rest.chars().all(|c| c.is_ascii_hexdigit()) && rest.len() == 96);
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
