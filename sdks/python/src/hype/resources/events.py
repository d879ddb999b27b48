"""Lifecycle and job events: the past, paged (``/api/v1/events``), and live
over SSE (``/api/v1/events/vms``, ``/api/v1/events/jobs``)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from .._operations import operation
from .._pagination import AsyncPager, Pager
from .._sse import AsyncEventStream, EventStream
from ..models import Event, JobEvent
from ._base import PAGE_SIZE, AsyncResource, SyncResource, page_of


def _params(vm: Optional[str], page_size: Optional[int], after: Optional[str]) -> Dict[str, Any]:
    return {"vm": vm, "limit": page_size or PAGE_SIZE, "after": after}


class Events(SyncResource):
    """``h.events``."""

    @operation("GET", "/api/v1/events")
    def list(self, *, vm: Optional[str] = None, after: Optional[int] = None,
             page_size: Optional[int] = None) -> Pager[Event]:
        """Past lifecycle events, oldest first, optionally of one VM and
        after an event id; pages are followed as you iterate."""
        return Pager(
            lambda cur: page_of(self._t.request("GET", "/api/v1/events",
                                                params=_params(vm, page_size, cur)).json(), "events", Event),
            None if after is None else str(after),
        )

    @operation("GET", "/api/v1/events/vms")
    def watch_vms(self, *, vm: Optional[str] = None, last_event_id: Optional[int] = None,
                  timeout: Optional[float] = None) -> EventStream[Event]:
        """Live lifecycle events (of one VM with ``vm=``), reconnecting on
        its own. ``last_event_id`` resumes after that event (``0``: from the
        first); without it the stream starts now. ``timeout`` bounds the
        whole iteration (``HypeTimeoutError``)."""
        return EventStream(self._t, "/api/v1/events/vms", {"vm": vm}, Event.from_json, last_event_id, timeout)

    @operation("GET", "/api/v1/events/jobs")
    def watch_jobs(self, *, job: Optional[str] = None, last_event_id: Optional[int] = None,
                   timeout: Optional[float] = None) -> EventStream[JobEvent]:
        """Live job events (of one job with ``job=``); as :meth:`watch_vms`."""
        client = self._client

        def decode(d: Dict[str, Any]) -> JobEvent:
            ev = JobEvent.from_json(d)
            ev.job._client = client
            return ev

        return EventStream(self._t, "/api/v1/events/jobs", {"job": job}, decode, last_event_id, timeout)


class AsyncEvents(AsyncResource):
    """``h.events`` of :class:`~hype.AsyncHype`."""

    @operation("GET", "/api/v1/events")
    def list(self, *, vm: Optional[str] = None, after: Optional[int] = None,
             page_size: Optional[int] = None) -> AsyncPager[Event]:
        """Past lifecycle events, oldest first; ``async for`` follows the pages."""

        async def fetch(cur: Optional[str]):  # type: ignore[no-untyped-def]
            r = await self._t.request("GET", "/api/v1/events", params=_params(vm, page_size, cur))
            return page_of(r.json(), "events", Event)

        return AsyncPager(fetch, None if after is None else str(after))

    @operation("GET", "/api/v1/events/vms")
    def watch_vms(self, *, vm: Optional[str] = None, last_event_id: Optional[int] = None,
                  timeout: Optional[float] = None) -> AsyncEventStream[Event]:
        """Live lifecycle events, reconnecting on its own (``async for``)."""
        return AsyncEventStream(self._t, "/api/v1/events/vms", {"vm": vm}, Event.from_json,
                                last_event_id, timeout)

    @operation("GET", "/api/v1/events/jobs")
    def watch_jobs(self, *, job: Optional[str] = None, last_event_id: Optional[int] = None,
                   timeout: Optional[float] = None) -> AsyncEventStream[JobEvent]:
        """Live job events, reconnecting on its own (``async for``)."""
        client = self._client

        def decode(d: Dict[str, Any]) -> JobEvent:
            ev = JobEvent.from_json(d)
            ev.job._client = client
            return ev

        return AsyncEventStream(self._t, "/api/v1/events/jobs", {"job": job}, decode, last_event_id, timeout)
