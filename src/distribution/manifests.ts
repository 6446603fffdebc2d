// Fetching and checking manifests: every byte verified against its digest, the JSON shape checked
// (naming the JSON path that is wrong), and the platform picked from an index or manifest list.
import {
  type Descriptor,
  type Index,
  isIndexType,
  isManifestType,
  LAYER_TYPES,
  type Manifest,
  MediaType,
  type Platform,
} from '../images/index.js';
import { badRequest, isDigest, sha256 } from '../util/index.js';
import { header, readBody } from './http.js';
import { errorFrom, RegistryRequestError, type RegistrySession } from './session.js';

export const MANIFEST_ACCEPT = [
  MediaType.OciManifest,
  MediaType.DockerManifest,
  MediaType.OciIndex,
  MediaType.DockerManifestList,
].join(', ');

export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

/** What Docker says when a manifest is missing or access is refused. */
function notFoundMessage(
  familiar: string,
  reference: string,
  err: RegistryRequestError,
): RegistryRequestError {
  if (
    err.code === 'NAME_UNKNOWN' ||
    err.code === 'DENIED' ||
    err.code === 'UNAUTHORIZED' ||
    err.httpStatus === 401
  ) {
    return new RegistryRequestError(
      err.httpStatus,
      err.code,
      `pull access denied for ${familiar}, repository does not exist or may require 'docker login': ${err.message.replace(/^[^:]*: /, '')}`,
      404,
    );
  }
  const sep = reference.startsWith('sha256:') ? '@' : ':';
  return new RegistryRequestError(
    err.httpStatus,
    err.code,
    `manifest for ${familiar}${sep}${reference} not found: ${err.message.replace(/^[^:]*: /, '')}`,
    404,
  );
}

/** GET (or HEAD) a manifest by tag or digest; the bytes must hash to the digest asked for or announced. */
export async function fetchManifest(
  session: RegistrySession,
  repo: string,
  reference: string,
  familiar: string,
): Promise<FetchedManifest> {
  const res = await session
    .fetch(`/v2/${repo}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT } })
    .catch((err: unknown) => {
      // An anonymous client refused by the token service: Docker's "pull access denied".
      if (err instanceof RegistryRequestError && err.httpStatus === 401 && !session.hasCredentials) {
        throw notFoundMessage(familiar, reference, err);
      }
      throw err;
    });
  if (res.status !== 200) {
    const err = await errorFrom(res, `manifests/${reference}`);
    if (res.status === 404 || res.status === 401 || res.status === 403)
      throw notFoundMessage(familiar, reference, err);
    throw err;
  }
  const bytes = await readBody(res.body, 4 * 1024 * 1024).catch((e: Error) => {
    throw badRequest(`manifest ${familiar}:${reference}: ${e.message}`);
  });
  const digest = sha256(bytes);
  const expected = reference.includes(':') ? reference : header(res.headers, 'docker-content-digest');
  if (expected && isDigest(expected) && expected.startsWith('sha256:') && expected !== digest) {
    throw badRequest(`manifest verification failed for ${familiar}: expected ${expected}, got ${digest}`);
  }
  let mediaType = header(res.headers, 'content-type')?.split(';')[0]?.trim() ?? '';
  const parsed = parseJson(bytes, `manifest ${digest}`);
  if (typeof parsed.mediaType === 'string') mediaType = parsed.mediaType;
  else if (!isManifestType(mediaType) && !isIndexType(mediaType)) {
    mediaType = Array.isArray(parsed.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  }
  return { bytes, digest, mediaType };
}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw badRequest(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw badRequest(`${what}: (root) must be an object`);
  return v as Record<string, unknown>;
}

function checkDescriptor(d: unknown, where: string): Descriptor {
  if (d === null || typeof d !== 'object') throw badRequest(`${where} must be an object`);
  const o = d as Record<string, unknown>;
  if (typeof o.mediaType !== 'string') throw badRequest(`${where}.mediaType must be a string`);
  if (typeof o.digest !== 'string' || !isDigest(o.digest))
    throw badRequest(`${where}.digest is not a valid digest`);
  if (typeof o.size !== 'number' || !Number.isInteger(o.size) || o.size < 0) {
    throw badRequest(`${where}.size must be a non-negative integer`);
  }
  return o as unknown as Descriptor;
}

/** Parses an image manifest and checks config and layers. */
export function parseManifest(m: FetchedManifest): Manifest {
  const what = `manifest ${m.digest}`;
  const v = parseJson(m.bytes, what);
  if (v.schemaVersion !== 2)
    throw badRequest(`${what}: .schemaVersion must be 2 (schema 1 is not supported)`);
  checkDescriptor(v.config, `${what}: .config`);
  if (!Array.isArray(v.layers)) throw badRequest(`${what}: .layers must be an array`);
  v.layers.forEach((l: unknown, i: number) => {
    const d = checkDescriptor(l, `${what}: .layers[${i}]`);
    if (!LAYER_TYPES.includes(d.mediaType)) {
      throw badRequest(`${what}: .layers[${i}].mediaType ${d.mediaType} is not a layer media type`);
    }
  });
  return v as unknown as Manifest;
}

export function parseIndex(m: FetchedManifest): Index {
  const what = `manifest list ${m.digest}`;
  const v = parseJson(m.bytes, what);
  if (v.schemaVersion !== 2) throw badRequest(`${what}: .schemaVersion must be 2`);
  if (!Array.isArray(v.manifests)) throw badRequest(`${what}: .manifests must be an array`);
  for (const [i, d] of (v.manifests as unknown[]).entries()) checkDescriptor(d, `${what}: .manifests[${i}]`);
  return v as unknown as Index;
}

/** `linux/amd64`, `linux/arm64/v8`, `amd64` → a platform (os defaults to linux). */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.some((p) => p === '') || parts.length > 3)
    throw badRequest(`invalid platform "${s}": expected os/arch[/variant]`);
  if (parts.length === 1) return { os: 'linux', architecture: normArch(parts[0]!) };
  const p: Platform = { os: parts[0]!, architecture: normArch(parts[1]!) };
  if (parts[2]) p.variant = parts[2];
  return p;
}

function normArch(a: string): string {
  return (
    ({ x86_64: 'amd64', x86: '386', aarch64: 'arm64', armhf: 'arm', armel: 'arm' } as Record<string, string>)[
      a
    ] ?? a
  );
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The index entry for a platform (arm64 without a variant matches v8, as containerd's matcher). */
export function selectPlatform(index: Index, want: Platform, familiar: string): Descriptor {
  const candidates = index.manifests.filter(
    (d) =>
      d.platform &&
      d.platform.os === want.os &&
      normArch(d.platform.architecture) === want.architecture &&
      isManifestType(d.mediaType || MediaType.OciManifest),
  );
  const exact = candidates.find((d) => (d.platform!.variant ?? '') === (want.variant ?? ''));
  const loose = candidates.find(
    (d) => !want.variant || (want.architecture === 'arm64' && (d.platform!.variant ?? 'v8') === want.variant),
  );
  const pick = exact ?? loose;
  if (!pick) {
    throw new RegistryRequestError(
      404,
      'MANIFEST_UNKNOWN',
      `no matching manifest for ${formatPlatform(want)} in the manifest list entries (${familiar})`,
      404,
    );
  }
  return pick;
}
