//! The attack suite, reporter side: what a careless or rogue reporter
//! (or its operator) does to the lists, against the real server over DNS,
//! HTTP and the command line.
//!
//! 1. Trusted networks given as bare IPs were once accepted and ignored,
//!    so the reporter's own MX became the "source" of its reports and got
//!    listed. Now they are normalised (/32, /128) or refused at once.
//! 2. A rogue reporter's listings are undone at once by a revert (admin
//!    API, or offline on a stopped server's database), minimum listing
//!    time or not, while keys other reporters corroborate stay listed.
//! 3. A suspended reporter's evidence stops counting.
//! 4. A manual listing of special-purpose IPv6 (`::1` would list `::/64`,
//!    every IPv4-mapped query) is refused.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fadelist_tests::*;
use hickory_proto::rr::RecordType;

const TOKEN: &str = "admin-test-token";

/// The reporters' own hosts in the fixtures: the MX and the filter that
/// write the top `Received` fields of `spam-plain.eml` (hops 0 and 1).
const MX: &str = "81.2.69.162";
const FILTER: &str = "81.2.69.163";

/// A server with the admin API on, the default policy (minimum listing
/// time 12 h: nothing decays during a test) and the fixtures' dates
/// accepted. `db` (when given) is the database, kept outside the server's
/// directory so that it outlives the server.
fn server(db: Option<&Path>) -> TestServer {
    let db = db.map(Path::to_path_buf);
    TestServer::start_with(&[], &[], move |c| {
        c.admin.token = Some(TOKEN.into());
        c.policy.max_report_age = FIXTURE_REPORT_AGE;
        c.ingest.rate_per_minute = 1000;
        if let Some(db) = db {
            c.store.path = db;
        }
    })
}

/// An admin API request with the right token.
fn admin(srv: &TestServer, method: &str, path: &str, body: &str) -> Response {
    Request::new(srv.admin.expect("admin API on"), method, path)
        .bearer(TOKEN)
        .json(body)
        .send()
}

