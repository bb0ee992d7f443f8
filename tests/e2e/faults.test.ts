// Fault injection on the real host (issue 7, part 2): CHILDWATCH_FAULTS makes chosen syscalls of
// the native addon fail (host/native/childwatch.c documents the syntax), read once at start-up,
// so every case runs tests/fixtures/reliability-faults.ts in a fresh Node process.
// Each case checks the outcome the contract promises and that nothing was left behind (no
// zombie, no fd, no waiter thread), and that the injected fault was really met (faultHits).
import { describe, it, expect } from '@jest/globals';
import { runFixture } from './run-fixture.js';

interface Outcome<T> {
  value: T;
  zombies: number;
  children: number;
  fdDelta: number;
  waiters: number;
  hits: Record<string, number>;
  faults: string;
  debugs: string[];
}

async function faulty<T>(scenario: string, kind: string, faults: string, env: Record<string, string> = {}): Promise<Outcome<T> & { logs: string[]; warnings: string[] }> {
  const r = await runFixture<T>('reliability-faults.js', [scenario, kind], { CHILDWATCH_FAULTS: faults, ...env });
  if (r.error !== undefined) throw new Error(`${scenario}/${kind} failed in the fixture:\n${r.error}\n${r.stderr}`);
  const out = r.result as unknown as Outcome<T>;
  expect(out.faults).toBe(faults); // the spec was accepted
  expect(out.zombies).toBe(0);
  expect(out.children).toBe(0);
  expect(out.fdDelta).toBeLessThanOrEqual(0);
  expect(out.waiters).toBe(0);
  return { ...out, logs: r.logs, warnings: r.warnings };
}

const KINDS = ['threaded', 'multiloop', 'safe', 'fast', 'pidfd'] as const;
const UNKNOWN = (pid: number) => `Unknown child process pid ${pid}, will report returncode 255`;
const PIDFD_READ = (pid: number) => `child process pid ${pid} exit status already read:  will report returncode 255`;

// The Pidfd watcher waits through its pidfd (waitid(P_PIDFD): immune to pid reuse), the others
// with wait4: the fault goes on the call each one makes.
const WAIT_OP = (kind: string): string => (kind === 'pidfd' ? 'waitid' : 'wait4');

describe('EINTR on the wait is retried inside the host and invisible', () => {
  it.each(KINDS)('%s: right codes, no warning, every injected EINTR met', async (kind) => {
    const op = WAIT_OP(kind);
    const r = await faulty<{ codes: number[]; infos: unknown[] }>('eintr', kind, `${op}=EINTR:4`);
    expect(r.value.codes).toEqual([0, 3, 77, -9]);
    expect(r.value.infos).toEqual([true, 9]);
    expect(r.hits[op]).toBe(4);
    expect(r.logs).toEqual([]);
    expect(r.warnings).toEqual([]);
  });
});

describe('ECHILD on the wait: returncode 255, statusKnown false, a warning', () => {
  it.each(['threaded', 'multiloop', 'safe', 'pidfd'] as const)('%s', async (kind) => {
    const op = WAIT_OP(kind);
    const r = await faulty<{ pid: number; rc: number; info: Record<string, unknown>; leftover: number | null }>(
      'echild', kind, `${op}=ECHILD:1`);
    expect(r.value.rc).toBe(255);
    expect(r.value.info).toEqual({
      pid: r.value.pid, returncode: 255, exitCode: null, signal: null, coreDumped: false, statusKnown: false, rusage: null,
    });
    expect(r.logs).toEqual([kind === 'pidfd' ? PIDFD_READ(r.value.pid) : UNKNOWN(r.value.pid)]);
    expect(r.hits[op]).toBe(1);
    // The fault took no status from the kernel: the real one was still there for the fixture.
    expect(r.value.leftover).toBe(3);
  });

  it('fast: wait-any saying "no children" ends one sweep; the next SIGCHLD delivers the real status', async () => {
    const r = await faulty<{ missed: number | null; rcs: number[]; infos: boolean[] }>('echildFast', 'fast', 'wait4=ECHILD:1');
    expect(r.value.missed).toBeNull();
    expect(r.value.rcs).toEqual([3, 4]);
    expect(r.value.infos).toEqual([true, true]);
    expect(r.hits['wait4']).toBe(1);
    expect(r.logs).toEqual([]);
  });
});

