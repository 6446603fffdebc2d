// Blob and upload handlers: HEAD/GET/DELETE of blobs, and the upload protocol (POST, PATCH, PUT, GET,
// DELETE of a session, monolithic upload and cross-repository mount).
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { RequestContext } from './context.js';
import { regError } from './errors.js';
import { parseRange, send } from './http.js';
import { checkDigest } from './names.js';
import { rangeHeader, type UploadSession } from './uploads.js';

const blobUnknown = (digest: string) =>
  regError('BLOB_UNKNOWN', `blob ${digest} unknown`, { detail: { digest } });

async function unknownBlobOrRepo(ctx: RequestContext, name: string, digest: string): Promise<never> {
  if (!(await ctx.storage.repoExists(name))) {
    throw regError('NAME_UNKNOWN', `repository ${name} not known to registry`, { detail: { name } });
  }
  throw blobUnknown(digest);
}

export async function getBlob(ctx: RequestContext, name: string, digestParam: string): Promise<void> {
  const { algorithm, hex } = checkDigest(digestParam);
  const digest = `${algorithm}:${hex}`;
  const size = await ctx.storage.linkedBlobSize(name, digest);
  if (size === null) return unknownBlobOrRepo(ctx, name, digest);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    'Accept-Ranges': 'bytes',
    ETag: `"${digest}"`,
    'Cache-Control': 'max-age=31536000',
  };
  if (ctx.req.method === 'HEAD') {
    send(ctx.res, 200, { ...headers, 'Content-Length': size });
    return;
  }
  const range = parseRange(ctx.req.headers.range, size);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(ctx.storage.blobPath(digest), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    ctx.storage.forget(name, digest);
    throw blobUnknown(digest);
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  if (range) {
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    ctx.res.writeHead(206, { ...headers, 'Content-Length': end - start + 1 });
  } else {
    ctx.res.writeHead(200, { ...headers, 'Content-Length': size });
  }
  if (size === 0) {
    await handle.close();
    ctx.res.end();
    return;
  }
  const stream = handle.createReadStream({ start, end, highWaterMark: 256 * 1024 });
  try {
    await pipeline(stream, ctx.res);
  } catch {
    // The client went away mid-blob; nothing to clean up but the file handle (closed by the stream).
  }
}

export async function deleteBlob(ctx: RequestContext, name: string, digestParam: string): Promise<void> {
  if (!ctx.deleteEnabled) throw regError('UNSUPPORTED', 'deletion is disabled on this registry');
  const { algorithm, hex } = checkDigest(digestParam);
  const digest = `${algorithm}:${hex}`;
  if (!(await ctx.storage.unlinkBlob(name, digest))) return unknownBlobOrRepo(ctx, name, digest);
  send(ctx.res, 202, { 'Docker-Content-Digest': digest });
}

function uploadHeaders(name: string, session: UploadSession): Record<string, string> {
  return {
    Location: `/v2/${name}/blobs/uploads/${session.id}`,
    'Docker-Upload-UUID': session.id,
    Range: rangeHeader(session.size),
  };
}

function created(ctx: RequestContext, name: string, digest: string): void {
  send(ctx.res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
}

/** The length a request announces in Content-Length, if any. */
function contentLength(ctx: RequestContext): number | undefined {
  const raw = ctx.req.headers['content-length'];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw regError('BLOB_UPLOAD_INVALID', `invalid Content-Length "${raw}"`);
  return Number(raw);
}

function hasBody(ctx: RequestContext): boolean {
  const len = ctx.req.headers['content-length'];
  return (len !== undefined && len !== '0') || ctx.req.headers['transfer-encoding'] !== undefined;
}

/** Content-Range of a chunk (`<start>-<end>`, inclusive) → start and length. */
function chunkRange(ctx: RequestContext, session: UploadSession): { start?: number; length?: number } {
  const length = contentLength(ctx);
  const raw = ctx.req.headers['content-range'];
  if (raw === undefined) return { length };
  const m = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(raw.trim());
  const bad = (why: string) =>
    regError('RANGE_INVALID', `Content-Range "${raw}": ${why}`, {
      headers: {
        Range: rangeHeader(session.size),
        Location: `/v2/${session.repo}/blobs/uploads/${session.id}`,
      },
    });
  if (!m) throw bad('expected <start>-<end>');
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw bad('end before start');
  const span = end - start + 1;
  if (length !== undefined && length !== span) {
    throw regError('BLOB_UPLOAD_INVALID', `Content-Length ${length} does not match Content-Range ${raw}`);
  }
  return { start, length: span };
}

export async function startUpload(ctx: RequestContext, name: string): Promise<void> {
  const params = ctx.url.searchParams;
  const mount = params.get('mount');
  const from = params.get('from');
  if (mount && from) {
    const { algorithm, hex } = checkDigest(mount);
    const digest = `${algorithm}:${hex}`;
    let allowed = true;
    if (ctx.auth) {
      try {
        await ctx.auth.authorize(
          ctx.req,
          [{ type: 'repository', name: from, actions: ['pull'] }],
          ctx.authCtx,
        );
      } catch {
        allowed = false; // not readable by this client: fall back to a plain upload, as distribution does
      }
    }
    if (allowed && (await ctx.storage.linkedBlobSize(from, digest)) !== null) {
      await ctx.storage.linkBlob(name, digest);
      created(ctx, name, digest);
      return;
    }
  }
  const session = await ctx.uploads.start(name);
  const digestParam = params.get('digest');
  if (digestParam === null) {
    send(ctx.res, 202, uploadHeaders(name, session));
    return;
  }
  // Monolithic upload: the whole blob is this request's body.
  try {
    const expected = checkDigest(digestParam);
    await ctx.uploads.append(session, ctx.req, { length: contentLength(ctx) });
    const { digest } = await ctx.uploads.commit(session, expected);
    created(ctx, name, digest);
  } catch (err) {
    await ctx.uploads.cancel(session);
    throw err;
  }
}

export async function uploadStatus(ctx: RequestContext, name: string, id: string): Promise<void> {
  const session = await ctx.uploads.get(name, id);
  send(ctx.res, 204, uploadHeaders(name, session));
}

export async function patchUpload(ctx: RequestContext, name: string, id: string): Promise<void> {
  const session = await ctx.uploads.get(name, id);
  const range = chunkRange(ctx, session);
  await ctx.uploads.append(session, ctx.req, range);
  send(ctx.res, 202, uploadHeaders(name, session));
}

export async function putUpload(ctx: RequestContext, name: string, id: string): Promise<void> {
  const digestParam = ctx.url.searchParams.get('digest');
  if (!digestParam)
    throw regError('DIGEST_INVALID', 'the digest query parameter is required to complete an upload');
  const expected = checkDigest(digestParam);
  const session = await ctx.uploads.get(name, id);
  if (hasBody(ctx)) await ctx.uploads.append(session, ctx.req, chunkRange(ctx, session));
  const { digest } = await ctx.uploads.commit(session, expected);
  created(ctx, name, digest);
}

export async function cancelUpload(ctx: RequestContext, name: string, id: string): Promise<void> {
  const session = await ctx.uploads.get(name, id);
  await ctx.uploads.cancel(session);
  send(ctx.res, 204);
}
