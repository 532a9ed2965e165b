// The Query page (SPEC §7): a selector with completion of label names and
// values, a profile-type chooser, time presets and custom start/end, and a
// plot of each series' sample totals over time (uPlot). Click a point: that
// profile. Drag: the merge of the range. Shift-drag: marks a base range; a
// second shift-drag opens the diff of the two. All state is in the URL:
//   /?query=SEL&range=1h|15m|6h|24h|7d  or  &start=MS&end=MS
//    &sample=inuse_space  &base_start=MS&base_end=MS
import uPlot from '../vendor/uplot/uPlot.esm.js';

const PRESETS = { '15m': 15 * 60e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3, '7d': 7 * 86400e3 };
const DEFAULT_RANGE = '1h';
// pprof's default sample types first: the plot starts with the one a
// profile of that type shows by default
const PREFERRED = ['inuse_space', 'cpu', 'delay', 'contentions', 'goroutine', 'goroutines', 'threadcreate', 'alloc_space', 'samples'];
// Okabe-Ito and Tableau hues: tell apart with colour-blindness too
const COLORS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#d55e00', '#56b4e9', '#8c564b', '#7f7f7f', '#bcbd22', '#17becf'];
const MAX_SERIES = 40;

// ---- selectors ----

// The metric-name part of a selector ("heap" of heap{service="x"}) and the rest.
function splitSelector(sel) {
  const m = /^\s*([A-Za-z0-9_.:-]*)\s*(\{[\s\S]*)?$/.exec(sel);
  if (!m) return { type: '', rest: sel };
  return { type: m[1], rest: m[2] || '' };
}

// type from a selector: its name, else a type="..." matcher
function selectorType(sel) {
  const { type, rest } = splitSelector(sel);
  if (type) return type;
  const m = /(?:^|[{,])\s*type\s*=\s*"([^"]*)"/.exec(rest);
  return m ? m[1] : '';
}

function withType(sel, type) {
  let { rest } = splitSelector(sel);
  rest = rest.replace(/(\{|,)\s*type\s*(=|!=|=~|!~)\s*"[^"]*"\s*,?/, '$1').replace(/,\s*}/, '}');
  if (rest === '{}') rest = '';
  return (type || '') + rest;
}

// What to complete at the caret: { kind: 'type'|'name'|'value', name, prefix, from, quoted }
function completionContext(text, caret) {
  let inBrace = false, quote = '', segStart = 0, quoteStart = -1;
  for (let i = 0; i < caret; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') { i++; continue; }
      if (c === quote) quote = '';
      continue;
    }
    if (c === '{') { inBrace = true; segStart = i + 1; }
    else if (c === '}') { inBrace = false; }
    else if (c === ',' && inBrace) segStart = i + 1;
    else if ((c === '"' || c === "'" || c === '`') && inBrace) { quote = c; quoteStart = i; }
  }
  if (!inBrace) {
    const pre = text.slice(0, caret);
    if (/^\s*[A-Za-z0-9_.-]*$/.test(pre)) {
      const prefix = pre.trim();
      return { kind: 'type', prefix, from: caret - prefix.length };
    }
    return null;
  }
  if (quote) {
    const before = text.slice(segStart, quoteStart);
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=|!=|=~|!~)\s*$/.exec(before);
    if (!m) return null;
    const prefix = text.slice(quoteStart + 1, caret);
    return { kind: 'value', name: m[1], prefix, from: quoteStart + 1, quoted: quote };
  }
  const seg = text.slice(segStart, caret);
  let m = /^\s*([A-Za-z_][A-Za-z0-9_]*)?$/.exec(seg);
  if (m) {
    const prefix = m[1] || '';
    return { kind: 'name', prefix, from: caret - prefix.length };
  }
  m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=|!=|=~|!~)\s*$/.exec(seg);
  if (m) return { kind: 'value', name: m[1], prefix: '', from: caret, quoted: '' };
  return null;
}

// A selector of the complete matchers around the one being completed (and
// the type), for match[]: '' when it would have none.
function contextMatch(text, c) {
  const open = text.indexOf('{');
  const type = splitSelector(text).type;
  if (open < 0 || c.from <= open) return type ? type + '{}' : '';
  // leave out the matcher at the caret: from the ',' or '{' before it to the ',' or '}' after
  let a = c.from, b = c.from;
  while (a > open + 1 && text[a - 1] !== ',') a--;
  while (b < text.length && text[b] !== ',' && text[b] !== '}') b++;
  const others = text.slice(open + 1, a) + ' ' + text.slice(b);
  const re = /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g;
  const ms = [];
  for (let m; (m = re.exec(others)) !== null;) ms.push(`${m[1]}${m[2]}"${m[3]}"`);
  if (!ms.length && !type) return '';
  return (type || '') + '{' + ms.join(', ') + '}';
}

