#!/usr/bin/env node
// Build the watcher core: AssemblyScript -> build/core.wasm (imports only the WIT host
// interface, canonical-ABI export names) -> build/core.embedded.wasm -> build/core.component.wasm,
// and the same core over @assemblyscript/wasi-shim -> build/core.wasi.wasm ->
// build/core.wasi.component.wasm (WASI preview1 reactor adapter). The component step is the
// proof that the core matches wit/: any drift fails the build (exit code 1).
//
// Usage: node tools/build-core.mjs [--out <dir>]   (default <package root>/build)
// Deterministic: the same sources give byte-identical files.
import asc from 'assemblyscript/asc';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeComponent } from './component.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const outDir = outIdx >= 0 ? resolve(args[outIdx + 1]) : join(root, 'build');
const transform = join(root, 'tools', 'wit-names.mjs');
const wit = join(root, 'wit');

async function compile(target, outFile) {
  const stderr = [];
  const result = await asc.main(
    ['--config', 'asconfig.json', // relative: asc 0.28 resolves "lib" wrongly from an absolute config path
      '--target', target, '--transform', transform,
      '--outFile', outFile],
    { stderr: { write: (s) => { stderr.push(String(s)); return true; } } },
  );
  if (result.error) {
    throw new Error(`asc (${target}) failed: ${result.error.message}\n${stderr.join('')}`);
  }
}

async function main() {
  process.chdir(root);
  mkdirSync(outDir, { recursive: true });
  for (const [target, base, wasi] of [['core', 'core', false], ['wasi', 'core.wasi', true]]) {
    const wasm = join(outDir, `${base}.wasm`);
    await compile(target, wasm);
    const [embedded, component] = await makeComponent(readFileSync(wasm), wit, { wasi });
    writeFileSync(join(outDir, `${base}.embedded.wasm`), embedded);
    writeFileSync(join(outDir, `${base}.component.wasm`), component);
    console.log(`build-core: ${base}.wasm -> ${base}.component.wasm`);
  }
  // The published copy: an install from the registry runs `node-gyp rebuild`, which wipes
  // build/, so the package ships the cores in dist/wasm/ (the loader falls back to it).
  if (outIdx < 0) {
    const shipped = join(root, 'dist', 'wasm');
    mkdirSync(shipped, { recursive: true });
    for (const f of ['core.wasm', 'core.component.wasm', 'core.wasi.wasm', 'core.wasi.component.wasm']) {
      copyFileSync(join(outDir, f), join(shipped, f));
    }
  }
}

main().catch((err) => {
  console.error(`build-core: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
