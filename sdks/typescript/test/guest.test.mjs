// Inside a guest through the SDK, against a real hyped and one real QEMU
// guest (the base image, shared by this file's tests): exec answered whole
// and streamed over the WebSocket, files up and down (streamed,
// byte-equal), stat, list, remove, the browser's downloads, and errors as
// HypeError.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, createReadStream } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { ExecStream, GuestFile, Hype, HypeError, Sandbox } from "../dist/index.js";
import { suiteServer, tmp, vmName } from "./helpers.mjs";

let server;
let hype;
let vm;

before(async () => {
  server = await suiteServer();
  hype = new Hype();
  vm = vmName("g");
  await hype.vms.create({ name: vm, image: "base", cpuCores: 1, memoryMb: 256, ttlSeconds: 1800 });
  await hype.vms.wait(vm, { timeoutMs: 300_000 });
}, { timeout: 360_000 });
after(async () => {
  await hype?.vms.delete(vm).catch(() => {});
  await server?.close();
});

const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const notFoundInGuest = (e) => e instanceof HypeError && e.status === 404 && e.code === "not_found_in_guest";

test("exec returns output and exit code", async () => {
  const r = await hype.vms.exec(vm, ["sh", "-c", "echo out; echo err >&2; exit 3"]);
  assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.signal, r.timedOut], [3, "out\n", "err\n", null, false]);
  assert.equal(r.stdoutEncoding, "utf-8");
  assert.equal(r.raw.exit_code, 3);
  const r2 = await hype.vms.exec(vm, 'echo "$GREETING"; pwd; id -u', { env: { GREETING: "hi there" }, cwd: "/tmp", user: "root" });
  assert.deepEqual(r2.stdout.split("\n").slice(0, 3), ["hi there", "/tmp", "0"]);
  assert.equal((await hype.vms.exec(vm, ["cat"], { stdin: "piped\nthrough\n" })).stdout, "piped\nthrough\n");
  const raw = Uint8Array.from({ length: 256 }, (_, i) => i);
  const r3 = await hype.vms.exec(vm, ["cat"], { stdin: raw });
  assert.equal(r3.stdoutEncoding, "base64");
  assert.deepEqual(new Uint8Array(Buffer.from(r3.stdout, "base64")), raw);
  await assert.rejects(hype.vms.exec(vm, ["no-such-program"]), notFoundInGuest);
  await assert.rejects(hype.vms.exec("no-such-vm", ["true"]), (e) => e instanceof HypeError && e.code === "vm_not_found");
});

test("execStream sees output, stdin and the exit code", async () => {
  const p = await hype.vms.execStream(vm, ["sh", "-c", "cat; echo done >&2; exit 5"]);
  assert.ok(p instanceof ExecStream);
  await p.send(new TextEncoder().encode("hello "));
  await p.send("world");
  await p.closeStdin();
  const out = { stdout: [], stderr: [] };
  for await (const c of p) out[c.stream].push(c.data);
  assert.equal(Buffer.concat(out.stdout).toString(), "hello world");
  assert.equal(Buffer.concat(out.stderr).toString(), "done\n");
  assert.deepEqual([p.exited, p.exitCode, p.timedOut], [true, 5, false]);

  // A terminal, resized; a signal ends the process.
  const t = await hype.vms.execStream(vm, ["sh", "-c", "[ -t 1 ] && echo on-a-tty; exec sleep 60"], { tty: true, rows: 30, cols: 100 });
  try {
    await t.resize(40, 120);
    let seen = "";
    for await (const c of t) {
      seen += Buffer.from(c.data).toString();
      if (seen.includes("on-a-tty")) await t.signal("SIGTERM");
    }
    assert.deepEqual([t.exitCode, t.signalName], [null, "SIGTERM"]);
  } finally {
    await t.close();
  }
  assert.equal(await (await hype.vms.execStream(vm, "exit 7", { stdin: false })).wait(), 7);
  await assert.rejects(hype.vms.execStream(vm, ["no-such-program"]), notFoundInGuest);
});

