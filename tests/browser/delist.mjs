// Self-service delisting in a real browser: headless Debian Chromium driven
// by playwright-core. run.sh starts the server and lists the address first;
// this script only uses the pages, the way a person would (real clicks, real
// key presses), and takes a screenshot of every step.
//
// Environment (all set by run.sh):
//   BASE_URL          http://127.0.0.1:PORT of a running fadelist
//   IP                the listed address (89.160.20.112)
//   SCREENSHOTS       folder for the PNG files
//   CHROMIUM          browser executable (default /usr/bin/chromium)
//   FORM_MIN_FILL_MS  the server's [web] form_min_fill, in milliseconds
//   ZONE              the IP zone's name (default iprbl.test)
//   RESULT_FILE       where to write "PASSED FAILED" counts (optional)
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const BASE = need('BASE_URL');
const IP = need('IP');
const SHOTS = need('SCREENSHOTS');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const MIN_FILL_MS = Number(process.env.FORM_MIN_FILL_MS || '3000');
const ZONE = process.env.ZONE || 'iprbl.test';
const EMAIL = 'postmaster@example.net';
const EXPLANATION =
  'The compromised web form that relayed spam was removed and the host was reinstalled.';

const STEP_MS = 10_000; // any single action or assertion
const NAV_MS = 15_000; // any page load
const BUDGET_MS = 90_000; // the whole script

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.log(`FAIL  environment variable ${name} is not set`);
    process.exit(2);
  }
  return v;
}

let fails = 0;
let passes = 0;
const pass = (msg) => {
  passes += 1;
  console.log(`PASS  ${msg}`);
};
const fail = (msg) => {
  fails += 1;
  console.log(`FAIL  ${msg}`);
};
const warn = (msg) => console.log(`WARN  ${msg}`);

/** Runs one step; a thrown error is a FAIL and stops the run. */
async function step(name, fn) {
  try {
    const detail = await fn();
    pass(detail ? `${name}: ${detail}` : name);
  } catch (e) {
    const msg = String(e && e.message ? e.message : e)
      .replace(/\x1b\[[0-9;]*m/g, '')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(0, 6)
      .join(' | ');
    fail(`${name}: ${msg}`);
    throw new Stop();
  }
}
class Stop extends Error {}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

mkdirSync(SHOTS, { recursive: true });
async function shot(page, name, opts = {}) {
  const path = join(SHOTS, name);
  await page.screenshot({ path, fullPage: true, timeout: STEP_MS, animations: 'disabled', ...opts });
  return path;
}

/**
 * Horizontal scrolling (content wider than the viewport): a failure when
 * `strict` (the phone pages: document.documentElement.scrollWidth must not
 * exceed innerWidth), else a warning.
 */
async function overflowCheck(page, what, strict = false) {
  const o = await page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const wide = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > vw + 0.5) {
        wide.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} right=${Math.round(r.right)}`);
      }
    }
    return { vw, iw: window.innerWidth, sw: document.documentElement.scrollWidth, wide: wide.slice(0, 5) };
  });
  if (o.sw > o.vw || o.sw > o.iw) {
    const msg = `${what}: page scrolls sideways (${o.sw}px of content in a ${o.vw}px viewport; ${o.wide.join(', ')})`;
    if (strict) throw new Error(msg);
    warn(msg);
  }
  return `no sideways scrolling (${o.sw}px in ${o.vw}px)`;
}

/**
 * Basic page structure, as assistive technology sees it: a language, one
 * h1, a <main> landmark, headings that do not skip a level, a label for
 * every visible form field, an icon link, no script.
 */
async function structureCheck(page, what) {
  const s = await page.evaluate(() => {
    const problems = [];
    if (!document.documentElement.lang) problems.push('no lang attribute on <html>');
    const h1 = document.querySelectorAll('h1').length;
    if (h1 !== 1) problems.push(`${h1} h1 elements`);
    if (document.querySelectorAll('main').length !== 1) problems.push('no single <main> landmark');
    let last = 0;
    for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
      const level = Number(h.tagName[1]);
      if (last && level > last + 1) problems.push(`${h.tagName} "${h.textContent.trim()}" skips a level after h${last}`);
      last = level;
    }
    for (const f of document.querySelectorAll('input, textarea, select')) {
      if (f.type === 'hidden' || f.closest('[aria-hidden=true]')) continue;
      if (!(f.labels && f.labels.length) && !f.getAttribute('aria-label')) {
        problems.push(`field ${f.name || f.id} has no label`);
      }
    }
    if (!document.querySelector('link[rel=icon]')) problems.push('no <link rel=icon>');
    if (document.querySelector('script')) problems.push('the page has a script');
    return problems;
  });
  if (s.length) throw new Error(`${what}: ${s.join('; ')}`);
  return `${what}: lang, one h1, <main>, heading levels, labels`;
}

const lookupUrl = `${BASE}/lookup?q=${encodeURIComponent(IP)}`;
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let browser;
const current = { desktop: null, phone: null };
const watchdog = setTimeout(() => {
  console.log(`FAIL  delist.mjs: over its ${BUDGET_MS / 1000} s budget`);
  process.exitCode = 1;
  // Closing the browser makes every pending call reject; exit regardless.
  Promise.resolve(browser && browser.close()).finally(() => process.exit(1));
  setTimeout(() => process.exit(1), 5_000).unref();
}, BUDGET_MS);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    Promise.resolve(browser && browser.close()).finally(() => process.exit(1));
    setTimeout(() => process.exit(1), 3_000).unref();
  });
}

/** The lookup page's section for the IP zone (its heading is the zone name). */
const zoneSection = (page) =>
  page.locator('section').filter({ has: page.getByRole('heading', { name: ZONE, exact: true }) });

function watch(page, label) {
  page.on('pageerror', (e) => fail(`${label}: script error on the page: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // A failed load names no address in its text: add the location's.
    const where = m.location() && m.location().url ? ` (${new URL(m.location().url).pathname})` : '';
    warn(`${label}: console error: ${m.text()}${where}`);
  });
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    if (r.status() >= 500) fail(`${label}: HTTP ${r.status()} for ${path}`);
    else if (r.status() >= 400 && !(r.status() === 422 && path === '/delist')) {
      warn(`${label}: HTTP ${r.status()} for ${path}`);
    }
  });
}

