// The official AG-UI client (@ag-ui/client, as locked) reading hyped's
// GET /api/v1/agui, driven by crates/hyped/tests/agui.rs:
//
//   HYPE_BASE=http://127.0.0.1:PORT HYPE_VM=NAME node agui-check.mjs
//
// Its HttpAgent parses the SSE stream, checks the event sequence
// (verifyEvents) and applies STATE_SNAPSHOT and STATE_DELTA to agent.state.
// The script creates VM NAME (the `base` image) and deletes it, and after
// each change checks that agent.state equals GET /api/v1/vms (as
// {"vms": {NAME: Vm}}); it calls two MCP tools over /mcp and checks their
// TOOL_CALL_START/ARGS/END/RESULT. It prints one JSON line of what it saw,
// then waits for the run to finish (hyped shutting down) and prints a
// second line. It exits non-zero at the first check that fails.

import { HttpAgent, EventType } from "@ag-ui/client";
import { isDeepStrictEqual } from "node:util";

const base = process.env.HYPE_BASE;
const vm = process.env.HYPE_VM;
if (!base || !vm) throw new Error("HYPE_BASE and HYPE_VM must be set");

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

// AG-UI's HttpAgent POSTs a RunAgentInput; hyped's stream is a GET that
// takes the run's ids in the query. requestInit is the documented hook.
class HypeAgent extends HttpAgent {
  run(input) {
    const q = new URLSearchParams({ threadId: input.threadId, runId: input.runId });
    this.url = `${base}/api/v1/agui?${q}`;
    return super.run(input);
  }
  requestInit() {
    return {
      method: "GET",
      headers: { ...this.headers, Accept: "text/event-stream" },
      signal: this.abortController.signal,
    };
  }
}

