// The build's component step and the hand-written ABI, checked against jco:
// - the component built from build/core.wasm has the WIT of wit/ (world and interface types);
// - build/core.wasm imports exactly the host functions and exports exactly the watcher functions;
// - a changed WIT signature is rejected by the embed/new step (on a temp copy of wit/);
// - rebuilding gives byte-identical files;
// - one scenario per strategy gives the same exit events, reports and host calls through
//   jco-generated bindings (`jco transpile`) as through the raw loader.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { componentEmbed, componentNew, transpile, types } from '@bytecodealliance/jco';
import { makeComponent, worldOf, witFunctionNames, HOST, WATCHER } from '../../tools/component.mjs';
import { buildPath, loadCore, packageRoot } from '../../ts-bindings/core/loader.js';
import {
  Errno, type CoreExports, type ExitEvent, type HostImports, type WaitRecord,
} from '../../ts-bindings/core/types.js';
import { Harness, KINDS, LOOP, LOOP2, type Loader } from './harness.js';

const root = packageRoot();
const witDir = join(root, 'wit');
const witText = readFileSync(join(witDir, 'childwatch.wit'), 'utf8');

const witFunctions = (iface: string): string[] => witFunctionNames(witDir, iface);

/** The declarations of a generated .d.ts, without doc comments, in a stable order (the
 *  component carries no docs, and lists its types in its own order). */
function typesOnly(src: Uint8Array | undefined): string {
  const lines = Buffer.from(src ?? new Uint8Array()).toString('utf8')
    .replace(/\/\*\*[\s\S]*?\*\//g, '')
    .split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const decls: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let d = lines[i];
    if (d.endsWith('{')) while (i + 1 < lines.length && !d.endsWith('\n}')) d += '\n' + lines[++i];
    decls.push(d);
  }
  return decls.sort().join('\n');
}

const tmpDirs: string[] = [];
function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}
afterAll(() => { for (const d of tmpDirs) rmSync(d, { recursive: true, force: true }); });

