// The Query page in headless Chromium against a real profefe filled with
// the fixtures: completion, the plot, click/drag/shift-drag, presets, the
// URL as the state, empty and error states.
import { test, before, after } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIX, startServer, fill, launch, openPage, shot, assert, hotapp, hotappConfig, apiGet, sleep, bothBrowsers } from './lib.mjs';

let srv, data, browser, hot;
const SHOP = 'heap{service="shop"}';
const q = (s) => encodeURIComponent(s);

// the fixtures, and a real hotapp scraped every 2 s (its profiles pile up
// while the other tests run; the last test plots them)
before(async () => {
  hot = await hotapp();
  srv = await startServer({ config: hotappConfig([hot.addr]) });
  data = await fill(srv);
  browser = await launch();
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
  if (hot) await hot.stop();
});

// a page of this server (in o.browser: chromium unless a Firefox test's)
async function open(path, o = {}) {
  return openPage(o.browser || browser, srv.url + path, { ...o, allow: o.allow || [] });
}

// the plot's points: [{ si, di, t, v, x, y }] in page coordinates
async function points(page) {
  return page.evaluate(() => {
    const u = document.querySelector('#plot').uplot;
    const r = u.over.getBoundingClientRect();
    const out = [];
    for (let si = 1; si < u.data.length; si++)
      for (let di = 0; di < u.data[0].length; di++)
        if (u.data[si][di] !== null)
          out.push({ si, di, t: Math.round(u.data[0][di] * 1000), v: u.data[si][di],
            x: r.left + u.valToPos(u.data[0][di], 'x'), y: r.top + u.valToPos(u.data[si][di], 'y') });
    return out;
  });
}

async function plotReady(page) {
  await page.waitForSelector('#plot .u-over');
  await page.waitForFunction(() => document.querySelector('#plot').uplot);
}

function params(page) {
  return new URL(page.url()).searchParams;
}

bothBrowsers('completion: type a selector, pick a type, a label name and a value with the keyboard', () => browser, async (t, browser) => {
  const page = await open('/', { browser });
  await page.waitForSelector('#pick-series');
  await page.click('#selector');
  await page.keyboard.type('he');
  await page.waitForSelector('#completions li[aria-selected=true] >> text=heap');
  await page.keyboard.press('Enter');
  assert.equal(await page.inputValue('#selector'), 'heap{');
  await page.waitForSelector('#completions >> text=instance');
  await page.keyboard.type('se');
  await page.waitForSelector('#completions li[aria-selected=true] >> text=service');
  await page.keyboard.press('Tab');
  assert.equal(await page.inputValue('#selector'), 'heap{service="');
  await page.waitForSelector('#completions >> text=checkout');
  const values = await page.$$eval('#completions li .completion-text', (ls) => ls.map((l) => l.textContent));
  assert.deepEqual(values, ['checkout', 'hotapp', 'shop']);
  await shot(page, 'query-completion');
  await page.keyboard.type('s');
  await page.waitForSelector('#completions li[aria-selected=true] >> text=shop');
  await page.keyboard.press('Enter');
  assert.equal(await page.inputValue('#selector'), SHOP);
  await page.keyboard.press('Enter'); // the list is closed: runs the query
  await page.waitForURL((u) => u.searchParams.get('query') === SHOP);
  await plotReady(page);
  assert.equal(await page.$$eval('#legend tbody tr', (r) => r.length), 3);
  page.assertClean();
  await page.closeAll();
});

test('completion: names and values of the series the other matchers find', async () => {
  const page = await open('/');
  await page.waitForSelector('#pick-series');
  await page.click('#selector');
  await page.keyboard.type('heap{service="shop", instance="');
  await page.waitForSelector('#completions >> text=web-1');
  assert.deepEqual(await page.$$eval('#completions li .completion-text', (ls) => ls.map((l) => l.textContent)), ['web-1', 'web-2', 'web-3']);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Tab');
  assert.equal(await page.inputValue('#selector'), 'heap{service="shop", instance="web-3"}');
  // the matcher being edited does not narrow its own values
  await page.fill('#selector', 'heap{service="sh"}');
  await page.focus('#selector');
  await page.evaluate(() => { const i = document.querySelector('#selector'); i.setSelectionRange(16, 16); i.dispatchEvent(new Event('input')); });
  await page.waitForSelector('#completions >> text=shop');
  assert.deepEqual(await page.$$eval('#completions li .completion-text', (ls) => ls.map((l) => l.textContent)), ['shop']);
  page.assertClean();
  await page.closeAll();
});

