// pidfd_open, pidfd_send_signal, close, and the uv_poll watch on a pidfd (one-shot, owning the
// fd): the kernel makes a pidfd readable when the process exits, and it stays readable until the
// child is reaped (level-triggered), hence one-shot.
import { describe, it, expect } from '@jest/globals';
import { existsSync, openSync, closeSync } from 'node:fs';
import { WAIT_RECORD, type NativePoll } from '../../host/addon-types.js';
import { addon, exited, sh, spawnOk, termSigOf } from './helpers.js';

const ESRCH = 3;
const EBADF = 9;
const EPERM = 1;

const fdOpen = (fd: number): boolean => existsSync(`/proc/self/fd/${fd}`);
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('pidfdOpen / pidfdSendSignal', () => {
  it('opens a pidfd for a live child and signals through it', async () => {
    const c = spawnOk('sleep', ['30']);
    const fd = addon.pidfdOpen(c.pid);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(addon.pidfdSendSignal(fd, 0)).toBe(0);
    expect(addon.pidfdSendSignal(fd, 15)).toBe(0);
    await exited(c.pid);
    const out = new Float64Array(WAIT_RECORD);
    expect(addon.waitPidfd(fd, out)).toBe(c.pid);
    expect(termSigOf(out[1]!)).toBe(15);
    expect(addon.pidfdSendSignal(fd, 15)).toBe(-ESRCH); // a recycled pid is never hit
    expect(addon.close(fd)).toBe(0);
    expect(addon.close(fd)).toBe(-EBADF);
  });

  it('is -ESRCH for no such process, and kill() agrees', () => {
    expect(addon.pidfdOpen(0x3ffffff0)).toBe(-ESRCH);
    expect(addon.kill(0x3ffffff0, 0)).toBe(-ESRCH);
    expect(addon.kill(1, 0)).toBe(process.getuid!() === 0 ? 0 : -EPERM);
    expect(() => addon.kill(0, 15)).toThrow(expect.objectContaining({ name: 'RangeError' }));
    expect(() => addon.kill(-5, 15)).toThrow(expect.objectContaining({ name: 'RangeError' }));
    expect(() => addon.pidfdOpen(-1)).toThrow(expect.objectContaining({ name: 'RangeError' }));
  });
});

describe('pollFd on a pidfd', () => {
  it('fires once at exit (one-shot), restart() fires again while unreaped, close() closes the fd', async () => {
    const c = sh('read x', { stdin: 'pipe' });
    const fd = addon.pidfdOpen(c.pid);
    let fired = 0;
    let wake: () => void = () => {};
    const poll = addon.pollFd(fd, true, true, () => { fired++; wake(); }) as NativePoll;
    expect(typeof poll).toBe('object');
    poll.ref();
    await turn();
    await turn();
    expect(fired).toBe(0); // still running: not readable
    addon.close(c.stdin);
    await new Promise<void>((r) => { wake = r; });
    expect(fired).toBe(1);
    await turn();
    await turn();
    expect(fired).toBe(1); // stopped before the callback, though still readable
    expect(poll.restart()).toBe(0);
    await new Promise<void>((r) => { wake = r; });
    expect(fired).toBe(2); // level-triggered: readable until reaped
    const out = new Float64Array(WAIT_RECORD);
    expect(addon.waitPidfd(fd, out)).toBe(c.pid);
    expect(fdOpen(fd)).toBe(true);
    poll.close();
    expect(fdOpen(fd)).toBe(false); // the poll owned the fd
    poll.close(); // idempotent
    poll.ref();
    poll.unref();
    poll.stop();
    expect(poll.restart()).toBe(-EBADF);
  });

  it('without ownsFd, close() leaves the fd open', async () => {
    const c = spawnOk('sleep', ['30']);
    const fd = addon.pidfdOpen(c.pid);
    const poll = addon.pollFd(fd, true, false, () => {}) as NativePoll;
    poll.close();
    expect(fdOpen(fd)).toBe(true);
    addon.pidfdSendSignal(fd, 9);
    await exited(c.pid);
    expect(addon.waitPidfd(fd, new Float64Array(WAIT_RECORD))).toBe(c.pid);
    expect(addon.close(fd)).toBe(0);
  });

  it('stop() silences the poll until restart()', async () => {
    const c = sh('read x', { stdin: 'pipe', wantPidfd: true });
    let fired = 0;
    let wake: () => void = () => {};
    const poll = addon.pollFd(c.pidfd, true, true, () => { fired++; wake(); }) as NativePoll;
    poll.ref();
    poll.stop();
    addon.close(c.stdin);
    await exited(c.pid);
    await turn();
    await turn();
    expect(fired).toBe(0);
    poll.restart();
    await new Promise<void>((r) => { wake = r; });
    expect(fired).toBe(1);
    expect(addon.waitPid(c.pid, new Float64Array(WAIT_RECORD))).toBe(c.pid);
    poll.close();
  });

  it('fails with -EPERM on a regular file and leaves the fd to the caller', () => {
    const fd = openSync('/etc/hostname', 'r');
    expect(addon.pollFd(fd, true, true, () => {})).toBe(-EPERM);
    expect(fdOpen(fd)).toBe(true);
    closeSync(fd);
  });
});

