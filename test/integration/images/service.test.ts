import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { ImageService } from '../../../src/images/index.js';
import { tarDirectory } from '../../../src/layers/index.js';
import { isRoot, tempDir } from '../../helpers/index.js';

const skip = !isRoot() && 'needs root';
let t: { path: string; cleanup: () => void };
let svc: ImageService;

async function collect(stream: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of stream) out.push(c as Buffer);
  return Buffer.concat(out);
}

before(async () => {
  t = tempDir('berth-img-');
  svc = new ImageService(join(t.path, 'root'));
  await svc.init();
});
after(() => t.cleanup());

test('bootstrap busybox; its manifest and config validate against the OCI schemas', { skip }, async () => {
  const rec = await svc.bootstrapBusybox('busybox:latest');
  const ins = await svc.inspect('busybox');
  assert.equal(ins.Id, rec.id);
  assert.deepEqual(ins.RepoTags, ['busybox:latest']);
  assert.deepEqual(ins.Config.Cmd, ['sh']);
  assert.equal(ins.RootFS.Layers.length, 1);
  assert.ok(ins.Size > 500_000);

  const specs = '/work/shared/specs/oci-image';
  const BASE = 'https://opencontainers.org/schema/image/';
  const ajv = new Ajv.default({ strict: false, allErrors: true });
  addFormats.default(ajv);
  for (const f of readdirSync(specs)) {
    // The schemas declare draft-04; their keywords are valid under ajv's default draft.
    // draft-04 `id`s are replaced by one per file so the relative `$ref`s between files resolve.
    const text = readFileSync(join(specs, f), 'utf8').replace(/"id": "https?:[^"]*",?/g, '');
    const { $schema: _s, ...schema } = JSON.parse(text) as Record<string, unknown>;
    ajv.addSchema({ ...schema, $id: `${BASE}${f}` });
  }
  const manifest = await svc.getManifest(rec);
  const config = await svc.getConfig(rec);
  const check = (id: string, doc: unknown) => {
    const v = ajv.getSchema(id)!;
    assert.ok(v(doc), `${id}: ${JSON.stringify(v.errors)}`);
  };
  check(`${BASE}image-manifest-schema.json`, manifest);
  check(`${BASE}config-schema.json`, config);
  // An index as save writes it.
  const { extract } = await import('tar-stream');
  const ex = extract();
  (await svc.save(['busybox'], 'oci')).pipe(ex as unknown as NodeJS.WritableStream);
  for await (const e of ex) {
    const body = await collect(e as unknown as Readable);
    if (e.header.name === 'index.json') check(`${BASE}image-index-schema.json`, JSON.parse(body.toString()));
    if (e.header.name === 'oci-layout') check(`${BASE}image-layout-schema.json`, JSON.parse(body.toString()));
  }
});

test('lookup by name, ID, short ID; 404 message', { skip }, async () => {
  const rec = svc.resolve('busybox');
  assert.equal(svc.resolve(rec.id).id, rec.id);
  assert.equal(svc.resolve(rec.id.slice(7, 19)).id, rec.id);
  assert.equal(svc.resolve('docker.io/library/busybox:latest').id, rec.id);
  assert.throws(() => svc.resolve('nosuch:tag'), { status: 404, message: 'No such image: nosuch:tag' });
  assert.throws(() => svc.resolve('Bad:Ref'), { status: 404 });
});

