// The spawn request as the subprocess layer makes it, turned into the addon's posix_spawn call.
//
// - The executable is resolved here against the *child's* PATH (posix_spawnp would search the
//   parent's), and the addon gets a path: a program with a slash is used as is (relative to the
//   child's cwd, as exec after chdir does), a bare name is searched in each PATH entry.
// - Strings that reach the kernel must not hold NUL bytes: a TypeError before anything happens.
// - Failures are returned, not thrown: the caller builds its SpawnError from them (code, errno,
//   syscall, path as given, spawnargs).
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { addon } from './addon.js';
import { noteSpawned } from './own-children.js';
import type { NativeSpawnFailure, NativeSpawnOk, NativeStdio } from './addon-types.js';

export interface SpawnRequest {
  /** The program as the user gave it: a bare name (searched in the child's PATH) or a path. */
  program: string;
  /** The arguments after argv[0]. */
  args: readonly string[];
  /** argv[0]; defaults to `program`. */
  argv0?: string;
  /** The child's full environment; entries whose value is undefined are left out. */
  env: Readonly<Record<string, string | undefined>>;
  /** The child's working directory, or null to inherit ours. */
  cwd: string | null;
  stdin: NativeStdio;
  stdout: NativeStdio;
  stderr: NativeStdio;
  setsid: boolean;
  /** setpgid(0, pgid) in the child when >= 0 (0: a new group led by the child); -1 none. */
  pgid: number;
  wantPidfd: boolean;
  /** The addon's spawn method; by default the process's (tests run all three). */
  method?: 'clone3' | 'clone' | 'posix_spawn';
}

export interface SpawnSuccess extends NativeSpawnOk {
  /** The path that was executed. */
  file: string;
}

export interface SpawnFailure extends NativeSpawnFailure {
  /** The program as given. */
  path: string;
  /** The arguments after argv[0], as given. */
  spawnargs: string[];
}

export type SpawnResult = SpawnSuccess | SpawnFailure;

/** What exec does without PATH in the environment (glibc's and CPython's os.defpath). */
export const DEFAULT_PATH = '/bin:/usr/bin';

