// Small HTTP helpers shared by the handlers: routing of /v2/ paths, responses, errors, ranges, paging.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isBerthError, messageOf } from '../util/index.js';
import { isRegistryError, RegistryError, regError } from './errors.js';

export const API_VERSION_HEADER = 'Docker-Distribution-API-Version';
export const API_VERSION = 'registry/2.0';

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; ref: string }
  | { kind: 'uploadStart'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'referrers'; name: string; digest: string }
  | { kind: 'token' }
  | { kind: 'health' };

// Repository names contain slashes, so each route is told apart by its fixed tail (greedy name).
const V2_ROUTES: [RegExp, (m: RegExpExecArray) => Route][] = [
  [/^(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  [/^(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, ref: m[2]! })],
  [/^(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploadStart', name: m[1]! })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1]!, id: m[2]! })],
  [/^(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1]!, digest: m[2]! })],
  [/^(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1]!, digest: m[2]! })],
];

export function matchRoute(pathname: string): Route | null {
  if (pathname === '/v2' || pathname === '/v2/') return { kind: 'base' };
  if (pathname === '/v2/_catalog') return { kind: 'catalog' };
  if (pathname === '/token') return { kind: 'token' };
  if (pathname === '/healthz' || pathname === '/debug/health') return { kind: 'health' };
  if (!pathname.startsWith('/v2/')) return null;
  let rest: string;
  try {
    rest = decodeURIComponent(pathname.slice(4));
  } catch {
    return null;
  }
  for (const [re, build] of V2_ROUTES) {
    const m = re.exec(rest);
    if (m) return build(m);
  }
  return null;
}

export function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number> = {},
  body?: string | Buffer,
): void {
  const out: Record<string, string | number> = { ...headers };
  if (body !== undefined) out['Content-Length'] ??= Buffer.byteLength(body);
  else out['Content-Length'] ??= 0;
  res.writeHead(status, out);
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string | number> = {},
): void {
  send(res, status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(value));
}

function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Maps any error to a spec error body; unexpected errors become 500 and are logged. */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  log?: (line: string) => void,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  let e: RegistryError;
  if (isRegistryError(err)) e = err;
  else if (isBerthError(err) && err.status < 500)
    e = regError('UNSUPPORTED', err.message, { status: err.status });
  else {
    log?.(`registry: internal error on ${req.method} ${req.url}: ${messageOf(err)}`);
    e = new RegistryError('UNSUPPORTED', `internal error: ${messageOf(err)}`, { status: 500 });
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...e.headers };
  // Do not read (possibly gigabytes of) a body we refused: close the connection after the answer.
  if (hasUnreadBody(req)) headers.Connection = 'close';
  const body = e.body();
  send(res, e.status, headers, req.method === 'HEAD' ? undefined : body);
}

/** A byte range of a blob of `size` bytes (inclusive end). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a `Range: bytes=…` request header. Returns null to serve the whole blob (no header, or one we
 * do not handle, like several ranges), a range, or throws 416 when it cannot be satisfied.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null; // syntactically invalid: ignored per RFC 9110
  }
  if (start >= size || size === 0) throw unsatisfiable(size);
  return { start, end };
}

const unsatisfiable = (size: number) =>
  regError('RANGE_INVALID', `range not satisfiable for a blob of ${size} bytes`, {
    headers: { 'Content-Range': `bytes */${size}` },
  });

/** One page of a sorted list, with the `Link` header for the next page. */
export function paginate(
  items: string[],
  params: URLSearchParams,
  path: string,
): { page: string[]; link?: string } {
  const last = params.get('last');
  let rest = last ? items.filter((i) => i > last) : items;
  const nParam = params.get('n');
  if (nParam === null) return { page: rest };
  const n = Number(nParam);
  if (!/^\d+$/.test(nParam) || !Number.isSafeInteger(n)) {
    throw regError('UNSUPPORTED', `invalid page size n=${nParam}`, { status: 400 });
  }
  const more = rest.length > n && n > 0;
  rest = rest.slice(0, n);
  if (!more) return { page: rest };
  const next = `${path}?n=${n}&last=${encodeURIComponent(rest[rest.length - 1]!)}`;
  return { page: rest, link: `<${next}>; rel="next"` };
}

/** Reads a request body up to `max` bytes (manifests); larger → 413 SIZE_INVALID. */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    throw regError('SIZE_INVALID', `body of ${declared} bytes exceeds the limit of ${max} bytes`, {
      status: 413,
    });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > max) {
      throw regError('SIZE_INVALID', `body exceeds the limit of ${max} bytes`, { status: 413 });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
