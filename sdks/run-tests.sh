#!/usr/bin/env bash
# Runs the SDKs' test suites (python, typescript, or both) against real
# hypeds, inside a network namespace made for the run: lo up, IPv4
# forwarding on, so browser sandboxes get hyped's bridge, taps and NAT
# without touching the host's network. Extra arguments go to the runner
# (pytest, or node --test's file list).
#
#   sdks/run-tests.sh [python|typescript|all] [ARGS...]
#
# Needs: root, the hyped that cargo builds ($CARGO_TARGET_DIR/debug/hyped),
# the images of scripts/build-images.sh, and the test dependencies that
# scripts/install-deps.sh installs (the SDK venv and wheelhouse) and
# `npm ci` in sdks/typescript.
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$0")/.."
which=${1:-all}
shift || true
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/hype/target}
export HYPE_IMAGES_DIR=${HYPE_IMAGES_DIR:-/var/lib/hype/images}
export HYPE_SDK_VENV=${HYPE_SDK_VENV:-/var/cache/hype/venv-sdk}
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [[ ${HYPE_SDK_NETNS:-} != 1 ]]; then
    # Enter a fresh network namespace and run this script again inside it.
    exec unshare --net env HYPE_SDK_NETNS=1 "$self" "$which" "$@"
fi
ip link set lo up
echo 1 >/proc/sys/net/ipv4/ip_forward

case $which in
python)
    cd sdks/python && exec "$HYPE_SDK_VENV/bin/python" -m pytest "$@" ;;
typescript)
    cd sdks/typescript
    (($#)) || set -- test/*.test.mjs
    npm run --silent build && exec node --test --test-concurrency=1 "$@" ;;
all)
    "$self" python && "$self" typescript ;;
*)
    echo "usage: $0 [python|typescript|all] [ARGS...]" >&2; exit 2 ;;
esac
