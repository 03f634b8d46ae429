#!/usr/bin/env bash
# Regenerate the protected-key lists compiled into fadelist-ingest
# (crates/fadelist-ingest/data/protected-domains.txt and redirectors.txt)
# from the lists that SpamAssassin and rspamd themselves ship in Debian.
#
# Usage: scripts/update-protected-lists.sh
#
# Needs apt-get (with an up-to-date package index: run `apt-get update`
# first), dpkg-deb, GNU sort/sed/grep. Nothing is installed: the packages
# are fetched with `apt-get download` and unpacked into a temporary
# directory that is removed on exit.
#
# Environment:
#   SPAMASSASSIN_VERSION, RSPAMD_VERSION  pin a package version
#                                          (default: the apt candidate)
#   SOURCE_DATE_EPOCH                      date written in the headers
#                                          (default: now); set it to get
#                                          byte-identical output
#
# The output is deterministic for given package versions and date:
# entries are lower-cased, comments and map values stripped, anything
# that is not a plain LDH domain name of two labels or more (IDNA A-labels
# "xn--" are kept as they are) dropped, then sorted bytewise and
# de-duplicated.
set -euo pipefail

export LC_ALL=C

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out_dir="$repo_root/crates/fadelist-ingest/data"

# --- Hand-maintained additions ------------------------------------------
# Well-known URL shorteners that must be in redirectors.txt even when the
# rspamd list of the packaged version lacks them. Maintained here, by hand;
# the header of redirectors.txt names those that were actually added.
HAND_SHORTENERS=(
    bit.ly t.co tinyurl.com goo.gl ow.ly is.gd buff.ly rebrand.ly
    cutt.ly t.ly rb.gy shorturl.at tiny.cc lnkd.in
)
# --- End of hand-maintained additions -------------------------------------

for tool in apt-get dpkg-deb sort grep sed find; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt-get download as root hands the download to the unprivileged _apt
# user, which must be able to write here.
chmod 755 "$work"
if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then
    chown _apt "$work"
fi

