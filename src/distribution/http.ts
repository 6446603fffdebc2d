// Minimal HTTP(S) client for registries: keep-alive agents per host (with the host's own CA from
// /etc/berth/certs.d/<host>/ca.crt), redirects followed for reads, bodies as streams.
import { existsSync, readFileSync } from 'node:fs';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';

export const CERTS_DIR = '/etc/berth/certs.d';

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  signal?: AbortSignal;
  /** Redirects to follow for GET/HEAD (blob downloads go to storage backends). */
  maxRedirects?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** The URL finally answered (after redirects). */
  url: URL;
}

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
const httpsAgents = new Map<string, HttpsAgent>();

/** An https agent trusting the system roots plus the host's CA file when present. */
function httpsAgent(host: string, certsDir: string): HttpsAgent {
  const key = `${certsDir}|${host}`;
  let agent = httpsAgents.get(key);
  if (!agent) {
    const caFile = join(certsDir, host, 'ca.crt');
    const ca = existsSync(caFile) ? [...rootCertificates, readFileSync(caFile, 'utf8')] : undefined;
    agent = new HttpsAgent({ keepAlive: true, maxSockets: 16, ...(ca ? { ca } : {}) });
    httpsAgents.set(key, agent);
  }
  return agent;
}

export function httpFetch(url: URL, req: HttpRequest = {}, certsDir = CERTS_DIR): Promise<HttpResponse> {
  const method = req.method ?? 'GET';
  return new Promise<HttpResponse>((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    const send = isHttps ? httpsRequest : httpRequest;
    const r = send(
      url,
      {
        method,
        headers: req.headers ?? {},
        agent: isHttps ? httpsAgent(url.host, certsDir) : httpAgent,
        ...(req.signal ? { signal: req.signal } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const loc = res.headers.location;
        const redirects = req.maxRedirects ?? (method === 'GET' || method === 'HEAD' ? 5 : 0);
        if ([301, 302, 303, 307, 308].includes(status) && loc && redirects > 0) {
          res.resume();
          const next = new URL(loc, url);
          const headers = { ...(req.headers ?? {}) };
          // Credentials are for the registry, not for the storage backend it redirects to.
          if (next.host !== url.host) delete headers.Authorization;
          httpFetch(next, { ...req, headers, maxRedirects: redirects - 1 }, certsDir).then(resolve, reject);
          return;
        }
        resolve({ status, headers: res.headers, body: res, url });
      },
    );
    r.on('error', reject);
    const body = req.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) r.end(body);
    else {
      body.on('error', (err) => r.destroy(err));
      body.pipe(r);
    }
  });
}

/** Reads a response body up to `limit` bytes (manifests, tokens, error bodies). */
export async function readBody(res: IncomingMessage, limit = 8 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res) {
    size += (c as Buffer).length;
    if (size > limit) {
      res.destroy();
      throw new Error(`response body larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/** One header value as a string. */
export function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
