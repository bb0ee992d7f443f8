// The same core loaded as a WebAssembly component through jco: `jco transpile` turns
// childwatch/core.wasm (the component) into JavaScript that lifts and lowers the WIT types for
// you (records as objects, enums as strings, u64 as BigInt). At the command line:
//   npx jco transpile node_modules/childwatch/build/core.component.wasm -o core-js --instantiation sync
// Here the same step runs through jco's JavaScript API, into a temporary folder.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transpile } from '@bytecodealliance/jco';
import { SimKernel } from 'childwatch/sim';

const component = readFileSync(fileURLToPath(import.meta.resolve('childwatch/core.wasm')));
const { files } = await transpile(component, { name: 'core', instantiation: 'sync' });
const out = mkdtempSync(join(tmpdir(), 'childwatch-jco-'));
for (const [name, data] of Object.entries(files)) {
  mkdirSync(dirname(join(out, name)), { recursive: true });
  writeFileSync(join(out, name), data);
}
const { instantiate } = await import(pathToFileURL(join(out, 'core.js')).href);

// The host interface in jco's shape: camelCase names, a wait-result is returned as an object.
const kernel = new SimKernel();
const rec = { status: 0, userMicros: 0, systemMicros: 0, maxRssKiB: 0 };
const waitResult = (pid) => (pid > 0
  ? { pid, status: rec.status, userMicros: BigInt(rec.userMicros), systemMicros: BigInt(rec.systemMicros), maxRssKib: BigInt(rec.maxRssKiB) }
  : { pid, status: 0, userMicros: 0n, systemMicros: 0n, maxRssKib: 0n });
const REPORTS = ['unknown-child-status', 'pidfd-status-already-read', 'fast-unknown-pid',
  'fast-unknown-pids-item', 'fast-unknown-pids-end', 'fast-zombie-kept', 'detach-with-pending',
  'pidfd-fallback-to-thread', 'host-error'];
const host = {
  waitPid: (pid) => waitResult(kernel.waitPid(pid, rec)),
  waitAny: () => waitResult(kernel.waitAny(rec)),
  peekExited: () => kernel.peekExited(),
  pidfdOpen: (pid) => kernel.pidfdOpen(pid),
  watchPidfd: (w, pid, fd) => kernel.watchPidfd(w, pid, fd),
  pidfdClose: (fd) => kernel.pidfdClose(fd),
  subscribeSigchld: (w, loop) => kernel.subscribeSigchld(w, loop),
  unsubscribeSigchld: (w) => kernel.unsubscribeSigchld(w),
  startWaiter: (w, pid) => kernel.startWaiter(w, pid),
  report: (code, w, pid, value) => kernel.report(REPORTS.indexOf(code), w, pid, value),
};
const { watcher } = instantiate((path) => new WebAssembly.Module(readFileSync(join(out, path))),
  { 'childwatch:core/host': host });

kernel.attach({
  onSigchld: (w) => watcher.onSigchld(w),
  onSigchldSettled: (w) => watcher.onSigchldSettled(w),
  onPidfdReady: (w, pid) => watcher.onPidfdReady(w, pid),
  onWaiterDone: (w, pid, result, r) => watcher.onWaiterDone(w, pid, {
    pid: result, status: r.status, userMicros: BigInt(r.userMicros), systemMicros: BigInt(r.systemMicros),
    maxRssKib: BigInt(r.maxRssKiB),
  }),
});

for (const strategy of ['threaded', 'multi-loop', 'safe', 'fast', 'pidfd']) {
  const w = watcher.create(strategy);
  watcher.attachLoop(w, 1);
  const [a, b] = kernel.spawnMany(2);
  watcher.enter(w);
  watcher.addChild(w, a, 1, 1);
  watcher.addChild(w, b, 2, 1);
  watcher.exit(w);
  kernel.exit(a, 7);
  kernel.kill(b, 15);
  kernel.notify();
  const events = [];
  while (watcher.pendingExits() > 0) {
    const e = watcher.popExit(); // an object: { watcher, token, loop, pid, returncode, ... }
    events.push(`token ${e.token}: returncode ${e.returncode}, signal ${e.signal}`);
  }
  console.log(`${strategy.padEnd(10)} ${events.sort().join('; ')}`);
  watcher.destroy(w);
}
rmSync(out, { recursive: true, force: true });