function quoteValue(v) {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

// ---- formatting ----

function unitOf(sample) {
  if (/space|bytes/.test(sample)) return 'bytes';
  if (/^(cpu|delay|wall|nanoseconds)$/.test(sample) || /_ns$|nanos/.test(sample)) return 'ns';
  return 'count';
}

function fmtNum(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (unit === 'bytes') {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0, x = a;
    while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
    return (v < 0 ? '-' : '') + (i ? parseFloat(x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0)) : x) + ' ' + u[i];
  }
  if (unit === 'ns') {
    if (a >= 3600e9) return (v / 3600e9).toFixed(2) + ' h';
    if (a >= 60e9) return (v / 60e9).toFixed(2) + ' min';
    if (a >= 1e9) return (v / 1e9).toFixed(a >= 10e9 ? 1 : 2) + ' s';
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 10e6 ? 1 : 2) + ' ms';
    if (a >= 1e3) return (v / 1e3).toFixed(1) + ' µs';
    return v + ' ns';
  }
  if (a >= 1e9) return (v / 1e9).toFixed(2) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  return String(Math.round(v * 100) / 100);
}

function pad(n) { return String(n).padStart(2, '0'); }
function fmtTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
// value of an <input type=datetime-local> (local time, seconds)
function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function fromLocalInput(s) {
  const t = new Date(s).getTime();
  return Number.isFinite(t) ? t : NaN;
}
function fmtSpan(ms) {
  if (ms >= 86400e3 && ms % 86400e3 === 0) return ms / 86400e3 + 'd';
  if (ms >= 3600e3 && ms % 3600e3 === 0) return ms / 3600e3 + 'h';
  if (ms >= 60e3) return Math.round(ms / 60e3) + 'm';
  return Math.round(ms / 1e3) + 's';
}

// The time to parse a time parameter: Unix ms, seconds, or RFC 3339.
function parseTime(s) {
  if (s === null || s === undefined || s === '') return NaN;
  if (/^-?\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return n < 1e11 ? n * 1000 : n;
  }
  return new Date(s).getTime();
}

function seriesName(labels, common) {
  const parts = Object.entries(labels).filter(([k]) => !common.has(k)).map(([k, v]) => `${k}="${v}"`);
  return parts.length ? parts.join(', ') : Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(', ');
}

