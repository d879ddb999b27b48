"""Answer models of images and how they are imported: images and their
disks, import jobs (with their progress, source, result and events), and
what an import source holds. :mod:`hype.models` re-exports them."""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, List, Optional

from ._enums import (
    BootMode, DiskBus, Firmware, JobEventType, JobKind, JobState, NicModel, PowerState, SourceKind, StorageBus,
    XcpngTransport,
)
from ._models_base import Model


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
