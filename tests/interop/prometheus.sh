#!/usr/bin/env bash
# fadelist's Prometheus metrics, read by the real Prometheus.
#
#   1. fadelist serves two data-file zones (iprbl.test: ip4set, urirbl.test:
#      dnset) with [metrics] listen on a port of its own;
#   2. `promtool check metrics` accepts what GET /metrics returns;
#   3. a Prometheus (Debian's, own configuration, scraping every second)
#      scrapes fadelist;
#   4. dnsperf runs a query file of known names once over UDP and once over
#      TCP: listed and unlisted names in both zones, apex SOA queries and
#      names outside every zone;
#   5. through Prometheus's HTTP API, the counters equal what dnsperf sent
#      and what it got back, exactly: queries per protocol and zone,
#      responses per protocol, zone and response code (NOERROR, NXDOMAIN,
#      REFUSED), the latency histogram's count; plus up, build info, the
#      zone serials and the listings per zone.
#
# Counts are compared as the difference from a scrape taken just before
# dnsperf (the start-up check's own dig queries are counted too).
#
# Usage:  tests/interop/prometheus.sh
#   FADELIST_BIN=/path/to/fadelist   use this binary instead of building
#   PROMETHEUS_TIMEOUT=120           bound (seconds) for everything after the
#                                    build and the package installation
#   PROMETHEUS_KEEP=1                keep the temporary directory
#
# Installs prometheus (with promtool), dnsperf and dnsutils with apt-get when
# one of their commands is missing (root or passwordless sudo; apt does not
# start Prometheus's system service). Everything listens on 127.0.0.1, on
# free ports; every process started here is stopped on exit, also on
# failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

