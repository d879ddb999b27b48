#!/usr/bin/env bash
# Boots the base image once under QEMU (-M microvm) and drives the agent's
# streams (protocol 2) over its virtio-serial socket, as hyped would: an
# exec with an exit code, a PTY's size, an upload and a download of a file
# of N MiB whose sha256 must match on both sides, and a reconnect that must
# end the old connection's exec and upload. Prints the throughput of each
# direction. A manual check of a built image.
#
# Usage: scripts/agent-stream-test.sh [MIB]      (MIB defaults to 100)
#   HYPE_IMAGES_DIR  image root (default /var/lib/hype/images); uses base/
#   HYPE_ACCEL       tcg (default) or kvm
#   HYPE_MEM_MB      default 1024 (the file lives in the guest's /tmp, a tmpfs)
#   HYPE_KEEP=1      keep the run's directory (serial log) under /tmp
set -euo pipefail

MIB=${1:-100}
IMAGE=${HYPE_IMAGES_DIR:-/var/lib/hype/images}/base
ACCEL=${HYPE_ACCEL:-tcg}
MEM_MB=${HYPE_MEM_MB:-1024}

die() { echo "agent-stream-test: error: $*" >&2; exit 1; }
[[ -f $IMAGE/vmlinux && -f $IMAGE/initramfs.img ]] || die "no image in $IMAGE (run scripts/build-images.sh)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
command -v python3 >/dev/null || die "python3 not found"

# See boot-test.sh: skip the guest's TSC calibration, which hangs under TCG now and then.
KHZ=$(awk -F: '/^cpu MHz/ { printf "%d\n", $2 * 1000 + 0.5; exit }' /proc/cpuinfo)
CMDLINE="console=ttyS0 panic=-1 tsc_early_khz=$KHZ lpj=$((2 * KHZ)) hype.name=stream-test"

