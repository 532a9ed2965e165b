// Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi, behind
// the part of playwright-core's Page API that the browser tests use, so
// that one test body runs in chromium (playwright-core) and in Firefox.
// lib.mjs's launch('firefox') and openPage() use it; tests do not import it.
//
// Covered: page.goto, reload, goBack, url, title, evaluate, waitForFunction
// (fn, arg, {timeout}), waitForSelector (visible, as playwright's
// default), waitForURL (RegExp or fn(URL)), click, fill, press, focus,
// selectOption, textContent, getAttribute, inputValue, isVisible, $eval,
// $$eval, mouse, keyboard (with "Shift+Tab" combinations), screenshot and
// locator(sel) with locator, first, nth, count, allTextContents,
// evaluateAll, getAttribute, textContent, inputValue, click. Selectors are
// CSS, chained with " >> ", a link of which may be text=WORDS (the
// deepest elements whose text holds WORDS, case-insensitive). Anything
// else throws, so a test that needs more says so at once.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import puppeteer from 'puppeteer-core';

const TIMEOUT = 30000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// In the page: the elements a chain of steps finds. A step is a selector
// string (CSS links joined by " >> ", or text=...) or {nth: i}.
function resolve(steps) {
  let els = [document];
  for (const s of steps) {
    if (typeof s === 'object') {
      els = els.length ? [els[s.nth < 0 ? els.length + s.nth : s.nth]].filter(Boolean) : [];
      continue;
    }
    for (const part of s.split(' >> ')) {
      const next = new Set();
      for (const root of els) {
        if (part.startsWith('text=')) {
          const want = part.slice(5).replace(/^"(.*)"$/, '$1').toLowerCase();
          const has = (e) => e.textContent.replace(/\s+/g, ' ').toLowerCase().includes(want);
          const all = root === document ? [...document.querySelectorAll('*')] : [root, ...root.querySelectorAll('*')];
          for (const e of all) if (has(e) && ![...e.children].some(has)) next.add(e);
        } else {
          for (const e of root.querySelectorAll(part)) next.add(e);
        }
      }
      els = [...next];
    }
  }
  return els;
}

// In the page: visible as playwright has it (a box, not visibility:hidden).
function visible(e) {
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
}

// The page-side expression: fnSrc(elements, arg) over the steps' elements.
function expr(steps, fnSrc, arg) {
  return `(() => { const resolve = ${resolve}; const visible = ${visible};
    return (${fnSrc})(resolve(${JSON.stringify(steps)}), ${JSON.stringify(arg === undefined ? null : arg)}); })()`;
}

