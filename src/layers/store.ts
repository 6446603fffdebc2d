// The layer store: one unpacked directory per chain ID, shared by every image that has that chain.
//   layers/<chainHex>/{diff/, diffID, size, parent, link}   l/<short> → ../layers/<chainHex>/diff
// A layer is unpacked into layers/.tmp-*/ and renamed into place; the rename is the commit point, so a
// crash leaves only temp dirs, which init() removes.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { badRequest, notFound, parseDigest, TEMP_PREFIX, writeFileAtomic } from '../util/index.js';
import { type ApplyResult, applyLayer } from './apply.js';
import { chainId as computeChainId } from './chain.js';
import { mountOverlay, unmount } from './snapshots.js';

export interface LayerInfo {
  chainId: string;
  diffId: string;
  parent: string | null;
  /** Bytes of file content in this layer alone. */
  size: number;
  /** Size of the uncompressed layer tar (its diffID's content). */
  tarSize: number;
  /** Absolute path of the unpacked directory. */
  diffDir: string;
  /** Short link name under l/. */
  short: string;
}

const EMPTY = 'empty';

/** What unpacking a layer reports (as applyLayer does). */
export type UnpackedLayer = Pick<ApplyResult, 'diffId' | 'size' | 'tarSize'>;
/** Unpacks a layer into `dir`, an empty directory. */
export type LayerFill = (dir: string) => Promise<UnpackedLayer>;

/** An unpacked layer waiting for its chain (see prestage). */
export interface PrestagedLayer {
  readonly diffId: string;
}

interface Staged {
  tmp: string;
  diffId: string;
  size: number;
  tarSize: number;
}

export class LayerStore {
  readonly root: string;
  private readonly layersDir: string;
  private readonly linksDir: string;
  private readonly cache = new Map<string, LayerInfo>();
  private readonly inflight = new Map<string, Promise<LayerInfo>>();
  private readonly prestaged: Staged[] = [];

  constructor(dataRoot: string) {
    this.root = dataRoot;
    this.layersDir = join(dataRoot, 'layers');
    this.linksDir = join(dataRoot, 'l');
  }

  async init(): Promise<void> {
    await mkdir(this.layersDir, { recursive: true });
    await mkdir(this.linksDir, { recursive: true });
    await mkdir(join(this.layersDir, EMPTY, 'diff'), { recursive: true });
    await this.ensureLink(EMPTY, EMPTY);
    this.cache.clear();
    for (const name of await readdir(this.layersDir)) {
      if (name.startsWith(TEMP_PREFIX)) {
        await rm(join(this.layersDir, name), { recursive: true, force: true });
        continue;
      }
      if (name === EMPTY) continue;
      try {
        const info = await this.readInfo(name);
        this.cache.set(info.chainId, info);
        await this.ensureLink(info.short, name);
      } catch {
        // Unreadable metadata means an interrupted write: the layer is not usable, drop it.
        await rm(join(this.layersDir, name), { recursive: true, force: true });
      }
    }
    for (const link of await readdir(this.linksDir)) {
      if (!existsSync(join(this.linksDir, link))) await unlink(join(this.linksDir, link)).catch(() => {});
    }
  }

  private async readInfo(hex: string): Promise<LayerInfo> {
    const dir = join(this.layersDir, hex);
    const read = async (f: string) => (await readFile(join(dir, f), 'utf8')).trim();
    const parent = await read('parent');
    return {
      chainId: `sha256:${hex}`,
      diffId: await read('diffID'),
      parent: parent || null,
      size: Number(await read('size')),
      tarSize: Number(await read('tarSize').catch(() => '-1')),
      diffDir: join(dir, 'diff'),
      short: await read('link'),
    };
  }

  private async ensureLink(short: string, hex: string): Promise<void> {
    const link = join(this.linksDir, short);
    const target = `../layers/${hex}/diff`;
    try {
      if ((await readlink(link)) === target) return;
      await unlink(link);
    } catch {}
    await symlink(target, link);
  }

  has(chainId: string): boolean {
    return this.cache.has(chainId);
  }

  get(chainId: string): LayerInfo {
    const info = this.cache.get(chainId);
    if (!info) throw notFound(`layer ${chainId} not found`);
    return info;
  }

  list(): LayerInfo[] {
    return [...this.cache.values()];
  }

