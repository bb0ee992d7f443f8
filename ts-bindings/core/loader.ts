// The typed loader of the watcher core: instantiates build/core.wasm with the host's imports
// adapted to the canonical ABI, and wraps each export with TypeScript types. No jco at run time:
// a raw call costs a few nanoseconds, and the wrappers allocate nothing per call (except
// `onWaiterDone`, whose u64 parameters must cross as BigInt).
//
// Canonical ABI, as the core implements it (see wit/childwatch.wit):
// - `wait-pid(pid) -> wait-result` / `wait-any() -> wait-result` are lowered with a trailing
//   `retptr`: the host writes the 32-byte record there (pid s32 @0, status s32 @4,
//   user-micros u64 @8, system-micros u64 @16, max-rss-kib u64 @24).
// - `pop-exit() -> exit-event` returns a pointer to a 64-byte return area (watcher @0, token @4,
//   loop @8, pid @12, returncode @16, status-known u8 @20, exit-code @24, signal @28,
//   core-dumped u8 @32, user-micros @40, system-micros @48, max-rss-kib @56).
// - `on-waiter-done(watcher, pid, result)` takes the record flattened: i32, i32, i64, i64, i64.
// - u32 results come back as i32 (`>>> 0`), bools as i32, enums as their index.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
// Type only: node:wasi is loaded lazily by loadWasiCore, so loading the plain core never prints
// Node 20's ExperimentalWarning for WASI.
import type { WASI } from 'node:wasi';
import type { CoreExports, ExitEvent, HostImports, Strategy, WaitRecord } from './types.js';
import { newWaitRecord } from './types.js';

export const HOST_INTERFACE = 'childwatch:core/host@0.1.0';
export const WATCHER_INTERFACE = 'childwatch:core/watcher@0.1.0';

const TWO_32 = 4294967296;

/** The package root: the nearest folder above this module holding a package.json. */
export function packageRoot(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      const up = dirname(dir);
      if (up === dir) throw new Error(`childwatch: no package.json above ${fileURLToPath(from)}`);
      dir = up;
    }
  }
}

/**
 * Path of a core artifact (`core.wasm`, `core.wasi.wasm`, ...): `<root>/build` in a checkout,
 * else the copy the package ships in `<root>/dist/wasm` (an install from the registry rebuilds
 * the addon, and node-gyp wipes build/).
 */
export function buildPath(file: string): string {
  const root = packageRoot();
  const built = join(root, 'build', file);
  return existsSync(built) ? built : join(root, 'dist', 'wasm', file);
}

export interface LoadOptions {
  /** Use this core module file instead of `build/core.wasm` (`build/core.wasi.wasm` for WASI). */
  wasmPath?: string;
  /** Or these bytes / this compiled module. */
  module?: WebAssembly.Module;
}

const moduleCache = new Map<string, WebAssembly.Module>();

function compiled(path: string): WebAssembly.Module {
  let mod = moduleCache.get(path);
  if (mod === undefined) {
    mod = new WebAssembly.Module(readFileSync(path));
    moduleCache.set(path, mod);
  }
  return mod;
}

/** Memory access for the adapters: one DataView, re-created only when the memory grew. */
class MemoryView {
  memory: WebAssembly.Memory | null = null;
  private buffer: ArrayBuffer | null = null;
  private view: DataView | null = null;

  get(): DataView {
    const buf = this.memory!.buffer;
    if (buf !== this.buffer) {
      this.buffer = buf;
      this.view = new DataView(buf);
    }
    return this.view!;
  }
}

function setU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v >>> 0, true);
  dv.setUint32(at + 4, Math.floor(v / TWO_32) >>> 0, true);
}

function getU64(dv: DataView, at: number): number {
  return dv.getUint32(at, true) + dv.getUint32(at + 4, true) * TWO_32;
}

/** The `host` imports in canonical-ABI shape, calling `host`. */
function hostImports(host: HostImports, mem: MemoryView): Record<string, (...a: number[]) => unknown> {
  const rec: WaitRecord = newWaitRecord();
  const writeWait = (retptr: number, pid: number): void => {
    const dv = mem.get();
    const ok = pid > 0;
    dv.setInt32(retptr, pid, true);
    dv.setInt32(retptr + 4, ok ? rec.status : 0, true);
    setU64(dv, retptr + 8, ok ? rec.userMicros : 0);
    setU64(dv, retptr + 16, ok ? rec.systemMicros : 0);
    setU64(dv, retptr + 24, ok ? rec.maxRssKiB : 0);
  };
  return {
    'wait-pid': (pid: number, retptr: number) => {
      writeWait(retptr >>> 0, host.waitPid(pid, rec) | 0);
    },
    'wait-any': (retptr: number) => {
      writeWait(retptr >>> 0, host.waitAny(rec) | 0);
    },
    'peek-exited': () => host.peekExited() | 0,
    'pidfd-open': (pid: number) => host.pidfdOpen(pid) | 0,
    'watch-pidfd': (w: number, pid: number, fd: number) => host.watchPidfd(w >>> 0, pid, fd) | 0,
    'pidfd-close': (fd: number) => { host.pidfdClose(fd); },
    'subscribe-sigchld': (w: number, loop: number) => host.subscribeSigchld(w >>> 0, loop >>> 0) | 0,
    'unsubscribe-sigchld': (w: number) => { host.unsubscribeSigchld(w >>> 0); },
    'start-waiter': (w: number, pid: number) => host.startWaiter(w >>> 0, pid) | 0,
    'report': (code: number, w: number, pid: number, value: number) => {
      host.report(code, w >>> 0, pid, value);
    },
  };
}

type RawFn = (...a: (number | bigint)[]) => number;

