// flame.js: profefe's own canvas flame graph (SPEC §7 "Profile").
//
// Draws the flamegraph report of /api/v1/profile|merge|diff (SPEC §6:
// {sample_type, unit, total, trimmed, root:{name, self, total, children}}, in a
// diff every node also has base, target and only) the way Pyroscope and
// Grafana do: 22 px per level, bars under 0.5 px skipped, bars under 10 px
// drawn in one muted path without labels, labels from 20 px, devicePixelRatio
// aware, only the rows in view drawn. Click zooms into a frame (its ancestors
// stay, full width), Esc resets, arrows move between frames, Enter zooms.
// Colours: by Go package (a stable hue from the package path), or in a diff by
// the change of the frame's share of the total on a blue/orange diverging
// scale, frames only in one side hatched.
//
// Timings of every layout, draw and hover go to window.__flameTimings (the
// browser tests print them).

const ROW = 22;          // px per level
const MIN_PX = 0.5;      // narrower bars are skipped
const MUTED_PX = 10;     // narrower bars: one muted path, no label
const LABEL_PX = 20;     // labels from this width
const FONT = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';

/* ---------- units ---------- */

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

function trimNum(x, digits) {
  const s = x.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

// formatValue(v, unit): v in pprof's unit, as pprof prints it (bytes 1024-based
// as pprof's kB/MB, nanoseconds as a time, counts with separators).
export function formatValue(v, unit) {
  if (v === undefined || v === null || Number.isNaN(v)) return '';
  const neg = v < 0;
  let a = Math.abs(v);
  let s;
  switch (unit) {
    case 'bytes': {
      let i = 0;
      while (a >= 1024 && i < BYTE_UNITS.length - 1) { a /= 1024; i++; }
      s = (i === 0 ? String(Math.round(a)) : trimNum(a, a < 10 ? 2 : a < 100 ? 1 : 0)) + ' ' + BYTE_UNITS[i];
      break;
    }
    case 'nanoseconds': case 'microseconds': case 'milliseconds': case 'seconds': {
      const mult = { nanoseconds: 1, microseconds: 1e3, milliseconds: 1e6, seconds: 1e9 }[unit];
      const ns = a * mult;
      if (ns < 1e3) s = trimNum(ns, 0) + ' ns';
      else if (ns < 1e6) s = trimNum(ns / 1e3, 2) + ' µs';
      else if (ns < 1e9) s = trimNum(ns / 1e6, 2) + ' ms';
      else if (ns < 60e9) s = trimNum(ns / 1e9, 2) + ' s';
      else if (ns < 3600e9) s = trimNum(ns / 60e9, 1) + ' min';
      else s = trimNum(ns / 3600e9, 1) + ' h';
      break;
    }
    default:
      s = Math.round(a).toLocaleString('en-US');
      if (unit && unit !== 'count') s += ' ' + unit;
  }
  return (neg ? '−' : '') + s;
}

export function formatPct(x) {
  if (!Number.isFinite(x)) return '';
  const a = Math.abs(x);
  return (x < 0 ? '−' : '') + (a >= 10 ? a.toFixed(1) : a >= 0.01 || a === 0 ? a.toFixed(2) : '<0.01') + '%';
}

/* ---------- colours ---------- */

// packageOf("example.com/shop/internal/store.(*Sessions).Add") ->
// "example.com/shop/internal/store": the path up to the last '/', plus the
// next element up to its first '.'. A name of granularity=lines ends in
// " FILE:LINE": its package is the function's, not the file's.
export function packageOf(name) {
  name = name.replace(/ \((partial-)?inline\)$/, '').replace(/ \S+:\d+$/, '');
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot <= 0) return name;
  return name.slice(0, dot);
}

