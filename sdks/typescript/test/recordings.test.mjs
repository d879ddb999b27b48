// Recordings and live links, on one recorded browser sandbox (boots are the
// expensive part): a live link's URL, expiry and refusals; the sandbox's
// page, driven with Playwright over CDP through hyped, recorded; the
// recording listed, read through both routes, its rrweb events holding the
// page's URL, its text and what was typed, and deleted.
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { after, before, test } from "node:test";

import { Hype, HypeError } from "../dist/index.js";
import { suiteServer, vmName } from "./helpers.mjs";

const PAGE = "data:text/html,<title>recorded</title><h1>recorded by the sdk</h1><input id=q>";
const TYPED = "typed into the recorded page";
let server;
let hype;

before(async () => {
  server = await suiteServer();
  hype = new Hype(); // HYPE_API_BASE, HYPE_API_KEY
});
after(async () => server?.close());

/** Whether an rrweb input event (incremental, source 5) holds the typed text. */
const typed = (events) => events.some((e) => e.type === 3 && e.data.source === 5 && e.data.text === TYPED);
const refused = (status, code) => (e) => e instanceof HypeError && e.status === status && e.code === code;

async function checkLiveLinks(name) {
  const before = Date.now() - 1000;
  const link = await hype.vms.liveLink(name, { expiresIn: 120 });
  assert.equal(link.url, `${server.base}/vms/${name}/live?token=${link.token}`);
  assert.match(link.token, /^hlv_[0-9a-f]{64}$/);
  assert.equal(link.interactive, false);
  const expires = Date.parse(link.expiresAt);
  assert.ok(expires >= before + 119_000 && expires <= Date.now() + 121_000, link.expiresAt);
  assert.ok(!inspect(link).includes(link.token), inspect(link)); // a secret: console.log leaves it out
  // The link opens the live page for a browser with neither key nor session.
  const page = await fetch(link.url);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /text\/html/);
  await page.body?.cancel();
  assert.equal((await fetch(`${server.base}/vms/${name}/live?token=hlv_${"0".repeat(64)}`)).status, 401);
  const byDefault = await hype.vms.liveLink(name);
  assert.equal(byDefault.interactive, false);
  assert.ok(Date.parse(byDefault.expiresAt) >= before + 3_599_000, byDefault.expiresAt);
  assert.notEqual(byDefault.token, link.token);
  assert.equal((await hype.vms.liveLink(name, { expiresIn: 1, interactive: true })).interactive, true);
  for (const expiresIn of [0, 86401]) {
    await assert.rejects(hype.vms.liveLink(name, { expiresIn }),
      (e) => refused(422, "invalid_request")(e) && e.message.includes("expires_in"));
  }
  await assert.rejects(hype.vms.liveLink(vmName("ghost")), refused(404, "vm_not_found"));
}

test("a recorded sandbox: live links, then its recording listed, read and deleted", { timeout: 900_000 }, async () => {
  assert.ok(server.networked, "browser sandboxes need networking: run `sdks/run-tests.sh typescript`");
  const name = vmName("rec");
  let rec;
  const sb = await hype.sandbox({ name, ttl: 900, record: true, timeoutMs: 400_000 });
  try {
    assert.equal(sb.vm.record, true);
    await checkLiveLinks(name);

    const browser = await sb.playwright();
    const page = await browser.contexts()[0].newPage();
    await page.goto(PAGE);
    await page.fill("#q", TYPED);
    await page.press("#q", "Tab"); // the recorder keeps an input's last value, at its change event
    const open = await hype.recordings.list(name);
    assert.equal(open.length, 1);
    rec = open[0];
    assert.deepEqual([rec.vm, rec.vmId, rec.endedAt], [name, sb.vm.id, null]); // open while the VM runs
    // The page sends its events in batches, every 500 ms: wait for the typing's.
    for (const end = Date.now() + 60_000; !typed(await hype.recordings.events(rec.id)) && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await sb.delete();
  }
  // Deleting the VM ended its run, and with it the recording, which outlives it.
  rec = await hype.recordings.get(rec.id);
  assert.ok(rec.endedAt && rec.events >= 3 && rec.pages >= 1 && rec.sizeBytes > 0, inspect(rec));
  assert.equal(rec.replayUrl, `${server.base}/recordings/${rec.id}`);
  assert.equal(rec.raw.vm_id, rec.vmId);
  assert.deepEqual(await hype.recordings.get(rec.id, { vm: name }), rec);
  await assert.rejects(hype.recordings.get(rec.id, { vm: vmName("other") }), refused(404, "recording_not_found"));
  assert.deepEqual(await hype.recordings.list(name), [rec]);

  const events = await hype.recordings.events(rec.id);
  assert.equal(events.length, rec.events);
  // rrweb: a meta event (type 4) per document with its URL, a full DOM
  // snapshot (type 2) with the page's text, input events with what was typed.
  assert.ok(events.some((e) => e.type === 4 && e.data.href === PAGE), JSON.stringify(events.slice(0, 3)));
  assert.ok(events.some((e) => e.type === 2 && JSON.stringify(e.data).includes("recorded by the sdk")));
  assert.ok(typed(events), JSON.stringify(events.filter((e) => e.type === 3).slice(0, 5)));

  await hype.recordings.delete(rec.id);
  await assert.rejects(hype.recordings.get(rec.id), refused(404, "recording_not_found"));
  await assert.rejects(hype.recordings.events(rec.id), refused(404, "recording_not_found"));
  await assert.rejects(hype.recordings.delete(rec.id), refused(404, "recording_not_found"));
  // Neither a VM nor a recording of that name is left.
  await assert.rejects(hype.recordings.list(name), refused(404, "vm_not_found"));
});
