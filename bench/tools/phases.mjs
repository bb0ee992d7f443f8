// Where one spawn+wait of /usr/bin/true goes, phase by phase (medians over N children), for one
// childwatch watcher, with K sleeping children watched meanwhile (W1 when K = 0, W3 otherwise):
//
//   pre-spawn JS    createSubprocessExec() up to the addon's spawn call (argument checks, env)
//   spawn call      addon.spawnv: clone (or posix_spawn), which returns once the child has exec'd (vfork)
//   post-spawn JS   from there until createSubprocessExec() resolves (registration, Process)
//   wait-to-ready   until the host hears of the exit (Pidfd only: its pidfd became readable)
//   ready-to-done   from there until wait() resolves (reap, dispatch, loop hop, promise)
//
// Usage: node bench/tools/phases.mjs [pidfd|fast|safe|threaded|multiloop] [N] [K]
// It wraps the addon's exports (a copy of the module object, made at load) to time them; the
// numbers are indicative (the clock reads cost ~0.1 us each), not a benchmark result.
const [kind = 'pidfd', nArg = '500', kArg = '0'] = process.argv.slice(2);
const N = Number(nArg);
const K = Number(kArg);

const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  const r = dlopen.call(this, module, filename, ...rest);
  if (filename.endsWith('childwatch.node')) module.exports = { ...module.exports };
  return r;
};
const cw = await import('../../dist/ts-bindings/index.js');
const { addon } = await import('../../dist/host/addon.js');
const { NodeHost } = await import('../../dist/host/node-host.js');

const now = () => Number(process.hrtime.bigint()) / 1e3;
const calls = {};
const wrap = (name) => {
  const f = addon[name];
  addon[name] = function (...a) {
    const t = now();
    try {
      return f.apply(this, a);
    } finally {
      (calls[name] ??= []).push(now() - t);
    }
  };
};
for (const name of ['pidfdOpen', 'pollFd', 'waitPid', 'waitAny', 'close', 'startWaiter']) wrap(name);
let spawnStart = 0;
let spawnEnd = 0;
const spawn = addon.spawnv;
addon.spawnv = function (...a) {
  spawnStart = now();
  const r = spawn.apply(this, a);
  spawnEnd = now();
  return r;
};
let ready = 0;
const onReady = NodeHost.prototype.onPidfdSetReady;
NodeHost.prototype.onPidfdSetReady = function (...a) {
  ready = now();
  return onReady.apply(this, a);
};

const { makeWatcherByName } = await import('../../dist/ts-bindings/watchers/by-name.js');
const watcher = makeWatcherByName(kind);
cw.setChildWatcher(watcher);
const nulls = { stdin: cw.DEVNULL, stdout: cw.DEVNULL, stderr: cw.DEVNULL };
const med = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length ? v[v.length >> 1].toFixed(1) : '-';
};

await cw.run(async () => {
  if (kind === 'multiloop') watcher.attachLoop(cw.getRunningLoop());
  const sleepers = [];
  for (let i = 0; i < K; i++) sleepers.push(await cw.createSubprocessExec('/usr/bin/sleep', ['1000'], nulls));
  for (let i = 0; i < 20; i++) await (await cw.createSubprocessExec('/usr/bin/true', [], nulls)).wait();
  for (const k of Object.keys(calls)) delete calls[k];
  const rows = [];
  const t00 = now();
  for (let i = 0; i < N; i++) {
    ready = 0;
    const t0 = now();
    const p = await cw.createSubprocessExec('/usr/bin/true', [], nulls);
    const t1 = now();
    await p.wait();
    const t2 = now();
    rows.push([spawnStart - t0, spawnEnd - spawnStart, t1 - spawnEnd, ready ? ready - t1 : NaN, ready ? t2 - ready : NaN, t2 - t0]);
  }
  const perChild = (now() - t00) / N;
  for (const s of sleepers) s.kill();
  await Promise.all(sleepers.map((s) => s.wait()));
  const col = (i) => med(rows.map((r) => r[i]));
  console.log(`${kind}, K=${K}: ${perChild.toFixed(1)} us per child; medians: pre-spawn JS ${col(0)}, spawn call ${col(1)}, `
    + `post-spawn JS ${col(2)}, wait-to-ready ${col(3)}, ready-to-done ${col(4)}, whole ${col(5)}`);
  console.log(`addon calls (median us, calls per child): ${Object.entries(calls).map(([k, v]) => `${k} ${med(v)} x${(v.length / N).toFixed(1)}`).join(', ')}`);
});
