#!/usr/bin/env bash
# Zone transfers to stock secondaries: NSD 4 and Knot 3 as secondaries of
# fadelist, configured from deploy/nsd/nsd.conf and deploy/knot/knot.conf
# (addresses, ports and paths rewritten for loopback).
#
#   1. initial AXFR into both;
#   2. a differential of hundreds of names (single addresses, ranges,
#      exclusions, IPv6, domains with wildcards and exclusions, the test
#      entries): A and TXT answers of NSD and Knot equal fadelist's;
#   3. a new report-fed listing and a delisting reach both secondaries by
#      NOTIFY + transfer within 5 s (measured);
#   4. TSIG: a zone with a transfer_key refuses kdig without the key and
#      with a wrong one, transfers with it (every message signed), and
#      Knot pulls it signed;
#   5. a large zone (1,000,000 addresses) transferred completely to both.
#
# Installs dnsutils, nsd, knot and knot-dnsutils when missing (apt-get);
# loopback only, unprivileged ports; every process stopped on exit.
# Env: FADELIST_BIN (else built), XFR_BIG (entries of the large zone,
# default 1000000), XFR_KEEP=1 keeps the scratch folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${FADELIST_BIN:-}
if [[ -z $BIN ]]; then
    cargo build --release --locked -p fadelist
    BIN=$PWD/target/release/fadelist
