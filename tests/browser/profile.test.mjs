// The Profile view (SPEC §7) in real headless chromium against a real
// profefe filled with the pprof fixtures: flame graph, top table, zoom,
// search, flame + table, sandwich, diff, sample types, download and the
// go tool pprof command (fetched by go tool pprof itself), a reload that
// reopens the same view, one function over time, "show more" and the
// timings of heap-large-001 and of a merged day (1 440 heap profiles of one
// series, one a minute; printed, not asserted).
import { test, before, after } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startServer, fill, launch, openPage, shot, push, pushSeries, apiGet, assert, sleep, bothBrowsers } from './lib.mjs';

let srv, data, browser, large, day, daySrv, dayReady;
const SHOP = 'heap{service="shop"}';

before(async () => {
  // A day of one series on a server of its own: a heap profile every 60 s,
  // the default scrape_interval (heap-001..010 in turn, time_nanos
  // rewritten), 1 440 in all, pushed
  // while the other tests run (the timed ones come last), then a restart
  // that writes the head into blocks, as a day-old range is stored
  // (day-long blocks, as compaction would make them, so that the restart
  // need not compact twelve 2 h blocks).
  const dayEnd = Math.floor(Date.now() / 60000) * 60000 - 120000;
  const dayStart = dayEnd - 24 * 3600e3;
  day = { start: dayStart, end: dayEnd, n: 1440 };
  daySrv = await startServer({ flags: ['-tsdb.block-duration', '24h'] });
  dayReady = (async () => {
    const t0 = performance.now();
    const fixtures = Array.from({ length: 10 }, (_, k) => `heap-${String(k + 1).padStart(3, '0')}`);
    day.pushed = await pushSeries(daySrv, fixtures, {
      service: 'catalog', type: 'heap', n: day.n, start: dayStart, step: 60000, conns: 2,
      labels: { instance: 'cat-1', region: 'us', env: 'prod', version: 'v0.9.7' },
    });
    const t1 = performance.now();
    await daySrv.restart();
    day.fillMs = { push: Math.round(t1 - t0), restart: Math.round(performance.now() - t1) };
  })();
  dayReady.catch(() => {}); // awaited (and failing) in the tests that need it
  srv = await startServer();
  data = await fill(srv);
  large = await push(srv, 'heap-large-001', {
    service: 'platform', type: 'heap', time: data.now - 5 * 60000,
    labels: { instance: 'plat-1', region: 'eu', env: 'prod', version: 'v3.1.0' },
  });
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (dayReady) await dayReady.catch(() => {});
  // stopped (SIGTERM, exit 0 asserted): the query_range focus= over the
  // whole day that the merged day's zoom starts for the over-time plot,
  // which the test does not wait for, reads the stored rows (0.2 s of CPU,
  // not 10) and gives up when its fetch is aborted or the server stops
  if (daySrv) await daySrv.stop();
  if (srv) await srv.stop();
});

const lastHeap = () => data.ids['heap/shop/web-1'][9].id;
const firstHeap = () => data.ids['heap/shop/web-1'][0].id;

// Wait for the flame graph in host (a CSS selector) to have data.
async function waitFlame(page, host = '#flame-main') {
  await page.waitForFunction((h) => {
    const e = document.querySelector(h);
    return e && e.__flame && e.__flame.n > 0 && e.__flame.lastDraw;
  }, host, { timeout: 20000 });
}

// The share of the flame canvas's pixels that are painted (not blank).
async function ink(page, host = '#flame-main') {
  return page.evaluate((h) => {
    const c = document.querySelector(h + ' canvas');
    const g = c.getContext('2d');
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < d.length; i += 4 * 7) if (d[i] > 0) painted++;
    return painted / (d.length / (4 * 7));
  }, host);
}

// Page coordinates of the centre of the widest frame named name.
async function frameAt(page, name, host = '#flame-main') {
  return page.evaluate(([h, nm]) => {
    const f = document.querySelector(h).__flame;
    let best = -1;
    for (let i = 0; i < f.n; i++) if (f.name[i] === nm && (best < 0 || f.w[i] > f.w[best])) best = i;
    if (best < 0) return null;
    const b = f.bounds(best);
    const r = f.canvas.getBoundingClientRect();
    return { x: r.left + b.x + Math.min(b.w, 200) / 2, y: r.top + b.y + 11, k: best };
  }, [host, name]);
}

function url(path, params) {
  return `${srv.url}${path}?${new URLSearchParams(params)}`;
}
const qs = (page) => new URL(page.url()).searchParams;

function expectedTopBy(rows, key) {
  return rows.slice().sort((a, b) => Math.abs(b[key]) - Math.abs(a[key]) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))[0].name;
}

function countNodes(root, pred) {
  let n = 0;
  const st = [root];
  while (st.length) {
    const x = st.pop();
    if (pred(x)) n++;
    for (const c of x.children || []) st.push(c);
  }
  return n;
}

function timingsSummary(t, kind) {
  const v = t.filter((x) => x.kind === kind).map((x) => x.ms).sort((a, b) => a - b);
  if (!v.length) return `${kind}: none`;
  return `${kind}: n=${v.length} median ${v[v.length >> 1]} ms, p95 ${v[Math.min(v.length - 1, Math.floor(v.length * 0.95))]} ms, max ${v[v.length - 1]} ms`;
}

