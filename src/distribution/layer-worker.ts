// A worker thread that stores one downloading layer blob at a time and unpacks it (see layer-workers.ts).
// The main thread keeps the HTTP exchange (auth, redirects, resumes, progress) and hands the body over in
// chunks; everything done per byte after that (both sha256 digests, gunzip, tar parsing, file writes)
// runs here, on another core and with its own small heap, so a pull no longer saturates the daemon's
// event loop or fills its heap with hundreds of megabytes of short-lived buffers.
import { PassThrough } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { BlobStore } from '../images/blobs.js';
import { applyLayer } from '../layers/apply.js';
import { isBerthError } from '../util/index.js';
import { teeDownload } from './util.js';

/** Messages from the main thread. */
export type ToWorker =
  | { t: 'start'; blobsRoot: string; digest: string; unpack: boolean }
  | { t: 'data'; buf: ArrayBuffer }
  | { t: 'end' }
  | { t: 'abort'; message: string }
  | { t: 'unpack'; dir: string }
  | { t: 'skip' };

/** An error as it crosses threads: BerthErrors keep their status. */
export interface WireError {
  message: string;
  status?: number;
}

/** Messages to the main thread. */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'ack'; n: number }
  | { t: 'stored'; created: boolean }
  | { t: 'unpacked'; diffId: string; size: number; tarSize: number }
  | { t: 'failed'; part: 'store' | 'unpack'; error: WireError };

const port = parentPort;
if (!port) throw new Error('layer-worker.ts runs as a worker thread');
const post = (m: FromWorker) => port.postMessage(m);
const wire = (e: unknown): WireError =>
  isBerthError(e)
    ? { message: e.message, status: e.status }
    : { message: (e as Error)?.message ?? String(e) };

interface Job {
  input: PassThrough;
  toUnpack?: PassThrough;
}
let job: Job | undefined;

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'start': {
      const input = new PassThrough({ highWaterMark: 1 << 20 });
      // An aborted download fails both consumers.
      const { toStore, toUnpack } = teeDownload(input, m.unpack);
      new BlobStore(m.blobsRoot).put(toStore, m.digest).then(
        (r) => post({ t: 'stored', created: r.created }),
        (e: unknown) => post({ t: 'failed', part: 'store', error: wire(e) }),
      );
      job = { input, ...(toUnpack ? { toUnpack } : {}) };
      return;
    }
    case 'data': {
      const n = m.buf.byteLength;
      // The write's callback comes once the chunk has moved on (or is held by backpressure until then).
      job?.input.write(Buffer.from(m.buf), () => post({ t: 'ack', n }));
      return;
    }
    case 'end':
      job?.input.end();
      return;
    case 'abort':
      job?.input.destroy(new Error(m.message));
      return;
    case 'unpack': {
      const toUnpack = job?.toUnpack;
      if (!toUnpack) {
        post({ t: 'failed', part: 'unpack', error: { message: 'no layer to unpack in this job' } });
        return;
      }
      // This thread is the layer's own: it writes the files itself rather than through the thread pool.
      applyLayer(toUnpack, m.dir, { blocking: true })
        .then(
          (r) => post({ t: 'unpacked', diffId: r.diffId, size: r.size, tarSize: r.tarSize }),
          (e: unknown) => post({ t: 'failed', part: 'unpack', error: wire(e) }),
        )
        // Whatever an unpack that stopped early leaves is drained, so storing the blob goes on.
        .finally(() => toUnpack.resume());
      return;
    }
    case 'skip':
      job?.toUnpack?.resume();
      return;
  }
});

post({ t: 'ready' });