test('tag, list with filters, commit with history, remove and prune', { skip }, async () => {
  await svc.tag('busybox', 'localhost:5000/me/bb:v1');
  await assert.rejects(svc.tag('busybox', 'UPPER'), /must be lowercase/);
  const upper = join(t.path, 'upper');
  mkdirSync(upper);
  writeFileSync(join(upper, 'hello.txt'), 'hello');
  const child = await svc.commit({
    parent: 'busybox',
    layer: { upperDir: upper },
    changes: ['ENV FOO=bar', 'LABEL com.example=yes', 'CMD ["cat", "/hello.txt"]', 'EXPOSE 80'],
    createdBy: '/bin/sh -c echo hello > /hello.txt',
    tag: 'child:1',
  });
  const ins = await svc.inspect('child:1');
  assert.equal(ins.Parent, svc.resolve('busybox').id);
  assert.equal(ins.RootFS.Layers.length, 2);
  assert.deepEqual(ins.Config.Cmd, ['cat', '/hello.txt']);
  assert.ok(ins.Config.Env?.includes('FOO=bar'));
  assert.deepEqual(ins.Config.ExposedPorts, { '80/tcp': {} });
  const hist = await svc.history('child:1');
  assert.equal(hist.length, 2);
  assert.equal(hist[0]!.Id, child.id);
  assert.equal(hist[0]!.CreatedBy, '/bin/sh -c echo hello > /hello.txt');
  assert.equal(hist[1]!.Id, svc.resolve('busybox').id);

  const list = await svc.list();
  assert.equal(list.length, 2);
  assert.deepEqual(
    (await svc.list({ filters: { label: ['com.example=yes'] } })).map((i) => i.Id),
    [child.id],
  );
  assert.deepEqual(
    (await svc.list({ filters: { reference: ['child'] } })).map((i) => i.RepoTags),
    [['child:1']],
  );
  assert.deepEqual((await svc.list({ filters: { reference: ['localhost:5000/me/*'] } }))[0]!.RepoTags, [
    'localhost:5000/me/bb:v1',
  ]);
  assert.equal((await svc.list({ filters: { dangling: ['true'] } })).length, 0);
  await assert.rejects(svc.list({ filters: { bogus: ['x'] } }), { status: 400 });

  // In use → 409 unless forced; a second tag is simply untagged.
  const inUse = (id: string) => (id === child.id ? 'c0ffee0000000000' : false);
  await assert.rejects(svc.remove('child:1', { isInUse: inUse }), (err: Error & { status: number }) => {
    assert.equal(err.status, 409);
    assert.match(
      err.message,
      /^conflict: unable to remove repository reference "child:1" \(must force\) - container c0ffee000000 is using its referenced image/,
    );
    return true;
  });
  assert.deepEqual(await svc.remove('localhost:5000/me/bb:v1'), [{ Untagged: 'localhost:5000/me/bb:v1' }]);
  await assert.rejects(
    svc.remove(svc.resolve('busybox').id),
    /cannot be forced\) - image has dependent child images/,
  );
  // By name, the parent is only untagged and stays for its child.
  await svc.tag('busybox', 'parent:tmp');
  assert.deepEqual(await svc.remove('parent:tmp'), [{ Untagged: 'parent:tmp' }]);
  assert.equal(svc.layers.list().length, 2);
  const removed = await svc.remove('child:1');
  assert.deepEqual(removed, [{ Untagged: 'child:1' }, { Deleted: child.id }]);
  assert.equal(svc.find(child.id), undefined);
  // The child's own layer and blobs are gone; the base image's are kept.
  assert.deepEqual(
    svc.layers.list().map((l) => l.chainId),
    [svc.resolve('busybox').topChainId],
  );
  await assert.rejects(svc.blobs.stat(child.id), { status: 404 });
  assert.ok(await svc.blobs.has(svc.resolve('busybox').id));
  assert.equal((await svc.list({ filters: { until: ['1970-01-02T00:00:00Z'] } })).length, 0);
  assert.equal((await svc.list({ filters: { until: ['2999-01-01T00:00:00Z'] } })).length, 1);

  // Dangling images are pruned.
  const dangling = await svc.commit({ parent: 'busybox', changes: ['CMD ["true"]'], recordParent: false });
  assert.equal((await svc.list({ filters: { dangling: ['true'] } }))[0]!.Id, dangling.id);
  const pruned = await svc.prune();
  assert.deepEqual(pruned.ImagesDeleted, [{ Deleted: dangling.id }]);
  assert.ok(svc.find('busybox'));
});

