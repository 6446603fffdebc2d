// Filesystem storage. Blobs are content-addressed once for all repositories; repositories hold links to
// the blobs they may serve, manifest revisions (metadata; the bytes are a blob) and tag pointers.
//
//   blobs/<alg>/<hex>                                   blob and manifest bytes
//   repositories/<name>/_layers/<alg>/<hex>             link: the repository may serve this blob
//   repositories/<name>/_manifests/revisions/<alg>/<hex>.json   manifest metadata (media type, size...)
//   repositories/<name>/_manifests/tags/<tag>           the digest the tag points at
//   repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>.json  descriptor of a manifest whose subject is <hex>
//   uploads/<uuid>/{data,info.json}                     upload sessions (never visible as blobs)
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/index.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** What a repository knows about one manifest revision. */
export interface ManifestRecord extends Descriptor {
  subject?: string;
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** `sha256:abc` → `sha256/abc` (digests are validated before they reach storage). */
const digestPath = (digest: string) => digest.replace(':', '/');

export class Storage {
  readonly root: string;
  readonly blobsDir: string;
  readonly reposDir: string;
  readonly uploadsDir: string;
  /** repo\0digest → blob size, for linked blobs; saves two stats per blob GET. Bounded, cleared when full. */
  private readonly linkCache = new Map<string, number>();
  private static readonly CACHE_LIMIT = 50_000;

  constructor(root: string) {
    this.root = root;
    this.blobsDir = join(root, 'blobs');
    this.reposDir = join(root, 'repositories');
    this.uploadsDir = join(root, 'uploads');
  }

  async init(): Promise<void> {
    for (const dir of [this.blobsDir, this.reposDir, this.uploadsDir]) await mkdir(dir, { recursive: true });
  }

  blobPath(digest: string): string {
    return join(this.blobsDir, digestPath(digest));
  }

  repoDir(repo: string): string {
    return join(this.reposDir, repo);
  }

  private linkPath(repo: string, digest: string): string {
    return join(this.reposDir, repo, '_layers', digestPath(digest));
  }

  private revisionPath(repo: string, digest: string): string {
    return join(this.reposDir, repo, '_manifests', 'revisions', `${digestPath(digest)}.json`);
  }

  private tagPath(repo: string, tag: string): string {
    return join(this.reposDir, repo, '_manifests', 'tags', tag);
  }

  private referrersDir(repo: string, subject: string): string {
    return join(this.reposDir, repo, '_referrers', digestPath(subject));
  }

  async repoExists(repo: string): Promise<boolean> {
    for (const sub of ['_manifests', '_layers']) {
      try {
        await access(join(this.reposDir, repo, sub), constants.F_OK);
        return true;
      } catch {}
    }
    return false;
  }

