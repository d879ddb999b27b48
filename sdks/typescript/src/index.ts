/**
 * TypeScript client for hype: microVM browser sandboxes, lifecycle events
 * and import jobs.
 */
export { Hype, RESOURCES, type HypeOptions, type SandboxOptions } from "./client.js";
export { HypeConnectionError, HypeError, HypeTimeoutError, JobFailedError } from "./errors.js";
export type * from "./models.js";
export { NOT_WRAPPED, type Operations } from "./operations.js";
export { Pager, type Page } from "./pagination.js";
export { Events } from "./resources/events.js";
export { Images } from "./resources/images.js";
export { Pools } from "./resources/pools.js";
export { Recordings } from "./resources/recordings.js";
export { Snapshots } from "./resources/snapshots.js";
export { Job, Jobs, type JobEvent, type Submission, type WaitOptions } from "./resources/jobs.js";
export { Sources } from "./resources/sources.js";
export { System } from "./resources/system.js";
export { Vms } from "./resources/vms.js";
export { Guest, type Command, type ExecOptions, type ExecStreamOptions, type UploadOptions } from "./resources/guest.js";
export { ExecStream, GuestFile, type ExecChunk, type UploadData } from "./guest.js";
export { Sandbox } from "./sandbox.js";
export { EventStream, type SseMessage, type StreamOptions } from "./sse.js";
export { VERSION } from "./transport.js";
