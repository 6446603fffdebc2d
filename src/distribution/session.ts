// One conversation with a registry: the base URL (HTTPS; for localhost, 127.0.0.0/8 and insecure
// registries HTTPS first and plain HTTP when that fails, as Docker), and auth challenges answered with
// Basic credentials or bearer tokens fetched from the challenge's realm (Docker's token flow).
import { BerthError } from '../util/index.js';
import type { RegistryAuth } from './credentials.js';
import { CERTS_DIR, type HttpRequest, type HttpResponse, header, httpFetch, readBody } from './http.js';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (one or more challenges). */
export function parseChallenges(value: string | undefined): Challenge[] {
  if (!value) return [];
  const out: Challenge[] = [];
  const re =
    /([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)((?:[A-Za-z0-9_-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?\s*)*)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    const params: Record<string, string> = {};
    const pre = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
    for (let p = pre.exec(m[2] ?? ''); p; p = pre.exec(m[2] ?? '')) {
      params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
    }
    out.push({ scheme: m[1]!.toLowerCase(), params });
  }
  return out;
}

/** A registry error with the status Docker's engine gives it and the spec's error code when known. */
export class RegistryRequestError extends BerthError {
  readonly code: string | undefined;
  readonly httpStatus: number;
  constructor(httpStatus: number, code: string | undefined, message: string, status = 500) {
    super(status, message);
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

/** `{"errors":[{code,message}]}` → "code: message" pieces as Docker prints them ("manifest unknown: …"). */
export async function errorFrom(res: HttpResponse, what: string): Promise<RegistryRequestError> {
  let body = '';
  try {
    body = (await readBody(res.body, 64 * 1024)).toString('utf8');
  } catch {}
  let code: string | undefined;
  let detail = '';
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: string; message?: string }[] };
    const first = parsed.errors?.[0];
    if (first) {
      code = first.code;
      const c = (first.code ?? 'unknown').toLowerCase().replace(/_/g, ' ');
      detail = `${c}: ${first.message ?? c}`;
    }
  } catch {}
  if (!detail)
    detail = `unexpected status ${res.status}${body.trim() ? `: ${body.trim().slice(0, 200)}` : ''}`;
  const status = res.status === 401 || res.status === 403 ? 401 : res.status === 404 ? 404 : 500;
  return new RegistryRequestError(res.status, code, `${what}: ${detail}`, status);
}

export interface SessionOptions {
  /** Registry host as in the reference (`localhost:5000`, `docker.io`). */
  host: string;
  auth?: RegistryAuth;
  insecureRegistries?: readonly string[];
  certsDir?: string;
  /** Ask the token service for a refresh token as well (login: Docker's `offline_token=true`). */
  offlineToken?: boolean;
}

/** The client_id sent to token services (Docker sends "docker"). */
const CLIENT_ID = 'berth';

/** Where a host is reached: Docker Hub's API host, plain http for loopback and insecure registries. */
export function registryBase(host: string, insecure: readonly string[] = []): URL {
  if (host === 'docker.io') return new URL('https://registry-1.docker.io');
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const plain =
    name === 'localhost' ||
    /^127\.\d+\.\d+\.\d+$/.test(name) ||
    name === '::1' ||
    insecure.some((i) => i === host || i === name || inCidr(name, i));
  return new URL(`${plain ? 'http' : 'https'}://${host}`);
}

function inCidr(ip: string, cidr: string): boolean {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  const toInt = (s: string) => s.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const bits = Number(m[2]);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(ip) & mask) === (toInt(m[1]!) & mask);
}

/** The scheme each loopback or insecure registry turned out to speak. */
const schemes = new Map<string, 'http' | 'https'>();

export class RegistrySession {
  readonly host: string;
  private baseUrl: URL;
  /** Loopback and insecure registries: HTTPS is tried first, plain HTTP when that fails (as Docker). */
  private probe: boolean;
  private readonly auth: RegistryAuth | undefined;
  private readonly certsDir: string;
  private authHeader: string | undefined;
  private readonly offlineToken: boolean;
  /** OAuth2 refresh token: the stored identity token, or one the token service handed out. */
  private refreshToken: string | undefined;
  private readonly tokens = new Map<string, string>();
  /** Scopes this session needs on every token (pull, push, mount sources). */
  private scopes = new Set<string>();

  constructor(opts: SessionOptions) {
    this.host = opts.host;
    this.baseUrl = registryBase(opts.host, opts.insecureRegistries);
    const known = schemes.get(opts.host);
    this.probe = this.baseUrl.protocol === 'http:' && known === undefined;
    if (known) this.baseUrl = new URL(`${known}://${opts.host}`);
    this.auth = opts.auth;
    this.certsDir = opts.certsDir ?? CERTS_DIR;
    if (opts.auth?.registrytoken) this.authHeader = `Bearer ${opts.auth.registrytoken}`;
    this.offlineToken = opts.offlineToken ?? false;
    this.refreshToken = opts.auth?.identitytoken;
  }

  get hasCredentials(): boolean {
    return (
      this.auth?.username !== undefined ||
      this.auth?.registrytoken !== undefined ||
      this.auth?.identitytoken !== undefined
    );
  }

  /** The refresh token the token service issued (after a login with offlineToken), if any. */
  get identityToken(): string | undefined {
    return this.refreshToken;
  }

  addScope(scope: string): void {
    this.scopes.add(scope);
  }

