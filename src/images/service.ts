// The image service: image records over the blob store and the layer store, with Docker's semantics for
// lookup, list, inspect, history, tag, remove, prune, commit and import.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  chainIds,
  decompress,
  type LayerStore,
  LayerStore as Layers,
  ParallelGzip,
  tarDirectory,
} from '../layers/index.js';
import {
  badRequest,
  conflict,
  DigestStream,
  isDigest,
  labelMatches,
  mapLimit,
  notFound,
  parseUntil,
  sha256,
  shortId,
} from '../util/index.js';
import type {
  HistoryResponseItem,
  ImageDeleteResponseItem,
  ImageInspect,
  ImagePruneResponse,
  ImageSummary,
} from './api-types.js';
import { BlobStore } from './blobs.js';
import { applyChanges } from './changes.js';
import {
  type ContainerConfig,
  type Descriptor,
  type HistoryEntry,
  hostPlatform,
  type ImageConfig,
  type Manifest,
  MediaType,
} from './media.js';
import { type ImageRecord, RecordStore } from './records.js';
import {
  familiarName,
  familiarString,
  formatReference,
  fullName,
  isFullImageId,
  parseNormalized,
  parseNormalizedTagged,
} from './reference.js';

/** Answers whether a container uses the image: false, true, or the using container's ID. */
export type InUseCheck = (imageId: string) => boolean | string;

export interface RemoveOptions {
  force?: boolean;
  noPrune?: boolean;
  isInUse?: InUseCheck;
}

export interface ListOptions {
  all?: boolean;
  filters?: Record<string, string[]>;
}

export interface RegisterOptions {
  /** The config JSON exactly as stored (its digest is the image ID). */
  config: Buffer;
  /** Layer blobs, already in the blob store, bottom first. */
  layers: Descriptor[];
  /** The manifest bytes when the image came with one (pull); an OCI manifest is written otherwise. */
  manifest?: Buffer;
  tags?: string[];
  repoDigests?: string[];
  parent?: string;
}

export interface CommitOptions {
  /** Parent image (reference or ID); null/undefined for an image from scratch. */
  parent?: string | null;
  /**
   * The new layer: an uncompressed or compressed tar stream, or an overlay upper directory. `adopt`: the
   * directory is the caller's to give away; it is moved into the layer store (not unpacked again from
   * the tar) and is gone afterwards. `xattrs: false`: the directory has no extended attributes.
   */
  layer?: Readable | { upperDir: string; adopt?: boolean; xattrs?: boolean } | null;
  /** Replaces the parent's runtime config fields given here. */
  config?: ContainerConfig;
  /** Dockerfile-style change lines applied after `config`. */
  changes?: string[];
  author?: string;
  comment?: string;
  createdBy?: string;
  /** Reference to tag the new image with. */
  tag?: string;
  /** Fixed creation time (reproducible builds). */
  created?: Date;
  platform?: { os: string; architecture: string; variant?: string };
  /** Record the parent as this image's Parent (docker commit and the builder do). */
  recordParent?: boolean;
}

export interface ImportOptions {
  ref?: string;
  changes?: string[];
  message?: string;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface ResolvedImage {
  record: ImageRecord;
  config: ImageConfig;
}

export class ImageService {
  readonly dataRoot: string;
  readonly blobs: BlobStore;
  readonly layers: LayerStore;
  readonly records: RecordStore;
  private readonly configCache = new Map<string, ImageConfig>();

  constructor(dataRoot: string) {
    this.dataRoot = dataRoot;
    this.blobs = new BlobStore(join(dataRoot, 'blobs'));
    this.layers = new Layers(dataRoot);
    this.records = new RecordStore(dataRoot);
  }

