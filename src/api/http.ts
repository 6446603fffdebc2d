// The request object handed to route handlers, and the query/body parsing rules Docker's engine uses.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { badRequest } from '../util/index.js';

/** The API version berth reports and the oldest one it accepts (Docker's defaults). */
export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';
export const SERVER_NAME = 'berth/0.1.0';
/** Bodies parsed with `json()` are refused above this size (container create bodies are a few kB). */
export const MAX_JSON_BODY = 16 * 1024 * 1024;

export interface ApiRequest {
  method: string;
  /** Without the /vX.Y prefix, e.g. '/containers/abc/json' (percent-decoded per segment in params only). */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The negotiated version: from the /vX.Y prefix, else the server's current one. */
  apiVersion: string;
  raw: IncomingMessage;
  res: ServerResponse;
  /** Aborted when the client goes away before the response has finished. */
  signal: AbortSignal;
  /** The JSON body; an empty body is `{}`; malformed → 400 "invalid JSON: …"; too large → 400. */
  json<T = unknown>(): Promise<T>;
  /** A query boolean as Docker parses it: absent → fallback; '', 0, no, false, none → false; else true. */
  bool(name: string, fallback?: boolean): boolean;
  /** A query integer; absent or '' → fallback; not an integer → 400 naming the parameter. */
  int(name: string, fallback?: number): number | undefined;
  /** A query parameter holding JSON (e.g. `labels`, `buildargs`); malformed → 400. */
  jsonQuery<T>(name: string): T | undefined;
  /** Docker's `filters` parameter, in both its map-of-bools and list forms. */
  filters(): Map<string, string[]>;
}

/** What a handler returns. `void` with no response started → 204 No Content. */
export type ApiResult =
  | {
      status?: number;
      json?: unknown;
      body?: string | Buffer;
      /** Piped to the response (tars, logs); an error mid-way aborts the connection. */
      stream?: Readable;
      headers?: Record<string, string>;
    }
  // biome-ignore lint/suspicious/noConfusingVoidType: handlers that stream or answer 204 simply return nothing
  | void;

export type Handler = (req: ApiRequest) => Promise<ApiResult> | ApiResult;

/** Compares dotted versions numerically ('1.9' < '1.24'). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.parseInt(pa[i] ?? '0', 10) || 0;
    const y = Number.parseInt(pb[i] ?? '0', 10) || 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Docker's BoolValue: anything but '', 0, no, false, none is true. */
export function parseBool(value: string | null, fallback = false): boolean {
  if (value === null) return fallback;
  const s = value.trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** Parses Docker's `filters` JSON: {"k":{"v":true}} or the older {"k":["v"]}. */
export function parseFilters(raw: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (raw === null || raw.trim() === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw badRequest(`invalid filter: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badRequest('invalid filter: expected a JSON object');
  }
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value)) {
      if (!value.every((v) => typeof v === 'string')) {
        throw badRequest(`invalid filter '${key}': values must be strings`);
      }
      out.set(key, value as string[]);
    } else if (value !== null && typeof value === 'object') {
      const values: string[] = [];
      for (const [v, on] of Object.entries(value as Record<string, unknown>)) {
        if (typeof on !== 'boolean') throw badRequest(`invalid filter '${key}': expected a map of booleans`);
        if (on) values.push(v);
      }
      out.set(key, values);
    } else {
      throw badRequest(`invalid filter '${key}': expected a list or a map of booleans`);
    }
  }
  return out;
}

/** Reads a request body up to `limit` bytes. */
export function readBody(raw: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      raw.off('data', onData);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        raw.resume(); // drain the rest so the connection stays usable
        finish(badRequest(`request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    raw.on('data', onData);
    raw.once('end', () => finish(null));
    raw.once('error', (err) => finish(badRequest(`reading request body: ${err.message}`)));
    raw.once('close', () => finish(raw.complete ? null : badRequest('request body aborted by the client')));
  });
}

/**
 * The request object for one HTTP request. A class (methods on the prototype) and a signal created only when
 * a handler asks for it keep the per-request cost low.
 */
export class Request implements ApiRequest {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  private controller?: AbortController;
  private filtersCache?: Map<string, string[]>;

  constructor(
    readonly raw: IncomingMessage,
    readonly res: ServerResponse,
    readonly path: string,
    readonly query: URLSearchParams,
    readonly apiVersion: string,
    readonly params: Record<string, string>,
    /** The body when it was read off the socket already (Upgrade requests). */
    private readonly body?: Buffer,
  ) {
    this.method = raw.method ?? 'GET';
    this.headers = raw.headers;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      const ac = new AbortController();
      this.controller = ac;
      const res = this.res;
      if (res.destroyed && !res.writableFinished) ac.abort();
      else res.once('close', () => !res.writableFinished && ac.abort());
    }
    return this.controller.signal;
  }

  async json<T>(): Promise<T> {
    const text = (this.body ?? (await readBody(this.raw))).toString('utf8').trim();
    if (text === '') return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw badRequest(`invalid JSON: ${(err as Error).message}`);
    }
  }

  bool(name: string, fallback = false): boolean {
    return parseBool(this.query.get(name), fallback);
  }

  int(name: string, fallback?: number): number | undefined {
    const v = this.query.get(name);
    if (v === null || v.trim() === '') return fallback;
    if (!/^\s*[-+]?\d+\s*$/.test(v)) {
      throw badRequest(`invalid value for ${name}: "${v}" is not an integer`);
    }
    const n = Number.parseInt(v, 10);
    if (!Number.isSafeInteger(n)) throw badRequest(`invalid value for ${name}: "${v}" is out of range`);
    return n;
  }

  jsonQuery<T>(name: string): T | undefined {
    const v = this.query.get(name);
    if (v === null || v.trim() === '') return undefined;
    try {
      return JSON.parse(v) as T;
    } catch (err) {
      throw badRequest(`invalid JSON in query parameter ${name}: ${(err as Error).message}`);
    }
  }

  filters(): Map<string, string[]> {
    this.filtersCache ??= parseFilters(this.query.get('filters'));
    return this.filtersCache;
  }
}
