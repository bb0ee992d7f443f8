// W1 as a curve: sequential createSubprocessExec + wait() of /usr/bin/true inside run() (as
// bench/worker.mjs does), timed in blocks of B children after the same 20-child warm-up, to see
// how the cost per child changes while V8 tiers the library's code up (Sparkplug, then TurboFan
// after some 1000-2000 children on Node 20). Prints, per block, wall time / process CPU (all
// threads: TurboFan compiles on background threads) in us per child, then the C floor's W1 over
// the same N (bench/.build/floor, built by `npm run bench`) for reference.
//
// Usage: node bench/tools/warmup-curve.mjs [watcher=Pidfd] [N=3000] [B=250]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TRUE_BIN } from '../lib/workloads.mjs';

const [kind = 'Pidfd', nArg = '3000', bArg = '250'] = process.argv.slice(2);
const N = Number(nArg);
const B = Number(bArg);
const cw = await import('../../dist/ts-bindings/index.js');
const Watcher = cw[`${kind}ChildWatcher`];
if (typeof Watcher !== 'function') throw new Error(`unknown watcher ${kind} (Pidfd, Fast, Threaded, Safe, MultiLoop)`);
const watcher = new Watcher();
cw.setChildWatcher(watcher);
const nulls = { stdin: cw.DEVNULL, stdout: cw.DEVNULL, stderr: cw.DEVNULL };
const blocks = [];
await cw.run(async () => {
  if (kind === 'MultiLoop') watcher.attachLoop(cw.getRunningLoop());
  const one = async () => {
    const p = await cw.createSubprocessExec(TRUE_BIN, [], nulls);
    if ((await p.wait()) !== 0) throw new Error(`pid ${p.pid}: returncode ${p.returncode}`);
  };
  for (let i = 0; i < 20; i++) await one();
  for (let b = 0; b < Math.floor(N / B); b++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < B; i++) await one();
    const c = process.cpuUsage(c0);
    blocks.push(`${(Number(process.hrtime.bigint() - t0) / 1e3 / B).toFixed(0)}/${((c.user + c.system) / B).toFixed(0)}`);
  }
});
console.log(`${kind} on Node ${process.version}, per block of ${B} (wall/CPU us per child): ${blocks.join(' ')}`);
const floor = fileURLToPath(new URL('../.build/floor', import.meta.url));
if (existsSync(floor)) {
  const r = spawnSync(floor, ['W1', String(N), '20'], { encoding: 'utf8' });
  const m = /"time_us":([0-9.]+)/.exec(r.stdout);
  if (m) console.log(`C floor W1 over ${N}: ${(Number(m[1]) / N).toFixed(0)} us per child`);
}
