// Loads the native addon (build/Release/childwatch.node) once per thread, typed by its contract
// in addon-types.ts. The path is resolved from the package root, found by walking up from this
// module to the folder whose package.json is childwatch's: the same code runs from the TypeScript
// sources (jest) and from the compiled dist/host/, where a relative '../build' would be wrong.
// Only code under host/ (and the loop's poll/signal handles) touches the addon.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './addon-types.js';

function isOurPackage(dir: string): boolean {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === 'childwatch';
  } catch {
    return false;
  }
}

/** The folder holding childwatch's package.json, walking up from `from` (a file: URL or path). */
export function addonPackageRoot(from: string = import.meta.url): string {
  let dir = dirname(from.startsWith('file:') ? fileURLToPath(from) : from);
  for (;;) {
    if (isOurPackage(dir)) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`childwatch: no package.json of childwatch above ${from}`);
    dir = up;
  }
}

/** Where the addon is expected: build/Release, or build/Debug for a debug build. */
export function addonPath(root: string = addonPackageRoot()): string {
  const release = join(root, 'build', 'Release', 'childwatch.node');
  const debug = join(root, 'build', 'Debug', 'childwatch.node');
  return !existsSync(release) && existsSync(debug) ? debug : release;
}

function load(): NativeAddon {
  const path = addonPath();
  const require = createRequire(import.meta.url);
  try {
    return require(path) as NativeAddon;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!existsSync(path)) {
      throw new Error(`childwatch: the native addon is not built (${path}); run \`npm run build:addon\``,
        { cause: err });
    }
    throw e;
  }
}

/** The addon of this thread (each Worker loads its own module instance). */
export const addon: NativeAddon = load();
