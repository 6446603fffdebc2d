// Container filesystem operations behind `cp`, `export` and `diff`: path stats, tars of a path, safe
// extraction of uploaded tars, the export of the whole rootfs and the changes in the overlay upper dir.
//
// Paths inside a container are resolved against its rootfs with symlinks followed *inside* that rootfs
// (ContainerFs), so neither a container symlink (`/x -> /`) nor a tar entry can reach the host. The
// generic parts (packPath, extractTar) also serve the CLI on the host side of `cp`.
import {
  type BigIntStats,
  chmodSync,
  closeSync,
  constants,
  createReadStream,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  rmSync,
  type Stats,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { posix } from 'node:path';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { type Header, type Pack, extract as tarExtract, pack as tarPack } from 'tar-stream';
import { decompress } from '../layers/index.js';
import { followLinksWithin, resolveUser } from '../runtime/index.js';
import { BerthError, badRequest, internal, messageOf, notFound, run } from '../util/index.js';
import type { ContainerRecord } from './record.js';
import type { ContainerService } from './service.js';

/** Docker's ContainerPathStat (the X-Docker-Container-Path-Stat header, base64 JSON). */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits: permissions plus type flags (ModeDir = 1<<31, ModeSymlink = 1<<27…). */
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** One entry of GET /containers/{id}/changes: Kind 0 modified, 1 added, 2 deleted. */
export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

/** What the file operations need besides the container service: the image's layer directories. */
export interface FilesDeps {
  containers: ContainerService;
  /** Lower directories of an image chain, top first (LayerStore.lowerDirs). */
  lowerDirs(chainId: string | null): string[];
}

// ------------------------------------------------------------------ Go path helpers

const GO_MODE = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  pipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
};

/** Go's os.FileMode for a stat (fillFileStatFromSys). */
export function goFileMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += GO_MODE.dir;
  else if (st.isSymbolicLink()) m += GO_MODE.symlink;
  else if (st.isBlockDevice()) m += GO_MODE.device;
  else if (st.isCharacterDevice()) m += GO_MODE.device + GO_MODE.charDevice;
  else if (st.isFIFO()) m += GO_MODE.pipe;
  else if (st.isSocket()) m += GO_MODE.socket;
  if (st.mode & 0o4000) m += GO_MODE.setuid;
  if (st.mode & 0o2000) m += GO_MODE.setgid;
  if (st.mode & 0o1000) m += GO_MODE.sticky;
  return m;
}

export function goModeIsDir(mode: number): boolean {
  return mode >= GO_MODE.dir;
}

export function goModeIsSymlink(mode: number): boolean {
  return Math.floor(mode / GO_MODE.symlink) % 2 === 1;
}

/** Go's filepath.Base: trailing slashes ignored, '/' for the root, '.' for ''. */
export function goBase(p: string): string {
  if (p === '') return '.';
  const s = p.replace(/\/+$/, '');
  if (s === '') return '/';
  return s.slice(s.lastIndexOf('/') + 1);
}

/** True when the last element of `p` is '.' (`dir/.`, `dir/./`). */
export function specifiesCurrentDir(p: string): boolean {
  return goBase(p) === '.';
}

/** Docker's PreserveTrailingDotOrSeparator: keep a trailing `/.` or `/` that cleaning removed. */
export function preserveTrailing(cleaned: string, original: string): string {
  let out = cleaned;
  if (!specifiesCurrentDir(out) && specifiesCurrentDir(original)) {
    if (!out.endsWith('/')) out += '/';
    out += '.';
  }
  if (!out.endsWith('/') && original.endsWith('/')) out += '/';
  return out;
}

/** Docker's SplitPathDirEntry: the parent directory and the entry name (`.` kept for `dir/.`). */
export function splitPathDirEntry(p: string): { dir: string; base: string } {
  let cleaned = posix.normalize(p).replace(/(.)\/+$/, '$1');
  if (specifiesCurrentDir(p)) cleaned += '/.';
  return { dir: posix.dirname(cleaned), base: goBase(cleaned) };
}

