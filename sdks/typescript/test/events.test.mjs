// Event streams across a restart of hyped: every event once, none missed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Hype, HypeTimeoutError } from "../dist/index.js";
import { Hyped, vmName } from "./helpers.mjs";

const BASE = { image: "base", cpuCores: 1, memoryMb: 256 };
let s;

before(async () => {
  s = await new Hyped({ apiKey: "sk-restart-key-0123456789" }).start();
});
after(async () => s?.close());

test("streams survive a restart of hyped without gaps or repeats", async () => {
  const hype = new Hype({ baseUrl: s.base, apiKey: s.apiKey });
  const [a, b] = [vmName("a"), vmName("b")];
  const fromNow = await hype.events.watchVms().connect();
  const fromFirst = hype.events.watchVms({ lastEventId: 0 });
  const onlyA = await hype.events.watchVms({ vm: a }).connect();

  await hype.vms.create({ name: a, ...BASE });
  await hype.vms.wait(a, { timeoutMs: 180_000 });
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await fromNow.next()).value);
  assert.deepEqual(got.map((e) => [e.type, e.vm]), [["VM_CREATED", a], ["VM_STARTING", a], ["VM_RUNNING", a]]);

  // hyped goes away while nobody reads; what happens after the restart
  // reaches the streams from hyped's store when they reconnect.
  await s.restart();
  assert.equal((await hype.vms.get(a)).state, "running");
  await hype.vms.create({ name: b, ...BASE });
  await hype.vms.wait(b, { timeoutMs: 180_000 });
  await hype.vms.delete(a);
  await hype.vms.delete(b);
  const stored = await hype.events.list();
  const last = stored.at(-1).id;

  const drain = async (stream, n) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push((await stream.next()).value);
    return out;
  };
  const seen = [...got, ...(await drain(fromNow, stored.filter((e) => e.id > got.at(-1).id).length))];
  assert.deepEqual(seen.map((e) => e.id), stored.filter((e) => e.id >= got[0].id).map((e) => e.id));
  assert.equal(fromNow.lastEventId, last);
  assert.ok(fromNow.reconnects >= 1);
  assert.deepEqual(seen.map((e) => e.raw), stored.filter((e) => e.id >= got[0].id).map((e) => e.raw));

  const every = await drain(fromFirst, stored.length);
  assert.deepEqual(every.map((e) => e.id), stored.map((e) => e.id));
  const mine = await drain(onlyA, stored.filter((e) => e.vm === a).length);
  assert.deepEqual(mine.map((e) => e.id), stored.filter((e) => e.vm === a).map((e) => e.id));
  assert.equal(mine.at(-1).type, "VM_DELETED");

  // Nothing more: a further step waits, here until its timeout.
  await assert.rejects(hype.events.watchVms({ lastEventId: last, timeoutMs: 1500 }).next(), HypeTimeoutError);
  for (const st of [fromNow, fromFirst, onlyA]) await st.close();
});
