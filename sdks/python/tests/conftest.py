"""A real hyped for the SDK's tests: the binary cargo builds, on an
ephemeral port, with its own data directory, the images of
scripts/build-images.sh and real QEMU guests; and the test XAPI server of
tests/xcpng. Nothing is mocked.

Browser sandboxes need hyped's networking (bridge, taps, NAT), which the
tests only ever set up inside a network namespace of their own: run the
suite with sdks/run-tests.sh (what scripts/test.sh does), which enters a
fresh namespace (lo up, IPv4 forwarding on) before starting pytest.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import pytest

ROOT = Path(__file__).resolve().parents[3]
SDK = ROOT / "sdks" / "python"
IMAGES = Path(os.environ.get("HYPE_IMAGES_DIR", "/var/lib/hype/images"))


def hyped_bin() -> Path:
    if os.environ.get("HYPE_HYPED_BIN"):
        return Path(os.environ["HYPE_HYPED_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", "/var/cache/hype/target"))
    return target / "debug" / "hyped"


def in_private_netns() -> bool:
    """Whether sdks/run-tests.sh made this process's network namespace:
    it says so, and the namespace had nothing but lo when the suite began
    (so a host's network is never configured by a stray variable)."""
    if os.environ.get("HYPE_SDK_NETNS") != "1":
        return False
    with open("/proc/self/net/dev") as f:
        ifaces = {line.split(":")[0].strip() for line in f.readlines()[2:]}
    assert ifaces == {"lo"}, f"HYPE_SDK_NETNS=1, but this namespace has {sorted(ifaces)}"
    return True


def qemu_pids_under(data: Path) -> List[int]:
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("qemu-system") and str(data) in cmd:
            out.append(int(d.name))
    return out


class Hyped:
    """One hyped process; :meth:`restart` keeps its data, port and key."""

    def __init__(self, data: Path, *, api_key: Optional[str] = None, networked: bool = False,
                 subnet: str = "10.93.0.0/24", extra: Sequence[str] = ()) -> None:
        self.data = data
        self.extra = list(extra)
        self.api_key = api_key
        self.networked = networked
        self.subnet = subnet
        self.proc: Optional[subprocess.Popen] = None
        self.base = ""
        self.listen = "127.0.0.1:0"

    def start(self) -> "Hyped":
        binary = hyped_bin()
        assert binary.is_file(), f"no hyped at {binary}: run `cargo build -p hyped` (CARGO_TARGET_DIR)"
        assert (IMAGES / "base" / "manifest.json").is_file(), f"no base image in {IMAGES}: run scripts/build-images.sh"
        args = [str(binary), "--listen", self.listen, "--data-dir", str(self.data),
                "--images-dir", str(IMAGES), "--stop-timeout", "20"]
        if self.networked:
            args += ["--network", "on", "--subnet", self.subnet, "--boot-timeout", "400"]
        else:
            args += ["--network", "off"]
        args += self.extra
        env = dict(os.environ, RUST_LOG="info")
        env.pop("HYPE_API_KEY", None)
        if self.api_key:
            env["HYPE_API_KEY"] = self.api_key  # not a flag: it would show in ps
        # Jobs without a password use the server's (as the README's do),
        # which hyped sends only over https to hosts it was given.
        env["HYPE_XCPNG_PASSWORD"] = Xapi.PASSWORD
        env["SSL_CERT_FILE"] = xapi_ca()
        args += ["--import-allow-host", "127.0.0.1"]
        log = open(self.data / "hyped.log", "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, env=env)
        log.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("hyped listening on "):
            self.proc.kill()
            raise RuntimeError(f"hyped did not start: {line!r}; see {self.data}/hyped.log")
        self.base = line.removeprefix("hyped listening on ")
        self.listen = self.base.removeprefix("http://")
        # The listener is bound before start-up (reconcile) ends; the first
        # answer means hyped is fully up.
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=60) as r:
                    if r.status == 200:
                        return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM and wait; VMMs keep running (hyped adopts them again on start)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        for pid in qemu_pids_under(self.data):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def env(self) -> Dict[str, str]:
        env = {"HYPE_API_BASE": self.base}
        if self.api_key:
            env["HYPE_API_KEY"] = self.api_key
        return env


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hyped]:
    """The suite's hyped: keyed, and networked when the suite runs in a
    namespace of its own. HYPE_API_BASE and HYPE_API_KEY point at it, so
    ``hype.Hype()`` reaches it as a user's would."""
    s = Hyped(tmp_path_factory.mktemp("hyped"), api_key="sk-" + secrets.token_hex(16),
              networked=in_private_netns())
    s.start()
    saved = {k: os.environ.get(k) for k in ("HYPE_API_BASE", "HYPE_API_KEY")}
    os.environ.update(s.env())
    yield s
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    s.close()


