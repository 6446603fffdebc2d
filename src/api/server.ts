// The HTTP server: version prefix negotiation, dispatch through the Router, Docker's error bodies, the
// built-in /_ping, unix socket setup, and the Upgrade path used by attach/exec.
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { BerthError, badRequest, messageOf, statusOf } from '../util/index.js';
import {
  API_VERSION,
  type ApiRequest,
  type ApiResult,
  compareVersions,
  type Handler,
  MAX_JSON_BODY,
  MIN_API_VERSION,
  Request,
} from './http.js';
import type { Router } from './router.js';
import { COMMON_HEADERS, stateOf } from './stream.js';

export interface ApiServerOptions {
  socketPath?: string;
  /** Permission bits of the unix socket (default 0o660). */
  socketMode?: number;
  /** Group (name or gid) that owns the unix socket; unset leaves it to the daemon's group. */
  socketGroup?: string | number;
  tcp?: { host: string; port: number };
  /** Called for every 5xx and for errors after a response started; defaults to console.error. */
  onError?: (err: unknown, req: { method: string; url: string }) => void;
}

export interface ApiServer {
  close(): Promise<void>;
  /** The bound TCP address when `tcp` was given (port 0 picks a free port). */
  tcpAddress?: { host: string; port: number };
  socketPath?: string;
}

const COMMON_ENTRIES = Object.entries(COMMON_HEADERS);
const VERSION_PREFIX = /^\/v([0-9.]+)(?=\/|$)/;

const ping: Handler = (req) => {
  const headers = {
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
    'Builder-Version': '1',
    Swarm: 'inactive',
    'Content-Type': 'text/plain; charset=utf-8',
  };
  if (req.method === 'HEAD') return { status: 200, headers: { ...headers, 'Content-Length': '0' } };
  return { status: 200, body: 'OK', headers };
};

