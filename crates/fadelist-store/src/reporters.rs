//! Reporters: who may POST reports, with what weight, from which networks.
//!
//! A reporter's token is stored only as its SHA-256; a removed reporter
//! keeps its row (its past reports stay evidence) but its token is
//! replaced so it can never log in again.
//!
//! Trusted networks (the reporter's own MX and filter hosts, skipped when
//! the mail parser looks for the source in `Received`) are checked when
//! they are set ([`parse_trusted`]: an IP or a CIDR, stored normalised as
//! CIDR text) and read back leniently: rows written by earlier versions
//! may hold bare addresses, which mean their /32 or /128. A row that still
//! cannot be read is kept aside in [`Reporter::invalid_trusted`] for the
//! server to warn about, never dropped in silence: a trusted network that
//! is silently ignored makes the reporter's own MX the "source" of every
//! report it sends.

use std::net::IpAddr;

use ipnet::IpNet;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Result, Store, StoreError, audit};

/// What kind of source a reporter is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReporterKind {
    /// People clicking "this is spam" in a mail filter.
    User,
    /// A spam trap: addresses nobody asked mail for.
    Trap,
}

impl ReporterKind {
    fn as_str(self) -> &'static str {
        match self {
            ReporterKind::User => "user",
            ReporterKind::Trap => "trap",
        }
    }
}

/// A reporter as stored (without its token).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reporter {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Weight of each of its reports.
    pub weight: f64,
    /// User or trap.
    pub kind: ReporterKind,
    /// Its own MX and filter networks, as normalised CIDR text
    /// (`192.0.2.25/32`, `2001:db8::/48`).
    pub trusted: Vec<String>,
    /// Stored trusted networks that cannot be read (written by hand or by
    /// an old version): they protect nothing, and the server warns about
    /// them at start.
    pub invalid_trusted: Vec<String>,
    /// Suspended reporters are refused (403).
    pub suspended: bool,
    /// Removed reporters keep their past reports but can no longer log in.
    pub removed: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl Reporter {
    /// The trusted networks, parsed (what the mail parser is given).
    pub fn trusted_networks(&self) -> Vec<IpNet> {
        // `trusted` only ever holds what `read_stored` accepted.
        self.trusted.iter().filter_map(|t| read_stored(t)).collect()
    }
}

/// Why a trusted network given by an operator is refused; the message is
/// meant for that operator.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadTrusted(pub String);

/// Reads one trusted network as an operator gives it: an IP address (a
/// bare IPv4 address is its /32, a bare IPv6 address its /128) or a CIDR
/// network.
///
/// Refused, with a message saying why:
/// - anything else (a host name, a range, a prefix too long);
/// - a CIDR with host bits set (`10.0.0.1/8`): it is ambiguous — the
///   operator meant either the one host (`10.0.0.1/32`) or the network
///   (`10.0.0.0/8`), and guessing the wider one would trust millions of
///   addresses nobody meant to trust;
/// - a /0: trusting every address leaves no hop to be the source, so
///   every report of the reporter would count for nothing.
pub fn parse_trusted(text: &str) -> std::result::Result<IpNet, BadTrusted> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net = t.parse::<IpNet>().map_err(|_| {
        BadTrusted(format!(
            "{text:?} is not an IP address or a CIDR network (e.g. 192.0.2.25, 192.0.2.0/24 or 2001:db8::/48)"
        ))
    })?;
    if net.prefix_len() == 0 {
        return Err(BadTrusted(format!(
            "{text:?} would trust every address, so no report could name a source"
        )));
    }
    if net.trunc() != net {
        return Err(BadTrusted(format!(
            "{text:?} has host bits set: write {} for the network, or {} for the one host",
            net.trunc(),
            IpNet::from(net.addr())
        )));
    }
    Ok(net)
}

/// Checks and normalises trusted networks given by an operator.
fn normalise_trusted(trusted: &[String]) -> Result<Vec<String>> {
    trusted
        .iter()
        .map(|t| {
            parse_trusted(t)
                .map(|n| n.to_string())
                .map_err(|e| StoreError::Invalid(format!("trusted network: {e}")))
        })
        .collect()
}

