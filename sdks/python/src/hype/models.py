"""Typed models of what hyped answers, one per schema of its OpenAPI
document (``GET /api/v1/openapi.json``), field for field.

Answers are dataclasses; request bodies are ``TypedDict``\\ s; enums are
``Literal`` strings (a value a newer server adds still comes through).
Fields a newer server adds are kept in :attr:`Model.raw` until the SDK
names them. ``tests/test_models.py`` checks every model here against the
document, so a drift fails the tests.
"""


import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Mapping, Optional, Tuple, Type, TypeVar, Union

# The enums and the request bodies are modules of their own, to keep each
# module short; hype.models stays the one place to import any model from.
from ._bodies import (
    CreateLiveLink, CreatePool, CreateSnapshot, CreateVm, ExecRequest, ForkVm, InventoryRequest, JobBatch, JobSpec,
    NetworkSpec, OvfJob, ProbeRequest, VsphereJob, XcpngJob,
)
from ._enums import (
    BootMode, DiskBus, EventType, FileKind, Firmware, JobEventType, JobKind, JobState, NicModel,
    OutputEncoding, PoolChoice, PoolState, PowerState, SourceKind, StorageBus, VmmChoice, VmmKind,
    VmState, XcpngTransport,
)

__all__ = [
    "Model", "Vm", "VmmInfo", "VmNetwork", "Event", "Image", "Job", "JobProgress", "JobSource",
    "JobEvent", "VersionInfo", "AccelInfo", "ChVersions", "NetworkStatus", "GuestNetwork",
    "GuestInterface", "ProbeResult", "CreateVm", "NetworkSpec", "ProbeRequest", "VsphereJob",
    "XcpngJob", "JobSpec", "JobBatch", "ConsoleMessage", "NetworkRequest", "VmState", "EventType", "JobState", "JobKind",
    "JobEventType", "VmmKind", "VmmChoice", "BootMode", "Firmware", "XcpngTransport",
    "ErrorDetail", "Snapshot", "ForkFailure", "ForkResult", "CreateSnapshot", "ForkVm",
    "SourceKind", "DiskBus", "PowerState", "SourceDisk", "SourceNic", "SourceVm", "Inventory",
    "InventoryRequest", "OvfJob", "StatusInfo", "StateCount", "MemoryStatus", "DiskSpace",
    "Pool", "PoolState", "PoolChoice", "CreatePool", "ExecRequest", "ExecResult", "OutputEncoding",
    "FileInfo", "FileKind", "FileList", "Uploaded", "Download", "ImageDisk", "StorageBus", "NicModel",
    "JobResult", "JobFile", "Recording", "RecordingList", "LiveLink", "CreateLiveLink",
]

M = TypeVar("M", bound="Model")


@dataclass
class Model:
    """Base of every answer model."""

    #: The JSON object as the server sent it, including fields this SDK
    #: does not know yet.
    raw: Dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_json(cls: Type[M], data: Mapping[str, Any]) -> M:
        """Builds the model from a decoded JSON object (unknown keys are kept in ``raw``)."""
        return _decode(cls, data)  # type: ignore[no-any-return]

    def to_dict(self) -> Dict[str, Any]:
        """The model as a JSON-ready dict (``raw`` merged under the known fields)."""
        out = dict(self.raw)
        for f in dataclasses.fields(self):
            if f.name == "raw" or f.name.startswith("_"):
                continue
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, Model) else (
                [x.to_dict() if isinstance(x, Model) else x for x in v] if isinstance(v, list) else v
            )
        return out


@dataclass
class VmmInfo(Model):
    """The VMM behind a VM."""

    kind: VmmKind
    #: ``kvm`` or ``tcg`` (QEMU's software emulation).
    accel: Optional[str] = None
    #: Absent when no VMM runs.
    pid: Optional[int] = None
    #: The VMM's version, e.g. ``v53.0`` or ``10.0.2``.
    version: Optional[str] = None


@dataclass
class VmNetwork(Model):
    """A VM's network as the API shows it."""

    egress: bool
    #: The host tap device, when the VM is networked.
    tap: Optional[str] = None


