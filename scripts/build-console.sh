#!/usr/bin/env bash
# Builds the web console (console/, Preact bundled by esbuild, both as
# locked in console/package-lock.json) into crates/hype-console/assets,
# which hyped embeds. The built files are committed: building hyped needs
# no Node.js, and the same sources and lock give the same bytes.
#
#   scripts/build-console.sh           rebuild the committed assets
#   scripts/build-console.sh --check   rebuild elsewhere; fail if they differ
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=crates/hype-console/assets

die() { echo "build-console: $*" >&2; exit 1; }
command -v node >/dev/null || die "node not found (Debian: apt-get install nodejs npm)"

# npm ci only when the lock changed since the last install.
stamp=console/node_modules/.hype-lock-$(sha256sum console/package-lock.json | cut -c1-16)
if [[ ! -f $stamp ]]; then
    (cd console && npm ci --ignore-scripts --no-audit --no-fund --silent)
    touch "$stamp"
fi

case ${1:-} in
"")
    node console/build.mjs "$ASSETS"
    ;;
--check)
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    node console/build.mjs "$out"
    diff -r "$ASSETS" "$out" >/dev/null ||
        die "$ASSETS differs from a fresh build of console/: run scripts/build-console.sh and commit the result"
    ;;
*) die "usage: $0 [--check]" ;;
esac
