// SafeChildWatcher: SIGCHLD through the attached loop's signal handler; on each signal a
// non-blocking wait on every registered pid (O(n)). Callbacks run synchronously on that loop.
// Main thread only, and only while the attached loop runs.
import { readFileSync } from 'node:fs';
import {
  DEVNULL, RuntimeError, SafeChildWatcher, createSubprocessExec, getRunningLoop, run, setChildWatcher,
  spawnChild,
} from 'childwatch';

const quiet = { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL };
const watcher = new SafeChildWatcher();
setChildWatcher(watcher);

// Before a loop is attached it refuses (and reaps nothing).
const early = spawnChild('/bin/sh', ['-c', 'exit 9'], quiet);
try {
  watcher.addChildHandler(early.pid, () => {});
} catch (e) {
  console.log('not attached:', e instanceof RuntimeError, e.message);
}

// run() makes its loop current, and on the main thread the policy attaches the watcher to it.
await run(async () => {
  console.log('active while the attached loop runs:', watcher.isActive());

  // The early child is still a zombie waiting for us: registering it reports it at once,
  // synchronously, before addChildHandler returns.
  let ran = false;
  watcher.addChildHandler(early.pid, (pid, rc) => { ran = true; console.log('early child:', rc); });
  console.log('callback ran inside addChildHandler:', ran);

  // A child exits while registered: SIGCHLD -> the loop's handler -> wait on each registered pid.
  const loop = getRunningLoop();
  const later = spawnChild('/bin/sh', ['-c', 'sleep 0.05; exit 2'], quiet);
  const onLoop = await new Promise((resolve) => {
    watcher.addChildHandler(later.pid, (pid, rc) => resolve(`returncode ${rc}, on the attached loop: ${getRunningLoop() === loop}`));
  });
  console.log('later child:', onLoop);

  // The subprocess API brackets with the same watcher.
  const proc = await createSubprocessExec('echo', ['via createSubprocessExec']);
  console.log((await proc.communicate())[0].toString().trim(), await proc.wait());

  // It only waits on registered pids: an unregistered child stays a zombie for its owner.
  const other = spawnChild('true', [], quiet);
  await new Promise((r) => setTimeout(r, 100));
  console.log('unregistered child left alone:', stateOf(other.pid) === 'Z');
  watcher.addChildHandler(other.pid, () => {}); // now it is ours, and reaped
});
// run() ended with setEventLoop(null): the watcher is detached, so inactive.
console.log('active after run():', watcher.isActive());

function stateOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}
