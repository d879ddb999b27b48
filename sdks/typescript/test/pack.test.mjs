// The package as users get it: `npm pack` makes a tarball with the built
// ESM and its types, which installs into a clean folder (offline: it has no
// dependencies), imports there, and type-checks a user's file.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { SDK, tmp } from "./helpers.mjs";

function run(cmd, args, cwd) {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(" ")}:\n${e.stdout}\n${e.stderr}`);
  }
}

test("npm pack makes a tarball that installs and imports in a clean folder", { timeout: 300_000 }, () => {
  const out = tmp();
  const packed = JSON.parse(run("npm", ["pack", "--json", "--silent", "--pack-destination", out], SDK));
  const files = packed[0].files.map((f) => f.path);
  for (const f of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/sandbox.js"]) assert.ok(files.includes(f), f);
  assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/")), files.join(" "));
  const [tgz] = readdirSync(out).filter((f) => f.endsWith(".tgz"));
  assert.equal(tgz, "hype-sdk-0.1.0.tgz");

  const app = tmp();
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--silent", join(out, tgz)], app);
  // No runtime dependency came along, nor the optional peer (playwright-core).
  assert.deepEqual(readdirSync(join(app, "node_modules")).filter((d) => !d.startsWith(".")), ["@hype"]);
  assert.deepEqual(readdirSync(join(app, "node_modules", "@hype")), ["sdk"]);
  const got = run("node", ["--input-type=module", "-e",
    "import { Hype, HypeError, Sandbox } from '@hype/sdk'; const h = new Hype({ baseUrl: 'http://127.0.0.1:1' });" +
    "console.log(typeof Hype, typeof HypeError, typeof Sandbox, h.baseUrl, import.meta.resolve('@hype/sdk'))"], app);
  const [t1, t2, t3, base, where] = got.trim().split(" ");
  assert.deepEqual([t1, t2, t3, base], ["function", "function", "function", "http://127.0.0.1:1"]);
  assert.ok(where.includes(join(app, "node_modules")), where);

  // Its types, as a user's compiler sees them.
  writeFileSync(join(app, "use.ts"), [
    'import { Hype, type Vm, HypeError } from "@hype/sdk";',
    "const h = new Hype({ apiKey: 'k' });",
    "const vms: Vm[] = await h.vms.list();",
    "const n: number = vms[0]!.cpuCores;",
    "try { await h.vms.get('x'); } catch (e) { if (e instanceof HypeError) { const c: string = e.code; console.log(c, n); } }",
    "// @ts-expect-error: cpuCores is a number",
    "await h.vms.create({ name: 'x', cpuCores: 'two' });",
  ].join("\n"));
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true,
      lib: ["ES2022", "ESNext.Disposable"], types: ["node"], typeRoots: [join(SDK, "node_modules", "@types")], skipLibCheck: true },
    files: ["use.ts"],
  }));
  run(join(SDK, "node_modules", ".bin", "tsc"), ["-p", app], app);
});
