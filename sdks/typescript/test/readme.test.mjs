// Every example of README.md, run as a user would: each TypeScript block
// is type-checked against the package's own types (tsc) and run with
// node, in order, in one directory, against the suite's hyped (keyed, and
// networked for the browser sandbox). A block followed by
// `<!-- output: RE -->` must print something RE matches; a block followed
// by `<!-- file: NAME -->` is written to NAME. The placeholder XCP-ng URL
// is the test XAPI server's.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Hype } from "../dist/index.js";
import { SDK, makeDisk, suiteServer, tmp, xapi } from "./helpers.mjs";

const PLACEHOLDER = "https://xcp-pool.example.com";
let server;
let x;

before(async () => {
  server = await suiteServer();
  x = await xapi(makeDisk(tmp(), 12)[0]);
});
after(async () => {
  x?.close();
  await server?.close();
});

function blocks() {
  const re = /```(\w+)\n([\s\S]*?)```\n(?:<!-- (output|file): (.*?) -->)?/g;
  return [...readFileSync(join(SDK, "README.md"), "utf8").matchAll(re)].map((m) => ({ lang: m[1], code: m[2], kind: m[3], arg: m[4] }));
}

test("the README's examples run", { timeout: 900_000 }, async () => {
  assert.ok(server.networked, "browser sandboxes need networking: run `sdks/run-tests.sh typescript`");
  const dir = tmp();
  mkdirSync(join(dir, "node_modules", "@hype"), { recursive: true });
  symlinkSync(SDK, join(dir, "node_modules", "@hype", "sdk"));
  symlinkSync(join(SDK, "node_modules", "@types"), join(dir, "node_modules", "@types"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2022", "ESNext.Disposable"],
      types: ["node"], strict: true, skipLibCheck: true, rootDir: ".", outDir: "out" },
    include: ["*.ts"],
  }));
  const examples = [];
  for (const b of blocks()) {
    const code = b.code.replaceAll(PLACEHOLDER, x.url);
    if (b.kind === "file") writeFileSync(join(dir, b.arg), code);
    else if (b.lang === "ts") {
      const file = `example${examples.length}.ts`;
      writeFileSync(join(dir, file), code);
      examples.push({ ...b, file, code });
    }
  }
  assert.ok(examples.length >= 6, `${examples.length} examples`);
  // Type-checked as a user's editor would, against the shipped .d.ts.
  execFileSync(join(SDK, "node_modules", ".bin", "tsc"), ["-p", dir], { stdio: "inherit" });
  const hype = new Hype();
  for (const ex of examples) {
    const r = spawnSync("node", [join("out", ex.file.replace(/\.ts$/, ".js"))], { cwd: dir, env: { ...process.env, ...server.env() }, encoding: "utf8", timeout: 600_000 });
    const where = `${ex.file}:\n${ex.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    assert.equal(r.status, 0, where);
    if (ex.kind === "output") assert.match(r.stdout, new RegExp(ex.arg), where);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(server.apiKey), "the key showed");
  }
  // The browser example left its screenshot, and no sandbox behind.
  assert.deepEqual([...readFileSync(join(dir, "page.png")).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.deepEqual((await hype.vms.list()).filter((v) => v.name.startsWith("sb-")), []);
});