/** Wrap the raw exports of an instance in the typed `CoreExports`. */
function wrapExports(instance: WebAssembly.Instance, mem: MemoryView): CoreExports {
  const raw = instance.exports as Record<string, unknown>;
  const fn = (name: string): RawFn => {
    const f = raw[`${WATCHER_INTERFACE}#${name}`];
    if (typeof f !== 'function') throw new Error(`childwatch: core export ${name} is missing`);
    return f as RawFn;
  };
  const create = fn('create'), destroy = fn('destroy'), addChild = fn('add-child');
  const tokenOf = fn('token-of'), removeChild = fn('remove-child'), attachLoop = fn('attach-loop');
  const attachedLoop = fn('attached-loop'), enter = fn('enter'), exit = fn('exit');
  const isActive = fn('is-active'), close = fn('close'), onSigchld = fn('on-sigchld');
  const onSigchldSettled = fn('on-sigchld-settled');
  const onPidfdReady = fn('on-pidfd-ready'), onWaiterDone = fn('on-waiter-done');
  const pendingExits = fn('pending-exits'), popExit = fn('pop-exit');
  const registeredCount = fn('registered-count'), forks = fn('forks');
  const zombieCount = fn('zombie-count');
  return {
    create: (kind: Strategy) => create(kind) >>> 0,
    destroy: (w) => { destroy(w); },
    addChild: (w, pid, token, loop) => addChild(w, pid, token, loop) | 0,
    tokenOf: (w, pid) => tokenOf(w, pid) >>> 0,
    removeChild: (w, pid) => removeChild(w, pid) !== 0,
    attachLoop: (w, loop) => { attachLoop(w, loop); },
    attachedLoop: (w) => attachedLoop(w) >>> 0,
    enter: (w) => { enter(w); },
    exit: (w) => { exit(w); },
    isActive: (w) => isActive(w) !== 0,
    close: (w) => { close(w); },
    onSigchld: (w) => { onSigchld(w); },
    onSigchldSettled: (w) => { onSigchldSettled(w); },
    onPidfdReady: (w, pid) => { onPidfdReady(w, pid); },
    onWaiterDone: (w, pid, result, rec) => {
      onWaiterDone(w, pid, result, rec.status, BigInt(rec.userMicros), BigInt(rec.systemMicros),
        BigInt(rec.maxRssKiB));
    },
    pendingExits: () => pendingExits() >>> 0,
    popExit: (out: ExitEvent) => {
      const p = popExit() >>> 0;
      const dv = mem.get();
      out.watcher = dv.getUint32(p, true);
      out.token = dv.getUint32(p + 4, true);
      out.loop = dv.getUint32(p + 8, true);
      out.pid = dv.getInt32(p + 12, true);
      out.returncode = dv.getInt32(p + 16, true);
      out.statusKnown = dv.getUint8(p + 20) !== 0;
      out.exitCode = dv.getInt32(p + 24, true);
      out.signal = dv.getInt32(p + 28, true);
      out.coreDumped = dv.getUint8(p + 32) !== 0;
      out.userMicros = getU64(dv, p + 40);
      out.systemMicros = getU64(dv, p + 48);
      out.maxRssKiB = getU64(dv, p + 56);
    },
    registeredCount: (w) => registeredCount(w) >>> 0,
    forks: (w) => forks(w) >>> 0,
    zombieCount: (w) => zombieCount(w) >>> 0,
  };
}

function finish(instance: WebAssembly.Instance, mem: MemoryView, wasi?: WASI): CoreExports {
  const memory = instance.exports.memory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error('childwatch: core exports no memory');
  mem.memory = memory;
  if (wasi) {
    wasi.initialize(instance);
  } else {
    (instance.exports._initialize as () => void)();
  }
  return wrapExports(instance, mem);
}

/** Instantiate `build/core.wasm` synchronously; each call gives a fresh core. */
export function loadCore(host: HostImports, options: LoadOptions = {}): CoreExports {
  const mod = options.module ?? compiled(options.wasmPath ?? buildPath('core.wasm'));
  const mem = new MemoryView();
  const instance = new WebAssembly.Instance(mod, { [HOST_INTERFACE]: hostImports(host, mem) });
  return finish(instance, mem);
}

/** As `loadCore`, compiling and instantiating asynchronously. */
export async function instantiateCore(host: HostImports, options: LoadOptions = {}): Promise<CoreExports> {
  const mod = options.module
    ?? await WebAssembly.compile(await readFile(options.wasmPath ?? buildPath('core.wasm')));
  const mem = new MemoryView();
  const instance = await WebAssembly.instantiate(mod, { [HOST_INTERFACE]: hostImports(host, mem) });
  return finish(instance, mem);
}

/**
 * Instantiate the WASI build (`build/core.wasi.wasm`, the same core over
 * @assemblyscript/wasi-shim) through Node's `node:wasi` preview1: its abort and trace go to the
 * WASI stderr. Node 20 prints an ExperimentalWarning for `node:wasi`.
 */
export function loadWasiCore(host: HostImports, options: LoadOptions = {}): CoreExports {
  const mod = options.module ?? compiled(options.wasmPath ?? buildPath('core.wasi.wasm'));
  const { WASI: WasiClass } = createRequire(import.meta.url)('node:wasi') as typeof import('node:wasi');
  const wasi = new WasiClass({ version: 'preview1', args: [], env: {}, returnOnExit: true });
  const mem = new MemoryView();
  const instance = new WebAssembly.Instance(mod, {
    wasi_snapshot_preview1: wasi.wasiImport as WebAssembly.ModuleImports,
    [HOST_INTERFACE]: hostImports(host, mem),
  });
  return finish(instance, mem, wasi);
}
