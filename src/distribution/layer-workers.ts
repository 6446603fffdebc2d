// A few worker threads (layer-worker.ts) that store and unpack downloading layers off the main thread.
// Started on a pull's first layer, kept for the next pull, ended after a while without work so an idle
// daemon holds none. Where the worker's file cannot be found (an unusual install layout) callers fall
// back to doing the work in process.
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { UnpackedLayer } from '../layers/index.js';
import { BerthError } from '../util/index.js';
import type { FromWorker, ToWorker, WireError } from './layer-worker.js';

/** Bytes handed to a worker and not yet taken by its pipeline. */
const MAX_UNACKED = 8 << 20;
/** Idle workers end after this long (a worker's first layer also pays for compiling its code). */
const IDLE_MS = 60_000;

/** The worker's entry: beside this module (tsc output, sources under tsx) or above it (bundle chunks). */
function workerFile(): string | undefined {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  for (const rel of [`./layer-worker.${ext}`, `../layer-worker.${ext}`]) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(file)) return file;
  }
  return undefined;
}

const fromWire = (e: WireError): Error =>
  e.status === undefined ? new Error(e.message) : new BerthError(e.status, e.message);

/** One layer download handed to a worker: its blob stored, and unpacked when asked. */
export class LayerJob {
  /** Settles once the blob is stored (or failed). */
  readonly stored: Promise<{ created: boolean }>;
  private resolveStored!: (v: { created: boolean }) => void;
  private rejectStored!: (e: Error) => void;
  private unpacked?: { resolve: (r: UnpackedLayer) => void; reject: (e: Error) => void };
  private unacked = 0;
  private wake: (() => void) | undefined;
  private feedError: Error | undefined;
  private workerError: Error | undefined;

  constructor(private readonly worker: Worker) {
    this.stored = new Promise((resolve, reject) => {
      this.resolveStored = resolve;
      this.rejectStored = reject;
    });
    this.stored.catch(() => {});
  }

  /** @internal */
  onMessage(m: FromWorker): void {
    switch (m.t) {
      case 'ack':
        this.unacked -= m.n;
        if (this.unacked < MAX_UNACKED) this.wake?.();
        return;
      case 'stored':
        this.resolveStored({ created: m.created });
        return;
      case 'unpacked':
        this.unpacked?.resolve({ diffId: m.diffId, size: m.size, tarSize: m.tarSize });
        return;
      case 'failed':
        // A store that failed because the download did is reported with the download's own error.
        if (m.part === 'store') this.rejectStored(this.feedError ?? fromWire(m.error));
        else this.unpacked?.reject(this.feedError ?? fromWire(m.error));
        return;
    }
  }

  /** @internal The worker died: everything pending fails. */
  onExit(err: Error): void {
    this.workerError = err;
    this.rejectStored(err);
    this.unpacked?.reject(err);
    this.wake?.();
  }

  private send(m: ToWorker, transfer?: ArrayBuffer[]): void {
    if (!this.workerError) this.worker.postMessage(m, transfer);
  }

  /** Hands `source` to the worker chunk by chunk; a source error aborts the job. */
  async feed(source: Readable): Promise<void> {
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (this.workerError) throw this.workerError;
        // A copy of just this chunk's bytes, moved (not cloned again) to the worker.
        const buf = chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.length) as ArrayBuffer;
        this.unacked += buf.byteLength;
        this.send({ t: 'data', buf }, [buf]);
        while (this.unacked >= MAX_UNACKED && !this.workerError) {
          await new Promise<void>((r) => {
            this.wake = r;
          });
          this.wake = undefined;
        }
      }
      this.send({ t: 'end' });
    } catch (err) {
      this.feedError = err as Error;
      this.send({ t: 'abort', message: (err as Error).message });
    }
  }

  /** Unpacks the download into `dir` (an empty directory); the unpacked tar's digest comes back. */
  unpackInto(dir: string): Promise<UnpackedLayer> {
    return new Promise<UnpackedLayer>((resolve, reject) => {
      if (this.workerError) return reject(this.workerError);
      this.unpacked = { resolve, reject };
      this.send({ t: 'unpack', dir });
    });
  }

  /** The layer will not be unpacked by this job (it was already, or is by another pull). */
  skipUnpack(): void {
    if (!this.unpacked) this.send({ t: 'skip' });
  }
}

