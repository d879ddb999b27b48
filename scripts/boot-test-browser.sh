#!/usr/bin/env bash
# Boots the browser image once under QEMU (-M microvm) with its rootfs disk
# and a user-mode NIC, and checks it end to end: the agent's `ready` (which
# waits for Chromium), Chromium's /json/version through the guest's CDP
# relay on port 9222, optionally one page load driven by Playwright, then a
# shutdown and QEMU exiting by itself.
#
# Usage: scripts/boot-test-browser.sh
#   HYPE_IMAGES_DIR  image root (default /var/lib/hype/images); uses browser/
#   HYPE_ACCEL       tcg (default) or kvm
#   HYPE_CPUS, HYPE_MEM_MB   default 2 and 1024
#   HYPE_CDP_PORT    host port forwarded to the guest's 9222 (default 19222)
#   HYPE_PLAYWRIGHT_DIR  a directory with node_modules/playwright-core; if
#                    set, connectOverCDP loads a data: URL and reads its title
#   HYPE_KEEP=1      keep the boot's directory (serial log) under /tmp
set -euo pipefail

IMAGE=${HYPE_IMAGES_DIR:-/var/lib/hype/images}/browser
ACCEL=${HYPE_ACCEL:-tcg}
CPUS=${HYPE_CPUS:-2}
MEM_MB=${HYPE_MEM_MB:-1024}
PORT=${HYPE_CDP_PORT:-19222}
READY_TIMEOUT=400
EXIT_TIMEOUT=20

die() { echo "boot-test-browser: error: $*" >&2; exit 1; }
for f in vmlinux initramfs.img rootfs.ext4; do
    [[ -f $IMAGE/$f ]] || die "no $IMAGE/$f (run scripts/build-images.sh)"
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
command -v python3 >/dev/null || die "python3 not found"
command -v curl >/dev/null || die "curl not found"

# See boot-test.sh: skips the TSC calibration that hangs now and then under TCG,
# and keeps the guest on its TSC rather than jiffies.
KHZ=$(awk -F: '/^cpu MHz/ { printf "%d\n", $2 * 1000 + 0.5; exit }' /proc/cpuinfo)
[[ -n $KHZ && $KHZ -gt 0 ]] || die "cannot read the host CPU frequency from /proc/cpuinfo"
TSC_RELIABLE=
grep -qw constant_tsc /proc/cpuinfo && grep -qw nonstop_tsc /proc/cpuinfo && TSC_RELIABLE=" tsc=reliable"
CMDLINE="console=ttyS0 panic=-1 tsc_early_khz=$KHZ lpj=$((2 * KHZ))$TSC_RELIABLE hype.name=browser-test"
CMDLINE+=" hype.rootfs=/dev/vda hype.ip=10.0.2.15/24 hype.gw=10.0.2.2"

# Waits for `ready` (printing "<seconds since $2> <uptime_ms>"), then for a
# line on stdin, then asks for shutdown.
read -r -d '' CLIENT <<'EOF' || true
import json, socket, sys, time
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
        time.sleep(0.05)
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
        if msg.get("type") == "notice":
            print(f"notice: {msg['message']}", file=sys.stderr)
        if msg.get("type") == kind:
            return msg
ready = expect("ready")
print(f"{time.time() - t0:.3f} {ready['uptime_ms']}", flush=True)
sys.stdin.readline()
f.write(b'{"type":"shutdown"}\n'); expect("shutting_down")
EOF

