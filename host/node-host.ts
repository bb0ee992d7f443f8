// NodeHost: the core's WIT `host` imports, implemented on Node with the native addon.
//
// Contract (wit/childwatch.wit, interface host):
// - Never throws into the core: every import catches and returns -errno (or ignores, for the
//   void ones). A throw out of an import would trap the wasm instance.
// - Entries into the core (SIGCHLD, pidfd readable, waiter done) come from libuv callbacks on
//   this thread; after each one `afterEvent()` runs, where the watcher layer drains the exits
//   the core queued (reap first, dispatch after).
// - SIGCHLD for loop 0 (MultiLoop) is one process-wide uv_signal subscription shared by every
//   watcher that asked for it; signals coalesce, so the core reaps until the kernel says none.
//   For a loop id (Safe, Fast) delivery goes through the loop's own signal handler, supplied
//   by the watcher layer as `viaLoop`, so it happens only while that loop runs.
// - peek-exited: waitid(WNOWAIT) in the addon; reaps nothing, so it needs no sandbox check.
// - wait-any: one native call reaps a batch (wait4(-1, WNOHANG) in a loop in C); the batch is
//   handed out one record per `waitAny` call. Reaped children are never lost: a batch is only
//   refilled once it is empty.
// - Sandbox (`ownChildrenOnly`, the option or the thread's switch in host/own-children.ts): the
//   host answers -EPERM to `wait-pid`, `pidfd-open` and `start-waiter` for a pid it did not spawn
//   itself (or already reaped), and to `watch-pidfd` for an fd it did not open for that pid;
//   `pidfd-close` leaves such an fd alone; `wait-any` reaps only its own children, one wait per
//   own pid (O(own children); never wait4(-1), which would reap anybody's). Without the sandbox
//   the core is trusted with any pid, as libuv trusts its caller.
import { constants as osConstants } from 'node:os';
import { addon as defaultAddon } from './addon.js';
import {
  WAIT_RECORD, type NativeAddon, type NativeHandle, type NativePidfdSet,
} from './addon-types.js';
import { isOwnChild, noteReaped, ownChildren, ownChildrenOnly } from './own-children.js';
import {
  newWaitRecord, type CoreExports, type HostImports, type ReportCode, type WaitRecord,
} from '../ts-bindings/core/types.js';

const SIGCHLD = osConstants.signals.SIGCHLD;
const EPERM = 1;
const ECHILD = 10;
const EINVAL = 22;
const ENOSYS = 38;
const EALREADY = 114;
const BATCH = 64;

export interface NodeHostHooks {
  /**
   * Subscribe `watcher` to SIGCHLD through loop `loopId`'s signal handler; `deliver` enters the
   * core. Returns 0 or -errno. Called by `subscribeSigchld(watcher, loopId)` for loopId != 0.
   */
  viaLoop(loopId: number, watcher: number, deliver: () => void): number;
  /** Undo `viaLoop` for this watcher. */
  unviaLoop(watcher: number): void;
  /** A warning or debug event from the core (see ReportCode). */
  onReport(code: ReportCode, watcher: number, pid: number, value: number): void;
  /** Runs after every entry into the core from a host event: drain the exits there. */
  afterEvent(): void;
  /** The addon to use (tests); defaults to this thread's. */
  addon?: NativeAddon;
  /**
   * Sandbox: refuse (EPERM) to wait on, watch or signal any pid this thread's host did not spawn
   * itself. Also on for every host of the thread once `configureHost({ ownChildrenOnly: true })`
   * was called.
   */
  ownChildrenOnly?: boolean;
}

/** A watched pidfd (a member of the host's pidfd set, under its fd): for whom, and which child. */
interface PidfdWatch {
  watcher: number;
  pid: number;
}

/** How long after a SIGCHLD the SIGCHLD subscribers get `on-sigchld-settled`. */
const SETTLE_MS = 250;

/** Most ready pidfds taken per callback of the set (more are delivered by further callbacks). */
const READY_BATCH = 64;

function errnoOf(err: unknown): number {
  const n = (err as { errno?: unknown } | null)?.errno;
  return typeof n === 'number' && n > 0 ? n : EINVAL;
}

