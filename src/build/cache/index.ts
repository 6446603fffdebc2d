// The build cache: a step's result is an ordinary image whose parent is the step's input image. The
// index maps a step key (parent image ID + expanded instruction + args in effect + source checksum)
// to that image ID; an entry whose image is gone is simply a miss.
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256, writeJsonAtomic } from '../../util/index.js';

export interface CacheKeyInput {
  /** The image the step runs on (null for a step on scratch). */
  parent: string | null;
  /** The instruction as recorded in history (expanded), e.g. `/bin/sh -c #(nop)  ENV A=b`. */
  createdBy: string;
  /** Build args in effect for the step (`NAME=value`), sorted by the caller or not: they are sorted here. */
  args: string[];
  /** COPY/ADD: checksum of the sources' paths, modes, owners and contents. */
  contentChecksum?: string;
  /** Anything else that changes the result (RUN mounts, network mode). */
  extra?: string;
}

export function cacheKey(input: CacheKeyInput): string {
  const parts = [
    `parent:${input.parent ?? 'scratch'}`,
    `cmd:${input.createdBy}`,
    `args:${[...input.args].sort().join('\u0000')}`,
    `content:${input.contentChecksum ?? ''}`,
    `extra:${input.extra ?? ''}`,
  ];
  return sha256(parts.join('\n'));
}

interface IndexFile {
  version: 1;
  entries: Record<string, string>;
}

/** The cache index under `<dataRoot>/buildcache/index.json`; writes are atomic and serialised. */
export class BuildCache {
  readonly dir: string;
  private readonly file: string;
  private entries = new Map<string, string>();
  private loaded = false;
  private writing: Promise<void> = Promise.resolve();
  private pending: Promise<void> | undefined;
  private dirty = false;

  constructor(dataRoot: string) {
    this.dir = join(dataRoot, 'buildcache');
    this.file = join(this.dir, 'index.json');
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    await mkdir(this.dir, { recursive: true });
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as IndexFile;
      if (parsed && parsed.version === 1 && typeof parsed.entries === 'object')
        this.entries = new Map(Object.entries(parsed.entries).filter(([, v]) => typeof v === 'string'));
    } catch {
      // Missing or unreadable: an empty cache (entries are only hints, images are the truth).
    }
    this.loaded = true;
  }

  /** The image ID cached for `key`, if `exists` says the image is still there. */
  async lookup(key: string, exists: (imageId: string) => boolean): Promise<string | undefined> {
    await this.load();
    const id = this.entries.get(key);
    if (id === undefined) return undefined;
    if (exists(id)) return id;
    this.entries.delete(key);
    return undefined;
  }

  /**
   * Records a step's result. The index file is rewritten in the background, coalescing steps that finish
   * meanwhile, without fsync (entries are hints: a crash only loses cache hits); the promise resolves
   * once a write that includes this entry is done. `flush()` waits for all of them.
   */
  async store(key: string, imageId: string): Promise<void> {
    await this.load();
    this.entries.set(key, imageId);
    this.dirty = true;
    if (!this.pending) {
      this.pending = this.writing.then(async () => {
        this.pending = undefined;
        if (!this.dirty) return;
        this.dirty = false;
        const snapshot: IndexFile = { version: 1, entries: Object.fromEntries(this.entries) };
        const tmp = `${this.file}.tmp-${process.pid}`;
        await writeFile(tmp, JSON.stringify(snapshot));
        await rename(tmp, this.file);
      });
      this.writing = this.pending.catch(() => {});
    }
    await this.pending;
  }

  /** Waits until every stored entry is written. */
  async flush(): Promise<void> {
    await this.writing;
  }

  /** Forgets every cache entry and removes the cache mounts; returns the bytes of mounts removed. */
  async prune(): Promise<{ entries: string[]; space: number }> {
    await this.load();
    const entries = [...this.entries.keys()];
    this.entries.clear();
    this.writing = this.writing.then(() => writeJsonAtomic(this.file, { version: 1, entries: {} }));
    await this.writing;
    const mounts = join(this.dir, 'mounts');
    const space = await duBytes(mounts);
    await rm(mounts, { recursive: true, force: true });
    return { entries, space };
  }

  /** A persistent directory for `RUN --mount=type=cache` with this id. */
  mountDir(id: string): string {
    return join(
      this.dir,
      'mounts',
      sha256(id)
        .replace(/^sha256:/, '')
        .slice(0, 32),
    );
  }
}

async function duBytes(path: string): Promise<number> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await readdir(path)) total += await duBytes(join(path, name));
  return total;
}
