// Services (/services[?filter=TEXT]): every service with its profile types,
// the number of series of each and the time of its last profile, from one
// /api/v1/query_range call over all time with limit=1 (each series' newest
// profile only, read from the index). Each type links to its plot on the
// Query page, its newest profile, and What changed.
import { el, pageURL, selector, fmtAgo, fmtTime, emptyBox, origin } from './pagekit.js';

function noData() {
  const u = origin();
  return emptyBox('No profiles yet',
    el('p', {}, 'Nothing has been stored. Push a profile with curl (any pprof file, e.g. from ',
      el('code', {}, 'curl -o heap.pb.gz http://localhost:6060/debug/pprof/heap'), '):'),
    el('pre', {}, el('code', {}, `curl -s --data-binary @heap.pb.gz \\
  '${u}/api/0/profiles?service=myapp&type=heap&labels=env=prod'`)),
    el('p', {}, 'or let profefe scrape a program that serves ', el('code', {}, 'net/http/pprof'),
      ': list it in the file given to ', el('code', {}, '-config.file'), ' and reload:'),
    el('pre', {}, el('code', {}, `scrape_configs:
  - job_name: myapp
    static_configs:
      - targets: ['127.0.0.1:6060']
        labels: {service: myapp}

curl -X POST ${u}/-/reload`)),
    el('p', {}, 'The ', el('a', { href: '/targets' }, 'Targets'), ' page shows how the scrapes go.'));
}

// The labels of a type's series: k=v when they share it, k=a|b|c for a
// few values, k (N values) for more.
function labelChips(labels) {
  return [...labels.keys()].sort().map((k) => {
    const vs = [...labels.get(k)].sort();
    const text = vs.length <= 3 ? `${k}=${vs.join('|')}` : `${k} (${vs.length} values)`;
    return el('span', { class: 'label-chip', title: vs.join(', ') }, text);
  });
}