try {
  await step('launch headless Chromium', async () => {
    // A fresh, empty profile folder (Playwright makes one under TMPDIR,
    // which run.sh points at its own temporary folder) and no background
    // traffic: this machine's network is closed.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    return `Chromium ${browser.version()}`;
  });

  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const phone = await browser.newContext({
    viewport: { width: 375, height: 740 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  for (const c of [desktop, phone]) {
    c.setDefaultTimeout(STEP_MS);
    c.setDefaultNavigationTimeout(NAV_MS);
  }
  const page = await desktop.newPage();
  watch(page, 'desktop');
  const mobile = await phone.newPage();
  watch(mobile, 'phone');
  current.desktop = page;
  current.phone = mobile;

  await step(`lookup page shows ${IP} listed in ${ZONE}`, async () => {
    const resp = await page.goto(lookupUrl, { waitUntil: 'load' });
    check(resp && resp.status() === 200, `GET ${lookupUrl}: HTTP ${resp && resp.status()}`);
    const sec = zoneSection(page);
    await sec.locator('.listed').getByText('Listed.', { exact: true }).waitFor({ state: 'visible' });
    const text = await sec.innerText();
    check(!/Not listed/.test(text), `the ${ZONE} section also says "Not listed": ${text}`);
    const qn = IP.split('.').reverse().join('.') + '.' + ZONE;
    check(text.includes(qn), `the ${ZONE} section does not name the query ${qn}`);
    return `"Listed.", query name ${qn}`;
  });
  await step('the lookup page shows the TXT record DNS answers', async () => {
    const txt = (await zoneSection(page).locator('.listed code.txt').first().innerText()).trim();
    check(txt.startsWith(`${IP} is listed in ${ZONE}`), `TXT shown is ${JSON.stringify(txt)}`);
    check(txt.includes(`/lookup?q=${IP}`) && !txt.includes('$'), `TXT not expanded: ${JSON.stringify(txt)}`);
    return JSON.stringify(txt);
  });
  await step('"Request delisting" looks like a button', async () => {
    const link = zoneSection(page).getByRole('link', { name: `Request delisting of ${IP}`, exact: true });
    await link.waitFor({ state: 'visible' });
    const look = await link.evaluate((a) => {
      const cs = getComputedStyle(a);
      const r = a.getBoundingClientRect();
      return { bg: cs.backgroundColor, color: cs.color, height: r.height, cls: a.className };
    });
    check(look.bg !== 'rgba(0, 0, 0, 0)' && look.bg !== 'transparent', `no background: ${JSON.stringify(look)}`);
    check(look.height >= 36, `only ${look.height}px high`);
    return `${look.bg} on ${look.color}, ${Math.round(look.height)}px high`;
  });
  await step('lookup page structure', () => structureCheck(page, 'lookup page'));
  await step('the icon: /favicon.svg and /favicon.ico answer', async () => {
    const out = [];
    for (const path of ['/favicon.svg', '/favicon.ico']) {
      const r = await page.request.get(BASE + path, { timeout: STEP_MS });
      const type = r.headers()['content-type'] || '';
      check(r.status() === 200 || r.status() === 204, `GET ${path}: HTTP ${r.status()}`);
      if (r.status() === 200) {
        check(type.startsWith('image/svg+xml'), `GET ${path}: Content-Type ${type}`);
        check((await r.text()).includes('<svg'), `GET ${path}: not an SVG`);
      }
      out.push(`${path} ${r.status()} ${type}`);
    }
    return out.join(', ');
  });
  await step('screenshot 01-lookup-listed.png', () => shot(page, '01-lookup-listed.png'));

  await step('lookup page (listed) at a phone viewport 375x740: 02-lookup-listed-phone.png', async () => {
    await mobile.goto(lookupUrl, { waitUntil: 'load' });
    await zoneSection(mobile).getByText('Listed.', { exact: true }).waitFor({ state: 'visible' });
    await overflowCheck(mobile, 'lookup page, phone', true);
    const button = zoneSection(mobile).getByRole('link', { name: `Request delisting of ${IP}`, exact: true });
    check(await button.isVisible(), 'the delisting button is not visible on the phone');
    return shot(mobile, '02-lookup-listed-phone.png');
  });
  await step('lookup page (listed) at a desktop viewport 1280x800: 03-lookup-listed-desktop.png', async () => {
    await overflowCheck(page, 'lookup page, desktop');
    // Only what fits in the window: what a visitor sees first.
    return shot(page, '03-lookup-listed-desktop.png', { fullPage: false });
  });

  let formLoadedAt = 0;
  await step('a click on "Request delisting" opens the form', async () => {
    const link = zoneSection(page).getByRole('link', { name: `Request delisting of ${IP}`, exact: true });
    await link.waitFor({ state: 'visible' });
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/delist', { waitUntil: 'load' }),
      link.click(),
    ]);
    formLoadedAt = Date.now();
    await page.getByRole('heading', { level: 1, name: 'Request delisting' }).waitFor({ state: 'visible' });
    return page.url().replace(BASE, '');
  });

  await step('the form has the key pre-filled and the honeypot empty', async () => {
    const key = await page.getByLabel('IP address or domain').inputValue();
    check(key === IP, `key field holds ${JSON.stringify(key)}, not ${IP}`);
    const trap = await page.locator('input[name=website]').inputValue();
    check(trap === '', `honeypot holds ${JSON.stringify(trap)}`);
    check(!(await page.locator('input[name=website]').isVisible()) ||
      (await page.locator('input[name=website]').boundingBox()).x < 0,
      'the honeypot field is on screen');
    const token = await page.locator('input[type=hidden][name=token]').inputValue();
    check(/^\d+\.[0-9a-f]+$/.test(token), `form token looks wrong: ${JSON.stringify(token)}`);
    return `key = ${key}`;
  });

  await step('type the e-mail and the explanation with the keyboard', async () => {
    const email = page.getByLabel('Your contact e-mail');
    await email.click();
    await page.keyboard.type(EMAIL, { delay: 15 });
    // Tab goes from the e-mail to the explanation, past the hidden honeypot.
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
    check(focused === 'explanation', `Tab from the e-mail field focused #${focused}, not #explanation`);
    await page.keyboard.type(EXPLANATION, { delay: 5 });
    check((await email.inputValue()) === EMAIL, 'e-mail field does not hold what was typed');
    const expl = await page.getByLabel(/What was fixed/).inputValue();
    check(expl === EXPLANATION, 'explanation does not hold what was typed');
    check((await page.locator('input[name=website]').inputValue()) === '', 'honeypot was filled');
  });

  await step('wait out the form\'s minimum fill time', async () => {
    // The server refuses a form sent sooner than form_min_fill after it
    // served it (whole seconds); a person is never that fast. Wait from
    // when the page had loaded, which is after the server stamped it.
    const left = formLoadedAt + MIN_FILL_MS + 300 - Date.now();
    if (left > 0) await page.waitForTimeout(left);
    return `${Math.round((Date.now() - formLoadedAt) / 100) / 10} s since the form loaded (minimum ${MIN_FILL_MS / 1000} s)`;
  });
  await step('screenshot 04-delist-form-filled.png', () => shot(page, '04-delist-form-filled.png'));

  await step('the form at a phone viewport: 05-delist-form-phone.png', async () => {
    // Only looked at, never sent, from the phone.
    await mobile.goto(`${BASE}/delist?q=${encodeURIComponent(IP)}`, { waitUntil: 'load' });
    await mobile.getByRole('button', { name: 'Request delisting' }).waitFor({ state: 'visible' });
    await overflowCheck(mobile, 'delisting form, phone', true);
    await structureCheck(mobile, 'delisting form');
    return shot(mobile, '05-delist-form-phone.png');
  });

  await step('a click on the button sends the form; the result says Removed', async () => {
    const button = page.getByRole('button', { name: 'Request delisting', exact: true });
    const [resp] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/delist' && r.request().method() === 'POST'),
      button.click(),
    ]);
    await page.waitForLoadState('load');
    const h1 = (await page.locator('h1').first().innerText()).trim();
    const status = await page.locator('[role=status], [role=alert]').first().innerText().catch(() => '');
    check(resp.status() === 200, `POST /delist: HTTP ${resp.status()}; heading ${JSON.stringify(h1)}; ${status}`);
    check(new RegExp(`^Removed:\\s*${escapeRe(IP)}$`).test(h1), `heading is ${JSON.stringify(h1)}; ${status}`);
    return `"${h1}" — ${status.trim()}`;
  });
  await step('result page structure', () => structureCheck(page, 'result page'));
  await step('screenshot 06-delist-removed.png', () => shot(page, '06-delist-removed.png'));

  await step(`lookup page again says "Not listed" in ${ZONE}`, async () => {
    const again = page.getByRole('link', { name: `Look up ${IP} again`, exact: true });
    await Promise.all([page.waitForURL((u) => u.pathname === '/lookup', { waitUntil: 'load' }), again.click()]);
    const sec = zoneSection(page);
    await sec.getByText('Not listed', { exact: false }).first().waitFor({ state: 'visible' });
    check((await sec.locator('.listed').count()) === 0, `the ${ZONE} section still shows a listing`);
    const links = await page.getByRole('link', { name: `Request delisting of ${IP}` }).count();
    check(links === 0, 'the page still offers "Request delisting" for the address');
    return page.url().replace(BASE, '');
  });
  await step('after the removal the page says how it ended and shows the reports as history', async () => {
    const sec = zoneSection(page);
    const status = (await sec.locator('.clean p').first().innerText()).trim();
    check(/removed by self-service delisting on \d{4}-\d\d-\d\d/.test(status), `status is ${JSON.stringify(status)}`);
    await sec.getByRole('heading', { name: 'Earlier reports', exact: true }).waitFor({ state: 'visible' });
    check((await sec.getByRole('heading', { name: 'Latest reports' }).count()) === 0, 'old reports are still "Latest reports"');
    // The score line ends at 0 (the bottom of the plot), after a removal mark.
    const chart = await sec.locator('svg[role=img]').evaluate((svg) => {
      const pts = svg.querySelector('.c-score').getAttribute('points').trim().split(/\s+/).map((p) => p.split(',').map(Number));
      const ys = pts.map((p) => p[1]);
      return {
        lastY: ys[ys.length - 1],
        bottom: Math.max(...ys),
        top: Math.min(...ys),
        removed: svg.querySelectorAll('.c-removed').length,
        title: svg.querySelector('title') && svg.querySelector('title').textContent,
        desc: svg.querySelector('desc') && svg.querySelector('desc').textContent,
      };
    });
    check(chart.removed >= 1, 'no removal mark on the chart');
    check(chart.top < chart.bottom, 'the chart shows no score at all');
    check(chart.lastY === chart.bottom, `the score line ends at y=${chart.lastY}, not at 0 (y=${chart.bottom})`);
    check(chart.title && chart.desc && /Removed by self-service delisting/.test(chart.desc), `chart title/desc: ${JSON.stringify(chart)}`);
    return status;
  });
  await step('lookup page (not listed) structure', () => structureCheck(page, 'lookup page after the removal'));
  await step('screenshot 07-lookup-not-listed.png', () => shot(page, '07-lookup-not-listed.png'));
  await step('lookup page (not listed) at a phone viewport: 08-lookup-not-listed-phone.png', async () => {
    await mobile.goto(lookupUrl, { waitUntil: 'load' });
    await zoneSection(mobile).getByText('Not listed').first().waitFor({ state: 'visible' });
    await overflowCheck(mobile, 'lookup page (not listed), phone', true);
    return shot(mobile, '08-lookup-not-listed-phone.png');
  });
  await step('home page at a desktop viewport: 09-home-desktop.png', async () => {
    const resp = await page.goto(`${BASE}/`, { waitUntil: 'load' });
    check(resp && resp.status() === 200, `GET /: HTTP ${resp && resp.status()}`);
    await page.getByRole('heading', { level: 1 }).waitFor({ state: 'visible' });
    await structureCheck(page, 'home page');
    await overflowCheck(page, 'home page, desktop');
    return shot(page, '09-home-desktop.png');
  });
  await step('home page at a phone viewport: 10-home-phone.png', async () => {
    await mobile.goto(`${BASE}/`, { waitUntil: 'load' });
    await mobile.getByRole('heading', { level: 1 }).waitFor({ state: 'visible' });
    await overflowCheck(mobile, 'home page, phone', true);
    return shot(mobile, '10-home-phone.png');
  });
  await step('keyboard: Tab from the top reaches the skip link, then the content', async () => {
    await page.goto(`${BASE}/lookup`, { waitUntil: 'load' });
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => {
      const a = document.activeElement;
      const cs = getComputedStyle(a);
      return { text: a.textContent.trim(), href: a.getAttribute('href'), outline: cs.outlineStyle, left: a.getBoundingClientRect().left };
    });
    check(first.href === '#main', `the first Tab stop is ${JSON.stringify(first)}`);
    check(first.left >= 0, 'the skip link stays off screen when focused');
    check(first.outline !== 'none', 'no visible focus outline');
    return `"${first.text}" (outline ${first.outline})`;
  });
} catch (e) {
  if (!(e instanceof Stop)) fail(`delist.mjs: ${e && e.stack ? e.stack : e}`);
  // What the browser showed when it went wrong.
  for (const [p, name] of [[current.desktop, '99-failure-desktop.png'], [current.phone, '99-failure-phone.png']]) {
    if (!p || p.isClosed() || p.url() === 'about:blank') continue;
    try {
      console.log(`INFO  at ${p.url()}; screenshot ${await shot(p, name, { timeout: 5_000 })}`);
    } catch {}
  }
} finally {
  clearTimeout(watchdog);
  if (browser) await browser.close().catch(() => {});
}

console.log(fails === 0 ? 'delist.mjs: all steps passed' : `delist.mjs: ${fails} failure(s)`);
// run.sh adds these to its own count for the closing "N passed, N failed" line.
if (process.env.RESULT_FILE) writeFileSync(process.env.RESULT_FILE, `${passes} ${fails}\n`);
process.exit(fails === 0 ? 0 : 1);
