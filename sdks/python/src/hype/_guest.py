"""Guest access on the wire: an exec streamed over its WebSocket
(``GET /api/v1/vms/{name}/exec/ws``), a guest file's bytes as they come,
and upload bodies read piece by piece."""

from __future__ import annotations

import collections.abc
import contextlib
import json as _json
import os
from pathlib import Path
from typing import (
    IO, TYPE_CHECKING, Any, AsyncIterable, AsyncIterator, Dict, Iterable, Iterator, List, Literal, NamedTuple,
    Optional, Sequence, Tuple, Union,
)

import httpx

from ._errors import HypeConnectionError, HypeError, HypeTimeoutError
from ._transport import error_of

if TYPE_CHECKING:  # pragma: no cover
    from websockets.asyncio.client import ClientConnection as AsyncConnection
    from websockets.sync.client import ClientConnection

    from ._transport import _Base

#: Bytes read from a local file per piece of an upload.
CHUNK = 256 << 10
#: Most bytes of one WebSocket message hyped takes (its limit is 4 MiB).
MAX_FRAME = 1 << 20
STDOUT, STDERR = 1, 2

#: What :meth:`~hype.resources.vms.VMs.upload` takes: the bytes, text
#: (UTF-8), a local file's path (``pathlib.Path``), a binary file object,
#: or an iterable of byte strings.
UploadData = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes], Iterable[bytes]]
AsyncUploadData = Union[UploadData, AsyncIterable[bytes]]


class ExecChunk(NamedTuple):
    """A piece of a streamed exec's output."""

    #: ``stdout`` (or the terminal, with ``tty``) or ``stderr``.
    stream: Literal["stdout", "stderr"]
    data: bytes


def exec_params(cmd: Union[str, Sequence[str]], env: Optional[Dict[str, str]], cwd: Optional[str],
                user: Optional[str], tty: bool, rows: Optional[int], cols: Optional[int], stdin: bool,
                timeout: Optional[int]) -> List[Tuple[str, Any]]:
    """The query of ``.../exec/ws``: ``cmd`` and ``env`` repeated."""
    params: List[Tuple[str, Any]] = [("cmd", c) for c in argv(cmd)]
    params += [("env", f"{k}={v}") for k, v in (env or {}).items()]
    params += [("cwd", cwd), ("user", user), ("tty", tty or None), ("rows", rows), ("cols", cols),
               ("stdin", stdin or None), ("timeout_seconds", timeout)]
    return params


def argv(cmd: Union[str, Sequence[str]]) -> List[str]:
    """A command as the API takes it: a string runs in ``sh -c``, a list as is."""
    return ["sh", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]


def exec_body(cmd: Union[str, Sequence[str]], env: Optional[Dict[str, str]], cwd: Optional[str],
              user: Optional[str], stdin: Union[str, bytes, None], timeout: Optional[int]) -> Dict[str, Any]:
    """The body of ``POST .../exec``."""
    import base64

    body: Dict[str, Any] = {"cmd": argv(cmd)}
    if env:
        body["env"] = dict(env)
    for k, v in (("cwd", cwd), ("user", user), ("timeout_seconds", timeout)):
        if v is not None:
            body[k] = v
    if isinstance(stdin, str):
        body["stdin"] = stdin
    elif stdin is not None:
        body["stdin_base64"] = base64.b64encode(bytes(stdin)).decode("ascii")
    return body


def http_timeout(exec_timeout: Optional[int]) -> httpx.Timeout:
    """How long to wait for an exec's answer: its own timeout (default 60 s) and a margin."""
    return httpx.Timeout((exec_timeout or 60) + 30.0, connect=10.0)


def mode_param(mode: Union[int, str, None]) -> Optional[str]:
    """``0o755`` or ``"0755"`` as the API takes it (octal digits)."""
    return f"{mode:04o}" if isinstance(mode, int) else mode


