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
# The web console hyped embeds: its committed bundle must be what its
# sources build (Preact and esbuild as locked in console/).
scripts/build-console.sh --check
# Third-party CDP clients for the browser tests, as locked (no browser
# download); Playwright for the console's tests in Debian's Chromium.
(cd tests/browser && npm ci --ignore-scripts --no-audit --no-fund --silent)
(cd tests/console && npm ci --ignore-scripts --no-audit --no-fund --silent)
# The official AG-UI client, as locked, reading GET /api/v1/agui.
(cd tests/agui && npm ci --ignore-scripts --no-audit --no-fund --silent)
# The MCP inspector (npm), as locked; the Python clients (the MCP SDK,
# XenAPI) are in the venv install-deps.sh fills from tests/*/requirements.txt.
(cd tests/mcp && npm ci --ignore-scripts --no-audit --no-fund --silent --loglevel=error)
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --no-fail-fast 2>&1 | tee "${TMPDIR:-/tmp}/hype-test.log"
# Say plainly which real-binary tests ran (cargo hides test output).
cargo test -q -p hype-ch --test real_binary -- --nocapture 2>&1 | grep -E "skipped|passed|failed" || true
# The SDKs (pytest, node's test runner) against the hyped cargo built, in
# a network namespace of their own; the TypeScript toolchain as locked.
(cd sdks/typescript && npm ci --ignore-scripts --no-audit --no-fund --silent)
sdks/run-tests.sh all