info() { printf 'INFO  %s\n' "$*"; }
section() { printf '\n=== %s === (t=%ds)\n' "$*" "$SECONDS"; }
# detail LINE...: indented lines under a FAIL.
detail() { (($#)) && printf '%s\n' "$@" | sed 's/^/        /'; return 0; }

# ----------------------------------------------------------------------------
section "0. tools"
TOOLS=(prometheus promtool dnsperf dig curl python3 timeout perl)
need_install=0
for cmd in "${TOOLS[@]}"; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        info "missing command: $cmd"
        need_install=1
    fi
done
if ((need_install)); then
    SUDO=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || { echo "FAIL  packages missing and not root (no sudo)"; echo "RESULT: FAIL"; exit 1; }
        SUDO=(sudo -n)
    fi
    info "installing prometheus dnsperf dnsutils curl from Debian"
    # Keep apt from starting Prometheus's system service (it would take
    # port 9090 and scrape on its own); the test runs its own Prometheus.
    policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
        "${SUDO[@]}" chmod 755 "$policy"
    fi
    install_rc=0
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            prometheus dnsperf dnsutils curl || install_rc=$?
    [[ -z $policy ]] || "${SUDO[@]}" rm -f "$policy"
    if ((install_rc != 0)); then
        echo "FAIL  apt-get failed (exit $install_rc)"
        echo "RESULT: FAIL"
        exit 1
    fi
fi
for cmd in "${TOOLS[@]}"; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "FAIL  command still missing after install: $cmd"
        echo "RESULT: FAIL"
        exit 1
    fi
done
info "$(prometheus --version 2>&1 | head -n1); $(dnsperf -h 2>&1 | grep -m1 -i version || echo dnsperf)"

# ----------------------------------------------------------------------------
# The fadelist binary

BIN=${FADELIST_BIN:-}
if [[ -z $BIN ]]; then
    section "build"
    cargo build --release --locked -p fadelist
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/fadelist"
fi
[[ -x $BIN ]] || { echo "FAIL  no fadelist binary at $BIN"; echo "RESULT: FAIL"; exit 1; }
info "fadelist binary: $BIN"

# ----------------------------------------------------------------------------
# Temp dir, processes, cleanup, watchdog

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-prometheus.XXXXXX")
# shellcheck source=../lib.sh
source tests/lib.sh

TEST_TIMEOUT=${PROMETHEUS_TIMEOUT:-120}
LIFETIME=$((TEST_TIMEOUT + 30)) # every background process ends by itself after this
PROM_PID=
WATCHDOG=
FAILED=()
fail_d() { # fail_d DESC DETAIL...: fail with detail lines
    fail "$1"
    FAILED+=("$1")
    shift
    detail "$@"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -z $WATCHDOG ]] || kill "$WATCHDOG" 2>/dev/null || true
    if [[ -n $PROM_PID ]]; then
        kill -TERM "$PROM_PID" 2>/dev/null || true
        local n
        for ((n = 0; n < 50; n++)); do
            kill -0 "$PROM_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$PROM_PID" 2>/dev/null || true
    fi
    stop_server || true
    if ((rc != 0 || fails > 0)); then
        local f
        for f in "$WORK/serve.err" "$WORK/prometheus.log"; do
            [[ -s $f ]] || continue
            printf '\n--- last lines of %s ---\n' "$f"
            tail -n 25 "$f" | sed 's/^/    /'
        done
    fi
    if [[ -n ${PROMETHEUS_KEEP:-} ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    if ((rc != 0 && fails == 0)); then
        printf 'FAIL  the script stopped early (exit status %d): see above\n' "$rc"
        fails=1
    fi
    printf '\n=== prometheus summary: %d passed, %d failed ===\n' "$passes" "$fails"
    local f
    for f in "${FAILED[@]}"; do printf '  failed: %s\n' "$f"; done
    if ((rc == 0 && fails > 0)); then rc=1; fi
    if ((rc == 0)); then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT
trap 'echo "FAIL  overall timeout of ${TEST_TIMEOUT}s"; fails=$((fails + 1)); exit 124' TERM
perl -e 'sleep shift; kill "TERM", shift' "$TEST_TIMEOUT" "$$" &
WATCHDOG=$!

# ----------------------------------------------------------------------------
section "1. data, queries, fadelist"

pick_ports
MPORT=$(free_port)
PPORT=$(free_port)
while [[ $MPORT == "$DPORT" || $MPORT == "$HPORT" ]]; do MPORT=$(free_port); done
while [[ $PPORT == "$DPORT" || $PPORT == "$HPORT" || $PPORT == "$MPORT" ]]; do PPORT=$(free_port); done

# The data, the query file and the expected counts (a JSON object) from one
# generator, so they cannot disagree: per zone, how many names of each
# kind the file asks, and which response code each kind gets.
python3 - "$WORK" <<'EOF'
import json, sys
work = sys.argv[1]
listed4 = [f"10.1.{i // 200}.{i % 200 + 1}" for i in range(300)]
unlisted4 = [f"10.2.{i // 200}.{i % 200 + 1}" for i in range(200)]
listed_d = [f"spam{i}.example" for i in range(50)]
unlisted_d = [f"clean{i}.example" for i in range(70)]
with open(f"{work}/iprbl.ip4set", "w") as f:
    f.write(":127.0.0.2:Listed, see https://bl.test/lookup?q=$\n")
    f.write("\n".join(listed4) + "\n")
with open(f"{work}/urirbl.dnset", "w") as f:
    f.write(":127.0.0.2:Listed, see https://bl.test/lookup?q=$\n")
    f.write("\n".join(listed_d) + "\n")
rev = lambda ip: ".".join(reversed(ip.split(".")))
queries = []
queries += [f"{rev(ip)}.iprbl.test A" for ip in listed4]
queries += [f"{rev(ip)}.iprbl.test A" for ip in unlisted4]
queries += ["iprbl.test SOA"] * 10
queries += [f"{d}.urirbl.test A" for d in listed_d]
queries += [f"{d}.urirbl.test TXT" for d in unlisted_d]
queries += [f"host{i}.elsewhere.example A" for i in range(40)]
# Interleaved, so every batch mixes zones and codes.
queries = [q for pair in zip(queries[::2], queries[1::2]) for q in pair] + (
    [queries[-1]] if len(queries) % 2 else [])
with open(f"{work}/queries.txt", "w") as f:
    f.write("\n".join(queries) + "\n")
expected = {
    ("iprbl.test", "NOERROR"): 300 + 10,
    ("iprbl.test", "NXDOMAIN"): 200,
    ("urirbl.test", "NOERROR"): 50,
    ("urirbl.test", "NXDOMAIN"): 70,
    ("other", "REFUSED"): 40,
}
json.dump({"total": len(queries),
           "responses": [[z, r, n] for (z, r), n in expected.items()]},
          open(f"{work}/expected.json", "w"))
EOF
TOTAL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$WORK/expected.json")
info "query file: $TOTAL queries (listed, unlisted, apex, outside every zone)"

cat >"$WORK/fadelist.toml" <<EOF
[metrics]
listen = "127.0.0.1:$MPORT"

[[zone]]
name = "iprbl.test"
[[zone.dataset]]
type = "ip4set"
files = ["$WORK/iprbl.ip4set"]

[[zone]]
name = "urirbl.test"
[[zone.dataset]]
type = "dnset"
files = ["$WORK/urirbl.dnset"]
EOF
start_server "$WORK/fadelist.toml" "$WORK/fadelist.sqlite" "$LIFETIME"
if wait_up; then pass "fadelist serves DNS and HTTP"; else fail_d "fadelist serves DNS and HTTP" "$(tail -n 5 "$WORK/serve.err")"; exit 1; fi
if grep -q "metrics listening on http://127.0.0.1:$MPORT/metrics" "$WORK/serve.out"; then
    pass "fadelist announces its metrics listener"
else
    fail_d "fadelist announces its metrics listener" "$(cat "$WORK/serve.out")"
fi
METRICS="http://127.0.0.1:$MPORT/metrics"

# ----------------------------------------------------------------------------
section "2. promtool check metrics"
ctype=$(curl -s -o "$WORK/metrics.txt" -w '%{content_type}' "$METRICS")
if [[ $ctype == "text/plain; version=0.0.4"* ]]; then
    pass "content type is the text format 0.0.4 ($ctype)"
else
    fail_d "content type is the text format 0.0.4" "got: $ctype"
fi
if promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1; then
    pass "promtool check metrics accepts the exposition ($(grep -c '^# TYPE' "$WORK/metrics.txt") families)"
else
    fail_d "promtool check metrics accepts the exposition" "$(head -n 20 "$WORK/promtool.out")"
fi

# ----------------------------------------------------------------------------
section "3. Prometheus"
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fadelist
    static_configs:
      - targets: ["127.0.0.1:$MPORT"]
EOF
promtool check config "$WORK/prometheus.yml" >/dev/null
timeout "$LIFETIME" prometheus --config.file="$WORK/prometheus.yml" \
    --storage.tsdb.path="$WORK/tsdb" --web.listen-address="127.0.0.1:$PPORT" \
    >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
PROM="http://127.0.0.1:$PPORT"
# promql QUERY: the value of an instant query's single result, or "none".
promql() {
    curl -s --get --data-urlencode "query=$1" "$PROM/api/v1/query" | python3 -c '
import json, sys
r = json.load(sys.stdin)
res = r.get("data", {}).get("result", []) if r.get("status") == "success" else []
print(res[0]["value"][1] if len(res) == 1 else "none")'
}
if eventually 300 0.1 curl -sf "$PROM/-/ready" -o /dev/null; then
    pass "Prometheus is ready"
else
    fail_d "Prometheus is ready" "$(tail -n 5 "$WORK/prometheus.log")"
    exit 1
fi
up_is_1() { [[ $(promql 'up{job="fadelist"}') == 1 ]]; }
if eventually 150 0.2 up_is_1; then
    pass "Prometheus scrapes fadelist (up == 1)"
else
    fail_d "Prometheus scrapes fadelist (up == 1)" "up: $(promql 'up{job="fadelist"}')"
fi

# ----------------------------------------------------------------------------
section "4. dnsperf, UDP then TCP"
# Counters before the runs, straight from fadelist.
curl -s "$METRICS" >"$WORK/before.txt"
run_dnsperf() { # run_dnsperf MODE OUT: the query file once, paced so nothing is lost
    timeout 60 dnsperf -m "$1" -s 127.0.0.1 -p "$DPORT" -d "$WORK/queries.txt" -n 1 -c 1 -T 1 \
        -Q 3000 -t 5 >"$2" 2>&1
}
for mode in udp tcp; do
    if run_dnsperf "$mode" "$WORK/dnsperf-$mode.out"; then
        pass "dnsperf over $mode: $(grep -E 'Queries (sent|completed|lost)' "$WORK/dnsperf-$mode.out" | tr -s ' ' | paste -sd ';' -)"
    else
        fail_d "dnsperf over $mode" "$(tail -n 15 "$WORK/dnsperf-$mode.out")"
    fi
done

# ----------------------------------------------------------------------------
section "5. the series, through Prometheus's API"
# The expected value of every checked series: the count before the runs
# plus what dnsperf sent and got (its own counts, checked against the
# query file's expectations first).
if python3 - "$WORK" >"$WORK/checks.tsv" 2>"$WORK/checks.err" <<'EOF'
import json, re, sys
work = sys.argv[1]
exp = json.load(open(f"{work}/expected.json"))
before = {}
for line in open(f"{work}/before.txt"):
    if line.startswith("#") or not line.strip():
        continue
    series, value = line.rsplit(" ", 1)
    before[series] = float(value)
def series(name, **labels):
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
problems = []
for mode in ("udp", "tcp"):
    out = open(f"{work}/dnsperf-{mode}.out").read()
    sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
    codes = {k: int(v) for k, v in re.findall(r"([A-Z]+) (\d+) \(", out.split("Response codes:", 1)[1].splitlines()[0])}
    if sent != exp["total"] or lost != 0:
        problems.append(f"{mode}: dnsperf sent {sent} and lost {lost}; the file has {exp['total']}")
    by_code = {}
    for zone, rcode, n in exp["responses"]:
        by_code[rcode] = by_code.get(rcode, 0) + n
    if codes != by_code:
        problems.append(f"{mode}: dnsperf got {codes}, the file expects {by_code}")
    # What Prometheus must show: before + this run's counts.
    zones = {}
    for zone, rcode, n in exp["responses"]:
        zones[zone] = zones.get(zone, 0) + n
        s = series("fadelist_dns_responses_total", proto=mode, zone=zone, rcode=rcode)
        print(f"responses {mode} {zone} {rcode}\t{s}\t{before.get(s, 0) + n:g}")
    for zone, n in zones.items():
        s = series("fadelist_dns_requests_total", proto=mode, zone=zone)
        print(f"requests {mode} {zone}\t{s}\t{before.get(s, 0) + n:g}")
    s = series("fadelist_dns_request_duration_seconds_count", proto=mode)
    print(f"latency histogram count {mode}\t{s}\t{before.get(s, 0) + sent:g}")
    # Nothing else answered with another code.
    for rcode in ("SERVFAIL", "FORMERR", "NOTIMP", "BADVERS", "OTHER"):
        for zone in ("iprbl.test", "urirbl.test", "other"):
            s = series("fadelist_dns_responses_total", proto=mode, zone=zone, rcode=rcode)
            print(f"no {rcode} {mode} {zone}\t{s}\t{before.get(s, 0):g}")
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
then
    pass "dnsperf sent the whole file over UDP and TCP, lost nothing, got the expected codes"
else
    fail_d "dnsperf sent the whole file over UDP and TCP, lost nothing, got the expected codes" \
        "$(cat "$WORK/checks.err")"
fi

# Wait until Prometheus has scraped the final counts (one scrape per second).
all_match() {
    local desc s want got
    while IFS=$'\t' read -r desc s want; do
        got=$(promql "$s")
        [[ $got == "$want" ]] || return 1
    done <"$WORK/checks.tsv"
}
if ! eventually 100 0.3 all_match; then
    info "Prometheus does not show every expected value (details below)"
fi
while IFS=$'\t' read -r desc s want; do
    got=$(promql "$s")
    if [[ $got == "$want" ]]; then
        pass "$desc = $want"
    else
        fail_d "$desc" "series: $s" "Prometheus: $got, expected: $want"
    fi
done <"$WORK/checks.tsv"

check_value() { # check_value DESC QUERY WANT
    local got
    got=$(promql "$2")
    if [[ $got == "$3" ]]; then pass "$1"; else fail_d "$1" "query: $2" "got: $got, expected: $3"; fi
}
check_value "build info in Prometheus" 'count(fadelist_build_info == 1)' 1
check_value "listings of iprbl.test from its file: 300" 'fadelist_listings{zone="iprbl.test",source="file"}' 300
check_value "listings of urirbl.test from its file: 50" 'fadelist_listings{zone="urirbl.test",source="file"}' 50
check_value "a serial per zone" 'count(fadelist_zone_serial > 0)' 2
check_value "no query name or client address in any label" \
    'count({job="fadelist",zone=~".*(example|10\\.|127\\.).*"}) or vector(0)' 0

# promtool again, on the counts after traffic (histogram buckets filled).
curl -s "$METRICS" >"$WORK/after.txt"
if promtool check metrics <"$WORK/after.txt" >"$WORK/promtool-after.out" 2>&1; then
    pass "promtool check metrics accepts the exposition after the runs"
else
    fail_d "promtool check metrics after the runs" "$(head -n 20 "$WORK/promtool-after.out")"
fi

# ----------------------------------------------------------------------------
section "shutdown"
if stop_server; then pass "fadelist exits with status 0 on SIGTERM"; else fail_d "fadelist exits with status 0 on SIGTERM" "non-zero exit"; fi
