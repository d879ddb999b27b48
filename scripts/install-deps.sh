#!/usr/bin/env bash
# Installs the Debian packages hype needs on a host (idempotent; fast when
# everything is there), then checks that every tool the project runs is on
# PATH: a package that installs can still remove another one's binaries.
# Rust itself must already be installed (rustup).
#
# QEMU comes from bookworm-backports (QEMU 10): forks share their memory
# through `x-ignore-shared` and `mapped-ram` file migration, and bookworm's
# own qemu-system-x86 (7.2) would also replace a newer qemu-utils and take
# qemu-img away. The backports suite is added as its own apt source, on the
# same mirror the host's Debian entry already uses.
set -euo pipefail

PKGS=(chromium kmod cpio lz4 binutils file e2fsprogs
    iproute2 nftables curl ca-certificates tmux libc6-dev gcc
    xva-img python3 python3-venv tar openssl
    syslinux syslinux-common mtools dosfstools fdisk busybox-static  # the bootable test disk (scripts/build-test-disk.sh)
    golang-go golang-github-vmware-govmomi-dev  # the last two: vCenter simulator for hype-vsphere's tests
    ovmf  # UEFI firmware for QEMU: imported disks whose source booted UEFI
    systemd-boot-efi  # the EFI stub of the UEFI test disk (scripts/build-test-disk.sh uefi)
    mmdebstrap)  # root filesystems: the browser image, the Debian test disk (scripts/build-debian-test-disk.sh)
# From bookworm-backports, in one transaction so neither replaces the other.
BACKPORTS=(qemu-system-x86 qemu-utils)
# Every program hype, its scripts and its tests run, with the package that
# brings it; checked after installing.
declare -A TOOLS=([qemu-system-x86_64]=qemu-system-x86 [qemu-img]=qemu-utils
    [chromium]=chromium [nft]=nftables [ip]=iproute2 [mkfs.ext4]=e2fsprogs
    [mmdebstrap]=mmdebstrap [xva-img]=xva-img [tmux]=tmux [go]=golang-go
    [cpio]=cpio [lz4]=lz4 [mcopy]=mtools [sfdisk]=fdisk [curl]=curl
    [python3]=python3 [openssl]=openssl [busybox]=busybox-static
    [node]=nodejs [npm]=npm)  # node and npm: the web console's build and browser tests
QEMU_MIN_MAJOR=10

die() { echo "install-deps: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root"
export DEBIAN_FRONTEND=noninteractive

# The URI of the host's Debian entry (deb822 or one-line format).
debian_uri() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)|: *bookworm( |$)/ {print u; exit}' "$f"
    done | head -n1
    if [[ -f /etc/apt/sources.list ]]; then
        awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list
    fi
    return 0
}

ensure_backports() {
    local list=/etc/apt/sources.list.d/hype-backports.sources uri
    [[ -f $list ]] && return 1
    uri=$(debian_uri | head -n1)
    [[ -n $uri ]] || die "cannot find the host's Debian bookworm apt source to add bookworm-backports beside"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" >"$list"
    echo "install-deps: added bookworm-backports ($uri) as $list" >&2
}

qemu_major() {
    qemu-system-x86_64 --version 2>/dev/null | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n1
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
need_qemu=0
major=$(qemu_major || true)
{ [[ -z $major || $major -lt $QEMU_MIN_MAJOR ]] || ! command -v qemu-img >/dev/null; } && need_qemu=1
updated=0
if ((need_qemu)); then
    ensure_backports || true
    apt-get update -qq
    updated=1
    echo "install-deps: installing ${BACKPORTS[*]} from bookworm-backports" >&2
    apt-get install -y -qq --no-install-recommends -t bookworm-backports "${BACKPORTS[@]}" >/dev/null
fi
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}" >&2
    ((updated)) || apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || die "cargo not found; install Rust with rustup"

# Check, after everything was installed, that nothing took a tool away.
gone=()
for t in "${!TOOLS[@]}"; do command -v "$t" >/dev/null || gone+=("$t (package ${TOOLS[$t]})"); done
((${#gone[@]} == 0)) || die "missing after installing: ${gone[*]}"
# The browser tests (Playwright) launch Debian's Chromium by this path.
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium missing after installing package chromium"
major=$(qemu_major)
((major >= QEMU_MIN_MAJOR)) || die "qemu-system-x86_64 is QEMU $major; hype needs $QEMU_MIN_MAJOR or newer (bookworm-backports)"

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

# The SDKs' Python test dependencies (pytest, Playwright without browsers,
# the build tools), locked with hashes, in a venv of their own; and the
# wheelhouse of the SDK's own dependencies, from which its clean-install
# test installs offline. Redone only when a lock file changes.
SDK_VENV=${HYPE_SDK_VENV:-/var/cache/hype/venv-sdk}
SDK_WHEELS=${HYPE_SDK_WHEELHOUSE:-/var/cache/hype/wheels-sdk}
sdk="$(dirname "$0")/../sdks/python"
stamp="$SDK_VENV/.locks-$(cat "$sdk/requirements-test.lock" "$sdk/requirements.lock" | sha256sum | cut -c1-16)"
if [[ ! -f $stamp ]]; then
    [[ -x $SDK_VENV/bin/python ]] || python3 -m venv "$SDK_VENV"
    echo "install-deps: pip install -r sdks/python/requirements-test.lock" >&2
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$SDK_VENV/bin/pip" install -q --disable-pip-version-check \
        --require-hashes -r "$sdk/requirements-test.lock"
    rm -rf "$SDK_WHEELS"
    "$SDK_VENV/bin/pip" download -q --disable-pip-version-check --require-hashes \
        -r "$sdk/requirements.lock" -d "$SDK_WHEELS"
    touch "$stamp"
fi