function hash32(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function isDark() {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;
}

function packageColor(pkg, dark) {
  if (pkg === 'root' || pkg === 'other') return dark ? '#5a5f66' : '#c9ccd1';
  const h = hash32(pkg);
  const hue = h % 360;
  const sat = 52 + ((h >>> 9) % 16);       // 52..67
  const light = dark ? 36 + ((h >>> 17) % 10) : 66 + ((h >>> 17) % 10);
  return `hsl(${hue},${sat}%,${light}%)`;
}

// Diverging palette for diffs, colour-blind safe (blue = share shrank,
// orange = share grew; from ColorBrewer's PuOr/RdBu families).
const DIFF_NEG = [33, 102, 172];    // #2166ac
const DIFF_MID_L = [222, 222, 222];
const DIFF_MID_D = [88, 92, 98];
const DIFF_POS = [230, 97, 1];      // #e66101

function mix(a, b, t) {
  return `rgb(${Math.round(a[0] + (b[0] - a[0]) * t)},${Math.round(a[1] + (b[1] - a[1]) * t)},${Math.round(a[2] + (b[2] - a[2]) * t)})`;
}

// diffColor(change): change of share in percent (-100..+100, clamped).
export function diffColor(change, dark) {
  const mid = dark ? DIFF_MID_D : DIFF_MID_L;
  const t = Math.max(-1, Math.min(1, change / 100));
  return t < 0 ? mix(mid, DIFF_NEG, -t) : mix(mid, DIFF_POS, t);
}

// The change of a frame's share between base and target in percent of its
// base share, as Grafana's diff flame graph colours it.
function shareChange(base, target, tb, tt) {
  const bs = tb ? base / tb : 0, ts = tt ? target / tt : 0;
  if (bs === 0) return ts > 0 ? 100 : 0;
  return (ts - bs) / bs * 100;
}

function timing(kind, ms, extra) {
  const t = (window.__flameTimings = window.__flameTimings || []);
  t.push(Object.assign({ kind, ms: Math.round(ms * 100) / 100 }, extra || {}));
  if (t.length > 500) t.splice(0, t.length - 500);
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// searchRegExp(text): the search box's text as a case-insensitive RegExp
// (a regular expression when it is one, else the literal text).
export function searchRegExp(text) {
  if (!text) return null;
  try { return new RegExp(text, 'i'); } catch (e) { return new RegExp(escapeRe(text), 'i'); }
}

function hatchPattern(ctx, color, dir) {
  const c = document.createElement('canvas');
  c.width = c.height = 8;
  const g = c.getContext('2d');
  g.strokeStyle = color;
  g.lineWidth = 2;
  g.beginPath();
  if (dir > 0) { g.moveTo(0, 8); g.lineTo(8, 0); g.moveTo(-2, 2); g.lineTo(2, -2); g.moveTo(6, 10); g.lineTo(10, 6); }
  else { g.moveTo(0, 0); g.lineTo(8, 8); g.moveTo(-2, 6); g.lineTo(2, 10); g.moveTo(6, -2); g.lineTo(10, 2); }
  g.stroke();
  return ctx.createPattern(c, 'repeat');
}

/* ---------- the flame graph ---------- */

export class FlameGraph {
  // host: an empty element. opts: {inverted (roots at the bottom, for a
  // sandwich's callers), maxHeight (px of the scrolling area), onZoom(names)
  // (zoom path from the root's first child, [] = reset), onShowMore(),
  // onSelect(name) (a frame chosen with the keyboard or clicked),
  // label (aria label), legend (false: no diff legend, when another graph
  // on the page shows it)}.
  constructor(host, opts = {}) {
    this.host = host;
    this.opts = opts;
    this.n = 0;
    this.zoom = 0;
    this.hover = -1;
    this.sel = -1;
    this.re = null;
    this.match = null;
    this.scrollTop = 0;

    host.classList.add('flame');
    this.bar = el('div', 'flame-bar');
    this.trimEl = el('div', 'flame-trimmed');
    this.infoEl = el('div', 'flame-info');
    this.bar.append(this.trimEl, this.infoEl);
    this.scroller = el('div', 'flame-scroll');
    if (opts.maxHeight) this.scroller.style.maxHeight = opts.maxHeight + 'px';
    this.canvas = el('canvas', 'flame-canvas');
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', opts.label || 'flame graph');
    this.spacer = el('div', 'flame-spacer');
    this.scroller.append(this.canvas, this.spacer);
    this.tip = el('div', 'flame-tip');
    this.tip.hidden = true;
    this.legend = el('div', 'flame-legend');
    this.legend.hidden = true;
    host.append(this.bar, this.legend, this.scroller, this.tip);
    this.ctx = this.canvas.getContext('2d');

    this._onMove = (e) => this.onMove(e);
    this._onLeave = () => { this.hover = -1; this.tip.hidden = true; this.scheduleDraw(); };
    this._onClick = (e) => this.onClick(e);
    this._onKey = (e) => this.onKey(e);
    this._onScroll = () => { this.scrollTop = this.scroller.scrollTop; this.draw(); };
    this.canvas.addEventListener('mousemove', this._onMove);
    this.canvas.addEventListener('mouseleave', this._onLeave);
    this.canvas.addEventListener('click', this._onClick);
    this.canvas.addEventListener('keydown', this._onKey);
    this.scroller.addEventListener('scroll', this._onScroll, { passive: true });
    this.ro = new ResizeObserver(() => { if (this.n) this.resize(); });
    this.ro.observe(this.scroller);
    this.mq = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;
    this._onScheme = () => { if (this.n) { this.computeColors(); this.draw(); } };
    if (this.mq) this.mq.addEventListener('change', this._onScheme);
  }

  destroy() {
    this.ro.disconnect();
    if (this.mq) this.mq.removeEventListener('change', this._onScheme);
    this.host.replaceChildren();
  }

  // setData(report, {diff, zoom: [names], search, shareOf}): lays the tree out in flat
  // typed arrays, one level list per depth, and draws.
  setData(report, o = {}) {
    const t0 = performance.now();
    this.report = report;
    this.unit = report.unit;
    this.diff = !!o.diff;
    this.shareOf = o.shareOf || ''; // what a diff's shares are of (the legend's words; default its side's total)
    const root = report.root;
    // Count and flatten (pre-order, iterative: stacks reach 1024 frames).
    let n = 0;
    const st = [root];
    while (st.length) {
      const x = st.pop();
      n++;
      const c = x.children;
      if (c) for (let i = c.length - 1; i >= 0; i--) st.push(c[i]);
    }
    this.n = n;
    const name = new Array(n);
    const self = new Float64Array(n), total = new Float64Array(n);
    const w = new Float64Array(n), x0 = new Float64Array(n);
    const depth = new Int32Array(n), parent = new Int32Array(n);
    const nkids = new Int32Array(n), kid0 = new Int32Array(n);
    const base = this.diff ? new Float64Array(n) : null;
    const target = this.diff ? new Float64Array(n) : null;
    const only = this.diff ? new Int8Array(n) : null;
    // Pre-order with explicit stack of [node, parentIndex, depth, x].
    const sn = [root], sp = [-1], sd = [0], sx = [0];
    let i = 0, maxDepth = 0;
    while (sn.length) {
      const nd = sn.pop(), p = sp.pop(), d = sd.pop(), x = sx.pop();
      name[i] = nd.name;
      self[i] = nd.self || 0;
      total[i] = nd.total || 0;
      if (this.diff) {
        base[i] = nd.base || 0;
        target[i] = nd.target || 0;
        only[i] = nd.only === 'base' ? -1 : nd.only === 'target' ? 1 : 0;
        w[i] = Math.abs(base[i]) + Math.abs(target[i]);
      } else {
        w[i] = Math.abs(total[i]);
      }
      x0[i] = x;
      depth[i] = d;
      parent[i] = p;
      if (d > maxDepth) maxDepth = d;
      const c = nd.children || [];
      nkids[i] = c.length;
      // Children's x: siblings left to right, widths from the data; pushed
      // last first, so x runs back from the end of their span.
      let cx = x;
      for (let k = 0; k < c.length; k++) cx += this.diff ? Math.abs(c[k].base || 0) + Math.abs(c[k].target || 0) : Math.abs(c[k].total || 0);
      for (let k = c.length - 1; k >= 0; k--) {
        const ck = c[k];
        cx -= this.diff ? Math.abs(ck.base || 0) + Math.abs(ck.target || 0) : Math.abs(ck.total || 0);
        sn.push(ck); sp.push(i); sd.push(d + 1); sx.push(cx);
      }
      i++;
    }
    // Level lists in x order (pre-order visits each depth left to right).
    const counts = new Int32Array(maxDepth + 1);
    for (let k = 0; k < n; k++) counts[depth[k]]++;
    const levels = [];
    for (let d = 0; d <= maxDepth; d++) levels.push(new Int32Array(counts[d]));
    counts.fill(0);
    for (let k = 0; k < n; k++) { const d = depth[k]; levels[d][counts[d]++] = k; }
    // Children lists (pre-order puts a node's subtree after it, so record
    // each child's index by parent).
    const kids = new Int32Array(Math.max(0, n - 1));
    const fill = new Int32Array(n);
    let off = 0;
    for (let k = 0; k < n; k++) { kid0[k] = off; off += nkids[k]; }
    for (let k = 1; k < n; k++) { const p = parent[k]; kids[kid0[p] + fill[p]++] = k; }

    Object.assign(this, { name, self, total, w, x0, depth, parent, nkids, kid0, kids, base, target, only, levels, maxDepth });
    this.tb = this.diff ? base[0] : 0;
    this.tt = this.diff ? target[0] : 0;
    this.pkgHue = new Map();
    this.computeColors();
    this.zoom = 0;
    this.sel = -1;
    this.hover = -1;
    if (o.zoom && o.zoom.length) this.zoom = this.findPath(o.zoom);
    this.setSearch(o.search || '', true);
    this.renderBar();
    this.renderLegend();
    const t1 = performance.now();
    this.layoutMs = t1 - t0;
    this.resize();
    const t2 = performance.now();
    timing('setData', t2 - t0, { nodes: n, layout: Math.round((t1 - t0) * 100) / 100, draw: Math.round((t2 - t1) * 100) / 100 });
  }

  computeColors() {
    const dark = isDark();
    this.dark = dark;
    const n = this.n, col = new Array(n);
    const cache = new Map();
    for (let i = 0; i < n; i++) {
      if (this.diff) {
        col[i] = diffColor(shareChange(this.base[i], this.target[i], this.tb, this.tt), dark);
      } else {
        const pkg = i === 0 ? 'root' : packageOf(this.name[i]);
        let c = cache.get(pkg);
        if (!c) { c = packageColor(pkg, dark); cache.set(pkg, c); }
        col[i] = c;
      }
    }
    this.col = col;
    this.textColor = dark ? '#e8eaed' : '#1b1d21';
    this.mutedColor = dark ? 'rgba(150,155,165,0.45)' : 'rgba(120,125,135,0.35)';
    this.fadedColor = dark ? '#3a3d42' : '#e4e6e9';
    this.fadedText = dark ? '#8a8f98' : '#8a8f98';
    this.hatchNew = null; // made on the next draw (needs the context)
  }

  // findPath(names): the deepest node along names from the root.
  findPath(names) {
    let cur = 0;
    for (const nm of names) {
      let next = -1;
      for (let k = 0; k < this.nkids[cur]; k++) {
        const c = this.kids[this.kid0[cur] + k];
        if (this.name[c] === nm) { next = c; break; }
      }
      if (next < 0) break;
      cur = next;
    }
    return cur;
  }

  pathOf(i) {
    const p = [];
    while (i > 0) { p.push(this.name[i]); i = this.parent[i]; }
    return p.reverse();
  }

  // setSearch(text): highlights the frames whose name matches; returns
  // {count, value, pct}: the matches and the share of the total in them
  // (a match inside another counted once).
  setSearch(text, quiet) {
    this.searchText = text || '';
    this.re = searchRegExp(this.searchText);
    const res = { count: 0, value: 0, pct: 0, base: 0, target: 0 };
    if (!this.re || !this.n) {
      this.match = null;
    } else {
      const n = this.n, m = new Uint8Array(n), under = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        if (this.re.test(this.name[i])) {
          m[i] = 1;
          res.count++;
          const p = this.parent[i];
          if (p >= 0 && under[p]) under[i] = 1;
          else {
            under[i] = 1;
            res.value += this.total[i];
            if (this.diff) { res.base += this.base[i]; res.target += this.target[i]; }
          }
        } else if (i > 0 && under[this.parent[i]]) {
          under[i] = 1;
        }
      }
      this.match = m;
      const rootVal = this.total[0];
      res.pct = rootVal ? res.value / rootVal * 100 : 0;
    }
    this.searchResult = res;
    this.renderInfo();
    if (!quiet) this.draw();
    return res;
  }

  zoomTo(i, quiet) {
    if (i < 0 || i >= this.n) i = 0;
    if (i === this.zoom) return;
    const t0 = performance.now();
    this.zoom = i;
    this.renderInfo();
    this.draw();
    timing('zoom', performance.now() - t0, { depth: this.depth[i] });
    if (!quiet && this.opts.onZoom) this.opts.onZoom(this.pathOf(i));
  }

  resetZoom() { this.zoomTo(0); }

  // focusName(name): zoom to the widest frame of that function.
  focusName(name) {
    let best = -1;
    for (let i = 1; i < this.n; i++) {
      if (this.name[i] === name && (best < 0 || this.w[i] > this.w[best])) best = i;
    }
    if (best >= 0) { this.sel = best; this.zoomTo(best); this.ensureVisible(best); }
    return best;
  }

  renderBar() {
    const tr = this.report.trimmed;
    this.trimEl.replaceChildren();
    if (tr && tr.nodes > 0) {
      const rootVal = this.diff ? this.w[0] : this.total[0];
      const share = rootVal ? Math.abs(tr.value) / rootVal * 100 : 0;
      this.trimEl.append(`${tr.nodes.toLocaleString('en-US')} nodes trimmed (${formatValue(tr.value, this.unit)}, ${formatPct(share)}, folded into "other"): `);
      if (this.opts.onShowMore) {
        const b = el('button', 'flame-more');
        b.type = 'button';
        b.textContent = 'show more';
        b.addEventListener('click', () => this.opts.onShowMore());
        this.trimEl.append(b);
      }
    }
    this.renderInfo();
  }

  renderInfo() {
    if (!this.infoEl) return;
    this.infoEl.replaceChildren();
    const parts = [];
    if (this.re && this.searchResult) {
      const r = this.searchResult;
      const s = el('span', 'flame-match');
      if (!r.count) s.textContent = `no frame matches "${this.searchText}"`;
      else if (this.diff) s.textContent = `${r.count} frame${r.count === 1 ? '' : 's'} match${r.count === 1 ? 'es' : ''}: base ${formatValue(r.base, this.unit)} (${formatPct(this.tb ? r.base / this.tb * 100 : 0)}), target ${formatValue(r.target, this.unit)} (${formatPct(this.tt ? r.target / this.tt * 100 : 0)})`;
      else s.textContent = `${r.count} frame${r.count === 1 ? '' : 's'} match${r.count === 1 ? 'es' : ''}: ${formatValue(r.value, this.unit)}, ${formatPct(r.pct)} of total`;
      parts.push(s);
    }
    if (this.zoom > 0) {
      const s = el('span', 'flame-zoomed');
      s.append(`zoomed into ${this.name[this.zoom]} `);
      const b = el('button', 'flame-reset');
      b.type = 'button';
      b.textContent = 'reset zoom (Esc)';
      b.addEventListener('click', () => this.resetZoom());
      s.append(b);
      parts.push(s);
    }
    this.infoEl.append(...parts);
  }

  renderLegend() {
    this.legend.replaceChildren();
    this.legend.hidden = !this.diff || this.opts.legend === false;
    if (this.legend.hidden) return;
    const dark = isDark();
    const grad = el('span', 'flame-legend-scale');
    const stops = [-100, -50, 0, 50, 100].map((v) => diffColor(v, dark));
    grad.style.background = `linear-gradient(to right, ${stops.join(',')})`;
    const l = el('span'); l.textContent = 'share shrank −100%';
    const r = el('span'); r.textContent = '+100% share grew';
    const gone = el('span', 'flame-legend-only flame-legend-gone'); gone.textContent = 'only in base (gone)';
    const neu = el('span', 'flame-legend-only flame-legend-new'); neu.textContent = 'only in target (new)';
    const note = el('span', 'flame-legend-note');
    note.textContent = `colour: change of each frame's share of ${this.shareOf || 'its side\'s total'}; width: base + target`;
    this.legend.append(l, grad, r, gone, neu, note);
  }

  /* ----- geometry ----- */

  viewRange() {
    const z = this.zoom;
    return [this.x0[z], this.w[z] || 1];
  }

  rowY(d) {
    return this.opts.inverted ? (this.maxDepth - d) * ROW : d * ROW;
  }

  resize() {
    const rows = this.maxDepth + 1;
    const totalH = rows * ROW;
    this.totalH = totalH;
    // Measure the scroller's height with all content as spacer first.
    this.canvas.style.height = '0px';
    this.spacer.style.height = totalH + 'px';
    const avail = this.scroller.clientHeight || totalH;
    const viewH = Math.min(totalH, avail);
    const cssW = this.scroller.clientWidth || 600;
    const dpr = window.devicePixelRatio || 1;
    this.cssW = cssW;
    this.viewH = viewH;
    this.canvas.style.width = cssW + 'px';
    this.canvas.style.height = viewH + 'px';
    this.canvas.width = Math.round(cssW * dpr);
    this.canvas.height = Math.round(viewH * dpr);
    this.dpr = dpr;
    this.spacer.style.height = (totalH - viewH) + 'px';
    if (this.opts.inverted && this._firstInverted !== this.report) {
      this._firstInverted = this.report;
      this.scroller.scrollTop = totalH;
    }
    this.scrollTop = this.scroller.scrollTop;
    this.draw();
  }

  scheduleDraw() {
    if (this._raf) return;
    this._raf = requestAnimationFrame(() => { this._raf = 0; this.draw(); });
  }

  draw() {
    if (!this.n || !this.cssW) return;
    const t0 = performance.now();
    const ctx = this.ctx, dpr = this.dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.cssW, this.viewH);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    if (!this.charW) this.charW = ctx.measureText('MMMMMMMMMM').width / 10;
    if (!this.hatchNew) {
      const hc = this.dark ? 'rgba(0,0,0,0.45)' : 'rgba(255,255,255,0.75)';
      this.hatchNew = hatchPattern(ctx, hc, 1);
      this.hatchGone = hatchPattern(ctx, hc, -1);
    }
    const [vs, vw] = this.viewRange();
    const ve = vs + vw;
    const scale = this.cssW / vw;
    const top = this.scrollTop, bottom = top + this.viewH;
    const z = this.zoom, zd = this.depth[z];
    const muted = [], mutedMatch = [];
    const labels = [];
    let drawn = 0;
    const match = this.match;
    for (let d = 0; d <= this.maxDepth; d++) {
      const y = this.rowY(d) - top;
      if (y + ROW <= 0 || y >= this.viewH) continue;
      const lv = this.levels[d];
      // First node whose right edge passes vs.
      let lo = 0, hi = lv.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1, k = lv[mid];
        if (this.x0[k] + this.w[k] <= vs) lo = mid + 1; else hi = mid;
      }
      for (let j = lo; j < lv.length; j++) {
        const k = lv[j];
        const x = this.x0[k];
        if (x >= ve) break;
        const wk = this.w[k];
        if (wk <= 0) continue;
        const l = Math.max(x, vs), r = Math.min(x + wk, ve);
        const px = (l - vs) * scale;
        const pw = (r - l) * scale;
        if (pw < MIN_PX) continue;
        drawn++;
        if (pw < MUTED_PX) {
          (match && match[k] ? mutedMatch : muted).push(px, y, pw);
          continue;
        }
        let fill = this.col[k];
        let faded = false;
        if (match && !match[k]) { fill = this.fadedColor; faded = true; }
        ctx.globalAlpha = d < zd ? 0.6 : 1;
        ctx.fillStyle = fill;
        ctx.fillRect(px + 0.5, y + 0.5, pw - 1, ROW - 1);
        if (this.diff && this.only[k] && !faded) {
          ctx.fillStyle = this.only[k] > 0 ? this.hatchNew : this.hatchGone;
          ctx.fillRect(px + 0.5, y + 0.5, pw - 1, ROW - 1);
        }
        if (pw >= LABEL_PX) labels.push(k, px, y, pw, faded ? 1 : 0);
      }
    }
    ctx.globalAlpha = 1;
    if (muted.length) {
      ctx.fillStyle = this.mutedColor;
      ctx.beginPath();
      for (let i = 0; i < muted.length; i += 3) ctx.rect(muted[i] + 0.5, muted[i + 1] + 0.5, Math.max(0.5, muted[i + 2] - 1), ROW - 1);
      ctx.fill();
    }
    if (mutedMatch.length) {
      ctx.fillStyle = this.dark ? '#f0a640' : '#d9480f';
      ctx.beginPath();
      for (let i = 0; i < mutedMatch.length; i += 3) ctx.rect(mutedMatch[i] + 0.5, mutedMatch[i + 1] + 0.5, Math.max(0.5, mutedMatch[i + 2] - 1), ROW - 1);
      ctx.fill();
    }
    // Labels: the name's tail when it does not fit (the function, not the
    // package path), with the share in the root bar.
    const cw = this.charW;
    for (let i = 0; i < labels.length; i += 5) {
      const k = labels[i], px = labels[i + 1], y = labels[i + 2], pw = labels[i + 3];
      ctx.fillStyle = labels[i + 4] ? this.fadedText : this.textColor;
      let s = k === 0 ? this.rootLabel() : this.name[k];
      const fit = Math.floor((pw - 8) / cw);
      if (fit < 2) continue;
      if (s.length > fit) {
        // Without the package path first, then the tail.
        const slash = s.lastIndexOf('/', s.length - 3);
        if (slash >= 0) s = s.slice(slash + 1);
        if (s.length > fit) s = '…' + s.slice(s.length - fit + 1);
      }
      ctx.fillText(s, px + 4, y + ROW / 2 + 0.5);
    }
    // Outlines: the matched frames' borders in search, hover, selection.
    if (match) {
      ctx.strokeStyle = this.dark ? '#f0a640' : '#d9480f';
      ctx.lineWidth = 1.5;
      for (let i = 0; i < labels.length; i += 5) {
        if (!labels[i + 4] && match[labels[i]]) ctx.strokeRect(labels[i + 1] + 1, labels[i + 2] + 1, labels[i + 3] - 2, ROW - 2);
      }
    }
    for (const [k, color, lw] of [[this.hover, this.dark ? '#fff' : '#000', 1], [this.sel, '#3b82f6', 2.5]]) {
      if (k < 0) continue;
      const b = this.bounds(k);
      if (!b) continue;
      ctx.strokeStyle = color;
      ctx.lineWidth = lw;
      ctx.strokeRect(b.x + 1, b.y + 1, Math.max(1, b.w - 2), ROW - 2);
    }
    const ms = performance.now() - t0;
    this.lastDraw = { ms, drawn };
    timing('draw', ms, { drawn, nodes: this.n });
  }

  // The root's label: "all" for a whole profile, the function in a
  // sandwich's trees.
  rootName() {
    return this.name[0] === 'root' ? 'all' : this.name[0];
  }

  rootLabel() {
    return `${this.rootName()} (${formatValue(this.total[0], this.unit)}${this.diff ? ' change' : ''})`;
  }

  // bounds(k): k's bar in canvas px, or null when not in view.
  bounds(k) {
    const [vs, vw] = this.viewRange();
    const scale = this.cssW / vw;
    const x = this.x0[k], wk = this.w[k];
    const l = Math.max(x, vs), r = Math.min(x + wk, vs + vw);
    if (r <= l) return null;
    return { x: (l - vs) * scale, y: this.rowY(this.depth[k]) - this.scrollTop, w: (r - l) * scale };
  }

  // hit(px, py): the node under a canvas point, or -1.
  hit(px, py) {
    const cy = py + this.scrollTop;
    let d = Math.floor(cy / ROW);
    if (this.opts.inverted) d = this.maxDepth - d;
    if (d < 0 || d > this.maxDepth) return -1;
    const [vs, vw] = this.viewRange();
    const xv = vs + px / (this.cssW / vw);
    const lv = this.levels[d];
    let lo = 0, hi = lv.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1, k = lv[mid];
      if (this.x0[k] + this.w[k] <= xv) lo = mid + 1; else hi = mid;
    }
    if (lo >= lv.length) return -1;
    const k = lv[lo];
    if (this.x0[k] > xv || this.w[k] <= 0) return -1;
    const b = this.bounds(k);
    if (!b || b.w < MIN_PX) return -1;
    return k;
  }

  onMove(e) {
    const t0 = performance.now();
    const r = this.canvas.getBoundingClientRect();
    const k = this.hit(e.clientX - r.left, e.clientY - r.top);
    if (k !== this.hover) {
      this.hover = k;
      this.draw();
    }
    if (k < 0) { this.tip.hidden = true; return; }
    this.showTip(k, e.clientX, e.clientY);
    timing('hover', performance.now() - t0);
  }

  onClick(e) {
    const r = this.canvas.getBoundingClientRect();
    const k = this.hit(e.clientX - r.left, e.clientY - r.top);
    if (k < 0) return;
    this.sel = k;
    if (this.opts.onSelect) this.opts.onSelect(this.name[k], k);
    this.zoomTo(k === this.zoom ? this.parent[k] >= 0 ? this.parent[k] : 0 : k);
    this.draw();
  }

  onKey(e) {
    const keys = ['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'Enter', ' ', 'Escape'];
    if (!keys.includes(e.key)) return;
    e.preventDefault();
    if (e.key === 'Escape') { this.sel = -1; this.tip.hidden = true; this.resetZoom(); this.draw(); return; }
    let k = this.sel >= 0 ? this.sel : this.zoom;
    if (e.key === 'Enter' || e.key === ' ') {
      if (this.sel >= 0) this.zoomTo(this.sel);
      return;
    }
    const up = this.opts.inverted ? 'ArrowDown' : 'ArrowUp';
    if (this.sel < 0) {
      k = this.zoom;
    } else if (e.key === up) {
      if (this.parent[k] >= 0) k = this.parent[k];
    } else if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      // The widest child in view.
      let best = -1;
      for (let j = 0; j < this.nkids[k]; j++) {
        const c = this.kids[this.kid0[k] + j];
        const b = this.bounds(c);
        if (b && b.w >= MIN_PX && (best < 0 || this.w[c] > this.w[best])) best = c;
      }
      if (best >= 0) k = best;
    } else {
      const lv = this.levels[this.depth[k]];
      let idx = lv.indexOf(k);
      const step = e.key === 'ArrowLeft' ? -1 : 1;
      for (let j = idx + step; j >= 0 && j < lv.length; j += step) {
        const b = this.bounds(lv[j]);
        if (b && b.w >= MIN_PX) { idx = j; break; }
      }
      k = lv[idx];
    }
    this.sel = k;
    this.ensureVisible(k);
    this.draw();
    const b = this.bounds(k);
    if (b) {
      const r = this.canvas.getBoundingClientRect();
      this.showTip(k, r.left + b.x + Math.min(b.w, 40) / 2, r.top + b.y + ROW);
    }
    if (this.opts.onSelect) this.opts.onSelect(this.name[k], k);
  }

  ensureVisible(k) {
    const y = this.rowY(this.depth[k]);
    if (y < this.scroller.scrollTop) this.scroller.scrollTop = y;
    else if (y + ROW > this.scroller.scrollTop + this.viewH) this.scroller.scrollTop = y + ROW - this.viewH;
    this.scrollTop = this.scroller.scrollTop;
  }

  showTip(k, cx, cy) {
    const u = this.unit, tip = this.tip;
    const rows = [];
    const rootW = this.diff ? null : this.total[0];
    const zoomW = this.diff ? null : this.total[this.zoom];
    if (this.diff) {
      const b = this.base[k], t = this.target[k];
      const ch = shareChange(b, t, this.tb, this.tt);
      rows.push(['base', `${formatValue(b, u)} (${formatPct(this.tb ? b / this.tb * 100 : 0)})`]);
      rows.push(['target', `${formatValue(t, u)} (${formatPct(this.tt ? t / this.tt * 100 : 0)})`]);
      rows.push(['change', `${t - b >= 0 ? '+' : ''}${formatValue(t - b, u)}${b ? ` (${t - b >= 0 ? '+' : ''}${formatPct((t - b) / b * 100)})` : ''}`]);
      if (this.only[k]) rows.push(['', this.only[k] > 0 ? 'only in target (new)' : 'only in base (gone)']);
      else rows.push(['share', `${ch >= 0 ? '+' : ''}${formatPct(ch)} of its base share`]);
    } else {
      rows.push(['total', `${formatValue(this.total[k], u)} (${formatPct(rootW ? this.total[k] / rootW * 100 : 0)} of all${this.zoom ? `, ${formatPct(zoomW ? this.total[k] / zoomW * 100 : 0)} of zoomed` : ''})`]);
      rows.push(['self', `${formatValue(this.self[k], u)} (${formatPct(rootW ? this.self[k] / rootW * 100 : 0)})`]);
    }
    tip.replaceChildren();
    const h = el('div', 'flame-tip-name');
    h.textContent = k === 0 ? this.rootName() : this.name[k];
    tip.append(h);
    const tb = el('table');
    for (const [a, b] of rows) {
      const tr = el('tr');
      const th = el('th'); th.textContent = a;
      const td = el('td'); td.textContent = b;
      tr.append(th, td);
      tb.append(tr);
    }
    tip.append(tb);
    const hint = el('div', 'flame-tip-hint');
    hint.textContent = 'click: zoom · Esc: reset';
    tip.append(hint);
    tip.hidden = false;
    // Place inside the host, away from the pointer.
    const hr = this.host.getBoundingClientRect();
    let x = cx - hr.left + 14, y = cy - hr.top + 14;
    const tw = tip.offsetWidth, th = tip.offsetHeight;
    if (x + tw > hr.width) x = Math.max(0, cx - hr.left - tw - 14);
    if (y + th > hr.height && cy - hr.top - th - 10 > 0) y = cy - hr.top - th - 10;
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
}

function el(tag, cls) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  return e;
}
