// The transport of the Engine API client: requests over a unix socket or TCP, version negotiation through
// /_ping, typed errors carrying the daemon's message, newline-delimited JSON streams and hijacked streams.
import {
  Agent,
  type ClientRequest,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { BerthError } from '../util/index.js';

/** The highest API version this client speaks; it negotiates down to an older daemon's. */
export const CLIENT_API_VERSION = '1.47';
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

export type HostAddress = { socketPath: string } | { host: string; port: number };

/** Parses `unix:///path`, `tcp://host:port`, `http://host:port` or a bare socket path. */
export function parseHost(value: string): HostAddress {
  if (value.startsWith('unix://')) {
    const socketPath = value.slice('unix://'.length);
    if (!socketPath) throw new BerthError(400, `invalid host ${value}: empty socket path`);
    return { socketPath };
  }
  if (value.startsWith('/')) return { socketPath: value };
  const m = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(value);
  if (!m) throw new BerthError(400, `invalid host ${value}: expected unix:///path or tcp://host:port`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 2375 };
}

/** BERTH_HOST, then DOCKER_HOST, then berth's default socket. */
export function hostFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.BERTH_HOST || env.DOCKER_HOST || DEFAULT_HOST;
}

/** The daemon answered with an error status; `message` is the daemon's own. */
export class EngineError extends BerthError {
  readonly method: string;
  readonly path: string;
  constructor(status: number, message: string, method: string, path: string) {
    super(status, message);
    this.name = 'EngineError';
    this.method = method;
    this.path = path;
  }
}

/** Nothing answers at the host address (the CLI starts a daemon on this). */
export class DaemonUnreachableError extends BerthError {
  readonly host: string;
  constructor(host: string, cause: unknown) {
    super(503, `Cannot connect to the daemon at ${host}. Is the daemon running?`, { cause });
    this.name = 'DaemonUnreachableError';
    this.host = host;
  }
}

export type QueryValue = string | number | boolean | undefined | null | string[] | Record<string, unknown>;
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  /** A plain value is sent as JSON; a Buffer/string/Readable as is (a tar, a build context). */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Prefix the path with /vX.Y (default true). */
  versioned?: boolean;
}

export interface EngineResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as a stream; consume it or call text()/json() exactly once. */
  stream: IncomingMessage;
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
}

export interface PingResult {
  apiVersion: string;
  osType?: string;
  experimental: boolean;
  builderVersion?: string;
}

/** Encodes query values as the docker CLI does: booleans as 1/0, objects as JSON, lists repeated. */
export function encodeQuery(query: Query | undefined): string {
  if (!query) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v) q.append(k, item);
    else if (typeof v === 'boolean') q.set(k, v ? '1' : '0');
    else if (typeof v === 'object') q.set(k, JSON.stringify(v));
    else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Docker's filters in the map-of-bools form the docker CLI sends; undefined when empty. */
export function encodeFilters(
  filters: Record<string, string | string[]> | undefined,
): Record<string, Record<string, boolean>> | undefined {
  if (!filters) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const [k, v] of Object.entries(filters)) {
    const values = Array.isArray(v) ? v : [v];
    if (values.length === 0) continue;
    out[k] = Object.fromEntries(values.map((x) => [x, true]));
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function collect(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** The daemon's `message` from an error body, or the body itself. */
function errorMessage(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed?.message === 'string') return parsed.message;
  } catch {
    // not JSON
  }
  return body.trim() || `HTTP ${status}`;
}

export interface EngineClientOptions {
  /** unix:///path, tcp://host:port or a socket path; defaults to BERTH_HOST / DOCKER_HOST / berth's socket. */
  host?: string;
  /** Use this API version and skip negotiation. */
  version?: string;
}

/** Methods a request may be re-sent with when its keep-alive socket was found dead. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** How a socket the server closed while idle fails when reused: the write or the read hits the close. */
const STALE_CODES = new Set(['ECONNRESET', 'EPIPE']);
/** Each retry takes another pooled socket (or a new one); all 16 pooled ones may be stale. */
const MAX_STALE_RETRIES = 16;
/** Idle sockets are dropped after this long unless the server announces a shorter keep-alive timeout. */
export const IDLE_SOCKET_TIMEOUT_MS = 4000;

class StaleSocketError extends Error {
  override readonly cause: Error;
  constructor(cause: Error) {
    super(`reused connection failed: ${cause.message}`);
    this.cause = cause;
  }
}

/**
 * Keeps sockets alive between requests, but closes an idle one before the server would: a second under
 * the server's announced `Keep-Alive: timeout=N`, and after IDLE_SOCKET_TIMEOUT_MS at most (dockerd
 * announces nothing). Node's agent honours the hint only when given a socket timeout, which would also
 * apply to long-lived streams (logs -f, events, attach); here the timeout covers idle time only.
 */
class KeepAliveAgent extends Agent {
  constructor() {
    super({ keepAlive: true, maxSockets: 16 });
  }

