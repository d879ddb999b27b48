#!/usr/bin/env bash
# Builds a tiny BIOS-bootable full-disk image for the tests of imported
# disks, and prints its path. Cached under ${HYPE_CACHE_DIR:-/var/cache/hype}/test-disk
# by the sha256 of its inputs, so only the first run builds it (about 1 s).
#
# Layout (64 MiB, sparse raw): an MBR with syslinux's boot code; partition 1
# (active, FAT16, 31 MiB) holds syslinux, Debian's kernel from the base image
# and a busybox initramfs. Its /init prints `HYPE_TEST_DISK: booted`, reads
# the mark a previous boot left in sector 100 of the disk, writes a new one
# (so a test can see the VM's writes persist in its own overlay while the
# imported image stays unchanged), and powers off on the ACPI power button.
# It also prints the block devices it sees (`HYPE_TEST_DISK: disks: vda
# vdb`) and the PCI devices (`pci: 8086:100e ...`), so a test can check
# every disk of an image is attached, in order, on the bus it asked for:
# besides virtio it loads the cloud kernel's IDE (ata_piix) and SCSI disk
# drivers and virtio-scsi (the cloud kernel has no AHCI driver).
# Partition 2 (ext4, 32 MiB) is a root filesystem for `boot: kernel`, where
# hype's kernel and agent start its init: busybox init, whose rcS prints
# `HYPE_TEST_DISK: init from the root partition`, keeps its mark in
# /var/lib/hype-test/mark, and whose shutdown action prints a line, so a
# test can tell a clean shutdown by the guest's init from a power cut.
# No loop mount: syslinux, mtools and `mkfs.ext4 -d` work on image files.
#
# `build-test-disk.sh uefi` builds the UEFI variant instead (cached as
# uefi-*.raw beside it): a GPT disk whose only partition is an EFI system
# partition (FAT) holding EFI/BOOT/BOOTX64.EFI, a unified kernel image made
# with objcopy from systemd's EFI stub, the same kernel and the same busybox
# initramfs, and the command line `console=ttyS0 panic=-1 quiet`.
set -euo pipefail

MODE=${1:-bios}
[[ $MODE == bios || $MODE == uefi ]] || { echo "usage: $0 [uefi]" >&2; exit 2; }
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub

IMAGES=${HYPE_IMAGES_DIR:-/var/lib/hype/images}
CACHE=${HYPE_CACHE_DIR:-/var/cache/hype}
BASE=$IMAGES/base
SIZE_MIB=64
PART_START=2048 # sectors
ROOT_START=$((32 * 2048)) # sectors: partition 2, the root filesystem

die() { echo "build-test-disk: $*" >&2; exit 1; }
for t in syslinux mcopy mkfs.fat mkfs.ext4 sfdisk busybox cpio dpkg-deb; do
    command -v "$t" >/dev/null || die "$t missing; run scripts/install-deps.sh"
done
[[ -f $BASE/vmlinuz && -f $BASE/initramfs.img && -f $BASE/manifest.json ]] ||
    die "no base image in $BASE; run scripts/build-images.sh"
kver=$(sed -n 's/.*"kernel_version": *"\([^"]*\)".*/\1/p' "$BASE/manifest.json")
[[ -n $kver ]] || die "no kernel_version in $BASE/manifest.json"
deb=$(ls "$CACHE"/debs/linux-image-"$kver"_*.deb 2>/dev/null | head -1)
[[ -f $deb ]] || die "the kernel package for $kver is not in $CACHE/debs; run scripts/build-images.sh"
MBR=/usr/lib/syslinux/mbr/mbr.bin
[[ -f $MBR ]] || die "$MBR missing (Debian package syslinux-common)"
if [[ $MODE == uefi ]]; then
    [[ -f $STUB ]] || die "$STUB missing (Debian package systemd-boot-efi)"
    for t in objcopy objdump mmd; do
        command -v "$t" >/dev/null || die "$t missing; run scripts/install-deps.sh"
    done
fi

key=$(cat "$BASE/vmlinuz" "$BASE/initramfs.img" "$deb" "$(command -v busybox)" "$MBR" \
    "$(command -v syslinux)" "$0" | sha256sum | cut -c1-16)
