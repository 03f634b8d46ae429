#!/usr/bin/env bash
# Dovecot IMAPSieve reporting against a real fadelist (issue 15): a private
# Dovecot (dovecot-imapd, dovecot-sieve) runs the shipped
# deploy/dovecot/90-imapsieve.conf (paths substituted), the shipped
# report-spam.sieve / report-ham.sieve and the fadelist-sieve-report
# wrapper. Python's imaplib is the mail client:
#
#   1. a spam is APPENDed to INBOX: nothing is reported;
#   2. MOVE INBOX -> Junk: fadelist has the report (lookup API); alone it
#      lists nothing; a second reporter's report lists the source (dig);
#   3. MOVE Junk -> INBOX: the "not spam" correction withdraws the report,
#      and dig sees NXDOMAIN at once (minimum listing time or not);
#   4. MOVE INBOX -> Junk again: reported again, listed again; MOVE Junk ->
#      Trash is not a correction: still listed.
#
# Installs dovecot-imapd and dovecot-sieve with apt-get when missing (their
# system service is kept from starting). Everything listens on loopback;
# Dovecot runs as root from a config in a temporary folder, the mailbox
# user is `nobody`. Prints PASS/FAIL lines and a RESULT line.
#
#   FADELIST_BIN=/path/to/fadelist   use this binary instead of building
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${FADELIST_BIN:-}
if [[ -z $BIN ]]; then
    cargo build --release --locked -p fadelist
    BIN=$PWD/target/release/fadelist
fi
die() { printf 'FAIL  %s\nRESULT: FAIL\n' "$*"; exit 1; }
# As mailstack.sh and tests/packaging/deb.sh: CI runs as root; a
# developer's machine may not.
if ((EUID != 0)); then
    echo "SKIP  dovecot.sh: needs root (Dovecot is started as root and switches to the mail user; apt-get)"
    exit 0
fi

# --- packages ------------------------------------------------------------------
if ! command -v dovecot >/dev/null 2>&1 || ! command -v sievec >/dev/null 2>&1 ||
    ! command -v dig >/dev/null 2>&1; then
    ((EUID == 0)) || die "dovecot-imapd/dovecot-sieve/dnsutils missing and not root"
    # Keep apt from starting Dovecot's system service (ports 143/993 may be
    # taken, and the test runs its own instance).
    policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
    fi
    install_rc=0
    env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            dovecot-imapd dovecot-sieve dnsutils || install_rc=$?
    [[ -z $policy ]] || rm -f "$policy"
    ((install_rc == 0)) || die "apt-get failed (exit $install_rc)"
