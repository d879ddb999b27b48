"""VMs: ``/api/v1/vms`` and everything under a VM's name."""

from __future__ import annotations

import time
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Union

from httpx_sse import aconnect_sse, connect_sse

from .._errors import HypeError, HypeTimeoutError
from .._operations import operation
from .._pagination import AsyncPager, Pager
from .._transport import error_from, query, seg
from ..models import (
    ConsoleMessage, Event, ForkResult, GuestNetwork, LiveLink, NetworkRequest, NetworkSpec, ProbeResult, Vm, VmmChoice,
    VmState,
)
from ._base import PAGE_SIZE, page_of
from .guest import AsyncGuest, Guest

#: How long :meth:`VMs.wait` waits by default, in seconds (browser guests
#: under TCG take a while).
WAIT_TIMEOUT = 300.0


def _path(name: str, rest: str = "") -> str:
    return f"/api/v1/vms/{seg(name)}{rest}"


def _create_body(name: str, args: Dict[str, Any]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"name": name}
    body.update({k: v for k, v in args.items() if v is not None})
    return body


def _given(args: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in args.items() if v is not None}


def _list_params(state: Optional[str], page_size: Optional[int], after: Optional[str],
                 pool: Optional[str] = None) -> Dict[str, Any]:
    params = {"state": state, "limit": page_size or PAGE_SIZE, "after": after}
    if pool is not None:
        params["pool"] = pool
    return params


def _settled(name: str, state: str, vm_state: str, event: Optional[Event]) -> bool:
    """True when ``vm_state`` is ``state``; raises when it can no longer become it."""
    if vm_state == state:
        return True
    if event is not None and event.type == "VM_DELETED":
        raise HypeError(f"VM {name!r} was deleted while waiting for {state}", status=404, code="vm_not_found")
    if vm_state == "crashed":
        why = f": {event.detail}" if event is not None and event.detail else ""
        raise HypeError(f"VM {name!r} crashed while waiting for {state}{why}", code="vm_crashed")
    return False


def _lines(data: str) -> List[str]:
    return data.split("\n") if data else [""]


