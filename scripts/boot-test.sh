#!/usr/bin/env bash
# Boots the base image N times under QEMU (-M microvm) with the command line
# hyped uses, and checks each boot end to end: the agent's `ready` line, a
# ping, a shutdown, and QEMU exiting by itself.
#
# Usage: scripts/boot-test.sh [N]        (N defaults to 20)
#   HYPE_IMAGES_DIR  image root (default /var/lib/hype/images); uses base/
#   HYPE_ACCEL       tcg (default) or kvm
#   HYPE_KERNEL      vmlinux (default) or vmlinuz
#   HYPE_CPUS, HYPE_MEM_MB   default 1 and 256
#   HYPE_EXTRA_CMDLINE  appended to the kernel command line
#   HYPE_KEEP=1      keep each boot's directory (serial log) under /tmp
set -euo pipefail

N=${1:-20}
IMAGE=${HYPE_IMAGES_DIR:-/var/lib/hype/images}/base
ACCEL=${HYPE_ACCEL:-tcg}
KERNEL=$IMAGE/${HYPE_KERNEL:-vmlinux}
CPUS=${HYPE_CPUS:-1}
MEM_MB=${HYPE_MEM_MB:-256}
READY_TIMEOUT=60
EXIT_TIMEOUT=15

die() { echo "boot-test: error: $*" >&2; exit 1; }
[[ -f $KERNEL && -f $IMAGE/initramfs.img ]] || die "no image in $IMAGE (run scripts/build-images.sh)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
command -v python3 >/dev/null || die "python3 not found"

# The guest's PIT-based TSC calibration fails now and then under TCG
# ("tsc: Unable to calibrate against PIT") and the boot hangs; telling the
# kernel the frequency (and the delay-loop constant) skips calibration.
KHZ=$(awk -F: '/^cpu MHz/ { printf "%d\n", $2 * 1000 + 0.5; exit }' /proc/cpuinfo)
[[ -n $KHZ && $KHZ -gt 0 ]] || die "cannot read the host CPU frequency from /proc/cpuinfo"
# And, as hyped does on a host whose TSC is invariant, tsc=reliable: the
# guest's TSC is the host's, but its check between vCPUs fails under TCG and
# it would fall back to jiffies (a periodic tick, 4 ms clocks).
TSC_RELIABLE=
grep -qw constant_tsc /proc/cpuinfo && grep -qw nonstop_tsc /proc/cpuinfo && TSC_RELIABLE=" tsc=reliable"
CMDLINE="console=ttyS0 panic=-1 tsc_early_khz=$KHZ lpj=$((2 * KHZ))$TSC_RELIABLE hype.name=boot-test${HYPE_EXTRA_CMDLINE:+ $HYPE_EXTRA_CMDLINE}"

# Connects to the agent, waits for `ready`, pings, asks for shutdown.
# Prints "<seconds since $2> <uptime_ms> <init_ms>" on success.
read -r -d '' CLIENT <<'EOF' || true
import json, os, socket, sys, time
sock_path, t0, timeout = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
deadline = time.time() + timeout
while True:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)
        break
    except OSError:
        s.close()
        if time.time() > deadline:
            sys.exit("agent socket never accepted a connection")
        time.sleep(0.02)
f = s.makefile("rwb", buffering=0)
def expect(kind):
    while True:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            line = f.readline()
        except socket.timeout:
            sys.exit(f"timed out waiting for {kind}")
        if not line:
            sys.exit(f"connection closed while waiting for {kind}")
        msg = json.loads(line)
        if msg.get("type") == kind:
            return msg
ready = expect("ready")
t_ready = time.time() - t0
f.write(b'{"type":"hello"}\n'); expect("ready")
f.write(b'{"type":"ping","id":42}\n')
if expect("pong").get("id") != 42:
    sys.exit("pong with the wrong id")
f.write(b'{"type":"shutdown"}\n'); expect("shutting_down")
print(f"{t_ready:.3f} {ready['uptime_ms']} {ready['init_ms']}")
EOF

boot_once() {
    local dir=$1 start rc=0 result qpid
    # These are the flags hyped passes; see docs/images.md for the why.
    # shellcheck disable=SC2054 # the commas are QEMU's option syntax
    local args=(
        -M microvm -accel "$ACCEL" -smp "$CPUS" -m "$MEM_MB"
        -nodefaults -no-user-config -nographic -no-reboot
        -kernel "$KERNEL" -initrd "$IMAGE/initramfs.img" -append "$CMDLINE"
        -serial "file:$dir/serial.log"
        -chardev "socket,id=agent,path=$dir/agent.sock,server=on,wait=off"
        -device virtio-serial-device
        -device virtserialport,chardev=agent,name=hype.agent
        -qmp "unix:$dir/qmp.sock,server=on,wait=off"
    )
    [[ $ACCEL == kvm ]] && args+=(-cpu host)
    start=$(date +%s.%N)
    qemu-system-x86_64 "${args[@]}" >"$dir/qemu.out" 2>&1 &
    qpid=$!
    result=$(python3 -c "$CLIENT" "$dir/agent.sock" "$start" "$READY_TIMEOUT" 2>"$dir/client.err") || rc=1
    # QEMU must power off by itself after the shutdown.
    local waited=0
    while kill -0 "$qpid" 2>/dev/null && ((waited < EXIT_TIMEOUT * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$qpid" 2>/dev/null; then
        kill "$qpid" 2>/dev/null || true
        echo "QEMU did not exit" >>"$dir/client.err"
        rc=1
    fi
    wait "$qpid" 2>/dev/null || { echo "QEMU exited with $?" >>"$dir/client.err"; rc=1; }
    echo "$result"
    return "$rc"
}

echo "boot-test: $N boots of $KERNEL (accel=$ACCEL, cpus=$CPUS, mem=${MEM_MB}M)"
echo "boot-test: cmdline: $CMDLINE"
passed=0 failed=0
TIMES=() UPTIMES=()
for i in $(seq 1 "$N"); do
    dir=$(mktemp -d /tmp/hype-boot-test.XXXXXX)
    if out=$(boot_once "$dir"); then
        read -r t up init <<<"$out"
        printf 'boot %2d: ok    ready after %ss (guest uptime %s ms, agent %s ms)\n' "$i" "$t" "$up" "$init"
        passed=$((passed + 1))
        TIMES+=("$t") UPTIMES+=("$up")
        [[ ${HYPE_KEEP:-0} == 1 ]] || rm -rf "$dir"
    else
        printf 'boot %2d: FAIL  %s (logs in %s)\n' "$i" "$(tr '\n' ' ' <"$dir/client.err")" "$dir"
        grep -m3 -E 'tsc: Unable|Kernel panic|KVM internal error' "$dir/serial.log" "$dir/qemu.out" 2>/dev/null || true
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
if ((passed)); then
    printf '%s\n' "${TIMES[@]}" | sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "time to ready (wall, from QEMU start): min %.3fs  median %.3fs  max %.3fs\n", v[1], m, v[NR] }'
    printf '%s\n' "${UPTIMES[@]}" | sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "guest uptime at ready:              min %dms  median %dms  max %dms\n", v[1], m, v[NR] }'
fi
((failed == 0))
