//! `POST /api/v1/reports`: a reporter hands in one raw spam sample.
//!
//! The body is the raw message (RFC 5322) or an ARF feedback report; the
//! answer says what was extracted, what each affected key's score is now
//! and whether it is listed, and what was rejected and why. Errors are
//! JSON too (`{"error": …, "message": …}`) and never leave anything half
//! written: the store commits a report and all its effects in one
//! transaction, or nothing.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fadelist_core::keys::ListingKey;
use fadelist_ingest::{ExtractError, ExtractOptions, Extraction};
use fadelist_store::{KeyOutcome, NewReport};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Feed;
use crate::pipeline::{App, FeedChanges};

/// An API error: status, machine-readable code, human message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn unavailable(e: impl std::fmt::Display) -> Self {
        tracing::error!("store unavailable: {e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the database is unavailable; retry later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

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
            "verdict": format!("{:?}", h.verdict),
        })).collect::<Vec<_>>(),
        "domains": x.domains.iter().map(|d| json!({"domain": d.domain, "example": d.example, "found_in": format!("{:?}", d.found_in)})).collect::<Vec<_>>(),
        "ip_literals": x.ip_literals.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "bulk": {"is_bulk": x.bulk.is_bulk, "signals": x.bulk.signals.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>()},
        "warnings": x.warnings,
    })
}

