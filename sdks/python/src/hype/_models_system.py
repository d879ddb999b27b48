"""Answer models of hyped itself and its host: ``GET /api/v1/version`` and
``GET /api/v1/status`` with their parts (acceleration, cloud-hypervisor
versions, networking, memory, disk space). :mod:`hype.models` re-exports
them."""

from dataclasses import dataclass
from typing import List, Optional

from ._models_base import Model


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