@pytest.fixture(scope="session")
def networked(server: Hyped) -> Hyped:
    """The suite's hyped, which must have networking (browser sandboxes)."""
    if not server.networked:
        pytest.fail("browser sandboxes need networking, which the tests set up only in a network "
                    "namespace of their own: run `sdks/run-tests.sh python`")
    assert (IMAGES / "browser" / "manifest.json").is_file(), "no browser image: run scripts/build-images.sh"
    return server


@pytest.fixture()
def h(server: Hyped):  # type: ignore[no-untyped-def]
    import hype

    with hype.Hype() as client:
        yield client


@pytest.fixture(scope="session")
def openapi(server: Hyped) -> dict:
    import hype

    with hype.Hype() as client:
        return client.system.openapi()


def vm_name(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


_CERT: "tuple[str, str] | None" = None


def xapi_cert() -> "tuple[str, str]":
    """A certificate for 127.0.0.1 (and its key), made once per session:
    the test XAPI server serves https, and hyped, which trusts it through
    SSL_CERT_FILE, sends its own password only over https to a host given
    with --import-allow-host."""
    global _CERT
    if _CERT is None:
        import tempfile

        d = tempfile.mkdtemp(prefix="hype-sdk-tls-")
        subprocess.run(["sh", "-c", _MAKE_CERT, "sh", d], check=True, capture_output=True)
        _CERT = (f"{d}/cert.pem", f"{d}/key.pem")
    return _CERT


def xapi_ca() -> str:
    """The CA that signed :func:`xapi_cert`'s certificate."""
    return str(Path(xapi_cert()[0]).parent / "ca.pem")


# A CA and a certificate for 127.0.0.1 it signed (a self-signed CA
# certificate cannot serve as the server's own: rustls refuses it).
_MAKE_CERT = """set -e; cd "$1"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=hype-test-ca
openssl req $ec -keyout key.pem -out leaf.csr -subj /CN=127.0.0.1
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >leaf.ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile leaf.ext
"""


class Xapi:
    """tests/xcpng/xapi_server.py serving one VM, ``Web 01``, over https."""

    PASSWORD = "xcp-s3cret-pw"

    def __init__(self, disk: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "xcpng" / "xapi_server.py"), "--user", "root",
             "--password", self.PASSWORD, "--vm", f"Web 01={disk}", "--tls", *xapi_cert(), *extra],
            stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        assert line.startswith("listening on "), f"XAPI server: {line!r}"
        self.url = f"https://127.0.0.1:{line.removeprefix('listening on ')}"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def make_disk(path: Path, mib: int) -> str:
    """A raw disk with data every third MiB; returns its sha256."""
    import hashlib

    with open(path, "wb") as f:
        f.truncate(mib << 20)
        for i in range(0, mib, 3):
            f.seek((i << 20) + 512)
            f.write(bytes((j ^ i) & 0xFF for j in range(200_000)))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def disk(tmp_path_factory: pytest.TempPathFactory) -> "tuple[Path, str]":
    """A 12 MiB raw disk for the XAPI server, and its sha256."""
    path = tmp_path_factory.mktemp("xapi") / "web01.raw"
    return path, make_disk(path, 12)


@pytest.fixture(scope="session")
def xapi(disk: "tuple[Path, str]") -> Iterator[Xapi]:
    x = Xapi(disk[0])
    yield x
    x.close()
