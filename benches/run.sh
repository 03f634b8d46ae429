#!/usr/bin/env bash
# benches/run.sh — fadelist against rbldnsd, side by side, with dnsperf.
#
#   benches/run.sh            # 1M-IP data set, 3 alternating rounds x 15 s per server
#   benches/run.sh --quick    # 100k-IP data set, 1 round x 5 s per server
#
# Installs dnsperf, rbldnsd and dig from Debian if missing, builds fadelist
# (release), generates the deterministic data set with gen-data.py, checks that
# both servers give the same answers, then times them alternately (server on
# CPU 1, dnsperf on CPU 0) and prints one markdown table of medians and
# fadelist/rbldnsd ratios. The table also goes to benches/results/latest.md
# (latest-quick.md for --quick). See benches/README.md for how to read it.
#
# Environment overrides:
#   FADELIST_BENCH_GEN      path to gen-data.py (default: <repo>/../shared/bench/gen-data.py)
#   FADELIST_BENCH_DATA     data folder (default: ${TMPDIR:-/tmp}/fadelist-bench-data/<mode>-<hash>;
#                           reused when gen-data.py and its arguments are unchanged)
#   FADELIST_BENCH_BIN      use this fadelist binary instead of building one
#   FADELIST_BENCH_ROUNDS   number of rounds          (default 3, --quick 1)
#   FADELIST_BENCH_SECS     dnsperf seconds per run   (default 15, --quick 5)
#   FADELIST_BENCH_RESULTS  where to write the table  (default benches/results/latest[-quick].md)
#   FADELIST_BENCH_LOAD_LIMIT  seconds a server may take to answer its first query (default 60)
#   FADELIST_BENCH_KEEP=1   keep the work folder (server and dnsperf logs) after a successful run
set -euo pipefail
shopt -s extglob

# ---------------------------------------------------------------- arguments
QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done
CMDLINE="benches/run.sh${*:+ $*}"
ENV_NOTE=$(env | grep -E '^FADELIST_BENCH_' | sort | tr '\n' ' ' || true)

if ((QUICK)); then
    MODE=quick; GEN_ARGS=(--ips 100000); ROUNDS=${FADELIST_BENCH_ROUNDS:-1}; SECS=${FADELIST_BENCH_SECS:-5}
else
    MODE=full; GEN_ARGS=(); ROUNDS=${FADELIST_BENCH_ROUNDS:-3}; SECS=${FADELIST_BENCH_SECS:-15}
fi
LOAD_LIMIT=${FADELIST_BENCH_LOAD_LIMIT:-60}  # seconds a server may take to answer its first query
SERVER_LIMIT=$((SECS + LOAD_LIMIT + 120))   # hard cap on each server process (timeout)
DNSPERF_LIMIT=$((SECS + 60))                # hard cap on each dnsperf run (timeout)
SERVERS=(rbldnsd fadelist)                  # timed in this order, alternating, every round
GUARD_NAMES=20                              # names compared before timing

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null || (cd "$SCRIPT_DIR/.." && pwd))
GEN=${FADELIST_BENCH_GEN:-$REPO/../shared/bench/gen-data.py}
RESULTS=${FADELIST_BENCH_RESULTS:-$REPO/benches/results/latest$( ((QUICK)) && echo -quick || true).md}

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-bench.XXXXXX")
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
find_rbldnsd() { command -v rbldnsd 2>/dev/null || { [[ -x /usr/sbin/rbldnsd ]] && echo /usr/sbin/rbldnsd; } || true; }

