#!/usr/bin/env bash
# benches/ingest.sh — fadelist's report ingestion: throughput, report-to-DNS latency,
# and what ingesting costs the DNS side.
#
#   benches/ingest.sh            # full: 3 x 15 s + 4 x 10 s throughput runs, 200 latency samples,
#                                #       3 rounds x 2 x 15 s dnsperf (~4 min with a warm build)
#   benches/ingest.sh --quick    # smoke test: 3 x 4 s + 2 x 4 s, 50 samples, 1 round x 2 x 5 s on the
#                                #       100k-IP set (~45 s)
#
# 1. Reports per second: N clients (1, 4, 16; a fresh server and database each) POST generated
#    5-50 KB messages (built from tests/data/mail/*.eml, each with its own Message-ID, source IP
#    and domains) through HTTP + parsing + SQLite (WAL, synchronous=FULL), each message by two
#    reporters so that the second post lists; accepted/s, latency, errors, server CPU per report.
#    Then 4 clients on one server for consecutive runs: the same figures as listings accumulate.
# 2. Report-to-DNS latency: one pair at a time, from the listing POST to the first UDP answer
#    NOERROR + A for the source IP under iprbl.test (polled in a tight loop).
# 3. DNS QPS while ingesting vs idle: the gen-data.py data set as file datasets next to the
#    report feeds in one server; dnsperf (as benches/run.sh) alone, then while reports are
#    posted at a fixed 200/s, alternating; QPS, QPS per server CPU-second, ingesting/idle.
#
# Installs dnsperf and dig from Debian if missing, builds fadelist (release), runs the server
# on CPU 1 and every client (load generator, dnsperf) on CPU 0, prints one markdown table per
# part and saves them to benches/results/ingest-latest.md (ingest-latest-quick.md for --quick).
# The load generator is benches/ingest_load.py (Python stdlib). See benches/README.md.
#
# Environment overrides:
#   FADELIST_BENCH_GEN      path to gen-data.py (default: <repo>/../shared/bench/gen-data.py)
#   FADELIST_BENCH_DATA     data folder (default: the same cache as benches/run.sh)
#   FADELIST_BENCH_BIN      use this fadelist binary instead of building one
#   FADELIST_BENCH_RESULTS  where to write the tables
#   FADELIST_BENCH_KEEP=1   keep the work folder (logs, JSON, database) after a successful run
#   FADELIST_BENCH_DB_DIR   folder for the SQLite databases (default: the work folder under
#                           ${TMPDIR:-/tmp}; must be a real disk for fsync to mean anything)
#   FADELIST_INGEST_CLIENTS concurrency levels of part 1     (default "1 4 16")
#   FADELIST_INGEST_SECS    seconds per level of part 1       (default 15, --quick 4)
#   FADELIST_INGEST_SAMPLES latency samples of part 2         (default 200, --quick 50)
#   FADELIST_INGEST_RATE    POSTs per second in part 3        (default 200)
#   FADELIST_BENCH_ROUNDS   idle/ingesting rounds of part 3   (default 3, --quick 1)
#   FADELIST_BENCH_SECS     dnsperf seconds per run of part 3 (default 15, --quick 5)
set -euo pipefail
BENCH_TAG=ingest
# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- arguments
bench_args "BENCH|INGEST" "$@"

if ((QUICK)); then
    MODE=quick; GEN_ARGS=(--ips 100000)
    TP_SECS=${FADELIST_INGEST_SECS:-4}; SAMPLES=${FADELIST_INGEST_SAMPLES:-50}; GROWTH_RUNS=2; GROWTH_SECS=4
    ROUNDS=${FADELIST_BENCH_ROUNDS:-1}; SECS=${FADELIST_BENCH_SECS:-5}
else
    MODE=full; GEN_ARGS=()
    TP_SECS=${FADELIST_INGEST_SECS:-15}; SAMPLES=${FADELIST_INGEST_SAMPLES:-200}; GROWTH_RUNS=4; GROWTH_SECS=10
    ROUNDS=${FADELIST_BENCH_ROUNDS:-3}; SECS=${FADELIST_BENCH_SECS:-15}
