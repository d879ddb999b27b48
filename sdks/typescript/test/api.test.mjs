// VMs, errors, pagination, jobs and the OpenAPI coverage, through the SDK
// against a real hyped, real QEMU guests and the test XAPI server.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Hype, HypeConnectionError, HypeError, HypeTimeoutError, JobFailedError, NOT_WRAPPED, RESOURCES, Sandbox } from "../dist/index.js";
import { Hyped, XAPI_PASSWORD, makeDisk, suiteServer, tmp, vmName, xapi } from "./helpers.mjs";

const BASE = { image: "base", cpuCores: 1, memoryMb: 256 };
let server;
let hype;

before(async () => {
  server = await suiteServer();
  hype = new Hype(); // HYPE_API_BASE, HYPE_API_KEY
});
after(async () => server?.close());

test("create, wait, list, delete", async () => {
  const name = vmName();
  const vm = await hype.vms.create({ name, ttlSeconds: 600, ...BASE });
  assert.deepEqual([vm.name, vm.state, vm.image, vm.cpuCores, vm.memoryMb, vm.ttlSeconds], [name, "starting", "base", 1, 256, 600]);
  assert.equal(vm.raw.cpu_cores, 1);
  const running = await hype.vms.wait(name, { timeoutMs: 180_000 });
  assert.equal(running.state, "running");
  assert.ok(running.vmm.pid);
  assert.ok((await hype.vms.list()).some((v) => v.name === name));
  const names = [];
  for await (const v of hype.vms.list({ state: "running" })) names.push(v.name);
  assert.ok(names.includes(name));
  assert.ok(!(await hype.vms.list({ state: "stopped" })).some((v) => v.name === name));
  assert.match(await hype.vms.logs(name), /hype-agent: ready/);
  const lines = [];
  for await (const line of hype.vms.followLogs(name, { tail: 5 })) {
    lines.push(line);
    if (lines.length === 5) break;
  }
  assert.ok(lines.some((l) => l.includes("hype-agent")), lines.join("\n"));
  assert.equal((await hype.vms.pause(name)).state, "paused");
  assert.equal((await hype.vms.resume(name)).state, "running");
  assert.ok((await hype.vms.guestNetwork(name)).interfaces.some((i) => i.name === "lo"));
  await hype.vms.delete(name);
  await assert.rejects(hype.vms.get(name), (e) => e instanceof HypeError && e.status === 404 && e.code === "vm_not_found");
  const types = (await hype.events.list({ vm: name })).map((e) => e.type);
  assert.deepEqual(types.slice(0, 2), ["VM_CREATED", "VM_STARTING"]);
  assert.ok(types.includes("VM_RUNNING"));
  assert.equal(types.at(-1), "VM_DELETED");
});

test("lists follow pages", async () => {
  const names = [vmName("pg"), vmName("pg"), vmName("pg")].sort();
  const urls = [];
  const counted = new Hype({ fetch: (url, init) => (urls.push(String(url)), fetch(url, init)) });
  for (const n of names) await hype.vms.create({ name: n, ...BASE });
  try {
    const seen = (await counted.vms.list({ pageSize: 1 })).map((v) => v.name);
    assert.deepEqual(seen.filter((n) => names.includes(n)), names);
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(urls.filter((u) => u.includes("/api/v1/vms?")).length >= names.length + 1, urls.join("\n"));
  } finally {
    for (const n of names) await hype.vms.delete(n);
  }
  const events = await hype.events.list({ pageSize: 2 });
  assert.ok(events.length >= 6);
  assert.deepEqual(events.map((e) => e.id), [...new Set(events.map((e) => e.id))].sort((a, b) => a - b));
});

test("errors carry status, code and message; the key never shows", async () => {
  await assert.rejects(hype.vms.create({ name: vmName(), image: "no-such-image" }), (e) =>
    e instanceof HypeError && e.status === 404 && e.code === "image_not_found" && e.message.includes("no-such-image"));
  const name = vmName();
  await hype.vms.create({ name, ...BASE });
  try {
    await assert.rejects(hype.vms.create({ name, ...BASE }), (e) => e.status === 409 && e.code !== "error");
  } finally {
    await hype.vms.delete(name);
  }
  const anonymous = new Hype({ apiKey: "" });
  await assert.rejects(anonymous.vms.list().toArray(), (e) => e.status === 401 && e.code === "unauthorized");
  assert.equal(await anonymous.system.health(), true);
  const wrong = new Hype({ apiKey: `wrong-${server.apiKey}` });
  await assert.rejects(wrong.vms.get("x"), (e) => e.status === 401 && !`${e.message}${e.stack}`.includes(server.apiKey));
  assert.ok(!String(wrong).includes(server.apiKey));
  const { inspect } = await import("node:util");
  assert.ok(!inspect(wrong, { depth: 5, showHidden: true }).includes(server.apiKey));
  const down = new Hype({ baseUrl: "http://127.0.0.1:9", apiKey: "sk-never-shown" });
  await assert.rejects(down.vms.get("x"), (e) => e instanceof HypeConnectionError && e.status === undefined &&
    e.code === "connection_error" && !e.message.includes("sk-never-shown"));
});

