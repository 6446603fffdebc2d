// Blob upload sessions: data is appended to a file in the uploads area while it is hashed, and only a
// verified, complete blob is moved into the blob store. A failed or aborted request leaves the session
// exactly as it was before the request (the file is truncated back), so the client can resume.
import { createHash, type Hash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ParsedDigest, writeJsonAtomic } from '../util/index.js';
import { regError } from './errors.js';
import { fsyncFile, type Storage } from './storage.js';

export interface UploadSession {
  readonly id: string;
  readonly repo: string;
  readonly startedAt: number;
  /** Bytes received and accepted so far. */
  size: number;
  /** sha256 state of those bytes. */
  hash: Hash;
  updatedAt: number;
  busy: boolean;
  /** Settles when the request writing to the session finishes. */
  idle?: Promise<void>;
}

export interface AppendOptions {
  /** Content-Range start the client claims; must equal the session's size. */
  start?: number;
  /** Bytes the client says it sends (Content-Length or the Content-Range span). */
  length?: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The `Range` header value for a session of `size` bytes: inclusive end, `0-0` when empty. */
export function rangeHeader(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}

export class Uploads {
  private readonly sessions = new Map<string, UploadSession>();
  private readonly storage: Storage;
  private readonly maxBlobSize: number;

  constructor(storage: Storage, maxBlobSize: number) {
    this.storage = storage;
    this.maxBlobSize = maxBlobSize;
  }

  private dir(id: string): string {
    return join(this.storage.uploadsDir, id);
  }

  dataPath(id: string): string {
    return join(this.dir(id), 'data');
  }

  async start(repo: string): Promise<UploadSession> {
    const id = randomUUID();
    const now = Date.now();
    await mkdir(this.dir(id), { recursive: true });
    await writeFile(this.dataPath(id), '');
    await writeJsonAtomic(join(this.dir(id), 'info.json'), { repo, startedAt: now });
    const session: UploadSession = {
      id,
      repo,
      startedAt: now,
      size: 0,
      hash: createHash('sha256'),
      updatedAt: now,
      busy: false,
    };
    this.sessions.set(id, session);
    return session;
  }

