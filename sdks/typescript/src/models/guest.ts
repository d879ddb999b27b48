/**
 * Models of what happens inside a guest: its network as seen from inside,
 * probes, processes run with exec, its files, uploads, and the files its
 * browser downloaded. `../models.ts` re-exports them.
 */

import type { Raw } from "./base.js";
import type { FileKind, OutputEncoding } from "./enums.js";

export interface GuestInterface {
  name: string;
  up: boolean;
  addresses: string[];
  mac?: string | null;
}

/** The guest's network as seen from inside. */
export interface GuestNetwork extends Raw {
  interfaces: GuestInterface[];
  gateway?: string | null;
}

export interface ProbeResult extends Raw {
  target: string;
  reachable: boolean;
  error?: string | null;
  rttMs?: number | null;
}

/** What `vms.probe(name, target, { timeoutMs })` sends: ping an address from inside the guest. */
export interface ProbeRequest {
  /** An IPv4 address. */
  target: string;
  /** How long the guest waits for an echo reply, 1 to 10 000 ms. */
  timeoutMs?: number;
}

/** A process to run in the guest (`POST .../exec`; `vms.exec()` takes the command and these as options). */
export interface ExecRequest {
  /** The program and its arguments (no shell: `["sh", "-c", "..."]` for one). */
  cmd: string[];
  /** Added to the guest's environment. */
  env?: Record<string, string>;
  /** An absolute guest path; default: the user's home, else `/`. */
  cwd?: string | null;
  /** `name`, `uid` or `uid:gid`; default: the guest's unprivileged user. */
  user?: string | null;
  /** Text given to the process's stdin (then end of file). */
  stdin?: string | null;
  /** The same, base64. */
  stdinBase64?: string | null;
  /** Default 60, at most 3600. */
  timeoutSeconds?: number | null;
}

/** What a finished process in the guest did. */
export interface ExecResult extends Raw {
  /** Its exit status; absent when a signal ended it. */
  exitCode?: number | null;
  /** The signal that ended it (`SIGKILL`), if one did. */
  signal?: string | null;
  /** Killed at its timeout. */
  timedOut: boolean;
  /** Text when the output was valid UTF-8, else base64 (`stdoutEncoding`). */
  stdout: string;
  stdoutEncoding: OutputEncoding;
  stderr: string;
  stderrEncoding: OutputEncoding;
  /** Some output was left out (over 1 MiB per stream). */
  truncated: boolean;
  durationMs: number;
}

/** A file in the guest, as `lstat` sees it. */
export interface FileInfo extends Raw {
  /** Its name in its directory. */
  name: string;
  kind: FileKind;
  size: number;
  /** Permission bits, octal (`0644`). */
  mode: string;
  uid: number;
  gid: number;
  /** RFC 3339, from the guest's clock. */
  modifiedAt: string;
  /** Where a symlink points. */
  target?: string | null;
}

/** A directory's entries in the guest, sorted by name. */
export interface FileList extends Raw {
  path: string;
  entries: Array<Omit<FileInfo, "raw"> & Partial<Raw>>;
  /** Over 10,000 entries: the rest are left out. */
  truncated: boolean;
}

/** What an upload wrote. */
export interface Uploaded extends Raw {
  path: string;
  /** Bytes received (the file's size, or the archive's). */
  bytes: number;
}

/** A file the sandbox's browser downloaded (`vms.downloadFile()` fetches it). */
export interface Download extends Raw {
  /** Its file name in the guest's downloads folder. */
  name: string;
  size: number;
  /** Hex, computed in the guest when the download finished. */
  sha256: string;
  /** What was downloaded. */
  url: string;
  /** The page it was started from, when the browser says. */
  pageUrl?: string | null;
  /** RFC 3339. */
  finishedAt: string;
}
