// How often a child starts on the CPU its parent is running on right after the spawn.
//
// The child (a tiny C program, built here with cc) exits with sched_getcpu(); the parent reads
// its own CPU from /proc/thread-self/stat as soon as createSubprocessExec() resolves. When they
// match, whatever the parent does after the spawn (registration, the Process, returning to the
// loop) delays the child, and the child's run leaves the parent's caches cold for the exit path.
//
// Usage: node bench/tools/same-cpu.mjs [pidfd|fast|safe|threaded|multiloop] [N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [kind = 'pidfd', nArg = '500'] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'cw-same-cpu-'));
const child = join(dir, 'cpu-child');
writeFileSync(`${child}.c`, '#define _GNU_SOURCE\n#include <sched.h>\nint main(void) { return sched_getcpu(); }\n');
const cc = spawnSync('cc', ['-O2', '-o', child, `${child}.c`], { encoding: 'utf8' });
if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr ?? cc.error}`);

const cw = await import('../../dist/ts-bindings/index.js');
const { makeWatcherByName } = await import('../../dist/ts-bindings/watchers/by-name.js');
const watcher = makeWatcherByName(kind);
cw.setChildWatcher(watcher);
const nulls = { stdin: cw.DEVNULL, stdout: cw.DEVNULL, stderr: cw.DEVNULL };
const myCpu = () => {
  const s = readFileSync('/proc/thread-self/stat', 'utf8');
  return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[36]);
};
try {
  await cw.run(async () => {
    if (kind === 'multiloop') watcher.attachLoop(cw.getRunningLoop());
    let same = 0;
    for (let i = 0; i < Number(nArg); i++) {
      const p = await cw.createSubprocessExec(child, [], nulls);
      const parentCpu = myCpu();
      if (await p.wait() === parentCpu) same++;
    }
    console.log(`${kind}: the child started on the parent's CPU in ${same} of ${nArg} spawns`);
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
