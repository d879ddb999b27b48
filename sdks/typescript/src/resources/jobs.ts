import { readFile } from "node:fs/promises";
import { extname } from "node:path";

import type { Hype } from "../client.js";
import { JobFailedError } from "../errors.js";
import {
  decode, type JobData, type JobEventType, type JobKind, type JobProgress, type JobResult, type JobSource,
  type JobSpec, type JobState, type Raw,
} from "../models.js";
import type { Operations } from "../operations.js";
import { Pager } from "../pagination.js";
import { seg } from "../transport.js";

const PAGE_SIZE = 100;

/** `{id, type, job, at}` on the job event stream. */
export interface JobEvent extends Raw {
  id: number;
  type: JobEventType;
  /** The job as it was right after the event. */
  job: Job;
  at: string;
}

/**
 * What `submit` takes: one job object (`JobSpec`), several as an array or
 * `{jobs: [...]}`, or the path of a `.yaml`/`.yml`/`.json` file holding
 * either (sent as it is: hyped parses YAML itself).
 */
export type Submission = JobSpec | JobSpec[] | { jobs: JobSpec[] } | string | URL;

export interface WaitOptions {
  /** Called with every event of the job, from its first. */
  progress?: (event: JobEvent) => unknown;
  /** Give up after this long: `HypeTimeoutError`. */
  timeoutMs?: number;
}

/** An import job, which can wait on, cancel and reload itself. */
export class Job implements JobData {
  id!: string;
  kind!: JobKind;
  state!: JobState;
  image!: string;
  source!: JobSource;
  progress!: JobProgress;
  createdAt!: string;
  updatedAt!: string;
  error?: string | null;
  finishedAt?: string | null;
  startedAt?: string | null;
  result?: JobResult | null;
  declare raw: Record<string, unknown>;
  readonly #client: Hype;

  constructor(client: Hype, json: unknown) {
    this.#client = client;
    this.#set(json);
  }

  #set(json: unknown): this {
    Object.assign(this, decode<JobData>(json));
    Object.defineProperty(this, "raw", { value: json, enumerable: false, configurable: true });
    return this;
  }

  /** Whether the job has ended (completed, failed or cancelled). */
  get done(): boolean {
    return this.state === "completed" || this.state === "failed" || this.state === "cancelled";
  }

  /**
   * Follows the job's events (from its first, so nothing is missed) until
   * it ends; returns it completed, or throws `JobFailedError` if it failed
   * or was cancelled.
   */
  async wait(opts: WaitOptions = {}): Promise<this> {
    await using events = this.#client.events.watchJobs({ job: this.id, lastEventId: 0, timeoutMs: opts.timeoutMs });
    for await (const ev of events) {
      await opts.progress?.(ev);
      if (ev.job.done) {
        this.#set(ev.job.raw);
        if (this.state !== "completed") throw new JobFailedError(this);
        return this;
      }
    }
    throw new Error("unreachable");
  }

  /** Cancels the job (`409` if it already ended). */
  async cancel(): Promise<this> {
    return this.#set(await this.#client.transport.json("POST", `/api/v1/jobs/${seg(this.id)}/cancel`));
  }

  /** Reloads the job. */
  async refresh(): Promise<this> {
    return this.#set(await this.#client.transport.json("GET", `/api/v1/jobs/${seg(this.id)}`));
  }

  toJSON(): Record<string, unknown> {
    return this.raw;
  }
}

async function body(spec: Submission): Promise<{ data: string; type: string; count?: number }> {
  if (typeof spec === "string" || spec instanceof URL) {
    const data = await readFile(spec, "utf8");
    const ext = extname(typeof spec === "string" ? spec : spec.pathname).toLowerCase();
    if (ext === ".yaml" || ext === ".yml") return { data, type: "application/yaml" };
    if (ext === ".json") return { data, type: "application/json", count: count(JSON.parse(data)) };
    throw new TypeError(`${String(spec)}: a job file is .yaml, .yml or .json`);
  }
  if (Array.isArray(spec)) return { data: JSON.stringify({ jobs: spec }), type: "application/json", count: spec.length };
  return { data: JSON.stringify(spec), type: "application/json", count: count(spec) };
}

function count(value: unknown): number | undefined {
  if (value && typeof value === "object" && Array.isArray((value as { jobs?: unknown }).jobs)) {
    return (value as { jobs: unknown[] }).jobs.length;
  }
  return value && typeof value === "object" ? 1 : undefined;
}

/** `hype.jobs`: import VMs from vSphere and XCP-ng as images. */
export class Jobs {
  static readonly operations: Operations = {
    submit: ["POST /api/v1/jobs"],
    submitMany: ["POST /api/v1/jobs"],
    list: ["GET /api/v1/jobs"],
    get: ["GET /api/v1/jobs/{id}"],
    cancel: ["POST /api/v1/jobs/{id}/cancel"],
    resume: ["POST /api/v1/jobs/{id}/resume"],
  };

  constructor(private readonly client: Hype) {}

  async #post(spec: Submission): Promise<Job[]> {
    const b = await body(spec);
    const r = await this.client.transport.json<{ jobs: unknown[] }>("POST", "/api/v1/jobs", {
      body: b.data,
      headers: { "content-type": b.type },
    });
    return r.jobs.map((j) => new Job(this.client, j));
  }

  /** Queues one job (an object, or a YAML/JSON file) and returns it; then `await job.wait()`. */
  async submit(spec: Submission): Promise<Job> {
    if (typeof spec !== "string" && !(spec instanceof URL)) {
      const n = (await body(spec)).count;
      if (n !== undefined && n !== 1) throw new TypeError(`submit() takes one job, this holds ${n}: use jobs.submitMany()`);
    }
    const jobs = await this.#post(spec);
    if (jobs.length !== 1) {
      throw new TypeError(`the submission queued ${jobs.length} jobs (${jobs.map((j) => j.id).join(", ")}); use jobs.submitMany()`);
    }
    return jobs[0]!;
  }

  /** Queues several jobs at once (all stored or none). */
  async submitMany(specs: Submission): Promise<Job[]> {
    return this.#post(specs);
  }

  /** Jobs, newest first (`await` for all, or `for await`). */
  list(opts: { state?: JobState; pageSize?: number } = {}): Pager<Job> {
    return new Pager(async (after) => {
      const r = await this.client.transport.json<{ jobs: unknown[]; next?: string }>("GET", "/api/v1/jobs", {
        query: { state: opts.state, limit: opts.pageSize ?? PAGE_SIZE, after },
      });
      return { items: r.jobs.map((j) => new Job(this.client, j)), next: r.next };
    });
  }

  /** One job. */
  async get(id: string): Promise<Job> {
    return new Job(this.client, await this.client.transport.json("GET", `/api/v1/jobs/${seg(id)}`));
  }

  /** Cancels a job. */
  async cancel(id: string): Promise<Job> {
    return new Job(this.client, await this.client.transport.json("POST", `/api/v1/jobs/${seg(id)}/cancel`));
  }

  /**
   * Gives a job a restart left waiting for its password (phase
   * `awaiting_password`: its password was in the job, and hyped never stores
   * one) the password again; it is queued and keeps what it had downloaded
   * (`409` if it is not waiting).
   */
  async resume(id: string, password: string): Promise<Job> {
    return new Job(
      this.client,
      await this.client.transport.json("POST", `/api/v1/jobs/${seg(id)}/resume`, { json: { password } }),
    );
  }
}