bothBrowsers('plot: one line per series; hover shows labels, time and value', () => browser, async (t, browser) => {
  const t0 = Date.now();
  const page = await open(`/?query=${q(SHOP)}&range=1h`, { browser });
  await plotReady(page);
  t.diagnostic(`page opened to plot drawn: ${Date.now() - t0} ms (query_range to plot: ${await page.getAttribute('.page', 'data-draw-ms')} ms)`);
  const pts = await points(page);
  assert.equal(pts.length, 30, '3 series x 10 profiles');
  assert.deepEqual([...new Set(pts.map((p) => p.si))], [1, 2, 3]);
  assert.equal(await page.inputValue('#sample'), 'inuse_space', 'heap plots inuse_space first');
  assert.equal(await page.inputValue('#type'), 'heap');
  // the 6th point of web-2
  const p = pts.filter((x) => x.si === 2)[5];
  const h0 = Date.now();
  await page.mouse.move(p.x, p.y);
  await page.waitForSelector('#plot-tip:not([hidden])');
  t.diagnostic(`hover to tooltip: ${Date.now() - h0} ms`);
  const tip = await page.textContent('#plot-tip');
  assert.match(tip, /instance="web-2"/);
  assert.match(tip, /inuse_space/);
  assert.match(tip, /MiB/);
  const d = new Date(p.t);
  const hhmm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  assert.ok(tip.includes(hhmm), `tip ${tip} shows the time ${hhmm}`);
  await shot(page, 'query-plot-hover');
  page.assertClean();
  await page.closeAll();
});

test('click a point: /profile?id= of that profile', async () => {
  const page = await open(`/?query=${q(SHOP)}&range=1h`);
  await plotReady(page);
  const pts = await points(page);
  const p = pts.filter((x) => x.si === 1)[3]; // web-1's 4th
  const want = data.ids['heap/shop/web-1'].find((x) => x.t === p.t);
  assert.ok(want, 'the point is a pushed profile');
  await page.mouse.move(p.x, p.y);
  await page.mouse.click(p.x, p.y);
  await page.waitForURL(/\/profile\?/);
  assert.equal(params(page).get('id'), want.id);
  assert.equal(params(page).get('sample_index'), 'inuse_space');
  // back: the same plot again
  await page.goBack();
  await plotReady(page);
  assert.equal(await page.inputValue('#selector'), SHOP);
  page.assertClean();
  await page.closeAll();
});

bothBrowsers('drag a range: the merge URL; shift-drag twice: the diff URL', () => browser, async (t, browser) => {
  const page = await open(`/?query=${q(SHOP)}&range=1h`, { browser });
  await plotReady(page);
  const box = await page.$eval('#plot .u-over', (e) => { const r = e.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; });
  const y = box.y + box.h / 2;
  const dragAt = async (f0, f1, shift) => {
    if (shift) await page.keyboard.down('Shift');
    await page.mouse.move(box.x + box.w * f0, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.w * (f0 + f1) / 2, y, { steps: 4 });
    await page.mouse.move(box.x + box.w * f1, y, { steps: 4 });
    await page.mouse.up();
    if (shift) await page.keyboard.up('Shift');
  };
  // the time at a fraction of the plot's width
  const timeAt = (f) => page.evaluate((x) => {
    const u = document.querySelector('#plot').uplot;
    return Math.round(u.posToVal(x, 'x') * 1000);
  }, box.w * f);

  const [m0, m1] = [await timeAt(0.2), await timeAt(0.5)];
  await dragAt(0.2, 0.5, false);
  await page.waitForURL(/\/profile\?/);
  let p = params(page);
  assert.equal(p.get('query'), SHOP);
  assert.ok(Math.abs(Number(p.get('start')) - m0) < 30000, `merge start ${p.get('start')} near ${m0}`);
  assert.ok(Math.abs(Number(p.get('end')) - m1) < 30000, `merge end ${p.get('end')} near ${m1}`);
  assert.equal(p.get('base_start'), null);

  await page.goBack();
  await plotReady(page);
  await dragAt(0.1, 0.35, true); // the base
  await page.waitForURL((u) => u.pathname === '/' && u.searchParams.has('base_start'));
  await plotReady(page);
  const b = params(page);
  assert.ok(Number(b.get('base_start')) < Number(b.get('base_end')));
  assert.match(await page.textContent('#base-msg'), /Base range/);
  await shot(page, 'query-base-range');
  await dragAt(0.6, 0.9, true); // the target
  await page.waitForURL(/\/profile\?/);
  p = params(page);
  assert.equal(p.get('query'), SHOP);
  assert.equal(p.get('base_start'), b.get('base_start'));
  assert.equal(p.get('base_end'), b.get('base_end'));
  assert.ok(Number(p.get('start')) > Number(b.get('base_end')), 'the target range is the second');
  assert.ok(Number(p.get('start')) < Number(p.get('end')));
  page.assertClean();
  await page.closeAll();
});

