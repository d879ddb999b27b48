/**
 * Which REST operations each SDK method performs, as `"METHOD /path"`
 * templates of the OpenAPI document. Every resource class lists its own in
 * a static `operations`; `test/coverage.test.mjs` compares them with the
 * document and names the operations no method covers.
 */
export type Operations = Readonly<Record<string, readonly string[]>>;

/** Operations of the document no SDK method wraps, and why. */
export const NOT_WRAPPED: Readonly<Record<string, string>> = {
  "GET /api/v1/vms/{name}/cdp/json": "Chrome's older name of /cdp/json/list: use vms.cdpTargets()",
  "GET /api/v1/session": "the web console's login; SDK clients send the key",
  "POST /api/v1/session": "the web console's login; SDK clients send the key",
  "DELETE /api/v1/session": "the web console's logout; SDK clients send the key",
  "GET /api/v1/vms/{name}/live/ws": "the web console's live view; open a sandbox's liveUrl in a browser",
  "GET /api/v1/agui": "an AG-UI event stream, for AG-UI clients (@ag-ui/client's HttpAgent)",
};
