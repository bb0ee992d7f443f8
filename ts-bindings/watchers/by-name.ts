// The five watchers by their short names, as the CLI (`--watcher`) and the test fixtures name them.
import type { AbstractChildWatcher } from './abstract.js';
import { FastChildWatcher } from './fast.js';
import { MultiLoopChildWatcher } from './multiloop.js';
import { PidfdChildWatcher } from './pidfd.js';
import { SafeChildWatcher } from './safe.js';
import { ThreadedChildWatcher } from './threaded.js';

/** The short names, Pidfd (the default where pidfds work) first. */
export const WATCHER_NAMES = ['pidfd', 'threaded', 'safe', 'fast', 'multiloop'] as const;
export type WatcherName = typeof WATCHER_NAMES[number];

export function isWatcherName(name: unknown): name is WatcherName {
  return (WATCHER_NAMES as readonly unknown[]).includes(name);
}

/** A new watcher of the named kind; RangeError for an unknown name. */
export function makeWatcherByName(name: string): AbstractChildWatcher {
  switch (name) {
    case 'pidfd': return new PidfdChildWatcher();
    case 'threaded': return new ThreadedChildWatcher();
    case 'safe': return new SafeChildWatcher();
    case 'fast': return new FastChildWatcher();
    case 'multiloop': return new MultiLoopChildWatcher();
    default: throw new RangeError(`unknown watcher '${name}': expected one of ${WATCHER_NAMES.join(', ')}`);
  }
}
