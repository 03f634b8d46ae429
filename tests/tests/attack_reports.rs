//! The attack suite, report side: hostile reports the way a spammer or a
//! joe-jobber would write them, against the real server over HTTP and DNS.
//! Each test states the attack, posts it, and asserts the exact DNS
//! answers afterwards: the innocent key is not listed, and the real source
//! of the mail still is, where it should be.
//!
//! The mails are built here (not fixtures) so that their `Received` dates
//! are fresh: the server's default `max_report_age` (2 days) applies, as in
//! production.

use std::time::Duration;

use fadelist::config::Feed;
use fadelist_tests::*;
use hickory_proto::rr::RecordType;

/// The reporter's MX (trusted) writes the top two `Received` fields.
const MX: &str = "81.2.69.162";

/// A default server (default policy, default zones), reports unthrottled.
fn server() -> TestServer {
    server_with(|_| {})
}

fn server_with(adjust: impl FnOnce(&mut fadelist::config::Config)) -> TestServer {
    TestServer::start_with(&[], &[], |c| {
        c.ingest.rate_per_minute = 10_000;
        adjust(c);
    })
}

/// RFC 5322 date of unix time `t` (UTC).
fn rfc5322(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// One spam as the reporter's mailbox holds it.
struct Spam<'a> {
    /// The address that handed it to the reporter's MX.
    source: &'a str,
    /// Unique per message (Message-ID and body).
    id: &'a str,
    /// The body's text (links and all).
    body: &'a str,
    /// Extra header lines, each ending in `\n`.
    headers: &'a str,
    /// The sender's `Date:` value.
    date: String,
    /// When the reporter's MX received it (unix time).
    received: i64,
}

