import type { Hype } from "../client.js";
import { ExecStream, GuestFile, uploadBody, type UploadData } from "../guest.js";
import { decode, type Download, type ExecResult, type FileInfo, type FileList, type Uploaded } from "../models.js";
import type { Operations } from "../operations.js";
import { seg } from "../transport.js";

const path = (name: string, rest: string) => `/api/v1/vms/${seg(name)}${rest}`;

/** A command: an array runs as is (no shell), a string in `sh -c`. */
export type Command = string | string[];

/** How `vms.exec()` runs a command. */
export interface ExecOptions {
  /** Added to the guest's environment. */
  env?: Record<string, string>;
  /** An absolute guest path; default: the user's home, else `/`. */
  cwd?: string;
  /** `name`, `uid` or `uid:gid`; default: the guest's unprivileged user. */
  user?: string;
  /** Text or bytes given to stdin (at most 1 MiB), then end of file. */
  stdin?: string | Uint8Array;
  /** Seconds (default 60, at most 3600); then it and all it started are killed. */
  timeout?: number;
}

/** How `vms.execStream()` runs a command. */
export interface ExecStreamOptions {
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
  /** Run on a pseudo-terminal (stdout and stderr are then one stream). */
  tty?: boolean;
  /** The terminal's size, with `tty` (default 24 x 80). */
  rows?: number;
  cols?: number;
  /** Whether you send stdin (default true); with `false` it is empty from the start. */
  stdin?: boolean;
  /** Seconds; by default it runs as long as the stream is open. */
  timeout?: number;
}

/** Where and how `vms.upload()` writes. */
export interface UploadOptions {
  /** Permission bits: `0o755` or `"0755"`; default `0644`, a replaced file's own. */
  mode?: number | string;
  /** `name`, `uid` or `uid:gid`; default: the guest's unprivileged user. */
  owner?: string;
  /** The data is a tar archive to unpack into directory `path`. */
  archive?: boolean;
}

function argv(cmd: Command): string[] {
  return typeof cmd === "string" ? ["sh", "-c", cmd] : cmd.map(String);
}

/**
 * Inside a running VM: processes, files and what its browser downloaded.
 * The guest-access half of `hype.vms` (`Vms` extends it).
 */
export class Guest {
  static readonly operations: Operations = {
    exec: ["POST /api/v1/vms/{name}/exec"],
    execStream: ["GET /api/v1/vms/{name}/exec/ws"],
    upload: ["PUT /api/v1/vms/{name}/files"],
    download: ["GET /api/v1/vms/{name}/files"],
    stat: ["GET /api/v1/vms/{name}/files/stat"],
    listFiles: ["GET /api/v1/vms/{name}/files/list"],
    removeFile: ["DELETE /api/v1/vms/{name}/files"],
    downloads: ["GET /api/v1/vms/{name}/downloads"],
    downloadFile: ["GET /api/v1/vms/{name}/downloads/{file}"],
  };

  constructor(protected readonly client: Hype) {}

  /**
   * Runs `cmd` in the guest to its end and resolves to what it did. A
   * non-zero exit is no error (see `exitCode`); a program, user or
   * directory that is not there throws `HypeError` `not_found_in_guest`.
   */
  async exec(name: string, cmd: Command, opts: ExecOptions = {}): Promise<ExecResult> {
    const body: Record<string, unknown> = { cmd: argv(cmd), env: opts.env, cwd: opts.cwd, user: opts.user, timeout_seconds: opts.timeout };
    if (typeof opts.stdin === "string") body.stdin = opts.stdin;
    else if (opts.stdin !== undefined) body.stdin_base64 = Buffer.from(opts.stdin).toString("base64");
    return decode<ExecResult>(await this.client.transport.json("POST", path(name, "/exec"), {
      json: body,
      timeoutMs: ((opts.timeout ?? 60) + 30) * 1000,
    }));
  }

