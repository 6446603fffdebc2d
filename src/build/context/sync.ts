// The build context, received into a reusable directory. The docker CLI sends the whole context tar on
// every build; rather than extracting it into a fresh directory (and deleting it afterwards), the daemon
// keeps a few extracted contexts and brings one up to date with the tar: a file whose content (hashed as
// it streams in) is what the directory already holds is not written again, entries the tar no longer has
// are removed. The content digests computed here are handed to the executor, so COPY does not read and
// hash the context's files a second time.
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  type Stats,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import { cleanEntryName, decompress } from '../../layers/index.js';
import { badRequest, messageOf } from '../../util/index.js';

/** What the daemon knows about a regular file it wrote (or kept) while receiving a context. */
interface FileRecord {
  /** sha256 hex of the content. */
  digest: string;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** A received context: its directory, and the content digests of its regular files. */
export interface ReceivedContext {
  readonly dir: string;
  /**
   * The sha256 hex of the regular file at `rel` (context-relative), when `st` (its lstat now) shows it is
   * still the file that was received; undefined otherwise (the caller hashes it).
   */
  digestOf(rel: string, st: Stats): string | undefined;
  /** The directory may have been written to during the build (a writable bind mount): never reuse it. */
  taint(): void;
  /** Returns the directory to the pool (or removes it when tainted or the pool is full). */
  release(): Promise<void>;
}

interface Slot {
  dir: string;
  key: string;
  files: Map<string, FileRecord>;
  busy: boolean;
  lastUsed: number;
}

/** Files up to this size are held in memory while hashing (so an unchanged one is never written). */
const BUFFER_LIMIT = 4 << 20;

type EntryKind = 'dir' | 'file' | 'symlink' | 'other';

/** A pool of extracted contexts under `root` (a directory that is wiped when the daemon starts). */
export class ContextPool {
  private readonly slots: Slot[] = [];

  constructor(
    private readonly root: string,
    private readonly max = 4,
    /** A context with more file bytes than this is not kept after its build (disk is not a cache). */
    private readonly keepBytes = 512 << 20,
  ) {}

  /**
   * Receives a context tar (maybe compressed) into a directory. `key` picks which kept directory to
   * update (the same tags and Dockerfile usually mean the same project); any pick is correct, a good one
   * is faster. A bad tar is a 400 naming the entry.
   */
  async receive(body: Readable, key: string): Promise<ReceivedContext> {
    const slot = await this.take(key);
    try {
      slot.files = await syncTar(body, slot.dir, slot.files);
    } catch (err) {
      this.drop(slot);
      await rm(slot.dir, { recursive: true, force: true }).catch(() => {});
      throw badRequest(`invalid build context: ${messageOf(err)}`);
    }
    let tainted = false;
    let released = false;
    const files = slot.files;
    return {
      dir: slot.dir,
      digestOf(rel, st) {
        const rec = files.get(rel);
        if (!rec || !st.isFile()) return undefined;
        if (rec.ino !== st.ino || rec.size !== st.size) return undefined;
        if (rec.mtimeMs !== st.mtimeMs || rec.ctimeMs !== st.ctimeMs) return undefined;
        return rec.digest;
      },
      taint() {
        tainted = true;
      },
      release: async () => {
        if (released) return;
        released = true;
        slot.busy = false;
        slot.lastUsed = Date.now();
        let bytes = 0;
        for (const rec of files.values()) bytes += rec.size;
        if (tainted || bytes > this.keepBytes) {
          this.drop(slot);
          await rm(slot.dir, { recursive: true, force: true }).catch(() => {});
        }
      },
    };
  }

  private async take(key: string): Promise<Slot> {
    const free = this.slots.filter((s) => !s.busy);
    let slot = free.find((s) => s.key === key);
    if (!slot && this.slots.length >= this.max && free.length > 0) {
      // Full: the least recently used free directory is brought up to date instead.
      slot = free.reduce((a, b) => (a.lastUsed <= b.lastUsed ? a : b));
    }
    if (!slot) {
      slot = {
        dir: join(this.root, randomBytes(8).toString('hex')),
        key,
        files: new Map(),
        busy: false,
        lastUsed: 0,
      };
      await mkdir(slot.dir, { recursive: true, mode: 0o700 });
      this.slots.push(slot);
    }
    slot.busy = true;
    slot.key = key;
    return slot;
  }

