// Beyond CPython: a FastChildWatcher in subreaper mode. The process becomes a child subreaper
// (Linux PR_SET_CHILD_SUBREAPER): descendants orphaned by their parent are reparented to it
// instead of to PID 1, and reaped here, reported to onOrphanExit. This is what `childwatch init`
// does for a container whose PID 1 is Node (see docs/pid1.md).
import { DEVNULL, FastChildWatcher, PIPE, createSubprocessShell, run, setChildWatcher } from 'childwatch';

const orphans = [];
const watcher = new FastChildWatcher({
  subreaper: true,
  onOrphanExit: (pid, returncode) => orphans.push({ pid, returncode }),
});
setChildWatcher(watcher);
console.log('subreaper:', watcher.subreaper);

await run(async () => {
  // The shell starts two background jobs, prints their pids and exits at once: the jobs are
  // orphaned, reparented to this process, and reaped by the watcher when they exit.
  const sh = await createSubprocessShell('sleep 0.2 & echo $!; (sleep 0.3; exit 3) & echo $!; exit 0', { stdin: DEVNULL, stdout: PIPE });
  const [out] = await sh.communicate();
  const grandchildren = out.toString().trim().split('\n').map(Number);
  console.log('shell exited with', sh.returncode, 'leaving', grandchildren.length, 'background jobs');
  for (let i = 0; i < 250 && orphans.length < grandchildren.length; i++) await new Promise((r) => setTimeout(r, 20));
  const byPid = new Map(orphans.map((o) => [o.pid, o.returncode]));
  console.log('orphans reaped, with their returncodes:', grandchildren.map((pid) => byPid.get(pid)).join(' '));
});