test("warm pools refuse what they cannot serve", async () => {
  assert.deepEqual(await hype.pools.list(), []);
  await assert.rejects(hype.pools.create({ name: "warm", image: "no-such-image", size: 1 }), (e) =>
    e instanceof HypeError && e.status === 404 && e.code === "image_not_found");
  await assert.rejects(hype.pools.create({ name: "warm", image: "base", size: 0 }), (e) => e.status === 422);
  await assert.rejects(hype.pools.get("ghost"), (e) => e.status === 404 && e.code === "pool_not_found");
  await assert.rejects(hype.pools.delete("ghost"), (e) => e.status === 404 && e.code === "pool_not_found");
  const name = vmName();
  await assert.rejects(hype.vms.create({ name, pool: "ghost" }), (e) => e.status === 404 && e.code === "pool_not_found");
  await assert.rejects(hype.vms.get(name), (e) => e.code === "vm_not_found");
  assert.deepEqual(await hype.vms.list({ pool: "ghost" }).toArray(), []);
});

test("each VM method reaches its route", async () => {
  const sent = [];
  const c = new Hype({ fetch: (url, init) => (sent.push(`${init?.method ?? "GET"} ${new URL(url).pathname}`), fetch(url, init)) });
  const calls = {
    get: () => c.vms.get("ghost"), delete: () => c.vms.delete("ghost"), start: () => c.vms.start("ghost"),
    stop: () => c.vms.stop("ghost"), pause: () => c.vms.pause("ghost"), resume: () => c.vms.resume("ghost"),
    snapshot: () => c.vms.snapshot("ghost"), restore: () => c.vms.restore("ghost"), logs: () => c.vms.logs("ghost"),
    screenshot: () => c.vms.screenshot("ghost"), cdpVersion: () => c.vms.cdpVersion("ghost"),
    cdpTargets: () => c.vms.cdpTargets("ghost"), guestNetwork: () => c.vms.guestNetwork("ghost"),
    probe: () => c.vms.probe("ghost", "10.0.0.1"),
    browserConsole: () => c.vms.browserConsole("ghost"), browserNetwork: () => c.vms.browserNetwork("ghost"),
    liveLink: () => c.vms.liveLink("ghost", { expiresIn: 60 }),
    followLogs: async () => { for await (const _ of c.vms.followLogs("ghost")) { /* none */ } },
  };
  for (const [method, call] of Object.entries(calls)) {
    sent.length = 0;
    await assert.rejects(call(), (e) => e.status === 404 && e.code === "vm_not_found", method);
    const [op] = RESOURCES.vms.operations[method];
    assert.deepEqual(sent, [op.replace("{name}", "ghost")], method);
  }
});

test("every operation of the OpenAPI document is covered", async () => {
  const doc = await hype.system.openapi();
  const ops = new Set();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of Object.keys(item)) if (["get", "put", "post", "delete", "patch"].includes(m)) ops.add(`${m.toUpperCase()} ${path}`);
  }
  const mine = new Set([...Object.values(RESOURCES), Sandbox].flatMap((c) => Object.values(c.operations).flat()));
  const missing = [...ops].filter((o) => !mine.has(o) && !(o in NOT_WRAPPED)).sort();
  assert.deepEqual(missing, [], `no method covers: ${missing.join(", ")}`);
  const stale = [...mine].filter((o) => !ops.has(o));
  assert.deepEqual(stale, [], "operations the document lacks");
  for (const cls of [...Object.values(RESOURCES), Sandbox]) {
    for (const method of Object.keys(cls.operations)) assert.equal(typeof cls.prototype[method], "function", `${cls.name}.${method}`);
  }
});

test("a sandbox that cannot come up in time is deleted", async () => {
  const before = (await hype.vms.list()).map((v) => v.name).sort();
  await assert.rejects(hype.sandbox({ ...BASE, name: vmName("slow"), timeoutMs: 500 }), HypeTimeoutError);
  assert.deepEqual((await hype.vms.list()).map((v) => v.name).sort(), before);
});