missing=()
command -v dnsperf >/dev/null || missing+=(dnsperf)
[[ -n $(find_rbldnsd) ]] || missing+=(rbldnsd)
command -v dig >/dev/null || missing+=(dnsutils)
command -v taskset >/dev/null || missing+=(util-linux)
if ((${#missing[@]})); then
    log "installing from Debian: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -q >&2
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
RBLDNSD=$(find_rbldnsd)
[[ -n $RBLDNSD ]] || die "rbldnsd not found after install"
command -v python3 >/dev/null || die "python3 is required (gen-data.py and the report)"

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
    PIN_SERVER=(taskset -c 1); PIN_CLIENT=(taskset -c 0); PINNING="server on CPU 1, dnsperf on CPU 0 (taskset)"
else
    PIN_SERVER=(); PIN_CLIENT=(); PINNING="NOT pinned (only $NCPU CPU)"
    log "warning: only $NCPU CPU, running unpinned"
fi

# ---------------------------------------------------------------- 2. data
[[ -f $GEN ]] || die "gen-data.py not found at $GEN (set FADELIST_BENCH_GEN)"
KEY=$( { sha256sum <"$GEN"; echo "${GEN_ARGS[*]}"; } | sha256sum | cut -c1-12)
DATA=${FADELIST_BENCH_DATA:-${TMPDIR:-/tmp}/fadelist-bench-data/$MODE-$KEY}
if [[ -f $DATA/.complete && $(cat "$DATA/.complete") == "$KEY" ]]; then
    log "reusing data in $DATA"
else
    log "generating data: python3 $GEN ${GEN_ARGS[*]} --outdir $DATA"
    rm -f "$DATA/.complete"
    mkdir -p "$DATA"
    python3 "$GEN" "${GEN_ARGS[@]}" --outdir "$DATA" >"$WORK/gen-data.log"
    echo "$KEY" >"$DATA/.complete"
fi
chmod a+rX "$DATA" "$DATA"/*     # rbldnsd started as root drops to user rbldns and must read it
QUERIES=$DATA/queries.txt
[[ -s $QUERIES && -s $DATA/ip4set.txt && -s $DATA/dnset.txt ]] || die "data set in $DATA is incomplete"
# A listed name the servers must answer once loaded: the first plain /32 after the test entry.
PROBE_IP=$(grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' <(grep -v '^127\.0\.0\.2$' "$DATA/ip4set.txt"))
PROBE=$(awk -F. '{print $4"."$3"."$2"."$1}' <<<"$PROBE_IP").iprbl.test

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
proc_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }   # VmRSS / VmHWM in kB
cpu_stat() { awk '$1=="cpu0"||$1=="cpu1"{b=$2+$3+$4+$7+$8; printf "%d %d ", b, b+$5+$6+$9}' /proc/stat; }
dig_q() { dig @127.0.0.1 -p "$1" +norec +tries=1 +time=1 "${@:2}" 2>/dev/null; }

# start_server NAME PORT LOG -> sets SPID (the server), TPID (its timeout wrapper), T_START, T_READY
start_server() {
    local name=$1 port=$2 slog=$3 tpid
    SPID= TPID=
    T_START=$(now)
    case $name in
        rbldnsd)
            timeout -k 5 "$SERVER_LIMIT" "${PIN_SERVER[@]}" "$RBLDNSD" -n -b "127.0.0.1/$port" -w "$DATA" \
                iprbl.test:ip4set:ip4set.txt urirbl.test:dnset:dnset.txt >"$slog" 2>&1 &
            ;;
        fadelist)
            timeout -k 5 "$SERVER_LIMIT" "${PIN_SERVER[@]}" "$FADELIST" serve \
                --dns-listen "127.0.0.1:$port" --http-listen 127.0.0.1:0 \
                --zone "iprbl.test:ip4set:$DATA/ip4set.txt" --zone "urirbl.test:dnset:$DATA/dnset.txt" \
                >"$slog" 2>&1 &
            ;;
    esac
    tpid=$!
    TPID=$tpid
    PIDS+=("$tpid")
    # The server is timeout's child once taskset has exec'd it.
    for _ in $(seq 500); do
        local c; c=$(cat "/proc/$tpid/task/$tpid/children" 2>/dev/null || true)
        c=${c%% *}
        # (comm is "taskset" until it has exec'd the server)
        if [[ -n $c && $(cat "/proc/$c/comm" 2>/dev/null || echo taskset) != @(taskset|timeout) ]]; then SPID=$c; break; fi
        kill -0 "$tpid" 2>/dev/null || break
        sleep 0.01
    done
    [[ -n $SPID ]] || { tail -20 "$slog" >&2; die "$name did not start"; }
    PIDS+=("$SPID")
    # Load time: until it answers A for a listed name.
    local deadline; deadline=$(calc "$T_START + $LOAD_LIMIT")
    while :; do
        if ! kill -0 "$SPID" 2>/dev/null; then
            tail -20 "$slog" >&2
            die "$name exited while loading the data (log above, full log $slog)"
        fi
        if [[ $(dig_q "$port" +short "$PROBE" A) == 127.* ]]; then break; fi
        (($(calc "$(now) > $deadline" 0))) && { tail -20 "$slog" >&2; die "$name did not answer $PROBE within ${LOAD_LIMIT}s"; }
        sleep 0.02
    done
    T_READY=$(now)
}

stop_server() {  # stop_server SPID TPID: SIGTERM the server, reap its timeout wrapper
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
    ! kill -0 "$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null || true
    wait "$2" 2>/dev/null || true
    forget "$1" "$2"
}

answer() {  # answer PORT NAME TYPE -> "STATUS rdata,rdata" (rdata sorted)
    local out status rr
    out=$(dig_q "$1" +tries=2 +time=2 +noall +comments +answer "$2" "$3") || true
    status=$(grep -o 'status: [A-Z]*' <<<"$out" | head -1 | cut -d' ' -f2)
    rr=$(awk -v t="$3" '$1 !~ /^;/ && $4 == t {$1=$2=$3=$4=""; sub(/^ +/, ""); print}' <<<"$out" | sort | paste -sd, -)
    echo "${status:-NO-ANSWER} ${rr}"
}

# ---------------------------------------------------------------- 3a. correctness guard
log "correctness guard: $GUARD_NAMES names from queries.txt against both servers"
declare -A GPORT GPID GTPID
for s in "${SERVERS[@]}"; do
    GPORT[$s]=$(free_port)
    start_server "$s" "${GPORT[$s]}" "$WORK/guard-$s.log"
    GPID[$s]=$SPID GTPID[$s]=$TPID
done
NQ=$(wc -l <"$QUERIES")
STRIDE=$((NQ / GUARD_NAMES))
mapfile -t NAMES < <(awk -v s="$STRIDE" -v n="$GUARD_NAMES" 'NR % s == 1 && c++ < n {print $1}' "$QUERIES")
mismatch=0; txt_diff=0; listed=0
for name in "${NAMES[@]}"; do
    a=$(answer "${GPORT[rbldnsd]}" "$name" A); b=$(answer "${GPORT[fadelist]}" "$name" A)
    [[ $a == NOERROR* ]] && listed=$((listed + 1))
    if [[ $a != "$b" ]]; then
        mismatch=$((mismatch + 1)); log "MISMATCH $name A: rbldnsd '$a'  fadelist '$b'"
    fi
    a=$(answer "${GPORT[rbldnsd]}" "$name" TXT); b=$(answer "${GPORT[fadelist]}" "$name" TXT)
    if [[ $a != "$b" ]]; then
        txt_diff=$((txt_diff + 1)); log "note: TXT differs for $name: rbldnsd '$a'  fadelist '$b'"
    fi
done
for s in "${SERVERS[@]}"; do stop_server "${GPID[$s]}" "${GTPID[$s]}"; done
((mismatch == 0)) || die "$mismatch of ${#NAMES[@]} names answer differently (status + A); not timing"
[[ $listed -gt 0 && $listed -lt ${#NAMES[@]} ]] || die "guard sample is all listed or all unlisted ($listed/${#NAMES[@]}); check the data"
GUARD_NOTE="${#NAMES[@]} names (${listed} listed): status + A identical; TXT differs for $txt_diff (not fatal)"
log "guard passed: $GUARD_NOTE"

# ---------------------------------------------------------------- 3b. timed rounds
TSV=$WORK/rounds.tsv
printf 'server\tround\tqps\tlost_pct\tlat_us\tcpu_s\trun_s\tcompleted\trss_load_kb\thwm_kb\tload_s\tcpu0_busy\tcpu1_other\tnoerror_pct\tresp_bytes\n' >"$TSV"
HZ=$(getconf CLK_TCK)
for ((r = 1; r <= ROUNDS; r++)); do
    for s in "${SERVERS[@]}"; do
        port=$(free_port)
        slog=$WORK/r$r-$s.log; dlog=$WORK/r$r-$s.dnsperf
        start_server "$s" "$port" "$slog"
        load_s=$(calc "$T_READY - $T_START")
        rss_load=$(proc_kb "$SPID" VmRSS)
        c0=$(cpu_ticks "$SPID"); st0=$(cpu_stat)
        "${PIN_CLIENT[@]}" timeout -k 5 "$DNSPERF_LIMIT" dnsperf -s 127.0.0.1 -p "$port" -d "$QUERIES" \
            -l "$SECS" -T 1 -c 4 -q 100 >"$dlog" 2>&1 &
        dpid=$!; PIDS+=("$dpid")
        wait "$dpid" || { cat "$dlog" >&2; die "dnsperf failed against $s"; }
        forget "$dpid"
        c1=$(cpu_ticks "$SPID") || { tail -20 "$slog" >&2; die "$s died during the run"; }
        st1=$(cpu_stat)
        hwm=$(proc_kb "$SPID" VmHWM)
        stop_server "$SPID" "$TPID"
        read -r qps lost lat run done_q noerr resp < <(awk '
            /Queries completed:/ {c=$3}
            /Queries lost:/ {l=$4; gsub(/[()%]/, "", l)}
            /Queries per second:/ {q=$4}
            /Average Latency/ {a=$4}
            /Run time/ {t=$4}
            /Average packet size:/ {r=$NF}
            /Response codes:/ {for (i=1;i<=NF;i++) if ($i=="NOERROR") {n=$(i+2); gsub(/[()%,]/, "", n)}}
            END {print q+0, l+0, a*1e6, t+0, c+0, n+0, r+0}' "$dlog")
        ((done_q > 0)) || { cat "$dlog" >&2; die "no query completed against $s"; }
        read -r b0 t0 b1 t1 <<<"$st0"; read -r B0 T0 B1 T1 <<<"$st1"
        cpu_s=$(calc "($c1 - $c0) / $HZ" 2)
        cpu0_busy=$(calc "100 * ($B0 - $b0) / ($T0 - $t0)" 1)
        cpu1_other=$(calc "100 * ($B1 - $b1 - ($c1 - $c0)) / ($T1 - $t1)" 1)
        printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$r" "$qps" "$lost" "$lat" \
            "$cpu_s" "$run" "$done_q" "$rss_load" "$hwm" "$load_s" "$cpu0_busy" "$cpu1_other" "$noerr" "$resp" >>"$TSV"
        log "round $r/$ROUNDS $s: $qps qps, lost $lost %, server cpu ${cpu_s}s, load ${load_s}s, rss ${rss_load} kB"
        sleep 1
    done
done

# ---------------------------------------------------------------- 4. report
RB_VER=$(dpkg-query -W -f='${Version}' rbldnsd 2>/dev/null || echo '?')
DP_VER=$(dnsperf -h 2>&1 | awk '/^Version/ {print $2; exit}'); DP_VER=${DP_VER:-$(dpkg-query -W -f='${Version}' dnsperf 2>/dev/null || echo '?')}
FL_VER=$("$FADELIST" --version 2>/dev/null || echo fadelist)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=$(GIT_OPTIONAL_LOCKS=0 git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | wc -l || echo 0)
export FL_BUILD TSV MODE ROUNDS SECS PINNING CMDLINE ENV_NOTE GUARD_NOTE RB_VER DP_VER FL_VER COMMIT DIRTY DATA NCPU
export GEN_ARGS_S="${GEN_ARGS[*]}"
export CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
export KERNEL=$(uname -sr) MEM_GIB=$(awk '/^MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)
export LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg) DATE=$(date -u +'%Y-%m-%d %H:%M UTC')
mkdir -p "$(dirname "$RESULTS")"
python3 - >"$WORK/report.md" <<'EOF'
import csv, json, os, statistics as st
E = os.environ
rows = list(csv.DictReader(open(E["TSV"]), delimiter="\t"))
for r in rows:
    for k in r:
        if k != "server":
            r[k] = float(r[k])
    r["cpu_pct"] = 100 * r["cpu_s"] / r["run_s"]
    r["qps_cpu"] = r["completed"] / r["cpu_s"] if r["cpu_s"] > 0 else float("nan")
    r["rss_load"] = r["rss_load_kb"] / 1024
    r["hwm"] = r["hwm_kb"] / 1024
servers = ["rbldnsd", "fadelist"]
by = {s: [r for r in rows if r["server"] == s] for s in servers}
med = lambda s, k: st.median(r[k] for r in by[s])
try:
    summ = json.load(open(os.path.join(E["DATA"], "summary.json")))
    data = "%s /32 + %s ranges in ip4set.txt, %s domains in dnset.txt, %s queries" % (
        f'{summ["single_ips"]:,}', f'{summ["ranges"]:,}', f'{summ["domains"]:,}', f'{summ["queries"]:,}')
except Exception:
    data = "?"
M = [  # key, label, better, format
    ("qps", "QPS", "higher", "{:,.0f}"),
    ("lost_pct", "lost %", "lower", "{:.2f}"),
    ("lat_us", "average latency (µs)", "lower", "{:.0f}"),
    ("qps_cpu", "QPS per server CPU-second", "higher", "{:,.0f}"),
    ("cpu_pct", "server CPU (% of its core)", "—", "{:.0f}"),
    ("rss_load", "RSS after load, before queries (MiB)", "lower", "{:.1f}"),
    ("hwm", "peak RSS, VmHWM (MiB)", "lower", "{:.1f}"),
    ("load_s", "load time: start → first answer (s)", "lower", "{:.2f}"),
]
def ratio(a, b):
    if b == 0:
        return "= (both 0)" if a == 0 else "∞"
    return "**{:.2f}**".format(a / b)
n = E["ROUNDS"]
out = []
out.append("## fadelist vs rbldnsd (dnsperf, side by side)\n")
out.append("| metric (median of %s round%s) | better | rbldnsd | fadelist | fadelist / rbldnsd |" % (n, "" if n == "1" else "s"))
out.append("|---|---|--:|--:|--:|")
for k, label, better, f in M:
    a, b = med("fadelist", k), med("rbldnsd", k)
    out.append("| %s | %s | %s | %s | %s |" % (label, better, f.format(b), f.format(a), ratio(a, b) if better != "—" else "%.2f" % (a / b)))
out.append("")
out.append("- command: `%s%s` (%s mode: %s round%s × %s s per server, servers alternating)" % (
    (E["ENV_NOTE"].strip() + " ") if E["ENV_NOTE"].strip() else "", E["CMDLINE"], E["MODE"], n, "" if n == "1" else "s", E["SECS"]))
out.append("- date: %s; fadelist %s (%s at commit %s%s); rbldnsd %s; dnsperf %s" % (
    E["DATE"], E["FL_VER"].replace("fadelist ", ""), E["FL_BUILD"], E["COMMIT"],
    ", %s uncommitted file(s)" % E["DIRTY"] if E["DIRTY"] not in ("", "0") else "", E["RB_VER"], E["DP_VER"]))
out.append("- machine: %s CPU (`nproc`), %s, %s GiB RAM, %s; load average at the end %s" % (
    E["NCPU"], E["CPU_MODEL"], E["MEM_GIB"], E["KERNEL"], E["LOADAVG"]))
out.append("- data: `gen-data.py %s` (seed 5782): %s; zones iprbl.test:ip4set, urirbl.test:dnset" % (
    E["GEN_ARGS_S"] or "(defaults)", data))
out.append("- load: `dnsperf -s 127.0.0.1 -p PORT -d queries.txt -l %s -T 1 -c 4 -q 100`; %s" % (E["SECS"], E["PINNING"]))
out.append("- correctness guard: %s" % E["GUARD_NOTE"])
out.append("")
out.append("Per round (CPU0 busy = client core incl. anything else on it; CPU1 other = CPU 1 time not used by the server):")
out.append("")
out.append("| round | server | QPS | lost % | latency µs | server CPU s | server CPU % | QPS/CPU-s | RSS MiB | HWM MiB | load s | CPU0 busy % | CPU1 other % | NOERROR % | avg reply bytes |")
out.append("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for r in rows:
    out.append("| %d | %s | %s | %.2f | %.0f | %.2f | %.0f | %s | %.1f | %.1f | %.2f | %.0f | %.0f | %.2f | %.0f |" % (
        r["round"], r["server"], f'{r["qps"]:,.0f}', r["lost_pct"], r["lat_us"], r["cpu_s"], r["cpu_pct"],
        f'{r["qps_cpu"]:,.0f}', r["rss_load"], r["hwm"], r["load_s"], r["cpu0_busy"], r["cpu1_other"], r["noerror_pct"], r["resp_bytes"]))
busy = max(r["cpu1_other"] for r in rows)
if busy > 20:
    out.append("")
    out.append("**NOISY**: other processes took up to %.0f%% of CPU 1 (the server's core) during a run; raw QPS and latency are unreliable, QPS per server CPU-second less so." % busy)
nd = abs(med("fadelist", "noerror_pct") - med("rbldnsd", "noerror_pct"))
if nd > 0.5:
    out.append("")
    out.append("**WARNING**: the share of NOERROR answers differs by %.2f points between the servers: they do not answer the query file alike." % nd)
print("\n".join(out))
EOF
cp "$WORK/report.md" "$RESULTS"
cat "$WORK/report.md"
log "table saved to $RESULTS"
OK=1
