// Bad registries and bad input: corrupted blobs, malformed manifests, a manifest that does not hash to
// its digest, dropped connections (retried, then a clear error), unknown names and tags — and after each
// failure nothing is left in the image store.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Distribution } from '../../../src/distribution/index.js';
import { layerWorkers } from '../../../src/distribution/layer-workers.js';
import {
  berthRegistry,
  distributionRegistry,
  imageStore,
  makeImage,
  storeContents,
  type TestRegistry,
  type TestStore,
} from './helpers.js';

const digestOf = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A one-file layer as a plain tar (diffID) and gzip (blob). */
function layer(content: string, name = 'hello.txt'): { tar: Buffer; gz: Buffer } {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const body = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  body.write(content);
  const tar = Buffer.concat([header, body, Buffer.alloc(1024)]);
  return { tar, gz: gzipSync(tar) };
}

interface FakeImage {
  manifest: Buffer;
  config: Buffer;
  layer: Buffer;
}

function fakeImage(seed: string, configOverride?: Buffer, entryName?: string): FakeImage {
  const l = layer(`content ${seed}\n`, entryName);
  const config =
    configOverride ??
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [digestOf(l.tar)] },
      }),
    );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: digestOf(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: digestOf(l.gz),
          size: l.gz.length,
        },
      ],
    }),
  );
  return { manifest, config, layer: l.gz };
}

/** A registry that misbehaves per repository. */
class FakeRegistry {
  server: Server;
  host = '';
  /** blob GETs per repository */
  hits = new Map<string, number>();
  manifests = new Map<string, Buffer>();
  blobs = new Map<string, Buffer>();
  /** repo → how to serve its layer: 'corrupt' | 'drop' | 'drop-once' */
  behaviour = new Map<string, string>();

