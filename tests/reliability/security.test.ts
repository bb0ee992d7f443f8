// Security (issue 7, part 5):
//  - pids <= 0 never reach wait or kill: SimKernel's call log (the public watchers and the core
//    on a SimKernel), the addon's own guards, and the real system calls of a full tour under
//    strace;
//  - signals never reach a recycled pid (pidfd) and nothing is signalled after the exit was
//    reaped (a real recycled pid via ns_last_pid; CHILDWATCH_FAULTS=kill=EPERM shows no kill
//    syscall is made after the reap);
//  - createSubprocessExec never runs a shell;
//  - the sandbox: configureHost({ ownChildrenOnly: true }) / NodeHost's ownChildrenOnly option
//    refuse (EPERM) to wait on, watch or signal a pid the host did not spawn.
// Real-process cases run tests/fixtures/security.ts in fresh processes.
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FastChildWatcher, MultiLoopChildWatcher, PidfdChildWatcher, SafeChildWatcher, ThreadedChildWatcher,
  newEventLoop, setLogger, useSimKernel, type AbstractChildWatcher, type AbstractEventLoop,
} from '../../ts-bindings/index.js';
import { SimKernel } from '../../host/sim/index.js';
import { loadCore } from '../../ts-bindings/core/loader.js';
import { Strategy, newWaitRecord } from '../../ts-bindings/core/types.js';
import { ROOT, runFixture } from '../e2e/run-fixture.js';

const KINDS = ['threaded', 'multiloop', 'safe', 'fast', 'pidfd'] as const;
const BAD_PIDS = [0, -1, -2, -(2 ** 31), 1.5, NaN, Infinity, -Infinity];

async function fixture<T>(scenario: string, kind?: string, env: Record<string, string> = {}): Promise<{ value: T; logs: string[]; warnings: string[] }> {
  const r = await runFixture<T>('security.js', kind === undefined ? [scenario] : [scenario, kind], env);
  if (r.error !== undefined) throw new Error(`${scenario}/${kind} failed in the fixture:\n${r.error}\n${r.stderr}`);
  const res = r.result as unknown as { value: T; zombies: number; children: number };
  expect(res.zombies).toBe(0);
  expect(res.children).toBe(0);
  return { value: res.value, logs: r.logs, warnings: r.warnings };
}

// ---------------------------------------------------------------------------------------------