function seriesSelector(labels) {
  const { type, ...rest } = labels;
  const m = Object.entries(rest).map(([k, v]) => `${k}="${quoteValue(v)}"`).join(', ');
  return (type || '') + '{' + m + '}';
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// ---- the page ----

export async function render(root, params, ctx) {
  const { el } = ctx;
  ctx.css('vendor/uplot/uPlot.min.css');
  ctx.css('pages/query.css');
  const cleanups = [];
  const query = (params.get('query') || '').trim();
  const range = PRESETS[params.get('range')] ? params.get('range') : null;
  let start = parseTime(params.get('start'));
  let end = parseTime(params.get('end'));
  let preset = range;
  if (!Number.isFinite(start) || !Number.isFinite(end)) {
    preset = preset || DEFAULT_RANGE;
    end = Date.now();
    start = end - PRESETS[preset];
  }
  const baseStart = parseTime(params.get('base_start'));
  const baseEnd = parseTime(params.get('base_end'));
  const hasBase = Number.isFinite(baseStart) && Number.isFinite(baseEnd);
  let sample = params.get('sample') || '';

  // the URL of this page with some state changed
  function stateParams(over = {}) {
    const s = { query, sample: sample || undefined };
    if (hasBase) { s.base_start = baseStart; s.base_end = baseEnd; }
    if (preset) s.range = preset;
    else { s.start = start; s.end = end; }
    Object.assign(s, over);
    if (over.range) { delete s.start; delete s.end; }
    if (over.start !== undefined) delete s.range;
    return s;
  }
  const go = (over) => ctx.navigate('/', stateParams(over));

  // ---- toolbar: selector, type, run ----
  const input = el('input', {
    type: 'text', id: 'selector', class: 'selector', value: query, spellcheck: 'false', autocomplete: 'off',
    placeholder: 'heap{service="shop", instance=~"web-.*"}',
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'completions',
    'aria-label': 'Selector',
  });
  const list = el('ul', { id: 'completions', class: 'completions', role: 'listbox', hidden: true, 'aria-label': 'Completions' });
  const typeSelect = el('select', { id: 'type', 'aria-label': 'Profile type' }, el('option', { value: '' }, 'any type'));
  const runButton = el('button', { type: 'submit', class: 'primary', id: 'run' }, 'Show');
  const form = el('form', { class: 'query-form', role: 'search' },
    el('div', { class: 'field selector-field' },
      el('label', { for: 'selector' }, 'Selector'),
      el('div', { class: 'combo' }, input, list)),
    el('div', { class: 'field' }, el('label', { for: 'type' }, 'Type'), typeSelect),
    el('div', { class: 'field' }, el('label', {}, '\u00a0'), runButton));

  const presetBar = el('div', { class: 'segmented', role: 'group', 'aria-label': 'Time range' },
    Object.keys(PRESETS).map((p) => el('button', {
      type: 'button', 'aria-pressed': String(p === preset), 'data-range': p,
      onclick: () => go({ range: p }),
    }, p)));
  const startInput = el('input', { type: 'datetime-local', id: 'start', step: '1', value: toLocalInput(start), 'aria-label': 'Start' });
  const endInput = el('input', { type: 'datetime-local', id: 'end', step: '1', value: toLocalInput(end), 'aria-label': 'End' });
  const applyRange = () => {
    const s = fromLocalInput(startInput.value), e = fromLocalInput(endInput.value);
    if (!Number.isFinite(s) || !Number.isFinite(e) || s >= e) {
      rangeMsg.textContent = 'Start must be a time before end.';
      startInput.setAttribute('aria-invalid', 'true');
      return;
    }
    go({ start: s, end: e, range: undefined });
  };
  for (const i of [startInput, endInput])
    i.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); applyRange(); } });
  const rangeMsg = el('span', { class: 'hint range-msg', role: 'status' });
  const sampleSelect = el('select', { id: 'sample', 'aria-label': 'Sample type to plot' });
  const rangeBar = el('div', { class: 'toolbar range-bar' },
    el('div', { class: 'field' }, el('label', {}, 'Last'), presetBar),
    el('div', { class: 'field' }, el('label', { for: 'start' }, 'Start'), startInput),
    el('div', { class: 'field' }, el('label', { for: 'end' }, 'End'), endInput),
    el('div', { class: 'field' }, el('label', {}, '\u00a0'), el('button', { type: 'button', id: 'apply-range', onclick: applyRange }, 'Apply')),
    el('div', { class: 'field sample-field', hidden: true }, el('label', { for: 'sample' }, 'Plot'), sampleSelect),
    rangeMsg);

  const body = el('div', { class: 'query-body' });
  root.append(el('h1', { class: 'visually-hidden' }, 'Query'), form, rangeBar, body);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (completer.accept()) return;
    const q = input.value.trim();
    if (q) go({ query: q });
  });
  typeSelect.addEventListener('change', () => {
    const q = withType(input.value.trim(), typeSelect.value);
    input.value = q;
    if (q && (splitSelector(q).rest || q)) go({ query: q, sample: undefined });
  });

  // ---- completion ----
  const cache = new Map();
  const load = (key, fn) => {
    if (!cache.has(key)) cache.set(key, fn().catch((e) => { cache.delete(key); throw e; }));
    return cache.get(key);
  };
  const completer = {
    items: [], active: -1, ctx: null, seq: 0,
    close() {
      list.hidden = true;
      input.setAttribute('aria-expanded', 'false');
      input.removeAttribute('aria-activedescendant');
      this.items = [];
      this.active = -1;
    },
    show(items, c) {
      this.items = items;
      this.ctx = c;
      this.active = items.length ? 0 : -1;
      list.replaceChildren(...items.map((it, i) => el('li', {
        id: 'completion-' + i, role: 'option', class: 'completion', 'aria-selected': String(i === this.active),
        onmousedown: (ev) => { ev.preventDefault(); this.active = i; this.accept(); },
      }, el('span', { class: 'completion-text' }, it.text), it.note ? el('span', { class: 'completion-note' }, it.note) : null)));
      list.hidden = items.length === 0;
      input.setAttribute('aria-expanded', String(items.length > 0));
      this.mark();
    },
    mark() {
      [...list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === this.active)));
      if (this.active >= 0) {
        input.setAttribute('aria-activedescendant', 'completion-' + this.active);
        list.children[this.active].scrollIntoView({ block: 'nearest' });
      } else input.removeAttribute('aria-activedescendant');
    },
    move(d) {
      if (!this.items.length) return;
      this.active = (this.active + d + this.items.length) % this.items.length;
      this.mark();
    },
    // accept the active completion; false when there was none
    accept() {
      if (list.hidden || this.active < 0) return false;
      const it = this.items[this.active], c = this.ctx;
      const text = input.value, caret = input.selectionStart;
      let ins, after = text.slice(caret), before = text.slice(0, c.from);
      if (c.kind === 'type') {
        ins = it.text;
        if (!after.trimStart().startsWith('{')) ins += '{';
      } else if (c.kind === 'name') {
        ins = it.text + '="';
        if (/^\s*(=|!=|=~|!~)/.test(after)) ins = it.text;
      } else {
        ins = (c.quoted ? '' : '"') + quoteValue(it.text) + (c.quoted || '"');
        const q = c.quoted || '"';
        if (after.startsWith(q)) after = after.slice(1);
        if (!/^\s*[,}]/.test(after) && !after.includes('}')) ins += '}';
      }
      input.value = before + ins + after;
      const pos = (before + ins).length;
      input.setSelectionRange(pos, pos);
      this.close();
      this.update();
      return true;
    },
    async update() {
      const seq = ++this.seq;
      const c = completionContext(input.value, input.selectionStart);
      if (!c) { this.close(); return; }
      let values = [];
      try {
        // names and values of the series the rest of the selector finds
        const m = c.kind === 'type' ? '' : contextMatch(input.value, c);
        const get = (path, key) => load(key + '|' + m, () => ctx.api(path, m ? { 'match[]': m } : undefined)
          .catch((e) => (m && e.status === 400 ? ctx.api(path) : Promise.reject(e))));
        if (c.kind === 'type') values = (await get('label/type/values', 'type')).map((v) => ({ text: v, note: 'type' }));
        else if (c.kind === 'name') values = (await get('labels', 'labels')).filter((v) => v !== 'type').map((v) => ({ text: v, note: 'label' }));
        else values = (await get(`label/${encodeURIComponent(c.name)}/values`, 'v:' + c.name)).map((v) => ({ text: v, note: c.name }));
      } catch (e) {
        if (e.status === 401) return;
        values = [];
      }
      if (seq !== this.seq || document.activeElement !== input) return;
      const p = c.prefix.toLowerCase();
      const starts = values.filter((v) => v.text.toLowerCase().startsWith(p));
      const has = values.filter((v) => !v.text.toLowerCase().startsWith(p) && v.text.toLowerCase().includes(p));
      let items = starts.concat(has).slice(0, 50);
      if (items.length === 1 && items[0].text === c.prefix && c.kind !== 'type') items = [];
      this.show(items, c);
    },
  };
  input.addEventListener('input', () => completer.update());
  input.addEventListener('focus', () => completer.update());
  input.addEventListener('click', () => completer.update());
  input.addEventListener('blur', () => setTimeout(() => completer.close(), 100));
  input.addEventListener('keydown', (ev) => {
    const open = !list.hidden;
    if (ev.key === 'ArrowDown' && open) { ev.preventDefault(); completer.move(1); }
    else if (ev.key === 'ArrowUp' && open) { ev.preventDefault(); completer.move(-1); }
    else if (ev.key === 'Tab' && open && !ev.shiftKey && completer.active >= 0) { ev.preventDefault(); completer.accept(); }
    else if (ev.key === 'Enter' && open && completer.active >= 0) { ev.preventDefault(); completer.accept(); }
    else if (ev.key === 'Escape' && open) { ev.preventDefault(); completer.close(); }
    else if ((ev.key === 'ArrowLeft' || ev.key === 'ArrowRight' || ev.key === 'Home' || ev.key === 'End') && open)
      setTimeout(() => completer.update(), 0);
  });

  // the type chooser's choices
  ctx.api('label/type/values').then((types) => {
    const cur = selectorType(query);
    for (const t of types) typeSelect.append(el('option', { value: t }, t));
    if (cur && !types.includes(cur)) typeSelect.append(el('option', { value: cur }, cur));
    typeSelect.value = cur;
  }).catch(() => { /* the body shows the error */ });

  // ---- the body ----
  let status;
  try {
    status = await ctx.api('status/tsdb');
  } catch (e) {
    showApiError(ctx, body, e, query);
    return () => cleanups.forEach((f) => f());
  }
  if (!status.profiles) {
    body.append(emptyStore(ctx));
    return () => cleanups.forEach((f) => f());
  }
  if (!query) {
    body.append(await pickSeries(ctx, start, end));
    return () => cleanups.forEach((f) => f());
  }

  let series;
  const t0 = performance.now();
  try {
    series = await ctx.api('query_range', { query, start, end });
  } catch (e) {
    showApiError(ctx, body, e, query);
    input.setAttribute('aria-invalid', 'true');
    return () => cleanups.forEach((f) => f());
  }
  if (!series.length) {
    body.append(noMatch(ctx, query, start, end, go));
    return () => cleanups.forEach((f) => f());
  }

  // sample types: the union of the totals' keys
  const keys = new Set();
  for (const s of series) for (const p of s.samples) for (const k of Object.keys(p.totals || {})) keys.add(k);
  const all = [...keys];
  if (!all.length) { // traces only: no totals to plot
    body.append(traceList(ctx, series, start, end));
    return () => cleanups.forEach((f) => f());
  }
  if (!sample || !keys.has(sample)) sample = PREFERRED.find((k) => keys.has(k)) || all[all.length - 1] || '';
  for (const k of all.sort()) sampleSelect.append(el('option', { value: k }, k));
  sampleSelect.value = sample;
  sampleSelect.closest('.field').hidden = false;
  sampleSelect.addEventListener('change', () => go({ sample: sampleSelect.value }));
  const unit = unitOf(sample);

  const shown = series.filter((s) => s.samples.some((p) => p.totals && sample in p.totals)).slice(0, MAX_SERIES);
  const common = new Set();
  if (shown.length > 1) {
    for (const [k, v] of Object.entries(shown[0].labels))
      if (shown.every((s) => s.labels[k] === v)) common.add(k);
  }

  const summary = el('p', { class: 'summary hint', id: 'summary' });
  const nprof = shown.reduce((n, s) => n + s.samples.length, 0);
  summary.append(`${shown.length} series, ${nprof} profile${nprof === 1 ? '' : 's'}, ${sample} (${unit}) from ${fmtTime(start)} to ${fmtTime(end)}`);
  if (shown.length < series.length) summary.append(` · ${series.length - shown.length} more series have no ${sample} or are past ${MAX_SERIES}: narrow the selector or choose a type`);
  if (common.size) summary.append(el('br'), 'All series: ', el('span', { class: 'labels' },
    [...common].map((k) => el('span', { class: 'label-chip' }, `${k}="${shown[0].labels[k]}"`))));

  const help = el('p', { class: 'hint help', id: 'plot-help' },
    el('strong', {}, 'Click'), ' a point: that profile · ',
    el('strong', {}, 'Drag'), ' across the plot: the merge of the range · ',
    el('strong', {}, 'Shift-drag'), ' a range, then shift-drag another: the diff (the first is the base). ',
    'Keyboard: the Start and End fields set the range; the buttons below open it.');
  const plotBox = el('div', { class: 'plot', id: 'plot', tabindex: '-1', 'aria-describedby': 'plot-help' });
  const tip = el('div', { class: 'plot-tip', hidden: true, role: 'tooltip', id: 'plot-tip' });
  const baseMsg = el('p', { class: 'base-msg', role: 'status', id: 'base-msg' });
  const mergeHref = (s, e, over = {}) => urlOf('/profile', { query, start: Math.round(s), end: Math.round(e), sample_index: sample, ...over });
  const actions = el('div', { class: 'toolbar actions' },
    el('a', { class: 'button', id: 'open-merge', href: mergeHref(start, end) }, 'Merge this range'),
    el('button', { type: 'button', id: 'set-base', onclick: () => go({ base_start: start, base_end: end }) }, 'Use this range as base'),
    hasBase ? el('a', { class: 'button primary', id: 'open-diff', href: mergeHref(start, end, { base_start: baseStart, base_end: baseEnd }) }, 'Diff this range against the base') : null,
    hasBase ? el('button', { type: 'button', id: 'clear-base', onclick: () => go({ base_start: undefined, base_end: undefined }) }, 'Clear base') : null);
  if (hasBase) baseMsg.append('Base range: ', el('strong', {}, `${fmtTime(baseStart)} – ${fmtTime(baseEnd)}`),
    '. Shift-drag a second range (or set Start and End and press "Diff") to compare against it.');
  const legend = el('table', { class: 'legend', id: 'legend' });
  body.append(summary, el('div', { class: 'plot-wrap' }, plotBox, tip), help, baseMsg, actions, el('div', { class: 'table-wrap' }, legend));

  // aligned data for uPlot: x in seconds, one column per series
  const xs = [...new Set(shown.flatMap((s) => s.samples.map((p) => p.t)))].sort((a, b) => a - b);
  const xi = new Map(xs.map((t, i) => [t, i]));
  const cols = shown.map((s) => {
    const col = new Array(xs.length).fill(null);
    const ids = new Array(xs.length).fill(null);
    for (const p of s.samples) {
      if (!p.totals || !(sample in p.totals)) continue;
      col[xi.get(p.t)] = p.totals[sample];
      ids[xi.get(p.t)] = p.id;
    }
    return { col, ids };
  });
  const data = [xs.map((t) => t / 1000), ...cols.map((c) => c.col)];

  const axisColor = cssVar('--fg-2') || '#666';
  const gridColor = cssVar('--border') || '#ddd';
  const width = () => Math.max(300, plotBox.clientWidth || root.clientWidth || 800);
  const height = () => Math.max(220, Math.min(380, Math.round(window.innerHeight * 0.42)));
  let drag = null; // { x, shift } at mousedown
  const opts = {
    width: width(), height: height(),
    legend: { show: false },
    scales: { x: { time: true, range: () => [start / 1000, end / 1000] }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.08 : 1] } },
    axes: [
      { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } },
      { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor }, size: 80, values: (u, vals) => vals.map((v) => fmtNum(v, unit)),
        // bytes: ticks at powers of two (16 MiB, 32 MiB, ...)
        incrs: unit === 'bytes' ? Array.from({ length: 51 }, (_, i) => 2 ** i) : undefined },
    ],
    cursor: {
      drag: { x: true, y: false, setScale: false },
      points: { size: 9 },
      focus: { prox: 24 },
    },
    focus: { alpha: 0.35 },
    series: [{}, ...shown.map((s, i) => ({
      label: seriesName(s.labels, common),
      stroke: COLORS[i % COLORS.length],
      width: 2,
      spanGaps: true,
      points: { show: true, size: 6, fill: COLORS[i % COLORS.length] },
    }))],
    hooks: {
      setCursor: [(u) => hover(u)],
      setSelect: [(u) => selected(u)],
      draw: [(u) => drawBase(u)],
    },
  };
  const u = new uPlot(opts, data, plotBox);
  plotBox.uplot = u; // tests and the console reach the plot here
  const ro = new ResizeObserver(() => u.setSize({ width: width(), height: height() }));
  ro.observe(plotBox);
  cleanups.push(() => { ro.disconnect(); u.destroy(); });

  // the point nearest the cursor within 20 px: { si, di } or null
  function nearest(u2, left, top) {
    if (left === null || left < 0) return null;
    let best = null, bd = 20 * 20;
    for (let si = 1; si < u2.series.length; si++) {
      if (!u2.series[si].show) continue;
      const col = u2.data[si];
      for (let di = 0; di < col.length; di++) {
        if (col[di] === null) continue;
        const dx = u2.valToPos(u2.data[0][di], 'x') - left;
        if (Math.abs(dx) > 20) continue;
        const dy = u2.valToPos(col[di], 'y') - top;
        const d = dx * dx + dy * dy;
        if (d <= bd) { bd = d; best = { si, di }; }
      }
    }
    return best;
  }
  let hot = null;
  function hover(u2) {
    const { left, top } = u2.cursor;
    hot = drag ? null : nearest(u2, left, top);
    if (!hot) { tip.hidden = true; u2.over.style.cursor = 'crosshair'; return; }
    const s = shown[hot.si - 1];
    tip.replaceChildren(
      el('div', { class: 'tip-value' }, el('span', { class: 'swatch', style: `background:${COLORS[(hot.si - 1) % COLORS.length]}` }), fmtNum(u2.data[hot.si][hot.di], unit), el('span', { class: 'muted' }, ` ${sample}`)),
      el('div', { class: 'tip-time' }, fmtTime(xs[hot.di])),
      el('div', { class: 'labels' }, seriesChips(el, s.labels)),
      el('div', { class: 'hint' }, 'Click to open this profile'));
    tip.hidden = false;
    const px = u2.valToPos(u2.data[0][hot.di], 'x') + u2.over.offsetLeft;
    const py = u2.valToPos(u2.data[hot.si][hot.di], 'y') + u2.over.offsetTop;
    const w = tip.offsetWidth, boxW = plotBox.clientWidth;
    tip.style.left = Math.max(0, Math.min(px + 14, boxW - w - 4)) + 'px';
    tip.style.top = Math.max(0, py - tip.offsetHeight - 12) + 'px';
    u2.over.style.cursor = 'pointer';
  }
  // mousedown: where, and whether shift was held (setSelect reads it: it
  // comes after this element's mouseup, from uPlot's on the document)
  let shiftDrag = false;
  u.over.addEventListener('mousedown', (ev) => { drag = { x: ev.clientX }; shiftDrag = ev.shiftKey; tip.hidden = true; });
  u.over.addEventListener('mouseup', (ev) => {
    const d = drag;
    drag = null;
    if (!d || Math.abs(ev.clientX - d.x) > 3) return; // a drag: setSelect has it
    const r = u.over.getBoundingClientRect();
    const p = nearest(u, ev.clientX - r.left, ev.clientY - r.top);
    if (!p) return;
    const id = cols[p.si - 1].ids[p.di];
    if (id) ctx.navigate('/profile', { id, sample_index: sample });
  });
  u.over.addEventListener('mouseleave', () => { tip.hidden = true; });

  function selected(u2) {
    const { left, width: w } = u2.select;
    if (w < 4) return;
    const s = Math.round(u2.posToVal(left, 'x') * 1000), e = Math.round(u2.posToVal(left + w, 'x') * 1000);
    const shift = shiftDrag;
    u2.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    if (!shift) {
      ctx.navigate('/profile', { query, start: s, end: e, sample_index: sample });
      return;
    }
    if (!hasBase) {
      go({ base_start: s, base_end: e });
      return;
    }
    ctx.navigate('/profile', { query, start: s, end: e, base_start: baseStart, base_end: baseEnd, sample_index: sample });
  }
  function drawBase(u2) {
    if (!hasBase) return;
    const x0 = u2.valToPos(baseStart / 1000, 'x', true), x1 = u2.valToPos(baseEnd / 1000, 'x', true);
    const c = u2.ctx, top = u2.bbox.top, h = u2.bbox.height;
    c.save();
    c.fillStyle = 'rgba(120, 120, 140, 0.18)';
    c.fillRect(x0, top, Math.max(2, x1 - x0), h);
    c.fillStyle = axisColor;
    c.textAlign = 'left';
    c.textBaseline = 'top';
    c.font = `${Math.round(12 * devicePixelRatio)}px sans-serif`;
    c.fillText('base', x0 + 5 * devicePixelRatio, top + 5 * devicePixelRatio);
    c.restore();
  }

  // the legend: one row per series, with its last value and its links
  const head = el('tr', {}, el('th', {}, ''), el('th', {}, 'Series'), el('th', { class: 'num' }, 'Profiles'),
    el('th', { class: 'num' }, `Last ${sample}`), el('th', {}, ''));
  const rows = shown.map((s, i) => {
    const pts = s.samples.filter((p) => p.totals && sample in p.totals);
    const last = pts[pts.length - 1];
    const cb = el('input', { type: 'checkbox', checked: true, 'aria-label': 'Show ' + seriesName(s.labels, new Set()) });
    cb.addEventListener('change', () => u.setSeries(i + 1, { show: cb.checked }));
    return el('tr', { 'data-series': String(i) },
      el('td', {}, el('label', { class: 'swatch-label' }, cb, el('span', { class: 'swatch', style: `background:${COLORS[i % COLORS.length]}` }))),
      el('td', {}, el('span', { class: 'labels' }, Object.entries(s.labels).map(([k, v]) =>
        el('span', { class: 'label-chip' + (common.has(k) ? ' common' : '') }, `${k}="${v}"`)))),
      el('td', { class: 'num' }, String(pts.length)),
      el('td', { class: 'num' }, last ? fmtNum(last.totals[sample], unit) : '–'),
      el('td', {}, last ? el('a', { href: urlOf('/profile', { id: last.id, sample_index: sample }) }, 'latest') : null, ' ',
        el('a', { href: urlOf('/profile', { query: seriesSelector(s.labels), start, end, sample_index: sample }) }, 'merge'), ' ',
        el('a', { href: urlOf('/', { query: seriesSelector(s.labels), range: preset || undefined, start: preset ? undefined : start, end: preset ? undefined : end }) }, 'only this')));
  });
  legend.append(el('thead', {}, head), el('tbody', {}, rows));
  root.dataset.drawMs = String(Math.round(performance.now() - t0));

  return () => cleanups.forEach((f) => f());
}

