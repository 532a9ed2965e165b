// toptable.js: the top report (SPEC §6: {sample_type, unit, total,
// rows:[{name, flat, flat_pct, cum, cum_pct}]}) as a table sortable by flat
// and cum, with a bar of each row's share; a diff's top shows signed changes.

import { formatValue, formatPct, searchRegExp, packageOf } from './flame.js';

// renderTopTable(host, report, opts) fills host. opts: {sort: 'flat'|'cum'
// (default flat), onSort(key), onPick(name) (a row clicked or Enter on it),
// onSandwich(name) (its "callers/callees" link; absent: no link), search
// (highlights matching rows), selected (a name to mark), diff, maxRows}.
// Returns {setSearch(text), select(name)}.
export function renderTopTable(host, report, opts = {}) {
  const unit = report.unit;
  let sort = opts.sort === 'cum' ? 'cum' : 'flat';
  const rows = report.rows || [];
  host.replaceChildren();
  host.classList.add('toptable');

  const table = document.createElement('table');
  table.className = 'top';
  const thead = document.createElement('thead');
  const htr = document.createElement('tr');
  const cols = [
    ['name', 'function', false],
    ['flat', opts.diff ? 'flat Δ' : 'flat', true],
    ['flat_pct', 'flat%', false],
    ['cum', opts.diff ? 'cum Δ' : 'cum', true],
    ['cum_pct', 'cum%', false],
  ];
  const sortButtons = {};
  for (const [key, label, sortable] of cols) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.className = 'col-' + key;
    if (sortable) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'sort';
      b.dataset.sort = key;
      b.textContent = label;
      b.addEventListener('click', () => {
        sort = key;
        fill();
        if (opts.onSort) opts.onSort(key);
      });
      sortButtons[key] = { b, th };
      th.append(b);
    } else {
      th.textContent = label;
    }
    htr.append(th);
  }
  thead.append(htr);
  const tbody = document.createElement('tbody');
  table.append(thead, tbody);
  const caption = document.createElement('div');
  caption.className = 'top-caption';
  host.append(caption, table);

  let re = searchRegExp(opts.search || '');
  let selected = opts.selected || '';

  function fill() {
    const t0 = performance.now();
    for (const k in sortButtons) {
      const on = k === sort;
      sortButtons[k].th.setAttribute('aria-sort', on ? 'descending' : 'none');
      sortButtons[k].b.classList.toggle('active', on);
      sortButtons[k].b.textContent = sortButtons[k].b.textContent.replace(/ ▼$/, '') + (on ? ' ▼' : '');
    }
    const sorted = rows.slice();
    sorted.sort((a, b) => Math.abs(b[sort]) - Math.abs(a[sort]) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const shown = opts.maxRows ? sorted.slice(0, opts.maxRows) : sorted;
    const max = shown.reduce((m, r) => Math.max(m, Math.abs(r[sort])), 0) || 1;
    const frag = document.createDocumentFragment();
    for (const r of shown) {
      const tr = document.createElement('tr');
      tr.tabIndex = 0;
      tr.dataset.name = r.name;
      if (re && re.test(r.name)) tr.classList.add('match');
      if (r.name === selected) tr.classList.add('selected');
      const tdn = document.createElement('td');
      tdn.className = 'col-name';
      const bar = document.createElement('span');
      bar.className = 'share' + (opts.diff ? (r[sort] < 0 ? ' neg' : ' pos') : '');
      bar.style.width = (Math.abs(r[sort]) / max * 100).toFixed(1) + '%';
      const nm = document.createElement('span');
      nm.className = 'fn';
      nm.title = r.name;
      const slash = packageOf(r.name).lastIndexOf('/');
      if (slash > 0) {
        const pk = document.createElement('span');
        pk.className = 'pkgpath';
        pk.textContent = r.name.slice(0, slash + 1);
        nm.append(pk, r.name.slice(slash + 1));
      } else {
        nm.textContent = r.name;
      }
      tdn.append(bar, nm);
      if (opts.onSandwich) {
        const a = document.createElement('button');
        a.type = 'button';
        a.className = 'sandwich-link';
        a.textContent = 'callers/callees';
        a.title = 'sandwich view of ' + r.name;
        a.addEventListener('click', (e) => { e.stopPropagation(); opts.onSandwich(r.name); });
        tdn.append(a);
      }
      tr.append(tdn);
      for (const [v, pct] of [[r.flat, r.flat_pct], [r.cum, r.cum_pct]]) {
        const td = document.createElement('td');
        td.className = 'num';
        td.textContent = (opts.diff && v > 0 ? '+' : '') + formatValue(v, unit);
        td.title = String(v);
        const tp = document.createElement('td');
        tp.className = 'num pct';
        tp.textContent = formatPct(pct);
        tr.append(td, tp);
      }
      frag.append(tr);
    }
    tbody.replaceChildren(frag);
    const more = rows.length > shown.length ? `, the first ${shown.length} shown` : '';
    caption.textContent = `${rows.length} functions${more}; total ${formatValue(report.total, unit)} ${report.sample_type}${opts.diff ? ' (base)' : ''}; sorted by ${sort}`;
    const t = (window.__flameTimings = window.__flameTimings || []);
    t.push({ kind: 'toptable', ms: Math.round((performance.now() - t0) * 100) / 100, rows: shown.length });
  }

  tbody.addEventListener('click', (e) => {
    const tr = e.target.closest('tr');
    if (tr && opts.onPick) opts.onPick(tr.dataset.name);
  });
  tbody.addEventListener('keydown', (e) => {
    const tr = e.target.closest('tr');
    if (!tr) return;
    if (e.key === 'Enter' && opts.onPick) opts.onPick(tr.dataset.name);
    else if (e.key === 'ArrowDown' && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
    else if (e.key === 'ArrowUp' && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
  });

  fill();
  return {
    setSearch(text) {
      re = searchRegExp(text || '');
      for (const tr of tbody.children) tr.classList.toggle('match', !!(re && re.test(tr.dataset.name)));
    },
    select(name) {
      selected = name || '';
      for (const tr of tbody.children) tr.classList.toggle('selected', tr.dataset.name === selected);
    },
    get sort() { return sort; },
  };
}