bothBrowsers('one profile: flame graph drawn on the canvas, header from meta and the series labels', () => browser, async (t, browser) => {
  const id = lastHeap();
  const page = await openPage(browser, url('/profile', { id }));
  await waitFlame(page);
  const painted = await ink(page);
  assert.ok(painted > 0.25, `canvas painted: ${painted}`);
  const meta = await apiGet(srv, `/api/v1/profile/${id}`, { report: 'meta' });
  const head = await page.textContent('.profile-head');
  assert.match(head, /instance=web-1/);
  assert.match(head, /service=shop/);
  assert.ok(head.includes(meta.samples.toLocaleString('en-US') + ' samples'), head);
  const fg = await apiGet(srv, `/api/v1/profile/${id}`, { report: 'flamegraph' });
  const f = await page.evaluate(() => { const f = document.querySelector('#flame-main').__flame; return { n: f.n, total: f.total[0], unit: f.unit }; });
  assert.equal(f.total, fg.root.total);
  assert.equal(f.n, countNodes(fg.root, () => true));
  assert.equal(await page.inputValue('#sample-type'), meta.default_sample_type);
  // The nav marks none of its four pages on the Profile view (it is none of them).
  assert.equal(await page.locator('header.top nav a').count(), 4);
  assert.equal(await page.locator('header.top nav a[aria-current]').count(), 0);
  // Colour by package: one colour per Go package path, different packages apart.
  const colors = await page.evaluate(() => {
    const f = document.querySelector('#flame-main').__flame;
    const of = (nm) => f.col[f.name.indexOf(nm)];
    return [of('compress/flate.NewWriter'), of('compress/flate.(*compressor).init'), of('compress/gzip.(*Writer).Write'), of('runtime.main')];
  });
  assert.ok(colors.every(Boolean), JSON.stringify(colors));
  assert.equal(colors[0], colors[1]);
  assert.notEqual(colors[0], colors[2]);
  assert.notEqual(colors[0], colors[3]);
  // Hover: the tooltip names the frame with its total and percent.
  const at = await frameAt(page, 'main.(*server).sessionWorker');
  assert.ok(at, 'sessionWorker frame drawn');
  await page.mouse.move(at.x, at.y);
  await page.waitForSelector('.flame-tip:not([hidden])');
  const tip = await page.textContent('.flame-tip');
  assert.match(tip, /main\.\(\*server\)\.sessionWorker/);
  assert.match(tip, /total.*MB \(\d+(\.\d+)?% of all\)/);
  assert.match(tip, /self/);
  await shot(page, 'profile-flame');
  page.assertClean();
  await page.closeAll();
});

bothBrowsers('top table: the fixture\'s top function first, sortable by cum', () => browser, async (t, browser) => {
  const id = lastHeap();
  const page = await openPage(browser, url('/profile', { id, view: 'top' }));
  await page.waitForSelector('table.top tbody tr');
  const top = await apiGet(srv, `/api/v1/profile/${id}`, { report: 'top' });
  const first = await page.getAttribute('table.top tbody tr:first-child', 'data-name');
  assert.equal(first, top.rows[0].name);
  assert.equal(await page.locator('table.top tbody tr').count(), top.rows.length);
  const cells = await page.locator('table.top tbody tr:first-child td').allTextContents();
  assert.equal(cells[2], top.rows[0].flat_pct.toFixed(1) + '%');
  await page.click('button.sort[data-sort="cum"]');
  assert.equal(await page.getAttribute('table.top tbody tr:first-child', 'data-name'), expectedTopBy(top.rows, 'cum'));
  assert.equal(qs(page).get('sort'), 'cum');
  assert.equal(await page.getAttribute('th.col-cum', 'aria-sort'), 'descending');
  await shot(page, 'profile-top');
  page.assertClean();
  await page.closeAll();
});

test('click a frame zooms (the URL keeps it), Esc resets, arrows and Enter move and zoom', async () => {
  const page = await openPage(browser, url('/profile', { id: lastHeap() }));
  await waitFlame(page);
  const at = await frameAt(page, 'runtime.main');
  await page.mouse.click(at.x, at.y);
  await page.waitForFunction(() => new URL(location.href).searchParams.get('zoom') === 'runtime.main');
  const z = await page.evaluate(() => { const f = document.querySelector('#flame-main').__flame; return f.name[f.zoom]; });
  assert.equal(z, 'runtime.main');
  assert.match(await page.textContent('.flame-info'), /zoomed into runtime\.main/);
  // The zoomed frame fills the width: a child of it is now wider than before.
  const child = await frameAt(page, 'main.main');
  assert.ok(child, 'main.main drawn');
  await page.mouse.move(child.x, child.y);
  await page.waitForSelector('.flame-tip:not([hidden])');
  assert.match(await page.textContent('.flame-tip'), /of zoomed/);
  await shot(page, 'profile-zoom');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('zoom'));
  assert.equal(await page.evaluate(() => document.querySelector('#flame-main').__flame.zoom), 0);
  // Keyboard: select the root, down to its widest child, Enter zooms.
  await page.focus('#flame-main canvas');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  const widest = await page.evaluate(() => {
    const f = document.querySelector('#flame-main').__flame;
    let best = -1;
    for (let j = 0; j < f.nkids[0]; j++) { const c = f.kids[f.kid0[0] + j]; if (best < 0 || f.w[c] > f.w[best]) best = c; }
    return f.name[best];
  });
  await page.waitForFunction((w) => new URL(location.href).searchParams.get('zoom') === w, widest);
  await page.keyboard.press('ArrowRight');
  assert.match(await page.textContent('.flame-tip'), /total/);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('zoom'));
  page.assertClean();
  await page.closeAll();
});

