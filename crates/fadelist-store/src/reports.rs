//! Reports: ingestion in groups, raw samples, and the evidence of a key.
//!
//! One report is the report row (its raw sample LZ4-compressed, what was
//! extracted in columns), each key's contributions and listing row, the
//! evidence rows that tie it to its keys, and a listing event for every key
//! it listed. [`Group::ingest`] writes all of that in the group's
//! transaction, and the group commits together, with one fsync. A report
//! that fails spoils its group: the caller drops the group (rolling it
//! back) and writes the reports one by one, so that only the bad one fails.
//! Failures are rare (a full disk, a broken database), and a savepoint per
//! report would cost a statement journal on every report instead.

use std::io::Read as _;

use fadelist_core::policy::{Evaluation, KeyState, Policy, Transition};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::events::{self, EventKind, ListingEvent};
use crate::{Result, Store, listings};

/// A new report to record.
#[derive(Clone, Debug)]
pub struct NewReport<'a> {
    /// Who sent it.
    pub reporter_id: i64,
    /// When it arrived.
    pub received_at: i64,
    /// Message-ID of the reported message.
    pub message_id: Option<&'a str>,
    /// Hash of its body.
    pub body_hash: &'a str,
    /// spam, phishing, malware or newsletter.
    pub category: &'a str,
    /// Decoded subject.
    pub subject: Option<&'a str>,
    /// The raw sample, compressed ([`StoredRaw::lz4`], off the writer).
    pub raw: &'a StoredRaw,
    /// The source found in the `Received` chain: address and hop index.
    pub source: Option<(&'a str, u32)>,
    /// Judged bulk mail (newsletter).
    pub bulk: bool,
    /// Registered domains found in its links.
    pub domains: &'a [String],
}

impl NewReport<'_> {
    fn dedupe_key(&self) -> String {
        dedupe_key(self.message_id, self.body_hash)
    }
}

/// The key under which a reporter's report of a message counts once:
/// Message-ID + body hash. A "not spam" correction finds the report by it
/// ([`crate::correction`]).
pub(crate) fn dedupe_key(message_id: Option<&str>, body_hash: &str) -> String {
    format!("{}\n{}", message_id.unwrap_or(""), body_hash)
}

/// One key a report counts against.
#[derive(Clone, Debug)]
pub struct KeyInput {
    /// Zone name.
    pub zone: String,
    /// Key text (`ListingKey` display form).
    pub key: String,
    /// Category for the listing.
    pub category: String,
    /// The zone's policy.
    pub policy: Policy,
}

/// What a report did to one key.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct KeyOutcome {
    /// Zone name.
    pub zone: String,
    /// Key text.
    pub key: String,
    /// Score after the report.
    pub score: f64,
    /// Reporters currently corroborating.
    pub reporters: u32,
    /// Listed after the report.
    pub listed: bool,
    /// The report made it listed just now.
    pub newly_listed: bool,
    /// Projected automatic delisting time, if listed.
    pub expires_at: Option<i64>,
    /// Category of the listing.
    pub category: String,
    /// For keys that need reports from several networks (content keys):
    /// how many distinct source networks named the key recently, and how
    /// many the zone needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_networks: Option<SourceNetworks>,
}

/// Distinct source networks of a content key's recent reports.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct SourceNetworks {
    /// Counted (up to `needed`).
    pub seen: u32,
    /// Needed to list.
    pub needed: u32,
}

/// A recorded report.
#[derive(Clone, Debug, PartialEq)]
pub struct Ingested {
    /// Its id.
    pub report_id: i64,
    /// What it did to each key.
    pub outcomes: Vec<KeyOutcome>,
}

/// A raw sample compressed for storage (codec `lz4`). Compressing is the
/// costliest step of writing a report, so callers do it before handing
/// the report to the single writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRaw {
    bytes: Vec<u8>,
    size: usize,
}

impl StoredRaw {
    /// Compresses `raw` with LZ4.
    pub fn lz4(raw: &[u8]) -> StoredRaw {
        StoredRaw {
            bytes: compress(raw),
            size: raw.len(),
        }
    }
}

/// A report already seen from the same reporter.
#[derive(Clone, Debug, PartialEq)]
pub struct Duplicate {
    /// The first report's id.
    pub report_id: i64,
    /// Its recorded outcome (JSON).
    pub outcome: String,
}

