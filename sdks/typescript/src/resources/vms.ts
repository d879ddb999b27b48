import { HypeError, errorFrom } from "../errors.js";
import {
  decode, snakeize, type ConsoleMessage, type CreateLiveLink, type CreateVm, type Event, type ForkResult, type ForkVm, type GuestNetwork, type LiveLink, type NetworkRequest, type ProbeResult,
  type Vm, type VmState,
} from "../models.js";
import type { Operations } from "../operations.js";
import { Pager } from "../pagination.js";
import { parseSse } from "../sse.js";
import { seg } from "../transport.js";
import { Guest } from "./guest.js";

const PAGE_SIZE = 100;
/** How long `wait` waits by default (browser guests under TCG take a while). */
export const WAIT_TIMEOUT_MS = 300_000;

const path = (name: string, rest = "") => `/api/v1/vms/${seg(name)}${rest}`;

/** True when `state` is reached; throws when it no longer can be. */
function settled(name: string, state: VmState, now: VmState, ev?: Event): boolean {
  if (now === state) return true;
  if (ev?.type === "VM_DELETED") {
    throw new HypeError(`VM '${name}' was deleted while waiting for ${state}`, { status: 404, code: "vm_not_found" });
  }
  if (now === "crashed") {
    throw new HypeError(`VM '${name}' crashed while waiting for ${state}${ev?.detail ? `: ${ev.detail}` : ""}`, {
      code: "vm_crashed",
    });
  }
  return false;
}

/**
 * `hype.vms`: create, list, drive and delete VMs; run processes and move
 * files inside them (the methods of `Guest`).
 */
export class Vms extends Guest {
  static override readonly operations: Operations = {
    ...Guest.operations,
    list: ["GET /api/v1/vms"],
    create: ["POST /api/v1/vms"],
    createForks: ["POST /api/v1/vms"],
    fork: ["POST /api/v1/vms/{name}/fork"],
    get: ["GET /api/v1/vms/{name}"],
    delete: ["DELETE /api/v1/vms/{name}"],
    start: ["POST /api/v1/vms/{name}/start"],
    stop: ["POST /api/v1/vms/{name}/stop"],
    pause: ["POST /api/v1/vms/{name}/pause"],
    resume: ["POST /api/v1/vms/{name}/resume"],
    snapshot: ["POST /api/v1/vms/{name}/snapshot"],
    restore: ["POST /api/v1/vms/{name}/restore"],
    logs: ["GET /api/v1/vms/{name}/logs"],
    followLogs: ["GET /api/v1/vms/{name}/logs"],
    screenshot: ["GET /api/v1/vms/{name}/screenshot"],
    cdpVersion: ["GET /api/v1/vms/{name}/cdp/json/version"],
    cdpTargets: ["GET /api/v1/vms/{name}/cdp/json/list"],
    guestNetwork: ["GET /api/v1/vms/{name}/guest/network"],
    probe: ["POST /api/v1/vms/{name}/guest/probe"],
    browserConsole: ["GET /api/v1/vms/{name}/browser/console"],
    browserNetwork: ["GET /api/v1/vms/{name}/browser/network"],
    liveLink: ["POST /api/v1/vms/{name}/live-links"],
  };

  /**
   * VMs by name (in `state` if given): `await` for all, or `for await` page
   * by page. With `pool`, the VMs waiting in that warm pool instead.
   */
  list(opts: { state?: VmState; pageSize?: number; pool?: string } = {}): Pager<Vm> {
    return new Pager(async (after) => {
      const r = await this.client.transport.json<{ vms: unknown[]; next?: string }>("GET", "/api/v1/vms", {
        query: { state: opts.state, limit: opts.pageSize ?? PAGE_SIZE, after, pool: opts.pool },
      });
      return { items: r.vms.map((v) => decode<Vm>(v)), next: r.next };
    });
  }

  /**
   * Creates and boots a VM; it comes back `starting` (see `wait`). Fields
   * left out take the server's defaults (1 CPU, 512 MiB, the default image).
   */
  async create(vm: CreateVm): Promise<Vm> {
    return decode<Vm>(await this.client.transport.json("POST", "/api/v1/vms", { json: snakeize({ ...vm }) }));
  }

  /**
   * `count` forks of snapshot `vm.snapshot`, `NAME-1` .. `NAME-K`: each
   * comes back running, or in `failed` with why.
   */
  async createForks(vm: CreateVm & { snapshot: string; count: number }): Promise<ForkResult> {
    return decode<ForkResult>(await this.client.transport.json("POST", "/api/v1/vms", { json: snakeize({ ...vm }) }));
  }

  /**
   * Snapshots running VM `name` and starts `fork.name` from it (or
   * `NAME-1` .. `NAME-K` with `count`); the snapshot goes with its last fork.
   */
  async fork(name: string, fork: ForkVm): Promise<ForkResult> {
    return decode<ForkResult>(
      await this.client.transport.json("POST", path(name, "/fork"), { json: snakeize({ ...fork }) }),
    );
  }

  /** One VM; `HypeError` with code `vm_not_found` when there is none. */
  async get(name: string): Promise<Vm> {
    return decode<Vm>(await this.client.transport.json("GET", path(name)));
  }

  /** Stops and destroys a VM, freeing its address and tap. */
  async delete(name: string): Promise<void> {
    await this.client.transport.request("DELETE", path(name));
  }

