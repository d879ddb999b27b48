import type { Hype } from "../client.js";
import { decode, snakeize, type CreatePool, type Pool } from "../models.js";
import type { Operations } from "../operations.js";
import { seg } from "../transport.js";

/** `hype.pools`: sandboxes of one shape kept ready (`vms.create({ name, pool })` takes one). */
export class Pools {
  static readonly operations: Operations = {
    create: ["POST /api/v1/pools"],
    list: ["GET /api/v1/pools"],
    get: ["GET /api/v1/pools/{name}"],
    delete: ["DELETE /api/v1/pools/{name}"],
  };

  constructor(private readonly client: Hype) {}

  /** Keeps `size` sandboxes of this shape ready; it fills in the background (see `ready`). */
  async create(pool: CreatePool): Promise<Pool> {
    return decode<Pool>(await this.client.transport.json("POST", "/api/v1/pools", { json: snakeize({ ...pool }) }));
  }

  /** Every pool, by name. */
  async list(): Promise<Pool[]> {
    const body = await this.client.transport.json<{ pools: unknown[] }>("GET", "/api/v1/pools");
    return body.pools.map((p) => decode<Pool>(p));
  }

  /** One pool; `HypeError` `pool_not_found` when there is none. */
  async get(name: string): Promise<Pool> {
    return decode<Pool>(await this.client.transport.json("GET", `/api/v1/pools/${seg(name)}`));
  }

  /** Deletes a pool and the sandboxes waiting in it (those handed out stay). */
  async delete(name: string): Promise<void> {
    await this.client.transport.request("DELETE", `/api/v1/pools/${seg(name)}`);
  }
}