impl<'a> Spam<'a> {
    fn new(source: &'a str, id: &'a str, body: &'a str) -> Spam<'a> {
        Spam {
            source,
            id,
            body,
            headers: "",
            date: rfc5322(unix_now() - 60),
            received: unix_now(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let rdate = rfc5322(self.received);
        format!(
            "Received: from mx1.reporter.example (mx1.reporter.example [{MX}])\n\
             \tby imap.reporter.example (Postfix) with ESMTPS id T{id}1\n\
             \tfor <alice@reporter.example>; {rdate}\n\
             Received: from sender.example (sender.example [{source}])\n\
             \tby mx1.reporter.example (Postfix) with ESMTP id T{id}2\n\
             \tfor <alice@reporter.example>; {rdate}\n\
             From: \"Deals\" <deals@sender.example>\n\
             To: alice@reporter.example\n\
             Subject: offer {id}\n\
             Date: {date}\n\
             Message-ID: <{id}@attack.test>\n\
             {headers}MIME-Version: 1.0\n\
             Content-Type: text/plain; charset=utf-8\n\
             \n\
             Offer {id}. {body}\n",
            id = self.id,
            source = self.source,
            date = self.date,
            headers = self.headers,
            body = self.body,
        )
        .into_bytes()
    }
}

/// Posts `mail` with every token; each must be accepted. Returns the
/// answers' bodies.
fn post_all(srv: &TestServer, tokens: &[&String], query: &str, mail: &[u8]) -> Vec<String> {
    tokens
        .iter()
        .map(|t| {
            let r = srv.post_report(Some(t), query, mail);
            assert_eq!(r.status, 202, "{}", r.body);
            r.body
        })
        .collect()
}

/// The A values DNS answers for `name` (empty: not listed).
fn a(srv: &TestServer, name: &str) -> Vec<String> {
    a_values(&ask(srv.dns, name, RecordType::A))
}

/// Asserts `name` is NXDOMAIN.
fn assert_unlisted(srv: &TestServer, name: &str) {
    let m = ask(srv.dns, name, RecordType::A);
    assert_eq!(
        m.metadata.response_code,
        Rcode::NXDomain,
        "{name} must not be listed: {:?}",
        a_values(&m)
    );
}

/// The 32-nibble query name of `ip` under `zone`.
fn nibbles(ip: &str, zone: &str) -> String {
    let v6: std::net::Ipv6Addr = ip.parse().expect("IPv6");
    let hex = format!("{:032x}", u128::from(v6));
    let mut labels: Vec<String> = hex.chars().rev().map(String::from).collect();
    labels.push(zone.to_string());
    labels.join(".")
}

fn rev4(ip: &str) -> String {
    ip.split('.').rev().collect::<Vec<_>>().join(".")
}

fn users(srv: &TestServer, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| srv.add_reporter(&format!("user{i}"), false, &FIXTURE_TRUSTED))
        .collect()
}

fn traps(srv: &TestServer, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| srv.add_reporter(&format!("trap{i}"), true, &FIXTURE_TRUSTED))
        .collect()
}

/// Sources in three different /24 networks (public, not special-purpose).
const SOURCES: [&str; 3] = ["45.83.10.7", "91.207.4.33", "185.12.64.9"];

#[test]
fn planted_url_ips_are_content_never_sources() {
    // The attack: write public resolvers and an innocent host as link
    // hosts, and have the mail reported. Before: all of them were listed
    // in iprbl as "source of reported spam".
    let srv = server();
    let r = users(&srv, 2);
    let tokens: Vec<&String> = r.iter().collect();
    let body = "Click http://8.8.8.8/x or http://1.1.1.1/ or \
                http://[2001:4860:4860::8888]/y or http://45.67.89.10/deal or \
                http://[2a05:d018:1234:5678::10]/v6";
    for (i, source) in SOURCES.iter().enumerate() {
        let id = format!("urlip{i}");
        post_all(&srv, &tokens, "", &Spam::new(source, &id, body).bytes());
        if i == 0 {
            // Two reporters, one network: the URL host is not listed yet
            // (content keys need three networks).
            assert_unlisted(&srv, "10.89.67.45.urirbl.test");
        }
    }
    // The real sources are listed as sources.
    for s in SOURCES {
        assert_eq!(
            a(&srv, &format!("{}.iprbl.test", rev4(s))),
            ["127.0.0.2"],
            "{s}"
        );
    }
    // No URL host is a source.
    for ip in ["8.8.8.8", "1.1.1.1", "45.67.89.10"] {
        assert_unlisted(&srv, &format!("{}.iprbl.test", rev4(ip)));
    }
    // Nor the IPv6 ones (iprbl keys IPv6 by /64; any address in it asks).
    assert_unlisted(&srv, &nibbles("2001:4860:4860::8888", "iprbl.test"));
    assert_unlisted(&srv, &nibbles("2a05:d018:1234:5678::10", "iprbl.test"));
    // The public resolver is protected in the content zone too; the other
    // IPv6 link host is listed there by its /64, at the full 32-nibble
    // name rspamd asks (docs/uri-ip-queries.md).
    assert_unlisted(&srv, &nibbles("2001:4860:4860::8888", "urirbl.test"));
    assert_eq!(
        a(&srv, &nibbles("2a05:d018:1234:5678::10", "urirbl.test")),
        ["127.0.0.2"]
    );
    assert_eq!(
        a(&srv, &nibbles("2a05:d018:1234:5678:ffff::1", "urirbl.test")),
        ["127.0.0.2"]
    );
    assert_unlisted(&srv, &nibbles("2a05:d018:1234:5679::10", "urirbl.test"));
    // Public resolvers are protected in the content zone too.
    assert_unlisted(&srv, "8.8.8.8.urirbl.test");
    assert_unlisted(&srv, "1.1.1.1.urirbl.test");
    // The advertised host is listed where URI-DNSBL clients ask: reversed
    // IPv4 in the domain feed's zone, worded as advertised.
    assert_eq!(a(&srv, "10.89.67.45.urirbl.test"), ["127.0.0.2"]);
    let txt = txt_values(&ask(srv.dns, "10.89.67.45.urirbl.test", RecordType::TXT)).join(" ");
    assert!(
        txt.contains("advertised") && !txt.contains("source"),
        "{txt}"
    );
    // The lookup page says the same.
    let page = srv.get("/lookup?q=45.67.89.10");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("addresses advertised in reported spam"),
        "{}",
        page.body
    );
}

#[test]
fn protected_domains_and_shorteners_are_never_listed() {
    let srv = server();
    let r = users(&srv, 2);
    let tokens: Vec<&String> = r.iter().collect();
    let body = "See https://github.com/x/y and https://bit.ly/3abc and \
                https://www.paypal.com/ and https://real-spam-outlet.top/buy";
    for (i, source) in SOURCES.iter().enumerate() {
        let id = format!("prot{i}");
        let answers = post_all(&srv, &tokens, "", &Spam::new(source, &id, body).bytes());
        let last = &answers[1];
        assert!(last.contains("never listed"), "{last}");
    }
    assert_unlisted(&srv, "github.com.urirbl.test");
    assert_unlisted(&srv, "bit.ly.urirbl.test");
    assert_unlisted(&srv, "paypal.com.urirbl.test");
    // The domain the spam advertises is listed, and so is its source.
    assert_eq!(a(&srv, "real-spam-outlet.top.urirbl.test"), ["127.0.0.2"]);
    assert_eq!(
        a(&srv, &format!("{}.iprbl.test", rev4(SOURCES[2]))),
        ["127.0.0.2"]
    );
    // The lookup page explains why.
    let page = srv.get("/api/v1/lookup/bit.ly");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("shortener"), "{}", page.body);
}

