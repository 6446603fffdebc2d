// Streaming responses: newline-delimited JSON progress, hijacked attach/exec connections, and Docker's
// 8-byte stdout/stderr framing.
import type { Duplex, Writable } from 'node:stream';
import { Duplex as DuplexStream, Writable as WritableStream } from 'node:stream';
import { API_VERSION, type ApiRequest, compareVersions, SERVER_NAME } from './http.js';

/** Per-request bookkeeping shared between the server and the streaming helpers. */
export interface RequestState {
  /** Set when the request arrived through the HTTP Upgrade path: the raw socket and bytes read past the head. */
  upgrade?: { socket: Duplex; head: Buffer };
  json?: JsonStream & { ended: boolean };
  hijacked?: Duplex;
}

const states = new WeakMap<ApiRequest, RequestState>();

export function stateOf(req: ApiRequest): RequestState {
  let s = states.get(req);
  if (!s) {
    s = {};
    states.set(req, s);
  }
  return s;
}

/** Headers every response carries, as Docker's version middleware sets them. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: `${SERVER_NAME} (linux)`,
};

export interface JsonStream {
  write(obj: unknown): void;
  end(): void;
  /** True once the client went away or end() was called; producers may stop early. */
  readonly closed: boolean;
  /** Resolves when the client has taken what was written (or went away): await it in long producers. */
  drained(): Promise<void>;
}

/**
 * Starts a newline-delimited JSON response (pull/push/build progress, events, stats). If the handler
 * throws afterwards, the server writes `{"errorDetail":{"message":…},"error":…}` and ends it.
 */
export function jsonStream(req: ApiRequest, status = 200): JsonStream {
  const state = stateOf(req);
  if (state.json) return state.json;
  const res = req.res;
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  const stream = {
    ended: false,
    get closed() {
      return stream.ended || res.destroyed || res.writableEnded;
    },
    write(obj: unknown) {
      if (stream.closed) return;
      res.write(`${JSON.stringify(obj)}\n`);
    },
    end() {
      if (stream.ended) return;
      stream.ended = true;
      if (!res.writableEnded) res.end();
    },
    drained() {
      if (stream.closed || !res.writableNeedDrain) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    },
  };
  state.json = stream;
  return stream;
}

export interface HijackOptions {
  /** True when stdout and stderr are framed with muxWriter (no TTY). */
  multiplexed: boolean;
}

/**
 * Takes over the connection for attach/exec. With `Connection: Upgrade` + `Upgrade: tcp` the client gets
 * `101 UPGRADED` and the raw socket; otherwise `200` with the same content type and the response body as the
 * stream (stdin is then not available). Resolves once the headers are written.
 */
export async function hijack(req: ApiRequest, opts: HijackOptions): Promise<Duplex> {
  const state = stateOf(req);
  if (state.hijacked) return state.hijacked;
  const contentType =
    opts.multiplexed && compareVersions(req.apiVersion, '1.42') >= 0
      ? 'application/vnd.docker.multiplexed-stream'
      : 'application/vnd.docker.raw-stream';
  if (state.upgrade) {
    const { socket, head } = state.upgrade;
    let text = 'HTTP/1.1 101 UPGRADED\r\n';
    text += `Content-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n`;
    for (const [k, v] of Object.entries(COMMON_HEADERS)) text += `${k}: ${v}\r\n`;
    text += '\r\n';
    await new Promise<void>((resolve, reject) =>
      socket.write(text, (err) => (err ? reject(err) : resolve())),
    );
    if (head.length > 0) socket.unshift(head);
    state.hijacked = socket;
    return socket;
  }
  // Plain form: no chunked framing, the connection closes when the stream ends.
  const res = req.res;
  res.useChunkedEncodingByDefault = false;
  res.shouldKeepAlive = false;
  res.writeHead(200, { 'Content-Type': contentType });
  res.flushHeaders();
  const raw = req.raw;
  const duplex = new DuplexStream({
    write(chunk, _enc, cb) {
      if (res.destroyed) return cb();
      res.write(chunk, () => cb());
    },
    final(cb) {
      res.end(() => cb());
    },
    read() {
      raw.resume();
    },
    destroy(err, cb) {
      if (!res.writableEnded) res.destroy();
      cb(err);
    },
  });
  raw.on('data', (b: Buffer) => {
    if (!duplex.push(b)) raw.pause();
  });
  raw.on('end', () => duplex.push(null));
  res.on('close', () => duplex.destroy());
  state.hijacked = duplex;
  return duplex;
}

/**
 * Frames writes for one stream (1 stdout, 2 stderr) as Docker does: [stream, 0, 0, 0, size u32 BE] + payload.
 * Ending the returned writable does not end the socket (stdout and stderr share it).
 */
export function muxWriter(socket: Writable, stream: 1 | 2): Writable {
  return new WritableStream({
    write(chunk: Buffer, _enc, cb) {
      if (socket.destroyed || socket.writableEnded || chunk.length === 0) return cb();
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(chunk.length, 4);
      socket.write(header);
      if (socket.write(chunk)) return cb();
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        cb();
      };
      socket.once('drain', done);
      socket.once('close', done);
    },
  });
}
