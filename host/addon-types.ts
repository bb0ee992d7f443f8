// The JavaScript face of the native addon (host/native/, built by node-gyp into
// build/Release/childwatch.node). This file is the contract between the C code and the
// TypeScript that uses it; `host/addon.ts` loads the addon and is typed by it. Only code under
// host/ touches the addon.
//
// Conventions: nothing here throws for an OS failure; calls return a negative errno instead
// (a JS throw costs ~8 us, a return ~0.5 us). Argument type errors are programming errors and do
// throw (TypeError). Every handle is unref'd on creation: the library never keeps the process
// alive by itself (a running SelectorEventLoop does); pipe readers (readPipe) are the exception,
// as the net.Sockets they replace: they keep it alive while a child's output is still coming.

/** A libuv handle owned by the addon. `close()` is idempotent; after it, nothing more is called. */
export interface NativeHandle {
  close(): void;
  ref(): void;
  unref(): void;
}

/** How one of the child's standard fds is set up by `spawn`. */
export type NativeStdio =
  | 'pipe'      // a new pipe (pipe2(O_CLOEXEC)); the parent's end is returned
  | 'inherit'   // the parent's own fd 0/1/2
  | 'null'      // /dev/null
  | 'stdout'    // (stderr only) the same as the child's stdout
  | number;     // dup2 of this open parent fd

export interface NativeSpawnOptions {
  /** Absolute path of the executable (resolved by the caller against the child's PATH). */
  file: string;
  /** argv including argv[0]. */
  argv: string[];
  /** The full environment, as "KEY=value" strings; null: this process's own (`environ`). */
  envp: string[] | null;
  /** Working directory for the child, or null to inherit. */
  cwd: string | null;
  stdin: NativeStdio;
  stdout: NativeStdio;
  stderr: NativeStdio;
  /** setsid() in the child. */
  setsid: boolean;
  /** setpgid(0, pgid) in the child when >= 0 (0: a new group led by the child). -1: none. */
  pgid: number;
  /** Also open a pidfd for the child before returning (Linux >= 5.3; -1 where unsupported). */
  wantPidfd: boolean;
  /**
   * How to start the child; by default `spawnMethod()`. 'clone': clone(CLONE_VM | CLONE_VFORK |
   * CLONE_FILES | CLONE_PIDFD) with a private fd table of only what the child needs
   * (host/native/spawn_linux.c; Linux >= 5.9, else posix_spawn). 'clone3': the same through
   * clone3 with CLONE_CLEAR_SIGHAND, so that the child resets 2 signals instead of 62 (x86-64,
   * Linux >= 5.5; else 'clone'). 'posix_spawn': the libc's. All give the child the same state
   * (but for a signal native code set to SIG_IGN, which only 'clone3' leaves ignored); the tests
   * run all three.
   */
  method?: 'clone3' | 'clone' | 'posix_spawn';
}

export interface NativeSpawnOk {
  pid: number;
  /** A pidfd for the child (O_CLOEXEC), or -1 (unsupported, or pidfd_open failed: the child
   *  still runs; `pidfdOpen(pid)` tells why). */
  pidfd: number;
  /** Parent ends of the pipes (O_CLOEXEC), or -1 where not 'pipe'. */
  stdin: number;
  stdout: number;
  stderr: number;
}

export interface NativeSpawnFailure {
  /** Positive errno. */
  errno: number;
  /** 'ENOENT', 'EACCES', ... (uv_err_name / strerrorname_np). */
  code: string;
  /** The syscall that failed: 'posix_spawn', 'chdir', 'pipe2', 'open', 'pidfd_open'... */
  syscall: string;
}

/** Out-array layout for wait results: one record is 5 doubles. */
export const WAIT_RECORD = 5; // [pid, status, userMicros, systemMicros, maxRssKiB]

