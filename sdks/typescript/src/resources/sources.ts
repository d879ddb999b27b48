import type { Hype } from "../client.js";
import { decode, type Inventory, type InventoryRequest } from "../models.js";
import type { Operations } from "../operations.js";

/** `hype.sources`: the VMs on a vSphere or XCP-ng source, before importing one. */
export class Sources {
  static readonly operations: Operations = {
    inventory: ["POST /api/v1/sources/inventory"],
  };

  constructor(private readonly client: Hype) {}

  /**
   * The source's VMs and templates (name, path or uuid, power state, guest
   * OS, firmware, disks, NICs). Without `password` hyped uses its own,
   * under the rules of jobs (`422 env_password_refused` otherwise).
   */
  async inventory(req: InventoryRequest): Promise<Inventory> {
    return decode<Inventory>(
      await this.client.transport.json("POST", "/api/v1/sources/inventory", { json: { ...req } }),
    );
  }
}