fi
CLIENTS=(${FADELIST_INGEST_CLIENTS:-1 4 16})
RATE=${FADELIST_INGEST_RATE:-200}
GROWTH_CLIENTS=4          # clients of the "as listings accumulate" runs
GEN_WORKERS=32            # keep-alive connections of the paced generator (enough to hold 200/s at 150 ms a post)
PROBE_EVERY=10            # part 3: probe every 10th pair's listing post
PROBE_LIMIT=5             # seconds a report-to-DNS probe polls at most
LOAD_LIMIT=60             # seconds a server may take to answer its first query
SERVER_LIMIT=900          # hard cap on each server process (timeout)
RESULTS=${FADELIST_BENCH_RESULTS:-$REPO/benches/results/ingest-latest$( ((QUICK)) && echo -quick || true).md}

# ---------------------------------------------------------------- cleanup
bench_work fadelist-ingest
DBDIR=${FADELIST_BENCH_DB_DIR:-$WORK}
mkdir -p "$DBDIR"
bench_on_exit() { if (($1)) && [[ ${FADELIST_BENCH_KEEP:-0} != 1 && $DBDIR != "$WORK" ]]; then rm -f "$DBDIR"/ingest-*.sqlite*; fi; }

# ---------------------------------------------------------------- 1. tools and build
need_tools dnsperf:dnsperf dig:dnsutils taskset:util-linux python3:python3
[[ -f $LOADGEN ]] || die "load generator not found at $LOADGEN"
build_fadelist
bench_pinning
DB_FS=$(df -PT "$DBDIR" | awk 'NR == 2 {print $2 " (" $1 ")"}')
case $DB_FS in
    tmpfs* | ramfs* | overlay*) log "WARNING: the database folder $DBDIR is on $DB_FS: fsync costs nothing there (set FADELIST_BENCH_DB_DIR)"
        DB_FS="$DB_FS — **not a disk: fsync is free, the throughput is not representative**" ;;
esac

# ---------------------------------------------------------------- 2. data (the same cache as benches/run.sh)
bench_data "$MODE" "${GEN_ARGS[@]}"
DATA_PROBE=$PROBE

# ---------------------------------------------------------------- helpers
# start_server CONFIG DB LOG PROBE: `fadelist serve` with the config; SPID, TPID, T_LOAD (DNS_PORT and
# HTTP_PORT are the config's)
start_server() {
    spawn "$3" "http:$HTTP_PORT" "$DNS_PORT" "$4" "$FADELIST" serve --config "$1" --db "$2"
}

T_BEGIN=$(now)

# ---------------------------------------------------------------- 3. parts 1 and 2: report feeds only
FSYNC_JSON=$(timeout 60 python3 "$LOADGEN" fsync --dir "$DBDIR" -n 300)
# start_feeds NAME: a fresh database and a server with the three report-fed zones only
start_feeds() {
    DB=$DBDIR/ingest-$1.sqlite
    new_db "$DB"
    two_ports
    write_config "$WORK/feeds-$1.toml" "$DNS_PORT" "$HTTP_PORT" 0
    start_server "$WORK/feeds-$1.toml" "$DB" "$WORK/server-$1.log" 2.0.0.127.iprbl.test
    COMMON=(--port "$HTTP_PORT" --token-a "$TOKEN_A" --token-b "$TOKEN_B" --server-pid "$SPID")
    log "$1: fresh database, server up on DNS $DNS_PORT, HTTP $HTTP_PORT (pid $SPID)"
}
summ_tp() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%(accepted)d accepted, %(accepted_per_s).1f/s, p50 %(p50_ms).1f ms, p99 %(p99_ms).1f ms, errors %(errors)d, server CPU %(server_cpu_ms_per_report).2f ms/report" % r, "keys", r["keys_after"])' "$1"; }
# run_tp NAME CLIENTS SECS START OUTFILE: one throughput run against the current server
run_tp() {
    log "part 1 ($1): $2 client(s) for ${3}s"
    loadgen $(($3 + 120)) throughput "${COMMON[@]}" --clients "$2" --secs "$3" --start "$4" >"$5" \
        || { tail -20 "$WORK/server-$1.log" >&2; die "load generator failed ($1)"; }
    kill -0 "$SPID" 2>/dev/null || { tail -20 "$WORK/server-$1.log" >&2; die "fadelist died during part 1 ($1)"; }
    log "  $(summ_tp "$5")"
}
NOTES=()

