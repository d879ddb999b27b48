/**
 * The API's enums, as unions of string literals (`PoolChoice` also takes a
 * boolean). `../models.ts` re-exports them.
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