fi
((EUID == 0)) || die "Dovecot is started as root (it switches to the mail user itself)"
echo "dovecot $(dovecot --version)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-dovecot.XXXXXX")
# The mail user (nobody) runs the wrapper and fadelist: it must reach them.
chmod 755 "$WORK"
# shellcheck source=../lib.sh
source tests/lib.sh
DOVECOT_PID=
cleanup() {
    if [[ -n $DOVECOT_PID ]]; then
        kill "$DOVECOT_PID" 2>/dev/null || true
        wait "$DOVECOT_PID" 2>/dev/null || true
    fi
    stop_server || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- fadelist, with two reporters ----------------------------------------------
pick_ports
IPORT=$(free_port)
while [[ $IPORT == "$DPORT" || $IPORT == "$HPORT" ]]; do IPORT=$(free_port); done
write_config "$WORK/fadelist.toml"
DB=$WORK/db.sqlite
T_IMAP=$(reporter_token "$DB" imap)
T_OTHER=$(reporter_token "$DB" other --kind trap)
[[ -n $T_IMAP && -n $T_OTHER ]] || die "reporter add printed no tokens"
start_server "$WORK/fadelist.toml" "$DB" 150
wait_up || { cat "$WORK/serve.err"; die "fadelist did not come up"; }

# --- Dovecot, with the shipped files --------------------------------------------
# The shipped files, unchanged, where the mail user can read them (and
# sievec can write the compiled scripts); the conf fragment with its
# /etc/dovecot/sieve paths pointed here.
SIEVE=$WORK/sieve
mkdir -p "$SIEVE" "$WORK/mail" "$WORK/spool" "$WORK/run"
cp deploy/dovecot/report-spam.sieve deploy/dovecot/report-ham.sieve "$SIEVE/"
cp -p deploy/dovecot/fadelist-sieve-report "$SIEVE/"
sed "s#/etc/dovecot/sieve#$SIEVE#g" deploy/dovecot/90-imapsieve.conf >"$WORK/90-imapsieve.conf"
# Dovecot gives pipe programs an empty environment: the wrapper reads its
# settings from the file beside it.
cp "$BIN" "$WORK/fadelist"
printf '%s\n' "$T_IMAP" >"$WORK/imap.token"
chmod 644 "$WORK/imap.token"
cat >"$SIEVE/fadelist-sieve-report.conf" <<EOF
FADELIST=$WORK/fadelist
FADELIST_SERVER=http://127.0.0.1:$HPORT
TOKEN_FILE=$WORK/imap.token
SPOOL=$WORK/spool
EOF
chown -R nobody:nogroup "$WORK/mail" "$WORK/spool"
echo "alice:{PLAIN}secret:65534:65534::$WORK/mail/alice::" >"$WORK/passwd"

cat >"$WORK/dovecot.conf" <<EOF
base_dir = $WORK/run
state_dir = $WORK/state
instance_name = fadelist-test-$$
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = $WORK/dovecot.log
mail_location = maildir:$WORK/mail/%u
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = $WORK/passwd
}
userdb {
  driver = passwd-file
  args = $WORK/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IPORT
  }
  inet_listener imaps {
    port = 0
  }
}
namespace inbox {
  inbox = yes
  mailbox Junk {
    special_use = \\Junk
    auto = create
  }
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
}
!include $WORK/90-imapsieve.conf
EOF
dovecot -c "$WORK/dovecot.conf" -n >/dev/null 2>"$WORK/doveconf.err" ||
    { cat "$WORK/doveconf.err"; die "Dovecot refused the configuration"; }
# Compiled ahead, as the fragment's install notes say (the mail user could
# not save the compiled scripts beside them).
sievec -c "$WORK/dovecot.conf" "$SIEVE/report-spam.sieve" &&
    sievec -c "$WORK/dovecot.conf" "$SIEVE/report-ham.sieve" ||
    die "sievec refused the shipped scripts"
pass "sievec compiles the shipped report-spam.sieve and report-ham.sieve"
# Ended by cleanup, or by `timeout` should this script be killed outright.
timeout 150 dovecot -c "$WORK/dovecot.conf" -F >"$WORK/dovecot.out" 2>&1 &
DOVECOT_PID=$!
imap_up() { python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $IPORT), 1).close()" 2>/dev/null; }
eventually 100 0.1 imap_up || { cat "$WORK/dovecot.out" "$WORK/dovecot.log" 2>/dev/null; die "Dovecot did not listen on 127.0.0.1:$IPORT"; }
pass "Dovecot with the shipped 90-imapsieve.conf and sieve scripts listens on 127.0.0.1:$IPORT"

# imap ACTION...: alice's IMAP session. `append FILE` (to INBOX), `move FROM
# TO` (every message; MOVE, RFC 6851), `count MAILBOX`.
cat >"$WORK/imap.py" <<'EOF'
import imaplib, sys
imaplib.Commands.setdefault("MOVE", ("SELECTED",))
port, action, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
m = imaplib.IMAP4("127.0.0.1", port, timeout=20)
m.login("alice", "secret")
if action == "append":
    with open(args[0], "rb") as f:
        typ, dat = m.append("INBOX", None, None, f.read())
elif action == "move":
    m.select(args[0])
    typ, dat = m._simple_command("MOVE", "1:*", args[1])
elif action == "count":
    typ, dat = m.select(args[0], readonly=True)
    print(int(dat[0]))
if typ != "OK":
    sys.exit(f"{action} {args}: {typ} {dat}")
m.logout()
EOF
imap() { timeout 30 python3 "$WORK/imap.py" "$IPORT" "$@"; }

