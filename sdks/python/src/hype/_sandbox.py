"""Sandboxes: a VM made for one piece of work and deleted after it."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Dict, Generator, List, Optional, Sequence, Union

from ._guest import AsyncExecStream, AsyncGuestFile, AsyncUploadData, ExecStream, GuestFile, UploadData
from ._operations import operation
from .models import ConsoleMessage, Download, ExecResult, FileInfo, FileList, NetworkRequest, Uploaded, Vm

if TYPE_CHECKING:  # pragma: no cover
    from playwright.async_api import Browser as AsyncBrowser
    from playwright.async_api import Playwright as AsyncPlaywright
    from playwright.sync_api import Browser, Playwright

    from ._client import AsyncHype, Hype

_NO_PLAYWRIGHT = ("sb.playwright() needs Playwright for Python: pip install 'hype-sdk[playwright]' "
                  "(no browser download: it connects to the sandbox's own Chromium)")


def new_name() -> str:
    """A fresh sandbox name, ``sb-`` and 8 hex digits."""
    return f"sb-{secrets.token_hex(4)}"


class Sandbox:
    """A running VM that is deleted when the ``with`` block ends (or on
    :meth:`delete`). Made by :meth:`hype.Hype.sandbox`."""

    def __init__(self, client: "Hype", vm: Vm) -> None:
        self._client = client
        #: The VM as last seen (:meth:`refresh` reloads it).
        self.vm = vm
        self._pw: Optional["Playwright"] = None
        self._browsers: List["Browser"] = []
        self.deleted = False

    @property
    def name(self) -> str:
        """The VM's name."""
        return self.vm.name

    @property
    def cdp_url(self) -> Optional[str]:
        """Where CDP clients connect (browser images), e.g. for Puppeteer or
        Playwright in another process; send :meth:`hype.Hype.cdp_headers` with it."""
        return self.vm.cdp_url

    def refresh(self) -> Vm:
        """Reloads the VM."""
        self.vm = self._client.vms.get(self.name)
        return self.vm

    @operation("GET", "/api/v1/vms/{name}/cdp/devtools/{kind}/{id}")
    def playwright(self, playwright: Optional["Playwright"] = None, **connect_args: Any) -> "Browser":
        """A Playwright ``Browser`` connected over CDP to the sandbox's Chromium.

        Starts Playwright (sync API) unless you pass your own instance; what
        it starts is stopped when the sandbox is deleted. ``connect_args``
        go to ``chromium.connect_over_cdp`` (``timeout``, ``slow_mo``).
        Needs the ``playwright`` extra; never downloads a browser.
        """
        if not self.cdp_url:
            raise ValueError(f"sandbox {self.name} has no browser (image {self.vm.image!r})")
        if playwright is None:
            try:
                from playwright.sync_api import sync_playwright
            except ImportError as e:
                raise ImportError(_NO_PLAYWRIGHT) from e
            if self._pw is None:
                self._pw = sync_playwright().start()
            playwright = self._pw
        headers = {**self._client.cdp_headers(), **connect_args.pop("headers", {})}
        browser = playwright.chromium.connect_over_cdp(self.cdp_url, headers=headers, **connect_args)
        self._browsers.append(browser)
        return browser

    def screenshot(self) -> bytes:
        """A PNG of the browser's active page."""
        return self._client.vms.screenshot(self.name)

    def logs(self, tail: Optional[int] = None) -> str:
        """The serial console's newest output."""
        return self._client.vms.logs(self.name, tail=tail)

    def console(self, after: Optional[int] = None) -> List["ConsoleMessage"]:
        """What the browser's pages logged (``console.log``, exceptions) since the sandbox started."""
        return self._client.vms.browser_console(self.name, after=after)

    def network(self, after: Optional[int] = None) -> List["NetworkRequest"]:
        """The browser's pages' network requests since the sandbox started."""
        return self._client.vms.browser_network(self.name, after=after)

    def exec(self, cmd: Union[str, Sequence[str]], *, env: Optional[Dict[str, str]] = None,
             cwd: Optional[str] = None, user: Optional[str] = None, stdin: Union[str, bytes, None] = None,
             timeout: Optional[int] = None) -> ExecResult:
        """Runs ``cmd`` in the sandbox to its end (see :meth:`hype.resources.guest.Guest.exec`)::

            r = sb.exec("echo hi; exit 3")
            assert (r.stdout, r.exit_code) == ("hi\\n", 3)
        """
        return self._client.vms.exec(self.name, cmd, env=env, cwd=cwd, user=user, stdin=stdin, timeout=timeout)

    def exec_stream(self, cmd: Union[str, Sequence[str]], *, env: Optional[Dict[str, str]] = None,
                    cwd: Optional[str] = None, user: Optional[str] = None, tty: bool = False,
                    rows: Optional[int] = None, cols: Optional[int] = None, stdin: bool = True,
                    timeout: Optional[int] = None) -> ExecStream:
        """Starts ``cmd`` in the sandbox, streamed over a WebSocket (see
        :meth:`hype.resources.guest.Guest.exec_stream`)."""
        return self._client.vms.exec_stream(self.name, cmd, env=env, cwd=cwd, user=user, tty=tty, rows=rows,
                                            cols=cols, stdin=stdin, timeout=timeout)

    def upload(self, path: str, data: UploadData, *, mode: Union[int, str, None] = None,
               owner: Optional[str] = None, archive: bool = False) -> Uploaded:
        """Writes ``data`` (bytes, text, a ``Path``, a file object) to ``path`` in the sandbox, streamed."""
        return self._client.vms.upload(self.name, path, data, mode=mode, owner=owner, archive=archive)

    def download(self, path: str) -> GuestFile:
        """File ``path`` of the sandbox, streamed (a directory as a tar archive)."""
        return self._client.vms.download(self.name, path)

    def stat(self, path: str) -> FileInfo:
        """What ``lstat`` says of ``path`` in the sandbox."""
        return self._client.vms.stat(self.name, path)

    def list_files(self, path: str) -> FileList:
        """The entries of directory ``path`` in the sandbox."""
        return self._client.vms.list_files(self.name, path)

    def remove_file(self, path: str, *, recursive: bool = False) -> None:
        """Removes ``path`` in the sandbox."""
        self._client.vms.remove_file(self.name, path, recursive=recursive)

    def downloads(self) -> List[Download]:
        """What the sandbox's browser downloaded."""
        return self._client.vms.downloads(self.name)

    def download_file(self, file: str) -> GuestFile:
        """One file the sandbox's browser downloaded, by its name."""
        return self._client.vms.download_file(self.name, file)

    def delete(self) -> None:
        """Closes the browsers :meth:`playwright` opened and deletes the VM (once)."""
        if self.deleted:
            return
        for b in self._browsers:
            try:
                b.close()
            except Exception:  # the VM is going away; a dead connection is fine
                pass
        self._browsers.clear()
        if self._pw is not None:
            self._pw.stop()
            self._pw = None
        self._client.vms.delete(self.name)
        self.deleted = True

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.delete()

    def __repr__(self) -> str:
        return f"<Sandbox {self.name} {self.vm.state}{' deleted' if self.deleted else ''}>"