: >"$WORK/throughput.jsonl"
NEXT=0
first=1
for c in "${CLIENTS[@]}"; do
    start_feeds "p1-c$c"
    if ((first)); then
        first=0
        log "guard: one message of every template, posted by A then B (and B again: a duplicate)"
        if ! loadgen 120 guard "${COMMON[@]}" --dns-port "$DNS_PORT" --start 90000000 >"$WORK/guard.json"; then
            python3 -c 'import json,sys; [print("  ", r["template"], r["problems"]) for r in json.load(open(sys.argv[1]))["templates"] if r["problems"]]' "$WORK/guard.json" >&2 || cat "$WORK/guard.json" >&2
            die "the generated messages are not extracted as expected; not timing"
        fi
        log "guard passed: $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["templates"]; print(len(t), "templates, sizes", min(r["size"] for r in t), "-", max(r["size"] for r in t), "bytes")' "$WORK/guard.json")"
    fi
    run_tp "p1-c$c" "$c" "$TP_SECS" "$NEXT" "$WORK/tp-$c.json"
    NEXT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["next_index"])' "$WORK/tp-$c.json")
    cat "$WORK/tp-$c.json" >>"$WORK/throughput.jsonl"
    DB_BYTES=$(du -cb "$DB" "$DB-wal" 2>/dev/null | awk 'END {print $1}')
    DB_REPORTS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accepted"])' "$WORK/tp-$c.json")
    HWM=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$SPID/status")
    stop_server "$SPID" "$TPID"
    NOTES+=("$(log_notes "$WORK/server-p1-c$c.log" "c=$c")")
    rm -f "$DB" "$DB-wal" "$DB-shm"    # ~27 KB per report; do not pile them up
done

# Growth: the same load on one server for consecutive runs, to show how the cost moves with listed keys.
start_feeds p1-growth
: >"$WORK/growth.jsonl"
for ((k = 1; k <= GROWTH_RUNS; k++)); do
    run_tp "p1-growth" "$GROWTH_CLIENTS" "$GROWTH_SECS" "$NEXT" "$WORK/growth-$k.json"
    NEXT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["next_index"])' "$WORK/growth-$k.json")
    cat "$WORK/growth-$k.json" >>"$WORK/growth.jsonl"
done
LISTED_BEFORE=$(zone_entries "$HTTP_PORT")

log "part 2: report-to-DNS latency, $SAMPLES samples (server holds $LISTED_BEFORE)"
loadgen 600 latency "${COMMON[@]}" --dns-port "$DNS_PORT" --samples "$SAMPLES" --start 10000000 --limit "$PROBE_LIMIT" \
    >"$WORK/latency.json" || { tail -20 "$WORK/server-p1-growth.log" >&2; die "latency run failed"; }
log "  $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("send->visible p50 %s ms, p95 %s ms, max %s ms; not visible %s" % tuple(round(r[k], 2) if r[k] is not None else None for k in ("send_p50_ms", "send_p95_ms", "send_max_ms", "not_visible")))' "$WORK/latency.json")"
stop_server "$SPID" "$TPID"
NOTES+=("$(log_notes "$WORK/server-p1-growth.log" "growth + part 2")")
rm -f "$DB" "$DB-wal" "$DB-shm"

