// The public watcher classes driven by SimKernel (useSimKernel): no real processes, exact
// interleavings, the same callbacks and messages as on the Node host.
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import {
  FastChildWatcher, MultiLoopChildWatcher, PidfdChildWatcher, SafeChildWatcher, ThreadedChildWatcher,
  newEventLoop, setLogger, useSimKernel, type AbstractChildWatcher, type AbstractEventLoop,
} from '../../ts-bindings/index.js';
import { SimKernel } from '../../host/sim/index.js';

const KINDS = {
  threaded: () => new ThreadedChildWatcher(),
  multiloop: () => new MultiLoopChildWatcher(),
  safe: () => new SafeChildWatcher(),
  fast: () => new FastChildWatcher(),
  pidfd: () => new PidfdChildWatcher(),
} as const;

let kernel: SimKernel;
let loop: AbstractEventLoop;
let logs: string[];

beforeEach(() => {
  // Waiter threads finish when the test says (notify), so a status can be stolen before.
  kernel = new SimKernel({ autoFinishWaiters: false });
  useSimKernel(kernel);
  loop = newEventLoop();
  logs = [];
  setLogger({ warning: (m) => { logs.push(m); }, debug: () => {} });
});

afterEach(() => {
  useSimKernel(null);
  setLogger(null);
  loop.close();
});

describe.each(Object.keys(KINDS) as Array<keyof typeof KINDS>)('%s watcher on SimKernel', (kind) => {
  function make(): AbstractChildWatcher {
    const w = KINDS[kind]();
    if (kind !== 'threaded' && kind !== 'pidfd') w.attachLoop(loop);
    return w;
  }

  it('reports two exits coalesced into one SIGCHLD, each once, with its code', async () => {
    const got: Array<[number, number]> = [];
    await loop.runUntilComplete(async () => {
      const w = make();
      const [a, b] = kernel.spawnMany(2);
      w.enter();
      w.addChildHandler(a!, (pid, rc) => { got.push([pid, rc]); });
      w.addChildHandler(b!, (pid, rc) => { got.push([pid, rc]); });
      w.exit();
      kernel.exit(a!, 3);
      kernel.kill(b!, 9);
      kernel.notify();
      for (let i = 0; i < 5 && got.length < 2; i++) await new Promise((r) => setImmediate(r));
    });
    expect(got.sort((x, y) => x[0] - y[0])).toEqual([[100, 3], [101, -9]]);
    expect(kernel.zombies()).toEqual([]);
  });

  it('logs the CPython warning when the status was taken by someone else', async () => {
    const got: number[] = [];
    await loop.runUntilComplete(async () => {
      const w = make();
      const pid = kernel.spawn();
      w.enter();
      w.addChildHandler(pid, (_p, rc) => { got.push(rc); });
      w.exit();
      kernel.exit(pid, 0);
      kernel.reapElsewhere(pid);
      if (kind === 'threaded') kernel.finishWaiters();
      kernel.notify();
      kernel.deliverSigchld(true);
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    });
    if (kind === 'fast') {
      expect(got).toEqual([]); // wait(-1) never sees a child reaped elsewhere (as in CPython)
    } else {
      expect(got).toEqual([255]);
      expect(logs).toContain(kind === 'pidfd'
        ? 'child process pid 100 exit status already read:  will report returncode 255'
        : 'Unknown child process pid 100, will report returncode 255');
    }
  });
});
