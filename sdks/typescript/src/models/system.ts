/**
 * Models of hyped itself and its host: `GET /api/v1/version` and
 * `GET /api/v1/status` with their parts (acceleration, cloud-hypervisor
 * versions, networking, memory, disk space). `../models.ts` re-exports them.
 */

import type { Raw } from "./base.js";

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
