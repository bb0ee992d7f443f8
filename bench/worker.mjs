// One benchmark case in a fresh Node process: `node bench/worker.mjs <contender> <case-json>`.
//
// Contenders: cw-pidfd, cw-threaded, cw-safe, cw-fast, cw-multiloop (childwatch's watchers through
// createSubprocessExec inside run(), from dist/) and node (child_process.spawn awaiting 'exit',
// 'close' when capturing). The workloads are written once over a tiny `ops` interface that each
// contender implements; every exit status and every captured byte is checked, and at the end no
// child of this process may be left in /proc (alive or zombie).
//
// Prints `@@RESULT {"ok", "errors", "metrics"}` as its last line.
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { childrenOf, openFds, selfStatus } from './lib/proc.mjs';
import { TRUE_BIN, SLEEP_BIN, ECHO_BIN, payloadOf, percentile } from './lib/workloads.mjs';

const [contender, caseJson] = process.argv.slice(2);
const spec = JSON.parse(caseJson);
const errors = [];
let errorCount = 0;
function fail(msg) {
  if (++errorCount <= 20) errors.push(msg);
}
const gc = globalThis.gc ?? (() => {});
const nowUs = () => Number(process.hrtime.bigint()) / 1e3;
const cpuUs = () => { const u = process.cpuUsage(); return u.user + u.system; };

// -- contenders -------------------------------------------------------------------------------
// ops.true(): spawn /usr/bin/true, await its exit, return the returncode (Python convention).
// ops.sleeper(): spawn `sleep 1000`; returns { kill(), wait(): Promise<returncode> }.
// ops.echo(payload): spawn `echo -n payload` with stdout captured; returns [returncode, Buffer].

async function childwatchOps(kind) {
  const cw = await import('../dist/ts-bindings/index.js');
  const { createSubprocessExec, DEVNULL, PIPE } = cw;
  const Watcher = {
    'cw-pidfd': cw.PidfdChildWatcher, 'cw-threaded': cw.ThreadedChildWatcher, 'cw-safe': cw.SafeChildWatcher,
    'cw-fast': cw.FastChildWatcher, 'cw-multiloop': cw.MultiLoopChildWatcher,
  }[kind];
  if (Watcher === undefined) throw new Error(`unknown contender ${kind}`);
  const watcher = new Watcher();
  cw.setChildWatcher(watcher);
  const nulls = { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL };
  const checkInfo = (p) => {
    if (p.exitInfo === null || !p.exitInfo.statusKnown) fail(`pid ${p.pid}: exitInfo ${JSON.stringify(p.exitInfo)}`);
  };
  const ops = {
    async true() {
      const p = await createSubprocessExec(TRUE_BIN, [], nulls);
      const rc = await p.wait();
      checkInfo(p);
      return rc;
    },
    async sleeper() {
      const p = await createSubprocessExec(SLEEP_BIN, ['1000'], nulls);
      return { pid: p.pid, kill: () => p.kill(), wait: () => p.wait().then((rc) => { checkInfo(p); return rc; }) };
    },
    async echo(payload) {
      const p = await createSubprocessExec(ECHO_BIN, ['-n', payload], { stdin: DEVNULL, stdout: PIPE, stderr: DEVNULL });
      const [out] = await p.communicate();
      checkInfo(p);
      return [p.returncode, out];
    },
  };
  return {
    ops,
    run: (body) => cw.run(async () => {
      if (kind === 'cw-multiloop') watcher.attachLoop(cw.getRunningLoop());
      return body();
    }),
  };
}