/** RFC 3339 with nanoseconds, trailing zeros dropped (Go's time.Time JSON in UTC). */
function goTime(st: { mtimeMs: number; mtimeNs?: bigint }): string {
  const ns = st.mtimeNs ?? BigInt(Math.round(st.mtimeMs * 1e6));
  const secs = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

// ------------------------------------------------------------------ rootfs holds

interface Hold {
  count: number;
  root: Promise<string>;
  release: () => void;
  done: Promise<void>;
}
const holds = new Map<string, Hold>();
const unmounting = new Map<string, Promise<void>>();

/**
 * Keeps the container's rootfs mounted while `fn` (and any stream it returns) runs. Holds are counted per
 * container so concurrent copies of a stopped container share one mount and the last one unmounts.
 */
async function acquireRootfs(
  svc: ContainerService,
  rec: ContainerRecord,
): Promise<{ root: string; release: () => Promise<void> }> {
  await unmounting.get(rec.Id);
  let hold = holds.get(rec.Id);
  if (!hold) {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let ready!: (root: string) => void;
    let fail!: (err: unknown) => void;
    const root = new Promise<string>((res, rej) => {
      ready = res;
      fail = rej;
    });
    const done = svc
      .withRootfs(rec, async (r) => {
        ready(r);
        await gate;
      })
      .catch((err) => fail(err));
    const h: Hold = { count: 0, root, release, done };
    holds.set(rec.Id, h);
    root.catch(() => {
      if (holds.get(rec.Id) === h) holds.delete(rec.Id);
    });
    hold = h;
  }
  hold.count++;
  const h = hold;
  let root: string;
  try {
    root = await h.root;
  } catch (err) {
    h.count--;
    throw err;
  }
  let released = false;
  return {
    root,
    release: async () => {
      if (released) return;
      released = true;
      if (--h.count > 0) return;
      if (holds.get(rec.Id) === h) holds.delete(rec.Id);
      h.release();
      const p = h.done.finally(() => {
        if (unmounting.get(rec.Id) === p) unmounting.delete(rec.Id);
      });
      unmounting.set(rec.Id, p);
      await p;
    },
  };
}

async function withHeldRootfs<T>(
  svc: ContainerService,
  rec: ContainerRecord,
  fn: (root: string) => Promise<T>,
): Promise<T> {
  const { root, release } = await acquireRootfs(svc, rec);
  try {
    return await fn(root);
  } finally {
    await release();
  }
}

/** Releases `release` once `stream` has ended, failed or been destroyed. */
function releaseAfter(stream: Readable, release: () => Promise<void>): Readable {
  let once = false;
  const go = () => {
    if (once) return;
    once = true;
    release().catch(() => {});
  };
  stream.once('close', go);
  stream.once('end', go);
  stream.once('error', go);
  return stream;
}

// ------------------------------------------------------------------ the container's view of paths

interface MountView {
  dest: string;
  source: string;
  rw: boolean;
}

/**
 * Paths as the container sees them: the rootfs plus its bind mounts and volumes (and the /etc/hosts,
 * resolv.conf and hostname files) at their destinations. Symlinks are followed component by component
 * with lstat only, inside this view, so nothing resolves onto the host outside the rootfs and the mounts.
 */
export class ContainerFs {
  private readonly mounts: MountView[];

  constructor(
    readonly root: string,
    mounts: MountView[] = [],
  ) {
    // Longest destination first; on equal destinations the first given wins (user mounts over etc files).
    this.mounts = mounts
      .map((m, i) => ({ m: { ...m, dest: posix.normalize(`/${m.dest}`).replace(/(.)\/+$/, '$1') }, i }))
      .sort((a, b) => b.m.dest.length - a.m.dest.length || a.i - b.i)
      .map((x) => x.m);
  }

  /** The mount holding the (resolved) container path, if any. */
  mountOf(cpath: string): MountView | undefined {
    return this.mounts.find((m) => m.dest === '/' || cpath === m.dest || cpath.startsWith(`${m.dest}/`));
  }

  /** Host path of a resolved container path. */
  host(cpath: string): string {
    const m = this.mountOf(cpath);
    if (m) return `${m.source}${cpath.slice(m.dest.length)}`;
    return cpath === '/' ? this.root : `${this.root}${cpath}`;
  }

  /** `path` with every symlink followed inside the view (a missing tail is kept): a clean absolute path. */
  resolve(path: string): string {
    return followLinksWithin(path, (cpath) => this.host(cpath));
  }

  /** True when a host path lies inside the rootfs or one of the mounts. */
  contains(hostPath: string): boolean {
    const under = (base: string) => hostPath === base || hostPath.startsWith(`${base}/`);
    return under(this.root) || this.mounts.some((m) => under(m.source));
  }
}

/** The view of a container: rootfs, its volumes and bind mounts, and its /etc/hosts & co. */
function viewOf(deps: FilesDeps, rec: ContainerRecord, root: string): ContainerFs {
  const mounts: MountView[] = [];
  for (const m of rec.Mounts ?? []) {
    // tmpfs lives only in the running container's mount namespace: not reachable safely from here.
    if (!m.Source || m.Type === 'tmpfs' || !m.Destination) continue;
    mounts.push({ dest: m.Destination, source: m.Source, rw: m.RW });
  }
  const paths = deps.containers.inspectPaths(rec);
  for (const [dest, source] of [
    ['/etc/hosts', paths.hostsPath],
    ['/etc/resolv.conf', paths.resolvConfPath],
    ['/etc/hostname', paths.hostnamePath],
  ] as const) {
    if (existsSync(source)) mounts.push({ dest, source, rw: true });
  }
  return new ContainerFs(root, mounts);
}

// ------------------------------------------------------------------ stat and archive (GET/HEAD)

function fileNotFound(path: string, container: string): BerthError {
  return notFound(`Could not find the file ${path} in container ${container}`);
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Docker's ResolvePath: the directory part resolved in the container's view, the last element kept. */
function resolvePath(fs: ContainerFs, path: string): { resolved: string; abs: string } {
  const abs = preserveTrailing(posix.join('/', path), path);
  const cut = abs.lastIndexOf('/');
  const base = abs.slice(cut + 1);
  const dir = fs.resolve(abs.slice(0, cut + 1));
  // A trailing '/' or '/.' was already followed inside the view: never let the host follow it.
  if (base === '' || base === '.') {
    const host = fs.host(dir);
    const st = lstatSync(host, { throwIfNoEntry: false });
    // Docker's lstat of `file/` fails the same way (as a server error).
    if (st && !st.isDirectory()) throw internal(`lstat ${abs}: not a directory`);
    return { resolved: host, abs };
  }
  return { resolved: fs.host(dir === '/' ? `/${base}` : `${dir}/${base}`), abs };
}

function statIn(fs: ContainerFs, resolved: string, abs: string): { stat: PathStat; st: Stats } {
  const st = lstatSync(resolved, { bigint: false });
  const big = lstatSync(resolved, { bigint: true });
  return {
    st,
    stat: {
      name: goBase(abs),
      size: st.size,
      mode: goFileMode(st),
      mtime: goTime({ mtimeMs: st.mtimeMs, mtimeNs: big.mtimeNs }),
      // The link fully evaluated in the container, as an absolute container path.
      linkTarget: st.isSymbolicLink() ? fs.resolve(abs) : '',
    },
  };
}

function checkPathParam(path: string | null | undefined): string {
  if (path === null || path === undefined || path === '') throw badRequest('path cannot be empty');
  if (path.includes('\0')) throw badRequest('invalid path: contains a NUL byte');
  return path;
}

/** HEAD /containers/{id}/archive: the stat of `path` in the container `ref`. */
export async function statContainerPath(deps: FilesDeps, ref: string, path: string): Promise<PathStat> {
  checkPathParam(path);
  const rec = deps.containers.get(ref);
  return withHeldRootfs(deps.containers, rec, async (root) => {
    try {
      const fs = viewOf(deps, rec, root);
      const { resolved, abs } = resolvePath(fs, path);
      return statIn(fs, resolved, abs).stat;
    } catch (err) {
      if (isMissing(err)) throw fileNotFound(path, ref);
      throw err;
    }
  });
}

/** GET /containers/{id}/archive: a tar of `path`, its top entry named after the requested base name. */
export async function archiveContainerPath(
  deps: FilesDeps,
  ref: string,
  path: string,
): Promise<{ stat: PathStat; stream: Readable }> {
  checkPathParam(path);
  const rec = deps.containers.get(ref);
  const { root, release } = await acquireRootfs(deps.containers, rec);
  try {
    let resolved: string;
    let abs: string;
    let stat: PathStat;
    let st: Stats;
    try {
      const fs = viewOf(deps, rec, root);
      ({ resolved, abs } = resolvePath(fs, path));
      ({ stat, st } = statIn(fs, resolved, abs));
    } catch (err) {
      if (isMissing(err)) throw fileNotFound(path, ref);
      throw err;
    }
    const rebase = goBase(abs);
    const stream = packPath(resolved.replace(/(.)\/+$/, '$1'), rebase, st);
    deps.containers.publish(rec, 'archive-path');
    return { stat, stream: releaseAfter(stream, release) };
  } catch (err) {
    await release();
    throw err;
  }
}

/** Encodes a stat for the X-Docker-Container-Path-Stat header. */
export function encodePathStat(stat: PathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

// ------------------------------------------------------------------ tar of one path

/**
 * A tar of the host path `source` (a file, a directory with its contents, or a symlink itself), with the
 * top entry renamed to `name` ('.' gives `./child` names, '/' gives `/child`, '' only the children of a
 * directory, named `child`). Symlinks are never followed.
 */
export function packPath(source: string, name: string, st?: Stats): Readable {
  const pack = tarPack();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  pipeline(pack, out, () => {});
  writePathEntries(pack, source, name, st ?? lstatSync(source)).then(
    () => pack.finalize(),
    (err: Error) => {
      pack.destroy(err);
      out.destroy(err);
    },
  );
  return out;
}

type Headers = Partial<Header> & { name: string };

async function writePathEntries(pack: Pack, source: string, top: string, topStat: Stats): Promise<void> {
  const inodes = new Map<string, string>();
  const add = (header: Headers) =>
    new Promise<void>((resolve, reject) => {
      pack.entry(header, '', (err) => (err ? reject(err) : resolve()));
    });
  const child = (parent: string, n: string) =>
    parent === '' ? n : parent === '/' ? `/${n}` : `${parent}/${n}`;

  const entry = async (abs: string, name: string, st: Stats): Promise<void> => {
    const base: Headers = {
      name,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: st.mtime,
    };
    if (st.isDirectory()) {
      // An empty top name archives a directory's contents without an entry for itself (export).
      if (name !== '')
        await add({ ...base, name: name.endsWith('/') ? name : `${name}/`, type: 'directory' });
      for (const n of readdirSync(abs).sort()) {
        const p = `${abs}/${n}`;
        const cst = lstatSync(p, { throwIfNoEntry: false });
        if (cst) await entry(p, child(name, n), cst);
      }
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first) {
        await add({ ...base, type: 'link', linkname: first, size: 0 });
        return;
      }
      if (st.nlink > 1) inodes.set(key, name);
      await addFile(pack, { ...base, type: 'file', size: st.size }, abs, st.size);
    } else if (st.isSymbolicLink()) {
      await add({ ...base, type: 'symlink', linkname: readlinkSync(abs) });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      await add({
        ...base,
        type: st.isCharacterDevice() ? 'character-device' : 'block-device',
        devmajor: devMajor(st.rdev),
        devminor: devMinor(st.rdev),
      });
    } else if (st.isFIFO()) {
      await add({ ...base, type: 'fifo' });
    }
    // Sockets are not archived, as in Docker.
  };
  await entry(source, top, topStat);
}

async function addFile(pack: Pack, header: Headers, abs: string, size: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    if (size === 0) {
      (sink as NodeJS.WritableStream).end();
      return;
    }
    // A file that shrinks while being read would leave the tar short: tar-stream reports that as an error.
    pipeline(createReadStream(abs, { start: 0, end: size - 1, highWaterMark: 1 << 20 }), sink, (err) => {
      if (err) reject(err);
    });
  });
}