describe('pids <= 0 never reach wait or kill', () => {
  describe('the public watchers on a SimKernel: nothing with pid <= 0 in its call log', () => {
    let kernel: SimKernel;
    let loop: AbstractEventLoop;
    beforeEach(() => {
      kernel = new SimKernel();
      useSimKernel(kernel);
      loop = newEventLoop();
      setLogger({ warning: () => {}, debug: () => {} });
    });
    afterEach(() => {
      useSimKernel(null);
      setLogger(null);
      loop.close();
    });
    const make: Record<typeof KINDS[number], () => AbstractChildWatcher> = {
      threaded: () => new ThreadedChildWatcher(), multiloop: () => new MultiLoopChildWatcher(),
      safe: () => new SafeChildWatcher(), fast: () => new FastChildWatcher(), pidfd: () => new PidfdChildWatcher(),
    };
    it.each(KINDS)('%s', async (kind) => {
      await loop.runUntilComplete(async () => {
        const w = make[kind]();
        w.attachLoop(loop);
        const real = kernel.spawn();
        w.enter();
        try {
          for (const pid of BAD_PIDS) {
            expect(() => w.addChildHandler(pid, () => {})).toThrow(RangeError);
            expect(() => w.removeChildHandler(pid)).toThrow(RangeError);
          }
          w.addChildHandler(real, () => {});
        } finally {
          w.exit();
        }
        kernel.exit(real, 3);
        kernel.deliverSigchld(true);
        kernel.notify();
      });
      const pids = kernel.calls.filter((c) => ['waitPid', 'pidfdOpen', 'startWaiter', 'watchPidfd'].includes(c.fn))
        .map((c) => (c.fn === 'waitPid' || c.fn === 'pidfdOpen' ? c.args[0]! : c.args[1]!));
      expect(pids.length).toBeGreaterThan(kind === 'fast' ? -1 : 0); // the real child was waited on
      expect(pids.filter((p) => !(p > 0))).toEqual([]);
      expect(kernel.badWaits).toBe(0);
    });
  });

  it('the core refuses pid <= 0 on every export before any host call', () => {
    const kernel = new SimKernel();
    const core = loadCore(kernel);
    kernel.attach(core);
    for (const s of [Strategy.Threaded, Strategy.MultiLoop, Strategy.Safe, Strategy.Fast, Strategy.Pidfd]) {
      const w = core.create(s);
      core.attachLoop(w, 1);
      core.enter(w);
      kernel.clearLog();
      for (const pid of [0, -1, -2, -(2 ** 31)]) {
        expect(core.addChild(w, pid, 1, 1)).toBe(-22);
        expect(core.removeChild(w, pid)).toBe(false);
        expect(core.tokenOf(w, pid)).toBe(0);
        core.onPidfdReady(w, pid);
        core.onWaiterDone(w, pid, pid, newWaitRecord());
      }
      expect(kernel.calls).toEqual([]);
      core.exit(w);
    }
  });

  it('the addon refuses pid <= 0 (and non-integers) for wait4, kill, killpg, waiter threads and pidfd_open', async () => {
    const { value } = await fixture<Record<string, unknown>>('addonGuards');
    for (const pid of [0, -1, -2, -(2 ** 31), 1.5, NaN]) {
      for (const call of ['waitPid', 'kill', 'killGroup', 'startWaiter', 'pidfdOpen']) {
        expect({ call, pid, r: value[`${call}(${pid})`] }).toEqual({
          call, pid, r: expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
        });
      }
    }
    // The host and the signal helpers turn those into -EINVAL for the core, never a syscall.
    expect(value['host.waitPid(0)']).toBe(-22);
    expect(value['host.waitPid(-1)']).toBe(-22);
    expect(value['host.startWaiter(-1)']).toBe(-22);
    expect(value['host.pidfdOpen(0)']).toBe(-22);
    expect(value['signalChild(-1)']).toBe(-22);
    expect(value['signalGroup(0)']).toBe(-22);
  });

  describe('the real system calls of a tour of every watcher, under strace', () => {
    interface Call { pid: number; fn: string; first: string; line: string }
    function strace(env: Record<string, string>): Promise<{ calls: Call[]; value: unknown }> {
      const log = join(tmpdir(), `childwatch-strace-${process.pid}-${Object.values(env).join('-').replace(/\W/g, '_')}.log`);
      return new Promise((resolve, reject) => {
        execFile('strace', ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=wait4,waitid,kill,tgkill,pidfd_send_signal,execve',
          '-o', log, process.execPath, join(ROOT, 'dist/tests/fixtures/security.js'), 'tour'],
        { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
          if (err !== null && (err as NodeJS.ErrnoException).code === 'ENOENT') {
            reject(new Error('strace is not installed: this test needs it (apt-get install strace)'));
            return;
          }
          try {
            const calls: Call[] = [];
            // A call another thread interrupted is split in two lines ("<unfinished ...>", then
            // "<... waitid resumed>"): the rest is appended to the call's line, so each call is
            // checked with all its arguments.
            const split = new Map<string, Call>();
            for (const line of readFileSync(log, 'utf8').split('\n')) {
              const r = /^(\d+)\s+<\.\.\. \w+ resumed>(.*)$/.exec(line);
              if (r !== null && split.has(r[1]!)) {
                split.get(r[1]!)!.line += r[2]!;
                split.delete(r[1]!);
                continue;
              }
              const m = /^(\d+)\s+(wait4|waitid|kill|tgkill|pidfd_send_signal|execve)\(([^,)]*)/.exec(line);
              if (m === null) continue;
              const call: Call = { pid: Number(m[1]), fn: m[2]!, first: m[3]!.trim(), line };
              calls.push(call);
              if (line.endsWith('<unfinished ...>')) split.set(m[1]!, call);
            }
            rmSync(log, { force: true });
            resolve({ calls, value: JSON.parse(stdout.trim().split('\n').pop()!).result?.value });
          } catch (e) {
            reject(new Error(`strace run failed: ${String(e)}\n${stdout}\n${stderr}`));
          }
        });
      });
    }
    const codes = [4, -15, -9, 6];

    function check(calls: Call[]): void {
      const traced = new Set(calls.map((c) => c.pid));
      const waits = calls.filter((c) => c.fn === 'wait4');
      expect(waits.length).toBeGreaterThan(0);
      expect(waits.filter((c) => !(Number(c.first) > 0)).map((c) => c.line)).toEqual([]);
      // waitid on any child (Safe's and MultiLoop's peek) only ever with WNOWAIT: it reaps nothing.
      const anyChild = calls.filter((c) => c.fn === 'waitid' && c.first === 'P_ALL');
      expect(anyChild.filter((c) => !/\bWNOWAIT\b/.test(c.line)).map((c) => c.line)).toEqual([]);
      // kill: a child's pid, or -pgid of a group one of our children leads (killGroup); never
      // 0 (our own group) or -1 (everybody).
      const kills = calls.filter((c) => c.fn === 'kill');
      expect(kills.length).toBeGreaterThan(0);
      expect(kills.filter((c) => { const n = Number(c.first); return !(n > 0 || (n < -1 && traced.has(-n))); }).map((c) => c.line)).toEqual([]);
      // Never a shell in between: sleep is exec'd as itself; sh only for the explicit /bin/sh
      // programs and createSubprocessShell.
      const execs = calls.filter((c) => c.fn === 'execve').map((c) => /execve\("([^"]*)", \[(.*?)\]/.exec(c.line)?.slice(1, 3).join(' '));
      expect(execs.filter((e) => e?.startsWith('/bin/sleep'))).not.toHaveLength(0);
      expect(execs.filter((e) => e?.startsWith('/bin/sleep')).every((e) => e === '/bin/sleep "/bin/sleep", "1000"')).toBe(true);
      expect(execs.filter((e) => e?.includes('sleep') && !e.startsWith('/bin/sleep'))).toEqual([]);
    }

    it('Threaded, MultiLoop, Safe, Pidfd: every wait4 and kill is on one of our children (pid > 0)', async () => {
      const { calls, value } = await strace({ TOUR_WATCHERS: 'threaded,multiloop,safe,pidfd' });
      expect(value).toEqual({ threaded: codes, multiloop: codes, safe: codes, pidfd: codes });
      check(calls);
      expect(calls.filter((c) => c.fn === 'waitid' && c.first === 'P_ALL')).not.toHaveLength(0);
    });

    it('all five in the sandbox (ownChildrenOnly): not even Fast calls wait4(-1)', async () => {
      const { calls, value } = await strace({ TOUR_SANDBOX: '1' });
      expect(value).toEqual({ threaded: codes, multiloop: codes, safe: codes, fast: codes, pidfd: codes });
      check(calls);
    });

    it('control: outside the sandbox Fast does call wait4(-1), and the check sees it', async () => {
      const { calls } = await strace({ TOUR_WATCHERS: 'fast' });
      expect(calls.some((c) => c.fn === 'wait4' && c.first === '-1')).toBe(true);
      expect(() => check(calls)).toThrow();
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('signals never reach a recycled pid, nothing is signalled after the reap', () => {
  it('Pidfd: the status taken and the pid reused by a new child: sendSignal reaches nobody, the watcher reports 255', async () => {
    const { value, logs } = await fixture<Record<string, any>>('recycled', 'pidfd');
    expect(value['reused']).toBe(true);
    expect(value['signal']).toMatchObject({ name: 'ProcessLookupError', code: 'ESRCH' });
    expect(value['newcomerAlive']).toBe(true);
    expect(value['rc']).toBe(255);
    expect(value['statusKnown']).toBe(false);
    expect(logs).toEqual([expect.stringMatching(/^child process pid \d+ exit status already read: {2}will report returncode 255$/)]);
  });

  it('Safe: the same steal-and-reuse; sendSignal reaches nobody (pidfd), but Safe waits by pid and reports the newcomer', async () => {
    const { value } = await fixture<Record<string, any>>('recycled', 'safe');
    expect(value['reused']).toBe(true);
    expect(value['signal']).toMatchObject({ name: 'ProcessLookupError', code: 'ESRCH' });
    expect(value['newcomerAlive']).toBe(true);
    expect(value['rc']).toBe(-9);
  });

  it.each(KINDS)('%s: after the reap sendSignal, terminate, kill, killGroup and the transport make no kill syscall', async (kind) => {
    const { value } = await fixture<Record<string, any>>('afterReap', kind, { CHILDWATCH_FAULTS: 'kill=EPERM' });
    // Control: before the exit, a signal does reach the (faulted) syscall.
    expect(value['control']).toMatchObject({ name: 'PermissionError', code: 'EPERM' });
    expect(value['rc']).toBe(-9);
    const gone = { name: 'ProcessLookupError', code: 'ESRCH' };
    expect(value['after']).toEqual({
      sendSignal: expect.objectContaining(gone), terminate: expect.objectContaining(gone), kill: expect.objectContaining(gone),
      killGroup: expect.objectContaining(gone), terminateGrace: -9,
    });
    expect(value['trc']).toBe(-9);
    expect(value['tAfter']).toEqual({ kill: expect.objectContaining(gone), close: 'ok' });
    expect(value['hitsAfter']).toBe(0);
  });
});

describe('createSubprocessExec never runs a shell', () => {
  it.each(['pidfd', 'safe'])('%s: arguments reach the program verbatim; the child is the program itself, our direct child', async (kind) => {
    const { value } = await fixture<Record<string, any>>('noShell', kind);
    expect(value['echo']).toBe('$HOME `id` $(id) ; ls | && >x * "q" \'s\'\n');
    expect(value['spaced']).toMatchObject({ name: 'SpawnError', code: 'ENOENT' });
    expect(value['ppidIsUs']).toBe(true);
    expect(value['exe']).toMatch(/\/sleep$/);
    expect(value['cmdline']).toEqual(['/bin/sleep', '1000']);
    // The control: createSubprocessShell does run /bin/sh.
    expect(value['shell']).toBe('42\n');
  });

  it('product code names /bin/sh only in createSubprocessShell and loop.subprocessShell', () => {
    const files = ['ts-bindings/subprocess/process.ts', 'ts-bindings/subprocess/transport.ts', 'ts-bindings/subprocess/spawn.ts',
      'ts-bindings/subprocess/child.ts', 'host/spawn.ts', 'host/node-host.ts', 'host/process-control.ts'];
    const inFunctions: string[] = [];
    for (const f of files) {
      let current = '';
      for (const line of readFileSync(join(ROOT, f), 'utf8').split('\n')) {
        const fn = /^(?:export )?(?:async )?function (\w+)/.exec(line);
        if (fn !== null) current = fn[1]!;
        if (line.includes("'/bin/sh'") && !line.trim().startsWith('//')) inFunctions.push(current);
      }
    }
    expect(inFunctions.sort()).toEqual(['createSubprocessShell', 'loopSubprocessShell']);
  });
});

describe('sandbox: configureHost({ ownChildrenOnly: true })', () => {
  it.each(KINDS)('%s: own children work; a pid the host did not spawn is refused, never waited on or signalled', async (kind) => {
    const { value } = await fixture<Record<string, any>>('sandbox', kind);
    expect(value['before']).toEqual({ ownChildrenOnly: false });
    expect(value['on']).toEqual({ ownChildrenOnly: true });
    expect(value['off']).toMatchObject({ name: 'RuntimeError', message: expect.stringMatching(/^options\.ownChildrenOnly cannot be turned off/) });
    expect(value['ownRc']).toBe(3);
    expect(value['refused']).toMatchObject({
      name: 'PermissionError', code: 'EPERM',
      message: expect.stringMatching(/^\[Errno 1\] Operation not permitted: pid \d+ was not spawned by this thread's host \(ownChildrenOnly\)$/),
    });
    expect(value['registered']).toBe(0);
    expect(value['signal']).toBe(-1);
    expect(value['group']).toBe(-1);
    // The foreign child that exited was left to its owner: even Fast did not reap it.
    expect(value['quickCode']).toBe(7);
    expect(value['own2Rc']).toBe(-15);
    expect(value['sleeperState']).toBe('S');
    expect(value['sleeperCode']).toBeNull(); // killed by its owner, with SIGKILL
  });

  it('NodeHost({ ownChildrenOnly: true }) answers EPERM to the core for a foreign pid and touches nothing of it', async () => {
    const { value } = await fixture<Record<string, any>>('sandboxHost');
    expect(value['calls']).toEqual({ waitPid: -1, waitAny: -10, pidfdOpen: -1, startWaiter: -1, watchPidfd: -1 });
    expect(value['fd0Open']).toBe(true);
    expect(value['threadsStarted']).toBe(0);
    // Threaded (start-waiter) and MultiLoop (wait-pid) report EPERM as host-error; Pidfd's
    // add-child returns -EPERM; Fast's wait-any sweep reaps nothing of it.
    expect(value['core']).toEqual({
      threaded: { rc: 0, pending: 0 }, multiloop: { rc: 0, pending: 0 }, pidfd: { rc: -1, pending: 0 }, fast: { rc: 0, pending: 0 },
    });
    expect(value['reports'].every((r: string) => /^8:\d+:1$/.test(r))).toBe(true);
    // Threaded once (start-waiter), MultiLoop twice (wait-pid at the add and at the sweep).
    expect(value['reports']).toHaveLength(3);
    expect(value['stillZombie']).toBe('Z');
    expect(value['ownRc']).toBe(0);
    expect(value['ownEvent']).toEqual([true, 9]);
    // Control: the same call on a host without the option reaps it.
    expect(value['controlWait']).toBe(true);
  });
});
