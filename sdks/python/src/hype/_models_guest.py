"""Answer models of what happens inside a guest: its network as seen from
inside, probes, processes run with exec, its files, uploads, and the files
its browser downloaded. :mod:`hype.models` re-exports them."""

from dataclasses import dataclass
from typing import List, Optional

from ._enums import FileKind, OutputEncoding
from ._models_base import Model


@dataclass
class GuestInterface(Model):
    """One network interface inside a guest."""

    name: str
    up: bool
    #: ``A.B.C.D/NN``.
    addresses: List[str]
    mac: Optional[str] = None


@dataclass
class GuestNetwork(Model):
    """The guest's network as seen from inside."""

    interfaces: List[GuestInterface]
    gateway: Optional[str] = None


@dataclass
class ProbeResult(Model):
    """Whether the guest reached the target."""

    target: str
    reachable: bool
    error: Optional[str] = None
    rtt_ms: Optional[int] = None


@dataclass
class ExecResult(Model):
    """What a finished process in the guest did (``vms.exec``)."""

    #: Killed at its timeout.
    timed_out: bool
    #: Its output: text when it was valid UTF-8, else base64 (see
    #: :attr:`stdout_encoding`); :attr:`stdout_bytes` decodes either.
    stdout: str
    stdout_encoding: OutputEncoding
    stderr: str
    stderr_encoding: OutputEncoding
    #: Some output was left out (over 1 MiB per stream).
    truncated: bool
    duration_ms: int
    #: Its exit status; ``None`` when a signal ended it.
    exit_code: Optional[int] = None
    #: The signal that ended it (``SIGKILL``), if one did.
    signal: Optional[str] = None

    @property
    def stdout_bytes(self) -> bytes:
        """:attr:`stdout` as bytes, whatever its encoding."""
        return _output_bytes(self.stdout, self.stdout_encoding)

    @property
    def stderr_bytes(self) -> bytes:
        """:attr:`stderr` as bytes, whatever its encoding."""
        return _output_bytes(self.stderr, self.stderr_encoding)


def _output_bytes(text: str, encoding: str) -> bytes:
    import base64

    return base64.b64decode(text) if encoding == "base64" else text.encode("utf-8")


@dataclass
class FileInfo(Model):
    """A file in the guest, as ``lstat`` sees it."""

    #: Its name in its directory.
    name: str
    kind: FileKind
    size: int
    #: Permission bits, octal (``0644``).
    mode: str
    uid: int
    gid: int
    #: RFC 3339, from the guest's clock.
    modified_at: str
    #: Where a symlink points.
    target: Optional[str] = None


@dataclass
class FileList(Model):
    """A directory's entries in the guest, sorted by name."""

    path: str
    entries: List[FileInfo]
    #: Over 10,000 entries: the rest are left out.
    truncated: bool


@dataclass
class Uploaded(Model):
    """What an upload wrote."""

    path: str
    #: Bytes received (the file's size, or the archive's).
    bytes: int


@dataclass
class Download(Model):
    """A file the sandbox's browser downloaded (``vms.download_file`` fetches it)."""

    #: Its file name in the guest's downloads folder.
    name: str
    size: int
    #: Hex, computed in the guest when the download finished.
    sha256: str
    #: What was downloaded.
    url: str
    #: RFC 3339.
    finished_at: str
    #: The page it was started from, when the browser says.
    page_url: Optional[str] = None
