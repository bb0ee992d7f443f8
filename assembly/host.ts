// The `host` interface of wit/childwatch.wit as the core sees it: the raw canonical-ABI imports
// and a fixed, 8-aligned return area for `wait-result`.
//
// Canonical ABI: `wait-result` flattens to five values (s32, s32, u64, u64, u64), more than one
// result, so each wait import takes a trailing `retptr` and the host writes the record there:
//   pid @0 (s32), status @4 (s32), user-micros @8 (u64), system-micros @16 (u64),
//   max-rss-kib @24 (u64); size 32, alignment 8.

/** `report-code`, in WIT order (the canonical ABI lowers an enum to its index). */
export const enum Report {
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

/** Linux errno values the core tests for (the host returns them negated). */
export const ESRCH: i32 = 3;
export const ECHILD: i32 = 10;
export const ENOMEM: i32 = 12;
export const EINVAL: i32 = 22;
export const ENFILE: i32 = 23;
export const EMFILE: i32 = 24;

// @ts-ignore: decorator
@external("childwatch:core/host@0.1.0", "wait-pid")
declare function hostWaitPid(pid: i32, retptr: usize): void;
// @ts-ignore: decorator
@external("childwatch:core/host@0.1.0", "wait-any")
declare function hostWaitAny(retptr: usize): void;
// @ts-ignore: decorator
@external("childwatch:core/host@0.1.0", "peek-exited")
/** `peek-exited`: the pid of a terminated, not yet reaped child (NOT reaped by this call), 0 if
 *  none has terminated, -errno (-ECHILD: no children at all). */
export declare function peekExited(): i32;
// @ts-ignore: decorator
@external("childwatch:core/host@0.1.0", "pidfd-open")
export declare function pidfdOpen(pid: i32): i32;
// @ts-ignore: decorator
@external("childwatch:core/host@0.1.0", "watch-pidfd")
export declare function watchPidfd(watcher: u32, pid: i32, fd: i32): i32;
// @ts-ignore: decorator
@external("childwatch:core/host@0.1.0", "pidfd-close")
export declare function pidfdClose(fd: i32): void;
// @ts-ignore: decorator
@external("childwatch:core/host@0.1.0", "subscribe-sigchld")
export declare function subscribeSigchld(watcher: u32, loop: u32): i32;
// @ts-ignore: decorator
@external("childwatch:core/host@0.1.0", "unsubscribe-sigchld")
export declare function unsubscribeSigchld(watcher: u32): void;
// @ts-ignore: decorator
@external("childwatch:core/host@0.1.0", "start-waiter")
export declare function startWaiter(watcher: u32, pid: i32): i32;
// @ts-ignore: decorator
@external("childwatch:core/host@0.1.0", "report")
export declare function report(code: i32, watcher: u32, pid: i32, value: i32): void;

/** The return area the host writes each `wait-result` into (static: no allocation per call). */
export const WAIT_AREA: usize = memory.data(32, 8);

/** `wait-pid`: the result's pid field (> 0 reaped, 0 running, < 0 -errno); the rest stays in
 *  WAIT_AREA until the next wait. The area is cleared first so a host that writes nothing on
 *  0 / -errno leaves no stale status behind. */
export function waitPid(pid: i32): i32 {
  clearWaitArea();
  hostWaitPid(pid, WAIT_AREA);
  return load<i32>(WAIT_AREA, 0);
}

/** `wait-any`: as `waitPid`, for any child. */
export function waitAny(): i32 {
  clearWaitArea();
  hostWaitAny(WAIT_AREA);
  return load<i32>(WAIT_AREA, 0);
}

// @ts-ignore: decorator
@inline function clearWaitArea(): void {
  store<u64>(WAIT_AREA, 0, 0);
  store<u64>(WAIT_AREA, 0, 8);
  store<u64>(WAIT_AREA, 0, 16);
  store<u64>(WAIT_AREA, 0, 24);
}

// @ts-ignore: decorator
@inline export function waitStatus(): i32 { return load<i32>(WAIT_AREA, 4); }
// @ts-ignore: decorator
@inline export function waitUser(): u64 { return load<u64>(WAIT_AREA, 8); }
// @ts-ignore: decorator
@inline export function waitSystem(): u64 { return load<u64>(WAIT_AREA, 16); }
// @ts-ignore: decorator
@inline export function waitRss(): u64 { return load<u64>(WAIT_AREA, 24); }

/** Put a wait result delivered from outside (a waiter thread's) into the wait area. */
export function setWaitArea(pid: i32, status: i32, user: u64, system: u64, rss: u64): void {
  store<i32>(WAIT_AREA, pid, 0);
  store<i32>(WAIT_AREA, status, 4);
  store<u64>(WAIT_AREA, user, 8);
  store<u64>(WAIT_AREA, system, 16);
  store<u64>(WAIT_AREA, rss, 24);
}
