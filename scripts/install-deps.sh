#!/usr/bin/env bash
# Installs the Debian packages hype needs on a host (idempotent; fast when
# everything is there). Rust itself must already be installed (rustup).
set -euo pipefail

PKGS=(qemu-system-x86 qemu-utils chromium kmod cpio lz4 binutils file e2fsprogs
    iproute2 nftables curl ca-certificates tmux libc6-dev gcc
    xva-img python3 python3-venv tar openssl
    syslinux syslinux-common mtools dosfstools fdisk busybox-static  # the bootable test disk (scripts/build-test-disk.sh)
    golang-go golang-github-vmware-govmomi-dev  # the last two: vCenter simulator for hype-vsphere's tests
    ovmf  # UEFI firmware for QEMU: imported disks whose source booted UEFI
    systemd-boot-efi  # the EFI stub of the UEFI test disk (scripts/build-test-disk.sh uefi)
    mmdebstrap)  # root filesystems: the browser image, the Debian test disk (scripts/build-debian-test-disk.sh)

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

# Python packages for tests (the official XenAPI client), in a venv outside
# the clone; reinstalled only when a requirements file changes.
VENV=${HYPE_VENV:-/var/cache/hype/venv}
for req in "$(dirname "$0")"/../tests/*/requirements.txt; do
    [[ -f $req ]] || continue
    stamp="$VENV/.$(basename "$(dirname "$req")")-$(sha256sum "$req" | cut -c1-16)"
    [[ -f $stamp ]] && continue
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    echo "install-deps: pip install -r $req" >&2
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$req"
    touch "$stamp"
done
