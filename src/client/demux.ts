// Splits Docker's multiplexed stdout/stderr framing ([stream, 0, 0, 0, size u32 BE] + payload).
import { PassThrough, type Readable } from 'node:stream';

export interface Demuxed {
  stdout: PassThrough;
  stderr: PassThrough;
}

/**
 * Reads a multiplexed stream (logs, attach and exec without a TTY) into separate stdout and stderr streams.
 * Frames may arrive split across chunks. Stream 0 (stdin echo) goes to stdout; stream 3 is an error the
 * daemon reports on the stream, emitted as an error on stdout (stderr just ends).
 */
export function demux(source: Readable): Demuxed {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let buf: Buffer = Buffer.alloc(0);
  let waiting: PassThrough | undefined;
  const resume = () => {
    if (waiting) {
      waiting = undefined;
      source.resume();
    }
  };
  stdout.on('drain', resume);
  stderr.on('drain', resume);
  source.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 8) {
      const kind = buf[0]!;
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const payload = buf.subarray(8, 8 + size);
      buf = buf.subarray(8 + size);
      if (kind >= 3) {
        // Reported once, on stdout, so callers need only one error listener.
        const text =
          kind === 3 ? payload.toString('utf8').trim() : `unexpected stream id ${kind} in multiplexed stream`;
        stderr.end();
        stdout.destroy(new Error(text));
        source.destroy();
        return;
      }
      const out = kind === 2 ? stderr : stdout;
      if (!out.write(payload)) {
        waiting = out;
        source.pause();
      }
    }
  });
  source.on('end', () => {
    stdout.end();
    stderr.end();
  });
  source.on('error', (err) => {
    stderr.end();
    stdout.destroy(err);
  });
  source.on('close', () => {
    if (!stdout.writableEnded && !stdout.destroyed) stdout.end();
    if (!stderr.writableEnded && !stderr.destroyed) stderr.end();
  });
  return { stdout, stderr };
}
