#!/usr/bin/env bash
# benches/run.sh — fadelist against rbldnsd, side by side, with dnsperf: every target of the
# "faster and leaner than rbldnsd" issue in one command and one table.
#
#   benches/run.sh            # 1M-IP data set, 3 alternating rounds x 15 s per variant (~9-11 min)
#   benches/run.sh --quick    # 100k-IP data set, 1 round x 5 s per variant, short steps (~2-3 min)
#
# Installs dnsperf, rbldnsd and dig from Debian if missing, builds fadelist (release),
# generates the deterministic data set with gen-data.py, checks that the servers give the
# same answers (correctness guard), then, with every server pinned to CPU 1 and every client
# to CPU 0:
#   1. main rounds, alternating: rbldnsd, fadelist (fast UDP and TCP paths), fadelist
#      --udp-mode hickory --tcp-mode hickory, fadelist --udp-mode null (fixed reply, no
#      lookup), fadelist --udp-batch-wait 0 (no wait after small batches): dnsperf UDP; QPS, QPS per server CPU-second, RSS, load time; plus dnsperf
#      -m tcp (pipelined) against fadelist and against its hickory-server TCP;
#   2. peak UDP QPS with <= 0.1 % loss: stepped dnsperf -Q search, rbldnsd and fadelist;
#   3. reload under load: the ip4set file rewritten several times while dnsperf saturates
#      fadelist and a checker asks names with known answers (lost and wrong answers);
#   4. fadelist's UDP throughput while reports are POSTed at 200/s vs idle;
#   5. the cost of response-rate limiting: a main-round variant fadelist-rrl with [rrl] on at a
#      rate nothing in the query file reaches (every answer accounted, none limited), and
#   6. the worst reply/query size ratio over sampled names x query types (UDP, with and without
#      EDNS), ANY apart, for rbldnsd and fadelist (minimal ANY: at most 2x);
#   7. the cost of metrics: a main-round variant fadelist-metrics with [metrics] listen set (every
#      query counted, the worker's counters published once per batch), against fadelist (off);
# and prints one markdown table (metric | rbldnsd | fadelist | ratio | target | met?) with
# detail tables, also saved to benches/results/latest.md (latest-quick.md for --quick).
# See benches/README.md for every method. Helpers: benches/bench_helpers.py (dnsperf runs,
# peak search, reload checker, report), benches/ingest_load.py (report generator).
# A benchmark, never part of the test suite.
#
# Environment overrides:
#   FADELIST_BENCH_GEN      path to gen-data.py (default: <repo>/../shared/bench/gen-data.py)
#   FADELIST_BENCH_DATA     data folder (default: ${TMPDIR:-/tmp}/fadelist-bench-data/<mode>-<hash>;
#                           reused when gen-data.py and its arguments are unchanged)
#   FADELIST_BENCH_BIN      use this fadelist binary instead of building one
#   FADELIST_BENCH_ROUNDS   number of main rounds (and idle/ingesting rounds) (default 3, --quick 1)
#   FADELIST_BENCH_SECS     dnsperf seconds per main run                     (default 15, --quick 5)
#   FADELIST_BENCH_SKIP     parts to leave out, space-separated: hickory null nowait rrl metrics tcp peak reload ingest amp
#   FADELIST_BENCH_PEAK_Q   queries in flight allowed in the peak search (dnsperf -q; default 1000)
#   FADELIST_BENCH_RESULTS  where to write the table  (default benches/results/latest[-quick].md)
#   FADELIST_BENCH_LOAD_LIMIT  seconds a server may take to answer its first query (default 60)
#   FADELIST_BENCH_KEEP=1   keep the work folder (server and dnsperf logs, JSON) after a successful run
set -euo pipefail
BENCH_TAG=bench
# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- arguments
bench_args "BENCH" "$@"

