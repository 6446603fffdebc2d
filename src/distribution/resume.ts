// A blob download that survives dropped connections: the body is read as one stream; when the
// connection breaks (or ends early) the rest is asked for with `Range: bytes=<received>-` and appended,
// so whoever consumes the stream (hasher, blob store, unpacker) never sees the break. A registry that
// ignores Range answers 200 with the whole blob again: the bytes already delivered are skipped.
// The consumer verifies the digest over the whole; this only guarantees the byte count.
import { Readable } from 'node:stream';
import { BerthError } from '../util/index.js';
import { type HttpResponse, header } from './http.js';
import { errorFrom, RegistryRequestError } from './session.js';
import { sleep, TruncatedError } from './util.js';

export interface ResumableOptions {
  /** The blob's size from its descriptor. */
  size: number;
  /** What the stream is, for messages ("layer sha256:…"). */
  what: string;
  /** Re-requests the blob from `offset` (adds the Range header). */
  refetch: (offset: number) => Promise<HttpResponse>;
  /** Waits before each resume; their count bounds the resumes. */
  delays: readonly number[];
  /** Called before waiting for each resume, with the wait and the byte it resumes from. */
  onRetry?: (delay: number, offset: number) => void;
}

/** Where a 206 answer starts (`Content-Range: bytes <start>-<end>/<size>`), or undefined. */
export function contentRangeStart(value: string | undefined): number | undefined {
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value?.trim() ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The body of `first` (a 200 answer), continued across dropped connections. */
export function resumableBody(first: HttpResponse, opts: ResumableOptions): Readable {
  return Readable.from(chunks(first, opts), { objectMode: false, highWaterMark: 1 << 20 });
}

async function* chunks(first: HttpResponse, opts: ResumableOptions): AsyncGenerator<Buffer> {
  const { size, what } = opts;
  let res: HttpResponse | undefined = first;
  let offset = 0;
  let skip = 0;
  let resumes = 0;
  for (;;) {
    try {
      if (!res) {
        res = await opts.refetch(offset).catch((err: unknown) => {
          throw new TruncatedError(`${what}: resuming at byte ${offset}: ${(err as Error).message}`);
        });
        if (res.status === 206) {
          const start = contentRangeStart(header(res.headers, 'content-range'));
          if (start === undefined || start > offset) {
            res.body.destroy();
            throw new BerthError(
              502,
              `${what}: resuming at byte ${offset}: the registry answered Content-Range "${header(res.headers, 'content-range') ?? ''}"`,
            );
          }
          skip = offset - start;
        } else if (res.status === 200) {
          // Range ignored: the whole blob again.
          skip = offset;
        } else {
          const err = await errorFrom(res, what);
          if (res.status >= 500) throw new TruncatedError(err.message);
          throw err;
        }
      }
      for await (const c of res.body as AsyncIterable<Buffer>) {
        let chunk = c;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        offset += chunk.length;
        if (offset > size) {
          res.body.destroy();
          throw new BerthError(400, `${what}: more than the ${size} bytes its descriptor announces`);
        }
        yield chunk;
      }
      if (offset === size) return;
      throw new TruncatedError(`${what}: unexpected EOF after ${offset} of ${size} bytes`);
    } catch (err) {
      // Only the network may be retried: a wrong answer or a failing consumer ends the download.
      const transient =
        err instanceof TruncatedError ||
        (err instanceof RegistryRequestError && err.httpStatus === 0) ||
        !(err instanceof BerthError);
      if (!transient) throw err;
      if (resumes >= opts.delays.length) {
        throw new BerthError(
          500,
          `error pulling ${what} after ${resumes + 1} attempts: ${(err as Error).message} (at byte ${offset} of ${size})`,
        );
      }
      res?.body.destroy();
      res = undefined;
      const delay = opts.delays[resumes]!;
      opts.onRetry?.(delay, offset);
      await sleep(delay);
      resumes++;
    }
  }
}