  constructor() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/v2/') return void res.writeHead(200).end('{}');
      const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
      if (!m) return void res.writeHead(404).end();
      const [, repo, kind, ref] = m as unknown as [string, string, string, string];
      if (kind === 'manifests') {
        const body = this.manifests.get(`${repo}:${ref}`);
        if (!body) {
          res.writeHead(404, { 'Content-Type': 'application/json' });
          return void res.end(
            JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }),
          );
        }
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
        return void res.end(body);
      }
      const blob = this.blobs.get(ref);
      if (!blob) return void res.writeHead(404).end();
      const how = this.behaviour.get(repo);
      const isLayer = blob[0] === 0x1f;
      const n = (this.hits.get(repo) ?? 0) + (isLayer ? 1 : 0);
      this.hits.set(repo, n);
      if (isLayer && (how === 'drop' || (how === 'drop-once' && n === 1))) {
        res.writeHead(200, { 'Content-Length': String(blob.length) });
        res.write(blob.subarray(0, Math.floor(blob.length / 2)));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (isLayer && how === 'corrupt') {
        const bad = Buffer.from(blob);
        bad[bad.length - 9] = (bad[bad.length - 9]! + 1) & 0xff;
        res.writeHead(200, { 'Content-Length': String(bad.length) });
        return void res.end(bad);
      }
      res.writeHead(200, { 'Content-Length': String(blob.length) });
      res.end(blob);
    });
  }

  add(repo: string, tag: string, img: FakeImage, behaviour?: string): void {
    this.manifests.set(`${repo}:${tag}`, img.manifest);
    this.manifests.set(`${repo}:${digestOf(img.manifest)}`, img.manifest);
    this.blobs.set(digestOf(img.config), img.config);
    this.blobs.set(digestOf(img.layer), img.layer);
    if (behaviour) this.behaviour.set(repo, behaviour);
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.host = `127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('pull from a misbehaving registry', () => {
  const fake = new FakeRegistry();
  let store: TestStore;
  let dist: Distribution;
  before(async () => {
    await fake.start();
    store = await imageStore();
    dist = new Distribution({ images: store.images, retryDelays: [10, 10] });
  });
  after(async () => {
    await fake.close();
    store?.cleanup();
  });

  const failsCleanly = async (ref: string, re: RegExp) => {
    const before = await storeContents(store.images);
    await assert.rejects(dist.pull(`${fake.host}/${ref}`), re);
    assert.deepEqual(await storeContents(store.images), before);
    assert.equal(store.images.find(`${fake.host}/${ref}`), undefined);
  };

  test('a corrupted layer blob fails verification', async () => {
    fake.add('corrupt', 'latest', fakeImage('corrupt'), 'corrupt');
    await failsCleanly(
      'corrupt:latest',
      /filesystem layer verification failed for digest sha256:[a-f0-9]{64}/,
    );
  });

  test('a connection dropped mid-blob is retried, then fails with a clear error', async () => {
    fake.add('drop', 'latest', fakeImage('drop'), 'drop');
    await failsCleanly(
      'drop:latest',
      /error pulling layer sha256:[a-f0-9]{64} after 3 attempts: .*(EOF|aborted|reset|closed)/i,
    );
    assert.equal(fake.hits.get('drop'), 3);
  });

  test('a connection dropped once is retried and the pull succeeds', async () => {
    fake.add('dropone', 'latest', fakeImage('dropone'), 'drop-once');
    const msgs: { status?: string }[] = [];
    await dist.pull(`${fake.host}/dropone:latest`, { progress: (m) => msgs.push(m) });
    assert.ok(msgs.some((m) => /^Retrying in \d+ seconds?$/.test(m.status ?? '')));
    assert.ok(store.images.find(`${fake.host}/dropone:latest`));
  });

  test('a layer whose tar escapes its directory is refused, naming the entry', async () => {
    fake.add('escape', 'latest', fakeImage('escape', undefined, '../escaped.txt'));
    await failsCleanly(
      'escape:latest',
      /unsafe tar entry "\.\.\/escaped\.txt": path escapes the layer directory/,
    );
    assert.equal(existsSync(join(store.images.layers.root, '..', 'escaped.txt')), false);
  });

  test('pulls store and unpack layers on worker threads, which started', () => {
    const workers = layerWorkers(3);
    assert.ok(workers, 'the layer worker file is found beside the distribution module');
    assert.equal(workers.broken, false);
  });

  test('in process (BERTH_PULL_WORKERS=0) the same cases end the same way', async () => {
    process.env.BERTH_PULL_WORKERS = '0';
    try {
      assert.equal(layerWorkers(3), null);
      fake.add('corrupt-here', 'latest', fakeImage('corrupt-here'), 'corrupt');
      await failsCleanly(
        'corrupt-here:latest',
        /filesystem layer verification failed for digest sha256:[a-f0-9]{64}/,
      );
      fake.add('dropone-here', 'latest', fakeImage('dropone-here'), 'drop-once');
      await dist.pull(`${fake.host}/dropone-here:latest`);
      fake.add('escape-here', 'latest', fakeImage('escape-here', undefined, '../escaped.txt'));
      await failsCleanly('escape-here:latest', /unsafe tar entry "\.\.\/escaped\.txt"/);
      assert.ok(store.images.find(`${fake.host}/dropone-here:latest`));
    } finally {
      delete process.env.BERTH_PULL_WORKERS;
    }
  });

  test('malformed manifests name what is wrong', async () => {
    fake.manifests.set('badjson:latest', Buffer.from('{"schemaVersion": 2, '));
    await failsCleanly('badjson:latest', /manifest sha256:[a-f0-9]{64} is not valid JSON/);
    fake.manifests.set(
      'nolayers:latest',
      Buffer.from(JSON.stringify({ schemaVersion: 2, config: {}, layers: [] })),
    );
    await failsCleanly('nolayers:latest', /\.config\.mediaType must be a string/);
    const img = fakeImage('badlayer');
    const m = JSON.parse(img.manifest.toString()) as { layers: { digest: string }[] };
    m.layers[0]!.digest = 'sha256:xyz';
    fake.manifests.set('badlayer:latest', Buffer.from(JSON.stringify(m)));
    await failsCleanly('badlayer:latest', /\.layers\[0\]\.digest is not a valid digest/);
    fake.manifests.set('schema1:latest', Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x' })));
    await failsCleanly('schema1:latest', /schemaVersion must be 2/);
  });

  test('a manifest that does not hash to the digest asked for is refused', async () => {
    const img = fakeImage('wrongdigest');
    const other = fakeImage('other');
    fake.add('wd', 'latest', img);
    fake.manifests.set(`wd:${digestOf(other.manifest)}`, img.manifest);
    await failsCleanly(`wd@${digestOf(other.manifest)}`, /manifest verification failed .*expected sha256:/);
  });

  test('a config that does not match its layers or its digest is refused', async () => {
    const cfg = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
    );
    fake.add('cfgcount', 'latest', fakeImage('cfgcount', cfg));
    await failsCleanly('cfgcount:latest', /lists 0 diff_ids but manifest sha256:[a-f0-9]{64} has 1 layers/);
    const img = fakeImage('cfgbad');
    fake.add('cfgbad', 'latest', img);
    fake.blobs.set(digestOf(img.config), Buffer.from('{"tampered":true}'));
    await failsCleanly('cfgbad:latest', /config blob verification failed/);
  });

  test('unknown tags and platforms', async () => {
    await failsCleanly(
      'corrupt:nope',
      /manifest for 127\.0\.0\.1:\d+\/corrupt:nope not found: manifest unknown/,
    );
    fake.add('plat', 'latest', fakeImage('plat'));
    await assert.rejects(
      dist.pull(`${fake.host}/plat:latest`, { platform: 'linux/arm64' }),
      /does not match the specified platform/,
    );
    await assert.rejects(dist.pull(`${fake.host}/plat:latest`, { platform: 'linux//' }), /invalid platform/);
  });
});

describe('unknown names against berth registry, and credentials', () => {
  let reg: TestRegistry;
  let store: TestStore;
  before(async () => {
    reg = await berthRegistry();
    store = await imageStore();
  });
  after(async () => {
    await reg?.close();
    store?.cleanup();
  });

  test('an unknown repository is "pull access denied" or "manifest unknown", as Docker says', async () => {
    const d = new Distribution({ images: store.images });
    await assert.rejects(
      d.pull(`${reg.host}/no/such:latest`),
      /^.*(pull access denied for 127\.0\.0\.1:\d+\/no\/such, repository does not exist or may require 'docker login'|manifest for 127\.0\.0\.1:\d+\/no\/such:latest not found: manifest unknown)/,
    );
    assert.deepEqual(await storeContents(store.images), []);
  });
});

describe("a blob corrupted in docker-registry's storage", () => {
  let reg: TestRegistry | undefined;
  let src: TestStore;
  let dst: TestStore;
  before(async () => {
    src = await imageStore();
    dst = await imageStore();
    if (existsSync('/usr/bin/docker-registry')) reg = await distributionRegistry();
  });
  after(async () => {
    await reg?.close();
    src?.cleanup();
    dst?.cleanup();
  });

  test('the pull fails verification and leaves nothing behind', {
    skip: !existsSync('/usr/bin/docker-registry'),
  }, async () => {
    const ref = `${reg!.host}/corrupt/app:1`;
    const rec = await makeImage(src.images, ref, { layers: 2, seed: 'corrupt-in-storage' });
    await new Distribution({ images: src.images }).push(ref, undefined);
    const top = (await src.images.getManifest(rec)).layers.at(-1)!.digest;
    const hex = top.slice(7);
    const file = join(reg!.root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(file, bytes);
    const d = new Distribution({ images: dst.images, retryDelays: [10] });
    await assert.rejects(
      d.pull(ref),
      new RegExp(`filesystem layer verification failed for digest ${top}|layer content does not match`),
    );
    assert.deepEqual(await storeContents(dst.images), []);
  });
});
