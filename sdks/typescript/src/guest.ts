import { createWriteStream } from "node:fs";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";

import { HypeConnectionError, HypeError, HypeTimeoutError, errorFrom } from "./errors.js";
import type { Transport } from "./transport.js";

/** A piece of a streamed exec's output. */
export interface ExecChunk {
  /** `stdout` (or the terminal, with `tty`) or `stderr`. */
  stream: "stdout" | "stderr";
  data: Uint8Array;
}

/** What `vms.upload()` takes: bytes, text (UTF-8), a web `ReadableStream`, or any async iterable of bytes (a Node `Readable`, `fs.createReadStream(...)`). */
export type UploadData = Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** The socket `ws` gives; only what this module uses of it. */
interface Socket {
  binaryType: string;
  readyState: number;
  send(data: Uint8Array | string, cb: (err?: Error) => void): void;
  close(code?: number): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: string, listener: (...args: never[]) => void): this;
  once(event: string, listener: (...args: never[]) => void): this;
}

const NO_WS = "vms.execStream() needs the ws package on Node versions without a WebSocket client that sends headers: npm install ws";
/** Output chunks queued before the socket is paused (the guest's process then waits). */
const HIGH_WATER = 64;
/** Most bytes of one stdin frame (hyped takes at most 4 MiB per message). */
const MAX_FRAME = 1 << 20;
const STDERR = 2;

/**
 * A process running in the guest over a WebSocket (`vms.execStream()`).
 * `for await` it for `ExecChunk`s until the process ends; then `exitCode`
 * is set. `send()` writes stdin, `closeStdin()` ends it, `resize()` and
 * `signal()` drive it, `wait()` resolves to the exit code. Closing it (or
 * leaving an `await using` scope) before the end kills the process.
 */
export class ExecStream implements AsyncIterable<ExecChunk>, AsyncDisposable {
  /** The exit status once the process ended (`null` when a signal ended it). */
  exitCode: number | null = null;
  /** The signal that ended it (`SIGTERM`), if one did. */
  signalName: string | null = null;
  /** Killed at its timeout. */
  timedOut = false;
  /** Whether the exit notice came. */
  exited = false;
  /** Control messages hyped refused; the session went on. */
  readonly refused: HypeError[] = [];
  readonly #ws: Socket;
  readonly #queue: ExecChunk[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  #failure: HypeError | undefined;
  readonly #gone: Promise<void>;