class VMs(Guest):
    """``h.vms``: create, list, drive and delete VMs; run processes and move
    files inside them (the methods of :class:`~hype.resources.guest.Guest`)."""

    @operation("GET", "/api/v1/vms")
    def list(self, *, state: Optional[VmState] = None, page_size: Optional[int] = None,
             pool: Optional[str] = None) -> Pager[Vm]:
        """VMs by name (only those in ``state`` if given); iterating follows
        the pages. ``list(h.vms.list())`` for all at once. With ``pool``, the
        VMs waiting in that warm pool instead (they are not users' VMs)."""
        return Pager(lambda cur: page_of(
            self._t.request("GET", "/api/v1/vms", params=_list_params(state, page_size, cur, pool)).json(),
            "vms", Vm))

    @operation("POST", "/api/v1/vms")
    def create(self, name: str, *, image: Optional[str] = None, cpu_cores: Optional[int] = None,
               memory_mb: Optional[int] = None, ttl_seconds: Optional[int] = None,
               idle_timeout_seconds: Optional[int] = None, kernel_cmdline: Optional[str] = None,
               vmm: Optional[VmmChoice] = None, network: Optional[NetworkSpec] = None,
               persist: Optional[bool] = None, record: Optional[bool] = None,
               snapshot: Optional[str] = None,
               count: Optional[int] = None, pool: Optional[Union[str, bool]] = None) -> Any:
        """Creates and boots a VM; it comes back ``starting`` (see :meth:`wait`).

        Arguments left ``None`` take the server's defaults (1 CPU, 512 MiB,
        the default image). ``ttl_seconds`` deletes it that long after its
        creation, ``idle_timeout_seconds`` after that long without a CDP
        client; ``network={"egress": False}`` keeps it off the internet.
        With ``snapshot``, the VM is a fork of that snapshot and comes back
        ``running``; with ``count`` too, ``NAME-1`` .. ``NAME-K`` are made
        and a :class:`~hype.models.ForkResult` lists each made and failed.
        With ``pool``, a ready sandbox of that warm pool is handed over,
        already ``running`` (a create of a pool's image, CPUs and memory is
        served from it unasked; ``pool=False`` boots cold). ``record=True``
        (browser images) records every page of the session, replayable in
        the console.
        """
        body = _create_body(name, dict(image=image, cpu_cores=cpu_cores, memory_mb=memory_mb,
                                       ttl_seconds=ttl_seconds, idle_timeout_seconds=idle_timeout_seconds,
                                       kernel_cmdline=kernel_cmdline, vmm=vmm, network=network,
                                       persist=persist, record=record, snapshot=snapshot, count=count, pool=pool))
        data = self._t.request("POST", "/api/v1/vms", json=body).json()
        return ForkResult.from_json(data) if count is not None else Vm.from_json(data)

    @operation("POST", "/api/v1/vms/{name}/fork")
    def fork(self, name: str, new_name: str, *, count: Optional[int] = None,
             ttl_seconds: Optional[int] = None, idle_timeout_seconds: Optional[int] = None) -> ForkResult:
        """Snapshots running VM ``name`` and starts ``new_name`` from it (or
        ``new_name-1`` .. ``-K`` with ``count``); each fork comes back running
        or in ``failed``. The snapshot goes with the last of its forks."""
        body = _create_body(new_name, dict(count=count, ttl_seconds=ttl_seconds,
                                           idle_timeout_seconds=idle_timeout_seconds))
        return ForkResult.from_json(self._t.request("POST", _path(name, "/fork"), json=body).json())

    @operation("GET", "/api/v1/vms/{name}")
    def get(self, name: str) -> Vm:
        """One VM; ``HypeError`` with code ``vm_not_found`` when there is none."""
        return Vm.from_json(self._t.request("GET", _path(name)).json())

    @operation("DELETE", "/api/v1/vms/{name}")
    def delete(self, name: str) -> None:
        """Stops and destroys a VM, freeing its address and tap."""
        self._t.request("DELETE", _path(name))

    def _action(self, name: str, action: str) -> Vm:
        return Vm.from_json(self._t.request("POST", _path(name, f"/{action}")).json())

    @operation("POST", "/api/v1/vms/{name}/start")
    def start(self, name: str) -> Vm:
        """Boots a stopped or crashed VM."""
        return self._action(name, "start")

    @operation("POST", "/api/v1/vms/{name}/stop")
    def stop(self, name: str) -> Vm:
        """Shuts down gracefully, forcefully after the server's timeout."""
        return self._action(name, "stop")

    @operation("POST", "/api/v1/vms/{name}/pause")
    def pause(self, name: str) -> Vm:
        """Freezes the vCPUs."""
        return self._action(name, "pause")

    @operation("POST", "/api/v1/vms/{name}/resume")
    def resume(self, name: str) -> Vm:
        """Unfreezes the vCPUs."""
        return self._action(name, "resume")

    @operation("POST", "/api/v1/vms/{name}/snapshot")
    def snapshot(self, name: str) -> Vm:
        """Saves the VM to disk and releases its VMM (state ``standby``)."""
        return self._action(name, "snapshot")

    @operation("POST", "/api/v1/vms/{name}/restore")
    def restore(self, name: str) -> Vm:
        """Brings a standby VM back."""
        return self._action(name, "restore")

    def wait(self, name: str, state: VmState = "running", *, timeout: Optional[float] = WAIT_TIMEOUT) -> Vm:
        """Waits, on the event stream, until the VM is in ``state``; returns it.

        Raises ``HypeError`` ``vm_crashed`` if it crashes first,
        ``vm_not_found`` if it is deleted, ``HypeTimeoutError`` after
        ``timeout`` seconds (``None``: no limit).
        """
        with self._client.events.watch_vms(vm=name, timeout=timeout) as events:
            events.connect()  # subscribed before looking: nothing falls between
            vm = self.get(name)
            if _settled(name, state, vm.state, None):
                return vm
            for ev in events:
                if _settled(name, state, ev.state, ev):
                    return self.get(name)
        raise HypeTimeoutError(f"VM {name!r} did not become {state}")  # pragma: no cover

    @operation("GET", "/api/v1/vms/{name}/logs")
    def logs(self, name: str, *, tail: Optional[int] = None) -> str:
        """The serial console's newest output (the last ``tail`` lines)."""
        return self._t.request("GET", _path(name, "/logs"), params={"tail": tail},
                               headers={"Accept": "text/plain"}).text

    @operation("GET", "/api/v1/vms/{name}/logs")
    def follow_logs(self, name: str, *, tail: Optional[int] = None) -> Iterator[str]:
        """Console lines as they come (after the last ``tail`` lines); ends
        when the VM is deleted. Close the iterator to stop early."""
        kwargs = {"params": query({"follow": True, "tail": tail}), "headers": self._t.headers(),
                  "timeout": None}
        with connect_sse(self._t.http, "GET", self._t.url(_path(name, "/logs")), **kwargs) as src:
            if src.response.status_code >= 400:
                raise error_from(src.response, src.response.read())
            for sse in src.iter_sse():
                if sse.event == "end":
                    return
                if sse.event == "log":
                    yield from _lines(sse.data)

    @operation("POST", "/api/v1/vms/{name}/live-links")
    def live_link(self, name: str, *, expires_in: Optional[int] = None,
                  interactive: Optional[bool] = None) -> LiveLink:
        """A link to the VM's live view for someone without the key, valid
        ``expires_in`` seconds (1 to 86400; hyped's default 3600), view only
        unless ``interactive``. Its URL holds a secret token: do not log it."""
        body = _given(dict(expires_in=expires_in, interactive=interactive))
        return LiveLink.from_json(self._t.request("POST", _path(name, "/live-links"), json=body).json())

    @operation("GET", "/api/v1/vms/{name}/screenshot")
    def screenshot(self, name: str) -> bytes:
        """A PNG of the browser's active page (browser images)."""
        return self._t.request("GET", _path(name, "/screenshot"), headers={"Accept": "image/png"}).content

    @operation("GET", "/api/v1/vms/{name}/cdp/json/version")
    def cdp_version(self, name: str) -> Dict[str, Any]:
        """The browser's ``/json/version``, its URLs pointing at hyped."""
        return self._t.request("GET", _path(name, "/cdp/json/version")).json()  # type: ignore[no-any-return]

    @operation("GET", "/api/v1/vms/{name}/cdp/json/list")
    def cdp_targets(self, name: str) -> List[Dict[str, Any]]:
        """The browser's targets (``/json/list``), their URLs pointing at hyped."""
        return self._t.request("GET", _path(name, "/cdp/json/list")).json()  # type: ignore[no-any-return]

    @operation("GET", "/api/v1/vms/{name}/browser/console")
    def browser_console(self, name: str, *, after: Optional[int] = None) -> List[ConsoleMessage]:
        """The console messages of a browser sandbox's pages since it started
        (the newest 1,000), oldest first; only those with a ``seq`` above
        ``after`` if given."""
        r = self._t.request("GET", _path(name, "/browser/console"), params={"after": after})
        return [ConsoleMessage.from_json(m) for m in r.json()["messages"]]

    @operation("GET", "/api/v1/vms/{name}/browser/network")
    def browser_network(self, name: str, *, after: Optional[int] = None) -> List[NetworkRequest]:
        """The network requests of a browser sandbox's pages (the newest
        1,000), oldest first, with their responses once there are."""
        r = self._t.request("GET", _path(name, "/browser/network"), params={"after": after})
        return [NetworkRequest.from_json(m) for m in r.json()["requests"]]

    @operation("GET", "/api/v1/vms/{name}/guest/network")
    def guest_network(self, name: str) -> GuestNetwork:
        """The guest's interfaces and gateway, as its agent sees them."""
        return GuestNetwork.from_json(self._t.request("GET", _path(name, "/guest/network")).json())

    @operation("POST", "/api/v1/vms/{name}/guest/probe")
    def probe(self, name: str, target: str, *, timeout_ms: Optional[int] = None) -> ProbeResult:
        """Pings ``target`` (an IPv4 address) from inside the guest."""
        body: Dict[str, Union[str, int]] = {"target": target}
        if timeout_ms is not None:
            body["timeout_ms"] = timeout_ms
        return ProbeResult.from_json(self._t.request("POST", _path(name, "/guest/probe"), json=body).json())



