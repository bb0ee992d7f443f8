// Shared mechanics of the five watchers: the pid registry (an open-addressing hash table over
// preallocated typed storage), the ring buffer of exit events, exit-status decoding and the
// `Watcher` base class whose methods each strategy overrides.
//
// Allocation happens only on the control paths (create, add-child, enter): tables and the ring
// are grown there, ahead of need. The event paths (on-sigchld, on-pidfd-ready, on-waiter-done,
// pop-exit) only read and write storage that already exists. The one documented exception is
// Fast's zombie table, whose size the kernel decides (see watchers/fast.ts).

import {
  Report, report, peekExited, startWaiter, waitPid, waitStatus, waitUser, waitSystem, waitRss, ECHILD,
} from "./host";

// ---------------------------------------------------------------------------------------------
// Registry: pid -> slot
// ---------------------------------------------------------------------------------------------

/** Column indices of a registration slot (`Table` with `stride32 = REG_STRIDE`). */
export const C_TOKEN: i32 = 0;   // the embedder's token; 0 = removed (reap silently)
export const C_LOOP: i32 = 1;    // the registering loop
export const C_FD: i32 = 2;      // Pidfd: the watched pidfd, or -1
export const C_FLAGS: i32 = 3;   // F_* below
export const REG_STRIDE: i32 = 4;

/** A waiter thread is running for this pid: do not start another one. */
export const F_WAITER: i32 = 1;
/** `start-waiter` failed: start it on the next event of this watcher. */
export const F_NEEDS_WAITER: i32 = 2;

const MIN_CAPACITY: i32 = 16;

/**
 * An open-addressing hash table keyed by pid (> 0; 0 marks an empty slot) with linear probing and
 * backward-shift deletion (no tombstones, so lookups stay short however many pids come and go).
 * Each slot carries `stride32` i32 columns and `stride64` u64 columns in two flat arrays. The load
 * factor stays at or below 1/2: lookups are O(1) on average, growth doubles the capacity and
 * happens only in `reserve`, which the control paths call before inserting.
 */
export class Table {
  keys: StaticArray<i32>;
  cols: StaticArray<i32>;
  wide: StaticArray<u64>;
  /** A scratch array as long as the table, for snapshots of the keys (sweeps, sorted reports). */
  scratch: StaticArray<i32>;
  capacity: i32;
  shift: i32;
  count: i32 = 0;
  stride32: i32;
  stride64: i32;

  constructor(stride32: i32, stride64: i32, capacity: i32) {
    this.stride32 = stride32;
    this.stride64 = stride64;
    let cap = MIN_CAPACITY;
    while (cap < capacity) cap <<= 1;
    this.capacity = cap;
    this.shift = 32 - <i32>ctz(<u32>cap);
    this.keys = new StaticArray<i32>(cap);
    this.cols = new StaticArray<i32>(cap * stride32);
    this.wide = new StaticArray<u64>(cap * max(stride64, 0));
    this.scratch = new StaticArray<i32>(cap);
  }

  // @ts-ignore: decorator
  @inline home(pid: i32): i32 {
    // Fibonacci hashing: the high bits of pid * 2^32/phi.
    return <i32>((<u32>pid * 0x9E3779B1) >>> <u32>this.shift);
  }

  /** The slot holding `pid`, or -1. */
  find(pid: i32): i32 {
    const mask = this.capacity - 1;
    let i = this.home(pid);
    while (true) {
      const k = unchecked(this.keys[i]);
      if (k == pid) return i;
      if (k == 0) return -1;
      i = (i + 1) & mask;
    }
  }

  /** Make room for `n` more keys without growing on the way (control paths only). */
  reserve(n: i32): void {
    const need = (this.count + n) * 2;
    if (need <= this.capacity) return;
    let cap = this.capacity;
    while (cap < need) cap <<= 1;
    this.rehash(cap);
  }

  /** Insert a pid that is not present; the caller has reserved room. Returns its slot with all
   *  columns zeroed. */
  insert(pid: i32): i32 {
    if ((this.count + 1) * 2 > this.capacity) this.rehash(this.capacity << 1); // safety net
    const mask = this.capacity - 1;
    let i = this.home(pid);
    while (unchecked(this.keys[i]) != 0) i = (i + 1) & mask;
    unchecked(this.keys[i] = pid);
    const s32 = this.stride32, s64 = this.stride64;
    for (let c = 0; c < s32; c++) unchecked(this.cols[i * s32 + c] = 0);
    for (let c = 0; c < s64; c++) unchecked(this.wide[i * s64 + c] = 0);
    this.count++;
    return i;
  }

