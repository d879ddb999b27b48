/**
 * Event streams over SSE that survive disconnects and restarts of hyped.
 * A stream remembers the id of the last event it yielded and reconnects
 * with `Last-Event-ID`; hyped replays what came after it from SQLite. Ids
 * only grow and the stream drops any id it has already yielded, so no
 * event comes twice and none is skipped. Without `lastEventId` a stream
 * starts with the events after it first connected; `lastEventId: 0`
 * replays from the first.
 */
import { HypeError, HypeTimeoutError, errorFrom } from "./errors.js";
import type { Transport } from "./transport.js";

/** Reconnect delays: the first, and the most it doubles to. */
const MIN_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;
/** hyped sends a heartbeat every 15 s; a silence this long means a dead connection. */
const IDLE_MS = 45_000;
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

/** One server-sent event. */
export interface SseMessage {
  event: string;
  data: string;
  id?: string;
  retry?: number;
}

/**
 * Parses an SSE body (text/event-stream) into messages. The body is locked
 * at once: an unread body of a Response that is garbage collected would
 * otherwise be cancelled under a stream that is not read yet.
 */
export function parseSse(body: ReadableStream<Uint8Array>, onChunk: () => void = () => {}): AsyncGenerator<SseMessage> {
  return messages(body.pipeThrough(new TextDecoderStream()), onChunk);
}

async function* messages(text: ReadableStream<string>, onChunk: () => void): AsyncGenerator<SseMessage> {
  let buf = "";
  let data: string[] = [];
  let event = "";
  let id: string | undefined;
  let retry: number | undefined;
  for await (const chunk of text) {
    onChunk();
    buf += chunk;
    for (;;) {
      const m = /\r\n|\n|\r/.exec(buf);
      if (!m) break;
      if (m[0] === "\r" && m.index === buf.length - 1) break; // maybe half of \r\n
      const line = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      if (line === "") {
        if (data.length || event || id !== undefined) {
          yield { event: event || "message", data: data.join("\n"), id, retry };
        }
        data = [];
        event = "";
        id = undefined;
        retry = undefined;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
      else if (field === "id" && !value.includes("\0")) id = value;
      else if (field === "retry" && /^\d+$/.test(value)) retry = Number(value);
    }
  }
}

export interface StreamOptions {
  /** Resume after this event id (`0`: from the first event). */
  lastEventId?: number;
  /** Bound on the whole iteration, in ms: then `HypeTimeoutError`. */
  timeoutMs?: number;
}

/** An async iterator of events that reconnects on its own; `close()` (or `await using`) lets go of it. */
export class EventStream<T> implements AsyncIterableIterator<T>, AsyncDisposable {
  /** The id of the last event yielded (where a reconnect resumes). */
  lastEventId: number | undefined;
  /** How many times the stream connected again after losing its connection. */
  reconnects = 0;
  readonly #t: Transport;
  readonly #path: string;
  readonly #query: Record<string, string | undefined>;
  readonly #decode: (json: unknown) => T;
  readonly #deadline: number | undefined;
  #delay = MIN_DELAY_MS;
  #closed = false;
  #connectedOnce = false;
  #ctrl: AbortController | undefined;
  #messages: AsyncGenerator<SseMessage> | undefined;
  /** Held while read, so it is not collected under its body. */
  response: Response | undefined;
  #idle: ReturnType<typeof setTimeout> | undefined;

  constructor(t: Transport, path: string, query: Record<string, string | undefined>, decode: (json: unknown) => T, opts: StreamOptions = {}) {
    this.#t = t;
    this.#path = path;
    this.#query = query;
    this.#decode = decode;
    this.lastEventId = opts.lastEventId;
    this.#deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
  }

  #left(): number | undefined {
    if (this.#deadline === undefined) return undefined;
    const left = this.#deadline - Date.now();
    if (left <= 0) throw new HypeTimeoutError(`no end to the wait on ${this.#path} in time`);
    return left;
  }

  async #sleep(): Promise<void> {
    const left = this.#left();
    const ms = Math.min(this.#delay, left ?? Infinity);
    this.#delay = Math.min(MAX_DELAY_MS, this.#delay * 2);
    await new Promise((r) => setTimeout(r, ms));
  }

  #touch(): void {
    clearTimeout(this.#idle);
    const ctrl = this.#ctrl;
    const left = this.#deadline === undefined ? IDLE_MS : Math.max(1, Math.min(IDLE_MS, this.#deadline - Date.now()));
    this.#idle = setTimeout(() => ctrl?.abort(), left);
  }

  /** Connects now (iteration otherwise connects on its first step): events from this point on will be yielded. */
  async connect(): Promise<this> {
    while (!this.#messages && !this.#closed) {
      this.#left();
      const ctrl = new AbortController();
      this.#ctrl = ctrl;
      this.#touch();
      const headers = this.#t.headers({ accept: "text/event-stream", "cache-control": "no-cache" });
      if (this.lastEventId !== undefined) headers["last-event-id"] = String(this.lastEventId);
      let r: Response;
      try {
        r = await this.#t.fetch(this.#t.url(this.#path, this.#query), { headers, signal: ctrl.signal });
      } catch {
        clearTimeout(this.#idle);
        await this.#sleep();
        continue;
      }
      if (r.status !== 200 || !r.body) {
        clearTimeout(this.#idle);
        const err = errorFrom(r.status, r.statusText, await r.text().catch(() => ""));
        if (RETRYABLE.has(r.status)) {
          await this.#sleep();
          continue;
        }
        throw err;
      }
      if (!(r.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
        ctrl.abort();
        throw new HypeError(`not an event stream: ${r.headers.get("content-type")}`, { code: "bad_stream" });
      }
      if (this.#connectedOnce) this.reconnects++;
      this.#connectedOnce = true;
      this.response = r;
      this.#messages = parseSse(r.body, () => this.#touch());
    }
    return this;
  }

  #drop(): void {
    clearTimeout(this.#idle);
    this.#ctrl?.abort();
    this.#ctrl = undefined;
    this.#messages = undefined;
    this.response = undefined;
  }

  async next(): Promise<IteratorResult<T>> {
    while (!this.#closed) {
      this.#left();
      await this.connect();
      if (!this.#messages) break;
      let step: IteratorResult<SseMessage>;
      try {
        step = await this.#messages.next();
      } catch {
        this.#drop(); // reset, idle, or hyped went away
        await this.#sleep();
        continue;
      }
      if (step.done) {
        this.#drop(); // hyped ended the stream (shutting down)
        await this.#sleep();
        continue;
      }
      const m = step.value;
      if (m.retry) this.#delay = Math.max(MIN_DELAY_MS, m.retry);
      if (m.id === undefined || !m.data || !/^\d+$/.test(m.id)) continue;
      const id = Number(m.id);
      if (this.lastEventId !== undefined && id <= this.lastEventId) continue;
      const item = this.#decode(JSON.parse(m.data));
      this.lastEventId = id;
      this.#delay = MIN_DELAY_MS;
      return { value: item, done: false };
    }
    return { value: undefined, done: true };
  }

  async return(): Promise<IteratorResult<T>> {
    await this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Closes the connection; iteration ends. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#drop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
