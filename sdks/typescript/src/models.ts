/**
 * Typed models of what hyped answers, one per schema of its OpenAPI
 * document (`GET /api/v1/openapi.json`), with camelCase field names
 * (`cpu_cores` is `cpuCores`). Each answer also keeps the JSON object as
 * the server sent it in `raw`.
 *
 * This module is the one place the rest of the SDK imports models from;
 * they are defined in `models/` by the API's areas, to keep each file short.
 */

export * from "./models/base.js";
export * from "./models/enums.js";
export * from "./models/vms.js";
export * from "./models/imports.js";
export * from "./models/system.js";
export * from "./models/guest.js";
export * from "./models/browser.js";
