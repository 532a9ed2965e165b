// The browser-test harness: a real profefe on a free loopback port with a
// fresh store, filled with the pprof fixtures (and optionally scraping a
// real hotapp), and Debian's chromium driven by playwright-core (no browser
// download, no network). Any console error or page error fails a test.
// Some tests also run in Debian's firefox-esr (puppeteer-core over
// WebDriver BiDi, behind the same page API: firefox.mjs): bothBrowsers().
//
//   import { startServer, fill, launch, openPage, shot, ... } from './lib.mjs';
//   const srv = await startServer();          // PROFEFE_BIN or build/profefe
//   const data = await fill(srv);             // services shop, checkout, ...
//   const browser = await launch();
//   const page = await openPage(browser, srv.url + '/?query=heap{service="shop"}');
//   ... asserts ...
//   await shot(page, 'query-plot');           // build/screenshots/query-plot.png
//   page.assertClean();                       // no console errors so far
//   await browser.close(); await srv.stop();
//
// The same test in chromium and in firefox (screenshots NAME-firefox.png):
//   bothBrowsers('title', () => browser, async (t, browser) => {
//     const page = await openPage(browser, url); ...    // a test in each
//   });
import { spawn, execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { test, after } from 'node:test';
import { chromium } from 'playwright-core';
import { launchFirefox } from './firefox.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.PROFEFE_BIN || join(ROOT, 'build', 'profefe');
export const FIX = join(ROOT, 'tests', 'fixtures', 'pprof');
export const SHOTS = join(ROOT, process.env.PROFEFE_SCREENSHOTS || 'build/screenshots');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
export const WIDTH = 1280;
export const HEIGHT = 800;

const children = new Set();
process.on('exit', () => { for (const c of children) try { c.kill('SIGKILL'); } catch { /* gone */ } });

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// Wait until the process's stderr has a line matching re; resolves to the match.
function waitLine(proc, re, what, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${what}: no line ${re} within ${timeoutMs} ms:\n${buf.slice(-2000)}`)), timeoutMs);
    const on = (d) => {
      buf += d.toString();
      const m = buf.match(re);
      if (m) { clearTimeout(t); proc.stderr.off('data', on); resolve(m); }
    };
    proc.stderr.on('data', on);
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`${what} exited with ${code}:\n${buf.slice(-2000)}`)); });
  });
}

// startServer({ flags: [...], token: 'secret', config: 'yaml text' }):
// profefe on 127.0.0.1:0 with a fresh store. Returns { url, port, dir,
// token, headers, log(), restart(), stop(), kill() }. restart() stops it
// (SIGTERM: the head is written into blocks) and starts it again on the
// same store (url and port change).
export async function startServer(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'profefe-browser.'));
  const args = ['-addr', '127.0.0.1:0', '-tsdb.dir', join(dir, 'data'), ...(opts.flags || [])];
  if (opts.token) {
    writeFileSync(join(dir, 'token'), opts.token + '\n');
    args.push('-web.auth-token-file', join(dir, 'token'));
  }
  if (opts.config) {
    writeFileSync(join(dir, 'profefe.yaml'), opts.config);
    args.push('-config.file', join(dir, 'profefe.yaml'));
  }
  const headers = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
  let proc, log = '';
  const srv = { dir, token: opts.token || '', headers, log: () => log };
  const begin = async () => {
    proc = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(proc);
    proc.stderr.on('data', (d) => { log += d.toString(); });
    const m = await waitLine(proc, /msg="profefe started".* port=(\d+)/, 'profefe');
    srv.port = Number(m[1]);
    srv.url = `http://127.0.0.1:${srv.port}`;
    for (let i = 0; ; i++) {
      try { if ((await fetch(srv.url + '/-/ready', { headers })).ok) break; } catch { /* not yet */ }
      if (i > 200) throw new Error('profefe not ready:\n' + log.slice(-2000));
      await sleep(50);
    }
  };
  const end = async () => {
    const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve(proc.exitCode)
      : new Promise((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    const code = await exited;
    children.delete(proc);
    assert.equal(code, 0, 'profefe exits 0 on SIGTERM:\n' + log.slice(-2000));
  };
  await begin();
  srv.restart = async () => { await end(); await begin(); };
  srv.stop = async () => {
    try { await end(); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
  // kill(): SIGKILL and the store removed, for a store of no further use
  // whose clean stop a restart() already asserted: a SIGTERM waits for the
  // queries still running, which an aborted fetch does not end.
  srv.kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    children.delete(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  return srv;
}

// ---- profiles ----

function readVarint(b, i) {
  let v = 0n, shift = 0n;
  for (;;) {
    const c = b[i++];
    v |= BigInt(c & 0x7f) << shift;
    if (c < 0x80) return [v, i];
    shift += 7n;
  }
}
function varint(v) {
  const out = [];
  v = BigInt.asUintN(64, BigInt(v));
  do {
    let c = Number(v & 0x7fn);
    v >>= 7n;
    if (v) c |= 0x80;
    out.push(c);
  } while (v);
  return Buffer.from(out);
}

// A gzip'd pprof profile with its time_nanos (field 9) set to ms.
export function retime(gz, ms) {
  const b = gunzipSync(gz);
  const parts = [];
  let i = 0;
  while (i < b.length) {
    const start = i;
    let key;
    [key, i] = readVarint(b, i);
    const field = Number(key >> 3n), wt = Number(key & 7n);
    if (wt === 0) [, i] = readVarint(b, i);
    else if (wt === 1) i += 8;
    else if (wt === 5) i += 4;
    else if (wt === 2) { let n; [n, i] = readVarint(b, i); i += Number(n); }
    else throw new Error(`retime: wire type ${wt} at ${start}`);
    if (field !== 9) parts.push(b.subarray(start, i));
  }
  parts.push(varint(9 << 3), varint(BigInt(Math.round(ms)) * 1000000n));
  return gzipSync(Buffer.concat(parts), { level: 1 });
}

// push(srv, fixture, { service, type, labels: {k: v}, time: ms }) -> meta
// (id, ...). fixture: a name in tests/fixtures/pprof ("heap-001") or a Buffer.
export async function push(srv, fixture, o) {
  let body = Buffer.isBuffer(fixture) ? fixture : readFileSync(join(FIX, fixture + '.pb.gz'));
  if (o.time !== undefined) body = retime(body, o.time);
  const q = new URLSearchParams({ service: o.service, type: o.type });
  const labels = Object.entries(o.labels || {}).map(([k, v]) => `${k}=${v}`).join(',');
  if (labels) q.set('labels', labels);
  let res, text;
  try {
    res = await fetch(`${srv.url}/api/0/profiles?${q}`, { method: 'POST', body, headers: srv.headers });
    text = await res.text();
  } catch (e) { // fetch's "fetch failed" names no cause
    throw new Error(`push ${fixture} ${q}: ${e.message}${e.cause ? `: ${e.cause.code || ''} ${e.cause.message}` : ''}\n${srv.log().slice(-1500)}`);
  }
  assert.equal(res.status, 200, `push ${fixture} ${q}: ${text}`);
  return JSON.parse(text).body;
}

// pushSeries(srv, fixtures, { service, type, labels, n, start, step, conns }):
// n profiles as one series, fast (tests/tools/pprof-pushday, built here by
// make): profile i is fixtures[i % fixtures.length] dated start + i * step
// (ms; its time_nanos rewritten), over conns keep-alive connections (2).
// Resolves to the tool's line
// (pushed=N failed=0 bytes=N seconds=S profiles_per_s=X).
export async function pushSeries(srv, fixtures, o) {
  if (srv.token) throw new Error('pushSeries: only to a server without a token');
  const tool = join(ROOT, 'build', 'tests', 'tools', 'pprof-pushday');
  execFileSync('make', ['--no-print-directory', '-s', 'build/tests/tools/pprof-pushday'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const q = new URLSearchParams({ service: o.service, type: o.type });
  const labels = Object.entries(o.labels || {}).map(([k, v]) => `${k}=${v}`).join(',');
  if (labels) q.set('labels', labels);
  const args = [`${srv.url}/api/0/profiles?${q}`, String(o.n), String(BigInt(o.start) * 1000000n),
    String(BigInt(o.step) * 1000000n), String(o.conns || 2), ...fixtures.map((f) => join(FIX, f + '.pb.gz'))];
  const { stdout } = await promisify(execFile)(tool, args);
  const out = stdout.trim();
  assert.match(out, new RegExp(`^pushed=${o.n} failed=0 `), out);
  return out;
}

// fill(srv): a realistic store. Over the last hour (times rounded to the
// minute, newest about 2 minutes ago):
//   heap   shop     instance web-1, web-2 (region eu), web-3 (region us): heap-001..010
//                   (web-2 from heap-004 on, web-3 from heap-007 on, wrapping), every 6 min
//   heap   checkout instance ck-1: heap-001..010 in reverse order
//   cpu    shop     instance web-1: cpu-001..005, every 12 min
//   allocs, goroutine, block, mutex, threadcreate: shop web-1, one each
// Returns { now, start, end, ids: { 'heap/shop/web-1': [{id, t}, ...] ... } }.
export async function fill(srv) {
  const now = Math.floor(Date.now() / 60000) * 60000 - 120000;
  const start = now - 54 * 60000;
  const ids = {};
  const jobs = [];
  const add = (key, fixture, o) => {
    jobs.push(push(srv, fixture, o).then((meta) => {
      (ids[key] ||= []).push({ id: meta.id, t: o.time });
    }));
  };
  const shop = [['web-1', 'eu'], ['web-2', 'eu'], ['web-3', 'us']];
  for (let i = 0; i < 10; i++) {
    const t = start + i * 6 * 60000;
    shop.forEach(([inst, region], k) => {
      const n = String(((i + 3 * k) % 10) + 1).padStart(3, '0');
      add(`heap/shop/${inst}`, `heap-${n}`, { service: 'shop', type: 'heap', time: t + k * 20000, labels: { instance: inst, region, env: 'prod', version: 'v1.4.2' } });
    });
    add('heap/checkout/ck-1', `heap-${String(10 - i).padStart(3, '0')}`, { service: 'checkout', type: 'heap', time: t + 30000, labels: { instance: 'ck-1', region: 'eu', env: 'prod', version: 'v2.0.1' } });
  }
  for (let i = 0; i < 5; i++)
    add('cpu/shop/web-1', `cpu-00${i + 1}`, { service: 'shop', type: 'cpu', time: start + i * 12 * 60000 + 10000, labels: { instance: 'web-1', region: 'eu', env: 'prod', version: 'v1.4.2' } });
  for (const ty of ['allocs', 'goroutine', 'block', 'mutex', 'threadcreate'])
    add(`${ty}/shop/web-1`, `${ty}-001`, { service: 'shop', type: ty, time: now - 60000, labels: { instance: 'web-1', region: 'eu', env: 'prod', version: 'v1.4.2' } });
  await Promise.all(jobs);
  for (const k of Object.keys(ids)) ids[k].sort((a, b) => a.t - b.t);
  return { now, start, end: now, ids };
}

// ---- a real hotapp, scraped ----

// hotapp(): builds (make hotapp) and starts examples/hotapp on a free port;
// returns { addr, stop() }. A config for startServer: hotappConfig(addr).
export async function hotapp() {
  const bin = join(ROOT, 'build', 'hotapp');
  if (!existsSync(bin)) execFileSync('make', ['--no-print-directory', 'hotapp'], { cwd: ROOT, stdio: 'ignore' });
  const proc = spawn(bin, ['-addr', '127.0.0.1:0', '-load', '0.1', '-workers', '2', '-cache-mib', '8', '-duration', '300s'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  const m = await waitLine(proc, /serving .*on http:\/\/(127\.0\.0\.1:\d+)\//, 'hotapp');
  return {
    addr: m[1],
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      children.delete(proc);
    },
  };
}

// A scrape configuration: job hotapp scraping addrs every 2 s (cpu for 1 s)
// as service "hotapp", and (bad: an address nothing listens on) a job that
// fails.
export function hotappConfig(addrs, bad) {
  let y = `global:
  scrape_interval: 2s
  external_labels: {env: test}
scrape_configs:
  - job_name: hotapp
    static_configs:
      - targets: [${addrs.map((a) => `'${a}'`).join(', ')}]
        labels: {service: hotapp, team: checkout}
    profiling_config:
      pprof_config:
        cpu: {seconds: 1}
`;
  if (bad)
    y += `  - job_name: payments
    static_configs:
      - targets: ['${bad}']
        labels: {service: payments}
    profiling_config:
      pprof_config:
        cpu: {enabled: false}
        block: {enabled: false}
        mutex: {enabled: false}
        threadcreate: {enabled: false}
`;
  return y;
}

// ---- the browser ----

// launch(): Debian's chromium, headless, no sandbox (root), no network
// needs. One per test file. launch('firefox'): Debian's firefox-esr
// (firefox.mjs), headless, light scheme, its profile a copy of the one
// kept in build/firefox-profile.BUILDID (after the first run).
export async function launch(kind = 'chromium') {
  if (kind === 'firefox') return launchFirefox(FIREFOX, join(ROOT, 'build', 'firefox-profile'));
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage',
      '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-default-apps', '--disable-extensions', '--disable-sync', '--metrics-recording-only',
      '--font-render-hinting=none'],
  });
}

// This test file's firefox-esr: launched as its first Firefox test is
// declared (its start, some seconds, overlaps the file's before()), closed
// after its last test. A failed launch fails each Firefox test.
let firefox;
function firefoxBrowser() {
  if (!firefox) {
    firefox = launch('firefox');
    firefox.catch(() => {}); // (awaited by the tests)
  }
  return firefox;
}
after(async () => { if (firefox) await (await firefox.catch(() => null))?.close(); });

// bothBrowsers(name, chromium, fn): test(name) runs fn(t, chromium()) and
// test(`${name} [firefox]`) runs fn(t, firefox-esr); the same body asserts
// the same effects in both, its screenshots NAME.png and NAME-firefox.png.
export function bothBrowsers(name, chromiumBrowser, fn) {
  const ff = firefoxBrowser();
  test(name, (t) => fn(t, chromiumBrowser()));
  test(`${name} [firefox]`, async (t) => fn(t, await ff));
}

// openPage(browser, url, { allow: [RegExp], colorScheme, width, height,
// fresh }): a page at 1280x800 that records console errors and page errors
// into page.problems; allow lists the messages a test expects (a 401 or
// 400 the page shows in plain words). page.assertClean() fails on any
// problem recorded so far. page.closeAll() ends the test's use of it.
//
// One page per browser is reused: a page the last test closed cleanly
// (closeAll() navigated it to about:blank) is the next test's, its
// problems and allow list reset, its viewport and colour scheme set, then
// navigated to url. A new context per page cost a renderer process, the
// app's modules fetched and compiled again, about 1 s of CPU a page. A
// page whose test failed before closeAll() is never reused. fresh: true (a
// test that adds init scripts or listeners, or needs a tab with no
// sessionStorage) gets a context of its own, closed by closeAll().
export async function openPage(browser, url, o = {}) {
  const width = o.width || WIDTH, height = o.height || HEIGHT;
  let page = !o.fresh && browser.spare;
  if (page) {
    browser.spare = null;
    page.problems.length = 0;
    page.allow = o.allow || [];
    await page.fitTo({ width, height, colorScheme: o.colorScheme || 'light' });
  } else {
    page = await newPage(browser, { width, height, colorScheme: o.colorScheme || 'light' }, o.allow || []);
    page.closeAll = async () => {
      if (o.fresh) return page.closeContext();
      // the next test's page: nothing of this test's document runs on
      await page.goto('about:blank');
      browser.spare = page;
    };
  }
  if (url) await page.goto(url, { waitUntil: 'load' });
  return page;
}

// A page in a context of its own whose problems (console errors, page
// errors, failed requests not in page.allow) go to page.problems, with
// assertClean(), closeContext() and fitTo({ width, height, colorScheme }).
async function newPage(browser, o, allow) {
  if (browser.kind === 'firefox') {
    let page;
    const problems = [];
    page = await browser.newPage(o,
      (text, always) => { if (always || !page.allow.some((re) => re.test(text))) problems.push(text); });
    page.kind = 'firefox';
    page.problems = problems;
    page.allow = allow;
    page.assertClean = () => assert.deepEqual(problems, [], 'console errors or page errors (firefox)');
    page.closeContext = () => page.context_.close();
    page.fitTo = async (f) => {
      if (f.colorScheme !== 'light') throw new Error('firefox: only the light scheme (emulateMediaFeatures needs CDP)');
      if (f.width !== o.width || f.height !== o.height) {
        await page.pp.setViewport({ width: f.width, height: f.height, deviceScaleFactor: 1 });
        o = f;
      }
    };
    return page;
  }
  const context = await browser.newContext({
    viewport: { width: o.width, height: o.height },
    colorScheme: o.colorScheme,
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  page.problems = [];
  page.allow = allow;
  const allowed = (text) => page.allow.some((re) => re.test(text));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location();
    const text = `console error: ${msg.text()}${loc && loc.url ? ` (${loc.url})` : ''}`;
    if (!allowed(text)) page.problems.push(text);
  });
  page.on('pageerror', (err) => { page.problems.push(`page error: ${err.message}\n${err.stack || ''}`); });
  page.on('requestfailed', (req) => {
    const f = req.failure();
    if (f && /ERR_ABORTED/.test(f.errorText)) return; // navigations away, aborted fetches
    const text = `request failed: ${req.url()} ${f ? f.errorText : ''}`;
    if (!allowed(text)) page.problems.push(text);
  });
  page.assertClean = () => assert.deepEqual(page.problems, [], 'console errors or page errors');
  page.closeContext = () => context.close();
  page.fitTo = async (f) => {
    if (f.width !== o.width || f.height !== o.height) await page.setViewportSize({ width: f.width, height: f.height });
    if (f.colorScheme !== o.colorScheme) await page.emulateMedia({ colorScheme: f.colorScheme });
    o = f;
  };
  return page;
}

// shot(page, name): build/screenshots/NAME.png of the viewport
// (NAME-firefox.png in firefox).
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, name + (page.kind === 'firefox' ? '-firefox' : '') + '.png');
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

// The data of an API call, as the page would get it (with the server's token).
export async function apiGet(srv, path, params) {
  const q = new URLSearchParams(params || {});
  const res = await fetch(`${srv.url}${path}${[...q].length ? '?' + q : ''}`, { headers: srv.headers });
  const body = await res.json();
  assert.equal(body.status, 'success', `${path}: ${JSON.stringify(body)}`);
  return body.data;
}

// Time in ms it took fn to run (printed by tests as a measure, never asserted).
export async function timed(fn) {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

export { sleep, assert };
