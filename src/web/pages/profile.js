// The Profile view (SPEC §7): one profile (/profile?id=ID), the merge of a
// range (/profile?query=SEL&start=&end=) or a diff (the same plus
// base_start=&base_end= [base_query=], or id=ID&base=ID). Views: flame graph,
// top table, flame + table, sandwich of one function; a diff has each of
// them (/api/v1/diff's reports, its header from one report=meta). All state is in the query string: view, sample_index,
// search, zoom (frame names from the root, ';'-separated), function, sort,
// max_nodes, and pprof's filters (focus, ignore, hide, show_from, tagfocus,
// tagignore, granularity) passed to every report.
import { FlameGraph, formatValue, formatPct } from '../flame.js';
import { renderTopTable } from '../toptable.js';
import { getToken } from '../api.js';
import { el } from './pagekit.js';

const FILTERS = ['focus', 'ignore', 'hide', 'show_from', 'tagfocus', 'tagignore', 'granularity'];
const VIEWS = [
  ['flame', 'Flame graph'],
  ['top', 'Top'],
  ['both', 'Flame + table'],
  ['sandwich', 'Sandwich'],
];
const DEFAULT_MAX_NODES = 8192;

// A few recent report replies, so switching views does not fetch again.
const cache = new Map();
async function cached(ctx, path, params, signal) {
  const key = ctx.apiURL(path, params);
  let p = cache.get(key);
  const t0 = performance.now();
  if (!p) {
    p = ctx.api(path, params, { signal });
    cache.set(key, p);
    if (cache.size > 8) cache.delete(cache.keys().next().value);
  }
  try {
    const v = await p;
    const t = (window.__flameTimings = window.__flameTimings || []);
    t.push({ kind: 'fetch', ms: Math.round((performance.now() - t0) * 100) / 100, what: params.report || '' });
    return v;
  } catch (e) {
    if (cache.get(key) === p) cache.delete(key);
    // Another render's request, stopped when it left: ask again.
    if (e.name === 'AbortError' && !signal.aborted) return cached(ctx, path, params, signal);
    throw e;
  }
}

