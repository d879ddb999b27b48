/**
 * Typed models of what hyped answers, one per schema of its OpenAPI
 * document (`GET /api/v1/openapi.json`), with camelCase field names
 * (`cpu_cores` is `cpuCores`). Each answer also keeps the JSON object as
 * the server sent it in `raw`.
 */

export type VmState = "creating" | "starting" | "running" | "paused" | "stopping" | "stopped" | "crashed" | "standby";
export type EventType =
  | "VM_CREATED" | "VM_STARTING" | "VM_RUNNING" | "VM_PAUSED" | "VM_RESUMED" | "VM_STOPPED"
  | "VM_CRASHED" | "VM_DELETED" | "VM_SNAPSHOTTED" | "VM_RESTORED" | "SNAPSHOT_CREATED" | "SNAPSHOT_DELETED"
  | "DOWNLOAD_COMPLETED";
export type JobState = "pending" | "running" | "completed" | "failed" | "cancelled";
export type JobKind = "vsphere_export" | "xcpng_export" | "ovf";
export type JobEventType = "JOB_QUEUED" | "JOB_STARTED" | "JOB_PROGRESS" | "JOB_COMPLETED" | "JOB_FAILED" | "JOB_CANCELLED" | "JOB_RESUMED";
export type VmmKind = "cloud-hypervisor" | "qemu";
export type VmmChoice = "auto" | "cloud-hypervisor" | "qemu";
export type PoolState = "building" | "filling" | "ready" | "failing";
/** `pool` on a create: a warm pool's name, or `false` to boot cold. */
export type PoolChoice = string | boolean;
export type BootMode = "firmware" | "kernel";
export type Firmware = "bios" | "uefi";
/** The bus an imported image's disk is attached to on QEMU. */
export type StorageBus = "virtio" | "scsi" | "sata" | "ide";
/** The NIC an imported image's VMs get on QEMU. */
export type NicModel = "virtio" | "e1000";
export type XcpngTransport = "raw" | "xva";
export type SourceKind = "vsphere" | "xcpng";
export type DiskBus = "virtio" | "scsi" | "sata" | "ide" | "nvme" | "xen" | "other";
export type PowerState = "on" | "off" | "suspended" | "paused" | "unknown";
export type FileKind = "file" | "directory" | "symlink" | "other";
/** How the bytes of an exec's `stdout` or `stderr` are given. */
export type OutputEncoding = "utf-8" | "base64";

/** The JSON object as the server sent it. */
export interface Raw {
  raw: Record<string, unknown>;
}

/** The VMM behind a VM. */
export interface VmmInfo {
  kind: VmmKind;
  /** `kvm` or `tcg`. */
  accel?: string | null;
  /** Absent when no VMM runs. */
  pid?: number | null;
  version?: string | null;
}

/** A VM's network as the API shows it. */
export interface VmNetwork {
  egress: boolean;
  /** The host tap device, when the VM is networked. */
  tap?: string | null;
}

/** A VM as the API returns it. */
export interface Vm extends Raw {
  name: string;
  id: string;
  state: VmState;
  cpuCores: number;
  memoryMb: number;
  image: string;
  kernelCmdline: string;
  network: VmNetwork;
  vmm: VmmInfo;
  persist: boolean;
  /** Its pages are recorded (`record` at create, or hyped's `--record`). */
  record: boolean;
  createdAt: string;
  updatedAt: string;
  /** The http URL a CDP client connects to (browser images). */
  cdpUrl?: string | null;
  idleTimeoutSeconds?: number | null;
  ip?: string | null;
  /** The console's live view of the browser, to watch it or take over (browser images). */
  liveUrl?: string | null;
  mac?: string | null;
  ttlSeconds?: number | null;
}

/** One lifecycle event. */
export interface Event extends Raw {
  /** Grows strictly; kept across restarts. Also the SSE `id:`. */
  id: number;
  type: EventType;
  /** The VM's name. */
  vm: string;
  /** The VM's state right after the event. */
  state: VmState;
  /** RFC 3339, UTC. */
  at: string;
  detail?: string | null;
}

/** One disk of an imported image. */
export interface ImageDisk {
  /** The file under the image's directory (`disk0.raw`, ...). */
  file: string;
  sizeBytes: number;
  sha256: string;
  bus: StorageBus;
}

/** A boot image. */
export interface Image extends Raw {
  name: string;
  /** `kernel`, `rootfs` or `disk` (imported). */
  kind: string;
  /** `build`, `vsphere`, `xcpng`, ... */
  source: string;
  sizeBytes: number;
  bootMode: string;
  createdAt: string;
  firmware?: Firmware | null;
  format?: string | null;
  kernelVersion?: string | null;
  sha256?: string | null;
  /** An imported image's disks, boot disk first, each on its bus. */
  disks?: ImageDisk[];
  /** The NIC an imported image's VMs get. */
  nicModel?: NicModel | null;
}

