// Beyond CPython: graceful termination with a deadline, and signalling a whole process group.
import { readdirSync, readFileSync } from 'node:fs';
import { DEVNULL, ProcessLookupError, createSubprocessExec, createSubprocessShell } from 'childwatch';

const quiet = { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL };

// terminate({ graceMs }): SIGTERM now, SIGKILL if still alive after graceMs; resolves with the
// returncode. A child that ignores SIGTERM is killed at the deadline.
const stubborn = await createSubprocessExec(process.execPath, ['-e',
  "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"], { stdin: DEVNULL });
await new Promise((resolve) => stubborn.stdout.once('data', resolve)); // its handler is installed
const t0 = Date.now();
console.log('stubborn child:', await stubborn.terminate({ graceMs: 300 }), '| after >= 300 ms:', Date.now() - t0 >= 300);

// A child that honours SIGTERM exits at once with -15.
const polite = await createSubprocessExec('sleep', ['30'], quiet);
console.log('polite child:', await polite.terminate({ graceMs: 5000 }));

// After the exit has been reaped, signalling throws ProcessLookupError: never a recycled pid.
try {
  polite.kill();
} catch (e) {
  console.log('kill after exit:', e instanceof ProcessLookupError, e.code);
}

// killGroup(sig): the child leads its own group (processGroup: 0 or startNewSession), so one
// signal reaches it and everything it started.
const tree = await createSubprocessShell('sleep 30 & sleep 30 & echo started; wait', { stdin: DEVNULL, processGroup: 0 });
await new Promise((resolve) => tree.stdout.once('data', resolve)); // both sleeps run
tree.killGroup('SIGTERM');
console.log('group leader:', await tree.wait());
await new Promise((r) => setTimeout(r, 100));
console.log('live processes left in the group:', liveInGroup(tree.pid));

/** Processes of process group `pgid` that are still running (not zombies), from /proc. */
function liveInGroup(pgid) {
  let n = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') n++;
    } catch { /* exited meanwhile */ }
  }
  return n;
}
