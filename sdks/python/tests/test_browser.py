"""A browser sandbox driven with Playwright through sb.playwright(): the
sandbox's own Chromium over CDP through hyped (keyed), no local browser."""

from __future__ import annotations

import asyncio

import pytest

import hype
from conftest import Hyped

PAGE = ("data:text/html,<title>from the sdk</title><h1 id=h>hello</h1>"
        "<script>console.log('logged by the page');fetch('http://127.0.0.1:9/probe').catch(()=>{})</script>")


@pytest.mark.browser
def test_async_sandbox_with_playwright(networked: Hyped) -> None:
    async def main() -> None:
        async with hype.AsyncHype() as h:
            async with h.sandbox(image="browser", ttl=600, timeout=400) as sb:
                assert sb.vm.state == "running" and sb.vm.ip
                assert sb.cdp_url == f"{networked.base}/api/v1/vms/{sb.name}/cdp"
                version = await h.vms.cdp_version(sb.name)
                assert version["webSocketDebuggerUrl"].startswith(
                    f"ws://{networked.listen}/api/v1/vms/{sb.name}/cdp/devtools/browser/")

                browser = await sb.playwright()
                assert browser.is_connected()
                context = browser.contexts[0] if browser.contexts else await browser.new_context()
                page = await context.new_page()
                await page.goto(PAGE)
                assert await page.title() == "from the sdk"
                assert await page.inner_text("#h") == "hello"
                shot = await page.screenshot()
                assert shot.startswith(b"\x89PNG")
                # The same page through hyped's own screenshot route.
                png = await sb.screenshot()
                assert png.startswith(b"\x89PNG") and len(png) > 1000
                targets = await h.vms.cdp_targets(sb.name)
                assert any(t.get("title") == "from the sdk" for t in targets), targets
                assert "hype-agent" in await sb.logs()
                # hyped's browser watch recorded the page's console and requests.
                for _ in range(50):
                    messages = await sb.console()
                    if any(m.text == "logged by the page" for m in messages):
                        break
                    await asyncio.sleep(0.2)
                mine = [m for m in messages if m.text == "logged by the page"]
                assert mine and mine[0].level == "log" and mine[0].target_id, messages
                assert await sb.console(after=mine[-1].seq) == [m for m in messages if m.seq > mine[-1].seq]
                # A request to the guest's own loopback, refused there.
                for _ in range(50):
                    probes = [r for r in await sb.network() if r.url == "http://127.0.0.1:9/probe"]
                    if probes and probes[0].finished:
                        break
                    await asyncio.sleep(0.2)
                assert probes and probes[0].method == "GET" and probes[0].failure, probes
                name = sb.name
            assert not browser.is_connected()  # closed with the sandbox
            with pytest.raises(hype.HypeError) as e:
                await h.vms.get(name)
            assert e.value.code == "vm_not_found"

    asyncio.run(main())


@pytest.mark.browser
def test_cdp_needs_the_key(networked: Hyped) -> None:
    """Without the key's header, the CDP endpoint refuses, so the header
    sb.playwright() sends is what lets it in."""
    with hype.Hype(api_key="") as anonymous:
        with pytest.raises(hype.HypeError) as e:
            anonymous.vms.cdp_version("any")
        assert e.value.status == 401