/// One report counted against a key, for lookup pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Report id.
    pub report_id: i64,
    /// When it arrived.
    pub received_at: i64,
    /// Its subject (unredacted: redact before showing it).
    pub subject: Option<String>,
    /// spam, phishing, malware or newsletter.
    pub category: String,
    /// The source address found in its `Received` chain.
    pub source_ip: Option<String>,
    /// The index of the hop that named the source.
    pub source_hop: Option<u32>,
    /// Reported by a spam trap.
    pub from_trap: bool,
}

/// A report against a key, enough to replay its score over time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReportEvent {
    /// When it arrived.
    pub at: i64,
    /// Its reporter.
    pub reporter: i64,
    /// The reporter's weight.
    pub weight: f64,
}

/// Reports written together: one transaction, one commit (and one fsync)
/// for all of them. Nothing is durable before [`Group::commit`].
pub struct Group<'s> {
    tx: Transaction<'s>,
}

impl std::fmt::Debug for Group<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}

impl Store {
    /// Starts a group of reports.
    pub fn group(&mut self) -> Result<Group<'_>> {
        Ok(Group {
            tx: self.write_tx()?,
        })
    }
}

impl Group<'_> {
    /// Records a report and applies it to `keys`.
    ///
    /// `outcome` builds the JSON stored with the report from the report id
    /// and the per-key outcomes (it is what the API answered; a duplicate
    /// is answered with it). Returns the earlier report if this one is a
    /// duplicate (then nothing is written). After an error the group must
    /// be dropped, which rolls back every report in it.
    pub fn ingest(
        &mut self,
        report: &NewReport<'_>,
        weight: f64,
        keys: &[KeyInput],
        outcome: impl FnOnce(i64, &[KeyOutcome]) -> String,
    ) -> Result<std::result::Result<Ingested, Duplicate>> {
        ingest_one(&self.tx, report, weight, keys, outcome)
    }

    /// Commits every report of the group.
    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}

fn ingest_one(
    conn: &Connection,
    report: &NewReport<'_>,
    weight: f64,
    keys: &[KeyInput],
    outcome: impl FnOnce(i64, &[KeyOutcome]) -> String,
) -> Result<std::result::Result<Ingested, Duplicate>> {
    let dedupe = report.dedupe_key();
    let dup = conn
        .prepare_cached(
            "SELECT id, outcome FROM reports WHERE reporter_id = ?1 AND dedupe_key = ?2",
        )?
        .query_row(params![report.reporter_id, dedupe], |r| {
            Ok(Duplicate {
                report_id: r.get(0)?,
                outcome: r.get(1)?,
            })
        })
        .optional()?;
    if let Some(d) = dup {
        return Ok(Err(d));
    }
    let now = report.received_at;
    // The report row carries the raw sample (kilobytes, in overflow pages),
    // and its outcome JSON names the report id. Writing the row first and
    // the outcome afterwards would rewrite the whole record, sample
    // included, into the WAL a second time. So the id is taken up front
    // (`id` is a plain rowid: the next one is max + 1, and this
    // transaction is the only writer), every key is evaluated, the row is
    // written once with its outcome, and only then the rows that reference
    // it (evidence has a foreign key on it).
    let report_id: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM reports")?
        .query_row([], |r| r.get(0))?;
    let net = report.source.and_then(|(ip, _)| source_network(ip));
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    let mut evaluated = Vec::with_capacity(keys.len());
    for k in keys {
        // Evaluating in one pass and saving in a second needs each key once.
        if !seen.insert((k.zone.as_str(), k.key.as_str())) {
            continue;
        }
        let (mut state, existed) = listings::load_state(conn, &k.zone, &k.key)?;
        let before = existed.then(|| state.contributions.clone());
        if k.policy.min_source_networks > 1 {
            state.source_networks =
                count_source_networks(conn, k, net.as_deref(), report.reporter_id, now)?;
        }
        let eval = k
            .policy
            .add_report(&mut state, report.reporter_id, weight, now);
        k.policy.prune(&mut state, now);
        evaluated.push((k, state, before, eval));
    }
    let outcomes: Vec<KeyOutcome> = evaluated
        .iter()
        .map(|(k, state, _, eval)| key_outcome(k, state, eval))
        .collect();
    let json = outcome(report_id, &outcomes);
    conn.prepare_cached(
        "INSERT INTO reports (id, reporter_id, received_at, dedupe_key, message_id, body_hash, category,
             subject, raw, raw_size, outcome, raw_codec, source_ip, source_hop, bulk, domains)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'lz4', ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        report_id,
        report.reporter_id,
        now,
        dedupe,
        report.message_id,
        report.body_hash,
        report.category,
        report.subject,
        report.raw.bytes,
        report.raw.size as i64,
        json,
        report.source.map(|s| s.0),
        report.source.map(|s| s.1),
        report.bulk,
        report.domains.join(" "),
    ])?;
    for (k, state, before, eval) in &evaluated {
        listings::save_state(
            conn,
            &k.zone,
            &k.key,
            &k.category,
            state,
            before.as_deref(),
            now,
            1,
        )?;
        conn.prepare_cached(
            "INSERT OR IGNORE INTO evidence (report_id, zone, key, at, reporter_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![report_id, k.zone, k.key, now, report.reporter_id])?;
        conn.prepare_cached(
            "INSERT OR IGNORE INTO key_reporters (zone, key, reporter_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![k.zone, k.key, report.reporter_id])?;
        if let Some(Transition::Listed { nth, min_until }) = eval.transition {
            events::record(
                conn,
                &ListingEvent {
                    at: now,
                    zone: k.zone.clone(),
                    key: k.key.clone(),
                    kind: if nth <= 1 {
                        EventKind::Listed
                    } else {
                        EventKind::Relisted
                    },
                    actor: "reports".into(),
                    reason: format!(
                        "score {:.2} from {} reporters reached the threshold; listing #{nth} in the repeat window, at least until {min_until}",
                        eval.score, eval.reporters
                    ),
                    report_id: Some(report_id),
                    request_id: None,
                },
            )?;
        }
    }
    Ok(Ok(Ingested {
        report_id,
        outcomes,
    }))
}

/// The network a source address stands for in the joe-job defence: its
/// IPv4 /24 or IPv6 /48 (one provider's customer block, roughly), so that
/// many addresses of one network count once.
fn source_network(ip: &str) -> Option<String> {
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(format!("{a}.{b}.{c}.0/24"))
        }
        std::net::IpAddr::V6(v6) => {
            let net = u128::from(v6) & !((1u128 << 80) - 1);
            Some(format!("{}/48", std::net::Ipv6Addr::from(net)))
        }
    }
}

