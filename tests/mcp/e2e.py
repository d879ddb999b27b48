"""hype's MCP server driven by the official Python SDK (`mcp` from PyPI).

    e2e.py http URL KEY        streamable HTTP, both protocol versions
    e2e.py stdio HYPE_BINARY   `hype mcp` (HYPE_API_BASE / HYPE_API_KEY from
                               the environment)
    e2e.py flow URL KEY SITE   the multi-page flow on site.py at SITE
                               (http://ADDR:PORT), over both protocol
                               versions; hyped has --mcp-caps network,storage
                               and the flow's sessions add pdf, testing and
                               devtools with /mcp?caps=

Each run creates a browser sandbox, navigates to a data: URL, takes a
snapshot, clicks a button by its ref, checks the title it sets, takes a
screenshot, runs commands and moves files in the guest (sandbox_exec,
sandbox_read_file, sandbox_write_file), fetches a file the page downloaded
and uploads one given inline, forks the sandbox (sandbox_create from a
named snapshot made over REST, and sandbox_fork) and deletes them all. It prints one JSON line
of what it saw and exits non-zero at the first check that fails.
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
    "sandbox_use", "sandbox_fork",
    "browser_navigate", "browser_snapshot", "browser_click", "browser_type",
    "browser_press_key", "browser_take_screenshot", "browser_screenshot",
    "browser_evaluate", "browser_tabs", "browser_wait_for",
    "sandbox_exec", "sandbox_read_file", "sandbox_write_file", "sandbox_list_downloads",
    "sandbox_get_download",
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


GUEST_PAGE = ("data:text/html,<title>guest</title>"
              "<a id=dl download=mcp-report.txt href='data:text/plain;base64,aGVsbG8gZnJvbSB0aGUgcGFnZQ=='>Get report</a>"
              "<input id=f type=file onchange=\"o.textContent='chosen '+this.files[0].name+' '+this.files[0].size\"><p id=o>none</p>")


async def guest(c, extra):
    """The guest tools: exec, files both ways, a download, inline upload."""
    seen = {}
    r = text(await call(c, "sandbox_exec", {"cmd": "echo out; echo err >&2; exit 3", **extra}))
    check(r.startswith("Exit code: 3") and "### stdout\nout\n" in r and "### stderr\nerr\n" in r, r)
    r = text(await call(c, "sandbox_exec", {"cmd": ["cat"], "stdin": "piped in", **extra}))
    check(r.startswith("Exit code: 0") and "### stdout\npiped in" in r, r)
    r = text(await call(c, "sandbox_exec", {"cmd": "id -un", **extra}))
    check("browser" in r, r)
    await call(c, "sandbox_write_file", {"path": "/tmp/mcp.txt", "content": "hello from mcp", **extra})
    r = text(await call(c, "sandbox_read_file", {"path": "/tmp/mcp.txt", **extra}))
    check(r == "hello from mcp", r)
    raw = bytes(range(256)) * 64
    await call(c, "sandbox_write_file", {"path": "/tmp/mcp.bin", "content_base64": base64.b64encode(raw).decode(), **extra})
    r = await call(c, "sandbox_read_file", {"path": "/tmp/mcp.bin", **extra})
    blobs = [b for b in r.content if getattr(b, "type", "") == "resource"]
    check(len(blobs) == 1 and base64.b64decode(blobs[0].resource.blob) == raw, text(r))
    bad = await call(c, "sandbox_read_file", {"path": "/no/such/file", **extra}, ok=False)
    check("/no/such/file" in text(bad), text(bad))
    bad = await call(c, "sandbox_read_file", {"path": "/tmp", **extra}, ok=False)
    check("is a directory" in text(bad), text(bad))
    bad = await call(c, "sandbox_write_file", {"path": "tmp/x", "content": "x", **extra}, ok=False)
    check("absolute" in text(bad), text(bad))

    # A download the page starts, listed and fetched.
    await call(c, "browser_navigate", {"url": GUEST_PAGE, **extra})
    await call(c, "browser_click", {"element": "Get report", "target": "#dl", **extra})
    listed = []
    for _ in range(60):
        r = text(await call(c, "sandbox_list_downloads", extra))
        if "mcp-report" in r:
            listed = json.loads(r[r.index("\n") + 1:])
            break
        await asyncio.sleep(1)
    check(listed, f"no download listed: {r}")
    name = next(d["name"] for d in listed if "mcp-report" in d["name"])
    r = await call(c, "sandbox_get_download", {"file": name, **extra})
    blobs = [b for b in r.content if getattr(b, "type", "") == "resource"]
    check(len(blobs) == 1 and base64.b64decode(blobs[0].resource.blob) == b"hello from the page", text(r))
    check(blobs[0].resource.mime_type == "text/plain", blobs[0].resource)
    bad = await call(c, "sandbox_get_download", {"file": "../etc/passwd", **extra}, ok=False)
    check("download" in text(bad), text(bad))
    seen["download"] = name

    # playwright-mcp's file upload, with a file given inline.
    r = text(await call(c, "browser_click", {"element": "File", "target": "#f", **extra}))
    check("File chooser" in r, r)
    await call(c, "browser_file_upload", {"files": [{"name": "note.txt", "content": "12345"}], **extra})
    await call(c, "browser_wait_for", {"text": "chosen note.txt 5", **extra})
    return seen


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
        seen["guest"] = await guest(c, {})
        seen["http_forks"] = await forks(c, "mcp-http", url.removesuffix("/mcp"), key, 1)
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
        seen["guest"] = await guest(c, {"sandbox": "mcp-stdio"})
        seen["stdio_forks"] = await forks(c, "mcp-stdio", os.environ["HYPE_API_BASE"],
                                          os.environ["HYPE_API_KEY"], 2)
        await call(c, "sandbox_delete", {"name": "mcp-stdio"})
        r = await call(c, "browser_snapshot", {}, ok=False)
        check("sandbox_create" in text(r), text(r))
    return seen


async def forks(c, src, api, key, count):
    """Forks of `src` after browse(): one from a named snapshot (made over
    the REST API; MCP has no tool for it) with sandbox_create, `count` with
    sandbox_fork. Each starts with the source's page. Everything made is
    deleted again."""
    seen = {}
    rest = httpx2.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"},
                              timeout=httpx2.Timeout(30, read=600))
    async def title_of(sb):
        r = await call(c, "browser_evaluate", {"function": "() => document.title", "sandbox": sb})
        return json.loads(text(r))
    before = await title_of(src)
    snap = f"{src}-snap"
    r = await rest.post(f"/api/v1/vms/{src}/snapshots", json={"name": snap})
    check(r.status_code == 201, r.text)

    r = text(await call(c, "sandbox_create", {"name": f"{src}-s", "snapshot": snap}))
    check(f"is running (forked from snapshot '{snap}')" in r, r)
    # The fork is the session's current sandbox: no `sandbox` needed.
    r = await call(c, "browser_evaluate", {"function": "() => document.title"})
    check(json.loads(text(r)) == before, f"the fork's title: {text(r)}, the source's: {before}")
    bad = await call(c, "sandbox_create", {"snapshot": snap, "memory": 1024}, ok=False)
    check("memory_mb" in text(bad) and "fix the arguments" in text(bad), text(bad))
    bad = await call(c, "sandbox_create", {"snapshot": "nope"}, ok=False)
    check("no snapshot named 'nope'" in text(bad), text(bad))
    # One fork at a time beside the source: Chromium guests under TCG
    # share two cores with the other test's.
    await call(c, "sandbox_delete", {"name": f"{src}-s"})
    await call(c, "sandbox_use", {"name": src})

    r = text(await call(c, "sandbox_fork", {"sandbox": src, "name": f"{src}-k", "count": count}))
    check(f"{count} fork(s) of '{src}' running." in r, r)
    made = json.loads(r.split("\n", 1)[1])
    names = [f["name"] for f in made["forks"]]
    check(names == [f"{src}-k-{i}" for i in range(1, count + 1)] and made["failed"] == [], made)
    # Forking leaves the current sandbox; using a fork by name then makes it current.
    listed = text(await call(c, "sandbox_list", {}))
    check(listed.endswith(f"Current sandbox of this session: {src}"), listed)
    for name in names:
        check(await title_of(name) == before, f"{name} lost the page")
    bad = await call(c, "sandbox_fork", {"sandbox": "nope", "name": "x"}, ok=False)
    check("no VM named 'nope'" in text(bad) and "sandbox_list" in text(bad), text(bad))
    # The name is the source's own: the fork fails, and nothing is made.
    bad = await call(c, "sandbox_fork", {"sandbox": src, "name": src}, ok=False)
    check("no fork of" in text(bad) and "name_taken" in text(bad), text(bad))

    for name in names:
        await call(c, "sandbox_delete", {"name": name})
    await call(c, "sandbox_use", {"name": src})
    r = await rest.delete(f"/api/v1/snapshots/{snap}")
    check(r.status_code == 204, r.text)
    r = await rest.get("/api/v1/snapshots")
    check(r.json()["snapshots"] == [], f"snapshots left: {r.text}")
    await rest.aclose()
    seen["forks"] = names
    return seen


def ref_of(snap, pattern):
    m = re.search(pattern + r".*?\[ref=(e\d+)\]", snap)
    check(m, f"no {pattern} in the snapshot:\n{snap}")
    return m.group(1)


async def shop_flow(c, site, extra):
    """Log in, pick, upload, confirm, console, network, cookies, route,
    back, tabs, PDF: one agent's errand on site.py. `extra` names the
    sandbox, or is empty when the session has a current one."""
    seen = {}
    snap = text(await call(c, "browser_navigate", {"url": f"{site}/login", **extra}))
    check("Page Title: Log in" in snap, snap)
    await call(c, "browser_fill_form", {"fields": [
        {"name": "User", "type": "textbox", "target": ref_of(snap, 'textbox "User"'), "value": "ann"},
        {"name": "Password", "type": "textbox", "target": ref_of(snap, 'textbox "Password"'), "value": "secret"},
        {"name": "Remember me", "type": "checkbox", "target": ref_of(snap, 'checkbox "Remember me"'), "value": "true"},
    ], **extra})
    r = text(await call(c, "browser_click", {"element": "Log in", "target": ref_of(snap, 'button "Log in"'), **extra}))
    check(f"Page URL: {site}/shop" in r and "Shop of ann" in r, r)

    r = text(await call(c, "browser_select_option", {"element": "Colour", "target": "#colour", "values": ["Green"], **extra}))
    check("picked Green" in r, r)

    r = text(await call(c, "browser_click", {"element": "Receipt", "target": "#receipt", **extra}))
    check("File chooser" in r, r)
    bad = await call(c, "browser_file_upload", {"paths": ["/no/such/receipt.pdf"], **extra}, ok=False)
    check("not in the sandbox" in text(bad), text(bad))
    await call(c, "browser_click", {"element": "Receipt", "target": "#receipt", **extra})
    await call(c, "browser_file_upload", {"paths": ["/etc/passwd"], **extra})
    await call(c, "browser_wait_for", {"text": "chosen passwd", **extra})

    snap = text(await call(c, "browser_snapshot", extra))
    r = text(await call(c, "browser_click", {"element": "Delete basket", "target": ref_of(snap, 'button "Delete basket"'), **extra}))
    check('"confirm" dialog with message "Delete the basket?"' in r, r)
    blocked = await call(c, "browser_snapshot", extra, ok=False)
    check("browser_handle_dialog" in text(blocked), text(blocked))
    r = text(await call(c, "browser_handle_dialog", {"accept": True, **extra}))
    check("basket deleted" in r, r)

    r = text(await call(c, "browser_console_messages", {"level": "info", **extra}))
    check("shop loaded for ann" in r and "[warning] stock low" in r, r)
    r = text(await call(c, "browser_console_messages", {"level": "error", "all": True, **extra}))
    check("shop loaded" not in r, r)

    r = text(await call(c, "browser_network_requests", {"static": False, "filter": "/login$", **extra}))
    m = re.search(r"^(\d+)\. \[POST\] " + re.escape(f"{site}/login") + r" => \[303", r, re.M)
    check(m, f"no form post in:\n{r}")
    r = text(await call(c, "browser_network_request", {"index": int(m.group(1)), "part": "request-body", **extra}))
    check("user=ann" in r and "password=secret" in r, r)

    await call(c, "browser_cookie_set", {"name": "flavour", "value": "oat", **extra})
    r = text(await call(c, "browser_cookie_get", {"name": "flavour", **extra}))
    check('"oat"' in r, r)
    r = text(await call(c, "browser_cookie_get", {"name": "session", **extra}))
    check('"ann"' in r, r)

    await call(c, "browser_route", {"pattern": "**/api/data", "body": '{"from": "stub"}', "contentType": "application/json", **extra})
    r = text(await call(c, "browser_route_list", extra))
    check("**/api/data" in r, r)
    await call(c, "browser_navigate", {"url": f"{site}/shop", **extra})
    await call(c, "browser_wait_for", {"text": "api says stub", **extra})
    await call(c, "browser_unroute", {"pattern": "**/api/data", **extra})

    await call(c, "browser_navigate", {"url": f"{site}/second", **extra})
    r = text(await call(c, "browser_navigate_back", extra))
    check(f"Page URL: {site}/shop" in r, r)

    r = text(await call(c, "browser_tabs", {"action": "new", "url": f"{site}/second", **extra}))
    check("1: (current) [Second]" in r, r)
    r = text(await call(c, "browser_tabs", {"action": "select", "index": 0, **extra}))
    check("0: (current) [Shop]" in r, r)
    await call(c, "browser_tabs", {"action": "select", "index": 1, **extra})
    r = text(await call(c, "browser_wait_for", {"text": "second page", **extra}))
    check(f"Page URL: {site}/second" in r, r)

    pdf = await call(c, "browser_pdf_save", extra)
    blobs = [b for b in pdf.content if getattr(b, "type", "") == "resource"]
    check(len(blobs) == 1 and blobs[0].resource.mime_type == "application/pdf", pdf.content)
    check(base64.b64decode(blobs[0].resource.blob).startswith(b"%PDF"), "not a PDF")
    seen["pdf_bytes"] = len(base64.b64decode(blobs[0].resource.blob))
    await call(c, "browser_tabs", {"action": "close", **extra})
    return seen


SESSION_CAPS = "pdf,testing,devtools"


async def caps_of_sessions(url, headers, connect, site, extra):
    """Sessions without ?caps= have hyped's groups alone; bad caps are
    refused with the API's error body; a testing and a devtools tool act on
    site.py's login page (in a session with ?caps=, `extra` its sandbox)."""
    seen = {}
    for mode in ("legacy", "auto"):
        async with connect(mode, url) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            check("browser_route" in names and "browser_pdf_save" not in names, sorted(names))
            check("browser_verify_value" not in names, sorted(names))
            r = text(await call(c, "browser_pdf_save", {"sandbox": "mcp-flow"}, ok=False))
            check("'pdf' capability group" in r and "?caps=pdf" in r, r)
    async with httpx2.AsyncClient(headers=headers, timeout=30) as hc:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        hdrs = {"accept": "application/json, text/event-stream"}
        for caps, want in (("pdf,bogus", "unknown MCP capability 'bogus': the capabilities are vision, pdf"),
                           ("cdp", "MCP capability 'cdp' is not allowed for sessions")):
            r = await hc.post(f"{url}?caps={caps}", json=body, headers=hdrs)
            check(r.status_code == 400, f"?caps={caps}: {r.status_code} {r.text}")
            err = r.json()["error"]
            check(err["code"] == "invalid_query" and want in err["message"], err)
        seen["bad_caps"] = err["message"]

    async with connect("legacy", f"{url}?caps={SESSION_CAPS}") as c:
        names = {t.name for t in (await c.list_tools()).tools}
        check({"browser_pdf_save", "browser_verify_value", "browser_highlight", "browser_route"} <= names, sorted(names))
        snap = text(await call(c, "browser_navigate", {"url": f"{site}/login", **extra}))
        await call(c, "browser_verify_element_visible", {"role": "button", "accessibleName": "Log in", **extra})
        r = text(await call(c, "browser_verify_element_visible", {"role": "button", "accessibleName": "Sign up", **extra}, ok=False))
        check('no button named "Sign up"' in r, r)
        await call(c, "browser_verify_text_visible", {"text": "Log in", **extra})
        user = ref_of(snap, 'textbox "User"')
        await call(c, "browser_type", {"target": user, "text": "bob", **extra})
        await call(c, "browser_verify_value", {"type": "textbox", "element": "User", "target": user, "value": "bob", **extra})
        r = text(await call(c, "browser_verify_value", {"type": "textbox", "element": "User", "target": user, "value": "ann", **extra}, ok=False))
        check('User is "bob", not "ann"' in r, r)
        button = ref_of(snap, 'button "Log in"')
        r = text(await call(c, "browser_generate_locator", {"target": button, **extra}))
        check(r == "getByRole('button', { name: 'Log in' })", r)
        seen["locator"] = r
        await call(c, "browser_highlight", {"element": "Log in button", "target": button, **extra})
        over = text(await call(c, "browser_evaluate", {"function": "() => { const o = document.querySelector('[data-hype-highlight]').getBoundingClientRect(), b = document.querySelector('button').getBoundingClientRect(); return o.x === b.x && o.y === b.y && o.width === b.width; }", **extra}))
        check(over == "true", over)
        await call(c, "browser_hide_highlight", {"element": "Log in button", **extra})
        left = text(await call(c, "browser_evaluate", {"function": "() => document.querySelectorAll('[data-hype-highlight]').length", **extra}))
        check(left == "0", left)
    return seen