  async #action(name: string, action: string): Promise<Vm> {
    return decode<Vm>(await this.client.transport.json("POST", path(name, `/${action}`)));
  }

  /** Boots a stopped or crashed VM. */
  start(name: string): Promise<Vm> {
    return this.#action(name, "start");
  }

  /** Shuts down gracefully, forcefully after the server's timeout. */
  stop(name: string): Promise<Vm> {
    return this.#action(name, "stop");
  }

  /** Freezes the vCPUs. */
  pause(name: string): Promise<Vm> {
    return this.#action(name, "pause");
  }

  /** Unfreezes the vCPUs. */
  resume(name: string): Promise<Vm> {
    return this.#action(name, "resume");
  }

  /** Saves the VM to disk and releases its VMM (`standby`). */
  snapshot(name: string): Promise<Vm> {
    return this.#action(name, "snapshot");
  }

  /** Brings a standby VM back. */
  restore(name: string): Promise<Vm> {
    return this.#action(name, "restore");
  }

  /**
   * Waits, on the event stream, until the VM is in `state` (default
   * `running`); throws `HypeError` `vm_crashed` if it crashes first,
   * `vm_not_found` if it is deleted, `HypeTimeoutError` after `timeoutMs`.
   */
  async wait(name: string, opts: { state?: VmState; timeoutMs?: number } = {}): Promise<Vm> {
    const state = opts.state ?? "running";
    await using events = this.client.events.watchVms({ vm: name, timeoutMs: opts.timeoutMs ?? WAIT_TIMEOUT_MS });
    await events.connect(); // subscribed before looking: nothing falls between
    const vm = await this.get(name);
    if (settled(name, state, vm.state)) return vm;
    for await (const ev of events) {
      if (settled(name, state, ev.state, ev)) return this.get(name);
    }
    throw new Error("unreachable");
  }

  /** The serial console's newest output (the last `tail` lines). */
  async logs(name: string, opts: { tail?: number } = {}): Promise<string> {
    const r = await this.client.transport.request("GET", path(name, "/logs"), {
      query: { tail: opts.tail },
      headers: { accept: "text/plain" },
    });
    return r.text();
  }

  /** Console lines as they come (after the last `tail`); ends when the VM is deleted or `signal` aborts. */
  async *followLogs(name: string, opts: { tail?: number; signal?: AbortSignal } = {}): AsyncGenerator<string> {
    const t = this.client.transport;
    const r = await t.fetch(t.url(path(name, "/logs"), { follow: true, tail: opts.tail }), {
      headers: t.headers({ accept: "text/event-stream" }),
      signal: opts.signal,
    }).catch((e: unknown) => {
      throw t.unreachable(e);
    });
    if (r.status >= 400 || !r.body) throw errorFrom(r.status, r.statusText, await r.text());
    for await (const m of parseSse(r.body)) {
      if (m.event === "end") return;
      if (m.event === "log") yield* m.data.split("\n");
    }
  }

  /**
   * A link to the VM's live view for someone without the key, valid
   * `expiresIn` seconds (1 to 86400; hyped's default 3600), view only
   * unless `interactive`. Its URL holds a secret token: do not log it
   * (`console.log` of the link leaves it out).
   */
  async liveLink(name: string, opts: CreateLiveLink = {}): Promise<LiveLink> {
    const link = decode<LiveLink>(await this.client.transport.json("POST", path(name, "/live-links"), { json: snakeize({ ...opts }) }));
    Object.defineProperty(link, Symbol.for("nodejs.util.inspect.custom"), {
      value: () => `LiveLink { expiresAt: '${link.expiresAt}', interactive: ${link.interactive}, url and token hidden }`,
      enumerable: false,
    });
    return link;
  }

  /** A PNG of the browser's active page (browser images). */
  async screenshot(name: string): Promise<Uint8Array> {
    const r = await this.client.transport.request("GET", path(name, "/screenshot"), { headers: { accept: "image/png" } });
    return new Uint8Array(await r.arrayBuffer());
  }

  /** The browser's `/json/version`, its URLs pointing at hyped. */
  cdpVersion(name: string): Promise<Record<string, string>> {
    return this.client.transport.json("GET", path(name, "/cdp/json/version"));
  }

  /** The browser's targets (`/json/list`), their URLs pointing at hyped. */
  cdpTargets(name: string): Promise<Array<Record<string, string>>> {
    return this.client.transport.json("GET", path(name, "/cdp/json/list"));
  }

  /**
   * The console messages of a browser sandbox's pages since it started (the
   * newest 1,000), oldest first; only those with a `seq` above `after`.
   */
  async browserConsole(name: string, opts: { after?: number } = {}): Promise<ConsoleMessage[]> {
    const r = await this.client.transport.json<{ messages: unknown[] }>("GET", path(name, "/browser/console"), { query: { after: opts.after } });
    return r.messages.map((m) => decode<ConsoleMessage>(m));
  }

  /** The network requests of a browser sandbox's pages (the newest 1,000), oldest first. */
  async browserNetwork(name: string, opts: { after?: number } = {}): Promise<NetworkRequest[]> {
    const r = await this.client.transport.json<{ requests: unknown[] }>("GET", path(name, "/browser/network"), { query: { after: opts.after } });
    return r.requests.map((m) => decode<NetworkRequest>(m));
  }

  /** The guest's interfaces and gateway, as its agent sees them. */
  async guestNetwork(name: string): Promise<GuestNetwork> {
    return decode<GuestNetwork>(await this.client.transport.json("GET", path(name, "/guest/network")));
  }

  /** Pings `target` (an IPv4 address) from inside the guest. */
  async probe(name: string, target: string, opts: { timeoutMs?: number } = {}): Promise<ProbeResult> {
    return decode<ProbeResult>(await this.client.transport.json("POST", path(name, "/guest/probe"), {
      json: { target, timeout_ms: opts.timeoutMs },
    }));
  }
}
