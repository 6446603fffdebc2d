// Helpers for the registry tests: a server on an ephemeral loopback port with its own root, raw HTTP
// requests (full control over headers and bodies), pushing blobs and manifests, listing storage.
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { join, relative } from 'node:path';
import { type RegistryConfig, type RunningRegistry, startRegistry } from '../../../src/registry/index.js';
import { tempDir } from '../../helpers/index.js';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json: () => unknown;
  /** The first error code of a spec error body. */
  code: () => string | undefined;
}

export interface ReqOptions {
  method?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
}

export function req(base: string, path: string, opts: ReqOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const r = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const json = () => JSON.parse(body.toString('utf8')) as unknown;
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json,
          code: () => (json() as { errors?: { code: string }[] }).errors?.[0]?.code,
        });
      });
    });
    r.on('error', reject);
    r.end(opts.body);
  });
}

export const digestOf = (data: string | Buffer) =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface TestRegistry {
  reg: RunningRegistry;
  url: string;
  root: string;
  close: () => Promise<void>;
}

export async function startTestRegistry(extra: Partial<RegistryConfig> = {}): Promise<TestRegistry> {
  const dir = tempDir('berth-registry-');
  let reg: RunningRegistry;
  try {
    reg = await startRegistry({ root: dir.path, addr: '127.0.0.1:0', ...extra });
  } catch (err) {
    dir.cleanup();
    throw err;
  }
  return {
    reg,
    url: reg.url,
    root: dir.path,
    close: async () => {
      await reg.close(1000);
      dir.cleanup();
    },
  };
}

/** Monolithic upload; returns the digest. */
export async function pushBlob(
  url: string,
  name: string,
  data: string | Buffer,
  headers: Record<string, string> = {},
): Promise<string> {
  const digest = digestOf(data);
  const r = await req(url, `/v2/${name}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: data,
    headers: { 'Content-Type': 'application/octet-stream', ...headers },
  });
  if (r.status !== 201) throw new Error(`pushBlob ${name}: ${r.status} ${r.body}`);
  return digest;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** Pushes a config and one layer and returns an image manifest (not pushed) referencing them. */
export async function makeImage(
  url: string,
  name: string,
  seed: string,
): Promise<{
  manifest: Record<string, unknown>;
  bytes: Buffer;
  digest: string;
  layer: string;
  config: string;
}> {
  const configBytes = JSON.stringify({ architecture: 'amd64', os: 'linux', seed });
  const layerBytes = Buffer.from(`layer-${seed}`);
  const config = await pushBlob(url, name, configBytes);
  const layer = await pushBlob(url, name, layerBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: config,
      size: configBytes.length,
    },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: layerBytes.length }],
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { manifest, bytes, digest: digestOf(bytes), layer, config };
}

export async function putManifest(
  url: string,
  name: string,
  ref: string,
  bytes: Buffer | string,
  mediaType = OCI_MANIFEST,
): Promise<Reply> {
  return req(url, `/v2/${name}/manifests/${ref}`, {
    method: 'PUT',
    body: bytes,
    headers: { 'Content-Type': mediaType },
  });
}

/** Every regular file below `dir`, relative to it, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}
