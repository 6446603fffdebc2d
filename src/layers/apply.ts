// Applies a layer tar (gzip/zstd/plain, auto-detected) onto an empty directory, converting OCI whiteouts to
// overlay form (char device 0/0; `trusted.overlay.opaque=y`), hashing the uncompressed stream for the
// diffID while extracting. Untrusted input: every path is checked (safe-path.ts) and the error names the entry.
//
// Per-entry work uses synchronous fs calls: they are plain syscalls on the page cache, and avoiding a
// thread-pool round trip per call makes extraction fast. The exception is regular files up to FILE_ASYNC
// bytes: creating an inode costs far more kernel time than parsing the tar, so their content is buffered
// and open/write/chown/chmod/utimes/close run on libuv's pool, many at once (another core), while the
// main thread parses on. Anything that could observe or change a path a pending file write uses (a
// removal, a hardlink to it, the same name again) waits for the pending writes first (`settle()`).
// Device nodes, fifos and xattrs, which Node cannot create, are batched into one `sh` (mknod/mkfifo) and
// one `setfattr --restore` run at the end, so no process is spawned per ordinary entry.
import {
  chmodSync,
  chownSync,
  close,
  closeSync,
  constants,
  fchmod,
  fchmodSync,
  fchown,
  fchownSync,
  futimes,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  open,
  openSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeSync,
  writev,
} from 'node:fs';
import { posix } from 'node:path';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { type Header as Headers, extract as tarExtract } from 'tar-stream';
import { badRequest, DigestStream, internal, messageOf, run } from '../util/index.js';
import { type Compression, decompress } from './compression.js';
import { cleanEntryName, ensureParents, forget } from './safe-path.js';
import { binaryPaxExtract } from './tar-pax.js';

export interface ApplyResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: string;
  /** Bytes of regular file content written. */
  size: number;
  /** Bytes of the uncompressed tar stream. */
  tarSize: number;
  compression: Compression;
}

