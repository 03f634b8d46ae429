# benches/lib.sh — shell helpers shared by run.sh, ingest.sh, write-path.sh, load.sh and xfr.sh. Sourced, never run.
#
# The sourcing script sets BENCH_TAG (the prefix of its log lines) and `set -euo pipefail`
# first, then sources this file, which defines functions only and these variables:
#   SCRIPT_DIR REPO GEN HELPERS LOADGEN   where things are
#   PIDS OK                               background processes to stop on exit; 1 = success
#   LOADGEN_ARGS TRUSTED                  generator options (before the subcommand); reporters' networks
# and, once called: WORK (bench_work), FADELIST FL_BUILD (build_fadelist), PIN_SERVER PIN_CLIENT
# CLIENT_CPU PINNING NCPU (bench_pinning), DATA QUERIES PROBE_IP PROBE (bench_data).
# shellcheck shell=bash disable=SC2034

shopt -s extglob

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null || (cd "$SCRIPT_DIR/.." && pwd))
GEN=${FADELIST_BENCH_GEN:-$REPO/../shared/bench/gen-data.py}
HELPERS=$SCRIPT_DIR/bench_helpers.py
LOADGEN=$SCRIPT_DIR/ingest_load.py
LOADGEN_ARGS=()                                                    # e.g. (--templates html --min-kb 24 --max-kb 24)
TRUSTED=(--trusted 81.2.69.160/27 --trusted 2a02:1810:4d02::/48)   # the fixtures' reporter networks
SERVER_LIMIT=${SERVER_LIMIT:-900}                                  # hard cap on each server process (timeout)
LOAD_LIMIT=${LOAD_LIMIT:-60}                                       # seconds a server may take to answer

log() { printf '[%s] %s\n' "${BENCH_TAG:-bench}" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "${BENCH_TAG:-bench}" "$*" >&2; exit 1; }
bench_help() { sed -n '2,/^set -euo/p' "$1" | sed '$d; s/^# \{0,1\}//'; }   # bench_help SCRIPT: its header

# bench_args ENV_REGEX ARGS...: the command line of a bench script: --quick sets QUICK=1, -h/--help
# prints the script's header comment; CMDLINE (as typed), ENV_NOTE (the FADELIST_<ENV_REGEX>_ variables set)
bench_args() {
    local re=$1 arg name
    name=$(basename "$0")
    shift
    QUICK=0
    for arg; do
        case $arg in
            --quick) QUICK=1 ;;
            -h | --help) bench_help "$0"; exit 0 ;;
            *) echo "$name: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
        esac
    done
    CMDLINE="benches/$name${*:+ $*}"
    ENV_NOTE=$(env | grep -E "^FADELIST_($re)_" | sort | tr '\n' ' ' || true)
}

