// A complete host for the watcher core, with SimKernel as its kernel: WebAssembly.instantiate,
// the canonical-ABI glue for the WIT `host` imports, and the embedder's side of the exports.
import { readFile } from 'node:fs/promises';
import { SimKernel } from 'childwatch/sim';

const HOST = 'childwatch:core/host@0.1.0';       // the interface the core imports
const WATCHER = 'childwatch:core/watcher@0.1.0'; // the interface it exports
const STRATEGIES = ['threaded', 'multi-loop', 'safe', 'fast', 'pidfd']; // WIT enum order
const LOOP = 1; // loops and tokens are numbers the embedder chooses (0 means none)

// The core module (childwatch/core.wasm is the same core wrapped as a component).
const bytes = await readFile(new URL('build/core.wasm', import.meta.resolve('childwatch/package.json')));

const kernel = new SimKernel(); // implements waitPid(pid, out), pidfdOpen(pid), ... in JavaScript
let memory;                     // the core's memory, once instantiated
const rec = { status: 0, userMicros: 0, systemMicros: 0, maxRssKiB: 0 };

// wait-pid / wait-any return a wait-result record: the core passes a pointer to 32 bytes.
function writeWaitResult(retptr, pid) {
  const dv = new DataView(memory.buffer);
  const [status, user, system, rss] = pid > 0 ? [rec.status, rec.userMicros, rec.systemMicros, rec.maxRssKiB] : [0, 0, 0, 0];
  dv.setInt32(retptr, pid, true);
  dv.setInt32(retptr + 4, status, true);
  [user, system, rss].forEach((v, i) => dv.setBigUint64(retptr + 8 + 8 * i, BigInt(v), true));
}

const imports = {
  [HOST]: { // u32 parameters arrive as i32: `>>> 0` makes them unsigned again
    'wait-pid': (pid, retptr) => writeWaitResult(retptr >>> 0, kernel.waitPid(pid, rec)),
    'wait-any': (retptr) => writeWaitResult(retptr >>> 0, kernel.waitAny(rec)),
    'peek-exited': () => kernel.peekExited(),
    'pidfd-open': (pid) => kernel.pidfdOpen(pid),
    'watch-pidfd': (w, pid, fd) => kernel.watchPidfd(w >>> 0, pid, fd),
    'pidfd-close': (fd) => kernel.pidfdClose(fd),
    'subscribe-sigchld': (w, loop) => kernel.subscribeSigchld(w >>> 0, loop >>> 0),
    'unsubscribe-sigchld': (w) => kernel.unsubscribeSigchld(w >>> 0),
    'start-waiter': (w, pid) => kernel.startWaiter(w >>> 0, pid),
    'report': (code, w, pid, value) => kernel.report(code, w >>> 0, pid, value),
  },
};

const { instance } = await WebAssembly.instantiate(bytes, imports);
memory = instance.exports.memory;
instance.exports._initialize(); // run the module's start code once, before any other call
const fn = (name) => instance.exports[`${WATCHER}#${name}`];

// The exports the kernel calls when something happens, and the exit queue.
const core = {
  onSigchld: (w) => fn('on-sigchld')(w),
  onPidfdReady: (w, pid) => fn('on-pidfd-ready')(w, pid),
  onWaiterDone: (w, pid, result, r) => fn('on-waiter-done')(w, pid, result, r.status,
    BigInt(r.userMicros), BigInt(r.systemMicros), BigInt(r.maxRssKiB)),
  pendingExits: () => fn('pending-exits')() >>> 0,
  popExit(out) { // pop-exit returns a pointer to a 64-byte exit-event
    const p = fn('pop-exit')() >>> 0;
    const dv = new DataView(memory.buffer);
    const u64 = (at) => Number(dv.getBigUint64(p + at, true));
    Object.assign(out, {
      watcher: dv.getUint32(p, true), token: dv.getUint32(p + 4, true), loop: dv.getUint32(p + 8, true),
      pid: dv.getInt32(p + 12, true), returncode: dv.getInt32(p + 16, true),
      statusKnown: dv.getUint8(p + 20) !== 0, exitCode: dv.getInt32(p + 24, true),
      signal: dv.getInt32(p + 28, true), coreDumped: dv.getUint8(p + 32) !== 0,
      userMicros: u64(40), systemMicros: u64(48), maxRssKiB: u64(56),
    });
  },
};
kernel.attach(core);

// The embedder maps tokens to callbacks (the core only knows numbers).
const callbacks = new Map();
let nextToken = 1;
function addChildHandler(w, pid, callback) {
  const token = nextToken++;
  callbacks.set(token, callback);
  fn('enter')(w); // Fast insists on the bracket; the others ignore it
  const rc = fn('add-child')(w, pid, token, LOOP);
  fn('exit')(w);
  if (rc < 0) throw new Error(`add-child(${pid}) failed: ${rc}`);
}
function dispatch(out = {}) { // reap first (kernel.notify), then run the callbacks
  while (core.pendingExits() > 0) {
    core.popExit(out);
    callbacks.get(out.token)?.(out.pid, out.returncode, out);
    callbacks.delete(out.token);
  }
}

for (const [kind, strategy] of STRATEGIES.entries()) {
  const w = fn('create')(kind) >>> 0;
  fn('attach-loop')(w, LOOP); // Safe and Fast need a loop; MultiLoop subscribes to SIGCHLD
  const [a, b, c] = kernel.spawnMany(3);
  const seen = [];
  for (const pid of [a, b, c]) addChildHandler(w, pid, (p, rc) => seen.push(`${p - a}:${rc}`));
  kernel.exit(a, 0); kernel.exit(b, 3); kernel.kill(c, 9); // three exits, one coalesced SIGCHLD
  kernel.notify(); // let the kernel tell the core: SIGCHLD, pidfds, waiter threads
  dispatch();
  console.log(`${strategy.padEnd(10)} ${seen.sort().join(' ')}  zombies left: ${kernel.zombies().length}`);
  fn('destroy')(w); // releases what the watcher holds (pidfds, SIGCHLD subscription)
}
