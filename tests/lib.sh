# shellcheck shell=bash
# Shared steps of the shell tests that run the real server against a
# report-fed configuration (tests/interop/report-flow.sh,
# tests/browser/run.sh): the PASS/FAIL tally, free ports, the
# configuration, starting the server, waiting until it answers, dig checks,
# stopping it.
#
# Source it with bash after `set -euo pipefail`; set BIN (the fadelist
# binary) and WORK (a scratch folder, removed by the caller) before calling
# the functions. The server's output goes to $WORK/serve.out and
# $WORK/serve.err.

# The report-fed zones and the fixture-date policy, shared with the Rust
# tests of the binary (crates/fadelist/tests/durability.rs).
REPORT_FED_TOML=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/crates/fadelist/tests/common/report-fed.toml

# --- the tally ---------------------------------------------------------------
fails=0
passes=0
pass() { printf 'PASS  %s\n' "$*"; passes=$((passes + 1)); }
fail() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }

# --- ports and configuration -------------------------------------------------
# free_port: a loopback port free for TCP and UDP, below the ephemeral
# range. A port from the ephemeral range can also be a client's source port:
# dig, sending from the very port a server listens on, once received its own
# query as the "answer" (";; Warning: query response not set").
free_port() {
    python3 -c '
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(500):
    p = random.randint(10000, max(10001, lo - 1))
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", p))
            s.close()
    except OSError:
        continue
    print(p)
    break
else:
    raise SystemExit("no free port below the ephemeral range")
'
}

# pick_ports: sets DPORT (DNS) and HPORT (HTTP) to two different free ports.
pick_ports() {
    DPORT=$(free_port)
    HPORT=$(free_port)
    while [[ $HPORT == "$DPORT" ]]; do HPORT=$(free_port); done
}

# write_config FILE [TABLES] [POLICY]: the report-fed configuration, with
# TABLES (e.g. "[web]" and its keys) before it and POLICY (more [policy]
# keys) after it. Listen addresses are not in it: start_server passes them.
write_config() {
    local file=$1 tables=${2:-} policy=${3:-}
    {
        if [[ -n $tables ]]; then printf '%s\n' "$tables"; fi
        cat "$REPORT_FED_TOML"
        if [[ -n $policy ]]; then printf '%s\n' "$policy"; fi
    } > "$file"
}

# reporter_token DB NAME [ARGS...]: adds a reporter trusting the fixture
# mails' relay network; prints its token.
reporter_token() {
    local db=$1
    shift
    timeout 20 "$BIN" reporter --db "$db" add "$@" --trusted 81.2.69.160/27 | sed -n 's/^token: //p'
}

# --- the server --------------------------------------------------------------
SERVER_PID=
# start_server CONFIG DB LIMIT: `fadelist serve` in the background on
# 127.0.0.1:$DPORT (DNS) and 127.0.0.1:$HPORT (HTTP), ended by `timeout`
# after LIMIT seconds in case nothing else ends it; sets SERVER_PID.
start_server() {
    timeout "$3" "$BIN" serve --config "$1" --db "$2" \
        --dns-listen "127.0.0.1:$DPORT" --http-listen "127.0.0.1:$HPORT" \
        > "$WORK/serve.out" 2> "$WORK/serve.err" &
    SERVER_PID=$!
}

# wait_up: true once the server has printed its HTTP address and answers
# the RFC 5782 test entry over DNS; false after 10 s or when it has exited.
wait_up() {
    local _
    for _ in $(seq 100); do
        if grep -q "HTTP listening on http://127.0.0.1:$HPORT" "$WORK/serve.out" 2>/dev/null \
            && [[ $(dns_status 2.0.0.127.iprbl.test) == NOERROR ]]; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# stop_server: SIGTERM, then the server's exit status (false when it was
# already gone). Clears SERVER_PID; does nothing when it is empty.
stop_server() {
    local pid=${SERVER_PID:-}
    SERVER_PID=
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || return 1
    wait "$pid" 2>/dev/null
}

# --- DNS with dig --------------------------------------------------------------
# dns_answer NAME [TYPE]: the answer's values (dig +short), type A by default.
dns_answer() { dig +short +tries=1 +time=1 @127.0.0.1 -p "$DPORT" "$1" "${2:-A}"; }
# dns_status NAME: the status of an A query for NAME (NOERROR, NXDOMAIN, ...).
dns_status() { dig +tries=1 +time=1 @127.0.0.1 -p "$DPORT" "$1" A | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }
# dns_answer_is NAME PATTERN: true when the A answer matches the glob PATTERN.
# shellcheck disable=SC2053 # a glob on purpose
dns_answer_is() { [[ $(dns_answer "$1") == $2 ]]; }
# dns_status_is NAME STATUS: true when an A query for NAME gets STATUS.
dns_status_is() { [[ $(dns_status "$1") == "$2" ]]; }

# eventually TRIES PAUSE COMMAND...: runs COMMAND up to TRIES times, PAUSE
# seconds apart, until it succeeds; false when it never does.
eventually() {
    local tries=$1 pause=$2 _
    shift 2
    for _ in $(seq "$tries"); do
        "$@" && return 0
        sleep "$pause"
    done
    return 1
}
