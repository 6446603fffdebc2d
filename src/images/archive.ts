// `docker save` / `docker load`: writes the docker-archive layout Docker 20.10 writes
// (<v1id>/layer.tar, <config>.json, manifest.json, repositories) or an OCI image layout tar (oci-layout,
// index.json, blobs/); reads both. Loading streams every file into the blob store (hashing as it
// writes), then verifies configs, layer digests and diffIDs before anything is registered.
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { type Pack, extract as tarExtract, pack as tarPack } from 'tar-stream';
import { decompress, detectCompression, type PrestagedLayer } from '../layers/index.js';
import { badRequest, internal, isDigest, messageOf, sha256 } from '../util/index.js';
import {
  type Descriptor,
  hostPlatform,
  type ImageConfig,
  type Index,
  isIndexType,
  type Manifest,
  MediaType,
} from './media.js';
import type { ImageRecord } from './records.js';
import { familiarString, formatReference, parseNormalized } from './reference.js';
import { familiarTag, type ImageService } from './service.js';

export type ArchiveFormat = 'docker' | 'oci';

// ---------------- save ----------------

interface SaveItem {
  rec: ImageRecord;
  config: Buffer;
  manifest: Manifest;
  manifestBytes: Buffer;
  /** Tags requested for this image (fully qualified). */
  tags: string[];
}

/** Streams the images named by `refs` as a tar in the given format. */
export async function saveImages(
  svc: ImageService,
  refs: string[],
  format: ArchiveFormat = 'docker',
): Promise<Readable> {
  if (refs.length === 0) throw badRequest('no images to save');
  const byId = new Map<string, SaveItem>();
  for (const ref of refs) {
    const rec = svc.resolve(ref);
    let item = byId.get(rec.id);
    if (!item) {
      const manifestBytes = await svc.blobs.readBytes(rec.manifestDigest);
      item = {
        rec,
        config: await svc.blobs.readBytes(rec.id),
        manifest: JSON.parse(manifestBytes.toString('utf8')) as Manifest,
        manifestBytes,
        tags: [],
      };
      byId.set(rec.id, item);
    }
    // A name saves that tag; an ID saves all the image's tags (as Docker does).
    const named = namedTag(ref, rec);
    for (const t of named ?? rec.repoTags) if (!item.tags.includes(t)) item.tags.push(t);
  }
  const pack = tarPack();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  pack.pipe(out);
  const write = format === 'oci' ? writeOci : writeDocker;
  write(svc, pack, [...byId.values()]).then(
    () => pack.finalize(),
    (err: unknown) => out.destroy(internal(`saving images failed: ${messageOf(err)}`, err)),
  );
  return out;
}

function namedTag(ref: string, rec: ImageRecord): string[] | undefined {
  if (rec.id.slice(7).startsWith(ref.replace(/^sha256:/, ''))) return undefined;
  try {
    const r = parseNormalized(ref);
    if (r.digest) return []; // a digest names content, not a tag to save
    return [formatReference({ ...r, tag: r.tag ?? 'latest' })];
  } catch {
    return undefined;
  }
}

function addBuffer(pack: Pack, name: string, data: Buffer | string, mtime = new Date(0)): Promise<void> {
  return new Promise((resolve, reject) =>
    pack.entry({ name, mode: 0o644, mtime }, data, (err) => (err ? reject(err) : resolve())),
  );
}

function addStream(pack: Pack, name: string, size: number, source: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = pack.entry({ name, mode: 0o644, size, mtime: new Date(0) }, (err) =>
      err ? reject(err) : resolve(),
    );
    source.on('error', (e) => {
      sink.destroy(e);
      reject(e);
    });
    source.pipe(sink as unknown as NodeJS.WritableStream);
  });
}

/** The uncompressed bytes of a layer blob (docker-archive layer.tar files are uncompressed). */
async function uncompressedLayer(svc: ImageService, layer: Descriptor): Promise<Readable> {
  return (await decompress(await svc.blobs.get(layer.digest))).stream;
}