  private drop(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  /** Removes every kept directory that is not in use. */
  async clear(): Promise<void> {
    for (const slot of this.slots.filter((s) => !s.busy)) {
      this.drop(slot);
      await rm(slot.dir, { recursive: true, force: true }).catch(() => {});
    }
  }
}

/**
 * Makes `dest` hold exactly what the tar holds. `prev` describes the regular files as this function left
 * them last time (nothing else writes to the directory); returns the same for this tar.
 */
async function syncTar(
  body: Readable,
  dest: string,
  prev: Map<string, FileRecord>,
): Promise<Map<string, FileRecord>> {
  const { stream } = await decompress(body);
  const ex = tarExtract();
  let pipeErr: Error | undefined;
  pipeline(stream, ex, (err) => {
    if (err) pipeErr = err;
  });
  const files = new Map<string, FileRecord>();
  // What this tar put at each path (a parent must be one of its directories, or a directory on disk).
  const seen = new Map<string, EntryKind>();
  const dirMeta: { rel: string; mode: number; uid: number; gid: number; mtime: Date }[] = [];
  const abs = (rel: string) => (rel ? `${dest}/${rel}` : dest);
  const lstatOrNull = (p: string): Stats | undefined => {
    try {
      return lstatSync(p);
    } catch {
      return undefined;
    }
  };
  const forgetBelow = (rel: string) => {
    const prefix = `${rel}/`;
    for (const k of seen.keys()) if (k.startsWith(prefix)) seen.delete(k);
    for (const k of files.keys()) if (k.startsWith(prefix)) files.delete(k);
  };
  /** Every parent of rel is a real directory: this tar's, an existing one, or a new one. */
  const parents = (rel: string, name: string) => {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i]!;
      const kind = seen.get(cur);
      if (kind === 'dir') continue;
      if (kind !== undefined) throw badRequest(`tar entry "${name}": parent "${cur}" is not a directory`);
      const st = lstatOrNull(abs(cur));
      if (st && !st.isDirectory()) {
        // Left over from an earlier context (this tar has not named it): replaced by a directory.
        rmSync(abs(cur), { recursive: true, force: true });
      }
      if (!st?.isDirectory()) mkdirSync(abs(cur), { mode: 0o755 });
      seen.set(cur, 'dir');
    }
  };
  /** Removes whatever is at rel unless it is a directory and `keepDir`. */
  const clear = (rel: string, st: Stats | undefined, keepDir: boolean) => {
    if (!st || (keepDir && st.isDirectory())) return;
    rmSync(abs(rel), { recursive: true, force: true });
    if (st.isDirectory()) forgetBelow(rel);
  };
  /** Gives path the tar's metadata; true when something had to change. */
  const setMeta = (path: string, st: Stats, mode: number, uid: number, gid: number, mtime: Date) => {
    let changed = false;
    if ((st.mode & 0o7777) !== mode) {
      chmodSync(path, mode);
      changed = true;
    }
    if (st.uid !== uid || st.gid !== gid) {
      lchownSync(path, uid, gid);
      changed = true;
    }
    if (Math.abs(st.mtimeMs - mtime.getTime()) >= 1) {
      utimesSync(path, mtime, mtime);
      changed = true;
    }
    return changed;
  };
  let linked = false;

