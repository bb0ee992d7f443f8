// The subprocess API: spawnChild (Popen without waiting), createSubprocessExec/Shell (Process),
// and the loop's subprocessExec/subprocessShell (protocol and transport).
import { startChild } from './spawn.js';
import type { SpawnedChild, SubprocessOptions } from './types.js';

export * from './types.js';
export { Process, createSubprocessExec, createSubprocessShell, type TerminateOptions } from './process.js';
export { loopSubprocessExec, loopSubprocessShell, UnixSubprocessTransport } from './transport.js';

/**
 * Start a child and register it nowhere (Python's Popen without waiting): hand `child.pid` to a
 * watcher's addChildHandler, or it stays a zombie. Pipe ends are returned as fds. Throws
 * SpawnError when the child cannot start.
 */
export function spawnChild(program: string, args?: string[], options?: SubprocessOptions): SpawnedChild {
  const { pid, stdin, stdout, stderr } = startChild(program, args, options, false);
  return { pid, stdin, stdout, stderr };
}