export class NodeHost implements HostImports {
  private core: CoreExports | null = null;
  private readonly addon: NativeAddon;
  private readonly hooks: NodeHostHooks;
  private readonly one = new Float64Array(WAIT_RECORD);
  private readonly batch = new Float64Array(WAIT_RECORD * BATCH);
  private batchLen = 0;
  private batchPos = 0;
  /** waitAnyState after a short batch, returned once when the batch is used up; 1: none. */
  private batchEnd = 1;
  /** Open pidfd watches by fd (members of `pidfdSet`, which owns their fds). */
  private readonly pidfds = new Map<number, PidfdWatch>();
  /**
   * Every watched pidfd in one epoll set (one uv_poll for all), created at the first watch. A
   * member's id is its fd. An event
   * read in the same batch as a callback that closed that fd (and maybe reused the number for
   * another child's pidfd) is either dropped (no such watch) or reaches the core for the new
   * child, which finds it still running and arms it again: harmless either way.
   */
  private pidfdSet: NativePidfdSet | null = null;
  private settleTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly readyIds = new Int32Array(READY_BATCH);
  /** Watchers on the process-wide SIGCHLD subscription (loop 0), in subscription order. */
  private readonly sigchldWatchers = new Set<number>();
  private sigchld: NativeHandle | null = null;
  /** Watchers subscribed through a loop (`viaLoop`). */
  private readonly loopWatchers = new Set<number>();
  private readonly rec: WaitRecord = newWaitRecord();
  /** Pidfds opened at spawn and offered to the core (see `offerPidfd`), by pid. */
  private readonly offeredPidfds = new Map<number, number>();
  private closed = false;
  /** pidfds this host handed to the core (`pidfdOpen`) and that are not closed: fd -> pid. */
  private readonly opened = new Map<number, number>();
  /** The same, pid -> fd: `waitPid` waits through the pidfd when there is one. */
  private readonly pidfdOf = new Map<number, number>();
  private readonly sandboxOption: boolean;

  constructor(hooks: NodeHostHooks) {
    this.hooks = hooks;
    this.addon = hooks.addon ?? defaultAddon;
    this.sandboxOption = hooks.ownChildrenOnly === true;
  }

  /** Whether this host refuses pids it did not spawn (its option, or the thread's switch). */
  get ownChildrenOnly(): boolean {
    return this.sandboxOption || ownChildrenOnly();
  }

  /** Sandbox check: may the core use `pid`? */
  private refused(pid: number): boolean {
    return this.ownChildrenOnly && !isOwnChild(pid);
  }

  /** Give the host its core (after `loadCore(host)`): events are ignored until then. */
  bind(core: CoreExports): void {
    this.core = core;
  }

  // -- wait -----------------------------------------------------------------------------------

  waitPid(pid: number, out: WaitRecord): number {
    if (this.refused(pid)) return -EPERM;
    try {
      // Through the pidfd when one is open for this pid (Pidfd): waitid(P_PIDFD) waits on that
      // very process, so if its status was taken by someone else and the number reused, the
      // answer is ECHILD (255, status unknown) instead of the newcomer's state.
      const fd = this.pidfdOf.get(pid);
      const r = fd !== undefined ? this.addon.waitPidfd(fd, this.one) : this.addon.waitPid(pid, this.one);
      if (r > 0) {
        noteReaped(r);
        NodeHost.fill(out, this.one, 0);
      } else if (r === -ECHILD) {
        noteReaped(pid); // gone (reaped elsewhere): not ours any more
      }
      return r;
    } catch (err) {
      return -errnoOf(err);
    }
  }

  waitAny(out: WaitRecord): number {
    if (this.ownChildrenOnly) return this.waitAnyOwn(out);
    try {
      if (this.batchPos >= this.batchLen) {
        if (this.batchEnd !== 1) {
          // The last native call stopped short of a full batch and said why: hand that out
          // once, so a drain costs one crossing, then ask the kernel again next time.
          const state = this.batchEnd;
          this.batchEnd = 1;
          return state;
        }
        const n = this.addon.waitAny(this.batch, BATCH);
        this.batchLen = n;
        this.batchPos = 0;
        if (n === 0) return this.addon.waitAnyState();
        this.batchEnd = n < BATCH ? this.addon.waitAnyState() : 1;
      }
      const at = this.batchPos * WAIT_RECORD;
      this.batchPos++;
      NodeHost.fill(out, this.batch, at);
      noteReaped(this.batch[at]!);
      return this.batch[at]!;
    } catch (err) {
      return -errnoOf(err);
    }
  }

  /**
   * `peek-exited`: names a terminated child without reaping it (WNOWAIT), so it is allowed in the
   * sandbox too: the core only waits on a pid it holds, through `waitPid` and its checks.
   */
  peekExited(): number {
    try {
      return this.addon.peekExited();
    } catch (err) {
      return -errnoOf(err);
    }
  }