class Locator {
  constructor(page, steps) { this.page = page; this.steps = steps; }
  locator(sel) { return new Locator(this.page, [...this.steps, sel]); }
  first() { return new Locator(this.page, [...this.steps, { nth: 0 }]); }
  nth(i) { return new Locator(this.page, [...this.steps, { nth: i }]); }
  all(fn, arg) { return this.page.pp.evaluate(expr(this.steps, fn, arg)); }
  // the first element's fn(e, arg), once there is one
  async one(fn, arg, state = 'attached') {
    const test = state === 'visible' ? '(es) => es.some(visible)' : '(es) => es.length > 0';
    await this.page.pp.waitForFunction(expr(this.steps, test), { timeout: TIMEOUT, polling: 50 })
      .catch((e) => { throw new Error(`no ${state} element for ${JSON.stringify(this.steps)}: ${e.message}`); });
    const pick = state === 'visible' ? 'es.find(visible)' : 'es[0]';
    return this.page.pp.evaluate(expr(this.steps, `(es, arg) => { const e = ${pick}; return (${fn})(e, arg); }`, arg));
  }
  count() { return this.all('(es) => es.length'); }
  allTextContents() { return this.all('(es) => es.map((e) => e.textContent)'); }
  evaluateAll(fn) { return this.all(String(fn)); }
  getAttribute(name) { return this.one('(e, n) => e.getAttribute(n)', name); }
  textContent() { return this.one('(e) => e.textContent'); }
  inputValue() { return this.one('(e) => e.value'); }
  isVisible() { return this.all('(es) => es.length > 0 && visible(es[0])'); }
  waitFor() { return this.one('() => true', null, 'visible'); }
  // a real click at the middle of the element, scrolled into view
  async click() {
    await this.one('(e) => e.scrollIntoView({ block: "center", inline: "center" })', null, 'visible');
    const box = await this.one('(e) => { const r = e.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; }', null, 'visible');
    await this.page.pp.mouse.click(box.x, box.y);
  }
  async focus() { await this.one('(e) => e.focus()'); }
  // playwright's fill: text typed in one input event; other inputs (dates)
  // and selects set with input and change events
  async fill(value) {
    await this.one(`(e, v) => {
      e.focus();
      const text = e.tagName === 'TEXTAREA' || ['text', 'search', 'url', 'email', 'password', 'tel', ''].includes(e.getAttribute('type') || '');
      if (text) {
        e.select();
        if (v === '' ? document.execCommand('delete') : document.execCommand('insertText', false, v)) if (e.value === v) return;
      }
      e.value = v;
      e.dispatchEvent(new Event('input', { bubbles: true }));
      if (!text) e.dispatchEvent(new Event('change', { bubbles: true }));
    }`, value, 'visible');
  }
  async selectOption(value) {
    await this.one(`(e, v) => {
      if (![...e.options].some((o) => o.value === v)) throw new Error('no option ' + v);
      e.value = v;
      e.dispatchEvent(new Event('input', { bubbles: true }));
      e.dispatchEvent(new Event('change', { bubbles: true }));
    }`, value, 'visible');
  }
  async press(key) { await this.focus(); await this.page.keyboard.press(key); }
}

class Keyboard {
  constructor(kb) { this.kb = kb; }
  type(text) { return this.kb.type(text); }
  down(key) { return this.kb.down(key); }
  up(key) { return this.kb.up(key); }
  // "Shift+Tab": the modifiers held around the key
  async press(combo) {
    const keys = combo.length > 1 ? combo.split('+') : [combo];
    for (const k of keys.slice(0, -1)) await this.kb.down(k);
    await this.kb.press(keys[keys.length - 1]);
    for (const k of keys.slice(0, -1).reverse()) await this.kb.up(k);
  }
}

class Page {
  constructor(pp, context) {
    this.pp = pp;
    this.context_ = context;
    this.mouse = pp.mouse;
    this.keyboard = new Keyboard(pp.keyboard);
  }
  locator(sel) { return new Locator(this, [sel]); }
  url() { return this.pp.url(); }
  title() { return this.pp.title(); }
  goto(url, o = {}) { return this.pp.goto(url, { waitUntil: o.waitUntil || 'load', timeout: TIMEOUT }); }
  reload() { return this.pp.reload({ waitUntil: 'load', timeout: TIMEOUT }); }
  // history.back(), then wait for the URL to change (the app's pages are
  // one document: a back is mostly a popstate)
  async goBack() {
    const before = this.pp.url();
    await this.pp.evaluate(() => history.back());
    for (let t0 = Date.now(); this.pp.url() === before; await sleep(20))
      if (Date.now() - t0 > TIMEOUT) throw new Error(`goBack: still at ${before}`);
    await this.pp.waitForFunction(() => document.readyState === 'complete', { timeout: TIMEOUT });
  }
  evaluate(fn, arg) { return this.pp.evaluate(fn, arg); }
  waitForFunction(fn, arg, o = {}) {
    return this.pp.waitForFunction(fn, { timeout: o.timeout || TIMEOUT, polling: 50 }, arg);
  }
  async waitForSelector(sel) { await this.locator(sel).waitFor(); }
  async waitForURL(want) {
    const ok = () => (want instanceof RegExp ? want.test(this.pp.url()) : want(new URL(this.pp.url())));
    for (let t0 = Date.now(); !ok(); await sleep(20))
      if (Date.now() - t0 > TIMEOUT) throw new Error(`waitForURL ${want}: at ${this.pp.url()}`);
  }
  click(sel) { return this.locator(sel).click(); }
  fill(sel, v) { return this.locator(sel).fill(v); }
  press(sel, key) { return this.locator(sel).press(key); }
  focus(sel) { return this.locator(sel).focus(); }
  selectOption(sel, v) { return this.locator(sel).selectOption(v); }
  textContent(sel) { return this.locator(sel).textContent(); }
  getAttribute(sel, name) { return this.locator(sel).getAttribute(name); }
  inputValue(sel) { return this.locator(sel).inputValue(); }
  isVisible(sel) { return this.locator(sel).isVisible(); }
  $eval(sel, fn, arg) { return this.locator(sel).one(String(fn), arg); }
  $$eval(sel, fn, arg) { return this.locator(sel).all(String(fn), arg); }
  screenshot(o) { return this.pp.screenshot({ path: o.path, fullPage: !!o.fullPage }); }
}

