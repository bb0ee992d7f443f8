// Statistics, targets, the markdown tables and the SVG chart of a benchmark run.
//
// Every ratio is paired: contender / C floor of the same case in the same repetition (they ran
// minutes apart at most, usually seconds), and the reported ratio is the median of those paired
// ratios. "Noise" is max/min of the contender's own metric over the repetitions.

export const FLOOR = 'floor';

/** The issue's targets (ratio to the floor unless said otherwise). */
const FAST_ROW = { W1: 1.10, W2: 1.10, 'W3 K=1000': 1.15, W3self: 1.10, W4: 1.30, W6: 1.15, W7self: 1.10 };
const SLOW_ROW = { W1: 1.15, W2: 1.15, 'W3 K=1000': 1.60, W4: 1.50, W5: 2.5, W6: 1.20, W7self: 1.10 };
export const TARGETS = {
  'cw-pidfd': { ...FAST_ROW, W5: 2.5 },
  'cw-fast': { ...FAST_ROW, W5: 2.5 },
  'cw-threaded': { ...FAST_ROW, W5: 10 },
  'cw-safe': SLOW_ROW,
  'cw-multiloop': SLOW_ROW,
};

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function noise(xs) {
  const v = xs.filter((x) => Number.isFinite(x) && x > 0);
  if (v.length < 2) return NaN;
  return Math.max(...v) / Math.min(...v);
}

/** The value a case is compared on, per child where the metric is a total time. */
export function valueOf(c, metrics) {
  const v = metrics?.[c.metric];
  if (typeof v !== 'number') return NaN;
  return c.per === 'n' ? v / metrics.n : v;
}

/**
 * Summaries by case id and contender id: { values, median, ratios, ratio, noise, okRuns, runs,
 * errors, extra }. `extra` holds W4's p99 (and its ratio), W5's threads, W3 K=1000 over the
 * contender's own K=0 and W7 over its own W1 (both paired by repetition).
 */
export function summarize(cases, contenders, runs) {
  const byKey = new Map();
  for (const r of runs) byKey.set(`${r.rep}|${r.caseId}|${r.contender}`, r);
  const reps = [...new Set(runs.map((r) => r.rep))].sort((a, b) => a - b);
  const out = {};
  for (const c of cases) {
    out[c.id] = {};
    for (const k of contenders) {
      const s = { values: [], ratios: [], okRuns: 0, runs: 0, errors: [], extra: {} };
      const p99 = [];
      const p99r = [];
      const threads = [];
      const half = [];
      const heap = [];
      const fds = [];
      const self = [];
      for (const rep of reps) {
        const r = byKey.get(`${rep}|${c.id}|${k.id}`);
        if (r === undefined) continue;
        s.runs++;
        if (r.ok) s.okRuns++;
        else s.errors.push(...r.errors.slice(0, 3).map((e) => `rep ${rep}: ${e}`));
        const v = valueOf(c, r.metrics);
        s.values.push(v);
        const f = byKey.get(`${rep}|${c.id}|${FLOOR}`);
        const fv = f?.ok ? valueOf(c, f.metrics) : NaN;
        if (!c.noRatio && r.ok) s.ratios.push(v / fv);
        if (c.workload === 'W4') {
          p99.push(r.metrics?.p99_us);
          if (r.ok) p99r.push(r.metrics?.p99_us / f?.metrics?.p99_us);
        }
        if (c.workload === 'W5') {
          threads.push(r.metrics?.threads);
          half.push(r.metrics?.kib_per_child_2nd_half);
          heap.push(r.metrics?.heap_kib_per_child);
        }
        if (c.workload === 'W3') fds.push(r.metrics?.fds);
        const selfCase = c.id === 'W3 K=1000' ? 'W3 K=0' : c.id === 'W7' ? 'W1' : null;
        if (selfCase !== null && r.ok) {
          const own = byKey.get(`${rep}|${selfCase}|${k.id}`);
          const selfC = cases.find((x) => x.id === selfCase);
          if (own?.ok && selfC) self.push(v / valueOf(selfC, own.metrics));
        }
      }
      s.median = median(s.values);
      s.ratio = median(s.ratios);
      s.noise = noise(s.values);
      if (p99.length) s.extra.p99 = median(p99);
      if (p99r.length) s.extra.p99ratio = median(p99r);
      if (threads.length) s.extra.threads = median(threads);
      if (half.length) s.extra.half = median(half);
      if (heap.length) s.extra.heap = median(heap);
      if (fds.length) s.extra.fds = median(fds);
      if (self.length) s.extra.self = median(self);
      out[c.id][k.id] = s;
    }
  }
  return out;
}

