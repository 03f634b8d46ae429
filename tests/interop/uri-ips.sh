#!/usr/bin/env bash
# Numeric URL hosts (http://45.67.89.10/x) with the real mail filters.
#
# A URI list is asked about a URL whose host is an IP address as
# reversed IPv4 (d.c.b.a.<zone>) by SpamAssassin's URIDNSBL plugin and by
# rspamd's rbl module; rspamd also asks about IPv6 URL hosts, as the 32
# nibbles of the full /128, and SpamAssassin never does. See
# docs/uri-ip-queries.md. This script checks that against the installed
# clients and fadelist:
#
#   1. data file  urirbl.test also serves an ip4set and an ip6trie file; dig
#                 sees them.
#   2. report     two reporters post one spam campaign (from three source
#                 networks) linking to http://<IPv4>/... and
#                 http://[<IPv6>]/...; the reversed IPv4 is listed in
#                 urirbl.test (the domain feed's zone), not in iprbl.test,
#                 where only the real sources (first untrusted Received
#                 hop) are listed; the IPv6 host answers at its /128's
#                 nibble name in urirbl.test.
#   3. SpamAssassin  urirhssub rules (plain, ips_only, domains_only) on
#                 messages linking to the data-file IP, the reported IP, an
#                 unlisted IP (control) and a listed IPv6 address (never
#                 asked).
#   4. rspamd     a standalone rspamd (own minimal configuration, rbl module
#                 only, DNS = fadelist) scanned with rspamc: an rbl rule with
#                 `checks = ["urls"]` and one with `no_ip = true`, same
#                 messages.
#
# Usage:  tests/interop/uri-ips.sh
#   FADELIST_BIN=/path/to/fadelist   use this binary instead of building
#   URI_IPS_TIMEOUT=110              bound (seconds) for everything after
#                                    the build and the package installation
#   URI_IPS_KEEP=1                   keep the temporary directory
#
# Installs dnsutils, spamassassin and rspamd with apt-get when one of their
# commands is missing (root or passwordless sudo; apt does not start their
# services). Everything listens on 127.0.0.1, on free ports; every process
# started here is stopped on exit, also on failure.
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
# Tools: install from Debian if missing

section "0. tools"
need_install=0
for cmd in dig spamassassin rspamd rspamc perl python3 timeout; do
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
    info "installing dnsutils spamassassin rspamd from Debian"
    # Keep apt from starting the packages' system services (rspamd would
    # start its daemon on the default ports); the test runs its own.
    policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
        "${SUDO[@]}" chmod 755 "$policy"
    fi
    install_rc=0
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            dnsutils spamassassin rspamd || install_rc=$?
    [[ -z $policy ]] || "${SUDO[@]}" rm -f "$policy"
    if ((install_rc != 0)); then
        echo "FAIL  apt-get failed (exit $install_rc)"
        echo "RESULT: FAIL"
        exit 1
    fi
fi
for cmd in dig spamassassin rspamd rspamc perl python3 timeout; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "FAIL  command still missing after install: $cmd"
        echo "RESULT: FAIL"
        exit 1
    fi
done
info "$(dig -v 2>&1 | head -n1); $(spamassassin -V | head -n1); $(rspamd -v 2>&1 | head -n1)"

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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-uri-ips.XXXXXX")
# shellcheck source=../lib.sh
source tests/lib.sh