# fetch PACKAGE [VERSION]: download and unpack, print the exact version.
fetch() {
    local pkg=$1 version=${2:-} spec deb
    spec=$pkg${version:+=$version}
    (cd "$work" && apt-get download -q "$spec" >/dev/null) ||
        { echo "error: apt-get download $spec failed (run apt-get update?)" >&2; exit 1; }
    deb=$(find "$work" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
    [[ -n $deb ]] || { echo "error: no .deb for $pkg" >&2; exit 1; }
    mkdir -p "$work/$pkg"
    dpkg-deb -x "$deb" "$work/$pkg"
    dpkg-deb -f "$deb" Version
}

# locate PACKAGE FILENAME: the path of FILENAME inside the unpacked
# package (relative, with a leading /). Exactly one match is required.
locate() {
    local pkg=$1 name=$2 found
    found=$(cd "$work/$pkg" && find . -type f -name "$name" | sed 's|^\.||' | sort)
    if [[ -z $found ]]; then
        echo "error: $name not found in package $pkg" >&2; exit 1
    fi
    if [[ $(wc -l <<<"$found") -ne 1 ]]; then
        echo "error: several $name in package $pkg:" >&2
        echo "$found" >&2
        exit 1
    fi
    echo "$found"
}

# clean: stdin candidate names (one per line) -> valid, lower-case, sorted,
# unique names on stdout; the number dropped is reported on stderr under
# the label $1.
clean() {
    local label=$1 raw valid
    raw=$(tr '[:upper:]' '[:lower:]' | sed -e 's/[[:space:]]*$//' -e 's/\.$//' | grep -v '^$' || true)
    # LDH labels of 1 to 63 characters, no leading or trailing hyphen, at
    # least two labels, 253 characters at most, and a last label with a
    # letter in it (so that IPv4 addresses never pass): the second grep
    # finds a letter or hyphen followed only by LDH characters to the end.
    valid=$(grep -E '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' <<<"$raw" |
        grep -E '[a-z-][a-z0-9-]*$' | grep -E '^.{1,253}$' | sort -u || true)
    local n_raw n_valid n_bad
    n_raw=$(grep -c . <<<"$raw" || true)
    n_valid=$(grep -c . <<<"$valid" || true)
    n_bad=$(grep -v -x -F -f <(printf '%s\n' "$valid") <<<"$raw" | grep -c . || true)
    echo "$label: $n_raw entries read, $n_bad invalid dropped, $n_valid unique kept" >&2
    if [[ -z $valid ]]; then
        echo "error: $label: no valid entry" >&2
        return 1
    fi
    printf '%s\n' "$valid"
}

# Values of every "uridnsbl_skip_domain" directive in a SpamAssassin .cf
# file (several domains per line, "#" comments, any indentation).
sa_skip_domains() {
    sed -e 's/#.*//' "$1" |
        awk '$1 == "uridnsbl_skip_domain" { for (i = 2; i <= NF; i++) print $i }'
}

# Keys of an rspamd map file: first field of each line, "#" comments off.
rspamd_map_keys() {
    sed -e 's/#.*//' "$1" | awk 'NF { print $1 }'
}

sa_version=$(fetch spamassassin "${SPAMASSASSIN_VERSION:-}")
rspamd_version=$(fetch rspamd "${RSPAMD_VERSION:-}")

sa_cf=$(locate spamassassin 25_uribl.cf)
rs_whitelist=$(locate rspamd surbl-whitelist.inc)
rs_redirectors=$(locate rspamd redirectors.inc)

if [[ -n ${SOURCE_DATE_EPOCH:-} ]]; then
    generated=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
else
    generated=$(date -u +%Y-%m-%d)
fi

domains=$({
    sa_skip_domains "$work/spamassassin$sa_cf"
    rspamd_map_keys "$work/rspamd$rs_whitelist"
} | clean protected-domains)

upstream_redirectors=$(rspamd_map_keys "$work/rspamd$rs_redirectors" | clean redirectors-upstream)
hand=$(printf '%s\n' "${HAND_SHORTENERS[@]}" | clean hand-shorteners)
added=$(grep -v -x -F -f <(printf '%s\n' "$upstream_redirectors") <<<"$hand" || true)
redirectors=$(printf '%s\n%s\n' "$upstream_redirectors" "$added" | clean redirectors)

mkdir -p "$out_dir"

tmp=$(mktemp "$out_dir/.protected-domains.XXXXXX")
{
    cat <<EOF
# protected-domains.txt: popular and infrastructure domains that fadelist
# never lists, nor any name below them. Compiled into fadelist-ingest
# (src/protected.rs). Generated on $generated by
# scripts/update-protected-lists.sh: do not edit by hand.
#
# Sources:
#   Debian package spamassassin $sa_version, $sa_cf
#     (the arguments of its uridnsbl_skip_domain lines)
#   Debian package rspamd $rspamd_version, $rs_whitelist
#     (the keys of the map)
# Licence of both sources: Apache-2.0 (SpamAssassin: Apache Software
# Foundation; rspamd: Vsevolod Stakhov). See
# https://www.apache.org/licenses/LICENSE-2.0
#
# Format: one lower-case domain name per line, sorted, unique; lines
# starting with "#" are comments.
EOF
    printf '%s\n' "$domains"
} >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$out_dir/protected-domains.txt"

added_note=$(if [[ -n $added ]]; then tr '\n' ' ' <<<"$added" | sed 's/ $//'; else echo "(none)"; fi)
tmp=$(mktemp "$out_dir/.redirectors.XXXXXX")
{
    cat <<EOF
# redirectors.txt: URL shorteners and redirectors. A link through one of
# them says nothing about its target, so fadelist never lists them, nor
# any name below them. Compiled into fadelist-ingest (src/protected.rs).
# Generated on $generated by scripts/update-protected-lists.sh: do not
# edit by hand.
#
# Sources:
#   Debian package rspamd $rspamd_version, $rs_redirectors
#     (the keys of the map); licence Apache-2.0 (rspamd: Vsevolod
#     Stakhov), see https://www.apache.org/licenses/LICENSE-2.0
#   Hand-maintained well-known shorteners in
#     scripts/update-protected-lists.sh (HAND_SHORTENERS); added because
#     missing from the rspamd list: $added_note
#
# Format: one lower-case domain name per line, sorted, unique; lines
# starting with "#" are comments.
EOF
    printf '%s\n' "$redirectors"
} >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$out_dir/redirectors.txt"

echo "wrote $out_dir/protected-domains.txt ($(grep -c -v '^#' "$out_dir/protected-domains.txt") entries)" >&2
echo "wrote $out_dir/redirectors.txt ($(grep -c -v '^#' "$out_dir/redirectors.txt") entries)" >&2