export class LayerWorkers {
  private readonly all = new Set<Worker>();
  private readonly idle: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private readonly jobs = new Map<Worker, LayerJob>();
  private idleTimer: NodeJS.Timeout | undefined;
  /** Set when a worker failed to start: no more are started. */
  broken = false;

  constructor(
    private readonly file: string,
    private readonly size: number,
  ) {}

  /**
   * Starts a job on a free worker (waiting for one while all are busy): the blob `digest` is written to
   * the blob store at `blobsRoot` and verified, and unpacked when the job is asked to. `done()` hands the
   * worker back once the job's results are in.
   */
  async start(
    blobsRoot: string,
    digest: string,
    unpack: boolean,
  ): Promise<{ job: LayerJob; done: () => void }> {
    const worker = await this.acquire();
    const job = new LayerJob(worker);
    this.jobs.set(worker, job);
    worker.postMessage({ t: 'start', blobsRoot, digest, unpack } satisfies ToWorker);
    return { job, done: () => this.release(worker, job) };
  }

  private acquire(): Promise<Worker> {
    clearTimeout(this.idleTimer);
    const w = this.idle.pop();
    if (w) {
      w.ref();
      return Promise.resolve(w);
    }
    if (this.all.size < this.size) return Promise.resolve(this.spawn());
    return new Promise<Worker>((resolve) => this.waiting.push(resolve));
  }

  private spawn(): Worker {
    // A young generation large enough for the chunks in flight: they die young instead of being promoted
    // and collected by full GCs (the daemon's own heap is kept small for its idle memory).
    const resourceLimits = { maxYoungGenerationSizeMb: 16 };
    const w = this.file.endsWith('.ts')
      ? // Sources run under tsx (tests, benches); a worker does not inherit its loader, so it loads them
        // through tsx's API.
        new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => tsx.tsImport(${JSON.stringify(pathToFileURL(this.file).href)}, ${JSON.stringify(import.meta.url)}))`,
          { eval: true, resourceLimits },
        )
      : new Worker(this.file, { resourceLimits });
    this.all.add(w);
    const gone = (err: Error) => {
      if (!this.all.delete(w)) return;
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      this.jobs.get(w)?.onExit(err);
      this.jobs.delete(w);
      // Someone waiting for a worker gets a new one in its place.
      this.waiting.shift()?.(this.spawn());
    };
    let ready = false;
    w.on('message', (m: FromWorker) => {
      if (m.t === 'ready') ready = true;
      else this.jobs.get(w)?.onMessage(m);
    });
    w.on('error', (err) => gone(new Error(`layer worker failed: ${err.message}`)));
    w.on('exit', (code) => {
      // A worker that could not even load will not load next time: pulls go on in process.
      if (!ready) this.broken = true;
      gone(new Error(`layer worker exited (code ${code})`));
    });
    return w;
  }

  private release(w: Worker, job: LayerJob): void {
    if (this.jobs.get(w) !== job) return;
    this.jobs.delete(w);
    const next = this.waiting.shift();
    if (next) {
      next(w);
      return;
    }
    w.unref();
    this.idle.push(w);
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.close(), IDLE_MS).unref();
  }

  /** Ends the idle workers. */
  close(): void {
    for (const w of this.idle.splice(0)) {
      this.all.delete(w);
      void w.terminate();
    }
  }
}

let shared: LayerWorkers | null | undefined;

/**
 * The process's layer workers; null when the worker's file is not there to start them from, or when
 * BERTH_PULL_WORKERS=0 asks for pulls in process (a way out should workers misbehave somewhere).
 */
export function layerWorkers(concurrency: number): LayerWorkers | null {
  if (process.env.BERTH_PULL_WORKERS === '0') return null;
  if (shared === undefined) {
    const file = workerFile();
    // A worker for each concurrent download, even beyond the cores: a download waiting for a worker
    // stalls, while the threads of several share the cores well (part of each one's work runs on the
    // thread pool: inflating, storing the blob).
    shared = file ? new LayerWorkers(file, Math.max(1, Math.min(concurrency, 4))) : null;
  }
  return shared?.broken ? null : shared;
}
