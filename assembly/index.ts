// The `watcher` interface of wit/childwatch.wit: the core's exports. The build's transform
// (tools/wit-names.mjs) renames each export to `childwatch:core/watcher@0.1.0#<kebab-name>`.
//
// Watchers live in a table indexed by id; ids are never reused, so a late event for a destroyed
// watcher (a waiter thread finishing after `destroy`) finds nothing and is ignored. Calls with an
// unknown watcher id do nothing (and `add-child` returns -EINVAL).

import {
  Watcher, popExit as ringPop, pendingExits as ringPending, K_THREADED, K_MULTI_LOOP, K_SAFE,
  K_FAST, K_PIDFD,
} from "./base";
import { setWaitArea, EINVAL } from "./host";
import { ThreadedWatcher } from "./watchers/threaded";
import { MultiLoopWatcher } from "./watchers/multiloop";
import { SafeWatcher } from "./watchers/safe";
import { FastWatcher } from "./watchers/fast";
import { PidfdWatcher } from "./watchers/pidfd";

const watchers = new Array<Watcher | null>(1); // index 0: "no watcher"

// @ts-ignore: decorator
@inline function get(w: u32): Watcher | null {
  return w < <u32>watchers.length ? unchecked(watchers[w]) : null;
}

export function create(kind: i32): u32 {
  const id = <u32>watchers.length;
  let w: Watcher;
  switch (kind) {
    case K_THREADED: w = new ThreadedWatcher(id); break;
    case K_MULTI_LOOP: w = new MultiLoopWatcher(id); break;
    case K_SAFE: w = new SafeWatcher(id); break;
    case K_FAST: w = new FastWatcher(id); break;
    default: w = new PidfdWatcher(id); break;
  }
  watchers.push(w);
  return id;
}

export function destroy(watcher: u32): void {
  const w = get(watcher);
  if (w === null) return;
  w.release();
  w.clearAll();
  unchecked(watchers[watcher] = null);
}

export function addChild(watcher: u32, pid: i32, token: u32, loop: u32): i32 {
  const w = get(watcher);
  // Never a wait on pid <= 0, and token 0 means "none".
  if (w === null || pid <= 0 || token == 0) return -EINVAL;
  return w.addChild(pid, token, loop);
}

export function tokenOf(watcher: u32, pid: i32): u32 {
  const w = get(watcher);
  return w === null || pid <= 0 ? 0 : w.tokenOf(pid);
}

export function removeChild(watcher: u32, pid: i32): bool {
  const w = get(watcher);
  return w === null || pid <= 0 ? false : w.removeChild(pid);
}

export function attachLoop(watcher: u32, loop: u32): void {
  const w = get(watcher);
  if (w !== null) w.attachLoop(loop);
}

export function attachedLoop(watcher: u32): u32 {
  const w = get(watcher);
  return w === null ? 0 : w.attachedLoop();
}

export function enter(watcher: u32): void {
  const w = get(watcher);
  if (w !== null) w.enter();
}

export function exit(watcher: u32): void {
  const w = get(watcher);
  if (w !== null) w.exit();
}

export function isActive(watcher: u32): bool {
  const w = get(watcher);
  return w === null ? false : w.isActive();
}

export function close(watcher: u32): void {
  const w = get(watcher);
  if (w !== null) w.close();
}

export function onSigchld(watcher: u32): void {
  const w = get(watcher);
  if (w !== null) w.onSigchld();
}

export function onSigchldSettled(watcher: u32): void {
  const w = get(watcher);
  if (w !== null) w.onSigchldSettled();
}

export function onPidfdReady(watcher: u32, pid: i32): void {
  const w = get(watcher);
  if (w !== null && pid > 0) w.onPidfdReady(pid);
}

/** `result` arrives flattened: its pid, status and rusage. They go to the wait area, where the
 *  shared reaping code reads every wait's result from. */
export function onWaiterDone(watcher: u32, pid: i32, rpid: i32, status: i32, userMicros: u64,
                             systemMicros: u64, maxRssKib: u64): void {
  const w = get(watcher);
  if (w === null || pid <= 0) return;
  setWaitArea(rpid, status, userMicros, systemMicros, maxRssKib);
  w.onWaiterDone(pid, rpid);
}

export function pendingExits(): u32 { return <u32>ringPending(); }

export function popExit(): usize { return ringPop(); }

export function registeredCount(watcher: u32): u32 {
  const w = get(watcher);
  return w === null ? 0 : <u32>w.registeredCount();
}

export function forks(watcher: u32): u32 {
  const w = get(watcher);
  return w === null ? 0 : <u32>w.forks();
}

export function zombieCount(watcher: u32): u32 {
  const w = get(watcher);
  return w === null ? 0 : <u32>w.zombieCount();
}
