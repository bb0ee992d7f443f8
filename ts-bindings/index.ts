// childwatch: Python asyncio's event-loop policies and child watchers for Node.
// The public API (../shared/spec/API.md); everything else is internal.
export {
  RuntimeError, NotImplementedError, ProcessLookupError, ChildProcessError, PermissionError,
  SpawnError, type SpawnErrorInit,
} from './errors.js';
export { logger, setLogger, type Logger } from './log.js';
export * from './events.js';
export * from './policy.js';
export {
  AbstractChildWatcher, ThreadedChildWatcher, MultiLoopChildWatcher, SafeChildWatcher,
  FastChildWatcher, PidfdChildWatcher, canUsePidfd, type ChildCallback, type ExitInfo, type Rusage,
} from './watchers/index.js';
export {
  PIPE, STDOUT, DEVNULL, SubprocessProtocol, Process, createSubprocessExec, createSubprocessShell,
  spawnChild, type StdioSpec, type SubprocessOptions, type SpawnedChild, type SubprocessTransport,
  type TerminateOptions,
} from './subprocess/index.js';
