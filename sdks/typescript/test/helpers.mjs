// A real hyped for the SDK's tests (the binary cargo builds, an ephemeral
// port, its own data directory, real QEMU guests) and the test XAPI server
// of tests/xcpng. Browser sandboxes need hyped's networking, set up only
// inside the network namespace sdks/run-tests.sh makes for the run.
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const SDK = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ROOT = resolve(SDK, "../..");
export const IMAGES = process.env.HYPE_IMAGES_DIR ?? "/var/lib/hype/images";
export const XAPI_PASSWORD = "xcp-s3cret-pw";

export function hypedBin() {
  if (process.env.HYPE_HYPED_BIN) return process.env.HYPE_HYPED_BIN;
  return join(process.env.CARGO_TARGET_DIR ?? "/var/cache/hype/target", "debug", "hyped");
}

/** Whether sdks/run-tests.sh made this network namespace (and it had only lo at the start). */
export function inPrivateNetns() {
  if (process.env.HYPE_SDK_NETNS !== "1") return false;
  const ifaces = readFileSync("/proc/self/net/dev", "utf8").split("\n").slice(2)
    .map((l) => l.split(":")[0].trim()).filter(Boolean);
  if (ifaces.some((i) => i !== "lo" && !i.startsWith("hypebr") && !i.startsWith("tap"))) {
    throw new Error(`HYPE_SDK_NETNS=1, but this namespace has ${ifaces}`);
  }
  return true;
}

export function vmName(prefix = "t") {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

function firstLine(stream) {
  return new Promise((res, rej) => {
    const rl = createInterface({ input: stream });
    rl.once("line", (l) => res(l.trim()));
    rl.once("close", () => rej(new Error("no output")));
  });
}

export class Hyped {
  constructor({ apiKey, networked = false, subnet = "10.94.0.0/24", extra = [] } = {}) {
    this.extra = extra;
    this.data = mkdtempSync(join(tmpdir(), "hype-sdk-ts-"));
    this.apiKey = apiKey;
    this.networked = networked;
    this.subnet = subnet;
    this.listen = "127.0.0.1:0";
  }

  async start() {
    const bin = hypedBin();
    if (!existsSync(bin)) throw new Error(`no hyped at ${bin}: run cargo build -p hyped (CARGO_TARGET_DIR)`);
    if (!existsSync(join(IMAGES, "base", "manifest.json"))) throw new Error(`no base image in ${IMAGES}`);
    const args = ["--listen", this.listen, "--data-dir", this.data, "--images-dir", IMAGES, "--stop-timeout", "20",
      ...(this.networked ? ["--network", "on", "--subnet", this.subnet, "--boot-timeout", "400"] : ["--network", "off"]),
      "--import-allow-host", "127.0.0.1", ...this.extra];
    // hyped sends its own password only over https to hosts it was given.
    const env = { ...process.env, RUST_LOG: "info", HYPE_XCPNG_PASSWORD: XAPI_PASSWORD, SSL_CERT_FILE: xapiCert()[2] };
    delete env.HYPE_API_KEY;
    if (this.apiKey) env.HYPE_API_KEY = this.apiKey; // not a flag: it would show in ps
    const log = openSync(join(this.data, "hyped.log"), "a");
    this.proc = spawn(bin, args, { env, stdio: ["ignore", "pipe", log] });
    const line = await firstLine(this.proc.stdout);
    if (!line.startsWith("hyped listening on ")) throw new Error(`hyped did not start: ${line}; see ${this.data}/hyped.log`);
    this.base = line.slice("hyped listening on ".length);
    this.listen = this.base.slice("http://".length);
    // The listener is bound before start-up ends; the first answer means it is up.
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${this.base}/healthz`)).ok) return this;
      } catch (e) {
        if (i > 600) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** SIGTERM and wait; VMMs keep running (hyped adopts them again). */
  async stop() {
    if (!this.proc) return;
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill("SIGTERM");
    await exited;
    this.proc = undefined;
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  async close() {
    await this.stop();
    for (const pid of qemuPidsUnder(this.data)) {
      try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
    }
    rmSync(this.data, { recursive: true, force: true });
  }

  env() {
    return { HYPE_API_BASE: this.base, ...(this.apiKey ? { HYPE_API_KEY: this.apiKey } : {}) };
  }
}

function qemuPidsUnder(dir) {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (cmd.startsWith("qemu-system") && cmd.includes(dir)) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/** The suite's hyped, once per test file: keyed, networked inside our namespace; HYPE_API_* point at it. */
export async function suiteServer() {
  const s = new Hyped({ apiKey: `sk-${randomBytes(16).toString("hex")}`, networked: inPrivateNetns() });
  await s.start();
  Object.assign(process.env, s.env());
  return s;
}

/** A raw disk with data every third MiB; returns [path, sha256]. */
export function makeDisk(dir, mib) {
  const path = join(dir, "web01.raw");
  const buf = Buffer.alloc(mib << 20);
  for (let i = 0; i < mib; i += 3) {
    for (let j = 0; j < 200_000; j++) buf[(i << 20) + 512 + j] = (j ^ i) & 0xff;
  }
  writeFileSync(path, buf);
  return [path, createHash("sha256").update(buf).digest("hex")];
}

let cert;
/**
 * A certificate for 127.0.0.1 and its key, made once: the test XAPI server
 * serves https, and hyped, which trusts it through SSL_CERT_FILE, sends its
 * own password only over https to a host given with --import-allow-host.
 */
export function xapiCert() {
  if (!cert) {
    const d = mkdtempSync(join(tmpdir(), "hype-sdk-tls-"));
    // A CA and a certificate for 127.0.0.1 it signed (a self-signed CA
    // certificate cannot serve as the server's own: rustls refuses it).
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    const ssl = (...args) => execFileSync("openssl", args, { cwd: d, stdio: "ignore" });
    ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=hype-test-ca");
    ssl("req", ...ec, "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1");
    writeFileSync(join(d, "leaf.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
    ssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "cert.pem",
      "-days", "2", "-extfile", "leaf.ext");
    cert = [join(d, "cert.pem"), join(d, "key.pem"), join(d, "ca.pem")];
  }
  return cert;
}

/** tests/xcpng/xapi_server.py serving `disk` as VM "Web 01", over https. */
export async function xapi(disk, ...extra) {
  const proc = spawn("python3", [join(ROOT, "tests/xcpng/xapi_server.py"), "--user", "root", "--password", XAPI_PASSWORD,
    "--vm", `Web 01=${disk}`, "--tls", ...xapiCert().slice(0, 2), ...extra], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await firstLine(proc.stdout);
  if (!line.startsWith("listening on ")) throw new Error(`XAPI server: ${line}`);
  return { url: `https://127.0.0.1:${line.slice("listening on ".length)}`, close: () => proc.kill("SIGKILL") };
}

const made = [];
process.on("exit", () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A temporary directory, removed when the test file's process exits. */
export function tmp() {
  const d = mkdtempSync(join(tmpdir(), "hype-sdk-ts-t-"));
  made.push(d);
  return d;
}