if ((QUICK)); then
    MODE=quick; GEN_ARGS=(--ips 100000); ROUNDS=${FADELIST_BENCH_ROUNDS:-1}; SECS=${FADELIST_BENCH_SECS:-5}
    PEAK_SECS=2; PEAK_STEPS=6; RELOAD_SECS=10; RELOAD_GAP=2
else
    MODE=full; GEN_ARGS=(); ROUNDS=${FADELIST_BENCH_ROUNDS:-3}; SECS=${FADELIST_BENCH_SECS:-15}
    PEAK_SECS=5; PEAK_STEPS=7; RELOAD_SECS=15; RELOAD_GAP=2.5
fi
SKIP=" ${FADELIST_BENCH_SKIP:-} "
want() { [[ $SKIP != *" $1 "* ]]; }
LOAD_LIMIT=${FADELIST_BENCH_LOAD_LIMIT:-60}  # seconds a server may take to answer its first query
SERVER_LIMIT=$((4 * SECS + LOAD_LIMIT + 300)) # hard cap on each server process (timeout)
DNSPERF_LIMIT=$((SECS + 60))                 # hard cap on each dnsperf run
PEAK_Q=${FADELIST_BENCH_PEAK_Q:-1000}        # queries in flight allowed in the peak search (-q)
CHECK_TIMEOUT=1                              # seconds the reload checker waits for an answer
RATE=200                                     # report POSTs per second while ingesting
GEN_WORKERS=32                               # keep-alive connections of the report generator
VARIANTS=(rbldnsd fadelist)                  # main rounds, in this order every round
want hickory && VARIANTS+=(fadelist-hickory)
want null && VARIANTS+=(fadelist-null)
want nowait && VARIANTS+=(fadelist-nowait)
want rrl && VARIANTS+=(fadelist-rrl)
want metrics && VARIANTS+=(fadelist-metrics)
GUARDED=(rbldnsd fadelist)                   # compared by the correctness guard
want hickory && GUARDED+=(fadelist-hickory)
GUARD_NAMES=20                               # names compared before timing

RESULTS=${FADELIST_BENCH_RESULTS:-$REPO/benches/results/latest$( ((QUICK)) && echo -quick || true).md}

# ---------------------------------------------------------------- cleanup
bench_work fadelist-bench
JL=$WORK/results.jsonl   # one JSON object per measurement; the report is built from it
: >"$JL"
T_BEGIN=$(date +%s)

# ---------------------------------------------------------------- 1. tools and build
need_tools dnsperf:dnsperf rbldnsd:rbldnsd dig:dnsutils taskset:util-linux
RBLDNSD=$(cmd_path rbldnsd)
command -v python3 >/dev/null || die "python3 is required (gen-data.py, the helpers and the report)"
[[ -f $HELPERS ]] || die "helper script not found at $HELPERS"
build_fadelist
# The flags this script depends on; a clear message beats a server that exits at start.
FL_HELP=$(timeout 10 "$FADELIST" serve --help 2>&1 || true)
for flag in --udp-mode --tcp-mode --udp-batch-wait --udp-workers --db --zone --dns-listen --http-listen; do
    [[ $FL_HELP == *"$flag"* ]] || die "this fadelist has no 'serve $flag' (needed by run.sh)"
done
for m in hickory null; do
    if want "$m" && ! grep -qE "^ *- $m:|\[possible values:.*\b$m\b" <<<"$FL_HELP"; then
        die "'fadelist serve --udp-mode $m' is not offered by this binary (set FADELIST_BENCH_SKIP=\"$m\" to run without it)"
    fi
done

bench_pinning

# ---------------------------------------------------------------- 2. data
bench_data "$MODE" "${GEN_ARGS[@]}"

# RRL on, at a rate no account of the query file reaches (NXDOMAINs are one account per zone, and
# the closed loop answers a few 100k/s): the bookkeeping of every answer, nothing limited. Any
# limiting would be logged within a second (log_interval) and is counted in the report.
RRL_CONFIG=$WORK/rrl.toml
printf '%s\n' "# written by benches/run.sh: response-rate limiting on, nothing limited" "[rrl]" \
    "responses_per_second = 10000000" 'log_interval = "1s"' >"$RRL_CONFIG"
