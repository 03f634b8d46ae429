//! ARF feedback reports (RFC 5965).
//!
//! An ARF report is a `multipart/report; report-type=feedback-report` with
//! three parts: a human-readable text, a `message/feedback-report` part of
//! RFC 822-style fields, and the original message (`message/rfc822`) or just
//! its header (`text/rfc822-headers`). We read the machine-readable fields,
//! keep the reporter's `Source-IP` only as a hint (field notes 5.1: our own
//! parse of the original wins), and analyse the original.

use std::net::IpAddr;

use mail_parser::{DateTime, Message, MimeHeaders, PartType};

use crate::clip;

/// At most this many fields are read from the feedback-report part.
const MAX_FIELDS: usize = 200;
/// Longest field value kept.
const MAX_VALUE_LEN: usize = 998;

/// What the ARF report told us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArfInfo {
    /// `Feedback-Type`, lower-cased: `abuse`, `fraud`, `virus`, `other`,
    /// `not-spam` (RFC 6430), `auth-failure` (RFC 6591), … Empty when the
    /// report part is missing.
    pub feedback_type: String,
    /// `User-Agent` of the reporting software.
    pub user_agent: Option<String>,
    /// `Version` (should be `1`).
    pub version: Option<String>,
    /// `Source-IP`: the reporter's idea of the source. A hint only.
    pub source_ip: Option<IpAddr>,
    /// `Original-Mail-From`.
    pub original_mail_from: Option<String>,
    /// `Original-Rcpt-To` (repeatable).
    pub original_rcpt_to: Vec<String>,
    /// `Arrival-Date` (or the older `Received-Date`), unix seconds.
    pub arrival_date: Option<i64>,
    /// `Reporting-MTA`.
    pub reporting_mta: Option<String>,
    /// `Reported-Domain` (repeatable).
    pub reported_domains: Vec<String>,
    /// `Reported-URI` (repeatable).
    pub reported_uris: Vec<String>,
    /// `Incidents`: how many times this was reported.
    pub incidents: Option<u64>,
    /// What the third part carried.
    pub original: ArfOriginal,
}

/// The form of the original message in an ARF report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArfOriginal {
    /// A full `message/rfc822` (or `message/global`).
    Message,
    /// Only the header (`text/rfc822-headers`): no body, so no domains.
    HeadersOnly,
    /// Neither: the report cannot be attributed.
    #[default]
    Missing,
}

/// True when `msg` is `multipart/report; report-type=feedback-report`.
pub(crate) fn is_arf(msg: &Message<'_>) -> bool {
    msg.parts
        .first()
        .and_then(|p| p.content_type())
        .is_some_and(|ct| {
            ct.ctype() == "multipart"
                && ct.subtype() == Some("report")
                && ct
                    .attribute("report-type")
                    .is_some_and(|t| t.eq_ignore_ascii_case("feedback-report"))
        })
}

/// The report fields, from the first `message/feedback-report` part.
pub(crate) fn read_report(msg: &Message<'_>) -> Option<ArfInfo> {
    let part = msg.parts.iter().find(|p| {
        p.content_type()
            .is_some_and(|ct| ct.ctype() == "message" && ct.subtype() == Some("feedback-report"))
    })?;
    let bytes: &[u8] = match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b,
        _ => return None,
    };
    Some(parse_fields(&String::from_utf8_lossy(bytes)))
}

/// Parses RFC 822-style `Name: value` lines with folding.
fn parse_fields(text: &str) -> ArfInfo {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut()
                && v.len() < MAX_VALUE_LEN
            {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if fields.len() >= MAX_FIELDS {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let mut info = ArfInfo::default();
    for (name, value) in fields {
        let value = clip(&value, MAX_VALUE_LEN);
        match name.as_str() {
            "feedback-type" => info.feedback_type = value.to_ascii_lowercase(),
            "user-agent" => info.user_agent = Some(value),
            "version" => info.version = Some(value),
            "source-ip" => {
                let v = value.trim_matches(['[', ']']);
                let v = v.strip_prefix("IPv6:").unwrap_or(v);
                info.source_ip = v.parse().ok();
            }
            "original-mail-from" => info.original_mail_from = Some(value),
            "original-rcpt-to" => info.original_rcpt_to.push(value),
            "arrival-date" | "received-date" => {
                info.arrival_date = DateTime::parse_rfc822(&value)
                    .filter(DateTime::is_valid)
                    .map(|d| d.to_timestamp());
            }
            "reporting-mta" => info.reporting_mta = Some(value),
            "reported-domain" => info.reported_domains.push(value),
            "reported-uri" => info.reported_uris.push(value),
            "incidents" => info.incidents = value.parse().ok(),
            _ => {}
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let info = parse_fields(
            "Feedback-Type: Abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n\
             Original-Mail-From: <bounce@sender.example>\r\n\
             Original-Rcpt-To: <a@rcpt.example>\r\nOriginal-Rcpt-To: <b@rcpt.example>\r\n\
             Arrival-Date: Thu, 8 Mar 2026 14:00:00 +0000\r\n\
             Reporting-MTA: dns; mail.reporter.example\r\n\
             Source-IP: 81.2.69.142\r\nIncidents: 3\r\n\
             Reported-Domain: spam.example\r\nReported-URI: http://spam.example/x\r\n\
             Authentication-Results: mail.reporter.example;\r\n  spf=fail\r\n",
        );
        assert_eq!(info.feedback_type, "abuse");
        assert_eq!(info.source_ip, Some("81.2.69.142".parse().unwrap()));
        assert_eq!(info.original_rcpt_to.len(), 2);
        assert_eq!(info.arrival_date, Some(1_772_978_400));
        assert_eq!(info.incidents, Some(3));
        assert_eq!(
            info.reporting_mta.as_deref(),
            Some("dns; mail.reporter.example")
        );
        assert_eq!(info.reported_uris, ["http://spam.example/x"]);
    }

    #[test]
    fn ipv6_source_and_garbage() {
        let info = parse_fields("Source-IP: [IPv6:2a02:1810::1]\nIncidents: many\nnonsense\n");
        assert_eq!(info.source_ip, Some("2a02:1810::1".parse().unwrap()));
        assert_eq!(info.incidents, None);
        assert_eq!(info.feedback_type, "");
    }
}