# ---------------------------------------------------------------- work folder, processes, cleanup
PIDS=()     # every background process the script started and has not reaped yet
OK=0
forget() {  # forget PID...: drop reaped processes from PIDS (so a recycled PID is never killed)
    local p keep=()
    for p in "${PIDS[@]}"; do [[ " $* " == *" $p "* ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
# The script may define bench_on_exit (called with OK before the work folder goes) for extra cleanup.
bench_cleanup() {
    local rc=$? p alive
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 30); do
        alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    if declare -F bench_on_exit >/dev/null; then bench_on_exit "$OK" || true; fi
    if ((OK)) && [[ ${FADELIST_BENCH_KEEP:-0} != 1 ]]; then
        rm -rf "$WORK"
    else
        log "logs kept in $WORK"
    fi
    exit "$rc"
}
bench_work() {  # bench_work PREFIX: WORK = a new folder under ${TMPDIR:-/tmp}; cleanup on exit/interrupt
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# ---------------------------------------------------------------- tools, build, pinning, data
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root to run: $*"; fi; }
has_cmd() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; }
cmd_path() { command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; } || true; }
need_tools() {  # need_tools CMD:DEBIAN_PACKAGE...: apt-get install the packages of the missing commands
    local t missing=() policy= rc=0
    for t; do has_cmd "${t%%:*}" || missing+=("${t#*:}"); done
    ((${#missing[@]})) || return 0
    log "installing from Debian: ${missing[*]}"
    # As .ci/run: no package's service is started by the install (NSD would take port 53); the
    # benchmarks start their own instances on free ports.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        policy=/usr/sbin/policy-rc.d
        as_root sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d' || policy=
    fi
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -q >&2 || rc=$?
    ((rc)) || as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || rc=$?
    [[ -z $policy ]] || as_root rm -f "$policy"
    ((rc == 0)) || die "apt-get install ${missing[*]} failed (exit $rc)"
    for t; do has_cmd "${t%%:*}" || die "${t%%:*} not found after installing ${t#*:}"; done
}

build_fadelist() {  # FADELIST = $FADELIST_BENCH_BIN, or a release build of this checkout; FL_BUILD says which
    if [[ -n ${FADELIST_BENCH_BIN:-} ]]; then
        FADELIST=$FADELIST_BENCH_BIN
        FL_BUILD="binary $FADELIST_BENCH_BIN, tree"
        log "using fadelist binary $FADELIST (not building)"
    else
        log "building fadelist (cargo build --release -p fadelist)"
        (cd "$REPO" && timeout 1800 cargo build --release -p fadelist >&2) \
            || die "cargo build --release -p fadelist failed (work in progress in crates/? retry in a few minutes)"
        FADELIST=${CARGO_TARGET_DIR:-$REPO/target}/release/fadelist
        FL_BUILD="release build"
    fi
    [[ -x $FADELIST ]] || die "no fadelist binary at $FADELIST"
}

bench_pinning() {  # servers on CPU 1, every client on CPU 0 (when there are two CPUs)
    NCPU=$(nproc)
    if ((NCPU >= 2)); then
        PIN_SERVER=(taskset -c 1); PIN_CLIENT=(taskset -c 0); CLIENT_CPU=0
        PINNING="server on CPU 1; dnsperf and every load generator on CPU 0 (taskset)"
    else
        PIN_SERVER=(); PIN_CLIENT=(); CLIENT_CPU=
        PINNING="NOT pinned (only $NCPU CPU)"
        log "warning: only $NCPU CPU, running unpinned"
    fi
}

bench_data() {  # bench_data MODE GEN-ARGS...: the gen-data.py data set, cached; DATA QUERIES PROBE_IP PROBE
    local mode=$1 key
    shift
    [[ -f $GEN ]] || die "gen-data.py not found at $GEN (set FADELIST_BENCH_GEN)"
    key=$( { sha256sum <"$GEN"; echo "$*"; } | sha256sum | cut -c1-12)
    DATA=${FADELIST_BENCH_DATA:-${TMPDIR:-/tmp}/fadelist-bench-data/$mode-$key}
    if [[ -f $DATA/.complete && $(cat "$DATA/.complete") == "$key" ]]; then
        log "reusing data in $DATA"
    else
        log "generating data: python3 $GEN $* --outdir $DATA"
        rm -f "$DATA/.complete"
        mkdir -p "$DATA"
        timeout 900 python3 "$GEN" "$@" --outdir "$DATA" >"$WORK/gen-data.log" || die "gen-data.py failed (log $WORK/gen-data.log)"
        echo "$key" >"$DATA/.complete"
    fi
    chmod a+rX "$DATA" "$DATA"/*     # rbldnsd started as root drops to user rbldns and must read it
    QUERIES=$DATA/queries.txt
    [[ -s $QUERIES && -s $DATA/ip4set.txt && -s $DATA/dnset.txt ]] || die "data set in $DATA is incomplete"
    # A listed name every server must answer once loaded: the first plain /32 after the test entry.
    PROBE_IP=$(grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' <(grep -v '^127\.0\.0\.2$' "$DATA/ip4set.txt"))
    PROBE=$(rev_v4 "$PROBE_IP").iprbl.test
}

# ---------------------------------------------------------------- small helpers
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
two_ports() {  # DNS_PORT and HTTP_PORT: two different free ports
    DNS_PORT=$(free_port); HTTP_PORT=$(free_port)
    while [[ $DNS_PORT == "$HTTP_PORT" ]]; do HTTP_PORT=$(free_port); done
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", ($1) }"; }   # calc EXPR [DECIMALS]
rev_v4() { awk -F. '{print $4"."$3"."$2"."$1}' <<<"$1"; }   # 192.0.2.1 -> 1.2.0.192
cpu_ticks() {  # utime+stime of a process (all its threads), in clock ticks
    local s; s=$(<"/proc/$1/stat") || return 1
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo $((${12} + ${13}))
}
proc_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }   # VmRSS / VmHWM in kB
dig_q() { dig @127.0.0.1 -p "$1" +norec +tries=1 +time=1 "${@:2}" 2>/dev/null; }
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }   # something accepts on 127.0.0.1:PORT
jf() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r[sys.argv[2]] if not isinstance(r[sys.argv[2]], float) else "%.2f" % r[sys.argv[2]])' "$1" "$2"; }
json_merge() { python3 "$HELPERS" merge "$@"; }   # json_merge FILE|- KEY=VALUE...: the object plus the fields
loadgen() {  # loadgen LIMIT_S SUBCOMMAND ARGS...: the report generator, pinned to CPU 0, under timeout
    local limit=$1; shift
    "${PIN_CLIENT[@]}" timeout -k 5 "$limit" python3 "$LOADGEN" --mail-dir "$REPO/tests/data/mail" "${LOADGEN_ARGS[@]}" "$@"
}

# ---------------------------------------------------------------- servers
# spawn LOG READY PORT PROBE CMD...: start a server (pinned, under timeout) and wait until it answers.
# READY: "listed" = A 127.x for PROBE on DNS PORT; "any" = any DNS answer (null responder);
# "http:HPORT" = as "listed", and something accepts on HPORT. Sets SPID (the server), TPID (its
# timeout wrapper), SPORT (its DNS port), T_START, T_READY, T_LOAD (seconds from start to ready).
spawn() {
    local slog=$1 ready=$2 port=$3 probe=$4 tpid c deadline
    shift 4
    SPID= TPID= SPORT=$port
    T_START=$(now)
    timeout -k 5 "$SERVER_LIMIT" "${PIN_SERVER[@]}" "$@" >"$slog" 2>&1 &
    tpid=$!
    TPID=$tpid
    PIDS+=("$tpid")
    # The server is timeout's child once taskset has exec'd it (comm is "taskset" until then).
    for _ in $(seq 500); do
        c=$(cat "/proc/$tpid/task/$tpid/children" 2>/dev/null || true)
        c=${c%% *}
        if [[ -n $c && $(cat "/proc/$c/comm" 2>/dev/null || echo taskset) != @(taskset|timeout) ]]; then SPID=$c; break; fi
        kill -0 "$tpid" 2>/dev/null || break
        sleep 0.01
    done
    [[ -n $SPID ]] || { tail -20 "$slog" >&2; die "the server did not start (log $slog; command: $*)"; }
    PIDS+=("$SPID")
    deadline=$(calc "$T_START + $LOAD_LIMIT")
    while :; do
        if ! kill -0 "$SPID" 2>/dev/null; then
            tail -20 "$slog" >&2
            die "the server exited while starting (log above, full log $slog; command: $*)"
        fi
        case $ready in
            listed) [[ $(dig_q "$port" +short "$probe" A) == 127.* ]] && break ;;
            any) dig_q "$port" "$probe" A | grep -q 'status:' && break ;;
            http:*) tcp_open "${ready#http:}" && [[ $(dig_q "$port" +short "$probe" A) == 127.* ]] && break ;;
            *) die "spawn: unknown READY '$ready'" ;;
        esac
        (($(calc "$(now) > $deadline" 0))) && { tail -20 "$slog" >&2; die "the server did not answer $probe within ${LOAD_LIMIT}s (log $slog)"; }
        sleep 0.02
    done
    T_READY=$(now)
    T_LOAD=$(calc "$T_READY - $T_START" 2)
}

stop_server() {  # stop_server SPID TPID: SIGTERM the server, reap its timeout wrapper
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
    ! kill -0 "$1" 2>/dev/null || { log "server $1 did not stop within 10 s of SIGTERM; killing it"; kill -KILL "$1" 2>/dev/null || true; }
    wait "$2" 2>/dev/null || true
    forget "$1" "$2"
}

# new_db PATH [FADELIST]: a fresh database with two reporters (A: a user, B: a spam trap); sets TOKEN_A, TOKEN_B
new_db() {
    local db=$1 bin=${2:-$FADELIST}
    rm -f "$db" "$db-wal" "$db-shm"
    TOKEN_A=$(timeout 30 "$bin" reporter --db "$db" add bench-a "${TRUSTED[@]}" | awk '/^token:/ {print $2}')
    TOKEN_B=$(timeout 30 "$bin" reporter --db "$db" add bench-trap --kind trap "${TRUSTED[@]}" | awk '/^token:/ {print $2}')
    [[ -n $TOKEN_A && -n $TOKEN_B ]] || die "could not add the reporters to $db"
}

# write_config FILE DNS_PORT HTTP_PORT WITH_FILES(0/1) [INGEST_LINE...]: the report-fed zones iprbl.test
# (feed ip), niprbl.test (bulk-ip) and urirbl.test (domain); with WITH_FILES=1 also the gen-data.py
# files as datasets (ip4set.txt in iprbl.test, dnset.txt in urirbl.test). INGEST_LINEs go to [ingest].
write_config() {
    local ds_ip="" ds_dom="" extra=""
    if (($4)); then
        ds_ip=$'\n[[zone.dataset]]\ntype = "ip4set"\nfiles = ["'"$DATA/ip4set.txt"$'"]\n'
        ds_dom=$'\n[[zone.dataset]]\ntype = "dnset"\nfiles = ["'"$DATA/dnset.txt"$'"]\n'
    fi
    (($# > 4)) && extra=$(printf '%s\n' "${@:5}")
    cat >"$1" <<EOF
# written by benches/$(basename "$0")
[server]
dns_listen = ["127.0.0.1:$2"]
http_listen = "127.0.0.1:$3"

[ingest]
rate_per_minute = 1000000
$extra

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

# ---------------------------------------------------------------- measurements
# perf OUT LOG LIMIT DNSPERF-ARGS...: one measured dnsperf run against $SPID on $SPORT (JSON in OUT)
perf() {
    local out=$1 dlog=$2 limit=$3 p
    shift 3
    timeout -k 5 $((limit + 30)) python3 "$HELPERS" dnsperf --server-pid "$SPID" --log "$dlog" --limit "$limit" \
        --pin "$CLIENT_CPU" --port "$SPORT" -- "$@" >"$out" &
    p=$!; PIDS+=("$p")
    wait "$p" || { tail -20 "$dlog" >&2 2>/dev/null || true; die "dnsperf run failed (log $dlog)"; }
    forget "$p"
}

# dns_vs_ingest NAME START_INDEX OUT_JSONL [KEY=VALUE...]: on the running server ($SPID, DNS $SPORT,
# HTTP $HTTP_PORT, reporters $TOKEN_A/$TOKEN_B), dnsperf alone ("idle"), then dnsperf while the paced
# generator posts $RATE POSTs/s from 1 s before dnsperf to 1 s after ("ingesting"): the same dnsperf
# command as run.sh's main rounds ($SECS s, queries.txt, -T 1 -c 4 -q 100). Appends one JSON object
# per mode to OUT_JSONL: dnsperf's figures (bench_helpers.py dnsperf), mode=, gen= (the generator's
# JSON or null) and the KEY=VALUEs. Uses $RATE, $GEN_WORKERS, $PROBE_EVERY (0: no report-to-DNS
# probes), $PROBE_LIMIT, $SECS.
dns_vs_ingest() {
    local name=$1 start=$2 out=$3 mode gpid gen glog
    shift 3
    for mode in idle ingesting; do
        gpid=; gen=null; glog=$WORK/$name-gen.json
        if [[ $mode == ingesting ]]; then
            loadgen $((SECS + 120)) paced --port "$HTTP_PORT" --token-a "$TOKEN_A" --token-b "$TOKEN_B" \
                --server-pid "$SPID" --dns-port "$SPORT" --rate "$RATE" --secs $((SECS + 2)) --workers "$GEN_WORKERS" \
                --probe-every "${PROBE_EVERY:-0}" --limit "${PROBE_LIMIT:-5}" --start "$start" >"$glog" 2>"$WORK/$name-gen.err" &
            gpid=$!; PIDS+=("$gpid")
            sleep 1
        fi
        perf "$WORK/$name-$mode.json" "$WORK/$name-$mode.dnsperf" $((SECS + 60)) \
            -s 127.0.0.1 -p "$SPORT" -d "$QUERIES" -l "$SECS" -T 1 -c 4 -q 100
        if [[ -n $gpid ]]; then
            wait "$gpid" || { tail -20 "$WORK/$name-gen.err" >&2; die "report generator failed ($name)"; }
            forget "$gpid"
            gen=$(cat "$glog")
        fi
        json_merge "$WORK/$name-$mode.json" "mode=$mode" "gen=$gen" "$@" >>"$out"
        log "$name $mode: $(jf "$WORK/$name-$mode.json" qps) qps, $(jf "$WORK/$name-$mode.json" qps_cpu) per server CPU-s$([[ -n $gpid ]] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); p=r["probes"]["send_p50_ms"]; print(", reports %.1f/s accepted, %d errors%s" % (r["accepted_per_s"], r["errors"], "" if p is None else ", probes p50 %.2f ms" % p))' "$glog")"
        sleep 1
    done
}

# publish_report WRITER ARGS...: the markdown from `python3 WRITER ARGS...` to $RESULTS and stdout; the run
# is a success (OK=1: the work folder goes unless FADELIST_BENCH_KEEP=1). A script that defines
# bench_amend_report gets it called with the report's path first (to add rows and sections).
publish_report() {
    mkdir -p "$(dirname "$RESULTS")"
    timeout 60 python3 "$@" >"$WORK/report.md" || die "the report failed (data in $WORK)"
    if declare -F bench_amend_report >/dev/null; then
        bench_amend_report "$WORK/report.md" || die "amending the report failed (data in $WORK)"
    fi
    cp "$WORK/report.md" "$RESULTS"
    cat "$WORK/report.md"
    log "report saved to $RESULTS (total $(($(date +%s) - ${T_BEGIN%.*})) s)"
    OK=1
}

export_machine_notes() {  # exports CPU_MODEL KERNEL MEM_GIB LOADAVG DATE DP_VER for the report writers
    CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    KERNEL=$(uname -sr); MEM_GIB=$(awk '/^MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)
    LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg); DATE=$(date -u +'%Y-%m-%d %H:%M UTC')
    DP_VER=$(dnsperf -h 2>&1 | awk '/^Version/ {print $2; exit}' || true)
    DP_VER=${DP_VER:-$(dpkg-query -W -f='${Version}' dnsperf 2>/dev/null || echo '?')}
    export CPU_MODEL KERNEL MEM_GIB LOADAVG DATE DP_VER
}
