// Policies are per thread: inside a real worker_threads Worker there is no implicit loop
// ("There is no current event loop in thread 'Worker-<id>'."), signal handlers are refused, and
// run() works while the main thread runs a loop of its own. Runs the compiled library
// (tests/fixtures/loop-worker.mjs imports dist/; `npm run build:ts` first).
import { describe, it, expect } from '@jest/globals';
import { Worker } from 'node:worker_threads';
import { SelectorEventLoop } from '../../ts-bindings/events.js';
import { getRunningLoop } from '../../ts-bindings/policy.js';

const fixture = new URL('../fixtures/loop-worker.mjs', import.meta.url);

describe('policy in a Worker thread', () => {
  it('follows the rules of a non-main thread while the main thread runs its own loop', async () => {
    const main = new SelectorEventLoop();
    const res = await main.runUntilComplete(async () => {
      const worker = new Worker(fixture);
      const msg = await new Promise<Record<string, unknown>>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const code = await new Promise<number>((resolve) => worker.once('exit', resolve));
      expect(code).toBe(0);
      // The main thread's running loop is untouched by the worker's run().
      expect(getRunningLoop()).toBe(main);
      return msg;
    });
    main.close();
    const id = res.threadId as number;
    expect(id).toBeGreaterThan(0);
    expect(res.implicit).toEqual({
      name: 'RuntimeError',
      message: `There is no current event loop in thread 'Worker-${id}'.`,
    });
    expect(res.policyIsDefault).toBe(true);
    expect(res.explicit).toBe(true);
    expect((res.signal as { name: string }).name).toBe('RuntimeError');
    expect((res.signal as { message: string }).message).toMatch(/main thread/);
    expect(res.run).toBe('worker-result:true');
    expect(res.afterRun).toEqual({
      name: 'RuntimeError',
      message: `There is no current event loop in thread 'Worker-${id}'.`,
    });
  });
});
