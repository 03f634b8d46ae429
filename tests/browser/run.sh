#!/usr/bin/env bash
# Browser test of self-service delisting, as a person does it: a real server
# lists 89.160.20.112 from two reporters' `fadelist report`, dig sees it
# listed, then headless Debian Chromium (driven by playwright-core, see
# delist.mjs) opens the lookup page, clicks "Request delisting", types into
# the form, waits out the form's minimum fill time, clicks the button, sees
# "Removed" and "Not listed"; dig then sees NXDOMAIN. Screenshots of every
# step go to ${FADELIST_SCREENSHOTS:-target/browser-screenshots} (relative
# paths are taken from the repository root).
#
# Installs what is missing: Debian's chromium and dnsutils (apt-get), and
# playwright-core (npm ci in tests/browser). Builds fadelist unless
# FADELIST_BIN names a binary. After the installs and the build the run is
# bounded to well under 3 minutes: every step has its own timeout.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"

die() {
    fail "$*"
    printf '\n=== browser delisting: FAIL (%d) ===\n' "$fails"
    printf 'browser: %d passed, %d failed\n' "$passes" "$fails"
    exit 1
}

# --- installs (not counted in the time bound) -------------------------------
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
missing=()
[[ -x $CHROMIUM ]] || missing+=(chromium)
command -v dig >/dev/null || missing+=(dnsutils)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
    echo "browser: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]}"
fi
[[ -x $CHROMIUM ]] || die "no Chromium at $CHROMIUM"
command -v dig >/dev/null || die "dig is missing (dnsutils)"
command -v node >/dev/null || die "node is missing (Node.js 20 or later is needed)"
command -v npm >/dev/null || die "npm is missing"
# playwright-core needs Node.js 20; Debian 12 ships 18. Then a private
# Node.js 20 comes from the npm registry (the `node` package fetches the
# official linux-x64 build as an npm package) into tests/browser/.node,
# used by this script only. FADELIST_BROWSER_PRIVATE_NODE=1 forces it.
if [[ ${FADELIST_BROWSER_PRIVATE_NODE:-} == 1 ]] \
    || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    echo "browser: Node.js $(node --version) is older than 20 (or a private one was asked for): installing Node.js 20 from npm into $HERE/.node"
    if [[ ! -x $HERE/.node/node_modules/.bin/node ]]; then
        timeout 300 npm install --prefix "$HERE/.node" --no-save --no-audit --no-fund \
            --loglevel=error node@20 || die "npm install node@20"
    fi
    export PATH="$HERE/.node/node_modules/.bin:$PATH"
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
    || die "Node.js $(node --version) is too old: playwright-core needs 20 or later"
echo "browser: Node.js $(node --version) at $(command -v node)"