def upload_body(data: UploadData) -> Union[bytes, Iterator[bytes]]:
    """Bytes as they are; anything else read piece by piece, never whole."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, os.PathLike):
        return _read_file(Path(data))
    if hasattr(data, "read"):
        return _read_io(data)  # type: ignore[arg-type]
    return (bytes(piece) for piece in data)


def async_upload_body(data: AsyncUploadData) -> Union[bytes, AsyncIterator[bytes]]:
    """:func:`upload_body` for an ``httpx.AsyncClient`` (which takes only async iterators)."""
    if isinstance(data, collections.abc.AsyncIterable):
        return _aiter_bytes(data)
    body = upload_body(data)
    if isinstance(body, bytes):
        return body
    return _aiter_sync(body)


def _read_file(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from _read_io(f)


def _read_io(f: IO[bytes]) -> Iterator[bytes]:
    while True:
        piece = f.read(CHUNK)
        if not piece:
            return
        if isinstance(piece, str):  # a text file object: send its UTF-8
            piece = piece.encode("utf-8")
        yield piece


async def _aiter_bytes(data: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    async for piece in data:
        yield bytes(piece)


async def _aiter_sync(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:  # a local file's reads are short: not worth a thread
        yield piece


def file_name(response: httpx.Response) -> Optional[str]:
    """The file name of ``Content-Disposition``, when hyped gave one."""
    disposition = str(response.headers.get("content-disposition", ""))
    marker = 'filename="'
    if marker in disposition:
        return disposition.split(marker, 1)[1].rsplit('"', 1)[0]
    return None


def _ws_error(e: BaseException, base_url: str) -> HypeError:
    """A failed WebSocket connection as a :class:`HypeError`."""
    from websockets.exceptions import InvalidStatus

    if isinstance(e, InvalidStatus):
        r = e.response
        return error_of(r.status_code, r.reason_phrase, bytes(r.body or b""))
    if isinstance(e, TimeoutError):
        return HypeTimeoutError(f"hyped at {base_url} did not answer in time (WebSocket)")
    return HypeConnectionError(f"cannot reach hyped at {base_url}: {e or type(e).__name__}")


def _ws_args(t: "_Base") -> Dict[str, Any]:
    return {"additional_headers": t.auth_headers(), "user_agent_header": t.user_agent(), "compression": None,
            "max_size": 8 << 20, "open_timeout": 30}


class _Exec:
    """What both streamed execs keep: the exit and the notices."""

    def __init__(self) -> None:
        #: The exit status once the process ended (``None`` if a signal ended it).
        self.exit_code: Optional[int] = None
        #: The signal that ended it, if one did.
        self.signal_name: Optional[str] = None
        #: Killed at its timeout.
        self.timed_out = False
        #: Whether the exit notice came.
        self.exited = False
        #: Control messages hyped refused (``HypeError``\\ s); the session went on.
        self.refused: List[HypeError] = []
        self._failure: Optional[HypeError] = None

    def _take(self, message: Union[str, bytes]) -> Optional[ExecChunk]:
        """A message from hyped: output, or a notice taken in."""
        if isinstance(message, (bytes, bytearray, memoryview)):
            data = bytes(message)
            if not data:
                return None
            return ExecChunk("stderr" if data[0] == STDERR else "stdout", data[1:])
        try:
            notice = _json.loads(message)
        except ValueError:
            return None  # not a notice this SDK knows
        if not isinstance(notice, dict):
            return None
        if notice.get("type") == "exit":
            self.exit_code = notice.get("exit_code")
            self.signal_name = notice.get("signal")
            self.timed_out = bool(notice.get("timed_out"))
            self.exited = True
        elif notice.get("type") == "error":
            err = HypeError(str(notice.get("message")), code=str(notice.get("code", "error")))
            self.refused.append(err)
            self._failure = err
        return None

    def _closed(self) -> None:
        """The socket closed: fine after the exit, else the session failed."""
        if not self.exited:
            raise self._failure or HypeConnectionError("the exec's WebSocket closed before the process ended")

    @staticmethod
    def _control(kind: str, **fields: Any) -> str:
        return _json.dumps({"type": kind, **fields})

    @staticmethod
    def _stdin(data: Union[bytes, str]) -> Iterator[bytes]:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        for i in range(0, len(raw), MAX_FRAME):
            yield raw[i:i + MAX_FRAME]


class ExecStream(_Exec):
    """A process running in the guest, over a WebSocket (``vms.exec_stream``).

    Iterate it for :class:`ExecChunk`\\ s until the process ends; then
    :attr:`exit_code` is set. :meth:`send` writes to its stdin,
    :meth:`close_stdin` ends it, :meth:`resize` and :meth:`signal` drive
    it, :meth:`wait` returns the exit code. Closing it (or leaving the
    ``with`` block) before the end kills the process::

        with h.vms.exec_stream("s1", ["cat"]) as p:
            p.send(b"hello")
            p.close_stdin()
            out = b"".join(c.data for c in p)
        assert p.exit_code == 0
    """

    def __init__(self, ws: "ClientConnection") -> None:
        super().__init__()
        self._ws = ws

    @classmethod
    def connect(cls, t: "_Base", path: str, params: List[Tuple[str, Any]]) -> "ExecStream":
        from websockets.sync.client import connect

        try:
            ws = connect(t.ws_url(path, params), **_ws_args(t))
        except Exception as e:  # InvalidStatus, OSError, TimeoutError, InvalidHandshake
            raise _ws_error(e, t.base_url) from e
        # Held as a context manager (closed by close()), as websockets asks.
        return cls(ws.__enter__())

    def __iter__(self) -> Iterator[ExecChunk]:
        from websockets.exceptions import ConnectionClosed

        while not self.exited:
            try:
                message = self._ws.recv()
            except ConnectionClosed:
                self._closed()
                return
            chunk = self._take(message)
            if chunk is not None:
                yield chunk
        self.close()

    def send(self, data: Union[bytes, str]) -> None:
        """Writes ``data`` (text as UTF-8) to the process's stdin."""
        for piece in self._stdin(data):
            self._ws.send(piece)

    def close_stdin(self) -> None:
        """Ends the process's stdin (end of file)."""
        self._ws.send(self._control("eof"))

    def resize(self, rows: int, cols: int) -> None:
        """Sets the terminal's size (with ``tty=True``)."""
        self._ws.send(self._control("resize", rows=rows, cols=cols))

    def signal(self, signal: str) -> None:
        """Sends ``signal`` (``SIGINT``, ``SIGTERM``, ``SIGKILL``, ...) to the process and its group."""
        self._ws.send(self._control("signal", signal=signal))

    def wait(self) -> Optional[int]:
        """Reads (and drops) the output not read yet until the process ends;
        returns its exit code (``None`` when a signal ended it)."""
        for _ in self:
            pass
        return self.exit_code

    def close(self) -> None:
        """Closes the WebSocket; a process still running is killed."""
        self._ws.close()

    def __enter__(self) -> "ExecStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ExecStream {'exited ' + str(self.exit_code) if self.exited else 'running'}>"