read -r -d '' PLAYWRIGHT <<'EOF' || true
const { chromium } = require('playwright-core');
(async () => {
  const browser = await chromium.connectOverCDP(process.env.CDP_URL);
  const context = browser.contexts()[0] || await browser.newContext();
  const page = await context.newPage();
  await page.goto('data:text/html,<title>hi</title>');
  console.log(await page.title());
  await page.close();
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
EOF

dir=$(mktemp -d /tmp/hype-boot-test-browser.XXXXXX)
cleanup() {
    [[ -z ${QPID:-} ]] || kill "$QPID" 2>/dev/null || true
    [[ ${HYPE_KEEP:-0} == 1 ]] || rm -rf "$dir"
}
trap cleanup EXIT

# shellcheck disable=SC2054 # the commas are QEMU's option syntax
args=(
    -M microvm -accel "$ACCEL" -smp "$CPUS" -m "$MEM_MB"
    -nodefaults -no-user-config -nographic -no-reboot
    -kernel "$IMAGE/vmlinux" -initrd "$IMAGE/initramfs.img" -append "$CMDLINE"
    -serial "file:$dir/serial.log"
    -chardev "socket,id=agent,path=$dir/agent.sock,server=on,wait=off"
    -device virtio-serial-device
    -device virtserialport,chardev=agent,name=hype.agent
    -drive "id=rootfs,file=$IMAGE/rootfs.ext4,format=raw,if=none,readonly=on"
    -device virtio-blk-device,drive=rootfs
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:9222"
    -device virtio-net-device,netdev=n0
    -qmp "unix:$dir/qmp.sock,server=on,wait=off"
)
[[ $ACCEL == kvm ]] && args+=(-cpu host)

echo "boot-test-browser: $IMAGE (accel=$ACCEL, cpus=$CPUS, mem=${MEM_MB}M, cdp port $PORT)"
start=$(date +%s.%N)
qemu-system-x86_64 "${args[@]}" >"$dir/qemu.out" 2>&1 &
QPID=$!

fail() {
    echo "boot-test-browser: FAIL: $*" >&2
    grep -E 'hype-agent:|Kernel panic' "$dir/serial.log" | tail -n 25 >&2 || true
    HYPE_KEEP=1
    echo "boot-test-browser: logs in $dir" >&2
    exit 1
}

# The client keeps the connection open (stdin from a FIFO) until the checks
# are done, then shuts the VM down.
mkfifo "$dir/go"
python3 -c "$CLIENT" "$dir/agent.sock" "$start" "$READY_TIMEOUT" <"$dir/go" >"$dir/client.out" 2>"$dir/client.err" &
CPID=$!
exec 3>"$dir/go"
while [[ ! -s $dir/client.out ]]; do
    kill -0 "$CPID" 2>/dev/null || fail "agent client: $(cat "$dir/client.err")"
    sleep 0.2
done
read -r t_ready uptime <"$dir/client.out"
echo "ready after ${t_ready}s from QEMU start (guest uptime ${uptime} ms)"
grep -E 'hype-agent: (root|browser|ready)' "$dir/serial.log" | sed 's/^/  /'

version=$(curl -sS --max-time 30 "http://127.0.0.1:$PORT/json/version") || fail "GET /json/version through the relay"
t_cdp=$(echo "$(date +%s.%N) - $start" | bc)
echo "$version" | python3 -c '
import json, sys
v = json.load(sys.stdin)
print("  " + v["Browser"] + ": " + v["webSocketDebuggerUrl"])
' || fail "no webSocketDebuggerUrl in /json/version: $version"
echo "/json/version answered through the relay ${t_cdp}s after QEMU start"

if [[ -n ${HYPE_PLAYWRIGHT_DIR:-} ]]; then
    title=$(cd "$HYPE_PLAYWRIGHT_DIR" && CDP_URL="http://127.0.0.1:$PORT" timeout 120 node -e "$PLAYWRIGHT") ||
        fail "playwright connectOverCDP"
    [[ $title == hi ]] || fail "playwright read the title ${title@Q}, not 'hi'"
    echo "playwright: connectOverCDP loaded a data: URL, title ${title@Q}"
fi

echo >&3
exec 3>&-
wait "$CPID" || fail "shutdown: $(cat "$dir/client.err")"
waited=0
while kill -0 "$QPID" 2>/dev/null && ((waited < EXIT_TIMEOUT * 10)); do
    sleep 0.1
    waited=$((waited + 1))
done
kill -0 "$QPID" 2>/dev/null && fail "QEMU did not exit after shutdown"
wait "$QPID" || fail "QEMU exited with $?"
QPID=
grep -h '^notice' "$dir/client.err" | sed 's/^/  /' || true
echo "boot-test-browser: passed"