function devMajor(dev: number): number {
  return Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
}
function devMinor(dev: number): number {
  return Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));
}

// ------------------------------------------------------------------ extraction

export interface ExtractOptions {
  /**
   * 'container': `root` is a container rootfs; symlinks met on the way are followed inside it (as Docker's
   * chrooted untar does). 'host': no symlink below `dest` is ever followed (the CLI's side of `cp`).
   */
  mode: 'container' | 'host';
  /** Error when a directory would be replaced by a non-directory or vice versa. */
  noOverwriteDirNonDir?: boolean;
  /** Owner for every entry (copyUIDGID); otherwise the tar's uid/gid (unless noChown). */
  chown?: { uid: number; gid: number };
  /** Keep the extracting user as owner (the CLI's side). */
  noChown?: boolean;
  /** 'container' mode: the container's view (mounts included); default is the bare rootfs `root`. */
  view?: ContainerFs;
  /** Rename the top entry `from` (and everything below it) to `to`, as Docker's RebaseArchiveEntries. */
  rebase?: { from: string; to: string };
}

/** Docker's RebaseArchiveEntries on one name: the leading `from` component becomes `to`. */
export function rebaseName(name: string, from: string, to: string): string {
  if (from === '/' || from === '') return `${to}${name.startsWith('/') ? '' : '/'}${name}`;
  if (name === from || name.startsWith(`${from}/`)) return `${to}${name.slice(from.length)}`;
  return name;
}