function nodeOps() {
  const rcOf = (code, signal) => (signal ? -(osConstants.signals[signal] ?? 0) : code);
  const exited = (cp, ev) => new Promise((resolve, reject) => {
    cp.once('error', reject);
    cp.once(ev, (code, signal) => resolve(rcOf(code, signal)));
  });
  const ops = {
    true() {
      return exited(spawn(TRUE_BIN, [], { stdio: 'ignore' }), 'exit');
    },
    async sleeper() {
      const cp = spawn(SLEEP_BIN, ['1000'], { stdio: 'ignore' });
      const done = exited(cp, 'exit');
      return { pid: cp.pid, kill: () => cp.kill('SIGKILL'), wait: () => done };
    },
    async echo(payload) {
      const cp = spawn(ECHO_BIN, ['-n', payload], { stdio: ['ignore', 'pipe', 'ignore'] });
      const chunks = [];
      cp.stdout.on('data', (c) => chunks.push(c));
      const rc = await exited(cp, 'close');
      return [rc, Buffer.concat(chunks)];
    },
  };
  return { ops, run: (body) => body() };
}

// -- workloads --------------------------------------------------------------------------------

async function warm(ops, n, what = 'true') {
  for (let i = 0; i < n; i++) {
    if (what === 'echo') {
      const [rc, out] = await ops.echo('warm');
      if (rc !== 0 || out.toString() !== 'warm') fail(`warm-up echo: rc ${rc}, ${out.length} bytes`);
    } else {
      const rc = await ops.true();
      if (rc !== 0) fail(`warm-up true: rc ${rc}`);
    }
  }
}

async function sequentialTrue(ops, n) {
  const c0 = cpuUs();
  const t0 = nowUs();
  for (let i = 0; i < n; i++) {
    const rc = await ops.true();
    if (rc !== 0) fail(`true #${i}: returncode ${rc}`);
  }
  return { time_us: nowUs() - t0, cpu_us: cpuUs() - c0, n };
}

async function startSleepers(ops, k) {
  const sleepers = [];
  for (let i = 0; i < k; i++) sleepers.push(await ops.sleeper());
  return sleepers;
}

async function stopSleepers(sleepers) {
  for (const s of sleepers) s.kill();
  const rcs = await Promise.all(sleepers.map((s) => s.wait()));
  rcs.forEach((rc, i) => { if (rc !== -9) fail(`sleeper ${sleepers[i].pid}: returncode ${rc}, wanted -9`); });
}

