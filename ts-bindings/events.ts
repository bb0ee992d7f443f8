// Python's asyncio.events and friends, in one import: the event loop, its handles, futures and
// tasks, the loop registry and lifecycle listeners used by the watcher layer. Internals for
// other layers (the running-loop slot, listener notification) live in ./running.js, ./loop.js.
export {
  AbstractEventLoop,
  SelectorEventLoop,
  loopId,
  loopFromId,
  addLoopListener,
} from './loop.js';
export type { ExceptionContext, ExceptionHandler, LoopEvent, LoopListener } from './loop.js';
export { Handle, TimerHandle } from './handles.js';
export { Future, Task, CancelledError, InvalidStateError, isFuture, allTasks } from './futures.js';
export type { TaskWork, DoneCallback } from './futures.js';