test("files go up and come down byte-equal", async () => {
  const blob = Buffer.concat([randomBytes(3 << 20), Buffer.from("tail")]);
  const dir = tmp();
  writeFileSync(join(dir, "blob.bin"), blob);
  // From a file stream: never held whole.
  const up = await hype.vms.upload(vm, "/tmp/blob.bin", createReadStream(join(dir, "blob.bin")));
  assert.deepEqual([up.path, up.bytes], ["/tmp/blob.bin", blob.length]);
  const f = await hype.vms.download(vm, "/tmp/blob.bin");
  assert.ok(f instanceof GuestFile);
  assert.deepEqual([f.name, f.isArchive], ["blob.bin", false]);
  const h = createHash("sha256");
  for await (const piece of f) h.update(piece);
  assert.equal(h.digest("hex"), sha256(blob));
  assert.equal((await hype.vms.exec(vm, "sha256sum /tmp/blob.bin")).stdout.split(" ")[0], sha256(blob));
  // Bytes up with a mode, saved to a local file.
  await hype.vms.upload(vm, "/tmp/b2.bin", new Uint8Array(blob), { mode: 0o755 });
  assert.equal(await (await hype.vms.download(vm, "/tmp/b2.bin")).save(join(dir, "back.bin")), blob.length);
  assert.equal(sha256(readFileSync(join(dir, "back.bin"))), sha256(blob));
  assert.equal((await hype.vms.stat(vm, "/tmp/b2.bin")).mode, "0755");
  // Text, and a web ReadableStream.
  await hype.vms.upload(vm, "/tmp/hello.txt", "hello\n", { mode: "0600", owner: "root" });
  assert.equal(await (await hype.vms.download(vm, "/tmp/hello.txt")).text(), "hello\n");
  const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("web ")); c.enqueue(new TextEncoder().encode("stream")); c.close(); } });
  await hype.vms.upload(vm, "/tmp/web.txt", stream);
  assert.equal(await (await hype.vms.download(vm, "/tmp/web.txt")).text(), "web stream");
});

test("stat, list, remove", async () => {
  await hype.vms.exec(vm, "mkdir -p /tmp/d/sub && printf abc > /tmp/d/a.txt && ln -sf a.txt /tmp/d/link");
  const info = await hype.vms.stat(vm, "/tmp/d/a.txt");
  assert.deepEqual([info.name, info.kind, info.size], ["a.txt", "file", 3]);
  assert.ok(info.modifiedAt);
  const link = await hype.vms.stat(vm, "/tmp/d/link");
  assert.deepEqual([link.kind, link.target], ["symlink", "a.txt"]);
  const list = await hype.vms.listFiles(vm, "/tmp/d");
  assert.deepEqual(list.entries.map((e) => [e.name, e.kind]), [["a.txt", "file"], ["link", "symlink"], ["sub", "directory"]]);
  assert.equal(list.truncated, false);
  const tar = await hype.vms.download(vm, "/tmp/d");
  assert.ok(tar.isArchive);
  assert.ok(Buffer.from(await tar.bytes()).includes("a.txt"));
  await assert.rejects(hype.vms.removeFile(vm, "/tmp/d"), (e) => e instanceof HypeError && e.status === 409 && e.code === "directory_not_empty");
  await hype.vms.removeFile(vm, "/tmp/d/a.txt");
  await hype.vms.removeFile(vm, "/tmp/d", { recursive: true });
  await assert.rejects(hype.vms.stat(vm, "/tmp/d"), notFoundInGuest);
  await assert.rejects(hype.vms.download(vm, "/tmp/d/a.txt"), notFoundInGuest);
  await assert.rejects(hype.vms.listFiles(vm, "/tmp/d"), notFoundInGuest);
});

test("downloads by name, escaped in the path", async () => {
  assert.deepEqual(await hype.vms.downloads(vm), []); // no browser here
  await hype.vms.exec(vm, "mkdir -p /home/browser/Downloads", { user: "root" });
  const name = "report #1 (final)?.txt";
  await hype.vms.upload(vm, `/home/browser/Downloads/${name}`, "report");
  assert.equal(await (await hype.vms.downloadFile(vm, name)).text(), "report");
  await assert.rejects(hype.vms.downloadFile(vm, "missing.pdf"), notFoundInGuest);
});

test("a sandbox has the same methods", async () => {
  const sb = new Sandbox(hype, await hype.vms.get(vm)); // not disposed: the file's VM outlives it
  assert.equal((await sb.exec("echo sb")).stdout, "sb\n");
  await sb.upload("/tmp/sb.txt", "x".repeat(10));
  assert.equal((await sb.stat("/tmp/sb.txt")).size, 10);
  assert.ok((await sb.listFiles("/tmp")).entries.some((e) => e.name === "sb.txt"));
  assert.equal(await (await sb.download("/tmp/sb.txt")).text(), "x".repeat(10));
  await sb.removeFile("/tmp/sb.txt");
  const p = await sb.execStream(["cat"]);
  await p.send("echo");
  await p.closeStdin();
  const got = [];
  for await (const c of p) got.push(c.data);
  assert.equal(Buffer.concat(got).toString(), "echo");
  assert.equal(p.exitCode, 0);
  assert.deepEqual(await sb.downloads(), []);
});
