"""Snapshots for forks: ``/api/v1/snapshots`` and a VM's ``snapshots``."""

from __future__ import annotations

from typing import List

from .._operations import operation
from .._transport import seg
from ..models import Snapshot
from ._base import AsyncResource, SyncResource


class Snapshots(SyncResource):
    """``h.snapshots``: VMs saved for forks (``h.vms.create(name, snapshot=...)``)."""

    @operation("POST", "/api/v1/vms/{name}/snapshots")
    def create(self, vm: str, name: str) -> Snapshot:
        """Saves running VM ``vm`` as snapshot ``name``; the VM goes on running."""
        r = self._t.request("POST", f"/api/v1/vms/{seg(vm)}/snapshots", json={"name": name})
        return Snapshot.from_json(r.json())

    @operation("GET", "/api/v1/snapshots")
    def list(self) -> List[Snapshot]:
        """Every snapshot, by name."""
        data = self._t.request("GET", "/api/v1/snapshots").json()
        return [Snapshot.from_json(s) for s in data["snapshots"]]

    @operation("GET", "/api/v1/snapshots/{name}")
    def get(self, name: str) -> Snapshot:
        """One snapshot; ``HypeError`` ``snapshot_not_found`` when there is none."""
        return Snapshot.from_json(self._t.request("GET", f"/api/v1/snapshots/{seg(name)}").json())

    @operation("DELETE", "/api/v1/snapshots/{name}")
    def delete(self, name: str) -> None:
        """Deletes a snapshot (``409`` ``snapshot_in_use`` while forks of it exist)."""
        self._t.request("DELETE", f"/api/v1/snapshots/{seg(name)}")


class AsyncSnapshots(AsyncResource):
    """``h.snapshots`` of :class:`~hype.AsyncHype`."""

    @operation("POST", "/api/v1/vms/{name}/snapshots")
    async def create(self, vm: str, name: str) -> Snapshot:
        """Saves running VM ``vm`` as snapshot ``name``."""
        r = await self._t.request("POST", f"/api/v1/vms/{seg(vm)}/snapshots", json={"name": name})
        return Snapshot.from_json(r.json())

    @operation("GET", "/api/v1/snapshots")
    async def list(self) -> List[Snapshot]:
        """Every snapshot, by name."""
        data = (await self._t.request("GET", "/api/v1/snapshots")).json()
        return [Snapshot.from_json(s) for s in data["snapshots"]]

    @operation("GET", "/api/v1/snapshots/{name}")
    async def get(self, name: str) -> Snapshot:
        """One snapshot."""
        return Snapshot.from_json((await self._t.request("GET", f"/api/v1/snapshots/{seg(name)}")).json())

    @operation("DELETE", "/api/v1/snapshots/{name}")
    async def delete(self, name: str) -> None:
        """Deletes a snapshot."""
        await self._t.request("DELETE", f"/api/v1/snapshots/{seg(name)}")
