// The `asyncio` logger: CPython sends these messages to logging.getLogger('asyncio').
// Warnings go to stderr by default, debug through util.debuglog('childwatch')
// (NODE_DEBUG=childwatch). Users replace it with setLogger().
import { debuglog, format } from 'node:util';

export interface Logger {
  warning(msg: string): void;
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