  // @ts-ignore: decorator
  @inline get(slot: i32, col: i32): i32 { return unchecked(this.cols[slot * this.stride32 + col]); }
  // @ts-ignore: decorator
  @inline set(slot: i32, col: i32, v: i32): void { unchecked(this.cols[slot * this.stride32 + col] = v); }
  // @ts-ignore: decorator
  @inline getWide(slot: i32, col: i32): u64 { return unchecked(this.wide[slot * this.stride64 + col]); }
  // @ts-ignore: decorator
  @inline setWide(slot: i32, col: i32, v: u64): void { unchecked(this.wide[slot * this.stride64 + col] = v); }
  // @ts-ignore: decorator
  @inline keyAt(slot: i32): i32 { return unchecked(this.keys[slot]); }

  /** Remove the key in `slot`; later keys of its probe run shift back (no tombstones). */
  removeAt(slot: i32): void {
    const mask = this.capacity - 1;
    const s32 = this.stride32, s64 = this.stride64;
    let i = slot;
    let j = slot;
    while (true) {
      j = (j + 1) & mask;
      const k = unchecked(this.keys[j]);
      if (k == 0) break;
      const h = this.home(k);
      // Move j back to the hole i if its home is not cyclically within (i, j].
      const between = i <= j ? (h > i && h <= j) : (h > i || h <= j);
      if (!between) {
        unchecked(this.keys[i] = k);
        for (let c = 0; c < s32; c++) unchecked(this.cols[i * s32 + c] = this.cols[j * s32 + c]);
        for (let c = 0; c < s64; c++) unchecked(this.wide[i * s64 + c] = this.wide[j * s64 + c]);
        i = j;
      }
    }
    unchecked(this.keys[i] = 0);
    this.count--;
  }

  /** Copy every key into `scratch` (a snapshot that removals cannot disturb); returns the count. */
  snapshot(): i32 {
    let n = 0;
    const cap = this.capacity;
    for (let i = 0; i < cap; i++) {
      const k = unchecked(this.keys[i]);
      if (k != 0) unchecked(this.scratch[n++] = k);
    }
    return n;
  }

  clear(): void {
    if (this.count == 0) return;
    memory.fill(changetype<usize>(this.keys), 0, <usize>this.capacity << 2);
    this.count = 0;
  }

