// Pull: manifest (or index → platform manifest), config and layers fetched and verified, layers
// downloaded a few at a time into the blob store and unpacked as soon as each one is complete, then the
// image registered. A failed pull removes the blobs and layers it created.
import type { Readable } from 'node:stream';
import {
  familiarName,
  familiarString,
  formatReference,
  fullName,
  hostPlatform,
  type ImageService,
  isIndexType,
  type Manifest,
  parseNormalized,
  type Reference,
  validateConfig,
} from '../images/index.js';
import { applyLayer, chainIds, decompress, type LayerFill } from '../layers/index.js';
import { BerthError, badRequest, isBerthError, mapLimit, sha256 } from '../util/index.js';
import type { RegistryAuth } from './credentials.js';
import { readBody } from './http.js';
import { type LayerWorkers, layerWorkers } from './layer-workers.js';
import {
  type FetchedManifest,
  fetchManifest,
  parseIndex,
  parseManifest,
  parsePlatform,
  selectPlatform,
} from './manifests.js';
import { resumableBody } from './resume.js';
import { errorFrom, RegistryRequestError, type RegistrySession } from './session.js';
import type { BlobSources } from './sources.js';
import { ByteCounter, Semaphore, shortDigest, sleep, TruncatedError, teeDownload } from './util.js';

export type Progress = (message: object) => void;

export interface PullContext {
  images: ImageService;
  session(host: string, auth: RegistryAuth | undefined): RegistrySession;
  sources: BlobSources;
  /** Parallel layer downloads. */
  concurrency: number;
  /** Waits between download attempts (their count + 1 is the number of attempts). */
  retryDelays: readonly number[];
}

export interface PullOptions {
  platform?: string;
  auth?: RegistryAuth;
  progress?: Progress;
  /** Pull every tag of the repository (the reference must have no tag or digest). */
  allTags?: boolean;
}

export interface PullResult {
  id: string;
  digest: string;
  upToDate: boolean;
}

/** `docker pull`: by tag, by digest, or all tags. */
export async function pullImage(
  ctx: PullContext,
  refStr: string,
  opts: PullOptions = {},
): Promise<PullResult[]> {
  const ref = parseNormalized(refStr);
  const progress = opts.progress ?? (() => {});
  const session = ctx.session(ref.domain, opts.auth);
  session.addScope(`repository:${ref.path}:pull`);
  if (opts.allTags) {
    if (ref.tag || ref.digest) throw badRequest("tag can't be used with --all-tags/-a");
    const tags = await listTags(session, ref);
    progress({ status: `Pulling from ${ref.path}`, id: 'all tags' } as object);
    const out: PullResult[] = [];
    for (const tag of tags) out.push(await pullOne(ctx, session, { ...ref, tag }, opts, progress, false));
    progress({ status: `Status: Downloaded newer images for ${familiarName(ref)}` });
    return out;
  }
  if (!ref.tag && !ref.digest) ref.tag = 'latest';
  return [await pullOne(ctx, session, ref, opts, progress, true)];
}

async function listTags(session: RegistrySession, ref: Reference): Promise<string[]> {
  const res = await session.fetch(`/v2/${ref.path}/tags/list`);
  if (res.status !== 200) {
    const e = await errorFrom(res, 'tags/list');
    throw new RegistryRequestError(
      e.httpStatus,
      e.code,
      `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${e.message.replace(/^[^:]*: /, '')}`,
      404,
    );
  }
  const body = JSON.parse((await readBody(res.body)).toString('utf8')) as { tags?: unknown };
  if (!Array.isArray(body.tags) || !body.tags.every((t) => typeof t === 'string')) {
    throw badRequest(`${familiarName(ref)}: tags/list answer has no .tags array`);
  }
  return (body.tags as string[]).sort();
}

/** The image manifest for the wanted platform (the top-level one when it is not an index). */
async function resolveManifest(
  session: RegistrySession,
  ref: Reference,
  platform: string | undefined,
): Promise<{ top: FetchedManifest; image: FetchedManifest; manifest: Manifest }> {
  const familiar = familiarName(ref);
  const top = await fetchManifest(session, ref.path, ref.digest ?? ref.tag!, familiar);
  let image = top;
  if (isIndexType(top.mediaType)) {
    const index = parseIndex(top);
    const want = platform ? parsePlatform(platform) : hostPlatform();
    const desc = selectPlatform(index, want, familiar);
    image = await fetchManifest(session, ref.path, desc.digest, familiar);
    if (isIndexType(image.mediaType))
      throw badRequest(`manifest ${desc.digest} of ${familiar} is an index inside an index`);
  }
  return { top, image, manifest: parseManifest(image) };
}

