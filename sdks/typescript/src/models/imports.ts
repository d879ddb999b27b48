/**
 * Models of images and how they are imported: images and their disks,
 * import jobs (as submitted, and with their progress, source and result),
 * and what an import source holds. `../models.ts` re-exports them.
 */

import type { Raw } from "./base.js";
import type {
  BootMode, DiskBus, Firmware, JobKind, JobState, NicModel, PowerState, SourceKind, StorageBus, XcpngTransport,
} from "./enums.js";

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
