// Push: every blob checked with HEAD first, mounted from another repository of the same registry when
// one is known to hold it, else uploaded (one PUT for small blobs, PATCH chunks for large ones); then
// the image's manifest bytes PUT unchanged, so digests round-trip with the registry it came from.
import { createReadStream } from 'node:fs';
import {
  familiarName,
  formatReference,
  fullName,
  type ImageRecord,
  type ImageService,
  type Manifest,
  MediaType,
  parseNormalized,
  type Reference,
} from '../images/index.js';
import { BerthError, badRequest, mapLimit, notFound, sha256 } from '../util/index.js';
import type { RegistryAuth } from './credentials.js';
import { header } from './http.js';
import type { Progress } from './pull.js';
import { errorFrom, RegistryRequestError, type RegistrySession } from './session.js';
import type { BlobSources } from './sources.js';
import { ByteCounter, shortDigest, sleep } from './util.js';

export interface PushContext {
  images: ImageService;
  session(host: string, auth: RegistryAuth | undefined): RegistrySession;
  sources: BlobSources;
  concurrency: number;
  /** Waits between attempts of a blob upload whose connection dropped. */
  retryDelays: readonly number[];
  /** Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size. */
  chunkSize: number;
}

export interface PushOptions {
  auth?: RegistryAuth;
  progress?: Progress;
}

export interface PushResult {
  tag: string;
  digest: string;
  size: number;
}

/** `docker push name[:tag]`; without a tag, every local tag of the repository. */
export async function pushImage(
  ctx: PushContext,
  name: string,
  tag: string | undefined,
  opts: PushOptions = {},
): Promise<PushResult[]> {
  const ref = parseNormalized(name);
  if (ref.digest) throw badRequest('cannot push a digest reference');
  const wantTag = tag || ref.tag;
  const repo: Reference = { domain: ref.domain, path: ref.path };
  const progress = opts.progress ?? (() => {});
  const targets: { tag: string; rec: ImageRecord }[] = [];
  if (wantTag) {
    const full = formatReference({ ...repo, tag: wantTag });
    const rec = ctx.images.records.byTag(full);
    if (!rec) throw notFound(`tag does not exist: ${familiarName(repo)}:${wantTag}`);
    targets.push({ tag: wantTag, rec });
  } else {
    const prefix = `${fullName(repo)}:`;
    for (const rec of ctx.images.records.all()) {
      for (const t of rec.repoTags)
        if (t.startsWith(prefix)) targets.push({ tag: t.slice(prefix.length), rec });
    }
    targets.sort((a, b) => a.tag.localeCompare(b.tag));
    if (targets.length === 0)
      throw notFound(`An image does not exist locally with the tag: ${familiarName(repo)}`);
  }
  progress({ status: `The push refers to repository [${fullName(repo)}]` });
  const session = ctx.session(repo.domain, opts.auth);
  session.addScope(`repository:${repo.path}:pull,push`);
  const out: PushResult[] = [];
  for (const t of targets) out.push(await pushTag(ctx, session, repo, t.tag, t.rec, progress));
  return out;
}