test("rmi of a parent's only tag untags it and keeps it for the child; then both go", { skip }, async () => {
  const parent = await svc.commit({ parent: 'busybox', changes: ['ENV LEVEL=1'], tag: 'solo:1' });
  const child = await svc.commit({ parent: 'solo:1', changes: ['ENV LEVEL=2'], tag: 'solo-child:1' });
  assert.deepEqual(await svc.remove('solo:1'), [{ Untagged: 'solo:1' }]);
  assert.ok(svc.find(parent.id));
  // Hidden from the default list as an intermediate, shown with all.
  assert.equal(
    (await svc.list()).some((i) => i.Id === parent.id),
    false,
  );
  assert.equal(
    (await svc.list({ all: true })).some((i) => i.Id === parent.id),
    true,
  );
  // Removing the child prunes the now unused untagged parent too.
  assert.deepEqual(await svc.remove('solo-child:1'), [
    { Untagged: 'solo-child:1' },
    { Deleted: child.id },
    { Deleted: parent.id },
  ]);
  assert.ok(svc.find('busybox'));
});

test('layers a container uses survive a forced rmi of its image', { skip }, async () => {
  const upper = join(t.path, 'upper-forced');
  mkdirSync(upper);
  writeFileSync(join(upper, 'f'), 'x');
  const img = await svc.commit({ parent: 'busybox', layer: { upperDir: upper }, tag: 'forced:1' });
  const top = img.topChainId!;
  svc.setLayerUsers(() => [top]);
  try {
    const removed = await svc.remove('forced:1', { force: true, isInUse: (id) => id === img.id });
    assert.deepEqual(removed, [{ Untagged: 'forced:1' }, { Deleted: img.id }]);
    assert.ok(svc.layers.has(top));
  } finally {
    svc.setLayerUsers(() => []);
  }
  // Once no container uses them, a full sweep frees them.
  await svc.collectGarbage();
  assert.equal(svc.layers.has(top), false);
  assert.ok(svc.layers.has(svc.resolve('busybox').topChainId!));
});

test('import a rootfs tar with changes', { skip }, async () => {
  const src = join(t.path, 'rootfs');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/motd'), 'imported');
  const { stream } = tarDirectory(src, { gzipLevel: 6 });
  const rec = await svc.importRootfs(stream, {
    ref: 'imported:v1',
    changes: ['WORKDIR /etc', 'ENTRYPOINT ["cat"]'],
    message: 'from test',
  });
  const ins = await svc.inspect('imported:v1');
  assert.equal(ins.Id, rec.id);
  assert.equal(ins.Config.WorkingDir, '/etc');
  assert.deepEqual(ins.Config.Entrypoint, ['cat']);
  assert.equal(ins.Comment, 'from test');
  await assert.rejects(svc.importRootfs(Readable.from([Buffer.from('not a tar '.repeat(100))])), {
    status: 400,
  });
  assert.throws(() => svc.resolve('nothing'), { status: 404 });
  await svc.remove('imported:v1');
});

test('save and load round-trip in both formats; corrupt archives register nothing', { skip }, async () => {
  const rec = svc.resolve('busybox');
  const other = tempDir('berth-img2-');
  try {
    for (const format of ['docker', 'oci'] as const) {
      const tar = await collect(await svc.save(['busybox'], format));
      const dst = new ImageService(join(other.path, format));
      await dst.init();
      const res = await dst.load(Readable.from([tar]));
      assert.deepEqual(res.loaded, ['Loaded image: busybox:latest']);
      const got = dst.resolve('busybox');
      assert.equal(got.id, rec.id);
      assert.deepEqual(
        (await dst.getConfig(got)).rootfs.diff_ids,
        (await svc.getConfig(rec)).rootfs.diff_ids,
      );

      // Corruptions: truncated, flipped byte in a layer, not an archive.
      const bad = new ImageService(join(other.path, `${format}-bad`));
      await bad.init();
      const flipped = Buffer.from(tar);
      flipped[Math.floor(flipped.length / 2)] ^= 0xff;
      for (const [what, input] of [
        ['truncated', tar.subarray(0, Math.floor(tar.length / 2))],
        ['corrupt', flipped],
        ['not an archive', Buffer.from('hello world')],
      ] as const) {
        await assert.rejects(bad.load(Readable.from([input])), (err: Error & { status: number }) => {
          assert.equal(err.status, 400, `${format} ${what}: ${err.message}`);
          return true;
        });
        assert.equal((await bad.list()).length, 0, `${format} ${what}: nothing registered`);
        assert.deepEqual(bad.layers.list(), [], `${format} ${what}: no layers left`);
        assert.deepEqual(await bad.blobs.list(), [], `${format} ${what}: no blobs left`);
        const temps = readdirSync(join(other.path, `${format}-bad`, 'layers')).filter((n) =>
          n.startsWith('.tmp-'),
        );
        assert.deepEqual(temps, [], `${format} ${what}: no unpacked temp dirs left`);
      }
    }
  } finally {
    other.cleanup();
  }
});

