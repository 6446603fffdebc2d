// Base images without a registry: busybox from the host's busybox-static, Debian through debootstrap.
// The root-filesystem preparation is separate from committing it, so the CLI can build the same rootfs
// client-side and send it to any daemon (berth or Docker) through POST /images/create?fromSrc=-.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tarDirectory } from '../layers/index.js';
import { badRequest, internal, run } from '../util/index.js';
import type { ImageRecord } from './records.js';
import type { ImageService } from './service.js';

/** The PATH both bootstrap images set (Docker's default for Linux images). */
export const BOOTSTRAP_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/** What a bootstrap image's config holds besides its rootfs. */
export interface BootstrapConfig {
  cmd: string[];
  env: string[];
  createdBy: string;
}

async function commitDir(
  svc: ImageService,
  dir: string,
  opts: { tag: string } & BootstrapConfig,
): Promise<ImageRecord> {
  const { stream, done } = tarDirectory(dir, { gzipLevel: 0 });
  const [rec] = await Promise.all([
    svc.commit({
      layer: stream,
      config: { Env: opts.env, Cmd: opts.cmd },
      createdBy: opts.createdBy,
      tag: opts.tag,
    }),
    done,
  ]);
  return rec;
}

/**
 * Fills the (empty) directory `dir` with a busybox root: /bin/busybox copied from `busybox`, its applet
 * links, /etc/passwd and /etc/group. Returns the image config to go with it (Cmd ["sh"]).
 */
export async function prepareBusyboxRootfs(dir: string, busybox = '/bin/busybox'): Promise<BootstrapConfig> {
  for (const d of [
    'bin',
    'etc',
    'tmp',
    'proc',
    'sys',
    'dev',
    'root',
    'var',
    'usr/bin',
    'usr/sbin',
    'sbin',
    'home',
  ]) {
    await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  }
  await chmod(join(dir, 'tmp'), 0o1777);
  await copyFile(busybox, join(dir, 'bin/busybox')).catch((err: Error) => {
    throw badRequest(`cannot bootstrap busybox: ${busybox}: ${err.message} (install busybox-static)`);
  });
  await chmod(join(dir, 'bin/busybox'), 0o755);
  const { stdout } = await promisify(execFile)(busybox, ['--list-full']).catch((err: Error) => {
    throw badRequest(`cannot bootstrap busybox: ${busybox} --list-full: ${err.message}`);
  });
  for (const path of stdout.trim().split('\n')) {
    if (!path || path === 'bin/busybox') continue;
    const depth = path.split('/').length - 1;
    await mkdir(join(dir, path, '..'), { recursive: true });
    const target = path.startsWith('bin/') && depth === 1 ? 'busybox' : `${'../'.repeat(depth)}bin/busybox`;
    await symlink(target, join(dir, path)).catch(() => {});
  }
  await writeFile(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
  );
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return { cmd: ['sh'], env: [BOOTSTRAP_PATH_ENV], createdBy: `berth bootstrap busybox (${busybox})` };
}

export interface DebianOptions {
  mirror?: string;
  tag?: string;
  variant?: string;
}

/** A Debian suite name as debootstrap takes it (bookworm, stable, trixie…). */
export function validDebianSuite(suite: string): boolean {
  return /^[a-z0-9][a-z0-9-]*$/.test(suite);
}

/**
 * debootstrap (minbase by default) of `suite` into `dir`, then drops package caches and logs, which are not
 * part of an image. Slow: downloads and installs packages. Returns the image config (Cmd ["bash"]).
 */
export async function prepareDebianRootfs(
  dir: string,
  suite: string,
  opts: Omit<DebianOptions, 'tag'> = {},
): Promise<BootstrapConfig> {
  if (!validDebianSuite(suite)) throw badRequest(`invalid Debian suite "${suite}"`);
  const mirror = opts.mirror ?? DEFAULT_DEBIAN_MIRROR;
  const variant = opts.variant ?? 'minbase';
  await mkdir(dir, { recursive: true });
  const res = await run('debootstrap', [`--variant=${variant}`, suite, dir, mirror]);
  if (res.code !== 0)
    throw internal(
      `debootstrap ${suite} failed: ${(res.stderr || res.stdout).trim().split('\n').slice(-5).join('\n')}`,
    );
  await run(
    'sh',
    [
      '-c',
      'rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* var/log/*.log dev/* proc/* sys/* run/* tmp/*',
      'sh',
    ],
    { cwd: dir },
  );
  return {
    cmd: ['bash'],
    env: [BOOTSTRAP_PATH_ENV],
    createdBy: `debootstrap --variant=${variant} ${suite} ${mirror}`,
  };
}

/** An image with /bin/busybox, its applet links, /etc/passwd and /etc/group, Cmd ["sh"]. */
export async function bootstrapBusybox(
  svc: ImageService,
  tag = 'busybox:latest',
  busybox = '/bin/busybox',
): Promise<ImageRecord> {
  const dir = svc.tempDir();
  try {
    const config = await prepareBusyboxRootfs(dir, busybox);
    return await commitDir(svc, dir, { tag, ...config });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A Debian image built with debootstrap (minbase). */
export async function bootstrapDebian(
  svc: ImageService,
  suite: string,
  opts: DebianOptions = {},
): Promise<ImageRecord> {
  if (!validDebianSuite(suite)) throw badRequest(`invalid Debian suite "${suite}"`);
  const dir = svc.tempDir();
  try {
    const config = await prepareDebianRootfs(dir, suite, opts);
    return await commitDir(svc, dir, { tag: opts.tag ?? `debian:${suite}`, ...config });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