/** [{ contender, key, label, value, limit, met }] for every target of our watchers. */
export function targetChecks(summary, contenders) {
  const checks = [];
  for (const k of contenders) {
    const t = TARGETS[k.id];
    if (!t) continue;
    const add = (key, label, value) => {
      if (t[key] === undefined || value === undefined) return; // the case was not run
      checks.push({ contender: k.id, key, label, value, limit: t[key], met: Number.isFinite(value) && value <= t[key] });
    };
    const get = (id) => summary[id]?.[k.id];
    add('W1', 'W1', get('W1')?.ratio);
    add('W2', 'W2', get('W2')?.ratio);
    add('W3 K=1000', 'W3 K=1000', get('W3 K=1000')?.ratio);
    add('W3self', 'W3 K=1000 / own K=0', get('W3 K=1000')?.extra.self);
    add('W4', 'W4 p50', get('W4')?.ratio);
    add('W5', 'W5 KiB/child', get('W5')?.median);
    add('W6', 'W6', get('W6')?.ratio);
    add('W7self', 'W7 / own W1', get('W7')?.extra.self);
  }
  return checks;
}

const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');
/** A value checked against a limit: 2 decimals, or 3 where 2 would hide a miss (1.103 > 1.10). */
export const fmtAgainst = (x, limit) =>
  (Number.isFinite(x) && x > limit && Number(x.toFixed(2)) <= limit ? x.toFixed(3) : Number.isFinite(x) ? x.toFixed(2) : '-');
const fmtNum = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');

function unitOf(c) {
  if (c.workload === 'W4') return 'us (p50)';
  if (c.workload === 'W5') return 'KiB/child';
  return 'us/child';
}

/** The whole markdown report. */
export function markdown({ cases, contenders, summary, meta, checks }) {
  const L = [];
  const ours = new Set(Object.keys(TARGETS));
  const mark = (kId, key, value) => {
    const chk = checks.find((x) => x.contender === kId && x.key === key);
    if (!chk) return fmtRatio(value);
    return `${Number.isFinite(value) ? `${fmtAgainst(value, chk.limit)}x` : '-'} ${chk.met ? 'ok' : '**MISS**'}`;
  };
  L.push(`Run ${meta.started} (${meta.mode}, ${meta.reps} repetition${meta.reps === 1 ? '' : 's'}, ${fmtNum(meta.seconds)} s${meta.nice ? `, nice ${meta.nice}` : ''}) on ${meta.machine}.`);
  L.push('');
  L.push('### Ratio to the C floor (median of paired ratios; targets from issue 6: ok / **MISS**)');
  L.push('');
  const ratioCases = cases.filter((c) => !c.noRatio);
  const hasW3k = cases.some((c) => c.id === 'W3 K=1000');
  const hasW7 = cases.some((c) => c.id === 'W7') && cases.some((c) => c.id === 'W1');
  const hasW5 = cases.some((c) => c.id === 'W5');
  const head = ['contender', ...ratioCases.map((c) => (c.workload === 'W4' ? 'W4 p50' : c.id))];
  if (cases.some((c) => c.workload === 'W4')) head.push('W4 p99');
  if (hasW3k) head.push('W3 1000/0');
  if (hasW7) head.push('W7/W1');
  if (hasW5) head.push('W5 KiB/child', 'W5 threads');
  head.push('checks');
  L.push(`| ${head.join(' | ')} |`);
  L.push(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const k of contenders) {
    const row = [k.label];
    for (const c of ratioCases) {
      const s = summary[c.id][k.id];
      const key = c.workload === 'W7' || c.workload === 'W3' && c.id !== 'W3 K=1000' ? null : c.id;
      row.push(k.id === FLOOR ? '1.00x' : ours.has(k.id) && key ? mark(k.id, key, s.ratio) : fmtRatio(s.ratio));
    }
    if (cases.some((c) => c.workload === 'W4')) row.push(k.id === FLOOR ? '1.00x' : fmtRatio(summary.W4?.[k.id]?.extra.p99ratio));
    if (hasW3k) row.push(ours.has(k.id) ? mark(k.id, 'W3self', summary['W3 K=1000'][k.id].extra.self) : fmtRatio(summary['W3 K=1000'][k.id].extra.self));
    if (hasW7) row.push(ours.has(k.id) ? mark(k.id, 'W7self', summary.W7[k.id].extra.self) : fmtRatio(summary.W7[k.id].extra.self));
    if (hasW5) {
      const s = summary.W5[k.id];
      const chk = checks.find((x) => x.contender === k.id && x.key === 'W5');
      row.push(`${fmtNum(s.median, 2)}${chk ? (chk.met ? ' ok' : ' **MISS**') : ''}`, fmtNum(s.extra.threads));
    }
    let okRuns = 0;
    let runs = 0;
    for (const c of cases) {
      okRuns += summary[c.id][k.id].okRuns;
      runs += summary[c.id][k.id].runs;
    }
    row.push(okRuns === runs ? `${runs}/${runs} pass` : `**${runs - okRuns}/${runs} FAIL**`);
    L.push(`| ${row.join(' | ')} |`);
  }
  L.push('');
  L.push('### Medians per case');
  L.push('');
  L.push('Time per child (total / N) for W1-W3, W6, W7; kill-to-resolve latency for W4; RSS growth per watched child for W5 (and the growth over the second half of the children alone). Noise is max/min of the contender\'s own value over the repetitions.');
  for (const c of cases) {
    L.push('');
    L.push(`**${c.id}** (${describe(c)})`);
    L.push('');
    L.push(`| contender | median ${unitOf(c)} | ratio to floor | noise | runs ok |`);
    L.push('|---|---:|---:|---:|---:|');
    for (const k of contenders) {
      const s = summary[c.id][k.id];
      const ratio = c.noRatio ? '-' : k.id === FLOOR ? '1.00x' : fmtRatio(s.ratio);
      let extra = '';
      if (c.workload === 'W4') extra = ` (p99 ${fmtNum(s.extra.p99)})`;
      if (c.workload === 'W5') {
        extra = ` (${fmtNum(s.extra.threads)} threads; 2nd half ${fmtNum(s.extra.half, 2)})`;
      }
      if (c.workload === 'W3' && c.params.k > 0) extra = ` (${fmtNum(s.extra.fds)} fds open)`;
      L.push(`| ${k.label} | ${fmtNum(s.median, c.workload === 'W5' ? 2 : 1)}${extra} | ${ratio} | ${fmtRatio(s.noise)} | ${s.okRuns}/${s.runs} |`);
    }
  }
  const failing = [];
  for (const c of cases) for (const k of contenders) for (const e of summary[c.id][k.id].errors) failing.push(`- ${k.label}, ${c.id}, ${e}`);
  L.push('');
  L.push('### Correctness');
  L.push('');
  if (failing.length === 0) L.push('Every run of every contender passed every check (exit statuses, captured bytes, no child left in /proc).');
  else {
    L.push('Failed checks (first three per run):');
    L.push('');
    L.push(...failing.slice(0, 60));
    if (failing.length > 60) L.push(`- ... and ${failing.length - 60} more (see the raw JSON)`);
  }
  if (meta.notes.length) {
    L.push('');
    L.push(...meta.notes.map((n) => `Note: ${n}`));
  }
  return L.join('\n');
}

