// A Debian image built once per machine with debootstrap (slow: minutes) and shared by every test run:
// cached as a docker-archive tar in /var/tmp/berth-test-cache/debian-<suite>.tar. Delete the file to
// force a rebuild. Concurrent callers wait on a lock directory instead of building twice.
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageService } from '../../src/images/index.js';

export const TEST_CACHE_DIR = '/var/tmp/berth-test-cache';

/** Path of a docker-archive tar holding `debian:<suite>`, building it on first use. */
export async function debianImageTar(
  suite = 'bookworm',
  mirror = 'http://deb.debian.org/debian',
): Promise<string> {
  mkdirSync(TEST_CACHE_DIR, { recursive: true });
  const tar = join(TEST_CACHE_DIR, `debian-${suite}.tar`);
  const lock = `${tar}.lock`;
  for (;;) {
    if (existsSync(tar)) return tar;
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another process builds it; a lock older than 30 minutes is stale.
      if (Date.now() - statSync(lock).mtimeMs > 30 * 60_000) rmSync(lock, { recursive: true, force: true });
      await sleep(2000);
    }
  }
  const root = join(TEST_CACHE_DIR, `build-${process.pid}`);
  try {
    if (existsSync(tar)) return tar;
    const svc = new ImageService(root);
    await svc.init();
    await svc.bootstrapDebian(suite, { mirror });
    const tmp = `${tar}.tmp-${process.pid}`;
    await pipeline(await svc.save([`debian:${suite}`]), createWriteStream(tmp));
    renameSync(tmp, tar);
    return tar;
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(lock, { recursive: true, force: true });
  }
}
