// Content digests (`algorithm:hex`) as the OCI image spec defines them: sha256 written, sha512 accepted.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { badRequest } from './errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';
const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

/** Parses and validates `sha256:<64 hex>` or `sha512:<128 hex>`; throws a 400 naming the bad digest. */
export function parseDigest(digest: string): ParsedDigest {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon) as DigestAlgorithm;
  const hex = digest.slice(colon + 1);
  if (colon < 0 || !(algorithm in HEX_LENGTH)) {
    throw badRequest(`invalid digest "${digest}": unsupported algorithm (sha256 or sha512)`);
  }
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw badRequest(`invalid digest "${digest}": expected ${HEX_LENGTH[algorithm]} lower-case hex digits`);
  }
  return { algorithm, hex };
}

export function isDigest(value: string): boolean {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

export function sha256(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A pass-through stream that hashes and counts what flows through it. */
export class DigestStream extends Transform {
  private readonly hash: Hash;
  readonly algorithm: DigestAlgorithm;
  size = 0;
  constructor(algorithm: DigestAlgorithm = 'sha256') {
    super();
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
  private result?: string;
  /** The digest; valid once the stream has ended. */
  digest(): string {
    this.result ??= `${this.algorithm}:${this.hash.digest('hex')}`;
    return this.result;
  }
}