function urlOf(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return path + (s ? '?' + s : '');
}

// ---- empty states and errors ----

function emptyStore(ctx) {
  const { el } = ctx;
  const host = location.host;
  return el('div', { class: 'empty', id: 'empty-store' },
    el('h2', {}, 'No profiles yet'),
    el('p', {}, 'profefe has not stored a profile. Send one, or let profefe scrape your programs.'),
    el('h3', {}, 'Push a profile with curl'),
    el('pre', {}, el('code', {}, `curl -X POST --data-binary @heap.pb.gz \\\n  'http://${host}/api/0/profiles?service=NAME&type=heap'`)),
    el('p', { class: 'hint' }, 'A Go program writes heap.pb.gz with ', el('code', {}, 'curl -o heap.pb.gz http://localhost:6060/debug/pprof/heap'),
      ' (net/http/pprof). Types: cpu, heap, allocs, block, mutex, goroutine, threadcreate, trace, or your own name.'),
    el('h3', {}, 'Or add a scrape target'),
    el('p', {}, 'In the file given to ', el('code', {}, '-config.file'), ' (as ', el('code', {}, 'examples/profefe.yaml'), '), then ',
      el('code', {}, `curl -X POST http://${host}/-/reload`), ':'),
    el('pre', {}, el('code', {}, `scrape_configs:
  - job_name: myapp
    scrape_interval: 10s
    static_configs:
      - targets: ['127.0.0.1:6060']   # serves /debug/pprof/
        labels:
          service: myapp`)),
    el('p', { class: 'hint' }, 'Profiles show up here within one scrape interval. ', el('a', { href: '/targets' }, 'Targets'), ' shows whether scrapes succeed.'));
}

