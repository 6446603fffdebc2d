// Paths inside a container's root filesystem, resolved the way the container would see them:
// symlinks are followed relative to the rootfs, so an absolute link can never escape it.
import { chownSync, lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { badRequest } from '../util/index.js';

const MAX_LINKS = 255;

/**
 * `path` with every symlink followed as a process inside the tree would see it: an absolute target
 * restarts at the tree's root and `..` never climbs above it; a missing tail is kept as written. `hostOf`
 * maps a clean absolute path of the tree to its place on the host (a rootfs, or a rootfs with mounts).
 * Returns the clean absolute path inside the tree; `what` names the path in the too-many-links error.
 */
export function followLinksWithin(path: string, hostOf: (cpath: string) => string, what = path): string {
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = hostOf(`/${[...done, part].join('/')}`);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st?.isSymbolicLink()) {
      done.push(part);
      if (!st) {
        // Missing: the rest cannot be links; '..' still walks back up.
        for (const p of pending) {
          if (p === '..') done.pop();
          else if (p !== '.') done.push(p);
        }
        break;
      }
      continue;
    }
    if (++links > MAX_LINKS) throw badRequest(`too many levels of symbolic links resolving ${what}`);
    const target = readlinkSync(host);
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return `/${done.join('/')}`;
}

/** The host path of `path` inside `root`, following symlinks within the root; missing tails are kept. */
export function resolveInRoot(root: string, path: string): string {
  // `..` is taken lexically first here (as Docker's scoped lookups do), then the links are followed.
  const clean = posix.normalize(`/${path}`);
  const inside = followLinksWithin(clean, (cpath) => join(root, cpath), `${path} in the rootfs`);
  return join(root, inside);
}

/** Creates `path` (and parents) inside the rootfs, owned by uid:gid like Docker's working dir. */
export function mkdirInRoot(root: string, path: string, uid = 0, gid = 0, mode = 0o755): void {
  const host = resolveInRoot(root, path);
  try {
    if (lstatSync(host).isDirectory()) return;
    throw badRequest(`cannot create directory ${path} in the container: a file is in the way`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const made = mkdirSync(host, { recursive: true, mode });
  // Chown only what we made, like Docker's MkdirAllAndChown.
  if (made && (uid !== 0 || gid !== 0)) {
    for (let dir = host; dir.length >= made.length; dir = dirname(dir)) chownSync(dir, uid, gid);
  }
}
