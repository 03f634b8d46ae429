//! `POST /api/v1/reports`: a reporter hands in one raw spam sample;
//! `POST /api/v1/reports/withdraw`: it takes one back ("not spam").
//!
//! The body is the raw message (RFC 5322) or an ARF feedback report; the
//! answer says what was extracted, what each affected key's score is now
//! and whether it is listed, and what was rejected and why. Errors are
//! JSON too ([`HttpError`]) and never leave anything half written: the
//! store commits a report and all its effects together, or nothing.
//!
//! Everything that can refuse a report is checked before its body is read:
//! a report slot, the token, the reporter's rate and daily quotas, the
//! declared size, and room in the body-byte budgets (all reporters
//! together, and this reporter). Only then is the body read, as a stream,
//! within the body deadline and the size limit. A client without a valid
//! token therefore gets its 401 at once, whatever `Content-Length` it
//! announced, and costs no memory.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fadelist_core::keys::Category;
use fadelist_ingest::{ExtractError, ExtractOptions, Extraction};
use fadelist_store::correction::Withdrawal;
use fadelist_store::{Read as _, Reporter, StoredRaw};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::error::HttpError;
use crate::listings::{Recorded, Submission};

/// Query parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// spam (default), phishing or malware.
    pub category: Option<String>,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The reporter of the bearer token: active, and within its rate.
async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Reporter, HttpError> {
    let Some(token) = bearer(headers).map(str::to_string) else {
        return Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <token>",
        ));
    };
    let reporter = app
        .reads
        .read(move |r| r.reporter_by_token(&token))
        .await?
        .ok_or_else(|| HttpError::new(StatusCode::UNAUTHORIZED, "unauthorized", "unknown token"))?;
    if reporter.suspended || reporter.removed {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "suspended",
            format!("reporter {} is suspended", reporter.name),
        ));
    }
    if let Err(wait) = app
        .limits
        .reports
        .check(&reporter.id, crate::clock::monotonic())
    {
        return Err(HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "over {} reports per minute",
                app.config.ingest.rate_per_minute
            ),
        )
        .retry_after(wait.secs()));
    }
    Ok(reporter)
}

fn too_large(app: &App) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the message is larger than {} bytes",
            app.config.ingest.max_message_bytes
        ),
    )
}

/// The declared `Content-Length`: `Ok(None)` when absent (a chunked body),
/// 400 when unreadable, 413 at once when above the limit.
fn declared_length(app: &App, headers: &HeaderMap) -> Result<Option<usize>, HttpError> {
    let Some(v) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    let n = v
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                "bad_length",
                "unreadable Content-Length",
            )
        })?;
    if n > app.config.ingest.max_message_bytes as u64 {
        return Err(too_large(app));
    }
    Ok(Some(n as usize))
}

/// Takes `bytes` from the reporter's daily byte quota.
fn charge_bytes(app: &App, reporter: &Reporter, bytes: usize) -> Result<(), HttpError> {
    app.limits
        .daily_bytes
        .check_n(&reporter.id, bytes as u64, crate::clock::monotonic())
        .map_err(|wait| {
            HttpError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "daily_bytes_quota",
                format!(
                    "reporter {} is over its quota of {} bytes of mail per day; the allowance \
                     refills continuously",
                    reporter.name, app.config.ingest.reporter_daily_bytes
                ),
            )
            .retry_after(wait.secs())
        })
}

/// Reads the raw message: within the body deadline (408), not over the
/// size limit however it is sent (413), not empty (422).
async fn read_body(app: &App, body: Body, declared: Option<usize>) -> Result<Bytes, HttpError> {
    let limit = app.config.ingest.max_message_bytes;
    // The declared length is within the limit and reserved in the byte
    // budgets; pages are only touched as bytes arrive.
    let mut buf = Vec::with_capacity(declared.unwrap_or(64 * 1024).min(limit));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if crate::httpd::BodyTimeout::is(&e) {
                HttpError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    format!(
                        "the message did not arrive within {} s; send it faster or in one piece",
                        app.config.server.http_body_timeout.as_secs()
                    ),
                )
            } else {
                HttpError::new(StatusCode::BAD_REQUEST, "bad_body", e.to_string())
            }
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(too_large(app));
            }
            buf.extend_from_slice(&data);
        }
    }
    if buf.is_empty() {
        return Err(HttpError::invalid(
            "empty",
            "the body is empty; send the raw message",
        ));
    }
    Ok(Bytes::from(buf))
}