  private rehash(cap: i32): void {
    const oldKeys = this.keys, oldCols = this.cols, oldWide = this.wide;
    const oldCap = this.capacity;
    const s32 = this.stride32, s64 = this.stride64;
    this.capacity = cap;
    this.shift = 32 - <i32>ctz(<u32>cap);
    this.keys = new StaticArray<i32>(cap);
    this.cols = new StaticArray<i32>(cap * s32);
    this.wide = new StaticArray<u64>(cap * s64);
    this.scratch = new StaticArray<i32>(cap);
    this.count = 0;
    for (let o = 0; o < oldCap; o++) {
      const k = unchecked(oldKeys[o]);
      if (k == 0) continue;
      const n = this.insert(k);
      for (let c = 0; c < s32; c++) unchecked(this.cols[n * s32 + c] = oldCols[o * s32 + c]);
      for (let c = 0; c < s64; c++) unchecked(this.wide[n * s64 + c] = oldWide[o * s64 + c]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Exit events: a ring buffer of canonical-ABI `exit-event` records
// ---------------------------------------------------------------------------------------------
//
// Layout (natural alignment, as the canonical ABI lifts `exit-event` from a return area):
//   watcher @0 u32, token @4 u32, loop @8 u32, pid @12 s32, returncode @16 s32,
//   status-known @20 u8, exit-code @24 s32, signal @28 s32, core-dumped @32 u8,
//   user-micros @40 u64, system-micros @48 u64, max-rss-kib @56 u64; size 64, align 8.

export const EVENT_SIZE: i32 = 64;

/** The return area of `pop-exit`: fixed, 8-aligned, rewritten by each call. */
export const EXIT_AREA: usize = memory.data(EVENT_SIZE, 8);

let ring = new StaticArray<u8>(64 * EVENT_SIZE);
let ringCap: i32 = 64;
let ringHead: i32 = 0;
let ringCount: i32 = 0;

/** Registrations with a token, over all watchers: each can produce at most one event, so a ring
 *  with room for `pending + liveTotal` never has to grow on an event path. */
let liveTotal: i32 = 0;

export function pendingExits(): i32 { return ringCount; }

/** Control paths call this before a registration that may produce `extra` events. */
export function reserveEvents(extra: i32): void {
  const need = ringCount + liveTotal + extra;
  if (need > ringCap) growRing(need);
}

function growRing(need: i32): void {
  let cap = ringCap;
  while (cap < need) cap <<= 1;
  const next = new StaticArray<u8>(cap * EVENT_SIZE);
  const src = changetype<usize>(ring), dst = changetype<usize>(next);
  for (let i = 0; i < ringCount; i++) {
    const from = (ringHead + i) % ringCap;
    memory.copy(dst + <usize>(i * EVENT_SIZE), src + <usize>(from * EVENT_SIZE), EVENT_SIZE);
  }
  ring = next;
  ringCap = cap;
  ringHead = 0;
}

/** Copy the oldest event into EXIT_AREA (zeroes if there is none) and drop it. */
export function popExit(): usize {
  if (ringCount == 0) {
    memory.fill(EXIT_AREA, 0, EVENT_SIZE);
    return EXIT_AREA;
  }
  memory.copy(EXIT_AREA, changetype<usize>(ring) + <usize>(ringHead * EVENT_SIZE), EVENT_SIZE);
  ringHead = (ringHead + 1) % ringCap;
  ringCount--;
  return EXIT_AREA;
}

function nextRecord(): usize {
  if (ringCount == ringCap) growRing(ringCap + 1); // never taken while the invariant holds
  const at = (ringHead + ringCount) % ringCap;
  ringCount++;
  return changetype<usize>(ring) + <usize>(at * EVENT_SIZE);
}

/** Queue the exit of `pid` whose raw wait status and rusage are given. Decoding is Linux's:
 *  WIFEXITED -> the exit code; WIFSIGNALED -> -signal (core dumped = status & 0x80); anything
 *  else (stopped, continued, garbage) passes through as the returncode. */
export function queueStatus(watcher: u32, token: u32, loop: u32, pid: i32, status: i32,
                            user: u64, system: u64, rss: u64): void {
  const p = nextRecord();
  const low = status & 0x7f;
  let rc: i32, code: i32 = -1, sig: i32 = 0, core: i32 = 0;
  if (low == 0) {
    code = (status >> 8) & 0xff;
    rc = code;
  } else if (low != 0x7f) {
    sig = low;
    rc = -sig;
    core = (status & 0x80) != 0 ? 1 : 0;
  } else {
    rc = status;
  }
  store<u32>(p, watcher, 0);
  store<u32>(p, token, 4);
  store<u32>(p, loop, 8);
  store<i32>(p, pid, 12);
  store<i32>(p, rc, 16);
  store<u32>(p, 1, 20);  // status-known (u8) plus padding zeroed
  store<i32>(p, code, 24);
  store<i32>(p, sig, 28);
  store<u64>(p, <u64>core, 32);  // core-dumped (u8) plus padding zeroed
  store<u64>(p, user, 40);
  store<u64>(p, system, 48);
  store<u64>(p, rss, 56);
}

/** Queue the exit of a child whose status was taken by someone else: returncode 255, status not
 *  known, no rusage. */
export function queueUnknown(watcher: u32, token: u32, loop: u32, pid: i32): void {
  const p = nextRecord();
  store<u32>(p, watcher, 0);
  store<u32>(p, token, 4);
  store<u32>(p, loop, 8);
  store<i32>(p, pid, 12);
  store<i32>(p, 255, 16);
  store<u32>(p, 0, 20);
  store<i32>(p, -1, 24);
  store<i32>(p, 0, 28);
  store<u64>(p, 0, 32);
  store<u64>(p, 0, 40);
  store<u64>(p, 0, 48);
  store<u64>(p, 0, 56);
}

/** Queue the exit just returned by a wait (its status and rusage are in the wait area). */
export function queueWaited(watcher: u32, token: u32, loop: u32, pid: i32): void {
  queueStatus(watcher, token, loop, pid, waitStatus(), waitUser(), waitSystem(), waitRss());
}

/** Python's returncode for a raw status (for reports). */
export function returncodeOf(status: i32): i32 {
  const low = status & 0x7f;
  if (low == 0) return (status >> 8) & 0xff;
  if (low != 0x7f) return -low;
  return status;
}

// ---------------------------------------------------------------------------------------------
// Watcher base
// ---------------------------------------------------------------------------------------------

/** Strategy numbers, in WIT order. */
export const K_THREADED: i32 = 0;
export const K_MULTI_LOOP: i32 = 1;
export const K_SAFE: i32 = 2;
export const K_FAST: i32 = 3;
export const K_PIDFD: i32 = 4;

/** `add-child` results that are not -errno. */
export const ADD_NOT_ATTACHED: i32 = -1000;
export const ADD_NOT_ENTERED: i32 = -1001;

/**
 * What every watcher has: an id, a registry of pid -> (token, loop, fd, flags) and the number of
 * registrations that still have a token ("live"; a removed pid whose child must still be reaped
 * stays in the table with token 0). The default methods are those of a watcher for which the call
 * means nothing (Python's no-ops); each strategy overrides what it does.
 */
export class Watcher {
  id: u32;
  kind: i32;
  reg: Table = new Table(REG_STRIDE, 0, MIN_CAPACITY);
  live: i32 = 0;
  attached: u32 = 0;

  constructor(id: u32, kind: i32) {
    this.id = id;
    this.kind = kind;
  }

  // --- the exported operations (overridden per strategy) ---

  addChild(pid: i32, token: u32, loop: u32): i32 { return 0; }

  removeChild(pid: i32): bool {
    const slot = this.reg.find(pid);
    if (slot < 0 || this.reg.get(slot, C_TOKEN) == 0) return false;
    this.setToken(slot, 0);
    return true;
  }

  attachLoop(loop: u32): void {}
  attachedLoop(): u32 { return this.attached; }
  enter(): void {}
  exit(): void {}
  isActive(): bool { return true; }
  close(): void {}
  onSigchld(): void {}
  /** The host's delayed follow-up of SIGCHLDs (`on-sigchld-settled`): Safe and MultiLoop. */
  onSigchldSettled(): void {}
  onPidfdReady(pid: i32): void {}
  onWaiterDone(pid: i32, result: i32): void {}
  /** Release what the watcher holds in the host (pidfds, SIGCHLD subscription). */
  release(): void {}
  forks(): i32 { return 0; }
  zombieCount(): i32 { return 0; }

  tokenOf(pid: i32): u32 {
    const slot = this.reg.find(pid);
    return slot < 0 ? 0 : <u32>this.reg.get(slot, C_TOKEN);
  }

  registeredCount(): i32 { return this.live; }

  // --- shared mechanics ---

  /** Register `pid` or replace its token and loop. Returns the slot; `isNew` tells which. */
  register(pid: i32, token: u32, loop: u32): i32 {
    let slot = this.reg.find(pid);
    if (slot < 0) {
      this.reg.reserve(1);
      slot = this.reg.insert(pid);
      this.reg.set(slot, C_FD, -1);
    }
    this.setToken(slot, token);
    this.reg.set(slot, C_LOOP, <i32>loop);
    return slot;
  }

  /** Set a slot's token, keeping the live counts right. */
  setToken(slot: i32, token: u32): void {
    const was = this.reg.get(slot, C_TOKEN) != 0;
    const now = token != 0;
    if (was && !now) { this.live--; liveTotal--; }
    if (!was && now) { this.live++; liveTotal++; }
    this.reg.set(slot, C_TOKEN, <i32>token);
  }

  /** Forget a slot (its pid was reaped, or the watcher is cleared). */
  drop(slot: i32): void {
    this.setToken(slot, 0);
    this.reg.removeAt(slot);
  }

  /** Forget every registration. */
  clearAll(): void {
    liveTotal -= this.live;
    this.live = 0;
    this.reg.clear();
  }

  /** Queue an exit just reaped by a wait for the pid in `slot` (if it still has a token) and
   *  forget the pid. */
  deliverWaited(slot: i32, pid: i32, loop: u32): void {
    const token = <u32>this.reg.get(slot, C_TOKEN);
    if (token != 0) queueWaited(this.id, token, loop, pid);
    this.drop(slot);
  }

  /** The status of the pid in `slot` was taken by someone else (ECHILD): queue returncode 255
   *  with `code` reported (if it still has a token) and forget the pid. */
  deliverUnknown(slot: i32, pid: i32, loop: u32, code: i32, errno: i32): void {
    const token = <u32>this.reg.get(slot, C_TOKEN);
    if (token != 0) {
      report(code, this.id, pid, errno);
      queueUnknown(this.id, token, loop, pid);
    }
    this.drop(slot);
  }

  // --- polling (Safe, MultiLoop) ---

  /** The loop an exit of the pid in `slot` is delivered on (the registering loop by default). */
  eventLoop(slot: i32): u32 { return <u32>this.reg.get(slot, C_LOOP); }

  /** Check one registered pid with a non-blocking wait. Still running: nothing. Reaped: queue
   *  its exit (if it has a token) and forget it. ECHILD: returncode 255 with
   *  `unknown-child-status`. Any other failure: `host-error`, and the pid stays registered so the
   *  next sweep tries again. A pid forgotten here earns a SIGCHLD credit (see `sigchldSweep`). */
  pollOne(pid: i32): void {
    if (this.reg.find(pid) < 0) return;
    const r = waitPid(pid);
    if (r == 0) return;
    const slot = this.reg.find(pid); // host imports never re-enter the core: still there
    if (r > 0) {
      this.deliverWaited(slot, pid, this.eventLoop(slot));
      this.credits++;
    } else if (r == -ECHILD) {
      this.deliverUnknown(slot, pid, this.eventLoop(slot), Report.UnknownChildStatus, ECHILD);
      this.credits++;
    } else {
      report(Report.HostError, this.id, pid, -r);
    }
  }

  /** Exits this watcher took (reaped, or found reaped elsewhere) since the last full sweep whose
   *  SIGCHLD has not been accounted for yet: each explains one SIGCHLD that finds nothing. */
  credits: i32 = 0;
  /** SIGCHLDs `sigchldSweep` handled without a full sweep since the last one. */
  sinceSweep: i32 = 0;

  /** Check every registered pid (O(n)). */
  sweep(): void { this.sweepExcept(0); }

  /** Check every registered pid but `skip` (O(n)). Every registered pid is looked at, so every
   *  exit taken before is accounted for: the credits start again from what this sweep takes.
   *  The pids are snapshotted first into the table's preallocated scratch array, so removals
   *  during the sweep are safe. */
  sweepExcept(skip: i32): void {
    this.sinceSweep = 0;
    this.credits = 0;
    const n = this.reg.snapshot();
    for (let i = 0; i < n; i++) {
      const pid = unchecked(this.reg.scratch[i]);
      if (pid != skip) this.pollOne(pid);
    }
  }

  /**
   * One (coalesced) SIGCHLD for Safe and MultiLoop: O(1) host calls per exit in the common case
   * instead of one `wait-pid` per registered pid.
   *
   * `peek-exited` names a terminated child without reaping it; while it names a pid this watcher
   * holds (with or without a token), that pid is reaped through `pollOne` and the peek is
   * repeated, until it says nothing (more) has terminated. The signal is then explained if some
   * exit this watcher took is not accounted for yet (a credit: one of the exits just reaped, or
   * one taken earlier by `add-child`'s check or a sweep, whose SIGCHLD is this late one): it uses
   * the credit and stops. Otherwise the exit behind this SIGCHLD was taken by someone else
   * (libuv for its own child, another watcher, or a thief of a registered pid, which only a wait
   * on each registered pid can find: returncode 255), and the full per-pid sweep runs once.
   *
   * The full sweep also runs, once, and ends the handling, when the peek names a zombie this
   * watcher does not hold (another watcher's, libuv's, a foreign child: never waited on here,
   * and it hides the zombies behind it from the peek), says ECHILD (no children at all: every
   * registered pid was reaped elsewhere) or fails (ENOSYS: a host that cannot peek), and when a
   * wait leaves its pid registered (a wait error: `pollOne` reported it and keeps the pid for
   * the next SIGCHLD; this sweep skips it, so it is still waited on once per SIGCHLD). The peeks
   * are bounded by `reg.count + 1` (each reap removes a pid, so only a host whose peek keeps
   * naming a pid that is not reaped gets there; then the full sweep runs): the loop cannot spin.
   *
   * Race: credits can outlive their signal (two exits, one coalesced SIGCHLD), and such a stale
   * credit can absorb the SIGCHLD of a registered pid reaped elsewhere; and a steal whose SIGCHLD
   * coalesced with one of our own exits is never seen by the peek. Both are found by the next
   * full sweep, which runs at the latest once more SIGCHLDs were handled without one than pids
   * are registered (amortised: n waits per n signals, still O(1) per exit), or when the host
   * calls `on-sigchld-settled` after the signals stop (`settledSweep`): so a steal is reported
   * even if no SIGCHLD ever follows it.
   */
  /** `on-sigchld-settled`: the full sweep owed by SIGCHLDs handled without one, if any. */
  settledSweep(): void {
    if (this.sinceSweep > 0) this.sweep();
  }

  sigchldSweep(): void {
    let skip = 0;
    let fallback = false;
    for (let left = this.reg.count + 1; ; left--) {
      if (left == 0) {
        fallback = true;
        break;
      }
      const pid = peekExited();
      if (pid == 0) break;
      if (pid < 0 || this.reg.find(pid) < 0) {
        fallback = true;
        break;
      }
      this.pollOne(pid);
      if (this.reg.find(pid) >= 0) {
        skip = pid;
        fallback = true;
        break;
      }
    }
    if (!fallback && this.credits > 0) {
      this.credits--;
      this.sinceSweep++;
      if (this.sinceSweep <= this.reg.count) return;
    }
    this.sweepExcept(skip);
  }

  // --- waiter threads (Threaded, and Pidfd's fallback) ---

  /** Pids whose `start-waiter` failed and must be retried. */
  waiterRetries: i32 = 0;

  /** Start the waiter thread of the pid in `slot` unless one runs already. On failure the slot is
   *  marked and retried on this watcher's next event (`host-error` is reported once). */
  ensureWaiter(slot: i32, pid: i32): void {
    const flags = this.reg.get(slot, C_FLAGS);
    if ((flags & F_WAITER) != 0) return;
    const rc = startWaiter(this.id, pid);
    if (rc >= 0) {
      if ((flags & F_NEEDS_WAITER) != 0) this.waiterRetries--;
      this.reg.set(slot, C_FLAGS, (flags | F_WAITER) & ~F_NEEDS_WAITER);
    } else if ((flags & F_NEEDS_WAITER) == 0) {
      this.reg.set(slot, C_FLAGS, flags | F_NEEDS_WAITER);
      this.waiterRetries++;
      report(Report.HostError, this.id, pid, -rc);
    }
  }

  /** Retry the waiters that could not be started (O(table) but only while some failed). */
  retryWaiters(): void {
    if (this.waiterRetries == 0) return;
    const n = this.reg.snapshot();
    for (let i = 0; i < n; i++) {
      const pid = unchecked(this.reg.scratch[i]);
      const slot = this.reg.find(pid);
      if (slot >= 0 && (this.reg.get(slot, C_FLAGS) & F_NEEDS_WAITER) != 0) {
        this.ensureWaiter(slot, pid);
        if (this.waiterRetries == 0) break;
      }
    }
  }

  /** A waiter thread finished with `result` (reaped pid, or -errno; status in the wait area).
   *  A pid without registration (destroyed, or never ours) is dropped silently. ECHILD gives
   *  returncode 255 with `stolen` (the strategy's own "status taken by someone else" report:
   *  `unknown-child-status`, or Pidfd's `pidfd-status-already-read` for its fallback threads);
   *  any other failure gives the same with `host-error`, so the callback still runs exactly
   *  once. */
  waiterDone(pid: i32, result: i32, stolen: i32 = Report.UnknownChildStatus): void {
    const slot = this.reg.find(pid);
    if (slot >= 0 && (this.reg.get(slot, C_FLAGS) & F_WAITER) != 0) {
      const loop = <u32>this.reg.get(slot, C_LOOP);
      if (result > 0) {
        this.deliverWaited(slot, pid, loop);
      } else if (result == -ECHILD) {
        this.deliverUnknown(slot, pid, loop, stolen, ECHILD);
      } else {
        this.deliverUnknown(slot, pid, loop, Report.HostError, -result);
      }
    }
    this.retryWaiters();
  }
}

/** Registrations with a token over all watchers (diagnostics). */
export function liveRegistrations(): i32 { return liveTotal; }
