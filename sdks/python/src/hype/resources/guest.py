"""Inside a running VM: processes (``/exec``, ``/exec/ws``), files
(``/files``) and what its browser downloaded (``/downloads``). Part of
``h.vms`` (:class:`~hype.resources.vms.VMs` inherits these methods)."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union

from .._guest import (
    AsyncExecStream, AsyncGuestFile, AsyncUploadData, ExecStream, GuestFile, UploadData, async_upload_body,
    exec_body, exec_params, http_timeout, mode_param, upload_body,
)
from .._operations import operation
from .._transport import seg
from ..models import Download, ExecResult, FileInfo, FileList, Uploaded
from ._base import AsyncResource, SyncResource

Command = Union[str, Sequence[str]]
#: Uploads may take long: no read timeout (the guest answers once all is written).
_UPLOAD_TIMEOUT = None


def _path(name: str, rest: str) -> str:
    return f"/api/v1/vms/{seg(name)}{rest}"


def _upload_params(path: str, mode: Union[int, str, None], owner: Optional[str], archive: bool) -> Dict[str, object]:
    return {"path": path, "mode": mode_param(mode), "owner": owner, "archive": True if archive else None}


class Guest(SyncResource):
    """The guest-access methods of ``h.vms``."""

    @operation("POST", "/api/v1/vms/{name}/exec")
    def exec(self, name: str, cmd: Command, *, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
             user: Optional[str] = None, stdin: Union[str, bytes, None] = None,
             timeout: Optional[int] = None) -> ExecResult:
        """Runs ``cmd`` in the guest to its end and returns what it did.

        ``cmd`` is a list (``["ls", "-l"]``, no shell) or a string, which
        runs in ``sh -c``. ``env`` adds variables, ``cwd`` is an absolute
        guest path, ``user`` a name, uid or ``uid:gid`` (default: the
        guest's unprivileged user). ``stdin`` (text or bytes, at most 1 MiB)
        is given to the process, then end of file. ``timeout`` (seconds,
        default 60, at most 3600) kills it and all it started. A non-zero
        exit is no error: see :attr:`ExecResult.exit_code`. A program, user
        or directory that is not there raises ``HypeError``
        ``not_found_in_guest`` (404).
        """
        body = exec_body(cmd, env, cwd, user, stdin, timeout)
        r = self._t.request("POST", _path(name, "/exec"), json=body, timeout=http_timeout(timeout))
        return ExecResult.from_json(r.json())

    @operation("GET", "/api/v1/vms/{name}/exec/ws")
    def exec_stream(self, name: str, cmd: Command, *, env: Optional[Dict[str, str]] = None,
                    cwd: Optional[str] = None, user: Optional[str] = None, tty: bool = False,
                    rows: Optional[int] = None, cols: Optional[int] = None, stdin: bool = True,
                    timeout: Optional[int] = None) -> ExecStream:
        """Starts ``cmd`` in the guest and streams it over a WebSocket: an
        :class:`~hype.ExecStream` to iterate for output, write stdin to,
        resize, signal and :meth:`~hype.ExecStream.wait` for.

        ``tty=True`` runs it on a pseudo-terminal of ``rows`` x ``cols``
        (stdout and stderr are then one stream). With ``stdin=False`` its
        stdin is empty from the start. ``timeout`` (seconds) kills it; by
        default it runs as long as the stream is open. Errors before it
        starts (no such program: ``not_found_in_guest``) raise here.
        """
        params = exec_params(cmd, env, cwd, user, tty, rows, cols, stdin, timeout)
        return ExecStream.connect(self._t, _path(name, "/exec/ws"), params)

    @operation("PUT", "/api/v1/vms/{name}/files")
    def upload(self, name: str, path: str, data: UploadData, *, mode: Union[int, str, None] = None,
               owner: Optional[str] = None, archive: bool = False) -> Uploaded:
        """Writes ``data`` to guest file ``path`` (its directory must exist).

        ``data``: bytes, text (UTF-8), a local file's ``pathlib.Path``, a
        binary file object or an iterable of byte strings; all but bytes
        are streamed, never read whole. The file appears complete or not
        at all. ``mode`` (``0o755`` or ``"0755"``; default ``0644``, a
        replaced file's own) and ``owner`` (default: the guest's
        unprivileged user). With ``archive=True``, ``data`` is a tar archive
        unpacked into directory ``path``.
        """
        r = self._t.request("PUT", _path(name, "/files"), params=_upload_params(path, mode, owner, archive),
                            content=upload_body(data), headers={"Content-Type": "application/octet-stream"},
                            timeout=_UPLOAD_TIMEOUT)
        return Uploaded.from_json(r.json())

    @operation("GET", "/api/v1/vms/{name}/files")
    def download(self, name: str, path: str) -> GuestFile:
        """Guest file ``path`` as a :class:`~hype.GuestFile`: iterate it,
        ``.read()`` it or ``.save(local_path)`` it (a directory comes as a
        tar archive). Raises ``HypeError`` ``not_found_in_guest`` when it is
        not there."""
        return GuestFile(self._t.stream("GET", _path(name, "/files"), params={"path": path},
                                        headers={"Accept": "*/*"}))

    @operation("GET", "/api/v1/vms/{name}/files/stat")
    def stat(self, name: str, path: str) -> FileInfo:
        """What ``lstat`` says of guest path ``path``."""
        return FileInfo.from_json(self._t.request("GET", _path(name, "/files/stat"), params={"path": path}).json())

    @operation("GET", "/api/v1/vms/{name}/files/list")
    def list_files(self, name: str, path: str) -> FileList:
        """The entries of guest directory ``path``, sorted by name (at most 10,000)."""
        return FileList.from_json(self._t.request("GET", _path(name, "/files/list"), params={"path": path}).json())

    @operation("DELETE", "/api/v1/vms/{name}/files")
    def remove_file(self, name: str, path: str, *, recursive: bool = False) -> None:
        """Removes guest file ``path`` (a directory only when empty, unless ``recursive``)."""
        self._t.request("DELETE", _path(name, "/files"), params={"path": path, "recursive": recursive or None})

    @operation("GET", "/api/v1/vms/{name}/downloads")
    def downloads(self, name: str) -> List[Download]:
        """What the sandbox's browser downloaded, oldest first."""
        r = self._t.request("GET", _path(name, "/downloads"))
        return [Download.from_json(d) for d in r.json()["downloads"]]

    @operation("GET", "/api/v1/vms/{name}/downloads/{file}")
    def download_file(self, name: str, file: str) -> GuestFile:
        """One file the browser downloaded (a :class:`Download`'s ``name``), as a :class:`~hype.GuestFile`."""
        return GuestFile(self._t.stream("GET", _path(name, f"/downloads/{seg(file)}"), headers={"Accept": "*/*"}))


class AsyncGuest(AsyncResource):
    """The guest-access methods of ``h.vms`` of :class:`~hype.AsyncHype`."""

    @operation("POST", "/api/v1/vms/{name}/exec")
    async def exec(self, name: str, cmd: Command, *, env: Optional[Dict[str, str]] = None,
                   cwd: Optional[str] = None, user: Optional[str] = None, stdin: Union[str, bytes, None] = None,
                   timeout: Optional[int] = None) -> ExecResult:
        """Runs ``cmd`` in the guest to its end (see :meth:`Guest.exec`)."""
        body = exec_body(cmd, env, cwd, user, stdin, timeout)
        r = await self._t.request("POST", _path(name, "/exec"), json=body, timeout=http_timeout(timeout))
        return ExecResult.from_json(r.json())

    @operation("GET", "/api/v1/vms/{name}/exec/ws")
    async def exec_stream(self, name: str, cmd: Command, *, env: Optional[Dict[str, str]] = None,
                          cwd: Optional[str] = None, user: Optional[str] = None, tty: bool = False,
                          rows: Optional[int] = None, cols: Optional[int] = None, stdin: bool = True,
                          timeout: Optional[int] = None) -> AsyncExecStream:
        """Starts ``cmd`` and streams it (see :meth:`Guest.exec_stream`)."""
        params = exec_params(cmd, env, cwd, user, tty, rows, cols, stdin, timeout)
        return await AsyncExecStream.connect(self._t, _path(name, "/exec/ws"), params)

    @operation("PUT", "/api/v1/vms/{name}/files")
    async def upload(self, name: str, path: str, data: AsyncUploadData, *, mode: Union[int, str, None] = None,
                     owner: Optional[str] = None, archive: bool = False) -> Uploaded:
        """Writes ``data`` to guest file ``path``, streamed (see :meth:`Guest.upload`;
        an async iterable of byte strings works too)."""
        r = await self._t.request("PUT", _path(name, "/files"), params=_upload_params(path, mode, owner, archive),
                                  content=async_upload_body(data),
                                  headers={"Content-Type": "application/octet-stream"}, timeout=_UPLOAD_TIMEOUT)
        return Uploaded.from_json(r.json())

    @operation("GET", "/api/v1/vms/{name}/files")
    async def download(self, name: str, path: str) -> AsyncGuestFile:
        """Guest file ``path`` as an :class:`~hype.AsyncGuestFile` (see :meth:`Guest.download`)."""
        r = await self._t.stream("GET", _path(name, "/files"), params={"path": path}, headers={"Accept": "*/*"})
        return AsyncGuestFile(r)

    @operation("GET", "/api/v1/vms/{name}/files/stat")
    async def stat(self, name: str, path: str) -> FileInfo:
        """What ``lstat`` says of guest path ``path``."""
        r = await self._t.request("GET", _path(name, "/files/stat"), params={"path": path})
        return FileInfo.from_json(r.json())

    @operation("GET", "/api/v1/vms/{name}/files/list")
    async def list_files(self, name: str, path: str) -> FileList:
        """The entries of guest directory ``path``, sorted by name."""
        r = await self._t.request("GET", _path(name, "/files/list"), params={"path": path})
        return FileList.from_json(r.json())

    @operation("DELETE", "/api/v1/vms/{name}/files")
    async def remove_file(self, name: str, path: str, *, recursive: bool = False) -> None:
        """Removes guest file ``path``."""
        await self._t.request("DELETE", _path(name, "/files"), params={"path": path, "recursive": recursive or None})

    @operation("GET", "/api/v1/vms/{name}/downloads")
    async def downloads(self, name: str) -> List[Download]:
        """What the sandbox's browser downloaded, oldest first."""
        r = await self._t.request("GET", _path(name, "/downloads"))
        return [Download.from_json(d) for d in r.json()["downloads"]]

    @operation("GET", "/api/v1/vms/{name}/downloads/{file}")
    async def download_file(self, name: str, file: str) -> AsyncGuestFile:
        """One file the browser downloaded, as an :class:`~hype.AsyncGuestFile`."""
        r = await self._t.stream("GET", _path(name, f"/downloads/{seg(file)}"), headers={"Accept": "*/*"})
        return AsyncGuestFile(r)
