// Coexistence with node:child_process. libuv reaps only its own children, by pid, so it never
// takes ours; a wait-any of ours, on the other hand, takes libuv's (FastChildWatcher's contract:
// it reaps every child), and that ChildProcess then never emits 'exit'.
import { describe, it, expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import { addon, exited, exitCodeOf, resultOf, runFixture, sh } from './helpers.js';
import { WAIT_RECORD } from '../../host/addon-types.js';

describe('with child_process', () => {
  it("libuv never reaps our children: both exits are seen by their own owner", async () => {
    const ours = sh('exit 5');
    const theirs = spawn('/bin/sh', ['-c', 'exit 6'], { stdio: 'ignore' });
    const theirExit = new Promise<number | null>((resolve) => theirs.on('exit', (code) => resolve(code)));
    await exited(ours.pid);
    expect(await theirExit).toBe(6); // libuv handled SIGCHLD after ours exited too ...
    const out = new Float64Array(WAIT_RECORD);
    expect(addon.waitPid(ours.pid, out)).toBe(ours.pid); // ... and left our zombie alone
    expect(exitCodeOf(out[1]!)).toBe(5);
  });

  it("a wait-any steals child_process's child, which then never emits 'exit' (fresh process)", async () => {
    const res = resultOf(await runFixture('host-coexist.mjs'));
    expect(res).toEqual({ stolen: 6, exitEvents: 0, exitCode: null });
  });
});
