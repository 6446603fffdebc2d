// Garbage collection, mark and sweep. Mark: every manifest a tag points at (and, unless deleteUntagged,
// every manifest revision), what it references (config, layers, index children), and manifests whose
// subject is marked (referrers). Sweep: every blob in the store that is not marked.
// Run it while the registry is stopped: an upload committed during a sweep could lose its blob.
import { readFile } from 'node:fs/promises';
import { isDigest } from '../util/index.js';
import { Storage } from './storage.js';

export interface GcOptions {
  /** Report what would be deleted without deleting anything. */
  dryRun?: boolean;
  /** Also delete manifests no tag points at (and whose subject is not kept). */
  deleteUntagged?: boolean;
}

export interface GcReport {
  dryRun: boolean;
  /** Manifest revisions deleted (or that would be) from repositories. */
  manifestsDeleted: { repository: string; digest: string }[];
  /** Blobs deleted (or that would be) from the store, with their sizes. */
  blobsDeleted: { digest: string; size: number }[];
  bytesFreed: number;
  blobsKept: number;
}

type Obj = Record<string, unknown>;

/** Digests a stored manifest references: blobs (config, layers) and child manifests. Lenient: a bad one marks nothing. */
async function references(
  storage: Storage,
  digest: string,
): Promise<{ blobs: string[]; manifests: string[] }> {
  const out = { blobs: [] as string[], manifests: [] as string[] };
  let doc: Obj;
  try {
    doc = JSON.parse(await readFile(storage.blobPath(digest), 'utf8')) as Obj;
  } catch {
    return out;
  }
  const digestOf = (d: unknown) => (d && typeof d === 'object' ? (d as Obj).digest : undefined);
  const add = (list: string[], d: unknown) => {
    const v = digestOf(d);
    if (typeof v === 'string' && isDigest(v)) list.push(v);
  };
  add(out.blobs, doc.config);
  if (Array.isArray(doc.layers)) for (const l of doc.layers) add(out.blobs, l);
  if (Array.isArray(doc.manifests)) for (const m of doc.manifests) add(out.manifests, m);
  return out;
}

export async function garbageCollect(root: string, options: GcOptions = {}): Promise<GcReport> {
  const storage = new Storage(root);
  const dryRun = options.dryRun ?? false;
  const marked = new Set<string>();
  const report: GcReport = { dryRun, manifestsDeleted: [], blobsDeleted: [], bytesFreed: 0, blobsKept: 0 };

  for (const repo of await storage.listRepositories()) {
    const revisions = await storage.listRevisions(repo);
    const keep = new Set<string>();
    const roots: string[] = [];
    for (const tag of await storage.listTags(repo)) {
      const d = await storage.resolveTag(repo, tag);
      if (d && isDigest(d)) roots.push(d);
    }
    if (!options.deleteUntagged) roots.push(...revisions);
    const visit = async (digest: string): Promise<void> => {
      if (keep.has(digest)) return;
      keep.add(digest);
      const refs = await references(storage, digest);
      for (const b of refs.blobs) marked.add(b);
      for (const child of refs.manifests) await visit(child);
    };
    for (const r of roots) await visit(r);
    // Referrers of kept manifests stay (signatures, SBOMs are untagged by design); repeat to a fixpoint.
    let grew = true;
    while (grew) {
      grew = false;
      for (const rev of revisions) {
        if (keep.has(rev)) continue;
        const record = await storage.getManifestRecord(repo, rev);
        if (record?.subject && keep.has(record.subject)) {
          await visit(rev);
          grew = true;
        }
      }
    }
    for (const rev of revisions) {
      if (keep.has(rev)) continue;
      report.manifestsDeleted.push({ repository: repo, digest: rev });
      if (!dryRun) {
        await storage.deleteManifest(repo, rev);
        await storage.unlinkBlob(repo, rev);
      }
    }
    for (const d of keep) marked.add(d);
  }

  for (const digest of await storage.listBlobs()) {
    if (marked.has(digest)) {
      report.blobsKept++;
      continue;
    }
    const size = (await storage.blobSize(digest)) ?? 0;
    report.blobsDeleted.push({ digest, size });
    report.bytesFreed += size;
    if (!dryRun) await storage.deleteBlob(digest);
  }
  if (!dryRun && report.blobsDeleted.length > 0) {
    // Links to swept blobs would only answer BLOB_UNKNOWN later; remove them so listings stay honest.
    const swept = new Set(report.blobsDeleted.map((b) => b.digest));
    for (const repo of await storage.listRepositories()) {
      for (const link of await storage.listLinks(repo)) {
        if (swept.has(link)) await storage.unlinkBlob(repo, link);
      }
    }
  }
  return report;
}
