#!/usr/bin/env bash
# benches/write-path.sh — fadelist's write path, two binaries side by side: BASE (before) and NEW
# (after) the write-side refactor (issue 10: one listings service, group commit of reports,
# read-only SQLite connections for lookups). One run, same machine, same data, runs alternating
# BASE, NEW, BASE, NEW…; one markdown table with both columns and the ratio NEW / BASE.
#
#   benches/write-path.sh            # full: 2 rounds, 10 s report runs, 15 s dnsperf (~14 min with built binaries)
#   benches/write-path.sh --quick    # smoke test: 1 round, 3 s report runs, 5 s dnsperf (~3 min with built binaries)
#
# What it measures (every report is a ~24 KB HTML mail built from tests/data/mail/*.eml, each with
# its own Message-ID, source IP and domains; see benches/README.md):
#   1. empty store: reports accepted per second with 1, 4 and 16 clients, server CPU per report
#      (utime+stime of the server over the run ÷ accepted reports), report p50/p99 latency; two
#      variants: "no churn" (each message posted once, by one reporter: nothing new is listed) and
#      "listing churn" (each message posted by two reporters: the second post lists);
#   2. the same on a seeded store (>= 100k keys listed, >= 100k evidence rows, 10 % of the keys
#      with 30 evidence rows, one key with 55k) built with BASE's schema (migrations 001-004) and
#      copied for every server run, so NEW migrates it at start: start -> first DNS answer and
#      start -> idle are rows of their own (both binaries' seeded servers run at once, idle when
#      not measured, so that these steps alternate too);
#   3. report -> DNS visible p50/p99 (as benches/ingest.sh part 2), on the seeded store;
#   4. on the seeded store: report p50 with 8 clients looking keys up (GET /api/v1/lookup/{key},
#      keys with much evidence, the 55k one included) ÷ without them (goal <= 1.2x), and lookup
#      p50/p99 with and without the report load;
#   5. DNS QPS while reports arrive at 200/s ÷ idle (as benches/ingest.sh part 3).
# Server on CPU 1, every client on CPU 0 (taskset); every process under timeout; a trap stops them
# all on exit or Ctrl-C. Output: benches/results/write-path-latest.md (write-path-latest-quick.md).
#
# The two binaries:
#   BASE: FADELIST_BENCH_BASE_BIN, or FADELIST_BENCH_BASE_REV (a git rev, default 0d1f6b1) built with
#         `cargo build --release -p fadelist` in a temporary `git worktree` (target dir
#         target/bench-rev); the binary is kept as target/bench-bins/fadelist-<commit> and reused.
#   NEW:  FADELIST_BENCH_NEW_BIN, or FADELIST_BENCH_NEW_REV (built the same way), or by default a
#         release build of this checkout (`cargo build --release -p fadelist`, target/release).
# Both are copied into the work folder before timing (a rebuild during the run changes nothing).
# With BASE = NEW (e.g. FADELIST_BENCH_NEW_REV=0d1f6b1) every ratio should be ~1.0: the harness check.
#
# What a binary must offer (else the run stops with a message): `fadelist reporter --db DB add NAME
# [--kind trap] --trusted CIDR` printing `token: T`; `fadelist serve --config FILE --db DB`; config
# keys [server] dns_listen/http_listen, [ingest] rate_per_minute/decay_interval, [policy]
# max_report_age, [[zone]] name/feed/[[zone.dataset]]; HTTP POST /api/v1/reports (Bearer token, body
# message/rfc822; 202 JSON with keys[].zone/key/newly_listed and extracted), GET /api/v1/zones,
# GET /api/v1/lookup/{key}; DNS A answers 127.0.0.x for listed keys.
#
# Environment overrides:
#   FADELIST_BENCH_BASE_BIN / FADELIST_BENCH_NEW_BIN   binaries to compare (no build)
#   FADELIST_BENCH_BASE_REV / FADELIST_BENCH_NEW_REV   git revs to build (BASE default 0d1f6b1)
#   FADELIST_BENCH_ROUNDS   alternating rounds                  (default 2, --quick 1)
#   FADELIST_WP_SECS        seconds per report run              (default 10, --quick 3)
#   FADELIST_WP_CLIENTS     concurrency levels                  (default "1 4 16")
#   FADELIST_WP_SAMPLES     report->DNS samples per binary/round (default 200, --quick 30)
#   FADELIST_WP_SEED_KEYS   listed keys in the seed             (default 100000)
#   FADELIST_WP_HOT_EVIDENCE evidence rows of the hot key       (default 55000)
#   FADELIST_WP_LOOKUP_CLIENTS lookup clients of part 4         (default 8)
#   FADELIST_WP_LOOKUP_PAUSE seconds a lookup client waits between lookups (default 0: a tight loop; e.g.
#                           0.5 to separate "reads wait behind writes" from "reads take the server's core")
#   FADELIST_WP_DECAY_INTERVAL the servers' [ingest] decay_interval (default "1h": only the pass at start)
#   FADELIST_WP_SKIP        parts to leave out, space-separated: empty seeded lookups latency dns
#   FADELIST_BENCH_SECS     dnsperf seconds per run of part 5   (default 15, --quick 5)
#   FADELIST_BENCH_DB_DIR   folder for the SQLite databases     (default: the work folder)
#   FADELIST_BENCH_RESULTS  where to write the table
#   FADELIST_BENCH_LOAD_LIMIT seconds a server may take to answer its first query (default 120)
#   FADELIST_BENCH_KEEP=1   keep the work folder (logs, JSON, databases) after a successful run
#   FADELIST_BENCH_GEN, FADELIST_BENCH_DATA   gen-data.py and its data folder (as benches/run.sh)
set -euo pipefail
BENCH_TAG=write-path
# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- arguments
bench_args "BENCH|WP" "$@"
if ((QUICK)); then
    MODE=quick; GEN_ARGS=(--ips 100000)
    ROUNDS=${FADELIST_BENCH_ROUNDS:-1}; TP_SECS=${FADELIST_WP_SECS:-3}; SAMPLES=${FADELIST_WP_SAMPLES:-30}
    SECS=${FADELIST_BENCH_SECS:-5}
