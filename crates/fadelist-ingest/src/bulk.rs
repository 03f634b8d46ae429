//! Bulk / newsletter recognition (field notes 5.7).
//!
//! Reports on bulk mail feed the niprbl zone instead of the iprbl zone, so
//! that promotional mail does not poison the spam list. The verdict is made
//! from header fields of the analysed (original) message only:
//!
//! | signal | standard | counts for `is_bulk` |
//! |---|---|---|
//! | `List-Unsubscribe` | RFC 2369 | yes |
//! | `List-Unsubscribe-Post: List-Unsubscribe=One-Click` | RFC 8058 | yes |
//! | `List-Id` | RFC 2919 | yes |
//! | `Precedence: bulk / list / junk` | de facto | yes |
//! | ESP fingerprint headers ([`ESP_HEADERS`]) | vendor | yes |
//! | `Auto-Submitted` other than `no` | RFC 3834 | no: auto-replies and notifications are not newsletters |
//!
//! None of these are proof (spammers copy them); the scorer weighs them,
//! ideally together with a DKIM pass, which this crate does not verify.

use mail_parser::Message;

use crate::clip;

/// ESP fingerprints: `(lower-case header name or prefix ending in '-',
/// ESP)`. A name ending in `-` matches every header with that prefix;
/// `x-campaign` also matches `X-CampaignID` and `X-Campaign-Id`.
pub const ESP_HEADERS: &[(&str, &str)] = &[
    ("x-mailgun-", "Mailgun"),
    ("x-ses-", "Amazon SES"),
    ("x-sg-eid", "SendGrid"),
    ("x-sg-id", "SendGrid"),
    ("x-smtpapi", "SendGrid"),
    ("x-mc-user", "Mailchimp"),
    ("x-mandrill-", "Mandrill"),
    ("x-mailjet-", "Mailjet"),
    ("x-pm-message-id", "Postmark"),
    ("x-mailin-eid", "Brevo"),
    ("x-sib-id", "Brevo"),
    ("x-msfbl", "SparkPost"),
    ("x-sfmc-stack", "Salesforce Marketing Cloud"),
    ("x-csa-complaints", "CSA-certified sender"),
    ("x-report-abuse", "ESP abuse-reporting header"),
    ("x-campaign", "campaign-tracking header"),
    ("feedback-id", "Feedback-ID (Gmail feedback loop)"),
];

/// Bulk mailers recognised in `X-Mailer` (lower-case substring, name).
pub const BULK_MAILERS: &[(&str, &str)] = &[
    ("mailchimp", "Mailchimp"),
    ("phplist", "phpList"),
    ("mailpoet", "MailPoet"),
    ("acymailing", "AcyMailing"),
    ("mautic", "Mautic"),
    ("sendy", "Sendy"),
    ("mailerlite", "MailerLite"),
    ("sendinblue", "Brevo"),
];

/// At most this many header fields are examined for bulk signals.
pub(crate) const MAX_HEADERS: usize = 1000;

/// One bulk signal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BulkSignal {
    /// `List-Unsubscribe` (RFC 2369), with the kinds of URI it offers.
    ListUnsubscribe {
        /// A `mailto:` URI is offered.
        mailto: bool,
        /// An `http:` or `https:` URI is offered.
        web: bool,
    },
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
    OneClickUnsubscribe {
        /// RFC 8058 also requires an `https:` URI in `List-Unsubscribe`.
        https: bool,
    },
    /// `List-Id` (RFC 2919), its value.
    ListId(String),
    /// `Precedence: bulk|list|junk`, the lower-cased value.
    Precedence(String),
    /// `Auto-Submitted` other than `no` (RFC 3834); does not make
    /// [`BulkVerdict::is_bulk`] true.
    AutoSubmitted(String),
    /// An ESP fingerprint header (see [`ESP_HEADERS`], [`BULK_MAILERS`]).
    Esp {
        /// Which service or kind of header.
        esp: &'static str,
        /// The header field name as written.
        header: String,
    },
}

