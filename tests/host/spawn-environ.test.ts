// The child's environment when the caller gives process.env (the default of the subprocess API).
// Node's own process.env on the main thread *is* the C environment, so host/spawn.ts passes
// `envp: null` and the addon hands `environ` to posix_spawn (no per-spawn copy of process.env in
// JavaScript). Anything else that stands for process.env (a Worker's private copy, a plain object
// assigned to process.env, jest's stand-in) is copied into envp. Either way the child sees
// process.env as it is at the moment of the spawn.
import { describe, it, expect } from '@jest/globals';
import { isProcessEnviron } from '../../host/spawn.js';
import { exitCodeOf, readAll, reap, resultOf, runFixture, sh } from './helpers.js';

describe('env = process.env', () => {
  it('in a fresh process: Node\'s store goes as environ, every other stand-in as a copy', async () => {
    const res = resultOf(await runFixture('host-environ.mjs'));
    expect(res).toEqual({
      realStore: true,
      initial: 'unset|unset',
      set: 'one|unset',
      changed: 'two|b=é',
      deleted: 'unset|b=é',
      envpNull: 'unset|b=é',
      worker: { out: 'worker-copy|set-in-worker', status: 0, real: false },
      replacedStore: false,
      replaced: 'replaced|b=é',
      frozenStore: false,
      frozen: 'frozen|b=é',
    });
  });

  it("under jest (whose process.env is a stand-in), the child sees the stand-in's changes", async () => {
    expect(isProcessEnviron(process.env)).toBe(false);
    const show = async (): Promise<string> => {
      const c = sh('printf "%s" "${CW_ENVIRON_J-unset}"', { stdout: 'pipe' });
      const out = await readAll(c.stdout);
      expect(exitCodeOf((await reap(c.pid)).status)).toBe(0);
      return out;
    };
    try {
      expect(await show()).toBe('unset');
      process.env['CW_ENVIRON_J'] = 'jest';
      expect(await show()).toBe('jest');
    } finally {
      delete process.env['CW_ENVIRON_J'];
    }
  });

  it('probing a stand-in leaves no trace on it; other objects are not even probed', () => {
    expect(isProcessEnviron(process.env)).toBe(false);
    expect(Reflect.ownKeys(process.env).filter((k) => typeof k === 'symbol')).toEqual([]);
    expect(isProcessEnviron({ PATH: '/bin' })).toBe(false);
  });
});
