// SimKernel: a deterministic fake kernel implementing the core's `host` imports.
//
// It keeps a process table (running -> zombie -> reaped), raw Linux wait statuses, a peek that
// names a zombie without reaping it (`peek-exited`, waitid's WNOWAIT), SIGCHLD that coalesces
// until the test delivers it, pidfds that become readable on exit, waiter threads that finish
// when the test says (or at once on exit), pid reuse after reaping, children reaped by someone
// else (ECHILD afterwards), per-import error injection, and a log of every host call.
// Nothing happens by itself: the test (or user) moves time forward with `exit`, `deliverSigchld`,
// `deliverPidfds`, `finishWaiters` or `notify` (all of them), and collects what the core produced
// with `drain`.
import {
  Errno, ReportCode, newExitEvent,
  type CoreExports, type ExitEvent, type HostImports, type WaitRecord,
} from '../../ts-bindings/core/types.js';

/** A simulated process's life: running, then zombie (exited, not waited for), then reaped. */
export type ProcState = 'running' | 'zombie' | 'reaped';

/** One entry of `SimKernel.procs`. */
export interface SimProcess {
  /** Its pid. */
  pid: number;
  /** Where it is in its life. */
  state: ProcState;
  /** Raw wait status once exited. */
  status: number;
  /** User CPU time its wait reports, in microseconds. */
  userMicros: number;
  /** System CPU time its wait reports, in microseconds. */
  systemMicros: number;
  /** Peak RSS its wait reports, in KiB. */
  maxRssKiB: number;
  /** Exit order (for `wait-any`, which reaps the oldest zombie first). */
  exitSeq: number;
}

/** One host call as the core made it. */
export interface HostCall {
  /** The import, by its camelCase name (`waitPid` for WIT `wait-pid`). */
  fn: keyof HostImports;
  /** Its scalar arguments. */
  args: number[];
  /** What the sim returned (undefined for the void imports). */
  result: number | undefined;
}

/** One `report` call of the core (a warning or debug event; see the WIT `report-code`). */
export interface SimReport {
  /** The WIT `report-code`, as its index. */
  code: ReportCode;
  /** The core's watcher id. */
  watcher: number;
  /** The pid it is about. */
  pid: number;
  /** The code-specific value (a returncode, an errno, a count). */
  value: number;
}

/** The host imports `SimKernel.inject` can make fail. */
export type InjectableImport = Exclude<keyof HostImports, 'report' | 'pidfdClose' | 'unsubscribeSigchld'>;

/** Options of `new SimKernel(options)`. */
export interface SimKernelOptions {
  /** The first pid `spawn` hands out (default 100). */
  firstPid?: number;
  /** Waiter threads finish as soon as their child exits (default true); otherwise only on
   *  `finishWaiters`. */
  autoFinishWaiters?: boolean;
  /** Record every host call in `calls` (default true; off for large runs). */
  logCalls?: boolean;
}

/** Raw Linux wait status of a normal exit. */
export function exitedStatus(code: number): number {
  return (code & 0xff) << 8;
}

/** Raw Linux wait status of a death by signal. */
export function signaledStatus(signal: number, coreDumped = false): number {
  return (signal & 0x7f) | (coreDumped ? 0x80 : 0);
}


/**
 * A deterministic fake kernel that implements the watcher core's WIT `host` imports
 * (`HostImports`): a process table, raw wait statuses, coalescing SIGCHLD, pidfds, waiter threads,
 * pid reuse, children reaped elsewhere, injected errors, and a log of every host call.
 *
 * Nothing happens by itself: you spawn and end processes (`spawn`, `exit`, `kill`), then let the
 * kernel tell the core (`deliverSigchld`, `deliverPidfds`, `finishWaiters`, or `notify` for all),
 * and collect the exits the core queued with `drain`. Load the core with this object as its host,
 * then call `attach(core)`.
 */
