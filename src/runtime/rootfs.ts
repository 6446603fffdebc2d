// Paths inside a container's root filesystem, resolved the way the container would see them:
// symlinks are followed relative to the rootfs, so an absolute link can never escape it.
import { chownSync, lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { badRequest } from '../util/index.js';

const MAX_LINKS = 255;

/** The host path of `path` inside `root`, following symlinks within the root; missing tails are kept. */
export function resolveInRoot(root: string, path: string): string {
  const pending = posix.normalize(`/${path}`).split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    let isLink = false;
    try {
      isLink = lstatSync(host).isSymbolicLink();
    } catch {
      // Missing: the rest cannot be links either.
      done.push(part, ...pending.filter((p) => p !== '.'));
      return join(root, ...posix.normalize(`/${done.join('/')}`).split('/'));
    }
    if (!isLink) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS)
      throw badRequest(`too many levels of symbolic links resolving ${path} in the rootfs`);
    const target = readlinkSync(host);
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return join(root, ...done);
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
