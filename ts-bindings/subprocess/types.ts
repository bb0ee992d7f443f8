// The subprocess types of API.md, shared by the event loop (loop.subprocessExec /
// loop.subprocessShell) and the subprocess layer. Types only, plus the three stdio markers and
// the no-op base protocol; no behaviour lives here.

/** Connect the child's stream to a new pipe (Python's subprocess.PIPE). */
export const PIPE: unique symbol = Symbol('childwatch.PIPE');
/** stderr only: send it where stdout goes (Python's subprocess.STDOUT). */
export const STDOUT: unique symbol = Symbol('childwatch.STDOUT');
/** Connect the child's stream to /dev/null (Python's subprocess.DEVNULL). */
export const DEVNULL: unique symbol = Symbol('childwatch.DEVNULL');

/** How one standard stream of the child is set up. A number is an open fd of this process. */
export type StdioSpec = typeof PIPE | typeof DEVNULL | 'inherit' | number | null;

/** How to start a child (Python's `subprocess.Popen` keyword arguments of the same names). */
export interface SubprocessOptions {
  /** Default PIPE. */
  stdin?: StdioSpec;
  /** Default PIPE. */
  stdout?: StdioSpec;
  /** Default PIPE; STDOUT merges stderr into stdout. */
  stderr?: StdioSpec | typeof STDOUT;
  /** The child's working directory (a missing one is `SpawnError` with code `'ENOENT'`). */
  cwd?: string;
  /** The child's whole environment (default: this process's `process.env`). */
  env?: Record<string, string>;
  /** Run the child in a new session (`setsid`), so it leads its own process group. */
  startNewSession?: boolean;
  /** Put the child in this process group; 0 makes it the leader of a new group. */
  processGroup?: number;
}

/** A child started by spawnChild(): its pid and the parent's ends of its pipes (or null). */
export interface SpawnedChild {
  /** The child's pid: hand it to a watcher's `addChildHandler`. */
  pid: number;
  /** The write end of the child's stdin pipe (PIPE), else null. You own it: close it. */
  stdin: number | null;
  /** The read end of the child's stdout pipe (PIPE), else null. */
  stdout: number | null;
  /** The read end of the child's stderr pipe (PIPE), else null. */
  stderr: number | null;
}

/**
 * Python's asyncio.SubprocessProtocol. Every method is optional to override; the base ones do
 * nothing. Order: connectionMade first; for each fd all data before pipeConnectionLost(fd, null);
 * processExited once; connectionLost(null) last.
 */
export abstract class SubprocessProtocol {
  /** First call: the child started; `transport` controls it. */
  connectionMade(transport: SubprocessTransport): void { void transport; }
  /** Output of the child on `fd` (1 stdout, 2 stderr). */
  pipeDataReceived(fd: number, data: Buffer): void { void fd; void data; }
  /** The pipe `fd` (0, 1 or 2) closed; `exc` is null on a clean close. */
  pipeConnectionLost(fd: number, exc: Error | null): void { void fd; void exc; }
  /** The child exited (once); `transport.getReturncode()` has the returncode. */
  processExited(): void {}
  /** Last call: the child exited and every pipe is closed. */
  connectionLost(exc: Error | null): void { void exc; }
}

/** Python's asyncio.SubprocessTransport. */
export interface SubprocessTransport {
  /** The child's pid. */
  getPid(): number;
  /** The returncode once the child has exited, else null. */
  getReturncode(): number | null;
  /** The transport of pipe `fd` (0 stdin, 1 stdout, 2 stderr), or null if it is not a pipe. */
  getPipeTransport(fd: number): unknown | null;
  /** Send a signal (number or name); `ProcessLookupError` once the child has been reaped. */
  sendSignal(sig: number | NodeJS.Signals): void;
  /** Send SIGTERM. */
  terminate(): void;
  /** Send SIGKILL. */
  kill(): void;
  /** Close the pipes; a child still running is killed (and reaped by the watcher). */
  close(): void;
  /** True once `close()` was called. */
  isClosing(): boolean;
}