  /**
   * Starts `cmd` in the guest and streams it over a WebSocket: an
   * `ExecStream` to `for await` for output, `send()` stdin to, `resize()`,
   * `signal()` and `wait()` for. Errors before it starts (no such program:
   * `not_found_in_guest`) throw here. Needs the `ws` package.
   */
  execStream(name: string, cmd: Command, opts: ExecStreamOptions = {}): Promise<ExecStream> {
    const q: Array<[string, string]> = argv(cmd).map((c) => ["cmd", c]);
    for (const [k, v] of Object.entries(opts.env ?? {})) q.push(["env", `${k}=${v}`]);
    if (opts.cwd !== undefined) q.push(["cwd", opts.cwd]);
    if (opts.user !== undefined) q.push(["user", opts.user]);
    if (opts.tty) q.push(["tty", "true"]);
    if (opts.rows !== undefined) q.push(["rows", String(opts.rows)]);
    if (opts.cols !== undefined) q.push(["cols", String(opts.cols)]);
    if (opts.stdin ?? true) q.push(["stdin", "true"]);
    if (opts.timeout !== undefined) q.push(["timeout_seconds", String(opts.timeout)]);
    return ExecStream.connect(this.client.transport, path(name, "/exec/ws"), q);
  }

  /**
   * Writes `data` to guest file `path` (its directory must exist): bytes,
   * text, a `ReadableStream` or an async iterable (`fs.createReadStream()`),
   * streamed, never held whole. The file appears complete or not at all.
   */
  async upload(name: string, filePath: string, data: UploadData, opts: UploadOptions = {}): Promise<Uploaded> {
    const mode = typeof opts.mode === "number" ? opts.mode.toString(8).padStart(4, "0") : opts.mode;
    return decode<Uploaded>(await (await this.client.transport.request("PUT", path(name, "/files"), {
      query: { path: filePath, mode, owner: opts.owner, archive: opts.archive || undefined },
      body: uploadBody(data),
      headers: { "content-type": "application/octet-stream" },
      timeoutMs: null,
    })).json());
  }

  /**
   * Guest file `path` as a `GuestFile` to stream, read or `save()` (a
   * directory comes as a tar archive). Throws `HypeError`
   * `not_found_in_guest` when it is not there.
   */
  async download(name: string, filePath: string): Promise<GuestFile> {
    return new GuestFile(await this.client.transport.request("GET", path(name, "/files"), {
      query: { path: filePath },
      headers: { accept: "*/*" },
      timeoutMs: null,
    }));
  }

  /** What `lstat` says of guest path `path`. */
  async stat(name: string, filePath: string): Promise<FileInfo> {
    return decode<FileInfo>(await this.client.transport.json("GET", path(name, "/files/stat"), { query: { path: filePath } }));
  }

  /** The entries of guest directory `path`, sorted by name (at most 10,000). */
  async listFiles(name: string, filePath: string): Promise<FileList> {
    return decode<FileList>(await this.client.transport.json("GET", path(name, "/files/list"), { query: { path: filePath } }));
  }

  /** Removes guest file `path` (a directory only when empty, unless `recursive`). */
  async removeFile(name: string, filePath: string, opts: { recursive?: boolean } = {}): Promise<void> {
    await this.client.transport.request("DELETE", path(name, "/files"), {
      query: { path: filePath, recursive: opts.recursive || undefined },
    });
  }

  /** What the sandbox's browser downloaded, oldest first. */
  async downloads(name: string): Promise<Download[]> {
    const r = await this.client.transport.json<{ downloads: unknown[] }>("GET", path(name, "/downloads"));
    return r.downloads.map((d) => decode<Download>(d));
  }

  /** One file the browser downloaded (a `Download`'s `name`), as a `GuestFile`. */
  async downloadFile(name: string, file: string): Promise<GuestFile> {
    return new GuestFile(await this.client.transport.request("GET", path(name, `/downloads/${seg(file)}`), {
      headers: { accept: "*/*" },
      timeoutMs: null,
    }));
  }
}