test('search highlights the matching frames with their share; the URL keeps it; / focuses it', async () => {
  const id = lastHeap();
  const page = await openPage(browser, url('/profile', { id }));
  await waitFlame(page);
  await page.locator('body').press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'flame-search');
  await page.keyboard.type('gzip');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('search') === 'gzip');
  const fg = await apiGet(srv, `/api/v1/profile/${id}`, { report: 'flamegraph' });
  const want = countNodes(fg.root, (x) => /gzip/i.test(x.name));
  assert.ok(want > 0);
  await page.waitForSelector('.flame-match');
  const info = await page.textContent('.flame-match');
  assert.match(info, new RegExp(`^${want} frames match: .* of total$`));
  const marked = await page.evaluate(() => document.querySelector('#flame-main').__flame.match.reduce((a, b) => a + b, 0));
  assert.equal(marked, want);
  await shot(page, 'profile-search');
  await page.reload();
  await waitFlame(page);
  assert.equal(await page.inputValue('#flame-search'), 'gzip');
  assert.equal(await page.textContent('.flame-match'), info);
  page.assertClean();
  await page.closeAll();
});

test('a What changed link\'s search (nameRegex) matches the function exactly, not names it begins', async () => {
  const id = lastHeap();
  const page = await openPage(browser, url('/profile', { id }));
  await waitFlame(page);
  // the very function What changed puts in its links' search=
  const forms = await page.evaluate(async () => {
    const { nameRegex } = await import('/pages/changed.js');
    return [nameRegex('main.main'), nameRegex('main.main (inline)'), nameRegex('a.(*T).f[...]')];
  });
  assert.deepEqual(forms, ['^main\\.main$', '^main\\.main( \\(inline\\))?$', '^a\\.\\(\\*T\\)\\.f\\[\\.\\.\\.\\]$']);
  const fg = await apiGet(srv, `/api/v1/profile/${id}`, { report: 'flamegraph' });
  const exact = countNodes(fg.root, (x) => x.name === 'main.main');
  const prefixed = countNodes(fg.root, (x) => x.name.startsWith('main.main') && x.name !== 'main.main');
  assert.ok(exact > 0 && prefixed > 0, `main.main frames ${exact}, main.main... frames ${prefixed}`);
  await page.goto(url('/profile', { id, view: 'both', search: forms[0] }));
  await waitFlame(page);
  await page.waitForSelector('.flame-match');
  const m = await page.evaluate(() => {
    const f = document.querySelector('#flame-main').__flame;
    const names = new Set();
    for (let i = 0; i < f.n; i++) if (f.match[i]) names.add(f.name[i]);
    return { count: f.match.reduce((a, b) => a + b, 0), names: [...names] };
  });
  assert.deepEqual(m, { count: exact, names: ['main.main'] });
  assert.match(await page.textContent('.flame-match'), new RegExp(`^${exact} frames? match`));
  // the table's search (the same regex) marks main.main's row only
  await page.waitForSelector('table.top tbody tr');
  const rows = await page.locator('table.top tbody tr.match').evaluateAll((trs) => trs.map((tr) => tr.dataset.name));
  assert.deepEqual(rows, ['main.main']);
  page.assertClean();
  await page.closeAll();
});

test('flame + table side by side: a row click focuses its function in the flame graph', async () => {
  const page = await openPage(browser, url('/profile', { id: lastHeap(), view: 'both' }));
  await waitFlame(page);
  await page.waitForSelector('table.top tbody tr');
  assert.ok(await page.isVisible('.split #flame-main') && await page.isVisible('.split .table-host'));
  const fn = 'compress/flate.NewWriter';
  await page.click(`table.top tbody tr[data-name="${fn}"] .fn`);
  await page.waitForFunction((f) => (new URL(location.href).searchParams.get('zoom') || '').endsWith(f), fn);
  assert.equal(qs(page).get('function'), fn);
  assert.equal(await page.evaluate(() => { const f = document.querySelector('#flame-main').__flame; return f.name[f.zoom]; }), fn);
  assert.ok(await page.locator(`table.top tbody tr.selected[data-name="${fn}"]`).count() === 1);
  await page.waitForSelector('#overtime-plot .u-over', { timeout: 20000 });
  await shot(page, 'profile-flame-table');
  page.assertClean();
  await page.closeAll();
});

test('sandwich: callers above, callees below, opened from a top row', async () => {
  const id = lastHeap();
  const fn = 'compress/flate.NewWriter';
  const page = await openPage(browser, url('/profile', { id, view: 'top' }));
  await page.waitForSelector('table.top tbody tr');
  const row = page.locator(`table.top tbody tr[data-name="${fn}"]`);
  await row.hover();
  await row.locator('.sandwich-link').click();
  await page.waitForFunction(() => new URL(location.href).searchParams.get('view') === 'sandwich');
  assert.equal(qs(page).get('function'), fn);
  await waitFlame(page, '#flame-callers');
  await waitFlame(page, '#flame-callees');
  const sw = await apiGet(srv, `/api/v1/profile/${id}`, { report: 'sandwich', function: fn });
  const got = await page.evaluate(() => ['#flame-callers', '#flame-callees'].map((h) => {
    const f = document.querySelector(h).__flame;
    return { total: f.total[0], n: f.n, inverted: !!f.opts.inverted };
  }));
  assert.deepEqual(got, [
    { total: sw.callers.total, n: countNodes(sw.callers, () => true), inverted: true },
    { total: sw.callees.total, n: countNodes(sw.callees, () => true), inverted: false },
  ]);
  assert.ok(await ink(page, '#flame-callers') > 0.2);
  assert.ok(await ink(page, '#flame-callees') > 0.05);
  assert.match(await page.textContent('.sandwich-summary'), /compress\/flate\.NewWriter — cum/);
  await shot(page, 'profile-sandwich');
  page.assertClean();
  await page.closeAll();
});

