import type { Job } from "./resources/jobs.js";

/**
 * An error from hyped, or on the way to it. `status` is the HTTP status
 * (`undefined` when no answer came back), `code` the API's stable
 * snake_case code (`vm_not_found`, ...), `message` its human text. The API
 * key is never part of either.
 */
export class HypeError extends Error {
  readonly status: number | undefined;
  readonly code: string;

  constructor(message: string, options: { status?: number; code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HypeError";
    this.status = options.status;
    this.code = options.code ?? "error";
  }
}

/** hyped could not be reached (refused, reset, DNS, TLS). */
export class HypeConnectionError extends HypeError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: "connection_error", cause });
    this.name = "HypeConnectionError";
  }
}

/** A wait (for a VM's state, a job's end, an answer) ran out of time. */
export class HypeTimeoutError extends HypeError {
  constructor(message: string) {
    super(message, { code: "timeout" });
    this.name = "HypeTimeoutError";
  }
}

/** `job.wait()` saw the job fail or get cancelled; `job` is its last state. */
export class JobFailedError extends HypeError {
  readonly job: Job;

  constructor(job: Job) {
    super(`job ${job.id} (${job.image}) ${job.state}: ${job.error ?? "no reason given"}`, {
      code: job.state === "cancelled" ? "job_cancelled" : "job_failed",
    });
    this.name = "JobFailedError";
    this.job = job;
  }
}

/** The error for an answer of 400 or more. */
export function errorFrom(status: number, statusText: string, body: string): HypeError {
  let code = `http_${status}`;
  let message = statusText || "error";
  try {
    const err = JSON.parse(body).error;
    if (typeof err?.code === "string" && typeof err?.message === "string") {
      code = err.code;
      message = err.message;
    }
  } catch {
    if (body.trim()) message = body.trim().slice(0, 500);
  }
  return new HypeError(message, { status, code });
}
