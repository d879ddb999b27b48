import { randomBytes } from "node:crypto";

import { HypeError } from "./errors.js";
import type { CreateVm } from "./models.js";
import { Events } from "./resources/events.js";
import { Images } from "./resources/images.js";
import { Pools } from "./resources/pools.js";
import { Recordings } from "./resources/recordings.js";
import { Snapshots } from "./resources/snapshots.js";
import { Sources } from "./resources/sources.js";
import { Jobs } from "./resources/jobs.js";
import { System } from "./resources/system.js";
import { Vms, WAIT_TIMEOUT_MS } from "./resources/vms.js";
import { Sandbox } from "./sandbox.js";
import { Transport } from "./transport.js";

export interface HypeOptions {
  /** Default: `HYPE_API_BASE`, else `http://127.0.0.1:7777`. */
  baseUrl?: string;
  /** Default: `HYPE_API_KEY`; sent as `Authorization: Bearer`. */
  apiKey?: string;
  /** Per request, in ms (default 60 000). */
  timeoutMs?: number;
  /** How often a request hyped refuses with 429 (its `--rate-limit`) is sent again, after `Retry-After` (default 2). */
  maxRetries?: number;
  /** Your own `fetch` (proxies, instrumentation). */
  fetch?: typeof fetch;
}

export interface SandboxOptions extends Omit<CreateVm, "name" | "ttlSeconds" | "idleTimeoutSeconds"> {
  /** Default: `sb-` and 8 hex digits. */
  name?: string;
  /** Seconds after which hyped deletes the VM even if your program dies. */
  ttl?: number;
  /** Seconds without a CDP client after which hyped deletes the VM. */
  idleTimeout?: number;
  /** How long to wait for it to run, in ms (default 300 000). */
  timeoutMs?: number;
}

/** The resources of the client. A new resource is one module in `resources/` and one line here. */
export const RESOURCES = {
  system: System, vms: Vms, images: Images, jobs: Jobs, events: Events, snapshots: Snapshots,
  pools: Pools,
  sources: Sources,
  recordings: Recordings,
} as const;

/**
 * A client of hyped's REST API.
 *
 * ```ts
 * const hype = new Hype();                       // HYPE_API_BASE, HYPE_API_KEY
 * await using sb = await hype.sandbox({ image: "browser", ttl: 600 });
 * const browser = await sb.playwright();
 * ```
 */
export class Hype {
  readonly transport: Transport;
  readonly system: System;
  readonly vms: Vms;
  readonly images: Images;
  readonly snapshots: Snapshots;
  readonly pools: Pools;
  readonly jobs: Jobs;
  readonly events: Events;
  readonly sources: Sources;
  readonly recordings: Recordings;

  constructor(opts: HypeOptions = {}) {
    this.transport = new Transport(opts);
    this.system = new System(this);
    this.vms = new Vms(this);
    this.images = new Images(this);
    this.snapshots = new Snapshots(this);
    this.pools = new Pools(this);
    this.jobs = new Jobs(this);
    this.events = new Events(this);
    this.sources = new Sources(this);
    this.recordings = new Recordings(this);
  }

  /** The API's base URL. */
  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  /** The headers a CDP client sends to a sandbox's `cdpUrl`. */
  cdpHeaders(): Record<string, string> {
    return this.transport.authHeaders();
  }

  /**
   * Creates a VM (default: image `browser`, 2 CPUs, 1536 MiB), waits until
   * it runs, and returns it as a `Sandbox`; use it with `await using`, or
   * `delete()` it in a `finally`. If it does not come up, it is deleted and
   * the error thrown.
   */
  async sandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
    const { name, ttl, idleTimeout, timeoutMs, ...rest } = opts;
    const vmName = name ?? `sb-${randomBytes(4).toString("hex")}`;
    await this.vms.create({
      image: "browser", cpuCores: 2, memoryMb: 1536, ...rest,
      name: vmName, ttlSeconds: ttl, idleTimeoutSeconds: idleTimeout,
    });
    try {
      return new Sandbox(this, await this.vms.wait(vmName, { timeoutMs: timeoutMs ?? WAIT_TIMEOUT_MS }));
    } catch (e) {
      await this.vms.delete(vmName).catch((d: unknown) => {
        if (!(d instanceof HypeError)) throw d;
      });
      throw e;
    }
  }

  toString(): string {
    return `Hype(${this.baseUrl})`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
