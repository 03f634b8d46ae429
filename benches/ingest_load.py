#!/usr/bin/env python3
"""benches/ingest_load.py — the load generator and report writer of benches/ingest.sh.

Python standard library only. Subcommands (all print one JSON object on stdout):

  guard       POST one generated message of every template with reporter A, then B;
              check the extracted source IP, that every reported domain carries the
              message's tag (so keys are distinct), the bulk verdict and the listing
  throughput  N clients (threads, keep-alive connections) POST message pairs (A then B)
              as fast as the server accepts them for a bounded time
  latency     report-to-DNS latency: for K messages, POST A, check the source IP is
              NXDOMAIN, then POST B while a thread polls the DNS server over raw UDP
              in a tight loop until the source IP answers NOERROR with an A record
  paced       open-loop POSTs at a fixed rate (schedule k / rate), with a few of the
              listing posts probed for report-to-DNS latency as in `latency`
  lookups     N clients GET /api/v1/lookup/{key} in a loop over a list of keys for a
              bounded time (latency per key; benches/write-path.sh)
  sample      write a few generated messages to a folder (to look at them)
  report      turn the JSON results of ingest.sh into the markdown tables

Messages are built from tests/data/mail/*.eml: every generated message gets its
own Message-ID, its own source IP in the Received chain (IPv4 from 45.0.0.0 to
90.255.255.255, or an IPv6 /64 under 2a02:1811::/32), its own advertised domains
(the fixture's domain stems get "-<tag>" appended, tag = base36 of the message
index) and text or HTML padding to a size drawn log-uniformly from 5 to 50 KB
(--min-kb / --max-kb; equal values give one size). --templates html keeps only the
templates padded with HTML (benches/write-path.sh's 24 KB HTML mails).
Message index i always gives the same message (deterministic).
"""

import argparse
import http.client
import json
import math
import os
import random
import re
import socket
import statistics
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in benches/ for the imports below
from bench_helpers import cpu_stat, machine_line, proc_ticks  # noqa: E402 (same folder)

# ------------------------------------------------------------------ templates

# file, source IP as written in the fixture, domain stems to make distinct,
# category, bulk?, padding kind, insert padding before this anchor (None: at the end), weight
TEMPLATES = [
    ("spam-plain.eml", "89.160.20.112", ["cheap-meds-online", "rx-discount-store", "mail-blast"],
     "spam", False, "text", None, 3),
    ("html-obfuscated.eml", "216.160.83.61",
     ["lucky-winner-prize", "free-gift-cards", "cher-angebote", "crypto-double-now",
      "tracker-pixel-cdn", "secure-verify-account", "backup-prize-site"],
     "spam", False, "html", "</body></html>", 2),
    ("forged-received-chain.eml", "81.2.69.142", ["bigbank-secure-verify"],
     "phishing", False, "text", None, 1),
    ("charset-iso-8859-1.eml", "89.160.20.112", ["promo-ete-soldes"], "spam", False, "text", None, 1),
    ("charset-unknown.eml", "81.2.69.142", ["unknown-charset-deals"], "spam", False, "text", None, 1),
    ("arf-abuse.eml", "216.160.83.56", ["win-a-prize-now", "prize-images"],
     "spam", False, "html", "</body></html>", 1),
    ("ipv6-relay.eml", "2a02:1810:8c00::", ["casino-bonus-royal"], "spam", False, "text", None, 1),
    ("newsletter-one-click.eml", "175.16.199.10", ["gadget-deals-weekly", "mailstat-pixel"],
     "spam", True, "text", "\n--nl-alt-2026-11\nContent-Type: text/html", 1),
    ("esp-bulk.eml", "89.160.20.128", ["spring-sale-outlet"], "spam", True, "html", "</body></html>", 1),
]
# Domains the fixtures mention that are never listed (big providers): not expected to carry a tag.
NEVER_LISTED = {"google.com", "facebook.com"}

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
         "labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris "
         "nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse "
         "cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui "
         "officia deserunt mollit anim id est laborum offer price discount today only exclusive deal "
         "customer account order shipping free bonus limited special member winner selected").split()

IP_LO = 45 << 24                      # 45.0.0.0
IP_N = (91 - 45) << 24                # up to 90.255.255.255 (46 * 2^24 addresses)
IP_MUL = 2654435761                   # odd and not a multiple of 23: a bijection modulo IP_N
TRUSTED_V4 = (0x510245A0, 27)         # 81.2.69.160/27, the fixtures' reporter networks


def ip4_of(i):
    v = IP_LO + (i * IP_MUL + 7919) % IP_N
    net, plen = TRUSTED_V4
    if v >> (32 - plen) == net >> (32 - plen):
        v ^= 0x100
    return socket.inet_ntoa(struct.pack("!I", v))


def v6_prefix_of(i):
    return "2a02:1811:%x:%x::" % ((i >> 16) & 0xFFFF, i & 0xFFFF)


def tag_of(i):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    s = ""
    while True:
        i, r = divmod(i, 36)
        s = digits[r] + s
        if i == 0:
            return "t" + s