interface Special {
  host: string;
  kind: 'c' | 'b' | 'p';
  major: number;
  minor: number;
}

/**
 * Extracts `source` (plain, gzip or zstd tar) into the directory `dest` inside `root` (`dest` is a path as
 * seen from the root, e.g. '/tmp'). Every entry must stay below `dest`; symlinks may not point above it.
 */
export async function extractTar(
  source: Readable,
  root: string,
  dest: string,
  opts: ExtractOptions,
): Promise<void> {
  const { stream } = await decompress(source);
  const ex = tarExtract();
  let pipeErr: Error | undefined;
  pipeline(stream, ex, (err) => {
    if (err) pipeErr = err;
  });
  const destRel = posix.normalize(`/${dest}`);
  const dirTimes: { host: string; mtime: Date }[] = [];
  const specials: Special[] = [];

  // Host path of the entry `rel` (relative to dest): its parent resolved by the mode's rules.
  const hostOf = (rel: string, entryName: string): string => {
    const parentRel = posix.dirname(rel);
    const base = posix.basename(rel);
    if (opts.mode === 'container') {
      const view = opts.view ?? new ContainerFs(root);
      const parentPath = view.resolve(posix.join(destRel, parentRel));
      const mount = view.mountOf(parentPath);
      if (mount && !mount.rw) throw badRequest('mounted volume is marked read-only');
      const parent = view.host(parentPath);
      ensureDirs(view, parent, entryName);
      return `${parent}/${base}`;
    }
    const top = root === '/' ? destRel : `${root}${destRel === '/' ? '' : destRel}`;
    let cur = top;
    if (parentRel !== '.') {
      for (const part of parentRel.split('/')) {
        cur = `${cur === '/' ? '' : cur}/${part}`;
        const st = lstatSync(cur, { throwIfNoEntry: false });
        if (!st) mkdirSync(cur, { mode: 0o755 });
        else if (st.isSymbolicLink())
          throw badRequest(`invalid archive: entry "${entryName}" passes through the symlink ${cur}`);
        else if (!st.isDirectory())
          throw badRequest(`invalid archive: parent of "${entryName}" is not a directory`);
      }
    }
    return `${cur === '/' ? '' : cur}/${base}`;
  };

  try {
    for await (const entry of ex) {
      const h = entry.header as Header;
      if (opts.rebase) {
        h.name = rebaseName(h.name, opts.rebase.from, opts.rebase.to);
        if (h.type === 'link' && h.linkname)
          h.linkname = rebaseName(h.linkname, opts.rebase.from, opts.rebase.to);
      }
      const name = h.name;
      try {
        if ((h.type as string) === 'pax-global-header' || (h.type as string) === 'pax-header') {
          entry.resume();
          continue;
        }
        const rel = entryRel(name);
        if (rel === null) throw badRequest(`invalid archive: "${name}" is outside of "${destRel}"`);
        const isDir = h.type === 'directory';
        if (rel === '.') {
          // The destination itself: Docker leaves an existing directory alone.
          entry.resume();
          if (!isDir) throw badRequest(`invalid archive: cannot replace the destination with "${name}"`);
          continue;
        }
        const host = hostOf(rel, name);
        const existing = lstatSync(host, { throwIfNoEntry: false });
        if (existing) {
          if (opts.noOverwriteDirNonDir && existing.isDirectory() && !isDir)
            throw badRequest(`cannot overwrite directory "${host}" with non-directory "${name}"`);
          if (opts.noOverwriteDirNonDir && !existing.isDirectory() && isDir)
            throw badRequest(`cannot overwrite non-directory "${host}" with directory "${name}"`);
          if (!(existing.isDirectory() && isDir)) rmSync(host, { recursive: true, force: true });
        }
        const mode = (h.mode ?? 0o644) & 0o7777;
        switch (h.type) {
          case 'directory':
            if (!existing?.isDirectory()) mkdirSync(host, { mode: 0o700 });
            break;
          case 'file':
          case 'contiguous-file': {
            const fd = openSync(
              host,
              constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
              0o600,
            );
            try {
              for await (const chunk of entry as AsyncIterable<Buffer>) {
                let off = 0;
                while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
              }
            } finally {
              closeSync(fd);
            }
            break;
          }
          case 'symlink': {
            const target = h.linkname ?? '';
            // Docker's rule: the link, read from the entry's directory, must stay below the destination.
            const joined = posix.join(posix.dirname(rel), target.startsWith('/') ? `.${target}` : target);
            if (target === '' || joined === '..' || joined.startsWith('../'))
              throw badRequest(`invalid archive: invalid symlink "${name}" -> "${target}"`);
            symlinkSync(target, host);
            break;
          }
          case 'link': {
            const targetRel = entryRel(h.linkname ?? '');
            if (targetRel === null || targetRel === '.')
              throw badRequest(`invalid archive: invalid hardlink "${name}" -> "${h.linkname}"`);
            const target = hostOf(targetRel, name);
            const tst = lstatSync(target, { throwIfNoEntry: false });
            if (!tst || tst.isDirectory())
              throw badRequest(`invalid archive: hardlink "${name}" -> "${h.linkname}": no such file`);
            linkSync(target, host);
            break;
          }
          case 'character-device':
          case 'block-device':
          case 'fifo':
            specials.push({
              host,
              kind: h.type === 'fifo' ? 'p' : h.type === 'character-device' ? 'c' : 'b',
              major: h.devmajor ?? 0,
              minor: h.devminor ?? 0,
            });
            break;
          default:
            // Unknown types are skipped, as Docker's untar does.
            entry.resume();
            continue;
        }
        entry.resume();
        if (h.type === 'character-device' || h.type === 'block-device' || h.type === 'fifo') {
          await makeSpecial(specials.pop()!, mode);
        }
        const owner = opts.chown ?? (opts.noChown ? undefined : { uid: h.uid ?? 0, gid: h.gid ?? 0 });
        if (owner) lchownSync(host, owner.uid, owner.gid);
        if (h.type !== 'symlink' && h.type !== 'link') chmodSync(host, mode);
        const mtime = h.mtime ?? new Date();
        if (h.type === 'directory') dirTimes.push({ host, mtime });
        else if (h.type === 'symlink') lutimesSync(host, mtime, mtime);
        else if (h.type !== 'link') utimesSync(host, mtime, mtime);
      } catch (err) {
        entry.resume();
        if (err instanceof BerthError) throw err;
        throw badRequest(`extracting "${name}": ${messageOf(err)}`, err);
      }
    }
    if (pipeErr) throw pipeErr;
    for (const d of dirTimes.reverse()) {
      const st = lstatSync(d.host, { throwIfNoEntry: false });
      if (st?.isDirectory()) utimesSync(d.host, d.mtime, d.mtime);
    }
  } catch (err) {
    stream.destroy();
    ex.destroy();
    if (err instanceof BerthError) throw err;
    throw badRequest(`invalid tar archive: ${messageOf(err)}`, err);
  }
}