  /** Sandbox `wait-any`: a non-blocking wait on each own child in turn, never wait4(-1). */
  private waitAnyOwn(out: WaitRecord): number {
    let running = false;
    for (const pid of ownChildren()) {
      try {
        const r = this.addon.waitPid(pid, this.one);
        if (r > 0) {
          noteReaped(r);
          NodeHost.fill(out, this.one, 0);
          return r;
        }
        if (r === 0) running = true;
        else if (r === -ECHILD) noteReaped(pid);
      } catch {
        // a pid the addon refuses cannot be ours: skip it
      }
    }
    return running ? 0 : -ECHILD;
  }

  private static fill(out: WaitRecord, src: Float64Array, at: number): void {
    out.status = src[at + 1]!;
    out.userMicros = src[at + 2]!;
    out.systemMicros = src[at + 3]!;
    out.maxRssKiB = src[at + 4]!;
  }

  // -- pidfds ---------------------------------------------------------------------------------

  /**
   * A pidfd opened at spawn for `pid`, offered to the core's next `pidfd-open(pid)` (the Pidfd
   * watcher registering the child): adopting it saves a pidfd_open and, above all, an fd per
   * running child (every open fd is copied into each new child by posix_spawn).
   */
  offerPidfd(pid: number, fd: number): void {
    this.offeredPidfds.set(pid, fd);
  }

  /** Take back an offered pidfd the core did not adopt: the fd, or -1 if it was adopted. */
  withdrawPidfd(pid: number): number {
    const fd = this.offeredPidfds.get(pid);
    if (fd === undefined) return -1;
    this.offeredPidfds.delete(pid);
    return fd;
  }

  pidfdOpen(pid: number): number {
    if (this.refused(pid)) return -EPERM;
    const offered = this.offeredPidfds.get(pid);
    if (offered !== undefined) {
      this.offeredPidfds.delete(pid);
      this.opened.set(offered, pid);
      this.pidfdOf.set(pid, offered);
      return offered;
    }
    try {
      const fd = this.addon.pidfdOpen(pid);
      if (fd >= 0) {
        this.opened.set(fd, pid);
        this.pidfdOf.set(pid, fd);
      }
      return fd;
    } catch (err) {
      return -errnoOf(err);
    }
  }

  watchPidfd(watcher: number, pid: number, fd: number): number {
    if (this.closed) return -EALREADY;
    if (this.ownChildrenOnly && this.opened.get(fd) !== pid) return -EPERM;
    try {
      const existing = this.pidfds.get(fd);
      if (existing !== undefined) {
        // Asked again for the same fd: one more notification (the watch is one-shot).
        existing.watcher = watcher;
        existing.pid = pid;
        return this.pidfdSet!.rearm(fd, fd);
      }
      const set = this.ensurePidfdSet();
      if (typeof set === 'number') return set; // the core watches this child with a thread
      const rc = set.add(fd, fd);
      if (rc < 0) return rc;
      this.pidfds.set(fd, { watcher, pid });
      return 0;
    } catch (err) {
      return -errnoOf(err);
    }
  }

  /** The pidfd set, created at the first watch; -errno if it cannot be (tried again next time). */
  private ensurePidfdSet(): NativePidfdSet | number {
    if (this.pidfdSet === null) {
      if (typeof this.addon.pidfdSet !== 'function') return -ENOSYS; // a test's stand-in addon
      const set = this.addon.pidfdSet(this.readyIds, (count) => this.onPidfdSetReady(count));
      if (typeof set === 'number') return set < 0 ? set : -EINVAL;
      this.pidfdSet = set;
    }
    return this.pidfdSet;
  }

  private onPidfdSetReady(count: number): void {
    const core = this.core;
    if (core === null) return;
    try {
      for (let i = 0; i < count; i++) {
        const watch = this.pidfds.get(this.readyIds[i]!);
        if (watch !== undefined) core.onPidfdReady(watch.watcher, watch.pid);
      }
    } finally {
      this.hooks.afterEvent();
    }
  }

  pidfdClose(fd: number): void {
    const pid = this.opened.get(fd);
    if (pid !== undefined && this.pidfdOf.get(pid) === fd) this.pidfdOf.delete(pid);
    const mine = this.opened.delete(fd);
    if (!mine && this.ownChildrenOnly) return; // never close an fd this host did not hand out
    try {
      if (this.pidfds.delete(fd)) {
        this.pidfdSet!.remove(fd); // EPOLL_CTL_DEL, then close
      } else {
        this.addon.close(fd);
      }
    } catch {
      // nothing to report: the fd is not ours any more either way
    }
  }

  // -- SIGCHLD --------------------------------------------------------------------------------