async function layerTarSize(svc: ImageService, layer: Descriptor, chainId: string): Promise<number> {
  const known = svc.layers.has(chainId) ? svc.layers.get(chainId).tarSize : -1;
  if (known >= 0 && !Number.isNaN(known)) return known;
  let n = 0;
  for await (const chunk of await uncompressedLayer(svc, layer)) n += (chunk as Buffer).length;
  return n;
}

async function writeDocker(svc: ImageService, pack: Pack, items: SaveItem[]): Promise<void> {
  const manifestJson: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const written = new Set<string>();
  for (const item of items) {
    const cfg = JSON.parse(item.config.toString('utf8')) as ImageConfig;
    const diffIds = cfg.rootfs.diff_ids;
    const chain = item.rec.topChainId ? svc.layers.chain(item.rec.topChainId) : [];
    const layerPaths: string[] = [];
    let parentV1 = '';
    for (const [i, layer] of item.manifest.layers.entries()) {
      // A v1-style ID per layer: deterministic in the chain, like Docker's.
      const v1 = sha256(`${parentV1} ${diffIds[i]}`).slice(7);
      const dir = `${v1}/`;
      if (!written.has(v1)) {
        written.add(v1);
        const size = await layerTarSize(svc, layer, chain[i]?.chainId ?? '');
        await addBuffer(pack, `${v1}/VERSION`, '1.0');
        const v1json: Record<string, unknown> = {
          id: v1,
          created: '1970-01-01T00:00:00Z',
          container_config: {},
        };
        if (parentV1) v1json.parent = parentV1;
        if (i === item.manifest.layers.length - 1)
          Object.assign(v1json, { os: cfg.os, architecture: cfg.architecture, config: cfg.config });
        await addBuffer(pack, `${v1}/json`, JSON.stringify(v1json));
        await addStream(pack, `${dir}layer.tar`, size, await uncompressedLayer(svc, layer));
      }
      layerPaths.push(`${dir}layer.tar`);
      parentV1 = v1;
    }
    const configName = `${item.rec.id.slice(7)}.json`;
    if (!written.has(configName)) {
      written.add(configName);
      await addBuffer(pack, configName, item.config);
    }
    const tags = item.tags.map(familiarTag);
    manifestJson.push({ Config: configName, RepoTags: tags.length ? tags : null, Layers: layerPaths });
    for (const t of tags) {
      const colon = t.lastIndexOf(':');
      repositories[t.slice(0, colon)] ??= {};
      repositories[t.slice(0, colon)]![t.slice(colon + 1)] = parentV1;
    }
  }
  await addBuffer(pack, 'manifest.json', JSON.stringify(manifestJson));
  if (Object.keys(repositories).length) await addBuffer(pack, 'repositories', JSON.stringify(repositories));
}