function describe(c) {
  const p = c.params;
  switch (c.workload) {
    case 'W1': return `${p.n} sequential /usr/bin/true`;
    case 'W2': return `${p.n} /usr/bin/true, ${p.inflight} in flight`;
    case 'W3': return `${p.n} sequential /usr/bin/true with ${p.k} sleeping children watched`;
    case 'W4': return `SIGKILL to resolved wait, ${p.n} sleepers`;
    case 'W5': return `${p.k} sleeping children watched`;
    case 'W6': return `${p.n} children writing ${p.bytes} bytes, captured`;
    case 'W7': return `${p.n} sequential /usr/bin/true with a ${p.heapMiB} MiB heap`;
    default: return '';
  }
}

const COLORS = {
  'cw-pidfd': '#1f5fbf', 'cw-fast': '#2f8fdf', 'cw-threaded': '#6fb7f0', 'cw-safe': '#1a9850', 'cw-multiloop': '#66bd63',
  node: '#d73027',
  'py-pidfd': '#7f3b08', 'py-fast': '#b35806', 'py-threaded': '#e08214', 'py-safe': '#fdb863', 'py-multiloop': '#fee0b6',
};

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Grouped bars: ratio to the floor (log scale) per case and contender, and W5's KiB per child. */
export function svg({ cases, contenders, summary, meta }) {
  const ks = contenders.filter((k) => k.id !== FLOOR);
  const ratioCases = cases.filter((c) => !c.noRatio);
  const W = 1100;
  const top = 50;
  const plotH = 300;
  const left = 60;
  const right = 230;
  const groupW = (W - left - right) / Math.max(1, ratioCases.length);
  const barW = Math.max(2, (groupW - 10) / Math.max(1, ks.length));
  let maxR = 2;
  for (const c of ratioCases) for (const k of ks) maxR = Math.max(maxR, summary[c.id][k.id].ratio || 0);
  maxR = Math.min(maxR * 1.1, 64);
  const LO = 0.8;
  const y = (r) => top + plotH - (Math.log(Math.max(r, LO)) - Math.log(LO)) / (Math.log(maxR) - Math.log(LO)) * plotH;
  const o = [];
  const hasW5 = cases.some((c) => c.id === 'W5');
  const H = top + plotH + 60 + (hasW5 ? 230 : 0);
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(`<text x="${left}" y="22" font-size="15" font-weight="bold">childwatch benchmarks: time relative to the C floor (posix_spawn + waitpid), lower is better</text>`);
  o.push(`<text x="${left}" y="40" fill="#555">${esc(`${meta.mode}, ${meta.reps} rep(s), median of paired ratios, log scale; ${meta.machine}`)}</text>`);
  for (const t of [0.8, 1, 1.1, 1.25, 1.5, 2, 3, 5, 10, 20, 50].filter((t) => t <= maxR)) {
    const yy = y(t).toFixed(1);
    o.push(`<line x1="${left}" x2="${W - right}" y1="${yy}" y2="${yy}" stroke="${t === 1 ? '#000' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"${t === 1.1 ? ' stroke-dasharray="4 3"' : ''}/>`);
    o.push(`<text x="${left - 6}" y="${(+yy + 4).toFixed(1)}" text-anchor="end" fill="#333">${t}x</text>`);
  }
  ratioCases.forEach((c, i) => {
    const gx = left + i * groupW + 5;
    ks.forEach((k, j) => {
      const r = summary[c.id][k.id].ratio;
      if (!Number.isFinite(r)) return;
      // Bars grow from the floor (1.0x): up when slower than the floor, down when faster.
      const yy = y(Math.min(r, maxR));
      const y1 = y(1);
      const x = gx + j * barW;
      const failed = summary[c.id][k.id].okRuns < summary[c.id][k.id].runs;
      o.push(`<rect x="${x.toFixed(1)}" y="${Math.min(yy, y1).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${Math.max(1, Math.abs(y1 - yy)).toFixed(1)}" fill="${COLORS[k.id] ?? '#888'}"${failed ? ' stroke="#000" stroke-dasharray="2 2"' : ''}><title>${esc(`${k.label} ${c.id}: ${r.toFixed(2)}x`)}</title></rect>`);
    });
    o.push(`<text x="${(gx + (groupW - 10) / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${esc(c.workload === 'W4' ? 'W4 p50' : c.id)}</text>`);
  });
  ks.forEach((k, j) => {
    const yy = top + 10 + j * 18;
    o.push(`<rect x="${W - right + 15}" y="${yy}" width="12" height="12" fill="${COLORS[k.id] ?? '#888'}"/>`);
    o.push(`<text x="${W - right + 32}" y="${yy + 10}">${esc(k.label)}</text>`);
  });
  o.push(`<text x="${W - right + 15}" y="${top + 20 + ks.length * 18}" fill="#555">dashed outline: failed checks</text>`);
  o.push(`<text x="${W - right + 15}" y="${top + 38 + ks.length * 18}" fill="#555">dashed line: 1.1x</text>`);
  if (hasW5) {
    const t5 = top + plotH + 70;
    const h5 = 150;
    let maxK = 1;
    for (const k of ks) maxK = Math.max(maxK, summary.W5[k.id].median || 0);
    o.push(`<text x="${left}" y="${t5 - 8}" font-weight="bold">W5: parent RSS growth per watched child (KiB), lower is better; floor ${fmtNum(summary.W5[FLOOR]?.median, 2)} KiB</text>`);
    const bw = (W - left - right) / ks.length;
    ks.forEach((k, j) => {
      const v = summary.W5[k.id].median;
      if (!Number.isFinite(v)) return;
      const h = Math.max(0, v) / maxK * h5;
      const x = left + j * bw + 4;
      o.push(`<rect x="${x.toFixed(1)}" y="${(t5 + h5 - h).toFixed(1)}" width="${(bw - 8).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[k.id] ?? '#888'}"/>`);
      o.push(`<text x="${(x + (bw - 8) / 2).toFixed(1)}" y="${(t5 + h5 - h - 4).toFixed(1)}" text-anchor="middle">${v.toFixed(1)}</text>`);
    });
    o.push(`<line x1="${left}" x2="${W - right}" y1="${t5 + h5}" y2="${t5 + h5}" stroke="#000"/>`);
  }
  o.push('</svg>');
  return o.join('\n');
}
