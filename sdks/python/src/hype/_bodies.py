"""Request bodies hyped takes, as ``TypedDict``\\ s, one per schema of its
OpenAPI document; :mod:`hype.models` re-exports them. They are apart
from the answer models only to keep each module short."""

from typing import Dict, List, Literal, Optional, Union

from typing_extensions import NotRequired, TypedDict

from ._enums import (
    BootMode, Firmware, NicModel, PoolChoice, SourceKind, StorageBus, VmmChoice, XcpngTransport,
)


class NetworkSpec(TypedDict, total=False):
    """``network`` in the create body."""

    egress: bool


class CreateVm(TypedDict):
    """The create body (``vms.create`` takes these as keyword arguments)."""

    name: str
    cpu_cores: NotRequired[int]
    memory_mb: NotRequired[int]
    image: NotRequired[Optional[str]]
    kernel_cmdline: NotRequired[Optional[str]]
    vmm: NotRequired[VmmChoice]
    ttl_seconds: NotRequired[Optional[int]]
    idle_timeout_seconds: NotRequired[Optional[int]]
    network: NotRequired[Optional[NetworkSpec]]
    persist: NotRequired[bool]
    record: NotRequired[bool]
    snapshot: NotRequired[Optional[str]]
    count: NotRequired[Optional[int]]
    pool: NotRequired[Optional[PoolChoice]]


class CreatePool(TypedDict):
    """``pools.create`` body (its keyword arguments)."""

    name: str
    image: str
    size: int
    cpu_cores: NotRequired[int]
    memory_mb: NotRequired[int]


class CreateSnapshot(TypedDict):
    """``snapshots.create`` body."""

    name: str


class CreateLiveLink(TypedDict, total=False):
    """``vms.live_link`` body (its keyword arguments)."""

    #: Seconds until the link stops working, 1 to 86400 (default 3600).
    expires_in: int
    interactive: bool


class ForkVm(TypedDict):
    """``vms.fork`` body (its keyword arguments)."""

    name: str
    count: NotRequired[Optional[int]]
    ttl_seconds: NotRequired[Optional[int]]
    idle_timeout_seconds: NotRequired[Optional[int]]


class ProbeRequest(TypedDict):
    """Ask the guest to ping an address from inside."""

    target: str
    timeout_ms: NotRequired[int]


class VsphereJob(TypedDict):
    """A VM exported from vCenter or ESXi as OVF (``kind: vsphere_export``)."""

    kind: Literal["vsphere_export"]
    url: str
    username: str
    vm: str
    password: NotRequired[Optional[str]]
    name: NotRequired[Optional[str]]
    insecure: NotRequired[bool]
    boot: NotRequired[BootMode]
    firmware: NotRequired[Optional[Firmware]]
    #: Every disk's bus on QEMU (default: each disk's own on the source).
    disk_bus: NotRequired[Optional[StorageBus]]
    #: The NIC on QEMU (default: what the source had).
    nic_model: NotRequired[Optional[NicModel]]
    parallel_downloads: NotRequired[Optional[int]]
    remove_cdrom: NotRequired[bool]
    shutdown: NotRequired[bool]
    #: Keep the ``.ovf``, disks and ``.mf`` in ``output`` (under hyped's
    #: ``--export-dir``) instead of making an image.
    export_only: NotRequired[bool]
    output: NotRequired[Optional[str]]


class XcpngJob(TypedDict):
    """A VM's disk from XCP-ng (raw VDI or XVA), or a local XVA (``kind: xcpng_export``)."""

    kind: Literal["xcpng_export"]
    url: NotRequired[Optional[str]]
    username: NotRequired[Optional[str]]
    vm: NotRequired[Optional[str]]
    password: NotRequired[Optional[str]]
    xva: NotRequired[Optional[str]]
    name: NotRequired[Optional[str]]
    insecure: NotRequired[bool]
    boot: NotRequired[BootMode]
    firmware: NotRequired[Optional[Firmware]]
    #: Every disk's bus on QEMU (default: each disk's own on the source).
    disk_bus: NotRequired[Optional[StorageBus]]
    #: The NIC on QEMU (default: what the source had).
    nic_model: NotRequired[Optional[NicModel]]
    transport: NotRequired[Optional[XcpngTransport]]
    #: Keep the raw disks, an OVF hype writes and a ``.mf`` in ``output``
    #: (under hyped's ``--export-dir``) instead of making an image.
    export_only: NotRequired[bool]
    output: NotRequired[Optional[str]]


class InventoryRequest(TypedDict):
    """The source to list (``POST /api/v1/sources/inventory``)."""

    kind: SourceKind
    url: str
    username: str
    password: NotRequired[Optional[str]]
    insecure: NotRequired[bool]


class OvfJob(TypedDict):
    """An OVF folder on hyped's host, as an export-only job leaves it (``kind: ovf``)."""

    kind: Literal["ovf"]
    path: str
    name: NotRequired[Optional[str]]
    boot: NotRequired[BootMode]
    firmware: NotRequired[Optional[Firmware]]
    #: Every disk's bus on QEMU (default: each disk's own on the source).
    disk_bus: NotRequired[Optional[StorageBus]]
    #: The NIC on QEMU (default: what the source had).
    nic_model: NotRequired[Optional[NicModel]]


#: One job as submitted, tagged by ``kind``.
JobSpec = Union[VsphereJob, XcpngJob, OvfJob]


class JobBatch(TypedDict):
    """Several jobs, all stored or none."""

    jobs: List[JobSpec]


class ExecRequest(TypedDict):
    """``POST /api/v1/vms/{name}/exec`` (``vms.exec`` takes these as arguments)."""

    cmd: List[str]
    env: NotRequired[Dict[str, str]]
    cwd: NotRequired[Optional[str]]
    user: NotRequired[Optional[str]]
    stdin: NotRequired[Optional[str]]
    stdin_base64: NotRequired[Optional[str]]
    timeout_seconds: NotRequired[Optional[int]]
