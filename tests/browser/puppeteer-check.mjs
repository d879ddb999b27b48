// Connects Puppeteer to a hype sandbox through hyped's CDP proxy (browserURL
// is the VM's cdp_url), loads a data: URL and prints its title.
// Usage: node puppeteer-check.mjs CDP_URL
import puppeteer from 'puppeteer-core';

const [url] = process.argv.slice(2);
const browser = await puppeteer.connect({ browserURL: url, protocolTimeout: 120_000 });
const page = await browser.newPage();
await page.goto('data:text/html,<title>via puppeteer</title><p>hi</p>', { timeout: 120_000 });
const title = await page.title();
await page.close();
await browser.disconnect();
console.log(JSON.stringify({ title }));