#[test]
fn a_joe_job_from_one_network_lists_the_spammer_not_the_victim() {
    // The attack: a spammer writes a competitor's domain into its spam and
    // gets it reported by many reporters, sending from its own network.
    let srv = server();
    let r = users(&srv, 4);
    let tokens: Vec<&String> = r.iter().collect();
    let body = "Buy at https://innocent-bakery.de/ today";
    for (i, source) in ["45.83.10.7", "45.83.10.8", "45.83.10.200"]
        .iter()
        .enumerate()
    {
        let id = format!("joe{i}");
        let answers = post_all(&srv, &tokens, "", &Spam::new(source, &id, body).bytes());
        // The answer shows how far the key is from listing.
        let v: serde_json::Value = serde_json::from_str(&answers[3]).expect("json");
        let domain = v["keys"]
            .as_array()
            .or_else(|| v["outcomes"].as_array())
            .and_then(|keys| keys.iter().find(|k| k["key"] == "innocent-bakery.de"))
            .unwrap_or_else(|| panic!("no outcome for the domain: {v}"));
        assert_eq!(domain["source_networks"]["seen"], 1, "{domain}");
        assert_eq!(domain["source_networks"]["needed"], 3, "{domain}");
        assert_eq!(domain["listed"], false, "{domain}");
    }
    assert_unlisted(&srv, "innocent-bakery.de.urirbl.test");
    // The sending addresses are listed: the attack lists the attacker.
    for s in ["45.83.10.7", "45.83.10.8", "45.83.10.200"] {
        assert_eq!(a(&srv, &format!("{}.iprbl.test", rev4(s))), ["127.0.0.2"]);
    }
}

#[test]
fn the_senders_date_header_does_not_decide_the_age() {
    let srv = server();
    let r = users(&srv, 2);
    let tokens: Vec<&String> = r.iter().collect();
    // Forged ancient, future and unparseable Date: fields, on mail the
    // reporter received just now: they count.
    let forged = [
        "Mon, 1 Jan 2001 00:00:00 +0000",
        "Fri, 1 Jan 2100 00:00:00 +0000",
        "yesterday-ish",
    ];
    let sources = ["45.83.20.1", "45.83.21.1", "45.83.22.1"];
    for (i, (date, source)) in forged.iter().zip(sources).enumerate() {
        let id = format!("date{i}");
        let mut m = Spam::new(source, &id, "no links");
        m.date = date.to_string();
        post_all(&srv, &tokens, "", &m.bytes());
        assert_eq!(
            a(&srv, &format!("{}.iprbl.test", rev4(source))),
            ["127.0.0.2"],
            "{date}"
        );
    }
    // A fresh Date: on mail the reporter received ten days ago: too old.
    let mut m = Spam::new("45.83.23.1", "stale", "no links");
    m.received = unix_now() - 10 * 86_400;
    let answers = post_all(&srv, &tokens, "", &m.bytes());
    assert!(answers[1].contains("max_report_age"), "{}", answers[1]);
    assert_unlisted(&srv, "1.23.83.45.iprbl.test");
    // A receipt time in the future (a skewed clock) counts as now.
    let mut m = Spam::new("45.83.24.1", "future", "no links");
    m.received = unix_now() + 30 * 86_400;
    post_all(&srv, &tokens, "", &m.bytes());
    assert_eq!(a(&srv, "1.24.83.45.iprbl.test"), ["127.0.0.2"]);
    // No Received field at all: the report's arrival is the receipt time.
    let text = String::from_utf8(Spam::new("45.83.25.1", "norcvd", "x").bytes()).unwrap();
    let bare = &text[text.find("From: ").unwrap()..];
    let answers = post_all(&srv, &tokens, "", bare.as_bytes());
    assert!(!answers[1].contains("max_report_age"), "{}", answers[1]);
}

const BULK_HEADERS: &str = "Precedence: bulk\n\
                            List-Unsubscribe: <mailto:leave@sender.example>\n";

#[test]
fn spam_traps_ignore_bulk_headers() {
    // The attack: add `Precedence: bulk` to move the source out of the spam
    // zone. Traps subscribed to nothing: it stays spam.
    let srv = server();
    let t = traps(&srv, 2);
    let mut m = Spam::new("45.83.30.1", "trapbulk", "no links");
    m.headers = BULK_HEADERS;
    post_all(&srv, &t.iter().collect::<Vec<_>>(), "", &m.bytes());
    assert_eq!(a(&srv, "1.30.83.45.iprbl.test"), ["127.0.0.2"]);
    assert_unlisted(&srv, "1.30.83.45.niprbl.test");
    // People's reports still follow the headers (the rule that remains):
    // the source is listed, in the bulk zone.
    let u = users(&srv, 2);
    let mut m = Spam::new("45.83.31.1", "userbulk", "no links");
    m.headers = BULK_HEADERS;
    post_all(&srv, &u.iter().collect::<Vec<_>>(), "", &m.bytes());
    assert_eq!(a(&srv, "1.31.83.45.niprbl.test"), ["127.0.0.2"]);
    assert_unlisted(&srv, "1.31.83.45.iprbl.test");
}

