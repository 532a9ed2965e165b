// The app shell in headless Chromium: navigation and history, dark and
// light, a narrow window, the keyboard, and the access-token prompt of
// -web.auth-token-file.
import { test, before, after } from 'node:test';
import { startServer, fill, launch, openPage, shot, assert, bothBrowsers } from './lib.mjs';

let srv, browser;
const SHOP = encodeURIComponent('heap{service="shop"}');

before(async () => {
  srv = await startServer();
  await fill(srv);
  browser = await launch();
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

async function open(path, o = {}) {
  return openPage(browser, srv.url + path, { ...o, allow: o.allow || [] });
}

test('every page path serves the shell; nav links push history; back returns', async () => {
  for (const p of ['/', '/profile', '/changed', '/targets', '/services']) {
    const r = await fetch(srv.url + p);
    assert.equal(r.status, 200, p);
    assert.match(r.headers.get('content-type'), /^text\/html/, p);
    assert.match(await r.text(), /<script type="module" src="\/app.js">/);
  }
  const page = await open(`/?query=${SHOP}`);
  await page.waitForSelector('#plot .u-over');
  assert.equal(await page.getAttribute('nav a[href="/"]', 'aria-current'), 'page');
  await page.click('nav a[href="/services"]');
  await page.waitForURL((u) => u.pathname === '/services');
  assert.equal(await page.getAttribute('nav a[href="/services"]', 'aria-current'), 'page');
  assert.equal(await page.getAttribute('nav a[href="/"]', 'aria-current'), null);
  assert.equal(await page.title(), 'Services · profefe');
  await page.goBack();
  await page.waitForURL((u) => u.pathname === '/' && u.searchParams.get('query') === 'heap{service="shop"}');
  await page.waitForSelector('#plot .u-over');
  assert.equal(await page.title(), 'Query · profefe');
  page.assertClean();
  await page.closeAll();
});

test('dark and light follow the system', async () => {
  const bg = async (scheme) => {
    const page = await open(`/?query=${SHOP}`, { colorScheme: scheme });
    await page.waitForSelector('#plot .u-over');
    const c = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    if (scheme === 'dark') await shot(page, 'shell-dark');
    page.assertClean();
    await page.closeAll();
    return c;
  };
  assert.equal(await bg('light'), 'rgb(255, 255, 255)');
  assert.equal(await bg('dark'), 'rgb(15, 20, 25)');
});

test('a narrow window: nothing wider than the window, the plot fits', async () => {
  const page = await open(`/?query=${SHOP}`, { width: 420, height: 800 });
  await page.waitForSelector('#plot .u-over');
  const [sw, iw, pw] = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth,
    document.querySelector('#plot .uplot').getBoundingClientRect().width]);
  assert.ok(sw <= iw, `page ${sw} px wide in a ${iw} px window`);
  assert.ok(pw <= iw, `plot ${pw} px wide in a ${iw} px window`);
  assert.ok(await page.isVisible('nav a[href="/targets"]'));
  await shot(page, 'shell-narrow');
  page.assertClean();
  await page.closeAll();
});

test('keyboard: skip link, nav links by Tab, Enter follows them', async () => {
  const page = await open('/');
  await page.waitForSelector('#pick-series');
  const seen = [];
  for (let i = 0; i < 7; i++) {
    await page.keyboard.press('Tab');
    seen.push(await page.evaluate(() => document.activeElement.textContent.trim()));
  }
  assert.deepEqual(seen.slice(0, 6), ['Skip to content', 'profefe', 'Query', 'What changed', 'Targets', 'Services']);
  // back to "What changed", follow it
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'What changed');
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname === '/changed');
  page.assertClean();
  await page.closeAll();
});

bothBrowsers('-web.auth-token-file: files served without the token, the page asks once, 401 asks again', () => browser, async (t, browser) => {
  const token = 'tok-' + Math.random().toString(36).slice(2);
  const sec = await startServer({ token });
  try {
    await fill(sec);
    for (const p of ['/', '/app.js', '/style.css', '/pages/query.js', '/vendor/uplot/uPlot.esm.js'])
      assert.equal((await fetch(sec.url + p)).status, 200, `${p} without the token`);
    assert.equal((await fetch(sec.url + '/api/v1/labels')).status, 401);
    assert.equal((await fetch(sec.url + '/metrics')).status, 401);
    assert.equal((await fetch(sec.url + '/', { method: 'POST' })).status, 401, 'only GET and HEAD are public');

    const page = await openPage(browser, `${sec.url}/?query=${SHOP}`, { allow: [/status of 401/] });
    await page.waitForSelector('dialog.token-dialog[open]');
    assert.match(await page.textContent('dialog.token-dialog'), /needs an access token/);
    assert.ok(await page.evaluate(() => document.activeElement.id === 'token-input'), 'the token field has the focus');
    await shot(page, 'shell-token-prompt');
    // a wrong token: asked again, saying so
    await page.fill('#token-input', 'wrong');
    await page.press('#token-input', 'Enter');
    await page.waitForSelector('dialog.token-dialog[open] >> text=was not accepted');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('profefe.token')), null);
    // the right one: the plot, and the token kept for this tab
    await page.fill('#token-input', token);
    await page.click('dialog.token-dialog button.primary');
    await page.waitForSelector('#plot .u-over');
    assert.equal(await page.$$eval('#legend tbody tr', (r) => r.length), 3);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('profefe.token')), token);
    assert.equal(await page.isVisible('dialog.token-dialog'), false);
    // a reload asks no more
    await page.reload();
    await page.waitForSelector('#plot .u-over');
    assert.equal(await page.isVisible('dialog.token-dialog'), false);
    page.assertClean();
    await page.closeAll();
  } finally {
    await sec.stop();
  }
});
