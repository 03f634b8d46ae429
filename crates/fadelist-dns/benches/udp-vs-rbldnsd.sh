#!/usr/bin/env bash
# UDP throughput per server CPU-second: rbldnsd against fadelist's UDP
# modes (fast, hickory, null), side by side on the same data and queries.
#
#   crates/fadelist-dns/benches/udp-vs-rbldnsd.sh [DATA_DIR] [SECONDS] [ROUNDS]
#
# DATA_DIR comes from ../shared/bench/gen-data.py (default /tmp/bench-data,
# generated when missing). Needs rbldnsd, dnsperf, taskset and a release
# build of fadelist (cargo build --release -p fadelist). The server is
# pinned to CPU 1, dnsperf to CPU 0; each server answers with one worker.
# The machine is shared and noisy: compare the per-CPU-second column of
# runs made side by side, alternating, not absolute numbers.
set -euo pipefail

top=$(cd "$(dirname "$0")/../../.." && pwd)
data=${1:-/tmp/bench-data}
secs=${2:-10}
rounds=${3:-3}
queries=${QUERIES:-$data/queries.txt}
bin=$top/target/release/fadelist
port=5399

[ -f "$data/ip4set.txt" ] || python3 "$top/../shared/bench/gen-data.py" --outdir "$data"
[ -x "$bin" ] || { echo "build first: cargo build --release -p fadelist" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# CPU ticks (utime + stime) of a process.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Waits until the server answers (null mode answers REFUSED).
wait_up() {
  for _ in $(seq 1 300); do
    dig +tries=1 +time=1 -p "$port" @127.0.0.1 2.0.0.127.iprbl.test A 2>/dev/null |
      grep -Eq 'status: (NOERROR|REFUSED)' && return 0
    sleep 0.1
  done
  echo "server did not come up" >&2
  return 1
}

run() { # name, command...
  local name=$1
  shift
  taskset -c 1 "$@" >"$work/$name.log" 2>&1 &
  local pid=$!
  wait_up
  # Let the loading settle.
  sleep 1
  local pid_srv
  pid_srv=$(pgrep -P "$pid" -n 2>/dev/null || true)
  [ -n "$pid_srv" ] || pid_srv=$pid
  local t0
  t0=$(ticks "$pid_srv")
  taskset -c 0 dnsperf -s 127.0.0.1 -p "$port" -d "$queries" -l "$secs" -T 1 -t 1 -c 4 -q 100 >"$work/$name.perf" 2>&1
  local t1
  t1=$(ticks "$pid_srv")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local qps lost hz cpu
  qps=$(awk '/Queries per second/ {print $4}' "$work/$name.perf")
  lost=$(awk '/Queries lost/ {print $3, $4}' "$work/$name.perf")
  hz=$(getconf CLK_TCK)
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$secs" 'BEGIN {printf "%.2f", (b - a) / hz / s}')
  awk -v n="$name" -v q="$qps" -v c="$cpu" -v l="$lost" \
    'BEGIN {printf "%-14s %10.0f qps  cpu %5.2f  %10.0f qps/cpu-s  lost %s\n", n, q, c, (c > 0 ? q / c : 0), l}'
}

rbldnsd_cmd=(rbldnsd -n -b "127.0.0.1/$port" -w "$data"
  iprbl.test:ip4set:ip4set.txt urirbl.test:dnset:dnset.txt)
fadelist_cmd() {
  echo "$bin" serve --db "$work/f.sqlite" --data-dir "$data" \
    --dns-listen "127.0.0.1:$port" --http-listen 127.0.0.1:0 \
    -z iprbl.test:ip4set:ip4set.txt -z urirbl.test:dnset:dnset.txt \
    --udp-workers 1 --udp-mode "$1"
}

for r in $(seq 1 "$rounds"); do
  echo "== round $r ($secs s each)"
  run rbldnsd "${rbldnsd_cmd[@]}"
  # shellcheck disable=SC2046
  run fadelist-fast $(fadelist_cmd fast)
  # shellcheck disable=SC2046
  run fadelist-hickory $(fadelist_cmd hickory)
  # shellcheck disable=SC2046
  run fadelist-null $(fadelist_cmd null)
done
