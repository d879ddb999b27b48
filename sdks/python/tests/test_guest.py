"""Inside a guest through the SDK, against a real hyped and one real QEMU
guest (the base image, shared by the module's tests): exec answered whole
and streamed over the WebSocket, files up and down (streamed, byte-equal),
stat, list, remove, the browser's downloads, and errors as HypeError."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

import hype
from conftest import Hyped, vm_name


@pytest.fixture(scope="module")
def vm(server: Hyped) -> Iterator[str]:
    """One running base guest for every test here."""
    with hype.Hype() as h:
        name = vm_name("g")
        h.vms.create(name, image="base", cpu_cores=1, memory_mb=256, ttl_seconds=1800)
        try:
            h.vms.wait(name, "running", timeout=300)
            yield name
        finally:
            h.vms.delete(name)


def test_exec_returns_output_and_exit_code(h: hype.Hype, vm: str) -> None:
    r = h.vms.exec(vm, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.exit_code, r.stdout, r.stderr, r.signal, r.timed_out) == (3, "out\n", "err\n", None, False)
    assert r.stdout_encoding == "utf-8" and r.duration_ms >= 0 and not r.truncated
    assert isinstance(r, hype.ExecResult) and r.raw["exit_code"] == 3
    # A string runs in sh -c; env, cwd and user as asked.
    r = h.vms.exec(vm, 'echo "$GREETING"; pwd; id -u', env={"GREETING": "hi there"}, cwd="/tmp", user="root")
    assert r.stdout.split("\n")[:3] == ["hi there", "/tmp", "0"] and r.exit_code == 0
    assert h.vms.exec(vm, "id -u").stdout.strip() != "0"  # the unprivileged user by default


def test_exec_pipes_stdin(h: hype.Hype, vm: str) -> None:
    assert h.vms.exec(vm, ["cat"], stdin="piped\nthrough\n").stdout == "piped\nthrough\n"
    raw = bytes(range(256))
    r = h.vms.exec(vm, ["cat"], stdin=raw)
    assert r.stdout_encoding == "base64" and r.stdout_bytes == raw
    r = h.vms.exec(vm, ["sleep", "30"], timeout=1)
    assert r.timed_out and r.exit_code is None and r.signal


def test_exec_stream_sees_output_stdin_and_exit(h: hype.Hype, vm: str) -> None:
    with h.vms.exec_stream(vm, ["sh", "-c", "cat; echo done >&2; exit 5"]) as p:
        p.send(b"hello ")
        p.send("world")
        p.close_stdin()
        chunks = list(p)
    assert b"".join(c.data for c in chunks if c.stream == "stdout") == b"hello world"
    assert b"".join(c.data for c in chunks if c.stream == "stderr") == b"done\n"
    assert (p.exited, p.exit_code, p.timed_out) == (True, 5, False)
    # A terminal, resized; a signal ends the process.
    with h.vms.exec_stream(vm, ["sh", "-c", "[ -t 1 ] && echo on-a-tty; exec sleep 60"], tty=True,
                           rows=30, cols=100) as p:
        p.resize(40, 120)
        seen = b""
        for chunk in p:
            seen += chunk.data
            if b"on-a-tty" in seen:
                p.signal("SIGTERM")
        assert p.wait() is None and p.signal_name == "SIGTERM"
    assert h.vms.exec_stream(vm, "exit 7", stdin=False).wait() == 7


def test_exec_errors_map_to_hype_errors(h: hype.Hype, vm: str) -> None:
    with pytest.raises(hype.HypeError) as e:
        h.vms.exec(vm, ["no-such-program"])
    assert (e.value.status, e.value.code) == (404, "not_found_in_guest"), repr(e.value)
    with pytest.raises(hype.HypeError) as e:
        h.vms.exec_stream(vm, ["no-such-program"])
    assert (e.value.status, e.value.code) == (404, "not_found_in_guest"), repr(e.value)
    with pytest.raises(hype.HypeError) as e:
        h.vms.exec(vm, ["true"], cwd="relative")
    assert e.value.status == 422
    with pytest.raises(hype.HypeError) as e:
        h.vms.exec("no-such-vm", ["true"])
    assert (e.value.status, e.value.code) == (404, "vm_not_found")


def test_files_up_and_down_byte_equal(h: hype.Hype, vm: str, tmp_path: Path) -> None:
    blob = os.urandom(3 << 20) + b"tail"
    want = hashlib.sha256(blob).hexdigest()
    # A file object: streamed, never read whole.
    up = h.vms.upload(vm, "/tmp/blob.bin", io.BytesIO(blob))
    assert (up.path, up.bytes) == ("/tmp/blob.bin", len(blob))
    with h.vms.download(vm, "/tmp/blob.bin") as f:
        digest = hashlib.sha256()
        for piece in f:
            digest.update(piece)
    assert digest.hexdigest() == want and f.name == "blob.bin" and not f.is_archive
    assert h.vms.exec(vm, "sha256sum /tmp/blob.bin").stdout.split()[0] == want
    # From a local path, and saved to one.
    local = tmp_path / "local.bin"
    local.write_bytes(blob)
    h.vms.upload(vm, "/tmp/from-path.bin", local, mode=0o755)
    assert h.vms.download(vm, "/tmp/from-path.bin").save(tmp_path / "back.bin") == len(blob)
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).hexdigest() == want
    # Text, owned by whom it says.
    h.vms.upload(vm, "/tmp/hello.txt", "hello\n", mode="0600", owner="root")
    assert h.vms.download(vm, "/tmp/hello.txt").read() == b"hello\n"


def test_stat_list_remove(h: hype.Hype, vm: str) -> None:
    h.vms.exec(vm, "mkdir -p /tmp/d/sub && printf abc > /tmp/d/a.txt && ln -sf a.txt /tmp/d/link")
    h.vms.upload(vm, "/tmp/d/run.sh", b"#!/bin/sh\necho ran\n", mode=0o755)
    info = h.vms.stat(vm, "/tmp/d/a.txt")
    assert isinstance(info, hype.FileInfo)
    assert (info.name, info.kind, info.size) == ("a.txt", "file", 3) and info.modified_at
    assert h.vms.stat(vm, "/tmp/d/run.sh").mode == "0755"
    assert h.vms.exec(vm, ["/tmp/d/run.sh"]).stdout == "ran\n"
    link = h.vms.stat(vm, "/tmp/d/link")
    assert (link.kind, link.target) == ("symlink", "a.txt")
    listing = h.vms.list_files(vm, "/tmp/d")
    assert [(e.name, e.kind) for e in listing.entries] == [
        ("a.txt", "file"), ("link", "symlink"), ("run.sh", "file"), ("sub", "directory")]
    assert listing.path == "/tmp/d" and not listing.truncated
    # A directory comes down as a tar archive.
    with h.vms.download(vm, "/tmp/d") as f:
        assert f.is_archive
        archive = tarfile.open(fileobj=io.BytesIO(f.read()))
    assert any(m.name.endswith("d/a.txt") for m in archive.getmembers())
    with pytest.raises(hype.HypeError) as e:
        h.vms.remove_file(vm, "/tmp/d")
    assert (e.value.status, e.value.code) == (409, "directory_not_empty"), repr(e.value)
    h.vms.remove_file(vm, "/tmp/d/a.txt")
    h.vms.remove_file(vm, "/tmp/d", recursive=True)
    for call in (lambda: h.vms.stat(vm, "/tmp/d"), lambda: h.vms.download(vm, "/tmp/d/a.txt"),
                 lambda: h.vms.list_files(vm, "/tmp/d")):
        with pytest.raises(hype.HypeError) as e:
            call()
        assert (e.value.status, e.value.code) == (404, "not_found_in_guest"), repr(e.value)


def test_downloads_by_name(h: hype.Hype, vm: str) -> None:
    assert h.vms.downloads(vm) == []  # no browser here
    # A name that needs escaping in a URL path, put where downloads go.
    h.vms.exec(vm, "mkdir -p /home/browser/Downloads", user="root")
    name = "report #1 (final)?.txt"
    h.vms.upload(vm, f"/home/browser/Downloads/{name}", b"report")
    assert h.vms.download_file(vm, name).read() == b"report"
    with pytest.raises(hype.HypeError) as e:
        h.vms.download_file(vm, "missing.pdf")
    assert (e.value.status, e.value.code) == (404, "not_found_in_guest"), repr(e.value)


def test_sandbox_methods(h: hype.Hype, vm: str) -> None:
    sb = hype.Sandbox(h, h.vms.get(vm))  # not entered: the module's VM outlives it
    assert sb.exec("echo sb").stdout == "sb\n"
    sb.upload("/tmp/sb.txt", b"x" * 10)
    assert sb.stat("/tmp/sb.txt").size == 10
    assert "sb.txt" in [e.name for e in sb.list_files("/tmp").entries]
    assert sb.download("/tmp/sb.txt").read() == b"x" * 10
    sb.remove_file("/tmp/sb.txt")
    with sb.exec_stream(["cat"]) as p:
        p.send(b"echo")
        p.close_stdin()
        assert b"".join(c.data for c in p) == b"echo" and p.exit_code == 0
    assert sb.downloads() == []


def test_async_guest(server: Hyped, vm: str) -> None:
    blob = os.urandom(1 << 20)

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(blob), 100_000):
            yield blob[i:i + 100_000]

    async def main() -> None:
        async with hype.AsyncHype() as h:
            r = await h.vms.exec(vm, ["sh", "-c", "cat; exit 2"], stdin="async")
            assert (r.stdout, r.exit_code) == ("async", 2)
            up = await h.vms.upload(vm, "/tmp/async.bin", pieces())
            assert up.bytes == len(blob)
            f = await h.vms.download(vm, "/tmp/async.bin")
            assert hashlib.sha256(await f.read()).digest() == hashlib.sha256(blob).digest()
            assert (await h.vms.stat(vm, "/tmp/async.bin")).size == len(blob)
            assert "async.bin" in [e.name for e in (await h.vms.list_files(vm, "/tmp")).entries]
            await h.vms.remove_file(vm, "/tmp/async.bin")
            async with await h.vms.exec_stream(vm, ["sh", "-c", "cat >&2; exit 4"]) as p:
                await p.send(b"to stderr")
                await p.close_stdin()
                chunks = [c async for c in p]
            assert [(c.stream, c.data) for c in chunks if c.data] == [("stderr", b"to stderr")]
            assert p.exit_code == 4
            with pytest.raises(hype.HypeError) as e:
                await h.vms.stat(vm, "/no/such/file")
            assert e.value.code == "not_found_in_guest"
            assert await h.vms.downloads(vm) == []

    asyncio.run(main())