if [[ -f $HERE/package-lock.json ]]; then
    (cd "$HERE" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tests/browser"
else
    (cd "$HERE" && timeout 300 npm install --no-audit --no-fund --loglevel=error) || die "npm install in tests/browser"
fi

BIN=${FADELIST_BIN:-}
if [[ -z $BIN ]]; then
    cargo build --release --locked -p fadelist || die "cargo build -p fadelist"
    BIN=$ROOT/target/release/fadelist
fi
[[ -x $BIN ]] || die "no fadelist binary at $BIN"

# --- the bounded part --------------------------------------------------------
START=$SECONDS
SHOTS=${FADELIST_SCREENSHOTS:-target/browser-screenshots}
[[ $SHOTS == /* ]] || SHOTS=$ROOT/$SHOTS
mkdir -p "$SHOTS"
rm -f "$SHOTS"/[0-9][0-9]-*.png   # this script's own, from an earlier run

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-browser.XXXXXX")
SERVER_PID=
NODE_PID=
cleanup() {
    local rc=$?
    # The browser runs under `timeout`, which leads its own process group:
    # ending the group ends node and every Chromium process it started.
    if [[ -n $NODE_PID ]]; then
        kill -TERM -- "-$NODE_PID" 2>/dev/null || true
        sleep 0.5
        kill -KILL -- "-$NODE_PID" 2>/dev/null || true
        wait "$NODE_PID" 2>/dev/null || true
    fi
    # Belt and braces: any Chromium still using this run's profile folder.
    local p
    for p in $(pgrep -f -- "$WORK/" 2>/dev/null || true); do
        kill -KILL "$p" 2>/dev/null || true
    done
    stop_server || true
    if ((rc != 0)) && [[ -f $WORK/serve.err ]] && [[ -s $WORK/serve.err ]]; then
        echo "--- server stderr (last 20 lines) ---"
        tail -n 20 "$WORK/serve.err" | sed $'s/\x1b\[[0-9;]*m//g'
    fi
    rm -rf "$WORK"
    return "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted by a signal"; printf "\n=== browser delisting: FAIL ===\nbrowser: %d passed, %d failed\n" "$passes" "$fails"; exit 130' INT TERM

pick_ports
MIN_FILL_SECS=2
write_config "$WORK/fadelist.toml" "[web]
form_min_fill = \"${MIN_FILL_SECS}s\""
DB=$WORK/db.sqlite
BASE=http://127.0.0.1:$HPORT
IP=89.160.20.112
NAME=112.20.160.89.iprbl.test
MAIL=tests/data/mail/spam-plain.eml

TA=$(reporter_token "$DB" alice) || true
TB=$(reporter_token "$DB" trap1 --kind trap) || true
[[ -n $TA && -n $TB ]] && pass "two reporters added" || die "reporter add did not print tokens"

# The server itself is bounded too, in case cleanup never runs.
start_server "$WORK/fadelist.toml" "$DB" 300
wait_up && pass "server up (DNS 127.0.0.1:$DPORT, HTTP $BASE)" || die "server did not come up within 10 s"

timeout 20 "$BIN" report --server "$BASE" --token "$TA" "$MAIL" > "$WORK/r1.out" 2>&1 \
    && pass "first report sent" || die "first report: $(head -c 300 "$WORK/r1.out")"
timeout 20 "$BIN" report --server "$BASE" --token "$TB" "$MAIL" > "$WORK/r2.out" 2>&1 \
    && pass "second report sent" || die "second report: $(head -c 300 "$WORK/r2.out")"
eventually 40 0.05 dns_answer_is "$NAME" '127.0.0.*' \
    && pass "dig: $NAME is listed ($(dns_answer "$NAME" | tr '\n' ' '))" \
    || die "dig: $NAME is not listed after two reports ($(dns_status "$NAME"))"

# The browser part. `timeout` makes itself a process-group leader, so the
# cleanup above can end node and Chromium together.
echo "browser: screenshots go to $SHOTS"
TMPDIR=$WORK timeout -k 5 120 env \
    BASE_URL="$BASE" IP="$IP" SCREENSHOTS="$SHOTS" CHROMIUM="$CHROMIUM" \
    FORM_MIN_FILL_MS=$((MIN_FILL_SECS * 1000)) RESULT_FILE="$WORK/browser-result" \
    node "$HERE/delist.mjs" &
NODE_PID=$!
node_rc=0
wait "$NODE_PID" || node_rc=$?
NODE_PID=
if [[ -s $WORK/browser-result ]]; then
    read -r bp bf < "$WORK/browser-result"
    passes=$((passes + bp))
    fails=$((fails + bf))
fi
if ((node_rc == 0)); then
    pass "browser: delisting through the pages (delist.mjs)"
elif ((node_rc == 124 || node_rc == 137)); then
    fail "browser: delist.mjs timed out after 120 s"
else
    fail "browser: delist.mjs failed (exit $node_rc)"
fi

eventually 40 0.05 dns_status_is "$NAME" NXDOMAIN && pass "dig: $NAME is NXDOMAIN after the delisting" \
    || fail "dig: $NAME still answers $(dns_status "$NAME") after the delisting"

stop_server || true
elapsed=$((SECONDS - START))
((elapsed < 180)) && pass "bounded: ${elapsed} s after installs (limit 180 s)" || fail "took ${elapsed} s after installs (limit 180 s)"

echo "browser: screenshots:"
ls -1 "$SHOTS"/[0-9][0-9]-*.png 2>/dev/null | sed 's/^/  /' || true
if ((fails == 0)); then
    printf '\n=== browser delisting: PASS ===\n'
else
    printf '\n=== browser delisting: FAIL (%d) ===\n' "$fails"
fi
printf 'browser: %d passed, %d failed\n' "$passes" "$fails"
exit $((fails > 0))
