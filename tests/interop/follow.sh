#!/usr/bin/env bash
# The fadelist follower: a second fadelist whose zones have a `primary`,
# pulled by AXFR from a primary fadelist, kept current by NOTIFY + IXFR
# (SOA refresh as the fallback) and served from memory.
#
#   1. before its first transfer a followed zone is REFUSED (the follower
#      starts before the primary);
#   2. the primary starts (announcing its serials by NOTIFY): the follower
#      serves each zone at the primary's serial;
#   3. a differential of several hundred names (single addresses, ranges,
#      exclusions, a second dataset, IPv6, domains with wildcards and
#      exclusions, report-fed and manual listings, the RFC 5782 test
#      entries, apex SOA and NS): the follower's rcode, AA bit and answer
#      and authority records (TTLs included) equal the primary's;
#   4. changes on the primary reach the follower within 5 s (measured):
#      a report-fed listing (two reports), manual listings (IPv6, domain),
#      a delisting, a data-file change + SIGHUP; the report-fed ones as
#      incremental IXFRs; the differential again;
#   5. the primary stops: the follower keeps answering identically; the
#      data changes meanwhile; the primary starts again and the follower
#      catches up (NOTIFY at start; SOA refresh for signed.test, whose
#      NOTIFY is unsigned); the differential again;
#   6. TSIG: signed.test (transfer_key) is pulled by the follower with the
#      right primary_key, and the primary signs its answer to a signed SOA
#      query (the follower's refresh of that zone); a second follower with a wrong secret gets the
#      unsigned zone but not signed.test (REFUSED), and the primary logs
#      the refused transfer.
#
# Installs dnsutils (dig), procps (pgrep), python3 and curl when missing (apt-get);
# loopback only, unprivileged ports; every process stopped on exit.
# Env: FADELIST_BIN (else built), FOLLOW_KEEP=1 keeps the scratch folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${FADELIST_BIN:-}
if [[ -z $BIN ]]; then
    cargo build --release --locked -p fadelist
    BIN=$PWD/target/release/fadelist
