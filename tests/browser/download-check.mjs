// Clicks a download link in two pages of a hype sandbox, one in the
// browser's default context and one in a context Playwright creates, then
// waits until hyped lists both downloads (the guest's agent saves them).
// Usage: node download-check.mjs CDP_URL API_BASE VM
import { chromium } from 'playwright-core';

const [cdp, api, vm] = process.argv.slice(2);
const payload = Buffer.alloc(300_000, 0);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 7919) % 251;
const href = `data:application/octet-stream;base64,${payload.toString('base64')}`;
const html = `<title>downloads</title><a id="get" href="${href}" download="report.bin">get</a>`;

const browser = await chromium.connectOverCDP(cdp, { timeout: 120_000 });
const contexts = [browser.contexts()[0], await browser.newContext()];
for (const context of contexts) {
  const page = await context.newPage();
  await page.setContent(html, { timeout: 120_000 });
  await page.click('#get', { timeout: 120_000 });
}
const until = Date.now() + 120_000;
let listed = [];
while (Date.now() < until) {
  const r = await fetch(`${api}/api/v1/vms/${vm}/downloads`);
  listed = (await r.json()).downloads ?? [];
  if (listed.length >= 2) break;
  await new Promise((res) => setTimeout(res, 250));
}
await browser.close();
console.log(JSON.stringify({ listed, payload_bytes: payload.length }));
