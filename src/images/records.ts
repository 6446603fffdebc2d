// Image records on disk (images/<hex>.json, one per image, written atomically) and the in-memory index
// of tags and digests rebuilt from them on start.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX, writeJsonAtomic } from '../util/index.js';

export interface ImageRecord {
  /** Config digest: the image ID. */
  id: string;
  /** Fully qualified tags: `docker.io/library/busybox:latest`. */
  repoTags: string[];
  /** Fully qualified digests: `docker.io/library/busybox@sha256:…`. */
  repoDigests: string[];
  /** The manifest blob describing this image. */
  manifestDigest: string;
  /** The local image this one was built or committed from. */
  parent?: string;
  /** Chain ID of the top layer (null for an image without layers). */
  topChainId: string | null;
  /** Sum of the layers' unpacked sizes. */
  size: number;
  created: string;
  lastTagTime?: string;
}

export class RecordStore {
  private readonly dir: string;
  private readonly byId = new Map<string, ImageRecord>();

  constructor(dataRoot: string) {
    this.dir = join(dataRoot, 'images');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.byId.clear();
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (name.startsWith(TEMP_PREFIX)) {
        await rm(path, { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        const rec = JSON.parse(await readFile(path, 'utf8')) as ImageRecord;
        this.byId.set(rec.id, rec);
      } catch {
        // Atomic writes mean this cannot be half-written; an unreadable record is moved aside, not loaded.
        await rm(path, { force: true });
      }
    }
  }

  all(): ImageRecord[] {
    return [...this.byId.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.byId.get(id);
  }

  byTag(tag: string): ImageRecord | undefined {
    for (const r of this.byId.values()) if (r.repoTags.includes(tag)) return r;
    return undefined;
  }

  byRepoDigest(ref: string): ImageRecord | undefined {
    for (const r of this.byId.values()) if (r.repoDigests.includes(ref)) return r;
    return undefined;
  }

  async save(rec: ImageRecord): Promise<void> {
    await writeJsonAtomic(join(this.dir, `${rec.id.replace(':', '-')}.json`), rec);
    this.byId.set(rec.id, rec);
  }

  async delete(id: string): Promise<void> {
    this.byId.delete(id);
    await rm(join(this.dir, `${id.replace(':', '-')}.json`), { force: true });
  }
}
