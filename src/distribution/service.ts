// The registry client as the daemon uses it: pull, push, login checks and distribution inspect.
import { join } from 'node:path';
import {
  familiarName,
  type ImageConfig,
  type ImageService,
  isIndexType,
  type Platform,
  parseNormalized,
} from '../images/index.js';
import { badRequest } from '../util/index.js';
import type { RegistryAuth } from './credentials.js';
import { CERTS_DIR, readBody } from './http.js';
import { fetchManifest, parseIndex, parseManifest } from './manifests.js';
import { type Progress, type PullOptions, type PullResult, pullImage } from './pull.js';
import { type PushOptions, type PushResult, pushImage } from './push.js';
import { errorFrom, RegistrySession } from './session.js';
import { BlobSources } from './sources.js';

export interface DistributionOptions {
  images: ImageService;
  /** Registries reached over plain http besides localhost and 127.0.0.0/8 (host[:port] or CIDR). */
  insecureRegistries?: readonly string[];
  /** Per-registry CA files: <certsDir>/<host[:port]>/ca.crt. */
  certsDir?: string;
  /** Parallel layer transfers; default 3. */
  concurrency?: number;
  /** Waits between download attempts; default 1 s, 2 s, 4 s, 8 s (5 attempts). */
  retryDelays?: readonly number[];
  /** Blobs up to this size are uploaded in one PUT, larger ones in chunks this big; default 32 MiB. */
  chunkSize?: number;
}

export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number };
  Platforms: Platform[];
}

export class Distribution {
  private readonly images: ImageService;
  private readonly insecure: readonly string[];
  private readonly certsDir: string;
  private readonly concurrency: number;
  private readonly retryDelays: readonly number[];
  private readonly chunkSize: number;
  private readonly sources: BlobSources;

  constructor(opts: DistributionOptions) {
    this.images = opts.images;
    this.insecure = opts.insecureRegistries ?? [];
    this.certsDir = opts.certsDir ?? CERTS_DIR;
    this.concurrency = opts.concurrency ?? 3;
    this.retryDelays = opts.retryDelays ?? [1000, 2000, 4000, 8000];
    this.chunkSize = opts.chunkSize ?? 32 * 1024 * 1024;
    this.sources = new BlobSources(join(opts.images.dataRoot, 'distribution', 'blob-sources.json'));
  }

  session(host: string, auth: RegistryAuth | undefined): RegistrySession {
    return new RegistrySession({ host, auth, insecureRegistries: this.insecure, certsDir: this.certsDir });
  }

  private ctx() {
    return {
      images: this.images,
      session: (host: string, auth: RegistryAuth | undefined) => this.session(host, auth),
      sources: this.sources,
      concurrency: this.concurrency,
      retryDelays: this.retryDelays,
      chunkSize: this.chunkSize,
    };
  }

  pull(ref: string, opts: PullOptions = {}): Promise<PullResult[]> {
    return pullImage(this.ctx(), ref, opts);
  }

  push(name: string, tag: string | undefined, opts: PushOptions = {}): Promise<PushResult[]> {
    return pushImage(this.ctx(), name, tag, opts);
  }

  /** POST /auth: checks credentials against the registry's /v2/ (and its token service). */
  async login(auth: RegistryAuth): Promise<{ Status: string; IdentityToken: string }> {
    const host = loginHost(auth.serveraddress);
    // As Docker: ask for offline access, so a token service may hand back a refresh token that the
    // client keeps (as `identitytoken`) instead of the password.
    const session = new RegistrySession({
      host,
      auth,
      insecureRegistries: this.insecure,
      certsDir: this.certsDir,
      offlineToken: true,
    });
    await session.ping();
    const identity = session.identityToken;
    return {
      Status: 'Login Succeeded',
      IdentityToken: identity && identity !== auth.identitytoken ? identity : '',
    };
  }

  /** GET /distribution/{name}/json: the manifest descriptor and the platforms it offers. */
  async inspect(name: string, auth?: RegistryAuth): Promise<DistributionInspect> {
    const ref = parseNormalized(name);
    if (!ref.tag && !ref.digest) ref.tag = 'latest';
    const session = this.session(ref.domain, auth);
    session.addScope(`repository:${ref.path}:pull`);
    const top = await fetchManifest(session, ref.path, ref.digest ?? ref.tag!, familiarName(ref));
    const Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length };
    if (isIndexType(top.mediaType)) {
      const index = parseIndex(top);
      return { Descriptor, Platforms: index.manifests.flatMap((m) => (m.platform ? [m.platform] : [])) };
    }
    const manifest = parseManifest(top);
    const res = await session.fetch(`/v2/${ref.path}/blobs/${manifest.config.digest}`);
    if (res.status !== 200) throw await errorFrom(res, `blob ${manifest.config.digest}`);
    const cfg = JSON.parse((await readBody(res.body, 8 << 20)).toString('utf8')) as ImageConfig;
    const p: Platform = { architecture: cfg.architecture, os: cfg.os };
    if (cfg.variant) p.variant = cfg.variant;
    return { Descriptor, Platforms: [p] };
  }
}

/** `serveraddress` of a login → a registry host (`https://index.docker.io/v1/` → docker.io). */
export function loginHost(server: string | undefined): string {
  if (
    !server ||
    server === 'https://index.docker.io/v1/' ||
    /^(https?:\/\/)?(index|registry-1)\.docker\.io/.test(server)
  ) {
    return 'docker.io';
  }
  const host = server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (!host) throw badRequest(`invalid registry address "${server}"`);
  return host;
}

export type { Progress, PullOptions, PullResult, PushOptions, PushResult };