export class SimKernel implements HostImports {
  /** The process table, by pid. */
  readonly procs = new Map<number, SimProcess>();
  /** Every host call the core made, in order (when `logCalls` is on). */
  readonly calls: HostCall[] = [];
  /** Every `report` of the core, in order. */
  readonly reports: SimReport[] = [];
  /** SIGCHLD subscriptions: watcher -> loop (0: process-wide). */
  readonly sigchldSubscriptions = new Map<number, number>();
  /** Open pidfds: fd -> pid. */
  readonly pidfds = new Map<number, number>();
  /** Watched pidfds: fd -> watcher. */
  readonly watchedPidfds = new Map<number, number>();
  /** Running waiter threads: pid -> the watchers that started one, in start order. */
  readonly waiters = new Map<number, number[]>();
  /** Pids a waiter thread was started for, over the whole run (one entry per start). */
  readonly waiterStarts: number[] = [];
  /** EINTRs the sim's waits retried internally. */
  eintrRetries = 0;
  /** Waits the core made on pid <= 0 (must stay 0). */
  badWaits = 0;
  /**
   * Called after every notification entered the core (SIGCHLD, pidfd, waiter thread). The watcher
   * classes set it when they run on this kernel (`useSimKernel`): they dispatch the exits there.
   */
  afterEvent: (() => void) | null = null;

  private core: CoreExports | null = null;
  private nextPid: number;
  private nextFd = 3;
  private exitSeq = 0;
  private sigchldPending = false;
  /** Exited children in exit order (entries already reaped are skipped lazily). */
  private exitQueue: SimProcess[] = [];
  private exitHead = 0;
  private running = 0;
  private readonly injected = new Map<InjectableImport, number[]>();
  private readonly autoFinish: boolean;
  private readonly logCalls: boolean;
  private readonly event: ExitEvent = newExitEvent();
  private readonly rec: WaitRecord = { status: 0, userMicros: 0, systemMicros: 0, maxRssKiB: 0 };

  constructor(options: SimKernelOptions = {}) {
    this.nextPid = options.firstPid ?? 100;
    this.autoFinish = options.autoFinishWaiters ?? true;
    this.logCalls = options.logCalls ?? true;
  }

  /** Connect the core whose exports the kernel's notifications call. */
  attach(core: CoreExports): this {
    this.core = core;
    return this;
  }

  private get c(): CoreExports {
    if (this.core === null) throw new Error('SimKernel: attach(core) first');
    return this.core;
  }

  // ------------------------------------------------------------------------------------------
  // The process table
  // ------------------------------------------------------------------------------------------

  /** Start a child; returns its pid. `pid` picks one explicitly (a reaped pid may be reused). */
  spawn(pid?: number): number {
    let p = pid;
    if (p === undefined) {
      while (this.isLive(this.nextPid)) this.nextPid++;
      p = this.nextPid++;
    } else if (this.isLive(p)) {
      throw new Error(`SimKernel: pid ${p} is in use`);
    }
    this.procs.set(p, {
      pid: p, state: 'running', status: 0, userMicros: 0, systemMicros: 0, maxRssKiB: 0,
      exitSeq: 0,
    });
    this.running++;
    return p;
  }

  /** Spawn `n` children; returns their pids. */
  spawnMany(n: number): number[] {
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.spawn();
    return out;
  }

  private isLive(pid: number): boolean {
    const p = this.procs.get(pid);
    return p !== undefined && p.state !== 'reaped';
  }

  /** The child exits with `code` (0-255). */
  exit(pid: number, code: number, rusage?: Partial<WaitRecord>): void {
    this.terminate(pid, exitedStatus(code), rusage);
  }

  /** The child is killed by `signal`. */
  kill(pid: number, signal: number, coreDumped = false, rusage?: Partial<WaitRecord>): void {
    this.terminate(pid, signaledStatus(signal, coreDumped), rusage);
  }

  /** The child terminates with this raw wait status. */
  terminate(pid: number, status: number, rusage: Partial<WaitRecord> = {}): void {
    const p = this.procs.get(pid);
    if (p === undefined || p.state !== 'running') throw new Error(`SimKernel: pid ${pid} is not running`);
    p.state = 'zombie';
    p.status = status;
    p.userMicros = rusage.userMicros ?? 1000 + pid;
    p.systemMicros = rusage.systemMicros ?? 500 + pid;
    p.maxRssKiB = rusage.maxRssKiB ?? 2048 + pid;
    p.exitSeq = ++this.exitSeq;
    this.running--;
    this.exitQueue.push(p);
    this.sigchldPending = true;
    if (this.autoFinish) this.finishWaiters(pid);
  }