export async function render(root, params, ctx) {
  ctx.css('pages/services.css');
  root.classList.add('services-page');
  const filter = (params.get('filter') || '').trim();
  const head = el('div', { class: 'page-head' }, el('h1', {}, 'Services'));
  const body = el('div', { class: 'services-body' }, el('p', { class: 'loading' }, 'Loading services…'));
  root.append(head, body);

  let series;
  try {
    series = await ctx.api('query_range', { query: '{service=~".+"}', limit: 1 });
  } catch (e) {
    body.replaceChildren();
    ctx.showError(body, e, 'Check that profefe is running; the list comes from /api/v1/query_range.');
    return;
  }
  body.replaceChildren();
  if (!series || !series.length) {
    body.append(noData());
    return;
  }

  // service -> type -> {series, last, id, labels of the newest}
  const services = new Map();
  for (const s of series) {
    const svc = s.labels.service, type = s.labels.type || '';
    if (!services.has(svc)) services.set(svc, new Map());
    const types = services.get(svc);
    if (!types.has(type)) types.set(type, { series: 0, last: -Infinity, id: '', labels: new Map() });
    const t = types.get(type);
    t.series++;
    for (const [k, v] of Object.entries(s.labels)) {
      if (k === 'service' || k === 'type') continue;
      if (!t.labels.has(k)) t.labels.set(k, new Set());
      t.labels.get(k).add(v);
    }
    const newest = s.samples && s.samples[s.samples.length - 1];
    if (newest && newest.t > t.last) { t.last = newest.t; t.id = newest.id; }
  }
  const now = Date.now();
  const names = [...services.keys()].sort();
  const shown = names.filter((n) => !filter || n.toLowerCase().includes(filter.toLowerCase()));

  const input = el('input', {
    type: 'search', id: 'services-filter', value: filter, placeholder: 'service name', 'aria-label': 'Filter services',
  });
  let timer = 0;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const v = input.value.trim();
      ctx.setParams(v ? { filter: v } : {});
      apply(v);
    }, 150);
  });
  const count = el('span', { class: 'hint services-count' }, `${shown.length} of ${names.length} services`);
  head.append(el('p', { class: 'muted services-summary' },
    `${names.length} service${names.length === 1 ? '' : 's'}, ${series.length} series`,
    el('span', { class: 'hint' }, ` as of ${fmtTime(now)}`)));
  root.insertBefore(el('div', { class: 'toolbar' },
    el('div', { class: 'field' }, el('label', { for: 'services-filter' }, 'Filter'), input), count), body);

  const table = el('table', { class: 'services' },
    el('thead', {}, el('tr', {},
      el('th', {}, 'Service'), el('th', {}, 'Type'), el('th', { class: 'num' }, 'Series'),
      el('th', {}, 'Labels'), el('th', { class: 'num' }, 'Last profile'), el('th', {}, 'Open'))));
  // The Query page over a relative range (the page's default hour, or
  // range=24h) while the newest profile lies in it; else over the same
  // length ending at the newest profile, which a relative range would miss.
  const plotURL = (query, last, range) => {
    const span = range === '24h' ? 86400e3 : 3600e3;
    if (now - last < span) return pageURL('/', range ? { query, range } : { query });
    return pageURL('/', { query, start: Math.max(0, last - span + 1), end: last });
  };
  for (const svc of names) {
    const types = services.get(svc);
    const tnames = [...types.keys()].sort();
    const nseries = tnames.reduce((a, t) => a + types.get(t).series, 0);
    const last = Math.max(...tnames.map((t) => types.get(t).last));
    const tb = el('tbody', { class: 'service', 'data-service': svc, hidden: !shown.includes(svc) });
    const svcCell = el('td', { class: 'service-cell', rowspan: tnames.length },
      el('a', { class: 'service-name', href: plotURL(selector('', { service: svc }), last) }, svc),
      el('div', { class: 'hint' }, `${tnames.length} type${tnames.length === 1 ? '' : 's'}, ${nseries} series`),
      el('div', { class: 'hint' }, `last ${fmtAgo(last, now)}`));
    tnames.forEach((type, i) => {
      const t = types.get(type);
      const sel = selector(type, { service: svc });
      const fresh = now - t.last < 3600e3;
      tb.append(el('tr', { class: 'service-type', 'data-type': type },
        i === 0 ? svcCell : null,
        el('td', {}, el('a', { class: 'type-link', href: plotURL(sel, t.last), title: `Plot ${sel}` }, type)),
        el('td', { class: 'num' }, String(t.series)),
        el('td', { class: 'series-labels' }, el('span', { class: 'labels' }, labelChips(t.labels))),
        el('td', { class: 'num', title: fmtTime(t.last) },
          el('span', { class: fresh ? 'fresh' : 'stale' }, fmtAgo(t.last, now)),
          el('div', { class: 'hint' }, fmtTime(t.last))),
        el('td', { class: 'open' },
          el('a', { href: plotURL(sel, t.last, '24h') }, 'plot'), ' · ',
          // a trace has no reports: its newest one is a download
          t.id ? (type === 'trace'
            ? el('a', { href: `/api/0/profiles/${encodeURIComponent(t.id)}`, download: `${t.id}.trace` }, 'newest trace')
            : el('a', { href: pageURL('/profile', { id: t.id }) }, 'newest profile')) : null,
          type !== 'trace' ? [' · ', el('a', {
            href: pageURL('/changed', { query: sel, start: Math.max(0, t.last - 3600e3 + 1), end: t.last }),
            title: 'The last hour before its newest profile, against the hour before',
          }, 'what changed')] : null)));
    });
    table.append(tb);
  }
  const none = el('div', { class: 'no-match' });
  body.append(el('div', { class: 'table-wrap' }, table), none);
  // show the services whose name contains v (case-insensitive)
  function apply(v) {
    let n = 0;
    for (const tb of table.querySelectorAll('tbody.service')) {
      tb.hidden = !!v && !tb.dataset.service.toLowerCase().includes(v.toLowerCase());
      if (!tb.hidden) n++;
    }
    count.textContent = `${n} of ${names.length} services`;
    table.hidden = n === 0;
    none.replaceChildren(n ? '' : emptyBox('No service matches the filter',
      el('p', {}, `No service name contains "${v}". `, el('a', { href: '/services' }, 'Show all services'))));
  }
  apply(filter);
  return () => clearTimeout(timer);
}