/** A small blob (the config) read whole and verified. */
async function fetchSmallBlob(
  session: RegistrySession,
  repo: string,
  digest: string,
  size: number,
): Promise<Buffer> {
  const res = await session.fetch(`/v2/${repo}/blobs/${digest}`);
  if (res.status !== 200) throw await errorFrom(res, `blob ${digest}`);
  const bytes = await readBody(res.body, Math.max(size, 0) + 1);
  if (sha256(bytes) !== digest) {
    throw badRequest(
      `config blob verification failed: expected ${digest}, got ${sha256(bytes)} (${bytes.length} bytes)`,
    );
  }
  if (bytes.length !== size)
    throw badRequest(`config blob ${digest}: ${bytes.length} bytes, descriptor says ${size}`);
  return bytes;
}

async function pullOne(
  ctx: PullContext,
  session: RegistrySession,
  ref: Reference,
  opts: PullOptions,
  progress: Progress,
  announce: boolean,
): Promise<PullResult> {
  const images = ctx.images;
  const familiarRef = familiarString(ref);
  if (announce) progress({ status: `Pulling from ${ref.path}`, id: ref.digest ?? ref.tag });
  const { top, image, manifest } = await resolveManifest(session, ref, opts.platform);
  const config = await fetchSmallBlob(session, ref.path, manifest.config.digest, manifest.config.size);
  const id = manifest.config.digest;
  const cfg = validateConfig(config, id);
  if (cfg.rootfs.diff_ids.length !== manifest.layers.length) {
    throw badRequest(
      `image config ${id} lists ${cfg.rootfs.diff_ids.length} diff_ids but manifest ${image.digest} has ${manifest.layers.length} layers`,
    );
  }
  if (opts.platform) {
    const want = parsePlatform(opts.platform);
    if (cfg.os !== want.os || cfg.architecture !== want.architecture) {
      throw badRequest(
        `image with reference ${familiarRef} was found but its platform (${cfg.os}/${cfg.architecture}) does not match the specified platform (${want.os}/${want.architecture})`,
      );
    }
  }
  const tag = ref.tag ? formatReference({ domain: ref.domain, path: ref.path, tag: ref.tag }) : undefined;
  const repoDigest = `${fullName(ref)}@${top.digest}`;
  const existing = images.records.get(id);
  if (existing && (!tag || existing.repoTags.includes(tag)) && existing.repoDigests.includes(repoDigest)) {
    progress({ status: `Digest: ${top.digest}` });
    progress({ status: `Status: Image is up to date for ${familiarRef}` });
    return { id, digest: top.digest, upToDate: true };
  }

  const createdBlobs: string[] = [];
  const createdChains: string[] = [];
  const unpacks: Promise<unknown>[] = [];
  try {
    await fetchLayers(
      ctx,
      session,
      ref.path,
      manifest,
      cfg.rootfs.diff_ids,
      progress,
      createdBlobs,
      createdChains,
      unpacks,
    );
    await images.registerImage({
      config,
      layers: manifest.layers,
      manifest: image.bytes,
      tags: tag ? [tag] : [],
      repoDigests: [repoDigest],
    });
  } catch (err) {
    await Promise.allSettled(unpacks);
    await cleanup(images, createdBlobs, createdChains);
    throw err;
  }
  await ctx.sources.add(session.host, ref.path, [...manifest.layers.map((l) => l.digest), id]);
  progress({ status: `Digest: ${top.digest}` });
  progress({ status: `Status: Downloaded newer image for ${familiarRef}` });
  return { id, digest: top.digest, upToDate: false };
}

