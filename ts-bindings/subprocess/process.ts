// Process: asyncio.subprocess.Process on Node streams. createSubprocessExec/Shell start a child
// under the policy's watcher. stdin is a net.Socket (a libuv pipe handle: it does not tie up the
// thread pool as an fs stream would); stdout and stderr are read by the addon's pipe reader
// (ChildOutput), and become Readables only when `stdout`/`stderr` is first used, so that
// communicate() on a child whose streams were never touched moves each output as one Buffer.
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { PermissionError, ProcessLookupError, RuntimeError } from '../errors.js';
import type { ExitInfo } from '../watchers/exit-info.js';
import { checkCString, checkSignal, typeName } from '../util/validate.js';
import { processGroupHasMembers, signalGroup } from '../../host/process-control.js';
import { WatchedChild } from './child.js';
import { ChildOutput } from './child-output.js';
import { planChild } from './spawn.js';
import { acquireLoop } from './implicit-loop.js';
import type { SubprocessOptions } from './types.js';

/** Options of `Process.terminate`. */
export interface TerminateOptions {
  /** Send SIGKILL if the child is still alive this many milliseconds after SIGTERM. */
  graceMs?: number;
}

/** The longest delay Node's setTimeout honours (2^31-1 ms, about 24.8 days). */
const MAX_GRACE_MS = 0x7fffffff;

function writeSocket(fd: number): Socket {
  const s = new Socket({ fd, readable: false, writable: true });
  // A child that exits without reading its stdin is not an error (EPIPE, ECONNRESET).
  s.on('error', () => {});
  return s;
}

/** A running or finished child, created by `createSubprocessExec` or `createSubprocessShell`. */
export class Process {
  /** The child's pid. */
  readonly pid: number;
  /** Its stdin when it is PIPE, else null. */
  readonly stdin: Writable | null;
  private readonly out: ChildOutput | null;
  private readonly err: ChildOutput | null;
  private readonly child: WatchedChild;
  private readonly options: SubprocessOptions;

  /** @internal Use createSubprocessExec / createSubprocessShell. */
  constructor(child: WatchedChild, options: SubprocessOptions) {
    this.child = child;
    this.options = options;
    this.pid = child.pid;
    this.stdin = child.stdinFd !== null ? writeSocket(child.stdinFd) : null;
    this.out = child.stdoutFd !== null ? new ChildOutput(child.stdoutFd) : null;
    this.err = child.stderrFd !== null ? new ChildOutput(child.stderrFd) : null;
    // Once the child is gone nobody reads its stdin: close our end so an unused stdin pipe does
    // not keep Node alive (writes after this are dropped, as they would fail with EPIPE).
    const stdin = this.stdin;
    if (stdin !== null) child.onExit(() => { if (!stdin.writableFinished) stdin.destroy(); });
  }

  /**
   * Its stdout when it is PIPE, else null. Made on first use; reading starts at spawn either way
   * (up to 128 KiB is held for a stream nobody reads yet, then the child waits). Once
   * communicate() has taken the output, this stream gets none of it and just ends with the pipe.
   */
  get stdout(): Readable | null {
    return this.out?.stream() ?? null;
  }

  /** Its stderr when it is PIPE, else null. As `stdout`. */
  get stderr(): Readable | null {
    return this.err?.stream() ?? null;
  }

  /** The returncode once the exit was reported, else null. */
  get returncode(): number | null {
    return this.child.returncode;
  }

  /** The full exit record once the exit was reported, else null. */
  get exitInfo(): ExitInfo | null {
    return this.child.exitInfo;
  }

  /**
   * Resolves with the returncode as soon as the process has exited, without waiting for its pipes
   * to close (CPython gh-119710, fixed). Any number of concurrent waits get the same value.
   */
  wait(): Promise<number> {
    return this.child.exited;
  }

  /**
   * Write `input` to stdin and close it, read stdout and stderr to EOF, and wait for the exit.
   * Returns [stdout, stderr], each null when that stream is not PIPE.
   */
  async communicate(input?: Buffer | string | Uint8Array | null): Promise<[Buffer | null, Buffer | null]> {
    if (input !== undefined && input !== null && typeof input !== 'string' && !(input instanceof Uint8Array)) {
      throw new TypeError(`input must be a Buffer or a string, not '${typeName(input)}'`);
    }
    // Each output in one piece from the pipe reader, or the rest of its stream once the user has
    // touched `stdout` / `stderr` (what they already read is theirs, the rest is ours).
    const out = this.out !== null ? this.out.readAll() : Promise.resolve(null);
    const err = this.err !== null ? this.err.readAll() : Promise.resolve(null);
    if (this.stdin !== null) {
      if (input !== undefined && input !== null && input.length > 0) this.stdin.write(input);
      this.stdin.end();
    }
    const [o, e] = await Promise.all([out, err]);
    await this.wait();
    return [o, e];
  }