  /** Rebuilds the in-memory index from disk and removes what an interrupted write left behind. */
  async init(): Promise<void> {
    await this.blobs.init();
    await this.layers.init();
    await this.records.init();
    // Scratch space (bootstrap roots, ...) never outlives a run.
    await rm(join(this.dataRoot, 'tmp'), { recursive: true, force: true });
    // A record whose config or layers are gone cannot be used; drop it rather than fail later.
    for (const rec of this.records.all()) {
      const okLayers = rec.topChainId === null || this.layers.has(rec.topChainId);
      if (!okLayers || !(await this.blobs.has(rec.id))) await this.records.delete(rec.id);
    }
  }

  // ---- lookup ----

  /** Finds an image by reference, full ID, digest reference or short ID; 404 "No such image: x". */
  resolve(refOrId: string): ImageRecord {
    const rec = this.find(refOrId);
    if (!rec) throw notFound(`No such image: ${refOrId}`);
    return rec;
  }

  find(refOrId: string): ImageRecord | undefined {
    if (isFullImageId(refOrId)) {
      const id = refOrId.startsWith('sha256:') ? refOrId : `sha256:${refOrId}`;
      const rec = this.records.get(id);
      if (rec) return rec;
    }
    if (/^(sha256:)?[a-f0-9]{1,63}$/.test(refOrId)) {
      const prefix = refOrId.replace(/^sha256:/, '');
      const matches = this.records.all().filter((r) => r.id.slice(7).startsWith(prefix));
      if (matches.length === 1 && (prefix.length >= 6 || refOrId.startsWith('sha256:'))) return matches[0];
      if (matches.length > 1)
        throw badRequest(`ambiguous image ID ${refOrId}: ${matches.length} images match`);
    }
    let ref: ReturnType<typeof parseNormalized>;
    try {
      ref = parseNormalizedTagged(refOrId);
    } catch {
      return undefined;
    }
    if (ref.digest) {
      const rec = this.records.byRepoDigest(`${fullName(ref)}@${ref.digest}`);
      if (rec) return rec;
      // `name@<config digest>` also names the image.
      const byId = this.records.get(ref.digest);
      if (byId) return byId;
      return undefined;
    }
    return this.records.byTag(formatReference(ref));
  }

  async getConfig(rec: ImageRecord): Promise<ImageConfig> {
    let cfg = this.configCache.get(rec.id);
    if (!cfg) {
      cfg = await this.blobs.readJson<ImageConfig>(rec.id);
      this.configCache.set(rec.id, cfg);
    }
    return cfg;
  }

  /** Record + parsed config, for the container and build modules. */
  async get(refOrId: string): Promise<ResolvedImage> {
    const record = this.resolve(refOrId);
    return { record, config: await this.getConfig(record) };
  }

  async getManifest(rec: ImageRecord): Promise<Manifest> {
    return this.blobs.readJson<Manifest>(rec.manifestDigest);
  }

  // ---- Engine API views ----