class AsyncExecStream(_Exec):
    """The asyncio :class:`ExecStream`: ``async for chunk in p``, ``await
    p.send(...)``, ``await p.wait()``; ``async with`` closes it."""

    def __init__(self, ws: "AsyncConnection") -> None:
        super().__init__()
        self._ws = ws

    @classmethod
    async def connect(cls, t: "_Base", path: str, params: List[Tuple[str, Any]]) -> "AsyncExecStream":
        from websockets.asyncio.client import connect

        try:
            ws = await connect(t.ws_url(path, params), **_ws_args(t))
        except Exception as e:
            raise _ws_error(e, t.base_url) from e
        return cls(ws)

    async def __aiter__(self) -> AsyncIterator[ExecChunk]:
        from websockets.exceptions import ConnectionClosed

        while not self.exited:
            try:
                message = await self._ws.recv()
            except ConnectionClosed:
                self._closed()
                return
            chunk = self._take(message)
            if chunk is not None:
                yield chunk
        await self.close()

    async def send(self, data: Union[bytes, str]) -> None:
        """Writes ``data`` (text as UTF-8) to the process's stdin."""
        for piece in self._stdin(data):
            await self._ws.send(piece)

    async def close_stdin(self) -> None:
        """Ends the process's stdin."""
        await self._ws.send(self._control("eof"))

    async def resize(self, rows: int, cols: int) -> None:
        """Sets the terminal's size (with ``tty=True``)."""
        await self._ws.send(self._control("resize", rows=rows, cols=cols))

    async def signal(self, signal: str) -> None:
        """Sends ``signal`` to the process and its group."""
        await self._ws.send(self._control("signal", signal=signal))

    async def wait(self) -> Optional[int]:
        """Reads (and drops) the rest of the output; returns the exit code."""
        async for _ in self:
            pass
        return self.exit_code

    async def close(self) -> None:
        """Closes the WebSocket; a process still running is killed."""
        await self._ws.close()

    async def __aenter__(self) -> "AsyncExecStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncExecStream {'exited ' + str(self.exit_code) if self.exited else 'running'}>"