# ---------------------------------------------------------------- 4. part 3: DNS while ingesting vs idle
log "part 3: file datasets from $DATA next to the report feeds; a fresh server and database every round"
: >"$WORK/dns.jsonl"
T_LOADS=()
for ((r = 1; r <= ROUNDS; r++)); do
    DB=$DBDIR/ingest-p3-r$r.sqlite
    new_db "$DB"
    two_ports
    write_config "$WORK/ingest-r$r.toml" "$DNS_PORT" "$HTTP_PORT" 1
    start_server "$WORK/ingest-r$r.toml" "$DB" "$WORK/server-p3-r$r.log" "$DATA_PROBE"
    T_LOADS+=("$T_LOAD")
    log "round $r: server up in ${T_LOAD}s on DNS $DNS_PORT, HTTP $HTTP_PORT (pid $SPID)"
    P3_BASE=$(zone_entries "$HTTP_PORT")   # file data, before any report
    dns_vs_ingest "round-$r" $((20000000 + r * 1000000)) "$WORK/dns.jsonl" "round=$r"
    LISTED_AFTER=$(zone_entries "$HTTP_PORT")
    stop_server "$SPID" "$TPID"
    NOTES+=("$(log_notes "$WORK/server-p3-r$r.log" "part 3 round $r")")
    rm -f "$DB" "$DB-wal" "$DB-shm"
done

# ---------------------------------------------------------------- 5. report
python3 - "$WORK" <<'EOF' >"$WORK/results.json"
import json, os, sys
w = sys.argv[1]
rows = lambda f: [json.loads(l) for l in open(os.path.join(w, f)) if l.strip()]
dns = rows("dns.jsonl")
print(json.dumps({"throughput": rows("throughput.jsonl"), "growth": rows("growth.jsonl"), "latency": json.load(open(os.path.join(w, "latency.json"))),
                  "paced": [r["gen"] for r in dns if r.get("gen")], "dns": dns}))
EOF
summ=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("%s /32 + %s ranges in ip4set.txt, %s domains in dnset.txt, %s queries" % tuple(f"{s[k]:,}" for k in ("single_ips", "ranges", "domains", "queries")))' "$DATA/summary.json" 2>/dev/null || echo '?')
export_machine_notes
export CMDLINE_FULL="${ENV_NOTE:+$ENV_NOTE}$CMDLINE" RATE WORKERS=$GEN_WORKERS PROBE_EVERY SECS3=$SECS DB_FS NCPU PINNING FL_BUILD
export FL_VER=$("$FADELIST" --version 2>/dev/null | sed 's/^fadelist //' || echo '?')
export COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
export DIRTY=$(GIT_OPTIONAL_LOCKS=0 git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | wc -l || echo 0)
export MIX_NOTE="$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["templates"]; print(len(t))' "$WORK/guard.json") fixture templates (9 weighted; 2/12 bulk → niprbl, 1/12 IPv6, 1/12 phishing), sizes log-uniform 5–50 KB"
export DB_NOTE="database after the last level: $(calc "$DB_BYTES / 1048576" 0) MiB for $DB_REPORTS accepted reports ($(calc "$DB_BYTES / ($DB_REPORTS + 9) / 1024" 1) KiB each, raw samples kept); server peak RSS $(calc "${HWM:-0} / 1024" 1) MiB"
export FSYNC_NOTE=$(python3 -c 'import json,sys; r=json.load(sys.stdin); print("append 4 KiB + fsync in the database folder: p50 %.3f ms, p99 %.3f ms, mean %.3f ms (300 times, before part 1)" % (r["p50_ms"], r["p99_ms"], r["mean_ms"]))' <<<"$FSYNC_JSON")
export LISTED_BEFORE DATA_NOTE="data \`gen-data.py ${GEN_ARGS[*]:-(defaults)}\`: $summ; server start → first answer ${T_LOADS[*]} s; entries served before / after the last round: $P3_BASE / $LISTED_AFTER"
export P3_BASE
export SERVER_NOTES=$(IFS=';'; echo "${NOTES[*]}" | sed 's/;/; /g')
publish_report "$LOADGEN" report --results "$WORK/results.json"
