#!/usr/bin/env bash
# benches/load.sh — loading and reloading rbldnsd data files at edge scale: fadelist against
# stock rbldnsd on the same files, side by side in one run (issue 14, item 7: "loading or
# reloading 1.5M entries takes no longer than rbldnsd and peaks at no more memory").
#
#   benches/load.sh            # 1.5M IPv4 + 20k ranges, 30k IPv6 /64s, 300k domains; 5 alternating rounds (~3-4 min)
#   benches/load.sh --quick    # a tenth of that, 3 rounds (~1 min): a smoke test
#
# Data: ../shared/bench/gen-data.py (seed 5782) writes ip4set.txt and dnset.txt; it has no IPv6,
# so this script writes ip6tset.txt itself, deterministically (Python random.Random(6891),
# global unicast /64s written as four groups, one default value line). The three files are
# served as zones iprbl.test (ip4set + ip6tset) and urirbl.test (dnset) by:
#   rbldnsd -n -c 0 -b 127.0.0.1/PORT -w DIR iprbl.test:ip4set:ip4set.txt
#           iprbl.test:ip6tset:ip6tset.txt urirbl.test:dnset:dnset.txt
#   fadelist serve --config CFG (only [server] reload_interval = "1h") --db DB
#           --dns-listen 127.0.0.1:PORT --http-listen 127.0.0.1:0 --udp-workers 1
#           --zone iprbl.test:ip4set:DIR/ip4set.txt --zone iprbl.test:ip6tset:DIR/ip6tset.txt
#           --zone urirbl.test:dnset:DIR/dnset.txt
# Each start gets a private copy of the files; the server runs on CPU 1, dig on CPU 0 (taskset).
# Every round starts rbldnsd, then fadelist (then fadelist-base, when FADELIST_BENCH_BASE_BIN is
# set), one at a time, after one untimed warm-up start of each (page cache, database creation).
# For each start:
#   load      start → the first A 127.x answer for a listed /32 (dig every 20 ms; neither server
#             answers before every zone is loaded); CPU seconds of the server by then (utime+stime);
#             VmHWM and VmRSS from /proc/PID/status right after; a listed IPv6 name and a listed
#             domain must answer 127.x and an unlisted IP NXDOMAIN (correctness guard).
#   reload    1.2 s later, VmHWM is reset (`echo 5 > /proc/PID/clear_refs`), ip4set.txt is replaced
#             (a copy with one new address appended, renamed over it), SIGHUP is sent, and dig asks
#             for the new address until it answers 127.x: SIGHUP → new data answered; CPU seconds
#             of that reload; VmHWM (the peak since the reset: old data + new data + whatever the
#             reload builds) and VmRSS after it. Both servers reload only the changed dataset.
#             rbldnsd runs without -f, so it stops answering while it reloads and frees the old
#             data as it goes; fadelist keeps answering from the old data until the new is ready.
# The report: medians per server and the ratios fadelist ÷ rbldnsd (and fadelist ÷ fadelist-base),
# then every run; in benches/results/load-latest.md (load-latest-quick.md for --quick).
# A benchmark, never part of the test suite; no thresholds are asserted anywhere.
#
# Environment overrides:
#   FADELIST_BENCH_GEN       path to gen-data.py (default: <repo>/../shared/bench/gen-data.py)
#   FADELIST_BENCH_DATA      data folder (default: ${TMPDIR:-/tmp}/fadelist-bench-data/load-<mode>-<hash>)
#   FADELIST_BENCH_BIN       use this fadelist binary instead of a release build of this checkout
#   FADELIST_BENCH_BASE_BIN  a second fadelist binary measured in the same rounds as "fadelist-base"
#                            (e.g. a build of an older commit: git worktree add /tmp/b REV &&
#                            (cd /tmp/b && cargo build --release -p fadelist))
#   FADELIST_BENCH_ROUNDS    rounds (default 5, --quick 3)
#   FADELIST_BENCH_RESULTS   where to write the report (default benches/results/load-latest[-quick].md)
#   FADELIST_BENCH_JSON      also write the medians per server as one JSON object to this file (the
#                            machine-readable output benches/run.sh reads for its load rows)
#   FADELIST_BENCH_KEEP=1    keep the work folder (server logs, JSON) after a successful run
set -euo pipefail
BENCH_TAG=load
# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_args "BENCH" "$@"
unset FADELIST_ADMIN_TOKEN   # no admin API in these runs
if ((QUICK)); then
    MODE=quick; IPS=150000; RANGES=2000; DOMAINS=30000; IP6=3000; ROUNDS=${FADELIST_BENCH_ROUNDS:-3}
