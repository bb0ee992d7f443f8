#!/usr/bin/env node
// `npm run bench`: childwatch's five watchers against Node's child_process, CPython's asyncio
// watchers and a C floor, on the workloads W1-W7 of issue 6 (bench/lib/workloads.mjs).
//
// Every case (one workload x one contender) runs in a fresh process; within a repetition the
// contenders of each case run back to back in an order rotated per case and repetition, so slow
// drift of the machine lands on everyone; ratios to the C floor are paired within a repetition.
// Each run checks its own correctness (exit statuses, captured bytes, no child of its own left in
// /proc); this driver is a child subreaper, so a grandchild a worker leaked comes back here and
// is caught too.
//
// Usage: node bench/run.mjs [--quick] [--reps N] [--only W1,W3] [--contenders floor,cw-pidfd,...]
//                           [--no-python] [--timeout SECONDS] [--nice N]
// Writes bench/results/raw-<stamp>.json (every run), and <name>.md and <name>.svg, where name is
// `latest` for a full run and `quick` for --quick. Exit code 1 if any childwatch run failed a check.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, setPriority } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { childrenOf } from './lib/proc.mjs';
import { casesFor, floorArgs } from './lib/workloads.mjs';
import { FLOOR, fmtAgainst, markdown, summarize, svg, targetChecks } from './lib/report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const resultsDir = join(here, 'results');
const buildDir = join(here, '.build');

// -- options ----------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
if (flag('--help') || flag('-h')) {
  console.log('usage: npm run bench -- [--quick] [--reps N] [--only W1,W3] [--contenders floor,cw-pidfd,node,py-fast,...] [--no-python] [--timeout S] [--nice N]');
  process.exit(0);
}
const mode = flag('--quick') ? 'quick' : 'full';
const reps = Number(option('--reps', mode === 'quick' ? 1 : 5));
const timeoutMs = Number(option('--timeout', mode === 'quick' ? 30 : 60)) * 1000;
const niceness = Number(option('--nice', -10));
const only = option('--only', null)?.split(',');
const pick = option('--contenders', null)?.split(',');
if (!(reps >= 1)) throw new Error('--reps must be >= 1');

// -- prerequisites ----------------------------------------------------------------------------
const notes = [];
const distIndex = join(root, 'dist', 'ts-bindings', 'index.js');
if (!existsSync(distIndex)) {
  console.error('bench: dist/ is missing: run `npm run build` first');
  process.exit(2);
}
{
  // Benchmarking a stale build measures the wrong code: say so (the bench never builds by itself).
  const stale = [];
  const walk = (dir) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = join(root, 'dist', rel.replace(/\.ts$/, '.js'));
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(root, rel)).mtimeMs) stale.push(rel);
      }
    }
  };
  walk('ts-bindings');
  walk('host');
  const addonFile = join(root, 'build', 'Release', 'childwatch.node');
  if (existsSync(addonFile) && statSync(addonFile).mtimeMs < statSync(join(root, 'host', 'native', 'childwatch.c')).mtimeMs) stale.push('host/native/childwatch.c');
  if (stale.length) {
    console.error(`bench: warning: dist/ or the addon is older than ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ` and ${stale.length - 5} more` : ''}; run \`npm run build\` (and \`npm run build:addon\`) to measure the current sources`);
    notes.push(`measured a build older than its sources (${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', ...' : ''}).`);
  }
}
mkdirSync(buildDir, { recursive: true });
mkdirSync(resultsDir, { recursive: true });
const floorBin = join(buildDir, 'floor');
const cc = spawnSync('cc', ['-O2', '-Wall', '-o', floorBin, join(here, 'floor.c')], { encoding: 'utf8' });
if (cc.status !== 0) {
  console.error(`bench: cc failed to build bench/floor.c:\n${cc.stderr ?? cc.error}`);
  process.exit(2);
}
const py = spawnSync('python3', ['-c', 'import asyncio, sys; asyncio.PidfdChildWatcher; print(sys.version.split()[0])'], { encoding: 'utf8' });
const pyVersion = py.status === 0 ? py.stdout.trim() : null;
let withPython = pyVersion !== null && !flag('--no-python');
if (pyVersion === null) notes.push('CPython contenders skipped: no python3 with asyncio.PidfdChildWatcher on this machine.');
else if (!withPython) notes.push('CPython contenders skipped (--no-python).');

// A higher scheduling priority (inherited by every worker and child) keeps other work on the
// machine from landing in the middle of a case; best effort (needs CAP_SYS_NICE for < 0).
let niceApplied = 0;
if (niceness !== 0) {
  try {
    setPriority(0, niceness);
    niceApplied = niceness;
  } catch {
    notes.push(`could not set the scheduling priority to nice ${niceness}: ran at nice 0.`);
  }
}

// The driver is a subreaper: a child a worker leaves behind is re-parented here, not to init.
const { addon } = await import(join(root, 'dist', 'host', 'addon.js'));
if (addon.setSubreaper(true) !== 0) notes.push('could not become a child subreaper: leaked grandchildren are only checked by the workers.');

// -- contenders and cases ---------------------------------------------------------------------
const WATCHERS = [['pidfd', 'Pidfd'], ['fast', 'Fast'], ['threaded', 'Threaded'], ['safe', 'Safe'], ['multiloop', 'MultiLoop']];
let contenders = [
  { id: FLOOR, label: 'C floor', kind: 'floor' },
  ...WATCHERS.map(([id, name]) => ({ id: `cw-${id}`, label: `childwatch ${name}`, kind: 'node' })),
  { id: 'node', label: 'Node child_process', kind: 'node' },
  ...(withPython ? WATCHERS.map(([id, name]) => ({ id: `py-${id}`, label: `CPython ${name}`, kind: 'python', watcher: id })) : []),
];
if (pick) {
  contenders = contenders.filter((k) => k.id === FLOOR || pick.includes(k.id));
  withPython = contenders.some((k) => k.kind === 'python');
}
let cases = casesFor(mode);
if (only) cases = cases.filter((c) => only.some((o) => c.id === o || c.workload === o));
if (cases.length === 0) throw new Error(`--only ${only} matches no case`);

