// The app shell: routes a page's path to its module (pages/NAME.js, loaded
// with import()), keeps the state in the URL (pushState/popstate), asks for
// the access token when the API answers 401.
//
// Page module contract: export async function render(root, params, ctx);
// root: an empty element to fill; params: URLSearchParams of the query
// string (all the page's state); ctx below. It may return a cleanup
// function, called before the next page renders.
import { api, apiURL, getToken, setToken, setUnauthorizedHandler } from './api.js';
import { el } from './pages/pagekit.js';

const routes = {
  '/': './pages/query.js',
  '/profile': './pages/profile.js',
  '/changed': './pages/changed.js',
  '/targets': './pages/targets.js',
  '/services': './pages/services.js',
};
const titles = {
  '/': 'Query', '/profile': 'Profile', '/changed': 'What changed',
  '/targets': 'Targets', '/services': 'Services',
};

const main = document.getElementById('main');

// --header-h (style.css): the sticky page header's height, which grows when
// its links wrap in a narrow window; table heads stick just under it.
const header = document.querySelector('header.top');
if (header && window.ResizeObserver) {
  new ResizeObserver(() => {
    document.documentElement.style.setProperty('--header-h', header.getBoundingClientRect().height + 'px');
  }).observe(header);
}
let cleanup = null;
let generation = 0;

function toParams(params) {
  if (!params) return new URLSearchParams();
  if (params instanceof URLSearchParams) return params;
  if (typeof params === 'string') return new URLSearchParams(params);
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, String(x)));
    else q.append(k, String(v));
  }
  return q;
}

function urlOf(path, params) {
  const q = toParams(params).toString();
  return path + (q ? '?' + q : '');
}

// Push a new history entry and render it.
function navigate(path, params) {
  const url = urlOf(path, params);
  if (url !== location.pathname + location.search) history.pushState(null, '', url);
  render();
}

// Replace the current query string without rendering again.
function setParams(params) {
  history.replaceState(history.state, '', urlOf(location.pathname, params));
}

function css(href) {
  const url = new URL(href, location.origin + '/').pathname;
  if (document.querySelector(`link[rel=stylesheet][href="${url}"]`)) return;
  document.head.append(el('link', { rel: 'stylesheet', href: url }));
}

function errorTitle(err) {
  const st = err && err.status;
  if (st === 401) return 'Access token needed';
  if (st === 400) return 'The server refused this request';
  if (st === 404) return 'Not found';
  if (st === 0) return 'No answer from the server';
  if (st >= 500) return 'The server failed';
  return 'Something went wrong';
}

// A plain-words error box: what went wrong, and what to change.
function showError(root, err, hint) {
  const msg = err && err.message ? err.message : String(err);
  const box = el('div', { class: 'error', role: 'alert' },
    el('strong', {}, errorTitle(err)),
    el('p', { class: 'error-message' }, msg));
  if (hint) box.append(hint instanceof Node ? hint : el('p', { class: 'hint' }, hint));
  root.append(box);
  return box;
}

export const ctx = { api, apiURL, navigate, setParams, css, showError, el };

// The nav marks the page shown; the Profile view is none of the four (it is
// opened from any of them), so on /profile no link is marked.
function markNav(path) {
  for (const a of document.querySelectorAll('header.top nav a')) {
    const on = a.dataset.page === path;
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function render() {
  const gen = ++generation;
  const path = location.pathname.replace(/\/+$/, '') || '/';
  if (cleanup) {
    try { cleanup(); } catch (e) { console.warn('page cleanup failed', e); }
    cleanup = null;
  }
  markNav(path);
  document.title = (titles[path] || 'Not found') + ' · profefe';
  const root = el('div', { class: 'page', 'data-page': path });
  main.replaceChildren(root);
  const mod = routes[path];
  if (!mod) {
    showError(root, new Error(`There is no page at ${path}.`),
      el('p', { class: 'hint' }, 'Pages: ', el('a', { href: '/' }, 'Query'), ', ',
        el('a', { href: '/changed' }, 'What changed'), ', ', el('a', { href: '/targets' }, 'Targets'),
        ', ', el('a', { href: '/services' }, 'Services'), '.'));
    return;
  }
  try {
    const m = await import(mod);
    if (gen !== generation) return;
    const c = await m.render(root, new URLSearchParams(location.search), ctx);
    if (gen !== generation) { if (typeof c === 'function') c(); return; }
    if (typeof c === 'function') cleanup = c;
  } catch (e) {
    if (gen !== generation) return;
    if (e && e.status === 401) {
      showError(root, e, 'Enter the access token in the form above; the page reloads with it.');
      return;
    }
    console.warn('page failed', e);
    showError(root, e, 'Reload the page; if it persists, the server log may say more.');
  }
}

// ---- the access token (-web.auth-token-file) ----

let tokenDialog = null;

function askToken(message) {
  if (tokenDialog && tokenDialog.open) {
    tokenDialog.querySelector('.token-message').textContent = message;
    return;
  }
  const input = el('input', {
    type: 'password', name: 'token', id: 'token-input', autocomplete: 'off',
    required: true, 'aria-describedby': 'token-message', spellcheck: 'false',
  });
  const form = el('form', { method: 'dialog', class: 'token-form' },
    el('h2', {}, 'Access token'),
    el('p', { class: 'token-message', id: 'token-message' }, message),
    el('label', { for: 'token-input' }, 'Token'),
    input,
    el('p', { class: 'hint' }, 'Kept in this tab only (sessionStorage) and sent as "Authorization: Bearer …" with every API request.'),
    el('div', { class: 'buttons' },
      el('button', { type: 'submit', class: 'primary' }, 'Use token'),
      el('button', { type: 'button', onclick: () => tokenDialog.close() }, 'Cancel')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    if (!v) return;
    setToken(v);
    tokenDialog.close();
    render();
  });
  tokenDialog = el('dialog', { class: 'token-dialog', 'aria-labelledby': 'token-title' }, form);
  form.querySelector('h2').id = 'token-title';
  tokenDialog.addEventListener('close', () => { tokenDialog.remove(); tokenDialog = null; });
  document.body.append(tokenDialog);
  tokenDialog.showModal();
  input.focus();
  document.getElementById('token-button').hidden = false;
}

setUnauthorizedHandler((message) => {
  setToken('');
  askToken(message);
});

document.getElementById('token-button').addEventListener('click', () =>
  askToken(getToken() ? 'Replace the access token of this tab.' : 'Enter the access token (-web.auth-token-file).'));
if (getToken()) document.getElementById('token-button').hidden = false;

// ---- links and history ----

document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest && ev.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !(url.pathname in routes)) return;
  ev.preventDefault();
  navigate(url.pathname, url.search.slice(1));
  main.focus({ preventScroll: true });
});

window.addEventListener('popstate', render);
render();