else
    MODE=full; IPS=1500000; RANGES=20000; DOMAINS=300000; IP6=30000; ROUNDS=${FADELIST_BENCH_ROUNDS:-5}
fi
LOAD_LIMIT=60
SERVER_LIMIT=600
RESULTS=${FADELIST_BENCH_RESULTS:-$REPO/benches/results/load-latest$( ((QUICK)) && echo -quick || true).md}

bench_work fadelist-load
JL=$WORK/results.jsonl
: >"$JL"
T_BEGIN=$(date +%s)

# ---------------------------------------------------------------- tools, binaries
need_tools rbldnsd:rbldnsd dig:dnsutils taskset:util-linux
RBLDNSD=$(cmd_path rbldnsd)
command -v python3 >/dev/null || die "python3 is required (gen-data.py and the report)"
build_fadelist
VARIANTS=(rbldnsd fadelist)
declare -A BIN DESC
cp "$FADELIST" "$WORK/fadelist-new"
BIN[fadelist]=$WORK/fadelist-new
HEAD_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=$(GIT_OPTIONAL_LOCKS=0 git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | wc -l || echo 0)
if [[ -n ${FADELIST_BENCH_BIN:-} ]]; then
    DESC[fadelist]="binary \`$FADELIST_BENCH_BIN\`"
else
    DESC[fadelist]="release build of this checkout ($HEAD_REV$( ((DIRTY)) && echo " + $DIRTY uncommitted file(s)" || true))"
fi
if [[ -n ${FADELIST_BENCH_BASE_BIN:-} ]]; then
    [[ -x $FADELIST_BENCH_BASE_BIN ]] || die "FADELIST_BENCH_BASE_BIN=$FADELIST_BENCH_BASE_BIN is not an executable"
    cp "$FADELIST_BENCH_BASE_BIN" "$WORK/fadelist-base"
    BIN[fadelist-base]=$WORK/fadelist-base
    DESC[fadelist-base]="binary \`$FADELIST_BENCH_BASE_BIN\`"
    VARIANTS+=(fadelist-base)
fi
bench_pinning

# ---------------------------------------------------------------- data
bench_data "load-$MODE" --ips "$IPS" --ranges "$RANGES" --domains "$DOMAINS" --queries 1000
IP6_FILE=$DATA/ip6tset.txt
if [[ ! -s $IP6_FILE || $(cat "$DATA/.ip6" 2>/dev/null) != "$IP6" ]]; then
    log "writing $IP6 IPv6 /64s to $IP6_FILE"
    python3 - "$IP6" "$IP6_FILE" <<'EOF'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(6891)
nets = {}
while len(nets) < n:
    # global unicast, away from 2001::/16 (special-purpose blocks) and 2002::/16 (6to4)
    nets[(rng.randrange(0x2400, 0x2c00) << 48) | rng.getrandbits(48)] = None
with open(path, "w") as f:
    f.write("# written by benches/load.sh (seed 6891): IPv6 /64s for ip6tset\n")
    f.write("$SOA 3600 ns1.rbl.example hostmaster.rbl.example 0 600 300 86400 300\n")
    f.write("$NS 3600 ns1.rbl.example\n")
    f.write(":127.0.0.2:Listed, see https://rbl.example/lookup?ip=$\n")
    for x in nets:
        f.write("%x:%x:%x:%x\n" % (x >> 48, (x >> 32) & 0xffff, (x >> 16) & 0xffff, x & 0xffff))
EOF
    echo "$IP6" >"$DATA/.ip6"
