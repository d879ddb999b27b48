//! The vocabulary hype speaks to the outside: VM, image, event and error
//! shapes as `../shared/CONTRACT.md` names them, the create body with its
//! validation, and the VM lifecycle with its one transition function.
//!
//! Everything here is plain data plus pure functions. It must not do I/O nor
//! know about HTTP, SQLite or a VMM: the server, the CLI, the MCP tools and
//! the TUI all link it, and the OpenAPI document is generated from it.

pub mod browser;
pub mod error;
pub mod event;
pub mod exec;
pub mod files;
pub mod guest;
pub mod image;
pub mod job;
pub mod lenient;
pub mod lifecycle;
pub mod live;
pub mod page;
pub mod pool;
pub mod recording;
pub mod session;
pub mod snapshot;
pub mod source;
pub mod status;
pub mod transfer;
pub mod version;
pub mod vm;

pub use browser::{ConsoleMessage, NetworkRequest};
pub use error::{ErrorBody, ErrorDetail, ErrorKind};
pub use event::{Event, EventType};
pub use exec::{
    ExecControl, ExecNotice, ExecRequest, ExecResult, ExecSpec, ExecStreamQuery, OutputEncoding,
    DEFAULT_EXEC_TIMEOUT_SECONDS, MAX_EXEC_OUTPUT, MAX_EXEC_TIMEOUT_SECONDS,
};
pub use files::{
    Download, DownloadList, FileInfo, FileKind, FileList, PathQuery, RemoveQuery, UploadQuery,
    UploadSpec, Uploaded,
};
pub use guest::{GuestInterface, GuestNetwork, ProbeRequest, ProbeResult, MAX_PROBE_TIMEOUT_MS};
pub use image::{Firmware, Image, ImageDisk, ImageList, NicModel, StorageBus};
pub use job::{
    parse_submission, sanitize_image_name, BootMode, InvalidJob, Job, JobBatch, JobEvent,
    JobEventType, JobFile, JobKind, JobProgress, JobResult, JobResume, JobSource, JobSpec,
    JobState, OvfJob, ResumeJob, ResumedFile, VsphereJob, XcpngJob, XcpngTransport,
    AWAITING_PASSWORD,
};
pub use lifecycle::{InvalidTransition, Transition, VmState};
pub use live::{
    CreateLiveLink, KeyAction, KeyInput, LiveInput, LiveLink, LiveNotice, LiveTab, MouseAction,
    MouseButton, MouseInput,
};
pub use page::{EventList, JobList, PageRequest, VmList, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
pub use pool::{CreatePool, Pool, PoolChoice, PoolList, PoolState, MAX_POOL_SIZE};
pub use recording::{Recording, RecordingList};
pub use session::{Login, SessionInfo};
pub use snapshot::{
    fork_names, CreateSnapshot, Created, ForkFailure, ForkResult, ForkVm, Snapshot, SnapshotList,
    MAX_FORKS,
};
pub use source::{
    DiskBus, Inventory, InventoryRequest, PowerState, SourceDisk, SourceKind, SourceNic, SourceVm,
};
pub use status::{DiskSpace, MemoryStatus, StateCount, StatusInfo};
pub use transfer::{ExportProgress, ExportedDisk};
pub use version::{AccelInfo, ChVersions, NetworkStatus, VersionInfo};
pub use vm::{
    validate_name, CreateVm, HostLimits, InvalidVmSpec, NetworkSpec, ShapeField, Vm, VmNetwork,
    VmmChoice, VmmInfo, VmmKind,
};
