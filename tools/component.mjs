// The component step of the build, shared by tools/build-core.mjs and the tests: check a core
// module's imports and exports against the canonical-ABI names of wit/, then embed the WIT and
// make a component with jco (wasm-tools). A core that drifts from the WIT fails here.
import {
  componentEmbed, componentNew, componentWit, preview1AdapterReactorPath,
} from '@bytecodealliance/jco';
import { readFileSync } from 'node:fs';
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

/** Embed the WIT of `witPath` (world `core`) into the core module and make it a component
 *  (with the WASI preview1 reactor adapter when `wasi`). Returns [embedded, component]. */
export async function makeComponent(bytes, witPath, { wasi = false } = {}) {
  checkCoreNames(bytes, { wasi });
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
