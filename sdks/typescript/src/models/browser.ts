/**
 * Models of a browser sandbox's pages: console messages, network requests,
 * recordings and their events, and links to the live view. `../models.ts`
 * re-exports them.
 */

import type { Raw } from "./base.js";

/** One console message of a browser sandbox's page (`console.log`, an uncaught exception, a browser log entry). */
export interface ConsoleMessage extends Raw {
  /** Grows with each message of the sandbox; pass the last one seen as `after` for newer ones. */
  seq: number;
  /** `log`, `error`, `warning`, ...; `exception` for an uncaught exception. */
  level: string;
  text: string;
  /** The page (tab) it came from. */
  targetId: string;
  /** `URL:LINE:COLUMN`, when known. */
  location?: string | null;
  /** RFC 3339. */
  at: string;
}

/** One network request of a browser sandbox's page, with its response once there is one. */
export interface NetworkRequest extends Raw {
  seq: number;
  requestId: string;
  targetId: string;
  method: string;
  url: string;
  /** `Document`, `XHR`, `Fetch`, `Script`, `Image`, ... */
  resourceType?: string | null;
  /** `[name, value]` pairs. */
  requestHeaders: Array<[string, string]>;
  /** The body the page sent (at most 64 KiB of it). */
  postData?: string | null;
  status?: number | null;
  statusText?: string | null;
  mimeType?: string | null;
  responseHeaders: Array<[string, string]>;
  /** Why it failed (`net::ERR_...`), if it did. */
  failure?: string | null;
  /** Bytes received, once finished. */
  encodedLength?: number | null;
  /** RFC 3339, when the page sent it. */
  at: string;
  finished: boolean;
}

/** A recording of a browser sandbox's pages (rrweb DOM events); it outlives its VM until deleted. */
export interface Recording extends Raw {
  /** `rec_` and a UUID. */
  id: string;
  /** The VM it recorded (which may have been deleted since). */
  vm: string;
  vmId: string;
  startedAt: string;
  /** `null` while it records (until the VM's run ends). */
  endedAt?: string | null;
  /** Bytes of events kept. */
  sizeBytes: number;
  /** rrweb events kept. */
  events: number;
  /** Pages (tabs) that sent events. */
  pages: number;
  /** Why it stopped early (its size limit), if it did. */
  note?: string | null;
  /** The console's replay page. */
  replayUrl: string;
}

/** A VM's recordings, oldest first (`recordings.list` returns the array). */
export interface RecordingList extends Raw {
  items: Array<Omit<Recording, "raw"> & Partial<Raw>>;
}

/** One rrweb event of a recording, as the page's recorder sent it. */
export interface RecordedEvent {
  /** rrweb's `EventType`: 2 a full DOM snapshot, 3 an incremental change, 4 a page's meta (its URL), ... */
  type: number;
  data: Record<string, unknown>;
  /** Milliseconds since the epoch, from the page's clock. */
  timestamp: number;
  [key: string]: unknown;
}

/** What `vms.liveLink` takes. */
export interface CreateLiveLink {
  /** Seconds until the link stops working, 1 to 86400 (default 3600). */
  expiresIn?: number;
  /** Whether the link's viewer may send input; view only by default. */
  interactive?: boolean;
}

/**
 * A link to a VM's live view, for a browser without the key. `url` carries
 * `token`, a secret shown this once: `util.inspect` (console.log) of the
 * link leaves both out; do not log them.
 */
export interface LiveLink extends Raw {
  /** The live page with the token: open it in any browser, no login. */
  url: string;
  token: string;
  /** When the link stops working (RFC 3339, UTC). */
  expiresAt: string;
  interactive: boolean;
}