/** Where a job is. */
export interface JobProgress {
  /** `queued`, `connecting`, `exporting`, `downloading`, `verifying`, `converting`, `registering`, `done`. */
  phase: string;
  bytesDone?: number | null;
  bytesTotal?: number | null;
  etaSeconds?: number | null;
  filesDone?: number | null;
  filesTotal?: number | null;
  /** 0 to 100. */
  percent?: number | null;
  /** Set when this run took up a job a restart of hyped interrupted. */
  resumed?: JobResume | null;
}

/** Where a job a restart of hyped interrupted took up again. */
export interface JobResume {
  /** Bytes of the earlier run kept, after checking them. */
  bytesKept: number;
  /** Per downloaded file, the offset its transfer continued from; empty when the job started over. */
  files: ResumedFile[];
}

/** A downloaded file a resumed job continued, and from which offset. */
export interface ResumedFile {
  file: string;
  offset: number;
}

/** The job's source as stored and shown (never a password). */
export interface JobSource {
  insecure: boolean;
  boot?: BootMode;
  firmware?: Firmware | null;
  diskBus?: StorageBus | null;
  nicModel?: NicModel | null;
  parallelDownloads?: number | null;
  removeCdrom?: boolean;
  shutdown?: boolean;
  transport?: XcpngTransport | null;
  url?: string | null;
  username?: string | null;
  vm?: string | null;
  xva?: string | null;
  /** The job keeps the export in `output` and makes no image. */
  exportOnly?: boolean;
  output?: string | null;
  /** An `ovf` job's folder. */
  path?: string | null;
  /** The job uses hyped's own password, so it resumes after a restart. */
  envPassword?: boolean;
}

/** An import job's fields (the `Job` class adds `wait`, `cancel`, `refresh`). */
export interface JobData extends Raw {
  id: string;
  kind: JobKind;
  state: JobState;
  image: string;
  source: JobSource;
  progress: JobProgress;
  createdAt: string;
  updatedAt: string;
  error?: string | null;
  finishedAt?: string | null;
  startedAt?: string | null;
  /** Set when an export-only job completes: the files it kept. */
  result?: JobResult | null;
}

/** What a completed export-only job kept: its folder and every file in it. */
export interface JobResult {
  output: string;
  files: JobFile[];
}

/** A file an export-only job kept. */
export interface JobFile {
  /** A plain file name inside the result's `output`. */
  name: string;
  sizeBytes: number;
  /** Lower-case hex, as the folder's `.mf` has it. */
  sha256: string;
}

export interface AccelInfo {
  mode: string;
  kvmUsable: boolean;
  reason: string;
}

export interface ChVersions {
  available: string[];
  default?: string | null;
}

export interface NetworkStatus {
  enabled: boolean;
  problems: string[];
  bridge?: string | null;
  subnet?: string | null;
}

/** `GET /api/v1/version`. */
export interface VersionInfo extends Raw {
  server: string;
  api: string;
  cloudHypervisor: ChVersions;
  accel: AccelInfo;
  defaultVmm: string;
  network: NetworkStatus;
  qemu?: string | null;
}

export interface GuestInterface {
  name: string;
  up: boolean;
  addresses: string[];
  mac?: string | null;
}

/** The guest's network as seen from inside. */
export interface GuestNetwork extends Raw {
  interfaces: GuestInterface[];
  gateway?: string | null;
}

export interface ProbeResult extends Raw {
  target: string;
  reachable: boolean;
  error?: string | null;
  rttMs?: number | null;
}

/** One console message of a browser sandbox's page (`console.log`, an uncaught exception, a browser log entry). */
export interface ConsoleMessage extends Raw {
  /** Grows with each message of the sandbox; pass the last one seen as `after` for newer ones. */
  seq: number;
  /** `log`, `error`, `warning`, ...; `exception` for an uncaught exception. */
  level: string;
  text: string;
  /** The page (tab) it came from. */
  targetId: string;
  /** `URL:LINE:COLUMN`, when known. */
  location?: string | null;
  /** RFC 3339. */
  at: string;
}

