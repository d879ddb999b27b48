// cookie-check.mjs CDP_URL set|get: through hyped's CDP proxy, `set` stores
// a cookie (a day's lifetime) in the browser's default context; `get`
// prints the cookies the browser has, as JSON. Used to check that a
// persistent sandbox keeps its cookies across stop and start.
import { chromium } from 'playwright-core';

const [cdp, mode] = process.argv.slice(2);
const browser = await chromium.connectOverCDP(cdp, { timeout: 120_000 });
const context = browser.contexts()[0];
let out;
if (mode === 'set') {
  await context.addCookies([{
    name: 'hype-persist', value: 'kept', domain: 'persist.test', path: '/',
    expires: Math.floor(Date.now() / 1000) + 86400,
  }]);
  out = { cookies: (await context.cookies()).length };
} else {
  const cookies = await context.cookies();
  out = { cookies: cookies.map((c) => `${c.name}=${c.value}@${c.domain}`) };
}
// Only the connection closes: the browser stays as it is.
await browser.close();
process.stdout.write(JSON.stringify(out));