describe('pidfdSet: many pidfds behind one epoll instance', () => {
  const ENOENT = 2;
  // Collects the ids the set reports, callback by callback.
  function newSet(): { set: import('../../host/addon-types.js').NativePidfdSet; got: number[][] } {
    const ids = new Int32Array(2); // small on purpose: three ready members take two callbacks
    const got: number[][] = [];
    const set = addon.pidfdSet(ids, (count) => { got.push([...ids.subarray(0, count)]); });
    if (typeof set === 'number') throw new Error(`pidfdSet: ${set}`);
    return { set, got };
  }

  it('reports each member once, by id, when its child exits (one-shot until rearmed)', async () => {
    const { set, got } = newSet();
    const kids = [spawnOk('sleep', ['30'], { wantPidfd: true }), spawnOk('sleep', ['30'], { wantPidfd: true }),
      spawnOk('sleep', ['30'], { wantPidfd: true }), spawnOk('sleep', ['30'], { wantPidfd: true })];
    // Three exit before they join the set, so they are ready together; the fourth stays.
    for (const k of kids.slice(0, 3)) expect(addon.pidfdSendSignal(k.pidfd, 9)).toBe(0);
    for (const k of kids.slice(0, 3)) await exited(k.pid);
    kids.forEach((k, i) => expect(set.add(k.pidfd, 100 + i)).toBe(0));
    for (let i = 0; i < 20 && got.flat().length < 3; i++) await turn();
    expect(got.flat().sort()).toEqual([100, 101, 102]);
    expect(got.map((ids) => ids.length)).toEqual([2, 1]); // an ids buffer of 2: two callbacks
    // Still readable (not reaped), but one-shot: nothing more until rearmed.
    for (let i = 0; i < 5; i++) await turn();
    expect(got.flat().length).toBe(3);
    expect(set.rearm(kids[0]!.pidfd, 7)).toBe(0);
    for (let i = 0; i < 20 && got.flat().length < 4; i++) await turn();
    expect(got.flat()).toContain(7);
    // remove() closes a member; a non-member is refused and left open.
    const out = new Float64Array(WAIT_RECORD);
    for (const k of kids.slice(0, 3)) {
      expect(addon.waitPidfd(k.pidfd, out)).toBe(k.pid);
      expect(set.remove(k.pidfd)).toBe(0);
      expect(fdOpen(k.pidfd)).toBe(false);
    }
    const other = addon.pidfdOpen(kids[3]!.pid);
    expect(set.remove(other)).toBe(-ENOENT);
    expect(fdOpen(other)).toBe(true);
    // close() closes the members left.
    set.close();
    expect(fdOpen(kids[3]!.pidfd)).toBe(false);
    expect(set.add(other, 1)).toBe(-EBADF);
    expect(addon.pidfdSendSignal(other, 9)).toBe(0);
    await exited(kids[3]!.pid);
    expect(addon.waitPidfd(other, out)).toBe(kids[3]!.pid);
    expect(addon.close(other)).toBe(0);
  });

  it('refuses what it cannot watch, keeping the fd with the caller', () => {
    const { set } = newSet();
    const fd = openSync('/dev/null', 'r');
    try {
      expect(set.add(fd, 1)).toBe(-EPERM); // epoll cannot watch a regular file or /dev/null
      expect(fdOpen(fd)).toBe(true);
      expect(set.add(0x7ffffff0, 1)).toBe(-EBADF);
    } finally {
      closeSync(fd);
      set.close();
    }
    const typeError = expect.objectContaining({ name: 'TypeError' });
    expect(() => addon.pidfdSet(new Int32Array(0), () => {})).toThrow(typeError);
    expect(() => addon.pidfdSet(new Float64Array(4) as unknown as Int32Array, () => {})).toThrow(typeError);
    expect(() => addon.pidfdSet(new Int32Array(4), 1 as unknown as () => void)).toThrow(typeError);
  });
});