  override keepSocketAlive(socket: Socket): boolean {
    socket.setKeepAlive(true, 1000);
    socket.unref();
    const res = (socket as Socket & { _httpMessage?: { res?: IncomingMessage } })._httpMessage?.res;
    const hint = /^timeout=(\d+)/.exec(String(res?.headers['keep-alive'] ?? ''))?.[1];
    const idle =
      hint === undefined
        ? IDLE_SOCKET_TIMEOUT_MS
        : Math.min(IDLE_SOCKET_TIMEOUT_MS, Number(hint) * 1000 - 1000);
    if (idle <= 0) return false;
    // The agent destroys a free socket on 'timeout'.
    socket.setTimeout(idle);
    return true;
  }

  override reuseSocket(socket: Socket, req: ClientRequest): void {
    socket.setTimeout(0);
    super.reuseSocket(socket, req);
  }
}

export class EngineTransport {
  readonly host: string;
  readonly address: HostAddress;
  private readonly agent: Agent;
  private version?: string;
  private negotiating?: Promise<string>;

  constructor(options: EngineClientOptions = {}) {
    this.host = options.host ?? hostFromEnv();
    this.address = parseHost(this.host);
    this.version = options.version;
    this.agent = new KeepAliveAgent();
  }

  /** Closes idle keep-alive connections (so a CLI process can exit at once). */
  close(): void {
    this.agent.destroy();
  }

  /** GET /_ping (unversioned). Negotiates the API version as a side effect. */
  async ping(signal?: AbortSignal): Promise<PingResult> {
    const res = await this.raw('GET', '/_ping', { versioned: false, signal });
    await res.text();
    const header = (name: string) => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const server = header('api-version') || '1.24';
    if (!this.version) this.version = minVersion(server, CLIENT_API_VERSION);
    return {
      apiVersion: server,
      osType: header('ostype'),
      experimental: header('docker-experimental') === 'true',
      builderVersion: header('builder-version'),
    };
  }

  /** The version used as the path prefix: fixed, or negotiated once through ping. */
  async apiVersion(): Promise<string> {
    if (this.version) return this.version;
    this.negotiating ??= this.ping().then(
      () => this.version!,
      (err) => {
        this.negotiating = undefined;
        throw err;
      },
    );
    return this.negotiating;
  }