else
    MODE=full; GEN_ARGS=()
    ROUNDS=${FADELIST_BENCH_ROUNDS:-2}; TP_SECS=${FADELIST_WP_SECS:-10}; SAMPLES=${FADELIST_WP_SAMPLES:-200}
    SECS=${FADELIST_BENCH_SECS:-15}
fi
read -r -a LEVELS <<<"${FADELIST_WP_CLIENTS:-1 4 16}"
SEED_KEYS=${FADELIST_WP_SEED_KEYS:-100000}
HOT_EVIDENCE=${FADELIST_WP_HOT_EVIDENCE:-55000}
LOOKUP_CLIENTS=${FADELIST_WP_LOOKUP_CLIENTS:-8}
LOOKUP_PAUSE=${FADELIST_WP_LOOKUP_PAUSE:-0}   # seconds each lookup client waits between lookups (0: a tight loop)
LOOKUP_REPORT_CLIENTS=4          # report clients of the with/without lookups pair
DECAY_INTERVAL=${FADELIST_WP_DECAY_INTERVAL:-1h}
SKIP=" ${FADELIST_WP_SKIP:-} "
want() { [[ $SKIP != *" $1 "* ]]; }
RATE=200                         # part 5: POSTs per second while ingesting
GEN_WORKERS=32                   # part 5: keep-alive connections of the paced generator
PROBE_EVERY=10                   # part 5: probe every 10th pair's listing post for report->DNS latency
PROBE_LIMIT=5                    # seconds a report->DNS probe polls at most
LOAD_LIMIT=${FADELIST_BENCH_LOAD_LIMIT:-120}
SERVER_LIMIT=1800
IDLE_LIMIT=120                   # seconds a seeded server may stay busy after start
LOADGEN_ARGS=(--templates html --min-kb 24 --max-kb 24)   # the issue's 24 KB HTML mails
RESULTS=${FADELIST_BENCH_RESULTS:-$REPO/benches/results/write-path-latest$( ((QUICK)) && echo -quick || true).md}
ROLES=(base new)