const workloads = {
  async W1(ops, p) {
    await warm(ops, p.warmup);
    return sequentialTrue(ops, p.n);
  },
  async W2(ops, p) {
    await warm(ops, p.warmup);
    let next = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    let done = 0;
    const c0 = cpuUs();
    const t0 = nowUs();
    const lane = async () => {
      while (next < p.n) {
        const i = next++;
        inFlight++;
        if (inFlight > maxInFlight) maxInFlight = inFlight;
        const rc = await ops.true();
        inFlight--;
        done++;
        if (rc !== 0) fail(`true #${i}: returncode ${rc}`);
      }
    };
    await Promise.all(Array.from({ length: p.inflight }, lane));
    const time = nowUs() - t0;
    if (done !== p.n) fail(`W2: ${done} of ${p.n} children finished`);
    if (maxInFlight > p.inflight) fail(`W2: ${maxInFlight} in flight, limit ${p.inflight}`);
    return { time_us: time, cpu_us: cpuUs() - c0, n: p.n, inflight: p.inflight, max_inflight: maxInFlight };
  },
  async W3(ops, p) {
    await warm(ops, p.warmup);
    const s0 = nowUs();
    const sleepers = await startSleepers(ops, p.k);
    const setup = nowUs() - s0;
    const fds = openFds(); // every open fd is copied into each child at spawn (no CLONE_FILES)
    const m = await sequentialTrue(ops, p.n);
    await stopSleepers(sleepers);
    return { ...m, k: p.k, setup_us: setup, fds };
  },
  async W4(ops, p) {
    for (let i = 0; i < p.warmup; i++) {
      const s = await ops.sleeper();
      s.kill();
      const rc = await s.wait();
      if (rc !== -9) fail(`warm-up sleeper: returncode ${rc}`);
    }
    const lat = [];
    for (let i = 0; i < p.n; i++) {
      const s = await ops.sleeper();
      const t0 = nowUs();
      s.kill();
      const rc = await s.wait();
      lat.push(nowUs() - t0);
      if (rc !== -9) fail(`sleeper ${s.pid}: returncode ${rc}, wanted -9`);
    }
    lat.sort((a, b) => a - b);
    return { p50_us: percentile(lat, 0.5), p99_us: percentile(lat, 0.99), n: p.n };
  },
  async W5(ops, p) {
    await warm(ops, p.warmup);
    gc();
    await new Promise((r) => setImmediate(r));
    const before = selfStatus();
    const heap0 = process.memoryUsage().heapUsed;
    const s0 = nowUs();
    const half = p.k >> 1;
    const sleepers = await startSleepers(ops, half);
    await new Promise((r) => setImmediate(r));
    gc();
    const middle = selfStatus();
    sleepers.push(...await startSleepers(ops, p.k - half));
    const setup = nowUs() - s0;
    await new Promise((r) => setImmediate(r));
    gc();
    const after = selfStatus();
    const heap1 = process.memoryUsage().heapUsed;
    await stopSleepers(sleepers);
    return {
      kib_per_child: (after.rssKiB - before.rssKiB) / p.k, rss0_kib: before.rssKiB, rss1_kib: after.rssKiB,
      // Diagnostics: the second half's growth alone (fixed costs such as V8 growing its young
      // generation fall mostly in one half), and the JavaScript heap's share.
      kib_per_child_2nd_half: (after.rssKiB - middle.rssKiB) / (p.k - half),
      heap_kib_per_child: (heap1 - heap0) / 1024 / p.k,
      threads0: before.threads, threads: after.threads, k: p.k, setup_us: setup,
    };
  },
  async W6(ops, p) {
    const payload = payloadOf(p.bytes);
    await warm(ops, p.warmup, 'echo');
    const c0 = cpuUs();
    const t0 = nowUs();
    for (let i = 0; i < p.n; i++) {
      const [rc, out] = await ops.echo(payload);
      if (rc !== 0) fail(`echo #${i}: returncode ${rc}`);
      if (out.length !== payload.length || out.toString('latin1') !== payload) {
        fail(`echo #${i}: captured ${out.length} bytes, wanted ${payload.length} (or they differ)`);
      }
    }
    return { time_us: nowUs() - t0, cpu_us: cpuUs() - c0, n: p.n, bytes: p.bytes };
  },
  async W7(ops, p) {
    // The ballast: p.heapMiB MiB of JavaScript heap (arrays of doubles, 512 KiB each, so no single
    // object is special), live for the whole timed section.
    const ballast = [];
    const per = 65536;
    for (let i = 0; i < (p.heapMiB * 131072) / per; i++) ballast.push(new Array(per).fill(i + 0.5));
    const heap = getHeapStatistics().used_heap_size / 2 ** 20;
    if (heap < p.heapMiB * 0.95) fail(`W7: JS heap is ${heap.toFixed(0)} MiB, wanted ${p.heapMiB}`);
    await warm(ops, p.warmup);
    const m = await sequentialTrue(ops, p.n);
    const { rssKiB } = selfStatus();
    if (ballast.length === 0) fail('no ballast');
    return { ...m, heap_mib: Math.round(heap), rss_kib: rssKiB };
  },
};

// -- main -------------------------------------------------------------------------------------

let metrics = {};
try {
  const { ops, run } = contender === 'node' ? nodeOps() : await childwatchOps(contender);
  const body = workloads[spec.workload];
  if (body === undefined) throw new Error(`unknown workload ${spec.workload}`);
  metrics = await run(() => body(ops, spec.params));
} catch (err) {
  fail(`exception: ${err?.stack ?? err}`);
}
// Every child must be gone by now, reaped by the contender: none alive, none a zombie.
for (const c of childrenOf(process.pid)) fail(`child ${c.pid} (${c.comm}) left in /proc, state ${c.state}`);
process.stdout.write(`@@RESULT ${JSON.stringify({ ok: errorCount === 0, errorCount, errors, metrics })}\n`);
