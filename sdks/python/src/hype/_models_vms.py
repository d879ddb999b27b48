"""Answer models of VMs and what is made from them: the VM and its VMM and
network, snapshots, warm pools, fork results, and lifecycle events.
:mod:`hype.models` re-exports them."""

from dataclasses import dataclass
from typing import List, Optional

from ._enums import EventType, PoolState, VmmKind, VmState
from ._models_base import Model


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
