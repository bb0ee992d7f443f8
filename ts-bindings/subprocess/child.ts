// WatchedChild: one child started through the policy's watcher, shared by Process and the
// subprocess transport. It owns the spawn bracket, the exit record and the signalling pidfd.
//
// The bracket talks to the watcher only through its public methods, in CPython's order:
// enter(); isActive() (if false: exit() and RuntimeError, nothing spawned); spawn;
// addChildHandler(pid, ...); exit().
import { getChildWatcher } from '../policy.js';
import type { AbstractEventLoop } from '../events.js';
import { PermissionError, ProcessLookupError, RuntimeError } from '../errors.js';
import { ExitInfoSink, type ExitInfo } from '../watchers/exit-info.js';
import { canUsePidfd } from '../watchers/default.js';
import { CoreChildWatcher, type SpawnPidfd } from '../watchers/base.js';
import type { AbstractChildWatcher } from '../watchers/abstract.js';
import { watcherRuntime } from '../watchers/runtime.js';
import { checkSignal } from '../util/validate.js';
import { closeFd, reapInBackground, signalChild } from '../../host/process-control.js';
import { startPlanned, type SpawnPlan, type StartedChild } from './spawn.js';
import type { LoopLease } from './implicit-loop.js';

export class WatchedChild {
  readonly pid: number;
  readonly stdinFd: number | null;
  readonly stdoutFd: number | null;
  readonly stderrFd: number | null;
  /** The record the watcher fills in when it reaps the child (the moment of reaping). */
  private readonly sink = new ExitInfoSink();
  private pidfd: number;
  /** True when `pidfd` belongs to the watcher (Pidfd adopted it): valid until the reap, never closed here. */
  private pidfdAdopted = false;
  private code: number | null = null;
  /** `exited`, made when first asked for (memory per watched child is a benchmark, W5: a child
   *  nobody awaits yet holds no promise and no resolver). */
  private exitPromise: Promise<number> | null = null;
  /** Resolves `exitPromise` when there is one; then the listeners, in order. No array until a
   *  second listener. */
  private resolveExited: ((returncode: number) => void) | null = null;
  private exitListeners: Array<(returncode: number) => void> | null = null;
  /** Released at the exit: the lease that keeps an implicit loop running for this child. */
  private lease: LoopLease | null = null;

  private constructor(readonly loop: AbstractEventLoop, child: StartedChild) {
    this.pid = child.pid;
    this.pidfd = child.pidfd;
    this.stdinFd = child.stdin;
    this.stdoutFd = child.stdout;
    this.stderrFd = child.stderr;
  }

  /** Resolves with the returncode once the exit is reported; the same promise every time. */
  get exited(): Promise<number> {
    if (this.exitPromise === null) {
      this.exitPromise = this.code !== null
        ? Promise.resolve(this.code)
        : new Promise((resolve) => { this.resolveExited = resolve; });
    }
    return this.exitPromise;
  }

  /** Start a planned child (see `planChild`: arguments are checked before this) under the
   *  policy's watcher, reported on `loop`. */
  static start(loop: AbstractEventLoop, plan: SpawnPlan): WatchedChild {
    const watcher = getChildWatcher();
    watcher.enter();
    try {
      if (!watcher.isActive()) {
        // Check early: nothing is spawned when the watcher could not report the exit.
        throw new RuntimeError('asyncio.get_child_watcher() is not activated, subprocess support is not installed.');
      }
      const need = spawnPidfdOf(watcher);
      const started = startPlanned(plan, canUsePidfd());
      const child = new WatchedChild(loop, started);
      const host = need === 'adopt' && started.pidfd >= 0 ? watcherRuntime().host : null;
      // (host is null on a SimKernel: the pidfd then simply stays ours.)
      host?.offerPidfd(child.pid, started.pidfd);
      try {
        watcher.addChildHandler(child.pid, onChildExit, child.sink, child);
      } catch (err) {
        // The watcher refused the child: do not leave it running or as a zombie.
        // If the watcher took the pidfd it has closed it again: signal by pid (not reaped yet).
        if (host !== null && host.withdrawPidfd(child.pid) < 0) child.pidfd = -1;
        child.abandon();
        throw err;
      }
      // Not taken (another watcher, or a subclass that did not register it): the pidfd stays ours.
      if (host !== null && host.withdrawPidfd(child.pid) < 0) child.pidfdAdopted = true;
      return child;
    } finally {
      watcher.exit();
    }
  }

  get returncode(): number | null {
    return this.code;
  }

  get exitInfo(): ExitInfo | null {
    return this.code === null ? null : this.sink.info;
  }

  /** Called once, on the loop, with the returncode. */
  onExit(listener: (returncode: number) => void): void {
    if (this.code !== null) listener(this.code);
    else (this.exitListeners ??= []).push(listener);
  }

  /** Hold `lease` until the exit (then release it), or release it now if already exited. */
  holdUntilExit(lease: LoopLease): void {
    if (this.code !== null) lease.release();
    else this.lease = lease;
  }

  processExited(returncode: number): void {
    if (this.code !== null) return;
    this.code = returncode;
    this.closePidfd();
    const resolve = this.resolveExited;
    const listeners = this.exitListeners;
    const lease = this.lease;
    this.resolveExited = null;
    this.exitListeners = null;
    this.lease = null;
    resolve?.(returncode);
    if (listeners !== null) for (const l of listeners) l(returncode);
    lease?.release();
  }

  /**
   * Send `sig`. Through the pidfd when one is held, so a recycled pid is never hit; once the
   * exit has been reaped it throws ProcessLookupError (CPython gh-127049, fixed).
   */
  sendSignal(sig: number | NodeJS.Signals): void {
    const signum = checkSignal(sig);
    if (this.sink.info !== null || this.code !== null) {
      throw new ProcessLookupError(`[Errno 3] No such process: ${this.pid}`);
    }
    const rc = signalChild(this.pid, this.pidfd, signum);
    if (rc === -3) throw new ProcessLookupError(`[Errno 3] No such process: ${this.pid}`);
    if (rc === -1) throw new PermissionError(`[Errno 1] Operation not permitted: ${this.pid}`);
    if (rc < 0) throw new RuntimeError(`cannot signal pid ${this.pid}: errno ${-rc}`);
  }

  /** True once the watcher has reaped the child (its pid may already be reused). */
  get reaped(): boolean {
    return this.sink.info !== null || this.code !== null;
  }

  private closePidfd(): void {
    if (this.pidfd >= 0 && !this.pidfdAdopted) closeFd(this.pidfd);
    this.pidfd = -1;
  }

  /** Kill and reap a child no watcher took, and close what we hold of it. */
  private abandon(): void {
    signalChild(this.pid, this.pidfd, 9);
    reapInBackground(this.pid);
    this.closePidfd();
    for (const fd of [this.stdinFd, this.stdoutFd, this.stderrFd]) if (fd !== null) closeFd(fd);
  }
}

/** What a child spawned for `watcher` needs of a pidfd; a watcher we do not know keeps one. */
function spawnPidfdOf(watcher: AbstractChildWatcher): SpawnPidfd {
  return watcher instanceof CoreChildWatcher ? watcher.spawnPidfd : 'keep';
}

function onChildExit(_pid: number, returncode: number, _sink: ExitInfoSink, child: WatchedChild): void {
  child.processExited(returncode);
}
