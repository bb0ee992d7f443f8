export const HOST: string;
export const WATCHER: string;
export const WORLD: string;
export function checkCoreNames(bytes: Uint8Array, opts?: { wasi?: boolean }): void;
export function makeComponent(
  bytes: Uint8Array, witPath: string, opts?: { wasi?: boolean },
): Promise<[Uint8Array, Uint8Array]>;
export function worldOf(component: Uint8Array): Promise<string>;
export function witFunctionNames(witPath: string, iface: string): string[];
export function checkAgainstWit(bytes: Uint8Array, witPath: string): void;
