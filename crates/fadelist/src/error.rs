//! The one error type of the HTTP side.
//!
//! API routes answer `{"error": code, "message": text}` with the status;
//! HTML routes answer the same error as a page ([`HttpError::page`]). The
//! store being unavailable is a 503 with a generic message everywhere; what
//! went wrong inside goes to the log, never to the client.

use askama::Template;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::listings::ServiceError;

/// An HTTP error: status, machine-readable code, human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The status.
    pub status: StatusCode,
    /// A stable code for programs (`unauthorized`, `store_unavailable`, …).
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Seconds to send in `Retry-After`.
    pub retry_after: Option<u64>,
    /// Answer as an HTML page instead of JSON.
    html: bool,
}

impl HttpError {
    /// A new (JSON) error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        HttpError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            html: false,
        }
    }

    /// 422 with `code`.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        HttpError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 503: the database cannot be used. `detail` goes to the log only.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::error!("store unavailable: {detail}");
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the database is unavailable; retry later",
        )
        .retry_after(5)
    }

    /// Adds a `Retry-After`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The same error as an HTML page (for routes people open).
    pub fn page(mut self) -> Self {
        self.html = true;
        self
    }
}

impl From<ServiceError> for HttpError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Busy { pending } => HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!("{pending} writes are waiting; retry shortly"),
            )
            .retry_after(1),
            // The store refusing a value is the client's doing, not an
            // outage: handlers check first, these are the last line.
            ServiceError::Store(fadelist_store::StoreError::Exists(what)) => HttpError::new(
                StatusCode::CONFLICT,
                "exists",
                format!("{what} already exists"),
            ),
            ServiceError::Store(fadelist_store::StoreError::Invalid(why)) => {
                HttpError::new(StatusCode::BAD_REQUEST, "invalid", why)
            }
            // Below `[store] min_free_disk` (logged once by the disk check,
            // not per request): the client may come back, nothing is wrong
            // with what it sent.
            ServiceError::DiskFull { .. } => HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "disk_full",
                "the server is short of disk space: reports, delisting requests and changes are \
                 paused until space is freed (lookups and DNS still work); retry later",
            )
            .retry_after(60),
            other => HttpError::unavailable(other),
        }
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut r = if self.html {
            let page = ErrorPage {
                status: self.status.as_u16(),
                title: self.status.canonical_reason().unwrap_or("Error"),
                message: &self.message,
            };
            render(&page, self.status)
        } else {
            (
                self.status,
                Json(serde_json::json!({"error": self.code, "message": self.message})),
            )
                .into_response()
        };
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// Renders a page template with `status`; a template that fails is a 500
/// (and a log line), never a panic.
pub fn render(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(h) => (status, Html(h)).into_response(),
        Err(e) => {
            tracing::error!("page rendering failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
        }
    }
}

/// Compares two secrets in time that depends only on their lengths (a
/// byte-by-byte early exit would tell an attacker how much was right).
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"x"));
    }

    #[tokio::test]
    async fn json_and_page_forms() {
        let e = HttpError::unavailable("disk I/O error at /secret/path").retry_after(3);
        let r = e.clone().into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
        let body = axum::body::to_bytes(r.into_body(), 10_000).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "store_unavailable");
        assert!(!String::from_utf8_lossy(&body).contains("/secret/path"));
        let r = e.page().into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(r.into_body(), 100_000).await.unwrap();
        let html = String::from_utf8_lossy(&body);
        assert!(
            html.contains("<html") && html.contains("retry later"),
            "{html}"
        );
        assert!(!html.contains("/secret/path"));
    }
}
