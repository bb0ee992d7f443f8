// loop.subprocessExec / loop.subprocessShell: asyncio's protocol/transport pair for a child.
//
// Order guaranteed to the protocol (all calls on the loop, FIFO): connectionMade(transport);
// for each pipe all pipeDataReceived(fd, data) before pipeConnectionLost(fd, null);
// processExited() once; connectionLost(null) last, after the exit and every pipe.
import { Socket } from 'node:net';
import type { AbstractEventLoop } from '../events.js';
import { ProcessLookupError } from '../errors.js';
import { logger, pyFormat } from '../log.js';
import { checkCString, typeName } from '../util/validate.js';
import { WatchedChild } from './child.js';
import { openPipeReader, type NativePipeReader } from '../../host/pipe-reader.js';
import { closeFd } from '../../host/process-control.js';
import { planChild } from './spawn.js';
import { leaseLoop, type LoopLease } from './implicit-loop.js';
import type { SubprocessOptions, SubprocessProtocol, SubprocessTransport } from './types.js';

/** The write end of the child's stdin, as `getPipeTransport(0)` returns it. */
export class WritePipeTransport {
  constructor(private readonly socket: Socket, private readonly onClosed: () => void) {
    socket.on('error', () => {}); // EPIPE: the child stopped reading
    socket.once('close', () => this.onClosed());
  }
  write(data: Buffer | string | Uint8Array): void {
    this.socket.write(data);
  }
  /** Close stdin after the buffered data. */
  writeEof(): void {
    this.socket.end();
  }
  canWriteEof(): boolean {
    return true;
  }
  getWriteBufferSize(): number {
    return this.socket.writableLength;
  }
  isClosing(): boolean {
    return this.socket.writableEnded || this.socket.destroyed;
  }
  close(): void {
    this.socket.end();
  }
  abort(): void {
    this.socket.destroy();
  }
}

/**
 * A read end (stdout, stderr), as `getPipeTransport(1 | 2)` returns it. Read by the addon's pipe
 * reader in chunk mode (read(2) in C on readability): `onData` gets each readiness's bytes,
 * `onClosed` is called once, after the last of them, at EOF, on a read error or on close().
 */
export class ReadPipeTransport {
  private reader: NativePipeReader | null = null;

  /** @internal Made by the subprocess transport. */
  constructor(fd: number, private readonly onData: (data: Buffer) => void, private readonly onClosed: () => void) {
    const r = openPipeReader(fd, true, 0, (data, status) => {
      if (data !== null) this.onData(data);
      if (status !== 0) this.lost(); // the addon closed the reader (and fd) before this call
    });
    if (typeof r === 'number') {
      // No poll for this fd (uv_poll_init failed): report the pipe lost, as on a read error.
      closeFd(fd);
      queueMicrotask(() => this.onClosed());
    } else {
      this.reader = r;
    }
  }
  private lost(): void {
    if (this.reader === null) return;
    this.reader = null;
    this.onClosed();
  }
  pauseReading(): void {
    this.reader?.pause();
  }
  resumeReading(): void {
    this.reader?.resume();
  }
  isClosing(): boolean {
    return this.reader === null;
  }
  close(): void {
    this.reader?.close();
    this.lost();
  }
  abort(): void {
    this.close();
  }
}

/**
 * The `SubprocessTransport` that `loop.subprocessExec` / `loop.subprocessShell` return
 * (Python's `_UnixSubprocessTransport`).
 */
export class UnixSubprocessTransport implements SubprocessTransport {
  private readonly pipes = new Map<number, WritePipeTransport | ReadPipeTransport>();
  private openPipes = 0;
  private exited = false;
  private closing = false;
  private finished = false;