# ---------------------------------------------------------------- work folder, cleanup
bench_work fadelist-write-path
DBDIR=${FADELIST_BENCH_DB_DIR:-$WORK}
mkdir -p "$DBDIR"
JL=$WORK/results.jsonl
: >"$JL"
WORKTREES=()   # temporary git worktrees still registered (removed on exit)
bench_on_exit() {
    local w
    for w in "${WORKTREES[@]}"; do git -C "$REPO" worktree remove --force "$w" 2>/dev/null || true; done
    if (($1)) && [[ ${FADELIST_BENCH_KEEP:-0} != 1 && $DBDIR != "$WORK" ]]; then rm -f "$DBDIR"/wp-*.sqlite*; fi
}
T_BEGIN=$(date +%s)

# ---------------------------------------------------------------- 1. tools and binaries
need_tools dnsperf:dnsperf dig:dnsutils taskset:util-linux python3:python3
BINCACHE=${CARGO_TARGET_DIR:-$REPO/target}/bench-bins
REV_TARGET=${CARGO_TARGET_DIR:-$REPO/target}/bench-rev

# build_rev ROLE REV: BIN = target/bench-bins/fadelist-<commit>, built in a temporary worktree if absent
build_rev() {
    local role=$1 rev=$2 commit src
    commit=$(git -C "$REPO" rev-parse --verify --quiet "$rev^{commit}") || die "${role^^}: '$rev' is not a commit of $REPO"
    BIN=$BINCACHE/fadelist-$commit
    DESC="\`$rev\` = commit ${commit:0:10} ($(git -C "$REPO" log -1 --format=%s "$commit" | cut -c1-80 | tr '`|' "'/")), release build in a temporary worktree"
    if [[ -x $BIN ]]; then
        log "${role^^}: reusing $BIN"
        return
    fi
    src=$WORK/src-$role
    log "${role^^}: building $rev ($commit) in a temporary worktree (target dir $REV_TARGET)"
    git -C "$REPO" worktree add --detach --quiet "$src" "$commit" || die "git worktree add failed"
    WORKTREES+=("$src")
    (cd "$src" && CARGO_TARGET_DIR=$REV_TARGET timeout 3600 cargo build --release -p fadelist >&2) \
        || die "cargo build --release -p fadelist failed at $rev"
    mkdir -p "$BINCACHE"
    cp "$REV_TARGET/release/fadelist" "$BIN.tmp.$$" && mv "$BIN.tmp.$$" "$BIN"
    git -C "$REPO" worktree remove --force "$src"
    WORKTREES=()
}
# resolve ROLE: BIN_<ROLE> (a private copy in the work folder) and DESC_<ROLE>
resolve() {
    local role=$1 up=${1^^} bin_var rev_var
    bin_var=FADELIST_BENCH_${up}_BIN; rev_var=FADELIST_BENCH_${up}_REV
    if [[ -n ${!bin_var:-} ]]; then
        BIN=${!bin_var}; DESC="binary \`${!bin_var}\`"
        [[ -x $BIN ]] || die "$bin_var=$BIN is not an executable"
    elif [[ -n ${!rev_var:-} || $role == base ]]; then
        build_rev "$role" "${!rev_var:-0d1f6b1}"
    else
        FADELIST_BENCH_BIN='' build_fadelist
        BIN=$FADELIST
        local head dirty
        head=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
        dirty=$(GIT_OPTIONAL_LOCKS=0 git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | wc -l || echo 0)
        DESC="this checkout ($REPO at $head$( ((dirty)) && echo " + $dirty uncommitted file(s)" || true)), release build"
    fi
    cp "$BIN" "$WORK/fadelist-$role"
    printf -v "BIN_$up" '%s' "$WORK/fadelist-$role"
    printf -v "DESC_$up" '%s; %s' "$DESC" "$("$BIN" --version 2>/dev/null || echo 'no --version')"
    # What this script calls; a clear message beats a server that exits at start.
    local h
    h=$(timeout 10 "$BIN" serve --help 2>&1 || true)
    for f in --config --db; do [[ $h == *"$f"* ]] || die "${up}: 'fadelist serve' has no $f (needed by write-path.sh)"; done
    h=$(timeout 10 "$BIN" reporter add --help 2>&1 || true)
    for f in --kind --trusted; do [[ $h == *"$f"* ]] || die "${up}: 'fadelist reporter add' has no $f (needed by write-path.sh)"; done
}
resolve base
resolve new
log "BASE: $DESC_BASE"
log "NEW:  $DESC_NEW"
bench_pinning
DB_FS=$(df -PT "$DBDIR" | awk 'NR == 2 {print $2 " (" $1 ")"}')
case $DB_FS in
    tmpfs* | ramfs*) log "WARNING: the database folder $DBDIR is on $DB_FS: fsync costs nothing there (set FADELIST_BENCH_DB_DIR)" ;;