# Metrics on (nobody scrapes during the run: this is the counting's cost on the query path).
METRICS_CONFIG=$WORK/metrics.toml
printf '%s\n' "# written by benches/run.sh: metrics on" "[metrics]" 'listen = "127.0.0.1:0"' >"$METRICS_CONFIG"

# ---------------------------------------------------------------- helpers
emit() { json_merge "$@" >>"$JL"; }   # emit JSONFILE|- KEY=VALUE...: append the object plus the fields to $JL

# start_server VARIANT PORT LOG [IP4SET_FILE]  (rbldnsd: IP4SET_FILE's folder must hold ip4set.txt and dnset.txt)
start_server() {
    local v=$1 port=$2 slog=$3 ip4=${4:-$DATA/ip4set.txt} mode
    case $v in
        rbldnsd)  # with a file of its own (reload test): its folder, checked every second (-c 1)
            if [[ -n ${4:-} ]]; then
                spawn "$slog" listed "$port" "$PROBE" "$RBLDNSD" -n -c 1 -b "127.0.0.1/$port" -w "$(dirname "$ip4")" \
                    iprbl.test:ip4set:ip4set.txt urirbl.test:dnset:dnset.txt
            else
                spawn "$slog" listed "$port" "$PROBE" "$RBLDNSD" -n -b "127.0.0.1/$port" -w "$DATA" \
                    iprbl.test:ip4set:ip4set.txt urirbl.test:dnset:dnset.txt
            fi ;;
        fadelist | fadelist-hickory | fadelist-null | fadelist-nowait | fadelist-rrl | fadelist-metrics)
            mode=${v#fadelist}; mode=${mode#-}; mode=${mode:-fast}
            wait=()
            if [[ $mode == nowait ]]; then mode=fast; wait=(--udp-batch-wait 0); fi
            if [[ $mode == rrl ]]; then mode=fast; wait=(--config "$RRL_CONFIG"); fi
            if [[ $mode == metrics ]]; then mode=fast; wait=(--config "$METRICS_CONFIG"); fi
            spawn "$slog" "$([[ $mode == null ]] && echo any || echo listed)" "$port" "$PROBE" \
                "$FADELIST" serve --db "$slog.sqlite" --dns-listen "127.0.0.1:$port" --http-listen 127.0.0.1:0 \
                --zone "iprbl.test:ip4set:$ip4" --zone "urirbl.test:dnset:$DATA/dnset.txt" \
                --udp-mode "$mode" --tcp-mode "$([[ $mode == hickory ]] && echo hickory || echo fast)" --udp-workers 1 "${wait[@]}" ;;
        *) die "unknown server variant $v" ;;
    esac
}

answer() {  # answer PORT NAME TYPE -> "STATUS rdata,rdata" (rdata sorted)
    local out status rr
    out=$(dig_q "$1" +tries=2 +time=2 +noall +comments +answer "$2" "$3") || true
    status=$(grep -o 'status: [A-Z]*' <<<"$out" | head -1 | cut -d' ' -f2)
    rr=$(awk -v t="$3" '$1 !~ /^;/ && $4 == t {$1=$2=$3=$4=""; sub(/^ +/, ""); print}' <<<"$out" | sort | paste -sd, -)
    echo "${status:-NO-ANSWER} ${rr}"
}

# ---------------------------------------------------------------- 3a. correctness guard
log "correctness guard: $GUARD_NAMES names from queries.txt against ${GUARDED[*]}"
declare -A GPORT GPID GTPID
for s in "${GUARDED[@]}"; do
    GPORT[$s]=$(free_port)
    start_server "$s" "${GPORT[$s]}" "$WORK/guard-$s.log"
    GPID[$s]=$SPID GTPID[$s]=$TPID