fi
export PATH="$PATH:/usr/sbin:/sbin"
need=()
for cmd in dig:dnsutils nsd:nsd knotd:knot kdig:knot-dnsutils python3:python3; do
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
BIG=${XFR_BIG:-1000000}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fadelist-xfr.XXXXXX")
chmod 755 "$WORK"
# shellcheck source=../lib.sh
source tests/lib.sh
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    stop_server || true
    if [[ ${XFR_KEEP:-} == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

pick_ports
NSD_PORT=$(free_port)
KNOT_PORT=$(free_port)
APORT=$(free_port)
ADMIN_TOKEN=xfr-test-admin-token-0123456789abcdef
SECRET=$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')
WRONG=$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')

# --- data -----------------------------------------------------------------
mkdir -p "$WORK/data"
cat > "$WORK/data/bl.ip4set" <<'EOF'
$SOA 3600 ns.bl.test hostmaster.bl.test 0 3600 600 86400 60
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
python3 - "$WORK/data/big.ip4set" "$BIG" <<'EOF'
import random, sys
random.seed(1405)
path, n = sys.argv[1], int(sys.argv[2])
ips = set()
while len(ips) < n:
    ips.add(random.randrange(0x01000000, 0xdf000000))
with open(path, "w") as f:
    f.write(":127.0.0.2:\n")
    for ip in sorted(ips):
        f.write(f"{ip >> 24}.{ip >> 16 & 255}.{ip >> 8 & 255}.{ip & 255}\n")
EOF

write_config "$WORK/fadelist.toml" "[server]
data_dir = \"$WORK/data\"

[admin]
listen = \"127.0.0.1:$APORT\"
token = \"$ADMIN_TOKEN\"

[transfer]
allow = [\"127.0.0.0/8\"]
notify = [\"127.0.0.1:$NSD_PORT\", \"127.0.0.1:$KNOT_PORT\"]

[[transfer.key]]
name = \"xfr-key\"
algorithm = \"hmac-sha256\"
secret = \"$SECRET\"

[[zone]]
name = \"bl.test\"
[[zone.dataset]]
type = \"ip4set\"
files = [\"bl.ip4set\"]
[[zone.dataset]]
type = \"ip4set\"
files = [\"bl2.ip4set\"]
[[zone.dataset]]
type = \"ip6trie\"
files = [\"bl.ip6trie\"]
[[zone.dataset]]
type = \"dnset\"
files = [\"bl.dnset\"]

[[zone]]
name = \"signed.test\"
transfer_key = \"xfr-key\"
[[zone.dataset]]
type = \"ip4set\"
files = [\"bl2.ip4set\"]

[[zone]]
name = \"big.test\"
[[zone.dataset]]
type = \"ip4set\"
files = [\"big.ip4set\"]
"
DB=$WORK/db.sqlite
TA=$(reporter_token "$DB" alice)
TB=$(reporter_token "$DB" trap1 --kind trap)
start_server "$WORK/fadelist.toml" "$DB" 600
wait_up || { cat "$WORK/serve.err"; fail "server up"; exit 1; }
pass "fadelist up (DNS $DPORT), secondaries NSD $NSD_PORT, Knot $KNOT_PORT"

# --- secondaries, from the deploy/ examples -------------------------------
ZONES="bl.test iprbl.test urirbl.test big.test"
mkdir -p "$WORK/nsd" "$WORK/knot"
python3 - "$ROOT/deploy/nsd/nsd.conf" "$WORK/nsd/nsd.conf" "$WORK/nsd" "$NSD_PORT" "$DPORT" "$ZONES" <<'EOF'
import re, sys
src, dst, d, port, primary, zones = sys.argv[1:]
text = open(src).read()
# The example's server block with this run's paths and port.
text = text.replace("/var/lib/nsd", d).replace("/run/nsd", d)
text = re.sub(r"ip-address: .*", f"ip-address: 127.0.0.1@{port}", text)
text = re.sub(r"username: .*", 'username: ""', text)
text = text.replace("192.0.2.1@53", f"127.0.0.1@{primary}").replace("allow-notify: 192.0.2.1", "allow-notify: 127.0.0.1")
head, _, _ = text.partition("\nzone:")
zone = "\nzone:" + text.split("\nzone:", 1)[1].split("\nzone:", 1)[0]
out = head + "\n" + "".join(zone.replace("iprbl.example.net", z) for z in zones.split())
open(dst, "w").write(out + "\n")
EOF
python3 - "$ROOT/deploy/knot/knot.conf" "$WORK/knot/knot.conf" "$WORK/knot" "$KNOT_PORT" "$DPORT" "$ZONES" "$SECRET" <<'EOF'
import re, sys
src, dst, d, port, primary, zones, secret = sys.argv[1:]
text = open(src).read()
text = text.replace("/var/lib/knot", d).replace("/run/knot", d)
text = re.sub(r"listen: .*", f"listen: 127.0.0.1@{port}", text)
text = re.sub(r"\n\s*user: .*", "", text)
text = text.replace("192.0.2.1@53", f"127.0.0.1@{primary}").replace("address: 192.0.2.1\n", "address: 127.0.0.1\n")
text = text.replace("REPLACE-WITH-THE-BASE64-SECRET", secret).replace("target: syslog", "target: stderr")
head, _, _ = text.partition("\nzone:")
zs = "".join(f"  - domain: {z}\n" for z in zones.split())
zs += "  - domain: signed.test\n    master: primary-signed\n"
open(dst, "w").write(head + "\nzone:\n" + zs)
EOF
timeout 590 nsd -d -c "$WORK/nsd/nsd.conf" > "$WORK/nsd/out.log" 2>&1 &
PIDS+=($!)
timeout 590 knotd -c "$WORK/knot/knot.conf" > "$WORK/knot/out.log" 2>&1 &
PIDS+=($!)

serial_of() { dig +short +tries=1 +time=1 @127.0.0.1 -p "$1" "$2" SOA | awk '{print $3}'; }
# synced PORT ZONE: the secondary serves the primary's current serial.
synced() { local s; s=$(serial_of "$DPORT" "$2"); [[ -n $s && $(serial_of "$1" "$2") == "$s" ]]; }
for z in bl.test iprbl.test urirbl.test signed.test; do
    for sec in NSD:$NSD_PORT Knot:$KNOT_PORT; do
        [[ $z == signed.test && ${sec%%:*} == NSD ]] && continue
        if eventually 150 0.2 synced "${sec##*:}" "$z"; then
            pass "${sec%%:*} transferred $z (serial $(serial_of "${sec##*:}" "$z"))"
        else
            fail "${sec%%:*} did not transfer $z"
        fi
    done
done

# --- differential -----------------------------------------------------------
python3 - "$WORK/names.txt" <<'EOF'
import ipaddress, random, sys
random.seed(7)
names = set()
def v4(ip):
    return ".".join(reversed(str(ipaddress.IPv4Address(ip)).split("."))) + ".bl.test"
def v6(ip):
    return ".".join(reversed(ipaddress.IPv6Address(ip).exploded.replace(":", ""))) + ".bl.test"
v4nets = ["10.0.0.0/8", "10.3.0.0/16", "10.1.2.0/24", "10.1.2.7/32", "192.0.2.0/25", "198.51.100.77/32",
          "203.0.113.0/24", "203.0.113.200/32", "2.0.0.0/16", "5.6.0.0/15", "172.16.0.0/12",
          "10.1.2.0/26", "203.0.113.9/32", "127.0.0.0/30", "100.64.1.0/26"]
for n in v4nets:
    net = ipaddress.IPv4Network(n)
    lo, hi = int(net.network_address), int(net.broadcast_address)
    for ip in {lo, hi, max(lo - 1, 0), min(hi + 1, 2**32 - 1)} | {random.randint(lo, hi) for _ in range(12)}:
        names.add(v4(ip))
for _ in range(60):
    names.add(v4(random.randrange(2**32)))
v6nets = ["2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::5/128", "2a00:1450:4001:81c::/64",
          "2a00:1450:4001:81c::1/128", "2000::/16", "2001:db9::/32"]
for n in v6nets:
    net = ipaddress.IPv6Network(n)
    lo, hi = int(net.network_address), int(net.broadcast_address)
    for ip in {lo, hi, lo - 1, hi + 1} | {random.randint(lo, hi) for _ in range(10)}:
        names.add(v6(ip))
names.add(v6(int(ipaddress.IPv6Address("::ffff:127.0.0.2"))))
for d in ["spam.example", "x.spam.example", "wild.example", "a.wild.example", "b.a.wild.example",
          "ok.wild.example", "x.ok.wild.example", "sub.example", "y.sub.example", "z.y.sub.example",
          "example", "test", "invalid", "nothing.example", "clean.example"]:
    names.add(d + ".bl.test")
with open(sys.argv[1], "w") as f:
    for n in sorted(names):
        f.write(f"{n} A\n{n} TXT\n")
EOF
NAMES=$(( $(wc -l < "$WORK/names.txt") / 2 ))
# answers PORT: every A and TXT answer for the names, one line each, no TTL
# variations hidden (name, TTL, type, value), sorted.
answers() {
    dig @127.0.0.1 -p "$1" +tries=2 +time=2 +noall +answer -f "$WORK/names.txt" \
        | awk '{ $3 = ""; print tolower($0) }' | sort
}
answers "$DPORT" > "$WORK/ans.fadelist"
listed=$(awk '$3 == "a" || $4 == "a" {print $1}' "$WORK/ans.fadelist" | sort -u | wc -l)
for sec in NSD:$NSD_PORT Knot:$KNOT_PORT; do
    answers "${sec##*:}" > "$WORK/ans.${sec%%:*}"
    if cmp -s "$WORK/ans.fadelist" "$WORK/ans.${sec%%:*}"; then
        pass "${sec%%:*} answers $NAMES names (A and TXT, $listed listed) exactly as fadelist"
    else
        fail "${sec%%:*} differs from fadelist:"
        diff "$WORK/ans.fadelist" "$WORK/ans.${sec%%:*}" | head -20 || true
    fi
done
((listed > 100)) && pass "the differential covers $listed listed names" || fail "only $listed listed names"
# The documented difference: a range written as a wildcard cannot say the
# asked address, so its `$` says the range.
want_fl="\"net 198.18.0.5\"" want_sec="\"net 198.18.0.0/24\""
got_fl=$(dig +short @127.0.0.1 -p "$DPORT" 5.0.18.198.bl.test TXT)
for sec in NSD:$NSD_PORT Knot:$KNOT_PORT; do
    got=$(dig +short @127.0.0.1 -p "${sec##*:}" 5.0.18.198.bl.test TXT)
    [[ $got_fl == "$want_fl" && $got == "$want_sec" ]] \
        && pass "${sec%%:*}: \$ in a /24 range says the range ($got; fadelist: $got_fl)" \
        || fail "${sec%%:*}: \$ in a wildcard: got $got, fadelist $got_fl"
done

# --- propagation by NOTIFY ----------------------------------------------------
NAME=112.20.160.89.iprbl.test
sec_is() { [[ $(dig +short +tries=1 +time=1 @127.0.0.1 -p "$1" "$2" A) == "$3" ]]; }
sec_status_is() { [[ $(dig +tries=1 +time=1 @127.0.0.1 -p "$1" "$2" A | sed -n 's/.*status: \([A-Z]*\).*/\1/p') == "$3" ]]; }
MAIL=tests/data/mail/spam-plain.eml
S0=$(serial_of "$DPORT" iprbl.test)
"$BIN" report --server "http://127.0.0.1:$HPORT" --token "$TA" "$MAIL" > /dev/null
"$BIN" report --server "http://127.0.0.1:$HPORT" --token "$TB" "$MAIL" > /dev/null
t0=$(date +%s.%N)
eventually 40 0.05 dns_answer_is $NAME 127.0.0.2 && pass "fadelist lists $NAME" || fail "fadelist did not list $NAME"
for sec in NSD:$NSD_PORT Knot:$KNOT_PORT; do
    if eventually 100 0.05 sec_is "${sec##*:}" $NAME 127.0.0.2; then
        pass "${sec%%:*} lists $NAME $(python3 -c "import time; print(f'{time.time() - $t0:.2f}')") s after the report (NOTIFY + transfer)"
    else
        fail "${sec%%:*} did not list $NAME within 5 s"
    fi
done
# IXFR by hand: from the serial before the reports, the difference (SOA
# new, SOA old, SOA new, the added records, SOA new); from a serial the
# history does not reach, the whole zone.
S1=$(serial_of "$DPORT" iprbl.test)
dig @127.0.0.1 -p "$DPORT" +tries=1 +time=5 +noall +answer iprbl.test "IXFR=$S0" > "$WORK/ixfr.txt" || true
types=$(awk '{print $4 "/" $7}' "$WORK/ixfr.txt" | tr '\n' ' ')
if [[ $(awk '$4 == "SOA" {print $7}' "$WORK/ixfr.txt" | tr '\n' ' ') == "$S1 $S0 $S1 $S1 " ]] \
    && grep -q "^$NAME.*A.*127.0.0.2" "$WORK/ixfr.txt" && ! grep -q "NS" "$WORK/ixfr.txt"; then
    pass "dig IXFR=$S0: the difference to $S1 only ($(grep -c . "$WORK/ixfr.txt") records)"
else
    fail "dig IXFR=$S0: $types"; cat "$WORK/ixfr.txt"
fi
dig @127.0.0.1 -p "$DPORT" +tries=1 +time=5 +noall +answer iprbl.test "IXFR=1000" > "$WORK/ixfr-old.txt" || true
awk 'NR == 2 {print $4}' "$WORK/ixfr-old.txt" | grep -q NS && grep -q "^$NAME" "$WORK/ixfr-old.txt" \
    && pass "dig IXFR=1000 (older than the history): the whole zone, AXFR-style" \
    || { fail "IXFR from an old serial"; head -3 "$WORK/ixfr-old.txt"; }
FADELIST_ADMIN_TOKEN=$ADMIN_TOKEN "$BIN" admin --server "http://127.0.0.1:$APORT" unlist iprbl.test 89.160.20.112 > /dev/null
t0=$(date +%s.%N)
eventually 40 0.05 dns_status_is $NAME NXDOMAIN && pass "fadelist delisted $NAME" || fail "fadelist still lists $NAME"
for sec in NSD:$NSD_PORT Knot:$KNOT_PORT; do
    if eventually 100 0.05 sec_status_is "${sec##*:}" $NAME NXDOMAIN; then
        pass "${sec%%:*} delisted $NAME $(python3 -c "import time; print(f'{time.time() - $t0:.2f}')") s after the removal"
    else
        fail "${sec%%:*} still lists $NAME 5 s after the removal"
    fi
done
grep -q "NOTIFY" "$WORK/serve.err" && pass "fadelist logged its NOTIFY targets" || fail "no NOTIFY in the log"
incr=$(grep -c "IXFR sent (incremental).*zone=iprbl.test" "$WORK/serve.err" || true)
((incr >= 4)) && pass "the secondaries took the listing and the delisting as incremental IXFRs ($incr)" \
    || fail "only $incr incremental IXFRs of iprbl.test"

# --- TSIG ----------------------------------------------------------------------
kxfr() { kdig @127.0.0.1 -p "$DPORT" +retry=0 +timeout=5 "$@" signed.test AXFR 2>&1 || true; }
out=$(kxfr)
grep -q "REFUSED" <<< "$out" && pass "signed.test without a key: REFUSED" || { fail "signed.test without a key was not refused"; echo "$out" | head -5; }
out=$(kxfr -y "hmac-sha256:xfr-key:$WRONG")
grep -qi "NOTAUTH\|BADSIG\|failed" <<< "$out" && pass "signed.test with a wrong secret: refused (NOTAUTH/BADSIG)" || { fail "wrong secret accepted"; echo "$out" | head -5; }
out=$(kxfr -y "hmac-sha256:xfr-key:$SECRET")
if grep -q "^signed.test.*SOA" <<< "$out" && grep -q "203.0.113.9\|9.113.0.203.signed.test" <<< "$out" && ! grep -q ";; ERROR\|;; WARNING\|failed" <<< "$out"; then
    pass "signed.test with the key: transferred, every message's TSIG checked by kdig"
else
    fail "signed AXFR failed"; echo "$out" | tail -5
fi
dig @127.0.0.1 -p "$DPORT" bl.test AXFR -y "hmac-sha256:xfr-key:$SECRET" +noall +stats > "$WORK/dig-signed.txt" 2>&1 || true
grep -q "XFR size" "$WORK/dig-signed.txt" && ! grep -qi "tsig.*fail\|Transfer failed" "$WORK/dig-signed.txt" \
    && pass "dig verifies a signed multi-message AXFR of bl.test: $(grep 'XFR size' "$WORK/dig-signed.txt" | sed 's/;; //')" \
    || { fail "dig: signed AXFR of bl.test"; cat "$WORK/dig-signed.txt" | tail -3; }

# --- the large zone --------------------------------------------------------------
want=$(( BIG + 4 ))  # entries + test entries (127.0.0.2 two names, test) + NS; SOA counted once below
t0=$(date +%s.%N)
kdig @127.0.0.1 -p "$DPORT" +retry=0 +timeout=60 big.test AXFR +noall +answer > "$WORK/big.axfr" 2>&1 || true
t1=$(date +%s.%N)
got=$(grep -vc '^;' "$WORK/big.axfr" || true)
if (( got >= BIG )); then
    pass "kdig AXFR of big.test: $got records in $(python3 -c "print(f'{$t1 - $t0:.2f}')") s ($(grep -c 'A	127.0.0.2' "$WORK/big.axfr") A records)"
else
    fail "kdig AXFR of big.test: $got records, want >= $BIG"; tail -3 "$WORK/big.axfr"
fi
SAMPLE=$(python3 - "$WORK/data/big.ip4set" <<'EOF'
import random, sys
lines = [l.strip() for l in open(sys.argv[1]) if l[0].isdigit()]
random.seed(3)
for l in random.sample(lines, 20):
    print(".".join(reversed(l.split("."))) + ".big.test")
EOF
)
for sec in NSD:$NSD_PORT Knot:$KNOT_PORT; do
    if eventually 300 0.2 synced "${sec##*:}" big.test; then
        ok=0
        for n in $SAMPLE; do sec_is "${sec##*:}" "$n" 127.0.0.2 && ok=$((ok + 1)); done
        ((ok == 20)) && pass "${sec%%:*} serves big.test ($BIG addresses): 20 of 20 sampled names listed" \
            || fail "${sec%%:*} big.test: $ok of 20 sampled names listed"
    else
        fail "${sec%%:*} did not transfer big.test"
    fi
done
grep "AXFR sent" "$WORK/serve.err" | grep "zone=big.test" | tail -2 | sed 's/^/INFO  /'

stop_server && pass "SIGTERM: clean exit" || fail "exit status after SIGTERM"
printf '\n=== xfr: %s ===\n' "$([[ $fails -eq 0 ]] && echo PASS || echo "FAIL ($fails)")"
exit $((fails > 0))