fn extraction_json(x: &Extraction) -> Value {
    let source = match &x.source {
        Ok(s) => {
            json!({"ip": s.ip.to_string(), "as_written": s.as_written.to_string(), "received_hop": s.hop_index})
        }
        Err(why) => json!({"ip": null, "reason": why.to_string()}),
    };
    json!({
        "message_id": x.message_id,
        "subject": x.subject,
        "date": x.date,
        "arf": x.arf.as_ref().map(|a| json!({"feedback_type": a.feedback_type, "source_ip": a.source_ip.map(|i| i.to_string())})),
        "forwarded_attachment": x.forwarded_attachment,
        "source": source,
        "hops": x.hops.iter().map(|h| json!({
            "index": h.index,
            "ip": h.ip.map(|i| i.to_string()),
            "helo": h.helo,
            "verdict": h.verdict.tag(),
            "verdict_reason": h.verdict.reason(),
        })).collect::<Vec<_>>(),
        "domains": x.domains.iter().map(|d| json!({"domain": d.domain, "example": d.example, "found_in": d.found_in.tag()})).collect::<Vec<_>>(),
        "ip_literals": x.ip_literals.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "bulk": {"is_bulk": x.bulk.is_bulk, "signals": x.bulk.signals.iter().map(|s| json!({"signal": s.tag(), "detail": s.to_string()})).collect::<Vec<_>>()},
        "warnings": x.warnings,
    })
}

/// A request whose reporter, size and quotas were checked, and whose body
/// was then read. The guards hold the report slot and the byte budgets
/// until the handler is done with the message (parsing holds it too).
struct Admitted<'a> {
    reporter: Reporter,
    body: Bytes,
    _slot: tokio::sync::SemaphorePermit<'a>,
    _reporter_bytes: crate::limits::Held<i64>,
    _bytes: tokio::sync::SemaphorePermit<'a>,
}

/// Everything before the parser, for reports and withdrawals alike: a
/// report slot, the token, the disk, the declared size, the byte budgets,
/// the daily quotas, then the body (see the module header for the order).
/// `check` runs after authentication and before anything is reserved
/// (a bad query parameter is refused without touching the budgets).
async fn admit<'a>(
    app: &'a App,
    headers: &HeaderMap,
    body: Body,
    check: impl FnOnce() -> Result<(), HttpError>,
) -> Result<Admitted<'a>, HttpError> {
    // First, before any store work: when reports arrive faster than the
    // store commits them (a slow disk, or DNS load taking the CPU from the
    // lower-priority writer), refuse rather than queue without bound.
    let Ok(slot) = app.limits.report_slots.try_acquire() else {
        return Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!(
                "{} reports are being processed; retry shortly",
                app.config.ingest.max_pending_reports
            ),
        )
        .retry_after(1));
    };
    let reporter = authenticate(app, headers).await?;
    // A full disk refuses the write anyway: say so before the body is
    // read and parsed, not after.
    app.listings.writable()?;
    check()?;
    let declared = declared_length(app, headers)?;
    // Room for the body before reading it: what it says it is, or as much
    // as a message may be when it does not say.
    let reserve = declared.unwrap_or(app.config.ingest.max_message_bytes);
    let reporter_bytes = app
        .limits
        .reporter_bytes
        .try_take(&reporter.id, reserve as u64)
        .ok_or_else(|| {
            HttpError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_much_in_flight",
                format!(
                    "reporter {} is already sending {} bytes of reports at once; wait for those \
                     answers",
                    reporter.name, app.config.ingest.reporter_body_bytes_in_flight
                ),
            )
            .retry_after(1)
        })?;
    let bytes = app
        .limits
        .body_bytes
        .try_acquire_many(u32::try_from(reserve).unwrap_or(u32::MAX))
        .map_err(|_| {
            HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many report bytes are being received; retry shortly",
            )
            .retry_after(1)
        })?;
    if let Err(wait) = app
        .limits
        .daily_reports
        .check(&reporter.id, crate::clock::monotonic())
    {
        return Err(HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "daily_reports_quota",
            format!(
                "reporter {} is over its quota of {} reports per day; the allowance refills \
                 continuously",
                reporter.name, app.config.ingest.reporter_daily_reports
            ),
        )
        .retry_after(wait.secs()));
    }
    if let Some(n) = declared {
        charge_bytes(app, &reporter, n)?;
    }
    let body = read_body(app, body, declared).await?;
    if declared.is_none() {
        charge_bytes(app, &reporter, body.len())?;
    }
    Ok(Admitted {
        reporter,
        body,
        _slot: slot,
        _reporter_bytes: reporter_bytes,
        _bytes: bytes,
    })
}

/// The parser options for `reporter`'s messages: its trusted networks are
/// skipped in the `Received` chain.
fn extract_options(app: &App, reporter: &Reporter) -> ExtractOptions {
    let mut opts = ExtractOptions {
        max_domains: app.config.ingest.max_domains,
        max_message_bytes: app.config.ingest.max_message_bytes,
        never_list_domains: app.listings.rules().never_domains().to_vec(),
        ..ExtractOptions::default()
    };
    opts.trusted.extend(
        reporter
            .trusted
            .iter()
            .filter_map(|t| t.parse::<ipnet::IpNet>().ok()),
    );
    opts
}

/// The parser's refusal as an HTTP error.
fn extract_error(e: ExtractError) -> HttpError {
    match e {
        ExtractError::TooLarge { .. } => {
            HttpError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        }
        other => HttpError::invalid("unparseable", other.to_string()),
    }
}