// A time of the URL (Unix s, Unix ms or RFC 3339) as a Date, or null.
function parseTime(s) {
  if (s === null || s === undefined || s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return new Date(n < 1e11 ? n * 1000 : n);
  }
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

function fmtTime(d) {
  if (!d) return '';
  return d.toISOString().replace('T', ' ').replace(/\.000Z$/, 'Z').replace(/\.(\d+)Z$/, '.$1Z');
}

function fmtRange(start, end) {
  const a = parseTime(start), b = parseTime(end);
  if (!a && !b) return 'all time';
  return `${a ? fmtTime(a) : '…'} – ${b ? fmtTime(b) : '…'}`;
}

function fmtDuration(ns) {
  if (!ns) return '';
  return formatValue(ns, 'nanoseconds');
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function bareName(name) {
  return name.replace(/ \((partial-)?inline\)$/, '');
}

function selectorOf(labels) {
  const type = labels.type;
  const parts = Object.keys(labels).filter((k) => k !== 'type').sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  return (type || '') + '{' + parts.join(', ') + '}';
}

// What the URL asks for: {mode: 'profile'|'merge'|'diff', path, params
// (of the report requests, without report=), sides: [{kind, id|query,start,end}]}.
function sourceOf(p) {
  const id = p.get('id') || '';
  const query = p.get('query') || '';
  const side = (pre) => {
    if (pre === 'base' && p.get('base')) return { kind: 'id', id: p.get('base') };
    if (pre === 'target' && id) return { kind: 'id', id };
    const q = pre === 'base' ? p.get('base_query') || query : query;
    const s = pre === 'base' ? p.get('base_start') : p.get('start');
    const e = pre === 'base' ? p.get('base_end') : p.get('end');
    return { kind: 'query', query: q, start: s || '', end: e || '' };
  };
  const isDiff = p.has('base') || p.has('base_start') || p.has('base_end') || p.has('base_query');
  if (isDiff) {
    const base = side('base'), target = side('target');
    const params = {};
    for (const [pre, s] of [['base', base], ['target', target]]) {
      if (s.kind === 'id') params[pre] = s.id;
      else { params[pre + '_query'] = s.query; params[pre + '_start'] = s.start; params[pre + '_end'] = s.end; }
    }
    return { mode: 'diff', path: 'diff', params, base, target };
  }
  if (id) return { mode: 'profile', path: 'profile/' + encodeURIComponent(id), params: {}, target: { kind: 'id', id } };
  if (query) {
    const t = { kind: 'query', query, start: p.get('start') || '', end: p.get('end') || '' };
    return { mode: 'merge', path: 'merge', params: { query, start: t.start, end: t.end }, target: t };
  }
  return null;
}

function sidePath(s) {
  return s.kind === 'id' ? 'profile/' + encodeURIComponent(s.id) : 'merge';
}
function sideParams(s) {
  return s.kind === 'id' ? {} : { query: s.query, start: s.start, end: s.end };
}

function emptyState(root) {
  root.append(el('div', { class: 'empty' },
    el('h2', {}, 'Which profile?'),
    el('p', {}, 'This page shows one profile (', el('code', {}, '/profile?id=ID'), '), the merge of a range (',
      el('code', {}, '/profile?query={service="shop"}&start=…&end=…'), ') or a diff (add ',
      el('code', {}, 'base_start=…&base_end=…'), ').'),
    el('p', {}, 'Pick one on the ', el('a', { href: '/' }, 'Query page'), ': click a point for a profile, drag a range for a merge, shift-drag a second range for a diff.')));
}

export async function render(root, params, ctx) {
  ctx.css('pages/profile.css');
  const p = new URLSearchParams(params);
  const src = sourceOf(p);
  if (!src) { emptyState(root); return; }
  const abort = new AbortController();
  const signal = abort.signal;
  const cleanups = [() => abort.abort()];
  const isDiff = src.mode === 'diff';
  let view = p.get('view') || 'flame';
  if (!VIEWS.some(([v]) => v === view)) view = 'flame';

  const filters = {};
  for (const f of FILTERS) if (p.get(f)) filters[f] = p.get(f);
  const sampleIndex = p.get('sample_index') || '';
  const maxNodes = Number(p.get('max_nodes')) || DEFAULT_MAX_NODES;
  const common = Object.assign({}, src.params, filters, sampleIndex ? { sample_index: sampleIndex } : {});

  // URL state written back without a new history entry.
  const setParam = (k, v) => {
    if (v === undefined || v === null || v === '') p.delete(k); else p.set(k, v);
    ctx.setParams(p);
  };
  const go = (changes) => {
    const q = new URLSearchParams(p);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined || v === null || v === '') q.delete(k); else q.set(k, v);
    }
    ctx.navigate('/profile', q);
  };

  const page = el('div', { class: 'profile-page', 'data-mode': src.mode, 'data-view': view });
  root.append(page);
  const head = el('header', { class: 'profile-head' });
  const toolbar = el('div', { class: 'profile-toolbar', role: 'toolbar', 'aria-label': 'profile view' });
  const body = el('div', { class: 'profile-body view-' + view });
  const overTime = el('section', { class: 'profile-overtime', 'aria-label': 'one function over time' });
  page.append(head, toolbar, body, overTime);
  body.append(el('p', { class: 'loading' }, 'Loading…'));

  // ---- what it is: the meta (a diff's: {base, target}, one call) ----
  let meta, baseMeta;
  try {
    const m = await cached(ctx, src.path, Object.assign({}, src.params, { report: 'meta' }), signal);
    [meta, baseMeta] = isDiff ? [m.target, m.base] : [m, null];
  } catch (e) {
    if (e.name === 'AbortError') return;
    head.remove();
    toolbar.remove();
    overTime.remove();
    body.replaceChildren();
    ctx.showError(body, e, hintFor(e, src));
    return () => cleanups.forEach((f) => f());
  }
  // sample_index= may be a type's name or its index, as the API takes it.
  const byIndex = /^\d+$/.test(sampleIndex) && meta.sample_types[Number(sampleIndex)];
  const sampleType = (byIndex && byIndex.type) || sampleIndex || meta.default_sample_type ||
    (meta.sample_types.length ? meta.sample_types[meta.sample_types.length - 1].type : '');
  const unitOf = (t) => (meta.sample_types.find((s) => s.type === t) || {}).unit || '';

  // Labels of a single profile: its series, found at its time.
  const seriesOf = async (s, m) => {
    if (s.kind !== 'id') return null;
    try {
      const r = await ctx.api('query_range', { query: '{service=~".+"}', start: m.time, end: m.time }, { signal });
      for (const ser of r) if (ser.samples.some((x) => x.id === s.id)) return ser.labels;
    } catch (e) { if (e.name === 'AbortError') throw e; }
    return null;
  };
  let labels = null, baseLabels = null;
  try {
    [labels, baseLabels] = await Promise.all([seriesOf(src.target, meta), isDiff ? seriesOf(src.base, baseMeta) : null]);
  } catch (e) { return; }

  renderHead(head, src, meta, baseMeta, labels, baseLabels, sampleType);
  if (Object.keys(filters).length) {
    const box = el('div', { class: 'filters' }, 'Filters (as go tool pprof\'s): ');
    for (const [k, v] of Object.entries(filters)) {
      box.append(el('span', { class: 'label-chip filter-chip' }, el('b', {}, k), '=', v,
        el('button', { type: 'button', class: 'chip-x', 'aria-label': `remove ${k}`, title: `remove ${k}`, onclick: () => go({ [k]: '', zoom: '' }) }, '×')));
    }
    head.querySelector('.head-main').append(box);
  }

  // ---- toolbar: sample type, views, search, download, go tool pprof ----
  const typeSel = el('select', { id: 'sample-type', 'aria-label': 'sample type' });
  for (const st of meta.sample_types) {
    const o = el('option', { value: st.type }, `${st.type} (${st.unit})`);
    if (st.type === sampleType) o.selected = true;
    typeSel.append(o);
  }
  typeSel.addEventListener('change', () => go({ sample_index: typeSel.value === meta.default_sample_type ? '' : typeSel.value, zoom: '', max_nodes: '' }));
  toolbar.append(el('label', { class: 'tool', for: 'sample-type' }, 'Sample type ', typeSel));

  const views = el('div', { class: 'views', role: 'tablist', 'aria-label': 'view' });
  for (const [v, label] of VIEWS) {
    const b = el('button', {
      type: 'button', role: 'tab', class: 'view-btn', 'data-view': v, 'aria-selected': v === view ? 'true' : 'false',
    }, label);
    b.addEventListener('click', () => { if (v !== view) go({ view: v === 'flame' ? '' : v }); });
    views.append(b);
  }
  toolbar.append(views);

  const search = el('input', {
    type: 'search', id: 'flame-search', class: 'search', placeholder: 'Search functions (regex)  /',
    'aria-label': 'search functions', value: p.get('search') || '', spellcheck: 'false', autocomplete: 'off',
  });
  toolbar.append(search);

  head.append(renderDownload(ctx, src, sampleType, meta, filters));

  // ---- the view ----
  const reportParams = (report, extra) => Object.assign({}, common, { report }, extra || {});
  const state = { flame: null, table: null, flames: [] };
  // A chosen function (frame clicked, arrows, a table row): in the URL at
  // once, its plot over time after a pause (arrow keys choose many).
  let plotTimer = 0;
  const selectFunction = (name) => {
    if (name === p.get('function')) return;
    setParam('function', name);
    if (state.table) state.table.select(name);
    clearTimeout(plotTimer);
    plotTimer = setTimeout(() => plotOverTime(name), 350);
  };
  cleanups.push(() => clearTimeout(plotTimer));
  const zoomNames = (p.get('zoom') || '').split(';').filter(Boolean);

  const makeFlame = (host, report, o = {}) => {
    const f = new FlameGraph(host, Object.assign({
      label: `flame graph of ${report.sample_type}`,
      onShowMore: o.noMore ? undefined : () => go({ max_nodes: String(maxNodes * 4) }),
      onZoom: o.noZoomURL ? undefined : (names) => setParam('zoom', names.join(';')),
      onSelect: (name) => { if (name !== 'root' && name !== 'other') selectFunction(bareName(name)); },
    }, o));
    f.setData(report, { diff: isDiff, zoom: o.zoom || [], search: search.value, shareOf: o.shareOf });
    host.__flame = f;
    state.flames.push(f);
    return f;
  };

  let bodyReady;
  try {
    bodyReady = await renderView();
  } catch (e) {
    if (e.name === 'AbortError') return;
    body.replaceChildren();
    ctx.showError(body, e, hintFor(e, src));
    return () => cleanups.forEach((f) => f());
  }

  async function renderView() {
    if (view === 'flame' || view === 'both') {
      const [fg, top] = await Promise.all([
        cached(ctx, src.path, reportParams('flamegraph', maxNodes !== DEFAULT_MAX_NODES ? { max_nodes: maxNodes } : {}), signal),
        view === 'both' ? cached(ctx, src.path, reportParams('top'), signal) : null,
      ]);
      body.replaceChildren();
      if (!fg.root || !(fg.root.total || fg.root.base || fg.root.target)) {
        body.append(el('div', { class: 'empty' }, el('p', {}, `No samples of ${fg.sample_type} in this ${src.mode}${Object.keys(filters).length ? ' with these filters' : ''}.`), el('p', {}, 'Choose another sample type above.')));
        return;
      }
      const fh = el('div', { class: 'flame-host', id: 'flame-main' });
      if (view === 'both') {
        const th = el('div', { class: 'table-host' });
        body.append(el('div', { class: 'split' }, fh, th));
        state.flame = makeFlame(fh, fg, { zoom: zoomNames });
        state.table = renderTopTable(th, top, {
          sort: p.get('sort'), diff: isDiff, search: search.value, selected: p.get('function') || '',
          onSort: (k) => setParam('sort', k === 'flat' ? '' : k),
          onPick: (name) => {
            const k = state.flame.focusName(name);
            if (k < 0) state.flame.focusName(name + ' (inline)');
            selectFunction(bareName(name));
          },
          onSandwich: (name) => go({ view: 'sandwich', function: bareName(name) }),
        });
      } else {
        body.append(fh);
        state.flame = makeFlame(fh, fg, { zoom: zoomNames });
      }
    } else if (view === 'top') {
      const top = await cached(ctx, src.path, reportParams('top'), signal);
      body.replaceChildren();
      const th = el('div', { class: 'table-host table-full' });
      body.append(th);
      state.table = renderTopTable(th, top, {
        sort: p.get('sort'), diff: isDiff, search: search.value, selected: p.get('function') || '',
        onSort: (k) => setParam('sort', k === 'flat' ? '' : k),
        onPick: isDiff ? (name) => selectFunction(bareName(name)) : (name) => go({ view: 'sandwich', function: bareName(name) }),
        onSandwich: (name) => go({ view: 'sandwich', function: bareName(name) }),
      });
    } else if (view === 'sandwich') {
      await renderSandwich();
    }
  }

  async function renderSandwich() {
    const fn = p.get('function') || '';
    const top = await cached(ctx, src.path, reportParams('top', { limit: 200 }), signal);
    body.replaceChildren();
    const list = el('datalist', { id: 'sandwich-functions' });
    for (const r of top.rows) list.append(el('option', { value: bareName(r.name) }));
    const input = el('input', { type: 'text', id: 'sandwich-function', list: 'sandwich-functions', value: fn, placeholder: 'a function name, as top prints it', spellcheck: 'false', 'aria-label': 'function' });
    const form = el('form', { class: 'sandwich-pick' }, el('label', { for: 'sandwich-function' }, 'Function '), input, el('button', { type: 'submit' }, 'Show'), list);
    form.addEventListener('submit', (e) => { e.preventDefault(); if (input.value.trim()) go({ function: input.value.trim(), zoom: '' }); });
    body.append(form);
    if (!fn) {
      body.append(el('div', { class: 'empty' }, el('p', {}, 'Pick a function: type its name above, or use "callers/callees" in the Top view. The heaviest: '),
        el('ul', {}, top.rows.slice(0, 8).map((r) => el('li', {}, el('a', { href: '/profile?' + withParams(p, { view: 'sandwich', function: bareName(r.name) }) }, r.name), ` ${formatValue(r.flat, top.unit)} flat`)))));
      return;
    }
    const sw = await cached(ctx, src.path, reportParams('sandwich', { function: fn, max_nodes: maxNodes }), signal);
    const rootTotal = top.total;
    const cum = sw.callees.total;
    if (isDiff) {
      // cum on each side and the change; a diff's top total is the base's
      const b = sw.callees.base, t = sw.callees.target, sign = (v) => (v >= 0 ? '+' : '');
      const only = sw.callees.only ? ` — only in the ${sw.callees.only} (${sw.callees.only === 'base' ? 'gone' : 'new'})` : '';
      body.append(el('p', { class: 'sandwich-summary' },
        el('strong', {}, sw.function), ` — cum ${sw.sample_type}: base ${formatValue(b, sw.unit)}, target ${formatValue(t, sw.unit)}, change `,
        el('strong', { class: cum > 0 ? 'grew' : cum < 0 ? 'shrank' : '' }, `${sign(cum)}${formatValue(cum, sw.unit)}${b ? ` (${sign(cum)}${formatPct(cum / b * 100)})` : ''}`), only,
        `; self change ${sign(sw.callees.self)}${formatValue(sw.callees.self, sw.unit)}`));
    } else {
      body.append(el('p', { class: 'sandwich-summary' },
        el('strong', {}, sw.function), ` — cum ${formatValue(cum, sw.unit)} (${formatPct(rootTotal ? cum / rootTotal * 100 : 0)} of ${formatValue(rootTotal, sw.unit)} ${sw.sample_type}), self ${formatValue(sw.callees.self, sw.unit)}`));
    }
    const ch = el('div', { class: 'flame-host sandwich-callers', id: 'flame-callers' });
    const ce = el('div', { class: 'flame-host sandwich-callees', id: 'flame-callees' });
    body.append(el('h2', { class: 'sandwich-h' }, 'Callers ', el('span', { class: 'hint' }, '(who calls it: the function at the bottom, its callers above)')), ch,
      el('h2', { class: 'sandwich-h' }, 'Callees ', el('span', { class: 'hint' }, '(what it calls: the function at the top)')), ce);
    const tr = sw.trimmed || {};
    const callersRep = { sample_type: sw.sample_type, unit: sw.unit, total: cum, trimmed: tr.callers, root: sw.callers };
    const calleesRep = { sample_type: sw.sample_type, unit: sw.unit, total: cum, trimmed: tr.callees, root: sw.callees };
    // in a diff, each frame's share is of the function's cum on its side
    const shareOf = isDiff ? 'the function\'s cum on its side' : undefined;
    makeFlame(ch, callersRep, { inverted: true, noZoomURL: true, maxHeight: 300, label: 'callers of ' + sw.function, shareOf });
    state.flame = makeFlame(ce, calleesRep, { noZoomURL: true, maxHeight: 320, label: 'callees of ' + sw.function, shareOf, legend: false });
  }

  // ---- search (the URL keeps it) ----
  let searchTimer = 0;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      setParam('search', search.value);
      for (const f of state.flames) f.setSearch(search.value);
      if (state.table) state.table.setSearch(search.value);
    }, 120);
  });
  const onKey = (e) => {
    const t = e.target;
    const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
    if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      search.focus();
      search.select();
    } else if (e.key === 'Escape') {
      if (t === search) { search.blur(); return; }
      if (typing) return;
      if (t && t.classList && t.classList.contains('flame-canvas')) return; // the canvas handles it
      for (const f of state.flames) f.resetZoom();
    }
  };
  document.addEventListener('keydown', onKey);
  cleanups.push(() => document.removeEventListener('keydown', onKey));
  cleanups.push(() => state.flames.forEach((f) => f.destroy()));

  // ---- one function over time ----
  let plotAbort = null;
  cleanups.push(() => plotAbort && plotAbort.abort());
  async function plotOverTime(fn) {
    if (plotAbort) plotAbort.abort();
    plotAbort = new AbortController();
    const plotSignal = plotAbort.signal;
    overTime.replaceChildren();
    if (!fn) {
      overTime.append(el('h2', {}, 'One function over time'),
        el('p', { class: 'hint' }, 'Click a frame or a row of the table to plot that function\'s cost over time (focus=).'));
      return;
    }
    const sel = overTimeQuery(src, meta, labels, p);
    if (!sel) return;
    const focus = '^' + escapeRe(fn) + '$';
    const h = el('h2', {}, 'One function over time: ', el('code', {}, fn));
    const status = el('p', { class: 'hint' }, 'Loading…');
    const plot = el('div', { class: 'overtime-plot', id: 'overtime-plot' });
    overTime.append(h, el('p', { class: 'hint' }, `${sampleType} through ${fn} in each profile of `, el('code', {}, sel.query), `, ${fmtRange(sel.start, sel.end)}`), status, plot);
    let data;
    try {
      data = await ctx.api('query_range', { query: sel.query, start: sel.start, end: sel.end, focus }, { signal: plotSignal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      status.remove();
      ctx.showError(overTime, e, 'The plot asks /api/v1/query_range with focus=; check the selector and range.');
      return;
    }
    if (plot.isConnected === false) return;
    const np = data.reduce((n, s) => n + s.samples.length, 0);
    status.textContent = `${data.length} series, ${np} profile${np === 1 ? '' : 's'}`;
    await drawOverTime(plot, data, sampleType, unitOf(sampleType), ctx, fn);
  }
  plotOverTime(p.get('function') || '');

  void bodyReady;
  return () => cleanups.forEach((f) => { try { f(); } catch (e) { /* page gone */ } });
}

function withParams(p, changes) {
  const q = new URLSearchParams(p);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === '') q.delete(k); else q.set(k, v);
  }
  return q.toString();
}