/** An entry name relative to the destination ('.' for itself), or null when it escapes it. */
function entryRel(name: string): string | null {
  if (name.includes('\0')) return null;
  // Docker joins the name under the destination: a leading '/' is harmless, '..' past it is not.
  const rel = posix.normalize(name.replace(/^\/+/, '') || '.').replace(/\/+$/, '');
  if (rel === '..' || rel.startsWith('../')) return null;
  return rel === '' ? '.' : rel;
}

/** Creates the missing directories of `hostDir`: it was resolved inside the container's view. */
function ensureDirs(view: ContainerFs, hostDir: string, entryName: string): void {
  const st = lstatSync(hostDir, { throwIfNoEntry: false });
  if (st?.isDirectory()) return;
  if (st) throw badRequest(`invalid archive: parent of "${entryName}" is not a directory`);
  if (!view.contains(hostDir)) throw internal(`${hostDir} is outside the container's filesystem`);
  mkdirSync(hostDir, { recursive: true, mode: 0o755 });
}

async function makeSpecial(s: Special, mode: number): Promise<void> {
  const args =
    s.kind === 'p'
      ? ['-m', mode.toString(8), s.host, 'p']
      : ['-m', mode.toString(8), s.host, s.kind, String(s.major), String(s.minor)];
  const res = await run('mknod', args);
  if (res.code !== 0) throw badRequest(`creating device ${s.host}: ${res.stderr.trim()}`);
}

