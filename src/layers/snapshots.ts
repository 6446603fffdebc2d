// Overlay mounts of a layer chain. Lower directories are given as short links `l/<short>` relative to the
// data root (the mount runs with that as its working directory) so 100+ layers fit in one page of options.
import { mkdir } from 'node:fs/promises';
import { internal, run } from '../util/index.js';

/**
 * Mounts overlay at `target` with `lowers` (top first, relative to `cwd`), upper and work dirs.
 * `volatile` (Linux 5.10+) drops the upper's syncs, the one at unmount included, which otherwise
 * flushes the whole host filesystem: for contents that need not survive a host crash. A kernel
 * without it gets a plain mount.
 */
export async function mountOverlay(
  cwd: string,
  lowers: string[],
  upperDir: string,
  workDir: string,
  target: string,
  opts: { volatile?: boolean } = {},
): Promise<void> {
  await mkdir(upperDir, { recursive: true });
  await mkdir(workDir, { recursive: true });
  await mkdir(target, { recursive: true });
  const options = `lowerdir=${lowers.join(':')},upperdir=${upperDir},workdir=${workDir}`;
  if (options.length >= 4096 - ',volatile'.length)
    throw internal(`overlay mount options for ${target} exceed a page (${options.length} bytes)`);
  const mount = (o: string) => run('mount', ['-t', 'overlay', 'overlay', '-o', o, target], { cwd });
  let res = await mount(opts.volatile ? `${options},volatile` : options);
  if (res.code !== 0 && opts.volatile) res = await mount(options);
  if (res.code !== 0) throw internal(`mounting overlay at ${target} failed: ${res.stderr.trim()}`);
}

/** Mounts a read-only overlay of `lowers` only (no upper) — a view of an image. */
export async function mountReadOnly(cwd: string, lowers: string[], target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  // A single lower cannot be mounted as overlay without an upper; callers always pass the empty lower too.
  const res = await run(
    'mount',
    ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, target],
    { cwd },
  );
  if (res.code !== 0) throw internal(`mounting overlay at ${target} failed: ${res.stderr.trim()}`);
}

export async function unmount(target: string): Promise<void> {
  const res = await run('umount', [target]);
  if (res.code !== 0 && !/not mounted|no mount point/.test(res.stderr)) {
    const lazy = await run('umount', ['-l', target]);
    if (lazy.code !== 0) throw internal(`unmounting ${target} failed: ${res.stderr.trim()}`);
  }
}