esac

# ---------------------------------------------------------------- 2. data: gen-data.py files (part 5) and the seed
want dns && bench_data "$MODE" "${GEN_ARGS[@]}"
SEED=$WORK/seed.sqlite
if want seeded; then
    log "seed: $SEED_KEYS listed keys with BASE's schema (fadelist reporter add, then write_path.py seed)"
    new_db "$SEED" "$BIN_BASE"
    SEED_TOKEN_A=$TOKEN_A SEED_TOKEN_B=$TOKEN_B
    timeout 600 python3 "$SCRIPT_DIR/write_path.py" seed --db "$SEED" --mail-dir "$REPO/tests/data/mail" \
        --keys "$SEED_KEYS" --hot-evidence "$HOT_EVIDENCE" >"$WORK/seed.json" || die "building the seed failed"
    json_merge "$WORK/seed.json" kind=seed >>"$JL"
    eval "$(python3 -c 'import json,shlex,sys; s=json.load(open(sys.argv[1]))
print("HOT_NAME=%s HOT_KEY=%s LOOKUP_KEYS=%s" % (shlex.quote(s["hot_name"]), shlex.quote(s["hot_key"]), shlex.quote(",".join(s["lookup_keys"]))))
print("GUARD_NAMES=(%s)" % " ".join(shlex.quote(n) for n in s["guard_names"]))
print("SEED_LISTED=%d" % s["counts"]["listed"])' "$WORK/seed.json")"
    log "seed: $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("%(seconds)s s, %(bytes)d bytes," % s, s["counts"])' "$WORK/seed.json")"
fi

# ---------------------------------------------------------------- helpers
# serve ROLE NAME DB WITH_FILES PROBE: config + `fadelist serve`; DNS_PORT HTTP_PORT SPID TPID T_LOAD
serve() {
    local bin_var=BIN_${1^^}
    two_ports
    write_config "$WORK/$2.toml" "$DNS_PORT" "$HTTP_PORT" "$4" "decay_interval = \"$DECAY_INTERVAL\""
    spawn "$WORK/$2.log" "http:$HTTP_PORT" "$DNS_PORT" "$5" "${!bin_var}" serve --config "$WORK/$2.toml" --db "$3"
    LOGS+=("$1:$WORK/$2.log")
}
LOGS=()

wait_idle() {  # wait_idle: until the server used <= 2 ticks in 0.5 s (its start-up work is done); T_IDLE
    local a b deadline
    deadline=$(calc "$T_START + $IDLE_LIMIT")
    while :; do
        a=$(cpu_ticks "$SPID") || die "the server died after start (log above)"
        sleep 0.5
        b=$(cpu_ticks "$SPID") || die "the server died after start"
        ((b - a <= 2)) && break
        (($(calc "$(now) > $deadline" 0))) && { log "warning: the server is still busy ${IDLE_LIMIT}s after start; timing anyway"; break; }
    done
    T_IDLE=$(calc "$(now) - 0.5 - $T_START" 2)
}

