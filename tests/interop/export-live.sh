#!/usr/bin/env bash
# The live rbldnsd mirror directory ([export] dir), the way an edge fleet
# uses it: fadelist keeps rbldnsd files current while it runs; an edge
# copy is pulled with deploy/rbldnsd/fadelist-mirror-pull (rsync, every
# second); stock rbldnsd serving the edge copy with `-c 1` (check for
# changed files every second) sees a new report-fed listing within 5 s and
# answers the same as fadelist on the same names. Also: files are replaced
# whole (rename), unchanged files are not rewritten, and the $TIMESTAMP
# expiry (dead-man switch) stops an edge whose copy is stale.
# Installs dnsutils, rbldnsd and rsync when missing (apt-get); loopback
# only; every process is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${FADELIST_BIN:-}
if [[ -z $BIN ]]; then
    cargo build --release --locked -p fadelist
    BIN=$PWD/target/release/fadelist
fi
export PATH="$PATH:/usr/sbin:/sbin"
need=()
for cmd in dig:dnsutils rbldnsd:rbldnsd rsync:rsync; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd##*:}")
done
if ((${#need[@]})); then
    # As .ci/run: no package service is started (NSD and Knot would take port 53).
    created=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && created=1
    fi
    rc=0
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || rc=$?
    [[ -z $created ]] || rm -f /usr/sbin/policy-rc.d
    ((rc == 0)) || { echo "$(basename "$0"): cannot install ${need[*]}" >&2; exit 1; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-export-live.XXXXXX")
chmod 755 "$WORK"
# shellcheck source=../lib.sh
source tests/lib.sh
RBL_PID= PULL_PID=
cleanup() {
    [[ -n $RBL_PID ]] && kill "$RBL_PID" 2>/dev/null || true
    [[ -n $PULL_PID ]] && kill "$PULL_PID" 2>/dev/null || true
    stop_server || true
    rm -rf "$WORK"
}
trap cleanup EXIT

pick_ports
RPORT=$(free_port)
MIRROR=$WORK/mirror
write_config "$WORK/fadelist.toml" "[export]
dir = \"$MIRROR\"
interval = \"1s\"
expires = \"1h\"" ''
DB=$WORK/db.sqlite
TA=$(reporter_token "$DB" alice)
TB=$(reporter_token "$DB" trap1 --kind trap)
start_server "$WORK/fadelist.toml" "$DB" 120
wait_up || { cat "$WORK/serve.err"; fail "server up"; exit 1; }

if eventually 50 0.1 test -s "$MIRROR/rbldnsd.zones"; then
    pass "the mirror directory holds rbldnsd.zones: $(tr '\n' ' ' < "$MIRROR/rbldnsd.zones")"
else
    fail "no rbldnsd.zones in $MIRROR"; exit 1
fi
EDGE=$WORK/edge
timeout 120 deploy/rbldnsd/fadelist-mirror-pull --every 1 "$MIRROR" "$EDGE" > "$WORK/pull.log" 2>&1 &
PULL_PID=$!
if eventually 50 0.1 test -s "$EDGE/rbldnsd.zones"; then
    pass "fadelist-mirror-pull copied the mirror to the edge directory"
else
    fail "no edge copy: $(cat "$WORK/pull.log")"; exit 1
fi
chmod -R a+rX "$EDGE"
user=()
if ((EUID == 0)); then
    if id rbldns >/dev/null 2>&1; then user=(-u rbldns); else user=(-u nobody); fi
fi
mapfile -t ZONES < "$EDGE/rbldnsd.zones"
timeout 120 rbldnsd -n "${user[@]}" -b "127.0.0.1/$RPORT" -w "$EDGE" -c 1 "${ZONES[@]}" \
    > "$WORK/rbldnsd.log" 2>&1 &
RBL_PID=$!
rbl_answer() { dig +short +tries=1 +time=1 @127.0.0.1 -p "$RPORT" "$1" "${2:-A}"; }
rbl_status() { dig +tries=1 +time=1 @127.0.0.1 -p "$RPORT" "$1" A | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }
# For `eventually`, which runs a command again and again: each try asks anew.
rbl_is() { [[ $(rbl_answer "$1") == "$2" ]]; }
rbl_status_is() { [[ $(rbl_status "$1") == "$2" ]]; }
if eventually 50 0.1 rbl_is 2.0.0.127.iprbl.test 127.0.0.2; then
    pass "rbldnsd serves the mirror (test entry 2.0.0.127.iprbl.test)"
else
    fail "rbldnsd does not serve the mirror: $(cat "$WORK/rbldnsd.log")"; exit 1
fi
NAME=112.20.160.89.iprbl.test
[[ $(rbl_status $NAME) == NXDOMAIN ]] && pass "before the reports: $NAME NXDOMAIN on rbldnsd" \
    || fail "listed on rbldnsd before any report"
mtime_before=$(stat -c %i.%Y "$MIRROR/rbldnsd.zones")

MAIL=tests/data/mail/spam-plain.eml
"$BIN" report --server "http://127.0.0.1:$HPORT" --token "$TA" "$MAIL" > "$WORK/r1.json"
"$BIN" report --server "http://127.0.0.1:$HPORT" --token "$TB" "$MAIL" > "$WORK/r2.json"
start=$(date +%s.%N)
eventually 20 0.05 dns_answer_is $NAME 127.0.0.2 && pass "fadelist lists $NAME" || fail "fadelist did not list $NAME"
if eventually 100 0.05 rbl_is $NAME 127.0.0.2; then
    end=$(date +%s.%N)
    pass "rbldnsd on the edge copy sees the new listing $(python3 -c "print(f'{$end - $start:.2f}')") s after the report"
else
    fail "rbldnsd did not see the listing within 5 s"
fi
# The same answers on the same names (A and TXT).
same=0 diff=0
for n in $NAME 1.0.0.127.iprbl.test 2.0.0.127.iprbl.test 2.0.0.127.niprbl.test test.urirbl.test \
         invalid.urirbl.test 113.20.160.89.iprbl.test cheap-meds-online.top.urirbl.test; do
    for t in A TXT; do
        f=$(dns_answer "$n" "$t" | sort) r=$(rbl_answer "$n" "$t" | sort)
        if [[ $f == "$r" ]]; then same=$((same + 1)); else diff=$((diff + 1)); echo "INFO  $n $t: fadelist [$f] rbldnsd [$r]"; fi
    done
done
((diff == 0)) && pass "fadelist and rbldnsd answer the same on $same questions" || fail "$diff answers differ"
[[ $(stat -c %i.%Y "$MIRROR/rbldnsd.zones") == "$mtime_before" ]] \
    && pass "an unchanged file is not rewritten (rbldnsd.zones keeps its mtime)" || fail "rbldnsd.zones rewritten"
ls -A "$MIRROR" "$EDGE" | grep -q '\.tmp$' && fail "a temporary file is left in the mirror" || pass "no temporary file left in the mirror or the edge copy"

# The dead-man switch: the zone header carries an expiry about an hour
# ahead, which rbldnsd accepts; an edge whose copy runs out stops answering
# for the zone. Here the stamp is moved to 2 s from now, as on a copy left
# behind when updates stop; rbldnsd checks it on its next reload.
kill "$PULL_PID" 2>/dev/null; wait "$PULL_PID" 2>/dev/null || true; PULL_PID=
HDR=$EDGE/iprbl.test.test.ip4set
stamp=$(sed -n 's/^\$TIMESTAMP 0 \([0-9:]*\)$/\1/p' "$HDR")
until_s=$(python3 -c "import calendar,time,sys; print(calendar.timegm(time.strptime(sys.argv[1], '%Y:%m:%d:%H:%M:%S')) - int(time.time()))" "${stamp:-0:0}" 2>/dev/null || echo 0)
if ((until_s > 3500 && until_s <= 3600)); then
    pass "the zone header expires ${until_s} s ahead (\$TIMESTAMP 0 $stamp)"
else
    fail "zone header stamp [$stamp] is $until_s s ahead, want about 3600"
fi
stop_server && pass "SIGTERM: clean exit" || fail "exit status after SIGTERM"
soon=$(python3 -c "import time; print(time.strftime('%Y:%m:%d:%H:%M:%S', time.gmtime(time.time() + 2)))")
sed "s/^\\\$TIMESTAMP .*/\$TIMESTAMP 0 $soon/" "$HDR" > "$HDR.new" && mv "$HDR.new" "$HDR"
grep -q "^\$TIMESTAMP 0 $soon" "$HDR" || fail "could not restamp $HDR"
# rbldnsd answers SERVFAIL for a zone it does not serve (not loaded or
# expired), as for a zone whose data failed to load.
if eventually 60 0.1 rbl_status_is 2.0.0.127.iprbl.test SERVFAIL; then
    pass "after the stamp runs out rbldnsd stops answering for iprbl.test (SERVFAIL)"
else
    fail "rbldnsd still answers an expired zone: $(rbl_status 2.0.0.127.iprbl.test)"
fi
rbl_is 2.0.0.127.urirbl.test 127.0.0.2 && pass "the other zone (urirbl.test) still answers" \
    || fail "urirbl.test stopped answering too"
printf '\n=== export live: %s ===\n' "$([[ $fails -eq 0 ]] && echo PASS || echo "FAIL ($fails)")"
exit $((fails > 0))
