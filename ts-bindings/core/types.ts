// TypeScript view of the WIT boundary (wit/childwatch.wit), shared by the typed loader
// (ts-bindings/core/loader.ts), the Node host (host/node-host.ts) and SimKernel (host/sim/).
// Numbers are plain JS numbers: u64 fields are CPU microseconds and KiB, far below 2^53.

/** `strategy` enum, in WIT order (the canonical ABI lowers enums to their index). */
export const enum Strategy { Threaded = 0, MultiLoop = 1, Safe = 2, Fast = 3, Pidfd = 4 }

/** `report-code` enum, in WIT order. */
export const enum ReportCode {
  UnknownChildStatus = 0,
  PidfdStatusAlreadyRead = 1,
  FastUnknownPid = 2,
  FastUnknownPidsItem = 3,
  FastUnknownPidsEnd = 4,
  FastZombieKept = 5,
  DetachWithPending = 6,
  PidfdFallbackToThread = 7,
  HostError = 8,
}

/** `add-child` results that are not -errno. */
export const ADD_NOT_ATTACHED = -1000;
export const ADD_NOT_ENTERED = -1001;

/** Linux errno values used across the boundary. */
export const Errno = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13,
  EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOSYS: 38,
} as const;

/** The fields of a `wait-result` after the pid (a reusable out-object: hosts fill it in place). */
export interface WaitRecord {
  status: number;
  userMicros: number;
  systemMicros: number;
  maxRssKiB: number;
}

/**
 * The `host` interface as the loader hands it to JavaScript. Implementations must never throw:
 * return -errno. `waitPid`/`waitAny` return the reaped pid (> 0, `out` filled), 0, or -errno.
 */
export interface HostImports {
  waitPid(pid: number, out: WaitRecord): number;
  waitAny(out: WaitRecord): number;
  /** `peek-exited`: the pid of a terminated child that is NOT reaped by this call, 0 if none
   *  terminated, -errno (-ECHILD: no children at all; -ENOSYS: cannot peek). */
  peekExited(): number;
  pidfdOpen(pid: number): number;
  watchPidfd(watcher: number, pid: number, fd: number): number;
  pidfdClose(fd: number): void;
  subscribeSigchld(watcher: number, loop: number): number;
  unsubscribeSigchld(watcher: number): void;
  startWaiter(watcher: number, pid: number): number;
  report(code: ReportCode, watcher: number, pid: number, value: number): void;
}

/** One `exit-event` (a reusable out-object for `popExit`). */
export interface ExitEvent {
  watcher: number;
  token: number;
  loop: number;
  pid: number;
  returncode: number;
  statusKnown: boolean;
  exitCode: number;   // -1 when the child did not exit normally
  signal: number;     // 0 when none
  coreDumped: boolean;
  userMicros: number;
  systemMicros: number;
  maxRssKiB: number;
}

/** The `watcher` interface exports, typed. */
export interface CoreExports {
  create(kind: Strategy): number;
  destroy(watcher: number): void;
  addChild(watcher: number, pid: number, token: number, loop: number): number;
  tokenOf(watcher: number, pid: number): number;
  removeChild(watcher: number, pid: number): boolean;
  attachLoop(watcher: number, loop: number): void;
  attachedLoop(watcher: number): number;
  enter(watcher: number): void;
  exit(watcher: number): void;
  isActive(watcher: number): boolean;
  close(watcher: number): void;
  onSigchld(watcher: number): void;
  /** Some time after SIGCHLDs: Safe/MultiLoop sweep if a SIGCHLD was handled without the full sweep. */
  onSigchldSettled(watcher: number): void;
  onPidfdReady(watcher: number, pid: number): void;
  /** `result` is the wait-result pid field (reaped pid or -errno); `rec` the rest. */
  onWaiterDone(watcher: number, pid: number, result: number, rec: WaitRecord): void;
  pendingExits(): number;
  popExit(out: ExitEvent): void;
  registeredCount(watcher: number): number;
  forks(watcher: number): number;
  zombieCount(watcher: number): number;
}

export function newWaitRecord(): WaitRecord {
  return { status: 0, userMicros: 0, systemMicros: 0, maxRssKiB: 0 };
}

export function newExitEvent(): ExitEvent {
  return {
    watcher: 0, token: 0, loop: 0, pid: 0, returncode: 0, statusKnown: false, exitCode: -1,
    signal: 0, coreDumped: false, userMicros: 0, systemMicros: 0, maxRssKiB: 0,
  };
}