describe('EMFILE on pidfd_open: the child falls back to a waiter thread, nothing is lost', () => {
  it('every pidfd_open fails: 21 children, all reported, signals still work', async () => {
    const r = await faulty<{ codes: number[]; term: number; threadsWhileRunning: number; fallbacks: number; registered: number }>(
      'emfile', 'pidfd', 'pidfd_open=EMFILE');
    expect(r.value.codes).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(r.value.term).toBe(-15);
    expect(r.value.threadsWhileRunning).toBeGreaterThanOrEqual(1);
    expect(r.value.fallbacks).toBe(21);
    expect(r.value.registered).toBe(0);
    expect(r.hits['pidfd_open']).toBeGreaterThanOrEqual(21);
  });

  it('some pidfd_open calls fail (EMFILE:5): pidfds and threads mixed, all reported', async () => {
    const r = await faulty<{ codes: number[]; term: number; fallbacks: number }>('emfile', 'pidfd', 'pidfd_open=EMFILE:5');
    expect(r.value.codes).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(r.value.term).toBe(-15);
    expect(r.value.fallbacks).toBeGreaterThanOrEqual(1);
    expect(r.value.fallbacks).toBeLessThan(21);
    expect(r.hits['pidfd_open']).toBe(5);
  });
});

describe('EAGAIN / ENOMEM on spawn: SpawnError, nothing leaked', () => {
  const spawnError = (code: string, errno: number, syscall: string, path: string, spawnargs: string[]) => ({
    name: 'SpawnError', code, errno, syscall, path, spawnargs, isSpawnError: true, isPermissionError: false,
  });
  const cases: [string, string, string, number, string][] = [
    ...KINDS.map((k) => [k, 'spawn=EAGAIN:3', 'EAGAIN', 11, 'posix_spawn'] as [string, string, string, number, string]),
    ['pidfd', 'spawn=ENOMEM:3', 'ENOMEM', 12, 'posix_spawn'],
    ['threaded', 'spawn=ENOMEM:3', 'ENOMEM', 12, 'posix_spawn'],
    ['pidfd', 'pipe2=EMFILE:3', 'EMFILE', 24, 'pipe2'],
  ];
  it.each(cases)('%s with %s', async (kind, faults, code, errno, syscall) => {
    const r = await faulty<Record<string, any>>('spawnFails', kind, faults);
    expect(r.value['exec']).toEqual(spawnError(code, errno, syscall, '/bin/echo', ['hi']));
    expect(r.value['afterExec']).toEqual({ fdDelta: 0, children: 0, registered: 0, waiters: 0 });
    expect(r.value['loopReleased']).toBe(true);
    expect(r.value['spawnChild']).toEqual(spawnError(code, errno, syscall, '/bin/echo', ['x']));
    expect(r.value['afterSpawnChild']).toEqual({ fdDelta: 0, children: 0 });
    expect(r.value['loopExec']).toEqual(spawnError(code, errno, syscall, '/bin/echo', ['x']));
    expect(r.value['made']).toEqual([]);
    expect(r.value['next']).toBe(5);
    expect(r.hits[faults.split('=')[0]!]).toBe(3);
  });
});

describe('EPERM on signals: PermissionError with code EPERM, never a hang', () => {
  const permission = { name: 'PermissionError', code: 'EPERM', errno: 1, syscall: undefined, path: undefined, spawnargs: undefined, isSpawnError: false, isPermissionError: true };
  it.each([
    ['through pidfd_send_signal', 'pidfd', {}],
    ['through kill(2) (no pidfd)', 'threaded', { CHILDWATCH_NO_PIDFD: '1' }],
  ] as [string, string, Record<string, string>][])('%s', async (_how, kind, env) => {
    const r = await faulty<{ errors: Record<string, unknown>; hits: number; rc: number; trc: number }>('eperm', kind, 'kill=EPERM:6', env);
    expect(r.value.errors).toEqual({
      sendSignal: permission, terminate: permission, kill: permission, killGroup: permission,
      terminateGrace: permission, 'transport.sendSignal': permission,
    });
    expect(r.value.hits).toBe(6);
    expect(r.value.rc).toBe(-9);
    expect(r.value.trc).toBe(-9);
  });
});

describe('EAGAIN on the waiter thread (Threaded)', () => {
  it('logs host-error, retries the start with the next registration, and both exits arrive', async () => {
    const r = await faulty<{ rcs: number[] }>('threadEagain', 'threaded', 'thread=EAGAIN:1');
    expect(r.value.rcs).toEqual([1, 2]);
    expect(r.hits['thread']).toBe(1);
    expect(r.logs).toHaveLength(1);
    expect(r.logs[0]).toMatch(/^child watcher: host call for pid \d+ failed with errno 11$/);
  });
});

describe('liveness without faults', () => {
  it('MultiLoop: a child registered while inactive that exits before attachLoop is reported by the activating attach', async () => {
    const r = await runFixture<Record<string, unknown>>('reliability-faults.js', ['inactiveMultiLoop', 'multiloop']);
    if (r.error !== undefined) throw new Error(`${r.error}\n${r.stderr}`);
    expect(r.result!.value).toEqual({ neverAttached: 6, afterClose: 6 });
    expect(r.result!.zombies).toBe(0);
  });
});
