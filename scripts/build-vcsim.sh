#!/usr/bin/env bash
# Builds tests/vsphere/vcsim (govmomi's vCenter simulator with ExportVm, for
# hype-vsphere's tests and benchmark) from Debian's Go packages: offline,
# GOPATH mode, output outside the clone. Rebuilds only when a source file is
# newer than the binary. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${HYPE_VCSIM_BIN:-/var/cache/hype/vcsim-hype}
src=tests/vsphere/vcsim
gocode=/usr/share/gocode
if ! command -v go >/dev/null || [[ ! -d $gocode/src/github.com/vmware/govmomi/simulator ]]; then
    echo "build-vcsim: golang-go or golang-github-vmware-govmomi-dev is missing; run scripts/install-deps.sh (as root)" >&2
    exit 1
fi
if [[ -x $out && -z $(find "$src" -name '*.go' -newer "$out") ]]; then
    echo "$out"
    exit 0
fi
mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
GOPATH=$gocode GO111MODULE=off GOFLAGS= GOCACHE=${GOCACHE:-$(dirname "$out")/go-build} \
    go build -o "$tmp" "./$src"
mv -f "$tmp" "$out"
echo "$out"
