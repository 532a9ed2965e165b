// What changed (/changed?query=SEL&start=&end=[&compare=previous|day]
// [&sample_index=][&by=flat|cum][&n=]): compares the profiles of a range
// with those of the previous range of the same length (or of the same
// time a day earlier) and lists the functions whose share of the total
// grew or shrank most. share = flat (or cum) / total on each side, from
// the top report of each side's merge (/api/v1/merge?report=top with
// node_fraction=0, so no function is dropped); each row opens the diff of
// the two ranges in the Profile view with that function.
//
// A range given as range=1h (or no range: the last hour) is turned into
// start and end in the URL at once, so a shared link shows the same data.
import {
  el, pageURL, selector, parseTime, parseDuration, toLocalInput, fmtTime, fmtRange, fmtSpan,
  fmtAgo, fmtValue, fmtPct, emptyBox,
} from './pagekit.js';

const PRESETS = ['15m', '1h', '6h', '24h', '7d'];
const DAY = 86400e3;
const NS = [10, 15, 25, 50];

// The state of the page from its query string.
function state(params) {
  const now = Date.now();
  let end = parseTime(params.get('end'));
  let start = parseTime(params.get('start'));
  const range = parseDuration(params.get('range'));
  if (!Number.isFinite(end)) end = now;
  if (!Number.isFinite(start)) start = end - (Number.isFinite(range) ? range : 3600e3);
  const n = Number(params.get('n'));
  return {
    query: (params.get('query') || '').trim(),
    start: Math.round(start),
    end: Math.round(end),
    compare: params.get('compare') === 'day' ? 'day' : 'previous',
    sample_index: params.get('sample_index') || '',
    by: params.get('by') === 'cum' ? 'cum' : 'flat',
    n: Number.isInteger(n) && n >= 1 && n <= 500 ? n : 15,
  };
}

// The URL parameters of a state (defaults left out).
function urlParams(s) {
  return {
    query: s.query, start: s.start, end: s.end,
    compare: s.compare === 'day' ? 'day' : '',
    sample_index: s.sample_index, by: s.by === 'cum' ? 'cum' : '', n: s.n === 15 ? '' : s.n,
  };
}

// The base range of a state: [start - L, start - 1] or a day earlier.
function baseRange(s) {
  if (s.compare === 'day') return [s.start - DAY, s.end - DAY];
  const len = s.end - s.start;
  return [s.start - len - 1, s.start - 1];
}

// The selector with a profile type put in front: {service="x"} -> heap{service="x"}.
function withType(query, type) {
  const q = query.trim();
  if (q.startsWith('{')) return type + q;
  return null;
}

// A regex matching the name exactly (the Profile view's search is a regex;
// escaped and anchored, so main.main does not also find main.main.func1).
// pprof's " (inline)" / " (partial-inline)" suffix of a top row is dropped;
// such a function's frames in the flame graph may carry " (inline)", which
// the regex then allows.
export function nameRegex(name) {
  const m = name.match(/^(.*?)( \((partial-)?inline\))?$/);
  const re = '^' + m[1].replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return m[2] ? re + '( \\(inline\\))?$' : re + '$';
}

// The Profile view of the diff of the two ranges (target = the range);
// with a function: flame graph and table, the function searched for (its
// frames highlighted) and selected in the table.
function diffURL(s, sampleType, fn) {
  const [b0, b1] = baseRange(s);
  return pageURL('/profile', {
    query: s.query, start: s.start, end: s.end, base_start: b0, base_end: b1,
    sample_index: sampleType, view: fn ? 'both' : '', function: fn, search: fn ? nameRegex(fn) : '',
  });
}

// rows of top by name: {flat, cum}
function byName(top) {
  const m = new Map();
  for (const r of top.rows || []) {
    const o = m.get(r.name) || { flat: 0, cum: 0 };
    o.flat += r.flat;
    o.cum += r.cum;
    m.set(r.name, o);
  }
  return m;
}