/** Writes Docker's error body, or, when a response already started, ends it as well as it can. */
function sendError(req: ApiRequest | undefined, res: ServerResponse, err: unknown): void {
  const status = statusOf(err);
  const message = messageOf(err);
  const state = req ? stateOf(req) : undefined;
  if (state?.hijacked) {
    state.hijacked.destroy();
    return;
  }
  if (state?.json && !state.json.ended) {
    state.json.write({ errorDetail: { message }, error: message });
    state.json.end();
    return;
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${JSON.stringify({ message })}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

function sendResult(req: ApiRequest, res: ServerResponse, result: ApiResult, onError: (e: unknown) => void) {
  const state = stateOf(req);
  if (state.hijacked || state.json || res.headersSent || res.writableEnded) return;
  if (!result) {
    res.writeHead(204);
    res.end();
    return;
  }
  const headers = result.headers ?? {};
  if (result.stream) {
    const stream = result.stream;
    res.writeHead(result.status ?? 200, { 'Content-Type': 'application/octet-stream', ...headers });
    stream.on('error', (err) => {
      onError(err);
      res.destroy();
    });
    res.on('close', () => stream.destroy());
    stream.pipe(res);
    return;
  }
  let body: string | Buffer | undefined;
  let contentType = 'text/plain; charset=utf-8';
  if (result.json !== undefined) {
    body = `${JSON.stringify(result.json)}\n`;
    contentType = 'application/json';
  } else if (result.body !== undefined) {
    body = result.body;
  }
  if (body === undefined) {
    res.writeHead(result.status ?? 204, headers);
    res.end();
    return;
  }
  res.writeHead(result.status ?? 200, {
    'Content-Type': contentType,
    'Content-Length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

/** Handles one request end to end; never throws. */
async function dispatch(
  router: Router,
  raw: IncomingMessage,
  res: ServerResponse,
  onError: ApiServerOptions['onError'] & {},
  upgrade?: { socket: Duplex; head: Buffer; body: Buffer },
): Promise<void> {
  for (const [k, v] of COMMON_ENTRIES) res.setHeader(k, v);
  const url = raw.url ?? '/';
  const report = (err: unknown) => onError(err, { method: raw.method ?? '?', url });
  let req: ApiRequest | undefined;
  try {
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    let apiVersion = API_VERSION;
    const m = VERSION_PREFIX.exec(path);
    if (m) {
      apiVersion = m[1]!;
      path = path.slice(m[0].length) || '/';
      if (compareVersions(apiVersion, MIN_API_VERSION) < 0) {
        throw badRequest(
          `client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
        );
      }
      if (compareVersions(apiVersion, API_VERSION) > 0) {
        throw badRequest(
          `client version ${apiVersion} is too new. Maximum supported API version is ${API_VERSION}`,
        );
      }
    }
    const method = raw.method ?? 'GET';
    let found: ReturnType<Router['match']>;
    try {
      found = router.match(method, path);
    } catch {
      throw badRequest(`invalid path: ${path}`);
    }
    if (!found && path === '/_ping' && (method === 'GET' || method === 'HEAD')) {
      found = { handler: ping, params: {}, pattern: '/_ping' };
    }
    if (!found) throw new BerthError(404, 'page not found');
    req = new Request(raw, res, path, query, apiVersion, found.params, upgrade?.body);
    if (upgrade) stateOf(req).upgrade = { socket: upgrade.socket, head: upgrade.head };
    const result = await found.handler(req);
    sendResult(req, res, result, report);
  } catch (err) {
    const started = res.headersSent || (req !== undefined && stateOf(req).hijacked !== undefined);
    if (started || statusOf(err) >= 500) report(err);
    try {
      sendError(req, res, err);
    } catch (err2) {
      report(err2);
      res.destroy();
    }
  }
}

function defaultOnError(err: unknown, req: { method: string; url: string }): void {
  console.error(`api: ${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : err}`);
}

function resolveGroup(group: string | number): number {
  if (typeof group === 'number') return group;
  if (/^\d+$/.test(group)) return Number(group);
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === group);
  if (!line) throw new Error(`socket group ${group} does not exist (/etc/group)`);
  return Number(line.split(':')[2]);
}

/** Refuses to take over a socket someone answers on; removes a stale one. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another daemon is already listening on ${path}`);
  unlinkSync(path);
}

function listen(server: Server, target: string | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if (typeof target === 'string') server.listen(target, done);
    else server.listen(target.port, target.host, done);
  });
}

/**
 * Reads `length` bytes (starting with `head`) off a socket; the surplus is returned as `rest`. It reads in
 * paused mode ('readable'), so whatever the client sends next stays buffered for the handler's listeners.
 */
function readExactly(socket: Duplex, head: Buffer, length: number): Promise<{ body: Buffer; rest: Buffer }> {
  if (head.length >= length) {
    return Promise.resolve({ body: head.subarray(0, length), rest: head.subarray(length) });
  }
  return new Promise((resolve, reject) => {
    const chunks = [head];
    let size = head.length;
    const cleanup = () => {
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (size < length && (chunk = socket.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        size += chunk.length;
      }
      if (size < length) return;
      cleanup();
      const all = Buffer.concat(chunks, size);
      resolve({ body: all.subarray(0, length), rest: all.subarray(length) });
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('request body aborted by the client'));
    };
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
  });
}

function makeHttpServer(router: Router, onError: ApiServerOptions['onError'] & {}, upgraded: Set<Duplex>) {
  const server = createServer({ requestTimeout: 0, headersTimeout: 60_000 }, (raw, res) => {
    void dispatch(router, raw, res, onError);
  });
  server.keepAliveTimeout = 30_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const body = `${JSON.stringify({ message: `bad request: ${err.message}` })}\n`;
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  // `Connection: Upgrade` requests (attach, exec start) come here instead of 'request'. They are
  // dispatched like any other; the response object writes onto the raw socket until a handler hijacks it.
  server.on('upgrade', (raw: IncomingMessage, socket: Socket, head: Buffer) => {
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(raw);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.on('finish', () => {
      res.detachSocket(socket);
      socket.end();
    });
    // The parser stops at the head of an Upgrade request: its body (exec start's JSON) is still on the
    // socket, ahead of the client's stdin. Split it off by Content-Length.
    const length = Number(raw.headers['content-length'] ?? 0);
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_JSON_BODY) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    readExactly(socket, head, length).then(
      ({ body, rest }) => void dispatch(router, raw, res, onError, { socket, head: rest, body }),
      () => socket.destroy(),
    );
  });
  return server;
}

/** Starts serving the router on a unix socket and/or TCP. */
export async function createApiServer(router: Router, options: ApiServerOptions): Promise<ApiServer> {
  const onError = options.onError ?? defaultOnError;
  const servers: Server[] = [];
  const upgraded = new Set<Duplex>();
  const out: ApiServer = {
    async close() {
      for (const s of upgraded) s.destroy();
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
      // Only the socket we bound: a refused start must not remove another daemon's socket.
      if (out.socketPath && existsSync(out.socketPath)) {
        try {
          unlinkSync(out.socketPath);
        } catch {
          // already gone
        }
      }
    },
  };
  try {
    if (options.socketPath) {
      const path = options.socketPath;
      mkdirSync(dirname(path), { recursive: true });
      await clearStaleSocket(path);
      const server = makeHttpServer(router, onError, upgraded);
      await listen(server, path);
      servers.push(server);
      chmodSync(path, options.socketMode ?? 0o660);
      if (options.socketGroup !== undefined)
        chownSync(path, process.getuid?.() ?? 0, resolveGroup(options.socketGroup));
      out.socketPath = path;
    }
    if (options.tcp) {
      const server = makeHttpServer(router, onError, upgraded);
      await listen(server, options.tcp);
      servers.push(server);
      const addr = server.address();
      if (addr && typeof addr === 'object') out.tcpAddress = { host: addr.address, port: addr.port };
    }
  } catch (err) {
    await out.close();
    throw err;
  }
  if (servers.length === 0) throw new Error('createApiServer: give a socketPath or a tcp address');
  return out;
}
