#!/usr/bin/env python3
"""Before/after figures for the HTTP attacks of issue 12.

Starts `fadelist serve` (the binary given, default target/release/fadelist)
with the embedded default zones and its defaults, under a descriptor limit
(`prlimit --nofile=N:N`, default 256), and measures:

1. bad-token reports: 20 connections each POST /api/v1/reports with a
   wrong bearer token and `Content-Length: 10485760`, then send that body
   in 64 KiB writes. Printed: the server's VmRSS before and after (and
   VmHWM), and how long each connection waited for the status line.
2. slowloris: 300 connections from 127.0.0.1 each send half a request
   head and stop; then another client (127.0.0.2) asks /healthz, and a
   TCP DNS query and a UDP one are sent. Printed: whether each was
   answered and how fast (5 s limit), and after a pause how many of the
   300 the server has closed.

Run: benches/http-attack.py [--bin PATH] [--nofile N]. Needs `prlimit`
(util-linux). The server's own log goes to a temporary folder, removed at
the end. This is a measurement, not a test: it never fails on a number.
"""

import argparse
import os
import re
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) // 1024
    return out


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def start(binary, nofile, work):
    cmd = [
        "prlimit", f"--nofile={nofile}:{nofile}", binary, "serve",
        "--db", os.path.join(work, "db.sqlite"),
        "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
    ]
    err = open(os.path.join(work, "serve.err"), "w")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    dns = http = None
    deadline = time.time() + 20
    while time.time() < deadline and (dns is None or http is None):
        line = p.stdout.readline()
        if not line:
            break
        m = re.match(r"fadelist: DNS listening on ([0-9.]+):(\d+)", line)
        if m:
            dns = (m.group(1), int(m.group(2)))
        m = re.match(r"fadelist: HTTP listening on http://([0-9.]+):(\d+)", line)
        if m:
            http = (m.group(1), int(m.group(2)))
    if dns is None or http is None:
        p.kill()
        sys.exit("the server did not print its addresses")
    # Keep draining stdout so the server never blocks on it.
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, dns, http


def connect_from(src, dst, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(dst)
    return s


def bad_token_post(http, result, i):
    t0 = time.monotonic()
    try:
        s = connect_from("127.0.0.1", http)
    except OSError as e:
        result[i] = ("connect failed", str(e))
        return
    head = (
        "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
        "Content-Type: message/rfc822\r\nContent-Length: 10485760\r\n\r\n"
    ).encode()
    chunk = b"x" * 65536
    status = None
    waited = None
    try:
        s.sendall(head)
        sent = 0
        s.setblocking(False)
        while sent < 10485760 and status is None:
            r, w, _ = select.select([s], [s], [], 30)
            if r:
                data = s.recv(4096)
                if data:
                    status = data.split(b"\r\n", 1)[0].decode(errors="replace")
                    waited = time.monotonic() - t0
                break
            if w:
                try:
                    sent += s.send(chunk)
                except BlockingIOError:
                    pass
                except OSError:
                    # The server stopped reading (it answered already):
                    # read what it said.
                    break
        if status is None:
            s.setblocking(True)
            s.settimeout(30)
            data = s.recv(4096)
            status = data.split(b"\r\n", 1)[0].decode(errors="replace") if data else "(closed)"
            waited = time.monotonic() - t0
    except OSError as e:
        status = status or f"error: {e}"
        waited = waited or time.monotonic() - t0
    finally:
        s.close()
    result[i] = (status, waited)


def dns_query(name, qid=0x1234):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00\x00\x01\x00\x01"


def timed(fn):
    t0 = time.monotonic()
    try:
        ok = fn()
    except OSError as e:
        ok = f"failed: {e}"
    return ok, time.monotonic() - t0


def healthz(http, src="127.0.0.2"):
    s = connect_from(src, http)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = s.recv(4096)
    s.close()
    return data.split(b"\r\n", 1)[0].decode(errors="replace") or "(closed)"


def tcp_dns(dns, src="127.0.0.2"):
    s = connect_from(src, dns)
    q = dns_query("2.0.0.127.iprbl.test")
    s.sendall(struct.pack(">H", len(q)) + q)
    n = s.recv(2)
    s.close()
    return "answered" if len(n) == 2 else "(closed)"


def udp_dns(dns):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(dns_query("2.0.0.127.iprbl.test"), dns)
    s.recvfrom(1500)
    s.close()
    return "answered"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/fadelist"))
    ap.add_argument("--nofile", type=int, default=256)
    ap.add_argument("--slow", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        p, dns, http = start(args.bin, args.nofile, work)
        try:
            time.sleep(1)
            print(f"binary: {args.bin}; RLIMIT_NOFILE {args.nofile}")
            before = rss(p.pid)
            print(f"RSS at rest: {before['VmRSS']} MB")
            results = [None] * 20
            threads = [threading.Thread(target=bad_token_post, args=(http, results, i)) for i in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            time.sleep(1)
            after = rss(p.pid)
            waits = sorted(w for _, w in results if isinstance(w, float))
            statuses = sorted(set(s for s, _ in results))
            print(f"20 bad-token POSTs of 10 MiB: statuses {statuses}")
            if waits:
                print(f"  wait for the status line: median {waits[len(waits) // 2]:.3f} s, max {waits[-1]:.3f} s")
            print(f"  RSS after: {after['VmRSS']} MB (+{after['VmRSS'] - before['VmRSS']} MB), peak VmHWM {after['VmHWM']} MB")

            slow = []
            failed = 0
            for _ in range(args.slow):
                try:
                    s = connect_from("127.0.0.1", http, timeout=3.0)
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    slow.append(s)
                except OSError:
                    failed += 1
            print(f"slowloris: {len(slow)} half-sent requests open from 127.0.0.1 ({failed} could not connect); "
                  f"server holds {open_fds(p.pid)} descriptors")
            for name, fn in (("/healthz from 127.0.0.2", lambda: healthz(http)),
                             ("TCP DNS query", lambda: tcp_dns(dns)),
                             ("UDP DNS query", lambda: udp_dns(dns))):
                ok, took = timed(fn)
                print(f"  {name}: {ok} in {took:.3f} s")
            time.sleep(12)
            closed = 0
            for s in slow:
                s.setblocking(False)
                try:
                    if s.recv(4096) == b"":
                        closed += 1
                    else:
                        closed += 1
                except BlockingIOError:
                    pass
                except OSError:
                    closed += 1
            print(f"  12 s later: {closed} of {len(slow)} half-sent connections closed by the server")
            for s in slow:
                s.close()
        finally:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