function hintFor(e, src) {
  if (e.status === 404) {
    return src.mode === 'profile'
      ? 'No profile has this id: it may have been dropped by retention (-tsdb.retention). Find another on the Query page.'
      : 'The selector found no profiles in this range: widen the range or check the selector on the Query page.';
  }
  if (e.status === 400) return 'Change the part of the URL the message names (selector, times, sample_index or a filter).';
  if (e.status === 503) return 'The query took longer than -query.timeout: narrow the range.';
  return 'Reload the page; if it persists, the server log may say more.';
}

// The selector and range of the over-time plot: the merge's or diff's own,
// or a single profile's series one hour either side of it.
function overTimeQuery(src, meta, labels, p) {
  if (src.mode === 'merge') return { query: src.target.query, start: src.target.start, end: src.target.end };
  if (src.mode === 'diff' && src.target.kind === 'query') {
    const a = [src.base.start, src.target.start].map(parseTime).filter(Boolean);
    const b = [src.base.end, src.target.end].map(parseTime).filter(Boolean);
    return {
      query: src.target.query,
      start: a.length === 2 ? String(Math.min(a[0].getTime(), a[1].getTime())) : p.get('start') || '',
      end: b.length === 2 ? String(Math.max(b[0].getTime(), b[1].getTime())) : p.get('end') || '',
    };
  }
  if (labels) return { query: selectorOf(labels), start: String(meta.time - 3600e3), end: String(meta.time + 3600e3) };
  return null;
}