  /**
   * A request whose error statuses are returned, not thrown. An idempotent request whose reused
   * keep-alive socket turns out dead before any response byte (the daemon closed it while idle) is sent
   * again on another socket: the daemon never saw it.
   */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<EngineResponse> {
    const prefix = opts.versioned === false ? '' : `/v${await this.apiVersion()}`;
    const fullPath = `${prefix}${path}${encodeQuery(opts.query)}`;
    const headers: Record<string, string> = { ...opts.headers };
    let body: Buffer | string | Readable | undefined;
    const b = opts.body;
    if (b instanceof Readable) body = b;
    else if (Buffer.isBuffer(b) || typeof b === 'string') body = b;
    else if (b !== undefined) {
      body = JSON.stringify(b);
      headers['Content-Type'] ??= 'application/json';
    }
    if (typeof body === 'string' || Buffer.isBuffer(body))
      headers['Content-Length'] = String(Buffer.byteLength(body));
    // A streamed body cannot be sent twice.
    const retriable = IDEMPOTENT.has(method) && !(body instanceof Readable);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send1(method, path, fullPath, headers, body, opts.signal);
      } catch (err) {
        if (!(err instanceof StaleSocketError)) throw err;
        if (!retriable || attempt >= MAX_STALE_RETRIES) throw err.cause;
      }
    }
  }

  /** One HTTP exchange; a dead reused socket rejects with StaleSocketError. */
  private send1(
    method: string,
    path: string,
    fullPath: string,
    headers: Record<string, string>,
    body: Buffer | string | Readable | undefined,
    signal: AbortSignal | undefined,
  ): Promise<EngineResponse> {
    const target =
      'socketPath' in this.address
        ? // servername '' keeps the agent from deriving a TLS server name from the Host header: that
          // check (net.isIP) compiles a large regular expression, ~10 ms of every CLI start.
          { socketPath: this.address.socketPath, servername: '' }
        : { host: this.address.host, port: this.address.port };
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          ...target,
          method,
          path: fullPath,
          headers: { Host: 'docker', ...headers },
          agent: this.agent,
          signal,
        },
        (res) => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            stream: res,
            text: async () => (await collect(res)).toString('utf8'),
            json: async <T>() => {
              const text = (await collect(res)).toString('utf8');
              try {
                return JSON.parse(text) as T;
              } catch (err) {
                throw new EngineError(
                  502,
                  `invalid JSON from daemon for ${method} ${path}: ${(err as Error).message}`,
                  method,
                  path,
                );
              }
            },
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK'].includes(err.code ?? '')) {
          reject(new DaemonUnreachableError(this.host, err));
        } else if (req.reusedSocket && STALE_CODES.has(err.code ?? '') && !signal?.aborted) {
          // The response callback has not run (the promise would be settled): no response byte came.
          reject(new StaleSocketError(err));
        } else reject(err);
      });
      if (body instanceof Readable) {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      } else req.end(body);
    });
  }

  /** A request that throws EngineError for statuses ≥ 400. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<EngineResponse> {
    const res = await this.raw(method, path, opts);
    if (res.status >= 400) {
      const text = method === 'HEAD' ? '' : await res.text();
      throw new EngineError(res.status, errorMessage(res.status, text), method, path);
    }
    return res;
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    return (await this.request(method, path, opts)).json<T>();
  }

  /** A request whose (empty or ignored) body is drained. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<void> {
    const res = await this.request(method, path, opts);
    res.stream.resume();
    await new Promise<void>((resolve) => {
      if (res.stream.complete) resolve();
      else res.stream.once('end', resolve).once('close', resolve);
    });
  }

  /**
   * Newline-delimited JSON objects from a streaming endpoint (pull/push/build progress, events, stats).
   * A `{"error": …}` / `{"errorDetail": …}` object throws EngineError unless `yieldErrors` is set.
   */
  async *jsonStream<T>(
    method: string,
    path: string,
    opts: RequestOptions & { yieldErrors?: boolean } = {},
  ): AsyncGenerator<T> {
    const res = await this.request(method, path, opts);
    let buf = '';
    const parse = (line: string): T | undefined => {
      const trimmed = line.trim();
      if (!trimmed) return undefined;
      let obj: unknown;
      try {
        obj = JSON.parse(trimmed);
      } catch (err) {
        throw new EngineError(
          502,
          `invalid JSON in stream from ${path}: ${(err as Error).message}`,
          method,
          path,
        );
      }
      if (!opts.yieldErrors && obj && typeof obj === 'object') {
        const e = obj as { error?: unknown; errorDetail?: { message?: unknown } };
        if (e.errorDetail || e.error) {
          const message = String(e.errorDetail?.message ?? e.error);
          throw new EngineError(500, message, method, path);
        }
      }
      return obj as T;
    };
    try {
      for await (const chunk of res.stream) {
        buf += (chunk as Buffer).toString('utf8');
        let nl = buf.indexOf('\n');
        while (nl !== -1) {
          const obj = parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (obj !== undefined) yield obj;
          nl = buf.indexOf('\n');
        }
      }
      const last = parse(buf);
      if (last !== undefined) yield last;
    } catch (err) {
      // An abort surfaces as a socket error; report it as the abort it is.
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw err;
    } finally {
      if (!res.stream.complete) res.stream.destroy();
    }
  }

  /**
   * Opens a hijacked connection (attach, exec start): sends `Connection: Upgrade` + `Upgrade: tcp` and
   * returns the raw socket once the daemon answered 101 (or 200, old daemons). The socket is half-open:
   * `end()` closes stdin and output keeps flowing.
   */
  async hijack(path: string, opts: { query?: Query; body?: unknown } = {}): Promise<HijackedStream> {
    const version = await this.apiVersion();
    const payload = opts.body === undefined ? '' : JSON.stringify(opts.body);
    const head =
      `POST /v${version}${path}${encodeQuery(opts.query)} HTTP/1.1\r\nHost: docker\r\n` +
      'Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`;
    const socket: Socket =
      'socketPath' in this.address
        ? connect({ path: this.address.socketPath, allowHalfOpen: true })
        : connect({ host: this.address.host, port: this.address.port, allowHalfOpen: true });
    return new Promise((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const fail = (err: unknown) => {
        socket.destroy();
        reject(err);
      };
      const onError = (err: NodeJS.ErrnoException) =>
        fail(
          ['ENOENT', 'ECONNREFUSED'].includes(err.code ?? '')
            ? new DaemonUnreachableError(this.host, err)
            : err,
        );
      const onEnd = () => onData(Buffer.alloc(0), true);
      const onData = (chunk: Buffer, ended = false) => {
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) {
          if (ended)
            fail(new EngineError(502, `connection closed before a response to POST ${path}`, 'POST', path));
          return;
        }
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(lines[0]!.split(' ')[1]);
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const rest = buf.subarray(end + 4);
        if (status >= 400) {
          const len = Number(headers['content-length'] ?? Number.NaN);
          if (!ended && (Number.isNaN(len) ? true : rest.length < len)) return; // wait for the error body
          fail(new EngineError(status, errorMessage(status, rest.toString('utf8')), 'POST', path));
          return;
        }
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('end', onEnd);
        if (rest.length > 0) socket.unshift(rest);
        const stream = socket as HijackedStream;
        stream.contentType = headers['content-type'] ?? 'application/vnd.docker.raw-stream';
        stream.status = status;
        resolve(stream);
      };
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('end', onEnd);
      socket.write(head);
    });
  }
}

/** The socket of an attach/exec stream, with what the daemon said about it. */
export type HijackedStream = Socket & { contentType: string; status: number };

function minVersion(a: string, b: string): string {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? a : b;
  }
  return a;
}