interface Special {
  rel: string;
  kind: 'c' | 'b' | 'p';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Extracts `source` into `dest` (an existing, empty directory). */
export interface ApplyOptions {
  /**
   * The sha256 of `source` as another consumer computes it (a load hashing the same bytes into the blob
   * store). For an uncompressed layer that is the diffID, so the bytes need not be hashed twice.
   */
  plainDigest?: Promise<string>;
  /**
   * Whether the calling thread may block on file writes (a worker thread of its own): small files are
   * then written at once on it, not handed to the thread pool. That saves a pool round trip (a wake-up
   * of another thread each way) for each of open, write, chmod, utimes and close of every file, which on
   * a busy machine costs more than the writes. The event loop of the main thread must not block: there
   * the writes go to the pool, overlapping with the parsing.
   */
  blocking?: boolean;
}

export async function applyLayer(
  source: Readable,
  dest: string,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const { stream, compression } = await decompress(source);
  const reuse = compression === 'none' && opts.plainDigest !== undefined;
  const hasher = reuse ? new ByteCounter() : new DigestStream('sha256');
  const ex = tarExtract();
  binaryPaxExtract(ex);
  let pipeErr: Error | undefined;
  pipeline(stream, hasher, ex, (err) => {
    if (err) pipeErr = err;
  });
  const known = new Set<string>();
  const dirTimes: { rel: string; mtime: Date }[] = [];
  const specials: Special[] = [];
  const xattrs = new Map<string, Map<string, Buffer>>();
  let size = 0;
  const abs = (rel: string) => (rel ? `${dest}/${rel}` : dest);

  const writes = new PendingWrites();
  /** Whether some directory is setgid (files created below it take its group, not ours). */
  let anySetgid = false;
  const clearTarget = async (rel: string, keepDir: boolean) => {
    const st = lstatSafe(abs(rel));
    if (!st) return;
    if (keepDir && st.isDirectory()) return;
    // A pending write below what is removed must land before, not through whatever replaces it.
    await writes.settle();
    rmSync(abs(rel), { recursive: true, force: true });
    forget(known, rel);
    // Deferred work for what was just removed must not follow whatever replaces it (maybe a symlink).
    const gone = (r: string) => r === rel || r.startsWith(`${rel}/`);
    for (let i = specials.length - 1; i >= 0; i--) if (gone(specials[i]!.rel)) specials.splice(i, 1);
    for (let i = dirTimes.length - 1; i >= 0; i--) if (gone(dirTimes[i]!.rel)) dirTimes.splice(i, 1);
    for (const k of [...xattrs.keys()]) if (gone(k)) xattrs.delete(k);
  };

  try {
    for await (const entry of ex) {
      const h = entry.header as Headers;
      const name = h.name;
      try {
        const rel = cleanEntryName(name);
        writes.check();
        if (writes.touches(rel)) await writes.settle();
        const base = posix.basename(rel);
        if (base.startsWith(WHITEOUT_PREFIX)) {
          entry.resume();
          const dir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
          if (base === OPAQUE) {
            if (dir) {
              ensureParents(dest, `${dir}/x`, known, name);
              ensureDir(abs(dir), dir, name);
              known.add(dir);
            }
            setXattr(xattrs, dir || '.', 'trusted.overlay.opaque', Buffer.from('y'));
          } else if (!base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) {
            // Other `.wh..wh.` names are aufs internals; skip them as Docker does.
            const target = dir
              ? `${dir}/${base.slice(WHITEOUT_PREFIX.length)}`
              : base.slice(WHITEOUT_PREFIX.length);
            cleanEntryName(target);
            if (writes.touches(target)) await writes.settle();
            ensureParents(dest, target, known, name);
            await clearTarget(target, false);
            specials.push({
              rel: target,
              kind: 'c',
              major: 0,
              minor: 0,
              mode: 0,
              uid: h.uid ?? 0,
              gid: h.gid ?? 0,
              mtime: h.mtime ?? new Date(0),
            });
          }
          continue;
        }
        if (rel === '') {
          // The root entry ("./"): take its mode and owner, not its existence.
          entry.resume();
          if (h.type === 'directory') {
            if ((h.mode ?? 0) & 0o2000) anySetgid = true;
            chownSync(dest, h.uid ?? 0, h.gid ?? 0);
            chmodSync(dest, (h.mode ?? 0o755) & 0o7777);
            dirTimes.push({ rel: '', mtime: h.mtime ?? new Date(0) });
          }
          continue;
        }
        ensureParents(dest, rel, known, name);
        const path = abs(rel);
        const mode = (h.mode ?? 0o644) & 0o7777;
        const uid = h.uid ?? 0;
        const gid = h.gid ?? 0;
        const mtime = h.mtime ?? new Date(0);
        switch (h.type) {
          case 'file':
          case 'contiguous-file': {
            await clearTarget(rel, false);
            // A new file already belongs to us, unless a setgid directory hands it its group.
            const chown = anySetgid || uid !== OWN_UID || gid !== OWN_GID;
            if (!opts.blocking && (h.size ?? 0) <= FILE_ASYNC) {
              const chunks: Buffer[] = [];
              let len = 0;
              for await (const chunk of entry as AsyncIterable<Buffer>) {
                chunks.push(chunk);
                len += chunk.length;
              }
              size += len;
              await writes.add(
                rel,
                len,
                () => writeFileAsync(path, chunks, chown, uid, gid, mode, mtime),
                name,
              );
              break;
            }
            const fd = openSync(
              path,
              constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
              0o600,
            );
            try {
              for await (const chunk of entry as AsyncIterable<Buffer>) {
                let off = 0;
                while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
                size += chunk.length;
              }
              if (chown) fchownSync(fd, uid, gid);
              fchmodSync(fd, mode);
              futimesSync(fd, mtime, mtime);
            } finally {
              closeSync(fd);
            }
            break;
          }
          case 'directory': {
            entry.resume();
            await clearTarget(rel, true);
            ensureDir(path, rel, name);
            if (mode & 0o2000) anySetgid = true;
            lchownSync(path, uid, gid);
            chmodSync(path, mode);
            known.add(rel);
            dirTimes.push({ rel, mtime });
            break;
          }
          case 'symlink': {
            entry.resume();
            await clearTarget(rel, false);
            symlinkSync(h.linkname ?? '', path);
            lchownSync(path, uid, gid);
            lutimesSync(path, mtime, mtime);
            break;
          }
          case 'link': {
            entry.resume();
            const target = cleanEntryName(h.linkname ?? '', `hardlink target of "${name}"`);
            if (target === '') throw badRequest(`unsafe tar entry "${name}": hardlink to the layer root`);
            if (writes.touches(target)) await writes.settle();
            ensureParents(dest, target, known, name);
            const tst = lstatSafe(abs(target));
            if (!tst) throw badRequest(`tar entry "${name}": hardlink target "${h.linkname}" does not exist`);
            if (tst.isDirectory())
              throw badRequest(`tar entry "${name}": hardlink to directory "${h.linkname}"`);
            if (target !== rel) {
              await clearTarget(rel, false);
              linkSync(abs(target), path);
            }
            break;
          }
          case 'character-device':
          case 'block-device':
          case 'fifo': {
            entry.resume();
            await clearTarget(rel, false);
            const kind = h.type === 'fifo' ? 'p' : h.type === 'block-device' ? 'b' : 'c';
            specials.push({
              rel,
              kind,
              major: h.devmajor ?? 0,
              minor: h.devminor ?? 0,
              mode,
              uid,
              gid,
              mtime,
            });
            break;
          }
          default:
            // pax/gnu metadata are consumed by tar-stream; anything else unknown is skipped as Docker does.
            entry.resume();
            continue;
        }
        if (h.pax) {
          for (const [k, v] of Object.entries(h.pax as Record<string, string>)) {
            if (k.startsWith('SCHILY.xattr.'))
              setXattr(xattrs, rel, k.slice('SCHILY.xattr.'.length), Buffer.from(v, 'latin1'));
          }
        }
      } catch (err) {
        entry.resume();
        if (err instanceof Error && 'status' in err) throw err;
        throw badRequest(`cannot extract tar entry "${name}": ${messageOf(err)}`, err);
      }
    }
    await writes.settle();
  } catch (err) {
    ex.destroy();
    // Nothing may still be writing into `dest` when the caller removes it.
    await writes.drain();
    if (pipeErr && !(err instanceof Error && 'status' in err))
      throw badRequest(`invalid layer tar: ${pipeErr.message}`, pipeErr);
    if (err instanceof Error && 'status' in err) throw err;
    throw badRequest(`invalid layer tar: ${messageOf(err)}`, err);
  }
  // Drain whatever follows the end-of-archive blocks so the diffID covers the whole stream.
  await new Promise<void>((resolve) => {
    if (hasher.readableEnded || hasher.writableFinished) resolve();
    else hasher.once('end', () => resolve()).once('close', () => resolve());
  });
  if (pipeErr) throw badRequest(`invalid layer tar: ${pipeErr.message}`, pipeErr);

  // Defence in depth: nothing deferred may pass through a symlink, whatever the entries did meanwhile.
  for (const sp of specials) assertRealParents(dest, sp.rel);
  for (const rel of xattrs.keys()) if (rel !== '.') assertRealParents(dest, rel);
  for (const d of dirTimes) if (d.rel) assertRealParents(dest, `${d.rel}/x`);
  await createSpecials(dest, specials);
  await applyXattrs(dest, xattrs);
  // Directory mtimes last, deepest first, because creating children changes them.
  for (const d of dirTimes.reverse()) utimesSync(abs(d.rel), d.mtime, d.mtime);
  const diffId = reuse ? await opts.plainDigest! : hasher.digest();
  return { diffId, size, tarSize: hasher.size, compression };
}

/** Counts bytes without hashing them (see ApplyOptions.plainDigest). */
class ByteCounter extends Transform {
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    done(null, chunk);
  }
  digest(): string {
    return '';
  }
}

