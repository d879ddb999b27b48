#!/usr/bin/env bash
# Builds the browser image's root filesystem: a minimal Debian bookworm with
# Chromium's headless shell, its fonts and an unprivileged `browser` user, as an ext4 image
# made with `mkfs.ext4 -d` (no loop mounts). hype-agent mounts it read-only
# under a tmpfs overlay, so nothing in it needs to be writable.
#
# Usage:
#   scripts/build-browser-rootfs.sh --inputs     print the cache key and exit
#   scripts/build-browser-rootfs.sh OUT_FILE     build the image into OUT_FILE
#   HYPE_CACHE_DIR  scratch space (default /var/cache/hype)
#
# The cache key covers what decides the contents: the package list, this
# script, and the chromium version apt would install today (security
# updates arrive through bookworm-security, so that version moves).
#
# The browser is `chromium-headless-shell` (Chromium's headless-only build,
# what Playwright runs for headless Chromium by default), not the whole
# browser in `--headless=new`: it has no browser UI, extensions or
# background services to start, and needs about a fifth of the CPU to
# answer CDP (measured on this host: 0.06 s against 0.33 s, and 0.17 s
# against 1.3 s over its first 3 s), which under TCG is most of a cold
# sandbox's start.
set -euo pipefail

CACHE_DIR=${HYPE_CACHE_DIR:-/var/cache/hype}
SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
SUITE=bookworm
# --no-install-recommends keeps Chromium's dependencies to what it links.
PACKAGES=(chromium-headless-shell fonts-liberation fonts-noto-core fonts-noto-color-emoji
    fonts-noto-cjk ca-certificates)
BROWSER_UID=1000

log() { echo "build-browser-rootfs: $*" >&2; }
die() { echo "build-browser-rootfs: error: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (mmdebstrap, file ownership in the image)"
[[ $# -eq 1 ]] || die "usage: $0 --inputs | OUT_FILE"

chromium_candidate() {
    apt-cache policy chromium-headless-shell 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }'
}
CHROMIUM_VERSION=$(chromium_candidate)
if [[ -z $CHROMIUM_VERSION || $CHROMIUM_VERSION == "(none)" ]]; then
    log "chromium-headless-shell unknown to apt; running apt-get update"
    apt-get update -qq
    CHROMIUM_VERSION=$(chromium_candidate)
fi
[[ -n $CHROMIUM_VERSION && $CHROMIUM_VERSION != "(none)" ]] ||
    die "apt has no candidate for chromium-headless-shell (is bookworm-security in the sources?)"

INPUTS=$(printf 'packages %s\nscript %s\nchromium %s\n' "${PACKAGES[*]}" \
    "$(sha256sum <"$SCRIPT" | cut -d' ' -f1)" "$CHROMIUM_VERSION" |
    sha256sum | cut -d' ' -f1)
if [[ $1 == --inputs ]]; then
    echo "$INPUTS"
    exit 0
fi
OUT=$1

# The machine's own apt sources, as they are: mmdebstrap pastes an existing
# file into the chroot's sources (deb822 included), so whatever mirror and
# suites (bookworm-security among them) this host uses, the image uses too.
SOURCES=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -s $f ]] && grep -Eq '^[[:space:]]*(deb |Types:)' "$f" && SOURCES+=("$f")
done
((${#SOURCES[@]})) || die "no apt sources found in /etc/apt"
command -v mmdebstrap >/dev/null || {
    log "installing mmdebstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap
}
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found (apt-get install e2fsprogs)"

mkdir -p "$CACHE_DIR"
WORK=$(mktemp -d "$CACHE_DIR/.rootfs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root

log "mmdebstrap $SUITE: ${PACKAGES[*]} (chromium $CHROMIUM_VERSION)"
# path-exclude keeps documentation and translations from ever being
# unpacked; copyright files stay, as Debian asks. Mesa's DRI drivers and the
# LLVM they link (about 450 MB) come in through Chromium's dependencies but
# are never loaded: with --disable-gpu, Chromium renders in software with
# its own SwiftShader (Vulkan's validation layer is a debugging aid). Of
# the CJK fonts only the sans faces stay (serif CJK text falls back to
# them), which halves fonts-noto-cjk's 91 MB.
mmdebstrap --variant=minbase --mode=root \
    --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/lib/chromium/locales/*' \
    --dpkgopt='path-include=/usr/lib/chromium/locales/en-US.pak' \
    --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/dri/*' \
    --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/libLLVM-*' \
    --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/libz3.so*' \
    --dpkgopt='path-exclude=/usr/lib/chromium/libVkLayer_khronos_validation.so' \
    --dpkgopt='path-exclude=/usr/share/fonts/opentype/noto/NotoSerifCJK-*' \
    --customize-hook="chroot \"\$1\" useradd --uid $BROWSER_UID --user-group --create-home --shell /usr/sbin/nologin browser" \
    "$SUITE" "$ROOT" "${SOURCES[@]}"

log "trimming"
# What mmdebstrap's cleanup leaves that a read-only browser root never reads.
# Headless Chromium draws no GTK widgets, so GTK's icon theme goes too (after
# installing: its postinst registers a file in it).
rm -rf "$ROOT"/usr/share/icons/Adwaita \ "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/cache/debconf/*-old \
    "$ROOT"/var/log/* "$ROOT"/usr/share/common-licenses "$ROOT"/usr/share/lintian \
    "$ROOT"/usr/share/bug "$ROOT"/usr/share/menu
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost\n' >"$ROOT/etc/hosts"
: >"$ROOT/etc/resolv.conf"
mkdir -p "$ROOT"/{proc,sys,dev,run,tmp}
chmod 1777 "$ROOT/tmp"
SHELL_BIN=/usr/lib/chromium/chromium-headless-shell
[[ -x $ROOT$SHELL_BIN ]] || die "no $SHELL_BIN in the root"
# The excludes above must not have taken a library Chromium links.
if chroot "$ROOT" ldd "$SHELL_BIN" | grep -q 'not found'; then
    die "chromium misses libraries: $(chroot "$ROOT" ldd "$SHELL_BIN" | grep 'not found' | tr '\n' ' ')"
fi

# Sized to fit: the tree's blocks plus 10% and 16 MiB for metadata; no
# journal (it is never mounted writable) and no reserved blocks.
USED_KIB=$(du -s --block-size=1K "$ROOT" | cut -f1)
FILES=$(find "$ROOT" -xdev | wc -l)
SIZE_KIB=$((USED_KIB * 11 / 10 + 16384))
INODES=$((FILES + FILES / 5 + 1024))
log "making ext4: ${USED_KIB} KiB in $FILES files -> ${SIZE_KIB} KiB image"
rm -f "$WORK/rootfs.ext4"
mkfs.ext4 -q -F -L hype-browser -O ^has_journal -m 0 -N "$INODES" \
    -d "$ROOT" "$WORK/rootfs.ext4" "${SIZE_KIB}k"
mv "$WORK/rootfs.ext4" "$OUT"
log "built $OUT ($(stat -c %s "$OUT") bytes, chromium $CHROMIUM_VERSION)"
