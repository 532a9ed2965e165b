// Targets (/targets[?health=up|down|unknown][&job=JOB]): every job and
// target of the scrape configuration from /api/v1/targets, grouped by job
// and target, one row per profile type (a "pair"): health in colour and
// words, the last error, the last scrape (relative), its duration, the next
// scrape, the labels, and links to the target's profiles on the Query page.
import { el, pageURL, selector, fmtAgo, fmtTime, fmtSeconds, emptyBox, origin } from './pagekit.js';

const HEALTHS = ['up', 'down', 'unknown'];

function when(s) {
  const t = Date.parse(s);
  return Number.isFinite(t) && t > 0 ? t : NaN; // 0001-01-01: never
}

function healthBadge(h) {
  const cls = h === 'up' ? 'ok' : h === 'down' ? 'bad' : 'unknown';
  return el('span', { class: `health health-${cls}`, 'data-health': h },
    el('span', { class: 'dot', 'aria-hidden': 'true' }), h);
}

// The summary of several pairs' health: "up", "down", "2 of 7 down", ...
function countHealth(pairs) {
  const c = { up: 0, down: 0, unknown: 0 };
  for (const p of pairs) c[HEALTHS.includes(p.health) ? p.health : 'unknown']++;
  return c;
}

function summaryBadges(c) {
  return el('span', { class: 'target-counts' },
    c.up ? el('span', { class: 'badge ok' }, `${c.up} up`) : null,
    c.down ? el('span', { class: 'badge bad' }, `${c.down} down`) : null,
    c.unknown ? el('span', { class: 'badge' }, `${c.unknown} unknown`) : null);
}

// The labels a target was given (not job, instance and type, shown beside).
function targetLabels(labels) {
  const out = {};
  for (const [k, v] of Object.entries(labels || {}))
    if (k !== 'job' && k !== 'instance' && k !== 'type') out[k] = v;
  return out;
}

function noTargets() {
  const u = origin();
  return emptyBox('No scrape targets',
    el('p', {}, 'profefe scrapes nothing yet: it was started without ', el('code', {}, '-config.file'),
      ', or the file lists no targets. Add a job to a configuration file, for example:'),
    el('pre', {}, el('code', {}, `scrape_configs:
  - job_name: myapp
    scrape_interval: 15s
    static_configs:
      - targets: ['127.0.0.1:6060']   # a Go program serving net/http/pprof
        labels: {service: myapp}`)),
    el('p', {}, 'Start profefe with ', el('code', {}, '-config.file profefe.yaml'),
      ', or, if it already has one, reload it:'),
    el('pre', {}, el('code', {}, `curl -X POST ${u}/-/reload`)),
    el('p', {}, 'Programs can also push their profiles; the ', el('a', { href: '/services' }, 'Services'),
      ' page shows how.'));
}