function commandFor(k, c) {
  if (k.kind === 'floor') return [floorBin, floorArgs(c).map(String)];
  const spec = JSON.stringify({ workload: c.workload, params: c.params });
  if (k.kind === 'python') return ['python3', [join(here, 'worker_asyncio.py'), k.watcher, spec]];
  const flags = ['--expose-gc', '--disable-warning=ExperimentalWarning'];
  if (c.workload === 'W7') flags.push(`--max-old-space-size=${c.params.heapMiB * 2 + 1024}`);
  return [process.execPath, [...flags, join(here, 'worker.mjs'), k.id, spec]];
}

/** Run one case in a fresh process; resolves with its result (never rejects). */
function runOne(k, c) {
  const [cmd, args] = commandFor(k, c);
  return new Promise((resolve) => {
    const started = Date.now();
    // A process group of its own, so a timeout can take the worker and its children down.
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    child.on('error', (e) => { err += String(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').reverse().find((l) => l.startsWith('@@RESULT '));
      let result;
      try {
        result = JSON.parse(line.slice(9));
      } catch {
        result = { ok: false, errorCount: 1, errors: [timedOut ? `timed out after ${timeoutMs / 1000} s` : `no result (exit ${code ?? signal})`], metrics: {} };
      }
      if (code !== 0 && result.ok) {
        result.ok = false;
        result.errors.push(`worker exit ${code ?? signal}`);
      }
      resolve({ ...result, wallMs: Date.now() - started, stderr: err.trim().slice(-2000) || undefined });
    });
  });
}

/** Children the last worker left behind, re-parented to us: reported, killed and reaped. */
function collectLeaks() {
  const leaks = childrenOf(process.pid);
  if (leaks.length === 0) return [];
  const rec = new Float64Array(5);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const l of leaks) {
    try { addon.kill(l.pid, 9); } catch { /* gone */ }
  }
  for (const l of leaks) {
    for (let i = 0; i < 200 && addon.waitPid(l.pid, rec) === 0; i++) Atomics.wait(pause, 0, 0, 10);
  }
  return leaks.map((l) => `child ${l.pid} (${l.comm}, ${l.state}) outlived its worker`);
}

// -- the run ----------------------------------------------------------------------------------
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const machine = `${cpus().length} x ${cpus()[0]?.model.trim() ?? '?'}, Linux ${release()}, Node ${process.version}${pyVersion ? `, CPython ${pyVersion}` : ''}`;
const total = reps * cases.length * contenders.length;
const bar = new cliProgress.SingleBar({
  format: 'bench {bar} {value}/{total} | rep {rep} {case} {contender} | {duration_formatted} elapsed, ETA {eta_formatted}',
  noTTYOutput: true, notTTYSchedule: 15000, etaBuffer: 40, hideCursor: true,
}, cliProgress.Presets.shades_classic);
bar.start(total, 0, { rep: 1, case: '', contender: '' });
const runs = [];
const t0 = Date.now();
for (let rep = 1; rep <= reps; rep++) {
  for (let ci = 0; ci < cases.length; ci++) {
    const c = cases[ci];
    const shift = (rep - 1 + ci) % contenders.length;
    const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
    for (const k of order) {
      bar.update({ rep, case: c.id, contender: k.id });
      const r = await runOne(k, c);
      const leaks = collectLeaks();
      if (leaks.length) {
        r.ok = false;
        r.errors.push(...leaks);
      }
      runs.push({ rep, caseId: c.id, contender: k.id, ok: r.ok, errors: r.errors, errorCount: r.errorCount, metrics: r.metrics, wallMs: r.wallMs, stderr: r.stderr });
      bar.increment();
    }
  }
}
bar.stop();

const seconds = (Date.now() - t0) / 1000;
const meta = { started: new Date(t0).toISOString(), mode, reps, seconds, machine, nice: niceApplied, notes };
const summary = summarize(cases, contenders, runs);
const checks = targetChecks(summary, contenders);
const md = markdown({ cases, contenders, summary, meta, checks });
const name = mode === 'quick' ? 'quick' : 'latest';
const rawFile = join(resultsDir, `raw-${stamp}.json`);
writeFileSync(rawFile, `${JSON.stringify({ meta, cases, contenders, runs, summary, checks }, null, 1)}\n`);
writeFileSync(join(resultsDir, `${name}.md`), `${md}\n`);
writeFileSync(join(resultsDir, `${name}.svg`), `${svg({ cases, contenders, summary, meta })}\n`);
console.log(`\n${md}\n`);
const missed = checks.filter((x) => !x.met);
console.log(`targets: ${checks.length - missed.length}/${checks.length} met${missed.length ? `; missed: ${missed.map((m) => `${m.contender} ${m.label} ${fmtAgainst(m.value, m.limit)} > ${m.limit}`).join('; ')}` : ''}`);
console.log(`wrote ${[rawFile, join(resultsDir, `${name}.md`), join(resultsDir, `${name}.svg`)].map((f) => relative(process.cwd(), f)).join(', ')}`);
const oursFailed = runs.filter((r) => r.contender.startsWith('cw-') && !r.ok);
if (oursFailed.length) {
  console.error(`bench: ${oursFailed.length} childwatch run(s) failed a correctness check`);
  process.exitCode = 1;
}
