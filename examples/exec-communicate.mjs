// createSubprocessExec / createSubprocessShell and Process: Python's asyncio.subprocess, on
// Node streams. Top-level await works: without a running loop, the thread's current loop is run
// for as long as a child is unfinished.
import {
  DEVNULL, PIPE, STDOUT, SpawnError, createSubprocessExec, createSubprocessShell,
} from 'childwatch';

// 1. communicate(): input in, [stdout, stderr] out, then the exit.
const sorter = await createSubprocessExec('sort', ['-r']);
const [out, err] = await sorter.communicate('apple\ncherry\nbanana\n');
console.log('sort:', out.toString().split('\n').join(' ').trim(), '| stderr bytes:', err.length);

// 2. stderr: STDOUT merges the two streams; a stream that is not PIPE gives null.
const merged = await createSubprocessShell('echo to-out; echo to-err >&2', { stderr: STDOUT, stdin: DEVNULL });
const [both, none] = await merged.communicate();
console.log('merged:', both.toString().split('\n').filter(Boolean).sort().join(','), '| stderr:', none);

// 3. The exit record: code or signal, core dump flag, rusage from wait4.
const failing = await createSubprocessExec('/bin/sh', ['-c', 'exit 3'], { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL });
console.log('exit 3 ->', await failing.wait());
const { returncode, exitCode, signal, coreDumped, statusKnown, rusage } = failing.exitInfo;
console.log('exitInfo:', JSON.stringify({ returncode, exitCode, signal, coreDumped, statusKnown }),
  '| rusage keys:', Object.keys(rusage).join(','));

// 4. Streams: proc.stdout is a Readable, proc.stdin a Writable (node:stream).
const lines = await createSubprocessExec('cat', [], { stdin: PIPE, stdout: PIPE, stderr: DEVNULL });
lines.stdin.write('one\n');
lines.stdin.end('two\n');
let text = '';
for await (const chunk of lines.stdout) text += chunk;
console.log('streamed:', text.trim().split('\n').join('+'), '->', await lines.wait());

// 5. wait() resolves as soon as the child exits, even if a grandchild keeps its pipe open
//    (CPython also waits for the pipes: gh-119710). Any number of waits get the same value.
const t0 = Date.now();
const parent = await createSubprocessShell('sleep 2 & exit 0', { stdin: DEVNULL });
const codes = await Promise.all([parent.wait(), parent.wait()]);
console.log('wait() did not wait for the grandchild:', Date.now() - t0 < 1500, codes.join(','));
parent.stdout.destroy(); // we do not read the grandchild's output
parent.stderr.destroy();

// 6. cwd and env (env replaces the whole environment).
const pwd = await createSubprocessExec('/bin/sh', ['-c', 'echo "$PWD $GREETING"'], { cwd: '/tmp', env: { GREETING: 'hi' } });
console.log('cwd+env:', (await pwd.communicate())[0].toString().trim());

// 7. A program that cannot start rejects with SpawnError; nothing is left behind.
try {
  await createSubprocessExec('/no/such/program', ['arg']);
} catch (e) {
  console.log('SpawnError:', e instanceof SpawnError, e.code, e.syscall, e.path, JSON.stringify(e.spawnargs));
}
