// Manifest parsing and validation: the media types we accept, the descriptors a manifest refers to, and
// content negotiation against an Accept header.
import { regError } from './errors.js';
import { checkDigest } from './names.js';
import type { Descriptor } from './storage.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

const IMAGE_TYPES = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);
const INDEX_TYPES = new Set([OCI_INDEX, DOCKER_LIST]);
export const MANIFEST_TYPES: readonly string[] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

export interface ParsedManifest {
  mediaType: string;
  /** Blobs that must exist in the repository (config and layers of an image manifest). */
  blobs: Descriptor[];
  /** Manifests that must exist in the repository (children of an index). */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** artifactType, or the config's media type for an image manifest (what the referrers API reports). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (message: string, path?: string) =>
  regError('MANIFEST_INVALID', path ? `${path}: ${message}` : message, path ? { detail: { path } } : {});

function descriptor(v: unknown, path: string): Descriptor {
  if (!isObj(v)) throw invalid('expected a descriptor object', path);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid('mediaType must be a string', path);
  if (typeof digest !== 'string') throw invalid('digest must be a string', path);
  try {
    checkDigest(digest);
  } catch {
    throw invalid(`invalid digest "${digest}"`, `${path}.digest`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid('size must be a non-negative integer', `${path}.size`);
  }
  const out: Descriptor = { mediaType, digest, size };
  if (v.urls !== undefined) {
    if (!Array.isArray(v.urls) || !v.urls.every((u) => typeof u === 'string')) {
      throw invalid('urls must be an array of strings', `${path}.urls`);
    }
    out.urls = v.urls as string[];
  }
  if (typeof v.artifactType === 'string') out.artifactType = v.artifactType;
  if (isObj(v.annotations)) out.annotations = v.annotations as Record<string, string>;
  return out;
}

function mediaTypeOf(contentType: string | undefined, doc: Obj): string {
  const header = contentType?.split(';')[0]?.trim().toLowerCase();
  const field = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const generic = !header || header === 'application/json' || header === 'application/octet-stream';
  if (!generic && field && field !== header) {
    throw invalid(`mediaType "${field}" does not match Content-Type "${header}"`, 'mediaType');
  }
  if (!generic) return header!;
  if (field) return field;
  // Older OCI manifests may omit mediaType: tell them apart by shape.
  if (Array.isArray(doc.manifests)) return OCI_INDEX;
  if (doc.config !== undefined) return OCI_MANIFEST;
  throw invalid('cannot tell the manifest type: no Content-Type and no mediaType');
}

/** Parses and validates manifest bytes pushed with `contentType`. Throws MANIFEST_INVALID naming the problem. */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw invalid(`not valid JSON: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw invalid('expected a JSON object');
  const mediaType = mediaTypeOf(contentType, doc);
  if (!IMAGE_TYPES.has(mediaType) && !INDEX_TYPES.has(mediaType)) {
    throw invalid(`unsupported manifest media type "${mediaType}"`, 'mediaType');
  }
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2', 'schemaVersion');
  const out: ParsedManifest = { mediaType, blobs: [], manifests: [] };
  if (IMAGE_TYPES.has(mediaType)) {
    const config = descriptor(doc.config, 'config');
    if (!Array.isArray(doc.layers)) throw invalid('layers must be an array', 'layers');
    const layers = doc.layers.map((l, i) => descriptor(l, `layers[${i}]`));
    out.blobs = [config, ...layers.filter((l) => !l.urls || l.urls.length === 0)];
    out.artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : config.mediaType;
  } else {
    if (!Array.isArray(doc.manifests)) throw invalid('manifests must be an array', 'manifests');
    out.manifests = doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`));
    if (typeof doc.artifactType === 'string') out.artifactType = doc.artifactType;
  }
  if (doc.subject !== undefined) out.subject = descriptor(doc.subject, 'subject');
  if (isObj(doc.annotations)) out.annotations = doc.annotations as Record<string, string>;
  return out;
}

/** Whether an Accept header admits `mediaType`. No header (or a wildcard) admits everything. */
export function accepts(acceptHeader: string | undefined, mediaType: string): boolean {
  if (!acceptHeader) return true;
  const [type] = mediaType.split('/');
  for (const part of acceptHeader.split(',')) {
    const range = part.split(';')[0]!.trim().toLowerCase();
    if (range === '' || range === '*/*' || range === mediaType || range === `${type}/*`) return true;
    // Plain JSON clients (curl -H 'Accept: application/json') get whatever is stored.
    if (range === 'application/json') return true;
  }
  return false;
}
