// The component step of the build, shared by tools/build-core.mjs and the tests: check a core
// module's imports and exports against the canonical-ABI names of wit/, then embed the WIT and
// make a component with jco (wasm-tools). A core that drifts from the WIT fails here.
import {
  componentEmbed, componentNew, componentWit, preview1AdapterReactorPath,
} from '@bytecodealliance/jco';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HOST = 'childwatch:core/host@0.1.0';
export const WATCHER = 'childwatch:core/watcher@0.1.0';
export const WORLD = 'core';

/**
 * Check the names of a core module: imports only from the host interface (plus
 * `wasi_snapshot_preview1` when `wasi`), exports only `memory`, `_initialize` and
 * `childwatch:core/watcher@0.1.0#...`. Throws with the offending names.
 */
export function checkCoreNames(bytes, { wasi = false } = {}) {
  const mod = new WebAssembly.Module(bytes);
  const bad = [];
  for (const imp of WebAssembly.Module.imports(mod)) {
    if (imp.module === HOST && imp.kind === 'function') continue;
    if (wasi && imp.module === 'wasi_snapshot_preview1' && imp.kind === 'function') continue;
    bad.push(`import ${imp.module}#${imp.name}`);
  }
  for (const exp of WebAssembly.Module.exports(mod)) {
    if (exp.name === 'memory' && exp.kind === 'memory') continue;
    if (exp.name === '_initialize' && exp.kind === 'function') continue;
    if (exp.name.startsWith(`${WATCHER}#`) && exp.kind === 'function') continue;
    bad.push(`export ${exp.name}`);
  }
  if (bad.length) throw new Error(`core module names outside the WIT: ${bad.join(', ')}`);
}

/** The function names of `interface <iface>` in the .wit files of `witPath` (a file or folder). */
export function witFunctionNames(witPath, iface) {
  const files = statSync(witPath).isDirectory()
    ? readdirSync(witPath).filter((f) => f.endsWith('.wit')).map((f) => join(witPath, f))
    : [witPath];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const start = text.search(new RegExp(`^interface ${iface} \\{`, 'm'));
    if (start < 0) continue;
    const end = text.indexOf('\n}', start);
    return [...text.slice(start, end).matchAll(/^\s+%?([a-z][a-z0-9-]*): func\(/gm)]
      .map((m) => m[1]).sort();
  }
  throw new Error(`no interface ${iface} in ${witPath}`);
}

/** The core's function imports and exports must be exactly the WIT's: wit-component rejects a
 *  missing or mistyped function but lets an extra core export through, so check both ways. */
export function checkAgainstWit(bytes, witPath) {
  const mod = new WebAssembly.Module(bytes);
  const imported = WebAssembly.Module.imports(mod).filter((i) => i.module === HOST).map((i) => i.name).sort();
  const exported = WebAssembly.Module.exports(mod).map((e) => e.name)
    .filter((n) => n.startsWith(`${WATCHER}#`)).map((n) => n.slice(WATCHER.length + 1)).sort();
  const diff = (have, want, what) => [
    ...have.filter((n) => !want.includes(n)).map((n) => `${what} ${n} is not in the WIT`),
    ...want.filter((n) => !have.includes(n)).map((n) => `${what} ${n} is missing from the core`),
  ];
  const errors = [
    ...diff(exported, witFunctionNames(witPath, 'watcher'), 'export'),
    // An import the core does not use is fine for the component model, but ours uses them all.
    ...diff(imported, witFunctionNames(witPath, 'host'), 'import'),
  ];
  if (errors.length) throw new Error(`core and WIT differ: ${errors.join('; ')}`);
}

/** Embed the WIT of `witPath` (world `core`) into the core module and make it a component
 *  (with the WASI preview1 reactor adapter when `wasi`). Returns [embedded, component]. */
export async function makeComponent(bytes, witPath, { wasi = false } = {}) {
  checkCoreNames(bytes, { wasi });
  checkAgainstWit(bytes, witPath);
  const embedded = await componentEmbed({ binary: bytes, witPath, world: WORLD });
  const adapters = wasi
    ? [['wasi_snapshot_preview1', readFileSync(fileURLToPath(preview1AdapterReactorPath()))]]
    : [];
  const component = await componentNew(embedded, adapters);
  return [embedded, component];
}

/** The WIT world of a component, as wasm-tools prints it. */
export async function worldOf(component) {
  return componentWit(component);
}
