#!/usr/bin/env python3
"""Helpers of benches/run.sh (Python standard library only).

    bench_helpers.py dnsperf --server-pid PID --log FILE --limit S [--pin CPU] -- DNSPERF-ARGS...
        one dnsperf run (pinned with taskset, under a time limit), with the server's CPU
        (utime+stime from /proc/PID/stat), dnsperf's own CPU (rusage), and the busy share
        of CPU 0 and CPU 1 (/proc/stat) around it; prints one JSON object.
    bench_helpers.py peak --server-pid PID --port P --queries F --start-rate R ...
        highest dnsperf -Q rate the server sustains with <= 0.1 % loss (stepped search);
        prints one JSON object with every step.
    bench_helpers.py reload --port P --target FILE --a-master A --b-master B ...
        rewrites an ip4set file several times while a checker queries names whose
        answers are known in every version; prints one JSON object (wrong answers,
        timeouts, how soon each version became visible).
    bench_helpers.py report --results results.jsonl
        the markdown report of benches/run.sh (metadata from the environment).
    bench_helpers.py merge FILE|- KEY=VALUE...
        prints the JSON object in FILE (- = an empty one) with the fields added (each VALUE
        parsed as JSON if it can be, else kept as a string); benches/lib.sh's json_merge.

The scripts that use these helpers: benches/run.sh, benches/ingest.sh (through benches/lib.sh's
perf and dns_vs_ingest) and benches/write-path.sh; benches/ingest_load.py imports the /proc
readers below.

It is a benchmark tool, never part of the test suite.
"""

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics as st
import struct
import subprocess
import sys
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")
CHILD = [None]  # the running dnsperf, killed on SIGTERM/SIGINT


def _on_signal(signum, _frame):
    p = CHILD[0]
    if p is not None and p.poll() is None:
        p.kill()
    sys.exit(128 + signum)




def die(msg, code=1):
    print("[bench] ERROR: %s" % msg, file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------- /proc
def proc_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks; None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])