/** One network request of a browser sandbox's page, with its response once there is one. */
export interface NetworkRequest extends Raw {
  seq: number;
  requestId: string;
  targetId: string;
  method: string;
  url: string;
  /** `Document`, `XHR`, `Fetch`, `Script`, `Image`, ... */
  resourceType?: string | null;
  /** `[name, value]` pairs. */
  requestHeaders: Array<[string, string]>;
  /** The body the page sent (at most 64 KiB of it). */
  postData?: string | null;
  status?: number | null;
  statusText?: string | null;
  mimeType?: string | null;
  responseHeaders: Array<[string, string]>;
  /** Why it failed (`net::ERR_...`), if it did. */
  failure?: string | null;
  /** Bytes received, once finished. */
  encodedLength?: number | null;
  /** RFC 3339, when the page sent it. */
  at: string;
  finished: boolean;
}

/** What `vms.probe(name, target, { timeoutMs })` sends: ping an address from inside the guest. */
export interface ProbeRequest {
  /** An IPv4 address. */
  target: string;
  /** How long the guest waits for an echo reply, 1 to 10 000 ms. */
  timeoutMs?: number;
}

/** `network` in the create body. */
export interface NetworkSpec {
  egress?: boolean;
}

/** What `vms.create` takes: the create body, camelCase. */
export interface CreateVm {
  name: string;
  cpuCores?: number;
  memoryMb?: number;
  image?: string | null;
  kernelCmdline?: string | null;
  vmm?: VmmChoice;
  ttlSeconds?: number | null;
  idleTimeoutSeconds?: number | null;
  network?: NetworkSpec | null;
  persist?: boolean;
  /** Browser images: record every page of the session, replayable in the console. */
  record?: boolean;
  /** Fork the VM from this snapshot (its image, CPUs and memory). */
  snapshot?: string | null;
  /** With `snapshot`: make NAME-1 .. NAME-K (`vms.createForks`). */
  count?: number | null;
  /**
   * Take a ready sandbox from this warm pool (`false`: boot cold even if a
   * pool of this shape exists). Unset, a pool of the same image, CPUs and
   * memory serves the create.
   */
  pool?: PoolChoice | null;
}

/** What `pools.create` takes. */
export interface CreatePool {
  name: string;
  image: string;
  cpuCores?: number;
  memoryMb?: number;
  /** How many sandboxes to keep ready. */
  size: number;
}

/** A warm pool: sandboxes of one shape kept ready for creates. */
export interface Pool extends Raw {
  name: string;
  image: string;
  cpuCores: number;
  memoryMb: number;
  size: number;
  /** Sandboxes ready to be handed out now. */
  ready: number;
  /** Sandboxes on their way. */
  starting: number;
  state: PoolState;
  /** Why its last attempt failed, while `failing`. */
  error?: string | null;
  /** The snapshot its sandboxes are forked from, once made. */
  snapshot?: string | null;
  /** Creates served from it since hyped started. */
  claims: number;
  /** Creates that found it empty since hyped started. */
  misses: number;
  /** How long its last refill took to be ready. */
  lastRefillMs?: number | null;
  createdAt: string;
}

/** A VM saved for forks: its memory, device state and disks at an instant. */
export interface Snapshot extends Raw {
  name: string;
  /** The VM it was taken of. */
  vm: string;
  image: string;
  cpuCores: number;
  memoryMb: number;
  vmm: VmmKind;
  vmmVersion?: string | null;
  /** Bytes on the host's disk. */
  sizeBytes: number;
  /** The VMs forked from it that exist now. */
  forks: string[];
  /** Made by a fork request, and removed with its last fork. */
  ephemeral: boolean;
  createdAt: string;
}

/** What `snapshots.create` sends. */
export interface CreateSnapshot {
  name: string;
}

/** What `vms.fork` takes: the fork body, camelCase. */
export interface ForkVm {
  name: string;
  count?: number | null;
  ttlSeconds?: number | null;
  idleTimeoutSeconds?: number | null;
}

/** A recording of a browser sandbox's pages (rrweb DOM events); it outlives its VM until deleted. */
export interface Recording extends Raw {
  /** `rec_` and a UUID. */
  id: string;
  /** The VM it recorded (which may have been deleted since). */
  vm: string;
  vmId: string;
  startedAt: string;
  /** `null` while it records (until the VM's run ends). */
  endedAt?: string | null;
  /** Bytes of events kept. */
  sizeBytes: number;
  /** rrweb events kept. */
  events: number;
  /** Pages (tabs) that sent events. */
  pages: number;
  /** Why it stopped early (its size limit), if it did. */
  note?: string | null;
  /** The console's replay page. */
  replayUrl: string;
}

/** A VM's recordings, oldest first (`recordings.list` returns the array). */
export interface RecordingList extends Raw {
  items: Array<Omit<Recording, "raw"> & Partial<Raw>>;
}