  private constructor(ws: Socket) {
    this.#ws = ws;
    this.#gone = new Promise((res) => ws.once("close", () => res()));
    ws.on("message", (data: Buffer, isBinary: boolean) => this.#take(data, isBinary));
    ws.on("close", () => {
      this.#closed = true;
      this.#poke();
    });
    ws.on("error", () => { /* a close follows */ });
  }

  /** Opens the WebSocket; an answer that is not an upgrade throws its `HypeError`. */
  static async connect(t: Transport, path: string, query: Array<[string, string]>): Promise<ExecStream> {
    let WebSocket: new (url: string, opts: Record<string, unknown>) => Socket;
    try {
      ({ WebSocket } = (await import("ws")) as unknown as { WebSocket: typeof WebSocket });
    } catch (e) {
      throw new Error(NO_WS, { cause: e });
    }
    const u = new URL(t.baseUrl + path);
    for (const [k, v] of query) u.searchParams.append(k, v);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(u.toString(), {
      headers: t.headers({ accept: "*/*" }),
      perMessageDeflate: false,
      maxPayload: 8 << 20,
      handshakeTimeout: 30_000,
    });
    ws.binaryType = "nodebuffer";
    await new Promise<void>((res, rej) => {
      ws.once("open", () => res());
      ws.once("unexpected-response", (req: { destroy(): void }, r: IncomingMessage) => {
        const parts: Buffer[] = [];
        r.on("data", (b: Buffer) => parts.push(b));
        r.on("end", () => {
          req.destroy();
          rej(errorFrom(r.statusCode ?? 0, r.statusMessage ?? "", Buffer.concat(parts).toString("utf8")));
        });
        r.on("error", (e) => rej(t.unreachable(e)));
      });
      ws.on("error", (e: Error) => {
        rej(/timeout/i.test(e.message) ? new HypeTimeoutError(`hyped at ${t.baseUrl} did not answer in time (WebSocket)`) : t.unreachable(e));
      });
    });
    return new ExecStream(ws);
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #take(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      if (data.length === 0) return;
      this.#queue.push({ stream: data[0] === STDERR ? "stderr" : "stdout", data: new Uint8Array(data.subarray(1)) });
      if (this.#queue.length >= HIGH_WATER) this.#ws.pause();
    } else {
      let n: Record<string, unknown>;
      try {
        n = JSON.parse(data.toString("utf8")) as Record<string, unknown>;
      } catch {
        return; // not a notice this SDK knows
      }
      if (n.type === "exit") {
        this.exitCode = (n.exit_code as number | null | undefined) ?? null;
        this.signalName = (n.signal as string | null | undefined) ?? null;
        this.timedOut = Boolean(n.timed_out);
        this.exited = true;
      } else if (n.type === "error") {
        const err = new HypeError(String(n.message), { code: String(n.code ?? "error") });
        this.refused.push(err);
        this.#failure = err;
      }
    }
    this.#poke();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ExecChunk> {
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk) {
        if (this.#queue.length < HIGH_WATER / 2) this.#ws.resume();
        yield chunk;
        continue;
      }
      if (this.exited) {
        await this.close();
        return;
      }
      if (this.#closed) {
        throw this.#failure ?? new HypeConnectionError("the exec's WebSocket closed before the process ended");
      }
      await new Promise<void>((res) => (this.#wake = res));
    }
  }

  #send(data: Uint8Array | string): Promise<void> {
    return new Promise((res, rej) => this.#ws.send(data, (e) => (e ? rej(new HypeConnectionError(`the exec's WebSocket: ${e.message}`, e)) : res())));
  }

  /** Writes `data` (text as UTF-8) to the process's stdin. */
  async send(data: Uint8Array | string): Promise<void> {
    const raw = typeof data === "string" ? new TextEncoder().encode(data) : data;
    for (let i = 0; i < raw.length; i += MAX_FRAME) await this.#send(raw.subarray(i, i + MAX_FRAME));
  }

  /** Ends the process's stdin (end of file). */
  closeStdin(): Promise<void> {
    return this.#send(JSON.stringify({ type: "eof" }));
  }

  /** Sets the terminal's size (with `tty: true`). */
  resize(rows: number, cols: number): Promise<void> {
    return this.#send(JSON.stringify({ type: "resize", rows, cols }));
  }

  /** Sends `signal` (`SIGINT`, `SIGTERM`, `SIGKILL`, ...) to the process and its group. */
  signal(signal: string): Promise<void> {
    return this.#send(JSON.stringify({ type: "signal", signal }));
  }

  /** Reads (and drops) the output not read yet until the process ends; resolves to its exit code (`null` when a signal ended it). */
  async wait(): Promise<number | null> {
    for await (const _ of this) void _;
    return this.exitCode;
  }

  /** Closes the WebSocket; a process still running is killed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#ws.resume();
    this.#ws.close(1000);
    const timer = setTimeout(() => this.#ws.terminate(), 5_000);
    await this.#gone;
    clearTimeout(timer);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The file name of `Content-Disposition`, when hyped gave one. */
function fileName(r: Response): string | undefined {
  const m = /filename="([^"]*)"/.exec(r.headers.get("content-disposition") ?? "");
  return m?.[1];
}

/**
 * A guest file's bytes as hyped sends them (`vms.download()`): `for await`
 * its chunks, take `stream`, read it whole with `bytes()` / `text()`, or
 * `save()` it to a local path. A directory comes as a tar archive
 * (`isArchive`). Read it to the end, or `cancel()` it.
 */
export class GuestFile implements AsyncIterable<Uint8Array> {
  /** The name hyped gave it (`NAME.tar` for a directory), if any. */
  readonly name: string | undefined;
  /** A directory, as a tar archive. */
  readonly isArchive: boolean;
  readonly #r: Response;

  constructor(r: Response) {
    this.#r = r;
    this.name = fileName(r);
    this.isArchive = (r.headers.get("content-type") ?? "").startsWith("application/x-tar");
  }

  /** The bytes as a web `ReadableStream`. */
  get stream(): ReadableStream<Uint8Array> {
    if (!this.#r.body) throw new Error("no body");
    return this.#r.body;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const reader = this.stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  /** Every byte (the whole file in memory: `save()` for big ones). */
  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.#r.arrayBuffer());
  }

  /** The bytes as UTF-8 text. */
  text(): Promise<string> {
    return this.#r.text();
  }

  /** Writes the bytes to local file `path`; resolves to how many. */
  async save(path: string): Promise<number> {
    let n = 0;
    const counted = Readable.fromWeb(this.stream as unknown as NodeReadableStream<Uint8Array>);
    counted.on("data", (b: Buffer) => (n += b.length));
    await pipeline(counted, createWriteStream(path));
    return n;
  }

  /** Releases the connection without reading the rest. */
  async cancel(): Promise<void> {
    await this.#r.body?.cancel();
  }
}

/** An upload body fetch can stream: bytes as they are, anything else piece by piece. */
export function uploadBody(data: UploadData): Uint8Array | ReadableStream<Uint8Array> {
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ReadableStream) return data;
  const it = data[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await it.next();
      if (done) controller.close();
      else controller.enqueue(typeof value === "string" ? new TextEncoder().encode(value) : new Uint8Array(value));
    },
    async cancel() {
      await it.return?.();
    },
  });
}