async function drawOverTime(host, data, sampleType, unit, ctx, fnLabel) {
  let uPlot;
  try {
    ctx.css('vendor/uplot/uPlot.min.css');
    uPlot = (await import('../vendor/uplot/uPlot.esm.js')).default;
  } catch (e) {
    uPlot = null;
  }
  const times = [...new Set(data.flatMap((s) => s.samples.map((x) => x.t)))].sort((a, b) => a - b);
  if (!times.length) { host.append(el('p', { class: 'empty' }, 'No profiles in this range.')); return; }
  if (!uPlot) {
    host.append(el('p', { class: 'hint' }, 'The plot library (vendor/uplot) is missing from this build.'));
    return;
  }
  const idx = new Map(times.map((t, i) => [t, i]));
  const series = [{}];
  const cols = [times.map((t) => t / 1000)];
  const palette = ['#e66101', '#2166ac', '#5e3c99', '#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e'];
  // Name each line by the labels that differ between the series.
  const keys = [...new Set(data.flatMap((s) => Object.keys(s.labels)))]
    .filter((k) => new Set(data.map((s) => s.labels[k])).size > 1).sort();
  data.slice(0, 12).forEach((s, i) => {
    const col = new Array(times.length).fill(null);
    for (const x of s.samples) col[idx.get(x.t)] = x.totals[sampleType] ?? null;
    cols.push(col);
    const lab = keys.map((k) => `${k}=${s.labels[k] ?? ''}`).join(', ') || fnLabel;
    series.push({ label: lab, stroke: palette[i % palette.length], width: 2, points: { show: times.length < 60, size: 5 }, spanGaps: true, value: (u, v) => v === null ? '' : formatValue(v, unit) });
  });
  const width = Math.max(320, host.clientWidth || 800);
  const opts = {
    width, height: 180, series,
    axes: [{}, { values: (u, vals) => vals.map((v) => formatValue(v, unit)), size: 80 }],
    scales: { x: { time: true } },
    legend: { show: true },
  };
  const u = new uPlot(opts, cols, host);
  host.__uplot = u;
}