/// Reads a stored trusted network: CIDR text, or — from earlier versions,
/// which accepted and stored them as typed — a bare address (its /32 or
/// /128) or a CIDR with host bits (its network, which is what it matched
/// before). `None` when it is not an address at all.
fn read_stored(text: &str) -> Option<IpNet> {
    let t = text.trim();
    t.parse::<IpAddr>()
        .map(IpNet::from)
        .or_else(|_| t.parse::<IpNet>().map(|n| n.trunc()))
        .ok()
}

/// The SHA-256 hex digest of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The values of `reporters.suspended`.
const ACTIVE: i64 = 0;
pub(crate) const SUSPENDED: i64 = 1;
pub(crate) const REMOVED: i64 = 2;

impl Store {
    /// Adds a reporter with the API token `token` (only its hash is kept).
    /// `trusted` is checked and normalised ([`parse_trusted`]); an invalid
    /// entry is [`StoreError::Invalid`] and nothing is written.
    pub fn add_reporter(
        &mut self,
        name: &str,
        weight: f64,
        kind: ReporterKind,
        trusted: &[String],
        token: &str,
        now: i64,
    ) -> Result<Reporter> {
        let trusted = normalise_trusted(trusted)?;
        let trusted_json =
            serde_json::to_string(&trusted).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let r = self.conn.execute(
            "INSERT INTO reporters (name, token_hash, weight, kind, trusted, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![name, sha256_hex(token.as_bytes()), weight, kind.as_str(), trusted_json, now],
        );
        match r {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::Exists(format!("reporter {name:?}")));
            }
            other => {
                other?;
            }
        }
        let id = self.conn.last_insert_rowid();
        reporter_where(&self.conn, "id = ?1", params![id])?
            .ok_or_else(|| StoreError::Corrupt("reporter vanished".into()))
    }

    /// Replaces a reporter's trusted networks (checked and normalised like
    /// [`Store::add_reporter`]'s); `None` when there is no such reporter
    /// (or it was removed).
    pub fn set_trusted(
        &mut self,
        name: &str,
        trusted: &[String],
        now: i64,
    ) -> Result<Option<Reporter>> {
        let trusted = normalise_trusted(trusted)?;
        let json =
            serde_json::to_string(&trusted).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tx = self.write_tx()?;
        let n = tx.execute(
            "UPDATE reporters SET trusted = ?2 WHERE name = ?1 AND suspended < ?3",
            params![name, json, REMOVED],
        )?;
        if n == 0 {
            return Ok(None);
        }
        audit::write(
            &tx,
            None,
            None,
            "reporter-trusted",
            &format!("reporter {name} trusts [{}]", trusted.join(", ")),
            None,
            now,
        )?;
        let r = reporter_where(&tx, "name = ?1", params![name])?;
        tx.commit()?;
        Ok(r)
    }

    /// Suspends or reinstates a reporter; false when no such reporter.
    ///
    /// While suspended, its reports are refused and its contributions do
    /// not count when a key is evaluated (they are kept: a reinstated
    /// reporter's evidence counts again, decayed by the time passed).
    /// Listings it helped make are not ended here; they are re-evaluated
    /// without it by the decay pass, under the usual rules (minimum
    /// listing time included). To undo its listings at once, see
    /// [`Store::revert_reporter`].
    pub fn set_suspended(&mut self, name: &str, suspended: bool, now: i64) -> Result<bool> {
        let tx = self.write_tx()?;
        let n = tx.execute(
            "UPDATE reporters SET suspended = ?2 WHERE name = ?1 AND suspended < ?3",
            params![name, if suspended { SUSPENDED } else { ACTIVE }, REMOVED],
        )?;
        if n > 0 {
            let action = if suspended {
                "reporter-suspend"
            } else {
                "reporter-reinstate"
            };
            audit::write(
                &tx,
                None,
                None,
                action,
                &format!("reporter {name}"),
                None,
                now,
            )?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    /// Removes a reporter: its token stops working and its pending
    /// contributions stop counting; its past reports stay as evidence.
    pub fn remove_reporter(&mut self, name: &str, now: i64) -> Result<bool> {
        let tx = self.write_tx()?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM reporters WHERE name = ?1 AND suspended < ?2",
                params![name, REMOVED],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(false);
        };
        tx.execute(
            "UPDATE reporters SET suspended = ?2, token_hash = 'removed:' || id WHERE id = ?1",
            params![id, REMOVED],
        )?;
        tx.execute(
            "DELETE FROM contributions WHERE reporter_id = ?1",
            params![id],
        )?;
        audit::write(
            &tx,
            None,
            None,
            "reporter-remove",
            &format!("reporter {name}"),
            None,
            now,
        )?;
        tx.commit()?;
        Ok(true)
    }
}