@dataclass
class Vm(Model):
    """A VM as the API returns it."""

    name: str
    id: str
    state: VmState
    cpu_cores: int
    memory_mb: int
    image: str
    #: The full kernel command line the guest boots with.
    kernel_cmdline: str
    network: VmNetwork
    vmm: VmmInfo
    persist: bool
    #: Its pages are recorded (``record`` at create, or hyped's ``--record``).
    record: bool
    created_at: str
    updated_at: str
    #: The http URL a CDP client connects to (browser images).
    cdp_url: Optional[str] = None
    idle_timeout_seconds: Optional[int] = None
    ip: Optional[str] = None
    #: The console's live view of the browser, to watch it or take over
    #: (browser images).
    live_url: Optional[str] = None
    mac: Optional[str] = None
    ttl_seconds: Optional[int] = None


@dataclass
class ErrorDetail(Model):
    """An error as the API gives it (a fork that failed carries one)."""

    #: Stable, machine-readable, snake_case.
    code: str
    #: For people: what was wrong and, where it can, what to do.
    message: str


@dataclass
class Snapshot(Model):
    """A VM saved for forks: its memory, device state and disks at an instant."""

    name: str
    #: The VM it was taken of.
    vm: str
    image: str
    cpu_cores: int
    memory_mb: int
    vmm: VmmKind
    #: Bytes on the host's disk.
    size_bytes: int
    #: The VMs forked from it that exist now.
    forks: List[str]
    #: Made by a fork request, and removed with its last fork.
    ephemeral: bool
    created_at: str
    vmm_version: Optional[str] = None


@dataclass
class Pool(Model):
    """A warm pool: sandboxes of one shape kept ready for creates."""

    name: str
    image: str
    cpu_cores: int
    memory_mb: int
    size: int
    #: Sandboxes ready to be handed out now.
    ready: int
    #: Sandboxes on their way.
    starting: int
    state: PoolState
    #: Creates served from it since hyped started.
    claims: int
    #: Creates that found it empty since hyped started.
    misses: int
    created_at: str
    #: Why its last attempt failed, while ``failing``.
    error: Optional[str] = None
    #: The snapshot its sandboxes are forked from, once made.
    snapshot: Optional[str] = None
    #: How long its last refill took to be ready.
    last_refill_ms: Optional[int] = None


@dataclass
class ForkFailure(Model):
    """One VM a fork request did not make, and why."""

    name: str
    error: ErrorDetail


@dataclass
class ForkResult(Model):
    """What a request for several VMs made: each succeeds or fails alone."""

    vms: List[Vm]
    failed: List[ForkFailure]


@dataclass
class Event(Model):
    """One lifecycle event: ``{id, type, vm, state, at, detail}``."""

    #: Grows strictly; kept across restarts. Also the SSE ``id:``.
    id: int
    type: EventType
    #: The VM's name.
    vm: str
    #: The VM's state right after the event.
    state: VmState
    #: RFC 3339, UTC.
    at: str
    #: Why, when there is more to say (a crash reason, a failed step).
    detail: Optional[str] = None


@dataclass
class ImageDisk(Model):
    """One disk of an imported image."""

    #: The file under the image's directory (``disk0.raw``, ...).
    file: str
    size_bytes: int
    sha256: str
    bus: StorageBus


@dataclass
class Image(Model):
    """A boot image."""

    name: str
    #: ``kernel``, ``rootfs`` or ``disk`` (imported).
    kind: str
    #: Where it came from: ``build``, ``vsphere``, ``xcpng``, ...
    source: str
    size_bytes: int
    #: ``kernel`` (hype's kernel) or ``firmware`` (imported disks).
    boot_mode: str
    created_at: str
    firmware: Optional[Firmware] = None
    format: Optional[str] = None
    kernel_version: Optional[str] = None
    sha256: Optional[str] = None
    #: An imported image's disks, boot disk first, each on its bus.
    disks: Optional[List[ImageDisk]] = None
    #: The NIC an imported image's VMs get (``virtio`` or ``e1000``).
    nic_model: Optional[NicModel] = None


@dataclass
class ResumedFile(Model):
    """A downloaded file a resumed job continued, and from which offset."""

    file: str
    offset: int


