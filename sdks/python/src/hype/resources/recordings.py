"""Session recordings of browser sandboxes: ``/api/v1/recordings`` and a
VM's ``recordings``. A recording outlives its VM until it is deleted."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .._operations import operation
from .._transport import seg
from ..models import Recording, RecordingList
from ._base import AsyncResource, SyncResource


def _get_path(rec_id: str, vm: Optional[str]) -> str:
    if vm is None:
        return f"/api/v1/recordings/{seg(rec_id)}"
    return f"/api/v1/vms/{seg(vm)}/recordings/{seg(rec_id)}"


class Recordings(SyncResource):
    """``h.recordings``: what ``record=True`` sandboxes recorded (rrweb DOM
    events, one recording per run of the VM, ended when the run ends)."""

    @operation("GET", "/api/v1/vms/{name}/recordings")
    def list(self, vm: str) -> List[Recording]:
        """The recordings of VMs named ``vm``, oldest first, deleted VMs' too;
        ``HypeError`` ``vm_not_found`` for a name with neither."""
        data = self._t.request("GET", f"/api/v1/vms/{seg(vm)}/recordings").json()
        return RecordingList.from_json(data).items

    @operation("GET", "/api/v1/recordings/{id}")
    @operation("GET", "/api/v1/vms/{name}/recordings/{id}")
    def get(self, rec_id: str, *, vm: Optional[str] = None) -> Recording:
        """One recording; with ``vm``, only if it is one of that VM's.
        ``HypeError`` ``recording_not_found`` otherwise."""
        return Recording.from_json(self._t.request("GET", _get_path(rec_id, vm)).json())

    @operation("GET", "/api/v1/recordings/{id}/events")
    def events(self, rec_id: str) -> List[Dict[str, Any]]:
        """The recording's rrweb events, in the order the pages sent them
        (hyped answers one JSON array, which an rrweb ``Replayer`` plays)."""
        events: List[Dict[str, Any]] = self._t.request("GET", f"/api/v1/recordings/{seg(rec_id)}/events").json()
        return events

    @operation("DELETE", "/api/v1/recordings/{id}")
    def delete(self, rec_id: str) -> None:
        """Deletes a recording and its events."""
        self._t.request("DELETE", f"/api/v1/recordings/{seg(rec_id)}")


class AsyncRecordings(AsyncResource):
    """``h.recordings`` of :class:`~hype.AsyncHype`."""

    @operation("GET", "/api/v1/vms/{name}/recordings")
    async def list(self, vm: str) -> List[Recording]:
        """The recordings of VMs named ``vm``, oldest first."""
        data = (await self._t.request("GET", f"/api/v1/vms/{seg(vm)}/recordings")).json()
        return RecordingList.from_json(data).items

    @operation("GET", "/api/v1/recordings/{id}")
    @operation("GET", "/api/v1/vms/{name}/recordings/{id}")
    async def get(self, rec_id: str, *, vm: Optional[str] = None) -> Recording:
        """One recording; with ``vm``, only if it is one of that VM's."""
        return Recording.from_json((await self._t.request("GET", _get_path(rec_id, vm))).json())

    @operation("GET", "/api/v1/recordings/{id}/events")
    async def events(self, rec_id: str) -> List[Dict[str, Any]]:
        """The recording's rrweb events, in the order the pages sent them."""
        r = await self._t.request("GET", f"/api/v1/recordings/{seg(rec_id)}/events")
        events: List[Dict[str, Any]] = r.json()
        return events

    @operation("DELETE", "/api/v1/recordings/{id}")
    async def delete(self, rec_id: str) -> None:
        """Deletes a recording and its events."""
        await self._t.request("DELETE", f"/api/v1/recordings/{seg(rec_id)}")
