export { AbstractChildWatcher, type ChildCallback } from './abstract.js';
export { ThreadedChildWatcher } from './threaded.js';
export { MultiLoopChildWatcher } from './multiloop.js';
export { SafeChildWatcher } from './safe.js';
export { FastChildWatcher, becomeSubreaper, type FastChildWatcherOptions } from './fast.js';
export { PidfdChildWatcher } from './pidfd.js';
export { canUsePidfd } from './default.js';
export type { ExitInfo, Rusage } from './exit-info.js';
