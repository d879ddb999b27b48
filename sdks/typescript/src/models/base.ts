/**
 * What every answer model shares (`Raw`: the JSON object as the server sent
 * it) and the conversions between the API's snake_case JSON and the SDK's
 * camelCase models. `../models.ts` re-exports them.
 */

/** The JSON object as the server sent it. */
export interface Raw {
  raw: Record<string, unknown>;
}

function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function camelize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelize);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), camelize(v)]));
  }
  return value;
}

/** A model from a decoded JSON object: camelCase fields, and `raw`. */
export function decode<T extends Raw>(json: unknown): T {
  const out = camelize(json) as Record<string, unknown>;
  Object.defineProperty(out, "raw", { value: json, enumerable: false });
  return out as unknown as T;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A camelCase request object as the API's snake_case JSON (undefined dropped). */
export function snakeize(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[snake(k)] = v !== null && typeof v === "object" && !Array.isArray(v) ? snakeize(v as Record<string, unknown>) : v;
  }
  return out;
}
