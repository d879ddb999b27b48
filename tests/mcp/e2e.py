"""hype's MCP server driven by the official Python SDK (`mcp` from PyPI).

    e2e.py http URL KEY        streamable HTTP, both protocol versions
    e2e.py stdio HYPE_BINARY   `hype mcp` (HYPE_API_BASE / HYPE_API_KEY from
                               the environment)

Each run creates a browser sandbox, navigates to a data: URL, takes a
snapshot, clicks a button by its ref, checks the title it sets, takes a
screenshot and deletes the sandbox. It prints one JSON line of what it saw
and exits non-zero at the first check that fails.
"""

import asyncio
import base64
import json
import os
import re
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

TOOLS = {
    "sandbox_create", "sandbox_list", "sandbox_get", "sandbox_delete", "sandbox_logs",
    "browser_navigate", "browser_snapshot", "browser_click", "browser_type",
    "browser_press_key", "browser_take_screenshot", "browser_screenshot",
    "browser_evaluate", "browser_tabs", "browser_wait_for",
}
PAGE = ("data:text/html,<title>before</title><h1>MCP test</h1>"
        "<button onclick=\"document.title='clicked'\">Press me</button>"
        "<input aria-label=Who id=who onkeydown=\"if(event.key=='Enter')document.title='hi '+who.value\">")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def text(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def call(client, tool, args, ok=True):
    r = await client.call_tool(tool, args)
    check(bool(r.is_error) != ok, f"{tool} {args}: is_error={r.is_error}: {text(r)}")
    return r


async def list_tools(client):
    tools = (await client.list_tools()).tools
    names = {t.name for t in tools}
    check(TOOLS <= names, f"missing tools: {TOOLS - names}")
    for t in tools:
        check(t.description, f"{t.name} has no description")
        check(t.input_schema.get("type") == "object", f"{t.name} schema: {t.input_schema}")
        for p, s in t.input_schema.get("properties", {}).items():
            check(s.get("description"), f"{t.name}.{p} has no description")
    return sorted(names)


async def browse(client, sandbox=None):
    """Navigate, snapshot, click by ref, check the title, screenshot."""
    extra = {"sandbox": sandbox} if sandbox else {}
    r = await call(client, "browser_navigate", {"url": PAGE, **extra})
    check("Page Title: before" in text(r), text(r))
    snap = text(await call(client, "browser_snapshot", extra))
    m = re.search(r'- button "Press me" \[ref=(e\d+)\]', snap)
    check(m, f"no button ref in the snapshot:\n{snap}")
    ref = m.group(1)
    await call(client, "browser_click", {"element": "Press me button", "ref": ref, **extra})
    title = text(await call(client, "browser_evaluate", {"function": "() => document.title", **extra}))
    check(json.loads(title) == "clicked", f"title after the click: {title}")
    shot = await call(client, "browser_take_screenshot", extra)
    images = [c for c in shot.content if getattr(c, "type", "") == "image"]
    check(len(images) == 1 and images[0].mime_type == "image/png", f"screenshot content: {shot.content}")
    check(base64.b64decode(images[0].data).startswith(b"\x89PNG"), "the screenshot is not a PNG")
    m = re.search(r'- textbox "Who" \[ref=(e\d+)\]', snap)
    check(m, f"no textbox ref in the snapshot:\n{snap}")
    typed = text(await call(client, "browser_type",
                            {"element": "Who", "ref": m.group(1), "text": "ann", "submit": True, **extra}))
    check('textbox "Who"' in typed and '"ann"' in typed and "Page Title: hi ann" in typed, typed)
    await call(client, "browser_press_key", {"key": "Backspace", **extra})
    value = text(await call(client, "browser_evaluate",
                            {"function": "(el) => el.value", "ref": m.group(1), **extra}))
    check(json.loads(value) == "an", f"value after Backspace: {value}")
    await call(client, "browser_wait_for", {"text": "MCP test", **extra})
    empty = await call(client, "browser_wait_for", extra, ok=False)
    check("textGone" in text(empty), text(empty))
    jpeg = await call(client, "browser_screenshot", {"type": "jpeg", **extra})
    check(any(getattr(c, "mime_type", "") == "image/jpeg" for c in jpeg.content), "no JPEG")
    # Mistakes are tool errors a model can act on, not protocol failures.
    stale = await call(client, "browser_click", {"element": "gone", "ref": "e999999", **extra}, ok=False)
    check("browser_snapshot" in text(stale), text(stale))
    bad = await call(client, "browser_click", {"reff": ref, **extra}, ok=False)
    check("unknown field `reff`" in text(bad), text(bad))
    return ref


async def http(url, key):
    headers = {"Authorization": f"Bearer {key}"}
    seen = {}
    updates = []

    async def on_message(msg):
        if getattr(msg, "method", "") == "notifications/resources/updated":
            updates.append(msg.params.uri)

    def connect(mode, **kw):
        hc = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=600))
        return Client(streamable_http_client(url, http_client=hc), mode=mode, **kw)

    # The handshake-era protocol (2025-11-25): a session with a current sandbox.
    async with connect("legacy", message_handler=on_message) as c:
        seen["legacy_version"] = c.protocol_version
        check(c.protocol_version == "2025-11-25", c.protocol_version)
        seen["tools"] = await list_tools(c)
        r = await call(c, "browser_snapshot", {}, ok=False)
        check("sandbox_create" in text(r), text(r))
        await c.session.subscribe_resource("hype://events")
        await call(c, "sandbox_create", {"name": "mcp-http", "ttl": 1800})
        seen["ref"] = await browse(c)
        events = json.loads((await c.read_resource("hype://events")).contents[0].text)
        kinds = [e["type"] for e in events if e["vm"] == "mcp-http"]
        check("VM_CREATED" in kinds and "VM_RUNNING" in kinds, f"events: {kinds}")
        check("hype://events" in updates, f"no resources/updated notification: {updates}")
        logs = text(await call(c, "sandbox_logs", {"name": "mcp-http", "lines": 5}))
        check(len(logs.splitlines()) <= 5 and logs, logs)
        gone = await call(c, "sandbox_get", {"name": "nope"}, ok=False)
        check("sandbox_list" in text(gone), text(gone))

    # The current protocol (2026-07-28) is stateless: name the sandbox.
    async with connect("auto") as c:
        seen["current_version"] = c.protocol_version
        check(c.protocol_version == "2026-07-28", c.protocol_version)
        await list_tools(c)
        listed = json.loads(text(await call(c, "sandbox_list", {})).split("\nCurrent")[0])
        check(any(v["name"] == "mcp-http" and v["state"] == "running" for v in listed), listed)
        await browse(c, sandbox="mcp-http")
        tabs = text(await call(c, "browser_tabs", {"action": "new", "sandbox": "mcp-http"}))
        check(tabs.count("\n- ") == 2 and any("(current)" in l and "about:blank" in l for l in tabs.splitlines()), tabs)
        tabs = text(await call(c, "browser_tabs", {"action": "select", "index": 1, "sandbox": "mcp-http"}))
        check("1: (current)" in tabs, tabs)
        tabs = text(await call(c, "browser_tabs", {"action": "close", "sandbox": "mcp-http"}))
        check(tabs.count("\n- ") == 1, tabs)
        bad = await call(c, "browser_tabs", {"action": "select", "index": 5, "sandbox": "mcp-http"}, ok=False)
        check("no tab 5" in text(bad), text(bad))
        await call(c, "sandbox_delete", {"name": "mcp-http"})
        listed = text(await call(c, "sandbox_list", {}))
        check("mcp-http" not in listed, listed)
    return seen


async def stdio(hype):
    params = StdioServerParameters(command=hype, args=["mcp"], env=dict(os.environ))
    async with Client(params) as c:
        seen = {"version": c.protocol_version, "tools": await list_tools(c)}
        r = await call(c, "sandbox_create", {"name": "mcp-stdio", "cpu": 2, "memory": 1536})
        check("is running" in text(r), text(r))
        seen["ref"] = await browse(c)
        await call(c, "sandbox_delete", {"name": "mcp-stdio"})
        r = await call(c, "browser_snapshot", {}, ok=False)
        check("sandbox_create" in text(r), text(r))
    return seen


def main():
    mode = sys.argv[1]
    seen = asyncio.run(http(sys.argv[2], sys.argv[3]) if mode == "http" else stdio(sys.argv[2]))
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
