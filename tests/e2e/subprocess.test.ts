// The subprocess API with real children, each scenario in a fresh Node process
// (tests/fixtures/e2e-subprocess.ts).
import { describe, it, expect } from '@jest/globals';
import { runFixture } from './run-fixture.js';

async function scenario<T>(name: string, watcher?: string, env: Record<string, string> = {}): Promise<{ value: T; logs: string[] }> {
  const r = await runFixture<T>('e2e-subprocess.js', watcher === undefined ? [name] : [name, watcher], env);
  if (r.error !== undefined) throw new Error(`${name} failed in the fixture:\n${r.error}\n${r.stderr}`);
  expect(r.result!.zombies).toBe(0);
  expect((r.result as unknown as { fdDelta: number }).fdDelta).toBeLessThanOrEqual(0);
  return { value: r.result!.value, logs: r.logs };
}

describe('subprocesses', () => {
  it('works with no set-up: the default policy gives PidfdChildWatcher', async () => {
    const { value } = await scenario<Record<string, unknown>>('noSetup');
    expect(value).toEqual({ out: 'hi\n', err: '', rc: 0, watcher: 'PidfdChildWatcher', pidfd: true });
  });

  it('falls back to ThreadedChildWatcher with CHILDWATCH_NO_PIDFD=1', async () => {
    const { value } = await scenario<Record<string, unknown>>('noPidfdFallback', undefined, { CHILDWATCH_NO_PIDFD: '1' });
    expect(value).toEqual({ watcher: 'ThreadedChildWatcher', isThreaded: true, isPidfd: false, canUse: false, rc: 3 });
  });

  it('connects stdin/stdout/stderr as PIPE, STDOUT and DEVNULL; env and cwd', async () => {
    const { value } = await scenario<Record<string, unknown>>('stdio');
    expect(value['both']).toEqual(['out\n', 'err\n', 2]);
    expect(value['merged']).toEqual([',err,out', null, true]);
    expect(value['devnull']).toEqual([null, null, true, true]);
    expect(value['cat']).toEqual(['hello', null]);
    expect(value['unreadInput']).toEqual([null, null, 0]);
    expect(value['env']).toBe('ONLY=this\n');
    expect(value['cwd']).toBe('/tmp\n');
  });

  it('moves 8 MiB through cat and large output on both pipes without deadlock', async () => {
    const { value } = await scenario<Record<string, unknown>>('bigPipe');
    expect(value).toEqual({ same: true, length: 8 << 20, err: 0, both: [4000000, 4000000] });
  });

  it('wait() does not wait for a grandchild holding stdout (gh-119710)', async () => {
    const { value } = await scenario<{ rc: number; order: string[] }>('grandchild');
    expect(value.rc).toBe(3);
    expect(value.order[0]).toBe('wait');
  });

  it('communicate() after the exit, when an empty pipe already closed, does not hang', async () => {
    const { value } = await scenario<string[]>('communicateLate');
    expect(value).toEqual(['late\n', '']);
  });

  it('gives concurrent wait() calls the same value (one promise, also when first asked after the exit)', async () => {
    const { value } = await scenario<Array<number | boolean>>('concurrentWaits');
    expect(value).toEqual([9, 9, 9, true, 4, true]);
  });

  it('rejects with SpawnError for every failure, leaking nothing', async () => {
    const { value } = await scenario<{ out: Record<string, any>; fdLeak: number; children: number }>('spawnErrors');
    const o = value.out;
    expect(o['enoent']).toMatchObject({ name: 'SpawnError', code: 'ENOENT', errno: 2, path: '/nonexistent/program', spawnargs: ['a'] });
    expect(typeof o['enoent'].syscall).toBe('string');
    expect(o['eacces']).toMatchObject({ name: 'SpawnError', code: 'EACCES', errno: 13 });
    expect(o['enotdir']).toMatchObject({ name: 'SpawnError', code: 'ENOTDIR' });
    expect(o['cwd']).toMatchObject({ name: 'SpawnError', code: 'ENOENT' });
    expect(o['e2big']).toMatchObject({ name: 'SpawnError', code: 'E2BIG' });
    expect(o['path']).toMatchObject({ name: 'SpawnError', code: 'ENOENT', path: 'no-such-program-childwatch' });
    expect(o['nul:/bin/echo']).toBe('TypeError');
    expect(o['nul:/bin/ech\0o']).toBe('TypeError');
    expect(o['spawnChild']).toMatchObject({ name: 'SpawnError', code: 'ENOENT' });
    expect(value.fdLeak).toBe(0);
    expect(value.children).toBe(0);
  });

  it('calls the protocol in order; closing a running child kills it (-9)', async () => {
    const { value } = await scenario<{ calls: string[]; rc: number; closing: boolean; rc2: number; calls2: string[] }>('protocol');
    const c = value.calls;
    expect(c[0]).toBe('made');
    expect(c[c.length - 1]).toBe('conn-lost');
    expect(c.filter((x) => x === 'exited')).toHaveLength(1);
    expect(c.indexOf('data1:a')).toBeLessThan(c.indexOf('lost1'));
    expect(c.indexOf('data2:b')).toBeLessThan(c.indexOf('lost2'));
    expect(value.rc).toBe(4);
    expect(value.closing).toBe(true);
    expect(value.rc2).toBe(-9);
    expect(value.calls2).toEqual(['exited', 'conn-lost']);
  });

  it('signals by name; ProcessLookupError once reaped; bad names are RangeError', async () => {
    const { value } = await scenario<{ rc: number; after: Record<string, unknown>; badSig: string }>('signals');
    expect(value.rc).toBe(-10);
    expect(value.after).toMatchObject({ name: 'ProcessLookupError', code: 'ESRCH' });
    expect(value.badSig).toBe('RangeError');
  });

  it('spawns nothing when the watcher is inactive (enter, isActive, exit)', async () => {
    const { value } = await scenario<{ seen: string[]; error: Record<string, unknown>; spawned: number }>('inactive');
    expect(value.seen).toEqual(['enter', 'isActive', 'exit']);
    expect(value.error).toMatchObject({ name: 'RuntimeError', message: 'asyncio.get_child_watcher() is not activated, subprocess support is not installed.' });
    expect(value.spawned).toBe(0);
  });

  it.each(['threaded', 'multiloop', 'safe', 'fast', 'pidfd'])('communicates through every watcher: %s', async (w) => {
    const { value } = await scenario<Record<string, any>>('withWatcher', w);
    expect(value['out']).toBe('got line\n');
    expect(value['err']).toBe('e\n');
    expect(value['rc']).toBe(6);
    expect(value['info']).toMatchObject({ returncode: 6, exitCode: 6, statusKnown: true });
  });
});

describe('beyond CPython: graceful termination and process groups', () => {
  it('terminate({ graceMs }) lets a trapping child exit and SIGKILLs one that ignores SIGTERM', async () => {
    const { value } = await scenario<{ trapped: number; ignored: number; badGrace: string }>('graceful');
    expect(value).toEqual({ trapped: 7, ignored: -9, badGrace: 'RangeError' });
  });

  it('killGroup signals the whole group, and needs a group leader', async () => {
    const { value } = await scenario<{ rc: number; memberGone: boolean; noGroup: string }>('killGroup');
    expect(value).toEqual({ rc: -15, memberGone: true, noGroup: 'RuntimeError' });
  });
});