/// Adds a reporter through the admin API (trusting the fixtures' relays)
/// and returns its token.
fn api_reporter(srv: &TestServer, name: &str) -> String {
    let r = admin(
        srv,
        "POST",
        "/admin/v1/reporters",
        &format!(r#"{{"name":"{name}","trusted":["{MX}","{FILTER}"]}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["token"].as_str().expect("a token").to_string()
}

/// Runs the `fadelist` command line; returns (exit status, stdout, stderr).
fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fadelist-cli"))
        .args(args)
        .env("FADELIST_LOG", "error")
        .output()
        .expect("run the command line");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `fadelist reporter --db DB ARGS…`.
fn reporter_cmd(db: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["reporter", "--db", db.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    cli(&all)
}

/// The query name of IPv4 `ip` in `iprbl.test`.
fn v4_name(ip: &str) -> String {
    let mut o: Vec<&str> = ip.split('.').collect();
    o.reverse();
    format!("{}.iprbl.test", o.join("."))
}

/// The query name of IPv6 `ip` in `iprbl.test` (32 reversed nibbles).
fn v6_name(ip: &str) -> String {
    let v = u128::from(ip.parse::<std::net::Ipv6Addr>().expect("IPv6"));
    let nibbles: Vec<String> = (0..32)
        .map(|i| format!("{:x}", (v >> (i * 4)) & 0xf))
        .collect();
    format!("{}.iprbl.test", nibbles.join("."))
}

/// The A answer for `name`: `Ok(values)` when NOERROR, `Err(rcode)`
/// otherwise (NXDOMAIN for a key that is not listed).
fn a(srv: &TestServer, name: &str) -> Result<Vec<String>, Rcode> {
    let m = ask(srv.dns, name, RecordType::A);
    match m.metadata.response_code {
        Rcode::NoError => Ok(a_values(&m)),
        other => Err(other),
    }
}

fn listed() -> Result<Vec<String>, Rcode> {
    Ok(vec!["127.0.0.2".to_string()])
}

/// Posts fixture `mail` (with a fresh Message-ID `id`) as `token`.
fn report(srv: &TestServer, token: &str, mail: &str, id: &str) -> serde_json::Value {
    let r = srv.post_report(Some(token), "", &mail_with_id(mail, id));
    assert_eq!(r.status, 202, "{}", r.body);
    r.json()
}

/// Attack 1: the operator types bare IPs for the reporter's MX hosts. Via
/// the command line and the admin API alike they are stored normalised
/// (/32) and skipped in `Received`: the real source is listed, the MX not.
/// What is not an IP or CIDR, or is a CIDR with host bits set, is refused
/// at once (exit 64, or 400) and nothing is stored.
#[test]
fn bare_ip_trusted_networks_are_normalised_and_skip_the_reporters_own_mx() {
    let srv = server(None);
    let db = srv.db.clone();

    // The command line, beside the running server (SQLite serialises).
    let (code, out, err) = reporter_cmd(
        &db,
        &["add", "cli-mx", "--trusted", MX, "--trusted", FILTER],
    );
    assert_eq!(code, 0, "{out}{err}");
    let cli_token = out
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("the token is printed")
        .to_string();
    assert!(
        out.contains(&format!("trusted [{MX}/32, {FILTER}/32]")),
        "{out}"
    );
    // The admin API.
    let r = admin(
        &srv,
        "POST",
        "/admin/v1/reporters",
        &format!(r#"{{"name":"api-mx","kind":"trap","trusted":["{MX}","{FILTER}"]}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    assert_eq!(
        v["reporter"]["trusted"],
        serde_json::json!([format!("{MX}/32"), format!("{FILTER}/32")])
    );
    let api_token = v["token"].as_str().expect("token").to_string();
    // Stored normalised, as the database holds it.
    let conn = rusqlite::Connection::open(&db).expect("db");
    for name in ["cli-mx", "api-mx"] {
        let stored: String = conn
            .query_row(
                "SELECT trusted FROM reporters WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .expect("stored");
        assert_eq!(stored, format!(r#"["{MX}/32","{FILTER}/32"]"#), "{name}");
    }

    // Both report the same spam: the source below the MX is found and
    // listed; the reporter's filter (the topmost hop) is not.
    for (i, t) in [&cli_token, &api_token].into_iter().enumerate() {
        let v = report(&srv, t, "spam-plain.eml", &format!("bare-{i}"));
        assert_eq!(v["extracted"]["source"]["ip"], SPAM_PLAIN_SOURCE, "{v}");
        assert_eq!(v["extracted"]["source"]["received_hop"], 2, "{v}");
    }
    assert_eq!(a(&srv, SPAM_PLAIN_NAME), listed());
    assert_eq!(a(&srv, &v4_name(FILTER)), Err(Rcode::NXDomain));
    assert_eq!(a(&srv, &v4_name(MX)), Err(Rcode::NXDomain));

    // Refused at once, with the reason, and nothing stored.
    for bad in [
        "10.0.0.1/8",
        "mx1.reporter.example",
        "81.2.69.160/33",
        "0.0.0.0/0",
    ] {
        let (code, out, err) =
            reporter_cmd(&db, &["add", "bad", "--trusted", MX, "--trusted", bad]);
        assert_eq!(code, 64, "{bad}: EX_USAGE\n{out}{err}");
        assert!(err.contains("--trusted") && err.contains(bad), "{err}");
        let r = admin(
            &srv,
            "POST",
            "/admin/v1/reporters",
            &format!(r#"{{"name":"bad","trusted":["{bad}"]}}"#),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.json()["error"], "bad_trusted");
        assert!(
            r.json()["message"]
                .as_str()
                .is_some_and(|m| m.contains(bad)),
            "{}",
            r.body
        );
    }
    let (_, _, err) = reporter_cmd(&db, &["add", "bad", "--trusted", "10.0.0.1/8"]);
    assert!(
        err.contains("host bits") && err.contains("10.0.0.0/8") && err.contains("10.0.0.1/32"),
        "the message says what to write instead: {err}"
    );
    let r = admin(&srv, "GET", "/admin/v1/reporters", "");
    assert!(!r.body.contains("\"bad\""), "nothing stored: {}", r.body);
    // Updates are checked the same way: a refused one changes nothing.
    let r = admin(
        &srv,
        "PUT",
        "/admin/v1/reporters/api-mx",
        r#"{"trusted":["10.0.0.1/8"]}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let (code, _, err) = reporter_cmd(&db, &["set-trusted", "cli-mx", "--trusted", "nonsense"]);
    assert_eq!(code, 64, "{err}");
    let trusted_of = |name: &str| -> String {
        conn.query_row(
            "SELECT trusted FROM reporters WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .expect("stored")
    };
    for name in ["cli-mx", "api-mx"] {
        assert_eq!(
            trusted_of(name),
            format!(r#"["{MX}/32","{FILTER}/32"]"#),
            "{name} unchanged"
        );
    }
    let r = admin(
        &srv,
        "PUT",
        "/admin/v1/reporters/api-mx",
        r#"{"trusted":["81.2.69.160/27"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["reporter"]["trusted"],
        serde_json::json!(["81.2.69.160/27"])
    );
    let r = admin(
        &srv,
        "PUT",
        "/admin/v1/reporters/nobody",
        r#"{"trusted":[]}"#,
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let (code, out, _) = reporter_cmd(
        &db,
        &["set-trusted", "cli-mx", "--trusted", "2a02:1810:4d02::25"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("2a02:1810:4d02::25/128"), "{out}");
    // The admin client checks before sending: the same exit status.
    let admin_url = format!("http://{}", srv.admin.expect("admin"));
    let (code, _, err) = cli(&[
        "admin",
        "--server",
        &admin_url,
        "--token",
        TOKEN,
        "add-reporter",
        "bad",
        "--trusted",
        "10.0.0.1/8",
    ]);
    assert_eq!(code, 64, "{err}");
    let (code, out, err) = cli(&[
        "admin",
        "--server",
        &admin_url,
        "--token",
        TOKEN,
        "add-reporter",
        "client-mx",
        "--trusted",
        MX,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("{MX}/32")), "{out}");
}

/// Databases written before trusted networks were checked hold them as
/// typed: bare addresses still protect the reporter's MX (read as /32),
/// and what is no address at all is shown, not dropped in silence.
#[test]
fn trusted_bare_ips_stored_by_earlier_versions_still_protect_the_mx() {
    let srv = server(None);
    let conn = rusqlite::Connection::open(&srv.db).expect("db");
    for (name, kind) in [("old-a", "user"), ("old-b", "trap")] {
        conn.execute(
            "INSERT INTO reporters (name, token_hash, weight, kind, trusted, created_at)
             VALUES (?1, ?2, 1.0, ?3, ?4, 0)",
            rusqlite::params![
                name,
                fadelist_store::sha256_hex(format!("tok-{name}").as_bytes()),
                kind,
                format!(r#"["{MX}", "{FILTER}", "mx1.reporter.example"]"#)
            ],
        )
        .expect("an old row");
    }
    for (i, name) in ["old-a", "old-b"].into_iter().enumerate() {
        let v = report(
            &srv,
            &format!("tok-{name}"),
            "spam-plain.eml",
            &format!("old-{i}"),
        );
        assert_eq!(v["extracted"]["source"]["ip"], SPAM_PLAIN_SOURCE, "{v}");
    }
    assert_eq!(a(&srv, SPAM_PLAIN_NAME), listed());
    assert_eq!(a(&srv, &v4_name(FILTER)), Err(Rcode::NXDomain));
    let r = admin(&srv, "GET", "/admin/v1/reporters", "");
    let v = r.json();
    let old = v
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "old-a"))
        .expect("listed");
    assert_eq!(
        old["trusted"],
        serde_json::json!([format!("{MX}/32"), format!("{FILTER}/32")])
    );
    assert_eq!(
        old["invalid_trusted"],
        serde_json::json!(["mx1.reporter.example"])
    );
    let (_, out, _) = reporter_cmd(&srv.db, &["list"]);
    assert!(
        out.contains("ignored (not an IP or CIDR") && out.contains("mx1.reporter.example"),
        "{out}"
    );
}

/// The keys of attack 2, from fixtures with the reporter's MX on top.
/// Only thanks to the rogue: one honest reporter.
const ROGUE_ONLY: &str = "175.16.199.10"; // charset-windows-1251.eml
/// Corroborated by two honest reporters, the rogue on top.
const CORROBORATED: &str = "216.160.83.56"; // charset-shift-jis.eml

/// Lists both keys of attack 2: `honest1` + `rogue` report
/// [`ROGUE_ONLY`]; `honest1`, `honest2` and `rogue` report
/// [`CORROBORATED`]. Returns the rogue's token.
fn rogue_and_honest(srv: &TestServer) -> String {
    let h1 = api_reporter(srv, "honest1");
    let h2 = api_reporter(srv, "honest2");
    let rogue = api_reporter(srv, "rogue");
    for (t, tag) in [(&h1, "h1"), (&rogue, "r")] {
        report(srv, t, "charset-windows-1251.eml", &format!("ru-{tag}"));
    }
    for (t, tag) in [(&h1, "h1"), (&h2, "h2"), (&rogue, "r")] {
        report(srv, t, "charset-shift-jis.eml", &format!("jp-{tag}"));
    }
    assert_eq!(a(srv, &v4_name(ROGUE_ONLY)), listed());
    assert_eq!(a(srv, &v4_name(CORROBORATED)), listed());
    rogue
}

/// The lookup (JSON) of `key`'s iprbl.test zone.
fn iprbl_lookup(srv: &TestServer, key: &str) -> serde_json::Value {
    let r = srv.get(&format!("/api/v1/lookup/{key}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["zones"]
        .as_array()
        .and_then(|z| z.iter().find(|z| z["zone"] == "iprbl.test").cloned())
        .expect("iprbl.test in the lookup")
}

/// Attack 2: a rogue reporter lists keys together with an honest one.
/// `revert-reporter` (admin API) delists at once — within the 12 h minimum
/// listing time, and before its answer — the keys only the rogue made
/// listable; the key two honest reporters corroborate stays listed. The
/// lookup says why.
#[test]
fn revert_reporter_delists_at_once_what_only_the_rogue_kept_listed() {
    let srv = server(None);
    let rogue = rogue_and_honest(&srv);

    let r = admin(&srv, "POST", "/admin/v1/reporters/rogue/revert", "");
    assert_eq!(r.status, 200, "{}", r.body);
    // Exact DNS answers right after the answer: no waiting.
    assert_eq!(a(&srv, &v4_name(ROGUE_ONLY)), Err(Rcode::NXDomain));
    assert_eq!(a(&srv, &v4_name(CORROBORATED)), listed());
    let v = r.json();
    assert!(
        v["delisted"].as_array().is_some_and(|d| d
            .iter()
            .any(|d| d["zone"] == "iprbl.test" && d["key"] == ROGUE_ONLY)),
        "{v}"
    );
    assert!(
        v["still_listed"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["key"] == CORROBORATED)),
        "{v}"
    );

    // The lookup says why, in JSON and on the page; the honest report
    // still counts.
    let z = iprbl_lookup(&srv, ROGUE_ONLY);
    assert_eq!(z["listed"], false, "{z}");
    let last = z["listing_history"]
        .as_array()
        .and_then(|h| h.last().cloned())
        .expect("history");
    assert_eq!(last["change"], "reporter-reverted", "{z}");
    assert_eq!(
        (z["reports"].as_i64(), z["reporters"].as_i64()),
        (Some(1), Some(1)),
        "{z}"
    );
    let page = srv.get(&format!("/lookup?q={ROGUE_ONLY}")).body;
    assert!(
        page.contains("delisted because a reporter was reverted"),
        "{page}"
    );
    let z = iprbl_lookup(&srv, CORROBORATED);
    assert_eq!(
        (z["listed"].as_bool(), z["reporters"].as_i64()),
        (Some(true), Some(2)),
        "{z}"
    );

    // The rogue is suspended, and the revert is audited.
    // The rogue is suspended (its reports refused), its name still taken.
    let r = srv.post_report(Some(&rogue), "", &mail_with_id("spam-plain.eml", "after"));
    assert_eq!(r.status, 403, "{}", r.body);
    let v = admin(&srv, "GET", "/admin/v1/reporters", "").json();
    let row = v
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "rogue").cloned())
        .expect("still there");
    assert_eq!(row["suspended"], true, "{row}");
    let r = admin(&srv, "POST", "/admin/v1/reporters", r#"{"name":"rogue"}"#);
    assert_eq!(r.status, 409, "{}", r.body);
    // And the revert is audited.
    let r = admin(&srv, "GET", "/admin/v1/audit?action=reporter-revert", "");
    assert!(
        r.body.contains("reporter rogue reverted by admin"),
        "{}",
        r.body
    );
    let r = admin(&srv, "POST", "/admin/v1/reporters/nobody/revert", "");
    assert_eq!(r.status, 404, "{}", r.body);
    // The admin client speaks to the same endpoint.
    let admin_url = format!("http://{}", srv.admin.expect("admin"));
    let (code, out, err) = cli(&[
        "admin",
        "--server",
        &admin_url,
        "--token",
        TOKEN,
        "revert-reporter",
        "honest2",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(CORROBORATED),
        "now only honest1 is left: {out}"
    );
    assert_eq!(a(&srv, &v4_name(CORROBORATED)), Err(Rcode::NXDomain));
}

/// Attack 2, offline: the server is stopped, and `fadelist reporter
/// revert` works on its database; the next start serves the result.
#[test]
fn revert_reporter_offline_on_a_stopped_servers_database() {
    let keep = tempfile::tempdir().expect("dir");
    let db = keep.path().join("fadelist.sqlite");
    let srv = server(Some(&db));
    let _ = rogue_and_honest(&srv);
    srv.stop().expect("clean stop");

    let (code, out, err) = reporter_cmd(&db, &["revert", "rogue"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("delisted\tiprbl.test\t{ROGUE_ONLY}")),
        "{out}"
    );
    assert!(out.contains(CORROBORATED), "{out}");
    let (code, _, err) = reporter_cmd(&db, &["revert", "nobody"]);
    assert!(code != 0 && err.contains("no reporter named"), "{err}");

    let srv = server(Some(&db));
    assert_eq!(a(&srv, &v4_name(ROGUE_ONLY)), Err(Rcode::NXDomain));
    assert_eq!(a(&srv, &v4_name(CORROBORATED)), listed());
    let z = iprbl_lookup(&srv, ROGUE_ONLY);
    assert_eq!(
        z["listing_history"]
            .as_array()
            .and_then(|h| h.last())
            .map(|c| c["change"].clone()),
        Some(serde_json::json!("reporter-reverted")),
        "{z}"
    );
    let r = admin(&srv, "GET", "/admin/v1/audit?action=reporter-revert", "");
    assert!(r.body.contains("reverted by cli"), "{}", r.body);
}

/// Attack 3: a suspended reporter's earlier reports stop counting: an
/// honest report that, with them, would list a key does not. Reinstated,
/// its evidence counts again.
#[test]
fn a_suspended_reporters_evidence_stops_counting() {
    let srv = server(None);
    let honest = api_reporter(&srv, "honest");
    let rogue = api_reporter(&srv, "rogue");
    report(&srv, &rogue, "spam-plain.eml", "r1");
    let r = admin(&srv, "POST", "/admin/v1/reporters/rogue/suspend", "");
    assert_eq!(r.status, 200, "{}", r.body);

    let v = report(&srv, &honest, "spam-plain.eml", "h1");
    let key = v["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["key"] == SPAM_PLAIN_SOURCE).cloned())
        .expect("the source key");
    assert_eq!(
        (key["listed"].as_bool(), key["reporters"].as_u64()),
        (Some(false), Some(1)),
        "{key}"
    );
    assert_eq!(key["score"], 1.0, "the rogue's 1.0 is not added: {key}");
    assert_eq!(a(&srv, SPAM_PLAIN_NAME), Err(Rcode::NXDomain));
    assert_eq!(iprbl_lookup(&srv, SPAM_PLAIN_SOURCE)["score"], 1.0);
    assert_eq!(
        srv.post_report(Some(&rogue), "", &mail_with_id("spam-plain.eml", "r2"))
            .status,
        403
    );

    let r = admin(&srv, "POST", "/admin/v1/reporters/rogue/reinstate", "");
    assert_eq!(r.status, 200, "{}", r.body);
    report(&srv, &honest, "spam-plain.eml", "h2");
    assert_eq!(
        a(&srv, SPAM_PLAIN_NAME),
        listed(),
        "kept while suspended, counted again"
    );
}

/// Attack 4: manual listings of special-purpose IPv6 are refused (`::1`
/// would list `::/64`, which holds every IPv4-mapped query), and nothing
/// reaches DNS; a public IPv6 network is listed.
#[test]
fn manual_listings_refuse_special_purpose_ipv6() {
    let srv = server(None);
    let list = |key: &str| {
        admin(
            &srv,
            "POST",
            "/admin/v1/listings",
            &format!(r#"{{"key":"{key}","zone":"iprbl.test","reason":"by hand"}}"#),
        )
    };
    for (key, why) in [
        ("::1", "would list ::/64, which holds IPv4-mapped addresses"),
        ("::ffff:1.2.3.4", "embeds the IPv4 address 1.2.3.4"),
        (
            "64:ff9b::1.2.3.4",
            "would list 64:ff9b::/64, which holds the NAT64 prefix",
        ),
        ("fe80::1", "link-local"),
        ("2001:db8::1", "documentation"),
        ("2001::1", "Teredo"),
        (
            "2002:a00:1::1",
            "embeds 10.0.0.1, a special-purpose address",
        ),
        ("fd00::1", "unique local"),
        ("ff02::1", "multicast"),
        ("10.0.0.1", "private-use"),
    ] {
        let r = list(key);
        assert_eq!(r.status, 400, "{key}: {}", r.body);
        let v = r.json();
        assert_eq!(v["error"], "never_listed", "{key}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.contains(why)),
            "{key}: {v}"
        );
    }
    let r = admin(&srv, "GET", "/admin/v1/listings", "");
    assert_eq!(r.json(), serde_json::json!([]), "nothing listed");
    // An IPv4 address asked in mapped form, and the IPv4 itself: not listed
    // (the RFC 5782 entry ::ffff:127.0.0.2 still answers).
    assert_eq!(a(&srv, &v6_name("::ffff:1.2.3.4")), Err(Rcode::NXDomain));
    assert_eq!(a(&srv, &v4_name("1.2.3.4")), Err(Rcode::NXDomain));
    assert_eq!(a(&srv, &v6_name("::ffff:127.0.0.2")), listed());

    let r = list("2a02:1810:8c00::17");
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["key"], "2a02:1810:8c00::/64");
    assert_eq!(a(&srv, &v6_name("2a02:1810:8c00::99")), listed());
    assert!(
        eventually(Duration::from_secs(1), || a(
            &srv,
            &v6_name("2a02:1810:8c01::1")
        ) == Err(Rcode::NXDomain)),
        "only its /64"
    );
}