/// Records that `reporter`'s report from `net` named key `k` and counts the
/// distinct networks that did within the policy's `max_report_age`, by
/// reporters not suspended, up to the number the policy needs (so a key
/// named from a million networks costs no more than one named from three).
fn count_source_networks(
    conn: &Connection,
    k: &KeyInput,
    net: Option<&str>,
    reporter: i64,
    now: i64,
) -> Result<u32> {
    if let Some(net) = net {
        conn.prepare_cached(
            "INSERT INTO key_sources (zone, key, net, reporter_id, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (zone, key, net, reporter_id) DO UPDATE SET at = max(at, excluded.at)",
        )?
        .execute(params![k.zone, k.key, net, reporter, now])?;
    }
    source_networks(conn, &k.zone, &k.key, &k.policy, now)
}

/// Distinct recent source networks of reports about `key` by reporters in
/// good standing, counted up to `policy.min_source_networks`.
pub(crate) fn source_networks(
    conn: &Connection,
    zone: &str,
    key: &str,
    policy: &Policy,
    now: i64,
) -> Result<u32> {
    let since = now.saturating_sub(policy.max_report_age);
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM (SELECT DISTINCT s.net FROM key_sources s
                 JOIN reporters p ON p.id = s.reporter_id
              WHERE s.zone = ?1 AND s.key = ?2 AND s.at >= ?3 AND p.suspended = 0
              LIMIT ?4)",
        )?
        .query_row(
            params![zone, key, since, i64::from(policy.min_source_networks)],
            |r| r.get(0),
        )?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

fn key_outcome(k: &KeyInput, state: &KeyState, e: &Evaluation) -> KeyOutcome {
    KeyOutcome {
        zone: k.zone.clone(),
        key: k.key.clone(),
        score: (e.score * 1000.0).round() / 1000.0,
        reporters: e.reporters,
        listed: e.listed,
        newly_listed: matches!(e.transition, Some(Transition::Listed { .. })),
        expires_at: e.expires_at,
        category: k.category.clone(),
        source_networks: (k.policy.min_source_networks > 1).then_some(SourceNetworks {
            seen: state.source_networks,
            needed: k.policy.min_source_networks,
        }),
    }
}

