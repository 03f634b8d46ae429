#!/usr/bin/env bash
# The Debian package, built and installed as an operator would: `cargo deb`
# (installed with `cargo install cargo-deb` when missing), `dpkg -i`, then
# checks that `fadelist --version` runs from the PATH, the files, user and
# permissions are in place, `systemd-analyze verify` accepts the unit, the
# installed binary serves the packaged configuration, and `dpkg --purge`
# leaves nothing behind. Needs root (dpkg). Run by tests/run-all.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

fails=0
pass() { printf 'PASS  %s\n' "$1"; }
fail() { printf 'FAIL  %s\n' "$1"; fails=$((fails + 1)); }

if [[ $(id -u) -ne 0 ]]; then
    # CI runs as root; a developer's machine may not.
    echo "SKIP  deb.sh: needs root (dpkg -i)" >&2
    exit 0
fi
if dpkg -s fadelist >/dev/null 2>&1; then
    echo "deb.sh: a fadelist package is already installed; refusing to touch it" >&2
    exit 1
fi
if ! cargo deb --version >/dev/null 2>&1; then
    cargo install cargo-deb --locked --version '^3'
fi
command -v systemd-analyze >/dev/null || {
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q systemd
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-deb.XXXXXX")
SERVER=
cleanup() {
    [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null || true
    dpkg --purge fadelist >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --locked -p fadelist
DEB=$(cargo deb -p fadelist --no-build --output "$WORK/" 2>"$WORK/deb.err" | tail -n1)
[[ -f $DEB ]] && pass "cargo deb built $(basename "$DEB")" || { cat "$WORK/deb.err"; fail "cargo deb"; exit 1; }

dpkg-deb --info "$DEB" > "$WORK/info"
grep -q 'Package: fadelist' "$WORK/info" && pass "package metadata" || fail "package metadata: $(cat "$WORK/info")"

DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" > "$WORK/install.log" 2>&1 \
    && pass "dpkg -i" || { cat "$WORK/install.log"; fail "dpkg -i"; exit 1; }

out=$(fadelist --version 2>&1) && [[ $out == fadelist* ]] \
    && pass "fadelist --version on the PATH: $out" || fail "fadelist --version: $out"
[[ $(command -v fadelist) == /usr/bin/fadelist ]] && pass "installed as /usr/bin/fadelist" || fail "path: $(command -v fadelist)"
getent passwd fadelist >/dev/null && pass "system user fadelist" || fail "no fadelist user"
[[ $(stat -c '%U %a' /var/lib/fadelist) == "fadelist 700" ]] \
    && pass "/var/lib/fadelist fadelist 0700" || fail "/var/lib/fadelist: $(stat -c '%U %a' /var/lib/fadelist)"
[[ $(stat -c '%U:%G %a' /etc/fadelist/fadelist.toml) == "root:fadelist 640" ]] \
    && pass "/etc/fadelist/fadelist.toml root:fadelist 0640" || fail "config: $(stat -c '%U:%G %a' /etc/fadelist/fadelist.toml)"
UNIT=/lib/systemd/system/fadelist.service
[[ -f $UNIT ]] || UNIT=/usr/lib/systemd/system/fadelist.service
[[ -f $UNIT ]] && pass "unit installed: $UNIT" || fail "no unit file"
if systemd-analyze verify "$UNIT" > "$WORK/verify" 2>&1; then
    pass "systemd-analyze verify $UNIT"
else
    fail "systemd-analyze verify: $(cat "$WORK/verify")"
fi
EX=/usr/share/doc/fadelist/examples
if systemd-analyze verify "$EX/fadelist-report-flush.service" "$EX/fadelist-report-flush.timer" > "$WORK/verify2" 2>&1; then
    pass "systemd-analyze verify the report-flush service and timer"
else
    fail "report-flush units: $(cat "$WORK/verify2")"
fi
fadelist check-config /etc/fadelist/fadelist.toml > "$WORK/check" 2>&1 \
    && pass "the packaged configuration is valid" || fail "check-config: $(cat "$WORK/check")"

# The installed binary, as the service user, on the packaged configuration:
# it answers the RFC 5782 test entry.
runuser -u fadelist -- timeout 30 fadelist serve --config /etc/fadelist/fadelist.toml \
    --dns-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*DNS listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/serve.out" | head -n1)
    [[ -n $port ]] && break
    sleep 0.1
done
if [[ -n $port ]] && dig +short +time=2 +tries=1 @127.0.0.1 -p "$port" 2.0.0.127.iprbl.test A | grep -q '^127.0.0.2$'; then
    pass "installed fadelist serves 2.0.0.127.iprbl.test -> 127.0.0.2 as user fadelist"
else
    fail "installed server: $(cat "$WORK/serve.out" "$WORK/serve.err")"
fi
[[ $(stat -c '%U %a' /var/lib/fadelist/fadelist.sqlite 2>/dev/null) == "fadelist 600" ]] \
    && pass "database created fadelist 0600" || fail "database: $(stat -c '%U %a' /var/lib/fadelist/fadelist.sqlite 2>&1)"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=

dpkg --purge fadelist > "$WORK/purge.log" 2>&1 && pass "dpkg --purge" || fail "purge: $(cat "$WORK/purge.log")"
[[ ! -e /usr/bin/fadelist && ! -e /var/lib/fadelist && ! -e /etc/fadelist/fadelist.toml ]] \
    && pass "purge leaves nothing behind" || fail "left behind after purge"
getent passwd fadelist >/dev/null && fail "user still there after purge" || pass "user removed on purge"

printf '\n=== deb package: %s ===\n' "$([[ $fails -eq 0 ]] && echo PASS || echo "FAIL ($fails)")"
exit $((fails > 0))
