// COPY and ADD without a container: the sources are resolved (globs, symlinks inside their root),
// checksummed for the cache (paths, modes, owners, contents), then copied into a fresh directory
// laid out like the image's root, which becomes the step's layer.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  createReadStream,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  type Stats,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { applyLayer } from '../../layers/index.js';
import { resolveInRoot } from '../../runtime/index.js';
import { badRequest } from '../../util/index.js';
import { IgnoreMatcher } from '../context/index.js';
import { type ChmodSpec, DockerfileError } from '../parser/index.js';
import { compileChmod } from './chmod.js';
import { type SourceLocation, verifyFileChecksum } from './remote.js';

/** One thing to put into the layer. */
export interface CopyOp {
  kind: 'file' | 'dir' | 'symlink' | 'extract';
  /** Host path of the source. */
  host: string;
  /** Absolute path inside the image. */
  dest: string;
  stats: Stats;
}

export interface CopyPlan {
  ops: CopyOp[];
  /** sha256 hex over paths, modes, owners and contents: the cache's content key. */
  checksum: string;
  /** `file` when a single file is copied, else `dir` (as Docker's history shows it). */
  label: 'file' | 'dir' | 'multi';
}

export interface PlanInput {
  /** Root the sources are relative to: the context directory or a stage's/image's root. */
  root: string;
  sources: string[];
  /** Absolute destination inside the image (WORKDIR applied); a trailing '/' marks a directory. */
  dest: string;
  /** Whether `dest` is an existing directory in the image. */
  destIsDir: boolean;
  /** .dockerignore of the context (context sources only). */
  ignore?: IgnoreMatcher;
  /** `--exclude` patterns. */
  excludes: string[];
  /** ADD: unpack local archives. */
  unpack: boolean;
  /** Keep the sources' owners (COPY --from) instead of root. */
  keepOwner: boolean;
  /** What the error says the root is (`build context`, `stage foo`). */
  rootName: string;
  /** Compute the content checksum (default true); false when only the operations are wanted. */
  hash?: boolean;
  /**
   * `COPY --parents`: keep each match's parent directories under dest (dest is then a directory); a
   * `/./` in a source keeps only the parents after it, as rsync --relative does.
   */
  parents?: boolean;
  /** `ADD --checksum`: the single file source must have this digest. */
  checksum?: string;
  /** The instruction, for error messages. */
  location?: SourceLocation;
}

const GLOB = /[*?[]/;

function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end < 0) throw badRequest(`invalid pattern ${seg}: unterminated [`);
      let body = seg.slice(i + 1, end);
      if (body.startsWith('^') || body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < seg.length) re += `\\${seg[++i]}`;
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Context-relative paths matching a source pattern (no glob: the path itself), sorted. */
function matchSource(root: string, pattern: string): string[] {
  const clean = posix.normalize(`/${pattern}`).slice(1);
  if (clean === '' || clean === '.') return [''];
  if (!GLOB.test(clean)) return [clean];
  let current: string[] = [''];
  for (const seg of clean.split('/')) {
    const next: string[] = [];
    if (seg === '**') {
      // Any number of path components, none included.
      for (const base of current) descendants(root, base, next);
      current = [...new Set(next)];
      continue;
    }
    for (const base of current) {
      if (!GLOB.test(seg)) {
        const p = base ? `${base}/${seg}` : seg;
        if (existsSync(resolveInRoot(root, p))) next.push(p);
        continue;
      }
      const re = segmentRegex(seg);
      let names: string[] = [];
      try {
        names = readdirSync(resolveInRoot(root, base)).sort();
      } catch {
        names = [];
      }
      for (const n of names) if (re.test(n)) next.push(base ? `${base}/${n}` : n);
    }
    current = next;
  }
  return current;
}

/** `base` and every directory below it (symlinks are not followed). */
function descendants(root: string, base: string, out: string[]): void {
  out.push(base);
  let entries: import('node:fs').Dirent[] = [];
  try {
    entries = readdirSync(resolveInRoot(root, base), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)))
    if (e.isDirectory()) descendants(root, base ? `${base}/${e.name}` : e.name, out);
}

/**
 * `--parents`: the part of a source pattern whose directories are dropped — what precedes its first
 * `/./` (a leading `./` keeps everything) — normalized, '' when there is none.
 */
export function parentsPivot(source: string): string {
  const s = source.replace(/^(?:\.\/)+/, '').replace(/^\/+/, '');
  const at = s.indexOf('/./');
  if (at < 0) return '';
  return posix.normalize(`/${s.slice(0, at)}`).slice(1);
}