/// Compresses a raw sample for storage (codec `lz4`).
fn compress(raw: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(raw)
}

/// Decompresses a stored raw sample written with `codec` (`lz4`, or
/// `deflate` for rows written by earlier versions).
pub fn decompress(stored: &[u8], codec: &str) -> std::io::Result<Vec<u8>> {
    match codec {
        "lz4" => lz4_flex::block::decompress_size_prepended(stored)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        "deflate" => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(stored).read_to_end(&mut out)?;
            Ok(out)
        }
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unknown raw sample codec {other:?}"),
        )),
    }
}

pub(crate) fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM reports", [], |r| r.get(0))?)
}

/// The newest `limit` reports counted against a key, newest first.
pub(crate) fn evidence(
    conn: &Connection,
    zone: &str,
    key: &str,
    limit: usize,
) -> Result<Vec<Evidence>> {
    crate::rows(
        conn,
        "SELECT r.id, r.received_at, r.subject, r.category, r.source_ip, r.source_hop, p.kind
         FROM evidence e JOIN reports r ON r.id = e.report_id JOIN reporters p ON p.id = r.reporter_id
         WHERE e.zone = ?1 AND e.key = ?2 ORDER BY e.at DESC, e.report_id DESC LIMIT ?3",
        params![zone, key, limit as i64],
        |r| {
            Ok(Evidence {
                report_id: r.get(0)?,
                received_at: r.get(1)?,
                subject: r.get(2)?,
                category: r.get(3)?,
                source_ip: r.get(4)?,
                source_hop: r.get(5)?,
                from_trap: r.get::<_, String>(6)? == "trap",
            })
        },
    )
}

/// The reports against a key since `since`, oldest first: at most the
/// newest `limit` of them (the flag says whether older ones were left out).
pub(crate) fn report_events(
    conn: &Connection,
    zone: &str,
    key: &str,
    since: i64,
    limit: usize,
) -> Result<(Vec<ReportEvent>, bool)> {
    let mut v = crate::rows(
        conn,
        "SELECT e.at, e.reporter_id, p.weight FROM evidence e JOIN reporters p ON p.id = e.reporter_id
         WHERE e.zone = ?1 AND e.key = ?2 AND e.at >= ?3 ORDER BY e.at DESC, e.report_id DESC LIMIT ?4",
        params![zone, key, since, limit as i64],
        |r| {
            Ok(ReportEvent {
                at: r.get(0)?,
                reporter: r.get(1)?,
                weight: r.get(2)?,
            })
        },
    )?;
    let truncated = v.len() >= limit;
    v.reverse();
    Ok((v, truncated))
}

/// Reports against a key after `after`, counted up to `cap`.
pub(crate) fn count_after(
    conn: &Connection,
    zone: &str,
    key: &str,
    after: i64,
    cap: usize,
) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM evidence WHERE zone = ?1 AND key = ?2 AND at > ?3 LIMIT ?4)",
        )?
        .query_row(params![zone, key, after, cap as i64], |r| r.get(0))?)
}

