// W1 (sequential spawn + await of /usr/bin/true) at three depths of the library, to see what each
// layer adds per child, in wall time and in the parent's CPU (user + system, process.cpuUsage):
//
//   addon       the least a Node program can do: the addon's spawnv (with CLONE_PIDFD), the pidfd
//               in one epoll set (addon.pidfdSet), waitPidfd + remove when it is readable, and a
//               promise per child. No wasm core, no asyncio loop.
//   watcher     spawnv + PidfdChildWatcher.addChildHandler inside run(): the wasm core, the Node
//               host, the runtime's dispatch and the loop's callSoonThreadsafe delivery.
//   subprocess  createSubprocessExec + wait() inside run(), as bench/worker.mjs does (Pidfd).
//
// Each level runs in a fresh process (this script starts itself once per level and repetition,
// levels interleaved), with the C floor (bench/.build/floor, built by `npm run bench`) when it is
// there. Medians over the repetitions.
//
// Usage: node bench/tools/layers.mjs [N=1000] [reps=3]
//        node bench/tools/layers.mjs --level addon|watcher|subprocess N   (one run, prints JSON)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TRUE_BIN } from '../lib/workloads.mjs';

const WARMUP = 20;
const self = fileURLToPath(import.meta.url);
const floorBin = fileURLToPath(new URL('../.build/floor', import.meta.url));

async function measure(n, once) {
  for (let i = 0; i < WARMUP; i++) await once();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const rc = await once();
    if (rc !== 0) throw new Error(`child ${i}: returncode ${rc}`);
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  const cpu = process.cpuUsage(c0);
  return { wallUs: wall / n, cpuUs: (cpu.user + cpu.system) / n };
}

async function runLevel(level, n) {
  const { addon } = await import('../../dist/host/addon.js');
  const { STDIO_CODE, SPAWNV_PIDFD } = await import('../../dist/host/spawn.js');
  const out = new Int32Array(5);
  const argv = [TRUE_BIN];
  const DEVNULL = STDIO_CODE.null;
  const spawn = (flags) => {
    const r = addon.spawnv(TRUE_BIN, argv, null, null, DEVNULL, DEVNULL, DEVNULL, flags, -1, out);
    if (r !== 0) throw new Error(`spawnv: ${r.code}`);
  };
  if (level === 'addon') {
    const rec = new Float64Array(5);
    const ids = new Int32Array(64);
    let settle = null;
    const set = addon.pidfdSet(ids, (count) => {
      for (let i = 0; i < count; i++) {
        const status = addon.waitPidfd(ids[i], rec) > 0 ? rec[1] : -1;
        set.remove(ids[i]);
        const s = settle;
        settle = null;
        s(status === 0 ? 0 : 1);
      }
    });
    set.ref();
    const once = () => {
      spawn(SPAWNV_PIDFD);
      set.add(out[1], out[1]);
      return new Promise((resolve) => { settle = resolve; });
    };
    try {
      return await measure(n, once);
    } finally {
      set.close();
    }
  }
  const cw = await import('../../dist/ts-bindings/index.js');
  const watcher = new cw.PidfdChildWatcher();
  cw.setChildWatcher(watcher);
  const nulls = { stdin: cw.DEVNULL, stdout: cw.DEVNULL, stderr: cw.DEVNULL };
  const once = level === 'watcher'
    ? () => {
      spawn(0);
      return new Promise((resolve) => watcher.addChildHandler(out[0], (_pid, rc) => resolve(rc)));
    }
    : async () => (await cw.createSubprocessExec(TRUE_BIN, [], nulls)).wait();
  return cw.run(() => measure(n, once));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const args = process.argv.slice(2);
if (args[0] === '--level') {
  console.log(JSON.stringify(await runLevel(args[1], Number(args[2] ?? 1000))));
} else {
  const n = Number(args[0] ?? 1000);
  const reps = Number(args[1] ?? 3);
  const levels = ['addon', 'watcher', 'subprocess'];
  const results = Object.fromEntries([...levels, 'floor'].map((l) => [l, []]));
  for (let r = 0; r < reps; r++) {
    if (existsSync(floorBin)) {
      const f = spawnSync(floorBin, ['W1', String(n), String(WARMUP)], { encoding: 'utf8' });
      const m = /"time_us":([\d.]+),"cpu_us":([\d.]+)/.exec(f.stdout ?? '');
      if (m) results.floor.push({ wallUs: Number(m[1]) / n, cpuUs: Number(m[2]) / n });
    }
    for (const level of levels) {
      const p = spawnSync(process.execPath, [self, '--level', level, String(n)], { encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`${level}: ${p.stderr}`);
      results[level].push(JSON.parse(p.stdout.trim().split('\n').pop()));
    }
    process.stderr.write(`repetition ${r + 1}/${reps}\n`);
  }
  const floorWall = results.floor.length > 0 ? median(results.floor.map((x) => x.wallUs)) : NaN;
  console.log(`W1 by layer, ${n} children after ${WARMUP} warm-up, medians of ${reps} (us per child)`);
  console.log('| level | wall | CPU | wall / floor |\n|---|---:|---:|---:|');
  for (const level of ['floor', ...levels]) {
    if (results[level].length === 0) continue;
    const wall = median(results[level].map((x) => x.wallUs));
    const cpu = median(results[level].map((x) => x.cpuUs));
    console.log(`| ${level} | ${wall.toFixed(1)} | ${cpu.toFixed(1)} | ${(wall / floorWall).toFixed(3)} |`);
  }
}
