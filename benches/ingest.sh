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
shopt -s extglob

# ---------------------------------------------------------------- arguments
QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "ingest.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done
CMDLINE="benches/ingest.sh${*:+ $*}"
ENV_NOTE=$(env | grep -E '^FADELIST_(BENCH|INGEST)_' | sort | tr '\n' ' ' || true)

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
WORKERS=32                # keep-alive connections of the paced generator (enough to hold 200/s at 150 ms a post)
PROBE_EVERY=10            # part 3: probe every 10th pair's listing post
PROBE_LIMIT=5             # seconds a report-to-DNS probe polls at most
LOAD_LIMIT=60             # seconds a server may take to answer its first query
SERVER_LIMIT=900          # hard cap on each server process (timeout)
TRUSTED=(--trusted 81.2.69.160/27 --trusted 2a02:1810:4d02::/48)   # the fixtures' reporter networks

log() { printf '[ingest] %s\n' "$*" >&2; }
die() { printf '[ingest] ERROR: %s\n' "$*" >&2; exit 1; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null || (cd "$SCRIPT_DIR/.." && pwd))
GEN=${FADELIST_BENCH_GEN:-$REPO/../shared/bench/gen-data.py}
LOADGEN=$SCRIPT_DIR/ingest_load.py
RESULTS=${FADELIST_BENCH_RESULTS:-$REPO/benches/results/ingest-latest$( ((QUICK)) && echo -quick || true).md}

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-ingest.XXXXXX")
DBDIR=${FADELIST_BENCH_DB_DIR:-$WORK}
mkdir -p "$DBDIR"
PIDS=()     # every background process this script started and has not reaped yet
forget() {  # forget PID...: drop reaped processes from PIDS (so a recycled PID is never killed)
    local p keep=()
    for p in "${PIDS[@]}"; do [[ " $* " == *" $p "* ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
OK=0
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 30); do
        local alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    if ((OK)) && [[ ${FADELIST_BENCH_KEEP:-0} != 1 ]]; then
        rm -rf "$WORK"
        [[ $DBDIR == "$WORK" ]] || rm -f "$DBDIR"/ingest-*.sqlite*
    else
        log "logs kept in $WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- 1. tools and build
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root to run: $*"; fi; }
missing=()
command -v dnsperf >/dev/null || missing+=(dnsperf)
command -v dig >/dev/null || missing+=(dnsutils)
command -v taskset >/dev/null || missing+=(util-linux)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    log "installing from Debian: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -q >&2
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
[[ -f $LOADGEN ]] || die "load generator not found at $LOADGEN"

if [[ -n ${FADELIST_BENCH_BIN:-} ]]; then
    FADELIST=$FADELIST_BENCH_BIN
    FL_BUILD="binary $FADELIST_BENCH_BIN, tree"
    log "using fadelist binary $FADELIST (not building)"
else
    log "building fadelist (cargo build --release -p fadelist)"
    (cd "$REPO" && cargo build --release -p fadelist >&2)
    FADELIST=${CARGO_TARGET_DIR:-$REPO/target}/release/fadelist
    FL_BUILD="release build"
fi
[[ -x $FADELIST ]] || die "no fadelist binary at $FADELIST"

NCPU=$(nproc)
if ((NCPU >= 2)); then
    PIN_SERVER=(taskset -c 1); PIN_CLIENT=(taskset -c 0)
    PINNING="server on CPU 1; load generator and dnsperf on CPU 0 (taskset)"
else
    PIN_SERVER=(); PIN_CLIENT=(); PINNING="NOT pinned (only $NCPU CPU)"
    log "warning: only $NCPU CPU, running unpinned"
fi
DB_FS=$(df -PT "$DBDIR" | awk 'NR == 2 {print $2 " (" $1 ")"}')
case $DB_FS in
    tmpfs* | ramfs* | overlay*) log "WARNING: the database folder $DBDIR is on $DB_FS: fsync costs nothing there (set FADELIST_BENCH_DB_DIR)"
        DB_FS="$DB_FS — **not a disk: fsync is free, the throughput is not representative**" ;;
esac

# ---------------------------------------------------------------- 2. data (the same cache as benches/run.sh)
[[ -f $GEN ]] || die "gen-data.py not found at $GEN (set FADELIST_BENCH_GEN)"
KEY=$( { sha256sum <"$GEN"; echo "${GEN_ARGS[*]}"; } | sha256sum | cut -c1-12)
DATA=${FADELIST_BENCH_DATA:-${TMPDIR:-/tmp}/fadelist-bench-data/$MODE-$KEY}
if [[ -f $DATA/.complete && $(cat "$DATA/.complete") == "$KEY" ]]; then
    log "reusing data in $DATA"
else
    log "generating data: python3 $GEN ${GEN_ARGS[*]} --outdir $DATA"
    rm -f "$DATA/.complete"
    mkdir -p "$DATA"
    timeout 600 python3 "$GEN" "${GEN_ARGS[@]}" --outdir "$DATA" >"$WORK/gen-data.log"
    echo "$KEY" >"$DATA/.complete"
fi
QUERIES=$DATA/queries.txt
[[ -s $QUERIES && -s $DATA/ip4set.txt && -s $DATA/dnset.txt ]] || die "data set in $DATA is incomplete"
PROBE_IP=$(grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' <(grep -v '^127\.0\.0\.2$' "$DATA/ip4set.txt"))
DATA_PROBE=$(awk -F. '{print $4"."$3"."$2"."$1}' <<<"$PROBE_IP").iprbl.test

# ---------------------------------------------------------------- helpers
free_port() {  # a port free on 127.0.0.1 for both UDP and TCP
    python3 - <<'EOF'
import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]; t = socket.socket()
    try:
        t.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
EOF
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", ($1) }"; }   # calc EXPR [DECIMALS]
cpu_ticks() {  # utime+stime of a process (all its threads), in clock ticks
    local s; s=$(<"/proc/$1/stat") || return 1
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo $((${12} + ${13}))
}
cpu_stat() { awk '$1=="cpu0"||$1=="cpu1"{b=$2+$3+$4+$7+$8; printf "%d %d ", b, b+$5+$6+$9}' /proc/stat; }
dig_q() { dig @127.0.0.1 -p "$1" +norec +tries=1 +time=1 "${@:2}" 2>/dev/null; }
loadgen() {  # loadgen LIMIT_S SUBCOMMAND ARGS...: the load generator, pinned to CPU 0, under timeout
    local limit=$1; shift
    "${PIN_CLIENT[@]}" timeout -k 5 "$limit" python3 "$LOADGEN" --mail-dir "$REPO/tests/data/mail" "$@"
}

# new_db NAME -> DB path; sets TOKEN_A, TOKEN_B (reporter A: a user, B: a spam trap)
new_db() {
    DB=$DBDIR/ingest-$1.sqlite
    rm -f "$DB" "$DB-wal" "$DB-shm"
    TOKEN_A=$(timeout 30 "$FADELIST" reporter --db "$DB" add bench-a "${TRUSTED[@]}" | awk '/^token:/ {print $2}')
    TOKEN_B=$(timeout 30 "$FADELIST" reporter --db "$DB" add bench-trap --kind trap "${TRUSTED[@]}" | awk '/^token:/ {print $2}')
    [[ -n $TOKEN_A && -n $TOKEN_B ]] || die "could not add the reporters to $DB"
}

# write_config FILE DNS_PORT HTTP_PORT WITH_FILES(0/1)
write_config() {
    local ds_ip="" ds_dom=""
    if (($4)); then
        ds_ip=$'\n[[zone.dataset]]\ntype = "ip4set"\nfiles = ["'"$DATA/ip4set.txt"$'"]\n'
        ds_dom=$'\n[[zone.dataset]]\ntype = "dnset"\nfiles = ["'"$DATA/dnset.txt"$'"]\n'
    fi
    cat >"$1" <<EOF
# written by benches/ingest.sh
[server]
dns_listen = ["127.0.0.1:$2"]
http_listen = "127.0.0.1:$3"

[ingest]
rate_per_minute = 1000000

[policy]
max_report_age = "36500d"   # the fixture mails are dated 2026-03

[[zone]]
name = "iprbl.test"
feed = "ip"
$ds_ip
[[zone]]
name = "niprbl.test"
feed = "bulk-ip"

[[zone]]
name = "urirbl.test"
feed = "domain"
$ds_dom
EOF
}

# start_server CONFIG DB LOG PROBE -> SPID, TPID, DNS_PORT/HTTP_PORT (from the config), T_LOAD
start_server() {
    local conf=$1 db=$2 slog=$3 probe=$4 tpid t0
    SPID= TPID=
    t0=$(now)
    timeout -k 5 "$SERVER_LIMIT" "${PIN_SERVER[@]}" "$FADELIST" serve --config "$conf" --db "$db" >"$slog" 2>&1 &
    tpid=$!
    TPID=$tpid
    PIDS+=("$tpid")
    for _ in $(seq 500); do
        local c; c=$(cat "/proc/$tpid/task/$tpid/children" 2>/dev/null || true)
        c=${c%% *}
        if [[ -n $c && $(cat "/proc/$c/comm" 2>/dev/null || echo taskset) != @(taskset|timeout) ]]; then SPID=$c; break; fi
        kill -0 "$tpid" 2>/dev/null || break
        sleep 0.01
    done
    [[ -n $SPID ]] || { tail -20 "$slog" >&2; die "fadelist did not start"; }
    PIDS+=("$SPID")
    local deadline; deadline=$(calc "$t0 + $LOAD_LIMIT")
    while :; do
        kill -0 "$SPID" 2>/dev/null || { tail -20 "$slog" >&2; die "fadelist exited while starting (log $slog)"; }
        if grep -q '^fadelist: HTTP listening' "$slog" && [[ $(dig_q "$DNS_PORT" +short "$probe" A) == 127.* ]]; then break; fi
        (($(calc "$(now) > $deadline" 0))) && { tail -20 "$slog" >&2; die "fadelist did not answer $probe within ${LOAD_LIMIT}s"; }
        sleep 0.02
    done
    T_LOAD=$(calc "$(now) - $t0" 2)
}

stop_server() {  # stop_server SPID TPID: SIGTERM the server, reap its timeout wrapper
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
    ! kill -0 "$1" 2>/dev/null || { log "fadelist did not stop within 10 s of SIGTERM; killing it"; kill -KILL "$1" 2>/dev/null || true; }
    wait "$2" 2>/dev/null || true
    forget "$1" "$2"
}

log_notes() {  # log_notes LOG LABEL: counts of WARN/ERROR/panic lines in a server log (colours stripped)
    local w e p plain=$1.plain
    sed 's/\x1b\[[0-9;]*m//g' "$1" >"$plain"
    w=$(grep -c ' WARN ' "$plain" || true); e=$(grep -c ' ERROR ' "$plain" || true); p=$(grep -c 'panicked' "$plain" || true)
    printf '%s: %s WARN, %s ERROR, %s panic' "$2" "$w" "$e" "$p"
    if ((e + p > 0)); then printf ' (first: `%s`)' "$(grep -m1 -E ' ERROR |panicked' "$plain" | cut -c1-200 | tr '`|' "'/")"; fi
}

zone_entries() {  # zone_entries HTTP_PORT: "iprbl.test=N niprbl.test=N urirbl.test=N" from /api/v1/zones
    timeout 10 python3 - "$1" <<'EOF'
import json, sys, urllib.request
z = json.load(urllib.request.urlopen("http://127.0.0.1:%s/api/v1/zones" % sys.argv[1], timeout=5))
print(" ".join("%s=%d" % (x["name"], x["ipv4_entries"] + x["ipv6_entries"] + x["domain_entries"]) for x in z))
EOF
}

HZ=$(getconf CLK_TCK)
T_BEGIN=$(now)

# ---------------------------------------------------------------- 3. parts 1 and 2: report feeds only
FSYNC_JSON=$(timeout 60 python3 "$LOADGEN" fsync --dir "$DBDIR" -n 300)
# start_feeds NAME: a fresh database and a server with the three report-fed zones only
start_feeds() {
    new_db "$1"
    DNS_PORT=$(free_port); HTTP_PORT=$(free_port)
    [[ $DNS_PORT != "$HTTP_PORT" ]] || HTTP_PORT=$(free_port)
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
    new_db "p3-r$r"
    DNS_PORT=$(free_port); HTTP_PORT=$(free_port)
    [[ $DNS_PORT != "$HTTP_PORT" ]] || HTTP_PORT=$(free_port)
    write_config "$WORK/ingest-r$r.toml" "$DNS_PORT" "$HTTP_PORT" 1
    start_server "$WORK/ingest-r$r.toml" "$DB" "$WORK/server-p3-r$r.log" "$DATA_PROBE"
    T_LOADS+=("$T_LOAD")
    log "round $r: server up in ${T_LOAD}s on DNS $DNS_PORT, HTTP $HTTP_PORT (pid $SPID)"
    COMMON=(--port "$HTTP_PORT" --token-a "$TOKEN_A" --token-b "$TOKEN_B" --server-pid "$SPID")
    P3_BASE=$(zone_entries "$HTTP_PORT")   # file data, before any report
    for mode in idle ingesting; do
        dlog=$WORK/r$r-$mode.dnsperf; glog=$WORK/r$r-gen.json; gpid=
        if [[ $mode == ingesting ]]; then
            loadgen $((SECS + 120)) paced "${COMMON[@]}" --dns-port "$DNS_PORT" --rate "$RATE" --secs $((SECS + 2)) \
                --workers "$WORKERS" --probe-every "$PROBE_EVERY" --limit "$PROBE_LIMIT" \
                --start $((20000000 + r * 1000000)) >"$glog" 2>"$WORK/r$r-gen.err" &
            gpid=$!; PIDS+=("$gpid")
            sleep 1
        fi
        c0=$(cpu_ticks "$SPID"); st0=$(cpu_stat)
        "${PIN_CLIENT[@]}" timeout -k 5 $((SECS + 60)) dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$QUERIES" \
            -l "$SECS" -T 1 -c 4 -q 100 >"$dlog" 2>&1 &
        dpid=$!; PIDS+=("$dpid")
        wait "$dpid" || { cat "$dlog" >&2; die "dnsperf failed ($mode, round $r)"; }
        forget "$dpid"
        c1=$(cpu_ticks "$SPID") || { tail -20 "$WORK/server-p3-r$r.log" >&2; die "fadelist died during part 3"; }
        st1=$(cpu_stat)
        gen_field=null
        if [[ -n $gpid ]]; then
            wait "$gpid" || { cat "$WORK/r$r-gen.err" >&2; die "paced generator failed (round $r)"; }
            forget "$gpid"
            gen_field=$(cat "$glog")
        fi
        read -r qps lost lat run done_q noerr lmax lsd < <(awk '
            /Queries completed:/ {c=$3}
            /Queries lost:/ {l=$4; gsub(/[()%]/, "", l)}
            /Queries per second:/ {q=$4}
            /Average Latency/ {a=$4; m=$8; gsub(/[),]/, "", m)}
            /Latency StdDev/ {sd=$4}
            /Run time/ {t=$4}
            /Response codes:/ {for (i=1;i<=NF;i++) if ($i=="NOERROR") {n=$(i+2); gsub(/[()%,]/, "", n)}}
            END {print q+0, l+0, a*1e6, t+0, c+0, n+0, m*1e3, sd*1e6}' "$dlog")
        ((done_q > 0)) || { cat "$dlog" >&2; die "no query completed ($mode, round $r)"; }
        read -r b0 t0 b1 t1 <<<"$st0"; read -r B0 T0 B1 T1 <<<"$st1"
        cpu_s=$(calc "($c1 - $c0) / $HZ" 2)
        printf '{"round": %d, "mode": "%s", "qps": %s, "lost_pct": %s, "lat_us": %s, "lat_max_ms": %s, "lat_sd_us": %s, "run_s": %s, "completed": %s, "noerror_pct": %s, "cpu_s": %s, "cpu_pct": %s, "qps_cpu": %s, "cpu0_busy": %s, "cpu1_other": %s, "gen": %s}\n' \
            "$r" "$mode" "$qps" "$lost" "$lat" "$lmax" "$lsd" "$run" "$done_q" "$noerr" "$cpu_s" \
            "$(calc "100 * $cpu_s / $run" 1)" "$(calc "$cpu_s > 0 ? $done_q / $cpu_s : 0" 0)" \
            "$(calc "100 * ($B0 - $b0) / ($T0 - $t0)" 1)" "$(calc "100 * ($B1 - $b1 - ($c1 - $c0)) / ($T1 - $t1)" 1)" \
            "$gen_field" >>"$WORK/dns.jsonl"
        log "round $r/$ROUNDS $mode: $qps qps, server cpu ${cpu_s}s$([[ -n $gpid ]] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(", reports %.1f/s accepted, errors %d, probes p50 %s ms" % (r["accepted_per_s"], r["errors"], r["probes"]["send_p50_ms"] and round(r["probes"]["send_p50_ms"], 2)))' "$glog")"
        sleep 1
    done
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
DP_VER=$(dnsperf -h 2>&1 | awk '/^Version/ {print $2; exit}'); DP_VER=${DP_VER:-$(dpkg-query -W -f='${Version}' dnsperf 2>/dev/null || echo '?')}
export CMDLINE_FULL="${ENV_NOTE:+$ENV_NOTE}$CMDLINE" RATE WORKERS PROBE_EVERY SECS3=$SECS DB_FS NCPU PINNING DP_VER FL_BUILD
export FL_VER=$("$FADELIST" --version 2>/dev/null | sed 's/^fadelist //' || echo '?')
export COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
export DIRTY=$(GIT_OPTIONAL_LOCKS=0 git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | wc -l || echo 0)
export CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
export KERNEL=$(uname -sr) MEM_GIB=$(awk '/^MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)
export LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg) DATE=$(date -u +'%Y-%m-%d %H:%M UTC')
export MIX_NOTE="$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["templates"]; print(len(t))' "$WORK/guard.json") fixture templates (9 weighted; 2/12 bulk → niprbl, 1/12 IPv6, 1/12 phishing), sizes log-uniform 5–50 KB"
export DB_NOTE="database after the last level: $(calc "$DB_BYTES / 1048576" 0) MiB for $DB_REPORTS accepted reports ($(calc "$DB_BYTES / ($DB_REPORTS + 9) / 1024" 1) KiB each, raw samples kept); server peak RSS $(calc "${HWM:-0} / 1024" 1) MiB"
export FSYNC_NOTE=$(python3 -c 'import json,sys; r=json.load(sys.stdin); print("append 4 KiB + fsync in the database folder: p50 %.3f ms, p99 %.3f ms, mean %.3f ms (300 times, before part 1)" % (r["p50_ms"], r["p99_ms"], r["mean_ms"]))' <<<"$FSYNC_JSON")
export LISTED_BEFORE DATA_NOTE="data \`gen-data.py ${GEN_ARGS[*]:-(defaults)}\`: $summ; server start → first answer ${T_LOADS[*]} s; entries served before / after the last round: $P3_BASE / $LISTED_AFTER"
export P3_BASE
export SERVER_NOTES=$(IFS=';'; echo "${NOTES[*]}" | sed 's/;/; /g')
mkdir -p "$(dirname "$RESULTS")"
python3 "$LOADGEN" report --results "$WORK/results.json" >"$WORK/report.md"
cp "$WORK/report.md" "$RESULTS"
cat "$WORK/report.md"
log "tables saved to $RESULTS (total $(calc "$(now) - $T_BEGIN" 0) s)"
OK=1