/// Distinct reporters that ever reported a key (a summary the writer
/// keeps up to date).
pub(crate) fn reporter_count(conn: &Connection, zone: &str, key: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM key_reporters WHERE zone = ?1 AND key = ?2")?
        .query_row(params![zone, key], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Read;
    use crate::testutil::{ingest, key, report, two_reporters};

    #[test]
    fn duplicates_count_once_and_extraction_is_in_columns() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = two_reporters(&mut s);
        let keys = [key("192.0.2.1")];
        let first = ingest(&mut s, &report(a, "<m1>", 100), &keys).unwrap();
        assert!(!first.outcomes[0].listed);
        let dup = ingest(&mut s, &report(a, "<m1>", 101), &keys).unwrap_err();
        assert_eq!(dup.report_id, first.report_id);
        assert_eq!(s.report_count().unwrap(), 1);
        let domains = ["example.com".to_string(), "example.org".to_string()];
        let mut r = report(b, "<m1>", 102);
        r.domains = &domains;
        r.bulk = true;
        let second = ingest(&mut s, &r, &keys).unwrap();
        assert!(second.outcomes[0].listed && second.outcomes[0].newly_listed);
        let (src, hop, bulk, doms): (String, u32, bool, String) = s
            .conn
            .query_row(
                "SELECT source_ip, source_hop, bulk, domains FROM reports WHERE id = ?1",
                [second.report_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            (src.as_str(), hop, bulk, doms.as_str()),
            ("192.0.2.1", 1, true, "example.com example.org")
        );
        let ev = s.evidence("iprbl.test", "192.0.2.1", 10).unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].report_id, second.report_id, "newest first");
        assert!(ev[0].from_trap && !ev[1].from_trap);
        assert_eq!(ev[0].source_ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(s.reporter_count("iprbl.test", "192.0.2.1").unwrap(), 2);
        let kinds: Vec<EventKind> = s
            .listing_events("iprbl.test", "192.0.2.1", 10)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, vec![EventKind::Listed]);
    }

    #[test]
    fn a_failed_report_spoils_only_its_group() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = two_reporters(&mut s);
        let raw = StoredRaw::lz4(b"x");
        let mut r1 = report(a, "<1>", 10);
        r1.raw = &raw;
        {
            let mut g = s.group().unwrap();
            g.ingest(&r1, 1.0, &[key("192.0.2.1")], |_, _| "{}".into())
                .unwrap()
                .unwrap();
            // A reporter that does not exist breaks the foreign key.
            assert!(
                g.ingest(&report(999, "<2>", 10), 1.0, &[key("192.0.2.2")], |_, _| {
                    "{}".into()
                })
                .is_err()
            );
            // Dropped without a commit: rolled back whole.
        }
        assert_eq!(s.report_count().unwrap(), 0);
        // Written one by one, the good ones commit.
        for r in [report(a, "<1>", 10), report(b, "<3>", 10)] {
            ingest(&mut s, &r, &[key("192.0.2.3")]).unwrap();
        }
        assert_eq!(s.report_count().unwrap(), 2);
        assert!(s.listing("iprbl.test", "192.0.2.2").unwrap().is_none());
        assert_eq!(
            s.key_state("iprbl.test", "192.0.2.3")
                .unwrap()
                .unwrap()
                .contributions
                .len(),
            2
        );
    }

    #[test]
    fn an_uncommitted_group_leaves_nothing() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, _) = two_reporters(&mut s);
        {
            let mut g = s.group().unwrap();
            g.ingest(&report(a, "<1>", 10), 1.0, &[key("192.0.2.1")], |_, _| {
                "{}".into()
            })
            .unwrap()
            .unwrap();
        }
        assert_eq!(s.report_count().unwrap(), 0);
    }

    #[test]
    fn per_key_reads_are_bounded() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = two_reporters(&mut s);
        for t in 0..50 {
            let r = if t % 2 == 0 { a } else { b };
            ingest(
                &mut s,
                &report(r, &format!("<{t}>"), 1000 + t),
                &[key("192.0.2.1")],
            )
            .unwrap();
        }
        let (ev, truncated) = s.report_events("iprbl.test", "192.0.2.1", 0, 10).unwrap();
        assert!(truncated);
        assert_eq!(ev.len(), 10);
        assert_eq!(ev.first().map(|e| e.at), Some(1040), "the newest ten");
        assert_eq!(ev.last().map(|e| e.at), Some(1049), "oldest first");
        let (ev, truncated) = s
            .report_events("iprbl.test", "192.0.2.1", 1045, 100)
            .unwrap();
        assert!(!truncated);
        assert_eq!(ev.len(), 5);
        assert_eq!(
            s.reports_after("iprbl.test", "192.0.2.1", 1039, 100)
                .unwrap(),
            10
        );
        assert_eq!(
            s.reports_after("iprbl.test", "192.0.2.1", 0, 7).unwrap(),
            7,
            "capped"
        );
        assert_eq!(s.evidence("iprbl.test", "192.0.2.1", 3).unwrap().len(), 3);
    }

    #[test]
    fn raw_samples_round_trip_in_both_codecs() {
        use std::io::Write as _;
        let noise = fadelist_core::testrng::TestRng::new(0x2545_f491).bytes(300_000);
        for sample in [
            &b""[..],
            b"Subject: x\r\n\r\nhello",
            &noise,
            &[b'a'; 100_000][..],
        ] {
            assert_eq!(decompress(&compress(sample), "lz4").unwrap(), sample);
            // Rows written before migration 4 are raw deflate.
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(sample).unwrap();
            let old = enc.finish().unwrap();
            assert_eq!(decompress(&old, "deflate").unwrap(), sample);
        }
        assert!(decompress(b"\xff\xff\xff\x7fjunk", "lz4").is_err());
        assert!(decompress(b"x", "zstd").is_err());
    }
}
