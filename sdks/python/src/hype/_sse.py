"""Event streams over SSE that survive disconnects and restarts of hyped.

A stream remembers the id of the last event it yielded and reconnects with
``Last-Event-ID``; hyped replays what came after it from SQLite. Ids only
grow, and the stream also drops any id it has already yielded, so an event
is never yielded twice and none is skipped across a reconnect. Without a
``last_event_id`` a stream starts with the events after it first
connected, as ``docker events`` does; ``last_event_id=0`` replays from the
first event.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, AsyncIterator, Callable, Dict, Generic, Iterator, Mapping, Optional, TypeVar

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError, aconnect_sse, connect_sse

from ._errors import HypeError, HypeTimeoutError
from ._transport import AsyncTransport, SyncTransport, error_from, query

T = TypeVar("T")

#: Reconnect delays: the first, and the most it doubles to.
MIN_DELAY, MAX_DELAY = 0.1, 5.0
#: hyped sends a heartbeat every 15 s; a silence this long means a dead
#: connection, which is dropped and made again.
IDLE = 45.0
_RETRYABLE = {408, 429, 500, 502, 503, 504}


class _Stream(Generic[T]):
    def __init__(self, transport: Any, path: str, params: Optional[Mapping[str, Any]],
                 decode: Callable[[Dict[str, Any]], T], last_event_id: Optional[int],
                 timeout: Optional[float]) -> None:
        self._t = transport
        self._path = path
        self._params = dict(params or {})
        self._decode = decode
        #: The id of the last event yielded (where a reconnect resumes).
        self.last_event_id: Optional[int] = last_event_id
        #: How many times the stream connected again after losing its connection.
        self.reconnects = 0
        self._deadline = time.monotonic() + timeout if timeout is not None else None
        self._delay = MIN_DELAY
        self._closed = False
        self._connected_once = False

    def _kwargs(self) -> Dict[str, Any]:
        headers = self._t.headers({"Accept": "text/event-stream"})
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        read = IDLE
        if self._deadline is not None:
            read = max(0.05, min(read, self._deadline - time.monotonic()))
        return {"params": query(self._params), "headers": headers,
                "timeout": httpx.Timeout(10.0, read=read)}

    def _left(self) -> Optional[float]:
        if self._deadline is None:
            return None
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise HypeTimeoutError(f"no end to the wait on {self._path} in time")
        return left

    def _next_delay(self) -> float:
        delay = self._delay
        self._delay = min(MAX_DELAY, self._delay * 2)
        left = self._left()
        return delay if left is None else min(delay, left)

    def _accept(self, sse: ServerSentEvent) -> Optional[T]:
        if sse.retry:
            self._delay = max(MIN_DELAY, sse.retry / 1000)
        if not sse.id or not sse.data:
            return None
        try:
            eid = int(sse.id)
        except ValueError:
            return None
        if self.last_event_id is not None and eid <= self.last_event_id:
            return None
        item = self._decode(json.loads(sse.data))
        self.last_event_id = eid
        self._delay = MIN_DELAY
        return item

    def _opened(self) -> None:
        if self._connected_once:
            self.reconnects += 1
        self._connected_once = True


class EventStream(_Stream[T], Iterator[T], AbstractContextManager):  # type: ignore[type-arg]
    """An iterator of events that reconnects on its own; use it as a context
    manager (or call :meth:`close`) to let go of the connection."""

    def __init__(self, transport: SyncTransport, path: str, params: Optional[Mapping[str, Any]],
                 decode: Callable[[Dict[str, Any]], T], last_event_id: Optional[int] = None,
                 timeout: Optional[float] = None) -> None:
        super().__init__(transport, path, params, decode, last_event_id, timeout)
        self._cm: Optional[AbstractContextManager[EventSource]] = None
        self._events: Optional[Iterator[ServerSentEvent]] = None

    def connect(self) -> "EventStream[T]":
        """Connects now (iteration otherwise connects on its first step):
        events from this point on will be yielded."""
        while self._events is None and not self._closed:
            try:
                cm = connect_sse(self._t.http, "GET", self._t.url(self._path), **self._kwargs())
                source = cm.__enter__()
            except httpx.TransportError:
                time.sleep(self._next_delay())
                continue
            r = source.response
            if r.status_code != 200:
                body = r.read()
                cm.__exit__(None, None, None)
                err = error_from(r, body)
                if r.status_code in _RETRYABLE:
                    time.sleep(self._next_delay())
                    continue
                raise err
            self._cm, self._events = cm, source.iter_sse()
            self._opened()
        return self

    def _drop(self) -> None:
        cm, self._cm, self._events = self._cm, None, None
        if cm is not None:
            try:
                cm.__exit__(None, None, None)
            except Exception:  # a broken connection may fail to close; it is gone either way
                pass

    def __iter__(self) -> "EventStream[T]":
        return self

    def __next__(self) -> T:
        while not self._closed:
            self._left()
            self.connect()
            if self._events is None:
                break
            try:
                sse = next(self._events)
            except StopIteration:  # hyped ended the stream (shutting down)
                self._drop()
                time.sleep(self._next_delay())
                continue
            except httpx.TransportError:
                self._drop()
                time.sleep(self._next_delay())
                continue
            except SSEError as e:
                self._drop()
                raise HypeError(f"not an event stream: {e}", code="bad_stream") from e
            item = self._accept(sse)
            if item is not None:
                return item
        raise StopIteration

    def close(self) -> None:
        """Closes the connection; iteration ends."""
        self._closed = True
        self._drop()

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncEventStream(_Stream[T], AsyncIterator[T], AbstractAsyncContextManager):  # type: ignore[type-arg]
    """The async :class:`EventStream`: ``async for event in stream``."""

    def __init__(self, transport: AsyncTransport, path: str, params: Optional[Mapping[str, Any]],
                 decode: Callable[[Dict[str, Any]], T], last_event_id: Optional[int] = None,
                 timeout: Optional[float] = None) -> None:
        super().__init__(transport, path, params, decode, last_event_id, timeout)
        self._cm: Any = None
        self._events: Optional[AsyncIterator[ServerSentEvent]] = None

    async def connect(self) -> "AsyncEventStream[T]":
        """Connects now: events from this point on will be yielded."""
        while self._events is None and not self._closed:
            try:
                cm = aconnect_sse(self._t.http, "GET", self._t.url(self._path), **self._kwargs())
                source = await cm.__aenter__()
            except httpx.TransportError:
                await asyncio.sleep(self._next_delay())
                continue
            r = source.response
            if r.status_code != 200:
                body = await r.aread()
                await cm.__aexit__(None, None, None)
                err = error_from(r, body)
                if r.status_code in _RETRYABLE:
                    await asyncio.sleep(self._next_delay())
                    continue
                raise err
            self._cm, self._events = cm, source.aiter_sse()
            self._opened()
        return self

    async def _drop(self) -> None:
        cm, self._cm, self._events = self._cm, None, None
        if cm is not None:
            try:
                await cm.__aexit__(None, None, None)
            except Exception:
                pass

    def __aiter__(self) -> "AsyncEventStream[T]":
        return self

    async def __anext__(self) -> T:
        while not self._closed:
            self._left()
            await self.connect()
            if self._events is None:
                break
            try:
                sse = await self._events.__anext__()
            except StopAsyncIteration:
                await self._drop()
                await asyncio.sleep(self._next_delay())
                continue
            except httpx.TransportError:
                await self._drop()
                await asyncio.sleep(self._next_delay())
                continue
            except SSEError as e:
                await self._drop()
                raise HypeError(f"not an event stream: {e}", code="bad_stream") from e
            item = self._accept(sse)
            if item is not None:
                return item
        raise StopAsyncIteration

    async def close(self) -> None:
        """Closes the connection; iteration ends."""
        self._closed = True
        await self._drop()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