class AsyncSandbox:
    """The async :class:`Sandbox`: ``async with h.sandbox(...) as sb``."""

    def __init__(self, client: "AsyncHype", vm: Vm) -> None:
        self._client = client
        self.vm = vm
        self._pw: Optional["AsyncPlaywright"] = None
        self._browsers: List["AsyncBrowser"] = []
        self.deleted = False

    @property
    def name(self) -> str:
        """The VM's name."""
        return self.vm.name

    @property
    def cdp_url(self) -> Optional[str]:
        """Where CDP clients connect (browser images)."""
        return self.vm.cdp_url

    async def refresh(self) -> Vm:
        """Reloads the VM."""
        self.vm = await self._client.vms.get(self.name)
        return self.vm

    @operation("GET", "/api/v1/vms/{name}/cdp/devtools/{kind}/{id}")
    async def playwright(self, playwright: Optional["AsyncPlaywright"] = None, **connect_args: Any
                         ) -> "AsyncBrowser":
        """A Playwright ``Browser`` (async API) connected over CDP to the
        sandbox's Chromium; see :meth:`Sandbox.playwright`."""
        if not self.cdp_url:
            raise ValueError(f"sandbox {self.name} has no browser (image {self.vm.image!r})")
        if playwright is None:
            try:
                from playwright.async_api import async_playwright
            except ImportError as e:
                raise ImportError(_NO_PLAYWRIGHT) from e
            if self._pw is None:
                self._pw = await async_playwright().start()
            playwright = self._pw
        headers = {**self._client.cdp_headers(), **connect_args.pop("headers", {})}
        browser = await playwright.chromium.connect_over_cdp(self.cdp_url, headers=headers, **connect_args)
        self._browsers.append(browser)
        return browser

    async def screenshot(self) -> bytes:
        """A PNG of the browser's active page."""
        return await self._client.vms.screenshot(self.name)

    async def logs(self, tail: Optional[int] = None) -> str:
        """The serial console's newest output."""
        return await self._client.vms.logs(self.name, tail=tail)

    async def console(self, after: Optional[int] = None) -> List["ConsoleMessage"]:
        """What the browser's pages logged since the sandbox started."""
        return await self._client.vms.browser_console(self.name, after=after)

    async def network(self, after: Optional[int] = None) -> List["NetworkRequest"]:
        """The browser's pages' network requests since the sandbox started."""
        return await self._client.vms.browser_network(self.name, after=after)

    async def exec(self, cmd: Union[str, Sequence[str]], *, env: Optional[Dict[str, str]] = None,
                   cwd: Optional[str] = None, user: Optional[str] = None, stdin: Union[str, bytes, None] = None,
                   timeout: Optional[int] = None) -> ExecResult:
        """Runs ``cmd`` in the sandbox to its end."""
        return await self._client.vms.exec(self.name, cmd, env=env, cwd=cwd, user=user, stdin=stdin,
                                           timeout=timeout)

    async def exec_stream(self, cmd: Union[str, Sequence[str]], *, env: Optional[Dict[str, str]] = None,
                          cwd: Optional[str] = None, user: Optional[str] = None, tty: bool = False,
                          rows: Optional[int] = None, cols: Optional[int] = None, stdin: bool = True,
                          timeout: Optional[int] = None) -> AsyncExecStream:
        """Starts ``cmd`` in the sandbox, streamed over a WebSocket."""
        return await self._client.vms.exec_stream(self.name, cmd, env=env, cwd=cwd, user=user, tty=tty,
                                                  rows=rows, cols=cols, stdin=stdin, timeout=timeout)

    async def upload(self, path: str, data: AsyncUploadData, *, mode: Union[int, str, None] = None,
                     owner: Optional[str] = None, archive: bool = False) -> Uploaded:
        """Writes ``data`` to ``path`` in the sandbox, streamed."""
        return await self._client.vms.upload(self.name, path, data, mode=mode, owner=owner, archive=archive)

    async def download(self, path: str) -> AsyncGuestFile:
        """File ``path`` of the sandbox, streamed."""
        return await self._client.vms.download(self.name, path)

    async def stat(self, path: str) -> FileInfo:
        """What ``lstat`` says of ``path`` in the sandbox."""
        return await self._client.vms.stat(self.name, path)

    async def list_files(self, path: str) -> FileList:
        """The entries of directory ``path`` in the sandbox."""
        return await self._client.vms.list_files(self.name, path)

    async def remove_file(self, path: str, *, recursive: bool = False) -> None:
        """Removes ``path`` in the sandbox."""
        await self._client.vms.remove_file(self.name, path, recursive=recursive)

    async def downloads(self) -> List[Download]:
        """What the sandbox's browser downloaded."""
        return await self._client.vms.downloads(self.name)

    async def download_file(self, file: str) -> AsyncGuestFile:
        """One file the sandbox's browser downloaded, by its name."""
        return await self._client.vms.download_file(self.name, file)

    async def delete(self) -> None:
        """Closes the browsers :meth:`playwright` opened and deletes the VM (once)."""
        if self.deleted:
            return
        for b in self._browsers:
            try:
                await b.close()
            except Exception:
                pass
        self._browsers.clear()
        if self._pw is not None:
            await self._pw.stop()
            self._pw = None
        await self._client.vms.delete(self.name)
        self.deleted = True

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.delete()

    def __repr__(self) -> str:
        return f"<AsyncSandbox {self.name} {self.vm.state}{' deleted' if self.deleted else ''}>"


class SandboxStarter:
    """What ``AsyncHype.sandbox()`` returns: ``await`` it for an
    :class:`AsyncSandbox`, or use it in ``async with`` directly."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._sb: Optional[AsyncSandbox] = None

    def __await__(self) -> Generator[Any, None, AsyncSandbox]:
        return self._make().__await__()  # type: ignore[no-any-return]

    async def __aenter__(self) -> AsyncSandbox:
        self._sb = await self._make()
        return self._sb

    async def __aexit__(self, *exc: Any) -> None:
        if self._sb is not None:
            await self._sb.delete()
