"""Liveness, version, metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any, Dict

from .._operations import operation
from ..models import StatusInfo, VersionInfo
from ._base import AsyncResource, SyncResource


class System(SyncResource):
    """``h.system``: facts about the server itself."""

    @operation("GET", "/healthz")
    def health(self) -> bool:
        """Whether hyped answers its liveness check (``GET /healthz``, no key needed)."""
        return self._t.request("GET", "/healthz").text.strip() == "ok"

    @operation("GET", "/api/v1/version")
    def version(self) -> VersionInfo:
        """Server, API and VMM versions, and how guests are accelerated."""
        return VersionInfo.from_json(self._t.request("GET", "/api/v1/version").json())

    @operation("GET", "/api/v1/status")
    def status(self) -> StatusInfo:
        """Uptime, VMs and jobs by state, free memory and disk, the accelerator, the network's problems."""
        return StatusInfo.from_json(self._t.request("GET", "/api/v1/status").json())

    @operation("GET", "/api/v1/openapi.json")
    def openapi(self) -> Dict[str, Any]:
        """The OpenAPI 3 document of the API."""
        return self._t.request("GET", "/api/v1/openapi.json").json()  # type: ignore[no-any-return]

    @operation("GET", "/metrics")
    def metrics(self) -> str:
        """Prometheus/OpenMetrics text."""
        return self._t.request("GET", "/metrics", headers={"Accept": "text/plain"}).text


class AsyncSystem(AsyncResource):
    """``h.system`` of :class:`~hype.AsyncHype`."""

    @operation("GET", "/healthz")
    async def health(self) -> bool:
        """Whether hyped answers its liveness check."""
        return (await self._t.request("GET", "/healthz")).text.strip() == "ok"

    @operation("GET", "/api/v1/version")
    async def version(self) -> VersionInfo:
        """Server, API and VMM versions, and how guests are accelerated."""
        return VersionInfo.from_json((await self._t.request("GET", "/api/v1/version")).json())

    @operation("GET", "/api/v1/status")
    async def status(self) -> StatusInfo:
        """Uptime, VMs and jobs by state, free memory and disk, the accelerator, the network's problems."""
        return StatusInfo.from_json((await self._t.request("GET", "/api/v1/status")).json())

    @operation("GET", "/api/v1/openapi.json")
    async def openapi(self) -> Dict[str, Any]:
        """The OpenAPI 3 document of the API."""
        return (await self._t.request("GET", "/api/v1/openapi.json")).json()  # type: ignore[no-any-return]

    @operation("GET", "/metrics")
    async def metrics(self) -> str:
        """Prometheus/OpenMetrics text."""
        return (await self._t.request("GET", "/metrics", headers={"Accept": "text/plain"})).text