function renderHead(head, src, meta, baseMeta, labels, baseLabels, sampleType) {
  const chips = (ls) => el('span', { class: 'labels' }, Object.entries(ls || {}).sort().map(([k, v]) => el('span', { class: 'label-chip' }, el('b', {}, k), '=', v)));
  const sideLine = (name, s, m, ls) => {
    const what = [];
    if (s.kind === 'id') {
      what.push(el('span', {}, 'profile ', el('code', {}, s.id)));
      if (ls) what.push(' ', chips(ls));
      what.push(` at ${fmtTime(new Date(m.time))}`);
    } else {
      what.push(el('span', {}, 'merge of ', el('strong', { class: 'profiles-count' }, String(m.profiles)), ` profile${m.profiles === 1 ? '' : 's'} of `, el('code', {}, s.query)));
      what.push(`, ${fmtRange(s.start, s.end)}`);
    }
    const extra = [];
    if (m.duration) extra.push(`duration ${fmtDuration(m.duration)}`);
    extra.push(`${m.samples.toLocaleString('en-US')} samples`);
    if (m.period_type && m.period_type.type && m.period > 1) extra.push(`period ${formatValue(m.period, m.period_type.unit)}`);
    return el('div', { class: 'side side-' + name }, name ? el('span', { class: 'side-name' }, name) : null, ...what, el('span', { class: 'meta-extra' }, ' · ' + extra.join(' · ')));
  };
  let title;
  if (src.mode === 'diff') title = 'Diff: target minus base';
  else if (src.mode === 'merge') {
    const ty = (labels && labels.type) || typeOfQuery(src.target.query);
    title = ty ? `Merged ${ty} profiles` : 'Merged profiles';
  }
  else title = `${(labels && labels.type) || 'Profile'}${labels && labels.service ? ' · ' + labels.service : ''}`;
  const main = el('div', { class: 'head-main' }, el('h1', {}, title, el('span', { class: 'sample-type-title' }, ` ${sampleType}`)));
  if (src.mode === 'diff') {
    main.append(sideLine('base', src.base, baseMeta, baseLabels), sideLine('target', src.target, meta, labels));
  } else {
    main.append(sideLine('', src.target, meta, labels));
  }
  head.append(main);
}

