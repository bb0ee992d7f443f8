// The per-thread watcher runtime: one instance of the wasm core, the Node host that implements its
// imports, the token table mapping registrations to callbacks, and the dispatch of exit events.
//
// Each thread (main or Worker) has its own copy of this module, hence its own core instance: JS
// objects, callbacks and loops never cross threads.
//
// Flow of one exit: a host event (SIGCHLD, pidfd readable, waiter thread done) enters the core;
// the core reaps and queues exit events; `drain()` pops them all (reap first, dispatch after) and
// hands each to its callback on the right loop.
import { loadCore } from '../core/loader.js';
import {
  newExitEvent, ReportCode, type CoreExports, type ExitEvent, type Strategy,
} from '../core/types.js';
import { NodeHost } from '../../host/node-host.js';
import { SimKernel } from '../../host/sim/kernel.js';
import { loopFromId, type AbstractEventLoop } from '../events.js';
import type { SelectorEventLoop } from '../loop.js';
import { logger, pyFormat } from '../log.js';
import { ExitInfoSink, type ExitInfo } from './exit-info.js';

/** How a watcher's callbacks reach their loop. */
export const enum Delivery {
  /** `loop.callSoonThreadsafe(cb, ...)` on the registering loop (Threaded, MultiLoop, Pidfd). */
  Threadsafe,
  /** Synchronously, on the attached loop, from its SIGCHLD handler or `addChildHandler` (Safe, Fast). */
  Synchronous,
}

/** What the runtime needs from a TypeScript watcher object. */
export interface RuntimeWatcher {
  readonly delivery: Delivery;
  /**
   * Fast in subreaper mode: take the exit of a pid nobody registered (an orphaned grandchild
   * reparented to this process). Returns true if it was handled, so no warning is logged.
   */
  orphanExited?(pid: number, returncode: number): boolean;
}

/** An exception thrown by a synchronously delivered callback, and the loop it ran on. */
export interface CallbackError {
  exception: unknown;
  loop: AbstractEventLoop | undefined;
}

interface Registration {
  watcher: RuntimeWatcher;
  callback: (pid: number, returncode: number, ...args: unknown[]) => void;
  args: unknown[];
}

const NO_ERRORS: readonly CallbackError[] = Object.freeze([]);

export class WatcherRuntime {
  readonly core: CoreExports;
  /** The Node host, or null when this runtime runs on a SimKernel. */
  readonly host: NodeHost | null;
  private readonly registrations = new Map<number, Registration>();
  /** The TypeScript watcher of each core watcher id. */
  private readonly watchers = new Map<number, RuntimeWatcher>();
  private nextToken = 1;
  private readonly event: ExitEvent = newExitEvent();
  private draining = false;
  /** Errors thrown by synchronous callbacks during the current drain, with their loop. */
  private syncErrors: CallbackError[] | null = null;
  /** Loops holding a SIGCHLD handler for a watcher (Safe, Fast), by core watcher id. */
  private readonly sigchldLoops = new Map<number, AbstractEventLoop>();
  /** True while a host event's drain runs; the loops it queued Threadsafe deliveries on. */
  private hostEvent = false;
  private woken: AbstractEventLoop[] = [];
  /** Items of the plural Fast message, collected until `fast-unknown-pids-end`. */
  private unknownPids: string[] = [];

  /** On the Node host (real processes), or on `sim` (see `useSimKernel`). */
  constructor(sim: SimKernel | null = null) {
    if (sim === null) {
      const host = new NodeHost({
        viaLoop: (loopIdent, watcher, deliver) => this.subscribeViaLoop(loopIdent, watcher, deliver),
        unviaLoop: (watcher) => this.unsubscribeViaLoop(watcher),
        onReport: (code, watcher, pid, value) => this.report(code, watcher, pid, value),
        afterEvent: () => this.afterHostEvent(),
      });
      this.host = host;
      this.core = loadCore(host);
      host.bind(this.core);
      return;
    }
    // The kernel answers every import; its reports also become the logger's messages. SIGCHLD
    // reaches Safe and Fast when the test delivers it, not through their loop.
    this.host = null;
    this.core = loadCore({
      waitPid: (pid, out) => sim.waitPid(pid, out),
      waitAny: (out) => sim.waitAny(out),
      peekExited: () => sim.peekExited(),
      pidfdOpen: (pid) => sim.pidfdOpen(pid),
      watchPidfd: (watcher, pid, fd) => sim.watchPidfd(watcher, pid, fd),
      pidfdClose: (fd) => sim.pidfdClose(fd),
      subscribeSigchld: (watcher, loop) => sim.subscribeSigchld(watcher, loop),
      unsubscribeSigchld: (watcher) => sim.unsubscribeSigchld(watcher),
      startWaiter: (watcher, pid) => sim.startWaiter(watcher, pid),
      report: (code, watcher, pid, value) => {
        sim.report(code, watcher, pid, value);
        try { this.report(code, watcher, pid, value); } catch { /* never throw into the core */ }
      },
    });
    sim.attach(this.core);
    sim.afterEvent = () => this.afterHostEvent();
  }

