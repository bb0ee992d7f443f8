// The `childwatch` command run as a real process: exit codes, signals, rusage, and `init`
// reaping an orphaned grandchild as a subreaper.
import { describe, it, expect } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../e2e/run-fixture.js';

const CLI = join(ROOT, 'dist', 'ts-bindings', 'cli.js');

function cli(args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: string }) | null;
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

function ppidOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

describe('childwatch run', () => {
  it("exits with the child's code and reports it on stderr", async () => {
    const r = await cli(['run', '--', 'sh', '-c', 'exit 3']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/exited with code 3/);
    expect(r.stderr).toMatch(/user \d+\.\d{3}s {2}system \d+\.\d{3}s {2}max RSS \d+ KiB {2}wall \d+\.\d{3}s/);
  });

  it.each(['pidfd', 'threaded', 'safe', 'fast', 'multiloop'])('exits with 128 + signal when the child is killed (%s)', async (w) => {
    const r = await cli(['run', '--watcher', w, '--json', '--', 'sh', '-c', 'kill -9 $$']);
    expect(r.code).toBe(137);
    const info = JSON.parse(r.stderr.trim().split('\n').pop()!);
    expect(info).toMatchObject({ returncode: -9, signal: 9, exitCode: null, statusKnown: true, watcher: w });
  });

  it('reports user CPU time for a busy child (rusage from wait4)', async () => {
    const r = await cli(['run', '--json', '--', 'sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stderr.trim().split('\n').pop()!);
    expect(info.rusage.userMicros).toBeGreaterThan(10000);
    expect(info.rusage.userMicros + info.rusage.systemMicros).toBeLessThanOrEqual(info.wallSeconds * 1e6 * 2 + 10000);
  });

  it('rejects unknown options and commands with a usage message', async () => {
    const r = await cli(['run', '--watcher', 'nope', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown watcher 'nope'/);
    const r2 = await cli(['frobnicate']);
    expect(r2.code).toBe(2);
    const r3 = await cli(['run', '--', '/nonexistent/x']);
    expect(r3.code).toBe(127);
  });
});

describe('childwatch init', () => {
  it('adopts and reaps an orphaned grandchild as a subreaper, leaving no zombie', async () => {
    const child = spawn(process.execPath, [CLI, 'init', '--wait-all', '--verbose', '--', 'sh', '-c', 'sleep 0.3 & echo $!; exit 0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const grandchild = await new Promise<number>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('\n')) resolve(Number(stdout.trim()));
      });
    });
    // While the orphan lives it belongs to init (the subreaper), not to the system's init.
    let adoptedBy: number | null = null;
    for (let i = 0; i < 100 && adoptedBy !== child.pid; i++) {
      adoptedBy = ppidOf(grandchild);
      if (adoptedBy !== child.pid) await new Promise((r) => setTimeout(r, 5));
    }
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(adoptedBy).toBe(child.pid);
    expect(code).toBe(0);
    expect(stderr).toContain(`reaped orphan pid ${grandchild} (returncode 0)`);
    expect(ppidOf(grandchild)).toBeNull();
  });

  it.each([[false], [true]])('forwards SIGTERM to the command (group: %s) and exits with its code', async (group) => {
    const args = [CLI, 'init', ...(group ? ['--group'] : []), '--', 'sh', '-c', 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); }));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(42);
  });
});
