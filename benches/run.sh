#!/usr/bin/env bash
# benches/run.sh — fadelist against rbldnsd, side by side, with dnsperf: every target of the
# "faster and leaner than rbldnsd" issue in one command and one table.
#
#   benches/run.sh            # 1M-IP data set, 3 alternating rounds x 15 s per variant; load.sh and xfr.sh full (~12-15 min)
#   benches/run.sh --quick    # 100k-IP data set, 1 round x 5 s per variant, short steps; load.sh and xfr.sh --quick (~4 min)
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
#   8. loading and reloading at edge scale against rbldnsd: benches/load.sh (--quick with --quick;
#      its own data set, rounds and defaults), run with this fadelist binary; rows 12 from its
#      JSON summary (FADELIST_BENCH_JSON);
#   9. AXFR throughput, CPU per record and serving memory against NSD (rbldnsd has no zone
#      transfers): benches/xfr.sh (--quick with --quick) on this run's data set; rows 13 from its
#      JSON summary; nsd and knot-dnsutils are installed when missing, and the rows say
#      "skipped: nsd not installed" when that fails;
# and prints one markdown table (metric | rbldnsd | fadelist | ratio | target | met?) with
# detail tables (load.sh's and xfr.sh's own reports last), also saved to
# benches/results/latest.md (latest-quick.md for --quick). load.sh and xfr.sh write their reports
# into the work folder when run from here: their own results files are left alone.
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
#   FADELIST_BENCH_SKIP     parts to leave out, space-separated: hickory null nowait rrl metrics tcp peak reload ingest amp load xfr
#   FADELIST_BENCH_LOAD_ROUNDS  rounds of load.sh   (default: load.sh's, 5; --quick 3)
#   FADELIST_BENCH_XFR_ROUNDS   rounds of xfr.sh    (default: xfr.sh's, 3; --quick 1)
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
    SUB_ARGS=(--quick); SUB_LIMIT=900     # load.sh / xfr.sh: its arguments, hard cap on each (s)
else
    MODE=full; GEN_ARGS=(); ROUNDS=${FADELIST_BENCH_ROUNDS:-3}; SECS=${FADELIST_BENCH_SECS:-15}
    PEAK_SECS=5; PEAK_STEPS=7; RELOAD_SECS=15; RELOAD_GAP=2.5
    SUB_ARGS=(); SUB_LIMIT=1800
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
# Every part (load.sh and xfr.sh too) runs this copy: a build in the tree meanwhile changes nothing.
cp "$FADELIST" "$WORK/fadelist"
FADELIST=$WORK/fadelist
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

# ---------------------------------------------------------------- 3g/3h. load.sh and xfr.sh
# sub_bench PART SCRIPT [NAME=VALUE...]: benches/SCRIPT (--quick in a quick run) with this fadelist
# binary, under timeout, with the NAME=VALUEs in its environment; its JSON summary goes to
# $WORK/PART.json, its report to $WORK/PART.md, its output to $WORK/PART.log. Sets SUB_STATUS[PART]
# to "ok" or "failed: ..." (a failed part does not stop the others: the report says so, the run
# exits 1 at the end and the logs stay).
declare -A SUB_STATUS
sub_bench() {
    local part=$1 script=$2 p rc=0 why
    shift 2
    log "$part: benches/$script ${SUB_ARGS[*]} (at most ${SUB_LIMIT}s; output in $WORK/$part.log)"
    rm -f "$WORK/$part.json" "$WORK/$part.md"
    env -u FADELIST_BENCH_ROUNDS -u FADELIST_BENCH_DATA -u FADELIST_BENCH_BASE_BIN \
        FADELIST_BENCH_BIN="$FADELIST" FADELIST_BENCH_RESULTS="$WORK/$part.md" FADELIST_BENCH_JSON="$WORK/$part.json" "$@" \
        timeout -k 10 "$SUB_LIMIT" "$SCRIPT_DIR/$script" "${SUB_ARGS[@]}" >"$WORK/$part.log" 2>&1 &
    p=$!; PIDS+=("$p")
    wait "$p" || rc=$?
    forget "$p"
    if ((rc == 0)) && [[ -s $WORK/$part.json && -s $WORK/$part.md ]]; then
        SUB_STATUS[$part]=ok
        log "$part: done"
        return 0
    fi
    if ((rc == 124)); then
        why="timed out after ${SUB_LIMIT}s"
    else
        why=$(grep -m1 -E '\] ERROR: ' "$WORK/$part.log" | sed 's/^\[[a-z]*\] ERROR: //' || true)
        [[ -n $why ]] || why=$(grep -v -e '^[[:space:]]*$' -e '] logs kept in ' "$WORK/$part.log" | tail -1 || true)
        why=$(cut -c1-300 <<<"$why" | tr '`|' "'/")
        why="exit $rc${why:+: $why}"
    fi
    SUB_STATUS[$part]="failed: $why"
    SUB_FAILED=1
    tail -15 "$WORK/$part.log" >&2 || true
    log "WARNING: $part failed ($why); continuing (log $WORK/$part.log)"
}
SUB_FAILED=0
if want load; then
    sub_bench load load.sh ${FADELIST_BENCH_LOAD_ROUNDS:+FADELIST_BENCH_ROUNDS=$FADELIST_BENCH_LOAD_ROUNDS}