/** One rrweb event of a recording, as the page's recorder sent it. */
export interface RecordedEvent {
  /** rrweb's `EventType`: 2 a full DOM snapshot, 3 an incremental change, 4 a page's meta (its URL), ... */
  type: number;
  data: Record<string, unknown>;
  /** Milliseconds since the epoch, from the page's clock. */
  timestamp: number;
  [key: string]: unknown;
}

/** What `vms.liveLink` takes. */
export interface CreateLiveLink {
  /** Seconds until the link stops working, 1 to 86400 (default 3600). */
  expiresIn?: number;
  /** Whether the link's viewer may send input; view only by default. */
  interactive?: boolean;
}

/**
 * A link to a VM's live view, for a browser without the key. `url` carries
 * `token`, a secret shown this once: `util.inspect` (console.log) of the
 * link leaves both out; do not log them.
 */
export interface LiveLink extends Raw {
  /** The live page with the token: open it in any browser, no login. */
  url: string;
  token: string;
  /** When the link stops working (RFC 3339, UTC). */
  expiresAt: string;
  interactive: boolean;
}

/** One VM a fork request did not make, and why. */
export interface ForkFailure {
  name: string;
  error: { code: string; message: string };
}

/** What a request for several VMs made: each succeeds or fails alone. */
export interface ForkResult extends Raw {
  vms: Array<Omit<Vm, "raw"> & Partial<Raw>>;
  failed: ForkFailure[];
}

/** A VM exported from vCenter or ESXi as OVF. Sent as written (snake_case, as the API and `hype jobs submit` take it). */
export interface VsphereJob {
  kind: "vsphere_export";
  url: string;
  username: string;
  vm: string;
  password?: string | null;
  name?: string | null;
  insecure?: boolean;
  boot?: BootMode;
  firmware?: Firmware | null;
  /** Every disk's bus on QEMU (default: each disk's own on the source). */
  disk_bus?: StorageBus | null;
  /** The NIC on QEMU (default: what the source had). */
  nic_model?: NicModel | null;
  parallel_downloads?: number | null;
  remove_cdrom?: boolean;
  shutdown?: boolean;
  /** Keep the `.ovf`, disks and `.mf` in `output` (under hyped's `--export-dir`) instead of making an image. */
  export_only?: boolean;
  output?: string | null;
}

/** A VM's disk from XCP-ng (raw VDI or XVA), or a local XVA. */
export interface XcpngJob {
  kind: "xcpng_export";
  url?: string | null;
  username?: string | null;
  vm?: string | null;
  password?: string | null;
  xva?: string | null;
  name?: string | null;
  insecure?: boolean;
  boot?: BootMode;
  firmware?: Firmware | null;
  /** Every disk's bus on QEMU (default: each disk's own on the source). */
  disk_bus?: StorageBus | null;
  /** The NIC on QEMU (default: what the source had). */
  nic_model?: NicModel | null;
  transport?: XcpngTransport | null;
  /** Keep the raw disks, an OVF hype writes and a `.mf` in `output` (under hyped's `--export-dir`) instead of making an image. */
  export_only?: boolean;
  output?: string | null;
}

/** How many VMs or jobs are in one state. */
export interface StateCount {
  state: string;
  count: number;
}

/** The host's memory, and what VMs that may run hold of it. */
export interface MemoryStatus {
  totalBytes: number;
  availableBytes: number;
  vmsMb: number;
}

/** Room on one filesystem of hyped's. */
export interface DiskSpace {
  path: string;
  totalBytes: number;
  availableBytes: number;
}

/** `GET /api/v1/status`: hyped and its host at a glance. */
export interface StatusInfo extends Raw {
  server: string;
  startedAt: string;
  uptimeSeconds: number;
  vms: StateCount[];
  jobs: StateCount[];
  memory: MemoryStatus;
  vmDisk: DiskSpace;
  imagesDisk: DiskSpace;
  accel: AccelInfo;
  network: NetworkStatus;
}

/** A disk of a source VM. */
export interface SourceDisk {
  sizeBytes: number;
  bus: DiskBus;
  /** vSphere `ControllerTypeBus:Unit`; XCP-ng the VBD's `userdevice`. */
  slot: string;
  label?: string | null;
}

/** A NIC of a source VM. */
export interface SourceNic {
  /** `vmxnet3`, `e1000`, ... (vSphere); `xen` (XCP-ng). */
  model: string;
  mac?: string | null;
  network?: string | null;
}

