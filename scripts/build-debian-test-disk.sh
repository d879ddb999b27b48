#!/usr/bin/env bash
# Builds a Debian bookworm full disk as a VM migrated off vSphere would
# bring it, for the `boot: kernel` test of imported disks, and prints its
# path: an MBR, one ext4 partition with Debian minbase and systemd as init,
# /etc/fstab naming the root by UUID, a hostname (`migrated`), and ifupdown
# configured for a NIC this VM will not have (vSphere's `ens192`). No boot
# loader and no kernel: hype's kernel boots it.
#
# Cached under ${HYPE_CACHE_DIR:-/var/cache/hype}/test-disk by the sha256 of
# this script and the systemd version apt would install; the first build
# takes a few minutes, mostly apt. No loop mount (`mkfs.ext4 -d`).
set -euo pipefail

CACHE=${HYPE_CACHE_DIR:-/var/cache/hype}
SUITE=bookworm
PACKAGES=(systemd-sysv udev ifupdown)
PART_MIB=512

die() { echo "build-debian-test-disk: $*" >&2; exit 1; }
log() { echo "build-debian-test-disk: $*" >&2; }
[[ $(id -u) -eq 0 ]] || die "run as root (mmdebstrap, file ownership in the image)"
for t in mmdebstrap mkfs.ext4 sfdisk; do
    command -v "$t" >/dev/null || die "$t missing; run scripts/install-deps.sh"
done

systemd=$(apt-cache policy systemd 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }')
[[ -n $systemd && $systemd != "(none)" ]] || die "apt knows no systemd; run apt-get update"
key=$( (sha256sum "$0" | cut -d' ' -f1; echo "$systemd") | sha256sum | cut -c1-16)
out=$CACHE/test-disk/debian-$key.raw
if [[ -f $out ]]; then
    echo "$out"
    exit 0
fi
mkdir -p "$CACHE/test-disk"
# Tests ask for the disk in parallel: one builds, the others wait for it
# (the lock goes with this process), then find it made.
exec 9>"$CACHE/test-disk/.lock"
flock 9
if [[ -f $out ]]; then
    echo "$out"
    exit 0
fi
find "$CACHE/test-disk" -name 'debian-*.raw' -delete

# The machine's own apt sources, as build-browser-rootfs.sh takes them.
SOURCES=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -s $f ]] && grep -Eq '^[[:space:]]*(deb |Types:)' "$f" && SOURCES+=("$f")
done
((${#SOURCES[@]})) || die "no apt sources found in /etc/apt"

tmp=$(mktemp -d "$CACHE/.debian-disk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
log "mmdebstrap $SUITE: ${PACKAGES[*]} (systemd $systemd)"
mmdebstrap --variant=minbase --mode=root --quiet \
    --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$SUITE" "$root" "${SOURCES[@]}" >&2

uuid=$(cat /proc/sys/kernel/random/uuid)
echo migrated >"$root/etc/hostname"
echo "UUID=$uuid / ext4 errors=remount-ro 0 1" >"$root/etc/fstab"
printf '%s\n' 'auto lo' 'iface lo inet loopback' '' 'auto ens192' 'iface ens192 inet dhcp' \
    >"$root/etc/network/interfaces"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin

part=$tmp/part.img
truncate -s ${PART_MIB}M "$part"
mkfs.ext4 -q -F -U "$uuid" -L debian-root -d "$root" "$part"
disk=$tmp/disk.raw
truncate -s $((PART_MIB + 1))M "$disk"
echo "start=2048, type=83" | sfdisk -q "$disk"
dd if="$part" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
mv "$disk" "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