// ------------------------------------------------------------------ PUT archive

/** PUT /containers/{id}/archive: extracts `tar` into the directory `path` of the container. */
export async function extractToContainer(
  deps: FilesDeps,
  ref: string,
  path: string,
  tar: Readable,
  opts: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean } = {},
): Promise<void> {
  checkPathParam(path);
  const rec = deps.containers.get(ref);
  await withHeldRootfs(deps.containers, rec, async (root) => {
    const fs = viewOf(deps, rec, root);
    const abs = preserveTrailing(posix.join('/', path), path);
    // Unlike stat, the last element is followed too: extracting "to a symlink" means to its target dir.
    const inside = fs.resolve(abs);
    const st = lstatSync(fs.host(inside), { throwIfNoEntry: false });
    if (!st) throw fileNotFound(path, ref);
    if (!st.isDirectory()) throw badRequest('extraction point is not a directory');
    // A read-only rootfs still takes copies into writable volumes (Docker's checkIfPathIsInAVolume).
    const mount = fs.mountOf(inside);
    if (mount && !mount.rw) throw badRequest('mounted volume is marked read-only');
    if (!mount && rec.HostConfig.ReadonlyRootfs)
      throw new BerthError(403, 'container rootfs is marked read-only');
    let chown: { uid: number; gid: number } | undefined;
    if (opts.copyUIDGID) {
      const user = resolveUser(root, rec.Config.User || undefined);
      chown = { uid: user.uid, gid: user.gid };
    }
    await extractTar(tar, root, inside, {
      mode: 'container',
      view: fs,
      noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
      chown,
    });
  });
  deps.containers.publish(rec, 'extract-to-dir');
}

