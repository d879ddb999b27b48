/**
 * Models of VMs and what is made from them: the VM and its VMM and network,
 * the create and fork bodies, warm pools, snapshots, fork results, and
 * lifecycle events. `../models.ts` re-exports them.
 */

import type { Raw } from "./base.js";
import type { EventType, PoolChoice, PoolState, VmmChoice, VmmKind, VmState } from "./enums.js";

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