fi
if want xfr; then
    # As xfr.sh: NSD and kdig are installed from Debian when missing; when that fails the rows say so.
    if ! has_cmd nsd || ! has_cmd kdig; then
        (need_tools nsd:nsd kdig:knot-dnsutils) || log "warning: could not install nsd / knot-dnsutils: no AXFR rows"
    fi
    if ! has_cmd nsd; then
        SUB_STATUS[xfr]="skipped: nsd not installed"
    elif ! has_cmd kdig; then
        SUB_STATUS[xfr]="skipped: kdig (knot-dnsutils) not installed"
    else
        sub_bench xfr xfr.sh FADELIST_BENCH_DATA="$DATA" ${FADELIST_BENCH_XFR_ROUNDS:+FADELIST_BENCH_ROUNDS=$FADELIST_BENCH_XFR_ROUNDS}
    fi
fi

# bench_amend_report REPORT (called by publish_report): rows 12 (load.sh, anchor rbldnsd) and 13
# (xfr.sh, anchor NSD) at the end of the main table, a note on them, their own reports at the end.
bench_amend_report() {
    LOAD_STATUS=${SUB_STATUS[load]:-} XFR_STATUS=${SUB_STATUS[xfr]:-} SUB_ARGS_S="${SUB_ARGS[*]}" \
        timeout 60 python3 - "$1" "$WORK" <<'EOF'
import json, os, sys
path, work = sys.argv[1], sys.argv[2]
E = os.environ
lines = open(path).read().split("\n")
R = lambda v: "—" if v is None else "**{:.2f}×**".format(v)
ratio = lambda a, b: a / b if b else None
met = lambda v, t: "?" if v is None else ("**yes**" if v <= t else "**NO**")
arg = (" " + E["SUB_ARGS_S"]) if E.get("SUB_ARGS_S") else ""
rows, notes, sections = [], [], []

def load_json(part):
    return json.load(open(os.path.join(work, part + ".json")))

def own_report(part):
    md = open(os.path.join(work, part + ".md")).read().rstrip("\n").split("\n")
    # one heading level down, under this report's sections
    sections.extend([""] + [("#" + l) if l.startswith("#") else l for l in md])

ls = E.get("LOAD_STATUS", "")
if ls == "ok":
    j = load_json("load")
    m, d = j["median"], j["data"]
    rb, fl = m["rbldnsd"], m["fadelist"]
    size = "%s IPv4 lines, %s IPv6 /64s, %s domains" % ("{:,}".format(d["ipv4_lines"]), "{:,}".format(d["ipv6_lines"]), "{:,}".format(d["domain_lines"]))
    for key, label, scale, dec in (
            ("load_s", "12. load at edge scale (load.sh: %s): start → first answer (s)" % size, 1, 2),
            ("hwm_kb", "    same, peak RSS while loading, VmHWM (MiB)", 1024.0, 1),
            ("reload_s", "    reload (SIGHUP, ip4set.txt replaced) → new data answered (s)", 1, 2),
            ("reload_hwm_kb", "    same, peak RSS during the reload, VmHWM after a reset (MiB)", 1024.0, 1)):
        q = ratio(fl[key], rb[key])
        rows.append("| %s | %.*f | %.*f | %s | ≤ 1.0× | %s |" % (label, dec, rb[key] / scale, dec, fl[key] / scale, R(q), met(q, 1.0)))
    notes.append("- rows 12: `benches/load.sh%s` run by this script with the same fadelist binary: medians of %d alternating rounds, "
                 "fadelist ÷ rbldnsd (rbldnsd %s); its own data set (`gen-data.py --ips %s --ranges %s --domains %s` + %s IPv6 /64s); its report is at the end" % (
                     arg, j["rounds"], j["rbldnsd_version"], d["gen_ips"], d["gen_ranges"], d["gen_domains"], d["ipv6_nets"]))
    own_report("load")
elif ls:
    rows.append("| 12. load and reload at edge scale (load.sh) | %s | — | — | ≤ 1.0× | ? |" % ls)
    sections += ["", "### Loading and reloading at edge scale (benches/load.sh%s): %s" % (arg, ls)]

xs = E.get("XFR_STATUS", "")
if xs == "ok":
    j = load_json("xfr")
    z = j["zones"]
    first = True
    for zone, kind in (("iprbl.test", "ip4set"), ("urirbl.test", "dnset")):
        n, f = z[zone]["nsd"], z[zone]["fadelist"]
        label = ("13. AXFR records per second, %s (%s, %s records), **anchor NSD** (rbldnsd has no zone transfers)" if first
                 else "    AXFR records per second, %s (%s, %s records), anchor NSD") % (zone, kind, "{:,.0f}".format(f["records"]))
        first = False
        rows.append("| %s | NSD: %s | %s | %s | (info) |  |" % (label, "{:,.0f}".format(n["records_per_s"]), "{:,.0f}".format(f["records_per_s"]),
                                                               R(ratio(f["records_per_s"], n["records_per_s"]))))
    for zone in ("iprbl.test", "urirbl.test"):
        n, f = z[zone]["nsd"], z[zone]["fadelist"]
        rows.append("|     AXFR server CPU per record (µs), %s, anchor NSD | NSD: %.2f | %.2f | %s | (info) |  |" % (
            zone, n["cpu_us_per_record"], f["cpu_us_per_record"], R(ratio(f["cpu_us_per_record"], n["cpu_us_per_record"]))))
    p = j["pss_mib"]
    rows.append("|     memory serving both zones for AXFR, PSS of the process tree (MiB), anchor NSD | NSD: %.1f | %.1f | %s | (info) |  |" % (
        p["nsd"], p["fadelist"], R(ratio(p["fadelist"], p["nsd"]))))
    notes.append("- rows 13: `benches/xfr.sh%s` run by this script on this data set with the same fadelist binary: `kdig` AXFR of each zone, "
                 "medians of %d round(s); the anchor is **NSD** (%s) serving the same records, so the \"rbldnsd\" column of these rows holds NSD's "
                 "numbers and the ratios are fadelist ÷ NSD; its report is at the end" % (arg, j["rounds"], j["nsd_version"]))
    own_report("xfr")
elif xs:
    rows.append("| 13. AXFR throughput, CPU per record, serving memory, anchor NSD (xfr.sh) | %s | — | — | (info) |  |" % xs)
    sections += ["", "### AXFR: fadelist vs NSD (benches/xfr.sh%s): %s" % (arg, xs)]

if rows:
    head = next(i for i, l in enumerate(lines) if l.startswith("| metric | rbldnsd | fadelist |"))
    end = head + 2
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    lines[end:end] = rows
    sub = next((i for i, l in enumerate(lines) if l.startswith("**NOISY**") or l.startswith("### ")), len(lines))
    while sub > 0 and lines[sub - 1] == "":
        sub -= 1
    lines[sub:sub] = notes
open(path, "w").write("\n".join(lines).rstrip("\n") + "\n" + ("\n".join(sections) + "\n" if sections else ""))
EOF
}

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
if ((SUB_FAILED)); then
    OK=0   # keep the work folder: the failed part's log is in it
    die "a part run by this script failed (the report above says which); logs in $WORK"
fi
