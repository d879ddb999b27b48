#!/usr/bin/env bash
# The test command: installs what is missing, builds the guest image
# (cached by its inputs), then runs every test of the workspace, including
# real QEMU guests (TCG where KVM cannot run them).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/hype/target}
export HYPE_IMAGES_DIR=${HYPE_IMAGES_DIR:-/var/lib/hype/images}

scripts/install-deps.sh
scripts/build-images.sh "$HYPE_IMAGES_DIR"
scripts/build-vcsim.sh >/dev/null
# Third-party CDP clients for the browser tests, as locked (no browser download).
(cd tests/browser && npm ci --ignore-scripts --no-audit --no-fund --silent)
# MCP clients for the MCP tests: the inspector (npm) and the official Python
# SDK in a venv outside the clone, both as pinned under tests/mcp.
(cd tests/mcp && npm ci --ignore-scripts --no-audit --no-fund --silent --loglevel=error)
export HYPE_MCP_VENV=${HYPE_MCP_VENV:-/var/cache/hype/venv-mcp}
[[ -x $HYPE_MCP_VENV/bin/python ]] || /usr/bin/python3 -m venv "$HYPE_MCP_VENV"
"$HYPE_MCP_VENV/bin/pip" install -q --disable-pip-version-check -r tests/mcp/requirements.txt
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace 2>&1 | tee "${TMPDIR:-/tmp}/hype-test.log"
# Say plainly which real-binary tests ran (cargo hides test output).
cargo test -q -p hype-ch --test real_binary -- --nocapture 2>&1 | grep -E "skipped|passed|failed" || true