def cpu_stat():
    """{cpu: (busy, total)} for cpu0 and cpu1 from /proc/stat (busy = user+nice+system+irq+softirq)."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            p = line.split()
            if p[0] in ("cpu0", "cpu1"):
                v = [int(x) for x in p[1:9]]
                busy = v[0] + v[1] + v[2] + v[5] + v[6]
                out[p[0]] = (busy, busy + v[3] + v[4] + v[7])
    return out


def udp_socket_mem(port):
    """(receive buffer bytes, drops) summed over the UDP sockets bound to 127.0.0.1:PORT, from
    `ss -uamn` (skmem rb = SO_RCVBUF as the kernel holds it, d = datagrams dropped at that socket);
    (None, None) without ss."""
    if not port:
        return None, None
    try:
        out = subprocess.run(["ss", "-uamn", "sport = :%d" % port], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    rb = [int(x) for x in re.findall(r"\brb(\d+)", out)]
    d = [int(x) for x in re.findall(r"\bd(\d+)\)", out)]
    if not rb:
        return None, None
    return max(rb), sum(d)


# ---------------------------------------------------------------- dnsperf
def parse_dnsperf(text):
    """The summary of one dnsperf run. For TCP, dnsperf prints a second 'Average Latency'
    (connection set-up) after 'Connection Statistics'; only the query statistics are read."""
    text = text.split("Connection Statistics:")[0]
    g = lambda pat, conv=float, default=0.0: (lambda m: conv(m.group(1)) if m else default)(re.search(pat, text))
    r = {
        "sent": g(r"Queries sent:\s+(\d+)", int, 0),
        "completed": g(r"Queries completed:\s+(\d+)", int, 0),
        "lost": g(r"Queries lost:\s+(\d+)", int, 0),
        "lost_pct": g(r"Queries lost:\s+\d+ \(([\d.]+)%\)"),
        "qps": g(r"Queries per second:\s+([\d.]+)"),
        "run_s": g(r"Run time \(s\):\s+([\d.]+)"),
        "lat_us": 1e6 * g(r"Average Latency \(s\):\s+([\d.]+)"),
        "lat_max_ms": 1e3 * g(r"Average Latency \(s\):.*max ([\d.]+)\)"),
        "lat_sd_us": 1e6 * g(r"Latency StdDev \(s\):\s+([\d.]+)"),
        "resp_bytes": g(r"Average packet size:.*response (\d+)"),
        "noerror_pct": g(r"NOERROR \d+ \(([\d.]+)%\)"),
    }
    m = re.search(r"Response codes:\s+(.*)", text)
    r["rcodes"] = m.group(1).strip() if m else ""
    return r


def run_dnsperf(args, server_pid, log, limit, pin="0", port=None):
    cmd = (["taskset", "-c", pin] if pin else []) + ["dnsperf"] + list(args)
    _, drops0 = udp_socket_mem(port)
    c0 = proc_ticks(server_pid)
    if c0 is None:
        die("the server (pid %d) is not running before dnsperf" % server_pid)
    s0 = cpu_stat()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(log, "w") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        CHILD[0] = p
        try:
            rc = p.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            die("dnsperf did not finish within %ss (log %s)" % (limit, log))
        finally:
            CHILD[0] = None
    wall = time.monotonic() - t0
    c1 = proc_ticks(server_pid)
    s1 = cpu_stat()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rcvbuf, drops1 = udp_socket_mem(port)
    text = open(log, errors="replace").read()
    if rc != 0:
        die("dnsperf exited with %d:\n%s" % (rc, text[-2000:]))
    if c1 is None:
        die("the server (pid %d) died during the dnsperf run (dnsperf log %s)" % (server_pid, log))
    r = parse_dnsperf(text)
    if r["completed"] <= 0:
        die("no query completed:\n%s" % text[-2000:])
    client_ticks = HZ * ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime))
    srv = c1 - c0
    r["cpu_s"] = srv / HZ
    r["cpu_pct"] = 100.0 * r["cpu_s"] / r["run_s"] if r["run_s"] else 0.0
    r["qps_cpu"] = r["completed"] / r["cpu_s"] if r["cpu_s"] > 0 else float("nan")
    r["client_cpu_s"] = client_ticks / HZ
    pct = lambda cpu, own: (100.0 * (s1[cpu][0] - s0[cpu][0] - own) / (s1[cpu][1] - s0[cpu][1])
                            if s1[cpu][1] > s0[cpu][1] else 0.0)
    r["cpu0_busy"] = pct("cpu0", 0)
    r["cpu0_other"] = max(0.0, pct("cpu0", client_ticks)) if pin == "0" else float("nan")
    r["cpu1_other"] = max(0.0, pct("cpu1", srv))
    r["wall_s"] = wall
    r["rcvbuf"] = rcvbuf
    r["sock_drops"] = drops1 - drops0 if drops0 is not None and drops1 is not None else None
    return r


def add_fields(r, kvs):
    """Adds KEY=VALUE strings to the dict r (VALUE parsed as JSON if it can be, else a string)."""
    for kv in kvs or []:
        k, _, v = kv.partition("=")
        try:
            r[k] = json.loads(v)
        except ValueError:
            r[k] = v
    return r


def cmd_dnsperf(a):
    r = run_dnsperf(a.args, a.server_pid, a.log, a.limit, a.pin, a.port)
    print(json.dumps(add_fields(r, a.tag)))


def machine_line(E, extra=""):
    """The "- machine: …" line of every bench report, from export_machine_notes (benches/lib.sh)."""
    return "- machine: %s CPU (`nproc`), %s, %s GiB RAM, %s%s; load average at the end %s" % (
        E.get("NCPU", "?"), E.get("CPU_MODEL", "?"), E.get("MEM_GIB", "?"), E.get("KERNEL", "?"),
        "; " + extra if extra else "", E.get("LOADAVG", "?"))


def cmd_merge(a):
    r = json.load(open(a.file)) if a.file != "-" else {}
    print(json.dumps(add_fields(r, a.fields)))


def cmd_peak(a):
    """Stepped search for the highest rate sustained with <= LOSS % lost.

    A step offers `dnsperf -Q RATE` (open loop, up to --outstanding queries in flight,
    -t 1). It passes when lost <= LOSS % and the achieved rate is >= 97 % of RATE; a
    failed rate is tried once more (--retry 1) and fails only if both attempts fail.
    From START the rate grows x1.15 while steps pass (x0.75 down while they fail),
    then it bisects (geometrically) between the best pass and the lowest fail until
    they are within 4 % or the step budget is spent."""
    steps = []
    lo = hi = None
    best = None
    rate = max(1000, int(a.start_rate))

    def step(rate, tag):
        log = "%s.%s" % (a.log_prefix, tag.replace(" ", "-"))
        r = run_dnsperf(["-s", "127.0.0.1", "-p", str(a.port), "-d", a.queries, "-l", str(a.secs),
                         "-T", "1", "-c", "4", "-q", str(a.outstanding), "-t", "1", "-Q", str(rate)],
                        a.server_pid, log, a.secs + 60, a.pin, a.port)
        r["rate"] = rate
        sustained = r["qps"] >= 0.97 * rate
        ok = r["lost_pct"] <= a.loss and sustained
        why = []
        if r["lost_pct"] > a.loss:
            why.append("lost %.3f%%" % r["lost_pct"])
        if not sustained:
            why.append("achieved %.1f%% of the offered rate" % (100 * r["qps"] / rate))
        r["pass"] = ok
        r["why"] = "; ".join(why) or "ok"
        r["step"] = tag
        steps.append(r)
        print("[bench]   peak step %s: offered %d/s -> %.0f/s, lost %.3f%%, server CPU %.0f%%, CPU0 busy %.0f%%, CPU1 other %.0f%%: %s"
              % (tag, rate, r["qps"], r["lost_pct"], r["cpu_pct"], r["cpu0_busy"], r["cpu1_other"], "pass" if ok else "FAIL (" + r["why"] + ")"),
              file=sys.stderr)
        return r

    for i in range(a.max_steps):
        r = step(rate, str(i + 1))
        ok = r["pass"]
        if not ok and a.retry:
            # One failure may be a burst of other work on the machine: a rate fails only
            # when a second attempt fails too.
            time.sleep(1.0)
            r2 = step(rate, "%d retry" % (i + 1))
            if r2["pass"]:
                r, ok = r2, True
        if ok:
            lo = rate if lo is None else max(lo, rate)
            if best is None or r["qps"] > best["qps"]:
                best = r
        else:
            hi = rate if hi is None else min(hi, rate)
        time.sleep(1.0)  # let queues drain before the next rate
        if hi is None:
            rate = int(rate * 1.15)
        elif lo is None:
            rate = int(rate * 0.75)
        else:
            if hi / lo <= 1.04:
                break
            rate = int(math.sqrt(lo * hi))
        rate = max(1000, rate)
    limit = None
    if best is not None and hi is not None:
        f = min((s for s in steps if not s["pass"] and s["rate"] == hi), key=lambda s: s["lost_pct"], default=None)
        if f is not None:
            if f["lost_pct"] > a.loss:
                limit = "lost queries (%.3f%% at %d/s offered%s)" % (
                    f["lost_pct"], f["rate"], "" if f.get("sock_drops") is None else
                    "; %d datagrams dropped by the kernel at the server's full receive buffer of %d bytes" % (f["sock_drops"], f["rcvbuf"]))
            elif f["cpu0_busy"] >= 95 and f["cpu_pct"] >= 90:
                limit = "both cores: the server's at %.0f%%, dnsperf's at %.0f%% (not sustained at %d/s)" % (f["cpu_pct"], f["cpu0_busy"], f["rate"])
            elif f["cpu0_busy"] >= 95 and f["cpu_pct"] < 90:
                limit = "the client: dnsperf's core was %.0f%% busy while the server used %.0f%% of its core" % (f["cpu0_busy"], f["cpu_pct"])
            elif f["cpu_pct"] >= 90:
                limit = "the server's core (%.0f%% busy)" % f["cpu_pct"]
            else:
                limit = "not sustained at %d/s (server %.0f%%, CPU0 %.0f%%, CPU1 other %.0f%%)" % (f["rate"], f["cpu_pct"], f["cpu0_busy"], f["cpu1_other"])
    elif best is not None:
        limit = "no failing step within the step budget (peak is a lower bound)"
    else:
        limit = "no step passed"
    print(json.dumps({"rcvbuf": steps[0].get("rcvbuf") if steps else None, "peak_qps": best["qps"] if best else 0.0, "peak_rate": best["rate"] if best else 0,
                      "peak_cpu_pct": best["cpu_pct"] if best else 0.0, "limit": limit, "steps": steps}))


# ---------------------------------------------------------------- DNS (checker)
def dns_query(name, qtype=1):
    qid = random.getrandbits(16)
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return qid, q + b"\x00" + struct.pack(">HH", qtype, 1)


def skip_name(b, i):
    while True:
        n = b[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def dns_outcome(b):
    """'listed' (NOERROR + an A in 127/8), 'nx' (NXDOMAIN) or 'other:...'."""
    _, flags, qd, an = struct.unpack(">HHHH", b[:8])
    rcode = flags & 0xF
    i = 12
    for _ in range(qd):
        i = skip_name(b, i) + 4
    a127 = False
    for _ in range(an):
        i = skip_name(b, i)
        t, _c, _ttl, ln = struct.unpack(">HHIH", b[i:i + 10])
        i += 10
        if t == 1 and ln == 4 and b[i] == 127:
            a127 = True
        i += ln
    if rcode == 0 and a127:
        return "listed"
    if rcode == 3:
        return "nx"
    return "other:rcode=%d,an=%d" % (rcode, an)


# ---------------------------------------------------------------- reply/query size ratios
AMP_TYPES = {1: "A", 2: "NS", 6: "SOA", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 255: "ANY"}
OPT_4096 = b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"


def cmd_amp(a):
    """Worst reply/query size ratio over names x types x (no EDNS, EDNS 4096), over UDP."""
    lines = [l.split()[0] for l in open(a.queries) if l.strip()]
    step = max(1, len(lines) // a.sample)
    names = lines[::step][:a.sample]
    for z in a.zone:
        # The apex, the RFC 5782 entries, empty non-terminals, short and long unlisted names.
        names += [z, "2.0.0.127." + z, "1.0.0.127." + z, "0.0.127." + z, "127." + z, "test." + z,
                  "invalid." + z, "x." + z, ("a" * 63) + "." + z]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1.0)
    worst = {}
    asked = timeouts = 0
    for name in names:
        for t in AMP_TYPES:
            for edns in (False, True):
                qid, q = dns_query(name, t)
                if edns:
                    q = q[:10] + b"\x00\x01" + q[12:] + OPT_4096
                asked += 1
                sock.sendto(q, ("127.0.0.1", a.port))
                r = None
                try:
                    while True:
                        r, _ = sock.recvfrom(65535)
                        if r[:2] == q[:2]:
                            break
                except socket.timeout:
                    timeouts += 1
                    continue
                ratio = len(r) / len(q)
                cur = worst.get(t)
                if cur is None or ratio > cur["ratio"]:
                    tc = bool(r[2] & 0x02)
                    worst[t] = {"ratio": ratio, "name": name, "edns": edns, "query_bytes": len(q), "reply_bytes": len(r), "tc": tc}
    by_type = {AMP_TYPES[t]: w for t, w in worst.items()}
    top = max(by_type.items(), key=lambda kv: kv[1]["ratio"]) if by_type else ("-", {"ratio": float("nan")})
    anyw = by_type.get("ANY", {"ratio": float("nan")})
    print(json.dumps({"queries": asked, "timeouts": timeouts, "names": len(names),
                      "any_ratio": anyw["ratio"], "any": anyw, "all_ratio": top[1]["ratio"], "all_type": top[0], "all": top[1],
                      "by_type": by_type}))


class Resolver:
    def __init__(self, port, timeout):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.connect(("127.0.0.1", port))
        self.timeout = timeout

    def ask(self, name):
        qid, pkt = dns_query(name)
        self.s.send(pkt)
        deadline = time.perf_counter() + self.timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return "timeout"
            self.s.settimeout(left)
            try:
                b = self.s.recv(4096)
            except socket.timeout:
                return "timeout"
            if len(b) >= 12 and struct.unpack(">H", b[:2])[0] == qid:
                try:
                    return dns_outcome(b)
                except (struct.error, IndexError):
                    return "other:malformed"


PHASES = [0.0, 0.45, 0.2, 0.7, 0.35, 0.9, 0.1]


def cmd_reload(a):
    """Rewrites the ip4set file a.target in a cycle of 4 versions while a checker asks
    always-listed names, always-unlisted names and the two names that change:

        A   = the original file                      X listed,   Y unlisted
        B   = A without X's line, plus Y's line       X unlisted, Y listed   (rename of a prepared copy)
        A   = the original again                                            (rename of a prepared copy)
        A+Y = A with Y's line appended in place       X listed,   Y listed   (one append)
        A   = A+Y truncated back in place                                    (one truncate)
    """
    states = {"A": {"x": "listed", "y": "nx"}, "B": {"x": "nx", "y": "listed"}, "A+Y": {"x": "listed", "y": "listed"}}
    res = Resolver(a.port, a.timeout)
    names = {"x": a.x_name, "y": a.y_name}
    # The starting state must be A, or the data does not fit what this test assumes.
    problems = []
    for n in a.listed:
        o = res.ask(n)
        if o != "listed":
            problems.append("%s: %s (expected listed)" % (n, o))
    for n in a.unlisted:
        o = res.ask(n)
        if o != "nx":
            problems.append("%s: %s (expected NXDOMAIN)" % (n, o))
    for k in ("x", "y"):
        o = res.ask(names[k])
        if o != states["A"][k]:
            problems.append("%s: %s (expected %s)" % (names[k], o, states["A"][k]))
    if problems:
        die("reload test: the server does not answer the starting data as expected: " + "; ".join(problems))
    size_a = os.path.getsize(a.target)
    y_line = (a.y_line + "\n").encode()
    tmp = a.target + ".next"
    cycle = [("rename", "B"), ("rename", "A"), ("append", "A+Y"), ("truncate", "A")]
    events = []  # (t, op, state)
    t0 = time.perf_counter()
    end = t0 + a.secs
    stop = threading.Event()

    def rewriter():
        k = 0
        while True:
            # A varying phase, so the rewrites do not all land at the same point of the
            # server's polling period.
            due = t0 + a.first + k * a.gap + PHASES[k % len(PHASES)] * min(1.0, a.gap / 2)
            if due > end - a.settle:
                return
            op, state = cycle[k % len(cycle)]
            if op == "rename":  # prepare the copy first, so only the rename happens at `due`
                shutil.copyfile(a.b_master if state == "B" else a.a_master, tmp)
            if stop.wait(max(0.0, due - time.perf_counter())):
                return
            if op == "rename":
                os.replace(tmp, a.target)
            elif op == "append":
                with open(a.target, "ab") as f:
                    f.write(y_line)
            else:
                os.truncate(a.target, size_a)
            events.append((time.perf_counter(), op, state))
            k += 1

    th = threading.Thread(target=rewriter, daemon=True)
    th.start()
    fixed = [(n, "listed") for n in a.listed] + [(n, "nx") for n in a.unlisted]
    log = []  # (t_send, t_recv, kind, name, outcome)
    j = 0
    while time.perf_counter() < end:
        for kind in ("x", "y", "fixed"):
            if kind == "fixed":
                name, expect = fixed[j % len(fixed)]
                j += 1
            else:
                name, expect = names[kind], None
            ts = time.perf_counter()
            o = res.ask(name)
            log.append((ts, time.perf_counter(), kind, name, o, expect))
    stop.set()
    th.join()
    # -------- analysis
    out = {"queries": len(log), "timeouts": sum(1 for r in log if r[4] == "timeout"),
           "wrong_fixed": 0, "wrong_xy": 0, "stale": 0, "wrong_examples": [],
           "events": [], "rewrites": len(events)}
    lat = []
    for ts, tr, kind, name, o, expect in log:
        if kind == "fixed" and o != "timeout" and o != expect:
            out["wrong_fixed"] += 1
            if len(out["wrong_examples"]) < 5:
                out["wrong_examples"].append("%s -> %s at +%.3fs" % (name, o, ts - t0))
        if kind != "fixed" and o not in ("listed", "nx", "timeout"):
            out["wrong_xy"] += 1
            if len(out["wrong_examples"]) < 5:
                out["wrong_examples"].append("%s -> %s at +%.3fs" % (name, o, ts - t0))
        lat.append(tr - ts)
    bounds = [t for t, _, _ in events] + [end + 10]
    prev_state = "A"
    seg_start = t0
    for k in range(len(events) + 1):
        seg_end = bounds[k]
        new = states[prev_state] if k == 0 else states[events[k - 1][2]]
        old = new if k == 0 else states[prev_state]
        visible = None if k > 0 else seg_start
        for ts, tr, kind, name, o, _ in log:
            if kind == "fixed" or o not in ("listed", "nx") or not (seg_start <= ts < seg_end):
                continue
            if visible is None:
                if o == new[kind] and new[kind] != old[kind]:
                    visible = tr
                elif o != old[kind]:
                    out["stale"] += 1  # neither the previous version nor the new one
                    if len(out["wrong_examples"]) < 5:
                        out["wrong_examples"].append("%s -> %s at +%.3fs (neither %s nor the version before)" % (name, o, ts - t0, events[k - 1][2]))
            elif o != new[kind] and ts >= visible:
                out["stale"] += 1  # an older version answered after the new one was seen
                if len(out["wrong_examples"]) < 5:
                    out["wrong_examples"].append("%s -> %s at +%.3fs (after version %s was already served)" % (name, o, ts - t0, events[k - 1][2] if k else "A"))
        if k > 0:
            t, op, state = events[k - 1]
            out["events"].append({"at_s": t - t0, "op": op, "state": state,
                                  "visible_ms": None if visible is None else 1000 * (visible - t)})
            prev_state = state
        seg_start = seg_end
    vis = [e["visible_ms"] for e in out["events"] if e["visible_ms"] is not None]
    out["seen"] = len(vis)
    out["visible_max_ms"] = max(vis) if vis else None
    out["visible_median_ms"] = st.median(vis) if vis else None
    out["wrong"] = out["wrong_fixed"] + out["wrong_xy"] + out["stale"]
    out["checker_lat_max_ms"] = 1000 * max(lat) if lat else None
    out["checker_lat_p50_ms"] = 1000 * st.median(lat) if lat else None
    out["names"] = {"listed": a.listed, "unlisted": a.unlisted, "x": a.x_name, "y": a.y_name}
    if os.path.exists(tmp):
        os.remove(tmp)
    print(json.dumps(out))


# ---------------------------------------------------------------- report
def cmd_report(a):
    E = os.environ
    rows = [json.loads(l) for l in open(a.results) if l.strip()]
    runs = [r for r in rows if r["kind"] == "run"]
    by = lambda label: [r for r in runs if r["label"] == label]
    med = lambda label, k: (st.median(r[k] for r in by(label)) if by(label) else float("nan"))
    one = lambda kind: next((r for r in rows if r["kind"] == kind), None)
    nrounds = int(E.get("ROUNDS", "1"))
    fmt0 = lambda x: "—" if x is None or (isinstance(x, float) and math.isnan(x)) else "{:,.0f}".format(x)
    fmt1 = lambda x: "—" if x is None or (isinstance(x, float) and math.isnan(x)) else "{:.1f}".format(x)
    fmt2 = lambda x: "—" if x is None or (isinstance(x, float) and math.isnan(x)) else "{:.2f}".format(x)

    def ratio(x, y):
        if x is None or y is None or y == 0 or (isinstance(x, float) and math.isnan(x)) or (isinstance(y, float) and math.isnan(y)):
            return None
        return x / y

    def met(v, op, t):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "?"
        return "**yes**" if (v >= t if op == ">=" else v <= t if op == "<=" else v < t) else "**NO**"

    out = []
    R = lambda v: "—" if v is None else "**{:.2f}×**".format(v)
    main = []  # metric, rbldnsd, fadelist, ratio, target, met

    # 1. QPS per CPU-second
    rb, fl = med("rbldnsd", "qps_cpu"), med("fadelist", "qps_cpu")
    q = ratio(fl, rb)
    main.append(("1. UDP queries answered per server CPU-second", fmt0(rb), fmt0(fl), R(q), "≥ 1.3×", met(q, ">=", 1.3)))
    rq, fq = med("rbldnsd", "qps"), med("fadelist", "qps")
    main.append(("   UDP QPS, closed loop (dnsperf -q 100; often client-bound)", fmt0(rq), fmt0(fq), R(ratio(fq, rq)), "(info)", ""))
    # 2. peak
    pk = {r["server"]: r for r in rows if r["kind"] == "peak"}
    if pk:
        a_, b_ = pk.get("rbldnsd", {}).get("peak_qps"), pk.get("fadelist", {}).get("peak_qps")
        q = ratio(b_, a_)
        main.append(("2. peak UDP QPS with loss ≤ 0.1 %% (open loop: stepped dnsperf -Q, ≤ %s in flight)" % E.get("PEAK_Q", "?"), fmt0(a_), fmt0(b_), R(q), "≥ 1.0× (faster)", met(q, ">=", 1.0)))
    # 3. RSS and load time
    for key, label, tgt in (("rss_after_kb", "3. RSS serving, after the query run (MiB)", True),
                            ("rss_load_kb", "   RSS after load, before queries (MiB)", False),
                            ("hwm_kb", "   peak RSS, VmHWM (MiB)", False)):
        rb, fl = med("rbldnsd", key) / 1024, med("fadelist", key) / 1024
        q = ratio(fl, rb)
        main.append((label, fmt1(rb), fmt1(fl), R(q), "≤ 0.5×" if tgt else "(info)", met(q, "<=", 0.5) if tgt else ""))
    rb, fl = med("rbldnsd", "load_s"), med("fadelist", "load_s")
    main.append(("3. load time: start → first answer (s)", fmt2(rb), fmt2(fl), R(ratio(fl, rb)), "fadelist < 1 s", met(fl, "<", 1.0)))
    # 4. reload
    rls = {r.get("server", "fadelist"): r for r in rows if r["kind"] == "reload"}

    def reload_cell(rl):
        c = rl["checker"]
        return "lost **%d**, wrong **%d** (%d rewrites, %d seen, max %s)" % (
            rl["lost"], c["wrong"], c["rewrites"], c["seen"], "%.0f ms latency" % rl["lat_max_ms"])

    def reload_ok(rl):
        c = rl["checker"]
        return rl["lost"] == 0 and c["wrong"] == 0 and c["seen"] == c["rewrites"] and c["rewrites"] > 0

    if "fadelist" in rls:
        main.append(("4. reload under full query load: lost / wrong answers",
                     reload_cell(rls["rbldnsd"]) if "rbldnsd" in rls else "—", reload_cell(rls["fadelist"]), "—",
                     "0 lost, 0 wrong, every rewrite served", "**yes**" if reload_ok(rls["fadelist"]) else "**NO**"))
    # 5. TCP
    tcp = by("fadelist-tcp")
    if tcp:
        ut, tt = med("fadelist", "qps_cpu"), med("fadelist-tcp", "qps_cpu")
        q = ratio(tt, ut)
        main.append(("5. TCP pipelined, QPS per server CPU-second ÷ fadelist UDP", "no TCP", "%s (UDP %s)" % (fmt0(tt), fmt0(ut)), R(q), "≥ 0.7×", met(q, ">=", 0.7)))
        uq, tq = med("fadelist", "qps"), med("fadelist-tcp", "qps")
        q = ratio(tq, uq)
        main.append(("   TCP pipelined, QPS ÷ fadelist UDP QPS", "no TCP", "%s (UDP %s)" % (fmt0(tq), fmt0(uq)), R(q), "≥ 0.7×", met(q, ">=", 0.7)))
    # 6. ingest
    ing = [r for r in rows if r["kind"] == "ingest"]
    if ing:
        im = lambda mode, k: st.median(r[k] for r in ing if r["mode"] == mode)
        q = ratio(im("ingesting", "qps"), im("idle", "qps"))
        main.append(("6. UDP QPS while ingesting %s reports/s ÷ idle" % E.get("RATE", "200"), "—",
                     "%s (idle %s)" % (fmt0(im("ingesting", "qps")), fmt0(im("idle", "qps"))), R(q), "≥ 0.9×", met(q, ">=", 0.9)))
        q = ratio(im("ingesting", "qps_cpu"), im("idle", "qps_cpu"))
        main.append(("   same, QPS per server CPU-second (server CPU includes ingestion)", "—",
                     "%s (idle %s)" % (fmt0(im("ingesting", "qps_cpu")), fmt0(im("idle", "qps_cpu"))), R(q), "(info)", ""))
    # 7. null
    nc = one("null_check")
    if by("fadelist-null"):
        nl, fl = med("fadelist-null", "qps_cpu"), med("fadelist", "qps_cpu")
        q = ratio(fl, nl)
        note = "" if (nc and nc.get("is_null")) else " ⚠ not a null responder (see below)"
        main.append(("7. fadelist QPS per CPU-second as a fraction of the null responder's", "null: %s%s" % (fmt0(nl), note), fmt0(fl), R(q), "(info: 1.0 = lookup is free)", ""))
    # 8. hickory
    if by("fadelist-hickory"):
        rb, hk = med("rbldnsd", "qps_cpu"), med("fadelist-hickory", "qps_cpu")
        main.append(("8. `--udp-mode hickory`, QPS per server CPU-second (reference)", fmt0(rb), fmt0(hk), R(ratio(hk, rb)), "(info)", ""))
    if by("fadelist-nowait"):
        nw, fl = med("fadelist-nowait", "qps_cpu"), med("fadelist", "qps_cpu")
        main.append(("   `--udp-batch-wait 0` (no wait after small batches), QPS per server CPU-second (reference)",
                     fmt0(med("rbldnsd", "qps_cpu")), "%s (default %s)" % (fmt0(nw), fmt0(fl)),
                     R(ratio(nw, med("rbldnsd", "qps_cpu"))), "(info)", ""))
    # 9. RRL bookkeeping
    if by("fadelist-rrl"):
        rr, fl = med("fadelist-rrl", "qps_cpu"), med("fadelist", "qps_cpu")
        q = ratio(rr, fl)
        logs = sum(int(r.get("rrl_limited_logs") or 0) for r in by("fadelist-rrl"))
        main.append(("9. RRL on, nothing limited: QPS per server CPU-second ÷ RRL off", "no RRL",
                     "%s (off %s)%s" % (fmt0(rr), fmt0(fl), "" if logs == 0 else " ⚠ %d limiting log lines" % logs),
                     R(q), "≥ 0.95×", met(q, ">=", 0.95)))
    # 10. amplification
    amp = {r["server"]: r for r in rows if r["kind"] == "amp"}
    if amp:
        cell = lambda r, k: "—" if r is None else "%.2f× (%s %s%s)" % (r[k]["ratio"], "ANY" if k == "any" else r["all_type"], r[k]["name"], ", EDNS" if r[k]["edns"] else "")
        fa, ra = amp.get("fadelist"), amp.get("rbldnsd")
        main.append(("10. ANY over UDP, worst reply ÷ query bytes (sampled names)", cell(ra, "any"), cell(fa, "any"), "—",
                     "fadelist ≤ 2×", met(fa["any_ratio"] if fa else None, "<=", 2.0)))
        main.append(("    worst reply ÷ query bytes of any query type (listed TXT: the product)", cell(ra, "all"), cell(fa, "all"), "—", "(info)", ""))
    if by("fadelist-hickory-tcp") and tcp:
        ht, ft = med("fadelist-hickory-tcp", "qps_cpu"), med("fadelist-tcp", "qps_cpu")
        main.append(("   `--tcp-mode hickory` pipelined TCP, QPS per server CPU-second ÷ fast TCP's (reference)", "no TCP",
                     "%s (fast TCP %s)" % (fmt0(ht), fmt0(ft)), R(ratio(ht, ft)), "(info)", ""))

    # 11. metrics on ([metrics] listen): the per-worker counting on the query path
    if by("fadelist-metrics"):
        mt, fl = med("fadelist-metrics", "qps_cpu"), med("fadelist", "qps_cpu")
        q = ratio(mt, fl)
        main.append(("11. metrics on (`[metrics] listen`): QPS per server CPU-second ÷ metrics off", "no metrics",
                     "%s (off %s)" % (fmt0(mt), fmt0(fl)), R(q), "≥ 0.97×", met(q, ">=", 0.97)))

    out.append("## fadelist vs rbldnsd: the \"faster and leaner\" targets\n")
    out.append("Medians of %d round%s; ratio = fadelist ÷ rbldnsd unless the row says otherwise." % (nrounds, "" if nrounds == 1 else "s"))
    out.append("")
    out.append("| metric | rbldnsd | fadelist | ratio | target | met? |")
    out.append("|---|--:|--:|--:|---|:-:|")
    for m in main:
        out.append("| %s | %s | %s | %s | %s | %s |" % m)
    out.append("")
    env = E.get("ENV_NOTE", "").strip()
    out.append("- command: `%s%s` (%s mode: %s round%s × %s s per server variant, variants alternating; total %s s)" % (
        env + " " if env else "", E["CMDLINE"], E["MODE"], nrounds, "" if nrounds == 1 else "s", E["SECS"], E.get("TOTAL_S", "?")))
    out.append("- date: %s; fadelist %s (%s at commit %s%s); rbldnsd %s; dnsperf %s" % (
        E["DATE"], E["FL_VER"].replace("fadelist ", ""), E["FL_BUILD"], E["COMMIT"],
        ", %s uncommitted file(s)" % E["DIRTY"] if E.get("DIRTY") not in ("", "0", None) else "", E["RB_VER"], E["DP_VER"]))
    out.append(machine_line(E))
    try:
        s = json.load(open(os.path.join(E["DATA"], "summary.json")))
        data = "%s /32 + %s ranges in ip4set.txt, %s domains in dnset.txt, %s queries" % (
            f'{s["single_ips"]:,}', f'{s["ranges"]:,}', f'{s["domains"]:,}', f'{s["queries"]:,}')
    except Exception:  # noqa: BLE001
        data = "?"
    out.append("- data: `gen-data.py %s` (seed 5782): %s; zones iprbl.test:ip4set, urirbl.test:dnset" % (E.get("GEN_ARGS_S") or "(defaults)", data))
    out.append("- load: `dnsperf -s 127.0.0.1 -p PORT -d queries.txt -l %s -T 1 -c 4 -q 100` (TCP: the same with `-m tcp -c 8`); %s" % (E["SECS"], E["PINNING"]))
    out.append("- fadelist runs as `fadelist serve --db WORK/x.sqlite --dns-listen 127.0.0.1:PORT --http-listen 127.0.0.1:0 --zone iprbl.test:ip4set:FILE --zone urirbl.test:dnset:FILE --udp-mode MODE --udp-workers 1` "
               "(one UDP worker: the server is pinned to one core); rbldnsd as `rbldnsd -n -b 127.0.0.1/PORT -w DATA iprbl.test:ip4set:ip4set.txt urirbl.test:dnset:dnset.txt`")
    out.append("- correctness guard: %s" % E.get("GUARD_NOTE", "?"))
    if nc:
        out.append("- null responder check: %s" % nc["note"])

    # noise
    timed = runs + [s for p in pk.values() for s in p["steps"]]
    noisy = [r for r in timed if r.get("cpu1_other", 0) > 20 or (r.get("cpu0_other") or 0) > 20]
    mx1 = max([r.get("cpu1_other", 0) for r in timed] + [0])
    mx0 = max([(r.get("cpu0_other") or 0) for r in timed] + [0])
    if noisy:
        out.append("")
        out.append("**NOISY**: other processes used up to %.0f%% of CPU 1 (the server's core) and %.0f%% of CPU 0 (dnsperf's core) during the main runs and the peak search "
                   "(%d of the timed dnsperf runs above 20%%). Raw QPS, latency and the peak search are unreliable; QPS per server CPU-second much less so. "
                   "Rerun on a quiet machine before quoting." % (mx1, mx0, len(noisy)))

    # -------- details: main runs
    out.append("")
    out.append("### Every timed run (main rounds)")
    out.append("")
    out.append("CPU0 other / CPU1 other: busy time on the client / server core not used by dnsperf / the server (other processes; >20 % is flagged).")
    out.append("")
    out.append("| round | server | QPS | lost % | latency avg / max | server CPU s | server CPU % | QPS/CPU-s | RSS load / after / HWM MiB | load s | CPU0 busy % | CPU0 other % | CPU1 other % | NOERROR % | reply bytes | UDP rcvbuf KiB / drops |")
    out.append("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in runs:
        mem = "%s / %s / %s" % tuple(fmt1(r[k] / 1024) if r.get(k) else "—" for k in ("rss_load_kb", "rss_after_kb", "hwm_kb"))
        out.append("| %d | %s | %s | %.2f | %.0f µs / %.1f ms | %.2f | %.0f | %s | %s | %s | %.0f | %.0f | %.0f | %.2f | %.0f | %s / %s |" % (
            r["round"], r["label"], fmt0(r["qps"]), r["lost_pct"], r["lat_us"], r["lat_max_ms"], r["cpu_s"], r["cpu_pct"],
            fmt0(r["qps_cpu"]), mem, fmt2(r.get("load_s")), r["cpu0_busy"], r.get("cpu0_other") or 0, r["cpu1_other"], r["noerror_pct"], r["resp_bytes"],
            fmt0(r["rcvbuf"] / 1024) if r.get("rcvbuf") else "—", fmt0(r.get("sock_drops"))))
    labels = sorted({r["label"] for r in runs}, key=["rbldnsd", "fadelist", "fadelist-tcp", "fadelist-hickory", "fadelist-hickory-tcp", "fadelist-null", "fadelist-nowait", "fadelist-rrl", "fadelist-metrics"].index)
    out.append("")
    out.append("Medians per variant:")
    out.append("")
    out.append("| variant | QPS | QPS/CPU-s | ÷ rbldnsd QPS/CPU-s | server CPU % | latency µs | lost % |")
    out.append("|---|--:|--:|--:|--:|--:|--:|")
    for l in labels:
        out.append("| %s | %s | %s | %s | %.0f | %.0f | %.2f |" % (l, fmt0(med(l, "qps")), fmt0(med(l, "qps_cpu")),
                   fmt2(ratio(med(l, "qps_cpu"), med("rbldnsd", "qps_cpu"))), med(l, "cpu_pct"), med(l, "lat_us"), med(l, "lost_pct")))
    nd = abs(med("fadelist", "noerror_pct") - med("rbldnsd", "noerror_pct"))
    if nd > 0.5:
        out.append("")
        out.append("**WARNING**: the share of NOERROR answers differs by %.2f points between rbldnsd and fadelist: they do not answer the query file alike." % nd)

    # -------- amplification
    if amp:
        out.append("")
        out.append("### Reply ÷ query size by query type (UDP; worst over the sampled names, with and without EDNS 4096)")
        out.append("")
        types = [t for t in ("A", "TXT", "ANY", "NS", "SOA", "MX", "AAAA", "HINFO", "SRV") if any(t in r["by_type"] for r in amp.values())]
        out.append("| server | " + " | ".join(types) + " | names | queries | timeouts |")
        out.append("|---|" + "--:|" * len(types) + "--:|--:|--:|")
        for sv in ("rbldnsd", "fadelist"):
            if sv in amp:
                r = amp[sv]
                out.append("| %s | %s | %d | %d | %d |" % (sv, " | ".join(fmt2(r["by_type"][t]["ratio"]) if t in r["by_type"] else "—" for t in types),
                                                        r["names"], r["queries"], r["timeouts"]))
        out.append("")
        out.append("- fadelist answers ANY minimally (RFC 8482: the A RRset of a listed name, HINFO at the apex) and, over UDP, never with more than twice "
                   "the query: a larger minimal answer goes out as TC=1. rbldnsd answers ANY with every record of the name (A and TXT) plus its NS records.")

    # -------- peak
    if pk:
        out.append("")
        out.append("### Peak UDP QPS with loss ≤ 0.1 %")
        out.append("")
        out.append("`dnsperf -l %s -T 1 -c 4 -q %s -t 1 -Q RATE`, one server instance per server, rates stepped as described in benches/README.md. "
                   "A step passes when lost ≤ 0.1 %% and the achieved rate is ≥ 97 %% of the offered one." % (E.get("PEAK_SECS", "?"), E.get("PEAK_Q", "?")))
        out.append("")
        out.append("| server | step | offered /s | achieved QPS | lost % | dropped at the server's socket | latency avg µs / max ms | server CPU % | CPU0 busy % | CPU1 other % | result |")
        out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
        for s in ("rbldnsd", "fadelist"):
            if s not in pk:
                continue
            for r in pk[s]["steps"]:
                out.append("| %s | %s | %s | %s | %.3f | %s | %.0f / %.1f | %.0f | %.0f | %.0f | %s |" % (
                    s, r["step"], fmt0(r["rate"]), fmt0(r["qps"]), r["lost_pct"], fmt0(r.get("sock_drops")), r["lat_us"], r["lat_max_ms"], r["cpu_pct"], r["cpu0_busy"], r["cpu1_other"],
                    "pass" if r["pass"] else "fail: " + r["why"]))
        out.append("")
        for s in ("rbldnsd", "fadelist"):
            if s in pk:
                out.append("- %s: peak %s QPS (offered %s/s, server CPU %.0f%%); limited by %s; UDP receive buffer %s bytes (`ss` skmem rb)" % (
                    s, fmt0(pk[s]["peak_qps"]), fmt0(pk[s]["peak_rate"]), pk[s]["peak_cpu_pct"], pk[s]["limit"], fmt0(pk[s].get("rcvbuf"))))
        out.append("- dnsperf pinned to one core runs its sending and receiving threads there: when the receiver holds the core, the sender falls behind "
                   "its -Q schedule and catches up in a burst of up to -q queries. A server whose receive buffer holds fewer datagrams than the burst "
                   "drops the excess even far below its CPU capacity; the \"dropped at the server's socket\" column (from `ss`) shows it. "
                   "So this row measures burst tolerance (buffer size, wake-up latency) as much as CPU capacity; rows 1 and the closed-loop QPS measure capacity.")

    # -------- reload
    if rls:
        any_c = next(iter(rls.values()))["checker"]
        out.append("")
        out.append("### Reload under full query load")
        out.append("")
        out.append("dnsperf as in the main runs for %s s; each server's ip4set file (a private copy) was rewritten %d times, about %s s apart with a varying phase "
                   "(cycle: rename a prepared copy B = A − X + Y over it, rename A back, append Y in place, truncate back to A); "
                   "fadelist polls every second (reload_interval default), rbldnsd was started with `-c 1` (check every second; its default is 60 s). "
                   "A checker (one query in flight, %s s timeout) asks always-listed, always-unlisted and the two changing names throughout." % (
                       E.get("RELOAD_SECS", "?"), any_c["rewrites"], E.get("RELOAD_GAP", "2"), E.get("CHECK_TIMEOUT", "1")))
        out.append("")
        out.append("| server | QPS | QPS ÷ its steady runs | lost (dnsperf) | latency avg µs / max ms | server CPU %% | checker queries | checker timeouts | wrong: fixed names | wrong: changing names | stale (older version after a newer one) | reloads logged | new version visible after (median / max ms) |".replace("%%", "%"))
        out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for s in ("rbldnsd", "fadelist"):
            if s not in rls:
                continue
            rl = rls[s]
            c = rl["checker"]
            out.append("| %s | %s | %s | %d (%.3f %%) | %.0f / %.1f | %.0f | %d | %d | %d | %d | %d | %s | %s / %s |" % (
                s, fmt0(rl["qps"]), fmt2(ratio(rl["qps"], med(s, "qps"))), rl["lost"], rl["lost_pct"], rl["lat_us"], rl["lat_max_ms"], rl["cpu_pct"],
                c["queries"], c["timeouts"], c["wrong_fixed"], c["wrong_xy"], c["stale"], rl.get("reloads_logged", "?"),
                fmt0(c["visible_median_ms"]), fmt0(c["visible_max_ms"])))
        out.append("")
        out.append("| rewrite | at s | operation | version now on disk | " + " | ".join("%s: first answer of the new version after" % s for s in rls) + " |")
        out.append("|--:|--:|---|---|" + "--:|" * len(rls))
        evs = {s: rl["checker"]["events"] for s, rl in rls.items()}
        for i, e in enumerate(any_c["events"]):
            cells = []
            for s in rls:
                ev = evs[s][i] if i < len(evs[s]) else None
                cells.append("—" if ev is None else "not seen" if ev["visible_ms"] is None else "%.0f ms" % ev["visible_ms"])
            out.append("| %d | %.2f | %s | %s | %s |" % (i + 1, e["at_s"], e["op"], e["state"], " | ".join(cells)))
        out.append("")
        out.append("- names checked: always listed %s; always unlisted %s; X = `%s` (listed in A, A+Y), Y = `%s` (listed in B, A+Y)" % (
            ", ".join("`%s`" % n for n in any_c["names"]["listed"]), ", ".join("`%s`" % n for n in any_c["names"]["unlisted"]),
            any_c["names"]["x"], any_c["names"]["y"]))
        for s, rl in rls.items():
            if rl["checker"]["wrong_examples"]:
                out.append("- **%s: wrong answers** (first ones): %s" % (s, "; ".join(rl["checker"]["wrong_examples"])))
            if rl.get("reload_errors"):
                out.append("- **%s server log**: %s" % (s, rl["reload_errors"]))

    # -------- ingest
    if ing:
        out.append("")
        out.append("### UDP while ingesting reports vs idle (fadelist, config with file datasets + report feeds)")
        out.append("")
        out.append("| round | mode | QPS | QPS/CPU-s | server CPU % | latency avg µs / max ms | lost % | reports accepted/s | POST errors | sent > 50 ms late | report round trip p50 / p99 ms | CPU0 busy % | CPU1 other % |")
        out.append("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in ing:
            g = r.get("gen") or {}
            rtt = "%s / %s" % (fmt1(g.get("p50_ms")), fmt1(g.get("p99_ms"))) if g.get("p50_ms") is not None else "—"
            out.append("| %d | %s | %s | %s | %.0f | %.0f / %.1f | %.2f | %s | %s | %s | %s | %.0f | %.0f |" % (
                r["round"], r["mode"], fmt0(r["qps"]), fmt0(r["qps_cpu"]), r["cpu_pct"], r["lat_us"], r["lat_max_ms"], r["lost_pct"],
                fmt1(g.get("accepted_per_s")) if g else "—", g.get("errors", "—") if g else "—", g.get("late_50ms", "—") if g else "—",
                rtt, r["cpu0_busy"], r["cpu1_other"]))
        out.append("")
        out.append("- the report generator (`ingest_load.py paced`, no DNS probes) shares CPU 0 with dnsperf; the server's CPU includes the ingestion work.")
        out.append("- report round trip: POST sent → 202 received. The store writer runs at nice 19 by default (`[ingest] writer_nice`), so under a saturating DNS load reports wait for the gaps the DNS worker leaves.")
    print("\n".join(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dnsperf")
    d.add_argument("--server-pid", type=int, required=True)
    d.add_argument("--log", required=True)
    d.add_argument("--limit", type=float, required=True)
    d.add_argument("--pin", default="0", help="CPU for dnsperf ('' = not pinned)")
    d.add_argument("--port", type=int, default=0, help="the server's UDP port (socket buffer and drops from ss)")
    d.add_argument("--tag", action="append", help="KEY=VALUE added to the JSON (VALUE parsed as JSON if it can be)")
    d.add_argument("args", nargs=argparse.REMAINDER)
    k = sub.add_parser("peak")
    k.add_argument("--server-pid", type=int, required=True)
    k.add_argument("--port", type=int, required=True)
    k.add_argument("--queries", required=True)
    k.add_argument("--start-rate", type=float, required=True)
    k.add_argument("--secs", type=int, default=5)
    k.add_argument("--max-steps", type=int, default=8)
    k.add_argument("--outstanding", type=int, default=1000)
    k.add_argument("--loss", type=float, default=0.1, help="max lost %%")
    k.add_argument("--retry", type=int, default=1, help="1: retry a failed rate once (0: no retry)")
    k.add_argument("--log-prefix", required=True)
    k.add_argument("--pin", default="0")
    r = sub.add_parser("reload")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--target", required=True)
    r.add_argument("--a-master", required=True)
    r.add_argument("--b-master", required=True)
    r.add_argument("--x-name", required=True)
    r.add_argument("--y-name", required=True)
    r.add_argument("--y-line", required=True, help="Y's line in the file (appended for A+Y)")
    r.add_argument("--listed", action="append", required=True)
    r.add_argument("--unlisted", action="append", required=True)
    r.add_argument("--secs", type=float, required=True)
    r.add_argument("--first", type=float, default=1.5)
    r.add_argument("--gap", type=float, default=2.0)
    r.add_argument("--settle", type=float, default=2.5, help="no rewrite in the last SETTLE seconds")
    r.add_argument("--timeout", type=float, default=1.0)
    am = sub.add_parser("amp")
    am.add_argument("--port", type=int, required=True)
    am.add_argument("--queries", required=True)
    am.add_argument("--zone", action="append", required=True)
    am.add_argument("--sample", type=int, default=200)
    o = sub.add_parser("report")
    o.add_argument("--results", required=True)
    m = sub.add_parser("merge")
    m.add_argument("file")
    m.add_argument("fields", nargs="*")
    a = p.parse_args()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    if a.cmd == "dnsperf":
        if a.args and a.args[0] == "--":
            a.args = a.args[1:]
        cmd_dnsperf(a)
    elif a.cmd == "peak":
        cmd_peak(a)
    elif a.cmd == "reload":
        cmd_reload(a)
    elif a.cmd == "merge":
        cmd_merge(a)
    elif a.cmd == "amp":
        cmd_amp(a)
    else:
        cmd_report(a)


if __name__ == "__main__":
    main()
