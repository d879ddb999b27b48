// Drives hyped's web console in Debian's Chromium with Playwright, as a
// person would, and prints what it saw as JSON for crates/hyped/tests/
// console.rs to check. Usage: node console-check.mjs lifecycle|auth|live|links|jobs|resume
// Environment: HYPE_BASE (hyped's URL), HYPE_KEY (auth), HYPE_SHOTS (a
// directory for screenshots), HYPE_VM (a running VM the test made).
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { join } from 'node:path';

const base = process.env.HYPE_BASE;
const key = process.env.HYPE_KEY;
const shots = process.env.HYPE_SHOTS;
const vm = process.env.HYPE_VM;
const scenario = process.argv[2];
const T = 240_000; // a VM booting under TCG beside other guests

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  // Debian's Chromium as root, on a machine whose network is closed.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 60_000,
});
const context = await browser.newContext({ viewport: { width: 1360, height: 760 } });
const out = {};

async function shot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, name) });
}

/// Records, in the page, each change of a VM row's state with the time it
/// showed (Date.now(), the same clock as hyped's event times).
async function watchRows(page) {
  await page.evaluate(() => {
    window.seen = [];
    const last = {};
    const scan = () => {
      const t = Date.now();
      const now = {};
      for (const row of document.querySelectorAll('tr[data-vm]')) {
        const state = row.querySelector('td.state')?.dataset.state;
        now[row.dataset.vm] = state;
        if (last[row.dataset.vm] !== state) window.seen.push({ vm: row.dataset.vm, state, t });
      }
      for (const v of Object.keys(last)) {
        if (!(v in now)) window.seen.push({ vm: v, state: 'gone', t });
      }
      Object.keys(last).forEach((k) => delete last[k]);
      Object.assign(last, now);
    };
    scan();
    new MutationObserver(scan).observe(document.body, {
      subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'],
    });
  });
}

async function api(method, path, headers = {}) {
  const r = await fetch(base + path, { method, headers });
  return { status: r.status, body: await r.text() };
}

const row = (name, state) =>
  state ? `tr[data-vm="${name}"] td.state[data-state="${state}"]` : `tr[data-vm="${name}"]`;

async function lifecycle() {
  const page = await context.newPage();
  page.on('dialog', (d) => d.accept());
  await page.goto(base + '/');
  await page.waitForSelector('[data-live="yes"]', { timeout: 30_000 });
  await page.waitForSelector(row(vm, 'running'), { timeout: 30_000 });
  await watchRows(page);
  // Lifecycle events from another client: the row follows each.
  for (const [action, state] of [['pause', 'paused'], ['resume', 'running'], ['stop', 'stopped'], ['start', 'running']]) {
    const r = await api('POST', `/api/v1/vms/${vm}/${action}`);
    if (r.status !== 200) throw new Error(`${action}: ${r.status} ${r.body}`);
    await page.waitForSelector(row(vm, state), { timeout: T });
  }
  await page.waitForSelector('[data-fig="vms"] [data-state="running"]');
  out.host_text = await page.textContent('header');

  // Its serial log, followed.
  await page.click(`${row(vm)} button.name`);
  await page.waitForFunction(() => document.querySelector('section.logs pre')?.textContent.length > 0,
    null, { timeout: 30_000 });
  out.log_text = await page.textContent('section.logs pre');
  await shot(page, 'console-logs.png');
  await page.click('section.logs button:has-text("Close")');

  // Create from the page: a name taken gets the API's own message.
  await page.click('button:has-text("Create VM")');
  await page.fill('form.create input[name=name]', vm);
  await page.selectOption('form.create select[name=image]', 'base');
  await page.fill('form.create input[name=cpu]', '1');
  await page.fill('form.create input[name=memory]', '256');
  await page.click('form.create button[type=submit]');
  out.taken_error = await (await page.waitForSelector('form.create .error')).textContent();
  const made = 'from-page';
  await page.fill('form.create input[name=name]', made);
  await page.fill('form.create input[name=ttl]', '3600');
  await shot(page, 'console-create.png');
  await page.click('form.create button[type=submit]');
  await page.waitForSelector(row(made), { timeout: 10_000 });
  out.created_seen = true;
  await shot(page, 'console.png');
  await page.waitForSelector(row(made, 'running'), { timeout: T });
  const vmNow = await api('GET', `/api/v1/vms/${made}`);
  out.created = JSON.parse(vmNow.body);

  // Delete from the page (confirmed in the dialog).
  await page.click(`${row(made)} button[data-action=delete]`);
  await page.waitForSelector(row(made), { state: 'detached', timeout: 60_000 });
  out.deleted_status = (await api('GET', `/api/v1/vms/${made}`)).status;
  out.seen = await page.evaluate(() => window.seen);
}

