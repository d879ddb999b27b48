#!/usr/bin/env bash
# Builds hype's boot images from Debian packages only:
#   OUT_DIR/base/{vmlinuz,vmlinux,initramfs.img,manifest.json}
#   OUT_DIR/browser/{vmlinuz,vmlinux,initramfs.img,rootfs.ext4,manifest.json}
# The kernel is Debian's current cloud kernel; the initramfs holds hype-agent
# as /init plus the virtio modules it loads. Base's initramfs also has a small
# userland for execs: Debian's busybox-static as /bin/busybox with its applets,
# and root and hype accounts. The browser image adds a root filesystem with
# headless Chromium (scripts/build-browser-rootfs.sh), whose Debian userland
# serves execs there. Each image is rebuilt only when its inputs change
# (kernel .deb, agent binary, this script; for base also the busybox .deb; for
# the browser also the rootfs's own inputs).
#
# Usage: scripts/build-images.sh [OUT_DIR]
#   OUT_DIR         default ${HYPE_IMAGES_DIR:-/var/lib/hype/images}
#   HYPE_BROWSER_IMAGE=0  build only base
#   HYPE_CACHE_DIR  downloaded .debs and scratch space (default /var/cache/hype)
#   CARGO_TARGET_DIR  where the agent is built (default /var/cache/hype/target)
set -euo pipefail

OUT_DIR=${1:-${HYPE_IMAGES_DIR:-/var/lib/hype/images}}
CACHE_DIR=${HYPE_CACHE_DIR:-/var/cache/hype}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/hype/target}
SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
REPO_DIR=$(dirname "$(dirname "$SCRIPT")")
TARGET=x86_64-unknown-linux-gnu
KERNEL_META=linux-image-cloud-amd64
# What the guest needs beyond the built-in drivers; dependencies are added.
# virtio_mmio: QEMU -M microvm's devices (found through ACPI);
# virtio_pci: cloud-hypervisor's devices.
WANTED_MODULES=(virtio_mmio virtio_pci virtio_blk virtio_net virtio_console
    vsock vmw_vsock_virtio_transport virtio_rng)
# The browser image also mounts its rootfs under an overlay (ext4 is built
# into Debian's cloud kernel; overlayfs is a module).
BROWSER_MODULES=(overlay)
BUILD_BROWSER_IMAGE=$([[ ${HYPE_BROWSER_IMAGE:-1} == 0 ]] && echo 0 || echo 1)
ROOTFS_SCRIPT=$REPO_DIR/scripts/build-browser-rootfs.sh