export interface NativeAddon {
  /**
   * posix_spawn the child (vfork semantics, closefrom(3), empty signal mask, default signal
   * dispositions). On failure nothing is left behind (no child, fd or handle).
   * Throws TypeError if an argument or env string holds a NUL byte.
   */
  spawn(options: NativeSpawnOptions): NativeSpawnOk | NativeSpawnFailure;
  /**
   * `spawn` with positional arguments, the library's own path (no named properties to look up,
   * no result object): stdio is an fd >= 0 or -1 pipe, -2 inherit, -3 null, -4 stdout (stderr
   * only); flags: 1 setsid, 2 want a pidfd, 4 use posix_spawn; pgid -1 for none. On success
   * returns 0 and fills `out` (an Int32Array of 5) with pid, pidfd, stdin, stdout, stderr (as
   * spawn's result); otherwise returns the failure.
   */
  spawnv(file: string, argv: readonly string[], envp: readonly string[] | null, cwd: string | null,
    stdin: number, stdout: number, stderr: number, flags: number, pgid: number,
    out: Int32Array): 0 | NativeSpawnFailure;
  /**
   * The default spawn method of this process: 'clone3' on x86-64 Linux >= 5.5; 'clone' on other
   * Linux >= 5.9, once clone3 has been refused (a kernel or seccomp filter), or with
   * CHILDWATCH_SPAWN=clone; 'posix_spawn' elsewhere, once the clone path has been refused, or
   * with CHILDWATCH_SPAWN=posix_spawn (both variables are read when the addon is first loaded).
   */
  spawnMethod(): 'clone3' | 'clone' | 'posix_spawn';

  /**
   * wait4(pid, WNOHANG) with rusage, EINTR retried. Returns the reaped pid (> 0; out[0..4] filled
   * as one WAIT_RECORD), 0 if the child is still running, or -errno (-ECHILD).
   */
  waitPid(pid: number, out: Float64Array): number;
  /**
   * wait4(-1, WNOHANG) in a loop in C: fills up to `max` WAIT_RECORDs into `out` and returns how
   * many. When it returns 0, `waitAnyState()` tells why: 0 children still running, -ECHILD none.
   */
  waitAny(out: Float64Array, max: number): number;
  /** After a `waitAny` that returned fewer than `max`: 0 (children running) or -errno (-ECHILD). */
  waitAnyState(): number;
  /**
   * waitid(P_ALL, 0, WEXITED | WNOHANG | WNOWAIT), EINTR retried: the pid of some terminated child
   * of this process, which is NOT reaped (it stays a zombie, and its status stays for whoever
   * waits on it); 0 if no child has terminated; -errno (-ECHILD: no children at all). Fault
   * injection: the `waitid` op.
   */
  peekExited(): number;
  /**
   * waitid(P_PIDFD, fd, WEXITED|WNOHANG) through the raw syscall (with rusage). Same returns as
   * waitPid. -ENOSYS where unsupported.
   */
  waitPidfd(pidfd: number, out: Float64Array): number;

  /** pidfd_open(pid, 0) with O_CLOEXEC semantics: fd >= 0 or -errno (-ENOSYS off Linux). */
  pidfdOpen(pid: number): number;
  /** pidfd_send_signal(fd, sig, NULL, 0): 0 or -errno. */
  pidfdSendSignal(pidfd: number, sig: number): number;
  /** kill(pid, sig): 0 or -errno. pid must be > 0 (RangeError otherwise), or a negative pgid via killGroup. */
  kill(pid: number, sig: number): number;
  /** killpg(pgid, sig): 0 or -errno. pgid must be > 0. */
  killGroup(pgid: number, sig: number): number;
  /** close(fd): 0 or -errno. */
  close(fd: number): number;

  /**
   * Watch `fd` for readability with a uv_poll_t. `callback()` runs on this thread (through
   * napi_make_callback). With `oneShot`, the poll is stopped before the callback (pidfds are
   * level-triggered); call `restart()` to be told again. With `ownsFd`, `close()` closes the poll
   * and then the fd. Returns -errno if uv_poll_init fails (e.g. EPERM for a regular file); the
   * fd is then NOT closed, even with `ownsFd` (ownership passes only with a returned handle).
   */
  pollFd(fd: number, oneShot: boolean, ownsFd: boolean, callback: () => void): NativePoll | number;

  /**
   * A set of pidfds watched through one epoll instance (Linux; -ENOSYS elsewhere): each member is
   * armed one-shot for readability under a caller's id (0..2^31-1). When members become ready,
   * `callback(count)` is called with their ids in `ids[0..count)`, as often as needed. The set
   * owns its members: `remove` and `close` close them (and so does the environment's cleanup).
   * Keep `ids` alive and attached (the addon holds a reference and writes into it).
   */
  pidfdSet(ids: Int32Array, callback: (count: number) => void): NativePidfdSet | number;