// ------------------------------------------------------------------ export

/** GET /containers/{id}/export: the merged root filesystem as a plain tar. */
export async function exportContainer(deps: FilesDeps, ref: string): Promise<Readable> {
  const rec = deps.containers.get(ref);
  const { root, release } = await acquireRootfs(deps.containers, rec);
  try {
    const stream = packPath(root, '');
    deps.containers.publish(rec, 'export');
    return releaseAfter(stream, release);
  } catch (err) {
    await release();
    throw err;
  }
}

// ------------------------------------------------------------------ changes

/**
 * Paths Docker keeps in a container's init layer (mount points for /etc/hosts & co, /dev, /proc…): runc
 * creates them in our upper dir, Docker's diff never shows them.
 */
const INIT_PATHS = new Set([
  '/.dockerenv',
  '/dev',
  '/dev/console',
  '/dev/pts',
  '/dev/shm',
  '/etc/hostname',
  '/etc/hosts',
  '/etc/mtab',
  '/etc/resolv.conf',
  '/proc',
  '/sys',
]);

const isWhiteout = (st: BigIntStats) => st.isCharacterDevice() && st.rdev === 0n;

/** The image's layers merged (top first): a whiteout in a higher layer hides the path below it. */
class LowerView {
  constructor(private readonly layers: string[]) {}