/// The handler: admit, authenticate, parse; the listings service does
/// the rest. The body is taken as a stream and read last (see the module
/// header). Every answer is counted for the metrics: accepted (new or
/// duplicate) or refused by error code.
pub async fn post_report(
    State(app): State<Arc<App>>,
    Query(params): Query<ReportParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let arrived = crate::clock::monotonic();
    let answer = handle_report(&app, params, headers, body, arrived).await;
    match &answer {
        Ok(r) if r.status() == StatusCode::ACCEPTED => app.reports.accepted(),
        Ok(_) => app.reports.duplicate(),
        Err(e) => app.reports.refused(e.code),
    }
    answer
}

async fn handle_report(
    app: &Arc<App>,
    params: ReportParams,
    headers: HeaderMap,
    body: Body,
    arrived: std::time::Instant,
) -> Result<Response, HttpError> {
    let app = app.clone();
    let category = match params.category.as_deref() {
        None => Ok(Category::Spam),
        Some(c) => Category::parse(c).ok_or_else(|| {
            HttpError::invalid(
                "bad_category",
                "category must be spam, phishing, malware or newsletter",
            )
        }),
    };
    let Admitted { reporter, body, .. } = admit(&app, &headers, body, || {
        category.as_ref().map(|_| ()).map_err(Clone::clone)
    })
    .await?;
    let category = category?;
    let opts = extract_options(&app, &reporter);
    // Parsing, the answer's JSON and compression are CPU work on hostile
    // input: on the parser threads (below DNS), and off the single writer.
    let (extraction, extracted, raw) = app
        .parsers
        .run(move |_| {
            let x = fadelist_ingest::extract(&body, &opts)?;
            let json = extraction_json(&x).to_string();
            Ok::<_, ExtractError>((x, json, StoredRaw::lz4(&body)))
        })
        .await
        .ok_or_else(|| HttpError::invalid("unparseable", "the message could not be parsed"))?
        .map_err(extract_error)?;

    let submission = Submission {
        reporter_id: reporter.id,
        weight: reporter.weight,
        category,
        trap: reporter.kind == fadelist_store::ReporterKind::Trap,
        extracted,
        extraction,
        raw,
        received_at: crate::clock::unix_now() as i64,
        arrived,
    };
    Ok(match app.listings.record_report(submission).await? {
        Recorded::New { answer, .. } => (
            StatusCode::ACCEPTED,
            [(header::CONTENT_TYPE, "application/json")],
            answer,
        )
            .into_response(),
        Recorded::Duplicate {
            report_id,
            first_answer,
        } => (
            StatusCode::OK,
            Json(json!({
                "duplicate": true,
                "report_id": report_id,
                "message": "this message was already reported by this reporter; it counts once",
                "first_answer": first_answer,
            })),
        )
            .into_response(),
    })
}

/// `POST /api/v1/reports/withdraw`: a "not spam" correction. The body is
/// the same raw message the reporter reported (a user moved it back out
/// of Junk); the server finds that report by its Message-ID and body hash,
/// as the parser computes them, and withdraws it
/// ([`fadelist_store::correction`]). Admitted like a report — same token,
/// rates, quotas and byte budgets — since it costs the same parse.
///
/// 200 `{"withdrawn": id, "keys": […], "delisted": […]}`; 200 with
/// `"already_withdrawn": true` and nothing changed for a repeat; 404
/// `no_such_report` when this reporter never reported the message.
pub async fn post_withdraw(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let Admitted { reporter, body, .. } = admit(&app, &headers, body, || Ok(())).await?;
    let opts = extract_options(&app, &reporter);
    // Only the dedupe key is needed, but it must be computed exactly as
    // for the report (the same parser, the same options), or the report
    // would not be found.
    let x = app
        .parsers
        .run(move |_| fadelist_ingest::extract(&body, &opts))
        .await
        .ok_or_else(|| HttpError::invalid("unparseable", "the message could not be parsed"))?
        .map_err(extract_error)?;
    let keys = |v: &[fadelist_store::Delisted]| {
        v.iter()
            .map(|d| json!({"zone": d.zone, "key": d.key}))
            .collect::<Vec<_>>()
    };
    Ok(
        match app
            .listings
            .withdraw_report(reporter.id, x.message_id.clone(), x.body_hash)
            .await?
        {
            Withdrawal::Withdrawn(w) => Json(json!({
                "withdrawn": w.report_id,
                "message_id": x.message_id,
                "keys": keys(&w.keys),
                "delisted": keys(&w.delisted),
                "still_listed": keys(&w.still_listed),
            }))
            .into_response(),
            Withdrawal::AlreadyWithdrawn {
                report_id,
                withdrawn_at,
            } => Json(json!({
                "withdrawn": report_id,
                "already_withdrawn": true,
                "withdrawn_at": withdrawn_at,
                "message_id": x.message_id,
                "keys": [],
                "delisted": [],
                "message": "this report was withdrawn before; nothing changed",
            }))
            .into_response(),
            Withdrawal::NoSuchReport => {
                return Err(HttpError::new(
                    StatusCode::NOT_FOUND,
                    "no_such_report",
                    format!(
                        "reporter {} has no report of this message (Message-ID {}) to withdraw",
                        reporter.name,
                        x.message_id.as_deref().unwrap_or("(none)")
                    ),
                ));
            }
        },
    )
}