/// A page of another origin that tries what a hostile site would with the
/// operator's browser: POSTs (fetch, no-cors, a form), a read, a WebSocket.
function foreignSite() {
  const html = (target) => `<!doctype html><title>elsewhere</title><script>
  window.results = {};
  const t = ${JSON.stringify(target)};
  (async () => {
    const r = window.results;
    try {
      const a = await fetch(t + '/api/v1/vms', { method: 'POST', credentials: 'include',
        headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ name: 'evil', cpu_cores: 1, memory_mb: 256 }) });
      r.cors_post = 'answered ' + a.status;
    } catch (e) { r.cors_post = 'failed: ' + e.message; }
    try {
      await fetch(t + '/api/v1/vms/${vm}/pause', { method: 'POST', mode: 'no-cors', credentials: 'include' });
      r.no_cors_post = 'sent';
    } catch (e) { r.no_cors_post = 'failed: ' + e.message; }
    try {
      const g = await fetch(t + '/api/v1/vms', { credentials: 'include' });
      r.read = 'answered ' + g.status + ' ' + (await g.text()).slice(0, 80);
    } catch (e) { r.read = 'failed: ' + e.message; }
    r.ws = await new Promise((done) => {
      const ws = new WebSocket(t.replace('http', 'ws') + '/api/v1/vms/${vm}/exec/ws?cmd=true');
      ws.onopen = () => done('opened');
      ws.onerror = () => done('refused');
    });
    r.done = true;
  })();
  </script>
  <form id="f" method="post" action="${target}/api/v1/vms/${vm}/stop" enctype="text/plain"><input name="x" value="y"></form>`;
  return new Promise((resolve) => {
    const srv = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html(base));
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

async function attack(page, origin) {
  await page.goto(origin + '/');
  await page.waitForFunction(() => window.results && window.results.done, null, { timeout: 30_000 });
  const r = await page.evaluate(() => window.results);
  // Last, a plain form POST: the browser navigates to hyped's answer.
  await Promise.all([page.waitForNavigation(), page.evaluate(() => document.getElementById('f').submit())]);
  r.form_post = (await page.textContent('body')).slice(0, 200);
  return r;
}

async function auth() {
  const page = await context.newPage();
  await page.goto(base + '/');
  await page.waitForSelector('form.login');
  out.login_shown = true;
  out.vms_before_login = await page.locator('tr[data-vm]').count();
  await page.fill('form.login input[name=key]', 'not-the-key-at-all');
  await page.click('form.login button[type=submit]');
  out.wrong_key_error = await (await page.waitForSelector('form.login .error')).textContent();
  await shot(page, 'console-login.png');
  await page.fill('form.login input[name=key]', key);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector(row(vm, 'running'), { timeout: 30_000 });
  await page.waitForSelector('[data-live="yes"]');
  out.logged_in = true;
  out.cookies = await context.cookies(base);
  out.document_cookie = await page.evaluate(() => document.cookie);
  out.url_after_login = page.url();

  // Hostile pages in the same browser, with the session cookie in it:
  // another port of 127.0.0.1 (the same site, so the cookie is sent) and
  // localhost (another site).
  const srv = await foreignSite();
  const port = srv.address().port;
  const evil = await context.newPage();
  out.same_site = await attack(evil, `http://127.0.0.1:${port}`);
  out.cross_site = await attack(evil, `http://localhost:${port}`);
  srv.close();

  // The console itself still works, then logs out.
  await page.bringToFront();
  await page.waitForSelector(row(vm, 'running'));
  await page.click('button.logout');
  await page.waitForSelector('form.login');
  out.cookies_after_logout = await context.cookies(base);
  const old = out.cookies.find((c) => c.name === 'hype_session');
  out.old_session_after_logout = await api('GET', '/api/v1/vms', { cookie: `hype_session=${old.value}` });
  // A reload stays logged out.
  await page.reload();
  await page.waitForSelector('form.login');
}


// The sandbox's page for the live view test: a button that renames the
// page when clicked, and a field to type into.
const SANDBOX_PAGE = '<title>live test</title><body style="margin:0;background:#2f5bd3">'
  + '<button id="b" style="position:absolute;left:100px;top:100px;width:300px;height:160px;font-size:40px"'
  + ' onclick="document.title=\'clicked\'">Click me</button>'
  + '<input id="i" style="position:absolute;left:100px;top:320px;width:300px;height:60px;font-size:30px">'
  + '</body>';

/// The live view of a browser sandbox (HYPE_VM), while Playwright drives
/// that sandbox over CDP through hyped as an automation client would.
async function live() {
  const auto = await chromium.connectOverCDP(`${base}/api/v1/vms/${vm}/cdp`, { timeout: 120_000 });
  const target = auto.contexts()[0].pages()[0];
  const page = await context.newPage();
  // The VM list links to the live view.
  await page.goto(base + '/');
  const link = `tr[data-vm="${vm}"] a[data-action="live"]`;
  await page.waitForSelector(link, { timeout: 30_000 });
  await Promise.all([page.waitForURL(`**/vms/${vm}/live`), page.click(link)]);
  await page.waitForSelector('.conn[data-status="live"]', { timeout: T });
  const frames = () => page.evaluate(() => Number(document.querySelector('canvas.screen').dataset.frames || 0));
  await page.waitForFunction(() => Number(document.querySelector('canvas.screen').dataset.frames || 0) >= 1, null, { timeout: T });
  const before = await page.evaluate(() => document.querySelector('canvas.screen').toDataURL());
  // The automation client navigates: the canvas shows the new page.
  await target.goto('data:text/html,' + encodeURIComponent(SANDBOX_PAGE), { timeout: T });
  await page.waitForFunction(
    (b) => document.querySelector('canvas.screen').toDataURL() !== b, before, { timeout: T });
  await page.waitForSelector('.tabs .tab.current', { timeout: T });
  await page.waitForFunction(() => document.querySelector('.tabs .tab.current').textContent === 'live test',
    null, { timeout: 30_000 });
  out.canvas_changed = true;
  out.tabs = await page.textContent('.tabs');
  out.frames = await frames();
  // A click on the button, where the canvas shows it (page CSS pixels
  // scaled to the canvas on screen), runs its handler in the sandbox.
  const onCanvas = async (x, y) => {
    const box = await page.locator('canvas.screen').boundingBox();
    const size = await page.evaluate(() => {
      const c = document.querySelector('canvas.screen');
      return { w: Number(c.dataset.pageWidth), h: Number(c.dataset.pageHeight) };
    });
    return [box.x + (x * box.width) / size.w, box.y + (y * box.height) / size.h];
  };
  await page.mouse.click(...(await onCanvas(250, 180)));
  await target.waitForFunction(() => document.title === 'clicked', null, { timeout: 60_000 });
  out.title_after_click = await target.title();
  // Typing into the sandbox's field from the live page.
  await page.mouse.click(...(await onCanvas(250, 350)));
  await page.keyboard.type('hi');
  await target.waitForFunction(() => document.getElementById('i').value === 'hi', null, { timeout: 60_000 });
  out.typed = await target.evaluate(() => document.getElementById('i').value);
  const typedAt = await frames();
  // The screenshot for the docs shows the typed text once a frame has it.
  await page.waitForFunction((n) => document.querySelector('canvas.screen').dataset.frames > n, typedAt, { timeout: 10_000 })
    .catch(() => {});
  await shot(page, 'console-live.png');
  await page.close();
  await auto.close();
}

/// Live links (HYPE_LINK_RO view-only, HYPE_LINK_RW interactive), each
/// opened in a fresh browser context: no cookie, no key.
async function links() {
  const auto = await chromium.connectOverCDP(`${base}/api/v1/vms/${vm}/cdp`, { timeout: 120_000 });
  const target = auto.contexts()[0].pages()[0];
  await target.goto('data:text/html,' + encodeURIComponent(SANDBOX_PAGE), { timeout: T });
  const open = async (url) => {
    const ctx = await browser.newContext({ viewport: { width: 1360, height: 760 } });
    const page = await ctx.newPage();
    await page.goto(url);
    await page.waitForSelector('.conn[data-status="live"]', { timeout: T });
    await page.waitForFunction(() => Number(document.querySelector('canvas.screen').dataset.frames || 0) >= 1, null, { timeout: T });
    return { ctx, page };
  };
  const canvasAt = async (page, x, y) => {
    const box = await page.locator('canvas.screen').boundingBox();
    const size = await page.evaluate(() => {
      const c = document.querySelector('canvas.screen');
      return { w: Number(c.dataset.pageWidth), h: Number(c.dataset.pageHeight) };
    });
    return [box.x + (x * box.width) / size.w, box.y + (y * box.height) / size.h];
  };

  // View-only: frames come as the automation navigates.
  const ro = await open(process.env.HYPE_LINK_RO);
  out.ro_cookies = (await ro.ctx.cookies(base)).length;
  out.ro_badge = await ro.page.textContent('[data-access="view-only"]', { timeout: 30_000 });
  const before = await ro.page.evaluate(() => document.querySelector('canvas.screen').toDataURL());
  await target.evaluate(() => { document.body.style.background = '#d32f5b'; });
  await ro.page.waitForFunction(
    (b) => document.querySelector('canvas.screen').toDataURL() !== b, before, { timeout: T });
  out.ro_canvas_changed = true;
  await shot(ro.page, 'console-live-link.png');
  // A click in the page sends nothing; and input sent over the link's
  // socket by hand is refused by hyped, each message answered.
  await ro.page.mouse.click(...(await canvasAt(ro.page, 250, 180)));
  const wsUrl = `${base.replace(/^http/, 'ws')}/api/v1/vms/${vm}/live/ws?token=${new URL(process.env.HYPE_LINK_RO).searchParams.get('token')}`;
  out.ro_socket = await ro.page.evaluate((u) => new Promise((resolve) => {
    const ws = new WebSocket(u);
    const seen = { access: null, errors: [] };
    const click = (action) => ws.send(JSON.stringify({ type: 'mouse', action, x: 250, y: 180, button: 'left', clickCount: 1 }));
    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') return;
      const n = JSON.parse(m.data);
      if (n.type === 'access') {
        seen.access = n.interactive;
        click('mousePressed');
        click('mouseReleased');
        ws.send(JSON.stringify({ type: 'key', action: 'char', key: 'x', code: 'KeyX', text: 'x' }));
      }
      if (n.type === 'error') seen.errors.push(n.code);
      if (seen.errors.length === 3) { ws.close(); resolve(seen); }
    };
    ws.onclose = () => resolve(seen);
  }), wsUrl);
  // Had any input reached the page, its title would be 'clicked'.
  await new Promise((r) => setTimeout(r, 1500));
  out.title_after_ro = await target.title();
  await ro.ctx.close();

  // Interactive: a click in the page runs the button's handler.
  const rw = await open(process.env.HYPE_LINK_RW);
  out.rw_badge = await rw.page.locator('[data-access="view-only"]').count();
  await rw.page.waitForFunction(() => Number(document.querySelector('canvas.screen').dataset.pageWidth || 0) > 0, null, { timeout: T });
  await rw.page.mouse.click(...(await canvasAt(rw.page, 250, 180)));
  await target.waitForFunction(() => document.title === 'clicked', null, { timeout: 60_000 });
  out.title_after_rw = await target.title();
  await rw.ctx.close();
  await auto.close();
}

// Import jobs the test submitted (HYPE_JOBS: the ids, comma-separated):
// each row's text once it is final, and what a kept folder lists.
async function jobs() {
  const ids = process.env.HYPE_JOBS.split(',');
  const page = await context.newPage();
  await page.goto(base + '/');
  out.rows = {};
  for (const id of ids) {
    const row = page.locator(`tr[data-job="${id}"]`);
    await row.locator('.badge.completed, .badge.failed, .badge.cancelled').waitFor({ timeout: 30_000 });
    out.rows[id] = (await row.innerText()).replace(/\s+/g, ' ').trim();
  }
  // The folder's file list opens on a click.
  const kept = page.locator('details.kept');
  out.kept_open_before = await kept.evaluate((d) => d.open);
  await kept.locator('summary').click();
  out.files = await kept.locator('tr[data-file]').evaluateAll((rows) =>
    rows.map((r) => ({ name: r.dataset.file, text: r.innerText.replace(/\s+/g, ' ').trim(), title: r.querySelector('td[title]')?.title })),
  );
  await shot(page, 'console-jobs.png');
}

// Two jobs a restart left waiting for their password (HYPE_JOBS: "ok,raced";
// HYPE_JOB_PASSWORD: the source's): an empty submit is refused in the page;
// `raced` is cancelled by another client while the page's resume is on its
// way, so hyped's 409 shows; `ok` is resumed with its password and followed
// until it ends. Resume requests are held (page.route) only to look at the
// field and the page while they are in flight, then go to hyped unchanged.
async function resume() {
  const [ok, raced] = process.env.HYPE_JOBS.split(',');
  const password = process.env.HYPE_JOB_PASSWORD;
  const page = await context.newPage();
  out.page_errors = [];
  page.on('pageerror', (e) => out.page_errors.push(e.message));
  out.requests = [];
  page.on('request', (r) => {
    if (r.url().includes('/resume')) out.requests.push({ method: r.method(), url: r.url(), body: r.postData() });
  });
  await page.goto(base + '/');
  const row = (id) => page.locator(`tr[data-job="${id}"]`);
  const field = (id) => row(id).getByLabel('Source password');
  const button = (id) => row(id).getByRole('button', { name: 'Resume' });
  for (const id of [ok, raced]) await field(id).waitFor({ timeout: 30_000 });
  out.waiting_row = (await row(ok).innerText()).replace(/\s+/g, ' ').trim();
  out.field = await field(ok).evaluate((i) => ({ type: i.type, autocomplete: i.getAttribute('autocomplete'), name: i.name }));
  const inFlight = () => page.evaluate(() => ({
    storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    url: location.href,
  }));

  // Empty: refused in the page, nothing sent, the job still waiting.
  await button(ok).click();
  out.empty_refusal = await row(ok).getByRole('alert').innerText();
  out.empty_invalid = await field(ok).getAttribute('aria-invalid');
  await page.waitForTimeout(500);
  out.sent_after_empty = out.requests.length;
  out.phase_after_empty = JSON.parse((await api('GET', `/api/v1/jobs/${ok}`)).body).progress.phase;

  // Another client cancels `raced` while the page's resume is on its way.
  await page.route(`**/api/v1/jobs/${raced}/resume`, async (route) => {
    out.raced_field_in_flight = await field(raced).inputValue();
    out.cancelled = (await api('POST', `/api/v1/jobs/${raced}/cancel`)).status;
    await route.continue();
  });
  await field(raced).fill('typed-before-the-cancel');
  await button(raced).click();
  await row(raced).locator('.badge.cancelled').waitFor({ timeout: 30_000 });
  out.raced_refusal = await row(raced).locator('.refusal').innerText({ timeout: 30_000 });
  out.raced_form_left = await row(raced).locator('form.resume').count();
  await page.unroute(`**/api/v1/jobs/${raced}/resume`);

  // The right password: sent once, in the body; the field is empty and the
  // page keeps it nowhere while the request is in flight.
  await page.route(`**/api/v1/jobs/${ok}/resume`, async (route) => {
    out.ok_field_in_flight = await field(ok).inputValue();
    out.ok_body = route.request().postDataJSON();
    out.in_flight = await inFlight();
    await route.continue();
  });
  await field(ok).fill(password);
  await button(ok).click();
  await field(ok).waitFor({ state: 'detached', timeout: 30_000 });
  out.resumed_row = (await row(ok).innerText()).replace(/\s+/g, ' ').trim();
  out.ok_refusals = await row(ok).locator('.refusal').count();
  await row(ok).locator('.badge.completed, .badge.failed, .badge.cancelled').waitFor({ timeout: T });
  out.final_row = (await row(ok).innerText()).replace(/\s+/g, ' ').trim();
  out.after = await inFlight();
  out.notices = await page.locator('.notices').innerText();
}

try {
  if (scenario === 'lifecycle') await lifecycle();
  else if (scenario === 'jobs') await jobs();
  else if (scenario === 'resume') await resume();
  else if (scenario === 'links') await links();
  else if (scenario === 'auth') await auth();
  else if (scenario === 'live') await live();
  else throw new Error(`unknown scenario ${scenario}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