// The functions whose share changed: [{name, before, after, change, bv, av}]
// (shares in percent of each side's total, values summed over the merge).
export function changes(base, target, by) {
  const B = byName(base), T = byName(target);
  const bt = base.total, tt = target.total;
  const out = [];
  for (const name of new Set([...B.keys(), ...T.keys()])) {
    const bv = (B.get(name) || { flat: 0, cum: 0 })[by];
    const av = (T.get(name) || { flat: 0, cum: 0 })[by];
    const before = bt ? (bv / bt) * 100 : 0, after = tt ? (av / tt) * 100 : 0;
    out.push({ name, before, after, change: after - before, bv, av, isNew: !B.has(name) || bv === 0, gone: !T.has(name) || av === 0 });
  }
  return out;
}

// A function name with line-break chances after its dots and slashes.
function breakable(name) {
  const out = [];
  for (const part of name.split(/(?<=\/)|(?<=[^.]\.)(?=[^.])/)) out.push(part, el('wbr'));
  out.pop();
  return out;
}

function countProfiles(series) {
  return series.reduce((a, s) => a + (s.samples ? s.samples.length : 0), 0);
}

function typesOf(series) {
  return [...new Set(series.map((s) => s.labels.type))].sort();
}

export async function render(root, params, ctx) {
  ctx.css('pages/changed.css');
  root.classList.add('changed-page');
  const s = state(params);
  const [b0, b1] = baseRange(s);
  const len = s.end - s.start;

  // keep the exact range in the URL (range=1h becomes start and end)
  if (s.query && (params.get('start') !== String(s.start) || params.get('end') !== String(s.end) || params.has('range'))) {
    ctx.setParams(urlParams(s));
  }
  const go = (patch) => ctx.navigate('/changed', urlParams({ ...s, ...patch }));

  // ---- the form: selector, range, comparison ----
  const qInput = el('input', {
    type: 'text', id: 'changed-query', class: 'mono', value: s.query, list: 'changed-selectors',
    placeholder: 'heap{service="shop"}', spellcheck: 'false', autocomplete: 'off', 'aria-label': 'Selector',
  });
  const startInput = el('input', { type: 'datetime-local', id: 'changed-start', step: '1', value: toLocalInput(s.start) });
  const endInput = el('input', { type: 'datetime-local', id: 'changed-end', step: '1', value: toLocalInput(s.end) });
  const datalist = el('datalist', { id: 'changed-selectors' });
  const readForm = () => {
    const st = new Date(startInput.value).getTime(), en = new Date(endInput.value).getTime();
    const q = qInput.value.trim();
    // another selector may have other sample types: back to its default
    return { query: q, start: Number.isFinite(st) ? st : s.start, end: Number.isFinite(en) ? en : s.end, sample_index: q === s.query ? s.sample_index : '' };
  };
  const presetSeg = el('div', { class: 'segmented', role: 'group', 'aria-label': 'Last' },
    PRESETS.map((p) => el('button', {
      type: 'button', 'data-preset': p, 'aria-pressed': String(Math.abs(len - parseDuration(p)) <= 1000 && Math.abs(Date.now() - s.end) < 60e3),
      onclick: () => { const now = Date.now(); go({ ...readForm(), start: now - parseDuration(p), end: now }); },
    }, p)));
  const compareSeg = el('div', { class: 'segmented', role: 'group', 'aria-label': 'Compare with' },
    el('button', { type: 'button', 'data-compare': 'previous', 'aria-pressed': String(s.compare === 'previous'), onclick: () => go({ ...readForm(), compare: 'previous' }) },
      `the previous ${fmtSpan(len)}`),
    el('button', { type: 'button', 'data-compare': 'day', 'aria-pressed': String(s.compare === 'day'), onclick: () => go({ ...readForm(), compare: 'day' }) },
      'a day earlier'));
  const form = el('form', { class: 'changed-form', onsubmit: (ev) => { ev.preventDefault(); go(readForm()); } },
    el('div', { class: 'toolbar' },
      el('div', { class: 'field grow' }, el('label', { for: 'changed-query' }, 'Selector (one profile type)'), qInput, datalist),
      el('div', { class: 'field' }, el('label', {}, 'Last'), presetSeg),
      el('div', { class: 'field' }, el('label', { for: 'changed-start' }, 'From'), startInput),
      el('div', { class: 'field' }, el('label', { for: 'changed-end' }, 'To'), endInput),
      el('div', { class: 'field' }, el('label', {}, 'Compare with'), compareSeg),
      el('button', { type: 'submit', class: 'primary', id: 'changed-go' }, 'Compare')));
  const body = el('div', { class: 'changed-body' });
  root.append(el('h1', {}, 'What changed'), form, body);

  // selectors to pick from: every service and type (one cheap call)
  const suggest = ctx.api('series', { 'match[]': '{service=~".+"}' }).then((ls) => {
    const sels = [...new Set((ls || []).map((l) => selector(l.type, { service: l.service })))].sort();
    datalist.replaceChildren(...sels.map((x) => el('option', { value: x })));
    return sels;
  }).catch(() => []);

  if (!s.query) {
    const sels = await suggest;
    body.append(emptyBox('Which profiles?',
      el('p', {}, 'Type a selector of one profile type, such as ', el('code', {}, 'heap{service="shop"}'),
        ', pick a range, and compare it with the range before it (or the same time a day earlier). ',
        'The functions whose share of the total grew or shrank most are listed; each opens the diff.'),
      sels.length
        ? el('div', {}, el('p', {}, 'The series stored here:'),
          el('ul', { class: 'suggestions' }, sels.slice(0, 30).map((x) => el('li', {},
            el('a', { href: pageURL('/changed', { query: x, range: '1h' }) }, el('code', {}, x))))))
        : el('p', {}, 'No profiles are stored yet: the ', el('a', { href: '/services' }, 'Services'), ' page shows how to push or scrape some.')));
    return;
  }
  if (!(s.start < s.end)) {
    ctx.showError(body, new Error(`The range is empty: "From" (${fmtTime(s.start)}) must be before "To" (${fmtTime(s.end)}).`),
      'Change the dates, or pick one of the presets.');
    return;
  }

  const loading = el('p', { class: 'loading' }, 'Comparing…');
  body.append(loading);

  // ---- how many profiles each side has, and of which types ----
  let tSeries, bSeries;
  try {
    [tSeries, bSeries] = await Promise.all([
      ctx.api('query_range', { query: s.query, start: s.start, end: s.end }),
      ctx.api('query_range', { query: s.query, start: b0, end: b1 }),
    ]);
  } catch (e) {
    loading.remove();
    ctx.showError(body, e, el('p', { class: 'hint' }, 'Check the selector: a type name and label matchers, such as ',
      el('code', {}, 'heap{service="shop", env!="dev"}'), '.'));
    return;
  }
  const types = typesOf([...tSeries, ...bSeries]);
  const tn = countProfiles(tSeries), bn = countProfiles(bSeries);
  const baseWords = s.compare === 'day' ? 'the same time a day earlier' : `the previous ${fmtSpan(len)}`;
  if (types.length > 1) {
    loading.remove();
    body.append(emptyBox('Pick one profile type',
      el('p', {}, 'The selector finds profiles of ', types.length, ' types; a comparison needs one:'),
      el('div', { class: 'buttons type-choice' }, types.map((t) => {
        const q = withType(s.query, t);
        return q ? el('button', { type: 'button', 'data-type': t, onclick: () => go({ query: q }) }, t)
          : el('code', {}, t);
      })),
      withType(s.query, 'x') ? null : el('p', { class: 'hint' }, 'Add the type in front of the selector, as in ', el('code', {}, 'heap{service="shop"}'), '.')));
    return;
  }
  if (!tn) {
    loading.remove();
    let newest = null;
    try {
      const all = await ctx.api('query_range', { query: s.query, limit: 1 });
      for (const x of all) for (const p of x.samples || []) if (!newest || p.t > newest.t) newest = p;
    } catch { /* only a hint */ }
    body.append(emptyBox('No profiles in this range',
      el('p', {}, el('code', {}, s.query), ' finds no profile from ', fmtTime(s.start), ' to ', fmtTime(s.end), '.'),
      newest
        ? el('p', {}, 'Its newest profile is from ', fmtTime(newest.t), ` (${fmtAgo(newest.t)}): `,
          el('a', { class: 'button', href: pageURL('/changed', urlParams({ ...s, start: newest.t - len + 1, end: newest.t })) },
            `compare the ${fmtSpan(len)} up to it`))
        : el('p', {}, 'The selector finds no profile at all: check its labels on the ', el('a', { href: '/services' }, 'Services'), ' page.')));
    return;
  }
  if (!bn) {
    loading.remove();
    body.append(emptyBox('Nothing to compare with',
      el('p', {}, tn === 1 ? 'There is 1 profile' : `There are ${tn} profiles`, ` in the range, but none in ${baseWords} (`, fmtRange(b0, b1), ').'),
      el('div', { class: 'buttons' },
        s.compare === 'previous' ? el('button', { type: 'button', onclick: () => go({ compare: 'day' }) }, 'Compare with a day earlier')
          : el('button', { type: 'button', onclick: () => go({ compare: 'previous' }) }, `Compare with the previous ${fmtSpan(len)}`),
        s.compare === 'previous' ? el('button', { type: 'button', onclick: () => go({ start: s.end - 2 * len }) }, `Double the range (${fmtSpan(2 * len)})`) : null),
      s.compare === 'previous' ? el('p', { class: 'hint' }, 'A longer range reaches further back for the base as well.') : null));
    return;
  }

  // ---- the two sides' top reports ----
  loading.textContent = `Merging ${tn} profile${tn === 1 ? '' : 's'} of the range and ${bn} of ${baseWords}…`;
  const opts = { report: 'top', node_fraction: 0, sample_index: s.sample_index };
  let base, target;
  try {
    [target, base] = await Promise.all([
      ctx.api('merge', { query: s.query, start: s.start, end: s.end, ...opts }),
      ctx.api('merge', { query: s.query, start: b0, end: b1, ...opts }),
    ]);
  } catch (e) {
    loading.remove();
    ctx.showError(body, e, s.sample_index
      ? el('p', { class: 'hint' }, 'Pick another sample type, or ', el('a', { href: pageURL('/changed', urlParams({ ...s, sample_index: '' })) }, 'use the default'), '.')
      : 'Try a shorter range or another selector.');
    return;
  }
  loading.remove();
  const sampleType = target.sample_type;
  const unit = target.unit;
  const sampleTypes = Object.keys((tSeries[0] && tSeries[0].samples[0] && tSeries[0].samples[0].totals) || {});
  if (!sampleTypes.includes(sampleType)) sampleTypes.push(sampleType);

  // ---- summary and choosers ----
  const typeSel = el('select', { id: 'changed-sample-type', onchange: (ev) => go({ sample_index: ev.target.value }) },
    sampleTypes.map((t) => el('option', { value: t, selected: t === sampleType }, t)));
  const bySeg = el('div', { class: 'segmented', role: 'group', 'aria-label': 'Share of' },
    el('button', { type: 'button', 'data-by': 'flat', 'aria-pressed': String(s.by === 'flat'), onclick: () => go({ by: 'flat' }) }, 'self (flat)'),
    el('button', { type: 'button', 'data-by': 'cum', 'aria-pressed': String(s.by === 'cum'), onclick: () => go({ by: 'cum' }) }, 'total (cum)'));
  const nSel = el('select', { id: 'changed-n', onchange: (ev) => go({ n: Number(ev.target.value) }) },
    [...new Set([...NS, s.n])].sort((a, b) => a - b).map((k) => el('option', { value: k, selected: k === s.n }, `${k} each way`)));
  const perT = target.total / tn, perB = base.total / bn;
  const perChange = perB ? ((perT - perB) / Math.abs(perB)) * 100 : NaN;
  const type = types[0] || '';
  body.append(el('div', { class: 'panel changed-summary' },
    el('div', { class: 'sides' },
      el('div', { class: 'side side-base' },
        el('div', { class: 'side-title' }, 'Before · ', baseWords),
        el('div', { class: 'side-range' }, fmtRange(b0, b1)),
        el('div', { class: 'side-count' }, `${bn} ${type} profile${bn === 1 ? '' : 's'}, ${fmtValue(perB, unit)} ${sampleType} per profile`)),
      el('div', { class: 'arrow', 'aria-hidden': 'true' }, '→'),
      el('div', { class: 'side side-target' },
        el('div', { class: 'side-title' }, 'After · the range'),
        el('div', { class: 'side-range' }, fmtRange(s.start, s.end)),
        el('div', { class: 'side-count' }, `${tn} ${type} profile${tn === 1 ? '' : 's'}, ${fmtValue(perT, unit)} ${sampleType} per profile`,
          !Number.isFinite(perChange) ? null
            : Math.abs(perChange) < 0.05 ? el('span', { class: 'delta' }, ' ±0%')
              : el('span', { class: perChange > 0 ? 'delta grew' : 'delta shrank' }, ` ${perChange > 0 ? '+' : '−'}${Math.abs(perChange).toFixed(1)}%`))),
      el('a', { class: 'button whole-diff', href: diffURL(s, sampleType, '') }, 'Open the whole diff →')),
    el('div', { class: 'toolbar choosers' },
      el('div', { class: 'field' }, el('label', { for: 'changed-sample-type' }, 'Sample type'), typeSel),
      el('div', { class: 'field' }, el('label', {}, 'Share of'), bySeg),
      el('div', { class: 'field' }, el('label', { for: 'changed-n' }, 'Rows'), nSel),
      el('p', { class: 'hint explain' }, `A function's share is its ${s.by === 'flat' ? 'self' : 'total'} ${sampleType} over all the ${sampleType} of its side; `,
        'the change is in percentage points (pp), so sides with more or fewer profiles compare fairly.'))));

  // ---- grew and shrank ----
  const all = changes(base, target, s.by);
  const eps = 0.005;
  const grew = all.filter((r) => r.change >= eps).sort((a, b) => b.change - a.change || a.name.localeCompare(b.name)).slice(0, s.n);
  const shrank = all.filter((r) => r.change <= -eps).sort((a, b) => a.change - b.change || a.name.localeCompare(b.name)).slice(0, s.n);
  const max = Math.max(1e-9, ...grew.map((r) => r.change), ...shrank.map((r) => -r.change));
  const table = (rows, kind, title) => {
    const sec = el('section', { class: `changes changes-${kind}`, 'data-kind': kind },
      el('h2', {}, el('span', { class: `mark ${kind}`, 'aria-hidden': 'true' }, kind === 'grew' ? '▲' : '▼'), ' ', title,
        el('span', { class: 'hint' }, ` ${rows.length} function${rows.length === 1 ? '' : 's'}`)));
    if (!rows.length) {
      sec.append(el('p', { class: 'muted none' }, kind === 'grew'
        ? `No function's share grew by ${eps * 2} pp or more.` : `No function's share shrank by ${eps * 2} pp or more.`));
      return sec;
    }
    const tb = el('tbody');
    for (const r of rows) {
      const href = diffURL(s, sampleType, r.name);
      const tr = el('tr', { class: 'change-row', 'data-function': r.name, tabindex: '-1' },
        el('td', { class: 'fn' },
          el('a', { href, title: `Open the diff with ${r.name}` }, breakable(r.name)),
          r.isNew ? el('span', { class: 'tag tag-new' }, 'new') : r.gone ? el('span', { class: 'tag tag-gone' }, 'gone') : null),
        el('td', { class: 'num', title: `${fmtValue(r.bv, unit)} of ${fmtValue(base.total, unit)}` }, fmtPct(r.before)),
        el('td', { class: 'num', title: `${fmtValue(r.av, unit)} of ${fmtValue(target.total, unit)}` }, fmtPct(r.after)),
        el('td', { class: 'num change' }, `${r.change > 0 ? '+' : '−'}${Math.abs(r.change).toFixed(2)} pp`),
        el('td', { class: 'bar-cell', 'aria-hidden': 'true' },
          el('span', { class: `bar ${kind}`, style: `width:${Math.max(2, (Math.abs(r.change) / max) * 100).toFixed(1)}%` })));
      tr.addEventListener('click', (ev) => {
        if (ev.target.closest('a')) return; // the link navigates itself
        ctx.navigate('/profile', href.slice(href.indexOf('?') + 1));
      });
      tb.append(tr);
    }
    sec.append(el('div', { class: 'table-wrap' }, el('table', { class: 'changes-table' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Function'), el('th', { class: 'num' }, 'Before'),
        el('th', { class: 'num' }, 'After'), el('th', { class: 'num' }, 'Change'), el('th', { class: 'bar-head' }, ''))),
      tb)));
    return sec;
  };
  if (!grew.length && !shrank.length) {
    body.append(emptyBox('Nothing changed',
      el('p', {}, `No function's share of ${sampleType} moved by ${eps * 2} pp or more between the two ranges.`)));
    return;
  }
  body.append(el('div', { class: 'changes-grid' },
    table(grew, 'grew', 'Grew'), table(shrank, 'shrank', 'Shrank')));
}
