// Content-addressed blob store: blobs/<algorithm>/<hex>. A blob becomes visible only after it has been
// written to a temp file, hashed while writing, fsynced and verified against its digest.

import { randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  badRequest,
  type DigestAlgorithm,
  DigestStream,
  notFound,
  parseDigest,
  TEMP_PREFIX,
} from '../util/index.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

export class BlobStore {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  async init(): Promise<void> {
    for (const algo of ['sha256', 'sha512']) {
      const dir = join(this.root, algo);
      await mkdir(dir, { recursive: true });
      // Temp files are what a crash mid-write leaves behind.
      for (const name of await readdir(dir)) {
        if (name.startsWith(TEMP_PREFIX)) await rm(join(dir, name), { force: true });
      }
    }
  }

  path(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, algorithm, hex);
  }

  async has(digest: string): Promise<boolean> {
    try {
      return (await stat(this.path(digest))).isFile();
    } catch {
      return false;
    }
  }

  async stat(digest: string): Promise<BlobInfo> {
    try {
      const st = await stat(this.path(digest));
      return { digest, size: st.size };
    } catch {
      throw notFound(`blob ${digest} not found`);
    }
  }

  /** A read stream of the blob; 404 when absent. */
  async get(digest: string): Promise<ReadStream> {
    await this.stat(digest);
    return createReadStream(this.path(digest));
  }

  async readBytes(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.path(digest));
    } catch {
      throw notFound(`blob ${digest} not found`);
    }
  }

  async readJson<T>(digest: string): Promise<T> {
    const bytes = await this.readBytes(digest);
    try {
      return JSON.parse(bytes.toString('utf8')) as T;
    } catch (err) {
      throw badRequest(`blob ${digest} is not valid JSON: ${(err as Error).message}`);
    }
  }

  /**
   * Stores a stream. With `expected`, the content must hash to it (else a 400 naming both digests and
   * nothing is left behind); without, it is stored under its sha256.
   */
  async put(source: Readable, expected?: string): Promise<BlobInfo & { created: boolean }> {
    const algorithm: DigestAlgorithm = expected ? parseDigest(expected).algorithm : 'sha256';
    const dir = join(this.root, algorithm);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const hasher = new DigestStream(algorithm);
    const fh = await open(tmp, 'w', 0o644);
    try {
      await pipeline(source, hasher, fileSink(fh));
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    const digest = hasher.digest();
    if (expected && digest !== expected) {
      await rm(tmp, { force: true });
      throw badRequest(`digest mismatch: expected ${expected}, got ${digest} (${hasher.size} bytes)`);
    }
    const final = this.path(digest);
    const existed = await this.has(digest);
    if (existed) await rm(tmp, { force: true });
    else await rename(tmp, final);
    return { digest, size: hasher.size, created: !existed };
  }

  async putBytes(data: string | Uint8Array, expected?: string): Promise<BlobInfo & { created: boolean }> {
    const { Readable } = await import('node:stream');
    return this.put(
      Readable.from([typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)]),
      expected,
    );
  }

  async putJson(value: unknown): Promise<BlobInfo & { created: boolean; bytes: Buffer }> {
    const bytes = Buffer.from(JSON.stringify(value));
    return { ...(await this.putBytes(bytes)), bytes };
  }

  async delete(digest: string): Promise<boolean> {
    const p = this.path(digest);
    try {
      await rm(p);
      return true;
    } catch {
      return false;
    }
  }

  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const algo of ['sha256', 'sha512']) {
      let names: string[] = [];
      try {
        names = await readdir(join(this.root, algo));
      } catch {
        continue;
      }
      for (const n of names) if (!n.startsWith(TEMP_PREFIX)) out.push(`${algo}:${n}`);
    }
    return out.sort();
  }
}

/** A writable that writes to an open file handle (keeps the fd so the caller can fsync). */
function fileSink(fh: import('node:fs/promises').FileHandle): Writable {
  // A short write (disk full) must fail the put, not leave a truncated file named by the full digest.
  const writeAll = async (buf: Buffer) => {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off);
      if (bytesWritten <= 0) throw new Error('short write while storing a blob');
      off += bytesWritten;
    }
  };
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      writeAll(chunk).then(
        () => cb(),
        (e: Error) => cb(e),
      );
    },
    writev(chunks, cb) {
      writeAll(Buffer.concat(chunks.map((c) => c.chunk as Buffer))).then(
        () => cb(),
        (e: Error) => cb(e),
      );
    },
  });
}
