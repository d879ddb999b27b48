"""Import sources: ``/api/v1/sources/inventory``, what is there to import."""

from __future__ import annotations

from typing import Any, Dict, Optional

from .._operations import operation
from ..models import Inventory, SourceKind
from ._base import AsyncResource, SyncResource


def _body(kind: SourceKind, url: str, username: str, password: Optional[str], insecure: bool) -> Dict[str, Any]:
    body: Dict[str, Any] = {"kind": kind, "url": url, "username": username, "insecure": insecure}
    if password is not None:
        body["password"] = password
    return body


class Sources(SyncResource):
    """``h.sources``: the VMs on a vSphere or XCP-ng source, before importing one."""

    @operation("POST", "/api/v1/sources/inventory")
    def inventory(self, kind: SourceKind, url: str, username: str, *, password: Optional[str] = None,
                  insecure: bool = False) -> Inventory:
        """The source's VMs and templates (name, path or uuid, power state,
        guest OS, firmware, disks, NICs). Without ``password`` hyped uses its
        own, under the rules of jobs (``422 env_password_refused`` otherwise)."""
        body = _body(kind, url, username, password, insecure)
        return Inventory.from_json(self._t.request("POST", "/api/v1/sources/inventory", json=body).json())


class AsyncSources(AsyncResource):
    """``h.sources`` of :class:`~hype.AsyncHype`."""

    @operation("POST", "/api/v1/sources/inventory")
    async def inventory(self, kind: SourceKind, url: str, username: str, *, password: Optional[str] = None,
                        insecure: bool = False) -> Inventory:
        """The source's VMs and templates."""
        body = _body(kind, url, username, password, insecure)
        return Inventory.from_json((await self._t.request("POST", "/api/v1/sources/inventory", json=body)).json())