  /** The chain from the bottom layer to `top`. */
  chain(top: string | null): LayerInfo[] {
    const out: LayerInfo[] = [];
    for (let cur = top; cur; cur = this.get(cur).parent) out.unshift(this.get(cur));
    return out;
  }

  /**
   * Makes sure the layer `diffId` on top of `parent` is unpacked, unpacking `open()`'s stream when it is
   * not. Concurrent calls for the same chain share one unpack. The unpacked content must hash to diffId.
   */
  ensure(parent: string | null, diffId: string, open: () => Promise<Readable>): Promise<LayerInfo> {
    return this.ensureFilled(parent, diffId, async (dir) => unpackStream(await open(), dir));
  }

  /**
   * ensure(), with the unpacking left to `fill`: it extracts the layer into `dir` (an empty directory) and
   * answers what applyLayer does (a pull unpacking on a worker thread).
   */
  ensureFilled(parent: string | null, diffId: string, fill: LayerFill): Promise<LayerInfo> {
    parseDigest(diffId);
    const chainId = computeChainId(parent, diffId);
    const have = this.cache.get(chainId);
    if (have) return Promise.resolve(have);
    let p = this.inflight.get(chainId);
    if (!p) {
      p = (async () => {
        const staged = this.takePrestaged(diffId) ?? (await this.stageWith(fill));
        if (staged.diffId !== diffId) {
          await rm(staged.tmp, { recursive: true, force: true });
          throw badRequest(
            `layer content does not match its diffID: expected ${diffId}, got ${staged.diffId}`,
          );
        }
        return this.commit(staged, parent);
      })().finally(() => this.inflight.delete(chainId));
      this.inflight.set(chainId, p);
    }
    return p;
  }

  /**
   * Unpacks a layer before its place in a chain is known (a load streaming an archive whose manifest
   * comes last); a later ensure() for its diffID adopts the directory instead of unpacking again.
   * Never throws: content that is not a valid layer is simply not prestaged.
   */
  async prestage(source: Readable, plainDigest?: Promise<string>): Promise<PrestagedLayer | undefined> {
    try {
      const staged = await this.stage(source, plainDigest);
      this.prestaged.push(staged);
      return staged;
    } catch {
      return undefined;
    }
  }

  /** Removes prestaged layers nobody adopted. */
  async discardPrestaged(layers: readonly (PrestagedLayer | undefined)[]): Promise<void> {
    for (const l of layers) {
      const i = l ? this.prestaged.indexOf(l as Staged) : -1;
      if (i < 0) continue;
      this.prestaged.splice(i, 1);
      await rm((l as Staged).tmp, { recursive: true, force: true });
    }
  }

  private takePrestaged(diffId: string): Staged | undefined {
    const i = this.prestaged.findIndex((s) => s.diffId === diffId);
    return i < 0 ? undefined : this.prestaged.splice(i, 1)[0];
  }

  /** Unpacks a layer whose diffID is not known in advance (commit, import) on top of `parent`. */
  async apply(parent: string | null, source: Readable): Promise<LayerInfo> {
    if (parent) this.get(parent);
    const staged = await this.stage(source);
    const chainId = computeChainId(parent, staged.diffId);
    const have = this.cache.get(chainId);
    if (have) {
      await rm(staged.tmp, { recursive: true, force: true });
      return have;
    }
    return this.commit(staged, parent);
  }