fi
chmod a+rX "$DATA" "$DATA"/*
# Names with known answers: a listed /32 (PROBE, from lib.sh), a host in a listed /64, a listed
# domain, an unlisted address, and the address the reload adds (unlisted until then).
PROBE6=$(awk '/^[0-9a-f]+:[0-9a-f]+:[0-9a-f]+:[0-9a-f]+$/ {print; exit}' "$IP6_FILE" | python3 -c '
import ipaddress, sys
g = sys.stdin.read().strip().split(":")
a = ipaddress.IPv6Address(":".join(g) + "::1")
print(".".join(reversed(a.exploded.replace(":", ""))) + ".iprbl.test")')
PROBE_DOM=$(awk 'NR > 1 && /^[a-z0-9][a-z0-9.-]*$/ && $0 != "test" {print; exit}' "$DATA/dnset.txt").urirbl.test
UNLISTED=$(sed -n 1p "$DATA/queries-unlisted.txt" | cut -d' ' -f1)
NEW_NAME=$(sed -n 2p "$DATA/queries-unlisted.txt" | cut -d' ' -f1)
NEW_IP=$(awk -F. '{print $4"."$3"."$2"."$1}' <<<"${NEW_NAME%.iprbl.test}")
[[ -n $PROBE6 && $PROBE_DOM != .urirbl.test && -n $UNLISTED && -n $NEW_IP ]] || die "could not pick the probe names"
N4=$(grep -cE '^[0-9]' "$DATA/ip4set.txt"); N6=$(grep -cE '^[0-9a-f]+:' "$IP6_FILE"); ND=$(grep -cE '^[a-z0-9]' "$DATA/dnset.txt")
log "data: $N4 IPv4 lines, $N6 IPv6 lines, $ND domain lines; probes $PROBE, $PROBE6, $PROBE_DOM"

printf '# written by benches/load.sh: reloads on SIGHUP only\n[server]\nreload_interval = "1h"\n' >"$WORK/fadelist.toml"

# ---------------------------------------------------------------- one start
a_of() { "${PIN_CLIENT[@]}" dig @127.0.0.1 -p "$1" +norec +tries=1 +time="${3:-2}" +short "$2" A 2>/dev/null || true; }
status_of() { "${PIN_CLIENT[@]}" dig @127.0.0.1 -p "$1" +norec +tries=1 +time=2 "$2" A 2>/dev/null | grep -o 'status: [A-Z]*' | cut -d' ' -f2; }
ticks_s() { calc "$1 / $(getconf CLK_TCK)" 2; }

# measure VARIANT ROUND(0 = warm-up): start, load, guard, reload, stop; appends one JSON line
measure() {
    local v=$1 r=$2 dir=$WORK/data-$v port slog t0 t1 c0 c1 hwm rss hwm2 rss2 load load_cpu deadline
    rm -rf "$dir"; mkdir -p "$dir"
    cp "$DATA/ip4set.txt" "$DATA/dnset.txt" "$IP6_FILE" "$dir/"
    chmod a+rX "$dir" "$dir"/*
    port=$(free_port)
    slog=$WORK/$v-r$r.log
    if [[ $v == rbldnsd ]]; then
        spawn "$slog" listed "$port" "$PROBE" "$RBLDNSD" -n -c 0 -b "127.0.0.1/$port" -w "$dir" \
            iprbl.test:ip4set:ip4set.txt iprbl.test:ip6tset:ip6tset.txt urirbl.test:dnset:dnset.txt
    else
        spawn "$slog" listed "$port" "$PROBE" "${BIN[$v]}" serve \
            --config "$WORK/fadelist.toml" --db "$WORK/$v.sqlite" --dns-listen "127.0.0.1:$port" \
            --http-listen 127.0.0.1:0 --udp-workers 1 --zone "iprbl.test:ip4set:$dir/ip4set.txt" \
            --zone "iprbl.test:ip6tset:$dir/ip6tset.txt" --zone "urirbl.test:dnset:$dir/dnset.txt"
    fi
    load=$T_LOAD
    load_cpu=$(ticks_s "$(cpu_ticks "$SPID")")
    hwm=$(proc_kb "$SPID" VmHWM); rss=$(proc_kb "$SPID" VmRSS)
    [[ $(a_of "$port" "$PROBE6") == 127.* ]] || die "$v: the listed IPv6 name $PROBE6 does not answer 127.x"
    [[ $(a_of "$port" "$PROBE_DOM") == 127.* ]] || die "$v: the listed domain $PROBE_DOM does not answer 127.x"
    [[ $(status_of "$port" "$UNLISTED") == NXDOMAIN ]] || die "$v: the unlisted $UNLISTED is not NXDOMAIN"
    [[ $(status_of "$port" "$NEW_NAME") == NXDOMAIN ]] || die "$v: $NEW_NAME is listed before the reload"
    # A new modification second for rbldnsd's check; the server settles (fadelist trims its heap).
    sleep 1.2
    rss=$(proc_kb "$SPID" VmRSS)
    echo 5 >"/proc/$SPID/clear_refs" || die "cannot reset VmHWM of $SPID (needs root or the same user)"
    { cat "$dir/ip4set.txt"; echo "$NEW_IP"; } >"$dir/.ip4set.new"
    chmod a+r "$dir/.ip4set.new"
    mv "$dir/.ip4set.new" "$dir/ip4set.txt"
    c0=$(cpu_ticks "$SPID")
    t0=$(now)
    kill -HUP "$SPID"
    deadline=$(calc "$t0 + $LOAD_LIMIT")
    until [[ $(a_of "$port" "$NEW_NAME" 5) == 127.* ]]; do
        kill -0 "$SPID" 2>/dev/null || { tail -20 "$slog" >&2; die "$v exited during the reload (log $slog)"; }
        (($(calc "$(now) > $deadline" 0))) && die "$v: $NEW_NAME not answered ${LOAD_LIMIT}s after SIGHUP (log $slog)"
        sleep 0.02
    done
    t1=$(now)
    c1=$(cpu_ticks "$SPID")
    sleep 0.3
    hwm2=$(proc_kb "$SPID" VmHWM); rss2=$(proc_kb "$SPID" VmRSS)
    [[ $(a_of "$port" "$PROBE") == 127.* ]] || die "$v: $PROBE no longer answers after the reload"
    stop_server "$SPID" "$TPID"
    rm -rf "$dir"
    log "$v round $r: load $load s (CPU $load_cpu s), VmHWM $((hwm / 1024)) MiB, RSS $((rss / 1024)) MiB;" \
        "reload $(calc "$t1 - $t0" 3) s (CPU $(ticks_s $((c1 - c0))) s), VmHWM $((hwm2 / 1024)) MiB, RSS after $((rss2 / 1024)) MiB"
    ((r > 0)) || return 0
    printf '{"round": %d, "server": "%s", "load_s": %s, "load_cpu_s": %s, "hwm_kb": %d, "rss_kb": %d, "reload_s": %s, "reload_cpu_s": %s, "reload_hwm_kb": %d, "reload_rss_kb": %d}\n' \
        "$r" "$v" "$load" "$load_cpu" "$hwm" "$rss" "$(calc "$t1 - $t0" 3)" "$(ticks_s $((c1 - c0)))" "$hwm2" "$rss2" >>"$JL"
}

# ---------------------------------------------------------------- rounds
log "warm-up start of each server (not counted)"
for v in "${VARIANTS[@]}"; do measure "$v" 0; done
for r in $(seq "$ROUNDS"); do
    for v in "${VARIANTS[@]}"; do measure "$v" "$r"; done
done

# ---------------------------------------------------------------- report
export_machine_notes
RB_VER=$(dpkg-query -W -f='${Version}' rbldnsd 2>/dev/null || echo '?')
export RB_VER CMDLINE ENV_NOTE MODE ROUNDS PINNING N4 N6 ND IPS RANGES DOMAINS IP6
export DESC_NEW="${DESC[fadelist]}; $("${BIN[fadelist]}" --version 2>/dev/null || echo '?')"
export DESC_BASE="${DESC[fadelist-base]:-}${BIN[fadelist-base]:+; $("${BIN[fadelist-base]:-true}" --version 2>/dev/null || echo '?')}"
export TOTAL_S=$(($(date +%s) - T_BEGIN))
mkdir -p "$(dirname "$RESULTS")"
python3 - "$JL" >"$WORK/report.md" <<'EOF'
import json, os, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
env = os.environ
servers = [s for s in ("rbldnsd", "fadelist", "fadelist-base") if any(r["server"] == s for r in rows)]
def med(s, k):
    return statistics.median(r[k] for r in rows if r["server"] == s)
MIB = 1024.0
metrics = [  # key, label, scale, decimals, target (fadelist / rbldnsd)
    ("load_s", "load: start → first answer (s)", 1, 2, 1.0),
    ("hwm_kb", "load: peak RSS, VmHWM (MiB)", MIB, 1, 1.0),
    ("reload_s", "reload: SIGHUP → new data answered (s)", 1, 2, 1.0),
    ("reload_hwm_kb", "reload: peak RSS during the reload, VmHWM after a reset (MiB)", MIB, 1, 1.0),
    ("load_cpu_s", "load: server CPU by the first answer (s)", 1, 2, None),
    ("reload_cpu_s", "reload: server CPU of the reload (s)", 1, 2, None),
    ("rss_kb", "RSS serving, 1.2 s after load (MiB)", MIB, 1, None),
    ("reload_rss_kb", "RSS after the reload (MiB)", MIB, 1, None),
]
head = "| metric | " + " | ".join(servers) + " | fadelist ÷ rbldnsd | target | met? |"
if "fadelist-base" in servers:
    head += " fadelist-base ÷ rbldnsd | fadelist ÷ fadelist-base |"
out = ["## Loading and reloading at edge scale: fadelist vs rbldnsd", "",
       "Medians of %s rounds (servers alternating in each round); ratio = fadelist ÷ rbldnsd." % env["ROUNDS"], "",
       head, "|---|" + "--:|" * len(servers) + "--:|---|:-:|" + ("--:|--:|" if "fadelist-base" in servers else "")]
for key, label, scale, dec, target in metrics:
    vals = {s: med(s, key) for s in servers}
    ratio = vals["fadelist"] / vals["rbldnsd"] if vals["rbldnsd"] else float("nan")
    cells = ["%.*f" % (dec, vals[s] / scale) for s in servers]
    line = "| %s | %s | **%.2f×** | %s | %s |" % (
        label, " | ".join(cells), ratio,
        "≤ %.1f×" % target if target else "(info)",
        ("**yes**" if ratio <= target else "**NO**") if target else "")
    if "fadelist-base" in servers:
        rb = vals["fadelist-base"] / vals["rbldnsd"] if vals["rbldnsd"] else float("nan")
        nb = vals["fadelist"] / vals["fadelist-base"] if vals["fadelist-base"] else float("nan")
        line += " %.2f× | %.2f× |" % (rb, nb)
    out.append(line)
out += ["",
        "- command: `%s`%s (%s mode, total %s s)" % (env["CMDLINE"], (" with " + env["ENV_NOTE"].strip()) if env["ENV_NOTE"].strip() else "", env["MODE"], env["TOTAL_S"]),
        "- date: %s; rbldnsd %s" % (env["DATE"], env["RB_VER"]),
        "- fadelist: %s" % env["DESC_NEW"]]
if env.get("DESC_BASE"):
    out.append("- fadelist-base: %s" % env["DESC_BASE"])
out += ["- machine: %s CPU, %s, %s GiB RAM, %s; load average at the end %s; %s" % (
            os.cpu_count(), env["CPU_MODEL"], env["MEM_GIB"], env["KERNEL"], env["LOADAVG"], env["PINNING"]),
        "- data: gen-data.py --ips %s --ranges %s --domains %s (seed 5782) and %s IPv6 /64s written by load.sh (seed 6891): "
        "%s IPv4 lines in ip4set.txt, %s in ip6tset.txt, %s domains in dnset.txt; zones iprbl.test (ip4set + ip6tset), urirbl.test (dnset)" % (
            env["IPS"], env["RANGES"], env["DOMAINS"], env["IP6"], env["N4"], env["N6"], env["ND"]),
        "- method: see the header of benches/load.sh (load = start → first A answer for a listed /32, dig every 20 ms; "
        "reload = SIGHUP after replacing ip4set.txt → the added address answered; VmHWM of the reload after `echo 5 > /proc/PID/clear_refs`). "
        "rbldnsd runs without -f: it does not answer while it reloads; fadelist answers from the old data meanwhile.",
        "", "### Every run", "",
        "| round | server | load s | load CPU s | VmHWM MiB | RSS MiB | reload s | reload CPU s | reload VmHWM MiB | RSS after reload MiB |",
        "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
for r in rows:
    out.append("| %d | %s | %.2f | %.2f | %.1f | %.1f | %.3f | %.2f | %.1f | %.1f |" % (
        r["round"], r["server"], r["load_s"], r["load_cpu_s"], r["hwm_kb"] / MIB, r["rss_kb"] / MIB,
        r["reload_s"], r["reload_cpu_s"], r["reload_hwm_kb"] / MIB, r["reload_rss_kb"] / MIB))
print("\n".join(out))
if env.get("FADELIST_BENCH_JSON"):  # medians per server, for benches/run.sh
    summary = {"bench": "load", "mode": env["MODE"], "rounds": int(env["ROUNDS"]), "anchor": "rbldnsd",
               "rbldnsd_version": env["RB_VER"],
               "data": {"ipv4_lines": int(env["N4"]), "ipv6_lines": int(env["N6"]), "domain_lines": int(env["ND"]),
                        "gen_ips": int(env["IPS"]), "gen_ranges": int(env["RANGES"]), "gen_domains": int(env["DOMAINS"]),
                        "ipv6_nets": int(env["IP6"])},
               "median": {s: {key: med(s, key) for key, *_ in metrics} for s in servers}}
    with open(env["FADELIST_BENCH_JSON"], "w") as f:
        json.dump(summary, f)
EOF
cp "$WORK/report.md" "$RESULTS"
cat "$WORK/report.md"
log "report saved to $RESULTS (total $(($(date +%s) - T_BEGIN)) s)"
OK=1
