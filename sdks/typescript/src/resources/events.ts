import type { Hype } from "../client.js";
import { decode, type Event } from "../models.js";
import type { Operations } from "../operations.js";
import { Pager } from "../pagination.js";
import { EventStream, type StreamOptions } from "../sse.js";
import { Job, type JobEvent } from "./jobs.js";

const PAGE_SIZE = 100;

/** `hype.events`: the past, paged, and live streams that reconnect on their own. */
export class Events {
  static readonly operations: Operations = {
    list: ["GET /api/v1/events"],
    watchVms: ["GET /api/v1/events/vms"],
    watchJobs: ["GET /api/v1/events/jobs"],
  };

  constructor(private readonly client: Hype) {}

  /** Past lifecycle events, oldest first (of one VM, after an id); pages are followed as you iterate. */
  list(opts: { vm?: string; after?: number; pageSize?: number } = {}): Pager<Event> {
    return new Pager(async (after) => {
      const body = await this.client.transport.json<{ events: unknown[]; next?: string }>("GET", "/api/v1/events", {
        query: { vm: opts.vm, limit: opts.pageSize ?? PAGE_SIZE, after },
      });
      return { items: body.events.map((e) => decode<Event>(e)), next: body.next };
    }, opts.after === undefined ? undefined : String(opts.after));
  }

  /**
   * Live lifecycle events (of one VM with `vm`), reconnecting with
   * `Last-Event-ID`. `lastEventId` resumes after that event (`0`: from the
   * first); without it the stream starts now.
   */
  watchVms(opts: { vm?: string } & StreamOptions = {}): EventStream<Event> {
    return new EventStream(this.client.transport, "/api/v1/events/vms", { vm: opts.vm }, (j) => decode<Event>(j), opts);
  }

  /** Live job events (of one job with `job`); as `watchVms`. */
  watchJobs(opts: { job?: string } & StreamOptions = {}): EventStream<JobEvent> {
    return new EventStream(this.client.transport, "/api/v1/events/jobs", { job: opts.job }, (j) => {
      const ev = decode<JobEvent>(j);
      ev.job = new Job(this.client, (j as { job: unknown }).job);
      return ev;
    }, opts);
  }
}
