"""VMs through the SDK against a real hyped and real QEMU guests: list,
create, wait, delete; pagination; errors and their codes; auth."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import httpx
import pytest

import hype
from conftest import Hyped, vm_name

BASE = dict(image="base", cpu_cores=1, memory_mb=256)


def test_create_wait_list_delete(h: hype.Hype) -> None:
    name = vm_name()
    vm = h.vms.create(name, ttl_seconds=600, **BASE)
    assert (vm.name, vm.state, vm.image, vm.cpu_cores, vm.memory_mb) == (name, "starting", "base", 1, 256)
    assert vm.ttl_seconds == 600 and vm.vmm.kind == "qemu"
    running = h.vms.wait(name, "running", timeout=180)
    assert running.state == "running" and running.vmm.pid
    assert name in [v.name for v in h.vms.list()]
    assert [v.name for v in h.vms.list(state="running")].count(name) == 1
    assert name not in [v.name for v in h.vms.list(state="stopped")]
    assert "hype-agent: ready" in h.vms.logs(name)
    lines = h.vms.follow_logs(name, tail=5)
    assert any("hype-agent" in next(lines) for _ in range(5))
    lines.close()  # type: ignore[attr-defined]
    assert h.vms.pause(name).state == "paused"
    assert h.vms.resume(name).state == "running"
    assert "lo" in [i.name for i in h.vms.guest_network(name).interfaces]
    assert h.vms.get(name).raw["name"] == name  # the answer as sent, too
    h.vms.delete(name)
    with pytest.raises(hype.HypeError) as e:
        h.vms.get(name)
    assert (e.value.status, e.value.code) == (404, "vm_not_found")
    # The stream saw the whole life, in order.
    types = [ev.type for ev in h.events.list(vm=name)]
    assert types[:2] == ["VM_CREATED", "VM_STARTING"] and "VM_RUNNING" in types and types[-1] == "VM_DELETED"


def test_lists_follow_pages(h: hype.Hype) -> None:
    names = sorted(vm_name("pg") for _ in range(3))
    seen = []
    sent = []
    with httpx.Client(event_hooks={"request": [sent.append]}) as http:
        counted = hype.Hype(http_client=http)
        try:
            for n in names:
                h.vms.create(n, **BASE)
            seen = [v.name for v in counted.vms.list(page_size=1)]
        finally:
            for n in names:
                h.vms.delete(n)
    assert [n for n in seen if n in names] == names  # every one, by name, none twice
    assert len(seen) == len(set(seen))
    pages = [r for r in sent if r.url.path == "/api/v1/vms"]
    assert len(pages) >= len(names) + 1, [str(r.url) for r in pages]  # one per VM, and an empty last
    events = list(h.events.list(page_size=2))
    assert len(events) >= 6 and [e.id for e in events] == sorted({e.id for e in events})


def test_errors_carry_status_code_and_message(h: hype.Hype) -> None:
    name = vm_name()
    with pytest.raises(hype.HypeError) as e:
        h.vms.create(name, image="no-such-image")
    assert (e.value.status, e.value.code) == (404, "image_not_found"), repr(e.value)
    assert "no-such-image" in e.value.message
    with pytest.raises(hype.HypeError) as e:
        h.vms.create("Not_A_Name", **BASE)
    assert e.value.status in (400, 422) and e.value.code != "error", repr(e.value)
    h.vms.create(name, **BASE)
    try:
        with pytest.raises(hype.HypeError) as e:
            h.vms.create(name, **BASE)
        assert e.value.status == 409
        assert e.value.code in str(e.value) and e.value.message in str(e.value)
    finally:
        h.vms.delete(name)


def test_pools_refuse_what_they_cannot_serve(h: hype.Hype) -> None:
    """Warm pools through the SDK: precise errors from a real hyped, and a
    create that names a missing pool makes nothing."""
    assert h.pools.list() == []
    with pytest.raises(hype.HypeError) as e:
        h.pools.create("warm", image="no-such-image", size=1)
    assert (e.value.status, e.value.code) == (404, "image_not_found"), repr(e.value)
    with pytest.raises(hype.HypeError) as e:
        h.pools.create("warm", image="base", size=0)
    assert e.value.status == 422, repr(e.value)
    for call in (lambda: h.pools.get("ghost"), lambda: h.pools.delete("ghost")):
        with pytest.raises(hype.HypeError) as e:
            call()
        assert (e.value.status, e.value.code) == (404, "pool_not_found"), repr(e.value)
    name = vm_name()
    with pytest.raises(hype.HypeError) as e:
        h.vms.create(name, pool="ghost")
    assert (e.value.status, e.value.code) == (404, "pool_not_found"), repr(e.value)
    with pytest.raises(hype.HypeError) as e:
        h.vms.get(name)
    assert e.value.code == "vm_not_found"
    assert list(h.vms.list(pool="ghost")) == []


def test_each_vm_operation_reaches_its_route(h: hype.Hype) -> None:
    """Every per-VM method calls the route its @operation mark names: a
    missing VM answers 404 vm_not_found on that route."""
    sent = []
    with httpx.Client(event_hooks={"request": [sent.append]}) as http:
        c = hype.Hype(http_client=http)
        calls = {
            "get": lambda: c.vms.get("ghost"), "delete": lambda: c.vms.delete("ghost"),
            "start": lambda: c.vms.start("ghost"), "stop": lambda: c.vms.stop("ghost"),
            "pause": lambda: c.vms.pause("ghost"), "resume": lambda: c.vms.resume("ghost"),
            "snapshot": lambda: c.vms.snapshot("ghost"), "restore": lambda: c.vms.restore("ghost"),
            "logs": lambda: c.vms.logs("ghost"), "screenshot": lambda: c.vms.screenshot("ghost"),
            "cdp_version": lambda: c.vms.cdp_version("ghost"),
            "cdp_targets": lambda: c.vms.cdp_targets("ghost"),
            "guest_network": lambda: c.vms.guest_network("ghost"),
            "probe": lambda: c.vms.probe("ghost", "10.0.0.1"),
            "browser_console": lambda: c.vms.browser_console("ghost", after=3),
            "browser_network": lambda: c.vms.browser_network("ghost"),
            "follow_logs": lambda: list(c.vms.follow_logs("ghost")),
            "live_link": lambda: c.vms.live_link("ghost", expires_in=60),
        }
        for method, call in calls.items():
            sent.clear()
            with pytest.raises(hype.HypeError) as e:
                call()
            assert (e.value.status, e.value.code) == (404, "vm_not_found"), (method, repr(e.value))
            (op,) = getattr(hype.resources.vms.VMs, method).__hype_operations__  # type: ignore[attr-defined]
            expected = op[1].replace("{name}", "ghost")
            assert [(r.method, r.url.path) for r in sent] == [(op[0], expected)], method


def test_key_required_and_never_shown(server: Hyped) -> None:
    assert server.api_key
    with hype.Hype(api_key="") as anonymous:
        with pytest.raises(hype.HypeError) as e:
            list(anonymous.vms.list())
        assert e.value.status == 401 and e.value.code == "unauthorized", repr(e.value)
        assert anonymous.system.health()  # liveness needs no key
    with hype.Hype(api_key="wrong-" + server.api_key) as wrong:
        with pytest.raises(hype.HypeError) as e:
            wrong.vms.get("x")
        assert e.value.status == 401
        assert server.api_key not in str(e.value) + repr(e.value)
        assert server.api_key not in repr(wrong)
    with hype.Hype() as keyed:  # from HYPE_API_KEY
        assert keyed.system.version().api == "v1"
        assert server.api_key not in repr(keyed)


def test_unreachable_server_is_a_connection_error() -> None:
    with hype.Hype(base_url="http://127.0.0.1:9", api_key="sk-secret-never-shown") as h:
        with pytest.raises(hype.HypeConnectionError) as e:
            h.vms.get("x")
    assert e.value.status is None and e.value.code == "connection_error"
    assert "sk-secret-never-shown" not in str(e.value)


def test_async_create_wait_list_delete(server: Hyped) -> None:
    async def main() -> None:
        async with hype.AsyncHype() as h:
            async with h.sandbox(**BASE) as sb:
                assert sb.vm.state == "running" and sb.cdp_url is None
                names = [v.name async for v in h.vms.list(page_size=1)]
                assert sb.name in names
                assert "hype-agent" in await sb.logs(tail=20)
                with pytest.raises(ValueError):
                    await sb.playwright()  # a base image has no browser
            with pytest.raises(hype.HypeError) as e:
                await h.vms.get(sb.name)
            assert e.value.code == "vm_not_found"
            with pytest.raises(hype.HypeError) as e:
                await h.vms.pause("ghost")
            assert e.value.status == 404

    asyncio.run(main())


def test_sandbox_that_cannot_boot_is_deleted(h: hype.Hype) -> None:
    before = {v.name for v in h.vms.list()}
    with pytest.raises(hype.HypeTimeoutError):
        h.sandbox(name=vm_name("slow"), timeout=0.5, **BASE)
    assert {v.name for v in h.vms.list()} == before


def test_rate_limited_requests_are_sent_again(tmp_path: Path) -> None:
    """hyped's --rate-limit answers 429 with Retry-After; the client waits
    and sends the request again (max_retries), or raises the 429."""
    s = Hyped(tmp_path, api_key="sk-" + secrets.token_hex(16), extra=["--rate-limit", "1"]).start()
    try:
        with hype.Hype(s.base, s.api_key, max_retries=0) as impatient:
            with pytest.raises(hype.HypeError) as e:
                for _ in range(10):
                    impatient.system.version()
            assert (e.value.status, e.value.code) == (429, "rate_limited"), repr(e.value)
        time.sleep(2)
        statuses: "list[int]" = []
        with httpx.Client(event_hooks={"response": [lambda r: statuses.append(r.status_code)]}) as http:
            patient = hype.Hype(s.base, s.api_key, http_client=http)
            assert [patient.system.version().api for _ in range(4)] == ["v1"] * 4
        assert 429 in statuses and statuses[-1] == 200, statuses  # refused, waited, sent again
    finally:
        s.close()