test('diff of two heap profiles: legend, blue/orange palette, frames only on one side marked', async () => {
  const base = firstHeap(), target = lastHeap();
  const page = await openPage(browser, url('/profile', { id: target, base }));
  await waitFlame(page);
  assert.ok(await page.isVisible('.flame-legend'));
  const legend = await page.textContent('.flame-legend');
  assert.match(legend, /share shrank/);
  assert.match(legend, /only in base \(gone\)/);
  assert.match(legend, /only in target \(new\)/);
  const fg = await apiGet(srv, '/api/v1/diff', { base, target, report: 'flamegraph' });
  const onlyT = countNodes(fg.root, (x) => x.only === 'target');
  const onlyB = countNodes(fg.root, (x) => x.only === 'base');
  assert.ok(onlyT + onlyB > 0, 'the fixtures differ in frames');
  const marks = await page.evaluate(() => {
    const f = document.querySelector('#flame-main').__flame;
    let t = 0, b = 0, firstT = -1, widest = -1;
    for (let i = 0; i < f.n; i++) {
      if (f.only[i] > 0) { t++; if (firstT < 0 || f.w[i] > f.w[firstT]) firstT = i; }
      if (f.only[i] < 0) b++;
      if (i > 0 && (widest < 0 || f.w[i] > f.w[widest])) widest = i;
    }
    const colors = new Set(f.col);
    return { t, b, name: f.name[firstT >= 0 ? firstT : widest], colors: [...colors].slice(0, 50) };
  });
  assert.deepEqual([marks.t, marks.b], [onlyT, onlyB]);
  // Colours come from the blue/orange scale (no red/green hues).
  for (const c of marks.colors) {
    const [r, g, b] = c.match(/\d+/g).map(Number);
    assert.ok(!(g > r + 40 && g > b + 40) && !(r > 150 && g < 60 && b < 60), `diverging colour ${c}`);
  }
  const at = await frameAt(page, marks.name);
  await page.mouse.move(at.x, at.y);
  await page.waitForSelector('.flame-tip:not([hidden])');
  const tip = await page.textContent('.flame-tip');
  assert.match(tip, /base.*target.*change/s);
  if (onlyT) assert.match(tip, /only in target \(new\)/);
  assert.equal(await page.isDisabled('button.view-btn[data-view="sandwich"]'), false);
  await shot(page, 'profile-diff');
  // The diff's top lists signed changes.
  await page.click('button.view-btn[data-view="top"]');
  await page.waitForSelector('table.top tbody tr');
  const top = await apiGet(srv, '/api/v1/diff', { base, target, report: 'top' });
  assert.equal(await page.getAttribute('table.top tbody tr:first-child', 'data-name'), top.rows[0].name);
  page.assertClean();
  await page.closeAll();
});

test('diff of two ranges of a series: each side\'s merge named in the header', async () => {
  const mid = data.start + 27 * 60000;
  const page = await openPage(browser, url('/profile', {
    query: SHOP, start: mid, end: data.end, base_start: data.start, base_end: mid - 1, view: 'both',
  }));
  await waitFlame(page);
  await page.waitForSelector('table.top tbody tr');
  const counts = await page.locator('.profile-head .profiles-count').allTextContents();
  const side = async (s, e) => (await apiGet(srv, '/api/v1/merge', { query: SHOP, start: s, end: e, report: 'meta' })).profiles;
  assert.deepEqual(counts.map(Number), [await side(data.start, mid - 1), await side(mid, data.end)]);
  assert.ok(await page.isVisible('.flame-legend'));
  await shot(page, 'profile-diff-ranges');
  page.assertClean();
  await page.closeAll();
});

test('a merge\'s title names its type as a word, allocs and mutex too ("Merged allocs profiles", not "allocss")', async () => {
  const page = await openPage(browser, url('/profile', { query: 'allocs{service="shop"}' }));
  await waitFlame(page);
  assert.match(await page.textContent('.profile-head h1'), /^Merged allocs profiles /);
  await page.goto(url('/profile', { query: 'mutex{service="shop"}' }));
  await waitFlame(page);
  assert.match(await page.textContent('.profile-head h1'), /^Merged mutex profiles /);
  page.assertClean();
  await page.closeAll();
});

