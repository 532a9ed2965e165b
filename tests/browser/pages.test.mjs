// The What changed, Targets and Services pages in a real chromium, against
// one real profefe filled with the fixtures (fill(): heap of shop and
// checkout over the last hour, cpu and the other types of shop) that
// scrapes a real hotapp (healthy) and a closed port (failing).
import { test, before, after } from 'node:test';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT, FIX, startServer, fill, hotapp, hotappConfig, launch, openPage, shot, apiGet, assert, sleep, timed, push, bothBrowsers,
} from './lib.mjs';

let srv, app, browser, data, closedAddr;

// An address on loopback where nothing listens (a port just freed).
async function closedPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return `127.0.0.1:${port}`;
}

// wait until fn() is truthy (polling every 200 ms for up to ms)
async function until(what, fn, ms = 20000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

before(async () => {
  app = await hotapp();
  closedAddr = await closedPort();
  srv = await startServer({ config: hotappConfig([app.addr], closedAddr) });
  data = await fill(srv);
  browser = await launch();
  // every pair scraped once: hotapp's up, the closed port's down
  await until('hotapp up and the closed port down', async () => {
    const t = (await apiGet(srv, '/api/v1/targets')).activeTargets;
    const hot = t.filter((x) => x.scrapePool === 'hotapp'), bad = t.filter((x) => x.scrapePool === 'payments');
    return hot.length && bad.length && hot.every((x) => x.health === 'up') && bad.every((x) => x.health === 'down');
  });
  // and hotapp's heap and cpu stored
  await until('hotapp profiles stored', async () => {
    const s = await apiGet(srv, '/api/v1/series', { 'match[]': '{service="hotapp"}' });
    return ['cpu', 'heap'].every((ty) => s.some((l) => l.type === ty));
  });
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
  if (app) await app.stop();
});

// ---- Targets ----

bothBrowsers('Targets: one job up, one down with its error, grouped by job and target; filters in the URL', () => browser, async (t, browser) => {
  // An empty profile is an error of its scrape ("profile has no samples"),
  // and on a loaded machine hotapp can get no CPU time sampled in the 1 s of
  // its CPU profile: gone at the next scrape. The page is opened once the
  // API has no error on a hotapp pair, again if a scrape came in between.
  const hotErrors = async () => (await apiGet(srv, '/api/v1/targets')).activeTargets
    .filter((x) => x.scrapePool === 'hotapp' && x.lastError).map((x) => x.lastError);
  let page;
  for (let i = 0; ; i++) {
    const e0 = await hotErrors();
    if (e0.length) t.diagnostic(`waiting for the next scrapes: ${e0.join('; ')}`);
    await until('no error on a hotapp pair in the API', async () => (await hotErrors()).length === 0, 30000);
    page = await openPage(browser, srv.url + '/targets');
    await page.waitForSelector('section.job[data-job="payments"] tr.pair');
    if (i === 5 || await page.locator('section.job[data-job="hotapp"] .last-error').count() === 0) break;
    await page.closeAll();
  }
  const api = (await apiGet(srv, '/api/v1/targets')).activeTargets;

  const hotRows = page.locator('section.job[data-job="hotapp"] tr.pair');
  const badRows = page.locator('section.job[data-job="payments"] tr.pair');
  assert.equal(await hotRows.count(), api.filter((t) => t.scrapePool === 'hotapp').length);
  assert.equal(await badRows.count(), api.filter((t) => t.scrapePool === 'payments').length);
  // health as data, colour class and words
  for (const h of await hotRows.locator('.health').allTextContents()) assert.equal(h.trim(), 'up');
  for (const h of await badRows.locator('.health').allTextContents()) assert.equal(h.trim(), 'down');
  assert.equal(await page.locator('section.job[data-job="hotapp"] .health-ok').count(), await hotRows.count());
  assert.equal(await page.locator('section.job[data-job="payments"] .health-bad').count(), await badRows.count());
  // the down pairs show their last error, the up ones none
  const errs = await badRows.locator('.last-error').allTextContents();
  assert.equal(errs.length, await badRows.count());
  for (const e of errs) assert.match(e, new RegExp(`connect ${closedAddr.replace(/\./g, '\\.')}: connection refused`));
  assert.deepEqual(await hotRows.locator('.last-error').allTextContents(), [], 'no error on a hotapp pair');
  // last scrape (relative), duration, next scrape, labels
  const cells = await hotRows.first().locator('td.num').allTextContents();
  assert.match(cells[0], /ago|just now/);
  assert.match(cells[1], /\d (µs|ms|s)$/);
  assert.match(cells[2], /^(in .+|now)$/);
  const hotTarget = page.locator('section.job[data-job="hotapp"] td.target-cell');
  assert.equal((await hotTarget.locator('.instance').textContent()).trim(), app.addr);
  assert.deepEqual(await hotTarget.locator('.label-chip').allTextContents(), ['env=test', 'service=hotapp', 'team=checkout']);
  // the link to the target's profiles: the Query page with its selector
  const href = await hotTarget.locator('a.profiles-link').getAttribute('href');
  const u = new URL(href, srv.url);
  assert.equal(u.pathname, '/');
  assert.equal(u.searchParams.get('query'), `{instance="${app.addr}", job="hotapp"}`);
  // and the selector finds the target's series
  const found = await apiGet(srv, '/api/v1/series', { 'match[]': u.searchParams.get('query') });
  assert.ok(found.length >= 2, 'the link\'s selector finds the target\'s series');
  const heapHref = await page.locator(`section.job[data-job="hotapp"] tr.pair[data-type="heap"] td.type a`).getAttribute('href');
  assert.equal(new URL(heapHref, srv.url).searchParams.get('query'), `heap{instance="${app.addr}", job="hotapp"}`);
  await shot(page, 'targets');
  // the link opens the Query page on that selector
  await hotTarget.locator('a.profiles-link').click();
  await page.waitForURL((x) => x.pathname === '/' && x.searchParams.get('query') === u.searchParams.get('query'));
  await page.waitForSelector('#legend tbody tr, #pick-series');
  assert.equal(await page.locator('#selector').inputValue(), u.searchParams.get('query'));
  page.assertClean();
  await page.goBack();
  await page.waitForSelector('section.job[data-job="payments"] tr.pair');

  // filter by health: the URL carries it
  await page.click('button[data-health="down"]');
  await page.waitForURL(/\/targets\?health=down$/);
  await page.waitForSelector('section.job[data-job="payments"]');
  assert.equal(await page.locator('section.job[data-job="hotapp"]').count(), 0);
  assert.equal(await page.locator('button[data-health="down"]').getAttribute('aria-pressed'), 'true');
  // and by job: nothing of hotapp is down
  await page.selectOption('#targets-job', 'hotapp');
  await page.waitForURL(/health=down&job=hotapp/);
  await page.waitForSelector('.empty');
  assert.match(await page.locator('.empty').textContent(), /No target matches the filter/);
  page.assertClean();
  await page.closeAll();

  // a shared URL reopens the same state
  const shared = await openPage(browser, srv.url + '/targets?health=down&job=payments');
  await shared.waitForSelector('section.job[data-job="payments"] tr.pair');
  assert.equal(await shared.locator('section.job').count(), 1);
  assert.equal(await shared.locator('button[data-health="down"]').getAttribute('aria-pressed'), 'true');
  assert.equal(await shared.locator('#targets-job').inputValue(), 'payments');
  await shot(shared, 'targets-filtered');
  shared.assertClean();
  await shared.closeAll();
});

// ---- Services ----

bothBrowsers('Services: every service with its types, series and last profile; links to the Query page', () => browser, async (t, browser) => {
  const page = await openPage(browser, srv.url + '/services');
  await page.waitForSelector('tbody.service[data-service="shop"]');
  const all = await apiGet(srv, '/api/v1/query_range', { query: '{service=~".+"}', limit: '1' });
  const want = {};
  for (const s of all) {
    const w = (want[s.labels.service] ||= {});
    const t = (w[s.labels.type] ||= { series: 0, last: 0 });
    t.series++;
    t.last = Math.max(t.last, s.samples[0].t);
  }
  assert.deepEqual(Object.keys(want).sort(), ['checkout', 'hotapp', 'shop']);
  assert.deepEqual(await page.locator('tbody.service').evaluateAll((ns) => ns.map((n) => n.dataset.service)), ['checkout', 'hotapp', 'shop']);
  for (const [svc, types] of Object.entries(want)) {
    const rows = page.locator(`tbody.service[data-service="${svc}"] tr.service-type`);
    assert.deepEqual(await rows.evaluateAll((ns) => ns.map((n) => n.dataset.type)), Object.keys(types).sort(), `types of ${svc}`);
    for (const [ty, w] of Object.entries(types)) {
      const row = page.locator(`tbody.service[data-service="${svc}"] tr[data-type="${ty}"]`);
      const nums = await row.locator('td.num').allTextContents();
      assert.equal(nums[0], String(w.series), `series of ${svc} ${ty}`);
      const href = await row.locator('a.type-link').getAttribute('href');
      assert.equal(new URL(href, srv.url).searchParams.get('query'), `${ty}{service="${svc}"}`);
    }
  }
  // fill(): shop's heap has three series (web-1..3), its last profile the newest of them
  const shopHeap = page.locator('tbody.service[data-service="shop"] tr[data-type="heap"]');
  assert.equal((await shopHeap.locator('td.num').first().textContent()), '3');
  assert.deepEqual(await shopHeap.locator('.label-chip').allTextContents(), ['env=prod', 'instance=web-1|web-2|web-3', 'region=eu|us', 'version=v1.4.2']);
  const newest = Math.max(...data.ids['heap/shop/web-1'].concat(data.ids['heap/shop/web-2'], data.ids['heap/shop/web-3']).map((x) => x.t));
  assert.equal(want.shop.heap.last, newest);
  const lastCell = await shopHeap.locator('td.num').nth(1).textContent();
  assert.match(lastCell, /ago/);
  const d = new Date(newest), p = (n) => String(n).padStart(2, '0');
  assert.ok(lastCell.includes(`${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`), `last profile time ${lastCell}`);
  await shot(page, 'services');
  // a type opens its plot on the Query page: shop's heap, three series
  await shopHeap.locator('a.type-link').click();
  await page.waitForURL((x) => x.pathname === '/' && x.searchParams.get('query') === 'heap{service="shop"}');
  await until('the plot\'s legend', async () => (await page.locator('#legend tbody tr').count()) === 3, 10000);
  page.assertClean();
  await page.goBack();
  await page.waitForSelector('tbody.service[data-service="shop"]');

  // the filter is in the URL, and a shared URL reopens it
  await page.fill('#services-filter', 'sho');
  await page.waitForURL(/\/services\?filter=sho$/);
  await until('filtered', async () => (await page.locator('tbody.service:not([hidden])').count()) === 1, 5000);
  page.assertClean();
  await page.closeAll();
  const shared = await openPage(browser, srv.url + '/services?filter=sho');
  await shared.waitForSelector('tbody.service[data-service="shop"]');
  assert.deepEqual(await shared.locator('tbody.service:not([hidden])').evaluateAll((ns) => ns.map((n) => n.dataset.service)), ['shop']);
  assert.equal(await shared.locator('#services-filter').inputValue(), 'sho');
  shared.assertClean();
  await shared.closeAll();
});

// ---- What changed ----

// The shares of each function on one side: {name: flat / total * 100}
async function shares(query, start, end, sampleIndex) {
  const top = await apiGet(srv, '/api/v1/merge', { query, start: String(start), end: String(end), report: 'top', node_fraction: '0', sample_index: sampleIndex });
  assert.ok(top.rows.length > 10, `top of ${query} has rows`);
  const m = {};
  for (const r of top.rows) m[r.name] = (m[r.name] || 0) + (r.flat / top.total) * 100;
  return m;
}

bothBrowsers('What changed: the functions whose share grew or shrank most; a row opens the diff', () => browser, async (t, browser) => {
  // the range holds heap-006..010 of every shop instance, the previous
  // range of the same length heap-001..005
  const end = data.now + 60000, start = end - 30 * 60000;
  const bStart = start - 30 * 60000 - 1, bEnd = start - 1;
  const query = 'heap{service="shop"}';
  const nT = (await apiGet(srv, '/api/v1/query_range', { query, start: String(start), end: String(end) })).reduce((a, s) => a + s.samples.length, 0);
  const nB = (await apiGet(srv, '/api/v1/query_range', { query, start: String(bStart), end: String(bEnd) })).reduce((a, s) => a + s.samples.length, 0);
  assert.equal(nT, 15);
  assert.equal(nB, 15);

  // the oracle: each side's top from the API, shares and their change
  const B = await shares(query, bStart, bEnd, 'inuse_space'), T = await shares(query, start, end, 'inuse_space');
  const ch = [...new Set([...Object.keys(B), ...Object.keys(T)])].map((n) => [n, (T[n] || 0) - (B[n] || 0)]);
  const grew = ch.filter((x) => x[1] >= 0.005).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shrank = ch.filter((x) => x[1] <= -0.005).sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  assert.ok(grew.length >= 3 && shrank.length >= 3, 'the fixtures have functions that grew and shrank');

  const url = `${srv.url}/changed?query=${encodeURIComponent(query)}&start=${start}&end=${end}`;
  const page = await openPage(browser);
  const [, ms] = await timed(async () => {
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('section.changes-grew tr.change-row');
  });
  console.log(`What changed of ${query} (${nT} against ${nB} profiles): rows shown ${ms.toFixed(0)} ms after the navigation started`);
  const grewNames = await page.locator('section.changes-grew tr.change-row').evaluateAll((ns) => ns.map((n) => n.dataset.function));
  const shrankNames = await page.locator('section.changes-shrank tr.change-row').evaluateAll((ns) => ns.map((n) => n.dataset.function));
  assert.deepEqual(grewNames, grew.slice(0, 15).map((x) => x[0]));
  assert.deepEqual(shrankNames, shrank.slice(0, 15).map((x) => x[0]));
  // both shares and the change, as the oracle has them
  const first = page.locator('section.changes-grew tr.change-row').first();
  const [before, afterPct, change] = await first.locator('td.num').allTextContents();
  const [name0, d0] = grew[0];
  const pct = (p) => (Math.abs(p) >= 10 ? p.toFixed(1) : p.toFixed(2)) + '%';
  assert.equal(before, pct(B[name0] || 0));
  assert.equal(afterPct, pct(T[name0] || 0));
  assert.equal(change, `+${d0.toFixed(2)} pp`);
  const lastShrank = await page.locator('section.changes-shrank tr.change-row').first().locator('td.change').textContent();
  assert.equal(lastShrank, `−${Math.abs(shrank[0][1]).toFixed(2)} pp`);
  // the summary counts each side's profiles
  const counts = await page.locator('.changed-summary .side-count').allTextContents();
  assert.match(counts[0], /^15 heap profiles, .* inuse_space per profile/);
  assert.match(counts[1], /^15 heap profiles, .* inuse_space per profile/);
  assert.equal(await page.locator('button[data-compare="previous"]').getAttribute('aria-pressed'), 'true');
  assert.equal(await page.locator('#changed-sample-type').inputValue(), 'inuse_space');
  await shot(page, 'changed');

  // a row opens the diff of the two ranges in the Profile view
  const diffParams = (href) => Object.fromEntries(new URL(href, srv.url).searchParams);
  const wantDiff = {
    query, start: String(start), end: String(end), base_start: String(bStart), base_end: String(bEnd),
    sample_index: 'inuse_space', view: 'both', function: name0,
    // an exact match: escaped and anchored (a name's " (inline)" allowed)
    search: '^' + name0.replace(/ \((partial-)?inline\)$/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&') +
      (/ \((partial-)?inline\)$/.test(name0) ? '( \\(inline\\))?$' : '$'),
  };
  assert.ok(new RegExp(wantDiff.search).test(name0.replace(/ \((partial-)?inline\)$/, '')), `search ${wantDiff.search} finds ${name0}`);
  assert.ok(!new RegExp(wantDiff.search).test(name0 + '.func1'), `search ${wantDiff.search} finds only ${name0}`);
  assert.deepEqual(diffParams(await first.locator('td.fn a').getAttribute('href')), wantDiff);
  // the diff it opens exists in the API: target minus base over the same ranges
  const diff = await apiGet(srv, '/api/v1/diff', { base_query: query, base_start: String(bStart), base_end: String(bEnd), target_query: query, target_start: String(start), target_end: String(end), report: 'top', sample_index: 'inuse_space', node_fraction: '0' });
  assert.ok(diff.rows.some((r) => r.name === name0), 'the diff has the function');
  page.assertClean();
  // the Profile view may not be in this branch yet: then only its module's 404
  await first.locator('td.change').click();
  await page.waitForURL(/\/profile\?/);
  assert.deepEqual(diffParams(page.url()), wantDiff);
  page.assertClean();
  // back returns to the comparison
  await page.goBack();
  await page.waitForSelector('section.changes-grew tr.change-row');
  assert.equal(await page.locator('section.changes-grew tr.change-row').first().getAttribute('data-function'), name0);
  page.assertClean();
  await page.closeAll();
});

test('What changed: choosers, a day earlier, a shared URL and plain-words errors', async () => {
  const end = data.now + 60000, start = end - 30 * 60000;
  // range=30m becomes start and end in the URL at once
  const page = await openPage(browser, `${srv.url}/changed?query=${encodeURIComponent('heap{service="checkout"}')}&range=30m`, { colorScheme: 'dark' });
  await page.waitForSelector('section.changes-grew tr.change-row');
  const u = new URL(page.url());
  assert.ok(!u.searchParams.has('range') && u.searchParams.get('start') && u.searchParams.get('end'), `range fixed in ${page.url()}`);
  // the sample type chooser
  await page.selectOption('#changed-sample-type', 'alloc_space');
  await page.waitForURL(/sample_index=alloc_space/);
  await page.waitForSelector('section.changes tr.change-row');
  assert.match(await page.locator('.changed-summary .side-count').first().textContent(), /alloc_space per profile/);
  // share of cum
  await page.click('button[data-by="cum"]');
  await page.waitForURL(/by=cum/);
  await page.waitForSelector('section.changes tr.change-row');
  const names = await page.locator('tr.change-row').evaluateAll((ns) => ns.map((n) => n.dataset.function));
  assert.ok(names.length > 0);
  await shot(page, 'changed-dark');
  page.assertClean();
  const shared = page.url();
  await page.closeAll();

  // the shared URL reopens the same comparison
  const again = await openPage(browser, shared, { colorScheme: 'dark' });
  await again.waitForSelector('section.changes tr.change-row');
  assert.equal(again.url(), shared);
  assert.deepEqual(await again.locator('tr.change-row').evaluateAll((ns) => ns.map((n) => n.dataset.function)), names);
  assert.equal(await again.locator('#changed-sample-type').inputValue(), 'alloc_space');
  assert.equal(await again.locator('button[data-by="cum"]').getAttribute('aria-pressed'), 'true');
  again.assertClean();
  await again.closeAll();

  // a day earlier has no profiles: said in plain words, with what to do
  const day = await openPage(browser, `${srv.url}/changed?query=${encodeURIComponent('heap{service="shop"}')}&start=${start}&end=${end}`);
  await day.waitForSelector('section.changes-grew tr.change-row');
  await day.click('button[data-compare="day"]');
  await day.waitForURL(/compare=day/);
  await day.waitForSelector('.empty');
  assert.match(await day.locator('.empty').textContent(), /Nothing to compare with.*15 profiles in the range, but none in the same time a day earlier/s);
  await shot(day, 'changed-nothing-to-compare');
  day.assertClean();
  await day.closeAll();

  // a range without profiles: says so, and offers the range up to the newest one
  const wk = 7 * 86400e3;
  const none = await openPage(browser, `${srv.url}/changed?query=${encodeURIComponent('heap{service="shop"}')}&start=${start - wk}&end=${end - wk}`);
  await none.waitForSelector('.empty');
  assert.match(await none.locator('.empty').textContent(), /No profiles in this range.*finds no profile from.*Its newest profile is from/s);
  await none.locator('.empty a.button').click();
  await none.waitForSelector('section.changes-grew tr.change-row');
  const nu = new URL(none.url());
  assert.equal(Number(nu.searchParams.get('end')), Math.max(...['web-1', 'web-2', 'web-3'].map((i) => data.ids[`heap/shop/${i}`].at(-1).t)));
  none.assertClean();
  await none.closeAll();
  const nothing = await openPage(browser, `${srv.url}/changed?query=${encodeURIComponent('heap{service="nope"}')}&start=${start}&end=${end}`);
  await nothing.waitForSelector('.empty');
  assert.match(await nothing.locator('.empty').textContent(), /finds no profile at all/);
  nothing.assertClean();
  await nothing.closeAll();

  // the same profile on both sides: nothing changed, said plainly
  await push(srv, 'allocs-001', { service: 'shop', type: 'allocs', time: start - 10 * 60000, labels: { instance: 'web-1', region: 'eu', env: 'prod', version: 'v1.4.2' } });
  const same = await openPage(browser, `${srv.url}/changed?query=${encodeURIComponent('allocs{service="shop"}')}&start=${start}&end=${end}`);
  await same.waitForSelector('.empty');
  assert.match(await same.locator('.empty').textContent(), /Nothing changed.*No function's share of alloc_space moved/s);
  assert.equal(await same.locator('tr.change-row').count(), 0);
  same.assertClean();
  await same.closeAll();

  // a selector of several types asks for one; a click picks it
  const multi = await openPage(browser, `${srv.url}/changed?query=${encodeURIComponent('{service="shop"}')}&start=${start}&end=${end}`);
  await multi.waitForSelector('.type-choice button[data-type="heap"]');
  await multi.click('.type-choice button[data-type="heap"]');
  await multi.waitForSelector('section.changes-grew tr.change-row');
  assert.equal(new URL(multi.url()).searchParams.get('query'), 'heap{service="shop"}');
  multi.assertClean();
  await multi.closeAll();

  // a broken selector: the server's message, plainly
  const bad = await openPage(browser, `${srv.url}/changed?query=${encodeURIComponent('heap{service="shop"')}&start=${start}&end=${end}`,
    { allow: [/status of 400/] });
  await bad.waitForSelector('.error');
  assert.match(await bad.locator('.error').textContent(), /parse error: unexpected end of input.*Check the selector/s);
  bad.assertClean();
  await bad.closeAll();

  // no selector: what to type, and the series stored here
  const empty = await openPage(browser, `${srv.url}/changed`);
  await empty.waitForSelector('.empty ul.suggestions a');
  const sugg = await empty.locator('.empty ul.suggestions a').allTextContents();
  assert.ok(sugg.includes('heap{service="shop"}') && sugg.includes('heap{service="checkout"}'), sugg.join(' '));
  empty.assertClean();
  await empty.closeAll();
});

test('lengths of time are rounded once: just under an hour is "1 h", not "60 min"; twice that "2 h", not "1 h 60 min"', async () => {
  const page = await openPage(browser, srv.url + '/changed');
  const got = await page.evaluate(async () => {
    const { fmtSpan } = await import('/pages/pagekit.js');
    return [3599999, 7199998, 59700, 5400000, 5399000, 86399999, 500].map(fmtSpan);
  });
  assert.deepEqual(got, ['1 h', '2 h', '1 min', '1 h 30 min', '1 h 30 min', '1 d', '500 ms']);
  page.assertClean();
  await page.closeAll();
});

// ---- narrow windows ----

test('table heads stay in view just under the sticky page header while the page scrolls', async () => {
  const page = await openPage(browser, srv.url + '/services', { height: 360 });
  await page.waitForSelector('table.services tbody tr');
  const g = await page.evaluate(async () => {
    const header = document.querySelector('header.top');
    const th = document.querySelector('table.services thead th');
    const table = th.closest('table');
    // scroll until the table's top is 80 px above the header's bottom edge
    window.scrollTo(0, table.getBoundingClientRect().top + scrollY - header.offsetHeight + 80);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const h = header.getBoundingClientRect(), t = th.getBoundingClientRect(), tb = table.getBoundingClientRect();
    const hit = document.elementFromPoint(t.left + 4, t.top + t.height / 2);
    return {
      headerBottom: h.bottom, thTop: t.top, tableTop: tb.top, tableBottom: tb.bottom, scrolled: scrollY,
      thOnTop: th.contains(hit), headerVar: getComputedStyle(document.documentElement).getPropertyValue('--header-h'),
    };
  });
  const msg = JSON.stringify(g);
  assert.ok(g.scrolled > 0 && g.tableTop < g.headerBottom - 40 && g.tableBottom > g.headerBottom + 60, `the table runs under the header: ${msg}`);
  assert.ok(Math.abs(g.thTop - g.headerBottom) <= 1, `the head sits at the header's bottom edge: ${msg}`);
  assert.ok(g.thOnTop, `the head is not hidden behind the header: ${msg}`);
  assert.equal(g.headerVar.trim(), `${g.headerBottom}px`);
  await shot(page, 'services-scrolled');
  page.assertClean();
  await page.closeAll();
});

test('narrow window: the three pages fit its width', async () => {
  const end = data.now + 60000, start = end - 30 * 60000;
  const pages = [
    ['/targets', 'section.job[data-job="payments"] tr.pair', 'targets-narrow'],
    ['/services', 'tbody.service[data-service="shop"]', null],
    [`/changed?query=${encodeURIComponent('heap{service="shop"}')}&start=${start}&end=${end}`, 'section.changes-grew tr.change-row', 'changed-narrow'],
  ];
  for (const [path, sel, name] of pages) {
    const page = await openPage(browser, srv.url + path, { width: 400, height: 800 });
    await page.waitForSelector(sel);
    const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(sw <= cw, `${path}: the page is ${sw} px wide in a ${cw} px window`);
    if (name) {
      await page.locator(sel).first().scrollIntoViewIfNeeded();
      await page.evaluate(() => window.scrollBy(0, -120));
      await shot(page, name);
    }
    page.assertClean();
    await page.closeAll();
  }
});

test('Services: the plot links of a service last seen days ago open a range that ends at its newest profile', async () => {
  const old = data.now - 3 * 86400e3;
  await push(srv, 'heap-001', { service: 'legacy', type: 'heap', time: old, labels: { instance: 'leg-1' } });
  const page = await openPage(browser, srv.url + '/services');
  const row = page.locator('tbody.service[data-service="legacy"] tr[data-type="heap"]');
  await row.waitFor();
  const hrefs = [
    await page.locator('tbody.service[data-service="legacy"] a.service-name').getAttribute('href'),
    await row.locator('a.type-link').getAttribute('href'),
    await row.locator('td.open a', { hasText: 'plot' }).getAttribute('href'),
  ];
  for (const h of hrefs) {
    const u = new URL(h, srv.url);
    assert.ok(!u.searchParams.has('range') && Number(u.searchParams.get('end')) === old && Number(u.searchParams.get('start')) < old, `${h} ends at ${old}`);
  }
  await row.locator('td.open a', { hasText: 'plot' }).click();
  await page.waitForURL((x) => x.pathname === '/' && x.searchParams.get('query') === 'heap{service="legacy"}');
  await until('the plot\'s legend', async () => (await page.locator('#legend tbody tr').count()) === 1, 10000);
  page.assertClean();
  await page.closeAll();
});

test('Services: a trace\'s newest profile links to its download (the Profile view has no reports of a trace)', async () => {
  const body = readFileSync(join(FIX, 'trace-001.out'));
  const res = await fetch(`${srv.url}/api/0/profiles?service=tracer&type=trace&created_at=${Math.floor(data.now / 1000) - 60}`, { method: 'POST', body });
  assert.equal(res.status, 200);
  const { id } = (await res.json()).body;
  const page = await openPage(browser, srv.url + '/services');
  const row = page.locator('tbody.service[data-service="tracer"] tr[data-type="trace"]');
  await row.waitFor();
  const link = row.locator('td.open a', { hasText: 'newest' });
  const href = await link.getAttribute('href');
  assert.equal(href, `/api/0/profiles/${id}`);
  assert.equal(await link.getAttribute('download'), `${id}.trace`);
  const got = await fetch(new URL(href, srv.url));
  assert.equal(got.status, 200);
  assert.ok(Buffer.from(await got.arrayBuffer()).equals(body), 'the trace byte for byte');
  page.assertClean();
  await page.closeAll();
});

test('What changed: n= of the URL is the number of rows each way, also one the chooser does not list', async () => {
  const end = data.now + 60000, start = end - 30 * 60000;
  const page = await openPage(browser, `${srv.url}/changed?query=${encodeURIComponent('heap{service="checkout"}')}&start=${start}&end=${end}&n=3`);
  await page.waitForSelector('section.changes-grew tr.change-row');
  assert.equal(await page.locator('section.changes-grew tr.change-row').count(), 3);
  assert.ok(await page.locator('section.changes-shrank tr.change-row').count() <= 3);
  assert.equal(await page.locator('#changed-n').inputValue(), '3');
  assert.equal(new URL(page.url()).searchParams.get('n'), '3');
  page.assertClean();
  await page.closeAll();
});