  /** Send a signal (number or name). ProcessLookupError once the exit has been reaped. */
  sendSignal(sig: number | NodeJS.Signals): void {
    this.child.sendSignal(sig);
  }

  /**
   * SIGTERM. With `{ graceMs }`, also SIGKILL if the child is still alive after that many
   * milliseconds, and resolve with the returncode.
   */
  terminate(): void;
  terminate(options: TerminateOptions): Promise<number>;
  terminate(options?: TerminateOptions): void | Promise<number> {
    if (options === undefined) {
      this.child.sendSignal('SIGTERM');
      return;
    }
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, not '${typeName(options)}'`);
    }
    const grace = options.graceMs ?? 5000;
    if (typeof grace !== 'number') throw new TypeError(`options.graceMs must be a number, not '${typeName(grace)}'`);
    if (!(grace >= 0) || grace > MAX_GRACE_MS) {
      // Past 2^31-1 ms Node's setTimeout would fire after 1 ms instead (TimeoutOverflowWarning).
      throw new RangeError(`options.graceMs must be a number of milliseconds between 0 and ${MAX_GRACE_MS}, got ${grace}`);
    }
    if (this.returncode !== null) return Promise.resolve(this.returncode);
    try {
      this.child.sendSignal('SIGTERM');
    } catch (err) {
      // Exited meanwhile: its returncode is on the way. Anything else (EPERM) is the caller's
      // to see, not a wait that never ends.
      if (err instanceof ProcessLookupError) return this.wait();
      return Promise.reject(err);
    }
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.child.reaped) return;
        try {
          this.child.sendSignal('SIGKILL');
        } catch (err) {
          if (!(err instanceof ProcessLookupError)) reject(err);
        }
      }, grace);
      void this.wait().then((rc) => {
        clearTimeout(timer);
        resolve(rc);
      });
    });
  }

  /** SIGKILL. */
  kill(): void {
    this.child.sendSignal('SIGKILL');
  }

  /**
   * Signal the child's whole process group. The child must lead a group: spawned with
   * `startNewSession` or `processGroup: 0`. After the child's exit was reaped the group is
   * signalled only while it still has a member (ProcessLookupError, with nothing sent, once it is
   * empty: its id may then belong to someone else's group).
   */
  killGroup(sig: number | NodeJS.Signals = 'SIGTERM'): void {
    const signum = checkSignal(sig);
    const leads = this.options.startNewSession === true || this.options.processGroup === 0;
    if (!leads) {
      throw new RuntimeError('killGroup needs a child that leads its process group: spawn it with startNewSession or processGroup: 0');
    }
    // A pgid is never handed out again while any member of the group is left (a zombie too).
    // Once the leader is reaped, an empty group's id may already belong to a stranger's new
    // group: look for a member first, and signal nothing if there is none.
    if (this.child.reaped && processGroupHasMembers(this.pid) === false) {
      throw new ProcessLookupError(`[Errno 3] No such process group: ${this.pid}`);
    }
    const rc = signalGroup(this.pid, signum);
    if (rc === -3) throw new ProcessLookupError(`[Errno 3] No such process group: ${this.pid}`);
    if (rc === -1) throw new PermissionError(`[Errno 1] Operation not permitted: process group ${this.pid}`);
    if (rc < 0) throw new RuntimeError(`cannot signal process group ${this.pid}: errno ${-rc}`);
  }
}

function startProcess(program: string, args: unknown, options: unknown): Process {
  // Every argument is checked before the loop is leased (and so started) or the watcher is asked
  // anything: bad input has no effect.
  const plan = planChild(program, args, options);
  const lease = acquireLoop();
  let child: WatchedChild;
  try {
    child = WatchedChild.start(lease.loop, plan);
  } catch (err) {
    lease.release();
    throw err;
  }
  child.holdUntilExit(lease);
  return new Process(child, (options ?? {}) as SubprocessOptions);
}

/** Start `program` with `args` (no shell). Rejects with SpawnError if it cannot start. */
export async function createSubprocessExec(program: string, args?: string[], options?: SubprocessOptions): Promise<Process> {
  return startProcess(program, args, options);
}

/** Run `cmd` with `/bin/sh -c`. */
export async function createSubprocessShell(cmd: string, options?: SubprocessOptions): Promise<Process> {
  checkCString(cmd, 'cmd');
  return startProcess('/bin/sh', ['-c', cmd], options);
}
