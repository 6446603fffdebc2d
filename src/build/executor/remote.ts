// ADD's remote sources and `--checksum`: a URL is streamed to a file while it is hashed (never held in
// memory), and a `--checksum=sha256:<hex>` (also sha384/sha512) is checked against what arrived — or,
// for a local file, against its content. A mismatch is a 400 naming the Dockerfile line, the source and
// both digests.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { badRequest, messageOf } from '../../util/index.js';
import { DockerfileError } from '../parser/index.js';

/** Where an instruction is, for error messages. */
export interface SourceLocation {
  file: string;
  line: number;
}

export interface ExpectedDigest {
  algorithm: 'sha256' | 'sha384' | 'sha512';
  hex: string;
}

const HEX_LEN = { sha256: 64, sha384: 96, sha512: 128 } as const;

function fail(where: SourceLocation | undefined, message: string): never {
  if (where) throw new DockerfileError(where.file, where.line, message);
  throw badRequest(message);
}

/** Parses `--checksum`: `sha256:<64 hex>` (or sha384/sha512). A bare hex is a git commit: refused. */
export function parseChecksum(raw: string, where?: SourceLocation): ExpectedDigest {
  const m = /^(sha256|sha384|sha512):([0-9a-f]+)$/.exec(raw);
  if (!m) {
    if (/^[0-9a-f]{1,64}$/.test(raw))
      fail(
        where,
        `ADD --checksum=${raw}: a bare commit checksum applies to git sources, which are not supported`,
      );
    fail(where, `ADD --checksum=${raw}: invalid checksum digest format (want sha256:<hex>)`);
  }
  const algorithm = m[1] as ExpectedDigest['algorithm'];
  const hex = m[2] ?? '';
  if (hex.length !== HEX_LEN[algorithm])
    fail(
      where,
      `ADD --checksum=${raw}: a ${algorithm} digest has ${HEX_LEN[algorithm]} hex digits, not ${hex.length}`,
    );
  return { algorithm, hex };
}

function mismatch(where: SourceLocation | undefined, what: string, want: ExpectedDigest, got: string): never {
  fail(
    where,
    `ADD --checksum: digest mismatch for ${what}: expected ${want.algorithm}:${want.hex}, got ${want.algorithm}:${got}`,
  );
}

/** Verifies a local file's content against `--checksum` (streamed). */
export async function verifyFileChecksum(
  path: string,
  raw: string,
  what: string,
  where?: SourceLocation,
): Promise<void> {
  const want = parseChecksum(raw, where);
  const h = createHash(want.algorithm);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  const got = h.digest('hex');
  if (got !== want.hex) mismatch(where, what, want, got);
}

export interface DownloadOptions {
  signal?: AbortSignal;
  /** `--checksum` of the ADD, verified before the file is used. */
  checksum?: string;
  where?: SourceLocation;
  /** File name inside `dir` (default: the URL path's last component, or `download`). */
  name?: string;
}

/**
 * Downloads `url` into `dir` (mode 0600, as Docker's ADD gives remote files), hashing as it streams.
 * Returns the file name. Throws 400 on a network error, an HTTP error status or a checksum mismatch, and
 * leaves no partial file behind.
 */
export async function downloadSource(url: string, dir: string, opts: DownloadOptions = {}): Promise<string> {
  const want = opts.checksum !== undefined ? parseChecksum(opts.checksum, opts.where) : undefined;
  let name = opts.name;
  if (name === undefined) {
    try {
      name = basename(new URL(url).pathname) || 'download';
    } catch {
      fail(opts.where, `ADD ${url}: invalid URL`);
    }
  }
  const res = await fetch(url, { ...(opts.signal ? { signal: opts.signal } : {}) }).catch((err: unknown) =>
    fail(opts.where, `ADD ${url}: ${messageOf(err)}`),
  );
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    fail(opts.where, `ADD ${url}: HTTP ${res.status}`);
  }
  const path = join(dir, name);
  const h = want ? createHash(want.algorithm) : undefined;
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h?.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]),
      hashing,
      createWriteStream(path, { mode: 0o600 }),
    );
  } catch (err) {
    await rm(path, { force: true });
    fail(opts.where, `ADD ${url}: ${messageOf(err)}`);
  }
  if (want && h) {
    const got = h.digest('hex');
    if (got !== want.hex) {
      await rm(path, { force: true });
      mismatch(opts.where, url, want, got);
    }
  }
  return name;
}
