// The API client of the web UI: GET JSON from /api/v1/..., with the bearer
// token of -web.auth-token-file when the user gave one (kept in
// sessionStorage for this tab only).

const TOKEN_KEY = 'profefe.token';
let onUnauthorized = null;

export function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lives until the reload */ }
}

// fn(message) is called when the server answers 401 (app.js shows the
// token form).
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// '/api/v1/labels' or 'labels' -> '/api/v1/labels'
function fullPath(path) {
  if (path.startsWith('/')) return path;
  return '/api/v1/' + path;
}

// The query string of params: an object (arrays repeat their key, as
// match[]; undefined, null and '' are left out) or a URLSearchParams.
export function query(params) {
  if (!params) return '';
  if (params instanceof URLSearchParams) return params.toString();
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, String(x)));
    else q.append(k, String(v));
  }
  return q.toString();
}

// A URL of the API (for downloads and links).
export function apiURL(path, params) {
  const q = query(params);
  return fullPath(path) + (q ? '?' + q : '');
}

export class APIError extends Error {
  constructor(message, status, errorType) {
    super(message);
    this.name = 'APIError';
    this.status = status;
    this.errorType = errorType || '';
  }
}

// GET path with params; returns the reply's `data`. Throws an APIError
// whose message is the server's `error` text. opts.signal aborts it.
export async function api(path, params, opts = {}) {
  const headers = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = 'Bearer ' + token;
  let res;
  try {
    res = await fetch(apiURL(path, params), { headers, signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new APIError('The server did not answer (' + e.message + '). Is profefe still running?', 0, 'network');
  }
  if (res.status === 401) {
    const msg = token
      ? 'The access token was not accepted. Enter the token from the file given to -web.auth-token-file.'
      : 'This server needs an access token (-web.auth-token-file). Enter it to continue.';
    if (onUnauthorized) onUnauthorized(msg);
    throw new APIError(msg, 401, 'unauthorized');
  }
  let body = null;
  const text = await res.text();
  try { body = JSON.parse(text); } catch { /* not JSON: below */ }
  if (body && res.ok && body.status === 'success') return body.data;
  if (body && body.error) throw new APIError(body.error, res.status, body.errorType);
  throw new APIError(`${res.status} ${res.statusText}: ${text.slice(0, 200).trim()}`, res.status, 'http');
}
