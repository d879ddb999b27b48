#!/usr/bin/env bash
# Builds a Debian bookworm full disk as a VM migrated off vSphere would
# bring it, for the `boot: kernel` test of imported disks, and prints its
# path: an MBR, one ext4 partition with Debian minbase and systemd as init,
# /etc/fstab naming the root by UUID, a hostname (`migrated`), and ifupdown
# configured for a NIC this VM will not have (vSphere's `ens192`). No boot
# loader and no kernel: hype's kernel boots it.
#
# `build-debian-test-disk.sh sata` builds a disk a firmware boots instead,
# as a guest with no virtio driver in its boot path: Debian's generic
# kernel (`linux-image-amd64`, whose initramfs-tools image carries `ahci`
# and whose modules have `e1000`), on a FAT boot partition with syslinux
# (as scripts/build-test-disk.sh), `root=UUID=` on partition 2 and the
# kernel's messages on the serial console; cached as debian-sata-*.raw.
#
# Cached under ${HYPE_CACHE_DIR:-/var/cache/hype}/test-disk by the sha256 of
# this script and the systemd version apt would install; the first build
# takes a few minutes, mostly apt. No loop mount (`mkfs.ext4 -d`).
set -euo pipefail

MODE=${1:-kernel}
[[ $MODE == kernel || $MODE == sata ]] || { echo "usage: $0 [sata]" >&2; exit 2; }

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
BOOT_MIB=0
if [[ $MODE == sata ]]; then
    for t in syslinux mcopy mkfs.fat; do
        command -v "$t" >/dev/null || die "$t missing; run scripts/install-deps.sh"
    done
    MBR=/usr/lib/syslinux/mbr/mbr.bin
    [[ -f $MBR ]] || die "$MBR missing (Debian package syslinux-common)"
    kernel=$(apt-cache policy linux-image-amd64 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }')
    key=$( (echo "$key"; echo "$kernel") | sha256sum | cut -c1-16)
    out=$CACHE/test-disk/debian-sata-$key.raw
    PACKAGES+=(linux-image-amd64 initramfs-tools zstd)
    PART_MIB=1536
    BOOT_MIB=127
fi
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
find "$CACHE/test-disk" -name "$(basename "${out%-*}")-[0-9a-f]*.raw" -delete

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

if [[ $MODE == sata ]]; then
    # The boot partition: syslinux, the kernel and its initramfs (moved out
    # of the root, which the boot loader cannot read).
    boot=$tmp/boot.img
    truncate -s ${BOOT_MIB}M "$boot"
    mkfs.fat -F 16 -n DEBBOOT "$boot" >/dev/null
    printf '%s\n' 'SERIAL 0 115200' 'DEFAULT debian' 'PROMPT 0' 'TIMEOUT 0' 'LABEL debian' \
        '  KERNEL vmlinuz' '  INITRD initrd.img' \
        "  APPEND root=UUID=$uuid ro console=ttyS0 panic=-1" >"$tmp/syslinux.cfg"
    cp "$(ls "$root"/boot/vmlinuz-* | head -1)" "$tmp/vmlinuz"
    cp "$(ls "$root"/boot/initrd.img-* | head -1)" "$tmp/initrd.img"
    chroot "$root" sh -c 'lsinitramfs /boot/initrd.img-*' >"$tmp/initrd.list"
    grep -q '/ahci\.ko' "$tmp/initrd.list" || die "the initramfs has no ahci module"
    rm -f "$root"/boot/vmlinuz-* "$root"/boot/initrd.img-*
    mcopy -i "$boot" "$tmp/vmlinuz" "$tmp/initrd.img" "$tmp/syslinux.cfg" ::/
    syslinux --install "$boot"
fi

part=$tmp/part.img
truncate -s ${PART_MIB}M "$part"
mkfs.ext4 -q -F -U "$uuid" -L debian-root -d "$root" "$part"
disk=$tmp/disk.raw
truncate -s $((BOOT_MIB + PART_MIB + 1))M "$disk"
if [[ $MODE == sata ]]; then
    printf '%s\n' "start=2048, size=$((BOOT_MIB * 2048)), type=6, bootable" \
        "start=$(((BOOT_MIB + 1) * 2048)), type=83" | sfdisk -q "$disk"
    dd if="$MBR" of="$disk" bs=440 count=1 conv=notrunc status=none
    dd if="$boot" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
    dd if="$part" of="$disk" bs=1M seek=$((BOOT_MIB + 1)) conv=notrunc,sparse status=none
else
    echo "start=2048, type=83" | sfdisk -q "$disk"
    dd if="$part" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
fi
mv "$disk" "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