# tp ROLE ROUND STORE VARIANT CLIENTS START [LOOKUP_CLIENTS [KEY=VALUE...]]: one report run on the running
# server (with lookup clients from 1 s before to 1 s after it when LOOKUP_CLIENTS > 0); a JSON line in $JL
tp() {
    local role=$1 r=$2 store=$3 variant=$4 c=$5 start=$6 lk=${7:-0} name once=() lpid= lk_json=null
    shift $(($# < 7 ? $# : 7))
    name=$role-r$r-$store-$variant-c$c$( ((lk)) && echo "-lk$lk" || true)
    [[ $variant == nochurn ]] && once=(--once)
    if ((lk)); then
        loadgen $((TP_SECS + 120)) lookups --port "$HTTP_PORT" --keys "$LOOKUP_KEYS" --clients "$lk" --secs $((TP_SECS + 2)) \
            --pause "$LOOKUP_PAUSE" --server-pid "$SPID" >"$WORK/$name-lookups.json" &
        lpid=$!; PIDS+=("$lpid")
        sleep 1
    fi
    loadgen $((TP_SECS + 120)) throughput --port "$HTTP_PORT" --token-a "$TOKEN_A" --token-b "$TOKEN_B" --server-pid "$SPID" \
        --clients "$c" --secs "$TP_SECS" --start "$start" "${once[@]}" >"$WORK/$name.json" \
        || { tail -20 "${LOGS[-1]#*:}" >&2; die "report run $name failed"; }
    if [[ -n $lpid ]]; then
        wait "$lpid" || die "lookup clients failed ($name)"
        forget "$lpid"
        lk_json=$(cat "$WORK/$name-lookups.json")
    fi
    kill -0 "$SPID" 2>/dev/null || { tail -20 "${LOGS[-1]#*:}" >&2; die "the server died during $name"; }
    json_merge "$WORK/$name.json" kind=tp "role=$role" "round=$r" "store=$store" "variant=$variant" "clients=$c" \
        "lookup_clients=$lk" "lookups=$lk_json" "$@" >>"$JL"
    log "$name: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); l=r.get("lookups")
print("%(accepted)d accepted, %(accepted_per_s).1f/s, p50 %(p50_ms).1f ms, p99 %(p99_ms).1f ms, errors %(errors)d, server CPU %(server_cpu_ms_per_report).2f ms/report" % r
      + ("" if not l else "; lookups %.1f/s, p50 %s ms, p99 %s ms, errors %d" % (l["lookups_per_s"], l["p50_ms"] and round(l["p50_ms"], 1), l["p99_ms"] and round(l["p99_ms"], 1), l["errors"])))' <(tail -1 "$JL"))"
}

check_seeded() {  # check_seeded ROLE: the seeded keys answer in DNS and the zones hold them all; ZONES
    local n a
    for n in "${GUARD_NAMES[@]}"; do
        a=$(dig_q "$DNS_PORT" +short "$n" A)
        [[ $a == 127.* ]] || die "${1^^} on the seeded store: $n answered '${a:-nothing}' (expected 127.0.0.x): the seed is not served"
    done
    ZONES=$(zone_entries "$HTTP_PORT")
    KEYS_SERVED=$(awk '{for (i=1;i<=NF;i++) {split($i, kv, "="); if (kv[1] != "niprbl.test") s += kv[2]}} END {print s+0}' <<<"$ZONES")
    # urirbl.test counts each domain twice (the name and its subdomains), so >= the listed keys
    ((KEYS_SERVED >= SEED_LISTED)) || die "${1^^} on the seeded store serves $ZONES, fewer than the $SEED_LISTED listed keys"
}

# Message indices: the same for BASE and NEW at the same step, distinct between steps of one server.
slot() { echo $(( ($1 * 100 + $2) * 100000 + 1000000 )); }   # slot ROUND STEP

# ---------------------------------------------------------------- 3. part 1: empty store
GUARDED=()
if want empty; then
    for ((r = 1; r <= ROUNDS; r++)); do
        step=0
        for variant in nochurn churn; do
            for c in "${LEVELS[@]}"; do
                step=$((step + 1))
                for role in "${ROLES[@]}"; do
                    db=$DBDIR/wp-$role-empty.sqlite
                    bin_var=BIN_${role^^}
                    new_db "$db" "${!bin_var}"
                    serve "$role" "$role-r$r-empty-$variant-c$c" "$db" 0 2.0.0.127.iprbl.test
                    if [[ " ${GUARDED[*]} " != *" $role "* ]]; then
                        log "${role^^} guard: one message of every template, posted by A, B and B again"
                        if ! loadgen 120 guard --port "$HTTP_PORT" --token-a "$TOKEN_A" --token-b "$TOKEN_B" --dns-port "$DNS_PORT" \
                            --start 90000000 >"$WORK/guard-$role.json"; then
                            python3 -c 'import json,sys; [print("  ", r["template"], r["problems"]) for r in json.load(open(sys.argv[1]))["templates"] if r["problems"]]' "$WORK/guard-$role.json" >&2 || cat "$WORK/guard-$role.json" >&2
                            die "${role^^}: the generated messages are not extracted as expected; not timing"
                        fi
                        GUARDED+=("$role")
                        json_merge "$WORK/guard-$role.json" kind=guard "role=$role" >>"$JL"
                        stop_server "$SPID" "$TPID"     # the guard's reports stay out of the timed runs
                        new_db "$db" "${!bin_var}"
                        serve "$role" "$role-r$r-empty-$variant-c$c" "$db" 0 2.0.0.127.iprbl.test
                    fi
                    tp "$role" "$r" empty "$variant" "$c" "$(slot "$r" "$step")"
                    stop_server "$SPID" "$TPID"
                    rm -f "$db" "$db-wal" "$db-shm"
                done
            done
        done
    done
fi

# ---------------------------------------------------------------- 4. parts 2-4: the seeded store
# Both binaries' servers run at once (each on its own copy of the seed, idle when not measured), so
# that every step alternates BASE, NEW like the empty-store runs.
declare -A S_SPID S_TPID S_DNS S_HTTP S_LOG
use_server() {  # use_server ROLE: make ROLE's seeded server the current one
    SPID=${S_SPID[$1]} TPID=${S_TPID[$1]} DNS_PORT=${S_DNS[$1]} HTTP_PORT=${S_HTTP[$1]}
    SPORT=$DNS_PORT TOKEN_A=$SEED_TOKEN_A TOKEN_B=$SEED_TOKEN_B
    LOGS+=("$1:${S_LOG[$1]}")   # the last entry names the log tp() shows on failure
}
if want seeded; then
    for ((r = 1; r <= ROUNDS; r++)); do
        for role in "${ROLES[@]}"; do
            db=$DBDIR/wp-$role-seeded.sqlite
            rm -f "$db" "$db-wal" "$db-shm"
            cp "$SEED" "$db"
            serve "$role" "$role-r$r-seeded" "$db" 0 "$HOT_NAME"
            t_load=$T_LOAD
            wait_idle
            check_seeded "$role"
            json_merge - kind=start "role=$role" "round=$r" "t_load=$t_load" "t_idle=$T_IDLE" "keys_served=$KEYS_SERVED" \
                "zones=$ZONES" "rss_kb=$(proc_kb "$SPID" VmRSS)" >>"$JL"
            log "${role^^} seeded start: first DNS answer ${t_load}s, idle ${T_IDLE}s, $ZONES"
            S_SPID[$role]=$SPID S_TPID[$role]=$TPID S_DNS[$role]=$DNS_PORT S_HTTP[$role]=$HTTP_PORT
            S_LOG[$role]=$WORK/$role-r$r-seeded.log
        done
        step=0
        for variant in nochurn churn; do
            for c in "${LEVELS[@]}"; do
                step=$((step + 1))
                for role in "${ROLES[@]}"; do
                    use_server "$role"
                    tp "$role" "$r" seeded "$variant" "$c" "$(slot "$r" $((50 + step)))"
                done
            done
        done
        if want lookups; then
            # the pair: the same report load without, then with the lookup clients; then the lookup clients alone
            for role in "${ROLES[@]}"; do
                use_server "$role"
                tp "$role" "$r" seeded churn "$LOOKUP_REPORT_CLIENTS" "$(slot "$r" 60)" 0 lookup_pair=true
            done
            for role in "${ROLES[@]}"; do
                use_server "$role"
                tp "$role" "$r" seeded churn "$LOOKUP_REPORT_CLIENTS" "$(slot "$r" 61)" "$LOOKUP_CLIENTS"
            done
            for role in "${ROLES[@]}"; do
                use_server "$role"
                loadgen $((TP_SECS + 120)) lookups --port "$HTTP_PORT" --keys "$LOOKUP_KEYS" --clients "$LOOKUP_CLIENTS" \
                    --pause "$LOOKUP_PAUSE" --secs "$TP_SECS" --server-pid "$SPID" >"$WORK/$role-r$r-lookups.json" \
                    || die "lookup clients failed ($role)"
                json_merge "$WORK/$role-r$r-lookups.json" kind=lookups "role=$role" "round=$r" >>"$JL"
                log "$role-r$r lookups alone: $(python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); print("%.1f/s, p50 %.1f ms, p99 %.1f ms, errors %d" % (l["lookups_per_s"], l["p50_ms"] or 0, l["p99_ms"] or 0, l["errors"]))' "$WORK/$role-r$r-lookups.json")"
            done
        fi
        if want latency; then
            for role in "${ROLES[@]}"; do
                use_server "$role"
                loadgen 600 latency --port "$HTTP_PORT" --token-a "$TOKEN_A" --token-b "$TOKEN_B" --server-pid "$SPID" \
                    --dns-port "$DNS_PORT" --samples "$SAMPLES" --start "$(slot "$r" 70)" --limit "$PROBE_LIMIT" \
                    >"$WORK/$role-r$r-latency.json" || die "report->DNS latency run failed ($role)"
                json_merge "$WORK/$role-r$r-latency.json" kind=latency "role=$role" "round=$r" >>"$JL"
                log "$role-r$r report->DNS: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("p50 %s ms, p99 %s ms, not visible %d, anomalies %d" % (r["send_p50_ms"] and round(r["send_p50_ms"], 2), r["send_p99_ms"] and round(r["send_p99_ms"], 2), r["not_visible"], r["anomalies_n"]))' "$WORK/$role-r$r-latency.json")"
            done
        fi
        for role in "${ROLES[@]}"; do
            stop_server "${S_SPID[$role]}" "${S_TPID[$role]}"
            rm -f "$DBDIR/wp-$role-seeded.sqlite"{,-wal,-shm}
        done
    done
fi

# ---------------------------------------------------------------- 5. part 5: DNS while ingesting vs idle
T_LOADS=()
if want dns; then
    for ((r = 1; r <= ROUNDS; r++)); do
        for role in "${ROLES[@]}"; do
            db=$DBDIR/wp-$role-dns.sqlite
            bin_var=BIN_${role^^}
            new_db "$db" "${!bin_var}"
            serve "$role" "$role-r$r-dns" "$db" 1 "$PROBE"
            T_LOADS+=("${role^^}:$T_LOAD")
            dns_vs_ingest "$role-r$r-dns" "$(slot "$r" 80)" "$JL" kind=dns "role=$role" "round=$r"
            stop_server "$SPID" "$TPID"
            rm -f "$db" "$db-wal" "$db-shm"
        done
    done
fi

# ---------------------------------------------------------------- 6. report
NOTES=()
for role in "${ROLES[@]}"; do
    for l in "${LOGS[@]}"; do if [[ ${l%%:*} == "$role" ]]; then echo "${l#*:}"; fi; done | sort -u | xargs -r cat >"$WORK/all-$role.log"
    NOTES+=("$(log_notes "$WORK/all-$role.log" "${role^^} (all its servers)")")
done
export_machine_notes
summ=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("%s /32 + %s ranges in ip4set.txt, %s domains in dnset.txt" % tuple(f"{s[k]:,}" for k in ("single_ips", "ranges", "domains")))' "${DATA:-/nonexistent}/summary.json" 2>/dev/null || echo '?')
export BASE_DESC=$DESC_BASE NEW_DESC=$DESC_NEW ROUNDS TP_SECS RATE LOOKUP_CLIENTS LOOKUP_REPORT_CLIENTS LOOKUP_PAUSE DECAY_INTERVAL
export HOT_KEY=${HOT_KEY:-89.160.20.112} NCPU PINNING DB_FS TOTAL_S=$(($(date +%s) - T_BEGIN))
export CMDLINE_FULL="${ENV_NOTE:+$ENV_NOTE}$CMDLINE"
export MSG_NOTE="fixtures padded with HTML to ~24 KB (\`ingest_load.py ${LOADGEN_ARGS[*]}\`): html-obfuscated ×2, arf-abuse, esp-bulk (bulk → niprbl) by weight; each with its own Message-ID, source IP (45.0.0.0–90.255.255.255) and tagged domains; the same message indices for BASE and NEW at each step"
export DATA_NOTE="data \`gen-data.py ${GEN_ARGS[*]:-(defaults)}\`: $summ; dnsperf \`-T 1 -c 4 -q 100\` for ${SECS} s per run; start → first answer ${T_LOADS[*]:-—} s"
export SERVER_NOTES=$(IFS=';'; echo "${NOTES[*]}" | sed 's/;/; /g')
publish_report "$SCRIPT_DIR/write_path.py" report --results "$JL"
