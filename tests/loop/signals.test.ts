// addSignalHandler / removeSignalHandler with real signals (process.kill(process.pid, 'SIGUSR2')),
// in a fresh Node process because signal dispositions are process-wide
// (tests/fixtures/loop-signals.mjs, on the compiled library: `npm run build:ts` first).
import { describe, it, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('../fixtures/loop-signals.mjs', import.meta.url));

describe('signal handlers', () => {
  it('receive real signals on their loop, coexist, replace, remove, and close with the loop', () => {
    const child = spawnSync(process.execPath, [fixture], { encoding: 'utf8', timeout: 20000 });
    expect(child.error).toBeUndefined();
    expect(child.stderr).toBe('');
    expect(child.signal).toBeNull(); // it ended by itself (not killed by the timeout or a signal)
    expect(child.status).toBe(0);
    const res = JSON.parse(child.stdout.trim().split('\n').pop()!);
    expect(res.aGotIt).toBe(true);
    expect(res.nodeListenerGotIt).toBe(true);
    expect(res.bHeldWhileStopped).toBe(true);
    expect(res.bGotItWhenRun).toBe(true);
    expect(res.calls).toEqual([['a', 1, 'two', true], ['b', true]]);
    expect(res.replaced).toEqual(['replacement']);
    expect(res.removeFirst).toBe(true);
    expect(res.removeAgain).toBe(false);
    expect(res.afterRemove).toEqual([]);
    expect(res.nodeListenerCount).toBe(3);
    expect(res.handled).toEqual([[true, 'Exception in callback onUsr2()', 'from signal']]);
    const { bad } = res;
    expect(bad.name.name).toBe('TypeError');
    for (const k of ['zero', 'negative', 'fraction', 'big', 'glibc']) {
      expect({ k, name: bad[k].name }).toEqual({ k, name: 'RangeError' });
    }
    expect(bad.zero.message).toBe('sig must be a valid signal number, got 0 (invalid signal number)');
    expect(bad.object.name).toBe('TypeError');
    expect(bad.kill).toEqual({ name: 'RuntimeError', message: 'sig 9 cannot be caught' });
    expect(bad.stop).toEqual({ name: 'RuntimeError', message: 'sig 19 cannot be caught' });
    expect(res.removeBad.name).toBe('TypeError');
    expect(res.afterClose).toEqual([]);
    expect(res.removeOnClosed).toBe(false);
    expect(res.sighupCaught).toBe(true);
  });
});
