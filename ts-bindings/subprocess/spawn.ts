// spawnChild: Python's Popen without waiting. Checks the arguments, translates SubprocessOptions
// into the host's spawn request and turns a failure into SpawnError. The child is registered
// nowhere: the caller hands its pid to a watcher or it stays a zombie.
import { spawnNative, type SpawnRequest } from '../../host/spawn.js';
import { SpawnError } from '../errors.js';
import { checkCString, typeName } from '../util/validate.js';
import { DEVNULL, PIPE, STDOUT, type SpawnedChild, type StdioSpec, type SubprocessOptions } from './types.js';
import type { NativeStdio } from '../../host/addon-types.js';

/** What the subprocess layer gets back: the child, plus a pidfd for signalling (or -1). */
export interface StartedChild extends SpawnedChild {
  pidfd: number;
}

function stdioOf(spec: unknown, name: string, allowStdout: boolean): NativeStdio {
  if (spec === undefined || spec === PIPE) return 'pipe';
  if (spec === DEVNULL) return 'null';
  if (spec === null || spec === 'inherit') return 'inherit';
  if (allowStdout && spec === STDOUT) return 'stdout';
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0 || spec > 0x7fffffff) {
      throw new RangeError(`options.${name} must be a non-negative integer fd, got ${spec}`);
    }
    return spec;
  }
  throw new TypeError(
    `options.${name} must be PIPE, DEVNULL, 'inherit', null, an fd number${allowStdout ? ' or STDOUT' : ''}, not '${typeName(spec)}'`);
}

export function checkArgs(program: unknown, args: unknown): string[] {
  checkCString(program, 'program');
  if ((program as string).length === 0) throw new RangeError('program must not be empty');
  if (args === undefined) return [];
  if (!Array.isArray(args)) throw new TypeError(`args must be an array of strings, not '${typeName(args)}'`);
  args.forEach((a, i) => checkCString(a, `args[${i}]`));
  return args as string[];
}

export function checkOptions(options: unknown): SubprocessOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, not '${typeName(options)}'`);
  }
  return options as SubprocessOptions;
}

/** A checked spawn: the host's request but for `wantPidfd`, ready for `startPlanned`. */
export type SpawnPlan = Readonly<Omit<SpawnRequest, 'wantPidfd'>>;

/**
 * Check every argument of a spawn and build its request, with no effect at all: callers plan
 * first, then lease a loop, open the watcher's bracket and spawn (argument checks come before
 * any effect). Throws TypeError/RangeError naming the parameter.
 */
export function planChild(program: unknown, args: unknown, options: unknown): SpawnPlan {
  const argv = checkArgs(program, args);
  const opts = checkOptions(options);
  const stdin = stdioOf(opts.stdin, 'stdin', false);
  const stdout = stdioOf(opts.stdout, 'stdout', false);
  const stderr = stdioOf(opts.stderr as StdioSpec | typeof STDOUT | undefined, 'stderr', true);
  let env: Record<string, string | undefined>;
  if (opts.env === undefined || opts.env === null) {
    env = process.env;
  } else if (typeof opts.env !== 'object' || Array.isArray(opts.env)) {
    throw new TypeError(`options.env must be an object of strings, not '${typeName(opts.env)}'`);
  } else {
    env = opts.env;
    for (const [k, v] of Object.entries(env)) {
      checkCString(k, 'options.env key');
      if (k.includes('=')) throw new TypeError(`options.env key '${k}' must not contain '='`);
      checkCString(v, `options.env['${k}']`);
    }
  }
  let cwd: string | null = null;
  if (opts.cwd !== undefined && opts.cwd !== null) cwd = checkCString(opts.cwd, 'options.cwd');
  let pgid = -1;
  if (opts.processGroup !== undefined && opts.processGroup !== null) {
    if (typeof opts.processGroup !== 'number') {
      throw new TypeError(`options.processGroup must be an integer, not '${typeName(opts.processGroup)}'`);
    }
    if (!Number.isInteger(opts.processGroup) || opts.processGroup < 0 || opts.processGroup > 0x7fffffff) {
      throw new RangeError(`options.processGroup must be a non-negative integer, got ${opts.processGroup}`);
    }
    pgid = opts.processGroup;
  }
  if (opts.startNewSession !== undefined && typeof opts.startNewSession !== 'boolean') {
    throw new TypeError(`options.startNewSession must be a boolean, not '${typeName(opts.startNewSession)}'`);
  }
  // A flat literal: a nested one is copied by the runtime on every call.
  return {
    program: program as string, args: argv, env, cwd, stdin, stdout, stderr,
    setsid: opts.startNewSession === true, pgid,
  };
}

/**
 * Start a planned child. `wantPidfd` asks the host for a pidfd too (for signals that can never
 * reach a recycled pid). Throws SpawnError when the child could not be started (nothing is left
 * behind).
 */
export function startPlanned(plan: SpawnPlan, wantPidfd: boolean): StartedChild {
  const result = spawnNative(plan, wantPidfd);
  if ('errno' in result) {
    throw new SpawnError({
      code: result.code, errno: result.errno, syscall: result.syscall, path: plan.program, spawnargs: [...plan.args],
    }, `spawn ${plan.program} ${result.code}`);
  }
  return {
    pid: result.pid, pidfd: result.pidfd,
    stdin: fdOrNull(result.stdin), stdout: fdOrNull(result.stdout), stderr: fdOrNull(result.stderr),
  };
}

function fdOrNull(fd: number): number | null {
  return fd >= 0 ? fd : null;
}

/** `planChild` then `startPlanned`: TypeError/RangeError for bad arguments, SpawnError from the OS. */
export function startChild(program: unknown, args: unknown, options: unknown, wantPidfd: boolean): StartedChild {
  return startPlanned(planChild(program, args, options), wantPidfd);
}
