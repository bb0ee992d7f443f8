// Every script in examples/ runs in a fresh `node` process (as a user would run it, importing the
// package by its name through package.json "exports"), exits 0, writes nothing to stderr, and
// prints exactly what is expected here. So an example cannot rot: a change of behaviour, of an
// exported name or of a message shows up as a failing test. Needs the built package (dist/,
// build/core.wasm): `npm test` builds it first.
import { describe, it, expect, beforeAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../ts-bindings/core/loader.js';

const root = packageRoot();
const examplesDir = join(root, 'examples');

interface Run { code: number | null; signal: string | null; stdout: string; stderr: string }

function runNode(args: string[], timeoutMs = 20000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: root, timeout: timeoutMs, env: { ...process.env, NODE_DEBUG: '' } },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
        resolve({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          signal: e?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
        });
      });
  });
}

const lines = (...l: string[]): string => `${l.join('\n')}\n`;

const EXPECTED: Record<string, string> = {
  'quickstart.mjs': lines(
    'HELLO, CHILDWATCH 0',
    '-15 15',
  ),
  'exec-communicate.mjs': lines(
    'sort: cherry banana apple | stderr bytes: 0',
    'merged: to-err,to-out | stderr: null',
    'exit 3 -> 3',
    'exitInfo: {"returncode":3,"exitCode":3,"signal":null,"coreDumped":false,"statusKnown":true} | rusage keys: userMicros,systemMicros,maxRssKiB',
    'streamed: one+two -> 0',
    'wait() did not wait for the grandchild: true 0,0',
    'cwd+env: /tmp hi',
    'SpawnError: true ENOENT posix_spawn /no/such/program ["arg"]',
  ),
  'protocol.mjs': lines(
    'output: "line 1\\nline 2\\n"',
    'returncode: 0',
    'first: connectionMade | last: connectionLost',
    'pipes closed: pipeConnectionLost(0) pipeConnectionLost(1) pipeConnectionLost(2)',
    'exit reported once: true',
  ),
  'terminate-killgroup.mjs': lines(
    'stubborn child: -9 | after >= 300 ms: true',
    'polite child: -15',
    'kill after exit: true ESRCH',
    'group leader: -15',
    'live processes left in the group: 0',
  ),
  'custom-policy.mjs': lines(
    'policy: MyEventLoopPolicy',
    'watcher: ThreadedChildWatcher',
    'loop: SelectorEventLoop | same loop next time: true',
    'from the custom policy',
    'handled: Exception in callback failing()',
    'policy asked inside run(): false',
  ),
  'worker.mjs': lines(
    'threaded  ThreadedChildWatcher: hello from worker N (codes 0 5)',
    'multiloop MultiLoopChildWatcher: hello from worker N (codes 0 5)',
    'pidfd     PidfdChildWatcher: hello from worker N (codes 0 5)',
    'safe      RuntimeError: SafeChildWatcher can only be attached to a loop in the main thread',
    'fast      RuntimeError: FastChildWatcher can only be attached to a loop in the main thread',
    'main      PidfdChildWatcher: main thread',
  ),
  'watcher-threaded.mjs': lines(
    'active without attachLoop: true',
    'returncodes: 0 1 2 3',
    'low-level: returncode 4, on the registering loop: true',
    'node:child_process exit event: 0',
  ),
  'watcher-multiloop.mjs': lines(
    'active before attachLoop: false',
    'active after attachLoop(null): true',
    'first loop: returncode 6, delivered there: true',
    'second loop: returncode 6, delivered there: true',
    '50 children, all 0: true',
    'node:child_process exit event: 0',
    'active after close(): false',
  ),
  'watcher-safe.mjs': lines(
    'not attached: true Cannot add child handler, the child watcher does not have a loop attached',
    'active while the attached loop runs: true',
    'early child: 9',
    'callback ran inside addChildHandler: true',
    'later child: returncode 2, on the attached loop: true',
    'via createSubprocessExec 0',
    'unregistered child left alone: true',
    'active after run(): false',
  ),
  'watcher-fast.mjs': lines(
    'outside enter(): true Must use the context manager',
    'registered in a bracket, then killed: -9',
    'exit kept inside the bracket: 8',
    '50 children, all 0: true',
    'node:child_process child emitted exit: false',
    'warnings: Caught subprocess termination from unknown pid: N -> N',
  ),
  'watcher-pidfd.mjs': lines(
    'pidfds usable: true | default watcher: PidfdChildWatcher',
    'active without attachLoop: true',
    'SIGINT -> -2',
    'signal after reaping: true ESRCH',
    'low-level returncode: 0',
    'watching a reaped pid: true ESRCH',
    'node:child_process exit event: 0',
  ),
  'subreaper.mjs': lines(
    'subreaper: true',
    'shell exited with 0 leaving 2 background jobs',
    'orphans reaped, with their returncodes: 0 3',
  ),
  'pid1-init.mjs': lines(
    'stdout: started | status: 5',
    'orphans reaped: 2',
    'after SIGTERM, init exited with 143 (128 + 15)',
  ),
  'embed-sim.mjs': lines(
    'threaded   0:0 1:3 2:-9  zombies left: 0',
    'multi-loop 0:0 1:3 2:-9  zombies left: 0',
    'safe       0:0 1:3 2:-9  zombies left: 0',
    'fast       0:0 1:3 2:-9  zombies left: 0',
    'pidfd      0:0 1:3 2:-9  zombies left: 0',
  ),
  'embed-jco.mjs': lines(
    ...['threaded  ', 'multi-loop', 'safe      ', 'fast      ', 'pidfd     '].map((s) =>
      `${s} token 1: returncode 7, signal 0; token 2: returncode -15, signal 15`),
  ),
};

describe('examples/', () => {
  beforeAll(async () => {
    // The expected outputs assume pidfds (Linux >= 5.3) and a package that resolves by name.
    const probe = await runNode(['--input-type=module', '-e',
      "import { canUsePidfd } from 'childwatch'; console.log(canUsePidfd())"]);
    expect(probe).toMatchObject({ code: 0, stdout: 'true\n' });
  });

  it('every example has an expected output here, and every expectation an example', () => {
    const files = readdirSync(examplesDir).filter((f) => f.endsWith('.mjs')).sort();
    expect(files).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.keys(EXPECTED))('%s runs and prints what it should', async (name: string) => {
    const r = await runNode([join(examplesDir, name)]);
    expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(r.stdout).toBe(EXPECTED[name]);
  });

  it('a broken example fails (the runner sees exit codes and stderr)', async () => {
    const r = await runNode(['--input-type=module', '-e',
      "import { createSubprocessExec } from 'childwatch'; await createSubprocessExec('/no/such/program');"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('SpawnError');
  });
});
