// A loop keeps Node alive only while it runs: a process whose loops are idle, stopped or closed
// ends by itself (tests/fixtures/loop-keepalive.mjs, on the compiled library).
import { describe, it, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('../fixtures/loop-keepalive.mjs', import.meta.url));

describe('keeping the process alive', () => {
  it('idle, stopped and closed loops and a finished run() let the process end by itself; dropped loops are collected', () => {
    const child = spawnSync(process.execPath, ['--expose-gc', fixture], { encoding: 'utf8', timeout: 20000 });
    expect(child.error).toBeUndefined();
    expect(child.signal).toBeNull(); // not killed by the timeout
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('done\n');
    expect(child.status).toBe(0);
  });
});
