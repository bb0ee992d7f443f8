// Watchers inside worker_threads Workers. Each thread has its own copy of the library: its own
// policy, loops and watcher (Python shares one policy between threads; JavaScript objects cannot
// cross threads). Threaded, MultiLoop and Pidfd work in a Worker; Safe and Fast need the main
// thread's signal handling and refuse to attach there.
import { Worker, isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';
import { once } from 'node:events';
import {
  FastChildWatcher, MultiLoopChildWatcher, PidfdChildWatcher, SafeChildWatcher, ThreadedChildWatcher,
  canUsePidfd, createSubprocessExec, getChildWatcher, getRunningLoop, run, setChildWatcher,
} from 'childwatch';

const WATCHERS = {
  threaded: ThreadedChildWatcher, multiloop: MultiLoopChildWatcher, pidfd: PidfdChildWatcher,
  safe: SafeChildWatcher, fast: FastChildWatcher,
};

if (isMainThread) {
  // The main thread keeps its own default watcher while the Workers run theirs.
  const kinds = ['threaded', 'multiloop', ...(canUsePidfd() ? ['pidfd'] : []), 'safe', 'fast'];
  const workers = kinds.map((kind) => new Worker(new URL(import.meta.url), { workerData: { kind } }));
  const mine = createSubprocessExec('echo', ['main thread']).then((proc) => proc.communicate());
  const results = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0]));
  for (const r of results) console.log(`${r.kind.padEnd(9)} ${r.error ?? `${r.watcher}: ${r.output} (codes ${r.codes.join(' ')})`}`);
  console.log(`main      ${getChildWatcher().constructor.name}: ${(await mine)[0].toString().trim()}`);
} else {
  const { kind } = workerData;
  const watcher = new WATCHERS[kind]();
  setChildWatcher(watcher);
  let result;
  try {
    result = await run(async () => {
      // MultiLoop subscribes to SIGCHLD on its first attachLoop; Safe and Fast throw here.
      watcher.attachLoop(getRunningLoop());
      const codes = [];
      for (const code of [0, 5]) {
        codes.push(await (await createSubprocessExec('/bin/sh', ['-c', `exit ${code}`])).wait());
      }
      const proc = await createSubprocessExec('echo', [`hello from worker ${threadId}`]);
      const [out] = await proc.communicate();
      return { watcher: watcher.constructor.name, codes, output: out.toString().trim().replace(/\d+$/, 'N') };
    });
  } catch (e) {
    result = { error: `${e.name}: ${e.message}` };
  }
  parentPort.postMessage({ kind, ...result });
}
