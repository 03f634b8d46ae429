#!/usr/bin/env python3
"""benches/write_path.py — the seeded store and the report of benches/write-path.sh.

Python standard library only. Subcommands:

  seed    fill a database that `fadelist reporter add` has just created (schema of
          crates/fadelist-store/migrations/001..004, user_version 4, two reporters) with
          listed keys, their contributions, reports, evidence and audit rows, in a few big
          transactions; prints one JSON object (counts, sample and lookup keys).
  report  the markdown report of write-path.sh from its results.jsonl (metadata from
          the environment).

The seed is the OLD schema on purpose: a NEW binary with more migrations converts it when
it opens it, and write-path.sh times that start.

Seed layout (defaults; every number is an option):
  * --keys 100000 listed keys: 60 % IPv4 (160.0.0.0/8) and 10 % IPv6 /64 (2a02:1812::/32)
    in iprbl.test, 30 % domains (seed-<base36>.top) in urirbl.test; text forms as
    fadelist-core's ListingKey prints them;
  * --reports 60000 reports, alternately by reporter A and B, received over the last
    30 minutes (so every key is listed now, with a score as fadelist would compute it);
    the newest 10 % keep a raw sample (raw deflate of a generated 24 KB HTML mail, codec
    'deflate' as rows before migration 004), the others have passed retention (raw NULL);
  * evidence: 2 reports per key (one per reporter), 30 for the keys with (k // 10) % 10 == 3
    (10 % of the keys), and --hot-evidence 55000 for the hot key iprbl.test/89.160.20.112
    (the IP-literal URL shared by the html-obfuscated template: the report load keeps
    adding evidence to it);
  * contributions, listings (listed_since, min_until = +12 h, past_listings) and one
    'listed' audit row per key, replayed with the default policy (half-life 6 h, cap 1.5,
    list at 1.5 with 2 reporters).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in benches/ for the imports below
from bench_helpers import machine_line  # noqa: E402 (same folder)
from ingest_load import Generator, tag_of  # noqa: E402

HALF_LIFE = 6 * 3600.0
CAP = 1.5
LIST_AT = 1.5
MIN_CONTRIB = 0.25
MIN_LISTING = 12 * 3600
HOT_KEY = "89.160.20.112"
ZONE_IP, ZONE_DOM = "iprbl.test", "urirbl.test"


def die(msg):
    print("[write-path] ERROR: %s" % msg, file=sys.stderr)
    sys.exit(1)


def key_of(k):
    """-> (zone, key text, kind) of seed key number k."""
    c = k % 10
    if c < 6:
        v = (160 << 24) + k * 37 + 1
        return ZONE_IP, "%d.%d.%d.%d" % (v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255), "v4"
    if c == 6:  # both middle groups non-zero: the compressed form is unambiguous ("2a02:1812:a:b::/64")
        return ZONE_IP, "2a02:1812:%x:%x::/64" % (0x100 + k // 4096, 0x100 + k % 4096), "v6"
    return ZONE_DOM, "seed-%s.top" % tag_of(k)[1:], "domain"  # base36 of k


def query_name(zone, key, kind):
    if kind == "v4":
        return ".".join(reversed(key.split("."))) + "." + zone
    if kind == "v6":
        import ipaddress
        nib = ipaddress.IPv6Address(key.split("/")[0]).exploded.replace(":", "")
        return ".".join(reversed(nib)) + "." + zone
    return key + "." + zone


def lookup_form(key, kind):
    """What /api/v1/lookup/{key} accepts: an address for an IPv6 /64 key."""
    return key.split("/")[0] + "1" if kind == "v6" else key


def decay(score, frm, to):
    return score if to <= frm else score * 2 ** (-(to - frm) / HALF_LIFE)


def replay(events):
    """events: [(time, reporter, report_id)] in time order -> (contributions {rep: [score, at]},
    listed_since, listing report id, score then, reporters then)."""
    contrib = {}
    listed = None
    for t, rep, rid in events:
        c = contrib.get(rep)
        if c is None:
            contrib[rep] = [min(1.0, CAP), t]
        else:
            c[0] = min(decay(c[0], c[1], t) + 1.0, CAP)
            c[1] = t
        if listed is None:
            vals = [min(decay(s, a, t), CAP) for s, a in contrib.values()]
            score, reps = sum(vals), sum(1 for v in vals if v >= MIN_CONTRIB)
            if score >= LIST_AT and reps >= 2:
                listed = (t, rid, score, reps)
    return contrib, listed


def cmd_seed(a):
    import sqlite3
    t_begin = time.time()
    con = sqlite3.connect(a.db, isolation_level=None)
    uv = con.execute("PRAGMA user_version").fetchone()[0]
    cols = {r[1] for r in con.execute("PRAGMA table_info(reports)")}
    if uv != 4 or "raw_codec" not in cols:
        die("the database has schema version %s (columns of reports: %s); this seeder writes the schema of "
            "migrations 001-004 (version 4). Use a BASE binary at that schema (e.g. 0d1f6b1), or update "
            "benches/write_path.py." % (uv, sorted(cols)))
    reps = dict((name, rid) for rid, name in con.execute("SELECT id, name FROM reporters"))
    if set(reps) != {"bench-a", "bench-trap"}:
        die("expected exactly the reporters bench-a and bench-trap, found %s" % sorted(reps))
    rep_ids = [reps["bench-a"], reps["bench-trap"]]
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA foreign_keys=OFF")
    now = int(time.time())
    R, K = a.reports, a.keys
    if a.hot_evidence > R:
        die("--hot-evidence %d > --reports %d" % (a.hot_evidence, R))
    span = 1800
    t0 = now - span - 60

    def rtime(r):
        return t0 + (r * span) // R

    def rep_of(r):
        return rep_ids[(r - 1) % 2]

    # Raw samples for the newest reports: a few distinct 24 KB HTML mails, raw deflate.
    gen = Generator(a.mail_dir, 24, 24, "html")
    blobs = []
    for i in range(16):
        body, _ = gen.message(900_000_000 + i)
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        blobs.append((c.compress(body) + c.flush(), len(body)))
    raw_from = R - int(R * a.raw_share) + 1

    # Evidence: which reports count against which key.
    keys = [key_of(k) for k in range(K)]
    half = R // 2
    ev_of = []
    heavy = 0
    for k in range(K):
        m = a.heavy_evidence if (k // 10) % 10 == 3 else 2
        heavy += m > 2
        ev_of.append([2 * ((k * 7919 + j * 2003) % half) + 1 + (j % 2) for j in range(m)])
    keys.append((ZONE_IP, HOT_KEY, "v4"))
    ev_of.append(list(range(1, a.hot_evidence + 1)))

    src_of = {}  # report -> the first key that names it (its "source" in the stored outcome)
    for (zone, key, kind), evs in zip(keys, ev_of):
        if kind != "domain":
            for r in evs:
                src_of.setdefault(r, key.split("/")[0] + ("1" if kind == "v6" else ""))

    con.execute("BEGIN")
    rows = []
    for r in range(1, R + 1):
        raw, size = blobs[r % len(blobs)] if r >= raw_from else (None, 24_600)
        src = src_of.get(r, "160.0.0.1")
        outcome = json.dumps({"report_id": r, "extracted": {"source": {"ip": src, "as_written": src, "received_hop": 1},
                                                            "bulk": {"is_bulk": False}}, "seeded": True})
        mid = "<seed-%d@write-path.bench>" % r
        bh = "%064x" % (r * 0x9E3779B97F4A7C15 & (2**256 - 1))
        rows.append((r, rep_of(r), rtime(r), mid + "\n" + bh, mid, bh, "spam", "Seeded report %d" % r, raw, size,
                     outcome, "deflate"))
    con.executemany("INSERT INTO reports (id, reporter_id, received_at, dedupe_key, message_id, body_hash, category, "
                    "subject, raw, raw_size, outcome, raw_codec) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.execute("COMMIT")
    rows = None

    con.execute("BEGIN")
    ev_rows = ((r, zone, key) for (zone, key, _), evs in zip(keys, ev_of) for r in evs)
    con.executemany("INSERT INTO evidence (report_id, zone, key) VALUES (?,?,?)", ev_rows)
    con.execute("COMMIT")

    listings, contribs, audit = [], [], []
    for (zone, key, _), evs in zip(keys, ev_of):
        evs = sorted(evs)
        contrib, listed = replay([(rtime(r), rep_of(r), r) for r in evs])
        if listed is None:
            die("seed key %s/%s would not be listed (bug in the seeder)" % (zone, key))
        since, rid, score, nrep = listed
        until = since + MIN_LISTING
        listings.append((zone, key, "spam", rtime(evs[0]), rtime(evs[-1]), since, until, 1, json.dumps([since]), len(evs)))
        contribs.extend((zone, key, rep, s, at) for rep, (s, at) in contrib.items())
        audit.append((since, zone, key, "listed", "score %.2f from %d reporters reached the threshold; listing #1 in "
                      "the repeat window, at least until %d" % (score, nrep, until), rid))
    audit.sort()
    con.execute("BEGIN")
    con.executemany("INSERT INTO listings (zone, key, category, first_seen, last_seen, listed_since, min_until, "
                    "listing_count, past_listings, report_count) VALUES (?,?,?,?,?,?,?,?,?,?)", listings)
    con.executemany("INSERT INTO contributions (zone, key, reporter_id, score, at) VALUES (?,?,?,?,?)", contribs)
    con.executemany("INSERT INTO audit (at, zone, key, action, reason, report_id) VALUES (?,?,?,?,?,?)", audit)
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = {t: con.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
              for t in ("reporters", "reports", "evidence", "listings", "contributions", "audit")}
    counts["listed"] = con.execute("SELECT count(*) FROM listings WHERE listed_since IS NOT NULL").fetchone()[0]
    counts["raw_samples"] = con.execute("SELECT count(*) FROM reports WHERE raw IS NOT NULL").fetchone()[0]
    con.close()

    # Sample names for the start guard, and the lookup keys (the hot key and heavy keys of every kind).
    first = {}
    heavy_keys, quota = [], {"v4": 4, "v6": 1, "domain": 2}
    for k in range(K):
        zone, key, kind = keys[k]
        first.setdefault(kind, (zone, key, kind))
        if (k // 10) % 10 == 3 and quota[kind] > 0:
            quota[kind] -= 1
            heavy_keys.append((zone, key, kind))
    last = keys[K - 1]
    samples = [query_name(*x) for x in list(first.values()) + [last, keys[K]]]
    print(json.dumps({
        "db": a.db, "seconds": round(time.time() - t_begin, 1), "bytes": os.path.getsize(a.db),
        "counts": counts, "heavy_keys": heavy, "heavy_evidence": a.heavy_evidence, "hot_key": HOT_KEY,
        "hot_evidence": a.hot_evidence, "hot_name": query_name(ZONE_IP, HOT_KEY, "v4"),
        "guard_names": samples,
        "lookup_keys": [HOT_KEY] + [lookup_form(k, kind) for _, k, kind in heavy_keys],
        "zones": {"iprbl.test": sum(1 for x in keys if x[0] == ZONE_IP), "urirbl.test": sum(1 for x in keys if x[0] == ZONE_DOM)},
    }))
    return 0


# ------------------------------------------------------------------ report

def fmt(x, f="{:,.0f}", none="—"):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return none
    return f.format(x)


def med(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return statistics.median(xs) if xs else None


def cmd_report(a):
    E = os.environ
    R = [json.loads(l) for l in open(a.results) if l.strip()]
    roles = ("base", "new")
    o = []
    o.append("## fadelist write path: BASE vs NEW, side by side\n")
    o.append("- **BASE**: %s" % E.get("BASE_DESC", "?"))
    o.append("- **NEW**: %s" % E.get("NEW_DESC", "?"))
    o.append("")
    o.append("Medians over %s round(s); runs alternate BASE, NEW (ABAB…) on the same machine and the same data. "
             "NEW / BASE < 1 is better for the rows marked *lower*, > 1 for those marked *higher*.\n" % E.get("ROUNDS", "?"))
    o.append("| # | metric | better | BASE | NEW | NEW / BASE |")
    o.append("|---|---|---|--:|--:|--:|")

    def val(rows, f):
        return med([f(r) for r in rows])

    def row(part, label, better, fn, rows_by_role, f="{:,.1f}"):
        b, n = (val(rows_by_role[x], fn) for x in roles)
        ratio = "—"
        if b and n is not None and b != 0:
            ratio = "**%.2f**" % (n / b) if better in ("higher", "lower") else "%.2f" % (n / b)
        o.append("| %s | %s | %s | %s | %s | %s |" % (part, label, better, fmt(b, f), fmt(n, f), ratio))
        return b, n

    def sel(**kw):
        return {role: [r for r in R if r.get("role") == role and all(r.get(k) == v for k, v in kw.items())] for role in roles}

    def section(title):
        o.append("| | **%s** | | | | |" % title)

    tp = [r for r in R if r.get("kind") == "tp"]
    levels = sorted({r["clients"] for r in tp if not r.get("lookup_clients") and not r.get("lookup_pair")})
    seed = next((r for r in R if r.get("kind") == "seed"), None)
    for part, store, stitle in (("1", "empty", "empty store (fresh database per run)"),
                                ("2", "seeded", "seeded store (%s keys listed)" % (fmt(seed["counts"]["listed"]) if seed else "?"))):
        if not any(r["store"] == store for r in tp):
            continue
        for variant, vtitle in (("nochurn", "no churn: each message posted once, by one reporter"),
                                ("churn", "listing churn: each message posted by two reporters, the second lists")):
            section("%s — %s" % (stitle, vtitle))
            for c in levels:
                s = sel(kind="tp", store=store, variant=variant, clients=c, lookup_clients=0, lookup_pair=None)
                if not any(s.values()):
                    continue
                for label, better, field, f in (("reports accepted / s", "higher", "accepted_per_s", "{:,.1f}"),
                                                ("server CPU ms / report", "lower", "server_cpu_ms_per_report", "{:.2f}"),
                                                ("report p50 ms", "lower", "p50_ms", "{:.1f}"),
                                                ("report p99 ms", "lower", "p99_ms", "{:.1f}")):
                    row(part, "%d client%s: %s" % (c, "" if c == 1 else "s", label), better,
                        lambda r, k=field: r.get(k), s, f)
        st = sel(kind="start")
        if store == "seeded" and any(st.values()):
            section("seeded store: server start (NEW migrates the old-schema seed here)")
            for label, better, fn, f in (
                    ("start → first DNS answer for a seeded key, s (open + migrations + load)", "lower", lambda r: r["t_load"], "{:.2f}"),
                    ("start → server idle, s (+ the first decay pass over every listed key)", "lower", lambda r: r["t_idle"], "{:.2f}"),
                    ("keys served after start (iprbl + urirbl)", "same", lambda r: r["keys_served"], "{:,.0f}"),
                    ("server RSS once idle, MiB", "lower", lambda r: r["rss_kb"] / 1024, "{:.1f}")):
                row("2", label, better, fn, st, f)
    lat = sel(kind="latency")
    if any(lat.values()):
        section("report → DNS visible (seeded store, one report pair at a time; from just before the listing POST to the first A answer)")
        row("3", "send → visible p50 ms", "lower", lambda r: r["send_p50_ms"], lat, "{:.2f}")
        row("3", "send → visible p99 ms", "lower", lambda r: r["send_p99_ms"], lat, "{:.2f}")
        row("3", "not visible within 5 s (count)", "lower", lambda r: r["not_visible"], lat, "{:.0f}")
    dns = sel(kind="dns", mode="ingesting")
    if any(dns.values()):
        row("3", "send → visible p50 ms while DNS is saturated and %s POSTs/s arrive (part 5's probes)" % E.get("RATE", "?"),
            "lower", lambda r: (r.get("gen") or {}).get("probes", {}).get("send_p50_ms"), dns, "{:.2f}")
        row("3", "send → visible p99 ms, same", "lower",
            lambda r: (r.get("gen") or {}).get("probes", {}).get("send_p99_ms"), dns, "{:.2f}")
    lk_with = sel(kind="tp", store="seeded", variant="churn", lookup_clients=int(E.get("LOOKUP_CLIENTS", "8")))
    lk_without = sel(kind="tp", store="seeded", variant="churn", lookup_pair=True, lookup_clients=0)
    lk_alone = sel(kind="lookups")
    ratio_by_role = {}
    if any(lk_with.values()):
        c = int(E.get("LOOKUP_REPORT_CLIENTS", "4"))
        section("lookups on the seeded store: %s clients GET /api/v1/lookup/{key} in a loop on keys with much evidence "
                "(hot key: %s evidence rows), while %d report clients post (churn)" % (
                    E.get("LOOKUP_CLIENTS", "8"), fmt(seed["hot_evidence"]) if seed else "?", c))
        row("4", "report p50 ms without lookup clients", "lower", lambda r: r["p50_ms"], lk_without, "{:.1f}")
        row("4", "report p50 ms with lookup clients", "lower", lambda r: r["p50_ms"], lk_with, "{:.1f}")
        for role in roles:
            pairs = []
            for w in lk_with[role]:
                wo = [x for x in lk_without[role] if x["round"] == w["round"]]
                if wo and wo[0]["p50_ms"]:
                    pairs.append(w["p50_ms"] / wo[0]["p50_ms"])
            ratio_by_role[role] = med(pairs)
        b, n = ratio_by_role.get("base"), ratio_by_role.get("new")
        o.append("| 4 | **report p50 with ÷ without lookup clients** (goal of the refactor ≤ 1.2) | lower | %s | %s | %s |" % (
            fmt(b, "{:.2f}×"), fmt(n, "{:.2f}×"), "**%.2f**" % (n / b) if b and n is not None else "—"))
        row("4", "report p99 ms with lookup clients", "lower", lambda r: r["p99_ms"], lk_with, "{:.1f}")
        row("4", "reports accepted / s with lookup clients", "higher", lambda r: r["accepted_per_s"], lk_with, "{:,.1f}")
        row("4", "lookup p50 ms while reports are posted", "lower", lambda r: r["lookups"]["p50_ms"], lk_with, "{:.1f}")
        row("4", "lookup p99 ms while reports are posted", "lower", lambda r: r["lookups"]["p99_ms"], lk_with, "{:.1f}")
        row("4", "lookups / s while reports are posted", "higher", lambda r: r["lookups"]["lookups_per_s"], lk_with, "{:,.1f}")
    if any(lk_alone.values()):
        row("4", "lookup p50 ms, lookup clients alone", "lower", lambda r: r["p50_ms"], lk_alone, "{:.1f}")
        row("4", "lookup p99 ms, lookup clients alone", "lower", lambda r: r["p99_ms"], lk_alone, "{:.1f}")
        hot = E.get("HOT_KEY", "89.160.20.112")
        row("4", "lookup p50 ms of the hot key (%s), alone" % hot, "lower",
            lambda r: r["per_key"].get(hot, {}).get("p50_ms"), lk_alone, "{:.1f}")
        row("4", "lookups / s, alone", "higher", lambda r: r["lookups_per_s"], lk_alone, "{:,.1f}")
    idle, ing = sel(kind="dns", mode="idle"), sel(kind="dns", mode="ingesting")
    if any(idle.values()):
        section("DNS while ingesting vs idle (dnsperf as benches/run.sh; file data + report feeds; %s POSTs/s)" % E.get("RATE", "?"))
        row("5", "QPS idle", "higher", lambda r: r["qps"], idle, "{:,.0f}")
        row("5", "QPS ingesting", "higher", lambda r: r["qps"], ing, "{:,.0f}")
        for k, label in (("qps", "QPS ingesting ÷ idle"), ("qps_cpu", "QPS per server CPU-second ingesting ÷ idle")):
            pr = {}
            for role in roles:
                xs = []
                for x in ing[role]:
                    y = [i for i in idle[role] if i["round"] == x["round"]]
                    if y and y[0][k]:
                        xs.append(x[k] / y[0][k])
                pr[role] = med(xs)
            b, n = pr["base"], pr["new"]
            o.append("| 5 | **%s** | higher | %s | %s | %s |" % (label, fmt(b, "{:.2f}"), fmt(n, "{:.2f}"),
                                                              "**%.2f**" % (n / b) if b and n is not None else "—"))
        row("5", "reports accepted / s during the ingesting run", "higher", lambda r: (r.get("gen") or {}).get("accepted_per_s"), ing, "{:,.1f}")

    # ---- detail
    o.append("")
    o.append("### Every report run\n")
    o.append("| binary | round | store | variant | clients | lookup clients | run s | accepted (202) | accepted / s | p50 / p99 ms | "
             "listing post p50 / p99 ms | errors | dup (200) | server CPU ms / report | server CPU % | CPU0 busy % | CPU1 other % | keys served after: IPs / domains |")
    o.append("|---|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    noisy = []
    for r in tp:
        ka = r.get("keys_after") or {}
        ips = ka.get("iprbl.test", 0) + ka.get("niprbl.test", 0) if "error" not in ka else None
        o.append("| %s | %d | %s | %s | %d | %d | %.1f | %s | %s | %s / %s | %s / %s | %d | %d | %s | %s | %s | %s | %s / %s |" % (
            r["role"].upper(), r["round"], r["store"], r["variant"], r["clients"], r.get("lookup_clients", 0), r["elapsed_s"],
            fmt(r["accepted"]), fmt(r["accepted_per_s"], "{:,.1f}"), fmt(r["p50_ms"], "{:.1f}"), fmt(r["p99_ms"], "{:.1f}"),
            fmt(r["listing_p50_ms"], "{:.1f}"), fmt(r["listing_p99_ms"], "{:.1f}"), r["errors"], r["duplicates"],
            fmt(r.get("server_cpu_ms_per_report"), "{:.2f}"), fmt(100 * r["server_cpu_s"] / r["wall_s"] if r["wall_s"] else None),
            fmt(r.get("cpu0_busy_pct")), fmt(r.get("cpu1_other_pct")), fmt(ips), fmt(ka.get("urirbl.test"))))
        if (r.get("cpu1_other_pct") or 0) > 20:
            noisy.append("%s round %d %s/%s c=%d: CPU1 other %.0f %%" % (r["role"].upper(), r["round"], r["store"], r["variant"],
                                                                         r["clients"], r["cpu1_other_pct"]))
        if r["errors"]:
            o.append("|  | | | | | | | **errors**: %s | | | | | | | | | | |" % "; ".join(
                "`%s`" % e.replace("|", "/")[:160] for e in r["first_errors"][:3]))
    starts = [r for r in R if r.get("kind") == "start"]
    if starts:
        o.append("")
        o.append("Seeded starts: " + "; ".join("%s round %d: first answer %.2f s, idle %.2f s, %s" % (
            r["role"].upper(), r["round"], r["t_load"], r["t_idle"], r.get("zones", "?")) for r in starts))
    lks = [r for r in R if r.get("kind") == "lookups"] + [r["lookups"] for r in tp if r.get("lookups")]
    bad = [r for r in lks if r.get("errors")]
    if bad:
        o.append("")
        o.append("**lookup errors**: " + "; ".join("`%s`" % e.replace("|", "/")[:160] for r in bad for e in r["first_errors"][:2]))
    if noisy:
        o.append("")
        o.append("**NOISY**: other processes took more than 20 %% of CPU 1 (the server's core) in: %s. Rerun on a quiet "
                 "machine before quoting." % "; ".join(noisy))

    # ---- notes
    o.append("")
    o.append("### How it was measured\n")
    if seed:
        c = seed["counts"]
        o.append("- seeded store: built once per run with BASE's schema (`fadelist reporter add` on a fresh `--db`, then "
                 "`benches/write_path.py seed`, %s s): %s listed keys (iprbl.test %s incl. IPv6 /64s, urirbl.test %s), "
                 "%s reports (%s with a raw sample), %s evidence rows (%s keys with %d each; %s with %s: the hot key), "
                 "%s contributions, %s audit rows; %.0f MiB. Every server run gets a fresh copy of that file, "
                 "so a NEW binary migrates the old schema at every start." % (
                     seed["seconds"], fmt(c["listed"]), fmt(seed["zones"]["iprbl.test"]), fmt(seed["zones"]["urirbl.test"]),
                     fmt(c["reports"]), fmt(c["raw_samples"]), fmt(c["evidence"]), fmt(seed["heavy_keys"]),
                     seed["heavy_evidence"], seed["hot_key"], fmt(seed["hot_evidence"]), fmt(c["contributions"]),
                     fmt(c["audit"]), seed["bytes"] / 1048576))
        o.append("- lookup keys: %s (each client walks the list from its own offset)." % ", ".join("`%s`" % k for k in seed["lookup_keys"]))
    o.append("- messages: %s" % E.get("MSG_NOTE", "?"))
    o.append("- report runs: `ingest_load.py throughput` (%s s each; every client a thread with its own keep-alive "
             "connection, next message as soon as the answer is in). *no churn* = `--once`: each message POSTed once "
             "by reporter A (nothing new is listed; the shared hot key gains evidence); *listing churn*: A then B "
             "(a spam trap), B's post lists: a new listing every other report. Server CPU = utime+stime of the "
             "server process over the run (`/proc/PID/stat`) ÷ accepted reports (202): it does not depend on the "
             "load generator. Empty store: a fresh server and database per run; seeded store: one server per "
             "binary and round on its own copy of the seed, both up at once (idle when not measured) so that "
             "every step alternates BASE, NEW; the runs follow each other (the %s-key store barely grows)." % (
                 E.get("TP_SECS", "?"), fmt(seed["counts"]["listed"]) if seed else "?"))
    o.append("- lookups: `ingest_load.py lookups` (%s clients, %s) from 1 s before the report run to 1 s after; "
             "*without* = the same report load just before, without lookup clients; *alone* = the lookup clients "
             "with no report load. The server has one core: lookup work competes with the store writer (nice 19) "
             "for it whatever the locking, so read the ratio next to \"lookups / s\" (FADELIST_WP_LOOKUP_PAUSE "
             "spaces the lookups out)." % (
                 E.get("LOOKUP_CLIENTS", "?"),
                 "a tight loop" if float(E.get("LOOKUP_PAUSE", "0") or 0) == 0 else "%s s between lookups" % E["LOOKUP_PAUSE"]))
    o.append("- servers: `fadelist serve --config C --db D` with the zones iprbl.test (feed ip), niprbl.test "
             "(bulk-ip), urirbl.test (domain), `rate_per_minute = 1000000`, `max_report_age = \"36500d\"`, "
             "`decay_interval = \"%s\"` (the first decay pass runs at start: the *idle* row waits it out before "
             "timing), defaults otherwise (store writer at nice 19). Part 5 as benches/ingest.sh part 3: "
             "file datasets from gen-data.py next to the feeds, a fresh server and database per binary and round; %s"
             % (E.get("DECAY_INTERVAL", "?"), E.get("DATA_NOTE", "")))
    o.append("- command: `%s`; date: %s; total %s s; database folder on %s" % (
        E.get("CMDLINE_FULL", "?"), E.get("DATE", "?"), E.get("TOTAL_S", "?"), E.get("DB_FS", "?")))
    o.append(machine_line(E))
    o.append("- pinning: %s; dnsperf %s; Python %s (clients, stdlib only)%s" % (
        E.get("PINNING", "?"), E.get("DP_VER", "?"), sys.version.split()[0],
        "; server logs: " + E["SERVER_NOTES"] if E.get("SERVER_NOTES") else ""))
    print("\n".join(o))
    return 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--db", required=True)
    s.add_argument("--mail-dir", default=os.path.join(here, "..", "tests", "data", "mail"))
    s.add_argument("--keys", type=int, default=100_000)
    s.add_argument("--reports", type=int, default=60_000)
    s.add_argument("--heavy-evidence", type=int, default=30)
    s.add_argument("--hot-evidence", type=int, default=55_000)
    s.add_argument("--raw-share", type=float, default=0.1)
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    a = p.parse_args()
    return {"seed": cmd_seed, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
