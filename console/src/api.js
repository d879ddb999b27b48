// The console's one way to hyped's REST API: same-origin fetches (the
// session cookie rides along; the key never does), JSON both ways, and the
// API's own error shape turned into an ApiError with its code and message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let unauthorized = () => {};

/// Called with the error whenever hyped answers 401 (a session that
/// expired, or was ended elsewhere): the app goes back to its login.
export function onUnauthorized(f) {
  unauthorized = f;
}

export async function api(method, path, body) {
  const init = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'unreachable', `hyped did not answer (${e.message})`);
  }
  if (r.status === 204) return null;
  const text = await r.text();
  let data = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: keep the text (logs, metrics).
  }
  if (!r.ok) {
    const e = data && data.error;
    const err = new ApiError(
      r.status,
      (e && e.code) || `http_${r.status}`,
      (e && e.message) || `${method} ${path}: HTTP ${r.status}`,
    );
    if (r.status === 401) unauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const del = (path) => api('DELETE', path);

/// Every page of a paged list (`?limit=&after=`, `next`), joined.
export async function all(path, key) {
  const out = [];
  let after = null;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(after ? `${path}${sep}after=${encodeURIComponent(after)}` : path);
    out.push(...page[key]);
    if (!page.next) return out;
    after = page.next;
  }
}

export const vmPath = (name) => `/api/v1/vms/${encodeURIComponent(name)}`;