async function pickSeries(ctx, start, end) {
  const { el } = ctx;
  let sets = [];
  try { sets = await ctx.api('series', { 'match[]': '{service=~".+"}' }); } catch { /* below */ }
  const byService = new Map();
  for (const l of sets) {
    if (!byService.has(l.service)) byService.set(l.service, new Set());
    byService.get(l.service).add(l.type);
  }
  const box = el('div', { class: 'empty pick', id: 'pick-series' },
    el('h2', {}, 'Choose what to plot'),
    el('p', {}, 'Type a selector above (completion offers label names and values; ', el('kbd', {}, '↑'), el('kbd', {}, '↓'), ' move, ',
      el('kbd', {}, 'Enter'), ' or ', el('kbd', {}, 'Tab'), ' accept), or pick a service and type:'));
  const ul = el('ul', { class: 'pick-list' });
  for (const [svc, types] of [...byService].sort((a, b) => a[0].localeCompare(b[0]))) {
    ul.append(el('li', {}, el('strong', {}, svc), ' ',
      [...types].sort().map((t) => el('a', { class: 'button small', href: urlOf('/', { query: `${t}{service="${quoteValue(svc)}"}` }) }, t))));
  }
  box.append(ul, el('p', { class: 'hint' }, 'Selectors are PromQL vector selectors with the profile type as the metric name: ',
    el('code', {}, 'heap{service="shop", region!="us"}'), ', ', el('code', {}, 'cpu{instance=~"web-.*"}'), '.'));
  return box;
}

