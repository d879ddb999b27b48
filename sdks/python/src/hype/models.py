"""Typed models of what hyped answers, one per schema of its OpenAPI
document (``GET /api/v1/openapi.json``), field for field.

Answers are dataclasses; request bodies are ``TypedDict``\\ s; enums are
``Literal`` strings (a value a newer server adds still comes through).
Fields a newer server adds are kept in :attr:`Model.raw` until the SDK
names them. ``tests/test_models.py`` checks every model here against the
document, so a drift fails the tests.

This module is the one place to import any model from; the models are
defined in modules by the API's areas, to keep each module short:
``_models_vms`` (VMs, snapshots, pools, forks, lifecycle events),
``_models_imports`` (images, import jobs, import sources),
``_models_system`` (version, status), ``_models_guest`` (exec, files,
downloads, the guest's network), ``_models_browser`` (console, network
requests, recordings, live links), ``_models_base`` (:class:`Model` and
decoding), ``_enums`` (enums) and ``_bodies`` (request bodies).
"""

from ._bodies import (
    CreateLiveLink, CreatePool, CreateSnapshot, CreateVm, ExecRequest, ForkVm, InventoryRequest, JobBatch, JobSpec,
    NetworkSpec, OvfJob, ProbeRequest, VsphereJob, XcpngJob,
)
from ._enums import (
    BootMode, DiskBus, EventType, FileKind, Firmware, JobEventType, JobKind, JobState, NicModel,
    OutputEncoding, PoolChoice, PoolState, PowerState, SourceKind, StorageBus, VmmChoice, VmmKind,
    VmState, XcpngTransport,
)
from ._models_base import Model
from ._models_browser import ConsoleMessage, LiveLink, NetworkRequest, Recording, RecordingList
from ._models_guest import (
    Download, ExecResult, FileInfo, FileList, GuestInterface, GuestNetwork, ProbeResult, Uploaded,
)
from ._models_imports import (
    Image, ImageDisk, Inventory, Job, JobEvent, JobFile, JobProgress, JobResult, JobSource, SourceDisk, SourceNic,
    SourceVm,
)
# Models with no entry in __all__, named here (``as``) so type checkers
# see them re-exported too.
from ._models_imports import JobResume as JobResume, ResumedFile as ResumedFile
from ._models_system import (
    AccelInfo, ChVersions, DiskSpace, MemoryStatus, NetworkStatus, StateCount, StatusInfo, VersionInfo,
)
from ._models_vms import ErrorDetail, Event, ForkFailure, ForkResult, Pool, Snapshot, Vm, VmmInfo, VmNetwork

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
