// configureHost: the options of this thread's Node host, the layer under the watchers and the
// subprocess API that makes the system calls (host/node-host.ts, host/process-control.ts).
//
// One option today, `ownChildrenOnly` (the sandbox): the host refuses (EPERM) to wait on, watch
// or signal any pid it did not spawn itself. For embedders that run the watcher core, or a
// replacement of it, for untrusted plugins: the core then cannot reap, watch or kill the
// embedder's other processes (children of node:child_process, of other libraries, or every
// process of the user). Watchers refuse such a pid at once (`addChildHandler` throws
// PermissionError), FastChildWatcher reaps only the host's own children (no wait4(-1)), and
// signals to other pids fail with PermissionError. Per thread, like the host itself; once on it
// stays on.
import { enableOwnChildrenOnly, ownChildrenOnly } from '../host/own-children.js';
import { RuntimeError } from './errors.js';
import { typeName } from './util/validate.js';

/** Options of this thread's host (see `configureHost`). */
export interface HostOptions {
  /**
   * Sandbox: the host waits on, watches and signals only the children it spawned itself (with
   * createSubprocessExec, createSubprocessShell, spawnChild or loop.subprocessExec) and has not
   * reaped yet; anything else is refused with EPERM. Cannot be turned off once on.
   */
  ownChildrenOnly?: boolean;
}

/**
 * Set options of this thread's host and return the options in force (`configureHost({})` only
 * reads them). TypeError for a wrong type; RuntimeError for turning `ownChildrenOnly` off again.
 */
export function configureHost(options: HostOptions): Required<HostOptions> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, not '${typeName(options)}'`);
  }
  const on = options.ownChildrenOnly;
  if (on !== undefined && typeof on !== 'boolean') {
    throw new TypeError(`options.ownChildrenOnly must be a boolean, not '${typeName(on)}'`);
  }
  if (on === false && ownChildrenOnly()) {
    throw new RuntimeError("options.ownChildrenOnly cannot be turned off: this thread's host stays confined to its own children");
  }
  if (on === true) enableOwnChildrenOnly();
  return { ownChildrenOnly: ownChildrenOnly() };
}
