// Connects Playwright to a hype sandbox through hyped's CDP proxy, loads a
// data: URL, and prints what a user would check: the title and the size of
// a screenshot. Usage: node playwright-check.mjs CDP_URL [OUT.png]
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';

const [url, out] = process.argv.slice(2);
const browser = await chromium.connectOverCDP(url, { timeout: 120_000 });
const context = browser.contexts()[0] ?? (await browser.newContext());
const page = await context.newPage();
await page.goto('data:text/html,<title>hype sandbox</title><h1 style="font:64px sans-serif">Hello from a microVM</h1>', { timeout: 120_000 });
const title = await page.title();
const png = await page.screenshot({ timeout: 120_000 });
if (out) writeFileSync(out, png);
const version = browser.version();
await browser.close();
console.log(JSON.stringify({ title, png_bytes: png.length, version }));
