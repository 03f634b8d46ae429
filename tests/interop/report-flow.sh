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
# shellcheck source=../lib.sh
source tests/lib.sh
cleanup() {
    stop_server || true
    rm -rf "$WORK"
}
trap cleanup EXIT

pick_ports
write_config "$WORK/fadelist.toml" '[ingest]
decay_interval = "200ms"' 'half_life = "2s"
min_listing = "1s"
max_listing = "4s"'
DB=$WORK/db.sqlite
TA=$(reporter_token "$DB" alice)
TB=$(reporter_token "$DB" trap1 --kind trap)
[[ -n $TA && -n $TB ]] && pass "reporter add prints tokens" || fail "reporter add prints tokens"

start_server "$WORK/fadelist.toml" "$DB" 120
wait_up || { cat "$WORK/serve.err"; fail "server up"; exit 1; }

MAIL=tests/data/mail/spam-plain.eml
NAME=112.20.160.89.iprbl.test
"$BIN" report --server "http://127.0.0.1:$HPORT" --token "$TA" "$MAIL" > "$WORK/r1.json"
grep -q 'HTTP 202' "$WORK/r1.json" && pass "first report accepted (202)" || fail "first report accepted: $(head -c 300 "$WORK/r1.json")"
dns_status_is $NAME NXDOMAIN && pass "one reporter alone: dig sees NXDOMAIN" || fail "one reporter alone lists"

# From standard input this time.
"$BIN" report --server "http://127.0.0.1:$HPORT" --token "$TB" < "$MAIL" > "$WORK/r2.json"
grep -q '"newly_listed":true' "$WORK/r2.json" && pass "second reporter lists (newly_listed)" || fail "second report: $(head -c 300 "$WORK/r2.json")"
eventually 20 0.05 dns_answer_is $NAME 127.0.0.2 && pass "dig sees $NAME -> 127.0.0.2 within 1 s" || fail "dig does not see the listing"
dns_answer $NAME TXT | grep -q 'lookup?q=89.160.20.112' && pass "TXT names the lookup URL" || fail "TXT: $(dns_answer $NAME TXT)"
# Two reporters, one source network: the advertised domain waits for reports
# from three networks (the joe-job rule; tests/interop/uri-ips.sh lists one).
dns_status_is cheap-meds-online.top.urirbl.test NXDOMAIN && pass "advertised domain not listed from one source network" || fail "domain listed from one network"

eventually 150 0.1 dns_status_is $NAME NXDOMAIN && pass "time passes: dig sees NXDOMAIN again (decayed)" || fail "still listed after 15 s"

if "$BIN" report --server "http://127.0.0.1:$HPORT" --token wrong "$MAIL" > "$WORK/r3.json" 2>&1; then
    fail "a bad token must fail"
else
    grep -q 'HTTP 401' "$WORK/r3.json" && pass "bad token: HTTP 401, non-zero exit" || fail "bad token: $(cat "$WORK/r3.json")"
fi

stop_server && pass "SIGTERM: clean exit" || fail "exit status after SIGTERM"
printf '\n=== report flow: %s ===\n' "$([[ $fails -eq 0 ]] && echo PASS || echo "FAIL ($fails)")"
exit $((fails > 0))