test('diff sandwich: switched to from the diff flame graph, diff colours and legend, one meta call for the header', async () => {
  // heap-001 against heap-010 of one instance: main.main.func1.1 starts the
  // workers, whose shares of it moved (sessions shrank, cache and pipeline grew)
  const base = firstHeap(), target = lastHeap();
  const fn = 'main.main.func1.1';
  // the listener is on before the page's first request, so that no meta
  // call of an earlier load can land in the count
  const page = await openPage(browser);
  const metaCalls = [];
  const onRequest = (r) => { if (/\/api\/v1\/.*report=meta/.test(r.url())) metaCalls.push(r.url()); };
  page.on('request', onRequest);
  await page.goto(url('/profile', { id: target, base }), { waitUntil: 'load' });
  await waitFlame(page);
  assert.deepEqual(metaCalls.map((u) => new URL(u).pathname), ['/api/v1/diff'], 'the header from one diff meta call');
  const meta = await apiGet(srv, '/api/v1/diff', { base, target, report: 'meta' });
  assert.match(await page.textContent('.profile-head .side-base'), new RegExp(`${meta.base.samples.toLocaleString('en-US')} samples`));
  assert.match(await page.textContent('.profile-head .side-target'), new RegExp(`${meta.target.samples.toLocaleString('en-US')} samples`));
  // Switch to the sandwich (enabled in a diff) and pick the function.
  await page.click('button.view-btn[data-view="sandwich"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('view') === 'sandwich');
  await page.waitForSelector('#sandwich-function');
  await page.fill('#sandwich-function', fn);
  await page.click('.sandwich-pick button[type="submit"]');
  await page.waitForFunction((f) => new URL(location.href).searchParams.get('function') === f, fn);
  await waitFlame(page, '#flame-callers');
  await waitFlame(page, '#flame-callees');
  const sw = await apiGet(srv, '/api/v1/diff', { base, target, report: 'sandwich', function: fn });
  assert.ok(sw.callers.base > 0 && sw.callers.target > 0, 'the function is on both sides');
  // Each tree drawn as the diff sandwich has it: base and target per node,
  // the frames of one side only marked, colours by change of share.
  const got = await page.evaluate(() => ['#flame-callers', '#flame-callees'].map((h) => {
    const f = document.querySelector(h).__flame;
    let t = 0, b = 0;
    for (let i = 0; i < f.n; i++) { if (f.only[i] > 0) t++; if (f.only[i] < 0) b++; }
    return { diff: f.diff, n: f.n, base: f.base[0], target: f.target[0], onlyT: t, onlyB: b, inverted: !!f.opts.inverted, colors: [...new Set(f.col)] };
  }));
  const want = (root, inverted) => ({
    diff: true, n: countNodes(root, () => true), base: root.base, target: root.target,
    onlyT: countNodes(root, (x) => x.only === 'target'), onlyB: countNodes(root, (x) => x.only === 'base'), inverted,
  });
  assert.deepEqual(got.map(({ colors, ...x }) => x), [want(sw.callers, true), want(sw.callees, false)]);
  assert.ok(got[1].colors.length > 3, 'callees coloured by their change of share');
  for (const c of got[1].colors) {
    const [r, g, b] = c.match(/\d+/g).map(Number);
    assert.ok(!(g > r + 40 && g > b + 40) && !(r > 150 && g < 60 && b < 60), `diverging colour ${c}`);
  }
  // The diff flame graph's legend, once, above the callers.
  assert.equal(await page.locator('.flame-legend:visible').count(), 1);
  const legend = await page.textContent('#flame-callers .flame-legend');
  assert.match(legend, /share shrank.*share grew.*only in base \(gone\).*only in target \(new\)/s);
  assert.match(legend, /share of the function's cum on its side/);
  const summary = await page.textContent('.sandwich-summary');
  assert.match(summary, /main\.main\.func1\.1 — cum inuse_space: base .+, target .+, change [+−-]/);
  // A frame's tip says base, target and change.
  const at = await page.evaluate(() => {
    const f = document.querySelector('#flame-callees').__flame;
    let best = 1;
    for (let i = 1; i < f.n; i++) if (f.depth[i] === 1 && f.w[i] > f.w[best]) best = i;
    const b = f.bounds(best), r = f.canvas.getBoundingClientRect();
    return { x: r.left + b.x + Math.min(b.w, 200) / 2, y: r.top + b.y + 11 };
  });
  await page.mouse.move(at.x, at.y);
  await page.waitForSelector('#flame-callees .flame-tip:not([hidden])');
  assert.match(await page.textContent('#flame-callees .flame-tip'), /base.*target.*change/s);
  assert.ok(await ink(page, '#flame-callers') > 0.02);
  assert.ok(await ink(page, '#flame-callees') > 0.05);
  await shot(page, 'profile-diff-sandwich');
  page.assertClean();
  page.off('request', onRequest);
  await page.closeAll();
});

test('sample type chooser: alloc_space redraws with that type and the URL keeps it', async () => {
  const id = lastHeap();
  const page = await openPage(browser, url('/profile', { id, view: 'both' }));
  await waitFlame(page);
  await page.selectOption('#sample-type', 'alloc_space');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('sample_index') === 'alloc_space');
  await page.waitForFunction(() => {
    const e = document.querySelector('#flame-main');
    return e && e.__flame && e.__flame.report.sample_type === 'alloc_space';
  });
  await page.waitForSelector('table.top tbody tr');
  const top = await apiGet(srv, `/api/v1/profile/${id}`, { report: 'top', sample_index: 'alloc_space' });
  assert.equal(await page.getAttribute('table.top tbody tr:first-child', 'data-name'), top.rows[0].name);
  assert.equal(await page.evaluate(() => document.querySelector('#flame-main').__flame.total[0]),
    (await apiGet(srv, `/api/v1/profile/${id}`, { report: 'flamegraph', sample_index: 'alloc_space' })).root.total);
  assert.match(await page.textContent('.profile-head h1'), /alloc_space/);
  assert.match(await page.textContent('#pprof-cmd'), /-sample_index=alloc_space/);
  await shot(page, 'profile-sample-type');
  page.assertClean();
  await page.closeAll();
});

test('download link returns the gzip pprof; go tool pprof fetches the command\'s URL; copy', async () => {
  const page = await openPage(browser, url('/profile', { query: SHOP, start: data.start, end: data.end }));
  await waitFlame(page);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url });
  const href = await page.getAttribute('#download', 'href');
  const res = await fetch(srv.url + href);
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  assert.deepEqual([...body.subarray(0, 2)], [0x1f, 0x8b], 'gzip');
  assert.ok(gunzipSync(body).length > 1000);
  const cmd = await page.textContent('#pprof-cmd');
  const m = cmd.match(/^go tool pprof -http=: '(http:\/\/[^']+)'$/);
  assert.ok(m, cmd);
  assert.equal(m[1], srv.url + href);
  const tmp = mkdtempSync(join(tmpdir(), 'pprof.'));
  try {
    const out = execFileSync('go', ['tool', 'pprof', '-top', '-nodecount=5', m[1]],
      { env: { ...process.env, PPROF_TMPDIR: tmp, HOME: tmp }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    assert.match(out, /Type: inuse_space/);
    const top = await apiGet(srv, '/api/v1/merge', { query: SHOP, start: data.start, end: data.end, report: 'top', limit: 1 });
    assert.ok(out.includes(top.rows[0].name), `go tool pprof's top has ${top.rows[0].name}:\n${out}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  await page.click('#copy-cmd');
  await page.waitForFunction(() => document.querySelector('#copy-cmd').textContent === 'Copied');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), cmd);
  await shot(page, 'profile-merge');
  page.assertClean();
  await page.closeAll();
});

test('the go tool pprof command carries the page\'s filters (-focus, -lines), and pprof applies them', async () => {
  const id = lastHeap();
  const fn = (await apiGet(srv, `/api/v1/profile/${id}`, { report: 'top', limit: 1 })).rows[0].name;
  const focus = fn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const page = await openPage(browser, url('/profile', { id, focus, granularity: 'lines' }));
  await waitFlame(page);
  const cmd = await page.textContent('#pprof-cmd');
  assert.ok(cmd.includes(` -focus='${focus}' -lines '`), cmd);
  const tmp = mkdtempSync(join(tmpdir(), 'pprof.'));
  try {
    const out = execFileSync('bash', ['-c', cmd.replace('go tool pprof -http=: ', 'go tool pprof -top -nodecount=3 ')],
      { env: { ...process.env, PPROF_TMPDIR: tmp, HOME: tmp }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    assert.match(out, /Active filters:\s+focus=/, out);
    assert.match(out, /\.go:\d+/, `-lines: rows name FILE:LINE\n${out}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  page.assertClean();
  await page.closeAll();
});

test('with an access token: the download link sends it; the command fetches with curl', async () => {
  const token = 'profile-view-token-7f3a';
  const tsrv = await startServer({ token });
  const tmp = mkdtempSync(join(tmpdir(), 'pprof.'));
  try {
    const meta = await push(tsrv, 'heap-003', { service: 'shop', type: 'heap', labels: { instance: 'web-1', env: 'prod' } });
    const page = await openPage(browser, null, { fresh: true }); // an init script, a download
    await page.addInitScript((t) => sessionStorage.setItem('profefe.token', t), token);
    await page.goto(`${tsrv.url}/profile?id=${meta.id}`);
    await waitFlame(page);
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    assert.equal(dl.suggestedFilename(), `${meta.id}.pb.gz`);
    const saved = readFileSync(await dl.path());
    assert.deepEqual([...saved.subarray(0, 2)], [0x1f, 0x8b], 'gzip');
    const cmd = await page.textContent('#pprof-cmd');
    const want = `curl -sfH "Authorization: Bearer $PROFEFE_TOKEN" -o ${meta.id}.pb.gz '${tsrv.url}/api/v1/profile/${meta.id}?report=pprof' && go tool pprof -http=: ${meta.id}.pb.gz`;
    assert.equal(cmd, want);
    const out = execFileSync('bash', ['-c', cmd.replace('go tool pprof -http=: ', 'go tool pprof -top -nodecount=3 ')],
      { cwd: tmp, env: { ...process.env, PROFEFE_TOKEN: token, PPROF_TMPDIR: tmp, HOME: tmp }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    assert.match(out, /Type: inuse_space/);
    assert.match(out, /flat%/);
    await shot(page, 'profile-token');
    page.assertClean();
    await page.closeAll();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    await tsrv.stop();
  }
});

test('a shared URL reopens the same view: view, sample type, search, zoom, sort, function', async () => {
  const params = {
    id: lastHeap(), view: 'both', sample_index: 'alloc_space', search: 'Sessions',
    zoom: 'runtime/pprof.Do;main.main.func1.1', sort: 'cum', function: 'main.main.func1.1',
  };
  const page = await openPage(browser, url('/profile', params));
  const check = async () => {
    await waitFlame(page);
    await page.waitForSelector('table.top tbody tr');
    const st = await page.evaluate(() => {
      const f = document.querySelector('#flame-main').__flame;
      return {
        view: document.querySelector('.view-btn[aria-selected="true"]').dataset.view,
        type: document.querySelector('#sample-type').value,
        search: document.querySelector('#flame-search').value,
        zoom: f.pathOf(f.zoom).join(';'),
        sort: document.querySelector('th[aria-sort="descending"] button').dataset.sort,
        selected: (document.querySelector('table.top tr.selected') || {}).dataset?.name || '',
        matches: f.match.reduce((a, b) => a + b, 0),
      };
    });
    assert.deepEqual(st, {
      view: 'both', type: 'alloc_space', search: 'Sessions', zoom: params.zoom, sort: 'cum',
      selected: params.function, matches: st.matches,
    });
    assert.ok(st.matches > 0);
  };
  await check();
  await page.reload();
  await check();
  // Back after changing the view returns to the shared view.
  await page.click('button.view-btn[data-view="top"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('view') === 'top');
  await page.goBack();
  await check();
  await shot(page, 'profile-reload');
  page.assertClean();
  await page.closeAll();
});

test('one function over time: a plot of its cost in each profile (query_range focus=)', async () => {
  const fn = 'example.com/shop/internal/store.(*Sessions).Add';
  const page = await openPage(browser, url('/profile', { query: SHOP, start: data.start, end: data.end, function: fn }));
  await waitFlame(page);
  await page.waitForSelector('#overtime-plot .u-over', { timeout: 20000 });
  const series = await apiGet(srv, '/api/v1/query_range', {
    query: SHOP, start: data.start, end: data.end, focus: '^example\\.com/shop/internal/store\\.\\(\\*Sessions\\)\\.Add$',
  });
  const n = series.reduce((a, s) => a + s.samples.length, 0);
  assert.ok(n >= 20, `${n} profiles`);
  assert.ok(series.every((s) => s.samples.every((x) => x.totals.inuse_space > 0)));
  assert.match(await page.textContent('.profile-overtime'), new RegExp(`${series.length} series, ${n} profiles`));
  const plotted = await page.evaluate(() => {
    const u = document.querySelector('#overtime-plot').__uplot;
    return u.data.slice(1).map((col) => col.filter((v) => v !== null).length).reduce((a, b) => a + b, 0);
  });
  assert.equal(plotted, n);
  await page.locator('.profile-overtime').scrollIntoViewIfNeeded();
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await shot(page, 'profile-overtime');
  page.assertClean();
  await page.closeAll();
});

test('dark scheme: the flame graph and table follow the system colours', async () => {
  const page = await openPage(browser, url('/profile', { id: lastHeap(), view: 'both', search: 'flate' }), { colorScheme: 'dark' });
  await waitFlame(page);
  await page.waitForSelector('table.top tbody tr');
  assert.equal(await page.evaluate(() => document.querySelector('#flame-main').__flame.dark), true);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(bg, 'rgb(255, 255, 255)');
  await shot(page, 'profile-dark');
  page.assertClean();
  await page.closeAll();
});

test('narrow window: flame + table stack, the canvas fits, no sideways scrolling', async () => {
  const page = await openPage(browser, url('/profile', { id: lastHeap(), view: 'both' }), { width: 600, height: 900 });
  await waitFlame(page);
  await page.waitForSelector('table.top tbody tr');
  const g = await page.evaluate(() => {
    const c = document.querySelector('#flame-main canvas').getBoundingClientRect();
    const t = document.querySelector('.table-host').getBoundingClientRect();
    return { cw: c.width, cRight: c.right, tTop: t.top, cBottom: c.bottom, sw: document.documentElement.scrollWidth, iw: innerWidth };
  });
  assert.ok(g.cRight <= g.iw && g.cw > 400, JSON.stringify(g));
  assert.ok(g.tTop >= g.cBottom, `table below the flame graph: ${JSON.stringify(g)}`);
  assert.ok(g.sw <= g.iw, `no sideways scroll: ${JSON.stringify(g)}`);
  assert.ok(await ink(page) > 0.2);
  await shot(page, 'profile-narrow');
  page.assertClean();
  await page.closeAll();
});

test('granularity=lines beside the flame graph: each row keeps its function name (the hidden package path is the function\'s, not the file\'s)', async () => {
  const page = await openPage(browser, url('/profile', { id: lastHeap(), view: 'both', granularity: 'lines' }));
  await waitFlame(page);
  await page.waitForSelector('table.top tbody tr');
  const rows = await page.$$eval('table.top tbody tr', (trs) => trs.slice(0, 30).map((tr) => ({ name: tr.dataset.name, shown: tr.querySelector('.fn').innerText })));
  assert.ok(rows.length >= 10, `${rows.length} rows`);
  for (const r of rows) {
    const fn = r.name.replace(/ \((partial-)?inline\)$/, '').replace(/ \S+:\d+$/, '');
    assert.notEqual(fn, r.name.replace(/ \((partial-)?inline\)$/, ''), `a lines row names its file and line: ${r.name}`);
    assert.ok(r.shown.includes(fn.slice(fn.lastIndexOf('/') + 1)), `row ${JSON.stringify(r.name)} shows ${JSON.stringify(r.shown)}`);
  }
  page.assertClean();
  await page.closeAll();
});

test('pprof filters in the URL (focus=) reach every report and show as removable chips', async () => {
  const id = lastHeap();
  const page = await openPage(browser, url('/profile', { id, focus: 'gzip', view: 'both' }));
  await waitFlame(page);
  const fg = await apiGet(srv, `/api/v1/profile/${id}`, { report: 'flamegraph', focus: 'gzip' });
  assert.equal(await page.evaluate(() => document.querySelector('#flame-main').__flame.total[0]), fg.root.total);
  const all = await apiGet(srv, `/api/v1/profile/${id}`, { report: 'flamegraph' });
  assert.ok(fg.root.total < all.root.total);
  assert.match(await page.textContent('.filters'), /focus=gzip/);
  await shot(page, 'profile-filters');
  await page.click('.filter-chip .chip-x');
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('focus'));
  await page.waitForFunction((t) => { const e = document.querySelector('#flame-main'); return e && e.__flame && e.__flame.total[0] === t; }, all.root.total);
  page.assertClean();
  await page.closeAll();
});

test('no profile named: the page says how to open one; an unknown id says what to change', async () => {
  const page = await openPage(browser, srv.url + '/profile', { allow: [/404/] });
  await page.waitForSelector('.empty');
  assert.match(await page.textContent('.empty'), /Query page/);
  await shot(page, 'profile-empty');
  await page.goto(url('/profile', { id: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA' }));
  await page.waitForSelector('.error');
  assert.match(await page.textContent('.error'), /nothing found|not found/i);
  assert.match(await page.textContent('.error'), /retention/);
  await shot(page, 'profile-error');
  page.assertClean();
  await page.closeAll();
});

// The two timed tests last: the merged day's store fills while the tests
// above run.
test('heap-large-001: drawn with timings printed; "N nodes trimmed: show more" asks for more nodes', async () => {
  await dayReady; // timed while nothing else fills a store
  const page = await openPage(browser, url('/profile', { id: large.id }));
  await waitFlame(page);
  const fg = await apiGet(srv, `/api/v1/profile/${large.id}`, { report: 'flamegraph' });
  assert.ok(fg.trimmed.nodes > 0);
  const trimmedText = await page.textContent('.flame-trimmed');
  assert.ok(trimmedText.startsWith(`${fg.trimmed.nodes.toLocaleString('en-US')} nodes trimmed`), trimmedText);
  assert.ok(await ink(page) > 0.1);
  // Hover across the graph and zoom into frames, timing each.
  const box = await page.locator('#flame-main canvas').boundingBox();
  for (let i = 0; i < 40; i++) await page.mouse.move(box.x + 5 + (i * 31) % (box.width - 10), box.y + 11 + 22 * (i % 6));
  const run = await frameAt(page, 'main.main');
  await page.mouse.click(run.x, run.y);
  await page.keyboard.press('Escape');
  const t1 = await page.evaluate(() => window.__flameTimings);
  const first = t1.find((x) => x.kind === 'setData');
  console.log(`heap-large-001 (${first.nodes} nodes, max_nodes 8192): data to drawn ${first.ms} ms (layout ${first.layout} ms, first draw ${first.draw} ms); ` +
    `${timingsSummary(t1, 'draw')}; ${timingsSummary(t1, 'hover')}; ${timingsSummary(t1, 'zoom')}; fetch ${t1.filter((x) => x.kind === 'fetch').map((x) => x.what + ' ' + x.ms + ' ms').join(', ')}`);
  await page.mouse.move(run.x, run.y);
  await shot(page, 'profile-large');
  await page.evaluate(() => { window.__flameTimings = []; });
  await page.click('.flame-more');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('max_nodes') === '32768');
  await page.waitForFunction(() => (window.__flameTimings || []).some((x) => x.kind === 'setData'), null, { timeout: 30000 });
  await waitFlame(page);
  const fg2 = await apiGet(srv, `/api/v1/profile/${large.id}`, { report: 'flamegraph', max_nodes: 32768 });
  assert.ok(fg2.trimmed.nodes < fg.trimmed.nodes);
  assert.equal(await page.evaluate(() => document.querySelector('#flame-main').__flame.n), countNodes(fg2.root, () => true));
  for (let i = 0; i < 40; i++) await page.mouse.move(box.x + 5 + (i * 37) % (box.width - 10), box.y + 11 + 22 * (i % 8));
  await page.mouse.click(run.x, run.y);
  const t2 = await page.evaluate(() => window.__flameTimings);
  const s2 = t2.find((x) => x.kind === 'setData');
  console.log(`heap-large-001 (${s2.nodes} nodes, max_nodes 32768): data to drawn ${s2.ms} ms (layout ${s2.layout} ms, first draw ${s2.draw} ms); ` +
    `${timingsSummary(t2, 'draw')}; ${timingsSummary(t2, 'hover')}; ${timingsSummary(t2, 'zoom')}`);
  page.assertClean();
  await page.closeAll();
});

test('a merged day of one series (1 440 heap profiles, one a minute): drawn, its total the API\'s, timings printed', async () => {
  await dayReady;
  console.log(`merged day: ${day.pushed}; pushed in ${day.fillMs.push} ms, restarted (head into blocks) in ${day.fillMs.restart} ms`);
  const q = 'heap{service="catalog"}';
  const range = { query: q, start: day.start, end: day.end };
  const page = await openPage(browser, `${daySrv.url}/profile?${new URLSearchParams(range)}`);
  const [fg] = await Promise.all([
    apiGet(daySrv, '/api/v1/merge', { ...range, report: 'flamegraph' }),
    waitFlame(page),
  ]);
  assert.equal(await page.textContent('.profile-head .profiles-count'), String(day.n));
  const f = await page.evaluate(() => { const f = document.querySelector('#flame-main').__flame; return { n: f.n, total: f.total[0] }; });
  assert.ok(fg.root.total > 0);
  assert.equal(f.total, fg.root.total, 'the drawn root total is /api/v1/merge\'s');
  assert.equal(f.n, countNodes(fg.root, () => true));
  assert.ok(await ink(page) > 0.2);
  const box = await page.locator('#flame-main canvas').boundingBox();
  for (let i = 0; i < 40; i++) await page.mouse.move(box.x + 5 + (i * 29) % (box.width - 10), box.y + 11 + 22 * (i % 7));
  const at = await frameAt(page, 'runtime/pprof.Do');
  assert.ok(at, 'runtime/pprof.Do drawn');
  await page.mouse.click(at.x, at.y);
  await page.waitForFunction(() => new URL(location.href).searchParams.get('zoom') === 'runtime/pprof.Do');
  for (let i = 0; i < 20; i++) await page.mouse.move(box.x + 5 + (i * 53) % (box.width - 10), box.y + 11 + 22 * (i % 5));
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('zoom'));
  const t = await page.evaluate(() => window.__flameTimings);
  const s = t.find((x) => x.kind === 'setData');
  console.log(`merged day (${day.n} profiles, ${s.nodes} nodes): data to drawn ${s.ms} ms (layout ${s.layout} ms, first draw ${s.draw} ms); ` +
    `${timingsSummary(t, 'draw')}; ${timingsSummary(t, 'hover')}; ${timingsSummary(t, 'zoom')}; fetch ${t.filter((x) => x.kind === 'fetch').map((x) => x.what + ' ' + x.ms + ' ms').join(', ')}`);
  await page.mouse.move(at.x, at.y);
  await page.waitForSelector('.flame-tip:not([hidden])');
  await shot(page, 'profile-merged-day');
  page.assertClean();
  await page.closeAll();
});