impl BulkSignal {
    /// A stable tag for APIs: `list-unsubscribe`, `one-click-unsubscribe`,
    /// `list-id`, `precedence`, `auto-submitted`, `esp`.
    pub fn tag(&self) -> &'static str {
        match self {
            BulkSignal::ListUnsubscribe { .. } => "list-unsubscribe",
            BulkSignal::OneClickUnsubscribe { .. } => "one-click-unsubscribe",
            BulkSignal::ListId(_) => "list-id",
            BulkSignal::Precedence(_) => "precedence",
            BulkSignal::AutoSubmitted(_) => "auto-submitted",
            BulkSignal::Esp { .. } => "esp",
        }
    }
}

impl std::fmt::Display for BulkSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BulkSignal::ListUnsubscribe { mailto, web } => write!(
                f,
                "List-Unsubscribe ({})",
                match (mailto, web) {
                    (true, true) => "mailto and web",
                    (true, false) => "mailto",
                    (false, true) => "web",
                    (false, false) => "no usable URI",
                }
            ),
            BulkSignal::OneClickUnsubscribe { https } => write!(
                f,
                "List-Unsubscribe-Post one-click (RFC 8058){}",
                if *https {
                    ""
                } else {
                    ", without the https URI it requires"
                }
            ),
            BulkSignal::ListId(v) => write!(f, "List-Id: {v}"),
            BulkSignal::Precedence(v) => write!(f, "Precedence: {v}"),
            BulkSignal::AutoSubmitted(v) => write!(f, "Auto-Submitted: {v}"),
            BulkSignal::Esp { esp, header } => write!(f, "{esp} ({header})"),
        }
    }
}

/// Whether the message looks like bulk mail, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkVerdict {
    /// True when any signal other than `AutoSubmitted` was found.
    pub is_bulk: bool,
    /// Every signal found, in header order.
    pub signals: Vec<BulkSignal>,
}

impl BulkVerdict {
    /// True when RFC 8058 one-click unsubscription is offered.
    #[must_use]
    pub fn one_click(&self) -> bool {
        self.signals
            .iter()
            .any(|s| matches!(s, BulkSignal::OneClickUnsubscribe { .. }))
    }

    /// The first ESP recognised, if any.
    #[must_use]
    pub fn esp(&self) -> Option<&'static str> {
        self.signals.iter().find_map(|s| match s {
            BulkSignal::Esp { esp, .. } => Some(*esp),
            _ => None,
        })
    }
}

