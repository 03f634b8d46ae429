#!/usr/bin/env bash
# benches/xfr.sh — zone transfer (AXFR) throughput: fadelist as a primary
# against NSD serving the very same records, side by side in one run.
#
# rbldnsd, the anchor of benches/run.sh, has no zone transfers; NSD is the
# primary operators would otherwise run. Both serve the gen-data.py data set
# of benches/run.sh (zones iprbl.test: ip4set, urirbl.test: dnset): fadelist
# from the rbldnsd files, NSD from a zone file made of fadelist's own AXFR
# (so both send the same records). kdig pulls each zone over TCP, pinned to
# CPU 0 with the servers on CPU 1, rounds alternating between the servers.
#
# Per server and zone (medians over rounds): records, bytes, messages, wall
# time, records per second, server CPU per record, and the server's memory
# (PSS, all its processes) once the zone is loaded. Ratios are fadelist ÷ NSD.
#
# Usage: benches/xfr.sh [--quick]    (--quick: 100k addresses, 1 round)
#   FADELIST_BENCH_BIN      a fadelist binary (else a release build of this tree)
#   FADELIST_BENCH_ROUNDS   rounds (default 3; --quick 1)
#   FADELIST_BENCH_DATA     data folder (default: the gen-data.py cache shared with run.sh)
#   FADELIST_BENCH_RESULTS  where to write the report (default below)
#   FADELIST_BENCH_JSON     also write the medians as one JSON object to this file (the
#                           machine-readable output benches/run.sh reads for its AXFR rows)
# Installs nsd, knot-dnsutils, dnsutils when missing (apt-get). Results:
# benches/results/xfr-latest.md (xfr-latest-quick.md with --quick).
set -euo pipefail
BENCH_TAG=xfr
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
LOAD_LIMIT=${LOAD_LIMIT:-600}   # NSD parses a zone file of millions of records
bench_args "BENCH" "$@"
if ((QUICK)); then
    MODE=quick; GEN_ARGS=(--ips 100000); ROUNDS=${FADELIST_BENCH_ROUNDS:-1}
else
    MODE=full; GEN_ARGS=(); ROUNDS=${FADELIST_BENCH_ROUNDS:-3}
fi
need_tools nsd:nsd kdig:knot-dnsutils dig:dnsutils taskset:util-linux
bench_work fadelist-xfr
build_fadelist
bench_pinning
bench_data "$MODE" "${GEN_ARGS[@]}"
NSD=$(cmd_path nsd)
ZONES=(iprbl.test urirbl.test)

