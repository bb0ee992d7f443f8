// The children this thread's host spawned itself and has not reaped yet, and the sandbox switch
// `ownChildrenOnly` that confines the host to them.
//
// Every spawn goes through host/spawn.ts (`noteSpawned`); every reap the host makes (NodeHost's
// waits and waiter threads, process-control's background reaper) calls `noteReaped`. With
// `ownChildrenOnly` on, the host refuses with EPERM to wait on, watch (pidfd) or signal any pid
// outside this set: for embedders that run the core (or a replacement of it) for untrusted
// plugins, which must not reap, watch or kill processes the embedder did not start through it
// (Node's child_process children, other libraries', the whole process group with kill(-1)).
//
// Module state is per thread (each Worker loads its own copy): a Worker's host owns what that
// Worker spawned, and the switch is turned on per thread. Once on it stays on.

const own = new Set<number>();
let sandbox = false;

/** A child was spawned by this thread's host. */
export function noteSpawned(pid: number): void {
  if (pid > 0) own.add(pid);
}

/** This thread's host reaped `pid` (or learnt it is gone): it is no longer ours. */
export function noteReaped(pid: number): void {
  own.delete(pid);
}

/** Whether `pid` is a child this thread's host spawned and has not reaped. */
export function isOwnChild(pid: number): boolean {
  return own.has(pid);
}

/** The own children, oldest first (a snapshot). */
export function ownChildren(): number[] {
  return [...own];
}

/** Whether the thread's host is confined to its own children. */
export function ownChildrenOnly(): boolean {
  return sandbox;
}

/** Confine this thread's host to its own children, for good. */
export function enableOwnChildrenOnly(): void {
  sandbox = true;
}