  for await (const entry of ex) {
    const h = entry.header;
    const name = h.name;
    const rel = cleanEntryName(name);
    const mode = (h.mode ?? 0o644) & 0o7777;
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    const mtime = h.mtime ?? new Date(0);
    if (rel === '') {
      entry.resume();
      continue;
    }
    parents(rel, name);
    const path = abs(rel);
    const st = lstatOrNull(path);
    switch (h.type) {
      case 'file':
      case 'contiguous-file': {
        const hash = createHash('sha256');
        const chunks: Buffer[] = [];
        let held = 0;
        let tmp: { path: string; fd: number } | undefined;
        for await (const chunk of entry as AsyncIterable<Buffer>) {
          hash.update(chunk);
          if (!tmp && held + chunk.length <= BUFFER_LIMIT) {
            chunks.push(chunk);
            held += chunk.length;
            continue;
          }
          if (!tmp) {
            // Too big to hold: spill to a temp file beside the target.
            const p = `${dest}/.berth-ctx-${randomBytes(6).toString('hex')}`;
            tmp = {
              path: p,
              fd: openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600),
            };
            for (const c of chunks) writeAll(tmp.fd, c);
            chunks.length = 0;
          }
          writeAll(tmp.fd, chunk);
        }
        const digest = hash.digest('hex');
        const old = prev.get(rel);
        const same =
          old !== undefined &&
          old.digest === digest &&
          st?.isFile() === true &&
          st.ino === old.ino &&
          st.size === old.size &&
          st.mtimeMs === old.mtimeMs &&
          // A COPY that hard-links the file into a layer changes its ctime (and nothing else).
          (st.ctimeMs === old.ctimeMs || st.nlink > 1);
        let kept: Stats | undefined;
        if (same) {
          if (tmp) {
            closeSync(tmp.fd);
            rmSync(tmp.path, { force: true });
          }
          let cur = st!;
          if (cur.nlink > 1 && metaDiffers(cur, mode, uid, gid, mtime)) {
            // Other links to this inode may be files of build layers (COPY hard-links kept files):
            // new metadata goes on a copy, never on the shared inode.
            const p = `${dest}/.berth-ctx-${randomBytes(6).toString('hex')}`;
            copyFileSync(path, p);
            renameSync(p, path);
            cur = lstatSync(path);
          }
          if (!setMeta(path, cur, mode, uid, gid, mtime)) kept = cur;
        } else {
          clear(rel, st, false);
          if (tmp) {
            closeSync(tmp.fd);
            renameSync(tmp.path, path);
          } else {
            const fd = openSync(
              path,
              constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
              0o600,
            );
            try {
              for (const c of chunks) writeAll(fd, c);
            } finally {
              closeSync(fd);
            }
          }
          lchownSync(path, uid, gid);
          chmodSync(path, mode);
          utimesSync(path, mtime, mtime);
        }
        const now = kept ?? lstatSync(path);
        files.set(rel, {
          digest,
          ino: now.ino,
          size: now.size,
          mtimeMs: now.mtimeMs,
          ctimeMs: now.ctimeMs,
        });
        seen.set(rel, 'file');
        break;
      }
      case 'directory': {
        entry.resume();
        clear(rel, st, true);
        if (!st?.isDirectory()) mkdirSync(path, { mode: 0o755 });
        seen.set(rel, 'dir');
        dirMeta.push({ rel, mode, uid, gid, mtime });
        break;
      }
      case 'symlink': {
        entry.resume();
        const target = h.linkname ?? '';
        if (!(st?.isSymbolicLink() && readlinkSync(path) === target)) {
          clear(rel, st, false);
          symlinkSync(target, path);
        }
        lchownSync(path, uid, gid);
        lutimesSync(path, mtime, mtime);
        files.delete(rel);
        seen.set(rel, 'symlink');
        break;
      }
      case 'link': {
        entry.resume();
        const target = cleanEntryName(h.linkname ?? '', 'link target');
        const rec = files.get(target);
        if (seen.get(target) !== 'file' || !rec)
          throw badRequest(`tar entry "${name}": hard link target "${h.linkname}" is not a file of this tar`);
        clear(rel, st, false);
        linkSync(abs(target), path);
        linked = true;
        const now = lstatSync(path);
        // A new link changes the target's ctime: refresh both records.
        const fresh = { ...rec, ino: now.ino, size: now.size, mtimeMs: now.mtimeMs, ctimeMs: now.ctimeMs };
        files.set(target, fresh);
        files.set(rel, { ...fresh });
        seen.set(rel, 'file');
        break;
      }
      default:
        // Devices, FIFOs and sockets have no place in a build context (COPY could not use them).
        entry.resume();
        break;
    }
  }
  if (pipeErr) throw pipeErr;
  // Whatever an earlier context left that this one does not have.
  removeUnseen(dest, '', seen);
  // Directory times last (creating entries inside changed them), deepest first.
  for (const d of dirMeta.reverse()) {
    if (seen.get(d.rel) !== 'dir') continue;
    const path = abs(d.rel);
    setMeta(path, lstatSync(path), d.mode, d.uid, d.gid, d.mtime);
  }
  // Records of hard-linked files may be stale after a later link: keep only those still exact.
  if (linked)
    for (const [rel, rec] of files) {
      const st = lstatOrNull(abs(rel));
      if (!st || st.ino !== rec.ino || st.ctimeMs !== rec.ctimeMs) files.delete(rel);
    }
  return files;
}

function removeUnseen(dest: string, rel: string, seen: Map<string, EntryKind>): void {
  for (const d of readdirSync(rel ? `${dest}/${rel}` : dest, { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    const kind = seen.get(r);
    if (kind === undefined) rmSync(`${dest}/${r}`, { recursive: true, force: true });
    else if (kind === 'dir' && d.isDirectory()) removeUnseen(dest, r, seen);
  }
}

/** Whether a file's mode, owner or mtime differ from the tar's (what setMeta would change). */
function metaDiffers(st: Stats, mode: number, uid: number, gid: number, mtime: Date): boolean {
  return (
    (st.mode & 0o7777) !== mode ||
    st.uid !== uid ||
    st.gid !== gid ||
    Math.abs(st.mtimeMs - mtime.getTime()) >= 1
  );
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}
