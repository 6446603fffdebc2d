// Parallel gzip (the pigz technique): the input is cut into blocks that are deflated independently on
// libuv's thread pool, each ending on a byte boundary (Z_SYNC_FLUSH), and concatenated into one gzip
// member with a CRC-32 computed over the whole input. The output is a standard single-member gzip file.
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, deflateRaw } from 'node:zlib';

const BLOCK = 1 << 20;
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

function deflateBlock(data: Buffer, level: number, final: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    deflateRaw(
      data,
      { level, finishFlush: final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH },
      (err, out) => (err ? reject(err) : resolve(out)),
    ),
  );
}

export class ParallelGzip extends Transform {
  private readonly level: number;
  private readonly maxInFlight: number;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private crc = 0;
  private total = 0;
  private readonly queue: Promise<Buffer>[] = [];

  constructor(level = 1, threads = Math.max(2, availableParallelism())) {
    super({ readableHighWaterMark: 1 << 20 });
    this.level = level;
    this.maxInFlight = threads + 1;
    this.push(GZIP_HEADER);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.crc = crc32(chunk, this.crc);
    this.total += chunk.length;
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    this.drain(false).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    this.drain(true).then(() => {
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc >>> 0, 0);
      trailer.writeUInt32LE(this.total % 0x100000000, 4);
      this.push(trailer);
      done();
    }, done);
  }

  /** Starts deflating full blocks (all remaining input when final), emitting finished blocks in order. */
  private async drain(final: boolean): Promise<void> {
    while (this.pendingLen >= BLOCK || (final && this.pendingLen > 0)) {
      const all = Buffer.concat(this.pending, this.pendingLen);
      const block = all.subarray(0, Math.min(BLOCK, all.length));
      const rest = all.subarray(block.length);
      this.pending = rest.length ? [rest] : [];
      this.pendingLen = rest.length;
      const p = deflateBlock(block, this.level, false);
      p.catch(() => {});
      this.queue.push(p);
      while (this.queue.length >= this.maxInFlight) this.push(await this.queue.shift()!);
    }
    if (final) {
      while (this.queue.length) this.push(await this.queue.shift()!);
      // An empty final block closes the deflate stream.
      this.push(await deflateBlock(Buffer.alloc(0), this.level, true));
    }
  }
}
