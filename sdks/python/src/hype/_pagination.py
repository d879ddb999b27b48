"""Lists that follow the server's ``next`` cursor as they are iterated."""

from __future__ import annotations

from typing import AsyncIterator, Awaitable, Callable, Generic, Iterator, List, Optional, Tuple, TypeVar

T = TypeVar("T")

Page = Tuple[List[T], Optional[str]]


class Pager(Generic[T]):
    """An iterable over every item of a paged list; pages are fetched as
    iteration reaches them (``list(pager)`` or :meth:`to_list` for all)."""

    def __init__(self, fetch: Callable[[Optional[str]], Page[T]], after: Optional[str] = None) -> None:
        self._fetch = fetch
        self._after = after

    def __iter__(self) -> Iterator[T]:
        cursor = self._after
        while True:
            items, cursor = self._fetch(cursor)
            yield from items
            if not cursor or not items:
                return

    def to_list(self) -> List[T]:
        """Every item, all pages fetched."""
        return list(self)


class AsyncPager(Generic[T]):
    """The async :class:`Pager`: ``async for item in pager`` or ``await pager.to_list()``."""

    def __init__(self, fetch: Callable[[Optional[str]], Awaitable[Page[T]]], after: Optional[str] = None) -> None:
        self._fetch = fetch
        self._after = after

    async def __aiter__(self) -> AsyncIterator[T]:
        cursor = self._after
        while True:
            items, cursor = await self._fetch(cursor)
            for item in items:
                yield item
            if not cursor or not items:
                return

    async def to_list(self) -> List[T]:
        """Every item, all pages fetched."""
        return [item async for item in self]