  /** Create the core side of `watcher`; returns the core's id for it. */
  createWatcher(watcher: RuntimeWatcher, strategy: Strategy): number {
    const id = this.core.create(strategy);
    this.watchers.set(id, watcher);
    return id;
  }

  /** Allocate a token for a registration (never 0). */
  register(watcher: RuntimeWatcher, callback: Registration['callback'], args: unknown[]): number {
    let token = this.nextToken;
    this.nextToken = token >= 0xfffffffe ? 1 : token + 1;
    while (this.registrations.has(token)) token = token >= 0xfffffffe ? 1 : token + 1;
    this.registrations.set(token, { watcher, callback, args });
    return token;
  }

  release(token: number): void {
    if (token !== 0) this.registrations.delete(token);
  }

  /** Forget every registration of `watcher` (after the core cleared its handlers). */
  releaseAll(watcher: RuntimeWatcher): void {
    for (const [token, reg] of this.registrations) {
      if (reg.watcher === watcher) this.registrations.delete(token);
    }
  }

  /**
   * Pop and dispatch every queued exit. Re-entrant calls (a callback registering another child)
   * return at once: the outer loop picks up what they queued. Returns the errors thrown by
   * synchronous callbacks, for the caller to route (Python's SIGCHLD handler sends them to the
   * loop's exception handler; `addChildHandler` lets the first one propagate).
   */
  drain(): readonly CallbackError[] {
    if (this.draining) return NO_ERRORS;
    this.draining = true;
    this.syncErrors = null; // made at the first error: a drain without one allocates nothing
    try {
      const core = this.core;
      const ev = this.event;
      while (core.pendingExits() > 0) {
        core.popExit(ev);
        this.dispatch(ev);
      }
    } finally {
      this.draining = false;
    }
    return this.syncErrors ?? NO_ERRORS;
  }

  private dispatch(ev: ExitEvent): void {
    const reg = this.registrations.get(ev.token);
    if (reg === undefined) return; // removed or closed after the core queued it
    this.registrations.delete(ev.token);
    const { pid, returncode } = ev;
    const info: ExitInfo = {
      pid,
      returncode,
      exitCode: ev.exitCode >= 0 ? ev.exitCode : null,
      signal: ev.signal > 0 ? ev.signal : null,
      coreDumped: ev.coreDumped,
      statusKnown: ev.statusKnown,
      rusage: ev.statusKnown
        ? { userMicros: ev.userMicros, systemMicros: ev.systemMicros, maxRssKiB: ev.maxRssKiB }
        : null,
    };
    const first = reg.args[0];
    if (first instanceof ExitInfoSink) first.info = info;
    const loop = ev.loop !== 0 ? loopFromId(ev.loop) : undefined;
    if (reg.watcher.delivery === Delivery.Threadsafe) {
      if (loop === undefined || loop.isClosed()) {
        logger.warning(pyFormat('Loop %r that handles pid %r is closed', loop === undefined ? 'None' : String(loop), pid));
        return;
      }
      if (ev.statusKnown && loop.getDebug()) {
        logger.debug(pyFormat('process %s exited with returncode %s', pid, returncode));
      }
      if (this.hostEvent && this.host !== null && '_iterateNowForHost' in loop) {
        // The iteration runs right after this host event (afterHostEvent): arm nothing meanwhile.
        (loop as SelectorEventLoop)._hostDelivery = true;
        if (!this.woken.includes(loop)) this.woken.push(loop);
      }
      loop.callSoonThreadsafe(reg.callback, pid, returncode, ...reg.args);
      return;
    }
    if (loop !== undefined && loop.getDebug()) {
      logger.debug(pyFormat('process %s exited with returncode %s', pid, returncode));
    }
    try {
      reg.callback(pid, returncode, ...reg.args);
    } catch (exception) {
      (this.syncErrors ??= []).push({ exception, loop });
    }
  }