// A series' labels as k="v" chips.
function seriesChips(el, labels) {
  return Object.entries(labels).map(([k, v]) => el('span', { class: 'label-chip' }, `${k}="${v}"`));
}

// Series without totals (Go execution traces): each stored trace, newest
// first, as a download of its bytes (go tool trace FILE).
function traceList(ctx, series, start, end) {
  const { el } = ctx;
  const rows = series.flatMap((s) => s.samples.map((p) => ({ p, labels: s.labels }))).sort((a, b) => b.p.t - a.p.t);
  return el('div', { class: 'empty', id: 'traces' },
    el('h2', {}, 'Traces have no totals to plot'),
    el('p', {}, `${rows.length} Go execution trace${rows.length === 1 ? '' : 's'} from ${fmtTime(start)} to ${fmtTime(end)}; each downloads as it was stored (open it with `,
      el('code', {}, 'go tool trace FILE'), '):'),
    el('ul', {}, rows.slice(0, 500).map(({ p, labels }) => el('li', {},
      el('a', { href: `/api/0/profiles/${encodeURIComponent(p.id)}`, download: `${p.id}.trace` }, fmtTime(p.t)), ' ',
      el('span', { class: 'labels' }, seriesChips(el, labels))))),
    rows.length > 500 ? el('p', { class: 'hint' }, `The newest 500 of ${rows.length}: narrow the range for the others.`) : null);
}

