// Shared harness of the core tests: one watcher of one strategy on a fresh SimKernel, loaded
// through the raw loader or the WASI build, plus the per-strategy facts the expectations use.
import { loadCore, loadWasiCore } from '../../ts-bindings/core/loader.js';
import {
  Strategy, type CoreExports, type ExitEvent, type HostImports,
} from '../../ts-bindings/core/types.js';
import { SimKernel, type SimKernelOptions } from '../../host/sim/index.js';

export type Loader = (host: HostImports) => CoreExports;

export const LOADERS: [string, Loader][] = [
  ['raw loader (build/core.wasm)', (h) => loadCore(h)],
  ['node:wasi (build/core.wasi.wasm)', (h) => loadWasiCore(h)],
];

export type Kind = 'threaded' | 'multiloop' | 'safe' | 'fast' | 'pidfd';
export const KINDS: Kind[] = ['threaded', 'multiloop', 'safe', 'fast', 'pidfd'];
export const STRATEGY: Record<Kind, Strategy> = {
  threaded: Strategy.Threaded,
  multiloop: Strategy.MultiLoop,
  safe: Strategy.Safe,
  fast: Strategy.Fast,
  pidfd: Strategy.Pidfd,
};

export const LOOP = 1;
export const LOOP2 = 2;

export class Harness {
  readonly sim: SimKernel;
  readonly core: CoreExports;
  readonly w: number;

  constructor(readonly kind: Kind, load: Loader, opts: SimKernelOptions & { attach?: boolean } = {}) {
    this.sim = new SimKernel(opts);
    this.core = load(this.sim);
    this.sim.attach(this.core);
    this.w = this.core.create(STRATEGY[kind]);
    // As ChildWatcherTestsMixin.setUp: every watcher gets the test loop attached.
    if (opts.attach ?? true) this.core.attachLoop(this.w, LOOP);
  }

  /** Safe and Fast: SIGCHLD through the attached loop, events on the attached loop. */
  get attachedDelivery(): boolean { return this.kind === 'safe' || this.kind === 'fast'; }
  /** Safe and MultiLoop: a wait per registered pid, and a check right at registration. */
  get polls(): boolean { return this.kind === 'safe' || this.kind === 'multiloop'; }
  get threads(): boolean { return this.kind === 'threaded'; }
  get isFast(): boolean { return this.kind === 'fast'; }
  get isPidfd(): boolean { return this.kind === 'pidfd'; }

  /** `with watcher: watcher.add_child_handler(pid, ...)`: the Fast bracket around the add. */
  add(pid: number, token: number, loop = LOOP): number {
    this.core.enter(this.w);
    try {
      return this.core.addChild(this.w, pid, token, loop);
    } finally {
      this.core.exit(this.w);
    }
  }

  /** Let the kernel tell the core everything that happened, then take the events. */
  step(): ExitEvent[] {
    this.sim.notify();
    return this.sim.drain();
  }

  events(): ExitEvent[] { return this.sim.drain(); }

  /** The loop an exit registered on `regLoop` is delivered on. */
  loopFor(regLoop: number): number {
    return this.attachedDelivery ? this.core.attachedLoop(this.w) : regLoop;
  }
}

/** [pid, returncode, token] of each event: the callback's view. */
export function calls(events: ExitEvent[]): [number, number, number][] {
  return events.map((e) => [e.pid, e.returncode, e.token]);
}