DIR=$(mktemp -d /tmp/hype-stream-test.XXXXXX)
# shellcheck disable=SC2054 # the commas are QEMU's option syntax
ARGS=(
    -M microvm -accel "$ACCEL" -smp 1 -m "$MEM_MB"
    -nodefaults -no-user-config -nographic -no-reboot
    -kernel "$IMAGE/vmlinux" -initrd "$IMAGE/initramfs.img" -append "$CMDLINE"
    -serial "file:$DIR/serial.log"
    -chardev "socket,id=agent,path=$DIR/agent.sock,server=on,wait=off"
    -device virtio-serial-device
    -device virtserialport,chardev=agent,name=hype.agent
)
[[ $ACCEL == kvm ]] && ARGS+=(-cpu host)
qemu-system-x86_64 "${ARGS[@]}" >"$DIR/qemu.out" 2>&1 &
QPID=$!
cleanup() {
    kill "$QPID" 2>/dev/null || true
    wait "$QPID" 2>/dev/null || true
    [[ ${HYPE_KEEP:-0} == 1 ]] && echo "agent-stream-test: logs in $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT

read -r -d '' CLIENT <<'EOF' || true
import base64, hashlib, json, os, socket, sys, time

sock_path, mib = sys.argv[1], int(sys.argv[2])
WINDOW, CHUNK = 512 << 10, 32 << 10

def connect():
    global s, r, held
    deadline = time.time() + 120
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
    s.settimeout(600)
    r = s.makefile("rb")
    held = []

connect()

def send(msg):
    s.sendall(json.dumps(msg).encode() + b"\n")

def recv(id=None):
    for i, m in enumerate(held):
        if id is None or m.get("id") == id:
            return held.pop(i)
    while True:
        line = r.readline()
        if not line:
            sys.exit("the agent closed the connection")
        m = json.loads(line)
        if m["type"] == "notice":
            print("notice:", m["message"])
            continue
        if id is None or m.get("id") == id:
            return m
        held.append(m)

def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")

def run(id, cmd, **kw):
    send({"type": "exec", "id": id, "cmd": cmd, **kw})
    out, code, signal = b"", None, None
    while True:
        m = recv(id)
        if m["type"] == "data":
            data = base64.b64decode(m["data"])
            send({"type": "credit", "id": id, "bytes": len(data)})
            out += data
        elif m["type"] == "exited":
            return out, m["code"], m["signal"]
        elif m["type"] == "error":
            sys.exit(f"exec {cmd}: {m}")

m = recv()
check(m["type"] == "ready" and m["protocol"] >= 2, f"ready, protocol {m.get('protocol')}")

out, code, _ = run(1, ["sh", "-c", "echo hi; exit 3"])
check(out == b"hi\n" and code == 3, f"exec sh -c 'echo hi; exit 3' -> {out!r}, code {code}")
out, code, _ = run(2, ["id", "-un"])
check(out == b"hype\n", f"the default user is {out.decode().strip()}")
out, code, _ = run(3, ["stty", "size"], tty={"rows": 33, "cols": 101})
check(out.strip() == b"33 101", f"a PTY's stty size -> {out.strip().decode()}")

payload = os.urandom(mib << 20)
digest = hashlib.sha256(payload).hexdigest()
send({"type": "write_file", "id": 4, "path": "/tmp/big", "mode": 0o600, "owner": None, "archive": False})
m = recv(4)
check(m["type"] == "opened", "upload opened")
t = time.time()
credit, pos = WINDOW, 0
while pos < len(payload):
    while credit < CHUNK:
        m = recv(4)
        if m["type"] != "credit":
            sys.exit(f"upload: {m}")
        credit += m["bytes"]
    chunk = payload[pos:pos + CHUNK]
    s.sendall(b'{"type":"data","id":4,"data":"' + base64.b64encode(chunk) + b'"}\n')
    credit -= len(chunk)
    pos += len(chunk)
send({"type": "eof", "id": 4})
while True:
    m = recv(4)
    if m["type"] == "done":
        break
    if m["type"] != "credit":
        sys.exit(f"upload: {m}")
up = time.time() - t
check(m["bytes"] == len(payload), f"upload of {mib} MiB: {mib / up:.1f} MiB/s ({up:.1f} s)")
out, code, _ = run(5, ["sha256sum", "/tmp/big"])
check(out.split()[0].decode() == digest, "the guest's sha256sum matches")

send({"type": "read_file", "id": 6, "path": "/tmp/big"})
h, got, owed = hashlib.sha256(), 0, 0
t = time.time()
while True:
    m = recv(6)
    if m["type"] == "data":
        data = base64.b64decode(m["data"])
        h.update(data)
        got += len(data)
        owed += len(data)
        if owed >= WINDOW // 4:
            send({"type": "credit", "id": 6, "bytes": owed})
            owed = 0
    elif m["type"] == "eof":
        break
    elif m["type"] != "opened":
        sys.exit(f"download: {m}")
down = time.time() - t
check(got == len(payload) and h.hexdigest() == digest,
      f"download of {mib} MiB: {mib / down:.1f} MiB/s ({down:.1f} s), sha256 matches")

# A host that goes away takes its streams along: a running exec and a
# half-done upload are gone once it reconnects.
send({"type": "exec", "id": 7, "cmd": ["sleep", "1000"]})
pid = recv(7)["pid"]
send({"type": "write_file", "id": 8, "path": "/tmp/partial", "mode": None, "owner": None, "archive": False})
check(recv(8)["type"] == "opened", "a second upload opened")
send({"type": "data", "id": 8, "data": base64.b64encode(b"half").decode()})
r.close()
s.close()
time.sleep(1)
connect()
send({"type": "hello"})
check(recv()["type"] == "ready", "ready again after a reconnect")
out, code, _ = run(9, ["sh", "-c", f"kill -0 {pid} 2>/dev/null && echo alive || echo gone; ls -a /tmp"])
check(out.startswith(b"gone\n") and b"partial" not in out,
      f"the old connection's exec and upload are gone: {out.decode().split()}")

send({"type": "shutdown"})
check(recv()["type"] == "shutting_down", "shutdown")
EOF

python3 -c "$CLIENT" "$DIR/agent.sock" "$MIB"
for _ in $(seq 1 150); do
    kill -0 "$QPID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$QPID" 2>/dev/null && die "QEMU did not power off"
echo "agent-stream-test: passed"
