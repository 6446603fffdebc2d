// Helpers for the registry client tests: image services on temp roots, small test images, berth's
// registry and Debian's docker-registry (CNCF distribution) on free loopback ports.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pack as tarPack } from 'tar-stream';
import { type ImageRecord, ImageService } from '../../../src/images/index.js';
import { startRegistry } from '../../../src/registry/index.js';
import { makeBusyboxRootfs, tempDir } from '../../helpers/index.js';

export interface TestStore {
  images: ImageService;
  root: string;
  cleanup(): void;
}

export async function imageStore(): Promise<TestStore> {
  const dir = tempDir('berth-dist-store-');
  const images = new ImageService(dir.path);
  await images.init();
  return { images, root: dir.path, cleanup: dir.cleanup };
}

/** A tar stream of one file. */
export function fileTar(name: string, content: Buffer | string): Readable {
  const pack = tarPack();
  pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  return pack as unknown as Readable;
}

/** busybox rootfs + `layers - 1` extra layers of `layerBytes` random bytes each, tagged `ref`. */
export async function makeImage(
  images: ImageService,
  ref: string,
  opts: { layers?: number; layerBytes?: number; seed?: string; architecture?: string } = {},
): Promise<ImageRecord> {
  const dir = tempDir('berth-dist-rootfs-');
  try {
    makeBusyboxRootfs(dir.path);
    const p = spawn('tar', ['-C', dir.path, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let rec = await images.importRootfs(p.stdout!, {
      changes: ['CMD ["sh"]'],
      ...(opts.architecture ? { platform: { os: 'linux', architecture: opts.architecture } } : {}),
    });
    const n = opts.layers ?? 2;
    for (let i = 1; i < n; i++) {
      const data = Buffer.alloc(opts.layerBytes ?? 4096);
      for (let j = 0; j < data.length; j += 4096) data.write(`${opts.seed ?? ref}-${i}-${j}`, j);
      rec = await images.commit({
        parent: rec.id,
        layer: fileTar(`data-${i}.bin`, data),
        createdBy: `layer ${i}`,
      });
    }
    await images.tag(rec.id, ref);
    return images.resolve(ref);
  } finally {
    dir.cleanup();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface TestRegistry {
  kind: 'berth' | 'distribution';
  /** host:port */
  host: string;
  root: string;
  close(): Promise<void>;
}

export async function berthRegistry(
  auth?: Parameters<typeof startRegistry>[0]['auth'],
): Promise<TestRegistry> {
  const dir = tempDir('berth-dist-reg-');
  const reg = await startRegistry({ root: dir.path, addr: '127.0.0.1:0', ...(auth ? { auth } : {}) });
  return {
    kind: 'berth',
    host: reg.addr,
    root: dir.path,
    close: async () => {
      await reg.close(500);
      dir.cleanup();
    },
  };
}

/** Debian's docker-registry with a filesystem root in a temp dir. */
export async function distributionRegistry(): Promise<TestRegistry> {
  const dir = tempDir('berth-dist-docker-registry-');
  const port = await freePort();
  const config = join(dir.path, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir.path, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null) throw new Error('docker-registry exited at start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    kind: 'distribution',
    host: `127.0.0.1:${port}`,
    root: join(dir.path, 'data'),
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      dir.cleanup();
    },
  };
}

/** Every blob and layer directory of a store (to check a failed pull left nothing behind). */
export async function storeContents(images: ImageService): Promise<string[]> {
  return [...(await images.blobs.list()), ...images.layers.list().map((l) => l.chainId)].sort();
}
