// ExitInfo: the full exit record of a child, as the core decoded it from wait4.

/** The child's own CPU times and peak memory, from `wait4`'s rusage. */
export interface Rusage {
  /** User CPU time, in microseconds. */
  userMicros: number;
  /** System CPU time, in microseconds. */
  systemMicros: number;
  /**
   * Peak resident set size, in KiB. For a child started with `posix_spawn` (as this library
   * does) Linux counts the parent's peak RSS up to the spawn, so this is at least that number.
   */
  maxRssKiB: number;
}

/** Everything known about one child's exit. */
export interface ExitInfo {
  /** The child. */
  pid: number;
  /** Python convention: exit code, or -signal, or 255 if unknown. */
  returncode: number;
  /** null when killed by a signal or unknown. */
  exitCode: number | null;
  /** The terminating signal number, or null. */
  signal: number | null;
  /** True if the child dumped core. */
  coreDumped: boolean;
  /** false when the status was taken by someone else (returncode 255). */
  statusKnown: boolean;
  /** CPU times and peak memory from `wait4`; null when the status is unknown. */
  rusage: Rusage | null;
}

/**
 * Passed as the first extra argument of `addChildHandler` by the subprocess layer: the watcher
 * fills `info` when it reaps the child, before the callback is scheduled. This keeps the bracket
 * on the watcher's public methods (a subclass sees an ordinary `addChildHandler` call) while the
 * full record still reaches `Process.exitInfo`, and it marks the moment of reaping, after which a
 * plain `kill(pid)` could hit a recycled pid.
 */
export class ExitInfoSink {
  info: ExitInfo | null = null;
}