/// Computes the verdict from the top-level header fields of `msg`.
pub(crate) fn verdict(msg: &Message<'_>) -> BulkVerdict {
    let Some(root) = msg.parts.first() else {
        return BulkVerdict::default();
    };
    let mut signals = Vec::new();
    let mut unsubscribe_https = false;
    let mut one_click = false;
    let mut esp_seen: Vec<&'static str> = Vec::new();
    for h in root.headers.iter().take(MAX_HEADERS) {
        let name = h.name.as_str();
        let lname = name.to_ascii_lowercase();
        let value = msg
            .raw_message
            .get(h.offset_start as usize..h.offset_end as usize)
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let value = value.trim();
        let lvalue = value.to_ascii_lowercase();
        match lname.as_str() {
            "list-unsubscribe" => {
                unsubscribe_https |= lvalue.contains("<https:");
                signals.push(BulkSignal::ListUnsubscribe {
                    mailto: lvalue.contains("mailto:"),
                    web: lvalue.contains("http:") || lvalue.contains("https:"),
                });
            }
            "list-unsubscribe-post" => {
                one_click |=
                    lvalue.replace(char::is_whitespace, "") == "list-unsubscribe=one-click";
            }
            "list-id" => signals.push(BulkSignal::ListId(clip(value, 255))),
            "precedence" => {
                if matches!(lvalue.as_str(), "bulk" | "list" | "junk") {
                    signals.push(BulkSignal::Precedence(lvalue));
                }
            }
            "auto-submitted" => {
                let kind = lvalue.split([';', ' ', '(']).next().unwrap_or_default();
                if !kind.is_empty() && kind != "no" {
                    signals.push(BulkSignal::AutoSubmitted(clip(kind, 64)));
                }
            }
            "x-mailer" => {
                if let Some((_, esp)) = BULK_MAILERS.iter().find(|(k, _)| lvalue.contains(k)) {
                    signals.push(BulkSignal::Esp {
                        esp,
                        header: clip(name, 64),
                    });
                }
            }
            _ => {}
        }
        let esp = ESP_HEADERS.iter().find(|(k, _)| {
            if k.ends_with('-') || *k == "x-campaign" {
                lname.starts_with(k)
            } else {
                lname == *k
            }
        });
        // One signal per ESP, not one per header of it.
        if let Some((_, esp)) = esp
            && !esp_seen.contains(esp)
        {
            esp_seen.push(esp);
            signals.push(BulkSignal::Esp {
                esp,
                header: clip(name, 64),
            });
        }
    }
    if one_click {
        signals.push(BulkSignal::OneClickUnsubscribe {
            https: unsubscribe_https,
        });
    }
    let is_bulk = signals
        .iter()
        .any(|s| !matches!(s, BulkSignal::AutoSubmitted(_)));
    BulkVerdict { is_bulk, signals }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard;

    fn v(headers: &str) -> BulkVerdict {
        let raw = format!("{headers}Subject: t\n\nbody\n");
        let p = guard::prepare(raw.as_bytes(), &mut crate::Warnings::default());
        let msg = guard::parse(&p).unwrap();
        verdict(&msg)
    }

    #[test]
    fn newsletter_headers() {
        let b = v(
            "List-Unsubscribe: <mailto:u@news.example>, <https://news.example/u?x=1>\n\
                   List-Unsubscribe-Post: List-Unsubscribe=One-Click\n\
                   List-Id: Weekly deals <deals.news.example>\n",
        );
        assert!(b.is_bulk);
        assert!(b.one_click());
        assert_eq!(
            b.signals,
            [
                BulkSignal::ListUnsubscribe {
                    mailto: true,
                    web: true
                },
                BulkSignal::ListId("Weekly deals <deals.news.example>".into()),
                BulkSignal::OneClickUnsubscribe { https: true },
            ]
        );
    }

    #[test]
    fn esp_headers_and_precedence() {
        let b = v("X-Mailgun-Sid: abc\nX-Mailgun-Variables: {}\nPrecedence: Bulk\nX-SG-EID: zz\n");
        assert_eq!(
            b.signals,
            [
                BulkSignal::Esp {
                    esp: "Mailgun",
                    header: "X-Mailgun-Sid".into()
                },
                BulkSignal::Precedence("bulk".into()),
                BulkSignal::Esp {
                    esp: "SendGrid",
                    header: "X-SG-EID".into()
                },
            ]
        );
        assert_eq!(b.esp(), Some("Mailgun"));
        let b = v("X-CampaignID: 77\nX-Mailer: phpList v3\n");
        assert!(b.is_bulk);
        assert_eq!(b.signals.len(), 2);
    }

    #[test]
    fn not_bulk() {
        let b = v("Auto-Submitted: auto-replied\nPrecedence: first-class\nX-Mailer: Thunderbird\n");
        assert!(!b.is_bulk);
        assert_eq!(
            b.signals,
            [BulkSignal::AutoSubmitted("auto-replied".into())]
        );
        assert_eq!(v("Auto-Submitted: no\n"), BulkVerdict::default());
        // One-click without an https URI is recorded as such.
        let b = v(
            "List-Unsubscribe: <mailto:u@x.example>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n",
        );
        assert!(
            b.signals
                .contains(&BulkSignal::OneClickUnsubscribe { https: false })
        );
    }
}