done
NQ=$(wc -l <"$QUERIES")
STRIDE=$((NQ / GUARD_NAMES))
mapfile -t NAMES < <(awk -v s="$STRIDE" -v n="$GUARD_NAMES" 'NR % s == 1 && c++ < n {print $1}' "$QUERIES")
mismatch=0; txt_diff=0; listed=0
for name in "${NAMES[@]}"; do
    a=$(answer "${GPORT[rbldnsd]}" "$name" A); ta=$(answer "${GPORT[rbldnsd]}" "$name" TXT)
    [[ $a == NOERROR* ]] && listed=$((listed + 1))
    for s in "${GUARDED[@]:1}"; do
        b=$(answer "${GPORT[$s]}" "$name" A)
        if [[ $a != "$b" ]]; then
            mismatch=$((mismatch + 1)); log "MISMATCH $name A: rbldnsd '$a'  $s '$b'"
        fi
        b=$(answer "${GPORT[$s]}" "$name" TXT)
        if [[ $ta != "$b" ]]; then
            txt_diff=$((txt_diff + 1)); log "note: TXT differs for $name: rbldnsd '$ta'  $s '$b'"
        fi
    done
done
for s in "${GUARDED[@]}"; do stop_server "${GPID[$s]}" "${GTPID[$s]}"; done
((mismatch == 0)) || die "$mismatch answers differ (status + A) between rbldnsd and ${GUARDED[*]:1}; not timing"
[[ $listed -gt 0 && $listed -lt ${#NAMES[@]} ]] || die "guard sample is all listed or all unlisted ($listed/${#NAMES[@]}); check the data"
GUARD_NOTE="${#NAMES[@]} names (${listed} listed), rbldnsd vs ${GUARDED[*]:1}: status + A identical; TXT differs for $txt_diff (not fatal)"
log "guard passed: $GUARD_NOTE"

# ---------------------------------------------------------------- 3b. main rounds
for ((r = 1; r <= ROUNDS; r++)); do
    for s in "${VARIANTS[@]}"; do
        port=$(free_port)
        slog=$WORK/r$r-$s.log
        start_server "$s" "$port" "$slog"
        [[ $s != fadelist-metrics ]] || grep -q 'metrics listening on' "$slog" || die "fadelist-metrics: metrics are not on (log $slog)"
        load_s=$(calc "$T_READY - $T_START")
        rss_load=$(proc_kb "$SPID" VmRSS)
        if [[ $s == fadelist-null && $r == 1 ]]; then
            # A null responder gives the same fixed reply whatever the name; a real server does not.
            a=$(answer "$port" "$PROBE" A); b=$(answer "$port" 1.0.0.127.iprbl.test A)
            if [[ $a == "$b" ]]; then is_null=true; note="listed and unlisted names get the same reply ('$a'): a null responder"
            else is_null=false; note="**--udp-mode null answers like a real server** (listed name: '$a', unlisted: '$b'); the null-responder row is not meaningful with this build"
                log "WARNING: fadelist --udp-mode null answers like a real server ('$a' / '$b'): not a null responder in this build"; fi
            emit - kind=null_check "is_null=$is_null" "note=$note"
        fi
        perf "$WORK/r$r-$s.json" "$WORK/r$r-$s.dnsperf" "$DNSPERF_LIMIT" \
            -s 127.0.0.1 -p "$port" -d "$QUERIES" -l "$SECS" -T 1 -c 4 -q 100
        rss_after=$(proc_kb "$SPID" VmRSS); hwm=$(proc_kb "$SPID" VmHWM)
        limited_logs=0
        if [[ $s == fadelist-rrl ]]; then
            sleep 1.2  # one log interval: a limited answer would be logged by now
            limited_logs=$(grep -c 'response-rate limiting in the last' "$slog" || true)
        fi
        emit "$WORK/r$r-$s.json" kind=run "label=$s" "round=$r" "load_s=$load_s" "rss_load_kb=$rss_load" \
            "rss_after_kb=$rss_after" "hwm_kb=$hwm" "rrl_limited_logs=$limited_logs"
        log "round $r/$ROUNDS $s: $(jf "$WORK/r$r-$s.json" qps) qps, $(jf "$WORK/r$r-$s.json" qps_cpu) per CPU-s, lost $(jf "$WORK/r$r-$s.json" lost_pct) %, load ${load_s}s, rss ${rss_after} kB"
        if [[ $s == fadelist || $s == fadelist-hickory ]] && want tcp; then
            sleep 1
            perf "$WORK/r$r-$s-tcp.json" "$WORK/r$r-$s-tcp.dnsperf" "$DNSPERF_LIMIT" \
                -m tcp -s 127.0.0.1 -p "$port" -d "$QUERIES" -l "$SECS" -T 1 -c 8 -q 100
            emit "$WORK/r$r-$s-tcp.json" kind=run "label=$s-tcp" "round=$r"
            log "round $r/$ROUNDS $s TCP: $(jf "$WORK/r$r-$s-tcp.json" qps) qps, $(jf "$WORK/r$r-$s-tcp.json" qps_cpu) per CPU-s, lost $(jf "$WORK/r$r-$s-tcp.json" lost_pct) %"
        fi
        stop_server "$SPID" "$TPID"
        sleep 1
    done
done

# ---------------------------------------------------------------- 3c. peak UDP QPS with <= 0.1 % loss
if want peak; then
    for s in rbldnsd fadelist; do
        # Start at 80 % of the closed-loop QPS this server reached in the main rounds.
        start=$(python3 -c 'import json,sys,statistics as st; print(int(0.8 * st.median(r["qps"] for r in map(json.loads, open(sys.argv[1])) if r.get("kind") == "run" and r["label"] == sys.argv[2])))' "$JL" "$s")
        port=$(free_port)
        start_server "$s" "$port" "$WORK/peak-$s.log"
        log "peak search $s: from $start/s, up to $PEAK_STEPS steps of ${PEAK_SECS}s"
        timeout -k 5 $((PEAK_STEPS * (PEAK_SECS + 70))) python3 "$HELPERS" peak --server-pid "$SPID" --port "$port" \
            --queries "$QUERIES" --start-rate "$start" --secs "$PEAK_SECS" --max-steps "$PEAK_STEPS" --outstanding "$PEAK_Q" \
            --log-prefix "$WORK/peak-$s.dnsperf" --pin "$CLIENT_CPU" >"$WORK/peak-$s.json" &
        p=$!; PIDS+=("$p")
        wait "$p" || die "peak search against $s failed (logs $WORK/peak-$s.*)"
        forget "$p"
        emit "$WORK/peak-$s.json" kind=peak "server=$s"
        log "peak $s: $(jf "$WORK/peak-$s.json" peak_qps) qps; limited by $(jf "$WORK/peak-$s.json" limit)"
        stop_server "$SPID" "$TPID"
        sleep 1
    done
fi

# ---------------------------------------------------------------- 3d. reload under load
if want reload; then
    RL=$WORK/reload
    mkdir -p "$RL"
    cp "$DATA/ip4set.txt" "$RL/a.master"
    # X: a /32 in the middle of the file (removed in version B); Y: an unlisted IP (added in B, A+Y).
    # Always listed: the test entry, the first and last /32, an address inside the last line's
    # range (the end of the file: a half-read file loses it) and a domain; always unlisted:
    # 127.0.0.1, another unlisted IP and invalid.urirbl.test.
    eval "$(python3 - "$RL/a.master" "$DATA/queries-unlisted.txt" "$DATA/dnset.txt" "$PROBE_IP" <<'EOF'
import ipaddress, re, shlex, sys
lines = open(sys.argv[1]).read().splitlines()
ips = [l for l in lines if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", l) and l != "127.0.0.2"]
x = ips[len(ips) // 2]
assert x != sys.argv[4]
last = [l for l in lines if l and l[0].isdigit()][-1]
inside = str(ipaddress.ip_network(last, strict=False)[1]) if "/" in last else last
unl = []
for l in open(sys.argv[2]):
    n = l.split()[0]
    if n.endswith(".iprbl.test") and len(n.split(".")) == 6:
        unl.append(".".join(reversed(n.split(".")[:4])))
    if len(unl) == 2:
        break
dom = next(l.split()[0] for l in open(sys.argv[3]) if l[0].isalnum() and l.split()[0] != "test")
rev = lambda ip: ".".join(reversed(ip.split("."))) + ".iprbl.test"
listed = ["2.0.0.127.iprbl.test", rev(ips[0]), rev(ips[-1]), rev(inside), dom.lstrip(".") + ".urirbl.test"]
unlisted = ["1.0.0.127.iprbl.test", rev(unl[1]), "invalid.urirbl.test"]
print("RX_LINE=%s RX=%s RY_LINE=%s RY=%s" % (x, rev(x), unl[0], rev(unl[0])))
print("RL_LISTED=(%s)" % " ".join(shlex.quote(n) for n in listed))
print("RL_UNLISTED=(%s)" % " ".join(shlex.quote(n) for n in unlisted))
EOF
)"
    ! grep -qxF "$RY_LINE" "$RL/a.master" || die "reload test: $RY_LINE is already in ip4set.txt"
    [[ $(tail -c1 "$RL/a.master" | od -An -c | tr -d ' ') == '\n' ]] || echo >>"$RL/a.master"
    { grep -vxF "$RX_LINE" "$RL/a.master"; echo "$RY_LINE"; } >"$RL/b.master"
    chmod a+rx "$WORK" "$RL"; chmod a+r "$RL"/*.master   # rbldnsd runs as user rbldns
    largs=()
    for n in "${RL_LISTED[@]}"; do largs+=(--listed "$n"); done
    for n in "${RL_UNLISTED[@]}"; do largs+=(--unlisted "$n"); done
    for s in rbldnsd fadelist; do
        mkdir -p "$RL/$s"; chmod a+rx "$RL/$s"
        cp "$RL/a.master" "$RL/$s/ip4set.txt"; chmod a+r "$RL/$s/ip4set.txt"
        ln -sf "$DATA/dnset.txt" "$RL/$s/dnset.txt"
        port=$(free_port)
        slog=$WORK/reload-$s.log
        start_server "$s" "$port" "$slog" "$RL/$s/ip4set.txt"
        log "reload under load, $s: ${RELOAD_SECS}s of dnsperf, ip4set.txt rewritten every ${RELOAD_GAP}s (X=$RX_LINE, Y=$RY_LINE)"
        "${PIN_CLIENT[@]}" timeout -k 5 $((RELOAD_SECS + 60)) python3 "$HELPERS" reload --port "$port" --target "$RL/$s/ip4set.txt" \
            --a-master "$RL/a.master" --b-master "$RL/b.master" --x-name "$RX" --y-name "$RY" --y-line "$RY_LINE" \
            "${largs[@]}" --secs $((RELOAD_SECS + 1)) --gap "$RELOAD_GAP" --timeout "$CHECK_TIMEOUT" \
            >"$WORK/reload-$s-check.json" 2>"$WORK/reload-$s-check.err" &
        cpid=$!; PIDS+=("$cpid")
        sleep 0.3
        perf "$WORK/reload-$s.json" "$WORK/reload-$s.dnsperf" $((RELOAD_SECS + 60)) \
            -s 127.0.0.1 -p "$port" -d "$QUERIES" -l "$RELOAD_SECS" -T 1 -c 4 -q 100
        wait "$cpid" || { cat "$WORK/reload-$s-check.err" >&2; die "reload checker failed ($s)"; }
        forget "$cpid"
        sleep 1.5  # let the last rewrite's reload be logged
        plain=$(sed 's/\x1b\[[0-9;]*m//g' "$slog")
        if [[ $s == rbldnsd ]]; then
            reloads=$(( $(grep -c 'zones reloaded' <<<"$plain" || true) - 1 ))  # the first one is the initial load
            rerr=$(grep -iE 'error|cannot|invalid' <<<"$plain" | head -3 | cut -c1-300 | tr '`|' "'/" | paste -sd ';' - || true)
        else
            reloads=$(grep -c 'dataset reloaded' <<<"$plain" || true)
            rerr=$(grep -E 'reload failed|ERROR|panicked' <<<"$plain" | head -3 | cut -c1-300 | tr '`|' "'/" | paste -sd ';' - || true)
        fi
        stop_server "$SPID" "$TPID"
        emit "$WORK/reload-$s.json" kind=reload "server=$s" "checker=$(cat "$WORK/reload-$s-check.json")" "reloads_logged=$reloads" "reload_errors=$rerr"
        log "reload $s: lost $(jf "$WORK/reload-$s.json" lost), wrong $(jf "$WORK/reload-$s-check.json" wrong), rewrites $(jf "$WORK/reload-$s-check.json" rewrites), seen $(jf "$WORK/reload-$s-check.json" seen), reloads logged $reloads"
        sleep 1
    done
fi

# ---------------------------------------------------------------- 3e. UDP while ingesting vs idle
if want ingest; then
    [[ -f $LOADGEN && -d $REPO/tests/data/mail ]] || die "ingest part needs $LOADGEN and $REPO/tests/data/mail (or FADELIST_BENCH_SKIP=ingest)"
    : >"$WORK/ingest.jsonl"
    for ((r = 1; r <= ROUNDS; r++)); do
        db=$WORK/ingest-r$r.sqlite
        new_db "$db"
        two_ports
        write_config "$WORK/ingest-r$r.toml" "$DNS_PORT" "$HTTP_PORT" 1
        spawn "$WORK/ingest-r$r.log" "http:$HTTP_PORT" "$DNS_PORT" "$PROBE" \
            "$FADELIST" serve --config "$WORK/ingest-r$r.toml" --db "$db" --udp-mode fast --udp-workers 1
        dns_vs_ingest "ingest-r$r" $((30000000 + r * 1000000)) "$JL" kind=ingest "round=$r"
        stop_server "$SPID" "$TPID"
    done
fi

# ---------------------------------------------------------------- 3f. reply/query size ratios (amplification)
if want amp; then
    for s in rbldnsd fadelist; do
        port=$(free_port)
        start_server "$s" "$port" "$WORK/amp-$s.log"
        log "amplification $s: sampled names x query types, UDP, with and without EDNS"
        "${PIN_CLIENT[@]}" timeout -k 5 300 python3 "$HELPERS" amp --port "$port" --queries "$QUERIES" \
            --zone iprbl.test --zone urirbl.test --sample 200 >"$WORK/amp-$s.json" \
            || die "amplification measurement against $s failed"
        emit "$WORK/amp-$s.json" kind=amp "server=$s"
        log "amplification $s: ANY worst $(jf "$WORK/amp-$s.json" any_ratio)x, worst of any type $(jf "$WORK/amp-$s.json" all_ratio)x"
        stop_server "$SPID" "$TPID"
        sleep 1
    done
fi

# ---------------------------------------------------------------- 4. report
RB_VER=$(dpkg-query -W -f='${Version}' rbldnsd 2>/dev/null || echo '?')
export_machine_notes
FL_VER=$("$FADELIST" --version 2>/dev/null || echo fadelist)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=$(GIT_OPTIONAL_LOCKS=0 git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | wc -l || echo 0)
export FL_BUILD MODE ROUNDS SECS PINNING CMDLINE ENV_NOTE GUARD_NOTE RB_VER FL_VER COMMIT DIRTY DATA NCPU
export PEAK_SECS PEAK_Q RELOAD_SECS RELOAD_GAP CHECK_TIMEOUT RATE
export GEN_ARGS_S="${GEN_ARGS[*]}"
export TOTAL_S=$(($(date +%s) - T_BEGIN))
publish_report "$HELPERS" report --results "$JL"