@contextlib.contextmanager
def _sink(dest: Union[str, "os.PathLike[str]", IO[bytes]]) -> Iterator[IO[bytes]]:
    """The file object ``save`` writes to: the caller's own (left open), or a
    path opened for writing (closed after)."""
    if hasattr(dest, "write"):
        yield dest  # type: ignore[misc]
        return
    with open(dest, "wb") as f:
        yield f


class GuestFile:
    """A guest file's bytes as hyped sends them (``vms.download``): iterate
    it, :meth:`read` it whole, or :meth:`save` it to a local file. A
    directory comes as a tar archive (:attr:`is_archive`). Use it in a
    ``with`` block, or read it to the end, so the connection is released."""

    def __init__(self, response: httpx.Response) -> None:
        self._r = response
        #: The name hyped gave it (``NAME.tar`` for a directory), if any.
        self.name = file_name(response)
        #: A directory, as a tar archive.
        self.is_archive = response.headers.get("content-type", "").startswith("application/x-tar")

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_bytes()

    def iter_bytes(self, chunk_size: Optional[int] = None) -> Iterator[bytes]:
        """The bytes, piece by piece; the connection is released at the end."""
        try:
            yield from self._r.iter_bytes(chunk_size)
        except httpx.TransportError as e:
            raise HypeConnectionError(f"the download broke off: {e or type(e).__name__}") from e
        finally:
            self._r.close()

    def read(self) -> bytes:
        """Every byte (the whole file in memory: :meth:`save` for big ones)."""
        return b"".join(self.iter_bytes())

    def save(self, dest: Union[str, "os.PathLike[str]", IO[bytes]]) -> int:
        """Writes the bytes to a local path or a binary file object; returns how many."""
        n = 0
        with _sink(dest) as f:
            for piece in self.iter_bytes():
                f.write(piece)
                n += len(piece)
        return n

    def close(self) -> None:
        """Releases the connection without reading the rest."""
        self._r.close()

    def __enter__(self) -> "GuestFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncGuestFile:
    """The asyncio :class:`GuestFile`: ``async for``, ``await f.read()``, ``await f.save(path)``."""

    def __init__(self, response: httpx.Response) -> None:
        self._r = response
        self.name = file_name(response)
        self.is_archive = response.headers.get("content-type", "").startswith("application/x-tar")

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.aiter_bytes()

    async def aiter_bytes(self, chunk_size: Optional[int] = None) -> AsyncIterator[bytes]:
        """The bytes, piece by piece; the connection is released at the end."""
        try:
            async for piece in self._r.aiter_bytes(chunk_size):
                yield piece
        except httpx.TransportError as e:
            raise HypeConnectionError(f"the download broke off: {e or type(e).__name__}") from e
        finally:
            await self._r.aclose()

    async def read(self) -> bytes:
        """Every byte."""
        return b"".join([piece async for piece in self.aiter_bytes()])

    async def save(self, dest: Union[str, "os.PathLike[str]", IO[bytes]]) -> int:
        """Writes the bytes to a local path or a binary file object; returns how many."""
        n = 0
        with _sink(dest) as f:
            async for piece in self.aiter_bytes():
                f.write(piece)
                n += len(piece)
        return n

    async def close(self) -> None:
        """Releases the connection without reading the rest."""
        await self._r.aclose()

    async def __aenter__(self) -> "AsyncGuestFile":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
