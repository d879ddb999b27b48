import type { Browser, BrowserType } from "playwright-core";

import type { Hype } from "./client.js";
import type { ExecStream, GuestFile, UploadData } from "./guest.js";
import type { ConsoleMessage, Download, ExecResult, FileInfo, FileList, NetworkRequest, Uploaded, Vm } from "./models.js";
import type { Operations } from "./operations.js";
import type { Command, ExecOptions, ExecStreamOptions, UploadOptions } from "./resources/guest.js";

/**
 * A running VM that is deleted on `delete()`, or at the end of its scope
 * with `await using`. Made by `hype.sandbox()`.
 */
export class Sandbox implements AsyncDisposable {
  static readonly operations: Operations = {
    playwright: ["GET /api/v1/vms/{name}/cdp/devtools/{kind}/{id}"],
  };

  /** The VM as last seen (`refresh()` reloads it). */
  vm: Vm;
  deleted = false;
  readonly #client: Hype;
  readonly #browsers: Browser[] = [];

  constructor(client: Hype, vm: Vm) {
    this.#client = client;
    this.vm = vm;
  }

  /** The VM's name. */
  get name(): string {
    return this.vm.name;
  }

  /** Where CDP clients connect (browser images); send `hype.cdpHeaders()` with it. */
  get cdpUrl(): string | undefined {
    return this.vm.cdpUrl ?? undefined;
  }

  /** Reloads the VM. */
  async refresh(): Promise<Vm> {
    this.vm = await this.#client.vms.get(this.name);
    return this.vm;
  }

  /**
   * A Playwright `Browser` connected over CDP to the sandbox's Chromium,
   * through hyped with your key. Needs `playwright-core` (or `playwright`)
   * installed; never downloads a browser. Closed when the sandbox is deleted.
   */
  async playwright(opts: { chromium?: BrowserType; timeout?: number; slowMo?: number } = {}): Promise<Browser> {
    if (!this.cdpUrl) throw new TypeError(`sandbox ${this.name} has no browser (image '${this.vm.image}')`);
    let chromium = opts.chromium;
    if (!chromium) {
      try {
        ({ chromium } = await import("playwright-core"));
      } catch (e) {
        throw new Error("sandbox.playwright() needs playwright-core: npm install playwright-core", { cause: e });
      }
    }
    const browser = await chromium.connectOverCDP(this.cdpUrl, {
      headers: this.#client.cdpHeaders(),
      timeout: opts.timeout,
      slowMo: opts.slowMo,
    });
    this.#browsers.push(browser);
    return browser;
  }

  /** A PNG of the browser's active page. */
  screenshot(): Promise<Uint8Array> {
    return this.#client.vms.screenshot(this.name);
  }

  /** The serial console's newest output. */
  logs(opts: { tail?: number } = {}): Promise<string> {
    return this.#client.vms.logs(this.name, opts);
  }

  /** What the browser's pages logged (`console.log`, exceptions) since the sandbox started. */
  console(opts: { after?: number } = {}): Promise<ConsoleMessage[]> {
    return this.#client.vms.browserConsole(this.name, opts);
  }

  /** The browser's pages' network requests since the sandbox started. */
  network(opts: { after?: number } = {}): Promise<NetworkRequest[]> {
    return this.#client.vms.browserNetwork(this.name, opts);
  }

  /** Runs `cmd` in the sandbox to its end (see `vms.exec()`): `(await sb.exec("echo hi; exit 3")).exitCode` is 3. */
  exec(cmd: Command, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.#client.vms.exec(this.name, cmd, opts);
  }

  /** Starts `cmd` in the sandbox, streamed over a WebSocket (see `vms.execStream()`). */
  execStream(cmd: Command, opts: ExecStreamOptions = {}): Promise<ExecStream> {
    return this.#client.vms.execStream(this.name, cmd, opts);
  }

  /** Writes `data` (bytes, text, a stream) to `path` in the sandbox, streamed. */
  upload(path: string, data: UploadData, opts: UploadOptions = {}): Promise<Uploaded> {
    return this.#client.vms.upload(this.name, path, data, opts);
  }

  /** File `path` of the sandbox, streamed (a directory as a tar archive). */
  download(path: string): Promise<GuestFile> {
    return this.#client.vms.download(this.name, path);
  }

  /** What `lstat` says of `path` in the sandbox. */
  stat(path: string): Promise<FileInfo> {
    return this.#client.vms.stat(this.name, path);
  }

  /** The entries of directory `path` in the sandbox. */
  listFiles(path: string): Promise<FileList> {
    return this.#client.vms.listFiles(this.name, path);
  }

  /** Removes `path` in the sandbox. */
  removeFile(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    return this.#client.vms.removeFile(this.name, path, opts);
  }

  /** What the sandbox's browser downloaded. */
  downloads(): Promise<Download[]> {
    return this.#client.vms.downloads(this.name);
  }

  /** One file the sandbox's browser downloaded, by its name. */
  downloadFile(file: string): Promise<GuestFile> {
    return this.#client.vms.downloadFile(this.name, file);
  }

  /** Closes the browsers `playwright()` opened and deletes the VM (once). */
  async delete(): Promise<void> {
    if (this.deleted) return;
    for (const b of this.#browsers.splice(0)) await b.close().catch(() => {});
    await this.#client.vms.delete(this.name);
    this.deleted = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.delete();
  }
}
