// Session recordings end to end (crates/hyped/tests/recordings.rs):
//   node recording-check.mjs drive    an automation client visits two pages
//                                     of HYPE_SITE in the sandbox HYPE_VM,
//                                     through hyped's CDP proxy
//   node recording-check.mjs replay   the console's replay page of
//                                     HYPE_RECORDING, in Debian's Chromium,
//                                     played to its end
// Prints what it saw as JSON. HYPE_BASE is hyped's URL, HYPE_SHOTS a
// directory for screenshots.
import { chromium } from 'playwright-core';
import { join } from 'node:path';

const base = process.env.HYPE_BASE;
const shots = process.env.HYPE_SHOTS;
const scenario = process.argv[2];
const T = 240_000; // a guest under TCG beside other guests
const out = {};

async function drive() {
  const auto = await chromium.connectOverCDP(`${base}/api/v1/vms/${process.env.HYPE_VM}/cdp`, { timeout: 120_000 });
  const page = auto.contexts()[0].pages()[0];
  const site = process.env.HYPE_SITE;
  await page.goto(`${site}/one.html`, { timeout: T });
  await page.fill('#q', 'typed in page one', { timeout: T });
  await page.click('#go', { timeout: T });
  await page.waitForFunction(() => document.getElementById('out').textContent === 'clicked: typed in page one',
    null, { timeout: T });
  out.first = await page.title();
  // Long enough for a batch or two of the page's changes to be sent.
  await page.waitForTimeout(3000);
  await page.goto(`${site}/two.html`, { timeout: T });
  await page.waitForSelector('#last', { timeout: T });
  out.second = await page.title();
  await page.waitForTimeout(3000);
  await auto.close();
}

async function replay() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
  });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/recordings/${process.env.HYPE_RECORDING}`);
    const timeline = page.locator('.timeline');
    await page.waitForSelector('.timeline[data-state="paused"]', { timeout: 60_000 });
    out.total_ms = Number(await timeline.getAttribute('data-total'));
    // Played at 16x, the recording ends in a few seconds.
    await page.selectOption('select[aria-label="speed"]', '16');
    await page.click('.timeline button.primary');
    await page.waitForSelector('.timeline[data-state="finished"]', { timeout: 120_000 });
    out.at_ms = Number(await timeline.getAttribute('data-at'));
    // The replayed document: rrweb rebuilds the page in its own frame.
    const frame = page.frameLocator('.player iframe');
    out.last_text = await frame.locator('body').innerText({ timeout: 10_000 });
    out.slider_max = Number(await page.getAttribute('input[aria-label="timeline"]', 'max'));
    out.meta = await page.textContent('header.card');
    out.errors = errors;
    if (shots) await page.screenshot({ path: join(shots, 'console-replay.png') });
  } finally {
    await browser.close();
  }
}

if (scenario === 'drive') await drive();
else if (scenario === 'replay') await replay();
else throw new Error(`unknown scenario ${scenario}`);
console.log(JSON.stringify(out));