  /** A host event entered the core (SIGCHLD, pidfd, waiter thread): dispatch what it produced. */
  private afterHostEvent(): void {
    // Only synchronous deliveries (Safe, Fast: SIGCHLD through their loop) can throw here.
    let errors: readonly CallbackError[];
    this.hostEvent = true;
    try {
      errors = this.drain();
    } finally {
      this.hostEvent = false;
      // Threadsafe deliveries went to their loops' ready queues: we are in the Node host's own
      // uv callback, outside every iteration, so those loops run the iteration now rather than
      // after a setImmediate (exit-to-callback latency, benchmark W4). Not on a SimKernel, whose
      // events come from the test's own calls.
      if (this.woken.length > 0) {
        const woken = this.woken;
        this.woken = [];
        for (const loop of woken) (loop as SelectorEventLoop)._iterateNowForHost();
      }
    }
    for (const { exception, loop } of errors) {
      if (loop !== undefined && !loop.isClosed()) {
        loop.callExceptionHandler({ message: 'Unknown exception in SIGCHLD handler', exception });
      } else {
        logger.warning(`Unknown exception in SIGCHLD handler: ${String(exception)}`);
      }
    }
  }

  /** Safe and Fast receive SIGCHLD through the attached loop's signal handler. */
  private subscribeViaLoop(loopIdent: number, watcher: number, deliver: () => void): number {
    const loop = loopFromId(loopIdent);
    if (loop === undefined || loop.isClosed()) return -9; // EBADF: no such loop
    try {
      // `deliver` enters the core and then drains through afterHostEvent.
      loop.addSignalHandler('SIGCHLD', deliver);
    } catch {
      return -1; // EPERM: signal handlers are main-thread only
    }
    this.sigchldLoops.set(watcher, loop);
    return 0;
  }

  private unsubscribeViaLoop(watcher: number): void {
    const loop = this.sigchldLoops.get(watcher);
    if (loop === undefined) return;
    this.sigchldLoops.delete(watcher);
    if (!loop.isClosed()) {
      try { loop.removeSignalHandler('SIGCHLD'); } catch { /* a closed loop holds no handler */ }
    }
  }

  private report(code: ReportCode, watcher: number, pid: number, value: number): void {
    switch (code) {
      case ReportCode.UnknownChildStatus:
        logger.warning(pyFormat('Unknown child process pid %d, will report returncode 255', pid));
        break;
      case ReportCode.PidfdStatusAlreadyRead:
        logger.warning(pyFormat('child process pid %d exit status already read:  will report returncode 255', pid));
        break;
      case ReportCode.FastUnknownPid:
        if (this.watchers.get(watcher)?.orphanExited?.(pid, value) === true) break;
        logger.warning(pyFormat('Caught subprocess termination from unknown pid: %d -> %d', pid, value));
        break;
      case ReportCode.FastUnknownPidsItem:
        if (this.watchers.get(watcher)?.orphanExited?.(pid, value) === true) break;
        this.unknownPids.push(`${pid}: ${value}`);
        break;
      case ReportCode.FastUnknownPidsEnd:
        if (this.unknownPids.length > 0) {
          logger.warning(pyFormat('Caught subprocesses termination from unknown pids: %s', `{${this.unknownPids.join(', ')}}`));
        }
        this.unknownPids = [];
        break;
      case ReportCode.FastZombieKept: {
        const loop = loopFromId(this.core.attachedLoop(watcher));
        if (loop?.getDebug()) logger.debug(pyFormat('unknown process %s exited with returncode %s', pid, value));
        break;
      }
      case ReportCode.DetachWithPending:
        process.emitWarning('A loop is being detached from a child watcher with pending handlers', 'RuntimeWarning');
        break;
      case ReportCode.PidfdFallbackToThread:
        logger.debug(pyFormat('pidfd_open(%d) failed with errno %d: watching it with a thread', pid, value));
        break;
      case ReportCode.HostError:
        logger.warning(pyFormat('child watcher: host call for pid %d failed with errno %d', pid, value));
        break;
      default:
        logger.warning(pyFormat('child watcher: unknown report %d for pid %d', code, pid));
    }
  }
}

let instance: WatcherRuntime | undefined;

/** This thread's runtime (the one new watchers use), created on first use. */
export function watcherRuntime(): WatcherRuntime {
  instance ??= new WatcherRuntime();
  return instance;
}

/**
 * Run the watchers created from now on in this thread on `kernel` instead of the real one (null:
 * back to the Node host). Watchers created before keep the kernel they were made with. On a
 * SimKernel nothing happens by itself: the test moves time with `kernel.exit(...)`,
 * `kernel.notify()` and the like, and the callbacks are dispatched as the kernel reports; do not
 * call `kernel.drain()` then, the watchers take the exit events. Real subprocesses
 * (`createSubprocessExec`) need the Node host.
 */
export function useSimKernel(kernel: SimKernel | null): void {
  if (kernel !== null && !(kernel instanceof SimKernel)) {
    throw new TypeError(`kernel must be a SimKernel or null, not '${kernel === null ? 'null' : typeof kernel}'`);
  }
  instance = kernel === null ? undefined : new WatcherRuntime(kernel);
}
