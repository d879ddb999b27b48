"""Boot images: ``/api/v1/images``."""

from __future__ import annotations

from typing import Optional

from .._operations import operation
from .._pagination import AsyncPager, Pager
from .._transport import seg
from ..models import Image
from ._base import AsyncResource, SyncResource, page_of


class Images(SyncResource):
    """``h.images``: what VMs can boot."""

    @operation("GET", "/api/v1/images")
    def list(self) -> Pager[Image]:
        """Every image."""
        return Pager(lambda _after: page_of(self._t.request("GET", "/api/v1/images").json(), "images", Image))

    @operation("GET", "/api/v1/images/{name}")
    def get(self, name: str) -> Image:
        """One image; ``HypeError`` ``image_not_found`` when there is none."""
        return Image.from_json(self._t.request("GET", f"/api/v1/images/{seg(name)}").json())

    @operation("DELETE", "/api/v1/images/{name}")
    def delete(self, name: str) -> None:
        """Forgets an image (``409`` while a VM uses it)."""
        self._t.request("DELETE", f"/api/v1/images/{seg(name)}")


class AsyncImages(AsyncResource):
    """``h.images`` of :class:`~hype.AsyncHype`."""

    @operation("GET", "/api/v1/images")
    def list(self) -> AsyncPager[Image]:
        """Every image."""

        async def fetch(_after: Optional[str]):  # type: ignore[no-untyped-def]
            return page_of((await self._t.request("GET", "/api/v1/images")).json(), "images", Image)

        return AsyncPager(fetch)

    @operation("GET", "/api/v1/images/{name}")
    async def get(self, name: str) -> Image:
        """One image."""
        return Image.from_json((await self._t.request("GET", f"/api/v1/images/{seg(name)}")).json())

    @operation("DELETE", "/api/v1/images/{name}")
    async def delete(self, name: str) -> None:
        """Forgets an image."""
        await self._t.request("DELETE", f"/api/v1/images/{seg(name)}")