async function fetchLayers(
  ctx: PullContext,
  session: RegistrySession,
  repo: string,
  manifest: Manifest,
  diffIds: string[],
  progress: Progress,
  createdBlobs: string[],
  createdChains: string[],
  unpacks: Promise<unknown>[],
): Promise<void> {
  const { blobs, layers } = ctx.images;
  const chains = chainIds(diffIds);
  const todo: number[] = [];
  for (const [i, l] of manifest.layers.entries()) {
    const id = shortDigest(l.digest);
    progress({ status: 'Pulling fs layer', progressDetail: {}, id });
    if (layers.has(chains[i]!) && (await blobs.has(l.digest)))
      progress({ status: 'Already exists', progressDetail: {}, id });
    else todo.push(i);
  }
  const unpacker = new Semaphore(2);
  const failures: unknown[] = [];
  await mapLimit(todo, ctx.concurrency, async (i) => {
    const desc = manifest.layers[i]!;
    const id = shortDigest(desc.digest);
    const parent = i === 0 ? null : chains[i - 1]!;
    const chain = chains[i]!;
    const had = layers.has(chain);
    if (!(await blobs.has(desc.digest))) {
      // The download is unpacked as it arrives (each layer unpacks into its own directory, whatever its
      // parent's state); the unpacked tar must hash to the diffID the verified config names.
      const unpack = had
        ? undefined
        : (fill: LayerFill) => layers.ensureFilled(parent, diffIds[i]!, fill).then(() => {});
      try {
        if (await downloadBlob(ctx, session, repo, desc, id, progress, unpack))
          createdBlobs.push(desc.digest);
      } catch (err) {
        // The unpack may have finished while the blob failed verification: clean it up with the rest.
        if (!had && layers.has(chain)) createdChains.push(chain);
        throw err;
      }
      progress({ status: 'Verifying Checksum', progressDetail: {}, id });
      progress({ status: 'Download complete', progressDetail: {}, id });
      if (!had) createdChains.push(chain);
      progress({ status: 'Extracting', progressDetail: { current: desc.size, total: desc.size }, id });
      progress({ status: 'Pull complete', progressDetail: {}, id });
      return;
    }
    progress({ status: 'Verifying Checksum', progressDetail: {}, id });
    progress({ status: 'Download complete', progressDetail: {}, id });
    // The blob is here but not unpacked on this parent chain: unpack while the other layers download.
    const p = unpacker
      .run(async () => {
        await layers.ensure(parent, diffIds[i]!, async () => {
          const counter = new ByteCounter((n) =>
            progress({ status: 'Extracting', progressDetail: { current: n, total: desc.size }, id }),
          );
          const src = await blobs.get(desc.digest);
          src.on('error', (e) => counter.destroy(e));
          return (await decompress(src.pipe(counter))).stream;
        });
        if (!had) createdChains.push(chain);
        progress({ status: 'Pull complete', progressDetail: {}, id });
      })
      .catch((err: unknown) => {
        failures.push(err);
      });
    unpacks.push(p);
  });
  await Promise.all(unpacks);
  if (failures.length) {
    const err = failures[0];
    throw isBerthError(err) ? err : badRequest(`failed to register layer: ${(err as Error).message}`);
  }
}

/** What to do with a layer's download besides storing it: given the means to unpack it, unpack it. */
type Unpack = (fill: LayerFill) => Promise<void>;

/**
 * Downloads a layer into the blob store, verified, and unpacks it as it arrives when `unpack` is given;
 * retried with backoff on dropped connections. The bytes are stored and unpacked on a worker thread
 * (layer-workers.ts), or in process where workers cannot be started.
 */