@dataclass
class JobResume(Model):
    """Where a job a restart of hyped interrupted took up again."""

    #: Bytes of the earlier run kept, after checking them.
    bytes_kept: int
    #: Per downloaded file, the offset it continued from; empty when the
    #: source cannot continue a transfer (the job started over).
    files: List[ResumedFile]


@dataclass
class JobProgress(Model):
    """Where a job is."""

    #: ``queued``, ``connecting``, ``exporting``, ``downloading``,
    #: ``verifying``, ``converting``, ``registering``, ``done``.
    phase: str
    bytes_done: Optional[int] = None
    bytes_total: Optional[int] = None
    eta_seconds: Optional[int] = None
    files_done: Optional[int] = None
    files_total: Optional[int] = None
    #: 0 to 100.
    percent: Optional[float] = None
    #: Set when this run took up a job a restart of hyped interrupted.
    resumed: Optional[JobResume] = None


@dataclass
class JobSource(Model):
    """The job's source as stored and shown (never a password)."""

    insecure: bool
    boot: Optional[BootMode] = None
    firmware: Optional[Firmware] = None
    disk_bus: Optional[StorageBus] = None
    nic_model: Optional[NicModel] = None
    parallel_downloads: Optional[int] = None
    remove_cdrom: Optional[bool] = None
    shutdown: Optional[bool] = None
    transport: Optional[XcpngTransport] = None
    url: Optional[str] = None
    username: Optional[str] = None
    vm: Optional[str] = None
    xva: Optional[str] = None
    export_only: Optional[bool] = None
    output: Optional[str] = None
    path: Optional[str] = None
    #: The job uses hyped's own password, so it resumes after a restart.
    env_password: Optional[bool] = None


@dataclass
class JobFile(Model):
    """A file an export-only job kept."""

    #: A plain file name inside the result's ``output``.
    name: str
    size_bytes: int
    #: Lower-case hex, as the folder's ``.mf`` has it.
    sha256: str


@dataclass
class JobResult(Model):
    """What a completed export-only job kept: its folder and every file in it."""

    output: str
    files: List[JobFile]


@dataclass
class Job(Model):
    """An import job. From a client, it can :meth:`wait`, :meth:`cancel`
    and :meth:`refresh` itself (awaitables on an :class:`~hype.AsyncHype`)."""

    id: str
    kind: JobKind
    state: JobState
    #: The image the job registers.
    image: str
    source: JobSource
    progress: JobProgress
    created_at: str
    updated_at: str
    #: The reason, when failed or cancelled.
    error: Optional[str] = None
    finished_at: Optional[str] = None
    started_at: Optional[str] = None
    #: Set when an export-only job completes: the files it kept.
    result: Optional[JobResult] = None
    _client: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def done(self) -> bool:
        """Whether the job has ended (completed, failed or cancelled)."""
        return self.state in ("completed", "failed", "cancelled")

    def _bound(self) -> Any:
        if self._client is None:
            raise RuntimeError("this Job was not returned by a client; use h.jobs.wait(job.id)")
        return self._client

    def wait(self, progress: Any = None, timeout: Optional[float] = None) -> Any:
        """Follows the job's events until it ends; returns the completed job.

        ``progress`` is called with every :class:`JobEvent` (from the job's
        first). Raises :class:`~hype.JobFailedError` when the job fails or
        is cancelled, :class:`~hype.HypeTimeoutError` after ``timeout``
        seconds. On an ``AsyncHype`` this returns an awaitable.
        """
        return self._bound().jobs.wait(self.id, progress=progress, timeout=timeout, _into=self)

    def cancel(self) -> Any:
        """Cancels the job (an awaitable on an ``AsyncHype``)."""
        return self._bound().jobs.cancel(self.id, _into=self)

    def refresh(self) -> Any:
        """Reloads the job from hyped (an awaitable on an ``AsyncHype``)."""
        return self._bound().jobs.get(self.id, _into=self)

    def _update(self, other: "Job") -> "Job":
        for f in dataclasses.fields(self):
            if f.name != "_client":
                setattr(self, f.name, getattr(other, f.name))
        self.raw = other.raw
        return self