const COLUMNS: &str = "id, name, weight, kind, trusted, suspended, created_at";

pub(crate) fn reporter_where(
    conn: &Connection,
    cond: &str,
    p: impl rusqlite::Params,
) -> Result<Option<Reporter>> {
    let sql = format!("SELECT {COLUMNS} FROM reporters WHERE {cond}");
    conn.prepare_cached(&sql)?
        .query_row(p, row_to_reporter)
        .optional()?
        .transpose()
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<Reporter>> {
    let sql = format!("SELECT {COLUMNS} FROM reporters ORDER BY name");
    crate::rows(conn, &sql, [], row_to_reporter)?
        .into_iter()
        .collect()
}

fn row_to_reporter(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Reporter>> {
    let kind: String = r.get(3)?;
    let trusted: String = r.get(4)?;
    let status: i64 = r.get(5)?;
    let kind = match kind.as_str() {
        "user" => ReporterKind::User,
        "trap" => ReporterKind::Trap,
        other => return Ok(Err(StoreError::Corrupt(format!("reporter kind {other:?}")))),
    };
    let stored: Vec<String> = match serde_json::from_str(&trusted) {
        Ok(t) => t,
        Err(e) => return Ok(Err(StoreError::Corrupt(format!("trusted networks: {e}")))),
    };
    let (mut trusted, mut invalid_trusted) = (Vec::new(), Vec::new());
    for t in stored {
        match read_stored(&t) {
            Some(net) => trusted.push(net.to_string()),
            None => invalid_trusted.push(t),
        }
    }
    Ok(Ok(Reporter {
        id: r.get(0)?,
        name: r.get(1)?,
        weight: r.get(2)?,
        kind,
        trusted,
        invalid_trusted,
        suspended: status == SUSPENDED,
        removed: status == REMOVED,
        created_at: r.get(6)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Read;

    #[test]
    fn reporters_tokens_and_status() {
        let mut s = Store::open_in_memory().unwrap();
        let r = s
            .add_reporter(
                "mx1",
                1.0,
                ReporterKind::User,
                &["192.0.2.0/24".into()],
                "tok-1",
                10,
            )
            .unwrap();
        assert_eq!(r.trusted, vec!["192.0.2.0/24"]);
        assert!(matches!(
            s.add_reporter("mx1", 1.0, ReporterKind::Trap, &[], "tok-2", 10),
            Err(StoreError::Exists(_))
        ));
        assert_eq!(s.reporter_by_token("tok-1").unwrap().unwrap().name, "mx1");
        assert!(s.reporter_by_token("nope").unwrap().is_none());
        assert!(s.set_suspended("mx1", true, 11).unwrap());
        assert!(s.reporter_by_token("tok-1").unwrap().unwrap().suspended);
        assert!(s.remove_reporter("mx1", 12).unwrap());
        assert!(
            s.reporter_by_token("tok-1").unwrap().is_none(),
            "token dead after removal"
        );
        assert!(!s.remove_reporter("mx1", 13).unwrap());
        assert!(
            !s.set_suspended("mx1", false, 13).unwrap(),
            "removed stays removed"
        );
        assert_eq!(s.reporters().unwrap().len(), 1);
        assert!(
            s.audit_log(None, 10)
                .unwrap()
                .iter()
                .any(|a| a.action == "reporter-remove")
        );
    }

    #[test]
    fn trusted_networks_are_checked_and_normalised() {
        let ok = |t: &str| parse_trusted(t).map(|n| n.to_string());
        assert_eq!(ok("145.254.1.10"), Ok("145.254.1.10/32".into()));
        assert_eq!(
            ok(" 2a02:1810:4d02::25 "),
            Ok("2a02:1810:4d02::25/128".into())
        );
        assert_eq!(ok("81.2.69.160/27"), Ok("81.2.69.160/27".into()));
        assert_eq!(ok("2a02:1810:4d02::/48"), Ok("2a02:1810:4d02::/48".into()));
        let err = ok("10.0.0.1/8").unwrap_err().0;
        assert!(
            err.contains("host bits") && err.contains("10.0.0.0/8") && err.contains("10.0.0.1/32"),
            "{err}"
        );
        assert!(ok("0.0.0.0/0").unwrap_err().0.contains("every address"));
        assert!(ok("::/0").is_err());
        for bad in [
            "",
            "mx1.example",
            "192.0.2.0/33",
            "192.0.2.1-192.0.2.9",
            "1.2.3",
        ] {
            assert!(
                ok(bad)
                    .unwrap_err()
                    .0
                    .contains("not an IP address or a CIDR"),
                "{bad:?}"
            );
        }

        let mut s = Store::open_in_memory().unwrap();
        let r = s
            .add_reporter(
                "mx",
                1.0,
                ReporterKind::User,
                &["145.254.1.10".into(), "2001:db8::/32".into()],
                "t",
                0,
            )
            .unwrap();
        assert_eq!(r.trusted, vec!["145.254.1.10/32", "2001:db8::/32"]);
        let stored: String = s
            .conn
            .query_row("SELECT trusted FROM reporters WHERE name = 'mx'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            stored, r#"["145.254.1.10/32","2001:db8::/32"]"#,
            "stored normalised"
        );
        assert!(matches!(
            s.add_reporter("bad", 1.0, ReporterKind::User, &["10.0.0.1/8".into()], "t2", 0),
            Err(StoreError::Invalid(m)) if m.contains("host bits")
        ));
        assert!(
            s.reporter_by_name("bad").unwrap().is_none(),
            "nothing written"
        );

        let r = s
            .set_trusted("mx", &["81.2.69.162".into()], 1)
            .unwrap()
            .expect("exists");
        assert_eq!(r.trusted, vec!["81.2.69.162/32"]);
        assert!(matches!(
            s.set_trusted("mx", &["nope".into()], 2),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(
            s.reporter_by_name("mx").unwrap().unwrap().trusted,
            vec!["81.2.69.162/32"]
        );
        assert!(s.set_trusted("nobody", &[], 2).unwrap().is_none());
        assert!(
            s.audit_log(None, 10)
                .unwrap()
                .iter()
                .any(|a| a.action == "reporter-trusted" && a.reason.contains("81.2.69.162/32"))
        );
    }

    /// Databases written by earlier versions hold what operators typed:
    /// bare addresses mean their /32 or /128, host bits their network, and
    /// what is no address at all is set aside (for a warning), not lost.
    #[test]
    fn stored_trusted_networks_of_earlier_versions() {
        let s = Store::open_in_memory().unwrap();
        s.conn
            .execute(
                "INSERT INTO reporters (name, token_hash, weight, kind, trusted, created_at)
                 VALUES ('old', 'h', 1.0, 'user', ?1, 0)",
                [r#"["145.254.1.10","2a02:1810:4d02::25","10.0.0.1/8","mx1.example"]"#],
            )
            .unwrap();
        let r = s.reporter_by_name("old").unwrap().unwrap();
        assert_eq!(
            r.trusted,
            vec!["145.254.1.10/32", "2a02:1810:4d02::25/128", "10.0.0.0/8"]
        );
        assert_eq!(r.invalid_trusted, vec!["mx1.example"]);
        let nets = r.trusted_networks();
        assert_eq!(nets.len(), 3);
        assert!(nets[0].contains(&"145.254.1.10".parse::<IpAddr>().unwrap()));
        assert!(!nets[0].contains(&"145.254.1.11".parse::<IpAddr>().unwrap()));
    }
}
