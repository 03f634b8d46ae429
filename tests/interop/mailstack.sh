#!/usr/bin/env bash
# The mail stack against a running fadelist: the client configurations
# shipped in deploy/ used as they are (only ports, addresses and paths
# replaced), with the real Debian software.
#
#   1. fadelist   zones iprbl/niprbl/urirbl.example.net (the names the
#                 deploy/ files use), report-fed, plus rbldnsd data files
#                 listing loopback clients (127.0.0.9, .11, .12), public
#                 sources, domains and a link address.
#   2. Unbound    deploy/unbound/fadelist.conf (stub-zones) answers the
#                 listed names; the RFC 5782 probe 1.0.0.127.<zone> stays
#                 NXDOMAIN; without its domain-insecure lines a validating
#                 Unbound answers SERVFAIL.
#   3. Postfix    a private instance (own config and queue directories)
#                 with deploy/postfix/*: postscreen rejects 127.0.0.9
#                 (iprbl) with the reply-map name and logs "DNSBL rank",
#                 accepts 127.0.0.10; smtpd rejects a bulk-phishing client
#                 (niprbl .3), a listed sender domain, HELO name and client
#                 name (urirbl), and accepts a newsletter sender (niprbl .5).
#   4. SpamAssassin  deploy/spamassassin/fadelist.cf: the rules per return
#                 code hit on listed sources and links, not on a clean mail.
#   5. rspamd     deploy/rspamd/local.d/{rbl,rbl_group}.conf: the symbols
#                 per return code for listed sources, links and e-mail
#                 domains; rspamd's monitored probe is answered NXDOMAIN.
#   6. Postfix trap  deploy/postfix-trap/*: mail to a trap address goes
#                 through the pipe to `fadelist report` and arrives as a
#                 trap report (its bulk headers ignored: iprbl, not niprbl).
#   7. rspamd auto-reporting  deploy/rspamd/local.d/metadata_exporter.conf:
#                 a message rspamd rejects on its own is reported; one
#                 rejected only because of fadelist's symbols is not.
#   8. Exim       deploy/exim/*.acl: exim -bV (syntax) and host-checking
#                 (-bh) sessions for listed and clean clients, senders and
#                 HELO names. On Debian Exim cannot be installed beside
#                 Postfix: where it is not installed, Debian's
#                 exim4-daemon-light package is downloaded (apt-get
#                 download) and run unpacked from the temp dir, never
#                 installed; SKIP when that fails too.
#   9. the trap wrapper's exit codes (server down: 75; --token-file when
#                 the binary has it, FADELIST_TOKEN otherwise).
#
# Usage:  tests/interop/mailstack.sh
#   FADELIST_BIN=/path/to/fadelist   use this binary instead of building
#   MAILSTACK_TIMEOUT=240            bound (seconds) for everything after
#                                    the build and the package installation
#   MAILSTACK_KEEP=1                 keep the temporary directory
#   MAILSTACK_EXIM_UNPACKED=0        do not download Exim's package when
#                                    Exim is not installed (SKIP instead)
#
# Runs as root (else SKIP, exit 0): the private Postfix instance, the mount
# namespaces and port 53 on a loopback address need it. Installs dnsutils,
# unbound, spamassassin, rspamd and postfix with apt-get when a command is
# missing (a temporary policy-rc.d keeps apt from starting their services;
# Postfix is installed with "No configuration", and not at all where
# another MTA such as Exim is installed: the Postfix sections then skip).
#
# Safety: everything listens on loopback addresses only, on free ports; the
# test's Unbound needs port 53 (Postfix and Exim can only ask a resolver on
# port 53) and binds it on a spare loopback address (127.0.0.153 or the
# next free one), and refuses to send any query off the machine. Postfix
# and Exim read the system resolver configuration: they run in a private
# mount namespace (unshare --mount) where /etc/resolv.conf is a bind mount
# of the test's own file; the machine's /etc/resolv.conf is never touched.
# Every process started here is stopped on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DEPLOY=$ROOT/deploy
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