test('a docker-archive whose layer escapes the layer directory is refused, naming the entry', {
  skip,
}, async () => {
  const { pack } = await import('tar-stream');
  const { sha256 } = await import('../../../src/util/index.js');
  const tarOf = async (entries: { name: string; body: string | Buffer }[]) => {
    const p = pack();
    const out = collect(p as unknown as Readable);
    for (const e of entries)
      await new Promise<void>((r, j) => p.entry({ name: e.name }, e.body, (err) => (err ? j(err) : r())));
    p.finalize();
    return out;
  };
  const layer = await tarOf([{ name: '../../escaped-by-berth-test', body: 'pwned' }]);
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
  });
  const archive = await tarOf([
    { name: 'l1/layer.tar', body: layer },
    { name: 'cfg.json', body: config },
    {
      name: 'manifest.json',
      body: JSON.stringify([{ Config: 'cfg.json', RepoTags: ['evil:1'], Layers: ['l1/layer.tar'] }]),
    },
  ]);
  const other = tempDir('berth-img4-');
  try {
    const dst = new ImageService(join(other.path, 'a/b/root'));
    await dst.init();
    await assert.rejects(dst.load(Readable.from([archive])), (err: Error & { status: number }) => {
      assert.equal(err.status, 400);
      assert.match(err.message, /"\.\.\/\.\.\/escaped-by-berth-test"/);
      return true;
    });
    assert.equal(dst.find('evil:1'), undefined);
    assert.deepEqual(await dst.blobs.list(), []);
    assert.deepEqual(readdirSync(join(other.path, 'a/b/root/layers')), ['empty']);
    assert.equal(readdirSync(join(other.path, 'a/b')).includes('escaped-by-berth-test'), false);
    assert.equal(readdirSync(join(other.path, 'a/b/root')).includes('escaped-by-berth-test'), false);
  } finally {
    other.cleanup();
  }
});

test('init rebuilds the index from disk and cleans what a crash left', { skip }, async () => {
  const root = join(t.path, 'root');
  // What an interrupted unpack, record write, blob write and bootstrap leave behind.
  mkdirSync(join(root, 'layers/.tmp-crashed/diff'), { recursive: true });
  writeFileSync(join(root, 'images/.tmp-rec.json-123'), '{"half":');
  writeFileSync(join(root, 'blobs/sha256/.tmp-partial'), 'x');
  mkdirSync(join(root, 'tmp/scratch'), { recursive: true });
  const again = new ImageService(root);
  await again.init();
  assert.equal(again.resolve('busybox').id, svc.resolve('busybox').id);
  assert.deepEqual(
    readdirSync(join(root, 'layers')).filter((n) => n.startsWith('.tmp-')),
    [],
  );
  assert.deepEqual(
    readdirSync(join(root, 'images')).filter((n) => n.startsWith('.tmp-')),
    [],
  );
  assert.deepEqual(
    readdirSync(join(root, 'blobs/sha256')).filter((n) => n.startsWith('.tmp-')),
    [],
  );
  assert.equal(readdirSync(root).includes('tmp'), false);
});

test('a gzip-compressed archive loads (docker save | gzip)', { skip }, async () => {
  const { gzipSync } = await import('node:zlib');
  const tar = await collect(await svc.save(['busybox']));
  const other = tempDir('berth-img3-');
  try {
    const dst = new ImageService(join(other.path, 'root'));
    await dst.init();
    assert.deepEqual((await dst.load(Readable.from([gzipSync(tar)]))).loaded, [
      'Loaded image: busybox:latest',
    ]);
    assert.equal(dst.resolve('busybox').id, svc.resolve('busybox').id);
  } finally {
    other.cleanup();
  }
});