def mix(i):  # a cheap deterministic hash of the index (Knuth multiplicative)
    return (i * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF


class Generator:
    def __init__(self, mail_dir, min_kb=5, max_kb=50, templates="all"):
        self.t = []
        for (f, src, stems, cat, bulk, pad, anchor, w) in TEMPLATES:
            if templates == "html" and pad != "html":
                continue
            raw = open(os.path.join(mail_dir, f), "rb").read().decode("latin-1")  # byte-preserving
            crlf = "\r\n" in raw
            if crlf and anchor:
                anchor = anchor.replace("\n", "\r\n")
            assert src in raw, (f, src)
            for s in stems:
                assert s.lower() in raw.lower(), (f, s)
            if anchor:
                assert raw.count(anchor) == 1, (f, anchor)
            stem_re = re.compile("(" + "|".join(re.escape(s) for s in stems) + ")", re.I)
            self.t.append(dict(file=f, raw=raw, src=src, stems=stems, stem_re=stem_re, cat=cat, bulk=bulk,
                               pad=pad, anchor=anchor, crlf=crlf, v6=":" in src))
            self.t[-1]["weight"] = w
        self.wheel = [k for k, x in enumerate(self.t) for _ in range(x["weight"])]
        self.min_b, self.max_b = min_kb * 1024, max_kb * 1024
        rng = random.Random(5782)
        lines_t, lines_h = [], []
        for _ in range(4000):
            words = [rng.choice(WORDS) for _ in range(rng.randint(8, 11))]
            words[0] = words[0].capitalize()
            lines_t.append(" ".join(words) + ("." if rng.random() < 0.5 else ""))
            if rng.random() < 0.15:
                lines_t.append("")
            lines_h.append("<p>" + " ".join(rng.choice(WORDS) for _ in range(rng.randint(7, 10))) + "</p>")
        self.pool = {"text": lines_t, "html": lines_h}
        self.msgid_re = re.compile(r"(?im)^(Message-ID:[ \t]*<)")

    def meta(self, i):
        t = self.t[self.wheel[mix(i) % len(self.wheel)]]
        return t

    def message(self, i):
        """-> (bytes, info) for message index i."""
        t = self.meta(i)
        tag = tag_of(i)
        raw = t["raw"]
        if t["v6"]:
            ip = v6_prefix_of(i) + "17"
            raw = raw.replace(t["src"], v6_prefix_of(i))
        else:
            ip = ip4_of(i)
            raw = raw.replace(t["src"], ip)
        raw = t["stem_re"].sub(lambda m: m.group(1) + "-" + tag, raw)
        raw = self.msgid_re.sub(lambda m: m.group(1) + tag + ".", raw)
        # size: log-uniform between min and max
        h = mix(i ^ 0x5BD1E995)
        u = (h & 0xFFFF) / 65535.0
        target = int(self.min_b * math.exp(u * math.log(self.max_b / self.min_b)))
        need = target - len(raw)
        if need > 0:
            nl = "\r\n" if t["crlf"] else "\n"
            pool = self.pool[t["pad"]]
            k = (h >> 16) % len(pool)
            out, size = [], 0
            while size < need:
                line = pool[k % len(pool)]
                out.append(line)
                size += len(line) + len(nl)
                k += 1
            pad = nl.join(out) + nl
            if t["anchor"]:
                a = raw.index(t["anchor"])
                raw = raw[:a] + pad + raw[a:]
            else:
                if not raw.endswith(nl):
                    raw += nl
                raw += nl + pad
        info = {"i": i, "template": t["file"], "ip": ip, "v6": t["v6"], "category": t["cat"],
                "bulk": t["bulk"], "tag": tag, "zone": "niprbl.test" if t["bulk"] else "iprbl.test"}
        return raw.encode("latin-1"), info


# ------------------------------------------------------------------ HTTP and DNS clients

class Client:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None
        self.connects = 0        # TCP connections opened
        self.server_closes = 0   # responses that said the connection closes
        self.stale_retries = 0   # a reused connection failed and the request was resent on a new one

    def post(self, token, body, category="spam"):
        path = "/api/v1/reports" + ("" if category == "spam" else "?category=" + category)
        headers = {"Authorization": "Bearer " + token, "Content-Type": "message/rfc822"}
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.connects += 1
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                if r.will_close:
                    self.conn.close()
                    self.conn = None
                    self.server_closes += 1
                return r.status, data
            except (http.client.RemoteDisconnected, http.client.BadStatusLine,
                    ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
                self.conn.close()
                self.conn = None
                if fresh or attempt == 1:
                    raise
                self.stale_retries += 1
        raise RuntimeError("unreachable")


def dns_query(qid, name, qtype=1):
    q = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack("!HH", qtype, 1)


def dns_has_a(resp):
    """-> (rcode, has an A record in the answer section)."""
    if len(resp) < 12:
        return -1, False
    _, flags, qd, an = struct.unpack("!HHHH", resp[:8])
    rcode = flags & 0xF
    p = 12
    for _ in range(qd):
        while resp[p] != 0:
            if resp[p] & 0xC0 == 0xC0:
                p += 1
                break
            p += resp[p] + 1
        p += 5
    for _ in range(an):
        while True:
            if resp[p] & 0xC0 == 0xC0:
                p += 2
                break
            if resp[p] == 0:
                p += 1
                break
            p += resp[p] + 1
        rtype, _, _, rdlen = struct.unpack("!HHIH", resp[p:p + 10])
        if rtype == 1:
            return rcode, True
        p += 10 + rdlen
    return rcode, False


def rev_name(ip, zone):
    if ":" in ip:  # IPv6: the /64 key, as nibbles of the full address
        import ipaddress
        nib = ipaddress.IPv6Address(ip).exploded.replace(":", "")
        return ".".join(reversed(nib)) + "." + zone
    return ".".join(reversed(ip.split("."))) + "." + zone


class Prober:
    """Polls NAME over UDP in a tight loop until it answers NOERROR + A (or the deadline)."""

    def __init__(self, port, name, limit_s):
        self.port, self.name, self.limit = port, name, limit_s
        self.t_visible = None
        self.t_done = None       # set by the poster when its POST has returned
        self.polls = 0
        self.timeouts = 0        # queries without an answer within 0.25 s
        self.last = None         # the last answer seen
        self.started = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.th.start()
        self.started.wait()

    def run(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", self.port))
        s.settimeout(0.25)
        qid = random.randint(0, 0xFFFF)
        t0 = time.perf_counter()
        self.started.set()
        while True:
            now = time.perf_counter()
            # poll for `limit` seconds from the send, but at least 2 s after the POST came back
            # (a POST slower than the limit is not a DNS failure), and never more than 60 s
            if now - t0 > 60 or (now - t0 > self.limit and self.t_done is not None and now > self.t_done + 2.0):
                break
            qid = (qid + 1) & 0xFFFF
            s.send(dns_query(qid, self.name))
            self.polls += 1
            try:
                while True:
                    r = s.recv(4096)
                    if len(r) >= 2 and struct.unpack("!H", r[:2])[0] == qid:
                        break
            except socket.timeout:
                self.timeouts += 1
                continue
            rcode, has_a = dns_has_a(r)
            self.last = "NOERROR+A" if rcode == 0 and has_a else {0: "NOERROR-no-A", 3: "NXDOMAIN"}.get(rcode, "rcode%d" % rcode)
            if rcode == 0 and has_a:
                self.t_visible = time.perf_counter()
                break
        s.close()

    def join(self):
        self.th.join()


def dns_state(port, name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    s.settimeout(1.0)
    qid = random.randint(0, 0xFFFF)
    try:
        for _ in range(3):
            s.send(dns_query(qid, name))
            try:
                r = s.recv(4096)
            except socket.timeout:
                continue
            rcode, has_a = dns_has_a(r)
            return "listed" if rcode == 0 and has_a else {0: "NOERROR-no-A", 3: "NXDOMAIN"}.get(rcode, "rcode%d" % rcode)
        return "timeout"
    finally:
        s.close()


# ------------------------------------------------------------------ measurement helpers

def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, math.ceil(p / 100.0 * len(xs)) - 1))
    return xs[k]


def cpu_ticks(pid):
    """utime+stime of the server in clock ticks (0 without a pid or once it is gone)."""
    return (proc_ticks(pid) or 0) if pid else 0


class Sampler:
    """Server CPU seconds and CPU0/CPU1 busy shares over an interval."""

    def __init__(self, pid):
        self.pid = pid
        self.hz = os.sysconf("SC_CLK_TCK")

    def start(self):
        self.c0 = cpu_ticks(self.pid)
        self.s0 = cpu_stat()
        self.t0 = time.perf_counter()

    def stop(self):
        c1 = cpu_ticks(self.pid)
        s1 = cpu_stat()
        dt = time.perf_counter() - self.t0
        srv = (c1 - self.c0) / self.hz
        r = {"server_cpu_s": srv, "wall_s": dt}
        if "cpu0" in s1 and "cpu0" in self.s0:
            b0 = s1["cpu0"][0] - self.s0["cpu0"][0]
            t0 = s1["cpu0"][1] - self.s0["cpu0"][1]
            r["cpu0_busy_pct"] = 100.0 * b0 / t0 if t0 else None
        if "cpu1" in s1 and "cpu1" in self.s0:
            b1 = s1["cpu1"][0] - self.s0["cpu1"][0]
            t1 = s1["cpu1"][1] - self.s0["cpu1"][1]
            r["cpu1_other_pct"] = max(0.0, 100.0 * (b1 - (c1 - self.c0)) / t1) if t1 else None  # ticks: ±1
        return r


def zone_keys(host, port):
    """Served entries per zone from /api/v1/zones (report-fed keys + file data + test entries)."""
    import urllib.request
    try:
        z = json.load(urllib.request.urlopen("http://%s:%d/api/v1/zones" % (host, port), timeout=10))
    except Exception as e:  # noqa: BLE001
        return {"error": str(e)}
    return {x["name"]: x["ipv4_entries"] + x["ipv6_entries"] + x["domain_entries"] for x in z}


def keys_listed(data, zone, key):
    """-> (newly_listed for (zone, key), newly listed keys in all zones) from a 202 body."""
    try:
        d = json.loads(data)
    except ValueError:
        return False, 0
    mine, n = False, 0
    for k in d.get("keys", []):
        if k.get("newly_listed"):
            n += 1
            if k.get("zone") == zone and k.get("key") == key:
                mine = True
    return mine, n


def source_key(info):
    if info["v6"]:
        return info["ip"].rsplit("::", 1)[0] + "::/64"
    return info["ip"]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.status = {}
        self.exc = {}
        self.lat = []
        self.lat_listing = []
        self.sizes = []
        self.newly = 0
        self.source_listed = 0
        self.first_err = []

    def add(self, status, dt, size, listing_post, newly, mine, err=None):
        with self.lock:
            if err is not None:
                self.exc[err] = self.exc.get(err, 0) + 1
            else:
                self.status[status] = self.status.get(status, 0) + 1
                self.lat.append(dt)
                if listing_post:
                    self.lat_listing.append(dt)
                self.sizes.append(size)
                self.newly += newly
                self.source_listed += mine

    def summary(self, elapsed):
        ok = self.status.get(202, 0)
        errs = sum(v for k, v in self.status.items() if k not in (200, 202)) + sum(self.exc.values())
        ms = lambda x: None if x is None else 1000 * x
        return {
            "elapsed_s": elapsed, "posts": sum(self.status.values()) + sum(self.exc.values()),
            "accepted": ok, "duplicates": self.status.get(200, 0), "errors": errs,
            "status": {str(k): v for k, v in sorted(self.status.items())}, "exceptions": self.exc,
            "first_errors": self.first_err[:5],
            "accepted_per_s": ok / elapsed if elapsed > 0 else 0,
            "newly_listed_keys": self.newly, "source_listings": self.source_listed,
            "source_listings_per_s": self.source_listed / elapsed if elapsed > 0 else 0,
            "p50_ms": ms(pct(self.lat, 50)), "p99_ms": ms(pct(self.lat, 99)), "max_ms": ms(max(self.lat) if self.lat else None),
            "listing_p50_ms": ms(pct(self.lat_listing, 50)), "listing_p99_ms": ms(pct(self.lat_listing, 99)),
            "size_mean_b": statistics.mean(self.sizes) if self.sizes else None,
            "size_min_b": min(self.sizes) if self.sizes else None, "size_max_b": max(self.sizes) if self.sizes else None,
        }


def do_post(cli, stats, token, body, info, listing_post):
    t0 = time.perf_counter()
    try:
        status, data = cli.post(token, body, info["category"])
    except Exception as e:  # noqa: BLE001 — every failure is counted, the run goes on
        name = type(e).__name__
        with stats.lock:
            if len(stats.first_err) < 5:
                stats.first_err.append("%s: %s" % (name, e))
        stats.add(None, 0, len(body), listing_post, 0, 0, err=name)
        return None, None, t0, time.perf_counter()
    t1 = time.perf_counter()
    mine, n = (False, 0)
    if status == 202:
        mine, n = keys_listed(data, info["zone"], source_key(info))
    elif status != 200:
        with stats.lock:
            if len(stats.first_err) < 5:
                stats.first_err.append("HTTP %d: %s" % (status, data[:200].decode("utf-8", "replace")))
    stats.add(status, t1 - t0, len(body), listing_post, n, 1 if mine else 0)
    return status, data, t0, t1


# ------------------------------------------------------------------ subcommands

def cmd_guard(a, gen):
    cli = Client(a.host, a.port)
    out, bad = [], []
    base = a.start
    for k, t in enumerate(gen.t):
        i = base
        while gen.meta(i) is not t:
            i += 1
        base = i + 1
        body, info = gen.message(i)
        row = {"template": t["file"], "size": len(body), "ip": info["ip"]}
        s1, d1 = cli.post(a.token_a, body, info["category"])
        s2, d2 = cli.post(a.token_b, body, info["category"])
        s3, _ = cli.post(a.token_b, body, info["category"])
        problems = []
        if s1 != 202 or s2 != 202:
            problems.append("HTTP %s/%s: %s" % (s1, s2, (d1 if s1 != 202 else d2)[:300]))
        else:
            x = json.loads(d1)["extracted"]
            src = (x.get("source") or {}).get("ip")
            want = info["ip"] if not info["v6"] else info["ip"]
            if src != want:
                problems.append("source %s, expected %s" % (src, want))
            doms = [d["domain"] for d in x.get("domains", [])]
            untagged = [d for d in doms if info["tag"] not in d and d not in NEVER_LISTED]
            if untagged:
                problems.append("domains without the tag (shared between messages): %s" % untagged)
            if not doms:
                problems.append("no domain extracted")
            if x["bulk"]["is_bulk"] != info["bulk"]:
                problems.append("bulk %s, expected %s" % (x["bulk"]["is_bulk"], info["bulk"]))
            mine, n = keys_listed(d2, info["zone"], source_key(info))
            if not mine:
                problems.append("second report did not list %s in %s" % (source_key(info), info["zone"]))
            row.update(domains=len(doms), newly_listed=n, ip_literals=x.get("ip_literals"))
        if s3 != 200:
            problems.append("resending the same message: HTTP %s, expected 200 (duplicate)" % s3)
        if not info["v6"]:
            st = dns_state(a.dns_port, rev_name(info["ip"], info["zone"]))
            if st != "listed":
                problems.append("DNS after listing: %s" % st)
        row["problems"] = problems
        if problems:
            bad.append(row)
        out.append(row)
    print(json.dumps({"templates": out, "bad": len(bad)}))
    return 1 if bad else 0


def cmd_throughput(a, gen):
    stats = Stats()
    counter = [a.start]
    lock = threading.Lock()
    clients = []
    sampler = Sampler(a.server_pid)
    deadline = [0.0]
    last_end = [0.0]

    def worker():
        cli = Client(a.host, a.port)
        clients.append(cli)
        while time.perf_counter() < deadline[0]:
            with lock:
                i = counter[0]
                counter[0] += 1
            body, info = gen.message(i)
            if a.once:  # one post by reporter A: nothing new gets listed
                _, _, _, t1 = do_post(cli, stats, a.token_a, body, info, False)
            else:
                do_post(cli, stats, a.token_a, body, info, False)
                _, _, _, t1 = do_post(cli, stats, a.token_b, body, info, True)
            with lock:
                last_end[0] = max(last_end[0], t1)
        if cli.conn:
            cli.conn.close()

    ths = [threading.Thread(target=worker) for _ in range(a.clients)]
    keys_before = zone_keys(a.host, a.port)
    sampler.start()
    t0 = time.perf_counter()
    deadline[0] = t0 + a.secs
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    elapsed = max(last_end[0], deadline[0]) - t0
    cpu = sampler.stop()
    r = stats.summary(elapsed)
    r.update(cpu)
    r.update(keys_before=keys_before, keys_after=zone_keys(a.host, a.port))
    r.update(clients=a.clients, secs=a.secs, once=a.once, messages=counter[0] - a.start, next_index=counter[0],
             connects=sum(c.connects for c in clients), server_closes=sum(c.server_closes for c in clients),
             stale_retries=sum(c.stale_retries for c in clients), client_cpu_s=time.process_time())
    if r["accepted"]:
        r["server_cpu_ms_per_report"] = 1000 * r["server_cpu_s"] / r["accepted"]
    print(json.dumps(r))
    return 0


def probe_summary(samples, limit):
    send = [s["send_to_visible_ms"] for s in samples if s["send_to_visible_ms"] is not None]
    after = [s["after_202_ms"] for s in samples if s["after_202_ms"] is not None]
    post = [s["post_ms"] for s in samples if s.get("post_ms") is not None]
    missing = sum(1 for s in samples if s["send_to_visible_ms"] is None)
    missing_post = [round(s["post_ms"], 1) for s in samples if s["send_to_visible_ms"] is None]
    missing_detail = [{k: s.get(k) for k in ("ip", "post_ms", "polls", "timeouts", "last")}
                      for s in samples if s["send_to_visible_ms"] is None]
    worst = lambda xs: max(xs) if xs else None
    return {
        "samples": len(samples), "not_visible": missing, "not_visible_post_ms": missing_post,
        "not_visible_detail": missing_detail, "limit_s": limit,
        "within_1s": sum(1 for x in send if x <= 1000),
        "send_p50_ms": pct(send, 50), "send_p95_ms": pct(send, 95), "send_p99_ms": pct(send, 99),
        "send_max_ms": worst(send),
        "after202_p50_ms": pct(after, 50), "after202_p95_ms": pct(after, 95), "after202_p99_ms": pct(after, 99),
        "after202_max_ms": worst(after),
        "after202_min_ms": min(after) if after else None,
        "visible_before_202": sum(1 for x in after if x < 0),
        "post_p50_ms": pct(post, 50), "post_p95_ms": pct(post, 95),
        "polls_median": statistics.median([s["polls"] for s in samples]) if samples else None,
        "raw": {"send": send, "after": after, "post": post, "polls": [s["polls"] for s in samples]},
    }


def cmd_latency(a, gen):
    cli = Client(a.host, a.port)
    samples, skipped, anomalies = [], {}, []
    i = a.start
    sampler = Sampler(a.server_pid)
    sampler.start()
    while len(samples) < a.samples:
        t = gen.meta(i)
        if t["bulk"] or t["v6"]:
            i += 1
            continue
        body, info = gen.message(i)
        i += 1
        name = rev_name(info["ip"], info["zone"])
        s1, _ = cli.post(a.token_a, body, info["category"])
        if s1 != 202:
            skipped["first post HTTP %s" % s1] = skipped.get("first post HTTP %s" % s1, 0) + 1
            continue
        before = dns_state(a.dns_port, name)
        if before != "NXDOMAIN":
            anomalies.append("%s answered %s after one report (expected NXDOMAIN)" % (info["ip"], before))
            continue
        pr = Prober(a.dns_port, name, a.limit)
        pr.start()
        t_send = time.perf_counter()
        s2, d2 = cli.post(a.token_b, body, info["category"])
        t_202 = time.perf_counter()
        pr.t_done = t_202
        pr.join()
        mine, _ = keys_listed(d2, info["zone"], source_key(info)) if s2 == 202 else (False, 0)
        if not mine:
            anomalies.append("second report of %s: HTTP %s, not newly listed" % (info["ip"], s2))
        tv = pr.t_visible
        samples.append({
            "ip": info["ip"], "post_ms": 1000 * (t_202 - t_send), "polls": pr.polls,
            "timeouts": pr.timeouts, "last": pr.last,
            "send_to_visible_ms": None if tv is None else 1000 * (tv - t_send),
            "after_202_ms": None if tv is None else 1000 * (tv - t_202),
        })
        if a.pause > 0:
            time.sleep(a.pause)
    r = probe_summary(samples, a.limit)
    r.update(sampler.stop())
    r.update(skipped=skipped, anomalies=anomalies[:10], anomalies_n=len(anomalies), next_index=i)
    print(json.dumps(r))
    return 0


def cmd_paced(a, gen):
    stats = Stats()
    lock = threading.Lock()
    nxt = [0]
    total = int(a.rate * a.secs)
    probes, probers = [], []
    late = [0]
    lags = []
    t0 = time.perf_counter() + 0.05
    clients = []
    last_end = [t0]

    def worker():
        cli = Client(a.host, a.port)
        clients.append(cli)
        while True:
            with lock:
                k = nxt[0]
                if k >= total:
                    break
                nxt[0] += 1
            due = t0 + k / a.rate
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            lag = max(0.0, time.perf_counter() - due)
            with lock:
                lags.append(lag)
                if lag > 0.05:
                    late[0] += 1
            m = a.start + k // 2
            body, info = gen.message(m)
            second = k % 2 == 1
            pr = None
            probe = (second and a.probe_every > 0 and (k // 2) % a.probe_every == 0
                     and not info["bulk"] and not info["v6"])
            if probe:
                pr = Prober(a.dns_port, rev_name(info["ip"], info["zone"]), a.limit)
                pr.start()
            status, data, ts, te = do_post(cli, stats, a.token_b if second else a.token_a, body, info, second)
            if pr:
                pr.t_done = te
            with lock:
                last_end[0] = max(last_end[0], te)
            if pr:
                mine = status == 202 and keys_listed(data, info["zone"], source_key(info))[0]
                with lock:
                    probers.append((pr, ts, te, mine))
        if cli.conn:
            cli.conn.close()

    ths = [threading.Thread(target=worker) for _ in range(a.workers)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    elapsed = last_end[0] - t0
    not_listing = 0
    for pr, ts, te, mine in probers:
        pr.join()
        if not mine:  # the other reporter's post was processed last: it listed, not this one
            not_listing += 1
            continue
        tv = pr.t_visible
        probes.append({"polls": pr.polls, "post_ms": 1000 * (te - ts), "ip": pr.name, "timeouts": pr.timeouts,
                       "last": pr.last, "watched_s": round(time.perf_counter() - ts, 1) if tv is None else None,
                       "send_to_visible_ms": None if tv is None else 1000 * (tv - ts),
                       "after_202_ms": None if tv is None else 1000 * (tv - te)})
    r = stats.summary(elapsed)
    r.update(rate=a.rate, secs=a.secs, workers=a.workers, scheduled=total, late_50ms=late[0],
             lag_p99_ms=1000 * (pct(lags, 99) or 0), client_cpu_s=time.process_time(),
             connects=sum(c.connects for c in clients), server_closes=sum(c.server_closes for c in clients),
             stale_retries=sum(c.stale_retries for c in clients))
    r["keys_after"] = zone_keys(a.host, a.port)
    r["probes"] = probe_summary(probes, a.limit)
    r["probes"]["not_listing_post"] = not_listing
    print(json.dumps(r))
    return 0


def cmd_lookups(a, _gen):
    """N clients GET /api/v1/lookup/{key} in a loop for a.secs, each going through the keys from
    its own offset (so at any moment the clients ask different keys)."""
    from urllib.parse import quote
    keys = [k for k in a.keys.split(",") if k]
    lock = threading.Lock()
    lat = {k: [] for k in keys}
    status, bytes_, errs, first_err = {}, [], {}, []
    clients = []
    sampler = Sampler(a.server_pid)

    def worker(n):
        conn = None
        clients.append(1)
        j = n * max(1, len(keys) // max(1, a.clients))
        while time.perf_counter() < deadline:
            k = keys[j % len(keys)]
            j += 1
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(a.host, a.port, timeout=60)
                conn.request("GET", "/api/v1/lookup/" + quote(k, safe=""))
                r = conn.getresponse()
                data = r.read()
                if r.will_close:
                    conn.close()
                    conn = None
            except Exception as e:  # noqa: BLE001 — counted, the loop goes on
                if conn is not None:
                    conn.close()
                    conn = None
                with lock:
                    errs[type(e).__name__] = errs.get(type(e).__name__, 0) + 1
                    if len(first_err) < 5:
                        first_err.append("%s: %s" % (type(e).__name__, e))
                continue
            dt = time.perf_counter() - t0
            if a.pause > 0:
                time.sleep(a.pause)
            with lock:
                status[r.status] = status.get(r.status, 0) + 1
                if r.status == 200:
                    lat[k].append(dt)
                    bytes_.append(len(data))
                elif len(first_err) < 5:
                    first_err.append("HTTP %d for %s: %s" % (r.status, k, data[:200].decode("utf-8", "replace")))
        if conn is not None:
            conn.close()

    ths = [threading.Thread(target=worker, args=(n,)) for n in range(a.clients)]
    sampler.start()
    t_start = time.perf_counter()
    deadline = t_start + a.secs
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    elapsed = time.perf_counter() - t_start
    r = sampler.stop()
    allv = [x for v in lat.values() for x in v]
    ms = lambda x: None if x is None else 1000 * x
    ok = status.get(200, 0)
    r.update(clients=a.clients, secs=a.secs, pause_s=a.pause, elapsed_s=elapsed, lookups=ok, lookups_per_s=ok / elapsed if elapsed else 0,
             errors=sum(v for k, v in status.items() if k != 200) + sum(errs.values()),
             status={str(k): v for k, v in sorted(status.items())}, exceptions=errs, first_errors=first_err,
             p50_ms=ms(pct(allv, 50)), p99_ms=ms(pct(allv, 99)), max_ms=ms(max(allv) if allv else None),
             bytes_mean=statistics.mean(bytes_) if bytes_ else None, client_cpu_s=time.process_time(),
             per_key={k: {"n": len(v), "p50_ms": ms(pct(v, 50)), "p99_ms": ms(pct(v, 99))} for k, v in lat.items()})
    print(json.dumps(r))
    return 0


def cmd_fsync(a, _gen):
    """Baseline of the disk under the database: append 4 KiB + fsync, N times (as a WAL commit does)."""
    path = os.path.join(a.dir, "fsync-probe.tmp")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    buf = b"x" * 4096
    lat = []
    try:
        for _ in range(a.n):
            t = time.perf_counter()
            os.write(fd, buf)
            os.fsync(fd)
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    print(json.dumps({"n": a.n, "p50_ms": 1000 * pct(lat, 50), "p99_ms": 1000 * pct(lat, 99),
                      "mean_ms": 1000 * statistics.mean(lat)}))
    return 0


def cmd_sample(a, gen):
    os.makedirs(a.outdir, exist_ok=True)
    rows = []
    for i in range(a.start, a.start + a.n):
        body, info = gen.message(i)
        p = os.path.join(a.outdir, "%d-%s" % (i, info["template"]))
        open(p, "wb").write(body)
        rows.append({"file": p, "size": len(body), **info})
    print(json.dumps(rows))
    return 0


# ------------------------------------------------------------------ report

def fmt(x, f="{:,.0f}", none="—"):
    return none if x is None else f.format(x)


def cmd_report(a, _gen):
    E = os.environ
    R = json.load(open(a.results))
    o = []
    tp = R.get("throughput", [])
    gr = R.get("growth", [])

    def keys(r, when):
        k = r.get("keys_" + when) or {}
        if "error" in k or not k:
            return "?"
        return "%s / %s" % (fmt(k.get("iprbl.test", 0) + k.get("niprbl.test", 0)), fmt(k.get("urirbl.test", 0)))

    def tp_row(label, r):
        o.append("| %s | %.1f | %s | **%s** | %s | %s | %s | %s / %s | %d | %d | %s | %s | %s | %s | %s |" % (
            label, r["elapsed_s"], fmt(r["accepted"]), fmt(r["accepted_per_s"]), keys(r, "after"),
            fmt(r["p50_ms"], "{:.1f}"), fmt(r["p99_ms"], "{:.1f}"), fmt(r["listing_p50_ms"], "{:.1f}"),
            fmt(r["listing_p99_ms"], "{:.1f}"), r["errors"], r["duplicates"],
            fmt(r.get("server_cpu_ms_per_report"), "{:.2f}"), fmt(100 * r["server_cpu_s"] / r["wall_s"], "{:.0f}"),
            fmt(100 * r["client_cpu_s"] / r["wall_s"], "{:.0f}"), fmt(r.get("cpu0_busy_pct"), "{:.0f}"),
            fmt(r.get("cpu1_other_pct"), "{:.0f}")))

    head = ("| {label} | run s | reports accepted (202) | **accepted / s** | keys served at the end: IPs / domains | p50 ms | p99 ms | "
            "listing post p50 / p99 ms | errors | dup (200) | server CPU ms / report | server CPU % | generator CPU % | "
            "CPU0 busy % | CPU1 other % |")
    sep = "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    o.append("## fadelist ingestion: reports per second (HTTP + parsing + SQLite, synchronous=FULL)\n")
    if tp:
        o.append("Each concurrency level on a fresh server and an empty database:\n")
        o.append(head.replace("{label}", "clients"))
        o.append(sep)
        for r in tp:
            tp_row(str(r["clients"]), r)
    if gr:
        o.append("")
        o.append("As listings accumulate (%d clients, one server, consecutive runs; keys served at the start of the "
                 "first run: %s):\n" % (gr[0]["clients"], keys(gr[0], "before")))
        o.append(head.replace("{label}", "run"))
        o.append(sep)
        for k, r in enumerate(gr, 1):
            tp_row(str(k), r)
    allr = tp + gr
    if allr:
        sizes = [r["size_mean_b"] for r in allr if r["size_mean_b"]]
        o.append("")
        o.append("- each message is POSTed by reporter A, then by reporter B (a spam trap); B's post lists its keys "
                 "(\"listing post\"). Every client is a thread with its own keep-alive HTTP/1.1 connection "
                 "(`http.client`), sending its next message as soon as the previous answer is in. "
                 "\"keys served\": report-fed entries of iprbl.test + niprbl.test / urirbl.test "
                 "(from `/api/v1/zones`).")
        o.append("- messages: %s, mean size %s bytes (min %s, max %s); %s" % (
            E.get("MIX_NOTE", "?"), fmt(statistics.mean(sizes)), fmt(min(r["size_min_b"] for r in allr)),
            fmt(max(r["size_max_b"] for r in allr)), E.get("DB_NOTE", "")))
        if E.get("FSYNC_NOTE"):
            o.append("- disk: %s" % E["FSYNC_NOTE"])
        conns = sum(r["connects"] for r in allr)
        o.append("- connections: %d opened, %d answers said `Connection: close`, %d requests resent after a "
                 "reused connection failed" % (conns, sum(r["server_closes"] for r in allr),
                                               sum(r["stale_retries"] for r in allr)))
        errs = [e for r in allr for e in r["first_errors"]]
        if errs:
            o.append("- **errors** (first ones): " + "; ".join("`%s`" % e.replace("|", "\\|")[:200] for e in errs[:5]))
    lat = R.get("latency")
    pc = [r for r in R.get("paced", [])]
    if lat or pc:
        o.append("")
        o.append("## Report-to-DNS latency (listing report → `A` answer under iprbl.test)\n")
        o.append("| situation | samples | not visible (%ss, ≥ 2 s after the 202) | within 1 s | send → visible p50 / p95 / max ms | "
                 "202 → visible p50 / p95 / max ms | visible before the 202 arrived | listing POST p50 / p95 ms | polls per sample (median) |"
                 % fmt((lat or pc[0]["probes"])["limit_s"], "{:g}"))
        o.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|")

        def row(label, p):
            o.append("| %s | %d | %d | %d | %s / %s / %s | %s / %s / %s | %d | %s / %s | %s |" % (
                label, p["samples"], p["not_visible"], p["within_1s"],
                fmt(p["send_p50_ms"], "{:.2f}"), fmt(p["send_p95_ms"], "{:.2f}"), fmt(p["send_max_ms"], "{:.2f}"),
                fmt(p["after202_p50_ms"], "{:.2f}"), fmt(p["after202_p95_ms"], "{:.2f}"), fmt(p["after202_max_ms"], "{:.2f}"),
                p["visible_before_202"], fmt(p["post_p50_ms"], "{:.2f}"), fmt(p["post_p95_ms"], "{:.2f}"),
                fmt(p["polls_median"], "{:.0f}")))
        if lat:
            row("one report pair at a time, no other load (%s listed keys already served)" % E.get("LISTED_BEFORE", "?"), lat)
        if pc:
            merged = [r["probes"] for r in pc]
            agg = {k: sum(p[k] for p in merged) for k in ("samples", "not_visible", "within_1s", "visible_before_202")}
            raw = {k: [x for p in merged for x in p["raw"][k]] for k in ("send", "after", "post", "polls")}
            agg.update(send_p50_ms=pct(raw["send"], 50), send_p95_ms=pct(raw["send"], 95),
                       send_max_ms=max(raw["send"]) if raw["send"] else None,
                       after202_p50_ms=pct(raw["after"], 50), after202_p95_ms=pct(raw["after"], 95),
                       after202_max_ms=max(raw["after"]) if raw["after"] else None,
                       post_p50_ms=pct(raw["post"], 50), post_p95_ms=pct(raw["post"], 95),
                       polls_median=statistics.median(raw["polls"]) if raw["polls"] else None)
            row("during part 3's ingesting runs (%s POSTs/s offered + dnsperf saturating the server; all %d rounds)"
                % (E.get("RATE", "?"), len(pc)), agg)
            for k, r in enumerate(pc, 1):
                p = r["probes"]
                row("… round %d only" % k, p)
        o.append("")
        o.append("- send → visible: from just before the listing POST is written to the socket until the first UDP "
                 "answer NOERROR with an A record is *received* (a thread polls `A` in a tight loop, one query in "
                 "flight, started before the POST). 202 → visible is the same moment minus the moment the 202 was "
                 "fully read; negative = the listing was served before the client had its answer (fadelist "
                 "publishes the new snapshot before it answers).")
        if lat:
            extra = []
            if lat["anomalies_n"]:
                extra.append("**%d anomalies**: %s" % (lat["anomalies_n"], "; ".join(lat["anomalies"][:3])))
            if lat["skipped"]:
                extra.append("skipped: %s" % lat["skipped"])
            if lat["not_visible"]:
                extra.append("**not visible**: the POSTs of those samples took %s ms" % lat["not_visible_post_ms"])
            if extra:
                o.append("- " + "; ".join(extra))
            o.append("- only non-bulk IPv4 messages are sampled (the key polled is the source IP under iprbl.test).")
        for k, r in enumerate(pc, 1):
            p = r["probes"]
            if p["not_visible"]:
                o.append("- **round %d: %d listing(s) not visible** within %gs of the send and 2 s after the 202: %s" % (
                    k, p["not_visible"], p["limit_s"], "; ".join(
                        "`%s` (POST %.1f ms, %d polls, %d without answer, last answer %s)" % (
                            d["ip"], d["post_ms"], d["polls"], d["timeouts"], d["last"]) for d in p["not_visible_detail"])))
            if p.get("not_listing_post"):
                o.append("- round %d: %d probe(s) dropped because the other reporter's post was processed last "
                         "(it listed, not the probed one)" % (k, p["not_listing_post"]))
    rounds = R.get("dns", [])
    if rounds:
        idle = [r for r in rounds if r["mode"] == "idle"]
        ing = [r for r in rounds if r["mode"] == "ingesting"]
        med = lambda rs, k: statistics.median([r[k] for r in rs]) if rs else None
        o.append("")
        o.append("## DNS while ingesting vs idle (dnsperf, same server, same data)\n")
        o.append("| metric (median of %d round%s) | better | idle | ingesting %s reports/s | ingesting / idle |" % (
            len(idle), "" if len(idle) == 1 else "s", E.get("RATE", "?")))
        o.append("|---|---|--:|--:|--:|")
        for k, label, better, f in (("qps", "QPS", "higher", "{:,.0f}"), ("qps_cpu", "QPS per server CPU-second", "higher", "{:,.0f}"),
                                    ("lost_pct", "lost %", "lower", "{:.2f}"), ("lat_us", "average latency (µs)", "lower", "{:.0f}"),
                                    ("lat_sd_us", "latency std dev (µs)", "lower", "{:.0f}"),
                                    ("lat_max_ms", "max latency (ms)", "lower", "{:.1f}"),
                                    ("cpu_pct", "server CPU (% of its core)", "—", "{:.0f}"),
                                    ("cpu0_busy", "CPU0 busy % (dnsperf + generator)", "—", "{:.0f}")):
            a_, b_ = med(idle, k), med(ing, k)
            ratio = "—" if not a_ else (("**%.2f**" if better != "—" else "%.2f") % (b_ / a_))
            o.append("| %s | %s | %s | %s | %s |" % (label, better, fmt(a_, f), fmt(b_, f), ratio))
        gen_rates = [r["gen"]["accepted_per_s"] for r in ing if r.get("gen")]
        o.append("")
        o.append("Per run (alternating idle / ingesting; CPU1 other = CPU 1 time not used by the server):\n")
        o.append("| round | mode | QPS | QPS/CPU-s | lost % | latency avg µs / max ms | server CPU % | NOERROR % | CPU0 busy % | CPU1 other % | "
                 "reports accepted / s | report p50 / p99 ms | sent late: > 50 ms / lag p99 ms | errors | generator CPU s | report-fed keys after: IPs / domains |")
        o.append("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        base = dict(x.split("=") for x in E.get("P3_BASE", "").split() if "=" in x)
        for r in rounds:
            g = r.get("gen")
            kk = dict((g or {}).get("keys_after") or {})
            for z in list(kk):
                if z in base:
                    kk[z] -= int(base[z])
            o.append("| %d | %s | %s | %s | %.2f | %.0f / %.1f | %.0f | %.2f | %.0f | %.0f | %s | %s | %s | %s | %s | %s |" % (
                r["round"], r["mode"], fmt(r["qps"]), fmt(r["qps_cpu"]), r["lost_pct"], r["lat_us"], r["lat_max_ms"], r["cpu_pct"],
                r["noerror_pct"], r["cpu0_busy"], max(0.0, r["cpu1_other"]),
                fmt(g and g["accepted_per_s"], "{:.1f}"),
                ("%s / %s" % (fmt(g["p50_ms"], "{:.1f}"), fmt(g["p99_ms"], "{:.1f}"))) if g else "—",
                ("%s / %s" % (fmt(g["late_50ms"]), fmt(g["lag_p99_ms"], "{:.0f}"))) if g else "—",
                fmt(g and g["errors"]), fmt(g and g["client_cpu_s"], "{:.1f}"),
                ("%s / %s" % (fmt(kk.get("iprbl.test", 0) + kk.get("niprbl.test", 0)), fmt(kk.get("urirbl.test", 0)))) if kk and "error" not in kk else "—"))
        o.append("")
        o.append("- dnsperf: `dnsperf -s 127.0.0.1 -p PORT -d queries.txt -l %s -T 1 -c 4 -q 100` (as benches/run.sh); "
                 "server on CPU 1; **dnsperf and the report generator share CPU 0** (taskset), so while ingesting "
                 "the client core also carries the generator (its CPU seconds are in the last column): when CPU0 is "
                 "~100 %% busy, raw QPS partly measures the client; QPS per server CPU-second does not." % E.get("SECS3", "?"))
        o.append("- ingesting: the generator posts at a fixed schedule of %s POSTs/s (message pairs: A then B, so half of "
                 "the posts list a source IP and its domains), up to %s keep-alive connections, from 1 s before dnsperf "
                 "starts to 1 s after it ends; every %sth pair's listing post is probed for report-to-DNS latency "
                 "(table above). Achieved rate over the generator's window: %s." % (
                     E.get("RATE", "?"), E.get("WORKERS", "?"), E.get("PROBE_EVERY", "?"),
                     ", ".join("%.1f/s" % x for x in gen_rates) or "—"))
        o.append("- server: `fadelist serve --config ingest.toml --db FRESH.sqlite`, a fresh server and database every "
                 "round (idle run first, then the ingesting run), zones iprbl.test (feed ip + ip4set.txt), niprbl.test "
                 "(feed bulk-ip), urirbl.test (feed domain + dnset.txt); %s" % E.get("DATA_NOTE", ""))
        busy = max(r["cpu1_other"] for r in rounds)
        if busy > 20:
            o.append("")
            o.append("**NOISY**: other processes took up to %.0f%% of CPU 1 (the server's core) during a run." % busy)
        nd = abs((med(idle, "noerror_pct") or 0) - (med(ing, "noerror_pct") or 0))
        if nd > 0.5:
            o.append("")
            o.append("**WARNING**: NOERROR share differs by %.2f points between idle and ingesting runs." % nd)
    o.append("")
    o.append("- command: `%s`; date: %s; fadelist %s (%s at commit %s%s); dnsperf %s" % (
        E.get("CMDLINE_FULL", "?"), E.get("DATE", "?"), E.get("FL_VER", "?"), E.get("FL_BUILD", "?"), E.get("COMMIT", "?"),
        ", %s uncommitted file(s)" % E["DIRTY"] if E.get("DIRTY", "0") not in ("", "0") else "", E.get("DP_VER", "?")))
    o.append(machine_line(E, "SQLite database on %s" % E.get("DB_FS", "?")))
    o.append("- pinning: %s; Python %s (load generator, stdlib only)" % (E.get("PINNING", "?"), sys.version.split()[0]))
    o.extend(["- server logs: %s" % E["SERVER_NOTES"]] if E.get("SERVER_NOTES") else [])
    print("\n".join(o))
    return 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mail-dir", default=os.path.join(here, "..", "tests", "data", "mail"))
    p.add_argument("--templates", choices=("all", "html"), default="all",
                   help="html: only the templates padded with HTML (html-obfuscated, arf-abuse, esp-bulk)")
    p.add_argument("--min-kb", type=float, default=5, help="smallest message size (KiB)")
    p.add_argument("--max-kb", type=float, default=50, help="largest message size (KiB; = --min-kb: one size)")
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp, dns=False):
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, required=True, help="HTTP port")
        sp.add_argument("--token-a", required=True)
        sp.add_argument("--token-b", required=True)
        sp.add_argument("--start", type=int, default=0, help="first message index")
        sp.add_argument("--server-pid", type=int, default=0)
        if dns:
            sp.add_argument("--dns-port", type=int, required=True)
            sp.add_argument("--limit", type=float, default=5.0, help="seconds a probe polls at most")

    sp = sub.add_parser("guard"); common(sp, dns=True)
    sp = sub.add_parser("throughput"); common(sp)
    sp.add_argument("--clients", type=int, default=1)
    sp.add_argument("--secs", type=float, default=10)
    sp.add_argument("--once", action="store_true", help="post each message once, by reporter A (no listing)")
    sp = sub.add_parser("lookups")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, required=True, help="HTTP port")
    sp.add_argument("--keys", required=True, help="comma-separated keys (IPs, domains) to look up")
    sp.add_argument("--clients", type=int, default=8)
    sp.add_argument("--secs", type=float, default=10)
    sp.add_argument("--pause", type=float, default=0.0, help="seconds a client waits between lookups")
    sp.add_argument("--server-pid", type=int, default=0)
    sp = sub.add_parser("latency"); common(sp, dns=True)
    sp.add_argument("--samples", type=int, default=200)
    sp.add_argument("--pause", type=float, default=0.0, help="seconds between samples")
    sp = sub.add_parser("paced"); common(sp, dns=True)
    sp.add_argument("--rate", type=float, default=200, help="POSTs per second")
    sp.add_argument("--secs", type=float, default=10)
    sp.add_argument("--workers", type=int, default=8)
    sp.add_argument("--probe-every", type=int, default=20, help="probe every Nth pair's listing post (0: none)")
    sp = sub.add_parser("fsync")
    sp.add_argument("--dir", required=True)
    sp.add_argument("-n", type=int, default=300)
    sp = sub.add_parser("sample")
    sp.add_argument("--outdir", required=True)
    sp.add_argument("--start", type=int, default=0)
    sp.add_argument("-n", type=int, default=12)
    sp = sub.add_parser("report")
    sp.add_argument("--results", required=True, help="JSON: {throughput: [...], latency: {...}, paced: [...], dns: [...]}")
    a = p.parse_args()
    gen = None if a.cmd in ("report", "fsync", "lookups") else Generator(a.mail_dir, a.min_kb, a.max_kb, a.templates)
    return {"guard": cmd_guard, "fsync": cmd_fsync, "throughput": cmd_throughput, "latency": cmd_latency, "paced": cmd_paced,
            "lookups": cmd_lookups, "sample": cmd_sample, "report": cmd_report}[a.cmd](a, gen)


if __name__ == "__main__":
    sys.exit(main())
