// PidfdChildWatcher: one pidfd per child, polled by Node's loop; when it becomes readable the
// child is reaped. O(1) per exit, no signals, no threads, immune to pid reuse. Linux >= 5.3;
// the default wherever canUsePidfd() is true.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  DEVNULL, PidfdChildWatcher, ProcessLookupError, canUsePidfd, createSubprocessExec, getChildWatcher,
  run, setChildWatcher, spawnChild,
} from 'childwatch';

const quiet = { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL };
console.log('pidfds usable:', canUsePidfd(), '| default watcher:', getChildWatcher().constructor.name);
const watcher = new PidfdChildWatcher();
setChildWatcher(watcher);

await run(async () => {
  console.log('active without attachLoop:', watcher.isActive());

  // High level: signals go through the pidfd (pidfd_send_signal), so once the child has been
  // reaped its pid can be reused by a stranger and sendSignal throws instead of hitting it.
  const proc = await createSubprocessExec('sleep', ['30'], quiet);
  proc.sendSignal('SIGINT');
  console.log('SIGINT ->', await proc.wait());
  try {
    proc.sendSignal('SIGTERM');
  } catch (e) {
    console.log('signal after reaping:', e instanceof ProcessLookupError, e.code);
  }

  // Low level: a pid that is already gone cannot be watched.
  const child = spawnChild('true', [], quiet);
  const rc = await new Promise((resolve) => watcher.addChildHandler(child.pid, (pid, code) => resolve(code)));
  console.log('low-level returncode:', rc);
  try {
    watcher.addChildHandler(child.pid, () => {});
  } catch (e) {
    console.log('watching a reaped pid:', e instanceof ProcessLookupError, e.code);
  }

  // It waits only on its own children: node:child_process children still get their 'exit'.
  const [code] = await once(spawn('true'), 'exit');
  console.log('node:child_process exit event:', code);
});
