// Image references parsed and normalised as Docker's distribution/reference does:
// `busybox` → `docker.io/library/busybox:latest`, with the same grammar and error messages.
import { badRequest } from '../util/index.js';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO = 'library';
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar, piece by piece (distribution/reference regexp.go).
const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const host = `(?:${domainName}|${ipv6})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const namePat = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;
const REFERENCE_RE = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const ANCHORED_DOMAIN_RE = new RegExp(`^${domainAndPort}$`);
const HEX_ID_RE = /^[a-f0-9]{64}$/;
const TAG_RE = new RegExp(`^${tagPat}$`);

/** A parsed reference. `name` is `domain/path` (or just `path` when parsed without normalisation). */
export interface Reference {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

const invalid = (detail?: string) =>
  badRequest(detail ? `invalid reference format: ${detail}` : 'invalid reference format');

/** reference.Parse: the raw grammar, no defaults added. */
export function parseReference(s: string): Reference {
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    if (s === '') throw invalid('repository name must have at least one component');
    if (REFERENCE_RE.test(s.toLowerCase())) throw invalid('repository name must be lowercase');
    throw invalid();
  }
  const name = m[1]!;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const ref: Reference = { ...splitName(name) };
  if (m[2]) ref.tag = m[2];
  if (m[3]) ref.digest = validateDigest(m[3]);
  return ref;
}

function splitName(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  if (slash >= 0 && ANCHORED_DOMAIN_RE.test(name.slice(0, slash))) {
    // Only a first component that looks like a host counts as a domain (same rule as splitDockerDomain).
    const first = name.slice(0, slash);
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first !== first.toLowerCase()
    ) {
      return { domain: first, path: name.slice(slash + 1) };
    }
  }
  return { domain: '', path: name };
}

function validateDigest(d: string): string {
  const [algo, hex] = d.split(':') as [string, string];
  const want: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  const len = want[algo];
  if (len === undefined) throw invalid(`unsupported digest algorithm in "${d}"`);
  if (hex.length !== len || !/^[a-f0-9]+$/.test(hex))
    throw invalid(`invalid checksum digest format in "${d}"`);
  return d;
}

/** reference.ParseNormalizedNamed: a familiar name (`busybox`) → a fully qualified one (`docker.io/library/busybox`). */
export function parseNormalized(s: string): Reference {
  if (HEX_ID_RE.test(s)) {
    throw badRequest(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  let domain = DEFAULT_DOMAIN;
  let remainder = s;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const first = s.slice(0, slash);
    const looksLikeHost =
      first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first;
    if (looksLikeHost) {
      domain = first;
      remainder = s.slice(slash + 1);
    }
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = `${OFFICIAL_REPO}/${remainder}`;
  const colon = remainder.indexOf(':');
  const remote = colon >= 0 ? remainder.slice(0, colon) : remainder;
  if (remote.toLowerCase() !== remote) throw invalid(`repository name (${remote}) must be lowercase`);
  return parseReference(`${domain}/${remainder}`);
}

/** parseNormalized plus the default tag when neither tag nor digest is given (reference.TagNameOnly). */
export function parseNormalizedTagged(s: string): Reference {
  const ref = parseNormalized(s);
  if (!ref.tag && !ref.digest) ref.tag = DEFAULT_TAG;
  return ref;
}

/** `docker.io/library/busybox` */
export function fullName(ref: Reference): string {
  return ref.domain ? `${ref.domain}/${ref.path}` : ref.path;
}

/** The canonical string: `docker.io/library/busybox:latest@sha256:…`. */
export function formatReference(ref: Reference): string {
  return `${fullName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The name as Docker shows it: `busybox`, `user/app`, `localhost:5000/a/b`. */
export function familiarName(ref: Reference): string {
  if (ref.domain === DEFAULT_DOMAIN || ref.domain === '') {
    const path = ref.path;
    if (path.startsWith(`${OFFICIAL_REPO}/`) && path.indexOf('/', OFFICIAL_REPO.length + 1) < 0) {
      return path.slice(OFFICIAL_REPO.length + 1);
    }
    return path;
  }
  return `${ref.domain}/${ref.path}`;
}

/** `busybox:latest`, `localhost:5000/a/b:t`, `busybox@sha256:…` */
export function familiarString(ref: Reference): string {
  return `${familiarName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** True for a full 64-hex image ID, with or without `sha256:`. */
export function isFullImageId(s: string): boolean {
  return HEX_ID_RE.test(s.replace(/^sha256:/, ''));
}