async def flow(url, key, site):
    headers = {"Authorization": f"Bearer {key}"}

    def connect(mode, at=f"{url}?caps={SESSION_CAPS}"):
        hc = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=600))
        return Client(streamable_http_client(at, http_client=hc), mode=mode)

    seen = {}
    async with connect("legacy") as c:
        check(c.protocol_version == "2025-11-25", c.protocol_version)
        await call(c, "sandbox_create", {"name": "mcp-flow-b", "ttl": 3600})
        await call(c, "sandbox_create", {"name": "mcp-flow", "ttl": 3600})
        # Two sandboxes; the session's current one is set, then omitted.
        r = text(await call(c, "sandbox_use", {"name": "mcp-flow-b"}))
        check("current sandbox" in r, r)
        await call(c, "browser_navigate", {"url": f"{site}/second"})
        await call(c, "sandbox_use", {"name": "mcp-flow"})
        seen["legacy"] = await shop_flow(c, site, {})
        gone = await call(c, "sandbox_use", {"name": "nope"}, ok=False)
        check("sandbox_list" in text(gone), text(gone))
    async with connect("auto") as c:
        check(c.protocol_version == "2026-07-28", c.protocol_version)
        # Sessionless: each call names its sandbox; mcp-flow-b never saw the shop.
        r = text(await call(c, "browser_console_messages", {"level": "debug", "all": True, "sandbox": "mcp-flow-b"}))
        check("shop loaded" not in r, r)
        await call(c, "browser_cookie_clear", {"sandbox": "mcp-flow"})
        seen["current"] = await shop_flow(c, site, {"sandbox": "mcp-flow"})
    seen["caps"] = await caps_of_sessions(url, headers, connect, site, {"sandbox": "mcp-flow"})
    async with connect("auto") as c:
        for name in ("mcp-flow", "mcp-flow-b"):
            await call(c, "sandbox_delete", {"name": name})
    return seen


def main():
    mode = sys.argv[1]
    if mode == "flow":
        seen = asyncio.run(flow(sys.argv[2], sys.argv[3], sys.argv[4]))
    elif mode == "http":
        seen = asyncio.run(http(sys.argv[2], sys.argv[3]))
    else:
        seen = asyncio.run(stdio(sys.argv[2]))
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
