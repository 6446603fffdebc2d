// Manifest, tag list, referrers and catalog handlers.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { RequestContext } from './context.js';
import { regError } from './errors.js';
import { paginate, readBody, send, sendJson } from './http.js';
import { accepts, OCI_INDEX, parseManifest } from './manifests.js';
import { checkDigest, isDigestRef, isValidTag } from './names.js';
import type { ManifestRecord } from './storage.js';

const manifestUnknown = (name: string, ref: string) =>
  regError('MANIFEST_UNKNOWN', `manifest ${name}:${ref} unknown`, { detail: { name, reference: ref } });

async function requireRepo(ctx: RequestContext, name: string): Promise<void> {
  if (!(await ctx.storage.repoExists(name))) {
    throw regError('NAME_UNKNOWN', `repository ${name} not known to registry`, { detail: { name } });
  }
}

/** The digest a reference (tag or digest) names in the repository. */
async function resolve(ctx: RequestContext, name: string, ref: string): Promise<string> {
  if (isDigestRef(ref)) {
    const { algorithm, hex } = checkDigest(ref);
    return `${algorithm}:${hex}`;
  }
  if (!isValidTag(ref)) throw manifestUnknown(name, ref);
  const digest = await ctx.storage.resolveTag(name, ref);
  if (!digest) {
    await requireRepo(ctx, name);
    throw manifestUnknown(name, ref);
  }
  return digest;
}

export async function getManifest(ctx: RequestContext, name: string, ref: string): Promise<void> {
  const digest = await resolve(ctx, name, ref);
  const record = await ctx.storage.getManifestRecord(name, digest);
  if (!record) {
    await requireRepo(ctx, name);
    throw manifestUnknown(name, ref);
  }
  if (!accepts(ctx.req.headers.accept, record.mediaType)) {
    throw regError(
      'MANIFEST_UNKNOWN',
      `manifest ${name}:${ref} is ${record.mediaType}, which the client does not accept`,
      {
        detail: { mediaType: record.mediaType },
      },
    );
  }
  const headers = {
    'Content-Type': record.mediaType,
    'Docker-Content-Digest': digest,
    ETag: `"${digest}"`,
    'Content-Length': record.size,
  };
  if (ctx.req.method === 'HEAD') {
    send(ctx.res, 200, headers);
    return;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(ctx.storage.blobPath(digest));
  } catch {
    throw manifestUnknown(name, ref);
  }
  send(ctx.res, 200, { ...headers, 'Content-Length': bytes.length }, bytes);
}

export async function putManifest(ctx: RequestContext, name: string, ref: string): Promise<void> {
  const byDigest = isDigestRef(ref);
  if (!byDigest && !isValidTag(ref)) {
    throw regError('MANIFEST_INVALID', `invalid tag "${ref}"`, { detail: { tag: ref } });
  }
  const wanted = byDigest ? checkDigest(ref) : null;
  const bytes = await readBody(ctx.req, ctx.limits.maxManifestSize);
  const algorithm = wanted?.algorithm ?? 'sha256';
  const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
  if (wanted && digest !== `${wanted.algorithm}:${wanted.hex}`) {
    throw regError('DIGEST_INVALID', `manifest digest ${digest} does not match ${ref}`, {
      detail: { expected: ref, actual: digest },
    });
  }
  const parsed = parseManifest(bytes, ctx.req.headers['content-type']);
  for (const blob of parsed.blobs) {
    const size = await ctx.storage.linkedBlobSize(name, blob.digest);
    if (size === null) {
      throw regError('MANIFEST_BLOB_UNKNOWN', `blob ${blob.digest} is unknown to repository ${name}`, {
        detail: { digest: blob.digest },
      });
    }
    if (size !== blob.size) {
      throw regError(
        'MANIFEST_INVALID',
        `blob ${blob.digest} has ${size} bytes, the manifest says ${blob.size}`,
        {
          detail: { digest: blob.digest },
        },
      );
    }
  }
  for (const child of parsed.manifests) {
    if (!(await ctx.storage.getManifestRecord(name, child.digest))) {
      throw regError('MANIFEST_BLOB_UNKNOWN', `manifest ${child.digest} is unknown to repository ${name}`, {
        detail: { digest: child.digest },
      });
    }
  }
  const record: ManifestRecord = { mediaType: parsed.mediaType, digest, size: bytes.length };
  if (parsed.artifactType) record.artifactType = parsed.artifactType;
  if (parsed.annotations) record.annotations = parsed.annotations;
  if (parsed.subject) record.subject = parsed.subject.digest;
  await ctx.storage.putManifest(name, record, bytes, byDigest ? undefined : ref);
  await ctx.storage.linkBlob(name, digest);
  const headers: Record<string, string> = {
    Location: `/v2/${name}/manifests/${digest}`,
    'Docker-Content-Digest': digest,
  };
  if (parsed.subject) headers['OCI-Subject'] = parsed.subject.digest;
  send(ctx.res, 201, headers);
}

export async function deleteManifest(ctx: RequestContext, name: string, ref: string): Promise<void> {
  if (!ctx.deleteEnabled) throw regError('UNSUPPORTED', 'deletion is disabled on this registry');
  if (isDigestRef(ref)) {
    const { algorithm, hex } = checkDigest(ref);
    const digest = `${algorithm}:${hex}`;
    if (!(await ctx.storage.deleteManifest(name, digest))) {
      await requireRepo(ctx, name);
      throw manifestUnknown(name, ref);
    }
    // The manifest bytes are linked as a blob too; gc reclaims them once no repository needs them.
    await ctx.storage.unlinkBlob(name, digest);
  } else if (!isValidTag(ref) || !(await ctx.storage.deleteTag(name, ref))) {
    await requireRepo(ctx, name);
    throw manifestUnknown(name, ref);
  }
  send(ctx.res, 202);
}

export async function listTags(ctx: RequestContext, name: string): Promise<void> {
  await requireRepo(ctx, name);
  const tags = await ctx.storage.listTags(name);
  const { page, link } = paginate(tags, ctx.url.searchParams, `/v2/${name}/tags/list`);
  sendJson(ctx.res, 200, { name, tags: page }, link ? { Link: link } : {});
}

export async function listReferrers(ctx: RequestContext, name: string, digestParam: string): Promise<void> {
  const { algorithm, hex } = checkDigest(digestParam);
  await requireRepo(ctx, name);
  let manifests = await ctx.storage.listReferrers(name, `${algorithm}:${hex}`);
  const headers: Record<string, string> = { 'Content-Type': OCI_INDEX };
  const artifactType = ctx.url.searchParams.get('artifactType');
  if (artifactType) {
    manifests = manifests.filter((m) => m.artifactType === artifactType);
    headers['OCI-Filters-Applied'] = 'artifactType';
  }
  const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  send(ctx.res, 200, headers, body);
}

export async function catalog(ctx: RequestContext): Promise<void> {
  const repos = await ctx.storage.listRepositories();
  const { page, link } = paginate(repos, ctx.url.searchParams, '/v2/_catalog');
  sendJson(ctx.res, 200, { repositories: page }, link ? { Link: link } : {});
}
