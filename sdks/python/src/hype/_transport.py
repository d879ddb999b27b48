"""The HTTP layer under both clients: base URL and key resolution, the
``Authorization`` header, and errors turned into :class:`HypeError`."""

from __future__ import annotations

import asyncio
import json as _json
import os
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlencode

import httpx

from ._errors import HypeConnectionError, HypeError, HypeTimeoutError
from ._version import __version__

DEFAULT_BASE_URL = "http://127.0.0.1:7777"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
#: How often a request refused with 429 (hyped's --rate-limit) is sent again.
DEFAULT_MAX_RETRIES = 2
Timeout = Union[float, httpx.Timeout, None]


def resolve(base_url: Optional[str], api_key: Optional[str]) -> Tuple[str, Optional[str]]:
    """Arguments first, then ``HYPE_API_BASE`` / ``HYPE_API_KEY``, then the defaults."""
    base = base_url or os.environ.get("HYPE_API_BASE") or DEFAULT_BASE_URL
    key = api_key if api_key is not None else os.environ.get("HYPE_API_KEY")
    return base.rstrip("/"), (key or None)


def seg(value: str) -> str:
    """One path segment, escaped."""
    return quote(str(value), safe="")


def query(params: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for k, v in (params or {}).items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


def retry_after(response: httpx.Response, attempt: int) -> float:
    """How long to wait before sending a refused request again: the
    server's ``Retry-After`` (seconds), else a growing delay; at most 30 s."""
    try:
        return min(30.0, max(0.0, float(response.headers["retry-after"])))
    except (KeyError, ValueError):
        return min(30.0, 0.5 * 2.0 ** attempt)


def error_from(response: httpx.Response, body: Optional[bytes] = None) -> HypeError:
    """The :class:`HypeError` for an answer of 400 or more."""
    raw = response.content if body is None else body
    return error_of(response.status_code, response.reason_phrase, raw)


def error_of(status: int, reason: Optional[str], raw: bytes) -> HypeError:
    """The :class:`HypeError` for an answer of ``status`` with body ``raw``
    (also a refused WebSocket upgrade's)."""
    code, message = f"http_{status}", reason or "error"
    try:
        err = _json.loads(raw)["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        text = raw.decode("utf-8", "replace").strip()
        if text:
            message = text[:500]
    return HypeError(message, status=status, code=code)


def replayable(content: Any) -> bool:
    """Whether a request body can be sent again (a stream cannot)."""
    return content is None or isinstance(content, (bytes, str))


class _Base:
    def __init__(self, base_url: Optional[str], api_key: Optional[str], max_retries: int) -> None:
        self.base_url, self._api_key = resolve(base_url, api_key)
        self.max_retries = max_retries

    def headers(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        h = {"User-Agent": self.user_agent(), "Accept": "application/json"}
        if self._api_key:
            h["Authorization"] = f"Bearer {self._api_key}"
        h.update(extra or {})
        return h

    def auth_headers(self) -> Dict[str, str]:
        """Only the ``Authorization`` header (for CDP clients), or nothing."""
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def url(self, path: str) -> str:
        return self.base_url + path

    def ws_url(self, path: str, params: Iterable[Tuple[str, Any]] = ()) -> str:
        """The ``ws://`` (``wss://``) URL of ``path``; ``params`` may repeat a key."""
        pairs: List[Tuple[str, str]] = []
        for k, v in params:
            if v is not None:
                pairs.append((k, ("true" if v else "false") if isinstance(v, bool) else str(v)))
        base = "ws" + self.base_url[len("http"):] if self.base_url.startswith("http") else self.base_url
        return base + path + ("?" + urlencode(pairs) if pairs else "")

    def user_agent(self) -> str:
        return f"hype-sdk-python/{__version__}"

    def _unreachable(self, exc: Exception) -> HypeError:
        if isinstance(exc, httpx.TimeoutException):
            return HypeTimeoutError(f"hyped at {self.base_url} did not answer in time ({type(exc).__name__})")
        return HypeConnectionError(f"cannot reach hyped at {self.base_url}: {exc or type(exc).__name__}")

    def __repr__(self) -> str:  # never the key
        return f"<{type(self).__name__} {self.base_url} key={'set' if self._api_key else 'none'}>"


class SyncTransport(_Base):
    def __init__(self, base_url: Optional[str], api_key: Optional[str], timeout: Timeout,
                 http_client: Optional[httpx.Client], max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        super().__init__(base_url, api_key, max_retries)
        self.http = http_client or httpx.Client(timeout=timeout)
        self._owns = http_client is None

    def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None,
                json: Any = None, content: Any = None,
                headers: Optional[Mapping[str, str]] = None, timeout: Any = httpx.USE_CLIENT_DEFAULT,
                ) -> httpx.Response:
        """Sends a request; ``content`` may be bytes or an iterator of bytes
        (streamed, and then never sent twice)."""
        retries = self.max_retries if replayable(content) else 0
        for attempt in range(retries + 1):
            try:
                r = self.http.request(method, self.url(path), params=query(params), json=json,
                                      content=content, headers=self.headers(headers), timeout=timeout)
            except httpx.TransportError as e:
                raise self._unreachable(e) from e
            if r.status_code != 429 or attempt == retries:
                break
            time.sleep(retry_after(r, attempt))  # refused before it was handled: safe to resend
        if r.status_code >= 400:
            raise error_from(r)
        return r

    def stream(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None,
               headers: Optional[Mapping[str, str]] = None) -> httpx.Response:
        """Sends a request and returns the answer with its body unread (close
        it); an answer of 400 or more raises, its body read and closed."""
        req = self.http.build_request(method, self.url(path), params=query(params), headers=self.headers(headers))
        for attempt in range(self.max_retries + 1):
            try:
                r = self.http.send(req, stream=True)
            except httpx.TransportError as e:
                raise self._unreachable(e) from e
            if r.status_code < 400:
                return r
            try:
                body = r.read()
            except httpx.TransportError as e:
                raise self._unreachable(e) from e
            finally:
                r.close()
            if r.status_code != 429 or attempt == self.max_retries:
                raise error_from(r, body)
            time.sleep(retry_after(r, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._owns:
            self.http.close()


class AsyncTransport(_Base):
    def __init__(self, base_url: Optional[str], api_key: Optional[str], timeout: Timeout,
                 http_client: Optional[httpx.AsyncClient], max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        super().__init__(base_url, api_key, max_retries)
        self.http = http_client or httpx.AsyncClient(timeout=timeout)
        self._owns = http_client is None

    async def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None,
                      json: Any = None, content: Any = None,
                      headers: Optional[Mapping[str, str]] = None, timeout: Any = httpx.USE_CLIENT_DEFAULT,
                      ) -> httpx.Response:
        """Sends a request; ``content`` may be bytes or an async iterator of
        bytes (streamed, and then never sent twice)."""
        retries = self.max_retries if replayable(content) else 0
        for attempt in range(retries + 1):
            try:
                r = await self.http.request(method, self.url(path), params=query(params), json=json,
                                            content=content, headers=self.headers(headers), timeout=timeout)
            except httpx.TransportError as e:
                raise self._unreachable(e) from e
            if r.status_code != 429 or attempt == retries:
                break
            await asyncio.sleep(retry_after(r, attempt))
        if r.status_code >= 400:
            raise error_from(r)
        return r

    async def stream(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None,
                     headers: Optional[Mapping[str, str]] = None) -> httpx.Response:
        """Sends a request and returns the answer with its body unread (close
        it); an answer of 400 or more raises, its body read and closed."""
        req = self.http.build_request(method, self.url(path), params=query(params), headers=self.headers(headers))
        for attempt in range(self.max_retries + 1):
            try:
                r = await self.http.send(req, stream=True)
            except httpx.TransportError as e:
                raise self._unreachable(e) from e
            if r.status_code < 400:
                return r
            try:
                body = await r.aread()
            except httpx.TransportError as e:
                raise self._unreachable(e) from e
            finally:
                await r.aclose()
            if r.status_code != 429 or attempt == self.max_retries:
                raise error_from(r, body)
            await asyncio.sleep(retry_after(r, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        if self._owns:
            await self.http.aclose()