async function downloadBlob(
  ctx: PullContext,
  session: RegistrySession,
  repo: string,
  desc: { digest: string; size: number },
  id: string,
  progress: Progress,
  unpack?: Unpack,
): Promise<boolean> {
  const { digest, size } = desc;
  const attempts = ctx.retryDelays.length + 1;
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await session.fetch(`/v2/${repo}/blobs/${digest}`);
      if (res.status !== 200) {
        const err = await errorFrom(res, `blob ${digest}`);
        // Server errors may pass; a missing or forbidden blob will not.
        if (res.status >= 500) throw new TruncatedError(err.message);
        throw err;
      }
      const counter = new ByteCounter(
        (n) => progress({ status: 'Downloading', progressDetail: { current: n, total: size }, id }),
        size,
        `blob ${digest}`,
      );
      // A connection dropped mid-blob continues with a Range request from the byte received.
      const body = resumableBody(res, {
        size,
        what: `layer ${digest}`,
        delays: ctx.retryDelays,
        onRetry: (delay) =>
          progress({
            status: `Retrying in ${Math.max(1, Math.round(delay / 1000))} seconds`,
            progressDetail: {},
            id,
          }),
        refetch: (offset) =>
          session.fetch(`/v2/${repo}/blobs/${digest}`, { headers: { Range: `bytes=${offset}-` } }),
      });
      body.on('error', (e) => counter.destroy(e));
      body.pipe(counter);
      const workers = layerWorkers(ctx.concurrency);
      const [stored, unpacked] = workers
        ? await storeOnWorker(workers, ctx.images, counter, digest, unpack)
        : await storeInProcess(ctx.images, counter, digest, unpack);
      if (stored.status === 'rejected') {
        body.destroy();
        throw stored.reason;
      }
      if (unpacked.status === 'rejected') {
        // The blob was stored whole, but a layer that cannot be unpacked is not kept either.
        if (stored.value.created) await ctx.images.blobs.delete(digest);
        const e = unpacked.reason as Error;
        throw isBerthError(e) ? e : badRequest(`failed to register layer ${digest}: ${e.message}`);
      }
      return stored.value.created;
    } catch (err) {
      const retryable =
        err instanceof TruncatedError ||
        (!isBerthError(err) && err instanceof Error) ||
        (err instanceof RegistryRequestError && err.httpStatus === 0);
      if (isBerthError(err) && /digest mismatch/.test(err.message)) {
        throw badRequest(`filesystem layer verification failed for digest ${digest}: ${err.message}`);
      }
      if (!retryable) throw err;
      if (attempt + 1 >= attempts) {
        throw new BerthError(
          500,
          `error pulling layer ${digest} after ${attempts} attempts: ${(err as Error).message}`,
        );
      }
      const delay = ctx.retryDelays[attempt]!;
      progress({
        status: `Retrying in ${Math.max(1, Math.round(delay / 1000))} seconds`,
        progressDetail: {},
        id,
      });
      await sleep(delay);
    }
  }
}

type Outcome = [PromiseSettledResult<{ created: boolean }>, PromiseSettledResult<void>];

/** Stores (and unpacks) `source` on a worker thread. */
async function storeOnWorker(
  workers: LayerWorkers,
  images: ImageService,
  source: Readable,
  digest: string,
  unpack: Unpack | undefined,
): Promise<Outcome> {
  const { job, done } = await workers.start(images.blobs.root, digest, unpack !== undefined);
  try {
    const feeding = job.feed(source);
    const outcome = await Promise.allSettled([
      job.stored,
      // A layer another pull is unpacking already is not unpacked again: the worker drains it.
      unpack ? unpack((dir) => job.unpackInto(dir)).finally(() => job.skipUnpack()) : Promise.resolve(),
    ]);
    await feeding;
    return outcome;
  } finally {
    done();
  }
}

/** Stores (and unpacks) `source` on this thread. */
function storeInProcess(
  images: ImageService,
  source: Readable,
  digest: string,
  unpack: Unpack | undefined,
): Promise<Outcome> {
  const { toStore, toUnpack } = teeDownload(source, unpack !== undefined);
  return Promise.allSettled([
    images.blobs.put(toStore, digest),
    // An unpack that stops reading early (failure, or another pull unpacking the same chain) must not
    // stall the download: whatever it leaves is drained.
    unpack
      ? unpack((dir) => applyLayer(toUnpack!, dir)).finally(() => toUnpack!.resume())
      : Promise.resolve(),
  ]);
}

/** Removes what a failed pull created and no image uses. */
async function cleanup(images: ImageService, blobDigests: string[], chains: string[]): Promise<void> {
  const usedChains = new Set<string>();
  const usedBlobs = new Set<string>();
  for (const r of images.records.all()) {
    usedBlobs.add(r.id).add(r.manifestDigest);
    if (r.topChainId) for (const l of images.layers.chain(r.topChainId)) usedChains.add(l.chainId);
    try {
      for (const l of (await images.getManifest(r)).layers) usedBlobs.add(l.digest);
    } catch {}
  }
  for (const c of chains.reverse()) if (!usedChains.has(c)) await images.layers.remove(c).catch(() => {});
  for (const b of blobDigests) if (!usedBlobs.has(b)) await images.blobs.delete(b);
}
