// The `asyncio` logger: CPython sends these messages to logging.getLogger('asyncio').
// Warnings go to stderr by default, debug through util.debuglog('childwatch')
// (NODE_DEBUG=childwatch). Users replace it with setLogger().
import { debuglog, format } from 'node:util';

/**
 * Where the messages go that CPython sends to `logging.getLogger('asyncio')` (texts word for
 * word). Install your own with `setLogger`.
 */
export interface Logger {
  /** A warning, e.g. "Unknown child process pid 42, will report returncode 255". Default: stderr. */
  warning(msg: string): void;
  /** A debug message. Default: `util.debuglog('childwatch')`, shown with `NODE_DEBUG=childwatch`. */
  debug(msg: string): void;
}

const nodeDebug = debuglog('childwatch');

const defaultLogger: Logger = {
  warning(msg: string): void { process.stderr.write(`childwatch: ${msg}\n`); },
  debug(msg: string): void { nodeDebug('%s', msg); },
};

/** The logger in use; replace it with `setLogger`. */
export let logger: Logger = defaultLogger;

/** Replace the logger (null restores the default). */
export function setLogger(l: Logger | null): void {
  if (l !== null && (typeof l !== 'object' || typeof l.warning !== 'function' || typeof l.debug !== 'function')) {
    throw new TypeError('logger must be an object with warning(msg) and debug(msg) methods, or null');
  }
  logger = l ?? defaultLogger;
}

/** printf-style formatting of CPython's %-messages (%d, %s, %r). */
export function pyFormat(template: string, ...args: unknown[]): string {
  return format(template.replace(/%r/g, '%s'), ...args);
}
