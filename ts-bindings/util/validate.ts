// Argument checks shared by the public API. They run before any effect: a failed check leaves
// nothing waited on, registered or signalled. Messages name the parameter and what was expected.
import { constants } from 'node:os';

/** Python-style type name for messages ("str", "NoneType"-like but in JS terms). */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

/** Linux's PID_MAX_LIMIT is 2^22; anything past 2^31-1 cannot be a pid on any platform. */
const PID_MAX = 0x7fffffff;

/** A pid must be a positive safe integer: TypeError for non-numbers, RangeError otherwise. */
export function checkPid(pid: unknown, name = 'pid'): number {
  if (typeof pid !== 'number') {
    throw new TypeError(`${name} must be an integer, not '${typeName(pid)}'`);
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid > PID_MAX) {
    throw new RangeError(`${name} must be a positive integer no larger than ${PID_MAX}, got ${pid}`);
  }
  return pid;
}

export function checkCallback(cb: unknown, name = 'callback'): void {
  if (typeof cb !== 'function') {
    throw new TypeError(`${name} must be a function, not '${typeName(cb)}'`);
  }
}

/** A signal given as a number or a Node signal name ('SIGTERM'): its number. */
export function checkSignal(sig: unknown, name = 'sig'): number {
  if (typeof sig === 'string') {
    const n = (constants.signals as Record<string, number>)[sig];
    if (n === undefined) throw new RangeError(`${name} must be a signal name like 'SIGTERM', got '${sig}'`);
    return n;
  }
  if (typeof sig !== 'number') {
    throw new TypeError(`${name} must be a signal number or name, not '${typeName(sig)}'`);
  }
  if (!Number.isInteger(sig) || sig < 0 || sig > 64) {
    throw new RangeError(`${name} must be a signal number between 0 and 64, got ${sig}`);
  }
  return sig;
}

/** A string that will reach the kernel: no NUL bytes. */
export function checkCString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, not '${typeName(value)}'`);
  if (value.includes('\0')) throw new TypeError(`${name} must not contain NUL bytes`);
  return value;
}
