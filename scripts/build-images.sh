#!/usr/bin/env bash
# Builds hype's base boot image from Debian packages only:
#   OUT_DIR/base/{vmlinuz,vmlinux,initramfs.img,manifest.json}
# The kernel is Debian's current cloud kernel; the initramfs holds hype-agent
# as /init plus the virtio modules it loads. The image is rebuilt only when
# its inputs change (kernel .deb, agent binary, this script).
#
# Usage: scripts/build-images.sh [OUT_DIR]
#   OUT_DIR         default ${HYPE_IMAGES_DIR:-/var/lib/hype/images}
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
KVER_PKG=$(apt-cache show --no-all-versions "$KPKG" | awk '/^Version:/ { print $2; exit }')
KSHA_APT=$(apt-cache show --no-all-versions "$KPKG" | awk '/^SHA256:/ { print $2; exit }')
DEB_DIR=$CACHE_DIR/debs
DEB=$DEB_DIR/${KPKG}_${KVER_PKG//:/%3a}_amd64.deb
mkdir -p "$DEB_DIR"
if [[ ! -s $DEB ]] || [[ -n $KSHA_APT && $(sha256sum <"$DEB" | cut -d' ' -f1) != "$KSHA_APT" ]]; then
    log "downloading $KPKG $KVER_PKG"
    rm -f "$DEB"
    # _apt cannot write into a root-only cache dir; download as root.
    (cd "$DEB_DIR" && apt-get download -q -o APT::Sandbox::User=root "$KPKG=$KVER_PKG")
fi
[[ -s $DEB ]] || die "download of $KPKG produced no $DEB"
KERNEL_DEB_SHA=$(sha256sum <"$DEB" | cut -d' ' -f1)
[[ -z $KSHA_APT || $KERNEL_DEB_SHA == "$KSHA_APT" ]] ||
    die "$DEB: sha256 $KERNEL_DEB_SHA does not match apt's $KSHA_APT"

# --- cache check ---------------------------------------------------------------
AGENT_SHA=$(sha256sum <"$AGENT" | cut -d' ' -f1)
SCRIPT_SHA=$(sha256sum <"$SCRIPT" | cut -d' ' -f1)
INPUTS=$(printf 'kernel-deb %s\nagent %s\nscript %s\n' \
    "$KERNEL_DEB_SHA" "$AGENT_SHA" "$SCRIPT_SHA" | sha256sum | cut -d' ' -f1)
MANIFEST=$OUT_DIR/base/manifest.json
if [[ -f $MANIFEST ]] && grep -q "\"inputs\": *\"$INPUTS\"" "$MANIFEST"; then
    log "base image up to date ($OUT_DIR/base)"
    exit 0
fi

# --- build ---------------------------------------------------------------------
mkdir -p "$OUT_DIR" "$CACHE_DIR"
STAGE=$(mktemp -d "$OUT_DIR/.base.tmp.XXXXXX")
WORK=$(mktemp -d "$CACHE_DIR/.build.XXXXXX")
trap 'rm -rf "$STAGE" "$WORK"' EXIT
chmod 755 "$STAGE"

log "extracting $(basename "$DEB")"
dpkg-deb -x "$DEB" "$WORK/deb"
KMOD_DIRS=("$WORK"/deb/lib/modules/*)
[[ ${#KMOD_DIRS[@]} -eq 1 && -d ${KMOD_DIRS[0]} ]] || die "expected one kernel in $DEB"
KVER=$(basename "${KMOD_DIRS[0]}")
KMODS=${KMOD_DIRS[0]}
[[ -f $WORK/deb/boot/vmlinuz-$KVER ]] || die "no /boot/vmlinuz-$KVER in $DEB"
cp "$WORK/deb/boot/vmlinuz-$KVER" "$STAGE/vmlinuz"

# cloud-hypervisor boots an ELF vmlinux through its PVH entry point; Debian
# ships only the bzImage, whose payload is an LZ4 legacy frame.
log "extracting vmlinux from the bzImage"
LZ4_OFFSET=$(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$STAGE/vmlinuz" | head -n1 | cut -d: -f1)
[[ -n $LZ4_OFFSET ]] || die "no LZ4 frame in vmlinuz (kernel not built with CONFIG_KERNEL_LZ4?)"
# lz4 exits 1 on the bzImage's trailing bytes after the frame; the ELF
# checks below are what proves the result.
tail -c +"$((LZ4_OFFSET + 1))" "$STAGE/vmlinuz" | lz4 -dc >"$STAGE/vmlinux" 2>/dev/null || true
readelf -h "$STAGE/vmlinux" 2>/dev/null | grep -q 'Type: *EXEC' ||
    die "decompressed vmlinux is not an ELF executable: $(file -b "$STAGE/vmlinux")"
# XEN_ELFNOTE_PHYS32_ENTRY is note type 18; older binutils print it unnamed.
readelf -n "$STAGE/vmlinux" | grep -Eq 'XEN_ELFNOTE_PHYS32_ENTRY|Xen .*\(0x00000012\)' ||
    die "vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"

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
for m in "${WANTED_MODULES[@]}"; do add_module "$m"; done
mapfile -t ORDER < <(printf '%s\n' "${EDGES[@]}" | tsort)

ROOT=$WORK/initramfs
mkdir -p "$ROOT"/{dev,proc,sys,run,tmp,etc/hype,lib/modules/"$KVER"}
chmod 1777 "$ROOT/tmp"
# The kernel opens /dev/console for PID 1's stdio before devtmpfs is mounted.
mknod -m 600 "$ROOT/dev/console" c 5 1
mknod -m 666 "$ROOT/dev/null" c 1 3
{
    echo "# Load order for hype-agent, dependencies first (kernel $KVER)."
    for name in "${ORDER[@]}"; do
        rel=${MOD_PATH[$name]}
        plain=${rel%.xz}; plain=${plain%.zst}; plain=${plain%.gz}
        dest=$ROOT/lib/modules/$KVER/$plain
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
} >"$ROOT/etc/hype/modules.order"
log "modules: ${ORDER[*]}"

install -m 755 "$AGENT" "$ROOT/init"
strip --strip-all "$ROOT/init"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost\n' >"$ROOT/etc/hosts"
: >"$ROOT/etc/resolv.conf"

# Uncompressed: QEMU copies the initrd into guest memory as is, and under TCG
# the guest decompressing a few MiB costs more than it saves.
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc --reproducible -R 0:0) >"$STAGE/initramfs.img"

SIZE=$(stat -c %s "$STAGE/vmlinuz" "$STAGE/vmlinux" "$STAGE/initramfs.img" | awk '{ s += $1 } END { print s }')
cat >"$STAGE/manifest.json" <<EOF
{
  "name": "base",
  "kind": "kernel",
  "kernel_version": "$KVER",
  "vmlinuz": "vmlinuz",
  "vmlinux": "vmlinux",
  "initramfs": "initramfs.img",
  "rootfs": null,
  "inputs": "$INPUTS",
  "size_bytes": $SIZE,
  "built_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF

# Swap the finished image in by renames: readers never see a half-written
# file, only (for an instant) no base directory. Running VMs keep their open
# files.
if [[ -e $OUT_DIR/base ]]; then
    OLD=$(mktemp -d "$OUT_DIR/.base.old.XXXXXX")
    mv "$OUT_DIR/base" "$OLD/"
    mv "$STAGE" "$OUT_DIR/base"
    rm -rf "$OLD"
else
    mv "$STAGE" "$OUT_DIR/base"
fi
log "built $OUT_DIR/base (kernel $KVER, $SIZE bytes)"