  /**
   * Takes `dir`, already laid out as the unpacked layer `diffId` on top of `parent` (a directory the
   * caller made and archived itself, e.g. a build step's layer), by moving it into the store instead of
   * unpacking the tar again. `dir` must be on the store's filesystem; undefined when it is not (the
   * caller then unpacks). When the chain exists already `dir` is left alone.
   */
  async adopt(
    parent: string | null,
    dir: string,
    layer: { diffId: string; size: number; tarSize: number },
  ): Promise<LayerInfo | undefined> {
    parseDigest(layer.diffId);
    if (parent) this.get(parent);
    const have = this.cache.get(computeChainId(parent, layer.diffId));
    if (have) return have;
    const tmp = join(this.layersDir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    await mkdir(tmp, { recursive: true });
    try {
      await rename(dir, join(tmp, 'diff'));
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if ((err as NodeJS.ErrnoException).code === 'EXDEV') return undefined;
      throw err;
    }
    return this.commit({ tmp, ...layer }, parent);
  }

  private stage(source: Readable, plainDigest?: Promise<string>): Promise<Staged> {
    return this.stageWith((dir) => unpackStream(source, dir, plainDigest));
  }

  /** Unpacks a layer into a new temp directory with `fill`; nothing is left behind when it fails. */
  private async stageWith(fill: LayerFill): Promise<Staged> {
    const tmp = join(this.layersDir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    await mkdir(join(tmp, 'diff'), { recursive: true });
    try {
      const r = await fill(join(tmp, 'diff'));
      return { tmp, diffId: r.diffId, size: r.size, tarSize: r.tarSize };
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  private async commit(staged: Staged, parent: string | null): Promise<LayerInfo> {
    const chainId = computeChainId(parent, staged.diffId);
    const have = this.cache.get(chainId);
    if (have) {
      await rm(staged.tmp, { recursive: true, force: true });
      return have;
    }
    const hex = parseDigest(chainId).hex;
    const short = randomBytes(8).toString('base64url').replace(/[-_]/g, 'x').slice(0, 10).toUpperCase();
    await writeFileAtomic(join(staged.tmp, 'diffID'), staged.diffId);
    await writeFileAtomic(join(staged.tmp, 'size'), String(staged.size));
    await writeFileAtomic(join(staged.tmp, 'tarSize'), String(staged.tarSize));
    await writeFileAtomic(join(staged.tmp, 'parent'), parent ?? '');
    await writeFileAtomic(join(staged.tmp, 'link'), short);
    const final = join(this.layersDir, hex);
    await rm(final, { recursive: true, force: true });
    await rename(staged.tmp, final);
    await this.ensureLink(short, hex);
    const info: LayerInfo = {
      chainId,
      diffId: staged.diffId,
      parent,
      tarSize: staged.tarSize,
      size: staged.size,
      diffDir: join(final, 'diff'),
      short,
    };
    this.cache.set(chainId, info);
    return info;
  }

  /** Removes one layer (the caller has checked that nothing uses it). */
  async remove(chainId: string): Promise<void> {
    const info = this.cache.get(chainId);
    if (!info) return;
    this.cache.delete(chainId);
    await unlink(join(this.linksDir, info.short)).catch(() => {});
    const hex = parseDigest(chainId).hex;
    // Rename first so a crash mid-delete leaves a temp dir, not a half-deleted layer.
    const doomed = join(this.layersDir, `${TEMP_PREFIX}rm-${hex}`);
    await rename(join(this.layersDir, hex), doomed).catch(() => {});
    await rm(doomed, { recursive: true, force: true });
  }

  /** Removes every layer not in `keep` or below one of them. Returns the removed chain IDs. */
  async gc(keepTops: Iterable<string>): Promise<string[]> {
    const keep = new Set<string>();
    for (const top of keepTops) for (const l of this.chain(top)) keep.add(l.chainId);
    const removed: string[] = [];
    for (const id of [...this.cache.keys()]) {
      if (!keep.has(id) && !this.inflight.has(id)) {
        await this.remove(id);
        removed.push(id);
      }
    }
    return removed;
  }

  /** Lower directories for a chain as absolute paths, top first (for GraphDriver data). */
  lowerDirs(top: string | null): string[] {
    return this.chain(top)
      .reverse()
      .map((l) => l.diffDir);
  }

  /**
   * Mounts the image rootfs: layers of `top` (or an empty lower for an image without layers) under a
   * writable upper. upperDir and workDir must be absolute and on the same filesystem.
   */
  async mountRootfs(
    top: string | null,
    upperDir: string,
    workDir: string,
    target: string,
    opts: { volatile?: boolean } = {},
  ): Promise<void> {
    const lowers = top
      ? this.chain(top)
          .reverse()
          .map((l) => `l/${l.short}`)
      : [`l/${EMPTY}`];
    await mountOverlay(this.root, lowers, upperDir, workDir, target, opts);
  }

  async unmount(target: string): Promise<void> {
    await unmount(target);
  }
}

/** applyLayer, destroying `source` when it fails so that whatever feeds it stops. */
async function unpackStream(
  source: Readable,
  dir: string,
  plainDigest?: Promise<string>,
): Promise<ApplyResult> {
  try {
    return await applyLayer(source, dir, plainDigest ? { plainDigest } : {});
  } catch (err) {
    source.destroy();
    throw err;
  }
}
