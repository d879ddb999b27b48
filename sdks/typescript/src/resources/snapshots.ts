import type { Hype } from "../client.js";
import { decode, type Snapshot } from "../models.js";
import type { Operations } from "../operations.js";
import { seg } from "../transport.js";

/** `hype.snapshots`: VMs saved for forks (`vms.create({ name, snapshot })`). */
export class Snapshots {
  static readonly operations: Operations = {
    create: ["POST /api/v1/vms/{name}/snapshots"],
    list: ["GET /api/v1/snapshots"],
    get: ["GET /api/v1/snapshots/{name}"],
    delete: ["DELETE /api/v1/snapshots/{name}"],
  };

  constructor(private readonly client: Hype) {}

  /** Saves running VM `vm` as snapshot `name`; the VM goes on running. */
  async create(vm: string, name: string): Promise<Snapshot> {
    const body = await this.client.transport.json("POST", `/api/v1/vms/${seg(vm)}/snapshots`, { json: { name } });
    return decode<Snapshot>(body);
  }

  /** Every snapshot, by name. */
  async list(): Promise<Snapshot[]> {
    const body = await this.client.transport.json<{ snapshots: unknown[] }>("GET", "/api/v1/snapshots");
    return body.snapshots.map((s) => decode<Snapshot>(s));
  }

  /** One snapshot; `HypeError` `snapshot_not_found` when there is none. */
  async get(name: string): Promise<Snapshot> {
    return decode<Snapshot>(await this.client.transport.json("GET", `/api/v1/snapshots/${seg(name)}`));
  }

  /** Deletes a snapshot (`409` `snapshot_in_use` while forks of it exist). */
  async delete(name: string): Promise<void> {
    await this.client.transport.request("DELETE", `/api/v1/snapshots/${seg(name)}`);
  }
}
