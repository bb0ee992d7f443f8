// MultiLoopChildWatcher: one process-wide SIGCHLD subscription; on each SIGCHLD a non-blocking
// wait on every registered pid (O(n)). Each exit is delivered on the loop that was running when
// the pid was registered, so one watcher serves every loop.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  DEVNULL, MultiLoopChildWatcher, createSubprocessExec, getRunningLoop, run, setChildWatcher, spawnChild,
} from 'childwatch';

const quiet = { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL };
const watcher = new MultiLoopChildWatcher();
console.log('active before attachLoop:', watcher.isActive());
watcher.attachLoop(null); // the first call, whatever its argument, subscribes to SIGCHLD
console.log('active after attachLoop(null):', watcher.isActive());
setChildWatcher(watcher);

// One watcher, two loops in turn: each registration is reported on its own loop.
for (const name of ['first loop', 'second loop']) {
  await run(async () => {
    const loop = getRunningLoop();
    const child = spawnChild('/bin/sh', ['-c', 'exit 6'], quiet);
    const msg = await new Promise((resolve) => {
      watcher.addChildHandler(child.pid, (pid, rc) => resolve(`${name}: returncode ${rc}, delivered there: ${getRunningLoop() === loop}`));
    });
    console.log(msg);
  });
}

await run(async () => {
  // Many children, one coalesced SIGCHLD or several: each exit is reported exactly once.
  const procs = await Promise.all(Array.from({ length: 50 }, () => createSubprocessExec('true', [], quiet)));
  const codes = await Promise.all(procs.map((p) => p.wait()));
  console.log('50 children, all 0:', codes.every((c) => c === 0));

  // It waits only on registered pids: node:child_process children still get their 'exit'.
  const [code] = await once(spawn('true'), 'exit');
  console.log('node:child_process exit event:', code);
});
watcher.close(); // unsubscribes SIGCHLD
console.log('active after close():', watcher.isActive());
