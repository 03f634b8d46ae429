#!/usr/bin/env bash
# Report-fed listing seen with dig: two reporters send the same spam with
# `fadelist report`, dig sees the source listed, time passes (a two-second
# half-life), dig sees NXDOMAIN. Also: one reporter alone never lists, and a
# bad token is refused by `fadelist report` with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${FADELIST_BIN:-}
if [[ -z $BIN ]]; then
    cargo build --release --locked -p fadelist
    BIN=$PWD/target/release/fadelist
fi
command -v dig >/dev/null || { echo "report-flow: dig is missing (apt-get install dnsutils)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-report-flow.XXXXXX")
PID=
cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

fails=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DPORT=$(free_port)
HPORT=$(free_port)
cat > "$WORK/fadelist.toml" <<TOML
[server]
dns_listen = ["127.0.0.1:$DPORT"]
http_listen = "127.0.0.1:$HPORT"
[ingest]
decay_interval = "200ms"
[policy]
half_life = "2s"
min_listing = "1s"
max_listing = "4s"
# The fixture mails are dated 2026.
max_report_age = "36500d"
[[zone]]
name = "iprbl.test"
feed = "ip"
[[zone]]
name = "urirbl.test"
feed = "domain"
TOML
DB=$WORK/db.sqlite
token() { "$BIN" reporter --db "$DB" add "$@" --trusted 81.2.69.160/27 | sed -n 's/^token: //p'; }
TA=$(token alice)
TB=$(token trap1 --kind trap)
[[ -n $TA && -n $TB ]] && pass "reporter add prints tokens" || fail "reporter add prints tokens"

timeout 120 "$BIN" serve --config "$WORK/fadelist.toml" --db "$DB" > "$WORK/serve.out" 2> "$WORK/serve.err" &
PID=$!
ask() { dig +short +tries=1 +time=1 @127.0.0.1 -p "$DPORT" "$1" "${2:-A}"; }
status() { dig +tries=1 +time=1 @127.0.0.1 -p "$DPORT" "$1" A | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }
for _ in $(seq 100); do [[ $(status 2.0.0.127.iprbl.test) == NOERROR ]] && break; sleep 0.1; done
[[ $(status 2.0.0.127.iprbl.test) == NOERROR ]] || { cat "$WORK/serve.err"; fail "server up"; exit 1; }

MAIL=tests/data/mail/spam-plain.eml
NAME=112.20.160.89.iprbl.test
"$BIN" report --server "http://127.0.0.1:$HPORT" --token "$TA" "$MAIL" > "$WORK/r1.json"
grep -q 'HTTP 202' "$WORK/r1.json" && pass "first report accepted (202)" || fail "first report accepted: $(head -c 300 "$WORK/r1.json")"
[[ $(status $NAME) == NXDOMAIN ]] && pass "one reporter alone: dig sees NXDOMAIN" || fail "one reporter alone lists"

# From standard input this time.
"$BIN" report --server "http://127.0.0.1:$HPORT" --token "$TB" < "$MAIL" > "$WORK/r2.json"
grep -q '"newly_listed":true' "$WORK/r2.json" && pass "second reporter lists (newly_listed)" || fail "second report: $(head -c 300 "$WORK/r2.json")"
seen=
for _ in $(seq 20); do [[ $(ask $NAME) == 127.0.0.2 ]] && { seen=1; break; }; sleep 0.05; done
[[ -n $seen ]] && pass "dig sees $NAME -> 127.0.0.2 within 1 s" || fail "dig does not see the listing"
ask $NAME TXT | grep -q 'lookup?q=89.160.20.112' && pass "TXT names the lookup URL" || fail "TXT: $(ask $NAME TXT)"
[[ $(ask cheap-meds-online.top.urirbl.test) == 127.0.0.2 ]] && pass "advertised domain listed in urirbl" || fail "domain not listed"

gone=
for _ in $(seq 150); do [[ $(status $NAME) == NXDOMAIN ]] && { gone=1; break; }; sleep 0.1; done
[[ -n $gone ]] && pass "time passes: dig sees NXDOMAIN again (decayed)" || fail "still listed after 15 s"

if "$BIN" report --server "http://127.0.0.1:$HPORT" --token wrong "$MAIL" > "$WORK/r3.json" 2>&1; then
    fail "a bad token must fail"
else
    grep -q 'HTTP 401' "$WORK/r3.json" && pass "bad token: HTTP 401, non-zero exit" || fail "bad token: $(cat "$WORK/r3.json")"
fi

kill "$PID"; wait "$PID" 2>/dev/null && pass "SIGTERM: clean exit" || fail "exit status after SIGTERM"
PID=
printf '\n=== report flow: %s ===\n' "$([[ $fails -eq 0 ]] && echo PASS || echo "FAIL ($fails)")"
exit $((fails > 0))