async function writeOci(svc: ImageService, pack: Pack, items: SaveItem[]): Promise<void> {
  await addBuffer(pack, 'oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const written = new Set<string>();
  const blobName = (d: string) => `blobs/${d.replace(':', '/')}`;
  const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  // Docker 25+ also writes manifest.json into OCI saves so older loaders can read them; so do we.
  const legacy: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  for (const item of items) {
    for (const layer of item.manifest.layers) {
      if (written.has(layer.digest)) continue;
      written.add(layer.digest);
      const { size } = await svc.blobs.stat(layer.digest);
      await addStream(pack, blobName(layer.digest), size, await svc.blobs.get(layer.digest));
    }
    for (const [digest, bytes] of [
      [item.rec.id, item.config],
      [item.rec.manifestDigest, item.manifestBytes],
    ] as const) {
      if (!written.has(digest)) {
        written.add(digest);
        await addBuffer(pack, blobName(digest), bytes);
      }
    }
    const base: Descriptor = {
      mediaType: item.manifest.mediaType ?? MediaType.OciManifest,
      digest: item.rec.manifestDigest,
      size: item.manifestBytes.length,
    };
    if (item.tags.length === 0) index.manifests.push(base);
    for (const t of item.tags) {
      const r = parseNormalized(t);
      index.manifests.push({
        ...base,
        annotations: {
          'io.containerd.image.name': t,
          'org.opencontainers.image.ref.name': r.tag ?? 'latest',
        },
      });
    }
    const tags = item.tags.map(familiarTag);
    legacy.push({
      Config: blobName(item.rec.id),
      RepoTags: tags.length ? tags : null,
      Layers: item.manifest.layers.map((l) => blobName(l.digest)),
    });
  }
  await addBuffer(pack, 'index.json', JSON.stringify(index));
  await addBuffer(pack, 'manifest.json', JSON.stringify(legacy));
}

// ---------------- load ----------------

interface StoredFile {
  digest: string;
  size: number;
}

const SMALL_FILE = 4 << 20;
const SMALL_TOTAL = 64 << 20;

/** Loads a docker-archive or OCI layout tar (optionally compressed). Returns Docker's "Loaded image" lines. */
export async function loadImages(svc: ImageService, source: Readable): Promise<{ loaded: string[] }> {
  const createdBlobs: string[] = [];
  const layersBefore = new Set(svc.layers.list().map((l) => l.chainId));
  const registered: string[] = [];
  const prestaging: Promise<PrestagedLayer | undefined>[] = [];
  try {
    const files = await readArchive(svc, source, createdBlobs, prestaging);
    await Promise.all(prestaging);
    const loaded =
      files.small.has('manifest.json') && !files.small.has('index.json')
        ? await loadDocker(svc, files, registered, createdBlobs)
        : files.small.has('index.json')
          ? await loadOci(svc, files, registered, createdBlobs)
          : undefined;
    if (!loaded) {
      throw badRequest(
        'invalid archive: neither manifest.json (docker-archive) nor index.json (OCI layout) was found',
      );
    }
    // Blobs in the archive that no loaded image references (v1 json files, foreign junk) are not kept.
    const referenced = new Set<string>();
    for (const id of registered) {
      const rec = svc.records.get(id)!;
      referenced.add(rec.id).add(rec.manifestDigest);
      for (const l of (await svc.getManifest(rec)).layers) referenced.add(l.digest);
    }
    for (const d of createdBlobs)
      if (!referenced.has(d) && !isReferencedElsewhere(svc, d)) await svc.blobs.delete(d);
    return { loaded };
  } catch (err) {
    // Nothing half-registered: drop the images, layers and blobs this load created.
    for (const id of registered) await svc.records.delete(id);
    const keepTops = svc.records
      .all()
      .map((r) => r.topChainId)
      .filter((c): c is string => !!c);
    const keep = new Set(keepTops.flatMap((t) => svc.layers.chain(t).map((l) => l.chainId)));
    for (const l of svc.layers.list())
      if (!layersBefore.has(l.chainId) && !keep.has(l.chainId)) await svc.layers.remove(l.chainId);
    for (const d of createdBlobs) if (!isReferencedElsewhere(svc, d)) await svc.blobs.delete(d);
    throw err;
  } finally {
    await svc.layers.discardPrestaged(await Promise.all(prestaging));
  }
}

function isReferencedElsewhere(svc: ImageService, digest: string): boolean {
  return svc.records.all().some((r) => r.id === digest || r.manifestDigest === digest);
}

interface ArchiveFiles {
  small: Map<string, Buffer>;
  stored: Map<string, StoredFile>;
  links: Map<string, string>;
}

/** Writes every chunk of `source` to each output, waiting for the slowest; a destroyed output is skipped. */
async function fanOut(source: AsyncIterable<Buffer>, outs: PassThrough[]): Promise<void> {
  const write = (o: PassThrough, chunk: Buffer) =>
    new Promise<void>((resolve) => {
      if (o.destroyed || o.write(chunk)) return resolve();
      const done = () => {
        o.off('drain', done);
        o.off('close', done);
        resolve();
      };
      o.on('drain', done);
      o.on('close', done);
    });
  try {
    for await (const chunk of source) await Promise.all(outs.map((o) => write(o, chunk)));
    for (const o of outs) o.end();
  } catch (err) {
    for (const o of outs) o.destroy(err as Error);
    throw err;
  }
}

async function readArchive(
  svc: ImageService,
  source: Readable,
  createdBlobs: string[],
  prestaging: Promise<PrestagedLayer | undefined>[],
): Promise<ArchiveFiles> {
  let stream: Readable;
  try {
    stream = (await decompress(source)).stream;
  } catch (err) {
    throw badRequest(`invalid archive: ${messageOf(err)}`);
  }
  const ex = tarExtract();
  let pipeErr: Error | undefined;
  stream.on('error', (e) => {
    pipeErr = e;
    ex.destroy(e);
  });
  stream.pipe(ex as unknown as NodeJS.WritableStream);
  const small = new Map<string, Buffer>();
  const stored = new Map<string, StoredFile>();
  const links = new Map<string, string>();
  let smallTotal = 0;
  let entries = 0;
  const finishing: Promise<void>[] = [];
  try {
    for await (const entry of ex) {
      entries++;
      const h = entry.header;
      const name = h.name.replace(/^\.\//, '');
      if (h.type === 'symlink' || h.type === 'link') {
        entry.resume();
        const target =
          h.type === 'symlink' ? joinRel(name, h.linkname ?? '') : (h.linkname ?? '').replace(/^\.\//, '');
        links.set(name, target);
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      const size = h.size ?? 0;
      const m = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(name);
      const expected = m ? `${m[1]}:${m[2]}` : undefined;
      if (expected && !isDigest(expected))
        throw badRequest(`invalid archive: "${name}" is not a valid blob name`);
      if (
        size <= SMALL_FILE &&
        (!name.endsWith('layer.tar') || size === 0) &&
        smallTotal + size <= SMALL_TOTAL
      ) {
        const chunks: Buffer[] = [];
        for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
        const buf = Buffer.concat(chunks);
        if (buf.length !== size) throw badRequest(`invalid archive: "${name}" is truncated`);
        if (expected && sha256(buf) !== expected && expected.startsWith('sha256:')) {
          throw badRequest(`invalid archive: blob "${name}" does not match its digest (got ${sha256(buf)})`);
        }
        small.set(name, buf);
        smallTotal += size;
      } else {
        // Layers are unpacked while they stream into the blob store (their chain is known only once
        // manifest.json, which comes last, has been read); registerImage adopts them by diffID.
        const toBlob = new PassThrough({ highWaterMark: 1 << 20 });
        const toLayer = new PassThrough({ highWaterMark: 1 << 20 });
        const putting = svc.blobs.put(toBlob, expected);
        putting.catch(() => {}); // awaited below; fanOut failing first must not leave it unhandled
        const plainDigest = putting.then((r) => r.digest);
        plainDigest.catch(() => {}); // the prestage may fail (and stop listening) first
        prestaging.push(svc.layers.prestage(toLayer, plainDigest));
        await fanOut(entry as unknown as AsyncIterable<Buffer>, [toBlob, toLayer]);
        // The blob's fsync and rename finish while the next entry streams in.
        finishing.push(
          putting.then(
            (res) => {
              if (res.created) createdBlobs.push(res.digest);
              if (res.size !== size) throw badRequest(`invalid archive: "${name}" is truncated`);
              stored.set(name, { digest: res.digest, size: res.size });
            },
            (err: unknown) => {
              throw badRequest(`invalid archive: "${name}": ${messageOf(err)}`);
            },
          ),
        );
      }
    }
    await Promise.all(finishing);
  } catch (err) {
    await Promise.allSettled(finishing);
    if (err instanceof Error && 'status' in err) throw err;
    throw badRequest(`invalid archive: ${messageOf(pipeErr ?? err)}`);
  }
  if (pipeErr) throw badRequest(`invalid archive: ${messageOf(pipeErr)}`);
  if (entries === 0) throw badRequest('invalid archive: not a tar archive, or empty');
  return { small, stored, links };
}

function joinRel(from: string, target: string): string {
  if (target.startsWith('/')) return target.slice(1);
  const parts = from.split('/').slice(0, -1);
  for (const p of target.split('/')) {
    if (p === '..') parts.pop();
    else if (p && p !== '.') parts.push(p);
  }
  return parts.join('/');
}

function resolveName(files: ArchiveFiles, name: string): string {
  let n = name.replace(/^\.\//, '');
  for (let i = 0; i < 10 && files.links.has(n); i++) n = files.links.get(n)!;
  return n;
}

/** A small file's bytes, or (for a stored blob) the blob's bytes. */
async function readSmall(
  svc: ImageService,
  files: ArchiveFiles,
  name: string,
  what: string,
): Promise<Buffer> {
  const n = resolveName(files, name);
  const buf = files.small.get(n);
  if (buf) return buf;
  const stored = files.stored.get(n);
  if (stored) return svc.blobs.readBytes(stored.digest);
  throw badRequest(`invalid archive: ${what} "${name}" is missing`);
}

async function blobCompression(svc: ImageService, digest: string): Promise<string> {
  const fh = await open(svc.blobs.path(digest), 'r');
  try {
    const head = Buffer.alloc(6);
    const { bytesRead } = await fh.read(head, 0, 6, 0);
    return detectCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

function parseJson<T>(buf: Buffer, what: string): T {
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (err) {
    throw badRequest(`invalid archive: ${what} is not valid JSON: ${messageOf(err)}`);
  }
}

/** Puts an archive file into the blob store (if it is not there yet) and returns its descriptor. */
async function layerDescriptor(
  svc: ImageService,
  files: ArchiveFiles,
  name: string,
  diffId: string,
  createdBlobs: string[],
): Promise<Descriptor> {
  const n = resolveName(files, name);
  let stored = files.stored.get(n);
  if (!stored) {
    const buf = files.small.get(n);
    if (!buf) throw badRequest(`invalid archive: layer "${name}" is missing`);
    const res = await svc.blobs.putBytes(buf);
    if (res.created) createdBlobs.push(res.digest);
    stored = { digest: res.digest, size: res.size };
  }
  // The media type follows the bytes (docker-archive layer.tar files are usually plain tar).
  const compression = stored.digest === diffId ? 'none' : await blobCompression(svc, stored.digest);
  const mediaType =
    { none: MediaType.OciLayer, zstd: MediaType.OciLayerZstd }[compression as string] ??
    MediaType.OciLayerGzip;
  return { mediaType, digest: stored.digest, size: stored.size };
}

async function loadDocker(
  svc: ImageService,
  files: ArchiveFiles,
  registered: string[],
  createdBlobs: string[],
): Promise<string[]> {
  const manifest = parseJson<unknown>(files.small.get('manifest.json')!, 'manifest.json');
  if (!Array.isArray(manifest)) throw badRequest('invalid archive: manifest.json is not an array');
  const loaded: string[] = [];
  for (const [i, entry] of (
    manifest as { Config?: unknown; RepoTags?: unknown; Layers?: unknown }[]
  ).entries()) {
    const where = `manifest.json[${i}]`;
    if (typeof entry?.Config !== 'string') throw badRequest(`invalid archive: ${where}.Config is missing`);
    if (!Array.isArray(entry.Layers) || !entry.Layers.every((l) => typeof l === 'string')) {
      throw badRequest(`invalid archive: ${where}.Layers must be an array of paths`);
    }
    const configBytes = await readSmall(svc, files, entry.Config, 'config');
    const config = parseJson<ImageConfig>(configBytes, entry.Config);
    const diffIds = config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== entry.Layers.length) {
      throw badRequest(
        `invalid archive: config ${entry.Config} has ${diffIds?.length ?? 0} diff_ids but ${where} lists ${entry.Layers.length} layers`,
      );
    }
    const layers: Descriptor[] = [];
    for (const [j, l] of (entry.Layers as string[]).entries())
      layers.push(await layerDescriptor(svc, files, l, diffIds[j]!, createdBlobs));
    const tags = Array.isArray(entry.RepoTags) ? (entry.RepoTags as string[]) : [];
    const full = tags.map((t) => {
      try {
        const r = parseNormalized(t);
        return formatReference({ ...r, tag: r.tag ?? 'latest' });
      } catch (err) {
        throw badRequest(`invalid archive: ${where}.RepoTags: ${messageOf(err)}`);
      }
    });
    const rec = await svc.registerImage({ config: configBytes, layers, tags: full });
    registered.push(rec.id);
    if (full.length) for (const t of full) loaded.push(`Loaded image: ${familiarString(parseNormalized(t))}`);
    else loaded.push(`Loaded image ID: ${rec.id}`);
  }
  return loaded;
}

async function loadOci(
  svc: ImageService,
  files: ArchiveFiles,
  registered: string[],
  createdBlobs: string[],
): Promise<string[]> {
  const layout = files.small.get('oci-layout');
  if (layout) {
    const v = parseJson<{ imageLayoutVersion?: string }>(layout, 'oci-layout');
    if (typeof v.imageLayoutVersion !== 'string')
      throw badRequest('invalid archive: oci-layout has no imageLayoutVersion');
  }
  const index = parseJson<Index>(files.small.get('index.json')!, 'index.json');
  if (!Array.isArray(index.manifests)) throw badRequest('invalid archive: index.json has no manifests array');
  const blobBytes = (d: string, what: string) => {
    if (!isDigest(d)) throw badRequest(`invalid archive: ${what} has an invalid digest "${d}"`);
    return readSmall(svc, files, `blobs/${d.replace(':', '/')}`, what);
  };
  const loaded: string[] = [];
  const platform = hostPlatform();
  const visit = async (desc: Descriptor, names: string[], where: string): Promise<void> => {
    const bytes = await blobBytes(desc.digest, where);
    if (desc.digest.startsWith('sha256:') && sha256(bytes) !== desc.digest)
      throw badRequest(`invalid archive: ${where} does not match digest ${desc.digest}`);
    const doc = parseJson<Manifest & Index>(bytes, where);
    if (isIndexType(desc.mediaType) || isIndexType(doc.mediaType) || Array.isArray(doc.manifests)) {
      const pick =
        doc.manifests.find(
          (m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture,
        ) ?? doc.manifests.find((m) => !m.platform);
      if (!pick)
        throw badRequest(
          `invalid archive: ${where} has no manifest for ${platform.os}/${platform.architecture}`,
        );
      return visit(pick, names, `${where} → ${pick.digest}`);
    }
    if (!doc.config?.digest || !Array.isArray(doc.layers))
      throw badRequest(`invalid archive: ${where} is not an image manifest`);
    const configBytes = await blobBytes(doc.config.digest, `config of ${where}`);
    if (sha256(configBytes) !== doc.config.digest)
      throw badRequest(`invalid archive: config ${doc.config.digest} does not match its digest`);
    const config = parseJson<ImageConfig>(configBytes, `config ${doc.config.digest}`);
    const diffIds = config.rootfs?.diff_ids ?? [];
    const layers: Descriptor[] = [];
    for (const [j, l] of doc.layers.entries()) {
      const n = resolveName(files, `blobs/${l.digest.replace(':', '/')}`);
      if (!files.stored.has(n) && !files.small.has(n))
        throw badRequest(`invalid archive: layer blob ${l.digest} is missing`);
      const d = await layerDescriptor(svc, files, n, diffIds[j] ?? '', createdBlobs);
      if (d.digest !== l.digest)
        throw badRequest(`invalid archive: layer blob ${l.digest} does not match its digest`);
      layers.push({ ...l, size: d.size });
    }
    const rec = await svc.registerImage({ config: configBytes, layers, manifest: bytes, tags: names });
    registered.push(rec.id);
    if (names.length)
      for (const t of names) loaded.push(`Loaded image: ${familiarString(parseNormalized(t))}`);
    else loaded.push(`Loaded image ID: ${rec.id}`);
  };
  for (const [i, desc] of index.manifests.entries()) {
    const ann = desc.annotations ?? {};
    const names: string[] = [];
    const full = ann['io.containerd.image.name'] ?? ann['org.opencontainers.image.ref.name'];
    if (full) {
      try {
        const r = parseNormalized(full);
        if (!r.digest && (full.includes(':') || full.includes('/')))
          names.push(formatReference({ ...r, tag: r.tag ?? 'latest' }));
      } catch {
        // A bare tag in ref.name (no repository) cannot name an image here.
      }
    }
    await visit(desc, names, `index.json manifests[${i}]`);
  }
  return loaded;
}
