"""Recordings and live links, on one recorded browser sandbox (boots are
the expensive part): a live link's URL, expiry and refusals; the
sandbox's pages, driven with Playwright, recorded; the recording listed,
read through both routes and both clients, its rrweb events holding the
page's URL and what was typed, and deleted."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import httpx
import pytest

import hype
from conftest import Hyped, vm_name

PAGE = "data:text/html,<title>recorded</title><h1>recorded by the sdk</h1><input id=q>"
TYPED = "typed into the recorded page"


def typed(events: List[Dict[str, Any]]) -> bool:
    """Whether an rrweb input event (incremental, source 5) holds the typed text."""
    return any(ev["type"] == 3 and ev["data"].get("source") == 5 and ev["data"].get("text") == TYPED
               for ev in events)


def _when(rfc3339: str) -> datetime:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))


def check_live_links(h: hype.Hype, networked: Hyped, name: str) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    link = h.vms.live_link(name, expires_in=120)
    assert link.url == f"{networked.base}/vms/{name}/live?token={link.token}"
    assert link.token.startswith("hlv_") and not link.interactive
    assert before + timedelta(seconds=119) <= _when(link.expires_at) <= datetime.now(timezone.utc) + timedelta(seconds=121)
    assert link.token not in repr(link)  # a secret: never in a log line made of the model
    # The link opens the live page for a browser with neither key nor session.
    page = httpx.get(link.url)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert httpx.get(f"{networked.base}/vms/{name}/live?token=hlv_{'0' * 64}").status_code == 401
    # Defaults: view only, an hour.
    default = h.vms.live_link(name)
    assert not default.interactive and default.token != link.token
    assert _when(default.expires_at) >= before + timedelta(seconds=3599)
    assert h.vms.live_link(name, expires_in=1, interactive=True).interactive

    async def through_async() -> hype.LiveLink:
        async with hype.AsyncHype() as ah:
            return await ah.vms.live_link(name, interactive=True)

    made = asyncio.run(through_async())
    assert made.interactive and made.url.startswith(f"{networked.base}/vms/{name}/live?token=hlv_")
    for bad in (0, 86401):
        with pytest.raises(hype.HypeError) as e:
            h.vms.live_link(name, expires_in=bad)
        assert (e.value.status, e.value.code) == (422, "invalid_request"), e.value
        assert "expires_in" in e.value.message
    with pytest.raises(hype.HypeError) as e:
        h.vms.live_link(vm_name("ghost"))
    assert (e.value.status, e.value.code) == (404, "vm_not_found")


@pytest.mark.browser
def test_recordings_and_live_links(networked: Hyped, h: hype.Hype) -> None:
    name = vm_name("rec")
    with h.sandbox(image="browser", name=name, ttl=900, record=True, timeout=400) as sb:
        assert sb.vm.record
        check_live_links(h, networked, name)

        page = sb.playwright().contexts[0].new_page()
        page.goto(PAGE)
        page.fill("#q", TYPED)
        page.press("#q", "Tab")  # the recorder keeps an input's last value, at its change event
        (rec,) = h.recordings.list(name)
        assert isinstance(rec, hype.Recording)
        assert (rec.vm, rec.vm_id, rec.ended_at) == (name, sb.vm.id, None)  # open while the VM runs
        # The page sends its events in batches, every 500 ms: wait for the typing's.
        deadline = time.monotonic() + 60
        while not typed(h.recordings.events(rec.id)) and time.monotonic() < deadline:
            time.sleep(0.5)
    # Deleting the VM ended its run, and with it the recording, which outlives it.
    rec = h.recordings.get(rec.id)
    assert rec.ended_at is not None and rec.events >= 3 and rec.pages >= 1 and rec.size_bytes > 0
    assert rec.replay_url == f"{networked.base}/recordings/{rec.id}"
    assert h.recordings.get(rec.id, vm=name) == rec
    with pytest.raises(hype.HypeError) as e:
        h.recordings.get(rec.id, vm=vm_name("other"))
    assert (e.value.status, e.value.code) == (404, "recording_not_found")
    assert h.recordings.list(name) == [rec]

    events = h.recordings.events(rec.id)
    assert len(events) == rec.events
    # rrweb: a meta event (type 4) per document with its URL, a full DOM
    # snapshot (type 2) with the page's text, input events with what was typed.
    assert any(ev["type"] == 4 and ev["data"]["href"] == PAGE for ev in events), events[:3]
    snapshots = [json.dumps(ev["data"]) for ev in events if ev["type"] == 2]
    assert any("recorded by the sdk" in s for s in snapshots)
    assert typed(events), [ev for ev in events if ev["type"] == 3][:5]

    async def through_async() -> None:
        async with hype.AsyncHype() as ah:
            assert await ah.recordings.list(name) == [rec]
            assert await ah.recordings.get(rec.id) == await ah.recordings.get(rec.id, vm=name) == rec
            assert await ah.recordings.events(rec.id) == events

    asyncio.run(through_async())

    h.recordings.delete(rec.id)
    with pytest.raises(hype.HypeError) as e:
        h.recordings.get(rec.id)
    assert (e.value.status, e.value.code) == (404, "recording_not_found")
    with pytest.raises(hype.HypeError) as e:
        h.recordings.events(rec.id)
    assert (e.value.status, e.value.code) == (404, "recording_not_found")
    with pytest.raises(hype.HypeError) as e:
        h.recordings.delete(rec.id)
    assert e.value.code == "recording_not_found"
    # Neither a VM nor a recording of that name is left.
    with pytest.raises(hype.HypeError) as e:
        h.recordings.list(name)
    assert (e.value.status, e.value.code) == (404, "vm_not_found")
