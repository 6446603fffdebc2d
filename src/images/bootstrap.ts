// Base images without a registry: busybox from the host's busybox-static, Debian through debootstrap.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tarDirectory } from '../layers/index.js';
import { badRequest, internal, run } from '../util/index.js';
import type { ImageRecord } from './records.js';
import type { ImageService } from './service.js';

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

async function commitDir(
  svc: ImageService,
  dir: string,
  opts: { tag: string; cmd: string[]; createdBy: string },
): Promise<ImageRecord> {
  const { stream, done } = tarDirectory(dir, { gzipLevel: 0 });
  const [rec] = await Promise.all([
    svc.commit({
      layer: stream,
      config: { Env: [PATH_ENV], Cmd: opts.cmd },
      createdBy: opts.createdBy,
      tag: opts.tag,
    }),
    done,
  ]);
  return rec;
}

/** An image with /bin/busybox, its applet links, /etc/passwd and /etc/group, Cmd ["sh"]. */
export async function bootstrapBusybox(
  svc: ImageService,
  tag = 'busybox:latest',
  busybox = '/bin/busybox',
): Promise<ImageRecord> {
  const dir = svc.tempDir();
  try {
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
    const { stdout } = await promisify(execFile)(busybox, ['--list-full']);
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
    return await commitDir(svc, dir, { tag, cmd: ['sh'], createdBy: `berth bootstrap busybox (${busybox})` });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface DebianOptions {
  mirror?: string;
  tag?: string;
  variant?: string;
}

/** A Debian image built with debootstrap (minbase). Slow: downloads and installs packages. */
export async function bootstrapDebian(
  svc: ImageService,
  suite: string,
  opts: DebianOptions = {},
): Promise<ImageRecord> {
  if (!/^[a-z0-9-]+$/.test(suite)) throw badRequest(`invalid Debian suite "${suite}"`);
  const mirror = opts.mirror ?? 'http://deb.debian.org/debian';
  const dir = svc.tempDir();
  try {
    await mkdir(dir, { recursive: true });
    const res = await run('debootstrap', [`--variant=${opts.variant ?? 'minbase'}`, suite, dir, mirror]);
    if (res.code !== 0)
      throw internal(
        `debootstrap ${suite} failed: ${(res.stderr || res.stdout).trim().split('\n').slice(-5).join('\n')}`,
      );
    // Package caches and logs are not part of an image.
    await run(
      'sh',
      [
        '-c',
        'rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* var/log/*.log dev/* proc/* sys/* run/* tmp/*',
        'sh',
      ],
      { cwd: dir },
    );
    return await commitDir(svc, dir, {
      tag: opts.tag ?? `debian:${suite}`,
      cmd: ['bash'],
      createdBy: `debootstrap --variant=${opts.variant ?? 'minbase'} ${suite} ${mirror}`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
