// ChildOutput: the parent's end of a child's stdout or stderr pipe, read by the addon's pipe
// reader (read(2) in C on readability, see NativeAddon.readPipe) instead of a net.Socket.
//
// Reading starts at once, as asyncio's pipe transports do, and the bytes go to exactly one
// consumer, whichever claims them first:
// - nobody yet ("unclaimed"): they accumulate in C, up to UNCLAIMED_LIMIT; then the reader stops
//   and the child blocks on the full pipe, as it would behind a paused stream;
// - `readAll()` (communicate): no limit, and the whole output comes back in one piece at EOF
//   (one Buffer, no stream, no per-chunk JavaScript);
// - `stream()` (the `Process.stdout`/`stderr` getter): a Readable is made on first use; what was
//   accumulated is its first chunk, then every readiness pushes one more (flow control by
//   pausing the reader). A `readAll()` after that reads the rest of that stream, so a stream
//   the user has partly read is completed, never read twice.
// A stream asked for after `readAll()` claimed the bytes gets none of them: it just ends (or
// errors) when the pipe does.
import { Readable } from 'node:stream';
import { getSystemErrorName } from 'node:util';
import { openPipeReader, type NativePipeReader } from '../../host/pipe-reader.js';
import { closeFd } from '../../host/process-control.js';

/** What an unclaimed pipe holds before the reader stops: CPython's StreamReader pauses its
 *  transport past twice its 64 KiB limit. */
export const UNCLAIMED_LIMIT = 128 * 1024;

/** The Node-style system error for a failed read: `read EIO`, code 'EIO', errno -5. */
export function readError(status: number): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(status);
  } catch {
    code = `E${-status}`;
  }
  const err = new Error(`read ${code}`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = status;
  err.syscall = 'read';
  return err;
}

type Mode = 'unclaimed' | 'whole' | 'stream';

/** The Readable of `Process.stdout` / `stderr`, fed by a ChildOutput. */
class PipeReadable extends Readable {
  constructor(private readonly source: ChildOutput) {
    super();
  }
  override _read(): void {
    this.source.wanted();
  }
  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.source.close();
    callback(err);
  }
}

export class ChildOutput {
  private reader: NativePipeReader | null = null;
  /** 0 while the pipe is open; 1 after EOF or close(); -errno after a read error. */
  private status = 0;
  private mode: Mode = 'unclaimed';
  /** Unclaimed bytes that arrived with the end (the reader is closed then). */
  private tail: Buffer | null = null;
  private readable: PipeReadable | null = null;
  /** readAll() claimers waiting for the end; the first gets the bytes, later ones nothing. */
  private waiters: Array<{ resolve: (b: Buffer) => void; reject: (e: Error) => void }> = [];

  constructor(fd: number) {
    const r = openPipeReader(fd, false, UNCLAIMED_LIMIT, (data, status) => this.onData(data, status));
    if (typeof r === 'number') {
      // No poll for this fd (uv_poll_init failed): the pipe counts as broken from the start.
      closeFd(fd);
      this.status = r < 0 ? r : -5;
    } else {
      this.reader = r;
    }
  }

  private onData(data: Buffer | null, status: number): void {
    if (status !== 0) {
      this.reader = null; // closed by the addon before this call
      this.status = status;
    }
    switch (this.mode) {
      case 'unclaimed':
        if (data !== null) this.tail = data;
        break;
      case 'whole':
        if (status !== 0) this.settleWaiters(data);
        this.endReadable();
        break;
      case 'stream':
        if (data !== null && this.readable !== null && !this.readable.push(data)) this.reader?.pause();
        this.endReadable();
        break;
    }
  }

  private settleWaiters(data: Buffer | null): void {
    const waiters = this.waiters.splice(0);
    waiters.forEach((w, i) => {
      if (this.status < 0) w.reject(readError(this.status));
      else w.resolve(i === 0 && data !== null ? data : Buffer.alloc(0));
    });
  }

  /** End (or fail) the Readable, if any, once the pipe has ended. */
  private endReadable(): void {
    const r = this.readable;
    if (r === null || this.status === 0 || r.destroyed) return;
    if (this.status < 0) r.destroy(readError(this.status));
    else r.push(null);
  }

  /**
   * Everything still to come, as one Buffer at EOF (communicate). Through the stream once there
   * is one. Rejects with the read error (code 'EIO', ...) if the pipe fails.
   */
  readAll(): Promise<Buffer> {
    if (this.mode === 'stream') return collect(this.readable!);
    if (this.mode === 'unclaimed') {
      this.mode = 'whole';
      if (this.status === 0) {
        this.reader!.setLimit(0);
      } else {
        const tail = this.tail;
        this.tail = null;
        if (this.status < 0) return Promise.reject(readError(this.status));
        return Promise.resolve(tail ?? Buffer.alloc(0));
      }
    } else if (this.status !== 0) {
      // Claimed and delivered before: nothing is left for a second reader.
      return this.status < 0 ? Promise.reject(readError(this.status)) : Promise.resolve(Buffer.alloc(0));
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The Readable for `Process.stdout` / `stderr`, made on first use. */
  stream(): Readable {
    if (this.readable !== null) return this.readable;
    const r = new PipeReadable(this);
    this.readable = r;
    if (this.mode === 'unclaimed') {
      this.mode = 'stream';
      const first = this.reader !== null ? this.reader.stream() : this.tail;
      this.tail = null;
      if (first !== null) r.push(first);
    }
    this.endReadable();
    return r;
  }

  /** The Readable wants more: resume a reader paused by flow control. */
  wanted(): void {
    if (this.mode === 'stream') this.reader?.resume();
  }

  /** Close the pipe (idempotent). A readAll() still waiting gets what it has: nothing. */
  close(): void {
    const r = this.reader;
    if (r === null) return;
    this.reader = null;
    r.close();
    if (this.status === 0) this.status = 1;
    if (this.mode === 'whole') this.settleWaiters(null);
    this.endReadable();
  }
}

/** The rest of a stream, as one Buffer. */
export function collect(stream: Readable): Promise<Buffer> {
  // An empty pipe that already hit EOF has emitted 'end' (and closed) before anyone listened:
  // there is nothing left to read and no event to wait for.
  if (stream.readableEnded || stream.destroyed) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('close', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
    // A 'data' listener does not restart a stream the user paused explicitly: resume it.
    stream.resume();
  });
}
