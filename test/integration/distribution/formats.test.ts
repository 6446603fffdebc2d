// Manifest formats: an OCI index and a Docker manifest list with platform selection (default linux/amd64,
// --platform), and a Docker schema 2 manifest, all pulled from berth's registry with digests verified.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Distribution } from '../../../src/distribution/index.js';
import { convertManifest, type Manifest, MediaType } from '../../../src/images/index.js';
import { sha256 } from '../../../src/util/index.js';
import { berthRegistry, imageStore, makeImage, type TestRegistry, type TestStore } from './helpers.js';

let reg: TestRegistry;
let src: TestStore;
const stores: TestStore[] = [];
before(async () => {
  reg = await berthRegistry();
  src = await imageStore();
});
after(async () => {
  await reg?.close();
  src?.cleanup();
  for (const s of stores) s.cleanup();
});

async function put(path: string, body: Buffer, contentType: string): Promise<void> {
  const r = await fetch(`http://${reg.host}${path}`, {
    method: 'PUT',
    body: new Uint8Array(body),
    headers: { 'Content-Type': contentType },
  });
  assert.equal(r.status, 201, await r.text());
}

async function fresh(): Promise<Distribution> {
  const s = await imageStore();
  stores.push(s);
  return new Distribution({ images: s.images });
}

test('index and manifest list: platform chosen, repo digest is the index digest', async () => {
  const amd = await makeImage(src.images, `${reg.host}/multi/app:amd64`, { layers: 1, seed: 'amd' });
  const arm = await makeImage(src.images, `${reg.host}/multi/app:arm64`, {
    layers: 2,
    seed: 'arm',
    architecture: 'arm64',
  });
  const d = new Distribution({ images: src.images });
  const [pa] = await d.push(`${reg.host}/multi/app:amd64`, undefined);
  const [pb] = await d.push(`${reg.host}/multi/app:arm64`, undefined);
  for (const [kind, mediaType, child] of [
    ['oci', MediaType.OciIndex, MediaType.OciManifest],
    ['docker', MediaType.DockerManifestList, MediaType.OciManifest],
  ] as const) {
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType,
        manifests: [
          {
            mediaType: child,
            digest: pa!.digest,
            size: pa!.size,
            platform: { os: 'linux', architecture: 'amd64' },
          },
          {
            mediaType: child,
            digest: pb!.digest,
            size: pb!.size,
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          },
        ],
      }),
    );
    await put(`/v2/multi/app/manifests/${kind}`, index, mediaType);
    const ref = `${reg.host}/multi/app:${kind}`;
    const p1 = await fresh();
    const [r1] = await p1.pull(ref);
    assert.equal(r1!.id, amd.id);
    assert.equal(r1!.digest, sha256(index));
    const p2 = await fresh();
    const [r2] = await p2.pull(ref, { platform: 'linux/arm64' });
    assert.equal(r2!.id, arm.id);
    await assert.rejects(
      (await fresh()).pull(ref, { platform: 'linux/s390x' }),
      /no matching manifest for linux\/s390x/,
    );
    const info = await p1.inspect(ref);
    assert.equal(info.Descriptor.mediaType, mediaType);
    assert.deepEqual(
      info.Platforms.map((p) => p.architecture),
      ['amd64', 'arm64'],
    );
  }
});

test('a Docker schema 2 manifest pulls to the same image with its own digest', async () => {
  const rec = await makeImage(src.images, `${reg.host}/schema2/app:oci`, { layers: 2, seed: 'schema2' });
  const d = new Distribution({ images: src.images });
  await d.push(`${reg.host}/schema2/app:oci`, undefined);
  const oci = (await src.images.getManifest(rec)) as Manifest;
  const docker = Buffer.from(JSON.stringify(convertManifest(oci, 'docker')));
  await put('/v2/schema2/app/manifests/docker', docker, MediaType.DockerManifest);
  const p = await fresh();
  const [r] = await p.pull(`${reg.host}/schema2/app:docker`);
  assert.equal(r!.id, rec.id);
  assert.equal(r!.digest, sha256(docker));
  // Pushing it back keeps the Docker manifest bytes: same digest.
  const store = stores.at(-1)!;
  const [again] = await new Distribution({ images: store.images }).push(
    `${reg.host}/schema2/app:docker`,
    undefined,
  );
  assert.equal(again!.digest, sha256(docker));
});
