// Small helpers shared by the pages (and el() by the shell, app.js):
// building elements, formatting times, durations and values, and writing
// selectors.

// el('a', {href, class, onclick}, children...): an element; attributes that
// are undefined, null or false are left out.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// A URL of the UI: path with the query string of an object (empty values
// left out).
export function pageURL(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    q.append(k, String(v));
  }
  const s = q.toString();
  return path + (s ? '?' + s : '');
}

// A label value as a selector string: "..." with \ and " escaped.
export function quote(v) {
  return '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

// The selector type{k="v",...} (type may be empty).
export function selector(type, labels) {
  const m = Object.entries(labels).map(([k, v]) => `${k}=${quote(v)}`).join(', ');
  return `${type || ''}{${m}}`;
}

// A time as the API takes it: a number (Unix ms), digits, or RFC 3339.
// Returns Unix ms or NaN.
export function parseTime(s) {
  if (s === null || s === undefined || s === '') return NaN;
  if (typeof s === 'number') return s;
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return n < 1e11 ? n * 1000 : n; // Unix seconds below 1e11, as the API
  }
  return Date.parse(s);
}

// A duration like 15m, 1h, 6h, 24h, 7d, 90s in ms (NaN when not one).
export function parseDuration(s) {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(String(s || '').trim());
  if (!m) return NaN;
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[m[2]];
  return Number(m[1]) * unit;
}

// Unix ms as the value of an <input type=datetime-local> (local time).
export function toLocalInput(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// A time for people: "2026-12-02 08:47:18" in local time.
export function fmtTime(ms) {
  if (!Number.isFinite(ms)) return '—';
  return toLocalInput(ms).replace('T', ' ');
}

// A short range "08:00:00 – 09:00:00" (the dates when they differ).
export function fmtRange(a, b) {
  const A = fmtTime(a), B = fmtTime(b);
  return A.slice(0, 10) === B.slice(0, 10) ? `${A} – ${B.slice(11)}` : `${A} – ${B}`;
}

// A length of time in ms for people: "350 ms", "4.2 s", "12 min", "3 h 20 min", "2 d".
export function fmtSpan(ms) {
  const a = Math.abs(ms);
  if (a < 999.5) return `${Math.round(a)} ms`;
  if (a < 59.5e3) return `${(a / 1000).toFixed(a < 9.95e3 ? 1 : 0)} s`;
  // rounded to minutes once, before choosing the unit: 59 min 59.9 s is
  // "1 h", not "60 min", and twice that "2 h", not "1 h 60 min"
  const min = Math.round(a / 60e3);
  if (min < 60) return `${min} min`;
  if (min < 1440) {
    const h = Math.floor(min / 60), m = min % 60;
    return m && h < 10 ? `${h} h ${m} min` : `${Math.round(min / 60)} h`;
  }
  return `${Math.round(a / 86400e3)} d`;
}

// A time relative to now: "12 s ago", "in 4 s", "just now".
export function fmtAgo(ms, now = Date.now()) {
  if (!Number.isFinite(ms)) return 'never';
  const d = now - ms;
  if (Math.abs(d) < 1000) return d >= 0 ? 'just now' : 'now';
  return d > 0 ? `${fmtSpan(d)} ago` : `in ${fmtSpan(d)}`;
}

// A seconds value (a scrape's duration) as "3 ms" or "2.19 s".
export function fmtSeconds(s) {
  if (!Number.isFinite(s)) return '—';
  if (s < 0.001) return `${(s * 1e6).toFixed(0)} µs`;
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms`;
  return `${s.toFixed(2)} s`;
}

// A sample value with its unit, as pprof prints it (bytes in kB/MB/GB,
// nanoseconds in ms/s, counts with k/M).
export function fmtValue(v, unit) {
  const a = Math.abs(v), sign = v < 0 ? '-' : '';
  const scale = (steps) => {
    let i = 0;
    while (i + 1 < steps.length && a >= steps[i + 1][0]) i++;
    const [div, name] = steps[i];
    const x = a / div;
    return sign + (x >= 100 || div === 1 ? Math.round(x) : x.toFixed(x >= 10 ? 1 : 2)) + name;
  };
  switch (unit) {
    case 'bytes': return scale([[1, 'B'], [1024, 'kB'], [1024 ** 2, 'MB'], [1024 ** 3, 'GB'], [1024 ** 4, 'TB']]);
    case 'nanoseconds': return scale([[1, 'ns'], [1e3, 'µs'], [1e6, 'ms'], [1e9, 's'], [60e9, 'min'], [3600e9, 'h']]);
    default: return scale([[1, ''], [1e3, 'k'], [1e6, 'M'], [1e9, 'G']]);
  }
}

// A percentage with up to 2 decimals: "12.34%".
export function fmtPct(p) {
  if (!Number.isFinite(p)) return '—';
  const a = Math.abs(p);
  if (a > 0 && a < 0.005) return p > 0 ? '<0.01%' : '>-0.01%';
  return (a >= 10 ? p.toFixed(1) : p.toFixed(2)) + '%';
}

// A box that teaches: a title and content (.empty of style.css).
export function emptyBox(title, ...content) {
  return el('div', { class: 'empty', role: 'status' }, el('h2', {}, title), ...content);
}

// The server's own address for the curl lines of the empty states.
export function origin() {
  return location.origin;
}
