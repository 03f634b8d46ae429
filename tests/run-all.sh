#!/usr/bin/env bash
# The whole test suite: unit tests, end-to-end tests (real server, real DNS
# and HTTP), and interop tests with third-party software (dig, Unbound,
# SpamAssassin, rspamd, Postfix, Dovecot, rbldnsd, Prometheus, NSD and
# Knot as secondaries), which install their Debian packages if missing,
# and the browser test (headless Debian Chromium via playwright-core) of
# the lookup page and the delisting form; and the Debian package, built,
# installed and purged (tests/packaging/deb.sh, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
cargo build --release --locked -p fadelist
FADELIST_BIN="$PWD/target/release/fadelist" tests/interop/run.sh
FADELIST_BIN="$PWD/target/release/fadelist" tests/interop/acl.sh
FADELIST_BIN="$PWD/target/release/fadelist" tests/interop/report-flow.sh
FADELIST_BIN="$PWD/target/release/fadelist" tests/interop/export-live.sh
FADELIST_BIN="$PWD/target/release/fadelist" tests/interop/xfr.sh
FADELIST_BIN="$PWD/target/release/fadelist" tests/interop/follow.sh
FADELIST_BIN="$PWD/target/release/fadelist" tests/interop/uri-ips.sh
FADELIST_BIN="$PWD/target/release/fadelist" tests/interop/mailstack.sh
FADELIST_BIN="$PWD/target/release/fadelist" tests/interop/dovecot.sh
FADELIST_BIN="$PWD/target/release/fadelist" tests/interop/prometheus.sh
FADELIST_BIN="$PWD/target/release/fadelist" tests/browser/run.sh
tests/packaging/deb.sh
