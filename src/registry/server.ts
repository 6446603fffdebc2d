// The registry HTTP(S) server: routing, authorization per route, request logging, shutdown.
import { readFile, stat } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type Access, createAuthenticator } from './auth.js';
import * as blobs from './blob-routes.js';
import { DEFAULT_ADDR, parseAddr, type RegistryConfig, resolveLimits } from './config.js';
import type { RegistryParts, RequestContext } from './context.js';
import { regError } from './errors.js';
import { API_VERSION, API_VERSION_HEADER, matchRoute, type Route, sendError, sendJson } from './http.js';
import * as manifests from './manifest-routes.js';
import { checkName } from './names.js';
import { Storage } from './storage.js';
import { Uploads } from './uploads.js';

export interface RunningRegistry {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** host:port actually listened on. */
  addr: string;
  /** Stops accepting connections, lets in-flight requests finish (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

const READ = new Set(['GET', 'HEAD']);

/** The actions a route needs for a method, or null when the method is not allowed there. */
function neededAccess(route: Route, method: string): Access[] | null {
  const repo = (name: string, actions: string[]): Access[] => [{ type: 'repository', name, actions }];
  switch (route.kind) {
    case 'base':
      return READ.has(method) ? [] : null;
    case 'catalog':
      return READ.has(method) ? [{ type: 'registry', name: 'catalog', actions: ['*'] }] : null;
    case 'tags':
    case 'referrers':
      return READ.has(method) ? repo(route.name, ['pull']) : null;
    case 'manifest':
    case 'blob':
      if (READ.has(method)) return repo(route.name, ['pull']);
      if (method === 'DELETE') return repo(route.name, ['delete']);
      if (method === 'PUT' && route.kind === 'manifest') return repo(route.name, ['pull', 'push']);
      return null;
    case 'uploadStart':
      return method === 'POST' ? repo(route.name, ['pull', 'push']) : null;
    case 'upload':
      return ['GET', 'PATCH', 'PUT', 'DELETE'].includes(method) ? repo(route.name, ['pull', 'push']) : null;
    default:
      return null;
  }
}

async function dispatch(ctx: RequestContext, route: Route): Promise<void> {
  const method = ctx.req.method ?? 'GET';
  switch (route.kind) {
    case 'base':
      return sendJson(ctx.res, 200, {});
    case 'catalog':
      return manifests.catalog(ctx);
    case 'tags':
      return manifests.listTags(ctx, route.name);
    case 'referrers':
      return manifests.listReferrers(ctx, route.name, route.digest);
    case 'manifest':
      if (READ.has(method)) return manifests.getManifest(ctx, route.name, route.ref);
      if (method === 'PUT') return manifests.putManifest(ctx, route.name, route.ref);
      return manifests.deleteManifest(ctx, route.name, route.ref);
    case 'blob':
      if (READ.has(method)) return blobs.getBlob(ctx, route.name, route.digest);
      return blobs.deleteBlob(ctx, route.name, route.digest);
    case 'uploadStart':
      return blobs.startUpload(ctx, route.name);
    case 'upload':
      if (method === 'GET') return blobs.uploadStatus(ctx, route.name, route.id);
      if (method === 'PATCH') return blobs.patchUpload(ctx, route.name, route.id);
      if (method === 'PUT') return blobs.putUpload(ctx, route.name, route.id);
      return blobs.cancelUpload(ctx, route.name, route.id);
  }
}

async function tokenEndpoint(parts: RegistryParts, req: IncomingMessage, res: ServerResponse, url: URL) {
  if (!parts.auth?.issueToken) throw regError('UNSUPPORTED', 'token auth is not enabled', { status: 404 });
  let params = url.searchParams;
  if (req.method === 'POST') {
    // OAuth2 password grant (docker login with --password-stdin and identity tokens post a form).
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const c of req) {
      total += (c as Buffer).length;
      if (total > 64 * 1024) throw regError('SIZE_INVALID', 'token request too large', { status: 413 });
      chunks.push(c as Buffer);
    }
    params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  } else if (req.method !== 'GET') throw regError('UNSUPPORTED', `${req.method} /token is not supported`);
  sendJson(res, 200, await parts.auth.issueToken(req, params));
}

export async function startRegistry(config: RegistryConfig): Promise<RunningRegistry> {
  const storage = new Storage(config.root);
  await storage.init();
  const limits = resolveLimits(config.limits);
  const uploads = new Uploads(storage, limits.maxBlobSize);
  const parts: RegistryParts = {
    storage,
    uploads,
    auth: await createAuthenticator(config.auth),
    limits,
    deleteEnabled: config.deleteEnabled ?? true,
    log: config.log,
  };
  const scheme = config.tls ? 'https' : 'http';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.setHeader(API_VERSION_HEADER, API_VERSION);
    const url = new URL(req.url ?? '/', 'http://registry.invalid');
    const route = matchRoute(url.pathname);
    if (!route) throw regError('UNSUPPORTED', `no such endpoint ${url.pathname}`, { status: 404 });
    if (route.kind === 'token') return tokenEndpoint(parts, req, res, url);
    if (route.kind === 'health') {
      await stat(storage.blobsDir);
      return sendJson(res, 200, {});
    }
    const method = req.method ?? 'GET';
    const needed = neededAccess(route, method);
    if (needed === null) throw regError('UNSUPPORTED', `${method} is not allowed on ${url.pathname}`);
    if ('name' in route) checkName(route.name);
    const authCtx = { baseUrl: `${scheme}://${req.headers.host ?? 'localhost'}` };
    if (parts.auth) await parts.auth.authorize(req, needed, authCtx);
    await dispatch({ ...parts, req, res, url, authCtx }, route);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    if (config.log) {
      res.on('finish', () =>
        config.log?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`),
      );
    }
    handle(req, res).catch((err) => sendError(req, res, err, config.log));
  };

  // Uploads may run for a long time: no overall request timeout, only a generous header timeout.
  const options = { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 };
  const server: Server = config.tls
    ? createHttpsServer(
        { ...options, cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) },
        onRequest,
      )
    : createHttpServer(options, onRequest);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await uploads.purgeExpired(limits.uploadTTL);
  const purgeTimer = setInterval(() => {
    uploads.purgeExpired(limits.uploadTTL).catch((err) => config.log?.(`registry: purge failed: ${err}`));
  }, Math.min(limits.uploadTTL, 600) * 1000);
  purgeTimer.unref();

  const { host, port } = parseAddr(config.addr ?? DEFAULT_ADDR);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const addr = `${hostPart}:${address.port}`;

  let closing: Promise<void> | undefined;
  const close = (graceMs = 10_000): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      clearInterval(purgeTimer);
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  return { url: `${scheme}://${addr}`, addr, close };
}
