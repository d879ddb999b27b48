import type { Hype } from "../client.js";
import { decode, type RecordedEvent, type Recording } from "../models.js";
import type { Operations } from "../operations.js";
import { seg } from "../transport.js";

/**
 * `hype.recordings`: what `record: true` sandboxes recorded (rrweb DOM
 * events, one recording per run of the VM, ended when the run ends). A
 * recording outlives its VM until it is deleted.
 */
export class Recordings {
  static readonly operations: Operations = {
    list: ["GET /api/v1/vms/{name}/recordings"],
    get: ["GET /api/v1/recordings/{id}", "GET /api/v1/vms/{name}/recordings/{id}"],
    events: ["GET /api/v1/recordings/{id}/events"],
    delete: ["DELETE /api/v1/recordings/{id}"],
  };

  constructor(private readonly client: Hype) {}

  /** The recordings of VMs named `vm`, oldest first, deleted VMs' too; `vm_not_found` for a name with neither. */
  async list(vm: string): Promise<Recording[]> {
    const body = await this.client.transport.json<{ items: unknown[] }>("GET", `/api/v1/vms/${seg(vm)}/recordings`);
    return body.items.map((r) => decode<Recording>(r));
  }

  /** One recording; with `vm`, only if it is one of that VM's (`recording_not_found` otherwise). */
  async get(id: string, opts: { vm?: string } = {}): Promise<Recording> {
    const path = opts.vm === undefined ? `/api/v1/recordings/${seg(id)}` : `/api/v1/vms/${seg(opts.vm)}/recordings/${seg(id)}`;
    return decode<Recording>(await this.client.transport.json("GET", path));
  }

  /**
   * The recording's rrweb events, in the order the pages sent them, as
   * the recorder wrote them (not camelCased: an rrweb `Replayer` plays
   * them). hyped answers one JSON array.
   */
  async events(id: string): Promise<RecordedEvent[]> {
    return this.client.transport.json<RecordedEvent[]>("GET", `/api/v1/recordings/${seg(id)}/events`);
  }

  /** Deletes a recording and its events. */
  async delete(id: string): Promise<void> {
    await this.client.transport.request("DELETE", `/api/v1/recordings/${seg(id)}`);
  }
}