  /** @internal Made by `loop.subprocessExec` / `loop.subprocessShell`. */
  constructor(
    private readonly loop: AbstractEventLoop,
    private readonly protocol: SubprocessProtocol,
    private readonly child: WatchedChild,
    private readonly lease: LoopLease,
  ) {
    this.soon(() => this.protocol.connectionMade(this));
    if (child.stdinFd !== null) {
      this.openPipes++;
      const s = new Socket({ fd: child.stdinFd, readable: false, writable: true });
      this.pipes.set(0, new WritePipeTransport(s, () => this.pipeLost(0)));
    }
    for (const [fd, n] of [[1, child.stdoutFd], [2, child.stderrFd]] as const) {
      if (n === null) continue;
      this.openPipes++;
      this.pipes.set(fd, new ReadPipeTransport(n,
        (data) => this.soon(() => this.protocol.pipeDataReceived(fd, data)),
        () => this.pipeLost(fd)));
    }
    child.onExit(() => {
      // The child is gone, and with it the read end of its stdin (unless a grandchild holds it):
      // close our end, as asyncio's write pipe transport notices the peer closing.
      this.pipes.get(0)?.abort();
      this.soon(() => {
        this.exited = true;
        this.protocol.processExited();
        this.tryFinish();
      });
    });
  }

  /**
   * Schedule a protocol call on the loop. Once the loop is closed nothing more can run there:
   * the call is dropped (the pipes are closed so no more events come).
   */
  private soon(fn: () => void): void {
    if (this.loop.isClosed()) {
      for (const p of this.pipes.values()) p.abort();
      this.lease.release();
      return;
    }
    this.loop.callSoon(fn);
  }

  private pipeLost(fd: number): void {
    this.soon(() => {
      this.protocol.pipeConnectionLost(fd, null);
      this.openPipes--;
      this.tryFinish();
    });
  }

  private tryFinish(): void {
    if (this.finished || !this.exited || this.openPipes > 0) return;
    this.finished = true;
    this.soon(() => {
      this.protocol.connectionLost(null);
      this.lease.release();
    });
  }

  getPid(): number {
    return this.child.pid;
  }

  getReturncode(): number | null {
    return this.child.returncode;
  }

  getPipeTransport(fd: number): WritePipeTransport | ReadPipeTransport | null {
    return this.pipes.get(fd) ?? null;
  }

  sendSignal(sig: number | NodeJS.Signals): void {
    this.child.sendSignal(sig);
  }

  terminate(): void {
    this.child.sendSignal('SIGTERM');
  }

  kill(): void {
    this.child.sendSignal('SIGKILL');
  }

  isClosing(): boolean {
    return this.closing;
  }

  /** Close the pipes; a child still running is killed (and reaped by the watcher). */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    for (const p of this.pipes.values()) p.close();
    if (!this.child.reaped) {
      if (this.loop.getDebug()) logger.warning(pyFormat('Close running child process: kill %r', this));
      try {
        this.child.sendSignal('SIGKILL');
      } catch (err) {
        if (!(err instanceof ProcessLookupError)) throw err;
      }
    }
  }

  /** Resolves with the returncode once the child has exited. */
  wait(): Promise<number> {
    return this.child.exited;
  }

  /** `<UnixSubprocessTransport pid=42 running>` or `... returncode=0>`. */
  toString(): string {
    return `<UnixSubprocessTransport pid=${this.child.pid}${this.child.returncode !== null ? ` returncode=${this.child.returncode}` : ' running'}>`;
  }
}

export async function loopSubprocessExec<P extends SubprocessProtocol>(
  loop: AbstractEventLoop, protocolFactory: () => P, program: string, args?: string[],
  options?: SubprocessOptions,
): Promise<[UnixSubprocessTransport, P]> {
  if (typeof protocolFactory !== 'function') {
    throw new TypeError(`protocolFactory must be a function, not '${typeName(protocolFactory)}'`);
  }
  // Arguments first: bad input leases no loop and asks the watcher nothing.
  const plan = planChild(program, args, options);
  const lease = leaseLoop(loop);
  let child: WatchedChild;
  let protocol: P;
  try {
    protocol = protocolFactory();
    child = WatchedChild.start(loop, plan);
  } catch (err) {
    lease.release();
    throw err;
  }
  const transport = new UnixSubprocessTransport(loop, protocol, child, lease);
  return [transport, protocol];
}

export async function loopSubprocessShell<P extends SubprocessProtocol>(
  loop: AbstractEventLoop, protocolFactory: () => P, cmd: string, options?: SubprocessOptions,
): Promise<[UnixSubprocessTransport, P]> {
  checkCString(cmd, 'cmd');
  return loopSubprocessExec(loop, protocolFactory, '/bin/sh', ['-c', cmd], options);
}