  /** Someone else (not the core) reaps the zombie `pid`: later waits on it give ECHILD. */
  reapElsewhere(pid: number): void {
    const p = this.procs.get(pid);
    if (p === undefined || p.state !== 'zombie') throw new Error(`SimKernel: pid ${pid} is not a zombie`);
    p.state = 'reaped';
  }

  /** The state of `pid`, or undefined if it never existed. */
  state(pid: number): ProcState | undefined {
    return this.procs.get(pid)?.state;
  }

  /** Pids that exited and were not reaped. */
  zombies(): number[] {
    return [...this.procs.values()].filter((p) => p.state === 'zombie').map((p) => p.pid);
  }

  /** True if a child exited since the last SIGCHLD was delivered. */
  get isSigchldPending(): boolean {
    return this.sigchldPending;
  }

  // ------------------------------------------------------------------------------------------
  // Error injection
  // ------------------------------------------------------------------------------------------

  /** The next `times` calls of `fn` fail with -errno. EINTR on a wait or a peek is retried
   *  inside the sim (as the Node host does), so the core never sees it. */
  inject(fn: InjectableImport, errno: number, times = 1): this {
    const q = this.injected.get(fn) ?? [];
    for (let i = 0; i < times; i++) q.push(errno);
    this.injected.set(fn, q);
    return this;
  }

  private takeInjected(fn: InjectableImport): number {
    const q = this.injected.get(fn);
    if (q === undefined || q.length === 0) return 0;
    return q.shift()!;
  }

  private log(fn: keyof HostImports, args: number[], result: number | undefined): void {
    if (this.logCalls) this.calls.push({ fn, args, result });
  }

  // ------------------------------------------------------------------------------------------
  // HostImports
  // ------------------------------------------------------------------------------------------

  /** WIT `wait-pid`: reap `pid` if it is a zombie (its pid, `out` filled), 0 if running, -ECHILD if not a child. */
  waitPid(pid: number, out: WaitRecord): number {
    let r: number;
    if (pid <= 0) {
      this.badWaits++;
      r = -Errno.EINVAL;
    } else {
      r = this.injectedWait('waitPid');
      if (r === 0) r = this.reap(this.procs.get(pid), out);
    }
    this.log('waitPid', [pid], r);
    return r;
  }

  /** WIT `wait-any`: reap the oldest zombie; 0 if children run but none exited; -ECHILD if none. */
  waitAny(out: WaitRecord): number {
    let r = this.injectedWait('waitAny');
    if (r === 0) {
      const z = this.oldestZombie();
      if (z !== undefined) r = this.reap(z, out);
      else r = this.running > 0 ? 0 : -Errno.ECHILD;
    }
    this.log('waitAny', [], r);
    return r;
  }

  /** WIT `peek-exited` (waitid with WNOWAIT): the oldest zombie's pid WITHOUT reaping it (it stays
   *  a zombie, and a later wait still gets its status); 0 if children run but none exited;
   *  -ECHILD if there are no children at all. */
  peekExited(): number {
    let r = this.injectedWait('peekExited');
    if (r === 0) {
      const z = this.oldestZombie();
      if (z !== undefined) r = z.pid;
      else r = this.running > 0 ? 0 : -Errno.ECHILD;
    }
    this.log('peekExited', [], r);
    return r;
  }

  /** The zombie that exited first, or undefined; O(1) amortised. */
  private oldestZombie(): SimProcess | undefined {
    const q = this.exitQueue;
    while (this.exitHead < q.length && q[this.exitHead].state !== 'zombie') this.exitHead++;
    if (this.exitHead > 1024 && this.exitHead * 2 > q.length) {
      this.exitQueue = q.slice(this.exitHead);
      this.exitHead = 0;
    }
    return this.exitHead < this.exitQueue.length ? this.exitQueue[this.exitHead] : undefined;
  }