const events = [];
let waiters = [];
function changed() {
  const w = waiters;
  waiters = [];
  w.forEach((f) => f());
}
function nextChange(ms) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    waiters.push(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function api(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function listed() {
  const { status, body } = await api("GET", "/api/v1/vms?limit=1000");
  check(status === 200, `GET /api/v1/vms: ${status}`);
  check(body.next == null, "one page holds every VM");
  return { vms: Object.fromEntries(body.vms.map((v) => [v.name, v])) };
}

// Waits until agent.state equals GET /api/v1/vms and `until` holds for
// it; fails after `ms` with both states.
async function converge(agent, what, until, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const want = await listed();
    if (until(want) && isDeepStrictEqual(agent.state, want)) return want;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: the AG-UI state ${JSON.stringify(agent.state)} never matched GET /api/v1/vms ${JSON.stringify(want)}`,
      );
    }
    await nextChange(200);
  }
}

// MCP over streamable HTTP as JSON-RPC POSTs: initialize, initialized,
// then tools/call. The answer may be JSON or an SSE stream.
async function mcp(session, id, method, params) {
  const r = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      ...(session.id ? { "Mcp-Session-Id": session.id } : {}),
      ...(session.version ? { "Mcp-Protocol-Version": session.version } : {}),
    },
    body: JSON.stringify({ jsonrpc: "2.0", ...(id == null ? {} : { id }), method, params }),
  });
  check(r.ok, `MCP ${method}: HTTP ${r.status} ${await r.clone().text()}`);
  session.id ??= r.headers.get("mcp-session-id");
  if (id == null) return null;
  const text = await r.text();
  const msgs = (r.headers.get("content-type") ?? "").includes("text/event-stream")
    ? text
        .split(/\r?\n/)
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trim())
        .filter(Boolean)
        .map((d) => JSON.parse(d))
    : [JSON.parse(text)];
  const answer = msgs.find((m) => m.id === id);
  check(answer && !answer.error, `MCP ${method}: ${text}`);
  return answer.result;
}

const agent = new HypeAgent({ url: `${base}/api/v1/agui`, threadId: "agui-check" });
const runId = `run-${process.pid}`;
let finished = false;
const run = agent
  .runAgent(
    { runId },
    {
      onEvent: ({ event }) => {
        events.push(event);
        changed();
      },
      onStateChanged: () => changed(),
    },
  )
  .then(
    () => {
      finished = true;
      changed();
    },
    (e) => {
      finished = true;
      changed();
      throw e;
    },
  );

const report = {};
try {
  // The run and the snapshot come first.
  while (events.length < 2) await nextChange(10000);
  check(events[0].type === EventType.RUN_STARTED, `first ${JSON.stringify(events[0])}`);
  check(
    events[0].threadId === "agui-check" && events[0].runId === runId,
    `RUN_STARTED names the run: ${JSON.stringify(events[0])}`,
  );
  check(events[1].type === EventType.STATE_SNAPSHOT, `second ${JSON.stringify(events[1])}`);
  report.snapshot = events[1].snapshot;
  await converge(agent, "at start", () => true);

  // Create: booting, then running; the state follows each change.
  const made = await api("POST", "/api/v1/vms", {
    name: vm,
    image: "base",
    cpu_cores: 1,
    memory_mb: 256,
  });
  check(made.status === 201, `create: ${made.status} ${JSON.stringify(made.body)}`);
  await converge(agent, "after create", (s) => s.vms[vm] != null);
  const running = await converge(agent, "once running", (s) => s.vms[vm]?.state === "running", 180000);
  report.running = running.vms[vm];

  // MCP tool calls show as AG-UI tool calls, their arguments redacted
  // where they may hold secrets.
  const session = {};
  const init = await mcp(session, 1, "initialize", {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "agui-check", version: "1" },
  });
  session.version = init.protocolVersion;
  await mcp(session, null, "notifications/initialized", {});
  const got = await mcp(session, 2, "tools/call", { name: "sandbox_get", arguments: { name: vm } });
  check(!got.isError, `sandbox_get: ${JSON.stringify(got)}`);
  const secret = "hunter2-not-for-observers";
  const failed = await mcp(session, 3, "tools/call", {
    name: "sandbox_exec",
    arguments: { sandbox: "no-such-vm", cmd: "cat", stdin: secret },
  });
  check(failed.isError, `sandbox_exec on a missing sandbox fails: ${JSON.stringify(failed)}`);
  const calls = {};
  const deadline = Date.now() + 10000;
  const done = () => Object.values(calls).filter((c) => c.result != null).length >= 2;
  while (!done() && Date.now() < deadline) {
    for (const e of events) {
      if (e.type === EventType.TOOL_CALL_START) calls[e.toolCallId] = { name: e.toolCallName, args: "", seq: [e.type] };
      else if (e.type === EventType.TOOL_CALL_ARGS) (calls[e.toolCallId].args += e.delta), calls[e.toolCallId].seq.push(e.type);
      else if (e.type === EventType.TOOL_CALL_END) calls[e.toolCallId].seq.push(e.type);
      else if (e.type === EventType.TOOL_CALL_RESULT) (calls[e.toolCallId].result = e.content), calls[e.toolCallId].seq.push(e.type);
    }
    if (!done()) await nextChange(500);
  }
  report.tool_calls = Object.values(calls);
  check(!JSON.stringify(events).includes(secret), "the stdin given to sandbox_exec is in no event");
  report.messages = agent.messages.length;

  // Delete: the VM leaves the state as it leaves the list.
  const del = await api("DELETE", `/api/v1/vms/${vm}`);
  check(del.status === 204, `delete: ${del.status}`);
  await converge(agent, "after delete", (s) => s.vms[vm] == null);

  report.types = events.map((e) => e.type);
  report.deltas = events.filter((e) => e.type === EventType.STATE_DELTA).map((e) => e.delta);
  report.state = agent.state;
  console.log(JSON.stringify(report));
} catch (e) {
  agent.abortRun();
  console.log(JSON.stringify({ error: String(e?.stack ?? e), types: events.map((e) => e.type) }));
  process.exit(1);
}

// hyped shuts down now (the test stops it): the run ends with RUN_FINISHED.
const until = Date.now() + 60000;
while (!finished && Date.now() < until) await nextChange(1000);
let error = null;
await run.catch((e) => (error = String(e)));
console.log(JSON.stringify({ finished, error, last: events.at(-1)?.type }));