  stat(path: string): BigIntStats | undefined {
    const parts = path.split('/').filter(Boolean);
    for (const layer of this.layers) {
      let cur = layer;
      for (let i = 0; i < parts.length; i++) {
        cur = `${cur}/${parts[i]}`;
        const st = lstatSync(cur, { bigint: true, throwIfNoEntry: false });
        if (!st) break;
        if (isWhiteout(st)) return undefined;
        if (i === parts.length - 1) return st;
        if (!st.isDirectory()) return undefined;
      }
    }
    return undefined;
  }

  children(path: string): string[] {
    const names = new Map<string, boolean>();
    for (const layer of this.layers) {
      let list: string[];
      try {
        list = readdirSync(`${layer}${path === '/' ? '' : path}`);
      } catch {
        continue;
      }
      for (const n of list) {
        if (names.has(n)) continue;
        const st = lstatSync(`${layer}${path === '/' ? '' : path}/${n}`, {
          bigint: true,
          throwIfNoEntry: false,
        });
        names.set(n, st !== undefined && !isWhiteout(st));
      }
    }
    return [...names].filter(([, present]) => present).map(([n]) => n);
  }
}

/** Docker's statDifferent: mode, owner and rdev; size and mtime only for non-directories. */
function statDifferent(old: BigIntStats, cur: BigIntStats): boolean {
  if (old.mode !== cur.mode || old.uid !== cur.uid || old.gid !== cur.gid || old.rdev !== cur.rdev)
    return true;
  return !old.isDirectory() && (old.mtimeNs !== cur.mtimeNs || old.size !== cur.size);
}

async function isOpaque(path: string): Promise<boolean> {
  const res = await run('getfattr', ['--only-values', '-h', '-n', 'trusted.overlay.opaque', path]);
  return res.code === 0 && res.stdout === 'y';
}

/**
 * GET /containers/{id}/changes: the container's filesystem compared with its image, as Docker's tree
 * comparison reports it (overlay upper dir against the image layers). Within a directory: additions and
 * modifications (depth first), then deletions; a directory with changes below it is itself "modified",
 * listed before them. Names are sorted (Docker's order within a directory is not defined).
 */
export async function containerChanges(deps: FilesDeps, ref: string): Promise<Change[]> {
  const rec = deps.containers.get(ref);
  const upper = deps.containers.upperDir(rec);
  const lower = new LowerView(deps.lowerDirs(rec.ImageChainId));
  const out: Change[] = [];
  const join2 = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

  const addAll = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(`${upper}${dir}`).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const p = join2(dir, name);
      const st = lstatSync(`${upper}${p}`, { bigint: true, throwIfNoEntry: false });
      if (!st || isWhiteout(st)) continue;
      out.push({ Path: p, Kind: 1 });
      if (st.isDirectory()) addAll(p);
    }
  };

  const walk = async (dir: string, lowerIsDir: boolean): Promise<void> => {
    let names: string[];
    try {
      names = readdirSync(dir === '/' ? upper : `${upper}${dir}`).sort();
    } catch {
      return;
    }
    const opaque = dir !== '/' && lowerIsDir && (await isOpaque(`${upper}${dir}`));
    const seen = new Set<string>();
    const deletions: string[] = [];
    for (const name of names) {
      const p = join2(dir, name);
      seen.add(name);
      if (INIT_PATHS.has(p)) continue;
      const st = lstatSync(`${upper}${p}`, { bigint: true, throwIfNoEntry: false });
      if (!st) continue;
      const old = lowerIsDir ? lower.stat(p) : undefined;
      if (isWhiteout(st)) {
        if (old && !opaque) deletions.push(p);
        continue;
      }
      if (!old) {
        out.push({ Path: p, Kind: 1 });
        if (st.isDirectory()) addAll(p);
        continue;
      }
      const changed = statDifferent(old, st);
      if (changed) out.push({ Path: p, Kind: 0 });
      if (st.isDirectory()) {
        const before = out.length;
        await walk(p, old.isDirectory());
        if (!changed && out.length > before) out.splice(before, 0, { Path: p, Kind: 0 });
      }
    }
    if (opaque) {
      for (const name of lower.children(dir)) if (!seen.has(name)) deletions.push(join2(dir, name));
    }
    for (const p of deletions.sort()) out.push({ Path: p, Kind: 2 });
  };
  await walk('/', true);
  return out;
}