class AsyncVMs(AsyncGuest):
    """``h.vms`` of :class:`~hype.AsyncHype`; the same methods, awaitable."""

    @operation("GET", "/api/v1/vms")
    def list(self, *, state: Optional[VmState] = None, page_size: Optional[int] = None,
             pool: Optional[str] = None) -> AsyncPager[Vm]:
        """VMs by name; ``async for`` follows the pages."""

        async def fetch(cur: Optional[str]):  # type: ignore[no-untyped-def]
            r = await self._t.request("GET", "/api/v1/vms", params=_list_params(state, page_size, cur, pool))
            return page_of(r.json(), "vms", Vm)

        return AsyncPager(fetch)

    @operation("POST", "/api/v1/vms")
    async def create(self, name: str, *, image: Optional[str] = None, cpu_cores: Optional[int] = None,
                     memory_mb: Optional[int] = None, ttl_seconds: Optional[int] = None,
                     idle_timeout_seconds: Optional[int] = None, kernel_cmdline: Optional[str] = None,
                     vmm: Optional[VmmChoice] = None, network: Optional[NetworkSpec] = None,
                     persist: Optional[bool] = None, record: Optional[bool] = None,
                     snapshot: Optional[str] = None,
                     count: Optional[int] = None, pool: Optional[Union[str, bool]] = None) -> Any:
        """Creates and boots a VM (see :meth:`VMs.create`)."""
        body = _create_body(name, dict(image=image, cpu_cores=cpu_cores, memory_mb=memory_mb,
                                       ttl_seconds=ttl_seconds, idle_timeout_seconds=idle_timeout_seconds,
                                       kernel_cmdline=kernel_cmdline, vmm=vmm, network=network,
                                       persist=persist, record=record, snapshot=snapshot, count=count, pool=pool))
        data = (await self._t.request("POST", "/api/v1/vms", json=body)).json()
        return ForkResult.from_json(data) if count is not None else Vm.from_json(data)

    @operation("POST", "/api/v1/vms/{name}/fork")
    async def fork(self, name: str, new_name: str, *, count: Optional[int] = None,
                   ttl_seconds: Optional[int] = None, idle_timeout_seconds: Optional[int] = None) -> ForkResult:
        """Snapshots ``name`` and forks it (see :meth:`VMs.fork`)."""
        body = _create_body(new_name, dict(count=count, ttl_seconds=ttl_seconds,
                                           idle_timeout_seconds=idle_timeout_seconds))
        return ForkResult.from_json((await self._t.request("POST", _path(name, "/fork"), json=body)).json())

    @operation("GET", "/api/v1/vms/{name}")
    async def get(self, name: str) -> Vm:
        """One VM."""
        return Vm.from_json((await self._t.request("GET", _path(name))).json())

    @operation("DELETE", "/api/v1/vms/{name}")
    async def delete(self, name: str) -> None:
        """Stops and destroys a VM."""
        await self._t.request("DELETE", _path(name))

    async def _action(self, name: str, action: str) -> Vm:
        return Vm.from_json((await self._t.request("POST", _path(name, f"/{action}"))).json())

    @operation("POST", "/api/v1/vms/{name}/start")
    async def start(self, name: str) -> Vm:
        """Boots a stopped or crashed VM."""
        return await self._action(name, "start")

    @operation("POST", "/api/v1/vms/{name}/stop")
    async def stop(self, name: str) -> Vm:
        """Shuts down gracefully, forcefully after the server's timeout."""
        return await self._action(name, "stop")

    @operation("POST", "/api/v1/vms/{name}/pause")
    async def pause(self, name: str) -> Vm:
        """Freezes the vCPUs."""
        return await self._action(name, "pause")

    @operation("POST", "/api/v1/vms/{name}/resume")
    async def resume(self, name: str) -> Vm:
        """Unfreezes the vCPUs."""
        return await self._action(name, "resume")

    @operation("POST", "/api/v1/vms/{name}/snapshot")
    async def snapshot(self, name: str) -> Vm:
        """Saves the VM to disk and releases its VMM (``standby``)."""
        return await self._action(name, "snapshot")

    @operation("POST", "/api/v1/vms/{name}/restore")
    async def restore(self, name: str) -> Vm:
        """Brings a standby VM back."""
        return await self._action(name, "restore")

    async def wait(self, name: str, state: VmState = "running", *,
                   timeout: Optional[float] = WAIT_TIMEOUT) -> Vm:
        """Waits, on the event stream, until the VM is in ``state`` (see :meth:`VMs.wait`)."""
        async with self._client.events.watch_vms(vm=name, timeout=timeout) as events:
            await events.connect()
            vm = await self.get(name)
            if _settled(name, state, vm.state, None):
                return vm
            async for ev in events:
                if _settled(name, state, ev.state, ev):
                    return await self.get(name)
        raise HypeTimeoutError(f"VM {name!r} did not become {state}")  # pragma: no cover

    @operation("GET", "/api/v1/vms/{name}/logs")
    async def logs(self, name: str, *, tail: Optional[int] = None) -> str:
        """The serial console's newest output."""
        r = await self._t.request("GET", _path(name, "/logs"), params={"tail": tail},
                                  headers={"Accept": "text/plain"})
        return r.text

    @operation("GET", "/api/v1/vms/{name}/logs")
    async def follow_logs(self, name: str, *, tail: Optional[int] = None) -> AsyncIterator[str]:
        """Console lines as they come; ends when the VM is deleted."""
        kwargs = {"params": query({"follow": True, "tail": tail}), "headers": self._t.headers(),
                  "timeout": None}
        async with aconnect_sse(self._t.http, "GET", self._t.url(_path(name, "/logs")), **kwargs) as src:
            if src.response.status_code >= 400:
                raise error_from(src.response, await src.response.aread())
            async for sse in src.aiter_sse():
                if sse.event == "end":
                    return
                if sse.event == "log":
                    for line in _lines(sse.data):
                        yield line

    @operation("POST", "/api/v1/vms/{name}/live-links")
    async def live_link(self, name: str, *, expires_in: Optional[int] = None,
                        interactive: Optional[bool] = None) -> LiveLink:
        """A link to the VM's live view; see :meth:`VMs.live_link`."""
        body = _given(dict(expires_in=expires_in, interactive=interactive))
        return LiveLink.from_json((await self._t.request("POST", _path(name, "/live-links"), json=body)).json())

    @operation("GET", "/api/v1/vms/{name}/screenshot")
    async def screenshot(self, name: str) -> bytes:
        """A PNG of the browser's active page."""
        return (await self._t.request("GET", _path(name, "/screenshot"), headers={"Accept": "image/png"})).content

    @operation("GET", "/api/v1/vms/{name}/cdp/json/version")
    async def cdp_version(self, name: str) -> Dict[str, Any]:
        """The browser's ``/json/version``, its URLs pointing at hyped."""
        return (await self._t.request("GET", _path(name, "/cdp/json/version"))).json()  # type: ignore[no-any-return]

    @operation("GET", "/api/v1/vms/{name}/cdp/json/list")
    async def cdp_targets(self, name: str) -> List[Dict[str, Any]]:
        """The browser's targets, their URLs pointing at hyped."""
        return (await self._t.request("GET", _path(name, "/cdp/json/list"))).json()  # type: ignore[no-any-return]

    @operation("GET", "/api/v1/vms/{name}/browser/console")
    async def browser_console(self, name: str, *, after: Optional[int] = None) -> List[ConsoleMessage]:
        """The console messages of a browser sandbox's pages (see :meth:`VMs.browser_console`)."""
        r = await self._t.request("GET", _path(name, "/browser/console"), params={"after": after})
        return [ConsoleMessage.from_json(m) for m in r.json()["messages"]]

    @operation("GET", "/api/v1/vms/{name}/browser/network")
    async def browser_network(self, name: str, *, after: Optional[int] = None) -> List[NetworkRequest]:
        """The network requests of a browser sandbox's pages (see :meth:`VMs.browser_network`)."""
        r = await self._t.request("GET", _path(name, "/browser/network"), params={"after": after})
        return [NetworkRequest.from_json(m) for m in r.json()["requests"]]

    @operation("GET", "/api/v1/vms/{name}/guest/network")
    async def guest_network(self, name: str) -> GuestNetwork:
        """The guest's interfaces and gateway."""
        return GuestNetwork.from_json((await self._t.request("GET", _path(name, "/guest/network"))).json())

    @operation("POST", "/api/v1/vms/{name}/guest/probe")
    async def probe(self, name: str, target: str, *, timeout_ms: Optional[int] = None) -> ProbeResult:
        """Pings ``target`` from inside the guest."""
        body: Dict[str, Union[str, int]] = {"target": target}
        if timeout_ms is not None:
            body["timeout_ms"] = timeout_ms
        r = await self._t.request("POST", _path(name, "/guest/probe"), json=body)
        return ProbeResult.from_json(r.json())
