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

export interface SubprocessOptions {
  /** Default PIPE. */
  stdin?: StdioSpec;
  /** Default PIPE. */
  stdout?: StdioSpec;
  /** Default PIPE; STDOUT merges stderr into stdout. */
  stderr?: StdioSpec | typeof STDOUT;
  cwd?: string;
  env?: Record<string, string>;
  startNewSession?: boolean;
  processGroup?: number;
}

/** A child started by spawnChild(): its pid and the parent's ends of its pipes (or null). */
export interface SpawnedChild {
  pid: number;
  stdin: number | null;
  stdout: number | null;
  stderr: number | null;
}

/**
 * Python's asyncio.SubprocessProtocol. Every method is optional to override; the base ones do
 * nothing. Order: connectionMade first; for each fd all data before pipeConnectionLost(fd, null);
 * processExited once; connectionLost(null) last.
 */
export abstract class SubprocessProtocol {
  connectionMade(transport: SubprocessTransport): void { void transport; }
  pipeDataReceived(fd: number, data: Buffer): void { void fd; void data; }
  pipeConnectionLost(fd: number, exc: Error | null): void { void fd; void exc; }
  processExited(): void {}
  connectionLost(exc: Error | null): void { void exc; }
}

/** Python's asyncio.SubprocessTransport. */
export interface SubprocessTransport {
  getPid(): number;
  getReturncode(): number | null;
  getPipeTransport(fd: number): unknown | null;
  sendSignal(sig: number | NodeJS.Signals): void;
  terminate(): void;
  kill(): void;
  close(): void;
  isClosing(): boolean;
}
