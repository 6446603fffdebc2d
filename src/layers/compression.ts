// Decompression auto-detected by magic bytes: gzip (zlib), zstd/xz/bzip2 (their binaries, streamed), or plain.
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { badRequest } from '../util/index.js';

export type Compression = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'none';

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])))
    return 'xz';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  return 'none';
}

/** Reads up to `n` bytes from the head of `source` without consuming them. */
export async function peek(source: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const chunk = source.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      len += chunk.length;
      continue;
    }
    if (source.readableEnded || source.destroyed) break;
    const ended = await new Promise<boolean>((resolve, reject) => {
      const cleanup = () => {
        source.off('readable', onReadable);
        source.off('end', onEnd);
        source.off('error', onError);
      };
      const onReadable = () => {
        cleanup();
        resolve(false);
      };
      const onEnd = () => {
        cleanup();
        resolve(true);
      };
      const onError = (e: Error) => {
        cleanup();
        reject(e);
      };
      source.on('readable', onReadable);
      source.on('end', onEnd);
      source.on('error', onError);
    });
    if (ended) break;
  }
  const head = Buffer.concat(chunks);
  if (head.length > 0) source.unshift(head);
  return head.subarray(0, n);
}

/** A stream of the uncompressed bytes of `source`, whatever its compression. */
export async function decompress(source: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const head = await peek(source, 6);
  const compression = detectCompression(head);
  switch (compression) {
    case 'none':
      return { stream: source, compression };
    case 'gzip': {
      const gunzip = createGunzip({ chunkSize: 256 * 1024 });
      source.on('error', (e) => gunzip.destroy(e));
      return { stream: source.pipe(gunzip), compression };
    }
    default:
      return { stream: throughTool(source, compression), compression };
  }
}

function throughTool(source: Readable, tool: 'zstd' | 'xz' | 'bzip2'): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  child.on('error', (e) => out.destroy(badRequest(`cannot run ${tool} to decompress a layer: ${e.message}`)));
  source.on('error', (e) => {
    child.kill();
    out.destroy(e);
  });
  child.stdin.on('error', () => {});
  source.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  let stdoutDone = false;
  let exitCode: number | null | undefined;
  const finish = () => {
    if (!stdoutDone || exitCode === undefined) return;
    if (exitCode !== 0)
      out.destroy(badRequest(`${tool} decompression failed: ${stderr.trim() || `exit ${exitCode}`}`));
    else out.end();
  };
  child.stdout.on('end', () => {
    stdoutDone = true;
    finish();
  });
  child.on('close', (code) => {
    exitCode = code;
    finish();
  });
  out.on('close', () => {
    if (exitCode === undefined) child.kill();
  });
  return out;
}
