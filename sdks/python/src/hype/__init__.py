"""Python client for hype: microVM browser sandboxes, lifecycle events and
import jobs.

>>> import hype
>>> h = hype.Hype()                       # HYPE_API_BASE, HYPE_API_KEY
>>> with h.sandbox(image="browser", ttl=600) as sb:   # doctest: +SKIP
...     page = sb.playwright().contexts[0].new_page()
"""

from ._client import AsyncHype, Hype
from ._errors import HypeConnectionError, HypeError, HypeTimeoutError, JobFailedError
from ._guest import AsyncExecStream, AsyncGuestFile, ExecChunk, ExecStream, GuestFile
from ._pagination import AsyncPager, Pager
from ._sandbox import AsyncSandbox, Sandbox
from ._sse import AsyncEventStream, EventStream
from ._version import __version__
from .models import (
    ConsoleMessage,
    Download,
    ExecResult,
    FileInfo,
    FileList,
    NetworkRequest,
    Event,
    GuestNetwork,
    Image,
    Job,
    JobEvent,
    JobProgress,
    LiveLink,
    ProbeResult,
    Recording,
    Uploaded,
    VersionInfo,
    Vm,
)

__all__ = [
    "Hype", "AsyncHype", "HypeError", "HypeConnectionError", "HypeTimeoutError", "JobFailedError",
    "Sandbox", "AsyncSandbox", "EventStream", "AsyncEventStream", "Pager", "AsyncPager",
    "Vm", "Event", "Image", "Job", "JobEvent", "JobProgress", "VersionInfo", "GuestNetwork",
    "ProbeResult", "ConsoleMessage", "NetworkRequest", "ExecResult", "FileInfo", "FileList", "Uploaded",
    "Download", "LiveLink", "Recording", "ExecStream", "AsyncExecStream", "ExecChunk", "GuestFile", "AsyncGuestFile", "__version__",
]