test('a shared URL reopens the same view; presets; back button', async () => {
  const start = data.start - 60000, end = data.end + 60000;
  const url = `/?query=${q('cpu{service="shop"}')}&start=${start}&end=${end}&sample=samples`;
  const page = await open(url);
  await plotReady(page);
  assert.equal(await page.inputValue('#selector'), 'cpu{service="shop"}');
  assert.equal(await page.inputValue('#type'), 'cpu');
  assert.equal(await page.inputValue('#sample'), 'samples');
  assert.equal(new Date(await page.inputValue('#start')).getTime(), Math.floor(start / 1000) * 1000);
  assert.equal((await points(page)).length, 5, 'cpu-001..005');
  const scale = await page.evaluate(() => { const u = document.querySelector('#plot').uplot; return [u.scales.x.min, u.scales.x.max]; });
  assert.deepEqual(scale, [start / 1000, end / 1000]);
  await shot(page, 'query-shared-url');

  // presets: 15m holds the last 3 heap profiles of each series
  await page.fill('#selector', SHOP);
  await page.press('#selector', 'Escape');
  await page.click('#run');
  await plotReady(page);
  await page.click('button[data-range="15m"]');
  await page.waitForURL((u) => u.searchParams.get('range') === '15m');
  await plotReady(page);
  assert.equal(await page.getAttribute('button[data-range="15m"]', 'aria-pressed'), 'true');
  // as many as were pushed in the plotted 15 minutes (2 or 3 each, by the clock)
  const [x0, x1] = await page.evaluate(() => { const u = document.querySelector('#plot').uplot; return [u.scales.x.min * 1000, u.scales.x.max * 1000]; });
  assert.ok(Math.abs(x1 - x0 - 15 * 60000) < 2000);
  const want = ['web-1', 'web-2', 'web-3'].map((i) => String(data.ids[`heap/shop/${i}`].filter((x) => x.t >= x0 && x.t <= x1).length));
  assert.ok(want.every((n) => n >= 2), `recent profiles: ${want}`);
  assert.deepEqual(await page.$$eval('#legend tbody tr td:nth-child(3)', (t) => t.map((x) => x.textContent)), want);
  await page.click('button[data-range="6h"]');
  await page.waitForURL((u) => u.searchParams.get('range') === '6h');
  await plotReady(page);
  const span = await page.evaluate(() => { const u = document.querySelector('#plot').uplot; return u.scales.x.max - u.scales.x.min; });
  assert.ok(Math.abs(span - 6 * 3600) < 2, `6h on the x axis, got ${span}`);
  // back twice: 15m, then the shop query with the shared range's times
  await page.goBack();
  await page.waitForURL((u) => u.searchParams.get('range') === '15m');
  await plotReady(page);
  assert.equal(await page.getAttribute('button[data-range="15m"]', 'aria-pressed'), 'true');
  page.assertClean();
  await page.closeAll();
});