async function pushTag(
  ctx: PushContext,
  session: RegistrySession,
  repo: Reference,
  tag: string,
  rec: ImageRecord,
  progress: Progress,
): Promise<PushResult> {
  const { blobs } = ctx.images;
  const bytes = await blobs.readBytes(rec.manifestDigest);
  const manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
  const config = await ctx.images.getConfig(rec);
  const diffIds = config.rootfs.diff_ids;
  for (const l of manifest.layers) {
    if (!(await blobs.has(l.digest))) {
      throw notFound(
        `layer blob ${l.digest} of ${familiarName(repo)}:${tag} is not in the local store; cannot push it`,
      );
    }
  }
  const ids = manifest.layers.map((l, i) => shortDigest(diffIds[i] ?? l.digest));
  // Docker lists layers top first.
  for (let i = manifest.layers.length - 1; i >= 0; i--)
    progress({ status: 'Preparing', progressDetail: {}, id: ids[i] });
  await mapLimit(manifest.layers, ctx.concurrency, async (l, i) => {
    const id = ids[i]!;
    const r = await withRetries(
      ctx,
      () =>
        pushBlob(ctx, session, repo.path, l.digest, l.size, (n) =>
          progress({ status: 'Pushing', progressDetail: { current: n, total: l.size }, id }),
        ),
      (delay) =>
        progress({
          status: `Retrying in ${Math.max(1, Math.round(delay / 1000))} seconds`,
          progressDetail: {},
          id,
        }),
    );
    if (r === 'exists') progress({ status: 'Layer already exists', progressDetail: {}, id });
    else if (r === 'pushed') progress({ status: 'Pushed', progressDetail: {}, id });
    else
      progress({
        status: `Mounted from ${familiarName(parseNormalized(`${repo.domain}/${r.from}`))}`,
        progressDetail: {},
        id,
      });
  });
  await withRetries(
    ctx,
    () => pushBlob(ctx, session, repo.path, manifest.config.digest, manifest.config.size, () => {}),
    () => {},
  );
  const mediaType = manifest.mediaType ?? MediaType.OciManifest;
  const res = await session.fetch(`/v2/${repo.path}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) },
    body: bytes,
  });
  if (res.status !== 201 && res.status !== 200) throw await pushError(res, repo, `manifest ${tag}`);
  res.body.resume();
  const digest = sha256(bytes);
  const announced = header(res.headers, 'docker-content-digest');
  if (announced && announced !== digest) {
    throw badRequest(`registry stored manifest ${tag} as ${announced}, but its bytes hash to ${digest}`);
  }
  // The image now has a digest in this repository.
  const repoDigest = `${fullName(repo)}@${digest}`;
  const current = ctx.images.records.get(rec.id);
  if (current && !current.repoDigests.includes(repoDigest)) {
    await ctx.images.records.save({ ...current, repoDigests: [...current.repoDigests, repoDigest] });
  }
  await ctx.sources.add(session.host, repo.path, [
    ...manifest.layers.map((l) => l.digest),
    manifest.config.digest,
  ]);
  progress({ status: `${tag}: digest: ${digest} size: ${bytes.length}` });
  progress({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: bytes.length } });
  return { tag, digest, size: bytes.length };
}

async function pushError(res: Awaited<ReturnType<RegistrySession['fetch']>>, repo: Reference, what: string) {
  const e = await errorFrom(res, what);
  if (res.status === 401 || res.status === 403) {
    return new RegistryRequestError(
      e.httpStatus,
      e.code,
      `denied: requested access to the resource is denied (${familiarName(repo)}: ${e.message})`,
      401,
    );
  }
  return e;
}

type BlobResult = 'exists' | 'pushed' | { from: string };

/** Runs a blob upload again (a fresh upload session) when the connection dropped. */
async function withRetries<T>(
  ctx: PushContext,
  fn: () => Promise<T>,
  onRetry: (delay: number) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const dropped =
        (err instanceof RegistryRequestError && (err.httpStatus === 0 || err.httpStatus >= 500)) ||
        (err instanceof Error && !(err instanceof BerthError));
      const delay = ctx.retryDelays[attempt];
      if (!dropped || delay === undefined) throw err;
      onRetry(delay);
      await sleep(delay);
    }
  }
}

async function pushBlob(
  ctx: PushContext,
  session: RegistrySession,
  repo: string,
  digest: string,
  size: number,
  onProgress: (n: number) => void,
): Promise<BlobResult> {
  const head = await session.fetch(`/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  head.body.resume();
  if (head.status === 200) return 'exists';
  if (head.status !== 404)
    throw await pushError(head, { domain: session.host, path: repo }, `blob ${digest}`);
  let location: string | undefined;
  for (const from of await ctx.sources.others(session.host, repo, digest)) {
    session.addScope(`repository:${from}:pull`);
    const q = new URLSearchParams({ mount: digest, from });
    const res = await session.fetch(`/v2/${repo}/blobs/uploads/?${q}`, {
      method: 'POST',
      headers: { 'Content-Length': '0' },
    });
    res.body.resume();
    if (res.status === 201) return { from };
    if (res.status === 202) {
      location = header(res.headers, 'location');
      break;
    }
  }
  if (!location) {
    const res = await session.fetch(`/v2/${repo}/blobs/uploads/`, {
      method: 'POST',
      headers: { 'Content-Length': '0' },
    });
    if (res.status !== 202)
      throw await pushError(res, { domain: session.host, path: repo }, `blob upload ${digest}`);
    res.body.resume();
    location = header(res.headers, 'location');
  }
  if (!location) throw badRequest(`registry ${session.host} started an upload without a Location`);
  const path = ctx.images.blobs.path(digest);
  const withDigest = (loc: string) => {
    const u = new URL(loc, session.base);
    u.searchParams.set('digest', digest);
    return u.href;
  };
  if (size <= ctx.chunkSize) {
    const counter = new ByteCounter(onProgress, size);
    const res = await session.fetch(withDigest(location), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      body: createReadStream(path).pipe(counter),
    });
    if (res.status !== 201)
      throw await pushError(res, { domain: session.host, path: repo }, `blob ${digest}`);
    res.body.resume();
    return 'pushed';
  }
  let sent = 0;
  while (sent < size) {
    const end = Math.min(size, sent + ctx.chunkSize);
    const base = sent;
    const counter = new ByteCounter((n) => onProgress(base + n), end - sent);
    const res = await session.fetch(new URL(location, session.base).href, {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(end - sent),
        'Content-Range': `${sent}-${end - 1}`,
      },
      body: createReadStream(path, { start: sent, end: end - 1 }).pipe(counter),
    });
    if (res.status !== 202)
      throw await pushError(
        res,
        { domain: session.host, path: repo },
        `blob ${digest} chunk ${sent}-${end - 1}`,
      );
    res.body.resume();
    location = header(res.headers, 'location') ?? location;
    sent = end;
  }
  const res = await session.fetch(withDigest(location), {
    method: 'PUT',
    headers: { 'Content-Length': '0' },
  });
  if (res.status !== 201) throw await pushError(res, { domain: session.host, path: repo }, `blob ${digest}`);
  res.body.resume();
  return 'pushed';
}