out=$CACHE/test-disk/boot-$key.raw
if [[ $MODE == uefi ]]; then
    key=$(cat <(echo "$key") "$STUB" "$(command -v objcopy)" | sha256sum | cut -c1-16)
    out=$CACHE/test-disk/uefi-$key.raw
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
# Older builds are stale once an input changed.
find "$CACHE/test-disk" -name "$(basename "${out%-*}")-*.raw" -delete

# The UEFI disk from the initramfs in $1, moved to $2 when complete.
build_uefi() {
    local tmp=$1 out=$2
    # The unified kernel image: the stub finds the kernel, initramfs and
    # command line in PE sections of its own, placed past the stub's image
    # (and each other) at 2 MiB-aligned addresses.
    printf 'console=ttyS0 panic=-1 quiet' >"$tmp/cmdline"
    printf 'NAME="hype test disk"\nID=hype-test\n' >"$tmp/os-release"
    local end args=() sec file
    end=$(objdump -p "$STUB" | awk '$1 == "SizeOfImage" {print $2}')
    [[ -n $end ]] || die "cannot read SizeOfImage of $STUB"
    end=$((16#$end))
    for sec in osrel:os-release cmdline:cmdline linux:"$BASE/vmlinuz" initrd:initrd.img; do
        file=${sec#*:}
        [[ $file == /* ]] || file=$tmp/$file
        end=$(((end + 0x1fffff) / 0x200000 * 0x200000))
        args+=(--add-section ".${sec%%:*}=$file" --change-section-vma ".${sec%%:*}=$(printf '0x%x' "$end")")
        end=$((end + $(stat -c %s "$file")))
    done
    objcopy "${args[@]}" "$STUB" "$tmp/BOOTX64.EFI"

    # The EFI system partition, made as its own file and copied in.
    local esp=$tmp/esp.img esp_sectors=$((SIZE_MIB * 2048 - PART_START - 33))
    truncate -s $((esp_sectors * 512)) "$esp"
    mkfs.fat -F 16 -n HYPEEFI "$esp" >/dev/null
    mmd -i "$esp" ::/EFI ::/EFI/BOOT
    mcopy -i "$esp" "$tmp/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

    local disk=$tmp/disk.raw
    truncate -s ${SIZE_MIB}M "$disk"
    printf 'label: gpt\nstart=%s, size=%s, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"\n' \
        "$PART_START" "$esp_sectors" | sfdisk -q "$disk"
    dd if="$esp" of="$disk" bs=1M seek=$((PART_START * 512 / 1048576)) conv=notrunc,sparse status=none
    mv "$disk" "$out.tmp"
    mv "$out.tmp" "$out"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The initramfs: busybox, the virtio modules from the base image, and the
# ACPI button and disk drivers (modules in Debian's cloud kernel) from the
# .deb, in dependency order.
root=$tmp/root
mkdir -p "$root"/{bin,dev,proc,sys,etc}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh mount insmod dd sleep cat sync poweroff tr head; do ln -s busybox "$root/bin/$a"; done
(cd "$root" && cpio -id --quiet 'lib/modules/*' 'etc/hype/modules.order' <"$BASE/initramfs.img")
kmods="acpi/button scsi/scsi_common scsi/scsi_mod ata/libata ata/ata_piix scsi/sd_mod scsi/virtio_scsi"
paths=()
for m in $kmods; do paths+=("./lib/modules/$kver/kernel/drivers/$m.ko"); done
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" "${paths[@]}"
for m in $kmods; do echo "/lib/modules/$kver/kernel/drivers/$m.ko"; done >"$root/etc/disk-modules"
cat >"$root/init" <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "HYPE_TEST_DISK: booted from the imported disk"
for m in $(grep -v '^#' /etc/hype/modules.order) $(cat /etc/disk-modules); do
    insmod "$m" 2>/dev/null
done
# The boot disk is the first on virtio-blk or on IDE/SCSI; the others are
# probed with it (SCSI scans are asynchronous: give them a moment).
n=0
while [ ! -b /dev/vda ] && [ ! -b /dev/sda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
sleep 1
disk=
[ -b /dev/sda ] && disk=/dev/sda
[ -b /dev/vda ] && disk=/dev/vda
disks=
for b in /sys/block/*; do
    case ${b##*/} in loop* | ram* | '*') ;; *) disks="$disks ${b##*/}" ;; esac
done
echo "HYPE_TEST_DISK: disks:$disks"
pci=
for d in /sys/bus/pci/devices/*; do
    read -r v <"$d/vendor" && read -r i <"$d/device" && pci="$pci ${v#0x}:${i#0x}"
done
echo "HYPE_TEST_DISK: pci:$pci"
if [ -n "$disk" ]; then
    prev=$(dd if=$disk bs=512 skip=100 count=1 2>/dev/null | tr -d '\000' | head -c 64)
    echo "HYPE_TEST_DISK: previous mark: ${prev:-none}"
    mark="mark-$(cat /proc/sys/kernel/random/uuid)"
    printf '%s' "$mark" | dd of=$disk bs=512 seek=100 conv=notrunc,sync 2>/dev/null
    sync
else
    mark="no disk"
fi
# The button count is taken before the mark is announced: a test presses
# the button as soon as it sees the mark, and that press must count.
pwr=/sys/firmware/acpi/interrupts/ff_pwr_btn
read -r first _ <"$pwr"
echo "HYPE_TEST_DISK: wrote mark: $mark"
while read -r now _ <"$pwr" && [ "$now" = "$first" ]; do sleep 0.2; done
echo "HYPE_TEST_DISK: power button, powering off"
sync
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$tmp/initrd.img"

if [[ $MODE == uefi ]]; then
    build_uefi "$tmp" "$out"
    echo "$out"
    exit 0
fi

# The boot partition, made as its own file and copied in at its offset.
part=$tmp/part.img
part_sectors=$((ROOT_START - PART_START))
truncate -s $((part_sectors * 512)) "$part"
mkfs.fat -F 16 -n HYPETEST "$part" >/dev/null
cat >"$tmp/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT hype
PROMPT 0
TIMEOUT 0
LABEL hype
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND console=ttyS0 panic=-1 quiet
EOF
mcopy -i "$part" "$BASE/vmlinuz" "$tmp/initrd.img" "$tmp/syslinux.cfg" ::/
syslinux --install "$part"

# The root filesystem of partition 2: busybox as init and shell.
sysroot=$tmp/sysroot
mkdir -p "$sysroot"/{bin,sbin,etc,proc,sys,dev,run,tmp,var/lib/hype-test}
cp "$(command -v busybox)" "$sysroot/bin/busybox"
for a in sh cat echo mkdir sync sleep uname mount; do ln -s busybox "$sysroot/bin/$a"; done
ln -s ../bin/busybox "$sysroot/sbin/init"
ln -s ../bin/busybox "$sysroot/sbin/poweroff"
printf '%s\n' 'NAME="hype test disk"' 'ID=hype-test' >"$sysroot/etc/os-release"
printf '%s\n' '::sysinit:/etc/rcS' '::shutdown:/etc/rc.shutdown' >"$sysroot/etc/inittab"
cat >"$sysroot/etc/rcS" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin
echo "HYPE_TEST_DISK: init from the root partition: pid1=$(cat /proc/1/comm) kernel=$(uname -r)"
prev=$(cat /var/lib/hype-test/mark 2>/dev/null)
echo "HYPE_TEST_DISK: previous mark: ${prev:-none}"
mark="mark-$(cat /proc/sys/kernel/random/uuid)"
echo "$mark" >/var/lib/hype-test/mark
sync
echo "HYPE_TEST_DISK: wrote mark: $mark"
EOF
cat >"$sysroot/etc/rc.shutdown" <<'EOF'
#!/bin/sh
sync
echo "HYPE_TEST_DISK: init shutting down"
EOF
chmod +x "$sysroot/etc/rcS" "$sysroot/etc/rc.shutdown"
rootpart=$tmp/root.img
truncate -s $(((SIZE_MIB * 2048 - ROOT_START) * 512)) "$rootpart"
mkfs.ext4 -q -F -L hypetestroot -d "$sysroot" "$rootpart"

disk=$tmp/disk.raw
truncate -s ${SIZE_MIB}M "$disk"
printf '%s\n' "start=$PART_START, size=$((ROOT_START - PART_START)), type=6, bootable" \
    "start=$ROOT_START, type=83" | sfdisk -q "$disk"
dd if="$MBR" of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$part" of="$disk" bs=1M seek=$((PART_START * 512 / 1048576)) conv=notrunc,sparse status=none
dd if="$rootpart" of="$disk" bs=1M seek=$((ROOT_START * 512 / 1048576)) conv=notrunc,sparse status=none
mv "$disk" "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
