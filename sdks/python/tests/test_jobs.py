"""Import jobs through the SDK: submitted from a dict and from a YAML file,
waited on over the job event stream, cancelled; against the test XAPI
server (tests/xcpng/xapi_server.py) and real qemu-img."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List

import pytest

import hype
from conftest import Xapi, make_disk, vm_name


def spec(x: Xapi, name: str) -> dict:
    return {"kind": "xcpng_export", "url": x.url, "username": "root", "password": x.PASSWORD,
            "vm": "Web 01", "name": name}


def test_submit_a_dict_and_wait_with_progress(h: hype.Hype, xapi: Xapi, disk: "tuple[Path, str]") -> None:
    name = vm_name("img")
    seen: List[hype.JobEvent] = []
    job = h.jobs.submit(spec(xapi, name))
    assert (job.state, job.image, job.kind) == ("pending", name, "xcpng_export")
    assert xapi.PASSWORD not in str(job.to_dict())
    done = job.wait(progress=seen.append, timeout=300)
    assert done.state == "completed" and job.state == "completed"  # the handle is updated too
    types = [e.type for e in seen]
    assert types[0] == "JOB_QUEUED" and "JOB_STARTED" in types and types[-1] == "JOB_COMPLETED"
    progress = [e for e in seen if e.type == "JOB_PROGRESS"]
    assert progress and any(e.job.progress.bytes_total == 12 << 20 for e in progress)
    assert [e.id for e in seen] == sorted({e.id for e in seen})
    assert done.progress.percent == 100.0 and done.progress.phase == "done"
    image = h.images.get(name)
    assert (image.source, image.sha256) == ("xcpng", disk[1])
    assert name in [i.name for i in h.images.list()]
    assert h.jobs.get(job.id).state == "completed"
    h.images.delete(name)
    with pytest.raises(hype.HypeError) as e:
        h.images.get(name)
    assert e.value.status == 404


def test_submit_a_yaml_file_list_and_cancel(h: hype.Hype, tmp_path: Path, disk: "tuple[Path, str]") -> None:
    slow = Xapi(disk[0], "--delay", "2")  # 2 s a MiB: long enough to cancel
    try:
        name = vm_name("yml")
        f = tmp_path / "job.yaml"
        f.write_text(f"kind: xcpng_export\nurl: {slow.url}\nusername: root\n"
                     f"password: {slow.PASSWORD}\nvm: Web 01\nname: {name}\n")
        job = h.jobs.submit(f)
        assert job.image == name
        for ev in h.events.watch_jobs(job=job.id, last_event_id=0, timeout=120):
            if ev.type == "JOB_PROGRESS":
                break
        job.cancel()
        with pytest.raises(hype.JobFailedError) as e:
            job.wait(timeout=120)
        assert e.value.code == "job_cancelled" and e.value.job.state == "cancelled"
        with pytest.raises(hype.HypeError) as err:
            job.cancel()  # already over
        assert err.value.status == 409, repr(err.value)
        # Only a job a restart left waiting for its password takes one.
        with pytest.raises(hype.HypeError) as err:
            h.jobs.resume(job.id, "a password")
        assert (err.value.status, err.value.code) == (409, "job_not_awaiting_password"), repr(err.value)
        assert "a password" not in str(err.value)
        ids = [j.id for j in h.jobs.list(page_size=1)]
        assert job.id in ids and len(ids) == len(set(ids)) and len(ids) >= 2
        assert job.id in [j.id for j in h.jobs.list(state="cancelled")]
    finally:
        slow.close()


def test_invalid_jobs_are_refused_with_a_code(h: hype.Hype) -> None:
    with pytest.raises(hype.HypeError) as e:
        h.jobs.submit({"kind": "xcpng_export", "url": "http://127.0.0.1:9", "vm": "x", "bogus": 1})
    assert e.value.status == 400 and e.value.code not in ("", "error"), repr(e.value)
    assert "bogus" in e.value.message
    with pytest.raises(ValueError):
        h.jobs.submit([{"kind": "xcpng_export"}, {"kind": "xcpng_export"}])
    with pytest.raises(hype.HypeError) as e:
        h.jobs.get("no-such-job")
    assert e.value.status == 404


def test_async_submit_many_and_wait(server: object, xapi: Xapi) -> None:
    names = [vm_name("am"), vm_name("am")]

    async def main() -> None:
        async with hype.AsyncHype() as h:
            jobs = await h.jobs.submit_many([spec(xapi, n) for n in names])
            assert [j.image for j in jobs] == names
            phases: List[str] = []

            async def progress(ev: hype.JobEvent) -> None:
                phases.append(ev.job.progress.phase)

            done = await asyncio.gather(jobs[0].wait(progress=progress, timeout=300),
                                        jobs[1].wait(timeout=300))
            assert [j.state for j in done] == ["completed", "completed"]
            assert phases[-1] == "done"
            for n in names:
                assert (await h.images.get(n)).source == "xcpng"
                await h.images.delete(n)

    asyncio.run(main())


def test_source_inventory_lists_the_pool(h: hype.Hype, xapi: Xapi) -> None:
    inv = h.sources.inventory("xcpng", xapi.url, "root", password=xapi.PASSWORD)
    assert inv.kind == "xcpng"
    web = next(v for v in inv.vms if v.name == "Web 01")
    assert (web.power_state, web.template, web.firmware) == ("off", False, "bios")
    assert [d.size_bytes for d in web.disks] == [12 << 20] and web.disks[0].bus == "xen"
    assert any(v.template for v in inv.vms)
    with pytest.raises(hype.HypeError) as e:
        h.sources.inventory("xcpng", xapi.url, "root", password="wrong-pw-7")
    assert (e.value.status, e.value.code) == (422, "source_login_failed")
    assert "wrong-pw-7" not in e.value.message


def test_async_source_inventory(server: object, xapi: Xapi) -> None:
    async def main() -> None:
        async with hype.AsyncHype() as h:
            inv = await h.sources.inventory("xcpng", xapi.url, "root", password=xapi.PASSWORD)
            assert "Web 01" in [v.name for v in inv.vms]

    asyncio.run(main())


def test_status_counts_jobs_and_reports_the_host(h: hype.Hype) -> None:
    st = h.system.status()
    assert {c.state for c in st.jobs} == {"pending", "running", "completed", "failed", "cancelled"}
    assert "running" in {c.state for c in st.vms}
    assert st.memory.total_bytes >= st.memory.available_bytes > 0
    assert st.vm_disk.total_bytes > 0 and st.uptime_seconds >= 0
