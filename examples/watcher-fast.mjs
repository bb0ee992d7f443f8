// FastChildWatcher: SIGCHLD through the attached loop; on each signal wait4(-1, WNOHANG) until
// no child is left, O(1) per exit. It reaps EVERY child of the process, so use it only when all
// children go through it. Main thread only; registrations need the enter()/exit() bracket.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  DEVNULL, FastChildWatcher, RuntimeError, createSubprocessExec, getRunningLoop, run, setChildWatcher,
  setLogger, spawnChild,
} from 'childwatch';

const quiet = { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL };
const warnings = [];
setLogger({ warning: (msg) => warnings.push(msg), debug: () => {} });
const watcher = new FastChildWatcher();
setChildWatcher(watcher);

await run(async () => {
  // Registering outside a bracket is refused: a child could exit before it is registered and
  // be reaped as unknown.
  const loose = spawnChild('sleep', ['5'], quiet);
  try {
    watcher.addChildHandler(loose.pid, () => {});
  } catch (e) {
    console.log('outside enter():', e instanceof RuntimeError, e.message);
  }
  watcher.enter();
  const looseRc = new Promise((resolve) => watcher.addChildHandler(loose.pid, (pid, rc) => resolve(rc)));
  watcher.exit();
  process.kill(loose.pid, 'SIGKILL');
  console.log('registered in a bracket, then killed:', await looseRc);

  // Inside the bracket, an exit that comes before the registration is kept and delivered.
  watcher.enter();
  let got;
  try {
    const child = spawnChild('/bin/sh', ['-c', 'exit 8'], quiet);
    await new Promise((r) => setTimeout(r, 100)); // it exits (and is reaped) before we register
    got = new Promise((resolve) => watcher.addChildHandler(child.pid, (pid, rc) => resolve(rc)));
  } finally {
    watcher.exit();
  }
  console.log('exit kept inside the bracket:', await got);

  // The subprocess API brackets for you.
  const procs = await Promise.all(Array.from({ length: 50 }, () => createSubprocessExec('true', [], quiet)));
  console.log('50 children, all 0:', (await Promise.all(procs.map((p) => p.wait()))).every((c) => c === 0));

  // The price: it reaps children of node:child_process too. Whoever waits first wins; when
  // Fast does, the child never emits 'exit'. Here we make sure Fast is first: the child is
  // already a zombie when attachLoop() sweeps with wait(-1).
  const cp = spawn('true');
  let exited = false;
  cp.once('exit', () => { exited = true; });
  while (stateOf(cp.pid) !== 'Z') { /* spin: do not let Node's loop (and libuv's reaper) run */ }
  watcher.attachLoop(getRunningLoop());
  await new Promise((r) => setTimeout(r, 300));
  console.log('node:child_process child emitted exit:', exited);
  cp.unref(); // its handle would otherwise keep Node alive forever, waiting for that exit
});
console.log('warnings:', warnings.map((w) => w.replace(/\d+/g, 'N')).join(' | '));

function stateOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}