  async list(opts: ListOptions = {}): Promise<ImageSummary[]> {
    const filters = opts.filters ?? {};
    for (const key of Object.keys(filters)) {
      if (!['dangling', 'label', 'reference', 'before', 'since', 'until'].includes(key)) {
        throw badRequest(`invalid filter '${key}'`);
      }
    }
    let recs = this.records.all();
    const parents = new Set(recs.map((r) => r.parent).filter((p): p is string => !!p));
    if (!opts.all && !filters.dangling) {
      // Untagged images that are parents of others are build intermediates: hidden without --all.
      recs = recs.filter((r) => r.repoTags.length > 0 || !parents.has(r.id));
    }
    if (filters.dangling?.length) {
      const v = filters.dangling[0]!.toLowerCase();
      if (!['true', 'false', '1', '0'].includes(v)) throw badRequest(`invalid filter 'dangling=${v}'`);
      const want = v === 'true' || v === '1';
      recs = recs.filter((r) => (r.repoTags.length === 0) === want);
    }
    if (filters.before?.length) {
      const t = Date.parse(this.resolve(filters.before[0]!).created);
      recs = recs.filter((r) => Date.parse(r.created) < t);
    }
    if (filters.until?.length) {
      const until = parseUntil(filters.until[0]!);
      recs = recs.filter((r) => Date.parse(r.created) < until);
    }
    if (filters.since?.length) {
      const t = Date.parse(this.resolve(filters.since[0]!).created);
      recs = recs.filter((r) => Date.parse(r.created) > t);
    }
    const out: ImageSummary[] = [];
    for (const r of recs) {
      const cfg = await this.getConfig(r);
      const labels = cfg.config?.Labels ?? {};
      if (filters.label?.length && !filters.label.every((l) => labelMatches(labels, l))) continue;
      let repoTags = r.repoTags.map(familiarTag);
      if (filters.reference?.length) {
        const matching = repoTags.filter((t) => filters.reference!.some((p) => matchReference(p, t)));
        if (matching.length === 0) continue;
        repoTags = matching;
      }
      out.push({
        Id: r.id,
        ParentId: r.parent ?? '',
        RepoTags: repoTags,
        RepoDigests: r.repoDigests.map(familiarDigest),
        Created: Math.floor(Date.parse(r.created) / 1000),
        Size: r.size,
        SharedSize: -1,
        VirtualSize: r.size,
        Labels: labels,
        Containers: -1,
      });
    }
    return out.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  async inspect(refOrId: string): Promise<ImageInspect> {
    const { record: r, config: cfg } = await this.get(refOrId);
    const lowers = r.topChainId ? this.layers.lowerDirs(r.topChainId) : [];
    return {
      Id: r.id,
      RepoTags: r.repoTags.map(familiarTag),
      RepoDigests: r.repoDigests.map(familiarDigest),
      Parent: r.parent ?? '',
      Comment: cfg.comment ?? cfg.history?.at(-1)?.comment ?? '',
      Created: cfg.created ?? r.created,
      DockerVersion: cfg.docker_version ?? '',
      Author: cfg.author ?? '',
      Config: cfg.config ?? {},
      Architecture: cfg.architecture,
      ...(cfg.variant ? { Variant: cfg.variant } : {}),
      Os: cfg.os,
      ...(cfg['os.version'] ? { OsVersion: cfg['os.version'] } : {}),
      Size: r.size,
      VirtualSize: r.size,
      GraphDriver: {
        Name: 'overlay2',
        Data: lowers.length
          ? { LowerDir: lowers.slice(1).join(':'), UpperDir: lowers[0]!, MergedDir: '', WorkDir: '' }
          : null,
      },
      RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
      Metadata: r.lastTagTime ? { LastTagTime: r.lastTagTime } : {},
    };
  }

  async history(refOrId: string): Promise<HistoryResponseItem[]> {
    const { record: r, config: cfg } = await this.get(refOrId);
    const chain = r.topChainId ? this.layers.chain(r.topChainId) : [];
    const hist = cfg.history?.length
      ? cfg.history
      : cfg.rootfs.diff_ids.map((): HistoryEntry => ({ created: cfg.created }));
    // Ancestors known locally get their ID on the history entry that created their top.
    const idAt = new Map<number, ImageRecord>();
    idAt.set(hist.length - 1, r);
    for (
      let p = r.parent ? this.records.get(r.parent) : undefined;
      p;
      p = p.parent ? this.records.get(p.parent) : undefined
    ) {
      const pc = await this.getConfig(p);
      if (pc.history?.length) idAt.set(pc.history.length - 1, p);
    }
    let layerIndex = 0;
    const items: HistoryResponseItem[] = hist.map((h, i) => {
      const size = h.empty_layer ? 0 : (chain[layerIndex++]?.size ?? 0);
      const owner = idAt.get(i);
      return {
        Id: owner ? owner.id : '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: owner ? owner.repoTags.map(familiarTag) : [],
        Size: size,
        Comment: h.comment ?? '',
      };
    });
    return items.reverse();
  }

  // ---- tags ----

  /** Tags `src` as `target` (default tag latest), moving the tag if another image had it. */
  async tag(src: string, target: string): Promise<void> {
    const rec = this.resolve(src);
    const ref = parseNormalized(target);
    if (ref.digest) throw badRequest('refusing to create a tag with a digest reference');
    const tag = formatReference({ ...ref, tag: ref.tag ?? 'latest' });
    await this.addTag(rec, tag);
  }

  private async addTag(rec: ImageRecord, tag: string): Promise<void> {
    const prev = this.records.byTag(tag);
    if (prev && prev.id !== rec.id) {
      await this.records.save({ ...prev, repoTags: prev.repoTags.filter((t) => t !== tag) });
    }
    const cur = this.records.get(rec.id) ?? rec;
    if (!cur.repoTags.includes(tag)) {
      await this.records.save({
        ...cur,
        repoTags: [...cur.repoTags, tag],
        lastTagTime: new Date().toISOString(),
      });
    }
  }

  // ---- remove / prune ----

  /**
   * `docker rmi`, following Docker's rules: a reference is untagged first and the image goes only with
   * its last reference; an image a container uses needs force; one with child images is kept.
   */
  async remove(refOrId: string, opts: RemoveOptions = {}): Promise<ImageDeleteResponseItem[]> {
    const rec = this.resolve(refOrId);
    const items: ImageDeleteResponseItem[] = [];
    const inUse = opts.isInUse?.(rec.id) ?? false;
    let removedRef = false;
    if (!isIdLike(refOrId, rec)) {
      const ref = parseNormalizedTagged(refOrId);
      const name = ref.digest ? `${fullName(ref)}@${ref.digest}` : formatReference(ref);
      const refs = rec.repoTags.length + rec.repoDigests.length;
      if (refs <= 1 && inUse && !opts.force) {
        // Untagging would leave an image a container uses dangling: Docker asks for force.
        throw conflict(
          `conflict: unable to remove repository reference "${refOrId}" (must force) - container ${inUseName(inUse)} is using its referenced image ${shortId(rec.id)}`,
        );
      }
      if (rec.repoTags.includes(name) || rec.repoDigests.includes(name)) {
        const left = {
          ...rec,
          repoTags: rec.repoTags.filter((t) => t !== name),
          repoDigests: rec.repoDigests.filter((d) => d !== name),
        };
        items.push({ Untagged: familiarString(ref.digest ? { ...ref, tag: undefined } : ref) });
        // As Docker: the last tag of a repository takes that repository's digest references (a pull's
        // repo@sha256:…) with it, so `rmi name:tag` after a pull deletes the image. An image a container
        // uses keeps them (it stays, reachable by digest).
        const repo = fullName(ref);
        if (!ref.digest && !inUse && !left.repoTags.some((t) => repoOf(t) === repo)) {
          for (const d of left.repoDigests.filter((x) => repoOf(x) === repo))
            items.push({ Untagged: familiarDigest(d) });
          left.repoDigests = left.repoDigests.filter((x) => repoOf(x) !== repo);
        }
        await this.records.save(left);
        if (left.repoTags.length + left.repoDigests.length > 0) return items;
        removedRef = true;
      }
    } else if (!opts.force) {
      if (new Set([...rec.repoTags, ...rec.repoDigests].map(repoOf)).size > 1) {
        throw conflict(
          `conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is referenced in multiple repositories`,
        );
      }
      if (inUse) {
        throw conflict(
          `conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is being used by stopped container ${inUseName(inUse)}`,
        );
      }
    }
    if (this.records.all().some((r) => r.parent === rec.id)) {
      // Untagged by name, the image stays as its children's parent; by ID this cannot be forced.
      if (removedRef) return items;
      throw conflict(
        `conflict: unable to delete ${shortId(rec.id)} (cannot be forced) - image has dependent child images`,
      );
    }
    items.push(...(await this.deleteImage(this.records.get(rec.id) ?? rec, !!inUse)));
    if (!opts.noPrune) {
      // Untagged parents left without children go too (intermediate images of a build).
      let parentId = rec.parent;
      while (parentId) {
        const p = this.records.get(parentId);
        if (!p || p.repoTags.length > 0 || p.repoDigests.length > 0) break;
        if (this.records.all().some((r) => r.parent === p.id)) break;
        if (opts.isInUse?.(p.id)) break;
        items.push(...(await this.deleteImage(p, false)));
        parentId = p.parent;
      }
    }
    await this.releaseDoomed();
    return items;
  }

  private async deleteImage(rec: ImageRecord, keepLayers: boolean): Promise<ImageDeleteResponseItem[]> {
    const items: ImageDeleteResponseItem[] = [];
    for (const t of rec.repoTags) items.push({ Untagged: familiarTag(t) });
    for (const d of rec.repoDigests) items.push({ Untagged: familiarDigest(d) });
    this.doomedBlobs.add(rec.id).add(rec.manifestDigest);
    try {
      for (const l of (await this.getManifest(rec)).layers) this.doomedBlobs.add(l.digest);
    } catch {}
    if (rec.topChainId) {
      // Without a layer-users callback, remember the chain in memory so it outlives the image.
      if (keepLayers && !this.layerUsers) this.pinned.add(rec.topChainId);
      else for (const l of this.layers.chain(rec.topChainId)) this.doomedChains.add(l.chainId);
    }
    await this.records.delete(rec.id);
    this.configCache.delete(rec.id);
    items.push({ Deleted: rec.id });
    return items;
  }

  private layerUsers?: () => Iterable<string>;

  /**
   * Tells the service which top chain IDs containers have mounted (each container's image
   * `topChainId`), so layers under a container survive even a forced removal of its image, also
   * across restarts. Set once by the daemon after constructing both services.
   */
  setLayerUsers(users: () => Iterable<string>): void {
    this.layerUsers = users;
  }

  /** Layers kept for containers whose image was force-removed (until restart; see setLayerUsers). */
  private readonly pinned = new Set<string>();
  /** Blobs and layers of deleted images, released once no remaining image uses them. */
  private readonly doomedBlobs = new Set<string>();
  private readonly doomedChains = new Set<string>();

  /** What the remaining images (and pinned layers) still use. */
  private async inUse(): Promise<{ blobs: Set<string>; chains: Set<string> }> {
    const blobs = new Set<string>();
    const chains = new Set<string>();
    const addChain = (top: string) => {
      try {
        for (const l of this.layers.chain(top)) chains.add(l.chainId);
      } catch {}
    };
    for (const top of this.pinned) addChain(top);
    for (const top of this.layerUsers?.() ?? []) addChain(top);
    for (const r of this.records.all()) {
      blobs.add(r.id).add(r.manifestDigest);
      if (r.topChainId) addChain(r.topChainId);
      try {
        for (const l of (await this.getManifest(r)).layers) blobs.add(l.digest);
      } catch {}
    }
    return { blobs, chains };
  }

  /**
   * Frees the blobs and layers of deleted images that nothing else uses. Only those: blobs a pull is
   * writing right now are not referenced yet and must not be swept. Returns the bytes reclaimed.
   */
  private async releaseDoomed(): Promise<number> {
    const used = await this.inUse();
    let reclaimed = 0;
    for (const c of this.doomedChains) {
      if (!used.chains.has(c) && this.layers.has(c)) {
        reclaimed += this.layers.get(c).size;
        await this.layers.remove(c);
      }
    }
    for (const b of this.doomedBlobs) if (!used.blobs.has(b)) await this.blobs.delete(b);
    this.doomedChains.clear();
    this.doomedBlobs.clear();
    return reclaimed;
  }

  /**
   * Full sweep: removes every blob and layer no image references. Only safe when nothing is being
   * pulled or loaded at the same time (e.g. on start, before serving requests).
   */
  async collectGarbage(): Promise<number> {
    const used = await this.inUse();
    let reclaimed = 0;
    for (const l of this.layers.list()) {
      if (!used.chains.has(l.chainId)) {
        reclaimed += l.size;
        await this.layers.remove(l.chainId);
      }
    }
    for (const b of await this.blobs.list()) if (!used.blobs.has(b)) await this.blobs.delete(b);
    return reclaimed;
  }

  async prune(
    opts: { all?: boolean; isInUse?: InUseCheck; filters?: Record<string, string[]> } = {},
  ): Promise<ImagePruneResponse> {
    const deleted: ImageDeleteResponseItem[] = [];
    let reclaimed = 0;
    const untilFilter = opts.filters?.until?.[0];
    const until = untilFilter ? parseUntil(untilFilter) : undefined;
    // Repeat: deleting a child can make its parent prunable.
    for (let changed = true; changed; ) {
      changed = false;
      for (const r of this.records.all()) {
        if (!opts.all && r.repoTags.length > 0) continue;
        if (opts.isInUse?.(r.id)) continue;
        if (this.records.all().some((c) => c.parent === r.id)) continue;
        if (until !== undefined && Date.parse(r.created) >= until) continue;
        if (opts.filters?.label?.length) {
          const labels = (await this.getConfig(r)).config?.Labels ?? {};
          if (!opts.filters.label.every((l) => labelMatches(labels, l))) continue;
        }
        deleted.push(...(await this.deleteImage(r, false)));
        changed = true;
      }
    }
    reclaimed = await this.releaseDoomed();
    return { ImagesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  // ---- creation ----

  /**
   * Registers an image whose config and layer blobs are at hand: stores the config, unpacks every layer
   * (shared by chain ID), writes the manifest if none was given, and records the image with its tags.
   */
  async registerImage(opts: RegisterOptions): Promise<ImageRecord> {
    const id = sha256(opts.config);
    const cfg = validateConfig(opts.config, id);
    const diffIds = cfg.rootfs.diff_ids;
    if (diffIds.length !== opts.layers.length) {
      throw badRequest(
        `image config ${id} lists ${diffIds.length} diff_ids but the manifest has ${opts.layers.length} layers`,
      );
    }
    for (const [i, l] of opts.layers.entries()) {
      if (!l || typeof l.digest !== 'string' || !isDigest(l.digest)) {
        throw badRequest(`manifest of image ${id}: layers[${i}].digest is not a valid digest`);
      }
    }
    const configBlob = await this.blobs.putBytes(opts.config, id);
    const chains = chainIds(diffIds);
    // Layers unpack independently of each other (each into its own directory), so run a few at once.
    const infos = await this.unpackAll(opts.layers, diffIds, chains).catch(async (err: unknown) => {
      if (configBlob.created && !this.records.get(id)) await this.blobs.delete(id);
      throw err;
    });
    const size = infos.reduce((n, l) => n + l.size, 0);
    const parent = chains.at(-1) ?? null;
    return this.finishRegister(opts, id, configBlob.size, cfg, size, parent);
  }

  private unpackAll(layers: Descriptor[], diffIds: string[], chains: string[]) {
    return mapLimit(layers, 3, (layer, i) =>
      this.layers.ensure(
        i === 0 ? null : chains[i - 1]!,
        diffIds[i]!,
        async () => (await decompress(await this.blobs.get(layer.digest))).stream,
      ),
    );
  }

  private async finishRegister(
    opts: RegisterOptions,
    id: string,
    configSize: number,
    cfg: ImageConfig,
    size: number,
    parent: string | null,
  ): Promise<ImageRecord> {
    let manifestDigest: string;
    if (opts.manifest) {
      manifestDigest = (await this.blobs.putBytes(opts.manifest)).digest;
    } else {
      const manifest: Manifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: id, size: configSize },
        layers: opts.layers,
      };
      manifestDigest = (await this.blobs.putBytes(JSON.stringify(manifest))).digest;
    }
    const existing = this.records.get(id);
    const rec: ImageRecord = {
      id,
      repoTags: existing?.repoTags ?? [],
      repoDigests: [...new Set([...(existing?.repoDigests ?? []), ...(opts.repoDigests ?? [])])],
      manifestDigest: existing?.manifestDigest ?? manifestDigest,
      ...((opts.parent ?? existing?.parent) ? { parent: opts.parent ?? existing?.parent } : {}),
      topChainId: parent,
      size,
      created: cfg.created ?? new Date().toISOString(),
      ...(existing?.lastTagTime ? { lastTagTime: existing.lastTagTime } : {}),
    };
    this.configCache.set(id, cfg);
    await this.records.save(rec);
    for (const t of opts.tags ?? []) await this.addTag(rec, t);
    return this.records.get(id)!;
  }

  /** Stores a layer tar (any compression) as a gzip blob; returns its descriptor and diffID. */
  async putLayer(source: Readable): Promise<{ descriptor: Descriptor; diffId: string }> {
    const { stream } = await decompress(source);
    const diff = new DigestStream('sha256');
    const gz = new ParallelGzip(1);
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const piping = pipeline(stream, diff, gz, out);
    const [blob] = await Promise.all([this.blobs.put(out), piping]);
    return {
      descriptor: { mediaType: MediaType.OciLayerGzip, digest: blob.digest, size: blob.size },
      diffId: diff.digest(),
    };
  }

  /** A new image from a parent + an optional new layer + config changes + one history entry. */
  async commit(opts: CommitOptions): Promise<ImageRecord> {
    const parentRec = opts.parent ? this.resolve(opts.parent) : undefined;
    const parentCfg = parentRec ? await this.getConfig(parentRec) : undefined;
    const parentManifest = parentRec ? await this.getManifest(parentRec) : undefined;
    const created = (opts.created ?? new Date()).toISOString();
    let layer: { descriptor: Descriptor; diffId: string } | undefined;
    if (opts.layer) {
      if ('upperDir' in opts.layer) {
        const { upperDir, adopt, xattrs } = opts.layer;
        const { stream, done } = tarDirectory(upperDir, {
          overlay: true,
          gzipLevel: 1,
          ...(xattrs === false ? { xattrs } : {}),
        });
        const [blob, res] = await Promise.all([this.blobs.put(stream), done]);
        layer = {
          descriptor: { mediaType: MediaType.OciLayerGzip, digest: blob.digest, size: blob.size },
          diffId: res.diffId,
        };
        // The directory is what unpacking that tar would make: move it in rather than unpack the blob.
        if (adopt)
          await this.layers.adopt(parentRec?.topChainId ?? null, upperDir, {
            diffId: res.diffId,
            size: res.contentSize,
            tarSize: res.uncompressedSize,
          });
      } else {
        layer = await this.putLayer(opts.layer);
      }
    }
    const platform =
      opts.platform ??
      (parentCfg
        ? { os: parentCfg.os, architecture: parentCfg.architecture, variant: parentCfg.variant }
        : hostPlatform());
    let runtime: ContainerConfig = { ...(parentCfg?.config ?? {}), ...(opts.config ?? {}) };
    if (opts.changes?.length) runtime = applyChanges(runtime, opts.changes);
    const history: HistoryEntry[] = [...(parentCfg?.history ?? [])];
    const entry: HistoryEntry = { created };
    if (opts.author) entry.author = opts.author;
    if (opts.createdBy !== undefined) entry.created_by = opts.createdBy;
    if (opts.comment) entry.comment = opts.comment;
    if (!layer) entry.empty_layer = true;
    history.push(entry);
    const config: ImageConfig = {
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      os: platform.os,
      created,
      ...(opts.author ? { author: opts.author } : {}),
      ...(opts.comment ? { comment: opts.comment } : {}),
      config: runtime,
      rootfs: {
        type: 'layers',
        diff_ids: [...(parentCfg?.rootfs.diff_ids ?? []), ...(layer ? [layer.diffId] : [])],
      },
      history,
    };
    const layers = [...(parentManifest?.layers ?? []), ...(layer ? [layer.descriptor] : [])];
    const tags = opts.tag ? [tagOf(opts.tag)] : [];
    return this.registerImage({
      config: Buffer.from(JSON.stringify(config)),
      layers,
      tags,
      ...(parentRec && opts.recordParent !== false ? { parent: parentRec.id } : {}),
    });
  }

  /** `docker import`: a root filesystem tar (any compression) → a one-layer image. */
  async importRootfs(source: Readable, opts: ImportOptions = {}): Promise<ImageRecord> {
    return this.commit({
      layer: source,
      changes: opts.changes ?? [],
      comment: opts.message || 'Imported from -',
      createdBy: '',
      ...(opts.ref ? { tag: opts.ref } : {}),
      ...(opts.platform ? { platform: opts.platform } : {}),
    });
  }

  /** Mount helper for the container module: the image's layers as lowers of an overlay at `target`. */
  async mountImage(refOrId: string, upperDir: string, workDir: string, target: string): Promise<void> {
    const rec = this.resolve(refOrId);
    await this.layers.mountRootfs(rec.topChainId, upperDir, workDir, target);
  }

  /** A unique scratch directory under the data root (same filesystem as the layers). */
  tempDir(): string {
    return join(this.dataRoot, 'tmp', randomBytes(8).toString('hex'));
  }
}

// ---- helpers ----

/** Parses an image config and checks the fields berth relies on, naming the JSON path that is wrong. */
export function validateConfig(bytes: Buffer, id: string): ImageConfig {
  let cfg: unknown;
  try {
    cfg = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw badRequest(`image config ${id} is not valid JSON: ${(err as Error).message}`);
  }
  const bad = (path: string, what: string) => badRequest(`image config ${id}: ${path} ${what}`);
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw bad('(root)', 'must be an object');
  const c = cfg as Record<string, unknown>;
  if (typeof c.architecture !== 'string') throw bad('.architecture', 'must be a string');
  if (typeof c.os !== 'string') throw bad('.os', 'must be a string');
  const rootfs = c.rootfs as Record<string, unknown> | undefined;
  if (typeof rootfs !== 'object' || rootfs === null) throw bad('.rootfs', 'is missing');
  if (rootfs.type !== 'layers') throw bad('.rootfs.type', 'must be "layers"');
  if (!Array.isArray(rootfs.diff_ids)) throw bad('.rootfs.diff_ids', 'must be an array');
  for (const [i, d] of (rootfs.diff_ids as unknown[]).entries()) {
    if (typeof d !== 'string' || !isDigest(d)) throw bad(`.rootfs.diff_ids[${i}]`, 'is not a valid digest');
  }
  if (
    c.config !== undefined &&
    c.config !== null &&
    (typeof c.config !== 'object' || Array.isArray(c.config))
  ) {
    throw bad('.config', 'must be an object');
  }
  if (c.history !== undefined && !Array.isArray(c.history)) throw bad('.history', 'must be an array');
  return cfg as ImageConfig;
}

function tagOf(ref: string): string {
  const r = parseNormalized(ref);
  if (r.digest) throw badRequest('refusing to create a tag with a digest reference');
  return formatReference({ ...r, tag: r.tag ?? 'latest' });
}

export function familiarTag(full: string): string {
  return familiarString(parseNormalized(full));
}

export function familiarDigest(full: string): string {
  const r = parseNormalized(full);
  return `${familiarName(r)}@${r.digest}`;
}

function repoOf(tag: string): string {
  return fullName(parseNormalized(tag));
}

function isIdLike(s: string, rec: ImageRecord): boolean {
  const hex = s.replace(/^sha256:/, '');
  return (
    /^[a-f0-9]+$/.test(hex) &&
    rec.id.slice(7).startsWith(hex) &&
    !rec.repoTags.includes(`docker.io/library/${s}:latest`)
  );
}

function inUseName(v: boolean | string): string {
  return typeof v === 'string' ? shortId(v) : 'unknown';
}

/** Docker's reference filter: a glob on the familiar name, with or without tag. */
function matchReference(pattern: string, familiar: string): boolean {
  const re = (p: string) =>
    new RegExp(
      `^${p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    );
  const colon = familiar.lastIndexOf(':');
  const name = familiar.slice(0, colon);
  return re(pattern).test(familiar) || (!pattern.includes(':') && re(pattern).test(name));
}