function typeOfQuery(q) {
  const m = /^\s*([a-zA-Z_][\w-]*)\s*\{/.exec(q || '') || /type\s*=\s*"([^"]+)"/.exec(q || '');
  return m ? m[1] : '';
}

// The page's filters as go tool pprof's flags (the profile downloaded is
// unfiltered, so the command applies them): -focus='RE' ..., and
// granularity as -lines or -files (functions is pprof's default).
export function pprofFilterFlags(filters) {
  const q = (v) => `'${String(v).replace(/'/g, "'\\''")}'`;
  let f = '';
  for (const k of ['focus', 'ignore', 'hide', 'show_from', 'tagfocus', 'tagignore']) {
    if (filters && filters[k]) f += ` -${k}=${q(filters[k])}`;
  }
  const g = filters && filters.granularity;
  if (g === 'lines' || g === 'files') f += ` -${g}`;
  return f;
}

// The download link(s) and the go tool pprof command with a copy button.
function renderDownload(ctx, src, sampleType, meta, filters) {
  const box = el('div', { class: 'export' });
  const abs = (u) => location.origin + u;
  const si = (sampleType && sampleType !== meta.default_sample_type ? ` -sample_index=${sampleType}` : '') +
    pprofFilterFlags(filters);
  const token = !!getToken();
  // With an access token a plain link cannot send it: fetch with the
  // header and save the bytes.
  const link = (href, file, id, text) => {
    const a = el('a', { href, download: file, class: 'download', id }, text);
    a.addEventListener('click', async (e) => {
      if (!getToken() || a.dataset.blob) return;
      e.preventDefault();
      try {
        const res = await fetch(href, { headers: { Authorization: 'Bearer ' + getToken() } });
        if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
        const url = URL.createObjectURL(await res.blob());
        const tmp = el('a', { href: url, download: file, 'data-blob': '1' });
        document.body.append(tmp);
        tmp.click();
        tmp.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (err) {
        a.title = 'download failed: ' + err.message;
        a.classList.add('failed');
      }
    });
    return a;
  };
  // go tool pprof cannot send a token: curl fetches, pprof reads the file.
  const fetchCmd = (u, file) => `curl -sfH "Authorization: Bearer $PROFEFE_TOKEN" -o ${file} '${abs(u)}'`;
  let cmd;
  if (src.mode === 'diff') {
    const b = ctx.apiURL(sidePath(src.base), Object.assign({}, sideParams(src.base), { report: 'pprof' }));
    const t = ctx.apiURL(sidePath(src.target), Object.assign({}, sideParams(src.target), { report: 'pprof' }));
    box.append(el('span', { class: 'links' }, 'Download pprof: ',
      link(b, 'base.pb.gz', 'download-base', 'base'), link(t, 'target.pb.gz', 'download', 'target')));
    cmd = token
      ? `${fetchCmd(b, 'base.pb.gz')} && ${fetchCmd(t, 'target.pb.gz')} && go tool pprof -http=:${si} -diff_base base.pb.gz target.pb.gz`
      : `go tool pprof -http=:${si} -diff_base '${abs(b)}' '${abs(t)}'`;
  } else {
    const u = ctx.apiURL(src.path, Object.assign({}, src.params, { report: 'pprof' }));
    const file = src.mode === 'profile' ? `${src.target.id}.pb.gz` : 'merge.pb.gz';
    box.append(el('span', { class: 'links' }, link(u, file, 'download', 'Download pprof')));
    cmd = token ? `${fetchCmd(u, file)} && go tool pprof -http=:${si} ${file}` : `go tool pprof -http=:${si} '${abs(u)}'`;
  }
  const code = el('code', { class: 'pprof-cmd', id: 'pprof-cmd', title: token ? cmd + '\n(go tool pprof cannot send the access token: set PROFEFE_TOKEN to it)' : cmd }, cmd);
  const copy = el('button', { type: 'button', class: 'copy', id: 'copy-cmd' }, 'Copy');
  copy.addEventListener('click', async () => {
    let ok = false;
    try { await navigator.clipboard.writeText(cmd); ok = true; } catch (e) { /* below */ }
    if (!ok) {
      const r = document.createRange();
      r.selectNodeContents(code);
      const s = getSelection();
      s.removeAllRanges();
      s.addRange(r);
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    }
    copy.textContent = ok ? 'Copied' : 'Selected: press Ctrl+C';
    setTimeout(() => { copy.textContent = 'Copy'; }, 2000);
  });
  box.append(el('span', { class: 'cmd' }, code, copy));
  return box;
}
