#!/usr/bin/env bash
# Downloads the official static cloud-hypervisor release binaries that hype
# embeds, from the cloud-hypervisor project's GitHub releases, into
#   crates/hype-ch/binaries/cloud-hypervisor/<version>/<arch>/cloud-hypervisor
# (git-ignored). The next build of hype-ch embeds whatever is there.
#
# Usage: scripts/fetch-cloud-hypervisor.sh VERSION...   e.g. v48.0 v51.1 v53.0
#   HYPE_CH_ARCHES   space-separated subset of "x86_64 aarch64" (default both)
#   HYPE_CH_FORCE=1  download again even if the binary is already present
#
# It needs internet access to github.com and therefore CANNOT run on the
# project's build machines or in CI, which reach only package registries.
# Run it on a workstation with internet access; builds without the binaries
# still work (they embed nothing and hype must be given an external binary).
set -euo pipefail

die() { echo "fetch-cloud-hypervisor: error: $*" >&2; exit 1; }

[[ $# -ge 1 ]] || die "usage: $0 VERSION... (e.g. v48.0 v51.1 v53.0)"
command -v curl >/dev/null || die "curl not found"
command -v sha256sum >/dev/null || die "sha256sum not found"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=$ROOT/crates/hype-ch/binaries/cloud-hypervisor
RELEASES=https://github.com/cloud-hypervisor/cloud-hypervisor/releases/download
ARCHES=${HYPE_CH_ARCHES:-x86_64 aarch64}
HOST_ARCH=$(uname -m)

asset_for() {
  case $1 in
    x86_64) echo cloud-hypervisor-static ;;
    aarch64) echo cloud-hypervisor-static-aarch64 ;;
    *) die "unsupported arch $1 (x86_64 or aarch64)" ;;
  esac
}

for version in "$@"; do
  [[ $version =~ ^v[0-9]+\.[0-9]+$ ]] || die "version must look like v53.0, got '$version'"
  for arch in $ARCHES; do
    asset=$(asset_for "$arch")
    dir=$DEST/$version/$arch
    target=$dir/cloud-hypervisor
    if [[ -f $target && ${HYPE_CH_FORCE:-0} != 1 ]]; then
      echo "$version/$arch: already present ($(sha256sum "$target" | cut -d' ' -f1))"
      continue
    fi
    mkdir -p "$dir"
    tmp=$(mktemp "$dir/.download.XXXXXX")
    trap 'rm -f "$tmp"' EXIT
    echo "$version/$arch: downloading $asset"
    curl -fL --retry 3 --proto '=https' -o "$tmp" "$RELEASES/$version/$asset" \
      || die "download of $RELEASES/$version/$asset failed"
    # Catch an HTML error page or a truncated file before it gets embedded.
    head -c 4 "$tmp" | grep -q $'\x7fELF' || die "$version/$arch: $asset is not an ELF binary"
    chmod 0755 "$tmp"
    if [[ $arch == "$HOST_ARCH" ]]; then
      reported=$("$tmp" --version) || die "$version/$arch: --version failed"
      [[ $reported == "cloud-hypervisor $version"* ]] \
        || die "$version/$arch: binary reports '$reported', expected $version"
    fi
    mv -f "$tmp" "$target"
    trap - EXIT
    echo "$version/$arch: $(sha256sum "$target" | cut -d' ' -f1)  $target"
  done
done