function assertRealParents(dest: string, rel: string): void {
  const parts = rel.split('/');
  let cur = dest;
  for (let i = 0; i < parts.length - 1; i++) {
    cur = `${cur}/${parts[i]}`;
    const st = lstatSafe(cur);
    if (!st || st.isSymbolicLink() || !st.isDirectory()) {
      throw badRequest(
        `unsafe tar entry "${rel}": parent "${parts.slice(0, i + 1).join('/')}" is not a directory`,
      );
    }
  }
}

function lstatSafe(path: string): import('node:fs').Stats | undefined {
  try {
    // Missing paths are the common case: no exception for those.
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function ensureDir(path: string, rel: string, entry: string): void {
  const st = lstatSafe(path);
  if (!st) mkdirSync(path, { mode: 0o755 });
  else if (!st.isDirectory())
    throw badRequest(`tar entry "${entry}": "${rel}" exists and is not a directory`);
}

function setXattr(all: Map<string, Map<string, Buffer>>, rel: string, key: string, value: Buffer): void {
  let m = all.get(rel);
  if (!m) all.set(rel, (m = new Map()));
  m.set(key, value);
}

async function createSpecials(dest: string, specials: Special[]): Promise<void> {
  if (specials.length === 0) return;
  // One shell runs every mknod/mkfifo; arguments travel as argv, never through shell parsing.
  const args: string[] = [];
  for (const s of specials) args.push(s.kind, String(s.major), String(s.minor), s.rel);
  const script =
    'while [ $# -gt 0 ]; do if [ "$1" = p ]; then mkfifo -- "$4" || exit 1; else mknod -- "$4" "$1" "$2" "$3" || exit 1; fi; shift 4; done';
  const res = await run('sh', ['-c', script, 'sh', ...args], { cwd: dest });
  if (res.code !== 0) throw internal(`creating device nodes in ${dest} failed: ${res.stderr.trim()}`);
  for (const s of specials) {
    const p = `${dest}/${s.rel}`;
    lchownSync(p, s.uid, s.gid);
    if (s.mode) chmodSync(p, s.mode);
    lutimesSync(p, s.mtime, s.mtime);
  }
}

/** getfattr's dump format escapes unprintable bytes of names as octal. */
function escapeName(name: string): string {
  let out = '';
  for (const b of Buffer.from(name, 'utf8')) {
    out +=
      b <= 0x20 || b >= 0x7f || b === 0x5c || b === 0x3d
        ? `\\${b.toString(8).padStart(3, '0')}`
        : String.fromCharCode(b);
  }
  return out;
}

async function applyXattrs(dest: string, all: Map<string, Map<string, Buffer>>): Promise<void> {
  if (all.size === 0) return;
  let dump = '';
  for (const [rel, m] of all) {
    dump += `# file: ${escapeName(rel)}\n`;
    for (const [k, v] of m) dump += `${escapeName(k)}=0x${v.toString('hex')}\n`;
    dump += '\n';
  }
  const res = await run('setfattr', ['-h', '--restore=-'], { cwd: dest, input: dump });
  if (res.code !== 0)
    throw internal(
      `setting extended attributes in ${dest} failed (is the attr package installed?): ${res.stderr.trim()}`,
    );
}

/** Who owns what this process creates. */
const OWN_UID = process.geteuid?.() ?? -1;
const OWN_GID = process.getegid?.() ?? -1;

/** Files up to this size are written on the thread pool (their content buffered until then). */
const FILE_ASYNC = 4 << 20;
/** Bounds on what is buffered for pending writes. */
const MAX_PENDING_FILES = 32;
const MAX_PENDING_BYTES = 8 << 20;

/** File writes running on the thread pool, with the paths they will create. */
class PendingWrites {
  private readonly paths = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private bytes = 0;
  private failure: Error | undefined;

  /** Whether `rel` or one of its parents is a file still being written. */
  touches(rel: string): boolean {
    if (this.paths.size === 0) return false;
    if (this.paths.has(rel)) return true;
    for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1))
      if (this.paths.has(rel.slice(0, i))) return true;
    return false;
  }

  /** Throws the first failed write. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** Starts a write; waits first while too much is pending. */
  async add(rel: string, bytes: number, job: () => Promise<void>, entry: string): Promise<void> {
    while (
      this.running.size >= MAX_PENDING_FILES ||
      (this.bytes > 0 && this.bytes + bytes > MAX_PENDING_BYTES)
    )
      await Promise.race(this.running);
    this.check();
    this.paths.add(rel);
    this.bytes += bytes;
    const p: Promise<void> = job()
      .catch((err: unknown) => {
        this.failure ??= badRequest(`cannot extract tar entry "${entry}": ${messageOf(err)}`, err);
      })
      .finally(() => {
        this.running.delete(p);
        this.paths.delete(rel);
        this.bytes -= bytes;
      });
    this.running.add(p);
  }

  /** Waits for every pending write; throws the first failure. */
  async settle(): Promise<void> {
    await this.drain();
    this.check();
  }

  /** Waits for every pending write, whatever their outcome. */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }
}