  /** The session `id` of `repo`; sessions from before a restart are re-read (and re-hashed) from disk. */
  async get(repo: string, id: string): Promise<UploadSession> {
    const unknown = () =>
      regError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is unknown`, { detail: { uuid: id } });
    if (!UUID_RE.test(id)) throw unknown();
    let session = this.sessions.get(id);
    if (!session) {
      let info: { repo: string; startedAt: number };
      try {
        info = JSON.parse(await readFile(join(this.dir(id), 'info.json'), 'utf8'));
      } catch {
        throw unknown();
      }
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of createReadStream(this.dataPath(id))) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
      } catch {
        throw unknown();
      }
      session = {
        id,
        repo: info.repo,
        startedAt: info.startedAt,
        size,
        hash,
        updatedAt: Date.now(),
        busy: false,
      };
      this.sessions.set(id, session);
    }
    if (session.repo !== repo) throw unknown();
    return session;
  }

  /** Waits (bounded) for another request on the session to finish: a client retrying after a disconnect
   * may arrive before the server has noticed the broken connection. */
  private async waitIdle(session: UploadSession): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (session.busy) {
      if (Date.now() > deadline) {
        throw regError('BLOB_UPLOAD_INVALID', `upload ${session.id} is in use by another request`);
      }
      await Promise.race([session.idle, new Promise((r) => setTimeout(r, 100))]);
    }
  }

  /** Takes the session for one request (waiting for another to finish); returns the release. */
  private async acquire(session: UploadSession): Promise<() => void> {
    // Re-checked after the await: another waiter may have taken the session in between.
    do await this.waitIdle(session);
    while (session.busy);
    if (this.sessions.get(session.id) !== session) {
      throw regError('BLOB_UPLOAD_UNKNOWN', `upload ${session.id} has ended`, {
        detail: { uuid: session.id },
      });
    }
    session.busy = true;
    let settle = () => {};
    session.idle = new Promise<void>((r) => (settle = r));
    return () => {
      session.busy = false;
      settle();
    };
  }

  /** Streams `body` onto the end of the session; on any failure the session is left as it was. */
  async append(session: UploadSession, body: NodeJS.ReadableStream, opts: AppendOptions = {}): Promise<void> {
    const release = await this.acquire(session);
    if (opts.start !== undefined && opts.start !== session.size) {
      release();
      throw regError(
        'RANGE_INVALID',
        `upload ${session.id} is at byte ${session.size}, chunk starts at ${opts.start}`,
        {
          headers: {
            Range: rangeHeader(session.size),
            Location: `/v2/${session.repo}/blobs/uploads/${session.id}`,
            'Docker-Upload-UUID': session.id,
          },
        },
      );
    }
    const hash = session.hash.copy();
    const max = this.maxBlobSize;
    const base = session.size;
    let received = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
        received += chunk.length;
        if (max > 0 && base + received > max) {
          done(regError('SIZE_INVALID', `blob exceeds the maximum size of ${max} bytes`, { status: 413 }));
          return;
        }
        if (opts.length !== undefined && received > opts.length) {
          done(regError('SIZE_INVALID', `chunk is longer than the ${opts.length} bytes announced`));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      if (max > 0 && opts.length !== undefined && base + opts.length > max) {
        throw regError('SIZE_INVALID', `blob exceeds the maximum size of ${max} bytes`, { status: 413 });
      }
      await pipeline(
        body,
        meter,
        createWriteStream(this.dataPath(session.id), { flags: 'r+', start: base, highWaterMark: 1 << 20 }),
      );
      if (opts.length !== undefined && received !== opts.length) {
        throw regError('SIZE_INVALID', `chunk has ${received} bytes, ${opts.length} were announced`);
      }
      session.hash = hash;
      session.size = base + received;
      session.updatedAt = Date.now();
    } catch (err) {
      await truncate(this.dataPath(session.id), base).catch(() => {});
      throw err;
    } finally {
      release();
    }
  }

  /**
   * Verifies the session's content against `expected` and moves it into the blob store, linked to the
   * repository. On a mismatch the session is cancelled and nothing is stored.
   */
  async commit(session: UploadSession, expected: ParsedDigest): Promise<{ digest: string; size: number }> {
    const release = await this.acquire(session);
    try {
      return await this.verifyAndStore(session, expected);
    } finally {
      release();
    }
  }

  private async verifyAndStore(
    session: UploadSession,
    expected: ParsedDigest,
  ): Promise<{ digest: string; size: number }> {
    const want = `${expected.algorithm}:${expected.hex}`;
    let actual: string;
    if (expected.algorithm === 'sha256') actual = `sha256:${session.hash.copy().digest('hex')}`;
    else {
      const h = createHash(expected.algorithm);
      for await (const chunk of createReadStream(this.dataPath(session.id))) h.update(chunk as Buffer);
      actual = `${expected.algorithm}:${h.digest('hex')}`;
    }
    if (actual !== want) {
      await this.cancel(session);
      throw regError('DIGEST_INVALID', `digest ${want} does not match the uploaded content (${actual})`, {
        detail: { expected: want, actual },
      });
    }
    const size = session.size;
    if ((await this.storage.blobSize(want)) === null) {
      await fsyncFile(this.dataPath(session.id));
      await this.storage.commitBlobFile(this.dataPath(session.id), want);
    }
    await this.storage.linkBlob(session.repo, want);
    await this.cancel(session);
    return { digest: want, size };
  }

  async cancel(session: UploadSession): Promise<void> {
    this.sessions.delete(session.id);
    await rm(this.dir(session.id), { recursive: true, force: true });
  }

  /** Removes sessions idle for longer than `ttlSeconds`; returns how many. */
  async purgeExpired(ttlSeconds: number, now = Date.now()): Promise<number> {
    let purged = 0;
    let ids: string[];
    try {
      ids = await readdir(this.storage.uploadsDir);
    } catch {
      return 0;
    }
    for (const id of ids) {
      const live = this.sessions.get(id);
      if (live?.busy) continue;
      let last = live?.updatedAt;
      if (last === undefined) {
        try {
          last = (await stat(this.dataPath(id))).mtimeMs;
        } catch {
          try {
            last = (await stat(this.dir(id))).mtimeMs;
          } catch {
            continue;
          }
        }
      }
      if (now - last > ttlSeconds * 1000) {
        this.sessions.delete(id);
        await rm(this.dir(id), { recursive: true, force: true });
        purged++;
      }
    }
    return purged;
  }
}
