#!/usr/bin/env bash
# From a fresh Debian machine to a running microVM: installs packages,
# builds hype (release) and its guest image, installs the binaries to
# /usr/local/bin, starts hyped in the background and boots VM "demo".
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/hype/target}
DATA=${HYPE_DATA_DIR:-/var/lib/hype}
LISTEN=${HYPE_LISTEN:-127.0.0.1:7777}

scripts/install-deps.sh
scripts/build-images.sh "$DATA/images"
scripts/build-console.sh   # the web console hyped embeds (the same bytes as committed)
cargo build --release --quiet -p hyped -p hype
install -m 0755 "$CARGO_TARGET_DIR/release/hyped" "$CARGO_TARGET_DIR/release/hype" /usr/local/bin/

if ! curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1; then
    mkdir -p "$DATA"
    echo "quickstart: starting hyped on $LISTEN (log: $DATA/hyped.log)"
    nohup hyped --listen "$LISTEN" --data-dir "$DATA" >>"$DATA/hyped.log" 2>&1 &
    for _ in $(seq 50); do
        curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
fi
export HYPE_API_BASE="http://$LISTEN"
hype vms get demo >/dev/null 2>&1 && hype vms delete demo
hype vms create demo --memory 256
cat <<MSG

hyped is running on http://$LISTEN and VM "demo" is up. Open the web console
at http://$LISTEN/ or try:
  hype vms list
  hype vms watch            # live lifecycle events (Ctrl-C to stop)
  hype vms logs demo        # its serial console
  hype vms stop demo && hype vms start demo
MSG
