// The SDK's model types against the OpenAPI document's schemas: each
// schema becomes a TypeScript type (camelCase, as the SDK decodes answers;
// job specs as written), and tsc checks that it and the SDK's own type are
// assignable both ways, against the shipped .d.ts. A field added, removed,
// renamed, retyped or made optional on either side fails, naming it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Hype } from "../dist/index.js";
import { Hyped, SDK, tmp } from "./helpers.mjs";

// Schema -> the SDK's type (and fields the SDK adds), or why there is none.
const MODEL = { Job: "JobData", JobEvent: "JobEvent" };
const NO_MODEL = {
  VmList: "vms.list() iterates", JobList: "jobs.list() iterates", EventList: "events.list() iterates",
  ImageList: "images.list() iterates", ErrorBody: "HypeError", ErrorDetail: "HypeError (code, message)",
  ConsoleMessages: "vms.browserConsole() returns the array", NetworkRequests: "vms.browserNetwork() returns the array",
  JobSpec: "VsphereJob | XcpngJob, each checked", JobBatch: "jobs.submitMany() takes the array",
  SnapshotList: "snapshots.list() returns the array", PoolList: "pools.list() returns the array", Created: "vms.create() returns a Vm, vms.createForks() a ForkResult",
  Login: "the web console's login body; SDK clients send the key", SessionInfo: "the web console's session; SDK clients send the key",
  DownloadList: "vms.downloads() returns the array", ResumeJob: "jobs.resume(id, password) takes the password",
};
const AS_WRITTEN = new Set(["VsphereJob", "XcpngJob", "OvfJob"]); // sent in the API's own snake_case

let server;
before(async () => {
  server = await new Hyped({ apiKey: "sk-models-0123456789abcdef" }).start();
});
after(async () => server?.close());

const camel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

function tsType(schema, camelize) {
  if (schema === false) return "never";
  if (schema.$ref) return `Doc${schema.$ref.split("/").pop()}`;
  if (schema.oneOf) return schema.oneOf.map((s) => tsType(s, camelize)).join(" | ");
  if (schema.allOf) return schema.allOf.map((s) => `(${tsType(s, camelize)})`).join(" & ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const kinds = Array.isArray(schema.type) ? schema.type : [schema.type];
  return kinds.map((k) => {
    switch (k) {
      case "null": return "null";
      case "string": return "string";
      case "integer": case "number": return "number";
      case "boolean": return "boolean";
      case "array": return schema.prefixItems
        ? `[${schema.prefixItems.map((s) => tsType(s, camelize)).join(", ")}]`
        : `Array<${tsType(schema.items, camelize)}>`;
      case "object": return schema.properties ? objectType(schema, camelize)
        : `Record<string, ${typeof schema.additionalProperties === "object" ? tsType(schema.additionalProperties, camelize) : "unknown"}>`;
      default: throw new Error(`schema type ${k}`);
    }
  }).join(" | ");
}

function objectType(schema, camelize) {
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(schema.properties).map(([k, s]) => {
    const name = camelize ? camel(k) : k;
    return `  ${name}${required.has(k) ? "" : "?"}: ${tsType(s, camelize)};`;
  });
  return `{\n${fields.join("\n")}\n}`;
}

test("the models match the document's schemas", { timeout: 120_000 }, async () => {
  const doc = await new Hype({ baseUrl: server.base, apiKey: server.apiKey }).system.openapi();
  const schemas = doc.components.schemas;
  const sdkTypes = [];
  const lines = [];
  for (const [name, schema] of Object.entries(schemas)) {
    const camelize = !AS_WRITTEN.has(name);
    lines.push(`type Doc${name} = ${tsType(schema, camelize)};`);
    if (name in NO_MODEL) continue;
    const mine = MODEL[name] ?? name;
    sdkTypes.push(mine);
    // Answers carry `raw`; a job event's job is the Job class (its data, and methods).
    // Enums and unions of plain values (PoolChoice) are no objects: no `raw`.
    let sdk = schema.enum || schema.oneOf ? mine : `Omit<${mine}, "raw">`;
    if (name === "JobEvent") sdk = `Omit<JobEvent, "raw" | "job"> & { job: Omit<JobData, "raw"> }`;
    if (AS_WRITTEN.has(name)) sdk = `Omit<${mine}, "kind">`; // JobSpec adds the tag
    // Both ways, so tsc names the field that differs.
    lines.push(`export function check${name}(sdk: ${sdk}, doc: Doc${name}): void { const a: Doc${name} = sdk; const b: ${sdk} = doc; void a; void b; }`);
  }
  const file = [
    `import type { ${[...new Set(sdkTypes)].join(", ")} } from "@hype/sdk";`,
    ...lines,
  ].join("\n");
  const dir = tmp();
  mkdirSync(join(dir, "node_modules", "@hype"), { recursive: true });
  symlinkSync(SDK, join(dir, "node_modules", "@hype", "sdk"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(dir, "check.ts"), file);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true,
      lib: ["ES2022", "ESNext.Disposable"], types: ["node"], typeRoots: [join(SDK, "node_modules", "@types")], skipLibCheck: true },
    files: ["check.ts"],
  }));
  try {
    execFileSync(join(SDK, "node_modules", ".bin", "tsc"), ["-p", dir], { encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    const where = [...e.stdout.matchAll(/check\.ts\((\d+),/g)].map((m) => /function check(\w+)/.exec(file.split("\n")[Number(m[1]) - 1])?.[1]);
    assert.fail(`the SDK's types differ from the document's schemas ${[...new Set(where)].join(", ")}:\n${e.stdout}`);
  }
  assert.ok(sdkTypes.length >= 20, `${sdkTypes.length} models checked`);
});