describe('the core module and its component', () => {
  const core = readFileSync(buildPath('core.wasm'));

  it('build/core.wasm imports only the WIT host interface and exports only the watcher interface', () => {
    const mod = new WebAssembly.Module(core);
    const imports = WebAssembly.Module.imports(mod);
    expect([...new Set(imports.map((i) => i.module))]).toEqual([HOST]);
    expect(imports.map((i) => i.name).sort()).toEqual(witFunctions('host'));
    expect(witFunctions('host').length).toBe(10);
    expect(witFunctions('watcher').length).toBe(20);
    const exports = WebAssembly.Module.exports(mod).map((e) => e.name);
    expect(exports.filter((n) => !n.startsWith(`${WATCHER}#`)).sort()).toEqual(['_initialize', 'memory']);
    expect(exports.filter((n) => n.startsWith(`${WATCHER}#`)).map((n) => n.slice(WATCHER.length + 1)).sort())
      .toEqual(witFunctions('watcher'));
  });

  it('the built component has the world of wit/: imports host, exports watcher', async () => {
    const world = await worldOf(readFileSync(buildPath('core.component.wasm')));
    expect(world).toContain(`import ${HOST};`);
    expect(world).toContain(`export ${WATCHER};`);
    expect(world.match(/^\s*(import|export) /gm)?.length).toBe(2);
    const wasiWorld = await worldOf(readFileSync(buildPath('core.wasi.component.wasm')));
    expect(wasiWorld).toContain(`import ${HOST};`);
    expect(wasiWorld).toContain(`export ${WATCHER};`);
  });

  it.each(['core.component.wasm', 'core.wasi.component.wasm'])(
    'the interface types of %s equal those generated from wit/', async (file: string) => {
      const fromWit = await types(witDir, { worldName: 'core', name: 'core' });
      const fromComponent = (await transpile(readFileSync(buildPath(file)), { name: 'core', instantiation: 'sync' })).files;
      for (const f of ['interfaces/childwatch-core-host.d.ts', 'interfaces/childwatch-core-watcher.d.ts']) {
        const want = typesOnly(fromWit[f]);
        expect(want).toContain('export function');
        expect(typesOnly(fromComponent[f])).toBe(want);
      }
    });

  describe('a WIT that drifts from the core is rejected by embed/new', () => {
    // The last flag: wasm-tools itself (jco embed + new, without our name check) rejects it.
    // (It lets an extra core export through, which is why the build also compares names.)
    const variants: [string, (s: string) => string, boolean][] = [
      ['an export result type changed (add-child -> s64)',
        (s) => s.replace('loop: u32) -> s32;', 'loop: u32) -> s64;'), true],
      ['an import parameter added (wait-pid(pid, flags))',
        (s) => s.replace('wait-pid: func(pid: s32)', 'wait-pid: func(pid: s32, flags: s32)'), true],
      ['an export the core lacks (watcher.frobnicate)',
        (s) => s.replace('  /// Create a watcher;', '  frobnicate: func();\n  /// Create a watcher;'), true],
      ['an export removed (zombie-count)',
        (s) => s.replace(/\n\s*zombie-count: func\(watcher: u32\) -> u32;/, ''), false],
      ['a record field type changed (wait-result.status: s64)',
        (s) => s.replace('    status: s32,', '    status: s64,'), true],
    ];

    it('the unchanged copy is accepted (control)', async () => {
      const dir = tmp('cw-wit-');
      cpSync(witDir, dir, { recursive: true });
      const [, component] = await makeComponent(core, dir);
      expect(component.byteLength).toBeGreaterThan(core.byteLength);
    });

    it.each(variants)('%s', async (_name: string, edit: (s: string) => string, byJco: boolean) => {
      const dir = tmp('cw-wit-');
      const changed = edit(witText);
      expect(changed).not.toBe(witText);
      writeFileSync(join(dir, 'childwatch.wit'), changed);
      await expect(makeComponent(core, dir)).rejects.toThrow();
      const raw = async () => componentNew(await componentEmbed({ binary: core, witPath: dir, world: 'core' }), []);
      if (byJco) await expect(raw()).rejects.toThrow();
      else await expect(raw()).resolves.toBeDefined();
    });
  });

  it('rebuilding gives byte-identical files', () => {
    const out = tmp('cw-build-');
    execFileSync(process.execPath, [join(root, 'tools', 'build-core.mjs'), '--out', out], { stdio: 'pipe' });
    const files = readdirSync(out).sort();
    expect(files).toEqual([
      'core.component.wasm', 'core.embedded.wasm', 'core.wasi.component.wasm', 'core.wasi.embedded.wasm',
      'core.wasi.wasm', 'core.wasm',
    ]);
    for (const f of files) expect(readFileSync(join(out, f)).equals(readFileSync(buildPath(f)))).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------------
// jco-generated bindings vs the raw loader
// ------------------------------------------------------------------------------------------------

const REPORT_NAMES = [
  'unknown-child-status', 'pidfd-status-already-read', 'fast-unknown-pid', 'fast-unknown-pids-item',
  'fast-unknown-pids-end', 'fast-zombie-kept', 'detach-with-pending', 'pidfd-fallback-to-thread',
  'host-error',
];
const STRATEGY_NAMES = ['threaded', 'multi-loop', 'safe', 'fast', 'pidfd'];

interface JcoWaitResult { pid: number; status: number; userMicros: bigint; systemMicros: bigint; maxRssKib: bigint }
type JcoWatcher = Record<string, (...args: any[]) => any>;
type Instantiate = (getCoreModule: (path: string) => WebAssembly.Module,
  imports: Record<string, unknown>) => { watcher: JcoWatcher };

function jcoHost(host: HostImports): Record<string, unknown> {
  const rec: WaitRecord = { status: 0, userMicros: 0, systemMicros: 0, maxRssKiB: 0 };
  const result = (pid: number): JcoWaitResult => {
    const ok = pid > 0;
    return {
      pid, status: ok ? rec.status : 0, userMicros: BigInt(ok ? rec.userMicros : 0),
      systemMicros: BigInt(ok ? rec.systemMicros : 0), maxRssKib: BigInt(ok ? rec.maxRssKiB : 0),
    };
  };
  return {
    waitPid: (pid: number) => result(host.waitPid(pid, rec)),
    waitAny: () => result(host.waitAny(rec)),
    peekExited: () => host.peekExited(),
    pidfdOpen: (pid: number) => host.pidfdOpen(pid),
    watchPidfd: (w: number, pid: number, fd: number) => host.watchPidfd(w, pid, fd),
    pidfdClose: (fd: number) => host.pidfdClose(fd),
    subscribeSigchld: (w: number, loop: number) => host.subscribeSigchld(w, loop),
    unsubscribeSigchld: (w: number) => host.unsubscribeSigchld(w),
    startWaiter: (w: number, pid: number) => host.startWaiter(w, pid),
    report: (code: string, w: number, pid: number, value: number) => {
      const i = REPORT_NAMES.indexOf(code);
      if (i < 0) throw new Error(`unknown report code ${code}`);
      host.report(i, w, pid, value);
    },
  };
}

function jcoCore(x: JcoWatcher): CoreExports {
  return {
    create: (k) => x.create(STRATEGY_NAMES[k]),
    destroy: (w) => x.destroy(w),
    addChild: (w, pid, t, l) => x.addChild(w, pid, t, l),
    tokenOf: (w, pid) => x.tokenOf(w, pid),
    removeChild: (w, pid) => x.removeChild(w, pid),
    onSigchldSettled: (w) => x.onSigchldSettled(w),
    attachLoop: (w, l) => x.attachLoop(w, l),
    attachedLoop: (w) => x.attachedLoop(w),
    enter: (w) => x.enter(w),
    exit: (w) => x.exit(w),
    isActive: (w) => x.isActive(w),
    close: (w) => x.close(w),
    onSigchld: (w) => x.onSigchld(w),
    onPidfdReady: (w, pid) => x.onPidfdReady(w, pid),
    onWaiterDone: (w, pid, result, rec) => x.onWaiterDone(w, pid, {
      pid: result, status: rec.status, userMicros: BigInt(rec.userMicros),
      systemMicros: BigInt(rec.systemMicros), maxRssKib: BigInt(rec.maxRssKiB),
    }),
    pendingExits: () => x.pendingExits(),
    popExit: (out: ExitEvent) => {
      const e = x.popExit();
      Object.assign(out, {
        watcher: e.watcher, token: e.token, loop: e.loop, pid: e.pid, returncode: e.returncode,
        statusKnown: e.statusKnown, exitCode: e.exitCode, signal: e.signal, coreDumped: e.coreDumped,
        userMicros: Number(e.userMicros), systemMicros: Number(e.systemMicros), maxRssKiB: Number(e.maxRssKib),
      });
    },
    registeredCount: (w) => x.registeredCount(w),
    forks: (w) => x.forks(w),
    zombieCount: (w) => x.zombieCount(w),
  };
}

/** One scenario touching every export and import; returns everything observable. */
function transcript(kind: (typeof KINDS)[number], load: Loader): unknown {
  const h = new Harness(kind, load, { autoFinishWaiters: false });
  const { sim, core, w } = h;
  const out: unknown[] = [];
  const [a, b, c, d, e, f] = sim.spawnMany(6);
  out.push(h.add(a, 1), h.add(b, 2), h.add(c, 3, 9), h.add(d, 4), h.add(c, 33, 9));
  out.push(core.removeChild(w, d), core.removeChild(w, d), core.tokenOf(w, c), core.registeredCount(w));
  sim.exit(a, 200, { userMicros: 2 ** 40 + 7, systemMicros: 3, maxRssKiB: 2 ** 33 });
  sim.kill(b, 11, true);
  sim.terminate(c, 0xffff);
  sim.exit(d, 1);
  sim.inject('waitPid', Errno.EINTR, 2);
  out.push(h.step());
  core.enter(w);
  sim.exit(e, 5);
  sim.notify();
  out.push(core.forks(w), core.zombieCount(w), core.addChild(w, e, 5, LOOP), core.isActive(w));
  core.exit(w);
  out.push(h.step());
  h.add(f, 6);
  sim.exit(f, 6);
  sim.reapElsewhere(f);
  core.attachLoop(w, 0);
  out.push(h.step(), core.attachedLoop(w));
  core.attachLoop(w, LOOP2);
  out.push(h.step(), core.attachedLoop(w));
  const rec = { status: 0x200, userMicros: 1, systemMicros: 2, maxRssKiB: 3 };
  core.onWaiterDone(w, 4242, 4242, rec);
  core.close(w);
  core.destroy(w);
  out.push(h.events(), core.pendingExits());
  return { out, reports: sim.reports, calls: sim.calls };
}

describe('jco-generated bindings agree with the raw loader', () => {
  let instantiate: Instantiate;
  let dir: string;

  beforeAll(async () => {
    dir = tmp('cw-jco-');
    const { files } = await transpile(readFileSync(buildPath('core.component.wasm')),
      { name: 'core', instantiation: 'sync' });
    for (const [name, bytes] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), bytes);
    }
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    ({ instantiate } = await import(pathToFileURL(join(dir, 'core.js')).href) as { instantiate: Instantiate });
  });

  const jcoLoad: Loader = (host) => {
    const inst = instantiate((p) => new WebAssembly.Module(readFileSync(join(dir, p))),
      { 'childwatch:core/host': jcoHost(host) });
    return jcoCore(inst.watcher);
  };

  it('a record layout drift passes embed/new but not this comparison (exit-event.returncode <-> pid)', async () => {
    // `pop-exit` returns a pointer: the core signature carries no layout, so wasm-tools cannot
    // see a reordered record. jco lifts it by the WIT, so the transcripts must then differ.
    const wit = tmp('cw-wit-');
    writeFileSync(join(wit, 'childwatch.wit'), witText.replace(
      '    pid: s32,\n    /// Python\'s returncode: exit code, -signal, the raw status if neither, 255 if unknown.\n    returncode: s32,',
      '    returncode: s32,\n    pid: s32,'));
    expect(readFileSync(join(wit, 'childwatch.wit'), 'utf8')).not.toBe(witText);
    const [, component] = await makeComponent(readFileSync(buildPath('core.wasm')), wit);
    const out = tmp('cw-jco-drift-');
    const { files } = await transpile(component, { name: 'core', instantiation: 'sync' });
    for (const [name, bytes] of Object.entries(files)) {
      mkdirSync(dirname(join(out, name)), { recursive: true });
      writeFileSync(join(out, name), bytes);
    }
    writeFileSync(join(out, 'package.json'), '{"type":"module"}');
    const drifted = (await import(pathToFileURL(join(out, 'core.js')).href) as { instantiate: Instantiate }).instantiate;
    const load: Loader = (host) => jcoCore(drifted((p) => new WebAssembly.Module(readFileSync(join(out, p))),
      { 'childwatch:core/host': jcoHost(host) }).watcher);
    expect(transcript('safe', load)).not.toEqual(transcript('safe', (hst) => loadCore(hst)));
  });

  it.each(KINDS)('%s: same events, reports and host calls', (kind) => {
    const viaJco = transcript(kind, jcoLoad) as { out: unknown[]; reports: unknown[]; calls: unknown[] };
    const viaRaw = transcript(kind, (hst) => loadCore(hst)) as typeof viaJco;
    expect(viaRaw.calls.length).toBeGreaterThan(5);
    expect(JSON.stringify(viaRaw.out)).toContain('"statusKnown":true');
    expect(viaJco).toEqual(viaRaw);
  });
});