# tree PID...: the processes and all their descendants (NSD runs as xfrd →
# main → server processes)
tree() {
    local p
    for p in "$@"; do
        echo "$p"
        # shellcheck disable=SC2046
        tree $(cat /proc/"$p"/task/*/children 2>/dev/null || true)
    done
}
# pss PID...: summed proportional set size of the process trees, MiB
pss() {
    local total=0 c
    for c in $(tree "$@"); do
        total=$((total + $(awk '/^Pss:/ {print $2}' "/proc/$c/smaps_rollup" 2>/dev/null || echo 0)))
    done
    calc "$total / 1024" 1
}
# ticks PID...: CPU ticks of the process trees, exited children included
all_ticks() {  # utime + stime + cutime + cstime of one process
    local s
    s=$(<"/proc/$1/stat") || { echo 0; return; }
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo $((${12} + ${13} + ${14} + ${15}))
}
ticks() {
    local total=0 c
    for c in $(tree "$@"); do total=$((total + $(all_ticks "$c" 2>/dev/null || echo 0))); done
    echo "$total"
}
HZ=$(getconf CLK_TCK)
# pull SERVER PORT PIDS...: AXFR of every zone; appends one JSON line per zone to $WORK/results.jsonl
pull() {
    local server=$1 port=$2 zone t0 t1 c0 c1 out
    shift 2
    for zone in "${ZONES[@]}"; do
        c0=$(ticks "$@"); t0=$(now)
        out=$("${PIN_CLIENT[@]}" kdig @127.0.0.1 -p "$port" +retry=0 +timeout=120 "$zone" AXFR +noall +stats 2>&1 | grep 'Received' || true)
        t1=$(now); c1=$(ticks "$@")
        # ";; Received 23272922 B (1423 messages, 1000009 records)"
        read -r bytes msgs recs < <(sed -E 's/.*Received ([0-9]+) B \(([0-9]+) messages, ([0-9]+) records\).*/\1 \2 \3/' <<<"$out")
        [[ -n ${recs:-} && $recs -gt 0 ]] || die "AXFR of $zone from $server failed: $out"
        printf '{"server":"%s","zone":"%s","bytes":%s,"messages":%s,"records":%s,"wall":%s,"cpu":%s}\n' \
            "$server" "$zone" "$bytes" "$msgs" "$recs" "$(calc "$t1 - $t0" 4)" "$(calc "($c1 - $c0) / $HZ" 3)" >>"$WORK/results.jsonl"
        log "$server $zone: $recs records, $bytes B, $msgs messages, $(calc "$t1 - $t0" 2) s"
    done
}

# ---------------------------------------------------------------- fadelist
DNS_PORT=$(free_port)
cat >"$WORK/fadelist.toml" <<EOF
[server]
dns_listen = ["127.0.0.1:$DNS_PORT"]
http_listen = "127.0.0.1:0"
[transfer]
allow = ["127.0.0.1/32"]
[[zone]]
name = "iprbl.test"
[[zone.dataset]]
type = "ip4set"
files = ["$DATA/ip4set.txt"]
[[zone]]
name = "urirbl.test"
[[zone.dataset]]
type = "dnset"
files = ["$DATA/dnset.txt"]
EOF
start_fadelist() {
    spawn "$WORK/fadelist.log" listed "$DNS_PORT" "$PROBE" "$FADELIST" serve --config "$WORK/fadelist.toml" --db "$WORK/x.sqlite"
    FL_PID=$SPID FL_TPID=$TPID
}
start_fadelist
# NSD's zone files: fadelist's own AXFR, closing SOA dropped.
mkdir -p "$WORK/nsd"
for zone in "${ZONES[@]}"; do
    kdig @127.0.0.1 -p "$DNS_PORT" +retry=0 +timeout=120 "$zone" AXFR +noall +answer | sed '$d' >"$WORK/nsd/$zone.zone"
done
FL_PSS=$(pss "$FL_PID")
stop_server "$FL_PID" "$FL_TPID"

# ---------------------------------------------------------------- NSD
NSD_PORT=$(free_port)
{
    printf 'server:\n    ip-address: 127.0.0.1@%s\n    username: ""\n    database: ""\n    zonesdir: "%s"\n' "$NSD_PORT" "$WORK/nsd"
    printf '    pidfile: "%s/nsd.pid"\n    xfrdfile: "%s/xfrd.state"\n    zonelistfile: "%s/zone.list"\n    xfrdir: "%s"\n' "$WORK/nsd" "$WORK/nsd" "$WORK/nsd" "$WORK/nsd"
    printf '    server-count: 1\n    verbosity: 1\nremote-control:\n    control-enable: no\n'
    for zone in "${ZONES[@]}"; do
        printf 'zone:\n    name: %s\n    zonefile: "%s.zone"\n    provide-xfr: 127.0.0.1 NOKEY\n' "$zone" "$zone"
    done
} >"$WORK/nsd/nsd.conf"
start_nsd() {
    spawn "$WORK/nsd.log" listed "$NSD_PORT" "$PROBE" "$NSD" -d -c "$WORK/nsd/nsd.conf"
    NSD_PID=$SPID NSD_TPID=$TPID
}
start_nsd
NSD_LOAD=$T_LOAD
NSD_PSS=$(pss "$NSD_PID")
stop_server "$NSD_PID" "$NSD_TPID"

# ---------------------------------------------------------------- rounds
: >"$WORK/results.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r of $ROUNDS"
    start_fadelist; pull fadelist "$DNS_PORT" "$FL_PID"; stop_server "$FL_PID" "$FL_TPID"
    start_nsd; pull nsd "$NSD_PORT" "$NSD_PID"; stop_server "$NSD_PID" "$NSD_TPID"
done

# ---------------------------------------------------------------- report
SUFFIX=""
((QUICK)) && SUFFIX=-quick
OUT=${FADELIST_BENCH_RESULTS:-$REPO/benches/results/xfr-latest$SUFFIX.md}
mkdir -p "$(dirname "$OUT")"
python3 - "$WORK/results.jsonl" "$FL_PSS" "$NSD_PSS" "$NSD_LOAD" "${FADELIST_BENCH_JSON:-}" >"$OUT" <<EOF
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fl_pss, nsd_pss, nsd_load, json_out = sys.argv[2:6]
def med(server, zone, key):
    return statistics.median(r[key] for r in rows if r["server"] == server and r["zone"] == zone)
if json_out:  # medians per server and zone, for benches/run.sh
    summary = {"bench": "xfr", "mode": "$MODE", "rounds": $ROUNDS, "anchor": "nsd",
               "nsd_version": "$($NSD -v 2>&1 | head -1)", "nsd_load_s": float(nsd_load),
               "pss_mib": {"nsd": float(nsd_pss), "fadelist": float(fl_pss)}, "zones": {}}
    for zone in ("iprbl.test", "urirbl.test"):
        summary["zones"][zone] = {}
        for server in ("nsd", "fadelist"):
            m = {k: med(server, zone, k) for k in ("records", "bytes", "messages", "wall", "cpu")}
            m["records_per_s"] = m["records"] / m["wall"]
            m["cpu_us_per_record"] = 1e6 * m["cpu"] / m["records"]
            summary["zones"][zone][server] = m
    with open(json_out, "w") as f:
        json.dump(summary, f)
print("## AXFR: fadelist as a primary vs NSD serving the same records\n")
print("Medians of $ROUNDS round(s); ratio = fadelist ÷ NSD.\n")
print("| zone | metric | NSD | fadelist | ratio |")
print("|---|---|--:|--:|--:|")
for zone in ("iprbl.test", "urirbl.test"):
    n = {k: med("nsd", zone, k) for k in ("records", "bytes", "messages", "wall", "cpu")}
    f = {k: med("fadelist", zone, k) for k in ("records", "bytes", "messages", "wall", "cpu")}
    def row(name, a, b, fmt="{:,.0f}", lower_is_better=True):
        ratio = (b / a) if a else float("nan")
        print(f"| {zone} | {name} | {fmt.format(a)} | {fmt.format(b)} | **{ratio:.2f}×** |")
    row("records", n["records"], f["records"])
    row("bytes on the wire", n["bytes"], f["bytes"])
    row("messages", n["messages"], f["messages"])
    row("wall time, s", n["wall"], f["wall"], "{:.2f}")
    row("records per second", n["records"] / n["wall"], f["records"] / f["wall"])
    row("server CPU, s", n["cpu"], f["cpu"], "{:.2f}")
    row("server CPU per record, µs", 1e6 * n["cpu"] / n["records"], 1e6 * f["cpu"] / f["records"], "{:.2f}")
print(f"| both | memory serving both zones (PSS, MiB) | {nsd_pss} | {fl_pss} | **{float(fl_pss) / float(nsd_pss):.2f}×** |")
print(f"\n- NSD start → first answer: {nsd_load} s (zone files of {sum(1 for _ in open('$WORK/nsd/iprbl.test.zone'))} + {sum(1 for _ in open('$WORK/nsd/urirbl.test.zone'))} lines)")
print("- command: \`$CMDLINE\`; fadelist: $FL_BUILD; NSD: $($NSD -v 2>&1 | head -1); kdig: $(kdig -V 2>&1 | head -1)")
print("- data: \`gen-data.py ${GEN_ARGS[*]:-(defaults)}\` in $DATA; machine: $(nproc) CPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $PINNING")
print("- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$REPO" rev-parse --short HEAD)")
print("\n### Every pull\n")
print("| server | zone | records | bytes | messages | wall s | server CPU s |")
print("|---|---|--:|--:|--:|--:|--:|")
for r in rows:
    print(f"| {r['server']} | {r['zone']} | {r['records']:,} | {r['bytes']:,} | {r['messages']:,} | {r['wall']:.2f} | {r['cpu']:.2f} |")
EOF
cat "$OUT"
OK=1