@dataclass
class JobEvent(Model):
    """``{id, type, job, at}`` on the job event stream."""

    #: Grows strictly; the SSE ``id:``.
    id: int
    type: JobEventType
    #: The job as it was right after the event.
    job: Job
    at: str


@dataclass
class AccelInfo(Model):
    """How guests are accelerated here, and why."""

    #: ``kvm`` or ``tcg``.
    mode: str
    kvm_usable: bool
    reason: str


@dataclass
class ChVersions(Model):
    """cloud-hypervisor versions this server can boot VMs with."""

    available: List[str]
    default: Optional[str] = None


@dataclass
class NetworkStatus(Model):
    """Whether VMs get a network, and if not, why."""

    enabled: bool
    #: Failed preflight checks, each with its fix.
    problems: List[str]
    bridge: Optional[str] = None
    subnet: Optional[str] = None


@dataclass
class VersionInfo(Model):
    """``GET /api/v1/version``."""

    server: str
    api: str
    cloud_hypervisor: ChVersions
    accel: AccelInfo
    default_vmm: str
    network: NetworkStatus
    qemu: Optional[str] = None


@dataclass
class StateCount(Model):
    """How many VMs or jobs are in one state."""

    state: str
    count: int


@dataclass
class MemoryStatus(Model):
    """The host's memory, and what VMs that may run hold of it."""

    total_bytes: int
    available_bytes: int
    vms_mb: int


@dataclass
class DiskSpace(Model):
    """Room on one filesystem of hyped's."""

    path: str
    total_bytes: int
    available_bytes: int


@dataclass
class StatusInfo(Model):
    """``GET /api/v1/status``: hyped and its host at a glance."""

    server: str
    started_at: str
    uptime_seconds: int
    vms: List[StateCount]
    jobs: List[StateCount]
    memory: MemoryStatus
    vm_disk: DiskSpace
    images_disk: DiskSpace
    accel: AccelInfo
    network: NetworkStatus


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
class SourceDisk(Model):
    """A disk of a source VM."""

    size_bytes: int
    bus: DiskBus
    #: vSphere ``ControllerTypeBus:Unit``; XCP-ng the VBD's ``userdevice``.
    slot: str
    label: Optional[str] = None


@dataclass
class SourceNic(Model):
    """A NIC of a source VM."""

    #: ``vmxnet3``, ``e1000``, ... (vSphere); ``xen`` (XCP-ng).
    model: str
    mac: Optional[str] = None
    network: Optional[str] = None


@dataclass
class SourceVm(Model):
    """A VM (or template) of an import source."""

    name: str
    power_state: PowerState
    template: bool
    disks: List[SourceDisk]
    nics: List[SourceNic]
    #: vSphere's inventory path (what a job's ``vm`` takes).
    path: Optional[str] = None
    uuid: Optional[str] = None
    guest_os: Optional[str] = None
    firmware: Optional[Firmware] = None
    cpus: Optional[int] = None
    memory_mb: Optional[int] = None


@dataclass
class Inventory(Model):
    """What a vSphere or XCP-ng source holds, VMs by name."""

    kind: SourceKind
    url: str
    vms: List[SourceVm]


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


# Decoding: driven by the dataclasses' type hints.

_HINTS: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS:
        import typing

        _HINTS[cls] = typing.get_type_hints(cls, globalns=globals())
    return _HINTS[cls]


def _decode(tp: Any, value: Any) -> Any:
    import typing

    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(args[0], value) if len(args) == 1 else value
    if origin in (list, List):
        (item,) = typing.get_args(tp) or (Any,)
        return [_decode(item, v) for v in value]
    if origin in (tuple, Tuple):
        return tuple(_decode(t, v) for t, v in zip(typing.get_args(tp), value))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
        hints = _hints(tp)
        known = {f.name for f in dataclasses.fields(tp) if f.init}
        obj = tp(**{k: _decode(hints[k], v) for k, v in value.items() if k in known})
        obj.raw = dict(value)  # type: ignore[attr-defined]  # every model has it
        return obj
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
