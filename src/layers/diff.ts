// Directory → layer tar. For an overlay upper directory, whiteouts are converted back to OCI form
// (char device 0/0 → `.wh.name`, opaque xattr → `.wh..wh..opq`). Entries are sorted, timestamps can be
// fixed for reproducible layers, and the tar streams out gzip-compressed while both the uncompressed
// (diffID) and compressed (digest) bytes are hashed.
import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { type Header, type Pack, pack as tarPack } from 'tar-stream';

type Headers = Partial<Header> & { name: string; pax?: Record<string, string> };

import { DigestStream, internal, run } from '../util/index.js';
import { ParallelGzip } from './pgzip.js';
import { binaryPaxPack } from './tar-pax.js';

export interface TarOptions {
  /** Treat `dir` as an overlay upper directory (convert whiteouts). */
  overlay?: boolean;
  /** Set every entry's mtime to this (reproducible layers). */
  mtime?: Date;
  /** gzip level 1–9, or 0 for an uncompressed tar. Default 1: fastest; compressed on all cores (pgzip.ts). */
  gzipLevel?: number;
  /**
   * Read extended attributes (default true). A caller that made the directory itself without any (the
   * builder's COPY layers) says false and saves running getfattr.
   */
  xattrs?: boolean;
}

export interface TarResult {
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** sha256 of the bytes produced (equals diffId when uncompressed). */
  digest: string;
  /** Size of the bytes produced. */
  size: number;
  uncompressedSize: number;
  /** Bytes of regular-file content archived (hard links counted once), as applying the tar reports. */
  contentSize: number;
}

const XATTR_PATTERN = '^(user\\.|security\\.capability$|trusted\\.overlay\\.opaque$)';

/** Streams `dir` as a tar; `done` resolves with the digests once the stream has been fully read. */
export function tarDirectory(
  dir: string,
  opts: TarOptions = {},
): { stream: Readable; done: Promise<TarResult> } {
  const pack = tarPack();
  binaryPaxPack(pack);
  const level = opts.gzipLevel ?? 1;
  const diffHash = new DigestStream('sha256');
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const outHash = new DigestStream('sha256');
  const stages: NodeJS.ReadWriteStream[] = [diffHash];
  if (level > 0) stages.push(new ParallelGzip(level), outHash);
  let finished!: (r: TarResult) => void;
  let failed!: (e: Error) => void;
  const done = new Promise<TarResult>((res, rej) => {
    finished = res;
    failed = rej;
  });
  done.catch(() => {});
  const counted = { bytes: 0 };
  pipeline([pack, ...stages, out] as unknown as [Readable, ...NodeJS.ReadWriteStream[]], (err) => {
    if (err) return failed(err);
    const diffId = diffHash.digest();
    finished({
      diffId,
      digest: level > 0 ? outHash.digest() : diffId,
      size: level > 0 ? outHash.size : diffHash.size,
      uncompressedSize: diffHash.size,
      contentSize: counted.bytes,
    });
  });
  writeEntries(pack, dir, opts, counted).then(
    () => pack.finalize(),
    (err: Error) => {
      pack.destroy(err);
      out.destroy(err);
    },
  );
  return { stream: out, done };
}

async function readXattrs(dir: string): Promise<Map<string, Record<string, string>>> {
  const res = await run('getfattr', ['-R', '-P', '-h', '-d', '-e', 'hex', '-m', XATTR_PATTERN, '.'], {
    cwd: dir,
  });
  if (res.code !== 0 && !res.stdout) {
    if (/not found|ENOENT/.test(res.stderr)) return new Map();
    throw internal(
      `reading extended attributes of ${dir} failed (is the attr package installed?): ${res.stderr.trim()}`,
    );
  }
  const out = new Map<string, Record<string, string>>();
  let cur: Record<string, string> | undefined;
  for (const line of res.stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      let p = unescapeOctal(line.slice(8));
      p = p === '.' ? '' : p.replace(/^\.\//, '');
      cur = {};
      out.set(p, cur);
    } else if (cur && line.includes('=')) {
      const eq = line.indexOf('=');
      const value = line.slice(eq + 1);
      const bytes = value.startsWith('0x')
        ? Buffer.from(value.slice(2), 'hex')
        : Buffer.from(value.replace(/^"|"$/g, ''));
      cur[unescapeOctal(line.slice(0, eq))] = bytes.toString('latin1');
    }
  }
  return out;
}

