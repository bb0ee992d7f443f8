// `childwatch init -- CMD ...`: a minimal init for containers (docs/pid1.md). It runs CMD,
// forwards signals to it, reaps every orphan that is reparented to it, and exits with CMD's
// status. Here it is started as an ordinary child, the way `npx childwatch init` would run.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEVNULL, PIPE, createSubprocessExec } from 'childwatch';

const pkgUrl = import.meta.resolve('childwatch/package.json');
const cli = new URL(JSON.parse(readFileSync(new URL(pkgUrl), 'utf8')).bin.childwatch, pkgUrl);
const init = (flags, command) => createSubprocessExec(process.execPath,
  [fileURLToPath(cli), 'init', ...flags, '--', ...command], { stdin: DEVNULL, stdout: PIPE, stderr: PIPE });

// 1. The command's exit status becomes init's; with --wait-all, init also waits for the
//    background jobs the command left behind, and --verbose reports each orphan it reaps.
const a = await init(['--wait-all', '--verbose'], ['/bin/sh', '-c', 'sleep 0.1 & sleep 0.2 & echo started; exit 5']);
const [out, err] = await a.communicate();
console.log('stdout:', out.toString().trim(), '| status:', a.returncode);
console.log('orphans reaped:', err.toString().split('\n').filter((l) => l.includes('reaped orphan')).length);

// 2. Signals sent to init are forwarded to the command (SIGTERM, SIGINT, SIGHUP, SIGQUIT,
//    SIGUSR1, SIGUSR2, SIGWINCH); a command killed by signal N gives status 128 + N.
const b = await init([], ['/bin/sh', '-c', 'echo ready; exec sleep 30']);
await new Promise((resolve) => b.stdout.once('data', resolve));
await new Promise((resolve) => setTimeout(resolve, 100)); // init installs its handlers right after the spawn
b.sendSignal('SIGTERM');
console.log('after SIGTERM, init exited with', await b.wait(), '(128 + 15)');
