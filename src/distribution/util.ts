// Small helpers shared by pull and push: a semaphore, byte counting with
// throttled progress, and the short IDs Docker shows per layer.
import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';

export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Counts bytes going through and reports them at most every 100 ms. With `expected`, more bytes than
 * that, or fewer at the end (a dropped connection that ended cleanly), fail the stream.
 */
export class ByteCounter extends Transform {
  count = 0;
  private last = 0;
  constructor(
    private readonly onProgress: (n: number) => void,
    private readonly expected?: number,
    private readonly what = 'blob',
  ) {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.expected !== undefined && this.count > this.expected) {
      cb(new Error(`${this.what}: more than the ${this.expected} bytes its descriptor announces`));
      return;
    }
    const now = Date.now();
    if (now - this.last >= 100) {
      this.last = now;
      this.onProgress(this.count);
    }
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.expected !== undefined && this.count < this.expected) {
      cb(new TruncatedError(`${this.what}: unexpected EOF after ${this.count} of ${this.expected} bytes`));
      return;
    }
    this.onProgress(this.count);
    cb();
  }
}

export class TruncatedError extends Error {
  override name = 'TruncatedError';
}

export const shortDigest = (digest: string) => digest.replace(/^[a-z0-9]+:/, '').slice(0, 12);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Two copies of a layer download: one for the blob store and, when `unpack` is set, one for the unpacker.
 * A failure of `source` fails both; their own errors reach whoever reads them.
 */
export function teeDownload(
  source: Readable,
  unpack: boolean,
): { toStore: PassThrough; toUnpack?: PassThrough } {
  const toStore = new PassThrough({ highWaterMark: 1 << 20 });
  const toUnpack = unpack ? new PassThrough({ highWaterMark: 4 << 20 }) : undefined;
  // pipe() does not pass errors on.
  source.on('error', (e) => {
    toStore.destroy(e);
    toUnpack?.destroy(e);
  });
  // Reported through the store's and the unpacker's promises; these keep late ones from going uncaught.
  toStore.on('error', () => {});
  toUnpack?.on('error', () => {});
  source.pipe(toStore);
  if (toUnpack) source.pipe(toUnpack);
  return toUnpack ? { toStore, toUnpack } : { toStore };
}