/** A VM (or template) of an import source. */
export interface SourceVm {
  name: string;
  powerState: PowerState;
  template: boolean;
  disks: SourceDisk[];
  nics: SourceNic[];
  /** vSphere's inventory path (what a job's `vm` takes). */
  path?: string | null;
  uuid?: string | null;
  guestOs?: string | null;
  firmware?: Firmware | null;
  cpus?: number | null;
  memoryMb?: number | null;
}

/** What a vSphere or XCP-ng source holds, VMs by name. */
export interface Inventory extends Raw {
  kind: SourceKind;
  url: string;
  vms: SourceVm[];
}

/** The source to list (`POST /api/v1/sources/inventory`). */
export interface InventoryRequest {
  kind: SourceKind;
  url: string;
  username: string;
  password?: string | null;
  insecure?: boolean;
}

/** An OVF folder on hyped's host, as an export-only job leaves it. */
export interface OvfJob {
  kind: "ovf";
  path: string;
  name?: string | null;
  boot?: BootMode;
  firmware?: Firmware | null;
  /** Every disk's bus on QEMU (default: each disk's own on the source). */
  disk_bus?: StorageBus | null;
  /** The NIC on QEMU (default: what the source had). */
  nic_model?: NicModel | null;
}

/** One job as submitted, tagged by `kind`. */
export type JobSpec = VsphereJob | XcpngJob | OvfJob;

/** Several jobs, all stored or none. */
export interface JobBatch {
  jobs: JobSpec[];
}

/** A process to run in the guest (`POST .../exec`; `vms.exec()` takes the command and these as options). */
export interface ExecRequest {
  /** The program and its arguments (no shell: `["sh", "-c", "..."]` for one). */
  cmd: string[];
  /** Added to the guest's environment. */
  env?: Record<string, string>;
  /** An absolute guest path; default: the user's home, else `/`. */
  cwd?: string | null;
  /** `name`, `uid` or `uid:gid`; default: the guest's unprivileged user. */
  user?: string | null;
  /** Text given to the process's stdin (then end of file). */
  stdin?: string | null;
  /** The same, base64. */
  stdinBase64?: string | null;
  /** Default 60, at most 3600. */
  timeoutSeconds?: number | null;
}

/** What a finished process in the guest did. */
export interface ExecResult extends Raw {
  /** Its exit status; absent when a signal ended it. */
  exitCode?: number | null;
  /** The signal that ended it (`SIGKILL`), if one did. */
  signal?: string | null;
  /** Killed at its timeout. */
  timedOut: boolean;
  /** Text when the output was valid UTF-8, else base64 (`stdoutEncoding`). */
  stdout: string;
  stdoutEncoding: OutputEncoding;
  stderr: string;
  stderrEncoding: OutputEncoding;
  /** Some output was left out (over 1 MiB per stream). */
  truncated: boolean;
  durationMs: number;
}

/** A file in the guest, as `lstat` sees it. */
export interface FileInfo extends Raw {
  /** Its name in its directory. */
  name: string;
  kind: FileKind;
  size: number;
  /** Permission bits, octal (`0644`). */
  mode: string;
  uid: number;
  gid: number;
  /** RFC 3339, from the guest's clock. */
  modifiedAt: string;
  /** Where a symlink points. */
  target?: string | null;
}

/** A directory's entries in the guest, sorted by name. */
export interface FileList extends Raw {
  path: string;
  entries: Array<Omit<FileInfo, "raw"> & Partial<Raw>>;
  /** Over 10,000 entries: the rest are left out. */
  truncated: boolean;
}

/** What an upload wrote. */
export interface Uploaded extends Raw {
  path: string;
  /** Bytes received (the file's size, or the archive's). */
  bytes: number;
}

/** A file the sandbox's browser downloaded (`vms.downloadFile()` fetches it). */
export interface Download extends Raw {
  /** Its file name in the guest's downloads folder. */
  name: string;
  size: number;
  /** Hex, computed in the guest when the download finished. */
  sha256: string;
  /** What was downloaded. */
  url: string;
  /** The page it was started from, when the browser says. */
  pageUrl?: string | null;
  /** RFC 3339. */
  finishedAt: string;
}

function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function camelize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelize);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), camelize(v)]));
  }
  return value;
}

/** A model from a decoded JSON object: camelCase fields, and `raw`. */
export function decode<T extends Raw>(json: unknown): T {
  const out = camelize(json) as Record<string, unknown>;
  Object.defineProperty(out, "raw", { value: json, enumerable: false });
  return out as unknown as T;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A camelCase request object as the API's snake_case JSON (undefined dropped). */
export function snakeize(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[snake(k)] = v !== null && typeof v === "object" && !Array.isArray(v) ? snakeize(v as Record<string, unknown>) : v;
  }
  return out;
}