  /** An injected wait error, with EINTR retried (0 when none is left). */
  private injectedWait(fn: 'waitPid' | 'waitAny' | 'peekExited'): number {
    for (;;) {
      const e = this.takeInjected(fn);
      if (e === 0) return 0;
      if (e === Errno.EINTR) {
        this.eintrRetries++;
        continue;
      }
      return -e;
    }
  }

  private reap(p: SimProcess | undefined, out: WaitRecord): number {
    if (p === undefined || p.state === 'reaped') return -Errno.ECHILD;
    if (p.state === 'running') return 0;
    p.state = 'reaped';
    out.status = p.status;
    out.userMicros = p.userMicros;
    out.systemMicros = p.systemMicros;
    out.maxRssKiB = p.maxRssKiB;
    return p.pid;
  }

  /** WIT `pidfd-open`: a new fd, or -ESRCH if `pid` is not alive (running or zombie). */
  pidfdOpen(pid: number): number {
    let r = -this.takeInjected('pidfdOpen');
    if (r === 0) {
      if (pid <= 0) r = -Errno.EINVAL;
      else if (!this.isLive(pid)) r = -Errno.ESRCH;
      else {
        r = this.nextFd++;
        this.pidfds.set(r, pid);
      }
    }
    this.log('pidfdOpen', [pid], r);
    return r;
  }

  /** WIT `watch-pidfd`: `deliverPidfds` / `firePidfd` later call the core's `on-pidfd-ready` once. */
  watchPidfd(watcher: number, pid: number, fd: number): number {
    let r = -this.takeInjected('watchPidfd');
    if (r === 0) {
      if (this.pidfds.get(fd) !== pid) r = -Errno.EINVAL;
      else this.watchedPidfds.set(fd, watcher);
    }
    this.log('watchPidfd', [watcher, pid, fd], r);
    return r;
  }

  /** WIT `pidfd-close`. */
  pidfdClose(fd: number): void {
    this.watchedPidfds.delete(fd);
    this.pidfds.delete(fd);
    this.log('pidfdClose', [fd], undefined);
  }

  /** WIT `subscribe-sigchld`: `deliverSigchld` calls the core's `on-sigchld` for this watcher. */
  subscribeSigchld(watcher: number, loop: number): number {
    let r = -this.takeInjected('subscribeSigchld');
    if (r === 0) this.sigchldSubscriptions.set(watcher, loop);
    this.log('subscribeSigchld', [watcher, loop], r);
    return r;
  }

  /** WIT `unsubscribe-sigchld`. */
  unsubscribeSigchld(watcher: number): void {
    this.sigchldSubscriptions.delete(watcher);
    this.log('unsubscribeSigchld', [watcher], undefined);
  }

  /** WIT `start-waiter`: a simulated thread; `finishWaiters` makes it report `on-waiter-done`. */
  startWaiter(watcher: number, pid: number): number {
    let r = -this.takeInjected('startWaiter');
    if (r === 0) {
      const list = this.waiters.get(pid);
      if (list === undefined) this.waiters.set(pid, [watcher]);
      else list.push(watcher);
      this.waiterStarts.push(pid);
    }
    this.log('startWaiter', [watcher, pid], r);
    return r;
  }

  /** WIT `report`: recorded in `reports`. */
  report(code: ReportCode, watcher: number, pid: number, value: number): void {
    this.reports.push({ code, watcher, pid, value });
    this.log('report', [code, watcher, pid, value], undefined);
  }

  // ------------------------------------------------------------------------------------------
  // Notifications: the kernel telling the core
  // ------------------------------------------------------------------------------------------

  /** Deliver the pending (coalesced) SIGCHLD to every subscribed watcher; `force` delivers one
   *  even if no child exited (a spurious or foreign SIGCHLD). Returns whether one was delivered. */
  deliverSigchld(force = false): boolean {
    if (!this.sigchldPending && !force) return false;
    this.sigchldPending = false;
    for (const w of [...this.sigchldSubscriptions.keys()]) {
      this.c.onSigchld(w);
      this.afterEvent?.();
    }
    return true;
  }

