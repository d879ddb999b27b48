"""The enums of hyped's OpenAPI document (schemas of type string with an
enum), as ``Literal`` strings; :mod:`hype.models` re-exports them."""

from typing import Literal, Union

VmState = Literal["creating", "starting", "running", "paused", "stopping", "stopped", "crashed", "standby"]
EventType = Literal[
    "VM_CREATED", "VM_STARTING", "VM_RUNNING", "VM_PAUSED", "VM_RESUMED", "VM_STOPPED",
    "VM_CRASHED", "VM_DELETED", "VM_SNAPSHOTTED", "VM_RESTORED", "SNAPSHOT_CREATED", "SNAPSHOT_DELETED",
    "DOWNLOAD_COMPLETED",
]
JobState = Literal["pending", "running", "completed", "failed", "cancelled"]
JobKind = Literal["vsphere_export", "xcpng_export", "ovf"]
JobEventType = Literal["JOB_QUEUED", "JOB_STARTED", "JOB_PROGRESS", "JOB_COMPLETED", "JOB_FAILED", "JOB_CANCELLED", "JOB_RESUMED"]
VmmKind = Literal["cloud-hypervisor", "qemu"]
VmmChoice = Literal["auto", "cloud-hypervisor", "qemu"]
BootMode = Literal["firmware", "kernel"]
Firmware = Literal["bios", "uefi"]
#: The bus an imported image's disk is attached to on QEMU.
StorageBus = Literal["virtio", "scsi", "sata", "ide"]
#: The NIC an imported image's VMs get on QEMU.
NicModel = Literal["virtio", "e1000"]
XcpngTransport = Literal["raw", "xva"]
PoolState = Literal["building", "filling", "ready", "failing"]
#: ``pool`` on a create: a warm pool's name, or ``False`` to boot cold.
PoolChoice = Union[str, bool]
SourceKind = Literal["vsphere", "xcpng"]
DiskBus = Literal["virtio", "scsi", "sata", "ide", "nvme", "xen", "other"]
PowerState = Literal["on", "off", "suspended", "paused", "unknown"]
FileKind = Literal["file", "directory", "symlink", "other"]
#: How the bytes of an exec's ``stdout`` or ``stderr`` are given.
OutputEncoding = Literal["utf-8", "base64"]
