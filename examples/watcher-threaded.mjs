// ThreadedChildWatcher: one native thread per child, blocked in wait4(pid). No signals, waits only
// on the pids it is given, works in Workers. The default where pidfds are unavailable.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  DEVNULL, ThreadedChildWatcher, createSubprocessExec, getRunningLoop, run, setChildWatcher, spawnChild,
} from 'childwatch';

const quiet = { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL };
const watcher = new ThreadedChildWatcher();
setChildWatcher(watcher); // subprocesses started from now on are registered with it

await run(async () => {
  console.log('active without attachLoop:', watcher.isActive());

  // High level: Process objects, one waiter thread each while the child runs.
  const procs = await Promise.all([0, 1, 2, 3].map((code) => createSubprocessExec('/bin/sh', ['-c', `exit ${code}`], quiet)));
  console.log('returncodes:', (await Promise.all(procs.map((p) => p.wait()))).join(' '));

  // Low level, as in Python: start a child and register it; extra arguments reach the callback.
  const loop = getRunningLoop();
  const child = spawnChild('/bin/sh', ['-c', 'exit 4'], quiet);
  const reported = new Promise((resolve) => {
    watcher.addChildHandler(child.pid, (pid, returncode, tag) => {
      resolve(`${tag}: returncode ${returncode}, on the registering loop: ${getRunningLoop() === loop}`);
    }, 'low-level');
  });
  console.log(await reported);

  // It never waits on other pids: children of node:child_process still get their 'exit'.
  const cp = spawn('true');
  const [code] = await once(cp, 'exit');
  console.log('node:child_process exit event:', code);
});