// launchFirefox(executablePath, keepDir): one firefox-esr, headless, light
// scheme. Returns { kind: 'firefox', newPage(o), close() }.
//
// keepDir (optional): where a used profile is kept for the next launches,
// one per Firefox build (keepDir.BUILDID). A fresh profile's first start
// spent about 1.8 s of CPU more (its startup cache, databases and add-on
// state created): each launch starts from a copy of the kept profile when
// there is one; the first clean close without one leaves its profile
// there (renamed into place: test files running side by side never see a
// half-written one), its lock, session, caches and site data removed.
export async function launchFirefox(executablePath, keepDir) {
  let keep = null;
  if (keepDir) {
    try {
      const ini = readFileSync(join(dirname(realpathSync(executablePath)), 'application.ini'), 'utf8');
      const id = (ini.match(/^BuildID=(\d+)$/m) || [])[1];
      if (id) keep = `${keepDir}.${id}`;
    } catch { /* no build id: a fresh profile each time */ }
  }
  // beside the kept one, so that the rename stays on one file system
  if (keep) mkdirSync(dirname(keep), { recursive: true });
  const profile = mkdtempSync(keep ? `${keep}.run-` : join(tmpdir(), 'profefe-firefox.'));
  const kept = keep && existsSync(keep);
  if (kept) cpSync(keep, profile, { recursive: true });
  let browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox', executablePath, headless: true, userDataDir: profile,
      // a first start on a busy machine (make test runs other suites beside
      // these) took over puppeteer's default 30 s to print its endpoint
      timeout: 180000,
      extraPrefsFirefox: {
        'layout.css.prefers-color-scheme.content-override': 1, // light, as the chromium tests' default
        'ui.systemUsesDarkTheme': 0,
      },
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const close = async () => {
    try {
      await browser.close();
      if (keep && !kept && !existsSync(keep)) {
        for (const f of ['lock', '.parentlock', 'sessionstore.jsonlz4', 'sessionstore-backups', 'sessionCheckpoints.json',
          'cache2', 'storage', 'crashes', 'minidumps', 'thumbnails'])
          rmSync(join(profile, f), { recursive: true, force: true });
        try { renameSync(profile, keep); } catch { /* another file's profile got there first */ }
      }
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  };
  return {
    kind: 'firefox',
    // a page in a context of its own, at width x height, and its problems:
    // console errors, page errors, failed requests (via report(text))
    async newPage(o, report) {
      if (o.colorScheme && o.colorScheme !== 'light') throw new Error('firefox: only the light scheme (emulateMediaFeatures needs CDP)');
      const context = await browser.createBrowserContext();
      const pp = await context.newPage();
      await pp.setViewport({ width: o.width, height: o.height, deviceScaleFactor: 1 });
      pp.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const loc = msg.location();
        report(`console error: ${msg.text()}${loc && loc.url ? ` (${loc.url})` : ''}`);
      });
      pp.on('pageerror', (err) => report(`page error: ${err.message}\n${err.stack || ''}`, true));
      pp.on('requestfailed', (req) => {
        const f = req.failure();
        if (f && /NS_BINDING_ABORTED|NS_ERROR_ABORT/.test(f.errorText)) return; // navigations away, aborted fetches
        report(`request failed: ${req.url()} ${f ? f.errorText : ''}`);
      });
      const page = new Page(pp, context);
      page.closeAll = () => context.close();
      return page;
    },
    close,
  };
}