  /** Make the watched pidfd of `pid` fire now, whether or not the child exited (spurious
   *  readiness when it did not). */
  firePidfd(pid: number): boolean {
    for (const [fd, w] of this.watchedPidfds) {
      if (this.pidfds.get(fd) === pid) {
        this.watchedPidfds.delete(fd); // the host stops the watch, then calls the core once
        this.c.onPidfdReady(w, pid);
        this.afterEvent?.();
        return true;
      }
    }
    return false;
  }

  /** Deliver readiness for every watched pidfd whose child exited. Returns how many fired. */
  deliverPidfds(): number {
    let n = 0;
    for (const [fd, w] of [...this.watchedPidfds]) {
      const pid = this.pidfds.get(fd)!;
      if (this.isLive(pid) && this.procs.get(pid)!.state === 'running') continue;
      if (!this.watchedPidfds.has(fd)) continue;
      this.watchedPidfds.delete(fd);
      this.c.onPidfdReady(w, pid);
      this.afterEvent?.();
      n++;
    }
    return n;
  }

  /** Let waiter threads whose child exited (or was reaped elsewhere) finish: each does its
   *  blocking wait and reports to the core. `pid` limits it to that child. */
  finishWaiters(pid?: number): number {
    if (this.core === null) return 0;
    const pids = pid === undefined ? [...this.waiters.keys()] : [pid];
    let n = 0;
    for (const p of pids) {
      const list = this.waiters.get(p);
      if (list === undefined) continue;
      if (this.procs.get(p)?.state === 'running') continue;
      this.waiters.delete(p);
      for (const w of list) {
        const r = this.blockingWait(p);
        this.c.onWaiterDone(w, p, r, this.rec);
        this.afterEvent?.();
        n++;
      }
    }
    return n;
  }

  /** A waiter thread's `wait4(pid, 0)`: the child has exited (or is gone). */
  private blockingWait(pid: number): number {
    const rec = this.rec;
    rec.status = 0; rec.userMicros = 0; rec.systemMicros = 0; rec.maxRssKiB = 0;
    // The thread's wait4 is a wait too: injected waitPid errors apply (EINTR retried).
    const e = this.injectedWait('waitPid');
    const r = e !== 0 ? e : this.reap(this.procs.get(pid), rec);
    this.log('waitPid', [pid], r);
    return r;
  }

  /** Make the waiter thread of `pid` finish now with a failure (e.g. -EINVAL). */
  failWaiter(pid: number, errno: number): boolean {
    const list = this.waiters.get(pid);
    if (list === undefined) return false;
    this.waiters.delete(pid);
    for (const w of list) {
      this.c.onWaiterDone(w, pid, -errno, { status: 0, userMicros: 0, systemMicros: 0, maxRssKiB: 0 });
      this.afterEvent?.();
    }
    return true;
  }

  /** Every notification a real kernel would send by now: SIGCHLD, pidfds, waiter threads. */
  notify(): void {
    this.finishWaiters();
    this.deliverPidfds();
    this.deliverSigchld();
  }

  /** Pop every exit event the core has queued (copies). */
  drain(): ExitEvent[] {
    const out: ExitEvent[] = [];
    const c = this.c;
    while (c.pendingExits() > 0) {
      c.popExit(this.event);
      out.push({ ...this.event });
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Log queries
  // ------------------------------------------------------------------------------------------

  /** The pids passed to `wait-pid`, in order. */
  waitedPids(): number[] {
    return this.calls.filter((c) => c.fn === 'waitPid').map((c) => c.args[0]);
  }

  /** The logged calls of one import. */
  callsOf(fn: keyof HostImports): HostCall[] {
    return this.calls.filter((c) => c.fn === fn);
  }

  /** The reports with one code. */
  reportsOf(code: ReportCode): SimReport[] {
    return this.reports.filter((r) => r.code === code);
  }

  /** Empty `calls` and `reports`. */
  clearLog(): void {
    this.calls.length = 0;
    this.reports.length = 0;
  }
}