export async function render(root, params, ctx) {
  ctx.css('pages/targets.css');
  const health = HEALTHS.includes(params.get('health')) ? params.get('health') : '';
  const job = params.get('job') || '';

  root.classList.add('targets-page');
  const head = el('div', { class: 'page-head' }, el('h1', {}, 'Targets'));
  root.append(head);
  const body = el('div', { class: 'targets-body' }, el('p', { class: 'loading' }, 'Loading targets…'));
  root.append(body);

  let data;
  try {
    data = await ctx.api('targets');
  } catch (e) {
    body.replaceChildren();
    ctx.showError(body, e, 'Check that profefe is running; the list comes from /api/v1/targets.');
    return;
  }
  const all = (data && data.activeTargets) || [];
  body.replaceChildren();
  if (!all.length) {
    body.append(noTargets());
    return;
  }

  const now = Date.now();
  const jobs = [...new Set(all.map((t) => t.scrapePool || t.labels.job))].sort();
  const total = countHealth(all);

  // ---- filters (in the URL) ----
  const set = (k, v) => {
    const p = { health, job };
    p[k] = v;
    ctx.navigate('/targets', p);
  };
  const healthSeg = el('div', { class: 'segmented', role: 'group', 'aria-label': 'Health' },
    ['', ...HEALTHS].map((h) => el('button', {
      type: 'button', 'aria-pressed': String(h === health), 'data-health': h || 'all',
      onclick: () => set('health', h),
    }, h ? `${h[0].toUpperCase()}${h.slice(1)} (${total[h]})` : `All (${all.length})`)));
  const jobSel = el('select', { id: 'targets-job', onchange: (ev) => set('job', ev.target.value) },
    el('option', { value: '' }, 'All jobs'),
    jobs.map((j) => el('option', { value: j, selected: j === job }, j)));
  const refresh = el('button', { type: 'button', onclick: () => ctx.navigate('/targets', { health, job }) }, 'Refresh');
  head.append(el('p', { class: 'muted targets-summary' },
    `${all.length} scrapes (target × profile type) in ${jobs.length} job${jobs.length === 1 ? '' : 's'}: `,
    summaryBadges(total), el('span', { class: 'hint' }, ` as of ${fmtTime(now)}`)));
  root.insertBefore(el('div', { class: 'toolbar' },
    el('div', { class: 'field' }, el('label', {}, 'Health'), healthSeg),
    el('div', { class: 'field' }, el('label', { for: 'targets-job' }, 'Job'), jobSel),
    refresh), body);

  const shown = all.filter((t) => (!health || t.health === health) &&
    (!job || (t.scrapePool || t.labels.job) === job));
  if (!shown.length) {
    body.append(emptyBox('No target matches the filter',
      el('p', {}, `None of the ${all.length} scrapes is `,
        health ? el('strong', {}, health) : null, health && job ? ' in job ' : job ? 'in job ' : null,
        job ? el('strong', {}, job) : null, '. '),
      el('p', {}, el('a', { href: '/targets' }, 'Show all targets'))));
    return;
  }

  // ---- one section per job, targets grouped by instance ----
  const byJob = new Map();
  for (const t of shown) {
    const j = t.scrapePool || t.labels.job;
    if (!byJob.has(j)) byJob.set(j, new Map());
    const inst = t.labels.instance || t.scrapeUrl;
    const m = byJob.get(j);
    if (!m.has(inst)) m.set(inst, []);
    m.get(inst).push(t);
  }
  for (const [j, insts] of byJob) {
    const pairs = [...insts.values()].flat();
    const first = pairs[0];
    const sec = el('section', { class: 'job', 'data-job': j },
      el('h2', {}, el('span', { class: 'job-name' }, j), ' ', summaryBadges(countHealth(pairs)),
        el('span', { class: 'hint job-meta' },
          ` every ${first.scrapeInterval}, timeout ${first.scrapeTimeout} · ${insts.size} target${insts.size === 1 ? '' : 's'}`)));
    const tbody = el('tbody');
    for (const [inst, list] of insts) {
      const base = list[0].labels;
      const sel = { instance: inst, job: j };
      const c = countHealth(list);
      const tl = targetLabels(base);
      const instCell = el('td', { class: 'target-cell', rowspan: list.length },
        el('div', { class: 'instance mono' }, inst),
        el('div', { class: 'labels' }, Object.entries(tl).map(([k, v]) => el('span', { class: 'label-chip' }, `${k}=${v}`))),
        el('div', { class: 'target-health hint' }, c.down ? `${c.down} of ${list.length} down` : c.unknown ? `${c.unknown} of ${list.length} not scraped yet` : `all ${list.length} up`),
        el('a', { class: 'profiles-link', href: pageURL('/', { query: selector('', sel) }) }, 'Profiles →'));
      list.forEach((t, i) => {
        const last = when(t.lastScrape), next = when(t.nextScrape);
        const type = t.labels.type || '';
        const tr = el('tr', { class: `pair health-row-${t.health}`, 'data-instance': inst, 'data-type': type, 'data-health': t.health },
          i === 0 ? instCell : null,
          el('td', { class: 'type' }, el('a', { href: pageURL('/', { query: selector(type, sel) }), title: `Plot ${type} profiles of ${inst}` }, type)),
          el('td', { class: 'health-cell' }, healthBadge(t.health)),
          el('td', { class: 'num', 'data-label': 'last', title: Number.isFinite(last) ? fmtTime(last) : 'not scraped yet' }, fmtAgo(last, now)),
          el('td', { class: 'num', 'data-label': 'took' }, Number.isFinite(last) ? fmtSeconds(t.lastScrapeDuration) : '—'),
          el('td', { class: 'num', 'data-label': 'next', title: Number.isFinite(next) ? fmtTime(next) : '' }, !Number.isFinite(next) ? '—' : next <= now ? 'now' : fmtAgo(next, now)),
          el('td', { class: 'error-cell' }, t.lastError
            ? el('span', { class: 'last-error' }, t.lastError)
            : el('span', { class: 'muted' }, '—'),
          el('div', { class: 'scrape-url hint mono' }, t.scrapeUrl)));
        tbody.append(tr);
      });
    }
    sec.append(el('div', { class: 'table-wrap' }, el('table', { class: 'targets' },
      el('thead', {}, el('tr', {},
        el('th', {}, 'Target'), el('th', {}, 'Type'), el('th', {}, 'Health'),
        el('th', { class: 'num' }, 'Last scrape'), el('th', { class: 'num' }, 'Duration'),
        el('th', { class: 'num' }, 'Next scrape'), el('th', {}, 'Last error · URL'))),
      tbody)));
    body.append(sec);
  }
}
