"""Warm pools: ``/api/v1/pools``."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .._operations import operation
from .._transport import seg
from ..models import Pool
from ._base import AsyncResource, SyncResource


def _body(name: str, image: str, size: int, cpu_cores: Optional[int], memory_mb: Optional[int]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"name": name, "image": image, "size": size}
    body.update({k: v for k, v in dict(cpu_cores=cpu_cores, memory_mb=memory_mb).items() if v is not None})
    return body


class Pools(SyncResource):
    """``h.pools``: sandboxes of one shape kept ready; ``h.vms.create(name, pool=...)`` takes one."""

    @operation("POST", "/api/v1/pools")
    def create(self, name: str, *, image: str, size: int, cpu_cores: Optional[int] = None,
               memory_mb: Optional[int] = None) -> Pool:
        """Keeps ``size`` sandboxes of this shape ready; it fills in the background (see ``ready``)."""
        r = self._t.request("POST", "/api/v1/pools", json=_body(name, image, size, cpu_cores, memory_mb))
        return Pool.from_json(r.json())

    @operation("GET", "/api/v1/pools")
    def list(self) -> List[Pool]:
        """Every pool, by name."""
        return [Pool.from_json(p) for p in self._t.request("GET", "/api/v1/pools").json()["pools"]]

    @operation("GET", "/api/v1/pools/{name}")
    def get(self, name: str) -> Pool:
        """One pool; ``HypeError`` ``pool_not_found`` when there is none."""
        return Pool.from_json(self._t.request("GET", f"/api/v1/pools/{seg(name)}").json())

    @operation("DELETE", "/api/v1/pools/{name}")
    def delete(self, name: str) -> None:
        """Deletes a pool and the sandboxes waiting in it (those handed out stay)."""
        self._t.request("DELETE", f"/api/v1/pools/{seg(name)}")


class AsyncPools(AsyncResource):
    """``h.pools`` of :class:`~hype.AsyncHype`."""

    @operation("POST", "/api/v1/pools")
    async def create(self, name: str, *, image: str, size: int, cpu_cores: Optional[int] = None,
                     memory_mb: Optional[int] = None) -> Pool:
        """Keeps ``size`` sandboxes of this shape ready."""
        r = await self._t.request("POST", "/api/v1/pools", json=_body(name, image, size, cpu_cores, memory_mb))
        return Pool.from_json(r.json())

    @operation("GET", "/api/v1/pools")
    async def list(self) -> List[Pool]:
        """Every pool, by name."""
        return [Pool.from_json(p) for p in (await self._t.request("GET", "/api/v1/pools")).json()["pools"]]

    @operation("GET", "/api/v1/pools/{name}")
    async def get(self, name: str) -> Pool:
        """One pool."""
        return Pool.from_json((await self._t.request("GET", f"/api/v1/pools/{seg(name)}")).json())

    @operation("DELETE", "/api/v1/pools/{name}")
    async def delete(self, name: str) -> None:
        """Deletes a pool."""
        await self._t.request("DELETE", f"/api/v1/pools/{seg(name)}")
