// Shared helpers for the host tests (not a test file). Real children only.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { addon } from '../../host/addon.js';
import { WAIT_RECORD, type NativeStdio } from '../../host/addon-types.js';
import { spawnNative, type SpawnRequest, type SpawnResult, type SpawnSuccess } from '../../host/spawn.js';

export { addon };

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Defaults every request() starts from: spawn.test.ts sets `method` to run its cases both ways. */
export const requestDefaults: Partial<SpawnRequest> = {};

export function request(program: string, args: string[] = [], over: Partial<SpawnRequest> = {}): SpawnRequest {
  return {
    program, args, env: process.env, cwd: null,
    stdin: 'null' as NativeStdio, stdout: 'null' as NativeStdio, stderr: 'inherit' as NativeStdio,
    setsid: false, pgid: -1, wantPidfd: false, ...requestDefaults, ...over,
  };
}

export function spawnOk(program: string, args: string[] = [], over: Partial<SpawnRequest> = {}): SpawnSuccess {
  const r: SpawnResult = spawnNative(request(program, args, over));
  if ('errno' in r) throw new Error(`spawn ${program} failed: ${r.code} (${r.syscall})`);
  return r;
}

export function sh(script: string, over: Partial<SpawnRequest> = {}): SpawnSuccess {
  return spawnOk('sh', ['-c', script], over);
}

/** Resolves when `pid` has exited (its pidfd is readable); does not reap it. */
export function exited(pid: number): Promise<void> {
  const fd = addon.pidfdOpen(pid);
  if (fd < 0) throw new Error(`pidfd_open(${pid}) = ${fd}`);
  return new Promise((resolve, reject) => {
    const poll = addon.pollFd(fd, true, true, () => {
      if (typeof poll !== 'number') poll.close();
      resolve();
    });
    if (typeof poll === 'number') {
      addon.close(fd);
      reject(new Error(`pollFd = ${poll}`));
    } else {
      poll.ref(); // keep jest's process waiting for it
    }
  });
}

export interface Reaped { pid: number; status: number; userMicros: number; systemMicros: number; maxRssKiB: number }

/** Wait for `pid` to exit, then reap it with waitPid. */
export async function reap(pid: number): Promise<Reaped> {
  await exited(pid);
  const out = new Float64Array(WAIT_RECORD);
  const r = addon.waitPid(pid, out);
  if (r !== pid) throw new Error(`waitPid(${pid}) = ${r}`);
  return { pid: out[0]!, status: out[1]!, userMicros: out[2]!, systemMicros: out[3]!, maxRssKiB: out[4]! };
}

export const exitCodeOf = (status: number): number | null => ((status & 0x7f) === 0 ? (status >> 8) & 0xff : null);
export const termSigOf = (status: number): number | null =>
  ((status & 0x7f) !== 0 && (status & 0x7f) !== 0x7f ? status & 0x7f : null);

/** Everything read from `fd` until EOF, through a net.Socket (which takes and closes the fd). */
export function readAll(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new Socket({ fd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Write `data` to `fd` and close it, through a net.Socket. */
export function writeAll(fd: number, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = new Socket({ fd, readable: false, writable: true });
    s.on('error', reject);
    s.end(data, () => resolve());
  });
}

export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

export function openFds(): Set<string> {
  return new Set(readdirSync('/proc/self/fd'));
}

/** The state letter of /proc/<pid>/stat ('R', 'S', 'Z'...), or null if there is no such process. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] ?? null;
  } catch {
    return null;
  }
}

/** Poll until `cond()` holds or `limitMs` passes; returns whether it held. Not a timing assertion. */
export async function eventually(cond: () => boolean, limitMs = 10000): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

export interface FixtureRun { code: number | null; signal: string | null; stdout: string; stderr: string }

/**
 * Run tests/fixtures/<name> with plain node in a fresh process (for process-wide state).
 * `pipeFds` gives the fixture a pipe at each of those fd numbers (> 2). Node marks the fds it
 * inherits CLOEXEC at startup up to the first gap after fd 15 (uv_disable_stdio_inheritance), so
 * an fd that must stay inheritable in the fixture needs a number past such a gap (e.g. 40).
 */
export function runFixture(name: string, env: Record<string, string> = {},
  opts: { timeoutMs?: number; pipeFds?: number[] } = {}): Promise<FixtureRun> {
  const file = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  const stdio: Array<'pipe' | 'ignore'> = ['ignore', 'pipe', 'pipe'];
  for (const fd of opts.pipeFds ?? []) {
    while (stdio.length < fd) stdio.push('ignore');
    stdio[fd] = 'pipe';
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', file], {
      cwd: ROOT, env: { ...process.env, ...env }, stdio,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const s of child.stdio.slice(3)) (s as NodeJS.ReadableStream & { destroy?: () => void } | null)?.destroy?.();
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The last line of a fixture's stdout, parsed as JSON (fixtures print one result object). */
export function resultOf(run: FixtureRun): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  } catch {
    throw new Error(`fixture printed no JSON result (code ${run.code}, signal ${run.signal}):\n${run.stdout}\n${run.stderr}`);
  }
}

/** Our live or zombie children, from /proc/self/task/<tid>/children of every thread. */
export function childPids(): number[] {
  const pids: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      for (const p of readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
        if (p !== '') pids.push(Number(p));
      }
    } catch { /* thread gone */ }
  }
  return pids.sort((a, b) => a - b);
}