#[test]
fn without_a_bulk_zone_bulk_sources_are_listed_as_spam() {
    // Before: "no zone takes this feed", and the source was not listed at
    // all.
    let srv = server_with(|c| c.zones.retain(|z| z.feed != Some(Feed::BulkIp)));
    let u = users(&srv, 2);
    let mut m = Spam::new("45.83.32.1", "nobulkzone", "no links");
    m.headers = BULK_HEADERS;
    post_all(&srv, &u.iter().collect::<Vec<_>>(), "", &m.bytes());
    assert_eq!(a(&srv, "1.32.83.45.iprbl.test"), ["127.0.0.2"]);
}

#[test]
fn a_declared_newsletter_goes_to_the_bulk_zone_with_its_own_code() {
    let srv = server();
    let u = users(&srv, 2);
    // No bulk headers at all: the reporter's word routes it.
    let m = Spam::new(
        "45.83.33.1",
        "newsletter",
        "https://weekly-gadget-news.shop/",
    );
    let answers = post_all(
        &srv,
        &u.iter().collect::<Vec<_>>(),
        "?category=newsletter",
        &m.bytes(),
    );
    assert!(
        answers[1].contains("its links are not listed"),
        "{}",
        answers[1]
    );
    assert_eq!(a(&srv, "1.33.83.45.niprbl.test"), ["127.0.0.5"]);
    assert_unlisted(&srv, "1.33.83.45.iprbl.test");
    assert_unlisted(&srv, "weekly-gadget-news.shop.urirbl.test");
    // Unknown categories are refused.
    let r = srv.post_report(Some(&u[0]), "?category=promo", &m.bytes());
    assert_eq!(r.status, 422, "{}", r.body);
}

#[test]
fn an_attached_message_in_an_unverified_upload_names_no_source() {
    // The attack: post (or mail) a wrapper with no chain of its own, with a
    // forged message attached whose headers name an innocent IP.
    let srv = server();
    let r = users(&srv, 2);
    let answers = post_all(
        &srv,
        &r.iter().collect::<Vec<_>>(),
        "",
        &mail("forward-without-chain.eml"),
    );
    assert!(answers[1].contains("trusted networks"), "{}", answers[1]);
    // The attached message's source (89.160.20.112) is not listed.
    assert_unlisted(&srv, SPAM_PLAIN_NAME);
    // The real forward, through the reporter's MX with an authenticated
    // submission, still works.
    let srv = server_with(|c| c.policy.max_report_age = FIXTURE_REPORT_AGE);
    let r = users(&srv, 2);
    post_all(
        &srv,
        &r.iter().collect::<Vec<_>>(),
        "",
        &mail("forwarded-attachment.eml"),
    );
    assert!(eventually(Duration::from_secs(2), || !a(
        &srv,
        SPAM_PLAIN_NAME
    )
    .is_empty()));
}

#[test]
fn a_rogue_reporters_forged_networks_are_withdrawn_by_a_revert() {
    // The attack: a rogue reporter (it writes the whole message, Received
    // fields included) claims two more source networks for a domain two
    // honest reporters saw from one network, and so lists it. Reverting
    // the rogue takes its networks out too: the domain is delisted at
    // once, while the honest reports still list their real source.
    let srv = server_with(|c| c.admin.token = Some("attack-admin".into()));
    let honest = users(&srv, 2);
    let rogue = srv.add_reporter("rogue", false, &FIXTURE_TRUSTED);
    let body = "Order at https://contested-shop.pl/ now";
    post_all(
        &srv,
        &honest.iter().collect::<Vec<_>>(),
        "",
        &Spam::new("45.83.40.1", "rogue0", body).bytes(),
    );
    assert_unlisted(&srv, "contested-shop.pl.urirbl.test");
    for (i, forged) in ["91.207.5.1", "185.12.65.1"].iter().enumerate() {
        let id = format!("rogue{}", i + 1);
        post_all(&srv, &[&rogue], "", &Spam::new(forged, &id, body).bytes());
    }
    assert_eq!(a(&srv, "contested-shop.pl.urirbl.test"), ["127.0.0.2"]);
    let r = Request::new(
        srv.admin.expect("admin API"),
        "POST",
        "/admin/v1/reporters/rogue/revert",
    )
    .bearer("attack-admin")
    .json("")
    .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_unlisted(&srv, "contested-shop.pl.urirbl.test");
    assert_eq!(a(&srv, "1.40.83.45.iprbl.test"), ["127.0.0.2"]);
}
