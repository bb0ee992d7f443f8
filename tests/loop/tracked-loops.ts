// Loops made by a test file, cleaned up after each test: a failed test may leave a loop running,
// which would keep jest alive.
import { afterEach } from '@jest/globals';
import { SelectorEventLoop } from '../../ts-bindings/events.js';

/** Register the cleanup and return the factory the file's tests use instead of `new SelectorEventLoop()`. */
export function trackedLoops(afterEachExtra?: () => void): () => SelectorEventLoop {
  const loops: SelectorEventLoop[] = [];
  afterEach(() => {
    for (const l of loops.splice(0)) if (l.isRunning()) l.stop(); else l.close();
    afterEachExtra?.();
  });
  return () => {
    const loop = new SelectorEventLoop();
    loops.push(loop);
    return loop;
  };
}
