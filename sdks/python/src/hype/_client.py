"""The clients: :class:`Hype` (blocking) and :class:`AsyncHype` (asyncio)."""

from __future__ import annotations

from typing import Any, Dict, Optional

import httpx

from ._errors import HypeError
from ._sandbox import AsyncSandbox, Sandbox, SandboxStarter, new_name
from ._transport import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, AsyncTransport, SyncTransport, Timeout
from .models import NetworkSpec
from .resources.events import AsyncEvents, Events
from .resources.images import AsyncImages, Images
from .resources.jobs import AsyncJobs, Jobs
from .resources.pools import AsyncPools, Pools
from .resources.recordings import AsyncRecordings, Recordings
from .resources.snapshots import AsyncSnapshots, Snapshots
from .resources.sources import AsyncSources, Sources
from .resources.system import AsyncSystem, System
from .resources.vms import WAIT_TIMEOUT, AsyncVMs, VMs

#: The resources of each client: attribute -> (sync class, async class).
#: A new resource is one module in ``hype/resources`` and one line here.
RESOURCES = {
    "system": (System, AsyncSystem),
    "vms": (VMs, AsyncVMs),
    "images": (Images, AsyncImages),
    "jobs": (Jobs, AsyncJobs),
    "sources": (Sources, AsyncSources),
    "events": (Events, AsyncEvents),
    "snapshots": (Snapshots, AsyncSnapshots),
    "pools": (Pools, AsyncPools),
    "recordings": (Recordings, AsyncRecordings),
}


class Hype:
    """A client of hyped's REST API.

    ``base_url`` defaults to ``HYPE_API_BASE`` (else
    ``http://127.0.0.1:7777``) and ``api_key`` to ``HYPE_API_KEY`` (sent
    as ``Authorization: Bearer``). ``http_client`` lets you bring your own
    ``httpx.Client`` (proxies, TLS, event hooks); the SDK then leaves it
    open. A request hyped refuses with 429 (its ``--rate-limit``) is sent
    again after its ``Retry-After``, up to ``max_retries`` times. Use it
    as a context manager, or call :meth:`close`.

    >>> h = Hype()
    >>> [vm.name for vm in h.vms.list()]  # doctest: +SKIP
    """

    system: System
    vms: VMs
    images: Images
    jobs: Jobs
    events: Events
    recordings: Recordings

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None, *,
                 timeout: Timeout = DEFAULT_TIMEOUT, http_client: Optional[httpx.Client] = None,
                 max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        self._transport = SyncTransport(base_url, api_key, timeout, http_client, max_retries)
        for attr, (sync_cls, _) in RESOURCES.items():
            setattr(self, attr, sync_cls(self))

    @property
    def base_url(self) -> str:
        """The API's base URL, e.g. ``http://127.0.0.1:7777``."""
        return self._transport.base_url

    def cdp_headers(self) -> Dict[str, str]:
        """The headers a CDP client sends to a sandbox's ``cdp_url``."""
        return self._transport.auth_headers()

    def sandbox(self, *, image: str = "browser", cpu_cores: int = 2, memory_mb: int = 1536,
                ttl: Optional[int] = None, name: Optional[str] = None,
                idle_timeout: Optional[int] = None, network: Optional[NetworkSpec] = None,
                timeout: Optional[float] = WAIT_TIMEOUT, **create_args: Any) -> Sandbox:
        """Creates a VM, waits until it runs, and returns it as a :class:`Sandbox`::

            with h.sandbox(image="browser", ttl=600) as sb:
                browser = sb.playwright()

        The VM is deleted when the ``with`` block ends; ``ttl`` (seconds)
        deletes it on the server's side even if this process dies. If the
        VM does not come up (crash, ``timeout``), it is deleted and the
        error raised.
        """
        name = name or new_name()
        self.vms.create(name, image=image, cpu_cores=cpu_cores, memory_mb=memory_mb, ttl_seconds=ttl,
                        idle_timeout_seconds=idle_timeout, network=network, **create_args)
        try:
            vm = self.vms.wait(name, "running", timeout=timeout)
        except BaseException:
            try:
                self.vms.delete(name)
            except HypeError:
                pass
            raise
        return Sandbox(self, vm)

    def close(self) -> None:
        """Closes the HTTP connections (not a client passed in)."""
        self._transport.close()

    def __enter__(self) -> "Hype":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._transport).replace("SyncTransport", "Hype")


class AsyncHype:
    """The asyncio client: the same resources as :class:`Hype`, awaitable.

    >>> async with AsyncHype() as h:  # doctest: +SKIP
    ...     vm = await h.vms.get("s1")
    """

    system: AsyncSystem
    vms: AsyncVMs
    images: AsyncImages
    jobs: AsyncJobs
    events: AsyncEvents
    recordings: AsyncRecordings

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None, *,
                 timeout: Timeout = DEFAULT_TIMEOUT, http_client: Optional[httpx.AsyncClient] = None,
                 max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        self._transport = AsyncTransport(base_url, api_key, timeout, http_client, max_retries)
        for attr, (_, async_cls) in RESOURCES.items():
            setattr(self, attr, async_cls(self))

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._transport.base_url

    def cdp_headers(self) -> Dict[str, str]:
        """The headers a CDP client sends to a sandbox's ``cdp_url``."""
        return self._transport.auth_headers()

    def sandbox(self, *, image: str = "browser", cpu_cores: int = 2, memory_mb: int = 1536,
                ttl: Optional[int] = None, name: Optional[str] = None,
                idle_timeout: Optional[int] = None, network: Optional[NetworkSpec] = None,
                timeout: Optional[float] = WAIT_TIMEOUT, **create_args: Any) -> SandboxStarter:
        """``async with h.sandbox(image="browser", ttl=600) as sb:``, or
        ``sb = await h.sandbox(...)`` and ``await sb.delete()`` yourself;
        see :meth:`Hype.sandbox`."""

        async def make() -> AsyncSandbox:
            vm_name = name or new_name()
            await self.vms.create(vm_name, image=image, cpu_cores=cpu_cores, memory_mb=memory_mb,
                                  ttl_seconds=ttl, idle_timeout_seconds=idle_timeout, network=network,
                                  **create_args)
            try:
                vm = await self.vms.wait(vm_name, "running", timeout=timeout)
            except BaseException:
                try:
                    await self.vms.delete(vm_name)
                except HypeError:
                    pass
                raise
            return AsyncSandbox(self, vm)

        return SandboxStarter(make)

    async def close(self) -> None:
        """Closes the HTTP connections (not a client passed in)."""
        await self._transport.close()

    async def __aenter__(self) -> "AsyncHype":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return repr(self._transport).replace("AsyncTransport", "AsyncHype")
