import { HypeConnectionError, HypeTimeoutError, errorFrom } from "./errors.js";

export const DEFAULT_BASE_URL = "http://127.0.0.1:7777";
export const VERSION = "0.1.0";

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined | null>;
  json?: unknown;
  /** A `ReadableStream` is streamed (and then never sent twice). */
  body?: string | Uint8Array | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number | null;
}

/** The wait before resending a refused request: `Retry-After`, else a growing delay; at most 30 s. */
function retryAfterMs(r: Response, attempt: number): number {
  const s = Number(r.headers.get("retry-after"));
  return Math.min(30_000, Number.isFinite(s) && s >= 0 && r.headers.has("retry-after") ? s * 1000 : 500 * 2 ** attempt);
}

/** One path segment, escaped. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** The HTTP layer: base URL, key, errors as `HypeError`. */
export class Transport {
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  /** The fetch this client uses. */
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  /** How often a request refused with 429 (hyped's --rate-limit) is sent again. */
  readonly maxRetries: number;

  constructor(opts: { baseUrl?: string; apiKey?: string; timeoutMs?: number; maxRetries?: number; fetch?: typeof fetch }) {
    this.baseUrl = (opts.baseUrl || process.env.HYPE_API_BASE || DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.#apiKey = (opts.apiKey ?? process.env.HYPE_API_KEY) || undefined;
    this.fetch = (opts.fetch ?? globalThis.fetch).bind(globalThis);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.maxRetries = opts.maxRetries ?? 2;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { "user-agent": `hype-sdk-typescript/${VERSION}`, accept: "application/json" };
    if (this.#apiKey) h.authorization = `Bearer ${this.#apiKey}`;
    return { ...h, ...extra };
  }

  /** Only the `Authorization` header (for CDP clients), or nothing. */
  authHeaders(): Record<string, string> {
    return this.#apiKey ? { Authorization: `Bearer ${this.#apiKey}` } : {};
  }

  url(path: string, query?: RequestOptions["query"]): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    }
    return u.toString();
  }

  /** Sends a request; an answer of 400 or more throws `HypeError`. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers = this.headers(opts.headers);
    let body: string | Uint8Array | ReadableStream<Uint8Array> | undefined = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["content-type"] = "application/json";
    }
    const timeoutMs = opts.timeoutMs === undefined ? this.timeoutMs : opts.timeoutMs;
    const streamed = body instanceof ReadableStream;
    const maxRetries = streamed ? 0 : this.maxRetries;
    for (let attempt = 0; ; attempt++) {
      const signals = [opts.signal, timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs)].filter(
        (s): s is AbortSignal => s !== undefined,
      );
      let r: Response;
      try {
        r = await this.fetch(this.url(path, opts.query), {
          method,
          headers,
          body,
          signal: signals.length ? AbortSignal.any(signals) : undefined,
          ...(streamed ? { duplex: "half" } : {}),
        } as RequestInit);
      } catch (e) {
        throw this.unreachable(e);
      }
      if (r.status === 429 && attempt < maxRetries) {
        // Refused before it was handled: safe to send again, after Retry-After.
        await r.body?.cancel();
        await new Promise((res) => setTimeout(res, retryAfterMs(r, attempt)));
        continue;
      }
      if (r.status >= 400) throw errorFrom(r.status, r.statusText, await r.text());
      return r;
    }
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    return (await (await this.request(method, path, opts)).json()) as T;
  }

  unreachable(e: unknown): Error {
    const err = e as Error;
    if (err?.name === "TimeoutError") return new HypeTimeoutError(`hyped at ${this.baseUrl} did not answer in time`);
    if (err?.name === "AbortError") return err;
    const why = (err?.cause as Error | undefined)?.message ?? err?.message ?? String(e);
    return new HypeConnectionError(`cannot reach hyped at ${this.baseUrl}: ${why}`, e);
  }

  toString(): string {
    return `Transport(${this.baseUrl}, key=${this.#apiKey ? "set" : "none"})`;
  }
}
