"""Event streams across a restart of hyped: every event once, none missed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import hype
from conftest import Hyped, vm_name

BASE = dict(image="base", cpu_cores=1, memory_mb=256)


@pytest.fixture()
def restartable(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Hyped(tmp_path, api_key="sk-restart-key-0123456789").start()
    yield s
    s.close()


def test_streams_survive_a_restart_without_gaps_or_repeats(restartable: Hyped) -> None:
    s = restartable
    h = hype.Hype(s.base, s.api_key)
    ah = hype.AsyncHype(s.base, s.api_key)
    loop = asyncio.new_event_loop()
    a, b = vm_name("a"), vm_name("b")

    sync_stream = h.events.watch_vms().connect()  # from now
    async_stream = ah.events.watch_vms(last_event_id=0)  # from the first event
    all_of_a = h.events.watch_vms(vm=a).connect()  # one VM's
    loop.run_until_complete(async_stream.connect())

    h.vms.create(a, **BASE)
    h.vms.wait(a, "running", timeout=180)
    got = [next(sync_stream) for _ in range(3)]
    assert [(e.type, e.vm) for e in got] == [("VM_CREATED", a), ("VM_STARTING", a), ("VM_RUNNING", a)]

    # hyped goes away while nobody reads; the guest keeps running and is
    # adopted again. What happens after the restart happens while the
    # streams are cut off: they get it from hyped's store on reconnecting.
    s.restart()
    h2 = hype.Hype(s.base, s.api_key)
    assert h2.vms.get(a).state == "running"
    h2.vms.create(b, **BASE)
    h2.vms.wait(b, "running", timeout=180)
    h2.vms.delete(a)
    h2.vms.delete(b)
    stored = list(h2.events.list())  # the whole history, from SQLite
    last = stored[-1].id

    def drain(stream, n):  # type: ignore[no-untyped-def]
        return [next(stream) for _ in range(n)]

    rest = drain(sync_stream, sum(1 for e in stored if e.id > got[-1].id))
    seen = got + rest
    assert [e.id for e in seen] == [e.id for e in stored if e.id >= got[0].id]
    assert seen[-1].id == last and len({e.id for e in seen}) == len(seen)
    assert sync_stream.reconnects >= 1 and sync_stream.last_event_id == last
    assert [e.to_dict() for e in seen] == [e.to_dict() for e in stored if e.id >= got[0].id]

    async def drain_async(n: int):  # type: ignore[no-untyped-def]
        return [await async_stream.__anext__() for _ in range(n)]

    every = loop.run_until_complete(drain_async(len(stored)))
    assert [e.id for e in every] == [e.id for e in stored]
    assert async_stream.reconnects >= 1

    only_a = [e for e in stored if e.vm == a]
    mine = drain(all_of_a, len(only_a))
    assert [e.id for e in mine] == [e.id for e in only_a] and mine[-1].type == "VM_DELETED"

    # Nothing more: a further step would wait (here, until its timeout).
    with pytest.raises(hype.HypeTimeoutError):
        next(h2.events.watch_vms(last_event_id=last, timeout=1.5))
    for st in (sync_stream, all_of_a):
        st.close()
    loop.run_until_complete(async_stream.close())
    loop.run_until_complete(ah.close())
    loop.close()
    h.close()
    h2.close()