function nulError(name: string, value: string): TypeError {
  const err = new TypeError(
    `The argument '${name}' must be a string without null bytes. Received ${JSON.stringify(value)}`);
  (err as TypeError & { code: string }).code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

function cstring(value: unknown, name: string): string {
  if (typeof value !== 'string') {
    const err = new TypeError(`The "${name}" argument must be of type string. Received ${typeof value}`);
    (err as TypeError & { code: string }).code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  }
  if (value.includes('\0')) throw nulError(name, value);
  return value;
}

function isExecutableFile(path: string): 0 | 'missing' | 'noexec' {
  try {
    if (!statSync(path).isFile()) return 'missing';
  } catch {
    return 'missing';
  }
  try {
    accessSync(path, fsConstants.X_OK);
    return 0;
  } catch {
    return 'noexec';
  }
}

/**
 * The path to execute for `program`, execvp-style but against the child's PATH: a name with a
 * slash as is; otherwise the first PATH entry (an empty entry is the current directory; relative
 * entries are relative to the child's cwd) holding an executable regular file. If only
 * non-executable candidates exist, the first of them (exec then fails with EACCES, as execvp
 * reports); null if there is none (ENOENT).
 */
export function resolveExecutable(program: string, envPATH: string | undefined,
  cwd: string | null): string | null {
  if (program.includes('/')) return program;
  if (program === '') return null;
  const base = cwd === null ? process.cwd() : resolve(cwd);
  let denied: string | null = null;
  for (const entry of (envPATH ?? DEFAULT_PATH).split(':')) {
    const dir = entry === '' ? base : isAbsolute(entry) ? entry : resolve(base, entry);
    const candidate = join(dir, program);
    const state = isExecutableFile(candidate);
    if (state === 0) return candidate;
    if (state === 'noexec' && denied === null) denied = candidate;
  }
  return denied;
}

const environStores = new WeakMap<object, boolean>();
/** The last object isProcessEnviron answered for, and the answer (every spawn asks again). */
let lastEnv: object | null = null;
let lastKnown = false;

/**
 * Whether `env` is Node's own process.env of the main thread, whose every read and write goes to
 * the C environment (`environ`, through getenv/setenv), so the child can be given `environ`
 * directly. Not so for a Worker's process.env (a private copy unless SHARE_ENV), a plain object
 * assigned to process.env, or a test runner's stand-in (jest's): those are copied into envp.
 * Node's store is told apart by what no plain object does, checked once per object: assigning a
 * symbol-keyed property throws (the store converts every key to a C string) while the object is
 * extensible. A plain object just takes the symbol, which is deleted at once.
 */
export function isProcessEnviron(env: object): boolean {
  if (!isMainThread || env !== process.env) return false;
  if (env === lastEnv) return lastKnown;
  let known = environStores.get(env);
  if (known === undefined) {
    known = false;
    if (Object.isExtensible(env)) {
      const probe = Symbol('childwatch.environ-probe');
      try {
        (env as Record<symbol, unknown>)[probe] = 1;
        delete (env as Record<symbol, unknown>)[probe];
      } catch {
        known = true;
      }
    }
    environStores.set(env, known);
  }
  lastEnv = env;
  lastKnown = known;
  return known;
}

// spawnv's codes for the stdio kinds and its flags (host/native/childwatch.c, cw_spawnv).
export const STDIO_CODE = { pipe: -1, inherit: -2, null: -3, stdout: -4 } as const;
const SPAWNV_SETSID = 1;
export const SPAWNV_PIDFD = 2;
const SPAWNV_POSIX_SPAWN = 4;
const SPAWNV_NO_CLONE3 = 8;
const stdioCode = (s: NativeStdio): number => (typeof s === 'number' ? s : STDIO_CODE[s]);
/** spawnv's out: pid, pidfd, the parent's ends of stdin/stdout/stderr. One per thread, reused. */
const spawnOut = new Int32Array(5);

/**
 * Spawn through the addon. Throws TypeError for a NUL byte (or a non-string) in the program,
 * argv, env or cwd; returns a SpawnFailure for anything the OS refused, with nothing left behind.
 * `wantPidfd` overrides the request's (callers that plan once pass it here, with no copy).
 */
export function spawnNative(req: Omit<SpawnRequest, 'wantPidfd'> & { wantPidfd?: boolean },
  wantPidfd: boolean = req.wantPidfd ?? false): SpawnResult {
  const program = cstring(req.program, 'program');
  const args = req.args;
  // The arguments' own checks (string, no NUL byte) are the addon's: it throws the same
  // TypeError, naming argv[i], before anything is spawned.
  const argv: string[] = [req.argv0 === undefined ? program : cstring(req.argv0, 'argv0'), ...args];
  let envp: string[] | null = null;
  let childPath: string | undefined;
  if (isProcessEnviron(req.env)) {
    // The C environment itself: the addon hands `environ` to the child, with no copy and none of
    // the ~0.5 us per variable that reading process.env costs (50 us per spawn with 35 of them).
    childPath = program.includes('/') ? undefined : req.env['PATH'];
  } else {
    envp = [];
    for (const [key, value] of Object.entries(req.env)) {
      if (value === undefined) continue;
      cstring(key, 'env key');
      const v = cstring(String(value), `env['${key}']`);
      if (key === 'PATH') childPath = v;
      envp.push(`${key}=${v}`);
    }
  }
  const cwd = req.cwd === null ? null : cstring(req.cwd, 'cwd');
  const file = resolveExecutable(program, childPath, cwd);
  if (file === null) {
    return { errno: 2, code: 'ENOENT', syscall: 'posix_spawn', path: program, spawnargs: args.slice() };
  }
  const flags = (req.setsid ? SPAWNV_SETSID : 0) | (wantPidfd ? SPAWNV_PIDFD : 0) |
    (req.method === 'posix_spawn' ? SPAWNV_POSIX_SPAWN : req.method === 'clone' ? SPAWNV_NO_CLONE3 : 0);
  const out = spawnOut;
  const r = addon.spawnv(file, argv, envp, cwd, stdioCode(req.stdin), stdioCode(req.stdout),
    stdioCode(req.stderr), flags, req.pgid, out);
  if (r !== 0) return { errno: r.errno, code: r.code, syscall: r.syscall, path: program, spawnargs: args.slice() };
  noteSpawned(out[0]); // this thread's host spawned it (host/own-children.ts)
  return { pid: out[0], pidfd: out[1], stdin: out[2], stdout: out[3], stderr: out[4], file };
}
