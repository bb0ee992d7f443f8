// host/spawn.ts + addon.spawn: stdio, cwd, env, sessions and groups, closefrom, signal reset,
// executable resolution against the child's PATH, and every failure leaving nothing behind (no
// fd, no child). Every case runs with the three spawn methods: 'clone3' (host/native/spawn_linux.c,
// the default on x86-64 Linux), 'clone' (the same with clone(2), where clone3 is refused) and
// 'posix_spawn' (the fallback), which must be indistinguishable.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveExecutable, spawnNative } from '../../host/spawn.js';
import {
  addon, childPids, exitCodeOf, fdCount, openFds, readAll, reap, request, resultOf, runFixture, sh,
  requestDefaults, spawnOk, termSigOf, writeAll,
} from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'cw-spawn-')));
  writeFileSync(join(dir, 'hello-cw'), '#!/bin/sh\necho "hello from cw"\n');
  chmodSync(join(dir, 'hello-cw'), 0o755);
  writeFileSync(join(dir, 'noexec-cw'), '#!/bin/sh\necho never\n');
  chmodSync(join(dir, 'noexec-cw'), 0o644);
  writeFileSync(join(dir, 'plain-file'), 'x');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['clone3', 'clone', 'posix_spawn'] as const)('spawn method %s', (method) => {
beforeAll(() => { requestDefaults.method = method; });
afterAll(() => { delete requestDefaults.method; });

describe('exit status', () => {
  it('reports the exit code', async () => {
    const c = sh('exit 7');
    expect(c.pid).toBeGreaterThan(0);
    expect(c.pidfd).toBe(-1);
    const r = await reap(c.pid);
    expect(r.pid).toBe(c.pid);
    expect(exitCodeOf(r.status)).toBe(7);
  });

  it('reports the terminating signal', async () => {
    const c = sh('kill -TERM $$; sleep 5');
    const r = await reap(c.pid);
    expect(exitCodeOf(r.status)).toBeNull();
    expect(termSigOf(r.status)).toBe(15);
  });

  it('reports rusage: a busy child shows user CPU and a max RSS', async () => {
    const c = sh('i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done');
    const r = await reap(c.pid);
    expect(exitCodeOf(r.status)).toBe(0);
    expect(r.userMicros).toBeGreaterThan(0);
    expect(r.maxRssKiB).toBeGreaterThan(0);
  });
});

describe('stdio', () => {
  it('round-trips through pipes (net.Socket on the parent ends)', async () => {
    const c = spawnOk('cat', [], { stdin: 'pipe', stdout: 'pipe' });
    expect(c.stdin).toBeGreaterThanOrEqual(3);
    expect(c.stdout).toBeGreaterThanOrEqual(3);
    expect(c.stderr).toBe(-1);
    const out = readAll(c.stdout);
    await writeAll(c.stdin, 'ping\npong\n');
    expect(await out).toBe('ping\npong\n');
    expect(exitCodeOf((await reap(c.pid)).status)).toBe(0);
  });

  it("merges stderr into stdout with 'stdout'", async () => {
    const c = sh('echo out; echo err 1>&2', { stdout: 'pipe', stderr: 'stdout' });
    expect(c.stderr).toBe(-1);
    expect((await readAll(c.stdout)).split('\n').filter(Boolean).sort()).toEqual(['err', 'out']);
    await reap(c.pid);
  });

  it('gives a separate stderr pipe', async () => {
    const c = sh('echo out; echo err 1>&2', { stdout: 'pipe', stderr: 'pipe' });
    const [o, e] = await Promise.all([readAll(c.stdout), readAll(c.stderr)]);
    expect([o, e]).toEqual(['out\n', 'err\n']);
    await reap(c.pid);
  });

  it("connects 'null' to /dev/null and a number to that fd", async () => {
    const file = join(dir, 'out.txt');
    const fd = openSync(file, 'w');
    const c = sh('cat; echo written; readlink /proc/$$/fd/0', { stdin: 'null', stdout: fd });
    closeSync(fd); // the child has its own copy
    await reap(c.pid);
    expect(readFileSync(file, 'utf8')).toBe('written\n/dev/null\n');
  });
});

describe('cwd and env', () => {
  it('runs in the given cwd', async () => {
    const c = sh('pwd', { cwd: dir, stdout: 'pipe' });
    expect(await readAll(c.stdout)).toBe(`${dir}\n`);
    await reap(c.pid);
  });

  it('passes exactly the given environment', async () => {
    const c = sh('echo "$CW_A|$CW_B|${HOME-unset}"', {
      env: { PATH: process.env['PATH'], CW_A: 'a=1', CW_B: 'é', CW_C: undefined }, stdout: 'pipe',
    });
    expect(await readAll(c.stdout)).toBe('a=1|é|unset\n');
    await reap(c.pid);
  });

  it("resolves a bare name against the child's PATH, not the parent's", async () => {
    expect(process.env['PATH']?.split(':')).not.toContain(dir);
    const c = spawnOk('hello-cw', [], { env: { PATH: `${dir}:/usr/bin:/bin` }, stdout: 'pipe' });
    expect(c.file).toBe(join(dir, 'hello-cw'));
    expect(await readAll(c.stdout)).toBe('hello from cw\n');
    await reap(c.pid);
    // ... and a program on the parent's PATH only is not found for the child.
    const r = spawnNative(request('sh', ['-c', 'true'], { env: { PATH: dir } }));
    expect(r).toMatchObject({ errno: 2, code: 'ENOENT', path: 'sh', spawnargs: ['-c', 'true'] });
  });

  it('resolveExecutable: slash paths as is, empty and relative entries against the cwd', () => {
    expect(resolveExecutable('./x', '/bin', null)).toBe('./x');
    expect(resolveExecutable('/abs/x', '/bin', null)).toBe('/abs/x');
    expect(resolveExecutable('hello-cw', '/nonexistent-cw:', dir)).toBe(join(dir, 'hello-cw'));
    expect(resolveExecutable('hello-cw', '.', dir)).toBe(join(dir, 'hello-cw'));
    expect(resolveExecutable('noexec-cw', dir, null)).toBe(join(dir, 'noexec-cw')); // exec says EACCES
    expect(resolveExecutable('missing-cw', dir, null)).toBeNull();
    expect(resolveExecutable('sh', undefined, null)).toMatch(/^\/(usr\/)?bin\/sh$/); // default /bin:/usr/bin
  });
});

describe('sessions and process groups', () => {
  // /proc/<pid>/stat after the comm: state ppid pgrp session
  const ids = (pid: number): { pgrp: number; session: number } => {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { pgrp: Number(f[2]), session: Number(f[3]) };
  };
  const me = ids(process.pid);

  it('setsid: the child leads a new session and group', async () => {
    const c = spawnOk('sleep', ['5'], { setsid: true });
    expect(ids(c.pid)).toEqual({ pgrp: c.pid, session: c.pid });
    expect(addon.killGroup(c.pid, 9)).toBe(0);
    expect(termSigOf((await reap(c.pid)).status)).toBe(9);
  });

  it('pgid 0: a new group led by the child, same session', async () => {
    const c = spawnOk('sleep', ['5'], { pgid: 0 });
    expect(ids(c.pid)).toEqual({ pgrp: c.pid, session: me.session });
    // a second child joins that group
    const d = spawnOk('sleep', ['5'], { pgid: c.pid });
    expect(ids(d.pid).pgrp).toBe(c.pid);
    expect(addon.killGroup(c.pid, 15)).toBe(0);
    expect(termSigOf((await reap(c.pid)).status)).toBe(15);
    expect(termSigOf((await reap(d.pid)).status)).toBe(15);
    expect(addon.killGroup(c.pid, 0)).toBe(-3); // ESRCH: the group is empty
  });

  it('by default the child stays in our group', async () => {
    const c = spawnOk('sleep', ['5']);
    expect(ids(c.pid)).toEqual(me);
    expect(addon.kill(c.pid, 9)).toBe(0);
    await reap(c.pid);
  });
});

describe('hygiene in the child', () => {
  it('resets signal dispositions and the mask (Node ignores SIGPIPE; the child must not)', async () => {
    const mine = readFileSync('/proc/self/status', 'utf8');
    const sigIgn = (s: string): bigint => BigInt(`0x${/SigIgn:\s*([0-9a-f]+)/.exec(s)![1]}`);
    const SIGPIPE_BIT = 1n << 12n;
    expect(sigIgn(mine) & SIGPIPE_BIT).toBe(SIGPIPE_BIT); // what would leak
    const c = sh('exec cat /proc/self/status', { stdout: 'pipe' }); // the exec'd program's own
    const theirs = await readAll(c.stdout);
    await reap(c.pid);
    expect(sigIgn(theirs)).toBe(0n);
    expect(/SigBlk:\s*([0-9a-f]+)/.exec(theirs)![1]).toMatch(/^0+$/);
  });

  it('closefrom(3): an inheritable (non-CLOEXEC) parent fd is absent in the child', async () => {
    // A fresh process whose fds 40 and 41 are inheritable pipes, which spawns `sh` through the
    // addon and, for contrast, through child_process (which relies on CLOEXEC alone).
    const run = await runFixture('host-closefrom.mjs', method === 'clone3' ? {} : { CHILDWATCH_SPAWN: method },
      { pipeFds: [40, 41] });
    const res = resultOf(run);
    expect(res['method']).toBe(method === 'clone3' && process.arch !== 'x64' ? 'clone' : method); // clone3: x86-64 only
    expect(res['inheritable']).toEqual([40, 41]); // the precondition: not CLOEXEC in the fixture
    expect(res['stdoutFd']).toBeGreaterThan(41); // and below the child's stdout source
    expect(res['viaAddon']).toEqual([]);
    expect(res['viaChildProcess']).toEqual(expect.arrayContaining([40, 41])); // the leak we avoid
  });
});

describe('failures leave nothing behind', () => {
  const big = 'x'.repeat(256 * 1024);
  const cases: Array<[string, () => ReturnType<typeof spawnNative>, string, string]> = [
    ['missing file', () => spawnNative(request('/nonexistent-cw/prog', [], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', wantPidfd: true })), 'ENOENT', 'posix_spawn'],
    ['bare name not on PATH', () => spawnNative(request('no-such-program-cw', [], { stdout: 'pipe' })), 'ENOENT', 'posix_spawn'],
    ['not executable', () => spawnNative(request(join(dir, 'noexec-cw'), [], { stdin: 'pipe', stdout: 'pipe' })), 'EACCES', 'posix_spawn'],
    ['a directory', () => spawnNative(request(dir, [], { stdout: 'pipe' })), 'EACCES', 'posix_spawn'],
    ['path through a file', () => spawnNative(request(join(dir, 'plain-file', 'x'), [], { stdout: 'pipe' })), 'ENOTDIR', 'posix_spawn'],
    ['missing cwd', () => spawnNative(request('/bin/sh', ['-c', 'true'], { cwd: join(dir, 'nope'), stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' })), 'ENOENT', 'chdir'],
    ['cwd is a file', () => spawnNative(request('/bin/sh', ['-c', 'true'], { cwd: join(dir, 'plain-file'), stdout: 'pipe' })), 'ENOTDIR', 'chdir'],
    ['argument too long', () => spawnNative(request('/bin/sh', ['-c', 'true', big], { stdin: 'pipe', stdout: 'pipe' })), 'E2BIG', 'posix_spawn'],
    ['bad stdio fd', () => spawnNative(request('/bin/sh', ['-c', 'true'], { stdin: 'pipe', stdout: 987654 })), 'EBADF', 'dup'],
  ];
  it.each(cases)('%s', (_name, attempt, code, syscall) => {
    const fdsBefore = openFds();
    const kidsBefore = childPids();
    const r = attempt();
    expect(openFds()).toEqual(fdsBefore);
    expect(childPids()).toEqual(kidsBefore);
    expect(r).toMatchObject({ code, syscall, errno: expect.any(Number) });
    if ('errno' in r) {
      expect(addon.errname(r.errno)).toBe(code);
      expect(typeof r.path).toBe('string');
      expect(Array.isArray(r.spawnargs)).toBe(true);
    }
  });

  it('NUL bytes are a TypeError before anything is spawned', () => {
    const n = fdCount();
    const kids = childPids();
    const bad: Array<Parameters<typeof request>> = [
      ['sh\0x'], ['sh', ['-c', 'a\0b']], ['sh', [], { cwd: '/tmp\0' }],
      ['sh', [], { env: { A: 'x\0y' } }], ['sh', [], { env: { 'A\0B': 'x' } }], ['sh', [], { argv0: 'a\0' }],
    ];
    for (const args of bad) {
      expect(() => spawnNative(request(...args))).toThrow(expect.objectContaining({
        name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/null bytes/),
      }));
    }
    // The addon checks too, for callers that bypass the wrapper.
    expect(() => addon.spawn({
      file: '/bin/sh', argv: ['sh', 'a\0b'], envp: [], cwd: null, stdin: 'null', stdout: 'null',
      stderr: 'null', setsid: false, pgid: -1, wantPidfd: false,
    })).toThrow(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/argv\[1\].*null bytes/) }));
    expect(fdCount()).toBe(n);
    expect(childPids()).toEqual(kids);
  });

  it('bad option types are a TypeError from the addon', () => {
    const base = {
      file: '/bin/true', argv: ['true'], envp: [], cwd: null, stdin: 'null', stdout: 'null',
      stderr: 'null', setsid: false, pgid: -1, wantPidfd: false,
    };
    for (const over of [{ stdin: 'stdout' }, { stdout: 'bogus' }, { argv: 'true' }, { setsid: 1 }, { file: 3 }]) {
      expect(() => addon.spawn({ ...base, ...over } as never)).toThrow(expect.objectContaining({ name: 'TypeError' }));
    }
  });
});

  it('spawnv (the positional front end) checks its arguments and leaves nothing on a failure', () => {
    const n = fdCount();
    const kids = childPids();
    const out = new Int32Array(5);
    const call = (over: Partial<Record<number, unknown>>): unknown => {
      const a: unknown[] = ['/bin/true', ['true'], null, null, -3, -3, -3, 0, -1, out];
      for (const [i, v] of Object.entries(over)) a[Number(i)] = v;
      return (addon.spawnv as (...x: unknown[]) => unknown)(...a);
    };
    expect(() => call({ 9: new Float64Array(5) })).toThrow(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/Int32Array/) }));
    expect(() => call({ 9: new Int32Array(4) })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => call({ 4: -4 })).toThrow(expect.objectContaining({ name: 'RangeError' })); // 'stdout' is for stderr only
    expect(() => call({ 5: 'null' })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => call({ 7: 16 })).toThrow(expect.objectContaining({ name: 'RangeError' }));
    expect(() => call({ 1: ['true', 'a\0b'] })).toThrow(expect.objectContaining({ message: expect.stringMatching(/argv\[1\].*null bytes/) }));
    expect(() => call({ 3: 5 })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(call({ 0: '/nonexistent-cw/prog', 4: -1, 5: -1, 6: -1 })).toEqual({ errno: 2, code: 'ENOENT', syscall: 'posix_spawn' });
    expect(fdCount()).toBe(n);
    expect(childPids()).toEqual(kids);
  });

describe('pidfd at spawn', () => {
  it('wantPidfd returns a CLOEXEC pidfd for the child', async () => {
    const c = spawnOk('sleep', ['5'], { wantPidfd: true });
    expect(c.pidfd).toBeGreaterThanOrEqual(3);
    const flags = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${c.pidfd}`, 'utf8'))![1]!;
    expect(parseInt(flags, 8) & 0o2000000).toBe(0o2000000);
    expect(readFileSync(`/proc/self/fdinfo/${c.pidfd}`, 'utf8')).toMatch(new RegExp(`Pid:\\s*${c.pid}\\b`));
    expect(addon.pidfdSendSignal(c.pidfd, 9)).toBe(0);
    expect(termSigOf((await reap(c.pid)).status)).toBe(9);
    expect(addon.close(c.pidfd)).toBe(0);
  });
});
});

describe('clone3 and its fallback (fresh processes)', () => {
  // host-clone3.mjs spawns three `sh` children the default way; each reports its signal state and
  // exits 3. A clean child: nothing ignored (Node ignores SIGPIPE and SIGXFSZ), nothing blocked.
  const clean = { status: 3, sigIgn: '0000000000000000', sigBlk: '0000000000000000' };
  const run = async (env: Record<string, string>): Promise<Record<string, unknown>> =>
    resultOf(await runFixture('host-clone3.mjs', env));
  const steady = (fds: unknown): void => {
    expect(new Set(fds as number[]).size).toBe(1); // the same number of fds open after each spawn
  };
  // Only x86-64 has the clone3 entry (spawn_linux.c): elsewhere every spawn is clone(2) and a
  // clone3 fault is never met.
  const x64 = process.arch === 'x64';
  const plain = { before: 'clone', after: 'clone', spawns: [clean, clean, clean], clone3Faults: 0 };

  it('x86-64 Linux >= 5.5 spawns with clone3(CLONE_CLEAR_SIGHAND), and the child is as clean', async () => {
    const res = await run({});
    // Linux 6 here: on x86-64 a 'clone' would mean the fast path was refused and every spawn
    // pays 60 more rt_sigaction calls.
    expect(res).toMatchObject(x64 ? { ...plain, before: 'clone3', after: 'clone3' } : plain);
    steady(res['fds']);
  });

  it('a kernel that refuses clone3 (ENOSYS): the same spawn uses clone(2), and so do all later ones', async () => {
    const res = await run({ CHILDWATCH_FAULTS: 'clone3=ENOSYS:1' });
    expect(res).toMatchObject(x64 ? { before: 'clone3', after: 'clone', spawns: [clean, clean, clean], clone3Faults: 1 } : plain);
    steady(res['fds']);
  });

  it('a seccomp filter refusing clone3 (EPERM) falls back the same way', async () => {
    const res = await run({ CHILDWATCH_FAULTS: 'clone3=EPERM:1' });
    expect(res).toMatchObject(x64 ? { after: 'clone', spawns: [clean, clean, clean], clone3Faults: 1 } : plain);
  });

  it("a real failure of clone3 (EAGAIN) is the spawn's, reported as clone's; the next spawn uses clone3", async () => {
    const res = await run({ CHILDWATCH_FAULTS: 'clone3=EAGAIN:1' });
    expect(res).toMatchObject(x64 ? { after: 'clone3', spawns: ['EAGAIN:clone', clean, clean], clone3Faults: 1 } : plain);
    steady(res['fds']);
  });

  it('CHILDWATCH_SPAWN=clone never tries clone3', async () => {
    const res = await run({ CHILDWATCH_SPAWN: 'clone', CHILDWATCH_FAULTS: 'clone3=EAGAIN' });
    expect(res).toMatchObject(plain);
  });
});