test('keyboard: Start and End fields set the range; the merge and diff buttons open it', async () => {
  const page = await open(`/?query=${q(SHOP)}&range=1h`);
  await plotReady(page);
  const s = data.start + 5 * 60000, e = data.start + 25 * 60000;
  const local = (ms) => { const d = new Date(ms); const p = (n) => String(n).padStart(2, '0'); return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`; };
  // reachable by Tab from the selector
  await page.focus('#selector');
  const order = [];
  for (let i = 0; i < 40 && !order.includes('end'); i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.textContent));
  }
  assert.ok(order.includes('start') && order.includes('end'), `Tab reaches start and end: ${order}`);
  await page.fill('#start', local(s));
  await page.fill('#end', local(e));
  await page.press('#end', 'Enter');
  await page.waitForURL((u) => u.searchParams.get('start') === String(s));
  await plotReady(page);
  assert.equal(params(page).get('end'), String(e));
  assert.equal(await page.getAttribute('#open-merge', 'href'), `/profile?query=${q(SHOP)}&start=${s}&end=${e}&sample_index=inuse_space`);
  await page.click('#set-base');
  await page.waitForURL((u) => u.searchParams.get('base_start') === String(s));
  await plotReady(page);
  await page.fill('#start', local(e));
  await page.fill('#end', local(e + 20 * 60000));
  await page.click('#apply-range');
  await page.waitForURL((u) => u.searchParams.get('start') === String(e));
  await plotReady(page);
  const diff = new URL(await page.getAttribute('#open-diff', 'href'), srv.url).searchParams;
  assert.deepEqual([diff.get('start'), diff.get('end'), diff.get('base_start'), diff.get('base_end')],
    [String(e), String(e + 20 * 60000), String(s), String(e)]);
  page.assertClean();
  await page.closeAll();
});

test('no match: says what matched nothing and offers longer ranges', async () => {
  const page = await open(`/?query=${q('heap{service="nope"}')}`);
  await page.waitForSelector('#no-match');
  assert.match(await page.textContent('#no-match'), /Nothing matches heap\{service="nope"\}/);
  page.assertClean();
  await page.closeAll();
});

test('an API error in plain words: a selector syntax error with its column', async () => {
  const bad = '{service="shop"';
  const page = await open(`/?query=${q(bad)}`, { allow: [/status of 400/] });
  await page.waitForSelector('.error');
  const text = await page.textContent('.error');
  assert.match(text, /parse error/);
  assert.match(text, /syntax error at column 16/);
  assert.match(text, /heap\{service="shop", instance=~"web-\.\*"\}/, 'shows a valid selector');
  assert.equal(await page.getAttribute('#selector', 'aria-invalid'), 'true');
  await shot(page, 'query-error');
  page.assertClean();
  await page.closeAll();
});

test('empty store: how to push with curl and add a scrape target', async () => {
  const empty = await startServer();
  try {
    const page = await openPage(browser, empty.url + '/');
    await page.waitForSelector('#empty-store');
    const text = await page.textContent('#empty-store');
    assert.ok(text.includes(`curl -X POST --data-binary @heap.pb.gz \\\n  'http://127.0.0.1:${empty.port}/api/0/profiles?service=NAME&type=heap'`), text);
    assert.match(text, /scrape_configs:\n {2}- job_name: myapp/);
    assert.match(text, /examples\/profefe\.yaml/);
    await shot(page, 'query-empty');
    page.assertClean();
    await page.closeAll();
  } finally {
    await empty.stop();
  }
});

test('traces: no totals to plot, so the page lists them, each a download of the stored bytes', async () => {
  const body = readFileSync(join(FIX, 'trace-001.out'));
  const ids = [];
  for (const ago of [120, 60]) {
    const res = await fetch(`${srv.url}/api/0/profiles?service=tracer&type=trace&created_at=${Math.floor(data.now / 1000) - ago}`, { method: 'POST', body });
    assert.equal(res.status, 200);
    ids.push((await res.json()).body.id);
  }
  const page = await openPage(browser, `${srv.url}/?query=${q('trace{service="tracer"}')}&range=1h`);
  await page.waitForSelector('#traces li a');
  const hrefs = await page.locator('#traces li a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.deepEqual(hrefs, ids.slice().reverse().map((id) => `/api/0/profiles/${id}`), 'newest first');
  assert.match(await page.textContent('#traces'), /2 Go execution traces/);
  assert.equal(await page.locator('#plot').count(), 0);
  const got = await fetch(new URL(hrefs[0], srv.url));
  assert.ok(Buffer.from(await got.arrayBuffer()).equals(body), 'the trace byte for byte');
  page.assertClean();
  await page.closeAll();
});

test('a scraped program: hotapp\'s heap over time, per instance', async () => {
  const sel = 'heap{service="hotapp"}';
  let n = 0, first = 0;
  for (let i = 0; i < 100 && n < 3; i++) {
    const r = await apiGet(srv, '/api/v1/query_range', { query: sel });
    n = r.length ? r[0].samples.length : 0;
    if (n) first = r[0].samples[0].t;
    if (n < 3) await sleep(200);
  }
  assert.ok(n >= 3, `hotapp's heap scraped ${n} times`);
  // the seconds since the first scrape, as a custom range
  const page = await open(`/?query=${q(sel)}&start=${first - 2000}&end=${Date.now() + 1000}`);
  await plotReady(page);
  const pts = await points(page);
  assert.ok(pts.length >= 3 && pts.every((p) => p.si === 1 && p.v > 0), `one series of ${pts.length} points`);
  assert.match(await page.textContent('#legend'), new RegExp(`instance="${hot.addr.replace(/\./g, '\\.')}"`));
  assert.match(await page.textContent('#legend'), /job="hotapp"/);
  await page.selectOption('#type', 'cpu');
  await page.waitForURL((u) => u.searchParams.get('query') === 'cpu{service="hotapp"}');
  await page.waitForSelector('#plot .u-over, #no-match');
  await page.goBack();
  await plotReady(page);
  await shot(page, 'query-hotapp');
  page.assertClean();
  await page.closeAll();
});