TEST_TIMEOUT=${URI_IPS_TIMEOUT:-110}
LIFETIME=$((TEST_TIMEOUT + 30)) # every background process ends by itself after this
RSPAMD_PID=
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
    if [[ -n $RSPAMD_PID ]]; then
        # `timeout` passes SIGTERM on; rspamd's main process stops its workers.
        kill -TERM "$RSPAMD_PID" 2>/dev/null || true
        local n
        for ((n = 0; n < 50; n++)); do
            kill -0 "$RSPAMD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$RSPAMD_PID" 2>/dev/null || true
    fi
    stop_server || true
    if ((rc != 0 || fails > 0)); then
        local f
        for f in "$WORK/serve.err" "$WORK/rspamd/rspamd.log"; do
            [[ -s $f ]] || continue
            printf '\n--- last lines of %s ---\n' "$f"
            tail -n 25 "$f" | sed 's/^/    /'
        done
    fi
    if [[ -n ${URI_IPS_KEEP:-} ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    if ((rc != 0 && fails == 0)); then
        printf 'FAIL  the script stopped early (exit status %d): see above\n' "$rc"
        fails=1
    fi
    printf '\n=== uri-ips summary: %d passed, %d failed ===\n' "$passes" "$fails"
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
# Addresses and messages
#
# All public unicast (none is special-purpose, a public resolver or a big
# mail provider); nothing is ever sent to them: DNS goes to fadelist only.

DATA_IP=45.67.89.10          # in urirbl's ip4set file
REPORT_IP=45.67.89.11        # in the reported spam's link only
CONTROL_IP=45.67.89.99       # listed nowhere
DATA_IP6=2a0e:97c0:3e1:9::25 # in urirbl's ip6trie file (a /128)
REPORT_IP6=2a0e:97c0:3e1:a::26 # in the reported spam's links too
NEIGHBOUR_IP6=2a0e:97c0:3e1:a::27 # same /64, in no message
# The reported campaign's real sources: three networks (/24), since a link
# address (like a domain) is listed only when reported from several source
# networks (the joe-job defence, [policy] content_min_source_networks).
SOURCES=(89.160.20.115 89.160.31.7 89.161.5.200)
SOURCE_IP=${SOURCES[0]}      # also the client address rspamc passes
# reversed IPv4, as the clients ask it
rev4() { awk -F. '{ print $4 "." $3 "." $2 "." $1 }' <<<"$1"; }
# reversed nibbles of an IPv6 address (the full /128)
nibbles() {
    perl -MSocket=inet_pton,AF_INET6 -e '
        my $a = inet_pton(AF_INET6, $ARGV[0]) or die "bad IPv6 $ARGV[0]\n";
        print join(".", reverse split //, unpack("H*", $a));' "$1"
}
DATA_Q=$(rev4 $DATA_IP)
REPORT_Q=$(rev4 $REPORT_IP)
CONTROL_Q=$(rev4 $CONTROL_IP)
DATA6_Q=$(nibbles $DATA_IP6)
REPORT6_Q=$(nibbles $REPORT_IP6)
NEIGHBOUR6_Q=$(nibbles $NEIGHBOUR_IP6)

MAIL=$WORK/mail
mkdir -p "$MAIL"
NOW=$(date -u -R)
# message NAME SUBJECT CONTENT-TYPE BODY [SOURCE]: a mail that reached the
# reporter (trusted relays 81.2.69.160/27, as in tests/lib.sh) from SOURCE
# (default $SOURCE_IP).
message() {
    local src=${5:-$SOURCE_IP}
    cat >"$MAIL/$1.eml" <<EOF
Return-Path: <offers@promo-sender.example>
Received: from mx1.reporter.example (mx1.reporter.example [81.2.69.162])
	by imap.reporter.example (Postfix) with ESMTPS id 4Y7kQm2n1Pz9
	for <alice@reporter.example>; $NOW
Received: from promo-sender.example (unknown [$src])
	by mx1.reporter.example (Postfix) with ESMTP id 4Y7kQl6Qq3z7
	for <alice@reporter.example>; $NOW
From: "Offers" <offers@promo-sender.example>
To: alice@reporter.example
Subject: $2
Date: $NOW
Message-ID: <$1.$$.$RANDOM@promo-sender.example>
MIME-Version: 1.0
Content-Type: $3; charset=us-ascii
Content-Transfer-Encoding: 7bit

$4
EOF
}
message data "Offer" text/plain "Dear customer,

your discount is waiting at http://$DATA_IP/offer?id=1 today only."
for i in 0 1 2; do
    message "report$i" "Your parcel" text/plain "Hello,

your parcel could not be delivered. Confirm the address at
http://$REPORT_IP/track?id=7781 (or http://[$REPORT_IP6]/track?id=7781)
within 24 hours." "${SOURCES[i]}"
done
message control "Newsletter" text/plain "Hello,

this month's news are at http://$CONTROL_IP/news as usual."
# SpamAssassin does not recognise a bracketed IPv6 host in plain text at
# all; in an HTML link it does see the URI (and then drops it).
message ipv6 "Offer" text/html "<html><body><p>Your discount:
<a href=\"http://[$DATA_IP6]/offer?id=6\">open the offer</a></p></body></html>"

# ----------------------------------------------------------------------------
# fadelist: report-fed zones; urirbl.test also serves two data files

section "1. fadelist (report-fed zones + urirbl data files)"
DATA=$WORK/data
mkdir -p "$DATA"
cat >"$DATA/urirbl-ip4.txt" <<EOF
# IPv4 URL hosts, the way an operator would add them to the URI zone by hand.
:127.0.0.2:URL host \$ is listed in urirbl
$DATA_IP
EOF
cat >"$DATA/urirbl-ip6.txt" <<EOF
# An IPv6 URL host, one /128.
:127.0.0.2:URL host \$ is listed in urirbl
$DATA_IP6
EOF
pick_ports
cat >"$WORK/fadelist.toml" <<EOF
[[zone]]
name = "iprbl.test"
feed = "ip"

[[zone]]
name = "niprbl.test"
feed = "bulk-ip"

[[zone]]
name = "urirbl.test"
feed = "domain"

[[zone.dataset]]
type = "ip4set"
files = ["$DATA/urirbl-ip4.txt"]

[[zone.dataset]]
type = "ip6trie"
files = ["$DATA/urirbl-ip6.txt"]

[policy]
# Accept the messages whatever their date.
max_report_age = "36500d"
EOF
DB=$WORK/db.sqlite
TA=$(reporter_token "$DB" alice)
TB=$(reporter_token "$DB" trap1 --kind trap)
if [[ -n $TA && -n $TB ]]; then pass "two reporters added (tokens printed)"; else fail_d "two reporters added" "tokens: '$TA' '$TB'"; fi
start_server "$WORK/fadelist.toml" "$DB" "$LIFETIME"
if wait_up; then
    pass "fadelist serves DNS on 127.0.0.1:$DPORT, HTTP on 127.0.0.1:$HPORT"
else
    fail_d "fadelist started" "$(tail -n 20 "$WORK/serve.err")"
    exit 1
fi

# rspamd compiles the public-suffix list at start (about 10 s): start it
# now, in the background, and use it last.
RS=$WORK/rspamd
mkdir -p "$RS/db" "$RS/run"
RPORT=$(free_port)
while [[ $RPORT == "$DPORT" || $RPORT == "$HPORT" ]]; do RPORT=$(free_port); done
cat >"$RS/rspamd.conf" <<EOF
# A standalone rspamd for this test: the rbl module only, with two rules on
# urirbl.test; fadelist is its only DNS server. The system configuration is
# not read (its modules fetch maps from the internet and expect Redis).
options {
    pidfile = "$RS/run/rspamd.pid";
    dns {
        nameserver = ["127.0.0.1:$DPORT"];
        timeout = 2s;
        retransmits = 2;
    }
    url_tld = "/usr/share/rspamd/effective_tld_names.dat";
    filters = "";
    explicit_modules = [];
    tempdir = "$RS";
    # Its compiled regexps and URL suffixes go here, not to /var/lib/rspamd.
    hs_cache_dir = "$RS/db";
}
logging {
    type = "console";
    level = "info";
    # "rbl FADELIST_URI; resolve <what> -> <query name>" lines
    debug_modules = ["rbl"];
}
worker "normal" {
    bind_socket = "127.0.0.1:$RPORT";
    count = 1;
}
modules {
    path = "/usr/share/rspamd/plugins/rbl.lua";
}
rbl {
    rbls {
        # How a mail host would add fadelist's URI zone.
        fadelist_uri {
            symbol = "FADELIST_URI";
            rbl = "urirbl.test";
            checks = ["urls"];
            returncodes {
                FADELIST_URI_LISTED = "127.0.0.2";
            }
        }
        # The same with no_ip, as recommended for domain-only lists: it
        # must never ask about (nor hit on) a numeric URL host.
        fadelist_uri_noip {
            symbol = "FADELIST_URI_NOIP";
            rbl = "urirbl.test";
            checks = ["urls"];
            no_ip = true;
            returncodes {
                FADELIST_URI_NOIP_LISTED = "127.0.0.2";
            }
        }
    }
}
EOF
RSPAMD_ARGS=(-f -c "$RS/rspamd.conf" --var "DBDIR=$RS/db" --var "RUNDIR=$RS/run" --var "LOGDIR=$RS")
# As root rspamd wants an unprivileged user for its workers, or -i
# ("insecure": run them as root); everything here is on loopback.
((EUID != 0)) || RSPAMD_ARGS+=(-i)
timeout -k 5 "$LIFETIME" rspamd "${RSPAMD_ARGS[@]}" </dev/null >"$RS/rspamd.log" 2>&1 &
RSPAMD_PID=$!
info "rspamd: pid $RSPAMD_PID, 127.0.0.1:$RPORT, config $RS/rspamd.conf"

# ----------------------------------------------------------------------------
section "2. dig: the data-file entries of urirbl.test"

dns_answer_is "$DATA_Q.urirbl.test" 127.0.0.2 &&
    pass "$DATA_Q.urirbl.test A -> 127.0.0.2 (ip4set file)" ||
    fail_d "$DATA_Q.urirbl.test A -> 127.0.0.2 (ip4set file)" "got: $(dns_answer "$DATA_Q.urirbl.test")"
txt=$(dns_answer "$DATA_Q.urirbl.test" TXT)
[[ $txt == "\"URL host $DATA_IP is listed in urirbl\"" ]] &&
    pass "$DATA_Q.urirbl.test TXT names $DATA_IP" ||
    fail_d "$DATA_Q.urirbl.test TXT names $DATA_IP" "got: $txt"
dns_answer_is "$DATA6_Q.urirbl.test" 127.0.0.2 &&
    pass "$DATA_IP6 as 32 nibbles in urirbl.test -> 127.0.0.2 (ip6trie file)" ||
    fail_d "$DATA_IP6 as 32 nibbles in urirbl.test -> 127.0.0.2 (ip6trie file)" "got: $(dns_answer "$DATA6_Q.urirbl.test")"
dns_status_is "$CONTROL_Q.urirbl.test" NXDOMAIN &&
    pass "$CONTROL_Q.urirbl.test (control) -> NXDOMAIN" ||
    fail_d "$CONTROL_Q.urirbl.test (control) -> NXDOMAIN" "got: $(dns_status "$CONTROL_Q.urirbl.test")"

# ----------------------------------------------------------------------------
section "3. report path: a spam campaign linking to http://$REPORT_IP/, two reporters"

# report MAIL TOKEN: posts $MAIL/MAIL.eml with TOKEN; true on HTTP 202.
# The JSON answer goes to $WORK/MAIL-TOKEN.json.
LAST_JSON=
report() {
    LAST_JSON="$WORK/$1-${2:0:6}.json"
    timeout 20 "$BIN" report --server "http://127.0.0.1:$HPORT" --token "$2" "$MAIL/$1.eml" \
        >"$LAST_JSON" 2>&1 || true
    grep -q 'HTTP 202' "$LAST_JSON"
}
# key_state JSON KEY: the entries of a report's JSON answer ("keys") whose
# key starts with KEY.
key_state() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
try:
    answer = json.loads(text[text.index("{"):])
except ValueError:
    sys.exit(print("(no JSON answer)"))
found = [k for k in answer.get("keys", []) if str(k.get("key")).startswith(sys.argv[2])]
print(" ".join(json.dumps(k, separators=(",", ":")) for k in found) or "(not among the keys)")
EOF
}
# Both reporters (a mail filter's user and a spam trap) report the
# campaign's message from each of the three sources.
n_ok=0
bad=()
for i in 0 1 2; do
    for t in "$TA" "$TB"; do
        if report "report$i" "$t"; then n_ok=$((n_ok + 1)); else bad+=("$(head -c 300 "$LAST_JSON")"); fi
    done
done
((n_ok == 6)) && pass "6 reports (2 reporters x 3 sources) accepted (202)" ||
    fail_d "6 reports (2 reporters x 3 sources) accepted (202)" "${bad[@]}"
for src in "${SOURCES[@]}"; do
    q=$(rev4 "$src").iprbl.test
    if eventually 40 0.05 dns_answer_is "$q" 127.0.0.2; then
        pass "the real source $src is listed in iprbl.test"
    else
        fail_d "the real source $src is listed in iprbl.test" "$q: $(dns_status "$q")"
    fi
done
# The URL host: in the URI zone, as reversed IPv4.
if eventually 40 0.05 dns_answer_is "$REPORT_Q.urirbl.test" 127.0.0.2; then
    pass "URL host $REPORT_IP listed in urirbl.test: $REPORT_Q.urirbl.test -> 127.0.0.2"
else
    fail_d "URL host $REPORT_IP listed in urirbl.test: $REPORT_Q.urirbl.test -> 127.0.0.2" \
        "got: $(dns_status "$REPORT_Q.urirbl.test") $(dns_answer "$REPORT_Q.urirbl.test")" \
        "in the last report's answer: $(key_state "$LAST_JSON" "$REPORT_IP")"
fi
txt=$(dns_answer "$REPORT_Q.urirbl.test" TXT)
[[ $txt == *"$REPORT_IP"* ]] && pass "its TXT names $REPORT_IP: $txt" ||
    fail_d "its TXT names $REPORT_IP" "got: ${txt:-<none>}"
# ...and not as a spam source.
dns_status_is "$REPORT_Q.iprbl.test" NXDOMAIN &&
    pass "URL host $REPORT_IP is not listed in iprbl.test (NXDOMAIN)" ||
    fail_d "URL host $REPORT_IP is not listed in iprbl.test (NXDOMAIN)" \
        "got: $(dns_status "$REPORT_Q.iprbl.test") $(dns_answer "$REPORT_Q.iprbl.test")"
# The IPv6 URL host: rspamd asks the 32 nibbles of its /128, SpamAssassin
# never asks (docs/uri-ip-queries.md). Listed in the URI zone so that
# that name answers; how wide the listing is (/128 or its /64) is policy,
# shown as INFO.
if dns_answer_is "$REPORT6_Q.urirbl.test" 127.0.0.2; then
    pass "IPv6 URL host $REPORT_IP6 listed in urirbl.test at the 32-nibble name of its /128"
else
    fail_d "IPv6 URL host $REPORT_IP6 listed in urirbl.test at the 32-nibble name of its /128" \
        "got: $(dns_status "$REPORT6_Q.urirbl.test")" \
        "in the last report's answer: $(key_state "$LAST_JSON" "${REPORT_IP6%::*}:")"
fi
dns_status_is "$REPORT6_Q.iprbl.test" NXDOMAIN &&
    pass "IPv6 URL host $REPORT_IP6 is not listed in iprbl.test (NXDOMAIN)" ||
    fail_d "IPv6 URL host $REPORT_IP6 is not listed in iprbl.test (NXDOMAIN)" "got: $(dns_status "$REPORT6_Q.iprbl.test")"
info "IPv6 URL key(s) in the last report's answer: $(key_state "$LAST_JSON" "${REPORT_IP6%::*}:")"
info "its /64 neighbour $NEIGHBOUR_IP6 (in no message) in urirbl.test:" \
    "$(dns_status "$NEIGHBOUR6_Q.urirbl.test") $(dns_answer "$NEIGHBOUR6_Q.urirbl.test")"
dns_status_is "$REPORT_Q.niprbl.test" NXDOMAIN &&
    pass "URL host $REPORT_IP is not listed in niprbl.test (NXDOMAIN)" ||
    fail_d "URL host $REPORT_IP is not listed in niprbl.test (NXDOMAIN)" "got: $(dns_status "$REPORT_Q.niprbl.test")"

# ----------------------------------------------------------------------------
section "4. SpamAssassin $(spamassassin -V | sed -n 's/^SpamAssassin version //p' | head -n1) (URIDNSBL, DNS = fadelist)"
SA=$WORK/sa
mkdir -p "$SA/site" "$SA/rules"
cat >"$SA/site/init.pre" <<'EOF'
# Only the plugins this test needs (the system .pre files are not read).
loadplugin Mail::SpamAssassin::Plugin::Check
loadplugin Mail::SpamAssassin::Plugin::URIDNSBL
EOF
cat >"$SA/site/local.cf" <<EOF
# Ask fadelist directly: the only names asked are in urirbl.test.
dns_server [127.0.0.1]:$DPORT
dns_available yes
rbl_timeout 10
use_bayes 0
bayes_auto_learn 0
clear_headers
add_header all Status _YESNO_, score=_SCORE_ required=_REQD_ tests=_TESTS_ version=_VERSION_
clear_trusted_networks
trusted_networks 81.2.69.160/27
clear_internal_networks
internal_networks 81.2.69.160/27
EOF
cat >"$SA/rules/50_fadelist_uri.cf" <<'EOF'
# The rule a mail host adds for fadelist's URI zone: no domains_only, so
# that IP URL hosts are asked too (as d.c.b.a.urirbl.test).
urirhssub URIBL_FADELIST      urirbl.test. A 127.0.0.2
body      URIBL_FADELIST      eval:check_uridnsbl('URIBL_FADELIST')
tflags    URIBL_FADELIST      net
score     URIBL_FADELIST      3.0

# IP URL hosts only.
urirhssub URIBL_FADELIST_IP   urirbl.test. A 127.0.0.2
body      URIBL_FADELIST_IP   eval:check_uridnsbl('URIBL_FADELIST_IP')
tflags    URIBL_FADELIST_IP   net ips_only
score     URIBL_FADELIST_IP   0.1

# Names only (like the stock URIBL_DBL_* rules): never asks about an IP.
urirhssub URIBL_FADELIST_DOM  urirbl.test. A 127.0.0.2
body      URIBL_FADELIST_DOM  eval:check_uridnsbl('URIBL_FADELIST_DOM')
tflags    URIBL_FADELIST_DOM  net domains_only
score     URIBL_FADELIST_DOM  0.1
EOF
: >"$SA/user_prefs"

# sa_run NAME: spamassassin on $MAIL/NAME.eml; sets SA_TESTS (",RULE,..."),
# the debug log is $SA/NAME.debug.
sa_run() {
    timeout 60 spamassassin -t -x -D uri,uridnsbl \
        --siteconfigpath="$SA/site" -C "$SA/rules" --prefspath="$SA/user_prefs" \
        <"$MAIL/$1.eml" >"$SA/$1.out" 2>"$SA/$1.debug" || true
    # X-Spam-Status may be folded over several lines.
    SA_TESTS=,$(awk '/^X-Spam-Status:/ { f = 1; s = $0; next }
                    f && /^[ \t]/ { sub(/^[ \t]+/, " "); s = s $0; next }
                    f { f = 0 }
                    END { gsub(/, /, ",", s); print s }' "$SA/$1.out" |
        sed -n 's/.*tests=\([^ ]*\).*/\1/p'),
}
# sa_expect NAME DESC +RULE|-RULE|asked=QNAME|unasked...: checks the last sa_run.
sa_expect() {
    local name=$1 desc=$2 e
    shift 2
    local -a errs=()
    for e in "$@"; do
        case $e in
        +*) [[ $SA_TESTS == *",${e#+},"* ]] || errs+=("${e#+} did not fire") ;;
        -*) [[ $SA_TESTS != *",${e#-},"* ]] || errs+=("${e#-} fired") ;;
        asked=*) grep -q "complete_dnsbl_lookup A/${e#asked=} " "$SA/$name.debug" ||
            errs+=("no lookup of ${e#asked=} in the -D log") ;;
        unasked) ! grep -q 'urirbl\.test' "$SA/$name.debug" ||
            errs+=("asked urirbl.test: $(grep -m1 'urirbl\.test' "$SA/$name.debug")") ;;
        esac
    done
    if ((${#errs[@]} == 0)); then
        local shown=${SA_TESTS//,/ }
        pass "SpamAssassin, $desc (tests:${shown% })"
    else
        fail_d "SpamAssassin, $desc" "${errs[@]}" "tests=$SA_TESTS" \
            "$(grep -E 'uridnsbl|uri: (cleaned|added)' "$SA/$name.debug" | head -n 8 | cut -c1-200)"
    fi
}
sa_run data
sa_expect data "http://$DATA_IP/ (data file): asks $DATA_Q.urirbl.test, URIBL_FADELIST and the ips_only rule fire, the domains_only rule does not" \
    asked="$DATA_Q.urirbl.test" +URIBL_FADELIST +URIBL_FADELIST_IP -URIBL_FADELIST_DOM
sa_run report0
sa_expect report0 "http://$REPORT_IP/ (reported): asks $REPORT_Q.urirbl.test, URIBL_FADELIST fires" \
    asked="$REPORT_Q.urirbl.test" +URIBL_FADELIST +URIBL_FADELIST_IP -URIBL_FADELIST_DOM
sa_run control
sa_expect control "http://$CONTROL_IP/ (control): asks $CONTROL_Q.urirbl.test, nothing fires" \
    asked="$CONTROL_Q.urirbl.test" -URIBL_FADELIST -URIBL_FADELIST_IP -URIBL_FADELIST_DOM
sa_run ipv6
sa_expect ipv6 "http://[$DATA_IP6]/ (listed /128): never asked, nothing fires (SpamAssassin skips IPv6 URL hosts)" \
    unasked -URIBL_FADELIST -URIBL_FADELIST_IP -URIBL_FADELIST_DOM
if grep -q "cleaned uri: http://\[$DATA_IP6\]" "$SA/ipv6.debug"; then
    info "SpamAssassin saw the URI http://[$DATA_IP6]/offer?id=6 and kept no host from it"
fi

# ----------------------------------------------------------------------------
section "5. rspamd $(rspamd -v 2>&1 | sed -n 's/.*version //p' | head -n1) (rbl module, checks = urls, DNS = fadelist)"

# rspamc NAME: scans $MAIL/NAME.eml as received from $SOURCE_IP (a public
# address: from a local one the rbl rules are skipped altogether); output
# in $RS/NAME.out.
rspamc_run() {
    timeout 30 rspamc -h "127.0.0.1:$RPORT" -t 10 -i "$SOURCE_IP" symbols "$MAIL/$1.eml" \
        >"$RS/$1.out" 2>&1
}
rs_ready=0
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
    if ! kill -0 "$RSPAMD_PID" 2>/dev/null; then
        break
    fi
    if grep -q "starting normal process" "$RS/rspamd.log" && rspamc_run control &&
        grep -q '^Action:' "$RS/control.out"; then
        rs_ready=1
        break
    fi
    sleep 0.5
done
if ((rs_ready)); then
    pass "rspamd started and scans (rspamc symbols, t=${SECONDS}s)"
else
    fail_d "rspamd started and scans" "$(tail -n 15 "$RS/rspamd.log")" "$(cat "$RS/control.out" 2>/dev/null)"
fi

# rs_expect NAME DESC +SYMBOL[=OPTION]|-SYMBOL|asked=QNAME...
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
        asked=*) grep -q -- "-> ${e#asked=}\$" "$RS/rspamd.log" || errs+=("rspamd never asked ${e#asked=} (rbl debug log)") ;;
        esac
    done
    if ((${#errs[@]} == 0)); then
        pass "rspamd, $desc"
    else
        fail_d "rspamd, $desc" "${errs[@]}" "$(grep -E '^(Action|Symbol)' "$RS/$name.out" | head -n 8)"
    fi
}
if ((rs_ready)); then
    rs_expect control "http://$CONTROL_IP/ (control): asks $CONTROL_Q.urirbl.test, no symbol" \
        asked="$CONTROL_Q.urirbl.test" -FADELIST_URI_LISTED -FADELIST_URI_NOIP_LISTED
    rspamc_run data || true
    rs_expect data "http://$DATA_IP/ (data file): FADELIST_URI_LISTED [$DATA_Q:url]; the no_ip rule does not hit" \
        asked="$DATA_Q.urirbl.test" "+FADELIST_URI_LISTED=$DATA_Q:url" -FADELIST_URI_NOIP_LISTED
    rspamc_run report0 || true
    rs_expect report0 "http://$REPORT_IP/ and http://[$REPORT_IP6]/ (reported): FADELIST_URI_LISTED [$REPORT_Q:url, <32 nibbles>:url]" \
        asked="$REPORT_Q.urirbl.test" "+FADELIST_URI_LISTED=$REPORT_Q:url" \
        asked="$REPORT6_Q.urirbl.test" "+FADELIST_URI_LISTED=$REPORT6_Q:url" -FADELIST_URI_NOIP_LISTED
    rspamc_run ipv6 || true
    rs_expect ipv6 "http://[$DATA_IP6]/ (listed /128): asked as the 32 nibbles of the /128, FADELIST_URI_LISTED" \
        asked="$DATA6_Q.urirbl.test" "+FADELIST_URI_LISTED=$DATA6_Q:url" -FADELIST_URI_NOIP_LISTED
fi

# ----------------------------------------------------------------------------
section "shutdown"
if kill -0 "$SERVER_PID" 2>/dev/null; then pass "fadelist still running"; else fail_d "fadelist still running" "it exited"; fi
if stop_server; then pass "fadelist exits with status 0 on SIGTERM"; else fail_d "fadelist exits with status 0 on SIGTERM" "non-zero exit"; fi
