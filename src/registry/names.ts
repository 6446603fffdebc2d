// Validation of repository names, tags and digests with the grammar of the OCI Distribution Spec.
import { type ParsedDigest, parseDigest } from '../util/index.js';
import { regError } from './errors.js';

const NAME_RE = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Names longer than this make paths and Location headers unwieldy; distribution uses the same bound. */
export const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

export function checkName(name: string): void {
  if (!isValidName(name)) {
    throw regError('NAME_INVALID', `invalid repository name "${name}"`, { detail: { name } });
  }
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Parses a digest from a URL or query, mapping a bad one to DIGEST_INVALID. */
export function checkDigest(digest: string): ParsedDigest {
  try {
    return parseDigest(digest);
  } catch (err) {
    throw regError('DIGEST_INVALID', (err as Error).message, { detail: { digest } });
  }
}

export function isDigestRef(reference: string): boolean {
  return reference.includes(':');
}
