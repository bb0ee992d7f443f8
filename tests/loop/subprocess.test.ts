// loop.subprocessExec / loop.subprocessShell hand the work to the subprocess layer
// (loopSubprocessExec / loopSubprocessShell of ts-bindings/subprocess/index.ts) with the loop.
import { describe, it, expect } from '@jest/globals';
import { SelectorEventLoop } from '../../ts-bindings/events.js';
import { SubprocessProtocol, type SubprocessTransport } from '../../ts-bindings/subprocess/types.js';

class Collect extends SubprocessProtocol {
  out = '';
  exited = false;
  lost = false;
  override pipeDataReceived(fd: number, data: Buffer): void { if (fd === 1) this.out += data.toString(); }
  override processExited(): void { this.exited = true; }
  override connectionLost(): void { this.lost = true; }
}

async function until(loop: SelectorEventLoop, pred: () => boolean): Promise<void> {
  while (!pred()) {
    const f = loop.createFuture<void>();
    loop.callLater(0.005, () => f.setResult());
    await f;
  }
}

describe('loop.subprocessExec / subprocessShell', () => {
  it('spawn through the subprocess layer and connect the protocol', async () => {
    const loop = new SelectorEventLoop();
    const [out, code, shellOut, shellCode] = await loop.runUntilComplete(async () => {
      const [t, p]: [SubprocessTransport, Collect] = await loop.subprocessExec(() => new Collect(), '/bin/echo', ['hi']);
      await until(loop, () => p.exited && t.getReturncode() !== null && p.out.length > 0);
      t.close();
      await until(loop, () => p.lost);
      const [t2, p2] = await loop.subprocessShell(() => new Collect(), 'echo shell; exit 3');
      await until(loop, () => p2.exited && t2.getReturncode() !== null && p2.out.length > 0);
      t2.close();
      await until(loop, () => p2.lost);
      return [p.out, t.getReturncode(), p2.out, t2.getReturncode()];
    });
    loop.close();
    expect(out).toBe('hi\n');
    expect(code).toBe(0);
    expect(shellOut).toBe('shell\n');
    expect(shellCode).toBe(3);
  });

  it("reject with 'Event loop is closed' on a closed loop", async () => {
    const loop = new SelectorEventLoop();
    loop.close();
    await expect(loop.subprocessExec(() => new Collect(), '/bin/true')).rejects.toThrow('Event loop is closed');
    await expect(loop.subprocessShell(() => new Collect(), 'true')).rejects.toThrow('Event loop is closed');
  });
});