  /**
   * A request to `path` under the registry. A 401 with a challenge is answered once (token or Basic)
   * and the request repeated; bodies given as streams cannot be repeated, so callers send those only
   * after an earlier request has authenticated the session.
   */
  /** The registry's base URL (its scheme settled by the first request). */
  get base(): URL {
    return this.baseUrl;
  }

  /** Whether the registry answers HTTPS (with the CAs we trust); remembered per host for this process. */
  private async probeScheme(): Promise<void> {
    this.probe = false;
    const https = new URL(`https://${this.host}/v2/`);
    try {
      const res = await httpFetch(https, { signal: AbortSignal.timeout(3000) }, this.certsDir);
      res.body.resume();
      this.baseUrl = new URL(`https://${this.host}`);
      schemes.set(this.host, 'https');
    } catch {
      schemes.set(this.host, 'http');
    }
  }

  async fetch(path: string, req: HttpRequest = {}): Promise<HttpResponse> {
    if (this.probe) await this.probeScheme();
    const url = new URL(path, this.base);
    const send = () =>
      httpFetch(
        url,
        {
          ...req,
          headers: { ...(req.headers ?? {}), ...(this.authHeader ? { Authorization: this.authHeader } : {}) },
        },
        this.certsDir,
      );
    let res = await send().catch((err: Error) => {
      throw new RegistryRequestError(0, undefined, `${req.method ?? 'GET'} ${url.href}: ${err.message}`, 500);
    });
    if (res.status !== 401) return res;
    const replayable = req.body === undefined || typeof req.body === 'string' || Buffer.isBuffer(req.body);
    const challenges = parseChallenges(header(res.headers, 'www-authenticate'));
    if (!replayable || challenges.length === 0) return res;
    res.body.resume();
    const before = this.authHeader;
    await this.answer(challenges);
    if (this.authHeader === before) {
      // Same credentials again would get the same answer.
      return send();
    }
    res = await send();
    return res;
  }

  /** GET /v2/: checks the API is there and authenticates the session (login). */
  async ping(): Promise<void> {
    const res = await this.fetch('/v2/');
    res.body.resume();
    if (res.status === 401) {
      throw new RegistryRequestError(
        401,
        'UNAUTHORIZED',
        `login attempt to ${new URL('/v2/', this.base).href} failed with status: 401 Unauthorized`,
        401,
      );
    }
    if (res.status !== 200) {
      throw new RegistryRequestError(
        res.status,
        undefined,
        `${new URL('/v2/', this.base).href}: status ${res.status}`,
      );
    }
  }

  private async answer(challenges: Challenge[]): Promise<void> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      this.authHeader = `Bearer ${await this.token(bearer)}`;
      return;
    }
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (basic && this.auth?.username !== undefined) {
      this.authHeader = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password ?? ''}`).toString('base64')}`;
    }
  }

  /**
   * Docker's token flow: GET realm?service=&scope=… with Basic credentials (or anonymously); with an
   * identity token, the OAuth2 form POST grant_type=refresh_token instead.
   */
  private async token(ch: Challenge): Promise<string> {
    const realm = ch.params.realm;
    if (!realm)
      throw new RegistryRequestError(
        401,
        'UNAUTHORIZED',
        `${this.host}: bearer challenge without a realm`,
        401,
      );
    const scopes = new Set(this.scopes);
    if (ch.params.scope) for (const s of ch.params.scope.split(' ')) scopes.add(s);
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && `Bearer ${cached}` !== this.authHeader) return cached;
    const url = new URL(realm);
    const refresh = this.refreshToken;
    let req: HttpRequest;
    let what: string;
    if (refresh !== undefined) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh });
      if (ch.params.service) form.set('service', ch.params.service);
      if (scopes.size) form.set('scope', [...scopes].sort().join(' '));
      form.set('client_id', CLIENT_ID);
      req = {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: form.toString(),
      };
      what = `Post "${url.href}"`;
    } else {
      if (ch.params.service) url.searchParams.set('service', ch.params.service);
      for (const s of [...scopes].sort()) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (this.auth?.username !== undefined) {
        headers.Authorization = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password ?? ''}`).toString('base64')}`;
        if (this.offlineToken) {
          url.searchParams.set('offline_token', 'true');
          url.searchParams.set('client_id', CLIENT_ID);
        }
      }
      req = { headers };
      what = `Get "${url.href}"`;
    }
    let res: HttpResponse;
    try {
      res = await httpFetch(url, req, this.certsDir);
    } catch (err) {
      throw new RegistryRequestError(0, undefined, `${what}: ${(err as Error).message}`);
    }
    if (res.status !== 200) {
      const e = await errorFrom(res, what);
      if (res.status === 401) {
        const reason =
          refresh !== undefined ? 'invalid or expired identity token' : 'incorrect username or password';
        throw new RegistryRequestError(401, 'UNAUTHORIZED', `${what}: unauthorized: ${reason}`, 401);
      }
      throw e;
    }
    let token: string | undefined;
    try {
      const body = JSON.parse((await readBody(res.body, 1 << 20)).toString('utf8')) as {
        token?: string;
        access_token?: string;
        refresh_token?: string;
      };
      token = body.token || body.access_token;
      if (typeof body.refresh_token === 'string' && body.refresh_token)
        this.refreshToken = body.refresh_token;
    } catch {}
    if (!token)
      throw new RegistryRequestError(
        500,
        undefined,
        `${url.origin}${url.pathname}: token response has no token`,
      );
    this.tokens.set(key, token);
    return token;
  }
}
