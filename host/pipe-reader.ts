// The native pipe reader (addon.readPipe) for the subprocess layer, which does not touch the
// addon itself. See NativeAddon.readPipe for the contract.
import { addon } from './addon.js';
import type { NativePipeReader } from './addon-types.js';

export type { NativePipeReader };

/**
 * Start reading `fd` (the parent's end of a child's stdout/stderr pipe). Returns the reader,
 * which then owns the fd, or -errno (the fd is still the caller's).
 */
export function openPipeReader(fd: number, chunks: boolean, limit: number,
  callback: (data: Buffer | null, status: number) => void): NativePipeReader | number {
  return addon.readPipe(fd, chunks, limit, callback);
}