log() { echo "build-images: $*" >&2; }
die() { echo "build-images: error: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (installs packages, creates device nodes)"

# --- tools -------------------------------------------------------------------
install_missing_tools() {
    local -A pkg_of=([dpkg-deb]=dpkg [lz4]=lz4 [cpio]=cpio
        [modinfo]=kmod [readelf]=binutils [strip]=binutils [file]=file
        [tsort]=coreutils [sha256sum]=coreutils [cc]=gcc)
    local missing=() tool
    for tool in "${!pkg_of[@]}"; do
        command -v "$tool" >/dev/null || missing+=("${pkg_of[$tool]}")
    done
    # Static linking of the agent needs glibc's libc.a.
    [[ -e /usr/lib/x86_64-linux-gnu/libc.a ]] || missing+=(libc6-dev)
    ((${#missing[@]})) || return 0
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing missing tools: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" ||
        { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
}
install_missing_tools
command -v cargo >/dev/null || die "cargo not found; install a Rust toolchain (rustup) first"

# --- agent -------------------------------------------------------------------
log "building hype-agent (static)"
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --quiet --release -p hype-agent --target "$TARGET" \
    --manifest-path "$REPO_DIR/Cargo.toml"
AGENT=$CARGO_TARGET_DIR/$TARGET/release/hype-agent
file -b "$AGENT" | grep -Eq 'static(-pie)? linked|statically linked' ||
    die "$AGENT is not statically linked: $(file -b "$AGENT")"

# --- kernel package ----------------------------------------------------------
kernel_pkg() {
    apt-cache depends "$KERNEL_META" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}
KPKG=$(kernel_pkg)
if [[ -z $KPKG ]]; then
    log "$KERNEL_META unknown to apt; running apt-get update"
    apt-get update -qq
    KPKG=$(kernel_pkg)
fi
[[ -n $KPKG ]] || die "cannot resolve the kernel package behind $KERNEL_META"
DEB_DIR=$CACHE_DIR/debs
mkdir -p "$DEB_DIR"

# fetch_deb PKG: downloads apt's candidate of PKG into DEB_DIR (unless a copy
# with apt's sha256 is there) and sets DEB_PATH, DEB_VERSION and DEB_SHA.
fetch_deb() {
    local pkg=$1 version sha_apt deb
    version=$(apt-cache show --no-all-versions "$pkg" | awk '/^Version:/ { print $2; exit }')
    sha_apt=$(apt-cache show --no-all-versions "$pkg" | awk '/^SHA256:/ { print $2; exit }')
    [[ -n $version ]] || die "apt has no candidate for $pkg"
    deb=$DEB_DIR/${pkg}_${version//:/%3a}_amd64.deb
    if [[ ! -s $deb ]] || [[ -n $sha_apt && $(sha256sum <"$deb" | cut -d' ' -f1) != "$sha_apt" ]]; then
        log "downloading $pkg $version"
        rm -f "$deb"
        # _apt cannot write into a root-only cache dir; download as root.
        (cd "$DEB_DIR" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$version")
    fi
    [[ -s $deb ]] || die "download of $pkg produced no $deb"
    DEB_SHA=$(sha256sum <"$deb" | cut -d' ' -f1)
    [[ -z $sha_apt || $DEB_SHA == "$sha_apt" ]] ||
        die "$deb: sha256 $DEB_SHA does not match apt's $sha_apt"
    DEB_PATH=$deb DEB_VERSION=$version
}
fetch_deb "$KPKG"
DEB=$DEB_PATH KERNEL_DEB_SHA=$DEB_SHA
# Base's userland for execs (sh, coreutils, tar, stty, sha256sum...): one
# static binary, so it needs no libraries in the initramfs.
BUSYBOX_PKG=busybox-static
apt-cache show "$BUSYBOX_PKG" >/dev/null 2>&1 || apt-get update -qq
fetch_deb "$BUSYBOX_PKG"
BUSYBOX_DEB=$DEB_PATH BUSYBOX_VERSION=$DEB_VERSION BUSYBOX_DEB_SHA=$DEB_SHA
# --- cache check ---------------------------------------------------------------
AGENT_SHA=$(sha256sum <"$AGENT" | cut -d' ' -f1)
SCRIPT_SHA=$(sha256sum <"$SCRIPT" | cut -d' ' -f1)
INPUTS=$(printf 'kernel-deb %s\nagent %s\nscript %s\n' \
    "$KERNEL_DEB_SHA" "$AGENT_SHA" "$SCRIPT_SHA" | sha256sum | cut -d' ' -f1)
# Only base carries busybox, so only base rebuilds when it changes.
BASE_INPUTS=$(printf 'common %s\nbusybox-deb %s %s\n' \
    "$INPUTS" "$BUSYBOX_VERSION" "$BUSYBOX_DEB_SHA" | sha256sum | cut -d' ' -f1)
# The browser's root filesystem has inputs of its own (packages, its script,
# the chromium version apt offers), so an agent or kernel change rebuilds
# only the browser's initramfs and keeps the rootfs.
ROOTFS_INPUTS=$("$ROOTFS_SCRIPT" --inputs)
BROWSER_INPUTS=$(printf 'base %s\nrootfs %s\n' "$INPUTS" "$ROOTFS_INPUTS" |
    sha256sum | cut -d' ' -f1)

# manifest_has NAME FIELD VALUE
manifest_has() {
    [[ -f $OUT_DIR/$1/manifest.json ]] &&
        grep -q "\"$2\": *\"$3\"" "$OUT_DIR/$1/manifest.json"
}
BUILD_BASE=1 BUILD_BROWSER=1
if manifest_has base inputs "$BASE_INPUTS"; then
    log "base image up to date ($OUT_DIR/base)"
    BUILD_BASE=0
fi
if ((BUILD_BROWSER_IMAGE)) && manifest_has browser inputs "$BROWSER_INPUTS"; then
    log "browser image up to date ($OUT_DIR/browser)"
    BUILD_BROWSER=0
fi
((BUILD_BROWSER_IMAGE)) || BUILD_BROWSER=0
((BUILD_BASE || BUILD_BROWSER)) || exit 0

# --- build ---------------------------------------------------------------------
mkdir -p "$OUT_DIR" "$CACHE_DIR"
WORK=$(mktemp -d "$CACHE_DIR/.build.XXXXXX")
STAGES=()
trap 'rm -rf "$WORK" "${STAGES[@]}"' EXIT

# new_stage NAME: an empty directory beside OUT_DIR/NAME, removed on failure.
new_stage() {
    local stage
    stage=$(mktemp -d "$OUT_DIR/.$1.tmp.XXXXXX")
    chmod 755 "$stage"
    STAGES+=("$stage")
    echo "$stage"
}

# Swaps a finished image in by renames: readers never see a half-written
# file, only (for an instant) no image directory. Running VMs keep their
# open files. install_image NAME STAGE
install_image() {
    local old
    if [[ -e $OUT_DIR/$1 ]]; then
        old=$(mktemp -d "$OUT_DIR/.$1.old.XXXXXX")
        mv "$OUT_DIR/$1" "$old/"
        mv "$2" "$OUT_DIR/$1"
        rm -rf "$old"
    else
        mv "$2" "$OUT_DIR/$1"
    fi
}

log "extracting $(basename "$DEB")"
dpkg-deb -x "$DEB" "$WORK/deb"
KMOD_DIRS=("$WORK"/deb/lib/modules/*)
[[ ${#KMOD_DIRS[@]} -eq 1 && -d ${KMOD_DIRS[0]} ]] || die "expected one kernel in $DEB"
KVER=$(basename "${KMOD_DIRS[0]}")
KMODS=${KMOD_DIRS[0]}
[[ -f $WORK/deb/boot/vmlinuz-$KVER ]] || die "no /boot/vmlinuz-$KVER in $DEB"

# extract_kernel STAGE: vmlinuz as shipped, and vmlinux from it.
extract_kernel() {
    local stage=$1 lz4_offset
    cp "$WORK/deb/boot/vmlinuz-$KVER" "$stage/vmlinuz"
    # cloud-hypervisor boots an ELF vmlinux through its PVH entry point;
    # Debian ships only the bzImage, whose payload is an LZ4 legacy frame.
    log "extracting vmlinux from the bzImage"
    lz4_offset=$(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$stage/vmlinuz" | head -n1 | cut -d: -f1)
    [[ -n $lz4_offset ]] || die "no LZ4 frame in vmlinuz (kernel not built with CONFIG_KERNEL_LZ4?)"
    # lz4 exits 1 on the bzImage's trailing bytes after the frame; the ELF
    # checks below are what proves the result.
    tail -c +"$((lz4_offset + 1))" "$stage/vmlinuz" | lz4 -dc >"$stage/vmlinux" 2>/dev/null || true
    readelf -h "$stage/vmlinux" 2>/dev/null | grep -q 'Type: *EXEC' ||
        die "decompressed vmlinux is not an ELF executable: $(file -b "$stage/vmlinux")"
    # XEN_ELFNOTE_PHYS32_ENTRY is note type 18; older binutils print it unnamed.
    readelf -n "$stage/vmlinux" | grep -Eq 'XEN_ELFNOTE_PHYS32_ENTRY|Xen .*\(0x00000012\)' ||
        die "vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"
}

# --- modules -------------------------------------------------------------------
declare -A MOD_PATH=()  # module name -> path relative to $KMODS
while IFS= read -r rel; do
    name=$(basename "$rel")
    name=${name%%.ko*}
    MOD_PATH[${name//-/_}]=$rel
done < <(cd "$KMODS" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
declare -A BUILTIN=()
while IFS= read -r rel; do
    name=$(basename "$rel" .ko)
    BUILTIN[${name//-/_}]=1
done <"$KMODS/modules.builtin"

declare -A SEEN=()
EDGES=()  # "dependency user" pairs for tsort
add_module() {
    local name=${1//-/_} dep
    [[ -z ${SEEN[$name]:-} ]] || return 0
    SEEN[$name]=1
    if [[ -n ${BUILTIN[$name]:-} ]]; then
        log "module $name is built into the kernel"
        return 0
    fi
    [[ -n ${MOD_PATH[$name]:-} ]] || die "module $name is neither built in nor in $DEB"
    EDGES+=("$name $name")
    local deps
    deps=$(modinfo -F depends "$KMODS/${MOD_PATH[$name]}")
    for dep in ${deps//,/ }; do
        add_module "$dep"
        EDGES+=("${dep//-/_} $name")
    done
}

# add_userland ROOT: busybox as /bin/busybox with a symlink for each applet
# at the path it would have (busybox --list-full), and the accounts an exec
# runs as: root, and the unprivileged hype (uid 1000), the default.
add_userland() {
    local root=$1 applet
    dpkg-deb -x "$BUSYBOX_DEB" "$WORK/busybox"
    [[ -x $WORK/busybox/bin/busybox ]] || die "no /bin/busybox in $BUSYBOX_DEB"
    file -b "$WORK/busybox/bin/busybox" | grep -Eq 'static(-pie)? linked|statically linked' ||
        die "busybox is not statically linked"
    install -D -m 755 "$WORK/busybox/bin/busybox" "$root/bin/busybox"
    while IFS= read -r applet; do
        # The initramfs's init is the agent, whatever busybox offers.
        case $applet in bin/busybox | linuxrc | sbin/init) continue ;; esac
        [[ -e $root/$applet ]] && continue
        mkdir -p "$root/$(dirname "$applet")"
        ln -s /bin/busybox "$root/$applet"
    done < <("$WORK/busybox/bin/busybox" --list-full)
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
        'hype:x:1000:1000:hype:/home/hype:/bin/sh' >"$root/etc/passwd"
    printf '%s\n' 'root:x:0:' 'hype:x:1000:' >"$root/etc/group"
    install -d -m 700 "$root/root"
    install -d -m 755 -o 1000 -g 1000 "$root/home/hype"
}

# make_initramfs OUT_FILE USERLAND MODULE...: hype-agent as /init plus the
# modules (and their dependencies) in load order; with USERLAND=1 also
# add_userland's.
make_initramfs() {
    local out=$1 userland=$2 root name rel plain dest
    shift 2
    SEEN=() EDGES=()
    for name in "$@"; do add_module "$name"; done
    local order
    mapfile -t order < <(printf '%s\n' "${EDGES[@]}" | tsort)

    root=$(mktemp -d "$WORK/initramfs.XXXXXX")
    mkdir -p "$root"/{dev,proc,sys,run,tmp,etc/hype,lib/modules/"$KVER"}
    chmod 755 "$root"
    chmod 1777 "$root/tmp"
    # The kernel opens /dev/console for PID 1's stdio before devtmpfs is mounted.
    mknod -m 600 "$root/dev/console" c 5 1
    mknod -m 666 "$root/dev/null" c 1 3
    {
        echo "# Load order for hype-agent, dependencies first (kernel $KVER)."
        for name in "${order[@]}"; do
            rel=${MOD_PATH[$name]}
            plain=${rel%.xz}; plain=${plain%.zst}; plain=${plain%.gz}
            dest=$root/lib/modules/$KVER/$plain
            mkdir -p "$(dirname "$dest")"
            # The guest's finit_module gets plain .ko files (6.1 cannot decompress).
            case $rel in
            *.xz) xz -dc "$KMODS/$rel" >"$dest" ;;
            *.zst) zstd -qdc "$KMODS/$rel" >"$dest" ;;
            *.gz) gzip -dc "$KMODS/$rel" >"$dest" ;;
            *) cp "$KMODS/$rel" "$dest" ;;
            esac
            echo "/lib/modules/$KVER/$plain"
        done
    } >"$root/etc/hype/modules.order"
    log "modules: ${order[*]}"

    install -m 755 "$AGENT" "$root/init"
    strip --strip-all "$root/init"
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost\n' >"$root/etc/hosts"
    : >"$root/etc/resolv.conf"
    if ((userland)); then add_userland "$root"; fi

    # Uncompressed: QEMU copies the initrd into guest memory as is, and under
    # TCG the guest decompressing a few MiB costs more than it saves. Owners
    # as they are (all root, built as root; /home/hype is hype's).
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc --reproducible) >"$out"
    # A whole number of pages (cpio ignores the zeros after its trailer).
    # QEMU's microvm puts the initrd at (top of RAM - size) rounded down
    # to a page, so an initrd of any other size covers RAM's last page,
    # where its firmware puts the ACPI tables: the guest then finds no
    # DSDT and hangs at "ACPI: Core revision" (QEMU 10, seen here).
    truncate -s %4096 "$out"
}

# total_size FILE...: the sum of their sizes in bytes.
total_size() {
    stat -c %s "$@" | awk '{ s += $1 } END { print s }'
}

# --- base ----------------------------------------------------------------------
if ((BUILD_BASE)); then
    STAGE=$(new_stage base)
    extract_kernel "$STAGE"
    make_initramfs "$STAGE/initramfs.img" 1 "${WANTED_MODULES[@]}"
    SIZE=$(total_size "$STAGE/vmlinuz" "$STAGE/vmlinux" "$STAGE/initramfs.img")
    cat >"$STAGE/manifest.json" <<EOF
{
  "name": "base",
  "kind": "kernel",
  "kernel_version": "$KVER",
  "vmlinuz": "vmlinuz",
  "vmlinux": "vmlinux",
  "initramfs": "initramfs.img",
  "rootfs": null,
  "inputs": "$BASE_INPUTS",
  "busybox_version": "$BUSYBOX_VERSION",
  "size_bytes": $SIZE,
  "built_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
    install_image base "$STAGE"
    log "built $OUT_DIR/base (kernel $KVER, $SIZE bytes)"
fi

# --- browser -------------------------------------------------------------------
if ((BUILD_BROWSER)); then
    STAGE=$(new_stage browser)
    # The same kernel as base, which was just checked or built from the
    # same .deb: hard links where the filesystem allows.
    for f in vmlinuz vmlinux; do
        ln "$OUT_DIR/base/$f" "$STAGE/$f" 2>/dev/null || cp "$OUT_DIR/base/$f" "$STAGE/$f"
    done
    make_initramfs "$STAGE/initramfs.img" 0 "${WANTED_MODULES[@]}" "${BROWSER_MODULES[@]}"
    if manifest_has browser rootfs_inputs "$ROOTFS_INPUTS" && [[ -f $OUT_DIR/browser/rootfs.ext4 ]]; then
        log "browser rootfs up to date; keeping it"
        ln "$OUT_DIR/browser/rootfs.ext4" "$STAGE/rootfs.ext4" 2>/dev/null ||
            cp --sparse=always "$OUT_DIR/browser/rootfs.ext4" "$STAGE/rootfs.ext4"
    else
        HYPE_CACHE_DIR=$CACHE_DIR "$ROOTFS_SCRIPT" "$STAGE/rootfs.ext4"
    fi
    SIZE=$(total_size "$STAGE/vmlinuz" "$STAGE/vmlinux" "$STAGE/initramfs.img" "$STAGE/rootfs.ext4")
    cat >"$STAGE/manifest.json" <<EOF
{
  "name": "browser",
  "kind": "rootfs",
  "kernel_version": "$KVER",
  "vmlinuz": "vmlinuz",
  "vmlinux": "vmlinux",
  "initramfs": "initramfs.img",
  "rootfs": "rootfs.ext4",
  "inputs": "$BROWSER_INPUTS",
  "rootfs_inputs": "$ROOTFS_INPUTS",
  "size_bytes": $SIZE,
  "built_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
    install_image browser "$STAGE"
    log "built $OUT_DIR/browser (kernel $KVER, $SIZE bytes)"
fi