info() { printf 'INFO  %s\n' "$*"; }
skip() { printf 'SKIP  %s\n' "$*"; }
section() { printf '\n=== %s === (t=%ds)\n' "$*" "$SECONDS"; }
# detail LINE...: indented lines under a FAIL.
detail() { (($#)) && printf '%s\n' "$@" | sed 's/^/        /'; return 0; }
early_fail() { echo "FAIL  $*"; echo "RESULT: FAIL"; exit 1; }

# ----------------------------------------------------------------------------
section "0. tools"

# Root: the private Postfix instance, the mount namespaces and port 53 on
# a loopback address need it (and apt-get, when something is missing).
if ((EUID != 0)); then
    # As tests/packaging/deb.sh: CI runs as root; a developer's machine may not.
    echo "SKIP  mailstack.sh: needs root (private Postfix instance, mount namespaces, port 53 on loopback)"
    exit 0
fi
# Another MTA (Exim, on Debian the default one) conflicts with Postfix:
# apt would remove it. Then Postfix is not installed, its sections skip,
# and Exim's section runs instead.
OTHER_MTA=
if ! command -v postfix >/dev/null 2>&1 && [[ -e /usr/sbin/sendmail || -n $(command -v exim4 exim 2>/dev/null) ]]; then
    OTHER_MTA=$(dpkg-query -S /usr/sbin/sendmail 2>/dev/null | cut -d: -f1 || true)
    OTHER_MTA=${OTHER_MTA:-an MTA providing /usr/sbin/sendmail}
fi
need=()
for cmd in dig:dnsutils unbound:unbound unbound-checkconf:unbound spamassassin:spamassassin \
    rspamd:rspamd rspamc:rspamd postfix:postfix postconf:postfix; do
    if ! command -v "${cmd%%:*}" >/dev/null 2>&1; then
        if [[ ${cmd##*:} == postfix && -n $OTHER_MTA ]]; then continue; fi
        [[ " ${need[*]} " == *" ${cmd##*:} "* ]] || need+=("${cmd##*:}")
    fi
done
if ((${#need[@]})); then
    info "installing ${need[*]} from Debian"
    # Keep apt from starting the packages' services (unbound on port 53,
    # rspamd, postfix on port 25); this test runs its own instances.
    policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | tee "$policy" >/dev/null
        chmod 755 "$policy"
    fi
    if [[ " ${need[*]} " == *" postfix "* ]]; then
        # No main.cf for the system's own instance: nothing listens, nothing
        # delivers; this test uses a private instance.
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    fi
    install_rc=0
    env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" || install_rc=$?
    [[ -z $policy ]] || rm -f "$policy"
    ((install_rc == 0)) || early_fail "apt-get failed (exit $install_rc)"
fi
for cmd in dig unbound unbound-checkconf spamassassin rspamd rspamc perl python3 timeout unshare mount; do
    command -v "$cmd" >/dev/null 2>&1 || early_fail "command still missing after install: $cmd"
done
HAVE_POSTFIX=0
if command -v postfix >/dev/null 2>&1; then HAVE_POSTFIX=1; fi
EXIM=$(command -v exim4 exim 2>/dev/null | head -n1 || true)
versions="$(dig -v 2>&1 | head -n1); unbound $(unbound -V | sed -n 's/^Version //p'); $(spamassassin -V | head -n1); $(rspamd -v 2>&1 | head -n1)"
((HAVE_POSTFIX)) && versions+="; postfix $(postconf -d -h mail_version)"
[[ -z $EXIM ]] || versions+="; $("$EXIM" -bV 2>/dev/null | head -n1)"
info "$versions"
((HAVE_POSTFIX)) || info "Postfix not installed: ${OTHER_MTA:-?} is (they conflict); the Postfix sections are skipped"

# ----------------------------------------------------------------------------
# The fadelist binary

BIN=${FADELIST_BIN:-}
if [[ -z $BIN ]]; then
    section "build"
    cargo build --release --locked -p fadelist
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/fadelist"
fi
[[ -x $BIN ]] || early_fail "no fadelist binary at $BIN"
info "fadelist binary: $BIN"

# ----------------------------------------------------------------------------
# Temp dir, processes, cleanup, watchdog

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-mailstack.XXXXXX")
# Postfix's daemons and the trap pipe (user nobody) must reach their files.
chmod 755 "$WORK"
# shellcheck source=../lib.sh
source tests/lib.sh

TEST_TIMEOUT=${MAILSTACK_TIMEOUT:-240}
LIFETIME=$((TEST_TIMEOUT + 30)) # every background process ends by itself after this
WATCHDOG=
FAILED=()
PIDS=()
PNAMES=()
LOGS=()
PF_CONF=
fail_d() { # fail_d DESC DETAIL...: fail with detail lines
    fail "$1"
    FAILED+=("$1")
    shift
    detail "$@"
}
# why LINE...: the details the next `check` prints if it fails. A function,
# not an assignment, so that a failing command substitution in its
# arguments (a grep that finds nothing) does not stop the script (set -e).
WHY=()
why() { WHY=("$@"); }
# check DESC COMMAND...: PASS when COMMAND succeeds, else FAIL with the
# lines given to `why` before it as details.
check() {
    local desc=$1
    shift
    if "$@"; then pass "$desc"; else fail_d "$desc" "${WHY[@]}"; fi
    WHY=()
}

# start_bg NAME LOG CMD...: CMD in the background under `timeout`; sets
# BG_PID. Stopped (SIGTERM, then SIGKILL) by cleanup.
start_bg() {
    local name=$1 log=$2
    shift 2
    timeout -k 5 "$LIFETIME" "$@" </dev/null >"$log" 2>&1 &
    BG_PID=$!
    PIDS+=("$BG_PID")
    PNAMES+=("$name")
    LOGS+=("$log")
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -z $WATCHDOG ]] || kill "$WATCHDOG" 2>/dev/null || true
    # Postfix's master runs detached from its start command: stop it the
    # Postfix way, then make sure by its pid file.
    if [[ -n $PF_CONF && -f $PF_CONF/main.cf ]]; then
        timeout 20 postfix -c "$PF_CONF" stop >/dev/null 2>&1 || true
        local mpid
        mpid=$(tr -dc 0-9 <"$WORK/postfix/spool/pid/master.pid" 2>/dev/null || true)
        if [[ -n $mpid ]] && kill -0 "$mpid" 2>/dev/null; then
            kill -TERM "$mpid" 2>/dev/null || true
            sleep 1
            kill -KILL "$mpid" 2>/dev/null || true
        fi
    fi
    local i pid n
    for i in "${!PIDS[@]}"; do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
    for i in "${!PIDS[@]}"; do
        pid=${PIDS[$i]}
        for ((n = 0; n < 50; n++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "cleanup: ${PNAMES[$i]} (pid $pid) ignored SIGTERM, killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    stop_server || true
    if ((rc != 0 || fails > 0)); then
        local f
        for f in "$WORK/serve.err" "${LOGS[@]}" "$WORK/postfix/maillog"; do
            [[ -s $f ]] || continue
            printf '\n--- last lines of %s ---\n' "$f"
            tail -n 25 "$f" | sed 's/^/    /'
        done
    fi
    if [[ -n ${MAILSTACK_KEEP:-} ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    if ((rc != 0 && fails == 0)); then
        printf 'FAIL  the script stopped early (exit status %d): see above\n' "$rc"
        fails=1
    fi
    printf '\n=== mailstack summary: %d passed, %d failed ===\n' "$passes" "$fails"
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
# Addresses, names, messages
#
# Loopback clients (SMTP tests, from these source addresses):
LISTED_CLIENT=127.0.0.9   # iprbl 127.0.0.2: postscreen rejects
CLEAN_CLIENT=127.0.0.10   # listed nowhere: accepted
BULKPHISH_CLIENT=127.0.0.11 # niprbl 127.0.0.3: smtpd rejects
NEWSLETTER_CLIENT=127.0.0.12 # niprbl 127.0.0.5: accepted
NAMED_CLIENT=127.0.0.13   # its name (private hosts file) is in a listed domain
# Public addresses, in messages and as rspamc's client address only
# (nothing is ever sent to them):
SPAM_SRC=89.160.20.130      # iprbl 127.0.0.2
PHISH_SRC=89.160.20.131     # iprbl 127.0.0.3
NEWS_SRC=89.160.20.140      # niprbl 127.0.0.5
TRAP_SRC=89.160.20.150      # the source of the mail sent to the trap
INDEP_SRC=89.160.20.160     # unlisted; its mail rspamd rejects on its own
CLEAN_SRC=89.160.20.170     # unlisted
SPAM_DOMAIN=cheap-pills-shop.com     # urirbl 127.0.0.2 (and subdomains)
PHISH_DOMAIN=phish-bank-login.com    # urirbl 127.0.0.3 (and subdomains)
URL_IP=45.67.89.10                   # urirbl 127.0.0.2, as a link host
CLEAN_DOMAIN=harmless-news-site.com  # listed nowhere
rev4() { awk -F. '{ print $4 "." $3 "." $2 "." $1 }' <<<"$1"; }
IPRBL=iprbl.example.net
NIPRBL=niprbl.example.net
URIRBL=urirbl.example.net

MAIL=$WORK/mail
mkdir -p "$MAIL"
NOW=$(date -u -R)
# message NAME SOURCE SUBJECT BODY [HEADER...]: a mail that reached a
# reporter's MX (81.2.69.162, trusted) from SOURCE.
message() {
    local name=$1 src=$2 subject=$3 body=$4
    shift 4
    {
        printf 'Return-Path: <offers@promo-sender.example>\n'
        printf 'Received: from mx1.reporter.example (mx1.reporter.example [81.2.69.162])\n'
        printf '\tby imap.reporter.example (Postfix) with ESMTPS id 4Y7kQm2n1Pz9\n'
        printf '\tfor <alice@reporter.example>; %s\n' "$NOW"
        printf 'Received: from sender.example (unknown [%s])\n' "$src"
        printf '\tby mx1.reporter.example (Postfix) with ESMTP id 4Y7kQl6Qq3z7\n'
        printf '\tfor <alice@reporter.example>; %s\n' "$NOW"
        printf 'From: "Offers" <offers@promo-sender.example>\n'
        printf 'To: alice@reporter.example\n'
        printf 'Subject: %s\n' "$subject"
        printf 'Date: %s\n' "$NOW"
        printf 'Message-ID: <%s.%s.%s@promo-sender.example>\n' "$name" "$$" "$RANDOM"
        local h
        for h in "$@"; do printf '%s\n' "$h"; done
        printf 'MIME-Version: 1.0\n'
        printf 'Content-Type: text/plain; charset=us-ascii\n\n'
        printf '%s\n' "$body"
    } >"$MAIL/$name.eml"
}
message all "$SPAM_SRC" "Cheap pills" "Hello,

the best prices are at http://www.$SPAM_DOMAIN/offer?id=1 and
http://$URL_IP/offer?id=2 today only. Check your account at
http://secure.$PHISH_DOMAIN/login now. Questions: sales@$SPAM_DOMAIN"
message phish "$PHISH_SRC" "Account notice" "Dear customer,

please confirm your account at http://$CLEAN_DOMAIN/confirm."
message bulk "$NEWS_SRC" "Our monthly news" "Hello,

this month's news are at http://$CLEAN_DOMAIN/news." \
    "List-Unsubscribe: <mailto:unsubscribe@$CLEAN_DOMAIN>"
message clean "$CLEAN_SRC" "Lunch" "Hi,

lunch at noon? The menu is at http://$CLEAN_DOMAIN/menu."
message spammy "$INDEP_SRC" "Spammy" "Hello,

nothing listed in here, but the test's own rule scores it past reject." \
    "X-Mailstack-Test: spammy"

# ----------------------------------------------------------------------------
section "1. fadelist (zones $IPRBL, $NIPRBL, $URIRBL)"

DATA=$WORK/data
mkdir -p "$DATA"
cat >"$DATA/iprbl.ip4set" <<EOF
:127.0.0.2:Listed in iprbl: \$ (spam source)
$LISTED_CLIENT
$SPAM_SRC
$PHISH_SRC :127.0.0.3:Listed in iprbl: \$ (phishing source)
EOF
cat >"$DATA/niprbl.ip4set" <<EOF
:127.0.0.5:Listed in niprbl: \$ (newsletter sender)
$BULKPHISH_CLIENT :127.0.0.3:Listed in niprbl: \$ (bulk sender, phishing)
$NEWSLETTER_CLIENT
$NEWS_SRC
EOF
cat >"$DATA/urirbl.dnset" <<EOF
:127.0.0.2:Domain \$ is listed in urirbl
.$SPAM_DOMAIN
.$PHISH_DOMAIN :127.0.0.3:Domain \$ is listed in urirbl (phishing)
EOF
cat >"$DATA/urirbl.ip4set" <<EOF
:127.0.0.2:Link address \$ is listed in urirbl
$URL_IP
EOF
pick_ports
cat >"$WORK/fadelist.toml" <<EOF
# The zone names of deploy/fadelist.example.toml, which every deploy/
# client configuration uses.
[[zone]]
name = "$IPRBL"
feed = "ip"
[[zone.dataset]]
type = "ip4set"
files = ["$DATA/iprbl.ip4set"]

[[zone]]
name = "$NIPRBL"
feed = "bulk-ip"
[[zone.dataset]]
type = "ip4set"
files = ["$DATA/niprbl.ip4set"]

[[zone]]
name = "$URIRBL"
feed = "domain"
[[zone.dataset]]
type = "dnset"
files = ["$DATA/urirbl.dnset"]
[[zone.dataset]]
type = "ip4set"
files = ["$DATA/urirbl.ip4set"]

[policy]
max_report_age = "36500d"
EOF
DB=$WORK/db.sqlite
# The trap reporter: the Postfix trap MX is this machine (loopback).
TRAP_TOKEN=$(timeout 20 "$BIN" reporter --db "$DB" add trap1 --kind trap --trusted 127.0.0.0/8 | sed -n 's/^token: //p')
# rspamd's automatic reporter: a person-like reporter with a low weight.
RSPAMD_TOKEN=$(timeout 20 "$BIN" reporter --db "$DB" add rspamd-auto --kind user --weight 0.5 --trusted 81.2.69.160/27 | sed -n 's/^token: //p')
why "tokens: '$TRAP_TOKEN' '$RSPAMD_TOKEN'"
check "reporters trap1 (trap) and rspamd-auto (user, weight 0.5) added" test -n "$TRAP_TOKEN" -a -n "$RSPAMD_TOKEN"
start_server "$WORK/fadelist.toml" "$DB" "$LIFETIME"
up=0
for _ in $(seq 100); do
    if grep -q "HTTP listening on http://127.0.0.1:$HPORT" "$WORK/serve.out" 2>/dev/null &&
        [[ $(dns_status "2.0.0.127.$IPRBL") == NOERROR ]]; then
        up=1
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if ((up)); then
    pass "fadelist serves DNS on 127.0.0.1:$DPORT, HTTP on 127.0.0.1:$HPORT"
else
    fail_d "fadelist started" "$(tail -n 20 "$WORK/serve.err")"
    exit 1
fi
# dig_is NAME TYPE EXPECTED: direct answer from fadelist.
for q in "$(rev4 $LISTED_CLIENT).$IPRBL:127.0.0.2" "$(rev4 $PHISH_SRC).$IPRBL:127.0.0.3" \
    "$(rev4 $BULKPHISH_CLIENT).$NIPRBL:127.0.0.3" "$(rev4 $NEWSLETTER_CLIENT).$NIPRBL:127.0.0.5" \
    "www.$SPAM_DOMAIN.$URIRBL:127.0.0.2" "$(rev4 $URL_IP).$URIRBL:127.0.0.2"; do
    got=$(dns_answer "${q%%:*}")
    why "got: ${got:-<none>} ($(dns_status "${q%%:*}"))"
    check "fadelist: ${q%%:*} A -> ${q##*:}" test "$got" = "${q##*:}"
done
# The names rspamd's rbl module probes to see that a list works: NXDOMAIN
# or the rule is disabled (deploy/rspamd/local.d/rbl.conf).
for z in $IPRBL $NIPRBL $URIRBL; do
    st=$(dns_status "1.0.0.127.$z")
    why "got: $st"
    check "fadelist: 1.0.0.127.$z (RFC 5782 never-listed, rspamd's probe) -> NXDOMAIN" test "$st" = NXDOMAIN
done
st=$(dns_status "mailstackprobe$RANDOM.1.0.0.127.$URIRBL")
why "got: $st"
check "fadelist: a random name under $URIRBL (rspamd's probe of URI lists) -> NXDOMAIN" test "$st" = NXDOMAIN

# ----------------------------------------------------------------------------
section "2. Unbound with deploy/unbound/fadelist.conf"

# Port 53 on a spare loopback address (Postfix and Exim can only ask a
# resolver on port 53).
port53_free() {
    python3 - "$1" <<'EOF'
import socket, sys
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((sys.argv[1], 53))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Unbound does
    t.bind((sys.argv[1], 53))
except OSError:
    sys.exit(1)
EOF
}
UADDR=
for a in 153 154 155 156 157 158 159 160 161 162; do
    if port53_free "127.0.0.$a"; then UADDR=127.0.0.$a; break; fi
done
[[ -n $UADDR ]] || { fail_d "a loopback address with port 53 free" "127.0.0.153-162:53 all taken"; exit 1; }
UADDR2=
for a in 163 164 165 166 167 168 169 170; do
    if port53_free "127.0.0.$a"; then UADDR2=127.0.0.$a; break; fi
done
UB=$WORK/unbound
mkdir -p "$UB"
# The shipped file; only the port of stub-addr is the test's.
sed "s/127\.0\.0\.1@5300/127.0.0.1@$DPORT/" "$DEPLOY/unbound/fadelist.conf" >"$UB/fadelist.conf"
grep -v 'domain-insecure' "$UB/fadelist.conf" >"$UB/fadelist-no-insecure.conf"
VALIDATE=0
if [[ -r /usr/share/dns/root.key ]]; then
    VALIDATE=1
    cp /usr/share/dns/root.key "$UB/root.key"
fi
# unbound_conf ADDR INCLUDE: a resolver on ADDR:53 that validates (with the
# root trust anchor, as Debian's does) and never sends a query off this
# machine: every address but 127.0.0.0/8 is do-not-query.
unbound_conf() {
    cat <<EOF
server:
    interface: $1@53
    do-daemonize: no
    use-systemd: no
    username: ""
    chroot: ""
    directory: "$UB"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    log-queries: yes
    log-replies: yes
    log-servfail: yes
    access-control: 127.0.0.0/8 allow
    do-ip6: no
$(if ((VALIDATE)); then printf '    module-config: "validator iterator"\n    trust-anchor-file: "%s/root.key"\n' "$UB"; else printf '    module-config: "iterator"\n'; fi)
    do-not-query-address: 0.0.0.0/2
    do-not-query-address: 64.0.0.0/3
    do-not-query-address: 96.0.0.0/4
    do-not-query-address: 112.0.0.0/5
    do-not-query-address: 120.0.0.0/6
    do-not-query-address: 124.0.0.0/7
    do-not-query-address: 126.0.0.0/8
    do-not-query-address: 128.0.0.0/1
remote-control:
    control-enable: no
include: "$2"
EOF
}
unbound_conf "$UADDR" "$UB/fadelist.conf" >"$UB/unbound.conf"
if out=$(unbound-checkconf "$UB/unbound.conf" 2>&1); then
    pass "unbound-checkconf accepts the shipped stub-zones ($out)"
else
    fail_d "unbound-checkconf accepts the shipped stub-zones" "$out"
fi
start_bg unbound "$UB/unbound.log" unbound -d -c "$UB/unbound.conf"
UNBOUND_PID=$BG_PID
# uq NAME [TYPE]: dig through the test's Unbound.
uq() { timeout 10 dig +tries=2 +time=2 @"$UADDR" "$1" "${2:-A}" 2>&1 || true; }
ust() { uq "$@" | sed -n 's/.*status: \([A-Z]*\).*/\1/p' | head -n1; }
uans() { timeout 10 dig +short +tries=2 +time=2 @"$UADDR" "$1" "${2:-A}" 2>/dev/null || true; }
ok=0
for _ in $(seq 50); do
    [[ $(ust "2.0.0.127.$IPRBL") == NOERROR ]] && { ok=1; break; }
    kill -0 "$UNBOUND_PID" 2>/dev/null || break
    sleep 0.1
done
if ((ok)); then
    pass "Unbound on $UADDR:53 ($( ((VALIDATE)) && echo "validating, root trust anchor" || echo "no validation: no root.key"), nothing off-machine)"
else
    fail_d "Unbound started" "$(tail -n 15 "$UB/unbound.log")"
fi
for q in "$(rev4 $LISTED_CLIENT).$IPRBL:127.0.0.2" "$(rev4 $SPAM_SRC).$IPRBL:127.0.0.2" \
    "$(rev4 $BULKPHISH_CLIENT).$NIPRBL:127.0.0.3" "$SPAM_DOMAIN.$URIRBL:127.0.0.2" \
    "secure.$PHISH_DOMAIN.$URIRBL:127.0.0.3"; do
    got=$(uans "${q%%:*}")
    why "got: ${got:-<none>}" "$(uq "${q%%:*}" | grep -E 'status|flags' | head -n 2)"
    check "Unbound: ${q%%:*} A -> ${q##*:}" test "$got" = "${q##*:}"
done
txt=$(uans "$(rev4 $LISTED_CLIENT).$IPRBL" TXT)
why "got: ${txt:-<none>}"
check "Unbound: its TXT -> $txt" grep -q "Listed in iprbl: $LISTED_CLIENT" <<<"$txt"
for n in "$(rev4 $CLEAN_CLIENT).$IPRBL" "1.0.0.127.$IPRBL" "1.0.0.127.$URIRBL" "$CLEAN_DOMAIN.$URIRBL"; do
    st=$(ust "$n")
    why "got: ${st:-<no answer>}"
    check "Unbound: $n -> NXDOMAIN" test "$st" = NXDOMAIN
done
if ((VALIDATE)) && [[ -n $UADDR2 ]]; then
    # The same resolver without the domain-insecure lines: validation
    # wants a chain of trust the zones do not have.
    unbound_conf "$UADDR2" "$UB/fadelist-no-insecure.conf" >"$UB/unbound-no-insecure.conf"
    start_bg unbound-no-insecure "$UB/unbound-no-insecure.log" unbound -d -c "$UB/unbound-no-insecure.conf"
    NI_PID=$BG_PID
    st=
    for _ in $(seq 30); do
        st=$(timeout 10 dig +tries=1 +time=2 @"$UADDR2" "2.0.0.127.$IPRBL" A 2>&1 | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
        [[ -n $st ]] && break
        sleep 0.1
    done
    why "got: ${st:-<no answer>}"
    check "Unbound without the domain-insecure lines: 2.0.0.127.$IPRBL -> SERVFAIL (they are needed)" test "$st" = SERVFAIL
    kill -TERM "$NI_PID" 2>/dev/null || true
else
    info "domain-insecure not checked (no root trust anchor, or no second loopback address with port 53 free)"
fi

# ----------------------------------------------------------------------------
# rspamd compiles the public-suffix list at start (10-20 s): start it now,
# in the background, and use it later.
RS=$WORK/rspamd
mkdir -p "$RS/db" "$RS/run"
RPORT=$(free_port)
while [[ $RPORT == "$DPORT" || $RPORT == "$HPORT" ]]; do RPORT=$(free_port); done
# The shipped exporter configuration; only the URL's address and the token
# file's path are the test's.
sed -e "s|http://127\.0\.0\.1:8300/|http://127.0.0.1:$HPORT/|" \
    -e "s|/etc/rspamd/fadelist\.token|$RS/fadelist.token|" \
    "$DEPLOY/rspamd/local.d/metadata_exporter.conf" >"$RS/metadata_exporter.conf"
printf '%s\n' "$RSPAMD_TOKEN" >"$RS/fadelist.token"
chmod 600 "$RS/fadelist.token"
cat >"$RS/test.lua" <<'EOF'
-- This test's own rule: scores a message past "reject" by itself, so that
-- the auto-reporting selector sees a rejection that fadelist did not cause.
rspamd_config:register_symbol({
  name = 'MAILSTACK_TEST_SPAMMY',
  score = 20.0,
  group = 'mailstack_test',
  callback = function(task)
    return task:get_header('X-Mailstack-Test') == 'spammy'
  end,
})
EOF
cat >"$RS/rspamd.conf" <<EOF
# A standalone rspamd for this test: the rbl and metadata_exporter modules
# with the shipped local.d files, the stock action thresholds, the test's
# Unbound as its resolver. The system configuration is not read (its
# modules fetch maps from the internet and expect Redis).
options {
    pidfile = "$RS/run/rspamd.pid";
    dns {
        nameserver = ["$UADDR:53"];
        timeout = 2s;
        retransmits = 2;
    }
    url_tld = "/usr/share/rspamd/effective_tld_names.dat";
    filters = "";
    explicit_modules = [];
    tempdir = "$RS";
    hs_cache_dir = "$RS/db";
    # The rbl module's health probes: every 3 s instead of every minute,
    # so that all three zones are probed while the test runs.
    monitoring_watch_interval = 3s;
}
logging {
    type = "console";
    level = "info";
    debug_modules = ["rbl", "metadata_exporter", "monitored"];
}
worker "normal" {
    bind_socket = "127.0.0.1:$RPORT";
    count = 1;
}
modules {
    path = "/usr/share/rspamd/plugins/rbl.lua";
    path = "/usr/share/rspamd/plugins/metadata_exporter.lua";
}
lua = "$RS/test.lua";
actions {
    # rspamd's defaults (/etc/rspamd/actions.conf)
    reject = 15;
    add_header = 6;
    greylist = 4;
}
group "rbl" {
    .include(duplicate=merge) "$DEPLOY/rspamd/local.d/rbl_group.conf"
}
rbl {
    .include(duplicate=merge) "$DEPLOY/rspamd/local.d/rbl.conf"
}
metadata_exporter {
    .include(duplicate=merge) "$RS/metadata_exporter.conf"
}
EOF
RSPAMD_ARGS=(-f -c "$RS/rspamd.conf" --var "DBDIR=$RS/db" --var "RUNDIR=$RS/run" --var "LOGDIR=$RS")
# As root rspamd wants an unprivileged user for its workers, or -i
# ("insecure": run them as root); everything here is on loopback.
((EUID != 0)) || RSPAMD_ARGS+=(-i)
start_bg rspamd "$RS/rspamd.log" rspamd "${RSPAMD_ARGS[@]}"
RSPAMD_PID=$BG_PID
info "rspamd: pid $RSPAMD_PID, 127.0.0.1:$RPORT, config $RS/rspamd.conf"

# ----------------------------------------------------------------------------
# Postfix: a private instance (own config_directory and queue_directory
# under $WORK), in a mount namespace whose /etc/resolv.conf points at the
# test's Unbound.

PF=$WORK/postfix
PF_CONF=
SPORT=
PF_UP=0
if ((HAVE_POSTFIX)); then
    section "3. Postfix $(postconf -d -h mail_version): postscreen and smtpd with deploy/postfix"
    PF_CONF=$PF/conf
    mkdir -p "$PF_CONF" "$PF/spool/etc" "$PF/data" "$PF/bin"
    chown postfix "$PF/data"
    SPORT=$(free_port)
    printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$UADDR" >"$PF/resolv.conf"
    # The chroot (queue directory) gets what Debian's postfix service copies
    # into /var/spool/postfix/etc, except that resolv.conf, hosts and
    # nsswitch.conf are the test's: the hosts file names one client.
    cp "$PF/resolv.conf" "$PF/spool/etc/resolv.conf"
    for f in services localtime host.conf; do [[ -r /etc/$f ]] && cp -L "/etc/$f" "$PF/spool/etc/$f"; done
    printf '127.0.0.1 localhost\n%s mail.%s\n' "$NAMED_CLIENT" "$SPAM_DOMAIN" >"$PF/spool/etc/hosts"
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$PF/spool/etc/nsswitch.conf"
    # The trap wrapper and a copy of the binary that user nobody can run.
    install -m 755 "$DEPLOY/postfix-trap/fadelist-trap-report" "$PF/bin/fadelist-trap-report"
    install -m 755 "$BIN" "$PF/bin/fadelist"
    printf '%s\n' "$TRAP_TOKEN" >"$PF/trap.token"
    chmod 644 "$PF/trap.token" # a test token in a test directory; nobody must read it
    cp "$DEPLOY/postfix/postscreen_dnsbl_reply" "$DEPLOY/postfix-trap/fadelist_trap_transport" "$PF_CONF/"
    {
        cat <<EOF
# --- the test instance --------------------------------------------------
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.mailstack.test
mydomain = mailstack.test
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
alias_maps =
alias_database =
# Nothing ever leaves: accepted mail is discarded, except trap mail (the
# transport map sends it to the fadelist-trap pipe).
default_transport = discard:
relay_transport = discard:
smtputf8_enable = no
biff = no

EOF
        echo "# --- deploy/postfix/main.cf.fragment, as shipped ------------------------"
        cat "$DEPLOY/postfix/main.cf.fragment"
        echo
        echo "# --- deploy/postfix-trap/main.cf.fragment, as shipped -------------------"
        cat "$DEPLOY/postfix-trap/main.cf.fragment"
    } >"$PF_CONF/main.cf"
    # The test's own settings, edited in place (a second entry would make
    # Postfix warn): the accepting domain of this test merged with the trap
    # domain, and a shorter wait for DNSBL answers and early talkers
    # (default 6s) to keep the test fast.
    postconf -c "$PF_CONF" -e "relay_domains = mailstack.test, traps.example.net" "postscreen_greet_wait = 2s"
    {
        cat <<'EOF'
# --- the test instance's services (no chroot) ------------------------------
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
        echo "# --- deploy/postfix/master.cf.fragment (listener: 127.0.0.1:$SPORT) ---"
        sed "s/^smtp      inet/127.0.0.1:$SPORT inet/" "$DEPLOY/postfix/master.cf.fragment"
        echo "# --- deploy/postfix-trap/master.cf.fragment (paths, user, server) ---"
        sed -e "s|user=fadelist-trap|user=nobody|" \
            -e "s|/usr/local/bin/fadelist-trap-report|$PF/bin/fadelist-trap-report --fadelist=$PF/bin/fadelist|" \
            -e "s|http://127\.0\.0\.1:8300|http://127.0.0.1:$HPORT|" \
            -e "s|/etc/fadelist/trap\.token|$PF/trap.token|" \
            "$DEPLOY/postfix-trap/master.cf.fragment"
    } >"$PF_CONF/master.cf"
    # postfix(1) says why it fails only on a terminal or in the log.
    pfrc=0
    postfix -c "$PF_CONF" check >"$PF/check.out" 2>&1 || pfrc=$?
    pfcheck=$(cat "$PF/check.out" "$PF/maillog" 2>/dev/null)
    if ((pfrc == 0)) && ! grep -qi 'fatal\|error' <<<"$pfcheck"; then
        pass "postfix check: the fragments load (main.cf, master.cf, texthash maps)"
    else
        fail_d "postfix check: the fragments load" "$pfcheck"
    fi
    warn=$(postconf -c "$PF_CONF" -n 2>&1 >/dev/null | grep -i warning || true)
    why "$warn"
    check "postconf -n: no warnings (unused or misspelt parameters)" test -z "$warn"
    pfval=$(postconf -c "$PF_CONF" -h postscreen_dnsbl_sites)
    info "postscreen_dnsbl_sites = $pfval"
    # The master daemon inherits the namespace, and so does every daemon
    # it starts; chrooted ones read $PF/spool/etc/resolv.conf (the same).
    start_bg postfix "$PF/start-fg.log" unshare --mount --propagation private -- \
        sh -c 'mount --bind "$1" /etc/resolv.conf && exec postfix -c "$2" start-fg' sh \
        "$PF/resolv.conf" "$PF_CONF"
    for _ in $(seq 100); do
        if grep -q 'daemon started' "$PF/maillog" 2>/dev/null &&
            python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$SPORT" 2>/dev/null; then
            PF_UP=1
            break
        fi
        sleep 0.1
    done
    if ((PF_UP)); then
        pass "private Postfix instance listens on 127.0.0.1:$SPORT (postscreen), resolver $UADDR in its namespace only"
    else
        fail_d "private Postfix instance started" "$(tail -n 15 "$PF/start-fg.log")" "$(tail -n 15 "$PF/maillog" 2>/dev/null)"
    fi
    mresolv=$(head -n1 /etc/resolv.conf)
    info "this machine's /etc/resolv.conf is untouched: $mresolv"
else
    section "3. Postfix"
    skip "Postfix: not installed (${OTHER_MTA:-another MTA} is, and they conflict); deploy/postfix is not tested here"
fi

# smtp SRC HELO FROM RCPT: an SMTP session from source address SRC to the
# test's Postfix; prints one line per step ("ehlo 250 ...", "rcpt 550 ...").
smtp() {
    timeout 40 python3 - "$SPORT" "$@" <<'EOF' 2>&1 || true
import smtplib, sys
port, src, helo, mfrom, rcpt = int(sys.argv[1]), *sys.argv[2:6]
msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: mailstack test\r\nMessage-ID: <%s.%s@mailstack.test>\r\n"
       "List-Unsubscribe: <mailto:unsub@%s>\r\n\r\nhello\r\n") % (mfrom, rcpt, src, port, helo)
def one(line):
    print(line.replace("\n", " ").replace("\r", ""), flush=True)
try:
    s = smtplib.SMTP(timeout=30, source_address=(src, 0))
    code, text = s.connect("127.0.0.1", port)
    one("connect %d %s" % (code, text.decode(errors="replace")))
    code, text = s.ehlo(helo); one("ehlo %d" % code)
    code, text = s.mail(mfrom); one("mail %d %s" % (code, text.decode(errors="replace")))
    code, text = s.rcpt(rcpt); one("rcpt %d %s" % (code, text.decode(errors="replace")))
    if code == 250:
        body = open(sys.argv[6], "rb").read() if len(sys.argv) > 6 else msg.encode()
        code, text = s.data(body); one("data %d %s" % (code, text.decode(errors="replace")))
    s.quit()
except Exception as e:
    one("error %s: %s" % (type(e).__name__, e))
EOF
}
# smtp_expect DESC PATTERN SRC HELO FROM RCPT [FILE]: PASS when the session's
# output matches the extended regex PATTERN.
smtp_expect() {
    local desc=$1 pat=$2
    shift 2
    local out
    out=$(smtp "$@")
    if grep -Eq "$pat" <<<"$out"; then
        pass "$desc: $(grep -Em1 "$pat" <<<"$out" | cut -c1-150)"
    else
        fail_d "$desc" "$out"
    fi
}
if ((PF_UP)); then
    smtp_expect "postscreen rejects $LISTED_CLIENT (iprbl 127.0.0.2, weight 3 = threshold), reply names the reply-map name" \
        '^rcpt 550 5\.7\.1 Service unavailable; client \[127\.0\.0\.9\] blocked using dnsbl\.example\.net' \
        "$LISTED_CLIENT" client.example "sender@$CLEAN_DOMAIN" "alice@mailstack.test"
    why "$(grep -F "[$LISTED_CLIENT]" "$PF/maillog" | tail -n 5)"
    check "postscreen log: \"DNSBL rank 3 for [$LISTED_CLIENT]\"" grep -q "DNSBL rank 3 for \[$LISTED_CLIENT\]" "$PF/maillog"
    why "$(grep -F "[$LISTED_CLIENT]" "$PF/maillog" | grep -F reject | tail -n 2)"
    check "the reply hides the zone queried ($IPRBL)" bash -c "! grep -F '[$LISTED_CLIENT]' '$PF/maillog' | grep -F reject | grep -q '$IPRBL'"
    smtp_expect "postscreen passes $CLEAN_CLIENT (listed nowhere), smtpd accepts its mail" '^data 250 ' \
        "$CLEAN_CLIENT" client.example "sender@$CLEAN_DOMAIN" "alice@mailstack.test"
    why "$(grep -F "[$CLEAN_CLIENT]" "$PF/maillog" | head -n 5)"
    check "postscreen log: \"PASS NEW [$CLEAN_CLIENT]\"" grep -q "PASS NEW \[$CLEAN_CLIENT\]" "$PF/maillog"
    smtp_expect "smtpd rejects $BULKPHISH_CLIENT (niprbl 127.0.0.3: reject_rbl_client niprbl=127.0.0.[3..4]) with the TXT" \
        "^rcpt 554 5\.7\.1 Service unavailable; Client host \[$BULKPHISH_CLIENT\] blocked using $NIPRBL; Listed in niprbl" \
        "$BULKPHISH_CLIENT" client.example "sender@$CLEAN_DOMAIN" "alice@mailstack.test"
    why "$(grep -F "[$BULKPHISH_CLIENT]" "$PF/maillog" | head -n 3)"
    check "postscreen let $BULKPHISH_CLIENT through (niprbl weight 1 < 3: \"PASS NEW\")" grep -q "PASS NEW \[$BULKPHISH_CLIENT\]" "$PF/maillog"
    smtp_expect "newsletter sender $NEWSLETTER_CLIENT (niprbl 127.0.0.5) is accepted" '^data 250 ' \
        "$NEWSLETTER_CLIENT" client.example "news@$CLEAN_DOMAIN" "alice@mailstack.test"
    smtp_expect "reject_rhsbl_sender: sender bounce@mail.$SPAM_DOMAIN (urirbl, the domain's subdomain) refused" \
        "^rcpt 554 5\.7\.1 Service unavailable; Sender address \[bounce@mail\.$SPAM_DOMAIN\] blocked using $URIRBL" \
        "$CLEAN_CLIENT" client.example "bounce@mail.$SPAM_DOMAIN" "alice@mailstack.test"
    smtp_expect "reject_rhsbl_helo: HELO mx.$PHISH_DOMAIN (urirbl 127.0.0.3) refused" \
        "^rcpt 554 5\.7\.1 Service unavailable; Helo command \[mx\.$PHISH_DOMAIN\] blocked using $URIRBL" \
        "$CLEAN_CLIENT" "mx.$PHISH_DOMAIN" "sender@$CLEAN_DOMAIN" "alice@mailstack.test"
    smtp_expect "reject_rhsbl_client: client $NAMED_CLIENT named mail.$SPAM_DOMAIN (verified, private hosts file) refused" \
        "^rcpt 554 5\.7\.1 Service unavailable; Client host \[mail\.$SPAM_DOMAIN\] blocked using $URIRBL" \
        "$NAMED_CLIENT" client.example "sender@$CLEAN_DOMAIN" "alice@mailstack.test"
fi

# ----------------------------------------------------------------------------
section "4. SpamAssassin $(spamassassin -V | sed -n 's/^SpamAssassin version //p' | head -n1) with deploy/spamassassin/fadelist.cf"
SA=$WORK/sa
mkdir -p "$SA/site" "$SA/rules"
cat >"$SA/site/init.pre" <<'EOF'
# Only the plugins the shipped rules need (the system .pre files are not read).
loadplugin Mail::SpamAssassin::Plugin::Check
loadplugin Mail::SpamAssassin::Plugin::DNSEval
loadplugin Mail::SpamAssassin::Plugin::URIDNSBL
EOF
cat >"$SA/site/local.cf" <<EOF
# Ask the test's Unbound (the mail host's own resolver).
dns_server $UADDR
dns_available yes
rbl_timeout 10
use_bayes 0
bayes_auto_learn 0
clear_headers
add_header all Status _YESNO_, score=_SCORE_ required=_REQD_ tests=_TESTS_ version=_VERSION_
# The reporter's MX is trusted and internal: the hop below it is the last
# external relay, which the -lastexternal rules ask about.
clear_trusted_networks
trusted_networks 81.2.69.160/27
clear_internal_networks
internal_networks 81.2.69.160/27
# Top-level domains: the stock rules (20_aux_tlds.cf, not loaded here)
# define them; without .com no link domain is looked up.
util_rb_tld com
EOF
cp "$DEPLOY/spamassassin/fadelist.cf" "$SA/rules/"
: >"$SA/user_prefs"
SA_ARGS=(-x --siteconfigpath="$SA/site" -C "$SA/rules" --prefspath="$SA/user_prefs")
lint=$(timeout 60 spamassassin "${SA_ARGS[@]}" --lint 2>&1) && lrc=0 || lrc=$?
why "exit $lrc" "$lint"
check "spamassassin --lint with the shipped rules" test "$lrc" = 0
# sa_run NAME: spamassassin -t on $MAIL/NAME.eml (in the background; sa_wait).
SA_JOBS=()
sa_run() {
    timeout 60 spamassassin -t "${SA_ARGS[@]}" -D dns,uridnsbl <"$MAIL/$1.eml" >"$SA/$1.out" 2>"$SA/$1.debug" &
    SA_JOBS+=($!)
}
sa_tests() {
    # X-Spam-Status may be folded over several lines.
    printf ',%s,' "$(awk '/^X-Spam-Status:/ { f = 1; s = $0; next }
        f && /^[ \t]/ { sub(/^[ \t]+/, " "); s = s $0; next }
        f { f = 0 }
        END { gsub(/, /, ",", s); print s }' "$SA/$1.out" | sed -n 's/.*tests=\([^ ]*\).*/\1/p')"
}
# sa_expect NAME DESC +RULE|-RULE...
sa_expect() {
    local name=$1 desc=$2 e t
    shift 2
    t=$(sa_tests "$name")
    local -a errs=()
    for e in "$@"; do
        case $e in
        +*) [[ $t == *",${e#+},"* ]] || errs+=("${e#+} did not fire") ;;
        -*) [[ $t != *",${e#-},"* ]] || errs+=("${e#-} fired") ;;
        esac
    done
    if ((${#errs[@]} == 0)); then
        local shown=${t//,/ }
        pass "SpamAssassin, $desc (tests:${shown% })"
    else
        fail_d "SpamAssassin, $desc" "${errs[@]}" "tests=$t" \
            "$(grep -E 'dns: (query|.*answer)|uridnsbl' "$SA/$name.debug" | grep -E 'example\.net' | head -n 8 | cut -c1-200)"
    fi
}
for m in all phish bulk clean; do sa_run "$m"; done
for j in "${SA_JOBS[@]}"; do wait "$j" || true; done
sa_expect all "source $SPAM_SRC (iprbl .2), links to $SPAM_DOMAIN and $URL_IP (urirbl .2) and $PHISH_DOMAIN (.3)" \
    +RCVD_IN_FADELIST_SPAM +URIBL_FADELIST_SPAM +URIBL_FADELIST_PHISHING -RCVD_IN_FADELIST_PHISHING
sa_expect phish "source $PHISH_SRC (iprbl .3)" +RCVD_IN_FADELIST_PHISHING -RCVD_IN_FADELIST_SPAM -URIBL_FADELIST_SPAM
sa_expect bulk "source $NEWS_SRC (niprbl .5)" +RCVD_IN_FADELIST_NEWSLETTER -RCVD_IN_FADELIST_SPAM -RCVD_IN_FADELIST_BULK_SPAM
sa_expect clean "clean mail (nothing listed)" -RCVD_IN_FADELIST_SPAM -RCVD_IN_FADELIST_PHISHING \
    -RCVD_IN_FADELIST_NEWSLETTER -URIBL_FADELIST_SPAM -URIBL_FADELIST_PHISHING
why "$(grep -c 'example\.net' "$SA/all.debug" || true) lines naming the zones in the -D log"
check "SpamAssassin asked $URIRBL for $URL_IP as reversed octets ($(rev4 $URL_IP).$URIRBL)" \
    grep -q "$(rev4 $URL_IP)\.$URIRBL" "$SA/all.debug"

# ----------------------------------------------------------------------------
section "5. rspamd $(rspamd -v 2>&1 | sed -n 's/.*version //p' | head -n1) with deploy/rspamd/local.d/{rbl,rbl_group}.conf"
# rspamc_run NAME CLIENT_IP: scans $MAIL/NAME.eml as received from CLIENT_IP.
rspamc_run() {
    timeout 30 rspamc -h "127.0.0.1:$RPORT" -t 10 -i "$2" symbols "$MAIL/$1.eml" >"$RS/$1.out" 2>&1
}
rs_ready=0
deadline=$((SECONDS + 90))
while ((SECONDS < deadline)); do
    kill -0 "$RSPAMD_PID" 2>/dev/null || break
    if grep -q "starting normal process" "$RS/rspamd.log" && rspamc_run clean "$CLEAN_SRC" &&
        grep -q '^Action:' "$RS/clean.out"; then
        rs_ready=1
        break
    fi
    sleep 0.5
done
if ((rs_ready)); then
    pass "rspamd started and scans (t=${SECONDS}s)"
else
    fail_d "rspamd started and scans" "$(tail -n 15 "$RS/rspamd.log")" "$(cat "$RS/clean.out" 2>/dev/null)"
fi
RS_ERRORS='RBL is DISABLED|invalid config|invalid (backend|selector|formatter)|No rules enabled|No push backend|No such (selector|formatter)|cannot (load|open|parse)|syntax error|attempt to (call|index)|stack traceback'
why "$(grep -E "$RS_ERRORS" "$RS/rspamd.log" | head -n 8)"
check "rspamd loads the shipped rbl rules and the exporter without errors" bash -c "! grep -qE '$RS_ERRORS' '$RS/rspamd.log'"
# rs_expect NAME DESC +SYMBOL[=OPTION]|-SYMBOL...
rs_expect() {
    local name=$1 desc=$2 e sym opt line
    shift 2
    local -a errs=()
    for e in "$@"; do
        case $e in
        +*)
            sym=${e#+}
            opt=
            [[ $sym != *=* ]] || { opt=${sym#*=}; sym=${sym%%=*}; }
            line=$(grep "^Symbol: $sym " "$RS/$name.out" || true)
            if [[ -z $line ]]; then
                errs+=("$sym not hit")
            elif [[ -n $opt && $line != *"[$opt"* && $line != *", $opt"* ]]; then
                errs+=("$sym hit, but without option $opt: $line")
            fi
            ;;
        -*) ! grep -q "^Symbol: ${e#-} " "$RS/$name.out" || errs+=("${e#-} hit: $(grep "^Symbol: ${e#-} " "$RS/$name.out")") ;;
        esac
    done
    if ((${#errs[@]} == 0)); then
        pass "rspamd, $desc ($(grep -Eo '^Symbol: FADELIST_[A-Z_]+' "$RS/$name.out" | sed 's/^Symbol: //' | paste -sd' ' -))"
    else
        fail_d "rspamd, $desc" "${errs[@]}" "$(grep -E '^(Action|Spam|Score|Symbol)' "$RS/$name.out" | head -n 12)"
    fi
}
if ((rs_ready)); then
    rs_expect clean "clean mail from $CLEAN_SRC: no FADELIST symbol" -FADELIST_IP_SPAM -FADELIST_URI_SPAM \
        -FADELIST_BULK_NEWSLETTER -FADELIST_RECEIVED_SPAM
    rspamc_run all "$SPAM_SRC" || true
    rs_expect all "client $SPAM_SRC (iprbl .2), links and an e-mail address in listed domains" \
        +FADELIST_IP_SPAM +FADELIST_RECEIVED_SPAM "+FADELIST_URI_SPAM=$SPAM_DOMAIN:url" \
        "+FADELIST_URI_SPAM=$(rev4 $URL_IP):url" "+FADELIST_URI_SPAM=$SPAM_DOMAIN:email" \
        "+FADELIST_URI_PHISHING=$PHISH_DOMAIN:url" -FADELIST_IP_PHISHING
    rspamc_run phish "$PHISH_SRC" || true
    rs_expect phish "client $PHISH_SRC (iprbl .3)" +FADELIST_IP_PHISHING +FADELIST_RECEIVED_PHISHING -FADELIST_IP_SPAM
    rspamc_run bulk "$NEWS_SRC" || true
    rs_expect bulk "client $NEWS_SRC (niprbl .5)" +FADELIST_BULK_NEWSLETTER -FADELIST_IP_SPAM -FADELIST_BULK_SPAM
    why "$(grep -E '^(Action|Score)' "$RS/all.out")"
    check "rspamd rejects the all-listed mail with the shipped weights and stock thresholds ($(grep -m1 '^Score' "$RS/all.out" || true))" \
        grep -q '^Action: reject' "$RS/all.out"
fi

# ----------------------------------------------------------------------------
# lookup_reports KEY ZONE: the report count of KEY in ZONE from the HTTP
# lookup API (0 when none, "?" when the API does not answer).
lookup_reports() {
    curl -s -m 5 "http://127.0.0.1:$HPORT/api/v1/lookup/$1" 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    sys.exit(print("?"))
print(next((z.get("reports", 0) for z in d.get("zones", []) if z.get("zone") == sys.argv[1]), 0))' "$2"
}
reports_are() { [[ $(lookup_reports "$1" "$2") == "$3" ]]; }

if ((HAVE_POSTFIX)); then
    section "6. Postfix spam trap with deploy/postfix-trap -> fadelist"
    if "$BIN" report --help 2>/dev/null | grep -q -- '--token-file'; then
        info "this fadelist's report has --token-file: the wrapper passes it on"
    else
        info "this fadelist's report has no --token-file: the wrapper reads the file and sets FADELIST_TOKEN"
    fi
    if ((PF_UP)); then
        # A spam that came to the trap MX's relay from TRAP_SRC; it carries
        # bulk headers, which a trap's report ignores (iprbl, not niprbl).
        cat >"$MAIL/trap.eml" <<EOF
Received: from bulk-sender.example (unknown [$TRAP_SRC])
	by relay.mailstack.test (Postfix) with ESMTP id 4Z1Ab2Cd3Ef4
	for <spamtrap1@traps.example.net>; $NOW
From: "Deals" <deals@bulk-sender.example>
To: spamtrap1@traps.example.net
Subject: Your exclusive deal
Date: $NOW
Message-ID: <trap.$$.$RANDOM@bulk-sender.example>
List-Unsubscribe: <mailto:unsubscribe@bulk-sender.example>
Precedence: bulk
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Exclusive deals at http://deals.bulk-sender.example/ today.
EOF
        smtp_expect "mail for spamtrap1@traps.example.net is accepted" '^data 250 ' \
            "$CLEAN_CLIENT" relay.mailstack.test "deals@bulk-sender.example" "spamtrap1@traps.example.net" "$MAIL/trap.eml"
        if eventually 100 0.2 reports_are "$TRAP_SRC" "$IPRBL" 1; then
            pass "the trap mail arrived at fadelist: $TRAP_SRC has 1 report in $IPRBL (lookup API)"
        else
            fail_d "the trap mail arrived at fadelist: $TRAP_SRC has 1 report in $IPRBL" \
                "reports: $(lookup_reports "$TRAP_SRC" "$IPRBL")" "$(grep -E 'fadelist-trap|pipe' "$PF/maillog" | tail -n 5)"
        fi
        why "$NIPRBL reports: $(lookup_reports "$TRAP_SRC" "$NIPRBL")"
        check "...as a trap report: its bulk headers were ignored (0 reports in $NIPRBL)" reports_are "$TRAP_SRC" "$NIPRBL" 0
        why "$(grep -E 'fadelist-trap' "$PF/maillog" | tail -n 3)"
        check "Postfix log: delivered by the fadelist-trap pipe (status=sent)" \
            grep -qE 'relay=fadelist-trap, .*status=sent' "$PF/maillog"
    else
        skip "the trap: Postfix did not start"
    fi
else
    section "6. Postfix spam trap"
    skip "the Postfix trap: Postfix not installed"
fi

# ----------------------------------------------------------------------------
section "7. rspamd auto-reporting with deploy/rspamd/local.d/metadata_exporter.conf"
if ((rs_ready)); then
    rspamc_run spammy "$INDEP_SRC" || true
    why "$(grep -E '^(Action|Score|Symbol)' "$RS/spammy.out" | head -n 5)"
    check "the test's own rule makes rspamd reject a mail from $INDEP_SRC (nothing of it listed)" \
        grep -q '^Action: reject' "$RS/spammy.out"
    if eventually 50 0.2 reports_are "$INDEP_SRC" "$IPRBL" 1; then
        pass "metadata_exporter reported it: $INDEP_SRC has 1 report in $IPRBL (reporter rspamd-auto)"
    else
        fail_d "metadata_exporter reported it: $INDEP_SRC has 1 report in $IPRBL" \
            "reports: $(lookup_reports "$INDEP_SRC" "$IPRBL")" "$(grep -iE 'fadelist|metadata_exporter|EXPORT' "$RS/rspamd.log" | tail -n 6)"
    fi
    why "$(grep -iE 'fadelist: report' "$RS/rspamd.log" | tail -n 3)"
    check "rspamd log: \"fadelist: report accepted (HTTP 202)\"" grep -q 'fadelist: report accepted (HTTP 202)' "$RS/rspamd.log"
    # The all-listed mail was rejected too (section 5), but only because of
    # fadelist's own symbols: not reported.
    sleep 1
    why "reports: $(lookup_reports "$SPAM_SRC" "$IPRBL")"
    check "a mail rejected only because of FADELIST_* symbols ($SPAM_SRC) was not reported" reports_are "$SPAM_SRC" "$IPRBL" 0

    # The rbl module's health probes (each zone's "monitored" object),
    # sent a few seconds after start at a random moment, then periodically:
    # 1.0.0.127.<zone> for the IP zones, a random label for the URI zone.
    # Any answer but NXDOMAIN would disable the zone's rules.
    probed=()
    deadline=$((SECONDS + 15))
    while :; do
        probed=()
        for z in $IPRBL $NIPRBL $URIRBL; do
            if grep -q "dns callback for $z in [0-9.]*: no records with this name" "$RS/rspamd.log"; then
                probed+=("$z")
            fi
        done
        ((${#probed[@]} < 3 && SECONDS < deadline)) || break
        sleep 0.5
    done
    names=$(grep -oE "info: 127\.0\.0\.1 [^ ]+\.($IPRBL|$NIPRBL|$URIRBL)\. A IN NXDOMAIN" "$UB/unbound.log" |
        awk '{ print $3 }' | grep -E '^(1\.0\.0\.127\.|[^.]+\.urirbl)' | sort -u | paste -sd' ' - || true)
    why "probed with an NXDOMAIN answer: ${probed[*]:-none}" "$(grep -E 'monitored' "$RS/rspamd.log" | tail -n 5)"
    check "rspamd's monitored probes of all three zones got NXDOMAIN (NXDOMAIN names in the Unbound log, the test's own digs included: $names)" test "${#probed[@]}" = 3
    # (rspamd 3.4's messages when a probe goes wrong: src/libserver/monitored.c)
    bad=$(grep -E 'disable object|was expected when querying|DNS query blocked on|bad address .* when monitoring' "$RS/rspamd.log" |
        grep -E 'example\.net' | head -n 3 || true)
    why "$bad"
    check "rspamd never found a fadelist zone unhealthy (monitored)" test -z "$bad"
else
    skip "rspamd auto-reporting: rspamd did not start"
fi

# ----------------------------------------------------------------------------
section "8. Exim with deploy/exim/{connect,rcpt}.acl"
# Exim and Postfix cannot be installed together on Debian (both provide
# mail-transport-agent). Where Exim is installed, its binary is used; else
# (MAILSTACK_EXIM_UNPACKED=0 turns this off) the Debian package
# exim4-daemon-light and the libraries it needs that are missing here are
# downloaded with `apt-get download` and unpacked into the temp dir, never
# installed, and run from there as root in a mount namespace that also
# gives it its Debian-exim user (a copy of /etc/passwd and /etc/group).
EX=$WORK/exim
EXIM_HOW=installed
EXIM_LIBS=
if [[ -z $EXIM && ${MAILSTACK_EXIM_UNPACKED:-1} != 0 ]] && command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    mkdir -p "$EX/deb"
    pkgs=(exim4-daemon-light)
    while read -r dep; do
        dpkg -s "$dep" >/dev/null 2>&1 || pkgs+=("$dep")
    done < <(apt-cache depends exim4-daemon-light 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^lib/ { print $2 }')
    if (cd "$EX/deb" && timeout 120 apt-get download -q -o APT::Sandbox::User=root "${pkgs[@]}" >"$EX/download.log" 2>&1); then
        for deb in "$EX"/deb/*.deb; do dpkg-deb -x "$deb" "$EX/root"; done
        if [[ -x $EX/root/usr/sbin/exim4 ]]; then
            EXIM=$EX/root/usr/sbin/exim4
            EXIM_HOW="unpacked from $(basename "$EX"/deb/exim4-daemon-light_*.deb) (not installed; with ${pkgs[*]:1})"
            EXIM_LIBS=$EX/root/usr/lib/x86_64-linux-gnu:$EX/root/lib/x86_64-linux-gnu
        fi
    else
        info "apt-get download ${pkgs[*]} failed: $(tail -n 2 "$EX/download.log" | paste -sd' ' -)"
    fi
fi
if [[ -n $EXIM ]]; then
    info "Exim: $EXIM ($EXIM_HOW)"
    mkdir -p "$EX/spool"
    chmod 777 "$EX/spool"
    printf 'nameserver %s\n' "$UADDR" >"$EX/resolv.conf"
    cp /etc/passwd "$EX/passwd"
    cp /etc/group "$EX/group"
    if ! getent passwd Debian-exim >/dev/null; then
        echo 'Debian-exim:x:65534:65534:Exim (this test only):/nonexistent:/usr/sbin/nologin' >>"$EX/passwd"
        echo 'Debian-exim:x:65534:' >>"$EX/group"
    fi
    cat >"$EX/exim.conf" <<EOF
# A minimal Exim configuration around the shipped ACL statements.
primary_hostname = mx.mailstack.test
domainlist local_domains = mailstack.test
domainlist relay_to_domains =
hostlist relay_from_hosts = 127.0.0.1
spool_directory = $EX/spool
log_file_path = $EX/%slog
keep_environment =
acl_smtp_connect = acl_check_connect
acl_smtp_rcpt = acl_check_rcpt

begin acl

acl_check_connect:
  accept  hosts = : +relay_from_hosts
.include $DEPLOY/exim/connect.acl
  accept

acl_check_rcpt:
  accept  hosts = :
  require message = relay not permitted
          domains = +local_domains : +relay_to_domains
.include $DEPLOY/exim/rcpt.acl
  accept  domains = +local_domains

begin routers

discard_all:
  driver = redirect
  data = :blackhole:
EOF
    # exim_ns ARGS...: Exim in a mount namespace whose /etc/resolv.conf
    # points at the test's Unbound (and whose passwd knows Debian-exim).
    exim_ns() {
        timeout 30 unshare --mount --propagation private -- sh -c '
            mount --bind "$1/resolv.conf" /etc/resolv.conf &&
            mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group || exit 70
            shift
            LD_LIBRARY_PATH=$EXIM_LIBS exec "$@"' sh "$EX" "$EXIM" -C "$EX/exim.conf" "$@" 2>&1
    }
    export EXIM_LIBS
    out=$(exim_ns -bV) && erc=0 || erc=$?
    why "exit $erc" "$(tail -n 5 <<<"$out")"
    check "exim -bV -C: the configuration with the shipped ACLs parses ($(head -n1 <<<"$out" | grep -o 'Exim version [^ ]*' || true))" test "$erc" = 0
    # exim_bh SRC SENDER [HELO]: a host-checking session from SRC (-bh: the
    # ACLs run, DNS lists are asked, nothing is delivered).
    exim_bh() {
        printf 'EHLO %s\r\nMAIL FROM:<%s>\r\nRCPT TO:<alice@mailstack.test>\r\nQUIT\r\n' "${3:-client.example}" "$2" |
            exim_ns -bh "$1" || true
    }
    replies() { grep -E '^([245][0-9][0-9][ -]|LOG:)' <<<"$1" | grep -vE '^250-' | head -n 12; }
    out=$(exim_bh "$LISTED_CLIENT" "sender@$CLEAN_DOMAIN")
    why "$(replies "$out")"
    check "exim -bh $LISTED_CLIENT: refused at connect with the TXT (connect.acl, iprbl)" \
        grep -qE "^550[ -]$LISTED_CLIENT is listed in $IPRBL: Listed in iprbl" <<<"$out"
    out=$(exim_bh "$BULKPHISH_CLIENT" "sender@$CLEAN_DOMAIN")
    why "$(replies "$out")"
    check "exim -bh $BULKPHISH_CLIENT: refused at RCPT (rcpt.acl, niprbl 127.0.0.3)" \
        grep -qE "^550[ -]bulk sender $BULKPHISH_CLIENT is listed in $NIPRBL" <<<"$out"
    out=$(exim_bh "$CLEAN_CLIENT" "sender@mail.$SPAM_DOMAIN")
    why "$(replies "$out")"
    check "exim -bh $CLEAN_CLIENT, sender in a listed domain: refused at RCPT (rcpt.acl, urirbl)" \
        grep -qE "^550[ -]sender domain mail\.$SPAM_DOMAIN is listed in $URIRBL" <<<"$out"
    out=$(exim_bh "$CLEAN_CLIENT" "sender@$CLEAN_DOMAIN" "mx.$PHISH_DOMAIN")
    why "$(replies "$out")"
    check "exim -bh $CLEAN_CLIENT, HELO in a listed domain: refused at RCPT (rcpt.acl, urirbl)" \
        grep -qE "^550[ -]HELO name mx\.$PHISH_DOMAIN is listed in $URIRBL" <<<"$out"
    out=$(exim_bh "$NEWSLETTER_CLIENT" "news@$CLEAN_DOMAIN")
    why "$(replies "$out")" "$(grep -i 'X-Fadelist' <<<"$out" | head -n 2)"
    check "exim -bh $NEWSLETTER_CLIENT (niprbl .5): accepted, with an X-Fadelist-Bulk header" \
        bash -c 'grep -qE "^250 Accepted" <<<"$1" && grep -q "X-Fadelist-Bulk: $2 listed in $3" <<<"$1"' sh "$out" "$NEWSLETTER_CLIENT" "$NIPRBL"
    out=$(exim_bh "$CLEAN_CLIENT" "sender@$CLEAN_DOMAIN")
    why "$(replies "$out")"
    check "exim -bh $CLEAN_CLIENT, clean sender: RCPT accepted" grep -qE '^250 Accepted' <<<"$out"
else
    skip "Exim: not installed, and not unpacked from Debian's package either. On Debian, exim4 and postfix conflict (both provide mail-transport-agent); deploy/exim/*.acl are tested where Exim is installed or its package can be downloaded (exim -bV -C and exim -bh sessions)"
fi

# ----------------------------------------------------------------------------
section "9. the trap wrapper's exit codes (deploy/postfix-trap/fadelist-trap-report)"
W=$DEPLOY/postfix-trap/fadelist-trap-report
WT=$WORK/wrapper
mkdir -p "$WT"
printf '%s\n' "$TRAP_TOKEN" >"$WT/token"
DEAD_PORT=$(free_port) # nothing listens there
rc=0
timeout 30 "$W" --fadelist="$BIN" --server "http://127.0.0.1:$DEAD_PORT" --token-file "$WT/token" \
    <"$MAIL/clean.eml" >"$WT/dead.out" 2>&1 || rc=$?
why "exit $rc" "$(tail -n 3 "$WT/dead.out")"
check "server unreachable: exit 75 (EX_TEMPFAIL: Postfix keeps the mail and retries)" test "$rc" = 75
if "$BIN" report --help 2>/dev/null | grep -q -- '--spool'; then
    rc=0
    timeout 30 "$W" --fadelist="$BIN" --server "http://127.0.0.1:$DEAD_PORT" --token-file "$WT/token" \
        --spool "$WT/real-spool" <"$MAIL/clean.eml" >"$WT/spool.out" 2>&1 || rc=$?
    n=$(find "$WT/real-spool/new" -type f 2>/dev/null | wc -l)
    why "exit $rc, $n file(s) in the spool" "$(tail -n 3 "$WT/spool.out")"
    check "server unreachable, with --spool DIR: exit 0 and the report kept in DIR/new" test "$rc" = 0 -a "$n" = 1
else
    info "this fadelist has no --spool yet: the wrapper leaves retries to Postfix's queue"
fi
rc=0
timeout 30 "$W" --fadelist="$BIN" --server "http://127.0.0.1:$HPORT" --token-file "$WT/missing" \
    <"$MAIL/clean.eml" >"$WT/notoken.out" 2>&1 || rc=$?
why "exit $rc" "$(cat "$WT/notoken.out")"
check "token file unreadable: exit 75 (an operator's mistake; the mail waits)" test "$rc" = 75
# Stand-ins for fadelist that record how they were called: one with
# --token-file and --spool (the newer `fadelist report`), one without.
for kind in new old; do
    cat >"$WT/fake-$kind" <<EOF
#!/bin/sh
if [ "\$2" = --help ]; then
    echo "Usage: fadelist report [OPTIONS] --server <SERVER>"
    $([[ $kind == new ]] && echo 'echo "      --token-file <FILE>"; echo "      --spool <DIR>"')
    exit 0
fi
printf '%s\n' "\$@" >"$WT/$kind.args"
printf '%s\n' "\${FADELIST_TOKEN:-<unset>}" >"$WT/$kind.env"
cat >/dev/null
exit \${FAKE_RC:-0}
EOF
    chmod 755 "$WT/fake-$kind"
done
rc=0
FAKE_RC=0 "$W" --fadelist="$WT/fake-new" --server http://x --token-file "$WT/token" --spool "$WT/spool" \
    </dev/null >/dev/null 2>&1 || rc=$?
why "exit $rc" "args: $(paste -sd' ' "$WT/new.args" 2>/dev/null)" "FADELIST_TOKEN: $(cat "$WT/new.env" 2>/dev/null)"
check "a fadelist with --token-file gets --token-file and --spool, no token in its environment" \
    bash -c "test $rc = 0 && grep -qx -- '--token-file' '$WT/new.args' && grep -qx -- '--spool' '$WT/new.args' && grep -qx '<unset>' '$WT/new.env'"
rc=0
FAKE_RC=0 "$W" --fadelist="$WT/fake-old" --server http://x --token-file "$WT/token" --spool "$WT/spool" \
    </dev/null >/dev/null 2>&1 || rc=$?
why "exit $rc" "args: $(paste -sd' ' "$WT/old.args" 2>/dev/null)" "FADELIST_TOKEN: $(cat "$WT/old.env" 2>/dev/null)"
check "a fadelist without --token-file gets the token in FADELIST_TOKEN, and neither option" \
    bash -c "test $rc = 0 && ! grep -q -- '--token-file\|--spool' '$WT/old.args' && grep -qx '$TRAP_TOKEN' '$WT/old.env'"
for pair in "75:75:" "65:65:" "65:0:--drop-refused" "1:75:"; do
    IFS=: read -r frc want opt <<<"$pair"
    rc=0
    # shellcheck disable=SC2086 # opt is one word or nothing
    FAKE_RC=$frc "$W" --fadelist="$WT/fake-new" $opt --server http://x --token-file "$WT/token" \
        </dev/null >/dev/null 2>&1 || rc=$?
    why "exit $rc"
    check "fadelist exits $frc${opt:+ ($opt)}: the wrapper exits $want" test "$rc" = "$want"
done

# ----------------------------------------------------------------------------
section "shutdown"
if kill -0 "$SERVER_PID" 2>/dev/null; then pass "fadelist still running"; else fail_d "fadelist still running" "it exited"; fi
if stop_server; then pass "fadelist exits with status 0 on SIGTERM"; else fail_d "fadelist exits with status 0 on SIGTERM" "non-zero exit"; fi
