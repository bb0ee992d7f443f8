// Capturing a child's output through the addon's pipe reader (Process.stdout/stderr,
// communicate(), the protocol's read pipes), each scenario in a fresh Node process
// (tests/fixtures/e2e-capture.ts). Every scenario must leave no zombie and no fd behind.
import { describe, it, expect } from '@jest/globals';
import { runFixture } from './run-fixture.js';

async function scenario<T>(name: string, watcher?: string, env: Record<string, string> = {}): Promise<T> {
  const r = await runFixture<T>('e2e-capture.js', watcher === undefined ? [name] : [name, watcher], env);
  if (r.error !== undefined) throw new Error(`${name} failed in the fixture:\n${r.error}\n${r.stderr}`);
  expect(r.result!.zombies).toBe(0);
  expect((r.result as unknown as { fdDelta: number }).fdDelta).toBeLessThanOrEqual(0);
  return r.result!.value;
}

describe('capturing output', () => {
  it.each(['pidfd', 'fast', 'threaded'])('moves 1.3 MB (many pipefuls) through communicate() and through the stream: %s', async (w) => {
    const v = await scenario<{ length: number; communicate: boolean; stream: boolean; chunks: number }>('large', w);
    expect(v.length).toBe(1288895);
    expect(v.communicate).toBe(true);
    expect(v.stream).toBe(true);
    expect(v.chunks).toBeGreaterThan(1);
  });

  it('gives empty Buffers (not null) for no output, and a stream that just ends', async () => {
    const v = await scenario<Record<string, unknown>>('empty');
    expect(v).toEqual({ communicate: [true, 0, true, 0], stream: 0, after: [0, 0] });
  });

  it('joins output written in many pieces; the stream gets each piece', async () => {
    const v = await scenario<Record<string, unknown>>('manyReads');
    expect(v).toEqual({ communicate: true, err: 0, stream: ['got0\n', 'got1\n', 'got2\n', 'got3\n', 'got4\n'] });
  });

  it('keeps stdout and stderr apart when both are piped, and in order when merged with STDOUT', async () => {
    const v = await scenario<Record<string, unknown>>('interleaved');
    expect(v).toEqual({ out: true, err: true, merged: true, mergedErr: null, stderrNull: true });
  });

  it('completes a stream the user partly read (once, touched late, read(3)) with communicate()', async () => {
    const v = await scenario<Record<string, unknown>>('partial');
    expect(v['once']).toEqual(['first\n', 'rest-go\n', 'err-go\n']);
    expect(v['touchedLate']).toEqual([true, 'abc', 'def']);
    expect(v['read3']).toEqual(['abc', 'defghi']);
  });

  it('hands the bytes to one consumer only', async () => {
    const v = await scenario<Record<string, unknown>>('oneConsumer');
    expect(v).toEqual({ first: 'hi\n', late: 0, second: 0, concurrent: ['twice\n', ''], during: 0, o3: 'during\n' });
  });

  it('EOF before the exit: every pipe lost before processExited, connectionLost last', async () => {
    const v = await scenario<{ calls: string[]; out: string; err: string; rc: number; communicate: unknown[] }>('eofBeforeExit');
    const c = v.calls;
    expect(c.indexOf('lost1')).toBeLessThan(c.indexOf('exited'));
    expect(c.indexOf('lost2')).toBeLessThan(c.indexOf('exited'));
    expect(c.indexOf('data1')).toBeLessThan(c.indexOf('lost1'));
    expect(c.indexOf('data2')).toBeLessThan(c.indexOf('lost2'));
    expect(c[0]).toBe('made');
    expect(c[c.length - 1]).toBe('conn-lost');
    expect([v.out, v.err, v.rc]).toEqual(['out\n', 'err\n', 5]);
    expect(v.communicate).toEqual(['out\n', 5]);
  });

  it('EOF after the exit: data still comes, connectionLost waits for the pipe, wait() does not', async () => {
    const v = await scenario<{ calls: string[]; out: string; rc: number; communicate: unknown[]; order: string[] }>('eofAfterExit');
    const c = v.calls;
    expect(c.indexOf('exited')).toBeLessThan(c.indexOf('lost1'));
    expect(c.lastIndexOf('data1')).toBeLessThan(c.indexOf('lost1'));
    expect(c.lastIndexOf('data1')).toBeGreaterThan(c.indexOf('exited'));
    expect(c[c.length - 1]).toBe('conn-lost');
    expect([v.out, v.rc]).toEqual(['early\nlate-a\n', 3]);
    expect(v.communicate).toEqual(['early\nlater-b\n', 3]);
    expect(v.order).toEqual(['wait', 'communicate']);
  });

  it('returns what was read from a child killed while writing (waiting, unclaimed, streaming)', async () => {
    const v = await scenario<Record<string, unknown>>('killedMidWrite');
    expect(v).toEqual({ whole: [true, true, -9], unclaimed: [true, true, -9], streamed: [true, true, -9] });
  });

  it('holds output nobody reads yet, then gives all of it to communicate()', async () => {
    const v = await scenario<Record<string, unknown>>('unclaimedLimit');
    expect(v).toEqual({ same: true, rc: 0 });
  });

  it('calls the protocol in order with every byte; pauseReading holds data back', async () => {
    const v = await scenario<Record<string, any>>('protocolOrder');
    expect(v['calls'][0]).toBe('made');
    expect(v['calls'].slice(1).sort()).toEqual(['conn-lost', 'exited', 'lost1', 'lost2']);
    expect(v['calls'][v['calls'].length - 1]).toBe('conn-lost');
    expect(v['firstData']).toEqual([true, true]);
    expect(v['lastData']).toEqual([true, true]);
    expect([v['out'], v['err'], v['rc']]).toEqual([true, true, 0]);
    expect(v['whilePaused']).toBe(0);
    expect(v['paused']).toBe(true);
    expect(v['calls2']).toEqual(['made', 'exited', 'lost1', 'conn-lost']);
    expect(v['closing']).toBe(true);
  });

  it('reports a failing read: the pipe is lost, communicate() rejects with EIO, nothing leaks', async () => {
    const v = await scenario<Record<string, any>>('readError', undefined, { CHILDWATCH_FAULTS: 'read=EIO:2' });
    const c = v['calls'] as string[];
    // The loss and the exit may come in either order; connectionLost waits for both.
    expect([c[0], c[c.length - 1], c.slice(1, -1).sort()]).toEqual(['made', 'conn-lost', ['exited', 'lost1']]);
    expect({ ...v, calls: undefined }).toEqual({
      calls: undefined,
      error: { name: 'Error', code: 'EIO', errno: -5, syscall: 'read' },
      next: 'fine\n',
      hits: { read: 2 },
    });
  });

  it('closes the reader of a terminated Worker and reaps its child', async () => {
    const v = await scenario<Record<string, unknown>>('workerGone');
    expect(v).toEqual({ pid: true, fdDelta: 0, child: false });
  });
});
