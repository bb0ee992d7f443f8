// The exceptions of Python's asyncio world, as Node-style Errors.
//
// Every class extends Error and has `name` equal to its class name. The OS-flavoured ones carry
// the errno name in `code`, as Node's own system errors do ('ESRCH', 'ECHILD', 'EPERM'), so
// callers can match on `err.code` whichever realm created the error.

/** Misuse that Python reports as RuntimeError ("Event loop is closed", ...). */
export class RuntimeError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RuntimeError';
  }
}

/** An abstract method was called (Python's NotImplementedError). */
export class NotImplementedError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NotImplementedError';
  }
}

/** Signalling or watching a process that no longer exists (errno ESRCH). */
export class ProcessLookupError extends Error {
  /** Always `'ESRCH'`. */
  readonly code = 'ESRCH' as const;
  /** Always 3 (ESRCH on Linux). */
  readonly errno: number = 3;
  constructor(message?: string, options?: ErrorOptions) {
    super(message ?? 'No such process', options);
    this.name = 'ProcessLookupError';
  }
}

/** Waiting on a pid that is not (or no longer) our child (errno ECHILD). */
export class ChildProcessError extends Error {
  /** Always `'ECHILD'`. */
  readonly code = 'ECHILD' as const;
  /** Always 10 (ECHILD on Linux). */
  readonly errno: number = 10;
  constructor(message?: string, options?: ErrorOptions) {
    super(message ?? 'No child processes', options);
    this.name = 'ChildProcessError';
  }
}

/** Not allowed to signal a process or to install a handler (errno EPERM). */
export class PermissionError extends Error {
  /** Always `'EPERM'`. */
  readonly code = 'EPERM' as const;
  /** Always 1 (EPERM on Linux). */
  readonly errno: number = 1;
  constructor(message?: string, options?: ErrorOptions) {
    super(message ?? 'Operation not permitted', options);
    this.name = 'PermissionError';
  }
}

/** What a SpawnError is built from; the shape of Node's own spawn errors. */
export interface SpawnErrorInit {
  /** errno name: 'ENOENT', 'EACCES', 'E2BIG', 'EAGAIN', ... */
  code: string;
  /** Positive errno number (Node's own errors carry it negated; we keep it as the kernel says). */
  errno: number;
  /** The call that failed: 'posix_spawn', 'chdir', 'pipe2', ... */
  syscall: string;
  /** The program as the caller gave it. */
  path: string;
  /** The argument array (without the program). */
  spawnargs: readonly string[];
}

/** A child could not be started. Nothing is left behind: no child, fd or handler. */
export class SpawnError extends Error {
  /** errno name: `'ENOENT'` (no such program, or a missing `cwd`), `'EACCES'`, `'E2BIG'`, `'EAGAIN'`, ... */
  readonly code: string;
  /** Positive errno number, as the kernel reported it. */
  readonly errno: number;
  /** The call that failed: `'posix_spawn'`, `'chdir'`, `'pipe2'`, ... */
  readonly syscall: string;
  /** The program as the caller gave it. */
  readonly path: string;
  /** The argument array (without the program). */
  readonly spawnargs: string[];

  /**
   * `new SpawnError(code, errno, syscall, path, spawnargs, message?)` or
   * `new SpawnError({ code, errno, syscall, path, spawnargs }, message?)`.
   * The default message reads like Node's: "spawn /bin/nope ENOENT".
   */
  constructor(code: string, errno: number, syscall: string, path: string, spawnargs: readonly string[], message?: string);
  constructor(init: SpawnErrorInit, message?: string);
  constructor(a: string | SpawnErrorInit, b?: number | string, syscall?: string, path?: string,
    spawnargs?: readonly string[], message?: string) {
    const init: SpawnErrorInit = typeof a === 'object' && a !== null
      ? a
      : { code: a, errno: b as number, syscall: syscall as string, path: path as string, spawnargs: [...(spawnargs ?? [])] };
    const msg = typeof a === 'object' && a !== null ? (b as string | undefined) : message;
    super(msg ?? `${init.syscall} ${init.path} ${init.code}`);
    this.name = 'SpawnError';
    this.code = init.code;
    this.errno = init.errno;
    this.syscall = init.syscall;
    this.path = init.path;
    this.spawnargs = [...init.spawnargs];
  }
}
