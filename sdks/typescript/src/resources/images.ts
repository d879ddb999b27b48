import type { Hype } from "../client.js";
import { decode, type Image } from "../models.js";
import type { Operations } from "../operations.js";
import { Pager } from "../pagination.js";
import { seg } from "../transport.js";

/** `hype.images`: what VMs can boot. */
export class Images {
  static readonly operations: Operations = {
    list: ["GET /api/v1/images"],
    get: ["GET /api/v1/images/{name}"],
    delete: ["DELETE /api/v1/images/{name}"],
  };

  constructor(private readonly client: Hype) {}

  /** Every image (`await` it, or `for await`). */
  list(): Pager<Image> {
    return new Pager(async () => {
      const body = await this.client.transport.json<{ images: unknown[] }>("GET", "/api/v1/images");
      return { items: body.images.map((i) => decode<Image>(i)) };
    });
  }

  /** One image; `HypeError` `image_not_found` when there is none. */
  async get(name: string): Promise<Image> {
    return decode<Image>(await this.client.transport.json("GET", `/api/v1/images/${seg(name)}`));
  }

  /** Forgets an image (`409` while a VM uses it). */
  async delete(name: string): Promise<void> {
    await this.client.transport.request("DELETE", `/api/v1/images/${seg(name)}`);
  }
}