function unescapeOctal(s: string): string {
  if (!s.includes('\\')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

async function writeEntries(
  pack: Pack,
  root: string,
  opts: TarOptions,
  counted: { bytes: number },
): Promise<void> {
  const xattrs = opts.xattrs === false ? new Map<string, Record<string, string>>() : await readXattrs(root);
  const inodes = new Map<string, string>();
  const fixed = opts.mtime;

  const add = (header: Headers, body?: string) =>
    new Promise<void>((resolve, reject) => {
      pack.entry(header, body ?? '', (err) => (err ? reject(err) : resolve()));
    });

  const walk = async (rel: string): Promise<void> => {
    const names = readdirSync(rel ? `${root}/${rel}` : root).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = `${root}/${r}`;
      const st = lstatSync(abs);
      const base: Headers = {
        name: r,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: fixed ?? st.mtime,
      };
      const xa = xattrs.get(r);
      const pax: Record<string, string> = {};
      let opaque = false;
      if (xa) {
        for (const [k, v] of Object.entries(xa)) {
          if (k === 'trusted.overlay.opaque') opaque = opts.overlay === true && v === 'y';
          else pax[`SCHILY.xattr.${k}`] = v;
        }
      }
      const withPax = (h: Headers): Headers => (Object.keys(pax).length ? { ...h, pax } : h);
      if (st.isDirectory()) {
        await add(withPax({ ...base, name: `${r}/`, type: 'directory' }));
        if (opaque) await add({ ...base, name: `${r}/.wh..wh..opq`, mode: 0o644, type: 'file', size: 0 });
        await walk(r);
      } else if (st.isCharacterDevice() && opts.overlay && st.rdev === 0) {
        const dirPart = rel ? `${rel}/` : '';
        await add({ ...base, name: `${dirPart}.wh.${name}`, mode: 0o644, type: 'file', size: 0 });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first) {
          await add(withPax({ ...base, type: 'link', linkname: first, size: 0 }));
          continue;
        }
        if (st.nlink > 1) inodes.set(key, r);
        counted.bytes += st.size;
        await addFile(pack, withPax({ ...base, type: 'file', size: st.size }), abs, st);
      } else if (st.isSymbolicLink()) {
        await add(withPax({ ...base, type: 'symlink', linkname: readlinkSync(abs) }));
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await add(
          withPax({
            ...base,
            type: st.isCharacterDevice() ? 'character-device' : 'block-device',
            devmajor: major(st.rdev),
            devminor: minor(st.rdev),
          }),
        );
      } else if (st.isFIFO()) {
        await add(withPax({ ...base, type: 'fifo' }));
      }
      // Sockets are not archived (as in Docker).
    }
  };
  await walk('');
}

/** Files up to this size are read whole (a stream per small file costs more than the file). */
const SMALL_FILE = 1 << 20;

async function addFile(pack: Pack, header: Headers, abs: string, st: Stats): Promise<void> {
  if (st.size <= SMALL_FILE) {
    const body = readFileSync(abs);
    // The header promised st.size bytes: a file that changed size since is an error, not a bad tar.
    if (body.length !== st.size) throw internal(`${abs} changed size while it was archived`);
    return new Promise<void>((resolve, reject) => {
      pack.entry(header, body, (err) => (err ? reject(err) : resolve()));
    });
  }
  let sink: NodeJS.WritableStream | undefined;
  const written = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  if (st.size > 0) {
    await pipelineAsync(createReadStream(abs, { highWaterMark: 1 << 20 }), sink as NodeJS.WritableStream);
  } else {
    (sink as NodeJS.WritableStream).end();
  }
  await written;
}

// Linux dev_t encoding (glibc's gnu_dev_major/minor).
function major(dev: number): number {
  return Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
}
function minor(dev: number): number {
  return Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));
}