const fsCall = <T>(fn: (cb: (err: NodeJS.ErrnoException | null, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

/** One regular file created, filled, owned, moded and dated on the thread pool. */
async function writeFileAsync(
  path: string,
  chunks: Buffer[],
  chown: boolean,
  uid: number,
  gid: number,
  mode: number,
  mtime: Date,
): Promise<void> {
  const fd = await fsCall<number>((cb) =>
    open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600, cb),
  );
  try {
    let rest = chunks;
    while (rest.length) {
      const n = await fsCall<number>((cb) => writev(fd, rest, cb));
      if (n <= 0) throw new Error('short write');
      rest = skipBytes(rest, n);
    }
    if (chown) await fsCall<void>((cb) => fchown(fd, uid, gid, cb));
    await fsCall<void>((cb) => fchmod(fd, mode, cb));
    await fsCall<void>((cb) => futimes(fd, mtime, mtime, cb));
  } finally {
    await fsCall<void>((cb) => close(fd, cb));
  }
}

/** `chunks` without their first `n` bytes (after a partial writev). */
function skipBytes(chunks: Buffer[], n: number): Buffer[] {
  let i = 0;
  let left = n;
  while (i < chunks.length && left >= chunks[i]!.length) left -= chunks[i++]!.length;
  const out = chunks.slice(i);
  if (left > 0 && out.length) out[0] = out[0]!.subarray(left);
  return out;
}