SRC=89.160.20.112
NAME=112.20.160.89.iprbl.test
URL=http://127.0.0.1:$HPORT
# reports: how many reports the lookup API shows against the source.
reports() {
    curl -sS --max-time 5 "$URL/api/v1/lookup/$SRC" |
        python3 -c 'import json,sys; z=[z for z in json.load(sys.stdin)["zones"] if z["zone"]=="iprbl.test"][0]; print(z["reports"])'
}
reports_are() { [[ $(reports) == "$1" ]]; }
last_change() {
    curl -sS --max-time 5 "$URL/api/v1/lookup/$SRC" |
        python3 -c 'import json,sys; z=[z for z in json.load(sys.stdin)["zones"] if z["zone"]=="iprbl.test"][0]; print((z.get("listing_history") or [{}])[-1].get("change"))'
}
sed 's/^Message-ID:.*/Message-ID: <dovecot-imapsieve@test>/I' tests/data/mail/spam-plain.eml >"$WORK/spam.eml"
sed 's/^Message-ID:.*/Message-ID: <dovecot-other@test>/I' tests/data/mail/spam-plain.eml >"$WORK/other.eml"

# 1. Delivered to INBOX: nothing reported.
imap append "$WORK/spam.eml" && [[ $(imap count INBOX) == 1 ]] &&
    pass "APPEND to INBOX" || fail "APPEND to INBOX"
sleep 0.5
reports_are 0 && pass "a message in INBOX is not reported" || fail "reported from INBOX: $(reports)"

# 2. Into Junk: reported; with the other reporter, listed.
imap move INBOX Junk && [[ $(imap count Junk) == 1 ]] && pass "MOVE INBOX -> Junk" || fail "MOVE INBOX -> Junk"
eventually 50 0.1 reports_are 1 && pass "moving to Junk reported it: the lookup shows 1 report" ||
    { fail "no report after the MOVE to Junk (reports: $(reports))"; tail -n 20 "$WORK/dovecot.log"; }
dns_status_is $NAME NXDOMAIN && pass "one reporter alone lists nothing" || fail "listed by one reporter"
"$WORK/fadelist" report --server "$URL" --token "$T_OTHER" "$WORK/other.eml" >"$WORK/other.out" 2>&1 ||
    fail "second reporter: $(cat "$WORK/other.out")"
eventually 20 0.05 dns_answer_is $NAME 127.0.0.2 && pass "with a second reporter, dig sees $NAME -> 127.0.0.2" ||
    fail "not listed after the second report"

# 3. Back out of Junk: the correction delists at once.
imap move Junk INBOX && pass "MOVE Junk -> INBOX" || fail "MOVE Junk -> INBOX"
eventually 50 0.1 dns_status_is $NAME NXDOMAIN && pass "not spam: the correction withdrew the report, dig sees NXDOMAIN" ||
    { fail "still listed after the MOVE out of Junk"; tail -n 20 "$WORK/dovecot.log"; }
reports_are 1 && pass "the other reporter's report still counts (1 report)" || fail "reports after the correction: $(reports)"
[[ $(last_change) == report-withdrawn ]] && pass "the lookup says why: report-withdrawn" || fail "last change: $(last_change)"

# 4. Into Junk again: reported again; Junk -> Trash is no correction.
imap move INBOX Junk || fail "MOVE INBOX -> Junk (again)"
eventually 50 0.1 dns_answer_is $NAME 127.0.0.2 && pass "moved to Junk again: reported again, listed again" ||
    fail "not listed again (reports: $(reports))"
imap move Junk Trash || fail "MOVE Junk -> Trash"
sleep 0.5
dns_answer_is $NAME 127.0.0.2 && reports_are 2 && pass "Junk -> Trash is not a correction: still listed" ||
    fail "Junk -> Trash changed the listing (reports: $(reports))"
[[ -z $(ls -A "$WORK/spool/new" 2>/dev/null) ]] && pass "nothing was left in the spool" || fail "spooled: $(ls "$WORK/spool/new")"

echo "RESULT: $([[ $fails -eq 0 ]] && echo PASS || echo "FAIL ($fails)") ($passes passed)"
exit $((fails > 0))
