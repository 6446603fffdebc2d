// Filesystem helpers for volumes: mount table lookups, mount/umount, copy-up, size walks, and resolving a
// container path inside an image rootfs without letting its symlinks escape the rootfs.
import { lstat, opendir, readFile, readlink, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { isMountPoint, runChecked } from '../util/index.js';

export { isMountPoint, mountPoints, treeSize } from '../util/index.js';

/** Unmounts every mount stacked on `path`; throws if one stays (never delete through a live mount). */
export async function unmountAll(path: string): Promise<void> {
  for (let i = 0; i < 16 && (await isMountPoint(path)); i++) await runChecked('umount', [path]);
  if (await isMountPoint(path)) throw new Error(`${path} is still mounted`);
}

/** True when `dir` has no entries (or does not exist). */
export async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    const d = await opendir(dir);
    const first = await d.read();
    await d.close();
    return first === null;
  } catch {
    return true;
  }
}

/**
 * Copies the content of `src` into the empty directory `dst`, and `src`'s own owner and mode onto `dst`:
 * GNU cp -a keeps owners, modes, timestamps, symlinks, hard links and xattrs, streaming file data.
 */
export async function copyDirContents(src: string, dst: string): Promise<void> {
  await runChecked('cp', ['-a', '--no-target-directory', `${src}/.`, dst]);
}

/**
 * Resolves container path `p` inside `root`, following symlinks as the container would see them (absolute
 * targets restart at `root`, `..` never climbs above it). Returns the host path; it may not exist.
 */
export async function resolveInRoot(root: string, p: string): Promise<string> {
  const pending = p.split('/').filter((s) => s !== '' && s !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = posix.join(root, ...done, part);
    let st: Awaited<ReturnType<typeof lstat>> | undefined;
    try {
      st = await lstat(host);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (++links > 40) throw new Error(`too many levels of symbolic links resolving ${p}`);
      const target = await readlink(host);
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...target.split('/').filter((s) => s !== '' && s !== '.'));
      continue;
    }
    done.push(part);
  }
  return posix.join(root, ...done);
}

/** The mount holding `path` and whether it is shared or a slave (mountinfo optional fields). */
export async function mountPropagation(
  path: string,
): Promise<{ mountPoint: string; shared: boolean; slave: boolean }> {
  const real = await realpath(path);
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  let best = { mountPoint: '/', shared: false, slave: false };
  let bestLen = -1;
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 7) continue;
    const mp = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    const inside = mp === '/' || real === mp || real.startsWith(`${mp}/`);
    // Later lines with the same mount point are stacked on top: prefer them (>=).
    if (!inside || mp.length < bestLen) continue;
    const optional = f.slice(6, f.indexOf('-'));
    best = {
      mountPoint: mp,
      shared: optional.some((o) => o.startsWith('shared:')),
      slave: optional.some((o) => o.startsWith('master:')),
    };
    bestLen = mp.length;
  }
  return best;
}