/// The handler.
pub async fn post_report(
    State(app): State<Arc<App>>,
    Query(params): Query<ReportParams>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // First, before any store work: when reports arrive faster than the
    // store commits them (a slow disk, or DNS load taking the CPU from the
    // lower-priority writer), refuse rather than queue without bound.
    let Ok(_slot) = app.report_slots.try_acquire() else {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!(
                "{} reports are being processed; retry shortly",
                app.config.ingest.max_pending_reports
            ),
        );
        e.retry_after = Some(1);
        return Err(e);
    };
    let Some(token) = bearer(&headers).map(str::to_string) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <token>",
        ));
    };
    let reporter = app
        .store
        .call(move |s| s.reporter_by_token(&token))
        .await
        .map_err(ApiError::unavailable)?
        .map_err(ApiError::unavailable)?;
    let Some(reporter) = reporter else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown token",
        ));
    };
    if reporter.suspended || reporter.removed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "suspended",
            format!("reporter {} is suspended", reporter.name),
        ));
    }
    if let Err(wait) = app.rate.check(reporter.id, crate::clock::monotonic()) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "over {} reports per minute",
                app.config.ingest.rate_per_minute
            ),
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    let category = params.category.unwrap_or_else(|| "spam".into());
    if !crate::feeds::CATEGORIES.iter().any(|(c, _)| *c == category) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_category",
            "category must be spam, phishing or malware",
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the message is larger than {} bytes",
                    app.config.ingest.max_message_bytes
                ),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_body", e.body_text())
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty",
            "the body is empty; send the raw message",
        ));
    }

    // Parsing is CPU work on hostile input: keep it off the async threads.
    let mut opts = ExtractOptions {
        max_domains: app.config.ingest.max_domains,
        max_message_bytes: app.config.ingest.max_message_bytes,
        never_list_domains: app.never_domains.clone(),
        ..ExtractOptions::default()
    };
    for t in &reporter.trusted {
        if let Ok(n) = t.parse() {
            opts.trusted.push(n);
        }
    }
    let raw = body.clone();
    let extraction = tokio::task::spawn_blocking(move || fadelist_ingest::extract(&raw, &opts))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unparseable",
                "the message could not be parsed",
            )
        })?
        .map_err(|e| match e {
            ExtractError::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            other => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unparseable",
                other.to_string(),
            ),
        })?;

    let store_never = app
        .store
        .call(|s| s.never_list())
        .await
        .map_err(ApiError::unavailable)?
        .map_err(ApiError::unavailable)?
        .into_iter()
        .map(|(e, r, _)| (e, r))
        .collect::<Vec<_>>();
    let now = crate::clock::unix_now() as i64;
    let mut rejected: Vec<Value> = Vec::new();
    let mut keys = Vec::new();
    let ip_feed = if extraction.bulk.is_bulk {
        Feed::BulkIp
    } else {
        Feed::Ip
    };
    let ip_zone = app.feed_zone(ip_feed);
    let dom_zone = app.feed_zone(Feed::Domain);
    let url_ip_zone = app.feed_zone(Feed::Ip);
    let too_old = ip_zone
        .as_deref()
        .map(|z| app.policy(z).too_old(extraction.date, now))
        .unwrap_or(false);
    if too_old {
        rejected.push(json!({"key": null, "reason": "the reported mail is older than max_report_age; kept, but it counts for nothing"}));
    } else {
        match &extraction.source {
            Ok(src) => match (&ip_zone, app.ip_never(src.ip, &store_never)) {
                (_, Some(why)) => rejected.push(json!({"key": src.ip.to_string(), "reason": why})),
                (None, None) => rejected
                    .push(json!({"key": src.ip.to_string(), "reason": "no zone takes this feed"})),
                (Some(z), None) => {
                    keys.push(app.key_input(z, &ListingKey::for_ip(src.ip), &category))
                }
            },
            Err(why) => {
                rejected.push(json!({"key": null, "reason": format!("no source IP: {why}")}))
            }
        }
        for ip in &extraction.ip_literals {
            match (&url_ip_zone, app.ip_never(*ip, &store_never)) {
                (_, Some(why)) => rejected.push(json!({"key": ip.to_string(), "reason": why})),
                (Some(z), None) => {
                    let k = app.key_input(z, &ListingKey::for_ip(*ip), &category);
                    if !keys.iter().any(|x| x.zone == k.zone && x.key == k.key) {
                        keys.push(k);
                    }
                }
                (None, None) => {}
            }
        }
        for d in &extraction.domains {
            match (&dom_zone, app.domain_never(&d.domain, &store_never)) {
                (_, Some(why)) => rejected.push(json!({"key": d.domain, "reason": why})),
                (Some(z), None) => {
                    keys.push(app.key_input(z, &ListingKey::Domain(d.domain.clone()), &category))
                }
                (None, None) => {}
            }
        }
    }
    for (d, why) in &extraction.skipped_domains {
        rejected.push(json!({"key": d, "reason": format!("{why:?}")}));
    }

    let extracted = extraction_json(&extraction);
    let message_id = extraction.message_id.clone();
    let subject = extraction.subject.clone();
    let body_hash = extraction.body_hash.clone();
    let weight = reporter.weight;
    let reporter_id = reporter.id;
    let rejected_c = rejected.clone();
    let extracted_c = extracted.clone();
    let result = app
        .store_then_publish(move |s| {
            let report = NewReport {
                reporter_id,
                received_at: now,
                message_id: message_id.as_deref(),
                body_hash: &body_hash,
                category: &category,
                subject: subject.as_deref(),
                raw: &body,
            };
            let r = s.ingest(&report, weight, &keys, |id, outcomes| {
                answer(id, &extracted_c, outcomes, &rejected_c).to_string()
            });
            let changes = match &r {
                Ok(Ok((_, outcomes))) => FeedChanges {
                    listed: outcomes
                        .iter()
                        // A report only ever adds score, so it can list but
                        // never delist: "not listed" changes nothing.
                        .filter(|o| o.listed)
                        .filter_map(|o| {
                            Some((
                                o.zone.clone(),
                                o.key.parse::<ListingKey>().ok()?,
                                Some(o.category.clone()),
                            ))
                        })
                        .collect(),
                    manual: Vec::new(),
                },
                _ => FeedChanges::default(),
            };
            (r, changes)
        })
        .await
        .map_err(ApiError::unavailable)?
        .map_err(ApiError::unavailable)?;
    match result {
        Ok((id, outcomes)) => Ok((
            StatusCode::ACCEPTED,
            Json(answer(id, &extracted, &outcomes, &rejected)),
        )
            .into_response()),
        Err(dup) => {
            let first: Value = serde_json::from_str(&dup.outcome).unwrap_or(Value::Null);
            Ok((
                StatusCode::OK,
                Json(json!({
                    "duplicate": true,
                    "report_id": dup.report_id,
                    "message": "this message was already reported by this reporter; it counts once",
                    "first_answer": first,
                })),
            )
                .into_response())
        }
    }
}

fn answer(id: i64, extracted: &Value, outcomes: &[KeyOutcome], rejected: &[Value]) -> Value {
    json!({
        "report_id": id,
        "duplicate": false,
        "extracted": extracted,
        "keys": outcomes,
        "rejected": rejected,
    })
}