  subscribeSigchld(watcher: number, loop: number): number {
    if (this.closed) return -EALREADY;
    try {
      this.unsubscribeSigchld(watcher);
      if (loop !== 0) {
        const rc = this.hooks.viaLoop(loop, watcher, () => {
          this.enter((core) => core.onSigchld(watcher));
          this.armSettle();
        });
        if (rc === 0) this.loopWatchers.add(watcher);
        return rc | 0;
      }
      if (this.sigchld === null) {
        const handle = this.addon.signalSubscribe(SIGCHLD, () => this.onSigchld());
        if (typeof handle === 'number') return handle < 0 ? handle : -EINVAL;
        this.sigchld = handle;
      }
      this.sigchldWatchers.add(watcher);
      return 0;
    } catch (err) {
      return -errnoOf(err);
    }
  }

  unsubscribeSigchld(watcher: number): void {
    try {
      if (this.sigchldWatchers.delete(watcher) && this.sigchldWatchers.size === 0) {
        this.sigchld?.close();
        this.sigchld = null;
      }
      if (this.loopWatchers.delete(watcher)) this.hooks.unviaLoop(watcher);
    } catch {
      // idempotent and silent by contract
    }
  }

  /** One (coalesced) SIGCHLD: every subscribed watcher hears about it, then one drain. */
  private onSigchld(): void {
    const core = this.core;
    if (core === null || this.sigchldWatchers.size === 0) return;
    try {
      for (const watcher of [...this.sigchldWatchers]) {
        if (this.sigchldWatchers.has(watcher)) core.onSigchld(watcher);
      }
    } finally {
      this.hooks.afterEvent();
      this.armSettle();
    }
  }

  /**
   * `on-sigchld-settled` for every SIGCHLD subscriber, SETTLE_MS after the first SIGCHLD since the
   * last call (one unref'd timer at a time, so at most one call per SETTLE_MS however many
   * signals): Safe and MultiLoop then sweep if they handled a signal without their full sweep, so
   * that an exit taken by someone else is reported even when no SIGCHLD follows it.
   */
  private armSettle(): void {
    if (this.settleTimer !== null || this.closed) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      const watchers = [...this.sigchldWatchers, ...this.loopWatchers];
      if (watchers.length === 0) return;
      this.enter((core) => {
        for (const watcher of watchers) core.onSigchldSettled(watcher);
      });
    }, SETTLE_MS);
    this.settleTimer.unref();
  }

  // -- waiter threads -------------------------------------------------------------------------

  startWaiter(watcher: number, pid: number): number {
    if (this.closed) return -EALREADY;
    if (this.refused(pid)) return -EPERM;
    try {
      // One callback for every waiter, the watcher passed as the tag: no closure (and no N-API
      // reference in the addon) per waiting thread (memory per watched child: W5).
      return this.addon.startWaiter(pid, this.waiterDone, watcher | 0);
    } catch (err) {
      return -errnoOf(err);
    }
  }

  private readonly waiterDone = (p: number, result: number, status: number, userMicros: number,
    systemMicros: number, maxRssKiB: number, watcher: number): void => {
    if (result > 0 || result === -ECHILD) noteReaped(p);
    const rec = this.rec;
    rec.status = status;
    rec.userMicros = userMicros;
    rec.systemMicros = systemMicros;
    rec.maxRssKiB = maxRssKiB;
    this.enter((core) => core.onWaiterDone(watcher >>> 0, p, result, rec));
  };

  // -- reports --------------------------------------------------------------------------------

  report(code: ReportCode, watcher: number, pid: number, value: number): void {
    try {
      this.hooks.onReport(code, watcher, pid, value);
    } catch {
      // a failing logger must not trap the core
    }
  }

  // -- housekeeping ---------------------------------------------------------------------------

  /** Enter the core from a host event, then let the watcher layer drain. */
  private enter(fn: (core: CoreExports) => void): void {
    const core = this.core;
    if (core === null) return;
    try {
      fn(core);
    } finally {
      this.hooks.afterEvent();
    }
  }

  /** Open pidfd watches (diagnostics, tests). */
  get watchedPidfds(): number {
    return this.pidfds.size;
  }

  /** Whether the process-wide SIGCHLD subscription is open (diagnostics, tests). */
  get sigchldSubscribed(): boolean {
    return this.sigchld !== null;
  }

  /**
   * Release everything: pidfd watches (and their fds), the SIGCHLD subscription, loop
   * subscriptions. Waiter threads cannot be stopped; their results are dropped. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of [...this.pidfds.keys()]) this.pidfdClose(fd);
    this.pidfdSet?.close();
    this.pidfdSet = null;
    if (this.settleTimer !== null) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    for (const watcher of [...this.sigchldWatchers, ...this.loopWatchers]) this.unsubscribeSigchld(watcher);
    this.core = null;
  }
}
