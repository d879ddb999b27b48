import type { Hype } from "../client.js";
import { decode, type StatusInfo, type VersionInfo } from "../models.js";
import type { Operations } from "../operations.js";

/** `hype.system`: facts about the server itself. */
export class System {
  static readonly operations: Operations = {
    health: ["GET /healthz"],
    version: ["GET /api/v1/version"],
    status: ["GET /api/v1/status"],
    openapi: ["GET /api/v1/openapi.json"],
    metrics: ["GET /metrics"],
  };

  constructor(private readonly client: Hype) {}

  /** Whether hyped answers its liveness check (no key needed). */
  async health(): Promise<boolean> {
    return (await (await this.client.transport.request("GET", "/healthz")).text()).trim() === "ok";
  }

  /** Server, API and VMM versions, and how guests are accelerated. */
  async version(): Promise<VersionInfo> {
    return decode<VersionInfo>(await this.client.transport.json("GET", "/api/v1/version"));
  }

  /** Uptime, VMs and jobs by state, free memory and disk, the accelerator, the network's problems. */
  async status(): Promise<StatusInfo> {
    return decode<StatusInfo>(await this.client.transport.json("GET", "/api/v1/status"));
  }

  /** The OpenAPI 3 document of the API. */
  async openapi(): Promise<Record<string, unknown>> {
    return this.client.transport.json("GET", "/api/v1/openapi.json");
  }

  /** Prometheus/OpenMetrics text. */
  async metrics(): Promise<string> {
    return (await this.client.transport.request("GET", "/metrics", { headers: { accept: "text/plain" } })).text();
  }
}