  /**
   * Read the parent's end of a child's output pipe with read(2) on readability (a uv_poll_t; the
   * fd is made non-blocking). The reader owns `fd` once it is returned and closes it at the end
   * or on `close()`. With `chunks`, `callback(data, 0)` gets what each readiness brought; without,
   * bytes accumulate in C and nothing is called until the end (with `limit` > 0 the reader stops
   * once `limit` bytes are held, until `setLimit` or `stream`). The last call is
   * `callback(rest | null, 1)` at EOF or `callback(rest | null, -errno)` on an error; the reader
   * (and fd) is already closed when it runs. Unlike the other handles a reader is ref'd: it keeps
   * the process alive while it polls, as a net.Socket would. Returns -errno if uv_poll_init fails;
   * the fd is then NOT closed.
   */
  readPipe(fd: number, chunks: boolean, limit: number,
    callback: (data: Buffer | null, status: number) => void): NativePipeReader | number;

  /** Subscribe to a signal with a uv_signal_t (works in Workers). Never sigaction/signalfd. */
  signalSubscribe(signum: number, callback: (signum: number) => void): NativeHandle | number;

  /**
   * Give `pid` a detached waiter thread (64 KiB stack, all signals blocked) that blocks in
   * wait4(pid, 0) and then calls `callback(pid, result, status, userMicros, systemMicros,
   * maxRssKiB)` on this thread, where result is the reaped pid or -errno. Returns 0 or -errno
   * (-EAGAIN). The thread is a parked one reused if there is one (a thread whose child was
   * reaped parks for ~1 s, at most 8 of them process-wide), else a new one; either way every
   * started waiter has a thread of its own until its wait4 returns.
   * Threads never keep the process alive. `tag` (an int32, default 0) is passed back as the
   * callback's last argument; the addon keeps one reference to the callback of the first call
   * and shares it with every later call given the same function (no reference per waiter).
   */
  startWaiter(pid: number, callback: (pid: number, result: number, status: number,
    userMicros: number, systemMicros: number, maxRssKiB: number, tag: number) => void,
    tag?: number): number;
  /** Number of waiter threads with a child to wait for, process-wide (diagnostics, tests). */
  waiterCount(): number;
  /**
   * Number of parked waiter threads, process-wide: kept for reuse, each exits after ~1 s
   * unused or when any environment using the addon is cleaned up (diagnostics, tests).
   * CHILDWATCH_WAITER_IDLE_MS (1..3600000, read when the addon first loads; tests only) sets
   * that idle time.
   */
  waiterIdle(): number;

  /** prctl(PR_SET_CHILD_SUBREAPER, on): 0 or -errno. */
  setSubreaper(on: boolean): number;
  /** prctl(PR_GET_CHILD_SUBREAPER): 0/1 or -errno. */
  getSubreaper(): number;

  /** errno name for a positive errno ('ENOENT'). */
  errname(errno: number): string;
  /** The test-only fault-injection spec read from CHILDWATCH_FAULTS at load, or ''. */
  faults(): string;
  /** For every op with a CHILDWATCH_FAULTS rule: how many calls were failed so far (process-wide). */
  faultHits(): Record<string, number>;
}

export interface NativePidfdSet extends NativeHandle {
  /** Watch `fd` (the set owns it from now on) under `id`. 0 or -errno (the caller keeps the fd). */
  add(fd: number, id: number): number;
  /** Arm a member again for one more notification under `id`. 0 or -errno. */
  rearm(fd: number, id: number): number;
  /** Stop watching a member and close it. 0, or -ENOENT if `fd` is not a member (left alone). */
  remove(fd: number): number;
}

export interface NativePoll extends NativeHandle {
  /** Start again after a one-shot callback (or after stop). 0 or -errno. */
  restart(): number;
  stop(): void;
}

export interface NativePipeReader extends NativeHandle {
  /** Switch to chunk mode; returns the bytes accumulated so far (null if none, or closed). */
  stream(): Buffer | null;
  /** The accumulate-mode limit (0: none); a reader stopped by a lower limit polls again. */
  setLimit(limit: number): void;
  /** Stop reading until `resume()` (flow control); idempotent. */
  pause(): void;
  resume(): void;
}