function isArchive(path: string): boolean {
  let head: Buffer;
  try {
    head = readFileSync(path).subarray(0, 512);
  } catch {
    return false;
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return true;
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return false; // bzip2 is not unpacked here
  if (head[0] === 0xfd && head.subarray(1, 6).toString('latin1') === '7zXZ\u0000') return false;
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return true;
  return head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Resolves sources to operations and checksums them; throws 400 naming a missing source. */
export async function planCopy(input: PlanInput): Promise<CopyPlan> {
  const ops: CopyOp[] = [];
  const excl = input.excludes.length > 0 ? new IgnoreMatcher(input.excludes) : undefined;
  const many = input.sources.length > 1 || input.sources.some((s) => GLOB.test(s));
  const destDir = input.dest.endsWith('/') || input.destIsDir || many || input.parents === true;
  const destRoot = posix.normalize(input.dest);
  const parentDirs = new Set<string>();
  for (const src of input.sources) {
    const matches = [...new Set(matchSource(input.root, src))].filter(
      (rel) => rel === '' || !(input.ignore?.matches(rel) ?? false),
    );
    const found = matches.filter((rel) => {
      try {
        lstatSync(resolveInRoot(input.root, rel));
        return true;
      } catch {
        return false;
      }
    });
    if (found.length === 0) {
      throw badRequest(`COPY failed: file not found in ${input.rootName}: stat ${src}: file does not exist`);
    }
    const pivot = input.parents ? parentsPivot(src) : '';
    for (const rel of found) {
      const host = resolveInRoot(input.root, rel);
      const st = lstatSync(host);
      if (input.parents) {
        planWithParents(input, rel, pivot, host, st, destRoot, excl, ops, parentDirs);
        continue;
      }
      if (st.isDirectory()) {
        // A directory's contents go into dest (the directory itself is not recreated).
        ops.push({ kind: 'dir', host, dest: destRoot, stats: st });
        walkDir(host, rel, destRoot, input, excl, ops);
      } else {
        const dest = destDir ? posix.join(destRoot, posix.basename(rel)) : destRoot;
        if (input.unpack && st.isFile() && isArchive(host)) {
          ops.push({ kind: 'extract', host, dest: destRoot, stats: st });
        } else ops.push({ kind: st.isSymbolicLink() ? 'symlink' : 'file', host, dest, stats: st });
      }
    }
  }
  if (input.checksum !== undefined) await verifyChecksum(input, ops);
  const h = createHash('sha256');
  // With --parents the layout depends on the sources' paths, which the instruction does not fix alone.
  if (input.parents) h.update(`parents\u0000${ops.map((op) => op.dest).join('\u0000')}\n`);
  for (const op of input.hash === false ? [] : ops) {
    const st = op.stats;
    const uid = input.keepOwner ? st.uid : 0;
    const gid = input.keepOwner ? st.gid : 0;
    // Source paths, not destinations: where a source lands is fixed by the parent image and the
    // instruction, which the cache key holds already.
    const rel = op.host.slice(input.root.length);
    h.update(`${op.kind}\u0000${rel}\u0000${st.mode.toString(8)}\u0000${uid}:${gid}\u0000`);
    if (op.kind === 'file' || op.kind === 'extract') h.update(await hashFile(op.host));
    else if (op.kind === 'symlink') h.update(readlinkSync(op.host));
    h.update('\n');
  }
  const label = ops.length === 1 && ops[0]!.kind === 'file' ? 'file' : many ? 'multi' : 'dir';
  return { ops, checksum: h.digest('hex'), label };
}

/** `ADD --checksum`: exactly one regular file (or archive) whose content has the digest. */
async function verifyChecksum(input: PlanInput, ops: CopyOp[]): Promise<void> {
  const where = input.location;
  const what = `${input.sources.join(' ')}`;
  const files = ops.filter((op) => op.kind === 'file' || op.kind === 'extract');
  if (files.length !== 1 || ops.length !== 1) {
    const msg = `ADD --checksum needs a single file source, but ${what} in ${input.rootName} is ${
      ops.some((op) => op.kind === 'dir') ? 'a directory' : `${ops.length} entries`
    }`;
    if (where) throw new DockerfileError(where.file, where.line, msg);
    throw badRequest(msg);
  }
  await verifyFileChecksum(files[0]!.host, input.checksum!, what, where);
}

/** One match of a `--parents` source: its path below the pivot is kept under dest. */
function planWithParents(
  input: PlanInput,
  rel: string,
  pivot: string,
  host: string,
  st: Stats,
  destRoot: string,
  excl: IgnoreMatcher | undefined,
  ops: CopyOp[],
  parentDirs: Set<string>,
): void {
  const kept = pivot && (rel === pivot || rel.startsWith(`${pivot}/`)) ? rel.slice(pivot.length + 1) : rel;
  // The kept parent directories come with their source metadata, once each.
  const parts = kept.split('/').filter(Boolean);
  let relDir = pivot;
  let destDir = destRoot;
  for (const p of parts.slice(0, -1)) {
    relDir = relDir ? `${relDir}/${p}` : p;
    destDir = posix.join(destDir, p);
    if (parentDirs.has(destDir)) continue;
    parentDirs.add(destDir);
    const dirHost = resolveInRoot(input.root, relDir);
    ops.push({ kind: 'dir', host: dirHost, dest: destDir, stats: lstatSync(dirHost) });
  }
  const dest = kept ? posix.join(destRoot, kept) : destRoot;
  if (st.isDirectory()) {
    if (!parentDirs.has(dest)) {
      parentDirs.add(dest);
      ops.push({ kind: 'dir', host, dest, stats: st });
    }
    walkDir(host, rel, dest, input, excl, ops);
  } else if (input.unpack && st.isFile() && isArchive(host)) {
    ops.push({ kind: 'extract', host, dest: posix.dirname(dest), stats: st });
  } else ops.push({ kind: st.isSymbolicLink() ? 'symlink' : 'file', host, dest, stats: st });
}

function walkDir(
  hostDir: string,
  relDir: string,
  destDir: string,
  input: PlanInput,
  excl: IgnoreMatcher | undefined,
  ops: CopyOp[],
  sub = '',
): void {
  for (const name of readdirSync(hostDir).sort()) {
    const rel = relDir ? `${relDir}/${name}` : name;
    const subRel = sub ? `${sub}/${name}` : name;
    if (input.ignore?.matches(rel) && !input.ignore.mayIncludeBelow(rel)) continue;
    if (excl?.matches(subRel)) continue;
    const host = join(hostDir, name);
    const st = lstatSync(host);
    const dest = posix.join(destDir, name);
    if (st.isDirectory()) {
      if (!input.ignore?.matches(rel)) ops.push({ kind: 'dir', host, dest, stats: st });
      walkDir(host, rel, dest, input, excl, ops, subRel);
    } else if (!input.ignore?.matches(rel)) {
      ops.push({ kind: st.isSymbolicLink() ? 'symlink' : 'file', host, dest, stats: st });
    }
  }
}

export interface WriteOptions {
  /** The layer directory (laid out like the image root). */
  layerDir: string;
  /** The parent image's root, to copy the metadata of existing parent directories. */
  parentRoot: string | undefined;
  owner?: { uid: number; gid: number };
  keepOwner: boolean;
  chmod?: ChmodSpec;
  /**
   * Hard-link regular files whose mode, owner and times already are what the layer needs instead of
   * copying them (a file creation costs far more than a link). Only for sources nothing modifies in
   * place afterwards: the kept build context, which replaces a changed file by a new inode.
   */
  link?: boolean;
  /**
   * What the writes into this (initially empty) layer directory made so far, shared by the plans of one
   * COPY: saves a stat per file and per parent. Without it, every path is looked up.
   */
  made?: LayerWrites;
}

/** Paths made in a layer directory; `exact` while nothing else (an archive, a symlink) put anything there. */
export interface LayerWrites {
  paths: Set<string>;
  exact: boolean;
}

const exists = (path: string) => lstatSync(path, { throwIfNoEntry: false }) !== undefined;

/** Creates the parents of `dest` in the layer, copying mode and owner of those the image already has. */
function ensureParents(opts: WriteOptions, dest: string): void {
  const parts = posix.dirname(dest).split('/').filter(Boolean);
  let cur = '';
  for (const p of parts) {
    cur = `${cur}/${p}`;
    const target = join(opts.layerDir, cur);
    if (opts.made?.paths.has(target) || existsSync(target)) continue;
    mkdirSync(target, { mode: 0o755 });
    opts.made?.paths.add(target);
    if (opts.parentRoot) {
      try {
        const st = lstatSync(join(opts.parentRoot, cur));
        if (st.isDirectory()) {
          chmodSync(target, st.mode & 0o7777);
          lchownSync(target, st.uid, st.gid);
          utimesSync(target, st.atime, st.mtime);
          continue;
        }
      } catch {
        // Not in the image: a new directory, root-owned like Docker makes it.
      }
    }
    chmodSync(target, 0o755);
  }
}

/** Creates the parents of `dest` in `layerDir` with the metadata they have in the image at `parentRoot`. */
export function makeParents(layerDir: string, parentRoot: string | undefined, dest: string): void {
  ensureParents({ layerDir, parentRoot, keepOwner: false }, dest);
}

/** Writes the planned operations into the layer directory. */
export async function writeCopy(plan: CopyPlan, opts: WriteOptions): Promise<void> {
  const ownerOf = (st: Stats) =>
    opts.owner ?? (opts.keepOwner ? { uid: st.uid, gid: st.gid } : { uid: 0, gid: 0 });
  const chmod = compileChmod(opts.chmod);
  const modeOf = (st: Stats) => chmod(st.mode, st.isDirectory());
  for (const op of plan.ops) {
    const target = join(opts.layerDir, op.dest);
    const { uid, gid } = ownerOf(op.stats);
    if (op.kind === 'dir') {
      ensureParents(opts, op.dest);
      if (!opts.made?.paths.has(target) && !existsSync(target)) mkdirSync(target);
      opts.made?.paths.add(target);
      // The destination directory itself keeps the image's metadata when it exists there.
      let fromImage: Stats | undefined;
      if (opts.parentRoot && op.host !== '' && plan.ops[0] === op) {
        try {
          fromImage = lstatSync(join(opts.parentRoot, op.dest));
        } catch {
          fromImage = undefined;
        }
      }
      if (fromImage?.isDirectory()) {
        chmodSync(target, fromImage.mode & 0o7777);
        lchownSync(target, fromImage.uid, fromImage.gid);
      } else {
        chmodSync(target, modeOf(op.stats));
        lchownSync(target, uid, gid);
      }
      utimesSync(target, op.stats.atime, op.stats.mtime);
    } else if (op.kind === 'file') {
      ensureParents(opts, op.dest);
      // The layer directory starts empty: only an earlier op of this COPY can have put something here.
      if (opts.made?.exact ? opts.made.paths.has(target) : exists(target))
        await rm(target, { recursive: true, force: true });
      opts.made?.paths.add(target);
      const mode = modeOf(op.stats);
      if (opts.link && mode === (op.stats.mode & 0o7777) && op.stats.uid === uid && op.stats.gid === gid) {
        try {
          linkSync(op.host, target);
          continue;
        } catch {
          // Another filesystem (or a link limit): copied below.
        }
      }
      copyFileSync(op.host, target);
      chmodSync(target, mode);
      lchownSync(target, uid, gid);
      utimesSync(target, op.stats.atime, op.stats.mtime);
    } else if (op.kind === 'symlink') {
      // Paths below a symlink resolve through it: the record no longer tells what is there.
      if (opts.made) opts.made.exact = false;
      ensureParents(opts, op.dest);
      if (exists(target)) await rm(target, { recursive: true, force: true });
      symlinkSync(readlinkSync(op.host), target);
      lchownSync(target, uid, gid);
    } else {
      if (opts.made) opts.made.exact = false;
      ensureParents(opts, `${op.dest}/x`);
      const tmp = `${opts.layerDir}.unpack-${Math.random().toString(16).slice(2)}`;
      await mkdir(tmp, { recursive: true });
      try {
        const fh = await open(op.host, 'r');
        try {
          await applyLayer(fh.createReadStream(), tmp);
        } finally {
          await fh.close().catch(() => {});
        }
        await mergeTree(tmp, target);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
  }
}

/** Moves an unpacked archive's entries over the destination (merging directories). */
async function mergeTree(from: string, to: string): Promise<void> {
  const { rename } = await import('node:fs/promises');
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const st = lstatSync(src);
    let existing: Stats | undefined;
    try {
      existing = lstatSync(dst);
    } catch {
      existing = undefined;
    }
    if (st.isDirectory() && existing?.isDirectory()) await mergeTree(src, dst);
    else {
      if (existing) await rm(dst, { recursive: true, force: true });
      await rename(src, dst);
    }
  }
}

/** `--chown` value → numeric owner, names looked up in the image's /etc/passwd and /etc/group. */
export function resolveOwner(spec: string, root: string | undefined): { uid: number; gid: number } {
  const [user = '', group] = spec.split(':');
  const read = (file: string): string[][] => {
    if (!root) return [];
    try {
      return readFileSync(resolveInRoot(root, file), 'utf8')
        .split('\n')
        .map((l) => l.split(':'));
    } catch {
      return [];
    }
  };
  let uid: number;
  let primary: number | undefined;
  if (/^\d+$/.test(user)) uid = Number(user);
  else {
    const entry = read('/etc/passwd').find((f) => f[0] === user);
    if (!entry)
      throw badRequest(`unable to convert uid/gid chown string to host mapping: no such user: ${user}`);
    uid = Number(entry[2]);
    primary = Number(entry[3]);
  }
  let gid: number;
  if (group === undefined || group === '') gid = primary ?? uid;
  else if (/^\d+$/.test(group)) gid = Number(group);
  else {
    const entry = read('/etc/group').find((f) => f[0] === group);
    if (!entry)
      throw badRequest(`unable to convert uid/gid chown string to host mapping: no such group: ${group}`);
    gid = Number(entry[2]);
  }
  return { uid, gid };
}
