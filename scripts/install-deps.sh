#!/usr/bin/env bash
# Installs the Debian packages hype needs on a host (idempotent; fast when
# everything is there). Rust itself must already be installed (rustup).
set -euo pipefail

PKGS=(qemu-system-x86 qemu-utils chromium kmod cpio lz4 binutils file e2fsprogs
    iproute2 nftables curl ca-certificates tmux libc6-dev gcc python3-venv)

[[ $(id -u) -eq 0 ]] || { echo "install-deps: run as root" >&2; exit 1; }
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "install-deps: cargo not found; install Rust with rustup" >&2; exit 1; }
