// childwatch: Python asyncio's event-loop policies and child watchers for Node.
// The public API (../shared/spec/API.md); everything else is internal.
/**
 * Python asyncio's event-loop policies and child watchers for Node: `import ... from 'childwatch'`.
 *
 * @module childwatch
 */
export {
  RuntimeError, NotImplementedError, ProcessLookupError, ChildProcessError, PermissionError,
  SpawnError, type SpawnErrorInit,
} from './errors.js';
export { logger, setLogger, type Logger } from './log.js';
export {
  AbstractEventLoop, SelectorEventLoop, Handle, TimerHandle, Future, Task, CancelledError,
  InvalidStateError, type ExceptionContext, type ExceptionHandler,
} from './events.js';
export {
  AbstractEventLoopPolicy, DefaultEventLoopPolicy, WindowsSelectorEventLoopPolicy,
  WindowsProactorEventLoopPolicy, getEventLoopPolicy, setEventLoopPolicy, getEventLoop, setEventLoop,
  newEventLoop, getRunningLoop, getChildWatcher, setChildWatcher, run,
} from './policy.js';
export {
  AbstractChildWatcher, ThreadedChildWatcher, MultiLoopChildWatcher, SafeChildWatcher,
  FastChildWatcher, PidfdChildWatcher, canUsePidfd, becomeSubreaper, type ChildCallback, type ExitInfo,
  type Rusage, type FastChildWatcherOptions,
} from './watchers/index.js';
export { useSimKernel } from './watchers/runtime.js';
export { configureHost, type HostOptions } from './host-options.js';
export {
  PIPE, STDOUT, DEVNULL, SubprocessProtocol, Process, createSubprocessExec, createSubprocessShell,
  spawnChild, UnixSubprocessTransport, type StdioSpec, type SubprocessOptions, type SpawnedChild, type SubprocessTransport,
  type TerminateOptions,
} from './subprocess/index.js';
