"""Answer models of a browser sandbox's pages: console messages, network
requests, recordings, and links to the live view. :mod:`hype.models`
re-exports them."""

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ._models_base import Model


@dataclass
class ConsoleMessage(Model):
    """One console message of a browser sandbox's page (``console.log``,
    an uncaught exception, a browser log entry)."""

    #: Grows with each message of the sandbox; pass the last one seen as
    #: ``after`` to get only newer ones.
    seq: int
    #: ``log``, ``error``, ``warning``, ... as the page's console API named
    #: it; ``exception`` for an uncaught exception.
    level: str
    text: str
    #: The page (tab) it came from.
    target_id: str
    #: RFC 3339.
    at: str
    #: Where it was logged from, ``URL:LINE:COLUMN``, when known.
    location: Optional[str] = None


@dataclass
class NetworkRequest(Model):
    """One network request of a browser sandbox's page, with its response once there is one."""

    #: Grows with each request of the sandbox.
    seq: int
    #: The browser's own id for it.
    request_id: str
    target_id: str
    method: str
    url: str
    #: ``(name, value)`` pairs.
    request_headers: List[Tuple[str, str]]
    response_headers: List[Tuple[str, str]]
    #: RFC 3339, when the page sent it.
    at: str
    finished: bool
    #: ``Document``, ``XHR``, ``Fetch``, ``Script``, ``Image``, ...
    resource_type: Optional[str] = None
    #: The body the page sent (at most 64 KiB of it).
    post_data: Optional[str] = None
    status: Optional[int] = None
    status_text: Optional[str] = None
    mime_type: Optional[str] = None
    #: Why it failed (``net::ERR_...``), if it did.
    failure: Optional[str] = None
    #: Bytes received, once finished.
    encoded_length: Optional[int] = None


@dataclass
class Recording(Model):
    """A recording of a browser sandbox's pages (rrweb DOM events); it
    outlives its VM until deleted or its retention ends."""

    #: ``rec_`` and a UUID.
    id: str
    #: The VM it recorded (which may have been deleted since).
    vm: str
    vm_id: str
    started_at: str
    #: Bytes of events kept.
    size_bytes: int
    #: rrweb events kept.
    events: int
    #: Pages (tabs) that sent events.
    pages: int
    #: The console's replay page.
    replay_url: str
    #: ``None`` while it records (until the VM's run ends).
    ended_at: Optional[str] = None
    #: Why it stopped early (its size limit), if it did.
    note: Optional[str] = None


@dataclass
class RecordingList(Model):
    """A VM's recordings, oldest first (``recordings.list`` returns the list)."""

    items: List[Recording]


@dataclass
class LiveLink(Model):
    """A link to a VM's live view for a browser without the key.

    :attr:`url` carries :attr:`token`, a secret shown this once: neither
    is in the model's ``repr``; do not log them.
    """

    #: The live page with the token: open it in any browser, no login.
    url: str = field(repr=False)
    token: str = field(repr=False)
    #: When the link stops working (RFC 3339, UTC).
    expires_at: str
    #: Whether its viewer may send input; else view only.
    interactive: bool
