// `berth cp`, `berth export`, `berth diff` (and their `container` aliases): Docker's copy semantics between
// a container and the host (files vs directories, trailing `/` and `/.`, `-` for a tar on stdin/stdout,
// -L, -a), the rootfs export and the list of changes — all through the Engine API.
import { createWriteStream, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { isAbsolute, posix, resolve as resolvePath } from 'node:path';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { PathStat } from '../../client/index.js';
import { ensureDaemon } from '../connect.js';
import { action, CliError, containerGroup, dockerUsage } from './container-common.js';

// The tar helpers live with the daemon's file operations; loaded only when `cp` runs.
const files = () => import('../../containers/index.js');

const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;
const isDirMode = (mode: number) => mode >= GO_MODE_DIR;
const hasBit = (mode: number, bit: number) => Math.floor(mode / bit) % 2 === 1;
const isSymlinkMode = (mode: number) => hasBit(mode, GO_MODE_SYMLINK);
// Go's ModeDevice and ModeIrregular: docker cp refuses to write over those.
const isDeviceOrIrregular = (mode: number) => hasBit(mode, 2 ** 26) || hasBit(mode, 2 ** 19);

/** Docker's splitCpArg: `container:path`, unless absolute or the part before ':' starts with '.'. */
export function splitCpArg(arg: string): { container: string; path: string } {
  if (isAbsolute(arg)) return { container: '', path: arg };
  const colon = arg.indexOf(':');
  if (colon < 0 || arg.slice(0, colon).startsWith('.')) return { container: '', path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

function base(p: string): string {
  const s = p.replace(/\/+$/, '');
  if (s === '') return p === '' ? '.' : '/';
  return s.slice(s.lastIndexOf('/') + 1);
}
const currentDir = (p: string) => base(p) === '.';
const trailingSep = (p: string) => p.endsWith('/');

/** Docker's SplitPathDirEntry. */
function splitDirEntry(p: string): { dir: string; base: string } {
  let cleaned = posix.normalize(p);
  if (cleaned.length > 1) cleaned = cleaned.replace(/\/+$/, '');
  if (currentDir(p)) cleaned += '/.';
  return { dir: posix.dirname(cleaned), base: base(cleaned) };
}

/** Absolute local path keeping a trailing `/` or `/.` (resolveLocalPath + PreserveTrailingDotOrSeparator). */
function localPath(p: string): string {
  let abs = resolvePath(p);
  if (!currentDir(abs) && currentDir(p)) abs += abs.endsWith('/') ? '.' : '/.';
  if (!trailingSep(abs) && trailingSep(p)) abs += '/';
  return abs;
}

/** Docker's GetRebaseName: keep the requested trailing `/.` or `/`, rename when the last element changed. */
function rebaseFor(path: string, resolved: string): { resolved: string; rebase: string } {
  let r = resolved;
  if (currentDir(path) && !currentDir(r)) r += '/.';
  if (trailingSep(path) && !trailingSep(r)) r += '/';
  return { resolved: r, rebase: base(path) !== base(r) ? base(path) : '' };
}

interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  rebase: string;
}

/**
 * Docker's PrepareArchiveCopy: where to extract and what the top entry of the source archive must be named
 * so that the copy lands where `cp` semantics say.
 */
function prepareCopy(src: CopyInfo, dst: CopyInfo): { dir: string; from?: string; to?: string } {
  const { dir: dstDir, base: dstBase } = splitDirEntry(dst.path);
  const srcBase = src.rebase || splitDirEntry(src.path).base;
  if (dst.exists && dst.isDir) return { dir: dst.path };
  if (dst.exists && src.isDir) throw new CliError('cannot copy directory');
  if (dst.exists || src.isDir) return { dir: dstDir, from: srcBase, to: dstBase };
  if (trailingSep(dst.path) || currentDir(dst.path)) throw new CliError('no such directory');
  return { dir: dstDir, from: srcBase, to: dstBase };
}

/** Docker's CopyInfoDestinationPath (host side): follows symlinks; the parent of a missing path must exist. */
function hostDestination(path: string): CopyInfo {
  let p = path;
  for (let i = 0; i < 32; i++) {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) {
      const parent = splitDirEntry(p).dir;
      if (!statSync(parent, { throwIfNoEntry: false })?.isDirectory())
        throw new CliError(`Error: stat ${parent}: no such file or directory`);
      return { path: p, exists: false, isDir: false, rebase: '' };
    }
    if (!st.isSymbolicLink()) return { path: p, exists: true, isDir: st.isDirectory(), rebase: '' };
    const { dir } = splitDirEntry(p);
    const target = readlinkSync(p);
    p = target.startsWith('/') ? target : posix.join(dir, target);
  }
  throw new CliError(`Error: too many symlinks in ${path}`);
}

async function statRemote(container: string, path: string): Promise<{ stat?: PathStat; error?: unknown }> {
  const client = await ensureDaemon();
  try {
    return { stat: await client.containers.statPath(container, path) };
  } catch (error) {
    return { error };
  }
}

/** docker's ValidateOutputPath: the parent must exist, an existing path must be a directory or a file. */
function validateOutputPath(path: string): void {
  const dir = posix.dirname(posix.normalize(path).replace(/(.)\/+$/, '$1'));
  if (!statSync(dir, { throwIfNoEntry: false }))
    throw new CliError(`invalid output path: directory "${dir}" does not exist`);
  const st = statSync(path, { throwIfNoEntry: false });
  if (st && !st.isDirectory() && !st.isFile())
    throw new CliError(`invalid output path: "${path}" must be a directory or a regular file`);
}

interface CpFlags {
  archive?: boolean;
  followLink?: boolean;
  quiet?: boolean;
}

async function copyFromContainer(container: string, srcPath: string, dst: string, flags: CpFlags) {
  const f = await files();
  const client = await ensureDaemon();
  const dstPath = dst === '-' ? dst : localPath(dst);
  if (dstPath !== '-') validateOutputPath(dstPath);
  let path = srcPath;
  let rebase = '';
  if (flags.followLink) {
    const { stat } = await statRemote(container, path);
    if (stat && isSymlinkMode(stat.mode)) {
      let target = stat.linkTarget;
      if (!target.startsWith('/')) target = posix.join(splitDirEntry(path).dir, target);
      ({ resolved: path, rebase } = rebaseFor(path, target));
    }
  }
  const { stream, stat } = await client.containers.getArchive(container, path);
  if (dstPath === '-') {
    await pipeline(stream, process.stdout);
    return;
  }
  if (!stat) throw new CliError('Error: the daemon sent no stat of the copied path');
  const src: CopyInfo = { path, exists: true, isDir: isDirMode(stat.mode), rebase };
  let tar: Readable = stream;
  let from: string | undefined;
  let to: string | undefined;
  if (rebase) {
    from = splitDirEntry(path).base;
    to = rebase;
  }
  let target: { dir: string; from?: string; to?: string };
  try {
    target = prepareCopy(src, hostDestination(dstPath));
  } catch (err) {
    stream.destroy();
    throw err;
  }
  // Two renames compose: daemon name → rebase name → destination name.
  if (target.from !== undefined && target.to !== undefined) {
    const finalTo = target.to;
    from = from ?? splitDirEntry(path).base;
    to = finalTo;
  }
  const counter = new ByteCounter();
  tar = stream.pipe(counter);
  await f.extractTar(tar, '/', target.dir, {
    mode: 'host',
    noOverwriteDirNonDir: true,
    noChown: true,
    rebase: from !== undefined && to !== undefined ? { from, to } : undefined,
  });
  report(flags, counter.bytes, dstPath);
}

async function copyToContainer(src: string, container: string, dstPath: string, flags: CpFlags) {
  const f = await files();
  const client = await ensureDaemon();
  const dst: CopyInfo = { path: dstPath, exists: false, isDir: false, rebase: '' };
  let { stat, error } = await statRemote(container, dstPath);
  if (stat && isSymlinkMode(stat.mode)) {
    let target = stat.linkTarget;
    if (!target.startsWith('/')) target = posix.join(splitDirEntry(dstPath).dir, target);
    dst.path = target;
    ({ stat, error } = await statRemote(container, target));
  }
  if (stat) {
    const mode = stat.mode;
    if (isDeviceOrIrregular(mode))
      throw new CliError(
        `Error: destination "${container}:${dstPath}" must be a directory or a regular file`,
      );
    dst.exists = true;
    dst.isDir = isDirMode(mode);
  } else if (error && (error as { status?: number }).status !== 404) {
    throw error;
  }
  if (src === '-') {
    if (!dst.isDir) throw new CliError(`Error: destination "${container}:${dstPath}" must be a directory`);
    await client.containers.putArchive(container, dst.path, process.stdin, {
      copyUIDGID: flags.archive,
    });
    return;
  }
  const srcPath = localPath(src);
  // Docker's CopyInfoSourcePath: -L follows the whole path, otherwise only its parent directories.
  let resolved: string;
  let rebase = '';
  const missing = () => new CliError(`lstat ${srcPath.replace(/(.)\/+$/, '$1')}: no such file or directory`);
  try {
    if (flags.followLink) {
      ({ resolved, rebase } = rebaseFor(srcPath, realpathSync(srcPath)));
    } else {
      // Go's filepath.Split: the directory part (symlinks resolved) and the last element kept as is.
      const cut = srcPath.lastIndexOf('/');
      const last = srcPath.slice(cut + 1);
      resolved = `${realpathSync(srcPath.slice(0, cut + 1) || '/').replace(/\/$/, '')}/${last}`;
      if (trailingSep(srcPath) && base(srcPath) !== base(resolved)) rebase = base(srcPath);
    }
  } catch {
    throw missing();
  }
  const st = lstatSync(resolved.replace(/(.)\/+$/, '$1').replace(/\/\.$/, '') || '/', {
    throwIfNoEntry: false,
  });
  if (!st) throw missing();
  const srcInfo: CopyInfo = { path: resolved, exists: true, isDir: st.isDirectory(), rebase };
  const target = prepareCopy(srcInfo, dst);
  const { dir: sourceDir, base: sourceBase } = splitDirEntry(resolved);
  const topName = target.to ?? (rebase || sourceBase);
  const sourceAbs = sourceBase === '.' ? sourceDir : posix.join(sourceDir, sourceBase);
  const counter = new ByteCounter();
  const tar = f.packPath(sourceAbs, topName).pipe(counter);
  await client.containers.putArchive(container, target.dir, tar, { copyUIDGID: flags.archive });
  report(flags, counter.bytes, `${container}:${dstPath}`);
}

class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/** docker cp's closing line, only when stderr is a terminal and not -q. */
function report(flags: CpFlags, bytes: number, dest: string): void {
  if (flags.quiet || !process.stderr.isTTY) return;
  process.stderr.write(`Successfully copied ${humanBytes(bytes)} to ${dest}\n`);
}

function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : Number(v.toPrecision(3))}${units[i]}`;
}

async function cpAction(source: string, destination: string, flags: CpFlags): Promise<void> {
  if (source === '') throw new CliError('source can not be empty');
  if (destination === '') throw new CliError('destination can not be empty');
  const src = splitCpArg(source);
  const dst = splitCpArg(destination);
  if (src.container && dst.container) throw new CliError('copying between containers is not supported');
  if (!src.container && !dst.container) throw new CliError('must specify at least one container source');
  if (src.container) {
    if (src.path === '') throw new CliError('source can not be empty');
    await copyFromContainer(src.container, src.path, destination, flags);
  } else {
    if (dst.path === '') throw new CliError('destination can not be empty');
    await copyToContainer(src.path, dst.container, dst.path, flags);
  }
}

async function exportAction(container: string, opts: { output?: string }): Promise<void> {
  if (!opts.output && process.stdout.isTTY)
    throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
  const client = await ensureDaemon();
  const stream = await client.containers.export(container);
  if (!opts.output) {
    await pipeline(stream, process.stdout);
    return;
  }
  // Written beside the target and renamed, so a failed export leaves no half file under the name.
  const tmp = `${opts.output}.berth-tmp-${process.pid}`;
  try {
    await pipeline(stream, createWriteStream(tmp));
    await rename(tmp, opts.output);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

const KIND = ['C', 'A', 'D'] as const;

async function diffAction(container: string): Promise<void> {
  const client = await ensureDaemon();
  for (const c of await client.containers.changes(container)) {
    process.stdout.write(`${KIND[c.Kind] ?? '?'} ${c.Path}\n`);
  }
}

function addCommands(parent: Command): void {
  dockerUsage(
    parent
      .command('cp')
      .usage('[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH')
      .description('Copy files/folders between a container and the local filesystem')
      .argument('<source>')
      .argument('<destination>')
      .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
      .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
      .option('-q, --quiet', 'Suppress progress output during copy')
      .action(action(cpAction)),
  );
  dockerUsage(
    parent
      .command('export')
      .usage('[OPTIONS] CONTAINER')
      .description("Export a container's filesystem as a tar archive")
      .argument('<container>')
      .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
      .action(action(exportAction)),
  );
  dockerUsage(
    parent
      .command('diff')
      .usage('CONTAINER')
      .description("Inspect changes to files or directories on a container's filesystem")
      .argument('<container>')
      .action(action(diffAction)),
  );
}

export function register(program: Command): void {
  addCommands(program);
  addCommands(containerGroup(program));
}