  /** Size of a blob in the global store, or null. */
  async blobSize(digest: string): Promise<number | null> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  /** Size of a blob the repository links to, or null when it is not linked (or gone). */
  async linkedBlobSize(repo: string, digest: string): Promise<number | null> {
    const key = `${repo}\0${digest}`;
    const cached = this.linkCache.get(key);
    if (cached !== undefined) return cached;
    try {
      await access(this.linkPath(repo, digest), constants.F_OK);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    const size = await this.blobSize(digest);
    if (size !== null) {
      if (this.linkCache.size >= Storage.CACHE_LIMIT) this.linkCache.clear();
      this.linkCache.set(key, size);
    }
    return size;
  }

  /** Forgets cached knowledge of a blob (a read found it gone). */
  forget(repo: string, digest: string): void {
    this.linkCache.delete(`${repo}\0${digest}`);
  }

  async linkBlob(repo: string, digest: string): Promise<void> {
    const path = this.linkPath(repo, digest);
    try {
      await access(path, constants.F_OK);
      return;
    } catch {}
    await writeFileAtomic(path, digest);
  }

  /** Removes a repository's link to a blob; false when there was none. */
  async unlinkBlob(repo: string, digest: string): Promise<boolean> {
    this.forget(repo, digest);
    try {
      await unlink(this.linkPath(repo, digest));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** Moves a verified, fsynced file into the blob store under its digest (same filesystem: a rename). */
  async commitBlobFile(file: string, digest: string): Promise<void> {
    const dest = this.blobPath(digest);
    await mkdir(join(dest, '..'), { recursive: true });
    await rename(file, dest);
  }

  /** Writes bytes as a blob (manifests), atomically, unless it is there already. */
  async putBlobBytes(digest: string, bytes: Uint8Array): Promise<void> {
    if ((await this.blobSize(digest)) === bytes.length) return;
    await writeFileAtomic(this.blobPath(digest), bytes);
  }

  async putManifest(repo: string, record: ManifestRecord, bytes: Uint8Array, tag?: string): Promise<void> {
    await this.putBlobBytes(record.digest, bytes);
    await writeJsonAtomic(this.revisionPath(repo, record.digest), record);
    if (record.subject) {
      const { subject, ...descriptor } = record;
      const name = `${record.digest.replace(':', '-')}.json`;
      await writeJsonAtomic(join(this.referrersDir(repo, subject), name), descriptor);
    }
    if (tag) await writeFileAtomic(this.tagPath(repo, tag), record.digest);
  }

  async getManifestRecord(repo: string, digest: string): Promise<ManifestRecord | null> {
    try {
      return JSON.parse(await readFile(this.revisionPath(repo, digest), 'utf8')) as ManifestRecord;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async resolveTag(repo: string, tag: string): Promise<string | null> {
    try {
      return (await readFile(this.tagPath(repo, tag), 'utf8')).trim();
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async listTags(repo: string): Promise<string[]> {
    return (await readdirOrEmpty(join(this.reposDir, repo, '_manifests', 'tags')))
      .filter((n) => !n.startsWith('.'))
      .sort();
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    try {
      await unlink(this.tagPath(repo, tag));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** Deletes a manifest revision, every tag pointing at it, and its referrer entry. */
  async deleteManifest(repo: string, digest: string): Promise<boolean> {
    const record = await this.getManifestRecord(repo, digest);
    if (!record) return false;
    for (const tag of await this.listTags(repo)) {
      if ((await this.resolveTag(repo, tag)) === digest) await this.deleteTag(repo, tag);
    }
    if (record.subject) {
      await rm(join(this.referrersDir(repo, record.subject), `${digest.replace(':', '-')}.json`), {
        force: true,
      });
    }
    await rm(this.revisionPath(repo, digest), { force: true });
    return true;
  }

  async listReferrers(repo: string, subject: string): Promise<Descriptor[]> {
    const dir = this.referrersDir(repo, subject);
    const out: Descriptor[] = [];
    for (const name of (await readdirOrEmpty(dir)).sort()) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      try {
        out.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as Descriptor);
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    }
    return out;
  }

  /** Digests of every manifest revision of a repository. */
  async listRevisions(repo: string): Promise<string[]> {
    const base = join(this.reposDir, repo, '_manifests', 'revisions');
    const out: string[] = [];
    for (const alg of await readdirOrEmpty(base)) {
      for (const name of await readdirOrEmpty(join(base, alg))) {
        if (name.endsWith('.json') && !name.startsWith('.')) out.push(`${alg}:${name.slice(0, -5)}`);
      }
    }
    return out.sort();
  }

  /** Digests of every blob a repository links to. */
  async listLinks(repo: string): Promise<string[]> {
    const base = join(this.reposDir, repo, '_layers');
    const out: string[] = [];
    for (const alg of await readdirOrEmpty(base)) {
      for (const name of await readdirOrEmpty(join(base, alg))) {
        if (!name.startsWith('.')) out.push(`${alg}:${name}`);
      }
    }
    return out.sort();
  }

  /** Every blob digest in the global store. */
  async listBlobs(): Promise<string[]> {
    const out: string[] = [];
    for (const alg of await readdirOrEmpty(this.blobsDir)) {
      for (const name of await readdirOrEmpty(join(this.blobsDir, alg))) {
        if (!name.startsWith('.')) out.push(`${alg}:${name}`);
      }
    }
    return out.sort();
  }

  /** Every repository name, sorted (a directory holding `_manifests` or `_layers` is a repository). */
  async listRepositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      let isRepo = false;
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        if (e.name === '_manifests' || e.name === '_layers') isRepo = true;
        else if (!e.name.startsWith('_') && !e.name.startsWith('.')) {
          await walk(join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name);
        }
      }
      if (isRepo && prefix) out.push(prefix);
    };
    await walk(this.reposDir, '');
    return out.sort();
  }

  async deleteBlob(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

/** fsyncs a file so a rename after it publishes complete data. */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
