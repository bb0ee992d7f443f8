// addReader / removeReader on a real pipe: a FIFO made with mkfifo in a temporary directory,
// opened non-blocking at both ends. The reader goes through the addon's uv_poll.
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SelectorEventLoop } from '../../ts-bindings/events.js';
import { getRunningLoop } from '../../ts-bindings/policy.js';

let dir: string;
let rfd: number;
let wfd: number;
let loop: SelectorEventLoop;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'childwatch-loop-'));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  wfd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  loop = new SelectorEventLoop();
});

afterEach(() => {
  if (loop.isRunning()) loop.stop();
  else loop.close();
  closeSync(rfd);
  closeSync(wfd);
  rmSync(dir, { recursive: true, force: true });
});

function readAll(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = readSync(fd, buf, 0, buf.length, null);
  return buf.subarray(0, n).toString();
}

/** Run the loop until pred() holds, checked between iterations. */
async function runUntil(pred: () => boolean): Promise<void> {
  await loop.runUntilComplete(async () => {
    while (!pred()) await new Promise((r) => setTimeout(r, 2));
  });
}

/** Run exactly one iteration of the loop. */
async function oneIteration(): Promise<void> {
  loop.callSoon(() => loop.stop());
  await loop.runForever();
}

describe('readers', () => {
  it('calls the reader on its loop with its arguments when the pipe has data', async () => {
    const got: string[] = [];
    loop.addReader(rfd, (tag: string) => {
      expect(getRunningLoop()).toBe(loop);
      got.push(`${tag}:${readAll(rfd)}`);
    }, 'r');
    writeSync(wfd, 'hello');
    await runUntil(() => got.length > 0);
    expect(got).toEqual(['r:hello']);
  });

  it('is level-triggered: called again while data stays unread', async () => {
    let calls = 0;
    loop.addReader(rfd, () => { calls++; });
    writeSync(wfd, 'x');
    await runUntil(() => calls >= 3);
    expect(readAll(rfd)).toBe('x');
  });

  it('while the loop is stopped, one readiness is held as one callback, not a flood', async () => {
    let calls = 0;
    loop.addReader(rfd, () => { calls++; });
    writeSync(wfd, 'data');
    await new Promise((r) => setTimeout(r, 30)); // Node turns many times; the loop is stopped
    expect(calls).toBe(0);
    await oneIteration();
    expect(calls).toBe(1);
    readAll(rfd);
  });

  it('removeReader: true then false; a removed reader is not called; the fd stays open', async () => {
    let calls = 0;
    loop.addReader(rfd, () => { calls++; });
    expect(loop.removeReader(rfd)).toBe(true);
    expect(loop.removeReader(rfd)).toBe(false);
    writeSync(wfd, 'y');
    await new Promise((r) => setTimeout(r, 20));
    await oneIteration();
    await oneIteration();
    expect(calls).toBe(0);
    expect(fstatSync(rfd).isFIFO()).toBe(true);
    expect(readAll(rfd)).toBe('y');
  });

  it('adding a reader again for the fd replaces the callback', async () => {
    const seen: string[] = [];
    loop.addReader(rfd, () => { seen.push('old'); readAll(rfd); });
    loop.addReader(rfd, () => { seen.push('new'); readAll(rfd); });
    writeSync(wfd, 'z');
    await runUntil(() => seen.length > 0);
    expect(seen).toEqual(['new']);
  });

  it('sends exceptions of the reader to the exception handler', async () => {
    const messages: string[] = [];
    loop.setExceptionHandler((_l, ctx) => { messages.push(ctx.message); loop.removeReader(rfd); });
    loop.addReader(rfd, function badReader() { throw new Error('reader failed'); });
    writeSync(wfd, 'e');
    await runUntil(() => messages.length > 0);
    expect(messages).toEqual(['Exception in callback badReader()']);
  });

  it('closing the loop removes its readers', async () => {
    loop.addReader(rfd, () => {});
    loop.close();
    expect(loop.removeReader(rfd)).toBe(false);
    expect(fstatSync(rfd).isFIFO()).toBe(true);
  });

  it('checks the fd: TypeError for a non-number, RangeError for a negative one', () => {
    expect(() => loop.addReader('3' as unknown as number, () => {})).toThrow(TypeError);
    expect(() => loop.addReader(-1, () => {})).toThrow(RangeError);
    expect(() => loop.addReader(1.5, () => {})).toThrow(RangeError);
    expect(() => loop.addReader(rfd, null as unknown as () => void)).toThrow(TypeError);
  });
});