fi
export PATH="$PATH:/usr/sbin:/sbin"
need=()
for cmd in dig:dnsutils pgrep:procps python3:python3 curl:curl; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd##*:}")
done
if ((${#need[@]})); then
    rc=0
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || rc=$?
    ((rc == 0)) || { echo "$(basename "$0"): cannot install ${need[*]}" >&2; exit 1; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-follow.XXXXXX")
# shellcheck source=../lib.sh
source tests/lib.sh

# --- servers: several fadelists, each with its own ports and logs ----------
# start_fl NAME LOG CONFIG DB DNSPORT HTTPPORT: `fadelist serve` in the
# background (under `timeout`, in case nothing else ends it), output in
# $WORK/LOG.out and $WORK/LOG.err; its pid in PID[NAME].
declare -A PID=()
start_fl() {
    local name=$1 log=$2
    timeout 600 "$BIN" serve --config "$3" --db "$4" \
        --dns-listen "127.0.0.1:$5" --http-listen "127.0.0.1:$6" \
        > "$WORK/$log.out" 2> "$WORK/$log.err" &
    PID[$name]=$!
}
# stop_fl NAME: SIGTERM (timeout passes it on), then the exit status.
stop_fl() {
    local pid=${PID[$1]:-}
    PID[$1]=
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || return 1
    wait "$pid" 2>/dev/null
}
# hup_fl NAME: SIGHUP to the fadelist process itself (the child of timeout).
hup_fl() { kill -HUP "$(pgrep -P "${PID[$1]}")"; }
cleanup() {
    local n
    for n in "${!PID[@]}"; do stop_fl "$n" || true; done
    if [[ ${FOLLOW_KEEP:-} == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# http_up LOG PORT: the server has printed its HTTP address.
http_up() { grep -q "HTTP listening on http://127.0.0.1:$2" "$WORK/$1.out" 2>/dev/null; }
# status PORT NAME [TYPE]: the rcode of a query (NOERROR, REFUSED, ...).
status() { dig +tries=1 +time=1 @127.0.0.1 -p "$1" "$2" "${3:-A}" | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }
status_is() { [[ $(status "$1" "$2" "${4:-A}") == "$3" ]]; }
# short PORT NAME [TYPE]: the answer's values, one line.
short() { dig +short +tries=1 +time=1 @127.0.0.1 -p "$1" "$2" "${3:-A}" | sort | tr '\n' ' '; }
short_is() { [[ $(short "$1" "$2") == "$3 " ]]; }
serial_of() { dig +short +tries=1 +time=1 @127.0.0.1 -p "$1" "$2" SOA | awk '{print $3}'; }
# synced PORT ZONE: that server serves the primary's current serial.
synced() { local s; s=$(serial_of "$PD" "$2"); [[ -n $s && $(serial_of "$1" "$2") == "$s" ]]; }
# alive NAME: the process still runs.
alive() { [[ -n ${PID[$1]:-} ]] && kill -0 "${PID[$1]}" 2>/dev/null; }
# since T0: seconds since T0 (an $EPOCHREALTIME), two decimals.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
# within5 T0 WHAT: PASS with the delay when it is at most 5 s, else FAIL.
within5() {
    local d
    d=$(since "$1")
    if awk -v d="$d" 'BEGIN { exit !(d <= 5) }'; then
        pass "$2 ${d} s after the change"
    else
        fail "$2 only ${d} s after the change (more than 5 s)"
    fi
}
tail_logs() {
    local f
    for f in "$WORK"/*.err; do
        echo "--- $(basename "$f") (last 15 lines)"
        tail -15 "$f"
    done
}

PD=$(free_port)    # primary DNS
PH=$(free_port)    # primary HTTP
PA=$(free_port)    # primary admin
FD=$(free_port)    # follower DNS
FH=$(free_port)    # follower HTTP
WD=$(free_port)    # wrong-key follower DNS
WH=$(free_port)    # wrong-key follower HTTP
FM=$(free_port)    # follower metrics
if [[ $(printf '%s\n' "$PD" "$PH" "$PA" "$FD" "$FH" "$WD" "$WH" "$FM" | sort -u | wc -l) != 8 ]]; then
    echo "follow: free_port gave the same port twice, run again" >&2
    exit 1
fi
ADMIN_TOKEN=follow-test-admin-token-0123456789abcdef
SECRET=$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')
WRONG=$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')
# admin ARGS...: `fadelist admin` against the primary; FAIL with its error.
admin() {
    local out
    out=$(FADELIST_ADMIN_TOKEN=$ADMIN_TOKEN RUST_BACKTRACE=0 "$BIN" admin --server "http://127.0.0.1:$PA" "$@" 2>&1) \
        || { fail "fadelist admin $*: $(head -3 <<< "$out" | tr '\n' ' ')"; return 1; }
}

# --- the primary's data (as tests/interop/xfr.sh) ------------------------------
# bl.test and signed.test: SOA refresh 2 s, retry 1 s (the follower's
# fallback when a NOTIFY is missed or refused); the report-fed zones keep
# the default refresh of an hour, so that their changes can only reach the
# follower in time by NOTIFY.
mkdir -p "$WORK/data"
cat > "$WORK/data/bl.ip4set" <<'EOF'
$SOA 3600 ns.bl.test hostmaster.bl.test 0 2 1 86400 60
$NS 3600 ns.bl.test
:127.0.0.2:Listed range
10.0.0.0/8
!10.3.0.0/16
10.1.2.0/24 :127.0.0.3:range
198.18.0.0/24 :127.0.0.9:net $
!10.1.2.7
192.0.2.0/25 :127.0.0.4:half a /24: $
198.51.100.77 :127.0.0.4:single $
203.0.113.0/24 :127.0.0.5:doc net
!203.0.113.200
2.0.0.0/16
5.6.0.0/15 :127.0.0.6:odd range
172.16.0.0/12
100.64.1.1-100.64.1.40 :127.0.0.7:a-b range $
EOF
cat > "$WORK/data/bl2.ip4set" <<'EOF'
:127.0.0.8:second dataset
10.1.2.0/26
203.0.113.9
EOF
cat > "$WORK/data/bl.ip6trie" <<'EOF'
:127.0.0.2:IPv6 listed
2001:db8::/32
2001:db8:1::/48 :127.0.0.3:v6 48
!2001:db8:1::5
2a00:1450:4001:81c::/64 :127.0.0.4:a /64
2a00:1450:4001:81c::1 :127.0.0.5:single v6 $
EOF
cat > "$WORK/data/bl.dnset" <<'EOF'
:127.0.0.2:domain $ listed
spam.example
.wild.example
!ok.wild.example
*.sub.example :127.0.0.3:below $
EOF

cat > "$WORK/primary.toml" <<EOF
[server]
data_dir = "$WORK/data"

[admin]
listen = "127.0.0.1:$PA"
token = "$ADMIN_TOKEN"

[transfer]
allow = ["127.0.0.1/32"]
notify = ["127.0.0.1:$FD"]

[[transfer.key]]
name = "xfr-key"
algorithm = "hmac-sha256"
secret = "$SECRET"

[policy]
# The fixture mails are dated 2026; accept them whatever today is.
max_report_age = "36500d"

[[zone]]
name = "bl.test"
[[zone.dataset]]
type = "ip4set"
files = ["bl.ip4set"]
[[zone.dataset]]
type = "ip4set"
files = ["bl2.ip4set"]
[[zone.dataset]]
type = "ip6trie"
files = ["bl.ip6trie"]
[[zone.dataset]]
type = "dnset"
files = ["bl.dnset"]

[[zone]]
name = "iprbl.test"
feed = "ip"

[[zone]]
name = "urirbl.test"
feed = "domain"

[[zone]]
name = "signed.test"
transfer_key = "xfr-key"
soa = { mname = "ns.signed.test", rname = "hostmaster.signed.test", refresh = "2s", retry = "1s" }
[[zone.dataset]]
type = "ip4set"
files = ["bl2.ip4set"]

# A zone whose copies expire 5 s after the primary goes quiet.
[[zone]]
name = "short.test"
soa = { mname = "ns.short.test", rname = "hostmaster.short.test", refresh = "1s", retry = "1s", expire = "5s" }
[[zone.dataset]]
type = "ip4set"
files = ["bl2.ip4set"]
EOF

# follower_config FILE SECRET ZONE[:key]...: a follower of the primary.
follower_config() {
    local file=$1 secret=$2 z
    shift 2
    {
        printf '[[transfer.key]]\nname = "xfr-key"\nalgorithm = "hmac-sha256"\nsecret = "%s"\n' "$secret"
        for z in "$@"; do
            printf '\n[[zone]]\nname = "%s"\nprimary = "127.0.0.1:%s"\n' "${z%:key}" "$PD"
            if [[ $z == *:key ]]; then printf 'primary_key = "xfr-key"\n'; fi
        done
    } > "$file"
}
follower_config "$WORK/follower.toml" "$SECRET" bl.test iprbl.test urirbl.test signed.test:key short.test
printf '\n[metrics]\nlisten = "127.0.0.1:%s"\n' "$FM" >> "$WORK/follower.toml"
follower_config "$WORK/wrongkey.toml" "$WRONG" bl.test signed.test:key

PDB=$WORK/primary.sqlite
TA=$(reporter_token "$PDB" alice)
TB=$(reporter_token "$PDB" trap1 --kind trap)
[[ -n $TA && -n $TB ]] || { fail "reporter tokens"; exit 1; }

# --- 1. the follower before any transfer ----------------------------------------
# A config the follower refuses ("unknown field `primary`") means the
# feature is not there: say so plainly.
if ! out=$(timeout 20 "$BIN" check-config "$WORK/follower.toml" 2>&1); then
    fail "fadelist check-config refuses the follower configuration:"
    printf '%s\n' "$out" | grep -v "^ \{2,\}[0-9]*:\|^ \{5,\}at " | head -12
    printf '\n=== follow: FAIL (%s) ===\n' "$fails"
    exit 1
fi
pass "check-config accepts zones with primary / primary_key"
start_fl follower follower "$WORK/follower.toml" "$WORK/follower.sqlite" "$FD" "$FH"
follower_answers() { http_up follower "$FH" && [[ -n $(status "$FD" bl.test SOA) ]]; }
if eventually 100 0.1 follower_answers; then
    pass "follower up (DNS $FD) before the primary"
else
    fail "follower did not start"; tail_logs; exit 1
fi
ok=1
for q in "bl.test SOA" "2.0.0.127.bl.test A" "iprbl.test SOA" "signed.test SOA" "test.urirbl.test TXT"; do
    # shellcheck disable=SC2086 # name and type
    s=$(status "$FD" $q)
    [[ $s == REFUSED ]] || { ok=; fail "before its first transfer: $q -> $s, want REFUSED"; }
done
[[ -n $ok ]] && pass "before the first transfer every followed zone is REFUSED (SOA, test entries)"

# --- 2. the primary starts; initial transfers ----------------------------------
# NOTIFY acknowledgements are logged at debug level.
export FADELIST_LOG="info,hickory_server=warn,fadelist_dns::notify=debug"
T_START=$EPOCHREALTIME
start_fl primary primary1 "$WORK/primary.toml" "$PDB" "$PD" "$PH"
primary_up() { http_up "$1" "$PH" && [[ $(status "$PD" 2.0.0.127.bl.test) == NOERROR ]]; }
eventually 100 0.1 primary_up primary1 || { fail "primary up"; tail_logs; exit 1; }
pass "primary up (DNS $PD, HTTP $PH, admin $PA)"
unset FADELIST_LOG
ZONES="bl.test iprbl.test urirbl.test signed.test"
for z in $ZONES; do
    if eventually 150 0.2 synced "$FD" "$z"; then
        pass "follower serves $z at the primary's serial $(serial_of "$FD" "$z") ($(since "$T_START") s after the primary's start)"
    else
        fail "follower did not get $z (primary serial $(serial_of "$PD" "$z"), follower: $(status "$FD" "$z" SOA) $(serial_of "$FD" "$z"))"
    fi
done

# --- 3. the differential ---------------------------------------------------------
# Names of every kind, in every zone, including those the changes below
# list, delist or add (so each differential covers them).
python3 - "$WORK/names.txt" <<'EOF'
import ipaddress, random, sys
random.seed(7)
names = set()
def v4(ip, zone="bl.test"):
    return ".".join(reversed(str(ipaddress.IPv4Address(ip)).split("."))) + "." + zone
def v6(ip, zone="bl.test"):
    return ".".join(reversed(ipaddress.IPv6Address(ip).exploded.replace(":", ""))) + "." + zone
def around(net, zone, fn, k):
    lo, hi = int(net.network_address), int(net.broadcast_address)
    top = 2**net.max_prefixlen - 1
    for ip in {lo, hi, max(lo - 1, 0), min(hi + 1, top)} | {random.randint(lo, hi) for _ in range(k)}:
        names.add(fn(ip, zone))
# bl.test, as tests/interop/xfr.sh, plus the entries the changes add.
v4nets = ["10.0.0.0/8", "10.3.0.0/16", "10.1.2.0/24", "10.1.2.7/32", "192.0.2.0/25", "198.51.100.77/32",
          "203.0.113.0/24", "203.0.113.200/32", "2.0.0.0/16", "5.6.0.0/15", "172.16.0.0/12",
          "10.1.2.0/26", "203.0.113.9/32", "127.0.0.0/30", "100.64.1.0/26",
          "198.18.0.0/24", "198.51.100.99/32", "10.9.9.9/32", "198.51.100.123/32", "203.0.113.10/32"]
for n in v4nets:
    around(ipaddress.IPv4Network(n), "bl.test", v4, 12)
for _ in range(60):
    names.add(v4(random.randrange(2**32)))
v6nets = ["2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::5/128", "2a00:1450:4001:81c::/64",
          "2a00:1450:4001:81c::1/128", "2000::/16", "2001:db9::/32"]
for n in v6nets:
    around(ipaddress.IPv6Network(n), "bl.test", v6, 10)
names.add(v6(int(ipaddress.IPv6Address("::ffff:127.0.0.2"))))
names.add(v6(int(ipaddress.IPv6Address("::ffff:127.0.0.1"))))
for d in ["spam.example", "x.spam.example", "wild.example", "a.wild.example", "b.a.wild.example",
          "ok.wild.example", "x.ok.wild.example", "sub.example", "y.sub.example", "z.y.sub.example",
          "example", "test", "invalid", "nothing.example", "clean.example", "fresh.example",
          "x.fresh.example"]:
    names.add(d + ".bl.test")
# signed.test: the second dataset alone.
for n in ["10.1.2.0/26", "203.0.113.9/32", "203.0.113.10/32", "127.0.0.0/30"]:
    around(ipaddress.IPv4Network(n), "signed.test", v4, 4)
for d in ["test", "invalid", "x"]:
    names.add(d + ".signed.test")
# iprbl.test: the reported source, the manual IPv6 listing, test entries.
for n in ["89.160.20.112/32", "127.0.0.0/30", "192.0.2.0/28"]:
    around(ipaddress.IPv4Network(n), "iprbl.test", v4, 3)
for n in ["2a02:1810:8c00::/64", "2a02:1810:8c00::17/128", "::ffff:127.0.0.2/128"]:
    around(ipaddress.IPv6Network(n), "iprbl.test", v6, 3)
for d in ["test", "invalid", "example"]:
    names.add(d + ".iprbl.test")
# urirbl.test: the manual domain listing, the mail's domain, test entries.
for d in ["listed-by-hand.top", "www.listed-by-hand.top", "by-hand.top",
          "cheap-meds-online.top", "test", "invalid", "2.0.0.127"]:
    names.add(d + ".urirbl.test")
with open(sys.argv[1], "w") as f:
    for n in sorted(names):
        f.write(f"{n} A\n{n} TXT\n")
    for z in ["bl.test", "iprbl.test", "urirbl.test", "signed.test"]:
        f.write(f"{z} SOA\n{z} NS\n")
EOF
QUERIES=$(grep -c . "$WORK/names.txt")
# answers PORT: for every query of names.txt, its rcode and AA bit, then
# every record of the answer and authority sections (name, TTL, class,
# type, value), each line prefixed with the question; sorted.
answers() {
    dig @127.0.0.1 -p "$1" +tries=2 +time=2 +nocookie +noall +comments +question +answer +authority \
        -f "$WORK/names.txt" 2>&1 | awk '
        /->>HEADER<<-/ { match($0, /status: [A-Z]+/); st = substr($0, RSTART + 8, RLENGTH - 8); next }
        /^;; flags:/ { aa = ($0 ~ / aa[ ;]/) ? "aa" : "-"; next }
        /^;[^; ]/ { q = tolower(substr($1, 2)) " " $NF; print q " status=" st " " aa; next }
        /^;/ || /^$/ { next }
        { $1 = $1; print q " | " $0 }' | sort
}
# same_as_primary TAG PORT [REFERENCE]: the follower's answers equal the
# primary's (or REFERENCE, a file of the primary's earlier answers).
same_as_primary() {
    local tag=$1 port=$2 ref=${3:-}
    if [[ -z $ref ]]; then
        ref=$WORK/ans.primary.$tag
        answers "$PD" > "$ref"
    fi
    answers "$port" > "$WORK/ans.follower.$tag"
    local nq listed
    nq=$(grep -c ' status=' "$ref" || true)
    listed=$(awk '$3 == "|" && $7 == "A" { print $1 }' "$ref" | sort -u | wc -l)
    if ((nq != QUERIES)); then
        fail "$tag: the primary answered $nq of $QUERIES queries"
        grep -v '^[^ ]* [^ ]* [|s]' "$ref" | head -5 || true
    elif cmp -s "$ref" "$WORK/ans.follower.$tag"; then
        pass "$tag: the follower answers $QUERIES queries ($((QUERIES / 2)) names, A and TXT; $listed listed) exactly as the primary (rcode, AA, answer and authority records)"
    else
        local nd
        nd=$( (diff "$ref" "$WORK/ans.follower.$tag" || true) | awk '/^[<>]/ { print $2, $3 }' | sort -u | wc -l)
        fail "$tag: the follower answers $nd of $QUERIES queries differently from the primary (first differences; < primary, > follower):"
        diff "$ref" "$WORK/ans.follower.$tag" | grep '^[<>]' | head -20 || true
    fi
}
same_as_primary initial "$FD"
# The differential must see every kind of answer.
kinds=$(awk '$3 ~ /^status=/ { print $3 }' "$WORK/ans.primary.initial" | sort | uniq -c | tr -s ' ' | tr '\n' ',')
grep -q 'status=NOERROR' <<< "$kinds" && grep -q 'status=NXDOMAIN' <<< "$kinds" \
    && pass "the differential has listed and unlisted names ($kinds)" || fail "differential: only $kinds"
# The documented answer a stock secondary cannot give: `$` in a /24 range.
want='"net 198.18.0.5"'
got=$(dig +short @127.0.0.1 -p "$FD" 5.0.18.198.bl.test TXT)
[[ $got == "$want" ]] && pass "follower: \$ in a /24 range says the asked address ($got), as the primary" \
    || fail "follower: 5.0.18.198.bl.test TXT = $got, want $want"

# --- 4. changes on the primary reach the follower ---------------------------------
MAIL=tests/data/mail/spam-plain.eml
NAME=112.20.160.89.iprbl.test
RUST_BACKTRACE=0 "$BIN" report --server "http://127.0.0.1:$PH" --token "$TA" "$MAIL" > /dev/null
RUST_BACKTRACE=0 "$BIN" report --server "http://127.0.0.1:$PH" --token "$TB" "$MAIL" > "$WORK/r2.json"
t0=$EPOCHREALTIME
grep -q '"newly_listed":true' "$WORK/r2.json" && pass "two reports list 89.160.20.112 on the primary" \
    || fail "second report: $(head -c 300 "$WORK/r2.json")"
eventually 40 0.05 short_is "$PD" $NAME 127.0.0.2 || fail "the primary does not serve the listing"
if eventually 100 0.05 short_is "$FD" $NAME 127.0.0.2; then
    within5 "$t0" "report-fed listing: the follower lists $NAME"
else
    fail "report-fed listing: the follower does not list $NAME 5 s after the report"
fi
[[ $(short "$FD" $NAME TXT) == "$(short "$PD" $NAME TXT)" ]] && pass "follower: the listing's TXT as the primary's ($(short "$FD" $NAME TXT))" \
    || fail "TXT of $NAME: follower $(short "$FD" $NAME TXT), primary $(short "$PD" $NAME TXT)"

# An IPv6 listing covers the address's /64.
V6NAME=$(python3 -c 'import ipaddress; print(".".join(reversed(ipaddress.IPv6Address("2a02:1810:8c00::17").exploded.replace(":", ""))) + ".iprbl.test")')
admin list 2a02:1810:8c00::17 --zone iprbl.test --reason "by hand, v6" || true
t0=$EPOCHREALTIME
if eventually 100 0.05 short_is "$FD" "$V6NAME" 127.0.0.2; then
    within5 "$t0" "manual IPv6 listing (admin API): the follower lists 2a02:1810:8c00::17"
else
    fail "manual IPv6 listing: not on the follower 5 s after (primary: $(short "$PD" "$V6NAME"))"
fi
admin list listed-by-hand.top --zone urirbl.test --code 127.0.0.5 --reason "by hand" || true
t0=$EPOCHREALTIME
if eventually 100 0.05 short_is "$FD" listed-by-hand.top.urirbl.test 127.0.0.5; then
    within5 "$t0" "manual domain listing (admin API): the follower lists listed-by-hand.top"
else
    fail "manual domain listing: not on the follower 5 s after (primary: $(short "$PD" listed-by-hand.top.urirbl.test))"
fi

admin unlist iprbl.test 89.160.20.112 || true
t0=$EPOCHREALTIME
eventually 40 0.05 status_is "$PD" $NAME NXDOMAIN || fail "the primary still lists $NAME"
if eventually 100 0.05 status_is "$FD" $NAME NXDOMAIN; then
    within5 "$t0" "delisting (admin API): the follower answers NXDOMAIN for $NAME"
else
    fail "delisting: the follower still lists $NAME 5 s after (status $(status "$FD" $NAME))"
fi
incr=$(grep -c "IXFR sent (incremental).*zone=iprbl.test" "$WORK/primary1.err" || true)
((incr >= 3)) && pass "the follower took the report-fed iprbl.test changes as incremental IXFRs ($incr)" \
    || fail "only $incr incremental IXFRs of iprbl.test in the primary's log"
grep -q "IXFR sent (incremental).*zone=urirbl.test" "$WORK/primary1.err" \
    && pass "and the urirbl.test change as an incremental IXFR" || fail "no incremental IXFR of urirbl.test"
acks=$(grep -c "NOTIFY acknowledged.*127.0.0.1:$FD" "$WORK/primary1.err" || true)
((acks >= 4)) && pass "the follower acknowledged the primary's NOTIFYs ($acks)" \
    || fail "the follower acknowledged $acks NOTIFYs"

# A data-file change, reloaded by SIGHUP: a new address with its own
# value, an exclusion inside 10/8, a new domain (three datasets).
S0=$(serial_of "$PD" bl.test)
cp "$WORK/data/bl.ip4set" "$WORK/data/.bl.ip4set.tmp"
printf '198.51.100.99 :127.0.0.10:file change $\n!10.9.9.9\n' >> "$WORK/data/.bl.ip4set.tmp"
mv "$WORK/data/.bl.ip4set.tmp" "$WORK/data/bl.ip4set"
cp "$WORK/data/bl.dnset" "$WORK/data/.bl.dnset.tmp"
printf 'fresh.example\n' >> "$WORK/data/.bl.dnset.tmp"
mv "$WORK/data/.bl.dnset.tmp" "$WORK/data/bl.dnset"
hup_fl primary
t0=$EPOCHREALTIME
file_change_on() {
    short_is "$1" 99.100.51.198.bl.test 127.0.0.10 && status_is "$1" 9.9.9.10.bl.test NXDOMAIN \
        && short_is "$1" fresh.example.bl.test 127.0.0.2
}
eventually 100 0.05 file_change_on "$PD" && pass "the primary reloaded the changed files (serial $S0 -> $(serial_of "$PD" bl.test))" \
    || fail "the primary did not reload the files"
if eventually 100 0.05 file_change_on "$FD"; then
    within5 "$t0" "data-file change + SIGHUP: the follower serves the new address, exclusion and domain"
else
    fail "data-file change: not on the follower 5 s after the SIGHUP"
fi
eventually 100 0.05 synced "$FD" bl.test || fail "bl.test serial: follower $(serial_of "$FD" bl.test), primary $(serial_of "$PD" bl.test)"
same_as_primary "after the changes" "$FD"

# --- 5. the primary stops; the follower goes on ------------------------------------
answers "$PD" > "$WORK/ans.primary.last"
# The follower's failed checks of bl.test (refresh 2 s, retry 1 s).
bl_failures() { grep -cE 'zone check failed.*zone="?bl\.test\b' "$WORK/follower.err" || true; }
failures_before=$(bl_failures)
stop_fl primary && pass "primary stopped (SIGTERM, clean exit)" || fail "primary's exit status after SIGTERM"
T_DOWN=$EPOCHREALTIME
# The follower notices at its next refresh of bl.test: wait for two failed
# checks, so that the answers below come after a refresh and a retry failed.
more_failures() { (($(bl_failures) >= failures_before + 2)); }
if eventually 150 0.2 more_failures; then
    pass "the follower's checks of bl.test fail without its primary ($(since "$T_DOWN") s after the stop):"
    grep -E 'zone check failed.*zone="?bl\.test\b' "$WORK/follower.err" | tail -1 | sed 's/^/INFO  /'
else
    fail "the follower logged no failed check of bl.test in 30 s without its primary"
fi
alive follower && pass "the follower still runs" || fail "the follower exited"
same_as_primary "primary down" "$FD" "$WORK/ans.primary.last"
# short.test's SOA expire is 5 s: its copy is dropped (REFUSED) while
# bl.test (expire 1 day) is still served.
short_refused() { [[ $(status "$FD" short.test SOA) == REFUSED ]]; }
if eventually 150 0.2 short_refused; then
    pass "short.test expired on the follower $(since "$T_DOWN") s after the primary stopped (SOA expire 5 s): REFUSED"
    grep -q 'zone expired.*short.test\|short.test.*zone expired' "$WORK/follower.err" \
        && pass "the follower logged the expiry" || fail "no expiry in the follower's log"
    [[ $(status "$FD" 2.0.0.127.bl.test) == NOERROR ]] && pass "bl.test (expire 1 day) is still served" \
        || fail "bl.test is no longer served after short.test expired"
else
    fail "short.test did not expire on the follower within 30 s of the primary's stop"
fi
# The follower restarts while its primary is still down: it serves the copy
# it saved at once (short.test's saved copy is past its expire time and
# stays refused).
stop_fl follower && pass "follower stopped while the primary is down (SIGTERM, clean exit)" \
    || fail "follower's exit status after SIGTERM"
[[ -s "$WORK/follower.sqlite.follow/bl.test" ]] && pass "the follower's copy of bl.test is on disk" \
    || fail "no saved copy of bl.test in $WORK/follower.sqlite.follow"
T_RE=$EPOCHREALTIME
start_fl follower follower2 "$WORK/follower.toml" "$WORK/follower.sqlite" "$FD" "$FH"
restarted_up() { http_up follower2 "$FH" && [[ $(status "$FD" bl.test SOA) == NOERROR ]]; }
if eventually 100 0.1 restarted_up; then
    pass "the restarted follower serves bl.test without its primary ($(since "$T_RE") s after its start)"
else
    fail "the restarted follower does not serve bl.test"
fi
same_as_primary "follower restarted, primary down" "$FD" "$WORK/ans.primary.last"
[[ $(status "$FD" short.test SOA) == REFUSED ]] && pass "the expired saved copy of short.test is not served" \
    || fail "short.test is served from an expired copy"

# While it is down: new entries in both data files of bl.test (the second
# one is signed.test's too).
printf '198.51.100.123 :127.0.0.11:while down\n' >> "$WORK/data/bl.ip4set"
printf '203.0.113.10\n' >> "$WORK/data/bl2.ip4set"
export FADELIST_LOG="info,hickory_server=warn,fadelist_dns::notify=debug"
T_START=$EPOCHREALTIME
start_fl primary primary2 "$WORK/primary.toml" "$PDB" "$PD" "$PH"
eventually 100 0.1 primary_up primary2 || { fail "primary up again"; tail_logs; exit 1; }
unset FADELIST_LOG
short_is "$PD" 123.100.51.198.bl.test 127.0.0.11 && short_is "$PD" 10.113.0.203.signed.test 127.0.0.8 \
    && pass "primary up again with the changes made while it was down" || fail "the restarted primary lacks the changes"
short_back() { [[ $(status "$FD" short.test SOA) == NOERROR ]]; }
eventually 150 0.2 short_back && pass "short.test is served again after the primary's restart" \
    || fail "short.test not served again after the primary's restart"
if eventually 150 0.2 short_is "$FD" 123.100.51.198.bl.test 127.0.0.11; then
    pass "bl.test: the follower caught up $(since "$T_START") s after the primary's start"
else
    fail "bl.test: the follower did not catch up in 30 s"
fi
if eventually 150 0.2 short_is "$FD" 10.113.0.203.signed.test 127.0.0.8; then
    pass "signed.test: the follower caught up $(since "$T_START") s after the primary's start"
else
    fail "signed.test: the follower did not catch up in 30 s"
fi
for z in $ZONES; do
    eventually 150 0.2 synced "$FD" "$z" || fail "after the restart: $z at serial $(serial_of "$FD" "$z") on the follower, $(serial_of "$PD" "$z") on the primary"
done
same_as_primary "after the primary's restart" "$FD"
# signed.test has a primary_key: an unsigned NOTIFY for it is not
# accepted (the catch-up above came from the SOA refresh).
if grep "NOTIFY acknowledged" "$WORK"/primary*.err | grep "127.0.0.1:$FD" | grep -q "zone=signed.test"; then
    fail "the follower acknowledged an unsigned NOTIFY for signed.test (primary_key set)"
else
    pass "the follower did not acknowledge the unsigned NOTIFYs for signed.test (primary_key set)"
fi

# --- 6. TSIG: the right key and a wrong one ------------------------------------------
grep -q "XFR sent.*zone=signed.test.*tsig=Some(\"xfr-key\.\?\")" "$WORK"/primary*.err \
    && pass "signed.test went to the follower signed with xfr-key (primary's log)" \
    || fail "no signed transfer of signed.test in the primary's log"
# The follower checks a keyed zone's SOA with a signed query over TCP and
# needs a signed answer (RFC 8945 5.3: a signed request gets a signed
# response).
out=$(dig @127.0.0.1 -p "$PD" +tcp +tries=1 +time=2 -y "hmac-sha256:xfr-key:$SECRET" signed.test SOA 2>&1 || true)
if grep -q "status: NOERROR" <<< "$out" && grep -q "TSIG PSEUDOSECTION" <<< "$out" \
    && ! grep -qi "could not be validated\|couldn't verify" <<< "$out"; then
    pass "the primary signs its answer to a signed SOA query (dig -y verifies it)"
else
    fail "the primary's answer to a signed SOA query of signed.test is not signed: $(grep -i "status:\|tsig\|verify" <<< "$out" | tr '\n' ' ')"
fi
start_fl wrongkey wrongkey "$WORK/wrongkey.toml" "$WORK/wrongkey.sqlite" "$WD" "$WH"
wrongkey_up() { http_up wrongkey "$WH" && [[ -n $(status "$WD" bl.test SOA) ]]; }
eventually 100 0.1 wrongkey_up || { fail "wrong-key follower up"; tail_logs; exit 1; }
if eventually 150 0.2 synced "$WD" bl.test; then
    pass "wrong-key follower: the unsigned bl.test transferred (serial $(serial_of "$WD" bl.test))"
else
    fail "wrong-key follower: no bl.test"
fi
tsig_refused() { grep -q "refused: TSIG.*zone=signed.test\|zone=signed.test.*refused: TSIG" "$WORK/primary2.err"; }
if eventually 150 0.2 tsig_refused; then
    pass "the primary refused signed.test to the wrong key: $(grep -m1 "refused: TSIG" "$WORK/primary2.err" | sed 's/.*\(refused: TSIG.*\)/\1/')"
else
    fail "no TSIG refusal of signed.test in the primary's log"
fi
for q in "signed.test SOA" "9.113.0.203.signed.test A" "2.0.0.127.signed.test A"; do
    # shellcheck disable=SC2086 # name and type
    s=$(status "$WD" $q)
    [[ $s == REFUSED ]] && pass "wrong-key follower: $q REFUSED" || fail "wrong-key follower: $q -> $s, want REFUSED"
done
alive wrongkey && pass "the wrong-key follower still runs" || fail "the wrong-key follower exited"

# --- 7. What operators see: /api/v1/status and /readyz ---------------------------------
# The follower: every zone served, each confirmed by its primary.
followed_json() { curl -s "http://127.0.0.1:$1/api/v1/status"; }
check_status=$(followed_json "$FH" | python3 -c '
import json, sys
f = json.load(sys.stdin)["followed"]
bad = [z for z, s in f.items() if not s["serving"] or s["serial"] is None or s["last_success"] is None]
print("zones=%d not_serving=%s iprbl_ixfr=%d" % (len(f), ",".join(bad) or "none", f["iprbl.test"]["ixfr"]))
' 2>&1)
# (The counters are the restarted follower's: IXFRs were checked above
# from the logs.)
if [[ $check_status == "zones=5 not_serving=none iprbl_ixfr="* ]]; then
    pass "follower /api/v1/status: $check_status"
else
    fail "follower /api/v1/status: $check_status"
fi
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$FH/readyz") == 200 ]] \
    && pass "follower /readyz: 200 (every followed zone served)" \
    || fail "follower /readyz is not 200"
# The follower's metrics: one series per followed zone and family, and a
# valid exposition (promtool, when installed: .ci/run installs prometheus).
curl -s "http://127.0.0.1:$FM/metrics" > "$WORK/follower.metrics" || true
serving=$(grep -c '^fadelist_follower_serving{zone="[a-z.]*"} 1$' "$WORK/follower.metrics" || true)
families=0
for f in fadelist_follower_serving fadelist_follower_last_success_timestamp_seconds \
    fadelist_follower_transfers_total fadelist_follower_failures_total; do
    grep -q "^# TYPE $f " "$WORK/follower.metrics" && families=$((families + 1))
done
if [[ $serving == 5 && $families == 4 ]]; then
    pass "follower metrics: the 4 fadelist_follower_* families, fadelist_follower_serving 1 for the 5 zones"
else
    fail "follower metrics: $families of 4 families, $serving zones serving: $(grep fadelist_follower "$WORK/follower.metrics" | head -5 | tr '\n' ' ')"
fi
if command -v promtool >/dev/null 2>&1; then
    if out=$(promtool check metrics < "$WORK/follower.metrics" 2>&1); then
        pass "promtool check metrics accepts the follower's exposition"
    else
        fail "promtool check metrics: $(head -5 <<< "$out" | tr '\n' ' ')"
    fi
else
    echo "INFO  promtool not installed: exposition format not checked here (tests/interop/prometheus.sh checks it)"
fi
# The wrong-key follower cannot get signed.test: not ready, and says why.
ready=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$WH/readyz")
if [[ $ready == *" 503" && $ready == *"signed.test is not served"* ]]; then
    pass "wrong-key follower /readyz: 503, signed.test not served"
else
    fail "wrong-key follower /readyz: $ready"
fi
err=$(followed_json "$WH" | python3 -c 'import json,sys; s=json.load(sys.stdin)["followed"]["signed.test"]; print(s["serving"], s["failures"] > 0, s["last_error"])' 2>&1)
[[ $err == "False True "*NOTAUTH* ]] && pass "wrong-key follower /api/v1/status: signed.test $err" \
    || fail "wrong-key follower /api/v1/status for signed.test: $err"

stop_fl wrongkey && pass "wrong-key follower: clean exit on SIGTERM" || fail "wrong-key follower's exit status"
stop_fl follower && pass "follower: clean exit on SIGTERM" || fail "follower's exit status"
stop_fl primary || fail "primary's exit status"
((fails == 0)) || tail_logs
printf '\n=== follow: %s ===\n' "$([[ $fails -eq 0 ]] && echo PASS || echo "FAIL ($fails)")"
exit $((fails > 0))