function noMatch(ctx, query, start, end, go) {
  const { el } = ctx;
  return el('div', { class: 'empty', id: 'no-match' },
    el('h2', {}, 'No profiles match in this range'),
    el('p', {}, 'Nothing matches ', el('code', {}, query), ` between ${fmtTime(start)} and ${fmtTime(end)} (${fmtSpan(end - start)}).`),
    el('p', {}, 'Try a longer range: ',
      el('button', { type: 'button', onclick: () => go({ range: '24h' }) }, 'last 24h'), ' ',
      el('button', { type: 'button', onclick: () => go({ range: '7d' }) }, 'last 7d'),
      ', or check the label values: the selector box completes them, and ', el('a', { href: '/services' }, 'Services'), ' lists what is stored.'));
}

function showApiError(ctx, body, e, query) {
  const { el } = ctx;
  const m = /(\d+):(\d+): parse error: (.*)$/.exec(e.message || '');
  if (m && query) {
    const col = Number(m[2]);
    const line = query.split('\n')[Number(m[1]) - 1] || query;
    const hint = el('div', { class: 'hint' },
      el('p', {}, `The selector has a syntax error at column ${col}: ${m[3]}.`),
      el('pre', { class: 'caret' }, el('code', {}, line + '\n' + ' '.repeat(Math.max(0, col - 1)) + '^')),
      el('p', {}, 'A selector is a type and label matchers in braces, each value in quotes: ',
        el('code', {}, 'heap{service="shop", instance=~"web-.*"}'), '. Operators: ', el('code', {}, '='), ' ', el('code', {}, '!='), ' ',
        el('code', {}, '=~'), ' ', el('code', {}, '!~'), '.'));
    ctx.showError(body, e, hint);
    return;
  }
  let hint = 'Check the selector and the time range; the message above says what the server refused.';
  if (e.status === 401) hint = 'Enter the token in the form; the page reloads with it. The "Access token" button at the top opens the form again.';
  else if (/start.*after.*end|end.*before.*start/i.test(e.message)) hint = 'Start must be before end: change the Start and End fields.';
  else if (/empty string|at least one/i.test(e.message)) hint = 'Add a matcher that does not match the empty string, e.g. service="shop" or service=~".+".';
  else if (e.status === 0) hint = 'Start profefe again, then reload this page.';
  else if (e.status === 503) hint = 'The query took too long (-query.timeout): choose a shorter range or a narrower selector.';
  ctx.showError(body, e, hint);
}