test("import jobs: submit an object and a YAML file, wait with progress, cancel", async () => {
  const dir = tmp();
  const [disk, sha] = makeDisk(dir, 12);
  const x = await xapi(disk);
  const slow = await xapi(disk, "--delay", "2");
  try {
    const name = vmName("img");
    const job = await hype.jobs.submit({ kind: "xcpng_export", url: x.url, username: "root", password: XAPI_PASSWORD, vm: "Web 01", name });
    assert.deepEqual([job.state, job.image, job.kind], ["pending", name, "xcpng_export"]);
    assert.ok(!JSON.stringify(job).includes(XAPI_PASSWORD));
    const seen = [];
    await job.wait({ progress: (ev) => seen.push(ev), timeoutMs: 300_000 });
    assert.equal(job.state, "completed");
    assert.equal(seen[0].type, "JOB_QUEUED");
    assert.equal(seen.at(-1).type, "JOB_COMPLETED");
    assert.ok(seen.some((e) => e.type === "JOB_PROGRESS" && e.job.progress.bytesTotal === 12 << 20));
    assert.equal(job.progress.percent, 100);
    const image = await hype.images.get(name);
    assert.deepEqual([image.source, image.sha256], ["xcpng", sha]);
    assert.ok((await hype.images.list()).some((i) => i.name === name));
    await hype.images.delete(name);

    // From a YAML file, without a password (hyped has HYPE_XCPNG_PASSWORD); then cancelled.
    const file = join(dir, "job.yaml");
    writeFileSync(file, `kind: xcpng_export\nurl: ${slow.url}\nusername: root\nvm: Web 01\nname: ${vmName("yml")}\n`);
    const slowJob = await hype.jobs.submit(file);
    for await (const ev of hype.events.watchJobs({ job: slowJob.id, lastEventId: 0, timeoutMs: 120_000 })) {
      if (ev.type === "JOB_PROGRESS") break;
    }
    await slowJob.cancel();
    await assert.rejects(slowJob.wait({ timeoutMs: 120_000 }), (e) => e instanceof JobFailedError && e.code === "job_cancelled" && e.job.state === "cancelled");
    await assert.rejects(slowJob.cancel(), (e) => e.status === 409);
    // Only a job a restart left waiting for its password takes one.
    await assert.rejects(hype.jobs.resume(slowJob.id, "a password"), (e) => e.status === 409 && e.code === "job_not_awaiting_password" && !String(e).includes("a password"));
    const ids = (await hype.jobs.list({ pageSize: 1 })).map((j) => j.id);
    assert.ok(ids.includes(slowJob.id) && ids.includes(job.id) && new Set(ids).size === ids.length);
    assert.ok((await hype.jobs.list({ state: "cancelled" })).some((j) => j.id === slowJob.id));
    assert.equal((await hype.jobs.get(job.id)).state, "completed");

    await assert.rejects(hype.jobs.submit({ kind: "xcpng_export", url: x.url, vm: "x", bogus: 1 }),
      (e) => e.status === 400 && e.message.includes("bogus") && e.code !== "error");
    await assert.rejects(hype.jobs.submit([{ kind: "xcpng_export" }, { kind: "xcpng_export" }]), TypeError);
  } finally {
    x.close();
    slow.close();
  }
});

test("the inventory of an XCP-ng source lists its VMs and templates", async () => {
  const [disk] = makeDisk(tmp(), 4);
  const x = await xapi(disk);
  try {
    const inv = await hype.sources.inventory({ kind: "xcpng", url: x.url, username: "root", password: XAPI_PASSWORD });
    assert.equal(inv.kind, "xcpng");
    const web = inv.vms.find((v) => v.name === "Web 01");
    assert.deepEqual([web.powerState, web.template, web.firmware], ["off", false, "bios"]);
    assert.deepEqual(web.disks.map((d) => [d.sizeBytes, d.bus]), [[4 << 20, "xen"]]);
    assert.ok(inv.vms.some((v) => v.template));
    await assert.rejects(hype.sources.inventory({ kind: "xcpng", url: x.url, username: "root", password: "wrong-pw-7" }),
      (e) => e.status === 422 && e.code === "source_login_failed" && !e.message.includes("wrong-pw-7"));
  } finally {
    x.close();
  }
});

test("status counts VMs and jobs and reports the host", async () => {
  const st = await hype.system.status();
  assert.deepEqual(new Set(st.jobs.map((c) => c.state)), new Set(["pending", "running", "completed", "failed", "cancelled"]));
  assert.ok(st.vms.some((c) => c.state === "running"));
  assert.ok(st.memory.totalBytes >= st.memory.availableBytes && st.memory.availableBytes > 0);
  assert.ok(st.vmDisk.totalBytes > 0 && st.uptimeSeconds >= 0);
});

test("rate-limited requests are sent again after Retry-After", async () => {
  const s = await new Hyped({ apiKey: "sk-rate-limit-0123456789", extra: ["--rate-limit", "1"] }).start();
  try {
    const impatient = new Hype({ baseUrl: s.base, apiKey: s.apiKey, maxRetries: 0 });
    await assert.rejects(async () => {
      for (let i = 0; i < 10; i++) await impatient.system.version();
    }, (e) => e instanceof HypeError && e.status === 429 && e.code === "rate_limited");
    await new Promise((r) => setTimeout(r, 2000));
    const statuses = [];
    const patient = new Hype({
      baseUrl: s.base, apiKey: s.apiKey,
      fetch: async (url, init) => { const r = await fetch(url, init); statuses.push(r.status); return r; },
    });
    for (let i = 0; i < 4; i++) assert.equal((await patient.system.version()).api, "v1");
    assert.ok(statuses.includes(429) && statuses.at(-1) === 200, String(statuses));
  } finally {
    await s.close();
  }
});
